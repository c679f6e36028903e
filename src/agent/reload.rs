//! reload-agent (OCF 1.1): changed reloadable parameters take effect without a logout.
//!
//! Pacemaker calls it instead of a restart when only parameters marked `reloadable` in
//! the OCF 1.1 meta-data changed. What each needs:
//! - the four timers go to every path's node record (what the next login uses);
//!   replacement_timeout also to the live sessions' recovery_tmo, which the kernel accepts
//!   on a LOGGED_IN session and then keeps across iscsid's reconnects. A live connection's
//!   noop_out_interval/timeout (recv_tmo, ping_tmo) are read-only in sysfs, and iscsid
//!   keeps its own copy of the record from the login for its reconnects: those, and
//!   login_timeout, take effect at the path's next login, which the result says;
//! - timeout_policy and token_ms: the timeout window is judged again with the new values;
//! - reconnect_jitter: a back-off scheduled under the old bound is drawn again within the
//!   new one (state file);
//! - the rest is read from the environment by every action anyway.
//!
//! Never logs out: a logout here is a resilver of the mirror.

use rand::Rng;
use std::collections::BTreeMap;

use crate::agent::start::CALL_CAP;
use crate::agent::{validate, Ctx};
use crate::config::{RecordTimer, Timers};
use crate::decide::reconnect;
use crate::iscsi::iscsiadm::{Error, ErrorKind};
use crate::iscsi::sysfs::SessionState;
use crate::observe::PathFacts;
use crate::ocf::{Outcome, Status};
use crate::state::InstanceState;

pub fn reload(ctx: &Ctx) -> Outcome {
    if let Some(o) = validate::installed(ctx) {
        return o;
    }
    let _lock = match ctx.store.lock(ctx.deadline) {
        Ok(l) => l,
        Err(e) => return Outcome::with(Status::ErrGeneric, e),
    };
    let snap = ctx.observe(ctx.store.load());
    if !snap.state.started() {
        return Outcome::with(
            Status::Success,
            "not started on this node: the new values apply at its next start",
        );
    }
    if let Some(why) = snap.membership.reason() {
        return Outcome::with(Status::ErrArgs, why);
    }
    // Under `enforce`, timers outside the window are refused before anything changes.
    let paths = ctx.config.paths_for(&snap.node);
    if let Some(o) = validate::timeout_policy(ctx, &paths) {
        return o;
    }
    let mut state = snap.state.clone().into_state();

    let mut report = Report::default();
    for facts in snap.all_paths() {
        let path = &facts.path;
        match update_record(ctx, facts, &state) {
            Ok(Some(changes)) => {
                if !changes.is_empty() {
                    tracing::info!("{path}: node record updated: {}", describe(&changes));
                    report.records += 1;
                }
                let later = takes_effect_at_next_login(&ctx.config.timers, facts, &changes);
                if !later.is_empty() {
                    tracing::info!(
                        "{path}: {} take effect at the next login of this path (the live connection keeps its values)",
                        later.join(", ")
                    );
                    report.later.push((path.to_string(), later));
                }
            }
            Ok(None) => {
                tracing::warn!("{path}: no node record; start writes one with these timers at its next run")
            }
            Err(e) => {
                tracing::warn!("{path}: {}", e.detailed());
                report.failed.push(e);
            }
        }
        if let Some(note) = apply_recovery_tmo(ctx, facts) {
            report.live.push(note);
        }
    }

    if rebound_backoff(ctx, &mut state) {
        if let Err(e) = ctx.store.save(&state) {
            tracing::warn!("could not save the state: {e}");
        }
    }
    report.outcome()
}

