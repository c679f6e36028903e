//! Reachability of a portal: can a TCP connection be opened within a short deadline?

use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crate::deadline::Deadline;
use crate::target::{Host, Portal};

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
}
