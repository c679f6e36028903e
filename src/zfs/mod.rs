//! ZFS, as far as the mirror needs it: the pool's vdevs and their states (`zpool`, the
//! only module that runs it), and what can be read without a child process.

pub mod zpool;

pub use zpool::{PoolStatus, Reading, Vdev};

/// What was read of the configured pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolFacts {
    pub name: String,
    pub reading: Reading,
}
