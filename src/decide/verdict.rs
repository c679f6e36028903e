//! What a judgement says: a kind (healthy, degraded, not running, failed) and typed
//! reasons, each with a bounded code for tools and metrics and a sentence for people.
//! One mapping to OCF exit codes and one to the health colour, so no caller invents its own.

use serde::Serialize;

use crate::cluster::PeerState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Healthy,
    /// Not started here and nothing of ours runs.
    NotRunning,
    /// Runs, with less redundancy than it should have (190).
    Degraded,
    /// A restart is the remedy (1).
    Failed,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Healthy => "healthy",
            Kind::NotRunning => "not_running",
            Kind::Degraded => "degraded",
            Kind::Failed => "failed",
        }
    }
}

/// Why a leg or the mirror is not healthy. `code()` is the bounded label; `describe()` the
/// sentence an admin reads (and Pacemaker shows as the exit reason).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Reason {
    /// Some, not all, paths of a leg are down.
    PathsDown {
        leg: String,
        down: Vec<String>,
        total: usize,
    },
    /// The leg is down because its peer is away (offline, fenced, standby...): expected.
    PeerAway {
        leg: String,
        peer: PeerState,
        down: Vec<String>,
    },
    /// The peer is up (or unknown) and its portals do not answer.
    StorageNetworkDown {
        leg: String,
        cluster: PeerState,
        down: Vec<String>,
    },
    /// The kernel is reconnecting a FAILED session to a peer that answers.
    KernelRecovering {
        leg: String,
        paths: Vec<String>,
        for_s: u64,
    },
    /// The peer is up, its portal answers: the monitor logs in again (status only says so).
    ReconnectDue {
        leg: String,
        paths: Vec<String>,
    },
    /// Reconnecting failed recently; the next attempt waits for the back-off.
    BackingOff {
        leg: String,
        paths: Vec<String>,
        attempt: u32,
        next_in_s: u64,
        last_error: Option<String>,
    },
    /// Reconnecting failed in a way waiting will not cure, or for too long. With no other
    /// path of the leg up, a restart is the remedy.
    ReconnectFailed {
        leg: String,
        why: Vec<String>,
        restart_needed: bool,
    },
    /// A probe found a leg down; probes judge nothing more.
    ProbeLegDown {
        paths: Vec<String>,
    },
    /// One leg of several was never logged in while the others run.
    LegNotLoggedIn {
        leg: String,
    },
    /// This node may not run the legs (not in peers, or the target's own node).
    NotMember {
        why: String,
    },
    /// A remote vdev is not ONLINE although its session is up.
    VdevNotOnline {
        pool: String,
        vdev: String,
        /// How people call it: "storage-b's LUN 0" (the path is long).
        shown: String,
        state: String,
        /// How long its session has been up and stable, when known.
        session_up_s: Option<u64>,
        /// Why the agent does not bring it back itself (OFFLINE by an admin, ...).
        held_back: Option<String>,
    },
    /// A remote vdev is not ONLINE and its session is down: the leg's fault, seen in ZFS.
    VdevMissing {
        pool: String,
        vdev: String,
        shown: String,
        state: String,
    },
    Resilvering {
        pool: String,
        percent: Option<f64>,
        eta_s: Option<u64>,
    },
    /// A remote vdev is ONLINE again but no resilver has finished since it fell behind:
    /// ZFS starts one a moment after the vdev returns, and until it has run, that half
    /// still misses writes.
    VdevCatchingUp {
        pool: String,
        vdev: String,
        shown: String,
    },
    PoolSuspended {
        pool: String,
    },
    /// The pool's state could not be read (zpool missing, hung, unparsable).
    PoolUnknown {
        pool: String,
        why: String,
    },
}

/// Whether the paths can be named in a reason that must fit Pacemaker's 128 characters.
fn fits(items: &[String]) -> bool {
    items.len() < 2 || items.join(", ").len() <= 40
}

/// The paths for such a reason: named when they fit, else counted (status lists them all).
fn list(items: &[String]) -> String {
    if fits(items) {
        items.join(", ")
    } else {
        format!("{} paths", items.len())
    }
}

fn duration(s: u64) -> String {
    match s {
        0..=89 => format!("{s} s"),
        90..=5399 => format!("{} min", (s + 30) / 60),
        _ => format!("{:.1} h", s as f64 / 3600.0),
    }
}

