//! The mirror's pool side through the agent, on the simulated host with its zpool stand-in
//! (checked byte for byte against ZFS 2.3.2's recorded outputs): storage-a holds san-pool,
//! mirror(its local disk, storage-b's LUN over iSCSI).

mod util;

use std::time::Duration;
use util::*;

struct San {
    _dir: tempfile::TempDir,
    sim: SimHost,
    portal: Portal,
    pcmk: PacemakerTools,
    agent: Agent,
    remote: String,
}

/// storage-a with its leg to storage-b up and the pool imported, whole.
fn san(interval_ms: u64) -> San {
    san_with(interval_ms, None)
}

/// What udev makes for a GPT partition named `label`: /dev/disk/by-partlabel/LABEL, a link
/// to the partition the by-path name leads to now.
fn label_partition(sim: &SimHost, by_path: &str, label: &str) -> String {
    let dev = std::fs::canonicalize(sim.root().join(by_path.trim_start_matches('/'))).unwrap();
    let dir = sim.root().join("dev/disk/by-partlabel");
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join(label);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&dev, &link).unwrap();
    format!("/dev/disk/by-partlabel/{label}")
}

fn san_with(interval_ms: u64, label: Option<&str>) -> San {
    let portal = Portal::up("127.0.0.1");
    let (dir, sim) = host_with_target(IQN_B, &[&portal]);
    let pcmk = PacemakerTools::new();
    pcmk.show("two-node-both-online.xml");
    let mut agent = Agent::storage_a(&sim, &portal.spec());
    agent
        .param("crm_mon", &pcmk.crm_mon())
        .param("pool", "san-pool")
        .param("zpool", sim.zpool_path().to_str().unwrap())
        .param("reconnect_jitter", "1")
        .var("OCF_RESKEY_CRM_meta_interval", &interval_ms.to_string());
    agent.start().expect(0);
    let sid = sim.sessions()[0].sid;
    let remote = match label {
        None => Leaf::Remote { sid, lun: 0 },
        Some(label) => {
            let by_path = sim.remote_leaf(sid, 0).unwrap();
            Leaf::Path(label_partition(&sim, &by_path, label))
        }
    };
    let paths = sim
        .create_pool("san-pool", &[Leaf::Local("/dev/vdb1".into()), remote])
        .unwrap();
    San {
        _dir: dir,
        remote: paths[1].clone(),
        sim,
        portal,
        pcmk,
        agent,
    }
}

impl San {
    fn monitor(&self) -> Run {
        self.agent.run("monitor")
    }

    fn zpool_calls(&self, word: &str) -> usize {
        self.sim
            .zpool_invocations()
            .iter()
            .filter(|i| i.argv.iter().any(|a| a == word))
            .count()
    }

    /// The crm_attribute calls that set an outdated mark.
    fn outdated_marks(&self) -> Vec<String> {
        self.pcmk
            .calls("crm_attribute")
            .into_iter()
            .filter(|c| c.contains("iscsi-mirror-outdated ") && c.contains("--update 1"))
            .collect()
    }

    /// Two monitors two stable intervals apart (monitor interval 1 s): the second may
    /// bring the returned vdev back.
    fn monitor_through_the_stable_window(&self) {
        self.monitor().expect(190);
        std::thread::sleep(Duration::from_millis(2_100));
        self.monitor().expect(190);
    }

    /// The storage link drops long enough for ZFS to fault the remote leaf, then returns:
    /// the kernel recovers the same session, the leaf stays out (as recorded: FAULTED on
    /// ZFS 2.3, UNAVAIL on 2.1).
    fn leg_lost_and_back(&mut self) {
        let sid = self.sim.sessions()[0].sid;
        self.portal.cut();
        self.sim.set_session_state(sid, "FREE").unwrap();
        self.sim.fault_leaf("san-pool", &self.remote).unwrap();
        self.monitor().expect(190);
        self.portal.restore();
        self.sim.set_session_state(sid, "LOGGED_IN").unwrap();
    }
}

