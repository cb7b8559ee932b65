//! The daemon's event loop and the translation between the world and the flow core.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::sync::mpsc;

use super::DaemonError;
use crate::call::{self, CallHandle, CallReport, CallSpec, Role};
use crate::config::{Config, ice_spec};
use crate::fleet::{
    self, AppointmentBook, Inbound, Link, LinkEvent, LinkOptions, SessionPublisher, Side, Topics,
    codes,
};
use crate::flow::{Action, Event, Kiosk, Outcome};
use crate::platform::atomic_file::write_atomic;
use crate::platform::control_socket::{self, ControlCall};
use crate::wire::{
    self, ByeReason, CallStats, CommandKind, ControlReply, ControlRequest, DeviceConfig,
    EventReport, KioskState, Refusal, Signal, StateReport, V1,
};

mod touchscreen;

use crate::media::screen::{Screen, ScreenSpec};
use crate::media::{MediaSpec, ScreenChannels, VideoOut};
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

struct Supervisor {
    config: Config,
    topics: Topics,
    link: Link,
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
    screen: Touchscreen,
}

/// Runs kioskd until `shutdown` completes, then ends a running call with `bye`, publishes
/// `offline` and disconnects.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), DaemonError> {
    gst::init()?;
    let screen_spec = ScreenSpec {
        panel: config.screen.size,
        sink: config.media.video_sink,
        channels: ScreenChannels::for_device(&config.device_id),
        capture: config.screen.development,
    };
    call::check_elements(&kiosk_media(&config))
        .and_then(|()| crate::media::screen::check_elements(&screen_spec))
        .map_err(DaemonError::MissingElements)?;
    let topics = Topics::new(&config.topic_root, &config.device_id)?;
    let book = AppointmentBook::open(
        &config.state_dir.join("appointments"),
        OffsetDateTime::now_utc(),
    )?;
    let device_config = load_device_config(&config);
    tracing::info!(device = %config.device_id, broker = %config.broker, appointments = book.len(), "kioskd starting");

    let (link, mut link_events, link_task) = fleet::link::spawn(LinkOptions {
        client_id: format!("kiosk-{}", config.device_id),
        broker: config.broker.clone(),
        last_will: Some((topics.state(), wire::encode(&StateReport::offline()))),
        keep_alive: Duration::from_secs(15),
    });
    for filter in [topics.config(), topics.appointments(), topics.commands()] {
        link.subscribe(&filter);
    }

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
    let display = Screen::start(&screen_spec, touch_tx.clone())?;
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
        topics,
        link,
        book,
        device_config,
        call: None,
        leaving: Vec::new(),
        reports,
        joins: 0,
        last_stats: Arc::default(),
        state_since: OffsetDateTime::now_utc(),
        broker_up: None,
        screen: Touchscreen::new(config_screen, config_locale, display),
    };
    sup.apply_locale();
    sup.refresh_screen();
    sup.publish_state(sup.kiosk.state(), sup.kiosk.detail());

    let mut sweep = tokio::time::interval(Duration::from_secs(60));
    let mut second = tokio::time::interval(Duration::from_secs(1));
    second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tokio::pin!(shutdown);
    loop {
        let deadline = sup
            .kiosk
            .next_deadline()
            .map(tokio::time::Instant::from_std);
        tokio::select! {
            () = &mut shutdown => break,
            Some(event) = link_events.recv() => sup.on_link(event),
            Some(call) = control_rx.recv() => {
                let reply = sup.on_control(call.request).await;
                let _ = call.reply.send(reply);
            }
            Some((id, report)) = reports_rx.recv() => sup.on_call_report(id, report),
            () = sleep_until(deadline) => {
                sup.step(Event::Tick);
            }
            _ = sweep.tick() => sup.sweep(),
            _ = second.tick() => sup.screen_tick().await,
            Some(touch) = touches.recv() => {
                sup.tap(touch.point.x, touch.point.y, touch.held).await;
            }
        }
    }

    tracing::info!("kioskd stopping");
    drop(control);
    sup.step(Event::Shutdown);
    let leaving = futures::future::join_all(std::mem::take(&mut sup.leaving));
    tokio::pin!(leaving);
    loop {
        // Keep reading the link while calls end, so it never stalls before `bye` is out.
        tokio::select! {
            _ = &mut leaving => break,
            Some(_) = link_events.recv() => {}
        }
    }
    sup.link
        .publish_sticky(&sup.topics.state(), wire::encode(&StateReport::offline()));
    sup.link.close();
    if tokio::time::timeout(Duration::from_secs(3), link_task)
        .await
        .is_err()
    {
        tracing::warn!("broker unreachable at shutdown; the last will reports offline");
    }
    Ok(())
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
fn kiosk_media(config: &Config) -> MediaSpec {
    MediaSpec {
        video_out: VideoOut::Screen(ScreenChannels::for_device(&config.device_id)),
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
            Action::Report {
                event,
                appointment,
                reason,
                duration_s,
            } => {
                let report = EventReport {
                    v: V1,
                    ts: OffsetDateTime::now_utc(),
                    event,
                    appointment,
                    reason,
                    duration_s,
                };
                self.link
                    .publish(&self.topics.events(), wire::encode(&report), false);
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
    fn publish_state(&self, state: KioskState, detail: Option<String>) {
        let report = StateReport {
            v: V1,
            state,
            since: Some(self.state_since),
            version: Some(VERSION.into()),
            detail,
        };
        tracing::info!(state = report.state.as_str(), detail = ?report.detail, "state");
        self.link
            .publish_sticky(&self.topics.state(), wire::encode(&report));
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
            media: kiosk_media(&self.config),
            ice: ice_spec(&servers, allow_relay, &self.config.ice.local_addresses),
            jitter_latency_ms: self.config.media.jitter_latency_ms,
        };
        self.link
            .subscribe(&self.topics.session(&session, Side::Doctor));
        let out = SessionPublisher::new(self.link.clone(), &self.topics, &session, Side::Kiosk);
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
        self.link
            .unsubscribe(&self.topics.session(&active.session, Side::Doctor));
        // Say bye now, so it goes out before the state this step publishes.
        if let Some(reason) = bye {
            let out = SessionPublisher::new(
                self.link.clone(),
                &self.topics,
                &active.session,
                Side::Kiosk,
            );
            call::SignalOut::send(&out, Signal::Bye { reason });
        }
        let last_stats = self.last_stats.clone();
        self.leaving.retain(|task| !task.is_finished());
        self.leaving.push(tokio::spawn(async move {
            let stats = active.handle.finish(None).await;
            tracing::info!(
                session = %active.session,
                video_frames_received = stats.video_frames_received,
                audio_buffers_received = stats.audio_buffers_received,
                "left call session"
            );
            *last_stats.lock().unwrap_or_else(|p| p.into_inner()) = Some(stats);
        }));
    }

    fn sweep(&mut self) {
        match self.book.sweep(OffsetDateTime::now_utc()) {
            Ok(gone) if !gone.is_empty() => {
                tracing::info!(count = gone.len(), "expired appointments deleted")
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "cannot delete expired appointments"),
        }
    }

    fn on_link(&mut self, event: LinkEvent) {
        match event {
            LinkEvent::Connected => {
                self.broker_up = Some(true);
                tracing::info!(broker = %self.config.broker, "connected to broker");
            }
            LinkEvent::Disconnected { reason, retry_in } => {
                if self.broker_up != Some(false) {
                    tracing::warn!(%reason, "broker unreachable; retrying, and appointments already received still work");
                }
                self.broker_up = Some(false);
                tracing::debug!(%reason, retry_in_ms = retry_in.as_millis() as u64, "broker unreachable, retrying");
            }
            LinkEvent::Message { topic, payload } => {
                match fleet::parse_inbound(&self.topics, &topic, &payload) {
                    Ok(Some(inbound)) => self.on_inbound(inbound),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(%topic, reason = %e, "message dropped"),
                }
            }
        }
    }

    fn on_inbound(&mut self, inbound: Inbound) {
        let now = OffsetDateTime::now_utc();
        match inbound {
            Inbound::Config(device_config) => {
                let path = self.config.state_dir.join(DEVICE_CONFIG_FILE);
                if let Err(e) = write_atomic(&path, &wire::encode(&device_config)) {
                    tracing::error!(error = %e, "cannot store device config");
                }
                tracing::info!("device config received");
                self.device_config = Some(device_config);
                self.apply_locale();
                self.refresh_screen();
            }
            Inbound::Appointment(appointment) => {
                let id = appointment.id.clone();
                match self.book.put(appointment, now) {
                    Ok(true) => tracing::info!(appointment = %id, "appointment stored"),
                    Ok(false) => tracing::info!(appointment = %id, "expired appointment ignored"),
                    Err(e) => {
                        tracing::error!(appointment = %id, error = %e, "cannot store appointment")
                    }
                }
            }
            Inbound::Revoked(id) => {
                match self.book.remove(&id) {
                    Ok(true) => tracing::info!(appointment = %id, "appointment revoked"),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::error!(appointment = %id, error = %e, "cannot delete revoked appointment")
                    }
                }
                self.step(Event::AppointmentRevoked(id));
            }
            Inbound::Command(CommandKind::EndCall) => {
                self.step(Event::EndCallCommand);
            }
            Inbound::Command(CommandKind::Refresh) => {
                self.publish_state(self.kiosk.state(), self.kiosk.detail())
            }
            Inbound::Signal { session, signal } => match &self.call {
                Some(active) if active.session == session => active.handle.deliver(signal),
                _ => tracing::debug!(%session, "signalling for a session we are not in ignored"),
            },
        }
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
                Event::CallFailed(failure)
            }
        };
        self.step(event);
    }

    async fn on_control(&mut self, request: ControlRequest) -> ControlReply {
        let refused = match request {
            ControlRequest::Status => return self.status(),
            ControlRequest::Stats => {
                let stats = match &self.call {
                    Some(active) => active.handle.stats().await,
                    None => {
                        // A call that is still being ended has the latest numbers: wait for it.
                        for leaving in std::mem::take(&mut self.leaving) {
                            let _ = leaving.await;
                        }
                        self.last_stats
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .clone()
                    }
                };
                return ControlReply {
                    stats,
                    ..self.status()
                };
            }
            ControlRequest::EnterCode { code } => self.enter_code(code).await,
            ControlRequest::Accept { name } => self.step(Event::Accept(name)),
            ControlRequest::HangUp => self.step(Event::HangUp),
            ControlRequest::Cancel => self.step(Event::Cancel),
            ControlRequest::Tap { x, y, hold_ms } => {
                self.tap(x, y, Duration::from_millis(hold_ms)).await
            }
            ControlRequest::Screenshot { path, composed } => {
                return match self.screenshot(&path, composed) {
                    Ok(()) => self.status(),
                    Err(why) => ControlReply::bad_request(&why),
                };
            }
        };
        match refused {
            Some(refusal) => ControlReply::refused(refusal),
            None => self.status(),
        }
    }

    async fn enter_code(&mut self, code: String) -> Option<Refusal> {
        if !codes::is_well_formed(&code) {
            return Some(Refusal::InvalidCodeFormat);
        }
        if let Err(refusal) = self.kiosk.code_entry_allowed(now()) {
            return Some(refusal);
        }
        let candidates = self.book.valid_at(OffsetDateTime::now_utc());
        // Argon2 takes tens of milliseconds per candidate on a Pi: keep it off the async threads.
        let found = tokio::task::spawn_blocking(move || codes::find_match(&code, candidates))
            .await
            .ok()
            .flatten();
        self.step(Event::CodeChecked(found))
    }

    fn status(&self) -> ControlReply {
        ControlReply {
            ok: true,
            state: Some(self.kiosk.state()),
            session: self.kiosk.session().map(Into::into),
            detail: self.kiosk.detail(),
            ..ControlReply::default()
        }
    }
}
