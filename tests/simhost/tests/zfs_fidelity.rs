//! Fidelity of the `zpool` stand-in against ZFS 2.3.2 as recorded in the two-VM SAN
//! (tests/fixtures/zfs/vm-recorded, made by tests/e2e/san/guest/record-zfs.sh; INDEX gives
//! each file's command). The stand-in is driven through the recorded timeline by the same
//! steps (the API for what the kernel does: a fault, a resilver's progress; the stand-in's
//! own `zpool online`/`offline`/`clear`/`export` for what an admin did), and every recorded
//! command of every state is run against it and compared byte for byte, with its exit code.
//!
//! What the world takes from the recordings (and nothing else): guids, txg, sizes, byte
//! counts and times. From the `--json-int` recording of each state they are exact. The
//! other recordings of a state were taken moments apart while a resilver ran, so their
//! byte counts and rates differ: for those, the raw numbers are chosen so that zpool's own
//! formatting (zfs_nicebytes, "%.2f%%", bytes/elapsed) gives what the recording shows — a
//! number the formatting cannot reach fails the test. States, error counters, notes,
//! messages, layout and JSON structure come from the stand-in alone.
//!
//! Each recording is `cmd > file 2>&1` plus "[rc=N]": the stand-in's stderr then stdout
//! (zpool's stdout is buffered, stderr is not) must equal it, and each output must be on
//! the stream zpool's source puts it on (errors on stderr, the rest on stdout).
//!
//! ZFS 2.1.11 (Debian 12's own, text only) is recorded the same way in one VM playing
//! storage-a (tests/fixtures/zfs/vm-recorded-2.1, made by tests/e2e/zfs21 with the same
//! recording script): the stand-in's 2.1 personality is driven through that timeline too
//! and compared byte for byte; with no JSON, the byte counts and times come from the text
//! itself (calibrate_text_21). The tests at the end check what the recordings do not reach
//! against the 2.1.11 source's format strings (cmd/zpool/zpool_main.c at tag zfs-2.1.11).

mod common;

use std::path::{Path, PathBuf};

use common::*;
use iscsi_simhost::zpool::{nicenum, Fmt};
use iscsi_simhost::{Leaf, Pool, SimHost, Vdev};
use serde_json::Value;

const POOL: &str = "san-pool";
/// The recording sets: ZFS 2.3.2 (the two-VM SAN) and ZFS 2.1.11 (tests/e2e/zfs21).
const V23: &str = "vm-recorded";
const V21: &str = "vm-recorded-2.1";

fn dir(set: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/zfs")
        .join(set)
}

/// A recording of ZFS 2.3.2: its output and exit code.
fn rec(file: &str) -> (String, i32) {
    rec_in(V23, file)
}

/// A recording of `set`: its output and exit code.
fn rec_in(set: &str, file: &str) -> (String, i32) {
    let p = dir(set).join(file);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let (out, rc) = text.rsplit_once("[rc=").expect("an [rc=N] line");
    (out.to_string(), rc.trim().trim_end_matches(']').parse().unwrap())
}

/// The command INDEX gives for a recording, split into words.
fn command_of(set: &str, file: &str) -> Vec<String> {
    let index = std::fs::read_to_string(dir(set).join("INDEX")).unwrap();
    let line = index
        .lines()
        .find(|l| l.split('\t').next() == Some(file))
        .unwrap_or_else(|| panic!("{file} not in INDEX"));
    line.splitn(4, '\t')
        .nth(3)
        .unwrap()
        .split_whitespace()
        .map(String::from)
        .collect()
}

