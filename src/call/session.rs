//! The call task: the only owner of the call's connection ([`Peer`], and the pipeline in it).
//! It feeds the signalling machine ([`Signalling`]) with what arrives and what webrtcbin makes,
//! carries out what the machine answers, watches that remote media keeps coming, and publishes
//! the call's statistics once a second. The rules are the machine's; nothing here decides when
//! to offer or which answer fits.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use gst::prelude::*;
use gst_webrtc::WebRTCICEConnectionState;
use tokio::sync::{mpsc, watch};

use super::peer::{Counters, Peer, PeerEvent, PeerEvents, SdpKind, failure_of};
use super::signalling::{Candidate, Ignored, Input, Output, Signalling};
use super::stats::{Rates, totals};
use super::{CallError, CallReport, CallSpec, Failure, Request, SignalOut, Snapshot};
use crate::platform::clock::{now as clock, sleep_until};
use crate::wire::CallStats;

/// How long remote video may stop before the call counts as lost. Long enough for a doctor's
/// reload (which rebuilds the connection), short enough that nobody sits before a frozen picture.
const MEDIA_STALL: Duration = Duration::from_secs(15);

/// The connection of the moment. Each new one gets the next generation, and webrtcbin's events
/// carry theirs, so events of a replaced connection are dropped unread.
struct Connection {
    generation: u64,
    peer: Option<Peer>,
    bus: Option<gst::bus::BusStream>,
    events: PeerEvents,
}

/// What the call has received and sent, and since when, across every connection it had.
struct Media {
    counters: Arc<Counters>,
    rates: Rates,
    started: Instant,
    first_frame: Option<Duration>,
    /// The video count and when it last moved: a peer that vanished without `bye` (a crashed
    /// browser, a pulled cable) shows up as media that stopped.
    last_video: (u64, Instant),
    reported_stall: bool,
    ice_state: WebRTCICEConnectionState,
}

struct Session {
    spec: CallSpec,
    out: Box<dyn SignalOut>,
    reports: mpsc::Sender<CallReport>,
    signalling: Signalling,
    connection: Connection,
    media: Media,
    /// The patient's switches; a new connection keeps them.
    muted: bool,
    camera_off: bool,
    published: watch::Sender<Snapshot>,
}

