//! What people ask of the kiosk: touches on the screen, and the control socket's requests, which
//! take the same paths. Typed codes and staff PINs are checked off the main loop (`checks`); the
//! answer to whoever typed them goes out when the check is back.

use std::time::Duration;

use embedded_graphics::prelude::Point;
use time::OffsetDateTime;
use tokio::sync::oneshot;

use super::Supervisor;
use crate::daemon::checks::{Asker, Check, Checked, Found};
use crate::daemon::touchscreen::NoScreenshot;
use crate::flow::Event;
use crate::platform::clock::now;
use crate::platform::control_socket::ControlCall;
use crate::ui::state::Intent;
use crate::wire::{ControlReply, ControlRequest, KioskState, Refusal, is_well_formed_code};

/// The one directory the control socket's `screenshot` writes to, in the state directory
/// (protocol.md 8): kioskd's own, 0700, and deleted by a factory reset.
pub(super) const SCREENSHOTS: &str = "screenshots";

impl Supervisor {
    pub(super) async fn on_control(&mut self, ControlCall { request, reply }: ControlCall) {
        if !self.presence.is_provisioned()
            && matches!(
                request,
                ControlRequest::EnterCode { .. }
                    | ControlRequest::Accept { .. }
                    | ControlRequest::HangUp
                    | ControlRequest::Cancel
            )
        {
            let _ = reply.send(ControlReply::refused(Refusal::NotProvisioned));
            return;
        }
        let answer = match request {
            ControlRequest::Status => self.control_status(),
            ControlRequest::Stats => {
                // A call that is still being ended has the latest numbers: wait for it.
                if !self.calls.is_running() {
                    self.calls.settle().await;
                }
                let in_call = matches!(self.kiosk.flow(), crate::flow::Flow::InCall { .. });
                ControlReply {
                    stats: self.calls.latest_stats(now()),
                    quality: in_call.then(|| self.screen.quality().level()),
                    ..self.control_status()
                }
            }
            ControlRequest::EnterCode { code } => {
                return self.enter_code(code, Asker::ControlSocket(reply));
            }
            ControlRequest::Accept { name } => self.answer_step(Event::Accept(name)),
            ControlRequest::HangUp => self.answer_step(Event::HangUp),
            ControlRequest::Cancel => self.answer_step(Event::Cancel),
            ControlRequest::Tap { x, y, hold_ms } => {
                let held = Duration::from_millis(hold_ms);
                return self.on_touch(Point::new(x, y), held, Some(reply));
            }
            ControlRequest::TestHang { part } => self.test_hang(&part),
            ControlRequest::Screenshot { file, composed } => {
                let config = self.settings.config();
                let dir = config.state_dir.join(SCREENSHOTS);
                match self
                    .screen
                    .screenshot(&dir, &file, composed, config.screen.development)
                {
                    Ok(()) => self.control_status(),
                    Err(NoScreenshot::NameOnScreen) => ControlReply::refused(Refusal::NotNow),
                    Err(NoScreenshot::Failed(why)) => ControlReply::bad_request(&why),
                }
            }
        };
        let _ = reply.send(answer);
    }

    /// A touch at `point`, held for `held`. `reply` is the control socket's `tap`, answered now
    /// or when the check the touch started is back.
    pub(super) fn on_touch(
        &mut self,
        point: Point,
        held: Duration,
        reply: Option<oneshot::Sender<ControlReply>>,
    ) {
        let now = now();
        let intent = self.screen.press_at(point, held, self.kiosk.flow(), now);
        let refused = match intent {
            None => None,
            Some(Intent::EnterCode(code)) => return self.enter_code(code, Asker::Screen(reply)),
            Some(Intent::StaffPin(pin)) => return self.check_staff_pin(pin, reply),
            Some(Intent::ConfirmName(name)) => self.step(Event::NameConfirmed(Some(name))),
            Some(Intent::Consent) => self.step(Event::ConsentGiven),
            Some(Intent::Cancel) => self.step(Event::Cancel),
            Some(Intent::HangUp) => self.step(Event::HangUp),
            Some(Intent::Mute(muted)) => {
                self.calls.set_muted(muted);
                None
            }
            Some(Intent::CameraOff(off)) => {
                self.calls.set_camera_off(off);
                None
            }
            // The screen plays the speaker test itself.
            Some(Intent::SpeakerTest) => None,
        };
        self.refresh_screen();
        if let Some(reply) = reply {
            let _ = reply.send(self.control_reply(refused));
        }
    }

