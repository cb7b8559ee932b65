//! The supervisor's side of the touchscreen: it keeps the screen state next to the flow, turns
//! taps into flow events through the same paths as the control socket, and redraws the UI layer
//! when what it shows changed. The drawing itself is the pure `ui` module.

use std::path::Path;

use embedded_graphics::prelude::Point;
use time::OffsetDateTime;

use super::{Supervisor, now};
use crate::flow::Event;
use std::time::Duration;

use crate::fleet::codes;
use crate::flow::Lockout;
use crate::media::check::{DeviceCheck, speaker_tone};
use crate::media::display::Display;
use crate::ui::layout::{Layout, Press, Slot};
use crate::ui::state::LONG_PRESS;
use crate::ui::state::{Intent, ScreenState, Surroundings};
use crate::ui::view::Quality;
use crate::ui::view::{CodeNotice, StaffCheck};
use crate::ui::{Frame, Locale, Panel, ViewModel, clock, draw, quality};
use crate::wire::{CallStats, Refusal};

/// The screen as the kiosk shows it now.
#[derive(Debug)]
pub(super) struct Touchscreen {
    panel: Panel,
    /// The composition on the display; the UI layer goes on top of the video.
    display: Display,
    pub(super) state: ScreenState,
    frame: Frame,
    /// The same screen as the display shows it: transparent where video shows.
    layer: Frame,
    layout: Layout,
    shown: Option<ViewModel>,
    /// The level the call screen shows; the state report's last call names it too.
    pub(super) quality: Quality,
    /// The previous statistics sample of the running call, for the quality indicator.
    sample: Option<CallStats>,
    /// The camera and microphone test, running while the staff check shows.
    device_check: Option<DeviceCheck>,
    /// The speaker test tone, while it plays.
    pub(super) tone: Option<gst::Pipeline>,
    /// Wrong staff PINs lock the keypad like wrong codes do.
    pin_lockout: Lockout,
}

impl Touchscreen {
    pub(super) fn display(&self) -> &Display {
        &self.display
    }

    pub(super) fn new(panel: Panel, locale: Locale, display: Display) -> Self {
        Self {
            panel,
            display,
            state: ScreenState::new(locale),
            frame: Frame::new(panel.width, panel.height),
            layer: Frame::new(panel.width, panel.height),
            layout: Layout::default(),
            shown: None,
            quality: Quality::Good,
            sample: None,
            device_check: None,
            tone: None,
            pin_lockout: Lockout::default(),
        }
    }
}

impl Supervisor {
    pub(super) fn surroundings(&self) -> Surroundings {
        let room = self
            .device_config
            .as_ref()
            .and_then(|dc| dc.display_name.clone())
            .unwrap_or_else(|| self.config.display_name.clone());
        Surroundings {
            room,
            clock: clock::berlin_hhmm(OffsetDateTime::now_utc()),
            broker_online: self.broker_up == Some(true),
            quality: self.screen.quality,
            staff: StaffCheck {
                camera_ok: self
                    .screen
                    .device_check
                    .as_ref()
                    .is_some_and(DeviceCheck::camera_ok),
                microphone_ok: self
                    .screen
                    .device_check
                    .as_ref()
                    .is_some_and(DeviceCheck::microphone_ok),
                mic_level: self
                    .screen
                    .device_check
                    .as_ref()
                    .map_or(0.0, DeviceCheck::level),
                version: env!("CARGO_PKG_VERSION").into(),
            },
        }
    }

    /// Follows the flow and redraws the UI layer if anything visible changed.
    pub(super) fn refresh_screen(&mut self) {
        self.screen.state.sync(self.kiosk.flow());
        // The device test runs exactly while the staff check shows.
        match (
            self.screen.state.in_staff_check(),
            self.screen.device_check.is_some(),
        ) {
            (true, false) => self.screen.device_check = Some(DeviceCheck::start(&self.media)),
            (false, true) => self.screen.device_check = None,
            _ => {}
        }
        let view = self
            .screen
            .state
            .view(self.kiosk.flow(), &self.surroundings(), now());
        if self.screen.shown.as_ref() == Some(&view) {
            return;
        }
        let screen = &mut self.screen;
        screen.layout = match draw::draw(&view, &screen.panel, &mut screen.frame) {
            Ok(layout) => layout,
            Err(never) => match never {},
        };
        screen.shown = Some(view);
        // On the display, video slots are holes in the UI layer; what is drawn over them stays.
        draw::paint_layer(&screen.layout, &screen.panel, &mut screen.layer);
        screen.display.show_ui(screen.layer.rgba());
        screen
            .display
            .set_video_visible(!screen.layout.video.is_empty());
        for slot in [Slot::RemoteVideo, Slot::SelfView] {
            let placement = screen
                .layout
                .video
                .iter()
                .find(|(s, _)| *s == slot)
                .map(|(_, r)| (r.top_left.x, r.top_left.y, r.size.width, r.size.height));
            screen.display.place(slot, placement);
        }
    }

