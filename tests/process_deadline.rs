//! `process::run` against children that misbehave: each call must end by its deadline
//! (asserted generously, deadline + 1 s: these tests bound the time, they do not measure
//! speed) whatever the child and its descendants do. The children are tiny /bin/sh scripts;
//! the agent itself never runs a shell.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use iscsi_mirror::deadline::Deadline;
use iscsi_mirror::process::{self, Output, RunError, OUTPUT_LIMIT};

const SLACK: Duration = Duration::from_secs(1);

/// Runs a /bin/sh script under a deadline; returns the result and how long the call took.
fn sh(script: &str, deadline: Duration) -> (Result<Output, RunError>, Duration) {
    let t = Instant::now();
    let r = process::run("/bin/sh", &["-c", script], Deadline::after(deadline));
    (r, t.elapsed())
}

/// How long a call that was killed at its deadline ran, and what it printed until then.
fn killed(r: Result<Output, RunError>) -> (Duration, String) {
    match r {
        Err(RunError::TimedOut { after, stdout, .. }) => (after, stdout),
        other => panic!("expected a kill at the deadline, got {other:?}"),
    }
}

/// A process a script started and recorded in a pid file: killed (SIGKILL) when the test
/// ends, whatever the outcome, so no test leaves a sleeper behind.
struct Recorded {
    _dir: tempfile::TempDir,
    pidfile: PathBuf,
}

impl Recorded {
    fn new() -> Recorded {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        Recorded { _dir: dir, pidfile }
    }

    fn path(&self) -> &Path {
        &self.pidfile
    }

    /// The recorded pid, waiting (bounded) for the script to have written it.
    fn pid(&self) -> Option<i32> {
        let until = Deadline::after(Duration::from_secs(3));
        loop {
            let pid = std::fs::read_to_string(&self.pidfile)
                .ok()
                .and_then(|s| s.trim().parse().ok());
            if pid.is_some() || until.expired() {
                return pid;
            }
            until.sleep(Duration::from_millis(10));
        }
    }

    /// Whether the recorded process is gone (or a zombie awaiting its new parent), waiting
    /// up to 3 s for it to go.
    fn gone(&self) -> bool {
        let Some(pid) = self.pid() else { return false };
        let until = Deadline::after(Duration::from_secs(3));
        loop {
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.chars().next()));
            if matches!(state, None | Some(Some('Z'))) {
                return true;
            }
            if until.expired() {
                return false;
            }
            until.sleep(Duration::from_millis(10));
        }
    }

    fn alive(&self) -> bool {
        self.pid()
            .is_some_and(|pid| nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok())
    }
}

impl Drop for Recorded {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.pidfile) {
            if let Ok(pid) = pid.trim().parse::<i32>() {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
            }
        }
    }
}

/// A grandchild in a session of its own holding the child's stdout and stderr for 60 s;
/// the child goes on once the grandchild has left its group (it records its pid after
/// setsid), so the group kill at the child's exit cannot catch it.
fn escapee(rec: &Recorded) -> String {
    let f = rec.path().display();
    format!("setsid sh -c 'echo $$ > {f}; exec sleep 60' & while [ ! -s {f} ]; do sleep 0.01; done;")
}

#[test]
fn output_and_exit_code_are_collected() {
    let (r, _) = sh("echo out; echo err >&2; exit 3", Duration::from_secs(5));
    let out = r.unwrap();
    assert_eq!((out.code, out.signal), (Some(3), None));
    assert!(!out.success());
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n");
    let (r, _) = sh("true", Duration::from_secs(5));
    assert!(r.unwrap().success());
}

#[test]
fn a_signal_that_ends_the_child_is_reported() {
    for (sig, name) in [
        (libc::SIGKILL, "KILL"),
        (libc::SIGTERM, "TERM"),
        (libc::SIGSEGV, "SEGV"),
    ] {
        let (r, _) = sh(&format!("echo before; kill -{name} $$"), Duration::from_secs(5));
        let out = r.unwrap();
        assert_eq!((out.code, out.signal), (None, Some(sig)), "{name}");
        assert_eq!(out.stdout, "before\n");
    }
}

#[test]
fn a_hung_child_and_its_group_are_killed_at_the_deadline() {
    let bg = Recorded::new();
    let deadline = Duration::from_millis(500);
    let script = format!(
        "sleep 60 & echo $! > {}; echo waiting; sleep 60",
        bg.path().display()
    );
    let (r, took) = sh(&script, deadline);
    assert!(took < deadline + SLACK, "{took:?}");
    let (after, stdout) = killed(r);
    assert!(after >= deadline, "{after:?}");
    assert_eq!(stdout, "waiting\n", "output until the kill is kept");
    assert!(
        bg.gone(),
        "the child's background process survived the group kill"
    );
}

#[test]
fn a_child_that_ignores_sigterm_ends_at_the_deadline() {
    let deadline = Duration::from_millis(500);
    let (r, took) = sh("trap '' TERM HUP INT; while :; do sleep 1; done", deadline);
    killed(r);
    assert!(took < deadline + SLACK, "{took:?}");
}

#[test]
fn a_child_that_exits_leaving_a_setsid_grandchild_on_its_pipes_is_not_waited_for() {
    let grandchild = Recorded::new();
    let deadline = Duration::from_secs(10);
    let script = format!("{} echo done; echo note >&2; exit 5", escapee(&grandchild));
    let (r, took) = sh(&script, deadline);
    let out = r.unwrap();
    assert_eq!(out.code, Some(5));
    assert_eq!(out.stdout, "done\n");
    assert_eq!(out.stderr, "note\n");
    // The call waited neither for the grandchild nor for the deadline.
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(
        grandchild.alive(),
        "the scenario needs the grandchild to outlive the call"
    );
}

