//! The daemon's event loop and the translation between the world and the flow core.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::sync::mpsc;

use super::DaemonError;
use super::access::FleetAccess;
use crate::call::{self, CallHandle, CallReport, CallSpec, Role};
use crate::config::{Config, ice_spec};
use crate::fleet::eventlog::EventLog;
use crate::fleet::{AppointmentBook, Link, LinkEvent, SessionPublisher, Side, Topics};
use crate::flow::{Action, Event, Kiosk, Outcome};
use crate::platform::control_socket::{self, ControlCall};
use crate::wire::{
    self, ByeReason, CallStats, DeviceConfig, EventKind, EventReport, KioskState, LastCall,
    ProblemCode, Refusal, Signal, StateReport,
};

mod control;
mod heartbeat;
mod inbound;
mod lifecycle;
mod liveness;
mod touchscreen;

use heartbeat::{DeviceWatch, HEARTBEAT};

use crate::media::display::{Display, DisplaySpec};
use crate::media::{MediaSpec, VideoChannels, VideoOut};
use crate::platform::touch_device::{self, TouchSpec};
use crate::ui::touch::Touch;

use touchscreen::Touchscreen;

const VERSION: &str = env!("CARGO_PKG_VERSION");
const DEVICE_CONFIG_FILE: &str = "device-config.json";

struct ActiveCall {
    /// Which join this is: reports are matched by it, since a re-entered code rejoins the same session.
    id: u64,
    session: String,
    handle: CallHandle,
}

struct SyncRound {
    marker: String,
    seen: BTreeSet<String>,
}

/// The kiosk's connection to its fleet. There is none while the kiosk is not provisioned.
struct Uplink {
    access: FleetAccess,
    topics: Topics,
    link: Link,
    task: tokio::task::JoinHandle<()>,
}

/// How the kiosk's screen composition names its video channels: one kiosk per process.
const CHANNELS: &str = "kiosk";
/// How often the boot partition is looked at for a provisioning bundle while there is none.
const BUNDLE_POLL: Duration = Duration::from_secs(2);
/// How long the identify screen shows.
const IDENTIFY_FOR: Duration = Duration::from_secs(30);

struct Supervisor {
    config: Config,
    /// What calls send and where their pictures go, with the video codec resolved.
    media: MediaSpec,
    uplink: Option<Uplink>,
    kiosk: Kiosk,
    book: AppointmentBook,
    device_config: Option<DeviceConfig>,
    call: Option<ActiveCall>,
    /// Calls being ended in the background; shutdown waits for them so `bye` goes out.
    leaving: Vec<tokio::task::JoinHandle<()>>,
    /// Reports of every call, tagged with its join id so a finished call cannot disturb the next.
    reports: mpsc::Sender<(u64, CallReport)>,
    joins: u64,
    last_stats: Arc<Mutex<Option<CallStats>>>,
    state_since: OffsetDateTime,
    /// `None` until the first connection attempt has an outcome.
    broker_up: Option<bool>,
    /// After each connect: the marker we sent ourselves and the appointments seen before it.
    sync: Option<SyncRound>,
    screen: Touchscreen,
    /// When kioskd started (the flow's clock), for `uptime_s`.
    started: Instant,
    /// Shared with the tasks that end calls: their final statistics say whether devices worked.
    devices: Arc<Mutex<DeviceWatch>>,
    last_call: Option<LastCall>,
    /// kioskd's own record of its events; `None` if it could not be opened.
    events: Option<EventLog>,
    /// Until when the identify screen shows.
    identify_until: Option<Instant>,
    /// The fleet asked for a factory reset; it runs between two events of the main loop.
    wipe_requested: bool,
    /// The last provisioning bundle that was refused (its size and mtime), so it is not retried
    /// every two seconds.
    refused_bundle: Option<(u64, std::time::SystemTime)>,
    /// Readiness and watchdog towards systemd.
    liveness: liveness::Liveness,
    /// The A/B slot booted (RAUC), for the state report.
    slot: Option<String>,
}

