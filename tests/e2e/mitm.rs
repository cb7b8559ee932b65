//! A man in the middle with the broker admin's rights (docs/protocol.md section 10.4): the doctor
//! reaches his broker, a copy of the fleet's, and his relay carries everything between the two
//! (`harness/mitm`). Without the session key, every message he altered or made is refused on
//! both sides and no call begins. With the key (the test gives him the one from the doctor's
//! link, as a stolen fleet manager's machine would), he opens and reseals the signalling,
//! answers the kiosk and offers to the doctor with two peers of his own and relays the media
//! between them: both people's fingerprint checks pass, because each SDP they get names the
//! middle's certificate, and only the security codes, which differ, show him.
//!
//! The key stands in for the test-only "seal off" switch the issue had in mind: it gives the
//! attacker every power that switch would, and needs no switch in kioskd or kioskctl.

use std::process::Command;
use std::time::Duration;

use praxiskiosk::call::{CodeBasis, security_code};
use praxiskiosk::wire::JoinLink;
use serde_json::Value;

use crate::harness::mitm::{Attacker, Mode};
use crate::harness::{DEVICE, Doctor, Fleet, Kiosk, heavy_media, poll};

const PATIENT: &str = "Max Mustermann";
const CALL_SETUP: Duration = Duration::from_secs(60);

/// A fleet, its kiosk with an appointment the patient has agreed to, the man in the middle in
/// place, and the doctor joining from the link on his broker.
struct Attacked {
    kiosk: Kiosk,
    attacker: Attacker,
    doctor: Doctor,
    link: JoinLink,
    _fleet: Fleet,
    _dir: tempfile::TempDir,
}

fn attacked(mode: impl FnOnce(&JoinLink) -> Mode) -> Attacked {
    let fleet = Fleet::start(&[DEVICE]);
    let dir = tempfile::tempdir().unwrap();
    let kiosk = Kiosk::start_provisioned(&fleet, dir.path());
    let appointment = fleet.create_appointment(DEVICE, &["--patient", PATIENT]);
    let url = appointment.link.clone().expect("a TLS fleet's join link");
    let link = JoinLink::parse(&url).unwrap();
    let attacker = Attacker::start(&fleet, &appointment.session, mode(&link));
    kiosk.wait_for_appointment(&appointment.id);
    kiosk.let_patient_in(&appointment);
    let doctor = Doctor::join_at(
        Command::new(env!("CARGO_BIN_EXE_kioskctl")),
        &fleet,
        &attacker.doctor_url(),
        &url,
        &["--ice-local", "127.0.0.1"],
    );
    Attacked {
        kiosk,
        attacker,
        doctor,
        link,
        _fleet: fleet,
        _dir: dir,
    }
}

#[test]
fn without_the_session_key_every_altered_or_added_message_is_refused_on_both_sides() {
    let scene = attacked(|_| Mode::Keyless);
    let (kiosk, attacker, doctor) = (&scene.kiosk, &scene.attacker, &scene.doctor);
    let refusals = |doctor: &Doctor| -> Vec<String> {
        let reason = |e: Value| e["reason"].as_str().unwrap_or_default().to_string();
        doctor.events("refused").into_iter().map(reason).collect()
    };
    let refused = poll(Duration::from_secs(30), || {
        let log = kiosk.log();
        let at_doctor = refusals(doctor);
        (log.contains("does not open")
            && log.contains("signalling in clear refused")
            && at_doctor.iter().any(|r| r.contains("does not open"))
            && at_doctor.iter().any(|r| r.contains("in clear")))
        .then_some(())
    });
    assert!(
        refused.is_some(),
        "both sides refuse an altered message and one in clear: the doctor {:?}, the middle {:?}\n{}",
        refusals(doctor),
        attacker.report(),
        kiosk.log_matching(&["refused"])
    );
    let report = attacker.report();
    assert!(report.altered >= 2, "{report:?}");
    assert!(report.injected >= 2, "{report:?}");
    // Nothing the middle sent was acted on: no name crossed, no call began.
    std::thread::sleep(Duration::from_secs(2));
    assert!(doctor.event("joined").is_none(), "the doctor saw a patient");
    assert_eq!(kiosk.state(), "waiting");
    let log = kiosk.log();
    assert!(!log.contains(PATIENT) && !log.contains("Mallory"), "{log}");
}

