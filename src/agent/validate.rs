//! validate-all, and the checks start shares with it.

use std::time::Duration;

use crate::agent::Ctx;
use crate::cluster::cib;
use crate::config::TimeoutPolicy;
use crate::decide::mmp::ZfsFigures;
use crate::decide::timeouts::Severity;
use crate::decide::timer_sources::Overrides;
use crate::observe::mmp;
use crate::observe::window::{self, Host, Report, WindowOverrides};
use crate::ocf::{Outcome, Status};
use crate::target::Path;
use crate::tools::ISCSIADM;

/// Tools the action cannot do without: 5 (not installed) with what to install.
pub fn installed(ctx: &Ctx) -> Option<Outcome> {
    (!ctx.tools.installed(&ISCSIADM)).then(|| {
        Outcome::with(
            Status::ErrInstalled,
            format!(
                "iscsiadm ({}) not found or not executable: install open-iscsi or set the iscsiadm parameter",
                ctx.config.iscsiadm
            ),
        )
    })
}

/// The timers this resource will give its paths, judged against the Corosync window.
pub fn window_report(ctx: &Ctx, paths: &[Path]) -> Report {
    let t = &ctx.config.timers;
    let param = |v: Option<i64>, name: &str| v.map(|v| (v, format!("parameter {name}")));
    let over = Overrides {
        noop_out_interval: param(t.noop_out_interval, "noop_out_interval"),
        noop_out_timeout: param(t.noop_out_timeout, "noop_out_timeout"),
        replacement_timeout: param(t.replacement_timeout, "replacement_timeout"),
    };
    let host = Host::new(&ctx.tools.iscsiadm, &ctx.host_root, &ctx.tools.corosync_cmapctl);
    let window = WindowOverrides {
        token: ctx.config.token_ms.map(|t| (t as i64, "parameter token_ms")),
        consensus: None,
    };
    // A host-name portal's session and record carry the address start recorded.
    let state = ctx.store.load().into_state();
    let paths: Vec<Path> = paths.iter().map(|p| state.for_iscsiadm(p)).collect();
    window::for_paths(&host, &paths, &window, &over, ctx.deadline)
}

/// The pool's side of the window, on the node that imports the pool: its multihost, MMP
/// and failmode, this host's hostid and the peers' as they published them.
pub fn pool_figures(ctx: &Ctx, node: &str) -> Vec<ZfsFigures> {
    let Some(pool) = ctx.config.pool.as_deref() else {
        return Vec::new();
    };
    if !crate::observe::pool::imported_here(&ctx.host_root, pool) {
        return Vec::new();
    }
    let mut z = mmp::figures(
        pool,
        &ctx.tools,
        &ctx.host_root,
        ctx.deadline.capped(Duration::from_secs(5)),
    );
    match cib::query(&ctx.tools, ctx.deadline.capped(Duration::from_secs(5))) {
        Ok(xml) => z.peer_hostids = mmp::peer_hostids(&cib::parse(&xml), node),
        Err(e) => tracing::debug!("peers' hostids not read: {e}"),
    }
    vec![z]
}

/// Logs every finding outside the window; under `enforce`, an error refuses the action.
pub fn timeout_policy(ctx: &Ctx, paths: &[Path]) -> Option<Outcome> {
    if ctx.config.timeout_policy == TimeoutPolicy::Ignore {
        return None;
    }
    let report = window_report(ctx, paths);
    log_findings(&report);
    if ctx.config.timeout_policy == TimeoutPolicy::Enforce {
        if let Some((_, f)) = report.first(Severity::Error) {
            let short = f.message.split(':').next().unwrap_or(&f.message);
            return Some(Outcome::with(
                Status::ErrConfigured,
                format!("iSCSI timers outside the Corosync window: {short}; see check-timeouts --recommend"),
            ));
        }
    }
    None
}

pub fn log_findings(report: &Report) {
    tracing::debug!(
        "Corosync token {} ms ({}), consensus {} ms ({})",
        report.window.token_ms.shown(),
        report.window.token_ms.source,
        report.window.consensus_ms.shown(),
        report.window.consensus_ms.source
    );
    for p in &report.paths {
        let t = &p.timers;
        let figures = format!(
            "[noop_out_interval {} s from {}, noop_out_timeout {} s from {}, replacement_timeout {} s from {}; token {} ms from {}]",
            t.noop_out_interval.shown(),
            t.noop_out_interval.source,
            t.noop_out_timeout.shown(),
            t.noop_out_timeout.source,
            t.replacement_timeout.shown(),
            t.replacement_timeout.source,
            report.window.token_ms.shown(),
            report.window.token_ms.source
        );
        for f in &p.findings {
            match f.severity {
                Severity::Error => {
                    tracing::warn!("timeout window broken for {}: {} {figures}", p.label, f.message)
                }
                Severity::Warning => {
                    tracing::warn!("timeout window warning for {}: {} {figures}", p.label, f.message)
                }
                Severity::Ok => tracing::debug!("{}: {}", p.label, f.message),
            }
        }
    }
    for z in &report.zfs {
        for f in &z.findings {
            match f.severity {
                Severity::Error => {
                    tracing::warn!("pool {} outside the window: {}", z.figures.pool, f.message)
                }
                Severity::Warning => tracing::warn!("pool {} warning: {}", z.figures.pool, f.message),
                Severity::Ok => tracing::debug!("pool {}: {}", z.figures.pool, f.message),
            }
        }
    }
}

pub fn validate_all(ctx: &Ctx) -> Outcome {
    if let Some(o) = installed(ctx) {
        return o;
    }
    let snap = ctx.observe(ctx.store.load());
    if let Some(why) = snap.membership.reason() {
        return Outcome::with(Status::ErrConfigured, why);
    }
    if let Some(o) = timeout_policy(ctx, &ctx.config.paths_for(&snap.node)) {
        return o;
    }
    Outcome::ok()
}
