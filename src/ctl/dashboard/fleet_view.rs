//! The dashboard's table of kiosks: what the retained `state` and `config` messages say, merged
//! into one row per kiosk. Pure: no MQTT, no clock, no socket; `live.rs` owns the one table.
//!
//! A [`Row`] lists every field it shows by name, so nothing else of a payload can reach the
//! page: the device config's staff PIN hash and ICE servers stay here, and a state report
//! carries no patient data to begin with. The rows are kioskctl's own view for the page it
//! ships in the same binary, not a message of protocol v1 (which is why they are not in
//! `wire/`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::wire::{
    self, DeviceConfig, Health, KioskState, LastCall, ProblemCode, StateReport, rfc3339,
};

/// At most this many calls of one kiosk go to the chart (protocol.md 3.3 promises 50).
const MAX_CALLS: usize = 50;

/// One kiosk as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub device: String,
    /// The device config's `display_name`, else the room it was enrolled for.
    pub room: Option<String>,
    /// `None`: enrolled, but it never reported.
    pub state: Option<KioskState>,
    pub since: Option<String>,
    pub version: Option<String>,
    pub slot: Option<String>,
    pub detail: Option<ProblemCode>,
    /// The last heartbeat: "last seen". Kept when the last will arrives without one.
    pub at: Option<String>,
    pub health: Option<Health>,
    pub last_call: Option<LastCall>,
    /// The chart's calls: `recent_calls`, or the last call where a kiosk sends no more.
    pub calls: Vec<LastCall>,
}

/// What one message did to the table.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// The row as it is now.
    Changed(Row),
    /// The kiosk has no row any more (its retained state and config were cleared).
    Gone(String),
    Unchanged,
    /// Not a message the table reads, or unreadable: why, for the log.
    Ignored(&'static str),
}

#[derive(Debug, Clone, Default)]
struct Entry {
    report: Option<StateReport>,
    config_room: Option<String>,
    enrolled_room: Option<String>,
}

impl Entry {
    fn is_empty(&self) -> bool {
        self.report.is_none() && self.config_room.is_none() && self.enrolled_room.is_none()
    }
}

