//! discovery_type=isns (issue 10, E): as with ocf:heartbeat:iscsi, the portal names the
//! iSNS server (port 3205 unless given). Start asks it for the target's portal, records
//! that, and logs in there; monitor, reconnects and stop use the recorded portal. The
//! simulated host answers `-m discovery -t isns` from its registry of iSNS servers
//! (tests/simhost/tests/isns.rs says how closely).

mod util;

use std::net::TcpListener;

use util::*;

const IQN_C: &str = "iqn.2025-01.lab.home:storage-c";

/// storage-b's target at a loopback portal, another target beside it, and an iSNS server
/// on 127.0.0.2 that lists `registered`.
fn lab(registered: &[&str]) -> (Portal, TcpListener, tempfile::TempDir, SimHost) {
    let target = Portal::up("127.0.0.1");
    let (dir, sim) = host_with_target(IQN_B, &[&target]);
    sim.add_target(IQN_C, &[&target.spec()], 1).unwrap();
    let server = TcpListener::bind("127.0.0.2:0").unwrap();
    sim.add_isns_server(&server.local_addr().unwrap().to_string(), registered)
        .unwrap();
    (target, server, dir, sim)
}

fn isns_agent(sim: &SimHost, server: &str) -> Agent {
    let mut a = Agent::new(sim);
    a.param("portal", server)
        .param("target", IQN_B)
        .param("discovery_type", "isns");
    a
}

#[test]
fn start_asks_the_isns_server_and_logs_in_where_it_says() {
    let (target, server, _d, sim) = lab(&[IQN_B, IQN_C]);
    let server = server.local_addr().unwrap().to_string();
    let a = isns_agent(&sim, &server);
    a.start().expect(0);
    let s = &sim.sessions()[0];
    assert_eq!(
        (s.persistent_address.as_str(), s.persistent_port),
        ("127.0.0.1", target.port)
    );
    assert!(sim.invocations().iter().any(|i| i
        .argv
        .ends_with(&["-m", "discovery", "-t", "isns", "-p", &server].map(String::from))));
    let st: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.rsctmp().join("iscsi-mirror/mirror.state")).unwrap())
            .unwrap();
    assert_eq!(st["paths"][0]["target_portal"], target.spec());
    // Our record is the discovered one; the other target's was not ours to keep.
    let rec = sim.node_record(IQN_B, &target.spec()).unwrap();
    assert_eq!(rec["node.discovery_type"], "isns");
    assert!(sim.node_record(IQN_C, &target.spec()).is_none());
    a.monitor().expect(0);
    // A lost session comes back at the recorded portal, without asking the server.
    drop_session(&sim, sim.sessions()[0].sid);
    let asked = count_invocations(&sim, "isns");
    a.monitor().expect(0);
    assert_eq!(sim.sessions().len(), 1);
    assert_eq!(count_invocations(&sim, "isns"), asked);
    a.stop().expect(0);
    assert!(sim.sessions().is_empty());
    a.probe().expect(7);
}

#[test]
fn the_isns_port_is_3205_when_the_portal_gives_none() {
    let target = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&target]);
    let _server = TcpListener::bind("127.0.0.3:3205").expect("127.0.0.3:3205 free");
    sim.add_isns_server("127.0.0.3:3205", &[IQN_B]).unwrap();
    let a = isns_agent(&sim, "127.0.0.3");
    a.start().expect(0);
    assert_eq!(sim.sessions().len(), 1);
    a.stop().expect(0);
}

#[test]
fn an_isns_server_that_does_not_list_the_target_or_does_not_answer_fails_start() {
    let (_target, server, _d, sim) = lab(&[IQN_C]);
    let a = isns_agent(&sim, &server.local_addr().unwrap().to_string());
    a.start()
        .expect(1)
        .reason_mentions(&["iSNS discovery at 127.0.0.2", "no portal for the target"]);
    assert!(sim.sessions().is_empty());
    a.stop().expect(0);
    let closed = {
        let l = TcpListener::bind("127.0.0.2:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let a = isns_agent(&sim, &closed);
    a.start().expect(1).reason_mentions(&["iSNS discovery at"]);
    a.stop().expect(0);
}
