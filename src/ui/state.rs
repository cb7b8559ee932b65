//! What the screens remember between touches: the digits and the name being typed, the hang-up
//! confirmation, mute and camera switches, the language. It turns button [`Press`]s into
//! [`Intent`]s for the flow and builds the [`ViewModel`] from the flow's state.
//!
//! Pure like the rest of the UI: time comes in as an argument. Everything typed is wiped when
//! the flow returns to idle and after [`INPUT_IDLE`] without a touch on the code screen, so
//! nothing a patient or the staff typed outlives the consultation.
//!
//! Two screens come from outside the flow, and the daemon switches them: the set-up screen while
//! the kiosk has no device identity ([`ScreenState::set_provisioning`]), which covers everything,
//! and the fleet's `identify` ([`ScreenState::identify`]), which covers only the idle screens so
//! it never interrupts a consultation.

use std::time::{Duration, Instant};

use super::layout::Press;
use super::text::Locale;
use super::view::{
    CallNotice, CallView, CodeNotice, ProvisionNotice, Quality, Screen, SecurityCode, StaffCheck,
    ViewModel,
};
use crate::flow::{Flow, MAX_NAME};
use crate::wire::{CODE_DIGITS, Refusal};

/// How long the code screen waits for the next digit before it goes back to the start.
pub const INPUT_IDLE: Duration = Duration::from_secs(60);
/// Staff PINs have six digits.
pub const STAFF_PIN_DIGITS: usize = 6;
/// How long the room name must be held to open the staff check.
pub const LONG_PRESS: Duration = Duration::from_millis(1500);

/// What a touch asks the kiosk to do. Its `Debug` leaves out what was typed (a code, a PIN, a
/// name), so no log line can carry it.
#[derive(Clone, PartialEq, Eq)]
pub enum Intent {
    /// Check these 8 digits.
    EnterCode(String),
    ConfirmName(String),
    Consent,
    /// Leave the current step (back to idle, or leave the waiting room).
    Cancel,
    HangUp,
    Mute(bool),
    CameraOff(bool),
    /// Check this staff PIN (from the fleet's device config).
    StaffPin(String),
    /// Play the speaker test tone.
    SpeakerTest,
}

impl std::fmt::Debug for Intent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::EnterCode(_) => f.write_str("EnterCode(..)"),
            Self::ConfirmName(_) => f.write_str("ConfirmName(..)"),
            Self::StaffPin(_) => f.write_str("StaffPin(..)"),
            Self::Consent => f.write_str("Consent"),
            Self::Cancel => f.write_str("Cancel"),
            Self::HangUp => f.write_str("HangUp"),
            Self::Mute(on) => write!(f, "Mute({on})"),
            Self::CameraOff(off) => write!(f, "CameraOff({off})"),
            Self::SpeakerTest => f.write_str("SpeakerTest"),
        }
    }
}

/// The room, clock and connection shown around every screen, provided by the daemon.
#[derive(Debug, Clone, PartialEq)]
pub struct Surroundings {
    pub room: String,
    pub clock: String,
    pub broker_online: bool,
    pub quality: Quality,
    /// The running call's security code, once its DTLS is up.
    pub security_code: Option<SecurityCode>,
    /// What the device check found (shown on the staff check).
    pub staff: StaffCheck,
}

/// Whether the kiosk has its device identity. The daemon finds out; the screens only show it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Provisioning {
    #[default]
    Provisioned,
    /// No identity yet: only the set-up screen shows, and touches do nothing.
    Missing { notice: Option<ProvisionNotice> },
}

/// The fleet's `identify` request being shown.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identifying {
    room: String,
    device: String,
}

/// What a keypad on the idle side is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keypad {
    Code,
    StaffPin,
}

impl Keypad {
    fn digits(self) -> usize {
        match self {
            Self::Code => CODE_DIGITS,
            Self::StaffPin => STAFF_PIN_DIGITS,
        }
    }
}

/// The screens while the flow is idle: the start screen, a keypad, or the staff check.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Idle {
    Start,
    Keypad {
        purpose: Keypad,
        typed: String,
        notice: Option<CodeNotice>,
        last_touch: Instant,
    },
    StaffCheck {
        last_touch: Instant,
    },
}

