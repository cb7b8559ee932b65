//! Everything between a kiosk and its fleet: the MQTT link, the topic tree, appointments and
//! their codes, and turning incoming messages into typed [`Inbound`]s.
//! Nothing here knows about the call's media or the screens.

pub mod appointments;
pub mod backoff;
pub mod broker;
pub mod codes;
pub mod dynsec;
pub mod eventlog;
pub mod identity;
pub mod link;
pub mod pki;
pub mod tls;
pub mod topics;

pub use appointments::AppointmentBook;
pub use broker::{BrokerUrl, Endpoint};
pub use link::{Link, LinkEvent, LinkOptions};
pub use topics::{Route, Side, Topics};

use crate::flow::{Appointment, InvalidAppointment};
use crate::wire::{
    self, AppointmentMsg, Command, CommandKind, DeviceConfig, Signal, SignalMsg, WireError,
};

/// A message for this kiosk, parsed and validated.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    Config(DeviceConfig),
    Appointment(Appointment),
    Revoked(String),
    Command(CommandKind),
    /// The kiosk's own sync marker came back: every retained message queued before it, all
    /// current appointments among them, has been delivered.
    Synced(String),
    Signal {
        session: String,
        signal: Signal,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("invalid appointment: {0}")]
    Appointment(#[from] InvalidAppointment),
}

/// Parses a message the kiosk received. `Ok(None)` for topics it does not act on (its own
/// publications echoed back, the kiosk side of a session).
pub fn parse_inbound(
    topics: &Topics,
    topic: &str,
    payload: &[u8],
) -> Result<Option<Inbound>, InboundError> {
    let Some(route) = topics.route(topic) else {
        return Ok(None);
    };
    let inbound = match route {
        Route::Config => Inbound::Config(wire::decode(payload)?),
        Route::Appointment(id) if payload.is_empty() => Inbound::Revoked(id),
        Route::Appointment(id) => {
            let msg: AppointmentMsg = wire::decode(payload)?;
            if msg.id != id {
                return Err(InvalidAppointment::IdMismatch {
                    topic: id,
                    payload: msg.id,
                }
                .into());
            }
            Inbound::Appointment(Appointment::try_from(msg)?)
        }
        Route::Command => Inbound::Command(wire::decode::<Command>(payload)?.cmd),
        Route::Sync => Inbound::Synced(String::from_utf8_lossy(payload).into_owned()),
        Route::Session {
            session,
            side: Side::Doctor,
        } => Inbound::Signal {
            session,
            signal: wire::decode::<SignalMsg>(payload)?.signal,
        },
        Route::Session {
            side: Side::Kiosk, ..
        }
        | Route::State
        | Route::Events => return Ok(None),
    };
    Ok(Some(inbound))
}

/// Publishes one side's signalling on its session topic. The call task holds it as its
/// [`crate::call::SignalOut`].
#[derive(Debug)]
pub struct SessionPublisher {
    link: Link,
    topic: String,
}

impl SessionPublisher {
    pub fn new(link: Link, topics: &Topics, session: &str, side: Side) -> Self {
        Self {
            link,
            topic: topics.session(session, side),
        }
    }
}

impl crate::call::SignalOut for SessionPublisher {
    /// Signalling is never queued for later: an offer, a candidate or a bye delivered after an
    /// outage describes a connection that is gone, and the call renews its connection once the
    /// link is back (`CallHandle::link_restored`).
    fn send(&self, signal: Signal) {
        let payload = wire::encode(&SignalMsg::from(signal));
        if !self.link.publish_if_connected(&self.topic, payload) {
            tracing::info!(topic = %self.topic, "signalling dropped: the broker is unreachable");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbound_messages_are_typed_or_refused_with_reason() {
        let t = Topics::new(topics::DEFAULT_ROOT, "k1").unwrap();
        assert!(matches!(
            parse_inbound(&t, &t.commands(), br#"{"v":1,"cmd":"end_call"}"#).unwrap(),
            Some(Inbound::Command(CommandKind::EndCall))
        ));
        assert_eq!(
            parse_inbound(&t, &t.appointment("a1"), b"").unwrap(),
            Some(Inbound::Revoked("a1".into()))
        );
        let err = parse_inbound(&t, &t.appointment("a1"), br#"{"v":1,"id":"a2"}"#).unwrap_err();
        assert!(err.to_string().contains("does not fit"), "{err}");
        let err = parse_inbound(&t, &t.config(), br#"{"v":3}"#).unwrap_err();
        assert!(err.to_string().contains("version 3"), "{err}");
        assert!(
            parse_inbound(&t, &t.state(), b"anything")
                .unwrap()
                .is_none()
        );
        assert!(
            parse_inbound(&t, &t.session("s1", Side::Kiosk), b"x")
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            parse_inbound(
                &t,
                &t.session("s1", Side::Doctor),
                br#"{"v":1,"type":"bye","reason":"hangup"}"#
            )
            .unwrap(),
            Some(Inbound::Signal { .. })
        ));
    }
}
