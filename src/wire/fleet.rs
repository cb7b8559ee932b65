//! Payloads between the fleet and a kiosk: device config, appointments, state, events, commands.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::V1;

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
    #[serde(other, skip_serializing)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl StateReport {
    /// The last will: what the broker publishes when the kiosk vanishes without saying goodbye.
    pub fn offline() -> Self {
        Self {
            v: V1,
            state: KioskState::Offline,
            since: None,
            version: None,
            detail: None,
        }
    }
}

/// What happened, for the fleet's records. Never carries a code or a patient name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    CodeRejected,
    Lockout,
    ConsentGiven,
    CallStarted,
    CallEnded,
    Error,
    #[serde(other, skip_serializing)]
    Unknown,
}

/// `{root}/devices/{device}/events`, QoS 1, kiosk → fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventReport {
    pub v: V1,
    #[serde(with = "super::rfc3339")]
    pub ts: OffsetDateTime,
    pub event: EventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<u64>,
}

/// `{root}/devices/{device}/commands`, QoS 1, fleet → kiosk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    pub v: V1,
    pub cmd: CommandKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    EndCall,
    Refresh,
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
            v: V1,
            state: KioskState::CodeAccepted,
            since: None,
            version: Some("0.1.0".into()),
            detail: None,
        };
        let json = String::from_utf8(encode(&report)).unwrap();
        assert_eq!(json, r#"{"v":1,"state":"code_accepted","version":"0.1.0"}"#);
        let later: StateReport = decode(br#"{"v":1,"state":"updating"}"#).unwrap();
        assert_eq!(later.state, KioskState::Unknown);
    }
}
