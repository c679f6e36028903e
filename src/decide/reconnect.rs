//! When to log a lost leg in again, and in which order, without I/O.
//!
//! - The first attempt after a loss waits a random delay in [0, reconnect_jitter) inside
//!   the monitor, then probes the portal, then logs in: the probe is spread like the login.
//!   A portal that does not answer costs no back-off: the next monitor tries the same way,
//!   so a lone leg is back within one monitor interval plus the jitter of its portal
//!   answering.
//! - A login that fails in a way worth retrying (a busy target refusing it, a timeout)
//!   backs off: the next attempt is drawn from a window that doubles with each failure
//!   (2, 4, 8, then 16 times the jitter bound), and the window opens one monitor interval
//!   after the failure. Anchored there, it is not swallowed by the wait for the next
//!   monitor: many initiators refused at once retry spread over the window instead of all
//!   at their next monitor (`make bench-storm`, docs/reconnect.md).
//! - Monitors carry the back-off across runs (the state file): an attempt whose time falls
//!   within this monitor's budget is waited for, a later one is left to a later monitor.
//! - After `RECONNECT_GRACE_S` of such failures the monitor calls for a restart.

use crate::decide::monitor::Try;
use crate::iscsi::iscsiadm::{Error, ErrorKind};
use crate::state::Backoff;

/// The back-off window grows to this factor of the jitter bound and no further.
pub const MAX_FACTOR: u64 = 16;

/// The default jitter for a target one of this cluster's nodes serves (the two-node SAN:
/// a lone leg, back within one monitor interval plus this).
pub const JITTER_CLUSTER_TARGET_MS: u64 = 2000;
/// The default jitter for a target outside the cluster, which hundreds of initiators may
/// share: `make bench-storm` keeps the busiest second of 200 at 30 logins and probes or
/// fewer with it, where 2000 does not.
pub const JITTER_SHARED_TARGET_MS: u64 = 8000;

/// The jitter when the admin set none.
pub fn default_jitter_ms(served_by_cluster_node: bool) -> u64 {
    if served_by_cluster_node {
        JITTER_CLUSTER_TARGET_MS
    } else {
        JITTER_SHARED_TARGET_MS
    }
}

/// Transient login failures (timeouts, a busy target) are retried with back-off for this
/// long before the monitor calls for a restart.
pub const RECONNECT_GRACE_S: u64 = 60;

/// The admin's and Pacemaker's numbers the policy works with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// reconnect_jitter: the bound of the first attempt's random delay, and the unit of
    /// the back-off windows.
    pub jitter_ms: u64,
    /// The recurring monitor's interval (0 when unknown): back-off windows open one
    /// interval after a failure, where the next monitor is.
    pub interval_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Wait this long within this monitor, then probe the portal and log in.
    Attempt { delay_ms: u64 },
    /// Not in this monitor: the back-off ends in this long.
    Defer { next_in_ms: u64 },
}

/// `r` in [0, 1) is the random draw (the caller's RNG; tests pass fixed values).
/// `budget_ms`: how long this monitor may wait before its attempt.
pub fn plan(b: &Backoff, now_ms: u64, pace: Pace, budget_ms: u64, r: f64) -> Plan {
    let jittered = (pace.jitter_ms as f64 * r.clamp(0.0, 1.0)) as u64;
    if b.failures == 0 || b.next_attempt_ms <= now_ms {
        return Plan::Attempt {
            delay_ms: jittered.min(budget_ms),
        };
    }
    // No back-off is longer than one interval and its window. A later time in the state
    // file (the clock stepped back, or the file says something absurd) cannot be trusted,
    // and deferring to it would defer at every monitor, for ever: attempt now, at a
    // jittered moment within what this monitor may wait.
    let window = window_ms(b.failures, pace.jitter_ms);
    let longest = pace.interval_ms.saturating_add(window);
    let wait = b.next_attempt_ms - now_ms;
    if wait > longest {
        return Plan::Attempt {
            delay_ms: jittered.min(budget_ms),
        };
    }
    if wait <= budget_ms {
        Plan::Attempt { delay_ms: wait }
    } else {
        Plan::Defer { next_in_ms: wait }
    }
}

