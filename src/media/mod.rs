//! Capture, encoders and playback, chosen in config and turned into GStreamer bin descriptions.
//!
//! Sources and sinks are closed lists, not free pipeline text: the config can pick a camera, a
//! microphone and where remote media is shown or heard, but it can never add an element that
//! writes to disk (`filesink`, `splitmuxsink`, …) — nobody may record the consultation.

pub mod check;
pub mod codec;
pub mod display;
pub mod stamp;
pub mod test_camera;
pub mod voice;

pub use codec::{CodecChoice, VideoCodec};
pub use voice::{EchoCancellation, VoiceProcessing};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VideoSource {
    #[serde(rename = "videotestsrc")]
    Test,
    #[serde(rename = "v4l2src")]
    V4l2,
    #[serde(rename = "libcamerasrc")]
    Libcamera,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AudioSource {
    #[serde(rename = "audiotestsrc")]
    Test,
    #[serde(rename = "alsasrc")]
    Alsa,
    #[serde(rename = "pulsesrc")]
    Pulse,
    /// A WAV file as the voice (`audio_device` names it), played once at its own pace: a test
    /// call's recorded voice. Development configs only.
    #[serde(rename = "wavfile")]
    Wav,
    /// Tests only: a room whose microphone hears the kiosk's own speaker, later and quieter,
    /// and a talker (`audio_device`: a WAV file; none: silence). Development configs only.
    #[serde(rename = "room")]
    Room,
}

impl AudioSource {
    /// Sources that only a development config may choose: they are not a microphone.
    pub fn is_for_tests(self) -> bool {
        matches!(self, Self::Wav | Self::Room)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VideoSink {
    #[serde(rename = "autovideosink")]
    Auto,
    #[serde(rename = "kmssink")]
    Kms,
    #[serde(rename = "waylandsink")]
    Wayland,
    #[serde(rename = "ximagesink")]
    Ximage,
    #[serde(rename = "fakesink")]
    Fake,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AudioSink {
    #[serde(rename = "autoaudiosink")]
    Auto,
    #[serde(rename = "alsasink")]
    Alsa,
    #[serde(rename = "pulsesink")]
    Pulse,
    #[serde(rename = "fakesink")]
    Fake,
}

/// What a call sends and where it plays what it receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSpec {
    pub video_source: VideoSource,
    /// `/dev/videoN` for `v4l2src`; the camera name for `libcamerasrc`.
    pub video_device: Option<String>,
    pub audio_source: AudioSource,
    /// An ALSA device such as `hw:1,0` for `alsasrc`.
    pub audio_device: Option<String>,
    pub video_out: VideoOut,
    pub audio_sink: AudioSink,
    pub width: u32,
    pub height: u32,
    pub framerate: u32,
    pub video_bitrate_kbps: u32,
    /// What the call sends (and so receives): see [`codec`].
    pub video_codec: VideoCodec,
    /// Echo cancellation and the rest, between the microphone and the encoder.
    pub voice: VoiceProcessing,
    /// Benchmarks only: the test sources carry their capture time, and what the other side's
    /// carry is measured here (see [`stamp`]).
    pub measure: Option<stamp::Meter>,
}

impl MediaSpec {
    /// Test sources and headless sinks: what tests and the fleet manager's test calls use.
    pub fn test_sources() -> Self {
        Self {
            video_source: VideoSource::Test,
            video_device: None,
            audio_source: AudioSource::Test,
            audio_device: None,
            video_out: VideoOut::Sink(VideoSink::Fake),
            audio_sink: AudioSink::Fake,
            width: 640,
            height: 360,
            framerate: 30,
            video_bitrate_kbps: 800,
            video_codec: VideoCodec::Vp8,
            voice: VoiceProcessing::off(),
            measure: None,
        }
    }
}

/// Where a call's pictures go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoOut {
    /// Straight into a sink (the doctor's side, `kioskctl doctor`).
    Sink(VideoSink),
    /// Into the kiosk's screen composition: the remote picture and the self-view, each on an
    /// in-process channel to the composition (see [`display`]): the remote picture handed over
    /// from an `appsink` ([`display::feed`]), the self-view on an `intervideosink`'s.
    Display(VideoChannels),
}

/// The names of the in-process video channels between a call and the screen composition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoChannels {
    pub remote: String,
    pub self_view: String,
    /// How long the composition takes from taking a remote frame to showing it, in ns: the
    /// call hands each frame over that much before its time (and [`PICTURE_LEAD_NS`] more), so
    /// that picture and sound reach the patient together (lip sync; measured without it, with
    /// the `intervideosrc` channel of before: the sound 90 ms ahead).
    pub shown_after_ns: u64,
}

impl VideoChannels {
    /// Channels unique to this kiosk (one process may hold several in tests).
    pub fn for_device(device: &str) -> Self {
        Self {
            remote: format!("{device}-remote"),
            self_view: format!("{device}-self"),
            shown_after_ns: 0,
        }
    }
}

/// RTP payload types of our offer. Fixed, so both roles' pipelines agree.
pub use codec::{H264_PT, VP8_PT};
pub const OPUS_PT: u32 = 97;

/// Characters allowed in a device name that goes into a bin description.
pub fn is_safe_device(device: &str) -> bool {
    !device.is_empty()
        && device.len() <= 128
        && device
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_.:,-@".contains(&b))
}

/// The camera element with its settings.
pub(crate) fn video_source(spec: &MediaSpec) -> String {
    match (spec.video_source, spec.video_device.as_deref()) {
        (VideoSource::Test, _) if spec.measure.is_some() => stamp::VIDEO_SOURCE.to_string(),
        // The test picture; `video_device` may name another pattern (tests: "snow" does not
        // compress, so it fills whatever bitrate the encoder is given). In I420, as cameras
        // deliver YUV: left to negotiate, `videotestsrc` paints ABGR (four bytes a pixel, 1.7
        // times the CPU) and the call converts every frame for the encoder. The default ball
        // is painted once (`test_camera`).
        (VideoSource::Test, Some(pattern @ ("snow" | "smpte" | "ball"))) => {
            format!("videotestsrc is-live=true pattern={pattern} ! video/x-raw,format=I420")
        }
        (VideoSource::Test, _) => test_camera::description(),
        (VideoSource::V4l2, Some(dev)) => format!("v4l2src device=\"{dev}\""),
        (VideoSource::V4l2, None) => "v4l2src".to_string(),
        (VideoSource::Libcamera, Some(name)) => format!("libcamerasrc camera-name=\"{name}\""),
        (VideoSource::Libcamera, None) => "libcamerasrc".to_string(),
    }
}

/// Test microphones deliver 10 ms at a time, as `alsasrc` does (its `latency-time`);
/// `audiotestsrc`'s default of 1024 samples held each first sample back by 21 ms.
pub(crate) const MIC_BUFFER: &str = "samplesperbuffer=480";

/// The microphone element with its settings.
pub(crate) fn audio_source(spec: &MediaSpec) -> String {
    match (spec.audio_source, spec.audio_device.as_deref()) {
        (AudioSource::Test, _) if spec.measure.is_some() => stamp::AUDIO_SOURCE.to_string(),
        (AudioSource::Test, _) => {
            format!("audiotestsrc is-live=true wave=sine freq=440 volume=0.1 {MIC_BUFFER}")
        }
        (AudioSource::Alsa, Some(dev)) => format!("alsasrc device=\"{dev}\""),
        (AudioSource::Alsa, None) => "alsasrc".to_string(),
        (AudioSource::Pulse, _) => "pulsesrc".to_string(),
        // `clocksync` plays the file in real time, as a microphone would deliver it.
        (AudioSource::Wav, Some(path)) => {
            format!("filesrc location=\"{path}\" ! wavparse ! clocksync")
        }
        (AudioSource::Wav, None) => "audiotestsrc is-live=true wave=silence".to_string(),
        (AudioSource::Room, near) => voice::room_microphone(near),
    }
}

/// Camera → scale → the call's video codec (real-time settings) → RTP. The encoder is named `venc`.
pub fn video_send_description(spec: &MediaSpec) -> String {
    let source = video_source(spec);
    let (w, h, fps) = (spec.width, spec.height, spec.framerate);
    // The self-view shows what is sent (black while the camera is off), never a second camera.
    let self_view = match &spec.video_out {
        VideoOut::Display(channels) => format!(
            "camera_out. ! queue max-size-buffers=1 leaky=downstream ! intervideosink channel={}",
            channels.self_view
        ),
        VideoOut::Sink(_) => "camera_out. ! queue ! fakesink sync=false".to_string(),
    };
    let encode = spec
        .video_codec
        .encode_description(w, h, fps, spec.video_bitrate_kbps);
    // `vpause` and `vsize` are the call's: a pause and a smaller picture when the link
    // narrows (call/rate.rs), which also lowers the frame rate at `vpause`'s source pad. The
    // size changes only between the scaler and the encoder, which starts afresh at the new
    // size; the RTP caps stay as negotiated. The self-view keeps the camera's mode.
    // The camera is asked for the call's frame rate, or the nearest common one below it: no
    // `videorate`, which would hold every frame until the next one came (33 ms of latency at
    // 30 fps). A camera that has only 25 fps (many do) then still works; the frame-rate steps
    // of `rate.rs` are shares of whatever it delivers.
    let rates = camera_framerates(fps);
    format!(
        "{source} ! videoconvert ! videoscale ! video/x-raw,width={w},height={h},framerate={rates} \
         ! videobalance name=camblank \
         ! tee name=camera_out \
         ! queue max-size-buffers=2 leaky=downstream \
         ! valve name=vpause drop=false \
         ! videoscale ! capsfilter name=vsize caps=video/x-raw,width={w},height={h} \
         ! videoconvert ! {encode} \
         {self_view}"
    )
}

/// The frame rates a camera may deliver for a call at `fps`, best first, as a caps value.
fn camera_framerates(fps: u32) -> String {
    let lower = [25, 24, 20, 15].into_iter().filter(|&r| r < fps);
    let all: Vec<String> = std::iter::once(fps)
        .chain(lower)
        .map(|r| format!("{r}/1"))
        .collect();
    format!("{{{}}}", all.join(","))
}

/// Microphone → voice processing (echo cancellation with the call's echo probe `probe`, …) →
/// Opus (voice) → RTP. The encoder is named `aenc`.
pub fn audio_send_description(spec: &MediaSpec, probe: &str) -> String {
    let source = audio_source(spec);
    let caps = voice::VOICE_CAPS;
    let complexity = codec::opus_complexity();
    let dsp = spec
        .voice
        .dsp_description(probe)
        .map_or(String::new(), |dsp| format!("! {dsp} "));
    format!(
        "{source} ! audioconvert ! audioresample ! {caps} {dsp}\
         ! volume name=micvol \
         ! queue max-size-time=100000000 leaky=downstream \
         ! opusenc name=aenc audio-type=voice bitrate=32000 frame-size=20 inband-fec=true packet-loss-percentage=10 dtx=true complexity={complexity} \
         ! rtpopuspay \
         ! capsfilter caps=\"application/x-rtp,media=audio,encoding-name=OPUS,payload={OPUS_PT},clock-rate=48000,useinbandfec=(string)1,usedtx=(string)1\""
    )
}

/// The `appsink` in [`video_play_description`] that hands the remote picture to the screen
/// composition ([`display::feed`]).
pub const SCREEN_FEED: &str = "screen_feed";

/// How far ahead of the sound the kiosk shows the remote picture, at most. Both play at the
/// call's latency, which on the kiosk holds the sound at least the jitter floor the echo
/// canceller needs (60 ms, `call/jitter.rs`); the picture is decoded well before that (35-40 ms
/// after capture on loopback), and every ms it waited for the sound, the patient would see the
/// doctor later. Sound after the picture is what we know from every room (light is faster) and
/// what viewers forgive most: ITU-R BT.1359 finds up to 125 ms of it undetectable (sound before
/// the picture: 45 ms), EBU R37 allows 60 ms for a whole broadcast chain; this stays below both,
/// with room for the screen's own spread (up to a composed frame).
pub const PICTURE_LEAD_NS: u64 = 40_000_000;

/// Decoded remote video → the display (or the screen composition). Only playback sinks are
/// possible here.
pub fn video_play_description(out: &VideoOut) -> String {
    let sink = match out {
        VideoOut::Display(channels) => {
            // Handed over the screen's delay and the picture's lead before its time; a frame that
            // comes later than that goes as it comes (`appsink` drops nothing for lateness). The
            // sink keeps no frame of the consultation to be read (`last-sample`).
            return format!(
                "queue max-size-buffers=3 leaky=downstream ! videoconvert \
                 ! appsink name={SCREEN_FEED} sync=true ts-offset=-{} enable-last-sample=false",
                channels.shown_after_ns + PICTURE_LEAD_NS
            );
        }
        VideoOut::Sink(sink) => *sink,
    };
    // Lip sync: picture and sound play against the pipeline's one clock (`sync=true`), each at
    // its capture time plus the pipeline's latency, in which the jitter buffer is the only
    // deliberate delay. A frame that comes late is still shown (`max-lateness=-1`): a
    // conversation rather sees a late picture than a frozen one. A test's `fakesink` keeps
    // time like a screen would.
    // (`autovideosink` is a bin without that property; the sink it picks keeps its 20 ms.)
    let sink = match sink {
        VideoSink::Auto => "autovideosink sync=true".to_string(),
        other => format!("{} sync=true max-lateness=-1", video_sink_element(other)),
    };
    format!("queue max-size-buffers=3 leaky=downstream ! videoconvert ! videoscale ! {sink}")
}

fn audio_sink(sink: AudioSink) -> &'static str {
    match sink {
        AudioSink::Auto => "autoaudiosink",
        AudioSink::Alsa => "alsasink",
        AudioSink::Pulse => "pulsesink",
        // Plays in time like a speaker (lip sync; the test room's echo timing).
        AudioSink::Fake => "fakesink sync=true",
    }
}

