//! udev's /dev/disk/by-path links for iSCSI disks, waited for with a bound.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::deadline::Deadline;
use crate::iscsi::sysfs::Session;

/// A by-path name `ip-ADDR:PORT-iscsi-IQN-lun-N[-partK]`, split into its parts (the
/// partition, which ZFS adds to whole disks, is dropped).
pub fn parse_link(name: &str) -> Option<(String, u16, String, u64)> {
    let name = match name.rsplit_once("-part") {
        Some((disk, k)) if !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) => disk,
        _ => name,
    };
    let rest = name.strip_prefix("ip-")?;
    let (addr_port, rest) = rest.split_once("-iscsi-")?;
    let (iqn, lun) = rest.rsplit_once("-lun-")?;
    let (addr, port) = addr_port.rsplit_once(':')?;
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    Some((
        addr.to_string(),
        port.parse().ok()?,
        iqn.to_string(),
        lun.parse().ok()?,
    ))
}

/// The links that exist for this session's disks, matched exactly (address, port, IQN, LUN).
pub fn links_for(host_root: &Path, session: &Session) -> Vec<PathBuf> {
    let dir = host_root.join("dev/disk/by-path");
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let Some(conn) = session.connections.first() else {
        return Vec::new();
    };
    let mut links: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            parse_link(&name).is_some_and(|(addr, port, iqn, lun)| {
                // path_id writes persistent_address as the kernel has it: an address (any
                // spelling of it), or the host name a record was made with.
                iqn == session.target
                    && port == conn.persistent_port
                    && (addr.eq_ignore_ascii_case(&conn.persistent_address)
                        || addr
                            .parse::<std::net::IpAddr>()
                            .ok()
                            .is_some_and(|a| conn.persistent_address.parse().ok() == Some(a)))
                    && session.disks.iter().any(|d| d.lun == lun)
            })
        })
        // A dangling link is no device yet.
        .filter(|e| fs::metadata(e.path()).is_ok())
        .map(|e| e.path())
        .collect();
    links.sort();
    links
}

/// Waits until every disk of the session has its link, or the deadline passes.
/// `reread` refreshes the session from sysfs (disks appear as the kernel scans).
pub fn wait_for_links(
    host_root: &Path,
    reread: impl Fn() -> Option<Session>,
    deadline: Deadline,
) -> Result<Vec<PathBuf>, String> {
    loop {
        let session = reread().ok_or("the session disappeared while waiting for udev")?;
        let links = links_for(host_root, &session);
        if !session.disks.is_empty() && links.len() >= session.disks.len() {
            return Ok(links);
        }
        if deadline.expired() {
            return Err(if session.disks.is_empty() {
                format!(
                    "session {} has no disks: does the target export a LUN to us?",
                    session.sid
                )
            } else {
                format!(
                    "udev made {} of {} by-path links in time: is udevd running?",
                    links.len(),
                    session.disks.len()
                )
            });
        }
        deadline.sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::parse_link;

    #[test]
    fn by_path_names() {
        assert_eq!(
            parse_link("ip-127.0.0.1:3260-iscsi-iqn.2024-01.lab.local:vm.disk1-lun-0"),
            Some((
                "127.0.0.1".into(),
                3260,
                "iqn.2024-01.lab.local:vm.disk1".into(),
                0
            ))
        );
        assert_eq!(
            parse_link("ip-[fd00::2]:3260-iscsi-iqn.2024-01.a-b:c-lun-12").map(|p| (p.0, p.3)),
            Some(("fd00::2".into(), 12))
        );
        assert_eq!(parse_link("pci-0000:00:1f.2-ata-1"), None);
        assert_eq!(
            parse_link("ip-10.10.10.2:3260-iscsi-iqn.2025-01.lab.home:storage-b-lun-0-part1")
                .map(|p| (p.2, p.3)),
            Some(("iqn.2025-01.lab.home:storage-b".into(), 0))
        );
    }
}
