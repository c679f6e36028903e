//! `iscsi-mirror doctor` scenarios on the simulated host: storage-a's instance of the clone
//! with its leg to storage-b, whose target is a real tgtd on loopback (so the login probe
//! talks to a real iSCSI target), Pacemaker's tools stood in by their doubles, iscsid by a
//! process of that name whose pid is in the simulated host's /run/iscsid.pid.

mod util;

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::Value;
use util::tgt::Tgt;
use util::*;

/// A process named iscsid (a copy of sleep), its pid in `<root>/run/iscsid.pid`.
struct Iscsid {
    child: Option<Child>,
    _bin: tempfile::TempDir,
}

impl Iscsid {
    fn start(root: &Path) -> Iscsid {
        let bin = tempfile::tempdir().unwrap();
        let exe = bin.path().join("iscsid");
        std::fs::copy("/bin/sleep", &exe).unwrap();
        let child = Command::new(&exe).arg("3600").spawn().unwrap();
        std::fs::create_dir_all(root.join("run")).unwrap();
        std::fs::write(root.join("run/iscsid.pid"), format!("{}\n", child.id())).unwrap();
        Iscsid {
            child: Some(child),
            _bin: bin,
        }
    }

    /// iscsid dies; its pid file stays behind, as after a crash.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Iscsid {
    fn drop(&mut self) {
        self.kill();
    }
}

/// storage-a with its leg to storage-b (a tgtd), started by the agent.
struct Scene {
    tgt: Tgt,
    sim: SimHost,
    agent: Agent,
    pcmk: PacemakerTools,
    iscsid: Iscsid,
    peers: String,
    _dir: tempfile::TempDir,
}

impl Scene {
    fn new() -> Scene {
        Scene::build(false)
    }

    /// With san-pool imported here: mirror(a local disk, storage-b's LUN over the leg).
    fn with_pool() -> Scene {
        Scene::build(true)
    }

    fn build(pool: bool) -> Scene {
        let tgt = Tgt::start("127.0.0.1");
        tgt.add_target(1, IQN_B);
        let dir = tempfile::tempdir().unwrap();
        let sim = SimHost::create(dir.path().join("host")).unwrap();
        sim.add_target(IQN_B, &[&tgt.spec()], 1).unwrap();
        let pcmk = PacemakerTools::new();
        pcmk.show("two-node-both-online.xml");
        let mut agent = Agent::storage_a(&sim, &tgt.spec());
        agent.param("crm_mon", &pcmk.crm_mon());
        if pool {
            agent
                .param("pool", "san-pool")
                .param("zpool", sim.zpool_path().to_str().unwrap());
        }
        agent.start().expect(0);
        if pool {
            let sid = sim.sessions()[0].sid;
            sim.create_pool(
                "san-pool",
                &[Leaf::Local("/dev/vdb1".into()), Leaf::Remote { sid, lun: 0 }],
            )
            .unwrap();
        }
        let iscsid = Iscsid::start(sim.root());
        Scene {
            peers: format!(
                "storage-a={IQN_A}@127.0.0.9:3260 storage-b={IQN_B}@{}",
                tgt.spec()
            ),
            tgt,
            sim,
            agent,
            pcmk,
            iscsid,
            _dir: dir,
        }
    }

    fn params(&self) -> Vec<String> {
        let mut p = vec![
            format!("peers={}", self.peers),
            format!("iscsiadm={}", self.sim.iscsiadm_path().display()),
            format!("host_root={}", self.sim.root().display()),
            format!("crm_mon={}", self.pcmk.crm_mon()),
            "reconnect_jitter=100".to_string(),
        ];
        if self.sim.pool("san-pool").is_some() {
            p.push("pool=san-pool".into());
            p.push(format!("zpool={}", self.sim.zpool_path().display()));
        }
        p
    }

    fn command(&self, extra: &[&str]) -> Command {
        let mut c = Command::new(AGENT);
        c.env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .args([
                "doctor",
                "--node",
                "storage-a",
                "--resource",
                "mirror",
                "--rsc-tmp",
            ])
            .arg(self.agent.rsctmp());
        for p in self.params() {
            c.arg("--param").arg(p);
        }
        c.args(extra);
        c
    }

