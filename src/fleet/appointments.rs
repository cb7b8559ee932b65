//! Appointments the kiosk has received: validated from the wire, kept in memory and in the state
//! directory (one file per appointment, written atomically), so a kiosk that restarts while the
//! broker is unreachable still knows today's appointments. Expired and revoked ones are deleted:
//! metadata is kept no longer than the appointment needs it.
//!
//! A revoked appointment's id is remembered (`{id}.revoked`, holding when it may be forgotten)
//! until its window is over: whoever holds the broker could otherwise replay the fleet
//! manager's signed appointment after the revocation and bring a cancelled code back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use crate::flow::Appointment;
use crate::platform::atomic_file::{TMP_SUFFIX, private_dir, remove_durable, write_atomic};
use crate::wire::{self, AppointmentMsg};

/// How long a revoked id is remembered when the kiosk never knew the appointment's end (it was
/// revoked before it arrived): the longest the rules let metadata be kept.
const UNKNOWN_END_KEPT: time::Duration = time::Duration::days(90);

/// What became of an appointment handed to [`AppointmentBook::put`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Kept,
    /// Already over: not stored.
    Expired,
    /// Revoked earlier (a replay): not stored.
    Revoked,
}

#[derive(Debug, thiserror::Error)]
#[error("appointment store {path}: {source}")]
pub struct StoreError {
    path: PathBuf,
    source: std::io::Error,
}

/// The appointments of this kiosk, in memory and on disk. The only owner of the directory.
#[derive(Debug)]
pub struct AppointmentBook {
    dir: PathBuf,
    entries: BTreeMap<String, Appointment>,
    /// Revoked ids, and until when they are remembered.
    revoked: BTreeMap<String, OffsetDateTime>,
}

