//! `iscsiadm -m discovery -t isns -p SERVER[:PORT]` on the simulated host, as open-iscsi
//! 2.1.8 does it (usr/iscsiadm.c `do_isns`, usr/discovery.c `discovery_isns`, libisns as
//! the client). Without iscsid it is replayed from the real tool (host_names.rs); with a
//! server it follows the sources, as no iSNS server was recorded: the port defaults to
//! 3205, nothing is kept as a discovery record, each portal group of a target registered
//! with the server becomes a node record (node.discovery_type isns) printed as
//! sendtargets prints them, and records the server no longer lists are deleted.

mod common;

use std::net::TcpListener;

use common::*;

const IQN: &str = "iqn.2025-01.lab.home:storage-b";
const OTHER: &str = "iqn.2025-01.lab.home:storage-c";

#[test]
fn an_isns_server_lists_the_portals_of_the_targets_registered_with_it() {
    let target = TcpListener::bind("127.0.0.1:0").unwrap();
    let tport = target.local_addr().unwrap().port();
    let server = TcpListener::bind("127.0.0.2:0").unwrap();
    let sport = server.local_addr().unwrap().port();
    let lab = Lab::new();
    lab.host
        .add_target(IQN, &[&format!("127.0.0.1:{tport}")], 1)
        .unwrap();
    lab.host
        .add_target(OTHER, &[&format!("127.0.0.1:{tport}")], 1)
        .unwrap();
    let server_portal = format!("127.0.0.2:{sport}");
    lab.host.add_isns_server(&server_portal, &[IQN]).unwrap();
    let out = lab.ok(&["-m", "discovery", "-t", "isns", "-p", &server_portal]);
    assert_eq!(
        out,
        format!("127.0.0.1:{tport},1 {IQN}\n"),
        "only what is registered"
    );
    let rec = lab.host.node_record(IQN, &format!("127.0.0.1:{tport}")).unwrap();
    assert_eq!(rec["node.discovery_type"], "isns");
    assert_eq!(rec["node.discovery_address"], "127.0.0.2");
    assert_eq!(rec["node.discovery_port"], sport.to_string());
    assert!(lab.root().join("etc/iscsi/isns").read_dir().unwrap().count() == 1);
    assert!(!lab
        .root()
        .join(format!("etc/iscsi/send_targets/127.0.0.2,{sport}"))
        .exists());
    // The records can be logged in to like any.
    let portal = format!("127.0.0.1:{tport}");
    for op in ["--login", "--logout"] {
        let (out, err, rc) = lab.run(&["-m", "node", "-T", IQN, "-p", &portal, op]);
        assert_eq!(rc, 0, "{op}: {out}{err}");
    }
    // Deregistered: the next discovery deletes its record; then nothing is found.
    lab.host.add_isns_server(&server_portal, &[]).unwrap();
    let (out, err, rc) = lab.run(&["-m", "discovery", "-t", "isns", "-p", &server_portal]);
    assert_eq!(
        (out.as_str(), err.as_str(), rc),
        ("", "iscsiadm: No portals found\n", 21)
    );
}

#[test]
fn the_isns_port_is_3205_unless_given() {
    let server = TcpListener::bind("127.0.0.3:3205").expect("127.0.0.3:3205 free");
    let lab = Lab::new();
    lab.host.add_target(IQN, &["127.0.0.1:3260"], 1).unwrap();
    lab.host.add_isns_server("127.0.0.3:3205", &[IQN]).unwrap();
    assert_eq!(
        lab.ok(&["-m", "discovery", "-t", "isns", "-p", "127.0.0.3"]),
        format!("127.0.0.1:3260,1 {IQN}\n")
    );
    drop(server);
}

#[test]
fn an_isns_server_that_cannot_be_reached_or_named() {
    let lab = Lab::new();
    let closed = dead_portal("127.0.0.1");
    let (out, err, rc) = lab.run(&["-m", "discovery", "-t", "isns", "-p", &closed]);
    assert_eq!(rc, 25);
    assert_eq!(out, "");
    assert_eq!(
        err,
        "iscsiadm: iSNS discovery failed: Internal error\niscsiadm: Could not perform iSNS discovery: iSNS query failed\n"
    );
    let r = iscsi_simhost::resolver::Resolver::files(&lab.dir.0.join("ns"), "").unwrap();
    let (out, rc) = lab.run_merged_with(
        &["-m", "discovery", "-t", "isns", "-p", "storage-b.invalid"],
        |c| r.apply(c),
    );
    assert_eq!(rc, 3);
    assert_eq!(
        out,
        "iscsiadm: Could not perform iSNS discovery: no available memory\n"
    );
}
