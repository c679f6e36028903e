//! The network between this node and a portal: can a TCP connection be opened within a
//! short deadline; which interface the kernel routes the portal's address through, and
//! that link's state, MTU and VLAN (sysfs, /proc/net/vlan, getifaddrs: no `ip` output is
//! parsed); whether the path carries the interface's MTU (`ping -M do`, the one tool this
//! module runs). The network facts are the running kernel's (its network namespace), never
//! the simulated host root's: the connection to the portal is made from here.

use std::ffi::CString;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
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

/// Why a host name gave no address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    /// The resolver says there is no such name (EAI_NONAME, EAI_NODATA): a wrong name, or
    /// one this node's /etc/hosts or DNS does not know.
    Unknown(String),
    /// The resolver failed or gave up for now (EAI_AGAIN: DNS not answering, ...).
    Failed(String),
    /// No answer within the time given.
    TimedOut,
}

impl std::fmt::Display for NameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NameError::Unknown(why) | NameError::Failed(why) => f.write_str(why),
            NameError::TimedOut => f.write_str("no answer from the resolver in time"),
        }
    }
}

/// getaddrinfo(3) for a TCP service, every address in the resolver's order.
fn lookup(name: &str) -> Result<Vec<IpAddr>, NameError> {
    let c_name = CString::new(name).map_err(|_| NameError::Unknown("a name with a NUL".into()))?;
    // SAFETY: a zeroed addrinfo is a valid "no hints" value; the fields used are set below.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_socktype = libc::SOCK_STREAM;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: a NUL-terminated name, valid hints and out pointer; the list is freed below.
    let rc = unsafe { libc::getaddrinfo(c_name.as_ptr(), std::ptr::null(), &hints, &mut res) };
    if rc != 0 {
        // SAFETY: gai_strerror returns a pointer to a static NUL-terminated string.
        let why = unsafe { std::ffi::CStr::from_ptr(libc::gai_strerror(rc)) }
            .to_string_lossy()
            .into_owned();
        return Err(match rc {
            libc::EAI_NONAME | libc::EAI_NODATA => NameError::Unknown(why),
            _ => NameError::Failed(why),
        });
    }
    let mut out = Vec::new();
    let mut ai = res;
    // SAFETY: walking the list getaddrinfo returned; each ai_addr matches its ai_family.
    unsafe {
        while !ai.is_null() {
            let a = &*ai;
            match a.ai_family {
                libc::AF_INET if !a.ai_addr.is_null() => {
                    let sin = &*(a.ai_addr as *const libc::sockaddr_in);
                    out.push(IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr))));
                }
                libc::AF_INET6 if !a.ai_addr.is_null() => {
                    let sin6 = &*(a.ai_addr as *const libc::sockaddr_in6);
                    out.push(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)));
                }
                _ => {}
            }
            ai = a.ai_next;
        }
        libc::freeaddrinfo(res);
    }
    let mut seen = Vec::new();
    out.retain(|a| {
        let new = !seen.contains(a);
        seen.push(*a);
        new
    });
    if out.is_empty() {
        return Err(NameError::Unknown("no address for the name".into()));
    }
    Ok(out)
}

/// What a name resolved to.
pub type Resolution = Result<Vec<IpAddr>, NameError>;

/// The addresses of each portal, all looked up at once and all within the deadline: a
/// lookup runs in a thread of its own, abandoned (not waited for) if it hangs. An address
/// portal is its address, asked of no one.
pub fn resolve_all(portals: &[&Portal], deadline: Deadline) -> Vec<Resolution> {
    let pending: Vec<Option<mpsc::Receiver<Resolution>>> = portals
        .iter()
        .map(|p| match &p.host {
            Host::Ip(_) => None,
            Host::Name(_) if deadline.expired() => None,
            Host::Name(name) => {
                let (tx, rx) = mpsc::channel();
                let name = name.clone();
                let spawned = thread::Builder::new().name("resolve".into()).spawn(move || {
                    let _ = tx.send(lookup(&name));
                });
                spawned.ok().map(|_| rx)
            }
        })
        .collect();
    portals
        .iter()
        .zip(pending)
        .map(|(p, rx)| match (&p.host, rx) {
            (Host::Ip(ip), _) => Ok(vec![*ip]),
            (Host::Name(_), None) => Err(NameError::TimedOut),
            (Host::Name(_), Some(rx)) => rx
                .recv_timeout(deadline.remaining())
                .unwrap_or(Err(NameError::TimedOut)),
        })
        .collect()
}

/// The addresses a portal stands for (none when its name does not resolve in time).
pub fn addresses(portal: &Portal, deadline: Deadline) -> Vec<IpAddr> {
    resolve_all(&[portal], deadline)
        .pop()
        .and_then(Result::ok)
        .unwrap_or_default()
}

/// `reachable` for each portal, all probed at once: the whole costs one deadline, not one
/// per portal. (Each probe ends by the deadline: the threads are joined.)
pub fn reachable_all(portals: &[&Portal], deadline: Deadline) -> Vec<bool> {
    thread::scope(|scope| {
        let probes: Vec<_> = portals
            .iter()
            .map(|p| {
                let p: Portal = (*p).clone();
                thread::Builder::new()
                    .name("probe".into())
                    .spawn_scoped(scope, move || reachable(&p, deadline))
            })
            .collect();
        probes
            .into_iter()
            .map(|h| h.ok().and_then(|h| h.join().ok()).unwrap_or(false))
            .collect()
    })
}

/// Whether a TCP connection to the portal opens before the deadline. No time left, no
/// attempt: the answer is then "no".
pub fn reachable(portal: &Portal, deadline: Deadline) -> bool {
    addresses(portal, deadline).into_iter().any(|ip| {
        let left = deadline.remaining();
        !left.is_zero() && TcpStream::connect_timeout(&SocketAddr::new(ip, portal.port), left).is_ok()
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

    #[test]
    fn portals_are_probed_together() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let up = Portal::parse(&format!("127.0.0.1:{}", l.local_addr().unwrap().port())).unwrap();
        let closed = {
            let c = TcpListener::bind("127.0.0.1:0").unwrap();
            Portal::parse(&format!("127.0.0.1:{}", c.local_addr().unwrap().port())).unwrap()
        };
        assert_eq!(
            reachable_all(&[&up, &closed, &up], Deadline::after(REACH_TIMEOUT)),
            vec![true, false, true]
        );
        assert_eq!(
            reachable_all(&[], Deadline::after(REACH_TIMEOUT)),
            Vec::<bool>::new()
        );
    }

    #[test]
    fn names_resolve_or_say_why() {
        let local = Portal::parse("localhost:3260").unwrap();
        let invalid = Portal::parse("no-such-host.invalid:3260").unwrap();
        let ip = Portal::parse("10.10.10.2:3260").unwrap();
        let r = resolve_all(&[&local, &ip, &invalid], Deadline::after(Duration::from_secs(5)));
        assert!(
            r[0].as_ref().unwrap().contains(&"127.0.0.1".parse().unwrap()),
            "{r:?}"
        );
        assert_eq!(r[1], Ok(vec!["10.10.10.2".parse().unwrap()]));
        assert!(r[2].is_err(), "{r:?}");
        // A spent deadline looks nothing up, and an address needs no lookup.
        let r = resolve_all(&[&local, &ip], Deadline::after(Duration::ZERO));
        assert_eq!(r[0], Err(NameError::TimedOut));
        assert!(r[1].is_ok());
    }
}
