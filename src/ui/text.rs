//! Every text the screens show, in German (the default) and English. Texts with numbers or names
//! in them are built by the small functions below, so both languages say the same thing.

use serde::Deserialize;

use super::view::SecurityCode;
use crate::wire::Refusal;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    #[default]
    De,
    En,
}

impl Locale {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "de" => Some(Self::De),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    pub fn other(self) -> Self {
        match self {
            Self::De => Self::En,
            Self::En => Self::De,
        }
    }
}

/// A fixed text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Msg {
    EnterCode,
    LanguageToggle,
    CodeTitle,
    CodeHint,
    Delete,
    Space,
    Cancel,
    Ok,
    NameTitle,
    NameHint,
    ConsentTitle,
    ConsentNoRecording,
    ConsentIntroduce,
    ConsentEncrypted,
    Agree,
    Decline,
    WaitingTitle,
    WaitingBody,
    Mute,
    Unmute,
    CameraOff,
    CameraOn,
    HangUp,
    HangUpQuestion,
    HangUpYes,
    KeepTalking,
    QualityGood,
    QualityFair,
    QualityPoor,
    CallInterrupted,
    CallVideoPaused,
    CallRelayed,
    EndedTitle,
    EndedBody,
    BackToStart,
    ProblemDoctorTimeout,
    ProblemP2p,
    ProblemConnectionLost,
    ProblemRevoked,
    ProblemCamera,
    ProblemMicrophone,
    ProblemOffline,
    ProblemSecurityCheck,
    BrokerOffline,
    StaffPinTitle,
    StaffCheckTitle,
    StaffPinNotSetUp,
    SpeakerTest,
    Camera,
    Microphone,
    Network,
    Software,
    EchoCancellation,
    EchoActive,
    EchoInDevice,
    EchoOff,
    Works,
    Missing,
    Connected,
    Offline,
    NotProvisionedTitle,
    NotProvisionedBody,
    NotProvisionedTechnician,
    ProvisionBundleRefused,
    IdentifyBody,
    IdentifyOk,
    TestCallTitle,
    TestCallBody,
    TestCallEnd,
}

/// Which consent text a patient agreed to, for the consent receipt: the first 12 hex digits of
/// SHA-256 over the consent screen's texts in both languages. Any change to them changes it.
pub fn consent_text_version() -> String {
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    let screen = [
        Msg::ConsentTitle,
        Msg::ConsentNoRecording,
        Msg::ConsentIntroduce,
        Msg::ConsentEncrypted,
        Msg::Agree,
    ];
    for locale in [Locale::De, Locale::En] {
        for msg in screen {
            digest.update(text(locale, msg).as_bytes());
            digest.update(b"\n");
        }
    }
    crate::wire::to_hex(&digest.finish().as_ref()[..6])
}

