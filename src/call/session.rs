//! The call task: the only owner of the call's connection ([`Peer`], and the pipeline in it).
//! It feeds the signalling machine ([`Signalling`]) with what arrives and what webrtcbin makes,
//! carries out what the machine answers, watches that remote media keeps coming, and publishes
//! the call's statistics once a second. The rules are the machine's; nothing here decides when
//! to offer or which answer fits.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

mod snapshot;

use futures::{FutureExt, StreamExt};
use gst_webrtc::WebRTCICEConnectionState;
use tokio::sync::{mpsc, watch};

use super::jitter::JitterTarget;
use super::peer::{
    Counters, Peer, PeerEvent, PeerEvents, SdpKind, failure_of, failure_reason, in_transport,
};
use super::rate::VideoRate;
use super::signalling::{Candidate, Ignored, Input, Output, Signalling};
use super::stats::{Rates, ice_state_name, totals};
use super::{
    CallError, CallReport, CallSpec, Failure, Request, SignalOut, Snapshot, offered_ice_spec,
};
use crate::platform::clock::{now as clock, sleep_until};
use crate::wire::{CallStats, Hello};

/// The bounds of a reconnect window the other side's hello may set, in seconds.
const MIN_RECONNECT_S: u32 = 5;
const MAX_RECONNECT_S: u32 = 300;

/// How long remote media (video and audio alike) may stop before the call counts as
/// interrupted. Both sides send all the time (a muted microphone sends silence, a camera turned
/// off sends black), so three seconds of nothing is a lost path, not a pause.
const MEDIA_QUIET: Duration = Duration::from_secs(3);
/// Connections in a row whose transport may break before the call ends (see `on_bus`).
const TRANSPORT_RETRIES: u32 = 3;
/// How often an interrupted call looks for media again (between the once-a-second ticks).
const RESUME_WATCH: Duration = Duration::from_millis(100);

/// How long after the broker link came back an interrupted call waits for its old path to carry
/// media again before it makes a fresh connection: after a plain outage the old path comes back
/// by itself within a second, and a fresh connection would only throw it away.
const RESUME_GRACE: Duration = Duration::from_secs(1);

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
    /// Remote video frames and audio buffers together, and when the count last moved: a lost
    /// path (a pulled cable, a Wi-Fi roam, a crashed browser) shows up as media that stopped.
    last_media: (u64, Instant),
    /// Since when media has been interrupted; the call is being recovered meanwhile.
    interrupted: Option<Instant>,
    /// When an interrupted call makes a fresh connection, if its old path has not come back.
    renew_at: Option<Instant>,
    reported_lost: bool,
    /// This machine's addresses changed since media flowed: the path is gone for good, and the
    /// connection is renewed as soon as the broker is back.
    path_gone: bool,
    /// The path runs through a TURN relay (reported once).
    relayed: bool,
    /// The remote voice's level over the last second (dBFS).
    voice_level_dbfs: Option<f64>,
    last_outage: Option<Duration>,
    ice_state: WebRTCICEConnectionState,
    /// Transport-wide feedback reports counted up to the last second (`rate.rs`).
    feedback_seen: u64,
    /// Connections whose transport broke in a row, with no picture in between.
    transport_failures: u32,
}

