//! The recovery procedure (seeds/000, "iSCSI Session Recovery Procedure") as a judgement
//! of one snapshot, without I/O: each step a finding with a grade (ok, warn, fail,
//! skipped), why, the evidence, and the exact next action; the reconnect option that fits
//! (A rescan, B logout/login all, C targeted logout/login, D restart open-iscsi) and why;
//! the gated `zpool online` (the monitor's own pool plan); whether the resilver is done
//! and a fail-back or a node's shutdown is safe.
//!
//! The legs are judged by `assess` and the pool by `pool::plan`, as the monitor and
//! status judge them, so doctor cannot disagree with them about the same facts.

mod root_cause;

use serde::Serialize;

use crate::decide::assess::Assessment;
use crate::decide::pool::Plan;
use crate::decide::verdict::Reason;
use crate::iscsi::sysfs::SessionState;
use crate::observe::{PathFacts, Snapshot};
use crate::zfs::{Reading, Scan};
use root_cause::{iscsid_finding, step3_path};

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

fn step4(i: &Input, root_failed: &[Vec<bool>], iscsid_down: bool) -> (Finding, Choice) {
    let snap = i.snap;
    let mut relogin = Vec::new();
    let mut blocked = Vec::new();
    let mut away = Vec::new();
    let mut rescan = Vec::new();
    let mut not_started = 0;
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
                not_started += 1;
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
        "it interrupts ALL iSCSI sessions: a last resort, only with the pool already degraded, and never run by this program".to_string(),
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
            Some("systemctl start iscsid (or /etc/init.d/iscsid start), then iscsi-mirror doctor again. \
Only if iscsid will not start, option D, by hand: systemctl restart open-iscsi; iscsiadm -m node --loginall=automatic. \
WARNING: D interrupts ALL iSCSI sessions; only with the pool already degraded (remote vdevs FAULTED)".to_string()),
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
                why: if snap.legs.is_empty() {
                    "nothing to reconnect: no leg of this resource belongs to this node".into()
                } else if not_started > 0 {
                    "nothing to reconnect: the resource is not started on this node".into()
                } else {
                    "no reconnect needed: every path is logged in".into()
                },
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
                shown,
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
                    f.why = format!("{shown} is {state}: {why}");
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
                shown,
                state,
                held_back: None,
                ..
            } => {
                f.grade = Grade::Warn;
                f.why = format!("{shown} is {state} though its session is back: zpool online brings it back and ZFS resilvers what it missed");
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
        Scan::ResilverDone { .. } => "the last resilver finished",
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

#[cfg(test)]
mod tests;
