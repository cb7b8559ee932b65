//! Input sequences into the call's signalling machine (protocol.md section 5), on either side,
//! checked against its rules:
//!
//! - every hello that is not a reply gets exactly one reply, and a reply gets none;
//! - the kiosk keeps at most one offer unanswered: it creates an offer only when none is being
//!   made or waits for its answer, sends only the offer it asked for, and applies an answer only
//!   to an offer that is out, the answer that just came, with the offer's media lines;
//! - each side does only its role's part (no offer from the doctor's side, no answer from the
//!   kiosk's);
//! - no more candidates go into a connection than arrived, and on the kiosk no relayed one
//!   (its hello names no TURN server: the fleet allows no relay);
//! - one window holds a running call (rule 10): a hello that is told `busy` gets no reply, is
//!   named as busy, and renews nothing, and `busy` echoes only the nonce of the hello it answers;
//! - after `bye` (said or heard) nothing happens but saying so;
//! - a deadline it names is kept: a tick at that time renews the connection.

use std::time::{Duration, Instant};

use praxiskiosk::call::Role;
use praxiskiosk::fuzzing::{Candidate, Ignored, Input, Output, Signalling};
use praxiskiosk::wire::{ByeReason, Hello, Signal};

use super::Script;

/// An offer as the kiosk makes it, and an answer that fits it (as in `call::sdp_check`).
const OFFER: &str = "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE video0 audio1\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:video0\r\na=rtpmap:96 VP8/90000\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 97\r\nc=IN IP4 0.0.0.0\r\na=mid:audio1\r\na=rtpmap:97 OPUS/48000/2\r\n";
const ANSWER: &str = "v=0\r\no=- 2 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
a=ice-ufrag:u\r\na=ice-pwd:p\r\na=fingerprint:sha-256 0A:1B\r\na=setup:active\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:video0\r\na=rtpmap:96 VP8/90000\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 97\r\na=mid:audio1\r\na=rtpmap:97 opus/48000/2\r\n";

/// The offer, the answer, the answer with something after it, or any text.
fn sdp(script: &mut Script) -> String {
    match script.choose(4) {
        0 => OFFER.into(),
        1 => ANSWER.into(),
        2 => format!("{ANSWER}{}", script.text()),
        _ => script.text(),
    }
}

fn media_lines(sdp: &str) -> usize {
    sdp.lines().filter(|line| line.starts_with("m=")).count()
}

fn candidate(script: &mut Script) -> Candidate {
    Candidate {
        mline: u32::from(script.byte() % 3),
        candidate: format!(
            "candidate:{} 1 UDP 1 10.0.0.1 5000 typ {}",
            script.byte(),
            if script.flag() { "relay" } else { "host" }
        ),
    }
}

fn bye(script: &mut Script) -> ByeReason {
    [
        ByeReason::Hangup,
        ByeReason::Timeout,
        ByeReason::Error,
        ByeReason::SecurityCheckFailed,
        ByeReason::Unknown,
    ][script.choose(5)]
}

/// A window's nonce: none, one of two windows, or any text.
fn nonce(script: &mut Script) -> Option<String> {
    match script.choose(4) {
        0 => None,
        1 => Some("a".into()),
        2 => Some("b".into()),
        _ => Some(script.text()),
    }
}

fn input(script: &mut Script) -> Input {
    match script.choose(17) {
        0 => Input::Received(Signal::Hello(Hello {
            reply: script.flag(),
            reconnect_s: script.flag().then(|| u32::from(script.byte())),
            nonce: nonce(script),
            ..Hello::new(script.text())
        })),
        15 => Input::Received(Signal::Busy {
            nonce: nonce(script).unwrap_or_default(),
        }),
        16 => Input::MediaQuiet(script.flag()),
        1 => Input::Received(Signal::Offer { sdp: sdp(script) }),
        2 => Input::Received(Signal::Answer { sdp: sdp(script) }),
        3 => {
            let Candidate { mline, candidate } = candidate(script);
            let candidate = if script.byte() < 16 {
                String::new()
            } else {
                candidate
            };
            Input::Received(Signal::Ice { mline, candidate })
        }
        4 => Input::Received(Signal::Bye {
            reason: bye(script),
        }),
        5 => Input::NegotiationNeeded,
        6 => Input::OfferMade(sdp(script)),
        7 => Input::AnswerMade(sdp(script)),
        8 => Input::RemoteOfferSet,
        9 => Input::LocalCandidate(candidate(script)),
        10 => Input::GatheringDone,
        11 => Input::Leave(script.flag().then(|| bye(script))),
        12 => Input::Renew,
        _ => Input::Tick,
    }
}

/// What the checks remember of the session so far.
#[derive(Debug, Default)]
struct Seen {
    /// Offerer: an offer is being made (asked for, not yet sent).
    offering: bool,
    /// Offerer: an offer is out and waits for its answer, and the last offer sent.
    offer_out: bool,
    offer: String,
    /// Answerer: a fresh connection took an offer, and no answer was asked for yet.
    offer_taken: bool,
    /// Remote candidates that arrived, and those handed to a connection.
    candidates_in: usize,
    candidates_added: usize,
    stopped: bool,
}

