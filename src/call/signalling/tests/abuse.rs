//! What a peer that floods or lies cannot do to a call: hellos faster than a reload, an answer
//! whose SDP does not fit the offer, relayed candidates where the fleet allows no relay.

use super::*;

/// The kiosk, connected again after a reload at `t0`.
fn reconnected(k: &mut Signalling, at: Instant, n: u32) {
    k.handle(Input::NegotiationNeeded, at);
    k.handle(Input::OfferMade(format!("offer-{n}")), at);
    assert_eq!(
        k.handle(answer(&format!("answer-{n}")), at),
        [applied(&format!("answer-{n}"))]
    );
}

#[test]
fn hellos_faster_than_a_reload_renew_the_connection_at_most_once_per_gap() {
    let (mut k, t0) = connected();
    // The first reload renews at once.
    assert_eq!(
        count(&k.handle(hello(false), t0), &Output::NewConnection),
        1
    );
    reconnected(&mut k, t0, 2);
    // A hello a second later, and one a second after that: replied to, but the connection
    // is renewed only when the gap since the last renewal has passed, once for both.
    let second = Duration::from_secs(1);
    for n in 1..=2 {
        let out = k.handle(hello(false), t0 + second * n);
        assert_eq!(out, [reply_to_doctor(), joined()], "hello {n}");
    }
    assert_eq!(k.next_deadline(), Some(t0 + RENEW_GAP));
    assert!(k.handle(Input::Tick, t0 + RENEW_GAP - second).is_empty());
    assert_eq!(
        k.handle(Input::Tick, t0 + RENEW_GAP),
        [Output::NewConnection]
    );
    assert_eq!(k.next_deadline(), None);
    reconnected(&mut k, t0 + RENEW_GAP, 3);
    // A reload long after goes through at once again.
    let later = t0 + RENEW_GAP * 3;
    assert_eq!(
        k.handle(hello(false), later),
        [reply_to_doctor(), joined(), Output::NewConnection]
    );
}

#[test]
fn an_answer_that_does_not_fit_the_offer_is_left_alone_and_the_offer_waits_on() {
    let offer = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 97\r\na=rtpmap:97 OPUS/48000/2\r\n";
    let (mut k, t0) = connected();
    // The doctor reloads; the fresh offer goes out.
    k.handle(hello(false), t0);
    k.handle(Input::NegotiationNeeded, t0);
    k.handle(Input::OfferMade(offer.into()), t0);
    for bad in [
        "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n",
        "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 H264/90000\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 97\r\na=rtpmap:97 OPUS/48000/2\r\n",
    ] {
        assert_eq!(
            k.handle(answer(bad), t0),
            [Output::Ignore(Ignored::AnswerDoesNotFit)]
        );
    }
    let good = answer_sdp("good").replace("v=0\r\n", &offer.replace("OPUS", "opus"));
    // A fitting answer that lacks what its transport needs (here its fingerprint) is left
    // alone before webrtcbin sees it: it cannot end the call.
    let no_fingerprint = good.replace("a=fingerprint:sha-256 0A:1B\r\n", "");
    assert_eq!(
        k.handle(answer(&no_fingerprint), t0),
        [Output::Ignore(Ignored::AnswerDoesNotFit)]
    );
    assert_eq!(k.handle(answer(&good), t0), [applied(&good)]);
}

#[test]
fn relayed_candidates_are_taken_only_where_the_fleet_allows_a_relay() {
    let relayed = "candidate:3 1 UDP 16777215 198.51.100.7 50000 typ relay raddr 0.0.0.0 rport 0";
    let host = "candidate:1 1 UDP 2015363327 192.0.2.10 51234 typ host";
    let ice = |candidate: &str| {
        Input::Received(Signal::Ice {
            mline: 0,
            candidate: candidate.into(),
        })
    };
    // No relay (the legal default): the kiosk's hello names no TURN server.
    let (mut k, t0) = connected();
    assert_eq!(
        k.handle(ice(relayed), t0),
        [Output::Ignore(Ignored::RelayNotAllowed)]
    );
    assert_eq!(k.handle(ice(host), t0).len(), 1, "a host candidate goes in");
    // A fleet that allows relaying names its TURN server in the kiosk's hello; the doctor's
    // side learns it from there.
    let turn = crate::wire::IceServer {
        urls: vec!["turn:turn.example:3478".into()],
        username: Some("u".into()),
        credential: Some("p".into()),
    };
    let kiosk_hello = Hello {
        ice_servers: vec![turn],
        ..Hello::new(PATIENT)
    };
    let (mut k, _) = Signalling::start(Role::Offerer, kiosk_hello.clone());
    assert!(k.relay_allowed);
    let (mut d, _) = Signalling::start(Role::Answerer, Hello::new(DOCTOR));
    assert_eq!(
        d.handle(ice(relayed), Instant::now()),
        [Output::Ignore(Ignored::RelayNotAllowed)],
        "nothing allowed before the kiosk says so"
    );
    d.handle(Input::Received(Signal::Hello(kiosk_hello)), Instant::now());
    assert!(d.relay_allowed);
    assert_ne!(
        k.handle(ice(relayed), Instant::now()),
        [Output::Ignore(Ignored::RelayNotAllowed)]
    );
}
