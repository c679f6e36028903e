//! Scenarios for what the design review of the agent's shape found (issue 13): health
//! from the verdict, back-off that really skips attempts, a corrupt state file, the
//! timeout window judged once, a node that is not a member, pool checks through the agent.

mod util;

use util::*;

/// storage-a's instance of the clone, with Pacemaker's tools stood in by `pcmk`.
fn clone_on_a(sim: &SimHost, portal: &Portal, pcmk: &PacemakerTools) -> Agent {
    let mut a = Agent::storage_a(sim, &portal.spec());
    a.param("crm_mon", &pcmk.crm_mon());
    a
}

#[test]
fn a_degraded_mirror_publishes_yellow_even_to_an_ocf_1_0_caller() {
    let mut portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let pcmk = PacemakerTools::new();
    pcmk.show("two-node-both-online.xml");
    let mut a = clone_on_a(&sim, &portal, &pcmk);
    a.start().expect(0);
    a.monitor().expect(0);
    assert_eq!(
        pcmk.calls("attrd_updater").last().map(String::as_str),
        Some("-n #health-iscsi-mirror -N storage-a -U green")
    );
    portal.cut();
    sim.set_session_state(sim.sessions()[0].sid, "FAILED").unwrap();
    // An OCF 1.0 caller knows no 190: it gets success and a warning...
    a.var("OCF_RA_VERSION_MINOR", "0");
    let run = a.monitor();
    run.expect(0);
    assert!(run.stderr.contains("degraded"), "{}", run.stderr);
    // ...but placement must still see a degraded mirror.
    assert_eq!(
        pcmk.calls("attrd_updater").last().map(String::as_str),
        Some("-n #health-iscsi-mirror -N storage-a -U yellow")
    );
    a.stop().expect(0);
    assert_eq!(
        pcmk.calls("attrd_updater").last().map(String::as_str),
        Some("-n #health-iscsi-mirror -N storage-a -D")
    );
}

#[test]
fn a_health_that_did_not_reach_attrd_is_published_by_the_next_monitor() {
    let mut portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let pcmk = PacemakerTools::new();
    pcmk.show("two-node-both-online.xml");
    let a = clone_on_a(&sim, &portal, &pcmk);
    a.start().expect(0);
    a.monitor().expect(0);
    portal.cut();
    sim.set_session_state(sim.sessions()[0].sid, "FAILED").unwrap();
    a.monitor().expect(190);
    assert_eq!(
        pcmk.calls("attrd_updater").last().map(String::as_str),
        Some("-n #health-iscsi-mirror -N storage-a -U yellow")
    );
    // The leg returns while attrd_updater fails (killed on a loaded node, as seen in the
    // two-VM SAN): green is not published...
    portal.restore();
    sim.set_session_state(sim.sessions()[0].sid, "LOGGED_IN").unwrap();
    let attrd = pcmk.dir.path().join("attrd_updater");
    let working = std::fs::read_to_string(&attrd).unwrap();
    std::fs::write(&attrd, working.replace("exit 0", "exit 1")).unwrap();
    let run = a.monitor();
    run.expect(0);
    assert!(run.stderr.contains("not published"), "{}", run.stderr);
    let tried = pcmk.calls("attrd_updater").len();
    // ...so the next monitor tries again, and once it is through, no monitor runs it.
    std::fs::write(&attrd, working).unwrap();
    a.monitor().expect(0);
    assert_eq!(pcmk.calls("attrd_updater").len(), tried + 1);
    assert_eq!(
        pcmk.calls("attrd_updater").last().map(String::as_str),
        Some("-n #health-iscsi-mirror -N storage-a -U green")
    );
    a.monitor().expect(0);
    assert_eq!(pcmk.calls("attrd_updater").len(), tried + 1);
    a.stop().expect(0);
}

#[test]
fn back_off_skips_attempts_until_it_ends() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let pcmk = PacemakerTools::new();
    pcmk.show("two-node-both-online.xml");
    let mut a = clone_on_a(&sim, &portal, &pcmk);
    // A long jitter bound: after one failure the next attempt is drawn from [0, 120 s).
    a.param("reconnect_jitter", "60000")
        .var("OCF_RESKEY_CRM_meta_timeout", "10000");
    a.start().expect(0);
    drop_session(&sim, sim.sessions()[0].sid);
    // The target is busy (a retryable refusal, not CHAP): degraded, backing off.
    sim.set_fault(Fault::LoginBusy(IQN_B.into())).unwrap();
    let logins = count_invocations(&sim, "--login");
    a.monitor()
        .expect(190)
        .reason_mentions(&["backing off", "login failure"]);
    assert_eq!(count_invocations(&sim, "--login"), logins + 1, "one attempt");
    sim.clear_faults().unwrap();
    // Until the back-off ends, monitors make no attempt and say when the next comes.
    for _ in 0..2 {
        a.monitor()
            .expect(190)
            .reason_mentions(&["backing off", "next try in"]);
        assert_eq!(
            count_invocations(&sim, "--login"),
            logins + 1,
            "an attempt inside the back-off"
        );
    }
    // The back-off over (the state says when), the next monitor logs in again.
    let file = a.rsctmp().join("iscsi-mirror/mirror.state");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    for p in state["paths"].as_array_mut().unwrap() {
        p["backoff"]["next_attempt_ms"] = 1.into();
    }
    std::fs::write(&file, state.to_string()).unwrap();
    a.monitor().expect(0);
    assert_eq!(count_invocations(&sim, "--login"), logins + 2);
    a.stop().expect(0);
}

