//! Touches from a Linux touchscreen (evdev, multitouch protocol B, or a single-touch panel),
//! decoded into taps in panel pixels. Pure: the daemon feeds raw events and the time; the device
//! itself is read in `platform::touch_device`.
//!
//! Only the first finger counts: a tap is reported when it lifts, at the place it lifted, with how
//! long it was held (a long press opens the staff check). More fingers are ignored, so a patient
//! resting a hand on the screen does not press buttons.

use std::time::{Duration, Instant};

use embedded_graphics::prelude::Point;

use super::panel::Panel;

/// Linux input event types and codes we read (linux/input-event-codes.h).
pub mod codes {
    pub const EV_SYN: u16 = 0x00;
    pub const EV_KEY: u16 = 0x01;
    pub const EV_ABS: u16 = 0x03;
    pub const SYN_REPORT: u16 = 0;
    pub const BTN_TOUCH: u16 = 0x14a;
    pub const ABS_X: u16 = 0x00;
    pub const ABS_Y: u16 = 0x01;
    pub const ABS_MT_SLOT: u16 = 0x2f;
    pub const ABS_MT_POSITION_X: u16 = 0x35;
    pub const ABS_MT_POSITION_Y: u16 = 0x36;
    pub const ABS_MT_TRACKING_ID: u16 = 0x39;
}

/// How the panel is mounted relative to the touch controller's axes, clockwise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Rotation {
    #[default]
    R0,
    R90,
    R180,
    R270,
}

impl Rotation {
    pub fn from_degrees(degrees: u16) -> Option<Self> {
        match degrees {
            0 => Some(Self::R0),
            90 => Some(Self::R90),
            180 => Some(Self::R180),
            270 => Some(Self::R270),
            _ => None,
        }
    }
}

/// The raw axis ranges and the mounting: from the device's own ranges, or from config where a
/// controller reports them wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calibration {
    pub x: (i32, i32),
    pub y: (i32, i32),
    pub rotation: Rotation,
}

/// A finished touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Touch {
    pub point: Point,
    pub held: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Contact {
    slot: i32,
    x: i32,
    y: i32,
    down_at: Instant,
}

#[derive(Debug)]
pub struct TouchDecoder {
    calibration: Calibration,
    panel: Panel,
    slot: i32,
    /// Raw position of the current slot, changed since the last report.
    x: Option<i32>,
    y: Option<i32>,
    /// The finger that counts.
    primary: Option<Contact>,
    /// A contact began or ended in the current slot since the last report.
    down: Option<bool>,
}

impl TouchDecoder {
    pub fn new(calibration: Calibration, panel: Panel) -> Self {
        Self {
            calibration,
            panel,
            slot: 0,
            x: None,
            y: None,
            primary: None,
            down: None,
        }
    }

    /// Feeds one input event; returns a touch when the counting finger lifted.
    pub fn feed(&mut self, kind: u16, code: u16, value: i32, at: Instant) -> Option<Touch> {
        use codes::*;
        match (kind, code) {
            (EV_ABS, ABS_MT_SLOT) => {
                self.commit_position();
                self.slot = value;
            }
            (EV_ABS, ABS_MT_TRACKING_ID) => self.down = Some(value >= 0),
            // Single-touch panels report contact only through BTN_TOUCH.
            (EV_KEY, BTN_TOUCH) if self.slot == 0 && (self.primary.is_none() || value == 0) => {
                self.down = Some(value != 0);
            }
            (EV_ABS, ABS_MT_POSITION_X | ABS_X) => self.x = Some(value),
            (EV_ABS, ABS_MT_POSITION_Y | ABS_Y) => self.y = Some(value),
            (EV_SYN, SYN_REPORT) => return self.report(at),
            _ => {}
        }
        None
    }

    fn commit_position(&mut self) {
        if let Some(contact) = self.primary.as_mut().filter(|c| c.slot == self.slot) {
            contact.x = self.x.take().unwrap_or(contact.x);
            contact.y = self.y.take().unwrap_or(contact.y);
        }
        self.x = None;
        self.y = None;
    }

    fn report(&mut self, at: Instant) -> Option<Touch> {
        let down = self.down.take();
        if down == Some(true) && self.primary.is_none() {
            self.primary = Some(Contact {
                slot: self.slot,
                x: self.x.unwrap_or(0),
                y: self.y.unwrap_or(0),
                down_at: at,
            });
        }
        self.commit_position();
        let lifted = down == Some(false) && self.primary.is_some_and(|c| c.slot == self.slot);
        if !lifted {
            return None;
        }
        let contact = self.primary.take()?;
        Some(Touch {
            point: self.to_panel(contact.x, contact.y),
            held: at.duration_since(contact.down_at),
        })
    }

    /// Raw controller coordinates to panel pixels.
    fn to_panel(&self, x: i32, y: i32) -> Point {
        let norm = |v: i32, (lo, hi): (i32, i32)| {
            if hi <= lo {
                0.0
            } else {
                ((v - lo) as f64 / (hi - lo) as f64).clamp(0.0, 1.0)
            }
        };
        let (u, v) = (norm(x, self.calibration.x), norm(y, self.calibration.y));
        let (px, py) = match self.calibration.rotation {
            Rotation::R0 => (u, v),
            Rotation::R90 => (1.0 - v, u),
            Rotation::R180 => (1.0 - u, 1.0 - v),
            Rotation::R270 => (v, 1.0 - u),
        };
        let scale = |f: f64, size: u32| ((f * size as f64) as i32).min(size as i32 - 1);
        Point::new(scale(px, self.panel.width), scale(py, self.panel.height))
    }
}

