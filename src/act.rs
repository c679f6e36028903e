//! The repairs a judgement calls for, carried out through the modules that own each tool:
//! a jittered, backed-off re-login of a lost leg, the mirror's health attribute.

use std::time::Duration;

use rand::Rng;

use crate::agent::Ctx;
use crate::cluster::attrd;
use crate::decide::monitor::Try;
use crate::decide::reconnect::{self, Plan};
use crate::decide::verdict::Health;
use crate::iscsi::iscsiadm::{ErrorKind, Login};
use crate::net;
use crate::observe::LegFacts;
use crate::state::InstanceState;

/// Tries to bring back the given paths of one leg. Each path waits for its jitter (or its
/// back-off), then its portal is probed, then it is logged in: the probe is spread like
/// the logins, so a returning target sees neither in a burst.
pub fn reconnect(
    ctx: &Ctx,
    leg: &LegFacts,
    peer: &str,
    paths: &[usize],
    state: &mut InstanceState,
) -> Vec<(usize, Try)> {
    let mut rng = rand::thread_rng();
    let mut tries = Vec::new();
    for &i in paths {
        let Some(facts) = leg.paths.get(i) else { continue };
        let path = &facts.path;
        // What is left after this: a moment to see the session in sysfs and to report.
        let budget = ctx.deadline.reserving(Duration::from_millis(1500));
        let backoff = state.record_mut(path).backoff.clone();
        let budget_ms = budget.remaining().as_millis() as u64 / 2;
        let plan = reconnect::plan(
            &backoff,
            crate::observe::now_ms(),
            ctx.config.reconnect_jitter_ms,
            budget_ms,
            rng.gen(),
        );
        let delay_ms = match plan {
            Plan::Defer { next_in_ms } => {
                tracing::info!(
                    "{path}: reconnect backing off after {} failed attempt(s); next in {:.1} s",
                    backoff.failures,
                    next_in_ms as f64 / 1000.0
                );
                tries.push((
                    i,
                    Try::Deferred {
                        attempt: backoff.failures,
                        next_in_s: next_in_ms.div_ceil(1000),
                        last_error: backoff.last_error.clone(),
                    },
                ));
                continue;
            }
            Plan::Attempt { delay_ms } => delay_ms,
        };
        tracing::info!(
            "{path} is down (peer {peer}): reconnecting after a jitter of {delay_ms} ms (attempt {})",
            backoff.failures.saturating_add(1)
        );
        budget.sleep(Duration::from_millis(delay_ms));
        // By the address start recorded for a host name: no DNS on a monitor.
        let target = state.for_iscsiadm(path);
        if !net::reachable(&target.portal, budget.capped(net::REACH_TIMEOUT)) {
            tracing::info!("{path}: the portal does not answer; no login");
            tries.push((i, Try::Unreachable));
            continue;
        }
        let now_s = crate::observe::now_ms() / 1000;
        if facts.session.is_some() {
            // The kernel holds the session (FAILED/FREE) and reconnects it itself; a login
            // over it would fail. It gets a grace before a restart is called for.
            let record = state.record_mut(path);
            let since = *record.backoff.recovering_since_unix.get_or_insert(now_s);
            tries.push((
                i,
                Try::KernelRecovering {
                    for_s: now_s.saturating_sub(since),
                },
            ));
            continue;
        }
        let result = ctx.iscsiadm().login(&target, budget);
        let record = state.record_mut(path);
        match result {
            Ok(Login::LoggedIn) | Ok(Login::AlreadyLoggedIn) => {
                tries.push((i, Try::LoggedIn));
            }
            Err(e) => {
                tracing::warn!("reconnect: {}", e.detailed());
                let why = e.reason();
                reconnect::after_failure(
                    &mut record.backoff,
                    crate::observe::now_ms(),
                    ctx.config.reconnect_jitter_ms,
                    rng.gen(),
                    &e.advice(),
                );
                let since = record.backoff.failing_since_unix.unwrap_or(now_s);
                tries.push((
                    i,
                    Try::LoginFailed {
                        why: if is_fatal(&e.kind) { why } else { e.advice() },
                        fatal: is_fatal(&e.kind),
                        failing_for_s: now_s.saturating_sub(since),
                        attempt: record.backoff.failures,
                        next_in_s: (record
                            .backoff
                            .next_attempt_ms
                            .saturating_sub(crate::observe::now_ms()))
                        .div_ceil(1000),
                    },
                ));
            }
        }
    }
    tries
}

/// Failures that waiting cannot cure: a restart (or the admin) is the remedy.
fn is_fatal(kind: &ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::AuthFailed
            | ErrorKind::LoginRefused
            | ErrorKind::NotInstalled
            | ErrorKind::DriverMissing
            | ErrorKind::Permission
            | ErrorKind::IscsidDown
    )
}

/// After the tries, the kernel's word: paths back up lose their back-off.
pub fn settle_backoff(leg: &LegFacts, state: &mut InstanceState) {
    for p in leg.paths.iter().filter(|p| p.logged_in()) {
        if let Some(r) = state.paths.iter_mut().find(|r| r.is(&p.path)) {
            if r.backoff != Default::default() {
                tracing::info!("{}: reconnected", p.path);
                reconnect::after_success(&mut r.backoff);
            }
        }
    }
}

/// Publishes the mirror's health when it changed (recorded in the state so a healthy
/// monitor runs no program). Only under Pacemaker, only for a started resource.
pub fn publish_health(ctx: &Ctx, node: &str, state: &mut InstanceState, health: Option<Health>) {
    let Some(health) = health else { return };
    if !state.started || ctx.env.on_node().is_none() || state.health.as_deref() == Some(health.as_str()) {
        return;
    }
    match attrd::set_health(&ctx.tools, node, health.as_str(), ctx.deadline) {
        Ok(()) => tracing::info!("mirror health on {node}: {}", health.as_str()),
        Err(e) => tracing::warn!("{e}"),
    }
    // Recorded even when publishing failed, so a healthy monitor never retries in a loop.
    state.health = Some(health.as_str().to_string());
}

pub fn clear_health(ctx: &Ctx, node: &str) {
    if ctx.env.on_node().is_none() {
        return;
    }
    if let Err(e) = attrd::clear_health(&ctx.tools, node, ctx.deadline) {
        tracing::warn!("{e}");
    }
}
