//! Behaviour of the `zpool` stand-in beyond the recorded runs: a leaf riding on a simulated
//! iSCSI session (the partition the kernel and udev show, gone at logout, back at the next
//! login), `zpool online` while the session is down and after it is back, the resilver
//! driven to its end, the kstat kept in step, the invocation log, and the control CLI.

mod common;

use common::*;
use iscsi_simhost::{Leaf, SimHost, Suspend};

const IQN: &str = "iqn.2025-01.lab.e2e:storage-b";
const POOL: &str = "san-pool";

/// A lab logged in to IQN at a live loopback portal; returns it with the portal.
fn lab_with_session() -> (Lab, String) {
    let lab = Lab::new();
    let portal = listen("127.0.0.1");
    lab.host.add_target(IQN, &[&portal], 1).unwrap();
    lab.ok(&["-m", "node", "-o", "new", "-T", IQN, "-p", &portal]);
    lab.ok(&["-m", "node", "-T", IQN, "-p", &portal, "--login"]);
    (lab, portal)
}

/// POOL = mirror of /dev/vdb1 and partition 1 of session 1's LUN 0; the leaf paths.
fn pool_on_session(sim: &SimHost) -> Vec<String> {
    sim.create_pool(
        POOL,
        &[Leaf::Local("/dev/vdb1".into()), Leaf::Remote { sid: 1, lun: 0 }],
    )
    .unwrap()
}

fn zp(sim: &SimHost, args: &[&str]) -> (String, String, i32) {
    let o = sim.run_zpool(args).unwrap();
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

fn kstat(sim: &SimHost) -> Option<String> {
    std::fs::read_to_string(sim.root().join("proc/spl/kstat/zfs").join(POOL).join("state")).ok()
}

fn leaf_state(sim: &SimHost, leaf: &str) -> (String, String) {
    let p = sim.pool(POOL).unwrap();
    let v = p.find(leaf).unwrap();
    (v.state.clone(), v.aux.clone())
}

#[test]
fn a_remote_leaf_rides_on_its_session_partition() {
    let (lab, portal) = lab_with_session();
    let sim = &lab.host;
    let paths = pool_on_session(sim);
    let remote = &paths[1];
    assert_eq!(
        *remote,
        format!("/dev/disk/by-path/ip-{portal}-iscsi-{IQN}-lun-0-part1")
    );
    // udev's link -> the partition node; the kernel's class entry under the disk, under
    // the session: what the agent resolves a vdev path through
    let root = sim.root();
    let link = root.join(remote.trim_start_matches('/'));
    assert_eq!(std::fs::read_link(&link).unwrap().to_string_lossy(), "../../sda1");
    assert!(root.join("dev/sda1").is_file());
    let class = std::fs::canonicalize(root.join("sys/class/block/sda1")).unwrap();
    assert!(
        class.ends_with("session1/target2:0:0/2:0:0:0/block/sda/sda1"),
        "{class:?}"
    );
    assert_eq!(std::fs::read_to_string(class.join("partition")).unwrap(), "1\n");
    assert_eq!(std::fs::read_to_string(class.join("dev")).unwrap(), "8:1\n");
    assert_eq!(iscsi_simhost::zfs::session_of_block(root, "sda1"), Some(1));
    // the WWN the agent compares with ZFS's devid: on the parent disk's device
    sim.set_lun_wwid(1, 0, "naa.6001405d27e5a1fc8ea4b33bd1b9b5f2")
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(class.parent().unwrap().join("device/wwid")).unwrap(),
        "naa.6001405d27e5a1fc8ea4b33bd1b9b5f2\n"
    );
    assert_eq!(kstat(sim).as_deref(), Some("ONLINE\n"));

    // logout: the partition goes with the disk; the next login brings it back
    lab.ok(&["-m", "node", "-T", IQN, "-p", &portal, "--logout"]);
    assert!(std::fs::symlink_metadata(&link).is_err());
    assert!(!root.join("dev/sda1").exists());
    assert!(std::fs::symlink_metadata(root.join("sys/class/block/sda1")).is_err());
    lab.ok(&["-m", "node", "-T", IQN, "-p", &portal, "--login"]);
    assert!(link.exists(), "the partition table is on the target's disk");
    assert_eq!(iscsi_simhost::zfs::session_of_block(root, "sda1"), Some(2));
}

