//! The mirror's health as a node attribute in Pacemaker's `#health-*` convention, so that
//! placement can prefer a node whose mirror is whole. Published only when it changes.

use std::time::Duration;

use crate::agent::Ctx;
use crate::process;
use crate::state::InstanceState;

pub const ATTRIBUTE: &str = "#health-iscsi-mirror";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Green,
    Yellow,
    Red,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Green => "green",
            Health::Yellow => "yellow",
            Health::Red => "red",
        }
    }
}

/// Only under Pacemaker: ocf-tester and the CLI have no attribute manager to talk to.
fn in_cluster(ctx: &Ctx) -> bool {
    ctx.env.on_node().is_some()
}

pub fn publish(ctx: &Ctx, state: Option<InstanceState>, health: Health) {
    let Some(mut state) = state.filter(|s| s.started) else {
        return;
    };
    if state.health.as_deref() == Some(health.as_str()) || !in_cluster(ctx) {
        return;
    }
    let node = ctx.node_name(Some(&state));
    let budget = ctx.deadline.capped(Duration::from_secs(5));
    match process::run(
        "attrd_updater",
        &["-n", ATTRIBUTE, "-N", &node, "-U", health.as_str()],
        budget,
    ) {
        Ok(o) if o.success() => tracing::info!("mirror health on {node}: {}", health.as_str()),
        Ok(o) => tracing::warn!(
            "attrd_updater exited {}: {}",
            o.code.map_or("on a signal".to_string(), |c| c.to_string()),
            o.stderr.trim()
        ),
        Err(e) => tracing::warn!("attrd_updater: {e}"),
    }
    // Recorded even when publishing failed, so a healthy monitor never retries in a loop.
    state.health = Some(health.as_str().to_string());
    if let Err(e) = ctx.store.save(&state) {
        tracing::warn!("could not record the published health: {e}");
    }
}

pub fn clear(ctx: &Ctx) {
    if !in_cluster(ctx) {
        return;
    }
    let node = ctx.node_name(None);
    let budget = ctx.deadline.capped(Duration::from_secs(5));
    if let Err(e) = process::run("attrd_updater", &["-n", ATTRIBUTE, "-N", &node, "-D"], budget) {
        tracing::warn!("attrd_updater -D: {e}");
    }
}
