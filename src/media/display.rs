//! The kiosk's screen as one GStreamer composition: the remote picture and the self-view from the
//! call (in-process video channels), with the UI layer on top (RGBA from `appsrc`, pushed only
//! when it changes), mixed by `compositor` into the display sink from config.
//!
//! [`Display`] owns the pipeline; dropping it sets the pipeline to `Null`. Only a development
//! config adds a capture branch for composed screenshots: a production kiosk has no way to copy
//! the remote picture.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use embedded_graphics::prelude::Point;
use gst::prelude::*;
use tokio::sync::mpsc;

use super::{VideoChannels, VideoSink, video_sink_element};
use crate::ui::Panel;
use crate::ui::layout::Slot;
use crate::ui::touch::Touch;

/// Frames per second of the composed screen while video shows, and while only the UI does
/// (then the screen changes only on a touch or a tick of the clock, and the kiosk sits idle
/// most of the day).
const VIDEO_FPS: i32 = 25;
const UI_FPS: i32 = 5;

#[derive(Debug, Clone)]
pub struct DisplaySpec {
    pub panel: Panel,
    pub sink: VideoSink,
    pub channels: VideoChannels,
    /// Keep the last composed frame for `screenshot` with `composed` (development configs only).
    pub capture: bool,
}

/// Where a video slot shows on the screen; `None` hides it.
pub type Placement = Option<(i32, i32, u32, u32)>;

#[derive(Debug)]
pub struct Display {
    pipeline: gst::Pipeline,
    ui: gst::Element,
    remote_pad: gst::Pad,
    self_pad: gst::Pad,
    capture: Option<gst::Element>,
    rate: gst::Element,
    video_visible: bool,
    panel: Panel,
    /// Frames that reached the display; the watchdog sees the screen alive by this count.
    shown: Arc<AtomicU64>,
    /// Tests only: stalls the display's streaming thread.
    stall: Arc<AtomicBool>,
}

/// The GStreamer elements the screen needs that GStreamer does not have.
pub fn check_elements(spec: &DisplaySpec) -> Result<(), Vec<&'static str>> {
    let mut needed = vec![
        "compositor",
        "intervideosrc",
        "appsrc",
        "tee",
        video_sink_element(spec.sink),
    ];
    if spec.capture {
        needed.push("appsink");
    }
    super::present(needed)
}

#[derive(Debug, thiserror::Error)]
pub enum DisplayError {
    #[error("the screen pipeline could not be built: {0}")]
    Build(String),
    #[error("the display could not be started: {0}")]
    Start(#[from] gst::StateChangeError),
}

impl Display {
    /// Starts the composition. Clicks on a desktop window arrive on `touches` like touches.
    pub fn start(spec: &DisplaySpec, touches: mpsc::Sender<Touch>) -> Result<Self, DisplayError> {
        let (w, h) = (spec.panel.width, spec.panel.height);
        // Named, so mouse clicks on a desktop window (navigation events) can be read at its pad.
        let sink = format!("{} name=display sync=false", video_sink_element(spec.sink));
        let capture = if spec.capture {
            "out. ! queue max-size-buffers=1 leaky=downstream ! videoconvert ! video/x-raw,format=RGBA \
             ! appsink name=capture max-buffers=1 drop=true sync=false"
        } else {
            ""
        };
        let description = format!(
            "compositor name=mix background=black force-live=true ignore-inactive-pads=true \
               ! capsfilter name=rate caps=video/x-raw,width={w},height={h},framerate={UI_FPS}/1 \
               ! tee name=out \
               ! queue max-size-buffers=2 leaky=downstream ! videoconvert ! {sink} \
             {capture} \
             intervideosrc channel={remote} ! videoconvert ! mix.sink_0 \
             intervideosrc channel={own} ! videoconvert ! mix.sink_1 \
             appsrc name=ui is-live=true format=time do-timestamp=true \
               caps=video/x-raw,format=RGBA,width={w},height={h},framerate=0/1 \
               ! videoconvert ! mix.sink_2",
            remote = spec.channels.remote,
            own = spec.channels.self_view,
        );
        let pipeline = gst::parse::launch(&description)
            .map_err(|e| DisplayError::Build(e.to_string()))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| DisplayError::Build("not a pipeline".into()))?;
        let by_name = |name: &str| {
            pipeline
                .by_name(name)
                .ok_or_else(|| DisplayError::Build(format!("{name} missing")))
        };
        let mix = by_name("mix")?;
        let ui = by_name("ui")?;
        let pad = |name: &str| {
            mix.static_pad(name)
                .ok_or_else(|| DisplayError::Build(format!("mix.{name} missing")))
        };
        let (remote_pad, self_pad, ui_pad) = (pad("sink_0")?, pad("sink_1")?, pad("sink_2")?);
        ui_pad.set_property("zorder", 2u32);
        let capture = if spec.capture {
            Some(by_name("capture")?)
        } else {
            None
        };
        let rate = by_name("rate")?;
        let display_pad = by_name("display")?
            .static_pad("sink")
            .ok_or_else(|| DisplayError::Build("display sink has no pad".into()))?;
        read_clicks(&display_pad, touches);
        let (shown, stall) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        count_frames(&display_pad, shown.clone(), stall.clone());
        let screen = Self {
            pipeline,
            ui,
            remote_pad,
            self_pad,
            capture,
            rate,
            video_visible: false,
            panel: spec.panel,
            shown,
            stall,
        };
        screen.place(Slot::RemoteVideo, None);
        screen.place(Slot::SelfView, None);
        screen.pipeline.set_state(gst::State::Playing)?;
        Ok(screen)
    }

