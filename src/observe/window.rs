//! Gathers the figures of the timeout window (Corosync's timing, each path's iSCSI
//! timers) and judges them with `decide::timeouts`. Used by `check-timeouts`, by
//! validate-all and start (timeout_policy) and by the deep monitor.

use std::path::{Path as FsPath, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::cluster::corosync::{self, Sources};
use crate::deadline::Deadline;
use crate::decide::mmp::{self, ZfsFigures};
use crate::decide::timeouts::{self, Finding, Severity, Timers, Window};
use crate::decide::timer_sources::{self as timers, Inputs, Overrides};
use crate::iscsi::iscsiadm::Iscsiadm;
use crate::iscsi::sysfs::{Session, Sysfs};
use crate::target::{Iqn, Path, Portal};

#[derive(Debug, Clone, Serialize)]
pub struct PathReport {
    pub label: String,
    /// The node record's target and portal as iscsiadm takes them (`-T`, `-p`); none for
    /// what new sessions would get.
    pub record: Option<(String, String)>,
    pub timers: Timers,
    pub findings: Vec<Finding>,
}

/// The pool's side of the window (decide::mmp), for a pool imported on this host.
#[derive(Debug, Clone, Serialize)]
pub struct PoolReport {
    pub figures: ZfsFigures,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub window: Window,
    pub paths: Vec<PathReport>,
    pub zfs: Vec<PoolReport>,
    pub verdict: Severity,
}

impl Report {
    fn new(window: Window, paths: Vec<PathReport>) -> Report {
        let mut r = Report {
            window,
            paths,
            zfs: Vec::new(),
            verdict: Severity::Ok,
        };
        r.verdict = r.all_findings().map(|f| f.severity).max().unwrap_or(Severity::Ok);
        r
    }

    /// Judges each pool's MMP against the longest I/O stall of the paths, and counts its
    /// findings in the verdict.
    pub fn with_pools(mut self, pools: Vec<ZfsFigures>) -> Report {
        let stall = self.stall_ms();
        self.zfs = pools
            .into_iter()
            .map(|figures| PoolReport {
                findings: mmp::judge(&figures, stall),
                figures,
            })
            .collect();
        self.verdict = self
            .all_findings()
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Ok);
        self
    }

    /// The longest I/O stall (detection + replacement, ms) of the paths whose timers are
    /// usable: what the pool's writes wait out before a leg is given up.
    pub fn stall_ms(&self) -> Option<i64> {
        self.paths
            .iter()
            .filter_map(|p| {
                let t = &p.timers;
                let (i, o, r) = (
                    t.noop_out_interval.value?,
                    t.noop_out_timeout.value?,
                    t.replacement_timeout.value?,
                );
                i.checked_add(o)?.checked_add(r.max(0))?.checked_mul(1000)
            })
            .max()
    }

    fn all_findings(&self) -> impl Iterator<Item = &Finding> {
        self.paths
            .iter()
            .flat_map(|p| &p.findings)
            .chain(self.zfs.iter().flat_map(|z| &z.findings))
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.all_findings().filter(|f| f.severity == severity).count()
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

fn judge(label: String, record: Option<(String, String)>, window: &Window, timers: Timers) -> PathReport {
    let findings = timeouts::judge(window, &timers);
    PathReport {
        label,
        record,
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
        let record = s
            .connections
            .first()
            .map(|c| (s.target.clone(), join(&c.persistent_address, c.persistent_port)));
        paths.push(judge(
            session_label(s),
            record,
            &window,
            timers::figures(&inputs, t),
        ));
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
            Some((path.target.to_string(), path.portal.to_string())),
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
            None,
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
            let record = Some((path.target.to_string(), path.portal.to_string()));
            judge(path.to_string(), record, &window, timers::figures(&inputs, t))
        })
        .collect();
    Report::new(window, reports)
}
