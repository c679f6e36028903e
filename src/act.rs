//! The repairs a judgement calls for, carried out through the modules that own each tool:
//! a jittered, backed-off re-login of a lost leg, the mirror's health attribute; and
//! doctor --fix's two repairs (option C for this resource's paths, the gated `zpool online`).

use std::time::Duration;

use rand::Rng;

use crate::agent::Ctx;
use crate::cluster::attrd;
use crate::decide::monitor::Try;
use crate::decide::reconnect::{self, Pace, Reconnect, Step};
use crate::decide::verdict::Health;
use crate::net;
use crate::observe::LegFacts;
use crate::state::InstanceState;

/// Tries to bring back the given paths of one leg. The steps and their order (wait for
/// the jitter or the back-off, probe the portal, log in) are `decide::reconnect`'s; this
/// carries them out: the probe is spread like the logins, so a returning target sees
/// neither in a burst.
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
        let budget = ctx
            .deadline
            .reserving(Duration::from_millis(reconnect::REPORT_RESERVE_MS));
        // By the portal start recorded (a host name's address, iSNS's answer): no name
        // service is asked on a monitor.
        let target = state.for_iscsiadm(path);
        let backoff = &mut state.record_mut(path).backoff;
        let (rc, mut step) = Reconnect::begin(
            backoff,
            crate::observe::now_ms(),
            Pace {
                jitter_ms: ctx.config.jitter_for(&leg.leg),
                interval_ms: ctx.env.monitor_interval().as_millis() as u64,
            },
            reconnect::wait_budget_ms(ctx.deadline.remaining().as_millis() as u64),
            rng.gen(),
            facts.session.is_some(),
        );
        let outcome = loop {
            step = match step {
                Step::Wait { ms, attempt } => {
                    tracing::info!(
                        "{path} is down (peer {peer}): reconnecting after a jitter of {ms} ms (attempt {attempt})"
                    );
                    budget.sleep(Duration::from_millis(ms));
                    rc.waited()
                }
                Step::Probe => {
                    let answered = net::reachable(&target.portal, budget.capped(net::REACH_TIMEOUT));
                    if !answered {
                        tracing::info!("{path}: the portal does not answer; no login");
                    }
                    rc.probed(backoff, answered, crate::observe::now_ms())
                }
                Step::Login => {
                    let result = ctx.iscsiadm().login(&target, budget);
                    if let Err(e) = &result {
                        tracing::warn!("reconnect: {}", e.detailed());
                    }
                    rc.login_ended(
                        backoff,
                        result.as_ref().map(|_| ()),
                        crate::observe::now_ms(),
                        rng.gen(),
                    )
                }
                Step::Done(t) => break t,
            };
        };
        if let Try::Deferred {
            attempt, next_in_s, ..
        } = &outcome
        {
            tracing::info!(
                "{path}: reconnect backing off after {attempt} failed attempt(s); next in about {next_in_s} s"
            );
        }
        tries.push((i, outcome));
    }
    tries
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
        // Recorded only once published: a colour that did not reach attrd (attrd_updater
        // killed on a loaded node, attrd restarting) is tried again by the next monitor,
        // or placement keeps acting on the old one (yellow on a whole mirror).
        Ok(()) => {
            tracing::info!("mirror health on {node}: {}", health.as_str());
            state.health = Some(health.as_str().to_string());
        }
        Err(e) => tracing::warn!(
            "mirror health {} not published, the next monitor tries again: {e}",
            health.as_str()
        ),
    }
}

pub fn clear_health(ctx: &Ctx, node: &str) {
    if ctx.env.on_node().is_none() {
        return;
    }
    if let Err(e) = attrd::clear_health(&ctx.tools, node, ctx.deadline) {
        tracing::warn!("{e}");
    }
}

/// Publishes this node's ZFS hostid as a permanent node attribute, so that check-timeouts
/// and the deep monitor on any node can tell two nodes sharing one (a cloned image: then
/// multihost cannot protect the pool). Only under Pacemaker, only for a mirror with a pool;
/// a failure costs the comparison, never the start.
pub fn publish_hostid(ctx: &Ctx, node: &str) {
    if ctx.env.on_node().is_none() || ctx.config.pool.is_none() {
        return;
    }
    let Some((id, source)) = crate::observe::mmp::hostid(&ctx.host_root) else {
        tracing::debug!("no hostid to publish (neither /etc/hostid nor spl_hostid)");
        return;
    };
    let deadline = ctx
        .deadline
        .reserving(std::time::Duration::from_secs(2))
        .capped(std::time::Duration::from_secs(5));
    match attrd::set_permanent(&ctx.tools, node, attrd::HOSTID, &id, deadline) {
        Ok(()) => tracing::debug!("published hostid {id} ({source}) for {node}"),
        Err(e) => tracing::warn!("hostid not published: {e}"),
    }
}

