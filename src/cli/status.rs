//! `iscsi-mirror status`: this node's mirror as the monitor would judge it, without
//! repairing anything. The resource's parameters come from the CIB (or a saved one).

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::cluster::cib::{self, Primitive};
use crate::cluster::crm_mon;
use crate::config::Config;
use crate::deadline::Deadline;
use crate::decide::{assess, pool};
use crate::iscsi::sysfs::Sysfs;
use crate::observe::{self, Snapshot};
use crate::ocf::Env;
use crate::report::status as report;
use crate::state::{Loaded, Store};
use crate::tools::Tools;

use super::exit;

/// A resource configuration that does not parse (sysexits EX_CONFIG).
pub const CONFIG: i32 = 78;

#[derive(Parser)]
#[command(
    after_help = "Exit codes (as the monitor would return): 0 healthy, 190 degraded, 1 failed, \
7 not running here; 64 usage error, 66 unreadable --cib-xml/--crm-mon-xml file, 69 the CIB could \
not be read (the kernel's sessions are shown anyway), 78 the resource's parameters are invalid."
)]
pub struct StatusArgs {
    /// Print JSON for tools (with schema_version; codes in `verdict`/`reasons`, prose in `reason`).
    #[arg(long, conflicts_with = "prometheus")]
    json: bool,
    /// Print the metrics in Prometheus' text exposition format.
    #[arg(long)]
    prometheus: bool,
    /// The resource id, when the CIB has more than one ocf:san:iscsi-mirror.
    #[arg(long)]
    resource: Option<String>,
    /// This node's cluster name (default: crm_node -n, else the host name).
    #[arg(long)]
    node: Option<String>,
    /// Read the resource from a saved CIB (cibadmin -Q > FILE) instead of the live one.
    #[arg(long, value_name = "FILE")]
    cib_xml: Option<PathBuf>,
    /// Read the cluster's state from a saved `crm_mon -1 --output-as=xml` document.
    #[arg(long, value_name = "FILE")]
    crm_mon_xml: Option<PathBuf>,
    /// crm_mon to ask the cluster with; Pacemaker's other tools (cibadmin) are taken from
    /// beside it when it is a path.
    #[arg(long, default_value = "crm_mon")]
    crm_mon: String,
    /// Where the agent keeps its state (HA_RSCTMP).
    #[arg(long, value_name = "DIR", default_value = "/run/resource-agents")]
    rsc_tmp: String,
}

fn read_file(p: &std::path::Path) -> Result<String, i32> {
    std::fs::read_to_string(p).map_err(|e| {
        eprintln!("iscsi-mirror: cannot read {}: {e}", p.display());
        exit::INPUT
    })
}

/// The instance's state file: Pacemaker names an anonymous clone's instance by the
/// primitive's id, sometimes with ":N"; take whichever exists.
fn load_state(rsc_tmp: &str, id: &str) -> Loaded {
    let plain = Store::new(rsc_tmp, id);
    let found = plain.load();
    if found != Loaded::Absent {
        return found;
    }
    let prefix = format!(
        "{}_",
        id.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '.', "_")
    );
    let Ok(entries) = std::fs::read_dir(plain.dir()) else {
        return Loaded::Absent;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if let Some(n) = name.strip_prefix(&prefix).and_then(|r| r.strip_suffix(".state")) {
            if n.chars().all(|c| c.is_ascii_digit()) {
                return Store::new(rsc_tmp, &format!("{id}:{n}")).load();
            }
        }
    }
    Loaded::Absent
}

/// The kernel's view when the CIB cannot be read: every session, unjudged.
fn kernel_only(why: &str) -> i32 {
    eprintln!("iscsi-mirror: {why}");
    eprintln!("iscsi-mirror: the local cluster does not answer; to judge the mirror anyway, save a CIB on a node where it answers (cibadmin -Q > cib.xml) and run: iscsi-mirror status --cib-xml cib.xml");
    println!("iSCSI sessions in the kernel (not judged: the resource's configuration is unknown):");
    let sessions = Sysfs::new(std::path::Path::new("/")).sessions();
    if sessions.is_empty() {
        println!("  none");
    }
    for s in sessions {
        let portal = s
            .connections
            .first()
            .map(|c| format!("{}:{}", c.persistent_address, c.persistent_port))
            .unwrap_or_default();
        println!(
            "  session {} {} via {}: {}",
            s.sid,
            s.target,
            portal,
            s.state.as_str()
        );
    }
    exit::UNAVAILABLE
}

