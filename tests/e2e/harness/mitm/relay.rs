//! The man in the middle's relay, with the broker admin's certificate on both brokers: what the
//! kiosk and the fleet publish on the fleet's broker reaches the doctor's (forged) broker, and
//! the doctor's signalling goes back. On its way the session's signalling is attacked:
//!
//! - [`Mode::Keyless`]: as protocol v2 leaves a broker's admin, without the session key. He
//!   alters each sealed message he carries and adds one in clear to each side.
//! - [`Mode::WithKey`]: he also holds the session key (from a stolen fleet manager's machine,
//!   or a join link read on the way). He opens each message, seals it again as the other side,
//!   and puts his own two peers (`peers.rs`) between the people: the kiosk's offer is answered
//!   by one, the doctor is offered the other's, and the candidates go to them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use praxiskiosk::fleet::trust::Channel;
use praxiskiosk::wire::{
    self, Hello, SealedSignal, Sender, SessionKey, Signal, SignalMsg, V2, b64url, from_b64url,
};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

use super::peers::{Leg, MitmPeers, PeerOut};

const ROOT: &str = "praxiskiosk/v1";

#[derive(Debug, Clone)]
pub enum Mode {
    Keyless,
    WithKey(SessionKey),
}

/// What the relay did, for the test to compare with what each person saw.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Signalling messages passed on altered, and messages of its own put in clear.
    pub altered: usize,
    pub injected: usize,
    /// The SDPs of the middle: its answer to the kiosk and its offer to the doctor.
    pub answer_to_kiosk: Option<String>,
    pub offer_to_doctor: Option<String>,
}

enum Input {
    /// From the fleet's broker: topic, payload, retained.
    Fleet(String, Vec<u8>, bool),
    /// From the forged broker: the doctor's signalling, the only thing it listens to there.
    Forged(Vec<u8>),
    Peer(PeerOut),
}

#[derive(Debug)]
pub struct Relay {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    report: Arc<Mutex<Report>>,
}

impl Relay {
    /// Joins `fleet` (the fleet's broker) and `forged` (the doctor's) for `session` of `device`.
    pub fn start(
        fleet: MqttOptions,
        forged: MqttOptions,
        device: &str,
        session: &str,
        mode: Mode,
    ) -> Self {
        let (tx, inputs) = mpsc::channel();
        let to_fleet = connect(fleet, &format!("{ROOT}/#"), tx.clone(), |t, p, r| {
            Input::Fleet(t, p, r)
        });
        let doctor_topic = format!("{ROOT}/devices/{device}/sessions/{session}/doctor");
        let to_forged = connect(forged, &doctor_topic, tx.clone(), |_, p, _| {
            Input::Forged(p)
        });
        let (peer_tx, peer_rx) = mpsc::channel();
        let peers = matches!(mode, Mode::WithKey(_)).then(|| MitmPeers::start(peer_tx));
        std::thread::spawn(move || {
            for out in peer_rx {
                if tx.send(Input::Peer(out)).is_err() {
                    return;
                }
            }
        });
        let stop = Arc::new(AtomicBool::new(false));
        let report = Arc::new(Mutex::new(Report::default()));
        let mut middle = Middle {
            to_fleet,
            to_forged,
            kiosk_topic: format!("{ROOT}/devices/{device}/sessions/{session}/kiosk"),
            doctor_topic,
            keys: match &mode {
                Mode::Keyless => None,
                Mode::WithKey(key) => Some((
                    Channel::new(key, session, Sender::Doctor),
                    Channel::new(key, session, Sender::Kiosk),
                )),
            },
            peers,
            report: report.clone(),
            latest: [None, None],
        };
        let running = stop.clone();
        let thread = std::thread::spawn(move || {
            while !running.load(Ordering::Relaxed) {
                if let Ok(input) = inputs.recv_timeout(Duration::from_millis(100)) {
                    middle.handle(input);
                }
            }
        });
        Self {
            stop,
            thread: Some(thread),
            report,
        }
    }

