//! `iscsi-mirror check-timeouts` on a simulated host: live sessions' timers come from
//! sysfs, records without a session from the node record, each figure with its source.

mod util;

use std::process::Command;
use util::*;

fn check(sim: &SimHost, extra: &[&str]) -> (i32, serde_json::Value) {
    check_token(sim, "4000", extra)
}

fn check_token(sim: &SimHost, token_ms: &str, extra: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::new(AGENT)
        .arg("check-timeouts")
        .args(["--json", "--host-root"])
        .arg(sim.root())
        .arg("--iscsiadm")
        .arg(sim.iscsiadm_path())
        .args(["--corosync-cmapctl", "/nonexistent", "--token-ms", token_ms])
        .args(extra)
        .env_clear()
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap(), json)
}

#[test]
fn live_sessions_are_judged_by_their_sysfs_timers() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let mut a = Agent::new(&sim);
    a.param("portal", &portal.spec()).param("target", IQN_B);
    a.param("noop_out_interval", "2")
        .param("noop_out_timeout", "2")
        .param("replacement_timeout", "5");
    a.start().expect(0);
    let (code, r) = check(&sim, &[]);
    assert_eq!(code, 1, "{r}");
    let p = &r["paths"][0];
    assert!(p["label"].as_str().unwrap().starts_with("session "), "{p}");
    assert_eq!(p["timers"]["noop_out_interval"]["value"], 2);
    assert!(p["timers"]["noop_out_interval"]["source"]
        .as_str()
        .unwrap()
        .contains("recv_tmo"));
    assert!(p["timers"]["replacement_timeout"]["source"]
        .as_str()
        .unwrap()
        .contains("recovery_tmo"));
    assert_eq!(r["window"]["token_ms"]["source"], "--token-ms");
    // "What if": a flag replaces the figure it names, wherever it came from.
    let (code, r) = check(&sim, &["--replacement-timeout", "4"]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(
        r["paths"][0]["timers"]["replacement_timeout"]["source"],
        "--replacement-timeout"
    );
    let (code, _) = check(&sim, &["--noop-out-interval", "0"]);
    assert_eq!(code, 2);
    a.stop().expect(0);
    // No session now: the node record the agent wrote speaks for the path.
    let (code, r) = check(&sim, &[]);
    assert_eq!(code, 1, "{r}");
    assert!(r["paths"][0]["label"].as_str().unwrap().contains("no session"));
    assert!(r["paths"][0]["timers"]["noop_out_timeout"]["source"]
        .as_str()
        .unwrap()
        .starts_with("node record"));
}

