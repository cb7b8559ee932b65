//! The kiosk's consultation flow as a pure state machine:
//! idle → code accepted → consent → waiting for the doctor → in call → ended → idle.
//!
//! `Kiosk::handle(event, now)` is the only way to change state, and it answers with the
//! [`Action`]s the daemon must carry out. This module owns the rules (timeouts, lockout, which
//! input fits which step) and must never do I/O: no GStreamer, no MQTT, no clock, no file. Every
//! transition and timeout is covered by plain unit tests in `tests.rs`.

mod appointment;
mod call;
mod lockout;
mod problem;
mod test_call;
#[cfg(test)]
pub(crate) mod tests;

use std::time::{Duration, Instant};

pub use appointment::{Appointment, InvalidAppointment, MAX_NAME, valid_name};
pub use lockout::{ATTEMPTS_BEFORE_LOCKOUT, Lockout, LockoutRecord};
pub use problem::{Failure, Problem};
pub use test_call::{TEST_CALL_NAME, TestCallRequest};

use crate::wire::{ByeReason, EndReason, EventKind, KioskState, ProblemCode, Refusal};

/// How long each step may wait before the kiosk gives up and goes back to idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Name and consent screens without input.
    pub input: Duration,
    /// Waiting room: the doctor has not joined.
    pub doctor: Duration,
    /// The doctor joined but no media arrived: no direct connection could be made.
    pub connect: Duration,
    /// How long the "ended" screen stays.
    pub ended: Duration,
    /// How long a problem screen stays.
    pub problem: Duration,
    /// How long the fleet's test call runs at most, connecting included.
    pub test_call: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            input: Duration::from_secs(120),
            doctor: Duration::from_secs(15 * 60),
            connect: Duration::from_secs(30),
            ended: Duration::from_secs(10),
            problem: Duration::from_secs(20),
            test_call: Duration::from_secs(60),
        }
    }
}

/// Where the consultation stands. Each state carries exactly the data it needs.
#[derive(Debug, Clone)]
pub enum Flow {
    Idle,
    CodeAccepted {
        appointment: Appointment,
        deadline: Instant,
    },
    Consent {
        appointment: Appointment,
        name: String,
        deadline: Instant,
    },
    Waiting {
        appointment: Appointment,
        name: String,
        doctor_joined: bool,
        deadline: Instant,
    },
    InCall {
        appointment: Appointment,
        name: String,
        since: Instant,
        link: CallLink,
    },
    Ended {
        duration: Duration,
        until: Instant,
    },
    Failed {
        problem: Problem,
        until: Instant,
    },
    /// The fleet's IT tests the kiosk's camera, microphone and network (`test_call.rs`).
    TestCall {
        test: String,
        session: String,
        since: Instant,
        until: Instant,
        /// Media crossed: a connection failing afterwards was lost, not never made.
        flowing: bool,
    },
}

/// How the call's connection stands, as both screens show it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallLink {
    /// Media stopped; the connection is being recovered (within the reconnect window).
    pub interrupted: bool,
    /// A TURN relay carries the media: no longer peer to peer.
    pub relayed: bool,
    /// The kiosk's video pauses: the link is too narrow for more than the voice.
    pub video_paused: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A code was entered and checked against the appointments valid now: the match, if any.
    CodeChecked(Option<Appointment>),
    /// The patient's name is confirmed; `None` takes the name the appointment carries.
    NameConfirmed(Option<String>),
    ConsentGiven,
    /// Name and consent in one step (the control socket's `accept`).
    Accept(Option<String>),
    Cancel,
    HangUp,
    /// The fleet's `end_call` command.
    EndCallCommand,
    DoctorJoined,
    /// The first remote video frame was decoded.
    MediaFlowing,
    /// Media stopped during the call; the connection is being recovered.
    Interrupted,
    /// Media comes again after an interruption of `outage`.
    Resumed {
        outage: Duration,
    },
    /// The call's path runs through a TURN relay.
    Relayed,
    /// The kiosk's video pauses (`true`) for a narrow link, or comes back.
    VideoPaused(bool),
    CallFailed(Failure),
    /// The other side said `bye`, with this reason.
    RemoteBye(ByeReason),
    /// The fleet's broker became reachable (`true`) or unreachable.
    BrokerReachable(bool),
    /// The wall clock is confirmed (`true`: synchronized) or not (protocol.md 4).
    ClockConfirmed(bool),
    AppointmentRevoked(String),
    /// kioskd is stopping: a running call ends with `bye`, a wait is left.
    Shutdown,
    /// The fleet's signed test call arrived.
    TestCallAsked(TestCallRequest),
    Tick,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Publish {
        state: KioskState,
        detail: Option<ProblemCode>,
    },
    /// An event for the fleet and the local event log. Its type holds only ids, numbers and
    /// words of fixed vocabularies (protocol.md 3.4): nothing typed at the kiosk or received
    /// from the fleet (a patient's or doctor's name) can get in here.
    Report(EventKind),
    /// Join the call session: subscribe to the doctor's topic, say hello, offer when the doctor is there.
    JoinSession {
        session: String,
        patient_name: String,
        /// The key that seals the session's signalling; `None` only without a fleet CA.
        key: Option<crate::wire::SessionKey>,
        /// The fleet's test call: no patient, so no consent receipt.
        test_call: bool,
    },
    /// A test call ends: report what the kiosk received of it (`test_call_ended`), and what
    /// made it fail if it failed, before the session is left.
    EndTestCall {
        test: String,
        duration_s: u64,
        failure: Option<ProblemCode>,
    },
    /// Leave the call session, saying `bye` with the reason when there is one to say.
    LeaveSession { bye: Option<ByeReason> },
    /// Forget everything typed on the screens.
    WipeInput,
    /// Keep the code lockout as it stands now across a restart (a clear record: nothing to
    /// keep). Comes before the refusal that tells the guesser, so pulling the plug after a wrong
    /// code never wins a fresh attempt.
    SaveLockout(LockoutRecord),
}

