//! Test harness: the built agent run the way Pacemaker runs it (clean environment, OCF
//! variables, a timeout), against a simulated open-iscsi host, so that each test reads as
//! a scenario.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[allow(unused_imports)]
pub use iscsi_simhost::resolver::Resolver;
#[allow(unused_imports)]
pub use iscsi_simhost::{Fault, Leaf, SimHost};

pub mod tgt;

pub const AGENT: &str = env!("CARGO_BIN_EXE_iscsi-mirror");

/// A peer's target portal that answers TCP (the simulated target is "up").
pub struct Portal {
    listener: Option<TcpListener>,
    /// A connection left in a full accept queue: while it is held, the kernel drops every
    /// new SYN, so connecting hangs until the caller's timeout, like a portal whose
    /// packets are dropped on the way (no refusal, no ICMP).
    filler: Option<std::net::TcpStream>,
    pub addr: String,
    pub port: u16,
}

impl Portal {
    /// Listens on `ip` (any 127.x address) at a free port.
    pub fn up(ip: &str) -> Portal {
        let l = TcpListener::bind((ip, 0)).expect("bind a loopback portal");
        let port = l.local_addr().unwrap().port();
        Portal {
            listener: Some(l),
            filler: None,
            addr: ip.to_string(),
            port,
        }
    }

    /// A portal that drops connection attempts instead of refusing them.
    pub fn stalled(ip: &str) -> Portal {
        let mut p = Portal::up(ip);
        p.stall();
        p
    }

    /// From now on connection attempts hang (the listener's accept queue is kept full).
    pub fn stall(&mut self) {
        use std::os::fd::AsRawFd;
        let l = self.listener.get_or_insert_with(|| {
            TcpListener::bind((self.addr.as_str(), self.port)).expect("rebind portal")
        });
        // SAFETY: listen(2) on a socket we own: a backlog of 0 holds one connection.
        assert_eq!(unsafe { libc::listen(l.as_raw_fd(), 0) }, 0);
        // Connections never accepted (earlier probes, logins) may fill the queue already;
        // then this one hangs too, which is the point.
        self.filler =
            std::net::TcpStream::connect_timeout(&l.local_addr().unwrap(), Duration::from_millis(300)).ok();
        // Let the handshake land in the queue before anyone else tries.
        std::thread::sleep(Duration::from_millis(50));
    }

    /// The peer's target stops answering (the storage link is cut).
    pub fn cut(&mut self) {
        self.listener = None;
        self.filler = None;
    }

    pub fn restore(&mut self) {
        self.listener = Some(TcpListener::bind((self.addr.as_str(), self.port)).expect("rebind portal"));
    }

    pub fn spec(&self) -> String {
        format!("{}:{}", self.addr, self.port)
    }
}

/// One run of the agent: what Pacemaker would see.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    /// The exit reason Pacemaker would show: the last `ocf-exit-reason:` line.
    pub fn reason(&self) -> String {
        self.stderr
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("ocf-exit-reason:"))
            .unwrap_or("")
            .to_string()
    }

    pub fn expect(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "expected exit {code}, got {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        // Pacemaker keeps 128 characters of an exit reason; ours must fit whole.
        assert!(
            self.reason().len() <= 128 && !self.reason().ends_with("..."),
            "exit reason too long: {:?}",
            self.reason()
        );
        assert_ne!(self.code, 101, "a panic reached the user");
        self
    }

    pub fn reason_mentions(&self, words: &[&str]) -> &Self {
        let r = self.reason();
        for w in words {
            assert!(
                r.contains(w),
                "exit reason {r:?} does not mention {w:?}\nstderr:\n{}",
                self.stderr
            );
        }
        self
    }
}

/// The agent as one resource instance configured with OCF_RESKEY_* parameters.
pub struct Agent {
    env: BTreeMap<String, String>,
    _rsctmp: tempfile::TempDir,
    uid: Option<u32>,
    resolver: Option<Resolver>,
}

/// The two storage nodes' targets in the scenarios.
pub const IQN_A: &str = "iqn.2025-01.lab.home:storage-a";
pub const IQN_B: &str = "iqn.2025-01.lab.home:storage-b";

impl Agent {
    /// storage-a's instance of the clone in peers mode: its own target (never dialled) and
    /// storage-b's behind `portals` (PORTAL,PORTAL,...).
    pub fn storage_a(sim: &SimHost, portals: &str) -> Agent {
        let mut a = Agent::new(sim);
        a.param(
            "peers",
            &format!("storage-a={IQN_A}@127.0.0.9:3260 storage-b={IQN_B}@{portals}"),
        )
        .var("OCF_RESKEY_CRM_meta_on_node", "storage-a");
        a
    }

