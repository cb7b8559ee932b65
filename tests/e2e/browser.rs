//! The doctor's side in a real browser: Debian's Chromium with `web/doctor`, against a real kioskd
//! through a real Mosquitto with TLS and access control, the page served by the broker itself.
//! Everything runs in a network namespace that holds only loopback, where Chromium can offer
//! nothing but 127.0.0.1.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{
    Appointment, Browser, DEVICE, Fleet, Kiosk, KioskConfig, NetNs, poll, wait_for,
};

pub fn web_doctor() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("web/doctor");
    assert!(
        dir.join("vendor/doctor.js").exists(),
        "web/doctor is not built: make test runs `make web` (npm ci, then web/doctor/build.sh)"
    );
    dir
}

struct Consultation {
    browser: Browser,
    kiosk: Kiosk,
    fleet: Fleet,
    _dir: tempfile::TempDir,
    _ns: Arc<NetNs>,
    _turn: std::sync::MutexGuard<'static, ()>,
}

fn n(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or(0)
}

impl Consultation {
    fn start(video_codec: &str) -> Self {
        let turn = crate::harness::heavy_media();
        let ns = Arc::new(NetNs::new());
        let fleet = Fleet::start_in(&[DEVICE], Some(ns.clone()), Some(&web_doctor()));
        let dir = tempfile::tempdir().unwrap();
        let boot = dir.path().join("boot");
        std::fs::create_dir_all(&boot).unwrap();
        let bundle = boot.join("praxiskiosk-provision.json");
        std::fs::copy(fleet.bundle(DEVICE), &bundle).unwrap();
        let mut config = KioskConfig::provisioned(&bundle);
        config
            .camera
            .push_str(&format!("\nvideo_codec = \"{video_codec}\""));
        let kiosk = Kiosk::start_with(
            dir.path(),
            &config,
            ns.command(env!("CARGO_BIN_EXE_kioskd")),
        );
        kiosk.wait_for_state("idle", Duration::from_secs(15));
        let browser = Browser::start(&ns);
        Self {
            browser,
            kiosk,
            fleet,
            _dir: dir,
            _ns: ns,
            _turn: turn,
        }
    }

    /// Books an appointment, lets the patient in at the kiosk and the doctor in from the join
    /// link; returns once pictures and sound flow both ways.
    fn join(&mut self) -> Appointment {
        let appointment = self.fleet.create_browser_appointment(DEVICE);
        self.kiosk.wait_for_appointment(&appointment.id);
        self.kiosk.let_patient_in(&appointment);

        self.browser.open(appointment.link.as_deref().unwrap());
        self.wait_for_page("in-call", Duration::from_secs(30));
        assert_eq!(
            self.browser.state()["patient"],
            "Max Mustermann",
            "the doctor sees the patient's real name"
        );
        self.kiosk
            .wait_for_state("in_call", Duration::from_secs(30));
        self.media_flows(30);
        appointment
    }

    fn wait_for_page(&mut self, state: &str, limit: Duration) {
        let reached = poll(limit, || {
            (self.browser.state()["state"] == state).then_some(())
        });
        if reached.is_none() {
            panic!(
                "the doctor's page did not reach {state}: {}\nconsole: {}\nkiosk: {}",
                self.browser.state(),
                self.browser.console(),
                self.kiosk.log_tail()
            );
        }
    }

    /// Waits until each side has decoded `frames` more video frames than now, and heard sound.
    fn media_flows(&mut self, frames: u64) -> (Value, Value) {
        let before = (
            n(&self.browser.stats(), "videoFramesDecoded"),
            n(&self.kiosk.stats(), "video_frames_received"),
        );
        let flowing = poll(Duration::from_secs(30), || {
            let page = self.browser.stats();
            let kiosk = self.kiosk.stats();
            let ok = n(&page, "videoFramesDecoded") >= before.0 + frames
                && n(&page, "audioPacketsReceived") > 0
                && n(&kiosk, "video_frames_received") >= before.1 + frames
                && n(&kiosk, "audio_buffers_received") >= 10;
            ok.then_some((page, kiosk))
        });
        flowing.unwrap_or_else(|| {
            panic!(
                "media did not flow both ways: page {}, kiosk {}\nconsole: {}",
                self.browser.stats(),
                self.kiosk.stats(),
                self.browser.console()
            )
        })
    }
}

