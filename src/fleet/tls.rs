//! The TLS side of every broker connection: one rustls client configuration, restricted to what
//! BSI TR-02102-2 recommends, with the fleet CA as the only trust anchor and, for kiosks and the
//! fleet manager, a client certificate (mutual TLS).
//!
//! This module never reads files and never logs key material; callers hand in PEM text.

use std::sync::Arc;

use rustls::crypto::{CryptoProvider, ring};
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{what}: no PEM certificate found")]
    NoCertificate { what: &'static str },
    #[error("{what}: not a PEM certificate: {reason}")]
    BadCertificate { what: &'static str, reason: String },
    #[error("{what}: not a PEM private key (PKCS#8, SEC1 or PKCS#1)")]
    BadKey { what: &'static str },
    #[error("the fleet CA certificate is not usable as a trust anchor: {0}")]
    BadAnchor(String),
    #[error("TLS setup refused: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Trust anchor and, for mutual TLS, our own certificate chain and key, all PEM.
#[derive(Clone)]
pub struct TlsMaterial {
    pub ca_pem: String,
    pub client: Option<ClientIdentity>,
}

#[derive(Clone)]
pub struct ClientIdentity {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("client_certificate", &self.client.is_some())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientIdentity { .. }")
    }
}

/// ring, cut down to TR-02102-2 (2024) recommendations: AES-GCM suites only (no ChaCha20, no
/// CBC), ECDHE over NIST P-384/P-256 only (X25519 is not among the recommended groups), TLS 1.3
/// and 1.2 (for brokers in a cluster that still speak 1.2).
pub fn provider() -> CryptoProvider {
    use rustls::CipherSuite as S;
    let base = ring::default_provider();
    let keep = [
        S::TLS13_AES_256_GCM_SHA384,
        S::TLS13_AES_128_GCM_SHA256,
        S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        S::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ];
    CryptoProvider {
        cipher_suites: base
            .cipher_suites
            .iter()
            .copied()
            .filter(|s| keep.contains(&s.suite()))
            .collect(),
        kx_groups: vec![ring::kx_group::SECP384R1, ring::kx_group::SECP256R1],
        ..base
    }
}

pub fn certificates(
    what: &'static str,
    pem: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadCertificate {
            what,
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate { what });
    }
    Ok(certs)
}

pub fn private_key(what: &'static str, pem: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|_| TlsError::BadKey { what })
}

/// The client configuration for one broker connection.
pub fn client_config(material: &TlsMaterial) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    for anchor in certificates("fleet CA certificate", &material.ca_pem)? {
        roots
            .add(anchor)
            .map_err(|e| TlsError::BadAnchor(e.to_string()))?;
    }
    let builder = ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_root_certificates(roots);
    let config = match &material.client {
        Some(id) => builder.with_client_auth_cert(
            certificates("client certificate", &id.cert_pem)?,
            private_key("client key", &id.key_pem)?,
        )?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_recommended_suites_and_groups_remain() {
        let p = provider();
        assert!(!p.cipher_suites.is_empty());
        for suite in &p.cipher_suites {
            let name = format!("{:?}", suite.suite());
            assert!(name.contains("AES_") && name.contains("GCM"), "{name}");
        }
        let groups: Vec<_> = p.kx_groups.iter().map(|g| g.name()).collect();
        assert_eq!(
            groups,
            [rustls::NamedGroup::secp384r1, rustls::NamedGroup::secp256r1]
        );
    }

    #[test]
    fn garbage_is_refused_with_what_it_was() {
        let material = TlsMaterial {
            ca_pem: "not a certificate".into(),
            client: None,
        };
        let err = client_config(&material).unwrap_err();
        assert!(err.to_string().contains("fleet CA certificate"), "{err}");
        let err = private_key("client key", "-----BEGIN NOTHING-----").unwrap_err();
        assert!(err.to_string().contains("client key"), "{err}");
    }
}
