//! The crm_mon parser over Pacemaker 3.0's own crm_mon XML: the documents of its CLI
//! regression suite (cts/cli/regression.*.exp) at the tags Pacemaker-3.0.0 and -3.0.2,
//! extracted by crm/lab/import-pacemaker3-fixtures.sh with the tags' schemas.

use iscsi_mirror::cluster::crm_mon::{parse, query, ClusterView};
use iscsi_mirror::cluster::PeerState;
use iscsi_mirror::deadline::Deadline;
use std::path::{Path, PathBuf};
use std::process::Command;

const VERSIONS: &[&str] = &["3.0.0", "3.0.2"];

fn dir(version: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/crm_mon/pacemaker-3.0")
        .join(version)
}

/// SOURCE's rows: fixture, source file, test, lines, cts-cli's verdict, schema.
fn source_rows(version: &str) -> Vec<Vec<String>> {
    let path = dir(version).join("SOURCE");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: run crm/lab/import-pacemaker3-fixtures.sh",
            path.display()
        )
    });
    text.lines()
        .filter(|l| l.contains(".xml | "))
        .map(|l| l.split(" | ").map(str::to_string).collect())
        .collect()
}

fn fixtures(version: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir(version))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".xml"))
        .collect();
    names.sort();
    names
}

fn text(version: &str, name: &str) -> String {
    let path = dir(version).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn view(version: &str, name: &str) -> ClusterView {
    parse(&text(version, name))
}

#[test]
fn source_names_every_fixture_with_its_origin() {
    for version in VERSIONS {
        let source = std::fs::read_to_string(dir(version).join("SOURCE")).unwrap();
        assert!(source.contains("repository: https://github.com/ClusterLabs/pacemaker"));
        assert!(source.contains(&format!("tag: Pacemaker-{version}\n")));
        assert!(source
            .lines()
            .any(|l| l.starts_with("commit: ") && l.len() == "commit: ".len() + 40));
        let rows = source_rows(version);
        let mut listed: Vec<String> = rows.iter().map(|r| r[0].clone()).collect();
        listed.sort();
        assert_eq!(
            listed,
            fixtures(version),
            "{version}: SOURCE and the directory disagree"
        );
        for r in &rows {
            assert_eq!(r.len(), 6, "{r:?}");
            assert!(
                r[1].starts_with("cts/cli/regression.") && r[1].ends_with(".exp"),
                "{r:?}"
            );
            assert_eq!(r[4], "OK (0)", "cts-cli passed (and validated) {r:?}");
        }
        assert!(rows.len() >= 30, "{version}: only {} documents", rows.len());
    }
}

/// What cts/cts-cli.in's sanitize_output removed, put back empty (as the import script does):
/// `last_change time=".*"` also ate user/client/origin; a failure lost its last-rc-change.
fn restore(doc: &str) -> String {
    doc.lines()
        .map(|l| {
            let l = l.replace(
                "<last_change time=\"\"/>",
                "<last_change time=\"\" user=\"\" client=\"\" origin=\"\"/>",
            );
            if l.contains("<failure ") && !l.contains(" last-rc-change=") {
                l.replacen(" queued=\"", " last-rc-change=\"\" queued=\"", 1)
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn validates(version: &str, doc: &str) -> Result<(), String> {
    use std::io::Write;
    let mut child = Command::new("xmllint")
        .args(["--noout", "--relaxng"])
        .arg(dir(version).join("rng/api/api-result.rng"))
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("xmllint (libxml2-utils)");
    child.stdin.take().unwrap().write_all(doc.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn every_fixture_validates_against_its_release_s_schema() {
    for version in VERSIONS {
        for row in source_rows(version) {
            let (name, recorded) = (&row[0], &row[5]);
            let doc = text(version, name);
            let verdict = match validates(version, &doc) {
                Ok(()) => "valid",
                Err(_) => {
                    validates(version, &restore(&doc))
                        .unwrap_or_else(|e| panic!("{version}/{name} does not validate: {e}"));
                    "valid once restored"
                }
            };
            assert_eq!(verdict, recorded, "{version}/{name}");
        }
    }
}

#[test]
fn the_schemas_tell_the_releases_apart() {
    // 3.0.2's resources-2.41.rng requires `removed`, 3.0.0's resources-2.29.rng knows only
    // `orphaned`: each release's document fails the other release's schema.
    let name = "crm_mon--basic-output.xml";
    let new = restore(&text("3.0.2", name));
    let old = restore(&text("3.0.0", name));
    assert!(validates("3.0.2", &new).is_ok() && validates("3.0.0", &old).is_ok());
    assert!(
        validates("3.0.0", &new).is_err(),
        "3.0.0's schema took a 3.0.2 document"
    );
    assert!(
        validates("3.0.2", &old).is_err(),
        "3.0.2's schema took a 3.0.0 document"
    );
    assert!(validates("3.0.2", &new.replace(" removed=\"false\"", "")).is_err());
}

/// Fixture, then (node, state) pairs, or Err(reason fragment) for an unknown cluster.
type Expect = Result<&'static [(&'static str, PeerState)], &'static str>;

const ALL_FIVE: &[(&str, PeerState)] = &[
    ("cluster01", PeerState::Online),
    ("cluster02", PeerState::Online),
    ("httpd-bundle-0", PeerState::Online),
    ("httpd-bundle-1", PeerState::Online),
    ("httpd-bundle-2", PeerState::Offline),
];

const EXPECTED: &[(&str, Expect)] = &[
    ("crm_mon--basic-output.xml", Ok(ALL_FIVE)),
    (
        "crm_mon--complete-output-filtered-by-clone-resource-instance.xml",
        Ok(ALL_FIVE),
    ),
    (
        "crm_mon--complete-output-filtered-by-clone-resource.xml",
        Ok(ALL_FIVE),
    ),
    (
        "crm_mon--complete-output-filtered-by-group-resource.xml",
        Ok(ALL_FIVE),
    ),
    (
        "crm_mon--complete-output-filtered-by-node.xml",
        Ok(&[
            ("cluster01", PeerState::Online),
            ("cluster02", PeerState::NotMember),
        ]),
    ),
    (
        "crm_mon--complete-output-filtered-by-primitive-resource.xml",
        Ok(ALL_FIVE),
    ),
    (
        "crm_mon--complete-output-filtered-by-resource-tag.xml",
        Ok(ALL_FIVE),
    ),
    (
        "crm_mon--complete-output-filtered-by-tag.xml",
        Ok(&[
            ("cluster02", PeerState::Online),
            ("cluster01", PeerState::NotMember),
        ]),
    ),
    ("crm_mon--output-filtered-by-bundle-connection.xml", Ok(ALL_FIVE)),
    ("crm_mon--output-filtered-by-bundled-container.xml", Ok(ALL_FIVE)),
    (
        "crm_mon--output-filtered-by-bundled-ip-address-resource.xml",
        Ok(ALL_FIVE),
    ),
    (
        "crm_mon--output-filtered-by-bundled-primitive-resource.xml",
        Ok(ALL_FIVE),
    ),
    (
        "crm_mon--output-filtered-by-clone-name-in-cloned-group.xml",
        Ok(ALL_FIVE),
    ),
    (
        "crm_mon--output-filtered-by-exact-clone-resource-instance.xml",
        Ok(ALL_FIVE),
    ),
    (
        "crm_mon--output-filtered-by-exact-group-instance-name-in-cloned-group.xml",
        Ok(ALL_FIVE),
    ),
    (
        "crm_mon--output-filtered-by-exact-primitive-instance-name-in-cloned-group.xml",
        Ok(ALL_FIVE),
    ),
    (
        "crm_mon--output-filtered-by-group-name-in-cloned-group.xml",
        Ok(ALL_FIVE),
    ),
    (
        "crm_mon--output-filtered-by-group-resource-member.xml",
        Ok(ALL_FIVE),
    ),
    (
        "crm_mon--output-filtered-by-inactive-bundle-resource.xml",
        Ok(ALL_FIVE),
    ),
    // --node=blah: an empty <nodes/>; no peer can be judged from it
    (
        "crm_mon--output-filtered-by-node-that-doesn-t-exist.xml",
        Err("listed no nodes"),
    ),
    (
        "crm_mon--output-filtered-by-primitive-name-in-cloned-group.xml",
        Ok(ALL_FIVE),
    ),
    (
        "crm_mon--output-filtered-by-resource-that-doesn-t-exist.xml",
        Ok(ALL_FIVE),
    ),
    ("crm_mon--output-grouped-by-node.xml", Ok(ALL_FIVE)),
    (
        "crm_mon--output-of-active-unmanaged-resource-on-offline-node.xml",
        Ok(&[
            ("cluster01", PeerState::Online),
            ("cluster02", PeerState::Offline),
        ]),
    ),
    (
        "crm_mon--output-of-all-resources-with-maintenance-enabled-for-a-node.xml",
        Ok(&[
            ("cluster01", PeerState::Online),
            ("cluster02", PeerState::Maintenance),
            ("httpd-bundle-1", PeerState::Maintenance),
            ("httpd-bundle-2", PeerState::Offline),
        ]),
    ),
    (
        "crm_mon--output-of-all-resources-with-maintenance-meta-attribute-true.xml",
        Ok(&[
            ("cluster01", PeerState::Online),
            ("httpd-bundle-0", PeerState::Maintenance),
        ]),
    ),
    (
        "crm_mon--output-of-all-resources-with-maintenance-mode-enabled.xml",
        Ok(&[
            ("cluster02", PeerState::Online),
            ("httpd-bundle-0", PeerState::Maintenance),
        ]),
    ),
    (
        "crm_mon--output-of-partially-active-resources-filtered-by-node.xml",
        Ok(&[("cluster01", PeerState::Online)]),
    ),
    (
        "crm_mon--output-of-partially-active-resources.xml",
        Ok(&[
            ("cluster02", PeerState::Online),
            ("httpd-bundle-0", PeerState::Online),
        ]),
    ),
    // --exclude=nodes: the agent never asks for that; without nodes no peer can be judged
    (
        "crm_mon--output-without-node-section.xml",
        Err("no <nodes> section"),
    ),
    (
        "feature_set--output-mixed-status.xml",
        Ok(&[
            ("cluster01", PeerState::Online),
            ("cluster02", PeerState::Online),
            ("cluster03", PeerState::Offline),
            ("remote01", PeerState::Offline),
        ]),
    ),
    (
        "feature_set--output-no-mixed-status.xml",
        Ok(&[
            ("cluster02", PeerState::Online),
            ("cluster03", PeerState::Offline),
        ]),
    ),
];

#[test]
fn each_document_reads_as_pacemaker_wrote_it() {
    for version in VERSIONS {
        let names = fixtures(version);
        for name in &names {
            assert!(
                EXPECTED.iter().any(|(n, _)| n == name),
                "{version}/{name} has no expectation"
            );
        }
        for (name, expect) in EXPECTED {
            assert!(names.iter().any(|n| n == name), "{version}/{name} missing");
            let v = view(version, name);
            match expect {
                Err(why) => {
                    assert!(!v.known, "{version}/{name}: expected unknown, got {v:?}");
                    let reason = v.reason.unwrap_or_default();
                    assert!(reason.contains(why), "{version}/{name}: {reason}");
                }
                Ok(states) => {
                    assert!(v.known, "{version}/{name}: {:?}", v.reason);
                    for (node, state) in *states {
                        assert_eq!(v.peer_state(Some(node)), *state, "{version}/{name} {node}");
                    }
                    assert!(v.quorate == Some(true) && v.dc.is_some(), "{version}/{name}");
                    assert!(v
                        .cluster_options
                        .as_ref()
                        .is_some_and(|o| o.fencing_enabled.is_some()));
                }
            }
        }
    }
}

#[test]
fn both_releases_read_alike_whatever_they_call_fencing_and_removal() {
    // 3.0.2 added fencing-enabled/fencing-timeout-ms and removed, keeping the deprecated
    // stonith-enabled/stonith-timeout-ms and orphaned; 3.0.0 wrote only the old names.
    let new = text("3.0.2", "crm_mon--basic-output.xml");
    let old = text("3.0.0", "crm_mon--basic-output.xml");
    assert!(new.contains("fencing-enabled=\"true\"") && new.contains(" removed=\"false\""));
    assert!(!old.contains("fencing-enabled") && !old.contains(" removed="));
    for name in fixtures("3.0.2") {
        assert_eq!(view("3.0.2", &name), view("3.0.0", &name), "{name}");
    }
}

/// The 3.0.2 document with `from` replaced by `to` (which must occur), still valid for 3.0.2.
fn edited(from: &str, to: &str) -> String {
    let doc = text("3.0.2", "crm_mon--basic-output.xml");
    assert!(doc.contains(from), "{from}");
    let doc = doc.replacen(from, to, 1);
    validates("3.0.2", &restore(&doc)).unwrap_or_else(|e| panic!("{to}: {e}"));
    doc
}

#[test]
fn the_new_names_win_and_suffice() {
    let real = view("3.0.2", "crm_mon--basic-output.xml");
    // fencing-enabled / fencing-timeout-ms are read, not only their deprecated twins
    let v = parse(&edited(
        "fencing-enabled=\"true\" fencing-timeout-ms=\"60000\"",
        "fencing-enabled=\"false\" fencing-timeout-ms=\"30000\"",
    ));
    let o = v.cluster_options.unwrap();
    assert_eq!(
        (o.fencing_enabled, o.fencing_timeout_ms),
        (Some(false), Some(30000))
    );
    // removed wins over the deprecated orphaned
    let v = parse(&edited(
        "orphaned=\"false\" removed=\"false\"",
        "orphaned=\"false\" removed=\"true\"",
    ));
    assert!(v.resources[0].removed, "{:?}", v.resources[0]);
    assert_eq!(v.resources.iter().filter(|r| r.removed).count(), 1);
    // a release without the deprecated names reads the same
    let doc = text("3.0.2", "crm_mon--basic-output.xml")
        .replace(" stonith-enabled=\"true\" stonith-timeout-ms=\"60000\"", "")
        .replace(" orphaned=\"false\"", "");
    assert!(!doc.contains("stonith-enabled") && !doc.contains("orphaned"));
    assert_eq!(parse(&doc), real);
    // a clone without instances ends where it is written
    let v = parse(&edited(
        "disabled=\"true\" failed=\"false\" failure_ignored=\"false\" target_role=\"stopped\">\n      <resource id=\"inactive-dhcpd\"",
        "disabled=\"true\" failed=\"false\" failure_ignored=\"false\" target_role=\"stopped\"/>\n    <clone id=\"x\" multi_state=\"false\" unique=\"false\" managed=\"true\" disabled=\"false\" failed=\"false\" failure_ignored=\"false\">\n      <resource id=\"inactive-dhcpd\"",
    ));
    let dhcpd = v.resources.iter().find(|r| r.id == "inactive-dhcpd").unwrap();
    assert_eq!(dhcpd.clone.as_deref(), Some("x"));
    let dummy = v.resources.iter().find(|r| r.id == "inactive-dummy-1").unwrap();
    assert_eq!(
        (dummy.clone.as_ref(), dummy.group.as_deref()),
        (None, Some("inactive-group"))
    );
}

/// Shapes the regression suite does not show (crm_mon -1 against a cluster not up), as
/// crm_mon-2.42.rng and pacemakerd-health-2.25.rng define them; checked against that schema.
#[test]
fn a_cluster_that_is_not_up_says_why() {
    let disconnected = "<pacemaker-result api-version=\"2.42\" request=\"crm_mon\">\n  \
        <crm-mon-disconnected description=\"Latest connection attempt failed\" pacemakerd-state=\"starting_daemons\"/>\n  \
        <status code=\"0\" message=\"OK\"/>\n</pacemaker-result>\n";
    let starting = "<pacemaker-result api-version=\"2.42\" request=\"crm_mon\">\n  \
        <pacemakerd state=\"wait_for_ping\" last_updated=\"x\"/>\n  \
        <status code=\"0\" message=\"OK\"/>\n</pacemaker-result>\n";
    for (doc, why) in [
        (
            disconnected,
            "Latest connection attempt failed (pacemakerd starting_daemons)",
        ),
        (starting, "pacemakerd is wait_for_ping"),
    ] {
        validates("3.0.2", doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
        let v = parse(doc);
        assert!(!v.known);
        assert!(v.reason.as_deref().unwrap().contains(why), "{v:?}");
    }
}

#[test]
fn summary_and_cluster_options() {
    for version in VERSIONS {
        let v = view(version, "crm_mon--basic-output.xml");
        assert_eq!(v.dc.as_deref(), Some("cluster02"));
        assert_eq!(v.quorate, Some(true));
        assert_eq!(v.stack.as_deref(), Some("corosync"));
        assert_eq!(v.mixed_version, Some(false));
        assert_eq!(v.dc_version, None, "cts-cli blanks version=\"\"");
        let o = v.cluster_options.clone().unwrap();
        assert_eq!(o.fencing_enabled, Some(true));
        assert_eq!(o.fencing_timeout_ms, Some(60000));
        assert_eq!(o.no_quorum_policy.as_deref(), Some("stop"));
        assert_eq!((o.maintenance_mode, o.stop_all_resources), (false, false));
        assert_eq!(v.nodes.len(), 5);
        let b2 = v.node("httpd-bundle-2").unwrap();
        assert_eq!((b2.node_type.as_str(), b2.online), ("remote", false));
        let c1 = v.node("cluster01").unwrap();
        assert_eq!(c1.health.as_deref(), Some("green"));
        assert_eq!(c1.feature_set.as_deref(), Some("<3.15.1"));
        assert!(v.node("cluster02").unwrap().is_dc);

        let mixed = view(version, "feature_set--output-mixed-status.xml");
        assert_eq!(mixed.mixed_version, Some(true));
        assert_eq!(
            mixed.node("cluster02").unwrap().feature_set.as_deref(),
            Some("3.15.0")
        );
        assert_eq!(mixed.cluster_options.unwrap().fencing_enabled, Some(false));
        let same = view(version, "feature_set--output-no-mixed-status.xml");
        assert_eq!(same.mixed_version, Some(false));

        let maint = view(
            version,
            "crm_mon--output-of-all-resources-with-maintenance-mode-enabled.xml",
        );
        assert!(maint.cluster_options.unwrap().maintenance_mode);
        assert!(
            maint.resources.iter().all(|r| !r.managed && r.maintenance),
            "{:?}",
            maint.resources
        );
    }
}

#[test]
fn resources_in_clones_groups_and_bundles() {
    for version in VERSIONS {
        let v = view(version, "crm_mon--basic-output.xml");
        let find = |id: &'static str| v.resources.iter().filter(move |r| r.id == id);
        let ping: Vec<_> = find("ping").collect();
        assert_eq!(ping.len(), 2);
        assert!(ping
            .iter()
            .all(|r| r.clone.as_deref() == Some("ping-clone") && r.role == "Started"));
        let mut on: Vec<_> = ping.iter().flat_map(|r| r.nodes.clone()).collect();
        on.sort();
        assert_eq!(on, ["cluster01", "cluster02"]);

        let fencing = find("Fencing").next().unwrap();
        assert_eq!(fencing.agent, "stonith:fence_xvm");
        assert_eq!((fencing.clone.as_ref(), fencing.group.as_ref()), (None, None));
        assert_eq!(fencing.nodes, ["cluster01"]);

        // a cloned group: five instances mysql-group:0..4, two of them Started
        let proxy: Vec<_> = find("mysql-proxy").collect();
        assert_eq!(proxy.len(), 5);
        assert!(proxy
            .iter()
            .all(|r| r.clone.as_deref() == Some("mysql-clone-group")));
        let groups: Vec<_> = proxy.iter().filter_map(|r| r.group.clone()).collect();
        assert_eq!(
            groups,
            [
                "mysql-group:0",
                "mysql-group:1",
                "mysql-group:2",
                "mysql-group:3",
                "mysql-group:4"
            ]
        );
        let started: Vec<_> = proxy.iter().filter(|r| r.role == "Started").collect();
        assert_eq!(started.len(), 2);
        assert!(started.iter().all(|r| r.group.as_deref() < Some("mysql-group:2")));

        let email = find("Email").next().unwrap();
        assert_eq!(
            (email.group.as_deref(), email.clone.as_ref()),
            (Some("exim-group"), None)
        );

        let httpd: Vec<_> = find("httpd").collect();
        assert_eq!(httpd.len(), 3);
        assert!(httpd.iter().all(|r| r.bundle.as_deref() == Some("httpd-bundle")));
        assert_eq!(httpd.iter().filter(|r| r.role == "Stopped").count(), 1);

        let promoted: Vec<_> = find("promotable-rsc").filter(|r| r.role == "Promoted").collect();
        assert_eq!(promoted.len(), 1);
        assert_eq!(promoted[0].nodes, ["cluster02"]);

        let dhcpd = find("inactive-dhcpd").next().unwrap();
        assert_eq!(dhcpd.target_role.as_deref(), Some("stopped"));
        assert!(!dhcpd.active);
        assert!(v.resources.iter().all(|r| !r.removed && !r.failed && !r.blocked));

        let unmanaged = view(
            version,
            "crm_mon--output-of-active-unmanaged-resource-on-offline-node.xml",
        );
        let rsc2 = unmanaged.resources.iter().find(|r| r.id == "rsc2").unwrap();
        assert!(!rsc2.managed && rsc2.active && rsc2.maintenance);
        assert_eq!(rsc2.nodes, ["cluster02"]);
    }
}

#[test]
fn failures_as_3_0_spells_them() {
    for version in VERSIONS {
        let v = view(version, "crm_mon--output-of-partially-active-resources.xml");
        assert_eq!(v.failures.len(), 1, "{:?}", v.failures);
        let f = &v.failures[0];
        assert_eq!(f.op_key, "dummy-2_monitor_0");
        assert_eq!(f.node, "cluster02");
        assert_eq!(f.exitcode, Some(3));
        // crm_exit_str / pcmk_exec_status_str: 2.1 wrote "unimplemented feature", "complete"
        assert_eq!(f.exitstatus, "Unimplemented");
        assert_eq!(f.status, "Done");
        assert_eq!(f.task, "monitor");
        assert_eq!(f.interval_ms, Some(0));
        assert_eq!(f.call, Some(2));
        assert_eq!(f.exitreason, "");
    }
    // failure-2.8.rng: a failure whose operation has no key is named by id
    let doc = text("3.0.2", "crm_mon--output-of-partially-active-resources.xml").replacen(
        "<failure op_key=\"dummy-2_monitor_0\"",
        "<failure id=\"dummy-2_last_failure_0\"",
        1,
    );
    validates("3.0.2", &restore(&doc)).unwrap();
    assert_eq!(parse(&doc).failures[0].op_key, "dummy-2_last_failure_0");
}

#[test]
fn every_truncation_is_unknown_never_a_panic() {
    for version in VERSIONS {
        for name in fixtures(version) {
            let text = text(version, &name);
            let closing = text.rfind("</").unwrap_or(0);
            for cut in (0..closing).step_by(89).filter(|c| text.is_char_boundary(*c)) {
                let v = parse(&text[..cut]);
                assert!(!v.known, "{version}/{name} cut at {cut} parsed as known");
                assert!(v.reason.is_some());
            }
        }
    }
}

/// A crm_mon stand-in at the process boundary: records its arguments, prints a real
/// recording for `--output-as=xml` (Pacemaker 3.0.2's) or `--as-xml` (2.1.5's `crm_mon -1
/// --as-xml`), or refuses `--output-as` as crm_mon before 2.0.3 did (exit 64, CRM_EX_USAGE).
fn stand_in(at: &Path, knows_output_as: bool) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let args = at.join("args");
    let legacy =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/crm_mon/two-node-both-online-legacy.xml");
    let modern = dir("3.0.2").join("crm_mon--basic-output.xml");
    let refuse = if knows_output_as {
        String::new()
    } else {
        "echo \"crm_mon: unrecognized option '--output-as=xml'\" >&2; exit 64".to_string()
    };
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> '{args}'\ncase \"$2\" in\n--output-as=xml) {refuse}\n  cat '{modern}' ;;\n--as-xml) cat '{legacy}' ;;\nesac\n",
        args = args.display(),
        modern = modern.display(),
        legacy = legacy.display(),
    );
    let program = at.join("crm_mon");
    std::fs::write(&program, script).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    (program, args)
}

#[test]
fn query_asks_for_output_as_xml_and_the_legacy_form_only_when_that_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let deadline = || Deadline::after(std::time::Duration::from_secs(10));

    let (program, args) = stand_in(tmp.path(), true);
    let v = query(program.to_str().unwrap(), deadline());
    assert!(v.known, "{v:?}");
    assert_eq!(v.dc.as_deref(), Some("cluster02"));
    assert_eq!(std::fs::read_to_string(&args).unwrap(), "-1 --output-as=xml\n");

    let old = tmp.path().join("old");
    std::fs::create_dir(&old).unwrap();
    let (program, args) = stand_in(&old, false);
    let v = query(program.to_str().unwrap(), deadline());
    assert!(v.known, "{v:?}");
    assert_eq!(v.dc.as_deref(), Some("storage-a"), "the legacy document was read");
    assert_eq!(
        std::fs::read_to_string(&args).unwrap(),
        "-1 --output-as=xml\n-1 --as-xml\n"
    );
}
