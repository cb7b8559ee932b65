//! The kiosk's fleet identity in its state directory: who it is (device id, room), where its
//! broker is, the fleet CA it trusts, and its client certificate and key.
//!
//! `{state_dir}/identity/` (mode 0700) holds `identity.json` (device, room, broker), `ca.pem`,
//! `device.pem` and `device.key`, every file 0600. The directory is assembled beside its final
//! place and renamed into it, so it is either complete or absent.
//!
//! It comes from a provisioning bundle ([`crate::wire::ProvisionBundle`]) that is checked,
//! imported once and then deleted. This module never imports over an existing identity, never
//! writes key material anywhere else, and never puts key material into an error, a log line or
//! `Debug` output.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use serde::{Deserialize, Serialize};

use crate::platform::atomic_file::{private_dir, remove_durable, write_atomic};
use crate::wire::{self, MAX_PAYLOAD, ProvisionBundle, WireError, is_valid_id};

pub const IDENTITY_DIR: &str = "identity";
pub const IDENTITY_FILE: &str = "identity.json";
pub const CA_FILE: &str = "ca.pem";
pub const CERT_FILE: &str = "device.pem";
pub const KEY_FILE: &str = "device.key";
/// Where an import assembles the directory before renaming it into place.
const STAGING_DIR: &str = ".identity.tmp";

/// The kiosk's identity is the provisioning bundle it imported, kept in its state directory.
pub type Identity = ProvisionBundle;

/// `identity.json`: the parts of the identity that are not PEM files.
#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    device: String,
    room: String,
    broker: String,
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("this kiosk already has a fleet identity in {0}; wipe it before provisioning it again")]
    AlreadyProvisioned(PathBuf),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("provisioning bundle {path}: {source}")]
    Bundle { path: PathBuf, source: WireError },
    #[error("provisioning bundle {path}: field {field}: {reason}")]
    Invalid {
        path: PathBuf,
        field: &'static str,
        reason: String,
    },
    #[error("stored identity {path}: {reason}")]
    Stored { path: PathBuf, reason: String },
}

fn io_error(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> IdentityError {
    let path = path.to_path_buf();
    move |source| IdentityError::Io { what, path, source }
}

/// The identity stored in `state_dir`, or `None` if the kiosk was never provisioned.
pub fn load(state_dir: &Path) -> Result<Option<Identity>, IdentityError> {
    let dir = state_dir.join(IDENTITY_DIR);
    match fs::symlink_metadata(&dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("reading", &dir)(e)),
        Ok(_) => {}
    }
    let read = |name: &str| {
        let path = dir.join(name);
        fs::read_to_string(&path).map_err(io_error("reading", &path))
    };
    let meta: Meta =
        serde_json::from_str(&read(IDENTITY_FILE)?).map_err(|e| IdentityError::Stored {
            path: dir.join(IDENTITY_FILE),
            reason: e.to_string(),
        })?;
    Ok(Some(Identity {
        v: crate::wire::V1,
        device: meta.device,
        room: meta.room,
        broker: meta.broker,
        ca_pem: read(CA_FILE)?,
        cert_pem: read(CERT_FILE)?,
        key_pem: read(KEY_FILE)?,
    }))
}

/// What an import must hold to besides the bundle's own consistency.
#[derive(Debug, Clone, Default)]
pub struct ImportRules {
    /// The SHA-256 of the fleet CA's certificate (DER) that the image pins: a bundle that
    /// brings another CA is refused, so a bundle cannot bring its own trust anchor.
    pub ca_sha256: Option<[u8; 32]>,
    /// Who the stored identity belongs to (uid, gid): the service user, when the import runs
    /// privileged for it (kioskd's `--import-bundle`, from systemd's `ExecStartPre=+`).
    pub owner: Option<(u32, u32)>,
}

/// Checks the bundle at `bundle`, stores it as the identity in `state_dir` and deletes the
/// bundle. A bundle that cannot be deleted is logged and left; the identity is still returned.
pub fn import_bundle(bundle: &Path, state_dir: &Path) -> Result<Identity, IdentityError> {
    import_bundle_with(bundle, state_dir, &ImportRules::default())
}

/// [`import_bundle`], held to `rules`.
pub fn import_bundle_with(
    bundle: &Path,
    state_dir: &Path,
    rules: &ImportRules,
) -> Result<Identity, IdentityError> {
    let target = state_dir.join(IDENTITY_DIR);
    if target.exists() {
        return Err(IdentityError::AlreadyProvisioned(target));
    }
    let mut bytes = Vec::new();
    fs::File::open(bundle)
        .and_then(|f| f.take(MAX_PAYLOAD as u64 + 1).read_to_end(&mut bytes))
        .map_err(io_error("reading provisioning bundle", bundle))?;
    let parsed: ProvisionBundle = wire::decode(&bytes).map_err(|source| IdentityError::Bundle {
        path: bundle.into(),
        source,
    })?;
    check(&parsed, rules.ca_sha256.as_ref()).map_err(|(field, reason)| IdentityError::Invalid {
        path: bundle.into(),
        field,
        reason,
    })?;
    let identity = parsed;
    store(&identity, state_dir, rules.owner)?;
    tracing::info!(device = %identity.device, "fleet identity imported");
    if let Err(e) = remove_durable(bundle) {
        tracing::warn!(
            bundle = %bundle.display(),
            error = %e,
            "provisioning bundle imported but not deleted; it holds the kiosk's private key, remove it"
        );
    }
    Ok(identity)
}

