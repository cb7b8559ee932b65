//! The kiosk's screen as one GStreamer composition: the remote picture and the self-view from the
//! call (handed over as the call has them, [`feed`], and on an in-process video channel), with the
//! UI layer on top (from `appsrc`, pushed only when it changes), mixed by `compositor` into the
//! display sink from config.
//!
//! [`Display`] owns the pipeline; dropping it sets the pipeline to `Null`. Only a development
//! config adds a capture branch for composed screenshots: a production kiosk has no way to copy
//! the remote picture.
//!
//! What it costs is measured by `cargo bench --bench screen`. `compositor` (GStreamer 1.22)
//! converts every input that is not in its output format, and scales every input that is not
//! its slot's size, again for every frame it composes, changed or not; and it blends every pixel
//! of every input. So everything arrives ready: the pictures scaled to their slots and converted
//! to the output format once per frame in their own streaming threads (the cheap planar scaler
//! and the one-pass I420→BGRA path, not the compositor's general converter), the UI layer in the
//! output format and cut into bands of the rows it draws on (`bands`, `ui_layer`); opaque inputs
//! are copied, not blended.

mod bands;
pub mod feed;
mod ui_layer;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use embedded_graphics::prelude::Point;
use gst::prelude::*;
use tokio::sync::mpsc;

use super::{VideoChannels, VideoSink, video_sink_element};
use crate::ui::Panel;
use crate::ui::layout::Slot;
use crate::ui::touch::Touch;
use ui_layer::UiLayer;

/// Frames per second of the composed screen while video shows, and while only the UI does
/// (then the screen changes only on a touch or a tick of the clock, and the kiosk sits idle
/// most of the day).
const VIDEO_FPS: i32 = 25;
const UI_FPS: i32 = 5;

/// The composition restarts itself after an error at most this often ([`Display::recover`]).
const RESTART_EVERY: Duration = Duration::from_secs(30);

/// The composed screen's format. BGRA is DRM's ARGB8888, which KMS drivers (the Pi's vc4 on
/// every plane) and Wayland's shared memory (where it is mandatory) take, so kmssink and
/// waylandsink show it as it is; I420 arrives in it in one pass; and it has the alpha the UI
/// needs to let video through. Pinned, because left open `compositor` picks one before its
/// inputs have caps, and an input that cannot follow stops.
const FORMAT: &str = "BGRA";
/// Pinned as well: an input whose colorimetry differs from the output's is copied through a
/// converter every frame even when its format is the same.
const COLORIMETRY: &str = "sRGB";

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
    ui: UiLayer,
    remote: VideoSlot,
    self_view: VideoSlot,
    capture: Option<gst::Element>,
    rate: gst::Element,
    video_visible: bool,
    panel: Panel,
    /// Frames that reached the display; the watchdog sees the screen alive by this count.
    shown: Arc<AtomicU64>,
    /// Tests only: stalls the display's streaming thread.
    stall: Arc<AtomicBool>,
    /// Where the remote picture's slot is now (benchmarks read the picture's time code there).
    remote_at: Arc<Mutex<Placement>>,
    /// Where the self-view's slot is now.
    self_at: Mutex<Placement>,
    /// Set when the pipeline posts an error; [`Display::recover`] restarts it.
    failed: Arc<AtomicBool>,
    /// When it was last restarted.
    restarted: Option<Instant>,
}

/// A picture's input to the composition: its pad, and the caps its scaler and converter fit it
/// to before it gets there.
#[derive(Debug)]
struct VideoSlot {
    pad: gst::Pad,
    fit: gst::Element,
    zorder: u32,
    refit: Refit,
}

/// How a frame fitted to a slot's new place reaches the composition when the picture does not
/// change: the last frame is passed again.
#[derive(Debug)]
enum Refit {
    /// The self-view's channel repeats its frame at the screen's rate: the next repeat passes.
    PassRepeat(Arc<AtomicBool>),
    /// The remote picture comes only when the call has a new frame: the last one is fed again
    /// (black after the slot was hidden).
    RepeatLast(String),
}

