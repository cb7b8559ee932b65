//! `kioskctl enroll` and `kioskctl revoke`: a kiosk's certificate, packed into the provisioning
//! bundle for its SD card, and taking it away again.
//!
//! It never prints or logs key material and never overwrites an existing file: the bundle is
//! the only copy of the kiosk's private key.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use time::OffsetDateTime;

use crate::fleet::pki::{self, FleetCa};
use crate::wire::{self, BUNDLE_FILE_NAME, ProvisionBundle, V1};

/// What `enroll` did; its `Display` is the summary for the fleet manager (no secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollOutcome {
    pub device: String,
    pub room: String,
    /// Lower-case hex.
    pub serial: String,
    /// Serials of earlier certificates of this device, now revoked.
    pub superseded: Vec<String>,
    pub bundle: PathBuf,
}

impl fmt::Display for EnrollOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}) enrolled, certificate {}; bundle written to {} — copy it to the kiosk's \
             boot partition and delete every other copy (it holds the kiosk's private key)",
            self.device,
            self.room,
            self.serial,
            self.bundle.display()
        )?;
        if !self.superseded.is_empty() {
            write!(
                f,
                "\nrevoked the previous certificate(s) {}; copy {} to the broker",
                self.superseded.join(", "),
                pki::CRL_FILE
            )?;
        }
        Ok(())
    }
}

/// Issues `device`'s certificate and writes its provisioning bundle to `out` (mode 0600), or to
/// `out/praxiskiosk-provision.json` when `out` is a directory. Refuses to overwrite a file, and
/// checks that before issuing, so a refused enrolment revokes nothing.
pub fn enroll(
    ca_dir: &Path,
    device: &str,
    room: &str,
    broker_url: &str,
    out: &Path,
) -> anyhow::Result<EnrollOutcome> {
    let out = if out.is_dir() {
        out.join(BUNDLE_FILE_NAME)
    } else {
        out.to_path_buf()
    };
    if out.exists() {
        anyhow::bail!(
            "{0} gibt es schon, sie wird nicht überschrieben / {0} already exists; refusing to overwrite it",
            out.display()
        );
    }
    crate::fleet::BrokerUrl::parse_tls(broker_url)?;
    let mut ca = FleetCa::open(ca_dir)?;
    let issued = ca.issue_device(device, room, OffsetDateTime::now_utc())?;
    let bundle = ProvisionBundle {
        v: V1,
        device: device.into(),
        room: room.into(),
        broker: broker_url.into(),
        ca_pem: ca.ca_pem().into(),
        cert_pem: issued.cert_pem.clone(),
        key_pem: issued.key_pem.clone(),
    };
    write_new(&out, &wire::encode(&bundle))
        .with_context(|| format!("writing provisioning bundle {}", out.display()))?;
    Ok(EnrollOutcome {
        device: device.into(),
        room: room.into(),
        serial: issued.serial,
        superseded: issued.superseded,
        bundle: out,
    })
}

/// Revokes every certificate of `device` and rewrites the CRL.
pub fn revoke(ca_dir: &Path, device: &str) -> anyhow::Result<()> {
    let mut ca = FleetCa::open(ca_dir)?;
    let serials = ca.revoke(device, OffsetDateTime::now_utc())?;
    println!(
        "{device}: revoked {}; the broker refuses the certificate once it has loaded {} (copy it \
         to the broker's crlfile, then restart or reload the broker)",
        serials.join(", "),
        ca_dir.join(pki::CRL_FILE).display()
    );
    Ok(())
}

/// Creates `path` (0600) and fills it; a half-written file is removed again. Not a rename: the
/// boot partition is FAT, and rename would replace a file that appeared meanwhile.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if written.is_err() {
        let _ = std::fs::remove_file(path);
    }
    written
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::fleet::identity::import_bundle;

    #[test]
    fn enrolled_bundle_imports_and_re_enrolment_supersedes() {
        let tmp = tempfile::tempdir().unwrap();
        let ca_dir = tmp.path().join("ca");
        FleetCa::init(&ca_dir, "f", OffsetDateTime::now_utc()).unwrap();
        let broker = "mqtts://127.0.0.1:8883";

        let first = enroll(&ca_dir, "kiosk-01", "Raum 1", broker, tmp.path()).unwrap();
        assert_eq!(first.bundle, tmp.path().join(BUNDLE_FILE_NAME));
        let mode = std::fs::metadata(&first.bundle)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!first.to_string().contains("PRIVATE"));

        let err = enroll(&ca_dir, "kiosk-01", "Raum 1", broker, tmp.path()).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        assert_eq!(
            FleetCa::open(&ca_dir).unwrap().devices().count(),
            1,
            "a refused enrolment issues and revokes nothing"
        );

        let identity = import_bundle(&first.bundle, &tmp.path().join("state")).unwrap();
        assert_eq!(
            (identity.device.as_str(), identity.broker.as_str()),
            ("kiosk-01", broker)
        );

        let second = enroll(&ca_dir, "kiosk-01", "Raum 2", broker, tmp.path()).unwrap();
        assert_eq!(second.superseded, vec![first.serial]);
        revoke(&ca_dir, "kiosk-01").unwrap();
        assert!(
            revoke(&ca_dir, "kiosk-01").is_err(),
            "nothing left to revoke"
        );
        assert!(
            enroll(
                &ca_dir,
                "kiosk-03",
                "Raum 3",
                "mqtt://x:1883",
                &tmp.path().join("b")
            )
            .is_err()
        );
    }
}
