//! The fleet CA that kioskctl keeps in one private directory: it issues the kiosks' and the
//! fleet manager's client certificates and the broker's server certificate, remembers them in
//! `registry.json`, and signs the CRL the broker checks clients against.
//!
//! Files in the CA directory (mode 0700, every file 0600, each written atomically):
//! `ca.pem`, `ca.key`, `admin.pem`, `admin.key`, `crl.pem`, `registry.json`, and
//! `device-{device}.pem`, each kiosk's current certificate (public: appointments are sealed to
//! its key).
//!
//! `crl.pem` is valid for 365 days; `kioskctl ca crl` re-issues it, and it must be re-issued
//! (and copied to the broker) before then, or the broker refuses every client.
//!
//! This module never keeps a copy of a kiosk's or the broker's private key: it hands it to the
//! caller once in [`Issued`] and forgets it. It never logs or prints key material, and its `Debug`
//! output shows none.

mod profiles;
mod registry;
#[cfg(test)]
mod tests;

pub use profiles::{ADMIN_ID, CA_COMMON_NAME, CRL_VALIDITY};
pub use registry::{CertKind, Record, RevocationReason};

use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    CertificateParams, CertificateRevocationListParams, Issuer, KeyIdMethod, KeyPair,
    PKCS_ECDSA_P256_SHA256, RevokedCertParams, SerialNumber,
};
use time::OffsetDateTime;

use crate::platform::atomic_file::{private_dir, write_atomic};
use crate::wire::is_valid_id;
use registry::Registry;

pub const CA_CERT_FILE: &str = "ca.pem";
pub const CA_KEY_FILE: &str = "ca.key";
pub const ADMIN_CERT_FILE: &str = "admin.pem";
pub const ADMIN_KEY_FILE: &str = "admin.key";
pub const CRL_FILE: &str = "crl.pem";
pub const REGISTRY_FILE: &str = "registry.json";

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error(
        "{0} enthält schon eine Flotten-CA, sie wird nicht ersetzt / {0} already holds a fleet CA; refusing to replace it"
    )]
    AlreadyInitialised(PathBuf),
    #[error(
        "{0} enthält keine Flotten-CA (zuerst `kioskctl ca init`) / {0} holds no fleet CA (run `kioskctl ca init` first)"
    )]
    NotInitialised(PathBuf),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("CA registry {path} is damaged: {reason}")]
    Registry { path: PathBuf, reason: String },
    #[error("CA key {path} is not an ECDSA P-256 key in PKCS#8 PEM")]
    CaKey { path: PathBuf },
    #[error("signing the {what} failed: {source}")]
    Sign {
        what: &'static str,
        source: rcgen::Error,
    },
    #[error(
        "Gerätekennung {0:?} ist ungültig / device id {0:?} is not valid (1–64 of A–Z a–z 0–9 - _)"
    )]
    InvalidId(String),
    #[error(
        "{0:?} ist der Flottenverwaltung vorbehalten / id {0:?} is reserved for the fleet manager and cannot name a device"
    )]
    ReservedId(String),
    #[error(
        "Flottenname {0:?}: 1–64 druckbare Zeichen / fleet name {0:?} must be 1–64 printable characters"
    )]
    InvalidFleet(String),
    #[error("Raum {0:?}: 1–100 druckbare Zeichen / room {0:?} must be 1–100 printable characters")]
    InvalidRoom(String),
    #[error(
        "Broker-Adresse {0:?} ist weder IP-Adresse noch DNS-Name / broker host {0:?} is neither an IP address nor a DNS name"
    )]
    InvalidHost(String),
    #[error(
        "kein Zertifikat von {0:?} vorhanden: bitte neu einrichten / no certificate of {0:?} on file (enrolled before kioskctl kept them): enrol it again"
    )]
    NoDeviceCert(String),
    #[error(
        "kein gültiges Zertifikat von {0:?} im Register / no unrevoked certificate for {0:?} in the registry"
    )]
    NothingToRevoke(String),
}

