//! An MQTT client that records everything below the test kiosk's topics, for assertions on
//! published states and events.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

use super::{DEVICE, wait_for};

#[derive(Debug, Clone)]
pub struct Watcher {
    seen: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
}

impl Watcher {
    /// A watcher on a plaintext loopback broker.
    pub fn start(port: u16) -> Self {
        let mut opts = MqttOptions::new(Self::client_id(), "127.0.0.1", port);
        opts.set_max_packet_size(1 << 20, 1 << 20);
        Self::start_with(opts)
    }

    /// Client ids must be unique: a second client with the same id would take over the session.
    pub fn client_id() -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        format!(
            "watcher-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// A watcher with given options (e.g. the fleet manager's certificate).
    pub fn start_with(opts: MqttOptions) -> Self {
        let (client, mut connection) = Client::new(opts, 16);
        client
            .subscribe(
                format!("praxiskiosk/v1/devices/{DEVICE}/#"),
                QoS::AtLeastOnce,
            )
            .unwrap();
        let seen: Arc<Mutex<Vec<(String, serde_json::Value)>>> = Arc::default();
        let (record, subscribed) = (seen.clone(), Arc::new(Mutex::new(false)));
        let flag = subscribed.clone();
        std::thread::spawn(move || {
            let _client = client;
            for event in connection.iter() {
                match event {
                    Ok(Event::Incoming(Packet::SubAck(_))) => *flag.lock().unwrap() = true,
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let value =
                            serde_json::from_slice(&p.payload).unwrap_or(serde_json::Value::Null);
                        record.lock().unwrap().push((p.topic.clone(), value));
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        });
        wait_for(
            "the watcher's subscription",
            Duration::from_secs(10),
            || subscribed.lock().unwrap().then_some(()),
        );
        Self { seen }
    }

    fn on(&self, suffix: &str) -> Vec<serde_json::Value> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|(t, _)| t.ends_with(suffix))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Every state the kiosk published, in order.
    pub fn states(&self) -> Vec<String> {
        self.on("/state")
            .iter()
            .filter_map(|v| v["state"].as_str().map(String::from))
            .collect()
    }

    /// Every event the kiosk published, in order.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.on("/events")
    }

    pub fn signals(&self, side: &str) -> Vec<serde_json::Value> {
        self.on(&format!("/{side}"))
    }

    pub fn wait_for_state(&self, state: &str, limit: Duration) {
        let found = crate::harness::poll(limit, || {
            (self.states().last().map(String::as_str) == Some(state)).then_some(())
        });
        assert!(
            found.is_some(),
            "state {state} not published within {limit:?}; states seen: {:?}",
            self.states()
        );
    }

    pub fn wait_for_event(&self, event: &str, limit: Duration) -> serde_json::Value {
        wait_for(&format!("event {event}"), limit, || {
            self.events().into_iter().find(|e| e["event"] == event)
        })
    }
}

/// `true` when `needles` occur in `haystack` in this order (other entries may stand between).
pub fn in_order(haystack: &[String], needles: &[&str]) -> bool {
    let mut rest = haystack.iter();
    needles.iter().all(|n| rest.any(|h| h == n))
}
