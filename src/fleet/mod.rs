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
pub mod trust;

pub use appointments::AppointmentBook;
pub use broker::{BrokerUrl, Endpoint};
pub use link::{Link, LinkEvent, LinkOptions};
pub use topics::{Route, Side, Topics};

use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

use crate::flow::{Appointment, InvalidAppointment};
use crate::wire::{
    self, AppointmentMsg, Command, CommandKind, DeviceConfig, SealedSignal, Signal, SignalMsg,
    SignedMsg, V2, WireError,
};
use trust::{Accepted, Channel, Refusal, Trust};

/// A message for this kiosk, parsed and validated.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    Config(DeviceConfig),
    Appointment(Appointment),
    Revoked(String),
    Command(CommandKind),
    /// The fleet's test call, its signature checked and its session key opened.
    TestCall(trust::TestCall),
    /// The kiosk's own sync marker came back: every retained message queued before it, all
    /// current appointments among them, has been delivered.
    Synced(String),
    /// A v1 signalling message, in clear.
    Signal {
        session: String,
        signal: Signal,
    },
    /// A v2 signalling message, still sealed: only the session's [`Channel`] opens it.
    SealedSignal {
        session: String,
        sealed: SealedSignal,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("invalid appointment: {0}")]
    Appointment(#[from] InvalidAppointment),
    #[error("refused: {0}")]
    Refused(#[from] Refusal),
}

/// Parses a message the kiosk received. `Ok(None)` for topics it does not act on (its own
/// publications echoed back, the kiosk side of a session). With `trust` (every kiosk of a fleet
/// with a CA) appointments and revocations count only when signed (v2); without it (a
/// development kiosk on a plaintext loopback broker) they are v1, as before.
pub fn parse_inbound(
    topics: &Topics,
    topic: &str,
    payload: &[u8],
    trust: Option<&Trust>,
    now: OffsetDateTime,
) -> Result<Option<Inbound>, InboundError> {
    let Some(route) = topics.route(topic) else {
        return Ok(None);
    };
    let inbound = match route {
        Route::Config => Inbound::Config(wire::decode(payload)?),
        Route::Appointment(id) if let Some(trust) = trust => {
            if payload.is_empty() {
                return Err(Refusal::UnsignedRevocation.into());
            }
            if wire::version_of(payload) != Some(2) {
                return Err(Refusal::Unsigned.into());
            }
            let msg: SignedMsg = wire::decode_v2(payload)?;
            match trust.accept(&id, &msg, now)? {
                Accepted::Revoked(id) => Inbound::Revoked(id),
                Accepted::Appointment(msg) => Inbound::Appointment(Appointment::try_from(msg)?),
            }
        }
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
        Route::Command => {
            let command = wire::decode::<Command>(payload)?;
            match (command.cmd, command.signed, trust) {
                (CommandKind::TestCall, Some(signed), Some(trust)) => {
                    Inbound::TestCall(trust.accept_test_call(&signed, now)?)
                }
                // A development kiosk has no key to open a session key with.
                (CommandKind::TestCall, _, None) => return Err(Refusal::NoTrustForTestCall.into()),
                (CommandKind::TestCall, None, Some(_)) => {
                    return Err(Refusal::UnsignedTestCall.into());
                }
                (cmd, ..) => Inbound::Command(cmd),
            }
        }
        Route::Sync => Inbound::Synced(String::from_utf8_lossy(payload).into_owned()),
        Route::Session {
            session,
            side: Side::Doctor,
        } if wire::version_of(payload) == Some(2) => Inbound::SealedSignal {
            session,
            sealed: wire::decode_v2(payload)?,
        },
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

/// A session's sealed signalling, shared by the side's publisher (sealing) and whoever reads
/// its inbound messages (opening).
pub type SharedChannel = Arc<Mutex<Channel>>;

/// Opens a sealed signalling message of the session `channel` belongs to. The error says why
/// (a replay, a forgery), never what the message said.
pub fn open_signal(channel: &SharedChannel, sealed: &SealedSignal) -> Result<Signal, String> {
    let bytes = wire::from_b64url(&sealed.sealed).ok_or("box is not base64url")?;
    let plain = channel
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .open(sealed.from, sealed.seq, &bytes)
        .map_err(|e| e.to_string())?;
    Ok(wire::decode::<SignalMsg>(&plain)
        .map_err(|e| format!("opened, but {e}"))?
        .signal)
}

fn now_ms() -> u64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    since.as_millis().try_into().unwrap_or(u64::MAX)
}

/// Publishes one side's signalling on its session topic, sealed when the session has a key.
/// The call task holds it as its [`crate::call::SignalOut`].
#[derive(Debug)]
pub struct SessionPublisher {
    link: Link,
    topic: String,
    seal: Option<SharedChannel>,
}

impl SessionPublisher {
    pub fn new(link: Link, topics: &Topics, session: &str, side: Side) -> Self {
        Self {
            link,
            topic: topics.session(session, side),
            seal: None,
        }
    }

    /// Seals everything it sends with `channel`.
    pub fn sealed(self, channel: Option<SharedChannel>) -> Self {
        Self {
            seal: channel,
            ..self
        }
    }

    /// The payload of `signal`: v1 in clear, or v2 sealed.
    pub fn payload(&self, signal: Signal) -> Vec<u8> {
        let clear = wire::encode(&SignalMsg::from(signal));
        let Some(channel) = &self.seal else {
            return clear;
        };
        let mut channel = channel.lock().unwrap_or_else(|p| p.into_inner());
        let (seq, sealed) = channel.seal(&clear, now_ms());
        wire::encode(&SealedSignal {
            v: V2,
            from: channel.me(),
            seq,
            sealed: wire::b64url(&sealed),
        })
    }
}

impl crate::call::SignalOut for SessionPublisher {
    /// Signalling is never queued for later: an offer, a candidate or a bye delivered after an
    /// outage describes a connection that is gone, and the call renews its connection once the
    /// link is back (`CallHandle::link_restored`).
    fn send(&self, signal: Signal) {
        let payload = self.payload(signal);
        if !self.link.publish_if_connected(&self.topic, payload) {
            tracing::info!(topic = %self.topic, "signalling dropped: the broker is unreachable");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_inbound_v1(
        t: &Topics,
        topic: &str,
        payload: &[u8],
    ) -> Result<Option<Inbound>, InboundError> {
        parse_inbound(t, topic, payload, None, OffsetDateTime::now_utc())
    }

    #[test]
    fn inbound_messages_are_typed_or_refused_with_reason() {
        let t = Topics::new(topics::DEFAULT_ROOT, "k1").unwrap();
        assert!(matches!(
            parse_inbound_v1(&t, &t.commands(), br#"{"v":1,"cmd":"end_call"}"#).unwrap(),
            Some(Inbound::Command(CommandKind::EndCall))
        ));
        assert_eq!(
            parse_inbound_v1(&t, &t.appointment("a1"), b"").unwrap(),
            Some(Inbound::Revoked("a1".into()))
        );
        let err = parse_inbound_v1(&t, &t.appointment("a1"), br#"{"v":1,"id":"a2"}"#).unwrap_err();
        assert!(err.to_string().contains("does not fit"), "{err}");
        let err = parse_inbound_v1(&t, &t.config(), br#"{"v":3}"#).unwrap_err();
        assert!(err.to_string().contains("version 3"), "{err}");
        assert!(
            parse_inbound_v1(&t, &t.state(), b"anything")
                .unwrap()
                .is_none()
        );
        assert!(
            parse_inbound_v1(&t, &t.session("s1", Side::Kiosk), b"x")
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            parse_inbound_v1(
                &t,
                &t.session("s1", Side::Doctor),
                br#"{"v":1,"type":"bye","reason":"hangup"}"#
            )
            .unwrap(),
            Some(Inbound::Signal { .. })
        ));
    }
}
