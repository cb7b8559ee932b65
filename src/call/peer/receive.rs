//! What comes from the other side: a branch per remote stream, decoded and played, counted, its
//! decoders and depayloaders set to ride out loss. Each stream gets the fixed depayloader and
//! decoder of its codec, never `decodebin`'s pick (protocol.md 5, rule 7).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gst::prelude::*;

use super::{Counters, PeerEvent, PeerEvents, count_buffers, emit};
use crate::call::CallError;
use crate::media;

/// The depayloaders want a keyframe when they start or lose packets, and ask the sender for
/// one, instead of decoding the damaged picture into grey smears until the next scheduled
/// keyframe. The Opus decoder conceals lost packets and uses the in-band FEC the other side sends (both
/// off by default in GStreamer 1.22), so the voice survives the loss of single packets.
fn tune_receiver(element: &gst::Element) {
    for property in [
        "request-keyframe",
        "wait-for-keyframe",
        "plc",
        "use-inband-fec",
    ] {
        if element.find_property(property).is_some() {
            element.set_property(property, true);
        }
    }
}

/// VP8 decodes in one thread, as libwebrtc decodes it (`LibvpxVp8Decoder`: "a constant value
/// (1)"). `vp8dec`'s default (0) starts one per core; VP8 splits only a frame's token partitions
/// among them, and for a picture of a call's size the threads mostly wait for each other, on
/// cores the encoder and the screen need.
fn one_decoder_thread(decoder: &gst::Element) {
    if decoder.find_property("threads").is_some() {
        decoder.set_property("threads", 1u32);
    }
}

/// The H.264 profile both sides agreed in the SDP (`profile-level-id` 42e01f, protocol.md 5
/// rule 7), named in the depayloader's caps, which name none: the decoders accept only caps
/// that do, and refused caps leave the stream unnegotiated, so the picture never comes
/// (`decodebin` hid this by plugging a parser that reads the profile from the stream's SPS).
fn name_the_agreed_profile(depay: &gst::Element) {
    let Some(pad) = depay.static_pad("src") else {
        return;
    };
    pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, |_, info| {
        let Some(gst::EventView::Caps(caps)) = info.event().map(|e| e.view()) else {
            return gst::PadProbeReturn::Ok;
        };
        let caps = caps.caps();
        if caps.structure(0).is_some_and(|s| !s.has_field("profile")) {
            let mut named = caps.to_owned();
            if let Some(s) = named.make_mut().structure_mut(0) {
                s.set("profile", "constrained-baseline");
            }
            info.data = Some(gst::PadProbeData::Event(gst::event::Caps::new(&named)));
        }
        gst::PadProbeReturn::Ok
    });
}

/// What `opusdec` (GStreamer 1.22) adds to the latency with in-band FEC on: the longest packet
/// Opus allows.
const OPUS_FEC_CLAIM: gst::ClockTime = gst::ClockTime::from_mseconds(120);

/// The decoder's latency without the 120 ms it claims for FEC. FEC decodes a lost packet from
/// the one after it. The jitter buffer declares a packet lost only when its time has come
/// (`call/jitter.rs` keeps it at least one 20 ms packet long, as the browsers and we send), and
/// the next one is then already there: the recovered sound is on time. The pipeline's latency
/// is the largest of its streams' and every sink plays that late, so the 120 ms held the
/// picture back too (measured: 200 ms instead of 80 ms in total).
fn claim_no_latency_for_fec(decoder: &gst::Element) {
    let Some(pad) = decoder.static_pad("src") else {
        return;
    };
    pad.add_probe(
        gst::PadProbeType::QUERY_UPSTREAM | gst::PadProbeType::PULL,
        |_, info| {
            if let Some(query) = info.query_mut()
                && let gst::QueryViewMut::Latency(latency) = query.view_mut()
            {
                let (live, min, max) = latency.result();
                if min >= OPUS_FEC_CLAIM {
                    latency.set(live, min - OPUS_FEC_CLAIM, max);
                }
            }
            gst::PadProbeReturn::Ok
        },
    );
}

