//! Signed appointments and revocations (docs/protocol.md section 3.2): kioskctl signs with the
//! fleet manager's key; the kiosk takes a signed message only if the signer's certificate chains
//! to the fleet CA, is valid now, is the fleet manager's (CN `fleet-admin`, client
//! authentication: a kiosk's certificate carries its device id, which may never be
//! `fleet-admin`, and the broker's has server authentication only), and the signature verifies.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use webpki::{EndEntityCert, KeyUsage, anchor_from_trusted_cert};

use super::der;
use crate::fleet::pki::ADMIN_ID;
use crate::wire::{SignedBody, SignedConsent, SignedMsg, V2, b64url, from_b64url};

/// Why a signed message was refused. Never carries a name: the body is not read before the
/// signature holds, and then only its ids.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("field `{0}` is not valid base64")]
    Encoding(&'static str),
    #[error("the signer's certificate is not from this fleet's CA or not valid now ({0})")]
    Untrusted(String),
    #[error("the signer {0:?} is not the fleet manager")]
    NotFleetManager(String),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the signed body does not fit: {0}")]
    Body(String),
}

/// The fleet manager's key, for kioskctl.
pub struct Signer {
    cert: Vec<u8>,
    key: EcdsaKeyPair,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer { .. }")
    }
}

impl Signer {
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, String> {
        let cert = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| format!("certificate: {e}"))?;
        let key = match PrivateKeyDer::from_pem_slice(key_pem.as_bytes()) {
            Ok(PrivateKeyDer::Pkcs8(key)) => key,
            _ => return Err("key: not a PKCS#8 PEM key".into()),
        };
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            key.secret_pkcs8_der(),
            &ring::rand::SystemRandom::new(),
        )
        .map_err(|e| format!("key: not an ECDSA P-256 key ({e})"))?;
        Ok(Self {
            cert: cert.to_vec(),
            key,
        })
    }

    pub fn sign(&self, body: &SignedBody) -> SignedMsg {
        let bytes = crate::wire::encode(body);
        let sig = self
            .key
            .sign(&ring::rand::SystemRandom::new(), &bytes)
            .expect("ECDSA signing with the system's random source does not fail");
        SignedMsg {
            v: V2,
            body: b64url(&bytes),
            sig: b64url(sig.as_ref()),
            signer: STANDARD.encode(&self.cert),
        }
    }
}

/// The kiosk's check, against the fleet CA it trusts.
#[derive(Debug, Clone)]
pub struct Verifier {
    ca: CertificateDer<'static>,
}

impl Verifier {
    pub fn from_pem(ca_pem: &str) -> Result<Self, String> {
        let ca = CertificateDer::from_pem_slice(ca_pem.as_bytes())
            .map_err(|e| format!("fleet CA: {e}"))?;
        anchor_from_trusted_cert(&ca).map_err(|e| format!("fleet CA: {e}"))?;
        Ok(Self { ca })
    }

    /// The body, once signer and signature hold at `now` (seconds since the epoch).
    pub fn verify(&self, msg: &SignedMsg, now: u64) -> Result<SignedBody, SignatureError> {
        let (cn, body) = self.signed_by(msg, now)?;
        if cn != ADMIN_ID {
            return Err(SignatureError::NotFleetManager(cn));
        }
        serde_json::from_slice(&body).map_err(|e| SignatureError::Body(e.to_string()))
    }

    /// A kiosk's consent receipt: signed by the kiosk it names, with a certificate of this
    /// fleet that was valid when the patient consented (a receipt is read long after).
    pub fn verify_consent(&self, msg: &SignedMsg) -> Result<SignedConsent, SignatureError> {
        let body = from_b64url(&msg.body).ok_or(SignatureError::Encoding("body"))?;
        let consent = match serde_json::from_slice(&body) {
            Ok(SignedBody::Consent(consent)) => consent,
            Ok(_) => return Err(SignatureError::Body("not a consent receipt".into())),
            Err(e) => return Err(SignatureError::Body(e.to_string())),
        };
        let at = u64::try_from(consent.consented_at.unix_timestamp()).unwrap_or_default();
        let (cn, _) = self.signed_by(msg, at)?;
        if cn != consent.device || cn == ADMIN_ID {
            return Err(SignatureError::Body(format!(
                "signed by {cn:?}, not by the kiosk it names"
            )));
        }
        Ok(consent)
    }

    /// The signer's common name and the signed bytes, once the signer's certificate chains to
    /// the fleet CA at `at` (seconds since the epoch) and the signature holds.
    fn signed_by(&self, msg: &SignedMsg, at: u64) -> Result<(String, Vec<u8>), SignatureError> {
        let body = from_b64url(&msg.body).ok_or(SignatureError::Encoding("body"))?;
        let sig = from_b64url(&msg.sig).ok_or(SignatureError::Encoding("sig"))?;
        let signer = STANDARD
            .decode(&msg.signer)
            .map_err(|_| SignatureError::Encoding("signer"))?;
        let signer = CertificateDer::from(signer);
        let cert = EndEntityCert::try_from(&signer)
            .map_err(|e| SignatureError::Untrusted(e.to_string()))?;
        let anchor = anchor_from_trusted_cert(&self.ca).expect("checked when made");
        // No CRL: kiosks do not hold one (section 10.1); a revoked fleet manager certificate
        // is refused by the broker, which is what keeps it from publishing.
        cert.verify_for_usage(
            &[webpki::ring::ECDSA_P256_SHA256],
            &[anchor],
            &[],
            UnixTime::since_unix_epoch(Duration::from_secs(at)),
            KeyUsage::client_auth(),
            None,
            None,
        )
        .map_err(|e| SignatureError::Untrusted(e.to_string()))?;
        let cn = der::common_name(cert.subject()).unwrap_or_default();
        cert.verify_signature(webpki::ring::ECDSA_P256_SHA256, &body, &sig)
            .map_err(|_| SignatureError::BadSignature)?;
        Ok((cn, body))
    }
}
