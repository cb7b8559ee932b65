//! One layout function per screen. Landscape panels put input beside the text, portrait panels
//! below it.

use embedded_graphics::prelude::Size;
use embedded_graphics::primitives::Rectangle;

use super::call::{in_call, test_call, waiting};
use super::keys::{keyboard, keypad};
use super::{
    Align, Backdrop, Ink, Layout, Metrics, Press, Slot, TextSize, Tone, columns, inset,
    line_height, rows, split_h, take_bottom, take_top, text_height,
};
use crate::ui::state::STAFF_PIN_DIGITS;
use crate::ui::text::{self, Locale, Msg, text};
use crate::ui::view::{
    CodeNotice, EchoCanceller, Problem, ProvisionNotice, Screen, StaffCheck, ViewModel,
};
use crate::wire::Refusal;

pub(super) fn layout(view: &ViewModel, m: &Metrics) -> Layout {
    let mut out = Layout {
        backdrop: Some(Backdrop::Light),
        ..Layout::default()
    };
    let l = view.locale;
    match &view.screen {
        Screen::Idle => idle(&mut out, view, m),
        Screen::CodeEntry { entered, notice } => {
            code_entry(&mut out, m, l, (entered.len(), 8), *notice, Msg::CodeTitle)
        }
        Screen::StaffPin { entered, notice } => code_entry(
            &mut out,
            m,
            l,
            (*entered, STAFF_PIN_DIGITS),
            *notice,
            Msg::StaffPinTitle,
        ),
        Screen::PatientName { name, shift } => patient_name(&mut out, m, l, name, *shift),
        Screen::Consent { doctor } => consent(&mut out, m, l, doctor),
        Screen::Waiting { doctor } => waiting(&mut out, m, l, doctor),
        Screen::InCall(call) => in_call(&mut out, m, l, call),
        Screen::Ended { duration_s } => message(
            &mut out,
            m,
            text(l, Msg::EndedTitle),
            &format!(
                "{}\n{}",
                text::duration(*duration_s),
                text(l, Msg::EndedBody)
            ),
            text(l, Msg::BackToStart),
        ),
        Screen::Problem(problem) => {
            let body = text(l, problem_text(*problem));
            message(&mut out, m, "!", body, text(l, Msg::BackToStart));
        }
        Screen::StaffCheck(check) => staff_check(&mut out, m, l, view.broker_online, check),
        Screen::NotProvisioned { notice } => not_provisioned(&mut out, m, l, *notice),
        Screen::Identify { room, device } => identify(&mut out, m, l, room, device),
        Screen::TestCall { left_s } => test_call(&mut out, m, l, *left_s),
    }
    out
}

fn problem_text(problem: Problem) -> Msg {
    match problem {
        Problem::DoctorDidNotCome => Msg::ProblemDoctorTimeout,
        Problem::NoDirectConnection => Msg::ProblemP2p,
        Problem::ConnectionLost => Msg::ProblemConnectionLost,
        Problem::AppointmentWithdrawn => Msg::ProblemRevoked,
        Problem::CameraMissing => Msg::ProblemCamera,
        Problem::MicrophoneMissing => Msg::ProblemMicrophone,
        Problem::PracticeUnreachable => Msg::ProblemOffline,
        Problem::SecurityCheckFailed => Msg::ProblemSecurityCheck,
    }
}

/// A title row at the top, taller where a long title wraps; returns the rest.
pub(super) fn title(out: &mut Layout, m: &Metrics, area: Rectangle, title: &str) -> Rectangle {
    let height = m
        .button
        .max(text_height(m, TextSize::Title, title, area.size.width));
    let (top, rest) = take_top(area, height, m.gap);
    out.label(top, title, TextSize::Title, Ink::Normal, Align::Left);
    rest
}

