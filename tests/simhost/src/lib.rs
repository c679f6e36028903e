//! `iscsi-simhost`: a simulated open-iscsi host for tests, at the process boundary only.
//!
//! This machine's kernel has no iSCSI, so the tests of `ocf:san:iscsi-mirror` run against a
//! stand-in: an `iscsiadm` look-alike (this crate's binary, called through a symlink named
//! `iscsiadm`) plus a sysfs/dev tree under a directory, the "sim root". Texts and exit codes
//! are those of the real open-iscsi 2.1.8 as recorded by the lab
//! (tests/fixtures/iscsi/recorded, imported by tests/fixtures/iscsi/import-recorded.sh).
//! It lives with the tests and is never part of the shipped agent.
//!
//! Layout of a sim root (`$SIM`):
//! - `sim.json`: the world ([`World`]): targets, portals, LUNs, CHAP, faults.
//! - `bin/iscsiadm`: symlink to the `iscsi-simhost` binary; its path gives the root.
//! - `etc/iscsi/nodes/...`, `etc/iscsi/send_targets/...`, `etc/iscsi/iscsid.conf`,
//!   `etc/iscsi/initiatorname.iscsi`: open-iscsi's database, as on a real host.
//! - `sys/class/iscsi_session/sessionN`, `sys/class/iscsi_connection/connectionN:0`,
//!   `sys/devices/platform/hostH/...`, `sys/block/sdX`: the kernel's view.
//! - `dev/sdX`, `dev/disk/by-path/ip-ADDR:PORT-iscsi-IQN-lun-L`: udev's.
//! - `log/iscsiadm.log`: one JSON line per iscsiadm invocation.

pub mod control;
pub mod getopt;
pub mod iscsiadm;
pub mod records;
pub mod resolver;
pub mod sysfs;
pub mod world;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{anyhow, bail, Context, Result};

pub use sysfs::{Device, Session};
pub use world::{Chap, Faults, Invocation, IsnsServer, Target, World};

/// A fault to inject into the simulated host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Invocations doing this operation ("login", "logout", "session", "node",
    /// "discovery" or "any") sleep for an hour: the caller must kill them.
    Hang(String),
    /// iscsid is not running: logins and discovery fail with 20 as recorded.
    IscsidDown,
    /// Logins to this target fail with 24 (authorization failure).
    AuthFail(String),
    /// Logins to this target fail with 19 (non-retryable login failure).
    LoginRefused(String),
    /// Logins to this target fail with 5 (a retryable login failure: the target is busy).
    LoginBusy(String),
}

/// A simulated host rooted at a directory.
#[derive(Clone, Debug)]
pub struct SimHost {
    root: PathBuf,
}

/// The `iscsi-simhost` binary next to the running test executable: test executables live
/// in `<target>/<profile>/deps/`, the binary in `<target>/<profile>/`. `ISCSI_SIMHOST_BIN`
/// overrides.
pub fn find_binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("ISCSI_SIMHOST_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().context("locating the running executable")?;
    let mut dir = exe
        .parent()
        .ok_or_else(|| anyhow!("{} has no parent", exe.display()))?
        .to_path_buf();
    if dir.file_name().map(|n| n == "deps").unwrap_or(false) {
        dir.pop();
    }
    let bin = dir.join("iscsi-simhost");
    if bin.is_file() {
        Ok(bin)
    } else {
        bail!(
            "{} not found: build it first with `cargo build -p iscsi-simhost` (or set ISCSI_SIMHOST_BIN)",
            bin.display()
        )
    }
}

impl SimHost {
    /// Creates a sim root in `dir`, with `bin/iscsiadm` linked to the binary found by
    /// [`find_binary`].
    pub fn create(dir: impl AsRef<Path>) -> Result<SimHost> {
        Self::create_with_binary(dir, find_binary()?)
    }

