//! Every transition and timeout of the flow, driven by plain events and a fake clock.

use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::*;

/// An appointment valid for the next hour (shared with the screens' tests).
pub(crate) fn appointment(patient: Option<&str>) -> Appointment {
    let now = OffsetDateTime::now_utc();
    Appointment {
        id: "a1".into(),
        session: "s1".into(),
        code_hash: String::new(),
        not_before: now,
        not_after: now + time::Duration::hours(1),
        doctor_name: "Dr. Muster".into(),
        patient_name: patient.map(Into::into),
        session_key: None,
    }
}

fn published(outcome: &Outcome) -> Vec<KioskState> {
    outcome
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Publish { state, .. } => Some(*state),
            _ => None,
        })
        .collect()
}

/// The names of the events an outcome reports, in order.
fn reported(outcome: &Outcome) -> Vec<&'static str> {
    outcome
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Report(event) => Some(event.name()),
            _ => None,
        })
        .collect()
}

/// The reason of the `call_ended` an outcome reports, with its duration.
fn call_ended(outcome: &Outcome) -> Option<(EndReason, u64)> {
    outcome.actions.iter().find_map(|a| match a {
        Action::Report(EventKind::CallEnded {
            reason, duration_s, ..
        }) => Some((*reason, *duration_s)),
        _ => None,
    })
}

const T: Timeouts = Timeouts {
    input: Duration::from_secs(120),
    doctor: Duration::from_secs(600),
    connect: Duration::from_secs(30),
    ended: Duration::from_secs(10),
    problem: Duration::from_secs(20),
    test_call: Duration::from_secs(60),
};

/// A kiosk whose broker answers, as it is before every consultation.
fn kiosk() -> Kiosk {
    let mut k = Kiosk::new(T);
    k.handle(Event::BrokerReachable(true), Instant::now());
    k
}

/// A kiosk in the waiting room, and the time it got there.
fn waiting() -> (Kiosk, Instant) {
    let t0 = Instant::now();
    let mut k = kiosk();
    k.handle(Event::CodeChecked(Some(appointment(Some("Max")))), t0);
    k.handle(Event::Accept(None), t0);
    assert_eq!(k.state(), KioskState::Waiting);
    (k, t0)
}

fn in_call() -> (Kiosk, Instant) {
    let (mut k, t0) = waiting();
    k.handle(Event::DoctorJoined, t0);
    let out = k.handle(Event::MediaFlowing, t0);
    assert_eq!(reported(&out), ["call_started"]);
    (k, t0)
}

#[test]
fn a_whole_consultation_goes_through_every_state_and_back_to_idle() {
    let t0 = Instant::now();
    let mut k = kiosk();
    assert_eq!(k.state(), KioskState::Idle);
    let out = k.handle(Event::CodeChecked(Some(appointment(None))), t0);
    assert_eq!(published(&out), [KioskState::CodeAccepted]);
    assert_eq!(
        k.handle(Event::NameConfirmed(None), t0).refused,
        Some(Refusal::NameMissing)
    );
    let out = k.handle(Event::NameConfirmed(Some("  Erika Mustermann ".into())), t0);
    assert_eq!(published(&out), [KioskState::Consent]);
    let out = k.handle(Event::ConsentGiven, t0);
    assert_eq!(published(&out), [KioskState::Waiting]);
    assert_eq!(reported(&out), ["consent_given"]);
    assert!(out.actions.contains(&Action::JoinSession {
        session: "s1".into(),
        patient_name: "Erika Mustermann".into(),
        key: None,
        test_call: false,
    }));
    assert_eq!(k.session(), Some("s1"));
    k.handle(Event::DoctorJoined, t0);
    let out = k.handle(Event::MediaFlowing, t0 + Duration::from_secs(2));
    assert_eq!(published(&out), [KioskState::InCall]);
    let out = k.handle(Event::HangUp, t0 + Duration::from_secs(62));
    assert_eq!(published(&out), [KioskState::Ended]);
    assert!(out.actions.contains(&Action::LeaveSession {
        bye: Some(ByeReason::Hangup)
    }));
    assert!(out.actions.contains(&Action::Report(EventKind::CallEnded {
        appointment: "a1".into(),
        reason: EndReason::LocalHangup,
        duration_s: 60,
        quality: None,
    })));
    assert!(
        k.handle(Event::Tick, t0 + Duration::from_secs(70))
            .actions
            .is_empty()
    );
    let out = k.handle(Event::Tick, t0 + Duration::from_secs(72));
    assert_eq!(published(&out), [KioskState::Idle]);
    assert!(out.actions.contains(&Action::WipeInput));
}

