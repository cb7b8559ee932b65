//! Brute-force protection for access codes (and the staff PIN): 5 wrong codes lock code entry for
//! 60 s, and every further lockout doubles that, up to an hour. A right code forgives, and so
//! does an hour without a wrong code, counted from the end of the last lockout: counted from the
//! last wrong code, the longest lockout would itself be the hour that forgives everything, and a
//! patient guesser would get fresh 60-s lockouts after every hour-long one.
//!
//! Pure data: the caller passes the time in. What must outlive a restart is a [`LockoutRecord`]
//! (counts and spans, never a code); the daemon keeps it on disk and hands it back at start
//! with the wall-clock times around it ([`Lockout::resume`], protocol.md 6.2).

use std::time::{Duration, Instant};

use time::OffsetDateTime;

pub const ATTEMPTS_BEFORE_LOCKOUT: u32 = 5;
const FIRST_LOCKOUT: Duration = Duration::from_secs(60);
pub const LONGEST_LOCKOUT: Duration = Duration::from_secs(3600);
const FORGIVE_AFTER: Duration = Duration::from_secs(3600);
/// Doublings beyond this cannot lengthen a lockout past [`LONGEST_LOCKOUT`] (60 s × 2⁶ > 1 h);
/// the count stops here so a stored record stays small and the shift cannot overflow.
const MOST_LOCKOUTS: u32 = 16;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lockout {
    /// Wrong codes since the last lockout or forgiveness.
    failures: u32,
    /// Lockouts since the last forgiveness: the next one lasts 60 s × 2^lockouts.
    lockouts: u32,
    /// When the current (or last) lockout ends.
    until: Option<Instant>,
    /// When the wrong codes so far are forgiven: an hour after the last wrong code, or after
    /// the end of the lockout it started, whichever is later.
    forgiven_at: Option<Instant>,
}

/// What of a lockout survives a restart: counts and spans from the moment it was taken, no code
/// and no clock reading (the daemon stamps the wall-clock time when it stores it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LockoutRecord {
    pub failures: u32,
    pub lockouts: u32,
    /// How much longer code entry stays locked.
    pub locked_for: Duration,
    /// How much longer until the wrong codes so far are forgiven.
    pub forgiven_in: Duration,
}

impl LockoutRecord {
    /// Nothing to remember: no wrong code counts any more.
    pub fn is_clear(&self) -> bool {
        *self == Self::default()
    }

    /// The record as the rules could have made it, whatever a file said: fewer failures than
    /// lock, lockouts no longer than the longest, forgiveness no sooner than an hour after the
    /// lockout's end.
    fn bounded(self) -> Self {
        let locked_for = self.locked_for.min(LONGEST_LOCKOUT);
        let earliest = if locked_for.is_zero() {
            Duration::ZERO
        } else {
            locked_for + FORGIVE_AFTER
        };
        Self {
            failures: self.failures.min(ATTEMPTS_BEFORE_LOCKOUT - 1),
            lockouts: self.lockouts.min(MOST_LOCKOUTS),
            locked_for,
            forgiven_in: self
                .forgiven_in
                .clamp(earliest, LONGEST_LOCKOUT + FORGIVE_AFTER),
        }
    }
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
        if self.forgiven_at.is_some_and(|t| now >= t) {
            *self = Self::default();
        }
        self.failures += 1;
        let (started, quiet_from) = if self.failures < ATTEMPTS_BEFORE_LOCKOUT {
            (None, now)
        } else {
            let length = FIRST_LOCKOUT
                .saturating_mul(1u32 << self.lockouts.min(MOST_LOCKOUTS))
                .min(LONGEST_LOCKOUT);
            self.failures = 0;
            self.lockouts = (self.lockouts + 1).min(MOST_LOCKOUTS);
            self.until = Some(now + length);
            (Some(length), now + length)
        };
        let forgiven_at = quiet_from + FORGIVE_AFTER;
        self.forgiven_at = Some(self.forgiven_at.map_or(forgiven_at, |t| t.max(forgiven_at)));
        started
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

