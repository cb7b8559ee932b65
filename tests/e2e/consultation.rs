//! A whole consultation: appointment → code → consent → call with media both ways → hang up,
//! once from the kiosk and once from the doctor.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{
    Doctor, Kiosk, KioskConfig, Mosquitto, Watcher, create_appointment, in_order, poll,
    publish_lines, wait_for,
};

const CALL_SETUP: Duration = Duration::from_secs(60);

fn n(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or(0)
}

/// Enters the code and consents, then waits until frames flow both ways (≥ 50 each way) and
/// audio both ways.
fn start_call(
    kiosk: &Kiosk,
    broker: &Mosquitto,
    extra: &[&str],
) -> (crate::harness::Appointment, Doctor) {
    let appointment = create_appointment(broker.port, &["--patient", "Max Mustermann"]);
    wait_for(
        "the appointment to reach the kiosk",
        Duration::from_secs(10),
        || {
            kiosk
                .dir
                .join(format!("state/appointments/{}.json", appointment.id))
                .exists()
                .then_some(())
        },
    );
    let doctor = Doctor::start(broker.port, &appointment.session, extra);
    let reply = kiosk.control(json!({"cmd": "enter_code", "code": appointment.code}));
    assert_eq!(reply["state"], "code_accepted", "{reply}");
    let reply = kiosk.control(json!({"cmd": "accept"}));
    assert_eq!(reply["state"], "waiting", "{reply}");
    assert_eq!(reply["session"], appointment.session.as_str());

    kiosk.wait_for_state("in_call", CALL_SETUP);
    let enough =
        |s: &Value| n(s, "video_frames_received") >= 50 && n(s, "audio_buffers_received") >= 10;
    // The kiosk sends as much as it receives (a busy machine may take a moment longer).
    let flowing = crate::harness::poll(CALL_SETUP, || {
        let (k, d) = (kiosk.stats(), doctor.stats()?);
        (enough(&k) && enough(&d) && n(&k, "video_frames_sent") >= 50).then_some((k, d))
    });
    let Some((kiosk_stats, doctor_stats)) = flowing else {
        panic!(
            "no 50 frames each way within {CALL_SETUP:?}: kiosk {}, doctor {:?}\n{}",
            kiosk.stats(),
            doctor.stats(),
            kiosk.log_tail()
        );
    };
    assert!(n(&kiosk_stats, "video_frames_sent") >= 50, "{kiosk_stats}");
    assert!(
        kiosk_stats["first_frame_ms"].as_u64().is_some(),
        "{kiosk_stats}"
    );
    assert!(
        matches!(
            kiosk_stats["ice_state"].as_str(),
            Some("connected" | "completed")
        ),
        "{kiosk_stats}"
    );
    assert_eq!(
        doctor.event("joined").unwrap()["patient"],
        "Max Mustermann",
        "the doctor sees the patient's name"
    );
    assert!(n(&doctor_stats, "video_frames_received") >= 50);
    (appointment, doctor)
}

#[test]
fn a_consultation_runs_peer_to_peer_and_either_side_can_hang_up() {
    let broker = Mosquitto::start();
    let watcher = Watcher::start(broker.port);
    let dir = tempfile::tempdir().unwrap();
    let kiosk = Kiosk::start(dir.path(), &KioskConfig::new(broker.port));
    watcher.wait_for_state("idle", Duration::from_secs(10));

    // 1. The kiosk hangs up.
    let (first, mut doctor) = start_call(&kiosk, &broker, &[]);
    let started = watcher.wait_for_event("call_started", Duration::from_secs(5));
    assert_eq!(started["appointment"], first.id.as_str());
    let reply = kiosk.control(json!({"cmd": "hang_up"}));
    assert_eq!(reply["state"], "ended", "{reply}");
    assert!(doctor.wait_exit(Duration::from_secs(15)).success());
    assert_eq!(
        doctor.event("bye").expect("the doctor got bye")["reason"],
        "hangup"
    );
    let summary = doctor.event("summary").unwrap()["stats"].clone();
    assert!(n(&summary, "video_frames_received") >= 50, "{summary}");
    let ended = watcher.wait_for_event("call_ended", Duration::from_secs(5));
    assert_eq!(ended["reason"], "local_hangup");
    assert_eq!(ended["appointment"], first.id.as_str());
    kiosk.wait_for_state("idle", Duration::from_secs(10));
    let bye = watcher
        .signals("kiosk")
        .into_iter()
        .find(|s| s["type"] == "bye");
    assert_eq!(bye.expect("the kiosk published bye")["reason"], "hangup");
    assert!(
        in_order(
            &watcher.states(),
            &[
                "idle",
                "code_accepted",
                "consent",
                "waiting",
                "in_call",
                "ended",
                "idle"
            ]
        ),
        "published states: {:?}",
        watcher.states()
    );

    // 2. The doctor hangs up.
    let (second, mut doctor) = start_call(&kiosk, &broker, &[]);
    doctor.hang_up();
    assert!(doctor.wait_exit(Duration::from_secs(30)).success());
    kiosk.wait_for_state("idle", Duration::from_secs(15));
    wait_for(
        "call_ended with remote_hangup",
        Duration::from_secs(5),
        || {
            watcher
                .events()
                .into_iter()
                .find(|e| e["event"] == "call_ended" && e["appointment"] == second.id.as_str())
        },
    );
    let ended: Vec<Value> = watcher
        .events()
        .into_iter()
        .filter(|e| e["event"] == "call_ended")
        .collect();
    assert_eq!(ended.last().unwrap()["reason"], "remote_hangup");
    assert!(n(ended.last().unwrap(), "duration_s") >= 1);
    for event in watcher.events() {
        let text = event.to_string();
        assert!(
            !text.contains("Mustermann") && !text.contains(&second.code),
            "events carry no names or codes: {text}"
        );
    }
}

