//! The OCF contract, scenario by scenario, against a simulated open-iscsi host.
//! No cluster here: crm_mon is absent, so sessions are judged by themselves and by
//! reachability (the monitor table's "cluster state unknown" row).

mod util;

use std::time::Duration;
use util::*;

fn single(sim: &SimHost, portal: &Portal) -> Agent {
    let mut a = Agent::new(sim);
    a.param("portal", &portal.spec()).param("target", IQN_B);
    a
}

#[test]
fn meta_data_methods_and_usage_need_no_parameters() {
    let run = |arg: &str| {
        std::process::Command::new(AGENT)
            .arg(arg)
            .env_clear()
            .output()
            .unwrap()
    };
    let md = run("meta-data");
    assert_eq!(md.status.code(), Some(0));
    let text = String::from_utf8(md.stdout).unwrap();
    assert!(text.starts_with("<?xml version=\"1.0\"?>\n<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">"));
    assert!(text.contains("<version>1.1</version>"));
    let methods = run("methods");
    assert_eq!(methods.status.code(), Some(0));
    let listed = String::from_utf8(methods.stdout).unwrap();
    for a in [
        "start",
        "stop",
        "monitor",
        "status",
        "meta-data",
        "validate-all",
        "methods",
        "usage",
    ] {
        assert!(listed.lines().any(|l| l == a), "{a} missing from methods");
    }
    assert_eq!(run("usage").status.code(), Some(0));
}

#[test]
fn meta_data_is_valid_against_ra_api_dtd() {
    let dtd_dir = std::path::Path::new("/usr/share/resource-agents");
    assert!(
        dtd_dir.join("ra-api-1.dtd").exists(),
        "install resource-agents (ra-api-1.dtd)"
    );
    let md = std::process::Command::new(AGENT)
        .arg("meta-data")
        .output()
        .unwrap();
    let mut lint = std::process::Command::new("xmllint")
        .args(["--noout", "--valid", "-"])
        .current_dir(dtd_dir)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("xmllint (libxml2-utils) is needed");
    use std::io::Write;
    lint.stdin.take().unwrap().write_all(&md.stdout).unwrap();
    let out = lint.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "xmllint: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn unknown_action_is_unimplemented_and_no_action_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimHost::create(dir.path().join("h")).unwrap();
    let a = Agent::new(&sim);
    for action in [
        "promote",
        "demote",
        "notify",
        "migrate_to",
        "reload",
        "frobnicate",
        "start;reboot",
    ] {
        a.run(action).expect(3);
    }
    a.run("").expect(2);
    // Extra arguments are ignored.
    let out = std::process::Command::new(AGENT)
        .args(["meta-data", "extra", "args"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn start_monitor_stop_round_trip_is_idempotent() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let a = single(&sim, &portal);

    a.probe().expect(7);
    a.monitor().expect(7);
    a.stop().expect(0);
    a.start().expect(0);
    let sessions = sim.sessions();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].state, "LOGGED_IN");
    a.monitor().expect(0);
    a.probe().expect(0);
    a.start().expect(0);
    assert_eq!(sim.sessions().len(), 1, "a second start must not add a session");
    a.monitor().expect(0);
    a.stop().expect(0);
    assert!(sim.sessions().is_empty());
    a.monitor().expect(7);
    a.probe().expect(7);
    a.stop().expect(0);
}

#[test]
fn discovery_runs_only_when_no_node_record_exists() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let a = single(&sim, &portal);
    a.start().expect(0);
    a.stop().expect(0);
    a.start().expect(0);
    assert_eq!(
        count_invocations(&sim, "discovery"),
        1,
        "{:#?}",
        sim.invocations()
    );
    a.stop().expect(0);
}

#[test]
fn start_writes_the_timers_before_login_and_to_the_live_session() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let mut a = single(&sim, &portal);
    a.param("noop_out_interval", "2")
        .param("noop_out_timeout", "2")
        .param("replacement_timeout", "5")
        .param("login_timeout", "10");
    a.start().expect(0);
    let rec = sim.node_record(IQN_B, &portal.spec()).expect("a node record");
    assert_eq!(rec["node.conn[0].timeo.noop_out_interval"], "2");
    assert_eq!(rec["node.conn[0].timeo.noop_out_timeout"], "2");
    assert_eq!(rec["node.session.timeo.replacement_timeout"], "5");
    assert_eq!(rec["node.conn[0].timeo.login_timeout"], "10");
    assert_eq!(rec["node.startup"], "manual");
    let s = &sim.sessions()[0];
    assert_eq!((s.recv_tmo, s.ping_tmo, s.recovery_tmo), (2, 2, 5));
    a.stop().expect(0);
}

