//! Appointments outlive a restart of kioskd, even one without a broker; expired ones do not.
//! Without the broker no code opens anything (no doctor could join), and no code counts as
//! wrong either: once the broker is back, the stored appointments work.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{
    DEVICE, Doctor, Kiosk, KioskConfig, Mosquitto, Watcher, create_appointment, kioskctl, wait_for,
};

#[test]
fn appointments_survive_a_restart_without_broker_and_expired_ones_are_gone() {
    let broker = Mosquitto::start();
    let port = broker.port;
    let watcher = Watcher::start(port);
    let dir = tempfile::tempdir().unwrap();
    let kiosk = Kiosk::start(dir.path(), &KioskConfig::new(port));
    let keep = create_appointment(port, &["--until", "+1h", "--patient", "Erika Mustermann"]);
    let short = create_appointment(port, &["--until", "+4s"]);
    let created = Instant::now();
    let file = |id: &str| dir.path().join(format!("state/appointments/{id}.json"));
    wait_for("both appointments on disk", Duration::from_secs(10), || {
        (file(&keep.id).exists() && file(&short.id).exists()).then_some(())
    });
    let stored = std::fs::read_to_string(file(&keep.id)).unwrap();
    assert!(
        !stored.contains(&keep.code),
        "the code never rests in clear"
    );

    assert!(kiosk.stop().success(), "SIGTERM is a clean shutdown");
    watcher.wait_for_state("offline", Duration::from_secs(5));
    drop(broker);

    std::thread::sleep(Duration::from_secs(5).saturating_sub(created.elapsed()));
    let kiosk = Kiosk::start(dir.path(), &KioskConfig::new(port));
    assert_eq!(
        kiosk.state(),
        "idle",
        "kioskd starts although the broker is down"
    );
    assert!(file(&keep.id).exists());
    assert!(
        !file(&short.id).exists(),
        "the expired appointment was deleted at start"
    );
    for _ in 0..6 {
        let reply = kiosk.control(json!({"cmd": "enter_code", "code": keep.code}));
        assert_eq!(
            reply["error"], "offline",
            "no waiting room without the broker: {reply}"
        );
    }

    // The broker returns: kioskd reconnects on its own, publishes where it stands, and takes
    // codes again. (This broker starts empty, so the stored appointments count as revoked
    // while away once the kiosk has caught up: which refusal comes first depends on that.)
    let _broker = Mosquitto::start_on(port);
    let watcher = Watcher::start(port);
    wait_for("the kiosk back online", Duration::from_secs(15), || {
        let reply = kiosk.control(json!({"cmd": "enter_code", "code": short.code}));
        (reply["error"] != "offline").then_some(reply)
    });
    watcher.wait_for_state("idle", Duration::from_secs(15));
}

/// A kioskd killed in a call (no SIGTERM, as a power cut would leave it) closes that call at its
/// next start: `call_ended` `crashed` in its own log and for the fleet.
#[test]
fn a_call_a_killed_kioskd_left_open_is_closed_when_it_starts_again() {
    let broker = Mosquitto::start();
    let port = broker.port;
    let watcher = Watcher::start(port);
    let dir = tempfile::tempdir().unwrap();
    let kiosk = Kiosk::start(dir.path(), &KioskConfig::new(port));
    let appointment = create_appointment(port, &["--patient", "Erika Mustermann"]);
    kiosk.wait_for_appointment(&appointment.id);
    kiosk.let_patient_in(&appointment);
    let mut doctor = Doctor::start(port, &appointment.session, &[]);
    kiosk.wait_for_state("in_call", Duration::from_secs(60));
    let status = std::process::Command::new("kill")
        .args(["-KILL", &kiosk.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    watcher.wait_for_state("offline", Duration::from_secs(30));
    drop(kiosk);

    let _kiosk = Kiosk::start(dir.path(), &KioskConfig::new(port));
    let ended = watcher.wait_for_event("call_ended", Duration::from_secs(15));
    assert_eq!(ended["reason"], "crashed", "{ended}");
    assert_eq!(ended["appointment"], appointment.id.as_str(), "{ended}");
    let log = std::fs::read_to_string(dir.path().join("state/events.jsonl")).unwrap();
    let last_call_line = log.lines().rfind(|l| l.contains("\"call_")).unwrap();
    assert!(last_call_line.contains("\"crashed\""), "{log}");
    // The fleet's chart has the call too: among the state's recent calls.
    let status = wait_for(
        "the crashed call among the recent calls",
        Duration::from_secs(10),
        || {
            let out = kioskctl(port, &["device", "status", DEVICE, "--json"]);
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            text.contains("recent_calls").then_some(text)
        },
    );
    let state: serde_json::Value = serde_json::from_str(&status).unwrap();
    let recent = state[0]["recent_calls"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(recent.len(), 1, "{state}");
    assert_eq!(recent[0]["duration_s"], ended["duration_s"], "{state}");
    // The doctor's side, still in the session, hears at once that the call is over.
    let bye = wait_for("the doctor told", Duration::from_secs(15), || {
        doctor.event("bye")
    });
    assert_eq!(bye["reason"], "error", "{bye}");
    let _ = doctor.wait_exit(Duration::from_secs(15));
}