fn json_of(file: &str) -> Value {
    let (out, rc) = rec(file);
    assert_eq!(rc, 0, "{file}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The recorded pool's two leaves (local, remote) in mirror-0's order.
fn recorded_leaves() -> (String, String) {
    let doc = json_of("healthy.zpool-status-P-j-json-int-flat.txt");
    let m = &doc["pools"][POOL]["vdevs"]["mirror-0"]["vdevs"];
    let names: Vec<String> = m.as_object().unwrap().keys().cloned().collect();
    assert_eq!(names.len(), 2);
    let remote = names.iter().find(|n| n.contains("/ip-")).unwrap().clone();
    let local = names.iter().find(|n| !n.contains("/ip-")).unwrap().clone();
    (local, remote)
}

struct Run {
    out: String,
    err: String,
    rc: i32,
}

fn zpool(sim: &SimHost, args: &[String]) -> Run {
    let o = sim.zpool().env("TZ", "UTC").args(args).output().unwrap();
    Run {
        out: String::from_utf8_lossy(&o.stdout).into_owned(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
        rc: o.status.code().unwrap_or(-1),
    }
}

fn zpool_ok(sim: &SimHost, args: &[&str]) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let r = zpool(sim, &args);
    assert_eq!(
        (r.rc, r.err.as_str(), r.out.as_str()),
        (0, "", ""),
        "zpool {args:?}"
    );
}

fn walk_mut(v: &mut Vdev, f: &mut dyn FnMut(&mut Vdev)) {
    f(v);
    for c in &mut v.children {
        walk_mut(c, f);
    }
}

fn u(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(Value::as_u64).unwrap_or(0)
}

/// Takes guids, txg, sizes, byte counts and times from the state's `--json-int` recording
/// (exact); never states, error counters or whether there is a scan at all.
/// The resilver's samples the recording has (resilvering-1, -2, ...), in order.
fn resilver_samples(set: &str) -> Vec<u32> {
    (1..)
        .take_while(|k| {
            dir(set)
                .join(format!("resilvering-{k}.zpool-status-P.txt"))
                .exists()
        })
        .collect()
}

fn calibrate_exact(p: &mut Pool, state: &str) {
    let doc = json_of(&format!("{state}.zpool-status-P-j-json-int-flat.txt"));
    let j = &doc["pools"][POOL];
    p.guid = u(j, "pool_guid");
    p.txg = u(j, "txg");
    if let (Some(s), Some(js)) = (p.scan.as_mut(), j.get("scan_stats")) {
        s.start_time = u(js, "start_time") as i64;
        s.end_time = u(js, "end_time") as i64;
        s.to_examine = u(js, "to_examine");
        s.examined = u(js, "examined");
        s.skipped = u(js, "skipped");
        s.processed = u(js, "processed");
        s.pass_exam = u(js, "bytes_per_scan");
        s.pass_start = u(js, "pass_start") as i64;
        s.pass_scrub_pause = u(js, "scrub_pause") as i64;
        s.pass_scrub_spent_paused = u(js, "scrub_spent_paused");
        s.pass_issued = u(js, "issued_bytes_per_scan");
        s.issued = u(js, "issued");
    }
    let flat = &j["vdevs"];
    let pool = p.name.clone();
    walk_mut(&mut p.root, &mut |v| {
        let name = v.name(&pool, true);
        let jv = flat
            .get(&name)
            .unwrap_or_else(|| panic!("{state}: no vdev {name}"));
        v.guid = u(jv, "guid");
        let st = &mut v.stats;
        st.alloc = u(jv, "alloc_space");
        st.space = u(jv, "total_space");
        st.dspace = u(jv, "def_space");
        st.rsize = u(jv, "rep_dev_size");
        st.esize = u(jv, "ex_dev_size");
        st.pspace = u(jv, "phys_space");
        st.self_healed = u(jv, "self_healed");
        st.scan_processed = u(jv, "scan_processed");
        st.checkpoint_space = u(jv, "checkpoint_space");
        st.slow_ios = u(jv, "slow_ios");
    });
}

/// A byte count that zfs_nicebytes prints as `shown`, the closest to `near` when `near`
/// itself does not.
fn bytes_shown(shown: &str, near: u64) -> u64 {
    if nicenum(near, Fmt::Bytes, 256) == shown {
        return near;
    }
    let (num, unit) = shown.split_at(shown.len() - 1);
    let k = "BKMGTPE"
        .find(unit)
        .unwrap_or_else(|| panic!("unit of {shown:?}"));
    let mult = 1u64 << (10 * k);
    let center = (num.parse::<f64>().unwrap() * mult as f64).round() as u64;
    let cands = [center, center.saturating_sub(1), center + 1];
    *cands
        .iter()
        .find(|c| nicenum(**c, Fmt::Bytes, 256) == shown)
        .unwrap_or_else(|| panic!("no byte count prints as {shown:?}"))
}

/// For a `-j` recording taken at another moment: the byte counts its strings show.
fn calibrate_strings(p: &mut Pool, file: &str) {
    let doc = json_of(file);
    let j = &doc["pools"][POOL];
    let s_of = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    if let (Some(s), Some(js)) = (p.scan.as_mut(), j.get("scan_stats")) {
        for (k, f) in [
            ("to_examine", &mut s.to_examine),
            ("examined", &mut s.examined),
            ("skipped", &mut s.skipped),
            ("processed", &mut s.processed),
            ("issued_bytes_per_scan", &mut s.pass_issued),
            ("issued", &mut s.issued),
        ] {
            if let Some(shown) = s_of(js, k) {
                *f = bytes_shown(&shown, *f);
            }
        }
    }
    let pool = p.name.clone();
    // The nested form: find each vdev by walking the recorded tree.
    fn find<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
        let kids = v.get("vdevs")?.as_object()?;
        if let Some(x) = kids.get(name) {
            return Some(x);
        }
        kids.values().find_map(|k| find(k, name))
    }
    walk_mut(&mut p.root, &mut |v| {
        let name = v.name(&pool, true);
        let jv = find(j, &name).unwrap_or_else(|| panic!("{file}: no vdev {name}"));
        let st = &mut v.stats;
        for (k, f) in [
            ("alloc_space", &mut st.alloc),
            ("total_space", &mut st.space),
            ("def_space", &mut st.dspace),
            ("rep_dev_size", &mut st.rsize),
            ("phys_space", &mut st.pspace),
            ("scan_processed", &mut st.scan_processed),
        ] {
            // zpool prints these only when they are not zero
            *f = match s_of(jv, k) {
                Some(shown) => bytes_shown(&shown, *f),
                None => 0,
            };
        }
    });
}

/// For a text recording of a running resilver: issued, processed and the clock such that
/// print_scan_scrub_resilver_status prints the recorded two lines.
fn calibrate_text(p: &mut Pool, file: &str, clock: &mut Option<i64>) {
    let (text, _) = rec(file);
    let Some(at) = text.find("resilver in progress since") else {
        return;
    };
    let lines: Vec<&str> = text[at..].lines().skip(1).take(2).collect();
    let l1 = lines[0].trim_start_matches('\t');
    let l2 = lines[1].trim_start_matches('\t');
    // "308M / 325M scanned, 128K / 325M issued at 42.7K/s"
    let (scanned, issued_part) = l1.split_once(" scanned").unwrap();
    let examined_s = scanned.split(" / ").next().unwrap();
    let issued_part = issued_part.trim_start_matches(", ");
    let (issued_s, rest) = issued_part.split_once(" / ").unwrap();
    let rate_s = rest
        .split_once(" at ")
        .map(|(_, r)| r.trim_end_matches("/s").to_string());
    // "0B resilvered, 0.04% done, no estimated completion time"
    let (processed_s, rest) = l2.split_once(" resilvered, ").unwrap();
    let pct_s = rest.split_once("% done").unwrap().0;
    let pct: f64 = pct_s.parse().unwrap();

    let s = p.scan.as_mut().expect("a scan");
    s.examined = bytes_shown(examined_s, s.examined);
    let total = s.to_examine - s.skipped;
    // issued: what prints as issued_s and makes "%.2f" of the fraction read pct_s.
    let (num, unit) = issued_s.split_at(issued_s.len() - 1);
    let mult = 1u64 << (10 * "BKMGTPE".find(unit).unwrap());
    let decimals = num.split('.').nth(1).map_or(0, str::len) as i32;
    let half = 0.5 * 10f64.powi(-decimals) * mult as f64;
    let c1 = num.parse::<f64>().unwrap() * mult as f64;
    let c2 = pct / 100.0 * total as f64;
    let h2 = 0.005 / 100.0 * total as f64;
    let (lo, hi) = ((c1 - half).max(c2 - h2), (c1 + half).min(c2 + h2));
    assert!(lo < hi, "{file}: no issued count prints {issued_s} and {pct_s}%");
    // (the exact count of the --json-int recording first, then points across the range)
    let shows = |i: u64| {
        nicenum(i, Fmt::Bytes, 256) == issued_s
            && format!("{:.2}", 100.0 * (i as f64 / total as f64)) == pct_s
    };
    let rate_of = |i: u64| -> Option<Option<u64>> {
        match &rate_s {
            None => Some(None),
            Some(rate) => (1..100_000u64)
                .find(|e| nicenum(i / e, Fmt::Bytes, 256) == *rate)
                .map(Some),
        }
    };
    let (issued, elapsed) = std::iter::once(s.issued)
        .chain((0..=64).map(|k| (lo + (hi - lo) * k as f64 / 64.0) as u64))
        .filter(|i| shows(*i))
        .find_map(|i| rate_of(i).map(|e| (i, e)))
        .unwrap_or_else(|| panic!("{file}: no issued count prints {issued_s}, {pct_s}% and {rate_s:?}/s"));
    s.issued = issued;
    s.pass_issued = issued;
    s.processed = bytes_shown(processed_s, s.processed);
    let processed = s.processed;
    if let Some(e) = elapsed {
        *clock = Some(s.pass_start + e as i64);
    }
    // the leaf being resilvered has processed what the pool did
    walk_mut(&mut p.root, &mut |v| {
        if v.is_leaf() && v.stats.scan_processed > 0 || v.is_leaf() && v.missed > 0 {
            v.stats.scan_processed = processed;
        }
    });
}

/// `ctime` of the recordings ("Wed Dec  2 00:18:36 2026", the VMs' UTC) in seconds.
fn parse_ctime(text: &str) -> i64 {
    let f: Vec<&str> = text.split_whitespace().collect();
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == f[1])
    .unwrap_or_else(|| panic!("month of {text:?}")) as i64
        + 1;
    let day: i64 = f[2].parse().unwrap();
    let year: i64 = f[4].parse().unwrap();
    // days from the civil date (proleptic Gregorian)
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    days * 86_400 + dhms(f[3])
}

