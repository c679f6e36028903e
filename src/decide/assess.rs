//! Judgements of one `Snapshot`, without I/O: the monitor's, status's and doctor's
//! verdicts all come from here, so they can never disagree about the same facts.

use serde::Serialize;

use crate::cluster::crm_mon::ClusterView;
use crate::cluster::PeerState;
use crate::decide::monitor::{self as table, Judgement, LegView, PathState, PathView};
use crate::decide::verdict::{Reason, Verdict};
use crate::iscsi::sysfs::SessionState;
use crate::observe::{LegFacts, PathFacts, Snapshot};

pub fn path_state(p: &PathFacts) -> PathState {
    match &p.session {
        Some(s) if s.state == SessionState::LoggedIn => PathState::LoggedIn,
        Some(_) => PathState::Recovering,
        None => PathState::Missing,
    }
}

/// A leg as the monitor table sees it: the cluster's view of its peer and each path's
/// kernel state and reachability.
pub fn leg_view(facts: &LegFacts, cluster: Option<&ClusterView>) -> LegView {
    let peer = match cluster {
        Some(c) => c.peer_state(facts.leg.node.as_deref()),
        None => PeerState::Unknown,
    };
    LegView {
        label: facts.leg.label(),
        peer,
        paths: facts
            .paths
            .iter()
            .map(|p| PathView {
                label: format!("{} {}", p.path.portal, p.kernel_state()),
                state: path_state(p),
                reachable: p.reachable,
            })
            .collect(),
    }
}

/// What can be said before asking the cluster: a node that is not a member, a whole set
/// of legs, nothing of ours, or a probe (which judges nothing more). `None`: the cluster
/// must be asked.
pub fn before_cluster(snap: &Snapshot, probe: bool) -> Option<Verdict> {
    if let Some(why) = snap.membership.reason() {
        // Nothing of this resource can run here; Pacemaker probes every node.
        return Some(Verdict {
            reasons: vec![Reason::NotMember { why }],
            ..Verdict::not_running()
        });
    }
    if snap.all_up() {
        return Some(Verdict::healthy());
    }
    if !snap.state.started() && snap.nothing_logged_in() {
        return Some(Verdict::not_running());
    }
    if probe {
        let down: Vec<String> = snap
            .all_paths()
            .filter(|p| !p.logged_in())
            .map(|p| format!("{} {}", p.path.portal, p.kernel_state()))
            .collect();
        return Some(Verdict::because(Reason::ProbeLegDown { paths: down }));
    }
    None
}

/// Each leg judged with whatever the snapshot holds of the cluster and reachability.
pub fn legs(snap: &Snapshot) -> Vec<(LegView, Judgement)> {
    let started = snap.state.started();
    snap.legs
        .iter()
        .map(|l| {
            let view = leg_view(l, snap.cluster.as_ref());
            let j = table::judge(&view, started);
            (view, j)
        })
        .collect()
}

/// The (leg, path) pairs whose reachability decides their judgement.
pub fn reachability_needed(judged: &[(LegView, Judgement)]) -> Vec<(usize, usize)> {
    judged
        .iter()
        .enumerate()
        .flat_map(|(l, (view, j))| match j {
            Judgement::Reconnect(paths) => paths
                .iter()
                .filter(|p| view.paths[**p].reachable.is_none())
                .map(|p| (l, *p))
                .collect(),
            Judgement::Done(_) => Vec::new(),
        })
        .collect()
}

/// One leg in a report: its view and verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LegReport {
    pub peer: String,
    pub peer_state: PeerState,
    #[serde(skip)]
    pub view: LegView,
    pub verdict: Verdict,
}

/// The judgement of a snapshot. A leg the monitor would log in again carries the verdict
/// "reconnect due" and is listed in `reconnect` (leg index, path indices): the monitor
/// acts on those and replaces their verdicts; status and doctor report them as they are.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    pub legs: Vec<LegReport>,
    pub verdict: Verdict,
    #[serde(skip)]
    pub reconnect: Vec<(usize, Vec<usize>)>,
}

