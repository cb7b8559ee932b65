//! `make bench`: a whole call, measured. Each scenario sets up what it needs with the end-to-end
//! tests' own harness (the same fleet, kiosk, Chromium and room the tests use), measures, and
//! returns rows for one table and a JSON value; `main` prints the table and writes all of them
//! to `target/bench/call.json`.
//!
//! - `chromium`: kioskd beside Chromium in the same call, CPU, memory and frame rates, on a
//!   quiet machine and beside a low-priority busy loop.
//! - `echo`: the room's echo return loss enhancement and double-talk loss, cancellation on and
//!   off.

// The tests' harness and room, compiled into this benchmark rather than copied, so the bench
// measures exactly the call the tests check. It uses only part of them.
#[allow(dead_code, unused_imports)]
#[path = "../../tests/e2e/harness/mod.rs"]
mod harness;
#[allow(dead_code)]
#[path = "../../tests/e2e/room.rs"]
mod room;

mod busy;
mod chromium;
mod echo;
mod procfs;
mod report;

use report::Scenario;

/// Every scenario, in the order they run. Another one (glass-to-glass latency, the offset of
/// sound and picture, consent to first frame) is a module beside these whose `run` returns a
/// [`Scenario`], and one line here.
const SCENARIOS: &[fn() -> Scenario] = &[chromium::run, echo::run];

fn main() {
    let scenarios: Vec<Scenario> = SCENARIOS.iter().map(|run| run()).collect();
    report::print_table(&scenarios);
    let path = report::write_json(&scenarios);
    println!("written to {}", path.display());
}