/// What one event led to: the actions to carry out, and the refusal to show if the input did not fit.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub actions: Vec<Action>,
    pub refused: Option<Refusal>,
}

impl Outcome {
    fn refused(refusal: Refusal) -> Self {
        Self {
            actions: Vec::new(),
            refused: Some(refusal),
        }
    }
}

#[derive(Debug)]
pub struct Kiosk {
    flow: Flow,
    lockout: Lockout,
    timeouts: Timeouts,
    /// Whether the fleet's broker answers: without it no doctor can join, so no call starts.
    online: bool,
    /// Whether the wall clock is confirmed (synchronized): appointment windows follow it, so
    /// without it an old code could open again or a valid one be refused. Trusted until the
    /// daemon says otherwise ([`Event::ClockConfirmed`]).
    clock_confirmed: bool,
}

impl Kiosk {
    pub fn new(timeouts: Timeouts) -> Self {
        Self {
            flow: Flow::Idle,
            lockout: Lockout::default(),
            timeouts,
            online: false,
            clock_confirmed: true,
        }
    }

    /// The kiosk with the code lockout it had before a restart ([`Lockout::resume`]).
    pub fn with_lockout(mut self, lockout: Lockout) -> Self {
        self.lockout = lockout;
        self
    }

    pub fn flow(&self) -> &Flow {
        &self.flow
    }

    pub fn state(&self) -> KioskState {
        match self.flow {
            Flow::Idle => KioskState::Idle,
            Flow::CodeAccepted { .. } => KioskState::CodeAccepted,
            Flow::Consent { .. } => KioskState::Consent,
            Flow::Waiting { .. } => KioskState::Waiting,
            Flow::InCall { .. } => KioskState::InCall,
            Flow::Ended { .. } => KioskState::Ended,
            Flow::Failed { .. } => KioskState::Error,
            Flow::TestCall { .. } => KioskState::TestCall,
        }
    }

    /// The detail published with the state: the problem's code on the problem screen.
    pub fn detail(&self) -> Option<ProblemCode> {
        match self.flow {
            Flow::Failed { problem, .. } => Some(problem.code()),
            _ => None,
        }
    }

    /// The call session the flow is in, if any.
    pub fn session(&self) -> Option<&str> {
        match &self.flow {
            Flow::Waiting { appointment, .. } | Flow::InCall { appointment, .. } => {
                Some(&appointment.session)
            }
            Flow::TestCall { session, .. } => Some(session),
            _ => None,
        }
    }

