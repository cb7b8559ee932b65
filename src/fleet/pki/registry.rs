//! `registry.json`: the CA's memory of what it issued and revoked, and the number of its last CRL.
//! It is the only source for the CRL, since the CA keeps no copies of issued certificates.
//! It holds no key material.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::wire::from_hex;

/// What a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertKind {
    /// A kiosk's MQTT client certificate.
    Device,
    /// The fleet manager's client certificate (kioskctl).
    Admin,
    /// The broker's server certificate.
    Server,
}

/// Why a certificate was revoked, as written into the CRL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    /// Revoked by the fleet manager. RFC 5280 §5.3.1 asks to leave the reason code out
    /// rather than write `unspecified`, so the CRL entry carries none.
    Unspecified,
    /// Replaced by a newer certificate for the same id (re-enrolment).
    Superseded,
}

/// One issued certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The certificate's CN: device id, `fleet-admin`, or the broker's first host name.
    pub id: String,
    pub kind: CertKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// The serial number, lower-case hex without separators.
    pub serial: String,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub revoked_at: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_reason: Option<RevocationReason>,
}

impl Record {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }

    /// The serial's bytes; `None` if the registry was edited into something that is not hex.
    pub fn serial_bytes(&self) -> Option<Vec<u8>> {
        from_hex(&self.serial)
    }
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    /// The fleet name: the O of the CA's subject, needed to sign as the CA again.
    pub fleet: String,
    /// The number of the last CRL written to `crl.pem`.
    pub crl_number: u64,
    #[serde(default)]
    pub certificates: Vec<Record>,
}

impl Registry {
    /// Marks every unrevoked certificate of `id` as revoked; returns their serials.
    pub fn revoke(
        &mut self,
        id: &str,
        reason: RevocationReason,
        now: OffsetDateTime,
    ) -> Vec<String> {
        self.certificates
            .iter_mut()
            .filter(|r| r.id == id && !r.is_revoked())
            .map(|r| {
                r.revoked_at = Some(now);
                r.revocation_reason = Some(reason);
                r.serial.clone()
            })
            .collect()
    }
}