#[test]
fn fault_session_back_online_resilver() {
    let (lab, _) = lab_with_session();
    let sim = &lab.host;
    let paths = pool_on_session(sim);
    let remote = paths[1].clone();
    sim.set_zfs_clock(Some(1_800_000_000)).unwrap();

    // the link dies: the session fails, the kernel faults the leaf
    sim.set_session_state(1, "FAILED").unwrap();
    sim.fault_leaf(POOL, &remote).unwrap();
    assert_eq!(
        kstat(sim).as_deref(),
        Some("ONLINE\n"),
        "as recorded: a FAULTED leg leaves the pool ONLINE"
    );
    let (out, _, rc) = zp(sim, &["status", "-x", POOL]);
    assert_eq!(rc, 0);
    assert!(
        out.contains("FAULTED      3    71     0  too many errors"),
        "{out}"
    );

    // zpool online while the session is down: ZFS cannot reopen the device
    let (out, err, rc) = zp(sim, &["online", POOL, &remote]);
    assert_eq!((rc, err.as_str()), (0, ""));
    assert_eq!(
        out,
        format!(
            "warning: device '{remote}' onlined, but remains in faulted state\n\
             use 'zpool replace' to replace devices that are no longer present\n"
        )
    );
    assert_eq!(
        leaf_state(sim, &remote),
        ("CANT_OPEN".into(), "OPEN_FAILED".into())
    );
    assert_eq!(kstat(sim).as_deref(), Some("DEGRADED\n"));
    let (out, _, _) = zp(sim, &["status", "-P", POOL]);
    assert!(out.contains("UNAVAIL      3    71     0  cannot open"), "{out}");
    assert!(
        out.contains("status: One or more devices could not be opened."),
        "{out}"
    );
    let (out, _, _) = zp(
        sim,
        &["status", "-P", "-j", "--json-int", "--json-flat-vdevs", POOL],
    );
    assert!(out.contains("\"state\":\"CANT_OPEN\""), "{out}");

    // the session is back: online reopens it and a resilver starts now
    sim.set_session_state(1, "LOGGED_IN").unwrap();
    let before = sim.zpool_invocations().len();
    let (out, err, rc) = zp(sim, &["online", POOL, &remote]);
    assert_eq!((out.as_str(), err.as_str(), rc), ("", "", 0));
    let log = sim.zpool_invocations();
    assert_eq!(log.len(), before + 1);
    assert_eq!(log[before].argv[1..], ["online", POOL, remote.as_str()]);
    assert_eq!(log[before].rc, Some(0));
    assert_eq!(leaf_state(sim, &remote), ("ONLINE".into(), "NONE".into()));
    let p = sim.pool(POOL).unwrap();
    assert!(p.resilvering());
    assert_eq!(p.scan.as_ref().unwrap().start_time, 1_800_000_000);
    assert_eq!(kstat(sim).as_deref(), Some("ONLINE\n"));

    sim.set_zfs_clock(Some(1_800_000_010)).unwrap();
    sim.advance_resilver(POOL, 40.0).unwrap();
    let (out, _, _) = zp(sim, &["status", "-P", POOL]);
    assert!(out.contains("  scan: resilver in progress since "), "{out}");
    assert!(
        out.contains(", 40.00% done, no estimated completion time\n"),
        "{out}"
    );
    assert!(
        out.contains("ONLINE       3    71     0  (resilvering)\n"),
        "{out}"
    );
    // a second online while it runs is deferred
    sim.update_pool(POOL, |p, _| {
        p.find_mut("/dev/vdb1").unwrap().missed = 4096;
        Ok(())
    })
    .unwrap();
    zp(sim, &["online", POOL, "/dev/vdb1"]);
    let (out, _, _) = zp(sim, &["status", POOL]);
    assert!(
        out.lines().any(|l| l.starts_with("\t    vdb1 ")
            && l.ends_with(" ONLINE       0     0     0  (awaiting resilver)")),
        "{out}"
    );

    sim.set_zfs_clock(Some(1_800_000_099)).unwrap();
    sim.finish_resilver(POOL).unwrap();
    // the deferred one starts at once; finish it too
    assert!(sim.pool(POOL).unwrap().resilvering());
    sim.finish_resilver(POOL).unwrap();
    let (out, _, _) = zp(sim, &["status", "-P", POOL]);
    assert!(
        out.contains("  scan: resilvered 4K in 00:00:00 with 0 errors on "),
        "{out}"
    );
    assert!(
        out.contains("status: One or more devices has experienced an unrecoverable error."),
        "{out}"
    );
    zp(sim, &["clear", POOL]);
    let (out, _, rc) = zp(sim, &["status", "-x", POOL]);
    assert_eq!((out.as_str(), rc), ("pool 'san-pool' is healthy\n", 0));
}

