//! monitor and status: the kernel's sessions judged by what the cluster knows.
//! A healthy monitor reads sysfs and the state file only; the cluster, the network and
//! iscsiadm are consulted only when a leg is down.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;

use crate::agent::{health, leg_view, observe, Ctx, PathObservation};
use crate::cluster::crm_mon;
use crate::config::Leg;
use crate::decide::monitor::{self as table, LegView, PathState, Verdict};
use crate::iscsi::iscsiadm::Login;
use crate::net;
use crate::ocf::{self, Outcome, Status};
use crate::state::InstanceState;
use crate::zfs;

/// Reconnect delays grow with each failed attempt, up to this factor of the jitter bound.
const MAX_BACKOFF_FACTOR: u64 = 16;

struct LegObservation<'a> {
    leg: &'a Leg,
    paths: Vec<PathObservation>,
}

fn observe_legs<'a>(ctx: &Ctx, legs: &[&'a Leg]) -> Vec<LegObservation<'a>> {
    let sessions = ctx.sysfs.sessions();
    legs.iter()
        .map(|leg| LegObservation {
            leg,
            paths: observe(&leg.paths().collect::<Vec<_>>(), &sessions),
        })
        .collect()
}

pub fn monitor(ctx: &Ctx) -> Outcome {
    let _lock = match ctx.store.lock(ctx.deadline.reserving(Duration::from_secs(1))) {
        Ok(l) => l,
        Err(e) => return Outcome::with(Status::ErrGeneric, e),
    };
    let mut state = ctx.store.load();
    if ctx.env.is_probe() {
        // A probe follows a (re)join: the attribute manager may have dropped what we
        // published before, so the next result is published afresh.
        if let Some(s) = state.as_mut().filter(|s| s.health.is_some()) {
            s.health = None;
            if let Err(e) = ctx.store.save(s) {
                tracing::warn!("could not reset the published health: {e}");
            }
        }
    }
    let started = state.as_ref().is_some_and(|s| s.started);
    let node = ctx.node_name(state.as_ref());
    let legs = ctx.config.legs_for(&node);
    let mut obs = observe_legs(ctx, &legs);

    let all_up = obs
        .iter()
        .all(|o| o.paths.iter().all(|p| p.state() == PathState::LoggedIn));
    if all_up && !legs.is_empty() {
        if let Some(degraded) = deep_checks(ctx, &obs) {
            health::publish(ctx, state, health::Health::Yellow);
            return degraded;
        }
        health::publish(ctx, state, health::Health::Green);
        return Outcome::ok();
    }
    let nothing = obs
        .iter()
        .all(|o| o.paths.iter().all(|p| p.state() == PathState::Missing));
    if !started && nothing {
        return Outcome::with(
            Status::NotRunning,
            "no session to any peer target; not started on this node",
        );
    }
    if ctx.env.is_probe() {
        // A probe reports the truth and repairs nothing.
        let what: Vec<String> = obs
            .iter()
            .flat_map(|o| {
                o.paths
                    .iter()
                    .filter(|p| p.state() != PathState::LoggedIn)
                    .map(|p| format!("{} {}", p.path.portal, p.kernel_state()))
            })
            .collect();
        return ocf::degraded_for(&ctx.env, format!("probe: leg down: {}", what.join(", ")));
    }

    if ctx.config.try_recovery
        && obs
            .iter()
            .any(|o| o.paths.iter().any(|p| p.state() == PathState::Recovering))
    {
        obs = wait_for_kernel_recovery(ctx, &legs, ctx.deadline.reserving(Duration::from_secs(3)));
    }

    let cluster = crm_mon::query(
        &ctx.config.crm_mon,
        ctx.deadline
            .reserving(Duration::from_secs(3))
            .capped(Duration::from_secs(10)),
    );
    if !cluster.known {
        tracing::info!(
            "cluster state unknown ({}): judging the sessions by themselves and by reachability",
            cluster.reason.as_deref().unwrap_or("no reason given")
        );
    }

    let mut state = state.unwrap_or_default();
    let mut verdicts = Vec::new();
    for o in &obs {
        let mut leg = leg_view(o.leg, &o.paths, &cluster);
        for i in leg.needs_reachability() {
            leg.paths[i].reachable = Some(net::reachable(&o.paths[i].path.portal, net::REACH_TIMEOUT));
        }
        let verdict = match table::judge(&leg, started) {
            Verdict::Reconnect(indices) => reconnect(ctx, o, &leg, &indices, &mut state),
            v => v,
        };
        verdicts.push(verdict);
    }
    if started {
        if let Err(e) = ctx.store.save(&state) {
            tracing::warn!("could not save the reconnect state: {e}");
        }
    }
    let outcome = match table::overall(&verdicts) {
        Verdict::Healthy => Outcome::ok(),
        Verdict::NotRunning => Outcome::with(Status::NotRunning, "not logged in to any peer target"),
        Verdict::Degraded(r) => ocf::degraded_for(&ctx.env, r),
        Verdict::Failed(r) => Outcome::with(Status::ErrGeneric, r),
        Verdict::Reconnect(_) => Outcome::with(Status::ErrGeneric, "internal: unresolved reconnect"),
    };
    let colour = match outcome.status {
        Status::Success if outcome.reason.is_none() => health::Health::Green,
        Status::ErrGeneric => health::Health::Red,
        _ => health::Health::Yellow,
    };
    health::publish(ctx, ctx.store.load(), colour);
    outcome
}

