//! The hand-made seeds of every target's corpus, from the unit tests and the examples of
//! docs/protocol.md, and the test fleet (`fixtures/fleet/`: a CA and the key of its kiosk
//! `kiosk-01`, made for the fuzzer alone and used nowhere else). Ignored: run it on purpose,
//! `cargo test --test fuzz -- --ignored write_seeds`, and commit what it wrote.
//! What the fuzzer adds to a corpus (`make fuzz`) is kept under `target/`.

use std::fs;
use std::path::{Path, PathBuf};

use praxiskiosk::fleet::pki::FleetCa;
use praxiskiosk::fleet::trust::{Signer, seal_names};
use praxiskiosk::wire::{
    self, JoinLink, ProvisionBundle, SealedNames, SessionKey, SignedAppointment, SignedBody,
    SignedRevoke, V1,
};
use time::macros::datetime;

use crate::harness::mqtt_inbound::DEVICE;

fn here() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz")
}

fn write(target: &str, name: &str, data: &[u8]) {
    let dir = here().join("corpus").join(target);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), data).unwrap();
}

/// A length byte and the text, as `Script::text` reads it.
fn text(out: &mut Vec<u8>, text: &str) {
    out.push(u8::try_from(text.len()).expect("seed texts are short"));
    out.extend_from_slice(text.as_bytes());
}

fn mqtt(signed: bool, kind: u8, id: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![u8::from(signed), kind];
    text(&mut out, id);
    out.extend_from_slice(payload);
    out
}

const CODE_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";