/// A freshly issued certificate with its private key. The caller stores or ships the key; the CA
/// keeps only the serial.
#[derive(Clone, PartialEq, Eq)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    /// Lower-case hex.
    pub serial: String,
    /// Serials revoked because this certificate replaces them (re-enrolment).
    pub superseded: Vec<String>,
}

impl fmt::Debug for Issued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issued")
            .field("serial", &self.serial)
            .field("superseded", &self.superseded)
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// An opened fleet CA.
pub struct FleetCa {
    dir: PathBuf,
    registry: Registry,
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for FleetCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetCa")
            .field("dir", &self.dir)
            .field("fleet", &self.registry.fleet)
            .finish_non_exhaustive()
    }
}

impl FleetCa {
    /// Creates the CA in `dir`, the fleet manager's client certificate and an empty CRL.
    /// Refuses if `dir` already holds (part of) a CA.
    pub fn init(dir: &Path, fleet: &str, now: OffsetDateTime) -> Result<Self, PkiError> {
        if fleet.is_empty() || fleet.chars().count() > 64 || fleet.chars().any(char::is_control) {
            return Err(PkiError::InvalidFleet(fleet.into()));
        }
        if [CA_CERT_FILE, CA_KEY_FILE, REGISTRY_FILE]
            .iter()
            .any(|name| dir.join(name).exists())
        {
            return Err(PkiError::AlreadyInitialised(dir.into()));
        }
        let io = |what: &'static str, source| PkiError::Io {
            what,
            path: dir.into(),
            source,
        };
        private_dir(dir).map_err(|e| io("creating CA directory", e))?;
        // An existing directory keeps its mode under `private_dir`; the CA key needs 0700.
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| io("restricting CA directory", e))?;

        let key = new_key()?;
        let params = profiles::ca(fleet, now);
        let ca_cert = params.self_signed(&key).map_err(|source| PkiError::Sign {
            what: "CA certificate",
            source,
        })?;
        write(dir, CA_KEY_FILE, &key.serialize_pem())?;
        write(dir, CA_CERT_FILE, &ca_cert.pem())?;
        let mut ca = Self {
            dir: dir.into(),
            registry: Registry {
                fleet: fleet.into(),
                crl_number: 0,
                certificates: Vec::new(),
            },
            ca_pem: ca_cert.pem(),
            issuer: Issuer::new(params, key),
        };
        let (admin, record) = ca.issue(
            profiles::client(fleet, ADMIN_ID, profiles::ADMIN_VALIDITY, now),
            "fleet manager certificate",
            ADMIN_ID,
            CertKind::Admin,
            None,
            now,
        )?;
        ca.registry.certificates.push(record);
        write(dir, ADMIN_KEY_FILE, &admin.key_pem)?;
        write(dir, ADMIN_CERT_FILE, &admin.cert_pem)?;
        // The registry is written last: with it, the CA counts as complete.
        ca.reissue_crl(now)?;
        Ok(ca)
    }

    /// Opens the CA in `dir`.
    pub fn open(dir: &Path) -> Result<Self, PkiError> {
        if !dir.join(REGISTRY_FILE).exists() {
            return Err(PkiError::NotInitialised(dir.into()));
        }
        let registry_path = dir.join(REGISTRY_FILE);
        let registry: Registry =
            serde_json::from_str(&read(dir, REGISTRY_FILE)?).map_err(|e| PkiError::Registry {
                path: registry_path.clone(),
                reason: e.to_string(),
            })?;
        let key_path = dir.join(CA_KEY_FILE);
        let key = KeyPair::from_pem(&read(dir, CA_KEY_FILE)?)
            .ok()
            .filter(|k| k.algorithm() == &PKCS_ECDSA_P256_SHA256)
            .ok_or(PkiError::CaKey { path: key_path })?;
        // Only subject, key usages and key identifier method reach the issued certificates;
        // validity and serial of these rebuilt parameters are never used.
        let params = profiles::ca(&registry.fleet, OffsetDateTime::UNIX_EPOCH);
        Ok(Self {
            dir: dir.into(),
            ca_pem: read(dir, CA_CERT_FILE)?,
            registry,
            issuer: Issuer::new(params, key),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn fleet(&self) -> &str {
        &self.registry.fleet
    }

    /// The CA certificate, the trust anchor for kiosks and broker.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The fleet manager's client certificate and key (PEM), for kioskctl's mutual TLS.
    pub fn admin_identity(&self) -> Result<(String, String), PkiError> {
        Ok((
            read(&self.dir, ADMIN_CERT_FILE)?,
            read(&self.dir, ADMIN_KEY_FILE)?,
        ))
    }

    /// The current CRL (PEM) as last written.
    pub fn crl_pem(&self) -> Result<String, PkiError> {
        read(&self.dir, CRL_FILE)
    }

    /// Every certificate the CA issued, in order of issue.
    pub fn records(&self) -> &[Record] {
        &self.registry.certificates
    }

    /// The kiosks' certificates, revoked ones included.
    pub fn devices(&self) -> impl Iterator<Item = &Record> {
        self.records().iter().filter(|r| r.kind == CertKind::Device)
    }

    /// A kiosk's client certificate; its CN is `device`, its MQTT user name. Earlier unrevoked
    /// certificates of the same device are revoked as superseded and the CRL is rewritten.
    pub fn issue_device(
        &mut self,
        device: &str,
        room: &str,
        now: OffsetDateTime,
    ) -> Result<Issued, PkiError> {
        if !is_valid_id(device) {
            return Err(PkiError::InvalidId(device.into()));
        }
        if device == ADMIN_ID {
            return Err(PkiError::ReservedId(device.into()));
        }
        if room.trim().is_empty()
            || room.chars().count() > 100
            || room.chars().any(char::is_control)
        {
            return Err(PkiError::InvalidRoom(room.into()));
        }
        let params = profiles::client(self.fleet(), device, profiles::DEVICE_VALIDITY, now);
        let (mut issued, record) = self.issue(
            params,
            "device certificate",
            device,
            CertKind::Device,
            Some(room),
            now,
        )?;
        // Before the registry: a certificate on record always has its file.
        write(&self.dir, &device_cert_file(device), &issued.cert_pem)?;
        issued.superseded = self
            .registry
            .revoke(device, RevocationReason::Superseded, now);
        self.registry.certificates.push(record);
        if issued.superseded.is_empty() {
            self.save_registry()?;
        } else {
            self.reissue_crl(now)?;
        }
        Ok(issued)
    }

    /// The device's current certificate (PEM), to seal its appointments to. Refused if it was
    /// revoked, or issued before kioskctl kept device certificates (enrol the kiosk again).
    pub fn device_cert(&self, device: &str) -> Result<String, PkiError> {
        let current = self
            .records()
            .iter()
            .rev()
            .find(|r| r.kind == CertKind::Device && r.id == device);
        match current {
            Some(record) if !record.is_revoked() => read(&self.dir, &device_cert_file(device))
                .map_err(|_| PkiError::NoDeviceCert(device.into())),
            _ => Err(PkiError::NothingToRevoke(device.into())),
        }
    }

    /// The broker's server certificate for `hosts` (IP addresses or DNS names; the first is
    /// also the CN).
    pub fn issue_server(
        &mut self,
        hosts: &[String],
        now: OffsetDateTime,
    ) -> Result<Issued, PkiError> {
        let params = profiles::server(self.fleet(), hosts, now).map_err(PkiError::InvalidHost)?;
        let (issued, record) = self.issue(
            params,
            "server certificate",
            &hosts[0],
            CertKind::Server,
            None,
            now,
        )?;
        self.registry.certificates.push(record);
        self.save_registry()?;
        Ok(issued)
    }

    /// Revokes every unrevoked certificate of `id` and rewrites `crl.pem`.
    pub fn revoke(&mut self, id: &str, now: OffsetDateTime) -> Result<Vec<String>, PkiError> {
        let serials = self.registry.revoke(id, RevocationReason::Unspecified, now);
        if serials.is_empty() {
            return Err(PkiError::NothingToRevoke(id.into()));
        }
        self.reissue_crl(now)?;
        Ok(serials)
    }

    /// Signs a new CRL (next number, valid [`CRL_VALIDITY`]) listing every revoked certificate
    /// that has not expired yet, and writes `crl.pem` and the registry.
    pub fn reissue_crl(&mut self, now: OffsetDateTime) -> Result<(), PkiError> {
        let mut revoked_certs = Vec::new();
        for record in &self.registry.certificates {
            let Some(revoked_at) = record.revoked_at else {
                continue;
            };
            if record.not_after <= now {
                continue; // expired certificates fail on their own; RFC 5280 lets them leave
            }
            let serial = record.serial_bytes().ok_or_else(|| PkiError::Registry {
                path: self.dir.join(REGISTRY_FILE),
                reason: format!("serial {:?} of {:?} is not hex", record.serial, record.id),
            })?;
            revoked_certs.push(RevokedCertParams {
                serial_number: SerialNumber::from_slice(&serial),
                revocation_time: revoked_at,
                reason_code: match record.revocation_reason {
                    Some(RevocationReason::Superseded) => Some(rcgen::RevocationReason::Superseded),
                    Some(RevocationReason::Unspecified) | None => None,
                },
                invalidity_date: None,
            });
        }
        let number = self.registry.crl_number + 1;
        let crl = CertificateRevocationListParams {
            this_update: now,
            next_update: now + CRL_VALIDITY,
            crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&self.issuer)
        .and_then(|crl| crl.pem())
        .map_err(|source| PkiError::Sign {
            what: "CRL",
            source,
        })?;
        self.registry.crl_number = number;
        // The registry first: if the CRL write fails, `kioskctl ca crl` writes it again.
        self.save_registry()?;
        write(&self.dir, CRL_FILE, &crl)
    }

    /// Signs `params` with a new key; the caller records the certificate.
    fn issue(
        &self,
        params: CertificateParams,
        what: &'static str,
        id: &str,
        kind: CertKind,
        room: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(Issued, Record), PkiError> {
        let key = new_key()?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|source| PkiError::Sign { what, source })?;
        let serial = params
            .serial_number
            .as_ref()
            .map(|s| crate::wire::to_hex(&s.to_bytes()))
            .expect("every profile sets a serial");
        let record = Record {
            id: id.into(),
            kind,
            room: room.map(Into::into),
            serial: serial.clone(),
            issued_at: now,
            not_after: params.not_after,
            revoked_at: None,
            revocation_reason: None,
        };
        let issued = Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            serial,
            superseded: Vec::new(),
        };
        Ok((issued, record))
    }

    fn save_registry(&self) -> Result<(), PkiError> {
        let json =
            serde_json::to_string_pretty(&self.registry).expect("the registry always serialises");
        write(&self.dir, REGISTRY_FILE, &json)
    }
}

fn device_cert_file(device: &str) -> String {
    format!("device-{device}.pem")
}

fn new_key() -> Result<KeyPair, PkiError> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|source| PkiError::Sign {
        what: "new key pair",
        source,
    })
}

fn write(dir: &Path, name: &str, text: &str) -> Result<(), PkiError> {
    let path = dir.join(name);
    write_atomic(&path, text.as_bytes()).map_err(|source| PkiError::Io {
        what: "writing",
        path,
        source,
    })
}

fn read(dir: &Path, name: &str) -> Result<String, PkiError> {
    let path = dir.join(name);
    fs::read_to_string(&path).map_err(|source| PkiError::Io {
        what: "reading",
        path,
        source,
    })
}