/// The GStreamer elements the screen needs that GStreamer does not have.
pub fn check_elements(spec: &DisplaySpec) -> Result<(), Vec<&'static str>> {
    let mut needed = vec![
        "compositor",
        "intervideosrc",
        "appsrc",
        "tee",
        "videoscale",
        "videoconvert",
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
        // Named, so mouse clicks on a desktop window (navigation events) can be read at its pad.
        let sink = format!("{} name=display sync=false", video_sink_element(spec.sink));
        // Frames stay BGRA here: `composed` turns the one it is asked for into RGBA.
        let capture = if spec.capture {
            "out. ! queue max-size-buffers=1 leaky=downstream \
             ! appsink name=capture max-buffers=1 drop=true sync=false"
        } else {
            ""
        };
        // Threads: `max-threads=1` blends in the compositor's own thread. Its default splits
        // every frame across the cores (three tasks on a Pi 4), woken and joined 25 times a
        // second, for a blend that is mostly copies; the pictures are already prepared in
        // parallel, each in its own streaming thread, where scaler and converter run with one
        // thread each (`n-threads=1`) for the same reason. The cores are the call's too:
        // decoder, encoder and echo canceller.
        //
        // Scaling: the remote picture with multi-tap bilinear, which costs what plain bilinear
        // does when it enlarges (the usual case: 640x360 into 800x383) and widens its filter
        // only when the doctor sends more pixels than the slot has, so faces do not alias. The
        // self-view, a thumbnail of the camera a third of its size, with 2-tap bilinear: the
        // multi-tap filter costs 2.5 times as much there for a picture nobody studies.
        // `add-borders` letterboxes into the slot in black, like `keep-aspect-ratio` on the
        // background, so the pad gets exactly its size and `compositor` does not scale it.
        //
        // The frame rate changes (`set_video_visible`) by new caps on `rate`, while its
        // downstream still holds the old ones: in that moment `rate` alone would answer a caps
        // query with nothing, and a source negotiating just then stops "not-negotiated" for
        // good (seen: the self-view's, as the display started; the screen then composed nothing
        // at all). `caps-change-mode=delayed` accepts the old caps too until the new ones are
        // agreed.
        let description = format!(
            "compositor name=mix background=black force-live=true ignore-inactive-pads=true \
               max-threads=1 emit-signals=true \
               ! capsfilter name=rate caps-change-mode=delayed caps=\"{caps}\" \
               ! tee name=out \
               ! queue max-size-buffers=2 leaky=downstream ! videoconvert n-threads=1 ! {sink} \
             {capture} \
             {remote} \
               ! videoscale method=bilinear2 add-borders=true n-threads=1 \
               ! videoconvert n-threads=1 ! capsfilter name=remote_fit caps=video/x-raw \
               ! mix.sink_0 \
             intervideosrc name=self_in channel={own} \
               ! videoscale method=bilinear add-borders=true n-threads=1 \
               ! videoconvert n-threads=1 ! capsfilter name=self_fit caps=video/x-raw \
               ! mix.sink_1 \
             {ui}",
            caps = screen_caps(&spec.panel, UI_FPS),
            ui = UiLayer::description(2),
            remote = feed::source_description("remote_in"),
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
        let pad = |name: &str| {
            mix.static_pad(name)
                .ok_or_else(|| DisplayError::Build(format!("mix.{name} missing")))
        };
        let aggregator = mix
            .clone()
            .downcast::<gst_video::gst_base::Aggregator>()
            .map_err(|_| DisplayError::Build("compositor is no aggregator".into()))?;
        feed::attach(&spec.channels.remote, &by_name("remote_in")?, &aggregator);
        let remote = VideoSlot {
            pad: pad("sink_0")?,
            fit: by_name("remote_fit")?,
            zorder: 0,
            refit: Refit::RepeatLast(spec.channels.remote.clone()),
        };
        let self_view = VideoSlot {
            pad: pad("sink_1")?,
            fit: by_name("self_fit")?,
            zorder: 1,
            refit: Refit::PassRepeat(skip_repeats(&by_name("self_in")?)),
        };
        let ui =
            UiLayer::attach(&pipeline, &mix, 2, spec.panel.width).map_err(DisplayError::Build)?;
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
        let failed = Arc::new(AtomicBool::new(false));
        keep_bus_empty(&pipeline, failed.clone());
        let screen = Self {
            pipeline,
            ui,
            remote,
            self_view,
            capture,
            rate,
            video_visible: false,
            panel: spec.panel,
            shown,
            stall,
            remote_at: Arc::default(),
            self_at: Mutex::default(),
            failed,
            restarted: None,
        };
        screen.place(Slot::RemoteVideo, None);
        screen.place(Slot::SelfView, None);
        screen.pipeline.set_state(gst::State::Playing)?;
        Ok(screen)
    }

    /// Shows a video slot at `placement`, or hides it.
    pub fn place(&self, slot: Slot, placement: Placement) {
        // The screen is painted again every second in a call (its clock), mostly in place.
        let was = {
            let mut at = match slot {
                Slot::RemoteVideo => self.remote_at.lock(),
                Slot::SelfView => self.self_at.lock(),
            }
            .unwrap_or_else(|e| e.into_inner());
            std::mem::replace(&mut *at, placement)
        };
        let slot = match slot {
            Slot::RemoteVideo => &self.remote,
            Slot::SelfView => &self.self_view,
        };
        let pad = &slot.pad;
        pad.set_property("zorder", slot.zorder);
        // A picture of another shape is letterboxed, never stretched: people look at faces.
        // (The scaler already letterboxes; this keeps it so for the odd frame of the old size
        // while a slot moves.)
        pad.set_property_from_str("sizing-policy", "keep-aspect-ratio");
        // Pictures are opaque: copied over what is below them, not blended.
        pad.set_property_from_str("operator", "source");
        match placement {
            Some((x, y, w, h)) => {
                let mut fit = gst::Caps::builder("video/x-raw")
                    .field("format", FORMAT)
                    .field("colorimetry", COLORIMETRY)
                    .field("width", w as i32)
                    .field("height", h as i32)
                    .field("pixel-aspect-ratio", gst::Fraction::new(1, 1));
                if let Refit::PassRepeat(_) = slot.refit {
                    // The camera gives 30 frames a second; the screen shows 25 of them, so the
                    // channel hands over only those.
                    fit = fit.field("framerate", gst::Fraction::new(VIDEO_FPS, 1));
                }
                slot.fit.set_property("caps", fit.build());
                match &slot.refit {
                    Refit::PassRepeat(pass) => pass.store(true, Ordering::Relaxed),
                    Refit::RepeatLast(channel) if was != placement => feed::repeat_last(channel),
                    Refit::RepeatLast(_) => {}
                }
                pad.set_property("xpos", x);
                pad.set_property("ypos", y);
                pad.set_property("width", w as i32);
                pad.set_property("height", h as i32);
                pad.set_property("alpha", 1.0f64);
            }
            None => {
                pad.set_property("alpha", 0.0f64);
                // Unscaled and unconverted: `compositor` skips a pad with alpha 0, and so the
                // channel's frames cost nothing while hidden.
                slot.fit
                    .set_property("caps", gst::Caps::new_empty_simple("video/x-raw"));
                // The call's last frame goes: the next call must not start with it.
                if let (Refit::RepeatLast(channel), Some((_, _, w, h))) = (&slot.refit, was) {
                    feed::blank(channel, w, h);
                }
            }
        }
    }

    /// How long after the call hands over a remote frame the screen shows it, on average: until
    /// `compositor` composes its next frame (`feed`), at most a composed frame, half of one on
    /// average. Scaling, converting and composing add a few ms (5 here, more on a Pi), which the
    /// picture's lead over the sound covers (`media::PICTURE_LEAD_NS`). The composition's
    /// reported latency says nothing here: the display sink shows frames as they come.
    pub fn shows_after(&self) -> Duration {
        Duration::from_secs(1) / VIDEO_FPS as u32 / 2
    }

    /// Benchmarks (`[media] measure_latency`): measures how late each time-coded remote
    /// picture reaches the display, where it is shown (`media/stamp.rs`).
    pub fn measure_latency(&self, meter: super::stamp::Meter) {
        let by_name = |name: &str| self.pipeline.by_name(name);
        let (Some(display), Some(remote_in)) = (by_name("display"), by_name("remote_in")) else {
            return;
        };
        let (Some(shown), Some(source)) = (display.static_pad("sink"), remote_in.static_pad("src"))
        else {
            return;
        };
        let remote_at = self.remote_at.clone();
        super::stamp::read_video_now(&shown, meter, move || {
            let slot = (*remote_at.lock().unwrap_or_else(|e| e.into_inner()))?;
            let caps = source.current_caps()?;
            let s = caps.structure(0)?;
            let size = (s.get::<i32>("width").ok()?, s.get::<i32>("height").ok()?);
            super::stamp::letterboxed(slot, (size.0 as u32, size.1 as u32))
        });
    }

    /// Runs the composition at the video frame rate while any video shows, slower otherwise.
    pub fn set_video_visible(&mut self, visible: bool) {
        if std::mem::replace(&mut self.video_visible, visible) == visible {
            return;
        }
        let fps = if visible { VIDEO_FPS } else { UI_FPS };
        self.rate
            .set_property("caps", screen_caps(&self.panel, fps));
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
        self.ui.show(rgba);
    }

    /// The last composed frame as RGBA, where the config allows capturing it.
    pub fn composed(&self) -> Option<Vec<u8>> {
        let sample = self.capture.as_ref()?.emit_by_name::<Option<gst::Sample>>(
            "try-pull-sample",
            &[&gst::ClockTime::from_mseconds(500)],
        )?;
        let buffer = sample.buffer()?;
        let map = buffer.map_readable().ok()?;
        let mut rgba = map.as_slice().to_vec();
        for pixel in rgba.chunks_exact_mut(4) {
            pixel.swap(0, 2);
        }
        Some(rgba)
    }

    /// Restarts the composition if it failed since the last look: from `Null` every element
    /// starts and negotiates afresh, while the slots' places, the frame rate and the video
    /// channels stay as they were. Returns `true` then: the caller shows the UI layer again.
    ///
    /// Why not leave it to the watchdog: restarting kioskd ends the consultation on screen, and a
    /// screen that failed once (a source that stopped "not-negotiated", a sink that lost its
    /// device for a moment) mostly runs again from the start. At most once per
    /// [`RESTART_EVERY`]: a screen that fails again at once stops showing frames, and the
    /// watchdog has its turn.
    pub fn recover(&mut self, now: Instant) -> bool {
        if !self.failed.load(Ordering::Relaxed)
            || self
                .restarted
                .is_some_and(|at| now.saturating_duration_since(at) < RESTART_EVERY)
        {
            return false;
        }
        self.failed.store(false, Ordering::Relaxed);
        self.restarted = Some(now);
        tracing::warn!("the screen's pipeline failed; restarting it");
        if let Err(e) = self.pipeline.set_state(gst::State::Null) {
            tracing::error!(error = %e, "the screen's pipeline did not stop");
        }
        // Each slot placed again where it is, its fit set anew: a fit changed behind the
        // screen's back (what failed, maybe) would fail again. The self-view's channel repeats
        // its last frame, which passes after a refit.
        let placed = |at: &Mutex<Placement>| *at.lock().unwrap_or_else(|e| e.into_inner());
        self.place(Slot::RemoteVideo, placed(&self.remote_at));
        self.place(Slot::SelfView, placed(&self.self_at));
        if let Err(e) = self.pipeline.set_state(gst::State::Playing) {
            tracing::error!(error = %e, "the screen's pipeline did not restart");
        }
        // The call's last frame again (or black), for a call that sends none just now.
        if let Refit::RepeatLast(channel) = &self.remote.refit {
            feed::repeat_last(channel);
        }
        true
    }

    /// How many frames the display has been given so far (5 or 25 a second while it works).
    pub fn frames_shown(&self) -> u64 {
        self.shown.load(Ordering::Relaxed)
    }

    /// Tests only: the display's streaming thread stops, as a hung display driver would.
    pub fn hang_for_test(&self) {
        self.stall.store(true, Ordering::Relaxed);
    }

    /// Tests only: the self-view's source stops for good, as when its caps are refused in the
    /// middle of a negotiation (a format no converter makes): the screen's pipeline fails.
    pub fn fail_self_view_for_test(&self) {
        let refused = gst::Caps::builder("video/x-bayer").build();
        self.self_view.fit.set_property("caps", refused);
    }
}

