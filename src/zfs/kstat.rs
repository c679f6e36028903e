//! The pool's kstat (`/proc/spl/kstat/zfs/POOL/state`), read without a child process, as
//! ocf:heartbeat:ZFS does: whether the pool is imported here, and its pool-level state.
//! The pool-level state can stay ONLINE while a mirror member is FAULTED (recorded on ZFS
//! 2.3.2), so it says "imported here", never "whole".

use std::path::Path;

/// The pools imported on this node, by name (sorted).
pub fn imported_pools(host_root: &Path) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(host_root.join("proc/spl/kstat/zfs")) else {
        return Vec::new();
    };
    let mut pools: Vec<String> = dir
        .flatten()
        .filter(|e| e.path().join("state").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    pools.sort();
    pools
}

/// `None`: not imported on this node.
pub fn pool_state(host_root: &Path, pool: &str) -> Option<String> {
    let file = host_root.join("proc/spl/kstat/zfs").join(pool).join("state");
    std::fs::read_to_string(file).ok().map(|s| s.trim().to_string())
}
