//! `zpool status -P -j --json-int --json-flat-vdevs POOL` (ZFS 2.3; cmd/zpool/zpool_main.c:
//! fill_vdev_info and scan_status_nvlist). The flat form lists every vdev at the top and
//! still nests them under the root vdev: the tree is read from the root.

use serde_json::Value;

use super::{PoolStatus, Scan, Vdev};

fn int(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// Every vdev object of the document with its parent: the `parent` field where the flat
/// form gives it, else the vdev it is nested in. Each name once.
fn collect<'a>(node: &'a Value, parent: &str, out: &mut Vec<(String, String, &'a Value)>) {
    let Some(children) = node.get("vdevs").and_then(Value::as_object) else {
        return;
    };
    for (key, child) in children {
        let name = child
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(key)
            .to_string();
        let up = child
            .get("parent")
            .and_then(Value::as_str)
            .unwrap_or(parent)
            .to_string();
        if !out.iter().any(|(n, _, _)| *n == name) {
            out.push((name.clone(), up, child));
        }
        collect(child, &name, out);
    }
}

fn tree(all: &[(String, String, &Value)], parent: &str, depth: usize, out: &mut Vec<Vdev>) {
    // Bounded by the number of vdevs: a cycle in a damaged document ends here.
    if depth > all.len() {
        return;
    }
    for (name, _, v) in all.iter().filter(|(n, p, _)| p == parent && n != parent) {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let leaf = !all.iter().any(|(n, p, _)| p == name && n != name);
        out.push(Vdev {
            name: s("path").unwrap_or_else(|| name.clone()),
            // The JSON has the kernel's raw names; the text (and everything else) says
            // UNAVAIL for a device that cannot be opened.
            state: match s("state").as_deref() {
                Some("CANT_OPEN") => "UNAVAIL".to_string(),
                other => other.unwrap_or_default().to_string(),
            },
            depth,
            leaf,
            devid: s("devid"),
            note: String::new(),
        });
        tree(all, name, depth + 1, out);
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
        ("RESILVER", "FINISHED") => Scan::ResilverDone {
            ended_unix: st.get("end_time").and_then(int).filter(|t| *t > 0),
        },
        ("RESILVER", _) => Scan::ResilverDone { ended_unix: None },
        (other, st) => Scan::Other(format!("{other} {st}")),
    }
}

/// Parses the document for `pool`; `None` when it does not describe that pool.
pub fn parse_status(text: &str, pool: &str, now_unix: u64) -> Option<PoolStatus> {
    let doc: Value = serde_json::from_str(text).ok()?;
    let p = doc.get("pools")?.get(pool)?;
    let mut all = Vec::new();
    collect(p, pool, &mut all);
    let mut vdevs = Vec::new();
    tree(&all, pool, 1, &mut vdevs);
    Some(PoolStatus {
        name: pool.to_string(),
        state: p.get("state").and_then(Value::as_str).unwrap_or("").to_string(),
        vdevs,
        scan: scan(p.get("scan_stats"), now_unix),
    })
}
