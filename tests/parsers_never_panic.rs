//! Every parser of outside text, fed mutations of what the real tools printed, never
//! panics (issue 10, class A): crm_mon and CIB XML, `zpool status`, iscsiadm's node
//! records, listings and error output, sysfs values, by-path link names, corosync.conf and
//! corosync-cmapctl output, iscsid.conf, the state file, the OCF parameters, portals and
//! IQNs, and the exit reasons made from all of them. The figures parsed from timer and
//! Corosync sources go on through the timeout arithmetic (class B), which must not
//! overflow either.
//!
//! Seeds are the recordings under tests/fixtures (made by the real tools). Mutations come
//! from a fixed-seed generator, so every run tries the same inputs: truncation at every
//! byte (the bytes decoded as `process::run` decodes a child's output, lossily), flipped
//! bytes, multi-byte characters and NUL inserted at the byte offsets where code cuts text,
//! numbers replaced by huge, negative and overlong ones, very long lines; invalid UTF-8
//! where the input is bytes (files: the state file, sysfs attributes, link names).
//! Run under the dev profile, overflow checks are on: a wrapping add is a panic here.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Duration;

use iscsi_mirror::cluster::{cib, corosync, crm_mon};
use iscsi_mirror::deadline::Deadline;
use iscsi_mirror::decide::{reconnect, timeouts, timer_sources};
use iscsi_mirror::iscsi::iscsiadm::{self, ErrorKind};
use iscsi_mirror::iscsi::sysfs::Sysfs;
use iscsi_mirror::iscsi::udev;
use iscsi_mirror::ocf::{self, Env};
use iscsi_mirror::state::{self, Backoff, InstanceState, Store};
use iscsi_mirror::target::{Iqn, Path as IscsiPath, Portal};
use iscsi_mirror::{config, observe, redact, text, zfs};

// ---------------------------------------------------------------------------------------
// the generator and the mutations

/// SplitMix64: tiny, fixed, the same sequence on every machine and Rust version.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}

/// Characters that break naive code: multi-byte (2, 3, 4 bytes), combining, zero-width,
/// BOM, replacement, NUL, controls, and the separators the parsers split on.
const INSERTS: &[&str] = &[
    "é", "€", "😀", "\u{301}", "\u{200b}", "\u{feff}", "\u{fffd}", "\0", "\n", "\r\n", "\t", "\x1b[2J", "<",
    ">", "&", "\"", "'", "=", " = ", ":", ",", "[", "]", "@", "-", ".", "#", "{", "}", "%",
];

/// Numbers where a parser or the arithmetic after it might overflow or wrap.
const NUMBERS: &[&str] = &[
    "99999999999999999999",
    "18446744073709551616",
    "18446744073709551615",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "4294967295",
    "4294967296",
    "2147483647",
    "2147483648",
    "-2147483649",
    "65535",
    "65536",
    "70000",
    "-1",
    "0",
    "-0",
    "+1",
    "1e9",
    "0x10",
    " 7",
    "1.5",
    "",
];

/// Byte offsets at which the agent cuts or bounds text (exit reasons, IQN and host name
/// limits, `printable`, `last_words`): a multi-byte character is put across each.
const CUTS: &[usize] = &[3, 37, 40, 63, 117, 120, 123, 125, 128, 197, 200, 223, 253, 255];

/// Cut at every byte.
const ALL: usize = usize::MAX;

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn boundary_at_or_before(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The digit runs of `s` (byte ranges).
fn digit_runs(s: &str) -> Vec<(usize, usize)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            out.push((start, i));
        } else {
            i += 1;
        }
    }
    out
}

