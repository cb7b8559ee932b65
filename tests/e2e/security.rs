//! The broker as `kioskctl broker config` sets it up refuses everyone without a valid fleet
//! certificate or session login, and lets each one reach only their own topics.

use std::time::Duration;

use praxiskiosk::fleet::tls::{ClientIdentity, TlsMaterial};
use praxiskiosk::wire::JoinLink;

use crate::harness::{Fleet, Probe};

const ROOT: &str = "praxiskiosk/v1/devices";

fn topic(device: &str, rest: &str) -> String {
    format!("{ROOT}/{device}/{rest}")
}

#[test]
fn only_valid_fleet_certificates_connect() {
    let fleet = Fleet::start(&["kiosk-a"]);
    Probe::connect(fleet.device_options("kiosk-a", "a")).expect("an enrolled kiosk connects");
    Probe::connect(fleet.admin_options("admin")).expect("the fleet manager connects");

    let refused = Probe::connect(fleet.anonymous_options("anonymous"));
    assert!(refused.is_err(), "a client without certificate is refused");

    // A certificate of another fleet's CA, presented to this fleet's broker.
    let other = tempfile::tempdir().unwrap();
    let other_ca = other.path().join("ca");
    let kioskctl = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kioskctl"))
            .arg("--ca-dir")
            .arg(&other_ca)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    kioskctl(&["ca", "init", "Fremde Praxis"]);
    let foreign_bundle = other.path().join("foreign.json");
    kioskctl(&[
        "device",
        "enroll",
        "kiosk-a",
        "--room",
        "x",
        "--offline",
        "--out",
        foreign_bundle.to_str().unwrap(),
    ]);
    let foreign: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&foreign_bundle).unwrap()).unwrap();
    let material = TlsMaterial {
        ca_pem: std::fs::read_to_string(fleet.ca_dir().join("ca.pem")).unwrap(),
        client: Some(ClientIdentity {
            cert_pem: foreign["cert_pem"].as_str().unwrap().into(),
            key_pem: foreign["key_pem"].as_str().unwrap().into(),
        }),
    };
    let opts = crate::harness::fleet_options(&fleet.device_url(), material, "foreign");
    assert!(
        Probe::connect(opts).is_err(),
        "a certificate from another CA is refused, even with a known device id"
    );

    // A kiosk enrolled while the broker runs can connect at once; once revoked, it cannot.
    fleet.ok(&[
        "device",
        "enroll",
        "kiosk-r",
        "--room",
        "Raum 2",
        "--out",
        fleet.bundle("kiosk-r").to_str().unwrap(),
    ]);
    let mut revoked = Probe::connect(fleet.device_options("kiosk-r", "r1"))
        .expect("a kiosk enrolled with the broker running connects");
    let crl = fleet.broker_dir().join("crl.pem");
    fleet.ok(&[
        "device",
        "revoke",
        "kiosk-r",
        "--crl-out",
        crl.to_str().unwrap(),
    ]);
    assert!(
        revoked.disconnected(Duration::from_secs(5)),
        "revoking disconnects the kiosk at once"
    );
    // The broker reads the new CRL when it is reloaded.
    fleet.reload_broker();
    let why = crate::harness::wait_for(
        "the reload to refuse the certificate",
        Duration::from_secs(10),
        || Probe::connect(fleet.device_options("kiosk-r", "r2")).err(),
    );
    assert!(
        why.to_lowercase().contains("revoked"),
        "refused at TLS by the CRL: {why}"
    );
    Probe::connect(fleet.device_options("kiosk-a", "a2")).expect("the other kiosk still connects");
}

