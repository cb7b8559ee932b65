//! The test room (`audio_source = "room"`, development configs only): what the kiosk's speaker
//! plays comes back into its microphone, as it does in a small room with the loudspeaker beside
//! the microphone. The echo canceller must take it out again; the room test measures how well.
//!
//! The speaker's tap (`room_tap`) sees each buffer before the speaker plays it. The speaker
//! plays it at its running time plus the pipeline's latency; the room gives it back
//! [`ROOM_DELAY`] later. So it goes into the microphone's mixer (`room_echo`) stamped with
//! exactly that time: what a real microphone would have stamped it with.

use std::sync::atomic::Ordering;

use gst::prelude::*;

use crate::call::CallError;
use crate::media::voice::{ROOM_DELAY, ROOM_ECHO};

/// Connects the speaker's tap in `speaker` to the microphone's echo source in `pipeline`.
pub(super) fn connect(pipeline: &gst::Pipeline, speaker: &gst::Bin) -> Result<(), CallError> {
    let missing = |name: &str| CallError::Setup(format!("test room: {name} missing"));
    let tap = speaker
        .by_name("room_tap")
        .ok_or_else(|| missing("room_tap"))?;
    let echo = pipeline
        .by_name(ROOM_ECHO)
        .ok_or_else(|| missing(ROOM_ECHO))?;
    let echo = echo.downgrade();
    // The latency the speaker plays with (the pipeline's, which the echo probe reads too):
    // it comes to every sink as a LATENCY event, which the tap passes upstream.
    let tap_in = tap
        .static_pad("sink")
        .ok_or_else(|| missing("room_tap's pad"))?;
    let latency = crate::media::stamp::sink_latency(&tap_in);
    tap.set_property("emit-signals", true);
    tap.connect("new-sample", false, move |values| {
        let tap = values[0].get::<gst::Element>().ok()?;
        let sample = tap.emit_by_name::<Option<gst::Sample>>("pull-sample", &[])?;
        let latency = gst::ClockTime::from_nseconds(latency.load(Ordering::Relaxed));
        let flow = match (echo.upgrade(), echo_of(&sample, latency)) {
            (Some(echo), Some(buffer)) => {
                echo.emit_by_name::<gst::FlowReturn>("push-buffer", &[&buffer])
            }
            _ => gst::FlowReturn::Ok,
        };
        Some(flow.to_value())
    });
    Ok(())
}

/// The sample as the microphone hears it: stamped with when the speaker plays it (its running
/// time plus the pipeline's `latency`) plus the room's delay.
fn echo_of(sample: &gst::Sample, latency: gst::ClockTime) -> Option<gst::Buffer> {
    let buffer = sample.buffer()?;
    let segment = sample.segment()?.downcast_ref::<gst::ClockTime>()?;
    let running = segment.to_running_time(buffer.pts()?)?;
    let delay = gst::ClockTime::from_nseconds(ROOM_DELAY.as_nanos() as u64);
    let mut echo = buffer.copy();
    let echo_mut = echo.make_mut();
    echo_mut.set_pts(running + latency + delay);
    echo_mut.set_dts(gst::ClockTime::NONE);
    Some(echo)
}
