//! Event sequences into the kiosk's flow (`flow::Kiosk`), checked against what the flow
//! promises the patient and the practice:
//!
//! - never `in_call` without consent: a call runs only for the appointment whose consent was
//!   reported (and whose session was joined) since the kiosk last left a consultation;
//! - while locked out no code is checked: a checked code, even a right one, changes nothing and
//!   reports nothing, and counts no further failure;
//! - the lockout holds: it lasts as long as reported, and no more than
//!   [`ATTEMPTS_BEFORE_LOCKOUT`] wrong codes in a row are checked without one;
//! - no code opens an appointment while the clock is not confirmed;
//! - a refused input changes no state, and every change of state is published last;
//! - the fleet's test call starts only from idle, joins only its own session, reports nothing
//!   of a consultation, and runs at most 60 s.

use std::time::{Duration, Instant};

use praxiskiosk::flow::{
    ATTEMPTS_BEFORE_LOCKOUT, Action, Appointment, Event, Failure, Flow, Kiosk, TestCallRequest,
    Timeouts, valid_name,
};
use praxiskiosk::wire::{ByeReason, EventKind, KioskState, Refusal, SessionKey};
use time::OffsetDateTime;

use super::Script;

/// Wrong codes further apart than this may be forgiven (the lockout's rule); closer ones count.
const FORGIVE_AFTER: Duration = Duration::from_secs(3600);

fn appointment(which: usize) -> Appointment {
    let start = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_785);
    Appointment {
        id: format!("a-{which}"),
        session: format!("s-{which}"),
        code_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
        not_before: start,
        not_after: start + time::Duration::minutes(45),
        doctor_name: "Dr. med. Anna Muster".into(),
        patient_name: (which != 2).then(|| "Max Mustermann".into()),
        session_key: (which == 1).then_some(SessionKey([7; 32])),
    }
}

fn event(script: &mut Script) -> Event {
    let name = |script: &mut Script| script.flag().then(|| script.text());
    match script.choose(23) {
        0 => Event::CodeChecked(None),
        1 => Event::CodeChecked(Some(appointment(script.choose(3)))),
        2 => Event::NameConfirmed(None),
        3 => Event::NameConfirmed(Some(script.text())),
        4 => Event::ConsentGiven,
        5 => Event::Accept(name(script)),
        6 => Event::Cancel,
        7 => Event::HangUp,
        8 => Event::EndCallCommand,
        9 => Event::DoctorJoined,
        10 => Event::MediaFlowing,
        11 => Event::Interrupted,
        12 => Event::Resumed {
            outage: Duration::from_millis(u64::from(script.byte()) * 100),
        },
        13 => Event::Relayed,
        14 => Event::VideoPaused(script.flag()),
        15 => Event::CallFailed(
            [
                Failure::Connection,
                Failure::Camera,
                Failure::Microphone,
                Failure::SecurityCheck,
            ][script.choose(4)],
        ),
        16 => Event::RemoteBye(
            [
                ByeReason::Hangup,
                ByeReason::Timeout,
                ByeReason::Error,
                ByeReason::SecurityCheckFailed,
                ByeReason::Unknown,
            ][script.choose(5)],
        ),
        17 => Event::BrokerReachable(script.flag()),
        18 => Event::AppointmentRevoked(format!("a-{}", script.choose(3))),
        19 => Event::Shutdown,
        20 => Event::ClockConfirmed(script.flag()),
        21 => Event::TestCallAsked(TestCallRequest {
            test: format!("test-{}", script.choose(2)),
            session: "t-1".into(),
            key: Some(SessionKey([9; 32])),
        }),
        _ => Event::Tick,
    }
}

/// Seconds, then minutes: both a timeout of the screens and an hour of quiet are in reach.
fn pause(script: &mut Script) -> Duration {
    match script.byte() {
        b @ 0..128 => Duration::from_secs(u64::from(b)),
        b => Duration::from_secs(u64::from(b - 127) * 60),
    }
}

/// What the checks remember of the sequence so far.
#[derive(Debug, Default)]
struct Seen {
    /// The appointment whose consent was reported, and whether its session was joined.
    consented: Option<(String, bool)>,
    /// The end of the last lockout reported.
    locked_until: Option<Instant>,
    /// Wrong codes checked since the last lockout or right code, and when the last one was.
    wrong_in_a_row: u32,
    last_wrong: Option<Instant>,
    /// The daemon said the wall clock is not confirmed (appointment windows follow it).
    clock_unknown: bool,
}

pub fn check(data: &[u8]) {
    let mut script = Script::new(data);
    let mut kiosk = Kiosk::new(Timeouts::default());
    let mut now = Instant::now();
    let mut seen = Seen::default();
    while !script.is_empty() {
        now += pause(&mut script);
        let event = event(&mut script);
        step(&mut kiosk, &mut seen, event, now);
    }
}

