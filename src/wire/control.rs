//! The local control socket: one JSON request per line, one JSON reply per line. Service
//! technicians and tests take the same paths a touch takes (a request, or a `tap` on the screen);
//! refusals carry the texts the screen shows, in German and English (protocol.md section 8).

use serde::{Deserialize, Serialize};

use super::{KioskState, ProblemCode};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum ControlRequest {
    Status,
    EnterCode {
        code: String,
    },
    /// Consent; `name` overrides the appointment's patient name.
    Accept {
        #[serde(default)]
        name: Option<String>,
    },
    HangUp,
    /// Back to idle from any screen that is not a running call (extension of the contract).
    Cancel,
    Stats,
    /// A touch at a point of the screen, in panel pixels (extension for tests and technicians).
    Tap {
        x: i32,
        y: i32,
        /// How long the finger stays down; a long press on the room name opens the staff check.
        #[serde(default)]
        hold_ms: u64,
    },
    /// Writes a PNG of the UI layer (never the remote picture) as `file` (a name, not a path:
    /// [`is_screenshot_name`]) in the kiosk's one screenshot directory. `composed` (development
    /// configs only) captures the composed screen, video included.
    Screenshot {
        file: String,
        #[serde(default)]
        composed: bool,
    },
    /// Tests only, and only when kioskd runs with `PRAXISKIOSK_TEST_FAULTS=1`: makes one part
    /// hang for real (`link`, `display`, `call` or `main`), so a test can see the watchdog pings
    /// stop.
    TestHang {
        part: String,
    },
}

/// `true` for a screenshot's file name: 1 to 64 of ASCII letters, digits, `.`, `-` and `_`, not
/// starting with a dot. So no `/`, no `..` and no hidden file (nor the `.*.tmp` of a write under
/// way): a screenshot lands in its directory and nowhere else.
pub fn is_screenshot_name(file: &str) -> bool {
    (1..=64).contains(&file.len())
        && !file.starts_with('.')
        && file
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// Why a request (or a touch) was refused: a machine-readable code plus a text for people in
/// German and English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    BadRequest,
    InvalidCodeFormat,
    WrongCode {
        attempts_left: u32,
    },
    LockedOut {
        remaining_s: u64,
    },
    Busy,
    NotNow,
    NoCall,
    NameMissing,
    NameInvalid,
    /// The kiosk has no device identity yet.
    NotProvisioned,
    /// The fleet's broker is unreachable: no doctor could join a call now.
    Offline,
    /// The kiosk's clock is not confirmed (not synchronized): appointment windows cannot be
    /// judged, so no code opens one.
    ClockUnknown,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::InvalidCodeFormat => "invalid_code_format",
            Self::WrongCode { .. } => "wrong_code",
            Self::LockedOut { .. } => "locked_out",
            Self::Busy => "busy",
            Self::NotNow => "not_now",
            Self::NoCall => "no_call",
            Self::NameMissing => "name_missing",
            Self::NameInvalid => "name_invalid",
            Self::NotProvisioned => "not_provisioned",
            Self::Offline => "offline",
            Self::ClockUnknown => "clock_unknown",
        }
    }

    pub fn german(self) -> String {
        match self {
            Self::BadRequest => "Die Anfrage wurde nicht verstanden.".into(),
            Self::InvalidCodeFormat => "Der Zugangscode hat genau 8 Ziffern.".into(),
            Self::WrongCode { attempts_left } => format!(
                "Dieser Zugangscode ist nicht gültig oder jetzt nicht fällig. Noch {attempts_left} Versuche bis zur Sperre."
            ),
            Self::LockedOut { remaining_s } => {
                format!("Zu viele falsche Codes. Bitte warten Sie {remaining_s} Sekunden.")
            }
            Self::Busy => "Der Kiosk ist gerade belegt.".into(),
            Self::NotNow => "Das ist in diesem Schritt nicht möglich.".into(),
            Self::NoCall => "Es läuft kein Gespräch.".into(),
            Self::NameMissing => {
                "Bitte geben Sie den Namen der Patientin / des Patienten ein.".into()
            }
            Self::NameInvalid => {
                "Der Name muss 1 bis 100 Zeichen lang sein, ohne Steuer- und Richtungszeichen.".into()
            }
            Self::NotProvisioned => {
                "Dieses Gerät ist noch nicht eingerichtet (keine Bereitstellungsdatei).".into()
            }
            Self::Offline => "Die Praxis ist gerade nicht erreichbar, ein Gespräch kann jetzt nicht beginnen. Bitte versuchen Sie es in einigen Minuten erneut.".into(),
            Self::ClockUnknown => "Die Uhrzeit dieses Geräts ist nicht gesichert, daher kann kein Termin geöffnet werden. Bitte verständigen Sie das Praxispersonal.".into(),
        }
    }

    pub fn english(self) -> String {
        match self {
            Self::BadRequest => "The request was not understood.".into(),
            Self::InvalidCodeFormat => "The access code has exactly 8 digits.".into(),
            Self::WrongCode { attempts_left } => format!(
                "This access code is not valid or not due now. {attempts_left} attempts left before a lockout."
            ),
            Self::LockedOut { remaining_s } => {
                format!("Too many wrong codes. Please wait {remaining_s} seconds.")
            }
            Self::Busy => "The kiosk is busy.".into(),
            Self::NotNow => "That is not possible at this step.".into(),
            Self::NoCall => "There is no call.".into(),
            Self::NameMissing => "Please enter the patient's name.".into(),
            Self::NameInvalid => {
                "The name must be 1 to 100 characters long, without control or direction characters."
                    .into()
            }
            Self::NotProvisioned => "This device is not set up yet (no provisioning file).".into(),
            Self::Offline => "The practice cannot be reached right now, so a consultation cannot start. Please try again in a few minutes.".into(),
            Self::ClockUnknown => "This device's clock is not confirmed, so no appointment can be opened. Please tell the practice staff.".into(),
        }
    }
}

