//! The touchscreen as the kiosk runs it: the screens' own state next to the flow, taps turned
//! into what they ask of the kiosk, the UI layer redrawn when what it shows changed, the call
//! screen's quality level, the fleet's `identify` screen and its time, and the staff's desk.
//! The drawing itself is the pure `ui` module; the composition on the display is
//! `media::display`. This module owns both the display and everything the screens remember.

use std::path::Path;
use std::time::{Duration, Instant};

use embedded_graphics::prelude::Point;
use time::OffsetDateTime;

use super::staff::StaffDesk;
use crate::call::Reading;
use crate::flow::Flow;
use crate::media::display::Display;
use crate::ui::layout::{Layout, Press, Slot};
use crate::ui::state::{Intent, LONG_PRESS, Provisioning, ScreenState, Surroundings};
use crate::ui::view::{CodeNotice, Quality, SecurityCode};
use crate::ui::{Frame, Locale, Panel, ViewModel, clock, draw, quality};
use crate::wire::{CallStats, Refusal, is_screenshot_name};

/// How long the identify screen shows.
const IDENTIFY_FOR: Duration = Duration::from_secs(30);

/// What the rest of the kiosk shows around the flow's screens.
#[derive(Debug, Clone, Copy)]
pub(super) struct Around<'a> {
    pub room: &'a str,
    pub broker_online: bool,
}

#[derive(Debug)]
pub(super) struct Touchscreen {
    /// The composition on the display; the UI layer goes on top of the video.
    display: Display,
    painter: Painter,
    state: ScreenState,
    quality: QualitySampler,
    /// The running call's security code, from its statistics once a second.
    security_code: Option<SecurityCode>,
    staff: StaffDesk,
    /// Until when the identify screen shows.
    identify_until: Option<Instant>,
}

impl Touchscreen {
    pub fn new(panel: Panel, locale: Locale, display: Display, staff: StaffDesk) -> Self {
        Self {
            display,
            painter: Painter::new(panel),
            state: ScreenState::new(locale),
            quality: QualitySampler::default(),
            security_code: None,
            staff,
            identify_until: None,
        }
    }

    pub fn display(&self) -> &Display {
        &self.display
    }

    /// Nobody is at the idle screen ([`ScreenState::at_rest`]).
    pub fn at_rest(&self) -> bool {
        self.state.at_rest()
    }

    /// The level the call screen shows (the state report's last call names it too).
    pub fn quality(&self) -> Quality {
        self.quality.shown
    }

    /// Follows the flow and redraws the UI layer if anything visible changed.
    pub fn refresh(&mut self, flow: &Flow, around: Around<'_>, now: Instant) {
        self.state.sync(flow);
        self.staff.follow(self.state.in_staff_check());
        let surroundings = Surroundings {
            room: around.room.to_string(),
            clock: clock::berlin_hhmm(OffsetDateTime::now_utc()),
            broker_online: around.broker_online,
            quality: self.quality.shown,
            security_code: self.security_code,
            staff: self.staff.findings(),
        };
        let view = self.state.view(flow, &surroundings, now);
        self.painter.paint(view, &mut self.display);
    }

    /// Once a second: the display's recovery, the identify screen's time, the call's quality
    /// (`reading` while a call shows), the code screen's timeout, the device test. The caller
    /// redraws.
    pub fn tick(&mut self, reading: Option<Reading>, now: Instant) {
        if self.display.recover(now) {
            // A restarted composition has no UI layer: the next redraw shows it all again.
            self.painter.shown = None;
        }
        if self.identify_until.is_some_and(|until| now >= until) {
            self.identify_until = None;
            self.state.end_identify();
        }
        self.security_code = match &reading {
            // A renewed connection has new certificates, so no code until its DTLS is up.
            Some(Reading::Fresh(stats)) => {
                stats.security_code.as_deref().and_then(SecurityCode::parse)
            }
            // A call that does not answer still has the connection it had.
            Some(Reading::Stalled { .. }) => self.security_code,
            None => None,
        };
        self.quality.sample(reading);
        self.state.tick(now);
        self.staff.poll();
    }

