//! The status report: one snapshot and its assessment, rendered for people (text) and
//! tools (JSON: bounded codes where tools branch, prose in separate fields).

use serde::Serialize;

use crate::cluster::cib::Cib;
use crate::cluster::{attrd, PeerState};
use crate::decide::assess::Assessment;
use crate::decide::pool::Plan;
use crate::decide::verdict::{Kind, Reason, Verdict};
use crate::observe::Snapshot;
use crate::zfs::{Reading, Scan};

#[derive(Debug, Clone, Serialize)]
pub struct PathOut {
    pub target: String,
    pub portal: String,
    pub kernel_state: String,
    pub session: Option<u32>,
    pub reachable: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LegOut {
    pub peer: String,
    pub peer_state: PeerState,
    pub paths: Vec<PathOut>,
    pub verdict: Kind,
    pub reasons: Vec<Reason>,
    /// The reasons as a sentence.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VdevOut {
    pub name: String,
    pub state: String,
    /// The peer node whose disk it is, for a remote vdev.
    pub peer: Option<String>,
    pub note: String,
}

/// A node's half marked outdated (permanent node attribute in the CIB).
#[derive(Debug, Clone, Serialize)]
pub struct OutdatedOut {
    pub node: String,
    pub since_unix: Option<u64>,
    pub by: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PoolOut {
    pub name: String,
    pub imported_here: bool,
    pub state: Option<String>,
    pub scan: Option<Scan>,
    pub vdevs: Vec<VdevOut>,
    pub verdict: Kind,
    pub reasons: Vec<Reason>,
    pub reason: Option<String>,
    /// From the CIB, when it was read: which halves are marked outdated.
    pub outdated: Vec<OutdatedOut>,
    /// Why the pool resource cannot start on this node, when it cannot.
    pub cannot_start_here: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub resource: String,
    pub node: String,
    pub started_here: bool,
    pub cluster_known: Option<bool>,
    pub cluster_reason: Option<String>,
    pub legs: Vec<LegOut>,
    pub verdict: Kind,
    pub reasons: Vec<Reason>,
    pub reason: Option<String>,
    pub pool: Option<PoolOut>,
    /// What the monitor would return for this verdict (OCF 1.1).
    pub ocf_exit_code: i32,
}

/// The outdated marks the CIB holds (permanent node attributes).
pub fn outdated_marks(cib: &Cib) -> Vec<OutdatedOut> {
    cib.nodes
        .iter()
        .filter(|n| n.permanent.get(attrd::OUTDATED).is_some_and(|v| v == "1"))
        .map(|n| OutdatedOut {
            node: n.node.clone(),
            since_unix: n
                .permanent
                .get(attrd::OUTDATED_SINCE)
                .and_then(|v| v.parse().ok()),
            by: n.permanent.get(attrd::OUTDATED_BY).cloned(),
        })
        .collect()
}

fn pool_out(snap: &Snapshot, plan: Option<&Plan>, cib: Option<&Cib>) -> Option<PoolOut> {
    let facts = snap.pool.as_ref()?;
    let outdated = cib.map(outdated_marks).unwrap_or_default();
    let cannot_start_here = outdated
        .iter()
        .find(|o| o.node.eq_ignore_ascii_case(&snap.node))
        .map(|o| {
            format!(
                "this node's half of {} missed writes{}{}: the pool resource will not start here until the other half resilvers it; \
if that half is lost for good: iscsi-mirror outdated --clear --node {} --accept-data-loss",
                facts.name,
                o.by.as_ref().map(|b| format!(" made on {b}")).unwrap_or_default(),
                o.since_unix.map(|t| format!(" since {t} (unix time)")).unwrap_or_default(),
                o.node
            )
        });
    let (state, scan, vdevs) = match &facts.reading {
        Reading::Status(s) => (
            Some(s.state.clone()),
            Some(s.scan.clone()),
            s.vdevs
                .iter()
                .enumerate()
                .filter(|(_, v)| v.leaf)
                .map(|(i, v)| VdevOut {
                    name: v.name.clone(),
                    state: v.state.clone(),
                    peer: facts
                        .remote
                        .iter()
                        .find(|r| r.vdev == i)
                        .and_then(|r| snap.legs.get(r.leg).and_then(|l| l.leg.node.clone())),
                    note: v.note.clone(),
                })
                .collect(),
        ),
        _ => (None, None, Vec::new()),
    };
    let verdict = plan.map(|p| p.verdict.clone()).unwrap_or_else(Verdict::healthy);
    Some(PoolOut {
        name: facts.name.clone(),
        imported_here: !matches!(facts.reading, Reading::NotImported),
        state,
        scan,
        vdevs,
        verdict: verdict.kind,
        reason: verdict.describe(),
        reasons: verdict.reasons,
        outdated,
        cannot_start_here,
    })
}

pub fn build(
    resource: &str,
    snap: &Snapshot,
    a: &Assessment,
    plan: Option<&Plan>,
    cib: Option<&Cib>,
) -> StatusReport {
    let legs = snap
        .legs
        .iter()
        .zip(&a.legs)
        .map(|(facts, leg)| LegOut {
            peer: leg.peer.clone(),
            peer_state: leg.peer_state,
            paths: facts
                .paths
                .iter()
                .map(|p| PathOut {
                    target: p.path.target.to_string(),
                    portal: p.path.portal.to_string(),
                    kernel_state: p.kernel_state().to_string(),
                    session: p.session.as_ref().map(|s| s.sid),
                    reachable: p.reachable,
                })
                .collect(),
            verdict: leg.verdict.kind,
            reasons: leg.verdict.reasons.clone(),
            reason: leg.verdict.describe(),
        })
        .collect();
    let overall = crate::decide::pool::with_pool(&a.verdict, plan.map(|p| &p.verdict));
    StatusReport {
        pool: pool_out(snap, plan, cib),
        resource: resource.to_string(),
        node: snap.node.clone(),
        started_here: snap.state.started(),
        cluster_known: snap.cluster.as_ref().map(|c| c.known),
        cluster_reason: snap.cluster.as_ref().and_then(|c| c.reason.clone()),
        legs,
        verdict: overall.kind,
        reasons: overall.reasons.clone(),
        reason: overall.describe(),
        ocf_exit_code: ocf_code(&overall),
    }
}

/// The exit code the monitor gives this verdict, for scripts that compare.
pub fn ocf_code(v: &Verdict) -> i32 {
    match v.kind {
        Kind::Healthy => 0,
        Kind::NotRunning => 7,
        Kind::Degraded => 190,
        Kind::Failed => 1,
    }
}

pub fn text(r: &StatusReport) -> String {
    let mut out = format!(
        "resource {} on {}: {}\n",
        r.resource,
        r.node,
        r.verdict.as_str().replace('_', " ")
    );
    if r.cluster_known == Some(false) {
        out.push_str(&format!(
            "  cluster state unknown: {}\n",
            r.cluster_reason.as_deref().unwrap_or("")
        ));
    }
    for l in &r.legs {
        out.push_str(&format!(
            "  peer {} ({}): {}\n",
            l.peer,
            l.peer_state.describe(),
            l.verdict.as_str().replace('_', " ")
        ));
        for p in &l.paths {
            let reach = match p.reachable {
                Some(true) => ", portal answers",
                Some(false) => ", portal does not answer",
                None => "",
            };
            out.push_str(&format!(
                "    {} via {}: {}{reach}\n",
                p.target, p.portal, p.kernel_state
            ));
        }
        if let Some(why) = &l.reason {
            out.push_str(&format!("    why: {why}\n"));
        }
    }
    if r.legs.is_empty() {
        if let Some(why) = &r.reason {
            out.push_str(&format!("  why: {why}\n"));
        }
    }
    if let Some(p) = &r.pool {
        if !p.imported_here {
            out.push_str(&format!("  pool {}: not imported on this node\n", p.name));
        } else {
            out.push_str(&format!(
                "  pool {}: {}{}\n",
                p.name,
                p.state.as_deref().unwrap_or("state unknown"),
                match &p.scan {
                    Some(Scan::Resilvering { percent, eta_s }) => format!(
                        ", resilvering{}{}",
                        percent.map(|v| format!(" {v:.0}% done")).unwrap_or_default(),
                        eta_s
                            .map(|s| format!(", about {} min left", s.div_ceil(60)))
                            .unwrap_or_default()
                    ),
                    _ => String::new(),
                }
            ));
            for v in &p.vdevs {
                let whose = v
                    .peer
                    .as_ref()
                    .map(|n| format!(" ({n}'s disk)"))
                    .unwrap_or_default();
                let note = if v.note.is_empty() {
                    String::new()
                } else {
                    format!("  {}", v.note)
                };
                out.push_str(&format!("    {} {}{whose}{note}\n", v.name, v.state));
            }
            if let Some(why) = &p.reason {
                out.push_str(&format!("    why: {why}\n"));
            }
        }
        for o in &p.outdated {
            out.push_str(&format!(
                "  {}'s half is marked outdated{}\n",
                o.node,
                o.by.as_ref().map(|b| format!(" (by {b})")).unwrap_or_default()
            ));
        }
        if let Some(why) = &p.cannot_start_here {
            out.push_str(&format!("  the pool cannot start here: {why}\n"));
        }
    }
    out
}
