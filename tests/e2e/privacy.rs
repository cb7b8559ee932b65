//! Privacy (docs/protocol.md section 7): nothing of an appointment stays on the broker, nor in
//! its persistence file, past its window; and a call leaves no media behind on the kiosk.

use std::time::Duration;

use praxiskiosk::fleet::codes;
use praxiskiosk::fleet::pki::FleetCa;
use praxiskiosk::fleet::trust::Signer;
use praxiskiosk::wire::{self, SignedAppointment, SignedBody, SignedRevoke};
use time::OffsetDateTime;

use crate::harness::{DEVICE, Fleet, Probe};

const ROOT: &str = "praxiskiosk/v1";

fn topic(id: &str) -> String {
    format!("{ROOT}/devices/{DEVICE}/appointments/{id}")
}

/// What the fleet manager signs for an appointment from `from` to `until` (nothing sealed:
/// the sweep reads only what is signed).
fn appointment(id: &str, from: OffsetDateTime, until: OffsetDateTime) -> SignedBody {
    SignedBody::Appointment(SignedAppointment {
        device: DEVICE.into(),
        id: id.into(),
        session: format!("s-{id}"),
        code_hash: codes::hash("12345678"),
        not_before: from,
        not_after: until,
        sealed: String::new(),
    })
}

fn revocation(id: &str, at: OffsetDateTime) -> SignedBody {
    SignedBody::Revoke(SignedRevoke {
        device: DEVICE.into(),
        id: id.into(),
        at,
    })
}

#[test]
fn a_sweep_clears_ended_appointments_and_old_revocations_from_the_broker_and_its_file() {
    let mut fleet = Fleet::start(&[DEVICE]);
    let (cert, key) = FleetCa::open(&fleet.ca_dir())
        .unwrap()
        .admin_identity()
        .unwrap();
    let signer = Signer::from_pem(&cert, &key).unwrap();
    let now = OffsetDateTime::now_utc();
    let hour = time::Duration::hours(1);
    let retained = [
        (
            "a-ended",
            appointment("a-ended", now - 3 * hour, now - hour),
        ),
        (
            "a-running",
            appointment("a-running", now - hour, now + hour),
        ),
        // Ended 5 minutes ago: a kiosk whose clock is behind may still want it.
        (
            "a-just-ended",
            appointment("a-just-ended", now - hour, now - time::Duration::minutes(5)),
        ),
        ("r-old", revocation("r-old", now - 48 * hour)),
        ("r-new", revocation("r-new", now - hour)),
    ];
    let mut admin = Probe::connect(fleet.admin_options("sweep-test")).unwrap();
    for (id, body) in &retained {
        admin.publish(&topic(id), &wire::encode(&signer.sign(body)), true);
    }
    drop(admin);

    let out = fleet.ok(&["broker", "sweep"]);
    assert!(out.contains("2 beendete Termine"), "{out}");
    let mut reader = Probe::connect(fleet.admin_options("sweep-reader")).unwrap();
    assert!(reader.subscribe(&format!("{ROOT}/devices/+/appointments/+")));
    let mut left: Vec<String> = reader
        .received(Duration::from_secs(1))
        .into_iter()
        .map(|(topic, _)| topic.rsplit('/').next().unwrap().to_string())
        .collect();
    left.sort();
    assert_eq!(left, ["a-just-ended", "a-running", "r-new"]);
    drop(reader);

    // The broker writes its persistence file on a clean stop: the cleared ones are not in it.
    fleet.stop_broker();
    let file = std::fs::read(fleet.broker_dir().join("data/mosquitto.db")).unwrap();
    let holds = |id: &str| file.windows(id.len()).any(|w| w == id.as_bytes());
    assert!(holds("a-running"), "the persistence file is where we look");
    for gone in ["a-ended", "r-old"] {
        assert!(
            !holds(gone),
            "{gone} is still in the broker's persistence file"
        );
    }
}