/// The window the next attempt is drawn from after `failures` failures in a row.
pub fn window_ms(failures: u32, jitter_ms: u64) -> u64 {
    let factor = 1u64 << failures.min(MAX_FACTOR.trailing_zeros());
    jitter_ms.saturating_mul(factor)
}

/// Records a failed login at `now_ms`; the next attempt is drawn (`r`) from the window,
/// which opens one monitor interval from now.
pub fn after_failure(b: &mut Backoff, now_ms: u64, pace: Pace, r: f64, why: &str) {
    b.failures = b.failures.saturating_add(1);
    b.last_attempt_unix = now_ms / 1000;
    let w = window_ms(b.failures, pace.jitter_ms);
    b.next_attempt_ms = now_ms
        .saturating_add(pace.interval_ms)
        .saturating_add((w as f64 * r.clamp(0.0, 1.0)) as u64);
    b.failing_since_unix.get_or_insert(now_ms / 1000);
    b.last_error = Some(why.to_string());
}

pub fn after_success(b: &mut Backoff) {
    *b = Backoff::default();
}

/// After `reconnect_jitter` changed (reload-agent): a next attempt scheduled beyond what the
/// new bound allows (one interval, then the window) is drawn again. Returns whether it moved.
pub fn rebound(b: &mut Backoff, now_ms: u64, pace: Pace, r: f64) -> bool {
    let latest = now_ms
        .saturating_add(pace.interval_ms)
        .saturating_add(window_ms(b.failures, pace.jitter_ms));
    if b.failures == 0 || b.next_attempt_ms <= latest {
        return false;
    }
    b.next_attempt_ms = now_ms
        .saturating_add(pace.interval_ms)
        .saturating_add((window_ms(b.failures, pace.jitter_ms) as f64 * r.clamp(0.0, 1.0)) as u64);
    true
}

/// What the monitor keeps back from its time, after the reconnects, to see the sessions
/// in sysfs and to report.
pub const REPORT_RESERVE_MS: u64 = 1500;

/// How long a monitor with `remaining_ms` of its time left may wait before an attempt:
/// half of what remains after the report's reserve (the rest is for the probe and login).
pub fn wait_budget_ms(remaining_ms: u64) -> u64 {
    remaining_ms.saturating_sub(REPORT_RESERVE_MS) / 2
}

/// Failures that waiting cannot cure: a restart (or the admin) is the remedy.
pub fn is_fatal(kind: &ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::AuthFailed
            | ErrorKind::LoginRefused
            | ErrorKind::NotInstalled
            | ErrorKind::DriverMissing
            | ErrorKind::Permission
            | ErrorKind::IscsidDown
    )
}

/// What to do next for one down path within one monitor run. The order is the policy's:
/// the plan (back-off or jitter) first, then the wait, then the portal probe, then the
/// login, so that probes are spread like the logins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Sleep this long (the jitter, or the rest of the back-off), then call `waited`.
    /// `attempt` counts this path's attempts in a row, this one included.
    Wait { ms: u64, attempt: u32 },
    /// Open a TCP connection to the portal within a short deadline, then call `probed`.
    Probe,
    /// Log in, then call `login_ended`.
    Login,
    /// Nothing more for this path in this run.
    Done(Try),
}

/// One path's reconnect in one monitor run, without I/O: it says what to do next and is
/// told what happened. `act::reconnect` carries the steps out; `make bench-storm` runs
/// the same machine in virtual time against a simulated target.
#[derive(Debug, Clone)]
pub struct Reconnect {
    pace: Pace,
    /// The kernel holds a (FAILED/FREE) session for the path: iscsid is recovering it and
    /// a login over it would fail, so a reachable portal ends the run without one.
    kernel_session: bool,
}

