//! The `iscsiadm` look-alike. Behaviour, texts and exit codes follow open-iscsi 2.1.8
//! (usr/iscsiadm.c, usr/session_mgmt.c, usr/session_info.c, usr/discovery.c, usr/idbm.c,
//! usr/iscsi_err.c) and the real outputs recorded by the lab (tests/fixtures/iscsi/recorded).
//!
//! Output discipline is iscsiadm's: `log_info`/`printf` go to stdout, which is fully
//! buffered when it is not a terminal and so comes out at exit; `log_error`/`log_warning`
//! go to stderr at once, prefixed "iscsiadm: ". That is why host-probe.txt shows the
//! stdout line "Logging in to ..." after the stderr lines of the failed login.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::getopt;
use crate::records::{NodeDb, NodeRecord, RecordPath};
use crate::sysfs::{self, Session};
use crate::world::{self, join_portal, same_addr, Lock, Reach, World};

pub const VERSION: &str = "2.1.8";

// usr/iscsi_err.h
pub const ERR: i32 = 1;
pub const ERR_NOMEM: i32 = 3;
pub const ERR_TRANS: i32 = 4;
pub const ERR_LOGIN: i32 = 5;
pub const ERR_IDBM: i32 = 6;
pub const ERR_INVAL: i32 = 7;
pub const ERR_TRANS_TIMEOUT: i32 = 8;
pub const ERR_PDU_TIMEOUT: i32 = 11;
pub const ERR_SESS_EXISTS: i32 = 15;
pub const ERR_FATAL_LOGIN: i32 = 19;
pub const ERR_ISCSID_NOTCONN: i32 = 20;
pub const ERR_NO_OBJS_FOUND: i32 = 21;
pub const ERR_SYSFS_LOOKUP: i32 = 22;
pub const ERR_LOGIN_AUTH_FAILED: i32 = 24;
pub const ERR_ISNS_QUERY: i32 = 25;

/// usr/iscsi_err.c `iscsi_err_msgs`.
pub fn err_str(rc: i32) -> &'static str {
    const MSGS: [&str; 34] = [
        "",
        "unknown error",
        "session not found",
        "no available memory",
        "encountered connection failure",
        "encountered iSCSI login failure",
        "encountered iSCSI database failure",
        "invalid parameter",
        "connection timed out",
        "internal error",
        "encountered iSCSI logout failure",
        "iSCSI PDU timed out",
        "iSCSI driver not found. Please make sure it is loaded, and retry the operation",
        "daemon access denied",
        "iSCSI driver does not support requested capability.",
        "session exists",
        "Unknown request",
        "iSNS service not supported",
        "could not communicate to iscsid",
        "encountered non-retryable iSCSI login failure",
        "could not connect to iscsid",
        "no objects found",
        "sysfs lookup failure",
        "host not found",
        "iSCSI login failed due to authorization failure",
        "iSNS query failed",
        "iSNS registration failed",
        "operation not supported",
        "device or resource in use",
        "operation failed but retry may succeed",
        "unknown discovery type",
        "child process terminated",
        "target likely not connected",
        "iscsid request timed out",
    ];
    usize::try_from(rc)
        .ok()
        .and_then(|i| MSGS.get(i))
        .copied()
        .unwrap_or("")
}

const OP_NEW: u32 = 0x1;
const OP_DELETE: u32 = 0x2;
const OP_UPDATE: u32 = 0x4;
const OP_SHOW: u32 = 0x8;
const OP_NONPERSISTENT: u32 = 0x10;

fn str_to_op(s: &str) -> u32 {
    match s {
        "new" => OP_NEW,
        "delete" => OP_DELETE,
        "update" => OP_UPDATE,
        "show" => OP_SHOW,
        "nonpersistent" => OP_NONPERSISTENT,
        "apply" => 0x20,
        "applyall" => 0x40,
        "login" => 0x80,
        "logout" => 0x100,
        _ => 0,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Discovery,
    DiscoveryDb,
    Node,
    Session,
    Host,
    Iface,
    Fw,
}

impl Mode {
    fn parse(s: &str) -> Option<Mode> {
        Some(match s {
            "discovery" => Mode::Discovery,
            "discoverydb" => Mode::DiscoveryDb,
            "node" => Mode::Node,
            "session" => Mode::Session,
            "iface" => Mode::Iface,
            "fw" => Mode::Fw,
            "host" => Mode::Host,
            _ => return None,
        })
    }

    /// usr/iscsiadm.c `mode_paras`: name and the options each mode accepts.
    fn paras(self) -> (&'static str, &'static str) {
        match self {
            Mode::Discovery | Mode::DiscoveryDb => ("discovery", "DSIPdmntplov"),
            Mode::Node => ("node", "RsPIdmlSonvupTULW"),
            Mode::Session => ("session", "PiRdrmusonuSv"),
            Mode::Host => ("host", "CHdmPotnvxA"),
            Mode::Iface => ("iface", "HIdnvmPoCabci"),
            Mode::Fw => ("fw", "dmlWnv"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DiscType {
    SendTargets,
    Slp,
    Isns,
    Fw,
}

const USAGE: &str = "iscsiadm -m discoverydb [-hV] [-d debug_level] [-P printlevel] [-t type -p ip:port -I ifaceN ... [-Dl]] | [[-p ip:port -t type] [-o operation] [-n name] [-v value] [-lD]] \n\
iscsiadm -m discovery [-hV] [-d debug_level] [-P printlevel] [-t type -p ip:port -I ifaceN ... [-l]] | [[-p ip:port] [-l | -D]] [-W]\n\
iscsiadm -m node [-hV] [-d debug_level] [-P printlevel] [-L all,manual,automatic,onboot] [-W] [-U all,manual,automatic,onboot] [-S] [[-T targetname -p ip:port -I ifaceN] [-l | -u | -R | -s]] [[-o operation ] [-n name] [-v value]]\n\
iscsiadm -m session [-hV] [-d debug_level] [-P printlevel] [-r sessionid | sysfsdir [-R | -u | -s] [-o operation] [-n name] [-v value]]\n\
iscsiadm -m iface [-hV] [-d debug_level] [-P printlevel] [-I ifacename | -H hostno|MAC] [[-o operation ] [-n name] [-v value]] [-C ping [-a ip] [-b packetsize] [-c count] [-i interval]]\n\
iscsiadm -m fw [-d debug_level] [-l] [-W] [[-n name] [-v value]]\n\
iscsiadm -m host [-P printlevel] [-H hostno|MAC] [[-C chap [-x chap_tbl_idx]] | [-C flashnode [-A portal_type] [-x flashnode_idx]] | [-C stats]] [[-o operation] [-n name] [-v value]] \n\
iscsiadm -k priority\n";

/// Options after parsing, as iscsiadm's `main` keeps them.
#[derive(Default)]
struct Opts {
    mode: Option<Mode>,
    disc_type: Option<DiscType>,
    op: u32,
    params: Vec<(String, String)>,
    sid: Option<u32>,
    rescan: bool,
    info_level: i32,
    discover: bool,
    login: bool,
    logout: bool,
    login_all: Option<String>,
    logout_all: Option<String>,
    stats: bool,
    show: bool,
    targetname: Option<String>,
    ip: Option<String>,
    port: i32,
    tpgt: i32,
    iface: Option<String>,
    host_no: Option<u32>,
    killiscsid: bool,
    submode: bool,
}

/// A node-record pattern (`struct node_rec` built by `idbm_create_rec`): empty strings and
/// -1 match anything; `sid` restricts to one session.
#[derive(Clone, Debug, Default)]
struct Pattern {
    name: String,
    address: String,
    port: i32,
    iface: String,
    sid: u32,
}

impl Pattern {
    fn is_empty(&self) -> bool {
        self.name.is_empty() && self.address.is_empty() && self.iface.is_empty()
    }

    /// `__iscsi_match_session` against a session or record.
    fn matches(&self, name: &str, address: &str, port: u16, iface: &str, sid: u32) -> bool {
        if self.sid != 0 && sid != 0 && self.sid != sid {
            return false;
        }
        if !self.name.is_empty() && self.name != name {
            return false;
        }
        if !self.address.is_empty() && !same_addr(&self.address, address) {
            return false;
        }
        if self.port != -1 && i32::from(port) != self.port {
            return false;
        }
        self.iface.is_empty() || iface.is_empty() || self.iface == iface
    }

    fn matches_session(&self, s: &Session) -> bool {
        self.matches(
            &s.iqn,
            &s.persistent_address,
            s.persistent_port,
            &s.ifacename,
            s.sid,
        )
    }

    fn matches_record(&self, r: &NodeRecord) -> bool {
        self.matches(r.iqn(), r.address(), r.port(), r.iface(), 0)
    }
}

/// `str_to_ipport` (usr/iscsi_util.c), quirks included: returns the address (None when a
/// '[' has no ']'), and sets port and tpgt when present. An address without a dot and with
/// two colons is a bare IPv6 address, which cannot carry a port.
fn str_to_ipport(s: &str, port: &mut i32, tpgt: &mut i32) -> Option<String> {
    let (ip, tail) = if s.contains('.') {
        let cut = s.find([':', ',']).unwrap_or(s.len());
        (&s[..cut], &s[cut..])
    } else if let Some(inner) = s.strip_prefix('[') {
        let close = inner.find(']')?;
        (&inner[..close], &inner[close + 1..])
    } else if s.find(':').is_some_and(|c| s[c + 1..].contains(':')) {
        let cut = s.find(',').unwrap_or(s.len());
        *tpgt = s.get(cut + 1..).map(crate::records::c_int).unwrap_or(-1);
        return Some(s[..cut].to_string());
    } else {
        let cut = s.find([':', ',']).unwrap_or(s.len());
        (&s[..cut], &s[cut..])
    };
    let mut t = tail;
    if let Some(i) = t.find(':') {
        t = &t[i + 1..];
        *port = crate::records::c_int(t);
    }
    *tpgt = match t.find(',') {
        Some(i) => crate::records::c_int(&t[i + 1..]),
        None => -1,
    };
    Some(ip.to_string())
}

/// The running invocation: where the sim root is, the world, and iscsiadm's two streams.
struct Run {
    root: PathBuf,
    world: World,
    out: String,
}

impl Run {
    fn info(&mut self, line: &str) {
        self.out.push_str(line);
        self.out.push('\n');
    }

    fn error(&mut self, line: &str) {
        let mut e = std::io::stderr().lock();
        let _ = writeln!(e, "iscsiadm: {line}");
        let _ = e.flush();
    }

    fn raw_error(&mut self, line: &str) {
        let mut e = std::io::stderr().lock();
        let _ = writeln!(e, "{line}");
        let _ = e.flush();
    }

    fn iscsid_up(&self) -> bool {
        !self.world.faults.iscsid_down
    }

    /// Any request to iscsid (`iscsid_exec_req` with start_iscsid): fails with this message
    /// when iscsid is down. (The real tool also runs iscsid.startup, whose own output is the
    /// init system's and is not imitated, and waits about a second.)
    fn iscsid_request(&mut self) -> bool {
        if self.iscsid_up() {
            true
        } else {
            self.error("can not connect to iSCSI daemon (111)!");
            false
        }
    }

    fn db(&self) -> NodeDb {
        NodeDb::new(&self.root)
    }

    fn iscsid_conf(&self) -> Option<String> {
        std::fs::read_to_string(self.root.join("etc/iscsi/iscsid.conf")).ok()
    }

    /// `idbm_node_setup_from_conf`: built-in defaults, plus iscsid.conf when iscsiadm can
    /// get its path from a running iscsid.
    fn node_defaults(&mut self, iqn: &str, tpgt: i32, addr: &str, port: u16) -> NodeRecord {
        let mut r = NodeRecord::builtin(iqn, tpgt, addr, port);
        if self.iscsid_request() {
            if let Some(conf) = self.iscsid_conf() {
                r.apply_conf(&conf);
            }
        }
        r
    }

    fn flush(&mut self) {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(self.out.as_bytes());
        let _ = o.flush();
        self.out.clear();
    }
}

/// Finds the sim root: `parent(parent(argv[0]))` when argv[0] holds a '/', else
/// `ISCSI_SIM_ROOT`, else the first program of argv[0]'s name on PATH (without resolving
/// the link). Shared by the `iscsiadm` and `zpool` personalities.
pub fn find_root(argv0: &str) -> Result<PathBuf, String> {
    let mut tried = Vec::new();
    if argv0.contains('/') {
        let p = Path::new(argv0);
        let root = p
            .parent()
            .and_then(Path::parent)
            .map(|r| {
                if r.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    r.to_path_buf()
                }
            })
            .unwrap_or_else(|| PathBuf::from("/"));
        if root.join("sim.json").is_file() {
            return Ok(root);
        }
        tried.push(format!("{} (from argv[0])", root.display()));
    }
    if let Some(env) = std::env::var_os("ISCSI_SIM_ROOT") {
        let root = PathBuf::from(env);
        if root.join("sim.json").is_file() {
            return Ok(root);
        }
        tried.push(format!("{} (from ISCSI_SIM_ROOT)", root.display()));
    } else {
        tried.push("ISCSI_SIM_ROOT (not set)".into());
    }
    if !argv0.contains('/') {
        if let Some(path) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&path) {
                let cand = dir.join(argv0);
                if cand.symlink_metadata().is_ok() {
                    if let Some(root) = dir.parent() {
                        if root.join("sim.json").is_file() {
                            return Ok(root.to_path_buf());
                        }
                        tried.push(format!("{} (from PATH)", root.display()));
                    }
                    break;
                }
            }
        }
    }
    let prog = match argv0.rsplit('/').next() {
        Some("zpool") => "zpool",
        _ => "iscsiadm",
    };
    Err(format!(
        "{prog} (simulated host): no sim root with a sim.json; tried {}",
        tried.join(", ")
    ))
}

/// Entry point of the `iscsiadm` personality; returns the exit code.
pub fn main(argv: Vec<String>) -> i32 {
    let argv0 = argv.first().cloned().unwrap_or_else(|| "iscsiadm".into());
    let root = match find_root(&argv0) {
        Ok(r) => r,
        Err(msg) => {
            eprintln!("{msg}");
            return 1;
        }
    };
    let world = match World::load(&root) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("iscsiadm (simulated host): {e:#}");
            world::log_invocation(&root, &argv, Some(1));
            return 1;
        }
    };
    let mut run = Run {
        root: root.clone(),
        world,
        out: String::new(),
    };
    let rc = execute(&mut run, &argv);
    run.flush();
    world::log_invocation(&root, &argv, Some(rc));
    rc
}

