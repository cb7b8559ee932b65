//! Which video codec a call sends, and with which encoder.
//!
//! VP8 is the default: every browser has it and `vp8enc` runs everywhere. H.264 constrained
//! baseline, level 3.1 (the profile Safari needs) is used where the kiosk has a hardware
//! encoder for it (the Raspberry Pi 4's `v4l2h264enc`), or when the config asks for it. The kiosk
//! offers exactly one video codec; the doctor's side answers with the same (a browser has both).
//! The choice is pure: it is given a way to ask which GStreamer elements exist.

use serde::{Deserialize, Serialize};

/// What the config asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CodecChoice {
    /// H.264 with a hardware encoder, VP8 otherwise.
    #[default]
    Auto,
    Vp8,
    /// H.264 with the best encoder installed (hardware first).
    H264,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    Vp8,
    H264(H264Encoder),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H264Encoder {
    /// The Raspberry Pi 4's hardware encoder (V4L2 memory-to-memory).
    V4l2,
    X264,
    OpenH264,
}

/// H.264 encoders, best first.
const H264_ENCODERS: [(&str, H264Encoder); 3] = [
    ("v4l2h264enc", H264Encoder::V4l2),
    ("x264enc", H264Encoder::X264),
    ("openh264enc", H264Encoder::OpenH264),
];
/// Any one of these decodes what the other side sends back in H.264.
const H264_DECODERS: [&str; 3] = ["v4l2h264dec", "avdec_h264", "openh264dec"];

/// The fixed chain that plays one received RTP stream, by its `encoding-name`: depayloader
/// (`depay`) and decoder (`decoder`), as `gst-launch` text. Only what the kiosk offers
/// (protocol.md 5, rule 7) has one: a stream of any other codec is not decoded at all, and no
/// decoder is picked by rank from whatever happens to be installed (as `decodebin` would).
/// H.264 takes the first decoder of [`H264_DECODERS`] that `has` (the Pi 4's hardware one
/// first), straight from the depayloader, which hands it whole access units (the sender puts
/// SPS and PPS in band with every keyframe). No `h264parse` in between: in a call behind
/// `openh264dec` it split access units so that every frame after the first failed to decode.
pub fn receive_chain(encoding_name: &str, has: impl Fn(&str) -> bool) -> Option<String> {
    match encoding_name.to_ascii_uppercase().as_str() {
        "VP8" => Some("rtpvp8depay name=depay ! vp8dec name=decoder".into()),
        "H264" => H264_DECODERS
            .iter()
            .find(|d| has(d))
            .map(|decoder| format!("rtph264depay name=depay ! {decoder} name=decoder")),
        "OPUS" => Some("rtpopusdepay name=depay ! opusdec name=decoder".into()),
        _ => None,
    }
}

pub const VP8_PT: u32 = 96;
/// Transport-wide congestion control: the RTP header extension the bandwidth estimator (GCC)
/// relies on. The payloader numbers packets with it; the other side reports their arrival.
const TWCC: &str = "extmap-1=(string)http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01,rtcp-fb-transport-cc=(boolean)true";
pub const H264_PT: u32 = 102;
/// Constrained baseline, level 3.1: what every browser, Safari included, takes.
const H264_CAPS: &str = "video/x-h264,profile=constrained-baseline,level=(string)3.1";
/// How the offer names it. The RTP caps are set, not taken from the payloader: its caps carry
/// the encoder's own SPS (`sprop-parameter-sets`, which differs between any two encoders, so an
/// answering webrtcbin would match no transceiver) and the SPS's constraint flags (x264 writes
/// `42c01f`, the same constrained baseline 3.1). SPS and PPS travel in band with every keyframe.
pub const H264_PROFILE_LEVEL_ID: &str = "42e01f";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    #[error(
        "video_codec = \"h264\" needs an H.264 encoder (v4l2h264enc, x264enc or openh264enc) and decoder (v4l2h264dec, avdec_h264 or openh264dec); install gstreamer1.0-plugins-bad or -ugly, or use \"vp8\""
    )]
    NoH264,
    #[error("the offer's video codec {0:?} is not one this side can send (VP8 or H.264)")]
    Unsupported(String),
}

