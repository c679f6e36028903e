//! Behaviour of the simulated host beyond the recorded runs: portal matching, IPv6, every
//! exit code the agent must handle, faults, state flips, the database on disk, the log,
//! concurrency, and the control surfaces.

mod common;

use std::time::{Duration, Instant};

use common::*;
use iscsi_simhost::{Fault, SimHost};

const IQN: &str = "iqn.2024-01.lab.local:storage-b.disk1";

fn split(portal: &str) -> (String, u16) {
    iscsi_simhost::world::split_portal(portal).unwrap()
}

/// A lab with IQN exported at a live portal on `ip`, and its static node record.
fn lab_with_record(ip: &str, luns: u32) -> (Lab, String) {
    let lab = Lab::new();
    let portal = listen(ip);
    lab.host.add_target(IQN, &[&portal], luns).unwrap();
    lab.ok(&["-m", "node", "-o", "new", "-T", IQN, "-p", &portal]);
    (lab, portal)
}

/// `iscsiadm -m node -T IQN -p PORTAL -o update -n KEY -v VALUE`.
fn try_update(lab: &Lab, portal: &str, key: &str, value: &str) -> (String, String, i32) {
    lab.run(&[
        "-m", "node", "-T", IQN, "-p", portal, "-o", "update", "-n", key, "-v", value,
    ])
}

fn update(lab: &Lab, portal: &str, key: &str, value: &str) {
    let (_, err, rc) = try_update(lab, portal, key, value);
    assert_eq!(rc, 0, "update {key}={value}: {err}");
}

fn login(lab: &Lab, portal: &str) -> (String, String, i32) {
    lab.run(&["-m", "node", "-T", IQN, "-p", portal, "--login"])
}

#[test]
fn login_creates_kernel_and_udev_state_and_logout_removes_it() {
    let (lab, portal) = lab_with_record("127.0.0.1", 2);
    let (addr, port) = split(&portal);
    let (out, err, rc) = login(&lab, &portal);
    assert_eq!(rc, 0, "{err}");
    assert_eq!(
        out,
        format!(
            "Logging in to [iface: default, target: {IQN}, portal: {addr},{port}]\n\
             Login to [iface: default, target: {IQN}, portal: {addr},{port}] successful.\n"
        )
    );
    let s = &lab.host.sessions()[0];
    assert_eq!((s.sid, s.host, s.state.as_str()), (1, 2, "LOGGED_IN"));
    assert_eq!(s.portal, portal);
    assert_eq!((s.recovery_tmo, s.recv_tmo, s.ping_tmo), (120, 5, 5));
    let disks: Vec<_> = s.devices.iter().map(|d| d.disk.clone().unwrap()).collect();
    assert_eq!(disks, vec!["sda", "sdb"]);
    let bp = lab.root().join("dev/disk/by-path");
    for (lun, disk) in [(0, "sda"), (1, "sdb")] {
        let l = bp.join(format!("ip-{addr}:{port}-iscsi-{IQN}-lun-{lun}"));
        assert_eq!(
            std::fs::read_link(&l).unwrap().to_string_lossy(),
            format!("../../{disk}")
        );
        assert!(lab.root().join("dev").join(disk).is_file());
        assert!(std::fs::metadata(&l).is_ok(), "link resolves");
    }
    let (out, _, rc) = lab.run(&["-m", "node", "-T", IQN, "-p", &portal, "--logout"]);
    assert_eq!(rc, 0);
    assert_eq!(
        out,
        format!(
            "Logging out of session [sid: 1, target: {IQN}, portal: {addr},{port}]\n\
             Logout of [sid: 1, target: {IQN}, portal: {addr},{port}] successful.\n"
        )
    );
    assert!(lab.host.sessions().is_empty());
    assert_eq!(std::fs::read_dir(&bp).unwrap().count(), 0);
    assert!(!lab.root().join("dev/sda").exists());
    assert!(!lab.root().join("sys/class/iscsi_session/session1").exists());
    assert!(!lab.root().join("sys/devices/platform/host2").exists());
    // the next session: a new sid, the freed host number and disk names again
    login(&lab, &portal);
    let s = &lab.host.sessions()[0];
    assert_eq!((s.sid, s.host), (2, 2));
    assert_eq!(s.devices[0].disk.as_deref(), Some("sda"));
}