#[test]
fn a_hung_child_with_a_setsid_grandchild_on_its_pipes_ends_at_the_deadline() {
    let grandchild = Recorded::new();
    let deadline = Duration::from_millis(500);
    let (r, took) = sh(
        &format!("{} echo hanging; sleep 60", escapee(&grandchild)),
        deadline,
    );
    assert!(took < deadline + SLACK, "{took:?}");
    assert_eq!(killed(r).1, "hanging\n");
    assert!(
        grandchild.alive(),
        "the scenario needs the grandchild to outlive the call"
    );
}

#[test]
fn a_child_that_closes_its_output_early_is_waited_for_until_it_exits() {
    // It exits by itself: the exit code is what counts, not the end of its output.
    let (r, took) = sh(
        "echo early; exec >&- 2>&-; sleep 0.3; exit 4",
        Duration::from_secs(10),
    );
    let out = r.unwrap();
    assert_eq!((out.code, out.stdout.as_str()), (Some(4), "early\n"));
    assert!(took >= Duration::from_millis(300), "{took:?}");
    // It never exits: it is killed at the deadline.
    let deadline = Duration::from_millis(500);
    let (r, took) = sh("exec >&- 2>&-; sleep 60", deadline);
    killed(r);
    assert!(took < deadline + SLACK, "{took:?}");
}

#[test]
fn endless_output_is_bounded_and_never_holds_the_call_past_its_deadline() {
    let deadline = Duration::from_secs(1);
    let (r, took) = sh("exec yes flood", deadline);
    assert!(took < deadline + SLACK, "{took:?}");
    let (_, stdout) = killed(r);
    assert_eq!(stdout.len(), OUTPUT_LIMIT);
    assert!(stdout.starts_with("flood\nflood\n"));
    // A flood that ends: the first OUTPUT_LIMIT bytes are kept, the rest drained.
    let (r, took) = sh(
        "head -c 12000000 /dev/zero | tr '\\0' x; echo tail >&2; exit 2",
        Duration::from_secs(10),
    );
    let out = r.unwrap();
    assert_eq!(out.code, Some(2));
    assert_eq!(out.stdout.len(), OUTPUT_LIMIT);
    assert!(out.stdout.bytes().all(|b| b == b'x'));
    assert_eq!(out.stderr, "tail\n");
    assert!(took < Duration::from_secs(10) + SLACK, "{took:?}");
}

#[test]
fn what_the_leader_leaves_running_in_its_group_is_killed_when_it_exits() {
    let bg = Recorded::new();
    let script = format!("sleep 60 & echo $! > {}; echo left", bg.path().display());
    let (r, took) = sh(&script, Duration::from_secs(10));
    let out = r.unwrap();
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), "left\n"));
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(bg.gone(), "the background process left in the group survived");
}

#[test]
fn the_environment_is_clean_stdin_is_null_and_the_group_is_its_own() {
    std::env::set_var("ISCSI_MIRROR_TEST_SECRET", "x");
    let out = process::run("/usr/bin/env", &[], Deadline::after(Duration::from_secs(5))).unwrap();
    let mut names: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|p| p.0)
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["LANG", "LC_ALL", "PATH"], "{}", out.stdout);
    assert!(out.stdout.contains(&format!("PATH={}\n", process::SEARCH_PATH)));

    let out = process::run(
        "readlink",
        &["/proc/self/fd/0"],
        Deadline::after(Duration::from_secs(5)),
    )
    .unwrap();
    assert_eq!(out.stdout, "/dev/null\n");

    let (r, _) = sh(
        "read -r pid _ _ _ pgrp sid _ < /proc/self/stat; echo $pid $pgrp",
        Duration::from_secs(5),
    );
    let out = r.unwrap();
    let ours = nix::unistd::getpgrp().as_raw().to_string();
    let ids: Vec<&str> = out.stdout.split_whitespace().collect();
    assert_eq!(ids.len(), 2, "{}", out.stdout);
    assert_eq!(ids[0], ids[1], "the child leads a process group of its own");
    assert_ne!(ids[1], ours);
}

#[test]
fn a_missing_or_unrunnable_program_is_an_error_not_a_hang() {
    let d = || Deadline::after(Duration::from_secs(1));
    assert!(matches!(
        process::run("/nonexistent/iscsiadm", &[], d()),
        Err(RunError::NotFound(_))
    ));
    assert!(matches!(
        process::run("no-such-program-xyz", &[], d()),
        Err(RunError::NotFound(_))
    ));
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("not-executable");
    std::fs::write(&plain, "#!/bin/sh\n").unwrap();
    assert!(matches!(
        process::run(plain.to_str().unwrap(), &[], d()),
        Err(RunError::NotFound(_))
    ));
    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, [0x7f, b'E', b'L', b'F', 0, 1, 2, 3]).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&garbage, std::fs::Permissions::from_mode(0o755)).unwrap();
    match process::run(garbage.to_str().unwrap(), &[], d()) {
        Err(RunError::Spawn(e)) => assert!(e.contains("garbage"), "{e}"),
        other => panic!("{other:?}"),
    }
}
