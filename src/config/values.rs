//! Value checks for config keys. They run inside deserialisation, so the TOML parser attaches
//! the key's line to every refusal.

use serde::{Deserialize, Deserializer, de::Error};

use crate::call::check_ice_server;
use crate::fleet::{BrokerUrl, topics};

fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    String::deserialize(d)
}

pub fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = string(d)?;
    topics::check_id("device_id", &s).map_err(D::Error::custom)?;
    Ok(s)
}

pub fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    id(d).map(Some)
}

pub fn opt_broker<'de, D: Deserializer<'de>>(d: D) -> Result<Option<BrokerUrl>, D::Error> {
    BrokerUrl::parse(&string(d)?)
        .map(Some)
        .map_err(D::Error::custom)
}

pub fn opt_sha256<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[u8; 32]>, D::Error> {
    let s = string(d)?;
    let digits: String = s.chars().filter(|c| *c != ':').collect();
    crate::wire::from_hex(&digits)
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .map(Some)
        .ok_or_else(|| {
            D::Error::custom(format!(
                "fleet_ca_sha256 {s:?} is not a SHA-256 (64 hex digits)"
            ))
        })
}

/// systemd-timesyncd touches it once it synchronized the clock (systemd ≥ 246).
pub fn default_sync_marker() -> std::path::PathBuf {
    "/run/systemd/timesync/synchronized".into()
}

pub fn default_bundle() -> std::path::PathBuf {
    std::path::Path::new("/boot").join(crate::wire::BUNDLE_FILE_NAME)
}

pub fn root<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = string(d)?;
    topics::check_root(&s).map_err(D::Error::custom)?;
    Ok(s)
}

pub fn default_root() -> String {
    topics::DEFAULT_ROOT.into()
}

pub fn panel<'de, D: Deserializer<'de>>(d: D) -> Result<crate::ui::Panel, D::Error> {
    let s = string(d)?;
    crate::ui::Panel::parse(&s).ok_or_else(|| {
        D::Error::custom(format!(
            "screen size {s:?} must be WIDTHxHEIGHT, e.g. 800x480"
        ))
    })
}

pub fn rotation<'de, D: Deserializer<'de>>(d: D) -> Result<crate::ui::touch::Rotation, D::Error> {
    let degrees = u16::deserialize(d)?;
    crate::ui::touch::Rotation::from_degrees(degrees)
        .ok_or_else(|| D::Error::custom(format!("rotation {degrees} must be 0, 90, 180 or 270")))
}

pub fn range<'de, D: Deserializer<'de>>(d: D) -> Result<Option<(i32, i32)>, D::Error> {
    let [min, max] = <[i32; 2]>::deserialize(d)?;
    if min < max {
        Ok(Some((min, max)))
    } else {
        Err(D::Error::custom(format!(
            "range [{min}, {max}] must have min < max"
        )))
    }
}

pub fn default_panel() -> crate::ui::Panel {
    crate::ui::Panel::PI_TOUCH
}

pub fn default_display_name() -> String {
    "Sprechzimmer".into()
}

pub fn device<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = string(d)?;
    if crate::media::is_safe_device(&s) {
        Ok(Some(s))
    } else {
        Err(D::Error::custom(format!(
            "device {s:?} may only contain letters, digits and / _ . : , - @"
        )))
    }
}

pub fn ice_servers<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let list = Vec::<String>::deserialize(d)?;
    for url in &list {
        check_ice_server(url).map_err(D::Error::custom)?;
    }
    Ok(list)
}

pub fn ip_addresses<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let list = Vec::<String>::deserialize(d)?;
    for a in &list {
        a.parse::<std::net::IpAddr>()
            .map_err(|_| D::Error::custom(format!("{a:?} is not an IP address")))?;
    }
    Ok(list)
}

fn ranged<'de, D: Deserializer<'de>>(d: D, min: u64, max: u64) -> Result<u64, D::Error> {
    let v = u64::deserialize(d)?;
    if (min..=max).contains(&v) {
        Ok(v)
    } else {
        Err(D::Error::custom(format!(
            "{v} is out of range {min}..={max}"
        )))
    }
}

macro_rules! ranged_u32 {
    ($name:ident, $default:ident = $value:expr, $min:expr, $max:expr) => {
        pub fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
            ranged(d, $min, $max).map(|v| v as u32)
        }
        pub fn $default() -> u32 {
            $value
        }
    };
}

ranged_u32!(width, default_width = 640, 160, 1920);
ranged_u32!(height, default_height = 480, 120, 1080);
ranged_u32!(framerate, default_framerate = 30, 5, 60);
ranged_u32!(bitrate, default_bitrate = 1000, 100, 8000);
ranged_u32!(
    latency,
    default_latency = super::DEFAULT_JITTER_LATENCY_MS,
    20,
    200
);

pub fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    ranged(d, 1, 24 * 3600)
}

pub fn default_input_s() -> u64 {
    120
}
pub fn default_doctor_s() -> u64 {
    900
}
pub fn default_connect_s() -> u64 {
    30
}
/// Long enough for a Wi-Fi to come back or a router to restart its link; short enough that
/// nobody sits long before a frozen picture.
pub fn default_reconnect_s() -> u64 {
    45
}
pub fn default_ended_s() -> u64 {
    10
}
pub fn default_problem_s() -> u64 {
    20
}

pub(super) fn on() -> bool {
    true
}
