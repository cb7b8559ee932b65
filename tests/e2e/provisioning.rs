//! A kiosk's life with its fleet: provisioned from a bundle, a whole consultation over mutual
//! TLS, appointments that changed while it was off, a factory reset, and a broker that goes away.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use praxiskiosk::ui::view::Screen;
use serde_json::{Value, json};

use crate::harness::{DEVICE, Doctor, Fleet, Kiosk, KioskConfig, Mosquitto, Watcher, wait_for};

/// Puts the kiosk's bundle where its config looks for it, as the SD card's boot partition would.
fn boot_partition(fleet: &Fleet, dir: &Path) -> PathBuf {
    let boot = dir.join("boot");
    std::fs::create_dir_all(&boot).unwrap();
    let bundle = boot.join("praxiskiosk-provision.json");
    std::fs::copy(fleet.bundle(DEVICE), &bundle).unwrap();
    bundle
}

fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_below(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn n(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or(0)
}

#[test]
fn a_provisioned_kiosk_holds_a_consultation_over_mutual_tls() {
    let fleet = Fleet::start(&[DEVICE]);
    let dir = tempfile::tempdir().unwrap();
    let bundle = boot_partition(&fleet, dir.path());
    let kiosk = Kiosk::start(dir.path(), &KioskConfig::provisioned(&bundle));
    let watcher = Watcher::start_with(fleet.admin_options(&Watcher::client_id()));
    watcher.wait_for_state("idle", Duration::from_secs(15));

    assert!(
        !bundle.exists(),
        "the bundle (it holds a private key) is gone after the import"
    );
    let identity = files_below(&dir.path().join("state/identity"));
    assert!(!identity.is_empty());
    for file in &identity {
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} is private", file.display());
    }

    // The fleet sees it, and can find it among many.
    let list: Value = serde_json::from_str(&fleet.ok(&["device", "list", "--json"])).unwrap();
    let row = &list[0];
    assert_eq!(
        (row["device"].as_str(), row["state"].as_str()),
        (Some(DEVICE), Some("idle")),
        "{list}"
    );
    assert!(
        row["version"].is_string() && row["at"].is_string() && row["uptime_s"].is_u64(),
        "{row}"
    );
    fleet.ok(&["device", "command", DEVICE, "identify"]);
    kiosk.wait_for_screen(
        Screen::Identify {
            room: "Raum 1".into(),
            device: DEVICE.into(),
        },
        "800x480",
    );

    let appointment = fleet.create_appointment(DEVICE, &["--patient", "Max Mustermann"]);
    kiosk.wait_for_appointment(&appointment.id);
    let doctor = Doctor::join(&fleet, appointment.link.as_deref().unwrap(), &[]);
    let reply = kiosk.control(json!({"cmd": "enter_code", "code": appointment.code}));
    assert_eq!(reply["state"], "code_accepted", "{reply}");
    let reply = kiosk.control(json!({"cmd": "accept"}));
    assert_eq!(reply["state"], "waiting", "{reply}");
    kiosk.wait_for_state("in_call", Duration::from_secs(30));
    let enough =
        |s: &Value| n(s, "video_frames_received") >= 50 && n(s, "audio_buffers_received") >= 10;
    wait_for(
        &format!(
            "50 frames each way over TLS signalling ({})",
            kiosk.log_tail()
        ),
        Duration::from_secs(30),
        || (enough(&kiosk.stats()) && enough(&doctor.stats()?)).then_some(()),
    );
    let reply = kiosk.control(json!({"cmd": "hang_up"}));
    assert_eq!(reply["ok"], true, "{reply}");
    kiosk.wait_for_state("idle", Duration::from_secs(15));
    assert!(watcher.states().contains(&"in_call".to_string()));
}

#[test]
fn appointments_changed_while_the_kiosk_was_off_are_caught_up() {
    let fleet = Fleet::start(&[DEVICE]);
    let dir = tempfile::tempdir().unwrap();
    let bundle = boot_partition(&fleet, dir.path());
    let config = KioskConfig::provisioned(&bundle);
    let kiosk = Kiosk::start(dir.path(), &config);
    let revoked = fleet.create_appointment(DEVICE, &[]);
    let kept = fleet.create_appointment(DEVICE, &[]);
    kiosk.wait_for_appointment(&revoked.id);
    kiosk.wait_for_appointment(&kept.id);
    assert!(kiosk.stop().success());

    fleet.ok(&[
        "appointment",
        "revoke",
        "--device",
        DEVICE,
        "--id",
        &revoked.id,
    ]);
    let added = fleet.create_appointment(DEVICE, &[]);

    let kiosk = Kiosk::start(dir.path(), &config);
    kiosk.wait_for_appointment(&added.id);
    let file = |id: &str| dir.path().join(format!("state/appointments/{id}.json"));
    wait_for(
        "the appointment revoked meanwhile to be deleted",
        Duration::from_secs(10),
        || (!file(&revoked.id).exists()).then_some(()),
    );
    assert!(file(&kept.id).exists(), "the others stay");
    let reply = kiosk.control(json!({"cmd": "enter_code", "code": revoked.code}));
    assert_eq!(reply["error"], "wrong_code", "{reply}");
}

