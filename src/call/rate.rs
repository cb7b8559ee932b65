//! How much video the call sends, in what size and at what frame rate, decided once a second
//! from two signals: Google congestion control's estimate (delay based, from transport-wide
//! feedback) and the loss the other side reports (RTCP receiver reports). The estimate alone is
//! not enough: when the link is narrow both ways, the feedback it lives on is lost too and it
//! stays where it was (measured at 150 kbit/s: the target stayed at 400 kbit/s and most video
//! was dropped). Loss caps it; a clean report never lifts the video past the estimate.
//!
//! Congestion control alone climbs 8 % a second (27 s from 150 kbit/s to 1.2 Mbit/s). So the
//! video *probes*, as browsers do: after two seconds without congestion in which the estimate
//! did not fall, congestion control is told to try half as much again ([`Decision::reseed`]).
//! If the link cannot carry it, the queue's delay shows within a second and congestion control
//! itself comes down; a probe that fails waits twice as long before the next one.
//!
//! The video steps down in size and frame rate as the target falls, and pauses below
//! [`PAUSE_BELOW`], where a picture would only take the voice's room. In a pause congestion
//! control has nothing to measure, and the video's own loss reports go stale: the voice's
//! reports alone decide, and after a few clean seconds the video comes back at [`RESUME_AT`] as
//! a probe, with congestion control started afresh there. A comeback that fails waits twice as
//! long.
//!
//! Congestion control lives on the other side's transport-wide feedback. On a link so full that
//! the feedback drowns too, its estimate stays where it was, and so would the video, however
//! much the link drops (a make test run sent 3 Mbit/s into 600 kbit/s). Feedback that stops
//! while the video is sent counts as congestion, as in libwebrtc: after
//! [`FEEDBACK_LOST_AFTER_S`] silent seconds the video backs off each second until it comes again
//! or pauses. No I/O here.

/// Below this, video pauses: the voice keeps what the link has.
pub(crate) const PAUSE_BELOW: u32 = 120_000;
/// Video comes back from a pause at this rate (a little over [`PAUSE_BELOW`], so it does not
/// flap).
const RESUME_AT: u32 = 150_000;
/// Loss the other side reports that means the link is full.
const CONGESTED_LOSS: f64 = 0.10;
/// Loss low enough to allow more again.
const CLEAN_LOSS: f64 = 0.02;
/// How far the loss cap falls in a congested second, and climbs in a clean one.
const BACK_OFF: f64 = 0.7;
const CLIMB: f64 = 1.25;
/// A probe asks for this much more than the estimate.
const PROBE: f64 = 1.5;
/// Seconds in a row without congestion before a probe, and clean ones before the first comeback
/// from a pause.
const STEADY_BEFORE_PROBE: u32 = 2;
const CLEAN_BEFORE_RESUME: u32 = 3;
/// Seconds a probe gets to show whether the link carries it.
const PROBE_JUDGED_AFTER: u32 = 2;
/// Seconds without transport-wide feedback, once it came, that mean it drowns in the link.
const FEEDBACK_LOST_AFTER_S: u32 = 2;
/// The longest wait between failed probes.
const MAX_WAIT_S: u32 = 32;
/// The longest wait for a comeback: a pause tells nothing about the link, so only a comeback
/// finds out that it widened. Each failed one costs the voice a second or two of loss.
const MAX_COMEBACK_WAIT_S: u32 = 8;
/// A pause this soon after a comeback means the comeback failed.
const COMEBACK_TRIAL_S: u32 = 6;
/// After a comeback the video's own loss reports are stale for this long (they describe the
/// time before the pause): only the voice's count.
const STALE_REPORTS_S: u32 = 2;

/// The picture's frame rate, as a fraction of the configured camera mode's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Full,
    /// Three quarters of the size and two thirds of the frame rate (640×480@30 → 480×360@20),
    /// below half the ceiling.
    Reduced,
    /// Half the size and half the frame rate (320×240@15), below three tenths of the ceiling.
    Small,
    Paused,
}

