//! The simulated world (`$SIM/sim.json`), the lock that serialises changes to the sim root,
//! and the invocation log (`$SIM/log/iscsiadm.log`).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context, Result};
use serde::{Deserialize, Serialize};

pub const DEFAULT_INITIATOR: &str = "iqn.1993-08.org.debian:01:1ff9544af9f";

/// Debian's pristine iscsid.conf (open-iscsi 2.1.8-1+deb12u1), imported by
/// tests/fixtures/iscsi/import-recorded.sh.
pub const DEBIAN_ISCSID_CONF: &str = include_str!("../../fixtures/iscsi/recorded/iscsid.conf.debian");

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Chap {
    pub username: String,
    pub password: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Target {
    pub iqn: String,
    /// "addr:port", IPv6 as "[addr]:port".
    pub portals: Vec<String>,
    #[serde(default = "one")]
    pub luns: u32,
    #[serde(default)]
    pub chap: Option<Chap>,
    /// The target portal group tag the target reports (LIO's tpg1, tgt's 1).
    #[serde(default = "one_i32")]
    pub tpgt: i32,
    /// tgt-style: LUN 0 is the array controller (no disk) and the `luns` disks are LUN
    /// 1..; LIO-style (false): the disks are LUN 0.. (session-P3-vm-tgtd.txt vs -vm-lio.txt).
    #[serde(default)]
    pub controller_lun0: bool,
    /// The negotiated MaxXmitDataSegmentLength: the target's MaxRecvDataSegmentLength
    /// (LIO 262144, tgt 8192).
    #[serde(default = "default_xmit")]
    pub max_xmit_dlength: u32,
    /// The SCSI vendor its disks report (INQUIRY, sysfs `vendor`): LIO "LIO-ORG", tgt "IET".
    #[serde(default = "default_vendor")]
    pub vendor: String,
    /// The SCSI model its disks report (sysfs `model`). LIO: the backstore's name (the VM's
    /// `/backstores/fileio create name=disk1` gave "disk1"); empty: taken from the IQN as
    /// [`Target::lio`] does. tgt: "VIRTUAL-DISK" (host-probe.txt).
    #[serde(default)]
    pub model: String,
    /// Partitions on each of its disks (the partition table is on the target's disk, so
    /// every login finds them): the kernel's `sdX1..` and udev's `...-lun-L-partN` links.
    #[serde(default)]
    pub partitions: u32,
    /// WWIDs its disks report (`device/wwid`, e.g. "naa.6001405..."), by LUN index among
    /// its disks; none when empty.
    #[serde(default)]
    pub wwids: Vec<String>,
}

impl Target {
    /// A target as LIO exports it.
    pub fn lio(iqn: &str, portals: &[&str], luns: u32) -> Target {
        Target {
            iqn: iqn.to_string(),
            portals: portals.iter().map(|p| p.to_string()).collect(),
            luns,
            chap: None,
            tpgt: 1,
            controller_lun0: false,
            max_xmit_dlength: default_xmit(),
            vendor: default_vendor(),
            model: lio_model(iqn),
            partitions: 0,
            wwids: Vec::new(),
        }
    }

    /// A target as tgt exports it: LUN 0 the controller, MaxXmitDataSegmentLength 8192.
    pub fn tgt(iqn: &str, portals: &[&str], luns: u32) -> Target {
        Target {
            controller_lun0: true,
            max_xmit_dlength: 8192,
            vendor: "IET".into(),
            model: "VIRTUAL-DISK".into(),
            ..Target::lio(iqn, portals, luns)
        }
    }

    /// The model its disks report: `model`, or when that is empty the LIO default.
    pub fn scsi_model(&self) -> String {
        if self.model.is_empty() {
            lio_model(&self.iqn)
        } else {
            self.model.clone()
        }
    }
}

/// LIO's model for a backstore named as the lab names them: the IQN's last component
/// ("iqn.2025-01.lab.e2e:peer.disk1" -> "disk1"), at most 16 characters (the INQUIRY field).
pub fn lio_model(iqn: &str) -> String {
    let tail = iqn.rsplit(':').next().unwrap_or(iqn);
    let name = tail.rsplit('.').next().unwrap_or(tail);
    name.chars().take(16).collect()
}

fn default_vendor() -> String {
    "LIO-ORG".into()
}

fn default_xmit() -> u32 {
    262_144
}

fn one() -> u32 {
    1
}
fn one_i32() -> i32 {
    1
}

/// An iSNS server (`World::isns`): where it listens and which targets are registered
/// with it (their portals are the world's).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct IsnsServer {
    /// "addr:port" (iSNS's port is 3205).
    pub portal: String,
    pub targets: Vec<String>,
}

