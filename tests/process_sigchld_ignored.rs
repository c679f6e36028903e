//! `process::run` in a process that ignores SIGCHLD (a disposition inherited across exec;
//! the agent's entry point restores the default, this test does not): the kernel reaps the
//! child at once, so no zombie pins its process group id. The call must still end, and
//! must not killpg the (possibly reused) group id: what the child left in its group is
//! left alone. Its own test binary: the disposition is process-wide.

use std::time::{Duration, Instant};

use iscsi_mirror::deadline::Deadline;
use iscsi_mirror::process;

#[test]
fn with_sigchld_ignored_the_call_ends_and_no_group_is_killed_blindly() {
    // SAFETY: sets one signal's disposition; no handler runs, nothing else in this test
    // binary depends on SIGCHLD.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("bg.pid");
    let script = format!("sleep 60 & echo $! > {}; echo left; exit 3", pidfile.display());
    let t = Instant::now();
    let r = process::run(
        "/bin/sh",
        &["-c", &script],
        Deadline::after(Duration::from_secs(10)),
    );
    let took = t.elapsed();
    let bg = std::fs::read_to_string(&pidfile)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .map(nix::unistd::Pid::from_raw);
    let bg_alive = bg.is_some_and(|pid| nix::sys::signal::kill(pid, None).is_ok());
    if let Some(pid) = bg {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGKILL);
    }
    let out = r.unwrap();
    assert_eq!(out.stdout, "left\n");
    assert_eq!(
        (out.code, out.signal),
        (None, None),
        "the status is lost to the kernel's reaping"
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(bg_alive, "the group was killed though no zombie pinned its id");
}
