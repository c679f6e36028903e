//! The agent against the real open-iscsi 2.1.8 iscsiadm and its node database, in a
//! private mount namespace (a scratch directory bound over /etc/iscsi, the host's own
//! records untouched). This kernel cannot log in, so start ends at the login with
//! "iscsid not running" (rc 20): what is checked is everything before it, read back with
//! the real tool.

use std::path::Path;
use std::process::Command;

const AGENT: &str = env!("CARGO_BIN_EXE_iscsi-mirror");
const IQN: &str = "iqn.2025-01.lab.home:storage-b";
const ISCSIADM: &str = "/usr/sbin/iscsiadm";

/// Runs `script` in a new mount namespace where /etc/iscsi is `etc`.
fn in_private_etc_iscsi(etc: &Path, script: &str, env: &[(&str, String)]) -> (i32, String, String) {
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
        .arg(format!("mount --bind {} /etc/iscsi && {script}", etc.display()))
        .envs(env.iter().map(|(k, v)| (k.to_string(), v.clone())))
        .output()
        .expect("unshare (util-linux)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn host_records() -> usize {
    std::fs::read_dir("/etc/iscsi/nodes")
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn start_writes_the_four_timers_read_back_by_the_real_iscsiadm() {
    assert!(
        Path::new(ISCSIADM).exists(),
        "install open-iscsi: this test runs the real iscsiadm"
    );
    let before = host_records();
    let etc = tempfile::tempdir().unwrap();
    std::fs::copy("/etc/iscsi/iscsid.conf", etc.path().join("iscsid.conf")).unwrap();
    let rsctmp = tempfile::tempdir().unwrap();
    let portal = "127.0.0.1:3269";
    let env = [
        ("OCF_ROOT", "/usr/lib/ocf".to_string()),
        ("OCF_RA_VERSION_MAJOR", "1".into()),
        ("OCF_RA_VERSION_MINOR", "1".into()),
        ("OCF_RESOURCE_INSTANCE", "real".into()),
        ("HA_RSCTMP", rsctmp.path().display().to_string()),
        ("OCF_RESKEY_CRM_meta_timeout", "30000".into()),
        ("OCF_RESKEY_portal", portal.into()),
        ("OCF_RESKEY_target", IQN.into()),
        ("OCF_RESKEY_discovery_type", "static".into()),
        ("OCF_RESKEY_iscsiadm", ISCSIADM.into()),
        ("OCF_RESKEY_noop_out_interval", "2".into()),
        ("OCF_RESKEY_noop_out_timeout", "2".into()),
        ("OCF_RESKEY_replacement_timeout", "5".into()),
        ("OCF_RESKEY_login_timeout", "10".into()),
        ("OCF_RESKEY_crm_mon", "/nonexistent".into()),
        ("OCF_RESKEY_corosync_cmapctl", "/nonexistent".into()),
        ("OCF_RESKEY_token_ms", "4000".into()),
    ];
    let script = format!(
        "{AGENT} start; echo \"agent-rc=$?\"; {ISCSIADM} -m node -T {IQN} -p {portal} -o show; \
         {AGENT} check-timeouts --json --iscsiadm {ISCSIADM} --corosync-cmapctl /nonexistent --token-ms 4000"
    );
    let (_, stdout, stderr) = in_private_etc_iscsi(etc.path(), &script, &env);
    assert!(
        stdout.contains("agent-rc=5"),
        "start should stop at the login (iscsid cannot run here):\n{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("ocf-exit-reason:login to 127.0.0.1:3269: iscsid is not running"),
        "{stderr}"
    );
    for line in [
        "node.conn[0].timeo.noop_out_interval = 2",
        "node.conn[0].timeo.noop_out_timeout = 2",
        "node.session.timeo.replacement_timeout = 5",
        "node.conn[0].timeo.login_timeout = 10",
        "node.startup = manual",
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "record lacks {line:?}:\n{stdout}"
        );
    }
    let json_start = stdout.find("{\n").expect("check-timeouts JSON");
    let report: serde_json::Value = serde_json::from_str(&stdout[json_start..]).unwrap();
    let path = &report["paths"][0];
    assert!(path["label"].as_str().unwrap().contains(IQN), "{path}");
    assert_eq!(path["timers"]["noop_out_interval"]["value"], 2);
    assert!(path["timers"]["replacement_timeout"]["source"]
        .as_str()
        .unwrap()
        .starts_with("node record"));
    assert_eq!(
        report["exit_code"], 1,
        "the seeds' 2/2/5 at token 4000: one warning"
    );
    assert_eq!(host_records(), before, "the host's /etc/iscsi must be untouched");
}