/// secs_to_dhms's "HH:MM:SS" or "N days HH:MM:SS", in seconds.
fn dhms(text: &str) -> i64 {
    let (days, clock) = match text.split_once(" days ") {
        Some((d, c)) => (d.trim().parse::<i64>().unwrap(), c),
        None => (0, text),
    };
    let hms: Vec<i64> = clock.trim().split(':').map(|n| n.parse().unwrap()).collect();
    days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2]
}

/// The byte counts zfs_nicebytes may print as `shown` ("31.5M": from 31.45M to 31.55M).
fn shown_range(shown: &str) -> (f64, f64) {
    let (num, unit) = shown.split_at(shown.len() - 1);
    let mult = (1u64
        << (10
            * "BKMGTPE"
                .find(unit)
                .unwrap_or_else(|| panic!("unit of {shown:?}")))) as f64;
    let decimals = num.split('.').nth(1).map_or(0, str::len) as i32;
    let half = 0.5 * 10f64.powi(-decimals) * mult;
    let c = num.parse::<f64>().unwrap() * mult;
    ((c - half).max(0.0), c + half)
}

/// ZFS 2.1 has no JSON: the scan's numbers and the clock are chosen from the text alone so
/// that 2.1.11's print_scan_scrub_resilver_status prints the recorded lines ("X scanned at
/// R/s, Y issued at R/s, T total", "P resilvered, N% done"; "resilvered P in D with E
/// errors on DATE"), and a leaf listed by its guid ("was PATH") gets that guid.
fn calibrate_text_21(p: &mut Pool, file: &str, clock: &mut Option<i64>) {
    let (text, _) = rec_in(V21, file);
    for l in text.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() > 2 && f[f.len() - 2] == "was" {
            let (guid, path) = (f[0].parse::<u64>().unwrap(), f[f.len() - 1]);
            walk_mut(&mut p.root, &mut |v| {
                if v.path.as_deref() == Some(path) {
                    v.guid = guid;
                }
            });
        }
    }
    let Some(at) = text.find("  scan: ") else {
        return;
    };
    let mut lines = text[at + 8..].lines();
    let head = lines.next().unwrap();
    let s = p
        .scan
        .as_mut()
        .unwrap_or_else(|| panic!("{file}: a scan line, and the stand-in has no scan"));
    if let Some(rest) = head.strip_prefix("resilvered ") {
        // "158M in 00:00:33 with 0 errors on Wed Dec  2 00:19:09 2026"
        let (processed_s, rest) = rest.split_once(" in ").unwrap();
        let (took, rest) = rest.split_once(" with ").unwrap();
        let (_, when) = rest.split_once(" errors on ").unwrap();
        s.processed = bytes_shown(processed_s, s.processed);
        s.end_time = parse_ctime(when);
        s.start_time = s.end_time - dhms(took);
        return;
    }
    let Some(since) = head.strip_prefix("resilver in progress since ") else {
        return;
    };
    s.start_time = parse_ctime(since);
    let l1 = lines.next().unwrap().trim_start_matches('\t');
    let l2 = lines.next().unwrap().trim_start_matches('\t');
    // "308M scanned at 0B/s, 128K issued at 42.7K/s, 325M total"
    let (examined_s, rest) = l1.split_once(" scanned at ").unwrap();
    let (srate_s, rest) = rest.split_once("/s, ").unwrap();
    let (issued_s, rest) = rest.split_once(" issued at ").unwrap();
    let (irate_s, rest) = rest.split_once("/s, ").unwrap();
    let total_s = rest.strip_suffix(" total").unwrap();
    // "0B resilvered, 0.04% done, no estimated completion time"
    let (processed_s, rest) = l2.split_once(" resilvered, ").unwrap();
    let pct_s = rest.split_once("% done").unwrap().0;
    let pct: f64 = pct_s.parse().unwrap();

    s.examined = bytes_shown(examined_s, s.examined);
    s.processed = bytes_shown(processed_s, s.processed);
    // total (to_examine) and issued: printed as recorded, and "%.2f" of issued / total
    let shows = |i: u64, t: u64| {
        nicenum(i, Fmt::Bytes, 256) == issued_s
            && nicenum(t, Fmt::Bytes, 256) == total_s
            && format!("{:.2}", 100.0 * (i as f64 / t as f64)) == pct_s
    };
    // the seconds elapsed such that issued / elapsed prints as the recorded rate
    let elapsed_for = |i: u64| -> Option<u64> {
        let (lo, hi) = shown_range(irate_s);
        let (first, last) = if hi <= 1.0 {
            (i + 1, i + 1)
        } else {
            (
                (i as f64 / hi).floor().max(1.0) as u64,
                (i as f64 / lo.max(1.0)).ceil() as u64 + 1,
            )
        };
        (first..=last.min(first + 100_000)).find(|e| nicenum(i / e, Fmt::Bytes, 256) == irate_s)
    };
    let (tlo, thi) = shown_range(total_s);
    let (ilo, ihi) = shown_range(issued_s);
    let found = (0..=400)
        .map(|k| (tlo + (thi - tlo) * k as f64 / 400.0).round() as u64)
        .find_map(|t| {
            let lo = ilo.max((pct - 0.005) / 100.0 * t as f64);
            let hi = ihi.min((pct + 0.005) / 100.0 * t as f64);
            if lo > hi {
                return None;
            }
            (0..=32)
                .map(|j| (lo + (hi - lo) * j as f64 / 32.0).round() as u64)
                .filter(|i| shows(*i, t))
                .find_map(|i| elapsed_for(i).map(|e| (t, i, e)))
        });
    let (total, issued, elapsed) = found.unwrap_or_else(|| {
        panic!("{file}: no total and issued count print {total_s}, {issued_s}, {pct_s}% and {irate_s}/s")
    });
    s.to_examine = total;
    s.skipped = 0;
    s.issued = issued;
    s.pass_issued = issued;
    // the scan rate: pass_exam / elapsed, and pass_exam is printed nowhere else
    s.pass_exam = bytes_shown(srate_s, 0) * elapsed;
    *clock = Some(s.pass_start + (elapsed + s.pass_scrub_spent_paused) as i64);
    let processed = s.processed;
    // the leaf being resilvered has processed what the pool did
    walk_mut(&mut p.root, &mut |v| {
        if v.is_leaf() && v.stats.scan_processed > 0 || v.is_leaf() && v.missed > 0 {
            v.stats.scan_processed = processed;
        }
    });
}

