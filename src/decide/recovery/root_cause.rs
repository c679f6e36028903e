//! Step 3 of the procedure, the root cause, for one path and in the seed's order: the
//! storage address answers TCP, this side's interface (its state, VLAN and MTU), the
//! path carries that MTU, the target answers an iSCSI login, CHAP in the last login
//! attempts; and, for the node, iscsid.

use super::{finding, subject, Finding, Grade, Input};
use crate::iscsi::iscsiadm::{Error as IscsiadmError, ErrorKind};
use crate::iscsi::probe::{status_meaning, Outcome};
use crate::net::Link;
use crate::observe::network::{MtuCheck, PortalNet, Route};
use crate::observe::Snapshot;

fn link_line(l: &Link) -> String {
    let mut s = format!(
        "{}: {}{}, carrier {}, mtu {}",
        l.name,
        l.operstate,
        if l.admin_up {
            ""
        } else {
            " (administratively down)"
        },
        match l.carrier {
            Some(true) => "yes",
            Some(false) => "no",
            None => "unknown",
        },
        l.mtu.map_or("unknown".to_string(), |m| m.to_string())
    );
    if let Some(k) = &l.kind {
        s.push_str(&format!(", {k}"));
    }
    if let Some(id) = l.vlan_id {
        s.push_str(&format!(" id {id}"));
    }
    if l.loopback {
        s.push_str(", loopback");
    }
    for low in &l.lower {
        s.push_str(&format!(" on {}", link_line(low)));
    }
    s
}

/// Why a link cannot carry the leg, and what to do about it.
fn link_fault(l: &Link) -> Option<(String, String)> {
    if !l.admin_up {
        return Some((
            format!("{} is administratively down", l.name),
            format!("ip link set dev {} up", l.name),
        ));
    }
    if let Some(low) = l.lower.iter().find(|low| !low.is_up()) {
        return Some((
            format!("{} sits on {}, which is {}", l.name, low.name, low.operstate),
            if low.admin_up {
                format!("check {}'s cable and switch port (no carrier)", low.name)
            } else {
                format!("ip link set dev {} up", low.name)
            },
        ));
    }
    if !l.is_up() {
        return Some((
            format!(
                "{} is {}{}",
                l.name,
                l.operstate,
                if l.carrier == Some(false) {
                    ", no carrier"
                } else {
                    ""
                }
            ),
            format!(
                "check {}'s cable, its switch port and the peer's side of the link",
                l.name
            ),
        ));
    }
    None
}