#[test]
fn a_healthy_monitor_with_a_pool_runs_no_program() {
    let s = san(10_000);
    // The first monitor learns the mirror is whole (one reading).
    s.monitor().expect(0);
    let (zpool, iscsiadm) = (s.sim.zpool_invocations().len(), s.sim.invocations().len());
    // (It may ask the cluster once whether the peer is a member before clearing its mark.)
    let crm_mon = s.pcmk.calls("crm_mon").len();
    for _ in 0..3 {
        s.monitor().expect(0);
    }
    assert_eq!(
        s.sim.zpool_invocations().len(),
        zpool,
        "a healthy monitor ran zpool"
    );
    assert_eq!(
        s.sim.invocations().len(),
        iscsiadm,
        "a healthy monitor ran iscsiadm"
    );
    assert_eq!(
        s.pcmk.calls("crm_mon").len(),
        crm_mon,
        "a healthy monitor ran crm_mon"
    );
    // A deep monitor reads the pool every time.
    let status = s.zpool_calls("status");
    s.agent
        .run_with("monitor", &[("OCF_CHECK_LEVEL", "20")])
        .expect(0);
    assert_eq!(s.zpool_calls("status"), status + 1);
}

#[test]
fn start_publishes_the_hostid_and_the_deep_monitor_judges_the_pool_side_of_the_window() {
    let s = san(10_000);
    // No hostid on this host: nothing to publish.
    assert!(
        !s.pcmk
            .calls("crm_attribute")
            .iter()
            .any(|c| c.contains("iscsi-mirror-hostid")),
        "{:?}",
        s.pcmk.calls("crm_attribute")
    );
    // storage-a's /etc/hostid as recorded (01 00 5a 5a: hostid 5a5a0001).
    std::fs::create_dir_all(s.sim.root().join("etc")).unwrap();
    std::fs::write(s.sim.root().join("etc/hostid"), [0x01, 0x00, 0x5a, 0x5a]).unwrap();
    s.agent.start().expect(0);
    let published: Vec<String> = s
        .pcmk
        .calls("crm_attribute")
        .into_iter()
        .filter(|c| c.contains("iscsi-mirror-hostid"))
        .collect();
    assert_eq!(
        published,
        vec!["--node storage-a --name iscsi-mirror-hostid --update 5a5a0001 --lifetime forever"]
    );
    // The regular monitor does not judge the window; the depth-10 one does, and says
    // what is wrong with the pool (the stand-in's default is ZFS's: multihost off).
    let run = s.monitor();
    run.expect(0);
    assert!(!run.stderr.contains("multihost"), "{}", run.stderr);
    let run = s.agent.run_with("monitor", &[("OCF_CHECK_LEVEL", "10")]);
    run.expect(0);
    assert!(
        run.stderr.contains(
            "pool san-pool outside the window: multihost=off (zpool get multihost san-pool (default))"
        ),
        "{}",
        run.stderr
    );
    s.sim.set_pool_prop("san-pool", "multihost", "on").unwrap();
    let run = s.agent.run_with("monitor", &[("OCF_CHECK_LEVEL", "10")]);
    run.expect(0);
    assert!(!run.stderr.contains("pool san-pool outside"), "{}", run.stderr);
}

#[test]
fn a_returned_leg_is_brought_back_resilvered_and_the_mark_cleared_with_nobody_typing() {
    returned_leg_cycle("2.3", "FAULTED");
}

/// The same on ZFS 2.1 (no `zpool status -j`; the stand-in's 2.1 personality is checked
/// against the outputs recorded on the real 2.1.11, its refusal of -j included): the agent
/// asks for the JSON once, learns from the refusal, and reads the text from then on; the
/// cut leaves the remote leaf UNAVAIL there (tests/fixtures/zfs/vm-recorded-2.1/faulted),
/// not FAULTED, and it is brought back all the same.
#[test]
fn on_zfs_2_1_the_same_cycle_runs_on_the_text_after_one_refused_json() {
    let s = returned_leg_cycle("2.1", "UNAVAIL");
    let status: Vec<Vec<String>> = s
        .sim
        .zpool_invocations()
        .into_iter()
        .filter(|i| i.argv.get(1).map(String::as_str) == Some("status"))
        .map(|i| i.argv[1..].to_vec())
        .collect();
    let json: Vec<&Vec<String>> = status.iter().filter(|a| a.iter().any(|w| w == "-j")).collect();
    assert_eq!(json.len(), 1, "{status:?}");
    assert_eq!(
        status[0],
        [
            "status",
            "-P",
            "-j",
            "--json-int",
            "--json-flat-vdevs",
            "san-pool"
        ]
    );
    assert_eq!(status[1], ["status", "-P", "san-pool"]);
    assert!(status.len() > 3, "{status:?}");
}

