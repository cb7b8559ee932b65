//! The MQTT link: one task owns rumqttc's event loop and nothing else.
//!
//! It polls in a task of its own (publishing from the polling task can deadlock once the request
//! channel is full), waits with jittered exponential backoff between reconnects (rumqttc retries
//! at once), and after every connect re-subscribes and re-publishes the "sticky" retained messages
//! (the kiosk's state), since the last will may have replaced them while we were away.
//! Everyone else holds a [`Link`] handle, which never blocks: a full queue is logged and dropped.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rumqttc::{AsyncClient, Event, LastWill, Outgoing, Packet, QoS};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::backoff::Backoff;
use super::broker::Endpoint;
use super::tls::TlsError;

/// The largest MQTT packet we read. Bigger than protocol v1's payload limit on purpose: an
/// oversize payload must be dropped by the parser with a reason, not kill the connection.
const MAX_INCOMING_PACKET: usize = 1024 * 1024;
const REQUEST_QUEUE: usize = 512;
/// The longest wait between reconnects while the link is urgent (a call waits to recover
/// through it): a few SYNs a second are nothing, seconds more of frozen picture are a lot.
const URGENT_RETRY: Duration = Duration::from_millis(250);
/// The shortest wait before a reconnect while the link is unhurried: a doctor's window whose
/// media flow (they need no broker) and whose connection another window of the same login may
/// have taken over, which needs a moment to read its `busy` and leave (protocol.md 5, rule 10).
const UNHURRIED_RETRY: Duration = Duration::from_secs(5);
/// How long a connect may take (rumqttc's default): TCP, TLS and MQTT's CONNACK.
const CONNECT_TIMEOUT_S: u64 = 5;

#[derive(Debug, Clone)]
pub struct LinkOptions {
    pub client_id: String,
    pub endpoint: Endpoint,
    /// Topic and payload of the retained last will.
    pub last_will: Option<(String, Vec<u8>)>,
    pub keep_alive: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    Connected,
    Disconnected { reason: String, retry_in: Duration },
    Message { topic: String, payload: Bytes },
}

#[derive(Debug, Default)]
struct Shared {
    subscriptions: BTreeSet<String>,
    sticky: BTreeMap<String, Vec<u8>>,
    /// The broker acknowledged our connection, and it has not failed since.
    connected: bool,
}

/// What others ask of the link task besides publishing.
#[derive(Debug, Default)]
struct Steering {
    /// Drop the connection now and make a new one: the network changed under it.
    reconnect: tokio::sync::Notify,
    /// Reconnect at most [`URGENT_RETRY`] apart.
    urgent: std::sync::atomic::AtomicBool,
    /// Reconnect no sooner than [`UNHURRIED_RETRY`] (urgent wins).
    unhurried: std::sync::atomic::AtomicBool,
}

/// What the watchdog asks of the link task: when it last got something back from its loop, and
/// (tests only) a switch that makes it hang for real.
#[derive(Debug)]
struct Pulse {
    since: std::time::Instant,
    last_ms: std::sync::atomic::AtomicU64,
    hang: std::sync::atomic::AtomicBool,
}

