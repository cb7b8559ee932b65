//! The rules of protocol.md section 5, one behaviour per test, fed by hand: no GStreamer, no
//! broker, a made-up clock.

use super::*;
use std::time::Duration;

const PATIENT: &str = "Max Mustermann";
const DOCTOR: &str = "Dr. med. Anna Muster";

fn hello(reply: bool) -> Input {
    Input::Received(Signal::Hello(Hello {
        reply,
        ..Hello::new(DOCTOR)
    }))
}

/// The transport every answer needs (`sdp_check`), around a made-up body such as "answer-1";
/// a whole SDP (`v=0…`) stays as it is.
fn answer_sdp(body: &str) -> String {
    if body.starts_with("v=0") {
        return body.into();
    }
    format!(
        "v=0\r\ns={body}\r\na=ice-ufrag:u\r\na=ice-pwd:p\r\n\
         a=fingerprint:sha-256 0A:1B\r\na=setup:active\r\n"
    )
}

fn answer(body: &str) -> Input {
    Input::Received(Signal::Answer {
        sdp: answer_sdp(body),
    })
}

fn applied(body: &str) -> Output {
    Output::ApplyAnswer(answer_sdp(body))
}

fn offer(sdp: &str) -> Input {
    Input::Received(Signal::Offer { sdp: sdp.into() })
}

fn remote_ice(n: u32) -> Input {
    Input::Received(Signal::Ice {
        mline: 0,
        candidate: format!("candidate:{n} 1 UDP 1 10.0.0.{n} 5000 typ host"),
    })
}

fn candidate(n: u32) -> Candidate {
    Candidate {
        mline: 0,
        candidate: format!("candidate:{n} 1 UDP 1 10.0.0.{n} 5000 typ host"),
    }
}

fn reply_to_doctor() -> Output {
    Output::Send(Signal::Hello(Hello::new(PATIENT).as_reply()))
}

fn joined() -> Output {
    Output::Report(CallReport::PeerJoined {
        name: DOCTOR.into(),
    })
}

/// The kiosk's side, as it starts.
fn kiosk() -> (Signalling, Instant) {
    let (machine, out) = Signalling::start(Role::Offerer, Hello::new(PATIENT));
    assert_eq!(
        out,
        [
            Output::Send(Signal::Hello(Hello::new(PATIENT))),
            Output::NewConnection
        ],
        "hello at once, and the connection for the waiting room's self-view"
    );
    (machine, Instant::now())
}

/// The kiosk with its offer out.
fn offered() -> (Signalling, Instant) {
    let (mut k, t0) = kiosk();
    k.handle(Input::NegotiationNeeded, t0);
    assert_eq!(
        k.handle(hello(false), t0).last(),
        Some(&Output::CreateOffer)
    );
    assert_eq!(
        k.handle(Input::OfferMade("offer-1".into()), t0),
        [Output::Send(Signal::Offer {
            sdp: "offer-1".into()
        })]
    );
    (k, t0)
}

/// The kiosk connected to the doctor.
fn connected() -> (Signalling, Instant) {
    let (mut k, t0) = offered();
    assert_eq!(k.handle(answer("answer-1"), t0), [applied("answer-1")]);
    (k, t0)
}

fn count(outputs: &[Output], wanted: &Output) -> usize {
    outputs.iter().filter(|o| *o == wanted).count()
}

#[test]
fn a_doctor_who_comes_after_the_kiosk_gets_a_reply_and_then_the_offer() {
    let (mut k, t0) = kiosk();
    assert_eq!(
        k.handle(hello(false), t0),
        [reply_to_doctor(), joined()],
        "the connection is not ready to offer yet"
    );
    assert_eq!(
        k.handle(hello(false), t0),
        [reply_to_doctor(), joined()],
        "a second hello joins the offer to come"
    );
    assert_eq!(
        k.handle(Input::NegotiationNeeded, t0),
        [Output::CreateOffer]
    );
}

#[test]
fn a_doctor_who_was_there_first_replies_and_the_reply_leads_to_the_offer() {
    let (mut k, t0) = kiosk();
    assert_eq!(k.handle(Input::NegotiationNeeded, t0), []);
    assert_eq!(
        k.handle(hello(true), t0),
        [joined(), Output::CreateOffer],
        "a reply is never answered, but it tells the kiosk the doctor is there"
    );
}

