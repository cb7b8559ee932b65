//! A peer whose DTLS suites are limited: `kioskctl doctor` with GStreamer's fixed suite list
//! replaced through a preloaded shim (`suites_shim.c`, built here with the C compiler Rust
//! links with). Limited to ECDHE-ECDSA with AES-GCM it completes a call with the kiosk (with
//! GStreamer's default RSA certificate it did not: "no shared cipher"); limited to RSA suites
//! it cannot, which shows the shim really limits.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{CALL_SETUP, begin, n};
use crate::harness::{Doctor, Kiosk, KioskConfig, Mosquitto, poll};

/// OpenSSL's names for the suites BSI TR-02102-2 recommends with an ECDSA certificate.
const ECDSA_GCM: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384";
const RSA_ONLY: &str = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384";
/// Far longer than a handshake takes on loopback (the limited ECDSA one: well under a second).
const HANDSHAKE_TIME: Duration = Duration::from_secs(5);

fn build_shim(dir: &Path) -> PathBuf {
    let source = dir.join("suites_shim.c");
    std::fs::write(&source, include_str!("suites_shim.c")).unwrap();
    let shim = dir.join("suites_shim.so");
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&shim)
        .arg(&source)
        .arg("-ldl")
        .status()
        .expect("cc runs (Rust links with it)");
    assert!(status.success(), "the shim builds");
    shim
}

/// A doctor whose DTLS offers only `suites`; its handshakes are written to `log`.
fn limited_doctor(shim: &Path, suites: &str, log: &Path, port: u16, session: &str) -> Doctor {
    let mut kioskctl = Command::new(env!("CARGO_BIN_EXE_kioskctl"));
    kioskctl
        .env("LD_PRELOAD", shim)
        .env("PRAXISKIOSK_TEST_SUITES", suites)
        .env("PRAXISKIOSK_TEST_SUITES_LOG", log);
    Doctor::start_with(kioskctl, port, session, &[])
}

fn handshakes(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn a_peer_limited_to_ecdhe_ecdsa_with_aes_gcm_completes_a_call_and_one_limited_to_rsa_cannot() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let shim = build_shim(dir.path());
    let kiosk = Kiosk::start(dir.path(), &KioskConfig::new(broker.port));

    // Limited to ECDHE-ECDSA with AES-GCM: the call runs, media both ways.
    let log = dir.path().join("ecdsa.log");
    let mut doctor = begin(&kiosk, &broker, |session| {
        limited_doctor(&shim, ECDSA_GCM, &log, broker.port, session)
    });
    let flowing = poll(CALL_SETUP, || {
        let (k, d) = (kiosk.stats(), doctor.stats()?);
        (n(&k, "video_frames_received") >= 10 && n(&d, "video_frames_received") >= 10).then_some(())
    });
    assert!(
        flowing.is_some(),
        "media both ways: kiosk {}, doctor {:?}, handshakes {:?}\n{}",
        kiosk.stats(),
        doctor.stats(),
        handshakes(&log),
        kiosk.log_tail()
    );
    let done = handshakes(&log);
    eprintln!("limited to ECDHE-ECDSA: {done:?}");
    assert!(
        done.iter()
            .any(|h| h.starts_with("ok DTLSv1.2 ECDHE-ECDSA-AES") && h.contains("GCM")),
        "the handshake negotiated ECDHE-ECDSA with AES-GCM over DTLS 1.2: {done:?}"
    );
    kiosk.control(json!({"cmd": "hang_up"}));
    assert!(doctor.wait_exit(Duration::from_secs(15)).success());
    kiosk.wait_for_state("idle", Duration::from_secs(15));

    // Limited to RSA suites: both sides hold ECDSA certificates, so no suite fits. The limited
    // peer's hello gets through (ICE connects), and then one of two things happens, both right:
    // the kiosk, the DTLS server, fails the handshake at once ("no shared cipher"), tries fresh
    // connections and ends the attempt; or its alert does not get out and both sides wait.
    // Either way no handshake completes, nothing crosses, and the call is never shown.
    let log = dir.path().join("rsa.log");
    let before = kiosk.log().len();
    let mut doctor = begin(&kiosk, &broker, |session| {
        limited_doctor(&shim, RSA_ONLY, &log, broker.port, session)
    });
    let reached = poll(CALL_SETUP, || {
        let ice = kiosk.stats()["ice_state"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let refused = kiosk.log()[before..].contains("Fatal SSL error");
        (ice == "connected" || ice == "completed" || refused).then_some(())
    });
    assert!(
        reached.is_some(),
        "ICE connects, or the kiosk's DTLS refuses the hello: {}, handshakes {:?}\n{}",
        kiosk.stats(),
        handshakes(&log),
        kiosk.log_tail()
    );
    let watched = Instant::now();
    while watched.elapsed() < HANDSHAKE_TIME {
        assert_ne!(kiosk.state(), "in_call", "{}", kiosk.log_tail());
        std::thread::sleep(Duration::from_millis(100));
    }
    let tried = handshakes(&log);
    eprintln!("limited to RSA: {tried:?}");
    assert!(!tried.is_empty(), "the limited peer tried a handshake");
    assert!(
        !tried.iter().any(|h| h.starts_with("ok")),
        "no handshake completes: {tried:?}"
    );
    let (k, d) = (kiosk.stats(), doctor.stats().unwrap_or_default());
    assert_eq!(n(&d, "video_frames_received"), 0, "{d}");
    assert_eq!(n(&k, "video_frames_received"), 0, "{k}");
    // Still waiting, or already back: a cancel ends the wait, and is refused if there is none.
    kiosk.control(json!({"cmd": "cancel"}));
    doctor.wait_exit(Duration::from_secs(20));
    kiosk.wait_for_state("idle", Duration::from_secs(15));
}
