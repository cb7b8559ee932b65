//! The call task: follows the signalling rules of protocol v1 for its role and drives one
//! [`Peer`] at a time.
//!
//! Rules: say hello on start; answer each hello that is not a reply with a reply. The offerer
//! builds its peer at once (the camera runs for the self-view in the waiting room) and offers
//! once the other side has said hello; a hello that is not a reply after an offer means the
//! doctor joined anew (a reload): a fresh peer and a fresh offer. The answerer builds a fresh peer
//! for every offer.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use gst::prelude::*;
use gst_webrtc::WebRTCICEConnectionState;
use tokio::sync::mpsc;

use super::peer::{Counters, Peer, PeerEvent, PeerEvents, SdpKind, failure_of};
use super::stats::{Rates, totals};
use super::{CallCommand, CallError, CallReport, CallSpec, Failure, Role, SignalOut};
use crate::wire::{CallStats, Signal};

/// How long remote video may stop before the call counts as lost. Long enough for a doctor's
/// reload (which rebuilds the connection), short enough that nobody sits before a frozen picture.
const MEDIA_STALL: Duration = Duration::from_secs(15);

struct Session {
    spec: CallSpec,
    out: Box<dyn SignalOut>,
    reports: mpsc::Sender<CallReport>,
    events: PeerEvents,
    generation: u64,
    peer: Option<Peer>,
    bus: Option<gst::bus::BusStream>,
    offered: bool,
    /// webrtcbin asked for negotiation: the current peer can make an offer.
    ready_to_offer: bool,
    /// The other side said hello: there is someone to offer to.
    peer_present: bool,
    counters: Arc<Counters>,
    rates: Rates,
    started: Instant,
    first_frame: Option<Duration>,
    /// The video count and when it last moved: a peer that vanished without `bye` (a crashed
    /// browser, a pulled cable) shows up as media that stopped.
    last_video: (u64, Instant),
    reported_stall: bool,
    muted: bool,
    camera_off: bool,
    ice_state: WebRTCICEConnectionState,
}

pub(super) async fn run(
    spec: CallSpec,
    out: Box<dyn SignalOut>,
    mut commands: mpsc::Receiver<CallCommand>,
    reports: mpsc::Sender<CallReport>,
) -> CallStats {
    let (events, mut peer_events) = mpsc::unbounded_channel();
    let mut session = Session {
        out,
        reports,
        events,
        generation: 0,
        peer: None,
        bus: None,
        offered: false,
        ready_to_offer: false,
        peer_present: false,
        counters: Arc::default(),
        rates: Rates::default(),
        started: Instant::now(),
        first_frame: None,
        last_video: (0, Instant::now()),
        reported_stall: false,
        muted: false,
        camera_off: false,
        ice_state: WebRTCICEConnectionState::New,
        spec,
    };
    session.out.send(Signal::Hello {
        name: session.spec.hello_name.clone(),
        reply: false,
    });
    if session.spec.role == Role::Offerer
        && let Err(e) = session.rebuild()
    {
        session.fail_rebuild(e);
    }
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
                    command = commands.recv() => match command {
                        None => break,
                        Some(CallCommand::Signal(signal)) => {
                            if session.on_signal(signal) == Flow::Stop {
                                break;
                            }
                        }
        Some(CallCommand::Mute(muted)) => {
                            session.muted = muted;
                            if let Some(peer) = &session.peer {
                                peer.set_muted(muted);
                            }
                        }
                        Some(CallCommand::CameraOff(off)) => {
                            session.camera_off = off;
                            if let Some(peer) = &session.peer {
                                peer.set_camera_off(off);
                            }
                        }
                        Some(CallCommand::Stats(reply)) => {
                            let _ = reply.send(session.stats());
                        }
                        Some(CallCommand::Leave(bye)) => {
                            if let Some(reason) = bye {
                                session.out.send(Signal::Bye { reason });
                            }
                            break;
                        }
                    },
                    Some((generation, event)) = peer_events.recv() => {
                        if generation == session.generation {
                            session.on_peer_event(event);
                        }
                    }
                    message = next_bus_message(&mut session.bus) => session.on_bus(&message),
                    _ = ticker.tick() => {
                        if let Some(peer) = &session.peer {
                            peer.request_stats();
                        }
                        session.watch_media(Instant::now());
                    }
                }
    }
    let stats = session.stats();
    // Stopping a pipeline can block (a display sink waiting for its device): not on async threads.
    let peer = session.peer.take();
    let _ = tokio::task::spawn_blocking(move || drop(peer)).await;
    stats
}

