//! Paints a [`Layout`]. Pure drawing into any `DrawTarget`: no I/O, no clock, no state.

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{
    PrimitiveStyle, PrimitiveStyleBuilder, Rectangle, RoundedRectangle,
};
use u8g2_fonts::types::{FontColor, HorizontalAlignment, VerticalPosition};

use super::font::{renderer, wrap};
use super::frame::Frame;
use super::layout::{Align, Backdrop, Button, Ink, Label, Layout, Slot, TextSize, Tone, layout};
use super::panel::Panel;
use super::view::{Quality, ViewModel};

/// The colours. Text on every fill has a contrast ratio of at least 7:1 (WCAG AAA).
pub mod palette {
    use embedded_graphics::pixelcolor::Rgb888;

    pub const PAPER: Rgb888 = Rgb888::new(0xF7, 0xF6, 0xF2);
    pub const NIGHT: Rgb888 = Rgb888::new(0x12, 0x12, 0x14);
    pub const INK: Rgb888 = Rgb888::new(0x12, 0x12, 0x12);
    pub const MUTED: Rgb888 = Rgb888::new(0x40, 0x40, 0x40);
    pub const ALERT: Rgb888 = Rgb888::new(0x9E, 0x00, 0x1C);
    pub const WHITE: Rgb888 = Rgb888::new(0xFF, 0xFF, 0xFF);
    pub const PRIMARY: Rgb888 = Rgb888::new(0x0A, 0x3D, 0x7A);
    pub const AGREE: Rgb888 = Rgb888::new(0x14, 0x50, 0x1A);
    pub const DANGER: Rgb888 = Rgb888::new(0x9E, 0x00, 0x1C);
    pub const SECONDARY: Rgb888 = Rgb888::new(0xDE, 0xDE, 0xDA);
    pub const KEY: Rgb888 = Rgb888::new(0xFF, 0xFF, 0xFF);
    pub const EDGE: Rgb888 = Rgb888::new(0x30, 0x30, 0x30);
    pub const VIDEO_PLACEHOLDER: Rgb888 = Rgb888::new(0x2A, 0x2E, 0x33);
    pub const GOOD: Rgb888 = Rgb888::new(0x2E, 0xA0, 0x43);
    pub const FAIR: Rgb888 = Rgb888::new(0xE0, 0xA0, 0x00);
    pub const POOR: Rgb888 = Rgb888::new(0xE0, 0x30, 0x30);
}

use palette::*;

/// Lays out and draws `view` on a target of `panel`'s size. Video slots are painted as
/// placeholders; the composition clears them so the picture shows through.
pub fn draw<D: DrawTarget<Color = Rgb888>>(
    view: &ViewModel,
    panel: &Panel,
    target: &mut D,
) -> Result<Layout, D::Error> {
    let layout = layout(view, panel);
    paint(&layout, panel, target)?;
    Ok(layout)
}

/// Paints a layout made earlier (the screen keeps it for hit-testing touches).
pub fn paint<D: DrawTarget<Color = Rgb888>>(
    layout: &Layout,
    panel: &Panel,
    target: &mut D,
) -> Result<(), D::Error> {
    paint_backdrop(layout, target)?;
    for (_, rect) in &layout.video {
        rect.into_styled(PrimitiveStyle::with_fill(VIDEO_PLACEHOLDER))
            .draw(target)?;
    }
    paint_content(layout, panel, target)
}

/// Paints the UI layer for the screen composition: where video shows, the layer stays
/// transparent, and everything drawn over the video (time, quality, buttons) stays.
pub fn paint_layer(layout: &Layout, panel: &Panel, frame: &mut Frame) {
    let Ok(()) = paint_backdrop(layout, frame);
    for (_, rect) in &layout.video {
        frame.clear_area(rect);
    }
    let Ok(()) = paint_content(layout, panel, frame);
}

fn paint_backdrop<D: DrawTarget<Color = Rgb888>>(
    layout: &Layout,
    target: &mut D,
) -> Result<(), D::Error> {
    let dark = layout.backdrop == Some(Backdrop::Dark);
    target.clear(if dark { NIGHT } else { PAPER })
}

/// Everything above the backdrop and the video.
fn paint_content<D: DrawTarget<Color = Rgb888>>(
    layout: &Layout,
    panel: &Panel,
    target: &mut D,
) -> Result<(), D::Error> {
    for (slot, rect) in &layout.video {
        if *slot == Slot::SelfView {
            rect.into_styled(PrimitiveStyle::with_stroke(WHITE, 2))
                .draw(target)?;
        }
    }
    let boxed = PrimitiveStyleBuilder::new()
        .fill_color(WHITE)
        .stroke_color(EDGE)
        .stroke_width(2)
        .build();
    for rect in &layout.boxes {
        RoundedRectangle::with_equal_corners(*rect, Size::new(8, 8))
            .into_styled(boxed)
            .draw(target)?;
    }
    if let Some((rect, quality)) = layout.quality {
        draw_quality(rect, quality, target)?;
    }
    if let Some((rect, level)) = layout.meter {
        rect.into_styled(PrimitiveStyle::with_stroke(EDGE, 2))
            .draw(target)?;
        let filled = Rectangle::new(
            rect.top_left,
            Size::new((rect.size.width as f32 * level) as u32, rect.size.height),
        );
        filled
            .into_styled(PrimitiveStyle::with_fill(GOOD))
            .draw(target)?;
    }
    for label in &layout.labels {
        draw_label(label, panel, target)?;
    }
    for button in &layout.buttons {
        draw_button(button, panel, target)?;
    }
    Ok(())
}

