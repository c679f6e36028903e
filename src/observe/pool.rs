//! The pool, observed: imported here or not (the kstat, no child process), its vdevs and
//! resilver (`zpool`, only when asked), and which leaves ride on this resource's paths,
//! identified by the device itself: the vdev's path resolved to a block device, the block
//! device to its iSCSI session in sysfs, and ZFS's recorded WWN checked against the LUN's.

use std::path::Path;

use super::{LegFacts, Snapshot};
use crate::deadline::Deadline;
use crate::iscsi::sysfs::Sysfs;
use crate::iscsi::udev;
use crate::state::RememberedVdev;
use crate::tools::Tools;
use crate::zfs::{kstat, zpool, PoolFacts, PoolStatus, Reading, RemoteVdev};

/// The block device a vdev path names (`/dev/disk/by-path/...-part1` -> `sdb1`), under
/// `host_root`; `None` when the path does not resolve (the device is gone).
fn block_of(host_root: &Path, vdev: &str) -> Option<String> {
    if !vdev.starts_with("/dev/") {
        return None;
    }
    let real = std::fs::canonicalize(host_root.join(vdev.trim_start_matches('/'))).ok()?;
    real.file_name()?.to_str().map(str::to_string)
}

/// `scsi-36001405abc...-part1` and `naa.6001405abc...` name the same LUN.
fn wwn_of_devid(devid: &str) -> Option<String> {
    let id = devid.strip_prefix("scsi-3")?;
    let id = match id.rsplit_once("-part") {
        Some((disk, k)) if k.bytes().all(|b| b.is_ascii_digit()) => disk,
        _ => id,
    };
    Some(id.to_ascii_lowercase())
}

fn wwn_of_wwid(wwid: &str) -> Option<String> {
    Some(wwid.strip_prefix("naa.")?.to_ascii_lowercase())
}

/// Which leaves ride on which of the legs' paths.
pub fn map_remote(
    status: &PoolStatus,
    legs: &[LegFacts],
    sysfs: &Sysfs,
    host_root: &Path,
    remembered: &[RememberedVdev],
) -> Vec<RemoteVdev> {
    let mut out = Vec::new();
    for (vi, v) in status.vdevs.iter().enumerate().filter(|(_, v)| v.leaf) {
        let block = block_of(host_root, &v.name);
        let by_session = block
            .as_deref()
            .and_then(|b| sysfs.session_of_block(b).map(|sid| (b, sid)));
        let found = by_session.and_then(|(b, sid)| {
            legs.iter().enumerate().find_map(|(li, l)| {
                l.paths
                    .iter()
                    .position(|p| p.session.as_ref().is_some_and(|s| s.sid == sid))
                    .map(|pi| (li, pi, format!("block device {b} of session {sid}")))
            })
        });
        // The device gone (its session down): the by-path name still names target,
        // portal and LUN exactly.
        let by_device = found.is_some();
        let found = found.or_else(|| {
            let base = v.name.rsplit('/').next()?;
            let (addr, port, iqn, _lun) = udev::parse_link(base)?;
            legs.iter().enumerate().find_map(|(li, l)| {
                l.paths
                    .iter()
                    .position(|p| p.path.target.as_str() == iqn && p.path.portal.matches(&addr, port))
                    .map(|pi| (li, pi, format!("by-path name {base}")))
            })
        });
        // Any other name (by-partlabel, by-id, by-vdev): the path it was last seen on.
        let found = found.or_else(|| {
            let r = remembered.iter().find(|r| r.vdev == v.name)?;
            legs.iter().enumerate().find_map(|(li, l)| {
                l.paths
                    .iter()
                    .position(|p| p.path.target.as_str() == r.target && p.path.portal.to_string() == r.portal)
                    .map(|pi| (li, pi, format!("seen earlier on {} {}", r.target, r.portal)))
            })
        });
        let Some((leg, path, identified_by)) = found else {
            continue;
        };
        let identity_mismatch = match (
            v.devid.as_deref().and_then(wwn_of_devid),
            block
                .as_deref()
                .and_then(|b| sysfs.wwid_of_block(b))
                .as_deref()
                .and_then(wwn_of_wwid),
        ) {
            (Some(zfs), Some(lun)) if zfs != lun => Some(format!(
                "ZFS knows this vdev as WWN {zfs}, the device now there is {lun}"
            )),
            _ => None,
        };
        out.push(RemoteVdev {
            vdev: vi,
            leg,
            path,
            identified_by,
            by_device,
            identity_mismatch,
        });
    }
    out
}

/// Whether the pool is imported here, without a child process.
pub fn imported_here(host_root: &Path, pool: &str) -> bool {
    state_here(host_root, pool).is_some()
}

/// The pool's state from its kstat (no child process), if it is imported here.
pub fn state_here(host_root: &Path, pool: &str) -> Option<String> {
    kstat::pool_state(host_root, pool)
}

/// Reads the pool once (a child process) and maps its remote leaves; returns what was
/// learnt about `zpool status -j`.
pub fn read(
    snap: &mut Snapshot,
    name: &str,
    tools: &Tools,
    sysfs: &Sysfs,
    host_root: &Path,
    json: Option<bool>,
    deadline: Deadline,
) -> Option<bool> {
    if snap.pool.is_some() {
        return json;
    }
    let (reading, learnt) = if imported_here(host_root, name) {
        zpool::status(tools, name, json, snap.now_unix(), deadline)
    } else {
        (Reading::NotImported, json)
    };
    let remote = match &reading {
        Reading::Status(s) => {
            let remembered = snap
                .state
                .state()
                .map(|st| st.pool.remote_vdevs.clone())
                .unwrap_or_default();
            map_remote(s, &snap.legs, sysfs, host_root, &remembered)
        }
        Reading::Unknown(why) => {
            tracing::warn!("cannot read pool {name}: {why}");
            Vec::new()
        }
        Reading::NotImported => Vec::new(),
    };
    snap.pool = Some(PoolFacts {
        name: name.to_string(),
        reading,
        remote,
    });
    learnt
}

/// The ZED hook's event counter for the pool (0 without one): a child-free sign that ZFS
/// saw a vdev change since the monitor last read the pool.
pub fn zed_generation(state_dir: &Path, pool: &str) -> u64 {
    std::fs::read_to_string(crate::zed::generation_file(state_dir, pool))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wwns_from_zfs_devids_and_kernel_wwids() {
        assert_eq!(
            wwn_of_devid("scsi-36001405d27e5a1fc8ea4b33bd1b9b5f2-part1").as_deref(),
            Some("6001405d27e5a1fc8ea4b33bd1b9b5f2")
        );
        assert_eq!(
            wwn_of_wwid("naa.6001405D27E5A1FC8EA4B33BD1B9B5F2").as_deref(),
            Some("6001405d27e5a1fc8ea4b33bd1b9b5f2")
        );
        assert_eq!(wwn_of_devid("ata-QEMU_HARDDISK_QM00001"), None);
    }
}