pub fn text(locale: Locale, msg: Msg) -> &'static str {
    use Msg::*;
    let (de, en) = match msg {
        EnterCode => ("Zugangscode eingeben", "Enter access code"),
        LanguageToggle => ("English", "Deutsch"),
        CodeTitle => ("Zugangscode", "Access code"),
        CodeHint => (
            "Bitte die 8 Ziffern aus der Terminnachricht eingeben.",
            "Please enter the 8 digits from the appointment message.",
        ),
        Delete => ("Löschen", "Delete"),
        Space => ("Leerzeichen", "Space"),
        Cancel => ("Abbrechen", "Cancel"),
        Ok => ("Weiter", "Continue"),
        NameTitle => ("Name der Patientin / des Patienten", "Patient's name"),
        NameHint => (
            "Diesen Namen sieht die Ärztin / der Arzt.",
            "The doctor will see this name.",
        ),
        ConsentTitle => ("Bevor es losgeht", "Before we start"),
        ConsentNoRecording => (
            "Niemand darf das Gespräch aufzeichnen, auch Sie nicht.",
            "Nobody may record the consultation, not even you.",
        ),
        ConsentIntroduce => (
            "Alle Personen im Raum stellen sich zu Beginn vor.",
            "Everyone in the room introduces themselves at the start.",
        ),
        ConsentEncrypted => (
            "Das Gespräch ist Ende-zu-Ende verschlüsselt und läuft direkt zur Praxis.",
            "The call is end-to-end encrypted and goes directly to the practice.",
        ),
        Agree => ("Einverstanden", "I agree"),
        Decline => ("Abbrechen", "Cancel"),
        WaitingTitle => ("Wartezimmer", "Waiting room"),
        WaitingBody => (
            "Ihre Ärztin / Ihr Arzt wird gleich bei Ihnen sein.",
            "Your doctor will be with you shortly.",
        ),
        Mute => ("Mikrofon aus", "Mute"),
        Unmute => ("Mikrofon an", "Unmute"),
        CameraOff => ("Kamera aus", "Camera off"),
        CameraOn => ("Kamera an", "Camera on"),
        HangUp => ("Auflegen", "Hang up"),
        HangUpQuestion => ("Gespräch wirklich beenden?", "End the consultation?"),
        HangUpYes => ("Ja, beenden", "Yes, end it"),
        KeepTalking => ("Weiter sprechen", "Keep talking"),
        QualityGood => ("Verbindung gut", "Connection good"),
        QualityFair => ("Verbindung mäßig", "Connection fair"),
        QualityPoor => ("Verbindung schlecht", "Connection poor"),
        CallInterrupted => (
            // The screen's fonts are Latin-1: no dash, no ellipsis.
            "Verbindung unterbrochen - wird wiederhergestellt ...",
            "Connection interrupted - reconnecting ...",
        ),
        CallVideoPaused => (
            "Schwache Verbindung: Ihr Bild pausiert, der Ton läuft weiter",
            "Weak connection: your picture pauses, the sound goes on",
        ),
        CallRelayed => (
            "Über einen Relay-Server verbunden - nicht direkt",
            "Connected through a relay server - not direct",
        ),
        EndedTitle => ("Gespräch beendet", "Consultation ended"),
        EndedBody => (
            "Vielen Dank. Alle Eingaben wurden gelöscht.",
            "Thank you. Everything typed has been deleted.",
        ),
        BackToStart => ("Zum Start", "Back to start"),
        ProblemDoctorTimeout => (
            "Die Ärztin / der Arzt ist nicht gekommen. Bitte melden Sie sich bei der Praxis.",
            "The doctor did not join. Please contact the practice.",
        ),
        ProblemP2p => (
            "Es konnte keine direkte Verbindung aufgebaut werden. Bitte melden Sie sich bei der Praxis. Für die IT: UDP ins Internet (STUN) freigeben oder für die Flotte einen TURN-Server erlauben.",
            "No direct connection could be made. Please contact the practice. For IT: allow UDP to the internet (STUN) or allow a TURN server for the fleet.",
        ),
        ProblemConnectionLost => (
            "Die Verbindung ist abgebrochen. Bitte versuchen Sie es erneut.",
            "The connection was lost. Please try again.",
        ),
        ProblemRevoked => (
            "Dieser Termin wurde von der Praxis abgesagt.",
            "The practice has cancelled this appointment.",
        ),
        ProblemCamera => (
            "Die Kamera funktioniert nicht. Bitte wenden Sie sich an das Personal.",
            "The camera is not working. Please ask the staff.",
        ),
        ProblemMicrophone => (
            "Das Mikrofon funktioniert nicht. Bitte wenden Sie sich an das Personal.",
            "The microphone is not working. Please ask the staff.",
        ),
        ProblemOffline => (
            "Die Praxis ist gerade nicht erreichbar, das Gespräch kann jetzt nicht beginnen. Bitte versuchen Sie es in einigen Minuten erneut oder wenden Sie sich an das Personal.",
            "The practice cannot be reached right now, so the consultation cannot start. Please try again in a few minutes or ask the staff.",
        ),
        // True for every connection the check ends: it closes inside the DTLS handshake,
        // before any SRTP key exists (call/peer/dtls.rs). "Over it": a renewed connection may
        // fail its check after earlier ones carried the call.
        ProblemSecurityCheck => (
            "Sicherheitsprüfung fehlgeschlagen – die Verbindung wurde beendet, bevor über sie Bild oder Ton übertragen wurden. Bitte melden Sie sich bei der Praxis.",
            "Security check failed – the connection was closed before any picture or sound was sent over it. Please contact the practice.",
        ),
        BrokerOffline => (
            "Keine Verbindung zur Praxis. Gespräche sind erst wieder möglich, wenn sie besteht.",
            "No connection to the practice. Consultations can start once it is back.",
        ),
        StaffPinTitle => ("Personal-PIN", "Staff PIN"),
        StaffCheckTitle => ("Gerätecheck", "Device check"),
        StaffPinNotSetUp => (
            "Für diesen Kiosk ist kein Personal-PIN eingerichtet.",
            "No staff PIN is set up for this kiosk.",
        ),
        SpeakerTest => ("Lautsprecher testen", "Test speaker"),
        Camera => ("Kamera", "Camera"),
        Microphone => ("Mikrofon", "Microphone"),
        Network => ("Netzwerk", "Network"),
        Software => ("Software", "Software"),
        EchoCancellation => ("Echounterdrückung", "Echo cancellation"),
        EchoActive => ("aktiv", "active"),
        EchoInDevice => ("im Audiogerät", "in the audio device"),
        EchoOff => ("aus", "off"),
        Works => ("funktioniert", "works"),
        Missing => ("fehlt", "missing"),
        Connected => ("verbunden", "connected"),
        Offline => ("nicht verbunden", "offline"),
        NotProvisionedTitle => (
            "Dieses Gerät ist noch nicht eingerichtet",
            "This device is not set up yet",
        ),
        NotProvisionedBody => (
            "Bitte wenden Sie sich an das Praxisteam.",
            "Please ask the practice staff.",
        ),
        NotProvisionedTechnician => (
            "Technik: Bereitstellungsdatei (praxiskiosk-provision.json) auf die Boot-Partition legen.",
            "Technicians: put the provisioning file (praxiskiosk-provision.json) on the boot partition.",
        ),
        ProvisionBundleRefused => ("Bereitstellungsdatei ungültig", "Provisioning file refused"),
        IdentifyBody => (
            "Dieses Gerät wurde von der Geräteverwaltung aufgerufen.",
            "The fleet manager is identifying this device.",
        ),
        IdentifyOk => ("OK", "OK"),
        TestCallTitle => ("Testanruf der Praxis-IT", "Test call by the practice's IT"),
        TestCallBody => (
            "Kamera, Mikrofon und Verbindung werden geprüft. Kein Gespräch, keine Aufnahme.",
            "Camera, microphone and connection are being checked. No consultation, no recording.",
        ),
        TestCallEnd => ("Test beenden", "End the test"),
    };
    match locale {
        Locale::De => de,
        Locale::En => en,
    }
}

