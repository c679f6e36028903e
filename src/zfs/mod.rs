//! ZFS, as far as the mirror needs it: the pool's vdevs and their states, the resilver,
//! parsed from `zpool status` (ZFS 2.1's text, 2.3's text and JSON), and what can be read
//! without a child process (the pool's kstat). `zpool` is the only module that runs the tool.

pub mod json;
pub mod kstat;
pub mod text;
pub mod zpool;

use serde::Serialize;

/// One vdev of the pool's tree, in the order `zpool status` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vdev {
    /// As `zpool status -P` names it: the device path for a leaf, `mirror-0` for a mirror.
    pub name: String,
    pub state: String,
    /// Nesting below the pool: 1 for top-level vdevs, 2 for mirror members.
    pub depth: usize,
    /// A device, not a grouping (mirror, raidz...).
    pub leaf: bool,
    /// ZFS's device id (e.g. `scsi-36001405...-part1`), when the output gives it.
    pub devid: Option<String>,
    /// The text after the error counters ("too many errors", "(resilvering)", "was ...").
    pub note: String,
}

/// What the pool's scan line says.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "scan", rename_all = "snake_case")]
pub enum Scan {
    None,
    /// A resilver is running: how far, and ZFS's estimate when it gives one.
    Resilvering {
        percent: Option<f64>,
        eta_s: Option<u64>,
    },
    /// The last scan was a resilver that finished (or was canceled): when it finished
    /// (unix seconds; none for a canceled one, or when the time did not read).
    ResilverDone {
        ended_unix: Option<u64>,
    },
    /// A scrub runs or ran; it does not change whether the mirror is whole.
    Scrub,
    /// A scan line this parser does not know.
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolStatus {
    pub name: String,
    /// The pool's own state line (ONLINE, DEGRADED, SUSPENDED...). It can say ONLINE while
    /// a mirror member is FAULTED (recorded on ZFS 2.3.2): vdev states are what count.
    pub state: String,
    pub vdevs: Vec<Vdev>,
    pub scan: Scan,
}

impl PoolStatus {
    pub fn leaves(&self) -> impl Iterator<Item = &Vdev> {
        self.vdevs.iter().filter(|v| v.leaf)
    }

    pub fn resilvering(&self) -> bool {
        matches!(self.scan, Scan::Resilvering { .. })
    }

    pub fn suspended(&self) -> bool {
        self.state == "SUSPENDED"
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    Status(PoolStatus),
    /// Not imported on this node (normal on the passive node).
    NotImported,
    /// zpool missing, hung or unreadable output.
    Unknown(String),
}

/// A leaf vdev that rides on one of this resource's paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteVdev {
    /// Index in `PoolStatus::vdevs`.
    pub vdev: usize,
    /// The leg and path (indices in the snapshot) whose session carries it.
    pub leg: usize,
    pub path: usize,
    /// How it was identified: "block device sdb of session 3", "by-path name", ...
    pub identified_by: String,
    /// Identified by the device itself (its block device belongs to the path's session),
    /// not by a name: worth remembering for when the device is gone.
    pub by_device: bool,
    /// When the device cannot be the session's LUN after all (its WWN differs from the
    /// one ZFS recorded): never brought back automatically.
    pub identity_mismatch: Option<String>,
}

/// What was read of the configured pool.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolFacts {
    pub name: String,
    pub reading: Reading,
    /// The remote leaves and the paths they ride on (empty unless the pool was read).
    pub remote: Vec<RemoteVdev>,
}

#[cfg(test)]
pub(crate) mod tests {
    //! Every parser over the real outputs recorded in the two-VM SAN (ZFS 2.3.2):
    //! tests/fixtures/zfs/vm-recorded, made by tests/e2e/san/guest/record-zfs.sh.
    use super::*;

