//! The ZED hook: the agent binary itself, run by ZFS's event daemon as a zedlet
//! (symlinks `statechange-iscsi-mirror`, `resilver_start-iscsi-mirror`,
//! `resilver_finish-iscsi-mirror` in /etc/zfs/zed.d). No shell.
//!
//! ZED does not bring a returning iSCSI vdev back (measured: no udev event fires), but it
//! does report the moment a vdev faults. That moment is when writes start reaching one
//! half only, so the hook marks the other half outdated right then, sooner than any
//! monitor could; and it counts events per pool so the monitor, without a child process,
//! knows when to look at the pool again.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cluster::attrd;
use crate::deadline::Deadline;
use crate::iscsi::sysfs::Sysfs;
use crate::iscsi::udev;
use crate::ocf::Env;
use crate::state::{self, InstanceState};
use crate::tools::Tools;

/// Whether ZED started us: it always passes the event's id and class.
pub fn is_zedlet_invocation() -> bool {
    std::env::var_os("ZEVENT_EID").is_some() && std::env::var_os("ZEVENT_CLASS").is_some()
}

/// The agent's state directory (HA_RSCTMP/iscsi-mirror), where the counter lives too.
fn state_dir(env: &Env) -> PathBuf {
    Path::new(env.rsc_tmp()).join("iscsi-mirror")
}

/// The event counter of a pool, beside the agent's state files.
pub fn generation_file(state_dir: &Path, pool: &str) -> PathBuf {
    state_dir.join(format!("zed-{pool}.generation"))
}

/// Vdev states in which writes no longer reach the device.
pub fn misses_writes(state: &str) -> bool {
    matches!(state, "FAULTED" | "UNAVAIL" | "REMOVED" | "OFFLINE" | "DEGRADED")
}

/// One event, as ZED passes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub eid: String,
    pub subclass: String,
    pub pool: String,
    pub vdev_path: Option<String>,
    pub vdev_state: Option<String>,
}

impl Event {
    pub fn from_env(env: &Env) -> Option<Event> {
        let g = |k: &str| {
            env.get(k)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        Some(Event {
            eid: g("ZEVENT_EID")?,
            subclass: g("ZEVENT_SUBCLASS")
                .or_else(|| g("ZEVENT_CLASS").map(|c| c.rsplit('.').next().unwrap_or("").to_string()))?,
            pool: g("ZEVENT_POOL")?,
            vdev_path: g("ZEVENT_VDEV_PATH"),
            vdev_state: g("ZEVENT_VDEV_STATE_STR"),
        })
    }
}

/// The started instances of this host whose pool is the event's, with their state.
fn instances(dir: &Path, pool: &str) -> Vec<InstanceState> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".state"))
        .filter_map(|e| {
            let text = fs::read_to_string(e.path()).ok()?;
            state::parse(&text).ok()
        })
        .filter(|s| s.started && s.hook.as_ref().is_some_and(|h| h.pool == pool))
        .collect()
}

/// The node serving the vdev: by its block device's session, else by its by-path name,
/// else by where the monitor last saw a leaf of that name.
pub fn serving_node(st: &InstanceState, vdev: &str) -> Option<String> {
    let hook = st.hook.as_ref()?;
    let root = Path::new(&hook.host_root);
    let sysfs = Sysfs::new(root);
    let target_portal = fs::canonicalize(root.join(vdev.trim_start_matches('/')))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_string()))
        .and_then(|block| sysfs.session_of_block(&block))
        .and_then(|sid| sysfs.session(sid))
        .and_then(|s| {
            let c = s.connections.first()?;
            Some((s.target.clone(), c.persistent_address.clone(), c.persistent_port))
        })
        .or_else(|| {
            let (addr, port, iqn, _) = udev::parse_link(vdev.rsplit('/').next()?)?;
            Some((iqn, addr, port))
        })
        .or_else(|| {
            // Another name (by-partlabel, by-id) whose device is gone: where the monitor
            // last saw it.
            let r = st.pool.remote_vdevs.iter().find(|r| r.vdev == vdev)?;
            let p = crate::target::Portal::parse(&r.portal).ok()?;
            let addr = match &p.host {
                crate::target::Host::Ip(ip) => ip.to_string(),
                crate::target::Host::Name(n) => n.clone(),
            };
            Some((r.target.clone(), addr, p.port))
        })?;
    let (target, addr, port) = target_portal;
    st.paths.iter().find_map(|r| {
        let path = r.path()?;
        let same_portal = path.portal.matches(&addr, port)
            || addr
                .parse()
                .ok()
                .is_some_and(|a| r.addresses.contains(&a) && path.portal.port == port);
        (path.target.as_str() == target && same_portal)
            .then(|| r.peer_node.clone())
            .flatten()
    })
}

