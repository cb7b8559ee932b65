//! Wrong codes are refused with a reason, and five of them lock code entry, also across a
//! restart.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{Kiosk, KioskConfig, Mosquitto, Watcher, create_appointment, wait_for};

#[test]
fn wrong_codes_are_refused_and_five_lock_the_keypad() {
    let broker = Mosquitto::start();
    let watcher = Watcher::start(broker.port);
    let dir = tempfile::tempdir().unwrap();
    let kiosk = Kiosk::start(dir.path(), &KioskConfig::new(broker.port));
    let appointment = create_appointment(broker.port, &[]);
    kiosk.wait_for_appointment(&appointment.id);
    let wrong = appointment.wrong_code();

    let reply = kiosk.control(json!({"cmd": "enter_code", "code": "1234"}));
    assert_eq!(reply["error"], "invalid_code_format", "{reply}");
    assert!(reply["message"].as_str().unwrap().contains("8 Ziffern"));
    assert!(reply["message_en"].as_str().unwrap().contains("8 digits"));

    for left in (1..=4).rev() {
        let reply = kiosk.control(json!({"cmd": "enter_code", "code": wrong}));
        assert_eq!(reply["ok"], false);
        assert_eq!(reply["error"], "wrong_code", "{reply}");
        assert!(
            reply["message_en"]
                .as_str()
                .unwrap()
                .contains(&format!("{left} attempts left")),
            "{reply}"
        );
    }
    let reply = kiosk.control(json!({"cmd": "enter_code", "code": wrong}));
    assert_eq!(reply["error"], "locked_out", "{reply}");
    assert!(
        reply["message"].as_str().unwrap().contains("60 Sekunden"),
        "{reply}"
    );

    let reply = kiosk.control(json!({"cmd": "enter_code", "code": appointment.code}));
    assert_eq!(
        reply["error"], "locked_out",
        "a right code is refused during the lockout too: {reply}"
    );
    assert_eq!(kiosk.state(), "idle");

    let lockout = watcher.wait_for_event("lockout", Duration::from_secs(5));
    assert_eq!(lockout["duration_s"], 60);
    let rejected = watcher
        .events()
        .iter()
        .filter(|e| e["event"] == "code_rejected")
        .count();
    assert_eq!(rejected, 5);
}

#[test]
fn steps_that_do_not_fit_are_refused_and_cancel_always_leads_home() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let kiosk = Kiosk::start(dir.path(), &KioskConfig::new(broker.port));
    assert_eq!(kiosk.control(json!({"cmd": "accept"}))["error"], "not_now");
    assert_eq!(kiosk.control(json!({"cmd": "hang_up"}))["error"], "no_call");

    let appointment = create_appointment(broker.port, &[]);
    kiosk.wait_for_appointment(&appointment.id);
    assert_eq!(
        kiosk.control(json!({"cmd": "enter_code", "code": appointment.code}))["state"],
        "code_accepted"
    );
    let reply = kiosk.control(json!({"cmd": "accept"}));
    assert_eq!(
        reply["error"], "name_missing",
        "no patient name in the appointment: {reply}"
    );
    assert_eq!(
        kiosk.control(json!({"cmd": "enter_code", "code": appointment.code}))["error"],
        "busy"
    );
    assert_eq!(kiosk.control(json!({"cmd": "cancel"}))["state"], "idle");
}

/// Five wrong codes, then the plug pulled (SIGKILL, as a guesser hoping for fresh attempts
/// would): the kiosk that comes back is still locked for what is left of the minute, right code
/// or not, and keeps the lockout in its state directory without any code.
#[test]
fn the_lockout_survives_a_restart() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let config = KioskConfig::new(broker.port);
    let kiosk = Kiosk::start(dir.path(), &config);
    let appointment = create_appointment(broker.port, &[]);
    kiosk.wait_for_appointment(&appointment.id);
    let wrong = appointment.wrong_code();
    for _ in 1..5 {
        let reply = kiosk.control(json!({"cmd": "enter_code", "code": wrong}));
        assert_eq!(reply["error"], "wrong_code", "{reply}");
    }
    let reply = kiosk.control(json!({"cmd": "enter_code", "code": wrong}));
    assert_eq!(reply["error"], "locked_out", "{reply}");
    let locked = Instant::now();
    let stored = std::fs::read_to_string(dir.path().join("state/lockout.json"))
        .expect("the lockout is on disk before the refusal is told");
    assert!(
        !stored.contains(wrong) && !stored.contains(&appointment.code),
        "no code in the lockout file: {stored}"
    );

    let status = std::process::Command::new("kill")
        .args(["-KILL", &kiosk.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    drop(kiosk);
    let kiosk = Kiosk::start(dir.path(), &config);
    let reply = wait_for("the kiosk back online", Duration::from_secs(15), || {
        let reply = kiosk.control(json!({"cmd": "enter_code", "code": appointment.code}));
        (reply["error"] != "offline").then_some(reply)
    });
    assert_eq!(
        reply["error"], "locked_out",
        "a restart does not lift the lockout, not even for the right code: {reply}"
    );
    let text = reply["message_en"].as_str().unwrap();
    let left: u64 = text
        .split_whitespace()
        .find_map(|word| word.parse().ok())
        .unwrap_or_else(|| panic!("no seconds in {text:?}"));
    let since = locked.elapsed().as_secs();
    assert!(
        (1..=60 - since).contains(&left),
        "{left} s left {since} s after a 60-s lockout began: {text}"
    );
    assert_eq!(kiosk.state(), "idle");
}
