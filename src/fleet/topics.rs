//! The topic tree of protocol v1, built and parsed in one place.
//!
//! `{root}/devices/{device}/config | appointments/{id} | state | events | commands | sync |
//! sessions/{session}/kiosk | sessions/{session}/doctor`

use crate::wire::is_valid_id;

pub const DEFAULT_ROOT: &str = "praxiskiosk/v1";

/// Who publishes on a session topic: the sender of the session's messages (one type for both).
pub use crate::wire::Sender as Side;

/// A topic below one device, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Config,
    Appointment(String),
    State,
    Events,
    Command,
    /// The kiosk's own marker, echoed back after the retained appointments (see protocol.md).
    Sync,
    Session {
        session: String,
        side: Side,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TopicError {
    #[error(
        "topic root {0:?} must be non-empty levels without + or # and without a leading or trailing /"
    )]
    BadRoot(String),
    // kioskctl's `device … ID` arguments meet this first: said in German too.
    #[error(
        "{what} {value:?} ist keine gültige Kennung / is not a valid id (1–64 of A–Z a–z 0–9 - _)"
    )]
    BadId { what: &'static str, value: String },
}

/// The topics of one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    base: String,
}

pub fn check_root(root: &str) -> Result<(), TopicError> {
    let ok = !root.is_empty()
        && root
            .split('/')
            .all(|level| !level.is_empty() && !level.contains(['+', '#']));
    if ok {
        Ok(())
    } else {
        Err(TopicError::BadRoot(root.into()))
    }
}

pub fn check_id(what: &'static str, value: &str) -> Result<(), TopicError> {
    if is_valid_id(value) {
        Ok(())
    } else {
        Err(TopicError::BadId {
            what,
            value: value.into(),
        })
    }
}

/// `{root}/devices/+/state`: the retained states of the whole fleet.
pub fn all_states(root: &str) -> String {
    format!("{root}/devices/+/state")
}

/// `{root}/devices/+/appointments/+`: the retained appointments of the whole fleet.
pub fn all_appointments(root: &str) -> String {
    format!("{root}/devices/+/appointments/+")
}

/// The device id of a `{root}/devices/{device}/state` topic.
pub fn state_device<'a>(root: &str, topic: &'a str) -> Option<&'a str> {
    let rest = topic.strip_prefix(root)?.strip_prefix("/devices/")?;
    let device = rest.strip_suffix("/state")?;
    is_valid_id(device).then_some(device)
}

impl Topics {
    pub fn new(root: &str, device: &str) -> Result<Self, TopicError> {
        check_root(root)?;
        check_id("device id", device)?;
        Ok(Self {
            base: format!("{root}/devices/{device}"),
        })
    }

    pub fn config(&self) -> String {
        format!("{}/config", self.base)
    }
    pub fn appointments(&self) -> String {
        format!("{}/appointments/+", self.base)
    }
    pub fn appointment(&self, id: &str) -> String {
        format!("{}/appointments/{id}", self.base)
    }
    pub fn state(&self) -> String {
        format!("{}/state", self.base)
    }
    pub fn events(&self) -> String {
        format!("{}/events", self.base)
    }
    pub fn commands(&self) -> String {
        format!("{}/commands", self.base)
    }
    pub fn sync(&self) -> String {
        format!("{}/sync", self.base)
    }
    pub fn session(&self, session: &str, side: Side) -> String {
        format!("{}/sessions/{session}/{}", self.base, side.as_str())
    }

    /// Parses a topic of this device; `None` for anything else (including invalid ids).
    pub fn route(&self, topic: &str) -> Option<Route> {
        let rest = topic.strip_prefix(&self.base)?.strip_prefix('/')?;
        let levels: Vec<&str> = rest.split('/').collect();
        match levels.as_slice() {
            ["config"] => Some(Route::Config),
            ["state"] => Some(Route::State),
            ["events"] => Some(Route::Events),
            ["commands"] => Some(Route::Command),
            ["sync"] => Some(Route::Sync),
            ["appointments", id] if is_valid_id(id) => Some(Route::Appointment((*id).into())),
            ["sessions", session, side] if is_valid_id(session) => {
                let side = match *side {
                    "kiosk" => Side::Kiosk,
                    "doctor" => Side::Doctor,
                    _ => return None,
                };
                Some(Route::Session {
                    session: (*session).into(),
                    side,
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_round_trip_through_route() {
        let t = Topics::new(DEFAULT_ROOT, "kiosk-1").unwrap();
        assert_eq!(t.state(), "praxiskiosk/v1/devices/kiosk-1/state");
        assert_eq!(t.route(&t.config()), Some(Route::Config));
        assert_eq!(t.route(&t.commands()), Some(Route::Command));
        assert_eq!(
            t.route(&t.appointment("a-1")),
            Some(Route::Appointment("a-1".into()))
        );
        assert_eq!(
            t.route(&t.session("s1", Side::Doctor)),
            Some(Route::Session {
                session: "s1".into(),
                side: Side::Doctor
            })
        );
        assert_eq!(t.route("praxiskiosk/v1/devices/kiosk-2/config"), None);
        assert_eq!(
            t.route("praxiskiosk/v1/devices/kiosk-1/appointments/a/b"),
            None
        );
        assert_eq!(
            t.route("praxiskiosk/v1/devices/kiosk-1/sessions/s1/nurse"),
            None
        );
        assert_eq!(state_device(DEFAULT_ROOT, &t.state()), Some("kiosk-1"));
    }

    #[test]
    fn wildcards_and_empty_levels_are_refused() {
        assert!(check_root("a/+/b").is_err());
        assert!(check_root("a//b").is_err());
        assert!(check_root("/a").is_err());
        assert!(Topics::new(DEFAULT_ROOT, "a/b").is_err());
        assert!(Topics::new(DEFAULT_ROOT, "#").is_err());
    }
}