#[test]
fn no_zpool_ran_is_observable() {
    let (lab, _) = lab_with_session();
    let sim = &lab.host;
    pool_on_session(sim);
    assert!(sim.zpool_invocations().is_empty());
    zp(sim, &["list", "-H", "-o", "name,health"]);
    let log = sim.zpool_invocations();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].argv[1..], ["list", "-H", "-o", "name,health"]);
    assert!(log[0].argv[0].ends_with("/bin/zpool"));
    // iscsiadm's log is its own
    assert!(sim.invocations().iter().all(|i| i.argv[0].ends_with("iscsiadm")));
}

#[test]
fn errors_and_exit_codes_from_the_source() {
    let lab = Lab::new();
    let sim = &lab.host;
    local_mirror(sim, POOL);
    // 2.3.2 zpool_do_online: zpool_open's message, then its own, without a newline
    assert_eq!(
        zp(sim, &["online", "nopool", "vdb1"]),
        (
            String::new(),
            "cannot open 'nopool': no such pool\nfailed to open pool \"nopool\"".into(),
            1
        )
    );
    assert_eq!(
        zp(sim, &["online", POOL, "mirror-0"]),
        (
            String::new(),
            "cannot online mirror-0: operation not supported on this type of pool\n\
             Failed to online \"mirror-0\" in pool \"san-pool\": -1\n"
                .into(),
            1
        )
    );
    assert_eq!(
        zp(sim, &["online", POOL]),
        (
            String::new(),
            "missing device name\nusage:\n\tonline [--power][-e] <pool> <device> ...\n".into(),
            2
        )
    );
    // offline of the last replica: EBUSY, "no valid replicas"
    assert_eq!(zp(sim, &["offline", POOL, "vdb1"]).2, 0);
    assert_eq!(
        zp(sim, &["offline", POOL, "vdc1"]),
        (
            String::new(),
            "cannot offline vdc1: no valid replicas\n".into(),
            1
        )
    );
    assert_eq!(
        zp(sim, &["status", "-x"]).0.lines().nth(2),
        Some("status: One or more devices has been taken offline by the administrator.")
    );
    // import/export
    assert_eq!(
        zp(sim, &["import", "-d", "/dev/disk/by-path", POOL]),
        (
            String::new(),
            "cannot import 'san-pool': a pool with that name is already created/imported,\n\
             and no additional pools with that name were found\n"
                .into(),
            1
        )
    );
    assert_eq!(
        zp(sim, &["export", "-f", POOL]),
        (String::new(), String::new(), 0)
    );
    assert_eq!(kstat(sim), None);
    assert_eq!(
        zp(sim, &["list", "-H", "-o", "name,health"]),
        (String::new(), String::new(), 0)
    );
    assert_eq!(
        zp(sim, &["list", "-H", POOL]),
        (String::new(), "cannot open 'san-pool': no such pool\n".into(), 1)
    );
    assert_eq!(zp(sim, &["import", "-f", "-o", "cachefile=none", POOL]).2, 0);
    assert_eq!(kstat(sim).as_deref(), Some("DEGRADED\n"));
    assert_eq!(
        zp(sim, &["list", "-H", "-o", "health", POOL]),
        ("DEGRADED\n".into(), String::new(), 0)
    );
    // what the stand-in does not model says so, exit 2
    let (out, err, rc) = zp(sim, &["scrub", POOL]);
    assert_eq!((out.as_str(), rc), ("", 2));
    assert!(err.contains("not modelled"), "{err}");
    // --json-int without -j
    let (_, err, rc) = zp(sim, &["status", "--json-int", POOL]);
    assert_eq!(rc, 2);
    assert!(
        err.starts_with("'--json-int' only works with '-j' option\nusage:\n\tstatus [--power]"),
        "{err}"
    );
}

