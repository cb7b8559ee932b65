//! `make soak`: a kiosk runs for months, so memory and file descriptors must not grow from call
//! to call. One kioskd holds `SOAK_CALLS` consultations (100 unless set) of 10 s each with
//! `kioskctl doctor` on loopback; after each, back in `idle`, its resident memory (RSS, PSS),
//! open file descriptors and the CPU time the call cost are read from /proc.
//!
//! kioskd runs with the memory settings of its systemd unit (the `MALLOC_*` lines of
//! `config/systemd/kioskd.service`), so the soak measures what runs on the kiosk.
//! `SOAK_UNIT_ENV=0` runs it with glibc's defaults instead, to compare. It runs with the unit's
//! watchdog period too, so that its own checks say in its log when a part hangs.
//!
//! What each call was like goes with its sample, so that a jump in memory can be tied to a call:
//! how long the code check and the connection took, the frames each side received, and kioskd's
//! warnings meanwhile. kioskd's whole log is kept in `target/bench/soak-kioskd.log`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{Doctor, Kiosk, KioskConfig, Mosquitto, create_appointment, poll};
use crate::procfs;
use crate::report::{Row, Scenario};

const CALLS: usize = 100;
/// Each call's media time.
const CALL_S: u64 = 10;

#[derive(Debug, Clone, Copy, serde::Serialize)]
struct Sample {
    rss_mib: f64,
    pss_mib: f64,
    fds: usize,
    /// kioskd's CPU time (user and system) since it started.
    cpu_s: f64,
    threads: usize,
}

/// What one call was like.
#[derive(Debug, Clone, serde::Serialize)]
struct Outcome {
    /// From the code typed to the waiting room: the code is checked against every stored
    /// appointment (one more each call here), Argon2 each.
    admit_ms: f64,
    /// From the doctor's start to the kiosk in the call.
    connect_ms: f64,
    /// The doctor's first frame of the kiosk's picture, after its call task started.
    doctor_first_frame_ms: Option<u64>,
    doctor_video_frames: Option<u64>,
    /// The doctor's frames the kiosk received (its log's `left call session`).
    kiosk_video_frames: Option<u64>,
    /// kioskd's warnings and errors from the end of the call before to the end of this one,
    /// each once, with how often it came.
    warnings: Vec<(String, usize)>,
}

/// One call's sample and outcome, as the JSON has them.
#[derive(Debug, serde::Serialize)]
struct Call {
    #[serde(flatten)]
    sample: Sample,
    #[serde(flatten)]
    outcome: Outcome,
}

const UNIT: &str = include_str!("../../config/systemd/kioskd.service");

/// The unit's environment for glibc's allocator: `NAME=value` pairs of its `Environment=`
/// lines that start with `MALLOC_`.
fn unit_memory_env() -> Vec<(String, String)> {
    UNIT.lines()
        .filter_map(|line| line.trim().strip_prefix("Environment="))
        .flat_map(str::split_whitespace)
        .filter(|assignment| assignment.starts_with("MALLOC_"))
        .filter_map(|assignment| assignment.split_once('='))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

/// The watchdog as systemd hands it over for the unit's `WatchdogSec=`. Without `NOTIFY_SOCKET`
/// kioskd pings nobody, but checks its parts as often and logs the one that hangs.
fn unit_watchdog_env() -> (String, String) {
    let seconds: u64 = UNIT
        .lines()
        .find_map(|line| line.trim().strip_prefix("WatchdogSec="))
        .and_then(|s| s.parse().ok())
        .expect("the unit has WatchdogSec= in seconds");
    ("WATCHDOG_USEC".into(), (seconds * 1_000_000).to_string())
}

fn sample(pid: u32) -> Sample {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN);
    let threads = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0);
    let cpu = procfs::Cpu::read(&[pid]);
    Sample {
        rss_mib: rss_kib / 1024.0,
        pss_mib: procfs::pss_mib(&[pid]),
        fds,
        cpu_s: cpu.seconds_since(&procfs::Cpu::default(), procfs::ticks_per_second()),
        threads,
    }
}

fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

fn one_call(kiosk: &Kiosk, broker: &Mosquitto, log: &mut LogReader) -> Outcome {
    let appointment = create_appointment(broker.port, &["--patient", "Max Mustermann"]);
    kiosk.wait_for_appointment(&appointment.id);
    let admitting = Instant::now();
    kiosk.let_patient_in(&appointment);
    let admit_ms = ms_since(admitting);
    let hang_up = CALL_S.to_string();
    let connecting = Instant::now();
    let mut doctor = Doctor::start(
        broker.port,
        &appointment.session,
        &["--hangup-after", &hang_up],
    );
    kiosk.wait_for_state("in_call", Duration::from_secs(60));
    let connect_ms = ms_since(connecting);
    doctor.wait_exit(Duration::from_secs(CALL_S + 30));
    kiosk.wait_for_state("idle", Duration::from_secs(30));
    // The doctor's last line may still be on its way through the reader thread.
    let summary = poll(Duration::from_secs(2), || doctor.event("summary"));
    let doctor_stats = summary.as_ref().map(|s| &s["stats"]);
    let lines = log.new_lines();
    Outcome {
        admit_ms,
        connect_ms,
        doctor_first_frame_ms: doctor_stats.and_then(|s| s["first_frame_ms"].as_u64()),
        doctor_video_frames: doctor_stats.and_then(|s| s["video_frames_received"].as_u64()),
        kiosk_video_frames: field_after(&lines, "left call session", "video_frames_received"),
        warnings: warnings(&lines),
    }
}

/// kioskd's log, read on from where the last look stopped.
struct LogReader {
    path: PathBuf,
    read: usize,
}

impl LogReader {
    fn new_lines(&mut self) -> String {
        let log = std::fs::read(&self.path).unwrap_or_default();
        let new = String::from_utf8_lossy(&log[self.read.min(log.len())..]).into_owned();
        self.read = log.len();
        new
    }
}

/// The numeric `field` of the first line with `message`.
fn field_after(lines: &str, message: &str, field: &str) -> Option<u64> {
    let line = lines.lines().find(|l| l.contains(message))?;
    let value = line.split_once(&format!(" {field}="))?.1;
    value.split_whitespace().next()?.parse().ok()
}

/// Each distinct warning or error line, without its time stamp and cut short, with its count.
fn warnings(lines: &str) -> Vec<(String, usize)> {
    let mut seen: Vec<(String, usize)> = Vec::new();
    let notable = lines
        .lines()
        .filter_map(|l| l.split_once(" WARN ").or_else(|| l.split_once(" ERROR ")))
        .map(|(_, rest)| rest.trim().chars().take(160).collect::<String>());
    for line in notable {
        match seen.iter_mut().find(|(text, _)| *text == line) {
            Some((_, count)) => *count += 1,
            None => seen.push((line, 1)),
        }
    }
    seen
}

/// Copies kioskd's log next to the report when dropped: after the soak, or when it panics.
struct KeepLog {
    from: PathBuf,
}

impl Drop for KeepLog {
    fn drop(&mut self) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
        let to = dir.join("soak-kioskd.log");
        match std::fs::create_dir_all(&dir).and_then(|()| std::fs::copy(&self.from, &to)) {
            Ok(_) => eprintln!("soak: kioskd's log in {}", to.display()),
            Err(e) => eprintln!("soak: kioskd's log not kept: {e}"),
        }
    }
}

