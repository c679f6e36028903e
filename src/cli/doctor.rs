//! `iscsi-mirror doctor`: the recovery procedure (seeds/000) walked for this node's legs.
//! One observation (the sessions, the cluster, every portal's network facts and login
//! probe, iscsid, the pool), one judgement (`decide::recovery`), one report. Read-only
//! unless `--fix`, which runs only option C for this resource's paths and the gated
//! `zpool online`, then observes and judges again. Everything ends by `--deadline`.

use std::time::Duration;

use clap::Parser;

use super::load::{load, Resource, ResourceArgs};
use crate::act::{self, Action};
use crate::deadline::Deadline;
use crate::decide::assess;
use crate::decide::recovery::{self, FirstSeen, Recovery, DOCTOR_STABLE_MS};
use crate::decide::verdict::Reason;
use crate::iscsi::iscsiadm::Iscsiadm;
use crate::observe;
use crate::report::doctor as report;
use crate::state::PoolMemory;

#[derive(Parser)]
#[command(
    after_help = "Walks the iSCSI session recovery procedure for this node's legs: 1 sessions, \
2 the pool, 3 the root cause (the portal's TCP reachability, this side's interface, VLAN and \
MTU, the jumbo path, an iSCSI login probe of the target, CHAP failures of the last logins, \
iscsid), 4 which reconnect option fits (A rescan, B logout/login all, C targeted, D restart \
open-iscsi), 5 zpool online of vdevs whose sessions are back, 6 the resilver and whether a \
fail-back is safe. Each finding: ok, warn, fail or skipped, why, the evidence, the next action.\n\n\
Read-only unless --fix. --fix runs option C for this resource's paths only (jittered, by \
session id and exact record) and the gated zpool online; it never runs A, B or D.\n\n\
Exit codes: 0 all ok, 1 warnings, 2 failures; 64 usage error, 66 unreadable \
--cib-xml/--crm-mon-xml file, 69 the CIB could not be read, 78 the resource's parameters are invalid."
)]
pub struct DoctorArgs {
    /// Print JSON for tools (with schema_version; bounded codes in `check`/`grade`).
    #[arg(long)]
    json: bool,
    /// Repair what may be repaired: option C (targeted logout/login of this resource's
    /// paths), then `zpool online` of the vdevs whose sessions are back.
    #[arg(long)]
    fix: bool,
    /// Every probe and repair ends within this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(5..=3600))]
    deadline: u64,
    #[command(flatten)]
    resource: ResourceArgs,
}

/// The time kept back at the end to judge and print.
const REPORT_RESERVE: Duration = Duration::from_millis(500);
/// How long freshly logged-in sessions get to show in sysfs.
const SETTLE: Duration = Duration::from_secs(5);

fn judge(r: &Resource, memory: &PoolMemory, seen: &FirstSeen) -> Recovery {
    let assessment = assess::assess(&r.snap, false);
    let plan = recovery::pool_plan(&r.snap, memory, seen);
    let marks: Option<Vec<String>> = r.cib.as_ref().map(|c| {
        crate::report::status::outdated_marks(c)
            .into_iter()
            .map(|m| m.node)
            .collect()
    });
    recovery::judge(&recovery::Input {
        snap: &r.snap,
        assessment: &assessment,
        pool_name: r.config.pool.as_deref(),
        pool: plan.as_ref(),
        outdated: marks.as_deref(),
    })
}

fn relogin_subjects(r: &Resource, rec: &Recovery) -> Vec<String> {
    rec.choice
        .relogin
        .iter()
        .filter_map(|x| r.snap.legs.get(x.leg)?.paths.get(x.path))
        .map(|p| p.path.to_string())
        .collect()
}

/// Waits (bounded) for the paths just logged in to show LOGGED_IN in sysfs.
fn settle(r: &mut Resource, which: &[(usize, usize)], deadline: Deadline) {
    let until = deadline.capped(SETTLE);
    loop {
        observe::refresh_legs(&mut r.snap, &r.config, &r.sysfs);
        let up = which.iter().all(|&(l, p)| {
            r.snap
                .legs
                .get(l)
                .and_then(|leg| leg.paths.get(p))
                .is_some_and(|f| f.logged_in())
        });
        if up || until.expired() {
            return;
        }
        until.sleep(Duration::from_millis(100));
    }
}

fn waiting_for_stable(plan: &crate::decide::pool::Plan) -> bool {
    plan.verdict.reasons.iter().any(|r| {
        matches!(r, Reason::VdevNotOnline { held_back: Some(why), .. } if why.starts_with("waiting for the session"))
    })
}

