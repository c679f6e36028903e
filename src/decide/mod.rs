//! Decisions as pure functions over plain data: no I/O, tested without processes.
//!
//! `assess` judges a `Snapshot` (the monitor table in `monitor`, the reconnect policy in
//! `reconnect`); `verdict` holds the typed result and its two encodings (OCF exit code,
//! health colour); `timeouts` and `timer_sources` are the timeout window's rules;
//! `recovery` is doctor's walk through the recovery procedure over the same snapshot.

pub mod assess;
pub mod mmp;
pub mod monitor;
pub mod pool;
pub mod reconnect;
pub mod recovery;
pub mod timeouts;
pub mod timer_sources;
pub mod verdict;
