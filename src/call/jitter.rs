//! How long the jitter buffers wait for late packets: as short as the path allows, as long as
//! it needs. Pure rules, no GStreamer: the call feeds them once a second with what its jitter
//! buffers saw and applies the latency they answer (`Peer::set_latency`).
//!
//! Every millisecond here is a millisecond of delay in the conversation, on every stream: the
//! pipeline plays all of them at its largest latency (lip sync). A fixed value is either too
//! long for a good path (a LAN, loopback) or too short for a jittery one (Wi-Fi, a loaded
//! uplink), where packets that come after their time are lost to the ear and eye. Browsers
//! adapt theirs (NetEq for sound); so does the kiosk:
//! - it starts at the config's floor;
//! - packets that came too late raise it at once by [`RAISE_MS`], and the measured jitter
//!   raises it to [`JITTER_COVER`] times the jitter (the mean deviation of packet arrivals,
//!   RFC 3550), which covers nearly every packet; in the first [`START_S`] seconds only late
//!   packets count: the first keyframe's burst of packets is not the path's jitter;
//! - after [`CALM_S`] seconds without late packets it comes down to what the jitter needs,
//!   never below the floor, in one step.
//!
//! Raising it delays playback once by the difference (a short pause in sound); lowering drops
//! that much once. Each change also moves the speaker's timing under the echo canceller, which
//! has to find the echo again: so it changes seldom, and each time in one step.

/// The ceiling: beyond this a conversation stalls; packets later than that are lost anyway.
pub const MAX_MS: u32 = 200;
const RAISE_MS: u32 = 20;
const CALM_S: u32 = 10;
const START_S: u32 = 3;
const JITTER_COVER: f64 = 4.0;
/// Steps are whole multiples of this.
const STEP_MS: u32 = 10;

/// What the jitter buffers saw in the last second.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Seen {
    /// Packets that arrived after they should have played, over all streams.
    pub late: u64,
    /// The largest mean deviation of packet arrivals over the streams, in ms.
    pub jitter_ms: f64,
}

#[derive(Debug, Clone)]
pub struct JitterTarget {
    floor_ms: u32,
    latency_ms: u32,
    calm_s: u32,
    age_s: u32,
}

impl JitterTarget {
    /// Starts at `floor_ms` (at least one 20 ms voice packet: in-band FEC needs the packet after a
    /// lost one at hand, see `peer/receive.rs`).
    pub fn new(floor_ms: u32) -> Self {
        let floor_ms = floor_ms.clamp(20, MAX_MS);
        Self {
            floor_ms,
            latency_ms: floor_ms,
            calm_s: 0,
            age_s: 0,
        }
    }

    pub fn latency_ms(&self) -> u32 {
        self.latency_ms
    }

    /// One second's view; the new latency when it changes.
    pub fn update(&mut self, seen: Seen) -> Option<u32> {
        self.age_s = self.age_s.saturating_add(1);
        let jitter_ms = if self.age_s > START_S {
            seen.jitter_ms
        } else {
            0.0
        };
        let needed =
            round_up((jitter_ms * JITTER_COVER).ceil() as u32).clamp(self.floor_ms, MAX_MS);
        let was = self.latency_ms;
        if seen.late > 0 {
            self.calm_s = 0;
            self.latency_ms = (was + RAISE_MS).max(needed).min(MAX_MS);
        } else if needed > was {
            self.calm_s = 0;
            self.latency_ms = needed;
        } else {
            self.calm_s += 1;
            if self.calm_s >= CALM_S && needed < was {
                self.latency_ms = needed;
                self.calm_s = 0;
            }
        }
        (self.latency_ms != was).then_some(self.latency_ms)
    }
}

fn round_up(ms: u32) -> u32 {
    ms.div_ceil(STEP_MS) * STEP_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calm(jitter_ms: f64) -> Seen {
        Seen { late: 0, jitter_ms }
    }

    #[test]
    fn a_clean_path_keeps_the_floor() {
        let mut target = JitterTarget::new(20);
        for _ in 0..60 {
            assert_eq!(target.update(calm(1.0)), None);
        }
        assert_eq!(target.latency_ms(), 20);
    }

    #[test]
    fn late_packets_raise_it_at_once_and_it_comes_down_in_one_step_later() {
        let mut target = JitterTarget::new(20);
        let late = Seen {
            late: 3,
            jitter_ms: 2.0,
        };
        assert_eq!(target.update(late), Some(40), "late counts from the start");
        assert_eq!(target.update(late), Some(60));
        for _ in 0..CALM_S - 1 {
            assert_eq!(target.update(calm(2.0)), None, "calm, but not long enough");
        }
        assert_eq!(target.update(calm(2.0)), Some(20), "down to what is needed");
        for _ in 0..3 * CALM_S {
            assert_eq!(target.update(calm(2.0)), None, "never below the floor");
        }
    }

    #[test]
    fn the_first_seconds_burst_is_not_jitter() {
        let mut target = JitterTarget::new(20);
        for _ in 0..START_S {
            assert_eq!(target.update(calm(30.0)), None);
        }
        assert_eq!(target.update(calm(30.0)), Some(120));
        assert_eq!(
            target.update(calm(100.0)),
            Some(MAX_MS),
            "4 x 100 ms: the ceiling"
        );
    }

    #[test]
    fn jitter_sets_what_is_needed_in_10_ms_steps_within_bounds() {
        let mut target = JitterTarget::new(20);
        for _ in 0..START_S {
            target.update(calm(0.0));
        }
        assert_eq!(target.update(calm(12.0)), Some(50), "4 x 12 ms, rounded up");
        assert_eq!(JitterTarget::new(5000).latency_ms(), MAX_MS);
        assert_eq!(
            JitterTarget::new(0).latency_ms(),
            20,
            "one voice packet at least"
        );
    }
}