/// The entries of /sys/class/<class> in the sim root, sorted.
fn class_entries(lab: &Lab, class: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(lab.root().join("sys/class").join(class))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Logs out of IQN at `portal` and checks that no SCSI class link is left behind.
fn logout_leaves_no_scsi_class_links(lab: &Lab, portal: &str) {
    let (_, err, rc) = lab.run(&["-m", "node", "-T", IQN, "-p", portal, "--logout"]);
    assert_eq!(rc, 0, "{err}");
    for class in ["block", "bsg", "scsi_device", "scsi_disk", "scsi_generic"] {
        assert!(class_entries(lab, class).is_empty(), "{class} after logout");
    }
}

#[test]
fn scsi_class_links_come_with_the_disks_and_go_at_logout() {
    let (lab, portal) = lab_with_record("127.0.0.1", 2);
    assert_eq!(login(&lab, &portal).2, 0);
    let want = [
        ("block", vec!["sda", "sdb"]),
        ("bsg", vec!["2:0:0:0", "2:0:0:1"]),
        ("scsi_device", vec!["2:0:0:0", "2:0:0:1"]),
        ("scsi_disk", vec!["2:0:0:0", "2:0:0:1"]),
        ("scsi_generic", vec!["sg1", "sg2"]),
    ];
    for (class, names) in &want {
        assert_eq!(class_entries(&lab, class), *names, "{class}");
        for n in names {
            assert!(
                std::fs::metadata(lab.root().join("sys/class").join(class).join(n)).is_ok(),
                "/sys/class/{class}/{n} resolves"
            );
        }
    }
    let rd = |p: &str| std::fs::read_to_string(lab.root().join(p)).unwrap();
    assert_eq!(rd("sys/class/block/sdb/dev"), "8:16\n");
    assert_eq!(rd("sys/class/scsi_generic/sg2/dev"), "21:2\n");
    logout_leaves_no_scsi_class_links(&lab, &portal);
}

#[test]
fn tgt_targets_report_iet_and_a_controller_at_lun_0() {
    let lab = Lab::new();
    let portal = listen("127.0.0.1");
    lab.host
        .put_target(iscsi_simhost::Target::tgt(IQN, &[&portal], 1))
        .unwrap();
    lab.ok(&["-m", "node", "-o", "new", "-T", IQN, "-p", &portal]);
    assert_eq!(login(&lab, &portal).2, 0);
    let t = lab.root().join("sys/devices/platform/host2/session1/target2:0:0");
    let rd = |p: &str| std::fs::read_to_string(t.join(p)).unwrap();
    // lsscsi on a tgt initiator: "IET      Controller       0001" / "IET      VIRTUAL-DISK"
    assert_eq!(rd("2:0:0:0/vendor"), "IET     \n");
    assert_eq!(rd("2:0:0:0/model"), "Controller      \n");
    assert_eq!(rd("2:0:0:1/vendor"), "IET     \n");
    assert_eq!(rd("2:0:0:1/model"), "VIRTUAL-DISK    \n");
    // the controller has an sg but no sd
    assert!(!t.join("2:0:0:0/block").exists() && !t.join("2:0:0:0/scsi_disk").exists());
    assert_eq!(class_entries(&lab, "scsi_generic"), ["sg1", "sg2"]);
    assert_eq!(class_entries(&lab, "scsi_disk"), ["2:0:0:1"]);
    assert_eq!(rd("2:0:0:1/block/sda/dev"), "8:0\n");
    logout_leaves_no_scsi_class_links(&lab, &portal);
}

#[test]
fn portal_matching_is_exact() {
    let lab = Lab::new();
    let one = listen("127.0.0.1");
    let (_, port) = split(&one);
    // the same port on 127.0.0.10, a different address with a common prefix
    let ten = common::portal_of(
        common::listen_on(format!("127.0.0.10:{port}").parse().unwrap()).expect("bind 127.0.0.10"),
    );
    lab.host.add_target(IQN, &[&one, &ten], 1).unwrap();
    lab.ok(&["-m", "node", "-o", "new", "-T", IQN, "-p", &one]);
    lab.ok(&["-m", "node", "-o", "new", "-T", IQN, "-p", &ten]);
    assert_eq!(login(&lab, &one).2, 0);
    assert_eq!(lab.host.sessions().len(), 1);
    // a login to .10 is not "already present" because of the session to .1
    assert_eq!(login(&lab, &ten).2, 0);
    assert_eq!(lab.host.sessions().len(), 2);
    assert_eq!(login(&lab, &one).2, 15);
    // logging out of .1 leaves .10 alone
    lab.ok(&["-m", "node", "-T", IQN, "-p", &one, "-u"]);
    let left = lab.host.sessions();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].portal, ten);
    // a record for 127.0.0.1 is not shown for 127.0.0.10 and vice versa
    let show = lab.ok(&["-m", "node", "-T", IQN, "-p", &ten, "-o", "show"]);
    assert_eq!(show.matches("# BEGIN RECORD").count(), 1);
    assert!(show.contains("node.conn[0].address = 127.0.0.10\n"));
    // no record at an unknown portal
    let (_, err, rc) = lab.run(&["-m", "node", "-T", IQN, "-p", "127.0.0.11:3260", "--login"]);
    assert_eq!((err.as_str(), rc), ("iscsiadm: No records found\n", 21));
}