/// One random mutation of `s` (1-4 edits).
fn mutate(rng: &mut Rng, s: &str) -> Vec<u8> {
    let mut cur = s.as_bytes().to_vec();
    for _ in 0..1 + rng.below(4) {
        let text = lossy(&cur);
        cur = match rng.below(9) {
            // flip a byte: invalid UTF-8 decoded lossily, or another ASCII character
            0 if !cur.is_empty() => {
                let i = rng.below(cur.len());
                cur[i] ^= 1 << rng.below(8);
                cur
            }
            // a character that breaks naive code, anywhere
            1 => {
                let at = boundary_at_or_before(&text, rng.below(text.len() + 1));
                let mut t = text.clone();
                t.insert_str(at, rng.pick(INSERTS));
                t.into_bytes()
            }
            // a multi-byte character across a cut offset, from a line start
            2 => {
                let starts: Vec<usize> = std::iter::once(0)
                    .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                    .collect();
                let at = rng.pick(&starts) + rng.pick(CUTS) - 1;
                let at = boundary_at_or_before(&text, at);
                let mut t = text.clone();
                t.insert_str(at, rng.pick(&["é", "€", "😀"]));
                t.into_bytes()
            }
            // a number replaced by a huge, negative or malformed one
            3 | 4 => {
                let runs = digit_runs(&text);
                if runs.is_empty() {
                    let mut t = text.clone();
                    let at = boundary_at_or_before(&text, rng.below(text.len() + 1));
                    t.insert_str(at, rng.pick(NUMBERS));
                    t.into_bytes()
                } else {
                    let (a, b) = rng.pick(&runs);
                    let mut t = text.clone();
                    t.replace_range(a..b, rng.pick(NUMBERS));
                    t.into_bytes()
                }
            }
            // a very long line
            5 => {
                let at = boundary_at_or_before(&text, rng.below(text.len() + 1));
                let mut t = text.clone();
                t.insert_str(at, &rng.pick(&["a", "é", "9", "<x>", "x=", " "]).repeat(3_000));
                t.into_bytes()
            }
            // a range deleted
            6 if !text.is_empty() => {
                let a = boundary_at_or_before(&text, rng.below(text.len()));
                let b = boundary_at_or_before(&text, a + rng.below(64));
                let mut t = text.clone();
                t.replace_range(a..b, "");
                t.into_bytes()
            }
            // a line repeated many times
            7 => {
                let lines: Vec<&str> = text.lines().collect();
                if lines.is_empty() {
                    cur
                } else {
                    let l = rng.pick(&lines).to_string();
                    let mut t = text.clone();
                    t.push('\n');
                    t.push_str(&format!("{l}\n").repeat(1 + rng.below(300)));
                    t.into_bytes()
                }
            }
            // NUL or a raw invalid byte in the middle
            _ => {
                let at = rng.below(cur.len() + 1);
                let b = rng.pick(&[0u8, 0xff, 0xc3, 0xe2, 0xf0, 0x80]);
                cur.insert(at, b);
                cur
            }
        };
    }
    cur
}

/// Every input a seed yields: cut at every byte (for seeds up to `cuts` bytes; longer ones
/// at every byte of their first and last 16 and at `cuts` points between), some numbers
/// each replaced by one of `NUMBERS`, and `random` random mutants.
fn variants(rng: &mut Rng, seed: &str, cuts: usize, random: usize) -> Vec<Vec<u8>> {
    let b = seed.as_bytes();
    let mut out: Vec<Vec<u8>> = Vec::new();
    let cut_points: Vec<usize> = if b.len() <= cuts {
        (0..=b.len()).collect()
    } else {
        let stride = (b.len() / cuts.max(1)).max(1);
        (0..=b.len())
            .filter(|&i| i < 16 || i + 16 > b.len() || i % stride == 0)
            .collect()
    };
    for i in cut_points {
        out.push(b[..i].to_vec());
    }
    let runs = digit_runs(seed);
    let every = (runs.len() / 12).max(1);
    for (n, (a, z)) in runs.into_iter().step_by(every).enumerate() {
        let mut t = seed.to_string();
        t.replace_range(a..z, NUMBERS[n % NUMBERS.len()]);
        out.push(t.into_bytes());
    }
    for _ in 0..random {
        out.push(mutate(rng, seed));
    }
    out
}

/// Runs `f` on `input` and reports a panic with the input, escaped and shortened.
fn no_panic(failures: &mut Vec<String>, what: &str, input: &[u8], f: impl FnOnce()) {
    if let Err(p) = panic::catch_unwind(AssertUnwindSafe(f)) {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let shown: String = lossy(input)
            .chars()
            .flat_map(char::escape_default)
            .take(400)
            .collect();
        failures.push(format!(
            "{what}: {msg}\n    input ({} bytes): {shown}",
            input.len()
        ));
    }
}

