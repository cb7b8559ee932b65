//! Brute-force protection for access codes: 5 wrong codes lock code entry for 60 s, and every
//! further lockout doubles that, up to an hour. A right code, or an hour without a wrong one,
//! forgives. Pure data: the caller passes the time in.

use std::time::{Duration, Instant};

pub const ATTEMPTS_BEFORE_LOCKOUT: u32 = 5;
const FIRST_LOCKOUT: Duration = Duration::from_secs(60);
const LONGEST_LOCKOUT: Duration = Duration::from_secs(3600);
const FORGIVE_AFTER: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Default)]
pub struct Lockout {
    failures: u32,
    lockouts: u32,
    until: Option<Instant>,
    last_failure: Option<Instant>,
}

impl Lockout {
    /// How long code entry stays locked, or `None` when a code may be tried now.
    pub fn remaining(&self, now: Instant) -> Option<Duration> {
        self.until
            .and_then(|until| until.checked_duration_since(now))
            .filter(|d| !d.is_zero())
    }

    /// Records a wrong code. Returns the lockout that this failure started, if any.
    pub fn fail(&mut self, now: Instant) -> Option<Duration> {
        if self
            .last_failure
            .is_some_and(|t| now.duration_since(t) >= FORGIVE_AFTER)
        {
            *self = Self::default();
        }
        self.last_failure = Some(now);
        self.failures += 1;
        if self.failures < ATTEMPTS_BEFORE_LOCKOUT {
            return None;
        }
        let length = FIRST_LOCKOUT
            .saturating_mul(1u32 << self.lockouts.min(16))
            .min(LONGEST_LOCKOUT);
        self.failures = 0;
        self.lockouts += 1;
        self.until = Some(now + length);
        Some(length)
    }

    /// Wrong codes left before the next lockout.
    pub fn attempts_left(&self) -> u32 {
        ATTEMPTS_BEFORE_LOCKOUT - self.failures
    }

    pub fn succeed(&mut self) {
        *self = Self::default();
    }

    pub fn until(&self) -> Option<Instant> {
        self.until
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail_times(lockout: &mut Lockout, now: Instant, n: u32) -> Option<Duration> {
        (0..n).map(|_| lockout.fail(now)).last().flatten()
    }

    #[test]
    fn five_wrong_codes_lock_for_a_minute_then_doubling() {
        let t0 = Instant::now();
        let mut lockout = Lockout::default();
        assert_eq!(fail_times(&mut lockout, t0, 4), None);
        assert_eq!(lockout.attempts_left(), 1);
        assert_eq!(lockout.fail(t0), Some(Duration::from_secs(60)));
        assert_eq!(
            lockout.remaining(t0 + Duration::from_secs(59)),
            Some(Duration::from_secs(1))
        );
        assert_eq!(lockout.remaining(t0 + Duration::from_secs(60)), None);
        let t1 = t0 + Duration::from_secs(61);
        assert_eq!(
            fail_times(&mut lockout, t1, 5),
            Some(Duration::from_secs(120))
        );
        let t2 = t1 + Duration::from_secs(121);
        assert_eq!(
            fail_times(&mut lockout, t2, 5),
            Some(Duration::from_secs(240))
        );
    }

    #[test]
    fn lockouts_are_capped_at_an_hour() {
        let mut lockout = Lockout::default();
        let mut now = Instant::now();
        let mut last = None;
        for _ in 0..12 {
            last = fail_times(&mut lockout, now, 5);
            now += Duration::from_secs(60);
        }
        assert_eq!(last, Some(LONGEST_LOCKOUT));
    }

    #[test]
    fn a_right_code_or_an_hour_of_quiet_forgives() {
        let t0 = Instant::now();
        let mut lockout = Lockout::default();
        fail_times(&mut lockout, t0, 4);
        lockout.succeed();
        assert_eq!(lockout.attempts_left(), 5);
        fail_times(&mut lockout, t0, 4);
        assert_eq!(
            lockout.fail(t0 + FORGIVE_AFTER),
            None,
            "old failures are forgiven"
        );
        assert_eq!(lockout.attempts_left(), 4);
    }
}
