use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, ServerName, UnixTime};

use super::*;

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn der(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).expect("one certificate in PEM")
}

fn roots(ca: &FleetCa) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots.add(der(ca.ca_pem())).unwrap();
    Arc::new(roots)
}

/// The broker's view: does a client presenting `cert_pem` get in?
fn client_accepted(ca: &FleetCa, cert_pem: &str, with_crl: bool) -> Result<(), rustls::Error> {
    let mut builder = WebPkiClientVerifier::builder_with_provider(
        roots(ca),
        Arc::new(rustls::crypto::ring::default_provider()),
    );
    if with_crl {
        let crl =
            CertificateRevocationListDer::from_pem_slice(ca.crl_pem().unwrap().as_bytes()).unwrap();
        builder = builder.with_crls([crl]);
    }
    let verifier = builder.build().unwrap();
    verifier
        .verify_client_cert(&der(cert_pem), &[], UnixTime::now())
        .map(|_| ())
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_writes_a_private_ca_that_opens_again() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    let ca = FleetCa::init(&dir, "Praxis Dr. Muster", now()).unwrap();
    assert_eq!(mode(&dir), 0o700);
    for name in [
        CA_CERT_FILE,
        CA_KEY_FILE,
        ADMIN_CERT_FILE,
        ADMIN_KEY_FILE,
        CRL_FILE,
        REGISTRY_FILE,
    ] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    let opened = FleetCa::open(&dir).unwrap();
    assert_eq!(opened.fleet(), "Praxis Dr. Muster");
    assert_eq!(opened.ca_pem(), ca.ca_pem());
    assert_eq!(opened.registry.crl_number, 1);
    let admin = &opened.records()[0];
    assert_eq!((admin.id.as_str(), admin.kind), (ADMIN_ID, CertKind::Admin));
    let (cert, key) = opened.admin_identity().unwrap();
    assert!(key.contains("PRIVATE KEY"));
    client_accepted(&opened, &cert, true).expect("the admin certificate is a valid client");
    assert!(!format!("{opened:?}").contains("PRIVATE"));
}

#[test]
fn init_refuses_an_existing_ca_and_open_refuses_an_empty_dir() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(matches!(
        FleetCa::open(tmp.path()),
        Err(PkiError::NotInitialised(_))
    ));
    FleetCa::init(tmp.path(), "f", now()).unwrap();
    let key_before = fs::read(tmp.path().join(CA_KEY_FILE)).unwrap();
    let err = FleetCa::init(tmp.path(), "f", now()).unwrap_err();
    assert!(matches!(err, PkiError::AlreadyInitialised(_)), "{err}");
    assert_eq!(fs::read(tmp.path().join(CA_KEY_FILE)).unwrap(), key_before);
}

#[test]
fn device_certificates_verify_against_their_ca_only() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ca = FleetCa::init(&tmp.path().join("a"), "a", now()).unwrap();
    // Signing after `open` exercises the rebuilt issuer, as kioskctl always does.
    let mut ca_reopened = FleetCa::open(ca.dir()).unwrap();
    let device = ca_reopened
        .issue_device("kiosk-01", "Raum 1", now())
        .unwrap();
    assert_eq!(device.serial.len(), 32);
    client_accepted(&ca, &device.cert_pem, true).expect("device certificate is accepted");

    let mut other = FleetCa::init(&tmp.path().join("b"), "b", now()).unwrap();
    let stranger = other.issue_device("kiosk-01", "Raum 1", now()).unwrap();
    assert!(client_accepted(&ca, &stranger.cert_pem, false).is_err());

    assert!(matches!(
        ca.issue_device("a/b", "Raum 1", now()),
        Err(PkiError::InvalidId(_))
    ));
    assert!(matches!(
        ca.issue_device(ADMIN_ID, "Raum 1", now()),
        Err(PkiError::ReservedId(_))
    ));
    assert!(matches!(
        ca.issue_device("kiosk-02", " ", now()),
        Err(PkiError::InvalidRoom(_))
    ));
}

