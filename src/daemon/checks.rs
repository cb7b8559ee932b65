//! Checking what was typed against Argon2id hashes: an access code against the appointments due
//! now, a staff PIN against the fleet's hash. Deliberately slow (tens of milliseconds each on a
//! Pi), so the check runs on a blocking thread and its result comes back to the main loop as an
//! event: link events, call reports and the watchdog never wait for it.
//!
//! One check at a time. A second one while the first runs is refused as busy, so a guesser
//! cannot run checks side by side and outpace the lockout, which counts results.

use tokio::sync::{mpsc, oneshot};

use crate::fleet::codes;
use crate::flow::Appointment;
use crate::wire::ControlReply;

/// What to check. Never logged: it holds what was typed.
pub(super) enum Check {
    Code {
        code: String,
        candidates: Vec<Appointment>,
    },
    StaffPin {
        pin: String,
        hash: String,
    },
}

/// What a check found.
#[derive(Debug)]
pub(super) enum Found {
    /// The appointment the code opens, if any.
    Code(Option<Appointment>),
    /// Whether the PIN was right.
    StaffPin(bool),
}

/// Who typed what is being checked, and so who hears what it found.
#[derive(Debug)]
pub(super) enum Asker {
    /// Typed on the screen, which shows a refusal; the control socket's `tap` that typed the
    /// last digit waits for the answer too.
    Screen(Option<oneshot::Sender<ControlReply>>),
    /// The control socket's `enter_code`.
    ControlSocket(oneshot::Sender<ControlReply>),
}

impl Asker {
    pub fn answer(self, reply: ControlReply) {
        if let Self::Screen(Some(tx)) | Self::ControlSocket(tx) = self {
            // A client that hung up does not need the answer.
            let _ = tx.send(reply);
        }
    }
}

/// A finished check, back on the main loop.
#[derive(Debug)]
pub(super) struct Checked {
    pub found: Found,
    pub asker: Asker,
}

#[derive(Debug)]
pub(super) struct Checks {
    results: mpsc::Sender<Checked>,
    running: bool,
}

/// A check is already running.
#[derive(Debug)]
pub(super) struct Busy;

impl Checks {
    pub fn new(results: mpsc::Sender<Checked>) -> Self {
        Self {
            results,
            running: false,
        }
    }

    /// Starts `check` on a blocking thread; its result arrives on the results channel.
    pub fn start(&mut self, check: Check, asker: Asker) -> Result<(), (Busy, Asker)> {
        if self.running {
            return Err((Busy, asker));
        }
        self.running = true;
        let results = self.results.clone();
        tokio::task::spawn_blocking(move || {
            let is_code = matches!(check, Check::Code { .. });
            // A check that panicked counts as a wrong one, and still frees the slot: otherwise
            // every later code would be refused as busy.
            let found = std::panic::catch_unwind(move || match check {
                Check::Code { code, candidates } => {
                    Found::Code(codes::find_match(&code, candidates))
                }
                Check::StaffPin { pin, hash } => Found::StaffPin(codes::verify(&pin, &hash)),
            })
            .unwrap_or_else(|_| {
                tracing::error!("a code check panicked; counted as wrong");
                if is_code {
                    Found::Code(None)
                } else {
                    Found::StaffPin(false)
                }
            });
            // The receiver is gone only when kioskd stops.
            let _ = results.blocking_send(Checked { found, asker });
        });
        Ok(())
    }

    /// The result of the running check arrived: the next may start.
    pub fn finished(&mut self) {
        self.running = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::codes;

    #[tokio::test]
    async fn one_check_at_a_time_and_its_result_comes_back_as_an_event() {
        let (results, mut found) = mpsc::channel(4);
        let mut checks = Checks::new(results);
        let hash = codes::hash("123456");
        let pin = |pin: &str| Check::StaffPin {
            pin: pin.into(),
            hash: hash.clone(),
        };
        let (tx, rx) = oneshot::channel();
        assert!(checks.start(pin("123456"), Asker::Screen(Some(tx))).is_ok());
        let Err((Busy, asker)) = checks.start(pin("000000"), Asker::Screen(None)) else {
            panic!("a second check while the first runs is refused");
        };
        assert!(matches!(asker, Asker::Screen(None)), "and handed back");
        let checked = found.recv().await.unwrap();
        assert!(matches!(checked.found, Found::StaffPin(true)));
        checked.asker.answer(ControlReply::done());
        assert!(rx.await.unwrap().ok, "whoever typed it hears");
        checks.finished();
        assert!(checks.start(pin("000000"), Asker::Screen(None)).is_ok());
        assert!(matches!(
            found.recv().await.unwrap().found,
            Found::StaffPin(false)
        ));
    }
}
