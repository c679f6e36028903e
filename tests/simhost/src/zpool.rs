//! The `zpool` look-alike (argv[0] basename "zpool"). Texts, JSON and exit codes are those
//! of ZFS 2.3.2 as recorded in the project's two-VM SAN (tests/fixtures/zfs/vm-recorded),
//! laid out by the same rules as cmd/zpool/zpool_main.c (print_status_config,
//! print_scan_scrub_resilver_status, vdev_stats_nvlist, ...); with the world's `zfs.version`
//! "2.1", those of ZFS 2.1.11, modelled from its source (no `-j`, the older scan lines).
//!
//! Served: `status [-P] [-p] [-x] [-v] [-j [--json-int] [--json-flat-vdevs]
//! [--json-pool-key-guid]] [pool...]`, `list -H [-p] [-o props] [pool...]`,
//! `get -H [-p] [-o cols] props [pool...]`, `online POOL DEV...`, `offline [-t] [-f] POOL
//! DEV...`, `clear POOL [DEV]`, `export [-f] POOL...`, `import [options] POOL`. Anything else
//! exits 2 with a line saying the stand-in does not model it, never with made-up output.
//!
//! Output discipline is zpool's: stdout is fully buffered when it is not a terminal, stderr
//! is not, so a merged capture shows the stderr lines first.

use std::path::{Path, PathBuf};

use crate::world::{self, Lock, World};
use crate::zfs::{self, Pool, Reason, Scan, Vdev, Zfs};

/// Argument errors and unmodelled requests exit with zpool's usage code.
const USAGE_RC: i32 = 2;

struct Out {
    out: String,
    err: String,
}

impl Out {
    fn print(&mut self, s: &str) {
        self.out.push_str(s);
    }
    fn eprint(&mut self, s: &str) {
        self.err.push_str(s);
    }
    /// The stand-in's own refusal: what it does not model.
    fn unmodelled(&mut self, what: &str) -> i32 {
        self.err.push_str(&format!(
            "zpool (iscsi-simhost): {what} is not modelled by the simulated host\n"
        ));
        USAGE_RC
    }
}

/// Entry point of the `zpool` personality; returns the exit code.
pub fn main(argv: Vec<String>) -> i32 {
    let argv0 = argv.first().cloned().unwrap_or_else(|| "zpool".into());
    let root = match crate::iscsiadm::find_root(&argv0) {
        Ok(r) => r,
        Err(msg) => {
            eprintln!("{msg}");
            return 1;
        }
    };
    let mut o = Out {
        out: String::new(),
        err: String::new(),
    };
    let rc = match World::load(&root) {
        Ok(w) => run(&root, w, &argv, &mut o),
        Err(e) => {
            o.eprint(&format!("zpool (simulated host): {e:#}\n"));
            1
        }
    };
    use std::io::Write;
    let _ = std::io::stderr().write_all(o.err.as_bytes());
    let mut so = std::io::stdout().lock();
    let _ = so.write_all(o.out.as_bytes());
    let _ = so.flush();
    world::log_invocation_to(&root, "zpool.log", &argv, Some(rc));
    rc
}

fn run(root: &Path, world: World, argv: &[String], o: &mut Out) -> i32 {
    let Some(cmd) = argv.get(1) else {
        return o.unmodelled("zpool without a command");
    };
    let args = &argv[2..];
    let z = &world.zfs;
    match cmd.as_str() {
        "status" => status(z, args, o),
        "list" => list(z, args, o),
        "get" => get(z, args, o),
        "online" | "offline" | "clear" | "export" | "import" => change(root, cmd, args, o),
        other => o.unmodelled(&format!("zpool {other}")),
    }
}

// ---- getopt (glibc, GNU permutation, opterr = 0 as zpool sets it) ------------------------

enum Got {
    Opt(char, Option<String>),
    /// '?' (or ':' for a missing argument with a leading ':' in the option string).
    Bad(char, char),
}

/// Parses `args` (without argv[0]) against a short option string and long options (name,
/// takes an argument, the code returned). Stops at the first error, as zpool exits there.
fn getopt(args: &[String], short: &str, long: &[(&str, bool, char)]) -> (Vec<Got>, Vec<String>) {
    let colon = short.starts_with(':');
    let spec = short.trim_start_matches(':');
    let has_arg = |c: char| spec.find(c).map(|i| spec[i + c.len_utf8()..].starts_with(':'));
    let mut got = Vec::new();
    let mut operands = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            operands.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(body) = a.strip_prefix("--").filter(|_| !long.is_empty()) {
            let (name, val) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let exact = long.iter().find(|(n, _, _)| *n == name);
            let prefixed: Vec<_> = long.iter().filter(|(n, _, _)| n.starts_with(name)).collect();
            let hit = exact.or(if prefixed.len() == 1 {
                Some(prefixed[0])
            } else {
                None
            });
            let Some(&(_, takes, code)) = hit else {
                got.push(Got::Bad('?', '\0'));
                return (got, operands);
            };
            if takes {
                let v = match val {
                    Some(v) => Some(v),
                    None if i < args.len() => {
                        i += 1;
                        Some(args[i - 1].clone())
                    }
                    None => {
                        got.push(Got::Bad(if colon { ':' } else { '?' }, code));
                        return (got, operands);
                    }
                };
                got.push(Got::Opt(code, v));
            } else if val.is_some() {
                got.push(Got::Bad('?', code));
                return (got, operands);
            } else {
                got.push(Got::Opt(code, None));
            }
            continue;
        }
        if a.len() > 1 && a.starts_with('-') {
            let chars: Vec<char> = a[1..].chars().collect();
            let mut k = 0;
            while k < chars.len() {
                let c = chars[k];
                k += 1;
                match has_arg(c) {
                    None => {
                        got.push(Got::Bad('?', c));
                        return (got, operands);
                    }
                    Some(false) => got.push(Got::Opt(c, None)),
                    Some(true) => {
                        let rest: String = chars[k..].iter().collect();
                        if !rest.is_empty() {
                            got.push(Got::Opt(c, Some(rest)));
                        } else if i < args.len() {
                            i += 1;
                            got.push(Got::Opt(c, Some(args[i - 1].clone())));
                        } else {
                            got.push(Got::Bad(if colon { ':' } else { '?' }, c));
                            return (got, operands);
                        }
                        break;
                    }
                }
            }
            continue;
        }
        operands.push(a.clone());
    }
    (got, operands)
}

/// ZFS 2.1's getopt (its commands have no long options) or 2.3's getopt_long.
fn getopt_for(
    z: &Zfs,
    args: &[String],
    short21: &str,
    short23: &str,
    long23: &[(&str, bool, char)],
) -> (Vec<Got>, Vec<String>) {
    if z.v21() {
        getopt(args, short21, &[])
    } else {
        getopt(args, short23, long23)
    }
}

/// The JSON options of 2.3's `list` and `get`.
const JSON_OPTS: &[(&str, bool, char)] = &[
    ("json", false, 'j'),
    ("json-int", false, OPT_JSON_INT),
    ("json-pool-key-guid", false, OPT_KEY_GUID),
];

