//! kioskd's own record of what happened: the same [`EventReport`]s it publishes to the fleet, one
//! JSON line each in `{state_dir}/events.jsonl` (mode 0600), kept for [`RETENTION`].
//!
//! It owns that one file and must never hold more than an event report does: no access code, no
//! patient's or doctor's name. That holds because an `EventReport` carries only an appointment
//! id, a timestamp, numbers and words of fixed vocabularies (enums: nothing typed at the kiosk or
//! received from the fleet can become one).

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use time::{Date, Duration, OffsetDateTime, UtcOffset};

use crate::platform::atomic_file::{TMP_SUFFIX, remove_durable, write_atomic};
use crate::wire::{self, EndReason, EventKind, EventReport, LastCall};

/// The file in the state directory.
pub const FILE: &str = "events.jsonl";

/// How long an event is kept. The rules for video consultations in Germany (Anlage 31b BMV-Ä)
/// allow metadata to be kept for at most three months; 90 days is that three months as a fixed
/// length. Entries go at the first prune after they pass it (on start, and once a day).
pub const RETENTION: Duration = Duration::days(90);

#[derive(Debug, thiserror::Error)]
#[error("event log {}: {source}", path.display())]
pub struct EventLogError {
    path: PathBuf,
    source: io::Error,
}

/// The event log of one kiosk. Appends are cheap; pruning rewrites the whole file, which is
/// small (a busy kiosk writes a few dozen lines a day, so 90 days stay well under a megabyte).
#[derive(Debug)]
pub struct EventLog {
    path: PathBuf,
    /// The UTC day of the last prune: the first record or check on a later day prunes again.
    pruned_on: Option<Date>,
}

impl EventLog {
    /// Opens the log in `state_dir` (which must exist) and prunes it: entries past [`RETENTION`]
    /// and lines that do not parse (a write cut short by a power loss) go.
    pub fn open(state_dir: &Path, now: OffsetDateTime) -> Result<Self, EventLogError> {
        let mut log = Self {
            path: state_dir.join(FILE),
            pruned_on: None,
        };
        // A rewrite that a crash interrupted; the file itself still has the old content.
        remove_durable(&tmp_path(state_dir)).map_err(|e| log.error(e))?;
        // Created 0600 by us; an older or hand-made file is tightened, not trusted.
        match fs::set_permissions(&log.path, fs::Permissions::from_mode(0o600)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(log.error(e)),
        }
        log.prune(now)?;
        Ok(log)
    }