fn choose<'a>(all: &'a [Primitive], wanted: Option<&str>) -> Result<&'a Primitive, String> {
    let chosen = match wanted {
        Some(id) => all.iter().find(|p| p.id == id),
        None if all.len() == 1 => all.first(),
        None => None,
    };
    chosen.ok_or_else(|| {
        let ids: Vec<&str> = all.iter().map(|p| p.id.as_str()).collect();
        format!(
            "{} ocf:san:iscsi-mirror resource(s) in the CIB{}{}",
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
        )
    })
}

pub fn run(a: StatusArgs) -> i32 {
    let deadline = Deadline::after(Duration::from_secs(30));
    let cib_text = match &a.cib_xml {
        Some(p) => match read_file(p) {
            Ok(t) => t,
            Err(code) => return code,
        },
        None => match cib::query(
            &Tools {
                crm_mon: a.crm_mon.clone(),
                ..Tools::defaults()
            },
            deadline,
        ) {
            Ok(t) => t,
            Err(e) => return kernel_only(&e),
        },
    };
    let cib = cib::parse(&cib_text);
    let primitive = match choose(&cib.primitives, a.resource.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("iscsi-mirror: {e}");
            return if a.cib_xml.is_some() { exit::INPUT } else { CONFIG };
        }
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
            return CONFIG;
        }
    };
    let tools = Tools::from_config(&config);
    let sysfs = Sysfs::new(&config.host_root);
    let mut snap: Snapshot = observe::take(
        &config,
        a.node.as_deref(),
        load_state(&a.rsc_tmp, &primitive.id),
        &sysfs,
        &tools,
        deadline,
    );
    snap.cluster = Some(match &a.crm_mon_xml {
        Some(p) => match read_file(p) {
            Ok(t) => crm_mon::parse(&t),
            Err(code) => return code,
        },
        None => crm_mon::query(&tools.crm_mon, deadline.capped(Duration::from_secs(10))),
    });
    if snap.state == Loaded::Absent {
        // No state file here (another HA_RSCTMP?): the cluster's word on where it runs.
        let runs_here = snap.cluster.as_ref().is_some_and(|c| {
            c.resources
                .iter()
                .any(|r| r.id == primitive.id && r.nodes.iter().any(|n| n.eq_ignore_ascii_case(&snap.node)))
        });
        if runs_here || snap.all_paths().any(|p| p.session.is_some()) {
            snap.state = Loaded::Present(Box::new(crate::state::InstanceState {
                started: true,
                ..Default::default()
            }));
        }
    }
    let need = assess::reachability_needed(&assess::legs(&snap));
    observe::reachability(&mut snap, &need, deadline);
    let assessment = assess::assess(&snap, false);
    let plan = config.pool.as_deref().and_then(|name| {
        let json = snap.state.state().and_then(|s| s.pool.json);
        observe::pool::read(&mut snap, name, &tools, &sysfs, &config.host_root, json, deadline);
        pool::for_snapshot(&snap, config.auto_online, 20_000)
    });
    let r = report::build(&primitive.id, &snap, &assessment, plan.as_ref(), Some(&cib));
    if a.json {
        super::print_json(serde_json::to_value(&r).unwrap_or_default());
    } else if a.prometheus {
        let marks: Vec<String> = report::outdated_marks(&cib).into_iter().map(|m| m.node).collect();
        let verdict = crate::decide::verdict::Verdict {
            kind: r.verdict,
            reasons: r.reasons.clone(),
        };
        print!(
            "{}",
            crate::report::metrics::render(&crate::report::metrics::Input {
                resource: &primitive.id,
                snap: &snap,
                verdict: &verdict,
                outdated: &marks,
            })
        );
    } else {
        print!("{}", report::text(&r));
    }
    r.ocf_exit_code
}
