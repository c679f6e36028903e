//! The mirror's state in Prometheus' text exposition format: for `status --prometheus`, and
//! for the node_exporter textfile the monitor keeps (rewritten only when a value changed,
//! without a child process). Labels are bounded: node, resource, peer, target, portal,
//! pool, vdev, and enumerations (state, colour, code), never prose.

use std::fmt::Write as _;

use crate::decide::verdict::{Health, Kind, Verdict};
use crate::observe::Snapshot;
use crate::state::InstanceState;
use crate::zfs::{Reading, Scan};

/// Everything the exposition is made of.
pub struct Input<'a> {
    pub resource: &'a str,
    pub snap: &'a Snapshot,
    pub verdict: &'a Verdict,
    /// The outdated marks known: from the CIB (status) or this agent's own (monitor).
    pub outdated: &'a [String],
}

fn esc(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

struct Out {
    text: String,
    declared: Vec<&'static str>,
}

impl Out {
    fn metric(&mut self, name: &'static str, kind: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        if !self.declared.contains(&name) {
            self.declared.push(name);
            let _ = writeln!(self.text, "# HELP {name} {help}");
            let _ = writeln!(self.text, "# TYPE {name} {kind}");
        }
        let l: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", esc(v)))
            .collect();
        if l.is_empty() {
            let _ = writeln!(self.text, "{name} {value}");
        } else {
            let _ = writeln!(self.text, "{name}{{{}}} {value}", l.join(","));
        }
    }
}

const PATH_STATES: &[&str] = &["LOGGED_IN", "FAILED", "FREE", "MISSING"];

pub fn render(i: &Input) -> String {
    let mut o = Out {
        text: String::new(),
        declared: Vec::new(),
    };
    let node = i.snap.node.as_str();
    let base = [("node", node), ("resource", i.resource)];
    for kind in [Kind::Healthy, Kind::Degraded, Kind::Failed, Kind::NotRunning] {
        let mut l = base.to_vec();
        l.push(("verdict", kind.as_str()));
        o.metric(
            "iscsi_mirror_verdict",
            "gauge",
            "1 for the mirror's current verdict (healthy, degraded, failed, not_running).",
            &l,
            f64::from(u8::from(i.verdict.kind == kind)),
        );
    }
    let health = Health::of(i.verdict);
    for colour in [Health::Green, Health::Yellow, Health::Red] {
        let mut l = base.to_vec();
        l.push(("colour", colour.as_str()));
        o.metric(
            "iscsi_mirror_health",
            "gauge",
            "1 for the health the monitor publishes as #health-iscsi-mirror.",
            &l,
            f64::from(u8::from(health == Some(colour))),
        );
    }
    let mut codes: Vec<&str> = i.verdict.reasons.iter().map(|r| r.code()).collect();
    codes.sort();
    codes.dedup();
    for code in codes {
        let mut l = base.to_vec();
        l.push(("code", code));
        o.metric(
            "iscsi_mirror_reason",
            "gauge",
            "1 for each reason the verdict gives (bounded codes; the prose is in status).",
            &l,
            1.0,
        );
    }
    let state: Option<&InstanceState> = i.snap.state.state();
    for leg in &i.snap.legs {
        let peer = leg.leg.label();
        for p in &leg.paths {
            let target = p.path.target.to_string();
            let portal = p.path.portal.to_string();
            let now = p.session.as_ref().map(|s| s.state.as_str()).unwrap_or("MISSING");
            for st in PATH_STATES {
                o.metric(
                    "iscsi_mirror_path_state",
                    "gauge",
                    "1 for the kernel state of each path's session (MISSING: none).",
                    &[
                        ("node", node),
                        ("peer", &peer),
                        ("target", &target),
                        ("portal", &portal),
                        ("state", st),
                    ],
                    f64::from(u8::from(now == *st)),
                );
            }
            let record = state.and_then(|s| s.record(&p.path));
            let labels = [
                ("node", node),
                ("peer", peer.as_str()),
                ("target", target.as_str()),
                ("portal", portal.as_str()),
            ];
            if let Some(t) = record.and_then(|r| r.up_since_ms) {
                o.metric(
                    "iscsi_mirror_path_up_since_timestamp_seconds",
                    "gauge",
                    "When the path's current session was first seen logged in (its last (re)connect).",
                    &labels,
                    (t / 1000) as f64,
                );
            }
            o.metric(
                "iscsi_mirror_reconnect_failures",
                "gauge",
                "Failed reconnect attempts in a row for the path (0: none pending).",
                &labels,
                f64::from(record.map(|r| r.backoff.failures).unwrap_or(0)),
            );
        }
    }
    if let Some(p) = &i.snap.pool {
        let pool = p.name.as_str();
        o.metric(
            "iscsi_mirror_pool_imported",
            "gauge",
            "1 when the pool is imported on this node.",
            &[("node", node), ("pool", pool)],
            f64::from(u8::from(!matches!(p.reading, Reading::NotImported))),
        );
        if let Reading::Status(s) = &p.reading {
            for v in s.leaves() {
                o.metric(
                    "iscsi_mirror_pool_vdev_online",
                    "gauge",
                    "1 when the leaf vdev is ONLINE.",
                    &[
                        ("node", node),
                        ("pool", pool),
                        ("vdev", &v.name),
                        ("state", &v.state),
                    ],
                    f64::from(u8::from(v.state == "ONLINE")),
                );
            }
            let (running, pct, eta) = match &s.scan {
                Scan::Resilvering { percent, eta_s } => (1.0, *percent, *eta_s),
                _ => (0.0, None, None),
            };
            o.metric(
                "iscsi_mirror_pool_resilvering",
                "gauge",
                "1 while a resilver runs.",
                &[("node", node), ("pool", pool)],
                running,
            );
            if let Some(pct) = pct {
                o.metric(
                    "iscsi_mirror_pool_resilver_percent",
                    "gauge",
                    "How far the running resilver is, in percent.",
                    &[("node", node), ("pool", pool)],
                    (pct * 100.0).round() / 100.0,
                );
            }
            if let Some(eta) = eta {
                o.metric(
                    "iscsi_mirror_pool_resilver_remaining_seconds",
                    "gauge",
                    "ZFS's estimate of the running resilver's time left.",
                    &[("node", node), ("pool", pool)],
                    eta as f64,
                );
            }
        }
    } else if let Some(st) = state.filter(|s| s.hook.is_some()) {
        // Not read this time: what the last reading concluded.
        let pool = st.hook.as_ref().map(|h| h.pool.as_str()).unwrap_or("");
        o.metric(
            "iscsi_mirror_pool_whole",
            "gauge",
            "1 when the last reading found every vdev ONLINE and no resilver (or the pool is not here).",
            &[("node", node), ("pool", pool)],
            f64::from(u8::from(st.pool.whole)),
        );
    }
    let mut marked: Vec<&String> = i.outdated.iter().collect();
    marked.sort();
    marked.dedup();
    for n in marked {
        o.metric(
            "iscsi_mirror_outdated",
            "gauge",
            "1 for a node whose half of the mirror is marked outdated (iscsi-mirror-outdated).",
            &[("node", n)],
            1.0,
        );
    }
    o.text
}

