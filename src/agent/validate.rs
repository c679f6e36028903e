//! validate-all, and the checks start shares with it.

use crate::agent::Ctx;
use crate::ocf::{Outcome, Status};

/// Tools the action cannot do without: 5 (not installed) with what to install.
pub fn installed(ctx: &Ctx) -> Option<Outcome> {
    (!ctx.iscsiadm().installed()).then(|| {
        Outcome::with(
            Status::ErrInstalled,
            format!(
                "iscsiadm ({}) not found or not executable: install open-iscsi or set the iscsiadm parameter",
                ctx.config.iscsiadm
            ),
        )
    })
}

/// The Corosync window check, as timeout_policy asks. Filled in by the timeout model.
pub fn timeout_policy(_ctx: &Ctx) -> Option<Outcome> {
    None
}

pub fn validate_all(ctx: &Ctx) -> Outcome {
    if let Some(o) = installed(ctx) {
        return o;
    }
    if let Some(o) = timeout_policy(ctx) {
        return o;
    }
    Outcome::ok()
}
