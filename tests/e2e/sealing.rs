//! Protocol v2 end to end: what the broker's admin can no longer do. Appointments count only
//! when the fleet manager signed them, their names and every signalling message cross the
//! broker sealed, and a replayed signalling message is refused. Refusals are logged, never
//! with a name.

use std::time::Duration;

use praxiskiosk::fleet::codes;
use praxiskiosk::fleet::pki::FleetCa;
use praxiskiosk::fleet::trust::{Signer, seal_names};
use praxiskiosk::wire::{self, SealedNames, SessionKey, SignedAppointment, SignedBody};
use time::OffsetDateTime;

use crate::harness::{DEVICE, Doctor, Fleet, Kiosk, Probe, wait_for};

const ROOT: &str = "praxiskiosk/v1";
const PATIENT: &str = "Max Mustermann";
const DOCTOR: &str = "Anna Muster";
/// What must never cross the broker in clear: the names, and the SDP and its candidates.
const SECRETS: [&str; 5] = [PATIENT, DOCTOR, "v=0", "a=fingerprint", "candidate:"];

fn appointment_topic(id: &str) -> String {
    format!("{ROOT}/devices/{DEVICE}/appointments/{id}")
}

/// A signed appointment for the test kiosk as `signer` makes it, sealed to `device_cert`.
fn signed(signer: &Signer, device_cert: &str, id: &str) -> Vec<u8> {
    let names = SealedNames {
        doctor_name: format!("Dr. {DOCTOR}"),
        patient_name: Some(PATIENT.into()),
        session_key: SessionKey::generate(),
    };
    let now = OffsetDateTime::now_utc();
    let body = SignedBody::Appointment(SignedAppointment {
        device: DEVICE.into(),
        id: id.into(),
        session: format!("s-{id}"),
        code_hash: codes::hash("12345678"),
        not_before: now,
        not_after: now + time::Duration::hours(1),
        sealed: seal_names(device_cert, DEVICE, id, &names).unwrap(),
    });
    wire::encode(&signer.sign(&body))
}

#[test]
fn only_the_fleet_managers_signature_makes_an_appointment_or_revokes_one() {
    let fleet = Fleet::start(&[DEVICE]);
    let dir = tempfile::tempdir().unwrap();
    let kiosk = Kiosk::start_provisioned(&fleet, dir.path());
    let mut admin = Probe::connect(fleet.admin_options("admin")).unwrap();
    let bundle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fleet.bundle(DEVICE)).unwrap()).unwrap();
    let device_cert = bundle["cert_pem"].as_str().unwrap();
    let stored = |id: &str| dir.path().join(format!("state/appointments/{id}.json"));

    // Unsigned, as protocol v1 had it: what anyone with the broker's admin rights could send.
    let unsigned = format!(
        r#"{{"v":1,"id":"a-unsigned","session":"s1","code_hash":"{}","not_before":"2026-01-01T00:00:00Z","not_after":"2099-01-01T00:00:00Z","doctor_name":"Dr. {DOCTOR}","patient_name":"{PATIENT}"}}"#,
        codes::hash("12345678")
    );
    admin.publish(&appointment_topic("a-unsigned"), unsigned.as_bytes(), true);
    kiosk.wait_for_log("unsigned appointment (v1) refused", Duration::from_secs(10));

    // Signed by the fleet manager of another fleet (a second CA).
    let other = tempfile::tempdir().unwrap();
    let foreign = FleetCa::init(
        &other.path().join("ca"),
        "Fremde Praxis",
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    let (cert, key) = foreign.admin_identity().unwrap();
    let foreign = Signer::from_pem(&cert, &key).unwrap();
    admin.publish(
        &appointment_topic("a-foreign"),
        &signed(&foreign, device_cert, "a-foreign"),
        true,
    );
    kiosk.wait_for_log("is not from this fleet's CA", Duration::from_secs(10));

    // Signed by a kiosk of this fleet, with its own certificate and key.
    let by_kiosk = Signer::from_pem(device_cert, bundle["key_pem"].as_str().unwrap()).unwrap();
    admin.publish(
        &appointment_topic("a-kiosk"),
        &signed(&by_kiosk, device_cert, "a-kiosk"),
        true,
    );
    kiosk.wait_for_log("is not the fleet manager", Duration::from_secs(10));

    // A real one, from kioskctl; then an unsigned revocation (an empty payload) changes nothing.
    let real = fleet.create_appointment(DEVICE, &["--patient", PATIENT]);
    kiosk.wait_for_appointment(&real.id);
    // The admin keeps the signed appointment, to bring it back later.
    assert!(admin.subscribe(&appointment_topic(&real.id)));
    let (_, kept) = admin
        .received(Duration::from_secs(1))
        .into_iter()
        .find(|(topic, _)| *topic == appointment_topic(&real.id))
        .expect("the retained signed appointment");
    admin.publish(&appointment_topic(&real.id), b"", true);
    kiosk.wait_for_log(
        "unsigned revocation (empty payload) ignored",
        Duration::from_secs(10),
    );
    assert!(
        stored(&real.id).exists(),
        "an unsigned revocation does not revoke"
    );
    for refused in ["a-unsigned", "a-foreign", "a-kiosk"] {
        assert!(!stored(refused).exists(), "{refused} must not be stored");
    }
    // The signed revocation does.
    fleet.ok(&[
        "appointment",
        "revoke",
        "--device",
        DEVICE,
        "--id",
        &real.id,
    ]);
    wait_for("the signed revocation", Duration::from_secs(10), || {
        (!stored(&real.id).exists()).then_some(())
    });
    let reply = kiosk.control(serde_json::json!({"cmd": "enter_code", "code": real.code}));
    assert_eq!(reply["error"], "wrong_code", "{reply}");
    // Replayed after its revocation, the fleet manager's signed appointment stays revoked.
    admin.publish(&appointment_topic(&real.id), &kept, true);
    kiosk.wait_for_log("revoked appointment refused", Duration::from_secs(10));
    assert!(!stored(&real.id).exists(), "a replay brought it back");

    let log = kiosk.log();
    for name in [PATIENT, DOCTOR] {
        assert!(!log.contains(name), "a name in kioskd's log:\n{log}");
    }
}

