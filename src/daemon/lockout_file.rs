//! The code lockout on disk, `{state_dir}/lockout.json` (mode 0600, written atomically), so a
//! restart — a crash, the watchdog, a pulled plug — gives a guesser no fresh attempts; the
//! staff PIN's lockout likewise in `{state_dir}/staff-pin-lockout.json`. The flow
//! decides what the lockout is; this file only remembers what the flow asked to keep
//! (`Action::SaveLockout`) and hands it back at start (protocol.md 6.2). It holds counts and
//! spans and when they were written, never a code; with nothing to remember there is no file.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::flow::{Lockout, LockoutRecord};
use crate::platform::atomic_file::{remove_durable, write_atomic};
use crate::wire::rfc3339;

const FILE: &str = "lockout.json";
const STAFF_PIN_FILE: &str = "staff-pin-lockout.json";

/// The file's form. Spans in milliseconds from `saved_at`, the wall-clock time of the write:
/// the monotonic clock does not survive a restart.
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    v: u8,
    #[serde(with = "rfc3339")]
    saved_at: OffsetDateTime,
    failures: u32,
    lockouts: u32,
    locked_for_ms: u64,
    forgiven_in_ms: u64,
}

#[derive(Debug)]
pub(super) struct LockoutFile {
    path: PathBuf,
}

impl LockoutFile {
    /// The appointment codes' lockout.
    pub fn new(state_dir: &Path) -> Self {
        Self {
            path: state_dir.join(FILE),
        }
    }

    /// The staff PIN's lockout, kept apart: a guesser of the one gets no attempts at the other,
    /// nor does either lock the other's keypad.
    pub fn staff_pin(state_dir: &Path) -> Self {
        Self {
            path: state_dir.join(STAFF_PIN_FILE),
        }
    }

    /// The lockout as it was when kioskd last stopped, `now` being the monotonic clock and
    /// `wall_now` the wall clock of this start. A file that cannot be read locks nothing (and is
    /// deleted with a warning): a kiosk that cannot start would serve nobody. A guesser cannot
    /// write it; kioskd's own user can.
    pub fn load(&self, wall_now: OffsetDateTime, now: Instant) -> Lockout {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lockout::default(),
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, "cannot read the code lockout");
                return Lockout::default();
            }
        };
        match serde_json::from_slice::<Stored>(&bytes) {
            Ok(stored) if stored.v == 1 => {
                let record = LockoutRecord {
                    failures: stored.failures,
                    lockouts: stored.lockouts,
                    locked_for: Duration::from_millis(stored.locked_for_ms),
                    forgiven_in: Duration::from_millis(stored.forgiven_in_ms),
                };
                let lockout = Lockout::resume(record, stored.saved_at, wall_now, now);
                if let Some(left) = lockout.remaining(now) {
                    tracing::info!(
                        remaining_s = left.as_secs(),
                        "code entry still locked from before the restart"
                    );
                }
                lockout
            }
            Ok(_) | Err(_) => {
                tracing::warn!(path = %self.path.display(), "unreadable code lockout file deleted");
                if let Err(e) = remove_durable(&self.path) {
                    tracing::error!(path = %self.path.display(), error = %e, "cannot delete the code lockout file");
                }
                Lockout::default()
            }
        }
    }

    /// Keeps `record`, written at `wall_now`; a clear record deletes the file. A failure is
    /// logged: the lockout in memory still holds until the next restart.
    pub fn save(&self, record: LockoutRecord, wall_now: OffsetDateTime) {
        let written = if record.is_clear() {
            remove_durable(&self.path)
        } else {
            // The file's time has whole seconds: the spans count from the second begun, and
            // are rounded up, so a restart never shortens a lockout.
            let saved_at = wall_now.replace_nanosecond(0).unwrap_or(wall_now);
            let begun = Duration::try_from(wall_now - saved_at).unwrap_or_default();
            let from_second = |span: Duration| {
                if span.is_zero() {
                    0
                } else {
                    ceil_ms(span + begun)
                }
            };
            let stored = Stored {
                v: 1,
                saved_at,
                failures: record.failures,
                lockouts: record.lockouts,
                locked_for_ms: from_second(record.locked_for),
                forgiven_in_ms: from_second(record.forgiven_in),
            };
            let bytes = serde_json::to_vec(&stored).expect("the lockout file always serialises");
            write_atomic(&self.path, &bytes)
        };
        if let Err(e) = written {
            tracing::error!(path = %self.path.display(), error = %e, "cannot keep the lockout; a restart would clear it");
        }
    }
}

fn ceil_ms(span: Duration) -> u64 {
    span.as_nanos()
        .div_ceil(1_000_000)
        .try_into()
        .unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn locked() -> (Lockout, Instant) {
        let t0 = Instant::now();
        let mut lockout = Lockout::default();
        for _ in 0..crate::flow::ATTEMPTS_BEFORE_LOCKOUT {
            lockout.fail(t0);
        }
        (lockout, t0)
    }

    #[test]
    fn a_lockout_is_kept_owner_only_without_a_code_and_resumed_with_what_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let file = LockoutFile::new(dir.path());
        let (lockout, t0) = locked();
        // Half a second into a second: the file's time has whole seconds only.
        let wall = OffsetDateTime::now_utc().replace_millisecond(500).unwrap();
        file.save(lockout.record(t0 + Duration::from_secs(10)), wall);

        let path = dir.path().join(FILE);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"locked_for_ms\":50500"), "{text}");

        let t1 = Instant::now();
        let resumed = file.load(wall + time::Duration::seconds(20), t1);
        assert_eq!(resumed.remaining(t1), Some(Duration::from_secs(30)));

        file.save(LockoutRecord::default(), wall);
        assert!(!path.exists(), "nothing to remember: no file");
        assert_eq!(file.load(wall, t1), Lockout::default());
    }

    #[test]
    fn an_unreadable_file_locks_nothing_and_goes() {
        let dir = tempfile::tempdir().unwrap();
        let file = LockoutFile::new(dir.path());
        let path = dir.path().join(FILE);
        std::fs::write(&path, b"{\"v\":1,\"failures\":").unwrap();
        assert_eq!(
            file.load(OffsetDateTime::now_utc(), Instant::now()),
            Lockout::default()
        );
        assert!(!path.exists());
    }
}