#[test]
fn a_reply_while_an_offer_is_under_way_or_out_changes_nothing() {
    let (mut k, t0) = kiosk();
    k.handle(Input::NegotiationNeeded, t0);
    k.handle(hello(false), t0);
    assert_eq!(k.handle(hello(true), t0), [], "crossing hellos: one offer");
    k.handle(Input::OfferMade("offer-1".into()), t0);
    assert_eq!(k.handle(hello(true), t0), []);
    assert_eq!(k.next_deadline(), None, "the offer is not stale");
    let (mut k, t0) = connected();
    assert_eq!(k.handle(hello(true), t0), []);
}

#[test]
fn the_answer_to_our_offer_is_applied_with_the_candidates_that_came_before_it() {
    let (mut k, t0) = offered();
    assert_eq!(k.handle(remote_ice(1), t0), [], "held: no answer yet");
    assert_eq!(k.handle(remote_ice(2), t0), []);
    assert_eq!(
        k.handle(answer("answer-1"), t0),
        [
            applied("answer-1"),
            Output::AddCandidate(candidate(1)),
            Output::AddCandidate(candidate(2))
        ]
    );
    assert_eq!(
        k.handle(remote_ice(3), t0),
        [Output::AddCandidate(candidate(3))],
        "once connected, candidates go straight in"
    );
}

#[test]
fn a_duplicate_or_stray_answer_during_a_call_is_ignored() {
    let (mut k, t0) = connected();
    for stray in ["answer-1", "v=0 from somebody else"] {
        assert_eq!(
            k.handle(answer(stray), t0),
            [Output::Ignore(Ignored::AnswerWithoutOffer)]
        );
    }
    assert_eq!(
        k.handle(remote_ice(4), t0),
        [Output::AddCandidate(candidate(4))],
        "the call goes on"
    );
}

#[test]
fn an_answer_before_any_offer_is_ignored() {
    let (mut k, t0) = kiosk();
    assert_eq!(
        k.handle(answer("early"), t0),
        [Output::Ignore(Ignored::AnswerWithoutOffer)]
    );
    k.handle(hello(false), t0);
    k.handle(Input::NegotiationNeeded, t0);
    assert_eq!(
        k.handle(answer("early"), t0),
        [Output::Ignore(Ignored::AnswerWithoutOffer)],
        "the offer is still being made: nobody can have answered it"
    );
}

#[test]
fn candidates_without_a_connection_of_the_other_side_are_ignored() {
    let (mut k, t0) = kiosk();
    assert_eq!(
        k.handle(remote_ice(1), t0),
        [Output::Ignore(Ignored::CandidateWithoutConnection)]
    );
    let empty = Input::Received(Signal::Ice {
        mline: 0,
        candidate: String::new(),
    });
    assert_eq!(
        k.handle(empty, t0),
        [],
        "the end of the candidates needs nothing"
    );
}

#[test]
fn early_candidates_are_bounded() {
    let (mut k, t0) = offered();
    for n in 0..EARLY_CANDIDATES as u32 {
        assert_eq!(k.handle(remote_ice(n), t0), []);
    }
    assert_eq!(
        k.handle(remote_ice(999), t0),
        [Output::Ignore(Ignored::TooManyCandidates)]
    );
    let out = k.handle(answer("answer-1"), t0);
    assert_eq!(out.len(), 1 + EARLY_CANDIDATES);
}

#[test]
fn a_doctor_who_reloads_during_the_call_gets_a_fresh_connection_and_offer() {
    let (mut k, t0) = connected();
    assert_eq!(
        k.handle(hello(false), t0),
        [reply_to_doctor(), joined(), Output::NewConnection]
    );
    assert_eq!(
        k.handle(Input::NegotiationNeeded, t0),
        [Output::CreateOffer]
    );
    assert_eq!(
        k.handle(Input::OfferMade("offer-2".into()), t0),
        [Output::Send(Signal::Offer {
            sdp: "offer-2".into()
        })]
    );
    assert_eq!(k.handle(answer("answer-2"), t0), [applied("answer-2")]);
}

