//! kioskd's configuration file (TOML). Every key is known: an unknown key, a wrong type or a bad
//! value is refused with a message that names the key and its line, and kioskd exits with the
//! "bad config" code so systemd does not restart it into the same error.

mod values;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::fleet::BrokerUrl;
use crate::flow::Timeouts;
use crate::media::{AudioSink, AudioSource, MediaSpec, VideoSink, VideoSource};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Normally the device id comes from the provisioning bundle; set here it must match it.
    /// Without an identity it is used only together with `plaintext_loopback`.
    #[serde(default, deserialize_with = "values::opt_id")]
    pub device_id: Option<String>,
    /// Overrides the broker of the provisioning bundle (e.g. a local bridge).
    #[serde(default, deserialize_with = "values::opt_broker")]
    pub broker: Option<BrokerUrl>,
    /// Development only: plain MQTT to a loopback broker, without a device identity.
    #[serde(default)]
    pub plaintext_loopback: bool,
    /// Where the provisioning bundle is looked for while the kiosk has no identity.
    #[serde(default = "values::default_bundle")]
    pub provisioning_bundle: PathBuf,
    /// The SHA-256 of the fleet CA's certificate, 64 hex digits (colons allowed): a bundle that
    /// brings another CA is refused. Set on the image (the Yocto layer's
    /// `PRAXISKIOSK_FLEET_CA_SHA256`), so a bundle can never bring its own trust anchor.
    #[serde(default, deserialize_with = "values::opt_sha256")]
    pub fleet_ca_sha256: Option<[u8; 32]>,
    #[serde(default = "values::default_root", deserialize_with = "values::root")]
    pub topic_root: String,
    /// Appointments and the fleet's device config live here (mode 0700).
    pub state_dir: PathBuf,
    /// The local control socket; off unless set.
    #[serde(default)]
    pub control_socket: Option<PathBuf>,
    /// Shown until the fleet sends the device config.
    #[serde(default = "values::default_display_name")]
    pub display_name: String,
    #[serde(default)]
    pub locale: Locale,
    #[serde(default)]
    pub ice: IceConfig,
    pub media: MediaConfig,
    #[serde(default)]
    pub timeouts: TimeoutConfig,
    #[serde(default)]
    pub screen: ScreenConfig,
    #[serde(default)]
    pub touch: TouchConfig,
    #[serde(default)]
    pub time: TimeConfig,
}

/// When the kiosk's wall clock counts as confirmed. A Raspberry Pi 4 has no real-time clock and
/// a Pi 5 keeps time only with a battery: after boot the clock says whatever it last saved (or
/// 1970) until it synchronizes, and appointment windows follow it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeConfig {
    /// A file that exists only while the clock is synchronized: systemd-timesyncd's (the image
    /// runs it) by default. Another NTP client can make one of its own.
    #[serde(default = "values::default_sync_marker")]
    pub synchronized_marker: PathBuf,
    /// Development machines without such a file: their clock is taken as it is. Never on a
    /// kiosk: a code would then open whatever window the unsynchronized clock falls into.
    #[serde(default)]
    pub trust_unsynchronized: bool,
}

impl Default for TimeConfig {
    fn default() -> Self {
        Self {
            synchronized_marker: values::default_sync_marker(),
            trust_unsynchronized: false,
        }
    }
}