impl Pulse {
    fn beat(&self) {
        let ms = self.since.elapsed().as_millis() as u64;
        self.last_ms.store(ms, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A clonable handle to the link task.
#[derive(Debug, Clone)]
pub struct Link {
    client: AsyncClient,
    shared: Arc<Mutex<Shared>>,
    pulse: Arc<Pulse>,
    steering: Arc<Steering>,
}

/// Starts the link task. It runs until [`Link::close`] is called or the event receiver is dropped.
pub fn spawn(
    opts: LinkOptions,
) -> Result<(Link, mpsc::Receiver<LinkEvent>, JoinHandle<()>), TlsError> {
    let mut mqtt =
        opts.endpoint
            .mqtt_options(&opts.client_id, opts.keep_alive, MAX_INCOMING_PACKET)?;
    mqtt.set_clean_session(true);
    if let Some((topic, payload)) = opts.last_will {
        mqtt.set_last_will(LastWill::new(topic, payload, QoS::AtLeastOnce, true));
    }
    let (client, mut eventloop) = AsyncClient::new(mqtt, REQUEST_QUEUE);
    // Signalling is small messages that must go at once; Nagle's algorithm (rumqttc's
    // default) holds one back until the last is acknowledged, up to 40 ms with delayed ACKs.
    eventloop.network_options.set_tcp_nodelay(true);
    let link = Link {
        client,
        shared: Arc::default(),
        pulse: Arc::new(Pulse {
            since: std::time::Instant::now(),
            last_ms: Default::default(),
            hang: Default::default(),
        }),
        steering: Arc::default(),
    };
    let (tx, rx) = mpsc::channel(256);
    let task = tokio::spawn(run(eventloop, link.clone(), tx));
    Ok((link, rx, task))
}

async fn run(mut eventloop: rumqttc::EventLoop, link: Link, events: mpsc::Sender<LinkEvent>) {
    let mut backoff = Backoff::default();
    loop {
        link.pulse.beat();
        if link.pulse.hang.load(std::sync::atomic::Ordering::Relaxed) {
            tracing::warn!("link task made to hang (test fault)");
            std::future::pending::<()>().await;
        }
        // While a call waits for the broker, a connect that gets no answer is given up soon
        // (a SYN sent into an outage is retried by the kernel only seconds later).
        let urgent = link
            .steering
            .urgent
            .load(std::sync::atomic::Ordering::Relaxed);
        eventloop.network_options.set_connection_timeout(if urgent {
            1
        } else {
            CONNECT_TIMEOUT_S
        });
        let polled = tokio::select! {
            polled = eventloop.poll() => polled,
            () = link.steering.reconnect.notified() => {
                // The connection is bound to a network that is gone: it cannot recover, and
                // what it still holds for sending describes a moment that has passed.
                eventloop.clean();
                eventloop.pending.clear();
                link.shared().connected = false;
                backoff.reset();
                let reason = "the network changed".to_string();
                let gone = LinkEvent::Disconnected { reason, retry_in: Duration::ZERO };
                if events.send(gone).await.is_err() {
                    return;
                }
                continue;
            }
        };
        let sent = match polled {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff.reset();
                link.shared().connected = true;
                link.restore();
                events.send(LinkEvent::Connected).await
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                events
                    .send(LinkEvent::Message {
                        topic: p.topic,
                        payload: p.payload,
                    })
                    .await
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                // Read on until the broker closes the connection. Closing ours with the broker's
                // acks still unread makes the kernel reset it, and the broker may then lose what
                // we sent last, the DISCONNECT included, and publish our last will.
                let drained = async { while eventloop.poll().await.is_ok() {} };
                let _ = tokio::time::timeout(Duration::from_secs(2), drained).await;
                return;
            }
            Ok(_) => Ok(()),
            Err(e) => {
                link.shared().connected = false;
                let mut retry_in = backoff.next_wait(&mut rand::thread_rng());
                if link
                    .steering
                    .urgent
                    .load(std::sync::atomic::Ordering::Relaxed)
                {
                    retry_in = retry_in.min(URGENT_RETRY);
                } else if link
                    .steering
                    .unhurried
                    .load(std::sync::atomic::Ordering::Relaxed)
                {
                    retry_in = retry_in.max(UNHURRIED_RETRY);
                }
                let sent = events
                    .send(LinkEvent::Disconnected {
                        reason: e.to_string(),
                        retry_in,
                    })
                    .await;
                tokio::select! {
                    () = tokio::time::sleep(retry_in) => {}
                    // A new network is worth trying at once.
                    () = link.steering.reconnect.notified() => backoff.reset(),
                }
                sent
            }
        };
        if sent.is_err() {
            return;
        }
    }
}

impl Link {
    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        // The lock only guards plain collections; a panic elsewhere cannot leave them half-changed.
        self.shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Re-subscribes and re-publishes after a (re)connect.
    fn restore(&self) {
        let (subscriptions, sticky) = {
            let shared = self.shared();
            (shared.subscriptions.clone(), shared.sticky.clone())
        };
        for filter in subscriptions {
            self.try_subscribe(&filter);
        }
        for (topic, payload) in sticky {
            self.publish(&topic, payload, true);
        }
    }

    fn try_subscribe(&self, filter: &str) {
        if let Err(e) = self.client.try_subscribe(filter, QoS::AtLeastOnce) {
            tracing::warn!(filter, error = %e, "subscribe request dropped");
        }
    }

    /// Subscribes now and after every reconnect.
    pub fn subscribe(&self, filter: &str) {
        self.shared().subscriptions.insert(filter.to_string());
        self.try_subscribe(filter);
    }

    pub fn unsubscribe(&self, filter: &str) {
        self.shared().subscriptions.remove(filter);
        if let Err(e) = self.client.try_unsubscribe(filter) {
            tracing::warn!(filter, error = %e, "unsubscribe request dropped");
        }
    }

    /// Publishes with QoS 1. Never waits: while the broker is away requests queue up to a limit,
    /// beyond which they are dropped with a warning.
    pub fn publish(&self, topic: &str, payload: Vec<u8>, retain: bool) {
        if let Err(e) = self
            .client
            .try_publish(topic, QoS::AtLeastOnce, retain, payload)
        {
            tracing::warn!(topic, error = %e, "publish dropped: request queue full");
        }
    }

    /// Publishes with QoS 1 while connected, and drops the message otherwise: for messages that
    /// are stale by the time the link is back (call signalling), which the other side must not
    /// act on late. Returns whether it went out.
    pub fn publish_if_connected(&self, topic: &str, payload: Vec<u8>) -> bool {
        if !self.shared().connected {
            return false;
        }
        self.publish(topic, payload, false);
        true
    }

    /// Publishes a retained message now and again after every reconnect.
    pub fn publish_sticky(&self, topic: &str, payload: Vec<u8>) {
        self.shared()
            .sticky
            .insert(topic.to_string(), payload.clone());
        self.publish(topic, payload, true);
    }

    /// How long the link task's loop has not turned. It turns at least every keep-alive interval
    /// while connected and every backoff wait while not: more than twice that means it hangs.
    pub fn silent_for(&self) -> Duration {
        let last = Duration::from_millis(
            self.pulse
                .last_ms
                .load(std::sync::atomic::Ordering::Relaxed),
        );
        self.pulse.since.elapsed().saturating_sub(last)
    }

    /// Tests only: the link task stops at its next turn, as if stuck.
    pub fn hang_for_test(&self) {
        self.pulse
            .hang
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Drops the connection and makes a new one at once: the network it was made on is gone
    /// (`platform::netwatch`). What was queued for sending is dropped with it.
    pub fn reconnect(&self) {
        self.steering.reconnect.notify_one();
    }

    /// While urgent, reconnects are tried at most [`URGENT_RETRY`] apart.
    pub fn set_urgent(&self, urgent: bool) {
        self.steering
            .urgent
            .store(urgent, std::sync::atomic::Ordering::Relaxed);
    }

    /// While unhurried (and not urgent), reconnects wait at least [`UNHURRIED_RETRY`].
    pub fn set_unhurried(&self, unhurried: bool) {
        self.steering
            .unhurried
            .store(unhurried, std::sync::atomic::Ordering::Relaxed);
    }

    /// Asks for a clean disconnect after everything queued so far; the link task then ends.
    pub fn close(&self) {
        if let Err(e) = self.client.try_disconnect() {
            tracing::warn!(error = %e, "disconnect request dropped");
        }
    }
}