/// The root-cause findings of one path; returns whether any failed.
pub(super) fn step3_path(i: &Input, l: usize, p: usize, out: &mut Vec<Finding>) -> bool {
    let snap = i.snap;
    let facts = &snap.legs[l].paths[p];
    let s = subject(snap, l, p);
    let portal = &facts.path.portal;
    let net = snap.network.as_ref().and_then(|n| n.path(l, p));
    let start = out.len();
    // The storage address answers TCP.
    out.push(match facts.reachable {
        Some(true) => finding(
            3,
            "portal_tcp",
            s.clone(),
            Grade::Ok,
            format!("{portal} accepts TCP connections"),
        )
        .evidence(format!(
            "TCP connect to {portal} within {} s",
            crate::net::REACH_TIMEOUT.as_secs()
        )),
        Some(false) => finding(
            3,
            "portal_tcp",
            s.clone(),
            Grade::Fail,
            format!("{portal} does not accept a TCP connection"),
        )
        .evidence(format!(
            "TCP connect to {portal}: no connection within {} s",
            crate::net::REACH_TIMEOUT.as_secs()
        ))
        .next(
            "check the link below; on the peer: ss -tlnp | grep ':".to_string()
                + &portal.port.to_string()
                + "' (is the target listening?)",
        ),
        None => finding(3, "portal_tcp", s.clone(), Grade::Skipped, "not probed"),
    });
    let Some(net) = net else {
        return out[start..].iter().any(|f| f.grade == Grade::Fail);
    };
    // This side's interface, its VLAN and MTU.
    out.push(match (&net.unresolved, &net.route) {
        (Some(why), _) => finding(3, "interface", s.clone(), Grade::Fail, why.clone())
            .next(format!("check the name service for {}", portal.address())),
        (None, Some(Route::Via { source, interface: Some(link) })) => {
            let f = finding(3, "interface", s.clone(), Grade::Ok, format!("{} is up, mtu {}", link.name, link.mtu.map_or("unknown".into(), |m| m.to_string())))
                .evidence(format!("route: from {source} via {}", link.name))
                .evidence(link_line(link));
            match link_fault(link) {
                Some((why, next)) => Finding { grade: Grade::Fail, why, ..f }.next(next),
                None if link.loopback => Finding {
                    why: format!("the portal is on this host ({})", link.name),
                    ..f
                },
                None => f,
            }
        }
        (None, Some(Route::Via { source, interface: None })) => {
            finding(3, "interface", s.clone(), Grade::Warn, format!("the kernel sends from {source}, but no interface holds it"))
        }
        (None, Some(Route::None { why, covering })) => {
            let mut f = finding(3, "interface", s.clone(), Grade::Fail, why.clone());
            match covering {
                Some(link) => {
                    f.evidence.push(link_line(link));
                    match link_fault(link) {
                        Some((why2, next)) => {
                            f.why = format!("{why}: {why2}");
                            f.next = Some(next);
                        }
                        None => f.next = Some(format!("ip route get {}", portal.address())),
                    }
                }
                None => {
                    f.next = Some(format!(
                        "no interface has an address on {}'s subnet: check the storage interface's address (ip addr show)",
                        portal.address()
                    ))
                }
            }
            f
        }
        (None, None) => finding(3, "interface", s.clone(), Grade::Skipped, "no address to route"),
    });
    // The path carries the interface's MTU.
    let link_name = net
        .route
        .as_ref()
        .and_then(Route::link)
        .map(|l| l.name.clone())
        .unwrap_or_default();
    let addr = net.address.map(|a| a.to_string()).unwrap_or_default();
    out.push(match &net.mtu {
        MtuCheck::Skipped { why } => finding(3, "path_mtu", s.clone(), Grade::Skipped, why.clone()),
        MtuCheck::Done { mtu, small, full, standard } => {
            let ping = |p: &crate::net::Ping| {
                format!(
                    "ping {}-s {} {addr}: {}/{} answered{}{}",
                    if p.dont_fragment { "-M do " } else { "" },
                    p.payload,
                    p.received,
                    p.sent,
                    p.local_mtu.map(|m| format!(", local error: message too long, mtu={m}")).unwrap_or_default(),
                    p.error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default()
                )
            };
            let mut f = finding(3, "path_mtu", s.clone(), Grade::Ok, String::new()).evidence(ping(small));
            for p in [full, standard].into_iter().flatten() {
                f.evidence.push(ping(p));
            }
            match (small.answered(), full) {
                (false, _) if small.error.is_some() => {
                    f.grade = Grade::Warn;
                    f.why = "ping could not run: the path MTU is not checked".into();
                }
                (false, _) if facts.reachable == Some(false) => {
                    f.grade = Grade::Skipped;
                    f.why = format!("{addr} answers nothing: reachability first");
                }
                (false, _) => {
                    f.grade = Grade::Warn;
                    f.why = format!("{addr} does not answer ICMP echo: the path MTU cannot be checked (TCP and iSCSI need no ICMP)");
                    f.next = Some(format!("if ICMP is filtered on purpose, check the MTU on both ends by hand (ip link show {link_name} here and on the peer)"));
                }
                (true, Some(full)) if full.answered() => {
                    f.why = format!("the path carries {mtu}-byte packets ({link_name}'s MTU)");
                }
                (true, Some(full)) => {
                    f.grade = Grade::Fail;
                    let full_bytes = full.payload + mtu.saturating_sub(full.payload).min(crate::net::icmp_overhead(net.address.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into())));
                    if let Some(m) = full.local_mtu.filter(|m| m < mtu) {
                        f.why = format!("{link_name} has MTU {mtu}, but the route to {addr} allows only {m} bytes");
                        f.next = Some(format!("ip route get {addr}: remove the route's mtu, or set {link_name}'s MTU to {m}"));
                    } else if standard.as_ref().is_some_and(crate::net::Ping::answered) {
                        f.why = format!(
                            "MTU mismatch: {link_name} has MTU {mtu}, the path carries 1500-byte packets but not {full_bytes}-byte ones"
                        );
                        f.next = Some(format!(
                            "give both ends and every switch port between them the same MTU: on the peer, ip link set dev <its storage interface> mtu {mtu} (or set {link_name} to 1500 here)"
                        ));
                    } else {
                        f.why = format!("{link_name} has MTU {mtu}, and {full_bytes}-byte packets do not reach {addr} (small ones do)");
                        f.next = Some(format!("compare the MTU on both ends and the switch ports (ip link show {link_name}; the same on the peer)"));
                    }
                }
                (true, None) => {
                    f.grade = Grade::Skipped;
                    f.why = "only the small echo was tried".into();
                }
            }
            f
        }
    });
    // The target answers iSCSI.
    let name = snap.network.as_ref().and_then(|n| n.initiator_name.clone());
    let target = facts.path.target.as_str();
    let mut f = match &net.login {
        None => finding(
            3,
            "target_login",
            s.clone(),
            Grade::Skipped,
            "the portal does not accept TCP: no login to try",
        ),
        Some(o) => login_finding(o, &s, target, portal, name.as_deref()),
    };
    if name.is_none() && net.login.is_some() {
        f.evidence.push(format!(
            "no /{}: the probe used {}",
            crate::iscsi::iscsid::INITIATOR_NAME_FILE,
            crate::observe::network::FALLBACK_INITIATOR
        ));
    }
    if let Some(e) = last_error(snap, l, p) {
        f.evidence
            .push(format!("the monitor's last login attempt failed: {e}"));
    }
    out.push(f);
    // CHAP, as the last login attempts saw it.
    out.push(chap_finding(i, l, p, &s, net));
    out[start..].iter().any(|f| f.grade == Grade::Fail)
}

