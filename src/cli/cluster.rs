//! `iscsi-mirror cluster`: the cluster as crm_mon shows it, parsed.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::cluster::crm_mon::{self, ClusterView};
use crate::deadline::Deadline;

#[derive(Parser)]
#[command(
    after_help = "Exit codes: 0 the cluster answered, 1 cluster state unknown, 64 usage error, \
66 unreadable --crm-mon-xml file."
)]
pub struct ClusterArgs {
    /// Print JSON for tools (with schema_version).
    #[arg(long)]
    json: bool,
    /// Parse a saved `crm_mon --output-as=xml` document instead of asking the cluster.
    #[arg(long, value_name = "FILE")]
    crm_mon_xml: Option<PathBuf>,
    /// crm_mon to ask the cluster with.
    #[arg(long, default_value = "crm_mon")]
    crm_mon: String,
}

pub fn run(a: ClusterArgs) -> i32 {
    let view: ClusterView = match &a.crm_mon_xml {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => crm_mon::parse(&text),
            Err(e) => {
                eprintln!("iscsi-mirror: cannot read {}: {e}", path.display());
                return super::exit::INPUT;
            }
        },
        None => crm_mon::query(&a.crm_mon, Deadline::after(Duration::from_secs(20))),
    };
    if a.json {
        super::print_json(serde_json::to_value(&view).unwrap_or_default());
    } else if !view.known {
        println!("cluster state unknown: {}", view.reason.as_deref().unwrap_or(""));
    } else {
        println!(
            "DC: {}   quorum: {}",
            view.dc.as_deref().unwrap_or("none"),
            match view.quorate {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "unknown",
            }
        );
        for n in &view.nodes {
            println!("  {:<20} {}", n.name, n.peer_state().describe());
        }
        for r in view
            .resources
            .iter()
            .filter(|r| r.agent == "ocf:san:iscsi-mirror")
        {
            println!(
                "  resource {} ({}): {} on {}",
                r.id,
                r.clone.as_deref().unwrap_or("-"),
                r.role,
                r.nodes.join(",")
            );
        }
        for f in &view.failures {
            println!(
                "  failure {} on {}: {} {}",
                f.op_key, f.node, f.exitstatus, f.exitreason
            );
        }
    }
    if view.known {
        0
    } else {
        1
    }
}
