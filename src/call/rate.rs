//! How much video the call sends, and at what frame rate, decided once a second from two
//! signals: Google congestion control's estimate (delay based, from transport-wide feedback)
//! and the loss the other side reports (RTCP receiver reports). The estimate alone is not
//! enough: when the link is narrow both ways, the feedback it lives on is lost too and it stays
//! where it was (measured at 150 kbit/s: the target stayed at 400 kbit/s and most video was
//! dropped). Loss caps it; a clean report never lifts the video past the estimate.
//!
//! The video steps down in frame rate as the target falls, and pauses below [`PAUSE_BELOW`],
//! where a picture would only take the voice's room. No I/O here.

/// Below this, video pauses: the voice keeps what the link has.
pub(crate) const PAUSE_BELOW: u32 = 120_000;
/// Video comes back from a pause only above this (a little over [`PAUSE_BELOW`], so it does not
/// flap).
const RESUME_ABOVE: u32 = 150_000;
/// Loss the other side reports that means the link is full.
const CONGESTED_LOSS: f64 = 0.10;
/// Loss low enough to allow more again.
const CLEAN_LOSS: f64 = 0.02;
/// How far the loss cap falls in a congested second, and climbs in a clean one: from a pause
/// back to what congestion control allows within about 8 s.
const BACK_OFF: f64 = 0.7;
const CLIMB: f64 = 1.25;
/// Seconds after the video went into a pause in which congestion control's estimate does not
/// count: with no video it has no feedback and still holds the figure that paused the video.
const AFTER_PAUSE_S: u32 = 4;

/// The picture's frame rate, as a fraction of the configured camera mode's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Full,
    /// Two thirds of the frame rate (30 → 20 frames a second), below half the ceiling.
    Reduced,
    /// Half the frame rate (30 → 15), below three tenths of the ceiling.
    Small,
    Paused,
}

impl Step {
    /// The step for a video target of `bps` with a ceiling of `max_bps`.
    fn for_target(bps: u32, max_bps: u32, paused: bool) -> Self {
        let share = u64::from(bps) * 10;
        let max = u64::from(max_bps);
        if bps < PAUSE_BELOW || (paused && bps < RESUME_ABOVE) {
            Self::Paused
        } else if share < max * 3 {
            Self::Small
        } else if share < max * 5 {
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
    /// What the reported loss allows: the most the video may take.
    cap: u32,
    /// Seconds since the video last went into or came out of a pause (`u32::MAX`: never).
    since_pause: u32,
    /// The target of the last second.
    target: u32,
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
            cap: max_bps,
            since_pause: u32::MAX,
            target: max_bps / 2,
            step: Step::Full,
        }
    }

    /// Whether the video pauses now.
    pub fn paused(&self) -> bool {
        self.step == Step::Paused
    }

    /// One second: `estimate_bps` is what congestion control gives the video, `loss` the
    /// fraction of our packets the other side last reported lost (`None`: no report). The
    /// target is the lower of the two: loss only ever takes away, so a stale clean report
    /// cannot push the video past what congestion control measured. While the video pauses,
    /// and shortly after, congestion control has no feedback: the voice's loss reports alone
    /// decide, and bring the video back when the link is clean.
    pub fn update(&mut self, estimate_bps: u32, loss: Option<f64>) -> Decision {
        let floor = PAUSE_BELOW / 2;
        let scaled = |bps: u32, by: f64| (f64::from(bps) * by) as u32;
        match loss {
            Some(l) if l >= CONGESTED_LOSS => self.cap = scaled(self.cap, BACK_OFF).max(floor),
            Some(l) if l <= CLEAN_LOSS => self.cap = scaled(self.cap, CLIMB).min(self.max_bps),
            _ => {}
        }
        self.since_pause = self.since_pause.saturating_add(1);
        let clean = loss.is_some_and(|l| l <= CLEAN_LOSS);
        let fresh_estimate = !self.paused() && self.since_pause > AFTER_PAUSE_S;
        let target_bps = if fresh_estimate || (loss.is_none() && self.since_pause > AFTER_PAUSE_S) {
            estimate_bps.min(self.cap)
        } else if clean {
            // In or just out of a pause, on the voice's word: a quarter more each clean second.
            scaled(self.target, CLIMB).min(self.cap)
        } else {
            self.target.min(self.cap)
        };
        self.target = target_bps;
        let was_paused = self.paused();
        self.step = Step::for_target(target_bps, self.max_bps, was_paused);
        if self.paused() != was_paused {
            // Into a pause, or out of one: either way the estimate is stale for a while.
            self.since_pause = 0;
        }
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
        assert_eq!(
            rate.update(200_000, None).step,
            Step::Full,
            "a call starts in full"
        );
        assert_eq!(rate.update(400_000, Some(0.0)).step, Step::Full);
        // A narrow link: congestion control does not notice (its feedback is lost), loss does.
        let mut seconds = 0;
        while rate.update(400_000, Some(0.3)).step != Step::Paused {
            seconds += 1;
            assert!(seconds < 8, "paused within a few seconds of heavy loss");
        }
        // The voice's reports stay clean once the link is free: back to full within 8 s.
        let mut back = 0;
        while rate.update(400_000, Some(0.0)).step != Step::Full {
            back += 1;
            assert!(back < 8, "full picture again within 8 s");
        }
        let mut seconds = back;
        while rate.update(400_000, Some(0.0)).target_bps < 400_000 {
            seconds += 1;
            assert!(seconds < 10, "the whole ceiling again within 10 s");
        }
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
        // With no loss reports at all, the estimate counts again a few seconds on.
        let back = (0..=AFTER_PAUSE_S + 2).find(|_| step(&mut rate, 160_000) == Step::Small);
        assert!(back.is_some(), "back once the estimate counts again");
    }

    #[test]
    fn a_pause_ends_on_clean_reports_although_congestion_control_stays_where_it_paused() {
        let mut rate = VideoRate::new(1_200_000);
        while rate.update(100_000, Some(0.3)).step != Step::Paused {}
        let mut seconds = 0;
        while rate.update(100_000, Some(0.0)).step == Step::Paused {
            seconds += 1;
            assert!(seconds < 10, "back from the pause within 10 s");
        }
    }

    #[test]
    fn a_clean_report_never_lifts_the_video_past_congestion_control() {
        let mut rate = VideoRate::new(1_200_000);
        for _ in 0..20 {
            assert_eq!(rate.update(300_000, Some(0.0)).target_bps, 300_000);
        }
        assert_eq!(
            rate.update(250_000, None).target_bps,
            250_000,
            "its estimate falls: down at once"
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