// Codes of zpool's long options.
const OPT_POWER: char = '\u{e000}';
const OPT_JSON_INT: char = '\u{e001}';
const OPT_JSON_FLAT: char = '\u{e002}';
const OPT_KEY_GUID: char = '\u{e003}';

/// `usage(B_FALSE)` for the commands whose usage is a plain line (zpool_main.c get_usage).
fn usage(z: &Zfs, cmd: &str, o: &mut Out) -> i32 {
    let text = match (cmd, z.v21()) {
        ("status", false) => {
            "\tstatus [--power] [-j [--json-int, --json-flat-vdevs, ...\n\t    --json-pool-key-guid]] [-c [script1,script2,...]] [-dDegiLpPstvx] ...\n\t    [-T d|u] [pool] [interval [count]]\n"
        }
        ("status", true) => {
            "\tstatus [-c [script1,script2,...]] [-igLpPstvxD]  [-T d|u] [pool] ... \n\t    [interval [count]]\n"
        }
        ("online", false) => "\tonline [--power][-e] <pool> <device> ...\n",
        ("online", true) => "\tonline [-e] <pool> <device> ...\n",
        ("offline", false) => "\toffline [--power]|[[-f][-t]] <pool> <device> ...\n",
        ("offline", true) => "\toffline [-f] [-t] <pool> <device> ...\n",
        ("clear", false) => "\tclear [[--power]|[-nF]] <pool> [device]\n",
        ("clear", true) => "\tclear [-nF] <pool> [device]\n",
        ("export", _) => "\texport [-af] <pool> ...\n",
        _ => return o.unmodelled(&format!("the usage text of zpool {cmd}")),
    };
    o.eprint("usage:\n");
    o.eprint(text);
    USAGE_RC
}

/// "cannot open 'P': no such pool" (zpool_open_canfail through zfs_verror).
fn no_such_pool(name: &str, o: &mut Out) {
    o.eprint(&format!("cannot open '{name}': no such pool\n"));
}

/// The pools `names` asks for (all imported ones when empty), in zpool_iter's order (by
/// name), each missing name reported as zpool_open_canfail does; `false` when one was
/// missing.
fn pools_named<'a>(z: &'a Zfs, names: &[String], o: &mut Out) -> (Vec<&'a Pool>, bool) {
    let mut ok = true;
    let mut out: Vec<&Pool> = if names.is_empty() {
        z.pools.iter().filter(|p| p.imported).collect()
    } else {
        let mut v = Vec::new();
        for n in names {
            match z.imported(n) {
                Some(p) => {
                    if !v.iter().any(|q: &&Pool| q.name == p.name) {
                        v.push(p)
                    }
                }
                None => {
                    no_such_pool(n, o);
                    ok = false;
                }
            }
        }
        v
    };
    out.sort_by(|a, b| a.name.cmp(&b.name));
    (out, ok)
}

// ---- zpool status --------------------------------------------------------------------------

#[derive(Default)]
struct StatusOpts {
    full: bool,
    literal: bool,
    explain: bool,
    verbose: bool,
    json: bool,
    json_int: bool,
    flat: bool,
    key_guid: bool,
}

fn status(z: &Zfs, args: &[String], o: &mut Out) -> i32 {
    let (got, operands) = getopt_for(
        z,
        args,
        "c:igLpPsvxDtT:",
        "c:jdDegiLpPstT:vx",
        &[
            ("power", false, OPT_POWER),
            ("json", false, 'j'),
            ("json-int", false, OPT_JSON_INT),
            ("json-flat-vdevs", false, OPT_JSON_FLAT),
            ("json-pool-key-guid", false, OPT_KEY_GUID),
        ],
    );
    let mut so = StatusOpts::default();
    for g in got {
        match g {
            Got::Opt('P', _) => so.full = true,
            Got::Opt('p', _) => so.literal = true,
            Got::Opt('x', _) => so.explain = true,
            Got::Opt('v', _) => so.verbose = true,
            Got::Opt('j', _) => so.json = true,
            Got::Opt(OPT_JSON_INT, _) => {
                so.json_int = true;
                so.literal = true;
            }
            Got::Opt(OPT_JSON_FLAT, _) => so.flat = true,
            Got::Opt(OPT_KEY_GUID, _) => so.key_guid = true,
            Got::Opt(c, _) => return o.unmodelled(&format!("zpool status {}", opt_name(c))),
            Got::Bad(_, 'c') => return o.unmodelled("zpool status -c without a script (the script list)"),
            Got::Bad(_, c) => {
                o.eprint(&format!("invalid option '{c}'\n"));
                return usage(z, "status", o);
            }
        }
    }
    if operands.last().is_some_and(|a| a.parse::<f64>().is_ok()) {
        return o.unmodelled("zpool status with an interval");
    }
    if !z.v21() {
        if so.flat && !so.json {
            o.eprint("'--json-flat-vdevs' only works with '-j' option\n");
            return usage(z, "status", o);
        }
        if so.json_int && !so.json {
            o.eprint("'--json-int' only works with '-j' option\n");
            return usage(z, "status", o);
        }
        if so.key_guid && !so.json {
            o.eprint("'json-pool-key-guid' only works with '-j' option\n");
            return usage(z, "status", o);
        }
    }
    let (pools, ok) = pools_named(z, &operands, o);
    let now = z.now();
    if so.json {
        let mut pools_nv = Nv::default();
        for p in &pools {
            if so.explain && p.reason() == Reason::Ok {
                continue;
            }
            let key = if so.key_guid {
                p.guid.to_string()
            } else {
                p.name.clone()
            };
            pools_nv.add(&key, V::Nv(status_json(p, &so)));
        }
        if ok {
            let mut top = Nv::default();
            top.add("output_version", V::Nv(schema("zpool status")));
            top.add("pools", V::Nv(pools_nv));
            o.print(&top.json());
            o.print("\n");
        }
        return if ok { 0 } else { 1 };
    }
    let mut first = true;
    for p in &pools {
        if so.explain && p.reason() == Reason::Ok {
            if !operands.is_empty() {
                o.print(&format!("pool '{}' is healthy\n", p.name));
                first = false;
            }
            continue;
        }
        if !first {
            o.print("\n");
        }
        first = false;
        o.print(&status_text(z, p, &so, now));
    }
    if operands.is_empty() && pools.is_empty() {
        o.eprint("no pools available\n");
    } else if so.explain && first && operands.is_empty() {
        o.print("all pools are healthy\n");
    }
    i32::from(!ok)
}

fn opt_name(c: char) -> String {
    match c {
        OPT_POWER => "--power".into(),
        OPT_JSON_INT => "--json-int".into(),
        OPT_JSON_FLAT => "--json-flat-vdevs".into(),
        OPT_KEY_GUID => "--json-pool-key-guid".into(),
        c => format!("-{c}"),
    }
}