#[test]
fn a_factory_reset_leaves_nothing_behind() {
    let fleet = Fleet::start(&[DEVICE]);
    let dir = tempfile::tempdir().unwrap();
    let bundle = boot_partition(&fleet, dir.path());
    // The runtime directory systemd would make (RuntimeDirectory=) and name to kioskd.
    let runtime = dir.path().join("run");
    std::fs::create_dir(&runtime).unwrap();
    let mut kioskd = std::process::Command::new(env!("CARGO_BIN_EXE_kioskd"));
    kioskd.env("RUNTIME_DIRECTORY", &runtime);
    let kiosk = Kiosk::start_with(dir.path(), &KioskConfig::provisioned(&bundle), kioskd);
    let watcher = Watcher::start_with(fleet.admin_options(&Watcher::client_id()));
    let appointment = fleet.create_appointment(DEVICE, &["--patient", "Erika Mustermann"]);
    kiosk.wait_for_appointment(&appointment.id);
    // Something for the event log: a wrong code, then the patient's consent.
    let reply = kiosk.control(json!({"cmd": "enter_code", "code": "00000000"}));
    assert_eq!(reply["error"], "wrong_code", "{reply}");
    kiosk.control(json!({"cmd": "enter_code", "code": appointment.code}));
    kiosk.control(json!({"cmd": "accept"}));
    kiosk.wait_for_state("waiting", Duration::from_secs(5));
    let state = dir.path().join("state");
    assert!(
        files_below(&state)
            .iter()
            .any(|f| f.ends_with("events.jsonl")),
        "the kiosk keeps an event log: {:?}",
        files_below(&state)
    );

    fleet.ok(&["device", "command", DEVICE, "wipe"]);
    kiosk.wait_for_state("not_provisioned", Duration::from_secs(15));
    kiosk.wait_for_screen(Screen::NotProvisioned { notice: None }, "800x480");
    wait_for(
        &format!(
            "the fleet to see not_provisioned ({})\nbroker: {}",
            kiosk.log_tail(),
            fleet.broker_log()
        ),
        Duration::from_secs(5),
        || (watcher.states().last().map(String::as_str) == Some("not_provisioned")).then_some(()),
    );
    let left = files_below(&state);
    assert!(
        left.is_empty(),
        "nothing remains in the state directory: {left:?}"
    );
    // The journal (systemd's, on a kiosk) is emptied by a privileged unit kioskd asks through
    // its runtime directory (config/systemd/praxiskiosk-journal-vacuum.path); journal.rs
    // shows it on a real journald.
    assert!(
        runtime.join("vacuum-journal").exists(),
        "kioskd asked for its journal to be emptied"
    );
    // kioskd's own log (journald on a kiosk; a file here) may name appointment ids, never a
    // patient or a key; nothing else of the kiosk's remains anywhere.
    for file in files_below(dir.path()) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap_or_default()).into_owned();
        let is_log = file.ends_with("kioskd.log") || file.ends_with("kioskd.toml");
        let found = ["Erika", "PRIVATE KEY", appointment.id.as_str()]
            .into_iter()
            .filter(|needle| text.contains(needle))
            .filter(|needle| !(is_log && *needle == appointment.id))
            .collect::<Vec<_>>();
        assert!(found.is_empty(), "{} still holds {found:?}", file.display());
    }
    let reply = kiosk.control(json!({"cmd": "enter_code", "code": appointment.code}));
    assert_ne!(reply["state"], "code_accepted", "{reply}");
}

