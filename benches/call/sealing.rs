//! What sealing costs the setup: consent → first remote frame, median of several calls between
//! kioskd and `kioskctl doctor`, once on a TLS fleet (protocol v2: signed appointment, names
//! and every signalling message sealed) and once on the plaintext development broker (v1, in
//! clear). The rest of the call is the same; the TLS of the broker links is set up before the
//! patient consents, so the difference is the sealing and TLS records on the way.

use std::time::Duration;

use serde_json::json;

use crate::harness::{
    Appointment, DEVICE, Doctor, Fleet, Kiosk, KioskConfig, Mosquitto, create_appointment, wait_for,
};
use crate::report::{Row, Scenario};

/// Calls per kind; `BENCH_CALLS` sets another number.
const CALLS: usize = 5;
const CONSENT_READ: Duration = Duration::from_secs(2);
/// Long enough to see the first frame's time in the kiosk's statistics.
const AFTER_FIRST_FRAME: Duration = Duration::from_secs(2);

/// The patient consents; the doctor (already waiting) meets them; the time to the first
/// remote frame, then both hang up.
fn one_call(kiosk: &Kiosk, appointment: &Appointment, mut doctor: Doctor) -> Option<f64> {
    wait_for("the doctor to wait", Duration::from_secs(20), || {
        doctor.event("waiting")
    });
    kiosk.let_patient_in_after(appointment, CONSENT_READ);
    kiosk.wait_for_state("in_call", Duration::from_secs(30));
    std::thread::sleep(AFTER_FIRST_FRAME);
    let first_frame = kiosk.stats()["first_frame_ms"].as_f64();
    doctor.hang_up();
    doctor.wait_exit(Duration::from_secs(20));
    kiosk.wait_for_state("idle", Duration::from_secs(20));
    first_frame
}

fn calls() -> usize {
    std::env::var("BENCH_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(CALLS)
}

fn sealed() -> Vec<f64> {
    let fleet = Fleet::start(&[DEVICE]);
    let dir = tempfile::tempdir().unwrap();
    let kiosk = Kiosk::start_provisioned(&fleet, dir.path());
    (0..calls())
        .filter_map(|_| {
            let appointment = fleet.create_appointment(DEVICE, &["--patient", "Max Mustermann"]);
            kiosk.wait_for_appointment(&appointment.id);
            let link = appointment.link.clone().expect("a TLS fleet's join link");
            one_call(&kiosk, &appointment, Doctor::join(&fleet, &link, &[]))
        })
        .collect()
}

fn in_clear() -> Vec<f64> {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut config = KioskConfig::new(broker.port);
    config.timeouts = "ended_s = 1\nproblem_s = 2\n".into();
    let kiosk = Kiosk::start(dir.path(), &config);
    kiosk.wait_for_state("idle", Duration::from_secs(20));
    (0..calls())
        .filter_map(|_| {
            let appointment = create_appointment(broker.port, &["--patient", "Max Mustermann"]);
            kiosk.wait_for_appointment(&appointment.id);
            let doctor = Doctor::start(broker.port, &appointment.session, &[]);
            one_call(&kiosk, &appointment, doctor)
        })
        .collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

pub fn run() -> Scenario {
    let (sealed, clear) = (sealed(), in_clear());
    let (with, without) = (median(sealed.clone()), median(clear.clone()));
    Scenario {
        key: "sealing",
        rows: vec![
            Row::kiosk(
                "setup, sealed (TLS fleet, v2)",
                "consent → first frame, median (ms)",
                with,
            ),
            Row::kiosk(
                "setup, in clear (development broker, v1)",
                "consent → first frame, median (ms)",
                without,
            ),
        ],
        json: json!({
            "sealed_ms": sealed,
            "in_clear_ms": clear,
            "sealed_median_ms": with,
            "in_clear_median_ms": without,
        }),
    }
}
