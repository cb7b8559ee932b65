//! The numeric keypad and the on-screen keyboard (German letters, umlauts and ß).

use embedded_graphics::primitives::Rectangle;

use embedded_graphics::prelude::Size;

use super::{Layout, Metrics, Press, Tone, columns, rows};
use crate::ui::text::{Locale, Msg, text};

/// 1–9, then Delete, 0, Cancel: the telephone layout older people know.
pub(super) fn keypad(out: &mut Layout, area: Rectangle, m: &Metrics, locale: Locale) {
    let keys: [(String, Press, Tone); 12] = [
        ("1".into(), Press::Digit(1), Tone::Key),
        ("2".into(), Press::Digit(2), Tone::Key),
        ("3".into(), Press::Digit(3), Tone::Key),
        ("4".into(), Press::Digit(4), Tone::Key),
        ("5".into(), Press::Digit(5), Tone::Key),
        ("6".into(), Press::Digit(6), Tone::Key),
        ("7".into(), Press::Digit(7), Tone::Key),
        ("8".into(), Press::Digit(8), Tone::Key),
        ("9".into(), Press::Digit(9), Tone::Key),
        (
            text(locale, Msg::Delete).into(),
            Press::Delete,
            Tone::Secondary,
        ),
        ("0".into(), Press::Digit(0), Tone::Key),
        (
            text(locale, Msg::Cancel).into(),
            Press::Cancel,
            Tone::Secondary,
        ),
    ];
    let cells = rows(area, 4, m.gap)
        .into_iter()
        .flat_map(|row| columns(row, 3, m.gap));
    for (cell, (label, press, tone)) in cells.zip(keys) {
        out.button(m, cell, label, press, tone);
    }
}

/// QWERTZ rows where the panel is wide enough, alphabetical rows of fewer keys where it is not
/// (portrait), so every key keeps its minimum size. The last row holds Shift, space and Delete.
pub(super) fn keyboard(
    out: &mut Layout,
    area: Rectangle,
    m: &Metrics,
    shift: bool,
    locale: Locale,
) {
    const QWERTZ: [&str; 4] = ["1234567890ß", "qwertzuiopü", "asdfghjklöä", "yxcvbnm-'."];
    const ALPHABETIC: [&str; 5] = ["abcdefg", "hijklmn", "opqrstu", "vwxyzäö", "üß-'."];
    let gap = m.gap / 2;
    let wide = (area.size.width - 10 * gap as u32) / 11 >= m.min_target;
    let letter_rows: &[&str] = if wide { &QWERTZ } else { &ALPHABETIC };
    let mut all_rows = rows(area, letter_rows.len() as u32 + 1, gap);
    let bottom = all_rows.pop().expect("at least one row");
    let width = letter_rows
        .iter()
        .map(|r| r.chars().count())
        .max()
        .unwrap_or(1) as u32;
    for (row, keys) in all_rows.into_iter().zip(letter_rows) {
        for (cell, key) in columns(row, width, gap).into_iter().zip(keys.chars()) {
            let shown = if shift {
                key.to_uppercase().next().unwrap_or(key)
            } else {
                key
            };
            out.button(m, cell, shown.to_string(), Press::Key(shown), Tone::Key);
        }
    }
    let [shift_cell, space_a, space_b, delete]: [Rectangle; 4] =
        columns(bottom, 4, gap).try_into().expect("four columns");
    let space = Rectangle::new(
        space_a.top_left,
        Size::new(
            space_b.top_left.x as u32 + space_b.size.width - space_a.top_left.x as u32,
            space_a.size.height,
        ),
    );
    out.button(
        m,
        shift_cell,
        if shift { "abc" } else { "ABC" },
        Press::Shift,
        Tone::Secondary,
    );
    out.button(
        m,
        space,
        text(locale, Msg::Space),
        Press::Key(' '),
        Tone::Key,
    );
    out.button(
        m,
        delete,
        text(locale, Msg::Delete),
        Press::Delete,
        Tone::Secondary,
    );
}
