//! A call: one webrtcbin session type with two roles. The kiosk is always the offerer;
//! `kioskctl doctor` answers with this same code (the doctor's browser page answers with its own
//! WebRTC, by the same protocol). Signalling goes out through a [`SignalOut`] and comes in through
//! [`CallHandle::deliver`]; the call never touches MQTT itself.
//!
//! The call task is the only owner of its pipeline. Media is never written anywhere but to the
//! configured playback sinks.

mod code;
mod ice;
mod jitter;
mod peer;
mod rate;
mod sdp_check;
mod session;
pub(crate) mod signalling;
mod stats;

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use crate::flow::Failure;
use crate::media::MediaSpec;
use crate::wire::{ByeReason, CallStats, Hello, Signal};
pub use code::{CodeBasis, security_code};
pub use ice::{IceSpec, check_ice_server, ice_spec, offered_ice_spec};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Builds the connection and offers as soon as the other side says hello (the kiosk).
    Offerer,
    /// Answers offers (the doctor).
    Answerer,
}

#[derive(Debug, Clone)]
pub struct CallSpec {
    pub role: Role,
    /// How we introduce ourselves: the patient's name on the kiosk (with the ICE servers and the
    /// reconnect window for the doctor's side), the doctor's name on the doctor's side.
    pub hello: Hello,
    pub media: MediaSpec,
    pub ice: IceSpec,
    /// How long media may be interrupted before the call ends as lost; the connection is being
    /// recovered meanwhile. The answerer takes the offerer's (its hello's `reconnect_s`).
    pub reconnect: Duration,
    /// The jitter buffers' shortest latency in ms (`jitter.rs` adapts it to the path).
    pub jitter_latency_ms: u32,
    /// What the security code of the statistics is keyed with: the session and its key.
    pub code: CodeBasis,
}

/// What the call tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallReport {
    PeerJoined {
        name: String,
    },
    /// The first remote video frame was decoded.
    MediaFlowing,
    /// Media stopped coming, or ICE lost the path: the connection is being recovered.
    Interrupted,
    /// Media comes again after an interruption of `outage`.
    Resumed {
        outage: Duration,
    },
    /// The path runs through a TURN relay: no longer peer to peer.
    Relayed,
    /// The other side's picture arrives in a new size: it stepped down (or up again) with its
    /// link (`rate.rs`), or its camera's mode changed.
    PictureSize {
        width: u32,
        height: u32,
    },
    /// Our video pauses (`true`) because the link is too narrow, or comes back.
    VideoPaused(bool),
    RemoteBye(ByeReason),
    /// The doctor's side: the kiosk's call is held by another of the doctor's windows
    /// (protocol.md 5, rule 10); this one was not let in.
    Busy,
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
    /// The link to the broker is back after an outage: signalling can reach the other side again.
    LinkRestored,
    /// This machine's addresses changed: the path the call ran on is gone.
    NetworkChanged,
    /// Tests only: the task stops turning, as a call stuck in GStreamer would.
    Hang,
}

impl Request {
    /// What the request is, for the log: never its content (names, descriptions, credentials).
    fn name(&self) -> &'static str {
        match self {
            Self::Signal(_) => "signal",
            Self::Leave(_) => "leave",
            Self::Mute(_) => "mute",
            Self::CameraOff(_) => "camera",
            Self::LinkRestored => "link restored",
            Self::NetworkChanged => "network changed",
            Self::Hang => "hang",
        }
    }
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

/// Starts GStreamer and registers the elements linked into this program (`rtpgccbwe`), once
/// per process however often it is called: registering them again makes new element factories
/// and frees the old ones, while an element class already made keeps pointing at its old one.
/// Seen in the lib tests, which call this from many threads: `factory()` of a `rtpgccbwe`
/// added to a call's webrtcbin read a freed factory and aborted the test binary.
pub fn init() -> Result<(), gst::glib::Error> {
    static REGISTERED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    gst::init()?;
    REGISTERED
        .get_or_init(|| gstrsrtp::plugin_register_static().map_err(|e| e.to_string()))
        .clone()
        .map_err(|e| gst::glib::Error::new(gst::CoreError::Failed, &e))
}

/// Checks that GStreamer has every element a call with `media` needs, and names the missing ones.
pub fn check_elements(media: &MediaSpec) -> Result<(), Vec<&'static str>> {
    crate::media::present(crate::media::required_elements(media))
}

