//! How much video the call sends, and in what size, decided once a second from two signals:
//! Google congestion control's estimate (delay based, from transport-wide feedback) and the loss
//! the other side reports (RTCP receiver reports). The estimate alone is not enough: when the
//! link is narrow both ways, the feedback it lives on is lost too and it stays where it was
//! (measured at 150 kbit/s: the target stayed at 400 kbit/s and most video was dropped), and it
//! climbs back only 8 % a second once the link is free. Loss is the signal that always arrives,
//! with the voice.
//!
//! The video steps down in size and frame rate as the target falls, and pauses below
//! [`PAUSE_BELOW`], where a picture would only take the voice's room. No I/O here.

/// Below this, video pauses: the voice keeps what the link has.
pub(crate) const PAUSE_BELOW: u32 = 120_000;
/// Video comes back from a pause only above this (a little over [`PAUSE_BELOW`], so it does not
/// flap).
const RESUME_ABOVE: u32 = 150_000;
/// Loss the other side reports that means the link is full.
const CONGESTED_LOSS: f64 = 0.10;
/// Loss low enough to try more.
const CLEAN_LOSS: f64 = 0.02;
/// How far the target falls in a congested second, and climbs in a clean one: back to the
/// ceiling from a pause within about 8 s (congestion control alone climbs 8 % a second).
const BACK_OFF: f64 = 0.7;
const CLIMB: f64 = 1.25;
/// After congestion the climb is gentle for a while, so the target settles below the link
/// instead of running into it again at once.
const GENTLE_CLIMB: f64 = 1.08;
const GENTLE_FOR_S: u32 = 5;

/// The picture's frame rate, as a fraction of the configured camera mode's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Full,
    /// Two thirds of the frame rate (30 → 20 frames a second).
    Reduced,
    /// Half the frame rate (30 → 15).
    Small,
    Paused,
}

impl Step {
    /// The step for a video target of `bps` with a ceiling of `max_bps`.
    fn for_target(bps: u32, max_bps: u32, paused: bool) -> Self {
        if bps < PAUSE_BELOW || (paused && bps < RESUME_ABOVE) {
            Self::Paused
        } else if bps < 250_000.min(max_bps) {
            Self::Small
        } else if u64::from(bps) * 10 < u64::from(max_bps) * 6 {
            Self::Reduced
        } else {
            Self::Full
        }
    }

    /// The frame rate for a camera running at `fps`, at least 2 frames a second.
    pub fn framerate(self, fps: u32) -> u32 {
        let (num, den) = match self {
            Self::Full | Self::Paused => (1, 1),
            Self::Reduced => (2, 3),
            Self::Small => (1, 2),
        };
        (fps * num / den).max(2)
    }
}

/// The video's target and step, kept across seconds.
#[derive(Debug, Clone)]
pub(crate) struct VideoRate {
    max_bps: u32,
    /// The target of the last second.
    target: u32,
    /// Congestion control's estimate of the last second.
    estimate: u32,
    /// Seconds since the other side last reported congestion.
    since_congested: u32,
    step: Step,
}

/// What one second decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decision {
    pub target_bps: u32,
    pub step: Step,
}

impl VideoRate {
    pub fn new(max_bps: u32) -> Self {
        Self {
            max_bps,
            target: max_bps / 2,
            estimate: max_bps / 2,
            since_congested: GENTLE_FOR_S,
            step: Step::Full,
        }
    }

    /// One second: `estimate_bps` is what congestion control gives the video, `loss` the
    /// fraction of our packets the other side last reported lost (`None`: no report).
    /// Whether the video pauses now.
    pub fn paused(&self) -> bool {
        self.step == Step::Paused
    }

