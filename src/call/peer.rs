//! One webrtcbin peer connection in its own pipeline: send bins for camera and microphone,
//! receive branches built as remote streams arrive, counters on both.
//!
//! The `Peer` owns its pipeline; dropping it sets the pipeline to `Null`. Everything webrtcbin
//! reports from its own threads (negotiation, candidates, promise replies, first frame) is sent as
//! a [`PeerEvent`] tagged with the peer's generation, so events of a replaced peer are ignored.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use gst::prelude::*;
use gst_webrtc::{
    WebRTCICEConnectionState, WebRTCICEGatheringState, WebRTCSDPType, WebRTCSessionDescription,
};
use tokio::sync::mpsc::UnboundedSender;

use super::{CallError, CallSpec, rate};

mod bandwidth;
mod buffers;
mod bus;
mod counters;
pub(crate) mod dtls;
mod dtls_handover;
mod gate;
mod nice;
mod receive;
mod room;

use crate::media;
use bandwidth::{Estimator, adapt_to_bandwidth};
use bus::{CAMERA_BIN, MICROPHONE_BIN};
pub(crate) use bus::{failure_of, failure_reason, in_transport};
pub(crate) use counters::Counters;
use dtls::{DtlsCertificate, DtlsGuard};
pub(crate) use dtls::{make_ahead as make_dtls_certificates_ahead, wrong_fingerprints};
use nice::{ice_addresses, tune_ice_agent};
use receive::{Playback, add_receive_branch};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SdpKind {
    Offer,
    Answer,
}

impl SdpKind {
    fn gst(self) -> WebRTCSDPType {
        match self {
            Self::Offer => WebRTCSDPType::Offer,
            Self::Answer => WebRTCSDPType::Answer,
        }
    }
}

#[derive(Debug)]
pub(crate) enum PeerEvent {
    NegotiationNeeded,
    LocalDescription {
        kind: SdpKind,
        sdp: String,
    },
    RemoteDescriptionSet(SdpKind),
    /// webrtcbin refused the other side's description.
    RemoteRefused(SdpKind, String),
    IceCandidate {
        mline: u32,
        candidate: String,
    },
    IceGatheringDone,
    IceConnection(WebRTCICEConnectionState),
    FirstVideoFrame,
    /// The remote picture arrives in a new size (width, height).
    PictureSize(u32, u32),
    Stats(gst::Structure),
    /// The other side's DTLS certificate is not the one its SDP names (or could not be
    /// checked); the connection let nothing through since.
    SecurityCheckFailed(String),
    Error(String),
}

pub(crate) type PeerEvents = UnboundedSender<(u64, PeerEvent)>;

#[derive(Debug)]
pub(crate) struct Peer {
    pipeline: gst::Pipeline,
    webrtc: gst::Element,
    /// `volume` in the microphone's send bin: mute keeps buffers flowing, silent.
    microphone: gst::Element,
    /// `videobalance` in the camera's send bin: "camera off" sends black frames, so the other
    /// side sees that the camera is off rather than a frozen picture.
    camera: gst::Element,
    /// The video encoder, its frame rate (a gate after the pause) and its pause (`vpause`, a
    /// valve).
    encoder: gst::Element,
    frame_rate: gate::FrameGate,
    pause: gst::Element,
    codec: media::VideoCodec,
    estimator: Estimator,
    /// The camera's frame rate and size, which the steps are fractions of, and the size's
    /// filter in front of the encoder (`vsize`).
    fps: u32,
    size: (u32, u32),
    picture_size: gst::Element,
    step: rate::Step,
    jitter_buffers: buffers::JitterBuffers,
    dtls: DtlsGuard,
    generation: u64,
    events: PeerEvents,
}

