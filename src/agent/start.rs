//! start: node records, then a login per path, then the kernel's word that it worked.

use std::time::Duration;

use crate::agent::{observe, Ctx};
use crate::config::Discovery;
use crate::decide::monitor::PathState;
use crate::iscsi::iscsiadm::{Discovered, Error, ErrorKind, Login};
use crate::iscsi::udev;
use crate::net;
use crate::ocf::{Outcome, Status};
use crate::target::Path;

/// Longest single iscsiadm call; the kernel's own login_timeout bounds a login anyway.
const CALL_CAP: Duration = Duration::from_secs(60);

pub fn start(ctx: &Ctx) -> Outcome {
    if let Some(o) = crate::agent::validate::installed(ctx) {
        return o;
    }
    if let Some(o) = crate::agent::validate::timeout_policy(ctx) {
        return o;
    }
    let _lock = match ctx.store.lock(ctx.deadline) {
        Ok(l) => l,
        Err(e) => return Outcome::with(Status::ErrGeneric, e),
    };
    let previous = ctx.store.load();
    let node = ctx.node_name(previous.as_ref());
    let paths = ctx.config.paths_for(&node);
    if paths.is_empty() {
        return Outcome::with(
            Status::ErrConfigured,
            format!("peers lists only this node ({node}): there is no peer target to log in to"),
        );
    }
    let mut state = previous.unwrap_or_default();
    state.started = true;
    // Publish afresh after a start: the attribute may have been cleared meanwhile.
    state.health = None;
    state.node = node.clone();
    for p in &paths {
        let key = format!("{} {}", p.target, p.portal);
        if !state.paths.contains(&key) {
            state.paths.push(key);
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
        if let Err(e) = bring_up(ctx, path) {
            tracing::warn!("{path}: {}", e.detailed());
            failures.push((path.clone(), e));
        }
    }

    // The kernel, not iscsiadm's exit code, says whether a session is up.
    let settle = ctx
        .deadline
        .reserving(Duration::from_millis(500))
        .capped(Duration::from_secs(10));
    let observed = loop {
        let observed = observe(&paths, &ctx.sysfs.sessions());
        let pending = observed
            .iter()
            .any(|o| o.state() != PathState::LoggedIn && !failures.iter().any(|(p, _)| *p == o.path));
        if !pending || settle.expired() {
            break observed;
        }
        settle.sleep(Duration::from_millis(100));
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
        for o in observed.iter().filter(|o| o.state() == PathState::LoggedIn) {
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

    conclude(&observed, &failures)
}

/// Makes sure a node record exists with our settings, then logs in.
fn bring_up(ctx: &Ctx, path: &Path) -> Result<(), Error> {
    let adm = ctx.iscsiadm();
    let call = || ctx.deadline.capped(CALL_CAP);
    if !adm.record_exists(path, call())? {
        create_record(ctx, path)?;
    }
    // The cluster owns logins: iscsid must not log in at boot behind Pacemaker's back.
    adm.update(path, "node.startup", "manual", call())?;
    adm.update(path, "node.conn[0].startup", "manual", call())?;
    let timers = &ctx.config.timers;
    for (key, value) in [
        ("node.conn[0].timeo.noop_out_interval", timers.noop_out_interval),
        ("node.conn[0].timeo.noop_out_timeout", timers.noop_out_timeout),
        (
            "node.session.timeo.replacement_timeout",
            timers.replacement_timeout,
        ),
        ("node.conn[0].timeo.login_timeout", timers.login_timeout),
    ] {
        if let Some(v) = value {
            adm.update(path, key, &v.to_string(), call())?;
        }
    }
    match adm.login(path, call())? {
        Login::LoggedIn => tracing::info!("logged in to {path}"),
        Login::AlreadyLoggedIn => tracing::info!("{path}: already logged in"),
    }
    Ok(())
}

fn create_record(ctx: &Ctx, path: &Path) -> Result<(), Error> {
    let adm = ctx.iscsiadm();
    let call = ctx.deadline.capped(CALL_CAP);
    if ctx.config.discovery == Discovery::SendTargets {
        let before = adm.records(call).unwrap_or_default();
        match adm.discover(&path.portal, call) {
            Ok(found) if found.iter().any(|d| d.is(&path.target, &path.portal)) => {
                tracing::info!("discovered {path}");
                remove_strays(ctx, path, &before, &found);
                return Ok(());
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
                if e.kind == ErrorKind::Unreachable || !net::reachable(&path.portal, net::REACH_TIMEOUT) =>
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

/// Which failures are worth failing start for: those a retry elsewhere or later might fix,
/// versus a peer that is simply not there (monitor reports that leg as degraded).
fn conclude(observed: &[crate::agent::PathObservation], failures: &[(Path, Error)]) -> Outcome {
    let down: Vec<_> = observed
        .iter()
        .filter(|o| o.state() != PathState::LoggedIn)
        .collect();
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
        let status = match e.kind {
            ErrorKind::NotInstalled | ErrorKind::DriverMissing | ErrorKind::IscsidDown => {
                Status::ErrInstalled
            }
            ErrorKind::Permission => Status::ErrPerm,
            ErrorKind::Unreachable => continue,
            _ if !net::reachable(&o.path.portal, net::REACH_TIMEOUT) => continue,
            _ => Status::ErrGeneric,
        };
        return Outcome::with(status, e.reason());
    }
    if down.is_empty() {
        return Outcome::ok();
    }
    let what: Vec<String> = down.iter().map(|o| o.path.portal.to_string()).collect();
    Outcome {
        status: Status::Success,
        reason: Some(format!(
            "started with {} of {} paths; not answering: {} (monitor reports degraded)",
            observed.len() - down.len(),
            observed.len(),
            what.join(", ")
        )),
    }
}
