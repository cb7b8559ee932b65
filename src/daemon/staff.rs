//! The staff's side of the touchscreen: the staff PIN's lockout, the device test that runs while
//! the staff check shows, and the speaker's test tone (also played by the fleet's `identify`).
//! The PIN itself is checked off the main loop (`checks`); what it found comes back here.

use std::time::Instant;

use super::lockout_file::LockoutFile;
use crate::flow::Lockout;
use crate::media::check::{DeviceCheck, speaker_tone};
use crate::media::{AudioSink, EchoCancellation, MediaSpec};
use crate::ui::view::{CodeNotice, EchoCanceller, StaffCheck};

#[derive(Debug)]
pub(super) struct StaffDesk {
    /// What the device test opens: the call's camera and microphone.
    media: MediaSpec,
    speaker: AudioSink,
    /// The camera and microphone test, running while the staff check shows.
    device_check: Option<DeviceCheck>,
    /// The speaker test tone, while it plays.
    tone: Option<gst::Pipeline>,
    /// Wrong staff PINs lock the keypad like wrong codes do, across restarts too.
    lockout: Lockout,
    lockout_file: LockoutFile,
}

impl StaffDesk {
    /// `lockout_file` hands back the lockout as it was when kioskd last stopped.
    pub fn new(media: MediaSpec, speaker: AudioSink, lockout_file: LockoutFile) -> Self {
        Self {
            media,
            speaker,
            device_check: None,
            tone: None,
            lockout: lockout_file.load(time::OffsetDateTime::now_utc(), Instant::now()),
            lockout_file,
        }
    }

    /// The device test runs exactly while the staff check shows.
    pub fn follow(&mut self, staff_check_shows: bool) {
        match (staff_check_shows, self.device_check.is_some()) {
            (true, false) => self.device_check = Some(DeviceCheck::start(&self.media)),
            (false, true) => self.device_check = None,
            _ => {}
        }
    }

    /// Once a second: the device test's findings.
    pub fn poll(&mut self) {
        if let Some(check) = self.device_check.as_mut() {
            check.poll();
        }
    }

    pub fn findings(&self) -> StaffCheck {
        let check = self.device_check.as_ref();
        StaffCheck {
            camera_ok: check.is_some_and(DeviceCheck::camera_ok),
            microphone_ok: check.is_some_and(DeviceCheck::microphone_ok),
            mic_level: check.map_or(0.0, DeviceCheck::level),
            echo: match self.media.voice.echo {
                EchoCancellation::Webrtc => EchoCanceller::Active,
                EchoCancellation::Device => EchoCanceller::InDevice,
                EchoCancellation::Off => EchoCanceller::Off,
            },
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    pub fn play_tone(&mut self) {
        self.tone = speaker_tone(self.speaker);
    }

    /// Whether a PIN may be checked now; asked before the slow hash, so a locked keypad does no
    /// work for a guesser.
    pub fn pin_entry_allowed(&self, now: Instant) -> Result<(), CodeNotice> {
        match self.lockout.remaining(now) {
            Some(left) => Err(CodeNotice::LockedOut {
                remaining_s: left.as_secs_f64().ceil() as u64,
            }),
            None => Ok(()),
        }
    }

    /// What a checked PIN means for the keypad.
    pub fn pin_checked(&mut self, right: bool, now: Instant) -> Result<(), CodeNotice> {
        let outcome = if right {
            self.lockout.succeed();
            Ok(())
        } else {
            tracing::warn!("wrong staff PIN");
            Err(match self.lockout.fail(now) {
                Some(length) => CodeNotice::LockedOut {
                    remaining_s: length.as_secs(),
                },
                None => CodeNotice::Wrong {
                    attempts_left: self.lockout.attempts_left(),
                },
            })
        };
        self.lockout_file
            .save(self.lockout.record(now), time::OffsetDateTime::now_utc());
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::ATTEMPTS_BEFORE_LOCKOUT;

    #[test]
    fn wrong_pins_lock_the_keypad_and_a_right_one_forgives() {
        let dir = tempfile::tempdir().unwrap();
        let desk_in = |dir: &std::path::Path| {
            let file = LockoutFile::staff_pin(dir);
            StaffDesk::new(MediaSpec::test_sources(), AudioSink::Fake, file)
        };
        let mut desk = desk_in(dir.path());
        let t0 = Instant::now();
        assert_eq!(
            desk.pin_checked(false, t0),
            Err(CodeNotice::Wrong {
                attempts_left: ATTEMPTS_BEFORE_LOCKOUT - 1
            })
        );
        assert_eq!(desk.pin_checked(true, t0), Ok(()));
        for _ in 1..ATTEMPTS_BEFORE_LOCKOUT {
            let _ = desk.pin_checked(false, t0);
        }
        assert_eq!(
            desk.pin_checked(false, t0),
            Err(CodeNotice::LockedOut { remaining_s: 60 })
        );
        assert_eq!(
            desk.pin_entry_allowed(t0 + std::time::Duration::from_millis(500)),
            Err(CodeNotice::LockedOut { remaining_s: 60 })
        );
        // kioskd restarts: the keypad stays locked. (The file counts from the second begun and
        // rounds up, so a restart never shortens a lockout: up to 61 s may be left.)
        drop(desk);
        let desk = desk_in(dir.path());
        let left = desk.pin_entry_allowed(Instant::now());
        assert!(
            matches!(
                left,
                Err(CodeNotice::LockedOut {
                    remaining_s: 1..=61
                })
            ),
            "{left:?}"
        );
        assert!(
            !dir.path().join("lockout.json").exists(),
            "the codes' lockout is apart"
        );
    }
}
