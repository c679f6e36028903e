//! The monitor table of PRODUCT.md: a leg's sessions judged by what the cluster knows.

use crate::cluster::PeerState;
use crate::decide::reconnect::RECONNECT_GRACE_S;
use crate::decide::verdict::{Kind, Reason, Verdict};

/// How long the kernel may keep reconnecting a FAILED session to a peer that is up and
/// answers before a restart is called for. iscsid retries on its own; on a real kernel a
/// session came back 1.4-2.5 s after the link did (failure-timeline.txt).
pub const KERNEL_RECOVERY_GRACE_S: u64 = 30;

/// One path's kernel state, plus reachability when it was worth checking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathView {
    /// "PORTAL KERNEL-STATE", as reasons name it.
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
    /// "storage-b" (the peer node, else the IQN's own part).
    pub label: String,
    pub peer: PeerState,
    pub paths: Vec<PathView>,
}

impl LegView {
    fn down(&self) -> impl Iterator<Item = (usize, &PathView)> {
        self.paths
            .iter()
            .enumerate()
            .filter(|(_, p)| p.state != PathState::LoggedIn)
    }

    fn labels(&self, which: &[usize]) -> Vec<String> {
        which
            .iter()
            .filter_map(|i| self.paths.get(*i).map(|p| p.label.clone()))
            .collect()
    }

    pub fn all_up(&self) -> bool {
        self.down().next().is_none()
    }
}

/// What the table says of one leg.
#[derive(Debug, Clone, PartialEq)]
pub enum Judgement {
    Done(Verdict),
    /// Down while the peer is up or unknown, and these paths' portals may answer:
    /// the monitor probes them (after its jitter) and logs in again; status probes them
    /// and judges again.
    Reconnect(Vec<usize>),
}

/// Judges one leg. `started`: the resource was started on this node (state file).
pub fn judge(leg: &LegView, started: bool) -> Judgement {
    let down: Vec<usize> = leg.down().map(|(i, _)| i).collect();
    if down.is_empty() {
        return Judgement::Done(Verdict::healthy());
    }
    if down.len() < leg.paths.len() {
        return Judgement::Done(Verdict::because(Reason::PathsDown {
            leg: leg.label.clone(),
            down: leg.labels(&down),
            total: leg.paths.len(),
        }));
    }
    if !started && leg.paths.iter().all(|p| p.state == PathState::Missing) {
        return Judgement::Done(Verdict::not_running());
    }
    if leg.peer.expects_leg_down() {
        return Judgement::Done(Verdict::because(Reason::PeerAway {
            leg: leg.label.clone(),
            peer: leg.peer,
            down: leg.labels(&down),
        }));
    }
    let candidates: Vec<usize> = down
        .iter()
        .copied()
        .filter(|i| leg.paths[*i].reachable != Some(false))
        .collect();
    if !candidates.is_empty() {
        return Judgement::Reconnect(candidates);
    }
    Judgement::Done(Verdict::because(Reason::StorageNetworkDown {
        leg: leg.label.clone(),
        cluster: leg.peer,
        down: leg.labels(&down),
    }))
}

/// What happened to one path the monitor set out to reconnect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Try {
    /// The portal did not answer the probe: no login was tried.
    Unreachable,
    /// iscsiadm logged in (whether it worked is the kernel's word, in the refreshed view).
    LoggedIn,
    LoginFailed {
        why: String,
        /// Waiting will not cure it (CHAP, a refused target, a missing tool).
        fatal: bool,
        /// Since when logins of this path have been failing.
        failing_for_s: u64,
        /// Failed attempts in a row, and when the back-off allows the next.
        attempt: u32,
        next_in_s: u64,
    },
    /// The kernel holds a session (FAILED/FREE) and is recovering it itself.
    KernelRecovering { for_s: u64 },
    /// The back-off says not yet.
    Deferred {
        attempt: u32,
        next_in_s: u64,
        last_error: Option<String>,
    },
}

