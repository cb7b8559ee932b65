//! `make bench`: how long drawing a changed UI frame takes, per screen and panel.
//!
//! The kiosk redraws its UI layer only when something changes, and must stay well under one video
//! frame (the goal is 5 ms at 800×480). The machine running this may be shared and noisy, so next
//! to absolute times the report gives each screen's cost relative to clearing a frame, measured in
//! the same run. Prints a table and writes `target/bench/render.json`.

#[path = "shared/timing.rs"]
mod timing;

use std::time::Duration;

use praxiskiosk::ui::gallery::gallery;
use praxiskiosk::ui::{Frame, Locale, Panel, draw};

const ROUNDS: usize = 60;

fn measure(work: impl FnMut()) -> (Duration, Duration) {
    let times = timing::sorted_times(ROUNDS, work);
    (times[ROUNDS / 2], times[ROUNDS * 95 / 100])
}

fn main() {
    let mut rows = Vec::new();
    for panel in [Panel::PI_TOUCH, Panel::PI_TOUCH_2] {
        let mut frame = Frame::new(panel.width, panel.height);
        let (clear, _) = measure(|| {
            frame.clear_area(&embedded_graphics::primitives::Rectangle::new(
                embedded_graphics::prelude::Point::zero(),
                embedded_graphics::prelude::Size::new(panel.width, panel.height),
            ))
        });
        for (name, view) in gallery(Locale::De) {
            let (median, p95) = measure(|| {
                draw::draw(&view, &panel, &mut frame).expect("drawing into memory cannot fail");
            });
            rows.push(serde_json::json!({
                "panel": panel.to_string(),
                "screen": name,
                "median_ms": median.as_secs_f64() * 1e3,
                "p95_ms": p95.as_secs_f64() * 1e3,
                "vs_clear": median.as_secs_f64() / clear.as_secs_f64().max(1e-9),
            }));
        }
    }
    println!(
        "{:<10} {:<32} {:>10} {:>10} {:>10}",
        "panel", "screen", "median ms", "p95 ms", "x clear"
    );
    for r in &rows {
        println!(
            "{:<10} {:<32} {:>10.2} {:>10.2} {:>10.0}",
            r["panel"].as_str().unwrap(),
            r["screen"].as_str().unwrap(),
            r["median_ms"].as_f64().unwrap(),
            r["p95_ms"].as_f64().unwrap(),
            r["vs_clear"].as_f64().unwrap()
        );
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).expect("target/bench");
    let report = serde_json::json!({ "bench": "ui-render", "rounds": ROUNDS, "results": rows });
    std::fs::write(
        dir.join("render.json"),
        serde_json::to_vec_pretty(&report).unwrap(),
    )
    .expect("write report");
    println!("report: {}", dir.join("render.json").display());
}
