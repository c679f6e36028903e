//! start: node records, then a login per path, then the kernel's word that it worked.

use std::net::IpAddr;
use std::time::Duration;

use crate::agent::Ctx;
use crate::config::Discovery;
use crate::iscsi::iscsiadm::{Discovered, Error, ErrorKind, Login};
use crate::iscsi::udev;
use crate::net;
use crate::observe::{self, PathFacts};
use crate::ocf::{Outcome, Status};
use crate::state::{InstanceState, Loaded};
use crate::target::{Host, Path, Portal};

/// Longest single iscsiadm call; the kernel's own login_timeout bounds a login anyway.
pub(super) const CALL_CAP: Duration = Duration::from_secs(60);

/// How long a portal's host name may take to resolve at start.
const RESOLVE_CAP: Duration = Duration::from_secs(5);

pub fn start(ctx: &Ctx) -> Outcome {
    if let Some(o) = crate::agent::validate::installed(ctx) {
        return o;
    }
    let _lock = match ctx.store.lock(ctx.deadline) {
        Ok(l) => l,
        Err(e) => return Outcome::with(Status::ErrGeneric, e),
    };
    let snap = ctx.observe(ctx.store.load());
    if let Some(why) = snap.membership.reason() {
        // A local problem: Pacemaker keeps the resource off this node only.
        return Outcome::with(Status::ErrArgs, why);
    }
    let paths = ctx.config.paths_for(&snap.node);
    if let Some(o) = crate::agent::validate::timeout_policy(ctx, &paths) {
        return o;
    }
    if paths.is_empty() {
        return Outcome::with(
            Status::ErrConfigured,
            format!(
                "peers lists only this node ({}): there is no peer target to log in to",
                snap.node
            ),
        );
    }
    let mut state = snap.state.into_state();
    state.started = true;
    // Publish afresh after a start: the attribute may have been cleared meanwhile.
    state.health = None;
    state.node = snap.node.clone();
    state.hook = ctx.config.pool.as_ref().map(|pool| crate::state::HookConfig {
        pool: pool.clone(),
        host_root: ctx.host_root.display().to_string(),
        crm_mon: ctx.tools.crm_mon.clone(),
    });
    for leg in ctx.config.legs_for(&snap.node) {
        for p in leg.paths() {
            state.record_mut(&p).peer_node = leg.node.clone();
        }
    }
    for p in &paths {
        let addresses = match &p.portal.host {
            Host::Name(_) => net::addresses(&p.portal, ctx.deadline.capped(RESOLVE_CAP)),
            Host::Ip(_) => Vec::new(),
        };
        let record = state.record_mut(p);
        if !addresses.is_empty() {
            record.addresses = addresses;
        }
    }
    if let Err(e) = ctx.store.save(&state) {
        return Outcome::with(
            Status::ErrGeneric,
            format!("cannot write state under {}: {e}", ctx.env.rsc_tmp()),
        );
    }

    let mut failures: Vec<(Path, Error)> = Vec::new();
    for path in &paths {
        if let Err(e) = bring_up(ctx, path, &state) {
            tracing::warn!("{path}: {}", e.detailed());
            failures.push((path.clone(), e));
        }
    }

    // The kernel, not iscsiadm's exit code, says whether a session is up.
    let settle = ctx
        .deadline
        .reserving(Duration::from_millis(500))
        .capped(Duration::from_secs(10));
    let state_now = Loaded::Present(Box::new(state));
    let observed = loop {
        let legs = observe::legs(&ctx.config, &snap.node, &ctx.sysfs, &state_now);
        let observed: Vec<PathFacts> = legs.into_iter().flat_map(|l| l.paths).collect();
        let pending = observed
            .iter()
            .any(|o| !o.logged_in() && !failures.iter().any(|(p, _)| *p == o.path));
        if !pending || settle.expired() {
            break observed;
        }
        settle.sleep(Duration::from_millis(50));
    };

    if let Some(secs) = ctx.config.timers.replacement_timeout {
        for o in &observed {
            if let Some(s) = o.session.as_ref().filter(|s| s.recovery_tmo != Some(secs)) {
                if let Err(e) = ctx.sysfs.set_recovery_tmo(s.sid, secs) {
                    tracing::warn!(
                        "could not set recovery_tmo={secs} on session {} ({}): {e}",
                        s.sid,
                        o.path
                    );
                }
            }
        }
    }

    if ctx.config.udev {
        for o in observed.iter().filter(|o| o.logged_in()) {
            let sid = o.session.as_ref().map(|s| s.sid).unwrap_or_default();
            let wait = ctx.deadline.reserving(Duration::from_millis(300));
            match udev::wait_for_links(&ctx.host_root, || ctx.sysfs.session(sid), wait) {
                Ok(links) => tracing::info!(
                    "{}: devices {}",
                    o.path,
                    links
                        .iter()
                        .map(|l| l.display().to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                Err(why) => return Outcome::with(Status::ErrGeneric, format!("{}: {why}", o.path.portal)),
            }
        }
    }

    conclude(ctx, &observed, &failures)
}

/// The path as iscsiadm is given it: a host-name portal becomes the address start
/// resolved, so records, logins and sessions all carry the address the kernel shows.
pub(super) fn for_iscsiadm(path: &Path, state: &InstanceState) -> Path {
    let Some(addr) = state.record(path).and_then(|r| preferred(&r.addresses)) else {
        return path.clone();
    };
    Path {
        target: path.target.clone(),
        portal: Portal {
            host: Host::Ip(addr),
            port: path.portal.port,
        },
    }
}

fn preferred(addresses: &[IpAddr]) -> Option<IpAddr> {
    addresses
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addresses.first())
        .copied()
}

/// Makes sure a node record exists with our settings, then logs in.
fn bring_up(ctx: &Ctx, configured: &Path, state: &InstanceState) -> Result<(), Error> {
    if let (Host::Name(name), None) = (
        &configured.portal.host,
        state.record(configured).and_then(|r| preferred(&r.addresses)),
    ) {
        return Err(Error {
            kind: ErrorKind::Unreachable,
            operation: format!("resolving {name}"),
            detail: format!("no address for {name} within {} s", RESOLVE_CAP.as_secs()),
        });
    }
    let path = &for_iscsiadm(configured, state);
    let adm = ctx.iscsiadm();
    let call = || ctx.deadline.capped(CALL_CAP);
    if !adm.record_exists(path, call())? {
        create_record(ctx, path)?;
    }
    // The cluster owns logins: iscsid must not log in at boot behind Pacemaker's back.
    adm.update(path, "node.startup", "manual", call())?;
    adm.update(path, "node.conn[0].startup", "manual", call())?;
    for timer in ctx.config.timers.in_record() {
        if let Some(v) = timer.value {
            adm.update(path, timer.key, &v.to_string(), call())?;
        }
    }
    match adm.login(path, call())? {
        Login::LoggedIn => tracing::info!("logged in to {configured}"),
        Login::AlreadyLoggedIn => tracing::info!("{configured}: already logged in"),
    }
    Ok(())
}

fn create_record(ctx: &Ctx, path: &Path) -> Result<(), Error> {
    let adm = ctx.iscsiadm();
    let call = ctx.deadline.capped(CALL_CAP);
    if let Some(kind) = ctx.config.discovery.as_iscsiadm() {
        let before = adm.records(call).unwrap_or_default();
        match adm.discover(kind, &path.portal, call) {
            Ok(found) if found.iter().any(|d| d.is(&path.target, &path.portal)) => {
                tracing::info!("discovered {path}");
                remove_strays(ctx, path, &before, &found);
                return Ok(());
            }
            Ok(found) if ctx.config.discovery == Discovery::Isns => {
                // iSNS lists what the server knows; a target it does not list may still
                // answer its portal: a static record lets the login say so.
                tracing::warn!(
                    "the iSNS server at {} lists {} targets, not {}; writing a static record",
                    path.portal,
                    found.len(),
                    path.target
                );
            }
            Ok(found) => {
                return Err(Error {
                    kind: ErrorKind::LoginRefused,
                    operation: format!("discovery at {}", path.portal),
                    detail: format!(
                        "the portal lists {} but not {} at {}",
                        if found.is_empty() {
                            "no targets".to_string()
                        } else {
                            found
                                .iter()
                                .map(|d| d.target.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        },
                        path.target,
                        path.portal
                    ),
                })
            }
            Err(e)
                if e.kind == ErrorKind::Unreachable
                    || !net::reachable(&path.portal, ctx.deadline.capped(net::REACH_TIMEOUT)) =>
            {
                // A peer that is down now must still be able to join later.
                tracing::warn!(
                    "{}; writing a static node record so the leg can join when the peer returns",
                    e.reason()
                );
            }
            Err(e) => return Err(e),
        }
    }
    adm.new_record(path, ctx.deadline.capped(CALL_CAP))
}

/// SendTargets writes a record for every target the portal lists. Records that discovery
/// just created for targets this resource does not manage are removed, so that no other
/// session can appear from them (and `check-timeouts` judges only what is in use). Records
/// that existed before are the admin's and stay.
fn remove_strays(ctx: &Ctx, ours: &Path, before: &[Discovered], found: &[Discovered]) {
    let adm = ctx.iscsiadm();
    for d in found.iter().filter(|d| !d.is(&ours.target, &ours.portal)) {
        if before
            .iter()
            .any(|b| b.target == d.target && b.address == d.address && b.port == d.port)
        {
            continue;
        }
        let Some(stray) = d.path() else { continue };
        match adm.delete_record(&stray, ctx.deadline.capped(CALL_CAP)) {
            Ok(()) => {
                tracing::info!("removed the node record discovery created for {stray} (not managed here)")
            }
            Err(e) => tracing::warn!("{}", e.detailed()),
        }
    }
}

/// What a failed login makes of start: `None` to start anyway and let monitor report the
/// leg (a peer that is simply not there), else the status start fails with.
/// `portal_answers` (asked only when it decides) is true when the portal answers a TCP
/// connection, or when there is no time left to look.
pub fn login_failure_status(kind: &ErrorKind, portal_answers: impl FnOnce() -> bool) -> Option<Status> {
    match kind {
        ErrorKind::NotInstalled | ErrorKind::DriverMissing | ErrorKind::IscsidDown => {
            Some(Status::ErrInstalled)
        }
        ErrorKind::Permission => Some(Status::ErrPerm),
        ErrorKind::Unreachable => None,
        // A busy target refusing logins for now: start, and let the monitor come back with
        // its back-off. Failing here would have Pacemaker keep the instance off this node
        // (start-failure-is-fatal) in exactly the storm the back-off is for.
        ErrorKind::LoginFailed => None,
        ErrorKind::TimedOut => Some(Status::ErrGeneric),
        // A refusal from a portal that turns out not to answer at all is the network's
        // doing: start, and let monitor report the leg.
        _ if !portal_answers() => None,
        _ => Some(Status::ErrGeneric),
    }
}

/// Which failures are worth failing start for: those a retry elsewhere or later might fix,
/// versus a peer that is simply not there (monitor reports that leg as degraded).
fn conclude(ctx: &Ctx, observed: &[PathFacts], failures: &[(Path, Error)]) -> Outcome {
    let down: Vec<_> = observed.iter().filter(|o| !o.logged_in()).collect();
    for o in &down {
        let Some((_, e)) = failures.iter().find(|(p, _)| *p == o.path) else {
            return Outcome::with(
                Status::ErrGeneric,
                format!(
                    "login to {} reported success but the kernel shows {}",
                    o.path.portal,
                    o.kernel_state()
                ),
            );
        };
        let answers = || {
            ctx.deadline.expired() || net::reachable(&o.path.portal, ctx.deadline.capped(net::REACH_TIMEOUT))
        };
        if let Some(status) = login_failure_status(&e.kind, answers) {
            return Outcome::with(status, e.reason());
        }
    }
    if down.is_empty() {
        return Outcome::ok();
    }
    let what: Vec<String> = down.iter().map(|o| o.path.portal.to_string()).collect();
    Outcome {
        detail: None,
        status: Status::Success,
        reason: Some(format!(
            "started with {} of {} paths; not logged in yet: {} (monitor reports degraded and retries)",
            observed.len() - down.len(),
            observed.len(),
            what.join(", ")
        )),
    }
}
