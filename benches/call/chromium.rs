//! kioskd and Chromium in the same call: the kiosk sends VP8 at 640x360, 30 frames a second,
//! from the tests' `videotestsrc`/`audiotestsrc`; Chromium sends its fake camera and beep.
//! Once on a quiet machine, once beside a busy loop at the lowest priority. Over a window of
//! the call (after start-up and a few seconds to settle) it reads from /proc the CPU time of
//! kioskd and of every Chromium process, their memory (PSS) at the end, and from both sides'
//! statistics the video frames each sent and received.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::busy::BusyLoop;
use crate::harness::{Consultation, counter};
use crate::procfs::{self, Cpu};
use crate::report::{Row, Scenario};

/// The bandwidth estimate and the encoders ramp up in the first seconds; those are start-up.
const SETTLE: Duration = Duration::from_secs(5);
const WINDOW: Duration = Duration::from_secs(20);
/// On a shared machine the window waits (at most [`CALM_WITHIN`]) until everything else uses
/// less than this much CPU; the report says whether it did and what else ran in the window.
const CALM_CPU: f64 = 0.2;
const CALM_WITHIN: Duration = Duration::from_secs(90);

/// The processes of the call, as they are at one moment.
struct Processes {
    kiosk: Vec<u32>,
    /// Everything below the driver: the browser, its zygotes, renderers, GPU and utility
    /// processes.
    chromium: Vec<u32>,
    /// The playwright driver (node); it is the test's, not the doctor's.
    node: u32,
}

impl Processes {
    fn of(call: &Consultation) -> Self {
        let node = call.browser.pid();
        Self {
            kiosk: procfs::tree(call.kiosk.pid()),
            chromium: procfs::tree(node).into_iter().skip(1).collect(),
            node,
        }
    }
}

/// One reading: both sides' counters, then the CPU time of every process (back to back, so
/// they describe the same moment).
struct Reading {
    at: Instant,
    page: Value,
    kiosk: Value,
    kiosk_cpu: Cpu,
    chromium_cpu: Cpu,
    node_cpu: Cpu,
    busy_cpu: Cpu,
    machine: (u64, u64),
}

impl Reading {
    fn take(call: &mut Consultation, busy: Option<&BusyLoop>) -> Self {
        let page = call.browser.stats();
        let kiosk = call.kiosk.stats();
        let p = Processes::of(call);
        Self {
            at: Instant::now(),
            page,
            kiosk,
            kiosk_cpu: Cpu::read(&p.kiosk),
            chromium_cpu: Cpu::read(&p.chromium),
            node_cpu: Cpu::read(&[p.node]),
            busy_cpu: busy.map_or_else(Cpu::default, |b| Cpu::read(&[b.pid()])),
            machine: procfs::machine(),
        }
    }
}

/// What one call measured, per second of the window where a rate.
struct Measured {
    label: &'static str,
    json: Value,
    kiosk_cpu_s: f64,
    chromium_cpu_s: f64,
    kiosk_pss: f64,
    chromium_pss: f64,
    kiosk_fps: (f64, f64),
    page_fps: (f64, f64),
    /// What the kiosk sent and received, as the kiosk counts it.
    kbps: (f64, f64),
}

/// Waits until the machine does little but this call (and the busy loop); false if it never
/// did within [`CALM_WITHIN`].
fn wait_for_calm(call: &Consultation, busy: Option<&BusyLoop>) -> bool {
    let mut ours = vec![call.kiosk.pid(), call.browser.pid()];
    ours.extend(busy.map(BusyLoop::pid));
    let start = Instant::now();
    while start.elapsed() < CALM_WITHIN {
        let others = procfs::others_cpu_per_second(&ours, Duration::from_secs(2));
        if others < CALM_CPU {
            return true;
        }
        eprintln!("{others:.2} CPU-seconds per second of other work beside the call; waiting");
    }
    false
}

/// What one window of a call read: at its start and end, and the kiosk's rates in between.
struct Window {
    first: Reading,
    last: Reading,
    rates: Vec<Value>,
    /// Whether the machine was calm when it began ([`wait_for_calm`]).
    calm: bool,
    /// The processes at the end, and their memory then (MiB): kioskd, Chromium, the driver.
    processes: Processes,
    pss: (f64, f64, f64),
}

fn one_call(busy: Option<&BusyLoop>) -> Window {
    let mut call = Consultation::start_with(|config| {
        config.camera.push_str("\nvideo_codec = \"vp8\"");
        config.video_size = (640, 360);
        // The product's default ceiling (the tests' 400 kbit/s keeps many calls cheap).
        config.video_kbps = 1000;
    });
    call.join();
    std::thread::sleep(SETTLE);
    let calm = wait_for_calm(&call, busy);
    let first = Reading::take(&mut call, busy);
    // The kiosk's rates once a second (a cheap control request; the page's getStats is not
    // asked in the window, it costs Chromium more).
    let mut rates = Vec::new();
    while first.at.elapsed() < WINDOW {
        std::thread::sleep(Duration::from_secs(1).min(WINDOW.saturating_sub(first.at.elapsed())));
        rates.push(call.kiosk.stats());
    }
    let last = Reading::take(&mut call, busy);
    let processes = Processes::of(&call);
    let pss = (
        procfs::pss_mib(&processes.kiosk),
        procfs::pss_mib(&processes.chromium),
        procfs::pss_mib(&[processes.node]),
    );
    // Both sides must still be in the call, or the window measured something else.
    assert_eq!(call.kiosk.state(), "in_call", "{}", call.kiosk.log_tail());
    assert_eq!(call.browser.state()["state"], "in-call");
    Window {
        first,
        last,
        rates,
        calm,
        processes,
        pss,
    }
}

