//! The ZFS side of the simulated host: pools kept in the world (`sim.json`, key `zfs`), the
//! state changes ZFS makes (online, offline, clear, a resilver that starts, advances and
//! finishes, export, import, suspension) and the pool's kstat
//! (`$SIM/proc/spl/kstat/zfs/POOL/state`), kept in step with every change of the world.
//!
//! The model is the kernel's as `zpool` sees it (include/sys/fs/zfs.h: `vdev_stat_t`,
//! `pool_scan_stat_t`); what `zpool` prints from it is in `zpool.rs`. Vdev states are kept
//! as zpool's JSON names them (`vdev_state_str`: ONLINE, DEGRADED, FAULTED, OFFLINE,
//! REMOVED, CANT_OPEN) with the auxiliary state (`vdev_aux_str`: NONE, ERR_EXCEEDED,
//! OPEN_FAILED, ...).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use serde::{Deserialize, Serialize};

/// ZFS versions whose `zpool` is modelled: 2.3 (recorded, 2.3.2) and 2.1 (from source,
/// 2.1.11).
pub const VERSIONS: &[&str] = &["2.3", "2.1"];

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Zfs {
    /// "2.3" (the recorded 2.3.2) or "2.1" (2.1.11, modelled from its source).
    #[serde(default = "default_version")]
    pub version: String,
    /// `time(NULL)` as the simulated zpool sees it (rates of a running scan, the start of a
    /// resilver); `None`: the real clock.
    #[serde(default)]
    pub clock: Option<i64>,
    #[serde(default)]
    pub pools: Vec<Pool>,
}

impl Default for Zfs {
    fn default() -> Self {
        Zfs {
            version: default_version(),
            clock: None,
            pools: Vec::new(),
        }
    }
}

fn default_version() -> String {
    "2.3".into()
}

impl Zfs {
    pub fn now(&self) -> i64 {
        self.clock.unwrap_or_else(|| crate::world::now_secs() as i64)
    }

    pub fn pool(&self, name: &str) -> Option<&Pool> {
        self.pools.iter().find(|p| p.name == name)
    }

    pub fn pool_mut(&mut self, name: &str) -> Option<&mut Pool> {
        self.pools.iter_mut().find(|p| p.name == name)
    }

    /// The pool if it is imported here.
    pub fn imported(&self, name: &str) -> Option<&Pool> {
        self.pool(name).filter(|p| p.imported)
    }

    pub fn v21(&self) -> bool {
        self.version == "2.1"
    }
}

/// A pool property as `zpool get` shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Prop {
    pub name: String,
    pub value: String,
    /// "local", "default", ...
    pub source: String,
}

/// Why a pool is suspended (`ZPOOL_CONFIG_SUSPENDED`, `..._SUSPENDED_REASON`).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Suspend {
    /// I/O failures; the failmode property says wait or continue.
    Io,
    /// Multihost (MMP) writes failed or were late.
    Mmp,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pool {
    pub name: String,
    /// Imported on this host (else `zpool` does not see it and there is no kstat).
    #[serde(default = "yes")]
    pub imported: bool,
    pub guid: u64,
    #[serde(default = "four")]
    pub txg: u64,
    #[serde(default)]
    pub suspended: Option<Suspend>,
    /// Persistent data errors (`ZPOOL_CONFIG_ERRCOUNT`).
    #[serde(default)]
    pub error_count: u64,
    /// Properties set on the pool; others have their defaults ([`default_prop`]).
    #[serde(default)]
    pub props: Vec<Prop>,
    /// The last or running scan (`None`: never scanned, no scan line).
    #[serde(default)]
    pub scan: Option<Scan>,
    /// The root vdev, whose children are the top-level vdevs.
    pub root: Vdev,
}

fn yes() -> bool {
    true
}
fn four() -> u64 {
    4
}