fn last_error(snap: &Snapshot, l: usize, p: usize) -> Option<String> {
    let path = &snap.legs[l].paths[p].path;
    snap.state.state()?.record(path)?.backoff.last_error.clone()
}

pub(super) fn login_finding(
    o: &Outcome,
    s: &str,
    target: &str,
    portal: &crate::target::Portal,
    initiator: Option<&str>,
) -> Finding {
    let who = initiator.unwrap_or(crate::observe::network::FALLBACK_INITIATOR);
    match o {
        Outcome::Answered {
            status_class,
            status_detail,
            auth_method,
            target_address,
            elapsed_ms,
        } => {
            let (code, meaning) = status_meaning(*status_class, *status_detail);
            let evidence = format!(
                "iSCSI Login Request (security stage, AuthMethod={}) as {who}: status {status_class:02x}/{status_detail:02x} ({code}){} in {elapsed_ms} ms",
                crate::iscsi::probe::OFFERED_AUTH,
                auth_method.as_ref().map(|a| format!(", AuthMethod={a}")).unwrap_or_default()
            );
            let f = |g, why: String| finding(3, "target_login", s, g, why).evidence(evidence.clone());
            match (*status_class, *status_detail) {
                (0, _) => match auth_method.as_deref() {
                    Some("CHAP") => f(Grade::Ok, format!("{target} answers at {portal}; it requires CHAP (the probe stops before authenticating)")),
                    _ => f(Grade::Ok, format!("{target} answers at {portal}: login accepted")),
                },
                (1, _) => f(
                    Grade::Warn,
                    format!(
                        "{target} answers at {portal} with a redirection{}",
                        target_address.as_ref().map(|a| format!(" to {a}")).unwrap_or_default()
                    ),
                )
                .next("the target moved: point the resource's portal at where it is now"),
                (2, 2) => f(Grade::Fail, format!("{target} refuses {who}: {meaning}"))
                    .next(format!("on the peer, admit this initiator: targetcli /iscsi/{target}/tpg1/acls create {who}")),
                (2, 3) => f(
                    Grade::Fail,
                    format!("{target} is not exported at {portal} (or its ACL hides it from {who}, as tgt does)"),
                )
                .next(format!("on the peer: targetcli ls /iscsi (is {target} there, with a portal on {portal} and an ACL for {who}?)")),
                (2, 1) => f(Grade::Fail, format!("{target}: {meaning}"))
                    .next("check CHAP (below)"),
                (3, 1) | (3, 2) => f(Grade::Warn, format!("{target}: {meaning}"))
                    .next("wait, then run iscsi-mirror doctor again"),
                _ => f(Grade::Fail, format!("{target}: {meaning}"))
                    .next("on the peer: dmesg | grep -i iscsi; targetcli ls"),
            }
        }
        Outcome::NoConnection { why } => finding(3, "target_login", s, Grade::Fail, format!("no TCP connection for the login: {why}")),
        Outcome::NoAnswer { why } => finding(
            3,
            "target_login",
            s,
            Grade::Fail,
            format!("{portal} accepts TCP but gave no iSCSI login answer: {why}"),
        )
        .next("on the peer: is the iSCSI target service running and exporting targets? (targetcli ls; ss -tlnp | grep 3260)"),
        Outcome::Malformed { why } => finding(
            3,
            "target_login",
            s,
            Grade::Fail,
            format!("{portal} does not answer as an iSCSI target: {why}"),
        )
        .next(format!("something else listens on port {} on the peer", portal.port)),
    }
}

