//! The whole consultation driven by taps on the screen, as a patient and the staff would: no
//! control-socket shortcut but `tap` and `screenshot`. Every screenshot is compared with the
//! screen the UI code draws for the step we expect, in both languages and on two panels.

use std::time::Duration;

use embedded_graphics::pixelcolor::RgbColor;
use embedded_graphics::prelude::{Point, PointsIter};
use praxiskiosk::ui::layout::{Press, layout};
use praxiskiosk::ui::view::{CallView, CodeNotice, Quality, Screen};
use praxiskiosk::ui::{Locale, Panel, ViewModel, render};

use crate::harness::{Doctor, Kiosk, KioskConfig, Mosquitto, create_appointment, poll, wait_for};

struct Touch<'a> {
    kiosk: &'a Kiosk,
    panel: Panel,
    locale: Locale,
}

impl Touch<'_> {
    fn view(&self, screen: Screen) -> ViewModel {
        ViewModel {
            locale: self.locale,
            room: "Sprechzimmer".into(),
            clock: String::new(),
            broker_online: true,
            screen,
        }
    }

    /// Taps the button for `press` on `screen`, where the UI code draws it.
    fn tap(&self, screen: Screen, press: Press) -> serde_json::Value {
        let l = layout(&self.view(screen), &self.panel);
        let button = l
            .buttons
            .iter()
            .find(|b| b.press == press)
            .unwrap_or_else(|| panic!("no {press:?} button"));
        let c: Point = button.rect.center();
        self.kiosk.tap((c.x, c.y))
    }

    /// Asserts the kiosk shows `screen`: pixel for pixel where nothing changes by the second
    /// (`whole`), otherwise inside every button.
    fn shows(&self, screen: Screen, whole: bool) {
        let expected_view = self.view(screen);
        let expected = render(&expected_view, &self.panel);
        let (w, h, shot) = self.kiosk.screenshot();
        assert_eq!((w, h), (self.panel.width, self.panel.height));
        let differs = |x: i32, y: i32| {
            let i = ((y as u32 * w + x as u32) * 4) as usize;
            shot[i..i + 4] != expected.rgba()[i..i + 4]
        };
        let bad = if whole {
            (0..h as i32)
                .flat_map(|y| (0..w as i32).map(move |x| (x, y)))
                .filter(|&(x, y)| differs(x, y))
                .count()
        } else {
            let l = layout(&expected_view, &self.panel);
            l.buttons
                .iter()
                .flat_map(|b| b.rect.points())
                .filter(|p| differs(p.x, p.y))
                .count()
        };
        assert_eq!(
            bad, 0,
            "{bad} pixels differ from {:?} ({}, {:?})",
            expected_view.screen, self.panel, self.locale
        );
    }

    /// Asserts the composed screen shows live video in every slot and the hang-up button on top.
    /// The composition takes the UI layer at its next frame: a busy machine may show the video
    /// a frame or two before the new screen's buttons, so it looks again for a few seconds.
    fn composed_call_shows_video(&self, screen: Screen) {
        let l = layout(&self.view(screen), &self.panel);
        let red = praxiskiosk::ui::draw::palette::DANGER;
        let close = |a: u8, e: u8| a.abs_diff(e) <= 16;
        let look = || {
            let (w, _, shot) = self.kiosk.composed_screenshot();
            let px = |p: Point| {
                let i = ((p.y as u32 * w + p.x as u32) * 4) as usize;
                [shot[i], shot[i + 1], shot[i + 2]]
            };
            let lit: Vec<_> = l
                .video
                .iter()
                .map(|(slot, rect)| {
                    let n = rect
                        .points()
                        .filter(|p| px(*p).iter().any(|c| *c > 60))
                        .count();
                    (*slot, n)
                })
                .collect();
            let hang_up = l.buttons.iter().find(|b| b.press == Press::HangUp).unwrap();
            (lit, px(hang_up.rect.top_left + Point::new(12, 12)))
        };
        let ok = |(lit, [r, g, b]): &(Vec<_>, [u8; 3])| {
            lit.iter().all(|(_, n)| *n > 100)
                && close(*r, red.r())
                && close(*g, red.g())
                && close(*b, red.b())
        };
        let seen = poll(Duration::from_secs(10), || {
            let seen = look();
            ok(&seen).then_some(seen)
        });
        let (lit, [r, g, b]) = seen.unwrap_or_else(look);
        assert!(
            lit.iter().all(|(_, n)| *n > 100),
            "a slot without a picture in the composed screen (lit pixels): {lit:?}"
        );
        assert!(
            close(r, red.r()) && close(g, red.g()) && close(b, red.b()),
            "hang-up button over the video: {r},{g},{b}"
        );
    }

    /// Asserts the first `n` labels of `screen` (the device check's findings) show as drawn.
    fn shows_labels(&self, screen: Screen, n: usize) {
        let expected_view = self.view(screen);
        let expected = render(&expected_view, &self.panel);
        let (w, _, shot) = self.kiosk.screenshot();
        let l = layout(&expected_view, &self.panel);
        let bad = l.labels[..n]
            .iter()
            .flat_map(|label| label.rect.points())
            .filter(|p| {
                let i = ((p.y as u32 * w + p.x as u32) * 4) as usize;
                shot[i..i + 4] != expected.rgba()[i..i + 4]
            })
            .count();
        assert_eq!(
            bad, 0,
            "{bad} pixels of the check's findings differ from {:?}",
            expected_view.screen
        );
    }

    fn type_pin(&self, pin: &str) {
        for d in pin.bytes() {
            self.tap(
                Screen::StaffPin {
                    entered: 0,
                    notice: None,
                },
                Press::Digit(d - b'0'),
            );
        }
    }

    fn type_code(&self, code: &str) {
        for d in code.bytes() {
            let entered = Screen::CodeEntry {
                entered: String::new(),
                notice: None,
            };
            self.tap(entered, Press::Digit(d - b'0'));
        }
    }
}