/// print_status_reason: (status, action) texts.
fn reason_text(r: Reason, v21: bool) -> Option<(&'static str, &'static str)> {
    Some(match r {
        Reason::Ok => return None,
        Reason::MissingDevR => (
            "One or more devices could not be opened.  Sufficient replicas exist for\n\tthe pool to continue functioning in a degraded state.\n",
            "Attach the missing device and online it using 'zpool online'.\n",
        ),
        Reason::MissingDevNr => (
            "One or more devices could not be opened.  There are insufficient\n\treplicas for the pool to continue functioning.\n",
            "Attach the missing device and online it using 'zpool online'.\n",
        ),
        Reason::CorruptLabelR => (
            "One or more devices could not be used because the label is missing or\n\tinvalid.  Sufficient replicas exist for the pool to continue\n\tfunctioning in a degraded state.\n",
            "Replace the device using 'zpool replace'.\n",
        ),
        // The action of the non-replicated cases comes from zpool_explain_recover, which
        // asks the kernel for a rewind; not modelled beyond the status line.
        Reason::CorruptLabelNr => (
            "One or more devices could not be used because the label is missing \n\tor invalid.  There are insufficient replicas for the pool to continue\n\tfunctioning.\n",
            "",
        ),
        Reason::FailingDev => (
            "One or more devices has experienced an unrecoverable error.  An\n\tattempt was made to correct the error.  Applications are unaffected.\n",
            "Determine if the device needs to be replaced, and clear the errors\n\tusing 'zpool clear' or replace the device with 'zpool replace'.\n",
        ),
        Reason::OfflineDev => (
            "One or more devices has been taken offline by the administrator.\n\tSufficient replicas exist for the pool to continue functioning in a\n\tdegraded state.\n",
            "Online the device using 'zpool online' or replace the device with\n\t'zpool replace'.\n",
        ),
        Reason::RemovedDev => (
            "One or more devices has been removed by the administrator.\n\tSufficient replicas exist for the pool to continue functioning in a\n\tdegraded state.\n",
            "Online the device using zpool online' or replace the device with\n\t'zpool replace'.\n",
        ),
        Reason::Resilvering => (
            "One or more devices is currently being resilvered.  The pool will\n\tcontinue to function, possibly in a degraded state.\n",
            "Wait for the resilver to complete.\n",
        ),
        Reason::CorruptData => (
            "One or more devices has experienced an error resulting in data\n\tcorruption.  Applications may be affected.\n",
            "Restore the file in question if possible.  Otherwise restore the\n\tentire pool from backup.\n",
        ),
        Reason::FaultedDevR => (
            "One or more devices are faulted in response to persistent errors.\n\tSufficient replicas exist for the pool to continue functioning in a\n\tdegraded state.\n",
            "Replace the faulted device, or use 'zpool clear' to mark the device\n\trepaired.\n",
        ),
        Reason::FaultedDevNr => (
            "One or more devices are faulted in response to persistent errors.  There are insufficient replicas for the pool to\n\tcontinue functioning.\n",
            "Destroy and re-create the pool from a backup source.  Manually marking the device\n\trepaired using 'zpool clear' may allow some data to be recovered.\n",
        ),
        Reason::IoFailureMmp if v21 => (
            "The pool is suspended because multihost writes failed or were delayed;\n\tanother system could import the pool undetected.\n",
            "Make sure the pool's devices are connected, then reboot your system and\n\timport the pool.\n",
        ),
        Reason::IoFailureMmp => (
            "The pool is suspended because multihost writes failed or were delayed;\n\tanother system could import the pool undetected.\n",
            "Make sure the pool's devices are connected, then reboot your system and\n\timport the pool or run 'zpool clear' to resume the pool.\n",
        ),
        Reason::IoFailureWait | Reason::IoFailureContinue => (
            "One or more devices are faulted in response to IO failures.\n",
            "Make sure the affected devices are connected, then run 'zpool clear'.\n",
        ),
    })
}

/// print_status_config's and vdev_stats_nvlist's text of a non-zero aux state.
fn aux_text(v: &Vdev) -> &'static str {
    match v.aux.as_str() {
        "OPEN_FAILED" => "cannot open",
        "BAD_GUID_SUM" => "missing device",
        "NO_REPLICAS" => "insufficient replicas",
        "VERSION_NEWER" => "newer version",
        "UNSUP_FEAT" => "unsupported feature(s)",
        "ASHIFT_TOO_BIG" => "unsupported minimum blocksize",
        "SPARED" => "currently in use",
        "ERR_EXCEEDED" => "too many errors",
        "IO_FAILURE" => "experienced I/O failures",
        "BAD_LOG" => "bad intent log",
        "EXTERNAL" => "external device fault",
        "SPLIT_POOL" => "split into new pool",
        "ACTIVE" => "currently in use",
        "CHILDREN_OFFLINE" => "all children offline",
        "BAD_LABEL" => "invalid label",
        _ => "corrupted data",
    }
}

fn max_width(v: &Vdev, pool: &str, full: bool, depth: usize, max: usize) -> usize {
    let mut max = max.max(v.name(pool, full).len() + depth);
    for c in &v.children {
        max = max.max(max_width(c, pool, full, depth + 2, max));
    }
    max
}

fn status_text(z: &Zfs, p: &Pool, so: &StatusOpts, now: i64) -> String {
    let mut s = String::new();
    let reason = p.reason();
    s.push_str(&format!("  pool: {}\n", p.name));
    s.push_str(&format!(" state: {}\n", p.health()));
    if let Some((status, action)) = reason_text(reason, z.v21()) {
        s.push_str("status: ");
        s.push_str(status);
        if !action.is_empty() {
            s.push_str("action: ");
            s.push_str(action);
        }
    }
    if let Some(id) = reason.msgid() {
        s.push_str(&format!(
            "   see: https://openzfs.github.io/openzfs-docs/msg/{id}\n"
        ));
    }
    if let Some(scan) = &p.scan {
        let resilver = scan.func == "RESILVER";
        let scrub = scan.func == "SCRUB";
        if scrub {
            s.push_str(&scan_text(scan, z.v21(), now));
        }
        if resilver && (scan.state == "SCANNING" || scan.end_time != 0) {
            s.push_str(&scan_text(scan, z.v21(), now));
        }
    }
    let width = max_width(&p.root, &p.name, so.full, 0, 0).max(10);
    s.push_str("config:\n\n");
    s.push_str(&format!(
        "\t{:<width$}  {:<8} {:>5} {:>5} {:>5}\n",
        "NAME", "STATE", "READ", "WRITE", "CKSUM"
    ));
    config_lines(&mut s, p, &p.root, so, width, 0);
    s.push('\n');
    if p.error_count == 0 {
        s.push_str("errors: No known data errors\n");
    } else if !so.verbose {
        s.push_str(&format!(
            "errors: {} data errors, use '-v' for a list\n",
            p.error_count
        ));
    } else {
        s.push_str("errors: Permanent errors have been detected in the following files:\n\n");
    }
    s
}

