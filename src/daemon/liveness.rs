//! kioskd towards systemd: `READY=1` once it serves, `WATCHDOG=1` only while every part answers,
//! and a `STATUS=` line a person can read.
//!
//! Ready means: the display shows frames (the UI is up), the media elements were checked at start,
//! and the broker connection is up. Two exceptions keep a kiosk from being restarted in a loop
//! for what a restart cannot fix: a kiosk that is not provisioned is ready when its screen says
//! so, and one whose broker is unreachable is ready after [`READY_GRACE`], serving the appointments
//! it stored (the status line says so).
//!
//! Healthy means: the main loop runs (it is what sends the ping), the link task turned within
//! [`LINK_SILENCE`], the display took a frame within [`SCREEN_SILENCE`], and a running call
//! published its statistics within the last three seconds (see `call::Reading`). If any does
//! not, the pings stop and systemd restarts kioskd when `WatchdogSec` runs out.

use std::time::{Duration, Instant};

use crate::platform::systemd::Notifier;

/// A connected link turns at least every keep-alive (10 s); a disconnected one every backoff
/// wait (3 s at most) or connection timeout (5 s). Twice the longest, and some.
const LINK_SILENCE: Duration = Duration::from_secs(25);
/// The display takes 5 frames a second when idle.
const SCREEN_SILENCE: Duration = Duration::from_secs(5);
/// How long a provisioned kiosk waits for its broker before it reports ready anyway.
pub(super) const READY_GRACE: Duration = Duration::from_secs(20);

/// What the watchdog looks at, read from the parts that own it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Signs {
    /// How long the MQTT link task has not turned (`None` without a link).
    pub link_silent_for: Option<Duration>,
    /// Frames the display took so far.
    pub frames_shown: u64,
    /// How long a running call has not answered, if it has stopped.
    pub call_stalled_for: Option<Duration>,
}

#[derive(Debug)]
pub(super) struct Liveness {
    notifier: Notifier,
    ready: bool,
    /// The display's frame count, and when it last moved.
    frames: (u64, Instant),
    status: String,
    /// Whether the control socket may make parts hang (`PRAXISKIOSK_TEST_FAULTS=1`).
    faults_allowed: bool,
}

impl Liveness {
    pub fn from_env(now: Instant) -> Self {
        Self {
            notifier: Notifier::from_env(),
            ready: false,
            frames: (0, now),
            status: String::new(),
            faults_allowed: std::env::var("PRAXISKIOSK_TEST_FAULTS").as_deref() == Ok("1"),
        }
    }

    pub fn faults_allowed(&self) -> bool {
        self.faults_allowed
    }

    /// How often to ping systemd's watchdog; `None` when it has none for us.
    pub fn ping_every(&self) -> Option<Duration> {
        self.notifier.ping_every()
    }

    pub fn stopping(&self) {
        self.notifier.stopping();
    }

    /// The status line, and `READY=1` the first time kioskd serves.
    pub fn report(&mut self, status: String, ui_up: bool, fleet_settled: bool) {
        if !self.ready && ui_up && fleet_settled {
            self.ready = true;
            tracing::info!(%status, "ready");
            self.notifier.ready(&status);
        } else if self.status != status {
            self.notifier.status(&status);
        }
        self.status = status;
    }

    /// Pings the watchdog if every part answers; otherwise says which does not, and does not
    /// ping. Returns whether it pinged.
    pub fn watchdog(&mut self, signs: Signs, now: Instant) -> bool {
        let stuck = self.stuck(signs, now);
        if stuck.is_empty() {
            self.notifier.ping();
            return true;
        }
        let status = format!("unhealthy, watchdog pings stopped: {}", stuck.join("; "));
        if self.status != status {
            tracing::error!(%status, "a part of kioskd hangs");
            self.notifier.status(&status);
            self.status = status;
        }
        false
    }

    /// The parts that hang, in words.
    fn stuck(&mut self, signs: Signs, now: Instant) -> Vec<String> {
        if signs.frames_shown != self.frames.0 {
            self.frames = (signs.frames_shown, now);
        }
        let mut stuck = Vec::new();
        if let Some(silent) = signs.link_silent_for.filter(|s| *s > LINK_SILENCE) {
            stuck.push(format!("MQTT link silent for {silent:?}"));
        }
        let frameless = now.saturating_duration_since(self.frames.1);
        if frameless > SCREEN_SILENCE {
            stuck.push(format!("display took no frame for {frameless:?}"));
        }
        if let Some(silent) = signs.call_stalled_for {
            stuck.push(format!("the call does not answer (silent for {silent:?})"));
        }
        stuck
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy(frames: u64) -> Signs {
        Signs {
            link_silent_for: Some(Duration::from_secs(1)),
            frames_shown: frames,
            call_stalled_for: None,
        }
    }

    #[test]
    fn each_hung_part_is_named_and_stops_the_pings() {
        let t0 = Instant::now();
        let mut live = Liveness::from_env(t0);
        assert!(live.stuck(healthy(5), t0).is_empty());
        let later = t0 + Duration::from_secs(6);
        assert_eq!(
            live.stuck(healthy(5), later),
            ["display took no frame for 6s"]
        );
        assert!(
            live.stuck(healthy(6), later).is_empty(),
            "frames move again"
        );
        let hung = Signs {
            link_silent_for: Some(Duration::from_secs(30)),
            call_stalled_for: Some(Duration::from_secs(4)),
            ..healthy(7)
        };
        assert_eq!(
            live.stuck(hung, later),
            [
                "MQTT link silent for 30s",
                "the call does not answer (silent for 4s)"
            ]
        );
        assert!(!live.watchdog(hung, later), "no ping while a part hangs");
        assert!(live.watchdog(healthy(8), later));
    }
}