impl Step {
    /// The step for a video target of `bps` with a ceiling of `max_bps`.
    fn for_target(bps: u32, max_bps: u32) -> Self {
        let share = u64::from(bps) * 10;
        let max = u64::from(max_bps);
        if bps < PAUSE_BELOW {
            Self::Paused
        } else if share < max * 3 {
            Self::Small
        } else if share < max * 5 {
            Self::Reduced
        } else {
            Self::Full
        }
    }

    /// The picture's size for a camera mode of `width`×`height`: three quarters in
    /// [`Step::Reduced`], half in [`Step::Small`] (640×480 → 480×360 → 320×240), in multiples
    /// of 8 that encoders take as they are.
    pub fn size(self, width: u32, height: u32) -> (u32, u32) {
        let (num, den) = match self {
            Self::Full | Self::Paused => return (width, height),
            Self::Reduced => (3, 4),
            Self::Small => (1, 2),
        };
        let scale = |v: u32| (v * num / den / 8 * 8).max(16);
        (scale(width), scale(height))
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

/// A probe under way: the level asked for, and how many seconds ago.
#[derive(Debug, Clone, Copy)]
struct Probe {
    level: u32,
    age: u32,
}

/// The video's target and step, kept across seconds.
#[derive(Debug, Clone)]
pub(crate) struct VideoRate {
    max_bps: u32,
    /// What the reported loss allows: the most the video may take.
    cap: u32,
    /// The target of the last second.
    target: u32,
    step: Step,
    /// Seconds in a row with a report of no congestion (less than [`CONGESTED_LOSS`]): a
    /// probe needs them. Random loss of a few per cent is not congestion, and the video's own
    /// report may still tell of the time before a pause.
    steady_run: u32,
    /// Seconds in a row without a report of more loss than that (clean, or no report at all).
    calm_run: u32,
    /// Congestion control's estimate of the last second.
    last_estimate: u32,
    probe: Option<Probe>,
    /// Seconds until the next probe may start, and the wait after a failed one.
    probe_wait: u32,
    probe_backoff: u32,
    /// Clean seconds a pause needs before the video comes back (doubles on a failed comeback).
    resume_after: u32,
    /// Seconds since the video came back from a pause (`u32::MAX`: never paused).
    since_resume: u32,
    /// Seconds in a row without transport-wide feedback, and whether any ever came (a peer
    /// that sends none is not a drowned link).
    unheard_s: u32,
    heard: bool,
}

/// What one second decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decision {
    pub target_bps: u32,
    pub step: Step,
    /// Congestion control starts from this video rate (a probe, or a comeback from a pause).
    pub reseed: Option<u32>,
}

impl VideoRate {
    pub fn new(max_bps: u32) -> Self {
        Self {
            max_bps,
            cap: max_bps,
            target: max_bps / 2,
            step: Step::Full,
            steady_run: 0,
            calm_run: 0,
            last_estimate: 0,
            probe: None,
            probe_wait: 0,
            probe_backoff: STEADY_BEFORE_PROBE,
            resume_after: CLEAN_BEFORE_RESUME,
            since_resume: u32::MAX,
            unheard_s: 0,
            heard: false,
        }
    }

    /// Whether transport-wide feedback came in the last second; told before [`Self::update`].
    pub fn feedback(&mut self, came: bool) {
        self.heard |= came;
        self.unheard_s = if came {
            0
        } else {
            self.unheard_s.saturating_add(1)
        };
    }

    /// Feedback that came before stopped while the video is sent: the link drowns it.
    fn feedback_lost(&self) -> bool {
        self.heard && !self.paused() && self.unheard_s >= FEEDBACK_LOST_AFTER_S
    }

    /// Whether the video pauses now.
    pub fn paused(&self) -> bool {
        self.step == Step::Paused
    }