#[derive(Debug)]
pub struct ScreenState {
    default_locale: Locale,
    locale: Locale,
    idle: Idle,
    name: String,
    shift: bool,
    confirm_hang_up: bool,
    muted: bool,
    camera_off: bool,
    /// Which flow state the screens last saw, to notice entering a new step.
    last_step: Option<std::mem::Discriminant<Flow>>,
    provisioning: Provisioning,
    identifying: Option<Identifying>,
}

impl ScreenState {
    pub fn new(locale: Locale) -> Self {
        Self {
            default_locale: locale,
            locale,
            idle: Idle::Start,
            name: String::new(),
            shift: true,
            confirm_hang_up: false,
            muted: false,
            camera_off: false,
            last_step: None,
            provisioning: Provisioning::Provisioned,
            identifying: None,
        }
    }

    /// The device's language changed (fleet config); the next idle screen uses it.
    pub fn set_default_locale(&mut self, locale: Locale) {
        self.default_locale = locale;
        if matches!(self.idle, Idle::Start)
            && self.last_step == Some(std::mem::discriminant(&Flow::Idle))
        {
            self.locale = locale;
        }
    }

    /// Forgets everything typed and every switch: the next person starts fresh. What the daemon
    /// set from outside (provisioning, identify) stays until it says otherwise.
    pub fn wipe(&mut self) {
        *self = Self {
            last_step: self.last_step,
            provisioning: self.provisioning,
            identifying: self.identifying.take(),
            ..Self::new(self.default_locale)
        };
    }

    /// Whether the kiosk has its device identity. A change starts the screens afresh.
    pub fn set_provisioning(&mut self, provisioning: Provisioning) {
        if self.provisioning != provisioning {
            self.provisioning = provisioning;
            self.wipe();
        }
    }

    /// Shows the fleet's `identify` screen over the idle screens until [`ScreenState::end_identify`]
    /// or a tap on its OK. During a consultation it waits: if the daemon has not ended it by
    /// the time the kiosk is back at the start, it shows then.
    pub fn identify(&mut self, room: String, device: String) {
        self.identifying = Some(Identifying { room, device });
    }

    /// The identify time is over (the daemon keeps the time). Does nothing if it was dismissed.
    pub fn end_identify(&mut self) {
        self.identifying = None;
    }

    /// Follows the flow into a new step: pre-fills the name, and wipes on the way back to idle.
    pub fn sync(&mut self, flow: &Flow) {
        let step = std::mem::discriminant(flow);
        if self.last_step == Some(step) {
            return;
        }
        self.last_step = Some(step);
        match flow {
            Flow::Idle => self.wipe(),
            Flow::CodeAccepted { appointment, .. } => {
                self.idle = Idle::Start;
                self.name = appointment.patient_name.clone().unwrap_or_default();
                self.shift = self.name.is_empty();
            }
            Flow::InCall { .. } => self.confirm_hang_up = false,
            _ => {}
        }
    }

