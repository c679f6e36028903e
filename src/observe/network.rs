//! The network side of the observation, for doctor: for each path, the portal's address,
//! the interface the kernel routes it through (state, carrier, MTU, VLAN), whether the
//! path carries that MTU, and how the target answers an iSCSI login; for the node, whether
//! iscsid runs. Every probe is bounded by the caller's deadline (and its own cap).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use rand::Rng;
use serde::Serialize;

use super::Snapshot;
use crate::deadline::Deadline;
use crate::iscsi::iscsid::{self, Daemon};
use crate::iscsi::probe::{self, Outcome};
use crate::net::{self, Link, Ping};
use crate::tools::Tools;

/// How long one login probe may take.
pub const LOGIN_PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long resolving a portal's name may take.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);
/// The name the probe logs in with when open-iscsi's cannot be read (an ACL then refuses
/// it for that reason alone, which the finding says).
pub const FALLBACK_INITIATOR: &str = "iqn.2025-01.invalid.iscsi-mirror:doctor";

/// The way to a portal's address from this node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "route", rename_all = "snake_case")]
pub enum Route {
    /// The kernel sends from `source` through `interface`.
    Via { source: IpAddr, interface: Option<Link> },
    /// No route; `covering` is the interface whose subnet holds the address (its link is
    /// down), when one does.
    None { why: String, covering: Option<Link> },
}

impl Route {
    pub fn link(&self) -> Option<&Link> {
        match self {
            Route::Via { interface, .. } => interface.as_ref(),
            Route::None { covering, .. } => covering.as_ref(),
        }
    }
}

/// Whether the path to the portal carries the interface's MTU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum MtuCheck {
    Skipped {
        why: String,
    },
    Done {
        /// The interface's MTU, which the check asks the path to carry.
        mtu: u32,
        /// An ordinary echo (56 bytes): does the peer answer ICMP at all?
        small: Ping,
        /// `-M do -s MTU-28` (IPv4; MTU-48 for IPv6).
        full: Option<Ping>,
        /// `-M do -s 1472`, asked when the full size failed and the MTU is above 1500.
        standard: Option<Ping>,
    },
}

/// One path's network facts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PortalNet {
    pub address: Option<IpAddr>,
    /// Why the portal has no address (a name that does not resolve in time).
    pub unresolved: Option<String>,
    pub route: Option<Route>,
    pub mtu: MtuCheck,
    /// The login-phase probe; `None` when the portal does not answer TCP.
    pub login: Option<Outcome>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Network {
    /// Per leg, per path: the snapshot's indices.
    pub paths: Vec<Vec<PortalNet>>,
    pub iscsid: Daemon,
    /// The initiator name the probes logged in with, as open-iscsi has it.
    pub initiator_name: Option<String>,
}

impl Network {
    pub fn path(&self, leg: usize, path: usize) -> Option<&PortalNet> {
        self.paths.get(leg)?.get(path)
    }
}

fn mtu_check(tools: &Tools, addr: IpAddr, route: &Route, deadline: Deadline) -> MtuCheck {
    let link = match route {
        Route::Via {
            interface: Some(l), ..
        } => l,
        Route::Via { interface: None, .. } => {
            return MtuCheck::Skipped {
                why: "the interface holding the source address was not found".into(),
            }
        }
        Route::None { .. } => {
            return MtuCheck::Skipped {
                why: "no route to the portal".into(),
            }
        }
    };
    if link.loopback {
        return MtuCheck::Skipped {
            why: format!("the portal is on this host ({}): no link to check", link.name),
        };
    }
    let Some(mtu) = link.mtu else {
        return MtuCheck::Skipped {
            why: format!("{} shows no MTU", link.name),
        };
    };
    let overhead = net::icmp_overhead(addr);
    // The small echo first: it also resolves the neighbour, so the big one is not lost to that.
    let small = net::ping(tools, addr, 56, false, deadline);
    if !small.answered() {
        return MtuCheck::Done {
            mtu,
            small,
            full: None,
            standard: None,
        };
    }
    let full_size = mtu.saturating_sub(overhead).min(net::MAX_PING_PAYLOAD);
    let full = net::ping(tools, addr, full_size, true, deadline);
    let standard =
        (!full.answered() && mtu > 1500).then(|| net::ping(tools, addr, 1500 - overhead, true, deadline));
    MtuCheck::Done {
        mtu,
        small,
        full: Some(full),
        standard,
    }
}

fn route(addr: IpAddr) -> Route {
    match net::source_for(addr) {
        Ok(source) => Route::Via {
            source,
            interface: net::interface_with(source).and_then(|n| net::link(&n)),
        },
        Err(why) => Route::None {
            why,
            covering: net::interface_covering(addr).and_then(|(n, _, _)| net::link(&n)),
        },
    }
}

/// Reads the network facts of every path of the snapshot (whose `reachable` must have been
/// probed), and iscsid's state, within `deadline`.
pub fn read(snap: &mut Snapshot, tools: &Tools, host_root: &Path, deadline: Deadline) {
    let initiator = iscsid::initiator_name(host_root);
    let name = initiator
        .clone()
        .unwrap_or_else(|| FALLBACK_INITIATOR.to_string());
    let mut rng = rand::thread_rng();
    let paths = snap
        .legs
        .iter()
        .map(|leg| {
            leg.paths
                .iter()
                .map(|p| {
                    // The portal start recorded (a name's address, iSNS's answer), else the
                    // configured one, looked up within the deadline.
                    let portal = snap
                        .state
                        .state()
                        .map_or_else(|| p.path.clone(), |s| s.for_iscsiadm(&p.path))
                        .portal;
                    let resolved = net::addresses(&portal, deadline.capped(RESOLVE_TIMEOUT));
                    let Some(addr) = resolved.first().copied() else {
                        return PortalNet {
                            address: None,
                            unresolved: Some(format!("{} did not resolve in time", p.path.portal.address())),
                            route: None,
                            mtu: MtuCheck::Skipped {
                                why: "no address".into(),
                            },
                            login: None,
                        };
                    };
                    let route = route(addr);
                    let mtu = mtu_check(tools, addr, &route, deadline);
                    let login = (p.reachable != Some(false)).then(|| {
                        probe::probe(
                            SocketAddr::new(addr, p.path.portal.port),
                            &name,
                            p.path.target.as_str(),
                            probe::random_isid(rng.gen()),
                            deadline.capped(LOGIN_PROBE_TIMEOUT),
                        )
                    });
                    PortalNet {
                        address: Some(addr),
                        unresolved: None,
                        route: Some(route),
                        mtu,
                        login,
                    }
                })
                .collect()
        })
        .collect();
    snap.network = Some(Network {
        paths,
        iscsid: iscsid::daemon(host_root),
        initiator_name: initiator,
    });
}