/// Decoded remote audio → the speaker, straight (the staff check's test tone).
pub fn audio_play_description(sink: AudioSink) -> String {
    format!(
        "queue ! audioconvert ! audioresample ! {}",
        audio_sink(sink)
    )
}

/// Decoded remote audio, in the voice path's format: on to the call's echo probe, then
/// [`speaker_description`].
pub fn audio_receive_description() -> String {
    format!(
        "queue ! audioconvert ! audioresample ! capsfilter caps=\"{}\"",
        voice::VOICE_CAPS
    )
}

/// The speaker, after the echo probe. In the test room (`room`) a tap also hands what the
/// speaker plays to the room's microphone (`room_tap`, quieter by the room's attenuation).
pub fn speaker_description(sink: AudioSink, room: bool) -> String {
    let sink = audio_sink(sink);
    if room {
        format!(
            "tee name=speaker ! queue ! {sink} \
             speaker. ! queue ! volume volume={} ! appsink name=room_tap sync=true",
            voice::ROOM_ATTENUATION
        )
    } else {
        format!("queue ! {sink}")
    }
}

/// Whether GStreamer has the element `name` (installed, or registered by this program).
pub fn element_exists(name: &str) -> bool {
    gst::ElementFactory::find(name).is_some()
}

/// The names in `needed` that GStreamer does not have, as an error listing them all.
pub fn present(needed: Vec<&'static str>) -> Result<(), Vec<&'static str>> {
    let missing: Vec<_> = needed
        .into_iter()
        .filter(|name| !element_exists(name))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(missing)
    }
}