#[test]
fn start_waits_for_the_udev_links() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let a = single(&sim, &portal);
    let run = a.start();
    run.expect(0);
    let link = sim.root().join(format!(
        "dev/disk/by-path/ip-{}-iscsi-{IQN_B}-lun-0",
        portal.spec()
    ));
    assert!(path_exists(&link), "{link:?} missing");
    a.stop().expect(0);
}

#[test]
fn a_failed_session_with_the_portal_unreachable_is_degraded_not_failed() {
    let mut portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let mut a = single(&sim, &portal);
    a.start().expect(0);
    portal.cut();
    let sid = sim.sessions()[0].sid;
    sim.set_session_state(sid, "FAILED").unwrap();
    a.monitor().expect(190).reason_mentions(&[
        "storage-b",
        "FAILED",
        "storage network",
        "cluster state unknown",
    ]);
    // OCF 1.0 callers know no 190: success with a warning.
    a.var("OCF_RA_VERSION_MINOR", "0");
    a.monitor().expect(0);
    a.var("OCF_RA_VERSION_MINOR", "1");
    // A probe reports the truth without repairing.
    a.probe().expect(190);
    portal.restore();
    sim.set_session_state(sid, "LOGGED_IN").unwrap();
    a.monitor().expect(0);
    a.stop().expect(0);
}

#[test]
fn a_lost_session_with_the_portal_reachable_is_logged_in_again_with_jitter() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let a = single(&sim, &portal);
    a.start().expect(0);
    let logins_before = count_invocations(&sim, "--login");
    drop_session(&sim, sim.sessions()[0].sid);
    let run = a.monitor();
    run.expect(0);
    assert!(
        run.stderr.contains("reconnecting after a jitter"),
        "{}",
        run.stderr
    );
    assert_eq!(count_invocations(&sim, "--login"), logins_before + 1);
    assert_eq!(sim.sessions()[0].state, "LOGGED_IN");
    a.stop().expect(0);
}

#[test]
fn a_lost_session_whose_login_fails_is_a_failure_with_the_cause() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let a = single(&sim, &portal);
    a.start().expect(0);
    drop_session(&sim, sim.sessions()[0].sid);
    sim.set_fault(Fault::AuthFail(IQN_B.into())).unwrap();
    a.monitor().expect(1).reason_mentions(&["CHAP", "restart"]);
    a.stop().expect(0);
}

#[test]
fn one_path_of_two_down_is_degraded_and_names_the_path() {
    let p1 = Portal::up("127.0.0.1");
    let mut p2 = Portal::up("127.0.0.2");
    let (_d, sim) = host_with_target(IQN_B, &[&p1, &p2]);
    let mut a = Agent::new(&sim);
    a.param(
        "peers",
        &format!(
            "storage-a=iqn.2025-01.lab.home:storage-a@127.0.0.9:3260 storage-b={IQN_B}@{},{}",
            p1.spec(),
            p2.spec()
        ),
    )
    .var("OCF_RESKEY_CRM_meta_on_node", "storage-a")
    .param("crm_mon", "/nonexistent/crm_mon");
    a.start().expect(0);
    assert_eq!(sim.sessions().len(), 2);
    p2.cut();
    let s2 = sim
        .sessions()
        .into_iter()
        .find(|s| s.portal == p2.spec())
        .unwrap();
    sim.set_session_state(s2.sid, "FAILED").unwrap();
    a.monitor()
        .expect(190)
        .reason_mentions(&["1 of 2 paths down", &p2.spec()]);
    a.stop().expect(0);
    assert!(sim.sessions().is_empty());
}