#[test]
fn revoked_devices_are_refused_by_the_new_crl_others_still_pass() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ca = FleetCa::init(tmp.path(), "f", now()).unwrap();
    let gone = ca.issue_device("kiosk-01", "Raum 1", now()).unwrap();
    let stays = ca.issue_device("kiosk-02", "Raum 2", now()).unwrap();
    assert_eq!(
        ca.revoke("kiosk-01", now()).unwrap(),
        vec![gone.serial.clone()]
    );

    let err = client_accepted(&ca, &gone.cert_pem, true).unwrap_err();
    assert!(
        matches!(
            err,
            rustls::Error::InvalidCertificate(rustls::CertificateError::Revoked)
        ),
        "{err:?}"
    );
    client_accepted(&ca, &stays.cert_pem, true).expect("kiosk-02 is not revoked");

    let reopened = FleetCa::open(tmp.path()).unwrap();
    assert_eq!(reopened.registry.crl_number, 2);
    let record = reopened
        .devices()
        .find(|r| r.serial == gone.serial)
        .unwrap();
    assert!(record.is_revoked());
    assert_eq!(record.room.as_deref(), Some("Raum 1"));
    assert!(matches!(
        ca.revoke("kiosk-01", now()),
        Err(PkiError::NothingToRevoke(_))
    ));
}

#[test]
fn re_enrolment_supersedes_the_old_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ca = FleetCa::init(tmp.path(), "f", now()).unwrap();
    let old = ca.issue_device("kiosk-01", "Raum 1", now()).unwrap();
    let new = ca.issue_device("kiosk-01", "Raum 3", now()).unwrap();
    assert_eq!(new.superseded, vec![old.serial.clone()]);
    assert!(client_accepted(&ca, &old.cert_pem, true).is_err());
    client_accepted(&ca, &new.cert_pem, true).expect("the new certificate is valid");
    let reasons: Vec<_> = FleetCa::open(tmp.path())
        .unwrap()
        .devices()
        .map(|r| r.revocation_reason)
        .collect();
    assert_eq!(reasons, [Some(RevocationReason::Superseded), None]);
}

#[test]
fn reissued_crl_keeps_revocations_and_counts_up() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ca = FleetCa::init(tmp.path(), "f", now()).unwrap();
    let gone = ca.issue_device("kiosk-01", "Raum 1", now()).unwrap();
    ca.revoke("kiosk-01", now()).unwrap();
    let before = ca.crl_pem().unwrap();
    ca.reissue_crl(now() + time::Duration::seconds(1)).unwrap();
    assert_ne!(ca.crl_pem().unwrap(), before);
    assert_eq!(FleetCa::open(tmp.path()).unwrap().registry.crl_number, 3);
    assert!(client_accepted(&ca, &gone.cert_pem, true).is_err());
}

#[test]
fn server_certificate_names_its_ip_address() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ca = FleetCa::init(tmp.path(), "f", now()).unwrap();
    let server = ca
        .issue_server(&["127.0.0.1".into(), "broker.example".into()], now())
        .unwrap();
    let verifier = WebPkiServerVerifier::builder_with_provider(
        roots(&ca),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .unwrap();
    let verify = |name: &str| {
        verifier.verify_server_cert(
            &der(&server.cert_pem),
            &[],
            &ServerName::try_from(name.to_string()).unwrap(),
            &[],
            UnixTime::now(),
        )
    };
    verify("127.0.0.1").expect("IP SAN matches");
    verify("broker.example").expect("DNS SAN matches");
    assert!(verify("10.0.0.1").is_err());
    // A server certificate is no client certificate (EKU serverAuth only).
    assert!(client_accepted(&ca, &server.cert_pem, false).is_err());
    assert!(matches!(
        ca.issue_server(&["not a host".into()], now()),
        Err(PkiError::InvalidHost(_))
    ));
}
