//! Matching configured paths with the kernel's sessions, exactly and without any I/O
//! beyond what was read: a portal given by host name is matched by the addresses start
//! resolved and recorded, never by asking DNS on every monitor.

use std::net::IpAddr;

use crate::iscsi::sysfs::{Session, SessionState};
use crate::state::InstanceState;
use crate::target::{Host, Path};

/// A configured path and what the kernel has for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathFacts {
    pub path: Path,
    pub session: Option<Session>,
    /// Whether the portal answered a TCP connection, when that was asked.
    pub reachable: Option<bool>,
}

impl PathFacts {
    pub fn kernel_state(&self) -> &str {
        self.session
            .as_ref()
            .map(|s| s.state.as_str())
            .unwrap_or("no session")
    }

    pub fn logged_in(&self) -> bool {
        self.session
            .as_ref()
            .is_some_and(|s| s.state == SessionState::LoggedIn)
    }
}

fn address_of(s: &Session) -> Option<(IpAddr, u16)> {
    let c = s.connections.first()?;
    let a = c.persistent_address.trim_start_matches('[').trim_end_matches(']');
    Some((a.parse().ok()?, c.persistent_port))
}

/// Whether `s` serves `path`: the target and the portal exactly (an address portal by its
/// address; a name portal by the name as the kernel kept it, else by the addresses start
/// recorded for it, else, when nothing was recorded, by target and port alone, the target
/// being unique to this resource).
pub fn serves(s: &Session, path: &Path, state: Option<&InstanceState>) -> bool {
    if s.target != path.target.as_str() {
        return false;
    }
    if s.leads_to(path) {
        return true;
    }
    // The target portal an iSNS server gave at start.
    if let Some(st) = state.filter(|st| st.record(path).is_some_and(|r| r.target_portal.is_some())) {
        return s.leads_to(&st.for_iscsiadm(path));
    }
    let Host::Name(_) = path.portal.host else {
        return false;
    };
    let Some((addr, port)) = address_of(s) else {
        return false;
    };
    if port != path.portal.port {
        return false;
    }
    match state
        .and_then(|st| st.record(path))
        .filter(|r| !r.addresses.is_empty())
    {
        Some(r) => r.addresses.contains(&addr),
        None => true,
    }
}

/// The kernel session serving each path, a logged-in one preferred; a session is given
/// to one path only (two name portals resolving alike cannot both claim it).
pub fn match_sessions(paths: &[Path], sessions: &[Session], state: Option<&InstanceState>) -> Vec<PathFacts> {
    let mut taken: Vec<u32> = Vec::new();
    // Exact matches first, so a name portal's fallback never takes an address portal's session.
    let mut found: Vec<Option<Session>> = paths
        .iter()
        .map(|path| {
            let mut c: Vec<&Session> = sessions.iter().filter(|s| s.leads_to(path)).collect();
            c.sort_by_key(|s| s.state != SessionState::LoggedIn);
            let s = c.first().map(|s| (*s).clone());
            if let Some(s) = &s {
                taken.push(s.sid);
            }
            s
        })
        .collect();
    for (i, path) in paths.iter().enumerate() {
        if found[i].is_some() {
            continue;
        }
        let mut c: Vec<&Session> = sessions
            .iter()
            .filter(|s| !taken.contains(&s.sid) && serves(s, path, state))
            .collect();
        c.sort_by_key(|s| s.state != SessionState::LoggedIn);
        if let Some(s) = c.first() {
            taken.push(s.sid);
            found[i] = Some((*s).clone());
        }
    }
    paths
        .iter()
        .zip(found)
        .map(|(path, session)| PathFacts {
            path: path.clone(),
            session,
            reachable: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iscsi::sysfs::Connection;
    use crate::target::{Iqn, Portal};

    fn session(sid: u32, target: &str, addr: &str, port: u16, state: SessionState) -> Session {
        Session {
            sid,
            target: target.into(),
            state,
            recovery_tmo: None,
            connections: vec![Connection {
                name: format!("connection{sid}:0"),
                persistent_address: addr.into(),
                persistent_port: port,
                address: addr.into(),
                port,
                state: "LOGGED IN".into(),
                recv_tmo: None,
                ping_tmo: None,
            }],
            disks: vec![],
        }
    }

    fn path(t: &str, p: &str) -> Path {
        Path {
            target: Iqn::parse(t).unwrap(),
            portal: Portal::parse(p).unwrap(),
        }
    }

    const B: &str = "iqn.2025-01.lab.home:storage-b";

    #[test]
    fn addresses_match_exactly_and_logged_in_sessions_win() {
        let s = vec![
            session(1, B, "127.0.0.10", 3260, SessionState::LoggedIn),
            session(2, B, "127.0.0.1", 3260, SessionState::Failed),
            session(3, B, "127.0.0.1", 3260, SessionState::LoggedIn),
        ];
        let f = match_sessions(&[path(B, "127.0.0.1:3260")], &s, None);
        assert_eq!(f[0].session.as_ref().map(|s| s.sid), Some(3));
        let none = match_sessions(&[path(B, "127.0.0.1:3261")], &s, None);
        assert!(none[0].session.is_none());
    }

    #[test]
    fn a_name_portal_matches_by_what_start_recorded_without_dns() {
        let s = vec![
            session(1, B, "10.10.10.2", 3260, SessionState::LoggedIn),
            session(2, B, "10.10.10.9", 3260, SessionState::LoggedIn),
        ];
        let p = path(B, "storage-b.san.invalid:3260");
        let mut st = InstanceState::default();
        st.record_mut(&p).addresses = vec!["10.10.10.9".parse().unwrap()];
        let f = match_sessions(std::slice::from_ref(&p), &s, Some(&st));
        assert_eq!(f[0].session.as_ref().map(|s| s.sid), Some(2));
        // Nothing recorded: the unique target and the port decide.
        let f = match_sessions(std::slice::from_ref(&p), &s[..1], None);
        assert_eq!(f[0].session.as_ref().map(|s| s.sid), Some(1));
        // Another port is another portal.
        assert!(
            match_sessions(&[path(B, "storage-b.san.invalid:3261")], &s, None)[0]
                .session
                .is_none()
        );
    }

    #[test]
    fn an_isns_server_s_path_matches_the_target_portal_it_gave() {
        let s = vec![session(1, B, "10.10.10.2", 3260, SessionState::LoggedIn)];
        let server = Path {
            target: Iqn::parse(B).unwrap(),
            portal: Portal::parse_with_default("10.10.10.5", 3205).unwrap(),
        };
        assert!(match_sessions(std::slice::from_ref(&server), &s, None)[0]
            .session
            .is_none());
        let mut st = InstanceState::default();
        st.record_mut(&server).target_portal = Some("10.10.10.2:3260".into());
        let f = match_sessions(std::slice::from_ref(&server), &s, Some(&st));
        assert_eq!(f[0].session.as_ref().map(|s| s.sid), Some(1));
        st.record_mut(&server).target_portal = Some("10.10.10.3:3260".into());
        assert!(match_sessions(std::slice::from_ref(&server), &s, Some(&st))[0]
            .session
            .is_none());
    }

    #[test]
    fn a_session_serves_one_path_only() {
        let s = vec![session(1, B, "10.10.10.2", 3260, SessionState::LoggedIn)];
        let f = match_sessions(
            &[path(B, "10.10.10.2:3260"), path(B, "storage-b.invalid:3260")],
            &s,
            None,
        );
        assert!(f[0].session.is_some());
        assert!(
            f[1].session.is_none(),
            "the name portal took the address portal's session"
        );
    }
}
