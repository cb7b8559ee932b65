//! Protocol v2 payloads: signed appointments and revocations, and sealed signalling
//! (docs/protocol.md sections 3.2 and 5). Only the envelopes and what is inside them are types
//! here; signing, verifying, sealing and opening are `fleet::trust`'s.
//!
//! v2 exists only where there is a fleet CA (every TLS fleet): a development kiosk on a plaintext
//! loopback broker has no keys and keeps speaking v1.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

/// The version marker of v2 payloads: serialises as `2`, and only `2` deserialises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct V2;

impl Serialize for V2 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(2)
    }
}

impl<'de> Deserialize<'de> for V2 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u64::deserialize(d)? {
            2 => Ok(V2),
            other => Err(serde::de::Error::custom(format!(
                "unsupported version {other}"
            ))),
        }
    }
}

/// `…/appointments/{appointment}`, retained, fleet → kiosk: a [`SignedBody`] as the exact bytes
/// that were signed, the signature, and the certificate that signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedMsg {
    pub v: V2,
    /// base64url (no padding) of the signed JSON bytes.
    pub body: String,
    /// base64url of the ECDSA P-256 / SHA-256 signature over `body`'s bytes (ASN.1 DER).
    pub sig: String,
    /// Standard base64 of the signing certificate's DER.
    pub signer: String,
}

/// What the fleet manager signs, and the one thing a kiosk signs (`Consent`). Each names the
/// device and the appointment or session, so a signed message cannot be moved to another kiosk
/// or another appointment's topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SignedBody {
    Appointment(SignedAppointment),
    Revoke(SignedRevoke),
    Consent(SignedConsent),
    TestCall(SignedTestCall),
}

/// The fleet manager's request for a test call (the `test_call` command, protocol.md 3.5): the
/// session to join and, sealed to the kiosk like an appointment's names (with `id` as the
/// appointment), the session key. Taken only until `not_after`, and each `id` only once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedTestCall {
    pub device: String,
    pub id: String,
    pub session: String,
    #[serde(with = "super::rfc3339")]
    pub not_after: OffsetDateTime,
    /// base64url of HPKE `enc || ciphertext` of [`SealedNames`] (no patient).
    pub sealed: String,
}

/// The patient's consent as the kiosk records it for the practice (protocol.md 5, the kiosk's
/// hello's `consent`), signed with the kiosk's own key. It names nobody but the patient, whom
/// the practice knows already.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedConsent {
    pub device: String,
    pub session: String,
    /// The name the patient confirmed at the kiosk.
    pub patient: String,
    #[serde(with = "super::rfc3339")]
    pub consented_at: OffsetDateTime,
    /// Which consent text the patient agreed to: `ui::text::consent_text_version`.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedAppointment {
    pub device: String,
    pub id: String,
    pub session: String,
    pub code_hash: String,
    #[serde(with = "super::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "super::rfc3339")]
    pub not_after: OffsetDateTime,
    /// base64url of HPKE `enc || ciphertext` of [`SealedNames`], sealed to the device's key.
    pub sealed: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedRevoke {
    pub device: String,
    pub id: String,
    #[serde(with = "super::rfc3339")]
    pub at: OffsetDateTime,
}

/// Inside `sealed`: what only the kiosk may read.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedNames {
    pub doctor_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_name: Option<String>,
    pub session_key: SessionKey,
}

impl fmt::Debug for SealedNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealedNames { .. }")
    }
}

/// 256 bits shared by the kiosk (through the sealed appointment) and the doctor (through the
/// join link's fragment); the key of the session's sealed signalling. Written as base64url.
/// Its `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey(pub [u8; 32]);

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

impl SessionKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        use rand::RngCore;
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self(key)
    }

    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    pub fn from_base64url(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }
}

impl Serialize for SessionKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64url())
    }
}

impl<'de> Deserialize<'de> for SessionKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::from_base64url(&text)
            .ok_or_else(|| serde::de::Error::custom("not 32 bytes of base64url"))
    }
}

/// Who sent a sealed signalling message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sender {
    Kiosk,
    Doctor,
}

impl Sender {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kiosk => "kiosk",
            Self::Doctor => "doctor",
        }
    }

    pub fn other(self) -> Self {
        match self {
            Self::Kiosk => Self::Doctor,
            Self::Doctor => Self::Kiosk,
        }
    }
}

/// `…/sessions/{session}/kiosk` and `…/doctor` in v2: a v1 [`super::SignalMsg`], sealed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedSignal {
    pub v: V2,
    pub from: Sender,
    /// Strictly increasing per sender within a session, never reused.
    pub seq: u64,
    /// base64url of the AES-256-GCM ciphertext and tag.
    #[serde(rename = "box")]
    pub sealed: String,
}

/// base64url without padding, as every binary field of v2 is (but `signer`).
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn from_b64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_hide_in_debug() {
        let key = SessionKey::generate();
        assert_eq!(
            SessionKey::from_base64url(&key.to_base64url()),
            Some(key.clone())
        );
        assert!(SessionKey::from_base64url("AAAA").is_none());
        assert!(!format!("{key:?}").contains(&key.to_base64url()));
        let names = SealedNames {
            doctor_name: "Dr. X".into(),
            patient_name: None,
            session_key: key,
        };
        assert!(!format!("{names:?}").contains("Dr."));
    }

    #[test]
    fn signals_and_bodies_have_their_shape() {
        let s: SealedSignal =
            serde_json::from_str(r#"{"v":2,"from":"doctor","seq":7,"box":"AA","x":1}"#).unwrap();
        assert_eq!((s.from, s.seq), (Sender::Doctor, 7));
        assert!(
            serde_json::from_str::<SealedSignal>(r#"{"v":1,"from":"doctor","seq":7,"box":""}"#)
                .is_err()
        );
        let body: SignedBody = serde_json::from_str(
            r#"{"type":"revoke","device":"k","id":"a","at":"2026-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert!(matches!(body, SignedBody::Revoke(_)));
    }
}