#[test]
fn peers_mode_logs_in_only_to_the_other_nodes() {
    let pa = Portal::up("127.0.0.1");
    let pb = Portal::up("127.0.0.2");
    let dir = tempfile::tempdir().unwrap();
    let sim = SimHost::create(dir.path().join("h")).unwrap();
    let iqn_a = "iqn.2025-01.lab.home:storage-a";
    sim.add_target(iqn_a, &[&pa.spec()], 1).unwrap();
    sim.add_target(IQN_B, &[&pb.spec()], 1).unwrap();
    let mut a = Agent::new(&sim);
    a.param(
        "peers",
        &format!("storage-a={iqn_a}@{} storage-b={IQN_B}@{}", pa.spec(), pb.spec()),
    )
    .var("OCF_RESKEY_CRM_meta_on_node", "storage-a");
    a.start().expect(0);
    let sessions = sim.sessions();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].iqn, IQN_B);
    a.monitor().expect(0);
    a.stop().expect(0);
}

#[test]
fn portals_are_matched_exactly_not_by_prefix() {
    // A session to 127.0.0.10 must not count for a resource on 127.0.0.1.
    let near = Portal::up("127.0.0.10");
    let ours = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&near, &ours]);
    let other = single(&sim, &near);
    other.start().expect(0);
    let a = single(&sim, &ours);
    a.probe().expect(7);
    a.start().expect(0);
    assert_eq!(sim.sessions().len(), 2);
    a.stop().expect(0);
    assert_eq!(sim.sessions().len(), 1, "stop must log out only its own portal");
    assert_eq!(sim.sessions()[0].portal, near.spec());
    other.stop().expect(0);
}

#[test]
fn an_unreachable_peer_at_start_still_starts_and_monitor_reports_degraded() {
    let mut portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    portal.cut();
    let a = single(&sim, &portal);
    let run = a.start();
    run.expect(0);
    assert!(sim.sessions().is_empty());
    assert!(
        sim.node_record(IQN_B, &portal.spec()).is_some(),
        "a static record lets the leg join later"
    );
    a.monitor().expect(190).reason_mentions(&["storage network"]);
    portal.restore();
    a.monitor().expect(0);
    a.stop().expect(0);
}

#[test]
fn a_chap_mismatch_at_start_fails_with_the_cause() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    sim.set_fault(Fault::AuthFail(IQN_B.into())).unwrap();
    let a = single(&sim, &portal);
    a.start().expect(1).reason_mentions(&["CHAP", &portal.spec()]);
    a.stop().expect(0);
}

#[test]
fn iscsid_not_running_is_not_installed() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    sim.set_fault(Fault::IscsidDown).unwrap();
    let a = single(&sim, &portal);
    a.start().expect(5).reason_mentions(&["iscsid"]);
}

#[test]
fn a_hung_iscsiadm_is_killed_and_the_action_ends_inside_its_timeout() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let mut a = single(&sim, &portal);
    a.var("OCF_RESKEY_CRM_meta_timeout", "5000");
    sim.set_fault(Fault::Hang("login".into())).unwrap();
    let run = a.start();
    assert!(
        run.elapsed < Duration::from_secs(5),
        "start took {:?}",
        run.elapsed
    );
    run.expect(1).reason_mentions(&["login", "killed"]);
    sim.clear_faults().unwrap();
    a.start().expect(0);
    sim.set_fault(Fault::Hang("logout".into())).unwrap();
    let run = a.stop();
    assert!(
        run.elapsed < Duration::from_secs(5),
        "stop took {:?}",
        run.elapsed
    );
    run.expect(1).reason_mentions(&["still logged in", "killed"]);
    sim.clear_faults().unwrap();
    a.stop().expect(0);
}

#[test]
fn try_recovery_waits_for_the_kernel_within_the_monitor_timeout() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let mut a = single(&sim, &portal);
    a.param("try_recovery", "true");
    a.start().expect(0);
    let sid = sim.sessions()[0].sid;
    sim.set_session_state(sid, "FAILED").unwrap();
    let root = sim.root().to_path_buf();
    let healer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(800));
        SimHost::open(&root)
            .unwrap()
            .set_session_state(sid, "LOGGED_IN")
            .unwrap();
    });
    let run = a.monitor();
    healer.join().unwrap();
    run.expect(0);
    assert!(run.elapsed >= Duration::from_millis(700));
    a.stop().expect(0);
}

