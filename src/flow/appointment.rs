//! An appointment as the kiosk's flow knows it: validated from the wire (protocol.md 3.2), so a
//! code can open only an appointment whose every field was checked. The files that keep
//! appointments across restarts are `fleet::AppointmentBook`'s; this module does no I/O.

use std::fmt;

use time::OffsetDateTime;

use crate::wire::{self, AppointmentMsg, SessionKey, V1};

/// The longest name a doctor or patient may have, in characters (protocol.md 3.2).
pub const MAX_NAME: usize = 100;

/// A validated appointment. Its `Debug` leaves out the patient's name and the code hash, so it
/// can never leak into a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Appointment {
    pub id: String,
    pub session: String,
    pub code_hash: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub doctor_name: String,
    pub patient_name: Option<String>,
    /// The key of the session's sealed signalling, from a signed appointment (v2); `None` only
    /// on a development kiosk without a fleet CA (v1, signalling in clear).
    pub session_key: Option<SessionKey>,
}

impl fmt::Debug for Appointment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Appointment")
            .field("id", &self.id)
            .field("session", &self.session)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidAppointment {
    #[error("field `{0}` is not a valid id (1–64 of A–Z a–z 0–9 - _)")]
    BadId(&'static str),
    #[error("field `code_hash` {0}")]
    BadHash(wire::UnsupportedHash),
    #[error("field `not_after` is not later than `not_before`")]
    EmptyWindow,
    #[error(
        "field `{0}` must be 1 to 100 characters without control or bidirectional formatting characters"
    )]
    BadName(&'static str),
    #[error("the appointment's id {payload:?} differs from its topic's {topic:?}")]
    IdMismatch { topic: String, payload: String },
}

impl TryFrom<AppointmentMsg> for Appointment {
    type Error = InvalidAppointment;

    fn try_from(m: AppointmentMsg) -> Result<Self, Self::Error> {
        if !wire::is_valid_id(&m.id) {
            return Err(InvalidAppointment::BadId("id"));
        }
        if !wire::is_valid_id(&m.session) {
            return Err(InvalidAppointment::BadId("session"));
        }
        wire::check_hash(&m.code_hash).map_err(InvalidAppointment::BadHash)?;
        if m.not_after <= m.not_before {
            return Err(InvalidAppointment::EmptyWindow);
        }
        let doctor_name =
            valid_name(&m.doctor_name).ok_or(InvalidAppointment::BadName("doctor_name"))?;
        let patient_name = match m.patient_name {
            None => None,
            Some(name) => {
                Some(valid_name(&name).ok_or(InvalidAppointment::BadName("patient_name"))?)
            }
        };
        Ok(Self {
            id: m.id,
            session: m.session,
            code_hash: m.code_hash,
            not_before: m.not_before,
            not_after: m.not_after,
            doctor_name,
            patient_name,
            session_key: m.session_key,
        })
    }
}

impl Appointment {
    pub fn to_msg(&self) -> AppointmentMsg {
        AppointmentMsg {
            v: V1,
            id: self.id.clone(),
            session: self.session.clone(),
            code_hash: self.code_hash.clone(),
            not_before: self.not_before,
            not_after: self.not_after,
            doctor_name: self.doctor_name.clone(),
            patient_name: self.patient_name.clone(),
            session_key: self.session_key.clone(),
        }
    }

    pub fn is_valid_at(&self, t: OffsetDateTime) -> bool {
        self.not_before <= t && t <= self.not_after
    }

    pub fn is_expired_at(&self, t: OffsetDateTime) -> bool {
        self.not_after < t
    }
}

/// A name as the doctor will see it: trimmed, 1 to [`MAX_NAME`] characters, none of them
/// [`unfit_for_a_name`].
pub fn valid_name(name: &str) -> Option<String> {
    let name = name.trim();
    let len = name.chars().count();
    ((1..=MAX_NAME).contains(&len) && !name.chars().any(unfit_for_a_name)).then(|| name.to_string())
}