/// The composed screen: the panel's size in the output format, at `fps`.
fn screen_caps(panel: &Panel, fps: i32) -> gst::Caps {
    gst::Caps::builder("video/x-raw")
        .field("format", FORMAT)
        .field("colorimetry", COLORIMETRY)
        .field("width", panel.width as i32)
        .field("height", panel.height as i32)
        .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
        .field("framerate", gst::Fraction::new(fps, 1))
        .build()
}

/// Drops the frames the self-view's channel repeats because the camera gave no new one in time
/// (many give 15 a second in poor light): `compositor` shows a pad's last frame until the next
/// comes anyway, so scaling and converting the same picture again would be work for nothing.
/// `intervideosrc` marks exactly those repeats as gaps; the black frame it switches to when the
/// camera stops is not one, so it still shows. After the slot moved (the returned flag), one
/// frame passes all the same: the last one `compositor` has is of the old fit, and a camera that
/// sends nothing would leave it there, converted and scaled by `compositor` every frame.
fn skip_repeats(input: &gst::Element) -> Arc<AtomicBool> {
    let refit = Arc::new(AtomicBool::new(true));
    if let Some(pad) = input.static_pad("src") {
        let refit = refit.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            let repeat = info
                .buffer()
                .is_some_and(|b| b.flags().contains(gst::BufferFlags::GAP));
            if repeat && !refit.swap(false, Ordering::Relaxed) {
                gst::PadProbeReturn::Drop
            } else {
                refit.store(false, Ordering::Relaxed);
                gst::PadProbeReturn::Ok
            }
        });
    }
    refit
}