impl AppointmentBook {
    /// Loads the book from `dir` (created 0700 if missing). Unreadable files are deleted with a
    /// warning, expired ones silently: neither may block the kiosk. `now` is the time only if
    /// the clock is confirmed: a clock that is not may be far ahead, and nothing is deleted by
    /// it (the supervisor sweeps once the clock is confirmed).
    pub fn open(dir: &Path, now: Option<OffsetDateTime>) -> Result<Self, StoreError> {
        let io = |source| StoreError {
            path: dir.to_path_buf(),
            source,
        };
        private_dir(dir).map_err(io)?;
        let mut book = Self {
            dir: dir.to_path_buf(),
            entries: BTreeMap::new(),
            revoked: BTreeMap::new(),
        };
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            let leftover = path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with(TMP_SUFFIX));
            if leftover {
                remove_durable(&path).map_err(io)?;
                continue;
            }
            if path.extension().is_some_and(|e| e == "revoked") {
                book.load_revoked(&path).map_err(io)?;
                continue;
            }
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let loaded = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| wire::decode::<AppointmentMsg>(&bytes).map_err(|e| e.to_string()))
                .and_then(|msg| Appointment::try_from(msg).map_err(|e| e.to_string()));
            match loaded {
                Ok(a) if book.file(&a.id) == path => {
                    book.entries.insert(a.id.clone(), a);
                    continue;
                }
                Ok(_) => {
                    tracing::warn!(path = %path.display(), "appointment file name does not match its id; deleted")
                }
                Err(reason) => {
                    tracing::warn!(path = %path.display(), %reason, "unreadable appointment file deleted")
                }
            }
            remove_durable(&path).map_err(io)?;
        }
        if let Some(now) = now {
            book.sweep(now)?;
        }
        Ok(book)
    }

    fn file(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    fn revoked_file(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.revoked"))
    }

    /// A remembered revocation; an unreadable one is deleted with a warning.
    fn load_revoked(&mut self, path: &Path) -> std::io::Result<()> {
        let id = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        let until = std::fs::read_to_string(path)
            .ok()
            .and_then(|text| wire::rfc3339::parse(text.trim()).ok());
        match (id, until) {
            (Some(id), Some(until)) if wire::is_valid_id(&id) => {
                self.revoked.insert(id, until);
                Ok(())
            }
            _ => {
                tracing::warn!(path = %path.display(), "unreadable revocation file deleted");
                remove_durable(path)
            }
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&Appointment> {
        self.entries.get(id)
    }

    /// Adds or replaces an appointment. A revoked one is not stored, nor an expired one while
    /// the clock is confirmed (`now` is the time only then, as for [`Self::open`]).
    pub fn put(
        &mut self,
        appointment: Appointment,
        now: Option<OffsetDateTime>,
    ) -> Result<Stored, StoreError> {
        if self.revoked.contains_key(&appointment.id) {
            return Ok(Stored::Revoked);
        }
        if now.is_some_and(|now| appointment.is_expired_at(now)) {
            self.remove(&appointment.id)?;
            return Ok(Stored::Expired);
        }
        let path = self.file(&appointment.id);
        write_atomic(&path, &wire::encode(&appointment.to_msg()))
            .map_err(|source| StoreError { path, source })?;
        self.entries.insert(appointment.id.clone(), appointment);
        Ok(Stored::Kept)
    }

    /// Forgets an appointment for good: its id is remembered until its window is over (or, if
    /// the kiosk never knew the window, for the longest metadata may be kept), so the same
    /// appointment cannot come back. Returns whether it was known.
    pub fn revoke(&mut self, id: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
        let until = self
            .entries
            .get(id)
            .map_or(now + UNKNOWN_END_KEPT, |a| a.not_after);
        let path = self.revoked_file(id);
        write_atomic(&path, wire::rfc3339::format(until).as_bytes())
            .map_err(|source| StoreError { path, source })?;
        self.revoked.insert(id.to_string(), until);
        self.remove(id)
    }

    /// Forgets an appointment. Memory first: even if the file cannot be deleted now, the code
    /// stops working at once (the next start or sweep deletes the file).
    pub fn remove(&mut self, id: &str) -> Result<bool, StoreError> {
        let known = self.entries.remove(id).is_some();
        let path = self.file(id);
        remove_durable(&path).map_err(|source| StoreError { path, source })?;
        Ok(known)
    }

    /// Deletes every appointment that has ended, and forgets revocations whose appointment
    /// would have ended. Returns the appointments' ids.
    pub fn sweep(&mut self, now: OffsetDateTime) -> Result<Vec<String>, StoreError> {
        let over: Vec<String> = self
            .revoked
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in over {
            self.revoked.remove(&id);
            let path = self.revoked_file(&id);
            remove_durable(&path).map_err(|source| StoreError { path, source })?;
        }
        let expired: Vec<String> = self
            .entries
            .values()
            .filter(|a| a.is_expired_at(now))
            .map(|a| a.id.clone())
            .collect();
        for id in &expired {
            self.remove(id)?;
        }
        Ok(expired)
    }

    /// Deletes every appointment not in `current`: after a reconnect, the retained appointments
    /// on the broker are the truth, and one revoked while the kiosk was away is simply missing.
    pub fn retain_only(
        &mut self,
        current: &std::collections::BTreeSet<String>,
    ) -> Result<Vec<String>, StoreError> {
        let gone: Vec<String> = self
            .entries
            .keys()
            .filter(|id| !current.contains(*id))
            .cloned()
            .collect();
        for id in &gone {
            self.remove(id)?;
        }
        Ok(gone)
    }

    /// The appointments whose window contains `now`: the only ones a code may open.
    pub fn valid_at(&self, now: OffsetDateTime) -> Vec<Appointment> {
        self.entries
            .values()
            .filter(|a| a.is_valid_at(now))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::codes;
    use time::Duration;

    pub(crate) fn appointment(
        id: &str,
        code: &str,
        from: OffsetDateTime,
        minutes: i64,
    ) -> Appointment {
        Appointment {
            id: id.into(),
            session: format!("s-{id}"),
            code_hash: codes::hash(code),
            not_before: from,
            not_after: from + Duration::minutes(minutes),
            doctor_name: "Dr. med. Anna Muster".into(),
            patient_name: Some("Max Mustermann".into()),
            session_key: None,
        }
    }

    #[test]
    fn survives_reopen_and_drops_expired_and_corrupt_files() {
        let dir = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::now_utc();
        let mut book = AppointmentBook::open(dir.path(), Some(now)).unwrap();
        book.put(appointment("keep", "11111111", now, 60), Some(now))
            .unwrap();
        book.put(appointment("short", "22222222", now, 1), Some(now))
            .unwrap();
        std::fs::write(dir.path().join("junk.json"), b"{not json").unwrap();

        let later = now + Duration::minutes(5);
        let book = AppointmentBook::open(dir.path(), Some(later)).unwrap();
        assert!(book.get("keep").is_some());
        assert!(book.get("short").is_none());
        let mut files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        assert_eq!(files, ["keep.json"]);
    }

    #[test]
    fn only_appointments_due_now_are_candidates() {
        let dir = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::now_utc();
        let mut book = AppointmentBook::open(dir.path(), Some(now)).unwrap();
        book.put(
            appointment("now", "11111111", now - Duration::minutes(1), 60),
            Some(now),
        )
        .unwrap();
        book.put(
            appointment("later", "22222222", now + Duration::hours(2), 60),
            Some(now),
        )
        .unwrap();
        assert_eq!(
            book.put(
                appointment("past", "33333333", now - Duration::hours(2), 60),
                Some(now)
            )
            .unwrap(),
            Stored::Expired
        );
        let ids: Vec<_> = book.valid_at(now).into_iter().map(|a| a.id).collect();
        assert_eq!(ids, ["now"]);
        assert_eq!(
            codes::find_match("11111111", book.valid_at(now)).map(|a| a.id),
            Some("now".into())
        );
        assert_eq!(codes::find_match("22222222", book.valid_at(now)), None);
    }

    #[test]
    fn a_revoked_appointment_stays_revoked_across_restarts_until_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::now_utc();
        let mut book = AppointmentBook::open(dir.path(), Some(now)).unwrap();
        let cancelled = appointment("cancelled", "11111111", now, 60);
        book.put(cancelled.clone(), Some(now)).unwrap();
        assert!(book.revoke("cancelled", now).unwrap());
        // Revoked before it ever arrived: remembered too, for the longest metadata may stay.
        assert!(!book.revoke("unseen", now).unwrap());
        assert!(book.valid_at(now).is_empty());

        // The signed appointment replayed, also after a restart, changes nothing.
        let mut book = AppointmentBook::open(dir.path(), Some(now)).unwrap();
        assert_eq!(
            book.put(cancelled.clone(), Some(now)).unwrap(),
            Stored::Revoked
        );
        let unseen = appointment("unseen", "22222222", now, 60);
        assert_eq!(book.put(unseen, Some(now)).unwrap(), Stored::Revoked);
        assert!(book.valid_at(now).is_empty());
        assert!(!dir.path().join("cancelled.json").exists());

        // Once the appointment would have ended, only the never-seen one is still remembered.
        let later = now + Duration::minutes(61);
        let book = AppointmentBook::open(dir.path(), Some(later)).unwrap();
        let mut files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        assert_eq!(files, ["unseen.revoked"]);
        assert!(book.is_empty());
        // And after 90 days, nothing.
        AppointmentBook::open(dir.path(), Some(now + Duration::days(91))).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// A clock far ahead (no real-time clock, a wrong one) that is not confirmed deletes
    /// nothing: the appointments and revocations are still there once the clock is right.
    #[test]
    fn an_unconfirmed_clock_far_ahead_deletes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::now_utc();
        let mut book = AppointmentBook::open(dir.path(), Some(now)).unwrap();
        book.put(appointment("keep", "11111111", now, 60), Some(now))
            .unwrap();
        book.put(appointment("gone", "22222222", now, 60), Some(now))
            .unwrap();
        book.revoke("gone", now).unwrap();
        drop(book);
        let mut ahead = AppointmentBook::open(dir.path(), None).unwrap();
        let arriving = appointment("arriving", "33333333", now, 60);
        assert_eq!(ahead.put(arriving, None).unwrap(), Stored::Kept);
        assert_eq!(ahead.len(), 2, "nothing deleted by the clock a year ahead");
        let gone = appointment("gone", "22222222", now, 60);
        assert_eq!(ahead.put(gone, None).unwrap(), Stored::Revoked);
        drop(ahead);
        let book = AppointmentBook::open(dir.path(), Some(now)).unwrap();
        assert_eq!(book.len(), 2);
    }
}
