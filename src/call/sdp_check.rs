//! Whether the doctor's answer fits the kiosk's offer (protocol.md section 5, rule 7): exactly the
//! offered m-lines, in their order, each accepted (port not 0) with payload types that were
//! offered, each mapped to the codec the offer mapped it to, and the transport a connection
//! needs (ICE credentials, a DTLS fingerprint, an answerer's DTLS role). An answer that does not fit is left
//! alone before webrtcbin sees it: it cannot end a running call, and nothing reaches a decoder
//! that the kiosk did not offer.
//!
//! Pure text: no GStreamer, so any byte sequence can be thrown at it.

use std::collections::BTreeMap;

/// Why an answer does not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Mismatch {
    #[error("the answer has {answered} m-lines, the offer {offered}")]
    Lines { offered: usize, answered: usize },
    #[error("m-line {0} is another kind of media than offered")]
    Kind(usize),
    #[error("m-line {0} is refused (port 0)")]
    Refused(usize),
    #[error("m-line {line} names payload type {pt}, which was not offered there")]
    PayloadType { line: usize, pt: String },
    #[error("m-line {line} maps payload type {pt} to another codec than offered")]
    Codec { line: usize, pt: String },
    #[error("m-line {0} is malformed")]
    Malformed(usize),
    #[error("the answer does not start with v=0")]
    NotSdp,
    #[error("the answer lacks {0}")]
    Transport(&'static str),
}

/// One m-line: its kind, port, payload types and their `a=rtpmap` codecs (lower case).
#[derive(Debug, Default)]
struct Media {
    kind: String,
    port: String,
    formats: Vec<String>,
    codecs: BTreeMap<String, String>,
}

fn media_lines(sdp: &str) -> Result<Vec<Media>, Mismatch> {
    let mut all: Vec<Media> = Vec::new();
    for line in sdp.lines().map(str::trim_end) {
        if let Some(m) = line.strip_prefix("m=") {
            let mut fields = m.split(' ');
            let (kind, port, _proto) = (fields.next(), fields.next(), fields.next());
            let (Some(kind), Some(port)) = (kind, port) else {
                return Err(Mismatch::Malformed(all.len()));
            };
            all.push(Media {
                kind: kind.to_string(),
                port: port.to_string(),
                formats: fields.filter(|f| !f.is_empty()).map(String::from).collect(),
                codecs: BTreeMap::new(),
            });
        } else if let Some(map) = line.strip_prefix("a=rtpmap:") {
            let Some(media) = all.last_mut() else {
                continue; // session level: rtpmap belongs to m-lines
            };
            let Some((pt, codec)) = map.split_once(' ') else {
                return Err(Mismatch::Malformed(all.len() - 1));
            };
            media
                .codecs
                .insert(pt.to_string(), codec.trim().to_ascii_lowercase());
        }
    }
    Ok(all)
}

/// What the bundled transport needs of an answer, at session level or in an m-line: without
/// any of it webrtcbin refuses the answer or the connection cannot be secured.
fn transport(answer: &str) -> Result<(), Mismatch> {
    let value = |attribute: &str| {
        answer
            .lines()
            .filter_map(|line| line.trim_end().strip_prefix(attribute))
            .map(str::trim)
            .find(|value| !value.is_empty())
    };
    value("a=ice-ufrag:").ok_or(Mismatch::Transport("ICE credentials"))?;
    value("a=ice-pwd:").ok_or(Mismatch::Transport("ICE credentials"))?;
    let fingerprint = value("a=fingerprint:").and_then(|v| v.split_once(' '));
    let well_formed = fingerprint.is_some_and(|(hash, digits)| {
        !hash.is_empty()
            && digits.len() >= 2
            && digits
                .split(':')
                .all(|pair| pair.len() == 2 && pair.bytes().all(|b| b.is_ascii_hexdigit()))
    });
    if !well_formed {
        return Err(Mismatch::Transport("a well-formed DTLS fingerprint"));
    }
    match value("a=setup:") {
        Some("active" | "passive") => Ok(()),
        _ => Err(Mismatch::Transport("an answerer's DTLS role (a=setup)")),
    }
}