impl Reason {
    pub fn code(&self) -> &'static str {
        match self {
            Reason::PathsDown { .. } => "paths_down",
            Reason::PeerAway { .. } => "peer_away",
            Reason::StorageNetworkDown { .. } => "storage_network_down",
            Reason::KernelRecovering { .. } => "kernel_recovering",
            Reason::ReconnectDue { .. } => "reconnect_due",
            Reason::BackingOff { .. } => "backing_off",
            Reason::ReconnectFailed { .. } => "reconnect_failed",
            Reason::ProbeLegDown { .. } => "probe_leg_down",
            Reason::LegNotLoggedIn { .. } => "leg_not_logged_in",
            Reason::NotMember { .. } => "not_member",
            Reason::VdevNotOnline { .. } => "vdev_not_online",
            Reason::VdevMissing { .. } => "vdev_missing",
            Reason::Resilvering { .. } => "resilvering",
            Reason::VdevCatchingUp { .. } => "vdev_catching_up",
            Reason::PoolSuspended { .. } => "pool_suspended",
            Reason::PoolUnknown { .. } => "pool_unknown",
        }
    }

    /// The kind this reason alone makes of a verdict.
    pub fn kind(&self) -> Kind {
        match self {
            Reason::ReconnectFailed {
                restart_needed: true, ..
            } => Kind::Failed,
            _ => Kind::Degraded,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Reason::PathsDown { leg, down, total } if fits(down) => {
                format!("{leg}: {} of {total} paths down: {}", down.len(), list(down))
            }
            Reason::PathsDown { leg, down, total } => format!("{leg}: {} of {total} paths down", down.len()),
            Reason::PeerAway { leg, peer, down } => format!(
                "{leg} is {}: leg down as expected ({}); no reconnect until it returns",
                peer.describe(),
                list(down)
            ),
            Reason::StorageNetworkDown { leg, cluster, down } => {
                let cluster = match cluster {
                    PeerState::Unknown => "cluster state unknown".to_string(),
                    PeerState::NotMember => "peer not a cluster node".to_string(),
                    other => format!("peer {}", other.describe()),
                };
                format!(
                    "{leg} unreachable ({}; {cluster}): storage network down, a restart cannot help",
                    list(down)
                )
            }
            Reason::KernelRecovering { leg, paths, for_s } => {
                format!("{leg}: kernel still reconnecting {} for {for_s} s", list(paths))
            }
            Reason::ReconnectDue { leg, paths } => format!(
                "{leg}: down, reconnect due ({}): the peer is up and its portal answers; the monitor logs in again",
                list(paths)
            ),
            Reason::BackingOff {
                leg,
                attempt,
                next_in_s,
                last_error,
                ..
            } => format!(
                "{leg}: reconnect backing off, attempt {attempt} failed, next try in {}{}",
                duration(*next_in_s),
                last_error.as_ref().map(|e| format!(": {e}")).unwrap_or_default(),
            ),
            Reason::ReconnectFailed {
                why,
                restart_needed: true,
                ..
            } => format!("{}; restart needed", why.join("; ")),
            Reason::ReconnectFailed { leg, why, .. } => {
                format!("{leg}: reconnect failed: {}", why.join("; "))
            }
            Reason::ProbeLegDown { paths } => format!("probe: leg down: {}", list(paths)),
            Reason::LegNotLoggedIn { leg } => format!("{leg}: a leg is not logged in"),
            Reason::NotMember { why } => why.clone(),
            Reason::VdevNotOnline {
                pool,
                shown,
                state,
                session_up_s,
                held_back,
                ..
            } => {
                let up = session_up_s
                    .map(|s| format!(", session up {}", duration(s)))
                    .unwrap_or_default();
                match held_back {
                    Some(why) => format!("{pool}: {shown} {state}{up}; not onlined: {why}"),
                    None => format!("{pool}: {shown} {state}{up}; bringing it back (zpool online)"),
                }
            }
            Reason::VdevMissing { pool, shown, state, .. } => {
                format!("{pool}: {shown} {state} (its session is down)")
            }
            Reason::Resilvering {
                pool,
                percent,
                eta_s,
            } => {
                let how_far = percent.map(|p| format!(": {p:.0}% done")).unwrap_or_default();
                let left = eta_s
                    .map(|s| format!(", about {} left", duration(s)))
                    .unwrap_or_default();
                format!("resilvering {pool}{how_far}{left}")
            }
            Reason::VdevCatchingUp { pool, shown, .. } => {
                format!("{pool}: {shown} is ONLINE again; waiting for ZFS to resilver what it missed")
            }
            Reason::PoolSuspended { pool } => {
                format!("{pool} is SUSPENDED (I/O failed on every leg): see zpool status, then zpool clear")
            }
            Reason::PoolUnknown { pool, why } => format!("{pool}: state unknown: {why}"),
        }
    }
}

/// A judgement: the worst kind wins; the reasons say why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub kind: Kind,
    pub reasons: Vec<Reason>,
}

impl Verdict {
    pub fn healthy() -> Verdict {
        Verdict {
            kind: Kind::Healthy,
            reasons: Vec::new(),
        }
    }

    pub fn not_running() -> Verdict {
        Verdict {
            kind: Kind::NotRunning,
            reasons: Vec::new(),
        }
    }

    pub fn because(reason: Reason) -> Verdict {
        Verdict {
            kind: reason.kind(),
            reasons: vec![reason],
        }
    }