    /// The device config's language becomes the screens' default.
    pub(super) fn apply_locale(&mut self) {
        let locale = self
            .device_config
            .as_ref()
            .and_then(|dc| dc.locale.as_deref())
            .and_then(Locale::parse);
        self.screen
            .state
            .set_default_locale(locale.unwrap_or(self.config.locale));
    }

    /// Once a second: the clock, the call's duration and quality, the code screen's timeout.
    pub(super) async fn screen_tick(&mut self) {
        self.identify_tick();
        let reading = match &self.call {
            Some(active) if matches!(self.kiosk.flow(), crate::flow::Flow::InCall { .. }) => {
                Some(active.handle.stats(now()))
            }
            _ => None,
        };
        let screen = &mut self.screen;
        match (reading, screen.sample.take()) {
            (Some(crate::call::Reading::Fresh(now)), Some(before)) => {
                screen.quality = quality::quality(&before, &now);
                screen.sample = Some(now);
            }
            (Some(crate::call::Reading::Fresh(now)), None) => screen.sample = Some(now),
            // A call that does not answer is no good connection.
            (Some(crate::call::Reading::Stalled { .. }), _) => screen.quality = Quality::Poor,
            (None, _) => screen.quality = Quality::Good,
        }
        screen.state.tick(now());
        if let Some(check) = screen.device_check.as_mut() {
            check.poll();
        }
        self.refresh_screen();
    }

    /// A touch at `(x, y)`, held for `held`: the button there, if any, does what it says.
    pub(super) async fn tap(&mut self, x: i32, y: i32, held: Duration) -> Option<Refusal> {
        match self.screen.layout.hit(Point::new(x, y)) {
            // A touch beside every button does nothing; the staff check needs a long press.
            None => None,
            Some(Press::StaffLongPress) if held < LONG_PRESS => None,
            Some(press) => self.press(press).await,
        }
    }

    /// Checks a staff PIN against the fleet's hash, with the same lockout as access codes.
    async fn check_staff_pin(&mut self, pin: String) {
        let now = now();
        let outcome = if let Some(left) = self.screen.pin_lockout.remaining(now) {
            Err(CodeNotice::LockedOut {
                remaining_s: left.as_secs_f64().ceil() as u64,
            })
        } else if let Some(hash) = self
            .device_config
            .as_ref()
            .and_then(|dc| dc.staff_pin_hash.clone())
        {
            let right = tokio::task::spawn_blocking(move || codes::verify(&pin, &hash))
                .await
                .unwrap_or(false);
            if right {
                self.screen.pin_lockout.succeed();
                Ok(())
            } else {
                tracing::warn!("wrong staff PIN");
                Err(match self.screen.pin_lockout.fail(now) {
                    Some(length) => CodeNotice::LockedOut {
                        remaining_s: length.as_secs(),
                    },
                    None => CodeNotice::Wrong {
                        attempts_left: self.screen.pin_lockout.attempts_left(),
                    },
                })
            }
        } else {
            Err(CodeNotice::NotSetUp)
        };
        self.screen.state.staff_pin_checked(outcome, now);
    }

    async fn press(&mut self, press: Press) -> Option<Refusal> {
        let command = self.screen.state.on_press(press, self.kiosk.flow(), now());
        let refused = match command {
            None => None,
            Some(Intent::EnterCode(code)) => {
                let refused = self.enter_code(code).await;
                if let Some(refusal) = refused {
                    self.screen.state.refused(refusal, now());
                }
                refused
            }
            Some(Intent::ConfirmName(name)) => self.step(Event::NameConfirmed(Some(name))),
            Some(Intent::Consent) => self.step(Event::ConsentGiven),
            Some(Intent::Cancel) => self.step(Event::Cancel),
            Some(Intent::HangUp) => self.step(Event::HangUp),
            Some(Intent::Mute(muted)) => {
                if let Some(active) = &self.call {
                    active.handle.set_muted(muted);
                }
                None
            }
            Some(Intent::StaffPin(pin)) => {
                self.check_staff_pin(pin).await;
                None
            }
            Some(Intent::SpeakerTest) => {
                self.screen.tone = speaker_tone(self.config.media.audio_sink);
                None
            }
            Some(Intent::CameraOff(off)) => {
                if let Some(active) = &self.call {
                    active.handle.set_camera_off(off);
                }
                None
            }
        };
        self.refresh_screen();
        refused
    }

    /// Writes the UI layer as PNG. Only the UI: video slots are placeholders, so no screenshot
    /// can hold the remote picture.
    pub(super) fn screenshot(&self, path: &str, composed: bool) -> Result<(), String> {
        let path = Path::new(path);
        if !path.is_absolute() {
            return Err(format!("{} is not an absolute path", path.display()));
        }
        let frame = if composed {
            let rgba = self
                .screen
                .display
                .composed()
                .ok_or("composed screenshots exist only in a development config ([screen] development = true)")?;
            Frame::from_rgba(self.screen.panel.width, self.screen.panel.height, rgba)
                .ok_or("the composed frame has an unexpected size")?
        } else {
            self.screen.frame.clone()
        };
        crate::platform::atomic_file::write_atomic(path, &frame.to_png())
            .map_err(|e| format!("{}: {e}", path.display()))
    }
}
