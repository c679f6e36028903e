//! `zpool status -j --json-int -P -p POOL` (ZFS 2.3; cmd/zpool/zpool_main.c:
//! fill_vdev_info and scan_status_nvlist).

use serde_json::Value;

use super::{PoolStatus, Scan, Vdev};

fn int(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

fn walk(node: &Value, depth: usize, out: &mut Vec<Vdev>) {
    let Some(children) = node.get("vdevs").and_then(Value::as_object) else {
        return;
    };
    for child in children.values() {
        let kids = child
            .get("vdevs")
            .and_then(Value::as_object)
            .is_some_and(|m| !m.is_empty());
        let s = |k: &str| child.get(k).and_then(Value::as_str).map(str::to_string);
        out.push(Vdev {
            name: s("path").or_else(|| s("name")).unwrap_or_default(),
            state: s("state").unwrap_or_default(),
            depth,
            leaf: !kids,
            devid: s("devid"),
            note: String::new(),
        });
        walk(child, depth + 1, out);
    }
}

/// The scan stats; `now_unix` to estimate the time left as zpool's own text does.
fn scan(stats: Option<&Value>, now_unix: u64) -> Scan {
    let Some(st) = stats else { return Scan::None };
    let f = st.get("function").and_then(Value::as_str).unwrap_or("");
    let state = st.get("state").and_then(Value::as_str).unwrap_or("");
    match (f, state) {
        ("NONE", _) | ("", _) => Scan::None,
        ("SCRUB", _) | ("ERRORSCRUB", _) => Scan::Scrub,
        ("RESILVER", "SCANNING") => {
            let g = |k: &str| st.get(k).and_then(int);
            let total = g("to_examine")
                .unwrap_or(0)
                .saturating_sub(g("skipped").unwrap_or(0));
            let issued = g("issued").unwrap_or(0);
            let percent = (total > 0).then(|| (issued as f64 / total as f64 * 100.0).min(100.0));
            let elapsed = now_unix
                .saturating_sub(g("pass_start").unwrap_or(now_unix))
                .saturating_sub(g("scrub_spent_paused").unwrap_or(0))
                .max(1);
            let rate = g("issued_bytes_per_scan").unwrap_or(0) / elapsed;
            // zpool's own rule: no estimate below 10 MB/s or before repairs started.
            let eta_s = (rate >= 10 * 1024 * 1024 && total >= issued && g("processed").unwrap_or(0) > 0)
                .then(|| (total - issued) / rate);
            Scan::Resilvering { percent, eta_s }
        }
        ("RESILVER", _) => Scan::ResilverDone,
        (other, st) => Scan::Other(format!("{other} {st}")),
    }
}

/// Parses the document for `pool`; `None` when it does not describe that pool.
pub fn parse_status(text: &str, pool: &str, now_unix: u64) -> Option<PoolStatus> {
    let doc: Value = serde_json::from_str(text).ok()?;
    let p = doc.get("pools")?.get(pool)?;
    let root = p.get("vdevs")?.get(pool)?;
    let mut vdevs = Vec::new();
    walk(root, 1, &mut vdevs);
    Some(PoolStatus {
        name: pool.to_string(),
        state: p.get("state").and_then(Value::as_str).unwrap_or("").to_string(),
        vdevs,
        scan: scan(p.get("scan_stats"), now_unix),
    })
}