fn config_lines(s: &mut String, p: &Pool, v: &Vdev, so: &StatusOpts, width: usize, depth: usize) {
    let name = v.name(&p.name, so.full);
    let state = zfs::state_name(&v.state, &v.aux);
    s.push_str(&format!(
        "\t{:depth$}{:<w$}  {:<8}",
        "",
        name,
        state,
        w = width - depth
    ));
    let st = &v.stats;
    for n in [st.read_errors, st.write_errors, st.checksum_errors] {
        if so.literal {
            s.push_str(&format!(" {n:>5}"));
        } else {
            s.push_str(&format!(" {:>5}", nicenum(n, Fmt::N1024, 6)));
        }
    }
    let leaf = v.children.is_empty();
    if v.not_present {
        s.push_str(&format!("  was {}", v.path.clone().unwrap_or_default()));
    } else if v.aux != "NONE" {
        s.push_str("  ");
        if v.aux == "ERR_EXCEEDED"
            && st.read_errors + st.write_errors + st.checksum_errors == 0
            && leaf
            && st.slow_ios > 0
        {
            s.push_str("too many slow I/Os");
        } else {
            s.push_str(aux_text(v));
        }
    }
    if let Some(scan) = &p.scan {
        if scan.state == "SCANNING" && leaf && v.healthy() {
            if st.scan_processed != 0 {
                s.push_str(if scan.func == "RESILVER" {
                    "  (resilvering)"
                } else {
                    "  (repairing)"
                });
            } else if v.resilver_deferred {
                s.push_str("  (awaiting resilver)");
            }
        }
    }
    s.push('\n');
    for c in &v.children {
        config_lines(s, p, c, so, width, depth + 2);
    }
}

/// print_scan_scrub_resilver_status (2.3.2, or 2.1.11's layout).
fn scan_text(ps: &Scan, v21: bool, now: i64) -> String {
    let mut s = String::from("  scan: ");
    let resilver = ps.func == "RESILVER";
    let processed = nicenum(ps.processed, Fmt::Bytes, 7);
    match ps.state.as_str() {
        "FINISHED" => {
            let what = if resilver { "resilvered" } else { "scrub repaired" };
            s.push_str(&format!(
                "{what} {processed} in {} with {} errors on {}",
                secs_to_dhms(ps.end_time.wrapping_sub(ps.start_time) as u64),
                ps.errors,
                ctime(ps.end_time)
            ));
            return s;
        }
        "CANCELED" => {
            let what = if resilver { "resilver" } else { "scrub" };
            s.push_str(&format!("{what} canceled on {}", ctime(ps.end_time)));
            return s;
        }
        _ => {}
    }
    let pause = ps.pass_scrub_pause;
    if resilver {
        s.push_str(&format!("resilver in progress since {}", ctime(ps.start_time)));
    } else if pause == 0 {
        s.push_str(&format!("scrub in progress since {}", ctime(ps.start_time)));
    } else {
        s.push_str(&format!("scrub paused since {}", ctime(pause)));
        s.push_str(&format!("\tscrub started on {}", ctime(ps.start_time)));
    }
    // time(NULL) - pss_pass_start in uint64_t arithmetic, rounded up to 1.
    let mut elapsed = (now as u64)
        .wrapping_sub(ps.pass_start as u64)
        .wrapping_sub(ps.pass_scrub_spent_paused);
    if elapsed == 0 {
        elapsed = 1;
    }
    let scan_rate = ps.pass_exam / elapsed;
    let issue_rate = ps.pass_issued / elapsed;
    let nb = |n: u64| nicenum(n, Fmt::Bytes, 7);
    let doing = if resilver { "resilvered" } else { "repaired" };
    let eta_ok;
    let total;
    if v21 {
        total = ps.to_examine;
        let secs_left = (issue_rate != 0 && total >= ps.issued).then(|| (total - ps.issued) / issue_rate);
        if pause == 0 {
            s.push_str(&format!(
                "\t{} scanned at {}/s, {} issued at {}/s, {} total\n",
                nb(ps.examined),
                nb(scan_rate),
                nb(ps.issued),
                nb(issue_rate),
                nb(total)
            ));
        } else {
            s.push_str(&format!(
                "\t{} scanned, {} issued, {} total\n",
                nb(ps.examined),
                nb(ps.issued),
                nb(total)
            ));
        }
        s.push_str(&format!(
            "\t{processed} {doing}, {} done",
            percent(ps.issued, total)
        ));
        eta_ok = secs_left.filter(|_| issue_rate >= 10 * 1024 * 1024);
    } else {
        let total_s = ps.to_examine;
        total = ps.to_examine.wrapping_sub(ps.skipped);
        s.push_str(&format!("\t{} / {} scanned", nb(ps.examined), nb(total_s)));
        if pause == 0 && scan_rate > 0 {
            s.push_str(&format!(" at {}/s", nb(scan_rate)));
        }
        s.push_str(&format!(", {} / {} issued", nb(ps.issued), nb(total)));
        if pause == 0 && issue_rate > 0 {
            s.push_str(&format!(" at {}/s", nb(issue_rate)));
        }
        s.push('\n');
        s.push_str(&format!(
            "\t{processed} {doing}, {} done",
            percent(ps.issued, total)
        ));
        let started = if resilver { ps.processed > 0 } else { ps.issued > 0 };
        eta_ok = (total >= ps.issued && issue_rate >= 10 * 1024 * 1024 && started)
            .then(|| (total - ps.issued) / issue_rate);
    }
    if pause == 0 {
        match eta_ok {
            Some(left) => s.push_str(&format!(", {} to go\n", secs_to_dhms(left))),
            None => s.push_str(", no estimated completion time\n"),
        }
    } else {
        s.push('\n');
    }
    s
}

/// `printf("%.2f%%", 100 * (double)issued / total)`, with C's texts for 0/0 and x/0.
fn percent(issued: u64, total: u64) -> String {
    if total == 0 {
        return if issued == 0 {
            "-nan%".into()
        } else {
            "inf%".into()
        };
    }
    format!("{:.2}%", 100.0 * (issued as f64 / total as f64))
}

/// secs_to_dhms.
fn secs_to_dhms(total: u64) -> String {
    let days = total / 60 / 60 / 24;
    let hours = (total / 60 / 60) % 24;
    let mins = (total / 60) % 60;
    let secs = total % 60;
    if days > 0 {
        format!("{days} days {hours:02}:{mins:02}:{secs:02}")
    } else {
        format!("{hours:02}:{mins:02}:{secs:02}")
    }
}

fn tm_of(t: i64) -> libc::tm {
    // SAFETY: localtime_r fills the zeroed struct we own; time_t is i64 on Linux.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        let tt = t as libc::time_t;
        libc::localtime_r(&tt, &mut tm);
        tm
    }
}

