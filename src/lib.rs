//! iscsi-mirror: one node's iSCSI legs of a two-node ZFS mirror, managed for Pacemaker.
//!
//! Every action has one shape: `observe` the node once into plain data (a `Snapshot`),
//! judge it with the pure functions of `decide`, carry out the repairs through `act`,
//! and encode the verdict (`ocf` for Pacemaker, `report` for people and tools).
//! Each outside tool or kernel interface has one owning module (`tools` lists them all:
//! `iscsi::{iscsiadm, sysfs, udev}`, `cluster::{crm_mon, corosync, cib, attrd, crm_node}`,
//! `zfs::zpool`, `net`, `state`); nothing else talks to it.

pub mod act;
pub mod agent;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod deadline;
pub mod decide;
pub mod iscsi;
pub mod logging;
pub mod metadata;
pub mod net;
pub mod observe;
pub mod ocf;
pub mod params;
pub mod process;
pub mod redact;
pub mod report;
pub mod state;
pub mod target;
pub mod text;
pub mod tools;
pub mod zed;
pub mod zfs;

use std::ffi::OsString;
use std::panic;

/// Runs the program and returns its exit code. A panic never reaches the user as a
/// Rust backtrace and exit 101: it becomes an OCF generic error with an exit reason.
pub fn entry(args: Vec<OsString>) -> i32 {
    // Like any Unix tool: `iscsi-mirror meta-data | head` ends quietly, not with a panic.
    // SAFETY: restoring the default disposition of one signal before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    // An ignored SIGCHLD survives exec; it would make the kernel reap our children at once,
    // and `process::run` needs each child's zombie to pin its process group until killed.
    // SAFETY: as above, one signal's default disposition restored before any thread exists.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
    panic::set_hook(Box::new(|info| {
        let prefix =
            std::env::var("OCF_EXIT_REASON_PREFIX").unwrap_or_else(|_| "ocf-exit-reason:".to_string());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("{prefix}internal error{place}; please report it with the agent's log");
    }));
    match panic::catch_unwind(|| dispatch(&args)) {
        Ok(code) => code,
        Err(_) => ocf::Status::ErrGeneric.code(),
    }
}

fn dispatch(args: &[OsString]) -> i32 {
    if zed::is_zedlet_invocation() {
        zed::run()
    } else if cli::is_cli_invocation(args) {
        cli::run(args)
    } else {
        agent::run(args.get(1).and_then(|a| a.to_str()).unwrap_or(""))
    }
}
