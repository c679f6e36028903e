//! `iscsi-mirror status`: this node's mirror as the monitor would judge it, without
//! repairing anything. The resource's parameters come from the CIB.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use quick_xml::events::Event;
use quick_xml::Reader;
use serde::Serialize;

use crate::agent::{leg_view, observe};
use crate::cluster::crm_mon::{self, ClusterView};
use crate::config::Config;
use crate::deadline::Deadline;
use crate::decide::monitor::{self as table, PathState, Verdict};
use crate::iscsi::sysfs::Sysfs;
use crate::net;
use crate::ocf::Env;
use crate::process;

#[derive(Parser)]
pub struct StatusArgs {
    #[arg(long)]
    json: bool,
    /// The resource id, when the CIB has more than one ocf:san:iscsi-mirror.
    #[arg(long)]
    resource: Option<String>,
    /// This node's cluster name (default: crm_node -n, else the host name).
    #[arg(long)]
    node: Option<String>,
    /// Read the resource from a saved CIB (cibadmin -Q) instead of the live one.
    #[arg(long, value_name = "FILE")]
    cib_xml: Option<PathBuf>,
    /// Read the cluster's state from a saved crm_mon document.
    #[arg(long, value_name = "FILE")]
    crm_mon_xml: Option<PathBuf>,
}

/// One ocf:san:iscsi-mirror primitive and its instance attributes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Primitive {
    pub id: String,
    pub params: Vec<(String, String)>,
}