fn recommend(sim: &SimHost, token_ms: &str, extra: &[&str]) -> (i32, String) {
    let out = Command::new(AGENT)
        .args([
            "check-timeouts",
            "--recommend",
            "--corosync-cmapctl",
            "/nonexistent",
        ])
        .arg("--iscsiadm")
        .arg(sim.iscsiadm_path())
        .args(["--token-ms", token_ms, "--host-root"])
        .arg(sim.root())
        .args(extra)
        .env_clear()
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Runs a printed `iscsiadm ... -o update` line against the simulated host, as an admin
/// would paste it (the quotes a shell would strip, stripped).
fn paste(sim: &SimHost, line: &str) {
    let words: Vec<String> = line
        .split_whitespace()
        .skip(1)
        .map(|w| w.trim_matches('\'').to_string())
        .collect();
    let out = Command::new(sim.iscsiadm_path()).args(&words).output().unwrap();
    assert!(
        out.status.success(),
        "{line}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn recommend_prints_commands_whose_timers_then_pass_the_check() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let mut a = Agent::new(&sim);
    a.param("portal", &portal.spec()).param("target", IQN_B);
    a.start().expect(0);
    a.stop().expect(0);
    // The node record the agent left has open-iscsi's defaults: outside the window.
    let (code, text) = recommend(&sim, "4000", &["--resource", "my mirror"]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("noop_out_interval 2 s, noop_out_timeout 2 s, replacement_timeout 4 s"),
        "{text}"
    );
    assert!(
        text.contains(
            "pcs resource update 'my mirror' noop_out_interval=2 noop_out_timeout=2 replacement_timeout=4"
        ),
        "{text}"
    );
    assert!(
        text.contains("crm resource param 'my mirror' set replacement_timeout 4"),
        "{text}"
    );
    assert!(
        text.contains("node.session.timeo.replacement_timeout = 4"),
        "{text}"
    );
    let updates: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("iscsiadm -m node -T "))
        .collect();
    assert_eq!(updates.len(), 3, "{text}");
    assert!(
        updates[0].contains(&format!(
            "-T {IQN_B} -p {} -o update -n 'node.conn[0].timeo.noop_out_interval' -v 2",
            portal.spec()
        )),
        "{}",
        updates[0]
    );
    // Pasted, they bring the record inside the window (the stall then fits exactly: 8 s).
    for line in &updates {
        paste(&sim, line);
    }
    let (code, r) = check(&sim, &[]);
    assert_eq!(code, 0, "{r}");
    assert!(r["paths"][0]["label"].as_str().unwrap().contains("no session"));
    // The same in JSON, for tools.
    let (_, r) = check(&sim, &["--recommend"]);
    assert_eq!(r["recommendation"]["outcome"], "fits", "{r}");
    assert_eq!(r["recommendation"]["timers"]["replacement_timeout"], 4);
    assert_eq!(r["recommendation"]["commands"].as_array().unwrap().len(), 4 + 3);
}

#[test]
fn recommend_says_so_when_no_integer_timers_fit_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimHost::create(dir.path().join("h")).unwrap();
    for token in ["1000", "1500", "1999"] {
        let (code, text) = recommend(&sim, token, &[]);
        assert_eq!(code, 2, "{text}");
        assert!(text.contains("No timers fit token"), "{text}");
        assert!(text.contains("Raise totem.token to 2000 ms or more"), "{text}");
        assert!(!text.contains("pcs resource update"), "{text}");
        assert!(!text.contains("iscsiadm -m node -T"), "{text}");
        assert!(!text.contains("For node records created later"), "{text}");
        let (_, r) = check_token(&sim, token, &["--recommend"]);
        assert_eq!(r["recommendation"]["outcome"], "none_fit", "{r}");
        assert_eq!(r["recommendation"]["least_token_ms"], 2000);
    }
    // At the least token they do fit, and pass.
    let (_, text) = recommend(&sim, "2000", &[]);
    assert!(
        text.contains("noop_out_interval 1 s, noop_out_timeout 1 s, replacement_timeout 2 s"),
        "{text}"
    );
    let (code, r) = check_token(
        &sim,
        "2000",
        &[
            "--noop-out-interval",
            "1",
            "--noop-out-timeout",
            "1",
            "--replacement-timeout",
            "2",
        ],
    );
    assert_eq!(code, 0, "{r}");
}

/// storage-a's ZFS as recorded in the two-VM SAN (module parameters, /etc/hostid), written
/// where the kernel shows them under the simulated host.
fn recorded_zfs_host(sim: &SimHost, node: &str) {
    let rec = |name: &str| {
        let p = format!(
            "{}/tests/fixtures/zfs/vm-recorded/host-{node}.{name}.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .trim()
            .to_string()
    };
    let params = sim.root().join("sys/module/zfs/parameters");
    std::fs::create_dir_all(&params).unwrap();
    for p in [
        "zfs_multihost_interval",
        "zfs_multihost_fail_intervals",
        "zfs_multihost_import_intervals",
    ] {
        std::fs::write(params.join(p), format!("{}\n", rec(p))).unwrap();
    }
    let bytes: Vec<u8> = rec("etc-hostid")
        .split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect();
    std::fs::create_dir_all(sim.root().join("etc")).unwrap();
    std::fs::write(sim.root().join("etc/hostid"), bytes).unwrap();
}

fn check_pool(sim: &SimHost, node: &str, cib: &std::path::Path) -> (i32, serde_json::Value) {
    let out = Command::new(AGENT)
        .args(["check-timeouts", "--json", "--host-root"])
        .arg(sim.root())
        .arg("--iscsiadm")
        .arg(sim.iscsiadm_path())
        .arg("--zpool")
        .arg(sim.zpool_path())
        .args(["--corosync-cmapctl", "/nonexistent", "--token-ms", "4000"])
        .args([
            "--noop-out-interval",
            "2",
            "--noop-out-timeout",
            "2",
            "--replacement-timeout",
            "4",
        ])
        .args(["--node", node])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        // The real cibadmin reads this saved CIB (made by real Pacemaker tools).
        .env("CIB_file", cib)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap(), json)
}