/// A "broker" that accepts each connection and closes it at once, noting when.
fn record_connections(listener: TcpListener) -> (Arc<Mutex<Vec<Instant>>>, Arc<Mutex<bool>>) {
    let (seen, stop) = (
        Arc::<Mutex<Vec<Instant>>>::default(),
        Arc::new(Mutex::new(false)),
    );
    let (record, halt) = (seen.clone(), stop.clone());
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        while !*halt.lock().unwrap() {
            match listener.accept() {
                Ok((stream, _)) => {
                    record.lock().unwrap().push(Instant::now());
                    drop(stream);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    (seen, stop)
}

#[test]
fn reconnects_back_off_with_jitter_and_return_soon_after_the_broker() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (attempts, stop) = record_connections(listener);
    let dir = tempfile::tempdir().unwrap();
    let _kiosk = Kiosk::start(dir.path(), &KioskConfig::new(port));
    let times = wait_for("9 connection attempts", Duration::from_secs(40), || {
        let seen = attempts.lock().unwrap().clone();
        (seen.len() >= 9).then_some(seen)
    });
    *stop.lock().unwrap() = true;
    let waits: Vec<f64> = times
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    assert!(waits[3] > 2.0 * waits[0], "the waits grow: {waits:?}");
    // Each wait is drawn from the upper half of its step (250 ms doubling up to 3 s): where in
    // that window it lands is the jitter. A fixed schedule puts every wait at the same place
    // (give or take the few milliseconds a refused connection takes); eight independent draws
    // spread over less than a fifth of the window about once in ten thousand runs.
    let places: Vec<f64> = waits
        .iter()
        .enumerate()
        .map(|(i, wait)| {
            let half = (0.25 * f64::from(1u32 << i.min(4))).min(3.0) / 2.0;
            (wait - half) / half
        })
        .collect();
    let spread = places.iter().copied().fold(f64::MIN, f64::max)
        - places.iter().copied().fold(f64::MAX, f64::min);
    assert!(
        spread > 0.2,
        "the waits are jittered, not a fixed schedule: waits {waits:?}, places in their windows {places:?}"
    );

    std::thread::sleep(Duration::from_millis(50));
    let _broker = Mosquitto::start_on(port);
    let back = Instant::now();
    let watcher = Watcher::start(port);
    watcher.wait_for_state("idle", Duration::from_secs(10));
    let took = back.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "kioskd is back within 5 s of the broker (took {took:?}; waits {waits:?})"
    );
}

/// The boot partition as the image mounts it (root's alone), the state directory as systemd
/// makes it for the service user (here `nobody`), and the privileged import step before kioskd
/// starts: what `kioskd.service` does with `ExecStartPre=+… --import-bundle`.
struct Image {
    dir: tempfile::TempDir,
    bundle: PathBuf,
}

const NOBODY: u32 = 65534;

impl Image {
    fn with_bundle(bytes: &[u8]) -> Self {
        use std::os::unix::fs::{PermissionsExt, chown};
        let dir = tempfile::tempdir().unwrap();
        // The service user reaches its own files in here, and nothing of the boot partition.
        chown(dir.path(), Some(NOBODY), Some(NOBODY)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let boot = dir.path().join("boot");
        std::fs::create_dir(&boot).unwrap();
        std::fs::set_permissions(&boot, std::fs::Permissions::from_mode(0o700)).unwrap();
        let bundle = boot.join("praxiskiosk-provision.json");
        std::fs::write(&bundle, bytes).unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir(&state).unwrap();
        chown(&state, Some(NOBODY), Some(NOBODY)).unwrap();
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
        // GStreamer's plugin registry: nobody has no home to keep it in.
        std::fs::create_dir(dir.path().join("cache")).unwrap();
        chown(dir.path().join("cache"), Some(NOBODY), Some(NOBODY)).unwrap();
        Self { dir, bundle }
    }

    /// `kioskd --import-bundle`, as root; what it printed.
    fn import(&self) -> String {
        let config = KioskConfig::provisioned(&self.bundle).write(self.dir.path());
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kioskd"))
            .arg("--config")
            .arg(&config)
            .arg("--import-bundle")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    /// kioskd as the service user.
    fn start_kioskd(&self) -> Kiosk {
        let mut command = std::process::Command::new("setpriv");
        command
            .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
            .env("XDG_CACHE_HOME", self.dir.path().join("cache"))
            .arg(env!("CARGO_BIN_EXE_kioskd"));
        Kiosk::start_with(
            self.dir.path(),
            &KioskConfig::provisioned(&self.bundle),
            command,
        )
    }
}

#[test]
fn the_bundle_on_a_root_only_boot_partition_is_imported_for_the_service_user() {
    use std::os::unix::fs::MetadataExt;
    let fleet = Fleet::start(&[DEVICE]);
    let image = Image::with_bundle(&std::fs::read(fleet.bundle(DEVICE)).unwrap());
    let said = image.import();
    assert!(said.contains(&format!("provisioned as {DEVICE}")), "{said}");
    assert!(!image.bundle.exists(), "the imported bundle is deleted");
    let identity = image.dir.path().join("state/identity");
    for file in [identity.clone()].into_iter().chain(files_below(&identity)) {
        let meta = std::fs::metadata(&file).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid()),
            (NOBODY, NOBODY),
            "{}",
            file.display()
        );
    }
    // kioskd, which cannot read the boot partition, runs provisioned as the service user.
    let watcher = Watcher::start_with(fleet.admin_options(&Watcher::client_id()));
    let kiosk = image.start_kioskd();
    watcher.wait_for_state("idle", Duration::from_secs(30));
    assert_eq!(kiosk.state(), "idle");
}

#[test]
fn a_bundle_whose_certificate_names_another_device_is_refused_on_screen() {
    let fleet = Fleet::start(&[DEVICE]);
    let mut bundle: Value =
        serde_json::from_str(&std::fs::read_to_string(fleet.bundle(DEVICE)).unwrap()).unwrap();
    bundle["device"] = json!("other-kiosk");
    let image = Image::with_bundle(bundle.to_string().as_bytes());
    let said = image.import();
    assert!(
        said.contains("refused") && said.contains("is not the certificate's name"),
        "{said}"
    );
    assert!(
        image.bundle.exists(),
        "a refused bundle stays for whoever looks"
    );
    assert!(!image.dir.path().join("state/identity").exists());
    let kiosk = image.start_kioskd();
    kiosk.wait_for_screen(
        Screen::NotProvisioned {
            notice: Some(praxiskiosk::ui::view::ProvisionNotice::BundleRefused),
        },
        "800x480",
    );
    assert!(kiosk.log_tail().contains("is not the certificate's name"));
}
