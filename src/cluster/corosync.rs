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

/// The totem settings and node count of a corosync.conf.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ConfTimes {
    pub token: Option<i64>,
    pub token_coefficient: Option<i64>,
    pub consensus: Option<i64>,
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
                times.nodes += 1;
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
                let v = v.trim().parse::<i64>().ok();
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

/// The effective token as Corosync computes it: token + (nodes - 2) x coefficient with a
/// nodelist of three or more; consensus 1.2 x that unless set.
pub fn window_from_conf(times: &ConfTimes, source: &str) -> Window {
    let base = times.token.unwrap_or(DEFAULT_TOKEN_MS);
    let coefficient = times.token_coefficient.unwrap_or(DEFAULT_TOKEN_COEFFICIENT_MS);
    let extra = if times.nodes >= 3 {
        (times.nodes as i64 - 2) * coefficient
    } else {
        0
    };
    let token = base + extra;
    let token_src = match (times.token, extra) {
        (Some(_), 0) => format!("{source} totem.token"),
        (Some(t), _) => format!(
            "{source}: token {t} + ({} nodes - 2) x token_coefficient {coefficient}",
            times.nodes
        ),
        (None, 0) => format!("Corosync default token ({source} sets none)"),
        (None, _) => format!(
            "{source}: default token {base} + ({} nodes - 2) x token_coefficient {coefficient}",
            times.nodes
        ),
    };
    let consensus = match times.consensus {
        Some(c) => Figure::new(c, format!("{source} totem.consensus")),
        None => Figure::new(
            token * 12 / 10,
            format!("1.2 x token (Corosync default; {source} sets none)"),
        ),
    };
    Window {
        token_ms: Figure::new(token, token_src),
        consensus_ms: consensus,
    }
}

/// Reads the window: overrides first, then the running Corosync, then corosync.conf.
pub fn window(src: &Sources, deadline: Deadline) -> Window {
    let mut w = if let Some(token) = cmap(src.cmapctl, "runtime.config.totem.token", deadline) {
        let consensus = cmap(src.cmapctl, "runtime.config.totem.consensus", deadline)
            .map(|c| Figure::new(c, "corosync-cmapctl runtime.config.totem.consensus"))
            .unwrap_or_else(|| Figure::new(token * 12 / 10, "1.2 x token (Corosync default)"));
        Window {
            token_ms: Figure::new(token, "corosync-cmapctl runtime.config.totem.token"),
            consensus_ms: consensus,
        }
    } else {
        match std::fs::read_to_string(src.conf) {
            Ok(text) => {
                let label = format!("{} (no running Corosync answered)", src.conf.display());
                window_from_conf(&parse_conf(&text), &label)
            }
            Err(_) => Window {
                token_ms: Figure::new(
                    DEFAULT_TOKEN_MS,
                    format!("Corosync 3.1 default (no Corosync, no {})", src.conf.display()),
                ),
                consensus_ms: Figure::new(DEFAULT_TOKEN_MS * 12 / 10, "1.2 x token (Corosync default)"),
            },
        }
    };
    if let Some((token, what)) = src.token_override {
        w.token_ms = Figure::new(token, what);
        if src.consensus_override.is_none() {
            w.consensus_ms = Figure::new(token * 12 / 10, format!("1.2 x token ({what}; Corosync default)"));
        }
    }
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
        assert_eq!((one.token_ms.value, one.consensus_ms.value), (4000, 4800));
        let three = window_from_conf(&parse_conf(&fixture("three-node-default.corosync.conf")), "c");
        assert_eq!((three.token_ms.value, three.consensus_ms.value), (4650, 5580));
        assert!(three.token_ms.source.contains("token_coefficient"));
    }

    #[test]
    fn conf_parsing_details() {
        let t = parse_conf("totem {\n token: 5000 # ms\n token_coefficient: 1000\n consensus: 9000\n interface {\n  token: 1\n }\n}\nnodelist {\n node {\n }\n node {\n }\n node {\n }\n node {\n }\n}\n");
        assert_eq!(
            t,
            ConfTimes {
                token: Some(5000),
                token_coefficient: Some(1000),
                consensus: Some(9000),
                nodes: 4
            }
        );
        let w = window_from_conf(&t, "c");
        assert_eq!((w.token_ms.value, w.consensus_ms.value), (7000, 9000));
        let none = window_from_conf(&parse_conf(""), "c");
        assert_eq!(none.token_ms.value, 3000);
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
        assert_eq!((w.token_ms.value, w.consensus_ms.value), (4000, 4800));
        assert_eq!(w.token_ms.source, "--token-ms");
    }
}
