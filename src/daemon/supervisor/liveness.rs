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
//! answered for its statistics within [`CALL_ANSWER`]. If any does not, the pings stop and
//! systemd restarts kioskd when `WatchdogSec` runs out.

use std::time::{Duration, Instant};

use super::{Supervisor, now};
use crate::platform::systemd::Notifier;

/// A connected link turns at least every keep-alive (10 s); a disconnected one every backoff
/// wait (3 s at most) or connection timeout (5 s). Twice the longest, and some.
pub(super) const LINK_SILENCE: Duration = Duration::from_secs(25);
/// The display takes 5 frames a second when idle.
const SCREEN_SILENCE: Duration = Duration::from_secs(5);
/// How long a provisioned kiosk waits for its broker before it reports ready anyway.
const READY_GRACE: Duration = Duration::from_secs(20);

#[derive(Debug)]
pub(super) struct Liveness {
    notifier: Notifier,
    started: Instant,
    ready: bool,
    frames: u64,
    frames_moved: Instant,
    status: String,
    /// Whether the control socket may make parts hang (`PRAXISKIOSK_TEST_FAULTS=1`).
    pub(super) faults_allowed: bool,
}

impl Liveness {
    pub(super) fn from_env() -> Self {
        Self {
            notifier: Notifier::from_env(),
            started: now(),
            ready: false,
            frames: 0,
            frames_moved: now(),
            status: String::new(),
            faults_allowed: std::env::var("PRAXISKIOSK_TEST_FAULTS").as_deref() == Ok("1"),
        }
    }

    pub(super) fn ping_every(&self) -> Option<Duration> {
        self.notifier.ping_every()
    }

    pub(super) fn stopping(&self) {
        self.notifier.stopping();
    }
}

impl Supervisor {
    /// The status line, and `READY=1` the first time kioskd serves.
    pub(super) fn report_liveness(&mut self) {
        let status = self.status_line();
        let ui_up = self.screen.display().frames_shown() > 0;
        let fleet_settled = match &self.uplink {
            None => true,
            Some(_) => {
                self.broker_up == Some(true) || self.liveness.started.elapsed() >= READY_GRACE
            }
        };
        let live = &mut self.liveness;
        if !live.ready && ui_up && fleet_settled {
            live.ready = true;
            tracing::info!(%status, "ready");
            live.notifier.ready(&status);
        } else if live.status != status {
            live.notifier.status(&status);
        }
        live.status = status;
    }

    fn status_line(&self) -> String {
        let Some(up) = &self.uplink else {
            return format!(
                "not provisioned: waiting for {}",
                self.config.provisioning_bundle.display()
            );
        };
        let broker = match self.broker_up {
            Some(true) => format!("connected to {}", up.access.endpoint.url),
            Some(false) => format!(
                "broker {} unreachable, serving stored appointments",
                up.access.endpoint.url
            ),
            None => format!("connecting to {}", up.access.endpoint.url),
        };
        format!(
            "{}: {}, {} appointment(s), device {}",
            self.kiosk.state().as_str(),
            broker,
            self.book.len(),
            up.access.device
        )
    }

    /// Pings the watchdog if every part answers; otherwise says which does not.
    pub(super) async fn watchdog(&mut self) {
        let frames = self.screen.display().frames_shown();
        if frames != self.liveness.frames {
            self.liveness.frames = frames;
            self.liveness.frames_moved = now();
        }
        let mut stuck = Vec::new();
        if let Some(up) = &self.uplink
            && up.link.silent_for() > LINK_SILENCE
        {
            stuck.push(format!("MQTT link silent for {:?}", up.link.silent_for()));
        }
        if self.liveness.frames_moved.elapsed() > SCREEN_SILENCE {
            stuck.push(format!(
                "display took no frame for {:?}",
                self.liveness.frames_moved.elapsed()
            ));
        }
        if let Some(active) = &self.call
            && let crate::call::Reading::Stalled { .. } = active.handle.stats(now())
        {
            stuck.push("the call does not answer".into());
        }
        if stuck.is_empty() {
            self.liveness.notifier.ping();
            self.report_liveness();
        } else {
            let status = format!("unhealthy, watchdog pings stopped: {}", stuck.join("; "));
            if self.liveness.status != status {
                tracing::error!(%status, "a part of kioskd hangs");
                self.liveness.notifier.status(&status);
                self.liveness.status = status;
            }
        }
    }
}
