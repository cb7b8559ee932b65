//! The touchscreen: what each screen shows ([`view`]), where things go ([`layout`]), and how it
//! is painted ([`draw`]) with embedded-graphics. All of it is pure: no I/O, no clock, no
//! GStreamer, so every screen can be rendered and tested without a display. Whoever shows or
//! stores a [`Frame`] (the daemon, `kioskd --render-screens`) does so outside this module.

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