/// Operations that the `hang` fault can stall.
pub const HANG_OPS: &[&str] = &["login", "logout", "session", "node", "discovery", "any"];

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Faults {
    #[serde(default)]
    pub hang: Vec<String>,
    #[serde(default)]
    pub iscsid_down: bool,
    #[serde(default)]
    pub auth_fail: Vec<String>,
    #[serde(default)]
    pub login_refused: Vec<String>,
    #[serde(default)]
    pub login_busy: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct World {
    #[serde(default = "default_initiator")]
    pub initiator_name: String,
    #[serde(default)]
    pub targets: Vec<Target>,
    #[serde(default)]
    pub faults: Faults,
    #[serde(default = "default_delay")]
    pub unreachable_delay_ms: u64,
    /// iscsid's pid as the kernel records it in each session's `creator` file.
    #[serde(default = "default_creator")]
    pub iscsid_pid: i32,
    /// The first SCSI host number iSCSI sessions get (hosts below are local controllers;
    /// the recorded VM had host0/host1 for ATA, so its first iSCSI host was host2).
    #[serde(default = "default_first_host")]
    pub first_host: u32,
    /// The first sg (SCSI generic) index iSCSI devices get: the VM had one local SCSI
    /// device (sg0), so its first iSCSI disk was sg1.
    #[serde(default = "default_first_sg")]
    pub first_sg: u32,
    /// The ZFS side: pools, the simulated ZFS version and clock (`zfs.rs`).
    #[serde(default)]
    pub zfs: crate::zfs::Zfs,
    /// iSNS servers `-m discovery -t isns` can ask.
    #[serde(default)]
    pub isns: Vec<IsnsServer>,
}

fn default_initiator() -> String {
    DEFAULT_INITIATOR.to_string()
}
fn default_delay() -> u64 {
    300
}
fn default_creator() -> i32 {
    385
}
fn default_first_host() -> u32 {
    2
}
fn default_first_sg() -> u32 {
    1
}

impl Default for World {
    fn default() -> Self {
        World {
            initiator_name: default_initiator(),
            targets: Vec::new(),
            faults: Faults::default(),
            unreachable_delay_ms: default_delay(),
            iscsid_pid: default_creator(),
            first_host: default_first_host(),
            first_sg: default_first_sg(),
            zfs: crate::zfs::Zfs::default(),
            isns: Vec::new(),
        }
    }
}

impl World {
    pub fn path(root: &Path) -> PathBuf {
        root.join("sim.json")
    }

    pub fn load(root: &Path) -> Result<World> {
        let p = Self::path(root);
        let text = fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", p.display()))
    }

    pub fn save(&self, root: &Path) -> Result<()> {
        let p = Self::path(root);
        let tmp = p.with_extension("json.tmp");
        fs::write(&tmp, serde_json::to_string_pretty(self)? + "\n")?;
        fs::rename(&tmp, &p)?;
        // The pools' kstats follow every change of the world.
        crate::zfs::sync_kstats(root, &self.zfs)?;
        Ok(())
    }

    pub fn target(&self, iqn: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.iqn == iqn)
    }

    /// Is this target exported at this portal (exact address and port)?
    pub fn target_at(&self, iqn: &str, addr: &str, port: u16) -> Option<&Target> {
        self.target(iqn).filter(|t| {
            t.portals
                .iter()
                .filter_map(|p| split_portal(p))
                .any(|(a, p)| same_addr(&a, addr) && p == port)
        })
    }

    pub fn hangs(&self, op: &str) -> bool {
        self.faults.hang.iter().any(|h| h == op || h == "any")
    }
}

