//! monitor and status: observe, judge, repair what the judgement calls for, judge again.
//! A healthy monitor reads sysfs and the state file only; the cluster, the network and
//! iscsiadm are consulted only when a leg is down.

use std::time::Duration;

use crate::act;
use crate::agent::{validate, Ctx};
use crate::config::TimeoutPolicy;
use crate::decide::monitor::{self as table, PathState};
use crate::decide::verdict::{Health, Kind, Verdict};
use crate::decide::{assess, pool};
use crate::observe::{self, Snapshot};
use crate::ocf::{self, Outcome};
use crate::state::Loaded;

pub fn monitor(ctx: &Ctx) -> Outcome {
    // A stuck lock or an unusable HA_RSCTMP must not turn the truth into an error: judge
    // without the lock, repair nothing that needs it.
    let lock = ctx.store.lock(
        ctx.deadline
            .reserving(Duration::from_secs(1))
            .capped(Duration::from_secs(10)),
    );
    if let Err(e) = &lock {
        tracing::warn!("{e}; judging without repairs");
    }
    let probe = ctx.env.is_probe();
    let loaded = ctx.store.load();
    let mut snap = ctx.observe(loaded.clone());
    let verdict = judge_and_repair(ctx, &mut snap, probe, lock.is_ok());
    finish(ctx, &loaded, snap, &verdict, probe, lock.is_ok())
}

fn judge_and_repair(ctx: &Ctx, snap: &mut Snapshot, probe: bool, may_repair: bool) -> Verdict {
    let legs = judge_and_repair_legs(ctx, snap, probe, may_repair);
    if legs.kind == Kind::NotRunning {
        return legs;
    }
    let level = ctx.env.check_level();
    if level >= 10 && legs.kind == Kind::Healthy && ctx.config.timeout_policy != TimeoutPolicy::Ignore {
        let paths: Vec<_> = snap.all_paths().map(|p| p.path.clone()).collect();
        let report = validate::window_report(ctx, &paths).with_pools(validate::pool_figures(ctx, &snap.node));
        validate::log_findings(&report);
    }
    let pool = mirror(ctx, snap, probe, may_repair, level >= 20);
    pool::with_pool(&legs, Some(&pool))
}

/// The pool side: only on the node that imports the pool (known without a child process),
/// and there only while the mirror is not known to be whole, when something changed, or
/// when a deep monitor asks.
fn mirror(ctx: &Ctx, snap: &mut Snapshot, probe: bool, may_repair: bool, deep: bool) -> Verdict {
    let Some(name) = ctx.config.pool.clone() else {
        return Verdict::healthy();
    };
    let mut state = snap.state.clone().into_state();
    if !state.started {
        return Verdict::healthy();
    }
    for l in &snap.legs {
        for p in &l.paths {
            let sid = p.session.as_ref().filter(|_| p.logged_in()).map(|s| s.sid);
            state.note_session(&p.path, sid, snap.now_ms);
        }
    }
    let verdict = if let Some(pool_state) = observe::pool::state_here(&ctx.host_root, &name) {
        let fingerprint = pool::fingerprint(&snap.legs);
        let zed = observe::pool::zed_generation(ctx.store.dir(), &name);
        let now = pool::Watched {
            fingerprint: &fingerprint,
            zed_generation: zed,
            pool_state: &pool_state,
        };
        if pool::needs_reading(&state.pool, &now, deep) {
            let json = observe::pool::read(
                snap,
                &name,
                &ctx.tools,
                &ctx.sysfs,
                &ctx.host_root,
                state.pool.json,
                ctx.deadline.reserving(Duration::from_secs(1)),
            );
            let up_since = pool::sessions_up_since(&snap.legs, Some(&state), snap.now_ms);
            let Some(facts) = snap.pool.clone() else {
                return Verdict::healthy();
            };
            let plan = pool::plan(&pool::Input {
                facts: &facts,
                legs: &snap.legs,
                memory: &state.pool,
                up_since_ms: &up_since,
                now_ms: snap.now_ms,
                stable_ms: 2 * stable_interval_ms(ctx),
                auto_online: ctx.config.auto_online,
            });
            let mut plan = plan;
            // A mark to set or clear is rare: worth asking the cluster first whether the
            // node is one of its own (a peer outside it can have no node attribute).
            let new_mark = plan.mark.iter().any(|n| !state.pool.marked.contains(n));
            if (new_mark || !plan.clear.is_empty()) && snap.cluster.is_none() {
                observe::cluster(snap, &ctx.tools, ctx.deadline.reserving(Duration::from_secs(3)));
            }
            let strangers = plan.only_cluster_nodes(snap.cluster.as_ref());
            if !strangers.is_empty() {
                tracing::debug!(
                    "not a node of this cluster, so no outdated mark for its half: {}",
                    strangers.join(", ")
                );
            }
            let mut memory = plan.memory.clone();
            memory.legs_fingerprint = fingerprint.clone();
            memory.zed_generation = zed;
            memory.pool_state = Some(pool_state.clone());
            memory.json = json;
            if may_repair && !probe {
                act::pool(ctx, &snap.node, &name, &plan, &mut memory);
            }
            state.pool = memory;
            plan.verdict
        } else {
            Verdict::healthy()
        }
    } else {
        state.pool.whole = true;
        state.pool.waiting_since_ms.clear();
        Verdict::healthy()
    };
    snap.state = Loaded::Present(Box::new(state));
    verdict
}

/// The monitor interval a returned vdev's session must stay up for, twice (10 s when
/// Pacemaker gave none: a probe or a run by hand).
fn stable_interval_ms(ctx: &Ctx) -> u64 {
    match ctx.env.monitor_interval().as_millis() as u64 {
        0 => 10_000,
        ms => ms,
    }
}

