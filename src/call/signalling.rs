//! The call's signalling rules (protocol.md section 5) as a machine without I/O: it is fed what
//! arrives (messages from the other side, what webrtcbin made) and answers with what to do (send
//! a message, make a fresh connection, create an offer, apply an answer, …). No GStreamer, no
//! MQTT, no clock inside; the call task (`session.rs`) carries the outputs out.
//!
//! The offerer (the kiosk) keeps at most one offer unanswered. Answers carry nothing that ties
//! them to the offer they answer, and the doctor answers every offer with a fresh connection, so
//! two offers in flight would leave the kiosk unable to tell which answer belongs to its current
//! connection. Hellos that arrive while an offer is being made join that offer; a hello that
//! arrives once the offer is out marks it stale, and the connection is renewed when its answer
//! arrives or after [`ANSWER_WAIT`]. Anything that does not fit the state is ignored and named
//! ([`Ignored`]), never applied: a stray answer or a burst of hellos cannot end a running call.
//!
//! One doctor's window holds a running call: the kiosk remembers the `nonce` of the hello it
//! connected with, and a hello with another one, while that window's media flow, is told `busy`
//! and changes nothing (rule 10). Before the call runs, and once its media stopped, the latest
//! window is the one the kiosk offers to.

use std::fmt;
use std::time::{Duration, Instant};

use super::{CallReport, Role};
use crate::wire::{ByeReason, Hello, Signal};

/// How long an offer that a later hello made stale waits for its answer before the connection is
/// renewed anyway (the doctor who said hello may never have seen that offer). An answer takes a
/// doctor's side well under a second; this leaves room for a slow broker.
pub const ANSWER_WAIT: Duration = Duration::from_secs(5);

/// The least time between two connections renewed for the doctor's hellos (rule 3). A reload
/// takes the doctor's browser longer than this; hellos faster than that, a flood, get their
/// replies at once, but the connection (a whole new pipeline, ICE session and DTLS handshake)
/// is renewed only once this passed since the last renewal, for all of them.
pub(crate) const RENEW_GAP: Duration = Duration::from_secs(5);

/// The most remote candidates held for a connection whose description is not set yet. A
/// connection gathers a handful; more is a peer that floods.
const EARLY_CANDIDATES: usize = 64;

/// A trickled ICE candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub mline: u32,
    pub candidate: String,
}

/// What the machine is told.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A message from the other side.
    Received(Signal),
    /// webrtcbin: the current connection can make an offer.
    NegotiationNeeded,
    /// webrtcbin made our offer (its SDP).
    OfferMade(String),
    /// webrtcbin made our answer (its SDP).
    AnswerMade(String),
    /// The other side's offer is set on our connection.
    RemoteOfferSet,
    /// Our connection gathered a candidate.
    LocalCandidate(Candidate),
    /// Our connection gathered all its candidates.
    GatheringDone,
    /// We leave, saying `bye` with the reason if there is one.
    Leave(Option<ByeReason>),
    /// The connection lost its path (ICE failed, or the network changed under it) and the
    /// call should recover: the offerer makes a fresh connection and offers again; the
    /// answerer says hello, which makes the offerer do so (rule 3).
    Renew,
    /// Media stopped coming (`true`) or came again (`false`) in a call where they flowed.
    MediaQuiet(bool),
    /// Time passed (see [`Signalling::next_deadline`]).
    Tick,
}

/// What the call task must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Send(Signal),
    Report(CallReport),
    /// Replace the connection with a fresh one, or make the first: a new ICE session and new
    /// DTLS keys.
    NewConnection,
    /// The answerer's fresh connection for this offer, with the offer set on it.
    TakeOffer(String),
    CreateOffer,
    CreateAnswer,
    /// Set the other side's answer on our connection.
    ApplyAnswer(String),
    AddCandidate(Candidate),
    /// The answerer takes the ICE servers and the reconnect window the offerer's hello names.
    Adopt(Hello),
    /// The offerer's next connections send this video codec (`VP8` or `H264`): the one the
    /// doctor's side can take (rule 7). A fresh connection follows.
    VideoCodec(&'static str),
    /// An input that did not fit, left alone; the call task logs it.
    Ignore(Ignored),
    /// The session is over: end the call task.
    Stop,
}