/// `pool_scan_stat_t`, as the kernel hands it to zpool.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Scan {
    /// "RESILVER" or "SCRUB".
    pub func: String,
    /// "SCANNING", "FINISHED" or "CANCELED".
    pub state: String,
    pub start_time: i64,
    #[serde(default)]
    pub end_time: i64,
    #[serde(default)]
    pub to_examine: u64,
    #[serde(default)]
    pub examined: u64,
    #[serde(default)]
    pub skipped: u64,
    #[serde(default)]
    pub processed: u64,
    #[serde(default)]
    pub errors: u64,
    /// `pss_pass_exam` (JSON `bytes_per_scan`).
    #[serde(default)]
    pub pass_exam: u64,
    #[serde(default)]
    pub pass_start: i64,
    #[serde(default)]
    pub pass_scrub_pause: i64,
    #[serde(default)]
    pub pass_scrub_spent_paused: u64,
    /// `pss_pass_issued` (JSON `issued_bytes_per_scan`).
    #[serde(default)]
    pub pass_issued: u64,
    #[serde(default)]
    pub issued: u64,
}

/// The counters of `vdev_stat_t` that zpool shows.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stats {
    #[serde(default)]
    pub alloc: u64,
    #[serde(default)]
    pub space: u64,
    #[serde(default)]
    pub dspace: u64,
    #[serde(default)]
    pub rsize: u64,
    #[serde(default)]
    pub esize: u64,
    #[serde(default)]
    pub pspace: u64,
    #[serde(default)]
    pub self_healed: u64,
    #[serde(default)]
    pub read_errors: u64,
    #[serde(default)]
    pub write_errors: u64,
    #[serde(default)]
    pub checksum_errors: u64,
    #[serde(default)]
    pub slow_ios: u64,
    #[serde(default)]
    pub scan_processed: u64,
    #[serde(default)]
    pub checkpoint_space: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Vdev {
    /// "root", "mirror", "disk" or "file".
    pub vdev_type: String,
    /// A leaf's device path (`ZPOOL_CONFIG_PATH`).
    #[serde(default)]
    pub path: Option<String>,
    /// The top-level id: `mirror-<id>`.
    #[serde(default)]
    pub id: u64,
    pub guid: u64,
    /// `vdev_state_str`: ONLINE, DEGRADED, FAULTED, OFFLINE, REMOVED, CANT_OPEN.
    #[serde(default = "state_online")]
    pub state: String,
    /// `vdev_aux_str`: NONE, ERR_EXCEEDED, OPEN_FAILED, NO_REPLICAS, EXTERNAL, ...
    #[serde(default = "aux_none")]
    pub aux: String,
    #[serde(default)]
    pub stats: Stats,
    #[serde(default)]
    pub devid: Option<String>,
    #[serde(default)]
    pub phys_path: Option<String>,
    #[serde(default)]
    pub whole_disk: bool,
    /// The device was never found at import (`ZPOOL_CONFIG_NOT_PRESENT`): shown by guid,
    /// "was PATH".
    #[serde(default)]
    pub not_present: bool,
    #[serde(default)]
    pub resilver_deferred: bool,
    /// Bytes this leaf missed while it was away: what a resilver copies to it (its DTL).
    #[serde(default)]
    pub missed: u64,
    #[serde(default)]
    pub children: Vec<Vdev>,
}

fn state_online() -> String {
    "ONLINE".into()
}
fn aux_none() -> String {
    "NONE".into()
}

/// `vdev_aux_str` in index order (cmd/zpool/zpool_main.c).
pub const AUX: &[&str] = &[
    "NONE",
    "OPEN_FAILED",
    "CORRUPT_DATA",
    "NO_REPLICAS",
    "BAD_GUID_SUM",
    "TOO_SMALL",
    "BAD_LABEL",
    "VERSION_NEWER",
    "VERSION_OLDER",
    "UNSUP_FEAT",
    "SPARED",
    "ERR_EXCEEDED",
    "IO_FAILURE",
    "BAD_LOG",
    "EXTERNAL",
    "SPLIT_POOL",
    "BAD_ASHIFT",
    "EXTERNAL_PERSIST",
    "ACTIVE",
    "CHILDREN_OFFLINE",
    "ASHIFT_TOO_BIG",
];

/// `vdev_state_str` names the world keeps.
pub const STATES: &[&str] = &["OFFLINE", "REMOVED", "CANT_OPEN", "FAULTED", "DEGRADED", "ONLINE"];