fn assert_none(failures: Vec<String>, tried: usize) {
    assert!(tried > 0);
    assert!(
        failures.is_empty(),
        "{} of {tried} inputs panicked; the first:\n{}",
        failures.len(),
        failures.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// seeds

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Every file under `dir` (recursively) whose name ends with one of `exts`.
fn seed_files(dir: &Path, exts: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                stack.push(p);
            } else if exts.iter().any(|e| p.to_string_lossy().ends_with(e)) {
                out.push(std::fs::read_to_string(&p).unwrap_or_default());
            }
        }
    }
    assert!(!out.is_empty(), "no seeds under {}", dir.display());
    out
}

fn iscsi_seeds() -> Vec<String> {
    let mut s = seed_files(&fixtures().join("iscsi/vm-recorded"), &[".txt"]);
    s.extend(seed_files(
        &fixtures().join("iscsi/recorded"),
        &[".txt", ".debian"],
    ));
    s
}

/// Runs `f` over the variants of every seed; the first seed is cut at `first_cuts` points
/// (`ALL`: every byte), the others at `cuts`.
fn fuzz(
    name: &str,
    seeds: &[String],
    first_cuts: usize,
    cuts: usize,
    random: usize,
    mut f: impl FnMut(&str),
) {
    let mut rng = Rng(0x5eed ^ name.len() as u64);
    let mut failures = Vec::new();
    let mut tried = 0;
    for (i, seed) in seeds.iter().enumerate() {
        let cuts = if i == 0 { first_cuts } else { cuts };
        for v in variants(&mut rng, seed, cuts, random) {
            let text = lossy(&v);
            tried += 1;
            no_panic(&mut failures, name, &v, || f(&text));
        }
    }
    assert_none(failures, tried);
}

/// The exit-reason and message helpers, over any outside text.
fn messages(t: &str) {
    let _ = text::printable(t);
    let _ = text::ellipsis(t, 128);
    let _ = text::clip(t, 40);
    let _ = ocf::fit_exit_reason(t);
    let _ = redact::secrets(t);
}

// ---------------------------------------------------------------------------------------
// text parsers

#[test]
fn crm_mon_xml() {
    // The first seed (cut at every byte) has nodes, resources, a failure with the agent's
    // exit reason; then every 2.1 recording and the 3.0.2 outputs of distinct shape.
    let dir = fixtures().join("crm_mon");
    let mut seeds = vec![std::fs::read_to_string(dir.join("live-one-node-monitor-failed.xml")).unwrap()];
    seeds.extend(seed_files(&dir, &[".xml"]).into_iter().take(26));
    for f in [
        "feature_set--output-mixed-status.xml",
        "crm_mon--output-without-node-section.xml",
        "crm_mon--output-filtered-by-bundle-connection.xml",
        "crm_mon--output-of-active-unmanaged-resource-on-offline-node.xml",
        "crm_mon--output-of-partially-active-resources.xml",
    ] {
        seeds.push(std::fs::read_to_string(dir.join("pacemaker-3.0/3.0.2").join(f)).unwrap());
    }
    fuzz("crm_mon::parse", &seeds, ALL, 8, 3, |t| {
        let v = crm_mon::parse(t);
        for n in ["storage-a", "storage-b", "lab1", "é"] {
            let _ = v.peer_state(Some(n));
        }
        if let Some(r) = &v.reason {
            messages(r);
        }
    });
}

#[test]
fn cib_xml() {
    let seeds = seed_files(&fixtures().join("cib"), &[".xml"]);
    fuzz("cib::parse", &seeds, 1200, 0, 200, |t| {
        let c = cib::parse(t);
        for p in &c.primitives {
            let env = Env::from_pairs(
                p.params
                    .iter()
                    .map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.clone())),
            );
            if let Err(e) = config::Config::from_env(&env) {
                messages(&e.reason);
            }
        }
        let _ = c.node("storage-a");
    });
}