/// Runs every recorded zpool command of `state` in `set` against the stand-in, the world's
/// numbers set from that recording first; returns the number of comparisons. A recording
/// of stderr alone (INDEX: "CMD 2>&1 >/dev/null") is compared with the stand-in's stderr.
fn compare_state(sim: &SimHost, set: &str, state: &str) -> usize {
    let index = std::fs::read_to_string(dir(set).join("INDEX")).unwrap();
    let files: Vec<String> = index
        .lines()
        .filter_map(|l| l.split('\t').next())
        .filter(|f| f.starts_with(&format!("{state}.")))
        .map(String::from)
        .collect();
    let mut n = 0;
    for file in files {
        let mut cmd = command_of(set, &file);
        let stderr_only = cmd.ends_with(&["2>&1".to_string(), ">/dev/null".to_string()]);
        if stderr_only {
            cmd.truncate(cmd.len() - 2);
        }
        let kstat = cmd[0] == "cat" && cmd[1].starts_with("/proc/spl/kstat/zfs/");
        let zpool_cmd = cmd[0] == "zpool" && cmd.get(1).map(String::as_str) != Some("events");
        if !kstat && !zpool_cmd {
            continue;
        }
        let (want, want_rc) = rec_in(set, &file);
        if kstat {
            let p = sim.root().join(cmd[1].trim_start_matches('/'));
            match std::fs::read_to_string(&p) {
                Ok(got) => assert_eq!((got.as_str(), 0), (want.as_str(), want_rc), "{file}"),
                Err(_) => assert!(want_rc != 0 && want.contains("No such file"), "{file}: no kstat"),
            }
            n += 1;
            continue;
        }
        let is_int = file.ends_with("json-int-flat.txt");
        let is_json = cmd.iter().any(|a| a == "-j");
        let mut clock = None;
        sim.update_zfs(|z| {
            if let Some(p) = z.pool_mut(POOL) {
                if p.imported && set == V21 {
                    // no JSON: the text is all there is (and what it shows, all that counts)
                    if cmd[1] == "status" && !is_json {
                        calibrate_text_21(p, &file, &mut clock);
                    }
                } else if p.imported {
                    calibrate_exact(p, state);
                    if is_json && !is_int {
                        calibrate_strings(p, &file);
                    } else if !is_json {
                        calibrate_text(p, &file, &mut clock);
                    }
                }
            }
            z.clock = clock.or(z.clock);
            Ok(())
        })
        .unwrap();
        let r = zpool(sim, &cmd[1..]);
        let got = if stderr_only {
            r.err.clone()
        } else {
            format!("{}{}", r.err, r.out)
        };
        if got != want || r.rc != want_rc {
            panic!(
                "{file}: `{}`\n--- recorded (rc {want_rc})\n{want}--- stand-in (rc {})\n{got}---",
                cmd.join(" "),
                r.rc
            );
        }
        if r.rc == 0 {
            assert_eq!(r.err, "", "{file}: zpool prints nothing on stderr here");
        } else {
            assert_eq!(r.out, "", "{file}: zpool's errors go to stderr");
        }
        n += 1;
    }
    n
}

