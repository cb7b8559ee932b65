//! Where the broker is and how to reach it: `mqtts://host:port` (mutual TLS, the normal case) or
//! `mqtt://host:port`, plain MQTT, which is allowed only to a loopback broker and only where the
//! caller's config says so explicitly. [`Endpoint::mqtt_options`] is the one place that turns
//! this into rumqttc options, for kioskd's link and kioskctl's short sessions alike.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use rumqttc::{MqttOptions, TlsConfiguration, Transport};

use super::tls::{self, TlsError, TlsMaterial};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain MQTT, loopback only.
    Mqtt,
    /// MQTT over TLS.
    Mqtts,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BrokerUrlError {
    #[error("broker URL {0:?} must look like mqtts://host:port (or mqtt://127.0.0.1:port)")]
    Malformed(String),
    #[error(
        "broker URL {0:?}: plain MQTT is only allowed to a loopback address (127.0.0.0/8, ::1, localhost); use mqtts://"
    )]
    PlaintextOffLoopback(String),
    #[error("broker URL {0:?}: a fleet certificate is for mutual TLS, so it must be mqtts://")]
    NotTls(String),
}

impl BrokerUrl {
    pub fn parse(url: &str) -> Result<Self, BrokerUrlError> {
        let malformed = || BrokerUrlError::Malformed(url.into());
        let (scheme, rest, default_port) = if let Some(rest) = url.strip_prefix("mqtts://") {
            (Scheme::Mqtts, rest, 8883)
        } else if let Some(rest) = url.strip_prefix("mqtt://") {
            (Scheme::Mqtt, rest, 1883)
        } else {
            return Err(malformed());
        };
        // IPv6 addresses come in brackets: mqtt://[::1]:1883.
        let (host, port) = match rest.strip_prefix('[') {
            Some(bracketed) => {
                let (host, after) = bracketed.split_once(']').ok_or_else(malformed)?;
                match after.strip_prefix(':') {
                    Some(port) => (host, port.parse::<u16>().map_err(|_| malformed())?),
                    None if after.is_empty() => (host, default_port),
                    None => return Err(malformed()),
                }
            }
            None => match rest.split_once(':') {
                Some((host, port)) => (host, port.parse::<u16>().map_err(|_| malformed())?),
                None => (rest, default_port),
            },
        };
        if host.is_empty() || host.contains(['/', '@', ' ', '[', ']']) || port == 0 {
            return Err(malformed());
        }
        let url = Self {
            scheme,
            host: host.into(),
            port,
        };
        if scheme == Scheme::Mqtt && !url.is_loopback() {
            return Err(BrokerUrlError::PlaintextOffLoopback(url.to_string()));
        }
        Ok(url)
    }

    /// A broker URL that must be TLS: where a certificate is used to log in (bundles).
    pub fn parse_tls(url: &str) -> Result<Self, BrokerUrlError> {
        match Self::parse(url)? {
            tls @ Self {
                scheme: Scheme::Mqtts,
                ..
            } => Ok(tls),
            _ => Err(BrokerUrlError::NotTls(url.into())),
        }
    }

    pub fn is_loopback(&self) -> bool {
        self.host == "localhost" || self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Mqtt => "mqtt",
            Scheme::Mqtts => "mqtts",
        };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// A username and password, for doctors' per-session credentials. Devices and the fleet manager
/// log in with their certificate instead.
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A broker and everything needed to reach it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: BrokerUrl,
    tls: Option<TlsMaterial>,
    pub login: Option<Login>,
}

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("broker {0} is plain MQTT; use mqtts:// with the fleet's certificates")]
    PlaintextRefused(String),
    #[error(
        "Broker {0}: unverschlüsseltes MQTT nur ausdrücklich / broker {0}: plain MQTT must be allowed explicitly (kioskd: plaintext_loopback = true; kioskctl: --plaintext-loopback)"
    )]
    PlaintextNotAllowed(String),
    #[error("broker {0} needs TLS but no fleet CA certificate was given")]
    NoTrustAnchor(String),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

