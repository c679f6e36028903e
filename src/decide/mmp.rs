//! The pool's side of the timeout window: ZFS multihost (MMP), hostids and failmode,
//! judged against the iSCSI stall and the failover they add to. Rules from OpenZFS 2.3
//! (module/zfs/mmp.c, spa.c spa_activity_check_duration; include/sys/mmp.h).

use serde::Serialize;

use crate::decide::timeouts::{Figure, Finding, Severity};

/// mmp.h: a non-zero fail_intervals below this counts as this.
pub const MIN_FAIL_INTERVALS: i64 = 2;
/// mmp.h: the importing host waits this percentage of the holder's fail time.
pub const IMPORT_SAFETY_PCT: i64 = 200;
/// mmp.h: zfs_multihost_interval below this counts as this (ms).
pub const MIN_INTERVAL_MS: i64 = 100;

/// What was read of ZFS on this host, each figure with its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZfsFigures {
    pub pool: String,
    /// `on`/`off`, from `zpool get multihost`.
    pub multihost: Option<(String, String)>,
    pub failmode: Option<(String, String)>,
    /// This host's hostid (hex, as `hostid` prints it), and where it came from.
    pub hostid: Option<(String, String)>,
    /// Other cluster nodes' hostids (node, hostid) as they published them.
    pub peer_hostids: Vec<(String, String)>,
    pub interval_ms: Option<Figure>,
    pub fail_intervals: Option<Figure>,
    pub import_intervals: Option<Figure>,
}

fn f(severity: Severity, rule: &'static str, message: String) -> Finding {
    Finding {
        severity,
        rule,
        message,
    }
}

/// How long MMP lets the holder's writes stall before it suspends the pool (ms; 0: never).
pub fn fail_time_ms(interval_ms: i64, fail_intervals: i64) -> i64 {
    if fail_intervals <= 0 {
        return 0;
    }
    interval_ms
        .max(MIN_INTERVAL_MS)
        .saturating_mul(fail_intervals.max(MIN_FAIL_INTERVALS))
}

/// How long an import on the survivor waits for MMP activity before it may proceed (ms),
/// before ZFS's random 0-25 %: twice the holder's fail time when it has one, else
/// import_intervals x interval.
pub fn import_wait_ms(interval_ms: i64, fail_intervals: i64, import_intervals: i64) -> i64 {
    let fail = fail_time_ms(interval_ms, fail_intervals);
    if fail > 0 {
        fail.saturating_mul(IMPORT_SAFETY_PCT) / 100
    } else {
        import_intervals
            .max(1)
            .saturating_mul(interval_ms.max(MIN_INTERVAL_MS))
            .max(1000)
    }
}