#[cfg(test)]
mod tests {
    use super::codes::*;
    use super::*;

    fn decoder(rotation: Rotation) -> TouchDecoder {
        TouchDecoder::new(
            Calibration {
                x: (0, 4095),
                y: (0, 4095),
                rotation,
            },
            Panel::PI_TOUCH,
        )
    }

    /// Feeds `(type, code, value)` events at `ms` milliseconds after `t0`.
    fn feed(
        d: &mut TouchDecoder,
        t0: Instant,
        ms: u64,
        events: &[(u16, u16, i32)],
    ) -> Option<Touch> {
        events
            .iter()
            .filter_map(|&(k, c, v)| d.feed(k, c, v, t0 + Duration::from_millis(ms)))
            .last()
    }

    #[test]
    fn a_multitouch_tap_lands_where_the_finger_lifts() {
        let t0 = Instant::now();
        let mut d = decoder(Rotation::R0);
        let down = [
            (EV_ABS, ABS_MT_SLOT, 0),
            (EV_ABS, ABS_MT_TRACKING_ID, 7),
            (EV_ABS, ABS_MT_POSITION_X, 2048),
            (EV_ABS, ABS_MT_POSITION_Y, 1024),
            (EV_KEY, BTN_TOUCH, 1),
            (EV_SYN, SYN_REPORT, 0),
        ];
        assert_eq!(feed(&mut d, t0, 0, &down), None);
        assert_eq!(
            feed(
                &mut d,
                t0,
                40,
                &[(EV_ABS, ABS_MT_POSITION_X, 2100), (EV_SYN, SYN_REPORT, 0)]
            ),
            None
        );
        let up = [
            (EV_ABS, ABS_MT_TRACKING_ID, -1),
            (EV_KEY, BTN_TOUCH, 0),
            (EV_SYN, SYN_REPORT, 0),
        ];
        let touch = feed(&mut d, t0, 120, &up).expect("a tap");
        assert_eq!(touch.point, Point::new(410, 120));
        assert_eq!(touch.held, Duration::from_millis(120));
    }

    #[test]
    fn a_second_finger_neither_taps_nor_moves_the_first() {
        let t0 = Instant::now();
        let mut d = decoder(Rotation::R0);
        feed(
            &mut d,
            t0,
            0,
            &[
                (EV_ABS, ABS_MT_SLOT, 0),
                (EV_ABS, ABS_MT_TRACKING_ID, 1),
                (EV_ABS, ABS_MT_POSITION_X, 0),
                (EV_ABS, ABS_MT_POSITION_Y, 0),
                (EV_SYN, SYN_REPORT, 0),
            ],
        );
        let second = [
            (EV_ABS, ABS_MT_SLOT, 1),
            (EV_ABS, ABS_MT_TRACKING_ID, 2),
            (EV_ABS, ABS_MT_POSITION_X, 4095),
            (EV_ABS, ABS_MT_POSITION_Y, 4095),
            (EV_SYN, SYN_REPORT, 0),
        ];
        assert_eq!(feed(&mut d, t0, 10, &second), None);
        assert_eq!(
            feed(
                &mut d,
                t0,
                20,
                &[(EV_ABS, ABS_MT_TRACKING_ID, -1), (EV_SYN, SYN_REPORT, 0)]
            ),
            None
        );
        let touch = feed(
            &mut d,
            t0,
            30,
            &[
                (EV_ABS, ABS_MT_SLOT, 0),
                (EV_ABS, ABS_MT_TRACKING_ID, -1),
                (EV_SYN, SYN_REPORT, 0),
            ],
        );
        assert_eq!(touch.map(|t| t.point), Some(Point::new(0, 0)));
    }

    #[test]
    fn single_touch_panels_and_long_presses() {
        let t0 = Instant::now();
        let mut d = decoder(Rotation::R0);
        feed(
            &mut d,
            t0,
            0,
            &[
                (EV_ABS, ABS_X, 4095),
                (EV_ABS, ABS_Y, 4095),
                (EV_KEY, BTN_TOUCH, 1),
                (EV_SYN, SYN_REPORT, 0),
            ],
        );
        let touch = feed(
            &mut d,
            t0,
            2000,
            &[(EV_KEY, BTN_TOUCH, 0), (EV_SYN, SYN_REPORT, 0)],
        )
        .unwrap();
        assert_eq!(
            touch.point,
            Point::new(799, 479),
            "clamped to the last pixel"
        );
        assert_eq!(touch.held, Duration::from_secs(2));
    }

    #[test]
    fn rotation_maps_the_controller_axes_onto_the_panel() {
        let t0 = Instant::now();
        let tap = |rotation, x, y| {
            let mut d = decoder(rotation);
            feed(
                &mut d,
                t0,
                0,
                &[
                    (EV_ABS, ABS_X, x),
                    (EV_ABS, ABS_Y, y),
                    (EV_KEY, BTN_TOUCH, 1),
                    (EV_SYN, SYN_REPORT, 0),
                ],
            );
            feed(
                &mut d,
                t0,
                50,
                &[(EV_KEY, BTN_TOUCH, 0), (EV_SYN, SYN_REPORT, 0)],
            )
            .unwrap()
            .point
        };
        // The controller's top-left corner.
        assert_eq!(tap(Rotation::R0, 0, 0), Point::new(0, 0));
        assert_eq!(tap(Rotation::R90, 0, 0), Point::new(799, 0));
        assert_eq!(tap(Rotation::R180, 0, 0), Point::new(799, 479));
        assert_eq!(tap(Rotation::R270, 0, 0), Point::new(0, 479));
    }
}