#[test]
fn missing_iscsiadm() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimHost::create(dir.path().join("h")).unwrap();
    let mut a = Agent::new(&sim);
    a.param("portal", "127.0.0.1")
        .param("target", IQN_B)
        .param("iscsiadm", "/nonexistent/iscsiadm");
    a.probe().expect(7);
    a.monitor().expect(7);
    a.stop().expect(0);
    a.start().expect(5).reason_mentions(&["iscsiadm", "open-iscsi"]);
    a.run("validate-all").expect(5);
}

/// ocf-tester sets OCF_TESTER_FAIL_HAVE_BINARY for meta-data and for a probe of the stopped
/// resource and expects 0 and 7 (or 5): the agent's policy treats iscsiadm as not installed.
#[test]
fn ocf_tester_s_missing_binaries_flag_withholds_iscsiadm() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let mut a = single(&sim, &portal);
    a.var("OCF_TESTER_FAIL_HAVE_BINARY", "1");
    a.run("meta-data").expect(0);
    a.probe().expect(7);
    a.start().expect(5).reason_mentions(&["iscsiadm", "open-iscsi"]);
    a.run("validate-all").expect(5);
    a.stop().expect(0);
    assert!(sim.invocations().is_empty(), "{:?}", sim.invocations());
    // Without the flag the same host has its iscsiadm.
    let b = single(&sim, &portal);
    b.start().expect(0);
    b.stop().expect(0);
}

#[test]
fn not_root_is_a_permission_error() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let mut a = single(&sim, &portal);
    a.as_user(65534);
    a.var("HA_RSCTMP", "/tmp");
    a.start().expect(4).reason_mentions(&["root"]);
    a.run("meta-data").expect(0);
}

#[test]
fn bad_parameters_are_not_configured_with_one_line_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimHost::create(dir.path().join("h")).unwrap();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[], "no target configured"),
        (&[("portal", "10.0.0.1")], "target"),
        (&[("target", IQN_B)], "portal"),
        (
            &[
                ("portal", "10.0.0.1"),
                ("target", IQN_B),
                ("peers", "x=iqn.2025-01.a:b@1.2.3.4"),
            ],
            "not both",
        ),
        (&[("portal", "10.0.0.1"), ("target", "storage-b")], "iSCSI name"),
        (&[("portal", "10.0.0.1:99999"), ("target", IQN_B)], "TCP port"),
        (&[("portal", "10.0.0.1;reboot"), ("target", IQN_B)], "portal"),
        (&[("portal", "$(reboot)"), ("target", IQN_B)], "portal"),
        (
            &[("portal", "10.0.0.1"), ("target", "iqn.2025-01.a:b`id`")],
            "target",
        ),
        (
            &[("portal", "10.0.0.1"), ("target", IQN_B), ("udev", "maybe")],
            "boolean",
        ),
        (
            &[("portal", "10.0.0.1"), ("target", IQN_B), ("try_recovery", "si")],
            "boolean",
        ),
        (
            &[
                ("portal", "10.0.0.1"),
                ("target", IQN_B),
                ("noop_out_interval", "2s"),
            ],
            "whole number",
        ),
        (
            &[
                ("portal", "10.0.0.1"),
                ("target", IQN_B),
                ("iscsiadm", "/sbin/iscsiadm -m x"),
            ],
            "plain path",
        ),
        (&[("peers", "storage-a")], "NODE=IQN@PORTAL"),
        (&[("peers", "a=iqn.2025-01.a:b@[fd00::1")], "IPv6"),
    ];
    for (params, words) in cases {
        let mut a = Agent::new(&sim);
        for (k, v) in *params {
            a.param(k, v);
        }
        for action in ["validate-all", "start"] {
            let run = a.run(action);
            run.expect(6);
            assert!(
                run.reason().contains(words),
                "{params:?}: {:?} lacks {words:?}",
                run.reason()
            );
            assert_eq!(
                run.stderr
                    .lines()
                    .filter(|l| l.starts_with("ocf-exit-reason:"))
                    .count(),
                1
            );
        }
        // Stopping something that never started is fine, whatever the configuration.
        a.stop().expect(0);
    }
}

#[test]
fn stop_with_a_broken_configuration_still_logs_out_what_start_logged_in() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let mut a = single(&sim, &portal);
    a.start().expect(0);
    a.param("target", "not-an-iqn");
    a.stop().expect(0);
    assert!(sim.sessions().is_empty());
}

