//! `make bench`: a whole call, measured. Each scenario sets up what it needs with the end-to-end
//! tests' own harness (the same fleet, kiosk, Chromium and room the tests use), measures, and
//! returns rows for one table and a JSON value; `main` prints the table and writes all of them
//! to `target/bench/call.json`.
//!
//! - `chromium`: kioskd beside Chromium in the same call, CPU, memory and frame rates, on a
//!   quiet machine and beside a low-priority busy loop.
//! - `latency`: consent to first frame, glass to glass both ways and the sound/picture offset,
//!   kioskd against `kioskctl doctor` with time-coded test sources.
//! - `sealing`: consent to first frame with sealed signalling (a TLS fleet) and in clear.
//! - `soak` (only when named, `make soak`): memory and file descriptors over a hundred calls.
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
mod latency;
mod procfs;
mod report;
mod sealing;
mod soak;

use report::Scenario;

/// A scenario's name (to pick it on the command line) and what runs it.
type Named = (&'static str, fn() -> Scenario);

/// Every scenario, in the order they run. Another one is a module beside these whose `run`
/// returns a [`Scenario`], and one line here.
const SCENARIOS: &[Named] = &[
    ("latency", latency::run),
    ("chromium", chromium::run),
    ("sealing", sealing::run),
    ("echo", echo::run),
];

/// Run only when named (`make soak`): a hundred calls take about half an hour.
const ON_REQUEST: &[Named] = &[("soak", soak::run)];

/// `cargo bench --bench call -- latency echo` runs only those; no names: all of [`SCENARIOS`].
fn main() {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let scenarios: Vec<Scenario> = SCENARIOS
        .iter()
        .filter(|(name, _)| wanted.is_empty() || wanted.iter().any(|w| w == name))
        .chain(
            ON_REQUEST
                .iter()
                .filter(|(name, _)| wanted.iter().any(|w| w == name)),
        )
        .map(|(_, run)| run())
        .collect();
    report::print_table(&scenarios);
    let path = report::write_json(&scenarios);
    println!("written to {}", path.display());
}