/// Characters that would make a name read otherwise than it is (protocol.md 3.2): controls
/// (C0, C1), Unicode's bidirectional controls, which reorder what the doctor reads ("Max
/// U+202E nnamretsuM" shows as "Max Mustermann"), and invisible format characters that break
/// lines or hide in a name. The zero-width (non-)joiners U+200C and U+200D stay allowed: Persian
/// and Indic names are spelt with them.
pub fn unfit_for_a_name(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // Arabic letter mark; left-to-right and right-to-left marks.
            '\u{061C}' | '\u{200E}' | '\u{200F}'
            // Embeddings, overrides and their pop; isolates and theirs.
            | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
            // Line and paragraph separators.
            | '\u{2028}' | '\u{2029}'
            // Zero-width space, word joiner and invisible operators, byte order mark.
            | '\u{200B}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
            // Deprecated format characters (symmetric swapping, digit shapes), interlinear
            // annotation, tags.
            | '\u{206A}'..='\u{206F}' | '\u{FFF9}'..='\u{FFFB}' | '\u{E0000}'..='\u{E007F}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg() -> AppointmentMsg {
        let now = OffsetDateTime::now_utc();
        AppointmentMsg {
            v: V1,
            id: "a1".into(),
            session: "s-a1".into(),
            code_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
            not_before: now,
            not_after: now + time::Duration::minutes(30),
            doctor_name: "Dr. med. Anna Muster".into(),
            patient_name: Some("Max Mustermann".into()),
            session_key: None,
        }
    }

    #[test]
    fn wire_appointments_are_validated_field_by_field() {
        let good = msg();
        assert!(Appointment::try_from(good.clone()).is_ok());
        let mut bad = good.clone();
        bad.id = "../etc".into();
        assert_eq!(
            Appointment::try_from(bad),
            Err(InvalidAppointment::BadId("id"))
        );
        let mut bad = good.clone();
        bad.code_hash = "12345678".into();
        assert_eq!(
            Appointment::try_from(bad),
            Err(InvalidAppointment::BadHash(
                wire::UnsupportedHash::NotArgon2id
            ))
        );
        let mut bad = good.clone();
        bad.code_hash = bad.code_hash.replace("m=19456,t=2", "m=4096,t=1");
        assert_eq!(
            Appointment::try_from(bad),
            Err(InvalidAppointment::BadHash(wire::UnsupportedHash::TooCheap)),
            "a hash cheaper than the minimum is refused on arrival"
        );
        let mut bad = good.clone();
        bad.not_after = bad.not_before;
        assert_eq!(
            Appointment::try_from(bad),
            Err(InvalidAppointment::EmptyWindow)
        );
        let mut bad = good.clone();
        bad.patient_name = Some("  ".into());
        assert_eq!(
            Appointment::try_from(bad),
            Err(InvalidAppointment::BadName("patient_name"))
        );
        let mut bad = good;
        bad.doctor_name = "Dr. \u{2067}reltsuM\u{2069}".into();
        assert_eq!(
            Appointment::try_from(bad),
            Err(InvalidAppointment::BadName("doctor_name"))
        );
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(valid_name("  Max  ").as_deref(), Some("Max"));
        assert_eq!(
            valid_name(&"ä".repeat(MAX_NAME)).map(|n| n.chars().count()),
            Some(MAX_NAME)
        );
        assert_eq!(valid_name(&"ä".repeat(MAX_NAME + 1)), None);
        assert_eq!(valid_name("Max\nMuster"), None);
        assert_eq!(valid_name(" "), None);
    }

    #[test]
    fn names_with_bidirectional_or_invisible_controls_are_refused() {
        let refused = "\u{202A}\u{202B}\u{202C}\u{202D}\u{202E}\u{2066}\u{2067}\u{2068}\u{2069}\
            \u{200E}\u{200F}\u{061C}\u{2028}\u{2029}\u{200B}\u{FEFF}\u{0085}\u{009B}\u{E0041}";
        for c in refused.chars() {
            assert_eq!(
                valid_name(&format!("Max {c}Muster")),
                None,
                "U+{:04X}",
                c as u32
            );
        }
        // Scripts that are written right to left, or joined, are names like any other.
        for name in [
            "مریم\u{200C}السادات",
            "שרה לוי",
            "Zoë Ağaoğlu-Øster",
            "क्\u{200D}ष",
        ] {
            assert_eq!(valid_name(name).as_deref(), Some(name));
        }
    }

    #[test]
    fn debug_output_never_shows_the_patient_or_the_hash() {
        let a = Appointment::try_from(msg()).unwrap();
        let text = format!("{a:?}");
        assert!(
            !text.contains("Mustermann") && !text.contains("argon2"),
            "{text}"
        );
    }
}