#[test]
fn accept_takes_the_appointments_name_and_publishes_both_steps() {
    let t0 = Instant::now();
    let mut k = kiosk();
    assert_eq!(
        k.handle(Event::Accept(None), t0).refused,
        Some(Refusal::NotNow)
    );
    k.handle(
        Event::CodeChecked(Some(appointment(Some("Max Mustermann")))),
        t0,
    );
    let out = k.handle(Event::Accept(None), t0);
    assert_eq!(published(&out), [KioskState::Consent, KioskState::Waiting]);
    assert!(out.actions.contains(&Action::JoinSession {
        session: "s1".into(),
        patient_name: "Max Mustermann".into(),
        key: None,
        test_call: false,
    }));
}

#[test]
fn accept_refuses_a_missing_or_invalid_name_without_moving() {
    let t0 = Instant::now();
    let mut k = kiosk();
    k.handle(Event::CodeChecked(Some(appointment(None))), t0);
    assert_eq!(
        k.handle(Event::Accept(None), t0).refused,
        Some(Refusal::NameMissing)
    );
    assert_eq!(
        k.handle(Event::Accept(Some("\u{7}".into())), t0).refused,
        Some(Refusal::NameInvalid)
    );
    assert_eq!(
        k.handle(Event::Accept(Some("x".repeat(101))), t0).refused,
        Some(Refusal::NameInvalid)
    );
    // Typed over the control socket: a name that would read differently to the doctor.
    assert_eq!(
        k.handle(Event::Accept(Some("Max \u{202E}nnamretsuM".into())), t0)
            .refused,
        Some(Refusal::NameInvalid)
    );
    assert_eq!(k.state(), KioskState::CodeAccepted);
}

#[test]
fn wrong_codes_lead_to_a_lockout_that_also_refuses_right_codes() {
    let t0 = Instant::now();
    let mut k = kiosk();
    for left in (1..ATTEMPTS_BEFORE_LOCKOUT).rev() {
        let out = k.handle(Event::CodeChecked(None), t0);
        assert_eq!(
            out.refused,
            Some(Refusal::WrongCode {
                attempts_left: left
            })
        );
        assert_eq!(reported(&out), ["code_rejected"]);
        assert!(
            published(&out).is_empty(),
            "a wrong code does not change the state"
        );
    }
    let out = k.handle(Event::CodeChecked(None), t0);
    assert_eq!(out.refused, Some(Refusal::LockedOut { remaining_s: 60 }));
    assert_eq!(reported(&out), ["code_rejected", "lockout"]);
    let later = t0 + Duration::from_secs(30);
    assert_eq!(
        k.code_entry_allowed(later),
        Err(Refusal::LockedOut { remaining_s: 30 })
    );
    let out = k.handle(Event::CodeChecked(Some(appointment(None))), later);
    assert_eq!(out.refused, Some(Refusal::LockedOut { remaining_s: 30 }));
    assert_eq!(k.state(), KioskState::Idle);
    let after = t0 + Duration::from_secs(60);
    assert_eq!(k.code_entry_allowed(after), Ok(()));
    k.handle(Event::CodeChecked(Some(appointment(None))), after);
    assert_eq!(k.state(), KioskState::CodeAccepted);
}

/// The lockout records an outcome asks the daemon to keep, in order.
fn saved(outcome: &Outcome) -> Vec<LockoutRecord> {
    outcome
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::SaveLockout(record) => Some(*record),
            _ => None,
        })
        .collect()
}

#[test]
fn every_wrong_code_is_kept_before_it_is_told_and_a_right_one_clears_it() {
    let t0 = Instant::now();
    let mut k = kiosk();
    let out = k.handle(Event::CodeChecked(None), t0);
    assert_eq!(
        out.actions.first(),
        Some(&Action::SaveLockout(LockoutRecord {
            failures: 1,
            lockouts: 0,
            locked_for: Duration::ZERO,
            forgiven_in: Duration::from_secs(3600),
        })),
        "kept first"
    );
    for _ in 1..ATTEMPTS_BEFORE_LOCKOUT {
        k.handle(Event::CodeChecked(None), t0);
    }
    let later = t0 + Duration::from_secs(60);
    let out = k.handle(Event::CodeChecked(Some(appointment(None))), later);
    assert_eq!(saved(&out), [LockoutRecord::default()]);
    assert!(saved(&out).iter().all(LockoutRecord::is_clear));
    k.handle(Event::Cancel, later);
    let out = k.handle(Event::CodeChecked(Some(appointment(None))), later);
    assert!(saved(&out).is_empty(), "nothing to clear: no write");
}