/// Writes the textfile when its content changed: read, compare, write to a temporary file
/// and rename (node_exporter never sees half a file). No child process.
pub fn write_textfile(path: &std::path::Path, text: &str) -> std::io::Result<bool> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(false);
    }
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Leg, Membership};
    use crate::decide::verdict::Reason;
    use crate::iscsi::sysfs::{Session, SessionState};
    use crate::observe::{LegFacts, PathFacts};
    use crate::state::Loaded;
    use crate::target::{Iqn, Path, Portal};

    fn snap(state: SessionState) -> Snapshot {
        let path = Path {
            target: Iqn::parse("iqn.2025-01.lab.home:storage-b").unwrap(),
            portal: Portal::parse("10.10.10.2:3260").unwrap(),
        };
        Snapshot {
            node: "storage-a".into(),
            membership: Membership::Member,
            state: Loaded::Absent,
            legs: vec![LegFacts {
                leg: Leg {
                    node: Some("storage-b".into()),
                    target: path.target.clone(),
                    portals: vec![path.portal.clone()],
                },
                paths: vec![PathFacts {
                    session: Some(Session {
                        sid: 1,
                        target: path.target.to_string(),
                        state,
                        recovery_tmo: Some(5),
                        connections: vec![],
                        disks: vec![],
                    }),
                    path,
                    reachable: None,
                }],
            }],
            cluster: None,
            pool: None,
            network: None,
            now_ms: 0,
        }
    }

    #[test]
    fn the_exposition_is_well_formed_and_bounded() {
        let v = Verdict::because(Reason::StorageNetworkDown {
            leg: "storage-b".into(),
            cluster: crate::cluster::PeerState::Online,
            down: vec!["10.10.10.2:3260 FAILED".into()],
        });
        let text = render(&Input {
            resource: "san-mirror",
            snap: &snap(SessionState::Failed),
            verdict: &v,
            outdated: &["storage-b".to_string()],
        });
        assert!(text.contains(
            "iscsi_mirror_verdict{node=\"storage-a\",resource=\"san-mirror\",verdict=\"degraded\"} 1"
        ));
        assert!(text
            .contains("iscsi_mirror_health{node=\"storage-a\",resource=\"san-mirror\",colour=\"yellow\"} 1"));
        assert!(text.contains(
            "iscsi_mirror_reason{node=\"storage-a\",resource=\"san-mirror\",code=\"storage_network_down\"} 1"
        ));
        assert!(text.contains("state=\"FAILED\"} 1"));
        assert!(text.contains("iscsi_mirror_outdated{node=\"storage-b\"} 1"));
        // Every sample line belongs to a declared metric; no prose in any label.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(text.contains(&format!("# TYPE {name} gauge")), "{line}");
            assert!(!line.contains("cannot help"), "{line}");
        }
    }

    #[test]
    fn the_textfile_is_rewritten_only_when_it_changes() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("iscsi_mirror.prom");
        assert!(write_textfile(&f, "a 1\n").unwrap());
        assert!(!write_textfile(&f, "a 1\n").unwrap());
        assert!(write_textfile(&f, "a 2\n").unwrap());
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "a 2\n");
    }
}

#[cfg(test)]
mod rules {
    /// The shipped alerting rules use only metrics (and labels) the exporter produces.
    #[test]
    fn the_sample_alert_rules_use_metrics_that_exist() {
        let rules = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/prometheus/iscsi-mirror-alerts.yml"
        ))
        .unwrap();
        let source = include_str!("metrics.rs");
        let mut checked = 0;
        for word in rules.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with("iscsi_mirror_") {
                assert!(source.contains(&format!("\"{word}\"")), "{word} is not exported");
                checked += 1;
            }
        }
        assert!(checked >= 6, "{checked}");
    }
}
