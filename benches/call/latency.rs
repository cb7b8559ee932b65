//! How long the call takes: consent → first remote frame, and glass to glass both ways with
//! the sound/picture offset, over several consultations on loopback between kioskd and
//! `kioskctl doctor`. Both run the time-coded test sources (`media/stamp.rs`): each side reads
//! the other's capture time where it shows the picture and plays the sound, on the machine's
//! one clock. The kiosk sends 640x360 at 30 frames a second, as in the field.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Doctor, Kiosk, KioskConfig, Mosquitto, create_appointment, poll, wait_for};
use crate::report::{Row, Scenario};

/// How many consultations; `BENCH_CALLS` sets another number (a quick look: 2).
const CALLS: usize = 5;
/// Long enough for the jitter buffers to settle after the start's burst, and for a hundred
/// beeps' worth of samples over all calls.
const CALL: Duration = Duration::from_secs(20);
/// Nobody consents faster than this after reading the consent screen.
const CONSENT_READ: Duration = Duration::from_secs(2);
/// The doctor's side is up before the patient consents, as in a practice: its start-up
/// (plugins, DTLS certificate) is not the setup time.
const DOCTOR_READY: Duration = Duration::from_secs(3);

/// One direction's measurement in one call.
#[derive(Debug, Default, Clone, serde::Serialize)]
struct Direction {
    video_median_ms: Option<f64>,
    video_p95_ms: Option<f64>,
    audio_median_ms: Option<f64>,
    av_offset_ms: Option<f64>,
}

impl Direction {
    fn of(stats: &Value) -> Self {
        let l = &stats["latency"];
        Self {
            video_median_ms: l["video_ms"]["median"].as_f64(),
            video_p95_ms: l["video_ms"]["p95"].as_f64(),
            audio_median_ms: l["audio_ms"]["median"].as_f64(),
            av_offset_ms: l["av_offset_ms"].as_f64(),
        }
    }
}

#[derive(Debug, serde::Serialize)]
struct Call {
    first_frame_ms: Option<f64>,
    kiosk_to_doctor: Direction,
    doctor_to_kiosk: Direction,
}

/// A row of the table: its scenario, its quantity, and where a direction's value is.
type Quantity = (&'static str, &'static str, fn(&Direction) -> Option<f64>);

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn one_call(kiosk: &Kiosk, broker: &Mosquitto) -> Call {
    let appointment = create_appointment(broker.port, &["--patient", "Max Mustermann"]);
    kiosk.wait_for_appointment(&appointment.id);
    let seconds = (DOCTOR_READY + CALL + Duration::from_secs(5))
        .as_secs()
        .to_string();
    let mut doctor = Doctor::start(
        broker.port,
        &appointment.session,
        &["--measure-latency", "--hangup-after", &seconds],
    );
    wait_for("the doctor to wait", Duration::from_secs(20), || {
        doctor.event("waiting")
    });
    std::thread::sleep(DOCTOR_READY);
    let reply = kiosk.control(json!({"cmd": "enter_code", "code": appointment.code}));
    assert_eq!(reply["state"], "code_accepted", "{reply}");
    // The patient reads the consent screen (the kiosk prepares the call meanwhile).
    std::thread::sleep(CONSENT_READ);
    let reply = kiosk.control(json!({"cmd": "accept"}));
    assert_eq!(reply["state"], "waiting", "{reply}");
    kiosk.wait_for_state("in_call", Duration::from_secs(30));
    std::thread::sleep(CALL);
    let kiosk_stats = kiosk.stats();
    let doctor_stats = doctor.stats().unwrap_or(Value::Null);
    doctor.hang_up();
    doctor.wait_exit(Duration::from_secs(20));
    kiosk.wait_for_state("idle", Duration::from_secs(20));
    Call {
        first_frame_ms: kiosk_stats["first_frame_ms"].as_f64(),
        kiosk_to_doctor: Direction::of(&doctor_stats),
        doctor_to_kiosk: Direction::of(&kiosk_stats),
    }
}

pub fn run() -> Scenario {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut config = KioskConfig::new(broker.port);
    config.camera.push_str("\nmeasure_latency = true");
    config.development = true;
    config.video_size = (640, 360);
    config.video_kbps = 1000;
    config.timeouts = "ended_s = 1\nproblem_s = 2\n".into();
    let kiosk = Kiosk::start(dir.path(), &config);
    kiosk.wait_for_state("idle", Duration::from_secs(20));
    let count = std::env::var("BENCH_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(CALLS);
    let calls: Vec<Call> = (0..count).map(|_| one_call(&kiosk, &broker)).collect();
    // The kiosk's last call ended; the next would start from idle.
    let _ = poll(Duration::from_secs(5), || {
        (kiosk.state() == "idle").then_some(())
    });

    let pick = |f: &dyn Fn(&Call) -> Option<f64>| median(calls.iter().filter_map(f).collect());
    let first_frame = pick(&|c| c.first_frame_ms);
    // Each row: both directions of one quantity. The kiosk's column is what the kiosk shows
    // and plays (sent by the doctor's side), the other what the doctor's side does.
    let both: [Quantity; 4] = [
        ("glass to glass", "picture, median (ms)", |d| {
            d.video_median_ms
        }),
        ("glass to glass", "picture, p95 (ms)", |d| d.video_p95_ms),
        ("glass to glass", "sound, median (ms)", |d| {
            d.audio_median_ms
        }),
        ("lip sync", "sound − picture (ms)", |d| d.av_offset_ms),
    ];
    let mut rows = vec![Row::kiosk(
        "setup",
        "consent → first frame (ms)",
        first_frame,
    )];
    rows.extend(both.iter().map(|&(scenario, quantity, f)| {
        Row::both(
            scenario,
            quantity,
            pick(&|c: &Call| f(&c.doctor_to_kiosk)),
            pick(&|c: &Call| f(&c.kiosk_to_doctor)),
        )
    }));
    Scenario {
        key: "latency",
        rows,
        json: json!({
            "calls": calls,
            "consent_to_first_frame_median_ms": first_frame,
            "note": "kiosk column: what the kiosk shows and plays (sent by the doctor's side); \
                     doctor's side column: what kioskctl doctor shows and plays (sent by the kiosk). \
                     Medians over the calls of each call's median (or p95).",
        }),
    }
}