impl Reconnect {
    /// `budget_ms`: see `wait_budget_ms`; `r` in [0, 1): a random draw.
    pub fn begin(
        b: &Backoff,
        now_ms: u64,
        pace: Pace,
        budget_ms: u64,
        r: f64,
        kernel_session: bool,
    ) -> (Reconnect, Step) {
        let rc = Reconnect { pace, kernel_session };
        let step = match plan(b, now_ms, pace, budget_ms, r) {
            Plan::Defer { next_in_ms } => Step::Done(Try::Deferred {
                attempt: b.failures,
                next_in_s: next_in_ms.div_ceil(1000),
                last_error: b.last_error.clone(),
            }),
            Plan::Attempt { delay_ms } => Step::Wait {
                ms: delay_ms,
                attempt: b.failures.saturating_add(1),
            },
        };
        (rc, step)
    }

    pub fn waited(&self) -> Step {
        Step::Probe
    }

    pub fn probed(&self, b: &mut Backoff, answered: bool, now_ms: u64) -> Step {
        if !answered {
            return Step::Done(Try::Unreachable);
        }
        if self.kernel_session {
            let now_s = now_ms / 1000;
            let since = *b.recovering_since_unix.get_or_insert(now_s);
            return Step::Done(Try::KernelRecovering {
                for_s: now_s.saturating_sub(since),
            });
        }
        Step::Login
    }