/// The GStreamer elements a call with this spec needs.
pub fn required_elements(spec: &MediaSpec) -> Vec<&'static str> {
    let mut needed = vec![
        "webrtcbin",
        "nicesrc",
        "dtlssrtpenc",
        "srtpenc",
        "rtpbin",
        "rtpgccbwe",
        "opusenc",
        "opusdec",
        "rtpopuspay",
        "decodebin",
        "videoconvert",
        "videoscale",
        "valve",
        "audioconvert",
        "audioresample",
        "queue",
    ];
    needed.extend(spec.video_codec.required_elements());
    needed.push(match spec.video_source {
        VideoSource::Test => "videotestsrc",
        VideoSource::V4l2 => "v4l2src",
        VideoSource::Libcamera => "libcamerasrc",
    });
    needed.extend(match spec.audio_source {
        AudioSource::Test => vec!["audiotestsrc"],
        AudioSource::Alsa => vec!["alsasrc"],
        AudioSource::Pulse => vec!["pulsesrc"],
        AudioSource::Wav => vec!["filesrc", "wavparse", "clocksync"],
        AudioSource::Room => vec!["appsrc", "appsink", "audiomixer", "tee", "wavparse"],
    });
    needed.extend(voice::required_elements(&spec.voice));
    needed.push(match &spec.video_out {
        VideoOut::Display(_) => "appsink",
        VideoOut::Sink(sink) => video_sink_element(*sink),
    });
    needed.push(match spec.audio_sink {
        AudioSink::Auto => "autoaudiosink",
        AudioSink::Alsa => "alsasink",
        AudioSink::Pulse => "pulsesink",
        AudioSink::Fake => "fakesink",
    });
    needed
}