#[test]
fn ipv6_portals_use_the_real_naming() {
    let Ok(a) = common::listen_on("[::1]:0".parse().unwrap()) else {
        eprintln!("no IPv6 loopback here: skipped");
        return;
    };
    let portal = common::portal_of(a);
    let port = a.port();
    let lab = Lab::new();
    lab.host.add_target(IQN, &[&portal], 1).unwrap();
    let out = lab.ok(&["-m", "discovery", "-t", "st", "-p", &portal]);
    assert_eq!(out, format!("[::1]:{port},1 {IQN}\n"));
    // record folder named with the raw address (usr/idbm.c "%s,%d,%d")
    assert!(lab
        .root()
        .join(format!("etc/iscsi/nodes/{IQN}/::1,{port},1/default"))
        .is_file());
    assert_eq!(lab.ok(&["-m", "node"]), format!("[::1]:{port},1 {IQN}\n"));
    let (out, err, rc) = login(&lab, &portal);
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains(&format!("portal: ::1,{port}] successful.")));
    assert_eq!(
        lab.ok(&["-m", "session"]),
        format!("tcp: [1] [::1]:{port},1 {IQN} (non-flash)\n")
    );
    // The current address and the host's ipaddress are the kernel's (libiscsi prints
    // them with %pI6: eight groups, uncompressed); the persistent one is the record's.
    let p1 = lab.ok(&["-m", "session", "-P", "1"]);
    let full = "0000:0000:0000:0000:0000:0000:0000:0001";
    assert!(
        p1.contains(&format!("\tCurrent Portal: [{full}]:{port},1\n")),
        "{p1}"
    );
    assert!(
        p1.contains(&format!("\tPersistent Portal: [::1]:{port},1\n")),
        "{p1}"
    );
    assert!(p1.contains(&format!("\t\tIface IPaddress: [{full}]\n")), "{p1}");
    // udev path_id uses persistent_address raw: no brackets
    let link = lab
        .root()
        .join(format!("dev/disk/by-path/ip-::1:{port}-iscsi-{IQN}-lun-0"));
    assert!(std::fs::read_link(link).is_ok());
    assert_eq!(lab.host.sessions()[0].persistent_address, "::1");
    // another spelling of the same address matches (iscsi_addr_match)
    let (_, _, rc) = lab.run(&["-m", "node", "-T", IQN, "-p", &format!("[0:0::1]:{port}"), "-u"]);
    assert_eq!(rc, 0);
}

#[test]
fn session_exists_is_15_even_for_a_failed_session() {
    let (lab, portal) = lab_with_record("127.0.0.1", 1);
    assert_eq!(login(&lab, &portal).2, 0);
    lab.host.set_session_state(1, "FAILED").unwrap();
    let (out, err, rc) = login(&lab, &portal);
    assert_eq!(rc, 15);
    assert_eq!(out, "");
    assert_eq!(
        err,
        "iscsiadm: default: 1 session requested, but 1 already present.\n\
         iscsiadm: Could not log into all portals\n"
    );
}

#[test]
fn unreachable_portal_fails_with_8_after_the_delay() {
    let lab = Lab::new();
    let dead = dead_portal("127.0.0.1");
    let (addr, port) = split(&dead);
    lab.host.add_target(IQN, &[&dead], 1).unwrap();
    lab.host.set_unreachable_delay_ms(300).unwrap();
    lab.ok(&["-m", "node", "-o", "new", "-T", IQN, "-p", &dead]);
    let t = Instant::now();
    let (out, rc) = lab.run_merged(&["-m", "node", "-T", IQN, "-p", &dead, "--login"]);
    let took = t.elapsed();
    assert_eq!(rc, 8);
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(
        out,
        format!(
            "iscsiadm: Could not login to [iface: default, target: {IQN}, portal: {addr},{port}].\n\
             iscsiadm: initiator reported error (8 - connection timed out)\n\
             iscsiadm: Could not log into all portals\n\
             Logging in to [iface: default, target: {IQN}, portal: {addr},{port}]\n"
        )
    );
    assert!(lab.host.sessions().is_empty());
}

#[test]
fn discovery_of_a_dead_portal_fails_like_open_iscsi() {
    let lab = Lab::new();
    let dead = dead_portal("127.0.0.1");
    let (addr, _) = split(&dead);
    let (out, err, rc) = lab.run(&["-m", "discovery", "-t", "sendtargets", "-p", &dead]);
    assert_eq!(rc, 11);
    assert_eq!(out, "");
    let refused = format!("iscsiadm: cannot make connection to {addr}: Connection refused\n");
    assert_eq!(
        err,
        format!(
            "{}iscsiadm: connection login retries (reopen_max) 5 exceeded\n\
             iscsiadm: Could not perform SendTargets discovery: iSCSI PDU timed out\n",
            refused.repeat(6)
        )
    );
    assert_eq!(
        lab.run(&["-m", "node"]).2,
        21,
        "no records from a failed discovery"
    );
}