/// `zpool_state_to_name`: the name the text shows for a state and aux.
pub fn state_name(state: &str, aux: &str) -> &'static str {
    match state {
        "CLOSED" | "OFFLINE" => "OFFLINE",
        "REMOVED" => "REMOVED",
        "CANT_OPEN" => match aux {
            "CORRUPT_DATA" | "BAD_LOG" => "FAULTED",
            "SPLIT_POOL" => "SPLIT",
            _ => "UNAVAIL",
        },
        "FAULTED" => "FAULTED",
        "DEGRADED" => "DEGRADED",
        "ONLINE" => "ONLINE",
        _ => "UNKNOWN",
    }
}

/// Takes a state as a test names it (the text's names, or the JSON's) and gives the world's
/// state and a default aux.
pub fn parse_state(s: &str) -> Result<(String, &'static str)> {
    Ok(match s.to_ascii_uppercase().as_str() {
        "ONLINE" | "HEALTHY" => ("ONLINE".into(), "NONE"),
        "DEGRADED" => ("DEGRADED".into(), "NONE"),
        "FAULTED" => ("FAULTED".into(), "ERR_EXCEEDED"),
        "OFFLINE" => ("OFFLINE".into(), "NONE"),
        "REMOVED" => ("REMOVED".into(), "NONE"),
        "UNAVAIL" | "CANT_OPEN" => ("CANT_OPEN".into(), "OPEN_FAILED"),
        other => bail!("unknown vdev state {other:?}: ONLINE DEGRADED FAULTED OFFLINE REMOVED UNAVAIL"),
    })
}

/// A stable 64-bit id from a text (FNV-1a): guids that do not change between runs.
pub fn guid_of(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h | (1 << 60)
}

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

impl Vdev {
    /// A leaf disk at `path`, ONLINE, with the sizes of a 2 GiB partition.
    pub fn disk(pool: &str, path: &str) -> Vdev {
        Vdev {
            vdev_type: "disk".into(),
            path: Some(path.to_string()),
            id: 0,
            guid: guid_of(&format!("{pool}/{path}")),
            state: state_online(),
            aux: aux_none(),
            stats: Stats {
                rsize: 2 * GIB - 2 * MIB,
                pspace: 2 * GIB - 2 * MIB,
                ..Stats::default()
            },
            devid: None,
            phys_path: None,
            whole_disk: false,
            not_present: false,
            resilver_deferred: false,
            missed: 0,
            children: Vec::new(),
        }
    }

    pub fn is_leaf(&self) -> bool {
        self.children.is_empty() && self.vdev_type != "root"
    }

    pub fn healthy(&self) -> bool {
        self.state == "ONLINE"
    }

    /// Dead to its parent (`!vdev_readable`): below DEGRADED.
    fn dead(&self) -> bool {
        matches!(
            self.state.as_str(),
            "OFFLINE" | "REMOVED" | "CANT_OPEN" | "FAULTED"
        )
    }

    /// The name `zpool_vdev_name` gives it with VDEV_NAME_TYPE_ID; `full`: -P.
    pub fn name(&self, pool: &str, full: bool) -> String {
        if self.vdev_type == "root" {
            return pool.to_string();
        }
        if self.not_present {
            return self.guid.to_string();
        }
        if let Some(p) = &self.path {
            let mut name = p.as_str();
            if self.vdev_type == "disk" && !full {
                name = strip_path(name);
            }
            if self.whole_disk && !full {
                return strip_partition(name);
            }
            return name.to_string();
        }
        format!("{}-{}", self.vdev_type, self.id)
    }

    pub fn leaves(&self) -> Vec<&Vdev> {
        let mut out = Vec::new();
        self.walk(&mut |v| {
            if v.is_leaf() {
                out.push(v)
            }
        });
        out
    }

    fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Vdev)) {
        f(self);
        for c in &self.children {
            c.walk(f);
        }
    }

    fn walk_mut(&mut self, f: &mut dyn FnMut(&mut Vdev)) {
        f(self);
        for c in &mut self.children {
            c.walk_mut(f);
        }
    }

    /// `vdev_propagate_state` from the leaves up: a mirror is DEGRADED when a child is
    /// dead or degraded, CANT_OPEN (NO_REPLICAS) or OFFLINE (CHILDREN_OFFLINE) when all
    /// are dead (vdev_mirror.c), the root likewise over its top-level vdevs (vdev_root.c).
    pub fn propagate(&mut self) {
        if self.children.is_empty() {
            return;
        }
        for c in &mut self.children {
            c.propagate();
        }
        let n = self.children.len();
        let faulted = self.children.iter().filter(|c| c.dead()).count();
        let degraded = self
            .children
            .iter()
            .filter(|c| !c.dead() && c.state == "DEGRADED")
            .count();
        let (state, aux) = if self.vdev_type == "root" {
            if faulted > 0 {
                ("CANT_OPEN", "NO_REPLICAS")
            } else if degraded > 0 {
                ("DEGRADED", "NONE")
            } else {
                ("ONLINE", "NONE")
            }
        } else if faulted == n {
            if self.children.iter().all(|c| c.state == "OFFLINE") {
                ("OFFLINE", "CHILDREN_OFFLINE")
            } else {
                ("CANT_OPEN", "NO_REPLICAS")
            }
        } else if faulted + degraded > 0 {
            ("DEGRADED", "NONE")
        } else {
            ("ONLINE", "NONE")
        };
        self.state = state.into();
        self.aux = aux.into();
    }
}

/// `zfs_strip_path`: the name below the first default import directory it is in.
pub fn strip_path(path: &str) -> &str {
    const DIRS: &[&str] = &[
        "/dev/disk/by-vdev",
        "/dev/mapper",
        "/dev/disk/by-partlabel",
        "/dev/disk/by-partuuid",
        "/dev/disk/by-label",
        "/dev/disk/by-uuid",
        "/dev/disk/by-id",
        "/dev/disk/by-path",
        "/dev",
    ];
    for d in DIRS {
        if let Some(rest) = path.strip_prefix(d) {
            if let Some(rest) = rest.strip_prefix('/') {
                return rest;
            }
        }
    }
    path
}

/// `zfs_strip_partition` (lib/libzutil/os/linux/zutil_device_path_os.c).
pub fn strip_partition(name: &str) -> String {
    let b = name.as_bytes();
    let cut = if let Some(i) = name.find("-part").filter(|i| *i > 0) {
        Some((i, i + 5))
    } else if let Some(i) = name.rfind('p').filter(|i| *i > 1 && b[i - 1].is_ascii_digit()) {
        Some((i, i + 1))
    } else if b.len() > 2 && matches!(b[0], b'h' | b's' | b'v') && b[1] == b'd' {
        let d = 2 + b[2..].iter().take_while(|c| c.is_ascii_alphabetic()).count();
        Some((d, d))
    } else if name.starts_with("xvd") {
        let d = 3 + b[3..].iter().take_while(|c| c.is_ascii_alphabetic()).count();
        Some((d, d))
    } else {
        None
    };
    match cut {
        Some((part, d)) if d < b.len() && b[d..].iter().all(u8::is_ascii_digit) => name[..part].to_string(),
        _ => name.to_string(),
    }
}

/// `zpool_status_t`, as far as the model reaches (lib/libzfs/libzfs_status.c).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Ok,
    Resilvering,
    IoFailureWait,
    IoFailureContinue,
    IoFailureMmp,
    FaultedDevNr,
    MissingDevNr,
    CorruptLabelNr,
    CorruptData,
    FaultedDevR,
    MissingDevR,
    CorruptLabelR,
    FailingDev,
    OfflineDev,
    RemovedDev,
}

impl Reason {
    /// `zfs_msgid_table`.
    pub fn msgid(self) -> Option<&'static str> {
        Some(match self {
            Reason::MissingDevR => "ZFS-8000-2Q",
            Reason::MissingDevNr => "ZFS-8000-3C",
            Reason::CorruptLabelR => "ZFS-8000-4J",
            Reason::CorruptLabelNr => "ZFS-8000-5E",
            Reason::CorruptData => "ZFS-8000-8A",
            Reason::FailingDev => "ZFS-8000-9P",
            Reason::IoFailureWait => "ZFS-8000-HC",
            Reason::IoFailureContinue => "ZFS-8000-JQ",
            Reason::IoFailureMmp => "ZFS-8000-MM",
            _ => return None,
        })
    }
}

