//! start: node records, then a login per path, then the kernel's word that it worked.

use std::time::Duration;

use crate::act;
use crate::agent::Ctx;
use crate::config::Discovery;
use crate::iscsi::iscsiadm::{Discovered, Error, ErrorKind, Login};
use crate::iscsi::udev;
use crate::net::{self, NameError};
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
    // Every path is recorded: stop finds them even when the parameters no longer parse.
    for p in &paths {
        state.record_mut(p);
    }
    // Host names are resolved once, all at once, within RESOLVE_CAP; what they resolve to
    // is recorded, so that nothing after start asks DNS. A name that does not resolve now
    // keeps what an earlier start recorded, if anything.
    let named: Vec<&Path> = paths
        .iter()
        .filter(|p| matches!(p.portal.host, Host::Name(_)))
        .collect();
    let portals: Vec<&Portal> = named.iter().map(|p| &p.portal).collect();
    let mut unresolved: Vec<(Path, NameError)> = Vec::new();
    for (p, found) in named
        .iter()
        .zip(net::resolve_all(&portals, ctx.deadline.capped(RESOLVE_CAP)))
    {
        match found {
            Ok(addresses) => state.record_mut(p).addresses = addresses,
            Err(e) => {
                tracing::warn!("{}: {e}", p.portal);
                unresolved.push(((*p).clone(), e));
            }
        }
    }
    // With iSNS a configured portal is the iSNS server: ask it, once, for each target's
    // portal and record that (the discovery writes its node record).
    let mut undiscovered: Vec<(Path, Error)> = Vec::new();
    if ctx.config.discovery == Discovery::Isns {
        for p in &paths {
            // Asked afresh at every start: the server may know better now.
            state.record_mut(p).target_portal = None;
            let server = state.for_iscsiadm(p);
            if let Host::Name(_) = server.portal.host {
                continue; // no address for the server's name: bring_up says so
            }
            match ask_isns(ctx, &server) {
                Ok(portal) => state.record_mut(p).target_portal = Some(portal.to_string()),
                Err(e) => {
                    tracing::warn!("{p}: {}", e.detailed());
                    undiscovered.push((p.clone(), e));
                }
            }
        }
    }
    if let Err(e) = ctx.store.save(&state) {
        return Outcome::with(
            Status::ErrGeneric,
            format!("cannot write state under {}: {e}", ctx.env.rsc_tmp()),
        );
    }

    act::publish_hostid(ctx, &snap.node);

    // Which portals answer at all, all asked at once within the short reachability
    // timeout: one that does not gets its node record (so the leg can join when the peer
    // returns) but no discovery and no login to wait on, however many there are.
    // (A name without an address fails below without a probe: it was just asked.)
    let targets: Vec<Path> = paths.iter().map(|p| state.for_iscsiadm(p)).collect();
    let probed: Vec<&Portal> = targets
        .iter()
        .map(|p| &p.portal)
        .filter(|p| matches!(p.host, Host::Ip(_)))
        .collect();
    let mut probes = net::reachable_all(&probed, ctx.deadline.capped(net::REACH_TIMEOUT)).into_iter();
    let answering: Vec<bool> = targets
        .iter()
        .map(|p| matches!(p.portal.host, Host::Ip(_)) && probes.next().unwrap_or(false))
        .collect();
    let mut failures: Vec<(Path, Error)> = Vec::new();
    let mut local_checked = false;
    for (path, answers) in paths.iter().zip(answering) {
        if let Some((_, e)) = undiscovered.iter().find(|(p, _)| p == path) {
            failures.push((path.clone(), e.clone()));
            continue;
        }
        // One login to a portal that does not answer still runs, briefly: this node's own
        // problems (iscsid down, no driver) must show at start, not when the peer returns.
        let reach = match (answers, local_checked) {
            (true, _) => Reach::Answers,
            (false, false) => Reach::SilentCheckLocal,
            (false, true) => Reach::Silent,
        };
        local_checked |= reach == Reach::SilentCheckLocal;
        if let Err(e) = bring_up(ctx, path, &state, &unresolved, reach) {
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

    conclude(ctx, &observed, &failures, state_now.state())
}

/// How long a login to a portal that did not answer may take: long enough for iscsiadm
/// to say iscsid or the driver is missing, short of a real login's timeouts.
const LOCAL_CHECK_CAP: Duration = Duration::from_secs(3);

/// What the start-time probe found of a portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    Answers,
    /// No answer: a brief login anyway, for this node's own errors.
    SilentCheckLocal,
    /// No answer: no login.
    Silent,
}

