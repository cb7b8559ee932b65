//! Protocol v1 on the wire: every MQTT payload, every signalling message and every control-socket
//! line is a type in this module, and `docs/protocol.md` describes the same types.
//!
//! Rules that hold for all of them: JSON, `"v": 1`, unknown fields ignored (forward compatibility),
//! times as RFC 3339 UTC. A payload that breaks a rule is refused with a [`WireError`] that says why;
//! it is never a panic. This module does no I/O.

mod code;
mod control;
mod event;
mod fleet;
mod hex;
mod join;
mod provision;
mod sealed;
mod signal;

pub use code::{CODE_DIGITS, UnsupportedHash, check_hash, is_supported_hash, is_well_formed_code};
pub use control::{
    CallStats, ControlReply, ControlRequest, DtlsStats, MeasuredLatency, Refusal, Spread,
    is_screenshot_name,
};
pub use event::{EndReason, EventKind, EventReport, ProblemCode, TestCallRefusal};
pub use fleet::{
    AppointmentMsg, Command, CommandKind, DeviceConfig, DeviceHealth, Health, KioskState, LastCall,
    QualityLevel, StateReport,
};
pub use hex::{from_hex, to_hex};
pub use join::{JoinLink, JoinLinkError};
pub use provision::{BUNDLE_FILE_NAME, ProvisionBundle};
pub use sealed::{
    SealedNames, SealedSignal, Sender, SessionKey, SignedAppointment, SignedBody, SignedConsent,
    SignedMsg, SignedRevoke, SignedTestCall, V2, b64url, from_b64url,
};
pub use signal::{ByeReason, Hello, IceServer, NONCE_MAX, Signal, SignalMsg, nonce_is_valid};

use serde::{Deserialize, Deserializer, Serialize, Serializer, de::DeserializeOwned};

/// The largest payload we accept. Anything larger is dropped before parsing.
pub const MAX_PAYLOAD: usize = 64 * 1024;

/// The protocol version marker. It serialises as `1` and only `1` deserialises, so a message
/// built in code cannot forget its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct V1;

impl Serialize for V1 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(1)
    }
}

impl<'de> Deserialize<'de> for V1 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u64::deserialize(d)? {
            1 => Ok(V1),
            other => Err(serde::de::Error::custom(format!(
                "unsupported version {other}"
            ))),
        }
    }
}

/// Why a payload was refused.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("payload of {0} bytes is larger than the limit of {MAX_PAYLOAD} bytes")]
    TooLarge(usize),
    #[error("payload is not valid JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("payload has no \"v\" field")]
    NoVersion,
    #[error("payload has version {0}, which this message does not take here")]
    WrongVersion(serde_json::Value),
    #[error("payload does not fit the message type: {0}")]
    Shape(serde_json::Error),
}

/// Parses a versioned payload: size, JSON, version and shape are checked in that order, so the
/// error says the first thing that is wrong.
pub fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, WireError> {
    decode_version(payload, 1)
}

/// The same for a v2 payload (signed appointments, sealed signalling).
pub fn decode_v2<T: DeserializeOwned>(payload: &[u8]) -> Result<T, WireError> {
    decode_version(payload, 2)
}

/// The `v` of a payload that is JSON with a numeric `v`, before anything else is looked at.
pub fn version_of(payload: &[u8]) -> Option<u64> {
    if payload.len() > MAX_PAYLOAD {
        return None;
    }
    #[derive(serde::Deserialize)]
    struct Versioned {
        v: u64,
    }
    serde_json::from_slice::<Versioned>(payload)
        .ok()
        .map(|p| p.v)
}

fn decode_version<T: DeserializeOwned>(payload: &[u8], version: u64) -> Result<T, WireError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(WireError::TooLarge(payload.len()));
    }
    let value: serde_json::Value = serde_json::from_slice(payload).map_err(WireError::NotJson)?;
    match value.get("v") {
        None => return Err(WireError::NoVersion),
        Some(v) if v.as_u64() == Some(version) => {}
        Some(v) => return Err(WireError::WrongVersion(v.clone())),
    }
    serde_json::from_value(value).map_err(WireError::Shape)
}

/// Serialises a message. Our own types always serialise, so this cannot fail in practice.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    serde_json::to_vec(message).expect("protocol types always serialise to JSON")
}

/// `true` for ids that are safe as one MQTT topic level and as a file name: 1 to 64 characters
/// of ASCII letters, digits, `-` and `_`.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub(crate) mod rfc3339 {
    //! RFC 3339 timestamps in UTC, as every time field of protocol v1 is.
    use time::{OffsetDateTime, UtcOffset, format_description::well_known::Rfc3339};

    pub fn format(t: OffsetDateTime) -> String {
        t.to_offset(UtcOffset::UTC)
            .replace_nanosecond(0)
            .unwrap_or(t)
            .format(&Rfc3339)
            .expect("a UTC time in range always formats")
    }

    pub fn parse(text: &str) -> Result<OffsetDateTime, time::error::Parse> {
        OffsetDateTime::parse(text, &Rfc3339)
    }

    pub fn serialize<S: serde::Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*t))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_checks_size_json_version_and_shape_in_order() {
        let big = vec![b' '; MAX_PAYLOAD + 1];
        assert!(matches!(
            decode::<Command>(&big),
            Err(WireError::TooLarge(_))
        ));
        assert!(matches!(
            decode::<Command>(b"{nope"),
            Err(WireError::NotJson(_))
        ));
        assert!(matches!(
            decode::<Command>(br#"{"cmd":"refresh"}"#),
            Err(WireError::NoVersion)
        ));
        assert!(matches!(
            decode::<Command>(br#"{"v":2,"cmd":"refresh"}"#),
            Err(WireError::WrongVersion(_))
        ));
        assert!(matches!(
            decode::<Command>(br#"{"v":1,"cmd":"dance"}"#),
            Err(WireError::Shape(_))
        ));
        let ok: Command = decode(br#"{"v":1,"cmd":"refresh","future_field":true}"#).unwrap();
        assert_eq!(ok.cmd, CommandKind::Refresh);
    }

    #[test]
    fn ids_are_single_safe_topic_levels() {
        assert!(is_valid_id("kiosk-01_a"));
        for bad in ["", "a/b", "+", "#", "..", "ü", &"x".repeat(65)] {
            assert!(!is_valid_id(bad), "{bad:?} must be refused");
        }
    }
}
