//! A consultation with the doctor in Chromium: a fleet whose TLS Mosquitto serves `web/doctor`,
//! a provisioned kioskd, and Chromium, all in a network namespace that holds only loopback.
//! Shared by the browser tests (`tests/e2e/browser.rs`) and `benches/call`, so both hold the
//! same call.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::{Appointment, Browser, DEVICE, Engine, Fleet, Kiosk, KioskConfig, NetNs, poll};

/// The built doctor's page, which the broker serves.
pub fn web_doctor() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("web/doctor");
    assert!(
        dir.join("vendor/doctor.js").exists(),
        "web/doctor is not built: make test runs `make web` (npm ci, then web/doctor/build.sh)"
    );
    dir
}

/// A counter from the page's or the kiosk's statistics; 0 before the first report.
pub fn counter(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or(0)
}

#[derive(Debug)]
pub struct Consultation {
    pub browser: Browser,
    pub kiosk: Kiosk,
    pub fleet: Fleet,
    _dir: tempfile::TempDir,
    _ns: Arc<NetNs>,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl Consultation {
    /// A kiosk sending `video_codec`, otherwise configured as the tests' kiosks are.
    pub fn start(video_codec: &str) -> Self {
        Self::start_with(|config| {
            config
                .camera
                .push_str(&format!("\nvideo_codec = \"{video_codec}\""));
        })
    }

    /// The doctor in `engine`, the kiosk sending `video_codec`.
    pub fn start_in(engine: Engine, video_codec: &str) -> Self {
        Self::start_engine(engine, |config| {
            config
                .camera
                .push_str(&format!("\nvideo_codec = \"{video_codec}\""));
        })
    }

    /// The same with the kiosk's configuration changed by `configure`.
    pub fn start_with(configure: impl FnOnce(&mut KioskConfig)) -> Self {
        Self::start_engine(Engine::Chromium, configure)
    }

    fn start_engine(engine: Engine, configure: impl FnOnce(&mut KioskConfig)) -> Self {
        let turn = super::heavy_media();
        let ns = Arc::new(NetNs::new());
        let fleet = Fleet::start_in(&[DEVICE], Some(ns.clone()), Some(&web_doctor()));
        let dir = tempfile::tempdir().unwrap();
        let boot = dir.path().join("boot");
        std::fs::create_dir_all(&boot).unwrap();
        let bundle = boot.join("praxiskiosk-provision.json");
        std::fs::copy(fleet.bundle(DEVICE), &bundle).unwrap();
        let mut config = KioskConfig::provisioned(&bundle);
        configure(&mut config);
        let kiosk = Kiosk::start_with(
            dir.path(),
            &config,
            ns.command(env!("CARGO_BIN_EXE_kioskd")),
        );
        kiosk.wait_for_state("idle", Duration::from_secs(15));
        let browser = Browser::start_engine(&ns, engine, &[]);
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
    pub fn join(&mut self) -> Appointment {
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

    pub fn wait_for_page(&mut self, state: &str, limit: Duration) {
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
    /// Returns the page's and the kiosk's statistics.
    pub fn media_flows(&mut self, frames: u64) -> (Value, Value) {
        let before = (
            counter(&self.browser.stats(), "videoFramesDecoded"),
            counter(&self.kiosk.stats(), "video_frames_received"),
        );
        let flowing = poll(Duration::from_secs(30), || {
            let page = self.browser.stats();
            let kiosk = self.kiosk.stats();
            let ok = counter(&page, "videoFramesDecoded") >= before.0 + frames
                && counter(&page, "audioPacketsReceived") > 0
                && counter(&kiosk, "video_frames_received") >= before.1 + frames
                && counter(&kiosk, "audio_buffers_received") >= 10;
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
