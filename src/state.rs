//! Per-instance state and lock under HA_RSCTMP, so concurrent invocations of one
//! resource instance are serialised and a monitor knows whether we were started.
//!
//! The file exists from start to stop: its presence is what "started here" means, its
//! contents add what start learnt (paths, their addresses) and what the monitor carries
//! from one run to the next (reconnect back-off, the health it published, the mirror's
//! last reading). A file that exists but cannot be read still means "started".

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::deadline::Deadline;
use crate::target::{Host, Iqn, Path, Portal};

/// Version of the file's layout; files without one are the first layout (v1).
pub const SCHEMA: u32 = 2;

/// Longest file name we build from an instance name (NAME_MAX is 255).
const MAX_NAME: usize = 120;

/// Reconnect bookkeeping of one path, kept across monitor runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Backoff {
    /// Failed reconnect attempts in a row.
    pub failures: u32,
    pub last_attempt_unix: u64,
    /// No new attempt before this time, ms since the epoch (exponential back-off with
    /// full jitter); 0: no back-off.
    #[serde(default)]
    pub next_attempt_ms: u64,
    /// Since when reconnecting has been failing (transient errors get a grace).
    #[serde(default)]
    pub failing_since_unix: Option<u64>,
    /// The last failed attempt's reason, for the degraded message while backing off.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Since when the kernel has been reconnecting this path while its portal answered.
    #[serde(default)]
    pub recovering_since_unix: Option<u64>,
}

/// One path this instance logged in to, as start recorded it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PathRecord {
    pub target: String,
    pub portal: String,
    /// What a host-name portal resolved to at start: sessions show addresses, and stop
    /// must find them without asking DNS.
    #[serde(default)]
    pub addresses: Vec<IpAddr>,
    /// With iSNS discovery the configured portal is the iSNS server: the target's portal
    /// the server gave at start ("addr:port"), used for everything after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_portal: Option<String>,
    #[serde(default)]
    pub backoff: Backoff,
    /// The node that serves this path's target (peers mode, or peer_node), for the ZED
    /// hook, which has only the vdev's device to go by.
    #[serde(default)]
    pub peer_node: Option<String>,
    /// The session last seen logged in for this path, and since when (ms): how long the
    /// leg has been up before a returned vdev is brought back.
    #[serde(default)]
    pub up_sid: Option<u32>,
    #[serde(default)]
    pub up_since_ms: Option<u64>,
}

impl PathRecord {
    pub fn of(path: &Path) -> PathRecord {
        PathRecord {
            target: path.target.to_string(),
            portal: path.portal.to_string(),
            ..Default::default()
        }
    }

    /// The path, when the recorded names still parse.
    pub fn path(&self) -> Option<Path> {
        Some(Path {
            target: Iqn::parse(&self.target).ok()?,
            portal: Portal::parse(&self.portal).ok()?,
        })
    }

    pub fn is(&self, path: &Path) -> bool {
        self.path().as_ref() == Some(path)
    }
}