/// Why an input was left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignored {
    /// An offer reached the offerer, or an answer the answerer.
    WrongRole,
    /// An answer while no offer of ours waits for one: a duplicate, a stray, or one too early.
    AnswerWithoutOffer,
    /// The answer to an offer a later hello made stale: the connection is renewed instead.
    StaleAnswer,
    /// A candidate for a connection of the other side that ours does not know (yet).
    CandidateWithoutConnection,
    /// More candidates than a connection has, before its description was set.
    TooManyCandidates,
    /// A message after the session ended.
    AfterBye,
    /// An answer to our offer whose SDP does not fit it (other m-lines, payload types or
    /// codecs, or malformed): the offer keeps waiting for one that does.
    AnswerDoesNotFit,
    /// A relayed candidate of the other side while the fleet allows no relay.
    RelayNotAllowed,
    /// A hello of another of the doctor's windows while the call runs: told `busy`.
    Busy,
    /// A hello whose `nonce` no window makes (too long, odd characters).
    BadNonce,
    /// A `busy` for another of the doctor's windows, or one reaching the kiosk.
    BusyForAnother,
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::WrongRole => "a signalling message that does not fit our role",
            Self::AnswerWithoutOffer => "an answer while no offer waits for one",
            Self::StaleAnswer => "the answer to an offer a later hello replaced",
            Self::CandidateWithoutConnection => "an ICE candidate without a connection",
            Self::TooManyCandidates => "ICE candidates beyond the limit",
            Self::AfterBye => "a message after the session ended",
            Self::AnswerDoesNotFit => "an answer whose SDP does not fit our offer",
            Self::RelayNotAllowed => "a relayed ICE candidate where the fleet allows no relay",
            Self::Busy => "a hello of another window while the call runs (told busy)",
            Self::BadNonce => "a hello with a malformed nonce",
            Self::BusyForAnother => "a busy meant for another window",
        })
    }
}

/// The offerer's side of the session (the kiosk).
#[derive(Debug, Clone, PartialEq)]
enum Offerer {
    /// Our connection is built (the camera runs for the self-view); nobody to offer to yet.
    /// `ready`: the connection has asked to negotiate.
    Alone { ready: bool },
    /// The doctor is there; the (new) connection is not ready to offer yet.
    Preparing,
    /// webrtcbin is making our offer.
    Offering,
    /// Our offer is out and waits for its answer; candidates that come first wait with it.
    /// `renew_by`: a hello came after the offer went out, so this offer is stale.
    Offered {
        early: Vec<Candidate>,
        renew_by: Option<Instant>,
        /// Our offer's SDP, which the answer must fit.
        offer: String,
    },
    /// The answer is set; ICE and DTLS take it from here.
    Connected,
}

/// The answerer's side of the session (the doctor).
#[derive(Debug, Clone, PartialEq)]
enum Answerer {
    /// No offer yet.
    Listening,
    /// A fresh connection takes the offer; candidates wait until it is set.
    TakingOffer { early: Vec<Candidate> },
    /// The offer is set: the answer is being made or is out, and candidates go straight in.
    Answering,
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    Offerer(Offerer),
    Answerer(Answerer),
    /// `bye` was said or heard.
    Over,
}

/// One side's signalling in one session. Its `Debug` shows the state, never our name (the
/// patient's, on the kiosk).
pub struct Signalling {
    /// Our `hello`: the patient's name on the kiosk, the doctor's on the doctor's side.
    hello: Hello,
    state: State,
    /// The offerer: when hellos last renewed the connection, and a renewal that waits for
    /// [`RENEW_GAP`] to pass since.
    renewed_at: Option<Instant>,
    renew_at: Option<Instant>,
    /// Whether the session may run through a TURN relay: only where the fleet allows it, which
    /// the kiosk's hello shows by naming a TURN server (protocol.md 5, rule 7).
    relay_allowed: bool,
    /// The offerer: the `nonce` of the doctor's window it offers to (none before the first
    /// hello; an empty one for a window that sends none).
    window: Option<String>,
    /// The offerer: whether that window holds the call, which it does from its first answer
    /// on, across its own reloads, for as long as media flow. A window gone for good (closed,
    /// its device off) lets go once its media stop, so the doctor's next window gets the call.
    held: bool,
    /// The offerer: the video codec it would rather send, and the one its connection sends.
    video: (&'static str, &'static str),
}

