//! The only module that runs `crm_node`: this node's name as the cluster knows it.

use std::time::Duration;

use crate::deadline::Deadline;
use crate::process;
use crate::tools::{Tools, CRM_NODE};

/// `crm_node -n`, when the cluster answers within a few seconds.
pub fn name(tools: &Tools, deadline: Deadline) -> Option<String> {
    process::run(
        &tools.program(&CRM_NODE),
        &["-n"],
        deadline.capped(Duration::from_secs(3)),
    )
    .ok()
    .filter(|o| o.success())
    .map(|o| o.stdout.trim().to_string())
    .filter(|n| !n.is_empty() && !n.contains(char::is_whitespace))
}