#[test]
fn a_burst_of_hellos_is_answered_one_by_one_but_renews_the_connection_once() {
    let (mut k, t0) = connected();
    let mut out = Vec::new();
    for _ in 0..200 {
        out.extend(k.handle(hello(false), t0));
    }
    assert_eq!(
        count(&out, &reply_to_doctor()),
        200,
        "rule 1: one reply each"
    );
    assert_eq!(count(&out, &Output::NewConnection), 1);
    assert_eq!(
        count(&out, &joined()),
        200,
        "each reported: the flow counts its time to connect from the latest"
    );
    let mut out = k.handle(Input::NegotiationNeeded, t0);
    for _ in 0..50 {
        out.extend(k.handle(hello(false), t0));
    }
    out.extend(k.handle(Input::OfferMade("offer-2".into()), t0));
    assert_eq!(
        count(&out, &Output::CreateOffer),
        1,
        "one offer for all of them"
    );
    assert_eq!(count(&out, &Output::NewConnection), 0);
    assert_eq!(
        k.handle(answer("answer-2"), t0),
        [applied("answer-2")],
        "hellos that came before the offer went out do not make it stale"
    );
}

#[test]
fn a_hello_after_the_offer_went_out_renews_the_connection_when_its_answer_comes() {
    let (mut k, t0) = offered();
    assert_eq!(k.handle(hello(false), t0), [reply_to_doctor(), joined()]);
    let later = t0 + Duration::from_secs(1);
    assert_eq!(k.handle(hello(false), later), [reply_to_doctor(), joined()]);
    assert_eq!(
        k.next_deadline(),
        Some(t0 + ANSWER_WAIT),
        "counted from the first hello after the offer"
    );
    assert_eq!(
        k.handle(answer("answer-1"), t0),
        [Output::Ignore(Ignored::StaleAnswer), Output::NewConnection],
        "an answer cannot say which offer it answers: the connection starts afresh"
    );
    assert_eq!(k.next_deadline(), None);
    assert_eq!(
        k.handle(Input::NegotiationNeeded, t0),
        [Output::CreateOffer]
    );
}

#[test]
fn a_stale_offer_whose_answer_never_comes_gives_way_after_the_wait() {
    let (mut k, t0) = offered();
    k.handle(hello(false), t0);
    let almost = t0 + ANSWER_WAIT - Duration::from_millis(1);
    assert_eq!(k.handle(Input::Tick, almost), []);
    assert_eq!(
        k.handle(Input::Tick, t0 + ANSWER_WAIT),
        [Output::NewConnection]
    );
    assert_eq!(k.next_deadline(), None);
}

#[test]
fn offers_to_the_kiosk_and_answers_to_the_doctor_do_not_fit_their_role() {
    let (mut k, t0) = connected();
    assert_eq!(
        k.handle(offer("v=0"), t0),
        [Output::Ignore(Ignored::WrongRole)]
    );
    let (mut d, _) = Signalling::start(Role::Answerer, Hello::new(DOCTOR));
    assert_eq!(
        d.handle(answer("v=0"), t0),
        [Output::Ignore(Ignored::WrongRole)]
    );
}

#[test]
fn the_doctor_answers_every_offer_with_a_fresh_connection() {
    let t0 = Instant::now();
    let (mut d, out) = Signalling::start(Role::Answerer, Hello::new(DOCTOR));
    assert_eq!(
        out,
        [Output::Send(Signal::Hello(Hello::new(DOCTOR)))],
        "the answerer builds nothing until an offer comes"
    );
    let kiosk_hello = |reply| {
        Input::Received(Signal::Hello(Hello {
            reply,
            ..Hello::new(PATIENT)
        }))
    };
    let patient = Output::Report(CallReport::PeerJoined {
        name: PATIENT.into(),
    });
    assert_eq!(d.handle(kiosk_hello(true), t0), [patient]);
    assert_eq!(
        d.handle(remote_ice(1), t0),
        [Output::Ignore(Ignored::CandidateWithoutConnection)]
    );
    assert_eq!(
        d.handle(offer("offer-1"), t0),
        [Output::TakeOffer("offer-1".into())]
    );
    assert_eq!(
        d.handle(remote_ice(2), t0),
        [],
        "held until the offer is set"
    );
    assert_eq!(
        d.handle(Input::RemoteOfferSet, t0),
        [Output::CreateAnswer, Output::AddCandidate(candidate(2))]
    );
    assert_eq!(
        d.handle(Input::AnswerMade("answer-1".into()), t0),
        [Output::Send(Signal::Answer {
            sdp: "answer-1".into()
        })]
    );
    assert_eq!(
        d.handle(kiosk_hello(true), t0),
        [],
        "a reply to someone else's hello is no news"
    );
    assert_eq!(
        d.handle(offer("offer-2"), t0),
        [Output::TakeOffer("offer-2".into())]
    );
}

