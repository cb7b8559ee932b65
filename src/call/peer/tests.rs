//! A peer lets go of everything it made. Two peers in this process call each other until both
//! see the other's picture (so every part of a call exists: transports, receive branches,
//! jitter buffers, congestion control); once they are dropped, nothing of theirs is alive.
//! A kiosk makes a new peer for every call and runs for months: whatever a peer leaves behind
//! adds up.

use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use gst::glib::WeakRef;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use super::*;
use crate::call::{CodeBasis, IceSpec, Role};
use crate::media::MediaSpec;
use crate::wire::Hello;

/// How long the two peers may take to see each other's picture (a second or two on loopback;
/// generous for a loaded machine). Only the setup waits; nothing measured is timed.
const SETUP: Duration = Duration::from_secs(60);

fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| crate::call::init().expect("GStreamer starts"));
}

fn spec(role: Role) -> CallSpec {
    let mut media = MediaSpec::test_sources();
    // Small: the test is about lifetimes, not pictures.
    (media.width, media.height) = (160, 120);
    CallSpec {
        role,
        hello: Hello::default(),
        media,
        ice: IceSpec {
            local_addresses: vec!["127.0.0.1".into()],
            ..IceSpec::default()
        },
        reconnect: Duration::from_secs(10),
        jitter_latency_ms: 50,
        code: CodeBasis {
            session: "lifetime".into(),
            key: None,
        },
    }
}

/// Everything of a peer whose lifetime matters: the pipeline, its webrtcbin and the
/// congestion controller made for it.
struct Watched(Vec<(&'static str, WeakRef<gst::Object>)>);

impl Watched {
    fn of(peer: &Peer) -> Self {
        let weak = |o: &gst::Object| o.downgrade();
        let gcc = peer
            .estimator
            .element()
            .expect("congestion control was made");
        Self(vec![
            ("pipeline", weak(peer.pipeline.upcast_ref())),
            ("webrtcbin", weak(peer.webrtc.upcast_ref())),
            ("rtpgccbwe", weak(gcc.upcast_ref())),
        ])
    }

    fn alive(&self) -> Vec<String> {
        self.0
            .iter()
            .filter_map(|(what, weak)| {
                let object = weak.upgrade()?;
                // Less the reference just taken to look.
                Some(format!("{what} ({} references)", object.ref_count() - 1))
            })
            .collect()
    }
}

/// Takes what `events` holds now; panics on a peer's error.
fn drain(events: &mut UnboundedReceiver<(u64, PeerEvent)>) -> Vec<PeerEvent> {
    let mut taken = Vec::new();
    while let Ok((_, event)) = events.try_recv() {
        if let PeerEvent::Error(why) | PeerEvent::SecurityCheckFailed(why) = &event {
            panic!("peer failed: {why}");
        }
        taken.push(event);
    }
    taken
}

/// Runs a call between `offerer` and `answerer` (the signalling done by hand, as the session
/// does it) until both have shown the other's first frame.
fn call(
    (offerer, offers): (&Peer, &mut UnboundedReceiver<(u64, PeerEvent)>),
    (answerer, answers): (&Peer, &mut UnboundedReceiver<(u64, PeerEvent)>),
) {
    offerer.start().unwrap();
    answerer.start().unwrap();
    let (mut offered, mut seen) = (false, (false, false));
    let deadline = Instant::now() + SETUP;
    while seen != (true, true) {
        assert!(Instant::now() < deadline, "no picture both ways: {seen:?}");
        for event in drain(offers) {
            match event {
                PeerEvent::NegotiationNeeded if !offered => {
                    offered = true;
                    offerer.create(SdpKind::Offer);
                }
                PeerEvent::LocalDescription { sdp, .. } => {
                    answerer.set_remote(SdpKind::Offer, &sdp).unwrap();
                }
                PeerEvent::IceCandidate { mline, candidate } => {
                    answerer.add_ice_candidate(mline, &candidate);
                }
                PeerEvent::FirstVideoFrame => seen.0 = true,
                _ => {}
            }
        }
        for event in drain(answers) {
            match event {
                PeerEvent::RemoteDescriptionSet(SdpKind::Offer) => answerer.create(SdpKind::Answer),
                PeerEvent::LocalDescription { sdp, .. } => {
                    offerer.set_remote(SdpKind::Answer, &sdp).unwrap();
                }
                PeerEvent::IceCandidate { mline, candidate } => {
                    offerer.add_ice_candidate(mline, &candidate);
                }
                PeerEvent::FirstVideoFrame => seen.1 = true,
                _ => {}
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_dropped_peer_leaves_nothing_alive() {
    init();
    let (offers_to, mut offers) = unbounded_channel();
    let (answers_to, mut answers) = unbounded_channel();
    let offerer = Peer::build(1, &spec(Role::Offerer), Arc::default(), offers_to).unwrap();
    let answerer = Peer::build(1, &spec(Role::Answerer), Arc::default(), answers_to).unwrap();
    call((&offerer, &mut offers), (&answerer, &mut answers));
    let watched = [Watched::of(&offerer), Watched::of(&answerer)];

    drop(offerer);
    drop(answerer);

    for (side, watched) in ["offerer", "answerer"].iter().zip(&watched) {
        let alive = watched.alive();
        assert!(alive.is_empty(), "the {side}'s peer left alive: {alive:?}");
    }
}
