//! The recovery procedure (seeds/000, "iSCSI Session Recovery Procedure") as a judgement
//! of one snapshot, without I/O: each step a finding with a grade (ok, warn, fail,
//! skipped), why, the evidence, and the exact next action; the reconnect option that fits
//! (A rescan, B logout/login all, C targeted logout/login, D restart open-iscsi) and why;
//! the gated `zpool online` (the monitor's own pool plan); whether the resilver is done
//! and a fail-back or a node's shutdown is safe.
//!
//! The legs are judged by `assess` and the pool by `pool::plan`, as the monitor and
//! status judge them, so doctor cannot disagree with them about the same facts.

use serde::Serialize;

use crate::decide::assess::Assessment;
use crate::decide::pool::Plan;
use crate::decide::verdict::Reason;
use crate::iscsi::iscsiadm::{Error as IscsiadmError, ErrorKind};
use crate::iscsi::probe::{status_meaning, Outcome};
use crate::iscsi::sysfs::SessionState;
use crate::net::Link;
use crate::observe::network::{MtuCheck, PortalNet, Route};
use crate::observe::{PathFacts, Snapshot};
use crate::zfs::{Reading, Scan};

/// How long doctor watches a returned session before `zpool online` (the monitor waits
/// two monitor intervals; an admin who runs doctor has asked, and watches it happen).
pub const DOCTOR_STABLE_MS: u64 = 5_000;

/// A finding's grade. Ordered: a worse grade compares greater.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    Skipped,
    Ok,
    Warn,
    Fail,
}

impl Grade {
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::Skipped => "skipped",
            Grade::Ok => "ok",
            Grade::Warn => "warn",
            Grade::Fail => "fail",
        }
    }
}

/// The procedure's steps, numbered as in the seed.
pub const STEPS: [(u8, &str); 6] = [
    (1, "Verify session state"),
    (2, "Check ZFS pool status"),
    (3, "Diagnose the root cause"),
    (4, "Reconnect sessions"),
    (5, "Verify ZFS recovery"),
    (6, "Monitor resilver"),
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub step: u8,
    /// A bounded code: sessions, pool, portal_tcp, interface, path_mtu, target_login,
    /// chap, iscsid, reconnect, zfs_online, resilver.
    pub check: &'static str,
    /// What was checked: "storage-b via 192.168.10.2:3260", "san-pool", "iscsid".
    pub subject: String,
    pub grade: Grade,
    /// One sentence.
    pub why: String,
    /// What was read, each line one fact.
    pub evidence: Vec<String>,
    /// The exact next action, when there is one.
    pub next: Option<String>,
}

/// The seed's four ways to reconnect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Reconnect {
    /// Rescan the existing sessions.
    A,
    /// Log out of every session and log in to every automatic record.
    B,
    /// Targeted logout and login of one target and portal.
    C,
    /// Restart open-iscsi (interrupts every session).
    D,
}

impl Reconnect {
    pub fn describe(self) -> &'static str {
        match self {
            Reconnect::A => "A (rescan the existing session)",
            Reconnect::B => "B (log out of every session, log in to every record)",
            Reconnect::C => "C (targeted logout and login of this resource's path)",
            Reconnect::D => "D (restart open-iscsi)",
        }
    }
}

/// A path option C would bring back: its indices, and the stale session to log out first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Relogin {
    pub leg: usize,
    pub path: usize,
    pub stale_sid: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Choice {
    pub option: Option<Reconnect>,
    /// The paths option C would log in (only this resource's).
    pub relogin: Vec<Relogin>,
    pub why: String,
    /// Why each other option does not fit.
    pub not: Vec<(Reconnect, String)>,
}

/// The whole judgement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recovery {
    pub findings: Vec<Finding>,
    pub choice: Choice,
    /// The `zpool online` the pool plan calls for (vdev), at most one.
    pub online: Option<String>,
    /// No resilver runs, every vdev is ONLINE, no half is marked outdated.
    pub safe_to_fail_back: Option<bool>,
}

impl Recovery {
    pub fn worst(&self) -> Grade {
        self.findings.iter().map(|f| f.grade).max().unwrap_or(Grade::Ok)
    }