pub(super) async fn run(
    spec: CallSpec,
    out: Box<dyn SignalOut>,
    mut requests: mpsc::Receiver<Request>,
    reports: mpsc::Sender<CallReport>,
    published: watch::Sender<Snapshot>,
) -> CallStats {
    let (events, mut peer_events) = mpsc::unbounded_channel();
    let (signalling, first) = Signalling::start(spec.role, spec.hello_name.clone());
    let now = clock();
    let mut session = Session {
        spec,
        out,
        reports,
        signalling,
        connection: Connection {
            generation: 0,
            peer: None,
            bus: None,
            events,
        },
        media: Media {
            counters: Arc::default(),
            rates: Rates::default(),
            started: now,
            first_frame: None,
            last_video: (0, now),
            reported_stall: false,
            ice_state: WebRTCICEConnectionState::New,
        },
        muted: false,
        camera_off: false,
        published,
    };
    session.carry_out(first);
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    while !session.signalling.is_over() {
        tokio::select! {
            request = requests.recv() => match request {
                None => break,
                Some(request) => session.on_request(request).await,
            },
            Some((generation, event)) = peer_events.recv() => {
                if generation == session.connection.generation {
                    session.on_peer_event(event);
                }
            }
            message = next_bus_message(&mut session.connection.bus) => session.on_bus(&message),
            () = sleep_until(session.signalling.next_deadline()) => session.step(Input::Tick),
            _ = ticker.tick() => session.on_tick(clock()),
        }
    }
    let stats = session.stats();
    // Stopping a pipeline can block (a display sink waiting for its device): not on async threads.
    let peer = session.connection.peer.take();
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

    fn step(&mut self, input: Input) {
        let outputs = self.signalling.handle(input, clock());
        self.carry_out(outputs);
    }

    async fn on_request(&mut self, request: Request) {
        match request {
            Request::Signal(signal) => self.step(Input::Received(signal)),
            Request::Leave(bye) => self.step(Input::Leave(bye)),
            Request::Mute(muted) => {
                self.muted = muted;
                self.with_peer(|peer| peer.set_muted(muted));
            }
            Request::CameraOff(off) => {
                self.camera_off = off;
                self.with_peer(|peer| peer.set_camera_off(off));
            }
            Request::Hang => {
                tracing::warn!("call task made to hang (test fault)");
                std::future::pending::<()>().await;
            }
        }
    }

    fn carry_out(&mut self, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::Send(signal) => self.out.send(signal),
                Output::Report(report) => self.report(report),
                Output::NewConnection => {
                    if let Err(e) = self.new_connection() {
                        self.fail_new_connection(e);
                    }
                }
                Output::TakeOffer(sdp) => self.take_offer(&sdp),
                Output::CreateOffer => self.with_peer(|peer| peer.create(SdpKind::Offer)),
                Output::CreateAnswer => self.with_peer(|peer| peer.create(SdpKind::Answer)),
                Output::ApplyAnswer(sdp) => {
                    if let Some(Err(e)) = self
                        .connection
                        .peer
                        .as_ref()
                        .map(|peer| peer.set_remote(SdpKind::Answer, &sdp))
                    {
                        self.fail(format!("bad answer: {e}"));
                    }
                }
                Output::AddCandidate(Candidate { mline, candidate }) => {
                    self.with_peer(|peer| peer.add_ice_candidate(mline, &candidate));
                }
                // A renewed connection leaves the old one's late candidates behind: routine.
                Output::Ignore(why @ Ignored::CandidateWithoutConnection) => {
                    tracing::debug!(%why, "signalling ignored");
                }
                Output::Ignore(why) => tracing::warn!(%why, "signalling ignored"),
                Output::Stop => {}
            }
        }
    }

    fn with_peer(&self, act: impl FnOnce(&Peer)) {
        if let Some(peer) = &self.connection.peer {
            act(peer);
        }
    }

    fn fail_new_connection(&self, error: CallError) {
        match error {
            CallError::Device(failure, why) => {
                self.fail_with(failure, format!("cannot start the call: {why}"))
            }
            other => self.fail(format!("cannot start the call: {other}")),
        }
    }

    /// Replaces the connection with a fresh one (new DTLS keys, new ICE) and starts it.
    fn new_connection(&mut self) -> Result<(), CallError> {
        let connection = &mut self.connection;
        // The old pipeline stops here, on this task, before the new one starts: it must let go
        // of the camera and microphone first, or the new one cannot open them.
        connection.peer = None;
        connection.bus = None;
        connection.generation += 1;
        let peer = Peer::build(
            connection.generation,
            &self.spec,
            self.media.counters.clone(),
            connection.events.clone(),
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
        peer.set_muted(self.muted);
        peer.set_camera_off(self.camera_off);
        connection.bus = Some(bus);
        connection.peer = Some(peer);
        Ok(())
    }

    /// The answerer's fresh connection for an offer, in the codec the offer names.
    fn take_offer(&mut self, sdp: &str) {
        match crate::media::codec::offered(sdp, crate::media::element_exists) {
            Ok(codec) => self.spec.media.video_codec = codec,
            Err(e) => return self.fail(format!("cannot answer: {e}")),
        }
        let taken = self
            .new_connection()
            .and_then(|()| match &self.connection.peer {
                Some(peer) => peer.set_remote(SdpKind::Offer, sdp),
                None => Ok(()),
            });
        if let Err(e) = taken {
            self.fail_new_connection(e);
        }
    }

    fn on_peer_event(&mut self, event: PeerEvent) {
        match event {
            PeerEvent::NegotiationNeeded => self.step(Input::NegotiationNeeded),
            PeerEvent::LocalDescription {
                kind: SdpKind::Offer,
                sdp,
            } => self.step(Input::OfferMade(sdp)),
            PeerEvent::LocalDescription {
                kind: SdpKind::Answer,
                sdp,
            } => self.step(Input::AnswerMade(sdp)),
            PeerEvent::RemoteDescriptionSet(SdpKind::Offer) => self.step(Input::RemoteOfferSet),
            PeerEvent::RemoteDescriptionSet(SdpKind::Answer) => {}
            PeerEvent::IceCandidate { mline, candidate } => {
                self.step(Input::LocalCandidate(Candidate { mline, candidate }))
            }
            PeerEvent::IceGatheringDone => self.step(Input::GatheringDone),
            PeerEvent::IceConnection(state) => {
                self.media.ice_state = state;
                if state == WebRTCICEConnectionState::Failed {
                    self.fail("no direct connection could be made (ICE failed)".into());
                }
            }
            PeerEvent::FirstVideoFrame => {
                if self.media.first_frame.is_none() {
                    self.media.first_frame = Some(clock().duration_since(self.media.started));
                }
                self.report(CallReport::MediaFlowing);
            }
            PeerEvent::Stats(stats) => self.media.rates.update(clock(), totals(&stats)),
            PeerEvent::Error(why) => self.fail(why),
        }
    }

    /// Once a second: ask for fresh numbers, check that media flows, and publish the
    /// statistics (their age is how the owner sees this task alive).
    fn on_tick(&mut self, now: Instant) {
        self.with_peer(Peer::request_stats);
        self.watch_media(now);
        let stats = self.stats();
        self.published.send_replace(Snapshot { stats, at: now });
    }

    /// Fails the call when remote video that was flowing stops for [`MEDIA_STALL`].
    fn watch_media(&mut self, now: Instant) {
        let media = &mut self.media;
        let frames = media.counters.video_in.load(Ordering::Relaxed);
        if frames != media.last_video.0
            || media.first_frame.is_none()
            || self.connection.peer.is_none()
        {
            media.last_video = (frames, now);
            media.reported_stall = false;
        } else if now.duration_since(media.last_video.1) >= MEDIA_STALL && !media.reported_stall {
            media.reported_stall = true;
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
        let media = &self.media;
        let c = &media.counters;
        let connected = self.connection.peer.is_some();
        CallStats {
            elapsed_s: clock().duration_since(media.started).as_secs_f64(),
            first_frame_ms: media.first_frame.map(|d| d.as_millis() as u64),
            video_frames_received: c.video_in.load(Ordering::Relaxed),
            audio_buffers_received: c.audio_in.load(Ordering::Relaxed),
            video_frames_sent: c.video_out.load(Ordering::Relaxed),
            audio_buffers_sent: c.audio_out.load(Ordering::Relaxed),
            bitrate_in_kbps: (media.rates.in_kbps * 10.0).round() / 10.0,
            bitrate_out_kbps: (media.rates.out_kbps * 10.0).round() / 10.0,
            rtt_ms: media
                .rates
                .latest
                .rtt_s
                .map(|s| (s * 10_000.0).round() / 10.0),
            packets_lost: media.rates.latest.packets_lost,
            ice_state: ice_state_name(media.ice_state).into(),
            video_target_kbps: connected.then(|| c.video_target.load(Ordering::Relaxed) / 1000),
            video_codec: connected.then(|| self.spec.media.video_codec.name().into()),
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