/// --fix: option C, then the gated `zpool online`. Returns what was done and the pool
/// memory that follows (its last online, for the judgement after).
fn fix(
    r: &mut Resource,
    rec: &Recovery,
    memory: &mut PoolMemory,
    seen: &mut FirstSeen,
    deadline: Deadline,
) -> Vec<Action> {
    let mut done = Vec::new();
    // Never beside a monitor of the same instance: the lock serialises the repairs.
    let lock = r
        .store
        .as_ref()
        .map(|s| s.lock(deadline.capped(Duration::from_secs(10))));
    if let Some(Err(e)) = &lock {
        done.push(Action {
            command: "take the resource's lock".into(),
            ok: false,
            outcome: format!("{e}; nothing repaired"),
        });
        return done;
    }
    // What the pool side needs after the logins: its stable window and two readings.
    let pool_reserve = if r.config.pool.is_some() {
        Duration::from_secs(25).min(deadline.remaining() / 2)
    } else {
        Duration::ZERO
    };
    let logins = deadline.reserving(pool_reserve);
    let iscsiadm = Iscsiadm::new(&r.tools.iscsiadm);
    let mut relogged = Vec::new();
    for x in &rec.choice.relogin {
        let Some(leg) = r.snap.legs.get(x.leg) else {
            continue;
        };
        let Some(facts) = leg.paths.get(x.path) else {
            continue;
        };
        let path = facts.path.clone();
        let jitter = r.config.jitter_for(&leg.leg);
        done.extend(act::relogin(
            &iscsiadm,
            &r.sysfs,
            &path,
            x.stale_sid,
            jitter,
            logins,
        ));
        relogged.push((x.leg, x.path));
    }
    if !relogged.is_empty() {
        settle(r, &relogged, logins);
    }
    recovery::note_seen(&r.snap, seen);
    let Some(pool) = r.config.pool.clone() else {
        return done;
    };
    for round in 0..2 {
        let json = r.snap.state.state().and_then(|s| s.pool.json);
        r.snap.pool = None;
        r.snap.now_ms = observe::now_ms();
        observe::pool::read(
            &mut r.snap,
            &pool,
            &r.tools,
            &r.sysfs,
            &r.config.host_root,
            json,
            deadline,
        );
        let Some(plan) = recovery::pool_plan(&r.snap, memory, seen) else {
            break;
        };
        *memory = plan.memory.clone();
        if let Some(online) = &plan.online {
            let a = act::zpool_online(&r.tools, &pool, online, deadline);
            if a.ok {
                memory.last_online = Some((online.vdev.clone(), observe::now_ms()));
            }
            done.push(a);
            break;
        }
        if round > 0 || !waiting_for_stable(&plan) {
            break;
        }
        // Watch the returned session for the stable window, then judge again.
        tracing::info!(
            "doctor --fix: watching the returned session(s) for {} s before zpool online",
            DOCTOR_STABLE_MS / 1000
        );
        deadline
            .reserving(Duration::from_secs(12))
            .sleep(Duration::from_millis(DOCTOR_STABLE_MS + 200));
        observe::refresh_legs(&mut r.snap, &r.config, &r.sysfs);
        recovery::note_seen(&r.snap, seen);
    }
    done
}

pub fn run(a: DoctorArgs) -> i32 {
    let total = Deadline::after(Duration::from_secs(a.deadline));
    let deadline = total.reserving(REPORT_RESERVE);
    let mut r = match load(&a.resource, "doctor", deadline) {
        Ok(r) => r,
        Err(code) => return code,
    };
    observe::everything(&mut r.snap, &r.config, &r.tools, &r.sysfs, deadline);
    let mut memory = r.snap.state.state().map(|s| s.pool.clone()).unwrap_or_default();
    let mut seen = FirstSeen::new();
    recovery::note_seen(&r.snap, &mut seen);
    let mut rec = judge(&r, &memory, &seen);
    let mut subjects = relogin_subjects(&r, &rec);
    let mut actions = Vec::new();
    let mut before = None;
    if a.fix {
        actions = fix(&mut r, &rec, &mut memory, &mut seen, deadline);
        before = Some(rec.findings.clone());
        // The picture after the repairs, observed afresh.
        observe::refresh_legs(&mut r.snap, &r.config, &r.sysfs);
        observe::everything(&mut r.snap, &r.config, &r.tools, &r.sysfs, deadline);
        recovery::note_seen(&r.snap, &mut seen);
        rec = judge(&r, &memory, &seen);
        if !actions.is_empty() {
            subjects = relogin_subjects(&r, &rec);
        }
    }
    let out = report::build(report::Build {
        resource: &r.id,
        node: &r.snap.node,
        fix: a.fix,
        deadline_s: a.deadline,
        recovery: &rec,
        relogin_subjects: subjects,
        actions,
        before_fix: before,
    });
    if a.json {
        super::print_json(serde_json::to_value(&out).unwrap_or_default());
    } else {
        print!("{}", report::text(&out));
    }
    out.exit_code
}
