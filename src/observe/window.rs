//! Gathers the figures of the timeout window (Corosync's timing, each path's iSCSI
//! timers) and judges them with `decide::timeouts`. Used by `check-timeouts`, by
//! validate-all and start (timeout_policy) and by the deep monitor.

use std::path::{Path as FsPath, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::cluster::corosync::{self, Sources};
use crate::deadline::Deadline;
use crate::decide::timeouts::{self, Finding, Severity, Timers, Window};
use crate::decide::timer_sources::{self as timers, Inputs, Overrides};
use crate::iscsi::iscsiadm::Iscsiadm;
use crate::iscsi::sysfs::{Session, Sysfs};
use crate::target::{Iqn, Path, Portal};

#[derive(Debug, Clone, Serialize)]
pub struct PathReport {
    pub label: String,
    pub timers: Timers,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub window: Window,
    pub paths: Vec<PathReport>,
    pub verdict: Severity,
}

impl Report {
    fn new(window: Window, paths: Vec<PathReport>) -> Report {
        let verdict = paths
            .iter()
            .map(|p| timeouts::worst(&p.findings))
            .max()
            .unwrap_or(Severity::Ok);
        Report {
            window,
            paths,
            verdict,
        }
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.paths
            .iter()
            .flat_map(|p| &p.findings)
            .filter(|f| f.severity == severity)
            .count()
    }

    /// The first error or warning, for a one-line reason.
    pub fn first(&self, severity: Severity) -> Option<(&str, &Finding)> {
        self.paths.iter().find_map(|p| {
            p.findings
                .iter()
                .find(|f| f.severity == severity)
                .map(|f| (p.label.as_str(), f))
        })
    }
}

/// Where the figures come from on this host.
pub struct Host<'a> {
    pub iscsiadm: &'a str,
    pub host_root: &'a FsPath,
    pub cmapctl: &'a str,
    pub corosync_conf: PathBuf,
    pub iscsid_conf: PathBuf,
}

impl<'a> Host<'a> {
    pub fn new(iscsiadm: &'a str, host_root: &'a FsPath, cmapctl: &'a str) -> Host<'a> {
        Host {
            iscsiadm,
            host_root,
            cmapctl,
            corosync_conf: host_root.join("etc/corosync/corosync.conf"),
            iscsid_conf: host_root.join("etc/iscsi/iscsid.conf"),
        }
    }

    fn iscsid_conf(&self) -> Option<(std::collections::BTreeMap<String, String>, String)> {
        let text = std::fs::read_to_string(&self.iscsid_conf).ok()?;
        Some((
            timers::parse_settings(&text),
            self.iscsid_conf.display().to_string(),
        ))
    }
}

pub struct WindowOverrides<'a> {
    pub token: Option<(i64, &'a str)>,
    pub consensus: Option<(i64, &'a str)>,
}

fn window(host: &Host, over: &WindowOverrides, deadline: Deadline) -> Window {
    corosync::window(
        &Sources {
            token_override: over.token,
            consensus_override: over.consensus,
            cmapctl: host.cmapctl,
            conf: &host.corosync_conf,
        },
        deadline,
    )
}

fn judge(label: String, window: &Window, timers: Timers) -> PathReport {
    let findings = timeouts::judge(window, &timers);
    PathReport {
        label,
        timers,
        findings,
    }
}

fn session_label(s: &Session) -> String {
    match s.connections.first() {
        Some(c) => format!(
            "session {} ({} via {})",
            s.sid,
            s.target,
            join(&c.persistent_address, c.persistent_port)
        ),
        None => format!("session {} ({})", s.sid, s.target),
    }
}

/// This host as it is: every live session, every node record without one; with neither,
/// what a new session would get from iscsid.conf and the defaults.
pub fn inspect_host(host: &Host, w: &WindowOverrides, t: &Overrides, deadline: Deadline) -> Report {
    let window = window(host, w, deadline);
    let conf = host.iscsid_conf();
    let conf_ref = conf.as_ref().map(|(c, p)| (c, p.clone()));
    let sessions = Sysfs::new(host.host_root).sessions();
    let adm = Iscsiadm::new(host.iscsiadm);
    let mut paths = Vec::new();
    for s in &sessions {
        let inputs = Inputs {
            session: Some(s),
            record: None,
            iscsid_conf: conf_ref.clone(),
        };
        paths.push(judge(session_label(s), &window, timers::figures(&inputs, t)));
    }
    let records = if adm.installed() {
        adm.records(deadline.capped(Duration::from_secs(10)))
            .unwrap_or_else(|e| {
                tracing::warn!("{}", e.detailed());
                Vec::new()
            })
    } else {
        Vec::new()
    };
    for r in records {
        let has_session = sessions.iter().any(|s| {
            s.target == r.target
                && s.connections
                    .first()
                    .is_some_and(|c| c.persistent_port == r.port && c.persistent_address == r.address)
        });
        let (Ok(target), Ok(portal)) = (Iqn::parse(&r.target), Portal::parse(&join(&r.address, r.port)))
        else {
            continue;
        };
        if has_session {
            continue;
        }
        let path = Path { target, portal };
        let record = adm.record(&path, deadline.capped(Duration::from_secs(10))).ok();
        let inputs = Inputs {
            session: None,
            record: record.as_ref(),
            iscsid_conf: conf_ref.clone(),
        };
        paths.push(judge(
            format!("node record {path} (no session)"),
            &window,
            timers::figures(&inputs, t),
        ));
    }
    if paths.is_empty() {
        let inputs = Inputs {
            session: None,
            record: None,
            iscsid_conf: conf_ref,
        };
        paths.push(judge(
            "new sessions (no session or node record yet)".into(),
            &window,
            timers::figures(&inputs, t),
        ));
    }
    Report::new(window, paths)
}

fn join(addr: &str, port: u16) -> String {
    if addr.contains(':') {
        format!("[{addr}]:{port}")
    } else {
        format!("{addr}:{port}")
    }
}

/// What the agent will give its paths: its parameters, else each path's live session,
/// node record, iscsid.conf, defaults.
pub fn for_paths(
    host: &Host,
    paths: &[Path],
    w: &WindowOverrides,
    t: &Overrides,
    deadline: Deadline,
) -> Report {
    let window = window(host, w, deadline);
    let conf = host.iscsid_conf();
    let conf_ref = conf.as_ref().map(|(c, p)| (c, p.clone()));
    let sessions = Sysfs::new(host.host_root).sessions();
    let adm = Iscsiadm::new(host.iscsiadm);
    let reports = paths
        .iter()
        .map(|path| {
            let session = sessions.iter().find(|s| s.leads_to(path));
            let record = if session.is_none() && adm.installed() {
                adm.record(path, deadline.capped(Duration::from_secs(10))).ok()
            } else {
                None
            };
            let inputs = Inputs {
                session,
                record: record.as_ref(),
                iscsid_conf: conf_ref.clone(),
            };
            judge(path.to_string(), &window, timers::figures(&inputs, t))
        })
        .collect();
    Report::new(window, reports)
}
