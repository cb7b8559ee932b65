//! The three-level connection quality shown in the call, from the call's statistics. The rules
//! want participants to be able to judge the quality and decide whether to go on; frame rate,
//! round-trip time and lost packets are what they notice.
//!
//! The thresholds are the doctor's page's (`web/doctor/call.js`, `THRESHOLDS`): both sides judge
//! the same call alike. Loss counts as a share of the packets, whatever the other side's bitrate:
//! a count per second would call 5 % loss good on a quiet picture with few packets and poor on a
//! busy one. The frame rate is good from [`GOOD_FPS`] up: the smallest picture the other side
//! steps down to on a narrow link (`call/rate.rs`) has half its camera's rate, 15 of 30 frames,
//! smooth enough for a face; a threshold at 15 would flicker between fair and good there.

use super::view::Quality;
use crate::wire::CallStats;

/// Below this share of packets lost, the connection is good; below [`FAIR_LOSS`], fair.
const GOOD_LOSS: f64 = 0.02;
const FAIR_LOSS: f64 = 0.08;
/// From this frame rate up, the picture is good; from [`FAIR_FPS`] up, fair.
const GOOD_FPS: f64 = 10.0;
const FAIR_FPS: f64 = 5.0;

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
    // A rebuilt connection restarts its counts: no loss to judge in that interval.
    let lost = (now.packets_lost - before.packets_lost).max(0) as f64;
    let received = now.packets_received.saturating_sub(before.packets_received) as f64;
    let loss = if lost + received > 0.0 {
        lost / (lost + received)
    } else {
        0.0
    };
    let rtt = now.rtt_ms.unwrap_or(0.0);
    if fps < FAIR_FPS || rtt > 400.0 || loss >= FAIR_LOSS {
        Quality::Poor
    } else if fps < GOOD_FPS || rtt > 150.0 || loss >= GOOD_LOSS {
        Quality::Fair
    } else {
        Quality::Good
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(elapsed_s: f64, frames: u64, rtt_ms: f64, received: u64, lost: i64) -> CallStats {
        CallStats {
            elapsed_s,
            video_frames_received: frames,
            rtt_ms: Some(rtt_ms),
            packets_received: received,
            packets_lost: lost,
            ..CallStats::default()
        }
    }

    /// Each sample one second after `at(10.0, 300, 20.0, 5000, 0)`, and the level it shows.
    fn judged(cases: &[(CallStats, Quality, &str)]) {
        let before = at(10.0, 300, 20.0, 5000, 0);
        for (now, level, why) in cases {
            assert_eq!(quality(&before, now), *level, "{why}");
        }
    }

    #[test]
    fn frame_rate_round_trip_and_loss_set_the_level() {
        judged(&[
            (
                at(11.0, 330, 20.0, 5100, 1),
                Quality::Good,
                "30 fps, 1 % lost",
            ),
            (
                at(11.0, 315, 20.0, 5100, 0),
                Quality::Good,
                "15 fps, the smallest step's",
            ),
            (at(11.0, 308, 20.0, 5100, 0), Quality::Fair, "8 fps"),
            (
                at(11.0, 302, 20.0, 5100, 0),
                Quality::Poor,
                "a frozen picture",
            ),
            (at(11.0, 330, 250.0, 5100, 0), Quality::Fair, "250 ms"),
            (at(11.0, 330, 600.0, 5100, 0), Quality::Poor, "600 ms"),
            (
                at(10.0, 300, 20.0, 5000, 0),
                Quality::Good,
                "no interval, no verdict",
            ),
        ]);
    }

    #[test]
    fn loss_counts_as_a_share_of_the_packets_whatever_the_bitrate() {
        judged(&[
            // 5 % lost: fair on a quiet picture (40 packets a second) and on a busy one (400).
            (at(11.0, 330, 20.0, 5038, 2), Quality::Fair, "5 % of 40"),
            (at(11.0, 330, 20.0, 5380, 20), Quality::Fair, "5 % of 400"),
            (at(11.0, 330, 20.0, 5090, 10), Quality::Poor, "10 %"),
            (at(11.0, 330, 20.0, 5099, 1), Quality::Good, "1 %"),
            // A rebuilt connection's counts start again: nothing to judge, not a loss.
            (
                at(11.0, 330, 20.0, 30, -400),
                Quality::Good,
                "counts restarted",
            ),
        ]);
    }
}