/// OCF_CHECK_LEVEL 10: is the window still kept by the live sessions' timers?
/// 20: are the pool's remote vdevs back ONLINE now that their sessions are?
fn deep_checks(ctx: &Ctx, obs: &[LegObservation]) -> Option<Outcome> {
    let level = ctx.env.check_level();
    if level >= 10 && ctx.config.timeout_policy != crate::config::TimeoutPolicy::Ignore {
        let report = crate::agent::validate::window_report(ctx);
        crate::agent::validate::log_findings(&report);
    }
    let pool = ctx.config.pool.as_deref().filter(|_| level >= 20)?;
    let sessions: Vec<&crate::iscsi::sysfs::Session> = obs
        .iter()
        .flat_map(|o| o.paths.iter().filter_map(|p| p.session.as_ref()))
        .collect();
    match zfs::read(pool, ctx.deadline.reserving(Duration::from_secs(1))) {
        zfs::Reading::Status(status) => {
            let stuck = zfs::stuck_remote_vdevs(&status, &sessions);
            let first = stuck.first()?;
            Some(ocf::degraded_for(
                &ctx.env,
                format!(
                    "pool {pool}: remote vdev {} {} though its session is up; zpool online {pool} {}",
                    first.name, first.state, first.name
                ),
            ))
        }
        zfs::Reading::NotImported => {
            tracing::debug!("pool {pool} is not imported on this node");
            None
        }
        zfs::Reading::Unknown(why) => {
            tracing::warn!("deep monitor: cannot read pool {pool}: {why}");
            None
        }
    }
}

