//! The provisioning bundle's import as the image does it: by a small privileged step before
//! kioskd starts (`kioskd --import-bundle`, systemd's `ExecStartPre=+`), never by giving kioskd
//! itself access to the boot partition. The boot partition stays root's alone (`umask=0077`);
//! the step reads the bundle there, checks it (its certificate's CN is its device id, its CA
//! the one the image pins), stores the identity in the state directory for the state
//! directory's owner (the service user) and deletes the bundle.
//!
//! A refused bundle leaves a note in the state directory, the reason and nothing else of the
//! bundle, so that kioskd, which cannot read the bundle, still says on its screen that it was
//! refused (and logs why).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::DaemonError;
use super::access::{self, Provisioned};
use crate::config::Config;
use crate::fleet::identity::{self, ImportRules};
use crate::platform::atomic_file::{private_dir, remove_durable, write_atomic};

/// The note a refused import leaves in the state directory.
pub const REFUSAL_FILE: &str = "provisioning-refused.txt";

/// What the privileged import found and did.
#[derive(Debug, PartialEq, Eq)]
pub enum Import {
    /// The kiosk has an identity; any bundle is left alone.
    AlreadyProvisioned,
    NoBundle,
    Imported {
        device: String,
    },
    Refused {
        reason: String,
    },
}

/// Imports the bundle the config names into its state directory, for the directory's owner.
/// Only configuration and I/O errors of the state directory are errors: a refused bundle is an
/// outcome, so kioskd still starts and says so.
pub fn import_privileged(config: &Config) -> Result<Import, DaemonError> {
    let state = &config.state_dir;
    let note = state.join(REFUSAL_FILE);
    if identity::load(state)?.is_some() {
        remove_durable(&note).map_err(|source| store_error(&note, source))?;
        return Ok(Import::AlreadyProvisioned);
    }
    if !config.provisioning_bundle.exists() {
        remove_durable(&note).map_err(|source| store_error(&note, source))?;
        return Ok(Import::NoBundle);
    }
    // systemd made the state directory for the service user (StateDirectory=); the identity
    // is that user's, not root's.
    private_dir(state).map_err(|source| store_error(state, source))?;
    let meta = std::fs::metadata(state).map_err(|source| store_error(state, source))?;
    let owner = (meta.uid(), meta.gid());
    let rules = ImportRules {
        ca_sha256: config.fleet_ca_sha256,
        owner: Some(owner),
    };
    let checked = identity::import_bundle_with(&config.provisioning_bundle, state, &rules)
        .map_err(|e| e.to_string())
        .and_then(|id| {
            let device = id.device.clone();
            access::resolve(config, Some(&Provisioned::from(id)))
                .map(|_| device)
                .map_err(|e| e.to_string())
        });
    match checked {
        Ok(device) => {
            remove_durable(&note).map_err(|source| store_error(&note, source))?;
            Ok(Import::Imported { device })
        }
        Err(reason) => {
            identity::wipe_identity(state)?;
            write_atomic(&note, reason.as_bytes()).map_err(|source| store_error(&note, source))?;
            std::os::unix::fs::chown(&note, Some(owner.0), Some(owner.1))
                .map_err(|source| store_error(&note, source))?;
            Ok(Import::Refused { reason })
        }
    }
}

/// Why the privileged import refused the last bundle, if it did.
pub fn refusal(state_dir: &Path) -> Option<String> {
    std::fs::read_to_string(state_dir.join(REFUSAL_FILE)).ok()
}

fn store_error(path: &Path, source: std::io::Error) -> DaemonError {
    DaemonError::Identity(identity::IdentityError::Io {
        what: "provisioning",
        path: path.to_path_buf(),
        source,
    })
}