fn judge_and_repair_legs(ctx: &Ctx, snap: &mut Snapshot, probe: bool, may_repair: bool) -> Verdict {
    if assess::needs_cluster(snap, probe) {
        if ctx.config.try_recovery {
            wait_for_kernel_recovery(ctx, snap);
        }
        if assess::needs_cluster(snap, probe) {
            observe::cluster(snap, &ctx.tools, ctx.deadline.reserving(Duration::from_secs(3)));
        }
    }
    let mut a = assess::assess(snap, probe);
    if !may_repair || a.reconnect.is_empty() {
        return a.verdict;
    }
    let mut state = snap.state.clone().into_state();
    for (l, paths) in a.reconnect.clone() {
        let view = a.legs[l].view.clone();
        let peer = format!("{} {}", view.label, view.peer.describe());
        let tries = act::reconnect(ctx, &snap.legs[l], &peer, &paths, &mut state);
        settle(ctx, snap, l, &tries);
        act::settle_backoff(&snap.legs[l], &mut state);
        let mut after = assess::leg_view(&snap.legs[l], snap.cluster.as_ref());
        for (i, p) in after.paths.iter_mut().enumerate() {
            p.reachable = view.paths.get(i).and_then(|v| v.reachable);
        }
        a.legs[l].verdict = table::judge_after_reconnect(&after, &tries);
    }
    snap.state = Loaded::Present(Box::new(state));
    a.recombine();
    a.verdict
}

/// Gives fresh logins a moment to show in sysfs, then reads the sessions again.
fn settle(ctx: &Ctx, snap: &mut Snapshot, leg: usize, tries: &[(usize, table::Try)]) {
    let settle = ctx
        .deadline
        .reserving(Duration::from_secs(1))
        .capped(Duration::from_secs(5));
    loop {
        observe::refresh_legs(snap, &ctx.config, &ctx.sysfs);
        let done = tries.iter().all(|(i, t)| {
            !matches!(t, table::Try::LoggedIn) || snap.legs[leg].paths.get(*i).is_some_and(|p| p.logged_in())
        });
        if done || settle.expired() {
            return;
        }
        settle.sleep(Duration::from_millis(50));
    }
}

/// try_recovery: waits, within the monitor's time, for FAILED sessions to be recovered by
/// the kernel before judging.
fn wait_for_kernel_recovery(ctx: &Ctx, snap: &mut Snapshot) {
    let recovering = |s: &Snapshot| {
        s.all_paths()
            .any(|p| assess::path_state(p) == PathState::Recovering)
    };
    if !recovering(snap) {
        return;
    }
    let deadline = ctx.deadline.reserving(Duration::from_secs(3));
    tracing::info!(
        "try_recovery: waiting up to {:.1} s for the kernel to recover failed sessions",
        deadline.remaining().as_secs_f64()
    );
    while recovering(snap) && !deadline.expired() {
        deadline.sleep(Duration::from_millis(100));
        observe::refresh_legs(snap, &ctx.config, &ctx.sysfs);
    }
}

/// Records what this run learnt, publishes the health the verdict implies, encodes it.
fn finish(
    ctx: &Ctx,
    loaded: &Loaded,
    snap: Snapshot,
    verdict: &Verdict,
    probe: bool,
    locked: bool,
) -> Outcome {
    if let Some(file) = &ctx.config.metrics_file {
        let marked = snap
            .state
            .state()
            .map(|s| s.pool.marked.clone())
            .unwrap_or_default();
        let text = crate::report::metrics::render(&crate::report::metrics::Input {
            resource: ctx.env.instance(),
            snap: &snap,
            verdict,
            outdated: &marked,
        });
        if let Err(e) = crate::report::metrics::write_textfile(file, &text) {
            tracing::warn!("cannot write the metrics file {}: {e}", file.display());
        }
    }
    if let (true, Loaded::Present(mut state)) = (locked, snap.state) {
        if probe {
            // A probe follows a (re)join: the attribute manager may have dropped what we
            // published, so this result is published afresh.
            state.health = None;
        }
        act::publish_health(ctx, &snap.node, &mut state, Health::of(verdict));
        if loaded.state() != Some(&state) && state.started {
            if let Err(e) = ctx.store.save(&state) {
                tracing::warn!("could not save the state: {e}");
            }
        }
    }
    ocf::encode(&ctx.env, verdict)
}

/// status: the monitor's verdict without repairs, with a line per path for people.
pub fn status(ctx: &Ctx) -> Outcome {
    let mut snap = ctx.observe(ctx.store.load());
    if assess::needs_cluster(&snap, false) {
        observe::cluster(&mut snap, &ctx.tools, ctx.deadline);
        let need = assess::reachability_needed(&assess::legs(&snap));
        observe::reachability(&mut snap, &need, ctx.deadline);
    }
    let a = assess::assess(&snap, false);
    let plan = ctx.config.pool.as_deref().and_then(|name| {
        let json = snap.state.state().and_then(|s| s.pool.json);
        observe::pool::read(
            &mut snap,
            name,
            &ctx.tools,
            &ctx.sysfs,
            &ctx.host_root,
            json,
            ctx.deadline,
        );
        pool::for_snapshot(&snap, ctx.config.auto_online, 20_000)
    });
    let r = crate::report::status::build(ctx.env.instance(), &snap, &a, plan.as_ref(), None);
    print!("{}", crate::report::status::text(&r));
    ocf::encode(
        &ctx.env,
        &pool::with_pool(&a.verdict, plan.as_ref().map(|p| &p.verdict)),
    )
}