/// Adds one to the pool's event counter (atomically; concurrent zedlets serialise on a lock).
pub fn bump_generation(dir: &Path, pool: &str) -> std::io::Result<u64> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(dir.join(format!("zed-{pool}.lock")))?;
    // SAFETY: flock on a descriptor we own; released when `lock` is dropped.
    unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    let file = generation_file(dir, pool);
    let n = fs::read_to_string(&file)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0)
        .saturating_add(1);
    let tmp = dir.join(format!(".zed-{pool}.generation.tmp"));
    let _ = fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)?;
    writeln!(f, "{n}")?;
    fs::rename(&tmp, &file)?;
    Ok(n)
}

pub fn run() -> i32 {
    let env = Env::from_process();
    crate::logging::init("zed", env.debug());
    let Some(ev) = Event::from_env(&env) else {
        tracing::debug!("ZED event without pool or class: nothing to do");
        return 0;
    };
    let deadline = Deadline::after(Duration::from_secs(10));
    let dir = state_dir(&env);
    let ours = instances(&dir, &ev.pool);
    if ours.is_empty() {
        return 0;
    }
    match bump_generation(&dir, &ev.pool) {
        Ok(n) => tracing::debug!(
            "pool {} event {} ({}): generation {n}",
            ev.pool,
            ev.eid,
            ev.subclass
        ),
        Err(e) => tracing::warn!("cannot count ZED events for pool {}: {e}", ev.pool),
    }
    if ev.subclass != "statechange" {
        return 0;
    }
    let (Some(vdev), Some(vstate)) = (&ev.vdev_path, &ev.vdev_state) else {
        return 0;
    };
    if !misses_writes(vstate) {
        return 0;
    }
    for st in &ours {
        let Some(node) = serving_node(st, vdev) else {
            continue;
        };
        let crm_mon = st.hook.as_ref().map(|h| h.crm_mon.clone()).unwrap_or_default();
        let tools = Tools {
            crm_mon,
            ..Tools::defaults()
        };
        let by = st.node.clone();
        match mark_outdated(&tools, &node, &by, deadline) {
            Ok(()) => tracing::warn!(
                "pool {}: {vdev} is {vstate}: writes now reach one half only; {node}'s half marked outdated ({}=1)",
                ev.pool,
                attrd::OUTDATED
            ),
            Err(e) => tracing::error!(
                "pool {}: {vdev} is {vstate} but {node}'s half could not be marked outdated: {e}",
                ev.pool
            ),
        }
    }
    0
}