/// What the `hang` fault keys on.
fn operation(o: &Opts) -> &'static str {
    match o.mode {
        Some(Mode::Session) if o.logout => "logout",
        Some(Mode::Session) => "session",
        Some(Mode::Node) if o.login || o.login_all.is_some() => "login",
        Some(Mode::Node) if o.logout || o.logout_all.is_some() => "logout",
        Some(Mode::Node) => "node",
        Some(Mode::Discovery) | Some(Mode::DiscoveryDb) => "discovery",
        _ => "other",
    }
}

fn hang(run: &mut Run, argv: &[String]) -> ! {
    run.flush();
    world::log_invocation(&run.root, argv, None);
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn execute(run: &mut Run, argv: &[String]) -> i32 {
    let items = getopt::parse(argv);
    let mut o = Opts {
        info_level: -1,
        port: -1,
        tpgt: -1,
        ..Default::default()
    };
    let mut optopt: Option<char> = None;
    let mut name: Option<String> = None;
    let mut value: Option<String> = None;
    for it in &items {
        let arg = it.arg.clone().unwrap_or_default();
        match it.ch {
            '?' => {
                if let Some(m) = &it.message {
                    run.raw_error(m);
                }
                if it.optopt.is_some() {
                    optopt = it.optopt;
                }
            }
            'k' => o.killiscsid = true,
            't' => {
                o.disc_type = match arg.as_str() {
                    "sendtargets" | "st" => Some(DiscType::SendTargets),
                    "slp" => Some(DiscType::Slp),
                    "isns" => Some(DiscType::Isns),
                    "fw" => Some(DiscType::Fw),
                    _ => None,
                }
            }
            'o' => {
                o.op |= str_to_op(&arg);
                if o.op == 0 {
                    run.error(&format!("can not recognize operation: '{arg}'"));
                    return ERR_INVAL;
                }
            }
            'n' => name = Some(arg),
            'v' => value = Some(arg),
            'H' => o.host_no = arg.parse().ok(),
            'r' => match parse_sid(run, &arg) {
                Ok(sid) => o.sid = Some(sid),
                Err(rc) => return rc,
            },
            'R' => o.rescan = true,
            'P' => o.info_level = crate::records::c_int(&arg),
            'D' => o.discover = true,
            'l' => o.login = true,
            'u' => o.logout = true,
            'U' => o.logout_all = Some(arg),
            'L' => o.login_all = Some(arg),
            's' => o.stats = true,
            'S' => o.show = true,
            'm' => {
                let Some(mode) = Mode::parse(&arg) else {
                    run.error("mode -1 is not yet supported");
                    return ERR_INVAL;
                };
                // verify_mode_params re-parses the whole command line, printing getopt's
                // complaints again, and stops at the first option the mode does not take.
                let (mname, allowed) = mode.paras();
                for again in &items {
                    if let Some(m) = &again.message {
                        run.raw_error(m);
                    }
                    if !allowed.contains(again.ch) {
                        run.error(&format!(
                            "{mname} mode: option '-{}' is not allowed/supported",
                            again.ch
                        ));
                        return ERR_INVAL;
                    }
                }
                o.mode = Some(mode);
            }
            'C' => o.submode = true,
            'T' => o.targetname = Some(arg),
            'p' => {
                o.ip = str_to_ipport(&arg, &mut o.port, &mut o.tpgt);
            }
            'I' => o.iface = Some(arg),
            'V' => {
                run.info(&format!("iscsiadm version {VERSION}"));
                return 0;
            }
            'h' => {
                run.out.push_str(USAGE);
                return 0;
            }
            // -d debug, -a/-b/-c/-i ping, -x index, -A portal type, -W no-wait: accepted
            _ => {}
        }
        if let (Some(n), Some(v)) = (&name, &value) {
            o.params.push((n.clone(), v.clone()));
            name = None;
            value = None;
        }
    }
    if let Some(c) = optopt {
        run.error(&format!("unrecognized character '{c}'"));
        return ERR_INVAL;
    }
    if o.killiscsid {
        run.error("killing iscsid (-k) is not simulated");
        return ERR_INVAL;
    }
    let Some(mode) = o.mode else {
        run.raw_error("Try `iscsiadm --help' for more information.");
        return ERR_INVAL;
    };
    let op = operation(&o);
    if run.world.hangs(op) {
        hang(run, argv);
    }
    match mode {
        Mode::Session => session_mode(run, &o),
        Mode::Node => node_mode(run, &o),
        Mode::Discovery => discovery_mode(run, &o),
        Mode::DiscoveryDb => discoverydb_mode(run, &o),
        Mode::Host => host_mode(run, &o),
        Mode::Iface | Mode::Fw => {
            run.error("this mode is not simulated by the simulated host");
            ERR_INVAL
        }
    }
}

/// `iscsi_sysfs_get_sid_from_path`: a positive number, or a sysfs path naming a session.
/// The number is C's `int sid = strtol(...)`: saturated to the long range, then cut to
/// 32 bits (so "4294967297" is session 1 and "2147483648" no number), as the real one does.
fn parse_sid(run: &mut Run, arg: &str) -> Result<u32, i32> {
    let digits = arg.strip_prefix(['-', '+']).unwrap_or(arg);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let long = arg
            .parse::<i64>()
            .unwrap_or(if arg.starts_with('-') { i64::MIN } else { i64::MAX });
        // the C conversion from long to int: the low 32 bits
        let sid = long as i32;
        if sid > 0 {
            return Ok(sid.unsigned_abs());
        }
    }
    let p = Path::new(arg);
    match p.symlink_metadata() {
        Err(_) => {
            run.error(&format!("{arg} is an invalid session ID or path"));
            Err(1)
        }
        Ok(m) if !m.is_dir() && !m.file_type().is_symlink() => {
            run.error(&format!("{arg} is not a directory"));
            Err(1)
        }
        Ok(_) => {
            let sid = arg
                .split('/')
                .filter_map(|c| c.strip_prefix("session"))
                .filter_map(|n| n.parse::<u32>().ok())
                .next_back();
            match sid {
                Some(s) => Ok(s),
                None => {
                    run.error(&format!("invalid sid '{arg}'"));
                    Err(ERR_INVAL)
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// session mode

fn session_mode(run: &mut Run, o: &Opts) -> i32 {
    if let Some(sid) = o.sid {
        let Some(info) = sysfs::read_session(&run.root, sid) else {
            run.error("could not read session targetname: 5");
            run.error(&format!("Could not get session info for sid {sid}"));
            return ERR_SYSFS_LOOKUP;
        };
        if !o.logout && !o.rescan && !o.stats && o.op == 0 && o.info_level > 0 {
            return session_info_print(run, o.info_level, &[info], o.show);
        }
        let pattern = Pattern {
            name: info.iqn.clone(),
            address: info.persistent_address.clone(),
            port: i32::from(info.persistent_port),
            iface: info.ifacename.clone(),
            sid,
        };
        let mut op = o.op;
        let mut login = false;
        if op == OP_NEW {
            op = 0;
            login = true;
        }
        return exec_node_op(run, o, op, login, o.logout, &pattern, true);
    }
    if o.op == OP_NEW {
        run.error("session mode: Operation 'new' only allowed with specific session IDs");
        return ERR_INVAL;
    }
    if o.logout || o.rescan || o.stats {
        return exec_node_op(
            run,
            o,
            o.op,
            false,
            o.logout,
            &Pattern {
                port: -1,
                ..Default::default()
            },
            false,
        );
    }
    let ses = sysfs::sessions(&run.root);
    if ses.is_empty() {
        run.error("No active sessions.");
        return ERR_NO_OBJS_FOUND;
    }
    session_info_print(run, o.info_level, &ses, o.show)
}

fn bracket(addr: &str) -> String {
    if addr.contains('.') {
        addr.to_string()
    } else {
        format!("[{addr}]")
    }
}

fn empty_or(v: &str) -> &str {
    if v.is_empty() {
        "<empty>"
    } else {
        v
    }
}

/// usr/session_info.c `session_info_print`.
fn session_info_print(run: &mut Run, level: i32, ses: &[Session], show: bool) -> i32 {
    match level {
        0 | -1 => {
            for s in ses {
                let node_type = if s.creator == -1 { "flash" } else { "non-flash" };
                run.info(&format!(
                    "tcp: [{}] {}:{},{} {} ({node_type})",
                    s.sid,
                    bracket(&s.persistent_address),
                    s.persistent_port,
                    s.tpgt,
                    s.iqn
                ));
            }
            0
        }
        1..=3 => {
            if level == 3 {
                if let Ok(v) =
                    std::fs::read_to_string(run.root.join("sys/module/scsi_transport_iscsi/version"))
                {
                    run.info(&format!("iSCSI Transport Class version {}", v.trim_end()));
                    run.info(&format!("version {VERSION}"));
                }
            }
            session_tree(run, level, ses, show);
            0
        }
        _ => {
            run.error(&format!("Invalid info level {level}. Try 0 - 3."));
            ERR_INVAL
        }
    }
}

/// usr/session_info.c `session_info_print_tree` with prefix "".
fn session_tree(run: &mut Run, level: i32, ses: &[Session], show: bool) {
    let mut prev: Option<&Session> = None;
    for s in ses {
        let node_type = if s.creator == -1 { "flash" } else { "non-flash" };
        if prev.map(|p| p.iqn != s.iqn).unwrap_or(true) {
            run.info(&format!("Target: {} ({node_type})", s.iqn));
            prev = None;
        }
        let same_portal = prev
            .map(|p| p.address == s.address && p.port == s.port && p.port != 0)
            .unwrap_or(false);
        if same_portal {
            run.info("");
        } else {
            run.info(&format!(
                "\tCurrent Portal: {}:{},{}",
                bracket(&s.address),
                s.port,
                s.tpgt
            ));
            run.info(&format!(
                "\tPersistent Portal: {}:{},{}",
                bracket(&s.persistent_address),
                s.persistent_port,
                s.tpgt
            ));
        }
        run.info("\t\t**********");
        run.info("\t\tInterface:");
        run.info("\t\t**********");
        run.info(&format!("\t\tIface Name: {}", empty_or(&s.ifacename)));
        run.info("\t\tIface Transport: tcp");
        run.info(&format!(
            "\t\tIface Initiatorname: {}",
            empty_or(&s.initiatorname)
        ));
        if s.conn_state != "up" {
            // The host's ipaddress attribute reads ENOTCONN once the connection failed,
            // and iscsiadm falls back to "[default]" (recorded in the VM, link down).
            run.info("\t\tIface IPaddress: [default]");
        } else if s.local_address.is_empty() {
            run.info("\t\tIface IPaddress: <empty>");
        } else {
            run.info(&format!("\t\tIface IPaddress: {}", bracket(&s.local_address)));
        }
        run.info("\t\tIface HWaddress: default");
        run.info("\t\tIface Netdev: default");
        run.info(&format!("\t\tSID: {}", s.sid));
        // iscsid's view (MGMT_IPC_SESSION_INFO), derived from the kernel state as recorded:
        // LOGGED_IN -> LOGGED IN / NO CHANGE; FAILED and FREE -> TRANSPORT WAIT / REOPEN.
        let (conn, internal) = if !run.iscsid_request() {
            ("Unknown", "Unknown")
        } else if s.state == "LOGGED_IN" {
            ("LOGGED IN", "NO CHANGE")
        } else {
            ("TRANSPORT WAIT", "REOPEN")
        };
        run.info(&format!("\t\tiSCSI Connection State: {conn}"));
        let st = if s.state.is_empty() { "Unknown" } else { &s.state };
        run.info(&format!("\t\tiSCSI Session State: {st}"));
        run.info(&format!("\t\tInternal iscsid Session State: {internal}"));
        if level >= 2 {
            run.info("\t\t*********");
            run.info("\t\tTimeouts:");
            run.info("\t\t*********");
            run.info(&format!("\t\tRecovery Timeout: {}", s.recovery_tmo));
            for (label, v) in [
                ("Target Reset Timeout", s.tgt_reset_tmo),
                ("LUN Reset Timeout", s.lu_reset_tmo),
                ("Abort Timeout", s.abort_tmo),
            ] {
                if v >= 0 {
                    run.info(&format!("\t\t{label}: {v}"));
                } else {
                    run.info(&format!("\t\t{label}: <empty>"));
                }
            }
            run.info("\t\t*****");
            run.info("\t\tCHAP:");
            run.info("\t\t*****");
            run.info(&format!("\t\tusername: {}", empty_or(&s.username)));
            if show {
                run.info(&format!("\t\tpassword: {}", empty_or(&s.password)));
            } else {
                run.info("\t\tpassword: ********");
            }
            run.info(&format!("\t\tusername_in: {}", empty_or(&s.username_in)));
            if show {
                // sic: iscsiadm labels password_in "password" with --show
                run.info(&format!("\t\tpassword: {}", empty_or(&s.password_in)));
            } else {
                run.info("\t\tpassword_in: ********");
            }
            run.info("\t\t************************");
            run.info("\t\tNegotiated iSCSI params:");
            run.info("\t\t************************");
            let dg = |v: i32| if v != 0 { "CRC32C" } else { "None" };
            let yn = |v: i32| if v != 0 { "Yes" } else { "No" };
            run.info(&format!("\t\tHeaderDigest: {}", dg(s.header_digest)));
            run.info(&format!("\t\tDataDigest: {}", dg(s.data_digest)));
            run.info(&format!("\t\tMaxRecvDataSegmentLength: {}", s.max_recv_dlength));
            run.info(&format!("\t\tMaxXmitDataSegmentLength: {}", s.max_xmit_dlength));
            run.info(&format!("\t\tFirstBurstLength: {}", s.first_burst_len));
            run.info(&format!("\t\tMaxBurstLength: {}", s.max_burst_len));
            run.info(&format!("\t\tImmediateData: {}", yn(s.immediate_data)));
            run.info(&format!("\t\tInitialR2T: {}", yn(s.initial_r2t)));
            run.info(&format!("\t\tMaxOutstandingR2T: {}", s.max_outstanding_r2t));
        }
        if level >= 3 {
            run.info("\t\t************************");
            run.info("\t\tAttached SCSI devices:");
            run.info("\t\t************************");
            let hs = if s.host_state.is_empty() {
                "Unknown"
            } else {
                &s.host_state
            };
            run.info(&format!("\t\tHost Number: {}\tState: {hs}", s.host));
            for d in &s.devices {
                run.info(&format!("\t\tscsi{} Channel 00 Id 0 Lun: {}", d.host, d.lun));
                if let Some(disk) = &d.disk {
                    let st = if d.state.is_empty() { "Unknown" } else { &d.state };
                    run.info(&format!("\t\t\tAttached scsi disk {disk}\t\tState: {st}"));
                }
            }
        }
        prev = Some(s);
    }
}

// ---------------------------------------------------------------------------------------
// node mode

fn node_mode(run: &mut Run, o: &Opts) -> i32 {
    if let Some(m) = &o.login_all {
        return login_by_startup(run, m);
    }
    if let Some(m) = &o.logout_all {
        return logout_by_startup(run, m);
    }
    let mut port = o.port;
    if o.ip.is_some() && port == -1 {
        port = 3260;
    }
    let pattern = Pattern {
        name: o.targetname.clone().unwrap_or_default(),
        address: o.ip.clone().unwrap_or_default(),
        port,
        iface: o.iface.clone().unwrap_or_default(),
        sid: 0,
    };
    exec_node_op(run, o, o.op, o.login, o.logout, &pattern, false)
}

/// usr/iscsiadm.c `exec_node_op`.
fn exec_node_op(
    run: &mut Run,
    o: &Opts,
    op: u32,
    login: bool,
    logout: bool,
    pattern: &Pattern,
    from_session: bool,
) -> i32 {
    if op == OP_NEW {
        return add_static_recs(run, o, pattern);
    }
    if o.rescan {
        return for_each_session(run, pattern, |run, s| {
            run.info(&format!(
                "Rescanning session [sid: {}, target: {}, portal: {},{}]",
                s.sid, s.iqn, s.persistent_address, s.port
            ));
            0
        });
    }
    if o.stats {
        return for_each_session(run, pattern, session_stats);
    }
    if login && logout {
        run.error("Invalid parameters. Both login and logout passed in");
        return ERR_INVAL;
    }
    if (login || logout) && op > 0 {
        run.error("Invalid parameters. Login/logout and op passed in");
        return ERR_INVAL;
    }
    if !login && !logout && op == 0 && !from_session && pattern.is_empty() {
        return print_nodes(run, o.info_level);
    }
    if login {
        return login_portals(run, pattern);
    }
    if logout {
        let rc = logout_portals(run, pattern);
        if rc == ERR_NO_OBJS_FOUND {
            run.error("No matching sessions found");
        }
        return rc;
    }
    if op == 0 || op == OP_SHOW {
        return print_nodes_config(run, o.show, pattern);
    }
    if op == OP_UPDATE {
        if o.params.is_empty() {
            run.error("update requires name and value");
            return ERR_INVAL;
        }
        let mut params = o.params.clone();
        for (name, _) in params.iter_mut() {
            if name.starts_with("iface.") && name != "iface.transport_name" {
                run.error(&format!(
                    "Cannot modify {name}. Use iface mode to update this value."
                ));
                return ERR_INVAL;
            }
            if name == "node.transport_name" {
                *name = "iface.transport_name".into();
            }
            if name == "iface.transport_name"
                && sysfs::sessions(&run.root)
                    .iter()
                    .any(|s| pattern.matches_session(s))
            {
                run.error("Cannot modify node/iface transport name while a session is using it. Log out the session then update record.");
                return ERR_SESS_EXISTS;
            }
        }
        return for_each_matched_rec(run, pattern, |run, rp, rec| {
            let mut rec = rec.clone();
            for (n, v) in &params {
                if let Err(e) = rec.update(n, v) {
                    for m in e.0 {
                        run.error(&m);
                    }
                    return ERR_INVAL;
                }
            }
            match run.db().write_at(rp, &rec) {
                Ok(()) => 0,
                Err(_) => ERR_IDBM,
            }
        });
    }
    if op == OP_DELETE {
        return for_each_matched_rec(run, pattern, delete_node);
    }
    run.error("operation is not supported.");
    ERR_INVAL
}

fn for_each_session(run: &mut Run, pattern: &Pattern, mut f: impl FnMut(&mut Run, &Session) -> i32) -> i32 {
    let mut found = 0;
    let mut rc = 0;
    for s in sysfs::sessions(&run.root) {
        if !pattern.matches_session(&s) {
            continue;
        }
        found += 1;
        let r = f(run, &s);
        if r != 0 && rc == 0 {
            rc = r;
        }
    }
    summarize(run, rc, found, "sessions", "No session found.")
}

/// The end of iscsiadm's for-each loops: the first error, else 21 when nothing matched.
fn summarize(run: &mut Run, rc: i32, found: usize, what: &str, none: &str) -> i32 {
    if rc != 0 {
        run.error(&format!(
            "Could not execute operation on all {what}: {}",
            err_str(rc)
        ));
        rc
    } else if found == 0 {
        run.error(none);
        ERR_NO_OBJS_FOUND
    } else {
        0
    }
}

/// `session_stats`: iscsid's counters; the simulated link carries no traffic, so they
/// are zero (the shape is that of session-stats.txt).
fn session_stats(run: &mut Run, s: &Session) -> i32 {
    if !run.iscsid_request() {
        return ERR_ISCSID_NOTCONN;
    }
    run.info(&format!(
        "Stats for session [sid: {}, target: {}, portal: {},{}]",
        s.sid, s.iqn, s.persistent_address, s.port
    ));
    run.info("iSCSI SNMP:");
    for k in [
        "txdata_octets",
        "rxdata_octets",
        "noptx_pdus",
        "scsicmd_pdus",
        "tmfcmd_pdus",
        "login_pdus",
        "text_pdus",
        "dataout_pdus",
        "logout_pdus",
        "snack_pdus",
        "noprx_pdus",
        "scsirsp_pdus",
        "tmfrsp_pdus",
        "textrsp_pdus",
        "datain_pdus",
        "logoutrsp_pdus",
        "r2t_pdus",
        "async_pdus",
        "rjt_pdus",
        "digest_err",
        "timeout_err",
    ] {
        run.info(&format!("\t{k}: 0"));
    }
    run.info("iSCSI Extended:");
    for k in ["tx_sendpage_failures", "rx_discontiguous_hdr", "eh_abort_cnt"] {
        run.info(&format!("\t{k}: 0"));
    }
    0
}

/// `__for_each_matched_rec` (verbose): runs `f` on every matching record; `f` returns 0
/// (done), >0 (error).
fn for_each_matched_rec(
    run: &mut Run,
    pattern: &Pattern,
    mut f: impl FnMut(&mut Run, &RecordPath, &NodeRecord) -> i32,
) -> i32 {
    let _lock = Lock::take(&run.root).ok();
    let mut found = 0;
    let mut rc = 0;
    for (rp, rec) in run.db().all() {
        if !pattern.matches_record(&rec) {
            continue;
        }
        let r = f(run, &rp, &rec);
        if r == 0 {
            found += 1;
        } else if r > 0 && rc == 0 {
            rc = r;
        }
    }
    summarize(run, rc, found, "records", "No records found")
}

fn delete_node(run: &mut Run, rp: &RecordPath, rec: &NodeRecord) -> i32 {
    let in_use = sysfs::sessions(&run.root).iter().any(|s| {
        Pattern {
            name: rec.iqn().into(),
            address: rec.address().into(),
            port: i32::from(rec.port()),
            iface: rec.iface().into(),
            sid: 0,
        }
        .matches_session(s)
    });
    if in_use {
        run.error(&format!(
            "This command will remove the record [iface: {}, target: {}, portal: {},{}], but a session is using it. Logout session then rerun command to remove record.",
            rec.iface(),
            rec.iqn(),
            rec.address(),
            rec.port()
        ));
        return ERR_SESS_EXISTS;
    }
    match run.db().delete(rp) {
        Ok(()) => 0,
        Err(_) => ERR_IDBM,
    }
}

/// libopeniscsiusr `iscsi_nodes_get` + iscsiadm `print_nodes`.
fn print_nodes(run: &mut Run, level: i32) -> i32 {
    if level != 0 && level != -1 && level != 1 {
        run.error(&format!("Invalid info level {level}. Try 0 or 1."));
        return ERR_INVAL;
    }
    let all = run.db().all();
    if all.is_empty() {
        run.error("No records found");
        return ERR_NO_OBJS_FOUND;
    }
    if level == 1 {
        let mut prev: Option<String> = None;
        for (_, r) in &all {
            if prev.as_deref() != Some(r.iqn()) {
                run.info(&format!("Target: {}", r.iqn()));
            }
            run.info(&format!(
                "\tPortal: {},{}",
                join_portal(r.address(), r.port()),
                r.tpgt()
            ));
            run.info(&format!("\t\tIface Name: {}", r.iface()));
            prev = Some(r.iqn().to_string());
        }
    } else {
        for (_, r) in &all {
            // printf("%s,%" PRIu16 " %s") of an int32 tpgt: -1 prints as 4294967295
            run.info(&format!(
                "{},{} {}",
                join_portal(r.address(), r.port()),
                r.tpgt() as u32,
                r.iqn()
            ));
        }
    }
    0
}

/// `print_nodes_config`: `-o show` of every record matching name, exact address, port and
/// iface.
fn print_nodes_config(run: &mut Run, show: bool, p: &Pattern) -> i32 {
    let mut any = false;
    for (_, r) in run.db().all() {
        if (!p.name.is_empty() && p.name != r.iqn())
            || (!p.address.is_empty() && p.address != r.address())
            || (p.port != -1 && p.port != i32::from(r.port()))
            || (!p.iface.is_empty() && p.iface != r.iface())
        {
            continue;
        }
        run.out.push_str(&r.show(show));
        any = true;
    }
    if !any {
        run.error("No records found");
        return ERR_NO_OBJS_FOUND;
    }
    0
}

/// `add_static_recs`.
fn add_static_recs(run: &mut Run, o: &Opts, p: &Pattern) -> i32 {
    let iface = if p.iface.is_empty() {
        "default".to_string()
    } else {
        p.iface.clone()
    };
    let _lock = Lock::take(&run.root).ok();
    let mut wanted: Vec<(String, i32, String, u16)> = Vec::new();
    let all = run.db().all();
    let mut targets: Vec<&str> = all.iter().map(|(_, r)| r.iqn()).collect();
    targets.dedup();
    for t in targets {
        if !p.name.is_empty() && p.name != t {
            continue;
        }
        if !p.name.is_empty() && !p.address.is_empty() {
            wanted.push((t.into(), o.tpgt, p.address.clone(), p.port as u16));
            continue;
        }
        for (_, r) in all.iter().filter(|(_, r)| r.iqn() == t) {
            if (!p.address.is_empty() && p.address != r.address())
                || (p.port != -1 && p.port != i32::from(r.port()))
            {
                continue;
            }
            wanted.push((t.into(), r.tpgt(), r.address().into(), r.port()));
        }
    }
    if wanted.is_empty() && !p.name.is_empty() && !p.address.is_empty() {
        wanted.push((p.name.clone(), o.tpgt, p.address.clone(), p.port as u16));
    }
    if wanted.is_empty() {
        run.error("Error while adding record: ");
        return 0;
    }
    for (iqn, tpgt, addr, port) in wanted {
        let mut rec = run.node_defaults(&iqn, tpgt, &addr, port);
        if iface != "default" {
            let _ = rec.update("iface.iscsi_ifacename", &iface);
        }
        // idbm_add_node with overwrite: an existing record is replaced by the new one
        if let Some((rp, _)) = run.db().read(&iqn, &addr, port, tpgt, &iface) {
            let _ = run.db().delete(&rp);
        }
        if run.db().write(&rec).is_err() {
            run.error(&format!("Error while adding record: {}", err_str(ERR_IDBM)));
            return ERR_IDBM;
        }
        run.info(&format!(
            "New iSCSI node [tcp:[hw=,ip=,net_if=,iscsi_if={iface}] {addr},{port},{tpgt} {iqn}] added"
        ));
    }
    0
}

// ---------------------------------------------------------------------------------------
// login and logout

/// What iscsid answers to one login request.
enum LoginOutcome {
    /// Logged in over a connection from `local` to `peer`.
    Ok {
        local: std::net::SocketAddr,
        peer: std::net::SocketAddr,
    },
    Fail(i32),
}

fn session_count(root: &Path, rec: &NodeRecord) -> usize {
    let p = Pattern {
        name: rec.iqn().into(),
        address: rec.address().into(),
        port: i32::from(rec.port()),
        iface: rec.iface().into(),
        sid: 0,
    };
    sysfs::sessions(root)
        .iter()
        .filter(|s| p.matches_session(s))
        .count()
}

/// `login_portals`: every matching record, as `iscsi_login_portals` does.
fn login_portals(run: &mut Run, pattern: &Pattern) -> i32 {
    let mut recs: Vec<NodeRecord> = Vec::new();
    let rc = for_each_matched_rec(run, pattern, |_, _, rec| {
        recs.push(rec.clone());
        0
    });
    if rc == ERR_NO_OBJS_FOUND || recs.is_empty() {
        return rc;
    }
    let err = login_records(run, &recs);
    if err != 0 {
        run.error("Could not log into all portals");
    }
    if rc != 0 {
        rc
    } else {
        err
    }
}

fn login_msg(run: &mut Run, rec: &NodeRecord, rc: i32) {
    if rc != 0 {
        run.error(&format!(
            "Could not login to [iface: {}, target: {}, portal: {},{}].",
            rec.iface(),
            rec.iqn(),
            rec.address(),
            rec.port()
        ));
        run.error(&format!("initiator reported error ({rc} - {})", err_str(rc)));
    } else {
        run.info(&format!(
            "Login to [iface: {}, target: {}, portal: {},{}] successful.",
            rec.iface(),
            rec.iqn(),
            rec.address(),
            rec.port()
        ));
    }
}

/// `iscsi_login_portals` over `iscsi_login_portal`: queue every login (printing
/// "Logging in to"), then wait for each answer (printing its result). Returns the first
/// error.
fn login_records(run: &mut Run, recs: &[NodeRecord]) -> i32 {
    let mut ret = 0;
    let mut queued: Vec<NodeRecord> = Vec::new();
    for rec in recs {
        // (bounded: a silly nr_sessions must not make the sim run away)
        let nr = rec.int("node.session.nr_sessions").clamp(1, 64) as usize;
        let count = session_count(&run.root, rec);
        if count >= nr {
            run.error(&format!(
                "{}: {} session{} requested, but {} already present.",
                rec.iface(),
                nr,
                if nr == 1 { "" } else { "s" },
                count
            ));
            if ret == 0 {
                ret = ERR_SESS_EXISTS;
            }
            continue;
        }
        for _ in count..nr {
            run.info(&format!(
                "Logging in to [iface: {}, target: {}, portal: {},{}]{}",
                rec.iface(),
                rec.iqn(),
                rec.address(),
                rec.port(),
                if nr > 1 { " (multiple)" } else { "" }
            ));
            if !run.iscsid_request() {
                login_msg(run, rec, ERR_ISCSID_NOTCONN);
                if ret == 0 {
                    ret = ERR_ISCSID_NOTCONN;
                }
                continue;
            }
            queued.push(rec.clone());
        }
    }
    if queued.is_empty() {
        return ret;
    }
    // iscsid works on the queued logins in parallel: probe every portal, then let the
    // unreachable ones take unreachable_delay_ms (once, as they would overlap).
    let mut outcomes: Vec<LoginOutcome> = Vec::new();
    let mut any_unreachable = false;
    for rec in &queued {
        let o = match world::probe(rec.address(), rec.port(), Duration::from_secs(1)) {
            // iscsid resolves the record's address (a host name, when the record was made
            // with one) before it connects: `iscsi_setup_portal` fails at once with
            // ISCSI_ERR_TRANS (usr/initiator.c `__session_conn_create`).
            Reach::Unresolved(_) => LoginOutcome::Fail(ERR_TRANS),
            Reach::Down(_) => {
                any_unreachable = true;
                LoginOutcome::Fail(ERR_TRANS_TIMEOUT)
            }
            Reach::Up { local, peer } => judge_login(&run.world, rec, local, peer),
        };
        outcomes.push(o);
    }
    if any_unreachable {
        std::thread::sleep(Duration::from_millis(run.world.unreachable_delay_ms));
    }
    let lock = Lock::take(&run.root).ok();
    for (rec, outcome) in queued.iter().zip(outcomes) {
        let rc = match outcome {
            LoginOutcome::Fail(rc) => rc,
            LoginOutcome::Ok { local, peer } => {
                let nr = rec.int("node.session.nr_sessions").clamp(1, 64) as usize;
                if session_count(&run.root, rec) >= nr {
                    ERR_SESS_EXISTS
                } else {
                    create_session(run, rec, local, peer)
                }
            }
        };
        login_msg(run, rec, rc);
        if rc != 0 && ret == 0 {
            ret = rc;
        }
    }
    drop(lock);
    ret
}

/// The target's answer to a login at a reachable portal.
fn judge_login(
    world: &World,
    rec: &NodeRecord,
    local: std::net::SocketAddr,
    peer: std::net::SocketAddr,
) -> LoginOutcome {
    let iqn = rec.iqn();
    let Some(target) = world.target_at(iqn, rec.address(), rec.port()) else {
        // "Target not found" (status 02/03): non-retryable
        return LoginOutcome::Fail(ERR_FATAL_LOGIN);
    };
    if world.faults.login_refused.iter().any(|t| t == iqn) {
        return LoginOutcome::Fail(ERR_FATAL_LOGIN);
    }
    if world.faults.auth_fail.iter().any(|t| t == iqn) {
        return LoginOutcome::Fail(ERR_LOGIN_AUTH_FAILED);
    }
    // A target out of resources (login status class 3, target error): retryable, which
    // iscsiadm reports as a plain login failure. Modelled, not recorded: LIO refuses so
    // only under load.
    if world.faults.login_busy.iter().any(|t| t == iqn) {
        return LoginOutcome::Fail(ERR_LOGIN);
    }
    if let Some(chap) = &target.chap {
        let ok = rec.get("node.session.auth.authmethod") == "CHAP"
            && rec.get("node.session.auth.username") == chap.username
            && rec.get("node.session.auth.password") == chap.password;
        if !ok {
            return LoginOutcome::Fail(ERR_LOGIN_AUTH_FAILED);
        }
    }
    LoginOutcome::Ok { local, peer }
}

fn create_session(
    run: &mut Run,
    rec: &NodeRecord,
    local: std::net::SocketAddr,
    peer: std::net::SocketAddr,
) -> i32 {
    let Some(target) = run.world.target(rec.iqn()).cloned() else {
        return ERR_FATAL_LOGIN;
    };
    let ns = sysfs::NewSession {
        iqn: rec.iqn(),
        tpgt: target.tpgt,
        address: rec.address(),
        port: rec.port(),
        initiator: &run.world.initiator_name,
        local,
        peer,
        record: rec,
        luns: target.luns,
        controller_lun0: target.controller_lun0,
        max_xmit_dlength: target.max_xmit_dlength,
        creator: run.world.iscsid_pid,
        first_host: run.world.first_host,
        first_sg: run.world.first_sg,
        vendor: &target.vendor,
        model: &target.scsi_model(),
        partitions: target.partitions,
        wwids: &target.wwids,
    };
    match sysfs::create_session(&run.root, &ns) {
        Ok(_) => 0,
        Err(e) => {
            run.error(&format!("simulated kernel could not create the session: {e}"));
            ERR
        }
    }
}

fn logout_msg(run: &mut Run, s: &Session, rc: i32) {
    if rc != 0 {
        run.error(&format!(
            "Could not logout of [sid: {}, target: {}, portal: {},{}].",
            s.sid, s.iqn, s.persistent_address, s.port
        ));
        run.error(&format!("initiator reported error ({rc} - {})", err_str(rc)));
    } else {
        run.info(&format!(
            "Logout of [sid: {}, target: {}, portal: {},{}] successful.",
            s.sid, s.iqn, s.persistent_address, s.port
        ));
    }
}

/// `iscsi_logout_portals` with `iscsi_logout_matched_portal`; 21 when nothing matched
/// (the caller prints "No matching sessions found").
fn logout_portals(run: &mut Run, pattern: &Pattern) -> i32 {
    logout_sessions(run, |s| pattern.matches_session(s))
}

fn logout_sessions(run: &mut Run, pick: impl Fn(&Session) -> bool) -> i32 {
    let all = sysfs::sessions(&run.root);
    if all.is_empty() {
        return ERR_NO_OBJS_FOUND;
    }
    let mut ret = 0;
    let mut queued = Vec::new();
    for s in all.into_iter().filter(|s| pick(s)) {
        run.info(&format!(
            "Logging out of session [sid: {}, target: {}, portal: {},{}]",
            s.sid, s.iqn, s.persistent_address, s.port
        ));
        if !run.iscsid_request() {
            logout_msg(run, &s, ERR_ISCSID_NOTCONN);
            if ret == 0 {
                ret = ERR_ISCSID_NOTCONN;
            }
            continue;
        }
        queued.push(s);
    }
    // iscsi_logout_portals counts only the logouts it could request: none (iscsid down,
    // or nothing matched) makes it 21, "No matching sessions found", whatever else failed.
    if queued.is_empty() {
        return ERR_NO_OBJS_FOUND;
    }
    let lock = Lock::take(&run.root).ok();
    for s in &queued {
        let rc = if sysfs::read_session(&run.root, s.sid).is_none() {
            // raced with another logout
            2
        } else {
            match sysfs::remove_session(&run.root, s.sid) {
                Ok(()) => 0,
                Err(_) => 10,
            }
        };
        logout_msg(run, s, rc);
        if rc != 0 {
            ret = rc;
        }
    }
    drop(lock);
    if ret != 0 {
        run.error("Could not logout of all requested sessions");
    }
    ret
}

fn startup_matches(rec: &NodeRecord, mode: &str) -> bool {
    let st = rec.get("node.conn[0].startup");
    mode == "all" || st == mode
}

/// `-m node --loginall=MODE`.
fn login_by_startup(run: &mut Run, mode: &str) -> i32 {
    if !["all", "manual", "automatic", "onboot"].contains(&mode) {
        run.error(&format!("Invalid loginall option {mode}."));
        run.raw_error("Try `iscsiadm --help' for more information.");
        return ERR_INVAL;
    }
    let recs: Vec<NodeRecord> = run
        .db()
        .all()
        .into_iter()
        .map(|(_, r)| r)
        .filter(|r| startup_matches(r, mode))
        .collect();
    if recs.is_empty() {
        run.error("No records found");
        return ERR_NO_OBJS_FOUND;
    }
    let err = login_records(run, &recs);
    if err != 0 {
        run.error("Could not log into all portals");
    }
    err
}

/// `-m node --logoutall=MODE`: sessions whose record's startup matches (never onboot).
fn logout_by_startup(run: &mut Run, mode: &str) -> i32 {
    if !["all", "manual", "automatic"].contains(&mode) {
        run.error(&format!("Invalid logoutall option {mode}."));
        run.raw_error("Try `iscsiadm --help' for more information.");
        return ERR_INVAL;
    }
    let db = run.db();
    let rc = logout_sessions(run, |s| {
        match db.read(
            &s.iqn,
            &s.persistent_address,
            s.persistent_port,
            s.tpgt,
            &s.ifacename,
        ) {
            Some((_, r)) => r.get("node.startup") != "onboot" && startup_matches(&r, mode),
            None => false,
        }
    });
    if rc == ERR_NO_OBJS_FOUND {
        run.error("No matching sessions found");
    }
    rc
}

// ---------------------------------------------------------------------------------------
// discovery

/// Keys of a sendtargets discovery record, in iscsiadm's order (usr/idbm.c
/// `idbm_recinfo_discovery`; it reuses the node key for the CHAP algorithms). Values are
/// the defaults of `idbm_discovery_setup_defaults`.
const ST_KEYS: &[(&str, &str)] = &[
    ("discovery.startup", "manual"),
    ("discovery.type", "sendtargets"),
    ("discovery.sendtargets.address", ""),
    ("discovery.sendtargets.port", ""),
    ("discovery.sendtargets.auth.authmethod", "None"),
    ("discovery.sendtargets.auth.username", ""),
    ("discovery.sendtargets.auth.password", ""),
    ("discovery.sendtargets.auth.username_in", ""),
    ("discovery.sendtargets.auth.password_in", ""),
    ("node.session.auth.chap_algs", "MD5"),
    ("discovery.sendtargets.timeo.login_timeout", "15"),
    ("discovery.sendtargets.use_discoveryd", "No"),
    ("discovery.sendtargets.discoveryd_poll_inval", "30"),
    ("discovery.sendtargets.reopen_max", "5"),
    ("discovery.sendtargets.timeo.auth_timeout", "45"),
    ("discovery.sendtargets.timeo.active_timeout", "30"),
    ("discovery.sendtargets.iscsi.MaxRecvDataSegmentLength", "32768"),
];

fn st_dir(root: &Path, addr: &str, port: u16) -> PathBuf {
    root.join("etc/iscsi/send_targets").join(format!("{addr},{port}"))
}

/// A discovery record's values (defaults, iscsid.conf when iscsid runs, then the file).
fn st_record(run: &mut Run, addr: &str, port: u16, file: Option<&str>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = ST_KEYS
        .iter()
        .map(|(k, d)| (k.to_string(), d.to_string()))
        .collect();
    let set = |v: &mut Vec<(String, String)>, k: &str, val: &str| {
        if let Some(e) = v.iter_mut().find(|(n, _)| n == k) {
            e.1 = val.to_string();
        }
    };
    if file.is_none() && run.iscsid_request() {
        if let Some(conf) = run.iscsid_conf() {
            for (k, val) in crate::records::conf_pairs(&conf) {
                if k.starts_with("discovery.sendtargets.") {
                    set(&mut v, &k, &val);
                }
            }
        }
    }
    if let Some(text) = file {
        for (k, val) in crate::records::conf_pairs(text) {
            set(&mut v, &k, &val);
        }
    }
    set(&mut v, "discovery.sendtargets.address", addr);
    set(&mut v, "discovery.sendtargets.port", &port.to_string());
    v
}

fn write_st(root: &Path, addr: &str, port: u16, rec: &[(String, String)]) {
    let dir = st_dir(root, addr, port);
    let _ = std::fs::create_dir_all(&dir);
    let mut text = String::from("# BEGIN RECORD 2.1.8\n");
    for (k, v) in rec.iter().filter(|(_, v)| !v.is_empty()) {
        text.push_str(&format!("{k} = {v}\n"));
    }
    text.push_str("# END RECORD\n");
    let _ = std::fs::write(dir.join("st_config"), text);
}

fn show_st(run: &mut Run, rec: &[(String, String)], show: bool) {
    run.info("# BEGIN RECORD 2.1.8");
    for (k, v) in rec {
        let masked = k.ends_with("password") || k.ends_with("password_in");
        if masked && !v.is_empty() && !show {
            run.info(&format!("{k} = ********"));
            continue;
        }
        run.info(&format!("{k} = {}", empty_or(v)));
    }
    run.info("# END RECORD");
}

fn read_st(root: &Path, addr: &str, port: u16) -> Option<String> {
    std::fs::read_to_string(st_dir(root, addr, port).join("st_config")).ok()
}

/// `idbm_print_all_st` (flat): "addr:port via sendtargets".
fn print_all_discovery(run: &mut Run, level: i32) -> i32 {
    if level >= 1 {
        run.error("discovery record trees (-P 1) are not simulated by the simulated host");
        return ERR_INVAL;
    }
    let mut names: Vec<String> = std::fs::read_dir(run.root.join("etc/iscsi/send_targets"))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.path().join("st_config").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    for n in &names {
        if let Some((a, p)) = n.rsplit_once(',') {
            run.info(&format!("{a}:{p} via sendtargets"));
        }
    }
    if names.is_empty() {
        ERR_NO_OBJS_FOUND
    } else {
        0
    }
}

fn discovery_mode(run: &mut Run, o: &Opts) -> i32 {
    let port = if o.port < 0 { 3260 } else { o.port as u16 };
    match o.disc_type {
        Some(DiscType::SendTargets) => {
            let Some(ip) = o.ip.clone() else {
                run.error("Please specify portal as <ipaddr>[:<ipport>]");
                return ERR_INVAL;
            };
            let drec = st_record(run, &ip, port, None);
            do_sendtargets(run, o, &ip, port, &drec, true)
        }
        Some(DiscType::Slp) => {
            run.error("SLP discovery is not fully implemented yet.");
            ERR_INVAL
        }
        Some(DiscType::Isns) => {
            let Some(ip) = o.ip.clone() else {
                run.error("Please specify portal as <ipaddr>:[<ipport>]");
                return ERR_INVAL;
            };
            // ISNS_DEFAULT_PORT when none is given
            let port = if o.port < 0 { 3205 } else { o.port as u16 };
            do_isns(run, o, &ip, port)
        }
        Some(DiscType::Fw) => {
            run.error("firmware discovery is not simulated by the simulated host");
            ERR_INVAL
        }
        None => {
            if let Some(ip) = o.ip.clone() {
                let Some(text) = read_st(&run.root, &ip, port) else {
                    run.error(&format!("Discovery record [{ip},{port}] not found!"));
                    return ERR_INVAL;
                };
                let drec = st_record(run, &ip, port, Some(&text));
                if o.discover || o.login {
                    do_sendtargets(run, o, &ip, port, &drec, false)
                } else if o.op == 0 || o.op == OP_SHOW {
                    show_st(run, &drec, o.show);
                    0
                } else if o.op == OP_DELETE {
                    delete_discovery(run, &ip, port)
                } else if o.op == OP_UPDATE || o.op == OP_NEW {
                    run.error("Operations new and update for discovery mode is not supported. Use discoverydb mode.");
                    ERR_INVAL
                } else {
                    run.error("Invalid operation.");
                    ERR_INVAL
                }
            } else if o.op == 0 || o.op == OP_SHOW {
                print_all_discovery(run, o.info_level)
            } else {
                run.error("Invalid operation.");
                ERR_INVAL
            }
        }
    }
}

fn discoverydb_mode(run: &mut Run, o: &Opts) -> i32 {
    match o.disc_type {
        Some(DiscType::SendTargets) => {
            let port = if o.port < 0 { 3260 } else { o.port as u16 };
            let Some(ip) = o.ip.clone() else {
                run.error("Please specify portal as <ipaddr>[:<ipport>]");
                return ERR_INVAL;
            };
            if o.op & OP_NEW != 0 && !o.discover {
                let drec = st_record(run, &ip, port, None);
                write_st(&run.root, &ip, port, &drec);
                run.info(&format!("New discovery record for [{ip},{port}] added."));
                return 0;
            }
            let existing = read_st(&run.root, &ip, port);
            let drec = match &existing {
                Some(text) => st_record(run, &ip, port, Some(text)),
                None if !o.discover => {
                    run.error(&format!("Discovery record [{ip},{port}] not found."));
                    return ERR_IDBM;
                }
                None => {
                    let d = st_record(run, &ip, port, None);
                    if o.op & OP_NONPERSISTENT == 0 {
                        write_st(&run.root, &ip, port, &d);
                    }
                    d
                }
            };
            if o.discover {
                return do_sendtargets(run, o, &ip, port, &drec, false);
            }
            match o.op {
                0 | OP_SHOW => {
                    show_st(run, &drec, o.show);
                    0
                }
                OP_DELETE => delete_discovery(run, &ip, port),
                OP_UPDATE => {
                    run.error("updating discovery records is not simulated by the simulated host");
                    ERR_INVAL
                }
                _ => {
                    run.error("Operation is not supported.");
                    ERR_INVAL
                }
            }
        }
        Some(DiscType::Slp) => {
            run.error("SLP discovery is not fully implemented yet.");
            ERR_INVAL
        }
        Some(_) => {
            run.error("iSNS and firmware discovery are not simulated by the simulated host");
            ERR_INVAL
        }
        None => {
            if o.ip.is_none() {
                if o.op == 0 || o.op == OP_SHOW {
                    print_all_discovery(run, o.info_level)
                } else {
                    run.error("Invalid operation. Operation not supported.");
                    ERR_INVAL
                }
            } else {
                if o.op != 0 {
                    run.error("Invalid command. Possibly missing discovery --type.");
                } else {
                    run.error("Invalid command. Portal not needed or Possibly missing discovery --type.");
                }
                ERR_INVAL
            }
        }
    }
}

/// `idbm_delete_discovery`: the discovery record and the node records it found.
fn delete_discovery(run: &mut Run, addr: &str, port: u16) -> i32 {
    let _lock = Lock::take(&run.root).ok();
    for (rp, rec) in run.db().all() {
        if discovered_from(&rec, "send_targets", addr, port) {
            let _ = run.db().delete(&rp);
        }
    }
    match std::fs::remove_dir_all(st_dir(&run.root, addr, port)) {
        Ok(()) => 0,
        Err(_) => {
            run.error("Unable to delete record!");
            ERR_IDBM
        }
    }
}

fn discovered_from(rec: &NodeRecord, disc_type: &str, addr: &str, port: u16) -> bool {
    rec.get("node.discovery_type") == disc_type
        && rec.get("node.discovery_address") == addr
        && rec.int("node.discovery_port") == i32::from(port)
}

/// `do_software_sendtargets` + `discovery_sendtargets` + `exec_disc_op_on_recs`.
fn do_sendtargets(
    run: &mut Run,
    o: &Opts,
    addr: &str,
    port: u16,
    drec: &[(String, String)],
    sync_drec: bool,
) -> i32 {
    let op = if o.op == 0 {
        OP_NEW | OP_DELETE | OP_UPDATE
    } else {
        o.op
    };
    if op & OP_NONPERSISTENT == 0 && sync_drec {
        write_st(&run.root, addr, port, drec);
    }
    let fail = |run: &mut Run, rc: i32| {
        run.error(&format!(
            "Could not perform SendTargets discovery: {}",
            err_str(rc)
        ));
        rc
    };
    // request_initiator_name: asks iscsid
    if !run.iscsid_request() {
        run.error("Cannot perform discovery. Initiatorname required.");
        return fail(run, ERR_ISCSID_NOTCONN);
    }
    // discovery.sendtargets.reopen_max + 1 connection attempts, one second apart, each
    // printing iscsi_io_connect's complaint; the simulated host spends
    // unreachable_delay_ms in all instead of ~5.3 s.
    let reopen_max = drec
        .iter()
        .find(|(k, _)| k == "discovery.sendtargets.reopen_max")
        .map(|(_, v)| crate::records::c_int(v))
        .unwrap_or(5)
        .clamp(0, 1000);
    let reach = world::probe(addr, port, Duration::from_secs(1));
    if let Reach::Unresolved(why) = &reach {
        // resolve_address complains, then iscsi_setup_portal and discovery_sendtargets
        // each say so, and the transport error is what iscsiadm reports (usr/discovery.c).
        run.error(&format!("Cannot resolve host {addr}. getaddrinfo error: [{why}]"));
        run.error(&format!("cannot resolve host name {addr}"));
        run.error(&format!("cannot resolve host name {addr}"));
        return fail(run, ERR_TRANS);
    }
    if let Reach::Down(why) = reach {
        std::thread::sleep(Duration::from_millis(run.world.unreachable_delay_ms));
        let host = addr.to_string();
        for _ in 0..=reopen_max {
            if why == "Connection timed out" {
                run.error(&format!("connect to {host} timed out"));
            } else {
                run.error(&format!("cannot make connection to {host}: {why}"));
            }
        }
        run.error(&format!(
            "connection login retries (reopen_max) {reopen_max} exceeded"
        ));
        return fail(run, ERR_PDU_TIMEOUT);
    }
    // SendTargets=All: every target with a portal group on this portal, with all the
    // group's portals.
    let found: Vec<(String, i32, String, u16)> = run
        .world
        .targets
        .iter()
        .filter(|t| run.world.target_at(&t.iqn, addr, port).is_some())
        .flat_map(|t| {
            t.portals.iter().filter_map(|p| {
                let (a, n) = world::split_portal(p)?;
                Some((t.iqn.clone(), t.tpgt, a, n))
            })
        })
        .collect();
    exec_disc_op_on_recs(run, o, op, "send_targets", addr, port, found)
}

/// `exec_disc_op_on_recs` and what follows it: the records a discovery found are added,
/// updated, or (those it no longer lists) deleted per `op`, printed, and logged in to with
/// `--login`. `disc_type` is the records' node.discovery_type.
fn exec_disc_op_on_recs(
    run: &mut Run,
    o: &Opts,
    op: u32,
    disc_type: &str,
    addr: &str,
    port: u16,
    found: Vec<(String, i32, String, u16)>,
) -> i32 {
    if found.is_empty() {
        run.error("No portals found");
        return ERR_NO_OBJS_FOUND;
    }
    let lock = Lock::take(&run.root).ok();
    let mut new_recs = Vec::new();
    for (iqn, tpgt, a, n) in &found {
        let mut rec = run.node_defaults(iqn, *tpgt, a, *n);
        rec.set_discovery(disc_type, addr, port);
        new_recs.push(rec);
    }
    if op & OP_DELETE != 0 {
        for (rp, rec) in run.db().all() {
            if !discovered_from(&rec, disc_type, addr, port) {
                continue;
            }
            let still = new_recs.iter().any(|n| {
                n.iqn() == rec.iqn() && same_addr(n.address(), rec.address()) && n.port() == rec.port()
            });
            if !still {
                let _ = delete_node(run, &rp, &rec);
            }
        }
    }
    if op & (OP_NEW | OP_UPDATE) != 0 {
        for rec in &new_recs {
            let exists = run
                .db()
                .read(rec.iqn(), rec.address(), rec.port(), rec.tpgt(), rec.iface());
            match exists {
                Some(_) if op & OP_UPDATE == 0 => {}
                Some((rp, _)) => {
                    let _ = run.db().delete(&rp);
                    let _ = write_discovered(run, rec, addr, port);
                }
                None => {
                    let _ = write_discovered(run, rec, addr, port);
                }
            }
        }
    }
    drop(lock);
    // idbm_print_node_and_iface_tree keeps the last record: Target and Portal lines only
    // when they change
    let mut last: Option<&NodeRecord> = None;
    for rec in &new_recs {
        if o.info_level == 1 {
            if last.map(|l| l.iqn() != rec.iqn()).unwrap_or(true) {
                run.info(&format!("Target: {}", rec.iqn()));
                last = None;
            }
            if last
                .map(|l| l.address() != rec.address() || l.port() != rec.port())
                .unwrap_or(true)
            {
                run.info(&format!(
                    "\tPortal: {},{}",
                    join_portal(rec.address(), rec.port()),
                    rec.tpgt()
                ));
            }
            run.info(&format!("\t\tIface Name: {}", rec.iface()));
            last = Some(rec);
        } else {
            run.info(&format!(
                "{},{} {}",
                join_portal(rec.address(), rec.port()),
                rec.tpgt(),
                rec.iqn()
            ));
        }
    }
    if !o.login {
        return 0;
    }
    login_records(run, &new_recs)
}

/// iSNS discovery (`do_isns` over `discovery_isns`, usr/discovery.c, with open-isns as
/// the client): the server's portal groups of the targets registered with it, as records
/// with node.discovery_type isns. Modelled from the sources, not recorded (no iSNS server
/// was run against the real tool): the server's registry is `World::isns`; the messages
/// of a server that cannot be reached are iscsiadm's, libisns's own lines are left out.
fn do_isns(run: &mut Run, o: &Opts, addr: &str, port: u16) -> i32 {
    let fail = |run: &mut Run, rc: i32| {
        run.error(&format!("Could not perform iSNS discovery: {}", err_str(rc)));
        rc
    };
    // discovery_isns: request_initiator_name asks iscsid (recorded on a host without it)
    if !run.iscsid_request() {
        run.error("Cannot perform discovery. Initiatorname required.");
        return fail(run, ERR_ISCSID_NOTCONN);
    }
    let op = if o.op == 0 {
        OP_NEW | OP_DELETE | OP_UPDATE
    } else {
        o.op
    };
    match world::probe(addr, port, Duration::from_secs(1)) {
        // isns_create_client cannot make its socket: discovery_isns_query reports NOMEM
        Reach::Unresolved(_) => fail(run, ERR_NOMEM),
        // no reply within libisns's call_timeout: ISNS_INTERNAL_ERROR
        Reach::Down(_) => {
            std::thread::sleep(Duration::from_millis(run.world.unreachable_delay_ms));
            run.error("iSNS discovery failed: Internal error");
            fail(run, ERR_ISNS_QUERY)
        }
        Reach::Up { .. } => {
            let registered: Vec<String> = run
                .world
                .isns
                .iter()
                .filter(|s| {
                    world::split_portal(&s.portal).is_some_and(|(a, p)| same_addr(&a, addr) && p == port)
                })
                .flat_map(|s| s.targets.clone())
                .collect();
            let found: Vec<(String, i32, String, u16)> = run
                .world
                .targets
                .iter()
                .filter(|t| registered.contains(&t.iqn))
                .flat_map(|t| {
                    t.portals.iter().filter_map(|p| {
                        let (a, n) = world::split_portal(p)?;
                        Some((t.iqn.clone(), t.tpgt, a, n))
                    })
                })
                .collect();
            exec_disc_op_on_recs(run, o, op, "isns", addr, port, found)
        }
    }
}

/// Writes a discovered record and the link to it, as `idbm_add_node` does: under the
/// sendtargets portal's directory, or for iSNS (no server directory, as `-m discovery`
/// keeps no iSNS discovery record) the old-style link in `isns/` (`idbm_get_disc_portal`).
fn write_discovered(run: &mut Run, rec: &NodeRecord, addr: &str, port: u16) -> std::io::Result<()> {
    let rp = run.db().write(rec)?;
    let name = format!(
        "{},{},{},{},{}",
        rec.iqn(),
        rec.address(),
        rec.port(),
        rec.tpgt(),
        rec.iface()
    );
    let link = if rec.get("node.discovery_type") == "isns" {
        let dir = run.root.join("etc/iscsi/isns");
        std::fs::create_dir_all(&dir)?;
        dir.join(name)
    } else {
        st_dir(&run.root, addr, port).join(name)
    };
    let target = run.db().nodes.join(&rp.iqn).join(&rp.portal_dir);
    let _ = std::fs::remove_file(&link);
    let _ = std::os::unix::fs::symlink(target, link);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// host mode

fn host_mode(run: &mut Run, o: &Opts) -> i32 {
    if o.submode {
        run.error("host sub-modes (chap, flashnode, stats) are not simulated by the simulated host");
        return ERR_INVAL;
    }
    let mut hosts: Vec<(u32, String, String)> = sysfs::sessions(&run.root)
        .iter()
        .filter(|s| o.host_no.map(|h| h == s.host).unwrap_or(true))
        .map(|s| (s.host, s.local_address.clone(), s.host_state.clone()))
        .collect();
    hosts.sort();
    hosts.dedup();
    match o.info_level {
        0 | -1 => {
            for (h, ip, _) in &hosts {
                let ip = if ip.is_empty() {
                    "<empty>".to_string()
                } else {
                    bracket(ip)
                };
                run.info(&format!("tcp: [{h}] {ip},[<empty>],<empty> <empty>"));
            }
        }
        1 => {
            for (h, ip, st) in &hosts {
                run.info(&format!("Host Number: {h}"));
                run.info(&format!(
                    "\tState: {}",
                    if st.is_empty() { "Unknown" } else { st }
                ));
                run.info("\tTransport: tcp");
                run.info("\tInitiatorname: <empty>");
                run.info(&format!(
                    "\tIPaddress: {}",
                    if ip.is_empty() {
                        "<empty>".to_string()
                    } else {
                        bracket(ip)
                    }
                ));
                run.info("\tHWaddress: <empty>");
                run.info("\tNetdev: <empty>");
            }
        }
        2..=4 => {
            run.error("host trees above -P 1 are not simulated by the simulated host");
            return ERR_INVAL;
        }
        l => {
            run.error(&format!("Invalid info level {l}. Try 0 - 4."));
            return ERR_INVAL;
        }
    }
    if hosts.is_empty() {
        run.error("No iSCSI hosts.");
        return ERR_NO_OBJS_FOUND;
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipport(s: &str) -> (Option<String>, i32, i32) {
        let (mut p, mut t) = (-1, -1);
        let ip = str_to_ipport(s, &mut p, &mut t);
        (ip, p, t)
    }

    #[test]
    fn portal_arguments_parse_like_str_to_ipport() {
        assert_eq!(ipport("127.0.0.1:3260"), (Some("127.0.0.1".into()), 3260, -1));
        assert_eq!(ipport("127.0.0.1:3260,1"), (Some("127.0.0.1".into()), 3260, 1));
        assert_eq!(ipport("127.0.0.1"), (Some("127.0.0.1".into()), -1, -1));
        assert_eq!(ipport("[::1]:3261"), (Some("::1".into()), 3261, -1));
        assert_eq!(ipport("[::1]:3261,2"), (Some("::1".into()), 3261, 2));
        assert_eq!(ipport("[::1]"), (Some("::1".into()), -1, -1));
        assert_eq!(ipport("fe80::1"), (Some("fe80::1".into()), -1, -1));
        assert_eq!(ipport("storage-b:3260"), (Some("storage-b".into()), 3260, -1));
        assert_eq!(ipport("[::1"), (None, -1, -1));
    }

    /// The agent's arguments reach these parsers: whatever they hold, no panic.
    #[test]
    fn argument_parsing_never_panics() {
        let seeds = [
            "127.0.0.1:3260,1",
            "[fd00::2]:3260,2",
            "fe80::1",
            "storage-b.lab:3260",
            "-mnode",
            "--portal=1.2.3.4",
            "-r",
        ];
        let inserts = [
            "é",
            "😀",
            "[",
            "]",
            ":",
            ",",
            "\0",
            "-",
            "--",
            "=",
            "99999999999999999999",
        ];
        for s in seeds {
            for i in 0..=s.len() {
                for ins in inserts {
                    let mut t = s.to_string();
                    t.insert_str(i, ins);
                    let cut = &t[..t.floor_char_boundary_compat(i + 1)];
                    for arg in [t.as_str(), cut] {
                        let (mut p, mut g) = (-1, -1);
                        let _ = str_to_ipport(arg, &mut p, &mut g);
                        let _ = crate::records::c_int(arg);
                        let _ = crate::world::split_portal(arg);
                        let _ = getopt::parse(&["iscsiadm".to_string(), arg.to_string(), arg.to_string()]);
                    }
                }
            }
        }
    }

    trait FloorCompat {
        fn floor_char_boundary_compat(&self, i: usize) -> usize;
    }
    impl FloorCompat for String {
        fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
            i = i.min(self.len());
            while !self.is_char_boundary(i) {
                i -= 1;
            }
            i
        }
    }

    #[test]
    fn session_ids_convert_as_c_does() {
        let mut run = Run {
            root: std::env::temp_dir(),
            world: World::default(),
            out: String::new(),
        };
        for (arg, sid) in [
            ("1", Some(1)),
            ("4294967297", Some(1)),
            ("2147483647", Some(2147483647)),
        ] {
            assert_eq!(parse_sid(&mut run, arg).ok(), sid, "{arg}");
        }
        for arg in ["2147483648", "99999999999999999999", "0", "-1", "+", "é"] {
            assert!(parse_sid(&mut run, arg).is_err(), "{arg}");
        }
    }

    #[test]
    fn error_strings() {
        assert_eq!(err_str(8), "connection timed out");
        assert_eq!(err_str(24), "iSCSI login failed due to authorization failure");
        assert_eq!(err_str(99), "");
    }
}
