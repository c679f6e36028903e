//! The only module that runs `zpool`: the pool's status (JSON where ZFS has it, 2.3+;
//! text otherwise) and `zpool online` of one vdev.

use std::time::Duration;

use super::{json, text, PoolStatus, Reading};
use crate::deadline::Deadline;
use crate::process::{self, Output, RunError};
use crate::tools::{Tools, ZPOOL};

fn run(tools: &Tools, args: &[&str], deadline: Deadline) -> Result<Output, String> {
    match process::run(
        &tools.program(&ZPOOL),
        args,
        deadline.capped(Duration::from_secs(10)),
    ) {
        Ok(o) => Ok(o),
        Err(RunError::NotFound(_)) => Err("zpool not installed (zfsutils-linux)".into()),
        Err(e) => Err(format!("zpool: {e}")),
    }
}

fn not_imported(o: &Output) -> bool {
    o.stderr.contains("no such pool")
}

/// ZFS before 2.3 has no `-j`: zpool says so with a usage error.
fn no_json(o: &Output) -> bool {
    o.code == Some(2) && (o.stderr.contains("invalid option") || o.stderr.contains("unrecognized option"))
}

/// Reads the pool. `json`: whether `-j` is known to work (`Some(false)`: known not to, so
/// only the text is asked for). Returns the reading and what was learnt about `-j`.
pub fn status(
    tools: &Tools,
    pool: &str,
    json: Option<bool>,
    now_unix: u64,
    deadline: Deadline,
) -> (Reading, Option<bool>) {
    let mut learnt = json;
    if json != Some(false) {
        match run(
            tools,
            &["status", "-P", "-j", "--json-int", "--json-flat-vdevs", pool],
            deadline,
        ) {
            Ok(o) if o.success() => match json::parse_status(&o.stdout, pool, now_unix) {
                Some(s) => return (Reading::Status(s), Some(true)),
                None => tracing::warn!("zpool status -j {pool}: unreadable JSON; asking for the text"),
            },
            Ok(o) if not_imported(&o) => return (Reading::NotImported, json),
            Ok(o) if no_json(&o) => learnt = Some(false),
            Ok(_) => {}
            Err(e) => return (Reading::Unknown(e), json),
        }
    }
    let reading = match run(tools, &["status", "-P", pool], deadline) {
        Ok(o) if o.success() => match text::parse_status(&o.stdout) {
            Some(s) => Reading::Status(s),
            None => Reading::Unknown(format!("zpool status {pool}: no config table")),
        },
        Ok(o) if not_imported(&o) => Reading::NotImported,
        Ok(o) => Reading::Unknown(format!(
            "zpool status {pool} exited {}: {}",
            o.code.unwrap_or(-1),
            crate::text::ellipsis(o.stderr.trim(), 200)
        )),
        Err(e) => Reading::Unknown(e),
    };
    (reading, learnt)
}

/// `zpool online POOL VDEV`: ZFS reopens the device and resilvers what it missed.
pub fn online(tools: &Tools, pool: &str, vdev: &str, deadline: Deadline) -> Result<(), String> {
    match run(tools, &["online", pool, vdev], deadline)? {
        o if o.success() => Ok(()),
        o => Err(format!(
            "zpool online {pool} {vdev} exited {}: {}",
            o.code.unwrap_or(-1),
            crate::text::ellipsis(o.stderr.trim(), 200)
        )),
    }
}

/// `zpool get -H -p PROPS POOL`: (property, value, source) per line.
pub fn get(
    tools: &Tools,
    pool: &str,
    props: &[&str],
    deadline: Deadline,
) -> Result<Vec<(String, String, String)>, String> {
    let list = props.join(",");
    let o = run(tools, &["get", "-H", "-p", &list, pool], deadline)?;
    if !o.success() {
        return Err(format!(
            "zpool get {list} {pool} exited {}: {}",
            o.code.unwrap_or(-1),
            crate::text::ellipsis(o.stderr.trim(), 200)
        ));
    }
    Ok(parse_get(&o.stdout))
}

pub fn parse_get(text: &str) -> Vec<(String, String, String)> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() >= 4).then(|| (f[1].to_string(), f[2].to_string(), f[3].to_string()))
        })
        .collect()
}

/// The parsed status, for callers that only need the tree.
pub fn parse_text(text: &str) -> Option<PoolStatus> {
    text::parse_status(text)
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
        let s = parse_text(faulted).unwrap();
        assert_eq!((s.name.as_str(), s.state.as_str()), ("labpool", "ONLINE"));
        let names: Vec<(&str, &str, usize, bool)> = s
            .vdevs
            .iter()
            .map(|v| (v.name.as_str(), v.state.as_str(), v.depth, v.leaf))
            .collect();
        assert_eq!(
            names,
            vec![
                ("mirror-0", "ONLINE", 1, false),
                ("loop0", "ONLINE", 2, true),
                ("sda", "FAULTED", 2, true)
            ]
        );
        assert_eq!(s.vdevs[2].note, "too many errors");
        let back = parse_text(text.split("--- session back").nth(1).unwrap()).unwrap();
        assert!(
            matches!(back.scan, crate::zfs::Scan::ResilverDone { .. }),
            "{:?}",
            back.scan
        );
        assert!(parse_text("garbage").is_none());
    }

    /// ZFS 2.1.11's real answer to the agent's `zpool status -P -j --json-int
    /// --json-flat-vdevs POOL` (recorded by tests/e2e/zfs21, its stderr also alone): the
    /// agent learns that this zpool has no JSON and reads the text from then on. A pool
    /// that is not there, as 2.3 answers -j for it, is not that.
    #[test]
    fn zfs_2_1s_refusal_of_json_is_learnt_from() {
        use crate::zfs::tests::{recorded_in, ZFS_2_1, ZFS_2_3};
        let (stderr, rc) = recorded_in(ZFS_2_1, "healthy.zpool-status-P-j-json-int-flat.stderr.txt");
        let (merged, merged_rc) = recorded_in(ZFS_2_1, "healthy.zpool-status-P-j-json-int-flat.txt");
        assert_eq!(
            (merged_rc, merged.as_str()),
            (rc, stderr.as_str()),
            "all of it on stderr"
        );
        let refused = Output {
            code: Some(rc),
            signal: None,
            stdout: String::new(),
            stderr,
        };
        assert!(no_json(&refused) && !not_imported(&refused), "{refused:?}");
        for state in ["not-imported", "exported"] {
            let (stderr, rc) = recorded_in(ZFS_2_3, &format!("{state}.zpool-status-P-j-json-int-flat.txt"));
            let missing = Output {
                code: Some(rc),
                signal: None,
                stdout: String::new(),
                stderr,
            };
            assert!(
                !no_json(&missing) && not_imported(&missing),
                "{state}: {missing:?}"
            );
        }
    }

    #[test]
    fn zpool_get_as_recorded() {
        let t = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/zfs/vm-recorded/healthy.zpool-get-H-p.txt"
        ))
        .unwrap();
        assert_eq!(
            parse_get(&t),
            vec![
                ("multihost".into(), "on".into(), "local".into()),
                ("failmode".into(), "wait".into(), "default".into())
            ]
        );
    }
}