/// Magic numbers of the containers a recording would be in: Ogg, Matroska/WebM, RIFF (WAV,
/// AVI), ISO BMFF (MP4, at offset 4), IVF, and raw H.264 (an Annex B start code and an SPS).
fn looks_like_media(head: &[u8]) -> bool {
    head.starts_with(b"OggS")
        || head.starts_with(&[0x1a, 0x45, 0xdf, 0xa3])
        || head.starts_with(b"RIFF")
        || head.get(4..8) == Some(b"ftyp")
        || head.starts_with(b"DKIF")
        || head.starts_with(&[0, 0, 0, 1, 0x67])
}

/// Every regular file below `dir`.
fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => all.extend(files(&path)),
            Ok(t) if t.is_file() => all.push(path),
            _ => {}
        }
    }
    all
}

/// The files `pid` holds open for writing now (its `/proc` file descriptors).
fn open_for_writing(pid: u32) -> Vec<String> {
    let fds = format!("/proc/{pid}/fd");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&fds).into_iter().flatten().flatten() {
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let target = target.to_string_lossy().into_owned();
        if !target.starts_with('/')
            || ["/dev/", "/proc/", "/sys/"]
                .iter()
                .any(|p| target.starts_with(p))
        {
            continue; // sockets, pipes, devices, anonymous memory
        }
        let info = std::fs::read_to_string(format!(
            "/proc/{pid}/fdinfo/{}",
            entry.file_name().to_string_lossy()
        ))
        .unwrap_or_default();
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
            .unwrap_or(0);
        if flags & 0o3 != 0 {
            found.push(target);
        }
    }
    found
}

/// Nobody records, and nothing shows it better than a whole call: while it runs, kioskd holds no
/// file open for writing but its log and its state's small records, and afterwards nothing it
/// may write (its state directory, its runtime directory, its temporary directory) holds media.
#[test]
fn a_call_leaves_no_media_behind() {
    use crate::harness::{Doctor, Kiosk, KioskConfig, Mosquitto, create_appointment, poll};
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let mut kioskd = std::process::Command::new(env!("CARGO_BIN_EXE_kioskd"));
    kioskd.env("TMPDIR", &tmp);
    let kiosk = Kiosk::start_with(dir.path(), &KioskConfig::new(broker.port), kioskd);
    let appointment = create_appointment(broker.port, &["--patient", "Erika Mustermann"]);
    kiosk.wait_for_appointment(&appointment.id);
    kiosk.let_patient_in(&appointment);
    let mut doctor = Doctor::start(broker.port, &appointment.session, &[]);
    kiosk.wait_for_state("in_call", Duration::from_secs(60));

    // Ten seconds of the call, looked at ten times a second.
    let mut written = std::collections::BTreeSet::new();
    let _ = poll(Duration::from_secs(10), || {
        written.extend(open_for_writing(kiosk.pid()));
        None::<()>
    });
    let frames = kiosk.stats()["video_frames_received"].as_u64().unwrap_or(0);
    assert!(frames > 100, "the call had media: {frames} frames");
    let state = dir.path().join("state");
    let allowed = |path: &str| {
        path == dir.path().join("kioskd.log").to_str().unwrap()
            || path.starts_with(state.to_str().unwrap()) && path.ends_with(".jsonl")
    };
    // The look works: it sees the log, which kioskd writes all along.
    assert!(
        written.iter().any(|p| p.ends_with("kioskd.log")),
        "{written:?}"
    );
    let unexpected: Vec<_> = written.iter().filter(|p| !allowed(p)).collect();
    assert!(
        unexpected.is_empty(),
        "written during the call: {unexpected:?}"
    );

    doctor.hang_up();
    doctor.wait_exit(Duration::from_secs(15));
    kiosk.wait_for_state("idle", Duration::from_secs(15));
    let runtime = dir.path(); // the control socket's directory
    let mut kept = files(&state);
    kept.extend(files(&tmp));
    kept.extend(
        std::fs::read_dir(runtime)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "kioskd.log")),
    );
    for path in &kept {
        let bytes = std::fs::read(path).unwrap_or_default();
        assert!(
            !looks_like_media(&bytes[..bytes.len().min(16)]),
            "{} holds media",
            path.display()
        );
        assert!(
            bytes.len() < 256 * 1024,
            "{} holds {} bytes",
            path.display(),
            bytes.len()
        );
    }
    assert!(
        files(&tmp).is_empty(),
        "kioskd left files in its TMPDIR: {:?}",
        files(&tmp)
    );
}