    /// Appends `report`. Recording on a new day prunes first, so a kiosk that runs for months
    /// never keeps more than [`RETENTION`] (and a day).
    pub fn record(&mut self, report: &EventReport) -> Result<(), EventLogError> {
        self.prune_if_new_day(report.ts)?;
        let mut line = wire::encode(report);
        line.push(b'\n');
        let appended = (|| {
            let mut file = OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o600)
                .open(&self.path)?;
            file.write_all(&line)?;
            file.sync_data()
        })();
        appended.map_err(|e| self.error(e))
    }

    /// Prunes unless that already happened today (UTC). For a timer, so entries also go on days
    /// without events.
    pub fn prune_if_new_day(&mut self, now: OffsetDateTime) -> Result<(), EventLogError> {
        match self.pruned_on {
            Some(day) if day >= utc_day(now) => Ok(()),
            _ => self.prune(now),
        }
    }

    /// The call the log says started and never ended: kioskd stopped without closing it (it
    /// was killed, or the power went). Returns it closed, as the `call_ended` to record now:
    /// reason `crashed`, its duration up to the last event the log has of it (the call may
    /// have gone on for a little longer; more is not known).
    pub fn unclosed_call(&self, now: OffsetDateTime) -> Result<Option<EventReport>, EventLogError> {
        let text = match fs::read(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.error(e)),
        };
        // The appointment of the open call, when it started, and its last event's time.
        let mut open: Option<(String, OffsetDateTime, OffsetDateTime)> = None;
        for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            // Lines of later versions (unknown events) are not ours to judge.
            let Ok(report) = wire::decode::<EventReport>(line) else {
                continue;
            };
            match report.event {
                EventKind::CallStarted { appointment } => {
                    open = Some((appointment, report.ts, report.ts))
                }
                EventKind::CallEnded { .. } | EventKind::FactoryReset => open = None,
                EventKind::CallInterrupted { ref appointment }
                | EventKind::CallResumed {
                    ref appointment, ..
                }
                | EventKind::RelayUsed { ref appointment } => {
                    if let Some((open_for, _, last)) = open.as_mut()
                        && open_for == appointment
                    {
                        *last = report.ts;
                    }
                }
                _ => {}
            }
        }
        Ok(open.map(|(appointment, started, last)| {
            EventReport::new(
                now,
                EventKind::CallEnded {
                    appointment,
                    reason: EndReason::Crashed,
                    duration_s: (last - started).whole_seconds().max(0) as u64,
                    quality: None,
                },
            )
        }))
    }

    /// The calls that ended within `span` before `now`, oldest first, at most `max` (the newest):
    /// the state report's `recent_calls`.
    pub fn recent_calls(
        &self,
        now: OffsetDateTime,
        span: Duration,
        max: usize,
    ) -> Result<Vec<LastCall>, EventLogError> {
        let text = match fs::read(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.error(e)),
        };
        let mut calls: Vec<LastCall> = text
            .split(|b| *b == b'\n')
            .filter_map(|line| wire::decode::<EventReport>(line).ok())
            .filter(|report| report.ts >= now - span)
            .filter_map(|report| match report.event {
                EventKind::CallEnded {
                    duration_s,
                    quality,
                    ..
                } => Some(LastCall {
                    duration_s,
                    quality,
                    ended_at: report.ts,
                }),
                _ => None,
            })
            .collect();
        let excess = calls.len().saturating_sub(max);
        calls.drain(..excess);
        Ok(calls)
    }

    /// Drops entries older than [`RETENTION`] at `now`, and lines that do not parse. Rewrites the
    /// file atomically, and only if something was dropped: a kiosk's flash storage should not be
    /// worn by rewriting the same content.
    pub fn prune(&mut self, now: OffsetDateTime) -> Result<(), EventLogError> {
        let text = match fs::read(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(self.error(e)),
        };
        let cutoff = now - RETENTION;
        let mut kept = Vec::with_capacity(text.len());
        let (mut expired, mut unreadable) = (0usize, 0usize);
        for (index, line) in text.split(|b| *b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            match wire::decode::<Stamped>(line) {
                Ok(report) if report.ts >= cutoff => {
                    // The line as it was, so fields of a later version survive a prune.
                    kept.extend_from_slice(line);
                    kept.push(b'\n');
                }
                Ok(_) => expired += 1,
                Err(_) => {
                    // The number only: the content is not ours to repeat in a log.
                    tracing::warn!(line = index + 1, "unreadable event log line dropped");
                    unreadable += 1;
                }
            }
        }
        if kept != text {
            write_atomic(&self.path, &kept).map_err(|e| self.error(e))?;
            tracing::info!(expired, unreadable, "event log pruned");
        }
        self.pruned_on = Some(utc_day(now));
        Ok(())
    }

    fn error(&self, source: io::Error) -> EventLogError {
        EventLogError {
            path: self.path.clone(),
            source,
        }
    }
}

/// What pruning reads of a line: only its time. The rest stays as written, so an event of a
/// later version, with words or fields this one does not know, is kept for as long as any other.
#[derive(serde::Deserialize)]
struct Stamped {
    #[serde(with = "crate::wire::rfc3339")]
    ts: OffsetDateTime,
}

/// Removes the event log of `state_dir` (and a rewrite a crash left behind), durably.
pub fn wipe(state_dir: &Path) -> Result<(), EventLogError> {
    for path in [tmp_path(state_dir), state_dir.join(FILE)] {
        remove_durable(&path).map_err(|source| EventLogError { path, source })?;
    }
    Ok(())
}

/// Where [`write_atomic`] stages a rewrite of the log.
fn tmp_path(state_dir: &Path) -> PathBuf {
    state_dir.join(format!(".{FILE}{TMP_SUFFIX}"))
}

