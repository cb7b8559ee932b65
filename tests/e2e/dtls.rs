//! DTLS identities: each call shows a certificate of its own (ECDSA P-256), each side checks
//! the other's against the SDP, and a certificate the SDP does not name ends the call with
//! `security_check_failed` before any media crosses.

mod suites;

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{
    Doctor, Kiosk, KioskConfig, Mosquitto, Watcher, create_appointment, in_order, poll, wait_for,
};

const CALL_SETUP: Duration = Duration::from_secs(60);

fn n(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or(0)
}

/// Books, types the code and consents; the doctor joins with `doctor`.
fn begin(kiosk: &Kiosk, broker: &Mosquitto, doctor: impl FnOnce(&str) -> Doctor) -> Doctor {
    let appointment = create_appointment(broker.port, &["--patient", "Max Mustermann"]);
    kiosk.wait_for_appointment(&appointment.id);
    let doctor = doctor(&appointment.session);
    let reply = kiosk.control(json!({"cmd": "enter_code", "code": appointment.code}));
    assert_eq!(reply["state"], "code_accepted", "{reply}");
    let reply = kiosk.control(json!({"cmd": "accept"}));
    assert_eq!(reply["state"], "waiting", "{reply}");
    doctor
}

/// One call with media both ways; returns both sides' `dtls` statistics, then hangs up.
fn call_certificates(kiosk: &Kiosk, broker: &Mosquitto) -> (Value, Value) {
    let mut doctor = begin(kiosk, broker, |session| {
        Doctor::start(broker.port, session, &[])
    });
    kiosk.wait_for_state("in_call", CALL_SETUP);
    let both = poll(CALL_SETUP, || {
        let (k, d) = (kiosk.stats(), doctor.stats()?);
        let shown = |s: &Value| s["dtls"]["remote_fingerprint"].is_string();
        (n(&k, "video_frames_received") >= 10
            && n(&d, "video_frames_received") >= 10
            && shown(&k)
            && shown(&d))
        .then(|| (k["dtls"].clone(), d["dtls"].clone()))
    });
    let (k, d) = both.unwrap_or_else(|| {
        panic!(
            "no media and certificates: kiosk {}, doctor {:?}\n{}",
            kiosk.stats(),
            doctor.stats(),
            kiosk.log_tail()
        )
    });
    let reply = kiosk.control(json!({"cmd": "hang_up"}));
    assert_eq!(reply["state"], "ended", "{reply}");
    assert!(doctor.wait_exit(Duration::from_secs(15)).success());
    kiosk.wait_for_state("idle", Duration::from_secs(15));
    (k, d)
}

#[test]
fn every_call_has_its_own_ecdsa_certificate_and_each_side_sees_the_others() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let kiosk = Kiosk::start(dir.path(), &KioskConfig::new(broker.port));

    let (kiosk_1, doctor_1) = call_certificates(&kiosk, &broker);
    let (kiosk_2, doctor_2) = call_certificates(&kiosk, &broker);
    for (k, d) in [(&kiosk_1, &doctor_1), (&kiosk_2, &doctor_2)] {
        // What each side was shown in the handshake is what the other holds.
        assert_eq!(d["remote_fingerprint"], k["local_fingerprint"], "{k} {d}");
        assert_eq!(k["remote_fingerprint"], d["local_fingerprint"], "{k} {d}");
        assert_eq!(d["remote_key"], "ECDSA P-256", "the kiosk's key: {d}");
        assert_eq!(k["remote_key"], "ECDSA P-256", "the doctor's key: {k}");
    }
    assert_ne!(
        kiosk_1["local_fingerprint"], kiosk_2["local_fingerprint"],
        "the kiosk used one certificate for two calls"
    );
    assert_ne!(doctor_1["local_fingerprint"], doctor_2["local_fingerprint"]);
}

#[test]
fn a_certificate_the_sdp_does_not_name_ends_the_call_before_any_media() {
    let broker = Mosquitto::start();
    let watcher = Watcher::start(broker.port);
    let dir = tempfile::tempdir().unwrap();
    let kiosk = Kiosk::start(dir.path(), &KioskConfig::new(broker.port));
    watcher.wait_for_state("idle", Duration::from_secs(10));

    // The switch is a test fault: refused without the fault switch of the environment.
    let mut refused = begin(&kiosk, &broker, |session| {
        Doctor::start(broker.port, session, &["--test-wrong-fingerprint"])
    });
    assert!(!refused.wait_exit(Duration::from_secs(15)).success());
    kiosk.control(json!({"cmd": "cancel"}));
    kiosk.wait_for_state("idle", Duration::from_secs(15));

    // The doctor's answer names a certificate other than the one its DTLS shows, as a man in
    // the middle who replaced the certificate but could not rewrite a signed SDP would leave it.
    let mut doctor = begin(&kiosk, &broker, |session| {
        let mut kioskctl = Command::new(env!("CARGO_BIN_EXE_kioskctl"));
        kioskctl.env("PRAXISKIOSK_TEST_FAULTS", "1");
        Doctor::start_with(
            kioskctl,
            broker.port,
            session,
            &["--test-wrong-fingerprint"],
        )
    });
    let error = watcher.wait_for_event("error", CALL_SETUP);
    assert_eq!(error["reason"], "security_check_failed", "{error}");
    assert!(
        !doctor.wait_exit(Duration::from_secs(15)).success(),
        "a call the kiosk ended for its security check is no success"
    );
    assert_eq!(
        doctor.event("bye").expect("the doctor got bye")["reason"],
        "security_check_failed"
    );
    // The last bye: the first ended the refused doctor's session.
    let bye = watcher
        .signals("kiosk")
        .into_iter()
        .rfind(|s| s["type"] == "bye");
    assert_eq!(
        bye.expect("the kiosk published bye")["reason"],
        "security_check_failed"
    );
    // Nothing crossed either way: no key was ever agreed.
    let summary = doctor.event("summary").unwrap()["stats"].clone();
    assert_eq!(n(&summary, "video_frames_received"), 0, "{summary}");
    assert_eq!(n(&summary, "audio_buffers_received"), 0, "{summary}");
    let last = kiosk.control(json!({"cmd": "stats"}));
    assert_eq!(n(&last["stats"], "video_frames_received"), 0, "{last}");
    assert_eq!(n(&last["stats"], "audio_buffers_received"), 0, "{last}");

    kiosk.wait_for_state("idle", Duration::from_secs(15));
    wait_for("the published error state", Duration::from_secs(5), || {
        in_order(&watcher.states(), &["waiting", "error", "idle"]).then_some(())
    });
    assert!(
        !watcher.states().iter().any(|s| s == "in_call"),
        "{:?}",
        watcher.states()
    );
}

