//! Which device this is and how it reaches its fleet: from the identity imported from the
//! provisioning bundle (mutual TLS), or — for development only, and only when the config says so
//! — from the config file, with plain MQTT to a loopback broker.

use crate::config::Config;
use crate::fleet::broker::{BrokerUrl, Endpoint, EndpointError};
use crate::fleet::tls::{ClientIdentity, TlsMaterial};

/// The device's provisioned identity, as far as the connection needs it.
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub device: String,
    pub room: String,
    pub broker: String,
    pub tls: TlsMaterial,
}

impl From<crate::fleet::identity::Identity> for Provisioned {
    fn from(id: crate::fleet::identity::Identity) -> Self {
        Self {
            tls: TlsMaterial {
                ca_pem: id.ca_pem,
                client: Some(ClientIdentity {
                    cert_pem: id.cert_pem,
                    key_pem: id.key_pem,
                }),
            },
            device: id.device,
            room: id.room,
            broker: id.broker,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FleetAccess {
    pub device: String,
    pub endpoint: Endpoint,
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("config: device_id {config:?} differs from the provisioned identity {identity:?}")]
    DeviceMismatch { config: String, identity: String },
    #[error("provisioned broker URL: {0}")]
    BrokerUrl(#[from] crate::fleet::broker::BrokerUrlError),
    #[error("config: {0}")]
    Endpoint(#[from] EndpointError),
    #[error(
        "config: broker {0} is plain MQTT but no device identity is provisioned; plain MQTT needs plaintext_loopback = true and device_id (development only)"
    )]
    PlaintextWithoutDevelopment(String),
}

/// `Ok(None)`: not provisioned; the kiosk waits for a bundle.
pub fn resolve(
    config: &Config,
    identity: Option<&Provisioned>,
) -> Result<Option<FleetAccess>, AccessError> {
    match identity {
        Some(id) => {
            if let Some(configured) = &config.device_id
                && configured != &id.device
            {
                return Err(AccessError::DeviceMismatch {
                    config: configured.clone(),
                    identity: id.device.clone(),
                });
            }
            let url = match &config.broker {
                Some(url) => url.clone(),
                None => BrokerUrl::parse(&id.broker)?,
            };
            let endpoint = Endpoint::new(url, Some(id.tls.clone()), config.plaintext_loopback)?;
            Ok(Some(FleetAccess {
                device: id.device.clone(),
                endpoint,
            }))
        }
        None => match (&config.broker, &config.device_id) {
            (Some(url), Some(device)) if url.scheme == crate::fleet::broker::Scheme::Mqtt => {
                if !config.plaintext_loopback {
                    return Err(AccessError::PlaintextWithoutDevelopment(url.to_string()));
                }
                Ok(Some(FleetAccess {
                    device: device.clone(),
                    endpoint: Endpoint::new(url.clone(), None, true)?,
                }))
            }
            _ => Ok(None),
        },
    }
}
