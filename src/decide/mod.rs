//! Decisions as pure functions over plain data: no I/O, tested without processes.

pub mod monitor;
pub mod timeouts;