    /// Creates a sim root in `dir` (made if missing): the directory layout, a default
    /// `sim.json`, Debian's iscsid.conf, an initiatorname.iscsi, and `bin/iscsiadm` as a
    /// symlink to `binary` (the `iscsi-simhost` executable).
    pub fn create_with_binary(dir: impl AsRef<Path>, binary: impl AsRef<Path>) -> Result<SimHost> {
        let root = dir.as_ref().to_path_buf();
        fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        let root = root.canonicalize()?;
        sysfs::init_layout(&root)?;
        let binary = binary.as_ref();
        let binary = if binary.is_absolute() {
            binary.to_path_buf()
        } else {
            std::env::current_dir()?.join(binary)
        };
        let link = root.join("bin/iscsiadm");
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(&binary, &link).with_context(|| format!("linking {}", link.display()))?;
        let host = SimHost { root };
        if !World::path(&host.root).exists() {
            World::default().save(&host.root)?;
        }
        let conf = host.root.join("etc/iscsi/iscsid.conf");
        if !conf.exists() {
            fs::write(&conf, world::DEBIAN_ISCSID_CONF)?;
        }
        host.write_initiatorname()?;
        Ok(host)
    }

    /// Opens an existing sim root.
    pub fn open(dir: impl AsRef<Path>) -> Result<SimHost> {
        let root = dir.as_ref().to_path_buf();
        if !World::path(&root).is_file() {
            bail!("{} is not a sim root (no sim.json)", root.display());
        }
        Ok(SimHost { root })
    }

    /// The sim root: what the agent takes as its host root prefix (it reads
    /// `<root>/sys/class/...` and `<root>/dev/disk/by-path`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/bin/iscsiadm`: give this path to the agent as its `iscsiadm`.
    pub fn iscsiadm_path(&self) -> PathBuf {
        self.root.join("bin/iscsiadm")
    }

    /// `<root>/sys`.
    pub fn sysfs_root(&self) -> PathBuf {
        self.root.join("sys")
    }

    pub fn world(&self) -> Result<World> {
        World::load(&self.root)
    }

    /// Changes sim.json under the sim lock.
    pub fn update_world(&self, f: impl FnOnce(&mut World)) -> Result<()> {
        let _lock = world::Lock::take(&self.root)?;
        let mut w = World::load(&self.root)?;
        f(&mut w);
        w.save(&self.root)?;
        if !w.initiator_name.is_empty() {
            self.write_initiatorname_of(&w)?;
        }
        Ok(())
    }

    fn write_initiatorname(&self) -> Result<()> {
        let w = self.world()?;
        self.write_initiatorname_of(&w)
    }

    fn write_initiatorname_of(&self, w: &World) -> Result<()> {
        fs::write(
            self.root.join("etc/iscsi/initiatorname.iscsi"),
            format!("InitiatorName={}\n", w.initiator_name),
        )?;
        Ok(())
    }

    pub fn set_initiator_name(&self, name: &str) -> Result<()> {
        self.update_world(|w| w.initiator_name = name.to_string())
    }

    pub fn set_unreachable_delay_ms(&self, ms: u64) -> Result<()> {
        self.update_world(|w| w.unreachable_delay_ms = ms)
    }

    /// Exports `iqn` with `luns` disks at each portal ("addr:port", "[v6]:port"); replaces
    /// an earlier definition of the same IQN.
    pub fn add_target(&self, iqn: &str, portals: &[&str], luns: u32) -> Result<()> {
        self.put_target(Target::lio(iqn, portals, luns))
    }

    /// Adds (or replaces, by IQN) a target defined in full, e.g. [`Target::tgt`].
    pub fn put_target(&self, target: Target) -> Result<()> {
        for p in &target.portals {
            if world::split_portal(p).is_none() {
                bail!("bad portal {p:?}: use addr:port or [v6addr]:port");
            }
        }
        self.update_world(|w| {
            w.targets.retain(|t| t.iqn != target.iqn);
            w.targets.push(target);
        })
    }

