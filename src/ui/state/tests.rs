use std::time::{Duration, Instant};

use super::*;
use crate::flow::tests::appointment;

fn around() -> Surroundings {
    Surroundings {
        room: "Raum 1".into(),
        clock: "10:00".into(),
        broker_online: true,
        quality: Quality::Good,
        security_code: None,
        staff: crate::ui::view::StaffCheck {
            camera_ok: true,
            microphone_ok: true,
            mic_level: 0.5,
            echo: crate::ui::view::EchoCanceller::Active,
            version: "1".into(),
        },
    }
}

fn type_digits(s: &mut ScreenState, digits: &str, now: Instant) -> Option<Intent> {
    let mut last = None;
    for d in digits.bytes() {
        last = s.on_press(Press::Digit(d - b'0'), &Flow::Idle, now);
    }
    last
}

#[test]
fn eight_digits_leave_the_screen_as_a_code_and_a_refusal_explains_itself() {
    let t0 = Instant::now();
    let mut s = ScreenState::new(Locale::De);
    s.sync(&Flow::Idle);
    assert_eq!(s.view(&Flow::Idle, &around(), t0).screen, Screen::Idle);
    s.on_press(Press::StartCode, &Flow::Idle, t0);
    assert_eq!(type_digits(&mut s, "1234567", t0), None);
    s.on_press(Press::Delete, &Flow::Idle, t0);
    assert_eq!(
        type_digits(&mut s, "78", t0),
        Some(Intent::EnterCode("12345678".into()))
    );
    assert_eq!(
        s.view(&Flow::Idle, &around(), t0).screen,
        Screen::CodeEntry {
            entered: String::new(),
            notice: None
        },
        "the typed code is not kept"
    );
    s.refused(Refusal::WrongCode { attempts_left: 4 }, t0);
    assert_eq!(
        s.view(&Flow::Idle, &around(), t0).screen,
        Screen::CodeEntry {
            entered: String::new(),
            notice: Some(CodeNotice::Wrong { attempts_left: 4 })
        }
    );
    type_digits(&mut s, "1", t0);
    assert!(matches!(
        s.view(&Flow::Idle, &around(), t0).screen,
        Screen::CodeEntry { notice: None, .. }
    ));
    s.refused(Refusal::Busy, t0);
    assert_eq!(
        s.view(&Flow::Idle, &around(), t0).screen,
        Screen::CodeEntry {
            entered: String::new(),
            notice: Some(CodeNotice::Busy)
        },
        "a code that could not be checked says so, not nothing"
    );
}

#[test]
fn an_untouched_code_screen_returns_to_the_start_and_forgets_the_digits() {
    let t0 = Instant::now();
    let mut s = ScreenState::new(Locale::De);
    s.sync(&Flow::Idle);
    s.on_press(Press::StartCode, &Flow::Idle, t0);
    type_digits(&mut s, "123", t0 + Duration::from_secs(10));
    assert_eq!(
        s.next_deadline(),
        Some(t0 + Duration::from_secs(10) + INPUT_IDLE)
    );
    assert!(!s.tick(t0 + Duration::from_secs(20)));
    assert!(s.tick(t0 + Duration::from_secs(10) + INPUT_IDLE));
    assert_eq!(s.view(&Flow::Idle, &around(), t0).screen, Screen::Idle);
    assert_eq!(s.next_deadline(), None);
}

#[test]
fn cancel_on_the_code_screen_goes_back_to_the_start() {
    let t0 = Instant::now();
    let mut s = ScreenState::new(Locale::De);
    s.on_press(Press::StartCode, &Flow::Idle, t0);
    assert_eq!(s.on_press(Press::Cancel, &Flow::Idle, t0), None);
    assert_eq!(s.view(&Flow::Idle, &around(), t0).screen, Screen::Idle);
}

#[test]
fn the_name_is_prefilled_and_typed_names_get_capitals() {
    let t0 = Instant::now();
    let mut s = ScreenState::new(Locale::De);
    let flow = Flow::CodeAccepted {
        appointment: appointment(Some("Erika Muster")),
        deadline: t0,
    };
    s.sync(&flow);
    assert_eq!(
        s.on_press(Press::ConfirmName, &flow, t0),
        Some(Intent::ConfirmName("Erika Muster".into()))
    );

    let flow = Flow::CodeAccepted {
        appointment: appointment(None),
        deadline: t0,
    };
    s.sync(&Flow::Idle);
    s.sync(&flow);
    assert_eq!(
        s.on_press(Press::ConfirmName, &flow, t0),
        None,
        "an empty name cannot be confirmed"
    );
    for c in "jürgen weiß-öz".chars() {
        s.on_press(Press::Key(c), &flow, t0);
    }
    s.on_press(Press::Delete, &flow, t0);
    s.on_press(Press::Key('z'), &flow, t0);
    assert_eq!(
        s.on_press(Press::ConfirmName, &flow, t0),
        Some(Intent::ConfirmName("Jürgen Weiß-Öz".into()))
    );
    assert_eq!(s.on_press(Press::Cancel, &flow, t0), Some(Intent::Cancel));
}