impl Assessment {
    /// The overall verdict again, after the monitor replaced some legs' verdicts.
    pub fn recombine(&mut self) {
        if self.legs.is_empty() || self.verdict.reasons.iter().any(|r| r.code() == "not_member") {
            return;
        }
        self.verdict = Verdict::combine(&self.legs.iter().map(|l| l.verdict.clone()).collect::<Vec<_>>());
    }
}

/// Whether the cluster must be asked before judging (see `before_cluster`).
pub fn needs_cluster(snap: &Snapshot, probe: bool) -> bool {
    before_cluster(snap, probe).is_none() && snap.cluster.is_none()
}

/// The one judgement of a snapshot that monitor, status and doctor share.
pub fn assess(snap: &Snapshot, probe: bool) -> Assessment {
    let judged = legs(snap);
    let early = before_cluster(snap, probe);
    let mut reconnect = Vec::new();
    let reports: Vec<LegReport> = judged
        .into_iter()
        .enumerate()
        .map(|(i, (view, j))| {
            let verdict = match (&early, j) {
                (Some(v), _) if v.kind == crate::decide::verdict::Kind::Healthy || view.all_up() => {
                    Verdict::healthy()
                }
                (Some(v), _) => v.clone(),
                (None, Judgement::Done(v)) => v,
                (None, Judgement::Reconnect(paths)) => {
                    let due = Verdict::because(Reason::ReconnectDue {
                        leg: view.label.clone(),
                        paths: paths.iter().map(|p| view.paths[*p].label.clone()).collect(),
                    });
                    reconnect.push((i, paths));
                    due
                }
            };
            LegReport {
                peer: view.label.clone(),
                peer_state: view.peer,
                view,
                verdict,
            }
        })
        .collect();
    let verdict = match early {
        Some(v) => v,
        None if reports.is_empty() => Verdict::not_running(),
        None => Verdict::combine(&reports.iter().map(|r| r.verdict.clone()).collect::<Vec<_>>()),
    };
    Assessment {
        legs: reports,
        verdict,
        reconnect,
    }
}

#[cfg(test)]
mod tests {
    //! Every row of the monitor table, from hand-built snapshots: no processes, no root.
    use super::*;
    use crate::cluster::crm_mon::{ClusterView, Node};
    use crate::config::{Leg, Membership};
    use crate::decide::verdict::Kind;
    use crate::iscsi::sysfs::{Connection, Session};
    use crate::state::{InstanceState, Loaded};
    use crate::target::{Iqn, Path, Portal};

    fn path(port: u16) -> Path {
        Path {
            target: Iqn::parse("iqn.2025-01.lab.home:storage-b").unwrap(),
            portal: Portal::parse(&format!("10.10.10.2:{port}")).unwrap(),
        }
    }

    fn session(p: &Path, state: SessionState) -> Session {
        Session {
            sid: u32::from(p.portal.port),
            target: p.target.to_string(),
            state,
            recovery_tmo: Some(5),
            connections: vec![Connection {
                name: "connection1:0".into(),
                persistent_address: p.portal.address(),
                persistent_port: p.portal.port,
                address: p.portal.address(),
                port: p.portal.port,
                state: "LOGGED IN".into(),
                recv_tmo: Some(2),
                ping_tmo: Some(2),
            }],
            disks: vec![],
        }
    }

    /// storage-a's view of its leg to storage-b, one session state per path.
    fn snap(started: bool, paths: &[Option<SessionState>], peer: Option<Node>) -> Snapshot {
        let ps: Vec<Path> = (0..paths.len()).map(|i| path(3260 + i as u16)).collect();
        let facts = ps
            .iter()
            .zip(paths)
            .map(|(p, s)| PathFacts {
                path: p.clone(),
                session: s.clone().map(|st| session(p, st)),
                reachable: None,
            })
            .collect();
        Snapshot {
            node: "storage-a".into(),
            membership: Membership::Member,
            state: if started {
                Loaded::Present(Box::new(InstanceState {
                    started: true,
                    ..Default::default()
                }))
            } else {
                Loaded::Absent
            },
            legs: vec![LegFacts {
                leg: Leg {
                    node: Some("storage-b".into()),
                    target: ps[0].target.clone(),
                    portals: ps.iter().map(|p| p.portal.clone()).collect(),
                },
                paths: facts,
            }],
            cluster: peer.map(|b| ClusterView {
                known: true,
                nodes: vec![
                    Node {
                        name: "storage-a".into(),
                        online: true,
                        ..Default::default()
                    },
                    b,
                ],
                ..Default::default()
            }),
            pool: None,
            network: None,
            now_ms: 0,
        }
    }