/// Runs kioskd until `shutdown` completes, then ends a running call with `bye`, publishes
/// `offline` and disconnects. Without `access` the kiosk is not provisioned: it shows so, talks to
/// nobody, and looks for a provisioning bundle; a factory reset brings it back there.
pub async fn run(
    config: Config,
    access: Option<FleetAccess>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    call::init()?;
    let screen_spec = DisplaySpec {
        panel: config.screen.size,
        sink: config.media.video_sink,
        channels: VideoChannels::for_device(CHANNELS),
        capture: config.screen.development,
    };
    let codec = crate::media::codec::choose(config.media.video_codec, crate::media::element_exists)
        .map_err(DaemonError::Codec)?;
    let media = kiosk_media(&config, codec);
    tracing::info!(codec = codec.name(), "video codec");
    call::check_elements(&media)
        .and_then(|()| crate::media::display::check_elements(&screen_spec))
        .map_err(DaemonError::MissingElements)?;
    let book = AppointmentBook::open(
        &config.state_dir.join("appointments"),
        OffsetDateTime::now_utc(),
    )?;
    let device_config = load_device_config(&config);

    let (control_tx, mut control_rx) = mpsc::channel::<ControlCall>(16);
    let control = match &config.control_socket {
        Some(path) => Some(control_socket::serve(path, control_tx).map_err(|source| {
            DaemonError::ControlSocket {
                path: path.display().to_string(),
                source,
            }
        })?),
        None => None,
    };

    let (reports, mut reports_rx) = mpsc::channel(64);
    let (config_screen, config_locale) = (config.screen.size, config.locale);
    let (touch_tx, mut touches) = mpsc::channel::<Touch>(16);
    let display = Display::start(&screen_spec, touch_tx.clone())?;
    if let Some(device) = &config.touch.device {
        let spec = TouchSpec {
            device: device.clone(),
            rotation: config.touch.rotation,
            x_range: config.touch.x_range,
            y_range: config.touch.y_range,
            panel: config.screen.size,
        };
        touch_device::spawn(spec, touch_tx).map_err(|source| DaemonError::Touch { source })?;
    }
    let mut sup = Supervisor {
        kiosk: Kiosk::new(config.timeouts()),
        config,
        media,
        uplink: None,
        book,
        device_config,
        call: None,
        leaving: Vec::new(),
        reports,
        joins: 0,
        last_stats: Arc::default(),
        state_since: OffsetDateTime::now_utc(),
        broker_up: None,
        sync: None,
        screen: Touchscreen::new(config_screen, config_locale, display),
        started: now(),
        devices: Arc::default(),
        last_call: None,
        events: None,
        identify_until: None,
        wipe_requested: false,
        refused_bundle: None,
        liveness: liveness::Liveness::from_env(),
        slot: crate::platform::rauc::booted_slot(),
    };
    let mut link_events = match access {
        Some(access) => Some(sup.connect(access)?),
        None => {
            sup.not_provisioned(None);
            None
        }
    };
    sup.apply_locale();
    sup.refresh_screen();

    let mut sweep = tokio::time::interval(Duration::from_secs(60));
    let mut second = tokio::time::interval(Duration::from_secs(1));
    second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut bundle_poll = tokio::time::interval(BUNDLE_POLL);
    bundle_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // The start already published the state: the first heartbeat is one interval later.
    let mut heartbeat =
        tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Without a systemd watchdog the tick is disabled (and its period does not matter).
    let pings = sup.liveness.ping_every();
    let mut watchdog = tokio::time::interval(pings.unwrap_or(Duration::from_secs(3600)));
    watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        let deadline = sup
            .kiosk
            .next_deadline()
            .map(tokio::time::Instant::from_std);
        tokio::select! {
            () = &mut shutdown => break,
            Some(event) = next_link_event(&mut link_events) => sup.on_link(event),
            Some(call) = control_rx.recv() => {
                let reply = sup.on_control(call.request).await;
                let _ = call.reply.send(reply);
            }
            Some((id, report)) = reports_rx.recv() => sup.on_call_report(id, report),
            () = sleep_until(deadline) => {
                sup.step(Event::Tick);
            }
            _ = sweep.tick() => sup.sweep(),
                        _ = heartbeat.tick() => sup.heartbeat(),
            _ = watchdog.tick(), if pings.is_some() => sup.watchdog().await,
            _ = second.tick() => {
                sup.screen_tick().await;
                sup.report_liveness();
            }
            _ = bundle_poll.tick(), if sup.uplink.is_none() => {
                if let Some(events) = sup.look_for_bundle()? {
                    link_events = Some(events);
                }
            }
            Some(touch) = touches.recv() => {
                sup.tap(touch.point.x, touch.point.y, touch.held).await;
            }
        }
        if std::mem::take(&mut sup.wipe_requested) {
            sup.factory_reset(link_events.take()).await;
        }
    }

    tracing::info!("kioskd stopping");
    sup.liveness.stopping();
    drop(control);
    sup.step(Event::Shutdown);
    sup.wait_for_calls(&mut link_events).await;
    if let Some(uplink) = sup.uplink.take() {
        uplink.close(&StateReport::offline()).await;
    }
    Ok(())
}

