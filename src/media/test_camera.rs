//! The tests' camera (`video_source = "videotestsrc"`, pattern `ball`): a moving picture that
//! costs what a camera costs, nothing. `videotestsrc` paints every ball frame anew, 2 ms of CPU
//! a frame at 640×360 (6 % of a core at 30 fps, measured with gst-launch), CPU no camera takes
//! and that `make bench` would count as kioskd's own. So the source paints black (a fill it does
//! at once) for the timing, and each frame is swapped for one of a few ball frames painted once
//! per size and process, played back and forth.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use gst::prelude::*;

/// The pacing source's name in the camera's description.
pub const NAME: &str = "testcam";
/// Frames painted once; played forth and back they make a smooth 1 s loop at 30 fps.
const FRAMES: usize = 15;

/// The description of the tests' camera: I420, as cameras deliver YUV.
pub fn description() -> String {
    format!("videotestsrc is-live=true pattern=black name={NAME} ! video/x-raw,format=I420")
}

type Painted = Arc<Vec<gst::Buffer>>;

/// The ball frames of one size, painted at the first need.
fn painted(caps: &gst::CapsRef) -> Option<Painted> {
    static BY_SIZE: OnceLock<Mutex<HashMap<(i32, i32), Painted>>> = OnceLock::new();
    let s = caps.structure(0)?;
    let (width, height) = (s.get::<i32>("width").ok()?, s.get::<i32>("height").ok()?);
    let mut cache = BY_SIZE.get_or_init(Mutex::default).lock().ok()?;
    if let Some(frames) = cache.get(&(width, height)) {
        return Some(frames.clone());
    }
    let frames = Arc::new(paint(width, height)?);
    cache.insert((width, height), frames.clone());
    Some(frames)
}

fn paint(width: i32, height: i32) -> Option<Vec<gst::Buffer>> {
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc pattern=ball num-buffers={FRAMES} \
         ! video/x-raw,format=I420,width={width},height={height},framerate=30/1 \
         ! appsink name=out sync=false"
    ))
    .ok()?
    .downcast::<gst::Pipeline>()
    .ok()?;
    let out = pipeline.by_name("out")?;
    pipeline.set_state(gst::State::Playing).ok()?;
    let mut frames = Vec::with_capacity(FRAMES);
    while let Some(sample) = out.emit_by_name::<Option<gst::Sample>>("pull-sample", &[]) {
        frames.extend(sample.buffer_owned());
    }
    let _ = pipeline.set_state(gst::State::Null);
    (frames.len() == FRAMES).then_some(frames)
}

/// Swaps each frame leaving `pad` (the pacing source's) for a painted one, with its timing. The
/// painted frames are looked up when the caps come, not for every frame.
pub fn attach(pad: &gst::Pad) {
    let frames: Mutex<Option<Painted>> = Mutex::default();
    let next = AtomicUsize::new(0);
    let types = gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM;
    pad.add_probe(types, move |_, info| {
        let mut current = frames.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(gst::EventView::Caps(caps)) = info.event().map(|e| e.view()) {
            *current = painted(caps.caps());
            return gst::PadProbeReturn::Ok;
        }
        let (Some(painted), Some(gst::PadProbeData::Buffer(timing))) =
            (current.as_ref(), info.data.as_ref())
        else {
            return gst::PadProbeReturn::Ok;
        };
        // Forth and back: 0 1 … 14 13 … 1 0 1 …
        let step = next.fetch_add(1, Ordering::Relaxed) % (2 * FRAMES - 2);
        let index = if step < FRAMES {
            step
        } else {
            2 * FRAMES - 2 - step
        };
        // Shares the painted memory; only the buffer's timing and flags are its own.
        let mut frame = painted[index].copy();
        {
            let frame = frame.make_mut();
            frame.set_pts(timing.pts());
            frame.set_dts(timing.dts());
            frame.set_duration(timing.duration());
            frame.set_offset(timing.offset());
            frame.set_flags(timing.flags());
        }
        drop(current);
        info.data = Some(gst::PadProbeData::Buffer(frame));
        gst::PadProbeReturn::Ok
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ball_moves_in_time_with_the_pacing_source() {
        gst::init().unwrap();
        let pipeline = gst::parse::launch(&format!(
            "{} ! capsfilter caps=video/x-raw,width=64,height=48,framerate=30/1 ! appsink name=out sync=false",
            description().replace("is-live=true", "num-buffers=6")
        ))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        let source = pipeline.by_name(NAME).unwrap();
        attach(&source.static_pad("src").unwrap());
        let out = pipeline.by_name("out").unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        let mut frames = Vec::new();
        while let Some(sample) = out.emit_by_name::<Option<gst::Sample>>("pull-sample", &[]) {
            frames.push(sample.buffer_owned().unwrap());
        }
        pipeline.set_state(gst::State::Null).unwrap();
        assert_eq!(frames.len(), 6);
        let bytes: Vec<Vec<u8>> = frames
            .iter()
            .map(|f| f.map_readable().unwrap().to_vec())
            .collect();
        assert!(
            bytes.iter().any(|b| b.iter().any(|&v| v > 16)),
            "a ball, not the black the source paints"
        );
        assert_ne!(bytes[0], bytes[1], "the ball moves");
        let pts: Vec<_> = frames.iter().map(|f| f.pts().unwrap()).collect();
        assert!(pts.windows(2).all(|w| w[1] > w[0]), "{pts:?}");
    }
}
