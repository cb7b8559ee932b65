//! A wipe leaves no journal entry of the kiosk. kioskd logs into its journal namespace
//! (`LogNamespace=praxiskiosk`, `config/systemd/journald@praxiskiosk.conf`), here a real
//! systemd-journald of its own in a private mount namespace (`journal/in-journal.sh`). On a
//! factory reset kioskd asks for the journal to be emptied (`$RUNTIME_DIRECTORY/vacuum-journal`);
//! the test then does what `praxiskiosk-journal-vacuum.path` starts: the commands of
//! `praxiskiosk-journal-vacuum.service`, read from the unit itself.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::harness::{DEVICE, Fleet, Kiosk, KioskConfig, wait_for};

const VACUUM_UNIT: &str = include_str!("../../config/systemd/praxiskiosk-journal-vacuum.service");

/// Runs `args` in kioskd's mount namespace, where its journald is.
fn beside(kiosk: &Kiosk, args: &[&str]) -> std::process::Output {
    Command::new("nsenter")
        .args(["--mount", "--target", &kiosk.pid().to_string(), "--"])
        .args(args)
        .output()
        .expect("nsenter runs")
}

/// Everything the kiosk's journal namespace holds, message by message.
fn journal(kiosk: &Kiosk) -> String {
    let out = beside(
        kiosk,
        &["journalctl", "--namespace=praxiskiosk", "-o", "cat"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Stops the test's journald when the test ends, however it ends.
struct Journald(std::path::PathBuf);

impl Drop for Journald {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.0) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

#[test]
fn a_wipe_leaves_no_journal_entry_of_the_kiosk() {
    let fleet = Fleet::start(&[DEVICE]);
    let dir = tempfile::tempdir().unwrap();
    let boot = dir.path().join("boot");
    std::fs::create_dir(&boot).unwrap();
    let bundle = boot.join("praxiskiosk-provision.json");
    std::fs::copy(fleet.bundle(DEVICE), &bundle).unwrap();
    let runtime = dir.path().join("run");
    std::fs::create_dir(&runtime).unwrap();
    let _journald = Journald(dir.path().join("journald.pid"));

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/journal/in-journal.sh");
    let conf =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/systemd/journald@praxiskiosk.conf");
    let mut kioskd = Command::new("unshare");
    kioskd
        .args(["--mount", "--propagation", "private"])
        .arg(&script)
        .arg(&conf)
        .arg(env!("CARGO_BIN_EXE_kioskd"))
        .env("JOURNALD_PID_FILE", dir.path().join("journald.pid"))
        .env("RUNTIME_DIRECTORY", &runtime);
    let kiosk = Kiosk::start_with(dir.path(), &KioskConfig::provisioned(&bundle), kioskd);
    let appointment = fleet.create_appointment(DEVICE, &["--patient", "Erika Mustermann"]);
    kiosk.wait_for_appointment(&appointment.id);
    wait_for("the code accepted", Duration::from_secs(15), || {
        let reply = kiosk.control(json!({"cmd": "enter_code", "code": appointment.code}));
        (reply["error"] != "offline").then_some(())
    });
    kiosk.control(json!({"cmd": "accept"}));
    let waiting = crate::harness::poll(Duration::from_secs(10), || {
        (kiosk.state() == "waiting").then_some(())
    });
    assert!(waiting.is_some(), "not waiting: {}", journal(&kiosk));
    // The journal holds the kiosk's log, the appointment's id with it.
    wait_for(
        "kioskd's log in its journal",
        Duration::from_secs(10),
        || journal(&kiosk).contains(&appointment.id).then_some(()),
    );

    fleet.ok(&["device", "command", DEVICE, "wipe"]);
    kiosk.wait_for_state("not_provisioned", Duration::from_secs(15));
    let request = runtime.join("vacuum-journal");
    assert!(
        request.exists(),
        "kioskd asked for its journal to be emptied"
    );
    // What the path unit starts: the service's commands, as root, in the journal's namespace.
    let commands: Vec<Vec<String>> = VACUUM_UNIT
        .lines()
        .filter_map(|line| line.strip_prefix("ExecStart="))
        .map(|line| {
            line.replace("/run/praxiskiosk", &runtime.display().to_string())
                .split_whitespace()
                .map(String::from)
                .collect()
        })
        .collect();
    assert!(commands.len() >= 2, "{commands:?}");
    for command in &commands {
        let args: Vec<&str> = command.iter().map(String::as_str).collect();
        let out = beside(&kiosk, &args);
        assert!(
            out.status.success(),
            "{command:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(!request.exists(), "the request is taken back");
    let left = journal(&kiosk);
    assert!(
        !left.contains(&appointment.id)
            && !left.contains(&appointment.session)
            && !left.contains("Erika"),
        "the journal still names the appointment after the wipe:\n{left}"
    );
}
