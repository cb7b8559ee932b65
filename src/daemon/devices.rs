//! What the kiosk knows of its camera and microphone, learnt from its calls. Pure bookkeeping:
//! the call slot feeds it, the state report reads it.

use crate::flow::Failure;
use crate::wire::{CallStats, DeviceHealth, Health};

/// What the kiosk knows of its camera and microphone.
///
/// It learns only from calls: kioskd does not probe the devices on its own, because the camera
/// and microphone belong to the call (or to the staff check) while those run. So:
/// - `unknown` until a call told something;
/// - `failed` once a call reported an error of that device's bin (`Failure::Camera` /
///   `Failure::Microphone`);
/// - `ok` once a call that ended had sent frames (camera) or buffers (microphone) into its
///   encoders, unless that same call reported the device failed.
///
/// It never says `missing`: a GStreamer error from the camera bin does not tell an unplugged
/// camera from a broken one, and guessing would send a technician looking for the wrong thing.
/// A failed device stays `failed` until a later call shows it working (or kioskd restarts).
#[derive(Debug, Default)]
pub(super) struct DeviceWatch {
    camera: Seen,
    microphone: Seen,
}

/// One device's health, and the call (join id) that told us.
#[derive(Debug, Clone, Copy)]
struct Seen {
    health: DeviceHealth,
    call: u64,
}

impl Default for Seen {
    fn default() -> Self {
        Self {
            health: DeviceHealth::Unknown,
            call: 0,
        }
    }
}

impl Seen {
    /// What call `call` says, unless a later call already spoke, or this one said `failed`.
    fn learn(&mut self, call: u64, health: DeviceHealth) {
        let same_call_failed = call == self.call && self.health == DeviceHealth::Failed;
        if call < self.call || (same_call_failed && health == DeviceHealth::Ok) {
            return;
        }
        *self = Self { health, call };
    }
}

impl DeviceWatch {
    pub(super) fn health(&self) -> Health {
        Health {
            camera: self.camera.health,
            microphone: self.microphone.health,
        }
    }

    /// Call `call` failed; only device failures say anything about the devices.
    pub(super) fn failed(&mut self, call: u64, failure: Failure) {
        match failure {
            Failure::Camera => self.camera.learn(call, DeviceHealth::Failed),
            Failure::Microphone => self.microphone.learn(call, DeviceHealth::Failed),
            Failure::Connection | Failure::SecurityCheck => {}
        }
    }

    /// Call `call` ended with these totals. Nothing sent is no evidence either way (the camera
    /// may have been switched off, the call may have ended before media started).
    pub(super) fn ended(&mut self, call: u64, stats: &CallStats) {
        if stats.video_frames_sent > 0 {
            self.camera.learn(call, DeviceHealth::Ok);
        }
        if stats.audio_buffers_sent > 0 {
            self.microphone.learn(call, DeviceHealth::Ok);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(video: u64, audio: u64) -> CallStats {
        CallStats {
            video_frames_sent: video,
            audio_buffers_sent: audio,
            ..CallStats::default()
        }
    }

    #[test]
    fn devices_are_unknown_until_a_call_tells_and_a_failure_wins_within_its_call() {
        let mut watch = DeviceWatch::default();
        assert_eq!(watch.health(), Health::UNKNOWN);

        watch.failed(1, Failure::Connection);
        watch.ended(1, &sent(0, 0));
        assert_eq!(watch.health(), Health::UNKNOWN, "no evidence either way");

        watch.failed(2, Failure::Camera);
        watch.ended(2, &sent(300, 500));
        assert_eq!(
            watch.health(),
            Health {
                camera: DeviceHealth::Failed,
                microphone: DeviceHealth::Ok
            },
            "frames before the camera failed do not make it ok"
        );

        watch.ended(3, &sent(10, 0));
        assert_eq!(
            watch.health().camera,
            DeviceHealth::Ok,
            "a later call shows it fixed"
        );
        watch.failed(4, Failure::Microphone);
        watch.ended(3, &sent(10, 10));
        assert_eq!(
            watch.health().microphone,
            DeviceHealth::Failed,
            "the stats of an earlier call arriving late change nothing"
        );
    }
}