    /// When [`ScreenState::tick`] next has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        match &self.idle {
            Idle::Keypad { last_touch, .. } | Idle::StaffCheck { last_touch } => {
                Some(*last_touch + INPUT_IDLE)
            }
            Idle::Start => None,
        }
    }

    /// `true` while nobody is at the idle screen: no keypad, no staff check, no identify screen.
    /// A test call of the fleet's waits for this (it would take the screen from under a finger).
    pub fn at_rest(&self) -> bool {
        matches!(self.idle, Idle::Start) && self.identifying.is_none()
    }

    /// `true` while the staff check shows (the daemon runs the device check then).
    pub fn in_staff_check(&self) -> bool {
        matches!(self.idle, Idle::StaffCheck { .. })
            && self.identifying.is_none()
            && self.provisioning == Provisioning::Provisioned
    }

    /// Leaves a code screen nobody touches any more. Returns `true` when the screen changed.
    pub fn tick(&mut self, now: Instant) -> bool {
        if self.next_deadline().is_some_and(|d| now >= d) {
            self.wipe();
            return true;
        }
        false
    }

    /// A refused code: say why on the code screen.
    pub fn refused(&mut self, refusal: Refusal, now: Instant) {
        let notice = match refusal {
            Refusal::WrongCode { attempts_left } => CodeNotice::Wrong { attempts_left },
            Refusal::LockedOut { remaining_s } => CodeNotice::LockedOut { remaining_s },
            Refusal::Busy => CodeNotice::Busy,
            Refusal::Offline => CodeNotice::Offline,
            Refusal::ClockUnknown => CodeNotice::ClockUnknown,
            _ => return,
        };
        self.keypad(Keypad::Code, Some(notice), now);
    }

    /// The staff PIN was checked: on to the staff check, or back to the keypad saying why.
    pub fn staff_pin_checked(&mut self, outcome: Result<(), CodeNotice>, now: Instant) {
        match outcome {
            Ok(()) => self.idle = Idle::StaffCheck { last_touch: now },
            Err(notice) => self.keypad(Keypad::StaffPin, Some(notice), now),
        }
    }

    fn keypad(&mut self, purpose: Keypad, notice: Option<CodeNotice>, now: Instant) {
        self.idle = Idle::Keypad {
            purpose,
            typed: String::new(),
            notice,
            last_touch: now,
        };
    }

    /// A button was touched. Returns what the kiosk must do, if anything.
    pub fn on_press(&mut self, press: Press, flow: &Flow, now: Instant) -> Option<Intent> {
        if let Provisioning::Missing { .. } = self.provisioning {
            return None;
        }
        if self.identifying.is_some() && matches!(flow, Flow::Idle) {
            // OK goes back to a fresh start screen, whatever was under the identify screen.
            if press == Press::BackToStart {
                self.identifying = None;
                self.wipe();
            }
            return None;
        }
        match flow {
            Flow::Idle => self.on_idle(press, now),
            Flow::CodeAccepted { .. } => self.on_name(press),
            Flow::Consent { .. } => match press {
                Press::Agree => Some(Intent::Consent),
                Press::Cancel => Some(Intent::Cancel),
                _ => None,
            },
            Flow::Waiting { .. } | Flow::TestCall { .. } => {
                (press == Press::Cancel).then_some(Intent::Cancel)
            }
            Flow::InCall { .. } => self.on_call(press),
            Flow::Ended { .. } | Flow::Failed { .. } => {
                (press == Press::BackToStart).then_some(Intent::Cancel)
            }
        }
    }

    fn on_idle(&mut self, press: Press, now: Instant) -> Option<Intent> {
        match (&mut self.idle, press) {
            (Idle::Start, Press::StartCode) => self.keypad(Keypad::Code, None, now),
            (Idle::Start, Press::StaffLongPress) => self.keypad(Keypad::StaffPin, None, now),
            (Idle::Start, Press::ToggleLanguage) => self.locale = self.locale.other(),
            (Idle::Keypad { .. }, Press::Cancel)
            | (Idle::StaffCheck { .. }, Press::BackToStart) => {
                self.idle = Idle::Start;
            }
            (Idle::StaffCheck { last_touch }, Press::SpeakerTest) => {
                *last_touch = now;
                return Some(Intent::SpeakerTest);
            }
            (
                Idle::Keypad {
                    typed,
                    notice,
                    last_touch,
                    ..
                },
                Press::Delete,
            ) => {
                typed.pop();
                *notice = None;
                *last_touch = now;
            }
            (
                Idle::Keypad {
                    purpose,
                    typed,
                    notice,
                    last_touch,
                },
                Press::Digit(d),
            ) => {
                *last_touch = now;
                *notice = None;
                typed.push(char::from(b'0' + d.min(9)));
                if typed.len() == purpose.digits() {
                    // What was typed leaves the screen at once; a refusal brings the keypad back empty.
                    let typed = std::mem::take(typed);
                    return Some(match purpose {
                        Keypad::Code => Intent::EnterCode(typed),
                        Keypad::StaffPin => Intent::StaffPin(typed),
                    });
                }
            }
            _ => {}
        }
        None
    }

    fn on_name(&mut self, press: Press) -> Option<Intent> {
        match press {
            Press::Key(c) if self.name.chars().count() < MAX_NAME => {
                let c = if self.shift {
                    c.to_uppercase().next().unwrap_or(c)
                } else {
                    c
                };
                self.name.push(c);
                // Names start their parts with a capital: shift comes back after a space or hyphen.
                self.shift = c == ' ' || c == '-';
            }
            Press::Shift => self.shift = !self.shift,
            Press::Delete => {
                self.name.pop();
                self.shift = self.name.is_empty() || self.name.ends_with([' ', '-']);
            }
            Press::ConfirmName if !self.name.trim().is_empty() => {
                return Some(Intent::ConfirmName(self.name.trim().to_string()));
            }
            Press::Cancel => return Some(Intent::Cancel),
            _ => {}
        }
        None
    }

    fn on_call(&mut self, press: Press) -> Option<Intent> {
        match press {
            Press::HangUp => self.confirm_hang_up = true,
            Press::KeepTalking => self.confirm_hang_up = false,
            Press::ConfirmHangUp => {
                self.confirm_hang_up = false;
                return Some(Intent::HangUp);
            }
            Press::ToggleMute if !self.confirm_hang_up => {
                self.muted = !self.muted;
                return Some(Intent::Mute(self.muted));
            }
            Press::ToggleCamera if !self.confirm_hang_up => {
                self.camera_off = !self.camera_off;
                return Some(Intent::CameraOff(self.camera_off));
            }
            _ => {}
        }
        None
    }

    /// What the screen shows now.
    pub fn view(&self, flow: &Flow, around: &Surroundings, now: Instant) -> ViewModel {
        let screen = match (self.provisioning, &self.identifying, flow) {
            (Provisioning::Missing { notice }, _, _) => Screen::NotProvisioned { notice },
            (Provisioning::Provisioned, Some(Identifying { room, device }), Flow::Idle) => {
                Screen::Identify {
                    room: room.clone(),
                    device: device.clone(),
                }
            }
            _ => self.flow_screen(flow, around, now),
        };
        ViewModel {
            locale: self.locale,
            room: around.room.clone(),
            clock: around.clock.clone(),
            broker_online: around.broker_online,
            screen,
        }
    }

    /// The screen of the flow's current step.
    fn flow_screen(&self, flow: &Flow, around: &Surroundings, now: Instant) -> Screen {
        match flow {
            Flow::Idle => match &self.idle {
                Idle::Start => Screen::Idle,
                Idle::Keypad {
                    purpose: Keypad::Code,
                    typed,
                    notice,
                    ..
                } => Screen::CodeEntry {
                    entered: typed.clone(),
                    notice: *notice,
                },
                Idle::Keypad {
                    purpose: Keypad::StaffPin,
                    typed,
                    notice,
                    ..
                } => Screen::StaffPin {
                    entered: typed.len(),
                    notice: *notice,
                },
                Idle::StaffCheck { .. } => Screen::StaffCheck(around.staff.clone()),
            },
            Flow::CodeAccepted { .. } => Screen::PatientName {
                name: self.name.clone(),
                shift: self.shift,
            },
            Flow::Consent { appointment, .. } => Screen::Consent {
                doctor: appointment.doctor_name.clone(),
            },
            Flow::Waiting { appointment, .. } => Screen::Waiting {
                doctor: appointment.doctor_name.clone(),
            },
            Flow::InCall { since, link, .. } => Screen::InCall(CallView {
                duration_s: now.saturating_duration_since(*since).as_secs(),
                muted: self.muted,
                camera_off: self.camera_off,
                quality: around.quality,
                security_code: around.security_code,
                confirm_hang_up: self.confirm_hang_up,
                // An interruption is the news; the relay is still there when it is over.
                notice: if link.interrupted {
                    Some(CallNotice::Interrupted)
                } else if link.video_paused {
                    Some(CallNotice::VideoPaused)
                } else if link.relayed {
                    Some(CallNotice::Relayed)
                } else {
                    None
                },
            }),
            Flow::Ended { duration, .. } => Screen::Ended {
                duration_s: duration.as_secs(),
            },
            Flow::Failed { problem, .. } => Screen::Problem(*problem),
            Flow::TestCall { until, .. } => Screen::TestCall {
                left_s: until.saturating_duration_since(now).as_secs_f64().ceil() as u64,
            },
        }
    }
}

#[cfg(test)]
mod tests;