fn step(kiosk: &mut Kiosk, seen: &mut Seen, event: Event, now: Instant) {
    let before = kiosk.state();
    let locked = seen.locked_until.is_some_and(|until| now < until);
    if locked && before == KioskState::Idle {
        assert!(
            matches!(
                kiosk.code_entry_allowed(now),
                Err(Refusal::LockedOut { .. } | Refusal::Offline | Refusal::ClockUnknown)
            ),
            "code entry allowed during a lockout"
        );
    }
    let is_code = matches!(event, Event::CodeChecked(_));
    let is_failure = matches!(event, Event::CallFailed(_));
    if let Event::ClockConfirmed(confirmed) = event {
        seen.clock_unknown = !confirmed;
    }
    let outcome = kiosk.handle(event, now);
    let after = kiosk.state();

    if seen.clock_unknown && is_code {
        assert!(
            before == after,
            "a code opened an appointment while the clock was not confirmed"
        );
    }
    if locked && is_code {
        assert_ne!(
            after,
            KioskState::CodeAccepted,
            "a code opened a locked kiosk"
        );
        assert!(
            outcome.actions.is_empty() && outcome.refused.is_some(),
            "a code was checked during a lockout: {outcome:?}"
        );
    }
    if outcome.refused.is_some() {
        assert_eq!(before, after, "a refused input changed the state");
    }
    if before != after {
        assert_eq!(
            outcome.actions.last(),
            Some(&Action::Publish {
                state: after,
                detail: kiosk.detail()
            }),
            "a change of state is published last"
        );
    }

    let consultation_event = |a: &Action| {
        matches!(
            a,
            Action::Report(
                EventKind::ConsentGiven { .. }
                    | EventKind::CallStarted { .. }
                    | EventKind::CallEnded { .. }
            )
        )
    };
    assert!(
        before != KioskState::TestCall || !outcome.actions.iter().any(consultation_event),
        "a test call reported a consultation's event: {outcome:?}"
    );
    for action in &outcome.actions {
        match action {
            Action::Report(EventKind::CodeRejected) => {
                if seen
                    .last_wrong
                    .is_some_and(|t| now.duration_since(t) >= FORGIVE_AFTER)
                {
                    seen.wrong_in_a_row = 0;
                }
                seen.wrong_in_a_row += 1;
                seen.last_wrong = Some(now);
            }
            Action::Report(EventKind::Lockout { duration_s }) => {
                assert!(*duration_s >= 60, "a lockout of {duration_s} s");
                seen.locked_until = Some(now + Duration::from_secs(*duration_s));
                seen.wrong_in_a_row = 0;
            }
            Action::Report(EventKind::ConsentGiven { appointment }) => {
                seen.consented = Some((appointment.clone(), false));
            }
            Action::JoinSession {
                session,
                test_call: true,
                ..
            } => {
                assert_eq!(before, KioskState::Idle, "a test call taken in {before:?}");
                assert_eq!(session, "t-1", "a test call joined another session");
            }
            Action::JoinSession {
                session,
                patient_name,
                ..
            } => {
                let Some((consented, joined)) = &mut seen.consented else {
                    panic!("joined session {session} without consent");
                };
                assert_eq!(
                    format!("s-{}", &consented[2..]),
                    *session,
                    "joined another appointment's session"
                );
                assert_eq!(valid_name(patient_name).as_ref(), Some(patient_name));
                *joined = true;
            }
            Action::EndTestCall { failure, .. } => {
                assert_eq!(
                    failure.is_some(),
                    is_failure,
                    "a test call's end names a failure exactly when one ended it"
                );
            }
            Action::Report(EventKind::CallStarted { appointment }) => {
                assert_eq!(
                    seen.consented.as_ref().map(|(id, _)| id),
                    Some(appointment),
                    "a call started without consent for its appointment"
                );
            }
            _ => {}
        }
    }
    assert!(
        seen.wrong_in_a_row < ATTEMPTS_BEFORE_LOCKOUT,
        "{} wrong codes in a row without a lockout",
        seen.wrong_in_a_row
    );
    if matches!(kiosk.flow(), Flow::CodeAccepted { .. }) && before != after {
        seen.wrong_in_a_row = 0;
        seen.last_wrong = None;
    }

    match kiosk.flow() {
        Flow::InCall { appointment, .. } => {
            assert_eq!(
                seen.consented.as_ref(),
                Some(&(appointment.id.clone(), true)),
                "in a call without consent for its appointment"
            );
        }
        Flow::Waiting { appointment, .. } => {
            assert_eq!(
                seen.consented.as_ref().map(|(id, _)| id),
                Some(&appointment.id),
                "waiting for a doctor without consent"
            );
        }
        Flow::TestCall { since, until, .. } => {
            assert!(
                until.duration_since(*since) <= Duration::from_secs(60),
                "a test call of more than a minute"
            );
            seen.consented = None;
        }
        Flow::Idle | Flow::CodeAccepted { .. } | Flow::Ended { .. } | Flow::Failed { .. } => {
            seen.consented = None;
        }
        Flow::Consent { .. } => {}
    }
}
