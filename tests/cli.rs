//! The admin subcommands: `cluster` over saved crm_mon documents, `status` over a CIB
//! made by the real pcs and a simulated host.

mod util;

use std::process::Command;
use util::*;

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/crm_mon/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn json(args: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::new(AGENT).args(args).env_clear().output().unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), v)
}

#[test]
fn cluster_json_is_an_interface_for_tools() {
    let (code, v) = json(&[
        "cluster",
        "--json",
        "--crm-mon-xml",
        &fixture("two-node-peer-standby.xml"),
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["known"], true);
    assert_eq!(v["dc"], "storage-a");
    assert_eq!(v["quorate"], true);
    let b = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "storage-b")
        .unwrap();
    for key in [
        "online",
        "standby",
        "maintenance",
        "unclean",
        "pending",
        "shutdown",
    ] {
        assert!(b[key].is_boolean(), "{key} missing: {b}");
    }
    assert_eq!(b["standby"], true);
    assert_eq!(b["online"], true);

    let (code, v) = json(&[
        "cluster",
        "--json",
        "--crm-mon-xml",
        &fixture("live-two-node-own-corosync-dead.xml"),
    ]);
    assert_eq!(code, 1);
    assert_eq!(v["known"], false);
    assert!(v["reason"].as_str().unwrap().contains("CIB"), "{v}");
}

#[test]
fn status_shows_each_peer_its_paths_the_cluster_view_and_the_verdict() {
    let portal = Portal::up("127.0.0.1");
    let (dir, sim) = host_with_target("iqn.2025-01.lab.home:storage-b", &[&portal]);
    let params = vec![
        format!("peers=storage-a=iqn.2025-01.lab.home:storage-a@127.0.0.9:3260 storage-b=iqn.2025-01.lab.home:storage-b@{}", portal.spec()),
        format!("iscsiadm={}", sim.iscsiadm_path().display()),
        format!("host_root={}", sim.root().display()),
    ];
    let cib = cib_with_mirror(dir.path(), &params);
    let mut a = Agent::new(&sim);
    a.param("peers", &params[0]["peers=".len()..])
        .var("OCF_RESKEY_CRM_meta_on_node", "storage-a");
    a.start().expect(0);
    let status = |crm: &str| {
        json(&[
            "status",
            "--json",
            "--node",
            "storage-a",
            "--cib-xml",
            cib.to_str().unwrap(),
            "--crm-mon-xml",
            &fixture(crm),
        ])
    };
    let (code, v) = status("two-node-both-online.xml");
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["verdict"], "healthy");
    assert_eq!(v["legs"][0]["peer"], "storage-b");
    assert_eq!(v["legs"][0]["peer_state"], "online");
    assert_eq!(v["legs"][0]["paths"][0]["kernel_state"], "LOGGED_IN");

    // The peer is offline and its session failed: degraded, as expected, and why.
    let sid = sim.sessions()[0].sid;
    sim.set_session_state(sid, "FAILED").unwrap();
    let (code, v) = status("two-node-peer-offline.xml");
    assert_eq!(code, 190, "{v}");
    assert_eq!(v["legs"][0]["peer_state"], "offline");
    assert!(v["reason"].as_str().unwrap().contains("as expected"), "{v}");
    // Peer online, portal answering, session gone: the monitor would log in again.
    sim.set_session_state(sid, "LOGGED_IN").unwrap();
    drop_session(&sim, sid);
    let (_, v) = status("two-node-both-online.xml");
    // Tools branch on bounded codes; the sentence is beside them.
    assert_eq!(v["legs"][0]["verdict"], "degraded", "{v}");
    assert_eq!(v["legs"][0]["reasons"][0]["code"], "reconnect_due", "{v}");
    assert!(
        v["legs"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("down, reconnect due"),
        "{v}"
    );
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["legs"][0]["paths"][0]["reachable"], true);
    assert!(sim.sessions().is_empty(), "status repairs nothing");
    a.stop().expect(0);
}