    fn doctor(&self, extra: &[&str]) -> Run {
        run(self.command(extra))
    }

    /// `doctor --json`: the exit code and the document.
    fn json(&self, extra: &[&str]) -> (i32, Value) {
        let mut args = vec!["--json"];
        args.extend_from_slice(extra);
        let r = self.doctor(&args);
        let v = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("{e}\nstdout:\n{}\nstderr:\n{}", r.stdout, r.stderr));
        (r.code, v)
    }

    fn sid(&self) -> u32 {
        self.sim.sessions()[0].sid
    }
}

/// With DOCTOR_SHOW set, prints a run's text for docs/doctor.md's examples
/// (`DOCTOR_SHOW=1 cargo test --test doctor -- --nocapture --test-threads 1`).
fn show(label: &str, r: &Run) {
    if std::env::var_os("DOCTOR_SHOW").is_some() {
        eprintln!("==== {label} (exit {})\n{}", r.code, r.stdout);
    }
}

fn run(mut c: Command) -> Run {
    let t = Instant::now();
    let out = c.output().expect("run iscsi-mirror doctor");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: t.elapsed(),
    }
}

/// The finding of `check` (the first, or the one whose subject contains `subject`).
fn finding<'a>(v: &'a Value, check: &str) -> &'a Value {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == check)
        .unwrap_or_else(|| panic!("no {check} finding in {v:#}"))
}

fn grade(v: &Value, check: &str) -> String {
    finding(v, check)["grade"].as_str().unwrap().to_string()
}

fn why(v: &Value, check: &str) -> String {
    finding(v, check)["why"].as_str().unwrap().to_string()
}

#[test]
fn a_whole_mirror_is_all_ok_and_the_json_has_its_shape() {
    let s = Scene::new();
    let (code, v) = s.json(&[]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["resource"], "mirror");
    assert_eq!(v["node"], "storage-a");
    assert_eq!(v["fix"], false);
    assert_eq!(v["verdict"], "ok");
    assert_eq!(v["exit_code"], 0);
    for f in v["findings"].as_array().unwrap() {
        assert!(f["step"].as_u64().is_some_and(|s| (1..=6).contains(&s)), "{f}");
        for key in ["check", "subject", "grade", "why"] {
            assert!(f[key].is_string(), "{key} in {f}");
        }
        assert!(f["evidence"].is_array(), "{f}");
        assert!(f["next"].is_string() || f["next"].is_null(), "{f}");
        assert!(
            ["ok", "warn", "fail", "skipped"].contains(&f["grade"].as_str().unwrap()),
            "{f}"
        );
    }
    for check in [
        "sessions",
        "portal_tcp",
        "interface",
        "target_login",
        "chap",
        "iscsid",
        "reconnect",
    ] {
        assert_eq!(grade(&v, check), "ok", "{check}: {v:#}");
    }
    // Loopback: no link to check the MTU of; no pool configured.
    assert_eq!(grade(&v, "path_mtu"), "skipped");
    for check in ["pool", "zfs_online", "resilver"] {
        assert_eq!(grade(&v, check), "skipped", "{check}");
    }
    assert!(why(&v, "target_login").contains("login accepted"), "{v:#}");
    assert_eq!(v["reconnect"]["option"], Value::Null);
    assert_eq!(v["reconnect"]["not"].as_array().unwrap().len(), 4);
    assert_eq!(v["actions"].as_array().unwrap().len(), 0);
    assert!(v["summary"]["ok"].as_u64().unwrap() >= 7);
    // The text reads like the procedure.
    let t = s.doctor(&[]);
    show("a whole mirror", &t);
    assert_eq!(t.code, 0, "{}", t.stdout);
    for step in [
        "Step 1: Verify session state",
        "Step 3: Diagnose the root cause",
        "Step 6: Monitor resilver",
        "Result:",
    ] {
        assert!(t.stdout.contains(step), "{step}:\n{}", t.stdout);
    }
}