async fn next_link_event(events: &mut Option<mpsc::Receiver<LinkEvent>>) -> Option<LinkEvent> {
    match events {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}

impl Uplink {
    /// Publishes a last state (retained, replacing the sticky one) and disconnects cleanly, so
    /// the broker does not send the last will.
    async fn close(self, last: &StateReport) {
        self.link
            .publish_sticky(&self.topics.state(), wire::encode(last));
        self.link.close();
        if tokio::time::timeout(Duration::from_secs(3), self.task)
            .await
            .is_err()
        {
            tracing::warn!("broker unreachable at shutdown; the last will reports offline");
        }
    }
}

/// The flow's clock: tokio's, so the deadlines it sleeps to and the time it reports agree (also
/// under `tokio::time::pause()`).
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The kiosk's media: camera and microphone from config, the pictures into the screen.
fn kiosk_media(config: &Config, video_codec: crate::media::VideoCodec) -> MediaSpec {
    MediaSpec {
        video_out: VideoOut::Display(VideoChannels::for_device(CHANNELS)),
        video_codec,
        ..config.media()
    }
}

fn load_device_config(config: &Config) -> Option<DeviceConfig> {
    let bytes = std::fs::read(config.state_dir.join(DEVICE_CONFIG_FILE)).ok()?;
    wire::decode(&bytes)
        .inspect_err(|e| tracing::warn!(reason = %e, "stored device config ignored"))
        .ok()
}

impl Supervisor {
    fn step(&mut self, event: Event) -> Option<Refusal> {
        let Outcome { actions, refused } = self.kiosk.handle(event, now());
        for action in actions {
            self.apply(action);
        }
        self.refresh_screen();
        refused
    }

    fn apply(&mut self, action: Action) {
        match action {
            Action::Publish { state, detail } => {
                self.state_since = OffsetDateTime::now_utc();
                self.publish_state(state, detail);
            }
            Action::Report(event) => {
                let report = EventReport::new(OffsetDateTime::now_utc(), event);
                if let EventKind::CallEnded { duration_s, .. } = report.event {
                    self.last_call = Some(heartbeat::last_call(
                        duration_s,
                        self.screen.quality,
                        report.ts,
                    ));
                }
                if let Some(log) = self.events.as_mut()
                    && let Err(e) = log.record(&report)
                {
                    tracing::error!(error = %e, "event not recorded locally");
                }
                if let Some(up) = &self.uplink {
                    up.link
                        .publish(&up.topics.events(), wire::encode(&report), false);
                }
            }
            Action::JoinSession {
                session,
                patient_name,
            } => self.join(session, patient_name),
            Action::LeaveSession { bye } => self.leave(bye),
            Action::WipeInput => self.screen.state.wipe(),
        }
    }

    /// Publishes a state (retained, and again after every reconnect). One event can pass through
    /// several states (`accept` goes through consent to waiting): each is published as it was.
    fn publish_state(&self, state: KioskState, detail: Option<ProblemCode>) {
        tracing::info!(state = state.as_str(), detail = ?detail, "state");
        self.send_state(state, detail);
    }

    fn join(&mut self, session: String, patient_name: String) {
        self.leave(None);
        let (servers, allow_relay) = match &self.device_config {
            Some(dc) => (dc.ice_servers.clone(), dc.allow_relay),
            None => (self.config.ice.servers.clone(), self.config.ice.allow_relay),
        };
        let spec = CallSpec {
            role: Role::Offerer,
            hello_name: patient_name,
            media: self.media.clone(),
            ice: ice_spec(&servers, allow_relay, &self.config.ice.local_addresses),
            jitter_latency_ms: self.config.media.jitter_latency_ms,
        };
        // Without an uplink there are no appointments, so no code can lead here.
        let Some(up) = &self.uplink else {
            tracing::error!("no fleet connection to join a session on");
            return;
        };
        up.link
            .subscribe(&up.topics.session(&session, Side::Doctor));
        let out = SessionPublisher::new(up.link.clone(), &up.topics, &session, Side::Kiosk);
        let (tx, mut rx) = mpsc::channel(16);
        let handle = call::start(spec, Box::new(out), tx);
        self.joins += 1;
        let (tagged, id) = (self.reports.clone(), self.joins);
        tokio::spawn(async move {
            while let Some(report) = rx.recv().await {
                if tagged.send((id, report)).await.is_err() {
                    return;
                }
            }
            // The call task ended. If nobody asked it to (a panic), the flow must hear of it;
            // after a normal end this report no longer matches the active call.
            let _ = tagged
                .send((
                    id,
                    CallReport::Failed {
                        failure: call::Failure::Connection,
                        why: "call task ended".into(),
                    },
                ))
                .await;
        });
        tracing::info!(%session, "joined call session");
        self.call = Some(ActiveCall {
            id,
            session,
            handle,
        });
    }

    fn leave(&mut self, bye: Option<ByeReason>) {
        let Some(active) = self.call.take() else {
            return;
        };
        if let Some(up) = &self.uplink {
            up.link
                .unsubscribe(&up.topics.session(&active.session, Side::Doctor));
            // Say bye now, so it goes out before the state this step publishes.
            if let Some(reason) = bye {
                let out = SessionPublisher::new(
                    up.link.clone(),
                    &up.topics,
                    &active.session,
                    Side::Kiosk,
                );
                call::SignalOut::send(&out, Signal::Bye { reason });
            }
        }
        let (last_stats, devices) = (self.last_stats.clone(), self.devices.clone());
        self.leaving.retain(|task| !task.is_finished());
        self.leaving.push(tokio::spawn(async move {
            let stats = active.handle.finish(None).await;
            devices
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .ended(active.id, &stats);
            tracing::info!(
                session = %active.session,
                video_frames_received = stats.video_frames_received,
                audio_buffers_received = stats.audio_buffers_received,
                "left call session"
            );
            *last_stats.lock().unwrap_or_else(|p| p.into_inner()) = Some(stats);
        }));
    }

    fn on_call_report(&mut self, id: u64, report: CallReport) {
        let Some(session) = self
            .call
            .as_ref()
            .filter(|active| active.id == id)
            .map(|a| a.session.clone())
        else {
            return;
        };
        let event = match report {
            CallReport::PeerJoined { .. } => Event::DoctorJoined,
            CallReport::MediaFlowing => Event::MediaFlowing,
            CallReport::RemoteBye(reason) => {
                tracing::info!(%session, reason = reason.as_str(), "doctor left");
                Event::RemoteBye
            }
            CallReport::Failed { failure, why } => {
                tracing::warn!(%session, reason = %why, "call failed");
                self.devices
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .failed(id, failure);
                Event::CallFailed(failure)
            }
        };
        self.step(event);
    }
}