/// The topics the table reads.
enum Topic<'a> {
    State(&'a str),
    Config(&'a str),
}

#[derive(Debug, Clone)]
pub struct FleetView {
    root: String,
    kiosks: BTreeMap<String, Entry>,
}

impl FleetView {
    pub fn new(root: &str) -> Self {
        Self {
            root: root.into(),
            kiosks: BTreeMap::new(),
        }
    }

    /// The MQTT filters whose messages [`FleetView::apply`] reads.
    pub fn filters(&self) -> [String; 2] {
        [
            format!("{}/devices/+/state", self.root),
            format!("{}/devices/+/config", self.root),
        ]
    }

    /// A kiosk the fleet CA enrolled: it has a row before it ever reports.
    pub fn enrolled(&mut self, device: &str, room: Option<&str>) {
        if wire::is_valid_id(device) {
            self.kiosks.entry(device.into()).or_default().enrolled_room = room.map(String::from);
        }
    }

    pub fn rows(&self) -> Vec<Row> {
        self.kiosks
            .keys()
            .filter_map(|device| self.row(device))
            .collect()
    }

    fn row(&self, device: &str) -> Option<Row> {
        let entry = self.kiosks.get(device)?;
        let report = entry.report.as_ref();
        let last_call = report.and_then(|r| r.last_call.clone());
        let calls = match report {
            Some(r) if !r.recent_calls.is_empty() => {
                let skip = r.recent_calls.len().saturating_sub(MAX_CALLS);
                r.recent_calls[skip..].to_vec()
            }
            _ => last_call.iter().cloned().collect(),
        };
        Some(Row {
            device: device.into(),
            room: entry
                .config_room
                .clone()
                .or_else(|| entry.enrolled_room.clone()),
            state: report.map(|r| r.state),
            since: report.and_then(|r| r.since).map(rfc3339::format),
            version: report.and_then(|r| r.version.clone()),
            slot: report.and_then(|r| r.slot.clone()),
            detail: report.and_then(|r| r.detail),
            at: report.and_then(|r| r.at).map(rfc3339::format),
            health: report.and_then(|r| r.health),
            last_call,
            calls,
        })
    }

    fn topic<'a>(&self, topic: &'a str) -> Option<Topic<'a>> {
        let rest = topic.strip_prefix(&self.root)?.strip_prefix("/devices/")?;
        let (device, kind) = rest.split_once('/')?;
        if !wire::is_valid_id(device) {
            return None;
        }
        match kind {
            "state" => Some(Topic::State(device)),
            "config" => Some(Topic::Config(device)),
            _ => None,
        }
    }

    /// Takes in one message of `{root}/devices/+/state` or `…/config` (an empty payload clears a
    /// retained message) and says what changed.
    pub fn apply(&mut self, topic: &str, payload: &[u8]) -> Update {
        let Some(parsed) = self.topic(topic) else {
            return Update::Ignored("not a state or config topic");
        };
        let device = match parsed {
            Topic::State(d) | Topic::Config(d) => d.to_string(),
        };
        let before = self.row(&device);
        let entry = self.kiosks.entry(device.clone()).or_default();
        match (parsed, payload.is_empty()) {
            (Topic::State(_), true) => entry.report = None,
            (Topic::Config(_), true) => entry.config_room = None,
            (Topic::State(_), false) => match wire::decode::<StateReport>(payload) {
                Ok(report) => entry.report = Some(merge(entry.report.take(), report)),
                Err(_) => return self.drop_if_empty(&device, "unreadable state report"),
            },
            (Topic::Config(_), false) => match wire::decode::<DeviceConfig>(payload) {
                Ok(config) => entry.config_room = config.display_name,
                Err(_) => return self.drop_if_empty(&device, "unreadable device config"),
            },
        }
        if self.kiosks.get(&device).is_some_and(Entry::is_empty) {
            self.kiosks.remove(&device);
            return match before {
                Some(_) => Update::Gone(device),
                None => Update::Unchanged,
            };
        }
        let after = self.row(&device);
        match after {
            Some(row) if Some(&row) != before.as_ref() => Update::Changed(row),
            _ => Update::Unchanged,
        }
    }

    /// An unreadable message must not leave an empty row behind.
    fn drop_if_empty(&mut self, device: &str, why: &'static str) -> Update {
        if self.kiosks.get(device).is_some_and(Entry::is_empty) {
            self.kiosks.remove(device);
        }
        Update::Ignored(why)
    }
}

