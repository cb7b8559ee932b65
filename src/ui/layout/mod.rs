//! Where everything on a screen goes, as plain data: labels, buttons with what a press on them asks for,
//! and the slots where video shows through. Drawing paints a [`Layout`]; touch input hit-tests the
//! same [`Layout`], so what is drawn is exactly what can be touched.
//!
//! Sizes are physical: touch targets are at least [`MIN_TARGET_MM`] on every panel.

mod call;
mod keys;
mod screens;

use embedded_graphics::prelude::{Point, Size};
use embedded_graphics::primitives::Rectangle;

use super::font::{renderer, wrap};
use super::panel::{MIN_TARGET_MM, Panel};
use super::view::{Quality, ViewModel};

/// What a touch on a button asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Press {
    StartCode,
    ToggleLanguage,
    /// A long press on the room name opens the staff check.
    StaffLongPress,
    Digit(u8),
    Delete,
    Cancel,
    Key(char),
    Shift,
    ConfirmName,
    Agree,
    ToggleMute,
    ToggleCamera,
    HangUp,
    ConfirmHangUp,
    KeepTalking,
    BackToStart,
    SpeakerTest,
}

/// How a button looks; each tone has high contrast between text and fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Primary,
    Secondary,
    Agree,
    Danger,
    Key,
    /// Text only, no fill (the room name, which hides the staff check).
    Plain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextSize {
    Small,
    Body,
    Title,
    Huge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ink {
    Normal,
    Muted,
    Alert,
    /// Light text on the dark call screen.
    OnDark,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub rect: Rectangle,
    pub text: String,
    pub size: TextSize,
    pub ink: Ink,
    pub align: Align,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Button {
    pub rect: Rectangle,
    pub label: String,
    /// The label's type size; drawing and the overflow tests both take it from here.
    pub size: TextSize,
    pub press: Press,
    pub tone: Tone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    RemoteVideo,
    SelfView,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backdrop {
    Light,
    /// The call: dark, so the picture stands out.
    Dark,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Layout {
    pub backdrop: Option<Backdrop>,
    /// Panels drawn behind labels (the dialog box, the code field).
    pub boxes: Vec<Rectangle>,
    pub labels: Vec<Label>,
    pub buttons: Vec<Button>,
    pub video: Vec<(Slot, Rectangle)>,
    pub quality: Option<(Rectangle, Quality)>,
    /// A level meter (the microphone in the staff check), 0.0 to 1.0.
    pub meter: Option<(Rectangle, f32)>,
}

impl Layout {
    /// What the topmost button under `point` asks for.
    pub fn hit(&self, point: Point) -> Option<Press> {
        self.buttons
            .iter()
            .rev()
            .find(|b| b.rect.contains(point))
            .map(|b| b.press)
    }

    fn label(
        &mut self,
        rect: Rectangle,
        text: impl Into<String>,
        size: TextSize,
        ink: Ink,
        align: Align,
    ) {
        self.labels.push(Label {
            rect,
            text: text.into(),
            size,
            ink,
            align,
        });
    }

    /// Adds a button. Its label takes the tone's type size, or Body where that does not fit: large
    /// type always, the largest the button holds.
    fn button(
        &mut self,
        m: &Metrics,
        rect: Rectangle,
        label: impl Into<String>,
        press: Press,
        tone: Tone,
    ) {
        let label = label.into();
        let preferred = match tone {
            Tone::Secondary => TextSize::Body,
            _ => TextSize::Title,
        };
        let inner = inset(rect, BUTTON_PADDING);
        let fits = |size| {
            wrap(
                &renderer(size, &m.panel),
                &label,
                inner.size.width,
                inner.size.height,
            )
            .is_ok()
        };
        let size = if fits(preferred) {
            preferred
        } else {
            TextSize::Body
        };
        self.buttons.push(Button {
            rect,
            label,
            size,
            press,
            tone,
        });
    }

    /// One label in the largest of `sizes` (largest first) that `rect` holds; the smallest if
    /// none does, and the overflow tests say so. For texts the layout does not know in advance.
    fn fitted(
        &mut self,
        m: &Metrics,
        rect: Rectangle,
        text: &str,
        sizes: &[TextSize],
        ink: Ink,
        align: Align,
    ) {
        let fits = |size: &&TextSize| {
            wrap(
                &renderer(**size, &m.panel),
                text,
                rect.size.width,
                rect.size.height,
            )
            .is_ok()
        };
        let size = sizes
            .iter()
            .find(fits)
            .or(sizes.last())
            .copied()
            .unwrap_or(TextSize::Small);
        self.label(rect, text, size, ink, align);
    }

    /// Stacks paragraphs top to bottom in `area`, each as tall as its wrapped lines, with the
    /// space left spread between them. Falls back to smaller type only if `size` cannot fit.
    fn stack(&mut self, m: &Metrics, area: Rectangle, items: &[String], size: TextSize, ink: Ink) {
        let sizes = [size, TextSize::Body, TextSize::Small];
        let start = sizes.iter().position(|s| *s == size).unwrap_or(0);
        for (i, size) in sizes[start..].iter().enumerate() {
            let font = renderer(*size, &m.panel);
            let line = font.get_default_line_height();
            let heights: Option<Vec<u32>> = items
                .iter()
                .map(|t| {
                    wrap(&font, t, area.size.width, u32::MAX)
                        .ok()
                        .map(|l| l.len() as u32 * line)
                })
                .collect();
            let last = i == sizes.len() - start - 1;
            let Some(heights) = heights else { continue };
            let total: u32 = heights.iter().sum();
            if total > area.size.height && !last {
                continue;
            }
            let spare = area.size.height.saturating_sub(total) / (items.len() as u32).max(1);
            let mut y = area.top_left.y;
            for (text, h) in items.iter().zip(heights) {
                let rect = Rectangle::new(
                    Point::new(area.top_left.x, y),
                    Size::new(area.size.width, h),
                );
                self.label(rect, text.clone(), *size, ink, Align::Left);
                y += (h + spare) as i32;
            }
            return;
        }
    }
}

/// Space between a button's edge and its label.
pub const BUTTON_PADDING: i32 = 4;

/// The height of one line of `size` on this panel.
fn line_height(m: &Metrics, size: TextSize) -> u32 {
    renderer(size, &m.panel).get_default_line_height()
}

/// How tall `text` is in `size` when wrapped to `width` (one line if a word is too wide: the
/// overflow tests catch that).
fn text_height(m: &Metrics, size: TextSize, text: &str, width: u32) -> u32 {
    let font = renderer(size, &m.panel);
    let lines = wrap(&font, text, width, u32::MAX).map_or(1, |l| l.len() as u32);
    lines * font.get_default_line_height()
}

/// Lays out `view` for `panel`.
pub fn layout(view: &ViewModel, panel: &Panel) -> Layout {
    screens::layout(view, &Metrics::new(panel))
}

/// The physical measures of one panel, in pixels.
#[derive(Debug, Clone, Copy)]
struct Metrics {
    panel: Panel,
    /// Outer margin and gaps.
    gap: i32,
    /// Height of a normal button (comfortably above the minimum).
    button: u32,
    /// The smallest target allowed.
    min_target: u32,
}

impl Metrics {
    fn new(panel: &Panel) -> Self {
        Self {
            panel: *panel,
            gap: panel.mm(2.5) as i32,
            button: panel.mm(13.0),
            min_target: panel.mm(MIN_TARGET_MM),
        }
    }

    fn screen(&self) -> Rectangle {
        Rectangle::new(
            Point::zero(),
            Size::new(self.panel.width, self.panel.height),
        )
    }

    /// The screen less the outer margin.
    fn content(&self) -> Rectangle {
        inset(self.screen(), self.gap)
    }
}

pub(crate) fn inset(r: Rectangle, by: i32) -> Rectangle {
    let w = (r.size.width as i32 - 2 * by).max(0) as u32;
    let h = (r.size.height as i32 - 2 * by).max(0) as u32;
    Rectangle::new(r.top_left + Point::new(by, by), Size::new(w, h))
}

/// Cuts `height` off the top of `r`; returns (top, rest below a gap).
fn take_top(r: Rectangle, height: u32, gap: i32) -> (Rectangle, Rectangle) {
    let height = height.min(r.size.height);
    let top = Rectangle::new(r.top_left, Size::new(r.size.width, height));
    let rest_h = (r.size.height as i32 - height as i32 - gap).max(0) as u32;
    let rest = Rectangle::new(
        r.top_left + Point::new(0, height as i32 + gap),
        Size::new(r.size.width, rest_h),
    );
    (top, rest)
}

/// Cuts `height` off the bottom of `r`; returns (rest above a gap, bottom).
fn take_bottom(r: Rectangle, height: u32, gap: i32) -> (Rectangle, Rectangle) {
    let height = height.min(r.size.height);
    let rest_h = (r.size.height as i32 - height as i32 - gap).max(0) as u32;
    let rest = Rectangle::new(r.top_left, Size::new(r.size.width, rest_h));
    let bottom = Rectangle::new(
        r.top_left + Point::new(0, (r.size.height - height) as i32),
        Size::new(r.size.width, height),
    );
    (rest, bottom)
}

/// Splits `r` into `n` equal columns with `gap` between them.
fn columns(r: Rectangle, n: u32, gap: i32) -> Vec<Rectangle> {
    let total_gap = gap * (n as i32 - 1);
    let w = ((r.size.width as i32 - total_gap).max(0) as u32) / n;
    (0..n)
        .map(|i| {
            Rectangle::new(
                r.top_left + Point::new(i as i32 * (w as i32 + gap), 0),
                Size::new(w, r.size.height),
            )
        })
        .collect()
}

/// Splits `r` into `n` equal rows with `gap` between them: columns of the transposed rectangle.
fn rows(r: Rectangle, n: u32, gap: i32) -> Vec<Rectangle> {
    columns(transpose(r), n, gap)
        .into_iter()
        .map(transpose)
        .collect()
}

/// Swaps x and y, so one splitting function serves both directions.
fn transpose(r: Rectangle) -> Rectangle {
    Rectangle::new(
        Point::new(r.top_left.y, r.top_left.x),
        Size::new(r.size.height, r.size.width),
    )
}

/// Splits `r` side by side: the left part gets `left_share` of the width.
fn split_h(r: Rectangle, left_share: f32, gap: i32) -> (Rectangle, Rectangle) {
    let left_w = ((r.size.width as i32 - gap) as f32 * left_share) as u32;
    let right_w = (r.size.width as i32 - gap - left_w as i32).max(0) as u32;
    (
        Rectangle::new(r.top_left, Size::new(left_w, r.size.height)),
        Rectangle::new(
            r.top_left + Point::new(left_w as i32 + gap, 0),
            Size::new(right_w, r.size.height),
        ),
    )
}
