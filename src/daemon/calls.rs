//! The call slot: the one call that runs (or none), the calls being ended, and what calls told
//! about the camera and microphone. It alone starts and ends call tasks.
//!
//! Every call gets a join id. Its reports reach the main loop tagged with that id, and so does
//! its end: the task that ends a call returns `(id, final statistics)`, so a call that finishes
//! late can never be taken for the next one.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::devices::DeviceWatch;
use crate::call::{
    self, CallHandle, CallReport, CallSpec, CodeBasis, IceSpec, Reading, Role, SignalOut,
};
use crate::flow::Failure;
use crate::media::MediaSpec;
use crate::wire::{CallStats, Health, Hello, SessionKey, Signal};

/// A call's report, tagged with its join id.
pub(super) type Tagged = (u64, CallReport);

struct ActiveCall {
    id: u64,
    session: String,
    handle: CallHandle,
}

pub(super) struct CallSlot {
    /// What calls send, and where their pictures go.
    media: MediaSpec,
    jitter_latency_ms: u32,
    /// How long an interrupted call is kept while its connection is recovered.
    reconnect: Duration,
    active: Option<ActiveCall>,
    /// Calls being ended; each ends with its join id and final statistics.
    leaving: JoinSet<(u64, CallStats)>,
    reports: mpsc::Sender<Tagged>,
    joins: u64,
    /// The final statistics of the last call that ended.
    last_stats: Option<CallStats>,
    devices: DeviceWatch,
    /// The largest picture the screen shows, which the doctor's side is asked not to exceed.
    video_max: Option<(u32, u32)>,
    /// What the first call would otherwise wait for, begun on the first code accepted; kept
    /// (and so waited for) until the slot goes.
    warm_up: Option<call::WarmUp>,
}

impl std::fmt::Debug for CallSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallSlot")
            .field("active", &self.active.as_ref().map(|a| a.id))
            .field("leaving", &self.leaving.len())
            .finish_non_exhaustive()
    }
}

impl CallSlot {
    pub fn new(
        media: MediaSpec,
        jitter_latency_ms: u32,
        reconnect: Duration,
        reports: mpsc::Sender<Tagged>,
    ) -> Self {
        Self {
            media,
            jitter_latency_ms,
            reconnect,
            active: None,
            leaving: JoinSet::new(),
            reports,
            joins: 0,
            last_stats: None,
            devices: DeviceWatch::default(),
            warm_up: None,
            video_max: None,
        }
    }

    /// The screen shows the remote picture at most `size` large.
    pub fn with_video_max(mut self, size: (u32, u32)) -> Self {
        self.video_max = Some(size);
        self
    }

    /// A call is coming (a code was accepted; the patient reads the consent screen): loads
    /// and makes ahead what its pipeline needs, once. Not at start: a kiosk that nobody calls
    /// spends nothing on it, and the consent screen takes longer to read than this to do.
    pub fn prepare(&mut self) {
        if self.warm_up.is_none() {
            self.warm_up = Some(call::warm_up(&self.media));
        } else {
            // The first warm-up made the first calls' certificates; each later call's comes
            // from here.
            call::make_dtls_certificates_ahead();
        }
    }

    /// The broker link is back: the running call may recover through it.
    pub fn link_restored(&self) {
        if let Some(active) = &self.active {
            active.handle.link_restored();
        }
    }

    /// This machine's addresses changed: the running call's path is gone.
    pub fn network_changed(&self) {
        if let Some(active) = &self.active {
            active.handle.network_changed();
        }
    }

    pub fn is_running(&self) -> bool {
        self.active.is_some()
    }