/// Statistics of one call as seen by one side. Shared by kioskd's `stats` reply and the output of
/// `kioskctl doctor`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CallStats {
    /// Seconds since the call task started (for the kiosk: since consent).
    pub elapsed_s: f64,
    /// Milliseconds from the start of the call task to the first decoded remote video frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_frame_ms: Option<u64>,
    pub video_frames_received: u64,
    pub audio_buffers_received: u64,
    pub video_frames_sent: u64,
    pub audio_buffers_sent: u64,
    pub bitrate_in_kbps: f64,
    pub bitrate_out_kbps: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// Packets received on the way in (with `packets_lost`: the share lost). Absent from
    /// kiosks before it was added, which read as 0.
    #[serde(default)]
    pub packets_received: u64,
    pub packets_lost: i64,
    pub ice_state: String,
    /// What the video encoder aims at now (kbit/s): the bandwidth estimate's share for video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_target_kbps: Option<u64>,
    /// The video codec this side sends and receives: `VP8` or `H264`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_codec: Option<String>,
    /// The path in use, as the kinds of its local and remote candidate: `host/srflx`, …;
    /// `relay` on either side means a TURN server carries the media.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The remote voice's level over the last second, in dB of full scale (mean power).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_level_in_dbfs: Option<f64>,
    /// The size of the remote picture now, `WIDTHxHEIGHT`: smaller while the other side's
    /// link is narrow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_size_received: Option<String>,
    /// Media is interrupted now; the connection is being recovered.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// How long the last interruption lasted, in milliseconds, once media came again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_outage_ms: Option<u64>,
    /// Latency measured with the time-coded test sources (development configs and benchmarks
    /// only; see `media/stamp.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<MeasuredLatency>,
    /// The connection's DTLS certificates, once it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtls: Option<Box<DtlsStats>>,
    /// The four digits both people compare (protocol.md section 5, "The security code"), once
    /// the other side showed its DTLS certificate. Never logged, never in an MQTT payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_code: Option<String>,
}

