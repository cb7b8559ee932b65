//! The call's part of the flow: media that starts, a connection that changes or fails, the
//! other side leaving, and how a call ends.

use std::time::{Duration, Instant};

use super::{Action, Appointment, CallLink, Event, Failure, Flow, Kiosk, Outcome, Problem};
use crate::wire::{ByeReason, EndReason, EventKind, Refusal};

impl Kiosk {
    pub(super) fn media_flowing(&mut self, now: Instant) -> Outcome {
        let Flow::Waiting {
            appointment, name, ..
        } = &self.flow
        else {
            return Outcome::default();
        };
        let actions = vec![Action::Report(EventKind::CallStarted {
            appointment: appointment.id.clone(),
        })];
        self.flow = Flow::InCall {
            appointment: appointment.clone(),
            name: name.clone(),
            since: now,
            link: CallLink::default(),
        };
        self.done(actions)
    }

    pub(super) fn call_failed(&mut self, failure: Failure, now: Instant) -> Outcome {
        let bye = Some(failure.bye());
        self.call_lost(failure, Action::LeaveSession { bye }, now)
    }

    /// The call failed for `failure`; `leave` ends the session.
    fn call_lost(&mut self, failure: Failure, leave: Action, now: Instant) -> Outcome {
        match &self.flow {
            Flow::Waiting { .. } => self.fail(failure.problem(false), now, vec![leave]),
            Flow::InCall {
                appointment, since, ..
            } => {
                let reason = match failure {
                    Failure::Connection => EndReason::ConnectionLost,
                    _ => EndReason::Error,
                };
                let ended = call_ended(appointment, now.duration_since(*since), reason);
                self.fail(failure.problem(true), now, vec![leave, ended])
            }
            _ => Outcome::default(),
        }
    }

    /// The call's connection changed: the screens say so, the fleet hears of it.
    pub(super) fn call_link(&mut self, event: Event) -> Outcome {
        let Flow::InCall {
            appointment, link, ..
        } = &mut self.flow
        else {
            return Outcome::default();
        };
        let appointment = appointment.id.clone();
        let report = match event {
            Event::Interrupted if !link.interrupted => {
                link.interrupted = true;
                EventKind::CallInterrupted { appointment }
            }
            Event::Resumed { outage } if link.interrupted => {
                link.interrupted = false;
                EventKind::CallResumed {
                    appointment,
                    outage_ms: outage.as_millis() as u64,
                }
            }
            Event::Relayed if !link.relayed => {
                link.relayed = true;
                EventKind::RelayUsed { appointment }
            }
            _ => return Outcome::default(),
        };
        Outcome {
            actions: vec![Action::Report(report)],
            refused: None,
        }
    }

    pub(super) fn remote_bye(&mut self, reason: ByeReason, now: Instant) -> Outcome {
        let leave = Action::LeaveSession { bye: None };
        match &self.flow {
            // The doctor's side found our certificate other than our SDP says: said as such,
            // in the call (a renewed connection) as before it.
            Flow::Waiting { .. } | Flow::InCall { .. }
                if reason == ByeReason::SecurityCheckFailed =>
            {
                self.call_lost(Failure::SecurityCheck, leave, now)
            }
            Flow::InCall { .. } => self.end_call(now, EndReason::RemoteHangup, vec![leave]),
            // The doctor's side found no path to us and gave up first: the patient hears the
            // same as when the kiosk gives up, not that the doctor hung up.
            Flow::Waiting {
                doctor_joined: true,
                ..
            } if reason == ByeReason::Error => {
                self.fail(Problem::NoDirectConnection, now, vec![leave])
            }
            Flow::Waiting { .. } => {
                self.flow = Flow::Ended {
                    duration: Duration::ZERO,
                    until: now + self.timeouts.ended,
                };
                self.done(vec![leave])
            }
            _ => Outcome::default(),
        }
    }

    pub(super) fn end_call(
        &mut self,
        now: Instant,
        reason: EndReason,
        mut actions: Vec<Action>,
    ) -> Outcome {
        let Flow::InCall {
            appointment, since, ..
        } = &self.flow
        else {
            return Outcome::refused(Refusal::NoCall);
        };
        let duration = now.duration_since(*since);
        actions.push(call_ended(appointment, duration, reason));
        self.flow = Flow::Ended {
            duration,
            until: now + self.timeouts.ended,
        };
        self.done(actions)
    }
}

fn call_ended(appointment: &Appointment, duration: Duration, reason: EndReason) -> Action {
    Action::Report(EventKind::CallEnded {
        appointment: appointment.id.clone(),
        reason,
        duration_s: duration.as_secs(),
        // The screen's, which the daemon knows (`Presence::report`).
        quality: None,
    })
}
