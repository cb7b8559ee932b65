//! Privacy by the calendar (docs/protocol.md section 7): nothing of an appointment stays on the
//! broker, nor in its persistence file, past its window.

use std::time::Duration;

use praxiskiosk::fleet::codes;
use praxiskiosk::fleet::pki::FleetCa;
use praxiskiosk::fleet::trust::Signer;
use praxiskiosk::wire::{self, SignedAppointment, SignedBody, SignedRevoke};
use time::OffsetDateTime;

use crate::harness::{DEVICE, Fleet, Probe};

const ROOT: &str = "praxiskiosk/v1";

fn topic(id: &str) -> String {
    format!("{ROOT}/devices/{DEVICE}/appointments/{id}")
}

/// What the fleet manager signs for an appointment from `from` to `until` (nothing sealed:
/// the sweep reads only what is signed).
fn appointment(id: &str, from: OffsetDateTime, until: OffsetDateTime) -> SignedBody {
    SignedBody::Appointment(SignedAppointment {
        device: DEVICE.into(),
        id: id.into(),
        session: format!("s-{id}"),
        code_hash: codes::hash("12345678"),
        not_before: from,
        not_after: until,
        sealed: String::new(),
    })
}

fn revocation(id: &str, at: OffsetDateTime) -> SignedBody {
    SignedBody::Revoke(SignedRevoke {
        device: DEVICE.into(),
        id: id.into(),
        at,
    })
}

#[test]
fn a_sweep_clears_ended_appointments_and_old_revocations_from_the_broker_and_its_file() {
    let mut fleet = Fleet::start(&[DEVICE]);
    let (cert, key) = FleetCa::open(&fleet.ca_dir())
        .unwrap()
        .admin_identity()
        .unwrap();
    let signer = Signer::from_pem(&cert, &key).unwrap();
    let now = OffsetDateTime::now_utc();
    let hour = time::Duration::hours(1);
    let retained = [
        (
            "a-ended",
            appointment("a-ended", now - 3 * hour, now - hour),
        ),
        (
            "a-running",
            appointment("a-running", now - hour, now + hour),
        ),
        // Ended 5 minutes ago: a kiosk whose clock is behind may still want it.
        (
            "a-just-ended",
            appointment("a-just-ended", now - hour, now - time::Duration::minutes(5)),
        ),
        ("r-old", revocation("r-old", now - 48 * hour)),
        ("r-new", revocation("r-new", now - hour)),
    ];
    let mut admin = Probe::connect(fleet.admin_options("sweep-test")).unwrap();
    for (id, body) in &retained {
        admin.publish(&topic(id), &wire::encode(&signer.sign(body)), true);
    }
    drop(admin);

    let out = fleet.ok(&["broker", "sweep"]);
    assert!(out.contains("2 beendete Termine"), "{out}");
    let mut reader = Probe::connect(fleet.admin_options("sweep-reader")).unwrap();
    assert!(reader.subscribe(&format!("{ROOT}/devices/+/appointments/+")));
    let mut left: Vec<String> = reader
        .received(Duration::from_secs(1))
        .into_iter()
        .map(|(topic, _)| topic.rsplit('/').next().unwrap().to_string())
        .collect();
    left.sort();
    assert_eq!(left, ["a-just-ended", "a-running", "r-new"]);
    drop(reader);

    // The broker writes its persistence file on a clean stop: the cleared ones are not in it.
    fleet.stop_broker();
    let file = std::fs::read(fleet.broker_dir().join("data/mosquitto.db")).unwrap();
    let holds = |id: &str| file.windows(id.len()).any(|w| w == id.as_bytes());
    assert!(holds("a-running"), "the persistence file is where we look");
    for gone in ["a-ended", "r-old"] {
        assert!(
            !holds(gone),
            "{gone} is still in the broker's persistence file"
        );
    }
}
