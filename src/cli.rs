//! Subcommands for people: `cluster`, `status`, `check-timeouts`.

use std::ffi::OsString;

pub const SUBCOMMANDS: &[&str] = &[];

/// `status` is both an OCF action and a subcommand: under Pacemaker (or ocf-tester) the
/// OCF environment is present, at an admin's shell it is not.
pub fn is_cli_invocation(first: &str) -> bool {
    SUBCOMMANDS.contains(&first)
}

pub fn run(_args: &[OsString]) -> i32 {
    2
}
