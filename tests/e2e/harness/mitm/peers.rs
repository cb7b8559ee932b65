//! The man in the middle's two WebRTC peers, in one pipeline: one answers the kiosk's offer as if
//! it were the doctor, the other offers to the doctor as if it were the kiosk. What each leg
//! receives is repacketised (depayloaded and payloaded again, never decoded) and sent on by the
//! other leg, so the two people see and hear each other, through the middle, each over DTLS
//! that ends here.
//!
//! Both legs keep GStreamer's own DTLS certificate (the one every webrtcbin of this process
//! shares) and write its correct fingerprint into their SDP: to the fingerprint check of either
//! person, the middle is the other side.

use std::sync::mpsc::Sender;

use gst::prelude::*;
use gst_webrtc::{WebRTCSDPType, WebRTCSessionDescription};

/// Which real person a leg faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leg {
    Kiosk,
    Doctor,
}

impl Leg {
    pub fn other(self) -> Self {
        match self {
            Self::Kiosk => Self::Doctor,
            Self::Doctor => Self::Kiosk,
        }
    }
}

/// What a leg has to say to the person it faces, as it comes (its SDPs are returned).
#[derive(Debug)]
pub enum PeerOut {
    Ice {
        leg: Leg,
        mline: u32,
        candidate: String,
    },
}

/// The payload types of protocol.md section 5, rule 7 (VP8 and Opus, as the test kiosk offers).
const VIDEO: (&str, &str, &str, i32, i32) = ("video", "VP8", "vp8", 96, 90_000);
const AUDIO: (&str, &str, &str, i32, i32) = ("audio", "OPUS", "opus", 97, 48_000);

#[derive(Debug)]
pub struct MitmPeers {
    pipeline: gst::Pipeline,
    to_kiosk: gst::Element,
    to_doctor: gst::Element,
    /// Where each leg's received streams enter the other leg's senders.
    depayloaders: Vec<gst::Element>,
}

impl MitmPeers {
    /// Both legs, ICE pinned to 127.0.0.1, each with a video and an audio sender whose input is
    /// what the other leg receives.
    pub fn start(out: Sender<PeerOut>) -> Self {
        gst::init().unwrap();
        let pipeline = gst::Pipeline::with_name("man-in-the-middle");
        let leg = |name: &str, leg: Leg| {
            let webrtc = gst::ElementFactory::make("webrtcbin")
                .name(name)
                .property_from_str("bundle-policy", "max-bundle")
                .build()
                .unwrap();
            let agent = webrtc.property::<gst_webrtc::WebRTCICE>("ice-agent");
            assert!(agent.emit_by_name::<bool>("add-local-ip-address", &[&"127.0.0.1"]));
            pipeline.add(&webrtc).unwrap();
            let out = out.clone();
            webrtc.connect("on-ice-candidate", false, move |values| {
                let mline = values[1].get::<u32>().unwrap();
                let candidate = values[2].get::<String>().unwrap();
                let _ = out.send(PeerOut::Ice {
                    leg,
                    mline,
                    candidate,
                });
                None
            });
            webrtc
        };
        let to_kiosk = leg("to-kiosk", Leg::Kiosk);
        let to_doctor = leg("to-doctor", Leg::Doctor);
        let mut depayloaders = Vec::new();
        for (webrtc, from) in [(&to_kiosk, &to_doctor), (&to_doctor, &to_kiosk)] {
            for media in [VIDEO, AUDIO] {
                depayloaders.push(resend(&pipeline, from, webrtc, media));
            }
        }
        pipeline.set_state(gst::State::Playing).unwrap();
        Self {
            pipeline,
            to_kiosk,
            to_doctor,
            depayloaders,
        }
    }

    /// Takes the kiosk's offer and answers it, as the doctor would.
    pub fn answer_kiosk(&self, offer: &str) -> String {
        describe(
            &self.to_kiosk,
            WebRTCSDPType::Offer,
            offer,
            "set-remote-description",
        );
        let answer = create(&self.to_kiosk, "create-answer", "answer");
        describe(
            &self.to_kiosk,
            WebRTCSDPType::Answer,
            &answer,
            "set-local-description",
        );
        answer
    }

