//! Actions whose iscsiadm leaves a process behind that escaped its process group
//! (`setsid sleep 1000 &` holding iscsiadm's stdout and stderr), then does its work or
//! hangs: start, monitor and stop must each end inside OCF_RESKEY_CRM_meta_timeout with the
//! right exit code, and stop must still try its fallback (logout by session id).
//! The iscsiadm here is a small script in front of the simulated host's iscsiadm.

mod util;

use std::path::{Path, PathBuf};
use std::time::Duration;
use util::*;

const TIMEOUT_MS: &str = "5000";
const TIMEOUT: Duration = Duration::from_millis(5000);
/// The harness kills an agent still running after this (a regression must not hang the suite).
const HARNESS_LIMIT: Duration = Duration::from_secs(30);

/// An iscsiadm that first leaves a grandchild in a session of its own on its stdout and
/// stderr (and waits until it has left the group, so no group kill can catch it), then hangs (ignoring SIGTERM) when its arguments match `hang` (a sh `case`
/// pattern), else does the work with the simulated host's iscsiadm. Every process it
/// starts is recorded and killed when the test ends.
struct EscapingIscsiadm {
    dir: tempfile::TempDir,
}

impl EscapingIscsiadm {
    const NEVER: &'static str = "__never__";
    const ALWAYS: &'static str = "*";
    /// Only the logout by record (`-m node -T .. -p .. --logout`), not the one by session.
    const RECORD_LOGOUT: &'static str = "\"-m node \"*\"--logout\"";

