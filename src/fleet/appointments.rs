//! Appointments the kiosk has received: validated from the wire, kept in memory and in the state
//! directory (one file per appointment, written atomically), so a kiosk that restarts while the
//! broker is unreachable still knows today's appointments. Expired and revoked ones are deleted:
//! metadata is kept no longer than the appointment needs it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use crate::flow::Appointment;
use crate::platform::atomic_file::{TMP_SUFFIX, private_dir, remove_durable, write_atomic};
use crate::wire::{self, AppointmentMsg};

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
}

impl AppointmentBook {
    /// Loads the book from `dir` (created 0700 if missing). Unreadable files are deleted with a
    /// warning, expired ones silently: neither may block the kiosk.
    pub fn open(dir: &Path, now: OffsetDateTime) -> Result<Self, StoreError> {
        let io = |source| StoreError {
            path: dir.to_path_buf(),
            source,
        };
        private_dir(dir).map_err(io)?;
        let mut book = Self {
            dir: dir.to_path_buf(),
            entries: BTreeMap::new(),
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
        book.sweep(now)?;
        Ok(book)
    }

    fn file(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
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

    /// Adds or replaces an appointment. An already expired one is not stored.
    pub fn put(
        &mut self,
        appointment: Appointment,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        if appointment.is_expired_at(now) {
            self.remove(&appointment.id)?;
            return Ok(false);
        }
        let path = self.file(&appointment.id);
        write_atomic(&path, &wire::encode(&appointment.to_msg()))
            .map_err(|source| StoreError { path, source })?;
        self.entries.insert(appointment.id.clone(), appointment);
        Ok(true)
    }

    /// Forgets an appointment. Memory first: even if the file cannot be deleted now, the code
    /// stops working at once (the next start or sweep deletes the file).
    pub fn remove(&mut self, id: &str) -> Result<bool, StoreError> {
        let known = self.entries.remove(id).is_some();
        let path = self.file(id);
        remove_durable(&path).map_err(|source| StoreError { path, source })?;
        Ok(known)
    }

    /// Deletes every appointment that has ended. Returns their ids.
    pub fn sweep(&mut self, now: OffsetDateTime) -> Result<Vec<String>, StoreError> {
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
        let mut book = AppointmentBook::open(dir.path(), now).unwrap();
        book.put(appointment("keep", "11111111", now, 60), now)
            .unwrap();
        book.put(appointment("short", "22222222", now, 1), now)
            .unwrap();
        std::fs::write(dir.path().join("junk.json"), b"{not json").unwrap();

        let later = now + Duration::minutes(5);
        let book = AppointmentBook::open(dir.path(), later).unwrap();
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
        let mut book = AppointmentBook::open(dir.path(), now).unwrap();
        book.put(
            appointment("now", "11111111", now - Duration::minutes(1), 60),
            now,
        )
        .unwrap();
        book.put(
            appointment("later", "22222222", now + Duration::hours(2), 60),
            now,
        )
        .unwrap();
        assert!(
            !book
                .put(
                    appointment("past", "33333333", now - Duration::hours(2), 60),
                    now
                )
                .unwrap()
        );
        let ids: Vec<_> = book.valid_at(now).into_iter().map(|a| a.id).collect();
        assert_eq!(ids, ["now"]);
        assert_eq!(
            codes::find_match("11111111", book.valid_at(now)).map(|a| a.id),
            Some("now".into())
        );
        assert_eq!(codes::find_match("22222222", book.valid_at(now)), None);
    }
}
