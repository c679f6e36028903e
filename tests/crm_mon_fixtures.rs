//! The crm_mon parser over documents produced by real Pacemaker 2.1.5
//! (crm/lab/make-crm-mon-fixtures.sh), plus broken ones.

use iscsi_mirror::cluster::crm_mon::{parse, ClusterView};
use iscsi_mirror::cluster::PeerState;
use std::path::Path;

fn fixture(name: &str) -> ClusterView {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/crm_mon")
        .join(name);
    parse(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

#[test]
fn every_fixture_parses_without_panic_and_the_table_covers_them_all() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/crm_mon");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if !name.ends_with(".xml") {
            continue;
        }
        seen += 1;
        let text = std::fs::read_to_string(dir.join(&name)).unwrap();
        let view = parse(&text);
        assert!(
            EXPECTED.iter().any(|(n, _)| *n == name),
            "{name} has no expectation below"
        );
        // Every truncation of a real document is handled: never a panic, never "known".
        let _ = view;
        let closing = text.rfind("</").unwrap_or(0);
        for cut in (0..closing).step_by(97) {
            let v = parse(&text[..cut]);
            assert!(!v.known, "{name} cut at {cut} parsed as known");
        }
    }
    assert!(seen >= 20, "only {seen} fixtures");
}

/// Fixture, then (this node's peer to ask about, its expected state); None: unknown cluster.
const EXPECTED: &[(&str, Option<(&str, PeerState)>)] = &[
    ("two-node-both-online.xml", Some(("storage-b", PeerState::Online))),
    (
        "two-node-both-online-legacy.xml",
        Some(("storage-b", PeerState::Online)),
    ),
    ("two-node-no-dc.xml", Some(("storage-b", PeerState::Online))),
    (
        "two-node-peer-offline.xml",
        Some(("storage-b", PeerState::Offline)),
    ),
    (
        "two-node-peer-offline-legacy.xml",
        Some(("storage-b", PeerState::Offline)),
    ),
    (
        "two-node-peer-unclean.xml",
        Some(("storage-b", PeerState::Unclean)),
    ),
    (
        "two-node-peer-standby.xml",
        Some(("storage-b", PeerState::Standby)),
    ),
    (
        "two-node-peer-maintenance.xml",
        Some(("storage-b", PeerState::Maintenance)),
    ),
    (
        "two-node-peer-shutting-down.xml",
        Some(("storage-b", PeerState::ShuttingDown)),
    ),
    (
        "two-node-peer-pending.xml",
        Some(("storage-b", PeerState::Pending)),
    ),
    (
        "two-node-peer-offline-no-quorum.xml",
        Some(("storage-b", PeerState::Offline)),
    ),
    (
        "two-node-monitor-failed.xml",
        Some(("storage-b", PeerState::Online)),
    ),
    (
        "two-node-monitor-failed-recovered.xml",
        Some(("storage-b", PeerState::Online)),
    ),
    (
        "three-node-all-online.xml",
        Some(("storage-c", PeerState::Online)),
    ),
    ("live-one-node-online.xml", Some(("lab1", PeerState::Online))),
    (
        "live-one-node-monitor-failed.xml",
        Some(("lab1", PeerState::Online)),
    ),
    ("live-one-node-own-corosync-dead.xml", None),
    ("live-no-cluster.xml", None),
    ("live-two-node-both-online.xml", Some(("lab2", PeerState::Online))),
    ("live-two-node-peer-lost.xml", Some(("lab2", PeerState::Offline))),
    ("live-two-node-own-corosync-dead.xml", None),
    (
        "live-two-node-peer-unclean.xml",
        Some(("lab2", PeerState::Unclean)),
    ),
    (
        "live-two-node-peer-fenced.xml",
        Some(("lab2", PeerState::Offline)),
    ),
];

#[test]
fn each_situation_reads_as_the_cluster_showed_it() {
    for (name, expect) in EXPECTED {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/crm_mon");
        if !dir.join(name).exists() {
            panic!("fixture {name} missing: run crm/lab/make-crm-mon-fixtures.sh");
        }
        let v = fixture(name);
        match expect {
            None => {
                assert!(!v.known, "{name}: expected unknown, got {v:?}");
                assert!(v.reason.as_deref().is_some_and(|r| !r.is_empty()), "{name}");
            }
            Some((peer, state)) => {
                assert!(v.known, "{name}: {:?}", v.reason);
                assert_eq!(v.peer_state(Some(peer)), *state, "{name}");
            }
        }
    }
}

#[test]
fn quorum_dc_resources_and_failures() {
    let v = fixture("two-node-both-online.xml");
    assert_eq!(v.dc.as_deref(), Some("storage-a"));
    assert_eq!(v.quorate, Some(true));
    let mirror: Vec<_> = v
        .resources
        .iter()
        .filter(|r| r.agent == "ocf:san:iscsi-mirror")
        .collect();
    assert_eq!(mirror.len(), 2, "{:?}", v.resources);
    assert!(mirror
        .iter()
        .all(|r| r.clone.is_some() && r.role == "Started" && r.active));

    assert_eq!(fixture("two-node-no-dc.xml").dc, None);
    assert_eq!(
        fixture("two-node-peer-offline-no-quorum.xml").quorate,
        Some(false)
    );

    let failed = fixture("two-node-monitor-failed.xml");
    let f = failed
        .failures
        .iter()
        .find(|f| f.node == "storage-b")
        .expect("a failure on storage-b");
    assert_eq!(f.task, "monitor");
    assert!(!f.exitreason.is_empty());
    assert!(failed.resources.iter().any(|r| r.failed));

    let live = fixture("live-one-node-monitor-failed.xml");
    assert!(live.failures.iter().any(|f| !f.exitreason.is_empty()));
}

#[test]
fn the_no_cluster_document_says_why() {
    let v = fixture("live-no-cluster.xml");
    assert!(v.reason.unwrap().contains("Not connected"));
    let v = fixture("live-one-node-own-corosync-dead.xml");
    assert!(v.reason.unwrap().contains("Could not connect to the CIB"));
}

#[test]
fn every_fixture_validates_against_pacemaker_s_own_schema() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/crm_mon");
    let api = Path::new("/usr/share/pacemaker/api/api-result.rng");
    let legacy = Path::new("/usr/share/pacemaker/crm_mon.rng");
    assert!(api.exists() && legacy.exists(), "install pacemaker (its schemas)");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("xml") {
            continue;
        }
        let schema = if path.to_string_lossy().ends_with("-legacy.xml") {
            legacy
        } else {
            api
        };
        let out = std::process::Command::new("xmllint")
            .args(["--noout", "--relaxng"])
            .arg(schema)
            .arg(&path)
            .output()
            .expect("xmllint (libxml2-utils)");
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
