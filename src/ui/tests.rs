//! Every screen, on every supported panel, in both languages: touch targets of at least 9 mm,
//! nothing outside the screen, no overlapping buttons, no text overflowing its box; and pixel
//! checks that the drawing shows what the layout says.

use embedded_graphics::prelude::*;

use super::draw::palette;
use super::font::{renderer, wrap};
use super::gallery::gallery;
use super::layout::{Press, layout};
use super::panel::{MIN_TARGET_MM, Panel};
use super::text::Locale;
use super::view::Screen;
use super::{ViewModel, render};

fn every_screen() -> impl Iterator<Item = (Panel, Locale, &'static str, ViewModel)> {
    Panel::ALL.into_iter().flat_map(|panel| {
        [Locale::De, Locale::En]
            .into_iter()
            .flat_map(move |locale| {
                gallery(locale)
                    .into_iter()
                    .map(move |(name, view)| (panel, locale, name, view))
            })
    })
}

#[test]
fn every_button_is_at_least_nine_millimetres_and_on_screen() {
    let mut problems = Vec::new();
    for (panel, locale, name, view) in every_screen() {
        let min = panel.mm(MIN_TARGET_MM);
        let screen = embedded_graphics::primitives::Rectangle::new(
            Point::zero(),
            Size::new(panel.width, panel.height),
        );
        let l = layout(&view, &panel);
        for b in &l.buttons {
            if b.rect.size.width < min || b.rect.size.height < min {
                problems.push(format!(
                    "{name} {locale:?} {panel}: button {:?} is {:?}, needs {min}px (9 mm)",
                    b.label, b.rect.size
                ));
            }
            assert_eq!(
                screen.intersection(&b.rect),
                b.rect,
                "{name} {locale:?} {panel}: {:?} leaves the screen",
                b.label
            );
        }
        for (i, a) in l.buttons.iter().enumerate() {
            for b in &l.buttons[i + 1..] {
                let overlap = a.rect.intersection(&b.rect);
                let dialog_over_call = matches!(b.press, Press::KeepTalking | Press::ConfirmHangUp);
                assert!(
                    overlap.size.width == 0 || overlap.size.height == 0 || dialog_over_call,
                    "{name} {locale:?} {panel}: {:?} overlaps {:?}",
                    a.label,
                    b.label
                );
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} too small:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn no_text_overflows_its_box_in_either_language() {
    let mut problems: Vec<String> = Vec::new();
    for (panel, locale, name, view) in every_screen() {
        let l = layout(&view, &panel);
        for label in &l.labels {
            let font = renderer(label.size, &panel);
            if let Err(e) = wrap(
                &font,
                &label.text,
                label.rect.size.width,
                label.rect.size.height,
            ) {
                problems.push(format!(
                    "{name} {locale:?} {panel}: label {:?}: {e}",
                    label.text
                ));
            }
        }
        for button in &l.buttons {
            let inner = super::layout::inset(button.rect, super::layout::BUTTON_PADDING);
            assert_ne!(
                button.size,
                super::layout::TextSize::Small,
                "{name} {panel}: buttons keep large type"
            );
            if let Err(e) = wrap(
                &renderer(button.size, &panel),
                &button.label,
                inner.size.width,
                inner.size.height,
            ) {
                problems.push(format!(
                    "{name} {locale:?} {panel}: button {:?}: {e}",
                    button.label
                ));
            }
        }
    }
    problems.dedup();
    assert!(
        problems.is_empty(),
        "{} overflow:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

fn button_center(view: &ViewModel, panel: &Panel, press: Press) -> Point {
    layout(view, panel)
        .buttons
        .iter()
        .find(|b| b.press == press)
        .expect("button exists")
        .rect
        .center()
}

#[test]
fn drawings_show_the_buttons_the_layout_promises() {
    let panel = Panel::PI_TOUCH;
    let views = gallery(Locale::De);
    let find = |name: &str| views.iter().find(|(n, _)| *n == name).unwrap().1.clone();

    let idle = find("01-idle");
    let frame = render(&idle, &panel);
    assert_eq!(frame.pixel(2, 2), Some(palette::PAPER));
    let start = layout(&idle, &panel)
        .buttons
        .into_iter()
        .find(|b| b.press == Press::StartCode)
        .unwrap();
    let corner = start.rect.top_left + Point::new(12, 12);
    assert_eq!(
        frame.pixel(corner.x as u32, corner.y as u32),
        Some(palette::PRIMARY)
    );
    let text_pixels = start
        .rect
        .points()
        .filter(|p| frame.pixel(p.x as u32, p.y as u32) == Some(palette::WHITE))
        .count();
    assert!(
        text_pixels > 200,
        "the start button has its label drawn ({text_pixels} white pixels)"
    );

    let call = find("06-in-call");
    let frame = render(&call, &panel);
    let hang_up = button_center(&call, &panel, Press::HangUp);
    let near_edge = hang_up + Point::new(0, -(panel.mm(MIN_TARGET_MM) as i32 / 2) + 4);
    assert_eq!(
        frame.pixel(near_edge.x as u32, near_edge.y as u32),
        Some(palette::DANGER)
    );

    let confirm = find("06-in-call-confirm-hang-up");
    assert_eq!(
        layout(&confirm, &panel).hit(button_center(&confirm, &panel, Press::ConfirmHangUp)),
        Some(Press::ConfirmHangUp)
    );
}

#[test]
fn taps_hit_the_button_under_the_finger() {
    let panel = Panel::PI_TOUCH_2;
    for (_, view) in gallery(Locale::En) {
        let l = layout(&view, &panel);
        for b in &l.buttons {
            assert_eq!(l.hit(b.rect.center()), Some(b.press));
        }
        if matches!(view.screen, Screen::Idle) {
            assert_eq!(
                l.hit(Point::new(panel.width as i32 / 2, panel.height as i32 - 1)),
                None,
                "the margin is not a button"
            );
        }
    }
}

#[test]
fn the_keyboard_types_umlauts_and_sharp_s() {
    let view = gallery(Locale::De)
        .into_iter()
        .find(|(n, _)| *n == "03-patient-name")
        .unwrap()
        .1;
    for panel in Panel::ALL {
        let keys: String = layout(&view, &panel)
            .buttons
            .iter()
            .filter_map(|b| match b.press {
                Press::Key(c) => Some(c),
                _ => None,
            })
            .collect();
        for c in ['ä', 'ö', 'ü', 'ß', '-', ' '] {
            assert!(keys.contains(c), "{panel}: no key for {c:?} in {keys:?}");
        }
    }
}

#[test]
fn the_display_layer_is_transparent_where_video_shows_but_keeps_what_is_drawn_over_it() {
    let panel = Panel::PI_TOUCH;
    let call = gallery(Locale::De)
        .into_iter()
        .find(|(n, _)| *n == "06-in-call")
        .unwrap()
        .1;
    let l = layout(&call, &panel);
    let mut layer = super::Frame::new(panel.width, panel.height);
    super::draw::paint_layer(&l, &panel, &mut layer);
    let (_, remote) = l
        .video
        .iter()
        .find(|(s, _)| *s == super::layout::Slot::RemoteVideo)
        .unwrap();
    let time = &l.labels[0];
    let inside = |p: &Point| remote.contains(*p);
    let transparent = remote
        .points()
        .filter(|p| layer.pixel(p.x as u32, p.y as u32).is_none())
        .count();
    assert!(
        transparent > (remote.size.width * remote.size.height / 2) as usize,
        "the picture shows through"
    );
    let text = time
        .rect
        .points()
        .filter(inside)
        .filter(|p| layer.pixel(p.x as u32, p.y as u32) == Some(palette::WHITE))
        .count();
    assert!(
        text > 50,
        "the call's duration stays on top of the picture ({text} white pixels)"
    );
}

#[test]
fn the_set_up_screen_has_nothing_to_touch_and_names_the_file_kioskd_looks_for() {
    for (panel, locale, name, view) in every_screen() {
        if !matches!(view.screen, Screen::NotProvisioned { .. }) {
            continue;
        }
        let l = layout(&view, &panel);
        assert!(
            l.buttons.is_empty(),
            "{name} {locale:?} {panel}: no buttons"
        );
        assert!(
            l.labels
                .iter()
                .any(|label| label.text.contains(crate::wire::BUNDLE_FILE_NAME)),
            "{name} {locale:?} {panel}: the technician's line names the bundle file"
        );
    }
}

#[test]
fn identify_shows_the_room_largest_and_ok_goes_back_to_the_start() {
    for (panel, locale, name, view) in every_screen() {
        let Screen::Identify { room, device } = &view.screen else {
            continue;
        };
        let l = layout(&view, &panel);
        let presses: Vec<Press> = l.buttons.iter().map(|b| b.press).collect();
        assert_eq!(presses, [Press::BackToStart], "{name} {locale:?} {panel}");
        let room_label = l.labels.iter().find(|label| label.text == *room).unwrap();
        assert_eq!(
            room_label.size,
            super::layout::TextSize::Huge,
            "{name} {locale:?} {panel}: the room in the largest type"
        );
        assert!(
            l.labels
                .iter()
                .any(|label| label.text.contains(device.as_str())),
            "{name} {locale:?} {panel}: the device id shows"
        );
    }
}

#[test]
fn the_call_screen_shows_the_security_code_small_under_the_quality() {
    for locale in [Locale::De, Locale::En] {
        let call = gallery(locale)
            .into_iter()
            .find(|(n, _)| *n == "06-in-call")
            .unwrap()
            .1;
        let expected = match locale {
            Locale::De => "Sicherheitscode 0472",
            Locale::En => "Security code 0472",
        };
        for panel in Panel::ALL {
            let l = layout(&call, &panel);
            let code = l.labels.iter().find(|label| label.text == expected);
            let code = code.unwrap_or_else(|| panic!("{panel} {locale:?}: no {expected:?}"));
            let quality = l
                .labels
                .iter()
                .find(|label| {
                    label.text.starts_with("Verbindung") || label.text.starts_with("Connection")
                })
                .expect("the quality's words");
            assert!(
                code.rect.top_left.y >= quality.rect.top_left.y + quality.rect.size.height as i32
            );
            assert_eq!(code.size, super::layout::TextSize::Small);
        }
    }
}

#[test]
fn names_show_on_the_name_consent_and_waiting_screens_only() {
    let doctor = || "Dr. med. Anna Muster".to_string();
    let named = [
        Screen::PatientName {
            name: "Max".into(),
            shift: false,
        },
        Screen::Consent { doctor: doctor() },
        Screen::Waiting { doctor: doctor() },
    ];
    assert!(named.iter().all(Screen::shows_a_name));
    let unnamed = [
        Screen::Idle,
        Screen::CodeEntry {
            entered: "1234".into(),
            notice: None,
        },
        Screen::Ended { duration_s: 3 },
    ];
    assert!(!unnamed.iter().any(Screen::shows_a_name));
}