/// Makes sure a node record exists with our settings, then logs in.
fn bring_up(
    ctx: &Ctx,
    configured: &Path,
    state: &InstanceState,
    unresolved: &[(Path, NameError)],
    reach: Reach,
) -> Result<(), Error> {
    let path = &state.for_iscsiadm(configured);
    if let Host::Name(name) = &path.portal.host {
        // No address, now or from an earlier start: a name the resolver does not know is
        // a failure to fix; one it could not answer for is a peer not reachable yet.
        let why = unresolved
            .iter()
            .find(|(p, _)| p == configured)
            .map_or(NameError::TimedOut, |(_, e)| e.clone());
        return Err(Error {
            kind: match why {
                NameError::Unknown(_) => ErrorKind::UnknownHost,
                _ => ErrorKind::Unreachable,
            },
            operation: format!("resolving {name}"),
            detail: match why {
                NameError::TimedOut => format!("no answer within {} s", RESOLVE_CAP.as_secs()),
                other => other.to_string(),
            },
        });
    }
    let adm = ctx.iscsiadm();
    let call = || ctx.deadline.capped(CALL_CAP);
    if !adm.record_exists(path, call())? {
        if reach == Reach::Answers {
            create_record(ctx, path)?;
        } else {
            adm.new_record(path, call())?;
        }
    }
    // The cluster owns logins: iscsid must not log in at boot behind Pacemaker's back.
    adm.update(path, "node.startup", "manual", call())?;
    adm.update(path, "node.conn[0].startup", "manual", call())?;
    for timer in ctx.config.timers.in_record() {
        if let Some(v) = timer.value {
            adm.update(path, timer.key, &v.to_string(), call())?;
        }
    }
    let silent = || Error {
        kind: ErrorKind::Unreachable,
        operation: format!("login to {}", path.portal),
        detail: format!(
            "no TCP connection within {} s: record written, no login waited for",
            net::REACH_TIMEOUT.as_secs()
        ),
    };
    let login = match reach {
        Reach::Answers => adm.login(path, call())?,
        Reach::Silent => return Err(silent()),
        Reach::SilentCheckLocal => match adm.login(path, ctx.deadline.capped(LOCAL_CHECK_CAP)) {
            Ok(l) => l,
            Err(e)
                if matches!(
                    e.kind,
                    ErrorKind::IscsidDown
                        | ErrorKind::DriverMissing
                        | ErrorKind::NotInstalled
                        | ErrorKind::Permission
                ) =>
            {
                return Err(e)
            }
            Err(_) => return Err(silent()),
        },
    };
    match login {
        Login::LoggedIn => tracing::info!("logged in to {configured}"),
        Login::AlreadyLoggedIn => tracing::info!("{configured}: already logged in"),
    }
    Ok(())
}

/// Asks the iSNS server at `server` for the target's portal: the one it lists (the first,
/// if it lists several). The discovery writes node records; those it wrote for targets
/// not managed here are removed.
fn ask_isns(ctx: &Ctx, server: &Path) -> Result<Portal, Error> {
    let adm = ctx.iscsiadm();
    let call = ctx.deadline.capped(CALL_CAP);
    let not_given = |detail: String| Error {
        kind: ErrorKind::NotDiscovered,
        operation: format!("iSNS discovery at {}", server.portal),
        detail,
    };
    let before = adm.records(call).unwrap_or_default();
    let found = adm
        .discover("isns", &server.portal, call)
        .map_err(|e| not_given(e.detailed()))?;
    let mine: Vec<Path> = found
        .iter()
        .filter(|d| d.target == server.target.as_str())
        .filter_map(|d| d.path())
        .collect();
    let Some(first) = mine.first() else {
        return Err(not_given(format!(
            "the server lists {} targets, not {}",
            found.len(),
            server.target
        )));
    };
    if mine.len() > 1 {
        tracing::warn!(
            "the iSNS server at {} lists {} portals for {}: using {}",
            server.portal,
            mine.len(),
            server.target,
            first.portal
        );
    }
    remove_strays(ctx, first, &before, &found);
    tracing::info!(
        "iSNS at {}: {} is at {}",
        server.portal,
        server.target,
        first.portal
    );
    Ok(first.portal.clone())
}

fn create_record(ctx: &Ctx, path: &Path) -> Result<(), Error> {
    let adm = ctx.iscsiadm();
    let call = ctx.deadline.capped(CALL_CAP);
    // iSNS was asked before (ask_isns); its record went missing since: a static one.
    let discovery = match ctx.config.discovery {
        Discovery::Isns => None,
        d => d.as_iscsiadm(),
    };
    if let Some(kind) = discovery {
        let before = adm.records(call).unwrap_or_default();
        match adm.discover(kind, &path.portal, call) {
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
        // A name the resolver does not know, a target the iSNS server does not list: the
        // configuration, which a retry here will not mend.
        ErrorKind::UnknownHost | ErrorKind::NotDiscovered => Some(Status::ErrGeneric),
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
fn conclude(
    ctx: &Ctx,
    observed: &[PathFacts],
    failures: &[(Path, Error)],
    state: Option<&InstanceState>,
) -> Outcome {
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
        let portal = state
            .map_or_else(|| o.path.clone(), |s| s.for_iscsiadm(&o.path))
            .portal;
        let answers =
            || ctx.deadline.expired() || net::reachable(&portal, ctx.deadline.capped(net::REACH_TIMEOUT));
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
