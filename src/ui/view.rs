//! What a screen shows: plain data, built by the daemon from the flow state and the screen's own
//! input, and drawn by [`super::draw`]. Nothing in here is drawn or sent anywhere by itself.

pub use crate::flow::Problem;
use crate::wire::QualityLevel;

use super::text::Locale;

#[derive(Debug, Clone, PartialEq)]
pub struct ViewModel {
    pub locale: Locale,
    /// The room's name from the fleet's device config.
    pub room: String,
    /// The time shown on the idle screen (`HH:MM`, local time).
    pub clock: String,
    /// `false` while the fleet's broker is unreachable: no call can start then (no doctor could
    /// join), and the idle screen says so.
    pub broker_online: bool,
    pub screen: Screen,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Screen {
    Idle,
    CodeEntry {
        entered: String,
        notice: Option<CodeNotice>,
    },
    PatientName {
        name: String,
        shift: bool,
    },
    Consent {
        doctor: String,
    },
    Waiting {
        doctor: String,
    },
    InCall(CallView),
    Ended {
        duration_s: u64,
    },
    Problem(Problem),
    StaffPin {
        entered: usize,
        notice: Option<CodeNotice>,
    },
    StaffCheck(StaffCheck),
    /// The kiosk has no device identity yet (fresh SD card, or reset by the fleet): nothing for a
    /// patient to do, so no buttons; a line tells a technician what is missing.
    NotProvisioned {
        notice: Option<ProvisionNotice>,
    },
    /// The fleet's IT tests camera, microphone and connection (`test_call`): the self-view, and
    /// how long the test runs on at most.
    TestCall {
        left_s: u64,
    },
    /// The fleet manager asked this kiosk to show itself among many (`identify`).
    Identify {
        /// The room's name, shown large so it can be read from the door.
        room: String,
        device: String,
    },
}

impl Screen {
    /// Whether a person's name is on this screen (the patient's as typed or booked, the
    /// doctor's), so a production kiosk takes no screenshot of it. Codes never are: the keypad
    /// shows stars.
    pub fn shows_a_name(&self) -> bool {
        match self {
            Self::PatientName { .. } | Self::Consent { .. } | Self::Waiting { .. } => true,
            Self::Idle
            | Self::CodeEntry { .. }
            | Self::InCall(_)
            | Self::Ended { .. }
            | Self::Problem(_)
            | Self::StaffPin { .. }
            | Self::StaffCheck(_)
            | Self::NotProvisioned { .. }
            | Self::TestCall { .. }
            | Self::Identify { .. } => false,
        }
    }
}

/// The call screen: the picture is the doctor's, so only the controls and the call's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallView {
    pub duration_s: u64,
    pub muted: bool,
    pub camera_off: bool,
    pub quality: Quality,
    pub confirm_hang_up: bool,
    /// What the patient must know about the connection, over the picture.
    pub notice: Option<CallNotice>,
    /// The four digits the patient and the doctor can compare, once DTLS is up.
    pub security_code: Option<SecurityCode>,
}

/// The call's security code (protocol.md section 5, "The security code"). Its `Debug` hides the
/// digits: a view model in a log line must not carry them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SecurityCode(u16);

impl SecurityCode {
    /// Four ASCII digits, as the call's statistics carry them.
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse().ok().map(Self))
            .flatten()
    }
}

impl std::fmt::Display for SecurityCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}", self.0)
    }
}

impl std::fmt::Debug for SecurityCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecurityCode(..)")
    }
}

/// A line over the doctor's picture about the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallNotice {
    /// Media stopped; the kiosk is recovering the connection.
    Interrupted,
    /// The kiosk's picture pauses: the link carries only the voice now.
    VideoPaused,
    /// A TURN relay carries the call: no longer peer to peer.
    Relayed,
}

/// Why the last code was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeNotice {
    Wrong {
        attempts_left: u32,
    },
    LockedOut {
        remaining_s: u64,
    },
    /// The fleet has not set a staff PIN for this kiosk.
    NotSetUp,
    /// Another code or PIN was being checked: this one was not, and counts for nothing.
    Busy,
    /// The practice cannot be reached: no call can start now.
    Offline,
    /// The kiosk's clock is not confirmed: no appointment can be judged due.
    ClockUnknown,
}

/// Why the last provisioning bundle did not give the kiosk its identity. Fixed texts rather than
/// the error itself: they stay translated and fit their box; the details go to the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvisionNotice {
    /// A bundle was on the boot partition but could not be used.
    BundleRefused,
}

/// The three-level connection quality the rules want participants to see. Closed, unlike its
/// wire form [`QualityLevel`]: the screen draws only levels it has a picture for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quality {
    Good,
    Fair,
    Poor,
}

impl Quality {
    /// How the fleet hears of it (the state report's `last_call`).
    pub fn level(self) -> QualityLevel {
        match self {
            Self::Good => QualityLevel::Good,
            Self::Fair => QualityLevel::Fair,
            Self::Poor => QualityLevel::Poor,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StaffCheck {
    pub camera_ok: bool,
    pub microphone_ok: bool,
    /// Microphone level, 0.0 to 1.0.
    pub mic_level: f32,
    /// Who cancels the speaker's echo in calls.
    pub echo: EchoCanceller,
    pub version: String,
}

/// Who cancels the speaker's echo in the microphone, as the staff check says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoCanceller {
    /// The kiosk does (WebRTC's canceller).
    Active,
    /// The audio device does (a speakerphone).
    InDevice,
    /// Nobody: the doctor will hear themselves unless a headset is used.
    Off,
}