/// After the monitor's attempts: `leg` is the refreshed kernel view, `tries` what was
/// done per path index.
pub fn judge_after_reconnect(leg: &LegView, tries: &[(usize, Try)]) -> Verdict {
    let down = |i: usize| leg.paths.get(i).is_some_and(|p| p.state != PathState::LoggedIn);
    let label = |i: usize| leg.paths.get(i).map(|p| p.label.clone()).unwrap_or_default();
    let mut failed: Vec<String> = Vec::new();
    let mut waiting: Vec<Reason> = Vec::new();
    let mut unreachable: Vec<usize> = Vec::new();
    for (i, t) in tries.iter().filter(|(i, _)| down(*i)) {
        match t {
            Try::Unreachable => unreachable.push(*i),
            Try::LoggedIn => failed.push(format!("{} still not logged in", label(*i))),
            Try::LoginFailed {
                why,
                fatal,
                failing_for_s,
                attempt,
                next_in_s,
            } => {
                if *fatal || *failing_for_s >= RECONNECT_GRACE_S {
                    failed.push(why.clone());
                } else {
                    waiting.push(Reason::BackingOff {
                        leg: leg.label.clone(),
                        paths: vec![label(*i)],
                        attempt: *attempt,
                        next_in_s: *next_in_s,
                        last_error: Some(why.clone()),
                    });
                }
            }
            Try::KernelRecovering { for_s } if *for_s < KERNEL_RECOVERY_GRACE_S => {
                waiting.push(Reason::KernelRecovering {
                    leg: leg.label.clone(),
                    paths: vec![label(*i)],
                    for_s: *for_s,
                })
            }
            Try::KernelRecovering { .. } => failed.push(format!("{} still not logged in", label(*i))),
            Try::Deferred {
                attempt,
                next_in_s,
                last_error,
            } => waiting.push(Reason::BackingOff {
                leg: leg.label.clone(),
                paths: vec![label(*i)],
                attempt: *attempt,
                next_in_s: *next_in_s,
                last_error: last_error.clone(),
            }),
        }
    }
    if failed.is_empty() && waiting.is_empty() && unreachable.is_empty() {
        return match judge(leg, true) {
            Judgement::Done(v) => v,
            // Still down although nothing was tried for it: say what the table says.
            Judgement::Reconnect(paths) => Verdict::because(Reason::ReconnectDue {
                leg: leg.label.clone(),
                paths: leg.labels(&paths),
            }),
        };
    }
    let others_up = leg.paths.iter().any(|p| p.state == PathState::LoggedIn);
    let mut reasons = Vec::new();
    if !failed.is_empty() {
        reasons.push(Reason::ReconnectFailed {
            leg: leg.label.clone(),
            why: failed,
            restart_needed: !others_up && waiting.is_empty(),
        });
    }
    reasons.extend(waiting);
    if !unreachable.is_empty() {
        reasons.push(Reason::StorageNetworkDown {
            leg: leg.label.clone(),
            cluster: leg.peer,
            down: leg.labels(&unreachable),
        });
    }
    let kind = reasons.iter().map(Reason::kind).max().unwrap_or(Kind::Degraded);
    Verdict { kind, reasons }
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

    fn done(j: Judgement) -> Verdict {
        match j {
            Judgement::Done(v) => v,
            other => panic!("{other:?}"),
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
                Judgement::Done(Verdict::healthy())
            );
        }
    }

    #[test]
    fn row_some_paths_down_is_degraded_and_names_them() {
        for peer in [PeerState::Online, PeerState::Offline, PeerState::Unknown] {
            let v = done(judge(&leg(peer, &[(LoggedIn, None), (Recovering, None)]), true));
            assert_eq!(v.kind, Kind::Degraded);
            let r = v.describe().unwrap();
            assert!(r.contains("path1") && r.contains("1 of 2"), "{r}");
            assert_eq!(v.reasons[0].code(), "paths_down");
        }
    }

    #[test]
    fn row_never_started_and_nothing_logged_in_is_not_running() {
        for peer in [PeerState::Online, PeerState::Offline, PeerState::Unknown] {
            assert_eq!(
                done(judge(&leg(peer, &[(Missing, None)]), false)).kind,
                Kind::NotRunning
            );
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
            let v = done(judge(&leg(peer, &[(Missing, None)]), true));
            assert_eq!(v.reasons[0].code(), "peer_away");
            let r = v.describe().unwrap();
            assert!(r.contains("as expected") && r.contains(peer.describe()), "{r}");
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
            let v = done(judge(&l, true));
            assert_eq!(v.reasons[0].code(), "storage_network_down");
            let r = v.describe().unwrap();
            assert!(r.contains("storage network") && r.contains("cannot help"), "{r}");
        }
        let r = done(judge(&leg(PeerState::Unknown, &[(Missing, Some(false))]), true))
            .describe()
            .unwrap();
        assert!(r.contains("cluster state unknown"), "{r}");
    }

    #[test]
    fn row_down_peer_online_reachable_reconnects_the_candidate_paths() {
        let l = leg(PeerState::Online, &[(Missing, None), (Recovering, None)]);
        assert_eq!(judge(&l, true), Judgement::Reconnect(vec![0, 1]));
        let l = leg(
            PeerState::Online,
            &[(Missing, Some(true)), (Recovering, Some(false))],
        );
        assert_eq!(judge(&l, true), Judgement::Reconnect(vec![0]));
        let unknown = leg(PeerState::Unknown, &[(Missing, Some(true))]);
        assert_eq!(judge(&unknown, true), Judgement::Reconnect(vec![0]));
    }

    #[test]
    fn after_reconnect_success_is_healthy_and_fatal_failure_asks_for_a_restart() {
        let up = leg(PeerState::Online, &[(LoggedIn, Some(true))]);
        assert_eq!(
            judge_after_reconnect(&up, &[(0, Try::LoggedIn)]),
            Verdict::healthy()
        );
        let down = leg(PeerState::Online, &[(Missing, Some(true))]);
        let fatal = Try::LoginFailed {
            why: "CHAP authentication failed".into(),
            fatal: true,
            failing_for_s: 0,
            attempt: 1,
            next_in_s: 3,
        };
        let v = judge_after_reconnect(&down, &[(0, fatal)]);
        assert_eq!(v.kind, Kind::Failed);
        let r = v.describe().unwrap();
        assert!(r.contains("CHAP") && r.contains("restart"), "{r}");
    }

    #[test]
    fn transient_failures_back_off_within_the_grace_then_fail() {
        let down = leg(PeerState::Online, &[(Missing, Some(true))]);
        let early = Try::LoginFailed {
            why: "login to x: target busy".into(),
            fatal: false,
            failing_for_s: 10,
            attempt: 2,
            next_in_s: 7,
        };
        let v = judge_after_reconnect(&down, &[(0, early)]);
        assert_eq!((v.kind, v.reasons[0].code()), (Kind::Degraded, "backing_off"));
        let r = v.describe().unwrap();
        assert!(
            r.contains("attempt 2 failed") && r.contains("next try in 7 s"),
            "{r}"
        );
        let late = Try::LoginFailed {
            why: "login to x: target busy".into(),
            fatal: false,
            failing_for_s: RECONNECT_GRACE_S,
            attempt: 9,
            next_in_s: 7,
        };
        assert_eq!(judge_after_reconnect(&down, &[(0, late)]).kind, Kind::Failed);
        let deferred = Try::Deferred {
            attempt: 2,
            next_in_s: 5,
            last_error: None,
        };
        let v = judge_after_reconnect(&down, &[(0, deferred)]);
        assert!(v.describe().unwrap().contains("next try in 5 s"), "{v:?}");
        let gone = judge_after_reconnect(&down, &[(0, Try::Unreachable)]);
        assert_eq!(gone.reasons[0].code(), "storage_network_down");
    }

    #[test]
    fn a_failed_session_gets_the_kernel_s_grace_before_a_restart() {
        let l = leg(PeerState::Online, &[(Recovering, Some(true))]);
        let early = judge_after_reconnect(&l, &[(0, Try::KernelRecovering { for_s: 3 })]);
        assert_eq!(early.kind, Kind::Degraded);
        let r = early.describe().unwrap();
        assert!(
            r.contains("kernel still reconnecting") && r.contains("3 s"),
            "{r}"
        );
        let late = judge_after_reconnect(
            &l,
            &[(
                0,
                Try::KernelRecovering {
                    for_s: KERNEL_RECOVERY_GRACE_S,
                },
            )],
        );
        assert_eq!(late.kind, Kind::Failed, "{late:?}");
        assert!(late.describe().unwrap().contains("still not logged in"));
    }

    #[test]
    fn a_failure_on_one_path_while_another_is_up_is_degraded() {
        let l = leg(PeerState::Online, &[(LoggedIn, None), (Missing, Some(true))]);
        let v = judge_after_reconnect(
            &l,
            &[(
                1,
                Try::LoginFailed {
                    why: "refused".into(),
                    fatal: true,
                    failing_for_s: 0,
                    attempt: 1,
                    next_in_s: 0,
                },
            )],
        );
        assert_eq!(v.kind, Kind::Degraded);
        assert!(!v.describe().unwrap().contains("restart needed"));
    }
}