struct Session {
    spec: CallSpec,
    /// How much video to send, and in what size (`rate.rs`).
    video_rate: VideoRate,
    /// How long the jitter buffers wait (`jitter.rs`).
    jitter: JitterTarget,
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
    if let Some(meter) = &spec.media.measure {
        meter.reset();
    }
    let (signalling, first) = Signalling::start(spec.role, spec.hello.clone());
    let signalling = signalling.sending(spec.media.video_codec.name());
    let now = clock();
    let video_rate = VideoRate::new(spec.media.video_bitrate_kbps * 1000);
    let mut session = Session {
        video_rate,
        jitter: JitterTarget::new(spec.jitter_latency_ms),
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
            last_media: (0, now),
            interrupted: None,
            renew_at: None,
            reported_lost: false,
            path_gone: false,
            relayed: false,
            voice_level_dbfs: None,
            last_outage: None,
            ice_state: WebRTCICEConnectionState::New,
            feedback_seen: 0,
            transport_failures: 0,
        },
        muted: false,
        camera_off: false,
        published,
    };
    session.carry_out(first);
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let mut watcher = tokio::time::interval(RESUME_WATCH);
    watcher.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
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
            _ = watcher.tick(), if session.media.interrupted.is_some() => {
                session.on_resume_watch(clock());
            }
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
            Request::LinkRestored => {
                if std::mem::take(&mut self.media.path_gone) {
                    tracing::info!("the broker is back on a new network: renewing the connection");
                    self.step(Input::Renew);
                } else if self.media.interrupted.is_some() {
                    self.media.renew_at = Some(clock() + RESUME_GRACE);
                }
            }
            Request::NetworkChanged => {
                self.media.path_gone = self.media.first_frame.is_some();
            }
            Request::Hang => {
                tracing::warn!("call task made to hang (test fault)");
                std::future::pending::<()>().await;
            }
        }
    }

    fn carry_out(&mut self, outputs: Vec<Output>) {
        let mut refused = None;
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
                        refused = Some(format!("bad answer: {e}"));
                    }
                }
                Output::AddCandidate(Candidate { mline, candidate }) => {
                    tracing::debug!(%candidate, "remote ICE candidate");
                    self.with_peer(|peer| peer.add_ice_candidate(mline, &candidate));
                }
                Output::Adopt(hello) => self.adopt(&hello),
                // A renewed connection leaves the old one's late candidates behind: routine.
                Output::Ignore(why @ Ignored::CandidateWithoutConnection) => {
                    tracing::debug!(%why, "signalling ignored");
                }
                Output::Ignore(why) => tracing::warn!(%why, "signalling ignored"),
                Output::VideoCodec(name) => self.spec.media.video_codec.rename(name),
                Output::Stop => {}
            }
        }
        // After the other outputs of this step, which belong to the refused answer.
        if let Some(why) = refused {
            self.answer_refused(why);
        }
    }

    /// An answer that passed `sdp_check` and still could not be set. A call whose media flowed
    /// survives it with a fresh connection and offer (the doctor's side answers that one);
    /// before any media there is nothing to keep, and the connect deadline would end it anyway.
    fn answer_refused(&mut self, why: String) {
        if self.media.first_frame.is_some() {
            tracing::warn!(reason = %why, "the doctor's answer was refused; renewing the connection");
            self.step(Input::Renew);
        } else {
            self.fail(why);
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
        let building = clock();
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
        tracing::debug!(
            ms = clock().duration_since(building).as_millis() as u64,
            "connection built and started"
        );
        peer.set_muted(self.muted);
        peer.set_camera_off(self.camera_off);
        // A new connection goes on from what the path needed so far.
        peer.set_latency(self.jitter.latency_ms());
        connection.bus = Some(bus);
        connection.peer = Some(peer);
        Ok(())
    }

    /// The offerer's ICE servers and reconnect window, for the connections still to come.
    fn adopt(&mut self, hello: &Hello) {
        if self.spec.ice.adopt_offered && !hello.ice_servers.is_empty() {
            self.spec.ice = offered_ice_spec(&hello.ice_servers, &self.spec.ice.local_addresses);
        }
        if let Some(seconds) = hello.reconnect_s {
            self.spec.reconnect =
                Duration::from_secs(seconds.clamp(MIN_RECONNECT_S, MAX_RECONNECT_S).into());
        }
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
        // Formatted only when it is logged: the offer and answer are kilobytes of SDP.
        if tracing::enabled!(tracing::Level::DEBUG)
            && !matches!(event, PeerEvent::Stats(_) | PeerEvent::IceCandidate { .. })
        {
            // The setup's timeline: from the call's start (the kiosk: consent) to first frame.
            let ms = clock().duration_since(self.media.started).as_millis() as u64;
            let what: String = format!("{event:?}").chars().take(60).collect();
            tracing::debug!(ms, event = %what, "peer event");
        }
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
            PeerEvent::RemoteRefused(SdpKind::Answer, why) => self.answer_refused(why),
            PeerEvent::RemoteRefused(SdpKind::Offer, why) => self.fail(why),
            PeerEvent::IceCandidate { mline, candidate } => {
                tracing::debug!(%candidate, "local ICE candidate");
                self.step(Input::LocalCandidate(Candidate { mline, candidate }))
            }
            PeerEvent::IceGatheringDone => self.step(Input::GatheringDone),
            PeerEvent::IceConnection(state) => {
                self.media.ice_state = state;
                if state != WebRTCICEConnectionState::Failed {
                    return;
                }
                if self.media.first_frame.is_none() {
                    self.fail("no direct connection could be made (ICE failed)".into());
                } else {
                    // The path that carried the call is gone for good: recover on a new one.
                    tracing::warn!("ICE failed during the call; recovering");
                    self.step(Input::Renew);
                }
            }
            PeerEvent::FirstVideoFrame => {
                self.media.transport_failures = 0;
                if self.media.first_frame.is_none() {
                    self.media.first_frame = Some(clock().duration_since(self.media.started));
                }
                self.report(CallReport::MediaFlowing);
            }
            PeerEvent::PictureSize(width, height) => {
                self.report(CallReport::PictureSize { width, height });
            }
            PeerEvent::Stats(stats) => {
                let totals = totals(&stats);
                // Said once media flows: the call's screens and event log exist from then on,
                // and a report before it would be lost with the waiting room.
                if totals.relayed && !self.media.relayed && self.media.first_frame.is_some() {
                    self.media.relayed = true;
                    tracing::info!("the call runs through a TURN relay");
                    self.report(CallReport::Relayed);
                }
                self.adapt_video(totals.loss_reported);
                self.media.rates.update(clock(), totals);
            }
            PeerEvent::SecurityCheckFailed(why) => self.fail_with(Failure::SecurityCheck, why),
            PeerEvent::Error(why) => self.fail(why),
        }
    }

    /// Once a second: ask for fresh numbers, check that media flows, and publish the
    /// statistics (their age is how the owner sees this task alive).
    fn on_tick(&mut self, now: Instant) {
        self.with_peer(Peer::request_stats);
        self.adapt_jitter();
        self.media.voice_level_dbfs = self.media.counters.voice_level.take_dbfs();
        self.watch_media(now);
        self.publish(now);
    }

    /// Hands the statistics of `now` to the call's owner.
    fn publish(&self, now: Instant) {
        let stats = self.stats();
        self.published.send_replace(Snapshot { stats, at: now });
    }

    /// While the call is interrupted: media again ends the interruption now, not at the next
    /// second's tick, so both screens drop their notice as soon as the picture is back.
    fn on_resume_watch(&mut self, now: Instant) {
        self.watch_media(now);
        if self.media.interrupted.is_none() {
            self.publish(now);
        }
    }

    /// Once a second: how long the jitter buffers wait, from what they saw.
    fn adapt_jitter(&mut self) {
        let Some(peer) = &mut self.connection.peer else {
            return;
        };
        let seen = peer.jitter_seen();
        if let Some(ms) = self.jitter.update(seen) {
            tracing::info!(
                ms,
                late = seen.late,
                jitter_ms = seen.jitter_ms,
                "jitter buffer latency"
            );
            peer.set_latency(ms);
        }
    }

    /// Once a second, with fresh statistics: how much video to send, and in what size.
    fn adapt_video(&mut self, loss: Option<(f64, f64)>) {
        let counters = &self.media.counters;
        let estimate = counters.video_estimate.load(Ordering::Relaxed) as u32;
        let feedback = counters.feedback_in.load(Ordering::Relaxed);
        self.video_rate
            .feedback(feedback != self.media.feedback_seen);
        self.media.feedback_seen = feedback;
        let decision = self.video_rate.update(estimate, loss);
        tracing::trace!(estimate, ?loss, feedback, ?decision, "video rate");
        counters
            .video_target
            .store(u64::from(decision.target_bps), Ordering::Relaxed);
        if let Some(peer) = &mut self.connection.peer
            && let Some(paused) = peer.apply_rate(decision)
        {
            self.report(CallReport::VideoPaused(paused));
        }
    }

    /// Watches that remote media keeps coming once it came: a pause of [`MEDIA_QUIET`] is an
    /// interruption, which the connection recovers from within the reconnect window or the call
    /// fails as lost.
    fn watch_media(&mut self, now: Instant) {
        let c = &self.media.counters;
        let count = c.video_in.load(Ordering::Relaxed) + c.audio_in.load(Ordering::Relaxed);
        let media = &mut self.media;
        if count != media.last_media.0 {
            media.last_media = (count, now);
        }
        if media.first_frame.is_none() {
            return;
        }
        let quiet_for = now.duration_since(media.last_media.1);
        let path_lost = matches!(
            media.ice_state,
            WebRTCICEConnectionState::Disconnected | WebRTCICEConnectionState::Failed
        );
        let quiet = quiet_for >= MEDIA_QUIET || (path_lost && quiet_for >= Duration::from_secs(1));
        match media.interrupted {
            None if quiet => {
                media.interrupted = Some(media.last_media.1);
                tracing::warn!(
                    quiet_s = quiet_for.as_secs(),
                    ice = ice_state_name(media.ice_state),
                    "call interrupted; recovering"
                );
                self.report(CallReport::Interrupted);
                self.step(Input::MediaQuiet(true));
            }
            Some(since) if !quiet => {
                let outage = now.duration_since(since);
                (media.interrupted, media.renew_at, media.reported_lost) = (None, None, false);
                media.last_outage = Some(outage);
                tracing::info!(outage_s = outage.as_secs_f64(), "call resumed");
                self.report(CallReport::Resumed { outage });
                self.step(Input::MediaQuiet(false));
            }
            Some(since)
                if now.duration_since(since) >= self.spec.reconnect && !media.reported_lost =>
            {
                media.reported_lost = true;
                self.fail(format!(
                    "connection lost: no media for {} s",
                    now.duration_since(since).as_secs()
                ));
            }
            Some(_) if media.renew_at.is_some_and(|at| now >= at) => {
                media.renew_at = None;
                self.step(Input::Renew);
            }
            _ => {}
        }
    }

    fn on_bus(&mut self, message: &gst::Message) {
        match message.view() {
            // A connection whose transport breaks is tried afresh (the offerer makes a new
            // one, the answerer asks for it), within the connect deadline or the reconnect
            // window, up to TRANSPORT_RETRIES times without a picture in between. It used to
            // catch both sides' DTLS failing at once under load ("Fatal SSL error" right after
            // ICE): our certificate reached a DTLS decoder that had already started, which
            // then refused every peer (fixed in `peer/dtls_handover.rs`). It stays for a
            // transport that breaks for another reason, which a new connection may not share.
            gst::MessageView::Error(e)
                if in_transport(message) && self.media.transport_failures < TRANSPORT_RETRIES =>
            {
                self.media.transport_failures += 1;
                tracing::warn!(error = %e.error(), debug = ?e.debug(), "the connection failed; trying a new one");
                self.step(Input::Renew);
            }
            gst::MessageView::Error(e) => {
                self.fail_with(failure_of(message), failure_reason(message, e));
            }
            gst::MessageView::Warning(w) => {
                tracing::warn!(warning = %w.error(), debug = ?w.debug(), "GStreamer warning");
            }
            gst::MessageView::Latency(_) => self.with_peer(Peer::recalculate_latency),
            _ => {}
        }
    }
}