    /// When `handle(Event::Tick, …)` next has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.flow {
            Flow::Idle | Flow::InCall { .. } => None,
            Flow::CodeAccepted { deadline, .. }
            | Flow::Consent { deadline, .. }
            | Flow::Waiting { deadline, .. } => Some(deadline),
            Flow::Ended { until, .. }
            | Flow::Failed { until, .. }
            | Flow::TestCall { until, .. } => Some(until),
        }
    }

    /// Whether a code may be checked now. Asked before the (deliberately slow) hash check, so a
    /// locked kiosk does no work for a guesser.
    pub fn code_entry_allowed(&self, now: Instant) -> Result<(), Refusal> {
        if !matches!(self.flow, Flow::Idle) {
            return Err(Refusal::Busy);
        }
        if !self.online {
            return Err(Refusal::Offline);
        }
        if !self.clock_confirmed {
            return Err(Refusal::ClockUnknown);
        }
        match self.lockout.remaining(now) {
            Some(left) => Err(Refusal::LockedOut {
                remaining_s: left.as_secs_f64().ceil() as u64,
            }),
            None => Ok(()),
        }
    }

    pub fn handle(&mut self, event: Event, now: Instant) -> Outcome {
        if let Flow::TestCall { .. } = self.flow {
            return self.in_test_call(event, now);
        }
        match event {
            Event::TestCallAsked(request) => self.test_call_asked(request, now),
            Event::CodeChecked(found) => self.code_checked(found, now),
            Event::NameConfirmed(name) => self.name_confirmed(name, now),
            Event::ConsentGiven => self.consent_given(now),
            Event::Accept(name) => {
                let mut first = match self.flow {
                    Flow::CodeAccepted { .. } => self.name_confirmed(name, now),
                    Flow::Consent { .. } if name.is_some() => {
                        return Outcome::refused(Refusal::NotNow);
                    }
                    _ => Outcome::default(),
                };
                if first.refused.is_some() {
                    return first;
                }
                let second = self.consent_given(now);
                first.actions.extend(second.actions);
                first.refused = second.refused;
                first
            }
            Event::Cancel => self.cancel(),
            Event::HangUp => self.hang_up(now, EndReason::LocalHangup),
            Event::EndCallCommand => self.hang_up(now, EndReason::FleetCommand),
            Event::DoctorJoined => {
                if let Flow::Waiting {
                    doctor_joined,
                    deadline,
                    ..
                } = &mut self.flow
                {
                    *doctor_joined = true;
                    *deadline = now + self.timeouts.connect;
                }
                Outcome::default()
            }
            Event::MediaFlowing => self.media_flowing(now),
            Event::CallFailed(failure) => self.call_failed(failure, now),
            Event::Interrupted | Event::Resumed { .. } | Event::Relayed => self.call_link(event),
            Event::VideoPaused(paused) => {
                if let Flow::InCall { link, .. } = &mut self.flow {
                    link.video_paused = paused;
                }
                Outcome::default()
            }
            Event::RemoteBye(reason) => self.remote_bye(reason, now),
            Event::AppointmentRevoked(id) => self.revoked(&id, now),
            Event::Shutdown => match self.flow {
                Flow::InCall { .. } | Flow::Waiting { .. } => {
                    self.hang_up(now, EndReason::Shutdown)
                }
                _ => Outcome::default(),
            },
            Event::BrokerReachable(online) => {
                self.online = online;
                Outcome::default()
            }
            Event::ClockConfirmed(confirmed) => {
                self.clock_confirmed = confirmed;
                Outcome::default()
            }
            Event::Tick => self.tick(now),
        }
    }

    fn code_checked(&mut self, found: Option<Appointment>, now: Instant) -> Outcome {
        if let Err(refusal) = self.code_entry_allowed(now) {
            return Outcome::refused(refusal);
        }
        let Some(appointment) = found else {
            let started = self.lockout.fail(now);
            let mut actions = vec![
                Action::SaveLockout(self.lockout.record(now)),
                Action::Report(EventKind::CodeRejected),
            ];
            let refusal = match started {
                Some(length) => {
                    actions.push(Action::Report(EventKind::Lockout {
                        duration_s: length.as_secs(),
                    }));
                    Refusal::LockedOut {
                        remaining_s: length.as_secs(),
                    }
                }
                None => Refusal::WrongCode {
                    attempts_left: self.lockout.attempts_left(),
                },
            };
            return Outcome {
                actions,
                refused: Some(refusal),
            };
        };
        // Also a lockout that time forgave already: its file is still there.
        let forgiven = self.lockout != Lockout::default();
        self.lockout.succeed();
        self.flow = Flow::CodeAccepted {
            appointment,
            deadline: now + self.timeouts.input,
        };
        self.done(if forgiven {
            vec![Action::SaveLockout(LockoutRecord::default())]
        } else {
            Vec::new()
        })
    }

    fn name_confirmed(&mut self, name: Option<String>, now: Instant) -> Outcome {
        let Flow::CodeAccepted { appointment, .. } = &self.flow else {
            return Outcome::refused(Refusal::NotNow);
        };
        let name = match name.or_else(|| appointment.patient_name.clone()) {
            None => return Outcome::refused(Refusal::NameMissing),
            Some(name) => match valid_name(&name) {
                Some(name) => name,
                None => return Outcome::refused(Refusal::NameInvalid),
            },
        };
        let appointment = appointment.clone();
        self.flow = Flow::Consent {
            appointment,
            name,
            deadline: now + self.timeouts.input,
        };
        self.done(Vec::new())
    }

    fn consent_given(&mut self, now: Instant) -> Outcome {
        let Flow::Consent {
            appointment, name, ..
        } = &self.flow
        else {
            return Outcome::refused(Refusal::NotNow);
        };
        let (appointment, name) = (appointment.clone(), name.clone());
        if !self.online {
            // The broker went away since the code was typed: say so, rather than open a
            // waiting room no doctor can reach.
            return self.fail(Problem::PracticeUnreachable, now, Vec::new());
        }
        let actions = vec![
            Action::Report(EventKind::ConsentGiven {
                appointment: appointment.id.clone(),
            }),
            Action::JoinSession {
                session: appointment.session.clone(),
                patient_name: name.clone(),
                key: appointment.session_key.clone(),
                test_call: false,
            },
        ];
        self.flow = Flow::Waiting {
            appointment,
            name,
            doctor_joined: false,
            deadline: now + self.timeouts.doctor,
        };
        self.done(actions)
    }

    fn cancel(&mut self) -> Outcome {
        match self.flow {
            Flow::Idle => Outcome::default(),
            Flow::InCall { .. } => Outcome::refused(Refusal::NotNow),
            Flow::Waiting { .. } => self.go_idle(vec![Action::LeaveSession {
                bye: Some(ByeReason::Hangup),
            }]),
            Flow::CodeAccepted { .. }
            | Flow::Consent { .. }
            | Flow::Ended { .. }
            | Flow::Failed { .. }
            | Flow::TestCall { .. } => self.go_idle(Vec::new()),
        }
    }

    fn hang_up(&mut self, now: Instant, reason: EndReason) -> Outcome {
        match &self.flow {
            Flow::InCall { .. } => self.end_call(
                now,
                reason,
                vec![Action::LeaveSession {
                    bye: Some(ByeReason::Hangup),
                }],
            ),
            Flow::Waiting { .. } => self.cancel(),
            _ => Outcome::refused(Refusal::NoCall),
        }
    }

    fn revoked(&mut self, id: &str, now: Instant) -> Outcome {
        let (appointment, waiting) = match &self.flow {
            Flow::CodeAccepted { appointment, .. } | Flow::Consent { appointment, .. } => {
                (appointment, false)
            }
            Flow::Waiting { appointment, .. } => (appointment, true),
            // A running call goes on: doctor and patient are already talking.
            _ => return Outcome::default(),
        };
        if appointment.id != id {
            return Outcome::default();
        }
        let leave = waiting.then_some(Action::LeaveSession {
            bye: Some(ByeReason::Hangup),
        });
        self.fail(
            Problem::AppointmentWithdrawn,
            now,
            leave.into_iter().collect(),
        )
    }

    fn tick(&mut self, now: Instant) -> Outcome {
        if self.next_deadline().is_none_or(|deadline| now < deadline) {
            return Outcome::default();
        }
        match &self.flow {
            Flow::Waiting { doctor_joined, .. } => {
                let (problem, bye) = if *doctor_joined {
                    (Problem::NoDirectConnection, ByeReason::Error)
                } else {
                    (Problem::DoctorDidNotCome, ByeReason::Timeout)
                };
                self.fail(problem, now, vec![Action::LeaveSession { bye: Some(bye) }])
            }
            _ => self.go_idle(Vec::new()),
        }
    }

    fn fail(&mut self, problem: Problem, now: Instant, mut actions: Vec<Action>) -> Outcome {
        actions.push(Action::Report(EventKind::Error {
            reason: problem.code(),
        }));
        self.flow = Flow::Failed {
            problem,
            until: now + self.timeouts.problem,
        };
        self.done(actions)
    }

    fn go_idle(&mut self, mut actions: Vec<Action>) -> Outcome {
        self.flow = Flow::Idle;
        actions.push(Action::WipeInput);
        self.done(actions)
    }

    /// Finishes a transition: the new state is always published last.
    fn done(&self, mut actions: Vec<Action>) -> Outcome {
        actions.push(Action::Publish {
            state: self.state(),
            detail: self.detail(),
        });
        Outcome {
            actions,
            refused: None,
        }
    }
}
