//! What can go wrong in a consultation: why a call failed, and the problem the screens explain.

/// What made a call fail, as far as the call can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// ICE, DTLS, negotiation or anything else between the two sides.
    Connection,
    /// The camera could not be opened or stopped delivering.
    Camera,
    /// The microphone could not be opened or stopped delivering.
    Microphone,
}

/// Something that went wrong, in words a patient can be shown (the UI maps the code to text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    DoctorDidNotCome,
    NoDirectConnection,
    ConnectionLost,
    AppointmentWithdrawn,
    /// The call could not use a device (the staff check will find these before a call, too).
    CameraMissing,
    MicrophoneMissing,
}

impl Problem {
    pub fn code(self) -> &'static str {
        match self {
            Self::DoctorDidNotCome => "doctor_timeout",
            Self::NoDirectConnection => "p2p_failed",
            Self::ConnectionLost => "connection_lost",
            Self::AppointmentWithdrawn => "appointment_revoked",
            Self::CameraMissing => "camera_missing",
            Self::MicrophoneMissing => "microphone_missing",
        }
    }
}