#[test]
fn hanging_up_asks_first_and_switches_are_reset_for_the_next_person() {
    let t0 = Instant::now();
    let mut s = ScreenState::new(Locale::De);
    let call = Flow::InCall {
        appointment: appointment(None),
        name: "Max".into(),
        since: t0,
        link: Default::default(),
    };
    s.sync(&call);
    assert_eq!(
        s.on_press(Press::ToggleMute, &call, t0),
        Some(Intent::Mute(true))
    );
    assert_eq!(
        s.on_press(Press::ToggleCamera, &call, t0),
        Some(Intent::CameraOff(true))
    );
    assert_eq!(s.on_press(Press::HangUp, &call, t0), None);
    let Screen::InCall(view) = s
        .view(&call, &around(), t0 + Duration::from_secs(65))
        .screen
    else {
        panic!()
    };
    assert!(view.confirm_hang_up && view.muted && view.camera_off);
    assert_eq!(view.duration_s, 65);
    assert_eq!(
        s.on_press(Press::ToggleMute, &call, t0),
        None,
        "the dialog covers the controls"
    );
    assert_eq!(s.on_press(Press::KeepTalking, &call, t0), None);
    s.on_press(Press::HangUp, &call, t0);
    assert_eq!(
        s.on_press(Press::ConfirmHangUp, &call, t0),
        Some(Intent::HangUp)
    );

    s.on_press(Press::ToggleLanguage, &Flow::Idle, t0);
    s.sync(&Flow::Idle);
    let Screen::InCall(view) = s.view(&call, &around(), t0).screen else {
        panic!()
    };
    assert!(
        !view.muted && !view.camera_off,
        "back at idle, every switch is reset"
    );
    assert_eq!(s.view(&Flow::Idle, &around(), t0).locale, Locale::De);
}

#[test]
fn the_language_toggle_changes_the_idle_screen() {
    let t0 = Instant::now();
    let mut s = ScreenState::new(Locale::De);
    s.sync(&Flow::Idle);
    s.on_press(Press::ToggleLanguage, &Flow::Idle, t0);
    assert_eq!(s.view(&Flow::Idle, &around(), t0).locale, Locale::En);
}

#[test]
fn problem_and_ended_screens_lead_back_to_the_start() {
    let t0 = Instant::now();
    let mut s = ScreenState::new(Locale::De);
    let ended = Flow::Ended {
        duration: Duration::from_secs(90),
        until: t0,
    };
    assert_eq!(
        s.view(&ended, &around(), t0).screen,
        Screen::Ended { duration_s: 90 }
    );
    assert_eq!(
        s.on_press(Press::BackToStart, &ended, t0),
        Some(Intent::Cancel)
    );
    let failed = Flow::Failed {
        problem: crate::flow::Problem::CameraMissing,
        until: t0,
    };
    assert_eq!(
        s.view(&failed, &around(), t0).screen,
        Screen::Problem(crate::flow::Problem::CameraMissing)
    );
}

#[test]
fn the_staff_check_opens_with_the_pin_and_closes_by_itself() {
    let t0 = Instant::now();
    let mut s = ScreenState::new(Locale::De);
    s.sync(&Flow::Idle);
    s.on_press(Press::StaffLongPress, &Flow::Idle, t0);
    assert_eq!(
        s.view(&Flow::Idle, &around(), t0).screen,
        Screen::StaffPin {
            entered: 0,
            notice: None
        }
    );
    assert_eq!(type_digits(&mut s, "12345", t0), None);
    assert_eq!(
        type_digits(&mut s, "6", t0),
        Some(Intent::StaffPin("123456".into()))
    );
    s.staff_pin_checked(Err(CodeNotice::Wrong { attempts_left: 4 }), t0);
    let notice = Some(CodeNotice::Wrong { attempts_left: 4 });
    assert_eq!(
        s.view(&Flow::Idle, &around(), t0).screen,
        Screen::StaffPin { entered: 0, notice }
    );
    assert!(!s.in_staff_check());
    s.staff_pin_checked(Ok(()), t0);
    assert!(s.in_staff_check());
    assert_eq!(
        s.view(&Flow::Idle, &around(), t0).screen,
        Screen::StaffCheck(around().staff)
    );
    assert_eq!(
        s.on_press(Press::SpeakerTest, &Flow::Idle, t0),
        Some(Intent::SpeakerTest)
    );
    assert!(s.tick(t0 + INPUT_IDLE), "nobody left the staff check open");
    assert!(!s.in_staff_check());
    s.on_press(Press::StaffLongPress, &Flow::Idle, t0);
    s.staff_pin_checked(Ok(()), t0);
    s.on_press(Press::BackToStart, &Flow::Idle, t0);
    assert_eq!(s.view(&Flow::Idle, &around(), t0).screen, Screen::Idle);
}

