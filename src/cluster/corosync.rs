//! Corosync's timing: the effective token and consensus, from the running Corosync
//! (corosync-cmapctl), else from corosync.conf, else Corosync 3.1's defaults. Every figure
//! says where it came from.

use std::path::Path;
use std::time::Duration;

use crate::deadline::Deadline;
use crate::decide::timeouts::{Figure, Window};
use crate::process;

/// Corosync 3.1's defaults (corosync.conf(5)).
pub const DEFAULT_TOKEN_MS: i64 = 3000;
pub const DEFAULT_TOKEN_COEFFICIENT_MS: i64 = 650;

/// What the caller overrides, and where to look otherwise.
pub struct Sources<'a> {
    pub token_override: Option<(i64, &'a str)>,
    pub consensus_override: Option<(i64, &'a str)>,
    pub cmapctl: &'a str,
    pub conf: &'a Path,
}

/// `runtime.config.totem.token (u32) = 4000`
pub fn parse_cmap_value(text: &str, key: &str) -> Option<i64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.split_whitespace().next()? == key).then(|| v.trim().parse().ok())?
    })
}

fn cmap(program: &str, key: &str, deadline: Deadline) -> Option<i64> {
    let out = process::run(program, &["-g", key], deadline.capped(Duration::from_secs(3))).ok()?;
    if !out.success() {
        tracing::debug!("{program} -g {key}: exit {:?}: {}", out.code, out.stderr.trim());
        return None;
    }
    parse_cmap_value(&out.stdout, key)
}

/// One totem setting of a corosync.conf: absent, or its text.
pub type Setting = Option<String>;

/// The totem settings and node count of a corosync.conf, as written (numbers are judged
/// when the window is computed, so that garbage is reported, not defaulted).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ConfTimes {
    pub token: Setting,
    pub token_coefficient: Setting,
    pub consensus: Setting,
    pub nodes: usize,
}

pub fn parse_conf(text: &str) -> ConfTimes {
    let mut times = ConfTimes::default();
    let mut stack: Vec<String> = Vec::new();
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(section) = line.strip_suffix('{') {
            let name = section.trim().to_string();
            if stack.last().map(String::as_str) == Some("nodelist") && name == "node" {
                times.nodes = times.nodes.saturating_add(1);
            }
            stack.push(name);
            continue;
        }
        if line == "}" {
            stack.pop();
            continue;
        }
        if stack.len() == 1 && stack[0] == "totem" {
            if let Some((k, v)) = line.split_once(':') {
                let v = Some(v.trim().to_string());
                match k.trim() {
                    "token" => times.token = v,
                    "token_coefficient" => times.token_coefficient = v,
                    "consensus" => times.consensus = v,
                    _ => {}
                }
            }
        }
    }
    times
}

/// Consensus as Corosync derives it when none is set: 1.2 x the token.
fn default_consensus(token: &Figure, source: impl Into<String>) -> Figure {
    token.derive(source, |t| t.checked_mul(12).map(|v| v / 10))
}

/// The effective token as Corosync computes it: token + (nodes - 2) x coefficient with a
/// nodelist of three or more; consensus 1.2 x that unless set. Every step is checked: a
/// setting that is not a number, or a sum that overflows, is an unusable figure that says
/// so, never a default or a wrapped number.
pub fn window_from_conf(times: &ConfTimes, source: &str) -> Window {
    let token_src = |what: &str| format!("{source} {what}");
    let base = match &times.token {
        Some(t) => Figure::parse(t, "ms", token_src("totem.token")),
        None => Figure::new(
            DEFAULT_TOKEN_MS,
            format!("Corosync default token ({source} sets none)"),
        ),
    };
    let coefficient = match &times.token_coefficient {
        Some(c) => Figure::parse(c, "ms", token_src("totem.token_coefficient")),
        None => Figure::new(DEFAULT_TOKEN_COEFFICIENT_MS, "Corosync default token_coefficient"),
    };
    let token = if times.nodes < 3 {
        base
    } else {
        let nodes = times.nodes;
        let src = format!(
            "{source}: {} {} + ({nodes} nodes - 2) x token_coefficient {}",
            if times.token.is_some() {
                "token"
            } else {
                "default token"
            },
            base.shown(),
            coefficient.shown()
        );
        match (base.value, coefficient.value) {
            (Some(_), Some(c)) if c < 0 => {
                Figure::unusable(src, format!("token_coefficient {c} is negative"))
            }
            (Some(b), Some(c)) => {
                let sum = i64::try_from(nodes - 2)
                    .ok()
                    .and_then(|n| n.checked_mul(c))
                    .and_then(|extra| b.checked_add(extra));
                match sum {
                    Some(t) => Figure::new(t, src),
                    None => Figure::unusable(src, "the sum overflows"),
                }
            }
            (None, _) => Figure::unusable(src, base.problem.clone().unwrap_or_default()),
            (_, None) => Figure::unusable(src, coefficient.problem.clone().unwrap_or_default()),
        }
    };
    let consensus = match &times.consensus {
        Some(c) => Figure::parse(c, "ms", token_src("totem.consensus")),
        None => default_consensus(
            &token,
            format!("1.2 x token (Corosync default; {source} sets none)"),
        ),
    };
    Window {
        token_ms: token,
        consensus_ms: consensus,
    }
}