    /// 0 all ok (or skipped), 1 warnings, 2 failures.
    pub fn exit_code(&self) -> i32 {
        match self.worst() {
            Grade::Skipped | Grade::Ok => 0,
            Grade::Warn => 1,
            Grade::Fail => 2,
        }
    }

    pub fn count(&self, g: Grade) -> usize {
        self.findings.iter().filter(|f| f.grade == g).count()
    }
}

/// Everything the judgement needs, all plain data.
pub struct Input<'a> {
    pub snap: &'a Snapshot,
    pub assessment: &'a Assessment,
    pub pool_name: Option<&'a str>,
    /// The pool plan (with doctor's stable window), when the pool was read.
    pub pool: Option<&'a Plan>,
    /// The nodes whose half the CIB marks outdated; `None` when the CIB was not read.
    pub outdated: Option<&'a [String]>,
}

fn finding(
    step: u8,
    check: &'static str,
    subject: impl Into<String>,
    grade: Grade,
    why: impl Into<String>,
) -> Finding {
    Finding {
        step,
        check,
        subject: subject.into(),
        grade,
        why: why.into(),
        evidence: Vec::new(),
        next: None,
    }
}

impl Finding {
    fn evidence(mut self, e: impl Into<String>) -> Finding {
        self.evidence.push(e.into());
        self
    }

    fn next(mut self, n: impl Into<String>) -> Finding {
        self.next = Some(n.into());
        self
    }
}

fn subject(snap: &Snapshot, l: usize, p: usize) -> String {
    let leg = &snap.legs[l];
    format!("{} via {}", leg.leg.label(), leg.paths[p].path.portal)
}