fn utc_day(t: OffsetDateTime) -> Date {
    t.to_offset(UtcOffset::UTC).date()
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use time::macros::datetime;

    use super::*;
    use crate::flow::{Action, Event, Failure, Kiosk, Timeouts, tests::appointment};

    const NOW: OffsetDateTime = datetime!(2026-11-28 10:00 UTC);

    fn event(ts: OffsetDateTime, event: EventKind) -> EventReport {
        EventReport::new(ts, event)
    }

    fn started() -> EventKind {
        EventKind::CallStarted {
            appointment: "a1".into(),
        }
    }

    const LOCKOUT: EventKind = EventKind::Lockout { duration_s: 60 };

    fn lines(dir: &Path) -> Vec<EventReport> {
        fs::read_to_string(dir.join(FILE))
            .unwrap()
            .lines()
            .map(|l| wire::decode(l.as_bytes()).unwrap())
            .collect()
    }

    #[test]
    fn entries_older_than_ninety_days_go_and_younger_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = EventLog::open(dir.path(), NOW - Duration::days(91)).unwrap();
        let old = event(NOW - Duration::days(91), started());
        let young = event(
            NOW - Duration::days(89),
            EventKind::CallEnded {
                appointment: "a1".into(),
                reason: EndReason::LocalHangup,
                duration_s: 60,
                quality: None,
            },
        );
        let today = event(
            NOW,
            EventKind::ConsentGiven {
                appointment: "a1".into(),
            },
        );
        for report in [&old, &young] {
            log.record(report).unwrap();
        }
        assert_eq!(lines(dir.path()), [old.clone(), young.clone()]);

        // Recording on a new day prunes first.
        log.record(&today).unwrap();
        assert_eq!(lines(dir.path()), [young.clone(), today.clone()]);

        // And a restart 2 days later drops what passed the limit in between.
        drop(log);
        EventLog::open(dir.path(), NOW + Duration::days(2)).unwrap();
        assert_eq!(lines(dir.path()), [today]);
    }

    #[test]
    fn recent_calls_are_the_newest_ended_calls_of_the_span_with_their_quality() {
        use crate::wire::QualityLevel;
        let dir = tempfile::tempdir().unwrap();
        let mut log = EventLog::open(dir.path(), NOW - Duration::days(20)).unwrap();
        let ended = |days: i64, quality| {
            event(
                NOW - Duration::days(days),
                EventKind::CallEnded {
                    appointment: "a1".into(),
                    reason: EndReason::RemoteHangup,
                    duration_s: days as u64,
                    quality,
                },
            )
        };
        let test_call = EventKind::TestCallEnded {
            test: "test-1".into(),
            duration_s: 60,
            video_frames_received: 900,
            audio_buffers_received: 3000,
            audio_level_dbfs: Some(-20),
            failure: None,
        };
        for report in [
            ended(20, Some(QualityLevel::Good)),
            ended(3, Some(QualityLevel::Poor)),
            event(NOW - Duration::days(2), started()),
            event(NOW - Duration::days(2), test_call),
            ended(1, None),
        ] {
            log.record(&report).unwrap();
        }
        let recent = log.recent_calls(NOW, Duration::days(14), 50).unwrap();
        let seen: Vec<_> = recent.iter().map(|c| (c.duration_s, c.quality)).collect();
        assert_eq!(seen, [(3, Some(QualityLevel::Poor)), (1, None)]);
        assert_eq!(recent[1].ended_at, NOW - Duration::days(1));
        let newest = log.recent_calls(NOW, Duration::days(14), 1).unwrap();
        assert_eq!(newest.len(), 1);
        assert_eq!(newest[0].duration_s, 1);
    }

    #[test]
    fn a_timer_prunes_once_a_day_even_without_events() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = EventLog::open(dir.path(), NOW).unwrap();
        log.record(&event(NOW, LOCKOUT)).unwrap();
        log.prune_if_new_day(NOW + RETENTION).unwrap();
        assert_eq!(lines(dir.path()).len(), 1, "exactly 90 days old is kept");
        log.prune_if_new_day(NOW + RETENTION + Duration::hours(1))
            .unwrap();
        assert_eq!(
            lines(dir.path()).len(),
            1,
            "the same day is not pruned twice"
        );
        log.prune_if_new_day(NOW + RETENTION + Duration::days(1))
            .unwrap();
        assert!(lines(dir.path()).is_empty());
    }

    #[test]
    fn the_file_is_for_the_owner_only_and_wipe_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        fs::write(&path, b"").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let mut log = EventLog::open(dir.path(), NOW).unwrap();
        let mode = || fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(), 0o600, "an existing file is tightened");
        fs::remove_file(&path).unwrap();
        log.record(&event(NOW, started())).unwrap();
        assert_eq!(mode(), 0o600, "a new file is created 0600");
        log.prune(NOW + Duration::days(100)).unwrap();
        assert_eq!(mode(), 0o600, "a rewritten file is 0600");

        fs::write(tmp_path(dir.path()), b"left over").unwrap();
        wipe(dir.path()).unwrap();
        assert!(!path.exists());
        assert!(!tmp_path(dir.path()).exists());
        wipe(dir.path()).unwrap();
    }

    #[test]
    fn unreadable_lines_are_dropped_and_the_rest_kept_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let good =
            r#"{"v":1,"ts":"2026-11-27T09:00:00Z","event":"call_started","appointment":"a1"}"#;
        let later = r#"{"v":1,"ts":"2026-11-27T09:05:00Z","event":"call_ended","firmware":"x"}"#;
        let text = format!(
            "{good}\nnot json\n{{\"v\":2,\"ts\":\"2026-11-27T09:00:00Z\",\"event\":\"lockout\"}}\n\n{{\"v\":1}}\n{later}\n{{\"v\":1,\"ts\":\"2026-11-2"
        );
        fs::write(dir.path().join(FILE), text).unwrap();
        let mut log = EventLog::open(dir.path(), NOW).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join(FILE)).unwrap(),
            format!("{good}\n{later}\n"),
            "a torn last line is gone too, so the next append starts on its own line"
        );
        log.record(&event(NOW, LOCKOUT)).unwrap();
        let text = fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
    }

    /// The flow's reports as the daemon records them.
    fn reports(actions: Vec<Action>) -> Vec<EventReport> {
        actions
            .into_iter()
            .filter_map(|action| match action {
                Action::Report(event) => Some(EventReport::new(NOW, event)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn no_name_is_ever_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = EventLog::open(dir.path(), NOW).unwrap();
        let t0 = Instant::now();
        let mut kiosk = Kiosk::new(Timeouts::default());
        let mut events = vec![kiosk.handle(Event::BrokerReachable(true), t0)];
        // Wrong codes up to a lockout, then two consultations: one with the appointment's name
        // that the patient corrects at the kiosk and hangs up, one whose camera fails in the call.
        for _ in 0..crate::flow::ATTEMPTS_BEFORE_LOCKOUT {
            events.push(kiosk.handle(Event::CodeChecked(None), t0));
        }
        let t1 = t0 + std::time::Duration::from_secs(3600 * 2);
        for (typed, end) in [
            (Some("Erika Gabler"), Event::HangUp),
            (None, Event::CallFailed(Failure::Camera)),
        ] {
            let mut steps = vec![
                Event::CodeChecked(Some(appointment(Some("Max Mustermann")))),
                Event::Accept(typed.map(String::from)),
                Event::DoctorJoined,
                Event::MediaFlowing,
                Event::Interrupted,
                Event::Resumed {
                    outage: std::time::Duration::from_secs(2),
                },
                Event::Relayed,
                end,
                Event::Tick,
            ];
            for step in steps.drain(..) {
                events.push(kiosk.handle(step, t1));
            }
            events.push(kiosk.handle(Event::Tick, t1 + std::time::Duration::from_secs(60)));
        }
        for outcome in events {
            for report in reports(outcome.actions) {
                log.record(&report).unwrap();
            }
        }
        let text = fs::read_to_string(dir.path().join(FILE)).unwrap();
        for expected in [
            "lockout",
            "local_hangup",
            "camera_missing",
            "consent_given",
            "call_resumed",
            "relay_used",
        ] {
            assert!(text.contains(expected), "{expected} recorded: {text}");
        }
        for name in ["Max", "Mustermann", "Erika", "Gabler", "Muster"] {
            assert!(!text.contains(name), "{name} written: {text}");
        }
    }

    #[test]
    fn a_call_a_crash_left_open_is_closed_at_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = EventLog::open(dir.path(), NOW).unwrap();
        let minute = time::Duration::minutes(1);
        let a1 = || "a1".to_string();
        for report in [
            event(NOW, started()),
            event(
                NOW + minute,
                EventKind::CallEnded {
                    appointment: a1(),
                    reason: EndReason::LocalHangup,
                    duration_s: 60,
                    quality: None,
                },
            ),
        ] {
            log.record(&report).unwrap();
        }
        assert_eq!(log.unclosed_call(NOW).unwrap(), None, "a closed call");
        let later = NOW + 10 * minute;
        log.record(&event(later, started())).unwrap();
        log.record(&event(
            later + 2 * minute,
            EventKind::CallInterrupted { appointment: a1() },
        ))
        .unwrap();
        // kioskd is killed here; it starts again an hour later.
        let restart = later + 60 * minute;
        let log = EventLog::open(dir.path(), restart).unwrap();
        assert_eq!(
            log.unclosed_call(restart).unwrap(),
            Some(event(
                restart,
                EventKind::CallEnded {
                    appointment: a1(),
                    reason: EndReason::Crashed,
                    duration_s: 120,
                    quality: None,
                }
            ))
        );
        assert_eq!(
            String::from_utf8(wire::encode(&log.unclosed_call(restart).unwrap().unwrap())).unwrap(),
            r#"{"v":1,"ts":"2026-11-28T11:10:00Z","event":"call_ended","appointment":"a1","reason":"crashed","duration_s":120}"#
        );
    }
}
