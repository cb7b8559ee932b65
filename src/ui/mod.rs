//! The touchscreen: what each screen shows ([`view`]), where things go ([`layout`]), and how it
//! is painted ([`draw`]) with embedded-graphics. All of it is pure: no I/O, no clock, no
//! GStreamer, so every screen can be rendered and tested without a display.

pub mod clock;
pub mod draw;
pub mod font;
pub mod frame;
pub mod gallery;
pub mod layout;
pub mod panel;
pub mod quality;
pub mod state;
pub mod text;
pub mod touch;
pub mod view;

#[cfg(test)]
mod tests;

pub use frame::Frame;
pub use panel::Panel;
pub use text::Locale;
pub use view::ViewModel;

/// Renders `view` into a new frame of `panel`'s size.
pub fn render(view: &ViewModel, panel: &Panel) -> Frame {
    let mut frame = Frame::new(panel.width, panel.height);
    match draw::draw(view, panel, &mut frame) {
        Ok(_) => frame,
        Err(never) => match never {},
    }
}

/// Writes a PNG of every screen and state to `dir` (`kioskd --render-screens`). Returns the files.
pub fn render_screens(
    dir: &std::path::Path,
    panel: &Panel,
    locale: Locale,
) -> std::io::Result<Vec<std::path::PathBuf>> {
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