    /// An iSNS server at `portal` ("addr:port") with these targets registered.
    pub fn add_isns_server(&self, portal: &str, iqns: &[&str]) -> Result<()> {
        if world::split_portal(portal).is_none() {
            bail!("bad portal {portal:?}: use addr:port or [v6addr]:port");
        }
        self.update_world(|w| {
            w.isns.retain(|s| s.portal != portal);
            w.isns.push(IsnsServer {
                portal: portal.to_string(),
                targets: iqns.iter().map(|i| i.to_string()).collect(),
            });
        })
    }

    pub fn remove_target(&self, iqn: &str) -> Result<()> {
        self.update_world(|w| w.targets.retain(|t| t.iqn != iqn))
    }

    /// Requires CHAP with these credentials for logins to `iqn`.
    pub fn set_chap(&self, iqn: &str, username: &str, password: &str) -> Result<()> {
        let mut found = false;
        self.update_world(|w| {
            if let Some(t) = w.targets.iter_mut().find(|t| t.iqn == iqn) {
                t.chap = Some(Chap {
                    username: username.to_string(),
                    password: password.to_string(),
                });
                found = true;
            }
        })?;
        if !found {
            bail!("no target {iqn}");
        }
        Ok(())
    }

    pub fn set_fault(&self, fault: Fault) -> Result<()> {
        if let Fault::Hang(op) = &fault {
            if !world::HANG_OPS.contains(&op.as_str()) {
                bail!("unknown operation {op:?}; one of {:?}", world::HANG_OPS);
            }
        }
        self.update_world(|w| match fault {
            Fault::Hang(op) => {
                if !w.faults.hang.contains(&op) {
                    w.faults.hang.push(op)
                }
            }
            Fault::IscsidDown => w.faults.iscsid_down = true,
            Fault::AuthFail(iqn) => w.faults.auth_fail.push(iqn),
            Fault::LoginRefused(iqn) => w.faults.login_refused.push(iqn),
            Fault::LoginBusy(iqn) => w.faults.login_busy.push(iqn),
        })
    }

    pub fn clear_faults(&self) -> Result<()> {
        self.update_world(|w| w.faults = Faults::default())
    }

    /// Sets a session's kernel state (LOGGED_IN, FAILED or FREE) with its connection and
    /// disks, as failure-timeline.txt recorded them.
    pub fn set_session_state(&self, sid: u32, state: &str) -> Result<()> {
        let _lock = world::Lock::take(&self.root)?;
        sysfs::set_state(&self.root, sid, state)
    }

    /// The sessions in sysfs.
    pub fn sessions(&self) -> Vec<Session> {
        sysfs::sessions(&self.root)
    }

    /// The node record for `iqn` at `portal` ("addr:port" or "[v6]:port"), as key/value
    /// pairs with every key (empty values as ""), or None.
    pub fn node_record(&self, iqn: &str, portal: &str) -> Option<BTreeMap<String, String>> {
        let (addr, port) = world::split_portal(portal)?;
        let db = records::NodeDb::new(&self.root);
        let (_, rec) = db
            .all()
            .into_iter()
            .find(|(_, r)| r.iqn() == iqn && r.address() == addr && r.port() == port)?;
        Some(
            records::KEYS
                .iter()
                .filter(|k| !k.hidden)
                .map(|k| (k.name.to_string(), rec.get(k.name).to_string()))
                .collect(),
        )
    }

    /// The parsed `log/iscsiadm.log`.
    pub fn invocations(&self) -> Vec<Invocation> {
        world::read_invocations(&self.root)
    }

    /// A command running the simulated iscsiadm the way the agent does: by path, with a
    /// cleared environment (PATH and LANG=C only).
    pub fn iscsiadm(&self) -> Command {
        let mut c = Command::new(self.iscsiadm_path());
        c.env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LANG", "C");
        c
    }

    /// Runs the simulated iscsiadm with `args` and waits for it.
    pub fn run(&self, args: &[&str]) -> Result<Output> {
        self.iscsiadm()
            .args(args)
            .output()
            .context("running the simulated iscsiadm")
    }
}
