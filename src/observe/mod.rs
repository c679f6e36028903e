//! One observation of the node, as plain data: who we are, what start recorded, the
//! kernel's sessions for each configured leg, and (only when a judgement needs them)
//! the cluster's view, the portals' reachability, the pool. Monitor, status, doctor and
//! metrics all judge the same `Snapshot`, so they cannot disagree about the facts.

pub mod mmp;
pub mod network;
pub mod paths;
pub mod pool;
pub mod window;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::cluster::crm_mon::{self, ClusterView};
use crate::cluster::crm_node;
use crate::config::{Config, Leg, Membership};
use crate::deadline::Deadline;
use crate::iscsi::sysfs::Sysfs;
use crate::net;
use crate::state::Loaded;
use crate::tools::Tools;
use crate::zfs::PoolFacts;

pub use paths::PathFacts;

/// A configured leg and its paths' facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegFacts {
    pub leg: Leg,
    pub paths: Vec<PathFacts>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub node: String,
    pub membership: Membership,
    pub state: Loaded,
    pub legs: Vec<LegFacts>,
    /// `None`: not asked (a healthy mirror never asks).
    pub cluster: Option<ClusterView>,
    /// `None`: no pool configured, or not asked.
    pub pool: Option<PoolFacts>,
    /// `None`: not asked (only doctor asks: interfaces, path MTU, login probes, iscsid).
    pub network: Option<network::Network>,
    pub now_ms: u64,
}

impl Snapshot {
    pub fn all_paths(&self) -> impl Iterator<Item = &PathFacts> {
        self.legs.iter().flat_map(|l| l.paths.iter())
    }

    pub fn all_up(&self) -> bool {
        !self.legs.is_empty() && self.all_paths().all(PathFacts::logged_in)
    }

    pub fn nothing_logged_in(&self) -> bool {
        self.all_paths().all(|p| p.session.is_none())
    }

    pub fn now_unix(&self) -> u64 {
        self.now_ms / 1000
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// This node's name: Pacemaker's word, else what start recorded, else crm_node's, else
/// the host name. Only the last two cost anything, and Pacemaker always passes the first.
pub fn node_name(on_node: Option<&str>, state: &Loaded, tools: &Tools, deadline: Deadline) -> String {
    if let Some(n) = on_node {
        return n.to_string();
    }
    if let Some(s) = state.state().filter(|s| !s.node.is_empty()) {
        return s.node.clone();
    }
    crm_node::name(tools, deadline).unwrap_or_else(|| {
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_default()
    })
}

/// The kernel's sessions for each leg this node logs in to (sysfs only).
pub fn legs(config: &Config, node: &str, sysfs: &Sysfs, state: &Loaded) -> Vec<LegFacts> {
    let sessions = sysfs.sessions();
    config
        .legs_for(node)
        .into_iter()
        .map(|leg| LegFacts {
            leg: leg.clone(),
            paths: paths::match_sessions(&leg.paths().collect::<Vec<_>>(), &sessions, state.state()),
        })
        .collect()
}

/// The cheap part: node, state file, sessions. No program runs unless the node name
/// must be asked of crm_node.
pub fn take(
    config: &Config,
    on_node: Option<&str>,
    state: Loaded,
    sysfs: &Sysfs,
    tools: &Tools,
    deadline: Deadline,
) -> Snapshot {
    let node = node_name(on_node, &state, tools, deadline);
    Snapshot {
        membership: config.membership(&node),
        legs: legs(config, &node, sysfs, &state),
        node,
        state,
        cluster: None,
        pool: None,
        network: None,
        now_ms: now_ms(),
    }
}

/// Reads the sessions again (after a login, or while waiting for the kernel).
pub fn refresh_legs(snap: &mut Snapshot, config: &Config, sysfs: &Sysfs) {
    snap.legs = legs(config, &snap.node, sysfs, &snap.state);
    snap.now_ms = now_ms();
}

/// The cluster's view, asked once.
pub fn cluster(snap: &mut Snapshot, tools: &Tools, deadline: Deadline) {
    if snap.cluster.is_none() {
        let view = crm_mon::query(&tools.crm_mon, deadline.capped(Duration::from_secs(10)));
        if !view.known {
            tracing::info!(
                "cluster state unknown ({}): judging the sessions by themselves and by reachability",
                view.reason.as_deref().unwrap_or("no reason given")
            );
        }
        snap.cluster = Some(view);
    }
}

/// Probes the portals of the given (leg, path) pairs, each within the short reachability
/// timeout and all within the deadline.
pub fn reachability(snap: &mut Snapshot, which: &[(usize, usize)], deadline: Deadline) {
    for &(l, p) in which {
        let Some(facts) = snap.legs.get_mut(l).and_then(|leg| leg.paths.get_mut(p)) else {
            continue;
        };
        facts.reachable = Some(net::reachable(
            &facts.path.portal,
            deadline.capped(net::REACH_TIMEOUT),
        ));
    }
}

/// Everything doctor judges, beyond the cheap part: every path's reachability, the network
/// facts (interfaces, path MTU, login probes, iscsid) and the pool, all within `deadline`.
pub fn everything(snap: &mut Snapshot, config: &Config, tools: &Tools, sysfs: &Sysfs, deadline: Deadline) {
    let all: Vec<(usize, usize)> = snap
        .legs
        .iter()
        .enumerate()
        .flat_map(|(l, leg)| (0..leg.paths.len()).map(move |p| (l, p)))
        .collect();
    reachability(snap, &all, deadline);
    network::read(snap, tools, &config.host_root, deadline);
    if let Some(name) = &config.pool {
        let json = snap.state.state().and_then(|s| s.pool.json);
        snap.pool = None;
        pool::read(snap, name, tools, sysfs, &config.host_root, json, deadline);
    }
}