    pub fn new(sim: &SimHost) -> Agent {
        let rsctmp = tempfile::tempdir().unwrap();
        let mut env = BTreeMap::new();
        for (k, v) in [
            ("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            ("OCF_ROOT", "/usr/lib/ocf"),
            ("OCF_RA_VERSION_MAJOR", "1"),
            ("OCF_RA_VERSION_MINOR", "1"),
            ("OCF_RESOURCE_INSTANCE", "mirror"),
            ("OCF_RESOURCE_TYPE", "iscsi-mirror"),
            ("OCF_RESOURCE_PROVIDER", "san"),
            ("OCF_EXIT_REASON_PREFIX", "ocf-exit-reason:"),
            ("OCF_RESKEY_CRM_meta_timeout", "20000"),
            ("OCF_RESKEY_reconnect_jitter", "200"),
            // No cluster in these tests: crm_mon is absent, the state is "unknown".
            ("OCF_RESKEY_crm_mon", "/nonexistent/crm_mon"),
        ] {
            env.insert(k.to_string(), v.to_string());
        }
        env.insert("HA_RSCTMP".into(), rsctmp.path().display().to_string());
        env.insert(
            "OCF_RESKEY_iscsiadm".into(),
            sim.iscsiadm_path().display().to_string(),
        );
        env.insert("OCF_RESKEY_host_root".into(), sim.root().display().to_string());
        Agent {
            env,
            _rsctmp: rsctmp,
            uid: None,
            resolver: None,
        }
    }

    pub fn param(&mut self, name: &str, value: &str) -> &mut Self {
        self.env.insert(format!("OCF_RESKEY_{name}"), value.to_string());
        self
    }

    pub fn unset(&mut self, name: &str) -> &mut Self {
        self.env.remove(&format!("OCF_RESKEY_{name}"));
        self
    }

    pub fn var(&mut self, name: &str, value: &str) -> &mut Self {
        self.env.insert(name.to_string(), value.to_string());
        self
    }

    /// Runs the agent (and so the iscsiadm it runs) with this name service, or the host's.
    pub fn resolver(&mut self, r: Option<&Resolver>) -> &mut Self {
        self.resolver = r.cloned();
        self
    }

    pub fn as_user(&mut self, uid: u32) -> &mut Self {
        self.uid = Some(uid);
        self
    }

    pub fn rsctmp(&self) -> PathBuf {
        PathBuf::from(&self.env["HA_RSCTMP"])
    }

    pub fn run(&self, action: &str) -> Run {
        self.run_with(action, &[])
    }

    fn command(&self, action: &str, extra: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(AGENT);
        cmd.arg(action).env_clear().envs(&self.env).stdin(Stdio::null());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        if let Some(uid) = self.uid {
            cmd.uid(uid).gid(uid);
        }
        if let Some(r) = &self.resolver {
            r.apply(&mut cmd);
        }
        cmd
    }

    pub fn run_with(&self, action: &str, extra: &[(&str, &str)]) -> Run {
        let t = Instant::now();
        let out = self.command(action, extra).output().expect("run the agent");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed: t.elapsed(),
        }
    }

    /// `run_with`, but an agent still running after `limit` is killed (its code is then
    /// -1): a regression that hangs fails its test instead of hanging the suite.
    pub fn run_within(&self, action: &str, extra: &[(&str, &str)], limit: Duration) -> Run {
        use std::io::Read;
        let t = Instant::now();
        let mut child = self
            .command(action, extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the agent");
        fn collect(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut p) = pipe {
                    let _ = p.read_to_end(&mut buf);
                }
                String::from_utf8_lossy(&buf).into_owned()
            })
        }
        let (out, err) = (collect(child.stdout.take()), collect(child.stderr.take()));
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for the agent") {
                break Some(status);
            }
            if t.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let elapsed = t.elapsed();
        Run {
            code: status.and_then(|s| s.code()).unwrap_or(-1),
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
            elapsed,
        }
    }

    pub fn start(&self) -> Run {
        self.run("start")
    }
    pub fn stop(&self) -> Run {
        self.run("stop")
    }
    /// A recurring monitor (interval 10 s).
    pub fn monitor(&self) -> Run {
        self.run_with("monitor", &[("OCF_RESKEY_CRM_meta_interval", "10000")])
    }
    /// A probe: monitor without an interval.
    pub fn probe(&self) -> Run {
        self.run_with("monitor", &[("OCF_RESKEY_CRM_meta_interval", "0")])
    }
}

/// A simulated host with one target behind the given portals.
pub fn host_with_target(iqn: &str, portals: &[&Portal]) -> (tempfile::TempDir, SimHost) {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimHost::create(dir.path().join("host")).expect("create the simulated host");
    let specs: Vec<String> = portals.iter().map(|p| p.spec()).collect();
    let refs: Vec<&str> = specs.iter().map(String::as_str).collect();
    sim.add_target(iqn, &refs, 1).unwrap();
    (dir, sim)
}

pub fn count_invocations(sim: &SimHost, word: &str) -> usize {
    sim.invocations()
        .iter()
        .filter(|i| i.argv.iter().any(|a| a == word))
        .count()
}

pub fn path_exists(p: &Path) -> bool {
    p.symlink_metadata().is_ok()
}