/// Nobody waits on the screen's bus: its messages are logged as they are posted, and dropped.
///
/// A bus no one reads keeps every message it gets for as long as the pipeline lives: here months,
/// and some each call (measured: two latency messages and one warning per call, on top of about
/// ninety at start). An error goes to the journal and marks the screen `failed` for
/// [`Display::recover`]. Warnings only at debug: every call brings one, the self-view's scaler
/// refusing its old caps for the moment until its source renegotiates at the new frame rate, as
/// GStreamer's sources do by design. Latency messages need no answer: the display sink shows
/// frames as they come (`sync=false`).
fn keep_bus_empty(pipeline: &gst::Pipeline, failed: Arc<AtomicBool>) {
    let Some(bus) = pipeline.bus() else {
        return;
    };
    bus.set_sync_handler(move |_, message| {
        let from = || message.src().map(|s| s.path_string().to_string());
        match message.view() {
            gst::MessageView::Error(e) => {
                tracing::error!(
                    element = from().unwrap_or_default(),
                    error = %e.error(),
                    debug = e.debug().map(|d| d.to_string()).unwrap_or_default(),
                    "the screen's pipeline failed"
                );
                failed.store(true, Ordering::Relaxed);
            }
            gst::MessageView::Warning(w) => tracing::debug!(
                element = from().unwrap_or_default(),
                warning = %w.error(),
                "the screen's pipeline warns"
            ),
            _ => {}
        }
        gst::BusSyncReply::Drop
    });
}

fn count_frames(pad: &gst::Pad, shown: Arc<AtomicU64>, stall: Arc<AtomicBool>) {
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        while stall.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_secs(1));
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
mod tests;
