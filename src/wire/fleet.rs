//! Payloads between the fleet and a kiosk: device config, appointments, state, commands. Events
//! have a file of their own (`event.rs`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::V1;
use super::event::ProblemCode;

/// `{root}/devices/{device}/config`, retained, fleet → kiosk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceConfig {
    pub v: V1,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default)]
    pub ice_servers: Vec<String>,
    #[serde(default)]
    pub allow_relay: bool,
    /// Argon2id PHC string of the 6-digit staff PIN that opens the staff check (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff_pin_hash: Option<String>,
}

/// `{root}/devices/{device}/appointments/{appointment}`, retained, fleet → kiosk.
/// An empty payload on the same topic revokes the appointment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppointmentMsg {
    pub v: V1,
    pub id: String,
    pub session: String,
    /// Argon2id PHC string of the 8-digit code; the code itself never travels.
    pub code_hash: String,
    #[serde(with = "super::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "super::rfc3339")]
    pub not_after: OffsetDateTime,
    pub doctor_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_name: Option<String>,
    /// Only in the form the kiosk keeps in its state directory: the session key it opened from
    /// a signed appointment (v2). Never on the broker in clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<super::SessionKey>,
}

/// The kiosk's flow state as published. `Unknown` stands for names added by a later version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KioskState {
    Idle,
    CodeAccepted,
    Consent,
    Waiting,
    InCall,
    Ended,
    Error,
    Offline,
    /// No device identity: before the provisioning bundle is imported, and after a wipe.
    NotProvisioned,
    /// A remote test call of the fleet's IT (section 3.5, `test_call`): no patient, at most 60 s.
    TestCall,
    /// A state of a later version. It is written back as `unknown`: tools that show what they
    /// read (`kioskctl device list --json`) must not fail on a newer kiosk.
    #[serde(other)]
    Unknown,
}

impl KioskState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::CodeAccepted => "code_accepted",
            Self::Consent => "consent",
            Self::Waiting => "waiting",
            Self::InCall => "in_call",
            Self::Ended => "ended",
            Self::Error => "error",
            Self::Offline => "offline",
            Self::NotProvisioned => "not_provisioned",
            Self::TestCall => "test_call",
            Self::Unknown => "unknown",
        }
    }
}

/// `{root}/devices/{device}/state`, retained, kiosk → fleet; the last will is `offline`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateReport {
    pub v: V1,
    pub state: KioskState,
    #[serde(
        default,
        with = "optional_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub since: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// In `error`: the problem that ended the flow there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<ProblemCode>,
    /// Seconds since kioskd started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime_s: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    /// The last call that ended since kioskd started. Never who took part in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_call: Option<LastCall>,
    /// The calls that ended in the last 14 days, oldest first, at most 50 (from the kiosk's
    /// event log, so they survive restarts): the fleet's chart of call quality.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent_calls: Vec<LastCall>,
    /// When this report was made (the heartbeat): the fleet's "last seen".
    #[serde(
        default,
        with = "optional_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub at: Option<OffsetDateTime>,
    /// The A/B system slot the kiosk booted from (RAUC), e.g. `A`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
}

impl StateReport {
    /// The last will: what the broker publishes when the kiosk vanishes without saying goodbye.
    /// It is fixed when the kiosk connects, so it carries nothing that changes later.
    pub fn offline() -> Self {
        Self {
            v: V1,
            state: KioskState::Offline,
            since: None,
            version: None,
            detail: None,
            uptime_s: None,
            health: None,
            last_call: None,
            recent_calls: Vec::new(),
            at: None,
            slot: None,
        }
    }
}

/// What the kiosk knows about its camera and microphone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub camera: DeviceHealth,
    pub microphone: DeviceHealth,
}

impl Health {
    pub const UNKNOWN: Self = Self {
        camera: DeviceHealth::Unknown,
        microphone: DeviceHealth::Unknown,
    };
}

/// One device's health. `Unknown` is also what names added by a later version read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceHealth {
    Ok,
    Missing,
    Failed,
    #[serde(other)]
    Unknown,
}

impl DeviceHealth {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Missing => "missing",
            Self::Failed => "failed",
            Self::Unknown => "unknown",
        }
    }
}

/// The connection quality a call showed, in three levels (protocol.md 3.3, `last_call`).
/// `Unknown` is what a level added by a later version reads as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityLevel {
    Good,
    Fair,
    Poor,
    /// A level of a later version, written back as `unknown`.
    #[serde(other)]
    Unknown,
}

impl QualityLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Good => "good",
            Self::Fair => "fair",
            Self::Poor => "poor",
            Self::Unknown => "unknown",
        }
    }
}

/// The last call's length and how it went, for the fleet's overview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastCall {
    pub duration_s: u64,
    /// The connection quality the call screen showed when the call ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<QualityLevel>,
    #[serde(with = "super::rfc3339")]
    pub ended_at: OffsetDateTime,
}

/// `{root}/devices/{device}/commands`, QoS 1, fleet → kiosk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    pub v: V1,
    pub cmd: CommandKind,
    /// `test_call` only: the fleet manager's signed [`super::SignedTestCall`] (protocol.md 3.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed: Option<Box<super::SignedMsg>>,
}