    /// Shows a video slot at `placement`, or hides it.
    pub fn place(&self, slot: Slot, placement: Placement) {
        let (pad, zorder) = match slot {
            Slot::RemoteVideo => (&self.remote_pad, 0u32),
            Slot::SelfView => (&self.self_pad, 1u32),
        };
        pad.set_property("zorder", zorder);
        // A picture of another shape is letterboxed, never stretched: people look at faces.
        pad.set_property_from_str("sizing-policy", "keep-aspect-ratio");
        match placement {
            Some((x, y, w, h)) => {
                pad.set_property("xpos", x);
                pad.set_property("ypos", y);
                pad.set_property("width", w as i32);
                pad.set_property("height", h as i32);
                pad.set_property("alpha", 1.0f64);
            }
            None => pad.set_property("alpha", 0.0f64),
        }
    }

    /// Runs the composition at the video frame rate while any video shows, slower otherwise.
    pub fn set_video_visible(&mut self, visible: bool) {
        if std::mem::replace(&mut self.video_visible, visible) == visible {
            return;
        }
        let fps = if visible { VIDEO_FPS } else { UI_FPS };
        let caps = gst::Caps::builder("video/x-raw")
            .field("width", self.panel.width as i32)
            .field("height", self.panel.height as i32)
            .field("framerate", gst::Fraction::new(fps, 1))
            .build();
        self.rate.set_property("caps", caps);
    }

    /// Pushes a new UI layer (RGBA, the panel's size). Transparent pixels let video show through.
    pub fn show_ui(&self, rgba: &[u8]) {
        let expected = (self.panel.width * self.panel.height * 4) as usize;
        if rgba.len() != expected {
            tracing::error!(
                len = rgba.len(),
                expected,
                "UI frame of the wrong size dropped"
            );
            return;
        }
        let buffer = gst::Buffer::from_slice(rgba.to_vec());
        let flow = self
            .ui
            .emit_by_name::<gst::FlowReturn>("push-buffer", &[&buffer]);
        if flow != gst::FlowReturn::Ok {
            tracing::warn!(?flow, "UI frame not taken by the screen pipeline");
        }
    }

    /// The last composed frame as RGBA, where the config allows capturing it.
    pub fn composed(&self) -> Option<Vec<u8>> {
        let sample = self.capture.as_ref()?.emit_by_name::<Option<gst::Sample>>(
            "try-pull-sample",
            &[&gst::ClockTime::from_mseconds(500)],
        )?;
        let buffer = sample.buffer()?;
        let map = buffer.map_readable().ok()?;
        Some(map.as_slice().to_vec())
    }

    /// How many frames the display has been given so far (5 or 25 a second while it works).
    pub fn frames_shown(&self) -> u64 {
        self.shown.load(Ordering::Relaxed)
    }

    /// Tests only: the display's streaming thread stops, as a hung display driver would.
    pub fn hang_for_test(&self) {
        self.stall.store(true, Ordering::Relaxed);
    }
}

fn count_frames(pad: &gst::Pad, shown: Arc<AtomicU64>, stall: Arc<AtomicBool>) {
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        while stall.load(Ordering::Relaxed) {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        shown.fetch_add(1, Ordering::Relaxed);
        gst::PadProbeReturn::Ok
    });
}

/// Mouse button press and release on the display window, as touches in panel pixels.
fn read_clicks(pad: &gst::Pad, touches: mpsc::Sender<Touch>) {
    let pressed: Mutex<Option<Instant>> = Mutex::new(None);
    pad.add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_, info| {
        let Some(gst::PadProbeData::Event(event)) = &info.data else {
            return gst::PadProbeReturn::Ok;
        };
        let Some(s) = event
            .structure()
            .filter(|_| event.type_() == gst::EventType::Navigation)
        else {
            return gst::PadProbeReturn::Ok;
        };
        let at = (s.get::<f64>("pointer_x"), s.get::<f64>("pointer_y"));
        let mut pressed = pressed.lock().unwrap_or_else(|p| p.into_inner());
        match (s.get::<&str>("event"), at) {
            (Ok("mouse-button-press"), _) => *pressed = Some(Instant::now()),
            (Ok("mouse-button-release"), (Ok(x), Ok(y))) => {
                let held = pressed.take().map(|t| t.elapsed()).unwrap_or_default();
                let touch = Touch {
                    point: Point::new(x as i32, y as i32),
                    held,
                };
                if touches.try_send(touch).is_err() {
                    tracing::warn!("click dropped: the daemon is not keeping up");
                }
            }
            _ => {}
        }
        gst::PadProbeReturn::Ok
    });
}

impl Drop for Display {
    fn drop(&mut self) {
        if let Err(e) = self.pipeline.set_state(gst::State::Null) {
            tracing::warn!(error = %e, "screen pipeline did not stop cleanly");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clicks_on_the_display_window_arrive_as_touches() {
        gst::init().unwrap();
        let (tx, mut rx) = mpsc::channel(4);
        let spec = DisplaySpec {
            panel: Panel::PI_TOUCH,
            sink: VideoSink::Fake,
            channels: VideoChannels::for_device("clicks-test"),
            capture: false,
        };
        let screen = Display::start(&spec, tx).unwrap();
        let display = screen.pipeline.by_name("display").unwrap();
        for event in ["mouse-button-press", "mouse-button-release"] {
            let s = gst::Structure::builder("application/x-gst-navigation")
                .field("event", event)
                .field("button", 1i32)
                .field("pointer_x", 412.0f64)
                .field("pointer_y", 96.0f64)
                .build();
            display.send_event(gst::event::Navigation::new(s));
        }
        let touch = rx.try_recv().expect("a click became a touch");
        assert_eq!(touch.point, Point::new(412, 96));
    }
}
