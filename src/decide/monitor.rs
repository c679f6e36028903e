//! The monitor table of PRODUCT.md: a leg's sessions judged by what the cluster knows.

use crate::cluster::PeerState;

/// One path's kernel state, plus reachability when it was worth checking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathView {
    /// "IQN via PORTAL"
    pub label: String,
    pub state: PathState,
    /// `None`: not checked (path up, or the peer's state already explains it).
    pub reachable: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathState {
    LoggedIn,
    /// A session exists but is not LOGGED_IN (FAILED, FREE): the kernel is recovering.
    Recovering,
    /// No session at all.
    Missing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegView {
    /// "peer storage-b (iqn...)"
    pub label: String,
    pub peer: PeerState,
    pub paths: Vec<PathView>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Healthy,
    /// 190: the mirror runs on fewer legs than it should; the reason says why.
    Degraded(String),
    /// Never started here and nothing logged in.
    NotRunning,
    /// Down while the peer is up (or unknown) and these paths' portals answer: log in again.
    Reconnect(Vec<usize>),
    /// 1: a restart is the remedy.
    Failed(String),
}

impl LegView {
    fn down(&self) -> impl Iterator<Item = (usize, &PathView)> {
        self.paths
            .iter()
            .enumerate()
            .filter(|(_, p)| p.state != PathState::LoggedIn)
    }

    /// Which down paths need a reachability check before `judge` can decide.
    pub fn needs_reachability(&self) -> Vec<usize> {
        let all_down = self.down().count() == self.paths.len();
        if !all_down || self.peer.expects_leg_down() {
            return Vec::new();
        }
        self.down()
            .filter(|(_, p)| p.reachable.is_none())
            .map(|(i, _)| i)
            .collect()
    }
}

fn list(paths: &[&PathView]) -> String {
    paths
        .iter()
        .map(|p| p.label.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Judges one leg. `started`: the resource was started on this node (state file).
pub fn judge(leg: &LegView, started: bool) -> Verdict {
    let down: Vec<&PathView> = leg.down().map(|(_, p)| p).collect();
    if down.is_empty() {
        return Verdict::Healthy;
    }
    if down.len() < leg.paths.len() {
        return Verdict::Degraded(format!(
            "{}: {} of {} paths down: {}",
            leg.label,
            down.len(),
            leg.paths.len(),
            list(&down)
        ));
    }
    if !started && down.iter().all(|p| p.state == PathState::Missing) {
        return Verdict::NotRunning;
    }
    if leg.peer.expects_leg_down() {
        return Verdict::Degraded(format!(
            "{} is {}: leg down as expected ({}); no reconnect until it returns",
            leg.label,
            leg.peer.describe(),
            list(&down)
        ));
    }
    let reachable: Vec<usize> = leg
        .paths
        .iter()
        .enumerate()
        .filter(|(_, p)| p.state != PathState::LoggedIn && p.reachable == Some(true))
        .map(|(i, _)| i)
        .collect();
    if !reachable.is_empty() {
        return Verdict::Reconnect(reachable);
    }
    let cluster = match leg.peer {
        PeerState::Unknown => "cluster state unknown".to_string(),
        other => format!("peer {}", other.describe()),
    };
    Verdict::Degraded(format!(
        "{} unreachable ({}; {cluster}): storage network down, a restart cannot help",
        leg.label,
        list(&down)
    ))
}

/// After a reconnect attempt: up again is healthy, anything else calls for a restart.
pub fn judge_after_reconnect(leg: &LegView, attempted: &[(usize, Option<String>)]) -> Verdict {
    let still_down: Vec<String> = attempted
        .iter()
        .filter(|(i, _)| leg.paths.get(*i).is_some_and(|p| p.state != PathState::LoggedIn))
        .map(|(i, why)| match why {
            Some(w) => w.clone(),
            None => format!("{} still not logged in", leg.paths[*i].label),
        })
        .collect();
    if still_down.is_empty() {
        return judge(leg, true);
    }
    if leg.paths.iter().any(|p| p.state == PathState::LoggedIn) {
        return Verdict::Degraded(format!(
            "{}: reconnect failed: {}",
            leg.label,
            still_down.join("; ")
        ));
    }
    Verdict::Failed(format!("{}; restart needed", still_down.join("; ")))
}

/// The resource's result: the worst leg wins; not running only if no leg runs.
pub fn overall(verdicts: &[Verdict]) -> Verdict {
    if let Some(f) = verdicts.iter().find(|v| matches!(v, Verdict::Failed(_))) {
        return f.clone();
    }
    if verdicts.iter().all(|v| *v == Verdict::NotRunning) && !verdicts.is_empty() {
        return Verdict::NotRunning;
    }
    let degraded: Vec<&str> = verdicts
        .iter()
        .filter_map(|v| match v {
            Verdict::Degraded(r) => Some(r.as_str()),
            Verdict::NotRunning => Some("a leg is not logged in"),
            _ => None,
        })
        .collect();
    if degraded.is_empty() {
        Verdict::Healthy
    } else {
        Verdict::Degraded(degraded.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PathState::*;

    fn leg(peer: PeerState, paths: &[(PathState, Option<bool>)]) -> LegView {
        LegView {
            label: "storage-b".into(),
            peer,
            paths: paths
                .iter()
                .enumerate()
                .map(|(i, (s, r))| PathView {
                    label: format!("path{i}"),
                    state: *s,
                    reachable: *r,
                })
                .collect(),
        }
    }

    #[test]
    fn row_all_paths_logged_in_is_healthy_whatever_the_cluster_says() {
        for peer in [
            PeerState::Online,
            PeerState::Offline,
            PeerState::Unknown,
            PeerState::Unclean,
        ] {
            assert_eq!(
                judge(&leg(peer, &[(LoggedIn, None), (LoggedIn, None)]), true),
                Verdict::Healthy
            );
        }
    }

    #[test]
    fn row_some_paths_down_is_degraded_and_names_them() {
        for peer in [PeerState::Online, PeerState::Offline, PeerState::Unknown] {
            match judge(&leg(peer, &[(LoggedIn, None), (Recovering, None)]), true) {
                Verdict::Degraded(r) => assert!(r.contains("path1") && r.contains("1 of 2"), "{r}"),
                v => panic!("{v:?}"),
            }
        }
    }

    #[test]
    fn row_never_started_and_nothing_logged_in_is_not_running() {
        for peer in [PeerState::Online, PeerState::Offline, PeerState::Unknown] {
            assert_eq!(judge(&leg(peer, &[(Missing, None)]), false), Verdict::NotRunning);
        }
    }

    #[test]
    fn row_down_with_peer_away_is_expected_degraded_without_reconnect() {
        for peer in [
            PeerState::Offline,
            PeerState::Unclean,
            PeerState::Standby,
            PeerState::ShuttingDown,
            PeerState::Pending,
        ] {
            let l = leg(peer, &[(Missing, None)]);
            assert!(l.needs_reachability().is_empty());
            match judge(&l, true) {
                Verdict::Degraded(r) => {
                    assert!(r.contains("as expected") && r.contains(peer.describe()), "{r}")
                }
                v => panic!("{peer:?}: {v:?}"),
            }
        }
    }

    #[test]
    fn row_down_peer_online_unreachable_is_degraded_network() {
        for peer in [PeerState::Online, PeerState::Maintenance, PeerState::Unknown] {
            let l = leg(peer, &[(Recovering, Some(false)), (Missing, Some(false))]);
            match judge(&l, true) {
                Verdict::Degraded(r) => {
                    assert!(r.contains("storage network") && r.contains("cannot help"), "{r}")
                }
                v => panic!("{v:?}"),
            }
        }
        let r = match judge(&leg(PeerState::Unknown, &[(Missing, Some(false))]), true) {
            Verdict::Degraded(r) => r,
            v => panic!("{v:?}"),
        };
        assert!(r.contains("cluster state unknown"), "{r}");
    }

    #[test]
    fn row_down_peer_online_reachable_reconnects_the_reachable_paths() {
        let l = leg(PeerState::Online, &[(Missing, None), (Recovering, None)]);
        assert_eq!(l.needs_reachability(), vec![0, 1]);
        let l = leg(
            PeerState::Online,
            &[(Missing, Some(true)), (Recovering, Some(false))],
        );
        assert_eq!(judge(&l, true), Verdict::Reconnect(vec![0]));
        let unknown = leg(PeerState::Unknown, &[(Missing, Some(true))]);
        assert_eq!(judge(&unknown, true), Verdict::Reconnect(vec![0]));
    }

    #[test]
    fn after_reconnect_success_is_healthy_and_failure_asks_for_a_restart() {
        let up = leg(PeerState::Online, &[(LoggedIn, Some(true))]);
        assert_eq!(judge_after_reconnect(&up, &[(0, None)]), Verdict::Healthy);
        let down = leg(PeerState::Online, &[(Missing, Some(true))]);
        match judge_after_reconnect(&down, &[(0, Some("login refused".into()))]) {
            Verdict::Failed(r) => assert!(r.contains("login refused") && r.contains("restart"), "{r}"),
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn overall_takes_the_worst_leg() {
        assert_eq!(overall(&[Verdict::Healthy, Verdict::Healthy]), Verdict::Healthy);
        assert_eq!(overall(&[Verdict::NotRunning]), Verdict::NotRunning);
        assert!(matches!(
            overall(&[Verdict::Healthy, Verdict::Degraded("x".into())]),
            Verdict::Degraded(_)
        ));
        assert!(matches!(
            overall(&[Verdict::Degraded("x".into()), Verdict::Failed("y".into())]),
            Verdict::Failed(_)
        ));
        assert!(matches!(
            overall(&[Verdict::Healthy, Verdict::NotRunning]),
            Verdict::Degraded(_)
        ));
    }
}
