//! The network between this node and a portal: can a TCP connection be opened within a
//! short deadline; which interface the kernel routes the portal's address through, and
//! that link's state, MTU and VLAN (sysfs, /proc/net/vlan, getifaddrs: no `ip` output is
//! parsed); whether the path carries the interface's MTU (`ping -M do`, the one tool this
//! module runs). The network facts are the running kernel's (its network namespace), never
//! the simulated host root's: the connection to the portal is made from here.

use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use serde::Serialize;

use crate::deadline::Deadline;
use crate::process::{self, RunError};
use crate::target::{Host, Portal};
use crate::tools::{Tools, PING};

/// About the time the product's monitor table allows for one reachability check.
pub const REACH_TIMEOUT: Duration = Duration::from_secs(1);

/// Resolves the portal's host within the deadline; a name lookup runs in a thread so a
/// hung resolver cannot hold the action (the thread is abandoned, not waited for).
pub fn resolve(portal: &Portal, deadline: Deadline) -> Vec<SocketAddr> {
    match &portal.host {
        Host::Ip(ip) => vec![SocketAddr::new(*ip, portal.port)],
        Host::Name(_) if deadline.expired() => Vec::new(),
        Host::Name(name) => {
            let (tx, rx) = mpsc::channel();
            let query = (name.clone(), portal.port);
            thread::spawn(move || {
                let found: Vec<SocketAddr> = query.to_socket_addrs().map(|a| a.collect()).unwrap_or_default();
                let _ = tx.send(found);
            });
            rx.recv_timeout(deadline.remaining()).unwrap_or_default()
        }
    }
}

/// The addresses a portal stands for, for matching against what the kernel reports.
pub fn addresses(portal: &Portal, deadline: Deadline) -> Vec<IpAddr> {
    let mut a: Vec<IpAddr> = resolve(portal, deadline).into_iter().map(|a| a.ip()).collect();
    a.dedup();
    a
}

/// Whether a TCP connection to the portal opens before the deadline. No time left, no
/// attempt: the answer is then "no".
pub fn reachable(portal: &Portal, deadline: Deadline) -> bool {
    resolve(portal, deadline).into_iter().any(|addr| {
        let left = deadline.remaining();
        !left.is_zero() && TcpStream::connect_timeout(&addr, left).is_ok()
    })
}

/// The local address the kernel would send from to reach `addr`: a UDP socket connected
/// (a route lookup; nothing is sent).
pub fn source_for(addr: IpAddr) -> Result<IpAddr, String> {
    let any: SocketAddr = match addr {
        IpAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = UdpSocket::bind(any).map_err(|e| format!("cannot open a socket: {e}"))?;
    sock.connect(SocketAddr::new(addr, 9))
        .map_err(|e| format!("no route to {addr}: {e}"))?;
    sock.local_addr()
        .map(|a| a.ip())
        .map_err(|e| format!("no source address for {addr}: {e}"))
}

fn ip_of(a: &nix::sys::socket::SockaddrStorage) -> Option<IpAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(IpAddr::V4(v4.ip()));
    }
    a.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
}

/// Each interface's addresses with their prefix lengths (getifaddrs(3)).
fn addresses_by_interface() -> Vec<(String, IpAddr, u32)> {
    let Ok(all) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    all.filter_map(|i| {
        let addr = ip_of(i.address.as_ref()?)?;
        let prefix = match i.netmask.as_ref().and_then(ip_of) {
            Some(IpAddr::V4(m)) => u32::from(m).count_ones(),
            Some(IpAddr::V6(m)) => u128::from(m).count_ones(),
            None => 0,
        };
        Some((i.interface_name, addr, prefix))
    })
    .collect()
}

/// The interface holding the local address `local`.
pub fn interface_with(local: IpAddr) -> Option<String> {
    addresses_by_interface()
        .into_iter()
        .find(|(_, a, _)| *a == local)
        .map(|(n, _, _)| n)
}