    /// Several legs' (and the pool's) verdicts as one: failed if any failed, not running
    /// only if nothing runs, degraded if anything is less than whole.
    pub fn combine(parts: &[Verdict]) -> Verdict {
        if parts.is_empty() {
            return Verdict::healthy();
        }
        let mut reasons: Vec<Reason> = parts.iter().flat_map(|v| v.reasons.iter().cloned()).collect();
        let kind = if parts.iter().any(|v| v.kind == Kind::Failed) {
            Kind::Failed
        } else if parts.iter().all(|v| v.kind == Kind::NotRunning) {
            Kind::NotRunning
        } else if parts
            .iter()
            .any(|v| matches!(v.kind, Kind::Degraded | Kind::NotRunning))
        {
            Kind::Degraded
        } else {
            Kind::Healthy
        };
        if kind == Kind::Failed {
            // The exit reason names what failed first.
            reasons.sort_by_key(|r| r.kind() != Kind::Failed);
        }
        Verdict { kind, reasons }
    }

    /// The first reason, and how many more there are: what fits an exit reason.
    pub fn headline(&self) -> Option<String> {
        let first = self.reasons.first()?.describe();
        Some(match self.reasons.len() {
            1 => first,
            n => format!("{first} (+{} more)", n - 1),
        })
    }

    /// Every reason, for a log line or a report.
    pub fn describe(&self) -> Option<String> {
        (!self.reasons.is_empty()).then(|| {
            self.reasons
                .iter()
                .map(Reason::describe)
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

/// The mirror's health as the node attribute shows it (Pacemaker's `#health-*` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Green,
    Yellow,
    Red,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Green => "green",
            Health::Yellow => "yellow",
            Health::Red => "red",
        }
    }

    /// From the verdict itself, never from how it is encoded for the caller (a degraded
    /// mirror is yellow whatever OCF version Pacemaker speaks). Nothing to publish when
    /// nothing of ours runs here.
    pub fn of(v: &Verdict) -> Option<Health> {
        match v.kind {
            Kind::Healthy => Some(Health::Green),
            Kind::Degraded => Some(Health::Yellow),
            Kind::Failed => Some(Health::Red),
            Kind::NotRunning => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn degraded(leg: &str) -> Verdict {
        Verdict::because(Reason::PathsDown {
            leg: leg.into(),
            down: vec!["p".into()],
            total: 2,
        })
    }

    #[test]
    fn the_worst_part_wins() {
        assert_eq!(
            Verdict::combine(&[Verdict::healthy(), Verdict::healthy()]).kind,
            Kind::Healthy
        );
        assert_eq!(Verdict::combine(&[Verdict::not_running()]).kind, Kind::NotRunning);
        assert_eq!(
            Verdict::combine(&[Verdict::healthy(), degraded("b")]).kind,
            Kind::Degraded
        );
        assert_eq!(
            Verdict::combine(&[Verdict::healthy(), Verdict::not_running()]).kind,
            Kind::Degraded
        );
        let failed = Verdict::because(Reason::ReconnectFailed {
            leg: "c".into(),
            why: vec!["login refused".into()],
            restart_needed: true,
        });
        let v = Verdict::combine(&[degraded("b"), failed]);
        assert_eq!(v.kind, Kind::Failed);
        assert!(v.describe().unwrap().starts_with("login refused; restart needed"));
    }

    #[test]
    fn many_paths_are_counted_so_the_reason_fits_pacemaker_s_128_characters() {
        let six: Vec<String> = (11..17).map(|i| format!("[fd00::{i}]:3260 no session")).collect();
        for r in [
            Reason::StorageNetworkDown {
                leg: "storage-b".into(),
                cluster: PeerState::Unknown,
                down: six.clone(),
            },
            Reason::PathsDown {
                leg: "storage-b".into(),
                down: six.clone(),
                total: 8,
            },
            Reason::ProbeLegDown { paths: six.clone() },
        ] {
            let d = r.describe();
            assert!(
                d.len() <= 128 && (d.contains("6 paths") || d.contains("6 of 8")),
                "{d}"
            );
        }
        let one = Reason::PathsDown {
            leg: "storage-b".into(),
            down: six[..1].to_vec(),
            total: 2,
        };
        assert!(one.describe().ends_with("[fd00::11]:3260 no session"));
    }

    #[test]
    fn health_comes_from_the_verdict() {
        assert_eq!(Health::of(&Verdict::healthy()), Some(Health::Green));
        assert_eq!(Health::of(&degraded("b")), Some(Health::Yellow));
        assert_eq!(Health::of(&Verdict::not_running()), None);
    }

    #[test]
    fn codes_are_bounded_labels_and_the_json_carries_them() {
        let r = Reason::Resilvering {
            pool: "san-pool".into(),
            percent: Some(45.2),
            eta_s: Some(720),
        };
        assert_eq!(r.describe(), "resilvering san-pool: 45% done, about 12 min left");
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["code"], r.code());
        assert!(r.code().chars().all(|c| c.is_ascii_lowercase() || c == '_'));
    }
}
