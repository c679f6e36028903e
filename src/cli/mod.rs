//! Subcommands for people and tools: `status`, `doctor`, `cluster`, `check-timeouts`,
//! `outdated`. The clap definitions live here; each subcommand's body is its own file
//! (`load` is what status and doctor share).

use std::ffi::OsString;

use clap::{CommandFactory, Parser, Subcommand};

pub mod check_timeouts;
pub mod cluster;
pub mod doctor;
pub mod load;
pub mod outdated;
pub mod status;

/// Exit codes shared by the subcommands (each `--help` lists its own).
pub mod exit {
    /// Wrong flags or arguments (sysexits EX_USAGE).
    pub const USAGE: i32 = 64;
    /// A file named on the command line cannot be read or parsed (EX_NOINPUT).
    pub const INPUT: i32 = 66;
    /// The local cluster could not be asked (cibadmin, crm_mon failed) (EX_UNAVAILABLE).
    pub const UNAVAILABLE: i32 = 69;
    /// The resource's parameters are invalid (EX_CONFIG).
    pub const CONFIG: i32 = 78;
}

/// The version of the JSON documents the subcommands print; bumped on any change that
/// removes or renames a field.
pub const JSON_SCHEMA_VERSION: u32 = 1;

pub const SUBCOMMANDS: &[&str] = &[
    "check-timeouts",
    "cluster",
    "doctor",
    "outdated",
    "status",
    "help",
    "--help",
    "-h",
    "--version",
    "-V",
];

/// `status` is both an OCF action and a subcommand. Pacemaker and ocf-tester always name
/// the resource instance and pass nothing after the action; an admin's shell, even one
/// with OCF_ROOT exported, does neither.
pub fn is_cli_invocation(args: &[OsString]) -> bool {
    let first = args.get(1).and_then(|a| a.to_str()).unwrap_or("");
    let under_pacemaker = std::env::var_os("OCF_RESOURCE_INSTANCE").is_some();
    match first {
        "status" => args.len() > 2 || !under_pacemaker,
        other => SUBCOMMANDS.contains(&other),
    }
}

#[derive(Parser)]
#[command(
    name = "iscsi-mirror",
    version,
    about = "The ocf:san:iscsi-mirror resource agent and its admin tools.",
    long_about = "The ocf:san:iscsi-mirror resource agent and its admin tools.\n\n\
As an OCF agent (run by Pacemaker, with OCF_RESOURCE_INSTANCE and OCF_RESKEY_* parameters):\n  \
iscsi-mirror {start|stop|monitor|status|meta-data|validate-all|methods|usage}\n\n\
Exit codes common to the subcommands: 64 usage error, 66 unreadable input file, \
69 cluster not reachable, 78 invalid resource parameters; each subcommand's --help lists its own."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// This node's mirror: each peer, its paths, their kernel state, the cluster's view,
    /// and the verdict the monitor would give.
    Status(status::StatusArgs),
    /// The iSCSI session recovery procedure, walked: each step's finding, why, the evidence
    /// and the next action; --fix repairs what may be repaired (option C, zpool online).
    Doctor(doctor::DoctorArgs),
    /// The cluster as crm_mon shows it, parsed.
    Cluster(cluster::ClusterArgs),
    /// Check that the iSCSI timers notice a dead peer within the Corosync token window.
    CheckTimeouts(check_timeouts::CheckTimeouts),
    /// The halves of the mirror marked outdated, and the override that accepts their loss.
    Outdated(outdated::OutdatedArgs),
}

/// The CLI's definition, for man pages and shell completions.
pub fn command() -> clap::Command {
    Cli::command()
}

pub fn run(args: &[OsString]) -> i32 {
    crate::logging::init("cli", std::env::var("HA_debug").is_ok_and(|v| v == "1"));
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { exit::USAGE } else { 0 };
        }
    };
    match cli.command {
        Command::CheckTimeouts(a) => check_timeouts::run(a),
        Command::Cluster(a) => cluster::run(a),
        Command::Status(a) => status::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Outdated(a) => outdated::run(a),
    }
}

/// A JSON document for tools: the schema version first, then the subcommand's fields.
pub fn print_json(value: serde_json::Value) {
    let mut doc = serde_json::Map::new();
    doc.insert("schema_version".into(), JSON_SCHEMA_VERSION.into());
    if let serde_json::Value::Object(fields) = value {
        doc.extend(fields);
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::Value::Object(doc)).unwrap_or_default()
    );
}