    /// One second: `estimate_bps` is what congestion control gives the video, `loss` the
    /// lowest and the highest fraction of our packets the other side last reported lost, over
    /// our streams (`None`: no report yet). The target is the lower of the estimate and the
    /// loss cap: loss only ever takes away, so a stale clean report cannot push the video past
    /// what congestion control measured.
    pub fn update(&mut self, estimate_bps: u32, loss: Option<(f64, f64)>) -> Decision {
        // In a pause, and just after, the video's report is stale: the voice's (the lowest)
        // is the current one.
        let stale = self.paused() || self.since_resume < STALE_REPORTS_S;
        let loss = loss.map(|(low, high)| if stale { low } else { high });
        let scaled = |bps: u32, by: f64| (f64::from(bps) * by) as u32;
        let drowned = self.feedback_lost();
        match loss {
            // The cap falls from what is sent now: it may have climbed far above it.
            _ if drowned => {
                self.cap = scaled(self.cap.min(self.target), BACK_OFF).max(PAUSE_BELOW / 2);
            }
            Some(l) if l >= CONGESTED_LOSS => {
                self.cap = scaled(self.cap, BACK_OFF).max(PAUSE_BELOW / 2);
            }
            Some(l) if l <= CLEAN_LOSS => self.cap = scaled(self.cap, CLIMB).min(self.max_bps),
            _ => {}
        }
        // A probe needs the other side's word: no report at all (its feedback lost on a
        // congested link) is no sign of room.
        let steady = !drowned && loss.is_some_and(|l| l < CONGESTED_LOSS);
        self.steady_run = if steady { self.steady_run + 1 } else { 0 };
        let calm = loss.is_none_or(|l| l <= CLEAN_LOSS);
        self.calm_run = if calm { self.calm_run + 1 } else { 0 };
        self.since_resume = self.since_resume.saturating_add(1);
        let estimate_fell = estimate_bps < self.last_estimate;
        self.last_estimate = estimate_bps;

        let mut reseed = None;
        if self.paused() {
            if self.calm_run < self.resume_after {
                return self.decide(self.target, None);
            }
            // Back, on the voice's word, as a probe: congestion control starts afresh here.
            self.cap = self.cap.max(RESUME_AT);
            self.since_resume = 0;
            self.steady_run = 0;
            self.calm_run = 0;
            self.unheard_s = 0;
            self.probe = None;
            self.probe_wait = STEADY_BEFORE_PROBE;
            return self.decide(RESUME_AT, Some(RESUME_AT));
        }

        let mut target = estimate_bps.min(self.cap);
        self.judge_probe(estimate_bps);
        if self.probe.is_none() {
            self.probe_wait = self.probe_wait.saturating_sub(1);
            let level = scaled(estimate_bps, PROBE).min(self.cap).min(self.max_bps);
            let worth_it = level > scaled(estimate_bps, 1.1);
            if self.probe_wait == 0
                && self.steady_run >= STEADY_BEFORE_PROBE
                && !estimate_fell
                && worth_it
            {
                self.probe = Some(Probe { level, age: 0 });
                reseed = Some(level);
                target = level;
            }
        }
        let decision = self.decide(target, reseed);
        if self.paused() {
            // A comeback that did not hold waits twice as long for the next one.
            self.resume_after = if self.since_resume < COMEBACK_TRIAL_S {
                (self.resume_after * 2).min(MAX_COMEBACK_WAIT_S)
            } else {
                CLEAN_BEFORE_RESUME
            };
            self.steady_run = 0;
            self.calm_run = 0;
            self.probe = None;
        }
        decision
    }

    /// A probe two seconds old held if congestion control stayed near its level; if it came
    /// down, the link could not carry it, and the next probe waits twice as long.
    fn judge_probe(&mut self, estimate_bps: u32) {
        let Some(probe) = &mut self.probe else {
            return;
        };
        probe.age += 1;
        if probe.age < PROBE_JUDGED_AFTER {
            return;
        }
        let held = u64::from(estimate_bps) * 10 >= u64::from(probe.level) * 9;
        self.probe = None;
        if held {
            // The next one may follow at once.
            self.probe_backoff = STEADY_BEFORE_PROBE;
            self.probe_wait = 0;
        } else {
            self.probe_backoff = (self.probe_backoff * 2).min(MAX_WAIT_S);
            self.probe_wait = self.probe_backoff;
        }
    }

