//! Test support: temporary sim roots, loopback listeners standing in for targets, and
//! running the simulated iscsiadm the way the agent does (by path, cleared environment).
#![allow(dead_code)]

use std::fs::{self, File};
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use iscsi_simhost::SimHost;

pub const BIN: &str = env!("CARGO_BIN_EXE_iscsi-simhost");

/// The recorded fixtures, copied from the lab by tests/fixtures/iscsi/import-recorded.sh.
pub fn recorded(name: &str) -> String {
    fixture("recorded", name)
}

/// A recording under tests/fixtures/iscsi/DIR.
pub fn fixture(dir: &str, name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/iscsi")
        .join(dir)
        .join(name);
    fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "iscsi-simhost-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A TCP listener that accepts and drops connections until the process exits.
pub fn listen_on(addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let l = TcpListener::bind(addr)?;
    let local = l.local_addr()?;
    std::thread::spawn(move || {
        for c in l.incoming() {
            drop(c);
        }
    });
    Ok(local)
}

/// A listener on `ip` with an ephemeral port; returns "ip:port" ("[ip]:port" for IPv6).
pub fn listen(ip: &str) -> String {
    let a = listen_on(SocketAddr::new(ip.parse().unwrap(), 0)).expect("bind loopback");
    portal_of(a)
}

pub fn portal_of(a: SocketAddr) -> String {
    match a {
        SocketAddr::V4(v) => format!("{}:{}", v.ip(), v.port()),
        SocketAddr::V6(v) => format!("[{}]:{}", v.ip(), v.port()),
    }
}

/// 127.0.0.1:3260, the portal of the recordings. Bound once per test process; if something
/// else (a lab tgtd) already listens there, that serves as well: the simulated host only
/// needs a TCP connect to succeed.
pub fn recorded_portal() -> &'static str {
    static P: OnceLock<String> = OnceLock::new();
    P.get_or_init(|| {
        let a: SocketAddr = "127.0.0.1:3260".parse().unwrap();
        if listen_on(a).is_err() {
            std::net::TcpStream::connect_timeout(&a, std::time::Duration::from_secs(1))
                .expect("127.0.0.1:3260 is taken but does not accept connections");
        }
        "127.0.0.1:3260".to_string()
    })
}

/// A portal nothing listens on (connections are refused).
pub fn dead_portal(ip: &str) -> String {
    let l = TcpListener::bind((ip, 0)).unwrap();
    let a = l.local_addr().unwrap();
    drop(l);
    portal_of(a)
}

pub struct Lab {
    pub dir: TempDir,
    pub host: SimHost,
}

impl Lab {
    pub fn new() -> Lab {
        let dir = TempDir::new();
        let host = SimHost::create_with_binary(dir.0.join("sim"), BIN).unwrap();
        host.set_unreachable_delay_ms(50).unwrap();
        Lab { dir, host }
    }

    pub fn root(&self) -> &Path {
        self.host.root()
    }

    /// Runs iscsiadm; returns (stdout, stderr, rc).
    pub fn run(&self, args: &[&str]) -> (String, String, i32) {
        let o = self.host.run(args).unwrap();
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
            o.status.code().unwrap_or(-1),
        )
    }

    /// Runs iscsiadm with stdout and stderr into one file, as the lab recorded them
    /// (`cmd 2>&1`), so that the interleaving is the real tool's.
    pub fn run_merged(&self, args: &[&str]) -> (String, i32) {
        self.run_merged_with(args, |_| {})
    }

    /// `run_merged` with the command adjusted first (a private name service, say).
    pub fn run_merged_with(&self, args: &[&str], adjust: impl FnOnce(&mut Command)) -> (String, i32) {
        let path = self.dir.0.join(format!(
            "out-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let f = File::create(&path).unwrap();
        let mut cmd = self.host.iscsiadm();
        adjust(&mut cmd);
        let status = cmd
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(f.try_clone().unwrap()))
            .stderr(Stdio::from(f))
            .status()
            .unwrap();
        let mut s = String::new();
        File::open(&path).unwrap().read_to_string(&mut s).unwrap();
        let _ = fs::remove_file(&path);
        (s, status.code().unwrap_or(-1))
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let (out, err, rc) = self.run(args);
        assert_eq!(rc, 0, "iscsiadm {args:?} failed: {err}");
        out
    }

    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.host
            .iscsiadm()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
}