impl Command {
    pub fn new(cmd: CommandKind) -> Self {
        Self {
            v: V1,
            cmd,
            signed: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    /// End a running call (the kiosk says `bye`).
    EndCall,
    /// Publish the state report now.
    Refresh,
    /// Show the room name and device id on the screen for a while and play a tone, so a
    /// technician finds this kiosk among many.
    Identify,
    /// Factory reset: end any call, delete appointments, logs, config and the device identity;
    /// the kiosk then shows "not provisioned" until a new provisioning bundle arrives.
    Wipe,
    /// A test call of the fleet's IT (signed): an idle kiosk joins the session it names, without
    /// a code, for at most 60 s.
    TestCall,
}

mod optional_time {
    use time::OffsetDateTime;

    pub fn serialize<S: serde::Serializer>(
        t: &Option<OffsetDateTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::super::rfc3339::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        #[derive(serde::Deserialize)]
        struct Wrap(#[serde(with = "super::super::rfc3339")] OffsetDateTime);
        Ok(<Option<Wrap> as serde::Deserialize>::deserialize(d)?.map(|w| w.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{decode, encode};

    #[test]
    fn appointment_round_trips_with_contract_field_names() {
        let text = br#"{"v":1,"id":"a1","session":"s1","code_hash":"$argon2id$x",
            "not_before":"2026-11-28T10:00:00Z","not_after":"2026-11-28T11:00:00+01:00",
            "doctor_name":"Dr. med. Anna Muster"}"#;
        let msg: AppointmentMsg = decode(text).unwrap();
        assert_eq!(msg.patient_name, None);
        let json: serde_json::Value = serde_json::from_slice(&encode(&msg)).unwrap();
        assert_eq!(
            json["not_after"], "2026-11-28T10:00:00Z",
            "times go out in UTC"
        );
        assert_eq!(json["v"], 1);
    }

    #[test]
    fn state_report_uses_snake_case_names_and_tolerates_new_ones() {
        let report = StateReport {
            version: Some("0.1.0".into()),
            state: KioskState::CodeAccepted,
            ..StateReport::offline()
        };
        let json = String::from_utf8(encode(&report)).unwrap();
        assert_eq!(json, r#"{"v":1,"state":"code_accepted","version":"0.1.0"}"#);
        let later: StateReport =
            decode(br#"{"v":1,"state":"updating","detail":"on_fire"}"#).unwrap();
        assert_eq!(later.state, KioskState::Unknown);
        assert_eq!(
            String::from_utf8(encode(&later)).unwrap(),
            r#"{"v":1,"state":"unknown","detail":"unknown"}"#,
            "what a tool read of a newer kiosk, it can write out again"
        );
    }

    #[test]
    fn the_last_will_is_just_offline() {
        assert_eq!(
            String::from_utf8(encode(&StateReport::offline())).unwrap(),
            r#"{"v":1,"state":"offline"}"#
        );
    }

    #[test]
    fn heartbeat_fields_round_trip_and_old_reports_still_read() {
        let report = StateReport {
            v: V1,
            state: KioskState::Idle,
            since: Some(time::macros::datetime!(2026-11-28 08:00 UTC)),
            version: Some("0.2.0".into()),
            detail: None,
            uptime_s: Some(7200),
            health: Some(Health {
                camera: DeviceHealth::Ok,
                microphone: DeviceHealth::Failed,
            }),
            last_call: Some(LastCall {
                duration_s: 412,
                quality: Some(QualityLevel::Fair),
                ended_at: time::macros::datetime!(2026-11-28 09:05:40 UTC),
            }),
            recent_calls: Vec::new(),
            at: Some(time::macros::datetime!(2026-11-28 10:00 +01:00)),
            slot: None,
        };
        let json: serde_json::Value = serde_json::from_slice(&encode(&report)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"v":1,"state":"idle","since":"2026-11-28T08:00:00Z","version":"0.2.0",
                "uptime_s":7200,"health":{"camera":"ok","microphone":"failed"},
                "last_call":{"duration_s":412,"quality":"fair","ended_at":"2026-11-28T09:05:40Z"},
                "at":"2026-11-28T09:00:00Z"})
        );
        assert_eq!(decode::<StateReport>(&encode(&report)).unwrap(), report);

        // A report from a kiosk before the heartbeat, and one from a later version.
        let old: StateReport = decode(br#"{"v":1,"state":"idle","version":"0.1.0"}"#).unwrap();
        assert_eq!((old.health, old.at, old.uptime_s), (None, None, None));
        let later: StateReport = decode(
            br#"{"v":1,"state":"idle","health":{"camera":"overheated","microphone":"ok","speaker":"ok"},
                "last_call":{"duration_s":5,"ended_at":"2026-11-28T09:05:40Z","mos":4.1}}"#,
        )
        .unwrap();
        let health = later.health.unwrap();
        assert_eq!(health.camera, DeviceHealth::Unknown);
        assert_eq!(health.microphone, DeviceHealth::Ok);
        assert_eq!(later.last_call.unwrap().quality, None);
        let newer: LastCall = serde_json::from_str(
            r#"{"duration_s":5,"ended_at":"2026-11-28T09:05:40Z","quality":"excellent"}"#,
        )
        .unwrap();
        assert_eq!(newer.quality, Some(QualityLevel::Unknown));
    }
}
