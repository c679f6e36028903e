//! Reachability of a portal (can a TCP connection be opened within a short deadline?) and
//! the addresses a portal's host name stands for. Every lookup runs within a deadline: a
//! resolver that hangs cannot hold an action.

use std::ffi::CString;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crate::deadline::Deadline;
use crate::target::{Host, Portal};

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
