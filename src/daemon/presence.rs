//! The kiosk towards its fleet: the MQTT link while it is provisioned, whether the broker is
//! reachable, catching up on revocations after each connect, the state report and its
//! heartbeat, and the events it reports (published, and kept in its own event log).
//!
//! It owns the link and everything published on it: nobody else talks to the broker. It decides
//! nothing about the consultation; what it hears goes back to the supervisor as [`Heard`].

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::DaemonError;
use super::access::FleetAccess;
use crate::fleet::eventlog::EventLog;
use crate::fleet::trust::{Channel, Trust};
use crate::fleet::{
    self, Inbound, Link, LinkEvent, LinkOptions, SessionPublisher, SharedChannel, Side, Topics,
};
use crate::platform::netwatch::{self, NetWatch};
use crate::ui::view::Quality;
use crate::wire::{
    self, ByeReason, EventKind, EventReport, Health, KioskState, LastCall, ProblemCode, Signal,
    StateReport, V1,
};
use call_records::{RECENT_MAX, RECENT_SPAN, recent};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What the state report says besides the time: the flow's state and the devices' health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Status {
    pub state: KioskState,
    pub detail: Option<ProblemCode>,
    pub health: Health,
}

/// What the link brought that the supervisor acts on.
#[derive(Debug)]
pub(super) enum Heard {
    /// (Re)connected: the state goes out again, since the last will may have replaced it.
    Connected,
    /// A message on one of the kiosk's topics.
    Inbound(Inbound),
    /// After a reconnect, every retained appointment has arrived: these are all there are.
    Synced(BTreeSet<String>),
}

/// A provisioning bundle by its size and modification time: one that was refused is not tried
/// again until it changes.
pub(super) type BundleStamp = (u64, std::time::SystemTime);

/// Whether the kiosk belongs to a fleet yet.
#[derive(Debug)]
enum Membership {
    /// No identity: the kiosk talks to nobody and waits for a provisioning bundle.
    Unprovisioned { refused_bundle: Option<BundleStamp> },
    /// Boxed: the link's state is large, and there is one of it.
    Provisioned(Box<Uplink>),
}

/// Whether the broker answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Broker {
    /// No connection attempt has had an outcome yet.
    Connecting,
    Reachable,
    Unreachable,
}

/// After each connect: the marker the kiosk sent itself, and the appointments seen before it
/// came back.
#[derive(Debug)]
struct SyncRound {
    marker: String,
    seen: BTreeSet<String>,
}

#[derive(Debug)]
struct Uplink {
    access: FleetAccess,
    topics: Topics,
    link: Link,
    task: JoinHandle<()>,
    events: mpsc::Receiver<LinkEvent>,
    broker: Broker,
    sync: Option<SyncRound>,
    /// kioskd's own record of its events; `None` if it could not be opened.
    log: Option<EventLog>,
    /// The fleet CA and the kiosk's key: appointments must be signed and sealed. `None` only on
    /// a development kiosk (plaintext loopback broker, no identity).
    trust: Option<Trust>,
    /// The sealed signalling of the sessions the kiosk has joined.
    channels: std::collections::BTreeMap<String, SharedChannel>,
    /// The kiosk's own certificate and key, for the consent receipts it signs.
    signer: Option<fleet::trust::Signer>,
    /// The appointment whose call a crash left open: its doctor is told once the broker is
    /// reachable (`take_crashed_call`).
    crashed_call: Option<String>,
}

/// What every state report carries besides the status.
#[derive(Debug)]
struct Basis {
    /// When the flow entered its state.
    since: OffsetDateTime,
    /// When kioskd started, for `uptime_s` (tokio's clock, like every time in kioskd).
    started: tokio::time::Instant,
    /// The A/B slot booted (RAUC).
    slot: Option<String>,
    last_call: Option<LastCall>,
    /// The calls of the last [`RECENT_SPAN`], oldest first, at most [`RECENT_MAX`]: read from
    /// the event log when the kiosk joins its fleet, then kept as calls end.
    recent_calls: Vec<LastCall>,
}

