//! The touch panels a kiosk may have, and their physical scale: layouts size touch targets in
//! millimetres, not pixels, so a button is as easy to hit on a dense panel as on a coarse one.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Panel {
    pub width: u32,
    pub height: u32,
    /// The visible diagonal in inches.
    pub diagonal_in: f32,
}

/// The smallest touch target we draw, in millimetres (a fingertip, with some margin for hands that
/// shake).
pub const MIN_TARGET_MM: f32 = 9.0;

impl Panel {
    /// Raspberry Pi Touch Display (7", 800×480).
    pub const PI_TOUCH: Self = Self {
        width: 800,
        height: 480,
        diagonal_in: 7.0,
    };
    /// Raspberry Pi Touch Display 2 (7", 720×1280, portrait).
    pub const PI_TOUCH_2: Self = Self {
        width: 720,
        height: 1280,
        diagonal_in: 7.0,
    };
    /// Common 7" HDMI panels.
    pub const HDMI_7: Self = Self {
        width: 1024,
        height: 600,
        diagonal_in: 7.0,
    };
    /// Common 10.1" panels.
    pub const HDMI_10: Self = Self {
        width: 1280,
        height: 800,
        diagonal_in: 10.1,
    };

    /// The largest 16:9 picture the panel shows (even sizes, as video encoders want them).
    pub fn largest_16_9(&self) -> (u32, u32) {
        let width = self.width.min(self.height * 16 / 9) & !1;
        (width, (width * 9 / 16) & !1)
    }

    pub const ALL: [Self; 4] = [
        Self::PI_TOUCH,
        Self::PI_TOUCH_2,
        Self::HDMI_7,
        Self::HDMI_10,
    ];

    /// A panel of the given size; the known sizes get their real diagonal, others 7".
    pub fn of_size(width: u32, height: u32) -> Self {
        Self::ALL
            .into_iter()
            .find(|p| p.width == width && p.height == height)
            .unwrap_or(Self {
                width,
                height,
                diagonal_in: 7.0,
            })
    }

    /// Parses `800x480`.
    pub fn parse(text: &str) -> Option<Self> {
        let (w, h) = text.split_once('x')?;
        let (w, h) = (w.parse().ok()?, h.parse().ok()?);
        ((320..=3840).contains(&w) && (320..=3840).contains(&h)).then(|| Self::of_size(w, h))
    }

    pub fn px_per_mm(&self) -> f32 {
        let diagonal_px = ((self.width as f32).powi(2) + (self.height as f32).powi(2)).sqrt();
        diagonal_px / (self.diagonal_in * 25.4)
    }

    /// `mm` millimetres in pixels, rounded up.
    pub fn mm(&self, mm: f32) -> u32 {
        (mm * self.px_per_mm()).ceil() as u32
    }

    pub fn is_portrait(&self) -> bool {
        self.height > self.width
    }

    pub fn short_side(&self) -> u32 {
        self.width.min(self.height)
    }
}

impl fmt::Display for Panel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_picture_fits_the_panel() {
        assert_eq!(Panel::PI_TOUCH.largest_16_9(), (800, 450));
        assert_eq!(Panel::PI_TOUCH_2.largest_16_9(), (720, 404));
    }

    #[test]
    fn nine_millimetres_on_the_pi_panels() {
        assert_eq!(Panel::PI_TOUCH.mm(MIN_TARGET_MM), 48);
        assert_eq!(Panel::PI_TOUCH_2.mm(MIN_TARGET_MM), 75);
        assert_eq!(Panel::parse("720x1280"), Some(Panel::PI_TOUCH_2));
        assert_eq!(Panel::parse("640x480").unwrap().diagonal_in, 7.0);
        assert_eq!(Panel::parse("800"), None);
    }
}
