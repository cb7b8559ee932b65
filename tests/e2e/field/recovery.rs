//! Calls that survive: a cut link, a new address, and a cut past the reconnect window.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{Field, media_now, report, with};
use crate::harness::{Doctor, Nat, Side, poll, wait_for};

/// Cuts the kiosk's uplink for `outage` (changing its address meanwhile with `readdress`), and
/// returns how long after the link came back media moved again on both sides.
fn cut_and_recover(field: &Field, doctor: &Doctor, outage: Duration, readdress: bool) -> Duration {
    field.net.cut(Side::Kiosk);
    let cut = Instant::now();
    wait_for(
        "the kiosk to see the interruption",
        Duration::from_secs(10),
        || (field.kiosk.stats()["interrupted"] == true).then_some(()),
    );
    wait_for(
        "the doctor to see the interruption",
        Duration::from_secs(10),
        || doctor.event_after("interrupted", Some(cut)),
    );
    if readdress {
        field.net.readdress_kiosk();
    }
    std::thread::sleep(outage.saturating_sub(cut.elapsed()));
    field.net.restore(Side::Kiosk);
    let back = Instant::now();
    // Each side ends its interruption as soon as media comes again (it looks ten times a
    // second then): the kiosk's statistics say so, the doctor's output line does.
    let kiosk_back = poll(Duration::from_secs(30), || {
        (field.kiosk.stats()["interrupted"] != true).then(Instant::now)
    });
    let doctor_back = poll(Duration::from_secs(30), || {
        doctor.event_after("resumed", Some(back)).map(|(at, _)| at)
    });
    let recovered = kiosk_back
        .zip(doctor_back)
        .map(|(k, d)| k.max(d).duration_since(back));
    eprintln!("outage {outage:?} (new address: {readdress}): media again after {recovered:?}");
    assert!(
        recovered.is_some(),
        "media did not come back (kiosk: {})",
        field.kiosk.log_tail()
    );
    // Pictures and the voice, both ways.
    assert!(
        field.media_moves(doctor, Duration::from_secs(10)).is_some(),
        "video and audio move again on both sides"
    );
    recovered.unwrap()
}

#[test]
fn a_call_survives_a_cut_and_a_new_address_without_anyone_typing_again() {
    let field = Field::start(Nat::PortRestricted, false, "");
    let (appointment, mut doctor) = field.call(&[]);
    let connect_ms = field.connected(&doctor);

    let after_cut = cut_and_recover(&field, &doctor, Duration::from_secs(30), false);
    let after_readdress = cut_and_recover(&field, &doctor, Duration::from_secs(10), true);
    let status = field.kiosk.control(json!({"cmd": "status"}));
    assert_eq!(status["state"], "in_call", "{status}");
    assert_eq!(
        status["session"],
        appointment.session.as_str(),
        "the same session"
    );
    assert!(
        doctor.try_exit().is_none(),
        "the doctor is still in the call"
    );
    let events = std::fs::read_to_string(field.kiosk.dir.join("state/events.jsonl")).unwrap();
    assert_eq!(events.matches("call_resumed").count(), 2, "{events}");
    let media = media_now(&field, &doctor);
    report(
        "outages",
        vec![
            with(
                json!({"case": "cut 30 s", "nat": "port-restricted", "connected": true,
                       "connect_ms": connect_ms, "media_again_ms": after_cut.as_millis() as u64}),
                media.clone(),
            ),
            with(
                json!({"case": "cut 10 s, new address", "nat": "port-restricted", "connected": true,
                       "media_again_ms": after_readdress.as_millis() as u64}),
                media,
            ),
        ],
    );
    for (what, took) in [("30 s cut", after_cut), ("new address", after_readdress)] {
        assert!(
            took <= Duration::from_secs(3),
            "after the {what}, media came back only after {took:?}"
        );
    }
    field.hang_up(&mut doctor);
}

#[test]
fn a_cut_longer_than_the_reconnect_window_ends_the_call_on_both_sides() {
    let field = Field::start(Nat::PortRestricted, false, "reconnect_s = 8\n");
    let (_, mut doctor) = field.call(&[]);
    field.connected(&doctor);
    field.net.cut(Side::Kiosk);
    let cut = Instant::now();
    let ended = poll(Duration::from_secs(30), || {
        let status = field.kiosk.control(json!({"cmd": "status"}));
        (status["detail"] == "connection_lost").then_some(())
    });
    let kiosk_ended = cut.elapsed();
    assert!(ended.is_some(), "{}", field.kiosk.log_tail());
    let exit = doctor.wait_exit(Duration::from_secs(30));
    let doctor_ended = cut.elapsed();
    assert!(
        !exit.success(),
        "the doctor's side ends with the lost connection too"
    );
    field.net.restore(Side::Kiosk);
    field.kiosk.wait_for_state("idle", Duration::from_secs(20));
    let events = std::fs::read_to_string(field.kiosk.dir.join("state/events.jsonl")).unwrap();
    assert!(
        events.contains(r#""reason":"connection_lost""#),
        "call_ended connection_lost: {events}"
    );
    report(
        "outage-past-window",
        vec![json!({
            "case": "cut past an 8 s window", "nat": "port-restricted", "connected": false,
            "detail": {"kiosk_ended_ms": kiosk_ended.as_millis() as u64,
                       "doctor_ended_ms": doctor_ended.as_millis() as u64},
        })],
    );
}
