//! `make bench`: the CPU an idle kiosk uses (goal: under 2 % of one core). Starts kioskd with test
//! sources and a headless display, lets it settle, and reads its CPU time from /proc over 10 s.
//! Prints a line and writes `target/bench/idle.json`.

use std::process::{Command, Stdio};
use std::time::Duration;

#[path = "shared/stat.rs"]
mod stat;

fn cpu_ticks(pid: u32) -> u64 {
    stat::ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat"))
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("kioskd.toml");
    std::fs::write(
        &config,
        format!(
            r#"device_id = "bench-kiosk"
broker = "mqtt://127.0.0.1:{port}"
plaintext_loopback = true
state_dir = "{state}"

[ice]
local_addresses = ["127.0.0.1"]

[media]
video_source = "videotestsrc"
audio_source = "audiotestsrc"
video_sink = "fakesink"
audio_sink = "fakesink"
"#,
            state = dir.path().join("state").display()
        ),
    )
    .unwrap();
    let mut kioskd = Command::new(env!("CARGO_BIN_EXE_kioskd"))
        .arg("--config")
        .arg(&config)
        .stderr(Stdio::null())
        .spawn()
        .expect("kioskd starts");
    std::thread::sleep(Duration::from_secs(3));
    let window = Duration::from_secs(10);
    let before = cpu_ticks(kioskd.id());
    std::thread::sleep(window);
    let after = cpu_ticks(kioskd.id());
    let _ = kioskd.kill();
    let _ = kioskd.wait();
    // Linux reports CPU time in clock ticks of 1/100 s.
    let percent = (after - before) as f64 / window.as_secs_f64();
    println!(
        "idle kioskd: {percent:.1} % of one core over {} s (no broker, 800x480 screen)",
        window.as_secs()
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let report = serde_json::json!({"bench": "idle-cpu", "percent_of_one_core": percent, "window_s": window.as_secs()});
    std::fs::write(
        dir.join("idle.json"),
        serde_json::to_vec_pretty(&report).unwrap(),
    )
    .unwrap();
}
