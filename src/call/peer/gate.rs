//! Fewer frames to the encoder when the link narrows (`rate.rs`), with none held back.
//! `videorate` keeps each frame until the next has come: one frame interval (33 ms at 30 fps)
//! added to every frame that passes, and it says so in its latency, which every sink of the
//! other side then plays with. This gate only lets frames through or drops them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use gst::prelude::*;

/// Lets `keep` of every `of` frames through a pad, evenly spread.
#[derive(Debug, Clone)]
pub(super) struct FrameGate {
    keep: Arc<AtomicU32>,
}

impl FrameGate {
    /// Gates the frames leaving `pad`, a camera running at `of` frames a second; all pass at first.
    pub fn attach(pad: &gst::Pad, of: u32) -> Self {
        let keep = Arc::new(AtomicU32::new(of));
        let gate = Self { keep: keep.clone() };
        let credit = AtomicU32::new(0);
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            if pass(&credit, keep.load(Ordering::Relaxed), of) {
                gst::PadProbeReturn::Ok
            } else {
                gst::PadProbeReturn::Drop
            }
        });
        gate
    }

    /// From now on, `keep` frames a second.
    pub fn set(&self, keep: u32) {
        self.keep.store(keep, Ordering::Relaxed);
    }
}

/// One frame's turn: each frame adds `keep` to the credit; a frame passes when the credit
/// reaches `of`, which it then costs. So `keep` of every `of` pass, never two drops in a row
/// more than needed.
fn pass(credit: &AtomicU32, keep: u32, of: u32) -> bool {
    let now = credit.load(Ordering::Relaxed) + keep.min(of);
    let passes = now >= of;
    credit.store(if passes { now - of } else { now }, Ordering::Relaxed);
    passes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passed(keep: u32, of: u32, frames: usize) -> Vec<bool> {
        let credit = AtomicU32::new(0);
        (0..frames).map(|_| pass(&credit, keep, of)).collect()
    }

    #[test]
    fn keeps_the_share_asked_for_evenly() {
        assert!(passed(30, 30, 30).iter().all(|&p| p));
        let twenty = passed(20, 30, 30);
        assert_eq!(twenty.iter().filter(|&&p| p).count(), 20);
        assert!(
            !twenty.windows(2).any(|w| !w[0] && !w[1]),
            "no two drops in a row"
        );
        let fifteen = passed(15, 30, 30);
        assert_eq!(fifteen.iter().filter(|&&p| p).count(), 15);
        assert_eq!(passed(2, 30, 30).iter().filter(|&&p| p).count(), 2);
    }
}