/// Removes the identity (and any half-assembled one) from `state_dir`.
pub fn wipe_identity(state_dir: &Path) -> Result<(), IdentityError> {
    for name in [IDENTITY_DIR, STAGING_DIR] {
        let dir = state_dir.join(name);
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(io_error("removing", &dir)(e));
            }
            _ => {}
        }
    }
    sync_dir(state_dir)
}

/// Writes the identity beside its place and renames it in: complete or absent after a power cut.
/// With `owner`, every file and the directory belong to that user before they are in place.
fn store(
    identity: &Identity,
    state_dir: &Path,
    owner: Option<(u32, u32)>,
) -> Result<(), IdentityError> {
    let staging = state_dir.join(STAGING_DIR);
    match fs::remove_dir_all(&staging) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            return Err(io_error("removing leftover", &staging)(e));
        }
        _ => {}
    }
    private_dir(&staging).map_err(io_error("creating", &staging))?;
    let meta = serde_json::to_vec_pretty(&Meta {
        device: identity.device.clone(),
        room: identity.room.clone(),
        broker: identity.broker.clone(),
    })
    .expect("identity metadata always serialises");
    for (name, bytes) in [
        (CA_FILE, identity.ca_pem.as_bytes()),
        (CERT_FILE, identity.cert_pem.as_bytes()),
        (KEY_FILE, identity.key_pem.as_bytes()),
        (IDENTITY_FILE, &meta),
    ] {
        let path = staging.join(name);
        write_atomic(&path, bytes).map_err(io_error("writing", &path))?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&path, Some(uid), Some(gid))
                .map_err(io_error("handing over", &path))?;
        }
    }
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(&staging, Some(uid), Some(gid))
            .map_err(io_error("handing over", &staging))?;
    }
    let target = state_dir.join(IDENTITY_DIR);
    // rename() refuses a non-empty target, so a concurrent import cannot be overwritten.
    fs::rename(&staging, &target).map_err(io_error("moving identity into", &target))?;
    sync_dir(state_dir)
}

fn sync_dir(dir: &Path) -> Result<(), IdentityError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("syncing", dir))
}

/// What is wrong with a bundle, as (field, reason). Reasons never quote the key.
fn check(
    bundle: &ProvisionBundle,
    ca_pin: Option<&[u8; 32]>,
) -> Result<(), (&'static str, String)> {
    if !is_valid_id(&bundle.device) {
        return Err((
            "device",
            format!(
                "{:?} is not a valid id (1–64 of A–Z a–z 0–9 - _)",
                bundle.device
            ),
        ));
    }
    if bundle.room.trim().is_empty() {
        return Err(("room", "is empty".into()));
    }
    // Certificates only make sense over mutual TLS.
    crate::fleet::BrokerUrl::parse_tls(&bundle.broker).map_err(|e| ("broker", e.to_string()))?;
    let ca = certificates(&bundle.ca_pem).map_err(|r| ("ca_pem", r))?;
    if let Some(pin) = ca_pin {
        let pinned = ca
            .iter()
            .any(|c| ring::digest::digest(&ring::digest::SHA256, c).as_ref() == pin);
        if !pinned {
            return Err((
                "ca_pem",
                "is not the fleet CA this kiosk's image pins".into(),
            ));
        }
    }
    let chain = certificates(&bundle.cert_pem).map_err(|r| ("cert_pem", r))?;
    // The broker takes the certificate's CN as the kiosk's name (its rights, its topics): a
    // bundle that says another device than its certificate would make the kiosk listen where
    // it may not and speak where nobody hears.
    match crate::fleet::trust::common_name_of(&chain[0]) {
        Some(cn) if cn == bundle.device => {}
        Some(cn) => {
            return Err((
                "device",
                format!("{:?} is not the certificate's name {cn:?}", bundle.device),
            ));
        }
        None => return Err(("cert_pem", "names no single device (CN)".into())),
    }
    let key = PrivateKeyDer::from_pem_slice(bundle.key_pem.as_bytes())
        .map_err(|_| ("key_pem", "holds no private key in PEM".to_string()))?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|_| ("key_pem", "is not a key this kiosk can use".to_string()))?;
    match CertifiedKey::new(chain.clone(), signing_key).keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(_) => {
            return Err((
                "key_pem",
                "does not belong to the certificate in cert_pem".into(),
            ));
        }
    }

    let mut roots = RootCertStore::empty();
    for cert in ca {
        roots
            .add(cert)
            .map_err(|e| ("ca_pem", format!("is not a usable CA certificate: {e}")))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| ("ca_pem", format!("is not a usable CA certificate: {e}")))?;
    match verifier.verify_client_cert(&chain[0], &chain[1..], UnixTime::now()) {
        Ok(_) => Ok(()),
        // A kiosk without a real-time clock may not know the date before its first NTP sync;
        // the broker connection checks validity again once it does.
        Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::NotValidYet
            | rustls::CertificateError::NotValidYetContext { .. }
            | rustls::CertificateError::Expired
            | rustls::CertificateError::ExpiredContext { .. },
        )) => {
            tracing::warn!(
                device = %bundle.device,
                "device certificate is outside its validity period by this kiosk's clock"
            );
            Ok(())
        }
        Err(e) => Err((
            "cert_pem",
            format!("is not a client certificate issued by the CA in ca_pem: {e}"),
        )),
    }
}

/// The certificates of a PEM text, at least one.
fn certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("is not PEM: {e}"))?;
    if certs.is_empty() {
        return Err("holds no certificate".into());
    }
    Ok(certs)
}

#[cfg(test)]
mod tests;