/// Splits "addr:port" / "[v6]:port" / "addr" (port 3260) into address and port.
pub fn split_portal(p: &str) -> Option<(String, u16)> {
    let p = p.trim();
    if let Some(rest) = p.strip_prefix('[') {
        let (addr, tail) = rest.split_once(']')?;
        let port = match tail.strip_prefix(':') {
            Some(n) => n.parse().ok()?,
            None if tail.is_empty() => 3260,
            None => return None,
        };
        return Some((addr.to_string(), port));
    }
    if p.matches(':').count() > 1 {
        return Some((p.to_string(), 3260));
    }
    match p.split_once(':') {
        Some((a, n)) => Some((a.to_string(), n.parse().ok()?)),
        None => Some((p.to_string(), 3260)),
    }
}

/// "addr:port", IPv6 in brackets: how iscsiadm prints a portal in lists. Like iscsiadm
/// (`strchr(address, '.')`), anything without a dot counts as IPv6.
pub fn join_portal(addr: &str, port: u16) -> String {
    if addr.contains('.') {
        format!("{addr}:{port}")
    } else {
        format!("[{addr}]:{port}")
    }
}

/// `iscsi_addr_match`: equal strings, or both resolve to the same address. Numeric
/// addresses are compared as addresses (so "::1" matches "0:0::1" but "127.0.0.1" never
/// matches "127.0.0.10"); a host name is resolved, as the real tool does (so a broken
/// resolver makes a name match nothing).
pub fn same_addr(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (a.parse::<std::net::IpAddr>(), b.parse::<std::net::IpAddr>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => {
            let ra = resolve(a, 0).ok().map(|s| s.ip());
            let rb = resolve(b, 0).ok().map(|s| s.ip());
            ra.is_some() && ra == rb
        }
    }
}

/// `resolve_address` (usr/login.c): getaddrinfo(AF_UNSPEC, SOCK_STREAM), the first answer;
/// on failure gai_strerror's text ("Name or service not known", "Temporary failure in
/// name resolution"). A numeric address never asks the resolver.
pub fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let c_host = std::ffi::CString::new(host).map_err(|_| "Name or service not known".to_string())?;
    // SAFETY: a zeroed addrinfo is a valid "no hints" value; fields are set below.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_socktype = libc::SOCK_STREAM;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: valid NUL-terminated host, hints and out pointer; res freed below.
    let rc = unsafe { libc::getaddrinfo(c_host.as_ptr(), std::ptr::null(), &hints, &mut res) };
    if rc != 0 {
        // SAFETY: gai_strerror returns a static NUL-terminated string.
        let text = unsafe { std::ffi::CStr::from_ptr(libc::gai_strerror(rc)) };
        return Err(text.to_string_lossy().into_owned());
    }
    // SAFETY: on success res points to at least one addrinfo with a valid ai_addr.
    let first = unsafe {
        let ai = &*res;
        let sa = match ai.ai_family {
            libc::AF_INET => {
                let a = &*(ai.ai_addr as *const libc::sockaddr_in);
                Some(SocketAddr::new(
                    std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)).into(),
                    port,
                ))
            }
            libc::AF_INET6 => {
                let a = &*(ai.ai_addr as *const libc::sockaddr_in6);
                Some(SocketAddr::new(
                    std::net::Ipv6Addr::from(a.sin6_addr.s6_addr).into(),
                    port,
                ))
            }
            _ => None,
        };
        libc::freeaddrinfo(res);
        sa
    };
    first.ok_or_else(|| "Address family for hostname not supported".to_string())
}

/// The result of a TCP connect to a portal within a deadline.
pub enum Reach {
    /// Connected: the local and the peer address of the connection (the kernel's
    /// `iscsi_host` ipaddress and `iscsi_connection` address show them).
    Up { local: SocketAddr, peer: SocketAddr },
    /// The host name did not resolve: gai_strerror's text.
    Unresolved(String),
    /// Refused, timed out or otherwise failed: the strerror text.
    Down(String),
}