#[test]
fn chap_secrets_never_reach_logs_or_output() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let mut a = single(&sim, &portal);
    a.var("HA_debug", "1");
    a.start().expect(0);
    set_record(
        &sim,
        IQN_B,
        &portal.spec(),
        "node.session.auth.password",
        "s3cr3t-chap",
    );
    let mut all = String::new();
    for run in [a.monitor(), a.run("status"), a.stop(), a.start(), a.stop()] {
        all.push_str(&run.stdout);
        all.push_str(&run.stderr);
    }
    assert!(!all.contains("s3cr3t-chap"), "{all}");
}

#[test]
fn concurrent_actions_on_one_instance_are_serialised() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let a = single(&sim, &portal);
    a.start().expect(0);
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..4).map(|_| s.spawn(|| a.monitor())).collect();
        for r in runs {
            r.join().unwrap().expect(0);
        }
    });
    a.stop().expect(0);
}

#[test]
fn timeout_policy_enforce_refuses_timers_outside_the_corosync_window() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let mut a = single(&sim, &portal);
    a.param("token_ms", "4000")
        .param("corosync_cmapctl", "/nonexistent")
        .param("timeout_policy", "enforce");
    // open-iscsi's defaults (5/5/120): a dead peer is noticed 6 s after Corosync does.
    a.run("validate-all")
        .expect(6)
        .reason_mentions(&["Corosync window", "detection 10.0 s > token 4.0 s"]);
    a.start().expect(6);
    assert!(sim.sessions().is_empty());
    // The seeds' values: inside, one warning (logged, not refused).
    a.param("noop_out_interval", "2")
        .param("noop_out_timeout", "2")
        .param("replacement_timeout", "5");
    let run = a.run("validate-all");
    run.expect(0);
    assert!(
        run.stderr.contains("I/O stall 9.0 s > token + consensus 8.8 s"),
        "{}",
        run.stderr
    );
    a.start().expect(0);
    a.stop().expect(0);
}

#[test]
fn timeout_policy_warn_starts_and_says_why_and_the_deep_monitor_rechecks() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let mut a = single(&sim, &portal);
    a.param("token_ms", "4000")
        .param("corosync_cmapctl", "/nonexistent");
    let run = a.start();
    run.expect(0);
    assert!(run.stderr.contains("timeout window broken"), "{}", run.stderr);
    // A deep monitor re-checks the live sessions' timers and logs the broken window.
    let deep = a.run_with(
        "monitor",
        &[
            ("OCF_RESKEY_CRM_meta_interval", "10000"),
            ("OCF_CHECK_LEVEL", "10"),
        ],
    );
    deep.expect(0);
    assert!(
        deep.stderr.contains("timeout window broken") && deep.stderr.contains("sysfs"),
        "{}",
        deep.stderr
    );
    assert!(
        !a.monitor().stderr.contains("timeout window"),
        "depth 0 stays cheap"
    );
    a.stop().expect(0);
}

/// A started single-mode agent (reconnect_jitter 1 ms) whose session is lost, with logins
/// failing by `fault` from now on. The portal and directory live as long as the tuple.
fn lost_leg_failing_with(fault: Fault) -> (Portal, tempfile::TempDir, SimHost, Agent) {
    let portal = Portal::up("127.0.0.1");
    let (dir, sim) = host_with_target(IQN_B, &[&portal]);
    let mut a = single(&sim, &portal);
    a.param("reconnect_jitter", "1");
    a.start().expect(0);
    drop_session(&sim, sim.sessions()[0].sid);
    sim.set_fault(fault).unwrap();
    (portal, dir, sim, a)
}

