//! The time an action has: Pacemaker's timeout less a safety margin.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    end: Instant,
}

impl Deadline {
    /// The margin leaves room to report, unlock and exit before Pacemaker's own timer fires.
    pub fn for_action(timeout: Duration) -> Deadline {
        Deadline::after(usable(timeout))
    }

    /// `d` from now; an absurd `d` is a far deadline, never an overflow.
    pub fn after(d: Duration) -> Deadline {
        let now = Instant::now();
        Deadline {
            end: now
                .checked_add(d)
                .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365)),
        }
    }

    pub fn remaining(&self) -> Duration {
        self.end.saturating_duration_since(Instant::now())
    }

    pub fn expired(&self) -> bool {
        self.remaining().is_zero()
    }

    /// The earlier of this deadline and `d` from now.
    pub fn capped(&self, d: Duration) -> Deadline {
        Deadline {
            end: self.end.min(Deadline::after(d).end),
        }
    }

    /// This deadline less `reserve`, for a step that must leave time for what follows.
    pub fn reserving(&self, reserve: Duration) -> Deadline {
        Deadline {
            end: self
                .end
                .checked_sub(reserve)
                .unwrap_or(self.end)
                .max(Instant::now()),
        }
    }

    /// Sleeps `d`, or until the deadline, whichever comes first.
    pub fn sleep(&self, d: Duration) {
        std::thread::sleep(d.min(self.remaining()));
    }
}

/// What an action may use of Pacemaker's timeout: all but a margin of a tenth, at least
/// 0.5 s and at most 5 s.
pub fn usable(timeout: Duration) -> Duration {
    let margin = (timeout / 10).clamp(Duration::from_millis(500), Duration::from_secs(5));
    timeout.saturating_sub(margin).max(Duration::from_millis(200))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_scales_and_is_bounded() {
        let d = Deadline::for_action(Duration::from_secs(20));
        let r = d.remaining();
        assert!(
            r <= Duration::from_secs(18) && r > Duration::from_millis(17_500),
            "{r:?}"
        );
        let long = Deadline::for_action(Duration::from_secs(600)).remaining();
        assert!(long <= Duration::from_secs(595) && long > Duration::from_secs(594));
        let tiny = Deadline::for_action(Duration::from_millis(300)).remaining();
        assert!(tiny <= Duration::from_millis(200));
    }

    #[test]
    fn capped_and_reserving_never_extend() {
        let d = Deadline::after(Duration::from_secs(10));
        assert!(d.capped(Duration::from_secs(60)).remaining() <= Duration::from_secs(10));
        assert!(d.capped(Duration::from_secs(1)).remaining() <= Duration::from_secs(1));
        assert!(d.reserving(Duration::from_secs(4)).remaining() <= Duration::from_secs(6));
        assert!(d.reserving(Duration::from_secs(40)).expired());
    }
}
