//! Subcommands for people: `check-timeouts`, `cluster`, `status`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::cluster::crm_mon::{self, ClusterView};
use crate::deadline::Deadline;
use crate::decide::timeouts::{self, Severity};
use crate::iscsi::timers::Overrides;
use crate::timeout_window::{self, Host, Report, WindowOverrides};

pub mod status;

pub const SUBCOMMANDS: &[&str] = &[
    "check-timeouts",
    "cluster",
    "status",
    "--help",
    "-h",
    "help",
    "--version",
    "-V",
];

/// `status` is both an OCF action and a subcommand: under Pacemaker (or ocf-tester) the
/// OCF environment is present, at an admin's shell it is not.
pub fn is_cli_invocation(first: &str) -> bool {
    let ocf_env = std::env::var_os("OCF_ROOT").is_some()
        || std::env::vars_os().any(|(k, _)| k.to_string_lossy().starts_with("OCF_RESKEY_"));
    match first {
        "status" => !ocf_env,
        "--help" | "-h" | "help" => !ocf_env,
        other => SUBCOMMANDS.contains(&other),
    }
}

#[derive(Parser)]
#[command(
    name = "iscsi-mirror",
    version,
    about = "The ocf:san:iscsi-mirror resource agent and its admin tools.\n\nAs an OCF agent: iscsi-mirror {start|stop|monitor|status|meta-data|validate-all|methods|usage} with OCF_RESKEY_* parameters."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check that the iSCSI timers notice a dead peer within the Corosync token window.
    /// Exit 0: all inside; 1: warnings; 2: errors.
    CheckTimeouts(CheckTimeouts),
    /// The cluster as crm_mon shows it, parsed.
    Cluster(ClusterArgs),
    /// This node's mirror: each peer, its paths, their kernel state, the cluster's view,
    /// and the verdict the monitor would give.
    Status(status::StatusArgs),
}

#[derive(Parser)]
struct CheckTimeouts {
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
    /// Print the iscsid.conf lines and agent parameters that fit the token.
    #[arg(long)]
    recommend: bool,
    /// What if the Corosync token were N ms.
    #[arg(long, value_name = "N")]
    token_ms: Option<i64>,
    /// What if consensus were N ms.
    #[arg(long, value_name = "N")]
    consensus_ms: Option<i64>,
    /// What if noop_out_interval were S seconds.
    #[arg(long, value_name = "S")]
    noop_out_interval: Option<i64>,
    /// What if noop_out_timeout were S seconds.
    #[arg(long, value_name = "S")]
    noop_out_timeout: Option<i64>,
    /// What if replacement_timeout were S seconds.
    #[arg(long, value_name = "S", allow_negative_numbers = true)]
    replacement_timeout: Option<i64>,
    #[arg(long, default_value = "iscsiadm")]
    iscsiadm: String,
    #[arg(long, default_value = "corosync-cmapctl")]
    corosync_cmapctl: String,
    /// Where sys/, dev/ and etc/ are (tests use a simulated host).
    #[arg(long, default_value = "/")]
    host_root: PathBuf,
    /// Default: HOST_ROOT/etc/corosync/corosync.conf
    #[arg(long)]
    corosync_conf: Option<PathBuf>,
    /// Default: HOST_ROOT/etc/iscsi/iscsid.conf
    #[arg(long)]
    iscsid_conf: Option<PathBuf>,
}

#[derive(Parser)]
struct ClusterArgs {
    #[arg(long)]
    json: bool,
    /// Parse a saved `crm_mon --output-as=xml` document instead of asking the cluster.
    #[arg(long, value_name = "FILE")]
    crm_mon_xml: Option<PathBuf>,
    #[arg(long, default_value = "crm_mon")]
    crm_mon: String,
}

pub fn run(args: &[OsString]) -> i32 {
    crate::logging::init("cli", crate::ocf::Env::from_process().debug());
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match cli.command {
        Command::CheckTimeouts(a) => check_timeouts(a),
        Command::Cluster(a) => cluster(a),
        Command::Status(a) => status::run(a),
    }
}