pub fn run() -> Scenario {
    let calls = std::env::var("SOAK_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(CALLS)
        .max(1);
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut config = KioskConfig::new(broker.port);
    config.timeouts = "ended_s = 1\nproblem_s = 2\n".into();
    let unit_env = match std::env::var("SOAK_UNIT_ENV").as_deref() {
        Ok("0") => Vec::new(),
        _ => unit_memory_env(),
    };
    let watchdog = unit_watchdog_env();
    eprintln!("soak: kioskd's environment from its unit: {unit_env:?}, {watchdog:?}");
    let mut kioskd = Command::new(env!("CARGO_BIN_EXE_kioskd"));
    kioskd.envs(unit_env.iter().map(|(name, value)| (name, value)));
    kioskd.env(&watchdog.0, &watchdog.1);
    let log_path = dir.path().join("kioskd.log");
    let _keep_log = KeepLog {
        from: log_path.clone(),
    };
    let kiosk = Kiosk::start_with(dir.path(), &config, kioskd);
    kiosk.wait_for_state("idle", Duration::from_secs(20));
    // Settled: the warm-up (plugins, certificates) is done before the first call.
    std::thread::sleep(Duration::from_secs(3));
    let mut log = LogReader {
        path: log_path,
        read: 0,
    };
    let start_warnings = warnings(&log.new_lines());
    let idle = sample(kiosk.pid());
    let mut after: Vec<Call> = Vec::with_capacity(calls);
    let mut before = idle;
    for n in 1..=calls {
        let outcome = one_call(&kiosk, &broker, &mut log);
        // What a call leaves behind, not what is still being let go of.
        std::thread::sleep(Duration::from_secs(1));
        let s = sample(kiosk.pid());
        let frames = |f: Option<u64>| f.map_or("-".to_string(), |f| f.to_string());
        eprintln!(
            "soak: call {n:>3}: RSS {:.1} MiB, PSS {:.1} MiB, {} fds, {} threads, {:.1} CPU-s; \
             admitted in {:.0} ms, in the call after {:.0} ms, frames in {} (kiosk) {} (doctor)",
            s.rss_mib,
            s.pss_mib,
            s.fds,
            s.threads,
            s.cpu_s - before.cpu_s,
            outcome.admit_ms,
            outcome.connect_ms,
            frames(outcome.kiosk_video_frames),
            frames(outcome.doctor_video_frames),
        );
        for (warning, count) in &outcome.warnings {
            eprintln!("soak:   {count} x {warning}");
        }
        before = s;
        after.push(Call { sample: s, outcome });
    }
    let at = |n: usize| after[n.min(calls) - 1].sample;
    let (tenth, last) = (at(10), at(calls));
    let rows = vec![
        Row::kiosk("soak (idle)", "RSS (MiB)", idle.rss_mib),
        Row::kiosk("soak, after call 1", "RSS (MiB)", at(1).rss_mib),
        Row::kiosk("soak, after call 10", "RSS (MiB)", tenth.rss_mib),
        Row::kiosk("soak, after the last call", "RSS (MiB)", last.rss_mib),
        Row::kiosk(
            "soak, last − 10th call",
            "RSS growth (MiB)",
            last.rss_mib - tenth.rss_mib,
        ),
        Row::kiosk("soak (idle)", "file descriptors", idle.fds as f64),
        Row::kiosk(
            "soak, after the last call",
            "file descriptors",
            last.fds as f64,
        ),
        Row::kiosk(
            "soak, per call",
            "CPU-seconds",
            (last.cpu_s - idle.cpu_s) / calls as f64,
        ),
        Row::kiosk("soak (idle)", "threads", idle.threads as f64),
        Row::kiosk("soak, after the last call", "threads", last.threads as f64),
        Row::kiosk(
            "soak, calls with warnings",
            "calls",
            after
                .iter()
                .filter(|c| !c.outcome.warnings.is_empty())
                .count() as f64,
        ),
    ];
    Scenario {
        key: "soak",
        rows,
        json: json!({
            "calls": calls,
            "call_s": CALL_S,
            "environment": unit_env
                .iter()
                .chain([&watchdog])
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>(),
            "warnings_before_the_first_call": start_warnings,
            "idle": idle,
            "after_each_call": after,
            "rss_growth_from_call_10_mib": last.rss_mib - tenth.rss_mib,
        }),
    }
}
