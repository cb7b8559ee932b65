//! The remote picture's way from the call into the composition: the call's `appsink` hands each
//! decoded frame to the screen's `appsrc` the moment it is due, and `compositor` takes it for the
//! next frame it composes.
//!
//! It replaces an `intervideosink` → `intervideosrc` channel, which cost about 60 ms: the source
//! ran on its own clock at the screen's frame rate, took the channel's latest frame as soon as it
//! had pushed the one before, and then waited for that frame's time (a composed frame) before
//! passing it on. Here nothing waits but `compositor`, for its next frame.
//!
//! Channels go by name, as `intervideosink`'s did: the call's pipeline and the screen's know the
//! same name ([`super::super::VideoChannels`]), not each other. This module keeps no frame after
//! its slot is hidden, and never lets the screen hold up the call's thread.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use gst::glib;
use gst::prelude::*;
use gst_video::gst_base;
use gst_video::gst_base::prelude::*;

/// One channel's end at the screen: its `appsrc`, the `compositor` it feeds, and the frame it
/// last got (to pass again when its slot moves).
#[derive(Debug, Default)]
struct Screen {
    source: glib::WeakRef<gst::Element>,
    mix: glib::WeakRef<gst_base::Aggregator>,
    last: Option<gst::Sample>,
}

type Channels = Mutex<HashMap<String, Arc<Mutex<Screen>>>>;

fn channels() -> &'static Channels {
    static CHANNELS: OnceLock<Channels> = OnceLock::new();
    CHANNELS.get_or_init(Channels::default)
}

fn channel(name: &str) -> Arc<Mutex<Screen>> {
    let mut all = channels().lock().unwrap_or_else(|e| e.into_inner());
    all.entry(name.to_string()).or_default().clone()
}

/// The screen's source for the channel, in a pipeline description. At most one frame waits in
/// it (`leaky-type=downstream` drops the older): a frame the screen could not take in time is
/// replaced by a newer one, not queued behind it.
pub(super) fn source_description(name: &str) -> String {
    format!("appsrc name={name} is-live=true format=time max-buffers=1 leaky-type=downstream")
}

/// Makes `source` (from [`source_description`]), linked to `mix`, the screen's end of
/// `channel`.
pub(super) fn attach(channel_name: &str, source: &gst::Element, mix: &gst_base::Aggregator) {
    let screen = channel(channel_name);
    let mut screen = screen.lock().unwrap_or_else(|e| e.into_inner());
    screen.source.set(Some(source));
    screen.mix.set(Some(mix));
    screen.last = None;
}

/// Passes the channel's last frame again, so that it reaches the screen fitted to its slot's new
/// place even when the call sends nothing for a while (paused on a narrow link).
pub(super) fn repeat_last(channel_name: &str) {
    let screen = channel(channel_name);
    let screen = screen.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(sample) = &screen.last {
        screen.push(sample);
    }
}

/// Replaces the channel's last frame with black, `width` x `height`, also in `compositor`, which
/// keeps showing a pad's last frame: when the slot shows again, for the next call, the last one's
/// picture must not flash up before its first frame.
pub(super) fn blank(channel_name: &str, width: u32, height: u32) {
    let black = [0, 0, 0, 0xff].repeat((width * height) as usize);
    let caps = gst::Caps::builder("video/x-raw")
        .field("format", super::FORMAT)
        .field("colorimetry", super::COLORIMETRY)
        .field("width", width as i32)
        .field("height", height as i32)
        .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
        .field("framerate", gst::Fraction::new(0, 1))
        .build();
    let sample = gst::Sample::builder()
        .buffer(&gst::Buffer::from_mut_slice(black))
        .caps(&caps)
        .build();
    let screen = channel(channel_name);
    let mut screen = screen.lock().unwrap_or_else(|e| e.into_inner());
    screen.push(&sample);
    screen.last = Some(sample);
}

/// The call's end of `channel_name`: every frame `sink` (an `appsink` with `sync=true`, its
/// `ts-offset` earlier by how long the screen takes) renders goes to the screen.
pub fn feed_from(sink: &gst::Element, channel_name: &str) {
    let screen = channel(channel_name);
    // Signals, as `appsink` offers them without the app library's bindings; `drop` and one
    // buffer: a screen that stalls costs the call nothing but the frames it does not show.
    sink.set_property("emit-signals", true);
    sink.set_property("max-buffers", 1u32);
    sink.set_property("drop", true);
    sink.connect("new-sample", false, move |values| {
        let sample = values
            .first()
            .and_then(|v| v.get::<gst::Element>().ok())
            .and_then(|sink| sink.emit_by_name::<Option<gst::Sample>>("pull-sample", &[]));
        if let Some(sample) = sample {
            let mut screen = screen.lock().unwrap_or_else(|e| e.into_inner());
            screen.push(&sample);
            screen.last = Some(sample);
        }
        Some(gst::FlowReturn::Ok.to_value())
    });
}

impl Screen {
    /// Hands `sample` to the screen, timed as if it had come `compositor`'s latency ago. The
    /// composition runs on its own clock: it composes a frame when its latency (a composed frame)
    /// has passed since the frame's start, and takes for it what came before that start. So a
    /// frame timed when it came would wait for the next frame's deadline; timed so, it counts as
    /// come in time for the frame composed next, and of several that came since the last one
    /// `compositor` takes the newest (ahead of their time, it would take one per frame, the oldest
    /// first). No duration: a frame shows until the next one comes.
    fn push(&self, sample: &gst::Sample) {
        let (Some(source), Some(mix)) = (self.source.upgrade(), self.mix.upgrade()) else {
            return;
        };
        let (Some(buffer), Some(now)) = (sample.buffer(), source.current_running_time()) else {
            return;
        };
        let latency = mix.latency().unwrap_or(gst::ClockTime::ZERO);
        let mut buffer = buffer.copy();
        {
            let buffer = buffer.make_mut();
            buffer.set_pts(now.saturating_sub(latency));
            buffer.set_dts(gst::ClockTime::NONE);
            buffer.set_duration(gst::ClockTime::NONE);
        }
        let mut timed = gst::Sample::builder().buffer(&buffer);
        let caps = sample.caps_owned();
        if let Some(caps) = &caps {
            timed = timed.caps(caps);
        }
        let flow = source.emit_by_name::<gst::FlowReturn>("push-sample", &[&timed.build()]);
        if !matches!(flow, gst::FlowReturn::Ok | gst::FlowReturn::Flushing) {
            tracing::debug!(?flow, "remote frame not taken by the screen");
        }
    }
}