#[test]
fn a_doctor_in_chromium_holds_a_vp8_consultation_reloads_and_hangs_up() {
    let mut c = Consultation::start("vp8");
    c.join();
    let (page, kiosk) = c.media_flows(1);
    assert_eq!(page["videoCodec"], "video/VP8", "{page}");
    assert_eq!(kiosk["video_codec"], "VP8", "{kiosk}");
    if let Some(path) = std::env::var_os("PRAXISKIOSK_DOCTOR_SCREENSHOT") {
        c.browser.screenshot(Path::new(&path));
    }

    // The doctor reloads the page mid-call: a fresh hello, a fresh offer, the call goes on, and
    // within 3 s. On this shared 2-core machine another test's call can stretch one reload past
    // that, so the doctor may reload up to three times; one must make it.
    let mut resumed = Vec::new();
    for _ in 0..3 {
        let reloaded = Instant::now();
        c.browser.reload();
        c.wait_for_page("in-call", Duration::from_secs(10));
        wait_for(
            "the first frame after the reload",
            Duration::from_secs(10),
            || (n(&c.browser.stats(), "videoFramesDecoded") > 0).then_some(()),
        );
        resumed.push(reloaded.elapsed());
        assert_eq!(c.kiosk.state(), "in_call", "the kiosk stayed in the call");
        if resumed.last().is_some_and(|t| *t < Duration::from_secs(3)) {
            break;
        }
    }
    eprintln!("the call resumed after the doctor's reload in {resumed:?}");
    assert!(
        resumed.iter().any(|t| *t < Duration::from_secs(3)),
        "the call resumed only after {resumed:?}"
    );
    c.media_flows(10);

    // The doctor hangs up: the kiosk ends the call and returns to its start screen.
    c.browser.click("hangup");
    c.wait_for_page("ended", Duration::from_secs(5));
    c.kiosk.wait_for_state("idle", Duration::from_secs(15));

    // The next patient; this time the kiosk hangs up, and the doctor's page says so.
    c.join();
    let reply = c.kiosk.control(json!({"cmd": "hang_up"}));
    assert_eq!(reply["state"], "ended", "{reply}");
    c.wait_for_page("ended", Duration::from_secs(10));
    c.kiosk.wait_for_state("idle", Duration::from_secs(15));

    // The next patient; this time the doctor hangs up.
    c.join();
    c.browser.click("hangup");
    c.wait_for_page("ended", Duration::from_secs(5));
    c.kiosk.wait_for_state("idle", Duration::from_secs(15));
}

#[test]
fn a_doctor_without_camera_permission_is_told_what_to_allow() {
    let ns = Arc::new(NetNs::new());
    let fleet = Fleet::start_in(&[DEVICE], Some(ns.clone()), Some(&web_doctor()));
    let origin = format!("127.0.0.1:{}", fleet.websocket_port);
    let appointment = fleet.create_appointment(
        DEVICE,
        &[
            "--join-url",
            &format!("https://{origin}/index.html"),
            "--doctor-broker",
            &format!("wss://{origin}"),
        ],
    );
    let mut browser = Browser::start_with(&ns, &[("PRAXISKIOSK_MEDIA", "deny")]);
    browser.open(appointment.link.as_deref().unwrap());
    let shown = poll(Duration::from_secs(15), || {
        let state = browser.state();
        (state["state"] == "error").then_some(state)
    })
    .unwrap_or_else(|| panic!("no message: {}", browser.state()));
    assert_eq!(
        shown["status"], "Kein Zugriff auf Kamera und Mikrofon",
        "the doctor is told what is missing: {shown}"
    );
}

#[test]
fn a_doctor_in_chromium_holds_an_h264_consultation_until_the_kiosk_hangs_up() {
    let mut c = Consultation::start("h264");
    c.join();
    let (page, kiosk) = c.media_flows(1);
    assert_eq!(page["videoCodec"], "video/H264", "{page}");
    assert_eq!(kiosk["video_codec"], "H264", "{kiosk}");

    let reply = c.kiosk.control(json!({"cmd": "hang_up"}));
    assert_eq!(reply["state"], "ended", "{reply}");
    c.wait_for_page("ended", Duration::from_secs(10));
}
