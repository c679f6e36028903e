//! ZFS, as far as the mirror needs it: the pool's vdevs and their states, the resilver,
//! parsed from `zpool status` (ZFS 2.1's text, 2.3's text and JSON), and what can be read
//! without a child process (the pool's kstat). `zpool` is the only module that runs the tool.

pub mod json;
pub mod kstat;
pub mod text;
pub mod zpool;

use serde::Serialize;

/// One vdev of the pool's tree, in the order `zpool status` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vdev {
    /// As `zpool status -P` names it: the device path for a leaf, `mirror-0` for a mirror.
    pub name: String,
    pub state: String,
    /// Nesting below the pool: 1 for top-level vdevs, 2 for mirror members.
    pub depth: usize,
    /// A device, not a grouping (mirror, raidz...).
    pub leaf: bool,
    /// ZFS's device id (e.g. `scsi-36001405...-part1`), when the output gives it.
    pub devid: Option<String>,
    /// The text after the error counters ("too many errors", "(resilvering)", "was ...").
    pub note: String,
}

/// What the pool's scan line says.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "scan", rename_all = "snake_case")]
pub enum Scan {
    None,
    /// A resilver is running: how far, and ZFS's estimate when it gives one.
    Resilvering {
        percent: Option<f64>,
        eta_s: Option<u64>,
    },
    /// The last scan was a resilver that finished (or was canceled).
    ResilverDone,
    /// A scrub runs or ran; it does not change whether the mirror is whole.
    Scrub,
    /// A scan line this parser does not know.
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolStatus {
    pub name: String,
    /// The pool's own state line (ONLINE, DEGRADED, SUSPENDED...). It can say ONLINE while
    /// a mirror member is FAULTED (recorded on ZFS 2.3.2): vdev states are what count.
    pub state: String,
    pub vdevs: Vec<Vdev>,
    pub scan: Scan,
}

impl PoolStatus {
    pub fn leaves(&self) -> impl Iterator<Item = &Vdev> {
        self.vdevs.iter().filter(|v| v.leaf)
    }

    pub fn resilvering(&self) -> bool {
        matches!(self.scan, Scan::Resilvering { .. })
    }

    pub fn suspended(&self) -> bool {
        self.state == "SUSPENDED"
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    Status(PoolStatus),
    /// Not imported on this node (normal on the passive node).
    NotImported,
    /// zpool missing, hung or unreadable output.
    Unknown(String),
}

/// A leaf vdev that rides on one of this resource's paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteVdev {
    /// Index in `PoolStatus::vdevs`.
    pub vdev: usize,
    /// The leg and path (indices in the snapshot) whose session carries it.
    pub leg: usize,
    pub path: usize,
    /// How it was identified: "block device sdb of session 3", "by-path name", ...
    pub identified_by: String,
    /// When the device cannot be the session's LUN after all (its WWN differs from the
    /// one ZFS recorded): never brought back automatically.
    pub identity_mismatch: Option<String>,
}

/// What was read of the configured pool.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolFacts {
    pub name: String,
    pub reading: Reading,
    /// The remote leaves and the paths they ride on (empty unless the pool was read).
    pub remote: Vec<RemoteVdev>,
}
