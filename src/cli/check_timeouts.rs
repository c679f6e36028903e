//! `iscsi-mirror check-timeouts`: the timeout window of this host, each figure with its
//! source, and timers that fit.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::deadline::Deadline;
use crate::decide::timeouts::{self, Severity};
use crate::decide::timer_sources::Overrides;
use crate::observe::window::{self, Host, Report, WindowOverrides};

#[derive(Parser)]
#[command(
    after_help = "Exit codes: 0 inside the window, 1 inside with warnings, 2 outside (errors), \
64 usage error, 66 unreadable --corosync-conf/--iscsid-conf."
)]
pub struct CheckTimeouts {
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
    /// iscsiadm to list node records with.
    #[arg(long, default_value = "iscsiadm")]
    iscsiadm: String,
    /// corosync-cmapctl to read the running token with.
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

pub fn run(a: CheckTimeouts) -> i32 {
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
    let report = window::inspect_host(&host, &window, &over, deadline);
    let rec = timeouts::recommend(&report.window);
    if a.json {
        let mut v = serde_json::to_value(&report).unwrap_or_default();
        v["exit_code"] = timeouts::exit_code(report.verdict).into();
        if a.recommend {
            v["recommendation"] = serde_json::to_value(rec).unwrap_or_default();
        }
        super::print_json(v);
    } else {
        print_report(&report);
        if a.recommend {
            println!();
            match rec {
                Some(rec) => print_recommendation(&report, &rec),
                None => println!(
                    "No timers to recommend: the Corosync token ({}) or consensus ({}) is not usable.",
                    report.window.token_ms.shown(),
                    report.window.consensus_ms.shown()
                ),
            }
        }
    }
    timeouts::exit_code(report.verdict)
}

fn print_recommendation(report: &Report, rec: &timeouts::Recommendation) {
    println!(
        "Timers that fit token {} ms and consensus {} ms:",
        report.window.token_ms.shown(),
        report.window.consensus_ms.shown()
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

fn print_report(r: &Report) {
    println!(
        "Corosync token     {:>6} ms  ({})",
        r.window.token_ms.shown(),
        r.window.token_ms.source
    );
    println!(
        "Corosync consensus {:>6} ms  ({})",
        r.window.consensus_ms.shown(),
        r.window.consensus_ms.source
    );
    for p in &r.paths {
        println!();
        println!("{}", p.label);
        for (name, f) in [
            ("noop_out_interval", &p.timers.noop_out_interval),
            ("noop_out_timeout", &p.timers.noop_out_timeout),
            ("replacement_timeout", &p.timers.replacement_timeout),
        ] {
            println!("  {name:<20} {:>4} s  ({})", f.shown(), f.source);
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
    // A window figure is judged with every path: count each figure once.
    let unusable = r
        .paths
        .iter()
        .flat_map(|p| &p.findings)
        .filter(|f| f.rule == timeouts::RULE_UNUSABLE || f.rule == timeouts::RULE_OUT_OF_RANGE)
        .map(|f| f.message.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    if unusable > 0 {
        println!(
            "verdict: CANNOT JUDGE the window, {unusable} figure{} not usable or out of range",
            plural(unusable)
        );
        return;
    }
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