fn session_line(p: &PathFacts) -> String {
    match &p.session {
        Some(s) => {
            let conn = s
                .connections
                .first()
                .map(|c| {
                    format!(
                        ", connection {}:{} {}",
                        c.persistent_address, c.persistent_port, c.state
                    )
                })
                .unwrap_or_default();
            let disks = if s.disks.is_empty() {
                ", no disk".to_string()
            } else {
                format!(
                    ", disks {}",
                    s.disks
                        .iter()
                        .map(|d| format!("{} ({})", d.block.as_deref().unwrap_or(&d.hctl), d.state))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            format!(
                "kernel: session {} to {} is {}{conn}{disks}",
                s.sid,
                s.target,
                s.state.as_str()
            )
        }
        None => format!(
            "kernel: no iSCSI session to {} via {}",
            p.path.target, p.path.portal
        ),
    }
}

/// A logged-in session whose disks are missing or not running: a rescan's case.
fn disks_amiss(p: &PathFacts) -> Option<String> {
    let s = p.session.as_ref().filter(|_| p.logged_in())?;
    if s.disks.is_empty() {
        return Some("the session has no disk".into());
    }
    let bad: Vec<String> = s
        .disks
        .iter()
        .filter(|d| d.state != "running" || d.block.is_none())
        .map(|d| {
            format!(
                "{} is {}",
                d.block.as_deref().unwrap_or(&d.hctl),
                if d.block.is_none() {
                    "without a block device"
                } else {
                    &d.state
                }
            )
        })
        .collect();
    (!bad.is_empty()).then(|| bad.join(", "))
}

fn step1(i: &Input, out: &mut Vec<Finding>) {
    let snap = i.snap;
    if let Some(why) = snap.membership.reason() {
        out.push(finding(1, "sessions", snap.node.clone(), Grade::Skipped, why));
        return;
    }
    if snap.legs.is_empty() {
        out.push(finding(
            1,
            "sessions",
            snap.node.clone(),
            Grade::Skipped,
            "no leg configured for this node",
        ));
        return;
    }
    for (l, leg) in snap.legs.iter().enumerate() {
        let report = i.assessment.legs.get(l);
        for (p, facts) in leg.paths.iter().enumerate() {
            let s = subject(snap, l, p);
            let f = if facts.logged_in() {
                match disks_amiss(facts) {
                    None => finding(1, "sessions", s, Grade::Ok, "LOGGED_IN"),
                    Some(why) => finding(1, "sessions", s, Grade::Warn, format!("LOGGED_IN, but {why}"))
                        .next("see step 4 (option A)"),
                }
            } else if !snap.state.started() && facts.session.is_none() {
                finding(
                    1,
                    "sessions",
                    s,
                    Grade::Skipped,
                    "not logged in, and the resource is not started on this node",
                )
                .next("nothing to do here unless Pacemaker should run it here (pcs status)")
            } else if let Some(r) = report.filter(|r| r.peer_state.expects_leg_down()) {
                finding(
                    1,
                    "sessions",
                    s,
                    Grade::Warn,
                    format!(
                        "{}: down as expected, the peer is {}",
                        facts.kernel_state(),
                        r.peer_state.describe()
                    ),
                )
                .next(format!(
                    "bring {} back; its legs return by themselves",
                    leg.leg.label()
                ))
            } else {
                finding(
                    1,
                    "sessions",
                    s,
                    Grade::Fail,
                    match &facts.session {
                        Some(sess) if sess.state == SessionState::Failed => {
                            "FAILED: the connection is lost, the kernel is retrying it".to_string()
                        }
                        Some(sess) if sess.state == SessionState::Free => {
                            "FREE: recovery timed out, I/O to its disks fails".to_string()
                        }
                        Some(sess) => format!("{}: not logged in", sess.state.as_str()),
                        None => "no session: the leg is down".to_string(),
                    },
                )
                .next("see steps 3 and 4")
            };
            out.push(f.evidence(session_line(facts)));
        }
    }
}

fn vdev_carrier(snap: &Snapshot, leg: usize, path: usize) -> String {
    let Some(p) = snap.legs.get(leg).and_then(|l| l.paths.get(path)) else {
        return String::new();
    };
    match &p.session {
        Some(s) => format!(
            "carried by session {} ({}) via {}",
            s.sid,
            s.state.as_str(),
            p.path.portal
        ),
        None => format!("its path {} has no session", p.path.portal),
    }
}

fn step2(i: &Input, out: &mut Vec<Finding>) {
    let snap = i.snap;
    let Some(name) = i.pool_name else {
        out.push(finding(
            2,
            "pool",
            "pool",
            Grade::Skipped,
            "no pool parameter: the resource does not know which pool it mirrors",
        ));
        return;
    };
    let Some(facts) = snap.pool.as_ref() else {
        out.push(finding(2, "pool", name, Grade::Skipped, "the pool was not read"));
        return;
    };
    let status = match &facts.reading {
        Reading::NotImported => {
            out.push(
                finding(2, "pool", name, Grade::Skipped, "not imported on this node")
                    .next(format!("run iscsi-mirror doctor on the node that imports {name}")),
            );
            return;
        }
        Reading::Unknown(why) => {
            out.push(
                finding(
                    2,
                    "pool",
                    name,
                    Grade::Fail,
                    format!("cannot read the pool: {why}"),
                )
                .next(format!("zpool status -P {name}")),
            );
            return;
        }
        Reading::Status(s) => s,
    };
    let mut f = finding(2, "pool", name, Grade::Ok, "every vdev ONLINE");
    f.evidence
        .push(format!("zpool status: pool state {}", status.state));
    let mut bad = Vec::new();
    let mut faulted_down = false;
    for (vi, v) in status.vdevs.iter().enumerate().filter(|(_, v)| v.leaf) {
        let remote = facts.remote.iter().find(|r| r.vdev == vi);
        let whose = match remote {
            Some(r) => format!(
                "remote, {}'s disk, {}",
                snap.legs[r.leg].leg.label(),
                vdev_carrier(snap, r.leg, r.path)
            ),
            None => "local".to_string(),
        };
        let note = if v.note.is_empty() {
            String::new()
        } else {
            format!(" ({})", v.note)
        };
        f.evidence.push(format!("{} {}{note}: {whose}", v.name, v.state));
        if v.state != "ONLINE" {
            let up = remote.is_some_and(|r| {
                snap.legs[r.leg]
                    .paths
                    .get(r.path)
                    .is_some_and(PathFacts::logged_in)
            });
            faulted_down |= remote.is_some() && !up;
            bad.push(format!(
                "{} {}{}",
                v.name.rsplit('/').next().unwrap_or(&v.name),
                v.state,
                match (remote.is_some(), up) {
                    (true, true) => " though its session is back",
                    (true, false) => ", its session down",
                    (false, _) => " (a local device)",
                }
            ));
        }
    }
    if let Scan::Resilvering { percent, .. } = &status.scan {
        f.evidence.push(format!(
            "scan: resilver in progress{}",
            percent.map(|p| format!(", {p:.1}% done")).unwrap_or_default()
        ));
    }
    let marks = outdated(i);
    for m in &marks {
        f.evidence
            .push(format!("{m}'s half is marked outdated (it missed writes)"));
    }
    if status.suspended() {
        f.grade = Grade::Fail;
        f.why = "the pool is SUSPENDED: I/O failed on every leg".into();
        f.next = Some(format!("restore a leg, then zpool clear {name}"));
    } else if !bad.is_empty() {
        f.grade = if faulted_down { Grade::Fail } else { Grade::Warn };
        f.why = format!("degraded: {}", bad.join("; "));
        f.next = Some(if faulted_down {
            "see steps 3 and 4: the session under it must come back first".into()
        } else {
            "see step 5".into()
        });
    } else if status.resilvering() {
        f.grade = Grade::Warn;
        f.why = "every vdev ONLINE, a resilver runs".into();
        f.next = Some("see step 6".into());
    } else if !marks.is_empty() {
        f.grade = Grade::Warn;
        f.why = format!("every vdev ONLINE, but {} marked outdated", marks.join(", "));
        f.next = Some("see step 6".into());
    }
    out.push(f);
}

fn outdated(i: &Input) -> Vec<String> {
    match i.outdated {
        Some(m) => m.to_vec(),
        None => i
            .snap
            .state
            .state()
            .map(|s| s.pool.marked.clone())
            .unwrap_or_default(),
    }
}

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
fn step3_path(i: &Input, l: usize, p: usize, out: &mut Vec<Finding>) -> bool {
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

fn login_finding(
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

fn iscsid_finding(snap: &Snapshot) -> Option<Finding> {
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

fn step4(i: &Input, root_failed: &[Vec<bool>], iscsid_down: bool) -> (Finding, Choice) {
    let snap = i.snap;
    let mut relogin = Vec::new();
    let mut blocked = Vec::new();
    let mut away = Vec::new();
    let mut rescan = Vec::new();
    for (l, leg) in snap.legs.iter().enumerate() {
        let peer_away = i
            .assessment
            .legs
            .get(l)
            .is_some_and(|r| r.peer_state.expects_leg_down());
        for (p, facts) in leg.paths.iter().enumerate() {
            if facts.logged_in() {
                if disks_amiss(facts).is_some() {
                    rescan.push((l, p, facts.session.as_ref().map(|s| s.sid).unwrap_or(0)));
                }
                continue;
            }
            if !snap.state.started() && facts.session.is_none() {
                continue;
            }
            if peer_away {
                away.push(subject(snap, l, p));
            } else if root_failed[l][p] {
                blocked.push(subject(snap, l, p));
            } else {
                let stale_sid = facts.session.as_ref().map(|s| s.sid);
                relogin.push(Relogin {
                    leg: l,
                    path: p,
                    stale_sid,
                });
            }
        }
    }
    let not_b = (
        Reconnect::B,
        "it logs out of every iSCSI session on this host, other resources' too; C does the same for this resource's paths only".to_string(),
    );
    let not_d = (
        Reconnect::D,
        "it interrupts ALL iSCSI sessions: a last resort, only when the pool is already degraded (remote vdevs FAULTED), and never run by this program (systemctl restart open-iscsi; iscsiadm -m node --loginall=automatic)".to_string(),
    );
    let not_a = (
        Reconnect::A,
        "a rescan finds LUNs on a logged-in session; it cannot bring a lost session back".to_string(),
    );
    let not_c = (Reconnect::C, "no path of this resource is down".to_string());
    let commands: Vec<String> = relogin
        .iter()
        .map(|r| {
            let f = &snap.legs[r.leg].paths[r.path];
            let logout = match r.stale_sid {
                Some(sid) => format!("iscsiadm -m session -r {sid} --logout; "),
                None => String::new(),
            };
            format!(
                "{logout}iscsiadm -m node -T {} -p {} --login",
                f.path.target,
                f.path.portal.to_iscsiadm()
            )
        })
        .collect();
    let subjects = |v: &[Relogin]| {
        v.iter()
            .map(|r| subject(snap, r.leg, r.path))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (grade, choice, next) = if iscsid_down {
        (
            Grade::Fail,
            Choice {
                option: Some(Reconnect::D),
                relogin: Vec::new(),
                why: "iscsid is not running: start it first (that alone interrupts nothing); D, the restart of open-iscsi, only if it will not start".into(),
                not: vec![
                    (Reconnect::A, "a rescan needs iscsid".into()),
                    (Reconnect::B, "logins need iscsid".into()),
                    (Reconnect::C, "logins need iscsid".into()),
                ],
            },
            Some("systemctl start iscsid (or /etc/init.d/iscsid start); then iscsi-mirror doctor again. WARNING for D: systemctl restart open-iscsi interrupts ALL iSCSI sessions; only with the pool already degraded".to_string()),
        )
    } else if !blocked.is_empty() {
        let mut why = format!(
            "no option fits yet for {}: the root cause (step 3) must be fixed first; then C",
            blocked.join(", ")
        );
        if !relogin.is_empty() {
            why.push_str(&format!("; C fits now for {}", subjects(&relogin)));
        }
        (
            Grade::Fail,
            Choice {
                option: (!relogin.is_empty()).then_some(Reconnect::C),
                relogin,
                why,
                not: vec![not_a, not_b, not_d],
            },
            Some("fix what step 3 found, then iscsi-mirror doctor --fix".to_string()),
        )
    } else if !relogin.is_empty() {
        (
            Grade::Warn,
            Choice {
                option: Some(Reconnect::C),
                why: format!(
                    "the portal answers and the target accepts logins, but {} is down: a targeted logout (of a stale session) and login brings it back",
                    subjects(&relogin)
                ),
                relogin,
                not: vec![not_a, not_b, not_d],
            },
            Some(format!("iscsi-mirror doctor --fix (runs C, and only C), or by hand: {}", commands.join("; "))),
        )
    } else if !rescan.is_empty() {
        let cmds: Vec<String> = rescan
            .iter()
            .map(|(_, _, sid)| format!("iscsiadm -m session -r {sid} --rescan"))
            .collect();
        (
            Grade::Warn,
            Choice {
                option: Some(Reconnect::A),
                relogin: Vec::new(),
                why: format!(
                    "{} logged in, but a disk is missing or not running: a rescan of that session",
                    rescan
                        .iter()
                        .map(|(l, p, _)| subject(snap, *l, *p))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                not: vec![not_b, not_c, not_d],
            },
            Some(cmds.join("; ") + " (doctor --fix does not run it)"),
        )
    } else if !away.is_empty() {
        (
            Grade::Warn,
            Choice {
                option: None,
                relogin: Vec::new(),
                why: format!(
                    "{} down because the peer is away: nothing to reconnect until it returns",
                    away.join(", ")
                ),
                not: vec![not_a, not_b, not_d],
            },
            Some("bring the peer back; its legs return by themselves".to_string()),
        )
    } else {
        (
            Grade::Ok,
            Choice {
                option: None,
                relogin: Vec::new(),
                why: "no reconnect needed: every path is logged in".into(),
                not: vec![not_a, not_b, not_c, not_d],
            },
            None,
        )
    };
    let mut f = finding(
        4,
        "reconnect",
        "reconnect option",
        grade,
        match choice.option {
            Some(o) => format!("option {}: {}", o.describe(), choice.why),
            None => choice.why.clone(),
        },
    );
    for (o, why) in &choice.not {
        f.evidence.push(format!("not {}: {why}", o.describe()));
    }
    f.next = next;
    (f, choice)
}

fn step5(i: &Input) -> (Finding, Option<String>) {
    let Some(name) = i.pool_name else {
        return (
            finding(5, "zfs_online", "pool", Grade::Skipped, "no pool parameter"),
            None,
        );
    };
    let (Some(plan), Some(facts)) = (i.pool, i.snap.pool.as_ref()) else {
        return (
            finding(5, "zfs_online", name, Grade::Skipped, "the pool was not read"),
            None,
        );
    };
    if !matches!(facts.reading, Reading::Status(_)) {
        return (
            finding(
                5,
                "zfs_online",
                name,
                Grade::Skipped,
                "the pool's state is not known here (step 2)",
            ),
            None,
        );
    }
    let mut f = finding(5, "zfs_online", name, Grade::Ok, "no vdev to bring back");
    let mut online = None;
    for r in &plan.verdict.reasons {
        match r {
            Reason::VdevNotOnline {
                vdev,
                state,
                held_back: Some(why),
                session_up_s,
                ..
            } => {
                f.evidence.push(format!(
                    "{vdev} {state}{}: not onlined: {why}",
                    session_up_s
                        .map(|s| format!(", session up {s} s"))
                        .unwrap_or_default()
                ));
                if f.grade < Grade::Warn {
                    f.grade = Grade::Warn;
                    f.why = format!("{vdev} is {state}: {why}");
                    f.next = Some(if why.starts_with("waiting for the session") {
                        "iscsi-mirror doctor --fix (it watches the session that long, then runs zpool online)"
                            .into()
                    } else {
                        format!("zpool status -P {name}")
                    });
                }
            }
            Reason::VdevNotOnline {
                vdev,
                state,
                held_back: None,
                ..
            } => {
                f.grade = Grade::Warn;
                f.why = format!("{vdev} is {state} though its session is back: zpool online brings it back and ZFS resilvers what it missed");
                f.next = Some(format!(
                    "iscsi-mirror doctor --fix, or: zpool online {name} {vdev}"
                ));
                online = plan.online.as_ref().map(|o| o.vdev.clone());
                if let Some(o) = &plan.online {
                    f.evidence.push(o.why.clone());
                }
            }
            Reason::VdevMissing { vdev, state, .. } => {
                f.evidence
                    .push(format!("{vdev} {state}: its session is down (step 4 first)"));
                if f.grade < Grade::Warn {
                    f.grade = Grade::Skipped;
                    f.why = "the vdev's session is down: nothing to bring back yet".into();
                }
            }
            _ => {}
        }
    }
    (f, online)
}

fn step6(i: &Input) -> (Finding, Option<bool>) {
    let Some(name) = i.pool_name else {
        return (
            finding(6, "resilver", "pool", Grade::Skipped, "no pool parameter"),
            None,
        );
    };
    let Some(facts) = i.snap.pool.as_ref() else {
        return (
            finding(6, "resilver", name, Grade::Skipped, "the pool was not read"),
            None,
        );
    };
    let Reading::Status(status) = &facts.reading else {
        return (
            finding(
                6,
                "resilver",
                name,
                Grade::Skipped,
                "the pool's state is not known here (step 2)",
            ),
            None,
        );
    };
    let marks = outdated(i);
    let not_online: Vec<String> = status
        .leaves()
        .filter(|v| v.state != "ONLINE")
        .map(|v| format!("{} {}", v.name.rsplit('/').next().unwrap_or(&v.name), v.state))
        .collect();
    let source = if i.outdated.is_some() {
        "the CIB"
    } else {
        "this resource's state (the CIB was not read)"
    };
    let mark_line = if marks.is_empty() {
        format!("no half marked outdated in {source}")
    } else {
        format!("marked outdated in {source}: {}", marks.join(", "))
    };
    if let Scan::Resilvering { percent, eta_s } = &status.scan {
        let f = finding(
            6,
            "resilver",
            name,
            Grade::Warn,
            format!(
                "resilvering{}{}: not safe yet to fail back or to take a node down",
                percent.map(|p| format!(", {p:.1}% done")).unwrap_or_default(),
                match eta_s {
                    Some(s) => format!(", about {} min left", s.div_ceil(60)),
                    None => ", no estimate yet (ZFS gives one above 10 MB/s)".into(),
                }
            ),
        )
        .evidence(mark_line)
        .next(format!("wait for it: zpool wait -t resilver {name} (or watch zpool status {name}); then iscsi-mirror doctor again"));
        return (f, Some(false));
    }
    if !not_online.is_empty() {
        let f = finding(
            6,
            "resilver",
            name,
            Grade::Fail,
            format!(
                "not safe to fail back or to take a node down: {} (the pool runs on one half)",
                not_online.join(", ")
            ),
        )
        .evidence(mark_line)
        .next("steps 4 and 5 first");
        return (f, Some(false));
    }
    if !marks.is_empty() {
        let f = finding(
            6,
            "resilver",
            name,
            Grade::Warn,
            format!(
                "every vdev ONLINE and no resilver runs, but {} still marked outdated: the pool must not move there yet",
                marks.join(", ")
            ),
        )
        .evidence(mark_line)
        .next("the monitor clears the mark on its next run once the mirror is whole (iscsi-mirror outdated lists the marks)");
        return (f, Some(false));
    }
    let done = match status.scan {
        Scan::ResilverDone => "the last resilver finished",
        _ => "no resilver runs",
    };
    (
        finding(
            6,
            "resilver",
            name,
            Grade::Ok,
            format!("{done}, every vdev ONLINE, no half marked outdated: safe to fail back or to take a node down"),
        )
        .evidence(mark_line),
        Some(true),
    )
}

/// When doctor first saw each path's current session logged in: (session id, ms).
pub type FirstSeen = Vec<Vec<Option<(u32, u64)>>>;

/// Notes the sessions logged in now that were not seen before (a new session id restarts
/// its clock; a path down forgets it).
pub fn note_seen(snap: &Snapshot, seen: &mut FirstSeen) {
    seen.resize(snap.legs.len(), Vec::new());
    for (l, leg) in snap.legs.iter().enumerate() {
        seen[l].resize(leg.paths.len(), None);
        for (p, facts) in leg.paths.iter().enumerate() {
            let sid = facts
                .session
                .as_ref()
                .filter(|_| facts.logged_in())
                .map(|s| s.sid);
            seen[l][p] = match (sid, seen[l][p]) {
                (Some(sid), Some((was, t))) if was == sid => Some((was, t)),
                (Some(sid), _) => Some((sid, snap.now_ms)),
                (None, _) => None,
            };
        }
    }
}

/// Since when each path's current session has been logged in: the monitor's record when
/// it names the same session, else when doctor first saw it.
pub fn up_since(snap: &Snapshot, seen: &FirstSeen) -> Vec<Vec<Option<u64>>> {
    let state = snap.state.state();
    snap.legs
        .iter()
        .enumerate()
        .map(|(l, leg)| {
            leg.paths
                .iter()
                .enumerate()
                .map(|(p, facts)| {
                    let (sid, first) = seen.get(l).and_then(|v| v.get(p)).copied().flatten()?;
                    let recorded = state
                        .and_then(|s| s.record(&facts.path))
                        .filter(|r| r.up_sid == Some(sid))
                        .and_then(|r| r.up_since_ms);
                    Some(recorded.map_or(first, |r| r.min(first)))
                })
                .collect()
        })
        .collect()
}

/// The monitor's pool plan with doctor's stable window. The auto_online gate (the agent
/// acting alone) does not apply: an admin running doctor is the hand; every other gate
/// does (an admin's OFFLINE, checksum errors, another device, a suspended pool, a resilver
/// running, a recent online, a session not yet stable).
pub fn pool_plan(snap: &Snapshot, memory: &crate::state::PoolMemory, seen: &FirstSeen) -> Option<Plan> {
    let facts = snap.pool.as_ref()?;
    Some(crate::decide::pool::plan(&crate::decide::pool::Input {
        facts,
        legs: &snap.legs,
        memory,
        up_since_ms: &up_since(snap, seen),
        now_ms: snap.now_ms,
        stable_ms: DOCTOR_STABLE_MS,
        auto_online: true,
    }))
}

/// The procedure, judged.
pub fn judge(i: &Input) -> Recovery {
    let mut findings = Vec::new();
    step1(i, &mut findings);
    step2(i, &mut findings);
    let snap = i.snap;
    let mut root_failed: Vec<Vec<bool>> = snap.legs.iter().map(|l| vec![false; l.paths.len()]).collect();
    if snap.membership.reason().is_none() {
        for (l, failed) in root_failed.iter_mut().enumerate() {
            for (p, f) in failed.iter_mut().enumerate() {
                *f = step3_path(i, l, p, &mut findings);
            }
        }
    }
    let iscsid = iscsid_finding(snap);
    let iscsid_down = iscsid.as_ref().is_some_and(|f| f.grade == Grade::Fail);
    findings.extend(iscsid);
    let (f4, choice) = step4(i, &root_failed, iscsid_down);
    findings.push(f4);
    let (f5, online) = step5(i);
    findings.push(f5);
    let (f6, safe) = step6(i);
    findings.push(f6);
    Recovery {
        findings,
        choice,
        online,
        safe_to_fail_back: safe,
    }
}