impl fmt::Debug for Signalling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signalling")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Signalling {
    /// Joins the session: hello at once; the offerer also builds its connection, so the camera
    /// shows in the waiting room and the offer can go out as soon as the doctor is there.
    pub fn start(role: Role, hello: Hello) -> (Self, Vec<Output>) {
        let mut outputs = vec![Output::Send(Signal::Hello(hello.clone()))];
        let state = match role {
            Role::Offerer => {
                outputs.push(Output::NewConnection);
                State::Offerer(Offerer::Alone { ready: false })
            }
            Role::Answerer => State::Answerer(Answerer::Listening),
        };
        let machine = Self {
            relay_allowed: names_turn(&hello),
            hello,
            state,
            renewed_at: None,
            renew_at: None,
            window: None,
            held: false,
            video: ("VP8", "VP8"),
        };
        (machine, outputs)
    }

    /// The offerer's connection sends `codec` (`VP8` or `H264`), which it also prefers: a
    /// doctor's side that cannot take it gets VP8 instead (rule 7).
    pub fn sending(mut self, codec: &'static str) -> Self {
        self.video = (codec, codec);
        self
    }

    /// When [`Input::Tick`] next has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        match &self.state {
            State::Offerer(Offerer::Offered { renew_by, .. }) => *renew_by,
            State::Offerer(Offerer::Connected) => self.renew_at,
            _ => None,
        }
    }

    pub fn is_over(&self) -> bool {
        self.state == State::Over
    }

    pub fn handle(&mut self, input: Input, now: Instant) -> Vec<Output> {
        if self.is_over() {
            return match input {
                Input::Received(_) => vec![Output::Ignore(Ignored::AfterBye)],
                _ => Vec::new(),
            };
        }
        let mut outputs: Vec<Output> = match input {
            Input::Received(Signal::Bye { reason }) => {
                self.state = State::Over;
                vec![Output::Report(CallReport::RemoteBye(reason)), Output::Stop]
            }
            Input::Leave(bye) => {
                self.state = State::Over;
                let bye = bye.map(|reason| Output::Send(Signal::Bye { reason }));
                bye.into_iter().chain([Output::Stop]).collect()
            }
            Input::Received(Signal::Hello(hello)) => self.hello(hello, now),
            Input::Received(Signal::Busy { nonce }) => self.busy(&nonce),
            Input::Renew => {
                self.held = false;
                self.renew()
            }
            Input::MediaQuiet(quiet) => {
                self.held = !quiet && self.window.is_some();
                Vec::new()
            }
            Input::Received(Signal::Ice { candidate, .. }) if candidate.is_empty() => {
                // The other side finished gathering: webrtcbin needs no word of it.
                Vec::new()
            }
            Input::Received(Signal::Ice { mline, candidate }) => {
                self.remote_candidate(Candidate { mline, candidate })
            }
            Input::LocalCandidate(Candidate { mline, candidate }) => {
                vec![Output::Send(Signal::Ice { mline, candidate })]
            }
            Input::GatheringDone => vec![Output::Send(Signal::Ice {
                mline: 0,
                candidate: String::new(),
            })],
            _ => match &mut self.state {
                State::Offerer(offerer) => offerer.handle(input),
                State::Answerer(answerer) => answerer.handle(input),
                State::Over => Vec::new(),
            },
        };
        if outputs.iter().any(|o| matches!(o, Output::ApplyAnswer(_))) {
            self.held = true;
        }
        outputs.extend(self.tick(now));
        // Whatever made a fresh connection also did what a waiting renewal would.
        if outputs.contains(&Output::NewConnection) {
            self.renew_at = None;
        }
        outputs
    }

    /// Rule 1: answer every hello that is not a reply with exactly one reply; never answer a
    /// reply. What a hello does beyond that depends on where the session stands.
    fn hello(&mut self, hello: Hello, now: Instant) -> Vec<Output> {
        if let Some(refusal) = self.other_window(&hello) {
            return refusal;
        }
        let mut outputs = Vec::new();
        let reply = hello.reply;
        if !reply {
            outputs.push(Output::Send(Signal::Hello(self.hello.as_reply())));
        }
        if matches!(self.state, State::Answerer(_))
            && (!hello.ice_servers.is_empty() || hello.reconnect_s.is_some())
        {
            self.relay_allowed = names_turn(&hello);
            outputs.push(Output::Adopt(hello.clone()));
        }
        let codec = self.codec_for(&hello.video_codecs);
        let joined = Output::Report(CallReport::PeerJoined { name: hello.name });
        match &mut self.state {
            // Rule 7: the doctor's side cannot take what the connection sends; a fresh one
            // sends what it can, and the offer follows once that is ready.
            State::Offerer(offerer) if codec != self.video.1 => {
                outputs.push(joined);
                self.video.1 = codec;
                *offerer = Offerer::Preparing;
                self.renewed_at = Some(now);
                self.renew_at = None;
                outputs.extend([Output::VideoCodec(codec), Output::NewConnection]);
            }
            State::Offerer(offerer) => {
                // Every hello of the doctor's is news to the flow (it counts the time to connect
                // from the latest); a reply is news only while the kiosk was alone.
                if !reply || matches!(offerer, Offerer::Alone { .. }) {
                    outputs.push(joined);
                }
                // Rule 3, rate-limited: a renewal within RENEW_GAP of the last waits for it.
                let too_soon = self.renewed_at.is_some_and(|at| now < at + RENEW_GAP);
                if !reply && *offerer == Offerer::Connected && too_soon {
                    self.renew_at
                        .get_or_insert(self.renewed_at.unwrap_or(now) + RENEW_GAP);
                    return outputs;
                }
                let renewals = offerer.hello(reply, now);
                if renewals.contains(&Output::NewConnection) {
                    self.renewed_at = Some(now);
                    self.renew_at = None;
                }
                outputs.extend(renewals);
            }
            // A reply tells the doctor the kiosk is there only before the first offer; later
            // ones answer hellos the kiosk saw from someone else (a reload, a second tab).
            State::Answerer(answerer) if !reply || *answerer == Answerer::Listening => {
                outputs.push(joined);
            }
            State::Answerer(_) | State::Over => {}
        }
        outputs
    }

    /// Recovery after the path was lost. Only a connection that was answered needs it: one on
    /// its way will connect on the current network anyway.
    fn renew(&mut self) -> Vec<Output> {
        match &mut self.state {
            State::Offerer(offerer @ (Offerer::Connected | Offerer::Offered { .. })) => {
                *offerer = Offerer::Preparing;
                vec![Output::NewConnection]
            }
            State::Answerer(Answerer::Answering) => {
                vec![Output::Send(Signal::Hello(self.hello.clone()))]
            }
            _ => Vec::new(),
        }
    }

    fn remote_candidate(&mut self, candidate: Candidate) -> Vec<Output> {
        if !self.relay_allowed && is_relay(&candidate.candidate) {
            return vec![Output::Ignore(Ignored::RelayNotAllowed)];
        }
        let early = match &mut self.state {
            State::Offerer(Offerer::Connected) | State::Answerer(Answerer::Answering) => {
                return vec![Output::AddCandidate(candidate)];
            }
            State::Offerer(Offerer::Offered { early, .. })
            | State::Answerer(Answerer::TakingOffer { early }) => early,
            _ => return vec![Output::Ignore(Ignored::CandidateWithoutConnection)],
        };
        if early.len() >= EARLY_CANDIDATES {
            return vec![Output::Ignore(Ignored::TooManyCandidates)];
        }
        early.push(candidate);
        Vec::new()
    }

    /// A stale offer whose answer did not come in time gives way to a fresh connection, and so
    /// does a connection whose renewal waited for [`RENEW_GAP`].
    fn tick(&mut self, now: Instant) -> Vec<Output> {
        match &self.state {
            State::Offerer(Offerer::Offered {
                renew_by: Some(by), ..
            }) if now >= *by => {
                self.state = State::Offerer(Offerer::Preparing);
                vec![Output::NewConnection]
            }
            State::Offerer(Offerer::Connected) if self.renew_at.is_some_and(|at| now >= at) => {
                self.state = State::Offerer(Offerer::Preparing);
                self.renewed_at = Some(now);
                self.renew_at = None;
                vec![Output::NewConnection]
            }
            _ => Vec::new(),
        }
    }
}

