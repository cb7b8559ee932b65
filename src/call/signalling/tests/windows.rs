//! Rule 10: one doctor's window per running call. Another window of the same link (a second
//! tab, another device) is told `busy` and the call goes on; before the call runs, the latest
//! window is the one the kiosk offers to.

use super::*;

fn hello_from(window: &str, reply: bool) -> Input {
    Input::Received(Signal::Hello(Hello {
        reply,
        nonce: Some(window.into()),
        ..Hello::new(DOCTOR)
    }))
}

fn busy_for(window: &str) -> Output {
    Output::Send(Signal::Busy {
        nonce: window.into(),
    })
}

/// The kiosk in a call with window `a`.
fn held_by_a() -> (Signalling, Instant) {
    let (mut k, t0) = kiosk();
    k.handle(Input::NegotiationNeeded, t0);
    assert_eq!(
        k.handle(hello_from("a", false), t0).last(),
        Some(&Output::CreateOffer)
    );
    k.handle(Input::OfferMade("offer-1".into()), t0);
    assert_eq!(k.handle(answer("answer-1"), t0), [applied("answer-1")]);
    (k, t0)
}

#[test]
fn a_second_window_is_told_busy_and_the_running_call_goes_on() {
    let (mut k, t0) = held_by_a();
    let later = t0 + RENEW_GAP * 2;
    for reply in [false, true] {
        assert_eq!(
            k.handle(hello_from("b", reply), later),
            [busy_for("b"), Output::Ignore(Ignored::Busy)],
            "no reply with the patient's hello, no renewal, no news to the flow"
        );
    }
    assert_eq!(k.next_deadline(), None, "no renewal waits either");
    // The window that holds the call still reloads as before (rule 3).
    assert_eq!(
        k.handle(hello_from("a", false), later),
        [reply_to_doctor(), joined(), Output::NewConnection]
    );
}

#[test]
fn a_window_without_a_nonce_is_refused_without_an_echo() {
    let (mut k, t0) = held_by_a();
    assert_eq!(
        k.handle(hello(false), t0 + RENEW_GAP),
        [Output::Ignore(Ignored::Busy)]
    );
}

#[test]
fn before_the_call_runs_the_latest_window_gets_the_offer() {
    let (mut k, t0) = kiosk();
    k.handle(Input::NegotiationNeeded, t0);
    k.handle(hello_from("a", false), t0);
    k.handle(Input::OfferMade("offer-1".into()), t0);
    // Window a closed before answering; b opens the link: the offer that is out is stale.
    assert_eq!(
        k.handle(hello_from("b", false), t0),
        [reply_to_doctor(), joined()]
    );
    assert_eq!(
        k.handle(answer("answer-from-a"), t0),
        [Output::Ignore(Ignored::StaleAnswer), Output::NewConnection]
    );
    k.handle(Input::NegotiationNeeded, t0);
    k.handle(Input::OfferMade("offer-2".into()), t0);
    k.handle(answer("answer-from-b"), t0);
    // b holds the call now, and a coming back is the second window.
    assert_eq!(
        k.handle(hello_from("a", false), t0 + RENEW_GAP),
        [busy_for("a"), Output::Ignore(Ignored::Busy)]
    );
}

#[test]
fn a_nonce_no_window_makes_is_ignored_before_anything_else() {
    let (mut k, t0) = held_by_a();
    for bad in ["a b", "ä", &"x".repeat(crate::wire::NONCE_MAX + 1)] {
        assert_eq!(
            k.handle(hello_from(bad, false), t0),
            [Output::Ignore(Ignored::BadNonce)],
            "{bad:?}"
        );
    }
}

#[test]
fn the_doctors_window_ends_its_session_on_a_busy_for_itself_only() {
    let ours = Hello {
        nonce: Some("a".into()),
        ..Hello::new(DOCTOR)
    };
    let (mut d, _) = Signalling::start(Role::Answerer, ours);
    let now = Instant::now();
    let busy = |window: &str| {
        Input::Received(Signal::Busy {
            nonce: window.into(),
        })
    };
    assert_eq!(
        d.handle(busy("b"), now),
        [Output::Ignore(Ignored::BusyForAnother)]
    );
    assert!(!d.is_over());
    assert_eq!(
        d.handle(busy("a"), now),
        [Output::Report(CallReport::Busy), Output::Stop]
    );
    assert!(d.is_over());
    // The kiosk never takes a busy.
    let (mut k, t0) = kiosk();
    assert_eq!(
        k.handle(busy("a"), t0),
        [Output::Ignore(Ignored::BusyForAnother)]
    );
}