#[test]
fn a_kiosk_restarted_inside_a_lockout_refuses_codes_for_what_is_left() {
    let t0 = Instant::now();
    let mut before = kiosk();
    let mut record = LockoutRecord::default();
    for _ in 0..ATTEMPTS_BEFORE_LOCKOUT {
        record = saved(&before.handle(Event::CodeChecked(None), t0))[0];
    }
    assert_eq!(record.locked_for, Duration::from_secs(60));

    let saved_at = OffsetDateTime::now_utc();
    let t1 = t0 + Duration::from_secs(5000);
    let lockout = Lockout::resume(record, saved_at, saved_at + time::Duration::seconds(20), t1);
    let mut after = kiosk().with_lockout(lockout);
    assert_eq!(
        after.code_entry_allowed(t1),
        Err(Refusal::LockedOut { remaining_s: 40 })
    );
    let out = after.handle(Event::CodeChecked(Some(appointment(None))), t1);
    assert_eq!(out.refused, Some(Refusal::LockedOut { remaining_s: 40 }));
    assert_eq!(after.state(), KioskState::Idle);
    assert_eq!(
        after.code_entry_allowed(t1 + Duration::from_secs(40)),
        Ok(())
    );
}

#[test]
fn codes_are_refused_while_busy() {
    let (k, t0) = waiting();
    assert_eq!(k.code_entry_allowed(t0), Err(Refusal::Busy));
}

#[test]
fn input_screens_time_out_to_idle_and_wipe_input() {
    let t0 = Instant::now();
    let mut k = kiosk();
    k.handle(Event::CodeChecked(Some(appointment(None))), t0);
    assert_eq!(k.next_deadline(), Some(t0 + T.input));
    assert!(
        k.handle(Event::Tick, t0 + T.input - Duration::from_millis(1))
            .actions
            .is_empty()
    );
    let out = k.handle(Event::Tick, t0 + T.input);
    assert_eq!(published(&out), [KioskState::Idle]);
    assert!(out.actions.contains(&Action::WipeInput));

    k.handle(Event::CodeChecked(Some(appointment(None))), t0);
    k.handle(
        Event::NameConfirmed(Some("Max".into())),
        t0 + Duration::from_secs(100),
    );
    assert_eq!(
        k.next_deadline(),
        Some(t0 + Duration::from_secs(100) + T.input),
        "each step restarts the clock"
    );
    k.handle(Event::Tick, t0 + Duration::from_secs(100) + T.input);
    assert_eq!(k.state(), KioskState::Idle);
}

#[test]
fn a_doctor_who_never_comes_ends_in_a_problem_screen_then_idle() {
    let (mut k, t0) = waiting();
    let out = k.handle(Event::Tick, t0 + T.doctor);
    assert_eq!(published(&out), [KioskState::Error]);
    assert_eq!(k.detail(), Some(ProblemCode::DoctorTimeout));
    assert!(out.actions.contains(&Action::LeaveSession {
        bye: Some(ByeReason::Timeout)
    }));
    assert_eq!(reported(&out), ["error"]);
    let out = k.handle(Event::Tick, t0 + T.doctor + T.problem);
    assert_eq!(published(&out), [KioskState::Idle]);
}

#[test]
fn a_doctor_who_joins_but_cannot_connect_is_a_p2p_failure() {
    let (mut k, t0) = waiting();
    let joined = t0 + Duration::from_secs(5);
    k.handle(Event::DoctorJoined, joined);
    assert_eq!(k.next_deadline(), Some(joined + T.connect));
    let out = k.handle(Event::Tick, joined + T.connect);
    assert_eq!(k.detail(), Some(ProblemCode::P2pFailed));
    assert!(out.actions.contains(&Action::LeaveSession {
        bye: Some(ByeReason::Error)
    }));

    let (mut k, t0) = waiting();
    k.handle(Event::DoctorJoined, t0);
    k.handle(Event::CallFailed(Failure::Connection), t0);
    assert_eq!(k.detail(), Some(ProblemCode::P2pFailed));
}

#[test]
fn a_lost_call_reports_its_end_and_the_problem() {
    let (mut k, t0) = in_call();
    let out = k.handle(
        Event::CallFailed(Failure::Connection),
        t0 + Duration::from_secs(5),
    );
    assert_eq!(reported(&out), ["call_ended", "error"]);
    assert_eq!(k.detail(), Some(ProblemCode::ConnectionLost));
}