/// Whether a hello names a TURN server (the kiosk's does only where relaying is allowed).
fn names_turn(hello: &Hello) -> bool {
    hello
        .ice_servers
        .iter()
        .flat_map(|server| &server.urls)
        .any(|url| url.starts_with("turn:") || url.starts_with("turns:"))
}

/// Whether an ICE candidate line is a relayed one (`… typ relay …`).
fn is_relay(candidate: &str) -> bool {
    let mut words = candidate.split_whitespace();
    words.any(|w| w == "typ") && words.next() == Some("relay")
}

impl Offerer {
    /// A hello from the doctor: what it does beyond the reply.
    fn hello(&mut self, reply: bool, now: Instant) -> Vec<Output> {
        match self {
            // Rule 2: offer once the doctor is there, on their hello or their reply to ours.
            Self::Alone { ready: true } => {
                *self = Self::Offering;
                vec![Output::CreateOffer]
            }
            Self::Alone { ready: false } => {
                *self = Self::Preparing;
                Vec::new()
            }
            // A reply to our hello while we already offer or are connected changes nothing.
            _ if reply => Vec::new(),
            // The offer under way reaches this doctor too.
            Self::Preparing | Self::Offering => Vec::new(),
            // The offer that is out may have missed this doctor: renew once it is answered,
            // counting from the first such hello.
            Self::Offered { renew_by, .. } => {
                renew_by.get_or_insert(now + ANSWER_WAIT);
                Vec::new()
            }
            // Rule 3: the doctor reloaded. A fresh connection, and a fresh offer once it is ready.
            Self::Connected => {
                *self = Self::Preparing;
                vec![Output::NewConnection]
            }
        }
    }

