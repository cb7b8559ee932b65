//! Call signalling between kiosk and doctor: `{root}/devices/{device}/sessions/{session}/kiosk`
//! and `…/doctor`. Each side publishes on its own topic and subscribes to the other's.

use serde::{Deserialize, Serialize};

use super::V1;

/// One signalling message as it travels: the version plus the tagged body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalMsg {
    pub v: V1,
    #[serde(flatten)]
    pub signal: Signal,
}

impl From<Signal> for SignalMsg {
    fn from(signal: Signal) -> Self {
        Self { v: V1, signal }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Signal {
    /// Sent on joining, and once in reply (`reply: true`) to each hello that is not itself a reply.
    /// The kiosk's `name` is the patient's name; the doctor's is the doctor's.
    Hello {
        name: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        reply: bool,
    },
    /// Kiosk → doctor. The kiosk is always the offerer.
    Offer {
        sdp: String,
    },
    /// Doctor → kiosk.
    Answer {
        sdp: String,
    },
    /// A trickled ICE candidate; an empty `candidate` ends the candidates.
    Ice {
        mline: u32,
        candidate: String,
    },
    Bye {
        reason: ByeReason,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ByeReason {
    Hangup,
    Timeout,
    Error,
    /// A reason of a later version (written back as `unknown`).
    #[serde(other)]
    Unknown,
}

impl ByeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hangup => "hangup",
            Self::Timeout => "timeout",
            Self::Error => "error",
            Self::Unknown => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{decode, encode};

    #[test]
    fn signals_carry_version_and_type_tag() {
        let hello = SignalMsg::from(Signal::Hello {
            name: "Max".into(),
            reply: false,
        });
        assert_eq!(
            String::from_utf8(encode(&hello)).unwrap(),
            r#"{"v":1,"type":"hello","name":"Max"}"#
        );
        let ice: SignalMsg =
            decode(br#"{"v":1,"type":"ice","mline":0,"candidate":"candidate:1 1 UDP 1 127.0.0.1 5000 typ host","x":1}"#)
                .unwrap();
        assert!(matches!(ice.signal, Signal::Ice { mline: 0, .. }));
        let bye: SignalMsg = decode(br#"{"v":1,"type":"bye","reason":"moved_on"}"#).unwrap();
        assert_eq!(
            bye.signal,
            Signal::Bye {
                reason: ByeReason::Unknown
            }
        );
        assert!(decode::<SignalMsg>(br#"{"v":1,"type":"shout"}"#).is_err());
    }
}