/// Reads the window: overrides first, then the running Corosync, then corosync.conf. A
/// token override decides both figures (consensus then follows it unless overridden too),
/// so with one nothing is read or run.
pub fn window(src: &Sources, deadline: Deadline) -> Window {
    if let Some((token, what)) = src.token_override {
        let token = Figure::new(token, what);
        let consensus = match src.consensus_override {
            Some((c, what)) => Figure::new(c, what),
            None => default_consensus(&token, format!("1.2 x token ({what}; Corosync default)")),
        };
        return Window {
            token_ms: token,
            consensus_ms: consensus,
        };
    }
    let mut w = if let Some(token) = cmap(src.cmapctl, "runtime.config.totem.token", deadline) {
        let token = Figure::new(token, "corosync-cmapctl runtime.config.totem.token");
        let consensus = match cmap(src.cmapctl, "runtime.config.totem.consensus", deadline) {
            Some(c) => Figure::new(c, "corosync-cmapctl runtime.config.totem.consensus"),
            None => default_consensus(&token, "1.2 x token (Corosync default)"),
        };
        Window {
            token_ms: token,
            consensus_ms: consensus,
        }
    } else {
        match std::fs::read_to_string(src.conf) {
            Ok(text) => {
                let label = format!("{} (no running Corosync answered)", src.conf.display());
                window_from_conf(&parse_conf(&text), &label)
            }
            Err(_) => {
                let token = Figure::new(
                    DEFAULT_TOKEN_MS,
                    format!("Corosync 3.1 default (no Corosync, no {})", src.conf.display()),
                );
                Window {
                    consensus_ms: default_consensus(&token, "1.2 x token (Corosync default)"),
                    token_ms: token,
                }
            }
        }
    };
    if let Some((consensus, what)) = src.consensus_override {
        w.consensus_ms = Figure::new(consensus, what);
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/corosync")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn cmapctl_output_from_real_corosync() {
        let one = fixture("one-node-token4000.get-token.stdout");
        assert_eq!(parse_cmap_value(&one, "runtime.config.totem.token"), Some(4000));
        let c = fixture("one-node-token4000.get-consensus.stdout");
        assert_eq!(parse_cmap_value(&c, "runtime.config.totem.consensus"), Some(4800));
        let three = fixture("three-node-default.get-token.stdout");
        assert_eq!(parse_cmap_value(&three, "runtime.config.totem.token"), Some(4650));
        assert_eq!(
            parse_cmap_value(
                &fixture("no-corosync.get-token.stdout"),
                "runtime.config.totem.token"
            ),
            None
        );
    }

    #[test]
    fn conf_files_give_what_corosync_computes_at_runtime() {
        // The lab's corosync.conf files: what cmap reported for them is the expectation.
        let one = window_from_conf(&parse_conf(&fixture("one-node-token4000.corosync.conf")), "c");
        assert_eq!(
            (one.token_ms.value, one.consensus_ms.value),
            (Some(4000), Some(4800))
        );
        let three = window_from_conf(&parse_conf(&fixture("three-node-default.corosync.conf")), "c");
        assert_eq!(
            (three.token_ms.value, three.consensus_ms.value),
            (Some(4650), Some(5580))
        );
        assert!(three.token_ms.source.contains("token_coefficient"));
    }

    #[test]
    fn conf_parsing_details() {
        let t = parse_conf("totem {\n token: 5000 # ms\n token_coefficient: 1000\n consensus: 9000\n interface {\n  token: 1\n }\n}\nnodelist {\n node {\n }\n node {\n }\n node {\n }\n node {\n }\n}\n");
        assert_eq!(
            t,
            ConfTimes {
                token: Some("5000".into()),
                token_coefficient: Some("1000".into()),
                consensus: Some("9000".into()),
                nodes: 4
            }
        );
        let w = window_from_conf(&t, "c");
        assert_eq!((w.token_ms.value, w.consensus_ms.value), (Some(7000), Some(9000)));
        let none = window_from_conf(&parse_conf(""), "c");
        assert_eq!(none.token_ms.value, Some(3000));
        assert!(none.token_ms.source.contains("default"));
    }

    #[test]
    fn overrides_win_and_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let src = Sources {
            token_override: Some((4000, "--token-ms")),
            consensus_override: None,
            cmapctl: "/nonexistent/corosync-cmapctl",
            conf: &dir.path().join("missing.conf"),
        };
        let w = window(&src, Deadline::after(Duration::from_secs(2)));
        assert_eq!((w.token_ms.value, w.consensus_ms.value), (Some(4000), Some(4800)));
        assert_eq!(w.token_ms.source, "--token-ms");
    }

    fn conf_window(totem: &str, nodes: usize) -> Window {
        let nodelist = "node {\n}\n".repeat(nodes);
        window_from_conf(
            &parse_conf(&format!("totem {{\n{totem}\n}}\nnodelist {{\n{nodelist}}}\n")),
            "/etc/corosync/corosync.conf",
        )
    }

    #[test]
    fn garbage_and_overflow_in_corosync_conf_are_unusable_never_wrapped() {
        // Not a number any integer holds: reported, not replaced by the default.
        let w = conf_window("token: 99999999999999999999", 2);
        assert_eq!(w.token_ms.value, None);
        assert!(w
            .token_ms
            .problem
            .as_deref()
            .unwrap()
            .contains("'99999999999999999999'"));
        assert_eq!(w.token_ms.source, "/etc/corosync/corosync.conf totem.token");
        assert_eq!(w.consensus_ms.value, None, "consensus follows an unusable token");
        // The largest integer: the token is kept (judge calls it out of range), consensus
        // (1.2 x) would overflow: unusable, never -1 ms.
        let w = conf_window(&format!("token: {}", i64::MAX), 2);
        assert_eq!(w.token_ms.value, Some(i64::MAX));
        assert_eq!(w.consensus_ms.value, None);
        // The coefficient's sum overflows, or the coefficient is negative.
        let w = conf_window(&format!("token: 1000\ntoken_coefficient: {}", i64::MAX), 4);
        assert_eq!(w.token_ms.value, None);
        assert!(w.token_ms.problem.as_deref().unwrap().contains("overflows"));
        let w = conf_window("token_coefficient: -650", 3);
        assert!(w.token_ms.problem.as_deref().unwrap().contains("negative"));
        // A huge node count.
        let times = ConfTimes {
            token: Some("3000".into()),
            nodes: usize::MAX,
            ..Default::default()
        };
        assert_eq!(window_from_conf(&times, "c").token_ms.value, None);
        // Negative and empty consensus: kept for judge to refuse, or unusable.
        assert_eq!(conf_window("consensus: -1", 2).consensus_ms.value, Some(-1));
        assert_eq!(conf_window("consensus:", 2).consensus_ms.value, None);
    }

    #[test]
    fn a_token_override_reads_and_runs_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("calls");
        let cmapctl = dir.path().join("corosync-cmapctl");
        std::fs::write(
            &cmapctl,
            format!(
                "#!/bin/sh\necho \"$@\" >> {}\necho 'runtime.config.totem.token (u32) = 1000'\n",
                log.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cmapctl, std::fs::Permissions::from_mode(0o755)).unwrap();
        let conf = dir.path().join("corosync.conf");
        let program = cmapctl.display().to_string();
        let deadline = Deadline::after(Duration::from_secs(5));
        for (token, consensus, runs) in [
            (Some((4000, "--token-ms")), Some((4800, "--consensus-ms")), false),
            (Some((4000, "--token-ms")), None, false),
            (None, Some((4800, "--consensus-ms")), true),
        ] {
            let _ = std::fs::remove_file(&log);
            let w = window(
                &Sources {
                    token_override: token,
                    consensus_override: consensus,
                    cmapctl: &program,
                    conf: &conf,
                },
                deadline,
            );
            assert_eq!(log.exists(), runs, "{token:?} {consensus:?}");
            assert_eq!(w.consensus_ms.value, Some(4800));
        }
    }
}
