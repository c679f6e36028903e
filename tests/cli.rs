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

/// An admin's shell with OCF_ROOT exported (common among cluster admins) runs the
/// subcommand, never the OCF action; Pacemaker names the instance and passes nothing more.
#[test]
fn status_is_the_subcommand_unless_pacemaker_runs_the_action() {
    let help = Command::new(AGENT)
        .args(["status", "--help"])
        .env_clear()
        .env("OCF_ROOT", "/usr/lib/ocf")
        .output()
        .unwrap();
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("--cib-xml") && text.contains("Exit codes"),
        "{text}"
    );
    let bare = Command::new(AGENT)
        .args(["status", "--cib-xml", "/nonexistent/cib.xml"])
        .env_clear()
        .env("OCF_ROOT", "/usr/lib/ocf")
        .env("OCF_RESKEY_portal", "127.0.0.1")
        .output()
        .unwrap();
    assert_eq!(bare.status.code(), Some(66), "{bare:?}");
    // Pacemaker's call: the instance named, no arguments: the OCF action (7, not running).
    let dir = tempfile::tempdir().unwrap();
    let ocf = Command::new(AGENT)
        .arg("status")
        .env_clear()
        .env("OCF_ROOT", "/usr/lib/ocf")
        .env("OCF_RESOURCE_INSTANCE", "mirror")
        .env("HA_RSCTMP", dir.path())
        .env("OCF_RESKEY_portal", "127.0.0.1")
        .env("OCF_RESKEY_target", "iqn.2025-01.lab.home:storage-b")
        .env("OCF_RESKEY_host_root", dir.path())
        .output()
        .unwrap();
    assert_eq!(ocf.status.code(), Some(7), "{ocf:?}");
}

/// Each kind of trouble its own exit code: a usage error, an unreadable input file, the
/// cluster not answering, a verdict.
#[test]
fn exit_codes_are_distinct_and_a_missing_file_is_an_input_error() {
    let run = |args: &[&str]| Command::new(AGENT).args(args).env_clear().output().unwrap();
    assert_eq!(run(&["status", "--no-such-flag"]).status.code(), Some(64));
    assert_eq!(
        run(&["cluster", "--crm-mon-xml", "/nonexistent.xml"])
            .status
            .code(),
        Some(66)
    );
    let dir = tempfile::tempdir().unwrap();
    let cib = cib_with_mirror(
        dir.path(),
        &["peers=storage-a=iqn.2025-01.lab.home:storage-a@127.0.0.9:3260 storage-b=iqn.2025-01.lab.home:storage-b@127.0.0.10:3260".to_string()],
    );
    let cib = cib.to_str().unwrap();
    // A saved crm_mon document that is not there is an input error, not "cluster unknown".
    let missing = run(&[
        "status",
        "--node",
        "storage-a",
        "--cib-xml",
        cib,
        "--crm-mon-xml",
        "/nonexistent.xml",
    ]);
    assert_eq!(missing.status.code(), Some(66), "{missing:?}");
    // A saved CIB without our resource says so, as an input error too.
    let other = run(&[
        "status",
        "--cib-xml",
        &format!(
            "{}/tests/fixtures/crm_mon/two-node-both-online.xml",
            env!("CARGO_MANIFEST_DIR")
        ),
    ]);
    assert_eq!(other.status.code(), Some(66), "{other:?}");
    assert!(String::from_utf8_lossy(&other.stderr).contains("0 ocf:san:iscsi-mirror resource(s)"));
    // The cluster does not answer (here: no Pacemaker tools where crm_mon is said to be):
    // the kernel's view is still shown, and how to read a saved CIB.
    let down = run(&[
        "status",
        "--crm-mon",
        &dir.path().join("crm_mon").display().to_string(),
    ]);
    assert_eq!(down.status.code(), Some(69), "{down:?}");
    let said = String::from_utf8_lossy(&down.stdout) + String::from_utf8_lossy(&down.stderr);
    assert!(
        said.contains("iSCSI sessions in the kernel") && said.contains("--cib-xml"),
        "{said}"
    );
}