    /// An offer to the doctor, as the kiosk would make it.
    pub fn offer_to_doctor(&self) -> String {
        let offer = create(&self.to_doctor, "create-offer", "offer");
        describe(
            &self.to_doctor,
            WebRTCSDPType::Offer,
            &offer,
            "set-local-description",
        );
        offer
    }

    pub fn doctor_answered(&self, answer: &str) {
        describe(
            &self.to_doctor,
            WebRTCSDPType::Answer,
            answer,
            "set-remote-description",
        );
    }

    /// A candidate of the person `from`; the end of their candidates (empty) is not passed on.
    pub fn candidate(&self, from: Leg, mline: u32, candidate: &str) {
        if candidate.is_empty() {
            return;
        }
        let webrtc = match from {
            Leg::Kiosk => &self.to_kiosk,
            Leg::Doctor => &self.to_doctor,
        };
        webrtc.emit_by_name::<()>("add-ice-candidate", &[&mline, &candidate]);
    }
}

impl Drop for MitmPeers {
    fn drop(&mut self) {
        // The relay makes a loop of the graph (each leg feeds the other), which the pipeline's
        // state change would only warn about: cut it first.
        for depay in &self.depayloaders {
            let sink = depay.static_pad("sink").unwrap();
            if let Some(peer) = sink.peer() {
                let _ = peer.unlink(&sink);
            }
        }
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// `media` as `to` sends it: a payloader with the protocol's payload type, fed by a depayloader
/// that `from`'s received stream of that kind is linked to once it appears (returned).
fn resend(
    pipeline: &gst::Pipeline,
    from: &gst::Element,
    to: &gst::Element,
    (kind, encoding, short, payload, clock_rate): (&str, &str, &str, i32, i32),
) -> gst::Element {
    let depay = gst::ElementFactory::make(&format!("rtp{short}depay"))
        .build()
        .unwrap();
    let pay = gst::ElementFactory::make(&format!("rtp{short}pay"))
        .property("pt", payload as u32)
        .build()
        .unwrap();
    let caps = gst::Caps::builder("application/x-rtp")
        .field("media", kind)
        .field("encoding-name", encoding)
        .field("payload", payload)
        .field("clock-rate", clock_rate)
        .build();
    let filter = gst::ElementFactory::make("capsfilter")
        .property("caps", &caps)
        .build()
        .unwrap();
    pipeline.add_many([&depay, &pay, &filter]).unwrap();
    gst::Element::link_many([&depay, &pay, &filter]).unwrap();
    // The codec preferences: `to` can offer or answer before anything was received.
    let template = to.pad_template("sink_%u").unwrap();
    let sink = to.request_pad(&template, None, Some(&caps)).unwrap();
    filter.static_pad("src").unwrap().link(&sink).unwrap();
    for element in [&depay, &pay, &filter] {
        element.sync_state_with_parent().unwrap();
    }
    let kind = kind.to_string();
    let entry = depay.clone();
    from.connect_pad_added(move |_, pad| {
        let received = pad
            .current_caps()
            .or_else(|| Some(pad.query_caps(None)))
            .and_then(|caps| {
                caps.structure(0)
                    .and_then(|s| s.get::<String>("media").ok())
            });
        if received.as_deref() == Some(kind.as_str()) {
            let _ = pad.link(&depay.static_pad("sink").unwrap());
        }
    });
    entry
}

/// Applies a description to `webrtc` and waits until it did.
fn describe(webrtc: &gst::Element, kind: WebRTCSDPType, sdp: &str, signal: &str) {
    let message = gst_sdp::SDPMessage::parse_buffer(sdp.as_bytes()).unwrap();
    let description = WebRTCSessionDescription::new(kind, message);
    let promise = gst::Promise::new();
    webrtc.emit_by_name::<()>(signal, &[&description, &promise]);
    promise.wait();
}

/// `create-offer` or `create-answer`, waited for; the SDP as text.
fn create(webrtc: &gst::Element, signal: &str, field: &str) -> String {
    let promise = gst::Promise::new();
    webrtc.emit_by_name::<()>(signal, &[&None::<gst::Structure>, &promise]);
    promise.wait();
    let reply = promise.get_reply().expect("webrtcbin replied");
    reply
        .get::<WebRTCSessionDescription>(field)
        .unwrap_or_else(|e| panic!("{signal}: {e} in {reply:?}"))
        .sdp()
        .as_text()
        .unwrap()
}
