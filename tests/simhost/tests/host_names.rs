//! Host names as portals. The node-record side is replayed against the real iscsiadm's
//! recording (tests/fixtures/iscsi/host-recorded/host-names.txt, made on this host by
//! tests/fixtures/iscsi/record-host-names.sh); sessions and discovery by name cannot be
//! recorded without kernel iSCSI, so they are checked against what open-iscsi 2.1.8's
//! source and the kernel's say:
//! - a record keeps the name (`idbm_create_rec`); iscsid resolves it at login
//!   (`iscsi_setup_portal`, usr/initiator_common.c) and a name that does not resolve fails
//!   the login at once with ISCSI_ERR_TRANS (4);
//! - the session's `persistent_address` is the record's address as iscsid was given it
//!   (the name: `ISCSI_PARAM_PERSISTENT_ADDRESS` from `nrec.conn[0].address`), its current
//!   `address` what the socket is connected to (libiscsi `iscsi_conn_get_addr_param`);
//! - udev's by-path link uses `persistent_address` (systemd path_id `handle_scsi_iscsi`);
//! - sendtargets discovery resolves the name (`resolve_address`, then `iscsi_setup_portal`
//!   in usr/discovery.c): one that does not resolve ends with "Could not perform
//!   SendTargets discovery: encountered connection failure" (4); records come from the
//!   target's TargetAddress, so they carry addresses.
//!
//! Each command runs with a private name service (iscsi_simhost::resolver), as recorded.

mod common;

use std::process::Command;

use common::*;
use iscsi_simhost::resolver::Resolver;
use iscsi_simhost::Fault;

const IQN: &str = "iqn.2025-01.lab.home:storage-b";
const HOSTS: &str = "127.0.0.1 localhost\n127.0.0.1 storage-b.lab\n";

fn resolver(lab: &Lab) -> Resolver {
    Resolver::files(&lab.dir.0.join("resolver"), HOSTS).unwrap()
}

/// A simulated host whose target listens on a loopback port (returned, with its listener).
fn lab_with_a_target() -> (std::net::TcpListener, u16, Lab) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let lab = Lab::new();
    lab.host
        .add_target(IQN, &[&format!("127.0.0.1:{port}")], 1)
        .unwrap();
    (listener, port, lab)
}

#[test]
fn node_records_by_name_replay_the_real_iscsiadm() {
    let lab = Lab::new();
    lab.host.set_fault(Fault::IscsidDown).unwrap();
    let r = resolver(&lab);
    let text = fixture("host-recorded", "host-names.txt");
    let all = blocks(&text, false);
    for b in &all {
        let args: Vec<&str> = b.args.iter().map(String::as_str).collect();
        let (out, rc) = lab.run_merged_with(&args, |c: &mut Command| r.apply(c));
        assert_eq!(out, b.output, "`iscsiadm {}`", b.args.join(" "));
        assert_eq!(rc, b.rc, "rc of `iscsiadm {}`", b.args.join(" "));
        // "node.x = v" lines the script grepped from `-o show` after the block: the
        // record named by the block's -p (matching by name resolution for addresses)
        for line in &b.after {
            let (k, v) = line.split_once(" = ").unwrap();
            let p = b.args.iter().position(|a| a == "-p").unwrap();
            let shown = ["storage-b.lab:3260", "storage-b.invalid:3260"]
                .iter()
                .filter_map(|portal| lab.host.node_record(IQN, portal))
                .any(|rec| rec.get(k).map(String::as_str) == Some(v));
            assert!(
                shown,
                "{k} = {v} after `iscsiadm {}` ({})",
                b.args.join(" "),
                b.args[p + 1]
            );
        }
    }
    assert_eq!(all.len(), 18, "blocks replayed");
    // The record is kept under the name, a file (tpgt -1), as `ls` showed.
    let ls = text
        .split("$ ls /etc/iscsi/nodes/")
        .nth(1)
        .and_then(|t| t.lines().nth(1))
        .unwrap();
    assert_eq!(ls, "storage-b.lab,3260");
}