impl Pool {
    /// A pool `name` = mirror-0 of `leaves` (device paths), imported, healthy, never
    /// scanned, multihost off, failmode wait (the defaults), sizes of the recorded 2 GiB
    /// partitions.
    pub fn mirror(name: &str, leaves: &[&str]) -> Pool {
        let children: Vec<Vdev> = leaves.iter().map(|p| Vdev::disk(name, p)).collect();
        let space = 1920 * MIB;
        let mirror = Vdev {
            vdev_type: "mirror".into(),
            path: None,
            id: 0,
            guid: guid_of(&format!("{name}/mirror-0")),
            stats: Stats {
                alloc: 16 * MIB,
                space,
                dspace: space,
                rsize: space,
                ..Stats::default()
            },
            children,
            ..Vdev::disk(name, "")
        };
        let guid = guid_of(name);
        Pool {
            name: name.to_string(),
            imported: true,
            guid,
            txg: 4,
            suspended: None,
            error_count: 0,
            props: Vec::new(),
            scan: None,
            root: Vdev {
                vdev_type: "root".into(),
                path: None,
                id: 0,
                guid,
                stats: Stats {
                    alloc: 16 * MIB,
                    space,
                    dspace: space,
                    ..Stats::default()
                },
                children: vec![mirror],
                ..Vdev::disk(name, "")
            },
        }
    }

    pub fn leaves(&self) -> Vec<&Vdev> {
        self.root.leaves()
    }

    /// The vdev `key` names: a leaf's full path, its short name (as `zpool status`
    /// without -P shows it), a guid, or an interior vdev's `type-id` (zpool_find_vdev).
    pub fn find(&self, key: &str) -> Option<&Vdev> {
        let mut found = None;
        let name = self.name.clone();
        self.root.walk(&mut |v| {
            if found.is_none() && v.vdev_type != "root" && matches(v, &name, key) {
                found = Some(v);
            }
        });
        found
    }

