//! The monitor table of PRODUCT.md: a leg's sessions judged by what the cluster knows.

use std::time::Duration;

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
        PeerState::NotMember => "peer not a cluster node".to_string(),
        other => format!("peer {}", other.describe()),
    };
    Verdict::Degraded(format!(
        "{} unreachable ({}; {cluster}): storage network down, a restart cannot help",
        leg.label,
        list(&down)
    ))
}

/// How long the kernel may keep reconnecting a FAILED session to a peer that is up and
/// answers before a restart is called for. iscsid retries on its own; on a real kernel a
/// session came back 1.4-2.5 s after the link did (failure-timeline.txt).
pub const KERNEL_RECOVERY_GRACE: Duration = Duration::from_secs(30);

/// After a reconnect attempt: up again is healthy; a session the kernel is still
/// recovering within the grace is degraded; anything else calls for a restart.
/// `attempted`: the paths tried, with why a login failed; `recovering_for`: how long each
/// still-recovering path has been down while its portal answered.
pub fn judge_after_reconnect(
    leg: &LegView,
    attempted: &[(usize, Option<String>)],
    recovering_for: &[(usize, Duration)],
) -> Verdict {
    let down = |i: usize| leg.paths.get(i).is_some_and(|p| p.state != PathState::LoggedIn);
    let within_grace = |i: usize| {
        leg.paths.get(i).is_some_and(|p| p.state == PathState::Recovering)
            && recovering_for
                .iter()
                .any(|(j, d)| *j == i && *d < KERNEL_RECOVERY_GRACE)
    };
    let failed: Vec<String> = attempted
        .iter()
        .filter(|(i, why)| down(*i) && (why.is_some() || !within_grace(*i)))
        .map(|(i, why)| match why {
            Some(w) => w.clone(),
            None => format!("{} still not logged in", leg.paths[*i].label),
        })
        .collect();
    let waiting: Vec<String> = attempted
        .iter()
        .filter(|(i, why)| down(*i) && why.is_none() && within_grace(*i))
        .map(|(i, _)| {
            let secs = recovering_for
                .iter()
                .find(|(j, _)| j == i)
                .map(|(_, d)| d.as_secs())
                .unwrap_or(0);
            format!("{} for {secs} s", leg.paths[*i].label)
        })
        .collect();
    if failed.is_empty() && waiting.is_empty() {
        return judge(leg, true);
    }
    if failed.is_empty() {
        return Verdict::Degraded(format!(
            "{}: kernel still reconnecting {}",
            leg.label,
            waiting.join(", ")
        ));
    }
    if leg.paths.iter().any(|p| p.state == PathState::LoggedIn) || !waiting.is_empty() {
        return Verdict::Degraded(format!("{}: reconnect failed: {}", leg.label, failed.join("; ")));
    }
    Verdict::Failed(format!("{}; restart needed", failed.join("; ")))
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
        for peer in [
            PeerState::Online,
            PeerState::Maintenance,
            PeerState::Unknown,
            PeerState::NotMember,
        ] {
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
        assert_eq!(judge_after_reconnect(&up, &[(0, None)], &[]), Verdict::Healthy);
        let down = leg(PeerState::Online, &[(Missing, Some(true))]);
        match judge_after_reconnect(&down, &[(0, Some("login refused".into()))], &[]) {
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

    #[test]
    fn a_failed_session_gets_the_kernel_s_grace_before_a_restart() {
        let l = leg(PeerState::Online, &[(Recovering, Some(true))]);
        let early = judge_after_reconnect(&l, &[(0, None)], &[(0, Duration::from_secs(3))]);
        match early {
            Verdict::Degraded(r) => assert!(
                r.contains("kernel still reconnecting") && r.contains("3 s"),
                "{r}"
            ),
            v => panic!("{v:?}"),
        }
        let late = judge_after_reconnect(&l, &[(0, None)], &[(0, KERNEL_RECOVERY_GRACE)]);
        assert!(matches!(late, Verdict::Failed(_)), "{late:?}");
    }
}