#[test]
fn the_same_resource_read_from_a_cib_gives_the_same_findings() {
    let s = Scene::new();
    let dir = tempfile::tempdir().unwrap();
    let cib = dir.path().join("cib.xml");
    let empty = Command::new("cibadmin")
        .arg("--empty")
        .output()
        .expect("cibadmin");
    std::fs::write(&cib, &empty.stdout).unwrap();
    let out = Command::new("pcs")
        .arg("-f")
        .arg(&cib)
        .args(["resource", "create", "mirror", "ocf:san:iscsi-mirror"])
        .args(s.params())
        .args(["clone", "--force"])
        .output()
        .expect("pcs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let by_flags = s.json(&[]).1;
    let mut c = Command::new(AGENT);
    c.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .args(["doctor", "--json", "--node", "storage-a", "--rsc-tmp"])
        .arg(s.agent.rsctmp())
        .arg("--cib-xml")
        .arg(&cib);
    let r = run(c);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let by_cib: Value = serde_json::from_str(&r.stdout).unwrap();
    let grades = |v: &Value| -> Vec<(String, String)> {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["check"].to_string(), f["grade"].to_string()))
            .collect()
    };
    assert_eq!(grades(&by_cib), grades(&by_flags));
    assert_eq!(by_cib["resource"], "mirror");
}

#[test]
fn during_a_cut_it_names_the_storage_address_and_after_the_restore_fix_logs_in_by_option_c() {
    let mut s = Scene::new();
    let sid = s.sid();
    // The storage link is cut: the target does not answer, the kernel's session FAILED.
    s.tgt.stop();
    s.sim.set_session_state(sid, "FAILED").unwrap();
    show("the storage link cut", &s.doctor(&[]));
    let (code, v) = s.json(&[]);
    assert_eq!(code, 2, "{v:#}");
    assert_eq!(grade(&v, "sessions"), "fail");
    assert!(why(&v, "sessions").starts_with("FAILED"), "{v:#}");
    assert_eq!(grade(&v, "portal_tcp"), "fail");
    assert!(why(&v, "portal_tcp").contains("does not accept a TCP connection"));
    assert_eq!(grade(&v, "target_login"), "skipped");
    assert_eq!(grade(&v, "reconnect"), "fail");
    assert!(
        why(&v, "reconnect").contains("root cause") && why(&v, "reconnect").contains("then C"),
        "{v:#}"
    );
    // --fix repairs nothing while the root cause stands.
    let logins = count_invocations(&s.sim, "--login");
    let (code, v) = s.json(&["--fix"]);
    assert_eq!(code, 2);
    assert_eq!(v["actions"].as_array().unwrap().len(), 0, "{v:#}");
    assert_eq!(count_invocations(&s.sim, "--login"), logins);
    // The link is back; the kernel's session is still FAILED (the simulated kernel does
    // not retry): option C fits, for this path.
    s.tgt.restart();
    s.tgt.add_target(1, IQN_B);
    let (code, v) = s.json(&[]);
    assert_eq!(code, 2, "{v:#}");
    assert_eq!(grade(&v, "portal_tcp"), "ok");
    assert_eq!(grade(&v, "target_login"), "ok");
    assert_eq!(grade(&v, "reconnect"), "warn");
    assert_eq!(v["reconnect"]["option"], "C");
    let next = finding(&v, "reconnect")["next"].as_str().unwrap().to_string();
    assert!(
        next.contains(&format!("iscsiadm -m session -r {sid} --logout"))
            && next.contains(&format!("-T {IQN_B} -p {} --login", s.tgt.spec())),
        "{next}"
    );
    let text = s.doctor(&[]);
    show("the link restored, the session still FAILED", &text);
    assert!(
        text.stdout.contains("option C (targeted logout and login"),
        "{}",
        text.stdout
    );
    // --fix: the stale session logged out by its id, the exact record logged in, nothing else.
    let before = s.sim.invocations().len();
    let (code, v) = s.json(&["--fix"]);
    assert_eq!(code, 0, "{v:#}");
    let done: Vec<String> = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} -> {}",
                a["command"].as_str().unwrap(),
                a["outcome"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        done,
        vec![
            format!("iscsiadm -m session -r {sid} --logout -> logged out"),
            format!(
                "iscsiadm -m node -T {IQN_B} -p {} --login -> logged in",
                s.tgt.spec()
            ),
        ]
    );
    assert_eq!(
        v["before_fix"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["grade"] == "fail")
            .count(),
        1
    );
    let runs: Vec<Vec<String>> = s.sim.invocations()[before..]
        .iter()
        .map(|i| i.argv.clone())
        .collect();
    for argv in &runs {
        let changes = argv
            .iter()
            .any(|a| a.contains("login") || a.contains("logout") || a == "-u" || a == "-l");
        if changes {
            let exact = argv.windows(2).any(|w| w[0] == "-r" && w[1] == sid.to_string())
                || (argv.contains(&IQN_B.to_string()) && argv.contains(&s.tgt.spec()));
            assert!(
                exact,
                "doctor --fix ran a login/logout not of this path: {argv:?}"
            );
            assert!(
                !argv
                    .iter()
                    .any(|a| a.starts_with("--loginall") || a.starts_with("--logoutall")),
                "{argv:?}"
            );
        }
    }
    assert_eq!(grade(&v, "sessions"), "ok");
    assert_eq!(s.sim.sessions().len(), 1);
    // The same again, as an admin reads it: what was found, what --fix did, what is now.
    let sid = s.sid();
    s.sim.set_session_state(sid, "FAILED").unwrap();
    let text = s.doctor(&["--fix"]);
    show("doctor --fix", &text);
    assert_eq!(text.code, 0, "{}", text.stdout);
    for line in [
        "Before --fix:".to_string(),
        format!("[done] iscsiadm -m session -r {sid} --logout: logged out"),
        "After --fix:".to_string(),
        "Result: ".to_string(),
    ] {
        assert!(text.stdout.contains(&line), "{line}:\n{}", text.stdout);
    }
}