/// The codec for a call, from the config's wish and the elements GStreamer has.
pub fn choose(choice: CodecChoice, has: impl Fn(&str) -> bool) -> Result<VideoCodec, CodecError> {
    let decoder = H264_DECODERS.iter().any(|d| has(d));
    let encoder = |hardware_only: bool| {
        H264_ENCODERS
            .iter()
            .filter(|(_, e)| !hardware_only || *e == H264Encoder::V4l2)
            .find(|(name, _)| has(name))
            .map(|&(_, e)| VideoCodec::H264(e))
    };
    match choice {
        CodecChoice::Vp8 => Ok(VideoCodec::Vp8),
        CodecChoice::Auto if decoder => Ok(encoder(true).unwrap_or(VideoCodec::Vp8)),
        CodecChoice::Auto => Ok(VideoCodec::Vp8),
        CodecChoice::H264 if decoder => encoder(false).ok_or(CodecError::NoH264),
        CodecChoice::H264 => Err(CodecError::NoH264),
    }
}

/// The video codec of an offer (its first video m-line): what the answering side must send.
pub fn offered(sdp: &str, has: impl Fn(&str) -> bool) -> Result<VideoCodec, CodecError> {
    let video = sdp
        .split("m=")
        .find(|section| section.starts_with("video"))
        .unwrap_or_default();
    let name = video
        .lines()
        .filter_map(|line| line.trim().strip_prefix("a=rtpmap:"))
        .filter_map(|map| map.split_once(' ').map(|(_, codec)| codec))
        .filter_map(|codec| codec.split('/').next())
        .find(|codec| {
            !matches!(
                codec.to_ascii_uppercase().as_str(),
                "RTX" | "RED" | "ULPFEC"
            )
        })
        .unwrap_or_default()
        .to_ascii_uppercase();
    match name.as_str() {
        "VP8" => Ok(VideoCodec::Vp8),
        "H264" => choose(CodecChoice::H264, has),
        _ => Err(CodecError::Unsupported(name)),
    }
}

/// vp8enc's threads for a picture of `width`×`height` on `cores` cores, as browsers choose them
/// (libwebrtc's VP8 encoder): one thread up to 640×480, where a second only adds the cost of
/// waiting for each other (measured at 640×360: 10-20 % more CPU with two, and a frame late
/// whenever either thread is held up by something else on the machine).
fn vp8_threads(width: u32, height: u32, cores: usize) -> u32 {
    let pixels = width * height;
    if pixels >= 1920 * 1080 && cores > 8 {
        8
    } else if pixels > 1280 * 960 && cores >= 6 {
        3
    } else if pixels > 640 * 480 && cores >= 3 {
        2
    } else {
        1
    }
}

/// vp8enc's speed, as browsers choose it: negative means "adapt the speed up to this when a
/// frame takes too long", so a busy machine gets a coarser picture instead of fewer frames.
/// ARM (the kiosk's Raspberry Pi) goes up to 12, others to 6 (libwebrtc's values). Measured at
/// 640×360 with a busy loop beside it, on the hardest picture (noise): 58 % of a core at a fixed
/// 8, 38 % at -6, 34 % at -12.
/// Opus's complexity, as libwebrtc chooses it: 5 on ARM (its mobile value), 9 elsewhere.
/// opusenc's default of 10 spends the most CPU for a voice nobody hears as better.
pub fn opus_complexity() -> u32 {
    if cfg!(any(target_arch = "aarch64", target_arch = "arm")) {
        5
    } else {
        9
    }
}

fn vp8_speed() -> i32 {
    if cfg!(any(target_arch = "aarch64", target_arch = "arm")) {
        -12
    } else {
        -6
    }
}

