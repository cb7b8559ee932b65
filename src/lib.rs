//! praxiskiosk: a consultation kiosk for German video consultations (Videosprechstunde).
//!
//! `kioskd` (the daemon on the kiosk) and `kioskctl` (the fleet manager's tool) are thin binaries
//! over this library. See `docs/protocol.md` for protocol v1 and the README for the architecture.

pub mod call;
pub mod config;
pub mod ctl;
pub mod daemon;
pub mod fleet;
pub mod flow;
pub mod media;
pub mod platform;
pub mod ui;
pub mod wire;

#[cfg(test)]
mod architecture;
#[cfg(test)]
mod vectors;

/// What the fuzz targets in `tests/fuzz/` drive that the crate otherwise keeps to itself: the
/// call's signalling machine (its callers are the call task, inside `call`). Not an API: no
/// other code may use it, and it may change with every commit.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::call::signalling::{ANSWER_WAIT, Candidate, Ignored, Input, Output, Signalling};
}