#[test]
fn sigterm_during_a_call_says_bye_and_leaves_the_kiosk_offline() {
    let broker = Mosquitto::start();
    let watcher = Watcher::start(broker.port);
    let dir = tempfile::tempdir().unwrap();
    let kiosk = Kiosk::start(dir.path(), &KioskConfig::new(broker.port));
    let (_, mut doctor) = start_call(&kiosk, &broker, &[]);
    assert!(kiosk.stop().success(), "a clean shutdown exits 0");
    assert!(doctor.wait_exit(Duration::from_secs(15)).success());
    assert_eq!(
        doctor.event("bye").expect("the doctor was told")["reason"],
        "hangup"
    );
    watcher.wait_for_state("offline", Duration::from_secs(5));
    let ended = watcher.wait_for_event("call_ended", Duration::from_secs(5));
    assert_eq!(
        ended["reason"], "shutdown",
        "the fleet's record says why the call ended"
    );
}

#[test]
fn a_doctor_who_reloads_gets_a_fresh_offer_and_the_call_goes_on() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let kiosk = Kiosk::start(dir.path(), &KioskConfig::new(broker.port));
    let (appointment, doctor) = start_call(&kiosk, &broker, &[]);
    let window = doctor.event("waiting").expect("the doctor started")["window"]
        .as_str()
        .expect("its window")
        .to_string();
    drop(doctor); // killed: a reloaded browser says no bye, and its tab keeps its window
    let second = Doctor::start(broker.port, &appointment.session, &["--window", &window]);
    let video = poll(CALL_SETUP, || {
        second
            .stats()
            .filter(|s| n(s, "video_frames_received") >= 30)
    });
    assert!(
        video.is_some(),
        "video at the rejoined doctor: {:?}\n{}",
        second.stats(),
        kiosk.log()
    );
    assert_eq!(
        kiosk.state(),
        "in_call",
        "the kiosk kept the call through the reload"
    );
}

#[test]
fn an_h264_call_flows_both_ways_when_the_kiosk_chooses_h264() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut config = KioskConfig::new(broker.port);
    config.camera.push_str("\nvideo_codec = \"h264\"");
    let kiosk = Kiosk::start(dir.path(), &config);
    let (_, mut doctor) = start_call(&kiosk, &broker, &[]);
    assert_eq!(kiosk.stats()["video_codec"], "H264", "{}", kiosk.stats());
    assert_eq!(
        doctor.stats().unwrap()["video_codec"],
        "H264",
        "the doctor answered in kind"
    );
    let reply = kiosk.control(json!({"cmd": "hang_up"}));
    assert_eq!(reply["state"], "ended", "{reply}");
    assert!(doctor.wait_exit(Duration::from_secs(15)).success());
}

/// Frames received at both sides once both grew by `more` after `(kiosk, doctor)`.
fn media_goes_on(
    kiosk: &Kiosk,
    doctor: &Doctor,
    before: (u64, u64),
    more: u64,
) -> Option<(u64, u64)> {
    let now = (
        n(&kiosk.stats(), "video_frames_received"),
        n(&doctor.stats()?, "video_frames_received"),
    );
    (now.0 >= before.0 + more && now.1 >= before.1 + more).then_some(now)
}

