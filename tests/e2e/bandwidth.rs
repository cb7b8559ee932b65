//! Video quality follows the bandwidth (the rules ask for it): a call through a link throttled
//! with `tc` in a network namespace of the test's own, then the throttle lifted. The kiosk's
//! video target must fall below what the link carries, then climb again.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{
    Doctor, Kiosk, KioskConfig, Mosquitto, NetNs, create_args, parse_appointment, poll,
};

const MAX_KBPS: u64 = 2000;
const LINK_KBIT: u64 = 600;

fn tc(ns: &NetNs, args: &str) {
    let status = ns
        .command("tc")
        .args(args.split_whitespace())
        .status()
        .expect("tc (iproute2) runs");
    assert!(status.success(), "tc {args}");
}

fn target(kiosk: &Kiosk) -> u64 {
    kiosk.stats()["video_target_kbps"].as_u64().unwrap_or(0)
}

/// Waits for the kiosk's video target to satisfy `ok`; returns the samples seen.
fn wait_for_target(kiosk: &Kiosk, what: &str, ok: impl Fn(u64) -> bool) -> Vec<u64> {
    let mut seen = Vec::new();
    let reached = poll(Duration::from_secs(45), || {
        std::thread::sleep(Duration::from_millis(900));
        let t = target(kiosk);
        seen.push(t);
        ok(t).then_some(())
    });
    assert!(
        reached.is_some(),
        "the video target did not {what}: {seen:?} kbit/s; stats {}\n{}",
        kiosk.stats(),
        kiosk.log_matching(&[
            "video steps",
            "congestion control",
            "connection",
            "interrupted"
        ])
    );
    seen
}

#[test]
fn the_video_bitrate_follows_the_bandwidth_down_and_up_again() {
    let _turn = crate::harness::heavy_media();
    let ns = NetNs::new();
    let broker = Mosquitto::start_in(&ns);
    let dir = tempfile::tempdir().unwrap();
    let mut config = KioskConfig::new(broker.port);
    // Noise does not compress: the encoder fills whatever target it gets.
    config.camera = "video_source = \"videotestsrc\"\nvideo_device = \"snow\"".into();
    config.video_kbps = MAX_KBPS as u32;
    let kiosk = Kiosk::start_with(
        dir.path(),
        &config,
        ns.command(env!("CARGO_BIN_EXE_kioskd")),
    );

    let mut kioskctl = ns.command(env!("CARGO_BIN_EXE_kioskctl"));
    let broker_url = format!("mqtt://127.0.0.1:{}", broker.port);
    let out = kioskctl
        .args(["--broker", &broker_url, "--plaintext-loopback"])
        .args(create_args(crate::harness::DEVICE, &[]))
        .output()
        .unwrap();
    let appointment = parse_appointment(&out);
    kiosk.wait_for_appointment(&appointment.id);
    let doctor = Doctor::start_with(
        ns.command(env!("CARGO_BIN_EXE_kioskctl")),
        broker.port,
        &appointment.session,
        &[],
    );
    let reply = kiosk.control(json!({"cmd": "enter_code", "code": appointment.code}));
    assert_eq!(reply["state"], "code_accepted", "{reply}");
    let reply = kiosk.control(json!({"cmd": "accept", "name": "Max Mustermann"}));
    assert_eq!(reply["state"], "waiting", "{reply}");
    kiosk.wait_for_state("in_call", Duration::from_secs(30));

    // The link narrows: the estimate, and with it the encoder's target, comes down below it.
    tc(
        &ns,
        &format!("qdisc add dev lo root tbf rate {LINK_KBIT}kbit burst 32kb latency 100ms"),
    );
    let down = wait_for_target(&kiosk, "fall below the throttled link", |t| {
        t > 0 && t < LINK_KBIT
    });
    // The link widens again: the target climbs back well above it.
    tc(&ns, "qdisc del dev lo root");
    let up = wait_for_target(&kiosk, "climb again once the link is free", |t| {
        t > 2 * LINK_KBIT
    });
    eprintln!("video target, kbit/s: throttled {down:?}, freed {up:?}");
    let stats: Value = kiosk.stats();
    assert!(
        stats["video_frames_received"].as_u64().unwrap_or(0) > 0,
        "{stats}"
    );
    drop(doctor);
}
