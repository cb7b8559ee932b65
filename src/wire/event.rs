//! What happened on a kiosk, for the fleet's records: `{root}/devices/{device}/events`
//! (protocol.md 3.4), and the words of its fixed vocabularies.
//!
//! Each kind of event is a variant that carries exactly the fields the protocol gives it, so a
//! `call_ended` cannot go out without its reason and a problem code cannot stand where an end
//! reason belongs. None of them can hold free text: an event never carries an access code or a
//! name. (Reading is as typed as sending; the kiosk's own event log is pruned by each line's
//! time alone, so it never depends on that.)

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::V1;

/// One event as published, and as kept in the kiosk's own event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventReport {
    pub v: V1,
    #[serde(with = "super::rfc3339")]
    pub ts: OffsetDateTime,
    #[serde(flatten)]
    pub event: EventKind,
}

impl EventReport {
    pub fn new(ts: OffsetDateTime, event: EventKind) -> Self {
        Self { v: V1, ts, event }
    }
}

/// The event, named by its `event` field, with its own fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// A code matched no appointment valid now. Never names an appointment.
    CodeRejected,
    /// The wrong code that starts a lockout; `duration_s` is its length.
    Lockout {
        duration_s: u64,
    },
    ConsentGiven {
        appointment: String,
    },
    /// The first remote video frame was decoded.
    CallStarted {
        appointment: String,
    },
    /// A call that had started ended; `duration_s` counts from `call_started`.
    CallEnded {
        appointment: String,
        reason: EndReason,
        duration_s: u64,
        /// The connection quality the call screen showed at the end (as `last_call`'s).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quality: Option<super::QualityLevel>,
    },
    /// The fleet's test call (protocol.md 3.5) was not taken, and why.
    TestCallRefused {
        test: String,
        reason: TestCallRefusal,
    },
    /// The fleet's test call ended: how long it ran and what the kiosk received of it.
    TestCallEnded {
        test: String,
        duration_s: u64,
        video_frames_received: u64,
        audio_buffers_received: u64,
        /// The level of what the kiosk heard in the call's last second (dBFS, rounded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        audio_level_dbfs: Option<i64>,
        /// What made it fail, in the words of `error`'s `reason`; absent when it ended as a
        /// test call should (its minute, or either side's hand).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failure: Option<ProblemCode>,
    },
    /// Media stopped during the call; the kiosk is recovering the connection.
    CallInterrupted {
        appointment: String,
    },
    /// Media came again after an interruption that lasted `outage_ms`.
    CallResumed {
        appointment: String,
        outage_ms: u64,
    },
    /// The call's media runs through a TURN relay of the fleet's, not peer to peer.
    RelayUsed {
        appointment: String,
    },
    /// The fleet's `wipe`: the last event before the kiosk forgets everything.
    FactoryReset,
    /// The flow ended on a problem (state `error`).
    Error {
        reason: ProblemCode,
    },
    /// An event a later version added (written back as `unknown`).
    #[serde(other)]
    Unknown,
}

impl EventKind {
    /// The `event` word, as on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Self::CodeRejected => "code_rejected",
            Self::Lockout { .. } => "lockout",
            Self::ConsentGiven { .. } => "consent_given",
            Self::CallStarted { .. } => "call_started",
            Self::CallEnded { .. } => "call_ended",
            Self::CallInterrupted { .. } => "call_interrupted",
            Self::CallResumed { .. } => "call_resumed",
            Self::RelayUsed { .. } => "relay_used",
            Self::FactoryReset => "factory_reset",
            Self::TestCallRefused { .. } => "test_call_refused",
            Self::TestCallEnded { .. } => "test_call_ended",
            Self::Error { .. } => "error",
            Self::Unknown => "unknown",
        }
    }
}

/// Why a kiosk did not take a test call (`test_call_refused`'s `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestCallRefusal {
    /// Someone uses the kiosk: a consultation, its steps, the keypad, or another test call.
    Busy,
    /// The kiosk's clock is not confirmed, so it cannot tell whether the request is current.
    ClockUnknown,
    /// The request is past its `not_after`, too far ahead, or was taken before (a replay).
    Expired,
    /// A reason of a later version (written back as `unknown`).
    #[serde(other)]
    Unknown,
}

impl TestCallRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Busy => "busy",
            Self::ClockUnknown => "clock_unknown",
            Self::Expired => "expired",
            Self::Unknown => "unknown",
        }
    }
}

