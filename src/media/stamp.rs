//! Test sources that carry their capture time, and readers that measure how late the other side
//! plays them: glass-to-glass latency and the offset between sound and picture
//! (`[media] measure_latency` in development configs, `kioskctl doctor --measure-latency`,
//! `make bench`). Never in a production config: the time code covers part of the picture.
//!
//! - **Picture.** The test camera paints its capture time (the machine's monotonic clock, in ms,
//!   32 bits) into a band across the middle of each frame (where the kiosk's call screen puts
//!   nothing over the picture) as 40 black and white blocks: a marker, the time and a check
//!   nibble. Blocks of 1/40 of the width survive the encoder, a smaller picture and
//!   the screen's scaling. The reader takes them back where the frame is shown.
//! - **Sound.** The test microphone beeps (1 kHz, 100 ms) at every whole second of the same
//!   clock. The reader finds each beep's onset where it is played.
//!
//! Both ends run on one machine and so read one clock. Sound latency minus picture latency is
//! the offset ITU-R BT.1359 bounds (positive: the sound comes after the picture).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gst::prelude::*;
use gst_video::prelude::*;

use crate::wire::{MeasuredLatency, Spread};

const BLOCKS: usize = 40;
const MARKER: [bool; 4] = [true, true, false, true];
/// The time code's band: an eighth of the picture's height, across its middle.
const BAND: usize = 8;

/// The first row of the band in a picture `height` rows high.
fn band_top(height: usize) -> usize {
    (height / 2).saturating_sub(height / BAND / 2)
}
/// The beep: a tone loud enough to stand out after voice processing and Opus.
const BEEP_HZ: f64 = 1000.0;
const BEEP_NS: u64 = 100_000_000;
const BEEP_AMPLITUDE: f64 = 0.5 * 32767.0;
/// A beep starts where the sound rises above a tenth of full scale after at least half a
/// second below it.
const ONSET: i32 = 3277;
const QUIET_NS: u64 = 500_000_000;
const SECOND_NS: u64 = 1_000_000_000;
/// Samples kept per kind: the last minutes of a call.
const KEEP: usize = 4000;

/// The test camera's element and caps: a moving picture (the encoder has work to do) in I420,
/// the format the time code is painted in.
pub const VIDEO_SOURCE: &str =
    "videotestsrc is-live=true pattern=ball name=stamped ! video/x-raw,format=I420";
/// The test microphone: silence with the beeps, in the voice path's format.
pub const AUDIO_SOURCE: &str = "audiotestsrc is-live=true wave=silence samplesperbuffer=480 name=beeper \
     ! audio/x-raw,format=S16LE,layout=interleaved,rate=48000,channels=1";
pub const STAMPED: &str = "stamped";
pub const BEEPER: &str = "beeper";
const RATE: u64 = 48_000;

/// The 40 blocks for the time `ms`.
fn encode(ms: u32) -> [bool; BLOCKS] {
    let mut bits = [false; BLOCKS];
    bits[..4].copy_from_slice(&MARKER);
    for (i, bit) in bits[4..36].iter_mut().enumerate() {
        *bit = (ms >> (31 - i)) & 1 == 1;
    }
    let check = nibble_check(ms);
    for (i, bit) in bits[36..].iter_mut().enumerate() {
        *bit = (check >> (3 - i)) & 1 == 1;
    }
    bits
}

fn nibble_check(ms: u32) -> u32 {
    (0..8).fold(0, |acc, i| acc ^ ((ms >> (4 * i)) & 0xf))
}

fn decode(bits: &[bool; BLOCKS]) -> Option<u32> {
    if bits[..4] != MARKER {
        return None;
    }
    let number = |bits: &[bool]| bits.iter().fold(0u32, |acc, &b| (acc << 1) | u32::from(b));
    let ms = number(&bits[4..36]);
    (number(&bits[36..]) == nibble_check(ms)).then_some(ms)
}

fn ms_of(ns: u64) -> u32 {
    (ns / 1_000_000) as u32
}

/// Latencies measured in a call, for its statistics.
#[derive(Debug, Clone, Default)]
pub struct Meter(Arc<Mutex<Samples>>);

#[derive(Debug, Default)]
struct Samples {
    video: VecDeque<f64>,
    audio: VecDeque<f64>,
}

/// One meter is one meter: a spec that holds it is equal only to a spec that holds the same.
impl PartialEq for Meter {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for Meter {}

impl Meter {
    /// Forgets what an earlier call measured.
    pub fn reset(&self) {
        *self.samples() = Samples::default();
    }

    fn samples(&self) -> std::sync::MutexGuard<'_, Samples> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self, video: bool, ms: f64) {
        let mut samples = self.samples();
        let list = if video {
            &mut samples.video
        } else {
            &mut samples.audio
        };
        if list.len() == KEEP {
            list.pop_front();
        }
        list.push_back(ms);
    }

