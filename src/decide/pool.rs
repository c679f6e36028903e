//! The mirror's pool side, judged: which vdevs ride on this node's sessions, which of
//! them are not ONLINE, and what that makes of the mirror.

use crate::decide::verdict::{Reason, Verdict};
use crate::iscsi::sysfs::Session;
use crate::zfs::{PoolFacts, PoolStatus, Reading, Vdev};

/// Whether a vdev rides on one of these sessions: its device is one of their disks, or a
/// by-path name of their target.
pub fn rides_on(vdev: &str, sessions: &[&Session]) -> bool {
    let base = vdev.rsplit('/').next().unwrap_or(vdev);
    sessions.iter().any(|s| {
        base.contains(&format!("-iscsi-{}-lun-", s.target))
            || s.disks.iter().filter_map(|d| d.block.as_deref()).any(|b| {
                base == b
                    || base
                        .strip_prefix(b)
                        .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit()))
            })
    })
}

/// Remote vdevs that are not ONLINE although their sessions are up: ZFS needs an admin
/// (or this agent) to bring them back; the mirror is not whole until it does.
pub fn stuck_remote_vdevs<'a>(status: &'a PoolStatus, sessions: &[&Session]) -> Vec<&'a Vdev> {
    status
        .vdevs
        .iter()
        .filter(|v| v.state != "ONLINE" && rides_on(&v.name, sessions))
        .collect()
}

/// The pool's verdict given the sessions that are up.
pub fn judge(facts: &PoolFacts, up: &[&Session]) -> Verdict {
    match &facts.reading {
        Reading::Status(status) => {
            let reasons: Vec<Reason> = stuck_remote_vdevs(status, up)
                .into_iter()
                .map(|v| Reason::VdevNotOnline {
                    pool: facts.name.clone(),
                    vdev: v.name.clone(),
                    state: v.state.clone(),
                    session_up_s: None,
                    held_back: None,
                })
                .collect();
            if reasons.is_empty() {
                Verdict::healthy()
            } else {
                Verdict {
                    kind: crate::decide::verdict::Kind::Degraded,
                    reasons,
                }
            }
        }
        Reading::NotImported | Reading::Unknown(_) => Verdict::healthy(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iscsi::sysfs::{Disk, SessionState};
    use crate::zfs::zpool::parse_status;

    fn session_with_sda() -> Session {
        Session {
            sid: 2,
            target: "iqn.2024-01.lab.local:vm.disk1".into(),
            state: SessionState::LoggedIn,
            recovery_tmo: Some(8),
            connections: vec![],
            disks: vec![Disk {
                hctl: "2:0:0:0".into(),
                lun: 0,
                block: Some("sda".into()),
                state: "running".into(),
            }],
        }
    }

    fn recorded() -> String {
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/iscsi/recorded/zfs-mirror-fault.txt"
        ))
        .unwrap()
    }

    #[test]
    fn a_faulted_remote_vdev_with_its_session_up_is_stuck() {
        let text = recorded();
        let faulted = parse_status(text.split("--- iSCSI leg dies").nth(1).unwrap()).unwrap();
        let session = session_with_sda();
        let stuck = stuck_remote_vdevs(&faulted, &[&session]);
        assert_eq!(stuck.len(), 1);
        assert_eq!(stuck[0].name, "sda");
        // After `zpool online`: all ONLINE.
        let back = text.split("--- session back").nth(1).unwrap();
        assert!(stuck_remote_vdevs(&parse_status(back).unwrap(), &[&session]).is_empty());
    }

    #[test]
    fn remote_vdevs_by_device_or_by_path_name() {
        let s = session_with_sda();
        assert!(rides_on("/dev/sda", &[&s]));
        assert!(rides_on("sda1", &[&s]));
        assert!(!rides_on("sdaa", &[&s]));
        assert!(rides_on(
            "/dev/disk/by-path/ip-127.0.0.1:3260-iscsi-iqn.2024-01.lab.local:vm.disk1-lun-0-part1",
            &[&s]
        ));
        assert!(!rides_on("/dev/loop0", &[&s]));
    }
}