impl VideoCodec {
    /// Encoder (named `venc`, real-time settings for a `width`×`height` picture) → payloader →
    /// the RTP caps webrtcbin offers.
    pub fn encode_description(self, width: u32, height: u32, fps: u32, kbps: u32) -> String {
        let keyframes = fps * 2;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        match self {
            // deadline=1 and lag-in-frames=0 keep vp8enc from buffering: latency for a conversation.
            Self::Vp8 => format!(
                "vp8enc name=venc deadline=1 lag-in-frames=0 cpu-used={speed} threads={threads} error-resilient=partitions \
                   keyframe-max-dist={keyframes} target-bitrate={bps} \
                 ! rtpvp8pay picture-id-mode=15-bit mtu=1200 \
                                  ! capsfilter caps=\"application/x-rtp,media=video,encoding-name=VP8,payload={VP8_PT},clock-rate=90000,{TWCC}\"",
                bps = kbps * 1000,
                speed = vp8_speed(),
                threads = vp8_threads(width, height, cores),
            ),
            Self::H264(encoder) => {
                let encoder = match encoder {
                    H264Encoder::V4l2 => format!(
                        "v4l2h264enc name=venc extra-controls=\"controls,video_bitrate={bps},h264_i_frame_period={keyframes},repeat_sequence_header=1\" \
                         ! {H264_CAPS}",
                        bps = kbps * 1000
                    ),
                    H264Encoder::X264 => format!(
                        "x264enc name=venc tune=zerolatency speed-preset=ultrafast bitrate={kbps} key-int-max={keyframes} \
                         ! {H264_CAPS}"
                    ),
                    H264Encoder::OpenH264 => format!(
                        "openh264enc name=venc usage-type=camera complexity=low rate-control=bitrate bitrate={bps} gop-size={keyframes} \
                         ! {H264_CAPS}",
                        bps = kbps * 1000
                    ),
                };
                format!(
                    "{encoder} ! h264parse config-interval=-1 \
                                          ! rtph264pay pt={H264_PT} config-interval=-1 aggregate-mode=zero-latency mtu=1200 \
                     ! capsfilter caps=\"application/x-rtp,{TWCC}\" \
                     ! capssetter replace=true caps=\"application/x-rtp,media=video,encoding-name=H264,payload={H264_PT},clock-rate=90000,packetization-mode=(string)1,profile-level-id=(string){H264_PROFILE_LEVEL_ID},{TWCC}\""
                )
            }
        }
    }