    pub fn find_mut(&mut self, key: &str) -> Option<&mut Vdev> {
        fn go<'a>(v: &'a mut Vdev, pool: &str, key: &str) -> Option<&'a mut Vdev> {
            if v.vdev_type != "root" && matches(v, pool, key) {
                return Some(v);
            }
            v.children.iter_mut().find_map(|c| go(c, pool, key))
        }
        let name = self.name.clone();
        go(&mut self.root, &name, key)
    }

    /// The property's value and source: set, or its default.
    pub fn prop(&self, name: &str) -> Option<(String, String)> {
        if let Some(p) = self.props.iter().find(|p| p.name == name) {
            return Some((p.value.clone(), p.source.clone()));
        }
        default_prop(name).map(|v| (v.to_string(), "default".to_string()))
    }

    pub fn set_prop(&mut self, name: &str, value: &str) {
        self.props.retain(|p| p.name != name);
        self.props.push(Prop {
            name: name.into(),
            value: value.into(),
            source: "local".into(),
        });
    }

    /// `check_status` for an imported pool.
    pub fn reason(&self) -> Reason {
        if let Some(s) = &self.scan {
            if s.func == "RESILVER" && s.state == "SCANNING" {
                return Reason::Resilvering;
            }
        }
        if let Some(why) = self.suspended {
            return match why {
                Suspend::Mmp => Reason::IoFailureMmp,
                Suspend::Io if self.prop("failmode").map(|p| p.0).as_deref() == Some("continue") => {
                    Reason::IoFailureContinue
                }
                Suspend::Io => Reason::IoFailureWait,
            };
        }
        let leaves = self.leaves();
        let any = |f: &dyn Fn(&Vdev) -> bool| leaves.iter().any(|v| f(v));
        let faulted = |v: &Vdev| v.state == "FAULTED";
        let missing = |v: &Vdev| v.state == "CANT_OPEN" && v.aux == "OPEN_FAILED";
        let broken = |v: &Vdev| v.state == "CANT_OPEN";
        if self.root.state == "CANT_OPEN" {
            if any(&faulted) {
                return Reason::FaultedDevNr;
            }
            if any(&missing) {
                return Reason::MissingDevNr;
            }
            if any(&broken) {
                return Reason::CorruptLabelNr;
            }
        }
        if self.error_count != 0 {
            return Reason::CorruptData;
        }
        if any(&faulted) {
            return Reason::FaultedDevR;
        }
        if any(&missing) {
            return Reason::MissingDevR;
        }
        if any(&broken) {
            return Reason::CorruptLabelR;
        }
        let errors = |v: &Vdev| {
            v.state == "DEGRADED"
                || v.stats.read_errors != 0
                || v.stats.write_errors != 0
                || v.stats.checksum_errors != 0
        };
        if any(&errors) {
            return Reason::FailingDev;
        }
        if any(&|v: &Vdev| v.state == "OFFLINE") {
            return Reason::OfflineDev;
        }
        if any(&|v: &Vdev| v.state == "REMOVED") {
            return Reason::RemovedDev;
        }
        Reason::Ok
    }

    /// `zpool_get_state_str`: the "state:" line, `zpool list`'s health.
    pub fn health(&self) -> &'static str {
        match self.reason() {
            Reason::IoFailureWait | Reason::IoFailureContinue | Reason::IoFailureMmp => "SUSPENDED",
            _ => state_name(&self.root.state, &self.root.aux),
        }
    }

    /// `spa_state_to_name`: what the kstat says.
    pub fn kstat_state(&self) -> &'static str {
        if self.suspended.is_some() {
            "SUSPENDED"
        } else {
            state_name(&self.root.state, &self.root.aux)
        }
    }

    pub fn resilvering(&self) -> bool {
        self.reason() == Reason::Resilvering
    }

    /// Starts a resilver of the healthy leaves that missed something (`missed` > 0), as
    /// `spa_async_request(SPA_ASYNC_RESILVER)` does after a device comes back. Returns
    /// whether one started.
    pub fn start_resilver(&mut self, now: i64) -> bool {
        let mut any = false;
        self.root.walk_mut(&mut |v| {
            if v.is_leaf() && v.healthy() && v.missed > 0 {
                any = true;
                v.stats.scan_processed = 0;
                v.resilver_deferred = false;
            }
        });
        if !any {
            return false;
        }
        self.scan = Some(Scan {
            func: "RESILVER".into(),
            state: "SCANNING".into(),
            start_time: now,
            to_examine: self.root.stats.alloc,
            pass_start: now,
            ..Scan::default()
        });
        self.txg += 1;
        true
    }

    /// Moves the running resilver to `percent` done: issued (what "% done" counts) and
    /// examined that far, the leaves' processed bytes their share of what they missed.
    pub fn advance_resilver(&mut self, percent: f64) -> Result<()> {
        let p = percent.clamp(0.0, 100.0) / 100.0;
        let Some(scan) = self.scan.as_mut().filter(|s| s.state == "SCANNING") else {
            bail!("pool {}: no resilver is running", self.name);
        };
        let total = scan.to_examine.saturating_sub(scan.skipped);
        scan.issued = (total as f64 * p).round() as u64;
        scan.pass_issued = scan.issued;
        scan.examined = scan.examined.max(scan.issued);
        let mut processed = 0;
        self.root.walk_mut(&mut |v| {
            if v.is_leaf() && v.healthy() && v.missed > 0 && !v.resilver_deferred {
                v.stats.scan_processed = (v.missed as f64 * p).round() as u64;
                processed += v.stats.scan_processed;
            }
        });
        scan.processed = processed;
        Ok(())
    }

    /// Ends the running resilver at `now`: everything issued, the leaves caught up. A
    /// resilver deferred meanwhile starts next (dsl_scan.c, resilver_defer).
    pub fn finish_resilver(&mut self, now: i64) -> Result<()> {
        self.advance_resilver(100.0)?;
        if let Some(scan) = self.scan.as_mut() {
            scan.state = "FINISHED".into();
            scan.end_time = now;
        }
        self.root.walk_mut(&mut |v| {
            if v.is_leaf() && v.healthy() && !v.resilver_deferred {
                v.missed = 0;
            }
        });
        self.txg += 1;
        if self.leaves().iter().any(|v| v.resilver_deferred) {
            self.start_resilver(now);
        }
        Ok(())
    }
}