/// What the monitor remembers of the pool between runs (see `decide::pool`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PoolMemory {
    /// The last reading found the mirror whole (every vdev ONLINE, no resilver), or the
    /// pool is not imported here.
    #[serde(default)]
    pub whole: bool,
    /// The remote legs' kernel state when the pool was last read: while it is unchanged
    /// and the mirror was whole, the healthy monitor reads no pool.
    #[serde(default)]
    pub legs_fingerprint: String,
    /// ZED's event counter (the hook's file) at the last reading.
    #[serde(default)]
    pub zed_generation: u64,
    /// Since when (ms) each remote vdev has been seen waiting with its session up.
    #[serde(default)]
    pub waiting_since_ms: Vec<(String, u64)>,
    /// The last `zpool online` this agent ran: vdev and time (ms).
    #[serde(default)]
    pub last_online: Option<(String, u64)>,
    /// Nodes this agent marked outdated, to clear once their half is resilvered.
    #[serde(default)]
    pub marked: Vec<String>,
    /// The pool's state in its kstat when it was last read (ONLINE, DEGRADED...): a change
    /// calls for a reading.
    #[serde(default)]
    pub pool_state: Option<String>,
    /// Whether `zpool status -j` works here (ZFS 2.3+); unknown until tried.
    #[serde(default)]
    pub json: Option<bool>,
    /// Remote vdevs that fell behind (seen not ONLINE, unix seconds of the last such sight):
    /// back ONLINE, one is caught up only once a resilver has finished after that time.
    #[serde(default)]
    pub behind_since_unix: Vec<(String, u64)>,
    /// Leaves once seen on a path's own block device, by the name ZFS gives them: a
    /// name such as /dev/disk/by-partlabel/data-b says nothing of the path, and while the
    /// device is gone (the session logged out) this is how the leaf is still known.
    #[serde(default)]
    pub remote_vdevs: Vec<RememberedVdev>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RememberedVdev {
    pub vdev: String,
    pub target: String,
    pub portal: String,
}

/// How many leaves are remembered at most (the newest kept): a pool has a handful.
pub const REMEMBERED_VDEVS: usize = 64;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InstanceState {
    pub schema: u32,
    pub started: bool,
    /// The node name the legs were chosen for.
    pub node: String,
    pub paths: Vec<PathRecord>,
    /// The health last published as a node attribute, to publish only changes.
    #[serde(default)]
    pub health: Option<String>,
    #[serde(default)]
    pub pool: PoolMemory,
    /// What the ZED hook needs of this instance's configuration (it runs outside
    /// Pacemaker and reads only this file).
    #[serde(default)]
    pub hook: Option<HookConfig>,
}

/// The instance's settings the ZED hook acts by.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct HookConfig {
    pub pool: String,
    pub host_root: String,
    pub crm_mon: String,
}

impl Default for InstanceState {
    fn default() -> Self {
        InstanceState {
            schema: SCHEMA,
            started: false,
            node: String::new(),
            paths: Vec::new(),
            health: None,
            pool: PoolMemory::default(),
            hook: None,
        }
    }
}

impl InstanceState {
    pub fn record(&self, path: &Path) -> Option<&PathRecord> {
        self.paths.iter().find(|r| r.is(path))
    }

    pub fn record_mut(&mut self, path: &Path) -> &mut PathRecord {
        match self.paths.iter().position(|r| r.is(path)) {
            Some(i) => &mut self.paths[i],
            None => {
                self.paths.push(PathRecord::of(path));
                let last = self.paths.len() - 1;
                &mut self.paths[last]
            }
        }
    }

    /// Notes which session serves a path now: a new or returned login restarts the
    /// path's "up since" clock. Returns whether anything changed.
    pub fn note_session(&mut self, path: &Path, logged_in_sid: Option<u32>, now_ms: u64) -> bool {
        let r = self.record_mut(path);
        let before = (r.up_sid, r.up_since_ms);
        match logged_in_sid {
            Some(sid) if r.up_sid != Some(sid) => {
                r.up_sid = Some(sid);
                r.up_since_ms = Some(now_ms);
            }
            Some(_) => {}
            None => {
                r.up_sid = None;
                r.up_since_ms = None;
            }
        }
        before != (r.up_sid, r.up_since_ms)
    }

    /// The paths start recorded, parsed (unparsable entries are skipped).
    pub fn recorded_paths(&self) -> Vec<Path> {
        self.paths.iter().filter_map(PathRecord::path).collect()
    }