/// `out`: the state the cut leaves the remote leaf in on `zfs_version`.
fn returned_leg_cycle(zfs_version: &str, out: &str) -> San {
    let mut s = san(1_000);
    s.sim.set_zfs_version(zfs_version).unwrap();
    s.monitor().expect(0);
    let deletes = |s: &San| {
        s.pcmk
            .calls("crm_attribute")
            .iter()
            .filter(|c| c.contains("--node storage-b --name iscsi-mirror-outdated --delete"))
            .count()
    };
    let cleared_before = deletes(&s);
    s.leg_lost_and_back();
    // storage-b's half missed writes: marked outdated.
    let marks = s.outdated_marks();
    assert_eq!(marks.len(), 1, "{:?}", s.pcmk.calls("crm_attribute"));
    assert!(marks[0].contains("--node storage-b"), "{marks:?}");
    // The session is back; the vdev waits two monitor intervals (2 s) before zpool online.
    s.monitor()
        .expect(190)
        .reason_mentions(&[out, "waiting for the session to be stable"]);
    assert_eq!(s.zpool_calls("online"), 0);
    std::thread::sleep(Duration::from_millis(2_100));
    let run = s.monitor();
    run.expect(190);
    assert_eq!(s.zpool_calls("online"), 1, "{}", run.stderr);
    assert!(run.stderr.contains("zpool online san-pool"), "{}", run.stderr);
    assert!(s.sim.pool("san-pool").unwrap().resilvering());
    // While it resilvers: 190 with how far, health yellow, the mark stays.
    s.sim.advance_resilver("san-pool", 45.0).unwrap();
    s.monitor()
        .expect(190)
        .reason_mentions(&["resilvering san-pool", "45% done"]);
    assert_eq!(
        s.zpool_calls("online"),
        1,
        "one zpool online, not one per monitor"
    );
    assert_eq!(
        deletes(&s),
        cleared_before,
        "the mark went before the resilver ended"
    );
    // Done: green, and storage-b's mark goes.
    s.sim.finish_resilver("san-pool").unwrap();
    s.monitor().expect(0);
    assert_eq!(deletes(&s), cleared_before + 1);
    assert_eq!(
        s.pcmk.calls("attrd_updater").last().map(String::as_str),
        Some("-n #health-iscsi-mirror -N storage-a -U green")
    );
    s.agent.stop().expect(0);
    s
}

#[test]
fn a_leaf_named_by_its_partition_label_is_known_by_its_device_and_remembered_while_it_is_gone() {
    // The two-VM SAN names its vdevs by partition label (a by-path name is wrong on the
    // other node after a failover): nothing in /dev/disk/by-partlabel/data-b names the path.
    let mut s = san_with(1_000, Some("data-b"));
    assert_eq!(s.remote, "/dev/disk/by-partlabel/data-b");
    s.monitor().expect(0);
    let state = std::fs::read_to_string(s.agent.rsctmp().join("iscsi-mirror/mirror.state")).unwrap();
    assert!(state.contains("/dev/disk/by-partlabel/data-b"), "{state}");
    // The storage link is cut for good and the session goes (logged out): the partition
    // and its label go with it, and ZFS shows the leaf UNAVAIL.
    s.portal.cut();
    let sid = s.sim.sessions()[0].sid;
    drop_session(&s.sim, sid);
    std::fs::remove_file(s.sim.root().join("dev/disk/by-partlabel/data-b")).unwrap();
    s.sim.set_leaf_state("san-pool", &s.remote, "UNAVAIL").unwrap();
    let run = s.monitor();
    run.expect(190);
    // Still known as storage-b's half: it misses writes, so storage-b is marked outdated.
    let marks = s.outdated_marks();
    assert_eq!(
        marks.len(),
        1,
        "{:?}\n{}",
        s.pcmk.calls("crm_attribute"),
        run.stderr
    );
    assert!(marks[0].contains("--node storage-b"), "{marks:?}");
    // The link returns: a new login, a new partition, udev's label again; the leaf is
    // back by its device, and brought back once its session has been stable.
    s.portal.restore();
    let run = s.monitor();
    assert_eq!(s.sim.sessions().len(), 1, "{}", run.stderr);
    let sid = s.sim.sessions()[0].sid;
    let by_path = s.sim.remote_leaf(sid, 0).unwrap();
    label_partition(&s.sim, &by_path, "data-b");
    s.sim.set_leaf_state("san-pool", &s.remote, "FAULTED").unwrap();
    s.monitor().expect(190);
    std::thread::sleep(Duration::from_millis(2_100));
    let run = s.monitor();
    run.expect(190);
    assert_eq!(s.zpool_calls("online"), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("zpool online san-pool /dev/disk/by-partlabel/data-b"),
        "{}",
        run.stderr
    );
    s.agent.stop().expect(0);
}