#[test]
fn a_login_by_name_keeps_the_name_as_persistent_address_and_shows_the_address() {
    let (_listener, port, lab) = lab_with_a_target();
    let r = resolver(&lab);
    let run = |args: &[&str]| lab.run_merged_with(args, |c: &mut Command| r.apply(c));
    let portal = format!("storage-b.lab:{port}");
    assert_eq!(run(&["-m", "node", "-o", "new", "-T", IQN, "-p", &portal]).1, 0);
    let (out, rc) = run(&["-m", "node", "-T", IQN, "-p", &portal, "--login"]);
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains(&format!("portal: storage-b.lab,{port}] successful.")),
        "{out}"
    );
    let s = &lab.host.sessions()[0];
    assert_eq!(
        (s.persistent_address.as_str(), s.persistent_port),
        ("storage-b.lab", port)
    );
    assert_eq!((s.address.as_str(), s.port), ("127.0.0.1", port));
    // iscsiadm prints the persistent portal, bracketed as it brackets anything without a dot
    let (out, _) = run(&["-m", "session"]);
    assert_eq!(
        out,
        format!("tcp: [1] storage-b.lab:{port},1 {IQN} (non-flash)\n")
    );
    let (tree, _) = run(&["-m", "session", "-P", "1"]);
    assert!(
        tree.contains(&format!("\tCurrent Portal: 127.0.0.1:{port},1\n")),
        "{tree}"
    );
    assert!(
        tree.contains(&format!("\tPersistent Portal: storage-b.lab:{port},1\n")),
        "{tree}"
    );
    assert!(lab
        .root()
        .join(format!(
            "dev/disk/by-path/ip-storage-b.lab:{port}-iscsi-{IQN}-lun-0"
        ))
        .symlink_metadata()
        .is_ok());
    // A logout by the address finds the session by resolving the name...
    let address = format!("127.0.0.1:{port}");
    let by_address = ["-m", "node", "-T", IQN, "-p", &address, "--logout"];
    let (_, rc) = run(&by_address);
    assert_eq!(rc, 0);
    assert!(lab.host.sessions().is_empty());
    // ...and not when the name does not resolve any more.
    assert_eq!(run(&["-m", "node", "-T", IQN, "-p", &portal, "--login"]).1, 0);
    let broken = Resolver::files(&lab.dir.0.join("broken"), "").unwrap();
    let (out, rc) = lab.run_merged_with(&by_address, |c: &mut Command| broken.apply(c));
    assert_eq!((out.as_str(), rc), ("iscsiadm: No matching sessions found\n", 21));
    // By the name itself, or by session id, no resolver is needed.
    let (_, rc) = lab.run_merged_with(
        &["-m", "node", "-T", IQN, "-p", &portal, "--logout"],
        |c: &mut Command| broken.apply(c),
    );
    assert_eq!(rc, 0);
}

#[test]
fn a_name_that_does_not_resolve_fails_login_and_discovery_with_a_connection_failure() {
    let lab = Lab::new();
    lab.host.add_target(IQN, &["127.0.0.1:3260"], 1).unwrap();
    let r = resolver(&lab);
    let run = |args: &[&str]| lab.run_merged_with(args, |c: &mut Command| r.apply(c));
    let portal = "storage-b.invalid:3260";
    assert_eq!(run(&["-m", "node", "-o", "new", "-T", IQN, "-p", portal]).1, 0);
    let (out, rc) = run(&["-m", "node", "-T", IQN, "-p", portal, "--login"]);
    assert_eq!(rc, 4, "{out}");
    assert_eq!(
        out,
        format!(
            "iscsiadm: Could not login to [iface: default, target: {IQN}, portal: storage-b.invalid,3260].\n\
iscsiadm: initiator reported error (4 - encountered connection failure)\n\
iscsiadm: Could not log into all portals\n\
Logging in to [iface: default, target: {IQN}, portal: storage-b.invalid,3260]\n"
        )
    );
    let (out, rc) = run(&["-m", "discovery", "-t", "st", "-p", portal]);
    assert_eq!(rc, 4, "{out}");
    assert_eq!(
        out,
        "iscsiadm: Cannot resolve host storage-b.invalid. getaddrinfo error: [Name or service not known]\n\
iscsiadm: cannot resolve host name storage-b.invalid\n\
iscsiadm: cannot resolve host name storage-b.invalid\n\
iscsiadm: Could not perform SendTargets discovery: encountered connection failure\n"
    );
}

#[test]
fn discovery_by_name_records_the_addresses_the_target_lists() {
    let (_listener, port, lab) = lab_with_a_target();
    let r = resolver(&lab);
    let (out, rc) = lab.run_merged_with(
        &["-m", "discovery", "-t", "st", "-p", &format!("localhost:{port}")],
        |c: &mut Command| r.apply(c),
    );
    assert_eq!(
        (out.as_str(), rc),
        (format!("127.0.0.1:{port},1 {IQN}\n").as_str(), 0)
    );
    let rec = lab.host.node_record(IQN, &format!("127.0.0.1:{port}")).unwrap();
    assert_eq!(rec["node.discovery_address"], "localhost");
    assert!(lab
        .root()
        .join(format!("etc/iscsi/send_targets/localhost,{port}/st_config"))
        .is_file());
}
