use time::OffsetDateTime;

use super::*;
use crate::fleet::pki::FleetCa;
use crate::wire::{SessionKey, SignedRevoke};

struct Fleet {
    _dir: tempfile::TempDir,
    ca: FleetCa,
    device_cert: String,
    device_key: String,
}

fn fleet(name: &str) -> Fleet {
    let dir = tempfile::tempdir().unwrap();
    let now = OffsetDateTime::now_utc();
    let mut ca = FleetCa::init(&dir.path().join("ca"), name, now).unwrap();
    let issued = ca.issue_device("k1", "Raum 1", now).unwrap();
    assert_eq!(ca.device_cert("k1").unwrap(), issued.cert_pem);
    Fleet {
        _dir: dir,
        ca,
        device_cert: issued.cert_pem,
        device_key: issued.key_pem,
    }
}

fn admin(f: &Fleet) -> Signer {
    let (cert, key) = f.ca.admin_identity().unwrap();
    Signer::from_pem(&cert, &key).unwrap()
}

fn appointment(f: &Fleet, device: &str, id: &str) -> SignedBody {
    let names = SealedNames {
        doctor_name: "Dr. med. Anna Muster".into(),
        patient_name: Some("Max Mustermann".into()),
        session_key: SessionKey([3; 32]),
    };
    let sealed = seal_names(&f.device_cert, device, id, &names).unwrap();
    SignedBody::Appointment(SignedAppointment {
        device: device.into(),
        id: id.into(),
        session: "s-1".into(),
        code_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
        not_before: OffsetDateTime::now_utc(),
        not_after: OffsetDateTime::now_utc() + time::Duration::hours(1),
        sealed,
    })
}

fn kiosk(f: &Fleet) -> Trust {
    Trust::new("k1", f.ca.ca_pem(), &f.device_key).unwrap()
}

#[test]
fn a_signed_appointment_opens_with_names_and_key_and_a_signed_revoke_revokes() {
    let f = fleet("f");
    let msg = admin(&f).sign(&appointment(&f, "k1", "a-1"));
    let now = OffsetDateTime::now_utc();
    let Accepted::Appointment(a) = kiosk(&f).accept("a-1", &msg, now).unwrap() else {
        panic!("not an appointment")
    };
    assert_eq!(a.doctor_name, "Dr. med. Anna Muster");
    assert_eq!(a.patient_name.as_deref(), Some("Max Mustermann"));
    assert_eq!(a.session_key, Some(SessionKey([3; 32])));
    let revoke = admin(&f).sign(&SignedBody::Revoke(SignedRevoke {
        device: "k1".into(),
        id: "a-1".into(),
        at: now,
    }));
    assert_eq!(
        kiosk(&f).accept("a-1", &revoke, now),
        Ok(Accepted::Revoked("a-1".into()))
    );
    // Nothing of the names is readable on the wire.
    let wire = String::from_utf8(crate::wire::encode(&msg)).unwrap();
    let body = String::from_utf8(from_b64url(&msg.body).unwrap()).unwrap();
    for text in [&wire, &body] {
        assert!(!text.contains("Muster"), "{text}");
    }
}

#[test]
fn a_kiosk_key_a_foreign_fleet_and_a_changed_body_are_refused() {
    let f = fleet("f");
    let now = OffsetDateTime::now_utc();
    let body = appointment(&f, "k1", "a-1");
    // Signed with the kiosk's own key: a fleet certificate, but not the fleet manager's.
    let by_kiosk = Signer::from_pem(&f.device_cert, &f.device_key)
        .unwrap()
        .sign(&body);
    assert_eq!(
        kiosk(&f).accept("a-1", &by_kiosk, now),
        Err(Refusal::Signature(SignatureError::NotFleetManager(
            "k1".into()
        )))
    );
    // Signed by the fleet manager of another fleet.
    let other = fleet("other");
    let foreign = admin(&other).sign(&body);
    assert!(matches!(
        kiosk(&f).accept("a-1", &foreign, now),
        Err(Refusal::Signature(SignatureError::Untrusted(_)))
    ));
    // A body changed after signing.
    let mut changed = admin(&f).sign(&body);
    changed.body = admin(&f).sign(&appointment(&f, "k1", "a-2")).body;
    assert_eq!(
        kiosk(&f).accept("a-1", &changed, now),
        Err(Refusal::Signature(SignatureError::BadSignature))
    );
    // After the fleet manager's certificate expired (5 years).
    let later = now + time::Duration::days(6 * 365);
    assert!(matches!(
        kiosk(&f).accept("a-1", &admin(&f).sign(&body), later),
        Err(Refusal::Signature(SignatureError::Untrusted(_)))
    ));
}

#[test]
fn a_signed_appointment_cannot_move_to_another_kiosk_or_topic() {
    let f = fleet("f");
    let now = OffsetDateTime::now_utc();
    let msg = admin(&f).sign(&appointment(&f, "k1", "a-1"));
    assert_eq!(
        kiosk(&f).accept("a-9", &msg, now),
        Err(Refusal::OtherTopic {
            signed: "a-1".into(),
            topic: "a-9".into()
        })
    );
    let elsewhere = Trust::new("k2", f.ca.ca_pem(), &f.device_key).unwrap();
    assert_eq!(
        elsewhere.accept("a-1", &msg, now),
        Err(Refusal::OtherDevice("k1".into()))
    );
    // Sealed for k1 but signed as if for k2: the sealed part is bound to k1.
    let mut body = appointment(&f, "k1", "a-1");
    if let SignedBody::Appointment(a) = &mut body {
        a.device = "k2".into();
    }
    assert!(matches!(
        elsewhere.accept("a-1", &admin(&f).sign(&body), now),
        Err(Refusal::Sealed(_))
    ));
}