/// The host side of the recorded timeline (storage-a): one simulated host driven from a
/// healthy pool to an exported one.
#[test]
fn every_recorded_state_of_the_pool_matches_zfs_2_3_2() {
    let lab = Lab::new();
    let sim = &lab.host;
    let (local, remote) = recorded_leaves();
    // The remote leaf here is a plain device file: the recording's 192.168.10.2 portal is
    // never contacted (riding on a real simulated session is behaviour.rs's concern).
    sim.create_pool(POOL, &[Leaf::Local(local.clone()), Leaf::Local(remote.clone())])
        .unwrap();
    sim.set_pool_prop(POOL, "multihost", "on").unwrap();
    let mut compared = 0;
    compared += compare_state(sim, V23, "healthy");

    // the storage link cut: the kernel faults the remote leaf
    sim.fault_leaf(POOL, &remote).unwrap();
    // How many I/Os failed is the run's, not the model's: taken from the recording (once;
    // what happens to the counters afterwards is the model's).
    let faulted = json_of("faulted.zpool-status-P-j-json-int-flat.txt");
    let counts = &faulted["pools"][POOL]["vdevs"][&remote];
    sim.set_leaf_errors(
        POOL,
        &remote,
        u(counts, "read_errors"),
        u(counts, "write_errors"),
        u(counts, "checksum_errors"),
    )
    .unwrap();
    compared += compare_state(sim, V23, "faulted");
    // the session is back; ZFS leaves the vdev FAULTED
    compared += compare_state(sim, V23, "session-back-vdev-faulted");

    // zpool online: a resilver, sampled while it runs (the last sample may find it done)
    zpool_ok(sim, &["online", POOL, &remote]);
    let log = sim.zpool_invocations();
    assert_eq!(log.last().unwrap().argv[1..], ["online", POOL, remote.as_str()]);
    assert_eq!(log.last().unwrap().rc, Some(0));
    let samples = resilver_samples(V23);
    assert!(samples.len() >= 3, "{samples:?}");
    let mut states = 3 + samples.len();
    for k in samples {
        let (text, _) = rec(&format!("resilvering-{k}.zpool-status-P.txt"));
        if !text.contains("resilver in progress") && sim.pool(POOL).unwrap().resilvering() {
            sim.finish_resilver(POOL).unwrap();
        }
        compared += compare_state(sim, V23, &format!("resilvering-{k}"));
    }
    if sim.pool(POOL).unwrap().resilvering() {
        sim.finish_resilver(POOL).unwrap();
    }
    compared += compare_state(sim, V23, "resilvered");

    // an admin takes the remote leg OFFLINE ...
    zpool_ok(sim, &["offline", POOL, &remote]);
    compared += compare_state(sim, V23, "admin-offline");
    // ... writes land meanwhile, then online, the short resilver, zpool clear
    sim.update_pool(POOL, |p, _| {
        p.find_mut(&remote).unwrap().missed = 72 * 1024;
        Ok(())
    })
    .unwrap();
    zpool_ok(sim, &["online", POOL, &remote]);
    assert!(sim.pool(POOL).unwrap().resilvering());
    sim.finish_resilver(POOL).unwrap();
    zpool_ok(sim, &["clear", POOL]);
    compared += compare_state(sim, V23, "healthy-again");

    zpool_ok(sim, &["export", POOL]);
    compared += compare_state(sim, V23, "exported");
    assert!(!sim.root().join("proc/spl/kstat/zfs").join(POOL).exists());
    states += 4;
    // every state x (5 status forms + list + get + kstat)
    assert_eq!(compared, states * 8);
}