fn same_subnet(a: IpAddr, b: IpAddr, prefix: u32) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) if prefix > 0 && prefix <= 32 => {
            let mask = u32::MAX << (32 - prefix);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) if prefix > 0 && prefix <= 128 => {
            let mask = u128::MAX << (128 - prefix);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// When there is no route: the interface whose address's subnet holds `addr` (its link is
/// down, so the kernel dropped the subnet's route), with that address and prefix.
pub fn interface_covering(addr: IpAddr) -> Option<(String, IpAddr, u32)> {
    addresses_by_interface()
        .into_iter()
        .find(|(_, a, p)| same_subnet(*a, addr, *p))
}

/// A network interface as the kernel shows it in sysfs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub name: String,
    /// RFC 2863 operational state: up, down, lowerlayerdown, dormant, unknown...
    pub operstate: String,
    /// IFF_UP: an admin set it up.
    pub admin_up: bool,
    /// `None` where the kernel cannot tell (the link is administratively down).
    pub carrier: Option<bool>,
    pub mtu: Option<u32>,
    pub loopback: bool,
    /// The device type udev sees (DEVTYPE: vlan, bridge, bond...), when it has one.
    pub kind: Option<String>,
    /// For a VLAN device: its VLAN id (from /proc/net/vlan/config, when 8021q shows it).
    pub vlan_id: Option<u16>,
    /// The devices it sits on (sysfs lower_* links: a VLAN's or a bond's), one level deep.
    pub lower: Vec<Link>,
}

impl Link {
    /// Up as `ip link` would call it: admin up and operationally up (a loopback or a
    /// driver without carrier reporting says "unknown", which counts as up).
    pub fn is_up(&self) -> bool {
        self.admin_up && matches!(self.operstate.as_str(), "up" | "unknown") && self.carrier != Some(false)
    }
}

fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file))
        .ok()
        .map(|s| s.trim().to_string())
}

/// `/proc/net/vlan/config` rows: `NAME | VID | LOWER`, after two header lines.
pub fn vlan_of(config: &str, name: &str) -> Option<(u16, String)> {
    config.lines().skip(2).find_map(|l| {
        let mut cols = l.split('|').map(str::trim);
        let (n, id, lower) = (cols.next()?, cols.next()?, cols.next()?);
        (n == name).then(|| Some((id.parse().ok()?, lower.to_string())))?
    })
}

fn link_at(sys_net: &Path, name: &str, depth: usize) -> Option<Link> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return None;
    }
    let dir = sys_net.join(name);
    let operstate = read(&dir, "operstate")?;
    let flags = read(&dir, "flags")
        .and_then(|f| u32::from_str_radix(f.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0);
    let kind = read(&dir, "uevent").and_then(|u| {
        u.lines()
            .find_map(|l| l.strip_prefix("DEVTYPE=").map(str::to_string))
    });
    let lower = if depth == 0 {
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.file_name().to_str()?.strip_prefix("lower_").map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
            .iter()
            .filter_map(|n| link_at(sys_net, n, depth + 1))
            .collect()
    } else {
        Vec::new()
    };
    let vlan_id = if kind.as_deref() == Some("vlan") {
        std::fs::read_to_string("/proc/net/vlan/config")
            .ok()
            .and_then(|c| vlan_of(&c, name))
            .map(|(id, _)| id)
    } else {
        None
    };
    Some(Link {
        name: name.to_string(),
        operstate,
        admin_up: flags & libc::IFF_UP as u32 != 0,
        carrier: read(&dir, "carrier").map(|c| c == "1"),
        mtu: read(&dir, "mtu").and_then(|m| m.parse().ok()),
        loopback: flags & libc::IFF_LOOPBACK as u32 != 0,
        kind,
        vlan_id,
        lower,
    })
}

/// The interface `name` from /sys/class/net, with the devices it sits on.
pub fn link(name: &str) -> Option<Link> {
    link_at(Path::new("/sys/class/net"), name, 0)
}

/// IP and ICMP headers in front of a ping's payload.
pub fn icmp_overhead(addr: IpAddr) -> u32 {
    match addr {
        IpAddr::V4(_) => 20 + 8,
        IpAddr::V6(_) => 40 + 8,
    }
}

/// The largest ICMP echo payload an IP packet can carry.
pub const MAX_PING_PAYLOAD: u32 = 65_507;

/// One `ping` run: how many echoes went out and came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ping {
    /// The payload in bytes (the packet is this plus `icmp_overhead`).
    pub payload: u32,
    /// Don't fragment (`-M do`).
    pub dont_fragment: bool,
    pub sent: u32,
    pub received: u32,
    /// "local error: message too long, mtu=N": the route (or a learnt path MTU) is N.
    pub local_mtu: Option<u32>,
    /// Why ping could not run or said nothing countable.
    pub error: Option<String>,
}

