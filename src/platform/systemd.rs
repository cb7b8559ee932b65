//! systemd's notify protocol (`sd_notify`): `READY=1` once kioskd serves, `WATCHDOG=1` while
//! every part of it answers, `STATUS=` lines a person can read in `systemctl status`, and
//! `STOPPING=1` at shutdown. Outside systemd (no `NOTIFY_SOCKET`) every call does nothing.
//!
//! This module only speaks the protocol; deciding when kioskd is ready or healthy is the
//! daemon's job.

use std::time::Duration;

use sd_notify::NotifyState;

#[derive(Debug, Clone, Default)]
pub struct Notifier {
    enabled: bool,
    watchdog: Option<Duration>,
}

/// `WATCHDOG_USEC`, if it is meant for this process (`WATCHDOG_PID`, when set, names it).
fn watchdog_from(usec: Option<&str>, pid: Option<&str>, own_pid: u32) -> Option<Duration> {
    let usec: u64 = usec?.parse().ok().filter(|&u| u > 0)?;
    match pid {
        Some(pid) if pid.parse::<u32>().ok() != Some(own_pid) => None,
        _ => Some(Duration::from_micros(usec)),
    }
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` as systemd sets them.
    pub fn from_env() -> Self {
        let var = |name| std::env::var(name).ok();
        Self {
            enabled: var("NOTIFY_SOCKET").is_some(),
            watchdog: watchdog_from(
                var("WATCHDOG_USEC").as_deref(),
                var("WATCHDOG_PID").as_deref(),
                std::process::id(),
            ),
        }
    }

    /// How often to ping: half the watchdog timeout, as systemd recommends.
    pub fn ping_every(&self) -> Option<Duration> {
        self.watchdog.map(|timeout| timeout / 2)
    }

    fn send(&self, states: &[NotifyState]) {
        if self.enabled
            && let Err(e) = sd_notify::notify(false, states)
        {
            tracing::warn!(error = %e, "systemd notification failed");
        }
    }

    pub fn ready(&self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    pub fn status(&self, status: &str) {
        self.send(&[NotifyState::Status(status)]);
    }

    pub fn ping(&self) {
        self.send(&[NotifyState::Watchdog]);
    }

    pub fn stopping(&self) {
        self.send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    }
}

/// What a factory reset leaves in kioskd's runtime directory so that the kiosk's journal is
/// emptied: `praxiskiosk-journal-vacuum.path` (config/systemd) sees it and starts a privileged
/// oneshot that rotates and vacuums the `praxiskiosk` journal namespace kioskd logs into
/// (`LogNamespace=`), then removes the file. kioskd itself may not touch the journal.
pub const JOURNAL_VACUUM_REQUEST: &str = "vacuum-journal";

/// Asks for the kiosk's journal to be emptied; `false` outside systemd (no
/// `RUNTIME_DIRECTORY`, which systemd sets for `RuntimeDirectory=`), where there is nobody to ask.
pub fn request_journal_vacuum() -> std::io::Result<bool> {
    let Some(dirs) = std::env::var_os("RUNTIME_DIRECTORY") else {
        return Ok(false);
    };
    // Several directories are separated by colons; ours is the first.
    let dirs = dirs.to_string_lossy().into_owned();
    let Some(dir) = dirs.split(':').next().filter(|d| !d.is_empty()) else {
        return Ok(false);
    };
    std::fs::write(std::path::Path::new(dir).join(JOURNAL_VACUUM_REQUEST), b"")?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watchdog_is_ours_unless_another_pid_is_named() {
        let two_s = Some(Duration::from_secs(2));
        assert_eq!(watchdog_from(Some("2000000"), None, 7), two_s);
        assert_eq!(watchdog_from(Some("2000000"), Some("7"), 7), two_s);
        assert_eq!(watchdog_from(Some("2000000"), Some("8"), 7), None);
        assert_eq!(watchdog_from(Some("0"), None, 7), None);
        assert_eq!(watchdog_from(Some("soon"), None, 7), None);
        assert_eq!(watchdog_from(None, Some("7"), 7), None);
    }
}