fn check_timeouts(a: CheckTimeouts) -> i32 {
    let deadline = Deadline::after(Duration::from_secs(60));
    let mut host = Host::new(&a.iscsiadm, &a.host_root, &a.corosync_cmapctl);
    if let Some(p) = a.corosync_conf {
        host.corosync_conf = p;
    }
    if let Some(p) = a.iscsid_conf {
        host.iscsid_conf = p;
    }
    let flag = |v: Option<i64>, name: &str| v.map(|v| (v, format!("--{name}")));
    let over = Overrides {
        noop_out_interval: flag(a.noop_out_interval, "noop-out-interval"),
        noop_out_timeout: flag(a.noop_out_timeout, "noop-out-timeout"),
        replacement_timeout: flag(a.replacement_timeout, "replacement-timeout"),
    };
    let window = WindowOverrides {
        token: a.token_ms.map(|t| (t, "--token-ms")),
        consensus: a.consensus_ms.map(|c| (c, "--consensus-ms")),
    };
    let report = timeout_window::inspect_host(&host, &window, &over, deadline);
    let rec = timeouts::recommend(report.window.token_ms.value, report.window.consensus_ms.value);
    if a.json {
        let mut v = serde_json::to_value(&report).unwrap_or_default();
        v["exit_code"] = timeouts::exit_code(report.verdict).into();
        if a.recommend {
            v["recommendation"] = serde_json::to_value(rec).unwrap_or_default();
        }
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        print_report(&report);
        if a.recommend {
            println!();
            println!(
                "Timers that fit token {} ms and consensus {} ms:",
                report.window.token_ms.value, report.window.consensus_ms.value
            );
            println!("  in /etc/iscsi/iscsid.conf (new node records) or with iscsiadm -m node -o update:");
            println!(
                "    node.conn[0].timeo.noop_out_interval = {}",
                rec.noop_out_interval
            );
            println!(
                "    node.conn[0].timeo.noop_out_timeout = {}",
                rec.noop_out_timeout
            );
            println!(
                "    node.session.timeo.replacement_timeout = {}",
                rec.replacement_timeout
            );
            println!("  as agent parameters (written to the records at start):");
            println!(
                "    noop_out_interval={} noop_out_timeout={} replacement_timeout={}",
                rec.noop_out_interval, rec.noop_out_timeout, rec.replacement_timeout
            );
        }
    }
    timeouts::exit_code(report.verdict)
}

fn print_report(r: &Report) {
    println!(
        "Corosync token     {:>6} ms  ({})",
        r.window.token_ms.value, r.window.token_ms.source
    );
    println!(
        "Corosync consensus {:>6} ms  ({})",
        r.window.consensus_ms.value, r.window.consensus_ms.source
    );
    for p in &r.paths {
        println!();
        println!("{}", p.label);
        for (name, f) in [
            ("noop_out_interval", &p.timers.noop_out_interval),
            ("noop_out_timeout", &p.timers.noop_out_timeout),
            ("replacement_timeout", &p.timers.replacement_timeout),
        ] {
            println!("  {name:<20} {:>4} s  ({})", f.value, f.source);
        }
        for f in &p.findings {
            let word = match f.severity {
                Severity::Ok => "ok",
                Severity::Warning => "WARNING",
                Severity::Error => "ERROR",
            };
            println!("  {word:<8} {}", f.message);
        }
    }
    println!();
    let (e, w) = (r.count(Severity::Error), r.count(Severity::Warning));
    println!(
        "{}",
        match r.verdict {
            Severity::Ok => "verdict: inside the window".to_string(),
            Severity::Warning => format!("verdict: inside, {w} warning{}", if w == 1 { "" } else { "s" }),
            Severity::Error => format!(
                "verdict: OUTSIDE the window, {e} error{}, {w} warning{}",
                plural(e),
                plural(w)
            ),
        }
    );
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn cluster(a: ClusterArgs) -> i32 {
    let view: ClusterView = match &a.crm_mon_xml {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => crm_mon::parse(&text),
            Err(e) => {
                eprintln!("iscsi-mirror: cannot read {}: {e}", path.display());
                return 2;
            }
        },
        None => crm_mon::query(&a.crm_mon, Deadline::after(Duration::from_secs(20))),
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&view).unwrap_or_default());
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
