//! The timeout window: do the iSCSI timers notice a dead peer within Corosync's token,
//! and does pool I/O stop stalling by the time the cluster has re-formed?
//!
//! T = effective token, C = consensus; I = noop_out_interval, P = noop_out_timeout,
//! R = replacement_timeout. The kernel declares a connection dead once no PDU arrived for
//! I + P (libiscsi's ping timer), then fails queued I/O R later.

use serde::Serialize;

/// The largest token a Corosync is run with here: beyond ten minutes a value is a typo or
/// garbage, not a setting (Corosync's own defaults are seconds).
pub const TOKEN_MAX_MS: i64 = 600_000;
/// Consensus: 1.2 x the largest token.
pub const CONSENSUS_MAX_MS: i64 = 720_000;
/// An iSCSI timer beyond a day (either way) is no timer anyone set.
pub const TIMER_MAX_S: i64 = 86_400;

/// A number and where it came from: every figure printed says its source. A source that
/// holds no usable number (garbage, a number no integer holds, an overflowing sum) gives
/// a figure without a value and the reason, never a wrapped or defaulted one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Figure {
    pub value: Option<i64>,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl Figure {
    pub fn new(value: i64, source: impl Into<String>) -> Figure {
        Figure {
            value: Some(value),
            source: source.into(),
            problem: None,
        }
    }

    /// A source that holds no usable number, and why.
    pub fn unusable(source: impl Into<String>, problem: impl Into<String>) -> Figure {
        Figure {
            value: None,
            source: source.into(),
            problem: Some(problem.into()),
        }
    }

    /// A source's text, as a figure: a whole number, or unusable with the text quoted.
    pub fn parse(text: &str, unit: &str, source: impl Into<String>) -> Figure {
        match text.trim().parse::<i64>() {
            Ok(v) => Figure::new(v, source),
            Err(_) => Figure::unusable(
                source,
                format!(
                    "'{}' is not a whole number of {unit}",
                    crate::text::printable(text.trim())
                ),
            ),
        }
    }

    /// A figure computed from this one; `f` returns None when the result overflows.
    pub fn derive(&self, source: impl Into<String>, f: impl FnOnce(i64) -> Option<i64>) -> Figure {
        match self.value {
            Some(v) => match f(v) {
                Some(d) => Figure::new(d, source),
                None => Figure::unusable(source, format!("computed from {v}, it overflows")),
            },
            None => Figure::unusable(source, "computed from a figure that is not usable"),
        }
    }

    /// The number for people, or "?".
    pub fn shown(&self) -> String {
        self.value.map_or_else(|| "?".to_string(), |v| v.to_string())
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

/// Rules of a figure that cannot be judged with: no usable number, or one out of range.
pub const RULE_UNUSABLE: &str = "figure-unusable";
pub const RULE_OUT_OF_RANGE: &str = "figure-out-of-range";

fn secs(ms: i64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

/// Each figure's number when it is usable and within its range; else the findings saying
/// which figure, what it holds and where it came from.
fn usable(w: &Window, t: &Timers) -> Result<[i64; 5], Vec<Finding>> {
    let checks: [(&str, &Figure, i64, i64, &str); 5] = [
        ("token", &w.token_ms, 1, TOKEN_MAX_MS, "ms"),
        ("consensus", &w.consensus_ms, 1, CONSENSUS_MAX_MS, "ms"),
        ("noop_out_interval", &t.noop_out_interval, 0, TIMER_MAX_S, "s"),
        ("noop_out_timeout", &t.noop_out_timeout, 0, TIMER_MAX_S, "s"),
        (
            "replacement_timeout",
            &t.replacement_timeout,
            -TIMER_MAX_S,
            TIMER_MAX_S,
            "s",
        ),
    ];
    let mut values = [0i64; 5];
    let mut bad = Vec::new();
    for (i, (name, f, min, max, unit)) in checks.into_iter().enumerate() {
        match f.value {
            None => bad.push(Finding {
                severity: Severity::Error,
                rule: RULE_UNUSABLE,
                message: format!(
                    "{name} is not usable ({}), from {}; fix it there",
                    f.problem.as_deref().unwrap_or("no number"),
                    f.source
                ),
            }),
            Some(v) if v < min || v > max => bad.push(Finding {
                severity: Severity::Error,
                rule: RULE_OUT_OF_RANGE,
                message: format!(
                    "{name} {v} {unit} is outside {min}..{max} {unit}, from {}; fix it there",
                    f.source
                ),
            }),
            Some(v) => values[i] = v,
        }
    }
    if bad.is_empty() {
        Ok(values)
    } else {
        Err(bad)
    }
}

/// Applies every rule; the findings say what holds and by how much. A figure that is not
/// usable or out of range is an error of its own, and the window is not judged with it.
pub fn judge(w: &Window, t: &Timers) -> Vec<Finding> {
    let [token, consensus, i, p, r] = match usable(w, t) {
        Ok(v) => v,
        Err(bad) => return bad,
    };
    match judge_usable(token, consensus, i, p, r) {
        Some(findings) => findings,
        // Not reachable within the ranges above; an error rather than a wrapped sum.
        None => vec![Finding {
            severity: Severity::Error,
            rule: RULE_OUT_OF_RANGE,
            message: format!(
                "the window's arithmetic overflows (token {token} ms, consensus {consensus} ms, timers {i}/{p}/{r} s)"
            ),
        }],
    }
}

fn judge_usable(token: i64, consensus: i64, i: i64, p: i64, r: i64) -> Option<Vec<Finding>> {
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
    let detection = i.checked_add(p)?.checked_mul(1000)?;
    if i > 0 && p > 0 {
        if detection > token {
            out.push(f(
                Severity::Error,
                "detection-within-token",
                format!(
                    "detection {} > token {}, late by {}: the storage notices a dead peer after Corosync does",
                    secs(detection),
                    secs(token),
                    secs(detection.checked_sub(token)?)
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
                    secs(token.checked_sub(detection)?)
                ),
            ));
        }
        if detection.checked_mul(2)? < token {
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
        let stall = detection.checked_add(r.checked_mul(1000)?)?;
        let window = token.checked_add(consensus)?;
        if stall > window {
            out.push(f(
                Severity::Warning,
                "stall-within-membership",
                format!(
                    "I/O stall {} > token + consensus {}, by {}: pool I/O still stalls after the cluster re-formed",
                    secs(stall),
                    secs(window),
                    secs(stall.checked_sub(window)?)
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
                    secs(window.checked_sub(stall)?)
                ),
            ));
        }
    }
    Some(out)
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

/// Timers for a window: detection at half the token each (never later than the token,
/// never trigger-happy), and I/O released before token + consensus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Recommendation {
    pub noop_out_interval: i64,
    pub noop_out_timeout: i64,
    pub replacement_timeout: i64,
}

/// What `--recommend` can say about a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Advice {
    /// These timers, judged against the window, are inside it (with these warnings).
    Fits {
        timers: Recommendation,
        warnings: Vec<String>,
    },
    /// iscsid counts whole seconds, at least one each: no timers fit this window.
    NoneFit { why: String, least_token_ms: i64 },
    /// The token or consensus is not usable or out of range: nothing sensible to fit.
    CannotJudge { why: String },
}

/// The smallest token integer timers fit: NOP-Out interval and timeout of 1 s each.
pub const LEAST_TOKEN_MS: i64 = 2000;

/// Timers for the window, checked by the same rules `judge` applies: a recommendation is
/// never one the next run of check-timeouts calls outside.
pub fn recommend(w: &Window) -> Advice {
    let (Some(token_ms), Some(consensus_ms)) = (w.token_ms.value, w.consensus_ms.value) else {
        return Advice::CannotJudge {
            why: format!(
                "the Corosync token ({}) or consensus ({}) is not usable",
                w.token_ms.shown(),
                w.consensus_ms.shown()
            ),
        };
    };
    if !(1..=TOKEN_MAX_MS).contains(&token_ms) || !(1..=CONSENSUS_MAX_MS).contains(&consensus_ms) {
        return Advice::CannotJudge {
            why: format!("token {token_ms} ms or consensus {consensus_ms} ms is out of range"),
        };
    }
    let half = (token_ms / 2 / 1000).max(1);
    let detection = 2 * half;
    let replacement = ((token_ms + consensus_ms) / 1000 - detection).max(1);
    let timers = Recommendation {
        noop_out_interval: half,
        noop_out_timeout: half,
        replacement_timeout: replacement,
    };
    let as_figures = Timers {
        noop_out_interval: Figure::new(half, "recommendation"),
        noop_out_timeout: Figure::new(half, "recommendation"),
        replacement_timeout: Figure::new(replacement, "recommendation"),
    };
    let findings = judge(w, &as_figures);
    if worst(&findings) == Severity::Error {
        return Advice::NoneFit {
            why: format!(
                "detection takes noop_out_interval + noop_out_timeout, whole seconds of at least 1 each: \
                 2.0 s at the least, later than the token {}; no integer timers notice a dead peer \
                 before Corosync does. Raise totem.token to {LEAST_TOKEN_MS} ms or more",
                secs(token_ms)
            ),
            least_token_ms: LEAST_TOKEN_MS,
        };
    }
    Advice::Fits {
        timers,
        warnings: findings
            .into_iter()
            .filter(|f| f.severity == Severity::Warning)
            .map(|f| f.message)
            .collect(),
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
    fn absurd_figures_are_errors_that_name_the_figure_and_its_source() {
        for token in [i64::MAX, i64::from(u32::MAX), 600_001, 0, -1, i64::MIN] {
            let f = judge(&window(token, 4800), &timers(2, 2, 5));
            assert_eq!(worst(&f), Severity::Error, "{token}: {f:?}");
            assert_eq!(f.len(), 1, "{f:?}");
            assert_eq!(f[0].rule, RULE_OUT_OF_RANGE);
            assert!(
                f[0].message
                    .starts_with(&format!("token {token} ms is outside 1..600000 ms, from test")),
                "{}",
                f[0].message
            );
            assert!(matches!(
                recommend(&window(token, 4800)),
                Advice::CannotJudge { .. }
            ));
        }
        for (i, p, r) in [
            (i64::MAX, 2, 5),
            (2, i64::MAX, 5),
            (2, 2, i64::MAX),
            (2, 2, i64::MIN),
            (-1, 2, 5),
            (2, 2, 86_401),
        ] {
            let f = judge(&window(4000, 4800), &timers(i, p, r));
            assert_eq!(
                rules(&f, Severity::Error),
                vec![RULE_OUT_OF_RANGE],
                "{i}/{p}/{r}: {f:?}"
            );
        }
        let garbage = Window {
            token_ms: Figure::parse("99999999999999999999", "ms", "corosync.conf totem.token"),
            consensus_ms: Figure::new(4800, "test"),
        };
        let f = judge(&garbage, &timers(2, 2, 5));
        assert_eq!(rules(&f, Severity::Error), vec![RULE_UNUSABLE]);
        assert!(
            f[0].message
                .contains("'99999999999999999999' is not a whole number of ms")
                && f[0].message.contains("from corosync.conf totem.token"),
            "{}",
            f[0].message
        );
        assert!(matches!(recommend(&garbage), Advice::CannotJudge { .. }));
        // The largest usable figures judge without overflow.
        let f = judge(
            &window(TOKEN_MAX_MS, CONSENSUS_MAX_MS),
            &timers(TIMER_MAX_S, TIMER_MAX_S, TIMER_MAX_S),
        );
        assert!(!f.iter().any(|f| f.rule.starts_with("figure-")), "{f:?}");
    }

    #[test]
    fn derived_figures_overflow_into_unusable_ones() {
        let big = Figure::new(i64::MAX, "x");
        let d = big.derive("1.2 x token", |t| t.checked_mul(12).map(|v| v / 10));
        assert_eq!(d.value, None);
        assert!(d.problem.unwrap().contains("overflows"));
        let d = Figure::unusable("x", "garbage").derive("y", Some);
        assert_eq!(d.value, None);
        assert_eq!(Figure::parse(" 42 ", "s", "x").value, Some(42));
    }

    fn fits(a: Advice) -> Recommendation {
        match a {
            Advice::Fits { timers, .. } => timers,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn recommendations_pass_their_own_rules() {
        // Every token from 1 ms to 20 s, with Corosync's default consensus (1.2 x token)
        // and a few others: whatever is recommended, the judge finds inside the window.
        for t in (1..=20_000).step_by(50).chain([1999, 2000, 2001, 600_000]) {
            for c in [t * 12 / 10, t, 1, 60_000] {
                if !(1..=CONSENSUS_MAX_MS).contains(&c) {
                    continue;
                }
                match recommend(&window(t, c)) {
                    Advice::Fits { timers: r, warnings } => {
                        let f = judge(
                            &window(t, c),
                            &timers(r.noop_out_interval, r.noop_out_timeout, r.replacement_timeout),
                        );
                        assert_ne!(worst(&f), Severity::Error, "{t}/{c}: {r:?} {f:?}");
                        let said: Vec<_> = f
                            .iter()
                            .filter(|f| f.severity == Severity::Warning)
                            .map(|f| f.message.clone())
                            .collect();
                        assert_eq!(warnings, said, "{t}/{c}");
                        assert!(t >= LEAST_TOKEN_MS, "{t}/{c}: {r:?}");
                    }
                    Advice::NoneFit { least_token_ms, why } => {
                        assert!(t < LEAST_TOKEN_MS, "{t}/{c}: {why}");
                        assert_eq!(least_token_ms, LEAST_TOKEN_MS);
                        assert!(why.contains("Raise totem.token to 2000 ms"), "{why}");
                    }
                    other => panic!("{t}/{c}: {other:?}"),
                }
            }
        }
        // Corosync's default consensus: no warnings at all.
        for t in [2000, 3000, 4000, 4650, 10000] {
            match recommend(&window(t, t * 12 / 10)) {
                Advice::Fits { warnings, .. } => assert!(warnings.is_empty(), "{t}: {warnings:?}"),
                other => panic!("{t}: {other:?}"),
            }
        }
        assert_eq!(
            fits(recommend(&window(4000, 4800))),
            Recommendation {
                noop_out_interval: 2,
                noop_out_timeout: 2,
                replacement_timeout: 4
            }
        );
        // The tokens the issue tried: nothing fits, and it is said.
        for t in [1000, 1500] {
            assert!(matches!(
                recommend(&window(t, t * 12 / 10)),
                Advice::NoneFit { .. }
            ));
        }
    }
}