    /// What was measured so far; `None` before anything was.
    pub fn report(&self) -> Option<MeasuredLatency> {
        let samples = self.samples();
        let (video, audio) = (spread(&samples.video), spread(&samples.audio));
        let av_offset_ms = match (&video, &audio) {
            (Some(v), Some(a)) => Some(a.median - v.median),
            _ => None,
        };
        (video.is_some() || audio.is_some()).then_some(MeasuredLatency {
            video_ms: video,
            audio_ms: audio,
            av_offset_ms,
        })
    }
}

fn spread(values: &VecDeque<f64>) -> Option<Spread> {
    let mut sorted: Vec<f64> = values.iter().copied().collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    Some(Spread {
        median: sorted[n / 2],
        p95: sorted[(n * 95 / 100).min(n - 1)],
        samples: n as u64,
    })
}

/// Whether `element` runs on the machine's monotonic clock (the system clock), which the other
/// side reads too. A pipeline whose audio device gives the clock cannot be compared.
fn on_system_clock(element: &gst::Element) -> bool {
    element
        .clock()
        .is_some_and(|clock| clock == gst::SystemClock::obtain())
}

/// The clock time a buffer at `pts` stands for at `pad`: the element's base time plus its
/// running time.
fn clock_time_of(pad: &gst::Pad, pts: gst::ClockTime) -> Option<u64> {
    let element = pad.parent_element()?;
    if !on_system_clock(&element) {
        return None;
    }
    let segment = pad.sticky_event::<gst::event::Segment>(0)?;
    let running = segment
        .segment()
        .downcast_ref::<gst::ClockTime>()?
        .to_running_time(pts)?;
    Some((element.base_time()? + running).nseconds())
}

/// The latency the sinks downstream of `pad` play with (the pipeline's), as it comes up in
/// their LATENCY event.
pub fn sink_latency(pad: &gst::Pad) -> Arc<AtomicU64> {
    let latency = Arc::new(AtomicU64::new(0));
    let seen = latency.clone();
    pad.add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_, info| {
        if let Some(gst::EventView::Latency(event)) = info.event().map(|e| e.view()) {
            tracing::debug!(ms = event.latency().mseconds(), "sink latency");
            seen.store(event.latency().nseconds(), Ordering::Relaxed);
        }
        gst::PadProbeReturn::Ok
    });
    latency
}

/// Paints each frame's capture time into it (the test camera's source pad).
pub fn stamp_video(pad: &gst::Pad) {
    pad.add_probe(gst::PadProbeType::BUFFER, |pad, info| {
        let info_caps = pad
            .current_caps()
            .and_then(|caps| gst_video::VideoInfo::from_caps(&caps).ok());
        if let (Some(video), Some(gst::PadProbeData::Buffer(buffer))) = (info_caps, &mut info.data)
            && let Some(at) = buffer.pts().and_then(|pts| clock_time_of(pad, pts))
        {
            paint(buffer.make_mut(), &video, ms_of(at));
        }
        gst::PadProbeReturn::Ok
    });
}

/// The time code into an I420 frame: luma black or white, chroma neutral.
fn paint(buffer: &mut gst::BufferRef, info: &gst_video::VideoInfo, ms: u32) {
    let Ok(mut frame) = gst_video::VideoFrameRef::from_buffer_ref_writable(buffer, info) else {
        return;
    };
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let (top, band) = (band_top(h), (h / BAND).max(1));
    let bits = encode(ms);
    let strides: Vec<usize> = frame.plane_stride().iter().map(|&s| s as usize).collect();
    if let Ok(luma) = frame.plane_data_mut(0) {
        for row in top..top + band {
            for x in 0..w {
                luma[row * strides[0] + x] = if bits[x * BLOCKS / w] { 235 } else { 16 };
            }
        }
    }
    for plane in 1..strides.len().min(3) {
        if let Ok(chroma) = frame.plane_data_mut(plane as u32) {
            for row in top / 2..(top + band).div_ceil(2) {
                chroma[row * strides[plane]..][..w.div_ceil(2)].fill(128);
            }
        }
    }
}

/// Where in a shown frame the remote picture is (x, y, width, height); `None`: all of it.
pub type Area = Option<(usize, usize, usize, usize)>;

