//! Reconnect waits: exponential growth with "equal jitter" (a random point in the upper half of
//! the current step), so a fleet that lost its broker does not return in lockstep. The cap (3 s)
//! keeps a kiosk back within 5 s once the broker is, connection set-up included.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    cap: Duration,
    attempt: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(Duration::from_millis(250), Duration::from_secs(3))
    }
}

impl Backoff {
    pub fn new(first: Duration, cap: Duration) -> Self {
        Self {
            first,
            cap,
            attempt: 0,
        }
    }

    /// The next wait; each call doubles the step up to the cap.
    pub fn next_wait(&mut self, rng: &mut impl Rng) -> Duration {
        let step = self
            .first
            .saturating_mul(1u32 << self.attempt.min(20))
            .min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        let half = step / 2;
        half + half.mul_f64(rng.gen_range(0.0..=1.0))
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn waits_grow_stay_jittered_and_capped() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut backoff = Backoff::default();
        let waits: Vec<Duration> = (0..10).map(|_| backoff.next_wait(&mut rng)).collect();
        for (i, w) in waits.iter().enumerate() {
            let step = Duration::from_millis(250 * (1 << i.min(4))).min(Duration::from_secs(3));
            assert!(
                *w >= step / 2 && *w <= step,
                "wait {i} = {w:?} outside [{:?}, {step:?}]",
                step / 2
            );
        }
        assert!(waits[4] > waits[0]);
        let distinct: std::collections::BTreeSet<_> = waits[5..].iter().collect();
        assert!(distinct.len() > 1, "capped waits still jitter: {waits:?}");
        backoff.reset();
        assert!(backoff.next_wait(&mut rng) <= Duration::from_millis(250));
    }
}
