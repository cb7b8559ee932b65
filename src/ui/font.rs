//! Type: which font each text size uses on a panel, and word wrapping by measured width.
//! The fonts (u8g2's FreeUniversal) cover Latin-1, so German umlauts and ß are there.

use embedded_graphics::prelude::Point;
use u8g2_fonts::FontRenderer;
use u8g2_fonts::fonts;
use u8g2_fonts::types::VerticalPosition;

use super::layout::TextSize;
use super::panel::Panel;

/// The font for `size`: large type everywhere, larger on larger panels.
pub fn renderer(size: TextSize, panel: &Panel) -> FontRenderer {
    let large = panel.short_side() > 480;
    match (size, large) {
        (TextSize::Small, false) => FontRenderer::new::<fonts::u8g2_font_fur14_tf>(),
        (TextSize::Body, false) => FontRenderer::new::<fonts::u8g2_font_fur20_tf>(),
        (TextSize::Title, false) => FontRenderer::new::<fonts::u8g2_font_fub25_tf>(),
        // Huge is the room name on the identify screen, read from across the room: the
        // largest face with umlauts on every panel, clearly bigger than Title.
        (TextSize::Huge, false) => FontRenderer::new::<fonts::u8g2_font_fub42_tf>(),
        (TextSize::Small, true) => FontRenderer::new::<fonts::u8g2_font_fur20_tf>(),
        (TextSize::Body, true) => FontRenderer::new::<fonts::u8g2_font_fur25_tf>(),
        (TextSize::Title, true) => FontRenderer::new::<fonts::u8g2_font_fub30_tf>(),
        (TextSize::Huge, true) => FontRenderer::new::<fonts::u8g2_font_fub42_tf>(),
    }
}

/// Why a text does not fit its box.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Overflow {
    #[error("{0:?} has a character the font lacks")]
    Glyph(String),
    #[error("the word {0:?} is wider than its box")]
    Word(String),
    #[error("{lines} lines of {line_height} px need more than the box's {height} px")]
    Height {
        lines: usize,
        line_height: u32,
        height: u32,
    },
}

pub fn width_of(font: &FontRenderer, text: &str) -> Result<u32, Overflow> {
    font.get_rendered_dimensions(text, Point::zero(), VerticalPosition::Baseline)
        .map(|d| d.advance.x.max(0) as u32)
        .map_err(|_| Overflow::Glyph(text.to_string()))
}

/// Breaks `text` into lines no wider than `width`, at spaces and existing line breaks.
pub fn wrap(
    font: &FontRenderer,
    text: &str,
    width: u32,
    height: u32,
) -> Result<Vec<String>, Overflow> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split(' ').filter(|w| !w.is_empty()) {
            if width_of(font, word)? > width {
                return Err(Overflow::Word(word.to_string()));
            }
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if width_of(font, &candidate)? <= width {
                line = candidate;
            } else {
                lines.push(std::mem::replace(&mut line, word.to_string()));
            }
        }
        lines.push(line);
    }
    let line_height = font.get_default_line_height();
    let needed = line_height * lines.len() as u32;
    if needed > height {
        return Err(Overflow::Height {
            lines: lines.len(),
            line_height,
            height,
        });
    }
    Ok(lines)
}