#[test]
fn devices_and_doctors_reach_only_their_own_topics() {
    let fleet = Fleet::start(&["kiosk-a", "kiosk-b"]);
    let mut a = Probe::connect(fleet.device_options("kiosk-a", "a")).unwrap();
    let mut admin = Probe::connect(fleet.admin_options("admin")).unwrap();
    assert!(admin.subscribe(&format!("{ROOT}/#")));

    for own in ["config", "appointments/+", "commands", "sessions/+/doctor"] {
        assert!(
            a.subscribe(&topic("kiosk-a", own)),
            "kiosk-a may read its {own}"
        );
    }
    for foreign in [
        topic("kiosk-b", "config"),
        topic("kiosk-b", "appointments/+"),
        topic("kiosk-b", "sessions/+/doctor"),
        topic("kiosk-a", "state"),
        topic("+", "config"),
        "#".to_string(),
    ] {
        assert!(!a.subscribe(&foreign), "kiosk-a must not read {foreign}");
    }
    a.publish(
        &topic("kiosk-b", "state"),
        br#"{"v":1,"state":"idle"}"#,
        false,
    );
    a.publish(&topic("kiosk-b", "sessions/s1/kiosk"), b"{}", false);
    a.publish(&topic("kiosk-a", "config"), b"{}", false);
    a.publish(
        &topic("kiosk-a", "state"),
        br#"{"v":1,"state":"idle"}"#,
        false,
    );
    let seen: Vec<String> = admin
        .received(Duration::from_secs(1))
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(
        seen,
        [topic("kiosk-a", "state")],
        "only kiosk-a's own state got through"
    );

    // Two appointments, two doctors: each reaches one session of one kiosk.
    let first = fleet.create_appointment("kiosk-a", &[]);
    let second = fleet.create_appointment("kiosk-a", &[]);
    let link = JoinLink::parse(
        first
            .link
            .as_deref()
            .expect("a TLS broker gives a join link"),
    )
    .unwrap();
    assert_eq!(
        (link.device.as_str(), link.session.as_str()),
        ("kiosk-a", first.session.as_str())
    );
    let mut doctor = Probe::connect(fleet.doctor_options(&link.username, &link.password, "d1"))
        .expect("the doctor's session login works");
    assert!(doctor.subscribe(&topic(
        "kiosk-a",
        &format!("sessions/{}/kiosk", first.session)
    )));
    for foreign in [
        topic("kiosk-a", &format!("sessions/{}/kiosk", second.session)),
        topic("kiosk-a", "sessions/+/kiosk"),
        topic("kiosk-a", &format!("sessions/{}/doctor", first.session)),
        topic("kiosk-a", "config"),
        topic("kiosk-a", "appointments/+"),
        topic("kiosk-b", "state"),
    ] {
        assert!(
            !doctor.subscribe(&foreign),
            "the doctor must not read {foreign}"
        );
    }
    let own = topic("kiosk-a", &format!("sessions/{}/doctor", first.session));
    for target in [
        own.clone(),
        topic("kiosk-a", &format!("sessions/{}/doctor", second.session)),
        topic("kiosk-a", "commands"),
        topic("kiosk-a", "state"),
    ] {
        doctor.publish(&target, b"{}", false);
    }
    let seen: Vec<String> = admin
        .received(Duration::from_secs(1))
        .into_iter()
        .map(|(t, _)| t)
        .filter(|t| !t.contains("/appointments/"))
        .collect();
    assert_eq!(
        seen,
        [own],
        "only the doctor's own session side got through"
    );
    assert!(
        Probe::connect(fleet.doctor_options(&link.username, "wrong password", "d2")).is_err(),
        "a wrong password is refused"
    );

    // Revoking the appointment ends the credential, also for a doctor who is connected.
    fleet.ok(&[
        "appointment",
        "revoke",
        "--device",
        "kiosk-a",
        "--id",
        &first.id,
    ]);
    assert!(
        doctor.disconnected(Duration::from_secs(5)),
        "revoke disconnects the doctor"
    );
    assert!(
        Probe::connect(fleet.doctor_options(&link.username, &link.password, "d3")).is_err(),
        "a revoked appointment's login is refused"
    );

    // An appointment's end ends its credential (the sweep a timer runs next to the broker).
    let short = fleet.create_appointment("kiosk-a", &["--until", "+2s"]);
    let short_link = JoinLink::parse(short.link.as_deref().unwrap()).unwrap();
    let login = || fleet.doctor_options(&short_link.username, &short_link.password, "d4");
    Probe::connect(login()).expect("valid until its end");
    std::thread::sleep(Duration::from_secs(3));
    fleet.ok(&["broker", "sweep"]);
    assert!(
        Probe::connect(login()).is_err(),
        "refused after the appointment ended"
    );
}

/// A doctor's link is no way to throw a kiosk off the broker: on the doctors' listeners the login
/// is the client id, whatever id the doctor's client asks for.
#[test]
fn a_doctor_cannot_take_over_a_kiosks_connection_by_its_client_id() {
    let fleet = Fleet::start(&["kiosk-a", "kiosk-b"]);
    let mut a = Probe::connect(fleet.device_options("kiosk-a", "kiosk-kiosk-a")).unwrap();
    let appointment = fleet.create_appointment("kiosk-a", &[]);
    let link = JoinLink::parse(appointment.link.as_deref().unwrap()).unwrap();
    // A doctor's login with the kiosk's id: connected, but under its own name.
    let _doctor =
        Probe::connect(fleet.doctor_options(&link.username, &link.password, "kiosk-kiosk-a"))
            .expect("the doctor's login works");
    assert!(
        !a.disconnected(Duration::from_secs(2)),
        "kiosk-a was thrown off the broker"
    );
    assert!(
        a.subscribe(&topic("kiosk-a", "config")),
        "kiosk-a is still there"
    );
}