/// The reason the monitor records for a CHAP failure (iscsiadm's exit 24).
fn chap_failure_text() -> String {
    IscsiadmError {
        kind: ErrorKind::AuthFailed,
        operation: String::new(),
        detail: String::new(),
    }
    .advice()
}

fn chap_finding(i: &Input, l: usize, p: usize, s: &str, net: &PortalNet) -> Finding {
    let snap = i.snap;
    let path = &snap.legs[l].paths[p].path;
    let record = snap.state.state().and_then(|st| st.record(path));
    let failed = record
        .is_some_and(|r| r.backoff.last_error.as_deref() == Some(chap_failure_text().as_str()))
        || matches!(
            net.login,
            Some(Outcome::Answered {
                status_class: 2,
                status_detail: 1,
                ..
            })
        );
    let requires = matches!(&net.login, Some(Outcome::Answered { status_class: 0, auth_method: Some(a), .. }) if a == "CHAP");
    let show = format!(
        "iscsiadm -m node -T {} -p {} -o show | grep node.session.auth",
        path.target,
        path.portal.to_iscsiadm()
    );
    if failed {
        let b = record.map(|r| &r.backoff);
        let mut f = finding(
            3,
            "chap",
            s,
            Grade::Fail,
            "CHAP authentication failed: this node's credentials and the target's do not match",
        )
        .next(format!(
            "compare {show} with the target's (on the peer: targetcli ls /iscsi/{}/tpg1/acls); make node.session.auth.username/password match",
            path.target
        ));
        if let Some(b) = b.filter(|b| b.failures > 0) {
            f.evidence.push(format!(
                "{} failed login attempt(s) in a row, the last at unix time {}: {}",
                b.failures,
                b.last_attempt_unix,
                b.last_error.as_deref().unwrap_or("")
            ));
        }
        return f;
    }
    let mut f = finding(
        3,
        "chap",
        s,
        Grade::Ok,
        if requires {
            "the target requires CHAP; no authentication failure in the last login attempts"
        } else {
            "no authentication failure in the last login attempts"
        },
    );
    match record.map(|r| &r.backoff).filter(|b| b.failures > 0) {
        Some(b) => f.evidence.push(format!(
            "{} failed login attempt(s), the last: {}",
            b.failures,
            b.last_error.as_deref().unwrap_or("no reason recorded")
        )),
        None => f
            .evidence
            .push("no failed login recorded in the resource's state".into()),
    }
    f
}

pub(super) fn iscsid_finding(snap: &Snapshot) -> Option<Finding> {
    let d = &snap.network.as_ref()?.iscsid;
    Some(if d.running {
        finding(
            3,
            "iscsid",
            "iscsid",
            Grade::Ok,
            format!("iscsid runs (pid {})", d.pid.unwrap_or(0)),
        )
        .evidence(d.evidence.clone())
    } else {
        finding(
            3,
            "iscsid",
            "iscsid",
            Grade::Fail,
            "iscsid is not running: no login and no kernel recovery can happen",
        )
        .evidence(d.evidence.clone())
        .next(
            "start it (it does not interrupt sessions): systemctl start iscsid, or /etc/init.d/iscsid start",
        )
    })
}
