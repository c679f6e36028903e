//! The ZFS figures of the timeout window: multihost and failmode (`zpool get`), the MMP
//! module parameters and this host's hostid (read without a child process), the peers'
//! hostids as they published them in the CIB.

use std::path::Path;

use crate::cluster::attrd;
use crate::cluster::cib::Cib;
use crate::deadline::Deadline;
use crate::decide::mmp::ZfsFigures;
use crate::decide::timeouts::Figure;
use crate::tools::Tools;
use crate::zfs::{kstat, zpool};

fn param(host_root: &Path, name: &str) -> Option<Figure> {
    let p = host_root.join("sys/module/zfs/parameters").join(name);
    let v: i64 = std::fs::read_to_string(&p).ok()?.trim().parse().ok()?;
    Some(Figure::new(v, format!("/sys/module/zfs/parameters/{name}")))
}

/// This host's hostid as `hostid` prints it: /etc/hostid (4 bytes, little-endian), else
/// the spl module's parameter.
pub fn hostid(host_root: &Path) -> Option<(String, String)> {
    if let Ok(b) = std::fs::read(host_root.join("etc/hostid")) {
        if let Ok(four) = <[u8; 4]>::try_from(b.get(..4).unwrap_or(&[])) {
            return Some((format!("{:08x}", u32::from_le_bytes(four)), "/etc/hostid".into()));
        }
    }
    let p = host_root.join("sys/module/spl/parameters/spl_hostid");
    let v: u64 = std::fs::read_to_string(p).ok()?.trim().parse().ok()?;
    Some((
        format!("{:08x}", v & 0xffff_ffff),
        "/sys/module/spl/parameters/spl_hostid".into(),
    ))
}

/// Everything but the peers' hostids (the caller adds those from the CIB it has).
pub fn figures(pool: &str, tools: &Tools, host_root: &Path, deadline: Deadline) -> ZfsFigures {
    let props = zpool::get(tools, pool, &["multihost", "failmode"], deadline).unwrap_or_default();
    let prop = |name: &str| {
        props
            .iter()
            .find(|(k, _, _)| k == name)
            .map(|(_, v, src)| (v.clone(), format!("zpool get {name} {pool} ({src})")))
    };
    ZfsFigures {
        pool: pool.to_string(),
        multihost: prop("multihost"),
        failmode: prop("failmode"),
        hostid: hostid(host_root),
        peer_hostids: Vec::new(),
        interval_ms: param(host_root, "zfs_multihost_interval"),
        fail_intervals: param(host_root, "zfs_multihost_fail_intervals"),
        import_intervals: param(host_root, "zfs_multihost_import_intervals"),
    }
}

/// The pools imported on this host (kstat, no child process).
pub fn imported_pools(host_root: &Path) -> Vec<String> {
    kstat::imported_pools(host_root)
}

/// The hostids the other nodes published (permanent node attribute, set at start).
pub fn peer_hostids(cib: &Cib, me: &str) -> Vec<(String, String)> {
    cib.nodes
        .iter()
        .filter(|n| !n.node.eq_ignore_ascii_case(me))
        .filter_map(|n| {
            n.permanent
                .get(attrd::HOSTID)
                .map(|h| (n.node.clone(), h.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hostid_as_the_hostid_command_prints_it() {
        // Recorded on storage-a: `od -An -tx1 /etc/hostid` gave 01 00 5a 5a, `hostid` 5a5a0001.
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("etc")).unwrap();
        std::fs::write(d.path().join("etc/hostid"), [0x01, 0x00, 0x5a, 0x5a]).unwrap();
        assert_eq!(hostid(d.path()).unwrap().0, "5a5a0001");
        std::fs::remove_file(d.path().join("etc/hostid")).unwrap();
        std::fs::create_dir_all(d.path().join("sys/module/spl/parameters")).unwrap();
        // spl_hostid as recorded (decimal).
        std::fs::write(
            d.path().join("sys/module/spl/parameters/spl_hostid"),
            "1515847681\n",
        )
        .unwrap();
        assert_eq!(hostid(d.path()).unwrap().0, "5a5a0001");
    }
}
