//! The three-level connection quality shown in the call, from the call's statistics. The rules
//! want participants to be able to judge the quality and decide whether to go on; frame rate and
//! round-trip time are what they notice.

use super::view::Quality;
use crate::wire::CallStats;

/// Quality over the interval between two statistics samples of the same call.
pub fn quality(before: &CallStats, now: &CallStats) -> Quality {
    let seconds = now.elapsed_s - before.elapsed_s;
    if seconds <= 0.0 {
        return Quality::Good;
    }
    let fps = now
        .video_frames_received
        .saturating_sub(before.video_frames_received) as f64
        / seconds;
    let lost_per_s = (now.packets_lost - before.packets_lost).max(0) as f64 / seconds;
    let rtt = now.rtt_ms.unwrap_or(0.0);
    if fps < 5.0 || rtt > 400.0 || lost_per_s > 20.0 {
        Quality::Poor
    } else if fps < 15.0 || rtt > 150.0 || lost_per_s > 2.0 {
        Quality::Fair
    } else {
        Quality::Good
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(elapsed_s: f64, frames: u64, rtt_ms: f64, lost: i64) -> CallStats {
        CallStats {
            elapsed_s,
            video_frames_received: frames,
            rtt_ms: Some(rtt_ms),
            packets_lost: lost,
            ..CallStats::default()
        }
    }

    #[test]
    fn frame_rate_round_trip_and_loss_set_the_level() {
        let before = at(10.0, 300, 20.0, 0);
        assert_eq!(quality(&before, &at(11.0, 330, 20.0, 0)), Quality::Good);
        assert_eq!(quality(&before, &at(11.0, 310, 20.0, 0)), Quality::Fair);
        assert_eq!(
            quality(&before, &at(11.0, 302, 20.0, 0)),
            Quality::Poor,
            "a frozen picture"
        );
        assert_eq!(quality(&before, &at(11.0, 330, 250.0, 0)), Quality::Fair);
        assert_eq!(quality(&before, &at(11.0, 330, 600.0, 0)), Quality::Poor);
        assert_eq!(quality(&before, &at(11.0, 330, 20.0, 50)), Quality::Poor);
        assert_eq!(
            quality(&before, &before),
            Quality::Good,
            "no interval, no verdict"
        );
    }
}
