//! Portals given by host name (issue 10, C). Start resolves the names once, within its
//! time, and records the addresses; monitor and stop then use what start recorded and ask
//! no resolver, so a name service that stops answering changes nothing they say. Each
//! agent run gets a private name service (a mount namespace with its own /etc/hosts,
//! nsswitch.conf, resolv.conf: iscsi_simhost::resolver), and an inotify watch on those
//! files shows whether anything looked a name up.

mod util;

use std::time::Duration;

use util::*;

struct Names {
    _dir: tempfile::TempDir,
    /// localhost and storage-b.lab are 127.0.0.1.
    good: Resolver,
    /// Knows no name at all.
    broken: Resolver,
}

fn names() -> Names {
    let dir = tempfile::tempdir().unwrap();
    Names {
        good: Resolver::files(
            &dir.path().join("good"),
            "127.0.0.1 localhost\n127.0.0.1 storage-b.lab\n",
        )
        .unwrap(),
        broken: Resolver::files(&dir.path().join("broken"), "").unwrap(),
        _dir: dir,
    }
}

/// Watches the broken resolver's files, after checking that a lookup through it shows.
fn lookups_through(r: &Resolver) -> Watch {
    let w = Watch::new(&[r.hosts_file(), r.resolv_file()]);
    let mut getent = std::process::Command::new("getent");
    getent.args(["hosts", "storage-b.lab"]);
    r.apply(&mut getent);
    let out = getent.output().expect("getent");
    assert_eq!(
        out.status.code(),
        Some(2),
        "the broken resolver resolved: {out:?}"
    );
    assert!(!w.touched().is_empty(), "the watch does not see lookups");
    assert!(w.touched().is_empty());
    w
}

fn state(a: &Agent) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(a.rsctmp().join("iscsi-mirror/mirror.state")).unwrap())
        .unwrap()
}

/// A target at a loopback portal and the agent configured with `name`:PORT as its portal,
/// run with `resolver`.
fn agent_for(name: &str, resolver: &Resolver) -> (Portal, tempfile::TempDir, SimHost, Agent) {
    let portal = Portal::up("127.0.0.1");
    let (dir, sim) = host_with_target(IQN_B, &[&portal]);
    let mut a = Agent::new(&sim);
    a.param("portal", &format!("{name}:{}", portal.port))
        .param("target", IQN_B)
        .resolver(Some(resolver));
    (portal, dir, sim, a)
}

#[test]
fn start_with_a_localhost_portal_and_sendtargets_records_the_address() {
    let ns = names();
    let (portal, _d, sim, a) = agent_for("localhost", &ns.good);
    a.start().expect(0);
    let st = state(&a);
    assert_eq!(st["paths"][0]["portal"], format!("localhost:{}", portal.port));
    assert_eq!(st["paths"][0]["addresses"], serde_json::json!(["127.0.0.1"]));
    // Discovery, the record, the login and the session all carry the address.
    let disc = sim
        .invocations()
        .into_iter()
        .find(|i| i.argv.iter().any(|x| x == "discovery"))
        .expect("a sendtargets discovery");
    assert!(disc.argv.contains(&portal.spec()), "{:?}", disc.argv);
    assert!(sim.node_record(IQN_B, &portal.spec()).is_some());
    assert_eq!(sim.sessions()[0].persistent_address, "127.0.0.1");
    a.monitor().expect(0);
    a.stop().expect(0);
    assert!(sim.sessions().is_empty());
}

#[test]
fn monitor_of_a_name_portal_asks_no_resolver_healthy_or_reconnecting() {
    let ns = names();
    let (_portal, _d, sim, mut a) = agent_for("storage-b.lab", &ns.good);
    a.start().expect(0);
    // The name service stops knowing the name.
    a.resolver(Some(&ns.broken));
    let watch = lookups_through(&ns.broken);
    a.monitor().expect(0);
    a.probe().expect(0);
    assert_eq!(
        watch.touched(),
        Vec::<std::path::PathBuf>::new(),
        "a healthy monitor looked a name up"
    );
    // A lost session is logged in again by the address start recorded.
    drop_session(&sim, sim.sessions()[0].sid);
    let run = a.monitor();
    run.expect(0);
    assert_eq!(sim.sessions().len(), 1, "{}", run.stderr);
    assert_eq!(
        watch.touched(),
        Vec::<std::path::PathBuf>::new(),
        "the reconnect looked a name up"
    );
    a.stop().expect(0);
}

#[test]
fn stop_without_a_resolver_logs_out_and_only_then_says_0() {
    let ns = names();
    let (_portal, _d, sim, mut a) = agent_for("storage-b.lab", &ns.good);
    a.var("OCF_RESKEY_CRM_meta_timeout", "5000");
    a.start().expect(0);
    a.resolver(Some(&ns.broken));
    let watch = lookups_through(&ns.broken);
    // A logout that never ends: stop finds the session (by the recorded address), tries
    // both ways out, and says it is still logged in.
    sim.set_fault(Fault::Hang("logout".into())).unwrap();
    let run = a.stop();
    run.expect(1).reason_mentions(&["still logged in"]);
    assert_eq!(sim.sessions().len(), 1);
    sim.clear_faults().unwrap();
    a.stop().expect(0);
    assert!(sim.sessions().is_empty());
    assert_eq!(
        watch.touched(),
        Vec::<std::path::PathBuf>::new(),
        "stop looked a name up"
    );
    // Stopped: a probe says so, still without a resolver.
    a.probe().expect(7);
}

#[test]
fn a_name_that_never_resolves_fails_start_with_the_reason_within_its_time() {
    let ns = names();
    let (_portal, _d, sim, mut a) = agent_for("storage-b.invalid", &ns.good);
    a.var("OCF_RESKEY_CRM_meta_timeout", "10000");
    let run = a.run_within("start", &[], Duration::from_secs(30));
    assert!(
        run.elapsed < Duration::from_secs(10),
        "start took {:?}",
        run.elapsed
    );
    run.expect(1)
        .reason_mentions(&["storage-b.invalid", "does not resolve"]);
    assert!(sim.sessions().is_empty());
    // Only a read of the record (an exact match, no lookup) ever names it to iscsiadm.
    for i in sim.invocations() {
        if i.argv.iter().any(|x| x.contains("storage-b.invalid")) {
            assert!(
                i.argv.ends_with(&["-o".to_string(), "show".to_string()]),
                "{:?}",
                i.argv
            );
        }
    }
    // Pacemaker stops a failed start: that is clean, and the probe says not running.
    a.stop().expect(0);
    a.probe().expect(7);
}
