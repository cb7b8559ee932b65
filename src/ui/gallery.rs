//! One example of every screen and state, for `kioskd --render-screens`, the README and the layout
//! tests. The names sort in the order a consultation goes; the screens outside a consultation
//! (not set up yet, identified by the fleet) come first and last.

use super::text::Locale;
use super::view::{
    CallNotice, CallView, CodeNotice, Problem, ProvisionNotice, Quality, Screen, SecurityCode,
    StaffCheck, ViewModel,
};

pub fn gallery(locale: Locale) -> Vec<(&'static str, ViewModel)> {
    let doctor = "Dr. med. Anna Muster".to_string();
    let base = ViewModel {
        locale,
        room: "Sprechzimmer 2".into(),
        clock: "10:42".into(),
        broker_online: true,
        screen: Screen::Idle,
    };
    let with = |screen: Screen| ViewModel {
        screen,
        ..base.clone()
    };
    let call = |muted, camera_off, quality, confirm_hang_up, notice| {
        with(Screen::InCall(CallView {
            duration_s: 754,
            muted,
            camera_off,
            quality,
            confirm_hang_up,
            notice,
            security_code: SecurityCode::parse("0472"),
        }))
    };
    let check = StaffCheck {
        camera_ok: true,
        microphone_ok: false,
        mic_level: 0.35,
        echo: crate::ui::view::EchoCanceller::Active,
        version: "0.1.0".into(),
    };
    vec![
        (
            "00-not-provisioned",
            with(Screen::NotProvisioned { notice: None }),
        ),
        (
            "00-not-provisioned-bundle-refused",
            with(Screen::NotProvisioned {
                notice: Some(ProvisionNotice::BundleRefused),
            }),
        ),
        ("01-idle", base.clone()),
        (
            "01-idle-broker-offline",
            ViewModel {
                broker_online: false,
                ..base.clone()
            },
        ),
        (
            "02-code-entry",
            with(Screen::CodeEntry {
                entered: "1234".into(),
                notice: None,
            }),
        ),
        (
            "02-code-wrong",
            with(Screen::CodeEntry {
                entered: String::new(),
                notice: Some(CodeNotice::Wrong { attempts_left: 3 }),
            }),
        ),
        (
            "02-code-busy",
            with(Screen::CodeEntry {
                entered: String::new(),
                notice: Some(CodeNotice::Busy),
            }),
        ),
        (
            "02-code-lockout",
            with(Screen::CodeEntry {
                entered: String::new(),
                notice: Some(CodeNotice::LockedOut { remaining_s: 57 }),
            }),
        ),
        (
            "03-patient-name",
            with(Screen::PatientName {
                name: "Jürgen Weiß".into(),
                shift: false,
            }),
        ),
        (
            "03-patient-name-shift",
            with(Screen::PatientName {
                name: String::new(),
                shift: true,
            }),
        ),
        (
            "04-consent",
            with(Screen::Consent {
                doctor: doctor.clone(),
            }),
        ),
        (
            "05-waiting",
            with(Screen::Waiting {
                doctor: doctor.clone(),
            }),
        ),
        ("06-in-call", call(false, false, Quality::Good, false, None)),
        (
            "06-in-call-muted-poor",
            call(true, true, Quality::Poor, false, None),
        ),
        (
            "06-in-call-confirm-hang-up",
            call(false, false, Quality::Fair, true, None),
        ),
        (
            "06-in-call-interrupted",
            call(
                false,
                false,
                Quality::Poor,
                false,
                Some(CallNotice::Interrupted),
            ),
        ),
        (
            "06-in-call-video-paused",
            call(
                false,
                false,
                Quality::Poor,
                false,
                Some(CallNotice::VideoPaused),
            ),
        ),
        (
            "06-in-call-relayed",
            call(
                false,
                false,
                Quality::Good,
                false,
                Some(CallNotice::Relayed),
            ),
        ),
        ("07-ended", with(Screen::Ended { duration_s: 754 })),
        (
            "08-problem-doctor-timeout",
            with(Screen::Problem(Problem::DoctorDidNotCome)),
        ),
        (
            "08-problem-p2p-failed",
            with(Screen::Problem(Problem::NoDirectConnection)),
        ),
        (
            "08-problem-connection-lost",
            with(Screen::Problem(Problem::ConnectionLost)),
        ),
        (
            "08-problem-appointment-revoked",
            with(Screen::Problem(Problem::AppointmentWithdrawn)),
        ),
        (
            "08-problem-camera",
            with(Screen::Problem(Problem::CameraMissing)),
        ),
        (
            "08-problem-microphone",
            with(Screen::Problem(Problem::MicrophoneMissing)),
        ),
        (
            "08-problem-security-check",
            with(Screen::Problem(Problem::SecurityCheckFailed)),
        ),
        (
            "09-staff-pin",
            with(Screen::StaffPin {
                entered: 2,
                notice: None,
            }),
        ),
        (
            "09-staff-check",
            ViewModel {
                broker_online: false,
                ..with(Screen::StaffCheck(check))
            },
        ),
        (
            "10-identify",
            with(Screen::Identify {
                room: base.room.clone(),
                device: "praxis-muster-kiosk-02".into(),
            }),
        ),
        ("11-test-call", with(Screen::TestCall { left_s: 42 })),
    ]
}
