//! iscsid as far as doctor needs it, read without running anything: whether the daemon
//! runs (its pid file under the host root, the process it names in /proc), and the
//! initiator name open-iscsi logs in with (a target's ACL admits or refuses that name).

use std::path::Path;

use serde::Serialize;

/// Where Debian's iscsid (and its systemd unit's PIDFile=) keeps its pid, under the host root.
pub const PID_FILE: &str = "run/iscsid.pid";
/// open-iscsi's initiator name, under the host root.
pub const INITIATOR_NAME_FILE: &str = "etc/iscsi/initiatorname.iscsi";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Daemon {
    pub running: bool,
    pub pid: Option<i32>,
    /// What was read, in words.
    pub evidence: String,
}

/// The process's name and whether it is a zombie, from the running kernel's /proc.
fn process(pid: i32) -> Option<(String, bool)> {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The state follows the command name's closing parenthesis.
    let zombie = stat
        .rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
    Some((comm.trim().to_string(), zombie))
}

fn scan_proc() -> Option<i32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .find(|pid| process(*pid).is_some_and(|(c, z)| c == "iscsid" && !z))
}

/// Whether iscsid runs. The pid file is read under `host_root`; the process it names is
/// looked up in this kernel's /proc. Without a pid file, /proc is searched for iscsid, but
/// only when the host root is `/` (another root's processes are not this kernel's).
pub fn daemon(host_root: &Path) -> Daemon {
    let file = host_root.join(PID_FILE);
    let shown = format!("/{PID_FILE}");
    match std::fs::read_to_string(&file) {
        Ok(text) => {
            let Ok(pid) = text.trim().parse::<i32>() else {
                return Daemon {
                    running: false,
                    pid: None,
                    evidence: format!(
                        "{shown} holds {:?}, not a process id",
                        crate::text::printable(text.trim())
                    ),
                };
            };
            match process(pid) {
                Some((comm, false)) if comm == "iscsid" => Daemon {
                    running: true,
                    pid: Some(pid),
                    evidence: format!("{shown} names pid {pid}, which is iscsid"),
                },
                Some((comm, true)) if comm == "iscsid" => Daemon {
                    running: false,
                    pid: Some(pid),
                    evidence: format!("{shown} names pid {pid}, an iscsid that has exited (a zombie)"),
                },
                Some((comm, _)) => Daemon {
                    running: false,
                    pid: Some(pid),
                    evidence: format!(
                        "{shown} names pid {pid}, which is {}, not iscsid (a stale pid file)",
                        crate::text::printable(&comm)
                    ),
                },
                None => Daemon {
                    running: false,
                    pid: Some(pid),
                    evidence: format!("{shown} names pid {pid}, which is not running (a stale pid file)"),
                },
            }
        }
        Err(e) if host_root == Path::new("/") => match scan_proc() {
            Some(pid) => Daemon {
                running: true,
                pid: Some(pid),
                evidence: format!("no {shown} ({e}), but pid {pid} is iscsid"),
            },
            None => Daemon {
                running: false,
                pid: None,
                evidence: format!("no {shown} ({e}) and no iscsid process"),
            },
        },
        Err(e) => Daemon {
            running: false,
            pid: None,
            evidence: format!("no {} ({e})", file.display()),
        },
    }
}

/// The `InitiatorName=` of open-iscsi's initiatorname.iscsi under `host_root`.
pub fn initiator_name(host_root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(host_root.join(INITIATOR_NAME_FILE)).ok()?;
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix("InitiatorName="))
        .map(|n| n.trim().to_string())
        .filter(|n| crate::target::Iqn::parse(n).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_file_is_believed_only_when_it_names_a_live_iscsid() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("run")).unwrap();
        let d = daemon(root.path());
        assert!(!d.running && d.evidence.contains("no "), "{d:?}");
        // This test's own pid: alive, but not iscsid.
        std::fs::write(root.path().join(PID_FILE), format!("{}\n", std::process::id())).unwrap();
        let d = daemon(root.path());
        assert!(!d.running && d.evidence.contains("not iscsid"), "{d:?}");
        std::fs::write(root.path().join(PID_FILE), "garbage").unwrap();
        assert!(!daemon(root.path()).running);
        // A live iscsid, and one that died leaving its pid file: tests/doctor.rs (a process
        // of that name in the simulated host's /run/iscsid.pid).
    }

    #[test]
    fn the_initiator_name_as_open_iscsi_wrote_it_on_this_host() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(initiator_name(root.path()), None);
        // Debian's open-iscsi writes the file at install, under a comment header.
        let text = std::fs::read_to_string("/etc/iscsi/initiatorname.iscsi").expect("open-iscsi installed");
        let want = text.lines().find_map(|l| l.strip_prefix("InitiatorName="));
        assert!(text.starts_with('#'));
        assert_eq!(initiator_name(Path::new("/")).as_deref(), want);
    }
}