#[test]
fn the_doctor_hanging_up_ends_the_call_without_a_bye_back() {
    let (mut k, t0) = in_call();
    let out = k.handle(
        Event::RemoteBye(ByeReason::Hangup),
        t0 + Duration::from_secs(3),
    );
    assert_eq!(published(&out), [KioskState::Ended]);
    assert!(out.actions.contains(&Action::LeaveSession { bye: None }));
    assert_eq!(
        call_ended(&out).map(|(reason, _)| reason),
        Some(EndReason::RemoteHangup)
    );

    let (mut k, t0) = waiting();
    k.handle(Event::RemoteBye(ByeReason::Hangup), t0);
    assert_eq!(
        k.state(),
        KioskState::Ended,
        "a doctor who leaves the waiting room ends it"
    );

    let (mut k, t0) = waiting();
    k.handle(Event::DoctorJoined, t0);
    let out = k.handle(Event::RemoteBye(ByeReason::Error), t0);
    assert_eq!(
        k.detail(),
        Some(ProblemCode::P2pFailed),
        "a doctor whose side found no path gave up first: the patient hears why"
    );
    assert!(out.actions.contains(&Action::LeaveSession { bye: None }));
}

#[test]
fn without_the_broker_no_code_opens_a_waiting_room() {
    let t0 = Instant::now();
    let mut k = Kiosk::new(T);
    assert_eq!(
        k.code_entry_allowed(t0),
        Err(Refusal::Offline),
        "a kiosk starts offline until its broker answers"
    );
    k.handle(Event::BrokerReachable(true), t0);
    k.handle(Event::CodeChecked(Some(appointment(Some("Max")))), t0);
    k.handle(Event::BrokerReachable(false), t0);
    let out = k.handle(Event::Accept(None), t0);
    assert_eq!(k.detail(), Some(ProblemCode::BrokerUnreachable));
    assert!(
        !out.actions
            .iter()
            .any(|a| matches!(a, Action::JoinSession { .. })),
        "no waiting room without the broker: {out:?}"
    );
    assert_eq!(reported(&out), ["error"]);
}

#[test]
fn without_a_confirmed_clock_no_code_is_checked() {
    let t0 = Instant::now();
    let mut k = Kiosk::new(T);
    k.handle(Event::BrokerReachable(true), t0);
    assert_eq!(k.code_entry_allowed(t0), Ok(()));
    k.handle(Event::ClockConfirmed(false), t0);
    assert_eq!(k.code_entry_allowed(t0), Err(Refusal::ClockUnknown));
    k.handle(Event::ClockConfirmed(true), t0);
    assert_eq!(k.code_entry_allowed(t0), Ok(()));
}

#[test]
fn an_interruption_is_shown_and_reported_once_and_the_relay_too() {
    let (mut k, t0) = in_call();
    let link = |k: &Kiosk| match k.flow() {
        Flow::InCall { link, .. } => *link,
        other => panic!("not in a call: {other:?}"),
    };
    assert_eq!(
        reported(&k.handle(Event::Interrupted, t0)),
        ["call_interrupted"]
    );
    assert!(k.handle(Event::Interrupted, t0).actions.is_empty());
    assert!(link(&k).interrupted);
    let out = k.handle(
        Event::Resumed {
            outage: Duration::from_millis(2500),
        },
        t0,
    );
    assert!(matches!(
        &out.actions[..],
        [Action::Report(EventKind::CallResumed {
            outage_ms: 2500,
            ..
        })]
    ));
    assert!(!link(&k).interrupted);
    assert_eq!(reported(&k.handle(Event::Relayed, t0)), ["relay_used"]);
    assert!(k.handle(Event::Relayed, t0).actions.is_empty());
    assert!(link(&k).relayed);
    assert!(
        k.handle(Event::VideoPaused(true), t0).actions.is_empty(),
        "a pause is shown, not reported"
    );
    assert!(link(&k).video_paused);
    k.handle(Event::VideoPaused(false), t0);
    assert!(!link(&k).video_paused);
    assert_eq!(k.state(), KioskState::InCall, "the call goes on");
    let out = k.handle(Event::CallFailed(Failure::Connection), t0);
    assert_eq!(
        call_ended(&out).map(|(reason, _)| reason),
        Some(EndReason::ConnectionLost)
    );
}

