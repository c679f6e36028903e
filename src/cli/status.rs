//! `iscsi-mirror status`: this node's mirror as the monitor would judge it, without
//! repairing anything. The resource's parameters come from the CIB (or a saved one, or
//! `--param` flags), loaded as doctor loads them (`load`).

use std::time::Duration;

use clap::Parser;

use super::load::{load, Resource, ResourceArgs};
use crate::deadline::Deadline;
use crate::decide::{assess, pool};
use crate::observe;
use crate::report::status as report;

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
    #[command(flatten)]
    resource: ResourceArgs,
}

pub fn run(a: StatusArgs) -> i32 {
    let deadline = Deadline::after(Duration::from_secs(30));
    let Resource {
        id,
        config,
        cib,
        tools,
        sysfs,
        mut snap,
        ..
    } = match load(&a.resource, "status", deadline) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let need = assess::reachability_needed(&assess::legs(&snap));
    observe::reachability(&mut snap, &need, deadline);
    let assessment = assess::assess(&snap, false);
    let plan = config.pool.as_deref().and_then(|name| {
        let json = snap.state.state().and_then(|s| s.pool.json);
        observe::pool::read(&mut snap, name, &tools, &sysfs, &config.host_root, json, deadline);
        pool::for_snapshot(&snap, config.auto_online, 20_000)
    });
    let r = report::build(&id, &snap, &assessment, plan.as_ref(), cib.as_ref());
    if a.json {
        super::print_json(serde_json::to_value(&r).unwrap_or_default());
    } else if a.prometheus {
        let marks: Vec<String> = cib
            .as_ref()
            .map(|c| report::outdated_marks(c).into_iter().map(|m| m.node).collect())
            .unwrap_or_default();
        let verdict = crate::decide::verdict::Verdict {
            kind: r.verdict,
            reasons: r.reasons.clone(),
        };
        print!(
            "{}",
            crate::report::metrics::render(&crate::report::metrics::Input {
                resource: &id,
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
