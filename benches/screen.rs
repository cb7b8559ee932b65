//! `cargo bench --bench screen`: what the screen composition costs during a call (the larger
//! goal: kioskd's CPU in a call at most half of the browser's on the other side).
//!
//! Runs the real [`Display`] with the in-call screen: the remote picture big, the self-view small,
//! the in-call UI layer drawn by the `ui` module and pushed once a second as the kiosk does (the
//! call's clock ticks). Two test pictures feed its video channels from this process, as the call
//! pipeline would. The process's CPU time is read from /proc over 10 s, first with only the
//! feeding pipelines, then with the composition too; the difference is the composition. A busy
//! machine makes the feeders' own cost vary between the two windows, so the report also gives
//! the composition as measured in its own window alone: the process minus the feeders' threads
//! (each feeder runs in one streaming thread, named after its source), minus the same remainder
//! of the first window. The display sink is `fakesink`, as in tests: a panel's sink adds its own.
//! Prints a table and writes `target/bench/screen.json`.

use std::time::{Duration, Instant};

use gst::prelude::*;
use praxiskiosk::media::display::{Display, DisplaySpec, feed};
use praxiskiosk::media::{VideoChannels, VideoSink};
use praxiskiosk::ui::gallery::gallery;
use praxiskiosk::ui::layout::Slot;
use praxiskiosk::ui::view::Screen;
use praxiskiosk::ui::{Frame, Locale, Panel, draw};

const SETTLE: Duration = Duration::from_secs(3);
const WINDOW: Duration = Duration::from_secs(10);
/// The feeders' sources are named so; their threads' names start with it.
const FEEDER: &str = "feed-";

#[path = "shared/stat.rs"]
mod stat;
use stat::ticks;

/// CPU ticks of the whole process and of the feeders' threads.
fn cpu_ticks() -> (u64, u64) {
    let all = ticks(&std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat"));
    let feeders = std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|name| name.starts_with(FEEDER))
        })
        .filter_map(|task| std::fs::read_to_string(task.path().join("stat")).ok())
        .map(|stat| ticks(&stat))
        .sum();
    (all, feeders)
}

/// Resident memory of this process, in MiB.
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib / 1024.0
}

/// A camera-like picture for the screen, fed as the call feeds it: the remote picture through
/// the call's `appsink` (`feed`), the self-view on an in-process channel.
fn feeder(channel: &str, remote: bool) -> gst::Element {
    let sink = if remote {
        "appsink name=feed".to_string()
    } else {
        format!("intervideosink channel={channel}")
    };
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc name={FEEDER}{channel} is-live=true pattern=ball \
         ! video/x-raw,format=I420,width=640,height=360,framerate=30/1 ! {sink}"
    ))
    .expect("feeding pipeline")
    .downcast::<gst::Pipeline>()
    .expect("a pipeline");
    if let Some(sink) = pipeline.by_name("feed") {
        feed::feed_from(&sink, channel);
    }
    pipeline
        .set_state(gst::State::Playing)
        .expect("feeder plays");
    pipeline.upcast()
}

type Placements = Vec<(Slot, (i32, i32, u32, u32))>;

/// The in-call screen's UI layer, one per second of the call's clock (it ticks on screen), and
/// where its video slots are.
fn in_call_layers(panel: &Panel, seconds: u64) -> (Vec<Frame>, Placements) {
    let (_, view) = gallery(Locale::De)
        .into_iter()
        .find(|(name, _)| *name == "06-in-call")
        .expect("the gallery has the in-call screen");
    let mut placements = Vec::new();
    let layers = (0..seconds)
        .map(|s| {
            let mut view = view.clone();
            if let Screen::InCall(call) = &mut view.screen {
                call.duration_s += s;
            }
            // As the kiosk's painter does: draw, then make the video slots holes in the layer.
            let mut drawn = Frame::new(panel.width, panel.height);
            let layout = draw::draw(&view, panel, &mut drawn).expect("drawing into memory");
            let mut layer = Frame::new(panel.width, panel.height);
            draw::paint_layer(&layout, panel, &mut layer);
            placements = layout
                .video
                .iter()
                .map(|(slot, r)| {
                    let at = (r.top_left.x, r.top_left.y, r.size.width, r.size.height);
                    (*slot, at)
                })
                .collect();
            layer
        })
        .collect();
    (layers, placements)
}