/// The peer (storage-b), where the pool is not imported.
#[test]
fn the_pool_not_imported_here_matches_zfs_2_3_2() {
    let lab = Lab::new();
    let sim = &lab.host;
    let (local, remote) = recorded_leaves();
    sim.create_pool(POOL, &[Leaf::Path(local), Leaf::Path(remote)])
        .unwrap();
    sim.set_imported(POOL, false).unwrap();
    assert_eq!(compare_state(sim, V23, "not-imported"), 8);
}

// ---- ZFS 2.1.11: recorded ---------------------------------------------------------------

/// The recorded 2.1 pool's two leaves (local, remote) as `zpool status -P` lists them.
fn recorded_leaves_21() -> (String, String) {
    let (text, rc) = rec_in(V21, "healthy.zpool-status-P.txt");
    assert_eq!(rc, 0);
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with("/dev/"))
        .collect();
    assert_eq!(names.len(), 2, "{text}");
    let remote = names.iter().find(|n| n.contains("/ip-")).unwrap().to_string();
    let local = names.iter().find(|n| !n.contains("/ip-")).unwrap().to_string();
    (local, remote)
}

/// A leaf's error counters as `zpool status -p` of `state` shows them.
fn errors_21(state: &str, leaf: &str) -> (u64, u64, u64) {
    let (text, _) = rec_in(V21, &format!("{state}.zpool-status-p.txt"));
    let short = leaf.rsplit('/').next().unwrap();
    let f: Vec<u64> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.first() == Some(&short))
        .unwrap_or_else(|| panic!("{state}: no {short} in {text}"))[2..5]
        .iter()
        .map(|n| n.parse().unwrap())
        .collect();
    (f[0], f[1], f[2])
}