#[test]
fn zpool_status() {
    let text = std::fs::read_to_string(fixtures().join("iscsi/recorded/zfs-mirror-fault.txt")).unwrap();
    let mut seeds: Vec<String> = text.split("\n--- ").map(str::to_string).collect();
    // ZFS 2.3.2's and 2.1.11's recordings
    for set in ["zfs/vm-recorded", "zfs/vm-recorded-2.1"] {
        let mut files: Vec<_> = std::fs::read_dir(fixtures().join(set))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .ends_with("zpool-status-P.txt")
            })
            .collect();
        files.sort();
        for p in files {
            seeds.push(std::fs::read_to_string(&p).unwrap());
        }
    }
    fuzz("zpool::parse_text", &seeds, ALL, 200, 200, |t| {
        let _ = zfs::zpool::parse_text(t);
    });
}

#[test]
fn zpool_status_json() {
    let dir = fixtures().join("zfs/vm-recorded");
    let mut seeds = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.contains("zpool-status-P-j") {
            seeds.push(std::fs::read_to_string(&p).unwrap());
        }
    }
    assert!(!seeds.is_empty(), "no JSON recordings under {}", dir.display());
    fuzz("zfs::json::parse_status", &seeds, ALL, 200, 200, |t| {
        let _ = zfs::json::parse_status(t, "tank", 1_750_000_000);
    });
}

#[test]
fn iscsiadm_outputs() {
    let mut seeds = seed_files(
        &fixtures().join("iscsi/vm-recorded"),
        &["login-chap-mismatch.txt"],
    );
    seeds.extend(iscsi_seeds());
    fuzz("iscsiadm output", &seeds, ALL, 12, 6, |t| {
        let rec = iscsiadm::parse_record(t);
        let _ = rec.get("node.conn[0].address");
        for line in t.lines() {
            if let Some(d) = iscsiadm::parse_discovered(line) {
                let _ = d.path();
                let _ = d.is(
                    &Iqn::parse("iqn.2025-01.lab.home:storage-b").unwrap(),
                    &Portal::parse("127.0.0.1:3260").unwrap(),
                );
            }
            let _ = udev::parse_link(line);
        }
        // stderr and stdout both, as an exit reason would take them
        let words = iscsiadm::last_words(t, t);
        messages(&words);
        messages(t);
    });
}

#[test]
fn iscsid_conf_and_node_records_through_the_timeout_window() {
    let mut seeds = seed_files(
        &fixtures().join("iscsi/vm-recorded"),
        &["node-show-agent-written.txt"],
    );
    seeds.extend(seed_files(&fixtures().join("iscsi/recorded"), &[".debian"]));
    seeds.extend(seed_files(
        &fixtures().join("iscsi/recorded"),
        &["node-show-discovered.txt"],
    ));
    fuzz("iscsid.conf / node record -> judge", &seeds, ALL, 200, 150, |t| {
        let settings = timer_sources::parse_settings(t);
        let inputs = timer_sources::Inputs {
            session: None,
            record: Some(&settings),
            iscsid_conf: Some((&settings, "/etc/iscsi/iscsid.conf".into())),
        };
        let timers = timer_sources::figures(&inputs, &Default::default());
        let conf = corosync::window_from_conf(&corosync::parse_conf(""), "c");
        for f in timeouts::judge(&conf, &timers) {
            messages(&f.message);
        }
    });
}

#[test]
fn corosync_conf_and_cmapctl_output() {
    let conf = seed_files(&fixtures().join("corosync"), &[".conf"]);
    let timers = timer_sources::figures(
        &timer_sources::Inputs {
            session: None,
            record: None,
            iscsid_conf: None,
        },
        &Default::default(),
    );
    fuzz("corosync.conf -> window -> judge", &conf, ALL, ALL, 500, |t| {
        let times = corosync::parse_conf(t);
        let w = corosync::window_from_conf(&times, "/etc/corosync/corosync.conf");
        let _ = timeouts::judge(&w, &timers);
        let _ = timeouts::recommend(&w);
    });
    let cmap = seed_files(&fixtures().join("corosync"), &[".stdout"]);
    fuzz("corosync-cmapctl output", &cmap, ALL, ALL, 60, |t| {
        for key in [
            "runtime.config.totem.token",
            "runtime.config.totem.consensus",
            "totem.token",
        ] {
            let _ = corosync::parse_cmap_value(t, key);
        }
    });
}