#[test]
fn suspension_shows_in_status_list_and_kstat() {
    let lab = Lab::new();
    let sim = &lab.host;
    local_mirror(sim, POOL);
    sim.set_pool_prop(POOL, "multihost", "on").unwrap();
    sim.suspend_pool(POOL, Some(Suspend::Mmp)).unwrap();
    assert_eq!(kstat(sim).as_deref(), Some("SUSPENDED\n"));
    assert_eq!(
        zp(sim, &["list", "-H", "-o", "name,health"]).0,
        "san-pool\tSUSPENDED\n"
    );
    let (out, _, _) = zp(sim, &["status", POOL]);
    assert!(out.starts_with("  pool: san-pool\n state: SUSPENDED\nstatus: The pool is suspended because multihost writes failed or were delayed;\n"), "{out}");
    assert!(
        out.contains("   see: https://openzfs.github.io/openzfs-docs/msg/ZFS-8000-MM\n"),
        "{out}"
    );
    assert_eq!(
        zp(sim, &["get", "-H", "-p", "multihost,failmode", POOL]).0,
        "san-pool\tmultihost\ton\tlocal\nsan-pool\tfailmode\twait\tdefault\n"
    );
    sim.suspend_pool(POOL, None).unwrap();
    assert_eq!(kstat(sim).as_deref(), Some("ONLINE\n"));
    sim.remove_pool(POOL).unwrap();
    assert_eq!(kstat(sim), None);
}

#[test]
fn the_control_cli_drives_the_pool_side() {
    let (lab, _) = lab_with_session();
    let root = lab.root().to_string_lossy().into_owned();
    let ctl = |args: &[&str]| control(&root, args);
    let out = ctl(&["pool-create", POOL, "/dev/vdb1", "session:1:0"]);
    let remote = out.lines().nth(1).unwrap().to_string();
    assert!(remote.ends_with("-lun-0-part1"), "{out}");
    ctl(&["zfs-clock", "1800000000"]);
    ctl(&["pool-fault", POOL, &remote]);
    ctl(&["pool-leaf", POOL, "/dev/vdb1", "errors", "0", "0", "2"]);
    let (out, _, _) = zp(&lab.host, &["status", POOL]);
    assert!(out.contains("vdb1"), "{out}");
    assert!(
        out.contains("FAULTED      3    71     0  too many errors"),
        "{out}"
    );
    assert!(out.contains("ONLINE       0     0     2\n"), "{out}");
    zp(&lab.host, &["online", POOL, &remote]);
    ctl(&["pool-resilver", POOL, "50"]);
    assert!(zp(&lab.host, &["status", POOL]).0.contains("50.00% done"));
    ctl(&["pool-resilver", POOL, "finish"]);
    ctl(&["pool-export", POOL]);
    assert_eq!(kstat(&lab.host), None);
    ctl(&["pool-import", POOL]);
    ctl(&["zfs-version", "2.1"]);
    let (_, err, rc) = zp(&lab.host, &["status", "-j", POOL]);
    assert_eq!(rc, 2);
    assert!(err.starts_with("invalid option 'j'\n"), "{err}");
    let pools: serde_json::Value = serde_json::from_str(&ctl(&["pools"])).unwrap();
    assert_eq!(pools[0]["name"], POOL);
    let log: serde_json::Value = serde_json::from_str(&ctl(&["zpool-invocations"])).unwrap();
    assert_eq!(log.as_array().unwrap().len(), 4);
}
