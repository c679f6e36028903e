//! `iscsi-mirror check-timeouts` on a simulated host: live sessions' timers come from
//! sysfs, records without a session from the node record, each figure with its source.

mod util;

use std::process::Command;
use util::*;

const IQN_B: &str = "iqn.2025-01.lab.home:storage-b";

fn check(sim: &SimHost, extra: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::new(AGENT)
        .arg("check-timeouts")
        .args(["--json", "--host-root"])
        .arg(sim.root())
        .arg("--iscsiadm")
        .arg(sim.iscsiadm_path())
        .args(["--corosync-cmapctl", "/nonexistent", "--token-ms", "4000"])
        .args(extra)
        .env_clear()
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap(), json)
}

#[test]
fn live_sessions_are_judged_by_their_sysfs_timers() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let mut a = Agent::new(&sim);
    a.param("portal", &portal.spec()).param("target", IQN_B);
    a.param("noop_out_interval", "2")
        .param("noop_out_timeout", "2")
        .param("replacement_timeout", "5");
    a.start().expect(0);
    let (code, r) = check(&sim, &[]);
    assert_eq!(code, 1, "{r}");
    let p = &r["paths"][0];
    assert!(p["label"].as_str().unwrap().starts_with("session "), "{p}");
    assert_eq!(p["timers"]["noop_out_interval"]["value"], 2);
    assert!(p["timers"]["noop_out_interval"]["source"]
        .as_str()
        .unwrap()
        .contains("recv_tmo"));
    assert!(p["timers"]["replacement_timeout"]["source"]
        .as_str()
        .unwrap()
        .contains("recovery_tmo"));
    assert_eq!(r["window"]["token_ms"]["source"], "--token-ms");
    // "What if": a flag replaces the figure it names, wherever it came from.
    let (code, r) = check(&sim, &["--replacement-timeout", "4"]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(
        r["paths"][0]["timers"]["replacement_timeout"]["source"],
        "--replacement-timeout"
    );
    let (code, _) = check(&sim, &["--noop-out-interval", "0"]);
    assert_eq!(code, 2);
    a.stop().expect(0);
    // No session now: the node record the agent wrote speaks for the path.
    let (code, r) = check(&sim, &[]);
    assert_eq!(code, 1, "{r}");
    assert!(r["paths"][0]["label"].as_str().unwrap().contains("no session"));
    assert!(r["paths"][0]["timers"]["noop_out_timeout"]["source"]
        .as_str()
        .unwrap()
        .starts_with("node record"));
}

#[test]
fn recommend_prints_lines_that_pass_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimHost::create(dir.path().join("h")).unwrap();
    let out = Command::new(AGENT)
        .args([
            "check-timeouts",
            "--recommend",
            "--corosync-cmapctl",
            "/nonexistent",
            "--iscsiadm",
            "/nonexistent",
            "--token-ms",
            "4000",
            "--host-root",
        ])
        .arg(sim.root())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("node.conn[0].timeo.noop_out_interval = 2"),
        "{text}"
    );
    assert!(
        text.contains("node.session.timeo.replacement_timeout = 4"),
        "{text}"
    );
    assert!(
        text.contains("noop_out_interval=2 noop_out_timeout=2 replacement_timeout=4"),
        "{text}"
    );
    let (code, _) = check(
        &sim,
        &[
            "--noop-out-interval",
            "2",
            "--noop-out-timeout",
            "2",
            "--replacement-timeout",
            "4",
        ],
    );
    assert_eq!(code, 0);
}

#[test]
fn usage_errors_exit_64_not_2_which_means_outside_the_window_and_help_exits_0() {
    let bad = Command::new(AGENT)
        .args(["check-timeouts", "--token-ms", "many"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(64));
    let help = Command::new(AGENT)
        .args(["check-timeouts", "--help"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(help.status.code(), Some(0));
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--recommend"));
    assert!(
        help.contains("Exit codes") && help.contains("64 usage error"),
        "{help}"
    );
}
