//! The security code both people compare (protocol.md section 5, "The security code"): in every
//! call the kiosk, `kioskctl doctor` and the doctor's page in Chromium show the same four
//! digits, keyed with the session key of a TLS fleet, and the next call has another code.

use std::time::Duration;

use praxiskiosk::call::{CodeBasis, security_code};
use praxiskiosk::wire::JoinLink;
use serde_json::Value;

use crate::harness::{Consultation, DEVICE, Doctor, Engine, Fleet, Kiosk, poll};

const CALL_SETUP: Duration = Duration::from_secs(60);

fn code(stats: &Value) -> Option<String> {
    stats["security_code"].as_str().map(String::from)
}

/// One call between the kiosk and `kioskctl doctor --link`: both sides' codes once both show
/// one, the doctor's printed code, and the code recomputed from the link's key and the two
/// certificates. Hangs up after.
fn one_call(fleet: &Fleet, kiosk: &Kiosk) -> (String, String, String, String) {
    let appointment = fleet.create_appointment(DEVICE, &["--patient", "Max Mustermann"]);
    let link = appointment.link.clone().expect("a TLS fleet's join link");
    kiosk.wait_for_appointment(&appointment.id);
    kiosk.let_patient_in(&appointment);
    let mut doctor = Doctor::join(fleet, &link, &[]);
    kiosk.wait_for_state("in_call", CALL_SETUP);
    let both = poll(CALL_SETUP, || {
        let (k, d) = (kiosk.stats(), doctor.stats()?);
        (code(&k).is_some() && code(&d).is_some()).then_some((k, d))
    });
    let (k, d) = both.unwrap_or_else(|| {
        panic!(
            "no security code: kiosk {}, doctor {:?}\n{}",
            kiosk.stats(),
            doctor.stats(),
            kiosk.log_tail()
        )
    });
    let printed = doctor
        .event("security_code")
        .expect("kioskctl doctor says the code");
    let join = JoinLink::parse(&link).unwrap();
    assert!(join.key.is_some(), "a TLS fleet's link has a session key");
    let basis = CodeBasis {
        session: appointment.session.clone(),
        key: join.key,
    };
    let expected = security_code(
        &basis,
        k["dtls"]["local_fingerprint"].as_str().unwrap(),
        d["dtls"]["local_fingerprint"].as_str().unwrap(),
    )
    .unwrap();
    doctor.hang_up();
    assert!(doctor.wait_exit(Duration::from_secs(15)).success());
    kiosk.wait_for_state("idle", Duration::from_secs(15));
    (
        code(&k).unwrap(),
        code(&d).unwrap(),
        printed["code"].as_str().unwrap().to_string(),
        expected,
    )
}

#[test]
fn the_kiosk_and_kioskctl_doctor_show_one_code_keyed_with_the_session_key() {
    let fleet = Fleet::start(&[DEVICE]);
    let dir = tempfile::tempdir().unwrap();
    let kiosk = Kiosk::start_provisioned(&fleet, dir.path());

    let mut codes = Vec::new();
    for _ in 0..2 {
        let (at_kiosk, at_doctor, printed, expected) = one_call(&fleet, &kiosk);
        assert_eq!(at_kiosk.len(), 4, "{at_kiosk}");
        assert_eq!(at_kiosk, at_doctor, "both sides show the same code");
        assert_eq!(
            printed, at_doctor,
            "kioskctl doctor prints what it computed"
        );
        assert_eq!(
            at_kiosk, expected,
            "keyed with the link's session key and both certificates"
        );
        codes.push(at_kiosk);
    }
    // New certificates and a new session: another code (the same by chance 1 in 10000).
    assert_ne!(codes[0], codes[1], "two calls, one code");
}

#[test]
fn the_kiosk_and_the_doctors_page_in_chromium_show_one_code() {
    page_and_kiosk_show_one_code(Engine::Chromium);
}

/// Firefox's DTLS (NSS) and its statistics, against the same kiosk.
#[test]
fn the_kiosk_and_the_doctors_page_in_firefox_show_one_code() {
    page_and_kiosk_show_one_code(Engine::Firefox);
}

fn page_and_kiosk_show_one_code(engine: Engine) {
    let mut c = Consultation::start_in(engine, "vp8");
    let mut codes = Vec::new();
    for _ in 0..2 {
        c.join();
        let both = poll(CALL_SETUP, || {
            let (page, kiosk) = (c.browser.stats(), c.kiosk.stats());
            let shown = page["security_code_shown"].as_str().map(String::from);
            (code(&page).is_some() && code(&kiosk).is_some() && shown.is_some())
                .then(|| (code(&page).unwrap(), shown.unwrap(), code(&kiosk).unwrap()))
        });
        let (page, shown, kiosk) = both.unwrap_or_else(|| {
            panic!(
                "no security code: page {}, kiosk {}\nconsole: {}",
                c.browser.stats(),
                c.kiosk.stats(),
                c.browser.console()
            )
        });
        assert_eq!(kiosk.len(), 4, "{kiosk}");
        assert_eq!(page, kiosk, "the page and the kiosk show the same code");
        assert_eq!(shown, page, "the call view shows it");
        codes.push(kiosk);
        c.browser.click("hangup");
        c.wait_for_page("ended", Duration::from_secs(5));
        c.kiosk.wait_for_state("idle", Duration::from_secs(15));
    }
    assert_ne!(codes[0], codes[1], "two calls, one code");
}
