//! The fleet's remote test call (protocol.md 3.5): `kioskctl device test-call` to an idle kiosk
//! runs with nobody in the room, shows on the kiosk's screen, ends by itself, and reports
//! picture and sound both ways over a direct path; a kiosk in a consultation refuses it with a
//! reason, and the consultation goes on; a kiosk whose camera fails names it in the verdict.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use praxiskiosk::ui::view::Screen;
use serde_json::Value;

use crate::harness::{DEVICE, Doctor, Fleet, Kiosk, wait_for};

/// `kioskctl device test-call`, its output as JSON lines, ICE pinned to loopback.
fn test_call(fleet: &Fleet) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kioskctl"));
    command
        .arg("--broker")
        .arg(fleet.device_url())
        .arg("--ca-dir")
        .arg(fleet.ca_dir())
        .args([
            "device",
            "test-call",
            DEVICE,
            "--json",
            "--ice-local",
            "127.0.0.1",
        ]);
    command
}

fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn an_idle_kiosk_takes_the_test_call_shows_it_and_both_ways_arrive_directly() {
    let _heavy = crate::harness::heavy_media();
    let fleet = Fleet::start(&[DEVICE]);
    let dir = tempfile::tempdir().unwrap();
    let kiosk = Kiosk::start_provisioned(&fleet, dir.path());
    let started = Instant::now();
    let child = test_call(&fleet)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kioskctl runs");

    kiosk.wait_for_state("test_call", Duration::from_secs(30));
    // The screen says what is happening, and counts down from a minute.
    let screens: Vec<Screen> = (0..=60).map(|left_s| Screen::TestCall { left_s }).collect();
    let shown = kiosk.wait_for_one_of_screens(&screens, "800x480");
    eprintln!("the kiosk showed the test call, {shown} s left");
    // No code opens anything meanwhile.
    let refused = kiosk.control(serde_json::json!({"cmd": "enter_code", "code": "12345678"}));
    assert_eq!(refused["ok"], false, "{refused}");

    let out = child.wait_with_output().unwrap();
    let took = started.elapsed();
    let lines = json_lines(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{lines:?}\n{stderr}");
    // The kiosk ended it by itself (kioskctl would hang up only after 75 s).
    let bye = lines.iter().find(|l| l["event"] == "bye");
    assert_eq!(
        bye.map(|b| &b["reason"]),
        Some(&Value::from("hangup")),
        "{lines:?}"
    );
    let verdict = lines
        .iter()
        .find(|l| l["event"] == "verdict")
        .unwrap_or_else(|| panic!("no verdict: {lines:?}\n{stderr}"));
    eprintln!("test call took {:.1} s: {verdict}", took.as_secs_f64());
    assert_eq!(verdict["ok"], true, "{verdict}");
    assert!(
        verdict["from_kiosk"]["video_frames"].as_u64() > Some(30),
        "{verdict}"
    );
    assert!(
        verdict["from_kiosk"]["audio_level_dbfs"].as_f64() > Some(-40.0),
        "{verdict}"
    );
    assert!(
        verdict["at_kiosk"]["video_frames"].as_u64() > Some(30),
        "{verdict}"
    );
    assert!(
        verdict["at_kiosk"]["audio_level_dbfs"].as_i64() > Some(-40),
        "{verdict}"
    );
    assert_eq!(verdict["direct"], true, "{verdict}");
    // No round-trip time here: on loopback RTCP's 1/65536 s rounds it to 0, which the stats
    // leave out as no reading. The verdict prints it wherever the network takes time.
    assert!(verdict["bitrate_in_kbps"].as_f64() > Some(0.0), "{verdict}");

    kiosk.wait_for_state("idle", Duration::from_secs(10));
    // A test call is no consultation: the fleet's last call is not it.
    let state = fleet.ok(&["device", "status", DEVICE, "--json"]);
    assert!(!state.contains("last_call"), "{state}");
}

#[test]
fn a_kiosk_in_a_consultation_refuses_the_test_call_with_its_reason_and_the_call_goes_on() {
    let _heavy = crate::harness::heavy_media();
    let fleet = Fleet::start(&[DEVICE]);
    let dir = tempfile::tempdir().unwrap();
    let kiosk = Kiosk::start_provisioned(&fleet, dir.path());
    let appointment = fleet.create_appointment(DEVICE, &["--patient", "Erika Mustermann"]);
    kiosk.wait_for_appointment(&appointment.id);
    kiosk.let_patient_in(&appointment);
    let link = appointment.link.clone().expect("a join link");
    let mut doctor = Doctor::join(&fleet, &link, &[]);
    kiosk.wait_for_state("in_call", Duration::from_secs(30));

    let out = test_call(&fleet).output().expect("kioskctl runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("refused (busy)"), "{stderr}");
    assert!(
        stderr.contains("Sprechstunde"),
        "said in German too: {stderr}"
    );

    // The consultation went on as it was.
    assert_eq!(kiosk.state(), "in_call");
    let frames = |k: &Kiosk| k.stats()["video_frames_received"].as_u64().unwrap_or(0);
    let before = frames(&kiosk);
    wait_for("media to go on", Duration::from_secs(10), || {
        (frames(&kiosk) > before + 10).then_some(())
    });
    assert!(doctor.event("bye").is_none());
    doctor.hang_up();
    kiosk.wait_for_state("ended", Duration::from_secs(15));
    doctor.wait_exit(Duration::from_secs(15));
}

#[test]
fn a_test_call_to_a_kiosk_whose_camera_fails_names_the_camera() {
    let _heavy = crate::harness::heavy_media();
    let fleet = Fleet::start(&[DEVICE]);
    let dir = tempfile::tempdir().unwrap();
    let kiosk = Kiosk::start_provisioned_with(&fleet, dir.path(), |config| {
        config.camera =
            "video_source = \"v4l2src\"\nvideo_device = \"/dev/video-praxiskiosk-missing\"".into();
    });

    let out = test_call(&fleet).output().expect("kioskctl runs");
    let lines = json_lines(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{lines:?}\n{stderr}");
    // A verdict, not a bare "failed": the kiosk said what broke, in both languages.
    let verdict = lines
        .iter()
        .find(|l| l["event"] == "verdict")
        .unwrap_or_else(|| panic!("no verdict: {lines:?}\n{stderr}"));
    eprintln!("{verdict}");
    assert_eq!(verdict["ok"], false, "{verdict}");
    assert_eq!(
        verdict["at_kiosk"]["failure"], "camera_missing",
        "{verdict}"
    );
    // The cause alone: no picture and no sound follow from it.
    let problems = verdict["problems"].as_array().expect("problems");
    assert_eq!(problems.len(), 1, "{verdict}");
    let said = problems[0].as_str().unwrap_or_default();
    assert!(
        said.contains("Kamera ausgefallen") && said.contains("its camera failed"),
        "{verdict}"
    );
    assert!(stderr.contains("its camera failed"), "{stderr}");

    // Back at rest, and the fleet sees which device to send someone for.
    kiosk.wait_for_state("idle", Duration::from_secs(10));
    wait_for(
        "the camera's health as failed",
        Duration::from_secs(10),
        || {
            let state: Value =
                serde_json::from_str(&fleet.ok(&["device", "status", DEVICE, "--json"])).unwrap();
            (state[0]["health"]["camera"] == "failed").then_some(())
        },
    );
}
