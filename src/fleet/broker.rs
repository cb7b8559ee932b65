//! Where the broker is: `mqtt://host:port`. This build speaks plain MQTT, which is allowed only
//! to a loopback broker; mutual TLS (`mqtts://`) arrives with fleet provisioning.

use std::fmt;
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub host: String,
    pub port: u16,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BrokerUrlError {
    #[error("broker URL {0:?} must look like mqtt://host:port")]
    Malformed(String),
    #[error("broker URL {0:?}: mqtts:// (mutual TLS) is not supported by this build yet")]
    TlsNotYet(String),
    #[error(
        "broker URL {0:?}: plain MQTT is only allowed to a loopback address (127.0.0.0/8, ::1, localhost)"
    )]
    PlaintextOffLoopback(String),
}

impl BrokerUrl {
    pub fn parse(url: &str) -> Result<Self, BrokerUrlError> {
        let malformed = || BrokerUrlError::Malformed(url.into());
        if url.starts_with("mqtts://") {
            return Err(BrokerUrlError::TlsNotYet(url.into()));
        }
        let rest = url.strip_prefix("mqtt://").ok_or_else(malformed)?;
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => (host, port.parse::<u16>().map_err(|_| malformed())?),
            None => (rest, 1883),
        };
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() || host.contains(['/', '@', ' ']) || port == 0 {
            return Err(malformed());
        }
        let loopback =
            host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            return Err(BrokerUrlError::PlaintextOffLoopback(url.into()));
        }
        Ok(Self {
            host: host.into(),
            port,
        })
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "mqtt://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "mqtt://{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_plaintext_only() {
        assert_eq!(
            BrokerUrl::parse("mqtt://127.0.0.1:1884").unwrap().port,
            1884
        );
        assert_eq!(BrokerUrl::parse("mqtt://[::1]:1883").unwrap().host, "::1");
        assert_eq!(BrokerUrl::parse("mqtt://localhost").unwrap().port, 1883);
        assert!(matches!(
            BrokerUrl::parse("mqtt://10.0.0.5:1883"),
            Err(BrokerUrlError::PlaintextOffLoopback(_))
        ));
        assert!(matches!(
            BrokerUrl::parse("mqtts://broker:8883"),
            Err(BrokerUrlError::TlsNotYet(_))
        ));
        assert!(matches!(
            BrokerUrl::parse("http://127.0.0.1"),
            Err(BrokerUrlError::Malformed(_))
        ));
        assert!(matches!(
            BrokerUrl::parse("mqtt://127.0.0.1:x"),
            Err(BrokerUrlError::Malformed(_))
        ));
    }
}