pub fn check(data: &[u8]) {
    let mut script = Script::new(data);
    let role = if script.flag() {
        Role::Answerer
    } else {
        Role::Offerer
    };
    let (mut machine, first) = Signalling::start(role, Hello::new("Max Mustermann"));
    let mut seen = Seen::default();
    let mut now = Instant::now();
    outputs(role, &mut seen, &Input::Tick, &first, false);
    while !script.is_empty() {
        now += Duration::from_millis(u64::from(script.byte()) * 50);
        let input = input(&mut script);
        let deadline = machine.next_deadline();
        let out = machine.handle(input.clone(), now);
        if seen.stopped {
            let ignored =
                matches!(input, Input::Received(_)).then_some(Output::Ignore(Ignored::AfterBye));
            assert_eq!(out, Vec::from_iter(ignored), "acted after bye");
            continue;
        }
        let due = deadline.is_some_and(|d| now >= d);
        if due && !matches!(input, Input::Received(Signal::Bye { .. }) | Input::Leave(_)) {
            assert!(
                out.contains(&Output::NewConnection),
                "the deadline passed without a fresh connection: {out:?}"
            );
        }
        outputs(role, &mut seen, &input, &out, due);
        assert_eq!(machine.is_over(), seen.stopped);
    }
}

/// `due`: a deadline the machine named had passed, so a fresh connection may come with any input.
fn outputs(role: Role, seen: &mut Seen, input: &Input, out: &[Output], due: bool) {
    let replies = out
        .iter()
        .filter(|o| matches!(o, Output::Send(Signal::Hello(h)) if h.reply))
        .count();
    let busy = out.contains(&Output::Ignore(Ignored::Busy));
    let refused = busy || out.contains(&Output::Ignore(Ignored::BadNonce));
    let busy_sent: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::Send(Signal::Busy { nonce }) => Some(nonce.clone()),
            _ => None,
        })
        .collect();
    match input {
        Input::Received(Signal::Hello(hello)) if refused => {
            assert_eq!(replies, 0, "a reply to a refused hello: {out:?}");
            let echo = hello.nonce.clone().filter(|n| !n.is_empty());
            assert_eq!(
                busy_sent,
                Vec::from_iter(echo.filter(|_| busy)),
                "busy: {out:?}"
            );
            assert!(
                !out.iter().any(|o| match o {
                    Output::NewConnection => !due,
                    Output::CreateOffer | Output::Report(_) => true,
                    _ => false,
                }),
                "a refused window changed the call: {out:?}"
            );
        }
        Input::Received(Signal::Hello(hello)) => {
            assert_eq!(replies, usize::from(!hello.reply), "hello replies: {out:?}");
            assert!(busy_sent.is_empty(), "busy for a window let in: {out:?}");
        }
        Input::Received(Signal::Ice { candidate, .. }) if !candidate.is_empty() => {
            seen.candidates_in += 1;
        }
        _ => {
            assert_eq!(replies, 0, "a reply to no hello: {out:?}");
            assert!(busy_sent.is_empty(), "busy for no hello: {out:?}");
        }
    }
    for o in out {
        match (role, o) {
            (Role::Offerer, Output::TakeOffer(_) | Output::CreateAnswer | Output::Adopt(_))
            | (
                Role::Answerer,
                Output::CreateOffer | Output::ApplyAnswer(_) | Output::NewConnection,
            ) => {
                panic!("{role:?} did the other side's part: {o:?}")
            }
            (_, Output::Send(Signal::Answer { .. })) if role == Role::Offerer => {
                panic!("the kiosk sent an answer")
            }
            (_, Output::Send(Signal::Offer { .. })) if role == Role::Answerer => {
                panic!("the doctor's side sent an offer")
            }
            (_, Output::NewConnection) => {
                seen.offering = false;
                seen.offer_out = false;
            }
            (_, Output::CreateOffer) => {
                assert!(
                    !seen.offering && !seen.offer_out,
                    "a second offer while one is under way: {out:?}"
                );
                seen.offering = true;
            }
            (Role::Offerer, Output::Send(Signal::Offer { sdp })) => {
                assert!(seen.offering, "an offer nobody asked for");
                assert_eq!(input, &Input::OfferMade(sdp.clone()), "not the offer made");
                seen.offering = false;
                seen.offer_out = true;
                seen.offer = sdp.clone();
            }
            (_, Output::ApplyAnswer(sdp)) => {
                assert!(seen.offer_out, "an answer applied without an offer out");
                assert_eq!(
                    input,
                    &Input::Received(Signal::Answer { sdp: sdp.clone() }),
                    "not the answer that came"
                );
                assert_eq!(
                    media_lines(sdp),
                    media_lines(&seen.offer),
                    "an answer applied whose lines do not fit the offer"
                );
                seen.offer_out = false;
            }
            (_, Output::TakeOffer(sdp)) => {
                assert_eq!(input, &Input::Received(Signal::Offer { sdp: sdp.clone() }));
                seen.offer_taken = true;
            }
            (_, Output::CreateAnswer) => {
                assert!(seen.offer_taken, "an answer to no offer taken");
                seen.offer_taken = false;
            }
            (Role::Answerer, Output::Send(Signal::Answer { sdp })) => {
                assert_eq!(
                    input,
                    &Input::AnswerMade(sdp.clone()),
                    "not the answer made"
                );
            }
            // The kiosk's hello names no TURN server here: the fleet allows no relay.
            (Role::Offerer, Output::AddCandidate(c)) if c.candidate.ends_with("typ relay") => {
                panic!("a relayed candidate where the fleet allows no relay: {c:?}")
            }
            (_, Output::AddCandidate(_)) => {
                seen.candidates_added += 1;
                assert!(
                    seen.candidates_added <= seen.candidates_in,
                    "more candidates added than arrived"
                );
            }
            (_, Output::Stop) => seen.stopped = true,
            _ => {}
        }
    }
}