    pub fn report(&self) -> Report {
        self.report.lock().unwrap().clone()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A client of one broker, subscribed to `filter`, each message it gets made an [`Input`].
fn connect(
    options: MqttOptions,
    filter: &str,
    tx: mpsc::Sender<Input>,
    input: fn(String, Vec<u8>, bool) -> Input,
) -> Client {
    let (client, mut connection) = Client::new(options, 64);
    client.subscribe(filter, QoS::AtLeastOnce).unwrap();
    let (subscribed, ready) = mpsc::channel();
    std::thread::spawn(move || {
        for event in connection.iter() {
            match event {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if tx
                        .send(input(p.topic, p.payload.to_vec(), p.retain))
                        .is_err()
                    {
                        return;
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    let _ = subscribed.send(());
                }
                Ok(_) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    });
    // Nothing may pass unseen: the relay is in place before either person says a word.
    ready
        .recv_timeout(Duration::from_secs(30))
        .expect("the relay subscribed");
    client
}

struct Middle {
    to_fleet: Client,
    to_forged: Client,
    kiosk_topic: String,
    doctor_topic: String,
    /// With the key: the doctor's side of the channel (opens the kiosk's, seals to it) and the
    /// kiosk's side (opens the doctor's, seals to the doctor).
    keys: Option<(Channel, Channel)>,
    peers: Option<MitmPeers>,
    report: Arc<Mutex<Report>>,
    /// Without the key: the latest sealed message of the kiosk, and of the doctor.
    latest: [Option<SealedSignal>; 2],
}

impl Middle {
    fn handle(&mut self, input: Input) {
        match input {
            // Its own messages to the kiosk, heard back.
            Input::Fleet(topic, ..) if topic == self.doctor_topic => {}
            Input::Fleet(topic, payload, _) if topic == self.kiosk_topic => {
                self.signalling(Leg::Kiosk, &payload)
            }
            Input::Fleet(topic, payload, retain) => {
                // Everything else (appointments, state) as it is.
                let _ = self
                    .to_forged
                    .publish(topic, QoS::AtLeastOnce, retain, payload);
            }
            Input::Forged(payload) => self.signalling(Leg::Doctor, &payload),
            Input::Peer(PeerOut::Ice {
                leg,
                mline,
                candidate,
            }) => self.send(leg, Signal::Ice { mline, candidate }),
        }
    }

    /// A sealed message of `from` (the kiosk or the doctor), on its way to the other.
    fn signalling(&mut self, from: Leg, payload: &[u8]) {
        let Ok(sealed) = wire::decode_v2::<SealedSignal>(payload) else {
            return;
        };
        if self.keys.is_none() {
            return self.alter(from, sealed);
        }
        let (as_doctor, as_kiosk) = self.keys.as_mut().unwrap();
        let channel = match from {
            Leg::Kiosk => as_doctor,
            Leg::Doctor => as_kiosk,
        };
        let Some(plain) = from_b64url(&sealed.sealed)
            .and_then(|bytes| channel.open(sealed.from, sealed.seq, &bytes).ok())
        else {
            return;
        };
        let signal = wire::decode::<SignalMsg>(&plain).unwrap().signal;
        match (from, signal) {
            (Leg::Kiosk, Signal::Offer { sdp }) => self.come_between(&sdp),
            (Leg::Doctor, Signal::Answer { sdp }) => self.peers().doctor_answered(&sdp),
            (from, Signal::Ice { mline, candidate }) => {
                self.peers().candidate(from, mline, &candidate)
            }
            // Hellos (with the names) and byes go on, sealed again as the other side's.
            (Leg::Kiosk, signal) => self.send(Leg::Doctor, signal),
            (Leg::Doctor, signal) => self.send(Leg::Kiosk, signal),
        }
    }

    fn peers(&self) -> &MitmPeers {
        self.peers
            .as_ref()
            .expect("the middle has peers when it has the key")
    }

    /// The kiosk's offer: answered by the leg that faces the kiosk, while the leg that faces the
    /// doctor offers to the doctor. A later offer (a renewed connection) is not followed.
    fn come_between(&mut self, kiosk_offer: &str) {
        if self.report.lock().unwrap().answer_to_kiosk.is_some() {
            return;
        }
        let answer = self.peers().answer_kiosk(kiosk_offer);
        let offer = self.peers().offer_to_doctor();
        {
            let mut report = self.report.lock().unwrap();
            report.answer_to_kiosk = Some(answer.clone());
            report.offer_to_doctor = Some(offer.clone());
        }
        self.send(Leg::Kiosk, Signal::Answer { sdp: answer });
        self.send(Leg::Doctor, Signal::Offer { sdp: offer });
    }

    /// Seals `signal` as the other side's and publishes it to `to`.
    fn send(&mut self, to: Leg, signal: Signal) {
        let Some((as_doctor, as_kiosk)) = self.keys.as_mut() else {
            return;
        };
        let channel = match to {
            Leg::Kiosk => as_doctor,
            Leg::Doctor => as_kiosk,
        };
        let (seq, sealed) = channel.seal(&wire::encode(&SignalMsg::from(signal)), now_ms());
        let message = SealedSignal {
            v: V2,
            from: channel.me(),
            seq,
            sealed: b64url(&sealed),
        };
        self.publish(to, wire::encode(&message));
    }

    /// Without the key: the message goes on with one bit of its box flipped. Its sender gets
    /// the other side's latest message, flipped too (what it missed if it came late), and
    /// both get a hello of the middle's own, in clear.
    fn alter(&mut self, from: Leg, sealed: SealedSignal) {
        let to = from.other();
        self.latest[from as usize] = Some(sealed.clone());
        self.publish(to, flipped(sealed));
        let mut altered = 1;
        if let Some(missed) = self.latest[to as usize].clone() {
            self.publish(from, flipped(missed));
            altered += 1;
        }
        for side in [Leg::Kiosk, Leg::Doctor] {
            let hello = Signal::Hello(Hello::new("Mallory"));
            self.publish(side, wire::encode(&SignalMsg::from(hello)));
        }
        let mut report = self.report.lock().unwrap();
        report.altered += altered;
        report.injected += 2;
    }

    fn publish(&mut self, to: Leg, payload: Vec<u8>) {
        let (client, topic) = match to {
            Leg::Kiosk => (&self.to_fleet, &self.doctor_topic),
            Leg::Doctor => (&self.to_forged, &self.kiosk_topic),
        };
        let _ = client.publish(topic.clone(), QoS::AtLeastOnce, false, payload);
    }
}

/// `sealed` with the first bit of its box flipped.
fn flipped(mut sealed: SealedSignal) -> Vec<u8> {
    let mut bytes = from_b64url(&sealed.sealed).unwrap_or_default();
    if let Some(first) = bytes.first_mut() {
        *first ^= 1;
    }
    sealed.sealed = b64url(&bytes);
    wire::encode(&sealed)
}

fn now_ms() -> u64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    since.as_millis() as u64
}
