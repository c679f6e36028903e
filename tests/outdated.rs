//! The stale half: the ZED hook marks the half that misses writes outdated in the CIB, and
//! `iscsi-mirror outdated` shows the mark and is the one way to accept its loss. Real
//! Pacemaker tools against a CIB file (CIB_file), real state files written by start.

mod util;

use std::process::Command;
use util::*;

/// A CIB with the two storage nodes, made by the real cibadmin.
fn cib(dir: &std::path::Path) -> std::path::PathBuf {
    let file = dir.join("cib.xml");
    let empty = Command::new("cibadmin")
        .arg("--empty")
        .output()
        .expect("cibadmin");
    std::fs::write(&file, &empty.stdout).unwrap();
    for (id, name) in [("1", "storage-a"), ("2", "storage-b")] {
        let out = Command::new("cibadmin")
            .args([
                "-C",
                "-o",
                "nodes",
                "-X",
                &format!("<node id=\"{id}\" uname=\"{name}\"/>"),
            ])
            .env("CIB_file", &file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    file
}

fn cli(args: &[&str], cib: &std::path::Path) -> std::process::Output {
    Command::new(AGENT)
        .args(args)
        .env_clear()
        .env("CIB_file", cib)
        .output()
        .unwrap()
}

/// ZED runs the agent binary as a zedlet with the event in ZEVENT_* variables.
fn zed_event(
    rsctmp: &std::path::Path,
    cib: &std::path::Path,
    vdev: &str,
    state: &str,
) -> std::process::Output {
    Command::new(AGENT)
        .env_clear()
        .env("HA_RSCTMP", rsctmp)
        .env("CIB_file", cib)
        .env("ZEVENT_EID", "42")
        .env("ZEVENT_CLASS", "resource.fs.zfs.statechange")
        .env("ZEVENT_SUBCLASS", "statechange")
        .env("ZEVENT_POOL", "san-pool")
        .env("ZEVENT_VDEV_PATH", vdev)
        .env("ZEVENT_VDEV_STATE_STR", state)
        .output()
        .unwrap()
}

#[test]
fn a_faulted_remote_vdev_marks_the_peer_s_half_and_only_the_override_clears_it() {
    let portal = Portal::up("127.0.0.1");
    let (dir, sim) = host_with_target(IQN_B, &[&portal]);
    let cib = cib(dir.path());
    let mut a = Agent::storage_a(&sim, &portal.spec());
    a.param("pool", "san-pool").param("crm_mon", "crm_mon");
    a.start().expect(0);
    let vdev = format!("/dev/disk/by-path/ip-{}-iscsi-{IQN_B}-lun-0-part1", portal.spec());

    // A local vdev or a healthy state: no mark.
    zed_event(&a.rsctmp(), &cib, "/dev/vdb1", "FAULTED");
    zed_event(&a.rsctmp(), &cib, &vdev, "ONLINE");
    let listed = cli(&["outdated"], &cib);
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("no half"),
        "{listed:?}"
    );

    // The remote leg faults on the pool holder: storage-b's half is marked, at once.
    let out = zed_event(&a.rsctmp(), &cib, &vdev, "FAULTED");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = std::fs::read_to_string(&cib).unwrap();
    assert!(
        text.contains("name=\"iscsi-mirror-outdated\" value=\"1\""),
        "{text}"
    );
    // The event counter tells the monitor to look at the pool again.
    let gen = std::fs::read_to_string(a.rsctmp().join("iscsi-mirror/zed-san-pool.generation")).unwrap();
    assert_eq!(gen.trim(), "3");

    let listed = cli(&["outdated", "--json"], &cib);
    let v: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(v["outdated"][0]["node"], "storage-b");
    assert_eq!(v["outdated"][0]["by"], "storage-a");

    // The override says what is lost and does nothing without the admin's word.
    let refused = cli(&["outdated", "--clear", "--node", "storage-b"], &cib);
    assert_eq!(refused.status.code(), Some(3));
    let said = String::from_utf8_lossy(&refused.stdout);
    assert!(
        said.contains("missed every write made on storage-a") && said.contains("lost for good"),
        "{said}"
    );
    assert!(std::fs::read_to_string(&cib)
        .unwrap()
        .contains("iscsi-mirror-outdated"));
    let done = cli(
        &["outdated", "--clear", "--node", "storage-b", "--accept-data-loss"],
        &cib,
    );
    assert_eq!(done.status.code(), Some(0), "{done:?}");
    assert!(!std::fs::read_to_string(&cib)
        .unwrap()
        .contains("iscsi-mirror-outdated"));
    a.stop().expect(0);
}
