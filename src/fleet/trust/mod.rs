//! End-to-end trust that does not rest on the broker (protocol v2): appointments signed by the
//! fleet manager, their names and session key sealed to the kiosk's own key (HPKE), and the
//! session's signalling sealed with that session key.
//!
//! It owns the checks and the crypto, and no I/O. It must never log, print or put into an error
//! a name, a key or a code: refusals say what was wrong, never what the message said.

pub mod channel;
mod der;
pub mod hpke;
pub mod signed;
#[cfg(test)]
mod tests;

pub use channel::{Channel, ChannelError};
pub use signed::{SignatureError, Signer, Verifier};

use p256::SecretKey;
use p256::pkcs8::DecodePrivateKey;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use time::OffsetDateTime;

use crate::wire::{
    self, AppointmentMsg, SealedNames, SignedAppointment, SignedBody, SignedMsg, V1, from_b64url,
};

/// The subject CN of a certificate (DER), if it has exactly one.
pub fn common_name_of(cert: &CertificateDer<'_>) -> Option<String> {
    let cert = webpki::EndEntityCert::try_from(cert).ok()?;
    der::common_name(cert.subject())
}

/// HPKE's `info` for an appointment's sealed part.
pub const SEAL_INFO: &[u8] = b"praxiskiosk appointment v2";

/// HPKE's associated data: the sealed part opens only for this device and this appointment.
pub fn seal_aad(device: &str, appointment: &str) -> Vec<u8> {
    format!("praxiskiosk appointment v2\n{device}\n{appointment}").into_bytes()
}

/// Seals `names` to the device certificate `device_cert_pem` (kioskctl's side).
pub fn seal_names(
    device_cert_pem: &str,
    device: &str,
    appointment: &str,
    names: &SealedNames,
) -> Result<String, String> {
    let cert = CertificateDer::from_pem_slice(device_cert_pem.as_bytes())
        .map_err(|e| format!("device certificate: {e}"))?;
    let cert =
        webpki::EndEntityCert::try_from(&cert).map_err(|e| format!("device certificate: {e}"))?;
    let spki = cert.subject_public_key_info();
    let point = der::p256_point(spki.as_ref())
        .ok_or("device certificate: its key is not an ECDSA P-256 key")?;
    let sealed = hpke::seal(
        point,
        SEAL_INFO,
        &seal_aad(device, appointment),
        &wire::encode(names),
    )
    .map_err(|e| e.to_string())?;
    Ok(wire::b64url(&sealed))
}

/// Why the kiosk refused an appointment topic's payload. No variant carries a name.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    #[error("unsigned appointment (v1) refused: this kiosk takes only signed appointments (v2)")]
    Unsigned,
    #[error("unsigned revocation (empty payload) ignored: revocations must be signed")]
    UnsignedRevocation,
    #[error("unsigned test call refused: a test call must be signed by the fleet manager")]
    UnsignedTestCall,
    #[error("test call refused: a kiosk without a fleet CA cannot open its session key")]
    NoTrustForTestCall,
    #[error("test call refused: field {0} is not an id")]
    TestCallId(&'static str),
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("signed for device {0:?}, not this kiosk")]
    OtherDevice(String),
    #[error("signed for appointment {signed:?} but published on {topic:?}")]
    OtherTopic { signed: String, topic: String },
    #[error("the sealed names do not open with this kiosk's key ({0})")]
    Sealed(String),
}

/// What a kiosk took from an appointment topic.
#[derive(Debug, Clone, PartialEq)]
pub enum Accepted {
    /// The appointment, opened, in the form the kiosk keeps (with the session key).
    Appointment(AppointmentMsg),
    Revoked(String),
}

/// A test call the fleet manager signed for this kiosk, opened: the session to join and its key.
#[derive(Debug, Clone, PartialEq)]
pub struct TestCall {
    pub id: String,
    pub session: String,
    pub not_after: OffsetDateTime,
    pub key: wire::SessionKey,
}

