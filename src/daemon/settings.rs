//! What the kiosk goes by: its config file, the room it was enrolled for, and the fleet's device
//! config over both. The effective values (room, language, ICE servers, staff PIN) are computed
//! here, once, whenever one of the sources changes, so every part of kioskd reads the same.
//! This module owns the stored copy of the device config (`device-config.json`, kept so a kiosk
//! that starts without its broker still has its room and language).

use std::path::PathBuf;

use crate::call::{IceSpec, ice_spec};
use crate::config::Config;
use crate::platform::atomic_file::{remove_durable, write_atomic};
use crate::ui::Locale;
use crate::wire::{self, DeviceConfig};

const DEVICE_CONFIG_FILE: &str = "device-config.json";

/// The settings as they apply now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Effective {
    /// The room's name, shown on every screen.
    pub room: String,
    /// The screens' default language.
    pub locale: Locale,
    pub ice: IceSpec,
    /// The staff PIN's hash; without it the staff check cannot be opened.
    pub staff_pin_hash: Option<String>,
}

#[derive(Debug)]
pub(super) struct Settings {
    config: Config,
    /// The room named at enrolment (the provisioning bundle).
    enrolled_room: Option<String>,
    device: Option<DeviceConfig>,
    effective: Effective,
}

impl Settings {
    /// The config file, and the device config stored by an earlier run (ignored, with a warning,
    /// if it does not parse).
    pub fn load(config: Config, enrolled_room: Option<String>) -> Self {
        let stored = std::fs::read(config.state_dir.join(DEVICE_CONFIG_FILE))
            .ok()
            .and_then(|bytes| {
                wire::decode(&bytes)
                    .inspect_err(|e| tracing::warn!(reason = %e, "stored device config ignored"))
                    .ok()
            });
        Self::new(config, enrolled_room, stored)
    }

    fn new(config: Config, enrolled_room: Option<String>, device: Option<DeviceConfig>) -> Self {
        let effective = effective(&config, enrolled_room.as_deref(), device.as_ref());
        Self {
            config,
            enrolled_room,
            device,
            effective,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn now(&self) -> &Effective {
        &self.effective
    }

    /// A provisioning bundle was imported: its room stands until the fleet names another.
    pub fn enrolled(&mut self, room: String) {
        self.enrolled_room = Some(room);
        self.recompute();
    }

    /// The fleet's device config arrived: it applies at once and is stored for the next start.
    /// The returned error says only that it could not be stored.
    pub fn apply_device_config(&mut self, device: DeviceConfig) -> std::io::Result<()> {
        let stored = write_atomic(&self.device_config_file(), &wire::encode(&device));
        self.device = Some(device);
        self.recompute();
        stored
    }

    /// The factory reset: the device config and the enrolled room are forgotten, here and on disk.
    pub fn forget_fleet(&mut self) -> std::io::Result<()> {
        self.device = None;
        self.enrolled_room = None;
        self.recompute();
        remove_durable(&self.device_config_file())
    }

    fn device_config_file(&self) -> PathBuf {
        self.config.state_dir.join(DEVICE_CONFIG_FILE)
    }

    fn recompute(&mut self) {
        self.effective = effective(
            &self.config,
            self.enrolled_room.as_deref(),
            self.device.as_ref(),
        );
    }
}

/// The fleet's device config over the enrolment over the config file. A device config replaces
/// the file's ICE servers as a whole (an empty list means: none); which local addresses ICE may
/// use stays the file's, since only the device knows its interfaces.
fn effective(
    config: &Config,
    enrolled_room: Option<&str>,
    device: Option<&DeviceConfig>,
) -> Effective {
    let room = device
        .and_then(|d| d.display_name.clone())
        .or_else(|| enrolled_room.map(String::from))
        .unwrap_or_else(|| config.display_name.clone());
    let locale = device
        .and_then(|d| d.locale.as_deref())
        .and_then(Locale::parse)
        .unwrap_or(config.locale);
    let (servers, allow_relay) = match device {
        Some(d) => (d.ice_servers.as_slice(), d.allow_relay),
        None => (config.ice.servers.as_slice(), config.ice.allow_relay),
    };
    Effective {
        room,
        locale,
        ice: ice_spec(servers, allow_relay, &config.ice.local_addresses),
        staff_pin_hash: device.and_then(|d| d.staff_pin_hash.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::V1;

    fn config(dir: &std::path::Path) -> Config {
        Config::parse(&format!(
            r#"
state_dir = "{}"
display_name = "Raum 1"
locale = "en"
[ice]
servers = ["stun:stun.example:3478"]
local_addresses = ["127.0.0.1"]
[media]
video_source = "videotestsrc"
audio_source = "audiotestsrc"
video_sink = "fakesink"
audio_sink = "fakesink"
"#,
            dir.display()
        ))
        .unwrap()
    }

    fn device_config() -> DeviceConfig {
        DeviceConfig {
            v: V1,
            display_name: Some("Sprechzimmer 2".into()),
            locale: Some("de".into()),
            ice_servers: vec![],
            allow_relay: false,
            staff_pin_hash: Some("$argon2id$pin".into()),
        }
    }

    #[test]
    fn the_fleet_overrides_the_enrolment_which_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::load(config(dir.path()), None);
        let now = settings.now().clone();
        assert_eq!((now.room.as_str(), now.locale), ("Raum 1", Locale::En));
        assert_eq!(now.ice.stun.as_deref(), Some("stun://stun.example:3478"));
        assert_eq!(now.ice.local_addresses, ["127.0.0.1"]);
        assert_eq!(now.staff_pin_hash, None);

        settings.enrolled("Empfang".into());
        assert_eq!(settings.now().room, "Empfang");

        settings.apply_device_config(device_config()).unwrap();
        let now = settings.now();
        assert_eq!(
            (now.room.as_str(), now.locale),
            ("Sprechzimmer 2", Locale::De)
        );
        assert_eq!(
            now.ice.stun, None,
            "the fleet's empty list replaces the file's"
        );
        assert_eq!(now.ice.local_addresses, ["127.0.0.1"], "the device's own");
        assert_eq!(now.staff_pin_hash.as_deref(), Some("$argon2id$pin"));
    }

    #[test]
    fn the_device_config_is_kept_for_the_next_start_and_forgotten_at_a_reset() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::load(config(dir.path()), None);
        settings.apply_device_config(device_config()).unwrap();
        let again = Settings::load(config(dir.path()), None);
        assert_eq!(again.now().room, "Sprechzimmer 2");

        settings.forget_fleet().unwrap();
        assert_eq!(settings.now().room, "Raum 1");
        assert!(!dir.path().join(DEVICE_CONFIG_FILE).exists());
        std::fs::write(dir.path().join(DEVICE_CONFIG_FILE), b"{broken").unwrap();
        assert_eq!(
            Settings::load(config(dir.path()), None).now().room,
            "Raum 1",
            "a broken copy is ignored"
        );
    }
}