/// Waits, within the monitor's time, for FAILED sessions to be recovered by the kernel.
fn wait_for_kernel_recovery<'a>(
    ctx: &Ctx,
    legs: &[&'a Leg],
    deadline: crate::deadline::Deadline,
) -> Vec<LegObservation<'a>> {
    tracing::info!(
        "try_recovery: waiting up to {:.1} s for the kernel to recover failed sessions",
        deadline.remaining().as_secs_f64()
    );
    loop {
        let obs = observe_legs(ctx, legs);
        let recovering = obs
            .iter()
            .any(|o| o.paths.iter().any(|p| p.state() == PathState::Recovering));
        if !recovering || deadline.expired() {
            return obs;
        }
        deadline.sleep(Duration::from_millis(250));
    }
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// One jittered login per reachable down path. A session the kernel still holds
/// (FAILED/FREE) is the kernel's to recover: we give it the same jittered time instead.
fn reconnect(
    ctx: &Ctx,
    obs: &LegObservation,
    leg: &LegView,
    indices: &[usize],
    state: &mut InstanceState,
) -> Verdict {
    let mut attempted = Vec::new();
    for &i in indices {
        let path = &obs.paths[i].path;
        let key = format!("{} {}", path.target, path.portal);
        let backoff = state.backoff.get(&key).cloned().unwrap_or_default();
        let factor = 1u64 << backoff.failures.min(MAX_BACKOFF_FACTOR.trailing_zeros());
        let bound = ctx.config.reconnect_jitter_ms.saturating_mul(factor);
        let delay_ms = if bound == 0 {
            0
        } else {
            rand::thread_rng().gen_range(0..=bound)
        };
        let budget = ctx.deadline.reserving(Duration::from_secs(2));
        let delay = Duration::from_millis(delay_ms).min(budget.remaining() / 2);
        tracing::info!(
            "{} is down while {} is {} and its portal answers: reconnecting after a jitter of {} ms (attempt {})",
            path,
            leg.label,
            leg.peer.describe(),
            delay.as_millis(),
            backoff.failures + 1
        );
        budget.sleep(delay);
        let why = match obs.paths[i].state() {
            PathState::Missing => match ctx.iscsiadm().login(path, budget) {
                Ok(Login::LoggedIn) | Ok(Login::AlreadyLoggedIn) => None,
                Err(e) => {
                    tracing::warn!("reconnect: {}", e.detailed());
                    Some(e.reason())
                }
            },
            _ => None,
        };
        attempted.push((i, why));
    }
    // Judge by the kernel again; give a fresh login a moment to show in sysfs.
    let settle = ctx
        .deadline
        .reserving(Duration::from_secs(1))
        .capped(Duration::from_secs(5));
    let refreshed = loop {
        let r = observe(&obs.leg.paths().collect::<Vec<_>>(), &ctx.sysfs.sessions());
        let done = attempted
            .iter()
            .all(|(i, why)| why.is_some() || r[*i].state() == PathState::LoggedIn);
        if done || settle.expired() {
            break r;
        }
        settle.sleep(Duration::from_millis(100));
    };
    let mut after = leg.clone();
    for (i, p) in refreshed.iter().enumerate() {
        after.paths[i].state = p.state();
        after.paths[i].label = format!("{} {}", p.path.portal, p.kernel_state());
    }
    let now = now_unix();
    let mut recovering_for = Vec::new();
    for (i, _) in &attempted {
        let key = format!("{} {}", refreshed[*i].path.target, refreshed[*i].path.portal);
        match refreshed[*i].state() {
            PathState::LoggedIn => {
                tracing::info!("{}: reconnected", refreshed[*i].path);
                state.backoff.remove(&key);
            }
            other => {
                let b = state.backoff.entry(key).or_default();
                b.failures += 1;
                b.last_attempt_unix = now;
                if other == PathState::Recovering {
                    let since = *b.recovering_since_unix.get_or_insert(now);
                    recovering_for.push((*i, Duration::from_secs(now.saturating_sub(since))));
                } else {
                    b.recovering_since_unix = None;
                }
            }
        }
    }
    table::judge_after_reconnect(&after, &attempted, &recovering_for)
}

/// status: the monitor's verdict without repairs, with a line for people.
pub fn status(ctx: &Ctx) -> Outcome {
    let state = ctx.store.load();
    let node = ctx.node_name(state.as_ref());
    let legs = ctx.config.legs_for(&node);
    let obs = observe_legs(ctx, &legs);
    for o in &obs {
        for p in &o.paths {
            println!("{}: {} {}", o.leg.label(), p.path, p.kernel_state());
        }
    }
    let up = obs
        .iter()
        .all(|o| o.paths.iter().all(|p| p.state() == PathState::LoggedIn));
    let none = obs
        .iter()
        .all(|o| o.paths.iter().all(|p| p.state() == PathState::Missing));
    if up {
        println!("running");
        Outcome::ok()
    } else if none && !state.is_some_and(|s| s.started) {
        println!("stopped");
        Outcome::with(Status::NotRunning, "not logged in to any peer target")
    } else {
        println!("degraded");
        ocf::degraded_for(
            &ctx.env,
            "some mirror legs are down (see monitor for the cluster's view)".to_string(),
        )
    }
}
