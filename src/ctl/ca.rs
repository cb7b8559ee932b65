//! `kioskctl ca init FLEET | crl`: creates the fleet CA and re-issues its CRL.
//!
//! Owns nothing but the command line; the CA itself is [`crate::fleet::pki::FleetCa`].
//! It never prints or logs a key, and never replaces an existing CA.

use std::path::Path;

use anyhow::Context;
use clap::Subcommand;
use time::OffsetDateTime;

use crate::fleet::pki::{self, CRL_VALIDITY, FleetCa};

#[derive(Debug, Subcommand)]
pub enum CaCmd {
    /// Create the fleet CA, the fleet manager's client certificate and an empty CRL.
    Init {
        /// The fleet's name (the Organisation of every certificate), e.g. the practice's name.
        fleet: String,
    },
    /// Sign a new CRL (valid 365 days). Do this before the old one expires and copy crl.pem to
    /// the broker, or the broker refuses every client.
    Crl,
}

pub fn run_ca(ca_dir: &Path, cmd: CaCmd) -> anyhow::Result<()> {
    let now = OffsetDateTime::now_utc();
    match cmd {
        CaCmd::Init { fleet } => {
            let ca = FleetCa::init(ca_dir, &fleet, now)?;
            println!("fleet CA {:?} created in {}", ca.fleet(), ca_dir.display());
            println!(
                "  trust anchor for broker and kiosks: {}",
                ca_dir.join(pki::CA_CERT_FILE).display()
            );
            println!(
                "  kioskctl's client certificate:      {} (+ {})",
                ca_dir.join(pki::ADMIN_CERT_FILE).display(),
                pki::ADMIN_KEY_FILE
            );
            println!(
                "  CRL for the broker:                 {}",
                ca_dir.join(pki::CRL_FILE).display()
            );
            println!(
                "keep {} secret and backed up: whoever holds it can admit kiosks to the fleet",
                ca_dir.join(pki::CA_KEY_FILE).display()
            );
        }
        CaCmd::Crl => {
            let mut ca = FleetCa::open(ca_dir)?;
            ca.reissue_crl(now).context("re-issuing the CRL")?;
            let revoked = ca.records().iter().filter(|r| r.is_revoked()).count();
            println!(
                "{} re-issued ({revoked} revoked certificate(s) on record), valid until {}; \
                 copy it to the broker and reload the broker",
                ca_dir.join(pki::CRL_FILE).display(),
                crate::wire::rfc3339::format(now + CRL_VALIDITY)
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_then_crl_counts_up_and_a_second_init_fails() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ca");
        run_ca(&dir, CaCmd::Init { fleet: "f".into() }).unwrap();
        let before = FleetCa::open(&dir).unwrap().crl_pem().unwrap();
        run_ca(&dir, CaCmd::Crl).unwrap();
        assert_ne!(FleetCa::open(&dir).unwrap().crl_pem().unwrap(), before);
        let err = run_ca(&dir, CaCmd::Init { fleet: "f".into() }).unwrap_err();
        assert!(err.to_string().contains("already holds"), "{err}");
        let err = run_ca(&tmp.path().join("none"), CaCmd::Crl).unwrap_err();
        assert!(err.to_string().contains("ca init"), "{err}");
    }
}