#[test]
fn repeated_reconnect_failures_back_off_across_monitor_runs() {
    let (_portal, _d, sim, a) = lost_leg_failing_with(Fault::AuthFail(IQN_B.into()));
    // The back-off's window opens one monitor interval after a failure: monitors run back
    // to back here, so they say their interval is 1 ms (and the jitter bound is 1 ms).
    let monitor = || a.run_with("monitor", &[("OCF_RESKEY_CRM_meta_interval", "1")]);
    let attempts: Vec<String> = (0..3)
        .map(|_| {
            let run = monitor();
            run.expect(1);
            run.stderr
                .lines()
                .find(|l| l.contains("reconnecting after a jitter"))
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert!(attempts[0].contains("(attempt 1)"), "{attempts:?}");
    assert!(attempts[1].contains("(attempt 2)"), "{attempts:?}");
    assert!(attempts[2].contains("(attempt 3)"), "{attempts:?}");
    // The state file carries the count across runs; a success resets it.
    sim.clear_faults().unwrap();
    monitor().expect(0);
    drop_session(&sim, sim.sessions()[0].sid);
    let run = monitor();
    run.expect(0);
    assert!(run.stderr.contains("(attempt 1)"), "{}", run.stderr);
    a.stop().expect(0);
}

#[test]
fn a_busy_target_is_tried_again_no_sooner_than_the_next_monitor() {
    let (_portal, _d, sim, a) = lost_leg_failing_with(Fault::LoginBusy(IQN_B.into()));
    let logins = count_invocations(&sim, "--login");
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    };
    let before = now_ms();
    a.monitor()
        .expect(190)
        .reason_mentions(&["backing off", "attempt 1 failed", "next try in"]);
    let after = now_ms();
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.rsctmp().join("iscsi-mirror/mirror.state")).unwrap())
            .unwrap();
    let next = state["paths"][0]["backoff"]["next_attempt_ms"].as_u64().unwrap();
    // The monitor's interval (10 s) from the failure, plus a draw from [0, 2 ms).
    assert!(
        (before + 10_000..=after + 10_002).contains(&next),
        "{before} {next} {after}"
    );
    // A monitor before then makes no attempt, even with the target no longer busy.
    sim.clear_faults().unwrap();
    a.monitor()
        .expect(190)
        .reason_mentions(&["backing off", "next try in"]);
    assert_eq!(count_invocations(&sim, "--login"), logins + 1);
    a.stop().expect(0);
}

#[test]
fn hostile_environment_values_never_panic() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let sim = SimHost::create(dir.path().join("h")).unwrap();
    let a = Agent::new(&sim);
    let bad = std::ffi::OsStr::from_bytes(b"10.0.0.1\xff\xfe");
    for action in ["validate-all", "start", "monitor", "stop"] {
        let out = std::process::Command::new(AGENT)
            .arg(action)
            .env_clear()
            .env("OCF_ROOT", "/usr/lib/ocf")
            .env("HA_RSCTMP", a.rsctmp())
            .env("OCF_RESKEY_portal", bad)
            .env("OCF_RESKEY_target", IQN_B)
            .env("OCF_RESKEY_CRM_meta_timeout", "not-a-number")
            .env("OCF_RA_VERSION_MAJOR", "x")
            .output()
            .unwrap();
        let code = out.status.code().unwrap();
        assert_ne!(
            code,
            101,
            "{action} panicked: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let expected = if action == "stop" {
            0
        } else if action == "monitor" {
            7
        } else {
            6
        };
        assert_eq!(
            code,
            expected,
            "{action}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Issue 10: a CRM_meta_timeout that is no usable number of ms falls back to the action's
/// default timeout, and the log says so (the value quoted, the default named).
#[test]
fn a_bad_crm_meta_timeout_is_logged_with_the_default_used() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let a = single(&sim, &portal);
    for (value, says) in [
        (
            "not-a-number",
            "CRM_meta_timeout 'not-a-number' is not a number of milliseconds",
        ),
        (
            "99999999999999999999",
            "CRM_meta_timeout '99999999999999999999' is not a number",
        ),
        ("-5", "CRM_meta_timeout '-5' is not a number"),
        ("0", "CRM_meta_timeout is 0 ms"),
        ("86400001", "CRM_meta_timeout 86400001 ms is longer than a day"),
        ("20s\n", "CRM_meta_timeout '20s\\n' is not a number"),
    ] {
        let run = a.run_with(
            "monitor",
            &[
                ("OCF_RESKEY_CRM_meta_timeout", value),
                ("OCF_RESKEY_CRM_meta_interval", "0"),
            ],
        );
        run.expect(7);
        let line = run
            .stderr
            .lines()
            .find(|l| l.contains("CRM_meta_timeout"))
            .unwrap_or_else(|| panic!("{value:?}: no warning in\n{}", run.stderr));
        assert!(
            line.contains(says) && line.contains("using the default 30 s for monitor"),
            "{value:?}: {line}"
        );
    }
    // A usable value is used without a word.
    let run = a.run_with("monitor", &[("OCF_RESKEY_CRM_meta_timeout", "15000")]);
    assert!(!run.stderr.contains("CRM_meta_timeout"), "{}", run.stderr);
}

#[test]
fn a_failed_session_to_an_answering_peer_gets_the_kernel_s_grace_then_a_restart() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let a = single(&sim, &portal);
    a.start().expect(0);
    let sid = sim.sessions()[0].sid;
    sim.set_session_state(sid, "FAILED").unwrap();
    // iscsid is reconnecting by itself: degraded, no login over the existing session.
    let logins = count_invocations(&sim, "--login");
    a.monitor()
        .expect(190)
        .reason_mentions(&["kernel still reconnecting", &portal.spec()]);
    assert_eq!(count_invocations(&sim, "--login"), logins);
    // Half a minute later it still has not: a restart is the remedy.
    let state_file = a.rsctmp().join("iscsi-mirror/mirror.state");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap()).unwrap();
    for p in state["paths"].as_array_mut().unwrap() {
        let b = &mut p["backoff"];
        b["recovering_since_unix"] = serde_json::json!(b["recovering_since_unix"].as_u64().unwrap() - 31);
    }
    std::fs::write(&state_file, state.to_string()).unwrap();
    a.monitor()
        .expect(1)
        .reason_mentions(&["still not logged in", "restart needed"]);
    a.stop().expect(0);
    assert!(sim.sessions().is_empty());
}