/// Sets the permanent mark, with when and by whom (for the override's message).
pub fn mark_outdated(tools: &Tools, node: &str, by: &str, deadline: Deadline) -> Result<(), String> {
    attrd::set_permanent(tools, node, attrd::OUTDATED, "1", deadline)?;
    let now = crate::observe::now_ms() / 1000;
    let _ = attrd::set_permanent(tools, node, attrd::OUTDATED_SINCE, &now.to_string(), deadline);
    if !by.is_empty() {
        let _ = attrd::set_permanent(tools, node, attrd::OUTDATED_BY, by, deadline);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{HookConfig, PathRecord};

    #[test]
    fn events_from_zed_s_environment() {
        let env = Env::from_pairs([
            ("ZEVENT_EID", "12"),
            ("ZEVENT_CLASS", "resource.fs.zfs.statechange"),
            ("ZEVENT_POOL", "san-pool"),
            ("ZEVENT_VDEV_PATH", "/dev/sdb1"),
            ("ZEVENT_VDEV_STATE_STR", "FAULTED"),
        ]);
        let ev = Event::from_env(&env).unwrap();
        assert_eq!(ev.subclass, "statechange");
        assert_eq!(ev.vdev_state.as_deref(), Some("FAULTED"));
        assert!(Event::from_env(&Env::from_pairs([("ZEVENT_EID", "1")])).is_none());
    }

    #[test]
    fn the_serving_node_by_by_path_name_when_the_device_is_gone() {
        let st = InstanceState {
            started: true,
            node: "storage-a".into(),
            paths: vec![PathRecord {
                target: "iqn.2025-01.lab.home:storage-b".into(),
                portal: "10.10.10.2:3260".into(),
                peer_node: Some("storage-b".into()),
                ..Default::default()
            }],
            hook: Some(HookConfig {
                pool: "san-pool".into(),
                host_root: "/nonexistent".into(),
                crm_mon: "crm_mon".into(),
            }),
            ..Default::default()
        };
        assert_eq!(
            serving_node(
                &st,
                "/dev/disk/by-path/ip-10.10.10.2:3260-iscsi-iqn.2025-01.lab.home:storage-b-lun-0-part1"
            )
            .as_deref(),
            Some("storage-b")
        );
        assert_eq!(serving_node(&st, "/dev/vdb1"), None);
        // A partition label says nothing of the path: where the monitor last saw it does.
        let label = "/dev/disk/by-partlabel/data-b";
        assert_eq!(serving_node(&st, label), None);
        let mut st = st;
        st.pool.remote_vdevs.push(crate::state::RememberedVdev {
            vdev: label.into(),
            target: "iqn.2025-01.lab.home:storage-b".into(),
            portal: "10.10.10.2:3260".into(),
        });
        assert_eq!(serving_node(&st, label).as_deref(), Some("storage-b"));
    }

    /// The state change ZFS itself logged when the storage link was cut, on both recorded
    /// versions (`zpool events -v`, state "faulted"): 2.3.2 went FAULTED, 2.1.11 UNAVAIL.
    /// Each is a state in which the hook marks the peer's half.
    #[test]
    fn the_recorded_fault_of_each_zfs_version_is_one_the_hook_marks() {
        use crate::zfs::tests::{recorded_in, SETS, ZFS_2_1};
        let remote = "/dev/disk/by-path/ip-192.168.10.2:3260-iscsi-iqn.2025-01.lab.e2e:storage-b-lun-0-part1";
        for set in SETS {
            let (events, rc) = recorded_in(set, "faulted.zpool-events-v.txt");
            assert_eq!(rc, 0, "{set}");
            let states: Vec<String> = events
                .split("\n\n")
                .filter(|e| e.contains("class = \"resource.fs.zfs.statechange\""))
                .filter(|e| e.contains(&format!("vdev_path = \"{remote}\"")))
                .filter_map(|e| {
                    let l = e.lines().find(|l| l.trim_start().starts_with("vdev_state = "))?;
                    Some(l.split('"').nth(1)?.to_string())
                })
                .collect();
            let want = if set == ZFS_2_1 { "UNAVAIL" } else { "FAULTED" };
            assert_eq!(states, vec![want.to_string()], "{set}");
            assert!(misses_writes(want), "{set}");
        }
    }

    #[test]
    fn the_counter_counts() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(bump_generation(d.path(), "p").unwrap(), 1);
        assert_eq!(bump_generation(d.path(), "p").unwrap(), 2);
        assert_eq!(
            fs::read_to_string(generation_file(d.path(), "p")).unwrap().trim(),
            "2"
        );
    }
}