/// Where a picture of `video` size shows inside `slot` (x, y, width, height) when it is
/// letterboxed (the screen's `keep-aspect-ratio`).
pub fn letterboxed(slot: (i32, i32, u32, u32), video: (u32, u32)) -> Area {
    let (x, y, w, h) = slot;
    let (vw, vh) = video;
    if x < 0 || y < 0 || vw == 0 || vh == 0 {
        return None;
    }
    let scale = f64::min(f64::from(w) / f64::from(vw), f64::from(h) / f64::from(vh));
    let (iw, ih) = (
        (f64::from(vw) * scale).round() as u32,
        (f64::from(vh) * scale).round() as u32,
    );
    Some((
        x as usize + ((w - iw.min(w)) / 2) as usize,
        y as usize + ((h - ih.min(h)) / 2) as usize,
        iw as usize,
        ih as usize,
    ))
}

/// The time code of a frame in any 8-bit format whose first component is luma or red.
fn read(buffer: &gst::BufferRef, info: &gst_video::VideoInfo, area: Area) -> Option<u32> {
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, info).ok()?;
    let format = frame.format_info();
    if format.depth()[0] != 8 {
        return None;
    }
    let plane = format.plane()[0];
    let (offset, step) = (
        format.poffset()[0] as usize,
        format.pixel_stride()[0] as usize,
    );
    let stride = frame.plane_stride()[plane as usize] as usize;
    let data = frame.plane_data(plane).ok()?;
    let (fw, fh) = (frame.width() as usize, frame.height() as usize);
    let (x0, y0, w, h) = area.unwrap_or((0, 0, fw, fh));
    if w < BLOCKS || x0 + w > fw || y0 + h > fh {
        return None;
    }
    let band = h / BAND;
    let mut bits = [false; BLOCKS];
    for (i, bit) in bits.iter_mut().enumerate() {
        let (cx, cy) = (
            x0 + (2 * i + 1) * w / (2 * BLOCKS),
            y0 + band_top(h) + band / 2,
        );
        let (dx, dy) = (w / (BLOCKS * 4), band / 4);
        let mut sum = 0u32;
        for y in [cy - dy, cy, cy + dy] {
            for x in [cx - dx, cx, cx + dx] {
                sum += u32::from(*data.get(y * stride + x * step + offset)?);
            }
        }
        *bit = sum / 9 > 128;
    }
    decode(&bits)
}

/// Measures, at a sink's pad (a sink that keeps time: `sync=true`), how long after capture each
/// stamped frame is shown: at its running time plus the pipeline's latency.
pub fn read_video_when_due(pad: &gst::Pad, meter: Meter) {
    let latency = sink_latency(pad);
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let due = info
            .buffer()
            .and_then(|b| b.pts())
            .and_then(|pts| clock_time_of(pad, pts))
            .map(|at| at + latency.load(Ordering::Relaxed));
        if let Some(due) = due {
            read_into(pad, info, None, due, &meter);
        }
        gst::PadProbeReturn::Ok
    });
}

/// Measures, at a display sink that shows each frame as it comes (`sync=false`), how long after
/// capture each stamped frame is shown; `area` says where the remote picture is.
pub fn read_video_now(
    pad: &gst::Pad,
    meter: Meter,
    area: impl Fn() -> Area + Send + Sync + 'static,
) {
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let now = gst::SystemClock::obtain().time();
        read_into(pad, info, area(), now.nseconds(), &meter);
        gst::PadProbeReturn::Ok
    });
}

fn read_into(pad: &gst::Pad, info: &gst::PadProbeInfo, area: Area, shown: u64, meter: &Meter) {
    let video = pad
        .current_caps()
        .and_then(|caps| gst_video::VideoInfo::from_caps(&caps).ok());
    if let (Some(video), Some(buffer)) = (video, info.buffer())
        && let Some(stamp) = read(buffer, &video, area)
    {
        let late = ms_of(shown).wrapping_sub(stamp);
        // Anything over 2 s is a misread (the check nibble lets one in 16 through) or another
        // clock, not a latency.
        if late < 2_000 {
            meter.add(true, f64::from(late));
        }
    }
}

/// Beeps at every whole second of the clock (the test microphone's source pad; S16 mono 48 kHz).
pub fn beep(pad: &gst::Pad) {
    pad.add_probe(gst::PadProbeType::BUFFER, |pad, info| {
        let start = match &info.data {
            Some(gst::PadProbeData::Buffer(buffer)) => {
                buffer.pts().and_then(|pts| clock_time_of(pad, pts))
            }
            _ => None,
        };
        if let (Some(start), Some(gst::PadProbeData::Buffer(buffer))) = (start, &mut info.data)
            && let Ok(mut map) = buffer.make_mut().map_writable()
        {
            for (i, sample) in map.as_mut_slice().chunks_exact_mut(2).enumerate() {
                let phase = (start + i as u64 * SECOND_NS / RATE) % SECOND_NS;
                let value = if phase < BEEP_NS {
                    let t = phase as f64 / SECOND_NS as f64;
                    BEEP_AMPLITUDE * (std::f64::consts::TAU * BEEP_HZ * t).sin()
                } else {
                    0.0
                };
                sample.copy_from_slice(&(value as i16).to_le_bytes());
            }
        }
        gst::PadProbeReturn::Ok
    });
}