    /// What to store so a restart does not forgive: clear once everything is forgiven.
    pub fn record(&self, now: Instant) -> LockoutRecord {
        let Some(forgiven_in) = self
            .forgiven_at
            .and_then(|t| t.checked_duration_since(now))
            .filter(|d| !d.is_zero())
        else {
            return LockoutRecord::default();
        };
        LockoutRecord {
            failures: self.failures,
            lockouts: self.lockouts,
            locked_for: self.remaining(now).unwrap_or_default(),
            forgiven_in,
        }
    }

    /// The lockout `record` describes, stored at `saved_at` and read back at `wall_now` (which is
    /// `now` on the monotonic clock). The wall clock is the only thread across a restart, and it
    /// may jump: one that reads earlier than `saved_at` (it went back, or a Raspberry Pi without
    /// a real-time clock booted with an old time) counts as no time passed, so the lockout
    /// resumes whole and never ends early. One that jumped ahead shortens it; only a trusted
    /// clock could tell.
    pub fn resume(
        record: LockoutRecord,
        saved_at: OffsetDateTime,
        wall_now: OffsetDateTime,
        now: Instant,
    ) -> Self {
        let record = record.bounded();
        let elapsed = Duration::try_from(wall_now - saved_at).unwrap_or(Duration::ZERO);
        let Some(forgiven_in) = record
            .forgiven_in
            .checked_sub(elapsed)
            .filter(|d| !d.is_zero())
        else {
            return Self::default();
        };
        let locked_for = record.locked_for.saturating_sub(elapsed);
        Self {
            failures: record.failures,
            lockouts: record.lockouts,
            until: (!locked_for.is_zero()).then(|| now + locked_for),
            forgiven_at: Some(now + forgiven_in),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail_times(lockout: &mut Lockout, now: Instant, n: u32) -> Option<Duration> {
        (0..n).map(|_| lockout.fail(now)).last().flatten()
    }

    const fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn five_wrong_codes_lock_for_a_minute_then_doubling() {
        let t0 = Instant::now();
        let mut lockout = Lockout::default();
        assert_eq!(fail_times(&mut lockout, t0, 4), None);
        assert_eq!(lockout.attempts_left(), 1);
        assert_eq!(lockout.fail(t0), Some(secs(60)));
        assert_eq!(lockout.remaining(t0 + secs(59)), Some(secs(1)));
        assert_eq!(lockout.remaining(t0 + secs(60)), None);
        let t1 = t0 + secs(61);
        assert_eq!(fail_times(&mut lockout, t1, 5), Some(secs(120)));
        let t2 = t1 + secs(121);
        assert_eq!(fail_times(&mut lockout, t2, 5), Some(secs(240)));
    }

    #[test]
    fn lockouts_are_capped_at_an_hour() {
        let mut lockout = Lockout::default();
        let mut now = Instant::now();
        let mut last = None;
        for _ in 0..40 {
            last = fail_times(&mut lockout, now, 5);
            now += last.unwrap();
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

    #[test]
    fn forgiveness_counts_from_the_end_of_a_lockout_not_from_the_last_wrong_code() {
        let t0 = Instant::now();
        let mut lockout = Lockout::default();
        let mut now = t0;
        // Lockouts of 1, 2, 4, …, 32 min, then the cap of an hour.
        let mut length = Duration::ZERO;
        while length < LONGEST_LOCKOUT {
            length = fail_times(&mut lockout, now, 5).unwrap();
            now += length;
        }
        // An hour after the last wrong code is the end of the hour-long lockout: not forgiven.
        assert_eq!(now, lockout.until().unwrap());
        assert_eq!(
            fail_times(&mut lockout, now, 5),
            Some(LONGEST_LOCKOUT),
            "the lockout's own hour forgives nothing"
        );
        // An hour of quiet after that lockout's end does.
        let quiet = lockout.until().unwrap() + FORGIVE_AFTER;
        assert_eq!(fail_times(&mut lockout, quiet - secs(1), 1), None);
        assert_eq!(
            lockout.attempts_left(),
            4,
            "not yet forgiven a second early"
        );
        let quiet = quiet - secs(1) + FORGIVE_AFTER;
        assert_eq!(fail_times(&mut lockout, quiet, 4), None);
        assert_eq!(
            lockout.attempts_left(),
            1,
            "the earlier wrong code was forgiven"
        );
        assert_eq!(lockout.fail(quiet), Some(FIRST_LOCKOUT), "and the lockouts");
    }

    #[test]
    fn a_record_holds_counts_and_spans_and_is_clear_once_forgiven() {
        let t0 = Instant::now();
        let mut lockout = Lockout::default();
        assert!(lockout.record(t0).is_clear());
        fail_times(&mut lockout, t0, 5);
        fail_times(&mut lockout, t0 + secs(60), 2);
        let record = lockout.record(t0 + secs(60));
        assert_eq!(
            record,
            LockoutRecord {
                failures: 2,
                lockouts: 1,
                locked_for: Duration::ZERO,
                forgiven_in: FORGIVE_AFTER,
            }
        );
        fail_times(&mut lockout, t0 + secs(60), 3);
        let record = lockout.record(t0 + secs(90));
        assert_eq!(record.locked_for, secs(90));
        assert_eq!(record.forgiven_in, secs(90) + FORGIVE_AFTER);
        assert!(lockout.record(t0 + secs(180) + FORGIVE_AFTER).is_clear());
        lockout.succeed();
        assert!(lockout.record(t0).is_clear());
    }

    #[test]
    fn a_restart_inside_a_lockout_stays_locked_for_the_time_that_is_left() {
        let saved_at = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        let t0 = Instant::now();
        let mut before = Lockout::default();
        fail_times(&mut before, t0, 5);
        fail_times(&mut before, t0 + secs(60), 5);
        let record = before.record(t0 + secs(80));
        assert_eq!(record.locked_for, secs(100));

        // Restarted 30 s later on the wall clock, with a fresh monotonic clock.
        let t1 = t0 + secs(1000);
        let wall = saved_at + time::Duration::seconds(30);
        let mut after = Lockout::resume(record, saved_at, wall, t1);
        assert_eq!(after.remaining(t1), Some(secs(70)));
        assert_eq!(after.remaining(t1 + secs(70)), None);
        assert_eq!(
            fail_times(&mut after, t1 + secs(70), 5),
            Some(secs(240)),
            "the doubling goes on where it was"
        );

        // Restarted after the lockout and its hour of quiet: all forgiven.
        let wall = saved_at + time::Duration::seconds(100 + 3600);
        assert_eq!(
            Lockout::resume(record, saved_at, wall, t1),
            Lockout::default()
        );
    }

    #[test]
    fn a_clock_that_went_back_never_ends_a_lockout_early() {
        let saved_at = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        let t1 = Instant::now();
        let record = LockoutRecord {
            failures: 0,
            lockouts: 2,
            locked_for: secs(120),
            forgiven_in: secs(120) + FORGIVE_AFTER,
        };
        // A Pi without a real-time clock that booted in 1970, or a clock set back a day.
        for wall in [
            OffsetDateTime::UNIX_EPOCH,
            saved_at - time::Duration::days(1),
        ] {
            let resumed = Lockout::resume(record, saved_at, wall, t1);
            assert_eq!(resumed.remaining(t1), Some(secs(120)), "{wall}");
            assert_eq!(resumed.remaining(t1 + secs(120)), None, "nor lasts longer");
        }
    }

    #[test]
    fn a_record_beyond_the_rules_is_bounded_by_them() {
        let saved_at = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        let t1 = Instant::now();
        let record = LockoutRecord {
            failures: 99,
            lockouts: u32::MAX,
            locked_for: secs(1 << 40),
            forgiven_in: Duration::ZERO,
        };
        let mut resumed = Lockout::resume(record, saved_at, saved_at, t1);
        assert_eq!(resumed.remaining(t1), Some(LONGEST_LOCKOUT));
        assert_eq!(resumed.attempts_left(), 1);
        let after = t1 + LONGEST_LOCKOUT;
        assert_eq!(resumed.fail(after), Some(LONGEST_LOCKOUT));
    }
}