    fn node_b(online: bool, f: impl FnOnce(&mut Node)) -> Option<Node> {
        let mut n = Node {
            name: "storage-b".into(),
            online,
            ..Default::default()
        };
        f(&mut n);
        Some(n)
    }

    use SessionState::*;

    #[test]
    fn healthy_needs_no_cluster() {
        let s = snap(true, &[Some(LoggedIn)], None);
        assert_eq!(before_cluster(&s, false), Some(Verdict::healthy()));
        assert_eq!(assess(&s, false).verdict.kind, Kind::Healthy);
    }

    #[test]
    fn never_started_and_nothing_logged_in_is_not_running() {
        let s = snap(false, &[None], node_b(true, |_| {}));
        assert_eq!(before_cluster(&s, false).unwrap().kind, Kind::NotRunning);
        assert_eq!(assess(&s, false).verdict.kind, Kind::NotRunning);
    }

    #[test]
    fn a_probe_reports_the_leg_down_and_asks_nothing() {
        let s = snap(true, &[Some(Failed)], None);
        let v = before_cluster(&s, true).unwrap();
        assert_eq!((v.kind, v.reasons[0].code()), (Kind::Degraded, "probe_leg_down"));
        assert_eq!(before_cluster(&s, false), None, "a monitor must ask the cluster");
    }

    #[test]
    fn cluster_rows_offline_unclean_standby_shutdown_are_expected() {
        for peer in [
            node_b(false, |_| {}),
            node_b(false, |n| n.unclean = true),
            node_b(true, |n| n.standby = true),
            node_b(true, |n| n.shutdown = true),
        ] {
            let s = snap(true, &[Some(Free)], peer);
            let v = assess(&s, false).verdict;
            assert_eq!(
                (v.kind, v.reasons[0].code()),
                (Kind::Degraded, "peer_away"),
                "{v:?}"
            );
        }
    }

    #[test]
    fn cluster_row_online_unreachable_is_storage_network_down() {
        let mut s = snap(true, &[None], node_b(true, |_| {}));
        let judged = legs(&s);
        assert_eq!(reachability_needed(&judged), vec![(0, 0)]);
        s.legs[0].paths[0].reachable = Some(false);
        let v = assess(&s, false).verdict;
        assert_eq!(v.reasons[0].code(), "storage_network_down");
        assert!(v.describe().unwrap().contains("peer online"));
    }

    #[test]
    fn cluster_row_online_reachable_is_a_reconnect() {
        let mut s = snap(true, &[None], node_b(true, |_| {}));
        s.legs[0].paths[0].reachable = Some(true);
        assert!(matches!(legs(&s)[0].1, Judgement::Reconnect(ref p) if p == &vec![0]));
        let a = assess(&s, false);
        assert_eq!(a.legs[0].verdict.reasons[0].code(), "reconnect_due");
    }

    #[test]
    fn cluster_row_unknown_judges_by_reachability() {
        let mut s = snap(true, &[None], None);
        s.cluster = Some(ClusterView::unknown("crm_mon: not found"));
        s.legs[0].paths[0].reachable = Some(false);
        let v = assess(&s, false).verdict;
        assert!(v.describe().unwrap().contains("cluster state unknown"), "{v:?}");
    }