/// Runs the control CLI (`iscsi-simhost --root ROOT ARGS`), asserts it succeeded, returns
/// its stdout.
pub fn control(root: &str, args: &[&str]) -> String {
    let o = Command::new(BIN)
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Pool `pool` = mirror of two local device files, /dev/vdb1 and /dev/vdc1.
pub fn local_mirror(sim: &SimHost, pool: &str) {
    sim.create_pool(
        pool,
        &[
            iscsi_simhost::Leaf::Local("/dev/vdb1".into()),
            iscsi_simhost::Leaf::Local("/dev/vdc1".into()),
        ],
    )
    .unwrap();
}

/// The sim binary invoked by another name/path (for root discovery tests).
pub fn command_at(path: &Path) -> Command {
    let mut c = Command::new(path);
    c.env_clear().env("LANG", "C");
    c
}

/// A recorded command and what it printed (stdout and stderr merged) and returned.
#[derive(Debug, Clone)]
pub struct Block {
    pub section: String,
    /// The last "--- ..." line before the block within its section.
    pub sub: String,
    pub args: Vec<String>,
    pub output: String,
    pub rc: i32,
    /// Lines printed after the block by the recording script itself (grep of a show etc.).
    pub after: Vec<String>,
}

/// Lines that the recordings contain but iscsiadm did not print: the init system's
/// complaints when iscsiadm tried to start iscsid through iscsid.startup (systemctl on a
/// host without systemd, /bin/systemctl missing in the VM).
pub fn not_from_iscsiadm(line: &str) -> bool {
    line.starts_with("System has not been booted with systemd")
        || line.starts_with("Failed to connect to bus")
        || line.starts_with("sh: 1: /bin/systemctl")
}

/// Splits a recording into its `$ iscsiadm ...` blocks. Serial-log lines carry a
/// "  51.116 " time prefix (`timestamped`), which is removed first.
pub fn blocks(text: &str, timestamped: bool) -> Vec<Block> {
    let is_ts = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.');
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            if !timestamped {
                return l.to_string();
            }
            let t = l.trim_start();
            match t.split_once(' ') {
                Some((ts, rest)) if is_ts(ts) => rest.to_string(),
                None if is_ts(t) => String::new(),
                _ => l.to_string(),
            }
        })
        .collect();
    let mut out: Vec<Block> = Vec::new();
    let mut section = String::new();
    let mut sub = String::new();
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.starts_with("=====") {
            section = l.trim_matches(|c| c == '=' || c == ' ').to_string();
            sub.clear();
            i += 1;
            continue;
        }
        if l.starts_with("--- ") {
            sub = l.clone();
        }
        if let Some(cmd) = l.strip_prefix("$ iscsiadm") {
            let args: Vec<String> = cmd.split_whitespace().map(String::from).collect();
            let mut output = String::new();
            let mut rc = None;
            i += 1;
            while i < lines.len() {
                let x = &lines[i];
                i += 1;
                if let Some(n) = x.strip_prefix("[rc=").and_then(|r| r.strip_suffix(']')) {
                    rc = Some(n.parse().unwrap());
                    break;
                }
                if !not_from_iscsiadm(x) {
                    output.push_str(x);
                    output.push('\n');
                }
            }
            // lines like "node.session.initial_login_retry_max = 8" printed right after a
            // block by `iscsiadm ... -o show | grep`
            let mut after = Vec::new();
            while i < lines.len() && lines[i].starts_with("node.") {
                after.push(lines[i].clone());
                i += 1;
            }
            out.push(Block {
                section: section.clone(),
                sub: sub.clone(),
                args,
                output,
                rc: rc.expect("block without [rc=]"),
                after,
            });
            continue;
        }
        i += 1;
    }
    out
}

/// The recorded file without its trailing "[rc=N]" line, and that rc.
pub fn strip_rc(text: &str) -> (String, i32) {
    let mut lines: Vec<&str> = text.lines().collect();
    let last = lines.pop().unwrap();
    let rc = last
        .strip_prefix("[rc=")
        .and_then(|r| r.strip_suffix(']'))
        .unwrap()
        .parse()
        .unwrap();
    let mut s = lines.join("\n");
    s.push('\n');
    (s, rc)
}

/// The names of the regular files in a sysfs dir, sorted (as the shell's glob sorts them).
#[allow(dead_code)]
pub fn attr_names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