    /// A touch at `point`, held for `held`: what the button there asks of the kiosk, if
    /// anything. The speaker test it does itself.
    pub fn press_at(
        &mut self,
        point: Point,
        held: Duration,
        flow: &Flow,
        now: Instant,
    ) -> Option<Intent> {
        let press = match self.painter.layout.hit(point) {
            // A touch beside every button does nothing; the staff check needs a long press.
            None => return None,
            Some(Press::StaffLongPress) if held < LONG_PRESS => return None,
            Some(press) => press,
        };
        match self.state.on_press(press, flow, now)? {
            Intent::SpeakerTest => {
                self.staff.play_tone();
                None
            }
            intent => Some(intent),
        }
    }

    /// A refused code: the keypad says why.
    pub fn refused(&mut self, refusal: Refusal, now: Instant) {
        self.state.refused(refusal, now);
    }

    /// The fleet's PIN hash to check a typed PIN against, if one may be checked now; if not,
    /// the keypad already says why (no PIN set up, or locked).
    pub fn staff_pin_to_check(&mut self, hash: Option<String>, now: Instant) -> Option<String> {
        let allowed = match hash {
            Some(hash) => self.staff.pin_entry_allowed(now).map(|()| hash),
            None => Err(CodeNotice::NotSetUp),
        };
        allowed
            .inspect_err(|notice| self.state.staff_pin_checked(Err(*notice), now))
            .ok()
    }

    /// A staff PIN could not be checked because another check runs: the keypad says so, and the
    /// lockout does not count it.
    pub fn staff_pin_busy(&mut self, now: Instant) {
        self.state.staff_pin_checked(Err(CodeNotice::Busy), now);
    }

    /// A staff PIN was checked: on to the staff check, or back to the keypad saying why.
    pub fn staff_pin_checked(&mut self, right: bool, now: Instant) {
        let outcome = self.staff.pin_checked(right, now);
        self.state.staff_pin_checked(outcome, now);
    }

    /// Forgets everything typed on the screens.
    pub fn wipe_input(&mut self) {
        self.state.wipe();
    }

    pub fn set_provisioning(&mut self, provisioning: Provisioning) {
        self.state.set_provisioning(provisioning);
    }

    pub fn set_default_locale(&mut self, locale: Locale) {
        self.state.set_default_locale(locale);
    }

    /// The fleet wants to find this kiosk: its room and id on the screen for a while (when
    /// nobody is being served), and a tone unless a call runs.
    pub fn identify(&mut self, room: String, device: String, call_running: bool, now: Instant) {
        self.state.identify(room, device);
        self.identify_until = Some(now + IDENTIFY_FOR);
        if !call_running {
            self.staff.play_tone();
        }
    }

    /// Writes the UI layer as PNG `file` into `dir` (created 0700), the one place screenshots
    /// go. Only the UI: video slots are placeholders, so no screenshot can hold the remote
    /// picture. `composed` takes the composed screen instead, which only a development config
    /// can capture. A production kiosk (not `development`) takes none while a name is on screen.
    pub fn screenshot(
        &self,
        dir: &Path,
        file: &str,
        composed: bool,
        development: bool,
    ) -> Result<(), NoScreenshot> {
        if !is_screenshot_name(file) {
            return Err(NoScreenshot::Failed(format!(
                "{file:?} is not a file name (1–64 of A–Z a–z 0–9 . - _, not starting with a dot)"
            )));
        }
        let name_shown = self
            .painter
            .shown
            .as_ref()
            .is_some_and(|view| view.screen.shows_a_name());
        if name_shown && !development {
            return Err(NoScreenshot::NameOnScreen);
        }
        let panel = self.painter.panel;
        let frame = if composed {
            let rgba = self.display.composed().ok_or_else(|| {
                NoScreenshot::Failed(
                    "composed screenshots exist only in a development config ([screen] development = true)".into(),
                )
            })?;
            Frame::from_rgba(panel.width, panel.height, rgba).ok_or_else(|| {
                NoScreenshot::Failed("the composed frame has an unexpected size".into())
            })?
        } else {
            self.painter.frame.clone()
        };
        let path = dir.join(file);
        crate::platform::atomic_file::private_dir(dir)
            .and_then(|()| crate::platform::atomic_file::write_atomic(&path, &frame.to_png()))
            .map_err(|e| NoScreenshot::Failed(format!("{}: {e}", path.display())))
    }
}

/// Why the control socket's `screenshot` wrote nothing.
#[derive(Debug)]
pub(super) enum NoScreenshot {
    /// A production kiosk shows a name now.
    NameOnScreen,
    /// A bad request, or the file could not be written: says why.
    Failed(String),
}

