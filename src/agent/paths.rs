//! Matching configured paths with the kernel's sessions.

use std::net::IpAddr;

use crate::cluster::crm_mon::ClusterView;
use crate::config::Leg;
use crate::decide::monitor::{LegView, PathState, PathView};
use crate::iscsi::sysfs::{Session, SessionState};
use crate::net;
use crate::target::{Host, Path};

#[derive(Debug, Clone)]
pub struct PathObservation {
    pub path: Path,
    pub session: Option<Session>,
}

impl PathObservation {
    pub fn state(&self) -> PathState {
        match &self.session {
            Some(s) if s.state == SessionState::LoggedIn => PathState::LoggedIn,
            Some(_) => PathState::Recovering,
            None => PathState::Missing,
        }
    }

    pub fn kernel_state(&self) -> &str {
        self.session
            .as_ref()
            .map(|s| s.state.as_str())
            .unwrap_or("no session")
    }
}

/// The kernel session serving each path, exactly matched; a logged-in one preferred.
pub fn observe(paths: &[Path], sessions: &[Session]) -> Vec<PathObservation> {
    paths
        .iter()
        .map(|path| {
            let mut candidates: Vec<&Session> = sessions.iter().filter(|s| s.leads_to(path)).collect();
            if candidates.is_empty() {
                if let Host::Name(_) = path.portal.host {
                    // sysfs shows addresses; a portal given by name matches what it resolves to.
                    let addrs: Vec<IpAddr> = net::addresses(&path.portal, net::REACH_TIMEOUT);
                    candidates = sessions
                        .iter()
                        .filter(|s| s.target == path.target.as_str())
                        .filter(|s| {
                            s.connections.first().is_some_and(|c| {
                                c.persistent_port == path.portal.port
                                    && c.persistent_address
                                        .parse::<IpAddr>()
                                        .is_ok_and(|a| addrs.contains(&a))
                            })
                        })
                        .collect();
                }
            }
            candidates.sort_by_key(|s| s.state != SessionState::LoggedIn);
            PathObservation {
                path: path.clone(),
                session: candidates.first().map(|s| (*s).clone()),
            }
        })
        .collect()
}

/// A leg as the monitor table sees it: the cluster's view of its peer and each path's
/// kernel state. Reachability is filled in later, only where the table needs it.
pub fn leg_view(leg: &Leg, paths: &[PathObservation], cluster: &ClusterView) -> LegView {
    LegView {
        label: leg.label(),
        peer: cluster.peer_state(leg.node.as_deref()),
        paths: paths
            .iter()
            .map(|p| PathView {
                label: format!("{} {}", p.path.portal, p.kernel_state()),
                state: p.state(),
                reachable: None,
            })
            .collect(),
    }
}