fn consultation_by_touch(panel_text: &'static str, locale_text: &'static str) {
    let panel = Panel::parse(panel_text).unwrap();
    let locale = Locale::parse(locale_text).unwrap();
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut config = KioskConfig::new(broker.port);
    config.panel = panel_text;
    config.locale = locale_text;
    config.development = true;
    let kiosk = Kiosk::start(dir.path(), &config);
    let touch = Touch {
        kiosk: &kiosk,
        panel,
        locale,
    };
    let appointment = create_appointment(broker.port, &["--patient", "Max Mustermann"]);
    kiosk.wait_for_appointment(&appointment.id);
    let doctor_name = "Dr. med. Anna Muster".to_string();

    touch.shows(Screen::Idle, false);
    touch.tap(Screen::Idle, Press::StartCode);
    touch.shows(
        Screen::CodeEntry {
            entered: String::new(),
            notice: None,
        },
        true,
    );

    let wrong = appointment.wrong_code();
    touch.type_code(wrong);
    let notice = Some(CodeNotice::Wrong { attempts_left: 4 });
    touch.shows(
        Screen::CodeEntry {
            entered: String::new(),
            notice,
        },
        true,
    );
    touch.type_code(&appointment.code[..3]);
    touch.shows(
        Screen::CodeEntry {
            entered: appointment.code[..3].into(),
            notice: None,
        },
        true,
    );
    touch.type_code(&appointment.code[3..]);
    assert_eq!(kiosk.state(), "code_accepted");

    let name = Screen::PatientName {
        name: "Max Mustermann".into(),
        shift: false,
    };
    touch.shows(name.clone(), true);
    touch.tap(name, Press::ConfirmName);
    let consent = Screen::Consent {
        doctor: doctor_name.clone(),
    };
    touch.shows(consent.clone(), true);
    let mut doctor = Doctor::start(broker.port, &appointment.session, &[]);
    touch.tap(consent, Press::Agree);
    assert!(matches!(kiosk.state().as_str(), "waiting" | "in_call"));

    kiosk.wait_for_state("in_call", Duration::from_secs(60));
    let call = |muted, confirm_hang_up| {
        Screen::InCall(CallView {
            duration_s: 0,
            muted,
            camera_off: false,
            quality: Quality::Good,
            confirm_hang_up,
            notice: None,
            // Only the call screen's buttons are compared (its time and code change).
            security_code: None,
        })
    };
    touch.shows(call(false, false), false);
    touch.composed_call_shows_video(call(false, false));
    touch.tap(call(false, false), Press::ToggleMute);
    touch.shows(call(true, false), false);
    touch.tap(call(true, false), Press::HangUp);
    touch.shows(call(true, true), false);
    assert_eq!(kiosk.state(), "in_call", "hanging up asks first");
    touch.tap(call(true, true), Press::ConfirmHangUp);
    assert_eq!(kiosk.state(), "ended");
    assert!(doctor.wait_exit(Duration::from_secs(15)).success());
    assert_eq!(
        doctor.event("bye").expect("the doctor is told")["reason"],
        "hangup"
    );

    touch.shows(Screen::Ended { duration_s: 0 }, false);
    touch.tap(Screen::Ended { duration_s: 0 }, Press::BackToStart);
    assert_eq!(kiosk.state(), "idle");
    touch.shows(Screen::Idle, false);
}

