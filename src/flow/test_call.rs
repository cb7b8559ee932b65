//! The fleet's remote test call (protocol.md 3.5, `test_call`): an idle kiosk joins a session of
//! the fleet's IT without a code, shows so, and ends it by itself after `Timeouts::test_call`.
//! No patient takes part, so nothing of it is a consultation: no `call_started`, no
//! `call_ended`, no last call; what the kiosk received is reported as `test_call_ended`.
//!
//! Everything that should bring a kiosk back to its start screen does so here too: the button
//! on the screen, the fleet's `end_call`, the other side's `bye`, a failure, a shutdown.

use std::time::Instant;

use super::{Action, Event, Flow, Kiosk, Outcome};
use crate::wire::{ByeReason, EventKind, Refusal, SessionKey, TestCallRefusal};

/// What the fleet's test call asks of the flow, its signature already checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCallRequest {
    pub test: String,
    pub session: String,
    pub key: Option<SessionKey>,
}

/// The hello name the IT's side sees: no patient, so the kiosk names the call itself.
pub const TEST_CALL_NAME: &str = "Testanruf / test call";

impl Kiosk {
    /// Takes the test call only when nobody uses the kiosk and its clock is confirmed.
    pub(super) fn test_call_asked(&mut self, request: TestCallRequest, now: Instant) -> Outcome {
        let refusal = if !matches!(self.flow, Flow::Idle) {
            Some(TestCallRefusal::Busy)
        } else if !self.clock_confirmed {
            Some(TestCallRefusal::ClockUnknown)
        } else {
            None
        };
        if let Some(reason) = refusal {
            return Outcome {
                actions: vec![Action::Report(EventKind::TestCallRefused {
                    test: request.test,
                    reason,
                })],
                refused: None,
            };
        }
        let join = Action::JoinSession {
            session: request.session.clone(),
            patient_name: TEST_CALL_NAME.into(),
            key: request.key,
            test_call: true,
        };
        self.flow = Flow::TestCall {
            test: request.test,
            session: request.session,
            since: now,
            until: now + self.timeouts.test_call,
            flowing: false,
        };
        self.done(vec![join])
    }