/// The DTLS certificates of the call's connection, as SHA-256 fingerprints (`AB:CD:…`, as in
/// `a=fingerprint`). Each connection makes a new certificate of its own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DtlsStats {
    pub local_fingerprint: String,
    /// The certificate the other side showed in the handshake (once it did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_fingerprint: Option<String>,
    /// Its key: `ECDSA P-256`, `RSA` or `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_key: Option<String>,
}

/// How late the other side's time-coded test picture and sound play here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MeasuredLatency {
    /// Capture there → shown here (glass to glass), in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_ms: Option<Spread>,
    /// Capture there → played here, in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_ms: Option<Spread>,
    /// Sound minus picture (medians), in ms: positive when the sound comes after the picture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub av_offset_ms: Option<f64>,
}

/// A measured quantity's median and 95th percentile over `samples` values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub median: f64,
    pub p95: f64,
    pub samples: u64,
}

/// A reply line. `ok: false` replies carry `error` (machine-readable), `message` (German, the
/// kiosk's default language) and `message_en`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ControlReply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<KioskState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<ProblemCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<CallStats>,
    /// The quality level the call screen shows now (`stats`, during a call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<super::QualityLevel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_en: Option<String>,
}

impl ControlReply {
    pub fn done() -> Self {
        Self {
            ok: true,
            ..Self::default()
        }
    }

    pub fn refused(refusal: Refusal) -> Self {
        Self {
            ok: false,
            error: Some(refusal.code().into()),
            message: Some(refusal.german()),
            message_en: Some(refusal.english()),
            ..Self::default()
        }
    }

    /// A refusal whose message adds what exactly was wrong, e.g. the JSON parser's position.
    pub fn bad_request(why: &str) -> Self {
        let mut reply = Self::refused(Refusal::BadRequest);
        reply.message_en = Some(format!("{} ({why})", Refusal::BadRequest.english()));
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_from_contract_lines() {
        let parse = |s: &str| serde_json::from_str::<ControlRequest>(s).unwrap();
        assert_eq!(parse(r#"{"cmd":"status"}"#), ControlRequest::Status);
        assert_eq!(
            parse(r#"{"cmd":"enter_code","code":"12345678"}"#),
            ControlRequest::EnterCode {
                code: "12345678".into()
            }
        );
        assert_eq!(
            parse(r#"{"cmd":"accept"}"#),
            ControlRequest::Accept { name: None }
        );
        assert_eq!(parse(r#"{"cmd":"hang_up"}"#), ControlRequest::HangUp);
        assert_eq!(
            parse(r#"{"cmd":"screenshot","file":"idle.png"}"#),
            ControlRequest::Screenshot {
                file: "idle.png".into(),
                composed: false
            }
        );
    }

    #[test]
    fn a_screenshot_is_a_file_name_never_a_path() {
        for good in ["idle.png", "shot-4711.png", "a_b.c"] {
            assert!(is_screenshot_name(good), "{good}");
        }
        for bad in [
            "",
            "/tmp/x.png",
            "../x.png",
            "..",
            ".",
            ".x.png.tmp",
            "a/b.png",
            "x\0.png",
            "bild ü.png",
            &"x".repeat(65),
        ] {
            assert!(!is_screenshot_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn refusals_say_what_in_two_languages() {
        let reply = ControlReply::refused(Refusal::LockedOut { remaining_s: 42 });
        let json = serde_json::to_value(&reply).unwrap();
        assert_eq!(json["ok"], false);
        assert_eq!(json["error"], "locked_out");
        assert!(json["message"].as_str().unwrap().contains("42 Sekunden"));
        assert!(json["message_en"].as_str().unwrap().contains("42 seconds"));
    }
}
