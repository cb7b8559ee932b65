//! `make soak`: a kiosk runs for months, so memory and file descriptors must not grow from call
//! to call. One kioskd holds `SOAK_CALLS` consultations (100 unless set) of 10 s each with
//! `kioskctl doctor` on loopback; after each, back in `idle`, its resident memory (RSS, PSS),
//! open file descriptors and the CPU time the call cost are read from /proc.
//!
//! kioskd runs with the memory settings of its systemd unit (the `MALLOC_*` lines of
//! `config/systemd/kioskd.service`), so the soak measures what runs on the kiosk.
//! `SOAK_UNIT_ENV=0` runs it with glibc's defaults instead, to compare.

use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::harness::{Doctor, Kiosk, KioskConfig, Mosquitto, create_appointment};
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
}

/// The unit's environment for glibc's allocator: `NAME=value` pairs of its `Environment=`
/// lines that start with `MALLOC_`.
fn unit_memory_env() -> Vec<(String, String)> {
    include_str!("../../config/systemd/kioskd.service")
        .lines()
        .filter_map(|line| line.trim().strip_prefix("Environment="))
        .flat_map(str::split_whitespace)
        .filter(|assignment| assignment.starts_with("MALLOC_"))
        .filter_map(|assignment| assignment.split_once('='))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

fn sample(pid: u32) -> Sample {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0);
    let cpu = procfs::Cpu::read(&[pid]);
    Sample {
        rss_mib: rss_kib / 1024.0,
        pss_mib: procfs::pss_mib(&[pid]),
        fds,
        cpu_s: cpu.seconds_since(&procfs::Cpu::default(), procfs::ticks_per_second()),
    }
}

fn one_call(kiosk: &Kiosk, broker: &Mosquitto) {
    let appointment = create_appointment(broker.port, &["--patient", "Max Mustermann"]);
    kiosk.wait_for_appointment(&appointment.id);
    kiosk.let_patient_in(&appointment);
    let hang_up = CALL_S.to_string();
    let mut doctor = Doctor::start(
        broker.port,
        &appointment.session,
        &["--hangup-after", &hang_up],
    );
    kiosk.wait_for_state("in_call", Duration::from_secs(60));
    doctor.wait_exit(Duration::from_secs(CALL_S + 30));
    kiosk.wait_for_state("idle", Duration::from_secs(30));
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
    eprintln!("soak: kioskd's environment from its unit: {unit_env:?}");
    let mut kioskd = Command::new(env!("CARGO_BIN_EXE_kioskd"));
    kioskd.envs(unit_env.iter().map(|(name, value)| (name, value)));
    let kiosk = Kiosk::start_with(dir.path(), &config, kioskd);
    kiosk.wait_for_state("idle", Duration::from_secs(20));
    // Settled: the warm-up (plugins, certificates) is done before the first call.
    std::thread::sleep(Duration::from_secs(3));
    let idle = sample(kiosk.pid());
    let mut after = Vec::with_capacity(calls);
    let mut before = idle;
    for n in 1..=calls {
        one_call(&kiosk, &broker);
        // What a call leaves behind, not what is still being let go of.
        std::thread::sleep(Duration::from_secs(1));
        let s = sample(kiosk.pid());
        eprintln!(
            "soak: call {n:>3}: RSS {:.1} MiB, PSS {:.1} MiB, {} fds, {:.1} CPU-s",
            s.rss_mib,
            s.pss_mib,
            s.fds,
            s.cpu_s - before.cpu_s
        );
        before = s;
        after.push(s);
    }
    let at = |n: usize| after[n.min(calls) - 1];
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
    ];
    Scenario {
        key: "soak",
        rows,
        json: json!({
            "calls": calls,
            "call_s": CALL_S,
            "environment": unit_env.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>(),
            "idle": idle,
            "after_each_call": after,
            "rss_growth_from_call_10_mib": last.rss_mib - tenth.rss_mib,
        }),
    }
}