#[derive(Debug)]
pub(super) struct Presence {
    membership: Membership,
    basis: Basis,
    /// The machine's addresses as last seen: a change means the link's connection is dead.
    network: NetWatch,
}

/// A sealed signalling message opened with its session's channel; a clear one refused where the
/// session is sealed. What does not open is dropped and logged without its contents.
fn open_sealed(
    channels: &std::collections::BTreeMap<String, SharedChannel>,
    inbound: Inbound,
) -> Option<Inbound> {
    match inbound {
        Inbound::SealedSignal { session, sealed } => {
            let Some(channel) = channels.get(&session) else {
                tracing::warn!(%session, "sealed signalling for a session without a key dropped");
                return None;
            };
            match fleet::open_signal(channel, &sealed) {
                Ok(signal) => Some(Inbound::Signal { session, signal }),
                Err(reason) => {
                    tracing::warn!(%session, seq = sealed.seq, %reason, "sealed signalling refused");
                    None
                }
            }
        }
        Inbound::Signal { session, .. } if channels.contains_key(&session) => {
            tracing::warn!(%session, "signalling in clear refused: this session is sealed");
            None
        }
        other => Some(other),
    }
}

/// How often the state is published again without a change, so the fleet sees the kiosk is alive
/// (`at`) even when nothing happens for hours.
pub(super) const HEARTBEAT: Duration = Duration::from_secs(60);

impl Presence {
    pub fn new(started: tokio::time::Instant, slot: Option<String>) -> Self {
        Self {
            membership: Membership::Unprovisioned {
                refused_bundle: None,
            },
            basis: Basis {
                since: OffsetDateTime::now_utc(),
                started,
                slot,
                last_call: None,
                recent_calls: Vec::new(),
            },
            network: NetWatch::default(),
        }
    }

    /// Looks at the machine's addresses (once a second). When one came or went, the link's
    /// connection is bound to a network that is gone: it is replaced at once, instead of after
    /// its keep-alives time out. Returns whether the network changed.
    pub fn watch_network(&mut self) -> bool {
        if !self.network.changed(netwatch::local_addresses()) {
            return false;
        }
        tracing::info!("the network changed: reconnecting to the broker");
        if let Some(up) = self.uplink() {
            up.link.reconnect();
        }
        true
    }

    /// While a call waits to recover through the broker, the link reconnects without backing
    /// off far.
    pub fn set_urgent(&self, urgent: bool) {
        if let Some(up) = self.uplink() {
            up.link.set_urgent(urgent);
        }
    }

    /// Starts the link to the fleet with `access`. The event log in `state_dir` opens with it.
    pub fn connect(
        &mut self,
        access: FleetAccess,
        topic_root: &str,
        state_dir: &Path,
    ) -> Result<(), DaemonError> {
        let topics = Topics::new(topic_root, &access.device)?;
        let client = access
            .endpoint
            .tls()
            .and_then(|tls| Some((tls, tls.client.as_ref()?)));
        let (trust, signer) = match client {
            Some((tls, client)) => (
                Some(
                    Trust::new(&access.device, &tls.ca_pem, &client.key_pem)
                        .map_err(DaemonError::Trust)?,
                ),
                fleet::trust::Signer::from_pem(&client.cert_pem, &client.key_pem)
                    .inspect_err(|e| tracing::warn!(error = %e, "no consent receipts: the key does not sign"))
                    .ok(),
            ),
            None => (None, None),
        };
        tracing::info!(device = %access.device, broker = %access.endpoint.url, "connecting to the fleet");
        let (link, events, task) = fleet::link::spawn(LinkOptions {
            client_id: fleet::dynsec::device_client_id(&access.device),
            endpoint: access.endpoint.clone(),
            last_will: Some((topics.state(), wire::encode(&StateReport::offline()))),
            // Also the longest a healthy link task waits between turns (see `liveness`).
            keep_alive: Duration::from_secs(10),
        })
        .map_err(DaemonError::Tls)?;
        for filter in [
            topics.config(),
            topics.appointments(),
            topics.commands(),
            topics.sync(),
        ] {
            link.subscribe(&filter);
        }
        // A kiosk whose local record is broken still serves patients, and the fleet still gets
        // every event: so this is an error to fix, not a reason to stop.
        let log = EventLog::open(state_dir, OffsetDateTime::now_utc())
            .inspect_err(
                |e| tracing::error!(error = %e, "event log unavailable; events are only published"),
            )
            .ok();
        self.basis.recent_calls = log
            .as_ref()
            .and_then(|log| {
                log.recent_calls(OffsetDateTime::now_utc(), RECENT_SPAN, RECENT_MAX)
                    .inspect_err(|e| tracing::error!(error = %e, "event log unreadable"))
                    .ok()
            })
            .unwrap_or_default();
        self.membership = Membership::Provisioned(Box::new(Uplink {
            access,
            topics,
            link,
            task,
            events,
            broker: Broker::Connecting,
            sync: None,
            log,
            trust,
            channels: Default::default(),
            signer,
            crashed_call: None,
        }));
        self.close_crashed_call();
        Ok(())
    }