#[test]
fn the_broker_carries_only_sealed_names_and_signalling_and_a_replay_is_refused() {
    let fleet = Fleet::start(&[DEVICE]);
    let dir = tempfile::tempdir().unwrap();
    let kiosk = Kiosk::start_provisioned(&fleet, dir.path());
    // The broker's admin reads everything under the root, from before the appointment on.
    let mut admin = Probe::connect(fleet.admin_options("watch")).unwrap();
    assert!(admin.subscribe(&format!("{ROOT}/#")));

    let appointment = fleet.create_appointment(DEVICE, &["--patient", PATIENT]);
    let link = appointment
        .link
        .clone()
        .expect("a TLS fleet's appointment has a join link");
    assert!(
        link.contains("&key="),
        "the join link carries the session key"
    );
    kiosk.wait_for_appointment(&appointment.id);
    kiosk.let_patient_in(&appointment);
    let mut doctor = Doctor::join(&fleet, &link, &[]);
    let joined = wait_for(
        "the doctor to see the patient",
        Duration::from_secs(30),
        || doctor.event("joined"),
    );
    assert_eq!(
        joined["patient"], PATIENT,
        "the sealed hello carries the real name"
    );
    kiosk.wait_for_state("in_call", Duration::from_secs(30));

    // The admin replays the doctor's hello: it would make the kiosk renew the connection.
    let seen = admin.received(Duration::from_millis(500));
    let doctor_topic = format!(
        "{ROOT}/devices/{DEVICE}/sessions/{}/doctor",
        appointment.session
    );
    let (_, first) = seen
        .iter()
        .find(|(topic, _)| *topic == doctor_topic)
        .expect("the doctor's signalling passed the broker")
        .clone();
    admin.publish(&doctor_topic, &first, false);
    kiosk.wait_for_log("sealed signalling refused", Duration::from_secs(10));
    assert!(kiosk.log().contains("a replay"), "{}", kiosk.log_tail());
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(kiosk.state(), "in_call", "the replay was not acted on");

    doctor.hang_up();
    doctor.wait_exit(Duration::from_secs(15));
    kiosk.wait_for_state("ended", Duration::from_secs(15));

    let seen = [seen, admin.received(Duration::from_millis(500))].concat();
    let retained = seen
        .iter()
        .filter(|(topic, _)| topic.contains("/appointments/"))
        .count();
    let signals: Vec<_> = seen
        .iter()
        .filter(|(topic, _)| topic.contains("/sessions/"))
        .collect();
    assert!(retained >= 1, "the retained appointment was read");
    assert!(
        signals.len() >= 6,
        "hello, offer, answer, candidates and bye: {}",
        signals.len()
    );
    for (topic, payload) in &seen {
        let text = String::from_utf8_lossy(payload);
        for secret in SECRETS {
            assert!(
                !text.contains(secret),
                "{secret:?} in clear on {topic}: {text}"
            );
        }
    }
    for (topic, payload) in signals {
        let msg: serde_json::Value = serde_json::from_slice(payload).unwrap();
        assert_eq!(msg["v"], 2, "sealed signalling on {topic}");
    }
    let log = kiosk.log();
    for name in [PATIENT, DOCTOR] {
        assert!(!log.contains(name), "a name in kioskd's log:\n{log}");
    }
}