#[test]
fn a_healthy_monitor_runs_no_program_and_a_degraded_one_asks_the_cluster() {
    use std::os::unix::fs::PermissionsExt;
    let mut portal = Portal::up("127.0.0.1");
    let (dir, sim) = host_with_target(IQN_B, &[&portal]);
    // A crm_mon double that only records that it ran.
    let marker = dir.path().join("crm_mon-ran");
    let double = dir.path().join("crm_mon");
    std::fs::write(
        &double,
        format!("#!/bin/sh\necho \"$@\" >> {}\nexit 102\n", marker.display()),
    )
    .unwrap();
    std::fs::set_permissions(&double, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut a = single(&sim, &portal);
    a.param("crm_mon", double.to_str().unwrap());
    // The DC's feature set (a 2.0.0-2.0.2 DC while the cluster is upgraded to Pacemaker 3.0)
    // says nothing about this node's crm_mon: --as-xml must not follow from it.
    a.param("crm_feature_set", "3.1.0");
    a.start().expect(0);
    let calls = sim.invocations().len();
    for _ in 0..3 {
        a.monitor().expect(0);
    }
    assert_eq!(sim.invocations().len(), calls, "a healthy monitor ran iscsiadm");
    assert!(!marker.exists(), "a healthy monitor ran crm_mon");
    portal.cut();
    sim.set_session_state(sim.sessions()[0].sid, "FAILED").unwrap();
    a.monitor().expect(190);
    let ran = std::fs::read_to_string(&marker).unwrap();
    assert!(ran.contains("--output-as=xml"), "{ran}");
    assert!(!ran.contains("--as-xml"), "{ran}");
    a.stop().expect(0);
}

#[test]
fn discovery_keeps_only_the_record_this_resource_manages() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let other = "iqn.2025-01.lab.home:other-disk";
    let admins = "iqn.2025-01.lab.home:admins-disk";
    sim.add_target(other, &[&portal.spec()], 1).unwrap();
    sim.add_target(admins, &[&portal.spec()], 1).unwrap();
    // A record the admin made before: not ours to remove.
    let out = sim
        .run(&["-m", "node", "-T", admins, "-p", &portal.spec(), "-o", "new"])
        .unwrap();
    assert!(out.status.success());
    let a = single(&sim, &portal);
    a.start().expect(0);
    assert!(sim.node_record(IQN_B, &portal.spec()).is_some());
    assert!(
        sim.node_record(other, &portal.spec()).is_none(),
        "discovery's stray record stays"
    );
    assert!(
        sim.node_record(admins, &portal.spec()).is_some(),
        "the admin's record was removed"
    );
    a.stop().expect(0);
}
