//! The doctor in Chromium (and in Firefox, with its own ICE), through two NATs, with the
//! fleet's STUN server from the hello; loss on the way shows on the page and at the kiosk.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Field, report};
use crate::harness::{Browser, DEVICE, Engine, FIELD_NETS, Nat, Side, poll};

/// The network with `nat`, the broker serving the doctor's page, a patient waiting and
/// Chromium in the practice's LAN on the join link. Returns them once Chromium shows the
/// kiosk's picture, with the time from opening the link to that picture and the kiosk's path.
fn chromium_call(nat: Nat) -> (Field, Browser, Duration, Value) {
    browser_call(Engine::Chromium, nat)
}

/// The same with `engine`; Firefox may reach the field's addresses and nothing else.
fn browser_call(engine: Engine, nat: Nat) -> (Field, Browser, Duration, Value) {
    let web = crate::browser::web_doctor();
    let field = Field::start_with(nat, false, "", Some(&web), None);
    let mut browser = match engine {
        Engine::Chromium => Browser::start(&field.net.doctor),
        Engine::Firefox => Browser::start_routed(&field.net.doctor, engine, &FIELD_NETS),
    };
    let appointment = field.fleet.create_browser_appointment(DEVICE);
    field.kiosk.wait_for_appointment(&appointment.id);
    field.kiosk.let_patient_in(&appointment);

    let opened = Instant::now();
    browser.open(appointment.link.as_deref().unwrap());
    let pictured = poll(Duration::from_secs(30), || {
        (n(&browser.stats(), "videoFramesDecoded") > 0).then(Instant::now)
    });
    let Some(pictured) = pictured else {
        panic!(
            "no picture in {}: page {}, console {}, kiosk {}",
            engine.name(),
            browser.state(),
            browser.console(),
            field.kiosk.log_tail()
        );
    };
    field
        .kiosk
        .wait_for_state("in_call", Duration::from_secs(20));
    let stats = browser.stats();
    assert!(
        n(&stats, "ice_servers") >= 1,
        "the page uses the fleet's STUN server from the kiosk's hello: {stats}"
    );
    let path = field.path(&["srflx", "prflx", "host"]);
    (field, browser, pictured.duration_since(opened), path)
}

fn n(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or(0)
}

/// A row for `make field`.
fn row(nat: &str, field: &Field, browser: &mut Browser, connect: Duration, path: &Value) -> Value {
    engine_row("Chromium", nat, field, browser, connect, path)
}

fn engine_row(
    engine: &str,
    nat: &str,
    field: &Field,
    browser: &mut Browser,
    connect: Duration,
    path: &Value,
) -> Value {
    json!({
        "case": format!("{engine}, STUN, {}", path["path"].as_str().unwrap_or("?")),
        "nat": nat, "connected": true,
        "connect_ms": connect.as_millis() as u64,
        "kbps": field.kiosk.stats()["bitrate_in_kbps"],
        "detail": {"page": browser.stats()},
    })
}

#[test]
fn a_doctor_in_chromium_connects_through_full_cone_nats() {
    let (field, mut browser, connect, path) = chromium_call(Nat::FullCone);
    report(
        "chromium-full-cone",
        vec![row("full-cone", &field, &mut browser, connect, &path)],
    );
    browser.click("hangup");
    field.kiosk.wait_for_state("idle", Duration::from_secs(20));
}

#[test]
fn a_doctor_in_chromium_through_port_restricted_nats_uses_the_switches_and_sees_loss() {
    let (field, mut browser, connect, path) = chromium_call(Nat::PortRestricted);

    // The doctor mutes and turns the camera off: the call goes on, uninterrupted.
    browser.click("mute");
    browser.click("camera");
    let before = (
        n(&field.kiosk.stats(), "audio_buffers_received"),
        Instant::now(),
    );
    std::thread::sleep(Duration::from_secs(6));
    let during = field.kiosk.stats();
    assert_eq!(
        during["interrupted"],
        Value::Null,
        "muted is not interrupted: {during}"
    );
    assert!(
        n(&during, "audio_buffers_received") > before.0,
        "a muted microphone still sends (silence): {during}"
    );
    browser.click("mute");
    browser.click("camera");
    let frames = n(&browser.stats(), "videoFramesDecoded");
    let kiosk_frames = n(&field.kiosk.stats(), "video_frames_received");
    let moving = poll(Duration::from_secs(10), || {
        (n(&browser.stats(), "videoFramesDecoded") > frames + 30
            && n(&field.kiosk.stats(), "video_frames_received") > kiosk_frames + 30)
            .then_some(())
    });
    assert!(
        moving.is_some(),
        "pictures both ways after the switches are back"
    );

    both_sides_show_loss(&field, &mut browser);

    report(
        "chromium",
        vec![row("port-restricted", &field, &mut browser, connect, &path)],
    );
    browser.click("hangup");
    field.kiosk.wait_for_state("idle", Duration::from_secs(20));
}