fn strftime(fmt: &str, t: i64) -> String {
    let tm = tm_of(t);
    let mut buf = [0u8; 128];
    let Ok(cfmt) = std::ffi::CString::new(fmt) else {
        return String::new();
    };
    // SAFETY: the buffer and its length are ours, the format is NUL-terminated.
    let n = unsafe { libc::strftime(buf.as_mut_ptr().cast(), buf.len(), cfmt.as_ptr(), &tm) };
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// ctime(3): "Tue Dec  1 23:20:27 2026\n" in local time (TZ).
fn ctime(t: i64) -> String {
    strftime("%a %b %e %H:%M:%S %Y\n", t)
}

/// format_timestamp with the C locale's _DATE_FMT; "-" for 0.
fn timestamp(t: u64) -> String {
    if t == 0 {
        return "-".into();
    }
    strftime("%a %b %e %H:%M:%S %Z %Y", t as i64)
}

/// zfs_nicenum_format's formats: plain numbers (errors) and bytes ("B" for units).
#[derive(Clone, Copy)]
pub enum Fmt {
    N1024,
    Bytes,
}

/// zfs_nicenum_format into a buffer of `buflen` bytes (snprintf truncates): "128K",
/// "1.88G", "16.4M", "71".
pub fn nicenum(num: u64, fmt: Fmt, buflen: usize) -> String {
    let units: [&str; 7] = match fmt {
        Fmt::N1024 => ["", "K", "M", "G", "T", "P", "E"],
        Fmt::Bytes => ["B", "K", "M", "G", "T", "P", "E"],
    };
    let mut n = num;
    let mut index = 0;
    while n >= 1024 && index < 6 {
        n /= 1024;
        index += 1;
    }
    let u = units[index];
    let div = 1024u64.pow(index as u32);
    let s = if index == 0 || num / div * div == num {
        format!("{n}{u}")
    } else {
        let val = num as f64 / div as f64;
        let mut out = String::new();
        for i in (0..=2).rev() {
            out = format!("{val:.i$}{u}");
            if out.len() <= 5 {
                break;
            }
        }
        out
    };
    s.chars().take(buflen.saturating_sub(1)).collect()
}

// ---- JSON: an nvlist as libnvpair prints it --------------------------------------------------

enum V {
    S(String),
    U64(u64),
    U32(u32),
    Nv(Nv),
}

/// An nvlist with NV_UNIQUE_NAME: adding a name again removes the old pair and appends.
#[derive(Default)]
struct Nv(Vec<(String, V)>);

impl Nv {
    fn add(&mut self, k: &str, v: V) {
        self.0.retain(|(n, _)| n != k);
        self.0.push((k.to_string(), v));
    }
    fn s(&mut self, k: &str, v: &str) {
        self.add(k, V::S(v.to_string()));
    }
    fn json(&self) -> String {
        let mut out = String::from("{");
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&json_str(k));
            out.push(':');
            match v {
                V::S(s) => out.push_str(&json_str(s)),
                V::U64(n) => out.push_str(&n.to_string()),
                V::U32(n) => out.push_str(&n.to_string()),
                V::Nv(nv) => out.push_str(&nv.json()),
            }
        }
        out.push('}');
        out
    }
    fn copy(&self) -> Nv {
        Nv(self
            .0
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    match v {
                        V::S(s) => V::S(s.clone()),
                        V::U64(n) => V::U64(*n),
                        V::U32(n) => V::U32(*n),
                        V::Nv(nv) => V::Nv(nv.copy()),
                    },
                )
            })
            .collect())
    }
}

/// nvlist_print_json_string.
fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            '\u{c}' => out.push_str("\\f"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            c if (c as u32) < 0x20 || ((c as u32) > 0x7f && (c as u32) <= 0xffff) => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) <= 0x7f => out.push(c),
            _ => {}
        }
    }
    out.push('"');
    out
}

fn schema(cmd: &str) -> Nv {
    let mut ov = Nv::default();
    ov.s("command", cmd);
    ov.add("vers_major", V::U32(0));
    ov.add("vers_minor", V::U32(1));
    ov
}

#[derive(Clone, Copy)]
enum Nice {
    N1024,
    Bytes,
    Timestamp,
}

/// nice_num_str_nvlist.
fn nice(nv: &mut Nv, k: &str, value: u64, literal: bool, as_int: bool, f: Nice) {
    if as_int {
        nv.add(k, V::U64(value));
        return;
    }
    let s = if literal {
        value.to_string()
    } else {
        match f {
            Nice::N1024 => nicenum(value, Fmt::N1024, 256),
            Nice::Bytes => nicenum(value, Fmt::Bytes, 256),
            Nice::Timestamp => timestamp(value),
        }
    };
    nv.s(k, &s);
}

const SPA_VERSION: u64 = 5000;
const ZPL_VERSION: u64 = 5;

fn status_json(p: &Pool, so: &StatusOpts) -> Nv {
    let (lit, int) = (so.literal, so.json_int);
    let mut item = Nv::default();
    item.s("name", &p.name);
    item.s("state", p.health());
    if int {
        if p.guid != 0 {
            item.add("pool_guid", V::U64(p.guid));
        }
        if p.txg != 0 {
            item.add("txg", V::U64(p.txg));
        }
        item.add("spa_version", V::U64(SPA_VERSION));
        item.add("zpl_version", V::U64(ZPL_VERSION));
    } else {
        if p.guid != 0 {
            item.s("pool_guid", &p.guid.to_string());
        }
        if p.txg != 0 {
            item.s("txg", &p.txg.to_string());
        }
        item.s("spa_version", &SPA_VERSION.to_string());
        item.s("zpl_version", &ZPL_VERSION.to_string());
    }
    let reason = p.reason();
    if let Some((status, action)) = reason_text(reason, false) {
        item.s("status", status);
        if !action.is_empty() {
            item.s("action", action);
        }
    }
    if let Some(id) = reason.msgid() {
        item.s("msgid", id);
        item.s(
            "moreinfo",
            &format!("https://openzfs.github.io/openzfs-docs/msg/{id}"),
        );
    }
    if let Some(ps) = &p.scan {
        let mut scan = Nv::default();
        scan.s("function", &ps.func);
        scan.s("state", &ps.state);
        nice(
            &mut scan,
            "start_time",
            ps.start_time as u64,
            lit,
            int,
            Nice::Timestamp,
        );
        nice(
            &mut scan,
            "end_time",
            ps.end_time as u64,
            lit,
            int,
            Nice::Timestamp,
        );
        nice(&mut scan, "to_examine", ps.to_examine, lit, int, Nice::Bytes);
        nice(&mut scan, "examined", ps.examined, lit, int, Nice::Bytes);
        nice(&mut scan, "skipped", ps.skipped, lit, int, Nice::Bytes);
        nice(&mut scan, "processed", ps.processed, lit, int, Nice::Bytes);
        nice(&mut scan, "errors", ps.errors, lit, int, Nice::N1024);
        nice(&mut scan, "bytes_per_scan", ps.pass_exam, lit, int, Nice::Bytes);
        nice(
            &mut scan,
            "pass_start",
            ps.pass_start as u64,
            true,
            int,
            Nice::N1024,
        );
        nice(
            &mut scan,
            "scrub_pause",
            ps.pass_scrub_pause as u64,
            lit,
            int,
            Nice::Timestamp,
        );
        nice(
            &mut scan,
            "scrub_spent_paused",
            ps.pass_scrub_spent_paused,
            true,
            int,
            Nice::N1024,
        );
        nice(
            &mut scan,
            "issued_bytes_per_scan",
            ps.pass_issued,
            lit,
            int,
            Nice::Bytes,
        );
        nice(&mut scan, "issued", ps.issued, lit, int, Nice::Bytes);
        item.add("scan_stats", V::Nv(scan));
    }
    let mut vds = Nv::default();
    vdev_json(p, &p.root, so, None, &mut vds);
    item.add("vdevs", V::Nv(vds));
    nice(&mut item, "error_count", p.error_count, lit, int, Nice::N1024);
    item
}