fn zfs_finding(r: &serde_json::Value, rule: &str) -> (String, String) {
    let f = r["zfs"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule}: {r:#}"));
    (
        f["severity"].as_str().unwrap().to_string(),
        f["message"].as_str().unwrap().to_string(),
    )
}

#[test]
fn the_pool_side_of_the_window_is_judged_where_zfs_is_present() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimHost::create(dir.path().join("h")).unwrap();
    let cib = dir.path().join("cib.xml");
    std::fs::copy(
        format!(
            "{}/tests/fixtures/cib/two-node-clone.xml",
            env!("CARGO_MANIFEST_DIR")
        ),
        &cib,
    )
    .unwrap();
    // No pool imported: nothing of ZFS is judged.
    let (code, r) = check_pool(&sim, "storage-a", &cib);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["zfs"].as_array().unwrap().len(), 0, "{r}");
    // storage-a's pool with ZFS's defaults (multihost off): outside, and the fix is named.
    recorded_zfs_host(&sim, "storage-a");
    sim.create_pool(
        "san-pool",
        &[Leaf::Local("/dev/vdb1".into()), Leaf::Local("/dev/vdc1".into())],
    )
    .unwrap();
    let (code, r) = check_pool(&sim, "storage-a", &cib);
    assert_eq!(code, 2, "{r}");
    assert_eq!(r["zfs"][0]["figures"]["pool"], "san-pool");
    let (sev, msg) = zfs_finding(&r, "multihost-on");
    assert_eq!(sev, "error");
    assert!(msg.contains("zpool set multihost=on san-pool"), "{msg}");
    // multihost on, as the design has it: inside; each figure with its source; the MMP
    // fail time (1000 ms x 10) outlasts the iSCSI stall (2 + 2 + 4 s); the failover
    // import's wait is said; storage-b's published hostid differs from this host's.
    sim.set_pool_prop("san-pool", "multihost", "on").unwrap();
    let (code, r) = check_pool(&sim, "storage-a", &cib);
    assert_eq!(code, 0, "{r:#}");
    let (sev, msg) = zfs_finding(&r, "mmp-outlasts-iscsi-stall");
    assert_eq!(sev, "ok");
    assert!(
        msg.contains("MMP fail time 10.0 s")
            && msg.contains("/sys/module/zfs/parameters/zfs_multihost_interval")
            && msg.contains("> the iSCSI stall 8.0 s"),
        "{msg}"
    );
    let (_, msg) = zfs_finding(&r, "mmp-import-wait");
    assert!(msg.contains("20.0-25.0 s"), "{msg}");
    let (sev, msg) = zfs_finding(&r, "hostid-unique");
    assert_eq!(sev, "ok");
    assert!(msg.contains("5a5a0001 (/etc/hostid), unlike the peers'"), "{msg}");
    let (sev, _) = zfs_finding(&r, "failmode");
    assert_eq!(sev, "ok");
    // A cloned image: this host has storage-b's hostid.
    recorded_zfs_host(&sim, "storage-b");
    let (code, r) = check_pool(&sim, "storage-a", &cib);
    assert_eq!(code, 2, "{r}");
    let (sev, msg) = zfs_finding(&r, "hostid-unique");
    assert_eq!(sev, "error");
    assert!(msg.contains("is also storage-b's"), "{msg}");
    // MMP that suspends the pool sooner than the iSCSI stall ends; failmode=continue.
    std::fs::write(
        sim.root()
            .join("sys/module/zfs/parameters/zfs_multihost_fail_intervals"),
        "2\n",
    )
    .unwrap();
    sim.set_pool_prop("san-pool", "failmode", "continue").unwrap();
    let (_, r) = check_pool(&sim, "storage-b", &cib);
    assert_eq!(zfs_finding(&r, "mmp-outlasts-iscsi-stall").0, "warning");
    assert_eq!(zfs_finding(&r, "failmode").0, "warning");
    // The text output shows the pool's section.
    let out = Command::new(AGENT)
        .args(["check-timeouts", "--host-root"])
        .arg(sim.root())
        .arg("--zpool")
        .arg(sim.zpool_path())
        .args([
            "--iscsiadm",
            "/nonexistent",
            "--corosync-cmapctl",
            "/nonexistent",
            "--token-ms",
            "4000",
        ])
        .args(["--pool", "san-pool", "--node", "storage-b"])
        .env_clear()
        .env("CIB_file", &cib)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ZFS pool san-pool"), "{text}");
    assert!(text.contains("WARNING  failmode=continue"), "{text}");
}