impl Measured {
    fn of(label: &'static str, w: &Window, busy: Option<&BusyLoop>) -> Self {
        let (first, last) = (&w.first, &w.last);
        let window = last.at.duration_since(first.at).as_secs_f64();
        let tick = procfs::ticks_per_second();
        let cpu = |pick: fn(&Reading) -> &Cpu| pick(last).seconds_since(pick(first), tick);
        let (kiosk_cpu_s, chromium_cpu_s) = (cpu(|r| &r.kiosk_cpu), cpu(|r| &r.chromium_cpu));
        let fps = |side: fn(&Reading) -> &Value, key| {
            (counter(side(last), key) - counter(side(first), key)) as f64 / window
        };
        let kiosk_fps = (
            fps(|r| &r.kiosk, "video_frames_sent"),
            fps(|r| &r.kiosk, "video_frames_received"),
        );
        let page_fps = (
            fps(|r| &r.page, "framesSent"),
            fps(|r| &r.page, "videoFramesDecoded"),
        );
        let mean = |key: &str| {
            let values = w.rates.iter().filter_map(|r| r[key].as_f64());
            values.sum::<f64>() / w.rates.len().max(1) as f64
        };
        let kbps = (mean("bitrate_out_kbps"), mean("bitrate_in_kbps"));
        let (kiosk_pss, chromium_pss, node_pss) = w.pss;
        // What else ran on the machine meanwhile (other work on a shared machine, the broker):
        // a "quiet" run is only as quiet as this says.
        let machine_s = (last.machine.0 - first.machine.0) as f64 / tick;
        let machine_percent = 100.0 * (last.machine.0 - first.machine.0) as f64
            / (last.machine.1 - first.machine.1).max(1) as f64;
        let ours = kiosk_cpu_s + chromium_cpu_s + cpu(|r| &r.node_cpu) + cpu(|r| &r.busy_cpu);
        let others_cpu_s = machine_s - ours;
        eprintln!(
            "{label}: the machine was {machine_percent:.0} % busy; {others_cpu_s:.1} CPU-s of that \
             was neither kioskd, Chromium, its driver nor the busy loop; the kiosk received {} \
             from Chromium",
            last.kiosk["video_size_received"]
        );
        let json = json!({
            "window_s": window,
            "busy_loop": busy.map(|b| json!({
                "nice": 19,
                "pinned_to_cpu_1": b.pinned,
                "cpu_s": cpu(|r| &r.busy_cpu),
            })),
            "machine_busy_percent": machine_percent,
            "others_cpu_s": others_cpu_s,
            "calm_before_window": w.calm,
            "kioskd": {
                "cpu_s": kiosk_cpu_s,
                "percent_of_one_core": 100.0 * kiosk_cpu_s / window,
                "pss_mib": kiosk_pss,
                "processes": procfs::names(&w.processes.kiosk),
                "video_fps_sent": kiosk_fps.0,
                "video_fps_received": kiosk_fps.1,
                "mean_kbps_sent": kbps.0,
                "mean_kbps_received": kbps.1,
                "mean_video_target_kbps": mean("video_target_kbps"),
                "stats": last.kiosk,
            },
            "chromium": {
                "cpu_s": chromium_cpu_s,
                "percent_of_one_core": 100.0 * chromium_cpu_s / window,
                "pss_mib": chromium_pss,
                "processes": procfs::names(&w.processes.chromium),
                "processes_ended_in_window": last.chromium_cpu.ended_since(&first.chromium_cpu),
                "video_fps_sent": page_fps.0,
                "video_fps_decoded": page_fps.1,
                "stats": last.page,
            },
            "node_driver": {"cpu_s": cpu(|r| &r.node_cpu), "pss_mib": node_pss},
            "kioskd_over_chromium": {
                "cpu": kiosk_cpu_s / chromium_cpu_s,
                "pss": kiosk_pss / chromium_pss,
            },
        });
        Self {
            label,
            json,
            kiosk_cpu_s,
            chromium_cpu_s,
            kiosk_pss,
            chromium_pss,
            kiosk_fps,
            page_fps,
            kbps,
        }
    }

    fn rows(&self) -> Vec<Row> {
        let s = self.label;
        vec![
            Row::compared(
                s,
                "CPU-seconds in the window",
                self.kiosk_cpu_s,
                self.chromium_cpu_s,
            ),
            Row::compared(s, "PSS (MiB)", self.kiosk_pss, self.chromium_pss),
            Row::both(s, "video sent (fps)", self.kiosk_fps.0, self.page_fps.0),
            Row::both(s, "video received (fps)", self.kiosk_fps.1, self.page_fps.1),
            // Chromium's sending rate is what the kiosk received: one count for both sides.
            Row::both(s, "kbit/s sent (kiosk's count)", self.kbps.0, self.kbps.1),
        ]
    }
}

pub fn run() -> Scenario {
    let quiet = Measured::of("call, quiet", &one_call(None), None);
    let busy = {
        let busy = BusyLoop::start();
        Measured::of("call, busy loop", &one_call(Some(&busy)), Some(&busy))
    };
    Scenario {
        key: "chromium",
        rows: quiet.rows().into_iter().chain(busy.rows()).collect(),
        json: json!({
            "window_s": WINDOW.as_secs(),
            "settle_s": SETTLE.as_secs(),
            "kiosk_video": "VP8 640x360 at 30 fps, videotestsrc and audiotestsrc",
            "quiet": quiet.json,
            "busy_loop": busy.json,
        }),
    }
}