/// State files as the agent writes them (schema 2) and as the first layout did.
fn state_seeds() -> Vec<String> {
    let mut st = InstanceState {
        started: true,
        node: "storage-a".into(),
        health: Some("yellow".into()),
        ..Default::default()
    };
    for (t, p) in [
        ("iqn.2025-01.lab.home:storage-b", "10.10.10.2:3260"),
        ("iqn.2025-01.lab.home:storage-b", "storage-b.lab:3260"),
        ("iqn.2025-01.lab.home:storage-c", "[fd00::2]:3260"),
    ] {
        let path = IscsiPath {
            target: Iqn::parse(t).unwrap(),
            portal: Portal::parse(p).unwrap(),
        };
        let r = st.record_mut(&path);
        r.addresses = vec!["10.10.10.2".parse().unwrap(), "fd00::2".parse().unwrap()];
        r.target_portal = Some("[fd00::2]:3260".into());
        r.backoff = Backoff {
            failures: 3,
            last_attempt_unix: 1_750_000_000,
            next_attempt_ms: 1_750_000_004_000,
            failing_since_unix: Some(1_749_999_000),
            last_error: Some("login to 10.10.10.2:3260: portal did not answer".into()),
            recovering_since_unix: Some(1_749_999_100),
        };
    }
    st.pool.waiting_since_ms = vec![("/dev/sda".into(), 1_750_000_000_000)];
    vec![
        serde_json::to_string_pretty(&st).unwrap(),
        r#"{"started": true, "node": "storage-a",
            "paths": ["iqn.2025-01.lab.home:storage-b 10.10.10.2:3260", "garbage"],
            "backoff": {"iqn.2025-01.lab.home:storage-b 10.10.10.2:3260": {"failures": 3, "last_attempt_unix": 9}},
            "health": "yellow"}"#
            .to_string(),
    ]
}

/// What the agent does with a state it read: paths, records, the reconnect plan.
fn use_state(s: &InstanceState) {
    for p in s.recorded_paths() {
        let _ = s.for_iscsiadm(&p);
        if let Some(r) = s.record(&p) {
            let now = observe::now_ms();
            let pace = reconnect::Pace {
                jitter_ms: 2000,
                interval_ms: 10_000,
            };
            let _ = reconnect::plan(&r.backoff, now, pace, 5000, 0.5);
            let mut b = r.backoff.clone();
            let huge = reconnect::Pace {
                jitter_ms: u64::MAX,
                interval_ms: u64::MAX,
            };
            reconnect::after_failure(&mut b, now, huge, 1.0, "x");
            let _ = reconnect::plan(&b, u64::MAX, huge, u64::MAX, 1.0);
        }
    }
}

#[test]
fn state_files() {
    fuzz("state::parse", &state_seeds(), ALL, ALL, 400, |t| {
        if let Ok(s) = state::parse(t) {
            use_state(&s);
        }
    });
}

#[test]
fn state_files_as_bytes_through_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().to_str().unwrap(), "mirror");
    store.save(&InstanceState::default()).unwrap();
    let file = store.state_file();
    let mut rng = Rng(7);
    let mut failures = Vec::new();
    let mut tried = 0;
    for seed in state_seeds() {
        for v in variants(&mut rng, &seed, 150, 150) {
            std::fs::write(&file, &v).unwrap();
            tried += 1;
            no_panic(&mut failures, "Store::load", &v, || {
                let loaded = store.load();
                let _ = loaded.started();
                use_state(&loaded.into_state());
            });
        }
    }
    assert_none(failures, tried);
}