    /// Falling: whatever says less (loss, or congestion control seeing queues grow). Rising:
    /// a quarter a second while the other side reports no loss, faster than congestion control
    /// alone; with no report, congestion control's estimate.
    pub fn update(&mut self, estimate_bps: u32, loss: Option<f64>) -> Decision {
        let floor = PAUSE_BELOW / 2;
        let scaled = |bps: u32, by: f64| (f64::from(bps) * by) as u32;
        let overuse = estimate_bps < self.estimate;
        self.estimate = estimate_bps;
        let congested = loss.is_some_and(|l| l >= CONGESTED_LOSS);
        self.since_congested = if congested {
            0
        } else {
            self.since_congested.saturating_add(1)
        };
        let climb = if self.since_congested < GENTLE_FOR_S {
            GENTLE_CLIMB
        } else {
            CLIMB
        };
        self.target = match loss {
            _ if congested => scaled(self.target, BACK_OFF).min(estimate_bps),
            _ if overuse => estimate_bps.min(self.target),
            Some(l) if l <= CLEAN_LOSS => scaled(self.target, climb).max(estimate_bps),
            _ => estimate_bps,
        }
        .clamp(floor, self.max_bps);
        let target_bps = self.target;
        self.step = Step::for_target(target_bps, self.max_bps, self.step == Step::Paused);
        Decision {
            target_bps,
            step: self.step,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_brings_the_video_down_to_a_pause_and_a_clean_link_brings_it_back_soon() {
        let mut rate = VideoRate::new(400_000);
        rate.update(400_000, Some(0.0));
        assert_eq!(rate.update(400_000, Some(0.0)).step, Step::Full);
        // A narrow link: congestion control does not notice (its feedback is lost), loss does.
        let mut seconds = 0;
        while rate.update(400_000, Some(0.3)).step != Step::Paused {
            seconds += 1;
            assert!(seconds < 8, "paused within a few seconds of heavy loss");
        }
        // The voice's reports stay clean once the link is free: back to full within 15 s
        // (gently at first: the link may still be narrow).
        let mut back = 0;
        while rate.update(400_000, Some(0.0)).step != Step::Full {
            back += 1;
            assert!(back < 15, "full picture again within 15 s");
        }
        assert_eq!(rate.update(400_000, Some(0.0)).target_bps, 400_000);
    }

    #[test]
    fn congestion_control_alone_steps_the_picture_and_the_pause_does_not_flap() {
        let mut rate = VideoRate::new(1_200_000);
        let step = |rate: &mut VideoRate, bps| rate.update(bps, None).step;
        assert_eq!(step(&mut rate, 1_000_000), Step::Full);
        assert_eq!(step(&mut rate, 500_000), Step::Reduced);
        assert_eq!(step(&mut rate, 200_000), Step::Small);
        assert_eq!(step(&mut rate, 100_000), Step::Paused);
        assert_eq!(
            step(&mut rate, 130_000),
            Step::Paused,
            "no flapping around the edge"
        );
        assert_eq!(step(&mut rate, 160_000), Step::Small);
    }

    #[test]
    fn a_clean_link_is_climbed_faster_than_congestion_control_does_but_its_overuse_counts() {
        let mut rate = VideoRate::new(1_200_000);
        rate.update(150_000, Some(0.0));
        let mut seconds = 1;
        // Congestion control creeps up 8 % a second; the target goes a quarter a second.
        let mut estimate = 150_000.0;
        while rate.update(estimate as u32, Some(0.0)).target_bps < 1_080_000 {
            estimate *= 1.08;
            seconds += 1;
        }
        assert!(
            seconds <= 10,
            "90 % of the link within 10 s, took {seconds} s"
        );
        rate.update(1_100_000, Some(0.0));
        assert_eq!(
            rate.update(700_000, Some(0.0)).target_bps,
            700_000,
            "the estimate falls (queues grow): down at once, loss or not"
        );
    }

    #[test]
    fn steps_lower_the_frame_rate() {
        assert_eq!(Step::Reduced.framerate(30), 20);
        assert_eq!(Step::Small.framerate(30), 15);
        assert_eq!(Step::Small.framerate(3), 2);
        assert_eq!(Step::Full.framerate(30), 30);
    }
}