#[test]
fn a_target_that_is_not_exported_is_named_with_the_login_status() {
    let s = Scene::new();
    // The peer's target service runs, exporting another target only.
    s.tgt.add_target(2, "iqn.2025-01.lab.home:other");
    s.tgt.delete_target(1);
    drop_session(&s.sim, s.sid());
    let (code, v) = s.json(&[]);
    assert_eq!(code, 2, "{v:#}");
    assert_eq!(grade(&v, "portal_tcp"), "ok");
    assert_eq!(grade(&v, "target_login"), "fail");
    assert!(why(&v, "target_login").contains("is not exported at"), "{v:#}");
    let ev = finding(&v, "target_login")["evidence"].to_string();
    assert!(ev.contains("status 02/03 (target_not_found)"), "{ev}");
    assert_eq!(grade(&v, "reconnect"), "fail");
    assert_eq!(v["reconnect"]["option"], Value::Null);
    // Exporting nothing at all, tgtd drops the login unanswered.
    s.tgt.delete_target(2);
    let (code, v) = s.json(&[]);
    assert_eq!(code, 2, "{v:#}");
    assert!(
        why(&v, "target_login").contains("gave no iSCSI login answer"),
        "{v:#}"
    );
    assert!(finding(&v, "target_login")["next"]
        .as_str()
        .unwrap()
        .contains("exporting targets"));
}

#[test]
fn a_chap_failure_of_the_last_logins_is_a_failure_and_says_what_to_compare() {
    let s = Scene::new();
    s.tgt.require_chap(1, "mirror", "secret-123456");
    let (_, v) = s.json(&[]);
    assert_eq!(grade(&v, "chap"), "ok");
    assert!(why(&v, "chap").contains("requires CHAP"), "{v:#}");
    assert!(why(&v, "target_login").contains("requires CHAP"), "{v:#}");
    // The session is lost and the monitor's login is refused: CHAP (iscsiadm exit 24).
    drop_session(&s.sim, s.sid());
    s.sim.set_fault(Fault::AuthFail(IQN_B.into())).unwrap();
    s.agent.monitor().expect(1);
    let (code, v) = s.json(&[]);
    assert_eq!(code, 2, "{v:#}");
    assert_eq!(grade(&v, "chap"), "fail");
    let f = finding(&v, "chap");
    assert!(f["why"].as_str().unwrap().contains("CHAP authentication failed"));
    assert!(
        f["evidence"].to_string().contains("1 failed login attempt(s)"),
        "{f}"
    );
    assert!(f["next"].as_str().unwrap().contains("node.session.auth"), "{f}");
    assert_eq!(grade(&v, "reconnect"), "fail");
    // No secret in what doctor prints.
    let t = s.doctor(&[]);
    assert!(!t.stdout.contains("secret-123456") && !t.stderr.contains("secret-123456"));
}