/// What one window measured, in % of one core.
struct Window {
    all: f64,
    /// Everything but the feeders' threads.
    rest: f64,
    rss_mib: f64,
}

/// Measures over [`WINDOW`], while `each_second` runs once a second.
fn measure(mut each_second: impl FnMut(u64)) -> Window {
    let start = Instant::now();
    let (all_before, feeders_before) = cpu_ticks();
    for s in 0..WINDOW.as_secs() {
        each_second(s);
        let next = start + Duration::from_secs(s + 1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    let (all_after, feeders_after) = cpu_ticks();
    // Ticks of 1/100 s over a window in seconds: percent of one core.
    let seconds = start.elapsed().as_secs_f64();
    let all = (all_after - all_before) as f64 / seconds;
    let feeders = (feeders_after - feeders_before) as f64 / seconds;
    Window {
        all,
        rest: all - feeders,
        rss_mib: rss_mib(),
    }
}

fn main() {
    gst::init().expect("GStreamer");
    let panel = Panel::PI_TOUCH;
    let channels = VideoChannels::for_device("screen-bench");
    let (layers, placements) = in_call_layers(&panel, WINDOW.as_secs() + 1);

    let feeders = [
        feeder(&channels.remote, true),
        feeder(&channels.self_view, false),
    ];
    std::thread::sleep(SETTLE);
    let fed = measure(|_| {});

    let spec = DisplaySpec {
        panel,
        sink: VideoSink::Fake,
        channels,
        capture: false,
    };
    // Nobody clicks here; the receiver stays alive so that a click would not be an error.
    let (touches, _clicks) = tokio::sync::mpsc::channel(4);
    let mut display = Display::start(&spec, touches).expect("the display starts");
    display.show_ui(layers[0].rgba());
    display.set_video_visible(true);
    for (slot, at) in &placements {
        display.place(*slot, Some(*at));
    }
    std::thread::sleep(SETTLE);
    let shown_before = display.frames_shown();
    let composed = measure(|s| display.show_ui(layers[s as usize + 1].rgba()));
    let fps = (display.frames_shown() - shown_before) as f64 / WINDOW.as_secs_f64();
    drop(display);
    for feeder in feeders {
        let _ = feeder.set_state(gst::State::Null);
    }
    assert!(fps > 20.0, "the screen composed {fps:.1} frames a second");

    let composition = composed.all - fed.all;
    let same_window = composed.rest - fed.rest;
    println!(
        "{:<26} {:>10} {:>13} {:>10} {:>10} {:>6}",
        "screen 800x480, in call", "% one core", "same window", "feeders %", "RSS MiB", "fps"
    );
    println!(
        "{:<26} {:>10.1} {:>13.1} {:>10.1} {:>10.1} {:>6.1}",
        "composition",
        composition,
        same_window,
        fed.all - fed.rest,
        composed.rss_mib,
        fps
    );
    println!(
        "RSS {:.1} MiB with the feeders only, {:+.1} MiB with the composition",
        fed.rss_mib,
        composed.rss_mib - fed.rss_mib
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).expect("target/bench");
    let report = serde_json::json!({
        "bench": "screen-composition",
        "panel": panel.to_string(),
        "window_s": WINDOW.as_secs(),
        "composition_percent_of_one_core": composition,
        "composition_same_window_percent_of_one_core": same_window,
        "feeders_percent_of_one_core": fed.all - fed.rest,
        "total_percent_of_one_core": composed.all,
        "rss_mib": composed.rss_mib,
        "rss_feeders_only_mib": fed.rss_mib,
        "frames_per_second": fps,
    });
    std::fs::write(
        dir.join("screen.json"),
        serde_json::to_vec_pretty(&report).unwrap(),
    )
    .expect("write report");
    println!("report: {}", dir.join("screen.json").display());
}
