//! reload-agent (OCF 1.1) and the two renderings of the meta-data, against a simulated
//! open-iscsi host: new timers reach the node records and the live sessions without a
//! logout, and the meta-data each caller gets passes the schema it is checked against.

mod util;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use util::*;

const DTD_DIR: &str = "/usr/share/resource-agents";
/// The OCF 1.1 schema, from the standard's repository (tests/fixtures/ocf/SOURCE).
const OCF_1_1_RNG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ocf/ra-api-1.1.rng");
/// pcs validates OCF 1.1 meta-data against this before `pcs resource describe/create`.
const PCS_OCF_1_1_RNG: &str = "/usr/share/pcs/data/ocf-1.1.rng";

fn meta_data(env: &[(&str, &str)]) -> String {
    let out = Command::new(AGENT)
        .arg("meta-data")
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    String::from_utf8(out.stdout).unwrap()
}

const OCF_1_1: [(&str, &str); 2] = [("OCF_RA_VERSION_MAJOR", "1"), ("OCF_RA_VERSION_MINOR", "1")];
const OCF_1_0: [(&str, &str); 2] = [("OCF_RA_VERSION_MAJOR", "1"), ("OCF_RA_VERSION_MINOR", "0")];

/// xmllint ARGS on DOC, run in the DTD's directory (the plain form's DOCTYPE names it):
/// whether it validates, and what it said.
fn xmllint(args: &[&str], doc: &str) -> (bool, String) {
    assert!(
        Path::new(DTD_DIR).join("ra-api-1.dtd").exists(),
        "install resource-agents (ra-api-1.dtd)"
    );
    let mut lint = Command::new("xmllint")
        .arg("--noout")
        .args(args)
        .arg("-")
        .current_dir(DTD_DIR)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xmllint (libxml2-utils) is needed");
    lint.stdin.take().unwrap().write_all(doc.as_bytes()).unwrap();
    let out = lint.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_ocf_1_1_caller_gets_reload_agent_and_the_reloadable_marks() {
    let doc = meta_data(&OCF_1_1);
    assert!(
        doc.contains("<action name=\"reload-agent\" timeout=\"30s\" />"),
        "{doc}"
    );
    assert!(
        doc.contains("<parameter name=\"noop_out_interval\" unique=\"0\" required=\"0\" reloadable=\"1\">")
    );
    assert!(doc.contains("<parameter name=\"peers\" unique=\"0\" required=\"0\">"));
    assert!(!doc.contains("<!DOCTYPE"), "ra-api-1.dtd would reject it");
    for rng in [OCF_1_1_RNG, PCS_OCF_1_1_RNG] {
        assert!(Path::new(rng).exists(), "{rng} missing (pcs installs its own)");
        let (valid, said) = xmllint(&["--relaxng", rng], &doc);
        assert!(valid, "{rng}: {said}");
    }
}

#[test]
fn everyone_else_gets_what_ra_api_1_dtd_accepts_and_it_is_ocf_1_1_too() {
    for env in [&[][..], &OCF_1_0[..]] {
        let doc = meta_data(env);
        assert!(doc.starts_with("<?xml version=\"1.0\"?>\n<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">"));
        assert!(doc.contains("<version>1.1</version>"));
        assert!(!doc.contains("reload-agent\"") && !doc.contains("reloadable="));
        let (valid, said) = xmllint(&["--valid"], &doc);
        assert!(valid, "ra-api-1.dtd: {said}");
        let (valid, said) = xmllint(&["--relaxng", OCF_1_1_RNG], &doc);
        assert!(valid, "OCF 1.1: {said}");
    }
}

/// Why there are two forms: resource-agents 4.12's DTD knows neither OCF 1.1 addition.
#[test]
fn ra_api_1_dtd_rejects_exactly_the_ocf_1_1_additions() {
    let doc = meta_data(&OCF_1_1);
    let (valid, said) = xmllint(&["--dtdvalid", "ra-api-1.dtd"], &doc);
    assert!(!valid);
    let errors: Vec<&str> = said.lines().filter(|l| l.contains("validity error")).collect();
    assert!(!errors.is_empty(), "{said}");
    for e in &errors {
        assert!(
            e.contains("No declaration for attribute reloadable of element parameter")
                || e.contains(
                    "Value \"reload-agent\" for attribute name of action is not among the enumerated set"
                ),
            "{e}"
        );
    }
    assert!(said.contains("reload-agent"), "{said}");
}

#[test]
fn methods_lists_reload_agent() {
    let out = Command::new(AGENT).arg("methods").env_clear().output().unwrap();
    let listed = String::from_utf8(out.stdout).unwrap();
    assert!(listed.lines().any(|l| l == "reload-agent"), "{listed}");
}

/// The agent in portal/target mode on a simulated host whose one target answers.
fn single() -> (tempfile::TempDir, SimHost, Portal, Agent) {
    let portal = Portal::up("127.0.0.1");
    let (dir, sim) = host_with_target(IQN_B, &[&portal]);
    let mut a = Agent::new(&sim);
    a.param("portal", &portal.spec()).param("target", IQN_B);
    (dir, sim, portal, a)
}

fn started(timers: &[(&str, &str)]) -> (tempfile::TempDir, SimHost, Portal, Agent) {
    let (dir, sim, portal, mut a) = single();
    for (k, v) in timers {
        a.param(k, v);
    }
    a.start().expect(0);
    (dir, sim, portal, a)
}

const SLOW: [(&str, &str); 4] = [
    ("noop_out_interval", "5"),
    ("noop_out_timeout", "5"),
    ("replacement_timeout", "120"),
    ("login_timeout", "15"),
];

const SEEDS: [(&str, &str); 4] = [
    ("noop_out_interval", "2"),
    ("noop_out_timeout", "2"),
    ("replacement_timeout", "5"),
    ("login_timeout", "10"),
];

#[test]
fn reload_writes_the_records_and_recovery_tmo_and_never_logs_out() {
    let (_d, sim, portal, mut a) = started(&SLOW);
    let before = sim.sessions();
    assert_eq!(before.len(), 1);
    assert_eq!(
        (before[0].recovery_tmo, before[0].recv_tmo, before[0].ping_tmo),
        (120, 5, 5)
    );
    let calls_before = sim.invocations().len();
    for (k, v) in SEEDS {
        a.param(k, v);
    }
    let run = a.run("reload-agent");
    run.expect(0);
    assert!(
        run.stderr.contains("reloaded without logout")
            && run.stderr.contains("recovery_tmo 120 -> 5 on session")
            && run
                .stderr
                .contains("noop_out_interval, noop_out_timeout, login_timeout at the next login of"),
        "{}",
        run.stderr
    );
    // The same session, its recovery_tmo changed live; the read-only connection timers wait.
    let after = sim.sessions();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].sid, before[0].sid);
    assert_eq!(
        (after[0].recovery_tmo, after[0].recv_tmo, after[0].ping_tmo),
        (5, 5, 5)
    );
    let record = sim.node_record(IQN_B, &portal.spec()).unwrap();
    for (key, want) in [
        ("node.conn[0].timeo.noop_out_interval", "2"),
        ("node.conn[0].timeo.noop_out_timeout", "2"),
        ("node.session.timeo.replacement_timeout", "5"),
        ("node.conn[0].timeo.login_timeout", "10"),
    ] {
        assert_eq!(record[key], want, "{key}");
    }
    // Only record reads and updates: no login, no logout, nothing else.
    let calls = sim.invocations();
    for c in &calls[calls_before..] {
        assert!(
            c.argv.iter().any(|x| x == "show" || x == "update"),
            "unexpected iscsiadm call during reload: {:?}",
            c.argv
        );
        assert!(!c.argv.iter().any(|x| x.starts_with("--log")), "{:?}", c.argv);
    }
    a.monitor().expect(0);
    // A second reload with the same values changes nothing and writes nothing.
    let calls_before = sim.invocations().len();
    a.run("reload-agent").expect(0);
    let writes = sim.invocations()[calls_before..]
        .iter()
        .filter(|c| c.argv.iter().any(|x| x == "update"))
        .count();
    assert_eq!(writes, 0);
    // The next login (a restart) runs with every new timer.
    a.stop().expect(0);
    a.start().expect(0);
    let s = &sim.sessions()[0];
    assert_eq!((s.recovery_tmo, s.recv_tmo, s.ping_tmo), (5, 2, 2));
    a.stop().expect(0);
}

#[test]
fn reload_under_enforce_refuses_timers_outside_the_window_and_changes_nothing() {
    let (_d, sim, portal, mut a) = started(&SEEDS);
    a.param("token_ms", "4000").param("timeout_policy", "enforce");
    a.run("reload-agent").expect(0);
    // Pings every 5 s plus 2 s to answer cannot notice a dead peer within a 4 s token; and
    // the replacement_timeout changed with it must not reach the session either.
    a.param("noop_out_interval", "5")
        .param("replacement_timeout", "3");
    a.run("reload-agent")
        .expect(6)
        .reason_mentions(&["outside the Corosync window"]);
    let record = sim.node_record(IQN_B, &portal.spec()).unwrap();
    assert_eq!(record["node.conn[0].timeo.noop_out_interval"], "2");
    assert_eq!(record["node.session.timeo.replacement_timeout"], "5");
    assert_eq!(sim.sessions()[0].recovery_tmo, 5);
    assert_eq!(sim.sessions().len(), 1, "still logged in");
    a.stop().expect(0);
}

#[test]
fn reload_of_a_resource_not_started_here_touches_nothing() {
    let (_d, sim, _portal, a) = single();
    a.run("reload-agent").expect(0);
    assert!(sim.invocations().is_empty());
    assert!(sim.sessions().is_empty());
}

#[test]
fn a_smaller_reconnect_jitter_pulls_a_long_back_off_in() {
    let (_d, sim, _portal, mut a) = started(&SEEDS);
    a.param("reconnect_jitter", "60000")
        .var("OCF_RESKEY_CRM_meta_timeout", "5000");
    drop_session(&sim, sim.sessions()[0].sid);
    sim.set_fault(Fault::LoginBusy(IQN_B.into())).unwrap();
    a.monitor().expect(190).reason_mentions(&["backing off"]);
    let file = a.rsctmp().join("iscsi-mirror/mirror.state");
    let next = |f: &Path| -> u64 {
        let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        s["paths"][0]["backoff"]["next_attempt_ms"].as_u64().unwrap()
    };
    let far = next(&file);
    a.param("reconnect_jitter", "100");
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    a.run("reload-agent").expect(0);
    let near = next(&file);
    // One failure: the new window is 2 x 100 ms from the reload.
    assert!(
        near < far && near <= t0 + 1000 + 200,
        "far {far}, near {near}, t0 {t0}"
    );
    sim.clear_faults().unwrap();
    a.monitor().expect(0);
    a.stop().expect(0);
}