    fn decide(&mut self, target_bps: u32, reseed: Option<u32>) -> Decision {
        self.target = target_bps;
        self.step = Step::for_target(target_bps, self.max_bps);
        Decision {
            target_bps,
            step: self.step,
            reseed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A link of `link_bps` for the video, and congestion control on it as `rtpgccbwe` behaves:
    /// 8 % more a second while the link has room, told a new start by a reseed, and down to
    /// 85 % of what the link carried when it is overrun. Loss is reported when overrun.
    struct Link {
        link_bps: u32,
        estimate: u32,
        overrun: bool,
    }

    impl Link {
        fn new(link_bps: u32, estimate: u32) -> Self {
            Self {
                link_bps,
                estimate,
                overrun: false,
            }
        }

        /// One second of `rate` on this link; the decision.
        fn second(&mut self, rate: &mut VideoRate) -> Decision {
            let loss = if self.overrun { 0.2 } else { 0.0 };
            let decision = rate.update(self.estimate, Some((0.0, loss)));
            let sent = decision.reseed.unwrap_or(decision.target_bps);
            self.overrun = !rate.paused() && sent > self.link_bps;
            self.estimate = if self.overrun {
                self.link_bps * 85 / 100
            } else {
                (sent * 108 / 100).min(self.link_bps)
            };
            decision
        }
    }

    #[test]
    fn after_a_narrow_link_widens_the_video_reaches_nine_tenths_of_it_within_ten_seconds() {
        let mut rate = VideoRate::new(1_200_000);
        let mut link = Link::new(1_200_000, 150_000);
        let targets: Vec<u32> = (0..10)
            .map(|_| link.second(&mut rate).target_bps / 1000)
            .collect();
        assert!(
            targets.iter().any(|&t| t >= 1080),
            "probing climbs faster than congestion control's 8 % a second: {targets:?}"
        );
    }

    #[test]
    fn a_probe_the_link_cannot_carry_waits_longer_each_time() {
        let mut rate = VideoRate::new(1_200_000);
        let mut link = Link::new(400_000, 390_000);
        let probes: Vec<u32> = (0..60)
            .filter(|_| link.second(&mut rate).reseed.is_some())
            .collect();
        let gaps: Vec<u32> = probes.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(
            gaps.windows(2).all(|w| w[1] >= w[0]) && gaps.len() >= 2,
            "failed probes come ever further apart: {gaps:?}"
        );
        assert!(
            gaps.iter()
                .all(|&g| g <= MAX_WAIT_S + PROBE_JUDGED_AFTER + 2),
            "but they still come: {gaps:?}"
        );
    }

    #[test]
    fn loss_brings_the_video_down_to_a_pause_and_a_clean_link_brings_it_back_soon() {
        let mut rate = VideoRate::new(400_000);
        assert_eq!(
            rate.update(200_000, None).step,
            Step::Full,
            "a call starts in full"
        );
        // A narrow link: congestion control does not notice (its feedback is lost), loss does.
        let mut seconds = 0;
        while rate.update(400_000, Some((0.3, 0.3))).step != Step::Paused {
            seconds += 1;
            assert!(seconds < 8, "paused within a few seconds of heavy loss");
        }
        // The voice's reports are clean once the link is free; the video's is stale.
        let mut back = 0;
        let comeback = loop {
            let decision = rate.update(400_000, Some((0.0, 0.3)));
            if decision.step != Step::Paused {
                break decision;
            }
            back += 1;
            assert!(back < 5, "back within a few clean seconds");
        };
        assert_eq!(
            comeback.reseed,
            Some(RESUME_AT),
            "congestion control starts afresh where the video comes back"
        );
        assert_ne!(
            rate.update(RESUME_AT, Some((0.0, 0.3))).step,
            Step::Paused,
            "the video's stale report does not pause it again at once"
        );
    }

    #[test]
    fn a_comeback_the_link_cannot_carry_waits_longer_each_time() {
        let mut rate = VideoRate::new(1_200_000);
        // 100 kbit/s for the video: every comeback at 150 kbit/s is lost again.
        let mut link = Link::new(100_000, 100_000);
        let comebacks: Vec<u32> = (0..90)
            .filter(|_| link.second(&mut rate).reseed == Some(RESUME_AT))
            .collect();
        let gaps: Vec<u32> = comebacks.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(
            gaps.len() >= 2 && gaps.windows(2).all(|w| w[1] >= w[0]),
            "comebacks that fail come ever further apart: {comebacks:?}"
        );
        assert!(
            gaps.last().is_some_and(|&g| g > 2 * CLEAN_BEFORE_RESUME),
            "no sawtooth every few seconds on a link too narrow for video: {comebacks:?}"
        );
    }

    #[test]
    fn congestion_control_alone_steps_the_picture_and_a_silent_link_still_comes_back() {
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
        // With no loss reports at all, the pause still ends after the same wait.
        let back = (0..=CLEAN_BEFORE_RESUME).find(|_| step(&mut rate, 160_000) != Step::Paused);
        assert!(back.is_some(), "back without reports too");
    }

    #[test]
    fn the_video_goes_past_congestion_control_only_as_a_probe_it_is_told_of() {
        let mut rate = VideoRate::new(1_200_000);
        for _ in 0..30 {
            let decision = rate.update(300_000, Some((0.0, 0.0)));
            if decision.target_bps > 300_000 {
                assert_eq!(decision.reseed, Some(decision.target_bps), "{decision:?}");
            }
        }
        assert_eq!(
            rate.update(250_000, None).target_bps,
            250_000,
            "its estimate falls: down at once"
        );
    }

    #[test]
    fn without_reports_from_the_other_side_there_are_no_probes() {
        // Its feedback lost on a congested link: silence is no sign of room.
        let mut rate = VideoRate::new(2_000_000);
        for _ in 0..30 {
            let decision = rate.update(500_000, None);
            assert_eq!(decision.reseed, None, "{decision:?}");
            assert_eq!(decision.target_bps, 500_000);
        }
    }

    #[test]
    fn feedback_that_stops_brings_the_video_down_and_back_when_it_comes_again() {
        // Congestion control's estimate stays at 2 Mbit/s: its feedback no longer comes, and
        // the stale loss report says the link is clean.
        let mut rate = VideoRate::new(2_000_000);
        let second = |rate: &mut VideoRate, came| {
            rate.feedback(came);
            rate.update(2_000_000, Some((0.0, 0.0)))
        };
        for _ in 0..5 {
            second(&mut rate, true);
        }
        let heard = rate.target;
        let targets: Vec<u32> = (0..4)
            .map(|_| second(&mut rate, false).target_bps)
            .collect();
        assert!(
            targets[0] == heard && targets[3] < heard / 2,
            "one silent second is not yet a drowned link, four are: {heard} then {targets:?}"
        );
        assert!(
            targets.iter().all(|_| rate.probe.is_none()),
            "and no probes into it"
        );
        let back: Vec<u32> = (0..6).map(|_| second(&mut rate, true).target_bps).collect();
        assert!(
            back.windows(2).all(|w| w[1] >= w[0]) && back[5] > targets[3],
            "climbs again once feedback comes: {back:?}"
        );
    }

    #[test]
    fn a_peer_that_never_sends_feedback_is_not_a_drowned_link() {
        let mut rate = VideoRate::new(1_200_000);
        for _ in 0..10 {
            rate.feedback(false);
            let target = rate.update(800_000, Some((0.0, 0.0))).target_bps;
            assert!(target >= 800_000, "never below the estimate: {target}");
        }
    }

    #[test]
    fn steps_make_the_picture_smaller() {
        assert_eq!(Step::Full.size(640, 480), (640, 480));
        assert_eq!(Step::Reduced.size(640, 480), (480, 360));
        assert_eq!(Step::Small.size(640, 480), (320, 240));
        assert_eq!(Step::Reduced.size(640, 360), (480, 264), "multiples of 8");
        assert_eq!(Step::Paused.size(640, 360), (640, 360));
    }

    #[test]
    fn steps_lower_the_frame_rate() {
        assert_eq!(Step::Reduced.framerate(30), 20);
        assert_eq!(Step::Small.framerate(30), 15);
        assert_eq!(Step::Small.framerate(3), 2);
        assert_eq!(Step::Full.framerate(30), 30);
    }
}