/// Draws views into frames and hands the UI layer to the display, only when the view changed.
#[derive(Debug)]
struct Painter {
    panel: Panel,
    /// The screen as drawn, for screenshots.
    frame: Frame,
    /// The same screen as the display shows it: transparent where video shows.
    layer: Frame,
    /// Where the buttons of the screen shown are: taps hit-test this.
    layout: Layout,
    shown: Option<ViewModel>,
}

impl Painter {
    fn new(panel: Panel) -> Self {
        Self {
            panel,
            frame: Frame::new(panel.width, panel.height),
            layer: Frame::new(panel.width, panel.height),
            layout: Layout::default(),
            shown: None,
        }
    }

    fn paint(&mut self, view: ViewModel, display: &mut Display) {
        if self.shown.as_ref() == Some(&view) {
            return;
        }
        self.layout = match draw::draw(&view, &self.panel, &mut self.frame) {
            Ok(layout) => layout,
            Err(never) => match never {},
        };
        self.shown = Some(view);
        // On the display, video slots are holes in the UI layer; what is drawn over them stays.
        draw::paint_layer(&self.layout, &self.panel, &mut self.layer);
        display.show_ui(self.layer.rgba());
        display.set_video_visible(!self.layout.video.is_empty());
        for slot in [Slot::RemoteVideo, Slot::SelfView] {
            let placement = self
                .layout
                .video
                .iter()
                .find(|(s, _)| *s == slot)
                .map(|(_, r)| (r.top_left.x, r.top_left.y, r.size.width, r.size.height));
            display.place(slot, placement);
        }
    }
}

/// The call screen's quality level, from the running call's statistics once a second.
#[derive(Debug)]
struct QualitySampler {
    shown: Quality,
    /// The previous sample of the running call.
    sample: Option<CallStats>,
}

impl Default for QualitySampler {
    fn default() -> Self {
        Self {
            shown: Quality::Good,
            sample: None,
        }
    }
}

impl QualitySampler {
    /// Takes a reading of the running call, or `None` when no call shows.
    fn sample(&mut self, reading: Option<Reading>) {
        match (reading, self.sample.take()) {
            // The call publishes once a second and is read once a second: the same numbers
            // twice are no interval to judge.
            (Some(Reading::Fresh(now)), Some(before)) if now.elapsed_s <= before.elapsed_s => {
                self.sample = Some(before);
            }
            (Some(Reading::Fresh(now)), Some(before)) => {
                self.shown = quality::quality(&before, &now);
                self.sample = Some(now);
            }
            (Some(Reading::Fresh(now)), None) => self.sample = Some(now),
            // A call that does not answer is no good connection, whatever it said before.
            (Some(Reading::Stalled { .. }), _) => self.shown = Quality::Poor,
            // No call shows: the next one starts afresh.
            (None, _) => self.shown = Quality::Good,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(elapsed_s: f64, frames: u64) -> CallStats {
        CallStats {
            elapsed_s,
            video_frames_received: frames,
            ..CallStats::default()
        }
    }

    fn at(elapsed_s: f64, frames: u64) -> Reading {
        Reading::Fresh(stats(elapsed_s, frames))
    }

    #[test]
    fn the_quality_follows_the_call_and_a_stalled_call_is_never_good() {
        let mut sampler = QualitySampler::default();
        sampler.sample(Some(at(1.0, 30)));
        sampler.sample(Some(at(2.0, 60)));
        assert_eq!(sampler.shown, Quality::Good);
        sampler.sample(Some(at(3.0, 62)));
        assert_eq!(sampler.shown, Quality::Poor, "a frozen picture");
        sampler.sample(Some(at(3.0, 62)));
        assert_eq!(
            sampler.shown,
            Quality::Poor,
            "the same numbers again judge nothing"
        );
        sampler.sample(Some(at(4.0, 92)));
        assert_eq!(sampler.shown, Quality::Good);
        sampler.sample(Some(Reading::Stalled {
            last: stats(4.0, 92),
            silent_for: Duration::from_secs(5),
        }));
        assert_eq!(sampler.shown, Quality::Poor, "the call does not answer");
        sampler.sample(Some(at(9.0, 92 + 150)));
        assert_eq!(
            sampler.shown,
            Quality::Poor,
            "one sample after a stall says nothing yet"
        );
        sampler.sample(Some(at(10.0, 92 + 180)));
        assert_eq!(sampler.shown, Quality::Good);
        sampler.sample(None);
        assert_eq!(sampler.shown, Quality::Good, "the next call starts afresh");
    }
}