fn consent(device: &str) -> SignedBody {
    SignedBody::Consent(crate::wire::SignedConsent {
        device: device.into(),
        session: "s-1".into(),
        patient: "Max Mustermann".into(),
        consented_at: OffsetDateTime::now_utc().replace_nanosecond(0).unwrap(),
        text: crate::ui::text::consent_text_version(),
    })
}

#[test]
fn a_consent_receipt_verifies_against_the_kiosk_that_signed_it_and_nothing_else() {
    let f = fleet("f");
    let verifier = Verifier::from_pem(f.ca.ca_pem()).unwrap();
    let kiosk_key = Signer::from_pem(&f.device_cert, &f.device_key).unwrap();
    let receipt = kiosk_key.sign(&consent("k1"));
    let SignedBody::Consent(signed) = consent("k1") else {
        unreachable!()
    };
    let read = verifier.verify_consent(&receipt).unwrap();
    assert_eq!(
        (read.device.as_str(), read.patient.as_str()),
        ("k1", "Max Mustermann")
    );
    assert_eq!(read.text, signed.text);

    // Naming another kiosk, signed by the fleet manager, altered, or from another fleet: no.
    let other = kiosk_key.sign(&consent("k2"));
    assert!(matches!(
        verifier.verify_consent(&other),
        Err(SignatureError::Body(_))
    ));
    let by_admin = admin(&f).sign(&consent(crate::fleet::pki::ADMIN_ID));
    assert!(verifier.verify_consent(&by_admin).is_err());
    let mut altered = receipt.clone();
    let body = crate::wire::from_b64url(&altered.body).unwrap();
    let forged = String::from_utf8(body).unwrap().replace("Max", "Moritz");
    altered.body = crate::wire::b64url(forged.as_bytes());
    assert_eq!(
        verifier.verify_consent(&altered),
        Err(SignatureError::BadSignature)
    );
    let elsewhere = Verifier::from_pem(fleet("g").ca.ca_pem()).unwrap();
    assert!(matches!(
        elsewhere.verify_consent(&receipt),
        Err(SignatureError::Untrusted(_))
    ));
    // A receipt is no appointment, whoever signed it.
    let now = OffsetDateTime::now_utc();
    assert!(kiosk(&f).accept("s-1", &by_admin, now).is_err());
    assert!(kiosk(&f).accept("s-1", &receipt, now).is_err());
}

fn test_call(f: &Fleet, device: &str, sealed_for: &str) -> SignedBody {
    let names = SealedNames {
        doctor_name: "Praxis-IT".into(),
        patient_name: None,
        session_key: SessionKey([5; 32]),
    };
    SignedBody::TestCall(crate::wire::SignedTestCall {
        device: device.into(),
        id: "test-1".into(),
        session: "t-1".into(),
        not_after: OffsetDateTime::now_utc() + time::Duration::seconds(90),
        sealed: seal_names(&f.device_cert, device, sealed_for, &names).unwrap(),
    })
}

#[test]
fn a_test_call_opens_only_signed_by_the_fleet_manager_for_this_kiosk() {
    let f = fleet("f");
    let now = OffsetDateTime::now_utc();
    let msg = admin(&f).sign(&test_call(&f, "k1", "test-1"));
    let call = kiosk(&f).accept_test_call(&msg, now).unwrap();
    assert_eq!((call.id.as_str(), call.session.as_str()), ("test-1", "t-1"));
    assert_eq!(call.key, SessionKey([5; 32]));

    // Another kiosk's, or sealed for another request, or signed by a kiosk's own key.
    let other = admin(&f).sign(&test_call(&f, "k2", "test-1"));
    assert!(matches!(
        kiosk(&f).accept_test_call(&other, now),
        Err(Refusal::OtherDevice(_))
    ));
    let moved = admin(&f).sign(&test_call(&f, "k1", "test-2"));
    assert!(matches!(
        kiosk(&f).accept_test_call(&moved, now),
        Err(Refusal::Sealed(_))
    ));
    let by_kiosk = Signer::from_pem(&f.device_cert, &f.device_key)
        .unwrap()
        .sign(&test_call(&f, "k1", "test-1"));
    assert!(matches!(
        kiosk(&f).accept_test_call(&by_kiosk, now),
        Err(Refusal::Signature(_))
    ));
    // A session that is no topic level (a wildcard would subscribe the kiosk to every one).
    let mut wild = test_call(&f, "k1", "test-1");
    if let SignedBody::TestCall(t) = &mut wild {
        t.session = "+".into();
    }
    assert_eq!(
        kiosk(&f).accept_test_call(&admin(&f).sign(&wild), now),
        Err(Refusal::TestCallId("session"))
    );
    // Neither is an appointment a test call, nor a test call an appointment.
    let appointment = admin(&f).sign(&appointment(&f, "k1", "test-1"));
    assert!(kiosk(&f).accept_test_call(&appointment, now).is_err());
    assert!(kiosk(&f).accept("test-1", &msg, now).is_err());
}