/// Why a request or a typed code was refused, in the words of protocol.md section 8: the
/// screen says what the control socket answers, from the same [`Refusal`] texts.
pub fn refusal(locale: Locale, refusal: Refusal) -> String {
    match locale {
        Locale::De => refusal.german(),
        Locale::En => refusal.english(),
    }
}

/// A wrong staff PIN (the staff check's keypad; codes are a [`refusal`]).
pub fn wrong_pin(locale: Locale, attempts_left: u32) -> String {
    match locale {
        Locale::De => format!("PIN nicht gültig. Noch {attempts_left} Versuche bis zur Sperre."),
        Locale::En => format!("PIN not valid. {attempts_left} attempts left before a lockout."),
    }
}

/// Too many wrong staff PINs.
pub fn pin_locked_out(locale: Locale, remaining_s: u64) -> String {
    match locale {
        Locale::De => format!("Zu viele falsche PINs. Bitte warten Sie {remaining_s} Sekunden."),
        Locale::En => format!("Too many wrong PINs. Please wait {remaining_s} seconds."),
    }
}

pub fn with_doctor(locale: Locale, doctor: &str) -> String {
    match locale {
        Locale::De => format!("Termin bei {doctor}"),
        Locale::En => format!("Appointment with {doctor}"),
    }
}

pub fn device_id(locale: Locale, device: &str) -> String {
    match locale {
        Locale::De => format!("Geräte-ID: {device}"),
        Locale::En => format!("Device ID: {device}"),
    }
}

/// How long the test call runs on at most.
pub fn test_call_left(locale: Locale, seconds: u64) -> String {
    match locale {
        Locale::De => format!("Endet von selbst in {seconds} s."),
        Locale::En => format!("Ends by itself in {seconds} s."),
    }
}

/// `m:ss`, or `h:mm:ss` from an hour on.
/// The call screen's security code line: a calm label, the digits to read out.
pub fn security_code(locale: Locale, code: SecurityCode) -> String {
    match locale {
        Locale::De => format!("Sicherheitscode {code}"),
        Locale::En => format!("Security code {code}"),
    }
}

pub fn duration(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}
