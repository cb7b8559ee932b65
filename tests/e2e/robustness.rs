//! Bad input gets a clear refusal and loses nothing: malformed payloads, wrong versions,
//! oversize messages, garbage on the control socket, and a bad config file.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::harness::{
    DEVICE, Kiosk, KioskConfig, Mosquitto, create_appointment, publish, wait_for,
};

#[test]
fn malformed_messages_are_dropped_with_a_reason_and_the_kiosk_carries_on() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let kiosk = Kiosk::start(dir.path(), &KioskConfig::new(broker.port));
    let base = format!("praxiskiosk/v1/devices/{DEVICE}");
    let big = format!(
        r#"{{"v":1,"cmd":"refresh","pad":"{}"}}"#,
        "x".repeat(70 * 1024)
    );
    let cases: Vec<(String, Vec<u8>)> = vec![
        (format!("{base}/config"), b"{not json".to_vec()),
        (format!("{base}/config"), br#"{"v":2,"display_name":"x"}"#.to_vec()),
        (format!("{base}/commands"), big.into_bytes()),
        (format!("{base}/commands"), br#"{"v":1,"cmd":"self_destruct"}"#.to_vec()),
        (format!("{base}/appointments/a-bad"), br#"{"v":1,"id":"a-bad"}"#.to_vec()),
        (
            format!("{base}/appointments/a-hash"),
            br#"{"v":1,"id":"a-hash","session":"s1","code_hash":"12345678","not_before":"2026-01-01T00:00:00Z","not_after":"2099-01-01T00:00:00Z","doctor_name":"Dr. X"}"#.to_vec(),
        ),
        (
            format!("{base}/appointments/a-other"),
            br#"{"v":1,"id":"a-mismatch","session":"s1","code_hash":"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo","not_before":"2026-01-01T00:00:00Z","not_after":"2099-01-01T00:00:00Z","doctor_name":"Dr. X"}"#.to_vec(),
        ),
    ];
    for (topic, payload) in &cases {
        publish(broker.port, topic, payload, false);
    }
    let log = || std::fs::read_to_string(dir.path().join("kioskd.log")).unwrap();
    wait_for(
        "every bad message to be logged as dropped",
        Duration::from_secs(10),
        || (log().matches("message dropped").count() >= cases.len()).then_some(()),
    );
    let log = log();
    for reason in [
        "not valid JSON",
        "version 2",
        "larger than the limit",
        "does not fit",
        "Argon2id",
        "differs from its topic",
    ] {
        assert!(
            log.contains(reason),
            "log names the reason {reason:?}:\n{log}"
        );
    }
    let stored = std::fs::read_dir(dir.path().join("state/appointments"))
        .unwrap()
        .count();
    assert_eq!(stored, 0, "no invalid appointment was stored");

    // Nothing was lost: the kiosk still answers, and a good appointment still opens.
    assert_eq!(kiosk.state(), "idle");
    let appointment = create_appointment(broker.port, &[]);
    kiosk.wait_for_appointment(&appointment.id);
    assert_eq!(
        kiosk.control(json!({"cmd": "enter_code", "code": appointment.code}))["state"],
        "code_accepted"
    );

    // A revocation (empty retained payload) removes it again.
    publish(
        broker.port,
        &format!("{base}/appointments/{}", appointment.id),
        b"",
        true,
    );
    wait_for(
        "the revoked appointment to be deleted",
        Duration::from_secs(10),
        || {
            (!dir
                .path()
                .join(format!("state/appointments/{}.json", appointment.id))
                .exists())
            .then_some(())
        },
    );
    assert_eq!(
        kiosk.state(),
        "error",
        "a revoked appointment ends the flow with an explanation"
    );
}

#[test]
fn garbage_on_the_control_socket_gets_an_answer_not_a_crash() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let kiosk = Kiosk::start(dir.path(), &KioskConfig::new(broker.port));
    let mut stream = UnixStream::connect(&kiosk.socket).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    for garbage in [
        "hello",
        "{\"cmd\":\"launch\"}",
        "[1,2,3]",
        "{\"cmd\":\"enter_code\"}",
    ] {
        writeln!(stream, "{garbage}").unwrap();
        let mut reply = String::new();
        reader.read_line(&mut reply).unwrap();
        let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
        assert_eq!(reply["error"], "bad_request", "{garbage}: {reply}");
    }
    assert_eq!(kiosk.state(), "idle");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&kiosk.socket).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_bad_config_names_key_and_line_and_exits_with_the_config_code() {
    let dir = tempfile::tempdir().unwrap();
    let path = KioskConfig::new(1883).write(dir.path());
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("framerate = 30", "framerate = 30\nzoom = 2");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kioskd"))
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(78),
        "EX_CONFIG tells systemd not to restart"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let zoom_line = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .position(|l| l == "zoom = 2")
        .unwrap()
        + 1;
    assert!(
        stderr.contains(&format!("line {zoom_line}:")) && stderr.contains("zoom"),
        "{stderr}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_kioskd"))
        .arg("--config")
        .arg(dir.path().join("missing.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
}

#[test]
fn a_camera_that_cannot_open_is_named_as_such_not_as_a_connection_problem() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut config = KioskConfig::new(broker.port);
    config.camera =
        "video_source = \"v4l2src\"\nvideo_device = \"/dev/video-praxiskiosk-missing\"".into();
    config.timeouts = "ended_s = 2\nproblem_s = 30\n".into();
    let kiosk = Kiosk::start(dir.path(), &config);
    let appointment = create_appointment(broker.port, &["--patient", "Max Mustermann"]);
    kiosk.wait_for_appointment(&appointment.id);
    let mut doctor = crate::harness::Doctor::start(broker.port, &appointment.session, &[]);
    assert_eq!(
        kiosk.control(json!({"cmd": "enter_code", "code": appointment.code}))["state"],
        "code_accepted"
    );
    assert_eq!(kiosk.control(json!({"cmd": "accept"}))["state"], "waiting");
    kiosk.wait_for_state("error", Duration::from_secs(30));
    assert_eq!(
        kiosk.control(json!({"cmd": "status"}))["detail"],
        "camera_missing"
    );
    assert!(
        !doctor.wait_exit(Duration::from_secs(15)).success(),
        "the doctor's side says the call failed"
    );
    assert_eq!(
        doctor.event("bye").expect("the doctor is told")["reason"],
        "error"
    );
}