/// 10 % loss on the kiosk's link: the page shows it (the rules want the participants to see how
/// good the connection is), the kiosk does where it is left with loss after retransmission, and
/// the page is good again after.
fn both_sides_show_loss(field: &Field, browser: &mut Browser) {
    let level = |v: &Value| v["quality"].as_str().unwrap_or("-").to_string();
    // First good on the page, so that what follows is the loss and not an earlier step's
    // aftermath. (Not on the kiosk: it judges the frame rate of the browser's picture, which a
    // busy machine's browser may not keep up.)
    let mut before = String::new();
    let settled = poll(Duration::from_secs(20), || {
        before = level(&browser.state());
        (before == "good").then_some(())
    });
    assert!(
        settled.is_some(),
        "the page shows good before the loss: {before}"
    );
    let kiosk_before = field.kiosk.stats();
    field.net.loss(Side::Kiosk, 10);
    let (mut page_saw, mut kiosk_saw) = (Vec::new(), Vec::new());
    let shown = poll(Duration::from_secs(20), || {
        page_saw.push(level(&browser.state()));
        kiosk_saw.push(level(&field.kiosk.control(json!({"cmd": "stats"}))));
        page_saw
            .iter()
            .any(|q| q == "fair" || q == "poor")
            .then_some(())
    });
    // Ten seconds more for the kiosk, whose screen shows the level of each second.
    let _ = poll(Duration::from_secs(10), || {
        kiosk_saw.push(level(&field.kiosk.control(json!({"cmd": "stats"}))));
        kiosk_saw.iter().any(|q| q != "good").then_some(())
    });
    let kiosk_share = super::kiosk_loss_share(&kiosk_before, &field.kiosk.stats());
    field.net.no_loss(Side::Kiosk);
    page_saw.dedup();
    kiosk_saw.dedup();
    eprintln!(
        "10 % loss: the page showed {page_saw:?}, the kiosk {kiosk_saw:?} (left with {:.1} % lost)",
        kiosk_share * 100.0
    );
    assert!(shown.is_some(), "the page shows the loss: {page_saw:?}");
    assert!(
        kiosk_share < super::SHOWN_FROM_SHARE || kiosk_saw.iter().any(|q| q != "good"),
        "the kiosk, left with {:.1} % lost, shows it: {kiosk_saw:?}",
        kiosk_share * 100.0
    );
    let recovered = poll(Duration::from_secs(20), || {
        (level(&browser.state()) == "good").then_some(())
    });
    assert!(
        recovered.is_some(),
        "the page shows good again without loss"
    );
}

/// Firefox's own ICE through two port-restricted NATs: the fleet's STUN server from the hello,
/// server-reflexive candidates both ways, loss shown on both sides, and the kiosk hangs up.
#[test]
fn a_doctor_in_firefox_through_port_restricted_nats_sees_loss() {
    let (field, mut browser, connect, path) = browser_call(Engine::Firefox, Nat::PortRestricted);
    both_sides_show_loss(&field, &mut browser);
    report(
        "firefox",
        vec![engine_row(
            "Firefox",
            "port-restricted",
            &field,
            &mut browser,
            connect,
            &path,
        )],
    );
    let reply = field.kiosk.control(json!({"cmd": "hang_up"}));
    assert_eq!(reply["state"], "ended", "{reply}");
    let ended = poll(Duration::from_secs(10), || {
        (browser.state()["state"] == "ended").then_some(())
    });
    assert!(
        ended.is_some(),
        "the page heard the kiosk hang up: {}",
        browser.state()
    );
}