/// The element a display sink choice stands for.
pub fn video_sink_element(sink: VideoSink) -> &'static str {
    match sink {
        VideoSink::Auto => "autovideosink",
        VideoSink::Kms => "kmssink",
        VideoSink::Wayland => "waylandsink",
        VideoSink::Ximage => "ximagesink",
        VideoSink::Fake => "fakesink",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_use_low_latency_settings_and_never_a_file() {
        let spec = MediaSpec::test_sources();
        let video = video_send_description(&spec);
        assert!(
            video.contains("deadline=1") && video.contains("lag-in-frames=0"),
            "{video}"
        );
        assert!(video.contains("target-bitrate=800000"));
        let all = [
            video,
            audio_send_description(&spec, "p"),
            audio_send_description(
                &MediaSpec {
                    voice: VoiceProcessing::default(),
                    ..spec.clone()
                },
                "p",
            ),
            video_play_description(&VideoOut::Sink(VideoSink::Auto)),
            audio_play_description(AudioSink::Auto),
            audio_receive_description(),
            speaker_description(AudioSink::Auto, false),
        ]
        .join(" ");
        for forbidden in ["filesink", "multifilesink", "splitmuxsink", "location="] {
            assert!(!all.contains(forbidden), "{forbidden} in {all}");
        }
    }

    #[test]
    fn a_camera_may_deliver_a_common_lower_frame_rate() {
        assert_eq!(camera_framerates(30), "{30/1,25/1,24/1,20/1,15/1}");
        assert_eq!(camera_framerates(15), "{15/1}");
        let caps = format!("video/x-raw,framerate={}", camera_framerates(30));
        assert!(caps.parse::<gst::Caps>().is_ok(), "{caps}");
    }

    #[test]
    fn device_names_cannot_inject_elements() {
        assert!(is_safe_device("/dev/video0"));
        assert!(is_safe_device("hw:1,0"));
        assert!(
            is_safe_device("/base/soc/i2c0mux/i2c@1/imx219@10"),
            "libcamera camera names"
        );
        assert!(!is_safe_device("cam\" ! filesink"));
        assert!(!is_safe_device("/dev/video0 ! filesink location=/tmp/x"));
        assert!(!is_safe_device(""));
    }
}