/// Parameter sets as administrators write them (the product's examples).
fn parameter_seeds() -> Vec<BTreeMap<&'static str, String>> {
    let base = |pairs: &[(&'static str, &str)]| -> BTreeMap<&'static str, String> {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    };
    vec![
        base(&[
            ("peers", "storage-a=iqn.2025-01.lab.home:storage-a@10.10.10.1 storage-b=iqn.2025-01.lab.home:storage-b@10.10.10.2:3260,[fd00::2]:3260"),
            ("noop_out_interval", "2"),
            ("noop_out_timeout", "2"),
            ("replacement_timeout", "5"),
            ("login_timeout", "10"),
            ("token_ms", "4000"),
            ("reconnect_jitter", "2000"),
            ("timeout_policy", "warn"),
            ("pool", "san"),
            ("auto_online", "true"),
            ("CRM_meta_timeout", "20000"),
            ("CRM_meta_interval", "10000"),
        ]),
        base(&[
            ("portal", "storage-b.lab:3260"),
            ("target", "iqn.2025-01.lab.home:storage-b"),
            ("peer_node", "storage-b"),
            ("discovery_type", "sendtargets"),
            ("iscsiadm", "/usr/sbin/iscsiadm"),
            ("udev", "yes"),
            ("try_recovery", "no"),
            ("host_root", "/"),
            ("crm_mon", "/usr/sbin/crm_mon"),
            ("corosync_cmapctl", "corosync-cmapctl"),
            ("zpool", "zpool"),
        ]),
    ]
}

#[test]
fn ocf_parameters() {
    let mut rng = Rng(11);
    let mut failures = Vec::new();
    let mut tried = 0;
    for seed in parameter_seeds() {
        let keys: Vec<&str> = seed.keys().copied().collect();
        for key in &keys {
            for v in variants(&mut rng, &seed[key], 400, 60) {
                let mut env: BTreeMap<String, String> = seed
                    .iter()
                    .map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.clone()))
                    .collect();
                env.insert(format!("OCF_RESKEY_{key}"), lossy(&v));
                env.insert("OCF_CHECK_LEVEL".into(), lossy(&v));
                env.insert("OCF_RA_VERSION_MAJOR".into(), lossy(&v));
                env.insert("HA_debug".into(), lossy(&v));
                let env = Env::from_pairs(env);
                tried += 1;
                no_panic(&mut failures, key, &v, || {
                    let _ = env.action_timeout();
                    let _ = (
                        env.check_level(),
                        env.supports_degraded(),
                        env.debug(),
                        env.is_probe(),
                    );
                    match config::Config::from_env(&env) {
                        Ok(c) => {
                            for n in ["storage-a", "storage-b", ""] {
                                let _ = c.paths_for(n);
                                let _ = c.membership(n).reason();
                            }
                            for l in c.all_legs() {
                                messages(&l.label());
                            }
                        }
                        Err(e) => messages(&e.reason),
                    }
                    let _ = config::paths_leniently(&env);
                });
            }
        }
    }
    assert_none(failures, tried);
}

#[test]
fn portals_iqns_and_link_names() {
    let mut seeds: Vec<String> = vec![
        "10.10.10.2:3260".into(),
        "[fd00::2]:3260".into(),
        "fd00::2".into(),
        "storage-b.lab.home:3260".into(),
        "iqn.2025-01.lab.home:storage-b".into(),
        "eui.02004567A425678D".into(),
        "naa.52004567ba64678d".into(),
    ];
    let links = std::fs::read_to_string(fixtures().join("iscsi/vm-recorded/by-path-links.txt")).unwrap();
    seeds.extend(links.lines().map(str::to_string));
    fuzz("Portal/Iqn/parse_link", &seeds, ALL, ALL, 300, |t| {
        if let Ok(p) = Portal::parse(t) {
            let _ = (p.to_iscsiadm(), p.address(), p.matches(t, 3260));
        }
        let _ = Portal::parse_with_default(t, 3205);
        if let Err(e) = Iqn::parse(t) {
            messages(&e);
        }
        let _ = udev::parse_link(t);
    });
}

#[test]
fn exit_codes_and_reasons() {
    let mut failures = Vec::new();
    let mut tried = 0;
    for code in [i32::MIN, -1, 0, 4, 8, 11, 15, 20, 21, 24, 127, 255, 256, i32::MAX] {
        tried += 1;
        no_panic(&mut failures, "ErrorKind", code.to_string().as_bytes(), || {
            let e = iscsiadm::Error {
                kind: ErrorKind::from_code(code),
                operation: "login to 😀".repeat(50),
                detail: "é".repeat(300),
            };
            messages(&e.reason());
            messages(&e.detailed());
        });
    }
    assert_none(failures, tried);
}

// ---------------------------------------------------------------------------------------
// byte inputs: sysfs attributes and link names