    /// The path as iscsiadm and the network probe are given it: an iSNS server's portal
    /// becomes the target portal the server gave; a host-name portal becomes the address
    /// start resolved (IPv4 first), so records, logins, sessions and probes all use the
    /// address the kernel shows, and no DNS is asked after start. A name with no recorded
    /// address stays a name.
    pub fn for_iscsiadm(&self, path: &Path) -> Path {
        if let Some(portal) = self
            .record(path)
            .and_then(|r| r.target_portal.as_deref())
            .and_then(|p| Portal::parse(p).ok())
        {
            return Path {
                target: path.target.clone(),
                portal,
            };
        }
        let Host::Name(_) = path.portal.host else {
            return path.clone();
        };
        let Some(addr) = self.record(path).and_then(|r| preferred(&r.addresses)) else {
            return path.clone();
        };
        Path {
            target: path.target.clone(),
            portal: Portal {
                host: Host::Ip(addr),
                port: path.portal.port,
            },
        }
    }
}

/// The address to use of those a name resolved to: the first IPv4 one, else the first.
fn preferred(addresses: &[IpAddr]) -> Option<IpAddr> {
    addresses
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addresses.first())
        .copied()
}

/// The first layout: paths as "IQN PORTAL" strings and back-off keyed by the same string.
#[derive(Deserialize)]
struct V1 {
    started: bool,
    node: String,
    paths: Vec<String>,
    #[serde(default)]
    backoff: std::collections::BTreeMap<String, Backoff>,
    #[serde(default)]
    health: Option<String>,
}

impl From<V1> for InstanceState {
    fn from(v1: V1) -> InstanceState {
        let mut paths: Vec<PathRecord> = v1
            .paths
            .iter()
            .filter_map(|key| {
                let (t, p) = key.split_once(' ')?;
                Some(PathRecord {
                    target: t.to_string(),
                    portal: p.to_string(),
                    backoff: v1.backoff.get(key).cloned().unwrap_or_default(),
                    ..Default::default()
                })
            })
            .collect();
        paths.dedup();
        InstanceState {
            started: v1.started,
            node: v1.node,
            paths,
            health: v1.health,
            ..Default::default()
        }
    }
}

/// What reading the state file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    /// No file: not started here (or stopped).
    Absent,
    Present(Box<InstanceState>),
    /// A file that cannot be read or parsed: something started us, details are lost.
    Corrupt(String),
}

impl Loaded {
    pub fn started(&self) -> bool {
        match self {
            Loaded::Absent => false,
            Loaded::Present(s) => s.started,
            Loaded::Corrupt(_) => true,
        }
    }

    pub fn state(&self) -> Option<&InstanceState> {
        match self {
            Loaded::Present(s) => Some(s),
            _ => None,
        }
    }

    /// The state to build on: what was read, or a fresh one that keeps "started" when the
    /// file was there but unreadable.
    pub fn into_state(self) -> InstanceState {
        match self {
            Loaded::Present(s) => *s,
            Loaded::Absent => InstanceState::default(),
            Loaded::Corrupt(_) => InstanceState {
                started: true,
                ..Default::default()
            },
        }
    }
}

pub fn parse(text: &str) -> Result<InstanceState, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    match value.get("schema").and_then(serde_json::Value::as_u64) {
        None => serde_json::from_value::<V1>(value)
            .map(InstanceState::from)
            .map_err(|e| format!("first-layout state: {e}")),
        Some(v) if v == u64::from(SCHEMA) => serde_json::from_value(value).map_err(|e| e.to_string()),
        Some(v) => Err(format!(
            "state schema {v} is newer than this agent's {SCHEMA} (a downgrade?)"
        )),
    }
}

pub struct Store {
    dir: PathBuf,
    name: String,
}

/// Holds the instance lock until dropped.
pub struct Lock {
    _file: File,
}

impl Store {
    pub fn new(rsc_tmp: &str, instance: &str) -> Store {
        Store {
            dir: PathBuf::from(rsc_tmp).join("iscsi-mirror"),
            name: file_name(instance),
        }
    }