#[test]
fn iscsid_down_calls_for_starting_it_prints_d_with_its_warning_and_runs_nothing() {
    let mut s = Scene::new();
    s.iscsid.kill();
    s.sim.set_fault(Fault::IscsidDown).unwrap();
    s.sim.set_session_state(s.sid(), "FAILED").unwrap();
    let (code, v) = s.json(&[]);
    assert_eq!(code, 2, "{v:#}");
    assert_eq!(grade(&v, "iscsid"), "fail");
    assert!(
        finding(&v, "iscsid")["evidence"]
            .to_string()
            .contains("not running (a stale pid file)"),
        "{v:#}"
    );
    assert_eq!(v["reconnect"]["option"], "D");
    let next = finding(&v, "reconnect")["next"].as_str().unwrap().to_string();
    assert!(
        next.contains("systemctl start iscsid")
            && next.contains("WARNING")
            && next.contains("ALL iSCSI sessions"),
        "{next}"
    );
    let before = s.sim.invocations().len();
    let (code, v) = s.json(&["--fix"]);
    assert_eq!(code, 2);
    assert_eq!(v["actions"].as_array().unwrap().len(), 0, "{v:#}");
    assert_eq!(
        s.sim.invocations().len(),
        before,
        "doctor --fix ran iscsiadm with iscsid down"
    );
}

#[test]
fn nothing_holds_it_past_its_deadline() {
    // A portal that accepts TCP and never answers, and an iscsiadm that hangs.
    let s = Scene::new();
    let sid = s.sid();
    s.sim.set_session_state(sid, "FAILED").unwrap();
    s.sim.set_fault(Fault::Hang("any".into())).unwrap();
    let r = s.doctor(&["--json", "--fix", "--deadline", "8"]);
    assert!(r.elapsed < Duration::from_secs(10), "{:?}", r.elapsed);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let outcomes = v["actions"].to_string();
    assert!(outcomes.contains("timed out and was killed"), "{v:#}");
    let silent = Portal::up("127.0.0.3");
    let mut c = Command::new(AGENT);
    c.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .args(["doctor", "--json", "--deadline", "5", "--node", "storage-a"])
        .args([
            "--param",
            &format!("portal={}", silent.spec()),
            "--param",
            &format!("target={IQN_B}"),
        ])
        .args([
            "--param",
            &format!("iscsiadm={}", s.sim.iscsiadm_path().display()),
        ])
        .args(["--param", &format!("host_root={}", s.sim.root().display())])
        .args(["--param", "crm_mon=/nonexistent/crm_mon"]);
    let r = run(c);
    assert!(r.elapsed < Duration::from_secs(7), "{:?}", r.elapsed);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(grade(&v, "target_login"), "fail");
    assert!(
        why(&v, "target_login").contains("gave no iSCSI login answer"),
        "{v:#}"
    );
}

/// Two network namespaces joined by a veth pair: storage-a's side `a` (198.18.0.1/24 on
/// `va`) and storage-b's side `b` (198.18.0.2/24 on `vb`). Deleted when dropped.
struct Link {
    a: String,
    b: String,
}