    fn handle(&mut self, input: Input) -> Vec<Output> {
        match (&mut *self, input) {
            (Self::Alone { ready }, Input::NegotiationNeeded) => {
                *ready = true;
                Vec::new()
            }
            (Self::Preparing, Input::NegotiationNeeded) => {
                *self = Self::Offering;
                vec![Output::CreateOffer]
            }
            (Self::Offering, Input::OfferMade(sdp)) => {
                *self = Self::Offered {
                    early: Vec::new(),
                    renew_by: None,
                    offer: sdp.clone(),
                };
                vec![Output::Send(Signal::Offer { sdp })]
            }
            (Self::Offered { offer, .. }, Input::Received(Signal::Answer { sdp }))
                if super::sdp_check::answer_fits(offer, &sdp).is_err() =>
            {
                vec![Output::Ignore(Ignored::AnswerDoesNotFit)]
            }
            (
                Self::Offered {
                    renew_by: Some(_), ..
                },
                Input::Received(Signal::Answer { .. }),
            ) => {
                *self = Self::Preparing;
                vec![Output::Ignore(Ignored::StaleAnswer), Output::NewConnection]
            }
            (Self::Offered { early, .. }, Input::Received(Signal::Answer { sdp })) => {
                let early = std::mem::take(early);
                *self = Self::Connected;
                std::iter::once(Output::ApplyAnswer(sdp))
                    .chain(early.into_iter().map(Output::AddCandidate))
                    .collect()
            }
            (_, Input::Received(Signal::Answer { .. })) => {
                vec![Output::Ignore(Ignored::AnswerWithoutOffer)]
            }
            (_, Input::Received(Signal::Offer { .. })) => vec![Output::Ignore(Ignored::WrongRole)],
            // webrtcbin may ask to negotiate again once connected, and descriptions of a
            // replaced connection may still arrive: neither changes the session.
            _ => Vec::new(),
        }
    }
}

impl Answerer {
    fn handle(&mut self, input: Input) -> Vec<Output> {
        match (&mut *self, input) {
            // Rule 4: every offer gets a fresh connection of its own.
            (_, Input::Received(Signal::Offer { sdp })) => {
                *self = Self::TakingOffer { early: Vec::new() };
                vec![Output::TakeOffer(sdp)]
            }
            (Self::TakingOffer { early }, Input::RemoteOfferSet) => {
                let early = std::mem::take(early);
                *self = Self::Answering;
                std::iter::once(Output::CreateAnswer)
                    .chain(early.into_iter().map(Output::AddCandidate))
                    .collect()
            }
            (Self::Answering, Input::AnswerMade(sdp)) => {
                vec![Output::Send(Signal::Answer { sdp })]
            }
            (_, Input::Received(Signal::Answer { .. })) => {
                vec![Output::Ignore(Ignored::WrongRole)]
            }
            _ => Vec::new(),
        }
    }
}

mod window;

#[cfg(test)]
mod tests;
