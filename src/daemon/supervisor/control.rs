//! The control socket's requests: the same paths a touch takes, answered with the kiosk's
//! status or a refusal in German and English.

use std::time::Duration;

use time::OffsetDateTime;

use super::{Supervisor, now};
use crate::call::Reading;
use crate::fleet::codes;
use crate::flow::Event;
use crate::wire::{ControlReply, ControlRequest, KioskState, Refusal};

impl Supervisor {
    pub(super) async fn on_control(&mut self, request: ControlRequest) -> ControlReply {
        if !self.is_provisioned()
            && matches!(
                request,
                ControlRequest::EnterCode { .. }
                    | ControlRequest::Accept { .. }
                    | ControlRequest::HangUp
                    | ControlRequest::Cancel
            )
        {
            return ControlReply::refused(Refusal::NotProvisioned);
        }
        let refused = match request {
            ControlRequest::Status => return self.status(),
            ControlRequest::Stats => {
                let stats = match &self.call {
                    Some(active) => Some(match active.handle.stats(now()) {
                        Reading::Fresh(stats) | Reading::Stalled { last: stats, .. } => stats,
                    }),
                    None => {
                        // A call that is still being ended has the latest numbers: wait for it.
                        for leaving in std::mem::take(&mut self.leaving) {
                            let _ = leaving.await;
                        }
                        self.last_stats
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .clone()
                    }
                };
                return ControlReply {
                    stats,
                    ..self.status()
                };
            }
            ControlRequest::EnterCode { code } => self.enter_code(code).await,
            ControlRequest::Accept { name } => self.step(Event::Accept(name)),
            ControlRequest::HangUp => self.step(Event::HangUp),
            ControlRequest::Cancel => self.step(Event::Cancel),
            ControlRequest::Tap { x, y, hold_ms } => {
                self.tap(x, y, Duration::from_millis(hold_ms)).await
            }
            ControlRequest::TestHang { part } => return self.test_hang(&part),
            ControlRequest::Screenshot { path, composed } => {
                return match self.screenshot(&path, composed) {
                    Ok(()) => self.status(),
                    Err(why) => ControlReply::bad_request(&why),
                };
            }
        };
        match refused {
            Some(refusal) => ControlReply::refused(refusal),
            None => self.status(),
        }
    }

    fn test_hang(&mut self, part: &str) -> ControlReply {
        if !self.liveness.faults_allowed {
            return ControlReply::refused(Refusal::BadRequest);
        }
        tracing::warn!(part, "test fault: making a part hang");
        match part {
            "link" => match &self.uplink {
                Some(up) => up.link.hang_for_test(),
                None => return ControlReply::bad_request("no link to hang"),
            },
            "display" => self.screen.display().hang_for_test(),
            "call" => match &self.call {
                Some(active) => active.handle.hang_for_test(),
                None => return ControlReply::bad_request("no call to hang"),
            },
            // The main loop itself: blocks its thread for good, so nothing of the loop runs.
            "main" => std::thread::sleep(Duration::MAX),
            other => return ControlReply::bad_request(&format!("no part {other:?}")),
        }
        ControlReply::done()
    }

    pub(super) async fn enter_code(&mut self, code: String) -> Option<Refusal> {
        if !crate::wire::is_well_formed_code(&code) {
            return Some(Refusal::InvalidCodeFormat);
        }
        if let Err(refusal) = self.kiosk.code_entry_allowed(now()) {
            return Some(refusal);
        }
        let candidates = self.book.valid_at(OffsetDateTime::now_utc());
        // Argon2 takes tens of milliseconds per candidate on a Pi: keep it off the async threads.
        let found = tokio::task::spawn_blocking(move || codes::find_match(&code, candidates))
            .await
            .ok()
            .flatten();
        self.step(Event::CodeChecked(found))
    }

    pub(super) fn status(&self) -> ControlReply {
        ControlReply {
            ok: true,
            state: Some(if self.is_provisioned() {
                self.kiosk.state()
            } else {
                KioskState::NotProvisioned
            }),
            session: self.kiosk.session().map(Into::into),
            detail: self.kiosk.detail(),
            ..ControlReply::default()
        }
    }
}