/// fill_vdev_info.
fn vdev_info(nv: &mut Nv, v: &Vdev, name: &str, as_int: bool) {
    nv.s("name", name);
    nv.s("vdev_type", &v.vdev_type);
    if v.guid != 0 {
        if as_int {
            nv.add("guid", V::U64(v.guid));
        } else {
            nv.s("guid", &v.guid.to_string());
        }
    }
    if let Some(p) = &v.path {
        nv.s("path", p);
    }
    if let Some(p) = &v.phys_path {
        nv.s("phys_path", p);
    }
    if let Some(d) = &v.devid {
        nv.s("devid", d);
    }
    nv.s("class", "normal");
    nv.s("state", &v.state);
}

/// vdev_stats_nvlist, flat form included (each vdev added again wherever the C code does).
fn vdev_json(p: &Pool, v: &Vdev, so: &StatusOpts, parent: Option<&str>, item: &mut Nv) {
    let (lit, int) = (so.literal, so.json_int);
    let vname = v.name(&p.name, so.full);
    let mut vds = Nv::default();
    vdev_info(&mut vds, v, &vname, int);
    if so.flat {
        if let Some(parent) = parent {
            vds.s("parent", parent);
        }
    }
    let st = &v.stats;
    for (k, n) in [
        ("alloc_space", st.alloc),
        ("total_space", st.space),
        ("def_space", st.dspace),
        ("rep_dev_size", st.rsize),
        ("ex_dev_size", st.esize),
        ("self_healed", st.self_healed),
        ("phys_space", st.pspace),
    ] {
        if n != 0 {
            nice(&mut vds, k, n, lit, int, Nice::Bytes);
        }
    }
    nice(&mut vds, "read_errors", st.read_errors, lit, int, Nice::N1024);
    nice(&mut vds, "write_errors", st.write_errors, lit, int, Nice::N1024);
    nice(
        &mut vds,
        "checksum_errors",
        st.checksum_errors,
        lit,
        int,
        Nice::N1024,
    );
    if st.scan_processed != 0 {
        nice(
            &mut vds,
            "scan_processed",
            st.scan_processed,
            lit,
            int,
            Nice::Bytes,
        );
    }
    if st.checkpoint_space != 0 {
        nice(
            &mut vds,
            "checkpoint_space",
            st.checkpoint_space,
            lit,
            int,
            Nice::Bytes,
        );
    }
    if v.resilver_deferred {
        nice(&mut vds, "resilver_deferred", 1, true, int, Nice::N1024);
    }
    let leaf = v.children.is_empty();
    if leaf {
        nice(&mut vds, "slow_ios", st.slow_ios, lit, int, Nice::N1024);
    }
    if v.not_present {
        nice(&mut vds, "not_present", 1, true, int, Nice::Bytes);
        vds.s("was", v.path.as_deref().unwrap_or(""));
    } else if v.aux != "NONE" {
        vds.s("aux", &v.aux);
    }
    let mut ch = (!leaf).then(Nv::default);
    if so.flat && leaf {
        item.add(&vname, V::Nv(vds.copy()));
    }
    for c in &v.children {
        if so.flat {
            vdev_json(p, c, so, Some(&vname), item);
        }
        if let Some(ch) = ch.as_mut() {
            vdev_json(p, c, so, Some(&vname), ch);
        }
    }
    if let Some(ch) = ch {
        if !ch.0.is_empty() {
            vds.add("vdevs", V::Nv(ch));
        }
    }
    item.add(&vname, V::Nv(vds));
}

// ---- zpool list / get ----------------------------------------------------------------------

/// zpool_get_prop for the properties the model has; None: not modelled.
fn prop_value(p: &Pool, prop: &str, literal: bool) -> Option<(String, String)> {
    let st = &p.root.stats;
    let num = |n: u64| {
        if literal {
            n.to_string()
        } else {
            nicenum(n, Fmt::N1024, 256)
        }
    };
    let none = |v: String| Some((v, "-".to_string()));
    match prop {
        "name" => none(p.name.clone()),
        "health" => none(p.health().to_string()),
        "guid" => none(p.guid.to_string()),
        "size" => none(num(st.space)),
        "allocated" | "alloc" => none(num(st.alloc)),
        "free" => none(num(st.space.saturating_sub(st.alloc))),
        "capacity" | "cap" => {
            let cap = st
                .alloc
                .checked_mul(100)
                .map(|a| a / st.space.max(1))
                .unwrap_or(0);
            none(if literal {
                cap.to_string()
            } else {
                format!("{cap}%")
            })
        }
        "checkpoint" | "expandsize" | "expandsz" => {
            let n = if prop == "checkpoint" {
                st.checkpoint_space
            } else {
                st.esize
            };
            none(if n == 0 { "-".into() } else { num(n) })
        }
        "fragmentation" | "frag" => none(if literal { "0".into() } else { "0%".into() }),
        "dedupratio" | "dedup" => none(if literal { "1.00".into() } else { "1.00x".into() }),
        _ => p.prop(prop),
    }
}

const LIST_DEFAULT: &str =
    "name,size,allocated,free,checkpoint,expandsize,fragmentation,capacity,dedupratio,health,altroot";

fn list(z: &Zfs, args: &[String], o: &mut Out) -> i32 {
    let (got, operands) = getopt_for(z, args, ":gHLo:pPT:v", ":gjHLo:pPT:v", JSON_OPTS);
    let (mut scripted, mut literal, mut props) = (false, false, LIST_DEFAULT.to_string());
    for g in got {
        match g {
            Got::Opt('H', _) => scripted = true,
            Got::Opt('p', _) => literal = true,
            Got::Opt('o', Some(v)) => props = v,
            Got::Opt(c, _) => return o.unmodelled(&format!("zpool list {}", opt_name(c))),
            Got::Bad(':', c) => {
                o.eprint(&format!("missing argument for '{c}' option\n"));
                return o.unmodelled("the usage text of zpool list");
            }
            Got::Bad(_, c) => {
                o.eprint(&format!("invalid option '{c}'\n"));
                return o.unmodelled("the usage text of zpool list");
            }
        }
    }
    if !scripted {
        return o.unmodelled("zpool list without -H (column widths)");
    }
    if operands.last().is_some_and(|a| a.parse::<f64>().is_ok()) {
        return o.unmodelled("zpool list with an interval");
    }
    let props: Vec<&str> = props.split(',').collect();
    let (pools, ok) = pools_named(z, &operands, o);
    for p in &pools {
        let mut cols = Vec::new();
        for prop in &props {
            match prop_value(p, prop, literal) {
                Some((v, _)) => cols.push(v),
                None => return o.unmodelled(&format!("pool property {prop:?}")),
            }
        }
        o.print(&cols.join("\t"));
        o.print("\n");
    }
    i32::from(!ok)
}

