//! Reachability of a portal: can a TCP connection be opened within a short deadline?

use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crate::target::{Host, Portal};

/// About the time the product's monitor table allows for one reachability check.
pub const REACH_TIMEOUT: Duration = Duration::from_secs(1);

/// Resolves the portal's host; a name lookup runs in a thread so a hung resolver cannot
/// hold the action past `timeout`.
pub fn resolve(portal: &Portal, timeout: Duration) -> Vec<SocketAddr> {
    match &portal.host {
        Host::Ip(ip) => vec![SocketAddr::new(*ip, portal.port)],
        Host::Name(name) => {
            let (tx, rx) = mpsc::channel();
            let query = (name.clone(), portal.port);
            thread::spawn(move || {
                let found: Vec<SocketAddr> = query.to_socket_addrs().map(|a| a.collect()).unwrap_or_default();
                let _ = tx.send(found);
            });
            rx.recv_timeout(timeout).unwrap_or_default()
        }
    }
}

/// The addresses a portal stands for, for matching against what the kernel reports.
pub fn addresses(portal: &Portal, timeout: Duration) -> Vec<IpAddr> {
    resolve(portal, timeout).into_iter().map(|a| a.ip()).collect()
}

pub fn reachable(portal: &Portal, timeout: Duration) -> bool {
    let started = std::time::Instant::now();
    resolve(portal, timeout).into_iter().any(|addr| {
        let left = timeout.saturating_sub(started.elapsed());
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
        assert!(reachable(&p, REACH_TIMEOUT));
        drop(l);
        assert!(!reachable(&p, REACH_TIMEOUT));
    }
}
