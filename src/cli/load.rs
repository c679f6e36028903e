//! What status and doctor share: the resource's parameters (from the live CIB, a saved
//! one, or `--param` flags), its state file, the cluster's view and the first observation
//! of the node. One function, so the two subcommands start from the same facts.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::cluster::cib::{self, Cib, Primitive};
use crate::cluster::crm_mon;
use crate::config::Config;
use crate::deadline::Deadline;
use crate::iscsi::sysfs::Sysfs;
use crate::observe::{self, Snapshot};
use crate::ocf::Env;
use crate::state::{Loaded, Store};
use crate::tools::Tools;

use super::exit;

/// The resource and where its facts come from.
#[derive(Args, Debug, Clone)]
pub struct ResourceArgs {
    /// The resource id, when the CIB has more than one ocf:san:iscsi-mirror; with --param,
    /// the instance whose state file (last login errors, pool memory) is read.
    #[arg(long)]
    pub resource: Option<String>,
    /// This node's cluster name (default: crm_node -n, else the host name).
    #[arg(long)]
    pub node: Option<String>,
    /// Read the resource from a saved CIB (cibadmin -Q > FILE) instead of the live one.
    #[arg(long, value_name = "FILE", conflicts_with = "params")]
    pub cib_xml: Option<PathBuf>,
    /// Read the cluster's state from a saved `crm_mon -1 --output-as=xml` document.
    #[arg(long, value_name = "FILE")]
    pub crm_mon_xml: Option<PathBuf>,
    /// crm_mon to ask the cluster with; Pacemaker's other tools (cibadmin) are taken from
    /// beside it when it is a path.
    #[arg(long, default_value = "crm_mon")]
    pub crm_mon: String,
    /// Where the agent keeps its state (HA_RSCTMP).
    #[arg(long, value_name = "DIR", default_value = "/run/resource-agents")]
    pub rsc_tmp: String,
    /// A resource parameter given here instead of read from the CIB, as `pcs resource
    /// create` takes it (repeat for each: --param portal=192.168.10.2 --param target=iqn...).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
}

/// A resource configuration that does not parse (sysexits EX_CONFIG).
pub const CONFIG: i32 = exit::CONFIG;

/// The resource, its configuration, and the node observed.
pub struct Resource {
    pub id: String,
    /// The instance's state directory and lock, when it was started here.
    pub store: Option<Store>,
    pub config: Config,
    /// The CIB, when the parameters came from one.
    pub cib: Option<Cib>,
    pub tools: Tools,
    pub sysfs: Sysfs,
    pub snap: Snapshot,
}

pub fn read_file(p: &std::path::Path) -> Result<String, i32> {
    std::fs::read_to_string(p).map_err(|e| {
        eprintln!("iscsi-mirror: cannot read {}: {e}", p.display());
        exit::INPUT
    })
}

/// The instance's state file: Pacemaker names an anonymous clone's instance by the
/// primitive's id, sometimes with ":N"; take whichever exists. Returns the instance's
/// name with what was found.
fn load_state(rsc_tmp: &str, id: &str) -> (String, Loaded) {
    let plain = Store::new(rsc_tmp, id);
    let found = plain.load();
    if found != Loaded::Absent {
        return (id.to_string(), found);
    }
    let prefix = format!(
        "{}_",
        id.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '.', "_")
    );
    let Ok(entries) = std::fs::read_dir(plain.dir()) else {
        return (id.to_string(), Loaded::Absent);
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if let Some(n) = name.strip_prefix(&prefix).and_then(|r| r.strip_suffix(".state")) {
            if n.chars().all(|c| c.is_ascii_digit()) {
                let instance = format!("{id}:{n}");
                let found = Store::new(rsc_tmp, &instance).load();
                return (instance, found);
            }
        }
    }
    (id.to_string(), Loaded::Absent)
}

/// The kernel's view when the CIB cannot be read: every session, unjudged.
fn kernel_only(why: &str, command: &str) -> i32 {
    eprintln!("iscsi-mirror: {why}");
    eprintln!("iscsi-mirror: the local cluster does not answer; to judge the mirror anyway, save a CIB on a node where it answers (cibadmin -Q > cib.xml) and run: iscsi-mirror {command} --cib-xml cib.xml, or give the parameters with --param NAME=VALUE");
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

/// The parameters given as `NAME=VALUE` flags.
fn from_flags(params: &[String]) -> Result<Vec<(String, String)>, i32> {
    params
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => {
                eprintln!(
                    "iscsi-mirror: --param {}: expected NAME=VALUE",
                    crate::text::printable(p)
                );
                Err(exit::USAGE)
            }
        })
        .collect()
}

/// Reads the resource's parameters and takes the first observation: the sessions, the
/// state file, the cluster's view. A failure is the exit code to return (the message
/// printed). `command` names the subcommand in advice.
pub fn load(a: &ResourceArgs, command: &str, deadline: Deadline) -> Result<Resource, i32> {
    let (id, params, cib) = if a.params.is_empty() {
        let cib_text = match &a.cib_xml {
            Some(p) => read_file(p)?,
            None => cib::query(
                &Tools {
                    crm_mon: a.crm_mon.clone(),
                    ..Tools::defaults()
                },
                deadline,
            )
            .map_err(|e| kernel_only(&e, command))?,
        };
        let cib = cib::parse(&cib_text);
        let primitive = choose(&cib.primitives, a.resource.as_deref()).map_err(|e| {
            eprintln!("iscsi-mirror: {e}");
            if a.cib_xml.is_some() {
                exit::INPUT
            } else {
                CONFIG
            }
        })?;
        (primitive.id.clone(), primitive.params.clone(), Some(cib))
    } else {
        (
            a.resource.clone().unwrap_or_default(),
            from_flags(&a.params)?,
            None,
        )
    };
    let env = Env::from_pairs(params.iter().map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.clone())));
    let config = Config::from_env(&env).map_err(|e| {
        eprintln!(
            "iscsi-mirror: resource {}: {}",
            if id.is_empty() { "(from --param)" } else { &id },
            e.reason
        );
        CONFIG
    })?;
    let tools = Tools::from_config(&config);
    let sysfs = Sysfs::new(&config.host_root);
    let (instance, state) = if id.is_empty() {
        (String::new(), Loaded::Absent)
    } else {
        load_state(&a.rsc_tmp, &id)
    };
    // The instance's store (its lock), when it has a state file here.
    let store = (state != Loaded::Absent).then(|| Store::new(&a.rsc_tmp, &instance));
    let mut snap = observe::take(&config, a.node.as_deref(), state, &sysfs, &tools, deadline);
    snap.cluster = Some(match &a.crm_mon_xml {
        Some(p) => crm_mon::parse(&read_file(p)?),
        None => crm_mon::query(&tools.crm_mon, deadline.capped(Duration::from_secs(10))),
    });
    if snap.state == Loaded::Absent {
        // No state file here (another HA_RSCTMP?): the cluster's word on where it runs.
        let runs_here = snap.cluster.as_ref().is_some_and(|c| {
            c.resources
                .iter()
                .any(|r| r.id == id && r.nodes.iter().any(|n| n.eq_ignore_ascii_case(&snap.node)))
        });
        if runs_here || snap.all_paths().any(|p| p.session.is_some()) {
            snap.state = Loaded::Present(Box::new(crate::state::InstanceState {
                started: true,
                ..Default::default()
            }));
        }
    }
    Ok(Resource {
        id,
        store,
        config,
        cib,
        tools,
        sysfs,
        snap,
    })
}
