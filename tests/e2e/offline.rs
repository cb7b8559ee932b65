//! Offline honesty: while the broker is unreachable no doctor can join, so the kiosk opens no
//! waiting room and says why; and what it would have said meanwhile (a bye for a room it left)
//! is not delivered late once the broker is back.

use std::time::Duration;

use serde_json::json;

use crate::harness::{Kiosk, KioskConfig, Mosquitto, Watcher, create_appointment, poll, wait_for};

#[test]
fn without_its_broker_the_kiosk_refuses_calls_and_says_nothing_late() {
    let broker = Mosquitto::start();
    let port = broker.port;
    let dir = tempfile::tempdir().unwrap();
    let kiosk = Kiosk::start(dir.path(), &KioskConfig::new(port));
    let appointment = create_appointment(port, &["--patient", "Max Mustermann"]);
    kiosk.wait_for_appointment(&appointment.id);
    let enter = || kiosk.control(json!({"cmd": "enter_code", "code": appointment.code}));
    assert_eq!(enter()["state"], "code_accepted");
    assert_eq!(kiosk.control(json!({"cmd": "accept"}))["state"], "waiting");

    // The broker goes away while the patient waits; the patient gives up.
    drop(broker);
    wait_for("the kiosk to notice", Duration::from_secs(15), || {
        let log = std::fs::read_to_string(dir.path().join("kioskd.log")).ok()?;
        log.contains("broker unreachable").then_some(())
    });
    assert_eq!(kiosk.control(json!({"cmd": "cancel"}))["state"], "idle");

    // A code now opens no waiting room that nobody could reach, and costs no attempt.
    for _ in 0..6 {
        let reply = enter();
        assert_eq!(reply["error"], "offline", "{reply}");
        assert!(
            reply["message"]
                .as_str()
                .is_some_and(|m| m.contains("nicht erreichbar")),
            "{reply}"
        );
    }

    // The broker is back: nothing the kiosk would have said meanwhile arrives now.
    let _broker = Mosquitto::start_on(port);
    let watcher = Watcher::start(port);
    // (This broker starts empty: the appointment counts as revoked while away, so the code
    // is simply wrong now; what matters is that it is no longer refused as offline.)
    let back = poll(Duration::from_secs(15), || {
        let reply = enter();
        (reply["error"] != "offline").then_some(reply)
    });
    assert!(
        back.is_some(),
        "the kiosk is back online: {}",
        kiosk.log_tail()
    );
    let late = poll(Duration::from_secs(3), || {
        let said = watcher.signals("kiosk");
        (!said.is_empty()).then_some(said)
    });
    assert!(
        late.is_none(),
        "signalling of the room left while offline came late: {late:?}"
    );
}
