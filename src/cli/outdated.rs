//! `iscsi-mirror outdated`: the halves marked outdated, and the one override: accept
//! that the writes a half missed are lost, so that the pool may start from it (DRBD's
//! "discard my data", for a ZFS mirror over iSCSI).

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use super::exit;
use crate::cluster::attrd;
use crate::cluster::cib;
use crate::deadline::Deadline;
use crate::report::status::{outdated_marks, OutdatedOut};
use crate::tools::Tools;

/// Refused without --accept-data-loss (the mark stays).
pub const NOT_ACCEPTED: i32 = 3;

#[derive(Parser)]
#[command(
    after_help = "Exit codes: 0 done (or nothing marked), 1 the mark could not be cleared, \
3 --clear without --accept-data-loss (nothing changed), 64 usage error, 66 unreadable --cib-xml, \
69 the CIB could not be read.\n\n\
A node's half is marked outdated (permanent node attribute iscsi-mirror-outdated=1) when the \
pool holder wrote to its own half only; the shipped constraint keeps the pool off that node. \
The mark goes by itself once the half is resilvered. Clear it by hand only when the other \
half is lost for good: the writes it alone received are then lost."
)]
pub struct OutdatedArgs {
    /// Remove the mark of --node: the pool may then start from its (older) half.
    #[arg(long, requires = "node")]
    clear: bool,
    /// The node whose mark to clear.
    #[arg(long)]
    node: Option<String>,
    /// Confirm that the writes the half missed are lost for good.
    #[arg(long)]
    accept_data_loss: bool,
    /// Print JSON for tools (with schema_version).
    #[arg(long)]
    json: bool,
    /// Read the marks from a saved CIB (cibadmin -Q > FILE); only for listing.
    #[arg(long, value_name = "FILE", conflicts_with = "clear")]
    cib_xml: Option<PathBuf>,
}

fn when(since: Option<u64>) -> String {
    let Some(t) = since else {
        return "an unknown time".into();
    };
    let now = crate::observe::now_ms() / 1000;
    let ago = now.saturating_sub(t);
    format!(
        "unix time {t} ({} ago)",
        if ago < 120 {
            format!("{ago} s")
        } else if ago < 7200 {
            format!("{} min", ago / 60)
        } else {
            format!("{:.1} h", ago as f64 / 3600.0)
        }
    )
}

/// What clearing `m` gives up, in one paragraph.
pub fn what_is_lost(m: &OutdatedOut) -> String {
    format!(
        "{node}'s half of the mirror missed every write made {by}since {since}. Clearing the mark \
lets the pool start from {node}'s half: those writes are then lost for good. If the other half \
can still come back (its node rebooted, its disks intact), do not clear: bring it back, and the \
mark goes by itself after the resilver.",
        node = m.node,
        by = m.by.as_ref().map(|b| format!("on {b} ")).unwrap_or_default(),
        since = when(m.since_unix)
    )
}

pub fn run(a: OutdatedArgs) -> i32 {
    let deadline = Deadline::after(Duration::from_secs(30));
    let tools = Tools::defaults();
    let text = match &a.cib_xml {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("iscsi-mirror: cannot read {}: {e}", p.display());
                return exit::INPUT;
            }
        },
        None => match cib::query(&tools, deadline) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("iscsi-mirror: {e}");
                return exit::UNAVAILABLE;
            }
        },
    };
    let marks = outdated_marks(&cib::parse(&text));
    if !a.clear {
        if a.json {
            super::print_json(serde_json::json!({ "outdated": marks }));
        } else if marks.is_empty() {
            println!("no half of the mirror is marked outdated");
        } else {
            for m in &marks {
                println!(
                    "{}: outdated since {}{}",
                    m.node,
                    when(m.since_unix),
                    m.by.as_ref()
                        .map(|b| format!(", marked by {b}"))
                        .unwrap_or_default()
                );
            }
        }
        return 0;
    }
    let node = a.node.unwrap_or_default();
    let Some(m) = marks.iter().find(|m| m.node.eq_ignore_ascii_case(&node)) else {
        println!("{node}'s half is not marked outdated: nothing to clear");
        return 0;
    };
    println!("{}", what_is_lost(m));
    if !a.accept_data_loss {
        eprintln!(
            "iscsi-mirror: not cleared; to accept the loss: iscsi-mirror outdated --clear --node {} --accept-data-loss",
            m.node
        );
        return NOT_ACCEPTED;
    }
    for name in [attrd::OUTDATED, attrd::OUTDATED_SINCE, attrd::OUTDATED_BY] {
        if let Err(e) = attrd::delete_permanent(&tools, &m.node, name, deadline) {
            eprintln!("iscsi-mirror: {e}");
            return 1;
        }
    }
    tracing::warn!(
        "outdated mark of {} cleared by an admin: the writes it missed are given up",
        m.node
    );
    println!(
        "cleared. The pool may now start on {}; if it failed there before, let Pacemaker retry: pcs resource cleanup <pool resource>",
        m.node
    );
    0
}