/// A provisioned kiosk's trust: its fleet CA and its own key.
pub struct Trust {
    device: String,
    verifier: Verifier,
    key: SecretKey,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

impl Trust {
    pub fn new(device: &str, ca_pem: &str, key_pem: &str) -> Result<Self, String> {
        let refused = || "device key: not a P-256 key in PKCS#8 PEM".to_string();
        let key = match rustls_pki_types::PrivateKeyDer::from_pem_slice(key_pem.as_bytes()) {
            Ok(rustls_pki_types::PrivateKeyDer::Pkcs8(der)) => {
                SecretKey::from_pkcs8_der(der.secret_pkcs8_der()).map_err(|_| refused())?
            }
            _ => return Err(refused()),
        };
        Ok(Self {
            device: device.into(),
            verifier: Verifier::from_pem(ca_pem)?,
            key,
        })
    }

    /// Checks a signed payload on `…/appointments/{topic_id}` and opens its sealed part.
    pub fn accept(
        &self,
        topic_id: &str,
        msg: &SignedMsg,
        now: OffsetDateTime,
    ) -> Result<Accepted, Refusal> {
        let body = self
            .verifier
            .verify(msg, now.unix_timestamp().max(0) as u64)?;
        let ours = |device: &str, id: &str| {
            if device != self.device {
                return Err(Refusal::OtherDevice(device.into()));
            }
            if id != topic_id {
                return Err(Refusal::OtherTopic {
                    signed: id.into(),
                    topic: topic_id.into(),
                });
            }
            Ok(())
        };
        match body {
            SignedBody::Revoke(r) => ours(&r.device, &r.id).map(|()| Accepted::Revoked(r.id)),
            SignedBody::Appointment(a) => {
                ours(&a.device, &a.id)?;
                self.open(a).map(Accepted::Appointment)
            }
            // Only kiosks sign these, and verify() takes only the fleet manager's signature.
            SignedBody::Consent(_) => Err(Refusal::Signature(SignatureError::Body(
                "a consent receipt where an appointment belongs".into(),
            ))),
            SignedBody::TestCall(_) => Err(Refusal::Signature(SignatureError::Body(
                "a test call where an appointment belongs".into(),
            ))),
        }
    }

    /// Checks the signed part of a `test_call` command (protocol.md 3.5) and opens its session
    /// key. Whether it is still current is the caller's to judge, with a confirmed clock.
    pub fn accept_test_call(
        &self,
        msg: &SignedMsg,
        now: OffsetDateTime,
    ) -> Result<TestCall, Refusal> {
        let body = self
            .verifier
            .verify(msg, now.unix_timestamp().max(0) as u64)?;
        let SignedBody::TestCall(t) = body else {
            return Err(Refusal::Signature(SignatureError::Body(
                "not a test call".into(),
            )));
        };
        if t.device != self.device {
            return Err(Refusal::OtherDevice(t.device));
        }
        // The session names the topics the kiosk subscribes to: one level, no wildcard.
        for (field, value) in [("id", &t.id), ("session", &t.session)] {
            if !wire::is_valid_id(value) {
                return Err(Refusal::TestCallId(field));
            }
        }
        let names = self.open_names(&t.device, &t.id, &t.sealed)?;
        Ok(TestCall {
            id: t.id,
            session: t.session,
            not_after: t.not_after,
            key: names.session_key,
        })
    }

    fn open_names(&self, device: &str, id: &str, sealed: &str) -> Result<SealedNames, Refusal> {
        let sealed = from_b64url(sealed).ok_or(Refusal::Sealed("not base64url".into()))?;
        let plain = hpke::open(&self.key, SEAL_INFO, &seal_aad(device, id), &sealed)
            .map_err(|e| Refusal::Sealed(e.to_string()))?;
        serde_json::from_slice(&plain)
            .map_err(|_| Refusal::Sealed("the opened part does not fit".into()))
    }

    fn open(&self, a: SignedAppointment) -> Result<AppointmentMsg, Refusal> {
        let names = self.open_names(&a.device, &a.id, &a.sealed)?;
        Ok(AppointmentMsg {
            v: V1,
            id: a.id,
            session: a.session,
            code_hash: a.code_hash,
            not_before: a.not_before,
            not_after: a.not_after,
            doctor_name: names.doctor_name,
            patient_name: names.patient_name,
            session_key: Some(names.session_key),
        })
    }
}