impl Link {
    fn ip(args: &[&str]) {
        let out = Command::new("ip").args(args).output().expect("ip (iproute2)");
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn new(mtu_a: u32, mtu_b: u32) -> Link {
        let id = std::process::id();
        let l = Link {
            a: format!("imd{id}a"),
            b: format!("imd{id}b"),
        };
        Link::ip(&["netns", "add", &l.a]);
        Link::ip(&["netns", "add", &l.b]);
        Link::ip(&[
            "link", "add", "va", "netns", &l.a, "type", "veth", "peer", "name", "vb", "netns", &l.b,
        ]);
        Link::ip(&["-n", &l.a, "addr", "add", "198.18.0.1/24", "dev", "va"]);
        Link::ip(&["-n", &l.b, "addr", "add", "198.18.0.2/24", "dev", "vb"]);
        for (ns, dev, mtu) in [(&l.a, "va", mtu_a), (&l.b, "vb", mtu_b)] {
            Link::ip(&["-n", ns, "link", "set", dev, "mtu", &mtu.to_string(), "up"]);
            Link::ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        l
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

#[test]
fn in_network_namespaces_the_link_and_an_mtu_mismatch_are_named() {
    // storage-a's storage interface has MTU 9000, storage-b's 1500.
    let link = Link::new(9000, 1500);
    let tgt = Tgt::start_at("198.18.0.2", 3260, Some(&link.b));
    tgt.add_target(1, IQN_B);
    let dir = tempfile::tempdir().unwrap();
    let sim = SimHost::create(dir.path().join("host")).unwrap();
    let _iscsid = Iscsid::start(sim.root());
    let command = |json: bool| {
        let mut c = Command::new("ip");
        c.env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .args(["netns", "exec", &link.a, AGENT, "doctor", "--node", "storage-a"])
            .args([
                "--param",
                "portal=198.18.0.2:3260",
                "--param",
                &format!("target={IQN_B}"),
            ])
            .args(["--param", &format!("iscsiadm={}", sim.iscsiadm_path().display())])
            .args(["--param", &format!("host_root={}", sim.root().display())])
            .args(["--param", "crm_mon=/nonexistent/crm_mon"]);
        if json {
            c.arg("--json");
        }
        c
    };
    let doctor = || {
        let r = run(command(true));
        let v: Value =
            serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", r.stdout, r.stderr));
        (r.code, v)
    };
    let (code, v) = doctor();
    assert_eq!(code, 2, "{v:#}");
    show("MTU 9000 here, 1500 on the peer", &run(command(false)));
    // TCP and the iSCSI login pass (small packets); 9000-byte frames do not.
    assert_eq!(grade(&v, "portal_tcp"), "ok", "{v:#}");
    assert_eq!(grade(&v, "target_login"), "ok", "{v:#}");
    assert_eq!(grade(&v, "interface"), "ok");
    assert!(why(&v, "interface").contains("va is up, mtu 9000"), "{v:#}");
    assert_eq!(grade(&v, "path_mtu"), "fail");
    assert!(
        why(&v, "path_mtu").contains(
            "MTU mismatch: va has MTU 9000, the path carries 1500-byte packets but not 9000-byte ones"
        ),
        "{v:#}"
    );
    let ev = finding(&v, "path_mtu")["evidence"].to_string();
    assert!(
        ev.contains("ping -M do -s 8972 198.18.0.2: 0/") && ev.contains("-s 1472 198.18.0.2: 2/2 answered"),
        "{ev}"
    );
    // Both ends at 9000: the jumbo path is whole.
    Link::ip(&["-n", &link.b, "link", "set", "vb", "mtu", "9000"]);
    let (code, v) = doctor();
    assert_eq!(grade(&v, "path_mtu"), "ok", "{v:#}");
    assert!(why(&v, "path_mtu").contains("carries 9000-byte packets"));
    assert_eq!(code, 0, "{v:#}");
    // A route that allows less than the interface: ping's own words name it.
    Link::ip(&[
        "-n",
        &link.a,
        "route",
        "replace",
        "198.18.0.0/24",
        "dev",
        "va",
        "mtu",
        "lock",
        "1500",
    ]);
    let (_, v) = doctor();
    assert!(
        why(&v, "path_mtu").contains("the route to 198.18.0.2 allows only 1500 bytes"),
        "{v:#}"
    );
    // The far side's link goes down: no carrier here.
    Link::ip(&["-n", &link.b, "link", "set", "vb", "down"]);
    let (code, v) = doctor();
    assert_eq!(code, 2);
    assert_eq!(grade(&v, "portal_tcp"), "fail", "{v:#}");
    assert_eq!(grade(&v, "interface"), "fail", "{v:#}");
    assert!(why(&v, "interface").contains("no carrier"), "{v:#}");
    assert_eq!(grade(&v, "target_login"), "skipped");
    // This side's interface taken down: no route, and which interface holds the subnet.
    Link::ip(&["-n", &link.a, "link", "set", "va", "down"]);
    let (_, v) = doctor();
    assert!(
        why(&v, "interface").contains("no route to 198.18.0.2")
            && why(&v, "interface").contains("va is administratively down"),
        "{v:#}"
    );
    assert_eq!(finding(&v, "interface")["next"], "ip link set dev va up");
}

#[test]
fn a_faulted_vdev_whose_session_is_back_is_onlined_by_fix_and_the_resilver_followed_to_safe() {
    let mut s = Scene::with_pool();
    let remote = s.sim.remote_leaf(s.sid(), 0).unwrap();
    let (code, v) = s.json(&[]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(grade(&v, "pool"), "ok");
    assert!(why(&v, "resilver").contains("safe to fail back"), "{v:#}");
    assert_eq!(v["safe_to_fail_back"], true);
    // The storage link drops long enough for ZFS to fault the remote leaf; the monitor
    // marks storage-b's half outdated. Then the link returns and the kernel recovers the
    // same session; the leaf stays FAULTED (as recorded on ZFS 2.3.2).
    let sid = s.sid();
    s.tgt.stop();
    s.sim.set_session_state(sid, "FREE").unwrap();
    s.sim.fault_leaf("san-pool", &remote).unwrap();
    s.agent.monitor().expect(190);
    let (code, v) = s.json(&[]);
    assert_eq!(code, 2, "{v:#}");
    assert_eq!(grade(&v, "pool"), "fail");
    assert!(why(&v, "pool").contains("FAULTED, its session down"), "{v:#}");
    assert!(
        finding(&v, "pool")["evidence"]
            .to_string()
            .contains("storage-b's half is marked outdated"),
        "{v:#}"
    );
    assert_eq!(grade(&v, "zfs_online"), "skipped");
    s.tgt.restart();
    s.tgt.add_target(1, IQN_B);
    s.sim.set_session_state(sid, "LOGGED_IN").unwrap();
    let (code, v) = s.json(&[]);
    assert_eq!(code, 2, "{v:#}");
    assert_eq!(grade(&v, "sessions"), "ok");
    assert_eq!(grade(&v, "pool"), "warn");
    assert!(
        why(&v, "pool").contains("FAULTED though its session is back"),
        "{v:#}"
    );
    assert!(
        finding(&v, "pool")["evidence"]
            .to_string()
            .contains(&format!("storage-b's disk, carried by session {sid} (LOGGED_IN)")),
        "{v:#}"
    );
    // Read-only, seen for the first time: doctor says it would watch the session first.
    assert_eq!(grade(&v, "zfs_online"), "warn");
    assert!(
        why(&v, "zfs_online").contains("waiting for the session to be stable for 5 s"),
        "{v:#}"
    );
    assert_eq!(grade(&v, "resilver"), "fail");
    assert_eq!(v["safe_to_fail_back"], false);
    assert_eq!(
        s.sim
            .zpool_invocations()
            .iter()
            .filter(|i| i.argv.iter().any(|a| a == "online"))
            .count(),
        0,
        "read-only doctor ran zpool online"
    );
    // --fix: watches the session 5 s, then zpool online; ZFS resilvers.
    let r = s.doctor(&["--fix"]);
    show("a FAULTED vdev with its session back: doctor --fix", &r);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout
            .contains(&format!("[done] zpool online san-pool {remote}: brought back")),
        "{}",
        r.stdout
    );
    assert!(s.sim.pool("san-pool").unwrap().resilvering());
    assert!(
        r.stdout.contains("[WARN] resilver - san-pool: resilvering"),
        "{}",
        r.stdout
    );
    s.sim.advance_resilver("san-pool", 45.0).unwrap();
    let (code, v) = s.json(&[]);
    assert_eq!(code, 1, "{v:#}");
    assert!(
        why(&v, "resilver").starts_with("resilvering, 45.0% done"),
        "{v:#}"
    );
    // Done: the monitor clears storage-b's mark, and doctor says all is well.
    s.sim.finish_resilver("san-pool").unwrap();
    s.agent.monitor().expect(0);
    let r = s.doctor(&[]);
    show("after the resilver", &r);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout.contains("safe to fail back or to take a node down"),
        "{}",
        r.stdout
    );
}
