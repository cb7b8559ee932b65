//! Google congestion control (`rtpgccbwe`) for a peer: made when webrtcbin asks for its
//! transport's aux sender, its estimate kept in the call's counters, reseeded by `rate.rs`, and
//! let go of with the peer.
//!
//! Why it is handed over in a bin of its own: webrtcbin 1.22 takes one reference too many on
//! the aux sender it is given (`on_rtpbin_request_aux_sender` sinks it although it is not
//! floating, and elements made from Rust never are) and never returns it. Seen with the leaks
//! tracer: after every call one `rtpgccbwe` stayed alive, without a parent, with the RTP
//! packets it was pacing. So webrtcbin gets a bin that only holds the controller, and when the
//! peer stops ([`Estimator::release`]) the controller leaves that bin: the bin's reference was
//! its only owner, and the one webrtcbin keeps is on the empty bin (a few hundred bytes a call
//! until GStreamer is fixed; newer webrtcbin sinks only floating references).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use gst::prelude::*;

use super::Counters;
use crate::media;

/// What Opus at 32 kbit/s takes on the wire, with RTP and SRTP: subtracted from the estimate.
const AUDIO_BPS: u32 = 40_000;
/// Below this a picture is no longer worth sending; the estimator does not go lower.
const MIN_VIDEO_BPS: u32 = 100_000;

/// Google congestion control on the (bundled) transport: it estimates the bandwidth from the
/// other side's transport-wide feedback and paces our packets. Its estimate, less the voice's
/// share, goes into `counters.video_estimate`; the call sets the encoder from it once a second
/// (`rate.rs`, [`Peer::apply_rate`]). The quality indicator shows the effect.
pub(super) fn adapt_to_bandwidth(
    webrtc: &gst::Element,
    encoder: &gst::Element,
    codec: media::VideoCodec,
    max_video_bps: u32,
    counters: Arc<Counters>,
) -> Estimator {
    let estimator = Estimator::default();
    let slot = estimator.0.clone();
    let start = (max_video_bps / 2).max(MIN_VIDEO_BPS);
    codec.set_bitrate(encoder, start);
    counters
        .video_target
        .store(u64::from(start), Ordering::Relaxed);
    counters
        .video_estimate
        .store(u64::from(start), Ordering::Relaxed);
    webrtc.connect("request-aux-sender", false, move |_| {
        let gcc = gst::ElementFactory::make("rtpgccbwe")
            .property("min-bitrate", MIN_VIDEO_BPS + AUDIO_BPS)
            .property("max-bitrate", max_video_bps + AUDIO_BPS)
            .property("estimated-bitrate", start + AUDIO_BPS)
            .build();
        let (gcc, holder) = match gcc.map_err(|e| e.to_string()).and_then(|gcc| {
            let holder = hold(&gcc)?;
            Ok((gcc, holder))
        }) {
            Ok(made) => made,
            Err(e) => {
                tracing::warn!(error = %e, "no bandwidth estimation: the bitrate stays fixed");
                return Some(None::<gst::Element>.to_value());
            }
        };
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(Made {
            gcc: gcc.downgrade(),
            holder: holder.downgrade(),
        });
        count_feedback(&gcc, counters.clone());
        let counters = counters.clone();
        gcc.connect_notify(Some("estimated-bitrate"), move |gcc, _| {
            let total = gcc.property::<u32>("estimated-bitrate");
            let video = total
                .saturating_sub(AUDIO_BPS)
                .clamp(MIN_VIDEO_BPS, max_video_bps);
            counters
                .video_estimate
                .store(u64::from(video), Ordering::Relaxed);
        });
        Some(holder.to_value())
    });
    estimator
}

/// A bin that holds only `gcc`, with its pads: what webrtcbin is given instead of `gcc` itself
/// (see the module's documentation).
fn hold(gcc: &gst::Element) -> Result<gst::Bin, String> {
    let holder = gst::Bin::with_name("congestion-control");
    holder.add(gcc).map_err(|e| e.to_string())?;
    for name in ["sink", "src"] {
        let pad = gcc
            .static_pad(name)
            .ok_or_else(|| format!("rtpgccbwe has no {name} pad"))?;
        let ghost = gst::GhostPad::builder_with_target(&pad)
            .map_err(|e| e.to_string())?
            .name(name)
            .build();
        holder.add_pad(&ghost).map_err(|e| e.to_string())?;
    }
    Ok(holder)
}

/// Counts the transport-wide feedback reaching congestion control. `rtpgccbwe` changes its
/// estimate only on feedback: when a link so full that the feedback is lost too, its estimate
/// stays where it was, however much the link drops.
fn count_feedback(gcc: &gst::Element, counters: Arc<Counters>) {
    let Some(pad) = gcc.static_pad("src") else {
        return;
    };
    pad.add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_, info| {
        if let Some(event) = info.event()
            && event
                .structure()
                .is_some_and(|s| s.name() == "RTPTWCCPackets")
        {
            counters.feedback_in.fetch_add(1, Ordering::Relaxed);
        }
        gst::PadProbeReturn::Ok
    });
}

/// Congestion control's element and the bin it was handed to webrtcbin in; weak: the pipeline
/// owns them.
#[derive(Debug)]
struct Made {
    gcc: gst::glib::WeakRef<gst::Element>,
    holder: gst::glib::WeakRef<gst::Bin>,
}

/// Congestion control's element, once webrtcbin asked for it: [`Estimator::reseed`] tells it
/// where to go on from (`rate.rs`: a probe, or video back from a pause).
#[derive(Debug, Default, Clone)]
pub(super) struct Estimator(Arc<std::sync::Mutex<Option<Made>>>);

impl Estimator {
    fn made(&self) -> std::sync::MutexGuard<'_, Option<Made>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn reseed(&self, video_bps: u32) {
        if let Some(gcc) = self.made().as_ref().and_then(|made| made.gcc.upgrade()) {
            // Documented as a start value; rtpgccbwe takes it at any time as its new target on
            // delay and on loss, and goes on from there (gst-plugin-rtp 0.15).
            gcc.set_property("estimated-bitrate", video_bps + AUDIO_BPS);
        }
    }

    /// Lets the controller go once its pipeline has stopped: out of the bin webrtcbin keeps a
    /// reference too many on, it ends with the pipeline. Until then the bin is its only owner.
    pub fn release(&self) {
        let Some(made) = self.made().take() else {
            return;
        };
        if let (Some(gcc), Some(holder)) = (made.gcc.upgrade(), made.holder.upgrade()) {
            for pad in holder.pads() {
                // Only our ghost pads; removing them also lets go of their proxy pads.
                let _ = holder.remove_pad(&pad);
            }
            if holder.remove(&gcc).is_err() {
                tracing::warn!("congestion control could not be let go of: it stays in memory");
            }
        }
    }

    /// Tests: the controller, while anything keeps it alive.
    #[cfg(test)]
    pub fn element(&self) -> Option<gst::Element> {
        self.made().as_ref().and_then(|made| made.gcc.upgrade())
    }
}