/// Links a send bin to a new transceiver of `webrtc` that knows its RTP caps from the start
/// (its codec preferences). Without them webrtcbin waits for the first encoded buffer's caps
/// before it can make an offer: the camera, encoder and payloader starting up, 40–60 ms of the
/// setup time measured here.
fn offer_from_the_start(bin: &gst::Bin, webrtc: &gst::Element) -> Result<(), CallError> {
    let out = bin
        .static_pad("src")
        .ok_or_else(|| CallError::Setup("send bin has no source pad".into()))?;
    let caps = out.query_caps(None);
    let template = webrtc
        .pad_template("sink_%u")
        .ok_or_else(|| CallError::Setup("webrtcbin has no sink pads".into()))?;
    let known = caps.is_fixed()
        || caps
            .structure(0)
            .is_some_and(|s| s.has_field("encoding-name"));
    let sink = webrtc
        .request_pad(&template, None, known.then_some(&caps))
        .ok_or_else(|| CallError::Setup("webrtcbin gave no sink pad".into()))?;
    out.link(&sink)
        .map(drop)
        .map_err(|e| CallError::Setup(format!("link a send bin to webrtcbin: {e:?}")))
}

fn emit(events: &PeerEvents, generation: u64, event: PeerEvent) {
    // The receiver is gone only when the call is over; nothing is left to tell then.
    let _ = events.send((generation, event));
}

fn count_buffers(pad: &gst::Pad, counter: impl Fn() + Send + Sync + 'static) {
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        counter();
        gst::PadProbeReturn::Ok
    });
}

impl Peer {
    pub fn build(
        generation: u64,
        spec: &CallSpec,
        counters: Arc<Counters>,
        events: PeerEvents,
    ) -> Result<Self, CallError> {
        let pipeline = gst::Pipeline::with_name(&format!("call-{generation}"));
        let webrtc = gst::ElementFactory::make("webrtcbin")
            .name("webrtc")
            .property_from_str("bundle-policy", "max-bundle")
            .property("latency", spec.jitter_latency_ms)
            .build()?;
        if let Some(stun) = &spec.ice.stun {
            webrtc.set_property("stun-server", stun);
        }
        let agent = webrtc.property::<gst_webrtc::WebRTCICE>("ice-agent");
        tune_ice_agent(&agent);
        for turn in &spec.ice.turn {
            if !webrtc.emit_by_name::<bool>("add-turn-server", &[turn]) {
                tracing::warn!("webrtcbin refused a TURN server from config");
            }
        }
        for address in &ice_addresses(spec) {
            if !agent.emit_by_name::<bool>("add-local-ip-address", &[address]) {
                return Err(CallError::Setup(format!(
                    "ICE agent refused local address {address}"
                )));
            }
        }
        pipeline.add(&webrtc)?;
        // Before any transport exists: webrtcbin makes them in create-offer or
        // set-remote-description.
        let certificate = DtlsCertificate::take()
            .map_err(|e| CallError::Setup(format!("no DTLS certificate: {e}")))?;
        let dtls = DtlsGuard::install(&webrtc, certificate, events.clone(), generation);

        // The echo probe exists before the echo canceller starts, which looks for it by name.
        let probe_name = media::voice::unique_probe_name();
        let echo_probe = if spec.media.voice.needs_probe() {
            let probe = gst::ElementFactory::make("webrtcechoprobe")
                .name(probe_name.as_str())
                .build()?;
            pipeline.add(&probe)?;
            Some(probe)
        } else {
            None
        };
        let video =
            gst::parse::bin_from_description(&media::video_send_description(&spec.media), true)?;
        let audio = gst::parse::bin_from_description(
            &media::audio_send_description(&spec.media, &probe_name),
            true,
        )?;
        // Named, so an error can be traced to the camera or the microphone (see `failure_of`).
        video.set_property("name", CAMERA_BIN);
        if let Some(pad) = video
            .by_name(media::test_camera::NAME)
            .and_then(|camera| camera.static_pad("src"))
        {
            media::test_camera::attach(&pad);
        }
        audio.set_property("name", MICROPHONE_BIN);
        pipeline.add_many([video.upcast_ref::<gst::Element>(), audio.upcast_ref()])?;
        offer_from_the_start(&video, &webrtc)?;
        offer_from_the_start(&audio, &webrtc)?;
        for (bin, name, counter) in [(&video, "venc", 0), (&audio, "aenc", 1)] {
            let pad = bin
                .by_name(name)
                .and_then(|e| e.static_pad("sink"))
                .ok_or_else(|| CallError::Setup(format!("encoder {name} missing from send bin")))?;
            let counters = counters.clone();
            count_buffers(&pad, move || {
                let c = if counter == 0 {
                    &counters.video_out
                } else {
                    &counters.audio_out
                };
                c.fetch_add(1, Ordering::Relaxed);
            });
        }

        let by_name = |bin: &gst::Bin, name: &str| {
            bin.by_name(name)
                .ok_or_else(|| CallError::Setup(format!("{name} missing from send bin")))
        };
        if spec.media.measure.is_some() {
            let source_pad = |bin: &gst::Bin, name: &str| {
                by_name(bin, name)?
                    .static_pad("src")
                    .ok_or_else(|| CallError::Setup(format!("{name} has no source pad")))
            };
            media::stamp::stamp_video(&source_pad(&video, media::stamp::STAMPED)?);
            media::stamp::beep(&source_pad(&audio, media::stamp::BEEPER)?);
        }
        let microphone = by_name(&audio, "micvol")?;
        let camera = by_name(&video, "camblank")?;
        let encoder = by_name(&video, "venc")?;
        let pause = by_name(&video, "vpause")?;
        let estimator = adapt_to_bandwidth(
            &webrtc,
            &encoder,
            spec.media.video_codec,
            spec.media.video_bitrate_kbps * 1000,
            counters.clone(),
        );
        let jitter_buffers = buffers::JitterBuffers::watch(&webrtc);
        let peer = Self {
            pipeline,
            webrtc,
            microphone,
            camera,
            encoder,
            frame_rate: gate::FrameGate::attach(
                &pause
                    .static_pad("src")
                    .ok_or_else(|| CallError::Setup("vpause has no source pad".into()))?,
                spec.media.framerate,
            ),
            pause,
            codec: spec.media.video_codec,
            estimator,
            fps: spec.media.framerate,
            size: (spec.media.width, spec.media.height),
            picture_size: by_name(&video, "vsize")?,
            jitter_buffers,
            dtls,
            step: rate::Step::Full,
            generation,
            events,
        };
        let playback = Playback {
            video: spec.media.video_out.clone(),
            speaker: spec.media.audio_sink,
            echo_probe,
            room: spec.media.audio_source == media::AudioSource::Room,
            measure: spec.media.measure.clone(),
        };
        peer.connect_signals(playback, counters);
        Ok(peer)
    }

