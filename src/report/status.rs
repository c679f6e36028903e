//! The status report: one snapshot and its assessment, rendered for people (text) and
//! tools (JSON: bounded codes where tools branch, prose in separate fields).

use serde::Serialize;

use crate::cluster::PeerState;
use crate::decide::assess::Assessment;
use crate::decide::verdict::{Kind, Reason, Verdict};
use crate::observe::Snapshot;

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
    /// What the monitor would return for this verdict (OCF 1.1).
    pub ocf_exit_code: i32,
}

pub fn build(resource: &str, snap: &Snapshot, a: &Assessment) -> StatusReport {
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
    StatusReport {
        resource: resource.to_string(),
        node: snap.node.clone(),
        started_here: snap.state.started(),
        cluster_known: snap.cluster.as_ref().map(|c| c.known),
        cluster_reason: snap.cluster.as_ref().and_then(|c| c.reason.clone()),
        legs,
        verdict: a.verdict.kind,
        reasons: a.verdict.reasons.clone(),
        reason: a.verdict.describe(),
        ocf_exit_code: ocf_code(&a.verdict),
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
    out
}