    /// The elements this codec needs besides the encoder chosen (decoders are looked up by
    /// `decodebin`, and `choose` made sure one exists).
    pub fn required_elements(self) -> Vec<&'static str> {
        match self {
            Self::Vp8 => vec!["vp8enc", "vp8dec", "rtpvp8pay", "rtpvp8depay"],
            Self::H264(encoder) => {
                let name = H264_ENCODERS
                    .iter()
                    .find(|(_, e)| *e == encoder)
                    .map(|(name, _)| *name)
                    .unwrap_or("openh264enc");
                vec![
                    name,
                    "h264parse",
                    "rtph264pay",
                    "rtph264depay",
                    "capssetter",
                ]
            }
        }
    }

    /// Gives the encoder `venc` a new target, in bit/s (the bandwidth estimate's share for video).
    pub fn set_bitrate(self, encoder: &gst::Element, bps: u32) {
        use gst::prelude::*;
        match self {
            Self::Vp8 => encoder.set_property("target-bitrate", bps as i32),
            Self::H264(H264Encoder::X264) => encoder.set_property("bitrate", (bps / 1000).max(1)),
            Self::H264(H264Encoder::OpenH264) => encoder.set_property("bitrate", bps),
            Self::H264(H264Encoder::V4l2) => {
                let controls = gst::Structure::builder("controls")
                    .field("video_bitrate", bps as i32)
                    .build();
                encoder.set_property("extra-controls", controls);
            }
        }
    }

    /// Sends `name` (`VP8` or `H264`) from now on; H.264 with the encoder this side has.
    pub fn rename(&mut self, name: &str) {
        *self = match (name, *self) {
            ("H264", h264 @ Self::H264(_)) => h264,
            ("H264", _) => choose(CodecChoice::H264, super::element_exists).unwrap_or(Self::Vp8),
            _ => Self::Vp8,
        };
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Vp8 => "VP8",
            Self::H264(_) => "H264",
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn each_offered_codec_has_its_fixed_chain_and_nothing_else_is_decoded() {
        let all = |_: &str| true;
        assert_eq!(
            receive_chain("VP8", all).as_deref(),
            Some("rtpvp8depay name=depay ! vp8dec name=decoder")
        );
        assert_eq!(
            receive_chain("opus", all).as_deref(),
            Some("rtpopusdepay name=depay ! opusdec name=decoder")
        );
        let software = |name: &str| name == "openh264dec";
        assert_eq!(
            receive_chain("H264", software).as_deref(),
            Some("rtph264depay name=depay ! openh264dec name=decoder")
        );
        assert!(receive_chain("H264", all).unwrap().contains("v4l2h264dec"));
        assert_eq!(receive_chain("H264", |_| false), None);
        for other in ["VP9", "AV1", "H265", "G722", "PCMU", ""] {
            assert_eq!(receive_chain(other, all), None, "{other}");
        }
    }

    use super::*;

    fn having<'a>(names: &'a [&'a str]) -> impl Fn(&str) -> bool + 'a {
        move |n| names.contains(&n)
    }

    #[test]
    fn vp8_takes_threads_as_browsers_do() {
        assert_eq!(vp8_threads(640, 360, 2), 1);
        assert_eq!(vp8_threads(640, 480, 4), 1, "a Raspberry Pi at 640x480");
        assert_eq!(vp8_threads(1280, 720, 4), 2);
        assert_eq!(
            vp8_threads(1280, 720, 2),
            1,
            "two cores: one stays for the rest"
        );
        assert_eq!(vp8_threads(1920, 1080, 6), 3);
        let d = VideoCodec::Vp8.encode_description(640, 360, 30, 800);
        assert!(d.contains("threads=1") && d.contains("cpu-used=-"), "{d}");
    }

    #[test]
    fn auto_takes_h264_only_with_a_hardware_encoder() {
        let pi4 = having(&["v4l2h264enc", "v4l2h264dec", "x264enc"]);
        assert_eq!(
            choose(CodecChoice::Auto, &pi4),
            Ok(VideoCodec::H264(H264Encoder::V4l2))
        );
        // Pi 5 and desktops: software H.264 would cost the CPU that VP8 costs less of.
        let desktop = having(&["openh264enc", "openh264dec", "x264enc"]);
        assert_eq!(choose(CodecChoice::Auto, &desktop), Ok(VideoCodec::Vp8));
        // A hardware encoder without any decoder could not receive what it sends.
        assert_eq!(
            choose(CodecChoice::Auto, having(&["v4l2h264enc"])),
            Ok(VideoCodec::Vp8)
        );
    }

    #[test]
    fn h264_takes_the_best_encoder_there_is_or_says_what_is_missing() {
        assert_eq!(
            choose(
                CodecChoice::H264,
                having(&["openh264enc", "x264enc", "avdec_h264"])
            ),
            Ok(VideoCodec::H264(H264Encoder::X264))
        );
        assert_eq!(
            choose(CodecChoice::H264, having(&["openh264enc", "openh264dec"])),
            Ok(VideoCodec::H264(H264Encoder::OpenH264))
        );
        let err = choose(CodecChoice::H264, having(&["vp8enc"])).unwrap_err();
        assert!(err.to_string().contains("gstreamer1.0-plugins"), "{err}");
        assert_eq!(choose(CodecChoice::Vp8, having(&[])), Ok(VideoCodec::Vp8));
    }

    #[test]
    fn the_answer_follows_the_offer() {
        let all = having(&["openh264enc", "openh264dec"]);
        let offer = |codec: &str| {
            format!(
                "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 102\r\na=rtpmap:102 {codec}/90000\r\nm=audio 9 UDP/TLS/RTP/SAVPF 97\r\na=rtpmap:97 OPUS/48000/2\r\n"
            )
        };
        assert_eq!(
            offered(&offer("H264"), &all),
            Ok(VideoCodec::H264(H264Encoder::OpenH264))
        );
        assert_eq!(offered(&offer("VP8"), &all), Ok(VideoCodec::Vp8));
        assert_eq!(
            offered(&offer("AV1"), &all),
            Err(CodecError::Unsupported("AV1".into()))
        );
    }

    #[test]
    fn h264_is_offered_as_constrained_baseline_for_safari() {
        let d = VideoCodec::H264(H264Encoder::OpenH264).encode_description(640, 360, 30, 800);
        assert!(
            d.contains("profile=constrained-baseline,level=(string)3.1"),
            "{d}"
        );
        assert!(d.contains("profile-level-id=(string)42e01f"), "{d}");
        assert!(d.contains("packetization-mode=(string)1"), "{d}");
        assert!(d.contains("name=venc"), "{d}");
        assert!(
            VideoCodec::Vp8
                .encode_description(640, 360, 30, 800)
                .contains("target-bitrate=800000")
        );
    }
}