#[test]
fn a_consultation_by_touch_on_the_7_inch_panel_in_german() {
    consultation_by_touch("800x480", "de");
}

#[test]
fn a_consultation_by_touch_on_touch_display_2_in_english() {
    consultation_by_touch("720x1280", "en");
}

#[test]
fn staff_open_the_device_check_with_a_long_press_and_the_fleets_pin() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let kiosk = Kiosk::start(dir.path(), &KioskConfig::new(broker.port));
    let touch = Touch {
        kiosk: &kiosk,
        panel: Panel::PI_TOUCH,
        locale: Locale::De,
    };

    touch.tap(Screen::Idle, Press::StaffLongPress);
    touch.shows(Screen::Idle, false);
    let room = layout(&touch.view(Screen::Idle), &touch.panel).buttons[0]
        .rect
        .center();
    kiosk.control(serde_json::json!({"cmd": "tap", "x": room.x, "y": room.y, "hold_ms": 2000}));
    touch.type_pin("123456");
    touch.shows(
        Screen::StaffPin {
            entered: 0,
            notice: Some(CodeNotice::NotSetUp),
        },
        true,
    );

    let config =
        serde_json::json!({"v": 1, "staff_pin_hash": praxiskiosk::fleet::codes::hash("246810")});
    let topic = format!("praxiskiosk/v1/devices/{}/config", crate::harness::DEVICE);
    crate::harness::publish(broker.port, &topic, config.to_string().as_bytes(), true);
    wait_for("the device config", Duration::from_secs(10), || {
        dir.path()
            .join("state/device-config.json")
            .exists()
            .then_some(())
    });
    touch.type_pin("135790");
    touch.shows(
        Screen::StaffPin {
            entered: 0,
            notice: Some(CodeNotice::Wrong { attempts_left: 4 }),
        },
        true,
    );
    touch.type_pin("246810");
    let working = praxiskiosk::ui::view::StaffCheck {
        camera_ok: true,
        microphone_ok: true,
        mic_level: 0.0,
        echo: praxiskiosk::ui::view::EchoCanceller::Active,
        version: env!("CARGO_PKG_VERSION").into(),
    };
    let check = Screen::StaffCheck(working);
    // The title, then camera, microphone, network and echo cancellation.
    touch.shows_labels(check.clone(), 5);
    touch.tap(check, Press::BackToStart);
    touch.shows(Screen::Idle, false);
}

/// A kiosk whose clock is not synchronized (a Raspberry Pi without a real-time clock, after
/// boot: its clock could be a year off either way) opens no appointment, and its keypad says
/// why; once the clock is synchronized, the same code opens it.
#[test]
fn without_a_synchronized_clock_no_code_opens_and_the_keypad_says_why() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("synchronized");
    let mut config = KioskConfig::new(broker.port);
    config.time = format!("synchronized_marker = \"{}\"", marker.display());
    let kiosk = Kiosk::start(dir.path(), &config);
    let touch = Touch {
        kiosk: &kiosk,
        panel: Panel::parse("800x480").unwrap(),
        locale: Locale::De,
    };
    let appointment = create_appointment(broker.port, &[]);
    kiosk.wait_for_appointment(&appointment.id);
    let enter =
        || kiosk.control(serde_json::json!({"cmd": "enter_code", "code": appointment.code}));
    let reply = wait_for("the kiosk online", Duration::from_secs(15), || {
        let reply = enter();
        (reply["error"] != "offline").then_some(reply)
    });
    assert_eq!(reply["error"], "clock_unknown", "{reply}");

    touch.tap(Screen::Idle, Press::StartCode);
    touch.type_code(&appointment.code);
    touch.shows(
        Screen::CodeEntry {
            entered: String::new(),
            notice: Some(CodeNotice::ClockUnknown),
        },
        true,
    );
    // systemd-timesyncd synchronized the clock.
    std::fs::write(&marker, b"").unwrap();
    wait_for("the clock confirmed", Duration::from_secs(5), || {
        (enter()["error"] != "clock_unknown").then_some(())
    });
    assert_eq!(kiosk.state(), "code_accepted");
}
