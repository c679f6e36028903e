//! stop: log out of every path this instance owns, and make sure the kernel agrees.
//! A failed stop gets the node fenced, so stop tries every way it has within its time:
//! by record, then by session id, each with its own share of the budget, and it finds
//! its sessions without DNS (by what start recorded) and even without a valid
//! configuration or a readable state file.

use std::time::Duration;

use crate::act;
use crate::agent::Ctx;
use crate::config::{self, ConfigError};
use crate::deadline::Deadline;
use crate::iscsi::iscsiadm::{Iscsiadm, Logout};
use crate::iscsi::sysfs::{Session, Sysfs};
use crate::observe::paths::serves;
use crate::ocf::{Env, Outcome, Status};
use crate::state::{InstanceState, Loaded, Store};
use crate::target::{Host, Path, Portal};
use crate::tools::{Tools, ISCSIADM};

pub fn stop(ctx: &Ctx) -> Outcome {
    // A stuck holder of the lock must not make stop fail: go on without it after a while.
    let lock = ctx.store.lock(ctx.deadline.capped(Duration::from_secs(10)));
    if let Err(e) = &lock {
        tracing::warn!("{e}; stopping without the lock");
    }
    let snap = ctx.observe(ctx.store.load());
    let mut paths = ctx.config.paths_for(&snap.node);
    let state = snap.state.clone().into_state();
    for p in state.recorded_paths() {
        if !paths.contains(&p) {
            paths.push(p);
        }
    }
    let outcome = log_out_all(
        &ctx.iscsiadm(),
        &ctx.tools,
        &ctx.sysfs,
        &paths,
        &state,
        ctx.deadline,
    );
    if outcome.status == Status::Success {
        if let Err(e) = ctx.store.remove() {
            tracing::warn!("could not remove the state file: {e}");
        }
        act::clear_health(ctx, &snap.node);
    }
    outcome
}

/// With a configuration that no longer parses, stop still logs out what start recorded
/// and whatever paths the parameters still name.
pub fn stop_without_config(env: &Env, store: &Store, why: &ConfigError, deadline: Deadline) -> Outcome {
    tracing::warn!(
        "stop with an invalid configuration ({}): logging out what start recorded and what the parameters still name",
        why.reason
    );
    let loaded = store.load();
    let state = loaded.clone().into_state();
    let mut paths = state.recorded_paths();
    for p in config::paths_leniently(env) {
        if !paths.contains(&p) {
            paths.push(p);
        }
    }
    if paths.is_empty() && loaded == Loaded::Absent {
        return Outcome::ok();
    }
    let iscsiadm = env
        .param(crate::params::ISCSIADM)
        .filter(|p| p.starts_with('/') || !p.contains('/'))
        .unwrap_or("iscsiadm")
        .to_string();
    let root = env.param(crate::params::HOST_ROOT).unwrap_or("/").to_string();
    let mut tools = Tools::defaults().withholding_iscsiadm(env.tools_withheld());
    tools.iscsiadm = iscsiadm;
    let outcome = log_out_all(
        &Iscsiadm::new(&tools.iscsiadm).withheld(tools.iscsiadm_withheld),
        &tools,
        &Sysfs::new(std::path::Path::new(&root)),
        &paths,
        &state,
        deadline,
    );
    if outcome.status == Status::Success {
        let _ = store.remove();
    }
    outcome
}

/// The sessions of ours still in the kernel: (path, session).
fn ours(paths: &[Path], sysfs: &Sysfs, state: &InstanceState) -> Vec<(Path, Session)> {
    let mut out: Vec<(Path, Session)> = Vec::new();
    for s in sysfs.sessions() {
        if out.iter().any(|(_, o)| o.sid == s.sid) {
            continue;
        }
        if let Some(p) = paths.iter().find(|p| serves(&s, p, Some(state))) {
            out.push((p.clone(), s));
        }
    }
    out
}

/// The record iscsiadm has for a session: the target at the portal the kernel shows (the
/// address a name resolved to, the portal an iSNS server gave), else as configured.
fn record_of(session: &Session, configured: &Path) -> Path {
    let shown = session.connections.first().and_then(|c| {
        let ip = c.persistent_address.parse().ok()?;
        Some(Portal {
            host: Host::Ip(ip),
            port: c.persistent_port,
        })
    });
    match shown {
        Some(portal) => Path {
            target: configured.target.clone(),
            portal,
        },
        None => configured.clone(),
    }
}

fn log_out_all(
    adm: &Iscsiadm,
    tools: &Tools,
    sysfs: &Sysfs,
    paths: &[Path],
    state: &InstanceState,
    deadline: Deadline,
) -> Outcome {
    if !tools.installed(&ISCSIADM) {
        return match ours(paths, sysfs, state).first() {
            None => Outcome::ok(),
            Some((p, _)) => Outcome::with(
                Status::ErrGeneric,
                format!("cannot log out of {p}: iscsiadm is not installed"),
            ),
        };
    }
    let mut round = 0u32;
    let mut last_error = String::new();
    loop {
        round += 1;
        let remaining = ours(paths, sysfs, state);
        if remaining.is_empty() {
            return Outcome::ok();
        }
        // Every session gets both ways out within this round: half the round's share by
        // record, the rest by session id, so a hung first attempt cannot eat the fallback.
        let share = (deadline.remaining() / remaining.len().max(1) as u32).min(Duration::from_secs(40));
        for (path, session) in &remaining {
            let by_record = deadline.capped(share / 2);
            match adm.logout(&record_of(session, path), by_record) {
                Ok(Logout::LoggedOut) => tracing::info!("logged out of {path}"),
                Ok(Logout::NotLoggedIn) => tracing::debug!("{path}: iscsiadm found no session by record"),
                Err(e) => {
                    tracing::warn!("{path}: {}", e.detailed());
                    last_error = e.advice();
                }
            }
            if sysfs.session(session.sid).is_none() {
                continue;
            }
            match adm.logout_session(session.sid, deadline.capped(share / 2)) {
                Ok(Logout::LoggedOut) => tracing::info!("logged out of {path} (session {})", session.sid),
                Ok(Logout::NotLoggedIn) => tracing::debug!("session {}: iscsiadm found none", session.sid),
                Err(e) => {
                    tracing::warn!("session {}: {}", session.sid, e.detailed());
                    last_error = e.advice();
                }
            }
        }
        let left = ours(paths, sysfs, state);
        if left.is_empty() {
            return Outcome::ok();
        }
        if deadline.remaining() < Duration::from_millis(500) {
            let what: Vec<String> = left
                .iter()
                .map(|(p, s)| format!("{} {}", p.portal, s.state.as_str()))
                .collect();
            let why = if last_error.is_empty() {
                String::new()
            } else {
                format!(" ({last_error})")
            };
            return Outcome::with(
                Status::ErrGeneric,
                format!(
                    "still logged in after {round} rounds of logouts: {}{why}",
                    what.join(", ")
                ),
            );
        }
        deadline.sleep(Duration::from_millis(200 * u64::from(round.min(5))));
    }
}
