//! A bare MQTT client for access-control tests: connect once (no retries), subscribe and see
//! whether the broker granted it, publish and see what arrives.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use rumqttc::{Client, Event, MqttOptions, Packet, QoS, SubscribeReasonCode};

#[derive(Debug)]
enum Seen {
    Connected,
    SubAck(Vec<SubscribeReasonCode>),
    PubAck,
    Message(String, Vec<u8>),
    Failed(String),
}

pub struct Probe {
    client: Client,
    seen: mpsc::Receiver<Seen>,
    backlog: Vec<(String, Vec<u8>)>,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe").finish_non_exhaustive()
    }
}

const WAIT: Duration = Duration::from_secs(10);

impl Probe {
    /// Connects, or returns why the broker (or TLS) refused.
    pub fn connect(opts: MqttOptions) -> Result<Self, String> {
        let (client, mut connection) = Client::new(opts, 16);
        let (tx, seen) = mpsc::channel();
        std::thread::spawn(move || {
            for event in connection.iter() {
                let item = match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => Seen::Connected,
                    Ok(Event::Incoming(Packet::SubAck(ack))) => Seen::SubAck(ack.return_codes),
                    Ok(Event::Incoming(Packet::PubAck(_))) => Seen::PubAck,
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        Seen::Message(p.topic.clone(), p.payload.to_vec())
                    }
                    Ok(_) => continue,
                    Err(e) => {
                        let _ = tx.send(Seen::Failed(e.to_string()));
                        return;
                    }
                };
                if tx.send(item).is_err() {
                    return;
                }
            }
        });
        match seen.recv_timeout(WAIT) {
            Ok(Seen::Connected) => Ok(Self {
                client,
                seen,
                backlog: Vec::new(),
            }),
            Ok(Seen::Failed(why)) => Err(why),
            Ok(other) => Err(format!("unexpected first event {other:?}")),
            Err(_) => Err("no answer".into()),
        }
    }

    fn next(&mut self, until: Instant) -> Option<Seen> {
        let left = until.saturating_duration_since(Instant::now());
        match self.seen.recv_timeout(left) {
            Ok(Seen::Message(topic, payload)) => {
                self.backlog.push((topic, payload));
                self.next(until)
            }
            Ok(other) => Some(other),
            Err(_) => None,
        }
    }

    /// Whether the broker granted the subscription.
    pub fn subscribe(&mut self, filter: &str) -> bool {
        self.client.subscribe(filter, QoS::AtLeastOnce).unwrap();
        match self.next(Instant::now() + WAIT) {
            Some(Seen::SubAck(codes)) => codes
                .iter()
                .all(|c| matches!(c, SubscribeReasonCode::Success(_))),
            other => panic!("no SUBACK for {filter}: {other:?}"),
        }
    }

    /// Publishes with QoS 1 and waits for the broker's acknowledgement (MQTT 3.1.1 brokers
    /// acknowledge refused publications too, and drop them).
    pub fn publish(&mut self, topic: &str, payload: &[u8], retain: bool) {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload.to_vec())
            .unwrap();
        match self.next(Instant::now() + WAIT) {
            Some(Seen::PubAck) => {}
            other => panic!("no PUBACK for {topic}: {other:?}"),
        }
    }

    /// Everything received within `within` (and before).
    pub fn received(&mut self, within: Duration) -> Vec<(String, Vec<u8>)> {
        let until = Instant::now() + within;
        while self.next(until).is_some() {}
        std::mem::take(&mut self.backlog)
    }

    /// Whether the broker dropped the connection within `within`.
    pub fn disconnected(&mut self, within: Duration) -> bool {
        let until = Instant::now() + within;
        while let Some(seen) = self.next(until) {
            if matches!(seen, Seen::Failed(_)) {
                return true;
            }
        }
        false
    }
}