fn get(z: &Zfs, args: &[String], o: &mut Out) -> i32 {
    let (got, operands) = getopt_for(z, args, ":Hpo:", ":jHpo:", JSON_OPTS);
    let (mut scripted, mut literal) = (false, false);
    let mut columns = vec!["name", "property", "value", "source"];
    let mut cols_arg = String::new();
    for g in got {
        match g {
            Got::Opt('H', _) => scripted = true,
            Got::Opt('p', _) => literal = true,
            Got::Opt('o', Some(v)) => cols_arg = v,
            Got::Opt(c, _) => return o.unmodelled(&format!("zpool get {}", opt_name(c))),
            Got::Bad(_, c) => {
                o.eprint(&format!("invalid option '{c}'\n"));
                return o.unmodelled("the usage text of zpool get");
            }
        }
    }
    if !cols_arg.is_empty() {
        columns.clear();
        for c in cols_arg.split(',') {
            match c {
                "name" | "property" | "value" | "source" => columns.push(c),
                "all" => columns = vec!["name", "property", "value", "source"],
                other => {
                    o.eprint(&format!("invalid column name '{other}'\n"));
                    return o.unmodelled("the usage text of zpool get");
                }
            }
        }
    }
    if !scripted {
        return o.unmodelled("zpool get without -H (column widths)");
    }
    let Some((propstr, names)) = operands.split_first() else {
        o.eprint("missing property argument\n");
        return o.unmodelled("the usage text of zpool get");
    };
    if !z.v21() {
        if let Some(first) = names.first() {
            if z.imported(first).is_none() {
                o.eprint(&format!(
                    "Cannot get properties of {first}: no such pool available.\n"
                ));
                return 1;
            }
            if names[1..].iter().any(|n| z.imported(n).is_none()) {
                return o.unmodelled("zpool get of vdev properties");
            }
        }
    }
    let props: Vec<&str> = propstr.split(',').collect();
    if props.contains(&"all") {
        return o.unmodelled("zpool get all");
    }
    let (pools, ok) = pools_named(z, names, o);
    for p in &pools {
        for prop in &props {
            let Some((value, source)) = prop_value(p, prop, literal) else {
                return o.unmodelled(&format!("pool property {prop:?}"));
            };
            let fields: Vec<&str> = columns
                .iter()
                .map(|c| match *c {
                    "name" => p.name.as_str(),
                    "property" => prop,
                    "value" => value.as_str(),
                    _ => source.as_str(),
                })
                .collect();
            o.print(&fields.join("\t"));
            o.print("\n");
        }
    }
    i32::from(!ok)
}

// ---- changes: online, offline, clear, export, import ----------------------------------------

fn change(root: &Path, cmd: &str, args: &[String], o: &mut Out) -> i32 {
    let _lock = match Lock::take(root) {
        Ok(l) => l,
        Err(e) => {
            o.eprint(&format!("zpool (simulated host): {e:#}\n"));
            return 1;
        }
    };
    let mut w = match World::load(root) {
        Ok(w) => w,
        Err(e) => {
            o.eprint(&format!("zpool (simulated host): {e:#}\n"));
            return 1;
        }
    };
    let before = w.zfs.clone();
    let rc = match cmd {
        "online" => online(root, &mut w.zfs, args, o),
        "offline" => offline(&mut w.zfs, args, o),
        "clear" => clear(root, &mut w.zfs, args, o),
        "export" => export(&mut w.zfs, args, o),
        _ => import(&mut w.zfs, args, o),
    };
    if w.zfs != before {
        if let Err(e) = w.save(root) {
            o.eprint(&format!("zpool (simulated host): saving the world: {e:#}\n"));
            return 1;
        }
    }
    rc
}

/// zpool_open for a command on one pool: the 2.3 commands add their own line, without a
/// newline.
fn open_for<'a>(z: &'a mut Zfs, name: &str, o: &mut Out, failed_line: bool) -> Option<&'a mut Pool> {
    let v21 = z.v21();
    if z.imported(name).is_none() {
        no_such_pool(name, o);
        if failed_line && !v21 {
            o.eprint(&format!("failed to open pool \"{name}\""));
        }
        return None;
    }
    z.pool_mut(name)
}

fn pool_and_devices(z: &Zfs, cmd: &str, operands: &[String], o: &mut Out) -> Result<(), i32> {
    if operands.is_empty() {
        o.eprint("missing pool name\n");
        return Err(usage(z, cmd, o));
    }
    if operands.len() < 2 {
        o.eprint("missing device name\n");
        return Err(usage(z, cmd, o));
    }
    Ok(())
}

fn online(root: &Path, z: &mut Zfs, args: &[String], o: &mut Out) -> i32 {
    let v21 = z.v21();
    let (got, operands) = getopt_for(z, args, "e", "e", &[("power", false, OPT_POWER)]);
    if let Some(g) = got.into_iter().next() {
        return match g {
            Got::Opt(c, _) => o.unmodelled(&format!("zpool online {}", opt_name(c))),
            Got::Bad(_, c) => {
                o.eprint(&format!("invalid option '{c}'\n"));
                usage(z, "online", o)
            }
        };
    }
    if let Err(rc) = pool_and_devices(z, "online", &operands, o) {
        return rc;
    }
    let now = z.now();
    let name = &operands[0];
    let Some(pool) = open_for(z, name, o, true) else {
        return 1;
    };
    let mut ret = 0;
    for dev in &operands[1..] {
        let Some(v) = pool.find(dev) else {
            ret = 1;
            if v21 {
                o.eprint(&format!("cannot online {dev}: no such device in pool\n"));
            } else {
                o.eprint(&format!("couldn't find device \"{dev}\" in pool \"{name}\"\n"));
            }
            continue;
        };
        if !v.is_leaf() {
            // vdev_online: ENOTSUP for an interior vdev.
            o.eprint(&format!(
                "cannot online {dev}: operation not supported on this type of pool\n"
            ));
            if !v21 {
                o.eprint(&format!("Failed to online \"{dev}\" in pool \"{name}\": -1\n"));
            }
            ret = 1;
            continue;
        }
        let usable = v.path.as_deref().is_some_and(|p| zfs::device_usable(root, p));
        match zfs::online(pool, dev, usable, now) {
            Ok(zfs::Onlined::Healthy { .. }) => {}
            Ok(zfs::Onlined::CantOpen) => {
                o.print(&format!(
                    "warning: device '{dev}' onlined, but remains in faulted state\n"
                ));
                o.print("use 'zpool replace' to replace devices that are no longer present\n");
            }
            Err(e) => {
                o.eprint(&format!("zpool (simulated host): {e:#}\n"));
                ret = 1;
            }
        }
    }
    ret
}

