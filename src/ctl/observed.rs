//! What the headless doctor peer saw of a call, and how the call ended for it: the test call's
//! verdict is made of these, including of a call that failed part way.

use crate::wire::CallStats;

/// How the doctor's loop ended, when not by a hang-up (its own or the kiosk's).
pub(super) enum Ending {
    /// The kiosk never said hello within `--wait`.
    NotJoined,
    /// The caller said why it must stop (a test call the kiosk refused).
    Stopped(String),
    /// The kiosk gave up, a check failed, or another window holds the call.
    Failed(String),
}

/// The kiosk never joined the session within `--wait` (offline, or it dropped the request):
/// the test call tells this apart from a call that failed.
#[derive(Debug, thiserror::Error)]
#[error(
    "Anruf gescheitert: der Kiosk ist nicht beigetreten / \
     call failed: the kiosk did not join"
)]
pub(super) struct NotJoined;

/// The call failed ([`Ending::Failed`]): what this side saw until then goes with the reason.
#[derive(Debug, thiserror::Error)]
#[error("Anruf gescheitert / call failed: {why}")]
pub(super) struct CallFailed {
    pub why: String,
    pub observed: Observed,
}

/// What this side saw of a call: its summary and the best of its one-second readings.
#[derive(Debug, Default)]
pub(super) struct Observed {
    pub summary: CallStats,
    /// The loudest second of the other side's voice (dBFS).
    pub loudest_dbfs: Option<f64>,
    pub peak_in_kbps: f64,
    pub peak_out_kbps: f64,
    /// The latest round-trip time and candidate pair the stats named.
    pub rtt_ms: Option<f64>,
    pub path: Option<String>,
}

impl Observed {
    pub(super) fn add(&mut self, s: &CallStats) {
        if let Some(db) = s.audio_level_in_dbfs {
            self.loudest_dbfs = Some(self.loudest_dbfs.map_or(db, |l| l.max(db)));
        }
        self.peak_in_kbps = self.peak_in_kbps.max(s.bitrate_in_kbps);
        self.peak_out_kbps = self.peak_out_kbps.max(s.bitrate_out_kbps);
        self.rtt_ms = s.rtt_ms.or(self.rtt_ms);
        self.path = s.path.clone().or(self.path.take());
    }
}
