//! Calls across a real network (`harness/field.rs`): two LANs behind NAT routers and an internet
//! with the fleet's TLS broker and coturn. Real kioskd in the kiosk's LAN, `kioskctl doctor` in
//! the practice's. What each scenario measured (connect time, recovery, bitrates, loss) goes to
//! `target/field/<scenario>.json`; `make field` prints them as a table. Times are reported, not
//! asserted, beyond the limits the product promises.
//!
//! Here: the network and a provisioned kiosk in it ([`Field`]), and the scenarios of getting
//! through NATs. Recovery from cuts, loss and narrow links, and Chromium have their own files.

mod browsers;
mod narrow;
mod recovery;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{
    Appointment, DEVICE, Doctor, FieldNet, Fleet, Kiosk, KioskConfig, Nat, SERVICES, STUN_PORT,
    Side, TURN_PASSWORD, TURN_USER, poll, wait_for,
};

/// Where the measurements go: `target/field/`.
fn report_dir() -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("field");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes one scenario's measurements for `make field`: one row per case, with any of `case`,
/// `nat`, `connected`, `connect_ms`, `media_again_ms`, `frames` (kiosk/doctor), `kbps` (kiosk
/// in), `lost` (kiosk in), and more detail under `detail`.
fn report(scenario: &str, rows: Vec<Value>) {
    let record = json!({"scenario": scenario, "rows": rows});
    let path = report_dir().join(format!("{scenario}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&record).unwrap()).unwrap();
    eprintln!("{record}");
}

/// What a row says about the media now: frames received (kiosk/doctor), the kiosk's incoming
/// bitrate and packets lost.
fn media_now(field: &Field, doctor: &Doctor) -> Value {
    let (kiosk_frames, doctor_frames) = field.frames(doctor);
    let stats = field.kiosk.stats();
    json!({
        "frames": format!("{kiosk_frames}/{doctor_frames}"),
        "kbps": stats["bitrate_in_kbps"], "lost": stats["packets_lost"],
    })
}

/// The share of packets the kiosk lost on the way in between two of its `stats` replies. With
/// retransmission, the loss put on a link is not the loss a side is left with, and a quality
/// indicator must show the latter: a side left with this share of 3 % or more must have shown
/// less than good for at least one second (below 2 % in every second, the whole would be too).
fn kiosk_loss_share(before: &Value, after: &Value) -> f64 {
    let count = |v: &Value, k: &str| v[k].as_i64().unwrap_or(0);
    let lost = (count(after, "packets_lost") - count(before, "packets_lost")).max(0) as f64;
    let received =
        (count(after, "packets_received") - count(before, "packets_received")).max(0) as f64;
    if lost + received > 0.0 {
        lost / (lost + received)
    } else {
        0.0
    }
}

/// What a kiosk left with `share` of its packets lost must have shown.
const SHOWN_FROM_SHARE: f64 = 0.03;

/// `row` with the fields of `more` added.
fn with(mut row: Value, more: Value) -> Value {
    if let (Some(row), Some(more)) = (row.as_object_mut(), more.as_object()) {
        row.extend(more.clone());
    }
    row
}

fn stun() -> String {
    format!("stun:{SERVICES}:{STUN_PORT}")
}

fn turn() -> String {
    format!("turn:{TURN_USER}:{TURN_PASSWORD}@{SERVICES}:{STUN_PORT}")
}

struct Field {
    kiosk: Kiosk,
    fleet: Fleet,
    net: FieldNet,
    _dir: tempfile::TempDir,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl Field {
    /// The network with both routers doing `nat`, coturn (TURN too with `relay`), the fleet's
    /// broker, and a provisioned kiosk that knows the STUN server. `timeouts` is added to the
    /// kiosk's `[timeouts]`.
    fn start(nat: Nat, relay: bool, timeouts: &str) -> Self {
        Self::start_with(nat, relay, timeouts, None, None)
    }

    /// The same, the broker serving `web` (the doctor's page) on its WebSocket listener, the
    /// kiosk's test camera showing `pattern` (videotestsrc's; "snow" fills any bitrate).
    fn start_with(
        nat: Nat,
        relay: bool,
        timeouts: &str,
        web: Option<&std::path::Path>,
        pattern: Option<&str>,
    ) -> Self {
        let turn = crate::harness::heavy_media();
        let dir = tempfile::tempdir().unwrap();
        let mut net = FieldNet::new(nat, &report_dir());
        net.start_coturn(relay);
        let fleet = Fleet::start_at(&[DEVICE], Some(net.inet.clone()), web, SERVICES);
        let boot = dir.path().join("boot");
        std::fs::create_dir_all(&boot).unwrap();
        let bundle = boot.join("praxiskiosk-provision.json");
        std::fs::copy(fleet.bundle(DEVICE), &bundle).unwrap();
        let mut config = KioskConfig::provisioned(&bundle);
        // Every interface of the kiosk's LAN host: no pinning in a real network.
        config.ice = format!("servers = [\"{}\"]\nlocal_addresses = []", stun());
        config.timeouts.push_str(timeouts);
        if let Some(pattern) = pattern {
            config.camera =
                format!("video_source = \"videotestsrc\"\nvideo_device = \"{pattern}\"");
        }
        let kiosk_dir = dir.path().join("kiosk");
        std::fs::create_dir_all(&kiosk_dir).unwrap();
        let kiosk = Kiosk::start_with(
            &kiosk_dir,
            &config,
            net.kiosk.command(env!("CARGO_BIN_EXE_kioskd")),
        );
        kiosk.wait_for_state("idle", Duration::from_secs(20));
        // Codes open nothing until the broker answers (the kiosk says so): wait for it.
        kiosk.wait_for_log("connected to broker", Duration::from_secs(20));
        Self {
            kiosk,
            fleet,
            net,
            _dir: dir,
            _turn: turn,
        }
    }

    /// Books an appointment, lets the patient in and starts the doctor in the practice's LAN.
    fn call(&self, doctor_args: &[&str]) -> (Appointment, Doctor) {
        let appointment = self
            .fleet
            .create_appointment(DEVICE, &["--patient", "Max Mustermann"]);
        self.kiosk.wait_for_appointment(&appointment.id);
        self.kiosk.let_patient_in(&appointment);
        let doctor = Doctor::join_from(
            self.net.doctor.command(env!("CARGO_BIN_EXE_kioskctl")),
            &self.fleet,
            appointment
                .link
                .as_deref()
                .expect("a TLS fleet gives a join link"),
            doctor_args,
        );
        (appointment, doctor)
    }

    /// Waits for media both ways; returns the doctor's time from joining to the kiosk's first
    /// frame (what the doctor waits for), in ms.
    fn connected(&self, doctor: &Doctor) -> u64 {
        let media = poll(Duration::from_secs(30), || doctor.event("media"));
        if media.is_none() {
            let log = self.kiosk.log();
            let ice: Vec<&str> = log
                .lines()
                .filter(|l| l.contains("ICE") || l.contains("call"))
                .collect();
            panic!(
                "the call did not connect; the kiosk's ICE:\n{}",
                ice.join("\n")
            );
        }
        self.kiosk
            .wait_for_state("in_call", Duration::from_secs(20));
        wait_for("the doctor's first frame", Duration::from_secs(5), || {
            doctor.stats()?["first_frame_ms"].as_u64()
        })
    }

    /// Waits until the kiosk's statistics name the path in use; panics unless both of its ends
    /// are one of `kinds`. Returns the statistics.
    fn path(&self, kinds: &[&str]) -> Value {
        let stats = wait_for(
            "the path in the kiosk's statistics",
            Duration::from_secs(5),
            || {
                let stats = self.kiosk.stats();
                stats["path"].is_string().then_some(stats)
            },
        );
        let path = stats["path"].as_str().unwrap_or_default();
        let any = |end: &str| kinds.contains(&end);
        let ends: Vec<&str> = path.split('/').collect();
        assert!(
            if kinds.contains(&"relay") {
                ends.iter().any(|e| any(e))
            } else {
                ends.iter().all(|e| any(e))
            },
            "the path {path:?} is not of {kinds:?}: {stats}"
        );
        stats
    }

    /// Remote frames the kiosk and the doctor have received so far.
    fn frames(&self, doctor: &Doctor) -> (u64, u64) {
        let kiosk = self.kiosk.stats()["video_frames_received"]
            .as_u64()
            .unwrap_or(0);
        let doc = doctor
            .stats()
            .and_then(|s| s["video_frames_received"].as_u64())
            .unwrap_or(0);
        (kiosk, doc)
    }

    /// Waits until video and audio move again on both sides; returns when.
    fn media_moves(&self, doctor: &Doctor, limit: Duration) -> Option<Instant> {
        let audio = |stats: &Value| stats["audio_buffers_received"].as_u64().unwrap_or(0);
        let before = (self.frames(doctor), audio(&self.kiosk.stats()));
        poll(limit, || {
            let now = (self.frames(doctor), audio(&self.kiosk.stats()));
            (now.0.0 > before.0.0 && now.0.1 > before.0.1 && now.1 > before.1).then(Instant::now)
        })
    }

    fn hang_up(&self, doctor: &mut Doctor) {
        doctor.hang_up();
        doctor.wait_exit(Duration::from_secs(15));
        self.kiosk.wait_for_state("idle", Duration::from_secs(20));
    }
}

impl Drop for Field {
    /// The kiosk's log stays for a look after the test: `target/field/kioskd.log` for the last
    /// scenario, `target/field/<test>.kioskd.log` for each.
    fn drop(&mut self) {
        let log = self.kiosk.dir.join("kioskd.log");
        let _ = std::fs::copy(&log, report_dir().join("kioskd.log"));
        if let Some(test) = std::thread::current().name() {
            let name = test.rsplit("::").next().unwrap_or(test);
            let _ = std::fs::copy(&log, report_dir().join(format!("{name}.kioskd.log")));
        }
    }
}

#[test]
fn calls_connect_with_stun_through_cone_nats_on_both_sides() {
    let field = Field::start(Nat::PortRestricted, false, "");
    let mut rows = Vec::new();
    for nat in [Nat::PortRestricted, Nat::FullCone] {
        field.net.set_nat(Side::Kiosk, nat);
        field.net.set_nat(Side::Doctor, nat);
        let (appointment, mut doctor) = field.call(&[]);
        let connect_ms = field.connected(&doctor);
        let kiosk = field.path(&["srflx", "host", "prflx"]);
        assert!(
            field
                .media_moves(&doctor, Duration::from_secs(10))
                .is_some(),
            "media flows both ways"
        );
        rows.push(with(
            json!({
                "case": format!("STUN, {}", kiosk["path"].as_str().unwrap_or("?")),
                "nat": nat.name(), "connected": true, "connect_ms": connect_ms,
                "detail": {"session": appointment.session},
            }),
            media_now(&field, &doctor),
        ));
        field.hang_up(&mut doctor);
    }
    report("stun-cone-nats", rows);
}

#[test]
fn symmetric_nats_without_a_relay_fail_within_connect_s_and_say_why() {
    let field = Field::start(Nat::Symmetric, false, "connect_s = 10\n");
    let (_, mut doctor) = field.call(&[]);
    let started = Instant::now();
    let failed = poll(Duration::from_secs(25), || {
        let status = field.kiosk.control(json!({"cmd": "status"}));
        (status["detail"] == "p2p_failed").then_some(())
    });
    let failed_after = started.elapsed();
    assert!(
        failed.is_some(),
        "the kiosk says no direct connection could be made: {}",
        field.kiosk.log_tail()
    );
    let exit = doctor.wait_exit(Duration::from_secs(20));
    assert!(
        !exit.success(),
        "the doctor's side gives up too, with an error"
    );
    field.kiosk.wait_for_state("idle", Duration::from_secs(20));
    report(
        "symmetric-nats",
        vec![json!({
            "case": "no relay allowed", "nat": "symmetric", "connected": false,
            "detail": {"failed_after_ms": failed_after.as_millis() as u64},
        })],
    );
}

#[test]
fn symmetric_nats_connect_through_a_relay_the_fleet_allows() {
    let field = Field::start(Nat::Symmetric, true, "connect_s = 10\n");
    // The fleet allows its relay: the pair connects through coturn, and says so.
    field.fleet.ok(&[
        "device",
        "config",
        "set",
        DEVICE,
        "--ice-server",
        &stun(),
        "--ice-server",
        &turn(),
        "--allow-relay",
        "true",
    ]);
    wait_for(
        "the device config on the kiosk",
        Duration::from_secs(10),
        || {
            field
                .kiosk
                .dir
                .join("state/device-config.json")
                .exists()
                .then_some(())
        },
    );
    let (_, mut doctor) = field.call(&[]);
    let connect_ms = field.connected(&doctor);
    let kiosk = field.path(&["relay"]);
    let both = poll(Duration::from_secs(10), || {
        let events = std::fs::read_to_string(field.kiosk.dir.join("state/events.jsonl")).ok()?;
        (events.contains("relay_used") && doctor.event("relay_used").is_some()).then_some(())
    });
    assert!(
        both.is_some(),
        "relay_used from both sides; the kiosk's path {}, the doctor's {:?}",
        field.kiosk.stats()["path"],
        doctor.stats().map(|s| s["path"].clone())
    );
    report(
        "relay",
        vec![with(
            json!({"case": format!("TURN, {}", kiosk["path"].as_str().unwrap_or("?")),
                   "nat": "symmetric", "connected": true, "connect_ms": connect_ms}),
            media_now(&field, &doctor),
        )],
    );
    field.hang_up(&mut doctor);
}