fn idle(out: &mut Layout, view: &ViewModel, m: &Metrics) {
    let l = view.locale;
    let (top, rest) = take_top(m.content(), m.button, m.gap);
    let (room, clock) = split_h(top, 0.7, m.gap);
    out.button(m, room, &view.room, Press::StaffLongPress, Tone::Plain);
    out.label(
        clock,
        &view.clock,
        TextSize::Title,
        Ink::Muted,
        Align::Center,
    );
    let (middle, bottom) = take_bottom(rest, m.button, m.gap);
    let (notice, toggle) = split_h(bottom, 0.7, m.gap);
    if !view.broker_online {
        out.label(
            notice,
            text(l, Msg::BrokerOffline),
            TextSize::Small,
            Ink::Alert,
            Align::Left,
        );
    }
    out.button(
        m,
        toggle,
        text(l, Msg::LanguageToggle),
        Press::ToggleLanguage,
        Tone::Secondary,
    );
    let height = (m.button * 2).min(middle.size.height);
    let width = (middle.size.width * 4 / 5).max(m.min_target);
    let start = Rectangle::with_center(middle.center(), Size::new(width, height));
    out.button(
        m,
        start,
        text(l, Msg::EnterCode),
        Press::StartCode,
        Tone::Primary,
    );
}

fn code_entry(
    out: &mut Layout,
    m: &Metrics,
    l: Locale,
    (entered, total): (usize, usize),
    notice: Option<CodeNotice>,
    heading: Msg,
) {
    let area = m.content();
    let (info, pad) = if m.panel.is_portrait() {
        let (info, pad) = take_top(area, area.size.height * 2 / 5, m.gap);
        (info, pad)
    } else {
        split_h(area, 0.36, m.gap)
    };
    let rest = title(out, m, info, text(l, heading));
    let (field, rest) = take_top(
        rest,
        m.button.max(line_height(m, TextSize::Title) + 4),
        m.gap,
    );
    out.boxes.push(field);
    let shown: String = (0..total)
        .map(|i| if i < entered { '*' } else { '_' })
        .map(|c| format!("{c} "))
        .collect();
    out.label(
        field,
        shown.trim_end(),
        TextSize::Title,
        Ink::Normal,
        Align::Center,
    );
    let is_code = heading == Msg::CodeTitle;
    let (note, ink) = match notice {
        Some(CodeNotice::Wrong { attempts_left }) if is_code => (
            text::refusal(l, Refusal::WrongCode { attempts_left }),
            Ink::Alert,
        ),
        Some(CodeNotice::Wrong { attempts_left }) => {
            (text::wrong_pin(l, attempts_left), Ink::Alert)
        }
        Some(CodeNotice::LockedOut { remaining_s }) if is_code => (
            text::refusal(l, Refusal::LockedOut { remaining_s }),
            Ink::Alert,
        ),
        Some(CodeNotice::LockedOut { remaining_s }) => {
            (text::pin_locked_out(l, remaining_s), Ink::Alert)
        }
        Some(CodeNotice::NotSetUp) => (text(l, Msg::StaffPinNotSetUp).to_string(), Ink::Alert),
        Some(CodeNotice::Busy) => (text::refusal(l, Refusal::Busy), Ink::Alert),
        Some(CodeNotice::Offline) => (text::refusal(l, Refusal::Offline), Ink::Alert),
        Some(CodeNotice::ClockUnknown) => (text::refusal(l, Refusal::ClockUnknown), Ink::Alert),
        None if is_code => (text(l, Msg::CodeHint).to_string(), Ink::Muted),
        None => (String::new(), Ink::Muted),
    };
    out.label(rest, note, TextSize::Body, ink, Align::Left);
    keypad(out, pad, m, l);
}