#[test]
fn a_corrupt_state_file_still_means_started_and_stop_still_logs_out() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let mut a = Agent::new(&sim);
    a.param("portal", &portal.spec()).param("target", IQN_B);
    a.start().expect(0);
    let state = a.rsctmp().join("iscsi-mirror/mirror.state");
    std::fs::write(&state, "{\"schema\": 2, \"started\": tr").unwrap();
    // The session is lost: a started resource must not say "not running" (7).
    drop_session(&sim, sim.sessions()[0].sid);
    a.monitor().expect(0);
    assert_eq!(sim.sessions().len(), 1, "the monitor logged in again");
    std::fs::write(&state, "garbage").unwrap();
    a.stop().expect(0);
    assert!(sim.sessions().is_empty());
}

#[test]
fn stop_with_an_invalid_configuration_and_no_state_still_logs_out() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let mut a = Agent::new(&sim);
    a.param("portal", &portal.spec()).param("target", IQN_B);
    a.start().expect(0);
    std::fs::write(a.rsctmp().join("iscsi-mirror/mirror.state"), "garbage").unwrap();
    a.param("udev", "maybe");
    a.stop().expect(0);
    assert!(sim.sessions().is_empty(), "stop left the session behind");
}

#[test]
fn a_node_not_in_peers_never_logs_in_to_its_own_target() {
    let pa = Portal::up("127.0.0.1");
    let pb = Portal::up("127.0.0.2");
    let dir = tempfile::tempdir().unwrap();
    let sim = SimHost::create(dir.path().join("h")).unwrap();
    sim.add_target(IQN_A, &[&pa.spec()], 1).unwrap();
    sim.add_target(IQN_B, &[&pb.spec()], 1).unwrap();
    let mut a = Agent::new(&sim);
    a.param(
        "peers",
        &format!("storage-a={IQN_A}@{} storage-b={IQN_B}@{}", pa.spec(), pb.spec()),
    )
    // What a failed lookup or an FQDN makes of the node name.
    .var("OCF_RESKEY_CRM_meta_on_node", "storage-a.lab.home");
    a.run("validate-all")
        .expect(6)
        .reason_mentions(&["storage-a.lab.home", "storage-a, storage-b"]);
    a.start().expect(2).reason_mentions(&["storage-a.lab.home"]);
    assert!(sim.sessions().is_empty());
    // Pacemaker probes every node, a quorum node too: the truth is "not running".
    a.probe().expect(7);
    a.stop().expect(0);
}

#[test]
fn single_target_mode_refuses_to_run_on_the_target_s_own_node() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let mut a = Agent::new(&sim);
    a.param("portal", &portal.spec())
        .param("target", IQN_B)
        .param("peer_node", "storage-b")
        .var("OCF_RESKEY_CRM_meta_on_node", "storage-b");
    a.run("validate-all")
        .expect(6)
        .reason_mentions(&["storage-b", "itself"]);
    a.start().expect(2);
    assert!(sim.sessions().is_empty());
}

#[test]
fn an_unusable_ha_rsctmp_never_turns_the_truth_into_an_error() {
    let portal = Portal::up("127.0.0.1");
    let (dir, sim) = host_with_target(IQN_B, &[&portal]);
    let blocked = dir.path().join("rsctmp-is-a-file");
    std::fs::write(&blocked, "").unwrap();
    let mut a = Agent::new(&sim);
    a.param("portal", &portal.spec()).param("target", IQN_B);
    for rsctmp in [
        blocked.display().to_string(),
        format!("{}/{}", dir.path().display(), "x".repeat(300)),
    ] {
        a.var("HA_RSCTMP", &rsctmp);
        a.probe().expect(7);
        a.monitor().expect(7);
        a.stop().expect(0);
    }
}

/// A target too busy to take a login at start must not get the instance banned from the
/// node (start-failure-is-fatal): start succeeds degraded, the monitor comes back.
#[test]
fn a_busy_target_at_start_starts_degraded_and_the_monitor_logs_in_later() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let pcmk = PacemakerTools::new();
    pcmk.show("two-node-both-online.xml");
    let mut a = clone_on_a(&sim, &portal, &pcmk);
    a.param("reconnect_jitter", "1");
    sim.set_fault(Fault::LoginBusy(IQN_B.into())).unwrap();
    let run = a.start();
    run.expect(0);
    assert!(
        run.stderr.contains("monitor reports degraded and retries"),
        "{}",
        run.stderr
    );
    assert!(sim.sessions().is_empty());
    sim.clear_faults().unwrap();
    a.monitor().expect(0);
    assert_eq!(sim.sessions().len(), 1);
    a.stop().expect(0);
}
