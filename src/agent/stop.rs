//! stop: log out of every path this instance owns, and make sure the kernel agrees.
//! A failed stop gets the node fenced, so stop tries every way it has within its time.

use std::time::Duration;

use crate::agent::{health, observe, Ctx};
use crate::config::ConfigError;
use crate::deadline::Deadline;
use crate::iscsi::iscsiadm::{Iscsiadm, Logout};
use crate::iscsi::sysfs::Sysfs;
use crate::ocf::{Env, Outcome, Status};
use crate::state::Store;
use crate::target::{Iqn, Path, Portal};

pub fn stop(ctx: &Ctx) -> Outcome {
    // A stuck holder of the lock must not make stop fail: go on without it after a while.
    let lock = ctx.store.lock(ctx.deadline.capped(Duration::from_secs(10)));
    if let Err(e) = &lock {
        tracing::warn!("{e}; stopping without the lock");
    }
    let state = ctx.store.load();
    let node = ctx.node_name(state.as_ref());
    let mut paths = ctx.config.paths_for(&node);
    for p in recorded_paths(state.as_ref().map(|s| s.paths.as_slice()).unwrap_or(&[])) {
        if !paths.contains(&p) {
            paths.push(p);
        }
    }
    let outcome = log_out_all(&ctx.iscsiadm(), &ctx.sysfs, &paths, ctx.deadline);
    if outcome.status == Status::Success {
        if let Err(e) = ctx.store.remove() {
            tracing::warn!("could not remove the state file: {e}");
        }
        health::clear(ctx);
    }
    outcome
}

/// With a configuration that no longer parses, stop still logs out what start recorded.
pub fn stop_without_config(env: &Env, store: &Store, why: &ConfigError, deadline: Deadline) -> Outcome {
    tracing::warn!(
        "stop with an invalid configuration ({}): logging out what start recorded",
        why.reason
    );
    let Some(state) = store.load() else {
        return Outcome::ok();
    };
    let iscsiadm = env
        .param(crate::params::ISCSIADM)
        .unwrap_or("iscsiadm")
        .to_string();
    let root = env.param(crate::params::HOST_ROOT).unwrap_or("/").to_string();
    let outcome = log_out_all(
        &Iscsiadm::new(&iscsiadm).withheld(env.tools_withheld()),
        &Sysfs::new(std::path::Path::new(&root)),
        &recorded_paths(&state.paths),
        deadline,
    );
    if outcome.status == Status::Success {
        let _ = store.remove();
    }
    outcome
}

fn recorded_paths(entries: &[String]) -> Vec<Path> {
    entries
        .iter()
        .filter_map(|e| {
            let (t, p) = e.split_once(' ')?;
            Some(Path {
                target: Iqn::parse(t).ok()?,
                portal: Portal::parse(p).ok()?,
            })
        })
        .collect()
}

fn log_out_all(adm: &Iscsiadm, sysfs: &Sysfs, paths: &[Path], deadline: Deadline) -> Outcome {
    if !adm.installed() {
        let left = observe(paths, &sysfs.sessions());
        return match left.iter().find(|o| o.session.is_some()) {
            None => Outcome::ok(),
            Some(o) => Outcome::with(
                Status::ErrGeneric,
                format!("cannot log out of {}: iscsiadm is not installed", o.path),
            ),
        };
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let remaining: Vec<_> = observe(paths, &sysfs.sessions())
            .into_iter()
            .filter(|o| o.session.is_some())
            .collect();
        if remaining.is_empty() {
            return Outcome::ok();
        }
        // The first round (by record) leaves half the time to the second (by session id):
        // a hung record logout must not starve the fallback.
        let rounds = if attempt == 1 { 2 } else { 1 };
        let share = (remaining.len().max(1) * rounds) as u32;
        let per_call = Duration::from_secs(20).min(deadline.remaining() / share);
        let mut last_error = String::new();
        for o in &remaining {
            let call = deadline.capped(per_call);
            // First by record (exact target and portal), then by session id.
            let result = if attempt % 2 == 1 {
                adm.logout(&o.path, call)
            } else {
                adm.logout_session(o.session.as_ref().map(|s| s.sid).unwrap_or(0), call)
            };
            match result {
                Ok(Logout::LoggedOut) => tracing::info!("logged out of {}", o.path),
                Ok(Logout::NotLoggedIn) => tracing::debug!("{}: iscsiadm found no session", o.path),
                Err(e) => {
                    tracing::warn!("{}: {}", o.path, e.detailed());
                    last_error = e.advice();
                }
            }
        }
        let left: Vec<_> = observe(paths, &sysfs.sessions())
            .into_iter()
            .filter(|o| o.session.is_some())
            .collect();
        if left.is_empty() {
            return Outcome::ok();
        }
        if deadline.remaining() < Duration::from_millis(500) {
            let what: Vec<String> = left
                .iter()
                .map(|o| format!("{} {}", o.path.portal, o.kernel_state()))
                .collect();
            let why = if last_error.is_empty() {
                String::new()
            } else {
                format!(" ({last_error})")
            };
            return Outcome::with(
                Status::ErrGeneric,
                format!(
                    "still logged in after {attempt} logouts: {}{why}",
                    what.join(", ")
                ),
            );
        }
        deadline.sleep(Duration::from_millis(200 * attempt.min(5)));
    }
}
