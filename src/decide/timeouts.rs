//! The timeout window: do the iSCSI timers notice a dead peer within Corosync's token,
//! and does pool I/O stop stalling by the time the cluster has re-formed?
//!
//! T = effective token, C = consensus; I = noop_out_interval, P = noop_out_timeout,
//! R = replacement_timeout. The kernel declares a connection dead once no PDU arrived for
//! I + P (libiscsi's ping timer), then fails queued I/O R later.

use serde::Serialize;

/// A number and where it came from: every figure printed says its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Figure {
    pub value: i64,
    pub source: String,
}

impl Figure {
    pub fn new(value: i64, source: impl Into<String>) -> Figure {
        Figure {
            value,
            source: source.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Window {
    /// Effective token, ms.
    pub token_ms: Figure,
    /// Consensus, ms.
    pub consensus_ms: Figure,
}

/// The timers of one session or node record, seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timers {
    pub noop_out_interval: Figure,
    pub noop_out_timeout: Figure,
    pub replacement_timeout: Figure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Ok,
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub rule: &'static str,
    pub message: String,
}

fn secs(ms: i64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

/// Applies every rule; the findings say what holds and by how much.
pub fn judge(w: &Window, t: &Timers) -> Vec<Finding> {
    let (i, p, r) = (
        t.noop_out_interval.value,
        t.noop_out_timeout.value,
        t.replacement_timeout.value,
    );
    let token = w.token_ms.value;
    let consensus = w.consensus_ms.value;
    let mut out = Vec::new();
    let f = |severity, rule, message: String| Finding {
        severity,
        rule,
        message,
    };

    if i <= 0 || p <= 0 {
        out.push(f(
            Severity::Error,
            "pings-off",
            format!("NOP-Out pings are off (interval {i} s, timeout {p} s): a dead peer is never noticed"),
        ));
    }
    if r < 0 {
        out.push(f(
            Severity::Error,
            "io-queued-forever",
            format!("replacement_timeout {r} s: I/O on a dead session is queued forever"),
        ));
    }
    let detection = (i + p) * 1000;
    if i > 0 && p > 0 {
        if detection > token {
            out.push(f(
                Severity::Error,
                "detection-within-token",
                format!(
                    "detection {} > token {}, late by {}: the storage notices a dead peer after Corosync does",
                    secs(detection),
                    secs(token),
                    secs(detection - token)
                ),
            ));
        } else {
            out.push(f(
                Severity::Ok,
                "detection-within-token",
                format!(
                    "detection {} <= token {}, margin {}",
                    secs(detection),
                    secs(token),
                    secs(token - detection)
                ),
            ));
        }
        if detection * 2 < token {
            out.push(f(
                Severity::Warning,
                "detection-not-trigger-happy",
                format!(
                    "detection {} < half the token {}: busy links get faulted and resilvered",
                    secs(detection),
                    secs(token / 2)
                ),
            ));
        }
    }
    if r >= 0 && i > 0 && p > 0 {
        let stall = detection + r * 1000;
        let window = token + consensus;
        if stall > window {
            out.push(f(
                Severity::Warning,
                "stall-within-membership",
                format!(
                    "I/O stall {} > token + consensus {}, by {}: pool I/O still stalls after the cluster re-formed",
                    secs(stall),
                    secs(window),
                    secs(stall - window)
                ),
            ));
        } else {
            out.push(f(
                Severity::Ok,
                "stall-within-membership",
                format!(
                    "I/O stall {} <= token + consensus {}, margin {}",
                    secs(stall),
                    secs(window),
                    secs(window - stall)
                ),
            ));
        }
    }
    out
}

pub fn worst(findings: &[Finding]) -> Severity {
    findings.iter().map(|f| f.severity).max().unwrap_or(Severity::Ok)
}

/// Exit status for monitoring systems: 0 inside, 1 warning, 2 error.
pub fn exit_code(severity: Severity) -> i32 {
    match severity {
        Severity::Ok => 0,
        Severity::Warning => 1,
        Severity::Error => 2,
    }
}

/// Timers that fit a window: detection at half the token each (never later than the
/// token, never trigger-happy), and I/O released before token + consensus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Recommendation {
    pub noop_out_interval: i64,
    pub noop_out_timeout: i64,
    pub replacement_timeout: i64,
}

pub fn recommend(token_ms: i64, consensus_ms: i64) -> Recommendation {
    let half = (token_ms / 2 / 1000).max(1);
    let detection = 2 * half;
    let replacement = ((token_ms + consensus_ms) / 1000 - detection).max(1);
    Recommendation {
        noop_out_interval: half,
        noop_out_timeout: half,
        replacement_timeout: replacement,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(token: i64, consensus: i64) -> Window {
        Window {
            token_ms: Figure::new(token, "test"),
            consensus_ms: Figure::new(consensus, "test"),
        }
    }
    fn timers(i: i64, p: i64, r: i64) -> Timers {
        Timers {
            noop_out_interval: Figure::new(i, "test"),
            noop_out_timeout: Figure::new(p, "test"),
            replacement_timeout: Figure::new(r, "test"),
        }
    }
    fn rules(findings: &[Finding], severity: Severity) -> Vec<&'static str> {
        findings
            .iter()
            .filter(|f| f.severity == severity)
            .map(|f| f.rule)
            .collect()
    }

    #[test]
    fn seeds_values_are_inside_with_one_warning() {
        let f = judge(&window(4000, 4800), &timers(2, 2, 5));
        assert_eq!(worst(&f), Severity::Warning);
        assert_eq!(rules(&f, Severity::Warning), vec!["stall-within-membership"]);
        let d = f.iter().find(|f| f.rule == "detection-within-token").unwrap();
        assert_eq!(d.message, "detection 4.0 s <= token 4.0 s, margin 0.0 s");
        let s = f.iter().find(|f| f.rule == "stall-within-membership").unwrap();
        assert!(
            s.message.contains("9.0 s > token + consensus 8.8 s, by 0.2 s"),
            "{}",
            s.message
        );
        assert_eq!(exit_code(worst(&f)), 1);
    }

    #[test]
    fn open_iscsi_defaults_are_an_error() {
        let f = judge(&window(4000, 4800), &timers(5, 5, 120));
        assert_eq!(worst(&f), Severity::Error);
        assert_eq!(rules(&f, Severity::Error), vec!["detection-within-token"]);
        assert!(f[0].message.contains("late by 6.0 s"), "{}", f[0].message);
        assert_eq!(exit_code(worst(&f)), 2);
    }

    #[test]
    fn detection_boundary_at_the_token() {
        assert_eq!(worst(&judge(&window(4000, 8000), &timers(2, 2, 1))), Severity::Ok);
        assert_eq!(
            worst(&judge(&window(3999, 8000), &timers(2, 2, 1))),
            Severity::Error
        );
    }

    #[test]
    fn trigger_happy_boundary_at_half_the_token() {
        // I + P = 2 s against T/2 = 2 s: fine; 1 s less is trigger-happy.
        assert_eq!(
            rules(&judge(&window(4000, 8000), &timers(1, 1, 1)), Severity::Warning),
            Vec::<&str>::new()
        );
        assert_eq!(
            rules(&judge(&window(4001, 8000), &timers(1, 1, 1)), Severity::Warning),
            vec!["detection-not-trigger-happy"]
        );
    }

    #[test]
    fn stall_boundary_at_token_plus_consensus() {
        assert_eq!(worst(&judge(&window(4000, 5000), &timers(2, 2, 5))), Severity::Ok);
        assert_eq!(
            worst(&judge(&window(4000, 4999), &timers(2, 2, 5))),
            Severity::Warning
        );
    }

    #[test]
    fn pings_off_and_infinite_queueing_are_errors() {
        assert!(rules(&judge(&window(4000, 4800), &timers(0, 2, 5)), Severity::Error).contains(&"pings-off"));
        assert!(rules(&judge(&window(4000, 4800), &timers(2, 0, 5)), Severity::Error).contains(&"pings-off"));
        assert!(
            rules(&judge(&window(4000, 4800), &timers(2, 2, -1)), Severity::Error)
                .contains(&"io-queued-forever")
        );
    }

    #[test]
    fn three_nodes_move_the_window() {
        // token 4000 + 650 for the third node: 2/2/5 is still inside, with more margin.
        let f = judge(&window(4650, 5580), &timers(2, 2, 5));
        assert_eq!(worst(&f), Severity::Ok);
        assert!(
            f.iter()
                .any(|f| f.message.starts_with("detection 4.0 s <= token 4.7 s")),
            "{f:?}"
        );
    }

    #[test]
    fn recommendations_pass_their_own_rules() {
        for (t, c) in [
            (2000, 2400),
            (3000, 3600),
            (4000, 4800),
            (4650, 5580),
            (10000, 12000),
        ] {
            let r = recommend(t, c);
            let f = judge(
                &window(t, c),
                &timers(r.noop_out_interval, r.noop_out_timeout, r.replacement_timeout),
            );
            assert_eq!(worst(&f), Severity::Ok, "{t}/{c}: {r:?} {f:?}");
        }
        assert_eq!(
            recommend(4000, 4800),
            Recommendation {
                noop_out_interval: 2,
                noop_out_timeout: 2,
                replacement_timeout: 4
            }
        );
    }
}
