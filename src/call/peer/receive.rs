//! What comes from the other side: a branch per remote stream, decoded and played, counted, its
//! decoders and depayloaders set to ride out loss.

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

/// Keeps the remote picture's size in the counters: the other side sends a smaller one when its
/// link narrows (`rate.rs`).
fn watch_size(pad: &gst::Pad, counters: Arc<Counters>) {
    pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
        if let Some(gst::EventView::Caps(caps)) = info.event().map(|e| e.view())
            && let Some(s) = caps.caps().structure(0)
            && let (Ok(w), Ok(h)) = (s.get::<i32>("width"), s.get::<i32>("height"))
        {
            let packed = (u64::from(w as u32) << 32) | u64::from(h as u32);
            counters.video_size_in.store(packed, Ordering::Relaxed);
        }
        gst::PadProbeReturn::Ok
    });
}

pub(super) fn add_receive_branch(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    sinks: (media::VideoOut, media::AudioSink),
    counters: Arc<Counters>,
    events: &PeerEvents,
    generation: u64,
) -> Result<(), CallError> {
    let decodebin = gst::ElementFactory::make("decodebin").build()?;
    decodebin.connect("deep-element-added", false, |values| {
        if let Some(element) = values.get(2).and_then(|v| v.get::<gst::Element>().ok())
            && (element.name().starts_with("rtp") || element.name().starts_with("opusdec"))
        {
            tune_receiver(&element);
        }
        None
    });
    let pipeline_weak = pipeline.downgrade();
    let events = events.clone();
    let first_frame = Arc::new(AtomicBool::new(false));
    decodebin.connect_pad_added(move |_, decoded| {
        let Some(pipeline) = pipeline_weak.upgrade() else {
            return;
        };
        let Some(caps) = decoded.current_caps() else {
            return;
        };
        let Some(kind) = caps.structure(0).map(|s| s.name().to_string()) else {
            return;
        };
        let is_video = kind.starts_with("video/");
        let description = if is_video {
            media::video_play_description(&sinks.0)
        } else if kind.starts_with("audio/") {
            media::audio_play_description(sinks.1)
        } else {
            return;
        };
        let linked = gst::parse::bin_from_description(&description, true)
            .map_err(CallError::from)
            .and_then(|bin| {
                pipeline.add(&bin)?;
                bin.sync_state_with_parent()?;
                let sink = bin
                    .static_pad("sink")
                    .ok_or_else(|| CallError::Setup("play bin has no sink".into()))?;
                decoded
                    .link(&sink)
                    .map_err(|e| CallError::Setup(format!("link decoded stream: {e:?}")))?;
                Ok(sink)
            });
        match linked {
            Ok(sink) => {
                if is_video {
                    watch_size(&sink, counters.clone());
                }
                let (counters, events, first_frame) =
                    (counters.clone(), events.clone(), first_frame.clone());
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
            }
            Err(e) => emit(
                &events,
                generation,
                PeerEvent::Error(format!("cannot play {kind}: {e}")),
            ),
        }
    });
    pipeline.add(&decodebin)?;
    decodebin.sync_state_with_parent()?;
    let sink = decodebin
        .static_pad("sink")
        .ok_or_else(|| CallError::Setup("decodebin has no sink".into()))?;
    pad.link(&sink)
        .map_err(|e| CallError::Setup(format!("link remote stream: {e:?}")))?;
    Ok(())
}
