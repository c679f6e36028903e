//! When to log a lost leg in again: full jitter before the first attempt (the portal
//! probe happens after it, so probes are spread as well), then exponential back-off with
//! full jitter across monitor runs. Many initiators whose target returns at once then
//! offer it a spread-out trickle instead of a storm (seeds/002), and a lone leg is back
//! within one monitor interval plus the jitter.

use crate::state::Backoff;

/// The back-off window grows to this factor of the jitter bound and no further.
pub const MAX_FACTOR: u64 = 16;

/// Transient login failures (timeouts, a busy target) are retried with back-off for this
/// long before the monitor calls for a restart.
pub const RECONNECT_GRACE_S: u64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Wait this long within this monitor, then probe the portal and log in.
    Attempt { delay_ms: u64 },
    /// Not in this monitor: the back-off ends in this long.
    Defer { next_in_ms: u64 },
}

/// `r` in [0, 1) is the random draw (the caller's RNG; tests pass fixed values).
/// `budget_ms`: how long this monitor may wait before its attempt.
pub fn plan(b: &Backoff, now_ms: u64, jitter_ms: u64, budget_ms: u64, r: f64) -> Plan {
    let jittered = (jitter_ms as f64 * r.clamp(0.0, 1.0)) as u64;
    if b.failures == 0 || b.next_attempt_ms <= now_ms {
        return Plan::Attempt {
            delay_ms: jittered.min(budget_ms),
        };
    }
    // No back-off is longer than its window: a later time in the state file (the clock
    // stepped back, or the file says something absurd) waits no longer than that.
    let wait = (b.next_attempt_ms - now_ms).min(window_ms(b.failures, jitter_ms));
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

pub fn after_failure(b: &mut Backoff, now_ms: u64, jitter_ms: u64, r: f64, why: &str) {
    b.failures = b.failures.saturating_add(1);
    b.last_attempt_unix = now_ms / 1000;
    let w = window_ms(b.failures, jitter_ms);
    b.next_attempt_ms = now_ms.saturating_add((w as f64 * r.clamp(0.0, 1.0)) as u64);
    b.failing_since_unix.get_or_insert(now_ms / 1000);
    b.last_error = Some(why.to_string());
}

pub fn after_success(b: &mut Backoff) {
    *b = Backoff::default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_attempt_waits_a_full_jitter_within_the_budget() {
        let b = Backoff::default();
        assert_eq!(
            plan(&b, 1000, 2000, 10_000, 0.5),
            Plan::Attempt { delay_ms: 1000 }
        );
        assert_eq!(plan(&b, 1000, 2000, 300, 0.5), Plan::Attempt { delay_ms: 300 });
        assert_eq!(plan(&b, 1000, 0, 10_000, 0.9), Plan::Attempt { delay_ms: 0 });
    }

    #[test]
    fn failures_defer_attempts_across_monitor_runs() {
        let mut b = Backoff::default();
        after_failure(&mut b, 10_000, 2000, 0.99, "refused");
        assert_eq!(b.failures, 1);
        // Drawn from [0, 4 s): 3.96 s after the failure.
        assert_eq!(b.next_attempt_ms, 13_960);
        // A monitor 1 s later with 2 s to spare: not yet, and not within its budget.
        assert_eq!(
            plan(&b, 11_000, 2000, 2000, 0.0),
            Plan::Defer { next_in_ms: 2960 }
        );
        // With enough budget it waits for the back-off's end.
        assert_eq!(
            plan(&b, 11_000, 2000, 5000, 0.0),
            Plan::Attempt { delay_ms: 2960 }
        );
        // Once passed, a fresh jitter spreads the runs that all find it passed.
        assert_eq!(
            plan(&b, 20_000, 2000, 5000, 0.25),
            Plan::Attempt { delay_ms: 500 }
        );
        for _ in 0..10 {
            after_failure(&mut b, 20_000, 2000, 0.99, "refused");
        }
        assert!(b.next_attempt_ms <= 20_000 + 2000 * MAX_FACTOR);
        assert_eq!(b.failing_since_unix, Some(10));
        after_success(&mut b);
        assert_eq!(b, Backoff::default());
    }

    #[test]
    fn an_absurd_back_off_from_the_state_file_waits_no_longer_than_its_window() {
        let b = Backoff {
            failures: u32::MAX,
            next_attempt_ms: u64::MAX,
            ..Default::default()
        };
        assert_eq!(
            plan(&b, 1000, 2000, 1000, 0.5),
            Plan::Defer {
                next_in_ms: 2000 * MAX_FACTOR
            }
        );
        let one = Backoff {
            failures: 1,
            next_attempt_ms: u64::MAX,
            ..Default::default()
        };
        assert_eq!(
            plan(&one, 1000, 2000, 5000, 0.5),
            Plan::Attempt { delay_ms: 4000 }
        );
        let mut b = b;
        after_failure(&mut b, u64::MAX, u64::MAX, 1.0, "x");
        assert_eq!(b.failures, u32::MAX);
    }
}