    /// A recording: what the command printed, and its exit code (the `[rc=N]` line the
    /// recording script appends).
    pub fn recorded(name: &str) -> (String, i32) {
        let p = format!(
            "{}/tests/fixtures/zfs/vm-recorded/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"));
        let (out, rc) = text.rsplit_once("[rc=").expect("an [rc=N] line");
        (out.to_string(), rc.trim().trim_end_matches(']').parse().unwrap())
    }

    fn both(state: &str) -> (PoolStatus, PoolStatus) {
        let (t, rc) = recorded(&format!("{state}.zpool-status-P.txt"));
        assert_eq!(rc, 0);
        let (j, rc) = recorded(&format!("{state}.zpool-status-P-j-json-int-flat.txt"));
        assert_eq!(rc, 0);
        (
            text::parse_status(&t).unwrap_or_else(|| panic!("{state}: text")),
            json::parse_status(&j, "san-pool", 1_796_167_300).unwrap_or_else(|| panic!("{state}: json")),
        )
    }

    /// The leaves by name (the JSON's object keys come sorted, the text in zpool's order).
    fn leaves(s: &PoolStatus) -> Vec<(&str, &str)> {
        let mut l: Vec<(&str, &str)> = s
            .leaves()
            .map(|v| (v.name.rsplit('/').next().unwrap(), v.state.as_str()))
            .collect();
        l.sort();
        l
    }

    const LOCAL: &str = "virtio-pci-0000:00:13.0-part1";
    const REMOTE: &str = "ip-192.168.10.2:3260-iscsi-iqn.2025-01.lab.e2e:storage-b-lun-0-part1";

    #[test]
    fn text_and_json_agree_in_every_recorded_state() {
        for (state, remote, pool_state) in [
            ("healthy", "ONLINE", "ONLINE"),
            ("faulted", "FAULTED", "ONLINE"),
            ("session-back-vdev-faulted", "FAULTED", "ONLINE"),
            ("resilvered", "ONLINE", "ONLINE"),
            ("healthy-again", "ONLINE", "ONLINE"),
            ("admin-offline", "OFFLINE", "DEGRADED"),
        ] {
            let (t, j) = both(state);
            for s in [&t, &j] {
                assert_eq!(s.name, "san-pool");
                assert_eq!(s.state, pool_state, "{state}");
                assert_eq!(leaves(s), vec![(REMOTE, remote), (LOCAL, "ONLINE")], "{state}");
                assert_eq!(s.vdevs.len(), 3, "{state}: {:?}", s.vdevs);
                assert_eq!(s.vdevs[0].name, "mirror-0");
                assert!(!s.vdevs[0].leaf);
            }
        }
        let (t, _) = both("faulted");
        assert_eq!(t.vdevs[2].note, "too many errors");
    }

    /// The recorded samples of the resilver that found it still running.
    pub(crate) fn resilver_samples_in_progress() -> Vec<u32> {
        let file = |n: u32| format!("resilvering-{n}.zpool-status-P.txt");
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/zfs/vm-recorded");
        (1..)
            .take_while(|n| std::path::Path::new(dir).join(file(*n)).exists())
            .filter(|n| recorded(&file(*n)).0.contains("resilver in progress"))
            .collect()
    }

    #[test]
    fn the_resilver_is_tracked_from_start_to_finish() {
        let mut last = -1.0;
        let in_progress = resilver_samples_in_progress();
        assert!(in_progress.len() >= 3, "{in_progress:?}");
        for n in in_progress {
            let (t, j) = both(&format!("resilvering-{n}"));
            let Scan::Resilvering {
                percent: Some(p),
                eta_s,
            } = t.scan
            else {
                panic!("resilvering-{n}: {:?}", t.scan)
            };
            assert!(p >= last && p < 100.0, "resilvering-{n}: {p}");
            last = p;
            // "no estimated completion time" below 10 MB/s, as in the recording.
            assert_eq!(eta_s, None);
            assert!(
                matches!(j.scan, Scan::Resilvering { percent: Some(_), .. }),
                "{:?}",
                j.scan
            );
            assert!(t.resilvering() && j.resilvering());
        }
        let (t, j) = both("resilvered");
        let (Scan::ResilverDone { ended_unix: Some(te) }, Scan::ResilverDone { ended_unix: Some(je) }) =
            (t.scan.clone(), j.scan.clone())
        else {
            panic!("{:?} {:?}", t.scan, j.scan)
        };
        // The text's time is local (the recording's VM ran in UTC): the same instant, or a
        // whole time-zone offset away where this test runs elsewhere.
        assert_eq!((te as i64 - je as i64) % 900, 0, "{te} {je}");
        if std::env::var("TZ").map_or(true, |tz| tz.is_empty() || tz == "UTC")
            && std::fs::read_link("/etc/localtime")
                .map_or(true, |l| l.ends_with("UTC") || l.ends_with("Etc/UTC"))
        {
            assert_eq!(te, je);
        }
        let (t, j) = both("healthy");
        assert_eq!((t.scan, j.scan), (Scan::None, Scan::None));
    }

    #[test]
    fn a_pool_not_imported_says_so() {
        for state in ["not-imported", "exported"] {
            let (out, rc) = recorded(&format!("{state}.zpool-status-P.txt"));
            assert_eq!(rc, 1);
            assert!(out.contains("no such pool"), "{out}");
            assert!(text::parse_status(&out).is_none());
        }
    }

    #[test]
    fn the_kstat_says_imported_not_whole() {
        // Faulted or not, the pool-level kstat says ONLINE: it only tells "imported here".
        for state in ["healthy", "faulted", "resilvering-4"] {
            let (out, rc) = recorded(&format!("{state}.kstat-state.txt"));
            assert_eq!((out.trim(), rc), ("ONLINE", 0), "{state}");
        }
        let (out, rc) = recorded("not-imported.kstat-state.txt");
        assert_ne!(rc, 0, "{out}");
    }
}
