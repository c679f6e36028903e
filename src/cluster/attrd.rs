//! The only module that writes node attributes: the transient mirror health through
//! `attrd_updater`, and the permanent outdated mark through `crm_attribute`.

use std::time::Duration;

use crate::deadline::Deadline;
use crate::process::{self, Output, RunError};
use crate::tools::{Tools, ATTRD_UPDATER, CRM_ATTRIBUTE};

/// Pacemaker's node-health convention: `#health-*` attributes of green, yellow or red.
pub const HEALTH: &str = "#health-iscsi-mirror";
/// Permanent: this node's half of the mirror missed writes; the pool must not start here.
pub const OUTDATED: &str = "iscsi-mirror-outdated";
/// Permanent, beside the mark: when and by whom it was set (for the override's message).
pub const OUTDATED_SINCE: &str = "iscsi-mirror-outdated-since";
pub const OUTDATED_BY: &str = "iscsi-mirror-outdated-by";
/// Permanent: this node's ZFS hostid, published at start so that every node can tell
/// whether two share one (multihost cannot tell such nodes apart).
pub const HOSTID: &str = "iscsi-mirror-hostid";

fn checked(what: &str, r: Result<Output, RunError>) -> Result<(), String> {
    match r {
        Ok(o) if o.success() => Ok(()),
        Ok(o) => Err(format!(
            "{what} exited {}: {}",
            o.code.map_or("on a signal".to_string(), |c| c.to_string()),
            o.stderr.trim()
        )),
        Err(e) => Err(format!("{what}: {e}")),
    }
}

pub fn set_health(tools: &Tools, node: &str, colour: &str, deadline: Deadline) -> Result<(), String> {
    checked(
        "attrd_updater",
        process::run(
            &tools.program(&ATTRD_UPDATER),
            &["-n", HEALTH, "-N", node, "-U", colour],
            deadline.capped(Duration::from_secs(5)),
        ),
    )
}

pub fn clear_health(tools: &Tools, node: &str, deadline: Deadline) -> Result<(), String> {
    checked(
        "attrd_updater -D",
        process::run(
            &tools.program(&ATTRD_UPDATER),
            &["-n", HEALTH, "-N", node, "-D"],
            deadline.capped(Duration::from_secs(5)),
        ),
    )
}

/// Sets a permanent node attribute (CIB nodes section: survives restarts of the node).
pub fn set_permanent(
    tools: &Tools,
    node: &str,
    name: &str,
    value: &str,
    deadline: Deadline,
) -> Result<(), String> {
    permanent(tools, node, name, &["--update", value], "crm_attribute", deadline)
}

pub fn delete_permanent(tools: &Tools, node: &str, name: &str, deadline: Deadline) -> Result<(), String> {
    permanent(
        tools,
        node,
        name,
        &["--delete"],
        "crm_attribute --delete",
        deadline,
    )
}

/// crm_attribute on NODE's permanent attribute NAME, with the operation `op`.
fn permanent(
    tools: &Tools,
    node: &str,
    name: &str,
    op: &[&str],
    what: &str,
    deadline: Deadline,
) -> Result<(), String> {
    let mut args = vec!["--node", node, "--name", name];
    args.extend_from_slice(op);
    args.extend_from_slice(&["--lifetime", "forever"]);
    checked(
        what,
        process::run(
            &tools.program(&CRM_ATTRIBUTE),
            &args,
            deadline.capped(Duration::from_secs(10)),
        ),
    )
}
