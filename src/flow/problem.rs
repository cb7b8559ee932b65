//! What can go wrong in a consultation: why a call failed, and the problem the screens explain.

use crate::wire::{ByeReason, ProblemCode};

/// What made a call fail, as far as the call can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// ICE, DTLS, negotiation or anything else between the two sides.
    Connection,
    /// The camera could not be opened or stopped delivering.
    Camera,
    /// The microphone could not be opened or stopped delivering.
    Microphone,
    /// The other side's DTLS certificate is not the one its SDP names: the connection was
    /// closed inside the handshake, before any media crossed.
    SecurityCheck,
}

impl Failure {
    /// The problem the screens and the fleet are told. A broken device or a failed security
    /// check is said as such: "no connection" would send people looking in the wrong place.
    /// The connection's problem depends on whether media had crossed it: lost, or never made.
    pub fn problem(self, media_crossed: bool) -> Problem {
        match self {
            Self::Camera => Problem::CameraMissing,
            Self::Microphone => Problem::MicrophoneMissing,
            Self::SecurityCheck => Problem::SecurityCheckFailed,
            Self::Connection if media_crossed => Problem::ConnectionLost,
            Self::Connection => Problem::NoDirectConnection,
        }
    }

    /// The `bye` that tells the other side. A failed security check is not an error to retry:
    /// the other side is told why.
    pub fn bye(self) -> ByeReason {
        match self {
            Self::SecurityCheck => ByeReason::SecurityCheckFailed,
            _ => ByeReason::Error,
        }
    }
}

/// Something that went wrong, in words a patient can be shown (the UI maps it to text). A closed
/// list, unlike its wire form [`ProblemCode`], which must also read codes of later versions: the
/// screens have a text for every problem this kiosk can have, and no other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    DoctorDidNotCome,
    NoDirectConnection,
    ConnectionLost,
    AppointmentWithdrawn,
    /// The call could not use a device (the staff check will find these before a call, too).
    CameraMissing,
    MicrophoneMissing,
    /// The practice (the fleet's broker) cannot be reached: a waiting room would wait for
    /// nobody.
    PracticeUnreachable,
    /// The connection's security check failed (the certificates did not match), on our side
    /// or the doctor's.
    SecurityCheckFailed,
}

impl Problem {
    pub fn code(self) -> ProblemCode {
        match self {
            Self::DoctorDidNotCome => ProblemCode::DoctorTimeout,
            Self::NoDirectConnection => ProblemCode::P2pFailed,
            Self::ConnectionLost => ProblemCode::ConnectionLost,
            Self::AppointmentWithdrawn => ProblemCode::AppointmentRevoked,
            Self::CameraMissing => ProblemCode::CameraMissing,
            Self::MicrophoneMissing => ProblemCode::MicrophoneMissing,
            Self::PracticeUnreachable => ProblemCode::BrokerUnreachable,
            Self::SecurityCheckFailed => ProblemCode::SecurityCheckFailed,
        }
    }
}