    fn connect_signals(&self, playback: Playback, counters: Arc<Counters>) {
        let (generation, events) = (self.generation, self.events.clone());
        self.webrtc
            .connect("on-negotiation-needed", false, move |_| {
                emit(&events, generation, PeerEvent::NegotiationNeeded);
                None
            });
        let events = self.events.clone();
        self.webrtc
            .connect("on-ice-candidate", false, move |values| {
                let mline = values.get(1).and_then(|v| v.get::<u32>().ok());
                let candidate = values.get(2).and_then(|v| v.get::<String>().ok());
                if let (Some(mline), Some(candidate)) = (mline, candidate) {
                    emit(
                        &events,
                        generation,
                        PeerEvent::IceCandidate { mline, candidate },
                    );
                }
                None
            });
        let events = self.events.clone();
        self.webrtc
            .connect_notify(Some("ice-connection-state"), move |webrtc, _| {
                let state = webrtc.property::<WebRTCICEConnectionState>("ice-connection-state");
                emit(&events, generation, PeerEvent::IceConnection(state));
            });
        let events = self.events.clone();
        self.webrtc
            .connect_notify(Some("ice-gathering-state"), move |webrtc, _| {
                if webrtc.property::<WebRTCICEGatheringState>("ice-gathering-state")
                    == WebRTCICEGatheringState::Complete
                {
                    emit(&events, generation, PeerEvent::IceGatheringDone);
                }
            });
        let events = self.events.clone();
        let pipeline = self.pipeline.downgrade();
        self.webrtc.connect_pad_added(move |_, pad| {
            let Some(pipeline) = pipeline.upgrade() else {
                return;
            };
            if pad.direction() != gst::PadDirection::Src {
                return;
            }
            // The other side's media arrive: the path and its keys work both ways now, so a
            // keyframe of ours gets through. Without it the other side waits for the next
            // scheduled one (up to 2 s) before it shows anything.
            force_keyframe(&pipeline);
            if let Err(e) = add_receive_branch(
                &pipeline,
                pad,
                playback.clone(),
                counters.clone(),
                &events,
                generation,
            ) {
                emit(
                    &events,
                    generation,
                    PeerEvent::Error(format!("cannot play remote stream: {e}")),
                );
            }
        });
    }