/// ZED runs the agent binary as its zedlet, with the event in ZEVENT_* variables.
fn zed_statechange(s: &San, state: &str) {
    let out = std::process::Command::new(AGENT)
        .env_clear()
        .env("HA_RSCTMP", s.agent.rsctmp())
        .env("ZEVENT_EID", "7")
        .env("ZEVENT_CLASS", "resource.fs.zfs.statechange")
        .env("ZEVENT_SUBCLASS", "statechange")
        .env("ZEVENT_POOL", "san-pool")
        .env("ZEVENT_VDEV_PATH", &s.remote)
        .env("ZEVENT_VDEV_STATE_STR", state)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn an_admin_offline_vdev_is_left_alone() {
    let s = san(1_000);
    s.monitor().expect(0);
    // `zpool offline`: ZED's statechange event tells the monitor to look (no child
    // process notices it otherwise; the depth-20 monitor would, at its interval).
    s.sim.set_leaf_state("san-pool", &s.remote, "OFFLINE").unwrap();
    zed_statechange(&s, "OFFLINE");
    for _ in 0..3 {
        s.monitor().expect(190).reason_mentions(&["OFFLINE by an admin"]);
        std::thread::sleep(Duration::from_millis(1_100));
    }
    assert_eq!(s.zpool_calls("online"), 0);
    s.agent.stop().expect(0);
}

#[test]
fn the_node_without_the_pool_does_nothing_and_runs_no_zpool() {
    let s = san(1_000);
    s.sim.set_imported("san-pool", false).unwrap();
    s.sim.fault_leaf("san-pool", &s.remote).unwrap();
    for _ in 0..2 {
        s.monitor().expect(0);
    }
    assert!(
        s.sim.zpool_invocations().is_empty(),
        "{:?}",
        s.sim.zpool_invocations()
    );
    s.agent.stop().expect(0);
}

#[test]
fn a_probe_repairs_nothing() {
    let mut s = san(1_000);
    s.monitor().expect(0);
    s.leg_lost_and_back();
    s.monitor_through_the_stable_window();
    s.agent.probe().expect(190);
    // What the monitor before it did, the probe did not repeat or add to.
    let onlines = s.zpool_calls("online");
    s.agent.probe().expect(190);
    assert_eq!(s.zpool_calls("online"), onlines);
    s.agent.stop().expect(0);
}

#[test]
fn status_shows_the_resilver_and_the_pool() {
    let mut s = san(1_000);
    s.monitor().expect(0);
    s.leg_lost_and_back();
    s.monitor_through_the_stable_window();
    s.sim.advance_resilver("san-pool", 60.0).unwrap();
    let st = s.agent.run("status");
    assert_eq!(st.code, 190, "{}", st.stderr);
    assert!(st.stdout.contains("resilvering 60% done"), "{}", st.stdout);
    assert!(st.stdout.contains("(storage-b's disk)"), "{}", st.stdout);
    s.agent.stop().expect(0);
}
