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
    Hello(Hello),
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
    /// Kiosk → doctor: the call is held by another of the doctor's windows (another `nonce`);
    /// this one, whose hello carried `nonce`, is not let in and the running call goes on.
    Busy {
        nonce: String,
    },
}

/// A side's introduction. The kiosk's also tells the doctor's side how to connect: the fleet's
/// ICE servers and how long an interrupted call is kept alive.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// The kiosk's is the patient's name; the doctor's is the doctor's.
    pub name: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reply: bool,
    /// Kiosk → doctor: the ICE servers the fleet configured (STUN; TURN only where the fleet
    /// allows relaying), for every connection of the doctor's side in this session. The doctor's
    /// side uses these and no servers of its own choosing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ice_servers: Vec<IceServer>,
    /// Kiosk → doctor: how long, in seconds, an interrupted call is kept before it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconnect_s: Option<u32>,
    /// Kiosk → doctor: the largest picture the kiosk can show, `WIDTHxHEIGHT` (its screen,
    /// 16:9). More pixels than that cost both sides CPU and bandwidth for nothing anyone sees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_max: Option<String>,
    /// Doctor → kiosk: which of the doctor's windows says hello, a random value each window
    /// keeps for its life (a reload keeps it). The first window the kiosk connects with holds
    /// the running call; another one is told `busy` (protocol.md 5, rule 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Doctor → kiosk: the video codecs the doctor's side can send and receive (`VP8`, `H264`,
    /// …, as SDP names them). The kiosk offers the first of its own preference that is among
    /// them (protocol.md 5, rule 7). Empty: VP8 and H.264, as before the field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub video_codecs: Vec<String>,
    /// Kiosk → doctor: the patient's consent, signed by the kiosk (`SignedBody::Consent`), as a
    /// receipt the practice can keep. Only in a fleet with a CA. Boxed: a hello travels in
    /// every signal, and most have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<Box<super::SignedMsg>>,
}

impl Hello {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// A doctor's window's introduction, with a fresh random `nonce` of 128 bits.
    pub fn from_window(name: impl Into<String>) -> Self {
        Self {
            nonce: Some(window_nonce()),
            ..Self::new(name)
        }
    }

    /// The same introduction as a reply.
    pub fn as_reply(&self) -> Self {
        Self {
            reply: true,
            ..self.clone()
        }
    }
}

/// The longest `nonce` a hello may carry, and the characters it may hold (the page and
/// `kioskctl doctor` send 32 hex digits).
pub const NONCE_MAX: usize = 64;

/// Whether a hello's `nonce` is one a window could have made: short, and letters, digits, `-`
/// and `_` only. Anything else is not echoed back in a `busy`.
pub fn nonce_is_valid(nonce: &str) -> bool {
    !nonce.is_empty()
        && nonce.len() <= NONCE_MAX
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn window_nonce() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's random source");
    super::to_hex(&bytes)
}

/// One ICE server as WebRTC's `RTCIceServer` has it, so a browser takes it as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:host:port`, `turn:host:port` or `turns:host:port`; a single string is read as a
    /// list of one.
    #[serde(deserialize_with = "one_or_more")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

fn one_or_more<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMore {
        One(String),
        More(Vec<String>),
    }
    Ok(match OneOrMore::deserialize(d)? {
        OneOrMore::One(url) => vec![url],
        OneOrMore::More(urls) => urls,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ByeReason {
    Hangup,
    Timeout,
    Error,
    /// The other side's DTLS certificate did not match the `a=fingerprint` of its SDP: someone
    /// may sit between the two. The connection was closed inside the handshake.
    SecurityCheckFailed,
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
            Self::SecurityCheckFailed => "security_check_failed",
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
        let hello = SignalMsg::from(Signal::Hello(Hello::new("Max")));
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

    #[test]
    fn the_kiosks_hello_carries_ice_servers_as_a_browser_takes_them() {
        let hello = Hello {
            ice_servers: vec![IceServer {
                urls: vec!["turn:198.18.0.10:3478".into()],
                username: Some("u".into()),
                credential: Some("p".into()),
            }],
            reconnect_s: Some(45),
            ..Hello::new("Max")
        }
        .as_reply();
        assert_eq!(
            String::from_utf8(encode(&SignalMsg::from(Signal::Hello(hello.clone())))).unwrap(),
            r#"{"v":1,"type":"hello","name":"Max","reply":true,"ice_servers":[{"urls":["turn:198.18.0.10:3478"],"username":"u","credential":"p"}],"reconnect_s":45}"#
        );
        let one: SignalMsg = decode(
            br#"{"v":1,"type":"hello","name":"Max","ice_servers":[{"urls":"stun:198.18.0.10:3478"}]}"#,
        )
        .unwrap();
        let Signal::Hello(one) = one.signal else {
            panic!("a hello")
        };
        assert_eq!(one.ice_servers[0].urls, ["stun:198.18.0.10:3478"]);
        assert!(!one.reply);
        assert_eq!(one.reconnect_s, None);
    }
}