/// What `openssl x509` says of a certificate given as base64 DER.
fn openssl_x509(base64_der: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("remote.pem");
    let body: Vec<String> = base64_der
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    let text = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        body.join("\n")
    );
    std::fs::write(&pem, text).unwrap();
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-fingerprint", "-sha256", "-in"])
        .arg(&pem)
        .output()
        .expect("openssl runs");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn chromium_negotiates_ecdhe_ecdsa_with_aes_gcm_over_dtls_1_2() {
    let mut c = crate::harness::Consultation::start("vp8");
    c.join();
    let (page, kiosk) = c.media_flows(10);
    // Chromium (BoringSSL) as the DTLS client offers its suites; the kiosk (OpenSSL, our
    // ECDSA certificate) can pick only ECDSA-authenticated, ephemeral ones.
    let cipher = page["dtlsCipher"].as_str().unwrap_or_default();
    assert!(
        cipher.starts_with("TLS_ECDHE_ECDSA_WITH_AES_") && cipher.contains("_GCM_"),
        "{page}"
    );
    assert_eq!(page["tlsVersion"], "FEFD", "DTLS 1.2: {page}");
    // GStreamer 1.22 offers no other SRTP profile (docs/protocol.md, "DTLS and keys").
    assert_eq!(page["srtpCipher"], "SRTP_AES128_CM_HMAC_SHA1_80", "{page}");
    eprintln!(
        "chromium: dtlsCipher {cipher}, tlsVersion {}, srtpCipher {}",
        page["tlsVersion"], page["srtpCipher"]
    );
    // The certificate the page was shown is the kiosk's own, ECDSA P-256. Under load Chromium
    // can leave the certificate out of its stats for a whole call (the page's security code
    // then reads the descriptions' fingerprints): the suite above already names ECDSA, so the
    // certificate's own check runs whenever Chromium reports it, and says so when it does not.
    let certificate = crate::harness::poll(Duration::from_secs(15), || {
        let stats = c.browser.stats();
        stats["remoteCertificate"].as_str().map(str::to_owned)
    });
    match certificate {
        Some(der) => {
            let x509 = openssl_x509(&der);
            assert!(x509.contains("id-ecPublicKey"), "{x509}");
            assert!(x509.contains("prime256v1"), "{x509}");
            let local = kiosk["dtls"]["local_fingerprint"].as_str().unwrap();
            assert!(
                x509.contains(&format!("Fingerprint={local}")),
                "{local}\n{x509}"
            );
        }
        None => eprintln!(
            "chromium's stats held no remote certificate within 15 s: its check skipped this run"
        ),
    }
    assert_eq!(
        kiosk["dtls"]["remote_key"], "ECDSA P-256",
        "Chromium's: {kiosk}"
    );
}

/// Firefox's DTLS (NSS) against the kiosk: the kiosk checks the certificate Firefox shows
/// against its answer's fingerprint, as it does Chromium's, and finds an ECDSA P-256 key.
#[test]
fn firefox_shows_an_ecdsa_certificate_the_kiosk_checks_against_its_fingerprint() {
    let mut c = crate::harness::Consultation::start_in(crate::harness::Engine::Firefox, "vp8");
    c.join();
    let (_, kiosk) = c.media_flows(10);
    let dtls = &kiosk["dtls"];
    assert_eq!(dtls["remote_key"], "ECDSA P-256", "Firefox's: {kiosk}");
    let remote = dtls["remote_fingerprint"].as_str().unwrap_or_default();
    assert_eq!(
        remote.split(':').count(),
        32,
        "a SHA-256 fingerprint: {kiosk}"
    );
    assert_ne!(
        dtls["local_fingerprint"], dtls["remote_fingerprint"],
        "{kiosk}"
    );
    c.browser.click("hangup");
    c.kiosk.wait_for_state("idle", Duration::from_secs(15));
}