/// What one reload did, for the result line.
#[derive(Default)]
struct Report {
    records: usize,
    live: Vec<String>,
    later: Vec<(String, Vec<&'static str>)>,
    failed: Vec<Error>,
}

impl Report {
    fn outcome(self) -> Outcome {
        if let Some(e) = self.failed.first() {
            return Outcome::with(
                Status::ErrGeneric,
                format!(
                    "reload: {} (node records of {} path(s) not updated)",
                    e.reason(),
                    self.failed.len()
                ),
            );
        }
        let mut parts = vec![format!("node records of {} path(s) updated", self.records)];
        parts.extend(self.live);
        for (path, params) in &self.later {
            parts.push(format!("{} at the next login of {path}", params.join(", ")));
        }
        Outcome::with(
            Status::Success,
            format!("reloaded without logout: {}", parts.join("; ")),
        )
    }
}

/// One record value that changes: the timer, what the record said, what it says now.
type Change = (RecordTimer, Option<String>, i64);

/// Reads the path's node record and writes the timers that differ. `None`: no record.
fn update_record(ctx: &Ctx, facts: &PathFacts, state: &InstanceState) -> Result<Option<Vec<Change>>, Error> {
    let path = state.for_iscsiadm(&facts.path);
    let adm = ctx.iscsiadm();
    let record = match adm.record(&path, ctx.deadline.capped(CALL_CAP)) {
        Ok(r) => r,
        Err(e) if e.kind == ErrorKind::NothingFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let changes = record_changes(&ctx.config.timers, &record);
    for (timer, _, value) in &changes {
        adm.update(
            &path,
            timer.key,
            &value.to_string(),
            ctx.deadline.capped(CALL_CAP),
        )?;
    }
    Ok(Some(changes))
}

/// The configured timers whose record value differs (an unset parameter is left alone).
fn record_changes(timers: &Timers, record: &BTreeMap<String, String>) -> Vec<Change> {
    timers
        .in_record()
        .into_iter()
        .filter_map(|t| {
            let value = t.value?;
            let old = record.get(t.key).cloned();
            (old.as_deref().and_then(|v| v.parse::<i64>().ok()) != Some(value)).then_some((t, old, value))
        })
        .collect()
}

fn describe(changes: &[Change]) -> String {
    changes
        .iter()
        .map(|(t, old, new)| format!("{} {} -> {new}", t.param, old.as_deref().unwrap_or("unset")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The timers a live session of this path does not run with yet and cannot be given now:
/// recv_tmo and ping_tmo are read-only, and login_timeout lives in iscsid's copy of the
/// record. A path without a session takes them all at its next login anyway.
fn takes_effect_at_next_login(timers: &Timers, facts: &PathFacts, changes: &[Change]) -> Vec<&'static str> {
    let Some(conn) = facts.session.as_ref().and_then(|s| s.connections.first()) else {
        return Vec::new();
    };
    let mut later = Vec::new();
    for (param, wanted, live) in [
        ("noop_out_interval", timers.noop_out_interval, conn.recv_tmo),
        ("noop_out_timeout", timers.noop_out_timeout, conn.ping_tmo),
    ] {
        if wanted.is_some() && wanted != live {
            later.push(param);
        }
    }
    if changes.iter().any(|(t, _, _)| t.param == "login_timeout") {
        later.push("login_timeout");
    }
    later
}

/// replacement_timeout on a live session: the kernel takes recovery_tmo from sysfs while
/// the session is LOGGED_IN (EBUSY while FAILED or FREE) and keeps it over iscsid's value
/// at its reconnects (`recovery_tmo_sysfs_override`).
fn apply_recovery_tmo(ctx: &Ctx, facts: &PathFacts) -> Option<String> {
    let secs = ctx.config.timers.replacement_timeout?;
    let s = facts.session.as_ref().filter(|s| s.recovery_tmo != Some(secs))?;
    let old = s
        .recovery_tmo
        .map_or_else(|| "unknown".to_string(), |v| v.to_string());
    if s.state != SessionState::LoggedIn {
        tracing::warn!(
            "{}: session {} is {}: the kernel refuses recovery_tmo until it is logged in again; it keeps {old} until then",
            facts.path,
            s.sid,
            s.state.as_str()
        );
        return Some(format!(
            "recovery_tmo of session {} ({}) unchanged",
            s.sid,
            s.state.as_str()
        ));
    }
    match ctx.sysfs.set_recovery_tmo(s.sid, secs) {
        Ok(()) => {
            tracing::info!(
                "{}: recovery_tmo {old} -> {secs} on session {}",
                facts.path,
                s.sid
            );
            Some(format!("recovery_tmo {old} -> {secs} on session {}", s.sid))
        }
        Err(e) => {
            tracing::warn!(
                "could not set recovery_tmo={secs} on session {} ({}): {e}",
                s.sid,
                facts.path
            );
            Some(format!("recovery_tmo of session {} unchanged ({e})", s.sid))
        }
    }
}

/// A back-off scheduled under the old reconnect_jitter bound, drawn again in the new one.
fn rebound_backoff(ctx: &Ctx, state: &mut InstanceState) -> bool {
    let now = crate::observe::now_ms();
    let mut rng = rand::thread_rng();
    let mut moved = false;
    for r in &mut state.paths {
        // The reload knows no monitor interval: the window is taken from now, which only
        // ever brings an attempt closer.
        let pace = reconnect::Pace {
            jitter_ms: ctx
                .config
                .reconnect_jitter_ms
                .unwrap_or_else(|| reconnect::default_jitter_ms(r.peer_node.is_some())),
            interval_ms: 0,
        };
        if reconnect::rebound(&mut r.backoff, now, pace, rng.gen()) {
            tracing::info!(
                "{} via {}: next reconnect attempt moved within the new reconnect_jitter bound",
                r.target,
                r.portal
            );
            moved = true;
        }
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iscsi::sysfs::{Connection, Session};
    use crate::target::{Iqn, Path, Portal};

    fn timers(i: i64, t: i64, r: i64, l: i64) -> Timers {
        Timers {
            noop_out_interval: Some(i),
            noop_out_timeout: Some(t),
            replacement_timeout: Some(r),
            login_timeout: Some(l),
        }
    }

    fn record(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn facts(recv: i64, ping: i64) -> PathFacts {
        PathFacts {
            path: Path {
                target: Iqn::parse("iqn.2025-01.lab.home:storage-b").unwrap(),
                portal: Portal::parse("127.0.0.2:3260").unwrap(),
            },
            session: Some(Session {
                sid: 1,
                target: "iqn.2025-01.lab.home:storage-b".into(),
                state: SessionState::LoggedIn,
                recovery_tmo: Some(120),
                connections: vec![Connection {
                    name: "connection1:0".into(),
                    persistent_address: "127.0.0.2".into(),
                    persistent_port: 3260,
                    address: "127.0.0.2".into(),
                    port: 3260,
                    state: "up".into(),
                    recv_tmo: Some(recv),
                    ping_tmo: Some(ping),
                }],
                disks: Vec::new(),
            }),
            reachable: None,
        }
    }

    #[test]
    fn only_differing_set_timers_are_written() {
        let rec = record(&[
            ("node.conn[0].timeo.noop_out_interval", "5"),
            ("node.conn[0].timeo.noop_out_timeout", "2"),
            ("node.session.timeo.replacement_timeout", "120"),
            ("node.conn[0].timeo.login_timeout", "15"),
        ]);
        let changes = record_changes(&timers(2, 2, 5, 15), &rec);
        let params: Vec<&str> = changes.iter().map(|(t, _, _)| t.param).collect();
        assert_eq!(params, ["noop_out_interval", "replacement_timeout"]);
        assert_eq!(
            describe(&changes),
            "noop_out_interval 5 -> 2, replacement_timeout 120 -> 5"
        );
        // An unset parameter leaves the record's value alone.
        let partial = Timers {
            noop_out_interval: Some(2),
            ..Timers::default()
        };
        assert_eq!(record_changes(&partial, &rec).len(), 1);
        // A key the record lacks is written.
        assert_eq!(record_changes(&partial, &record(&[])).len(), 1);
    }

    #[test]
    fn the_live_connection_s_read_only_timers_wait_for_the_next_login() {
        let t = timers(2, 2, 5, 10);
        assert_eq!(
            takes_effect_at_next_login(&t, &facts(5, 5), &[]),
            ["noop_out_interval", "noop_out_timeout"]
        );
        assert!(takes_effect_at_next_login(&t, &facts(2, 2), &[]).is_empty());
        let login = record_changes(&t, &record(&[("node.conn[0].timeo.login_timeout", "15")]));
        assert_eq!(
            takes_effect_at_next_login(&t, &facts(2, 2), &login),
            ["login_timeout"]
        );
        // No session: the next login takes everything; nothing is pending.
        let mut down = facts(5, 5);
        down.session = None;
        assert!(takes_effect_at_next_login(&t, &down, &login).is_empty());
    }

    #[test]
    fn the_result_says_what_waits_for_a_login_and_a_failure_fails() {
        let ok = Report {
            records: 1,
            live: vec!["recovery_tmo 120 -> 5 on session 1".into()],
            later: vec![("P".into(), vec!["noop_out_interval"])],
            failed: Vec::new(),
        }
        .outcome();
        assert_eq!(ok.status, Status::Success);
        assert_eq!(
            ok.reason.as_deref(),
            Some("reloaded without logout: node records of 1 path(s) updated; recovery_tmo 120 -> 5 on session 1; noop_out_interval at the next login of P")
        );
        let failed = Report {
            failed: vec![Error {
                kind: ErrorKind::TimedOut,
                operation: "updating the node record of P".into(),
                detail: String::new(),
            }],
            ..Report::default()
        }
        .outcome();
        assert_eq!(failed.status, Status::ErrGeneric);
    }
}