#[test]
fn target_not_at_reachable_portal_is_19() {
    let lab = Lab::new();
    let live = listen("127.0.0.1");
    let other = listen("127.0.0.1");
    lab.host.add_target(IQN, &[&other], 1).unwrap();
    lab.ok(&["-m", "node", "-o", "new", "-T", IQN, "-p", &live]);
    let (_, err, rc) = login(&lab, &live);
    assert_eq!(rc, 19);
    assert!(err.contains(
        "iscsiadm: initiator reported error (19 - encountered non-retryable iSCSI login failure)\n"
    ));
    // and a reachable portal with no target at all: discovery finds nothing
    let (_, err, rc) = lab.run(&["-m", "discovery", "-t", "st", "-p", &live]);
    assert_eq!((err.as_str(), rc), ("iscsiadm: No portals found\n", 21));
}

#[test]
fn faults_auth_refused_and_chap() {
    let (lab, portal) = lab_with_record("127.0.0.1", 1);
    lab.host.set_fault(Fault::AuthFail(IQN.into())).unwrap();
    let (_, err, rc) = login(&lab, &portal);
    assert_eq!(rc, 24);
    assert!(err.contains("(24 - iSCSI login failed due to authorization failure)"));
    lab.host.clear_faults().unwrap();
    lab.host.set_fault(Fault::LoginRefused(IQN.into())).unwrap();
    assert_eq!(login(&lab, &portal).2, 19);
    lab.host.clear_faults().unwrap();
    // CHAP required: a record without the right credentials is refused
    lab.host.set_chap(IQN, "initiator-a", "s3cret-pass").unwrap();
    assert_eq!(login(&lab, &portal).2, 24);
    for (k, v) in [
        ("node.session.auth.authmethod", "CHAP"),
        ("node.session.auth.username", "initiator-a"),
        ("node.session.auth.password", "s3cret-pass"),
    ] {
        update(&lab, &portal, k, v);
    }
    let show = lab.ok(&["-m", "node", "-T", IQN, "-p", &portal, "-o", "show"]);
    assert!(show.contains("node.session.auth.password = ********\n"));
    assert!(!show.contains("s3cret-pass"));
    let shown = lab.ok(&["-m", "node", "-T", IQN, "-p", &portal, "-o", "show", "-S"]);
    assert!(shown.contains("node.session.auth.password = s3cret-pass\n"));
    assert_eq!(login(&lab, &portal).2, 0);
    let p2 = lab.ok(&["-m", "session", "-P", "2"]);
    assert!(p2.contains("\t\tusername: initiator-a\n\t\tpassword: ********\n"));
    assert!(!p2.contains("s3cret-pass"));
}

#[test]
fn iscsid_down() {
    let (lab, portal) = lab_with_record("127.0.0.1", 1);
    let (addr, port) = split(&portal);
    lab.host.set_fault(Fault::IscsidDown).unwrap();
    // as recorded in host-probe.txt
    let (out, rc) = lab.run_merged(&["-m", "node", "-T", IQN, "-p", &portal, "--login"]);
    assert_eq!(rc, 20);
    assert_eq!(
        out,
        format!(
            "iscsiadm: can not connect to iSCSI daemon (111)!\n\
             iscsiadm: Could not login to [iface: default, target: {IQN}, portal: {addr},{port}].\n\
             iscsiadm: initiator reported error (20 - could not connect to iscsid)\n\
             iscsiadm: Could not log into all portals\n\
             Logging in to [iface: default, target: {IQN}, portal: {addr},{port}]\n"
        )
    );
    // discovery on a kernel with iscsi_tcp: the initiator name comes from iscsid
    // (usr/discovery.c request_initiator_name)
    let (out, err, rc) = lab.run(&["-m", "discovery", "-t", "st", "-p", &portal]);
    assert_eq!(rc, 20);
    assert_eq!(out, "");
    assert_eq!(
        err,
        "iscsiadm: can not connect to iSCSI daemon (111)!\n\
         iscsiadm: can not connect to iSCSI daemon (111)!\n\
         iscsiadm: Cannot perform discovery. Initiatorname required.\n\
         iscsiadm: Could not perform SendTargets discovery: could not connect to iscsid\n"
    );
    // a session made while iscsid ran: -P 1 cannot ask iscsid for its view
    lab.host.clear_faults().unwrap();
    assert_eq!(login(&lab, &portal).2, 0);
    lab.host.set_fault(Fault::IscsidDown).unwrap();
    let (out, err, rc) = lab.run(&["-m", "session", "-P", "1"]);
    assert_eq!(rc, 0);
    assert_eq!(err, "iscsiadm: can not connect to iSCSI daemon (111)!\n");
    assert!(out.contains(
        "\t\tiSCSI Connection State: Unknown\n\t\tiSCSI Session State: LOGGED_IN\n\t\tInternal iscsid Session State: Unknown\n"
    ));
    // logout cannot be requested: iscsi_logout_portals then reports 21 (sic)
    let (out, err, rc) = lab.run(&["-m", "node", "-T", IQN, "-p", &portal, "-u"]);
    assert_eq!(rc, 21);
    assert!(out.starts_with("Logging out of session [sid: 1,"));
    assert!(err.ends_with(
        "iscsiadm: initiator reported error (20 - could not connect to iscsid)\niscsiadm: No matching sessions found\n"
    ));
    assert_eq!(lab.host.sessions().len(), 1);
}

