//! The kernel's view of iSCSI sessions (scsi_transport_iscsi's sysfs classes): the truth the
//! monitor judges by, read without running any program.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::target::Path as IscsiPath;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionState {
    LoggedIn,
    /// The connection failed; the kernel is recovering, I/O queues until recovery_tmo.
    Failed,
    /// Recovery timed out: I/O fails, the disk is transport-offline.
    Free,
    Other(String),
}

impl SessionState {
    fn parse(text: &str) -> SessionState {
        match text.trim() {
            "LOGGED_IN" => SessionState::LoggedIn,
            "FAILED" => SessionState::Failed,
            "FREE" => SessionState::Free,
            other => SessionState::Other(other.to_string()),
        }
    }
    pub fn as_str(&self) -> &str {
        match self {
            SessionState::LoggedIn => "LOGGED_IN",
            SessionState::Failed => "FAILED",
            SessionState::Free => "FREE",
            SessionState::Other(s) => s,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub name: String,
    pub persistent_address: String,
    pub persistent_port: u16,
    pub address: String,
    pub port: u16,
    pub state: String,
    /// noop_out_interval (s)
    pub recv_tmo: Option<i64>,
    /// noop_out_timeout (s)
    pub ping_tmo: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// SCSI address H:C:T:L
    pub hctl: String,
    pub lun: u64,
    pub block: Option<String>,
    /// running | blocked | transport-offline
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub sid: u32,
    pub target: String,
    pub state: SessionState,
    /// replacement_timeout (s)
    pub recovery_tmo: Option<i64>,
    pub connections: Vec<Connection>,
    pub disks: Vec<Disk>,
}

impl Session {
    /// The portal this session was logged in to (connection 0's persistent address).
    pub fn leads_to(&self, path: &IscsiPath) -> bool {
        self.target == path.target.as_str()
            && self.connections.first().is_some_and(|c| {
                path.portal.matches(&c.persistent_address, c.persistent_port)
                    || path.portal.matches(&c.address, c.port)
            })
    }
}

pub struct Sysfs {
    root: PathBuf,
}

impl Sysfs {
    pub fn new(host_root: &Path) -> Sysfs {
        Sysfs {
            root: host_root.join("sys"),
        }
    }

    fn session_dir(&self, sid: u32) -> PathBuf {
        self.root.join(format!("class/iscsi_session/session{sid}"))
    }

    /// Every session the kernel knows. Sessions that vanish while being read are skipped.
    pub fn sessions(&self) -> Vec<Session> {
        let Ok(entries) = fs::read_dir(self.root.join("class/iscsi_session")) else {
            return Vec::new();
        };
        let mut sessions: Vec<Session> = entries
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_prefix("session")?
                    .parse::<u32>()
                    .ok()
            })
            .filter_map(|sid| self.session(sid))
            .collect();
        sessions.sort_by_key(|s| s.sid);
        sessions
    }

    pub fn session(&self, sid: u32) -> Option<Session> {
        let dir = self.session_dir(sid);
        let target = read_trimmed(&dir.join("targetname"))?;
        let state = SessionState::parse(&read_trimmed(&dir.join("state"))?);
        Some(Session {
            sid,
            target,
            state,
            recovery_tmo: read_int(&dir.join("recovery_tmo")),
            connections: self.connections(sid),
            disks: disks(&dir.join("device")),
        })
    }

    fn connections(&self, sid: u32) -> Vec<Connection> {
        let Ok(entries) = fs::read_dir(self.root.join("class/iscsi_connection")) else {
            return Vec::new();
        };
        let prefix = format!("connection{sid}:");
        let mut conns: Vec<Connection> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| n.starts_with(&prefix))
            .filter_map(|name| {
                let dir = self.root.join("class/iscsi_connection").join(&name);
                Some(Connection {
                    persistent_address: read_trimmed(&dir.join("persistent_address")).unwrap_or_default(),
                    persistent_port: read_port(&dir.join("persistent_port")),
                    address: read_trimmed(&dir.join("address")).unwrap_or_default(),
                    port: read_port(&dir.join("port")),
                    state: read_trimmed(&dir.join("state"))?,
                    recv_tmo: read_int(&dir.join("recv_tmo")),
                    ping_tmo: read_int(&dir.join("ping_tmo")),
                    name,
                })
            })
            .collect();
        conns.sort_by(|a, b| a.name.cmp(&b.name));
        conns
    }

    /// The session whose SCSI device a block device (or its partition) is: the kernel's
    /// device path of /sys/class/block/NAME runs through `.../sessionN/target.../`.
    pub fn session_of_block(&self, name: &str) -> Option<u32> {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return None;
        }
        let real = fs::canonicalize(self.root.join("class/block").join(name)).ok()?;
        real.components().find_map(|c| {
            c.as_os_str()
                .to_str()?
                .strip_prefix("session")?
                .parse::<u32>()
                .ok()
        })
    }

    /// The SCSI device's world-wide id (`naa.6001405...`), when the kernel has one.
    pub fn wwid_of_block(&self, name: &str) -> Option<String> {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return None;
        }
        let dir = fs::canonicalize(self.root.join("class/block").join(name)).ok()?;
        // A partition's SCSI device is its parent disk's.
        let disk = if dir.join("partition").exists() {
            dir.parent()?.to_path_buf()
        } else {
            dir
        };
        read_trimmed(&disk.join("device/wwid")).filter(|w| !w.is_empty())
    }

    /// Sets replacement_timeout on a live session; the kernel allows it while logged in.
    pub fn set_recovery_tmo(&self, sid: u32, seconds: i64) -> io::Result<()> {
        fs::write(self.session_dir(sid).join("recovery_tmo"), format!("{seconds}\n"))
    }
}

fn disks(device: &Path) -> Vec<Disk> {
    let mut out = Vec::new();
    let Ok(targets) = fs::read_dir(device) else {
        return out;
    };
    for t in targets
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("target"))
    {
        let Ok(luns) = fs::read_dir(t.path()) else {
            continue;
        };
        for l in luns.flatten() {
            let hctl = l.file_name().to_string_lossy().to_string();
            let parts: Vec<&str> = hctl.split(':').collect();
            if parts.len() != 4 || !parts.iter().all(|p| p.parse::<u64>().is_ok()) {
                continue;
            }
            let block = fs::read_dir(l.path().join("block"))
                .ok()
                .and_then(|mut it| it.find_map(|e| e.ok()))
                .map(|e| e.file_name().to_string_lossy().to_string());
            out.push(Disk {
                lun: parts[3].parse().unwrap_or(0),
                state: read_trimmed(&l.path().join("state")).unwrap_or_default(),
                block,
                hctl,
            });
        }
    }
    out.sort_by_key(|d| d.lun);
    out
}

fn read_trimmed(p: &Path) -> Option<String> {
    fs::read_to_string(p).ok().map(|s| s.trim().to_string())
}

fn read_int(p: &Path) -> Option<i64> {
    read_trimmed(p)?.parse().ok()
}

/// A TCP port, or 0 (which no portal has) when the value is not one: never a value cut
/// to 16 bits, which could turn 68796 into a configured 3260.
fn read_port(p: &Path) -> u16 {
    read_int(p).and_then(|v| u16::try_from(v).ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_out_of_range_is_no_port_not_a_truncated_one() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("persistent_port");
        for (text, port) in [
            ("3260\n", 3260),
            ("68796\n", 0),
            ("-62276\n", 0),
            ("99999999999999999999\n", 0),
            ("3260x\n", 0),
        ] {
            fs::write(&f, text).unwrap();
            assert_eq!(read_port(&f), port, "{text:?}");
        }
    }
}