    /// Starts the call of `session` as the offerer; its signalling goes out through `out`.
    /// A call still running is ended first (the flow never lets that happen); its session is
    /// returned, so its owner can stop listening to it.
    pub fn join(
        &mut self,
        session: String,
        patient_name: String,
        ice: IceSpec,
        key: Option<SessionKey>,
        consent: Option<crate::wire::SignedMsg>,
        out: impl SignalOut,
    ) -> Option<String> {
        let left = self.leave();
        if let Some(left) = &left {
            tracing::warn!(session = %left, "a call was still running; ended");
        }
        let hello = Hello {
            ice_servers: ice.shared.clone(),
            reconnect_s: Some(self.reconnect.as_secs().try_into().unwrap_or(u32::MAX)),
            video_max: self.video_max.map(|(w, h)| format!("{w}x{h}")),
            consent: consent.map(Box::new),
            ..Hello::new(patient_name)
        };
        let spec = CallSpec {
            role: Role::Offerer,
            hello,
            media: self.media.clone(),
            ice,
            reconnect: self.reconnect,
            jitter_latency_ms: self.jitter_latency_ms,
            code: CodeBasis {
                session: session.clone(),
                key,
            },
        };
        // A call reports at most once per request it takes (a hello), and takes at most 64 at a
        // time: room for a full queue of them, so a report that matters is never crowded out.
        let (tx, mut rx) = mpsc::channel(64);
        let handle = call::start(spec, Box::new(out), tx);
        self.joins += 1;
        let (tagged, id) = (self.reports.clone(), self.joins);
        tokio::spawn(async move {
            while let Some(report) = rx.recv().await {
                if tagged.send((id, report)).await.is_err() {
                    return;
                }
            }
            // The call task ended. If nobody asked it to (a panic), the flow must hear of it;
            // after a normal end this report no longer matches the active call.
            let _ = tagged
                .send((
                    id,
                    CallReport::Failed {
                        failure: Failure::Connection,
                        why: "call task ended".into(),
                    },
                ))
                .await;
        });
        tracing::info!(%session, "joined call session");
        self.active = Some(ActiveCall {
            id,
            session,
            handle,
        });
        left
    }

    /// Ends the running call in the background (its `bye`, if any, is the caller's to send, so
    /// it goes out before the state the same step publishes). Returns the session it was in.
    pub fn leave(&mut self) -> Option<String> {
        let ActiveCall {
            id,
            session,
            handle,
        } = self.active.take()?;
        let left = session.clone();
        self.leaving.spawn(async move {
            let stats = handle.finish(None).await;
            tracing::info!(
                %session,
                video_frames_received = stats.video_frames_received,
                audio_buffers_received = stats.audio_buffers_received,
                "left call session"
            );
            (id, stats)
        });
        Some(left)
    }

    /// The session of the running call, if `id` is it: reports of calls already ended are
    /// stale.
    pub fn session_of(&self, id: u64) -> Option<&str> {
        self.active
            .as_ref()
            .filter(|active| active.id == id)
            .map(|active| active.session.as_str())
    }

    /// Hands a signalling message of `session` to its call; anything for another session is
    /// left alone.
    pub fn deliver(&self, session: &str, signal: Signal) {
        match &self.active {
            Some(active) if active.session == session => active.handle.deliver(signal),
            _ => tracing::debug!(%session, "signalling for a session we are not in ignored"),
        }
    }

    /// Call `id` failed; a device failure says something about the device.
    pub fn failed(&mut self, id: u64, failure: Failure) {
        self.devices.failed(id, failure);
    }

    /// The next call that has ended, with its final statistics; `None` at once when no call is
    /// being ended.
    pub async fn next_ended(&mut self) -> Option<(u64, CallStats)> {
        loop {
            match self.leaving.join_next().await? {
                Ok(ended) => return Some(ended),
                Err(e) => tracing::error!(error = %e, "ending a call failed"),
            }
        }
    }

    /// Takes in what a call that ended left: its statistics, and what they say of the devices.
    pub fn ended(&mut self, (id, stats): (u64, CallStats)) {
        self.devices.ended(id, &stats);
        self.last_stats = Some(stats);
    }

    /// Waits until every call being ended has ended.
    pub async fn settle(&mut self) {
        while let Some(ended) = self.next_ended().await {
            self.ended(ended);
        }
    }

    /// The running call's statistics, if a call runs.
    pub fn reading(&self, now: Instant) -> Option<Reading> {
        self.active.as_ref().map(|active| active.handle.stats(now))
    }

    /// The running call's statistics, or else the last call's.
    pub fn latest_stats(&self, now: Instant) -> Option<CallStats> {
        match self.reading(now) {
            Some(Reading::Fresh(stats) | Reading::Stalled { last: stats, .. }) => Some(stats),
            None => self.last_stats.clone(),
        }
    }

    /// How long the running call has not answered, if it has stopped answering.
    pub fn stalled_for(&self, now: Instant) -> Option<Duration> {
        match self.reading(now) {
            Some(Reading::Stalled { silent_for, .. }) => Some(silent_for),
            _ => None,
        }
    }

    pub fn health(&self) -> Health {
        self.devices.health()
    }

    pub fn set_muted(&self, muted: bool) {
        if let Some(active) = &self.active {
            active.handle.set_muted(muted);
        }
    }

    pub fn set_camera_off(&self, off: bool) {
        if let Some(active) = &self.active {
            active.handle.set_camera_off(off);
        }
    }

    /// Tests only: makes the running call hang. `false` when there is none.
    pub fn hang_for_test(&self) -> bool {
        self.active
            .as_ref()
            .map(|active| active.handle.hang_for_test())
            .is_some()
    }
}
