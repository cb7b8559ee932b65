//! Timing a piece of work many times on a noisy machine: shared by the benchmarks that time
//! code in-process (included with `#[path]`).

use std::time::{Duration, Instant};

/// `work` run once to warm up, then `rounds` times; the times, shortest first.
pub fn sorted_times(rounds: usize, mut work: impl FnMut()) -> Vec<Duration> {
    work();
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            work();
            start.elapsed()
        })
        .collect();
    times.sort();
    times
}