impl Ping {
    pub fn answered(&self) -> bool {
        self.received > 0
    }
}

/// `N packets transmitted, M received, ...`
fn counts(stdout: &str) -> Option<(u32, u32)> {
    let line = stdout.lines().find(|l| l.contains("packets transmitted"))?;
    let mut parts = line.split(',');
    let first = |p: Option<&str>| -> Option<u32> { p?.split_whitespace().next()?.parse().ok() };
    Some((first(parts.next())?, first(parts.next())?))
}

fn local_mtu(text: &str) -> Option<u32> {
    text.lines()
        .find(|l| l.contains("message too long"))
        .and_then(|l| l.rsplit_once("mtu="))
        .and_then(|(_, n)| n.trim().parse().ok())
}

/// Two echoes of `payload` bytes to `addr` (`-M do`: never fragmented), 0.2 s apart, each
/// answer awaited 1 s; the whole run bounded by `deadline` (and 3 s). No shell, no name
/// lookups (`-n`).
pub fn ping(tools: &Tools, addr: IpAddr, payload: u32, dont_fragment: bool, deadline: Deadline) -> Ping {
    let size = payload.to_string();
    let target = addr.to_string();
    let mut args = vec!["-n", "-c", "2", "-i", "0.2", "-W", "1", "-w", "2", "-s", &size];
    if dont_fragment {
        args.extend(["-M", "do"]);
    }
    if addr.is_ipv6() {
        args.push("-6");
    }
    args.push(&target);
    let mut p = Ping {
        payload,
        dont_fragment,
        sent: 0,
        received: 0,
        local_mtu: None,
        error: None,
    };
    match process::run(
        &tools.program(&PING),
        &args,
        deadline.capped(Duration::from_secs(3)),
    ) {
        Ok(out) => {
            p.local_mtu = local_mtu(&out.stderr).or_else(|| local_mtu(&out.stdout));
            match counts(&out.stdout) {
                Some((sent, received)) => {
                    p.sent = sent;
                    p.received = received;
                }
                None => {
                    p.error = Some(format!(
                        "ping exited {}: {}",
                        out.code.unwrap_or(-1),
                        crate::text::ellipsis(out.stderr.lines().last().unwrap_or("").trim(), 160)
                    ))
                }
            }
        }
        Err(RunError::NotFound(_)) => p.error = Some("ping not installed (iputils-ping)".into()),
        Err(e) => p.error = Some(format!("ping: {e}")),
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn a_listening_portal_is_reachable_and_a_closed_one_is_not() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let p = Portal::parse(&format!("127.0.0.1:{port}")).unwrap();
        assert!(reachable(&p, Deadline::after(REACH_TIMEOUT)));
        // A spent deadline tries nothing.
        assert!(!reachable(&p, Deadline::after(Duration::ZERO)));
        drop(l);
        assert!(!reachable(&p, Deadline::after(REACH_TIMEOUT)));
    }

    #[test]
    fn the_route_to_loopback_leaves_through_lo() {
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(source_for(local), Ok(local));
        let lo = interface_with(local).expect("lo holds 127.0.0.1");
        let link = link(&lo).unwrap();
        assert!(link.loopback && link.admin_up && link.is_up(), "{link:?}");
        assert!(link.mtu.is_some_and(|m| m >= 1500), "{link:?}");
        // 127.0.0.0/8: any loopback address is on lo's subnet.
        assert_eq!(
            interface_covering("127.9.9.9".parse().unwrap()).map(|(n, _, _)| n),
            Some(lo)
        );
        assert!(link_at(Path::new("/sys/class/net"), "../etc", 0).is_none());
    }

    #[test]
    fn ping_counts_what_came_back() {
        let tools = Tools::defaults();
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let p = ping(&tools, local, 1472, true, Deadline::after(Duration::from_secs(5)));
        assert_eq!((p.sent, p.received, p.error.clone()), (2, 2, None), "{p:?}");
        // A spent deadline runs nothing and says so.
        let p = ping(&tools, local, 56, false, Deadline::after(Duration::ZERO));
        assert!(p.received == 0 && p.error.is_some(), "{p:?}");
    }
}