/// Why a call ended (`call_ended`'s `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Hung up at the kiosk.
    LocalHangup,
    /// The doctor said `bye`.
    RemoteHangup,
    /// The fleet's `end_call`.
    FleetCommand,
    /// kioskd stopped (SIGTERM).
    Shutdown,
    /// kioskd stopped without ending the call (killed, or the power went): written at its next
    /// start.
    Crashed,
    /// Media stopped and did not come back within the reconnect window.
    ConnectionLost,
    /// A device failed, or the call could not go on; an `error` event says which.
    Error,
    /// A reason of a later version (written back as `unknown`).
    #[serde(other)]
    Unknown,
}

/// A problem that ended the flow in `error`: `error`'s `reason`, and the state's `detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    DoctorTimeout,
    P2pFailed,
    ConnectionLost,
    AppointmentRevoked,
    CameraMissing,
    MicrophoneMissing,
    /// The fleet's broker was unreachable when the patient consented: no doctor could join.
    BrokerUnreachable,
    /// The doctor's side showed a DTLS certificate other than the one its SDP names (or said so
    /// of ours): the call was ended before any media crossed.
    SecurityCheckFailed,
    /// A problem of a later version (written back as `unknown`).
    #[serde(other)]
    Unknown,
}

impl ProblemCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DoctorTimeout => "doctor_timeout",
            Self::P2pFailed => "p2p_failed",
            Self::ConnectionLost => "connection_lost",
            Self::AppointmentRevoked => "appointment_revoked",
            Self::CameraMissing => "camera_missing",
            Self::MicrophoneMissing => "microphone_missing",
            Self::BrokerUnreachable => "broker_unreachable",
            Self::SecurityCheckFailed => "security_check_failed",
            Self::Unknown => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{decode, encode};

    const TS: OffsetDateTime = time::macros::datetime!(2026-11-28 10:05:40 UTC);

    #[test]
    fn events_go_out_with_the_contract_field_names_and_order() {
        let ended = EventReport::new(
            TS,
            EventKind::CallEnded {
                appointment: "a-1".into(),
                reason: EndReason::LocalHangup,
                duration_s: 412,
                quality: None,
            },
        );
        assert_eq!(
            String::from_utf8(encode(&ended)).unwrap(),
            r#"{"v":1,"ts":"2026-11-28T10:05:40Z","event":"call_ended","appointment":"a-1","reason":"local_hangup","duration_s":412}"#
        );
        let error = EventReport::new(
            TS,
            EventKind::Error {
                reason: ProblemCode::P2pFailed,
            },
        );
        assert_eq!(
            String::from_utf8(encode(&error)).unwrap(),
            r#"{"v":1,"ts":"2026-11-28T10:05:40Z","event":"error","reason":"p2p_failed"}"#
        );
        let rejected = EventReport::new(TS, EventKind::CodeRejected);
        assert_eq!(
            String::from_utf8(encode(&rejected)).unwrap(),
            r#"{"v":1,"ts":"2026-11-28T10:05:40Z","event":"code_rejected"}"#
        );
        let failed = EventReport::new(
            TS,
            EventKind::TestCallEnded {
                test: "test-1".into(),
                duration_s: 2,
                video_frames_received: 0,
                audio_buffers_received: 90,
                audio_level_dbfs: None,
                failure: Some(ProblemCode::CameraMissing),
            },
        );
        assert_eq!(
            String::from_utf8(encode(&failed)).unwrap(),
            r#"{"v":1,"ts":"2026-11-28T10:05:40Z","event":"test_call_ended","test":"test-1","duration_s":2,"video_frames_received":0,"audio_buffers_received":90,"failure":"camera_missing"}"#
        );
        for report in [ended, error, rejected, failed] {
            assert_eq!(decode::<EventReport>(&encode(&report)).unwrap(), report);
        }
    }

    #[test]
    fn words_of_a_later_version_read_as_unknown() {
        let later: EventReport = decode(
            br#"{"v":1,"ts":"2026-11-28T10:05:40Z","event":"call_ended","appointment":"a-1","reason":"battery_empty","duration_s":3,"mos":4.2}"#,
        )
        .unwrap();
        assert_eq!(
            later.event,
            EventKind::CallEnded {
                appointment: "a-1".into(),
                reason: EndReason::Unknown,
                duration_s: 3,
                quality: None,
            }
        );
        let later: EventReport =
            decode(br#"{"v":1,"ts":"2026-11-28T10:05:40Z","event":"error","reason":"on_fire"}"#)
                .unwrap();
        assert_eq!(
            later.event,
            EventKind::Error {
                reason: ProblemCode::Unknown
            }
        );
        let later: EventReport =
            decode(br#"{"v":1,"ts":"2026-11-28T10:05:40Z","event":"updated","slot":"B"}"#).unwrap();
        assert_eq!(later.event, EventKind::Unknown);
    }
}
