//! The call's jitter buffers (one per remote stream, made by webrtcbin's `rtpbin`): what they
//! saw in the last second, for `call/jitter.rs`.

use std::sync::{Arc, Mutex};

use gst::prelude::*;

use crate::call::jitter::Seen;

const FASTSTART_PACKETS: u32 = 2;

#[derive(Debug, Default)]
pub(super) struct JitterBuffers {
    buffers: Arc<Mutex<Vec<gst::glib::WeakRef<gst::Element>>>>,
    /// Late packets counted up to the last look.
    late: u64,
}

impl JitterBuffers {
    /// Keeps each jitter buffer `webrtc` makes from now on.
    pub fn watch(webrtc: &gst::Element) -> Self {
        let watched = Self::default();
        let rtpbin = webrtc
            .downcast_ref::<gst::Bin>()
            .and_then(|bin| bin.by_name("rtpbin"));
        let Some(rtpbin) = rtpbin else {
            tracing::warn!("webrtcbin has no rtpbin: the jitter buffer keeps its latency");
            return watched;
        };
        let buffers = watched.buffers.clone();
        rtpbin.connect("new-jitterbuffer", false, move |values| {
            if let Some(buffer) = values.get(1).and_then(|v| v.get::<gst::Element>().ok()) {
                // A stream starts as soon as two packets came in order, not only after the
                // whole latency has passed (rtpjitterbuffer's default): the first frame and
                // the first sound come that much sooner.
                if buffer.find_property("faststart-min-packets").is_some() {
                    buffer.set_property("faststart-min-packets", FASTSTART_PACKETS);
                }
                let mut buffers = buffers.lock().unwrap_or_else(|e| e.into_inner());
                buffers.retain(|weak| weak.upgrade().is_some());
                buffers.push(buffer.downgrade());
            }
            None
        });
        watched
    }

    /// Late packets since the last look, and the largest jitter now.
    pub fn seen(&mut self) -> Seen {
        let buffers = self.buffers.lock().unwrap_or_else(|e| e.into_inner());
        let (mut late, mut jitter_ms) = (0u64, 0.0f64);
        for buffer in buffers.iter().filter_map(|weak| weak.upgrade()) {
            let stats = buffer.property::<gst::Structure>("stats");
            late += stats.get::<u64>("num-late").unwrap_or(0);
            let jitter_ns = stats.get::<u64>("avg-jitter").unwrap_or(0);
            jitter_ms = jitter_ms.max(jitter_ns as f64 / 1e6);
        }
        let new = late.saturating_sub(self.late);
        self.late = late;
        Seen {
            late: new,
            jitter_ms,
        }
    }
}
