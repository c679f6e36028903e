//! doctor's report: the recovery procedure with the answers filled in, for people (text
//! that reads like seeds/000, step by step) and tools (JSON: bounded codes where tools
//! branch, prose beside them).

use serde::Serialize;

use crate::act::Action;
use crate::decide::recovery::{Finding, Grade, Recovery, STEPS};

#[derive(Debug, Clone, Serialize)]
pub struct OptionOut {
    /// "A".."D", or none when no reconnect is called for (or none fits yet).
    pub option: Option<String>,
    pub why: String,
    /// The paths option C would log in (and --fix did).
    pub paths: Vec<String>,
    pub not: Vec<NotOut>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NotOut {
    pub option: String,
    pub why: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub ok: usize,
    pub warn: usize,
    pub fail: usize,
    pub skipped: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    pub resource: String,
    pub node: String,
    /// Whether repairs were allowed (--fix).
    pub fix: bool,
    pub deadline_s: u64,
    pub findings: Vec<Finding>,
    pub reconnect: OptionOut,
    /// The vdev `zpool online` is called for now, if any.
    pub zpool_online: Option<String>,
    pub safe_to_fail_back: Option<bool>,
    /// What --fix did, in order.
    pub actions: Vec<Action>,
    /// With --fix: the findings that called for the actions (`findings` is after them).
    pub before_fix: Option<Vec<Finding>>,
    pub summary: Summary,
    pub verdict: Grade,
    pub exit_code: i32,
}

pub struct Build<'a> {
    pub resource: &'a str,
    pub node: &'a str,
    pub fix: bool,
    pub deadline_s: u64,
    pub recovery: &'a Recovery,
    /// Each Relogin's subject, in order.
    pub relogin_subjects: Vec<String>,
    pub actions: Vec<Action>,
    pub before_fix: Option<Vec<Finding>>,
}

pub fn build(b: Build) -> DoctorReport {
    let r = b.recovery;
    DoctorReport {
        resource: b.resource.to_string(),
        node: b.node.to_string(),
        fix: b.fix,
        deadline_s: b.deadline_s,
        findings: r.findings.clone(),
        reconnect: OptionOut {
            option: r.choice.option.map(|o| format!("{o:?}")),
            why: r.choice.why.clone(),
            paths: b.relogin_subjects,
            not: r
                .choice
                .not
                .iter()
                .map(|(o, why)| NotOut {
                    option: format!("{o:?}"),
                    why: why.clone(),
                })
                .collect(),
        },
        zpool_online: r.online.clone(),
        safe_to_fail_back: r.safe_to_fail_back,
        actions: b.actions,
        before_fix: b.before_fix,
        summary: Summary {
            ok: r.count(Grade::Ok),
            warn: r.count(Grade::Warn),
            fail: r.count(Grade::Fail),
            skipped: r.count(Grade::Skipped),
        },
        verdict: r.worst(),
        exit_code: r.exit_code(),
    }
}

/// What each check is called in the text.
pub fn label(check: &str) -> &'static str {
    match check {
        "sessions" => "session",
        "pool" => "pool",
        "portal_tcp" => "storage address reachable (TCP)",
        "interface" => "interface, VLAN, MTU here",
        "path_mtu" => "jumbo path (ping -M do)",
        "target_login" => "target answers iSCSI (login probe)",
        "chap" => "CHAP",
        "iscsid" => "iscsid",
        "reconnect" => "reconnect",
        "zfs_online" => "zpool online",
        "resilver" => "resilver",
        _ => "check",
    }
}

fn tag(g: Grade) -> &'static str {
    match g {
        Grade::Ok => "[ ok ]",
        Grade::Warn => "[WARN]",
        Grade::Fail => "[FAIL]",
        Grade::Skipped => "[skip]",
    }
}

fn finding_text(out: &mut String, f: &Finding) {
    out.push_str(&format!(
        "  {} {} - {}: {}\n",
        tag(f.grade),
        label(f.check),
        f.subject,
        f.why
    ));
    for e in &f.evidence {
        out.push_str(&format!("         {e}\n"));
    }
    if let Some(n) = &f.next {
        out.push_str(&format!("         next: {n}\n"));
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub fn text(r: &DoctorReport) -> String {
    let mut out = format!(
        "iscsi-mirror doctor: resource {} on {} ({}, everything within {} s)\n",
        if r.resource.is_empty() {
            "(from --param)"
        } else {
            &r.resource
        },
        r.node,
        if r.fix {
            "--fix: option C and zpool online only"
        } else {
            "read-only; --fix repairs"
        },
        r.deadline_s
    );
    if let Some(before) = &r.before_fix {
        out.push_str("\nBefore --fix:\n");
        for f in before.iter().filter(|f| f.grade >= Grade::Warn) {
            finding_text(&mut out, f);
        }
        out.push_str("\nWhat --fix did:\n");
        if r.actions.is_empty() {
            out.push_str("  nothing: no repair it may run was called for\n");
        }
        for a in &r.actions {
            out.push_str(&format!(
                "  {} {}: {}\n",
                if a.ok { "[done]" } else { "[FAIL]" },
                a.command,
                a.outcome
            ));
        }
        out.push_str("\nAfter --fix:\n");
    }
    for (step, title) in STEPS {
        out.push_str(&format!("\nStep {step}: {title}\n"));
        for f in r.findings.iter().filter(|f| f.step == step) {
            finding_text(&mut out, f);
        }
    }
    out.push_str(&format!(
        "\nResult: {}, {}, {}, {} skipped: exit {}\n",
        plural(r.summary.ok, "ok", "ok"),
        plural(r.summary.warn, "warning", "warnings"),
        plural(r.summary.fail, "failure", "failures"),
        r.summary.skipped,
        r.exit_code
    ));
    out
}