    fn uplink(&self) -> Option<&Uplink> {
        match &self.membership {
            Membership::Provisioned(up) => Some(up),
            Membership::Unprovisioned { .. } => None,
        }
    }

    pub fn is_provisioned(&self) -> bool {
        self.uplink().is_some()
    }

    pub fn device(&self) -> Option<&str> {
        self.uplink().map(|up| up.access.device.as_str())
    }

    pub fn broker_online(&self) -> bool {
        self.uplink()
            .is_some_and(|up| up.broker == Broker::Reachable)
    }

    /// Whether the kiosk may say it is ready as far as the fleet goes: it is not provisioned
    /// (its screen says so), its broker answers, or `grace` passed since the start.
    pub fn settled(&self, grace: Duration) -> bool {
        match self.uplink() {
            None => true,
            Some(up) => up.broker == Broker::Reachable || self.basis.started.elapsed() >= grace,
        }
    }

    /// Where the kiosk stands with its fleet, for the status line.
    pub fn describe(&self, bundle: &Path, appointments: usize) -> String {
        let Some(up) = self.uplink() else {
            return format!("not provisioned: waiting for {}", bundle.display());
        };
        let url = &up.access.endpoint.url;
        let broker = match up.broker {
            Broker::Reachable => format!("connected to {url}"),
            Broker::Unreachable => format!("broker {url} unreachable, no call can start"),
            Broker::Connecting => format!("connecting to {url}"),
        };
        format!(
            "{broker}, {appointments} appointment(s), device {}",
            up.access.device
        )
    }

    /// The link's next event; never, while the kiosk is not provisioned.
    pub async fn next_event(&mut self) -> Option<LinkEvent> {
        match &mut self.membership {
            Membership::Provisioned(up) => up.events.recv().await,
            Membership::Unprovisioned { .. } => std::future::pending().await,
        }
    }

    pub fn on_link(&mut self, event: LinkEvent) -> Option<Heard> {
        let Membership::Provisioned(up) = &mut self.membership else {
            return None;
        };
        match event {
            LinkEvent::Connected => {
                up.broker = Broker::Reachable;
                tracing::info!(broker = %up.access.endpoint.url, "connected to broker");
                // The broker delivers in order: once our marker comes back, every retained
                // appointment has arrived, and whatever we hold beyond them was revoked.
                let marker = format!("{:016x}", rand::random::<u64>());
                up.link
                    .publish(&up.topics.sync(), marker.clone().into_bytes(), false);
                up.sync = Some(SyncRound {
                    marker,
                    seen: BTreeSet::new(),
                });
                Some(Heard::Connected)
            }
            LinkEvent::Disconnected { reason, retry_in } => {
                if up.broker != Broker::Unreachable {
                    tracing::warn!(%reason, "broker unreachable; retrying, and no call starts until it is back");
                }
                up.broker = Broker::Unreachable;
                tracing::debug!(%reason, retry_in_ms = retry_in.as_millis() as u64, "broker unreachable, retrying");
                None
            }
            LinkEvent::Message { topic, payload } => {
                let now = OffsetDateTime::now_utc();
                let parsed =
                    fleet::parse_inbound(&up.topics, &topic, &payload, up.trust.as_ref(), now);
                match parsed.map(|inbound| inbound.and_then(|i| open_sealed(&up.channels, i))) {
                    Ok(Some(Inbound::Synced(marker))) => up
                        .sync
                        .take_if(|round| round.marker == marker)
                        .map(|round| Heard::Synced(round.seen)),
                    Ok(Some(inbound)) => {
                        if let (Inbound::Appointment(a), Some(round)) = (&inbound, &mut up.sync) {
                            round.seen.insert(a.id.clone());
                        }
                        Some(Heard::Inbound(inbound))
                    }
                    Ok(None) => None,
                    Err(e) => {
                        tracing::warn!(%topic, reason = %e, "message dropped");
                        None
                    }
                }
            }
        }
    }