impl TimeConfig {
    /// Whether the wall clock counts as confirmed now.
    pub fn clock_confirmed(&self) -> bool {
        self.trust_unsynchronized || self.synchronized_marker.exists()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TouchConfig {
    /// The touchscreen's evdev device, e.g. `/dev/input/by-path/platform-…-event`. Without it,
    /// touches come only from clicks on a desktop window (and the control socket's `tap`).
    #[serde(default)]
    pub device: Option<PathBuf>,
    /// How the panel is mounted relative to the touch controller: 0, 90, 180 or 270 (clockwise).
    #[serde(default, deserialize_with = "values::rotation")]
    pub rotation: crate::ui::touch::Rotation,
    /// Raw axis ranges where the controller reports them wrong: `[min, max]`.
    #[serde(default, deserialize_with = "values::range")]
    pub x_range: Option<(i32, i32)>,
    #[serde(default, deserialize_with = "values::range")]
    pub y_range: Option<(i32, i32)>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScreenConfig {
    /// The panel, `WIDTHxHEIGHT`: 800x480 (Raspberry Pi Touch Display), 720x1280 (Touch Display 2),
    /// 1024x600, 1280x800.
    #[serde(default = "values::default_panel", deserialize_with = "values::panel")]
    pub size: crate::ui::Panel,
    /// Development only: allows composed screenshots (video included) over the control socket.
    /// A production kiosk leaves this off, so nothing can copy the remote picture.
    #[serde(default)]
    pub development: bool,
}

impl Default for ScreenConfig {
    fn default() -> Self {
        Self {
            size: values::default_panel(),
            development: false,
        }
    }
}

/// The screens' language; the same type the UI uses.
pub use crate::ui::Locale;

/// The kiosk's jitter buffers' shortest latency unless configured. 20 ms (one voice packet)
/// would be enough for the network on a good path, but the echo canceller then cancelled only
/// 12–22 dB in the test room instead of 65–70 dB at 60 ms (measured with the adaptation off, so
/// the short latency itself, not its changes; why is not understood yet). Cancelled echo comes
/// first in a room with a loudspeaker.
pub const DEFAULT_JITTER_LATENCY_MS: u32 = 60;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceConfig {
    /// `stun:host:port` (and `turn:user:password@host:port`, used only with `allow_relay`).
    /// The fleet's device config replaces this list when it arrives.
    #[serde(default, deserialize_with = "values::ice_servers")]
    pub servers: Vec<String>,
    /// Relaying through TURN puts a server in the media path; the rules want P2P. Off by default.
    #[serde(default)]
    pub allow_relay: bool,
    /// Restrict ICE to these local addresses; empty means every interface. Tests use 127.0.0.1.
    #[serde(default, deserialize_with = "values::ip_addresses")]
    pub local_addresses: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaConfig {
    pub video_source: VideoSource,
    #[serde(default, deserialize_with = "values::device")]
    pub video_device: Option<String>,
    pub audio_source: AudioSource,
    #[serde(default, deserialize_with = "values::device")]
    pub audio_device: Option<String>,
    pub video_sink: VideoSink,
    pub audio_sink: AudioSink,
    #[serde(default = "values::default_width", deserialize_with = "values::width")]
    pub width: u32,
    #[serde(
        default = "values::default_height",
        deserialize_with = "values::height"
    )]
    pub height: u32,
    #[serde(
        default = "values::default_framerate",
        deserialize_with = "values::framerate"
    )]
    pub framerate: u32,
    #[serde(
        default = "values::default_bitrate",
        deserialize_with = "values::bitrate"
    )]
    pub video_bitrate_kbps: u32,
    /// `auto` (H.264 with a hardware encoder, else VP8), `vp8` or `h264`.
    #[serde(default)]
    pub video_codec: crate::media::CodecChoice,
    /// Who cancels the speaker's echo in the microphone: `webrtc` (default), `device` (a
    /// speakerphone that does it itself) or `off`.
    #[serde(default)]
    pub echo_cancellation: crate::media::EchoCancellation,
    /// Noise suppression, automatic gain control and a high-pass filter on the microphone, as
    /// browsers have them: on unless switched off.
    #[serde(default = "values::on")]
    pub noise_suppression: bool,
    #[serde(default = "values::on")]
    pub gain_control: bool,
    #[serde(default = "values::on")]
    pub high_pass_filter: bool,
    /// The jitter buffers' shortest wait for late packets, in ms: they start there and wait
    /// longer only when the path's jitter needs it (`call/jitter.rs`, up to 200 ms).
    /// webrtcbin's fixed 200 ms is too long for a conversation on a good path.
    #[serde(
        default = "values::default_latency",
        deserialize_with = "values::latency"
    )]
    pub jitter_latency_ms: u32,
    /// Benchmarks: the test sources carry their capture time and the kiosk measures how late
    /// the other side's play here (`media/stamp.rs`). Development configs with test sources only.
    #[serde(default)]
    pub measure_latency: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutConfig {
    #[serde(
        default = "values::default_input_s",
        deserialize_with = "values::seconds"
    )]
    pub input_s: u64,
    #[serde(
        default = "values::default_doctor_s",
        deserialize_with = "values::seconds"
    )]
    pub doctor_s: u64,
    #[serde(
        default = "values::default_connect_s",
        deserialize_with = "values::seconds"
    )]
    pub connect_s: u64,
    /// How long an interrupted call is kept (its connection being recovered) before it ends as
    /// lost. The doctor's side is told the same (the kiosk's hello).
    #[serde(
        default = "values::default_reconnect_s",
        deserialize_with = "values::seconds"
    )]
    pub reconnect_s: u64,
    #[serde(
        default = "values::default_ended_s",
        deserialize_with = "values::seconds"
    )]
    pub ended_s: u64,
    #[serde(
        default = "values::default_problem_s",
        deserialize_with = "values::seconds"
    )]
    pub problem_s: u64,
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        Self {
            input_s: values::default_input_s(),
            doctor_s: values::default_doctor_s(),
            connect_s: values::default_connect_s(),
            reconnect_s: values::default_reconnect_s(),
            ended_s: values::default_ended_s(),
            problem_s: values::default_problem_s(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses config text; the error names the key and the line.
    pub fn parse(text: &str) -> Result<Self, String> {
        let config: Self = toml::from_str(text).map_err(|e| {
            let place = e.span().map(|span| {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                format!("line {line}: ")
            });
            format!("{}{}", place.unwrap_or_default(), e.message())
        })?;
        if config.media.audio_source.is_for_tests() && !config.screen.development {
            return Err(
                "[media] audio_source: \"wavfile\" and \"room\" are test sources, not a microphone; \
                 only a development config ([screen] development = true) may choose them"
                    .into(),
            );
        }
        let m = &config.media;
        if m.measure_latency
            && !(config.screen.development
                && m.video_source == crate::media::VideoSource::Test
                && m.audio_source == crate::media::AudioSource::Test)
        {
            return Err(
                "[media] measure_latency: only a development config ([screen] development = true) \
                 with the test sources (videotestsrc, audiotestsrc) may measure latency"
                    .into(),
            );
        }
        Ok(config)
    }

    pub fn media(&self) -> MediaSpec {
        let m = &self.media;
        MediaSpec {
            video_source: m.video_source,
            video_device: m.video_device.clone(),
            audio_source: m.audio_source,
            audio_device: m.audio_device.clone(),
            video_out: crate::media::VideoOut::Sink(m.video_sink),
            audio_sink: m.audio_sink,
            width: m.width,
            height: m.height,
            framerate: m.framerate,
            video_bitrate_kbps: m.video_bitrate_kbps,
            // `video_codec` is a wish; the daemon resolves it once GStreamer runs.
            video_codec: crate::media::VideoCodec::Vp8,
            voice: crate::media::VoiceProcessing {
                echo: m.echo_cancellation,
                noise_suppression: m.noise_suppression,
                gain_control: m.gain_control,
                high_pass_filter: m.high_pass_filter,
            },
            measure: m.measure_latency.then(crate::media::stamp::Meter::default),
        }
    }

    pub fn timeouts(&self) -> Timeouts {
        let t = &self.timeouts;
        Timeouts {
            input: Duration::from_secs(t.input_s),
            doctor: Duration::from_secs(t.doctor_s),
            connect: Duration::from_secs(t.connect_s),
            ended: Duration::from_secs(t.ended_s),
            problem: Duration::from_secs(t.problem_s),
            // Fixed by the protocol (3.5): at most a minute of the room's camera and microphone.
            ..Timeouts::default()
        }
    }
}

#[cfg(test)]
mod tests;
