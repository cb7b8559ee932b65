//! The certificate profiles of the fleet: what the CA, a kiosk, the fleet manager and the broker
//! certificates contain. ECDSA P-256 with SHA-256 throughout (BSI TR-02102-1).
//! Pure construction of parameters: no files, no clock.

use std::net::IpAddr;

use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyIdMethod, KeyUsagePurpose, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};

pub const CA_COMMON_NAME: &str = "praxiskiosk fleet CA";
/// The CN of the fleet manager's client certificate, and so its MQTT user name.
pub const ADMIN_ID: &str = "fleet-admin";

pub const CA_VALIDITY: Duration = Duration::days(10 * 365 + 2);
pub const DEVICE_VALIDITY: Duration = Duration::days(5 * 365 + 1);
pub const ADMIN_VALIDITY: Duration = Duration::days(5 * 365 + 1);
pub const SERVER_VALIDITY: Duration = Duration::days(2 * 365);
pub const CRL_VALIDITY: Duration = Duration::days(365);

/// Certificates start to be valid a little before they are made: the kiosk's clock and the
/// fleet manager's laptop need not agree to the second.
const BACKDATE: Duration = Duration::hours(1);

/// The CA's own parameters. Signing later rebuilds exactly these (subject, key usages, key
/// identifier method) so that issued certificates name the same issuer as `ca.pem`.
pub fn ca(fleet: &str, now: OffsetDateTime) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = ca_subject(fleet);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.key_identifier_method = KeyIdMethod::Sha256;
    params.not_before = now - BACKDATE;
    params.not_after = now + CA_VALIDITY;
    params.serial_number = Some(random_serial());
    params
}

fn ca_subject(fleet: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_COMMON_NAME);
    dn.push(DnType::OrganizationName, fleet);
    dn
}

/// A client certificate whose CN is the MQTT user name (Mosquitto `use_identity_as_username`).
pub fn client(fleet: &str, cn: &str, validity: Duration, now: OffsetDateTime) -> CertificateParams {
    let mut params = end_entity(fleet, cn, validity, now);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params
}

/// The broker's certificate: an IP SAN for hosts that parse as addresses, a DNS SAN otherwise.
pub fn server(
    fleet: &str,
    hosts: &[String],
    now: OffsetDateTime,
) -> Result<CertificateParams, String> {
    let first = hosts.first().ok_or("no host name given")?;
    let mut params = end_entity(fleet, first, SERVER_VALIDITY, now);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.subject_alt_names = hosts
        .iter()
        .map(|host| match host.parse::<IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) if is_dns_name(host) => Ok(SanType::DnsName(
                host.as_str().try_into().map_err(|_| host.clone())?,
            )),
            Err(_) => Err(host.clone()),
        })
        .collect::<Result<_, _>>()?;
    Ok(params)
}

fn end_entity(fleet: &str, cn: &str, validity: Duration, now: OffsetDateTime) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn.push(DnType::OrganizationName, fleet);
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    // ECDSA keys only sign; key encipherment would be meaningless.
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    params.key_identifier_method = KeyIdMethod::Sha256;
    params.not_before = now - BACKDATE;
    params.not_after = now + validity;
    params.serial_number = Some(random_serial());
    params
}

/// 16 random bytes from the OS, made positive and without a leading zero byte, so that the DER
/// integer has exactly these bytes and the hex in the registry matches the CRL entry.
fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes[0] = (bytes[0] & 0x7f).max(1);
    SerialNumber::from_slice(&bytes)
}

/// Letters, digits, `-` and `.`, labels of 1–63 characters: what a broker's name can be.
fn is_dns_name(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_sixteen_positive_bytes() {
        for _ in 0..64 {
            let serial = random_serial().to_bytes();
            assert_eq!(serial.len(), 16);
            assert!(serial[0] != 0 && serial[0] < 0x80, "{serial:?}");
        }
    }

    #[test]
    fn server_hosts_become_ip_or_dns_names_or_are_refused() {
        let now = OffsetDateTime::now_utc();
        let params = server("f", &["127.0.0.1".into(), "broker.example".into()], now).unwrap();
        assert!(matches!(params.subject_alt_names[0], SanType::IpAddress(_)));
        assert!(matches!(params.subject_alt_names[1], SanType::DnsName(_)));
        assert_eq!(server("f", &[], now).unwrap_err(), "no host name given");
        assert_eq!(
            server("f", &["bad host".into()], now).unwrap_err(),
            "bad host"
        );
    }
}
