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
//! - `bin/zpool`: the same binary as ZFS's zpool (`zpool.rs`), serving the pools of the
//!   world (`zfs.rs`); `log/zpool.log` one JSON line per zpool invocation;
//!   `proc/spl/kstat/zfs/POOL/state` while a pool is imported.

pub mod control;
pub mod getopt;
pub mod iscsiadm;
pub mod records;
pub mod resolver;
pub mod sysfs;
pub mod world;
pub mod zfs;
pub mod zpool;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{anyhow, bail, Context, Result};

pub use sysfs::{Device, Session};
pub use world::{Chap, Faults, Invocation, IsnsServer, Target, World};
pub use zfs::{Pool, Scan, Stats, Suspend, Vdev, Zfs};

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
    /// `sim.json`, Debian's iscsid.conf, an initiatorname.iscsi, and `bin/iscsiadm` and
    /// `bin/zpool` as symlinks to `binary` (the `iscsi-simhost` executable).
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
        for name in ["iscsiadm", "zpool"] {
            let link = root.join("bin").join(name);
            let _ = fs::remove_file(&link);
            std::os::unix::fs::symlink(&binary, &link)
                .with_context(|| format!("linking {}", link.display()))?;
        }
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

    /// `<root>/bin/zpool`: give this path to the agent as its `zpool`.
    pub fn zpool_path(&self) -> PathBuf {
        self.root.join("bin/zpool")
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

    // ---- the ZFS side ------------------------------------------------------------------

    /// A command running the simulated zpool the way the agent does: by path, with a
    /// cleared environment (PATH and LANG=C only; dates in the host's local time).
    pub fn zpool(&self) -> Command {
        let mut c = Command::new(self.zpool_path());
        c.env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LANG", "C");
        c
    }

    /// Runs the simulated zpool with `args` and waits for it.
    pub fn run_zpool(&self, args: &[&str]) -> Result<Output> {
        self.zpool()
            .args(args)
            .output()
            .context("running the simulated zpool")
    }

    /// The parsed `log/zpool.log`: every zpool invocation with its exit code.
    pub fn zpool_invocations(&self) -> Vec<Invocation> {
        world::read_invocations_of(&self.root, "zpool.log")
    }

    /// Changes the ZFS side of the world under the sim lock (the kstats follow).
    pub fn update_zfs<T>(&self, f: impl FnOnce(&mut Zfs) -> Result<T>) -> Result<T> {
        let _lock = world::Lock::take(&self.root)?;
        let mut w = World::load(&self.root)?;
        let out = f(&mut w.zfs)?;
        w.save(&self.root)?;
        Ok(out)
    }

    /// Changes one pool.
    pub fn update_pool<T>(&self, pool: &str, f: impl FnOnce(&mut Pool, i64) -> Result<T>) -> Result<T> {
        self.update_zfs(|z| {
            let now = z.now();
            let p = z.pool_mut(pool).ok_or_else(|| anyhow!("no pool {pool}"))?;
            f(p, now)
        })
    }

    /// The pool as the world has it.
    pub fn pool(&self, name: &str) -> Option<Pool> {
        self.world().ok()?.zfs.pool(name).cloned()
    }

    /// Adds (or replaces, by name) a pool defined in full.
    pub fn put_pool(&self, pool: Pool) -> Result<()> {
        self.update_zfs(|z| {
            z.pools.retain(|p| p.name != pool.name);
            z.pools.push(pool);
            Ok(())
        })
    }

    /// Removes a pool from the world (destroyed, or never there), with its kstat.
    pub fn remove_pool(&self, name: &str) -> Result<()> {
        self.update_zfs(|z| {
            z.pools.retain(|p| p.name != name);
            Ok(())
        })?;
        zfs::remove_kstat(&self.root, name)?;
        Ok(())
    }

    /// Creates pool `name` = mirror-0 of `leaves`, imported and healthy ([`Pool::mirror`]);
    /// the leaves' devices are made under the sim root as [`Leaf`] says. Returns the leaf
    /// paths, as `zpool status -P` names them.
    pub fn create_pool(&self, name: &str, leaves: &[Leaf]) -> Result<Vec<String>> {
        let mut paths = Vec::new();
        for l in leaves {
            paths.push(match l {
                Leaf::Local(p) => self.local_device(p)?,
                Leaf::Remote { sid, lun } => self.remote_leaf(*sid, *lun)?,
                Leaf::Path(p) => p.clone(),
            });
        }
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        self.put_pool(Pool::mirror(name, &refs))?;
        Ok(paths)
    }

    /// Makes a local device at `path` under the sim root: a file for `/dev/NAME`; for a
    /// link name (`/dev/disk/by-*/X`) a file `/dev/vdXN` and the link to it. Returns `path`.
    pub fn local_device(&self, path: &str) -> Result<String> {
        let rel = path
            .strip_prefix("/dev/")
            .ok_or_else(|| anyhow!("a local leaf lives under /dev: {path}"))?;
        let at = self.root.join("dev").join(rel);
        if let Some(dir) = at.parent() {
            fs::create_dir_all(dir)?;
        }
        if !rel.contains('/') {
            fs::write(&at, "")?;
            return Ok(path.to_string());
        }
        let dev = (b'b'..=b'z')
            .map(|c| format!("vd{}1", c as char))
            .find(|d| !self.root.join("dev").join(d).exists())
            .ok_or_else(|| anyhow!("no free vdX1 name"))?;
        fs::write(self.root.join("dev").join(&dev), "")?;
        let up = "../".repeat(rel.matches('/').count());
        let _ = fs::remove_file(&at);
        std::os::unix::fs::symlink(format!("{up}{dev}"), &at)?;
        Ok(path.to_string())
    }

    /// A leaf riding on LUN `lun` of session `sid`: its disk gets partition 1 as the kernel
    /// shows it (`/sys/class/block/sdX1` under the disk, `/dev/sdX1`), udev's
    /// `/dev/disk/by-path/ip-...-lun-L-part1`; the target keeps the partition table for later
    /// logins. Returns the by-path name of the partition.
    pub fn remote_leaf(&self, sid: u32, lun: u32) -> Result<String> {
        let s = self
            .sessions()
            .into_iter()
            .find(|s| s.sid == sid)
            .ok_or_else(|| anyhow!("no session {sid}"))?;
        {
            let _lock = world::Lock::take(&self.root)?;
            sysfs::partition_disk(&self.root, sid, lun, 1)?;
            let mut w = World::load(&self.root)?;
            if let Some(t) = w.targets.iter_mut().find(|t| t.iqn == s.iqn) {
                t.partitions = t.partitions.max(1);
            }
            w.save(&self.root)?;
        }
        Ok(format!(
            "/dev/disk/by-path/{}-part1",
            sysfs::by_path_name(&s.persistent_address, s.persistent_port, &s.iqn, lun)
        ))
    }

    /// Writes `device/wwid` of LUN `lun` of session `sid` (e.g. "naa.6001405...").
    pub fn set_lun_wwid(&self, sid: u32, lun: u32, wwid: &str) -> Result<()> {
        let _lock = world::Lock::take(&self.root)?;
        sysfs::set_wwid(&self.root, sid, lun, wwid)
    }

    /// Sets a leaf's state ("ONLINE", "FAULTED", "OFFLINE", "UNAVAIL", "REMOVED",
    /// "DEGRADED") with zpool's default aux for it, and its parents' states as the kernel
    /// propagates them. (A leaf the kernel faults on I/O errors leaves its parents ONLINE,
    /// as recorded: use [`SimHost::fault_leaf`] for that.)
    pub fn set_leaf_state(&self, pool: &str, leaf: &str, state: &str) -> Result<()> {
        let (st, aux) = zfs::parse_state(state)?;
        self.update_pool(pool, |p, _| {
            let v = p
                .find_mut(leaf)
                .ok_or_else(|| anyhow!("no vdev {leaf} in {pool}"))?;
            v.state = st;
            v.aux = aux.to_string();
            p.root.propagate();
            p.txg += 1;
            Ok(())
        })
    }

    /// The recorded fault of a leaf whose storage link was cut, as the simulated ZFS
    /// version showed it (tests/fixtures/zfs/vm-recorded{,-2.1}, state "faulted"): on
    /// 2.3.2 ZED's diagnosis FAULTs the leaf "too many errors" (aux ERR_EXCEEDED) with its
    /// mirror and the pool still ONLINE (status "One or more devices are faulted..."); on
    /// 2.1.11 the kernel's reopen after the failed probe leaves it UNAVAIL with no note
    /// (CANT_OPEN, aux NONE), its mirror and the pool DEGRADED (status "...the label is
    /// missing or invalid", ZFS-8000-4J). Either way with 3 read and 71 write errors, and
    /// it has missed what the pool holds (`missed` = the pool's allocated bytes), so
    /// `zpool online` resilvers.
    pub fn fault_leaf(&self, pool: &str, leaf: &str) -> Result<()> {
        self.update_zfs(|z| {
            let v21 = z.v21();
            let p = z.pool_mut(pool).ok_or_else(|| anyhow!("no pool {pool}"))?;
            let alloc = p.root.stats.alloc;
            let v = p
                .find_mut(leaf)
                .ok_or_else(|| anyhow!("no vdev {leaf} in {pool}"))?;
            if v21 {
                v.state = "CANT_OPEN".into();
                v.aux = "NONE".into();
            } else {
                v.state = "FAULTED".into();
                v.aux = "ERR_EXCEEDED".into();
            }
            v.stats.read_errors = 3;
            v.stats.write_errors = 71;
            v.missed = v.missed.max(alloc);
            if v21 {
                p.root.propagate();
            }
            p.txg += 1;
            Ok(())
        })
    }

    /// Sets a leaf's error counters.
    pub fn set_leaf_errors(&self, pool: &str, leaf: &str, read: u64, write: u64, cksum: u64) -> Result<()> {
        self.update_pool(pool, |p, _| {
            let v = p
                .find_mut(leaf)
                .ok_or_else(|| anyhow!("no vdev {leaf} in {pool}"))?;
            v.stats.read_errors = read;
            v.stats.write_errors = write;
            v.stats.checksum_errors = cksum;
            Ok(())
        })
    }

    /// Starts a resilver now (the simulated clock) of the leaves that missed something;
    /// false when none did.
    pub fn start_resilver(&self, pool: &str) -> Result<bool> {
        self.update_pool(pool, |p, now| Ok(p.start_resilver(now)))
    }

    /// Moves the running resilver to `percent` done.
    pub fn advance_resilver(&self, pool: &str, percent: f64) -> Result<()> {
        self.update_pool(pool, |p, _| p.advance_resilver(percent))
    }

    /// Finishes the running resilver now: "resilvered ... with 0 errors on <now>".
    pub fn finish_resilver(&self, pool: &str) -> Result<()> {
        self.update_pool(pool, |p, now| p.finish_resilver(now))
    }

    /// Exports (`false`) or imports (`true`) the pool here; the kstat follows.
    pub fn set_imported(&self, pool: &str, imported: bool) -> Result<()> {
        self.update_pool(pool, |p, _| {
            p.imported = imported;
            Ok(())
        })
    }

    /// Suspends the pool (I/O failures, or multihost), or resumes it (`None`).
    pub fn suspend_pool(&self, pool: &str, why: Option<Suspend>) -> Result<()> {
        self.update_pool(pool, |p, _| {
            p.suspended = why;
            Ok(())
        })
    }

    /// Sets a pool property (`zpool get` shows it with source "local").
    pub fn set_pool_prop(&self, pool: &str, name: &str, value: &str) -> Result<()> {
        self.update_pool(pool, |p, _| {
            p.set_prop(name, value);
            Ok(())
        })
    }

    /// The ZFS version the simulated zpool behaves as: "2.3" (recorded) or "2.1" (from
    /// source: no `-j`, the older scan lines).
    pub fn set_zfs_version(&self, version: &str) -> Result<()> {
        if !zfs::VERSIONS.contains(&version) {
            bail!(
                "ZFS version {version:?} is not modelled; one of {:?}",
                zfs::VERSIONS
            );
        }
        self.update_zfs(|z| {
            z.version = version.to_string();
            Ok(())
        })
    }

    /// Fixes the simulated zpool's clock (`time(NULL)`, in seconds), or lets it follow the
    /// real one (`None`).
    pub fn set_zfs_clock(&self, secs: Option<i64>) -> Result<()> {
        self.update_zfs(|z| {
            z.clock = secs;
            Ok(())
        })
    }
}

/// A leaf of a pool made by [`SimHost::create_pool`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Leaf {
    /// A local device at this path, made under the sim root ([`SimHost::local_device`]).
    Local(String),
    /// Partition 1 of LUN `lun` of session `sid`, by its by-path name
    /// ([`SimHost::remote_leaf`]).
    Remote { sid: u32, lun: u32 },
    /// This path as it is; nothing is made.
    Path(String),
}