    /// Every event while a test call runs: most end it, none starts a consultation.
    pub(super) fn in_test_call(&mut self, event: Event, now: Instant) -> Outcome {
        let mut failure = None;
        let bye = match event {
            Event::Tick if self.next_deadline().is_some_and(|d| now >= d) => {
                Some(ByeReason::Hangup)
            }
            Event::Cancel | Event::HangUp | Event::EndCallCommand | Event::Shutdown => {
                Some(ByeReason::Hangup)
            }
            Event::CallFailed(why) => {
                failure = Some(why);
                Some(why.bye())
            }
            Event::RemoteBye(_) => None,
            Event::BrokerReachable(online) => {
                self.online = online;
                return Outcome::default();
            }
            Event::ClockConfirmed(confirmed) => {
                self.clock_confirmed = confirmed;
                return Outcome::default();
            }
            Event::TestCallAsked(request) => return self.test_call_asked(request, now),
            Event::MediaFlowing => {
                if let Flow::TestCall { flowing, .. } = &mut self.flow {
                    *flowing = true;
                }
                return Outcome::default();
            }
            // The screens' inputs do not fit here, as in any step they do not belong to.
            Event::CodeChecked(_) => return Outcome::refused(Refusal::Busy),
            Event::NameConfirmed(_) | Event::ConsentGiven | Event::Accept(_) => {
                return Outcome::refused(Refusal::NotNow);
            }
            // The media's own events change nothing.
            _ => return Outcome::default(),
        };
        let Flow::TestCall {
            test,
            since,
            flowing,
            ..
        } = &self.flow
        else {
            return Outcome::default();
        };
        // The fleet's IT is told what failed in the words a consultation's `error` uses.
        let failure = failure.map(|why| why.problem(*flowing).code());
        let ended = Action::EndTestCall {
            test: test.clone(),
            duration_s: now.saturating_duration_since(*since).as_secs(),
            failure,
        };
        // The kiosk says bye unless the other side did.
        let leave = Action::LeaveSession {
            bye: bye.filter(|_| !matches!(event, Event::RemoteBye(_))),
        };
        self.go_idle(vec![ended, leave])
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::flow::{Failure, Timeouts};
    use crate::wire::{KioskState, ProblemCode};

    fn request() -> TestCallRequest {
        TestCallRequest {
            test: "test-1".into(),
            session: "t-1".into(),
            key: Some(SessionKey([7; 32])),
        }
    }

    fn online(now: Instant) -> Kiosk {
        let mut kiosk = Kiosk::new(Timeouts::default());
        kiosk.handle(Event::BrokerReachable(true), now);
        kiosk
    }

    fn refusal(outcome: &Outcome) -> Option<TestCallRefusal> {
        outcome.actions.iter().find_map(|a| match a {
            Action::Report(EventKind::TestCallRefused { reason, .. }) => Some(*reason),
            _ => None,
        })
    }

    fn ended(outcome: &Outcome) -> Option<u64> {
        outcome.actions.iter().find_map(|a| match a {
            Action::EndTestCall { duration_s, .. } => Some(*duration_s),
            _ => None,
        })
    }

    fn failure(outcome: &Outcome) -> Option<ProblemCode> {
        outcome.actions.iter().find_map(|a| match a {
            Action::EndTestCall { failure, .. } => *failure,
            _ => None,
        })
    }

    fn bye(outcome: &Outcome) -> Option<Option<ByeReason>> {
        outcome.actions.iter().find_map(|a| match a {
            Action::LeaveSession { bye } => Some(*bye),
            _ => None,
        })
    }

    #[test]
    fn an_idle_kiosk_joins_without_a_code_and_ends_by_itself_after_a_minute() {
        let t0 = Instant::now();
        let mut kiosk = online(t0);
        let out = kiosk.handle(Event::TestCallAsked(request()), t0);
        assert_eq!(refusal(&out), None);
        assert!(out.actions.iter().any(|a| matches!(
            a,
            Action::JoinSession { session, test_call: true, .. } if session == "t-1"
        )));
        assert_eq!(kiosk.state(), KioskState::TestCall);
        assert_eq!(kiosk.session(), Some("t-1"));
        assert_eq!(kiosk.next_deadline(), Some(t0 + Duration::from_secs(60)));
        // Media flowing is no consultation: nothing reported, still the test call.
        let out = kiosk.handle(Event::MediaFlowing, t0 + Duration::from_secs(3));
        assert!(out.actions.is_empty(), "{out:?}");
        assert!(
            kiosk
                .handle(Event::Tick, t0 + Duration::from_secs(59))
                .actions
                .is_empty()
        );
        let out = kiosk.handle(Event::Tick, t0 + Duration::from_secs(60));
        assert_eq!(ended(&out), Some(60));
        assert_eq!(bye(&out), Some(Some(ByeReason::Hangup)));
        assert_eq!(kiosk.state(), KioskState::Idle);
        assert!(out.actions.contains(&Action::WipeInput));
    }

    #[test]
    fn a_kiosk_in_use_or_with_an_unconfirmed_clock_refuses_and_stays_as_it_was() {
        let t0 = Instant::now();
        let mut kiosk = online(t0);
        kiosk.handle(
            Event::CodeChecked(Some(crate::flow::tests::appointment(Some("Max")))),
            t0,
        );
        let out = kiosk.handle(Event::TestCallAsked(request()), t0);
        assert_eq!(refusal(&out), Some(TestCallRefusal::Busy));
        assert_eq!(kiosk.state(), KioskState::CodeAccepted);
        assert!(
            !out.actions
                .iter()
                .any(|a| matches!(a, Action::JoinSession { .. }))
        );

        let mut kiosk = online(t0);
        kiosk.handle(Event::ClockConfirmed(false), t0);
        let out = kiosk.handle(Event::TestCallAsked(request()), t0);
        assert_eq!(refusal(&out), Some(TestCallRefusal::ClockUnknown));
        assert_eq!(kiosk.state(), KioskState::Idle);

        // A second test call while one runs is refused; the first goes on.
        let mut kiosk = online(t0);
        kiosk.handle(Event::TestCallAsked(request()), t0);
        let out = kiosk.handle(Event::TestCallAsked(request()), t0);
        assert_eq!(refusal(&out), Some(TestCallRefusal::Busy));
        assert_eq!(kiosk.state(), KioskState::TestCall);
    }

    #[test]
    fn the_button_the_fleet_the_other_side_and_a_failure_all_end_it() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(12);
        for (event, said) in [
            (Event::Cancel, Some(ByeReason::Hangup)),
            (Event::HangUp, Some(ByeReason::Hangup)),
            (Event::EndCallCommand, Some(ByeReason::Hangup)),
            (Event::Shutdown, Some(ByeReason::Hangup)),
            (Event::CallFailed(Failure::Camera), Some(ByeReason::Error)),
            (Event::RemoteBye(ByeReason::Hangup), None),
        ] {
            let mut kiosk = online(t0);
            kiosk.handle(Event::TestCallAsked(request()), t0);
            let out = kiosk.handle(event.clone(), later);
            assert_eq!(ended(&out), Some(12), "{event:?}");
            assert_eq!(bye(&out), Some(said), "{event:?}");
            assert_eq!(kiosk.state(), KioskState::Idle, "{event:?}");
            // No consultation's event: the test call is not a call of the practice's.
            assert!(
                !out.actions.iter().any(|a| matches!(a, Action::Report(_))),
                "{event:?}: {out:?}"
            );
        }
        // A code cannot start anything meanwhile.
        let mut kiosk = online(t0);
        kiosk.handle(Event::TestCallAsked(request()), t0);
        assert!(kiosk.code_entry_allowed(t0).is_err());
        let appointment = crate::flow::tests::appointment(Some("Max"));
        let out = kiosk.handle(Event::CodeChecked(Some(appointment)), t0);
        assert_eq!(out.refused, Some(Refusal::Busy));
        assert_eq!(kiosk.state(), KioskState::TestCall);
    }

