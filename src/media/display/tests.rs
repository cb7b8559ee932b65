//! The composition as a user sees it: clicks become touches, pictures and the UI layer land
//! where they belong, and a remote picture follows its slot.

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

const W: usize = 800;
const H: usize = 480;
const BAR: [u8; 4] = [0x40, 0x80, 0xC0, 0xFF];
const WHITE: [u8; 4] = [0xFF; 4];

/// A UI layer, transparent but for a bar of `bar_rows` and a white square at `label`.
fn layer(bar_rows: std::ops::Range<usize>, label: (usize, usize)) -> Vec<u8> {
    let mut rgba = vec![0; W * H * 4];
    for y in bar_rows {
        for px in rgba[y * W * 4..(y + 1) * W * 4].chunks_exact_mut(4) {
            px.copy_from_slice(&BAR);
        }
    }
    for y in label.1..label.1 + 10 {
        let row = &mut rgba[(y * W + label.0) * 4..(y * W + label.0 + 10) * 4];
        for px in row.chunks_exact_mut(4) {
            px.copy_from_slice(&WHITE);
        }
    }
    rgba
}

/// Waits until the composed screen passes `check` (at most 10 s), says what it saw if it never
/// does, and returns the frame that passed.
fn composed_until(
    screen: &Display,
    check: impl Fn(&dyn Fn(usize, usize) -> [u8; 3]) -> bool,
) -> Vec<u8> {
    let start = Instant::now();
    loop {
        // Nothing within `composed`'s half second is a slow start on a loaded machine (the
        // pipeline still prerolling at 5 frames a second), not yet a failure.
        let Some(frame) = screen.composed() else {
            assert!(start.elapsed().as_secs() < 10, "nothing composed in 10 s");
            continue;
        };
        let at = |x: usize, y: usize| {
            let i = (y * W + x) * 4;
            [frame[i], frame[i + 1], frame[i + 2]]
        };
        if check(&at) {
            return frame;
        }
        assert!(
            start.elapsed().as_secs() < 10,
            "composed: (400, 200) {:?}, (690, 70) {:?}, (20, 200) {:?}, (105, 35) {:?}, \
             (305, 205) {:?}, (400, 320) {:?}, (400, 440) {:?}",
            at(400, 200),
            at(690, 70),
            at(20, 200),
            at(105, 35),
            at(305, 205),
            at(400, 320),
            at(400, 440)
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn the_screen_shows_both_pictures_letterboxed_under_the_ui_and_follows_it() {
    gst::init().unwrap();
    let channels = VideoChannels::for_device("compose-test");
    // As the call feeds them: the remote picture through its `appsink`, the self-view on a
    // channel.
    let sinks = [
        "appsink name=feed".to_string(),
        format!("intervideosink channel={}", channels.self_view),
    ];
    let feeders: Vec<_> = ["red", "blue"]
        .into_iter()
        .zip(sinks)
        .map(|(colour, sink)| {
            let feeder = gst::parse::launch(&format!(
                "videotestsrc is-live=true pattern={colour} \
                 ! video/x-raw,format=I420,width=640,height=360,framerate=30/1 ! {sink}"
            ))
            .unwrap()
            .downcast::<gst::Pipeline>()
            .unwrap();
            if let Some(sink) = feeder.by_name("feed") {
                feed::feed_from(&sink, &channels.remote);
            }
            feeder.set_state(gst::State::Playing).unwrap();
            feeder
        })
        .collect();
    let mut screen = capturing_screen(&channels);
    // The call screen: the picture above the bar, the self-view top right, a label over the
    // picture.
    screen.show_ui(&layer(383..480, (100, 30)));
    screen.set_video_visible(true);
    screen.place(Slot::RemoteVideo, Some((0, 0, 800, 383)));
    screen.place(Slot::SelfView, Some((586, 14, 200, 112)));
    let red = |p: [u8; 3]| p[0] > 200 && p[1] < 60 && p[2] < 60;
    let blue = |p: [u8; 3]| p[2] > 200 && p[0] < 60 && p[1] < 60;
    let bar = [BAR[0], BAR[1], BAR[2]];
    composed_until(&screen, |at| {
        // 640x360 in 800x383 is 681 wide: black beside it, never stretched.
        red(at(400, 200))
            && red(at(65, 200))
            && at(20, 200) == [0, 0, 0]
            && blue(at(690, 70))
            && at(105, 35) == [0xFF; 3]
            && at(400, 440) == bar
    });
    // Another screen: the bar higher, the label elsewhere, the picture smaller (533 wide);
    // the old bands must not stay.
    screen.show_ui(&layer(300..480, (300, 200)));
    screen.place(Slot::RemoteVideo, Some((0, 0, 800, 300)));
    composed_until(&screen, |at| {
        at(305, 205) == [0xFF; 3]
            && at(400, 320) == bar
            && at(400, 440) == bar
            && red(at(140, 100))
            && at(105, 35) == [0, 0, 0]
            && blue(at(690, 70))
    });
    assert!(screen.frames_shown() > 0);
    for feeder in feeders {
        feeder.set_state(gst::State::Null).unwrap();
    }
}

#[test]
fn a_remote_picture_that_stopped_coming_follows_its_slot_and_goes_with_the_call() {
    gst::init().unwrap();
    let channels = VideoChannels::for_device("feed-test");
    let mut screen = capturing_screen(&channels);
    screen.set_video_visible(true);
    screen.place(Slot::RemoteVideo, Some((0, 0, 800, 383)));
    // One frame, then nothing: a call paused on a narrow link.
    let call = red_call(&channels, 1);
    composed_until(&screen, |at| red(at(400, 200)) && at(20, 200) == [0, 0, 0]);
    // A smaller slot (the picture 533 wide): the same frame, fitted anew, so that `compositor`
    // does not scale it for every frame it composes.
    screen.place(Slot::RemoteVideo, Some((0, 0, 800, 300)));
    composed_until(&screen, |at| red(at(140, 100)) && at(400, 340) == [0, 0, 0]);
    let fitted = |pad: &gst::Pad| {
        let caps = pad.current_caps()?;
        let s = caps.structure(0)?;
        Some((s.get::<i32>("width").ok()?, s.get::<i32>("height").ok()?))
    };
    let start = Instant::now();
    while fitted(&screen.remote.pad) != Some((800, 300)) {
        assert!(
            start.elapsed().as_secs() < 10,
            "{:?}",
            fitted(&screen.remote.pad)
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // The call ends, the next one starts: black until its first frame.
    call.set_state(gst::State::Null).unwrap();
    screen.place(Slot::RemoteVideo, None);
    screen.place(Slot::RemoteVideo, Some((0, 0, 800, 383)));
    composed_until(&screen, |at| at(400, 200) == [0, 0, 0]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let frame = composed_until(&screen, |_| true);
    let i = (200 * W + 400) * 4;
    assert_eq!(
        frame[i..i + 3],
        [0, 0, 0],
        "the last call's picture came back"
    );
}

#[test]
fn a_composition_that_stops_taking_the_ui_keeps_only_its_newest_band_and_then_shows_it() {
    gst::init().unwrap();
    let screen = capturing_screen(&VideoChannels::for_device("stall-test"));
    let bar = [BAR[0], BAR[1], BAR[2]];
    screen.show_ui(&layer(383..480, (100, 30)));
    composed_until(&screen, |at| {
        at(400, 440) == bar && at(105, 35) == [0xFF; 3]
    });
    // The composition stops where it hands its frames on, as in front of a display driver that
    // hangs; what it was given waits for it.
    let composed = screen
        .pipeline
        .by_name("mix")
        .unwrap()
        .static_pad("src")
        .unwrap();
    let (blocked, stopped) = std::sync::mpsc::channel();
    let block = composed
        .add_probe(
            gst::PadProbeType::BLOCK | gst::PadProbeType::BUFFER,
            move |_, _| {
                let _ = blocked.send(());
                gst::PadProbeReturn::Ok
            },
        )
        .unwrap();
    stopped
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the composition stops");
    // The screen is painted on meanwhile: the clock, the call's quality, a touch.
    for k in 0..20 {
        screen.show_ui(&layer(383..480, (20 + 10 * k, 30)));
    }
    screen.show_ui(&layer(300..480, (300, 200)));
    for i in 0..4 {
        let source = screen.pipeline.by_name(&format!("ui{i}")).unwrap();
        let queued = source.property::<u64>("current-level-buffers");
        assert!(
            queued <= 1,
            "ui{i} holds {queued} bands for a composition that takes none"
        );
    }
    // It goes on: the newest layer shows, not one of those painted while it stood.
    composed.remove_probe(block);
    composed_until(&screen, |at| {
        at(305, 205) == [0xFF; 3] && at(400, 320) == bar && at(215, 35) == [0, 0, 0]
    });
}

#[test]
fn a_screen_whose_source_stopped_restarts_and_shows_everything_again() {
    gst::init().unwrap();
    let channels = VideoChannels::for_device("restart-test");
    let mut screen = capturing_screen(&channels);
    let camera = gst::parse::launch(&format!(
        "videotestsrc is-live=true pattern=green \
         ! video/x-raw,format=I420,width=320,height=180,framerate=30/1 \
         ! intervideosink channel={}",
        channels.self_view
    ))
    .unwrap();
    camera.set_state(gst::State::Playing).unwrap();
    let ui = layer(383..480, (100, 30));
    screen.show_ui(&ui);
    screen.set_video_visible(true);
    screen.place(Slot::RemoteVideo, Some((0, 0, 800, 383)));
    screen.place(Slot::SelfView, Some((586, 14, 200, 112)));
    let call = red_call(&channels, 100_000);
    let green = |p: [u8; 3]| p[1] > 100 && p[0] < 60 && p[2] < 60;
    let bar = [BAR[0], BAR[1], BAR[2]];
    let all_shown = |at: &dyn Fn(usize, usize) -> [u8; 3]| {
        green(at(690, 70)) && red(at(300, 200)) && at(400, 440) == bar
    };
    composed_until(&screen, all_shown);
    let counter = |pad: &gst::Pad| {
        let frames = Arc::new(AtomicU64::new(0));
        let counted = frames.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            counted.fetch_add(1, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
        frames
    };
    let (frames, remote_frames) = (counter(&screen.self_view.pad), counter(&screen.remote.pad));
    // The self-view's source stops for good (as it does even after its fit is set right again).
    screen.fail_self_view_for_test();
    let start = Instant::now();
    while !screen.failed.load(Ordering::Relaxed) {
        assert!(start.elapsed().as_secs() < 10, "the source never failed");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let stopped = frames.load(Ordering::Relaxed);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        frames.load(Ordering::Relaxed),
        stopped,
        "the source still runs"
    );
    // The kiosk's next tick restarts it, fitted to its slots anew, and shows the UI layer again;
    // once, not again at once.
    assert!(screen.recover(Instant::now()), "the failed screen restarts");
    let remote_before = remote_frames.load(Ordering::Relaxed);
    screen.show_ui(&ui);
    composed_until(&screen, all_shown);
    // The call's picture goes on too, frame by frame.
    let start = Instant::now();
    while remote_frames.load(Ordering::Relaxed) < remote_before + 10 {
        assert!(start.elapsed().as_secs() < 10, "the remote picture stopped");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        frames.load(Ordering::Relaxed) > stopped,
        "the self-view runs again"
    );
    screen.failed.store(true, Ordering::Relaxed);
    assert!(
        !screen.recover(Instant::now()),
        "a second restart within RESTART_EVERY"
    );
    camera.set_state(gst::State::Null).unwrap();
    call.set_state(gst::State::Null).unwrap();
}

/// A call that sends `frames` red frames (640x360) to the screen's remote slot, playing.
fn red_call(channels: &VideoChannels, frames: u32) -> gst::Pipeline {
    let call = gst::parse::launch(&format!(
        "videotestsrc is-live=true num-buffers={frames} pattern=red \
         ! video/x-raw,format=I420,width=640,height=360,framerate=30/1 ! appsink name=feed"
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    feed::feed_from(&call.by_name("feed").unwrap(), &channels.remote);
    call.set_state(gst::State::Playing).unwrap();
    call
}

fn red(p: [u8; 3]) -> bool {
    p[0] > 200 && p[1] < 60 && p[2] < 60
}

/// A screen on the Pi's panel into a fake sink, fed from `channels`, that keeps what it composed
/// for `composed_until`.
fn capturing_screen(channels: &VideoChannels) -> Display {
    let spec = DisplaySpec {
        panel: Panel::PI_TOUCH,
        sink: VideoSink::Fake,
        channels: channels.clone(),
        capture: true,
    };
    let (tx, _rx) = mpsc::channel(4);
    Display::start(&spec, tx).unwrap()
}

#[test]
fn the_screens_bus_keeps_nothing_through_a_call() {
    gst::init().unwrap();
    let channels = VideoChannels::for_device("bus-test");
    let mut screen = capturing_screen(&channels);
    composed_until(&screen, |_| true);
    // A call's screen, shown and hidden: new slots, a new frame rate, a picture from the call.
    screen.set_video_visible(true);
    screen.place(Slot::RemoteVideo, Some((0, 0, 800, 383)));
    screen.place(Slot::SelfView, Some((586, 14, 200, 112)));
    let call = red_call(&channels, 10);
    composed_until(&screen, |at| red(at(400, 200)));
    call.set_state(gst::State::Null).unwrap();
    screen.place(Slot::RemoteVideo, None);
    screen.place(Slot::SelfView, None);
    screen.set_video_visible(false);
    composed_until(&screen, |at| at(400, 200) == [0, 0, 0]);
    let bus = screen.pipeline.bus().unwrap();
    let kept: Vec<_> = std::iter::from_fn(|| bus.pop())
        .map(|m| format!("{:?} from {:?}", m.type_(), m.src().map(|s| s.name())))
        .collect();
    assert!(kept.is_empty(), "the screen's bus kept {kept:?}");
}