fn offline(z: &mut Zfs, args: &[String], o: &mut Out) -> i32 {
    let (got, operands) = getopt_for(z, args, "ft", "ft", &[("power", false, OPT_POWER)]);
    let mut fault = false;
    let mut temporary = false;
    for g in got {
        match g {
            Got::Opt('f', _) => fault = true,
            Got::Opt('t', _) => temporary = true,
            Got::Opt(c, _) => return o.unmodelled(&format!("zpool offline {}", opt_name(c))),
            Got::Bad(_, c) => {
                o.eprint(&format!("invalid option '{c}'\n"));
                return usage(z, "offline", o);
            }
        }
    }
    if let Err(rc) = pool_and_devices(z, "offline", &operands, o) {
        return rc;
    }
    let name = &operands[0];
    let Some(pool) = open_for(z, name, o, true) else {
        return 1;
    };
    let mut ret = 0;
    for dev in &operands[1..] {
        if fault {
            // zpool_vdev_fault by guid: FAULTED, "external device fault".
            match pool.find_mut(dev) {
                Some(v) if v.is_leaf() => {
                    v.state = "FAULTED".into();
                    v.aux = if temporary {
                        "EXTERNAL".into()
                    } else {
                        "EXTERNAL_PERSIST".into()
                    };
                    pool.root.propagate();
                    pool.txg += 1;
                }
                _ => ret = 1,
            }
            continue;
        }
        match zfs::offline(pool, dev) {
            Ok(()) => {}
            Err(true) => {
                o.eprint(&format!("cannot offline {dev}: no valid replicas\n"));
                ret = 1;
            }
            Err(false) => {
                o.eprint(&format!("cannot offline {dev}: no such device in pool\n"));
                ret = 1;
            }
        }
    }
    ret
}

fn clear(root: &Path, z: &mut Zfs, args: &[String], o: &mut Out) -> i32 {
    let (got, operands) = getopt(args, "FnX", &[("power", false, OPT_POWER)]);
    if let Some(g) = got.into_iter().next() {
        return match g {
            Got::Opt(c, _) => o.unmodelled(&format!("zpool clear {}", opt_name(c))),
            Got::Bad(_, c) => {
                o.eprint(&format!("invalid option '{c}'\n"));
                usage(z, "clear", o)
            }
        };
    }
    if operands.is_empty() {
        o.eprint("missing pool name\n");
        return usage(z, "clear", o);
    }
    if operands.len() > 2 {
        o.eprint("too many arguments\n");
        return usage(z, "clear", o);
    }
    let now = z.now();
    let name = &operands[0];
    let Some(pool) = open_for(z, name, o, false) else {
        return 1;
    };
    let dev = operands.get(1).map(String::as_str);
    if let Some(d) = dev {
        if pool.find(d).is_none() {
            o.eprint(&format!("cannot clear errors for {d}: no such device in pool\n"));
            return 1;
        }
    }
    let usable = |p: &str| zfs::device_usable(root, p);
    match zfs::clear(pool, dev, &usable, now) {
        Ok(()) => 0,
        Err(e) => {
            o.eprint(&format!("zpool (simulated host): {e:#}\n"));
            1
        }
    }
}

fn export(z: &mut Zfs, args: &[String], o: &mut Out) -> i32 {
    let (got, operands) = getopt(args, "af", &[]);
    for g in got {
        match g {
            Got::Opt('f', _) => {}
            Got::Opt(c, _) => return o.unmodelled(&format!("zpool export {}", opt_name(c))),
            Got::Bad(_, c) => {
                o.eprint(&format!("invalid option '{c}'\n"));
                return usage(z, "export", o);
            }
        }
    }
    if operands.is_empty() {
        o.eprint("missing pool argument\n");
        return usage(z, "export", o);
    }
    let mut ret = 0;
    for name in &operands {
        match z.pools.iter_mut().find(|p| p.name == *name && p.imported) {
            Some(p) => p.imported = false,
            None => {
                no_such_pool(name, o);
                ret = 1;
            }
        }
    }
    ret
}

fn import(z: &mut Zfs, args: &[String], o: &mut Out) -> i32 {
    let (got, operands) = getopt(
        args,
        ":aCc:d:DEfFlmnNo:R:stT:VX",
        &[
            ("rewind-to-checkpoint", false, '\u{e010}'),
            ("load-keys", false, 'l'),
        ],
    );
    for g in got {
        match g {
            // Search directories, force, no mounts, properties and mount options: the
            // simulated host finds its pools wherever it is told to look.
            Got::Opt('d' | 'f' | 'N' | 'o' | 'm' | 'l', _) => {}
            Got::Opt(c, _) => return o.unmodelled(&format!("zpool import {}", opt_name(c))),
            Got::Bad(_, c) => {
                o.eprint(&format!("invalid option '{c}'\n"));
                return o.unmodelled("the usage text of zpool import");
            }
        }
    }
    let Some(name) = operands.first() else {
        return o.unmodelled("zpool import without a pool (the listing of importable pools)");
    };
    if operands.len() > 1 {
        return o.unmodelled("zpool import under a new name");
    }
    match z
        .pools
        .iter_mut()
        .find(|p| p.name == *name || p.guid.to_string() == *name)
    {
        Some(p) if p.imported => {
            o.eprint(&format!(
                "cannot import '{name}': a pool with that name is already created/imported,\n"
            ));
            o.eprint("and no additional pools with that name were found\n");
            1
        }
        Some(p) => {
            p.imported = true;
            0
        }
        None => {
            o.eprint(&format!("cannot import '{name}': no such pool available\n"));
            1
        }
    }
}

/// The path of the zpool log under a sim root.
pub fn log_path(root: &Path) -> PathBuf {
    root.join("log/zpool.log")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicenum_as_zfs_prints_it() {
        assert_eq!(nicenum(0, Fmt::Bytes, 7), "0B");
        assert_eq!(nicenum(131072, Fmt::Bytes, 7), "128K");
        assert_eq!(nicenum(340537344, Fmt::Bytes, 7), "325M");
        assert_eq!(nicenum(2013265920, Fmt::Bytes, 7), "1.88G");
        assert_eq!(nicenum(2145386496, Fmt::Bytes, 7), "2.00G");
        assert_eq!(nicenum(17149952, Fmt::Bytes, 7), "16.4M");
        assert_eq!(nicenum(71, Fmt::N1024, 6), "71");
        assert_eq!(nicenum(10239, Fmt::N1024, 6), "10.0K");
    }

    #[test]
    fn getopt_permutes_and_stops_at_errors() {
        let a: Vec<String> = ["-P", "pool", "-j", "--json-int"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (got, ops) = getopt(&a, "Pj", &[("json-int", false, OPT_JSON_INT)]);
        assert_eq!(got.len(), 3);
        assert_eq!(ops, vec!["pool".to_string()]);
        let (got, _) = getopt(&a, "P", &[]);
        assert!(matches!(got.last(), Some(Got::Bad('?', 'j'))));
    }

    #[test]
    fn scan_times() {
        assert_eq!(secs_to_dhms(99), "00:01:39");
        assert_eq!(secs_to_dhms(2 * 86400 + 5), "2 days 00:00:05");
        assert_eq!(percent(131072, 340525056), "0.04%");
    }
}
