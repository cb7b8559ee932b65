//! A kiosk whose wall clock is a year off (a Raspberry Pi 4 has no real-time clock; a Pi 5's
//! may be wrong) until it synchronizes: no code opens an appointment, the kiosk says why, and
//! nothing it stored is lost to the wrong clock. kioskd runs under libfaketime (Debian's
//! `faketime`), its wall clock moved a year, its monotonic clock left alone.

use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::harness::{Kiosk, KioskConfig, Mosquitto, create_appointment, wait_for};

/// kioskd with its wall clock moved by `offset` (libfaketime's form, e.g. `+365d`): the
/// library preloaded into kioskd itself, so the harness's kioskd is the process it stops (the
/// `faketime` wrapper would stand between, and kioskd outlive it).
fn kioskd_at(offset: &str) -> Command {
    let library = glob_one("/usr/lib", "faketime/libfaketimeMT.so.1")
        .expect("libfaketime is installed (Debian's faketime, .ci/install-deps)");
    let mut command = Command::new(env!("CARGO_BIN_EXE_kioskd"));
    command
        .env("LD_PRELOAD", library)
        .env("FAKETIME", offset)
        // Timers, tokio and GStreamer keep the real monotonic clock.
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
    command
}

/// `{root}/{any directory}/{tail}`, the first that exists (the multiarch directory differs).
fn glob_one(root: &str, tail: &str) -> Option<std::path::PathBuf> {
    std::fs::read_dir(root)
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path().join(tail))
        .find(|path| path.exists())
}

#[test]
fn with_a_clock_a_year_off_no_code_opens_and_nothing_is_lost() {
    let broker = Mosquitto::start();
    for offset in ["+365d", "-365d"] {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("synchronized");
        let mut config = KioskConfig::new(broker.port);
        config.time = format!("synchronized_marker = \"{}\"", marker.display());
        let appointment = create_appointment(broker.port, &[]);
        let file = dir
            .path()
            .join(format!("state/appointments/{}.json", appointment.id));

        let kiosk = Kiosk::start_with(dir.path(), &config, kioskd_at(offset));
        // A year ahead, the appointment has ended; a year behind, it has not begun. Either
        // way the kiosk keeps it, since its clock is not confirmed.
        kiosk.wait_for_appointment(&appointment.id);
        let enter =
            |kiosk: &Kiosk| kiosk.control(json!({"cmd": "enter_code", "code": appointment.code}));
        let reply = wait_for("the kiosk online", Duration::from_secs(15), || {
            let reply = enter(&kiosk);
            (reply["error"] != "offline").then_some(reply)
        });
        assert_eq!(reply["error"], "clock_unknown", "{offset}: {reply}");
        let says = |key: &str, words: &str| reply[key].as_str().is_some_and(|m| m.contains(words));
        assert!(
            says("message", "Uhrzeit") && says("message_en", "clock"),
            "{offset}: the kiosk says why, in German and English: {reply}"
        );
        assert_ne!(kiosk.state(), "code_accepted", "{offset}");
        // kioskd did live a year off: its log's time stamps say so.
        let year =
            time::OffsetDateTime::now_utc().year() + if offset.starts_with('+') { 1 } else { -1 };
        let log = kiosk.log();
        assert!(
            log.starts_with(&format!("{year}-")),
            "{offset}: {}",
            &log[..log.len().min(200)]
        );
        drop(kiosk);
        assert!(
            file.exists(),
            "{offset}: the wrong clock deleted the appointment"
        );

        // The clock is right and synchronized again: the same code opens the appointment.
        std::fs::write(&marker, b"").unwrap();
        let kiosk = Kiosk::start(dir.path(), &config);
        // (Online, and its first look at the clock taken: once a second.)
        let reply = wait_for("the kiosk online", Duration::from_secs(15), || {
            let reply = enter(&kiosk);
            let waiting =
                ["offline", "clock_unknown"].contains(&reply["error"].as_str().unwrap_or_default());
            (!waiting).then_some(reply)
        });
        assert_eq!(kiosk.state(), "code_accepted", "{offset}: {reply}");
    }
}
