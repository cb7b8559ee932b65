//! What the end-to-end tests start: a real Mosquitto, kioskd and kioskctl as separate processes,
//! and an MQTT watcher. Every process is owned by a guard that stops it on drop, so a failing test
//! leaves nothing running. Everything listens on free loopback ports; ICE is pinned to 127.0.0.1.

mod browser;
mod consult;
mod field;
mod fleet;
mod kiosk;
pub mod mitm;
mod mosquitto;
mod netns;
mod probe;
mod watcher;

pub use browser::{Browser, Engine};
pub use consult::{Consultation, counter, web_doctor};
pub use field::{FIELD_NETS, FieldNet, Nat, SERVICES, STUN_PORT, Side, TURN_PASSWORD, TURN_USER};
pub use fleet::{Fleet, fleet_options};
pub use kiosk::{Doctor, Kiosk, KioskConfig};
pub use mosquitto::Mosquitto;
pub use netns::NetNs;
pub use probe::Probe;
pub use watcher::{Watcher, in_order};

use std::net::TcpListener;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub const DEVICE: &str = "test-kiosk";

/// One heavy media test at a time (Chromium, or a call pushed to 2 Mbit/s): two of them on two
/// cores would measure the machine, not the kiosk. Held for the test's length.
pub fn heavy_media() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    HEAVY.lock().unwrap_or_else(|p| p.into_inner())
}

/// A TCP port on 127.0.0.1 that was free a moment ago, below the kernel's ephemeral range
/// (`ip_local_port_range`, 32768 and up by default): a port the kernel hands out for
/// `bind(0)` can also become the source port of any outgoing connection of a parallel test
/// (a kiosk's, Chromium's) before the broker binds it, which once left a test fleet's broker
/// without its listener. Ports are handed out once per test process, from a random start.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    const FIRST: u16 = 20_000;
    const SPAN: u16 = 12_000;
    static NEXT: AtomicU16 = AtomicU16::new(0);
    if NEXT.load(Ordering::Relaxed) == 0 {
        let clock = std::time::SystemTime::UNIX_EPOCH
            .elapsed()
            .unwrap_or_default();
        let seed = (std::process::id() ^ clock.subsec_nanos()) as u16;
        let _ = NEXT.compare_exchange(0, 1 + seed % SPAN, Ordering::Relaxed, Ordering::Relaxed);
    }
    for _ in 0..SPAN {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) % SPAN;
        let port = FIRST + offset;
        // UDP too: some callers use the port for STUN or TURN.
        if TcpListener::bind(("127.0.0.1", port)).is_ok()
            && std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok()
        {
            return port;
        }
    }
    panic!("no free TCP port between {FIRST} and {}", FIRST + SPAN);
}

/// Polls `probe` every 100 ms until it returns `Some`, or gives up after `limit`.
pub fn poll<T>(limit: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if start.elapsed() >= limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Polls `probe` until it returns `Some`, or panics with `what` after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, probe: impl FnMut() -> Option<T>) -> T {
    poll(limit, probe).unwrap_or_else(|| panic!("timed out after {limit:?} waiting for {what}"))
}

/// Runs kioskctl against `broker_port` and returns its output (stdout, stderr, status).
pub fn kioskctl(broker_port: u16, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kioskctl"))
        .arg("--broker")
        .arg(format!("mqtt://127.0.0.1:{broker_port}"))
        .arg("--plaintext-loopback")
        .args(args)
        .output()
        .expect("kioskctl runs")
}

/// mosquitto_pub to the test broker's `topic` with QoS 1, as any other fleet client could.
fn mosquitto_pub(port: u16, topic: &str) -> Command {
    let mut cmd = Command::new("mosquitto_pub");
    cmd.args([
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-q",
        "1",
        "-t",
        topic,
    ]);
    cmd
}

/// Publishes a raw payload.
pub fn publish(port: u16, topic: &str, payload: &[u8], retain: bool) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), payload).unwrap();
    let mut cmd = mosquitto_pub(port, topic);
    if payload.is_empty() {
        cmd.arg("-n");
    } else {
        cmd.arg("-f").arg(file.path());
    }
    if retain {
        cmd.arg("-r");
    }
    assert!(cmd.status().expect("mosquitto_pub is installed").success());
}

/// Publishes `lines` on `topic`, one message each, as fast as mosquitto_pub goes.
pub fn publish_lines(port: u16, topic: &str, lines: &[String]) {
    use std::io::Write;
    let mut publisher = mosquitto_pub(port, topic)
        .arg("-l")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("mosquitto_pub is installed");
    let mut stdin = publisher.stdin.take().unwrap();
    for line in lines {
        writeln!(stdin, "{line}").unwrap();
    }
    drop(stdin);
    assert!(publisher.wait().unwrap().success());
}

/// An appointment created with `kioskctl appointment create --json`.
#[derive(Debug, Clone)]
pub struct Appointment {
    pub id: String,
    pub session: String,
    pub code: String,
    /// The doctor's join link (TLS brokers only).
    pub link: Option<String>,
}

impl Appointment {
    /// A well-formed code that is not this appointment's.
    #[allow(dead_code)] // Only the code and touch scenarios type a wrong one.
    pub fn wrong_code(&self) -> &'static str {
        if self.code == "00000000" {
            "00000001"
        } else {
            "00000000"
        }
    }
}

/// The arguments of `kioskctl appointment create` for the test kiosk, plus `extra`.
pub fn create_args<'a>(device: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "appointment",
        "create",
        "--device",
        device,
        "--doctor",
        "Dr. med. Anna Muster",
        "--json",
    ];
    args.extend_from_slice(extra);
    args
}

/// Reads what `kioskctl appointment create --json` printed.
pub fn parse_appointment(out: &Output) -> Appointment {
    assert!(
        out.status.success(),
        "appointment create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("create prints JSON");
    let field = |k: &str| v[k].as_str().unwrap().to_string();
    Appointment {
        id: field("appointment"),
        session: field("session"),
        code: field("code"),
        link: v["join_link"].as_str().map(String::from),
    }
}

pub fn create_appointment(broker_port: u16, extra: &[&str]) -> Appointment {
    parse_appointment(&kioskctl(broker_port, &create_args(DEVICE, extra)))
}