    fn new(sim: &SimHost, hang: &str) -> EscapingIscsiadm {
        let dir = tempfile::tempdir().unwrap();
        let script = format!(
            "#!/bin/sh\n\
             echo $$ >> {pids}\n\
             echo \"$*\" >> {calls}\n\
             setsid sh -c 'echo $$ >> {pids}; : > \"$0\"; exec sleep 1000' {dir}/escaped.$$ &\n\
             while [ ! -e {dir}/escaped.$$ ]; do sleep 0.01; done\n\
             case \"$*\" in\n\
             {hang}) trap '' TERM; exec sleep 1000 ;;\n\
             esac\n\
             exec {real} \"$@\"\n",
            pids = dir.path().join("pids").display(),
            dir = dir.path().display(),
            calls = dir.path().join("calls").display(),
            real = sim.iscsiadm_path().display(),
        );
        let path = dir.path().join("iscsiadm");
        std::fs::write(&path, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        EscapingIscsiadm { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("iscsiadm")
    }

    /// The argument lines of every invocation, in order.
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn recorded(&self) -> Vec<i32> {
        std::fs::read_to_string(self.dir.path().join("pids"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// How many of the recorded processes still run `sleep 1000`, waiting up to 3 s for
    /// `at_least` of them (an escapee records itself just before it turns into `sleep`).
    fn sleepers(&self, at_least: usize) -> usize {
        let count = || {
            self.recorded()
                .into_iter()
                .filter(|&pid| is_our_sleeper(pid))
                .count()
        };
        for _ in 0..300 {
            if count() >= at_least {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        count()
    }
}

fn is_our_sleeper(pid: i32) -> bool {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    cmdline == b"sleep\x001000\x00" && !state.contains(") Z ")
}

impl Drop for EscapingIscsiadm {
    fn drop(&mut self) {
        for pid in self.recorded() {
            if is_our_sleeper(pid) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
            }
        }
    }
}

fn agent(sim: &SimHost, portal: &Portal) -> Agent {
    let mut a = Agent::new(sim);
    a.param("portal", &portal.spec())
        .param("target", IQN_B)
        .param("CRM_meta_timeout", TIMEOUT_MS);
    a
}

/// Runs an action with the given iscsiadm and checks it ended inside its timeout.
fn act(a: &mut Agent, iscsiadm: &Path, action: &str) -> Run {
    a.param("iscsiadm", &iscsiadm.display().to_string());
    let extra: &[(&str, &str)] = match action {
        "monitor" => &[("OCF_RESKEY_CRM_meta_interval", "10000")],
        _ => &[],
    };
    let run = a.run_within(action, extra, HARNESS_LIMIT);
    assert!(
        run.elapsed < TIMEOUT,
        "{action} took {:?}, beyond its {TIMEOUT_MS} ms timeout\nstderr:\n{}",
        run.elapsed,
        run.stderr
    );
    run
}

#[test]
fn an_iscsiadm_that_exits_leaving_an_escaped_holder_of_its_output_is_not_waited_for() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let adm = EscapingIscsiadm::new(&sim, EscapingIscsiadm::NEVER);
    let mut a = agent(&sim, &portal);

    act(&mut a, &adm.path(), "start").expect(0);
    assert_eq!(sim.sessions().len(), 1);
    drop_session(&sim, sim.sessions()[0].sid);
    act(&mut a, &adm.path(), "monitor").expect(0);
    assert_eq!(sim.sessions()[0].state, "LOGGED_IN", "monitor logged in again");
    act(&mut a, &adm.path(), "stop").expect(0);
    assert!(sim.sessions().is_empty());

    let calls = adm.calls();
    assert!(calls.iter().any(|c| c.contains("--login")), "{calls:?}");
    assert!(calls.iter().any(|c| c.contains("--logout")), "{calls:?}");
    let sleepers = adm.sleepers(calls.len());
    assert!(
        sleepers >= calls.len(),
        "every call must have left an escaped sleeper behind ({sleepers} for {} calls)",
        calls.len()
    );
}

#[test]
fn an_iscsiadm_that_hangs_with_an_escaped_holder_of_its_output_is_killed_in_time() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let hung = EscapingIscsiadm::new(&sim, EscapingIscsiadm::ALWAYS);
    let real = sim.iscsiadm_path();
    let mut a = agent(&sim, &portal);

    act(&mut a, &hung.path(), "start")
        .expect(1)
        .reason_mentions(&["killed"]);
    assert!(sim.sessions().is_empty());

    // monitor: the session is lost and the reconnect login hangs. A hang is retried with
    // back-off (degraded) before a restart is called for.
    act(&mut a, &real, "start").expect(0);
    drop_session(&sim, sim.sessions()[0].sid);
    act(&mut a, &hung.path(), "monitor")
        .expect(190)
        .reason_mentions(&["reconnect", "killed"]);

    // stop: both logouts (by record, then by session id) hang; the session stays.
    act(&mut a, &real, "start").expect(0);
    let sid = sim.sessions()[0].sid;
    let before = hung.calls().len();
    act(&mut a, &hung.path(), "stop")
        .expect(1)
        .reason_mentions(&["still logged in", "killed"]);
    let stop_calls = &hung.calls()[before..];
    assert!(
        stop_calls
            .iter()
            .any(|c| c.starts_with("-m node") && c.ends_with("--logout")),
        "{stop_calls:?}"
    );
    assert!(
        stop_calls.contains(&format!("-m session -r {sid} --logout")),
        "stop did not try its fallback: {stop_calls:?}"
    );
    assert!(
        hung.sleepers(1) > 0,
        "the scenario needs the escaped sleepers alive"
    );
    act(&mut a, &real, "stop").expect(0);
}

#[test]
fn stop_logs_out_by_session_id_when_the_logout_by_record_hangs() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let adm = EscapingIscsiadm::new(&sim, EscapingIscsiadm::RECORD_LOGOUT);
    let mut a = agent(&sim, &portal);

    act(&mut a, &adm.path(), "start").expect(0);
    let sid = sim.sessions()[0].sid;
    act(&mut a, &adm.path(), "stop").expect(0);
    assert!(sim.sessions().is_empty());
    let calls = adm.calls();
    assert!(
        calls.contains(&format!("-m session -r {sid} --logout")),
        "{calls:?}"
    );
}