fn mqtt_seeds(ca: &FleetCa, device_cert: &str) {
    let v1: [(&str, u8, &str, &str); 11] = [
        (
            "config",
            0,
            "",
            r#"{"v":1,"display_name":"Sprechzimmer 2","locale":"de","ice_servers":["stun:host:3478"],"allow_relay":false}"#,
        ),
        (
            "appointment-v1",
            1,
            "a-20261128-1",
            &format!(
                r#"{{"v":1,"id":"a-20261128-1","session":"s-7f3c9e","code_hash":"{CODE_HASH}","not_before":"2026-11-28T09:45:00Z","not_after":"2026-11-28T10:30:00Z","doctor_name":"Dr. med. Anna Muster","patient_name":"Max Mustermann"}}"#
            ),
        ),
        ("revoke-v1", 1, "a-20261128-1", ""),
        ("command", 2, "", r#"{"v":1,"cmd":"end_call"}"#),
        ("sync", 3, "", "sync-1764323880"),
        (
            "hello",
            4,
            "s-7f3c9e",
            r#"{"v":1,"type":"hello","name":"Dr. med. Anna Muster","reply":true}"#,
        ),
        (
            "answer",
            4,
            "s-7f3c9e",
            r#"{"v":1,"type":"answer","sdp":"v=0\r\no=- 4611 0 IN IP4 0.0.0.0\r\n"}"#,
        ),
        (
            "ice",
            4,
            "s-7f3c9e",
            r#"{"v":1,"type":"ice","mline":0,"candidate":"candidate:1 1 UDP 2015363327 192.168.1.20 51234 typ host"}"#,
        ),
        (
            "bye",
            4,
            "s-7f3c9e",
            r#"{"v":1,"type":"bye","reason":"hangup"}"#,
        ),
        (
            "sealed-signal",
            4,
            "s-7f3c9e",
            r#"{"v":2,"from":"doctor","seq":1764323880123,"box":"nR38mu2I9u3a"}"#,
        ),
        ("own-state", 6, "", r#"{"v":1,"state":"offline"}"#),
    ];
    for (name, kind, id, payload) in v1 {
        write(
            "mqtt_inbound",
            name,
            &mqtt(false, kind, id, payload.as_bytes()),
        );
    }
    let (cert, key) = ca.admin_identity().unwrap();
    let signer = Signer::from_pem(&cert, &key).unwrap();
    let names = SealedNames {
        doctor_name: "Dr. med. Anna Muster".into(),
        patient_name: Some("Max Mustermann".into()),
        session_key: SessionKey([3; 32]),
    };
    let id = "a-20261128-1";
    let appointment = SignedBody::Appointment(SignedAppointment {
        device: DEVICE.into(),
        id: id.into(),
        session: "s-7f3c9e".into(),
        code_hash: CODE_HASH.into(),
        not_before: datetime!(2026-11-28 09:45 UTC),
        not_after: datetime!(2026-11-28 10:30 UTC),
        sealed: seal_names(device_cert, DEVICE, id, &names).unwrap(),
    });
    let revoke = SignedBody::Revoke(SignedRevoke {
        device: DEVICE.into(),
        id: id.into(),
        at: datetime!(2026-11-28 09:50 UTC),
    });
    for (name, body) in [
        ("signed-appointment", appointment),
        ("signed-revoke", revoke),
    ] {
        let payload = wire::encode(&signer.sign(&body));
        write("mqtt_inbound", name, &mqtt(true, 1, id, &payload));
    }
    // The IT's test call: a command carrying a signed request, its session key sealed.
    let it = SealedNames {
        doctor_name: "Praxis-IT".into(),
        patient_name: None,
        session_key: SessionKey([5; 32]),
    };
    let request = SignedBody::TestCall(wire::SignedTestCall {
        device: DEVICE.into(),
        id: "test-1".into(),
        session: "t-1".into(),
        not_after: datetime!(2026-11-28 09:51 UTC),
        sealed: seal_names(device_cert, DEVICE, "test-1", &it).unwrap(),
    });
    let command = wire::Command {
        signed: Some(Box::new(signer.sign(&request))),
        ..wire::Command::new(wire::CommandKind::TestCall)
    };
    write(
        "mqtt_inbound",
        "signed-test-call",
        &mqtt(true, 2, "", &wire::encode(&command)),
    );
}

fn bundle_seeds(ca: &FleetCa, cert_pem: &str, key_pem: &str) {
    let bundle = ProvisionBundle {
        v: V1,
        device: DEVICE.into(),
        room: "Sprechzimmer 2".into(),
        broker: "mqtts://broker.example:8883".into(),
        ca_pem: ca.ca_pem().into(),
        cert_pem: cert_pem.into(),
        key_pem: key_pem.into(),
    };
    write("bundle_import", "valid.json", &wire::encode(&bundle));
    let plain = ProvisionBundle {
        broker: "mqtt://127.0.0.1:1883".into(),
        ..bundle.clone()
    };
    write("bundle_import", "plain-broker.json", &wire::encode(&plain));
    let other_key = ProvisionBundle {
        key_pem: bundle.ca_pem.clone(),
        ..bundle
    };
    write("bundle_import", "no-key.json", &wire::encode(&other_key));
    write(
        "bundle_import",
        "protocol-example.json",
        br#"{"v":1,"device":"kiosk-01","room":"Sprechzimmer 2","broker":"mqtts://broker.example:8883","ca_pem":"-----BEGIN CERTIFICATE-----","cert_pem":"-----BEGIN CERTIFICATE-----","key_pem":"-----BEGIN PRIVATE KEY-----"}"#,
    );
}

/// One step of a flow or signalling script: a pause byte, the choice, its arguments.
fn steps(first: &[u8], steps: &[(u8, u8, &[u8])]) -> Vec<u8> {
    let mut out = first.to_vec();
    for (pause, choice, args) in steps {
        out.extend([*pause, *choice]);
        out.extend_from_slice(args);
    }
    out
}

fn flow_seeds() {
    // Choices as harness/flow.rs numbers them: 1 code (+ which), 0 wrong code, 2 name from the
    // appointment, 4 consent, 5 accept, 9 doctor joined, 10 media, 7 hang up, 17 broker, 20 clock, 21 tick.
    let online: (u8, u8, &[u8]) = (0, 17, &[1]);
    let consultation = steps(
        &[],
        &[
            online,
            (5, 1, &[0]),
            (8, 2, &[]),
            (3, 4, &[]),
            (30, 9, &[]),
            (2, 10, &[]),
            (127, 7, &[]),
            (10, 21, &[]),
        ],
    );
    write("flow", "consultation", &consultation);
    let lockout = steps(
        &[],
        &[
            online,
            (1, 0, &[]),
            (1, 0, &[]),
            (1, 0, &[]),
            (1, 0, &[]),
            (1, 0, &[]),
            (5, 1, &[0]),
            (128, 21, &[]),
            (1, 1, &[1]),
        ],
    );
    write("flow", "lockout", &lockout);
    let accept = steps(
        &[],
        &[
            online,
            (2, 1, &[2]),
            (3, 5, &[1, 5, b'E', b'r', b'i', b'k', b'a']),
            (200, 21, &[]),
        ],
    );
    write("flow", "accept-with-name", &accept);
    let clock = steps(
        &[],
        &[
            online,
            (0, 20, &[0]),
            (2, 1, &[0]),
            (5, 20, &[1]),
            (2, 1, &[0]),
        ],
    );
    write("flow", "clock-unconfirmed", &clock);
}

fn signalling_seeds() {
    // Choices as harness/signalling.rs numbers them: 0 hello (reply, reconnect?, name),
    // 5 negotiation needed, 6 offer made, 2 answer (SDP: 0 the offer, 1 the answer that fits), 3 remote candidate, 9 local candidate,
    // 10 gathering done, 11 leave; 1 offer, 8 offer set, 7 answer made on the doctor's side.
    let kiosk = steps(
        &[0],
        &[
            (0, 5, &[]),
            (2, 0, &[0, 0, 4, b'A', b'n', b'n', b'a']),
            (1, 6, &[0]),
            (3, 3, &[0, 1, 0, 200]),
            (2, 2, &[1]),
            (1, 9, &[0, 2, 0]),
            (1, 10, &[]),
            (120, 0, &[0, 0, 4, b'A', b'n', b'n', b'a']),
            (1, 5, &[]),
            (1, 6, &[0]),
            (200, 13, &[]),
            (1, 11, &[1, 0]),
        ],
    );
    write("signalling", "kiosk-call-and-reload", &kiosk);
    let doctor = steps(
        &[1],
        &[
            (0, 0, &[1, 1, 45, 3, b'M', b'a', b'x']),
            (2, 1, &[0]),
            (1, 3, &[0, 1, 0, 200]),
            (1, 8, &[]),
            (1, 7, &[1]),
            (1, 4, &[0]),
        ],
    );
    write("signalling", "doctor-answers", &doctor);
    // A relayed candidate at a kiosk whose fleet allows no relay, before and after the answer.
    let relay = steps(
        &[0],
        &[
            (0, 5, &[]),
            (2, 0, &[0, 0, 4, b'A', b'n', b'n', b'a']),
            (1, 6, &[0]),
            (1, 3, &[0, 3, 1, 200]),
            (2, 2, &[1]),
            (1, 3, &[0, 4, 1, 200]),
        ],
    );
    write("signalling", "relay-not-allowed", &relay);
}

fn argon2_seeds() {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let cheap = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(8, 1, 1, None).unwrap(),
    )
    .hash_password(b"12345678", &SaltString::encode_b64(b"saltsalt").unwrap())
    .unwrap()
    .to_string();
    let hashes = [
        ("contract", CODE_HASH.to_string()),
        ("cheap", cheap),
        (
            "argon2i",
            "$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".into(),
        ),
        (
            "v16",
            "$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
        ),
        (
            "costly",
            "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
        ),
        (
            "keyid",
            "$argon2id$v=19$m=19456,t=2,p=1,keyid=AAAA$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
        ),
        ("not-a-hash", "12345678".into()),
    ];
    for (name, hash) in hashes {
        write("argon2_phc", name, format!("\x01{hash}").as_bytes());
    }
}

fn join_seeds() {
    let link = JoinLink {
        broker: "wss://broker.example:8443/mqtt".into(),
        root: "praxiskiosk/v1".into(),
        device: "kiosk-01".into(),
        session: "s-7f3c9e".into(),
        username: "doctor-a-20261128-1".into(),
        password: "p&ss=wörd#+/".into(),
        key: Some(SessionKey([9; 32])),
    };
    let page = "https://praxis.example/doctor/";
    write("join_link", "full", link.to_url(page).as_bytes());
    let dev = JoinLink {
        broker: "ws://127.0.0.1:9001".into(),
        key: None,
        ..link
    };
    write("join_link", "development", dev.to_url(page).as_bytes());
    let good = "https://x/#v=1&broker=wss%3A%2F%2Fbroker.example%3A8443&root=praxiskiosk%2Fv1&device=kiosk-01&session=s-1&username=doctor-a-1&password=a%2Bb%2F%3D";
    write("join_link", "page-test", good.as_bytes());
    write("join_link", "version-2", b"https://x/#v=2&broker=a");
    write(
        "join_link",
        "bad-device",
        b"https://x/#v=1&broker=a&root=r&device=a%2Fb&session=s&username=u&password=p",
    );
}

fn topic_seeds() {
    let script = |root: &str, device: &str, id: &str, topic: &str| {
        let mut out = Vec::new();
        text(&mut out, root);
        text(&mut out, device);
        text(&mut out, id);
        out.extend_from_slice(topic.as_bytes());
        out
    };
    let root = "praxiskiosk/v1";
    for (name, topic) in [
        ("config", "praxiskiosk/v1/devices/kiosk-01/config"),
        (
            "appointment",
            "praxiskiosk/v1/devices/kiosk-01/appointments/a-1",
        ),
        (
            "session",
            "praxiskiosk/v1/devices/kiosk-01/sessions/s-1/doctor",
        ),
        ("other-device", "praxiskiosk/v1/devices/kiosk-02/state"),
        (
            "too-deep",
            "praxiskiosk/v1/devices/kiosk-01/appointments/a/b",
        ),
    ] {
        write("topics", name, &script(root, "kiosk-01", "a-1", topic));
    }
    write(
        "topics",
        "wildcard-root",
        &script("a/+/b", "kiosk-01", "x", "a/+/b/devices/kiosk-01/state"),
    );
}

#[test]
#[ignore = "writes the seeds and the test fleet into the source tree"]
fn write_seeds() {
    let tmp = tempfile::tempdir().unwrap();
    let made = datetime!(2026-11-27 09:00 UTC);
    let mut ca = FleetCa::init(&tmp.path().join("ca"), "fuzz", made).unwrap();
    let device = ca.issue_device(DEVICE, "Sprechzimmer 2", made).unwrap();
    let fleet = here().join("fixtures/fleet");
    fs::create_dir_all(&fleet).unwrap();
    fs::write(fleet.join("ca.pem"), ca.ca_pem()).unwrap();
    fs::write(fleet.join("device.key"), &device.key_pem).unwrap();
    mqtt_seeds(&ca, &device.cert_pem);
    bundle_seeds(&ca, &device.cert_pem, &device.key_pem);
    flow_seeds();
    signalling_seeds();
    argon2_seeds();
    join_seeds();
    topic_seeds();
}