/// A simulated host with one logged-in session, as the kernel lays it out.
fn host_with_a_session() -> (tempfile::TempDir, iscsi_simhost::SimHost, std::net::TcpListener) {
    let dir = tempfile::tempdir().unwrap();
    let sim = iscsi_simhost::SimHost::create(dir.path().join("h")).unwrap();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let portal = format!("127.0.0.1:{}", l.local_addr().unwrap().port());
    let iqn = "iqn.2025-01.lab.home:storage-b";
    sim.add_target(iqn, &[&portal], 2).unwrap();
    for args in [
        vec!["-m", "node", "-o", "new", "-T", iqn, "-p", &portal],
        vec!["-m", "node", "-T", iqn, "-p", &portal, "--login"],
    ] {
        let out = sim.run(&args).unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    (dir, sim, l)
}

/// Files under `dir` (not following links into other trees).
fn attribute_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn sysfs_values_and_by_path_names() {
    let (_d, sim, _l) = host_with_a_session();
    let root = sim.root().to_path_buf();
    let sysfs = Sysfs::new(&root);
    let session = sysfs.sessions().pop().expect("a session");
    let path = IscsiPath {
        target: Iqn::parse(&session.target).unwrap(),
        portal: Portal::parse(&format!(
            "{}:{}",
            session.connections[0].persistent_address, session.connections[0].persistent_port
        ))
        .unwrap(),
    };
    let name_path = IscsiPath {
        target: path.target.clone(),
        portal: Portal::parse(&format!("storage-b.lab:{}", path.portal.port)).unwrap(),
    };
    let mut st = InstanceState::default();
    st.record_mut(&name_path).addresses = vec!["127.0.0.1".parse().unwrap()];
    // The attributes the agent reads (sysfs.rs, udev.rs, timer_sources.rs).
    let read = [
        "targetname",
        "state",
        "recovery_tmo",
        "persistent_address",
        "persistent_port",
        "address",
        "port",
        "recv_tmo",
        "ping_tmo",
    ];
    let files: Vec<PathBuf> = attribute_files(&root.join("sys/devices/platform"))
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| read.iter().any(|r| n == *r)))
        .collect();
    assert!(files.len() >= 10, "{files:?}");
    let mut rng = Rng(13);
    let mut failures = Vec::new();
    let mut tried = 0;
    for f in &files {
        let original = std::fs::read(f).unwrap();
        let seed = lossy(&original);
        for v in variants(&mut rng, &seed, 40, 24) {
            std::fs::write(f, &v).unwrap();
            tried += 1;
            no_panic(&mut failures, &f.display().to_string(), &v, || {
                for s in sysfs.sessions() {
                    let _ = udev::links_for(&root, &s);
                    let timers = timer_sources::figures(
                        &timer_sources::Inputs {
                            session: Some(&s),
                            record: None,
                            iscsid_conf: None,
                        },
                        &Default::default(),
                    );
                    let w = corosync::window_from_conf(&corosync::parse_conf(""), "c");
                    let _ = timeouts::judge(&w, &timers);
                    let _ = s.leads_to(&path);
                }
                let all = sysfs.sessions();
                let _ = observe::paths::match_sessions(&[path.clone(), name_path.clone()], &all, Some(&st));
            });
        }
        std::fs::write(f, &original).unwrap();
    }
    // by-path names: any bytes a file name can hold
    let by_path = root.join("dev/disk/by-path");
    let names: Vec<Vec<u8>> = std::fs::read_dir(&by_path)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().as_bytes().to_vec())
        .collect();
    assert!(!names.is_empty());
    let session = sysfs.sessions().pop().unwrap();
    for name in names {
        for mut v in variants(&mut rng, &lossy(&name), 400, 100) {
            v.retain(|b| *b != b'/' && *b != 0);
            v.truncate(255);
            if v.is_empty() || v == b"." || v == b".." {
                continue;
            }
            let link = by_path.join(OsStr::from_bytes(&v));
            if std::os::unix::fs::symlink("../../sda", &link).is_err() {
                continue;
            }
            tried += 1;
            no_panic(&mut failures, "udev::links_for", &v, || {
                let _ = udev::links_for(&root, &session);
                let _ =
                    udev::wait_for_links(&root, || Some(session.clone()), Deadline::after(Duration::ZERO));
            });
            let _ = std::fs::remove_file(&link);
        }
    }
    assert_none(failures, tried);
}