#[test]
fn usage_errors_exit_64_not_2_which_means_outside_the_window_and_help_exits_0() {
    let bad = Command::new(AGENT)
        .args(["check-timeouts", "--token-ms", "many"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(64));
    let help = Command::new(AGENT)
        .args(["check-timeouts", "--help"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(help.status.code(), Some(0));
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--recommend"));
    assert!(
        help.contains("Exit codes") && help.contains("64 usage error"),
        "{help}"
    );
}

/// check-timeouts --json on an empty simulated host with this corosync.conf and no
/// running Corosync: (exit code, report, text output of the same run without --json).
fn with_corosync_conf(conf: &str, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimHost::create(dir.path().join("h")).unwrap();
    let file = dir.path().join("corosync.conf");
    std::fs::write(&file, conf).unwrap();
    let run = |json: bool| {
        let mut c = Command::new(AGENT);
        c.arg("check-timeouts");
        if json {
            c.arg("--json");
        }
        c.arg("--host-root")
            .arg(sim.root())
            .arg("--iscsiadm")
            .arg(sim.iscsiadm_path())
            .args(["--corosync-cmapctl", "/nonexistent", "--corosync-conf"])
            .arg(&file)
            .args(extra)
            .env_clear()
            .output()
            .unwrap()
    };
    let out = run(true);
    // Null for a usage error (exit 64), which prints no report.
    let json = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let text = run(false);
    assert_eq!(text.status.code(), out.status.code());
    (
        out.status.code().unwrap(),
        json,
        String::from_utf8_lossy(&text.stdout).into_owned(),
    )
}

fn findings(r: &serde_json::Value) -> Vec<(String, String)> {
    r["paths"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["findings"].as_array().unwrap().clone())
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Issue 10 (B): "a huge token in corosync.conf prints consensus -1 ms and 'inside the
/// window'". An absurd or unparsable figure is an error naming the figure and its source.
#[test]
fn absurd_or_unparsable_corosync_figures_are_errors_never_inside_the_window() {
    let nodes3 = "nodelist {\n node {\n }\n node {\n }\n node {\n }\n}\n";
    for (conf, rule, says) in [
        (
            "totem {\n token: 9223372036854775807\n}\n".to_string(),
            "figure-out-of-range",
            "token 9223372036854775807 ms is outside 1..600000 ms, from",
        ),
        (
            "totem {\n token: 99999999999999999999\n}\n".to_string(),
            "figure-unusable",
            "'99999999999999999999' is not a whole number of ms",
        ),
        (
            "totem {\n token: 4294967295\n}\n".to_string(),
            "figure-out-of-range",
            "token 4294967295 ms is outside",
        ),
        (
            "totem {\n token: -4000\n}\n".to_string(),
            "figure-out-of-range",
            "token -4000 ms is outside",
        ),
        (
            "totem {\n token: 4000\n consensus: -1\n}\n".to_string(),
            "figure-out-of-range",
            "consensus -1 ms is outside",
        ),
        (
            format!("totem {{\n token: 4000\n token_coefficient: 9223372036854775807\n}}\n{nodes3}"),
            "figure-unusable",
            "overflows",
        ),
    ] {
        let (code, r, text) = with_corosync_conf(&conf, &[]);
        assert_eq!(code, 2, "{conf}: {r}");
        let f = findings(&r);
        assert!(
            f.iter()
                .any(|(ru, m)| ru == rule && m.contains(says) && m.contains("corosync.conf")),
            "{conf}: {f:?}"
        );
        assert!(!f.iter().any(|(ru, _)| ru == "stall-within-membership"), "{f:?}");
        assert!(!text.contains("inside the window"), "{text}");
        assert!(text.contains("CANNOT JUDGE"), "{text}");
        if !conf.contains("consensus: -1") {
            // what the wrapped 1.2 x token printed before
            assert!(!text.contains(" -1 ms"), "{text}");
            assert_ne!(r["window"]["consensus_ms"]["value"], -1, "{r}");
        }
    }
    // The same figures from the command line.
    for token in ["9223372036854775807", "4294967295", "600001"] {
        let (code, r, _) = with_corosync_conf("", &["--token-ms", token]);
        assert_eq!(code, 2, "{token}: {r}");
        assert!(findings(&r).iter().any(|(ru, _)| ru == "figure-out-of-range"));
    }
    let (code, _, _) = with_corosync_conf("", &["--token-ms", "99999999999999999999"]);
    assert_eq!(code, 64, "a flag that is no i64 is a usage error");
    // --recommend has nothing to recommend for a garbage window, and says so.
    let (_, r, _) = with_corosync_conf("totem {\n token: 9223372036854775807\n}\n", &["--recommend"]);
    assert_eq!(r["recommendation"]["outcome"], "cannot_judge", "{r}");
    assert!(r["recommendation"].get("commands").is_none(), "{r}");
}

/// A corosync-cmapctl stand-in that records its calls and answers from a file of
/// `key value` lines (a key without a line: exit 1, as cmapctl does for a missing key).
fn cmapctl_double(dir: &std::path::Path, values: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let log = dir.join("cmapctl.calls");
    let table = dir.join("cmapctl.values");
    std::fs::write(&table, values).unwrap();
    let program = dir.join("corosync-cmapctl");
    std::fs::write(
        &program,
        format!(
            "#!/bin/sh\necho \"$@\" >> {log}\nv=$(awk -v k=\"$2\" '$1==k {{print $2}}' {table})\n\
[ -n \"$v\" ] || exit 1\necho \"$2 (u32) = $v\"\n",
            log = log.display(),
            table = table.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    (program, log)
}

fn check_with_cmapctl(
    sim: &SimHost,
    cmapctl: &std::path::Path,
    flags: &[&str],
) -> (Option<i32>, serde_json::Value) {
    let out = Command::new(AGENT)
        .args(["check-timeouts", "--json", "--host-root"])
        .arg(sim.root())
        .arg("--iscsiadm")
        .arg(sim.iscsiadm_path())
        .arg("--corosync-cmapctl")
        .arg(cmapctl)
        .args(flags)
        .env_clear()
        .output()
        .unwrap();
    (out.status.code(), serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn cmapctl_runs_only_when_the_flags_leave_a_figure_to_read() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimHost::create(dir.path().join("h")).unwrap();
    let (cmapctl, log) = cmapctl_double(
        dir.path(),
        "runtime.config.totem.token 4000\nruntime.config.totem.consensus 4800\n",
    );
    let run = |flags: &[&str]| {
        let _ = std::fs::remove_file(&log);
        let (code, r) = check_with_cmapctl(&sim, &cmapctl, flags);
        (code, r, std::fs::read_to_string(&log).unwrap_or_default())
    };
    let (_, r, calls) = run(&["--token-ms", "5000", "--consensus-ms", "6000"]);
    assert_eq!(calls, "", "cmapctl ran though both figures were given");
    assert_eq!(r["window"]["token_ms"]["source"], "--token-ms");
    assert_eq!(r["window"]["consensus_ms"]["source"], "--consensus-ms");
    let (_, r, calls) = run(&["--token-ms", "5000"]);
    assert_eq!(calls, "", "a token flag decides consensus too (1.2 x)");
    assert_eq!(r["window"]["consensus_ms"]["value"], 6000);
    let (_, r, calls) = run(&[]);
    assert_eq!(
        calls,
        "-g runtime.config.totem.token\n-g runtime.config.totem.consensus\n"
    );
    assert_eq!(r["window"]["token_ms"]["value"], 4000);
    assert_eq!(
        r["window"]["token_ms"]["source"],
        "corosync-cmapctl runtime.config.totem.token"
    );
    // What a running Corosync says is judged like any other figure.
    let (cmapctl2, _) = cmapctl_double(dir.path(), "runtime.config.totem.token 4294967295\n");
    let (code, r) = check_with_cmapctl(&sim, &cmapctl2, &[]);
    assert_eq!(code, Some(2));
    assert!(
        findings(&r).iter().any(|(ru, m)| ru == "figure-out-of-range"
            && m.contains("4294967295")
            && m.contains("corosync-cmapctl")),
        "{r}"
    );
    assert!(
        r["window"]["consensus_ms"]["value"].is_i64(),
        "1.2 x 4294967295 fits: {r}"
    );
}

#[test]
fn an_iscsi_timer_that_is_no_number_or_absurd_is_an_error_with_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimHost::create(dir.path().join("h")).unwrap();
    let conf = dir.path().join("iscsid.conf");
    for (value, rule) in [
        ("99999999999999999999", "figure-unusable"),
        ("9223372036854775807", "figure-out-of-range"),
        ("-9223372036854775808", "figure-out-of-range"),
    ] {
        std::fs::write(
            &conf,
            format!("node.session.timeo.replacement_timeout = {value}\n"),
        )
        .unwrap();
        let out = Command::new(AGENT)
            .args(["check-timeouts", "--json", "--host-root"])
            .arg(sim.root())
            .arg("--iscsiadm")
            .arg(sim.iscsiadm_path())
            .args([
                "--corosync-cmapctl",
                "/nonexistent",
                "--token-ms",
                "4000",
                "--iscsid-conf",
            ])
            .arg(&conf)
            .env_clear()
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{value}");
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            findings(&r).iter().any(|(ru, m)| ru == rule
                && m.starts_with("replacement_timeout")
                && m.contains("iscsid.conf")),
            "{value}: {r}"
        );
    }
}
