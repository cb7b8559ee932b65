//! The staff check's device test: the camera into the self-view channel, the microphone through
//! a level meter, and a test tone for the speaker. It runs only while the staff check shows (the
//! flow is idle then, so nobody else holds the camera), and nothing of it is stored.

use gst::prelude::*;

use super::{AudioSink, MediaSpec, VideoOut, audio_play_description};

/// A running device test. Dropping it stops the camera and the microphone.
#[derive(Debug)]
pub struct DeviceCheck {
    pipeline: gst::Pipeline,
    bus: gst::Bus,
    camera_ok: bool,
    microphone_ok: bool,
    level: f32,
}

/// The camera and microphone parts of the kiosk's call bins, reused so the check tests exactly
/// what a call would use.
fn description(media: &MediaSpec, self_view: &str) -> String {
    let camera = super::video_source(media);
    let microphone = super::audio_source(media);
    format!(
        "{camera} name=camera ! videoconvert ! videoscale ! video/x-raw,width=640,height=360 \
           ! queue max-size-buffers=1 leaky=downstream ! intervideosink channel={self_view} \
         {microphone} name=microphone ! audioconvert ! level interval=100000000 post-messages=true \
           ! fakesink sync=false"
    )
}

impl DeviceCheck {
    pub fn start(media: &MediaSpec) -> Self {
        let self_view = match &media.video_out {
            VideoOut::Display(channels) => channels.self_view.clone(),
            VideoOut::Sink(_) => "device-check".into(),
        };
        let pipeline = gst::parse::launch(&description(media, &self_view))
            .ok()
            .and_then(|p| p.downcast::<gst::Pipeline>().ok())
            .unwrap_or_default();
        let bus = pipeline.bus().expect("a pipeline always has a bus");
        let started = pipeline.set_state(gst::State::Playing).is_ok();
        let mut check = Self {
            pipeline,
            bus,
            camera_ok: started,
            microphone_ok: started,
            level: 0.0,
        };
        check.poll();
        check
    }

    /// Reads what the pipeline reported since the last call: errors name the failing device,
    /// level messages move the meter.
    pub fn poll(&mut self) {
        while let Some(message) = self.bus.pop() {
            match message.view() {
                gst::MessageView::Error(e) => {
                    let mut object = message.src().cloned();
                    while let Some(o) = object {
                        match o.name().as_str() {
                            "camera" => self.camera_ok = false,
                            "microphone" => self.microphone_ok = false,
                            _ => {}
                        }
                        object = o.parent();
                    }
                    tracing::warn!(error = %e.error(), "device check failed");
                }
                gst::MessageView::Element(element) => {
                    if let Some(rms) = element
                        .structure()
                        .filter(|s| s.name() == "level")
                        .and_then(|s| s.get::<gst::glib::ValueArray>("rms").ok())
                    {
                        let loudest = rms
                            .iter()
                            .filter_map(|v| v.get::<f64>().ok())
                            .fold(f64::MIN, f64::max);
                        // -60 dB (silence) to 0 dB (full scale) onto the meter.
                        self.level = ((loudest + 60.0) / 60.0).clamp(0.0, 1.0) as f32;
                    }
                }
                _ => {}
            }
        }
    }

    pub fn camera_ok(&self) -> bool {
        self.camera_ok
    }

    pub fn microphone_ok(&self) -> bool {
        self.microphone_ok
    }

    /// The microphone's level, 0.0 to 1.0.
    pub fn level(&self) -> f32 {
        self.level
    }
}

impl Drop for DeviceCheck {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// Plays a one-second 880 Hz tone on the speaker; the returned pipeline stops itself at the end
/// of the tone (drop it to stop early).
pub fn speaker_tone(sink: AudioSink) -> Option<gst::Pipeline> {
    let description = format!(
        "audiotestsrc num-buffers=47 freq=880 volume=0.3 samplesperbuffer=1024 ! audioconvert ! {}",
        audio_play_description(sink)
    );
    let pipeline = gst::parse::launch(&description)
        .ok()?
        .downcast::<gst::Pipeline>()
        .ok()?;
    pipeline.set_state(gst::State::Playing).ok()?;
    Some(pipeline)
}