#[test]
fn without_an_identity_only_the_set_up_screen_shows_and_taps_do_nothing() {
    let t0 = Instant::now();
    let mut s = ScreenState::new(Locale::De);
    s.sync(&Flow::Idle);
    s.on_press(Press::StartCode, &Flow::Idle, t0);
    type_digits(&mut s, "123", t0);
    let notice = Some(ProvisionNotice::BundleRefused);
    s.set_provisioning(Provisioning::Missing { notice });
    let call = Flow::InCall {
        appointment: appointment(None),
        name: "Max".into(),
        since: t0,
        link: Default::default(),
    };
    for flow in [Flow::Idle, call] {
        assert_eq!(
            s.view(&flow, &around(), t0).screen,
            Screen::NotProvisioned { notice }
        );
    }
    s.identify("Raum 1".into(), "kiosk-01".into());
    assert_eq!(
        s.view(&Flow::Idle, &around(), t0).screen,
        Screen::NotProvisioned { notice },
        "the set-up screen covers identify too"
    );
    s.end_identify();
    for press in [Press::StartCode, Press::StaffLongPress, Press::Digit(1)] {
        assert_eq!(s.on_press(press, &Flow::Idle, t0), None);
    }
    s.set_provisioning(Provisioning::Provisioned);
    assert_eq!(
        s.view(&Flow::Idle, &around(), t0).screen,
        Screen::Idle,
        "provisioned, the kiosk starts afresh: the digits typed before are gone"
    );
}

#[test]
fn identify_covers_the_idle_screens_never_a_consultation_and_ok_goes_back_to_the_start() {
    let t0 = Instant::now();
    let identify = Screen::Identify {
        room: "Raum 1".into(),
        device: "kiosk-01".into(),
    };
    let mut s = ScreenState::new(Locale::De);
    s.sync(&Flow::Idle);
    s.on_press(Press::StaffLongPress, &Flow::Idle, t0);
    s.staff_pin_checked(Ok(()), t0);
    assert!(s.in_staff_check());
    s.identify("Raum 1".into(), "kiosk-01".into());
    assert_eq!(s.view(&Flow::Idle, &around(), t0).screen, identify);
    assert!(!s.in_staff_check(), "the device test stops while covered");
    assert_eq!(
        s.on_press(Press::SpeakerTest, &Flow::Idle, t0),
        None,
        "the staff check under it takes no taps"
    );
    assert_eq!(s.on_press(Press::BackToStart, &Flow::Idle, t0), None);
    assert_eq!(s.view(&Flow::Idle, &around(), t0).screen, Screen::Idle);
    s.end_identify();
    assert_eq!(s.view(&Flow::Idle, &around(), t0).screen, Screen::Idle);

    let call = Flow::InCall {
        appointment: appointment(None),
        name: "Max".into(),
        since: t0,
        link: Default::default(),
    };
    s.sync(&call);
    s.identify("Raum 1".into(), "kiosk-01".into());
    assert!(matches!(
        s.view(&call, &around(), t0).screen,
        Screen::InCall(_)
    ));
    assert_eq!(
        s.on_press(Press::HangUp, &call, t0),
        None,
        "the call's buttons still work"
    );
    assert_eq!(
        s.on_press(Press::ConfirmHangUp, &call, t0),
        Some(Intent::HangUp)
    );
    s.sync(&Flow::Idle);
    assert_eq!(
        s.view(&Flow::Idle, &around(), t0).screen,
        identify,
        "not yet ended by the daemon, it shows once the kiosk is back at the start"
    );
    s.end_identify();
    assert_eq!(s.view(&Flow::Idle, &around(), t0).screen, Screen::Idle);
}
