//! The provisioning bundle: one JSON file that kioskctl writes for a new kiosk and the fleet
//! manager copies onto the SD card's boot partition. kioskd imports it once into its state
//! directory and deletes it, because it carries the kiosk's private key.
//!
//! This module only describes the file; it never reads or writes one, and its `Debug` output
//! never shows the private key.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::V1;

/// The name kioskctl gives the bundle and kioskd looks for on the boot partition.
pub const BUNDLE_FILE_NAME: &str = "praxiskiosk-provision.json";

/// Everything a kiosk needs to join its fleet over mutual TLS.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionBundle {
    pub v: V1,
    /// The device id: the certificate's CN, the MQTT user name and the topic level.
    pub device: String,
    /// The room the kiosk stands in, as the fleet manager named it.
    pub room: String,
    /// The broker, e.g. `mqtts://broker.example:8883`.
    pub broker: String,
    /// The fleet CA certificate (PEM): the only trust anchor for the broker's certificate.
    pub ca_pem: String,
    /// The kiosk's client certificate (PEM), signed by the fleet CA.
    pub cert_pem: String,
    /// The kiosk's private key (PKCS#8 PEM).
    pub key_pem: String,
}

impl fmt::Debug for ProvisionBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProvisionBundle")
            .field("device", &self.device)
            .field("room", &self.room)
            .field("broker", &self.broker)
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{WireError, decode, encode};

    fn bundle() -> ProvisionBundle {
        ProvisionBundle {
            v: V1,
            device: "kiosk-01".into(),
            room: "Wartezimmer 1".into(),
            broker: "mqtts://broker.example:8883".into(),
            ca_pem: "CA".into(),
            cert_pem: "CERT".into(),
            key_pem: "SECRET-KEY".into(),
        }
    }

    #[test]
    fn round_trips_with_version_and_ignores_new_fields() {
        let json: serde_json::Value = serde_json::from_slice(&encode(&bundle())).unwrap();
        assert_eq!(json["v"], 1);
        assert_eq!(json["key_pem"], "SECRET-KEY");
        let mut json = json;
        json["future"] = true.into();
        let back: ProvisionBundle = decode(&serde_json::to_vec(&json).unwrap()).unwrap();
        assert_eq!(back, bundle());
        json["v"] = 2.into();
        assert!(matches!(
            decode::<ProvisionBundle>(&serde_json::to_vec(&json).unwrap()),
            Err(WireError::WrongVersion(_))
        ));
    }

    #[test]
    fn debug_output_hides_the_private_key() {
        let shown = format!("{:?}", bundle());
        assert!(shown.contains("kiosk-01"), "{shown}");
        assert!(!shown.contains("SECRET-KEY"), "{shown}");
    }
}
