//! `make bench`: what sealing costs a call's setup (issue 13, docs/protocol.md section 5).
//!
//! On a fleet with protocol v2, every signalling message is sealed by its sender and opened by
//! its receiver (AES-256-GCM under a direction key), and the appointment's names and session key
//! are opened once with the kiosk's key (HPKE, P-256), when the appointment arrives, long before
//! anyone types the code. This measures the crypto of one whole setup, as the messages of a real
//! one (sizes from a kioskd ↔ kioskctl doctor call on loopback), both sides' work added up, and
//! puts it beside the consent → first frame time `make bench`'s latency scenario measures
//! (`target/bench/call.json`, when it ran). Prints a table and writes `target/bench/seal.json`.

#[path = "shared/timing.rs"]
mod timing;

use std::time::Duration;

use praxiskiosk::fleet::trust::{Channel, hpke};
use praxiskiosk::wire::{Sender, SessionKey};

const ROUNDS: usize = 200;

/// One setup's signalling, by sender and plaintext size in bytes: hellos, the offer and the
/// answer (SDP of audio and video, bundled), trickled candidates and their ends.
const SETUP: &[(Sender, usize)] = &[
    (Sender::Doctor, 90),
    (Sender::Kiosk, 420),
    (Sender::Kiosk, 3_200),
    (Sender::Kiosk, 150),
    (Sender::Kiosk, 150),
    (Sender::Kiosk, 150),
    (Sender::Kiosk, 60),
    (Sender::Doctor, 2_600),
    (Sender::Doctor, 150),
    (Sender::Doctor, 150),
    (Sender::Doctor, 150),
    (Sender::Doctor, 60),
];

fn median(work: impl FnMut()) -> Duration {
    timing::sorted_times(ROUNDS, work)[ROUNDS / 2]
}

/// Seals and opens every message of one setup, on fresh channels of both sides.
fn one_setup(key: &SessionKey, plaintexts: &[(Sender, Vec<u8>)]) {
    let mut kiosk = Channel::new(key, "s-bench", Sender::Kiosk);
    let mut doctor = Channel::new(key, "s-bench", Sender::Doctor);
    for (i, (from, text)) in plaintexts.iter().enumerate() {
        let (sender, receiver) = match from {
            Sender::Kiosk => (&mut kiosk, &mut doctor),
            Sender::Doctor => (&mut doctor, &mut kiosk),
        };
        let (seq, sealed) = sender.seal(text, 1_000 + i as u64);
        let opened = receiver.open(*from, seq, &sealed).expect("opens");
        assert_eq!(opened.len(), text.len());
    }
}

/// The median consent → first frame of the latency scenario, if it ran.
fn setup_ms() -> Option<f64> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench/call.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    json["scenarios"]["latency"]["consent_to_first_frame_median_ms"].as_f64()
}

fn main() {
    let key = SessionKey([7; 32]);
    let plaintexts: Vec<(Sender, Vec<u8>)> = SETUP
        .iter()
        .map(|&(from, size)| (from, vec![b'x'; size]))
        .collect();
    let setup = median(|| one_setup(&key, &plaintexts));

    let device = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let public = device.public_key();
    let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&public, false);
    let names = br#"{"doctor_name":"Dr. med. Anna Muster","patient_name":"Max Mustermann","session_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#;
    let sealed = hpke::seal(point.as_bytes(), b"info", b"aad", names).expect("seals");
    let appointment = median(|| {
        hpke::open(&device, b"info", b"aad", &sealed).expect("opens");
    });

    let consent = setup_ms();
    let share = consent.map(|ms| setup.as_secs_f64() * 1000.0 / ms * 100.0);
    println!("what sealing costs (both sides' crypto, median of {ROUNDS})");
    println!(
        "  one call's setup, {} messages sealed and opened   {:>8.1} µs",
        SETUP.len(),
        setup.as_secs_f64() * 1e6
    );
    println!(
        "  an appointment's names opened (HPKE, on arrival)  {:>8.1} µs",
        appointment.as_secs_f64() * 1e6
    );
    match (consent, share) {
        (Some(ms), Some(share)) => println!(
            "  consent → first frame (latency scenario)          {ms:>8.1} ms: sealing is {share:.3} % of it"
        ),
        _ => println!("  (run the call bench's latency scenario to put it beside the setup time)"),
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let report = serde_json::json!({
        "bench": "seal",
        "setup_messages": SETUP.len(),
        "setup_crypto_us": setup.as_secs_f64() * 1e6,
        "appointment_open_us": appointment.as_secs_f64() * 1e6,
        "consent_to_first_frame_ms": consent,
        "share_of_setup_percent": share,
    });
    std::fs::write(
        dir.join("seal.json"),
        serde_json::to_vec_pretty(&report).unwrap(),
    )
    .unwrap();
}