/// The fingerprint an SDP names, as in `a=fingerprint:sha-256 AB:…`.
fn named(sdp: &str) -> String {
    sdp.lines()
        .find_map(|l| l.trim_end().strip_prefix("a=fingerprint:sha-256 "))
        .expect("an SDP with a SHA-256 fingerprint")
        .to_string()
}

fn fingerprint(stats: &Value, which: &str) -> String {
    stats["dtls"][which]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn with_the_session_key_he_comes_between_and_only_the_security_codes_show_it() {
    let _heavy = heavy_media();
    let mut scene =
        attacked(|link| Mode::WithKey(link.key.clone().expect("the link's session key")));
    let (kiosk, attacker, link) = (&scene.kiosk, &scene.attacker, scene.link.clone());
    let doctor = &mut scene.doctor;
    // The doctor's picture reached the kiosk, and the kiosk's the doctor, through the middle.
    kiosk.wait_for_state("in_call", CALL_SETUP);
    let both = poll(CALL_SETUP, || {
        let (k, d) = (kiosk.stats(), doctor.stats()?);
        let frames = |s: &Value| s["video_frames_received"].as_u64().unwrap_or(0);
        (frames(&k) >= 10
            && frames(&d) >= 10
            && k["security_code"].is_string()
            && d["security_code"].is_string())
        .then_some((k, d))
    });
    let (k, d) = both.unwrap_or_else(|| {
        panic!(
            "no call through the middle: kiosk {}, doctor {:?}, middle {:?}\n{}",
            kiosk.stats(),
            doctor.stats(),
            attacker.report(),
            kiosk.log_tail()
        )
    });
    let joined = doctor.event("joined").expect("the doctor saw the patient");
    assert_eq!(joined["patient"], PATIENT, "the middle passed the names on");

    // Each fingerprint check passed: the SDP each person got names the middle's certificate.
    let report = attacker.report();
    let middle_to_kiosk = named(report.answer_to_kiosk.as_deref().unwrap());
    let middle_to_doctor = named(report.offer_to_doctor.as_deref().unwrap());
    assert_eq!(
        fingerprint(&k, "remote_fingerprint"),
        middle_to_kiosk,
        "{k}"
    );
    assert_eq!(
        fingerprint(&d, "remote_fingerprint"),
        middle_to_doctor,
        "{d}"
    );
    assert!(doctor.event("bye").is_none(), "nobody ended the call");

    // The codes: each side's is right for the certificates it saw, and they differ.
    let basis = CodeBasis {
        session: link.session,
        key: link.key,
    };
    let at_kiosk = k["security_code"].as_str().unwrap();
    let at_doctor = d["security_code"].as_str().unwrap();
    let kiosk_fp = fingerprint(&k, "local_fingerprint");
    let doctor_fp = fingerprint(&d, "local_fingerprint");
    assert_eq!(
        Some(at_kiosk.to_string()),
        security_code(&basis, &kiosk_fp, &middle_to_kiosk)
    );
    assert_eq!(
        Some(at_doctor.to_string()),
        security_code(&basis, &middle_to_doctor, &doctor_fp)
    );
    // Keyed by four different certificates, the two codes are equal by chance 1 in 10 000.
    assert_ne!(
        at_kiosk, at_doctor,
        "the security codes did not show the middle"
    );
    eprintln!("man in the middle: kiosk shows {at_kiosk}, doctor shows {at_doctor}");

    doctor.hang_up();
    doctor.wait_exit(Duration::from_secs(15));
    kiosk.wait_for_state("ended", Duration::from_secs(15));
}
