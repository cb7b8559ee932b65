//! A call: one webrtcbin session type with two roles. The kiosk is always the offerer;
//! `kioskctl doctor` answers with this same code (the doctor's browser page answers with its own
//! WebRTC, by the same protocol). Signalling goes out through a [`SignalOut`] and comes in through
//! [`CallHandle::deliver`]; the call never touches MQTT itself.
//!
//! The call task is the only owner of its pipeline. Media is never written anywhere but to the
//! configured playback sinks.

mod peer;
mod session;
mod stats;

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use crate::flow::Failure;
use crate::media::MediaSpec;
use crate::wire::{ByeReason, CallStats, Signal};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Builds the connection and offers as soon as the other side says hello (the kiosk).
    Offerer,
    /// Answers offers (the doctor).
    Answerer,
}

/// Which ICE servers and addresses a call may use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IceSpec {
    /// `stun://host:port`, the form webrtcbin takes.
    pub stun: Option<String>,
    /// `turn(s)://user:pass@host:port`; empty unless relaying is allowed (P2P is the legal default).
    pub turn: Vec<String>,
    /// Restrict ICE to these local addresses (tests use 127.0.0.1); empty means all interfaces.
    pub local_addresses: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct CallSpec {
    pub role: Role,
    /// Our name in `hello`: the patient's on the kiosk, the doctor's on the doctor's side.
    pub hello_name: String,
    pub media: MediaSpec,
    pub ice: IceSpec,
    /// Jitter buffer latency in ms; webrtcbin's default of 200 ms is too long for a conversation.
    pub jitter_latency_ms: u32,
}

/// What the call tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallReport {
    PeerJoined {
        name: String,
    },
    /// The first remote video frame was decoded.
    MediaFlowing,
    RemoteBye(ByeReason),
    Failed {
        failure: Failure,
        why: String,
    },
}

/// Where outgoing signalling goes (the fleet's session topic, in practice).
pub trait SignalOut: Send + Sync + 'static {
    fn send(&self, signal: Signal);
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("GStreamer: {0}")]
    Glib(#[from] gst::glib::Error),
    #[error("GStreamer: {0}")]
    Bool(#[from] gst::glib::BoolError),
    #[error("pipeline state change failed: {0}")]
    State(#[from] gst::StateChangeError),
    #[error("could not link: {0}")]
    Link(#[from] gst::PadLinkError),
    #[error("the remote SDP could not be parsed")]
    BadSdp,
    #[error("{0}")]
    Setup(String),
    #[error("{0:?}: {1}")]
    Device(Failure, String),
}

#[derive(Debug)]
enum CallCommand {
    Signal(Signal),
    Stats(oneshot::Sender<CallStats>),
    Leave(Option<ByeReason>),
    Mute(bool),
    CameraOff(bool),
}

/// The handle to a running call task.
#[derive(Debug)]
pub struct CallHandle {
    commands: mpsc::Sender<CallCommand>,
    task: JoinHandle<CallStats>,
}

/// Starts a call task. It says hello at once and then follows the signalling.
pub fn start(
    spec: CallSpec,
    out: Box<dyn SignalOut>,
    reports: mpsc::Sender<CallReport>,
) -> CallHandle {
    let (commands, rx) = mpsc::channel(64);
    let task = tokio::spawn(session::run(spec, out, rx, reports));
    CallHandle { commands, task }
}

/// Checks that GStreamer has every element a call with `media` needs, and names the missing ones.
/// Starts GStreamer and registers the elements linked into this program (`rtpgccbwe`).
pub fn init() -> Result<(), gst::glib::Error> {
    gst::init()?;
    gstrsrtp::plugin_register_static()
        .map_err(|e| gst::glib::Error::new(gst::CoreError::Failed, &e.to_string()))
}

pub fn check_elements(media: &MediaSpec) -> Result<(), Vec<&'static str>> {
    crate::media::present(crate::media::required_elements(media))
}

impl CallHandle {
    /// Hands an incoming signalling message to the call. Never blocks; a call too far behind
    /// to take it is a failing call anyway.
    pub fn deliver(&self, signal: Signal) {
        if self.commands.try_send(CallCommand::Signal(signal)).is_err() {
            tracing::warn!("signalling message dropped: call task not keeping up or gone");
        }
    }

    /// Mutes or unmutes the microphone (the other side keeps receiving silence).
    pub fn set_muted(&self, muted: bool) {
        if self.commands.try_send(CallCommand::Mute(muted)).is_err() {
            tracing::warn!("mute request dropped: call task gone");
        }
    }

    /// Turns the camera picture black, or back on.
    pub fn set_camera_off(&self, off: bool) {
        if self.commands.try_send(CallCommand::CameraOff(off)).is_err() {
            tracing::warn!("camera request dropped: call task gone");
        }
    }

    /// The statistics so far; `None` once the call task has ended or when it does not answer
    /// within a second (its owner must never hang on a stuck pipeline).
    pub async fn stats(&self) -> Option<CallStats> {
        let (tx, rx) = oneshot::channel();
        let ask = async {
            self.commands.send(CallCommand::Stats(tx)).await.ok()?;
            rx.await.ok()
        };
        tokio::time::timeout(Duration::from_secs(1), ask)
            .await
            .ok()
            .flatten()
    }

    /// Ends the call (saying `bye` with `reason` if given) and returns its final statistics.
    pub async fn finish(self, bye: Option<ByeReason>) -> CallStats {
        let _ = self.commands.send(CallCommand::Leave(bye)).await;
        let mut task = self.task;
        match tokio::time::timeout(Duration::from_secs(5), &mut task).await {
            Ok(Ok(stats)) => stats,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "call task failed");
                CallStats::default()
            }
            Err(_) => {
                tracing::error!("call task did not stop within 5 s; aborted");
                task.abort();
                CallStats::default()
            }
        }
    }
}
