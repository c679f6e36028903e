//! The pool steps over the real `zpool status` outputs recorded in the two-VM SAN
//! (tests/fixtures/zfs/vm-recorded): storage-a holds san-pool, a mirror of its virtio
//! disk and storage-b's LUN over iSCSI. The network steps over hand-built facts (plain
//! data, no tool output): the scenarios on the simulated host run the real probes.
//! The same end to end, through the binary and the simulated host's zpool: tests/doctor.rs.
use super::root_cause::login_finding;
use super::*;
use crate::cluster::crm_mon::{ClusterView, Node};
use crate::config::Membership;
use crate::decide::assess;
use crate::iscsi::probe::Outcome;
use crate::iscsi::sysfs::{Disk, Sysfs};
use crate::state::{InstanceState, Loaded, PoolMemory};
use crate::target::Portal;
use crate::zfs::zpool::parse_text;
use crate::zfs::PoolFacts;

const REMOTE: &str = "/dev/disk/by-path/ip-192.168.10.2:3260-iscsi-iqn.2025-01.lab.e2e:storage-b-lun-0-part1";

/// storage-a's snapshot with its leg up (session 1) or down, and the recorded pool.
fn snap(pool_state: &str, up: bool, now_ms: u64) -> Snapshot {
    let legs = vec![crate::decide::pool::tests::recorded_leg(
        up,
        vec![Disk {
            hctl: "2:0:0:0".into(),
            lun: 0,
            block: Some("sdb".into()),
            state: "running".into(),
        }],
        Some(up),
    )];
    let file = format!(
        "{}/tests/fixtures/zfs/vm-recorded/{pool_state}.zpool-status-P.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let status = parse_text(&std::fs::read_to_string(file).unwrap()).unwrap();
    let nowhere = tempfile::tempdir().unwrap();
    let remote =
        crate::observe::pool::map_remote(&status, &legs, &Sysfs::new(nowhere.path()), nowhere.path(), &[]);
    Snapshot {
        node: "storage-a".into(),
        membership: Membership::Member,
        state: Loaded::Present(Box::new(InstanceState {
            started: true,
            ..Default::default()
        })),
        legs,
        cluster: Some(ClusterView {
            known: true,
            nodes: ["storage-a", "storage-b"]
                .iter()
                .map(|n| Node {
                    name: n.to_string(),
                    online: true,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        pool: Some(PoolFacts {
            name: "san-pool".into(),
            reading: Reading::Status(status),
            remote,
        }),
        network: None,
        now_ms,
    }
}

fn judged(
    s: &Snapshot,
    memory: &PoolMemory,
    seen: &FirstSeen,
    outdated: Option<&[String]>,
) -> (Recovery, Plan) {
    let a = assess::assess(s, false);
    let plan = pool_plan(s, memory, seen).unwrap();
    let r = judge(&Input {
        snap: s,
        assessment: &a,
        pool_name: Some("san-pool"),
        pool: Some(&plan),
        outdated,
    });
    (r, plan)
}

fn get<'a>(r: &'a Recovery, check: &str) -> &'a Finding {
    r.findings.iter().find(|f| f.check == check).unwrap()
}

#[test]
fn a_faulted_vdev_whose_session_is_back_is_onlined_after_the_stable_window() {
    let first = snap("session-back-vdev-faulted", true, 100_000);
    let mut seen = FirstSeen::new();
    note_seen(&first, &mut seen);
    let (r, plan) = judged(&first, &PoolMemory::default(), &seen, Some(&[]));
    let pool = get(&r, "pool");
    assert_eq!(pool.grade, Grade::Warn, "{pool:?}");
    assert!(
        pool.why.contains("FAULTED though its session is back"),
        "{pool:?}"
    );
    assert!(
        pool.evidence.iter().any(
            |e| e.starts_with(REMOTE) && e.contains("storage-b's disk, carried by session 1 (LOGGED_IN)")
        ),
        "{pool:?}"
    );
    // Seen for the first time: doctor watches it for its stable window first.
    let online = get(&r, "zfs_online");
    assert_eq!(online.grade, Grade::Warn);
    assert!(
        online
            .why
            .contains("waiting for the session to be stable for 5 s"),
        "{online:?}"
    );
    assert!(online.next.as_deref().unwrap().contains("doctor --fix"));
    assert_eq!(r.online, None);
    // Still up 5 s later: zpool online, and the exact command.
    let later = snap("session-back-vdev-faulted", true, 100_000 + DOCTOR_STABLE_MS);
    note_seen(&later, &mut seen);
    let (r, _) = judged(&later, &plan.memory, &seen, Some(&[]));
    assert_eq!(r.online.as_deref(), Some(REMOTE));
    let online = get(&r, "zfs_online");
    assert_eq!(
        online.next.as_deref(),
        Some(format!("iscsi-mirror doctor --fix, or: zpool online san-pool {REMOTE}").as_str())
    );
    // Not safe to fail back: the pool runs on one half.
    assert_eq!(get(&r, "resilver").grade, Grade::Fail);
    assert_eq!(r.safe_to_fail_back, Some(false));
    // A new session (logged in again meanwhile) restarts the clock.
    let mut relogged = later.clone();
    relogged.legs[0].paths[0].session.as_mut().unwrap().sid = 2;
    note_seen(&relogged, &mut seen);
    assert_eq!(judged(&relogged, &plan.memory, &seen, Some(&[])).0.online, None);
}

#[test]
fn a_faulted_vdev_with_its_session_down_is_the_leg_s_fault() {
    let s = snap("faulted", false, 1_000);
    let mut seen = FirstSeen::new();
    note_seen(&s, &mut seen);
    let (r, _) = judged(&s, &PoolMemory::default(), &seen, None);
    let pool = get(&r, "pool");
    assert_eq!(pool.grade, Grade::Fail);
    assert!(pool.why.contains("FAULTED, its session down"), "{pool:?}");
    assert_eq!(get(&r, "sessions").grade, Grade::Fail);
    assert_eq!(get(&r, "zfs_online").grade, Grade::Skipped);
    assert_eq!(get(&r, "resilver").grade, Grade::Fail);
    // Unreachable portal: no option fits before the root cause is fixed.
    let reconnect = get(&r, "reconnect");
    assert_eq!((reconnect.grade, r.choice.option), (Grade::Fail, None));
    assert_eq!(r.exit_code(), 2);
}

#[test]
fn the_resilver_and_the_marks_decide_whether_a_fail_back_is_safe() {
    let mut seen = FirstSeen::new();
    let s = snap("resilvering-3", true, 1_000);
    note_seen(&s, &mut seen);
    let (r, _) = judged(
        &s,
        &PoolMemory::default(),
        &seen,
        Some(&["storage-b".to_string()]),
    );
    let f = get(&r, "resilver");
    assert_eq!(f.grade, Grade::Warn);
    assert!(
        f.why.starts_with("resilvering, 44.8% done") && f.why.contains("not safe yet"),
        "{f:?}"
    );
    assert!(f
        .next
        .as_deref()
        .unwrap()
        .contains("zpool wait -t resilver san-pool"));
    assert_eq!(r.safe_to_fail_back, Some(false));
    let done = snap("resilvered", true, 1_000);
    let (r, _) = judged(
        &done,
        &PoolMemory::default(),
        &seen,
        Some(&["storage-b".to_string()]),
    );
    assert_eq!(get(&r, "resilver").grade, Grade::Warn);
    assert!(get(&r, "resilver")
        .why
        .contains("storage-b still marked outdated"));
    let (r, _) = judged(&done, &PoolMemory::default(), &seen, Some(&[]));
    let f = get(&r, "resilver");
    assert_eq!(f.grade, Grade::Ok, "{f:?}");
    assert!(f.why.starts_with("the last resilver finished") && f.why.contains("safe to fail back"));
    assert_eq!(r.safe_to_fail_back, Some(true));
    assert_eq!(r.exit_code(), 0, "{:?}", r.findings);
}

#[test]
fn a_logged_in_session_whose_disk_is_blocked_calls_for_a_rescan_option_a() {
    let mut s = snap("healthy", true, 1_000);
    s.legs[0].paths[0].session.as_mut().unwrap().disks[0].state = "blocked".into();
    let seen = FirstSeen::new();
    let (r, _) = judged(&s, &PoolMemory::default(), &seen, Some(&[]));
    assert_eq!(get(&r, "sessions").grade, Grade::Warn);
    assert!(get(&r, "sessions").why.contains("sdb is blocked"));
    assert_eq!(r.choice.option, Some(Reconnect::A));
    assert!(r.choice.relogin.is_empty(), "--fix runs only C");
    assert_eq!(
        get(&r, "reconnect").next.as_deref(),
        Some("iscsiadm -m session -r 1 --rescan (doctor --fix does not run it)")
    );
}

#[test]
fn a_node_outside_peers_has_nothing_to_walk() {
    let mut s = snap("healthy", false, 1_000);
    s.legs.clear();
    // No leg: no vdev rides on one.
    s.pool.as_mut().unwrap().remote.clear();
    s.membership = Membership::NotListed {
        node: "quorum".into(),
        listed: vec!["storage-a".into(), "storage-b".into()],
    };
    let (r, _) = judged(&s, &PoolMemory::default(), &FirstSeen::new(), Some(&[]));
    assert_eq!(get(&r, "sessions").grade, Grade::Skipped);
    assert!(get(&r, "sessions").why.contains("not in peers"));
    assert!(get(&r, "reconnect").why.contains("no leg of this resource"));
    assert!(r.choice.relogin.is_empty());
}

#[test]
fn an_admin_s_offline_is_not_undone() {
    let s = snap("admin-offline", true, 1_000);
    let mut seen = FirstSeen::new();
    note_seen(&s, &mut seen);
    let old = PoolMemory {
        waiting_since_ms: vec![(REMOTE.into(), 0)],
        ..Default::default()
    };
    let (r, _) = judged(&s, &old, &seen, Some(&[]));
    assert_eq!(r.online, None);
    assert!(get(&r, "zfs_online").why.contains("taken OFFLINE by an admin"));
}

#[test]
fn login_statuses_name_their_cause_and_remedy() {
    let portal = Portal::parse("192.168.10.2:3260").unwrap();
    let answered = |c, d, auth: Option<&str>, to: Option<&str>| Outcome::Answered {
        status_class: c,
        status_detail: d,
        auth_method: auth.map(str::to_string),
        target_address: to.map(str::to_string),
        elapsed_ms: 1,
    };
    let f = |o| login_finding(&o, "b", "iqn.2025-01.lab.e2e:storage-b", &portal, Some("iqn.x:a"));
    let acl = f(answered(2, 2, None, None));
    assert_eq!(acl.grade, Grade::Fail);
    assert!(acl.next.unwrap().contains("acls create iqn.x:a"));
    let moved = f(answered(1, 1, None, Some("192.168.10.9:3260,1")));
    assert_eq!(moved.grade, Grade::Warn);
    assert!(moved.why.contains("redirection to 192.168.10.9:3260,1"));
    assert_eq!(f(answered(3, 2, None, None)).grade, Grade::Warn);
    assert_eq!(f(answered(3, 0, None, None)).grade, Grade::Fail);
    assert!(f(answered(0, 0, Some("CHAP"), None))
        .why
        .contains("requires CHAP"));
    let junk = f(Outcome::Malformed {
        why: "opcode 0x20".into(),
    });
    assert!(junk.why.contains("does not answer as an iSCSI target"));
}