fn ink(ink: Ink) -> Rgb888 {
    match ink {
        Ink::Normal => INK,
        Ink::Muted => MUTED,
        Ink::Alert => ALERT,
        Ink::OnDark => WHITE,
    }
}

/// Draws wrapped text in `rect`. Text that cannot fit is drawn cut rather than not at all; the
/// layout tests make sure that never happens on the panels we support.
fn draw_text<D: DrawTarget<Color = Rgb888>>(
    text: &str,
    rect: Rectangle,
    size: TextSize,
    color: Rgb888,
    align: Align,
    panel: &Panel,
    target: &mut D,
) -> Result<(), D::Error> {
    let font = renderer(size, panel).with_ignore_unknown_chars(true);
    let lines = wrap(&font, text, rect.size.width, rect.size.height)
        .unwrap_or_else(|_| vec![text.to_string()]);
    let line_height = font.get_default_line_height() as i32;
    let block = line_height * lines.len() as i32;
    let top = rect.top_left.y + (rect.size.height as i32 - block) / 2;
    for (i, line) in lines.iter().enumerate() {
        let y = top + i as i32 * line_height + line_height / 2;
        let (x, h) = match align {
            Align::Left => (rect.top_left.x, HorizontalAlignment::Left),
            Align::Center => (rect.center().x, HorizontalAlignment::Center),
        };
        let mut clipped = target.clipped(&rect);
        let drawn = font.render_aligned(
            line.as_str(),
            Point::new(x, y),
            VerticalPosition::Center,
            h,
            FontColor::Transparent(color),
            &mut clipped,
        );
        if let Err(u8g2_fonts::Error::DisplayError(e)) = drawn {
            return Err(e);
        }
    }
    Ok(())
}

fn draw_label<D: DrawTarget<Color = Rgb888>>(
    label: &Label,
    panel: &Panel,
    target: &mut D,
) -> Result<(), D::Error> {
    draw_text(
        &label.text,
        label.rect,
        label.size,
        ink(label.ink),
        label.align,
        panel,
        target,
    )
}

fn draw_button<D: DrawTarget<Color = Rgb888>>(
    button: &Button,
    panel: &Panel,
    target: &mut D,
) -> Result<(), D::Error> {
    let (fill, text_color) = match button.tone {
        Tone::Primary => (Some(PRIMARY), WHITE),
        Tone::Agree => (Some(AGREE), WHITE),
        Tone::Danger => (Some(DANGER), WHITE),
        Tone::Secondary => (Some(SECONDARY), INK),
        Tone::Key => (Some(KEY), INK),
        Tone::Plain => (None, INK),
    };
    if let Some(fill) = fill {
        let style = PrimitiveStyleBuilder::new()
            .fill_color(fill)
            .stroke_color(EDGE)
            .stroke_width(2)
            .build();
        RoundedRectangle::with_equal_corners(button.rect, Size::new(10, 10))
            .into_styled(style)
            .draw(target)?;
    }
    let align = if button.tone == Tone::Plain {
        Align::Left
    } else {
        Align::Center
    };
    let inner = super::layout::inset(button.rect, super::layout::BUTTON_PADDING);
    draw_text(
        &button.label,
        inner,
        button.size,
        text_color,
        align,
        panel,
        target,
    )
}

fn draw_quality<D: DrawTarget<Color = Rgb888>>(
    rect: Rectangle,
    quality: Quality,
    target: &mut D,
) -> Result<(), D::Error> {
    let (bars, color) = match quality {
        Quality::Good => (3, GOOD),
        Quality::Fair => (2, FAIR),
        Quality::Poor => (1, POOR),
    };
    let h = rect.size.height as i32;
    let bar_w = (h / 4).max(4);
    for i in 0..3 {
        let bar_h = h * (i + 1) / 3;
        let bar = Rectangle::new(
            rect.top_left + Point::new(i * (bar_w + 4), h - bar_h),
            Size::new(bar_w as u32, bar_h as u32),
        );
        let style = if i < bars {
            PrimitiveStyle::with_fill(color)
        } else {
            PrimitiveStyle::with_stroke(WHITE, 1)
        };
        bar.into_styled(style).draw(target)?;
    }
    Ok(())
}