async fn next_bus_message(bus: &mut Option<gst::bus::BusStream>) -> gst::Message {
    match bus.as_mut() {
        Some(stream) => match stream.next().await {
            Some(message) => message,
            None => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

impl Session {
    fn report(&self, report: CallReport) {
        if self.reports.try_send(report).is_err() {
            tracing::warn!("call report dropped: owner not listening");
        }
    }

    fn fail(&self, why: String) {
        self.fail_with(Failure::Connection, why);
    }

    fn fail_with(&self, failure: Failure, why: String) {
        tracing::warn!(?failure, reason = %why, "call failed");
        self.report(CallReport::Failed { failure, why });
    }

    /// Offers once both are true: the peer can negotiate and the other side is there.
    fn maybe_offer(&mut self) {
        if self.spec.role != Role::Offerer
            || self.offered
            || !self.ready_to_offer
            || !self.peer_present
        {
            return;
        }
        if let Some(peer) = &self.peer {
            self.offered = true;
            peer.create(SdpKind::Offer);
        }
    }

    fn fail_rebuild(&self, error: CallError) {
        match error {
            CallError::Device(failure, why) => {
                self.fail_with(failure, format!("cannot start the call: {why}"))
            }
            other => self.fail(format!("cannot start the call: {other}")),
        }
    }

    /// Replaces the peer with a fresh one (new DTLS keys, new ICE) and starts it.
    fn rebuild(&mut self) -> Result<(), CallError> {
        self.peer = None;
        self.bus = None;
        self.generation += 1;
        self.offered = false;
        self.ready_to_offer = false;
        let peer = Peer::build(
            self.generation,
            &self.spec,
            self.counters.clone(),
            self.events.clone(),
        )?;
        let mut bus = peer.bus();
        if let Err(e) = peer.start() {
            // A device that cannot open fails the state change at once; its error message is
            // already on the bus and says which device it was.
            while let Some(Some(message)) = bus.next().now_or_never() {
                if let gst::MessageView::Error(err) = message.view() {
                    return Err(CallError::Device(
                        failure_of(&message),
                        err.error().to_string(),
                    ));
                }
            }
            return Err(e);
        }
        // A rebuilt connection keeps the patient's choices.
        peer.set_muted(self.muted);
        peer.set_camera_off(self.camera_off);
        self.bus = Some(bus);
        self.peer = Some(peer);
        Ok(())
    }

    fn on_signal(&mut self, signal: Signal) -> Flow {
        let role = self.spec.role;
        match signal {
            Signal::Hello { name, reply } => {
                if !reply {
                    self.out.send(Signal::Hello {
                        name: self.spec.hello_name.clone(),
                        reply: true,
                    });
                }
                self.report(CallReport::PeerJoined { name });
                if role == Role::Offerer {
                    let rejoined = !reply && self.offered;
                    if (rejoined || self.peer.is_none())
                        && let Err(e) = self.rebuild()
                    {
                        self.fail_rebuild(e);
                    }
                    self.peer_present = true;
                    self.maybe_offer();
                }
            }
            Signal::Offer { sdp } if role == Role::Answerer => {
                match crate::media::codec::offered(&sdp, crate::media::element_exists) {
                    Ok(codec) => self.spec.media.video_codec = codec,
                    Err(e) => {
                        self.fail(format!("cannot answer: {e}"));
                        return Flow::Continue;
                    }
                }
                let set = self.rebuild().and_then(|()| match &self.peer {
                    Some(peer) => peer.set_remote(SdpKind::Offer, &sdp),
                    None => Ok(()),
                });
                if let Err(e) = set {
                    self.fail_rebuild(e);
                }
            }
            Signal::Answer { sdp } if role == Role::Offerer => match &self.peer {
                Some(peer) => {
                    if let Err(e) = peer.set_remote(SdpKind::Answer, &sdp) {
                        self.fail(format!("bad answer: {e}"));
                    }
                }
                None => tracing::warn!("answer without an offer ignored"),
            },
            Signal::Ice { mline, candidate } => match &self.peer {
                Some(peer) if !candidate.is_empty() => peer.add_ice_candidate(mline, &candidate),
                _ => {}
            },
            Signal::Bye { reason } => {
                self.report(CallReport::RemoteBye(reason));
                return Flow::Stop;
            }
            Signal::Offer { .. } | Signal::Answer { .. } => {
                tracing::warn!(
                    ?role,
                    "signalling message that does not fit our role ignored"
                );
            }
        }
        Flow::Continue
    }

    fn on_peer_event(&mut self, event: PeerEvent) {
        let Some(peer) = &self.peer else { return };
        match event {
            PeerEvent::NegotiationNeeded => {
                self.ready_to_offer = true;
                self.maybe_offer();
            }
            PeerEvent::LocalDescription {
                kind: SdpKind::Offer,
                sdp,
            } => self.out.send(Signal::Offer { sdp }),
            PeerEvent::LocalDescription {
                kind: SdpKind::Answer,
                sdp,
            } => self.out.send(Signal::Answer { sdp }),
            PeerEvent::RemoteDescriptionSet(SdpKind::Offer) => peer.create(SdpKind::Answer),
            PeerEvent::RemoteDescriptionSet(SdpKind::Answer) => {}
            PeerEvent::IceCandidate { mline, candidate } => {
                self.out.send(Signal::Ice { mline, candidate })
            }
            PeerEvent::IceGatheringDone => self.out.send(Signal::Ice {
                mline: 0,
                candidate: String::new(),
            }),
            PeerEvent::IceConnection(state) => {
                self.ice_state = state;
                if state == WebRTCICEConnectionState::Failed {
                    self.fail("no direct connection could be made (ICE failed)".into());
                }
            }
            PeerEvent::FirstVideoFrame => {
                if self.first_frame.is_none() {
                    self.first_frame = Some(self.started.elapsed());
                }
                self.report(CallReport::MediaFlowing);
            }
            PeerEvent::Stats(stats) => self.rates.update(Instant::now(), totals(&stats)),
            PeerEvent::Error(why) => self.fail(why),
        }
    }

    /// Fails the call when remote video that was flowing stops for [`MEDIA_STALL`].
    fn watch_media(&mut self, now: Instant) {
        let frames = self.counters.video_in.load(Ordering::Relaxed);
        if frames != self.last_video.0 || self.first_frame.is_none() || self.peer.is_none() {
            self.last_video = (frames, now);
            self.reported_stall = false;
        } else if now.duration_since(self.last_video.1) >= MEDIA_STALL && !self.reported_stall {
            self.reported_stall = true;
            self.fail(format!(
                "no media from the other side for {} s",
                MEDIA_STALL.as_secs()
            ));
        }
    }

    fn on_bus(&self, message: &gst::Message) {
        match message.view() {
            gst::MessageView::Error(e) => {
                let source = message
                    .src()
                    .map(|s| s.path_string().to_string())
                    .unwrap_or_default();
                self.fail_with(
                    failure_of(message),
                    format!("{source}: {} ({:?})", e.error(), e.debug()),
                );
            }
            gst::MessageView::Warning(w) => {
                tracing::warn!(warning = %w.error(), debug = ?w.debug(), "GStreamer warning");
            }
            _ => {}
        }
    }

    fn stats(&self) -> CallStats {
        let c = &self.counters;
        CallStats {
            elapsed_s: self.started.elapsed().as_secs_f64(),
            first_frame_ms: self.first_frame.map(|d| d.as_millis() as u64),
            video_frames_received: c.video_in.load(Ordering::Relaxed),
            audio_buffers_received: c.audio_in.load(Ordering::Relaxed),
            video_frames_sent: c.video_out.load(Ordering::Relaxed),
            audio_buffers_sent: c.audio_out.load(Ordering::Relaxed),
            bitrate_in_kbps: (self.rates.in_kbps * 10.0).round() / 10.0,
            bitrate_out_kbps: (self.rates.out_kbps * 10.0).round() / 10.0,
            rtt_ms: self
                .rates
                .latest
                .rtt_s
                .map(|s| (s * 10_000.0).round() / 10.0),
            packets_lost: self.rates.latest.packets_lost,
            ice_state: ice_state_name(self.ice_state).into(),
            video_target_kbps: self
                .peer
                .is_some()
                .then(|| c.video_target.load(Ordering::Relaxed) / 1000),
            video_codec: self
                .peer
                .is_some()
                .then(|| self.spec.media.video_codec.name().into()),
        }
    }
}

fn ice_state_name(state: WebRTCICEConnectionState) -> &'static str {
    match state {
        WebRTCICEConnectionState::New => "new",
        WebRTCICEConnectionState::Checking => "checking",
        WebRTCICEConnectionState::Connected => "connected",
        WebRTCICEConnectionState::Completed => "completed",
        WebRTCICEConnectionState::Failed => "failed",
        WebRTCICEConnectionState::Disconnected => "disconnected",
        WebRTCICEConnectionState::Closed => "closed",
        _ => "unknown",
    }
}
