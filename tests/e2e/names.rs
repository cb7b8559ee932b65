//! Names that would read otherwise than they are (bidirectional controls) are refused where they
//! enter, and screenshots go into one directory only and, on a production kiosk, never show a
//! name (docs/protocol.md 3.2 and 8).

use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use crate::harness::{
    DEVICE, Kiosk, KioskConfig, Mosquitto, create_appointment, create_args, kioskctl,
};

#[test]
fn kioskctl_refuses_a_name_with_a_bidirectional_override() {
    let broker = Mosquitto::start();
    // Shows as "Max Mustermann", but the doctor would read a name the practice never booked.
    let spoofed = "Max \u{202E}nnamretsuM";
    let out = kioskctl(broker.port, &create_args(DEVICE, &["--patient", spoofed]));
    assert!(!out.status.success(), "the appointment was created");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("patient_name") && stderr.contains("bidirectional"),
        "{stderr}"
    );
}

#[test]
fn screenshots_go_into_their_directory_and_a_production_kiosk_takes_none_of_a_name() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    // A production config: `[screen] development` is off.
    let kiosk = Kiosk::start(dir.path(), &KioskConfig::new(broker.port));
    let shot = |file: &str| kiosk.control(json!({"cmd": "screenshot", "file": file}));

    let outside = dir.path().join("outside.png");
    for bad in [
        outside.to_str().unwrap(),
        "../outside.png",
        "..",
        ".hidden.png",
    ] {
        let reply = shot(bad);
        assert_eq!(reply["error"], "bad_request", "{bad}: {reply}");
    }
    assert!(!outside.exists());
    let reply = kiosk.control(json!({"cmd": "screenshot", "path": outside}));
    assert_eq!(
        reply["error"], "bad_request",
        "a path is no longer taken: {reply}"
    );

    assert_eq!(shot("idle.png")["ok"], true);
    let idle = kiosk.screenshot_path("idle.png");
    assert!(idle.exists());
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(idle.parent().unwrap()), 0o700);
    assert_eq!(mode(&idle), 0o600);

    let appointment = create_appointment(broker.port, &["--patient", "Max Mustermann"]);
    kiosk.wait_for_appointment(&appointment.id);
    let reply = kiosk.control(json!({"cmd": "enter_code", "code": appointment.code}));
    assert_eq!(reply["state"], "code_accepted", "{reply}");
    let reply = shot("name.png");
    assert_eq!(
        reply["error"], "not_now",
        "the name screen shows the patient's name: {reply}"
    );
    assert!(!kiosk.screenshot_path("name.png").exists());

    assert_eq!(kiosk.control(json!({"cmd": "cancel"}))["state"], "idle");
    assert_eq!(shot("again.png")["ok"], true, "no name on screen again");
}