pub fn probe(addr: &str, port: u16, timeout: Duration) -> Reach {
    let sa = match resolve(addr, port) {
        Ok(sa) => sa,
        Err(why) => return Reach::Unresolved(why),
    };
    match TcpStream::connect_timeout(&sa, timeout) {
        Ok(s) => match (s.local_addr(), s.peer_addr()) {
            (Ok(local), Ok(peer)) => Reach::Up { local, peer },
            (Err(e), _) | (_, Err(e)) => Reach::Down(strerror(&e)),
        },
        Err(e) => Reach::Down(strerror(&e)),
    }
}

/// The C library's text for an I/O error ("Connection refused"), without Rust's suffix.
pub fn strerror(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => {
            // SAFETY: strerror returns a pointer to a NUL-terminated static or
            // thread-local string; it is copied before any other libc call.
            let p = unsafe { libc::strerror(n) };
            if p.is_null() {
                return e.to_string();
            }
            unsafe { std::ffi::CStr::from_ptr(p) }
                .to_string_lossy()
                .into_owned()
        }
        None if e.kind() == std::io::ErrorKind::TimedOut => "Connection timed out".into(),
        None => e.to_string(),
    }
}

/// An exclusive flock on `$SIM/lock`, released on drop.
pub struct Lock {
    _file: File,
}

impl Lock {
    pub fn take(root: &Path) -> Result<Lock> {
        let p = root.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&p)
            .with_context(|| format!("opening {}", p.display()))?;
        loop {
            // SAFETY: flock on a file descriptor we own for the lifetime of `file`.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return Ok(Lock { _file: file });
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(anyhow!("flock {}: {e}", p.display()));
            }
        }
    }
}

pub fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// One line of `$SIM/log/iscsiadm.log` (or `log/zpool.log`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Invocation {
    pub ts: f64,
    pub argv: Vec<String>,
    /// None: the line written when an invocation started to hang.
    pub rc: Option<i32>,
}

pub fn log_invocation(root: &Path, argv: &[String], rc: Option<i32>) {
    log_invocation_to(root, "iscsiadm.log", argv, rc)
}

/// Appends one invocation to `$SIM/log/<file>`.
pub fn log_invocation_to(root: &Path, file: &str, argv: &[String], rc: Option<i32>) {
    let line = Invocation {
        ts: now_secs(),
        argv: argv.to_vec(),
        rc,
    };
    let dir = root.join("log");
    let _ = fs::create_dir_all(&dir);
    if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(dir.join(file)) {
        if let Ok(text) = serde_json::to_string(&line) {
            // One write per line: O_APPEND keeps concurrent lines whole.
            let _ = f.write_all(format!("{text}\n").as_bytes());
        }
    }
}

pub fn read_invocations(root: &Path) -> Vec<Invocation> {
    read_invocations_of(root, "iscsiadm.log")
}

/// The parsed `$SIM/log/<file>`.
pub fn read_invocations_of(root: &Path, file: &str) -> Vec<Invocation> {
    fs::read_to_string(root.join("log").join(file))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portals_split_and_join() {
        assert_eq!(split_portal("127.0.0.1:3260"), Some(("127.0.0.1".into(), 3260)));
        assert_eq!(split_portal("[::1]:3261"), Some(("::1".into(), 3261)));
        assert_eq!(split_portal("[fe80::1]"), Some(("fe80::1".into(), 3260)));
        assert_eq!(split_portal("10.0.0.1"), Some(("10.0.0.1".into(), 3260)));
        assert_eq!(join_portal("::1", 3260), "[::1]:3260");
        assert_eq!(join_portal("10.0.0.1", 3260), "10.0.0.1:3260");
    }

    #[test]
    fn address_matching_is_exact() {
        assert!(same_addr("127.0.0.1", "127.0.0.1"));
        assert!(!same_addr("127.0.0.1", "127.0.0.10"));
        assert!(same_addr("::1", "0:0::1"));
    }
}
