//! What the cluster knows: Pacemaker's view via crm_mon (`crm_mon`), and the peers'
//! states the monitor judges sessions by.

pub mod attrd;
pub mod cib;
pub mod corosync;
pub mod crm_mon;
pub mod crm_node;

use serde::Serialize;

/// A peer node's state as far as the mirror cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerState {
    /// No cluster information (crm_mon absent, failing, or without nodes).
    Unknown,
    /// The cluster answered, but the peer is not one of its nodes (or no node is named:
    /// portal/target without peer_node). Judged like Unknown: by reachability.
    NotMember,
    Online,
    /// Online but in maintenance: Pacemaker leaves its resources alone, the target may run.
    Maintenance,
    Offline,
    Unclean,
    Standby,
    ShuttingDown,
    /// Joining: not yet a full member.
    Pending,
}

impl PeerState {
    /// States in which a down leg is expected rather than a fault.
    pub fn expects_leg_down(self) -> bool {
        matches!(
            self,
            PeerState::Offline
                | PeerState::Unclean
                | PeerState::Standby
                | PeerState::ShuttingDown
                | PeerState::Pending
        )
    }

    pub fn describe(self) -> &'static str {
        match self {
            PeerState::Unknown => "unknown",
            PeerState::NotMember => "not a cluster node",
            PeerState::Online => "online",
            PeerState::Maintenance => "online (maintenance)",
            PeerState::Offline => "offline",
            PeerState::Unclean => "unclean (being fenced)",
            PeerState::Standby => "in standby",
            PeerState::ShuttingDown => "shutting down",
            PeerState::Pending => "joining (pending)",
        }
    }
}