/// The session goes away (as when iscsid gives up on it or an admin logs it out).
pub fn drop_session(sim: &SimHost, sid: u32) {
    let out = sim.run(&["-m", "session", "-r", &sid.to_string(), "-u"]).unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// Sets a node record value the way an admin would, with the (simulated) iscsiadm.
pub fn set_record(sim: &SimHost, iqn: &str, portal: &str, key: &str, value: &str) {
    let out = sim
        .run(&[
            "-m", "node", "-T", iqn, "-p", portal, "-o", "update", "-n", key, "-v", value,
        ])
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// Stand-ins for Pacemaker's command-line tools, in one directory: the agent finds
/// attrd_updater, crm_attribute, cibadmin and crm_node beside the crm_mon it is given.
/// Each records its arguments; crm_mon prints a saved document (a fixture made by real
/// Pacemaker) or fails as it does without a cluster.
pub struct PacemakerTools {
    pub dir: tempfile::TempDir,
}

impl PacemakerTools {
    pub fn new() -> PacemakerTools {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        for tool in [
            "attrd_updater",
            "crm_attribute",
            "cibadmin",
            "crm_node",
            "crm_mon",
        ] {
            let log = dir.path().join(format!("{tool}.log"));
            let body = if tool == "crm_mon" {
                format!(
                    "#!/bin/sh\necho \"$@\" >> {log}\nif [ -f {doc} ]; then cat {doc}; exit 0; fi\n\
echo '<pacemaker-result api-version=\"2.25\" request=\"crm_mon\"><status code=\"102\" message=\"Not connected\"/></pacemaker-result>'\nexit 102\n",
                    log = log.display(),
                    doc = dir.path().join("crm_mon.xml").display()
                )
            } else {
                format!("#!/bin/sh\nprintf '%s\\n' \"$*\" >> {}\nexit 0\n", log.display())
            };
            let p = dir.path().join(tool);
            std::fs::write(&p, body).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        PacemakerTools { dir }
    }

    pub fn crm_mon(&self) -> String {
        self.dir.path().join("crm_mon").display().to_string()
    }

    /// crm_mon will print this fixture (tests/fixtures/crm_mon/NAME).
    pub fn show(&self, fixture: &str) {
        let src = format!("{}/tests/fixtures/crm_mon/{fixture}", env!("CARGO_MANIFEST_DIR"));
        std::fs::copy(src, self.dir.path().join("crm_mon.xml")).unwrap();
    }

    /// Every call of `tool`, one line of arguments each.
    pub fn calls(&self, tool: &str) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join(format!("{tool}.log")))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// A CIB with the resource, made by the real pcs on a file (no cluster needed).
pub fn cib_with_mirror(dir: &Path, params: &[String]) -> PathBuf {
    let cib = dir.join("cib.xml");
    let empty = Command::new("cibadmin")
        .arg("--empty")
        .output()
        .expect("cibadmin (pacemaker-cli-utils)");
    std::fs::write(&cib, &empty.stdout).unwrap();
    let out = Command::new("pcs")
        .arg("-f")
        .arg(&cib)
        .args(["resource", "create", "mirror", "ocf:san:iscsi-mirror"])
        .args(params)
        .args(["clone", "--force"])
        .output()
        .expect("pcs");
    assert!(
        out.status.success(),
        "pcs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    cib
}

/// Which of some files anything opens or reads (inotify: the files' inodes, so opens
/// through a bind mount in another mount namespace count too).
pub struct Watch {
    fd: std::os::fd::OwnedFd,
    watches: Vec<(i32, PathBuf)>,
}

impl Watch {
    pub fn new(paths: &[&Path]) -> Watch {
        use std::os::fd::FromRawFd;
        use std::os::unix::ffi::OsStrExt;
        // SAFETY: plain system calls; the descriptor is owned from here on.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        assert!(raw >= 0, "inotify_init1: {}", std::io::Error::last_os_error());
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) };
        let watches = paths
            .iter()
            .map(|p| {
                let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
                // SAFETY: a valid descriptor and a NUL-terminated path.
                let wd = unsafe { libc::inotify_add_watch(raw, c.as_ptr(), libc::IN_OPEN | libc::IN_ACCESS) };
                assert!(
                    wd >= 0,
                    "inotify_add_watch {}: {}",
                    p.display(),
                    std::io::Error::last_os_error()
                );
                (wd, p.to_path_buf())
            })
            .collect();
        Watch { fd, watches }
    }

    /// The watched files opened or read since the last call.
    pub fn touched(&self) -> Vec<PathBuf> {
        use std::os::fd::AsRawFd;
        let mut out: Vec<PathBuf> = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: reading into a buffer we own, of its length.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            let n = n as usize;
            let mut at = 0;
            // struct inotify_event: wd i32, mask u32, cookie u32, len u32, name[len]
            while at + 16 <= n {
                let wd = i32::from_ne_bytes(buf[at..at + 4].try_into().unwrap());
                let len = u32::from_ne_bytes(buf[at + 12..at + 16].try_into().unwrap()) as usize;
                if let Some((_, p)) = self.watches.iter().find(|(w, _)| *w == wd) {
                    if !out.contains(p) {
                        out.push(p.clone());
                    }
                }
                at += 16 + len;
            }
        }
        out
    }
}
