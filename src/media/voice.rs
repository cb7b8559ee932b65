//! The kiosk's voice path: echo cancellation, noise suppression, gain control and a high-pass
//! filter between the microphone and the encoder (`webrtcdsp`, the WebRTC audio processing
//! that browsers run), and the echo probe in front of the speaker that tells it what the room
//! hears. The loudspeaker and the microphone sit in one box in a small room: without echo
//! cancellation the doctor hears their own voice come back.
//!
//! Also the test-only room ([`ROOM_DELAY`]): the speaker's output fed back into the microphone,
//! later and quieter, mixed with a talker in the room. Only a development config can choose it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Who cancels the echo of the speaker in the microphone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EchoCancellation {
    /// WebRTC's canceller in `webrtcdsp`, fed by the echo probe before the speaker.
    #[default]
    Webrtc,
    /// The audio device does it (a USB speakerphone with its own canceller): ours stays off,
    /// two cancellers in a row would fight.
    Device,
    /// Nobody (a headset, or a test).
    Off,
}

/// How the microphone's sound is cleaned before it is sent. Browsers do all four by default;
/// so does the kiosk (config `[media]`: `echo_cancellation`, `noise_suppression`,
/// `gain_control`, `high_pass_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoiceProcessing {
    pub echo: EchoCancellation,
    pub noise_suppression: bool,
    pub gain_control: bool,
    pub high_pass_filter: bool,
}

impl Default for VoiceProcessing {
    fn default() -> Self {
        Self {
            echo: EchoCancellation::Webrtc,
            noise_suppression: true,
            gain_control: true,
            high_pass_filter: true,
        }
    }
}

impl VoiceProcessing {
    /// None of it: test calls send their test sound as it is.
    pub fn off() -> Self {
        Self {
            echo: EchoCancellation::Off,
            noise_suppression: false,
            gain_control: false,
            high_pass_filter: false,
        }
    }

    /// Whether the echo probe goes in front of the speaker.
    pub fn needs_probe(&self) -> bool {
        self.echo == EchoCancellation::Webrtc
    }

    fn any(&self) -> bool {
        self.needs_probe() || self.noise_suppression || self.gain_control || self.high_pass_filter
    }

    /// The processing element between the microphone (48 kHz mono) and the encoder, or nothing
    /// when all of it is off. `probe` names the echo probe of this call.
    pub fn dsp_description(&self, probe: &str) -> Option<String> {
        if !self.any() {
            return None;
        }
        // The canceller is told the delay from the probe's and the microphone's timestamps
        // (both in this call's pipeline, one clock). Its "delay agnostic" mode, which guesses
        // the delay from the signals instead, cancelled 2 dB where this mode cancelled over 20
        // in the room test. The suppression level stays at GStreamer's default ("moderate"):
        // "high" takes more echo and more of the patient's voice while both talk.
        let echo = if self.needs_probe() {
            format!("echo-cancel=true probe={probe} delay-agnostic=false")
        } else {
            "echo-cancel=false".to_string()
        };
        Some(format!(
            "webrtcdsp name=voice {echo} noise-suppression={} gain-control={} high-pass-filter={}",
            self.noise_suppression, self.gain_control, self.high_pass_filter
        ))
    }
}

/// A name for a call's echo probe that no other probe in this process has: `webrtcdsp` finds
/// its probe by name, process-wide.
pub fn unique_probe_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("echo-probe-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The test room: how much later the microphone hears the speaker (sound travels 40 ms over
/// 14 m: a small room with its reflections) ...
pub const ROOM_DELAY: Duration = Duration::from_millis(40);
/// ... and how much quieter (-10 dB: a speaker beside the microphone).
pub const ROOM_ATTENUATION: f64 = 0.316;
/// How long the room's microphone waits for the speaker's sound (test room only).
const ROOM_SLACK: Duration = Duration::from_millis(250);
/// The name of the room's echo source in the microphone's bin.
pub const ROOM_ECHO: &str = "room_echo";
/// The caps the room works in: the voice path's.
pub const VOICE_CAPS: &str = "audio/x-raw,format=S16LE,layout=interleaved,rate=48000,channels=1";

/// The test room's microphone: the speaker's sound as the room gives it back (pushed into the
/// `room_echo` source by the speaker's tap, see `call/peer/receive.rs`), mixed with a talker in
/// the room: `near` (a WAV file) or silence.
pub fn room_microphone(near: Option<&str>) -> String {
    let talker = match near {
        Some(path) => format!(
            "filesrc location=\"{path}\" ! wavparse ! audioconvert ! audioresample ! {VOICE_CAPS}"
        ),
        None => format!("audiotestsrc is-live=true wave=silence ! {VOICE_CAPS}"),
    };
    // The echo is pushed when the speaker plays it, ROOM_DELAY before the mixer needs it. On a
    // busy machine that push comes late; the mixer waits up to this latency for it, so the
    // room never loses a piece of its echo (a real room does not either).
    let latency = ROOM_SLACK.as_nanos();
    format!(
        "appsrc name={ROOM_ECHO} is-live=true format=time min-latency={latency} caps={VOICE_CAPS} ! room. \
         {talker} ! room. \
         audiomixer name=room"
    )
}

/// The elements the voice path needs.
pub fn required_elements(voice: &VoiceProcessing) -> Vec<&'static str> {
    let dsp = voice.any().then_some("webrtcdsp");
    let probe = voice.needs_probe().then_some("webrtcechoprobe");
    dsp.into_iter().chain(probe).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_four_are_on_by_default_and_each_can_be_switched_off() {
        let dsp = VoiceProcessing::default().dsp_description("p").unwrap();
        for on in [
            "echo-cancel=true probe=p",
            "noise-suppression=true",
            "gain-control=true",
            "high-pass-filter=true",
        ] {
            assert!(dsp.contains(on), "{on} in {dsp}");
        }
        let device = VoiceProcessing {
            echo: EchoCancellation::Device,
            ..VoiceProcessing::default()
        };
        let dsp = device.dsp_description("p").unwrap();
        assert!(
            dsp.contains("echo-cancel=false") && !dsp.contains("probe="),
            "{dsp}"
        );
        assert!(!device.needs_probe());
        assert_eq!(VoiceProcessing::off().dsp_description("p"), None);
    }

    #[test]
    fn probe_names_are_unique() {
        assert_ne!(unique_probe_name(), unique_probe_name());
    }
}
