//! A call: one webrtcbin session type with two roles. The kiosk is always the offerer;
//! `kioskctl doctor` answers with this same code (the doctor's browser page answers with its own
//! WebRTC, by the same protocol). Signalling goes out through a [`SignalOut`] and comes in through
//! [`CallHandle::deliver`]; the call never touches MQTT itself.
//!
//! The call task is the only owner of its pipeline. Media is never written anywhere but to the
//! configured playback sinks.

mod peer;
mod session;
mod signalling;
mod stats;

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
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

/// What the owner asks of its call task.
#[derive(Debug)]
enum Request {
    Signal(Signal),
    Leave(Option<ByeReason>),
    Mute(bool),
    CameraOff(bool),
    /// Tests only: the task stops turning, as a call stuck in GStreamer would.
    Hang,
}

/// The call's statistics as its task last published them (once a second).
#[derive(Debug, Clone)]
struct Snapshot {
    stats: CallStats,
    at: Instant,
}

/// How old the statistics may be before the call counts as not answering: its task publishes
/// them every second, so three missed turns.
const STALLED_AFTER: Duration = Duration::from_secs(3);

/// How long a call may take to end before its task is aborted.
const FINISH_WAIT: Duration = Duration::from_secs(5);

/// What the owner reads of a call's statistics.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// Published within the last `STALLED_AFTER` (3 s).
    Fresh(CallStats),
    /// The call task has not turned for `silent_for`: it hangs, or its pipeline does. `last`
    /// is what it said before.
    Stalled {
        last: CallStats,
        silent_for: Duration,
    },
}

/// The handle to a running call task.
#[derive(Debug)]
pub struct CallHandle {
    requests: mpsc::Sender<Request>,
    stats: watch::Receiver<Snapshot>,
    task: JoinHandle<CallStats>,
}

/// Starts a call task. It says hello at once and then follows the signalling.
pub fn start(
    spec: CallSpec,
    out: Box<dyn SignalOut>,
    reports: mpsc::Sender<CallReport>,
) -> CallHandle {
    let (requests, rx) = mpsc::channel(64);
    let (stats_tx, stats) = watch::channel(Snapshot {
        stats: CallStats::default(),
        at: crate::platform::clock::now(),
    });
    let task = tokio::spawn(session::run(spec, out, rx, reports, stats_tx));
    CallHandle {
        requests,
        stats,
        task,
    }
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
        if self.requests.try_send(Request::Signal(signal)).is_err() {
            tracing::warn!("signalling message dropped: call task not keeping up or gone");
        }
    }

    /// Mutes or unmutes the microphone (the other side keeps receiving silence).
    pub fn set_muted(&self, muted: bool) {
        if self.requests.try_send(Request::Mute(muted)).is_err() {
            tracing::warn!("mute request dropped: call task gone");
        }
    }

    /// Turns the camera picture black, or back on.
    pub fn set_camera_off(&self, off: bool) {
        if self.requests.try_send(Request::CameraOff(off)).is_err() {
            tracing::warn!("camera request dropped: call task gone");
        }
    }

    /// The statistics so far, and whether they are current. Never waits: the call task
    /// publishes them, so a stuck call cannot hold up its owner, and shows as
    /// [`Reading::Stalled`] rather than as silence.
    pub fn stats(&self, now: Instant) -> Reading {
        let snapshot = self.stats.borrow().clone();
        let silent_for = now.saturating_duration_since(snapshot.at);
        if silent_for < STALLED_AFTER {
            Reading::Fresh(snapshot.stats)
        } else {
            Reading::Stalled {
                last: snapshot.stats,
                silent_for,
            }
        }
    }

    /// Tests only: makes the call task hang for real (it stops turning, with its pipeline
    /// running), so a test can see the watchdog notice.
    pub fn hang_for_test(&self) {
        if self.requests.try_send(Request::Hang).is_err() {
            tracing::warn!("hang request dropped: call task gone");
        }
    }

    /// Ends the call (saying `bye` with `reason` if given) and returns its final statistics. A
    /// call task that does not stop within `FINISH_WAIT` (5 s) is aborted; its last published
    /// statistics are the final ones then.
    pub async fn finish(self, bye: Option<ByeReason>) -> CallStats {
        let Self {
            requests,
            stats,
            mut task,
        } = self;
        let ended = tokio::time::timeout(FINISH_WAIT, async {
            // Inside the wait: a hung task's full queue must not hold us up either.
            let _ = requests.send(Request::Leave(bye)).await;
            (&mut task).await
        })
        .await;
        match ended {
            Ok(Ok(stats)) => stats,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "call task failed");
                stats.borrow().stats.clone()
            }
            Err(_) => {
                tracing::error!("call task did not stop within {FINISH_WAIT:?}; aborted");
                task.abort();
                stats.borrow().stats.clone()
            }
        }
    }
}