/// Compact on purpose: on a 480 px panel the keyboard needs every row it can get.
fn patient_name(out: &mut Layout, m: &Metrics, l: Locale, name: &str, shift: bool) {
    let small_gap = m.gap / 2;
    let (heading, rest) = take_top(m.content(), line_height(m, TextSize::Body), small_gap);
    out.label(
        heading,
        text(l, Msg::NameTitle),
        TextSize::Body,
        Ink::Normal,
        Align::Left,
    );
    let (hint, rest) = take_top(rest, line_height(m, TextSize::Small), small_gap);
    out.label(
        hint,
        text(l, Msg::NameHint),
        TextSize::Small,
        Ink::Muted,
        Align::Left,
    );
    let row = m.min_target + small_gap as u32;
    let (field, presses, keys) = if m.panel.is_portrait() {
        let (field, rest) = take_top(rest, row, small_gap);
        let (presses, keys) = take_top(rest, row, m.gap);
        (field, presses, keys)
    } else {
        let (field_row, keys) = take_top(rest, row, small_gap);
        let (field, presses) = split_h(field_row, 0.5, m.gap);
        (field, presses, keys)
    };
    out.boxes.push(field);
    out.label(
        inset(field, small_gap),
        format!("{name}|"),
        TextSize::Body,
        Ink::Normal,
        Align::Left,
    );
    let [cancel, ok]: [Rectangle; 2] = columns(presses, 2, small_gap)
        .try_into()
        .expect("two columns");
    out.button(
        m,
        cancel,
        text(l, Msg::Cancel),
        Press::Cancel,
        Tone::Secondary,
    );
    let tone = if name.trim().is_empty() {
        Tone::Secondary
    } else {
        Tone::Agree
    };
    out.button(m, ok, text(l, Msg::Ok), Press::ConfirmName, tone);
    keyboard(out, keys, m, shift, l);
}

fn consent(out: &mut Layout, m: &Metrics, l: Locale, doctor: &str) {
    let rest = title(out, m, m.content(), text(l, Msg::ConsentTitle));
    let (rules, buttons) = take_bottom(rest, m.button + m.gap as u32, m.gap);
    let items = [
        text::with_doctor(l, doctor),
        format!("· {}", text(l, Msg::ConsentNoRecording)),
        format!("· {}", text(l, Msg::ConsentIntroduce)),
        format!("· {}", text(l, Msg::ConsentEncrypted)),
    ];
    out.stack(m, rules, &items, TextSize::Body, Ink::Normal);
    let [decline, agree]: [Rectangle; 2] = columns(buttons, 2, m.gap * 2)
        .try_into()
        .expect("two columns");
    out.button(
        m,
        decline,
        text(l, Msg::Decline),
        Press::Cancel,
        Tone::Secondary,
    );
    out.button(m, agree, text(l, Msg::Agree), Press::Agree, Tone::Agree);
}
fn message(out: &mut Layout, m: &Metrics, heading: &str, body: &str, button: &str) {
    let rest = title(out, m, m.content(), heading);
    let (words, bottom) = take_bottom(rest, m.button, m.gap);
    out.stack(m, words, &[body.to_string()], TextSize::Title, Ink::Normal);
    let (_, back) = split_h(bottom, 0.5, m.gap);
    out.button(m, back, button, Press::BackToStart, Tone::Primary);
}

fn staff_check(out: &mut Layout, m: &Metrics, l: Locale, broker_online: bool, check: &StaffCheck) {
    let rest = title(out, m, m.content(), text(l, Msg::StaffCheckTitle));
    let (body, bottom) = take_bottom(rest, m.button, m.gap);
    let (facts, preview) = if m.panel.is_portrait() {
        let (f, p) = take_top(body, body.size.height / 2, m.gap);
        (f, p)
    } else {
        split_h(body, 0.55, m.gap * 2)
    };
    let state = |ok: bool, yes: Msg, no: Msg| text(l, if ok { yes } else { no });
    let lines = [
        (
            format!(
                "{}: {}",
                text(l, Msg::Camera),
                state(check.camera_ok, Msg::Works, Msg::Missing)
            ),
            check.camera_ok,
        ),
        (
            format!(
                "{}: {}",
                text(l, Msg::Microphone),
                state(check.microphone_ok, Msg::Works, Msg::Missing)
            ),
            check.microphone_ok,
        ),
        (
            format!(
                "{}: {}",
                text(l, Msg::Network),
                state(broker_online, Msg::Connected, Msg::Offline)
            ),
            broker_online,
        ),
        (
            format!(
                "{}: {}",
                text(l, Msg::EchoCancellation),
                text(
                    l,
                    match check.echo {
                        EchoCanceller::Active => Msg::EchoActive,
                        EchoCanceller::InDevice => Msg::EchoInDevice,
                        EchoCanceller::Off => Msg::EchoOff,
                    }
                )
            ),
            check.echo != EchoCanceller::Off,
        ),
        (
            format!("{}: {}", text(l, Msg::Software), check.version),
            true,
        ),
    ];
    let rows_ = rows(facts, lines.len() as u32 + 1, m.gap / 2);
    for (row, (line, ok)) in rows_.iter().zip(lines) {
        out.label(
            *row,
            line,
            TextSize::Body,
            if ok { Ink::Normal } else { Ink::Alert },
            Align::Left,
        );
    }
    if let Some(meter_row) = rows_.last() {
        out.meter = Some((inset(*meter_row, m.gap), check.mic_level.clamp(0.0, 1.0)));
    }
    out.video.push((Slot::SelfView, fit_16_9(preview)));
    let [speaker, back]: [Rectangle; 2] = columns(bottom, 2, m.gap * 2).try_into().expect("two");
    out.button(
        m,
        speaker,
        text(l, Msg::SpeakerTest),
        Press::SpeakerTest,
        Tone::Secondary,
    );
    out.button(
        m,
        back,
        text(l, Msg::BackToStart),
        Press::BackToStart,
        Tone::Primary,
    );
}