/// Does ahead of time, on a thread of its own, what the first call would otherwise wait for:
/// loading the plugins of every element a call with `media` uses and making one of each (a
/// GStreamer element type is set up when its first instance is made; none opens a device before
/// it starts), GStreamer's own DTLS certificate, which its DTLS elements generate on first use
/// (an RSA key: a good part of a second on a Raspberry Pi; our calls do not use it, but every
/// `dtlsdec` makes it before it takes ours), and our calls' fresh DTLS certificates
/// ([`make_dtls_certificates_ahead`]).
/// Measured here, the first call after start took 1.2–1.5 s from consent to the first remote
/// frame without this.
///
/// Hold the returned guard for as long as the program runs: dropping it waits for the warm-up
/// to finish, because a process that exits while GStreamer is still loading plugins crashes
/// (seen here: SIGSEGV on a SIGTERM half a second after start).
#[must_use = "the warm-up must end before the program does"]
pub fn warm_up(media: &MediaSpec) -> WarmUp {
    let needed = crate::media::required_elements(media);
    let started = std::time::Instant::now();
    let spawned = std::thread::Builder::new()
        .name("warm-up".into())
        .spawn(move || {
            // Each element is dropped at once; its type, and the certificate `dtlsdec` made,
            // stay for the calls.
            for name in needed.into_iter().chain(["dtlsdec", "dtlsenc", "nicesink"]) {
                if let Err(e) = gst::ElementFactory::make(name).build() {
                    tracing::warn!(element = name, error = %e, "element not made ahead");
                }
            }
            peer::make_dtls_certificates_ahead();
            tracing::debug!(
                ms = started.elapsed().as_millis() as u64,
                "media warmed up for the first call"
            );
        });
    match spawned {
        Ok(thread) => WarmUp(Some(thread)),
        Err(e) => {
            tracing::warn!(error = %e, "no warm-up thread: the first call starts cold");
            WarmUp(None)
        }
    }
}

/// The warm-up under way; see [`warm_up`].
#[derive(Debug)]
pub struct WarmUp(Option<std::thread::JoinHandle<()>>);

impl Drop for WarmUp {
    fn drop(&mut self) {
        // At most the warm-up's own length (about a second), once, at exit.
        if let Some(thread) = self.0.take()
            && thread.join().is_err()
        {
            tracing::warn!("the warm-up thread panicked");
        }
    }
}

/// Makes the fresh DTLS certificates of the next calls ahead, on a thread of its own: each
/// connection takes one and no certificate is used twice (`call/peer/dtls.rs`). The kiosk calls
/// this whenever a call is coming; a connection that finds none makes its own (about a
/// millisecond; slower on a Pi).
pub fn make_dtls_certificates_ahead() {
    let spawned = std::thread::Builder::new()
        .name("dtls-certificates".into())
        .spawn(peer::make_dtls_certificates_ahead);
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no thread to make DTLS certificates ahead");
    }
}

/// Tests only (`kioskctl doctor --test-wrong-fingerprint`): `sdp` with every `a=fingerprint`
/// changed, as a man in the middle who swapped the certificate would leave it.
pub fn wrong_fingerprints_for_test(sdp: &str) -> String {
    peer::wrong_fingerprints(sdp)
}

impl CallHandle {
    /// Queues `request` for the call task. Never blocks: a call too far behind to take it is a
    /// failing call anyway, and its owner hears of that.
    fn ask(&self, request: Request) {
        if let Err(e) = self.requests.try_send(request) {
            let request = e.into_inner().name();
            tracing::warn!(request, "request dropped: call task not keeping up or gone");
        }
    }

    /// Hands an incoming signalling message to the call.
    pub fn deliver(&self, signal: Signal) {
        self.ask(Request::Signal(signal));
    }

    /// Mutes or unmutes the microphone (the other side keeps receiving silence).
    pub fn set_muted(&self, muted: bool) {
        self.ask(Request::Mute(muted));
    }

    /// Turns the camera picture black, or back on.
    pub fn set_camera_off(&self, off: bool) {
        self.ask(Request::CameraOff(off));
    }

    /// The link to the broker is back: an interrupted call may recover through it now.
    pub fn link_restored(&self) {
        self.ask(Request::LinkRestored);
    }

    /// This machine's addresses changed: the call's path is gone, and a new connection is made
    /// as soon as the broker can carry its offer.
    pub fn network_changed(&self) {
        self.ask(Request::NetworkChanged);
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
        self.ask(Request::Hang);
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
