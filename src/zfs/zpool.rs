//! The only module that runs `zpool`: the state of the pool's vdevs, for the deep monitor
//! (OCF_CHECK_LEVEL 20) and status. A pool line can say ONLINE while a vdev is FAULTED
//! (recorded on a real ZFS 2.3.2), so vdev states are what count.

use std::time::Duration;

use crate::deadline::Deadline;
use crate::process::{self, RunError};
use crate::tools::{Tools, ZPOOL};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vdev {
    pub name: String,
    pub state: String,
    /// Nesting below the pool line: 1 for top-level vdevs, 2 for mirror members.
    pub depth: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStatus {
    pub name: String,
    pub state: String,
    pub vdevs: Vec<Vdev>,
}

/// Parses `zpool status [-P] POOL`: the config table between "config:" and the blank line.
pub fn parse_status(text: &str) -> Option<PoolStatus> {
    let mut lines = text.lines().skip_while(|l| l.trim() != "config:").skip(1);
    let header = lines.find(|l| !l.trim().is_empty())?;
    if !header.trim_start().starts_with("NAME") {
        return None;
    }
    let base = indent_width(header);
    let mut pool: Option<PoolStatus> = None;
    for line in lines {
        if line.trim().is_empty() {
            break;
        }
        let expanded = indent_width(line);
        let mut fields = line.split_whitespace();
        let (Some(name), Some(state)) = (fields.next(), fields.next()) else {
            continue;
        };
        let depth = (expanded.saturating_sub(base)) / 2;
        match &mut pool {
            None => {
                pool = Some(PoolStatus {
                    name: name.to_string(),
                    state: state.to_string(),
                    vdevs: Vec::new(),
                })
            }
            Some(p) => p.vdevs.push(Vdev {
                name: name.to_string(),
                state: state.to_string(),
                depth,
            }),
        }
    }
    pool
}

/// Leading white space in columns, a tab counting eight.
fn indent_width(line: &str) -> usize {
    let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
    line[..indent].replace('\t', "        ").len()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    Status(PoolStatus),
    /// Not imported on this node (normal on the passive node).
    NotImported,
    /// zpool missing, hung or unreadable output.
    Unknown(String),
}

pub fn read(tools: &Tools, pool: &str, deadline: Deadline) -> Reading {
    match process::run(
        &tools.program(&ZPOOL),
        &["status", "-P", pool],
        deadline.capped(Duration::from_secs(10)),
    ) {
        Ok(out) if out.success() => match parse_status(&out.stdout) {
            Some(s) => Reading::Status(s),
            None => Reading::Unknown(format!("zpool status {pool}: no config table")),
        },
        Ok(out) if out.stderr.contains("no such pool") => Reading::NotImported,
        Ok(out) => Reading::Unknown(format!(
            "zpool status {pool} exited {}: {}",
            out.code.unwrap_or(-1),
            out.stderr.trim()
        )),
        Err(RunError::NotFound(_)) => Reading::Unknown("zpool not installed".into()),
        Err(e) => Reading::Unknown(format!("zpool: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn recorded() -> String {
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/iscsi/recorded/zfs-mirror-fault.txt"
        ))
        .unwrap()
    }

    #[test]
    fn a_faulted_iscsi_vdev_under_an_online_pool_line() {
        // The second `zpool status` in the recording: pool ONLINE, sda FAULTED.
        let text = recorded();
        let faulted = text.split("--- iSCSI leg dies").nth(1).unwrap();
        let s = parse_status(faulted).unwrap();
        assert_eq!((s.name.as_str(), s.state.as_str()), ("labpool", "ONLINE"));
        let names: Vec<(&str, &str, usize)> = s
            .vdevs
            .iter()
            .map(|v| (v.name.as_str(), v.state.as_str(), v.depth))
            .collect();
        assert_eq!(
            names,
            vec![
                ("mirror-0", "ONLINE", 1),
                ("loop0", "ONLINE", 2),
                ("sda", "FAULTED", 2)
            ]
        );
        assert!(parse_status("garbage").is_none());
    }
}