impl Endpoint {
    /// Chooses TLS or plaintext from the URL's scheme. Plain MQTT needs `plaintext_allowed` (an
    /// explicit setting) on top of the loopback address that [`BrokerUrl::parse`] already checked.
    pub fn new(
        url: BrokerUrl,
        tls: Option<TlsMaterial>,
        plaintext_allowed: bool,
    ) -> Result<Self, EndpointError> {
        match url.scheme {
            Scheme::Mqtt if !plaintext_allowed => {
                Err(EndpointError::PlaintextNotAllowed(url.to_string()))
            }
            Scheme::Mqtt => Ok(Self {
                url,
                tls: None,
                login: None,
            }),
            Scheme::Mqtts => match tls {
                // Build once now, so a bad certificate is reported at start, not at connect.
                Some(material) => {
                    tls::client_config(&material)?;
                    Ok(Self {
                        url,
                        tls: Some(material),
                        login: None,
                    })
                }
                None => Err(EndpointError::NoTrustAnchor(url.to_string())),
            },
        }
    }

    pub fn with_login(mut self, login: Login) -> Self {
        self.login = Some(login);
        self
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The fleet CA and client identity of a TLS endpoint.
    pub fn tls(&self) -> Option<&super::tls::TlsMaterial> {
        self.tls.as_ref()
    }

    /// rumqttc options for one client: transport, login, keep-alive and packet limits.
    pub fn mqtt_options(
        &self,
        client_id: &str,
        keep_alive: Duration,
        max_packet: usize,
    ) -> Result<MqttOptions, TlsError> {
        let mut opts = MqttOptions::new(client_id, self.url.host.clone(), self.url.port);
        opts.set_keep_alive(keep_alive);
        opts.set_max_packet_size(max_packet, max_packet);
        if let Some(material) = &self.tls {
            opts.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                tls::client_config(material)?,
            )));
        }
        if let Some(login) = &self.login {
            opts.set_credentials(login.username.clone(), login.password.clone());
        }
        Ok(opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_anywhere_plaintext_on_loopback_only() {
        let url = BrokerUrl::parse("mqtt://127.0.0.1:1884").unwrap();
        assert_eq!((url.scheme, url.port), (Scheme::Mqtt, 1884));
        assert_eq!(BrokerUrl::parse("mqtt://[::1]:1883").unwrap().host, "::1");
        assert_eq!(BrokerUrl::parse("mqtt://localhost").unwrap().port, 1883);
        let tls = BrokerUrl::parse("mqtts://broker.example").unwrap();
        assert_eq!((tls.scheme, tls.port), (Scheme::Mqtts, 8883));
        assert_eq!(tls.to_string(), "mqtts://broker.example:8883");
        assert!(matches!(
            BrokerUrl::parse("mqtt://10.0.0.5:1883"),
            Err(BrokerUrlError::PlaintextOffLoopback(_))
        ));
        assert!(BrokerUrl::parse_tls("mqtts://broker.example").is_ok());
        assert!(matches!(
            BrokerUrl::parse_tls("mqtt://127.0.0.1"),
            Err(BrokerUrlError::NotTls(_))
        ));
        for bad in [
            "http://127.0.0.1",
            "mqtt://127.0.0.1:x",
            "mqtts://",
            "mqtts://a/b:1",
        ] {
            assert!(
                matches!(BrokerUrl::parse(bad), Err(BrokerUrlError::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn plaintext_needs_an_explicit_yes_and_tls_a_trust_anchor() {
        let plain = BrokerUrl::parse("mqtt://127.0.0.1:1883").unwrap();
        assert!(matches!(
            Endpoint::new(plain.clone(), None, false),
            Err(EndpointError::PlaintextNotAllowed(_))
        ));
        assert!(!Endpoint::new(plain, None, true).unwrap().is_tls());
        let tls = BrokerUrl::parse("mqtts://127.0.0.1:8883").unwrap();
        assert!(matches!(
            Endpoint::new(tls, None, true),
            Err(EndpointError::NoTrustAnchor(_))
        ));
    }
}