#[test]
fn the_fleet_can_end_a_call_or_a_wait() {
    let (mut k, t0) = in_call();
    let out = k.handle(Event::EndCallCommand, t0);
    assert_eq!(
        call_ended(&out).map(|(reason, _)| reason),
        Some(EndReason::FleetCommand)
    );
    assert_eq!(k.state(), KioskState::Ended);
    let (mut k, t0) = waiting();
    k.handle(Event::EndCallCommand, t0);
    assert_eq!(k.state(), KioskState::Idle);
    assert_eq!(
        kiosk().handle(Event::EndCallCommand, t0).refused,
        Some(Refusal::NoCall)
    );
}

#[test]
fn cancel_returns_to_idle_from_every_state_but_a_running_call() {
    let t0 = Instant::now();
    let mut k = kiosk();
    assert_eq!(
        k.handle(Event::Cancel, t0),
        Outcome::default(),
        "idle stays idle quietly"
    );
    k.handle(Event::CodeChecked(Some(appointment(Some("Max")))), t0);
    k.handle(Event::Cancel, t0);
    assert_eq!(k.state(), KioskState::Idle);

    let (mut k, t0) = waiting();
    let out = k.handle(Event::Cancel, t0);
    assert!(out.actions.contains(&Action::LeaveSession {
        bye: Some(ByeReason::Hangup)
    }));
    assert_eq!(k.state(), KioskState::Idle);

    let (mut k, t0) = in_call();
    assert_eq!(k.handle(Event::Cancel, t0).refused, Some(Refusal::NotNow));
    k.handle(Event::HangUp, t0);
    k.handle(Event::Cancel, t0);
    assert_eq!(
        k.state(),
        KioskState::Idle,
        "the ended screen can be left at once"
    );
}

#[test]
fn hang_up_needs_a_call() {
    let mut k = kiosk();
    assert_eq!(
        k.handle(Event::HangUp, Instant::now()).refused,
        Some(Refusal::NoCall)
    );
}

#[test]
fn a_revoked_appointment_stops_the_flow_before_the_call_but_not_during_it() {
    let (mut k, t0) = waiting();
    k.handle(Event::AppointmentRevoked("other".into()), t0);
    assert_eq!(k.state(), KioskState::Waiting);
    let out = k.handle(Event::AppointmentRevoked("a1".into()), t0);
    assert_eq!(k.detail(), Some(ProblemCode::AppointmentRevoked));
    assert!(out.actions.contains(&Action::LeaveSession {
        bye: Some(ByeReason::Hangup)
    }));

    let (mut k, t0) = in_call();
    k.handle(Event::AppointmentRevoked("a1".into()), t0);
    assert_eq!(k.state(), KioskState::InCall);
}

#[test]
fn a_doctor_reload_during_the_call_keeps_the_call() {
    let (mut k, t0) = in_call();
    assert!(k.handle(Event::DoctorJoined, t0).actions.is_empty());
    assert!(k.handle(Event::MediaFlowing, t0).actions.is_empty());
    assert_eq!(k.state(), KioskState::InCall);
    assert_eq!(k.next_deadline(), None, "a call has no time limit");
}

#[test]
fn shutdown_ends_a_call_with_bye_and_a_record() {
    let (mut k, t0) = in_call();
    let out = k.handle(Event::Shutdown, t0 + Duration::from_secs(9));
    assert!(out.actions.contains(&Action::LeaveSession {
        bye: Some(ByeReason::Hangup)
    }));
    assert_eq!(call_ended(&out), Some((EndReason::Shutdown, 9)));
    let (mut k, t0) = waiting();
    let out = k.handle(Event::Shutdown, t0);
    assert!(out.actions.contains(&Action::LeaveSession {
        bye: Some(ByeReason::Hangup)
    }));
    assert!(kiosk().handle(Event::Shutdown, t0).actions.is_empty());
}

#[test]
fn a_broken_camera_or_microphone_is_named_not_blamed_on_the_connection() {
    let (mut k, t0) = waiting();
    k.handle(Event::DoctorJoined, t0);
    let out = k.handle(Event::CallFailed(Failure::Camera), t0);
    assert_eq!(k.detail(), Some(ProblemCode::CameraMissing));
    assert!(out.actions.contains(&Action::LeaveSession {
        bye: Some(ByeReason::Error)
    }));
    let (mut k, t0) = in_call();
    let out = k.handle(Event::CallFailed(Failure::Microphone), t0);
    assert_eq!(k.detail(), Some(ProblemCode::MicrophoneMissing));
    assert_eq!(reported(&out), ["call_ended", "error"]);
}