#[test]
fn bye_from_the_other_side_ends_the_session_and_nothing_after_it_counts() {
    let (mut k, t0) = connected();
    assert_eq!(
        k.handle(
            Input::Received(Signal::Bye {
                reason: ByeReason::Unknown
            }),
            t0
        ),
        [
            Output::Report(CallReport::RemoteBye(ByeReason::Unknown)),
            Output::Stop
        ],
        "a bye of any reason, known or not, ends it; no bye goes back"
    );
    assert!(k.is_over());
    assert_eq!(
        k.handle(hello(false), t0),
        [Output::Ignore(Ignored::AfterBye)]
    );
    assert_eq!(k.handle(Input::Leave(Some(ByeReason::Hangup)), t0), []);
}

#[test]
fn leaving_says_bye_with_the_reason_if_there_is_one() {
    let (mut k, t0) = offered();
    assert_eq!(
        k.handle(Input::Leave(Some(ByeReason::Timeout)), t0),
        [
            Output::Send(Signal::Bye {
                reason: ByeReason::Timeout
            }),
            Output::Stop
        ]
    );
    let (mut k, t0) = kiosk();
    assert_eq!(
        k.handle(Input::Leave(None), t0),
        [Output::Stop],
        "the kiosk's owner said bye itself"
    );
}

#[test]
fn our_candidates_and_the_end_of_gathering_go_out() {
    let (mut k, t0) = offered();
    assert_eq!(
        k.handle(Input::LocalCandidate(candidate(7)), t0),
        [Output::Send(Signal::Ice {
            mline: 0,
            candidate: candidate(7).candidate
        })]
    );
    assert_eq!(
        k.handle(Input::GatheringDone, t0),
        [Output::Send(Signal::Ice {
            mline: 0,
            candidate: String::new()
        })]
    );
}

#[test]
fn a_lost_path_is_recovered_by_a_fresh_offer_from_the_kiosk() {
    let (mut k, t0) = connected();
    assert_eq!(k.handle(Input::Renew, t0), [Output::NewConnection]);
    assert_eq!(
        k.handle(Input::Renew, t0),
        [],
        "a renewal under way is not started twice"
    );
    assert_eq!(
        k.handle(Input::NegotiationNeeded, t0),
        [Output::CreateOffer]
    );
    let (mut waiting, t0) = kiosk();
    assert_eq!(
        waiting.handle(Input::Renew, t0),
        [],
        "nobody to recover a call with yet"
    );
}

#[test]
fn the_doctors_side_recovers_by_saying_hello_and_takes_the_kiosks_servers() {
    let t0 = Instant::now();
    let (mut d, _) = Signalling::start(Role::Answerer, Hello::new(DOCTOR));
    assert_eq!(d.handle(Input::Renew, t0), [], "no call to recover yet");
    let kiosk_hello = Hello {
        ice_servers: vec![crate::wire::IceServer {
            urls: vec!["stun:198.18.0.10:3478".into()],
            username: None,
            credential: None,
        }],
        reconnect_s: Some(45),
        ..Hello::new(PATIENT)
    };
    let out = d.handle(Input::Received(Signal::Hello(kiosk_hello.clone())), t0);
    assert_eq!(
        out[..2],
        [
            Output::Send(Signal::Hello(Hello::new(DOCTOR).as_reply())),
            Output::Adopt(kiosk_hello)
        ],
        "{out:?}"
    );
    d.handle(offer("offer-1"), t0);
    d.handle(Input::RemoteOfferSet, t0);
    assert_eq!(
        d.handle(Input::Renew, t0),
        [Output::Send(Signal::Hello(Hello::new(DOCTOR)))],
        "a hello that is no reply makes the kiosk offer afresh (rule 3)"
    );
}

mod abuse;
mod windows;