fn matches(v: &Vdev, pool: &str, key: &str) -> bool {
    if key.bytes().all(|b| b.is_ascii_digit()) && !key.is_empty() {
        return key.parse::<u64>().ok() == Some(v.guid);
    }
    if v.path.as_deref() == Some(key) {
        return true;
    }
    !key.starts_with('/') && v.name(pool, false) == key
}

/// Defaults of the pool properties the model serves (module/zcommon/zpool_prop.c).
pub fn default_prop(name: &str) -> Option<&'static str> {
    Some(match name {
        "multihost" => "off",
        "failmode" => "wait",
        "autoexpand" => "off",
        "autoreplace" => "off",
        "autotrim" => "off",
        "readonly" => "off",
        "cachefile" => "-",
        "altroot" => "-",
        "comment" => "-",
        _ => return None,
    })
}

/// Whether the device a leaf names could be opened now: its path exists under the sim root
/// and, when it is a block device of an iSCSI session, that session is LOGGED_IN (a failed
/// or freed session's disk fails every I/O, so ZFS cannot reopen it).
pub fn device_usable(root: &Path, path: &str) -> bool {
    let p = root.join(path.trim_start_matches('/'));
    let Ok(real) = fs::canonicalize(&p) else {
        return false;
    };
    let Some(name) = real.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    match session_of_block(root, name) {
        Some(sid) => {
            let state = fs::read_to_string(root.join(format!("sys/class/iscsi_session/session{sid}/state")))
                .unwrap_or_default();
            state.trim() == "LOGGED_IN"
        }
        None => true,
    }
}

/// The iSCSI session a block device (disk or partition) belongs to, from its sysfs path.
pub fn session_of_block(root: &Path, name: &str) -> Option<u32> {
    let real = fs::canonicalize(root.join("sys/class/block").join(name)).ok()?;
    real.components().find_map(|c| {
        c.as_os_str()
            .to_str()?
            .strip_prefix("session")?
            .parse::<u32>()
            .ok()
    })
}

fn kstat_dir(root: &Path, pool: &str) -> PathBuf {
    root.join("proc/spl/kstat/zfs").join(pool)
}

/// Writes `proc/spl/kstat/zfs/POOL/state` for every imported pool and removes the
/// directory of every pool the world has that is not imported.
pub fn sync_kstats(root: &Path, zfs: &Zfs) -> io::Result<()> {
    for p in &zfs.pools {
        let dir = kstat_dir(root, &p.name);
        if p.imported {
            fs::create_dir_all(&dir)?;
            let want = format!("{}\n", p.kstat_state());
            if fs::read_to_string(dir.join("state")).ok().as_deref() != Some(want.as_str()) {
                fs::write(dir.join("state"), want)?;
            }
        } else if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
    }
    Ok(())
}

/// Removes a pool's kstat (the pool left the world).
pub fn remove_kstat(root: &Path, pool: &str) -> io::Result<()> {
    let dir = kstat_dir(root, pool);
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    Ok(())
}

/// What `zpool online` did to a leaf.
#[derive(Debug, PartialEq, Eq)]
pub enum Onlined {
    /// Reopened: ONLINE; whether a resilver started (or was deferred behind one).
    Healthy { resilver: bool },
    /// The device could not be opened: CANT_OPEN (UNAVAIL "cannot open").
    CantOpen,
}