    /// A typed code: refused at once if it cannot be right now (format, lockout, another check
    /// running), checked on its own thread otherwise. The lockout is asked first, so a locked
    /// kiosk does no work for a guesser.
    fn enter_code(&mut self, code: String, asker: Asker) {
        let refusal = if !is_well_formed_code(&code) {
            Refusal::InvalidCodeFormat
        } else if let Err(refusal) = self.kiosk.code_entry_allowed(now()) {
            refusal
        } else {
            let candidates = self.book.valid_at(OffsetDateTime::now_utc());
            match self.checks.start(Check::Code { code, candidates }, asker) {
                Ok(()) => return,
                Err((_busy, asker)) => return self.code_refused(Refusal::Busy, asker),
            }
        };
        self.code_refused(refusal, asker);
    }

    fn code_refused(&mut self, refusal: Refusal, asker: Asker) {
        if let Asker::Screen(_) = asker {
            self.screen.refused(refusal, now());
            self.refresh_screen();
        }
        asker.answer(ControlReply::refused(refusal));
    }

    /// A staff PIN typed on the keypad, checked against the fleet's hash with its own lockout.
    fn check_staff_pin(&mut self, pin: String, reply: Option<oneshot::Sender<ControlReply>>) {
        let hash = self.settings.now().staff_pin_hash.clone();
        if let Some(hash) = self.screen.staff_pin_to_check(hash, now()) {
            match self
                .checks
                .start(Check::StaffPin { pin, hash }, Asker::Screen(reply))
            {
                Ok(()) => return,
                // A code is being checked: the PIN is not, and the keypad says so.
                Err((_busy, asker)) => {
                    self.screen.staff_pin_busy(now());
                    asker.answer(self.control_status());
                }
            }
        } else if let Some(reply) = reply {
            let _ = reply.send(self.control_status());
        }
        self.refresh_screen();
    }

    /// A check is back: the flow or the staff keypad takes its result, and whoever typed it
    /// hears.
    pub(super) fn on_checked(&mut self, Checked { found, asker }: Checked) {
        self.checks.finished();
        let now = now();
        let refused = match found {
            // A wipe while the code was being checked: nothing is left for it to open.
            Found::Code(_) if !self.presence.is_provisioned() => Some(Refusal::NotProvisioned),
            Found::Code(found) => {
                // An appointment revoked while its code was being checked opens nothing.
                let found = found.filter(|a| self.book.get(&a.id).is_some());
                self.step(Event::CodeChecked(found))
            }
            Found::StaffPin(right) => {
                self.screen.staff_pin_checked(right, now);
                None
            }
        };
        if let (Some(refusal), Asker::Screen(_)) = (refused, &asker) {
            self.screen.refused(refusal, now);
        }
        self.refresh_screen();
        asker.answer(self.control_reply(refused));
    }

    fn answer_step(&mut self, event: Event) -> ControlReply {
        let refused = self.step(event);
        self.control_reply(refused)
    }

    fn control_reply(&self, refused: Option<Refusal>) -> ControlReply {
        match refused {
            Some(refusal) => ControlReply::refused(refusal),
            None => self.control_status(),
        }
    }

    fn control_status(&self) -> ControlReply {
        ControlReply {
            ok: true,
            state: Some(if self.presence.is_provisioned() {
                self.kiosk.state()
            } else {
                KioskState::NotProvisioned
            }),
            session: self.kiosk.session().map(Into::into),
            detail: self.kiosk.detail(),
            ..ControlReply::default()
        }
    }

    /// Tests only: makes a part hang for real, so a test sees the watchdog notice; or fail
    /// (`self_view`), so a test sees the screen recover by itself.
    fn test_hang(&mut self, part: &str) -> ControlReply {
        if !self.liveness.faults_allowed() {
            return ControlReply::refused(Refusal::BadRequest);
        }
        tracing::warn!(part, "test fault: making a part hang");
        let hung = match part {
            "link" => self.presence.hang_link_for_test(),
            "display" => {
                self.screen.display().hang_for_test();
                true
            }
            "call" => self.calls.hang_for_test(),
            "self_view" => {
                self.screen.display().fail_self_view_for_test();
                true
            }
            // The main loop itself: blocks its thread for good, so nothing of the loop runs.
            "main" => {
                std::thread::sleep(Duration::MAX);
                true
            }
            other => return ControlReply::bad_request(&format!("no part {other:?}")),
        };
        if hung {
            ControlReply::done()
        } else {
            ControlReply::bad_request(&format!("no {part} to hang"))
        }
    }
}