/// The iscsi-mirror primitives of a CIB document (their own instance_attributes only).
pub fn primitives(cib: &str) -> Vec<Primitive> {
    let mut reader = Reader::from_str(cib);
    let mut out: Vec<Primitive> = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut in_ours = false;
    loop {
        let (e, empty) = match reader.read_event() {
            Ok(Event::Start(e)) => (e, false),
            Ok(Event::Empty(e)) => (e, true),
            Ok(Event::End(_)) => {
                if stack.pop().as_deref() == Some("primitive") {
                    in_ours = false;
                }
                continue;
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => continue,
        };
        let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        let attr = |k: &str| {
            e.attributes()
                .flatten()
                .find(|a| a.key.as_ref() == k.as_bytes())
                .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
        };
        if name == "primitive" {
            in_ours = attr("class").as_deref() == Some("ocf")
                && attr("provider").as_deref() == Some("san")
                && attr("type").as_deref() == Some("iscsi-mirror");
            if in_ours {
                out.push(Primitive {
                    id: attr("id").unwrap_or_default(),
                    params: Vec::new(),
                });
            }
        } else if name == "nvpair"
            && in_ours
            && stack.len() >= 2
            && stack[stack.len() - 1] == "instance_attributes"
            && stack[stack.len() - 2] == "primitive"
        {
            if let (Some(n), Some(v), Some(p)) = (attr("name"), attr("value"), out.last_mut()) {
                p.params.push((n, v));
            }
        }
        if !empty {
            stack.push(name);
        }
    }
    out
}

#[derive(Serialize)]
struct PathOut {
    target: String,
    portal: String,
    kernel_state: String,
    session: Option<u32>,
    reachable: Option<bool>,
}

#[derive(Serialize)]
struct LegOut {
    peer: String,
    peer_state: String,
    paths: Vec<PathOut>,
    verdict: String,
    reason: Option<String>,
}

#[derive(Serialize)]
struct StatusOut {
    resource: String,
    node: String,
    cluster_known: bool,
    cluster_reason: Option<String>,
    legs: Vec<LegOut>,
    verdict: String,
    reason: Option<String>,
}

fn verdict_words(v: &Verdict) -> (&'static str, Option<String>) {
    match v {
        Verdict::Healthy => ("healthy", None),
        Verdict::Degraded(r) => ("degraded", Some(r.clone())),
        Verdict::NotRunning => ("not running", None),
        Verdict::Reconnect(_) => (
            "down, reconnect due",
            Some("the peer is up and its portal answers: the monitor will log in again".into()),
        ),
        Verdict::Failed(r) => ("failed", Some(r.clone())),
    }
}

pub fn run(a: StatusArgs) -> i32 {
    let deadline = Deadline::after(Duration::from_secs(30));
    let cib = match &a.cib_xml {
        Some(p) => std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display())),
        None => process::run(
            "cibadmin",
            &["-Q", "--scope", "resources"],
            deadline.capped(Duration::from_secs(10)),
        )
        .map_err(|e| format!("cibadmin: {e}"))
        .and_then(|o| {
            if o.success() {
                Ok(o.stdout)
            } else {
                Err(format!("cibadmin -Q failed: {}", o.stderr.trim()))
            }
        }),
    };
    let cib = match cib {
        Ok(c) => c,
        Err(e) => {
            eprintln!("iscsi-mirror: {e}");
            return 2;
        }
    };
    let all = primitives(&cib);
    let chosen = match &a.resource {
        Some(id) => all.iter().find(|p| &p.id == id),
        None if all.len() == 1 => all.first(),
        None => None,
    };
    let Some(primitive) = chosen else {
        let ids: Vec<&str> = all.iter().map(|p| p.id.as_str()).collect();
        eprintln!(
            "iscsi-mirror: {} ocf:san:iscsi-mirror resource(s) in the CIB{}{}",
            all.len(),
            if ids.is_empty() {
                String::new()
            } else {
                format!(" ({})", ids.join(", "))
            },
            if all.len() > 1 {
                "; pick one with --resource"
            } else {
                ""
            }
        );
        return 2;
    };
    let env = Env::from_pairs(
        primitive
            .params
            .iter()
            .map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.clone())),
    );
    let config = match Config::from_env(&env) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("iscsi-mirror: resource {}: {}", primitive.id, e.reason);
            return 2;
        }
    };
    let node = a.node.clone().unwrap_or_else(|| {
        process::run("crm_node", &["-n"], deadline.capped(Duration::from_secs(3)))
            .ok()
            .filter(|o| o.success())
            .map(|o| o.stdout.trim().to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| {
                nix::unistd::gethostname()
                    .ok()
                    .and_then(|h| h.into_string().ok())
                    .unwrap_or_default()
            })
    });
    let cluster: ClusterView = match &a.crm_mon_xml {
        Some(p) => crm_mon::parse(&std::fs::read_to_string(p).unwrap_or_default()),
        None => crm_mon::query(&config.crm_mon, deadline.capped(Duration::from_secs(10))),
    };
    let sessions = Sysfs::new(&config.host_root).sessions();
    let mut legs = Vec::new();
    let mut verdicts = Vec::new();
    for leg in config.legs_for(&node) {
        let obs = observe(&leg.paths().collect::<Vec<_>>(), &sessions);
        let mut view = leg_view(leg, &obs, &cluster);
        for i in view.needs_reachability() {
            view.paths[i].reachable = Some(net::reachable(&obs[i].path.portal, net::REACH_TIMEOUT));
        }
        let started = obs.iter().any(|o| o.state() != PathState::Missing)
            || cluster
                .resources
                .iter()
                .any(|r| r.id == primitive.id && r.nodes.iter().any(|n| n == &node));
        let v = table::judge(&view, started);
        let (word, reason) = verdict_words(&v);
        legs.push(LegOut {
            peer: leg.label(),
            peer_state: view.peer.describe().to_string(),
            paths: obs
                .iter()
                .zip(&view.paths)
                .map(|(o, pv)| PathOut {
                    target: o.path.target.to_string(),
                    portal: o.path.portal.to_string(),
                    kernel_state: o.kernel_state().to_string(),
                    session: o.session.as_ref().map(|s| s.sid),
                    reachable: pv.reachable,
                })
                .collect(),
            verdict: word.to_string(),
            reason,
        });
        verdicts.push(match v {
            Verdict::Reconnect(_) => Verdict::Degraded("reconnect due".into()),
            other => other,
        });
    }
    let overall = table::overall(&verdicts);
    let (word, reason) = verdict_words(&overall);
    let out = StatusOut {
        resource: primitive.id.clone(),
        node: node.clone(),
        cluster_known: cluster.known,
        cluster_reason: cluster.reason.clone(),
        legs,
        verdict: word.to_string(),
        reason,
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        println!("resource {} on {}: {}", out.resource, out.node, out.verdict);
        if !out.cluster_known {
            println!(
                "  cluster state unknown: {}",
                out.cluster_reason.as_deref().unwrap_or("")
            );
        }
        for l in &out.legs {
            println!("  peer {} ({}): {}", l.peer, l.peer_state, l.verdict);
            for p in &l.paths {
                let reach = match p.reachable {
                    Some(true) => ", portal answers",
                    Some(false) => ", portal does not answer",
                    None => "",
                };
                println!("    {} via {}: {}{reach}", p.target, p.portal, p.kernel_state);
            }
            if let Some(r) = &l.reason {
                println!("    why: {r}");
            }
        }
    }
    match overall {
        Verdict::Healthy => 0,
        Verdict::NotRunning => 7,
        Verdict::Failed(_) => 1,
        _ => 190,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn primitives_and_their_own_parameters() {
        let cib = r#"<resources><clone id="mirror-clone"><primitive id="mirror" class="ocf" provider="san" type="iscsi-mirror">
<instance_attributes id="mirror-ia"><nvpair id="a" name="peers" value="a=iqn.2025-01.x:a@1.2.3.4"/></instance_attributes>
<operations><op id="m" name="monitor" interval="10s"><instance_attributes id="x"><nvpair id="b" name="depth" value="10"/></instance_attributes></op></operations>
</primitive></clone><primitive id="other" class="ocf" provider="heartbeat" type="Dummy"><instance_attributes id="o"><nvpair id="c" name="x" value="y"/></instance_attributes></primitive></resources>"#;
        let p = super::primitives(cib);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].id, "mirror");
        assert_eq!(
            p[0].params,
            vec![("peers".to_string(), "a=iqn.2025-01.x:a@1.2.3.4".to_string())]
        );
    }
}