/// Measures, on the way to a speaker that keeps time, how long after each whole second a beep is
/// played (S16 mono 48 kHz at `pad`).
pub fn read_beeps(pad: &gst::Pad, meter: Meter) {
    let latency = sink_latency(pad);
    let last_loud: Mutex<Option<u64>> = Mutex::new(None);
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let Some(buffer) = info.buffer() else {
            return gst::PadProbeReturn::Ok;
        };
        let due = buffer
            .pts()
            .and_then(|pts| clock_time_of(pad, pts))
            .map(|at| at + latency.load(Ordering::Relaxed));
        if let (Some(due), Ok(map)) = (due, buffer.map_readable()) {
            let mut last_loud = last_loud.lock().unwrap_or_else(|e| e.into_inner());
            for (i, sample) in map.as_slice().chunks_exact(2).enumerate() {
                if i32::from(i16::from_le_bytes([sample[0], sample[1]])).abs() < ONSET {
                    continue;
                }
                let at = due + i as u64 * SECOND_NS / RATE;
                if last_loud.is_none_or(|loud| at.saturating_sub(loud) >= QUIET_NS) {
                    meter.add(false, (at % SECOND_NS) as f64 / 1e6);
                }
                *last_loud = Some(at);
            }
        }
        gst::PadProbeReturn::Ok
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_code_reads_back_and_rejects_damage() {
        for ms in [0, 1, 0xdead_beef, u32::MAX, 123_456_789] {
            assert_eq!(decode(&encode(ms)), Some(ms));
        }
        let mut damaged = encode(77_000);
        damaged[20] = !damaged[20];
        assert_eq!(decode(&damaged), None, "one flipped block");
        assert_eq!(decode(&[false; BLOCKS]), None, "a black band");
    }

    #[test]
    fn a_painted_frame_reads_back_scaled_and_converted() {
        gst::init().unwrap();
        let caps = "video/x-raw,format=I420,width=640,height=360";
        let info = gst_video::VideoInfo::from_caps(&caps.parse::<gst::Caps>().unwrap()).unwrap();
        let mut buffer = gst::Buffer::with_size(info.size()).unwrap();
        paint(buffer.get_mut().unwrap(), &info, 4_242_424);
        assert_eq!(read(&buffer, &info, None), Some(4_242_424));
        // What a screen shows: smaller, in RGB, inside a larger frame.
        let pipeline = gst::parse::launch(&format!(
            "appsrc name=in format=time caps={caps},framerate=30/1 ! videoscale ! videoconvert \
             ! video/x-raw,format=BGRx,width=400,height=225 ! videobox left=-100 top=-50 \
             ! video/x-raw,format=BGRx ! appsink name=out"
        ))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        let by = |n: &str| pipeline.by_name(n).unwrap();
        let pushed = by("in").emit_by_name::<gst::FlowReturn>("push-buffer", &[&buffer]);
        assert_eq!(pushed, gst::FlowReturn::Ok);
        // Ten seconds: it returns with the frame, and a machine busy with the other tests may
        // take more than one to start the pipeline.
        let wait = gst::ClockTime::from_seconds(10);
        let sample = by("out")
            .emit_by_name::<Option<gst::Sample>>("try-pull-sample", &[&wait])
            .expect("a frame came out");
        let shown = gst_video::VideoInfo::from_caps(sample.caps().unwrap()).unwrap();
        let area = Some((100, 50, 400, 225));
        assert_eq!(
            read(sample.buffer().unwrap(), &shown, area),
            Some(4_242_424)
        );
        pipeline.set_state(gst::State::Null).unwrap();
    }

    #[test]
    fn a_letterboxed_picture_sits_in_the_middle_of_its_slot() {
        assert_eq!(
            letterboxed((0, 0, 800, 400), (640, 360)),
            Some((44, 0, 711, 400))
        );
        assert_eq!(
            letterboxed((10, 20, 320, 240), (640, 360)),
            Some((10, 50, 320, 180))
        );
        assert_eq!(letterboxed((0, 0, 800, 400), (0, 0)), None);
    }

    #[test]
    fn the_meter_reports_medians_and_the_offset() {
        let meter = Meter::default();
        assert!(meter.report().is_none());
        for ms in [50.0, 60.0, 70.0] {
            meter.add(true, ms);
        }
        meter.add(false, 90.0);
        let report = meter.report().unwrap();
        assert_eq!(report.video_ms.as_ref().unwrap().median, 60.0);
        assert_eq!(report.av_offset_ms, Some(30.0));
        meter.reset();
        assert!(meter.report().is_none());
    }
}