    /// The flow entered a new state: published at once (retained, and again after every
    /// reconnect). One event can pass through several states (`accept` goes through consent
    /// to waiting): each is published as it was.
    pub fn state_changed(&mut self, status: Status) {
        let detail = status.detail.map(ProblemCode::as_str);
        tracing::info!(state = status.state.as_str(), detail, "state");
        self.basis.since = OffsetDateTime::now_utc();
        self.publish_state(status);
    }

    /// Publishes the state report, retained: after a reconnect, on the fleet's `refresh`.
    pub fn publish_state(&self, status: Status) {
        let Some(up) = self.uplink() else { return };
        let basis = &self.basis;
        let report = StateReport {
            v: V1,
            state: status.state,
            since: Some(basis.since),
            version: Some(VERSION.into()),
            detail: status.detail,
            uptime_s: Some(basis.started.elapsed().as_secs()),
            health: Some(status.health),
            last_call: basis.last_call.clone(),
            recent_calls: recent(&basis.recent_calls, OffsetDateTime::now_utc()),
            at: Some(OffsetDateTime::now_utc()),
            slot: basis.slot.clone(),
        };
        up.link
            .publish_sticky(&up.topics.state(), wire::encode(&report));
    }

    /// The same state again, with fresh `at`, uptime and health. Only while connected: queued
    /// heartbeats would crowd events out of the link's bounded queue, and the reconnect sends one.
    pub fn heartbeat(&self, status: Status) {
        if self.broker_online() {
            self.publish_state(status);
        }
    }

    /// Reports an event to the fleet and records it locally. A call that ended becomes the
    /// state report's `last_call`, with the quality its screen showed at the end.
    pub fn report(&mut self, mut event: EventKind, quality_shown: Quality) {
        if let EventKind::CallEnded { quality, .. } = &mut event {
            *quality = Some(quality_shown.level());
        }
        let report = EventReport::new(OffsetDateTime::now_utc(), event);
        if let Some(call) = self.remember_call(&report) {
            self.basis.last_call = Some(call);
        }
        self.send_event(&report);
    }

    fn send_event(&mut self, report: &EventReport) {
        let Membership::Provisioned(up) = &mut self.membership else {
            return;
        };
        if let Some(log) = up.log.as_mut()
            && let Err(e) = log.record(report)
        {
            tracing::error!(error = %e, "event not recorded locally");
        }
        up.link
            .publish(&up.topics.events(), wire::encode(report), false);
    }

    /// Once a day, the event log forgets what is older than its retention.
    pub fn prune_event_log(&mut self) {
        if let Membership::Provisioned(up) = &mut self.membership
            && let Some(log) = up.log.as_mut()
            && let Err(e) = log.prune_if_new_day(OffsetDateTime::now_utc())
        {
            tracing::error!(error = %e, "cannot prune the event log");
        }
    }

    /// Listens to the doctor's side of `session`; the call sends its own side through the
    /// returned publisher, sealed with `key` when there is one (always, in a fleet with a CA).
    /// `None` without a fleet (no code can lead here then).
    pub fn join_session(
        &mut self,
        session: &str,
        key: Option<&crate::wire::SessionKey>,
    ) -> Option<SessionPublisher> {
        let Membership::Provisioned(up) = &mut self.membership else {
            return None;
        };
        let channel =
            key.map(|key| {
                let channel: SharedChannel = std::sync::Arc::new(std::sync::Mutex::new(
                    Channel::new(key, session, crate::wire::Sender::Kiosk),
                ));
                up.channels.insert(session.into(), channel.clone());
                channel
            });
        up.link.subscribe(&up.topics.session(session, Side::Doctor));
        Some(
            SessionPublisher::new(up.link.clone(), &up.topics, session, Side::Kiosk)
                .sealed(channel),
        )
    }