/// `vdev_online`: reopens the leaf `key`. `usable`: whether its device can be opened.
pub fn online(pool: &mut Pool, key: &str, usable: bool, now: i64) -> Result<Onlined> {
    let running = pool.resilvering();
    let v = pool
        .find_mut(key)
        .ok_or_else(|| anyhow!("no vdev {key} in pool"))?;
    if !v.is_leaf() {
        bail!("{key} is not a leaf vdev");
    }
    let out = if usable {
        v.state = "ONLINE".into();
        v.aux = "NONE".into();
        let needs = v.missed > 0;
        if needs && running {
            v.resilver_deferred = true;
        }
        pool.root.propagate();
        let resilver = needs && (running || pool.start_resilver(now));
        Onlined::Healthy { resilver }
    } else {
        v.state = "CANT_OPEN".into();
        v.aux = "OPEN_FAILED".into();
        pool.root.propagate();
        Onlined::CantOpen
    };
    pool.txg += 1;
    Ok(out)
}

/// `vdev_offline`: Err(true) when no other replica would be left (EBUSY).
pub fn offline(pool: &mut Pool, key: &str) -> Result<(), bool> {
    let mut trial = pool.clone();
    let v = trial.find_mut(key).ok_or(false)?;
    if !v.is_leaf() {
        return Err(false);
    }
    v.state = "OFFLINE".into();
    v.aux = "NONE".into();
    trial.root.propagate();
    if trial.root.dead() {
        return Err(true);
    }
    trial.txg += 1;
    *pool = trial;
    Ok(())
}

/// `zpool clear`: the error counters of the vdev (all when `None`) zeroed, its FAULTED
/// leaves reopened (ONLINE when their device is usable, a resilver when they missed
/// something), a suspended pool resumed when its devices are back.
pub fn clear(pool: &mut Pool, key: Option<&str>, usable: &dyn Fn(&str) -> bool, now: i64) -> Result<()> {
    let target = match key {
        Some(k) => pool.find_mut(k).ok_or_else(|| anyhow!("no vdev {k} in pool"))?,
        None => &mut pool.root,
    };
    target.walk_mut(&mut |v| {
        v.stats.read_errors = 0;
        v.stats.write_errors = 0;
        v.stats.checksum_errors = 0;
        v.stats.slow_ios = 0;
        if v.is_leaf() && matches!(v.state.as_str(), "FAULTED" | "CANT_OPEN" | "DEGRADED") {
            let ok = v.path.as_deref().is_some_and(usable);
            if ok {
                v.state = "ONLINE".into();
                v.aux = "NONE".into();
            }
        }
    });
    pool.root.propagate();
    if pool.suspended.is_some() && !pool.root.dead() {
        pool.suspended = None;
    }
    if !pool.resilvering() {
        pool.start_resilver(now);
    }
    pool.txg += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_zpool_strips_them() {
        assert_eq!(
            strip_path("/dev/disk/by-path/ip-1:3260-iscsi-x-lun-0-part1"),
            "ip-1:3260-iscsi-x-lun-0-part1"
        );
        assert_eq!(strip_path("/dev/sdb1"), "sdb1");
        assert_eq!(strip_path("/tmp/file"), "/tmp/file");
        assert_eq!(strip_partition("sdb1"), "sdb");
        assert_eq!(strip_partition("nvme0n1p1"), "nvme0n1");
        assert_eq!(strip_partition("ata-X-part1"), "ata-X");
        assert_eq!(strip_partition("sdb"), "sdb");
    }

    #[test]
    fn mirror_states_propagate_as_the_kernel_does() {
        let mut p = Pool::mirror("p", &["/dev/a", "/dev/b"]);
        offline(&mut p, "/dev/b").unwrap();
        assert_eq!(
            (p.root.children[0].state.as_str(), p.health()),
            ("DEGRADED", "DEGRADED")
        );
        assert_eq!(offline(&mut p, "/dev/a"), Err(true));
        assert_eq!(p.reason(), Reason::OfflineDev);
        p.find_mut("/dev/b").unwrap().missed = 1000;
        assert_eq!(
            online(&mut p, "b", true, 100).unwrap(),
            Onlined::Healthy { resilver: true }
        );
        assert_eq!((p.health(), p.reason()), ("ONLINE", Reason::Resilvering));
        p.finish_resilver(150).unwrap();
        assert_eq!(p.reason(), Reason::Ok);
        assert_eq!(p.leaves()[1].stats.scan_processed, 1000);
    }
}
