//! Every message the kiosk receives goes through `fleet::parse_inbound`. The fuzzer picks the
//! topic (one of the device's, or any text) and the payload, and whether the kiosk has a fleet
//! CA (signed appointments only) or not (a development kiosk). The checks:
//!
//! - nothing panics, and nothing larger than `MAX_PAYLOAD` is taken;
//! - a message is taken only on a topic of this device's that routes, and what it carries is
//!   what the topic says: the appointment's id is the topic's, a session's signalling is the
//!   doctor's side of that session;
//! - an appointment taken is valid (ids, a supported hash, a window, names), and with a CA it
//!   is signed, sealed to this kiosk and carries its session key; a revocation with a CA is
//!   signed too (an empty retained message revokes nothing then).

use std::sync::OnceLock;

use praxiskiosk::fleet::trust::Trust;
use praxiskiosk::fleet::{Inbound, Route, Side, Topics, parse_inbound, topics::DEFAULT_ROOT};
use praxiskiosk::flow::valid_name;
use praxiskiosk::wire::{MAX_PAYLOAD, is_supported_hash, is_valid_id, version_of};
use time::OffsetDateTime;

use super::Script;

/// The kiosk the fixtures were made for (`fixtures/fleet/`, see `main.rs`).
pub const DEVICE: &str = "kiosk-01";

/// The fuzzer's clock: inside the signed seeds' window and the fixtures' certificates.
pub fn now() -> OffsetDateTime {
    time::macros::datetime!(2026-11-28 09:50 UTC)
}

fn trust() -> &'static Trust {
    static TRUST: OnceLock<Trust> = OnceLock::new();
    TRUST.get_or_init(|| {
        Trust::new(
            DEVICE,
            include_str!("../fixtures/fleet/ca.pem"),
            include_str!("../fixtures/fleet/device.key"),
        )
        .expect("tests/fuzz/fixtures/fleet holds a usable CA and device key")
    })
}

/// Topic kinds, in the order of the script's first choice; the last is any text.
pub const TOPIC_KINDS: usize = 9;

/// The topic of kind `kind` (see [`TOPIC_KINDS`]); `id` is the appointment or session id.
pub fn topic(topics: &Topics, kind: usize, id: &str) -> String {
    match kind {
        0 => topics.config(),
        1 => topics.appointment(id),
        2 => topics.commands(),
        3 => topics.sync(),
        4 => topics.session(id, Side::Doctor),
        5 => topics.session(id, Side::Kiosk),
        6 => topics.state(),
        7 => topics.events(),
        _ => id.to_string(),
    }
}

pub fn check(data: &[u8]) {
    let topics = Topics::new(DEFAULT_ROOT, DEVICE).expect("the fixtures' device id is valid");
    let mut script = Script::new(data);
    let signed = script.flag();
    let kind = script.choose(TOPIC_KINDS);
    let id = script.text();
    let topic = topic(&topics, kind, &id);
    let payload = script.rest();
    let trust = signed.then(trust);

    let parsed = parse_inbound(&topics, &topic, payload, trust, now());
    let Ok(Some(inbound)) = parsed else {
        return;
    };
    assert!(
        payload.len() <= MAX_PAYLOAD,
        "{} bytes taken",
        payload.len()
    );
    let route = topics
        .route(&topic)
        .expect("a message was taken on a topic that does not route");
    match (inbound, route) {
        (Inbound::Config(_), Route::Config) | (Inbound::Command(_), Route::Command) => {}
        (Inbound::Synced(_), Route::Sync) => {}
        (Inbound::Appointment(a), Route::Appointment(id)) => {
            assert_eq!(a.id, id, "an appointment under another id's topic");
            assert!(is_valid_id(&a.id) && is_valid_id(&a.session));
            assert!(is_supported_hash(&a.code_hash));
            assert!(a.not_before < a.not_after);
            assert_eq!(valid_name(&a.doctor_name).as_ref(), Some(&a.doctor_name));
            if let Some(name) = &a.patient_name {
                assert_eq!(valid_name(name).as_ref(), Some(name));
            }
            if signed {
                assert_eq!(
                    version_of(payload),
                    Some(2),
                    "an unsigned appointment taken"
                );
                assert!(
                    a.session_key.is_some(),
                    "a signed appointment without its key"
                );
            }
        }
        (Inbound::Revoked(revoked), Route::Appointment(id)) => {
            assert_eq!(revoked, id);
            if signed {
                assert_eq!(version_of(payload), Some(2), "an unsigned revocation taken");
            }
        }
        (
            Inbound::Signal { session, .. } | Inbound::SealedSignal { session, .. },
            Route::Session {
                session: topic_session,
                side: Side::Doctor,
            },
        ) => assert_eq!(session, topic_session),
        (Inbound::TestCall(call), Route::Command) => {
            assert!(signed, "a test call taken without a fleet CA");
            assert!(
                is_valid_id(&call.id) && is_valid_id(&call.session),
                "a test call whose id or session is no topic level"
            );
        }
        (inbound, route) => panic!("{inbound:?} taken on {route:?}"),
    }
}