    /// `r` in [0, 1): the draw for the back-off after a failure.
    pub fn login_ended(&self, b: &mut Backoff, result: Result<(), &Error>, now_ms: u64, r: f64) -> Step {
        let e = match result {
            Ok(()) => return Step::Done(Try::LoggedIn),
            Err(e) => e,
        };
        let fatal = is_fatal(&e.kind);
        after_failure(b, now_ms, self.pace, r, &e.advice());
        let since = b.failing_since_unix.unwrap_or(now_ms / 1000);
        Step::Done(Try::LoginFailed {
            why: if fatal { e.reason() } else { e.advice() },
            fatal,
            failing_for_s: (now_ms / 1000).saturating_sub(since),
            attempt: b.failures,
            next_in_s: b.next_attempt_ms.saturating_sub(now_ms).div_ceil(1000),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only a jitter, no monitor interval known (a monitor run by hand).
    fn jit(jitter_ms: u64) -> Pace {
        Pace {
            jitter_ms,
            interval_ms: 0,
        }
    }

    const PACE: Pace = Pace {
        jitter_ms: 2000,
        interval_ms: 10_000,
    };

    fn error(code: i32) -> Error {
        Error {
            kind: ErrorKind::from_code(code),
            operation: "login to x".into(),
            detail: String::new(),
        }
    }

    #[test]
    fn the_first_attempt_waits_a_full_jitter_within_the_budget() {
        let b = Backoff::default();
        assert_eq!(
            plan(&b, 1000, jit(2000), 10_000, 0.5),
            Plan::Attempt { delay_ms: 1000 }
        );
        assert_eq!(
            plan(&b, 1000, jit(2000), 300, 0.5),
            Plan::Attempt { delay_ms: 300 }
        );
        assert_eq!(plan(&b, 1000, jit(0), 10_000, 0.9), Plan::Attempt { delay_ms: 0 });
    }

    #[test]
    fn failures_defer_attempts_across_monitor_runs() {
        let mut b = Backoff::default();
        after_failure(&mut b, 10_000, PACE, 0.99, "refused");
        assert_eq!(b.failures, 1);
        // Drawn from [0, 4 s) once the next monitor is due, 10 s after the failure.
        assert_eq!(b.next_attempt_ms, 23_960);
        // The next monitor, 10.4 s after the failure, with 2 s to spare: not in this one.
        assert_eq!(
            plan(&b, 20_400, jit(2000), 2000, 0.0),
            Plan::Defer { next_in_ms: 3560 }
        );
        // With enough budget it waits for the back-off's end.
        assert_eq!(
            plan(&b, 20_400, jit(2000), 5000, 0.0),
            Plan::Attempt { delay_ms: 3560 }
        );
        // Once passed, a fresh jitter spreads the runs that all find it passed.
        assert_eq!(
            plan(&b, 30_000, jit(2000), 5000, 0.25),
            Plan::Attempt { delay_ms: 500 }
        );
        for _ in 0..10 {
            after_failure(&mut b, 30_000, PACE, 0.99, "refused");
        }
        assert!(b.next_attempt_ms > 30_000 + 10_000 + 2000 * MAX_FACTOR / 2);
        assert!(b.next_attempt_ms <= 30_000 + 10_000 + 2000 * MAX_FACTOR);
        assert_eq!(b.failing_since_unix, Some(10));
        assert_eq!(b.last_error.as_deref(), Some("refused"));
        after_success(&mut b);
        assert_eq!(b, Backoff::default());
    }

    #[test]
    fn the_back_off_window_doubles_and_opens_at_the_next_monitor() {
        let windows: Vec<u64> = (1..=6).map(|f| window_ms(f, 2000)).collect();
        assert_eq!(windows, [4000, 8000, 16_000, 32_000, 32_000, 32_000]);
        // Whatever the draw, no attempt before the next monitor is due: a window shorter
        // than the interval is not used up waiting for it.
        let mut early = Backoff::default();
        after_failure(&mut early, 50_000, PACE, 0.0, "busy");
        assert_eq!(early.next_attempt_ms, 60_000);
        let mut late = Backoff::default();
        after_failure(&mut late, 50_000, PACE, 0.999_999, "busy");
        assert_eq!(late.next_attempt_ms, 63_999);
        // No interval known (a monitor run by hand): the window opens at the failure.
        let mut by_hand = Backoff::default();
        let pace = Pace {
            interval_ms: 0,
            ..PACE
        };
        after_failure(&mut by_hand, 50_000, pace, 0.5, "busy");
        assert_eq!(by_hand.next_attempt_ms, 52_000);
    }

    #[test]
    fn the_wait_budget_is_half_of_what_the_report_leaves() {
        assert_eq!(wait_budget_ms(25_500), 12_000);
        assert_eq!(wait_budget_ms(REPORT_RESERVE_MS), 0);
        assert_eq!(wait_budget_ms(100), 0);
    }

    /// Runs the machine with scripted answers; returns the steps it asked for.
    fn run(b: &mut Backoff, kernel_session: bool, answered: bool, login: Result<(), &Error>) -> Vec<Step> {
        let (rc, mut step) = Reconnect::begin(b, 100_000, PACE, 12_000, 0.5, kernel_session);
        let mut steps = vec![step.clone()];
        loop {
            step = match step {
                Step::Wait { .. } => rc.waited(),
                Step::Probe => rc.probed(b, answered, 101_000),
                Step::Login => rc.login_ended(b, login, 101_100, 0.5),
                Step::Done(_) => return steps,
            };
            steps.push(step.clone());
        }
    }

    #[test]
    fn an_attempt_waits_then_probes_then_logs_in() {
        let mut b = Backoff::default();
        let steps = run(&mut b, false, true, Ok(()));
        assert_eq!(
            steps,
            [
                Step::Wait { ms: 1000, attempt: 1 },
                Step::Probe,
                Step::Login,
                Step::Done(Try::LoggedIn)
            ]
        );
    }

    #[test]
    fn a_silent_portal_gets_no_login_and_costs_no_back_off() {
        let mut b = Backoff::default();
        let steps = run(&mut b, false, false, Ok(()));
        assert_eq!(steps.last(), Some(&Step::Done(Try::Unreachable)));
        assert!(!steps.contains(&Step::Login));
        assert_eq!(b, Backoff::default());
    }

    #[test]
    fn a_session_the_kernel_holds_is_left_to_the_kernel() {
        let mut b = Backoff {
            recovering_since_unix: Some(95),
            ..Backoff::default()
        };
        let steps = run(&mut b, true, true, Ok(()));
        assert!(!steps.contains(&Step::Login));
        assert_eq!(
            steps.last(),
            Some(&Step::Done(Try::KernelRecovering { for_s: 6 }))
        );
    }

    #[test]
    fn a_refused_login_backs_off_and_says_when_the_next_comes() {
        let mut b = Backoff::default();
        let busy = error(5);
        let steps = run(&mut b, false, true, Err(&busy));
        assert_eq!(b.failures, 1);
        // 101.1 s + one interval + half of the 4 s window.
        assert_eq!(b.next_attempt_ms, 113_100);
        assert_eq!(
            steps.last(),
            Some(&Step::Done(Try::LoginFailed {
                why: busy.advice(),
                fatal: false,
                failing_for_s: 0,
                attempt: 1,
                next_in_s: 12,
            }))
        );
        // The next monitor, before the back-off ends and without the budget to wait.
        let (_, step) = Reconnect::begin(&b, 111_000, PACE, 1000, 0.5, false);
        assert_eq!(
            step,
            Step::Done(Try::Deferred {
                attempt: 1,
                next_in_s: 3,
                last_error: Some(busy.advice()),
            })
        );
        // With the budget, it waits for the end and counts the attempt.
        let (_, step) = Reconnect::begin(&b, 111_000, PACE, 5000, 0.5, false);
        assert_eq!(step, Step::Wait { ms: 2100, attempt: 2 });
    }

    #[test]
    fn a_fatal_login_failure_names_the_operation() {
        let mut b = Backoff::default();
        let chap = error(24);
        let steps = run(&mut b, false, true, Err(&chap));
        match steps.last() {
            Some(Step::Done(Try::LoginFailed { why, fatal, .. })) => {
                assert!(*fatal);
                assert_eq!(why, &chap.reason());
                assert!(why.starts_with("login to x") && why.contains("CHAP"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        assert!(is_fatal(&ErrorKind::AuthFailed) && !is_fatal(&ErrorKind::LoginFailed));
        assert!(!is_fatal(&ErrorKind::TimedOut));
    }

    #[test]
    fn a_back_off_beyond_its_bound_is_not_trusted_and_never_defers_for_ever() {
        // The end of time, with the most failures a count holds: attempt in this monitor,
        // at the jittered moment (1000 of 2000 ms), within what it may wait.
        let b = Backoff {
            failures: u32::MAX,
            next_attempt_ms: u64::MAX,
            ..Default::default()
        };
        assert_eq!(
            plan(&b, 1000, jit(2000), 5000, 0.5),
            Plan::Attempt { delay_ms: 1000 }
        );
        assert_eq!(
            plan(&b, 1000, jit(2000), 300, 0.5),
            Plan::Attempt { delay_ms: 300 }
        );
        // The same plan at every later monitor: nothing in the file can hold a leg down.
        assert_eq!(
            plan(&b, 999_000, PACE, 5000, 0.5),
            Plan::Attempt { delay_ms: 1000 }
        );
        // One step past the bound (interval + window) is distrusted; at the bound is honoured.
        let bound = PACE.interval_ms + window_ms(1, PACE.jitter_ms);
        let past = Backoff {
            failures: 1,
            next_attempt_ms: 1000 + bound + 1,
            ..Default::default()
        };
        assert_eq!(
            plan(&past, 1000, PACE, 100_000, 0.0),
            Plan::Attempt { delay_ms: 0 }
        );
        let at = Backoff {
            next_attempt_ms: 1000 + bound,
            ..past.clone()
        };
        assert_eq!(
            plan(&at, 1000, PACE, 100_000, 0.0),
            Plan::Attempt { delay_ms: bound }
        );
        assert_eq!(
            plan(&at, 1000, PACE, 5000, 0.0),
            Plan::Defer { next_in_ms: bound }
        );
        // Arithmetic at the extremes saturates.
        let mut b = b;
        let huge = Pace {
            jitter_ms: u64::MAX,
            interval_ms: u64::MAX,
        };
        after_failure(&mut b, u64::MAX, huge, 1.0, "x");
        assert_eq!(b.failures, u32::MAX);
        let _ = plan(&b, u64::MAX, huge, u64::MAX, 1.0);
    }
}