#[test]
fn the_doctors_window_names_itself_with_a_fresh_nonce() {
    let (one, two) = (Hello::from_window(DOCTOR), Hello::from_window(DOCTOR));
    let one = one.nonce.expect("a nonce");
    assert!(crate::wire::nonce_is_valid(&one), "{one}");
    assert_eq!(one.len(), 32);
    assert_ne!(Some(one), two.nonce);
}

#[test]
fn the_holding_window_keeps_the_call_across_its_reloads() {
    let (mut k, t0) = held_by_a();
    let later = t0 + RENEW_GAP * 2;
    assert_eq!(
        count(
            &k.handle(hello_from("a", false), later),
            &Output::NewConnection
        ),
        1
    );
    // While a's fresh connection is being made, b is still the second window.
    assert_eq!(
        k.handle(hello_from("b", false), later),
        [busy_for("b"), Output::Ignore(Ignored::Busy)]
    );
}

#[test]
fn a_window_whose_media_stopped_lets_the_next_one_in() {
    let (mut k, t0) = held_by_a();
    // Window a closed: its media stop, and the kiosk's path fails.
    assert!(k.handle(Input::MediaQuiet(true), t0).is_empty());
    assert_eq!(
        k.handle(hello_from("b", false), t0 + RENEW_GAP),
        [reply_to_doctor(), joined(), Output::NewConnection]
    );
    // Media flow again, now with b: a is the second window.
    k.handle(Input::NegotiationNeeded, t0 + RENEW_GAP);
    k.handle(Input::OfferMade("offer-2".into()), t0 + RENEW_GAP);
    k.handle(answer("answer-from-b"), t0 + RENEW_GAP);
    k.handle(Input::MediaQuiet(false), t0 + RENEW_GAP);
    assert_eq!(
        k.handle(hello_from("a", false), t0 + RENEW_GAP * 3),
        [busy_for("a"), Output::Ignore(Ignored::Busy)]
    );
    // A lost path lets go too.
    k.handle(Input::Renew, t0 + RENEW_GAP * 3);
    assert_eq!(
        k.handle(hello_from("a", false), t0 + RENEW_GAP * 3)[..2],
        [reply_to_doctor(), joined()]
    );
}

/// Rule 7: a kiosk that prefers H.264 sends VP8 to a doctor's side without H.264, and keeps
/// H.264 for one with it (or one that does not say).
#[test]
fn a_doctor_without_the_kiosks_codec_gets_vp8_on_a_fresh_connection() {
    let doctor = |codecs: &[&str]| {
        Input::Received(Signal::Hello(Hello {
            video_codecs: codecs.iter().map(|c| c.to_string()).collect(),
            nonce: Some("a".into()),
            ..Hello::new(DOCTOR)
        }))
    };
    let kiosk = || {
        let (machine, _) = Signalling::start(Role::Offerer, Hello::new(PATIENT));
        let mut machine = machine.sending("H264");
        machine.handle(Input::NegotiationNeeded, Instant::now());
        machine
    };
    let t0 = Instant::now();
    for codecs in [&["VP8", "H264"][..], &["h264"], &[]] {
        let out = kiosk().handle(doctor(codecs), t0);
        assert_eq!(
            out.last(),
            Some(&Output::CreateOffer),
            "{codecs:?}: {out:?}"
        );
    }
    let mut k = kiosk();
    assert_eq!(
        k.handle(doctor(&["VP8", "VP9", "AV1"]), t0),
        [
            reply_to_doctor(),
            joined(),
            Output::VideoCodec("VP8"),
            Output::NewConnection
        ]
    );
    // The fresh connection offers once it is ready; its reloads stay in VP8.
    assert_eq!(
        k.handle(Input::NegotiationNeeded, t0),
        [Output::CreateOffer]
    );
    k.handle(Input::OfferMade("offer-vp8".into()), t0);
    k.handle(answer("answer-vp8"), t0);
    let again = k.handle(doctor(&["VP8"]), t0 + RENEW_GAP);
    assert!(!again.contains(&Output::VideoCodec("VP8")), "{again:?}");
}
