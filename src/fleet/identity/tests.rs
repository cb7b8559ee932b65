use std::os::unix::fs::PermissionsExt;

use time::OffsetDateTime;

use super::*;
use crate::fleet::pki::FleetCa;
use crate::wire::{BUNDLE_FILE_NAME, V1, encode};

struct Fixture {
    _tmp: tempfile::TempDir,
    ca: FleetCa,
    state: PathBuf,
    bundle: PathBuf,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let ca = FleetCa::init(&tmp.path().join("ca"), "f", OffsetDateTime::now_utc()).unwrap();
    Fixture {
        state: tmp.path().join("state"),
        bundle: tmp.path().join(BUNDLE_FILE_NAME),
        ca,
        _tmp: tmp,
    }
}

impl Fixture {
    fn bundle_for(&mut self, device: &str) -> ProvisionBundle {
        let issued = self
            .ca
            .issue_device(device, "Raum 1", OffsetDateTime::now_utc())
            .unwrap();
        ProvisionBundle {
            v: V1,
            device: device.into(),
            room: "Raum 1".into(),
            broker: "mqtts://broker.example:8883".into(),
            ca_pem: self.ca.ca_pem().into(),
            cert_pem: issued.cert_pem,
            key_pem: issued.key_pem,
        }
    }

    fn write(&self, bundle: &ProvisionBundle) {
        fs::write(&self.bundle, encode(bundle)).unwrap();
    }

    /// Imports a bundle expected to be refused; returns the error text.
    fn refused(&self, bytes: &[u8]) -> String {
        fs::write(&self.bundle, bytes).unwrap();
        let err = import_bundle(&self.bundle, &self.state).unwrap_err();
        assert!(self.bundle.exists(), "a refused bundle stays where it was");
        assert_eq!(load(&self.state).unwrap(), None);
        err.to_string()
    }
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn import_stores_private_files_and_deletes_the_bundle() {
    let mut fx = fixture();
    assert_eq!(load(&fx.state).unwrap(), None);
    let bundle = fx.bundle_for("kiosk-01");
    fx.write(&bundle);
    let identity = import_bundle(&fx.bundle, &fx.state).unwrap();
    assert!(
        !fx.bundle.exists(),
        "the bundle with the private key is gone"
    );
    assert_eq!(identity.device, "kiosk-01");
    assert_eq!(identity.key_pem, bundle.key_pem);
    let dir = fx.state.join(IDENTITY_DIR);
    assert_eq!(mode(&dir), 0o700);
    for name in [IDENTITY_FILE, CA_FILE, CERT_FILE, KEY_FILE] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    assert!(!fx.state.join(STAGING_DIR).exists());
    assert_eq!(load(&fx.state).unwrap(), Some(identity.clone()));
    assert!(!format!("{identity:?}").contains("PRIVATE KEY"));
}

#[test]
fn malformed_bundles_are_refused_with_the_reason() {
    let mut fx = fixture();
    let err = fx.refused(b"{not json");
    assert!(
        err.contains(BUNDLE_FILE_NAME) && err.contains("not valid JSON"),
        "{err}"
    );
    let err = fx.refused(br#"{"v":1,"device":"kiosk-01"}"#);
    assert!(err.contains("does not fit"), "{err}");

    let good = fx.bundle_for("kiosk-01");
    let err = fx.refused(&encode(&ProvisionBundle {
        key_pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into(),
        ..good.clone()
    }));
    assert!(err.contains("field key_pem"), "{err}");
    assert!(!err.contains("AAAA"), "no key material in errors: {err}");

    let other = fx.bundle_for("kiosk-02");
    let err = fx.refused(&encode(&ProvisionBundle {
        key_pem: other.key_pem.clone(),
        ..good.clone()
    }));
    assert!(err.contains("key_pem: does not belong"), "{err}");
    assert!(!err.contains("PRIVATE KEY"), "{err}");

    let stranger = FleetCa::init(
        &fx.state.with_extension("b"),
        "b",
        OffsetDateTime::now_utc(),
    )
    .unwrap()
    .ca_pem()
    .to_string();
    let err = fx.refused(&encode(&ProvisionBundle {
        ca_pem: stranger,
        ..good.clone()
    }));
    assert!(err.contains("field cert_pem"), "{err}");

    let err = fx.refused(&encode(&ProvisionBundle {
        broker: "mqtt://broker.example:1883".into(),
        ..good
    }));
    assert!(err.contains("field broker"), "{err}");
}

#[test]
fn a_bad_device_id_is_refused() {
    let mut fx = fixture();
    let bundle = ProvisionBundle {
        device: "kiosk/01".into(),
        ..fx.bundle_for("kiosk-01")
    };
    let err = fx.refused(&encode(&bundle));
    assert!(
        err.contains("field device") && err.contains("kiosk/01"),
        "{err}"
    );
}

#[test]
fn an_existing_identity_is_never_replaced_until_wiped() {
    let mut fx = fixture();
    let first = fx.bundle_for("kiosk-01");
    fx.write(&first);
    import_bundle(&fx.bundle, &fx.state).unwrap();

    let second = fx.bundle_for("kiosk-02");
    fx.write(&second);
    let err = import_bundle(&fx.bundle, &fx.state).unwrap_err();
    assert!(matches!(err, IdentityError::AlreadyProvisioned(_)), "{err}");
    assert!(fx.bundle.exists());
    assert_eq!(load(&fx.state).unwrap().unwrap().device, "kiosk-01");

    wipe_identity(&fx.state).unwrap();
    assert_eq!(load(&fx.state).unwrap(), None);
    wipe_identity(&fx.state).unwrap();
    assert_eq!(
        import_bundle(&fx.bundle, &fx.state).unwrap().device,
        "kiosk-02"
    );
}

#[test]
fn a_bundle_whose_device_is_not_its_certificates_name_is_refused() {
    let mut fx = fixture();
    let bundle = ProvisionBundle {
        device: "kiosk-02".into(),
        ..fx.bundle_for("kiosk-01")
    };
    let err = fx.refused(&encode(&bundle));
    assert!(
        err.contains("field device") && err.contains("\"kiosk-01\""),
        "{err}"
    );
}

#[test]
fn a_pinned_ca_refuses_bundles_of_another_fleet() {
    let mut fx = fixture();
    let ours = certificates(fx.ca.ca_pem()).unwrap();
    let pin: [u8; 32] = ring::digest::digest(&ring::digest::SHA256, &ours[0])
        .as_ref()
        .try_into()
        .unwrap();
    // Another fleet's complete, consistent bundle.
    let mut other = fixture();
    let theirs = other.bundle_for("kiosk-01");
    other.write(&theirs);
    let pinned = ImportRules {
        ca_sha256: Some(pin),
        owner: None,
    };
    let err = import_bundle_with(&other.bundle, &other.state, &pinned).unwrap_err();
    assert!(err.to_string().contains("pins"), "{err}");
    assert!(other.bundle.exists());
    let ours = fx.bundle_for("kiosk-01");
    fx.write(&ours);
    import_bundle_with(&fx.bundle, &fx.state, &pinned).unwrap();
}