    pub fn set_muted(&self, muted: bool) {
        self.microphone.set_property("mute", muted);
    }

    pub fn set_camera_off(&self, off: bool) {
        let (contrast, brightness, saturation) = if off {
            (0.0f64, -1.0f64, 0.0f64)
        } else {
            (1.0, 0.0, 1.0)
        };
        self.camera.set_property("contrast", contrast);
        self.camera.set_property("brightness", brightness);
        self.camera.set_property("saturation", saturation);
    }

    /// Sends video at `decision`'s rate and step (`rate.rs`): the encoder's target and frame
    /// rate, or a pause. Returns whether the video now pauses, when that changed.
    pub fn apply_rate(&mut self, decision: rate::Decision) -> Option<bool> {
        if let Some(bps) = decision.reseed {
            tracing::debug!(
                kbps = bps / 1000,
                "congestion control starts afresh (probe)"
            );
            self.estimator.reseed(bps);
        }
        self.codec.set_bitrate(&self.encoder, decision.target_bps);
        if decision.step == self.step {
            return None;
        }
        let was_paused = self.step == rate::Step::Paused;
        tracing::info!(step = ?decision.step, target_kbps = decision.target_bps / 1000, "video steps");
        let paused = decision.step == rate::Step::Paused;
        self.pause.set_property("drop", paused);
        if !paused {
            self.frame_rate.set(decision.step.framerate(self.fps));
            let (width, height) = decision.step.size(self.size.0, self.size.1);
            let caps = gst::Caps::builder("video/x-raw")
                .field("width", width as i32)
                .field("height", height as i32)
                .build();
            self.picture_size.set_property("caps", caps);
        }
        if was_paused {
            // The other side decodes from here after the pause.
            force_keyframe(&self.pipeline);
        }
        self.step = decision.step;
        (paused != was_paused).then_some(paused)
    }

    pub fn start(&self) -> Result<(), CallError> {
        self.pipeline.set_state(gst::State::Playing)?;
        Ok(())
    }

    pub fn bus(&self) -> gst::bus::BusStream {
        self.pipeline
            .bus()
            .expect("a pipeline always has a bus")
            .stream()
    }

    pub fn create(&self, kind: SdpKind) {
        // Weak: webrtcbin keeps the promise (and so this closure) until it answers, and a
        // strong reference here would keep webrtcbin alive through its own promise.
        let (generation, events, webrtc) = (
            self.generation,
            self.events.clone(),
            self.webrtc.downgrade(),
        );
        let dtls = self.dtls.clone();
        let field = match kind {
            SdpKind::Offer => "offer",
            SdpKind::Answer => "answer",
        };
        let promise = gst::Promise::with_change_func(move |reply| {
            let described = reply_structure(reply).and_then(|s| {
                s.ok_or_else(|| "empty reply".to_string())?
                    .get::<WebRTCSessionDescription>(field)
                    .map_err(|e| format!("no {field} in reply: {e}"))
            });
            let corrected = described.and_then(|description| {
                let written = description.sdp().as_text();
                let sdp = dtls.with_our_fingerprint(&written.map_err(|e| e.to_string())?);
                let message =
                    gst_sdp::SDPMessage::parse_buffer(sdp.as_bytes()).map_err(|e| e.to_string())?;
                Ok((WebRTCSessionDescription::new(kind.gst(), message), sdp))
            });
            let event = match corrected {
                Ok((description, sdp)) => {
                    let Some(webrtc) = webrtc.upgrade() else {
                        return;
                    };
                    webrtc.emit_by_name::<()>(
                        "set-local-description",
                        &[&description, &None::<gst::Promise>],
                    );
                    PeerEvent::LocalDescription { kind, sdp }
                }
                Err(e) => PeerEvent::Error(format!("create-{field} failed: {e}")),
            };
            emit(&events, generation, event);
        });
        let signal = match kind {
            SdpKind::Offer => "create-offer",
            SdpKind::Answer => "create-answer",
        };
        self.webrtc
            .emit_by_name::<()>(signal, &[&None::<gst::Structure>, &promise]);
    }

