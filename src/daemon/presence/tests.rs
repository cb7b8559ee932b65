use bytes::Bytes;

use super::*;
use crate::fleet::Endpoint;
use crate::fleet::broker::BrokerUrl;
use crate::wire::EndReason;

/// A presence whose link points at a loopback port where nothing listens: everything but
/// the broker is real.
fn provisioned(state_dir: &Path) -> Presence {
    let mut presence = Presence::new(tokio::time::Instant::now(), Some("A".into()));
    let url = BrokerUrl::parse("mqtt://127.0.0.1:9").unwrap();
    let access = FleetAccess {
        device: "kiosk-1".into(),
        endpoint: Endpoint::new(url, None, true).unwrap(),
    };
    presence
        .connect(access, crate::fleet::topics::DEFAULT_ROOT, state_dir)
        .unwrap();
    presence
}

fn message(presence: &Presence, topic: String, payload: &[u8]) -> LinkEvent {
    assert!(presence.is_provisioned());
    LinkEvent::Message {
        topic,
        payload: Bytes::copy_from_slice(payload),
    }
}

fn topics() -> Topics {
    Topics::new(crate::fleet::topics::DEFAULT_ROOT, "kiosk-1").unwrap()
}

#[tokio::test]
async fn after_a_connect_the_marker_says_which_appointments_are_all_there_are() {
    let dir = tempfile::tempdir().unwrap();
    let mut presence = provisioned(dir.path());
    assert!(matches!(
        presence.on_link(LinkEvent::Connected),
        Some(Heard::Connected)
    ));
    assert!(presence.broker_online());
    let marker = match &presence.membership {
        Membership::Provisioned(up) => up.sync.as_ref().unwrap().marker.clone(),
        Membership::Unprovisioned { .. } => unreachable!(),
    };
    let mut appointment = crate::flow::tests::appointment(None).to_msg();
    appointment.code_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into();
    let event = message(
        &presence,
        topics().appointment(&appointment.id),
        &wire::encode(&appointment),
    );
    assert!(matches!(
        presence.on_link(event),
        Some(Heard::Inbound(Inbound::Appointment(_)))
    ));
    let stranger = message(&presence, topics().sync(), b"0123456789abcdef");
    assert!(presence.on_link(stranger).is_none(), "not our marker");
    let ours = message(&presence, topics().sync(), marker.as_bytes());
    match presence.on_link(ours) {
        Some(Heard::Synced(seen)) => assert_eq!(seen, BTreeSet::from([appointment.id])),
        other => panic!("{other:?}"),
    }
    let again = message(&presence, topics().sync(), marker.as_bytes());
    assert!(presence.on_link(again).is_none(), "one round per connect");
}

#[tokio::test]
async fn the_status_line_says_where_the_kiosk_stands_with_its_fleet() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("praxiskiosk-provision.json");
    let unprovisioned = Presence::new(tokio::time::Instant::now(), None);
    assert!(
        unprovisioned
            .describe(&bundle, 0)
            .starts_with("not provisioned: waiting for")
    );
    assert!(unprovisioned.settled(Duration::from_secs(20)));

    let mut presence = provisioned(dir.path());
    assert_eq!(
        presence.describe(&bundle, 2),
        "connecting to mqtt://127.0.0.1:9, 2 appointment(s), device kiosk-1"
    );
    assert!(!presence.settled(Duration::from_secs(20)));
    assert!(
        presence.settled(Duration::ZERO),
        "after the grace, ready anyway"
    );
    presence.on_link(LinkEvent::Disconnected {
        reason: "refused".into(),
        retry_in: Duration::from_secs(1),
    });
    assert!(
        presence
            .describe(&bundle, 2)
            .contains("unreachable, no call can start")
    );
    presence.on_link(LinkEvent::Connected);
    assert!(presence.describe(&bundle, 2).starts_with("connected to"));
}

/// Paused time: closing waits 3 s for a broker that never answers.
#[tokio::test(start_paused = true)]
async fn a_call_that_ended_becomes_the_last_call_and_a_withdrawal_forgets_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut presence = provisioned(dir.path());
    presence.report(
        EventKind::CallEnded {
            appointment: "a1".into(),
            reason: EndReason::RemoteHangup,
            duration_s: 412,
            quality: None,
        },
        Quality::Fair,
    );
    let last = presence.basis.last_call.clone().unwrap();
    assert_eq!(
        (last.duration_s, last.quality),
        (412, Some(wire::QualityLevel::Fair))
    );
    let log = std::fs::read_to_string(dir.path().join(crate::fleet::eventlog::FILE)).unwrap();
    assert!(log.contains("remote_hangup"), "{log}");
    presence.withdraw().await;
    assert!(!presence.is_provisioned());
    assert_eq!(presence.basis.last_call, None);
}

#[test]
fn a_refused_bundle_is_not_tried_again_until_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle.json");
    let mut presence = Presence::new(tokio::time::Instant::now(), None);
    assert_eq!(
        presence.bundle_to_try(&bundle),
        None,
        "no bundle, nothing to try"
    );
    std::fs::write(&bundle, b"{}").unwrap();
    let stamp = presence.bundle_to_try(&bundle).unwrap();
    presence.refuse_bundle(stamp);
    assert_eq!(presence.bundle_to_try(&bundle), None);
    std::fs::write(&bundle, b"{\"v\":1}").unwrap();
    assert!(
        presence.bundle_to_try(&bundle).is_some(),
        "a changed bundle is"
    );
}
