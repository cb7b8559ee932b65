//! Typed exit codes, so systemd can tell "do not restart into the same error" from "crashed".
//! The values follow sysexits.h; kioskd's systemd unit lists `Unavailable` and `Config` in
//! `RestartPreventExitStatus=`, so a kiosk does not restart into the same error forever.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    Ok = 0,
    /// A bug or an unexpected failure: restart.
    Software = 70,
    /// A required GStreamer element or device is missing: restarting will not help.
    Unavailable = 69,
    /// The state directory or socket cannot be used.
    Io = 74,
    /// The config file is missing or wrong: restarting will not help.
    Config = 78,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}