/// Keeps the remote picture's size in the counters, and tells each change: the other side sends
/// a smaller one when its link narrows (`rate.rs`), for as little as two seconds.
fn watch_size(pad: &gst::Pad, counters: Arc<Counters>, events: PeerEvents, generation: u64) {
    pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
        if let Some(gst::EventView::Caps(caps)) = info.event().map(|e| e.view())
            && let Some(s) = caps.caps().structure(0)
            && let (Ok(w), Ok(h)) = (s.get::<i32>("width"), s.get::<i32>("height"))
        {
            let (w, h) = (w as u32, h as u32);
            let packed = (u64::from(w) << 32) | u64::from(h);
            if counters.video_size_in.swap(packed, Ordering::Relaxed) != packed {
                emit(&events, generation, PeerEvent::PictureSize(w, h));
            }
        }
        gst::PadProbeReturn::Ok
    });
}

/// Where a call plays what it receives.
#[derive(Debug, Clone)]
pub(super) struct Playback {
    pub video: media::VideoOut,
    pub speaker: media::AudioSink,
    /// The call's echo probe, made (and so known to the echo canceller by name) before the
    /// pipeline starts; the remote voice goes through it to the speaker.
    pub echo_probe: Option<gst::Element>,
    /// The test room: the speaker's sound goes back into the microphone.
    pub room: bool,
    /// Benchmarks: how late the other side's time-coded picture and sound play.
    pub measure: Option<media::stamp::Meter>,
}

/// The stream's depayloader and decoder (`media::codec::receive_chain`), tuned, in `pipeline`.
/// What the stream is comes from the caps of webrtcbin's pad: its `encoding-name` is the codec
/// the SDP named for its payload type, which `sdp_check` held to what the kiosk offered.
fn decode_chain(pipeline: &gst::Pipeline, pad: &gst::Pad) -> Result<(gst::Bin, bool), CallError> {
    let caps = pad
        .current_caps()
        .ok_or_else(|| CallError::Setup("a remote stream without caps".into()))?;
    let rtp = caps
        .structure(0)
        .ok_or_else(|| CallError::Setup("a remote stream with empty caps".into()))?;
    let encoding = rtp.get::<&str>("encoding-name").unwrap_or_default();
    let is_video = rtp.get::<&str>("media") == Ok("video");
    let has = |name: &str| gst::ElementFactory::find(name).is_some();
    let description = media::codec::receive_chain(encoding, has).ok_or_else(|| {
        CallError::Setup(format!(
            "a remote stream in {encoding:?}, which the kiosk did not offer or cannot decode"
        ))
    })?;
    let chain = gst::parse::bin_from_description(&description, true)?;
    if let Some(depay) = chain.by_name("depay") {
        tune_receiver(&depay);
    }
    if encoding.eq_ignore_ascii_case("H264")
        && let Some(depay) = chain.by_name("depay")
    {
        name_the_agreed_profile(&depay);
    }
    if let Some(decoder) = chain.by_name("decoder") {
        let factory = decoder.factory().map(|f| f.name().to_string());
        match factory.as_deref() {
            Some("vp8dec") => one_decoder_thread(&decoder),
            Some("opusdec") => {
                tune_receiver(&decoder);
                claim_no_latency_for_fec(&decoder);
            }
            _ => {}
        }
    }
    pipeline.add(&chain)?;
    Ok((chain, is_video))
}

pub(super) fn add_receive_branch(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    playback: Playback,
    counters: Arc<Counters>,
    events: &PeerEvents,
    generation: u64,
) -> Result<(), CallError> {
    let (chain, is_video) = decode_chain(pipeline, pad)?;
    let decoded = pad_of(&chain, "src")?;
    // Downstream first, so the stream finds its way to the speaker or screen from its first
    // buffer on.
    let sink = if is_video {
        play_video(pipeline, &decoded, &playback)?
    } else {
        play_voice(pipeline, &decoded, &playback)?
    };
    if is_video {
        watch_size(&sink, counters.clone(), events.clone(), generation);
    } else {
        measure_level(&sink, counters.clone());
    }
    let (events, first_frame) = (events.clone(), AtomicBool::new(false));
    count_buffers(&sink, move || {
        if is_video {
            counters.video_in.fetch_add(1, Ordering::Relaxed);
            if !first_frame.swap(true, Ordering::Relaxed) {
                emit(&events, generation, PeerEvent::FirstVideoFrame);
            }
        } else {
            counters.audio_in.fetch_add(1, Ordering::Relaxed);
        }
    });
    chain.sync_state_with_parent()?;
    link(pad, &pad_of(&chain, "sink")?)
}