    pub fn state_file(&self) -> PathBuf {
        self.dir.join(format!("{}.state", self.name))
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Our directory, private to root; a symlink or a file in its place is refused, so
    /// nothing we write can be redirected.
    fn ensure_dir(&self) -> io::Result<()> {
        match fs::symlink_metadata(&self.dir) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(io::Error::other(format!(
                "{} exists and is not a directory",
                self.dir.display()
            ))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.dir),
            Err(e) => Err(e),
        }
    }

    fn open_private(path: &std::path::Path, write: bool) -> io::Result<File> {
        let mut o = OpenOptions::new();
        o.read(true).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
        if write {
            o.write(true).create(true).truncate(false).mode(0o600);
        }
        o.open(path)
    }

    /// Takes the instance lock, waiting at most until the deadline.
    pub fn lock(&self, deadline: Deadline) -> Result<Lock, String> {
        self.ensure_dir()
            .map_err(|e| format!("cannot use {}: {e}", self.dir.display()))?;
        let path = self.dir.join(format!("{}.lock", self.name));
        let file = Self::open_private(&path, true)
            .map_err(|e| format!("cannot open lock {}: {e}", path.display()))?;
        loop {
            // SAFETY: flock on a descriptor we own; no memory is shared with the kernel.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                return Ok(Lock { _file: file });
            }
            if deadline.expired() {
                return Err(format!(
                    "another action of this resource holds {} and did not finish in time",
                    path.display()
                ));
            }
            deadline.sleep(Duration::from_millis(20));
        }
    }

    pub fn load(&self) -> Loaded {
        let path = self.state_file();
        let mut text = String::new();
        match Self::open_private(&path, false).and_then(|mut f| {
            // Bounded: a state file is a few KiB; anything huge is not ours.
            Read::by_ref(&mut f).take(1 << 20).read_to_string(&mut text)
        }) {
            // No file, or no directory a file could be in (HA_RSCTMP unusable): not started.
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    || matches!(e.raw_os_error(), Some(libc::ENOTDIR) | Some(libc::ENAMETOOLONG)) =>
            {
                return Loaded::Absent
            }
            Err(e) => {
                let why = format!("cannot read {}: {e}", path.display());
                tracing::warn!("{why}; treating the resource as started");
                return Loaded::Corrupt(why);
            }
            Ok(_) => {}
        }
        match parse(&text) {
            Ok(s) => Loaded::Present(Box::new(s)),
            Err(e) => {
                let why = format!("unreadable state file {}: {e}", path.display());
                tracing::warn!("{why}; treating the resource as started");
                Loaded::Corrupt(why)
            }
        }
    }

    /// Writes atomically: a crash mid-write leaves the old state, never half a file.
    pub fn save(&self, state: &InstanceState) -> io::Result<()> {
        self.ensure_dir()?;
        let tmp = self.dir.join(format!(".{}.state.tmp", self.name));
        match fs::remove_file(&tmp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)?;
        f.write_all(serde_json::to_string_pretty(state)?.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, self.state_file())
    }

    pub fn remove(&self) -> io::Result<()> {
        match fs::remove_file(self.state_file()) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// A file name for an instance: safe characters only, bounded length (a long name keeps
/// its start and gets a hash of the whole, so two long names never share a file).
fn file_name(instance: &str) -> String {
    let safe: String = instance
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = if safe.starts_with('.') {
        format!("_{safe}")
    } else {
        safe
    };
    if safe.len() <= MAX_NAME {
        return safe;
    }
    // FNV-1a: stable across builds, no dependency.
    let hash = instance.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    // `safe` is ASCII, so any byte index is a character boundary.
    format!("{}-{hash:016x}", &safe[..MAX_NAME - 17])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn path() -> Path {
        Path {
            target: Iqn::parse("iqn.2025-01.lab.home:storage-b").unwrap(),
            portal: Portal::parse("10.10.10.2:3260").unwrap(),
        }
    }

    #[test]
    fn state_round_trips_and_instance_names_are_sanitised() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_str().unwrap(), "mirror:0/../x");
        assert_eq!(store.load(), Loaded::Absent);
        let mut st = InstanceState {
            started: true,
            node: "storage-a".into(),
            ..Default::default()
        };
        st.record_mut(&path()).backoff.failures = 2;
        store.save(&st).unwrap();
        assert_eq!(store.load(), Loaded::Present(Box::new(st)));
        assert_eq!(
            store.state_file().parent(),
            Some(dir.path().join("iscsi-mirror").as_path())
        );
        store.remove().unwrap();
        store.remove().unwrap();
        assert_eq!(store.load(), Loaded::Absent);
    }

    #[test]
    fn files_are_private_and_symlinks_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_str().unwrap(), "r");
        store.save(&InstanceState::default()).unwrap();
        let _l = store.lock(Deadline::after(Duration::from_secs(1))).unwrap();
        for f in [store.state_file(), store.dir.join("r.lock")] {
            let mode = fs::metadata(&f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{f:?}");
        }
        assert_eq!(
            fs::metadata(&store.dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        // A symlink planted where the state file goes is neither read nor written through.
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        let s2 = Store::new(dir.path().to_str().unwrap(), "s");
        std::os::unix::fs::symlink(&victim, s2.state_file()).unwrap();
        assert!(matches!(s2.load(), Loaded::Corrupt(_)));
        s2.save(&InstanceState::default()).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        // Our directory replaced by a file: refused, with the reason.
        let d3 = tempfile::tempdir().unwrap();
        fs::write(d3.path().join("iscsi-mirror"), "").unwrap();
        let s3 = Store::new(d3.path().to_str().unwrap(), "r");
        assert!(s3.lock(Deadline::after(Duration::from_millis(100))).is_err());
        assert!(s3.save(&InstanceState::default()).is_err());
        assert!(!s3.load().started());
    }

    #[test]
    fn a_corrupt_file_still_means_started() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_str().unwrap(), "r");
        store.save(&InstanceState::default()).unwrap();
        fs::write(store.state_file(), "{\"started\": tr").unwrap();
        let loaded = store.load();
        assert!(matches!(loaded, Loaded::Corrupt(_)), "{loaded:?}");
        assert!(loaded.started());
        assert!(loaded.into_state().started);
    }

    #[test]
    fn the_first_layout_is_read() {
        let v1 = r#"{"started": true, "node": "storage-a",
            "paths": ["iqn.2025-01.lab.home:storage-b 10.10.10.2:3260", "garbage"],
            "backoff": {"iqn.2025-01.lab.home:storage-b 10.10.10.2:3260": {"failures": 3, "last_attempt_unix": 9}},
            "health": "yellow"}"#;
        let s = parse(v1).unwrap();
        assert_eq!(s.schema, SCHEMA);
        assert!(s.started);
        assert_eq!(s.recorded_paths(), vec![path()]);
        assert_eq!(s.record(&path()).unwrap().backoff.failures, 3);
        assert_eq!(s.health.as_deref(), Some("yellow"));
        assert!(parse(r#"{"schema": 99, "started": true}"#)
            .unwrap_err()
            .contains("newer"));
    }

    #[test]
    fn long_instance_names_stay_within_name_max_and_distinct() {
        let a = format!("{}a", "é".repeat(200));
        let b = format!("{}b", "é".repeat(200));
        let (fa, fb) = (file_name(&a), file_name(&b));
        assert!(fa.len() <= MAX_NAME && fb.len() <= MAX_NAME);
        assert_ne!(fa, fb);
        assert_eq!(file_name("..x"), "_..x");
    }

    #[test]
    fn a_second_lock_waits_then_gives_up() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_str().unwrap(), "r");
        let held = store.lock(Deadline::after(Duration::from_secs(1))).unwrap();
        let other = Store::new(dir.path().to_str().unwrap(), "r");
        assert!(other.lock(Deadline::after(Duration::from_millis(200))).is_err());
        drop(held);
        assert!(other.lock(Deadline::after(Duration::from_millis(200))).is_ok());
    }
}