/// `stall_ms`: the iSCSI I/O stall I + P + R (ms) of the paths the pool rides on.
pub fn judge(z: &ZfsFigures, stall_ms: Option<i64>) -> Vec<Finding> {
    let mut out = Vec::new();
    match &z.multihost {
        Some((v, src)) if v == "on" => out.push(f(
            Severity::Ok,
            "multihost-on",
            format!("multihost=on ({src}): a second import elsewhere is refused"),
        )),
        Some((v, src)) => out.push(f(
            Severity::Error,
            "multihost-on",
            format!(
                "multihost={v} ({src}): nothing stops the peer from importing {} while this node still writes it; zpool set multihost=on {}",
                z.pool, z.pool
            ),
        )),
        None => {}
    }
    match &z.hostid {
        Some((id, src)) if id.trim_start_matches('0').is_empty() => out.push(f(
            Severity::Error,
            "hostid-set",
            format!(
                "hostid is 0 ({src}): multihost cannot tell the nodes apart; run zgenhostid on each node"
            ),
        )),
        Some((id, src)) => {
            let same: Vec<&str> = z
                .peer_hostids
                .iter()
                .filter(|(_, h)| h.eq_ignore_ascii_case(id))
                .map(|(n, _)| n.as_str())
                .collect();
            if same.is_empty() {
                out.push(f(
                    Severity::Ok,
                    "hostid-unique",
                    format!(
                        "hostid {id} ({src}){}",
                        if z.peer_hostids.is_empty() {
                            String::from(", no peer's hostid known to compare")
                        } else {
                            String::from(", unlike the peers'")
                        }
                    ),
                ));
            } else {
                out.push(f(
                    Severity::Error,
                    "hostid-unique",
                    format!(
                        "hostid {id} ({src}) is also {}'s: multihost cannot tell the nodes apart (a cloned image?); run zgenhostid -f on one of them",
                        same.join(", ")
                    ),
                ));
            }
        }
        None => {}
    }
    // A module parameter that does not read as a number is said, not guessed.
    for fig in [&z.interval_ms, &z.fail_intervals, &z.import_intervals]
        .into_iter()
        .flatten()
    {
        if let (None, Some(why)) = (fig.value, &fig.problem) {
            out.push(f(
                Severity::Error,
                "mmp-figures",
                format!("{}: {why}", fig.source),
            ));
        }
    }
    let value = |fig: &Option<Figure>| fig.as_ref().and_then(|f| f.value);
    if let (Some(i), Some(fi), Some(iv), Some(fiv)) = (
        &z.interval_ms,
        &z.fail_intervals,
        value(&z.interval_ms),
        value(&z.fail_intervals),
    ) {
        let fail = fail_time_ms(iv, fiv);
        if fail == 0 {
            out.push(f(
                Severity::Warning,
                "mmp-suspends",
                format!(
                    "zfs_multihost_fail_intervals 0 ({}): MMP never suspends a pool whose writes stall, so a holder cut off from its disks keeps the pool imported",
                    fi.source
                ),
            ));
        } else if let Some(stall) = stall_ms.filter(|s| fail <= *s) {
            out.push(f(
                Severity::Warning,
                "mmp-outlasts-iscsi-stall",
                format!(
                    "MMP fail time {:.1} s (interval {} ms x fail_intervals {}) <= the iSCSI stall {:.1} s: a pool whose only healthy leaves are remote is suspended during an iSCSI outage",
                    fail as f64 / 1000.0,
                    iv,
                    fiv,
                    stall as f64 / 1000.0
                ),
            ));
        } else {
            out.push(f(
                Severity::Ok,
                "mmp-outlasts-iscsi-stall",
                format!(
                    "MMP fail time {:.1} s (interval {} ms from {}, x fail_intervals {} from {}){}",
                    fail as f64 / 1000.0,
                    iv,
                    i.source,
                    fiv,
                    fi.source,
                    stall_ms
                        .map(|s| format!(" > the iSCSI stall {:.1} s", s as f64 / 1000.0))
                        .unwrap_or_default()
                ),
            ));
        }
        if let Some(iiv) = value(&z.import_intervals) {
            let wait = import_wait_ms(iv, fiv, iiv);
            out.push(f(
                Severity::Ok,
                "mmp-import-wait",
                format!(
                    "a failover import waits {:.1}-{:.1} s for MMP's activity check: add it to token + consensus + fencing for the failover time",
                    wait as f64 / 1000.0,
                    (wait + wait / 4) as f64 / 1000.0
                ),
            ));
        }
    }
    match &z.failmode {
        Some((v, src)) if v == "continue" => out.push(f(
            Severity::Warning,
            "failmode",
            format!("failmode=continue ({src}): when every leg fails, writers get EIO while reads go on; wait or panic keep the failure visible to the cluster"),
        )),
        Some((v, src)) => out.push(f(
            Severity::Ok,
            "failmode",
            format!("failmode={v} ({src}): when every leg fails, {}", if v == "panic" { "the node panics and the peer takes over" } else { "pool I/O waits: the pool resource's monitor fails and fencing moves the pool" }),
        )),
        None => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The figures recorded on storage-a in the two-VM SAN (tests/fixtures/zfs/vm-recorded).
    fn recorded() -> ZfsFigures {
        let read = |name: &str| {
            let p = format!(
                "{}/tests/fixtures/zfs/vm-recorded/{name}",
                env!("CARGO_MANIFEST_DIR")
            );
            let t = std::fs::read_to_string(p).unwrap();
            t.lines().next().unwrap().trim().to_string()
        };
        let fig = |name: &str| {
            Figure::new(
                read(&format!("host-storage-a.{name}.txt")).parse().unwrap(),
                format!("/sys/module/zfs/parameters/{name}"),
            )
        };
        let get = read("healthy.zpool-get-H-p.txt");
        let multihost = get.split('\t').nth(2).unwrap().to_string();
        ZfsFigures {
            pool: "san-pool".into(),
            multihost: Some((multihost, "zpool get multihost".into())),
            failmode: Some(("wait".into(), "zpool get failmode".into())),
            hostid: Some((read("host-storage-a.hostid.txt"), "/etc/hostid".into())),
            peer_hostids: vec![("storage-b".into(), read("host-storage-b.hostid.txt"))],
            interval_ms: Some(fig("zfs_multihost_interval")),
            fail_intervals: Some(fig("zfs_multihost_fail_intervals")),
            import_intervals: Some(fig("zfs_multihost_import_intervals")),
        }
    }

    #[test]
    fn the_recorded_san_is_inside_and_its_import_wait_is_said() {
        let findings = judge(&recorded(), Some(9000));
        assert!(
            findings.iter().all(|f| f.severity == Severity::Ok),
            "{findings:#?}"
        );
        let wait = findings.iter().find(|f| f.rule == "mmp-import-wait").unwrap();
        assert!(wait.message.contains("20.0-25.0 s"), "{}", wait.message);
        assert_eq!(import_wait_ms(1000, 10, 20), 20_000);
        assert_eq!(import_wait_ms(1000, 0, 20), 20_000);
        assert_eq!(fail_time_ms(50, 1), 200);
    }

    #[test]
    fn what_breaks_it() {
        let mut z = recorded();
        z.multihost = Some(("off".into(), "zpool get".into()));
        z.peer_hostids = vec![("storage-b".into(), z.hostid.clone().unwrap().0)];
        z.failmode = Some(("continue".into(), "zpool get".into()));
        let findings = judge(&z, Some(130_000));
        let sev = |rule: &str| findings.iter().find(|f| f.rule == rule).map(|f| f.severity);
        assert_eq!(sev("multihost-on"), Some(Severity::Error));
        assert_eq!(sev("hostid-unique"), Some(Severity::Error));
        assert_eq!(sev("mmp-outlasts-iscsi-stall"), Some(Severity::Warning));
        assert_eq!(sev("failmode"), Some(Severity::Warning));
        z.hostid = Some(("00000000".into(), "hostid".into()));
        z.fail_intervals = Some(Figure::new(0, "test"));
        let findings = judge(&z, None);
        let sev = |rule: &str| findings.iter().find(|f| f.rule == rule).map(|f| f.severity);
        assert_eq!(sev("hostid-set"), Some(Severity::Error));
        assert_eq!(sev("mmp-suspends"), Some(Severity::Warning));
        // Outside numbers never overflow.
        assert_eq!(fail_time_ms(i64::MAX, i64::MAX), i64::MAX);
        assert!(import_wait_ms(i64::MAX, 3, 20) > 0);
    }
}