/// storage-a's timeline on ZFS 2.1.11, as tests/e2e/zfs21/guest.sh drove the real one.
#[test]
fn every_recorded_state_of_the_pool_matches_zfs_2_1_11() {
    let lab = Lab::new();
    let sim = &lab.host;
    let (local, remote) = recorded_leaves_21();
    sim.create_pool(POOL, &[Leaf::Local(local.clone()), Leaf::Local(remote.clone())])
        .unwrap();
    sim.set_zfs_version("2.1").unwrap();
    sim.set_pool_prop(POOL, "multihost", "on").unwrap();
    // before the pool was created: nowhere imported
    sim.set_imported(POOL, false).unwrap();
    let mut compared = compare_state(sim, V21, "not-imported");
    sim.set_imported(POOL, true).unwrap();
    // healthy, with 2.1's answer to -j (both forms, and the agent's form's stderr alone)
    compared += compare_state(sim, V21, "healthy");

    // the storage link cut: the kernel faults the remote leaf; how many I/Os failed is the
    // run's (taken from the recording once)
    sim.fault_leaf(POOL, &remote).unwrap();
    let (r, w, c) = errors_21("faulted", &remote);
    sim.set_leaf_errors(POOL, &remote, r, w, c).unwrap();
    compared += compare_state(sim, V21, "faulted");
    compared += compare_state(sim, V21, "session-back-vdev-faulted");

    zpool_ok(sim, &["online", POOL, &remote]);
    let samples = resilver_samples(V21);
    assert!(samples.len() >= 3, "{samples:?}");
    let mut states = 4 + samples.len();
    for k in samples {
        let (text, _) = rec_in(V21, &format!("resilvering-{k}.zpool-status-P.txt"));
        if !text.contains("resilver in progress") && sim.pool(POOL).unwrap().resilvering() {
            sim.finish_resilver(POOL).unwrap();
        }
        compared += compare_state(sim, V21, &format!("resilvering-{k}"));
    }
    if sim.pool(POOL).unwrap().resilvering() {
        sim.finish_resilver(POOL).unwrap();
    }
    compared += compare_state(sim, V21, "resilvered");

    zpool_ok(sim, &["offline", POOL, &remote]);
    compared += compare_state(sim, V21, "admin-offline");
    sim.update_pool(POOL, |p, _| {
        p.find_mut(&remote).unwrap().missed = 72 * 1024;
        Ok(())
    })
    .unwrap();
    zpool_ok(sim, &["online", POOL, &remote]);
    if sim.pool(POOL).unwrap().resilvering() {
        sim.finish_resilver(POOL).unwrap();
    }
    zpool_ok(sim, &["clear", POOL]);
    compared += compare_state(sim, V21, "healthy-again");

    zpool_ok(sim, &["export", POOL]);
    compared += compare_state(sim, V21, "exported");
    states += 4;
    // every state x (status -P, -p, -x, list, get, kstat), healthy's three -j recordings
    assert_eq!(compared, states * 6 + 3);
}

