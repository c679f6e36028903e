//! A real iSCSI target for tests: tgt's userspace daemon (Debian package `tgt`), which
//! needs no kernel module, on a loopback address (or inside a network namespace) at a port
//! and control port of its own, so it never meets a packaged or another test's tgtd.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub struct Tgt {
    child: Option<Child>,
    /// tgtd's management channel (-C): /var/run/tgtd/socket.N.
    ctl: u32,
    pub addr: String,
    pub port: u16,
    netns: Option<String>,
    dir: tempfile::TempDir,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

fn free_port(ip: &str) -> u16 {
    let l = TcpListener::bind((ip, 0)).expect("a free port");
    l.local_addr().unwrap().port()
}

impl Tgt {
    /// tgtd listening on `ip` (a loopback address) at a free port.
    pub fn start(ip: &str) -> Tgt {
        let port = free_port(ip);
        Tgt::start_at(ip, port, None)
    }

    /// tgtd listening on `ip:port`, inside `netns` when given (the address is then the
    /// namespace's own).
    pub fn start_at(ip: &str, port: u16, netns: Option<&str>) -> Tgt {
        let mut dir = tempfile::tempdir().unwrap();
        for attempt in 0..20 {
            let n = NEXT.fetch_add(1, Ordering::SeqCst);
            // tgtd takes control ports up to 32767.
            let ctl = 1_000 + (std::process::id() * 37 + n * 7 + attempt) % 31_000;
            if PathBuf::from(format!("/var/run/tgtd/socket.{ctl}")).exists() {
                continue;
            }
            let log = std::fs::File::create(dir.path().join(format!("tgtd.{ctl}.log"))).unwrap();
            let mut cmd = match netns {
                Some(ns) => {
                    let mut c = Command::new("ip");
                    c.args(["netns", "exec", ns, "tgtd"]);
                    c
                }
                None => Command::new("tgtd"),
            };
            let portal = if ip.contains(':') {
                format!("[{ip}]:{port}")
            } else {
                format!("{ip}:{port}")
            };
            let child = cmd
                .args([
                    "-f",
                    "-C",
                    &ctl.to_string(),
                    "--iscsi",
                    &format!("portal={portal}"),
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::from(log.try_clone().unwrap()))
                .stderr(Stdio::from(log))
                .spawn()
                .expect("tgtd (Debian package tgt; .ci/install-deps.sh installs it)");
            let mut t = Tgt {
                child: Some(child),
                ctl,
                addr: ip.to_string(),
                port,
                netns: netns.map(str::to_string),
                dir,
            };
            if t.wait_ready() {
                return t;
            }
            t.stop();
            eprintln!(
                "tgtd -C {ctl} did not start: {}",
                std::fs::read_to_string(t.dir.path().join(format!("tgtd.{ctl}.log"))).unwrap_or_default()
            );
            dir = t.take_dir();
        }
        panic!("tgtd did not start (see its logs)");
    }

    fn take_dir(&mut self) -> tempfile::TempDir {
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }

    fn wait_ready(&mut self) -> bool {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Some(c) = self.child.as_mut() {
                if matches!(c.try_wait(), Ok(Some(_))) {
                    return false;
                }
            }
            if self.tgtadm_status(&["--op", "show", "--mode", "target"]) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// tgtadm on this tgtd's control port (with `--lld iscsi` unless `system` is meant).
    fn tgtadm_run(&self, args: &[&str]) -> std::io::Result<std::process::Output> {
        let ctl = self.ctl.to_string();
        let mut c = Command::new("tgtadm");
        c.args(["-C", &ctl]);
        if !args.contains(&"system") {
            c.args(["--lld", "iscsi"]);
        }
        c.args(args).stdin(Stdio::null()).output()
    }

    fn tgtadm_status(&self, args: &[&str]) -> bool {
        self.tgtadm_run(args).is_ok_and(|o| o.status.success())
    }

    pub fn tgtadm(&self, args: &[&str]) {
        let out = self.tgtadm_run(args).expect("tgtadm");
        assert!(
            out.status.success(),
            "tgtadm {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn spec(&self) -> String {
        if self.addr.contains(':') {
            format!("[{}]:{}", self.addr, self.port)
        } else {
            format!("{}:{}", self.addr, self.port)
        }
    }

    /// Exports `iqn` as target `tid` with one 16 MiB file-backed LUN, open to every initiator.
    pub fn add_target(&self, tid: u32, iqn: &str) {
        let tid = tid.to_string();
        let lun = self.dir.path().join(format!("lun-{tid}.img"));
        std::fs::File::create(&lun).unwrap().set_len(16 << 20).unwrap();
        self.tgtadm(&["--op", "new", "--mode", "target", "--tid", &tid, "-T", iqn]);
        self.tgtadm(&[
            "--op",
            "new",
            "--mode",
            "logicalunit",
            "--tid",
            &tid,
            "--lun",
            "1",
            "-b",
            lun.to_str().unwrap(),
        ]);
        self.tgtadm(&["--op", "bind", "--mode", "target", "--tid", &tid, "-I", "ALL"]);
    }

    pub fn delete_target(&self, tid: u32) {
        self.tgtadm(&[
            "--op",
            "delete",
            "--mode",
            "target",
            "--tid",
            &tid.to_string(),
            "--force",
        ]);
    }

    /// Admits only the initiator named `name` (the ACL by name instead of "ALL").
    pub fn only_initiator(&self, tid: u32, name: &str) {
        let tid = tid.to_string();
        self.tgtadm(&["--op", "unbind", "--mode", "target", "--tid", &tid, "-I", "ALL"]);
        self.admit_initiator(&tid, name);
    }

    /// Adds `name` to the initiators the target admits.
    pub fn admit_initiator(&self, tid: &str, name: &str) {
        self.tgtadm(&[
            "--op",
            "bind",
            "--mode",
            "target",
            "--tid",
            tid,
            "--initiator-name",
            name,
        ]);
    }

    /// Requires CHAP (an incoming account bound to the target).
    pub fn require_chap(&self, tid: u32, user: &str, password: &str) {
        self.tgtadm(&[
            "--op",
            "new",
            "--mode",
            "account",
            "--user",
            user,
            "--password",
            password,
        ]);
        self.tgtadm(&[
            "--op",
            "bind",
            "--mode",
            "account",
            "--tid",
            &tid.to_string(),
            "--user",
            user,
        ]);
    }

    /// Stops tgtd (its supported shutdown; it ignores SIGTERM), SIGKILL if it lingers.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // tgtd refuses to shut down while it exports targets.
        let shown = self
            .tgtadm_run(&["--op", "show", "--mode", "target"])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for tid in shown
            .lines()
            .filter_map(|l| l.strip_prefix("Target ")?.split(':').next()?.parse::<u32>().ok())
        {
            let tid = tid.to_string();
            let _ = self.tgtadm_run(&["--op", "delete", "--mode", "target", "--force", "--tid", &tid]);
        }
        let _ = self.tgtadm_run(&["--op", "delete", "--mode", "system"]);
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(3) {
            if matches!(child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if matches!(child.try_wait(), Ok(None)) {
            let _ = child.kill();
            let _ = child.wait();
        }
        for f in ["", ".lock"] {
            let _ = std::fs::remove_file(format!("/var/run/tgtd/socket.{}{f}", self.ctl));
        }
    }

    /// tgtd again at the same address and port (after `stop`), with no targets.
    pub fn restart(&mut self) {
        self.stop();
        let mut fresh = Tgt::start_at(&self.addr, self.port, self.netns.as_deref());
        std::mem::swap(self, &mut fresh);
    }
}

impl Drop for Tgt {
    fn drop(&mut self) {
        self.stop();
    }
}
