//! `kioskd --render-screens`: every screen of the UI's gallery as a PNG file, for the README and
//! for reviewing layouts without a kiosk.

use std::path::{Path, PathBuf};

use crate::ui::{Locale, Panel, gallery, render};

/// Writes a PNG of every screen and state to `dir` (`kioskd --render-screens`). Returns the files.
pub fn render_screens(dir: &Path, panel: &Panel, locale: Locale) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (name, view) in gallery::gallery(locale) {
        let path = dir.join(format!(
            "{name}-{}-{panel}.png",
            match locale {
                Locale::De => "de",
                Locale::En => "en",
            }
        ));
        std::fs::write(&path, render(&view, panel).to_png())?;
        written.push(path);
    }
    Ok(written)
}