// ---- ZFS 2.1.11: modelled from its source ----------------------------------------------

fn resilvering_21() -> (Lab, String) {
    let lab = Lab::new();
    let sim = &lab.host;
    local_mirror(sim, POOL);
    sim.set_zfs_version("2.1").unwrap();
    sim.fault_leaf(POOL, "/dev/vdc1").unwrap();
    sim.set_zfs_clock(Some(1_796_167_231)).unwrap();
    zpool_ok(sim, &["online", POOL, "/dev/vdc1"]);
    sim.update_pool(POOL, |p, _| {
        let s = p.scan.as_mut().unwrap();
        s.start_time = 1_796_167_227;
        s.pass_start = 1_796_167_228;
        s.to_examine = 340_537_344;
        s.examined = 323_342_336;
        s.skipped = 12_288;
        s.issued = 131_072;
        s.pass_issued = 131_072;
        s.processed = 0;
        Ok(())
    })
    .unwrap();
    (lab, "/dev/vdc1".into())
}

/// zpool_do_status in 2.1.11 parses its options with getopt("c:igLpPsvxDtT:"): `-j` is
/// an invalid option, reported with the status usage, exit 2 (usage(B_FALSE)).
#[test]
fn zfs_2_1_rejects_json_as_its_source_does() {
    let (lab, _) = resilvering_21();
    let args: Vec<String> = ["status", "-P", "-j", "--json-int", "--json-flat-vdevs", POOL]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let r = zpool(&lab.host, &args);
    assert_eq!(r.rc, 2);
    assert_eq!(r.out, "");
    assert_eq!(
        r.err,
        "invalid option 'j'\nusage:\n\tstatus [-c [script1,script2,...]] [-igLpPstvxD]  [-T d|u] [pool] ... \n\t    [interval [count]]\n"
    );
}

/// print_scan_scrub_resilver_status of 2.1.11: "%s scanned at %s/s, %s issued at %s/s, %s
/// total" and "%.2f%% done" of issued / to_examine; the rest as 2.3.
#[test]
fn zfs_2_1_prints_its_scan_lines() {
    let (lab, leaf) = resilvering_21();
    let args: Vec<String> = ["status", "-P", POOL].iter().map(|s| s.to_string()).collect();
    let r = zpool(&lab.host, &args);
    assert_eq!((r.rc, r.err.as_str()), (0, ""));
    let want = format!(
        "  pool: {POOL}
 state: ONLINE
status: One or more devices is currently being resilvered.  The pool will
\tcontinue to function, possibly in a degraded state.
action: Wait for the resilver to complete.
  scan: resilver in progress since Tue Dec  1 23:20:27 2026
\t308M scanned at 0B/s, 128K issued at 42.7K/s, 325M total
\t0B resilvered, 0.04% done, no estimated completion time
config:

\tNAME           STATE     READ WRITE CKSUM
\t{POOL}       ONLINE       0     0     0
\t  mirror-0     ONLINE       0     0     0
\t    /dev/vdb1  ONLINE       0     0     0
\t    {leaf}  ONLINE       3    71     0

errors: No known data errors
"
    );
    assert_eq!(r.out, want);
}

/// zpool_do_online of 2.1.11 lets zpool_vdev_online report an unknown device
/// ("cannot online X: no such device in pool"); 2.3.2 says "couldn't find device".
#[test]
fn unknown_vdevs_are_reported_per_version() {
    let (lab, _) = resilvering_21();
    let args: Vec<String> = ["online", POOL, "sdz"].iter().map(|s| s.to_string()).collect();
    let r = zpool(&lab.host, &args);
    assert_eq!(
        (r.rc, r.out.as_str(), r.err.as_str()),
        (1, "", "cannot online sdz: no such device in pool\n")
    );
    lab.host.set_zfs_version("2.3").unwrap();
    let r = zpool(&lab.host, &args);
    assert_eq!(
        (r.rc, r.out.as_str(), r.err.as_str()),
        (1, "", "couldn't find device \"sdz\" in pool \"san-pool\"\n")
    );
}