/// No buttons: a patient can do nothing here but ask. The technician's line sits small at the
/// bottom, with the reason the last bundle was refused just above it.
fn not_provisioned(out: &mut Layout, m: &Metrics, l: Locale, notice: Option<ProvisionNotice>) {
    let rest = title(out, m, m.content(), text(l, Msg::NotProvisionedTitle));
    let width = rest.size.width;
    let technician = text(l, Msg::NotProvisionedTechnician);
    let (rest, bottom) = take_bottom(
        rest,
        text_height(m, TextSize::Small, technician, width),
        m.gap,
    );
    out.label(bottom, technician, TextSize::Small, Ink::Muted, Align::Left);
    let rest = match notice {
        Some(notice) => {
            let note = text(
                l,
                match notice {
                    ProvisionNotice::BundleRefused => Msg::ProvisionBundleRefused,
                },
            );
            let (rest, line) =
                take_bottom(rest, text_height(m, TextSize::Body, note, width), m.gap / 2);
            out.label(line, note, TextSize::Body, Ink::Alert, Align::Left);
            rest
        }
        None => rest,
    };
    out.stack(
        m,
        rest,
        &[text(l, Msg::NotProvisionedBody).to_string()],
        TextSize::Title,
        Ink::Normal,
    );
}

/// Made to be found from across the room: the room's name as large as it fits, in a box.
fn identify(out: &mut Layout, m: &Metrics, l: Locale, room: &str, device: &str) {
    let area = m.content();
    let why = text(l, Msg::IdentifyBody);
    let (top, rest) = take_top(
        area,
        text_height(m, TextSize::Body, why, area.size.width),
        m.gap,
    );
    out.label(top, why, TextSize::Body, Ink::Normal, Align::Left);
    let (middle, bottom) = take_bottom(rest, m.button, m.gap);
    let id = text::device_id(l, device);
    let (name, id_row) = take_bottom(
        middle,
        text_height(m, TextSize::Title, &id, middle.size.width),
        m.gap,
    );
    out.boxes.push(name);
    out.fitted(
        m,
        inset(name, m.gap),
        room,
        &[TextSize::Huge, TextSize::Title, TextSize::Body],
        Ink::Normal,
        Align::Center,
    );
    out.label(id_row, id, TextSize::Title, Ink::Normal, Align::Center);
    let (_, ok) = split_h(bottom, 0.5, m.gap);
    out.button(
        m,
        ok,
        text(l, Msg::IdentifyOk),
        Press::BackToStart,
        Tone::Primary,
    );
}

/// The largest 16:9 rectangle centred in `r`.
pub(super) fn fit_16_9(r: Rectangle) -> Rectangle {
    let (w, h) = (r.size.width, r.size.height);
    let size = if w * 9 <= h * 16 {
        Size::new(w, w * 9 / 16)
    } else {
        Size::new(h * 16 / 9, h)
    };
    Rectangle::with_center(r.center(), size)
}