    pub fn set_remote(&self, kind: SdpKind, sdp: &str) -> Result<(), CallError> {
        let message =
            gst_sdp::SDPMessage::parse_buffer(sdp.as_bytes()).map_err(|_| CallError::BadSdp)?;
        let description = WebRTCSessionDescription::new(kind.gst(), message);
        // Known before the handshake can start: DTLS waits for ICE, which needs this SDP.
        self.dtls.expect(sdp);
        let (generation, events) = (self.generation, self.events.clone());
        let promise = gst::Promise::with_change_func(move |reply| {
            let event = match reply_structure(reply) {
                Ok(_) => PeerEvent::RemoteDescriptionSet(kind),
                Err(e) => {
                    PeerEvent::RemoteRefused(kind, format!("remote description refused: {e}"))
                }
            };
            emit(&events, generation, event);
        });
        self.webrtc
            .emit_by_name::<()>("set-remote-description", &[&description, &promise]);
        Ok(())
    }

    pub fn add_ice_candidate(&self, mline: u32, candidate: &str) {
        self.webrtc
            .emit_by_name::<()>("add-ice-candidate", &[&mline, &candidate]);
    }

    /// The connection's certificates: ours, and the one the other side showed.
    pub fn dtls_stats(&self) -> crate::wire::DtlsStats {
        self.dtls.stats()
    }

    /// What the jitter buffers saw since the last look (`call/jitter.rs`).
    pub fn jitter_seen(&mut self) -> super::jitter::Seen {
        self.jitter_buffers.seen()
    }

    /// How long the jitter buffers wait for late packets from now on. The pipeline then
    /// plays every stream that much later or sooner (lip sync stays).
    pub fn set_latency(&self, ms: u32) {
        // webrtcbin hands it to rtpbin, which sets every jitter buffer; they post LATENCY
        // messages, and `recalculate_latency` spreads the new total to the sinks.
        self.webrtc.set_property("latency", ms);
    }

    /// A part of the pipeline changed its latency: the sinks get the new total.
    pub fn recalculate_latency(&self) {
        if self.pipeline.recalculate_latency().is_err() {
            tracing::debug!("latency not recalculated (pipeline not yet playing)");
        }
    }

    pub fn request_stats(&self) {
        let (generation, events) = (self.generation, self.events.clone());
        let promise = gst::Promise::with_change_func(move |reply| {
            if let Ok(Some(stats)) = reply {
                emit(&events, generation, PeerEvent::Stats(stats.to_owned()));
            }
        });
        self.webrtc
            .emit_by_name::<()>("get-stats", &[&None::<gst::Pad>, &promise]);
    }
}

#[cfg(test)]
mod tests;

impl Drop for Peer {
    fn drop(&mut self) {
        if let Err(e) = self.pipeline.set_state(gst::State::Null) {
            tracing::warn!(error = %e, "call pipeline did not stop cleanly");
        }
        // Stopped: nothing flows through congestion control any more.
        self.estimator.release();
    }
}

/// The reply's structure, or why there is none. webrtcbin answers an error with an empty reply
/// or an `error` field; both must surface.
fn reply_structure(
    reply: Result<Option<&gst::StructureRef>, gst::PromiseError>,
) -> Result<Option<&gst::StructureRef>, String> {
    match reply {
        Err(e) => Err(format!("promise {e:?}")),
        Ok(None) => Ok(None),
        Ok(Some(s)) => match s.get::<gst::glib::Error>("error") {
            Ok(error) => Err(error.to_string()),
            Err(_) => Ok(Some(s)),
        },
    }
}

/// Asks our video encoder for a keyframe now (what a PLI from the other side does too).
fn force_keyframe(pipeline: &gst::Pipeline) {
    let Some(pad) = pipeline.by_name("venc").and_then(|e| e.static_pad("src")) else {
        return;
    };
    let request = gst::Structure::builder("GstForceKeyUnit")
        .field("running-time", u64::MAX)
        .field("all-headers", true)
        .field("count", 0u32)
        .build();
    if !pad.send_event(gst::event::CustomUpstream::new(request)) {
        tracing::debug!("the video encoder took no keyframe request");
    }
}