    #[test]
    fn cluster_row_peer_not_a_member() {
        let mut s = snap(true, &[None], node_b(true, |_| {}));
        s.cluster.as_mut().unwrap().nodes.pop();
        s.legs[0].paths[0].reachable = Some(false);
        let v = assess(&s, false).verdict;
        assert!(v.describe().unwrap().contains("peer not a cluster node"), "{v:?}");
    }

    #[test]
    fn some_paths_down_is_degraded_whatever_the_cluster() {
        let s = snap(true, &[Some(LoggedIn), Some(Failed)], node_b(false, |_| {}));
        let v = assess(&s, false).verdict;
        assert_eq!(v.reasons[0].code(), "paths_down");
    }

    #[test]
    fn a_node_outside_peers_runs_nothing_and_says_why() {
        let mut s = snap(false, &[None], None);
        s.legs.clear();
        s.membership = Membership::NotListed {
            node: "quorum".into(),
            listed: vec!["storage-a".into(), "storage-b".into()],
        };
        let v = before_cluster(&s, true).unwrap();
        assert_eq!(v.kind, Kind::NotRunning);
        assert!(v.describe().unwrap().contains("quorum"));
    }

    /// Monitor, agent status, CLI status and metrics are renderings of one assessment:
    /// fed the same snapshot, they say the same thing, row by row of the monitor table.
    #[test]
    fn every_rendering_agrees_on_every_row() {
        let mut rows: Vec<(&str, Snapshot)> = vec![
            ("all up", snap(true, &[Some(LoggedIn), Some(LoggedIn)], None)),
            (
                "some down",
                snap(true, &[Some(LoggedIn), Some(Failed)], node_b(true, |_| {})),
            ),
            ("never started", snap(false, &[None], node_b(true, |_| {}))),
            ("peer offline", snap(true, &[Some(Free)], node_b(false, |_| {}))),
            (
                "peer standby",
                snap(true, &[None], node_b(true, |n| n.standby = true)),
            ),
            ("unreachable", snap(true, &[None], node_b(true, |_| {}))),
            ("reconnect due", snap(true, &[None], node_b(true, |_| {}))),
            ("cluster unknown", snap(true, &[None], None)),
        ];
        rows[5].1.legs[0].paths[0].reachable = Some(false);
        rows[6].1.legs[0].paths[0].reachable = Some(true);
        rows[7].1.cluster = Some(ClusterView::unknown("crm_mon: not found"));
        rows[7].1.legs[0].paths[0].reachable = Some(false);
        let env = crate::ocf::Env::from_pairs([("OCF_RA_VERSION_MAJOR", "1"), ("OCF_RA_VERSION_MINOR", "1")]);
        for (row, s) in &rows {
            let a = assess(s, false);
            let status = crate::report::status::build("mirror", s, &a, None, None);
            assert_eq!(status.verdict, a.verdict.kind, "{row}");
            assert_eq!(status.reason, a.verdict.describe(), "{row}");
            let ocf = crate::ocf::encode(&env, &a.verdict);
            assert_eq!(ocf.status.code(), status.ocf_exit_code, "{row}");
            if let Some(why) = a.verdict.describe() {
                assert_eq!(ocf.reason.as_deref(), Some(why.as_str()), "{row}");
            }
            let metrics = crate::report::metrics::render(&crate::report::metrics::Input {
                resource: "mirror",
                snap: s,
                verdict: &a.verdict,
                outdated: &[],
            });
            assert!(
                metrics.contains(&format!("verdict=\"{}\"}} 1", a.verdict.kind.as_str())),
                "{row}: {metrics}"
            );
            if let Some(h) = crate::decide::verdict::Health::of(&a.verdict) {
                assert!(
                    metrics.contains(&format!("colour=\"{}\"}} 1", h.as_str())),
                    "{row}"
                );
            }
            for r in &a.verdict.reasons {
                assert!(metrics.contains(&format!("code=\"{}\"}} 1", r.code())), "{row}");
            }
            // The monitor acts only on what the same assessment lists, and judges the rest alike.
            assert_eq!(a.reconnect.is_empty(), *row != "reconnect due", "{row}");
        }
    }
}
