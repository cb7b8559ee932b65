//! Which doctor's window the kiosk offers to, and in which video codec: one window holds a
//! running call (rule 10), and a window gets the codec its side can take (rule 7).

use super::{Ignored, Output, Signalling, State};
use crate::call::CallReport;
use crate::wire::{Hello, Signal};

impl Signalling {
    /// Rule 10, on the offerer: a hello of a window other than the one the running call is
    /// connected with is told `busy` and goes no further (no reply, no renewal, no news to the
    /// flow). Any other hello makes its window the one the kiosk offers to.
    pub(super) fn other_window(&mut self, hello: &Hello) -> Option<Vec<Output>> {
        if !matches!(self.state, State::Offerer(_)) {
            return None;
        }
        let nonce = hello.nonce.clone().unwrap_or_default();
        if !nonce.is_empty() && !crate::wire::nonce_is_valid(&nonce) {
            return Some(vec![Output::Ignore(Ignored::BadNonce)]);
        }
        if self.held && self.window.as_ref().is_some_and(|window| *window != nonce) {
            let busy = if nonce.is_empty() {
                None // a window that sent no nonce cannot tell a busy meant for it
            } else {
                Some(Output::Send(Signal::Busy { nonce }))
            };
            return Some(
                busy.into_iter()
                    .chain([Output::Ignore(Ignored::Busy)])
                    .collect(),
            );
        }
        self.window = Some(nonce);
        None
    }

    /// The doctor's side: the kiosk's call is held by another window. This window's session is
    /// over if the `busy` names its own nonce.
    pub(super) fn busy(&mut self, nonce: &str) -> Vec<Output> {
        let ours =
            matches!(self.state, State::Answerer(_)) && self.hello.nonce.as_deref() == Some(nonce);
        if !ours {
            return vec![Output::Ignore(Ignored::BusyForAnother)];
        }
        self.state = State::Over;
        vec![Output::Report(CallReport::Busy), Output::Stop]
    }

    /// The codec to send a doctor's side that can take `theirs` (rule 7): ours if it can (or if
    /// it does not say), else VP8, which every side has.
    pub(super) fn codec_for(&self, theirs: &[String]) -> &'static str {
        let (preferred, current) = self.video;
        if theirs.is_empty() {
            return current;
        }
        let takes = |codec: &str| theirs.iter().any(|c| c.eq_ignore_ascii_case(codec));
        if takes(preferred) { preferred } else { "VP8" }
    }
}