/// `Ok` if `answer` answers `offer` as rule 7 allows.
pub(crate) fn answer_fits(offer: &str, answer: &str) -> Result<(), Mismatch> {
    if !answer.starts_with("v=0") {
        return Err(Mismatch::NotSdp);
    }
    transport(answer)?;
    let offered = media_lines(offer)?;
    let answered = media_lines(answer)?;
    if offered.len() != answered.len() {
        return Err(Mismatch::Lines {
            offered: offered.len(),
            answered: answered.len(),
        });
    }
    for (line, (o, a)) in offered.iter().zip(&answered).enumerate() {
        if o.kind != a.kind {
            return Err(Mismatch::Kind(line));
        }
        if a.port == "0" {
            return Err(Mismatch::Refused(line));
        }
        if a.formats.is_empty() {
            return Err(Mismatch::Malformed(line));
        }
        for pt in &a.formats {
            if !o.formats.contains(pt) {
                return Err(Mismatch::PayloadType {
                    line,
                    pt: pt.clone(),
                });
            }
            // A dynamic payload type means only what its rtpmap says; it must say what ours did.
            if a.codecs.get(pt) != o.codecs.get(pt) {
                return Err(Mismatch::Codec {
                    line,
                    pt: pt.clone(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE video0 audio1\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:video0\r\na=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack pli\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 97\r\nc=IN IP4 0.0.0.0\r\na=mid:audio1\r\na=rtpmap:97 OPUS/48000/2\r\n";

    const TRANSPORT: &str = "a=ice-ufrag:Xy1z\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n\
a=fingerprint:sha-256 0A:1B:2C:3D\r\na=setup:active\r\n";

    fn answer(video: &str, audio: &str) -> String {
        format!("v=0\r\no=- 2 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n{TRANSPORT}{video}{audio}",)
    }

    #[test]
    fn an_answer_without_what_its_transport_needs_does_not_fit() {
        let fits = answer(VIDEO, AUDIO);
        for (broken, what) in [
            (
                fits.replace("a=ice-pwd:abcdefghijklmnopqrstuv\r\n", ""),
                "ICE",
            ),
            (fits.replace("0A:1B:2C:3D", "zz"), "fingerprint"),
            (fits.replace("0A:1B:2C:3D", ""), "fingerprint"),
            (fits.replace("a=setup:active", "a=setup:actpass"), "role"),
            (fits.replace("a=setup:active\r\n", ""), "role"),
        ] {
            assert!(
                matches!(answer_fits(OFFER, &broken), Err(Mismatch::Transport(_))),
                "{what}: {broken}"
            );
        }
        let not_sdp = format!("x{fits}");
        assert_eq!(answer_fits(OFFER, &not_sdp), Err(Mismatch::NotSdp));
    }

    const VIDEO: &str =
        "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:video0\r\na=rtpmap:96 VP8/90000\r\n";
    const AUDIO: &str =
        "m=audio 9 UDP/TLS/RTP/SAVPF 97\r\na=mid:audio1\r\na=rtpmap:97 opus/48000/2\r\n";

    #[test]
    fn an_answer_with_what_was_offered_fits_whatever_the_case_of_the_codec() {
        assert_eq!(answer_fits(OFFER, &answer(VIDEO, AUDIO)), Ok(()));
    }

    #[test]
    fn missing_extra_swapped_or_refused_lines_do_not_fit() {
        assert!(matches!(
            answer_fits(OFFER, &answer(VIDEO, "")),
            Err(Mismatch::Lines {
                offered: 2,
                answered: 1
            })
        ));
        let three = answer(VIDEO, &format!("{AUDIO}{AUDIO}"));
        assert!(matches!(
            answer_fits(OFFER, &three),
            Err(Mismatch::Lines { .. })
        ));
        assert_eq!(
            answer_fits(OFFER, &answer(AUDIO, VIDEO)),
            Err(Mismatch::Kind(0))
        );
        let refused = AUDIO.replace("audio 9", "audio 0");
        assert_eq!(
            answer_fits(OFFER, &answer(VIDEO, &refused)),
            Err(Mismatch::Refused(1))
        );
    }

    #[test]
    fn payload_types_and_codecs_that_were_not_offered_do_not_fit() {
        let other_pt = VIDEO.replace("SAVPF 96", "SAVPF 100");
        assert!(matches!(
            answer_fits(OFFER, &answer(&other_pt, AUDIO)),
            Err(Mismatch::PayloadType { line: 0, .. })
        ));
        let h264 = VIDEO.replace("VP8/90000", "H264/90000");
        assert!(matches!(
            answer_fits(OFFER, &answer(&h264, AUDIO)),
            Err(Mismatch::Codec { line: 0, .. })
        ));
        let unmapped = VIDEO.replace("a=rtpmap:96 VP8/90000\r\n", "");
        assert!(matches!(
            answer_fits(OFFER, &answer(&unmapped, AUDIO)),
            Err(Mismatch::Codec { .. })
        ));
        let no_formats = "m=video 9 UDP/TLS/RTP/SAVPF\r\n";
        assert_eq!(
            answer_fits(OFFER, &answer(no_formats, AUDIO)),
            Err(Mismatch::Malformed(0))
        );
    }

    #[test]
    fn garbage_is_refused_not_a_panic() {
        for junk in [
            "",
            "m=",
            "m=video",
            "a=rtpmap:96",
            "\u{0}\u{1}m=x y z",
            "m=video 9 x 96\na=rtpmap:96",
        ] {
            assert!(answer_fits(OFFER, junk).is_err(), "{junk:?}");
        }
    }
}