#[test]
fn a_running_call_survives_a_stray_answer_a_burst_of_hellos_and_a_malformed_answer() {
    let broker = Mosquitto::start();
    let watcher = Watcher::start(broker.port);
    let dir = tempfile::tempdir().unwrap();
    let kiosk = Kiosk::start(dir.path(), &KioskConfig::new(broker.port));
    let (appointment, mut doctor) = start_call(&kiosk, &broker, &[]);
    let topic = format!(
        "praxiskiosk/v1/devices/{}/sessions/{}/doctor",
        crate::harness::DEVICE,
        appointment.session
    );
    let frames = || {
        (
            n(&kiosk.stats(), "video_frames_received"),
            n(&doctor.stats().unwrap(), "video_frames_received"),
        )
    };

    // Anyone who can write to the doctor's topic: an answer nobody asked for.
    let stray = json!({"v": 1, "type": "answer", "sdp": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"});
    publish_lines(broker.port, &topic, &[stray.to_string()]);
    let before = frames();
    wait_for("media after the stray answer", CALL_SETUP, || {
        media_goes_on(&kiosk, &doctor, before, 60)
    });
    assert_eq!(kiosk.state(), "in_call", "{}", kiosk.log_tail());

    // A doctor's page gone wild: 200 hellos at once from the window that holds the call (its
    // nonce), which renew the connection, and an answer with a malformed SDP (a refused video
    // line, no audio) that may reach the kiosk while its fresh offer waits: it is left alone,
    // and the doctor's real answer is taken. (What the call task cannot keep up with of such
    // a burst it drops, and says so.)
    let replies_before = watcher
        .signals("kiosk")
        .iter()
        .filter(|s| s["type"] == "hello" && s["reply"] == true)
        .count();
    let window = watcher
        .signals("doctor")
        .iter()
        .find_map(|s| s["nonce"].as_str().map(String::from))
        .expect("the doctor's hello names its window");
    let hello = |nonce: &str| {
        json!({"v": 1, "type": "hello", "name": "Dr. med. Anna Muster", "nonce": nonce}).to_string()
    };
    let malformed = json!({"v": 1, "type": "answer",
        "sdp": "v=0\r\no=- 2 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 0 UDP/TLS/RTP/SAVPF 96\r\n"});
    let mut burst = vec![hello(&window); 200];
    burst.push(malformed.to_string());
    publish_lines(broker.port, &topic, &burst);
    let before = frames();
    let went_on = poll(CALL_SETUP, || media_goes_on(&kiosk, &doctor, before, 60));
    assert!(
        went_on.is_some(),
        "media after the burst of hellos: {:?} then {:?}\n{}",
        before,
        frames(),
        kiosk.log()
    );
    assert_eq!(kiosk.state(), "in_call", "{}", kiosk.log_tail());
    assert!(
        watcher
            .signals("kiosk")
            .iter()
            .filter(|s| s["type"] == "hello" && s["reply"] == true)
            .count()
            > replies_before,
        "the kiosk answered the hellos"
    );
    // Hellos of a second window (another nonce) are told busy and change nothing (rule 10).
    publish_lines(
        broker.port,
        &topic,
        &[hello("second-window"), hello("second-window")],
    );
    let busy = |watcher: &Watcher| -> Vec<_> {
        let signals = watcher.signals("kiosk").into_iter();
        signals.filter(|s| s["type"] == "busy").collect()
    };
    wait_for("the kiosk's busy", Duration::from_secs(10), || {
        (busy(&watcher).len() == 2).then_some(())
    });
    assert!(
        busy(&watcher).iter().all(|s| s["nonce"] == "second-window"),
        "only the second window is told busy: {:?}",
        busy(&watcher)
    );
    let before = frames();
    wait_for("media after the second window's hellos", CALL_SETUP, || {
        media_goes_on(&kiosk, &doctor, before, 60)
    });
    assert!(
        !watcher
            .events()
            .iter()
            .any(|e| e["event"] == "call_ended" || e["event"] == "error"),
        "no call ended: {:?}",
        watcher.events()
    );
    assert!(
        doctor.try_exit().is_none(),
        "the doctor is still in the call"
    );
    let log = kiosk.log();
    assert!(
        log.contains("an answer while no offer waits for one"),
        "the stray answer is named in the log"
    );

    let reply = kiosk.control(json!({"cmd": "hang_up"}));
    assert_eq!(reply["state"], "ended", "{reply}");
    assert!(doctor.wait_exit(Duration::from_secs(15)).success());
}
