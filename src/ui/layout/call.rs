//! The waiting room and the call screen: the doctor's picture with the self-view, the call's
//! time and quality, a notice about the connection when there is one, and the call's controls.

use embedded_graphics::prelude::{Point, Size};
use embedded_graphics::primitives::Rectangle;

use super::screens::{fit_16_9, title};
use super::{
    Align, Backdrop, Ink, Layout, Metrics, Press, Slot, TextSize, Tone, columns, inset, split_h,
    take_bottom, take_top,
};
use crate::ui::text::{self, Locale, Msg, text};
use crate::ui::view::{CallNotice, CallView, Quality};

/// The waiting room: the patient sees themself as the doctor will.
pub(super) fn waiting(out: &mut Layout, m: &Metrics, l: Locale, doctor: &str) {
    let items = [
        text::with_doctor(l, doctor),
        text(l, Msg::WaitingBody).to_string(),
    ];
    let texts = (text(l, Msg::WaitingTitle), text(l, Msg::Cancel));
    beside_self_view(out, m, texts, &items, TextSize::Title);
}

/// The fleet's test call: the kiosk's own picture, so whoever is in the room sees what is
/// sent, the time left, and a way out.
pub(super) fn test_call(out: &mut Layout, m: &Metrics, l: Locale, left_s: u64) {
    let items = [
        text(l, Msg::TestCallBody).to_string(),
        text::test_call_left(l, left_s),
    ];
    let texts = (text(l, Msg::TestCallTitle), text(l, Msg::TestCallEnd));
    beside_self_view(out, m, texts, &items, TextSize::Body);
}

/// A title, `items` beside the kiosk's own picture (above it on a portrait panel), and one
/// button that leaves: `(title, button)`.
fn beside_self_view(
    out: &mut Layout,
    m: &Metrics,
    (heading, leave): (&str, &str),
    items: &[String],
    size: TextSize,
) {
    let rest = title(out, m, m.content(), heading);
    let (body, bottom) = take_bottom(rest, m.button, m.gap);
    let (words, preview) = if m.panel.is_portrait() {
        take_top(body, body.size.height / 3, m.gap)
    } else {
        split_h(body, 0.5, m.gap * 2)
    };
    out.stack(m, words, items, size, Ink::Normal);
    out.video.push((Slot::SelfView, fit_16_9(preview)));
    let (_, button) = split_h(bottom, 0.6, m.gap);
    out.button(m, button, leave, Press::Cancel, Tone::Secondary);
}

pub(super) fn in_call(out: &mut Layout, m: &Metrics, l: Locale, call: &CallView) {
    let CallView {
        duration_s,
        muted,
        camera_off,
        quality,
        confirm_hang_up: confirm,
        notice,
        security_code,
    } = *call;
    out.backdrop = Some(Backdrop::Dark);
    let screen = m.screen();
    let (picture, bar) = take_bottom(screen, m.button + 2 * m.gap as u32, 0);
    out.video.push((Slot::RemoteVideo, picture));
    let pip_w = (screen.size.width / 4).max(m.min_target * 2);
    let pip = Rectangle::new(
        Point::new(screen.size.width as i32 - pip_w as i32 - m.gap, m.gap),
        Size::new(pip_w, pip_w * 9 / 16),
    );
    out.video.push((Slot::SelfView, pip));
    let (status, _) = take_top(inset(picture, m.gap), m.button, 0);
    // The status row runs from the left edge to the self-view.
    let info = Rectangle::new(
        status.top_left,
        Size::new(
            status.size.width.saturating_sub(pip_w + m.gap as u32),
            status.size.height,
        ),
    );
    let (time, quality_area) = split_h(info, 0.35, m.gap);
    out.label(
        time,
        text::duration(duration_s),
        TextSize::Title,
        Ink::OnDark,
        Align::Left,
    );
    let bars_w = quality_area.size.height * 3 / 4 + 8;
    let bars = Rectangle::new(
        quality_area.top_left,
        Size::new(bars_w, quality_area.size.height),
    );
    let words = Rectangle::new(
        quality_area.top_left + Point::new(bars_w as i32 + m.gap, 0),
        Size::new(
            quality_area
                .size
                .width
                .saturating_sub(bars_w + m.gap as u32),
            quality_area.size.height,
        ),
    );
    out.quality = Some((bars, quality));
    let quality_text = match quality {
        Quality::Good => Msg::QualityGood,
        Quality::Fair => Msg::QualityFair,
        Quality::Poor => Msg::QualityPoor,
    };
    out.label(
        words,
        text(l, quality_text),
        TextSize::Small,
        Ink::OnDark,
        Align::Left,
    );
    // The security code in a small line under the status row: there to read out when the
    // doctor asks, not news.
    let code_h = security_code.map_or(0, |_| m.button / 2);
    if let Some(code) = security_code {
        let line = Rectangle::new(
            info.top_left + Point::new(0, info.size.height as i32),
            Size::new(info.size.width, code_h),
        );
        let words = text::security_code(l, code);
        out.label(line, words, TextSize::Small, Ink::OnDark, Align::Left);
    }

    if let Some(notice) = notice {
        // Across the picture, below the status row: where the patient is looking.
        let band = Rectangle::new(
            picture.top_left + Point::new(m.gap, (m.button + code_h) as i32 + 2 * m.gap),
            Size::new(
                picture.size.width.saturating_sub(2 * m.gap as u32),
                m.button * 3 / 2,
            ),
        );
        out.boxes.push(band);
        let (message, size) = match notice {
            CallNotice::Interrupted => (Msg::CallInterrupted, TextSize::Body),
            CallNotice::VideoPaused => (Msg::CallVideoPaused, TextSize::Small),
            CallNotice::Relayed => (Msg::CallRelayed, TextSize::Small),
        };
        out.label(
            inset(band, m.gap),
            text(l, message),
            size,
            Ink::Normal,
            Align::Center,
        );
    }

    let controls = inset(bar, m.gap);
    let [mute, camera, hang_up]: [Rectangle; 3] =
        columns(controls, 3, m.gap * 2).try_into().expect("three");
    out.button(
        m,
        mute,
        text(l, if muted { Msg::Unmute } else { Msg::Mute }),
        Press::ToggleMute,
        Tone::Secondary,
    );
    let camera_label = text(
        l,
        if camera_off {
            Msg::CameraOn
        } else {
            Msg::CameraOff
        },
    );
    out.button(
        m,
        camera,
        camera_label,
        Press::ToggleCamera,
        Tone::Secondary,
    );
    out.button(
        m,
        hang_up,
        text(l, Msg::HangUp),
        Press::HangUp,
        Tone::Danger,
    );
    if confirm {
        let dialog = Rectangle::with_center(
            screen.center(),
            Size::new(
                screen.size.width * 4 / 5,
                (m.button * 3 + 4 * m.gap as u32).min(screen.size.height),
            ),
        );
        out.boxes.push(dialog);
        let (question, buttons) = take_bottom(inset(dialog, m.gap * 2), m.button, m.gap);
        out.label(
            question,
            text(l, Msg::HangUpQuestion),
            TextSize::Title,
            Ink::Normal,
            Align::Center,
        );
        let [keep, end]: [Rectangle; 2] = columns(buttons, 2, m.gap * 2).try_into().expect("two");
        out.button(
            m,
            keep,
            text(l, Msg::KeepTalking),
            Press::KeepTalking,
            Tone::Agree,
        );
        out.button(
            m,
            end,
            text(l, Msg::HangUpYes),
            Press::ConfirmHangUp,
            Tone::Danger,
        );
    }
}