/// A bin from `description` in `pipeline`, playing; its sink and source (if any) ghosted.
fn add_bin(pipeline: &gst::Pipeline, description: &str) -> Result<gst::Bin, CallError> {
    let bin = gst::parse::bin_from_description(description, true)?;
    pipeline.add(&bin)?;
    bin.sync_state_with_parent()?;
    Ok(bin)
}

fn pad_of(bin: &gst::Bin, name: &str) -> Result<gst::Pad, CallError> {
    bin.static_pad(name)
        .ok_or_else(|| CallError::Setup(format!("a receive bin has no {name} pad")))
}

fn link(from: &gst::Pad, to: &gst::Pad) -> Result<(), CallError> {
    from.link(to)
        .map(drop)
        .map_err(|e| CallError::Setup(format!("link the remote stream: {e:?}")))
}

/// Decoded remote video → the screen. Returns the pad where it enters.
fn play_video(
    pipeline: &gst::Pipeline,
    decoded: &gst::Pad,
    playback: &Playback,
) -> Result<gst::Pad, CallError> {
    let bin = add_bin(pipeline, &media::video_play_description(&playback.video))?;
    if let media::VideoOut::Display(channels) = &playback.video {
        let feed = bin
            .by_name(media::SCREEN_FEED)
            .ok_or_else(|| CallError::Setup("the play bin has no screen feed".into()))?;
        media::display::feed::feed_from(&feed, &channels.remote);
    }
    let sink = pad_of(&bin, "sink")?;
    // On the kiosk the screen's composition shows the picture and measures it there.
    if let (Some(meter), media::VideoOut::Sink(_)) = (&playback.measure, &playback.video) {
        media::stamp::read_video_when_due(&sink, meter.clone());
    }
    link(decoded, &sink)?;
    Ok(sink)
}

/// Decoded remote voice → the echo probe → the speaker (and in the test room, back into the
/// microphone). Returns the pad where it enters.
fn play_voice(
    pipeline: &gst::Pipeline,
    decoded: &gst::Pad,
    playback: &Playback,
) -> Result<gst::Pad, CallError> {
    let speaker = add_bin(
        pipeline,
        &media::speaker_description(playback.speaker, playback.room),
    )?;
    let receive = add_bin(pipeline, &media::audio_receive_description())?;
    let out = pad_of(&receive, "src")?;
    let speaker_in = pad_of(&speaker, "sink")?;
    match &playback.echo_probe {
        Some(probe) => {
            let probe_in = probe.static_pad("sink").expect("a transform has a sink");
            let probe_out = probe.static_pad("src").expect("a transform has a src");
            link(&probe_out, &speaker_in)?;
            link(&out, &probe_in)?;
        }
        None => link(&out, &speaker_in)?,
    }
    if playback.room {
        super::room::connect(pipeline, &speaker)?;
    }
    if let Some(meter) = &playback.measure {
        media::stamp::read_beeps(&out, meter.clone());
    }
    let sink = pad_of(&receive, "sink")?;
    link(decoded, &sink)?;
    Ok(sink)
}

/// Keeps the energy of the remote voice in the counters (S16 samples, as the voice path
/// decodes them): the level the statistics report, and how the room test measures echo.
fn measure_level(pad: &gst::Pad, counters: Arc<Counters>) {
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let Some(buffer) = info.buffer()
            && let Ok(map) = buffer.map_readable()
        {
            counters.voice_level.add_s16(map.as_slice());
        }
        gst::PadProbeReturn::Ok
    });
}
