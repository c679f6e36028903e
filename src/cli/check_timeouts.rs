//! `iscsi-mirror check-timeouts`: the timeout window of this host, each figure with its
//! source, the pool's side of it (MMP, hostids, failmode) where ZFS is present, and timers
//! that fit.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::cluster::cib;
use crate::deadline::Deadline;
use crate::decide::mmp::ZfsFigures;
use crate::decide::timeouts::{self, Advice, Recommendation, Severity};
use crate::decide::timer_sources::Overrides;
use crate::observe::mmp;
use crate::observe::window::{self, Host, Report, WindowOverrides};
use crate::state::Loaded;
use crate::tools::Tools;

#[derive(Parser)]
#[command(
    after_help = "Exit codes: 0 inside the window, 1 inside with warnings, 2 outside (errors), \
64 usage error, 66 unreadable --corosync-conf/--iscsid-conf.\n\
The pool's side (multihost, MMP fail time, hostids, failmode) is judged for --pool, else \
for every pool imported here; peers' hostids are read from the CIB where a cluster runs."
)]
pub struct CheckTimeouts {
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
    /// Print timers that fit the token: the commands that set them on the resource and the
    /// node records, and the iscsid.conf lines for new records.
    #[arg(long)]
    recommend: bool,
    /// The resource the printed `pcs`/`crm` commands update.
    #[arg(long, value_name = "NAME", default_value = "san-mirror")]
    resource: String,
    /// A ZFS pool whose multihost, MMP and failmode to judge (default: every pool imported
    /// here). Repeatable.
    #[arg(long, value_name = "NAME")]
    pool: Vec<String>,
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
    /// zpool to read multihost and failmode with.
    #[arg(long, default_value = "zpool")]
    zpool: String,
    /// This node's cluster name, to tell the peers' published hostids from its own
    /// (default: crm_node -n, else the host name).
    #[arg(long)]
    node: Option<String>,
    /// crm_mon; cibadmin (the peers' published hostids) is taken from beside it.
    #[arg(long, default_value = "crm_mon")]
    crm_mon: String,
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
    if let Some(p) = a.corosync_conf.clone() {
        host.corosync_conf = p;
    }
    if let Some(p) = a.iscsid_conf.clone() {
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
    let tools = Tools {
        zpool: a.zpool.clone(),
        crm_mon: a.crm_mon.clone(),
        ..Tools::defaults()
    };
    let report = report.with_pools(pools(&a, &tools, deadline));
    let advice = timeouts::recommend(&report.window);
    if a.json {
        let mut v = serde_json::to_value(&report).unwrap_or_default();
        v["exit_code"] = timeouts::exit_code(report.verdict).into();
        if a.recommend {
            let mut r = serde_json::to_value(&advice).unwrap_or_default();
            if let Advice::Fits { timers, .. } = &advice {
                r["commands"] = commands(&report, timers, &a.resource).into();
            }
            v["recommendation"] = r;
        }
        super::print_json(v);
    } else {
        print_report(&report);
        if a.recommend {
            println!();
            print_advice(&report, &advice, &a.resource);
        }
    }
    timeouts::exit_code(report.verdict)
}

/// The pools to judge, with what was read of each; the peers' hostids from the CIB when a
/// cluster answers (otherwise the finding says none was known).
fn pools(a: &CheckTimeouts, tools: &Tools, deadline: Deadline) -> Vec<ZfsFigures> {
    let names = if a.pool.is_empty() {
        mmp::imported_pools(&a.host_root)
    } else {
        a.pool.clone()
    };
    if names.is_empty() {
        return Vec::new();
    }
    let cib = cib::query(tools, deadline.capped(Duration::from_secs(10)))
        .map(|x| cib::parse(&x))
        .map_err(|e| tracing::debug!("peers' hostids not read: {e}"))
        .ok();
    let me = crate::observe::node_name(a.node.as_deref(), &Loaded::Absent, tools, deadline);
    names
        .iter()
        .map(|pool| {
            let mut z = mmp::figures(pool, tools, &a.host_root, deadline);
            if let Some(cib) = &cib {
                z.peer_hostids = mmp::peer_hostids(cib, &me);
            }
            z
        })
        .collect()
}

/// Complete commands, in the order an admin runs them: the resource (the agent writes its
/// records at start), then each node record now (a running session takes them at its next
/// login).
fn commands(report: &Report, t: &Recommendation, resource: &str) -> Vec<String> {
    let values = [
        (
            "noop_out_interval",
            "node.conn[0].timeo.noop_out_interval",
            t.noop_out_interval,
        ),
        (
            "noop_out_timeout",
            "node.conn[0].timeo.noop_out_timeout",
            t.noop_out_timeout,
        ),
        (
            "replacement_timeout",
            "node.session.timeo.replacement_timeout",
            t.replacement_timeout,
        ),
    ];
    let mut out = vec![format!(
        "pcs resource update {} {}",
        quote(resource),
        values
            .iter()
            .map(|(p, _, v)| format!("{p}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    )];
    for (p, _, v) in &values {
        out.push(format!("crm resource param {} set {p} {v}", quote(resource)));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (target, portal) in report.paths.iter().filter_map(|p| p.record.as_ref()) {
        if !seen.insert((target, portal)) {
            continue;
        }
        for (_, key, v) in &values {
            out.push(format!(
                "iscsiadm -m node -T {} -p {} -o update -n {} -v {v}",
                quote(target),
                quote(portal),
                quote(key)
            ));
        }
    }
    out
}

/// Quoted for a POSIX shell where needed: record keys carry brackets, which a shell globs.
fn quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_.:/=@%+,".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

fn print_advice(report: &Report, advice: &Advice, resource: &str) {
    let (token, consensus) = (report.window.token_ms.shown(), report.window.consensus_ms.shown());
    match advice {
        Advice::CannotJudge { why } => println!("No timers to recommend: {why}."),
        Advice::NoneFit { why, .. } => {
            println!("No timers fit token {token} ms and consensus {consensus} ms: {why}.")
        }
        Advice::Fits { timers: t, warnings } => {
            println!(
                "Timers that fit token {token} ms and consensus {consensus} ms: noop_out_interval {} s, noop_out_timeout {} s, replacement_timeout {} s.",
                t.noop_out_interval, t.noop_out_timeout, t.replacement_timeout
            );
            for w in warnings {
                println!("  WARNING  {w}");
            }
            let cmds = commands(report, t, resource);
            println!();
            println!(
                "On the resource (a reload, no restart: the agent writes its node records and sets replacement_timeout on live sessions; NOP-Out timers reach a session at its next login), with pcs:"
            );
            println!("  {}", cmds[0]);
            println!("or with crmsh:");
            for c in &cmds[1..4] {
                println!("  {c}");
            }
            if cmds.len() > 4 {
                println!();
                println!("Or on this host's node records directly (a running session takes them at its next login):");
                for c in &cmds[4..] {
                    println!("  {c}");
                }
            }
            println!();
            println!("For node records created later, in /etc/iscsi/iscsid.conf:");
            println!("  node.conn[0].timeo.noop_out_interval = {}", t.noop_out_interval);
            println!("  node.conn[0].timeo.noop_out_timeout = {}", t.noop_out_timeout);
            println!(
                "  node.session.timeo.replacement_timeout = {}",
                t.replacement_timeout
            );
        }
    }
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
            println!("  {:<8} {}", word(f.severity), f.message);
        }
    }
    for z in &r.zfs {
        println!();
        println!("ZFS pool {}", z.figures.pool);
        for f in &z.findings {
            println!("  {:<8} {}", word(f.severity), f.message);
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

fn word(s: Severity) -> &'static str {
    match s {
        Severity::Ok => "ok",
        Severity::Warning => "WARNING",
        Severity::Error => "ERROR",
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
