//! Per-instance state and lock under HA_RSCTMP, so concurrent invocations of one
//! resource instance are serialised and a monitor knows whether we were started.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::deadline::Deadline;

/// Reconnect bookkeeping of one path, kept across monitor runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Backoff {
    pub failures: u32,
    pub last_attempt_unix: u64,
    /// Since when the kernel has been reconnecting this path while its portal answered.
    #[serde(default)]
    pub recovering_since_unix: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct InstanceState {
    pub started: bool,
    /// The node name the legs were chosen for.
    pub node: String,
    /// Paths logged in by start, as `IQN PORTAL`: stop logs them out even if the
    /// configuration has since become unreadable.
    pub paths: Vec<String>,
    #[serde(default)]
    pub backoff: BTreeMap<String, Backoff>,
    /// The health last published as a node attribute, to publish only changes.
    #[serde(default)]
    pub health: Option<String>,
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
        let name: String = instance
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Store {
            dir: PathBuf::from(rsc_tmp).join("iscsi-mirror"),
            name,
        }
    }

    fn state_file(&self) -> PathBuf {
        self.dir.join(format!("{}.state", self.name))
    }

    fn ensure_dir(&self) -> io::Result<()> {
        fs::create_dir_all(&self.dir)
    }

    /// Takes the instance lock, waiting at most until the deadline.
    pub fn lock(&self, deadline: Deadline) -> Result<Lock, String> {
        self.ensure_dir()
            .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        let path = self.dir.join(format!("{}.lock", self.name));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
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
            deadline.sleep(Duration::from_millis(50));
        }
    }

    pub fn load(&self) -> Option<InstanceState> {
        let text = fs::read_to_string(self.state_file()).ok()?;
        match serde_json::from_str(&text) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(
                    "ignoring unreadable state file {}: {e}",
                    self.state_file().display()
                );
                None
            }
        }
    }

    /// Writes atomically: a crash mid-write leaves the old state, never half a file.
    pub fn save(&self, state: &InstanceState) -> io::Result<()> {
        self.ensure_dir()?;
        let tmp = self.dir.join(format!(".{}.state.tmp", self.name));
        let mut f = File::create(&tmp)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_instance_names_are_sanitised() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_str().unwrap(), "mirror:0/../x");
        assert!(store.load().is_none());
        let st = InstanceState {
            started: true,
            node: "storage-a".into(),
            ..Default::default()
        };
        store.save(&st).unwrap();
        assert_eq!(store.load(), Some(st));
        assert_eq!(
            store.state_file().parent(),
            Some(dir.path().join("iscsi-mirror").as_path())
        );
        store.remove().unwrap();
        store.remove().unwrap();
        assert!(store.load().is_none());
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