    /// Stops listening to `session`, saying `bye` first if there is a reason to.
    pub fn leave_session(&mut self, session: &str, bye: Option<ByeReason>) {
        let Membership::Provisioned(up) = &mut self.membership else {
            return;
        };
        up.link
            .unsubscribe(&up.topics.session(session, Side::Doctor));
        let channel = up.channels.remove(session);
        if let Some(reason) = bye {
            let out = SessionPublisher::new(up.link.clone(), &up.topics, session, Side::Kiosk)
                .sealed(channel);
            crate::call::SignalOut::send(&out, Signal::Bye { reason });
        }
    }

    /// How long the link task has not turned, while there is one.
    pub fn link_silent_for(&self) -> Option<Duration> {
        self.uplink().map(|up| up.link.silent_for())
    }

    /// Tests only: makes the link task hang. `false` without a link.
    pub fn hang_link_for_test(&self) -> bool {
        self.uplink().map(|up| up.link.hang_for_test()).is_some()
    }

    /// Publishes a last state (retained, replacing the sticky one) and disconnects cleanly, so
    /// the broker does not send the last will. The kiosk is then without a fleet.
    pub async fn close(&mut self, last: &StateReport) {
        let membership = std::mem::replace(
            &mut self.membership,
            Membership::Unprovisioned {
                refused_bundle: None,
            },
        );
        let Membership::Provisioned(up) = membership else {
            return;
        };
        up.link
            .publish_sticky(&up.topics.state(), wire::encode(last));
        up.link.close();
        if tokio::time::timeout(Duration::from_secs(3), up.task)
            .await
            .is_err()
        {
            tracing::warn!("broker unreachable at shutdown; the last will reports offline");
        }
    }

    /// The factory reset's goodbye: tells the fleet, leaves it cleanly (state `not_provisioned`,
    /// no last will), and forgets the last call.
    pub async fn withdraw(&mut self) {
        self.send_event(&EventReport::new(
            OffsetDateTime::now_utc(),
            EventKind::FactoryReset,
        ));
        let mut last = StateReport::offline();
        last.state = KioskState::NotProvisioned;
        self.close(&last).await;
        self.basis.last_call = None;
        self.basis.recent_calls.clear();
    }

    /// A bundle at `path` worth trying: there, and not the one refused last.
    pub fn bundle_to_try(&self, path: &Path) -> Option<BundleStamp> {
        let Membership::Unprovisioned { refused_bundle } = &self.membership else {
            return None;
        };
        let stamp = bundle_stamp(path)?;
        (refused_bundle.as_ref() != Some(&stamp)).then_some(stamp)
    }

    /// The bundle with `stamp` cannot be used; it is not tried again until it changes.
    pub fn refuse_bundle(&mut self, stamp: BundleStamp) {
        if let Membership::Unprovisioned { refused_bundle } = &mut self.membership {
            *refused_bundle = Some(stamp);
        }
    }
}

pub(super) fn bundle_stamp(path: &Path) -> Option<BundleStamp> {
    match std::fs::metadata(path) {
        Ok(meta) => Some((meta.len(), meta.modified().unwrap_or(std::time::UNIX_EPOCH))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            // On the image the boot partition is root's alone: the privileged step imports the
            // bundle before kioskd starts. Said once, not at every look.
            static TOLD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
            if !TOLD.swap(true, std::sync::atomic::Ordering::Relaxed) {
                tracing::warn!(bundle = %path.display(), error = %e, "provisioning bundle not readable by kioskd; `kioskd --import-bundle` (ExecStartPre) imports it at the next start");
            }
            None
        }
    }
}

mod call_records;
#[cfg(test)]
mod tests;