/// Carries out the pool side of a judgement: at most one `zpool online`, the outdated
/// marks to set and to clear. Every action is logged with why.
pub fn pool(
    ctx: &Ctx,
    node: &str,
    pool: &str,
    plan: &crate::decide::pool::Plan,
    memory: &mut crate::state::PoolMemory,
) {
    if let Some(o) = &plan.online {
        tracing::info!("zpool online {pool} {}: {}", o.vdev, o.why);
        match crate::zfs::zpool::online(&ctx.tools, pool, &o.vdev, ctx.deadline) {
            Ok(()) => {
                tracing::info!("{pool}: {} brought back; ZFS resilvers what it missed", o.vdev);
                memory.last_online = Some((o.vdev.clone(), crate::observe::now_ms()));
            }
            Err(e) => tracing::warn!("{e}"),
        }
    }
    let new: Vec<&String> = plan.mark.iter().filter(|p| !memory.marked.contains(p)).collect();
    for peer in new {
        match crate::zed::mark_outdated(&ctx.tools, peer, node, ctx.deadline) {
            Ok(()) => {
                tracing::warn!(
                    "{pool}: {peer}'s half misses writes: marked outdated ({}=1); the pool must not start there until it is resilvered",
                    attrd::OUTDATED
                );
                memory.marked.push(peer.clone());
            }
            Err(e) => tracing::error!("{pool}: could not mark {peer}'s half outdated: {e}"),
        }
    }
    for peer in &plan.clear {
        let cleared = [attrd::OUTDATED, attrd::OUTDATED_SINCE, attrd::OUTDATED_BY]
            .iter()
            .map(|name| attrd::delete_permanent(&ctx.tools, peer, name, ctx.deadline))
            .collect::<Result<Vec<()>, String>>();
        match cleared {
            Ok(_) => {
                if memory.marked.contains(peer) {
                    tracing::info!("{pool}: {peer}'s half is resilvered: outdated mark cleared");
                }
                memory.marked.retain(|m| m != peer);
            }
            Err(e) => tracing::warn!("{pool}: could not clear {peer}'s outdated mark: {e}"),
        }
    }
}

/// One thing doctor --fix did, as an admin would have typed it, and what came of it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Action {
    pub command: String,
    pub ok: bool,
    pub outcome: String,
}

/// doctor --fix, option C for one path of this resource: after a jitter (drawn from
/// `jitter_ms`, at most half the time left), the path's stale session logged out by its
/// id, then the path's exact node record logged in. Nothing else is touched: the session
/// is logged out only while sysfs still shows it serving this path and not logged in (the
/// kernel may have recovered it meanwhile), and no other record or session is named.
pub fn relogin(
    iscsiadm: &crate::iscsi::iscsiadm::Iscsiadm,
    sysfs: &crate::iscsi::sysfs::Sysfs,
    path: &crate::target::Path,
    stale_sid: Option<u32>,
    jitter_ms: u64,
    deadline: crate::deadline::Deadline,
) -> Vec<Action> {
    let mut done = Vec::new();
    let budget_ms = deadline.remaining().as_millis() as u64 / 2;
    let delay = (jitter_ms as f64 * rand::thread_rng().gen::<f64>()) as u64;
    let delay = delay.min(budget_ms);
    tracing::info!("doctor --fix: option C for {path} after a jitter of {delay} ms");
    deadline.sleep(Duration::from_millis(delay));
    if let Some(sid) = stale_sid {
        let command = format!("iscsiadm -m session -r {sid} --logout");
        match sysfs.session(sid) {
            Some(s) if s.state == crate::iscsi::sysfs::SessionState::LoggedIn => {
                done.push(Action {
                    command: format!("{command} (not run)"),
                    ok: true,
                    outcome: format!("session {sid} is LOGGED_IN again: the kernel recovered it"),
                });
                return done;
            }
            Some(s) if !s.leads_to(path) => {
                done.push(Action {
                    command: format!("{command} (not run)"),
                    ok: false,
                    outcome: format!("session {sid} no longer serves {path}"),
                });
                return done;
            }
            None => done.push(Action {
                command: format!("{command} (not run)"),
                ok: true,
                outcome: format!("session {sid} is gone already"),
            }),
            Some(_) => {
                let r = iscsiadm.logout_session(sid, deadline);
                done.push(Action {
                    command,
                    ok: r.is_ok(),
                    outcome: match r {
                        Ok(crate::iscsi::iscsiadm::Logout::LoggedOut) => "logged out".into(),
                        Ok(crate::iscsi::iscsiadm::Logout::NotLoggedIn) => "no such session any more".into(),
                        Err(e) => e.reason(),
                    },
                });
            }
        }
    }
    let command = format!(
        "iscsiadm -m node -T {} -p {} --login",
        path.target,
        path.portal.to_iscsiadm()
    );
    let r = iscsiadm.login(path, deadline);
    done.push(Action {
        command,
        ok: r.is_ok(),
        outcome: match r {
            Ok(crate::iscsi::iscsiadm::Login::LoggedIn) => "logged in".into(),
            Ok(crate::iscsi::iscsiadm::Login::AlreadyLoggedIn) => "a session already exists".into(),
            Err(e) => e.reason(),
        },
    });
    done
}

/// doctor --fix: the `zpool online` the pool plan calls for.
pub fn zpool_online(
    tools: &crate::tools::Tools,
    pool: &str,
    online: &crate::decide::pool::Online,
    deadline: crate::deadline::Deadline,
) -> Action {
    tracing::info!(
        "doctor --fix: zpool online {pool} {}: {}",
        online.vdev,
        online.why
    );
    let r = crate::zfs::zpool::online(tools, pool, &online.vdev, deadline);
    Action {
        command: format!("zpool online {pool} {}", online.vdev),
        ok: r.is_ok(),
        outcome: match r {
            Ok(()) => "brought back; ZFS resilvers what it missed".into(),
            Err(e) => e,
        },
    }
}