/// The last will is fixed at connect time and says only `offline` (protocol.md 3.3): what the
/// kiosk said before it vanished (version, devices, calls, when it was last seen) still holds.
fn merge(before: Option<StateReport>, report: StateReport) -> StateReport {
    match before {
        Some(before) if report.state == KioskState::Offline && report.at.is_none() => StateReport {
            state: KioskState::Offline,
            since: None,
            detail: None,
            uptime_s: None,
            ..before
        },
        _ => report,
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::wire::{DeviceHealth, QualityLevel, V1, encode};

    fn call(quality: QualityLevel, ended_at: time::OffsetDateTime) -> LastCall {
        LastCall {
            duration_s: 300,
            quality: Some(quality),
            ended_at,
        }
    }

    fn idle() -> StateReport {
        StateReport {
            v: V1,
            state: KioskState::Idle,
            since: Some(datetime!(2026-11-30 08:00 UTC)),
            version: Some("0.3.0".into()),
            detail: None,
            uptime_s: Some(60),
            health: Some(Health {
                camera: DeviceHealth::Ok,
                microphone: DeviceHealth::Missing,
            }),
            last_call: Some(call(QualityLevel::Fair, datetime!(2026-11-30 09:00 UTC))),
            recent_calls: Vec::new(),
            at: Some(datetime!(2026-11-30 09:30 UTC)),
            slot: Some("B".into()),
        }
    }

    #[test]
    fn a_state_report_makes_a_row_and_the_same_again_changes_nothing() {
        let mut view = FleetView::new("praxiskiosk/v1");
        let topic = "praxiskiosk/v1/devices/kiosk-1/state";
        let Update::Changed(row) = view.apply(topic, &encode(&idle())) else {
            panic!("a new kiosk is a change");
        };
        assert_eq!(row.device, "kiosk-1");
        assert_eq!(row.state, Some(KioskState::Idle));
        assert_eq!(row.version.as_deref(), Some("0.3.0"));
        assert_eq!(row.slot.as_deref(), Some("B"));
        assert_eq!(row.at.as_deref(), Some("2026-11-30T09:30:00Z"));
        assert_eq!(
            row.calls.len(),
            1,
            "the last call stands in for recent calls"
        );
        assert_eq!(view.apply(topic, &encode(&idle())), Update::Unchanged);
        let json = serde_json::to_value(&row).unwrap();
        assert_eq!(json["health"]["microphone"], "missing");
        assert_eq!(json["last_call"]["quality"], "fair");
    }

    #[test]
    fn the_room_is_the_configs_name_else_the_enrolled_one_and_nothing_else_of_the_config() {
        let mut view = FleetView::new("r");
        view.enrolled("kiosk-1", Some("Raum 1"));
        assert_eq!(view.rows()[0].room.as_deref(), Some("Raum 1"));
        assert_eq!(view.rows()[0].state, None, "enrolled, never seen");
        let config = DeviceConfig {
            v: V1,
            display_name: Some("Sprechzimmer 2".into()),
            locale: None,
            ice_servers: vec!["stun:stun.example:3478".into()],
            allow_relay: false,
            staff_pin_hash: Some("$argon2id$secret".into()),
        };
        let Update::Changed(row) = view.apply("r/devices/kiosk-1/config", &encode(&config)) else {
            panic!("a new room is a change");
        };
        assert_eq!(row.room.as_deref(), Some("Sprechzimmer 2"));
        let json = serde_json::to_string(&view.rows()).unwrap();
        assert!(!json.contains("argon2") && !json.contains("stun"), "{json}");
        view.apply("r/devices/kiosk-1/config", b"");
        assert_eq!(view.rows()[0].room.as_deref(), Some("Raum 1"));
    }

    #[test]
    fn the_last_will_keeps_what_the_kiosk_said_before() {
        let mut view = FleetView::new("r");
        view.apply("r/devices/k/state", &encode(&idle()));
        let Update::Changed(row) =
            view.apply("r/devices/k/state", &encode(&StateReport::offline()))
        else {
            panic!("going offline is a change");
        };
        assert_eq!(row.state, Some(KioskState::Offline));
        assert_eq!(row.at.as_deref(), Some("2026-11-30T09:30:00Z"), "last seen");
        assert_eq!(row.version.as_deref(), Some("0.3.0"));
        assert_eq!(row.since, None);
        // An offline report the kiosk made itself (with its time) replaces everything.
        let said = StateReport {
            at: Some(datetime!(2026-11-30 10:00 UTC)),
            ..StateReport::offline()
        };
        let Update::Changed(row) = view.apply("r/devices/k/state", &encode(&said)) else {
            panic!("a new report is a change");
        };
        assert_eq!(row.version, None);
    }

    #[test]
    fn recent_calls_feed_the_chart_at_most_fifty() {
        let mut view = FleetView::new("r");
        let day = datetime!(2026-11-20 10:00 UTC);
        let report = StateReport {
            recent_calls: (0..60)
                .map(|i| call(QualityLevel::Good, day + time::Duration::hours(i)))
                .collect(),
            ..idle()
        };
        view.apply("r/devices/k/state", &encode(&report));
        let calls = &view.rows()[0].calls;
        assert_eq!(calls.len(), 50);
        assert_eq!(
            calls[0].ended_at,
            day + time::Duration::hours(10),
            "the newest"
        );
    }

    #[test]
    fn cleared_unreadable_and_foreign_messages() {
        let mut view = FleetView::new("r");
        assert_eq!(
            view.apply("r/devices/k/state", b"{not json"),
            Update::Ignored("unreadable state report")
        );
        assert!(view.rows().is_empty(), "no empty row for a bad message");
        assert!(matches!(
            view.apply("r/devices/k/events", b"{}"),
            Update::Ignored(_)
        ));
        assert!(matches!(
            view.apply("r/devices/a+b/state", &encode(&idle())),
            Update::Ignored(_)
        ));
        assert!(matches!(
            view.apply("other/devices/k/state", &encode(&idle())),
            Update::Ignored(_)
        ));
        view.apply("r/devices/k/state", &encode(&idle()));
        assert_eq!(
            view.apply("r/devices/k/state", b""),
            Update::Gone("k".into())
        );
        assert!(view.rows().is_empty());
        assert_eq!(view.filters()[1], "r/devices/+/config");
    }
}