#[test]
fn hang_fault_blocks_until_killed() {
    let (lab, portal) = lab_with_record("127.0.0.1", 1);
    lab.host.set_fault(Fault::Hang("login".into())).unwrap();
    // other operations are not affected
    assert_eq!(lab.run(&["-m", "session"]).2, 21);
    let mut child = lab.spawn(&["-m", "node", "-T", IQN, "-p", &portal, "--login"]);
    let t = Instant::now();
    while lab
        .host
        .invocations()
        .iter()
        .all(|i| i.rc.is_some() || !i.argv.contains(&"--login".to_string()))
    {
        assert!(t.elapsed() < Duration::from_secs(5), "hung login never logged");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert!(child.try_wait().unwrap().is_none(), "still hanging");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(lab.host.sessions().is_empty());
    let inv = lab.host.invocations();
    let last = inv.last().unwrap();
    assert_eq!(last.rc, None);
    assert!(last.argv.contains(&"--login".to_string()));
    // "any" hangs everything, even a listing
    lab.host.clear_faults().unwrap();
    lab.host.set_fault(Fault::Hang("any".into())).unwrap();
    let mut child = lab.spawn(&["-m", "session"]);
    std::thread::sleep(Duration::from_millis(150));
    assert!(child.try_wait().unwrap().is_none());
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(lab.host.set_fault(Fault::Hang("bogus".into())).is_err());
}

#[test]
fn state_flips_show_in_iscsiadm_and_sessions() {
    let (lab, portal) = lab_with_record("127.0.0.1", 1);
    login(&lab, &portal);
    for (state, conn, internal, dev) in [
        ("FAILED", "TRANSPORT WAIT", "REOPEN", "blocked"),
        ("FREE", "TRANSPORT WAIT", "REOPEN", "transport-offline"),
        ("LOGGED_IN", "LOGGED IN", "NO CHANGE", "running"),
    ] {
        lab.host.set_session_state(1, state).unwrap();
        let s = &lab.host.sessions()[0];
        assert_eq!(s.state, state);
        assert_eq!(s.devices[0].state, dev);
        let p3 = lab.ok(&["-m", "session", "-P", "3"]);
        assert!(p3.contains(&format!(
            "\t\tiSCSI Connection State: {conn}\n\t\tiSCSI Session State: {state}\n\t\tInternal iscsid Session State: {internal}\n"
        )));
        assert!(p3.contains(&format!("\t\t\tAttached scsi disk sda\t\tState: {dev}\n")));
        // still listed, rc 0, whatever the state (recorded)
        assert!(lab.ok(&["-m", "session"]).starts_with("tcp: [1] "));
    }
    assert!(lab.host.set_session_state(1, "BROKEN").is_err());
    assert!(lab.host.set_session_state(7, "FAILED").is_err());
}

#[test]
fn live_recovery_tmo_and_record_updates() {
    let (lab, portal) = lab_with_record("127.0.0.1", 1);
    for (k, v) in [
        ("node.session.timeo.replacement_timeout", "5"),
        ("node.conn[0].timeo.noop_out_interval", "2"),
        ("node.conn[0].timeo.noop_out_timeout", "2"),
        ("node.conn[0].timeo.login_timeout", "10"),
    ] {
        update(&lab, &portal, k, v);
    }
    login(&lab, &portal);
    let s = &lab.host.sessions()[0];
    assert_eq!((s.recovery_tmo, s.recv_tmo, s.ping_tmo), (5, 2, 2));
    // recovery_tmo is writable on a live session; a record update does not touch it
    std::fs::write(
        lab.root().join("sys/class/iscsi_session/session1/recovery_tmo"),
        "17\n",
    )
    .unwrap();
    update(&lab, &portal, "node.session.timeo.replacement_timeout", "25");
    assert_eq!(lab.host.sessions()[0].recovery_tmo, 17);
    assert!(lab
        .ok(&["-m", "session", "-P", "2"])
        .contains("\t\tRecovery Timeout: 17\n"));
    let rec = lab.host.node_record(IQN, &portal).unwrap();
    assert_eq!(rec["node.session.timeo.replacement_timeout"], "25");
    assert_eq!(rec["node.conn[0].timeo.login_timeout"], "10");
    // errors of -o update, as usr/idbm.c prints them
    let (_, err, rc) = try_update(&lab, &portal, "node.bogus", "1");
    assert_eq!(rc, 7);
    assert_eq!(
        err,
        "iscsiadm: Cannot modify node.bogus. Invalid param name.\n\
         iscsiadm: Could not execute operation on all records: invalid parameter\n"
    );
    let (_, err, rc) = try_update(&lab, &portal, "iface.ipaddress", "1");
    assert_eq!(
        (err.as_str(), rc),
        (
            "iscsiadm: Cannot modify iface.ipaddress. Use iface mode to update this value.\n",
            7
        )
    );
    let (_, err, rc) = try_update(&lab, &portal, "node.startup", "never");
    assert_eq!(rc, 7);
    assert!(err.starts_with("iscsiadm: unknown value format 'never' for parameter name 'node.startup'\n"));
    let (_, err, rc) = lab.run(&["-m", "node", "-T", IQN, "-p", &portal, "-o", "update"]);
    assert_eq!(
        (err.as_str(), rc),
        ("iscsiadm: update requires name and value\n", 7)
    );
    // a record in use cannot be deleted
    let (_, err, rc) = lab.run(&["-m", "node", "-T", IQN, "-p", &portal, "-o", "delete"]);
    assert_eq!(rc, 15);
    assert!(err.contains("but a session is using it. Logout session then rerun command to remove record.\n"));
    lab.ok(&["-m", "session", "-r", "1", "-u"]);
    lab.ok(&["-m", "node", "-T", IQN, "-p", &portal, "-o", "delete"]);
    assert!(lab.host.node_record(IQN, &portal).is_none());
    assert!(!lab.root().join("etc/iscsi/nodes").join(IQN).exists());
}

#[test]
fn new_overwrites_and_discovery_resets_records() {
    let lab = Lab::new();
    let portal = listen("127.0.0.1");
    lab.host.add_target(IQN, &[&portal], 1).unwrap();
    // iscsid running: -o new applies iscsid.conf (Debian's: login_timeout 15, retry 8)
    lab.ok(&["-m", "node", "-o", "new", "-T", IQN, "-p", &portal]);
    let rec = lab.host.node_record(IQN, &portal).unwrap();
    assert_eq!(rec["node.conn[0].timeo.login_timeout"], "15");
    assert_eq!(rec["node.session.initial_login_retry_max"], "8");
    assert_eq!(rec["node.tpgt"], "-1");
    update(&lab, &portal, "node.conn[0].timeo.noop_out_interval", "2");
    lab.ok(&["-m", "node", "-o", "new", "-T", IQN, "-p", &portal]);
    assert_eq!(
        lab.host.node_record(IQN, &portal).unwrap()["node.conn[0].timeo.noop_out_interval"],
        "5"
    );
    // sendtargets discovery writes the tpgt-1 record and rewrites it on every run
    lab.ok(&["-m", "node", "-T", IQN, "-p", &portal, "-o", "delete"]);
    lab.ok(&["-m", "discoverydb", "-t", "st", "-p", &portal, "-D"]);
    update(&lab, &portal, "node.conn[0].timeo.noop_out_interval", "2");
    lab.ok(&["-m", "discovery", "-t", "st", "-p", &portal]);
    let rec = lab.host.node_record(IQN, &portal).unwrap();
    assert_eq!(rec["node.conn[0].timeo.noop_out_interval"], "5");
    assert_eq!(rec["node.discovery_type"], "send_targets");
    let (addr, port) = split(&portal);
    assert_eq!(
        lab.ok(&["-m", "discoverydb"]),
        format!("{addr}:{port} via sendtargets\n")
    );
    // a target that disappeared from the portal loses its discovered record
    lab.host.remove_target(IQN).unwrap();
    lab.host
        .add_target("iqn.2024-01.lab.local:other", &[&portal], 1)
        .unwrap();
    lab.ok(&["-m", "discovery", "-t", "st", "-p", &portal]);
    assert!(lab.host.node_record(IQN, &portal).is_none());
    assert!(lab
        .host
        .node_record("iqn.2024-01.lab.local:other", &portal)
        .is_some());
}

#[test]
fn multipath_target_and_login_without_portal() {
    let lab = Lab::new();
    let a = listen("127.0.0.1");
    let b = listen("127.0.0.2");
    lab.host.add_target(IQN, &[&a, &b], 1).unwrap();
    // sendtargets returns every portal of the group
    let out = lab.ok(&["-m", "discovery", "-t", "st", "-p", &a]);
    assert_eq!(out, format!("{a},1 {IQN}\n{b},1 {IQN}\n"));
    // -T without -p logs in to all of the target's portals
    let out = lab.ok(&["-m", "node", "-T", IQN, "--login"]);
    assert_eq!(out.matches("Logging in to").count(), 2);
    assert_eq!(out.matches("successful.").count(), 2);
    let ses = lab.host.sessions();
    assert_eq!(ses.len(), 2);
    assert_eq!((ses[0].host, ses[1].host), (2, 3));
    assert_eq!(ses[1].devices[0].disk.as_deref(), Some("sdb"));
    // -P 1 groups both sessions under one Target line
    let p1 = lab.ok(&["-m", "session", "-P", "1"]);
    assert_eq!(p1.matches("Target: ").count(), 1);
    assert_eq!(p1.matches("Current Portal: ").count(), 2);
    // one path down, the other up
    lab.host.set_session_state(1, "FAILED").unwrap();
    let st: Vec<String> = lab.host.sessions().iter().map(|s| s.state.clone()).collect();
    assert_eq!(st, vec!["FAILED", "LOGGED_IN"]);
    // -m session -u logs out of everything
    let out = lab.ok(&["-m", "session", "-u"]);
    assert_eq!(out.matches("successful.").count(), 2);
    assert!(lab.host.sessions().is_empty());
}

#[test]
fn concurrent_logins_do_not_collide() {
    let lab = Lab::new();
    let mut portals = Vec::new();
    for i in 0..6 {
        let p = listen("127.0.0.1");
        let iqn = format!("iqn.2024-01.lab.local:par.disk{i}");
        lab.host.add_target(&iqn, &[&p], 1).unwrap();
        lab.ok(&["-m", "node", "-o", "new", "-T", &iqn, "-p", &p]);
        portals.push((iqn, p));
    }
    let children: Vec<_> = portals
        .iter()
        .map(|(iqn, p)| lab.spawn(&["-m", "node", "-T", iqn, "-p", p, "--login"]))
        .collect();
    for c in children {
        assert!(c.wait_with_output().unwrap().status.success());
    }
    let ses = lab.host.sessions();
    assert_eq!(ses.len(), 6);
    let mut sids: Vec<u32> = ses.iter().map(|s| s.sid).collect();
    let mut hosts: Vec<u32> = ses.iter().map(|s| s.host).collect();
    let mut disks: Vec<String> = ses.iter().map(|s| s.devices[0].disk.clone().unwrap()).collect();
    sids.sort();
    hosts.sort();
    disks.sort();
    assert_eq!(sids, vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(hosts, vec![2, 3, 4, 5, 6, 7]);
    assert_eq!(disks, vec!["sda", "sdb", "sdc", "sdd", "sde", "sdf"]);
    assert_eq!(
        lab.host.invocations().iter().filter(|i| i.rc == Some(0)).count(),
        12
    );
}

#[test]
fn invocation_log_records_argv_and_rc() {
    let (lab, portal) = lab_with_record("127.0.0.1", 1);
    // "discovery only when no record": the log shows what ran
    let have = lab.run(&["-m", "node", "-T", IQN, "-p", &portal, "-o", "show"]).2 == 0;
    if !have {
        lab.ok(&["-m", "discovery", "-t", "st", "-p", &portal]);
    }
    login(&lab, &portal);
    login(&lab, &portal);
    let inv = lab.host.invocations();
    let argv0 = lab.host.iscsiadm_path().to_string_lossy().into_owned();
    assert!(inv.iter().all(|i| i.argv[0] == argv0));
    assert!(!inv.iter().any(|i| i.argv.contains(&"discovery".to_string())));
    let rcs: Vec<Option<i32>> = inv.iter().map(|i| i.rc).collect();
    assert_eq!(rcs, vec![Some(0), Some(0), Some(0), Some(15)]);
    assert!(inv.windows(2).all(|w| w[0].ts <= w[1].ts));
}

#[test]
fn invalid_invocations_are_7_never_a_panic() {
    let lab = Lab::new();
    for (args, want) in [
        (vec!["-m", "bogus"], "iscsiadm: mode -1 is not yet supported\n".to_string()),
        (vec!["-m", "node", "-o", "frob"], "iscsiadm: can not recognize operation: 'frob'\n".into()),
        (vec!["-m", "session", "-T", "x"], "iscsiadm: session mode: option '-T' is not allowed/supported\n".into()),
        (
            vec!["-m", "node", "--frob"],
            format!(
                "{0}: unrecognized option '--frob'\niscsiadm: node mode: option '-?' is not allowed/supported\n",
                lab.host.iscsiadm_path().display()
            ),
        ),
        (vec!["-m", "node", "-l", "-u", "-T", "x"], "iscsiadm: Invalid parameters. Both login and logout passed in\n".into()),
        (vec!["-m", "node", "-P", "7"], "iscsiadm: Invalid info level 7. Try 0 or 1.\n".into()),
        (vec!["-m", "discovery", "-t", "st"], "iscsiadm: Please specify portal as <ipaddr>[:<ipport>]\n".into()),
        (vec![], "Try `iscsiadm --help' for more information.\n".into()),
        (vec!["-m", "iface"], "iscsiadm: this mode is not simulated by the simulated host\n".into()),
    ] {
        let (out, err, rc) = lab.run(&args);
        assert_eq!((err.as_str(), rc), (want.as_str(), 7), "{args:?} {out}");
    }
    let (_, err, rc) = lab.run(&["-m", "session", "-r", "abc"]);
    assert_eq!(
        (err.as_str(), rc),
        ("iscsiadm: abc is an invalid session ID or path\n", 1)
    );
    let (out, _, rc) = lab.run(&["-h"]);
    assert_eq!(rc, 0);
    assert!(out.starts_with("iscsiadm -m discoverydb [-hV]"));
    assert_eq!(
        lab.run(&["-V"]),
        ("iscsiadm version 2.1.8\n".into(), String::new(), 0)
    );
    // a broken sim.json is reported, not a panic
    std::fs::write(lab.root().join("sim.json"), "{").unwrap();
    let (_, err, rc) = lab.run(&["-m", "session"]);
    assert_eq!(rc, 1);
    assert!(err.starts_with("iscsiadm (simulated host): "));
    assert!(!err.contains("panicked"));
}

#[test]
fn the_sim_root_is_found_from_argv0_env_or_path() {
    let lab = Lab::new();
    lab.host.add_target(IQN, &[&listen("127.0.0.1")], 1).unwrap();
    // relative argv[0] with a '/': parent of parent, the symlink is not resolved
    let o = command_at(std::path::Path::new("bin/iscsiadm"))
        .current_dir(lab.root())
        .args(["-m", "session"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "iscsiadm: No active sessions.\n"
    );
    // bare name: ISCSI_SIM_ROOT, else PATH
    let o = command_at(std::path::Path::new("iscsiadm"))
        .env("PATH", lab.root().join("bin"))
        .args(["-m", "session"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(21),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let elsewhere = TempDir::new();
    std::os::unix::fs::symlink(BIN, elsewhere.0.join("iscsiadm")).unwrap();
    let o = command_at(&elsewhere.0.join("iscsiadm"))
        .env("ISCSI_SIM_ROOT", lab.root())
        .args(["-m", "session"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(21));
    let o = command_at(&elsewhere.0.join("iscsiadm"))
        .args(["-m", "session"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no sim root"));
}

#[test]
fn control_cli_mirrors_the_library() {
    let dir = TempDir::new();
    let root = dir.0.join("sim");
    let root_s = root.to_string_lossy().into_owned();
    let ctl = |args: &[&str]| control(&root_s, args);
    ctl(&["init", "--binary", BIN]);
    let portal = listen("127.0.0.1");
    ctl(&["add-target", IQN, &portal, "--luns", "2"]);
    ctl(&["unreachable-delay", "20"]);
    let host = SimHost::open(&root).unwrap();
    let iscsiadm = |args: &[&str]| host.run(args).unwrap().status.code().unwrap();
    assert_eq!(iscsiadm(&["-m", "discovery", "-t", "st", "-p", &portal]), 0);
    ctl(&["fault", "auth-fail", IQN]);
    assert_eq!(iscsiadm(&["-m", "node", "-T", IQN, "-p", &portal, "-l"]), 24);
    ctl(&["fault", "clear"]);
    assert_eq!(iscsiadm(&["-m", "node", "-T", IQN, "-p", &portal, "-l"]), 0);
    ctl(&["session-state", "1", "FAILED"]);
    let v: serde_json::Value = serde_json::from_str(&ctl(&["sessions"])).unwrap();
    assert_eq!(v[0]["state"], "FAILED");
    assert_eq!(v[0]["devices"][1]["disk"], "sdb");
    let v: serde_json::Value = serde_json::from_str(&ctl(&["invocations"])).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 3);
    let v: serde_json::Value = serde_json::from_str(&ctl(&["node-record", IQN, &portal])).unwrap();
    assert_eq!(v["node.tpgt"], "1");
    ctl(&["fault", "iscsid-down"]);
    assert_eq!(iscsiadm(&["-m", "node", "-T", IQN, "-p", &portal, "-u"]), 21);
    let o = std::process::Command::new(BIN)
        .args(["--root", &root_s, "fault", "hang", "everything"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn create_finds_the_binary_next_to_the_test() {
    let dir = TempDir::new();
    let host = SimHost::create(dir.0.join("sim")).unwrap();
    let target = std::fs::read_link(host.iscsiadm_path()).unwrap();
    assert_eq!(
        std::fs::canonicalize(target).unwrap(),
        std::fs::canonicalize(BIN).unwrap()
    );
    assert!(host.root().join("etc/iscsi/iscsid.conf").is_file());
    assert_eq!(
        std::fs::read_to_string(host.root().join("etc/iscsi/initiatorname.iscsi")).unwrap(),
        "InitiatorName=iqn.1993-08.org.debian:01:1ff9544af9f\n"
    );
    assert_eq!(host.sysfs_root(), host.root().join("sys"));
}
