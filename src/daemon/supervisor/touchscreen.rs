//! The supervisor's side of the touchscreen: it keeps the screen state next to the flow, turns
//! taps into flow events through the same paths as the control socket, and redraws the UI layer
//! when what it shows changed. The drawing itself is the pure `ui` module.

use std::path::Path;

use embedded_graphics::prelude::Point;
use time::OffsetDateTime;

use super::{Supervisor, now};
use crate::flow::Event;
use crate::media::screen::Screen;
use crate::ui::layout::{Layout, Slot};
use crate::ui::state::{Command, ScreenState, Surroundings};
use crate::ui::view::Quality;
use crate::ui::{Frame, Locale, Panel, ViewModel, clock, draw, quality};
use crate::wire::{CallStats, Refusal};

/// The screen as the kiosk shows it now.
#[derive(Debug)]
pub(super) struct Touchscreen {
    panel: Panel,
    /// The composition on the display; the UI layer goes on top of the video.
    display: Screen,
    pub(super) state: ScreenState,
    frame: Frame,
    layout: Layout,
    shown: Option<ViewModel>,
    quality: Quality,
    /// The previous statistics sample of the running call, for the quality indicator.
    sample: Option<CallStats>,
}

impl Touchscreen {
    pub(super) fn new(panel: Panel, locale: Locale, display: Screen) -> Self {
        Self {
            panel,
            display,
            state: ScreenState::new(locale),
            frame: Frame::new(panel.width, panel.height),
            layout: Layout::default(),
            shown: None,
            quality: Quality::Good,
            sample: None,
        }
    }
}

impl Supervisor {
    fn surroundings(&self) -> Surroundings {
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
        }
    }

    /// Follows the flow and redraws the UI layer if anything visible changed.
    pub(super) fn refresh_screen(&mut self) {
        self.screen.state.sync(self.kiosk.flow());
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
        // On the display, video slots are holes in the UI layer.
        let mut layer = screen.frame.clone();
        for (_, rect) in &screen.layout.video {
            layer.clear_area(rect);
        }
        screen.display.show_ui(layer.rgba());
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
        let stats = match &self.call {
            Some(active) if matches!(self.kiosk.flow(), crate::flow::Flow::InCall { .. }) => {
                active.handle.stats().await
            }
            _ => None,
        };
        let screen = &mut self.screen;
        match (stats, screen.sample.take()) {
            (Some(now), Some(before)) => {
                screen.quality = quality::quality(&before, &now);
                screen.sample = Some(now);
            }
            (Some(now), None) => screen.sample = Some(now),
            (None, _) => screen.quality = Quality::Good,
        }
        screen.state.tick(now());
        self.refresh_screen();
    }

    /// A touch at `(x, y)`: the button there, if any, does what it says.
    pub(super) async fn tap(&mut self, x: i32, y: i32) -> Option<Refusal> {
        match self.screen.layout.hit(Point::new(x, y)) {
            // A touch beside every button does nothing.
            None => None,
            Some(action) => self.press(action).await,
        }
    }

    async fn press(&mut self, action: crate::ui::layout::Action) -> Option<Refusal> {
        let command = self
            .screen
            .state
            .on_action(action, self.kiosk.flow(), now());
        let refused = match command {
            None => None,
            Some(Command::EnterCode(code)) => {
                let refused = self.enter_code(code).await;
                if let Some(refusal) = refused {
                    self.screen.state.refused(refusal, now());
                }
                refused
            }
            Some(Command::ConfirmName(name)) => self.step(Event::NameConfirmed(Some(name))),
            Some(Command::Consent) => self.step(Event::ConsentGiven),
            Some(Command::Cancel) => self.step(Event::Cancel),
            Some(Command::HangUp) => self.step(Event::HangUp),
            Some(Command::Mute(muted)) => {
                if let Some(active) = &self.call {
                    active.handle.set_muted(muted);
                }
                None
            }
            Some(Command::CameraOff(off)) => {
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