    #[test]
    fn a_failure_is_told_in_the_words_of_a_consultations_error() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(3);
        for (flowing, why, said) in [
            (true, Failure::Camera, ProblemCode::CameraMissing),
            (true, Failure::Microphone, ProblemCode::MicrophoneMissing),
            (
                false,
                Failure::SecurityCheck,
                ProblemCode::SecurityCheckFailed,
            ),
            (false, Failure::Connection, ProblemCode::P2pFailed),
            (true, Failure::Connection, ProblemCode::ConnectionLost),
        ] {
            let mut kiosk = online(t0);
            kiosk.handle(Event::TestCallAsked(request()), t0);
            if flowing {
                assert!(kiosk.handle(Event::MediaFlowing, t0).actions.is_empty());
            }
            let out = kiosk.handle(Event::CallFailed(why), later);
            assert_eq!(failure(&out), Some(said), "{why:?}");
            // The other side hears it as from a consultation.
            let told = match why {
                Failure::SecurityCheck => ByeReason::SecurityCheckFailed,
                _ => ByeReason::Error,
            };
            assert_eq!(bye(&out), Some(Some(told)), "{why:?}");
            assert_eq!(kiosk.state(), KioskState::Idle, "{why:?}");
        }
        // Ended by a hand or by its minute, nothing failed.
        let mut kiosk = online(t0);
        kiosk.handle(Event::TestCallAsked(request()), t0);
        let out = kiosk.handle(Event::HangUp, later);
        assert_eq!(ended(&out), Some(3));
        assert_eq!(failure(&out), None);
    }
}
