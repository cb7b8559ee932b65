//! kioskd's main loop: it wakes for whatever arrives (a link event, a control request, a call's
//! report, a finished code check, a touch, a timer), hands it to the part that owns what it
//! concerns, and turns the flow's actions into calls on those parts. Of its own it holds only
//! the flow, the appointment book (whose files the book alone touches) and the file that keeps
//! the flow's code lockout; every other field is a part with its own module, and what a part
//! owns, it alone changes.

mod control;
mod inbound;

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;

use super::DaemonError;
use super::access::FleetAccess;
use super::calls::{CallSlot, Tagged};
use super::checks::{Checked, Checks};
use super::liveness::{self, Liveness, Signs};
use super::lockout_file::LockoutFile;
use super::presence::{HEARTBEAT, Presence, Status};
use super::provision;
use super::settings::Settings;
use super::staff::StaffDesk;
use super::touchscreen::{Around, Touchscreen};
use crate::call;
use crate::config::Config;
use crate::fleet::{AppointmentBook, LinkEvent};
use crate::flow::{Action, Event, Flow, Kiosk, Outcome};
use crate::media::display::{Display, DisplaySpec};
use crate::media::{MediaSpec, VideoChannels, VideoOut};
use crate::platform::clock::{now, sleep_until};
use crate::platform::control_socket::{self, ControlCall};
use crate::platform::touch_device::{self, TouchSpec};
use crate::ui::touch::Touch;
use crate::ui::view::ProvisionNotice;
use crate::wire::{CallStats, Refusal, StateReport};

/// How the kiosk's screen composition names its video channels: one kiosk per process.
const CHANNELS: &str = "kiosk";
/// How often the boot partition is looked at for a provisioning bundle while there is none.
const BUNDLE_POLL: Duration = Duration::from_secs(2);

struct Supervisor {
    /// The config file and the fleet's device config, and what they add up to.
    settings: Settings,
    /// The consultation's flow: the rules, without I/O.
    kiosk: Kiosk,
    /// Where the flow's code lockout outlives a restart.
    lockout_file: LockoutFile,
    book: AppointmentBook,
    calls: CallSlot,
    presence: Presence,
    screen: Touchscreen,
    checks: Checks,
    liveness: Liveness,
    /// What the flow was last told of the wall clock (`[time]` of the config).
    clock_confirmed: Option<bool>,
    /// The fleet's test calls taken since kioskd started: each is taken once (a replay is
    /// refused). Bounded: a request is current for minutes only.
    test_calls_seen: std::collections::VecDeque<String>,
}

/// Everything that wakes the main loop.
enum Input {
    Link(LinkEvent),
    Control(ControlCall),
    Call(Tagged),
    CallEnded((u64, CallStats)),
    Checked(Checked),
    Touch(Touch),
    FlowDeadline,
    Second,
    Heartbeat,
    Sweep,
    Watchdog,
    BundlePoll,
}

/// Runs kioskd until `shutdown` completes, then ends a running call with `bye`, publishes
/// `offline` and disconnects. Without `access` the kiosk is not provisioned: it shows so, talks to
/// nobody, and looks for a provisioning bundle; a factory reset brings it back there.
/// `enrolled_room` is the room of the identity the kiosk has, if any.
pub async fn run(
    config: Config,
    access: Option<FleetAccess>,
    enrolled_room: Option<String>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    call::init()?;
    let display_spec = DisplaySpec {
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
        .and_then(|()| crate::media::display::check_elements(&display_spec))
        .map_err(DaemonError::MissingElements)?;
    // Expired appointments go at once only if the clock can be trusted (see `sweep`).
    let book = AppointmentBook::open(
        &config.state_dir.join("appointments"),
        config
            .time
            .clock_confirmed()
            .then(time::OffsetDateTime::now_utc),
    )?;
    let lockout_file = LockoutFile::new(&config.state_dir);
    let lockout = lockout_file.load(time::OffsetDateTime::now_utc(), now());

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
    let (touch_tx, mut touches) = mpsc::channel::<Touch>(16);
    let display = Display::start(&display_spec, touch_tx.clone())?;
    if let Some(meter) = &media.measure {
        display.measure_latency(meter.clone());
    }
    let mut media = media;
    if let VideoOut::Display(channels) = &mut media.video_out {
        let after = display.shows_after();
        tracing::info!(
            ms = after.as_millis() as u64,
            "the screen shows a frame this late"
        );
        channels.shown_after_ns = after.as_nanos() as u64;
    }
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
    let (reports, mut reports_rx) = mpsc::channel(64);
    let (checked, mut checked_rx) = mpsc::channel(4);
    let settings = Settings::load(config, enrolled_room);
    let config = settings.config();
    let staff = StaffDesk::new(
        media.clone(),
        config.media.audio_sink,
        LockoutFile::staff_pin(&config.state_dir),
    );
    let mut sup = Supervisor {
        kiosk: Kiosk::new(config.timeouts()).with_lockout(lockout),
        lockout_file,
        book,
        calls: CallSlot::new(
            media,
            config.media.jitter_latency_ms,
            Duration::from_secs(config.timeouts.reconnect_s),
            reports,
        )
        .with_video_max(config.screen.size.largest_16_9()),
        presence: Presence::new(
            tokio::time::Instant::now(),
            crate::platform::rauc::booted_slot(),
        ),
        screen: Touchscreen::new(config.screen.size, settings.now().locale, display, staff),
        checks: Checks::new(checked),
        liveness: Liveness::from_env(now()),
        clock_confirmed: None,
        test_calls_seen: std::collections::VecDeque::new(),
        settings,
    };
    match access {
        Some(access) => sup.connect(access)?,
        None => {
            // The privileged import step (`--import-bundle`) refused a bundle this kioskd may
            // not read itself: the screen says so, the log says why.
            let refused = provision::refusal(&sup.settings.config().state_dir);
            if let Some(reason) = &refused {
                tracing::error!(%reason, "provisioning bundle refused at start");
            }
            sup.not_provisioned(refused.map(|_| ProvisionNotice::BundleRefused))
        }
    }
    sup.check_clock();
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
        let deadline = sup.kiosk.next_deadline();
        let provisioned = sup.presence.is_provisioned();
        let input = tokio::select! {
            () = &mut shutdown => break,
            Some(event) = sup.presence.next_event() => Input::Link(event),
            Some(call) = control_rx.recv() => Input::Control(call),
            Some(report) = reports_rx.recv() => Input::Call(report),
            Some(ended) = sup.calls.next_ended() => Input::CallEnded(ended),
            Some(checked) = checked_rx.recv() => Input::Checked(checked),
            Some(touch) = touches.recv() => Input::Touch(touch),
            () = sleep_until(deadline) => Input::FlowDeadline,
            _ = second.tick() => Input::Second,
            _ = heartbeat.tick() => Input::Heartbeat,
            _ = sweep.tick() => Input::Sweep,
            _ = watchdog.tick(), if pings.is_some() => Input::Watchdog,
            _ = bundle_poll.tick(), if !provisioned => Input::BundlePoll,
        };
        sup.handle(input).await?;
    }

    tracing::info!("kioskd stopping");
    sup.liveness.stopping();
    drop(control);
    sup.step(Event::Shutdown);
    sup.wait_for_calls().await;
    sup.presence.close(&StateReport::offline()).await;
    Ok(())
}

/// The kiosk's media: camera and microphone from config, the pictures into the screen.
fn kiosk_media(config: &Config, video_codec: crate::media::VideoCodec) -> MediaSpec {
    MediaSpec {
        video_out: VideoOut::Display(VideoChannels::for_device(CHANNELS)),
        video_codec,
        ..config.media()
    }
}

impl Supervisor {
    async fn handle(&mut self, input: Input) -> Result<(), DaemonError> {
        match input {
            Input::Link(event) => self.on_link(event).await,
            Input::Control(call) => self.on_control(call).await,
            Input::Call((id, report)) => self.on_call_report(id, report),
            Input::CallEnded(ended) => self.calls.ended(ended),
            Input::Checked(checked) => self.on_checked(checked),
            Input::Touch(touch) => self.on_touch(touch.point, touch.held, None),
            Input::FlowDeadline => {
                self.step(Event::Tick);
            }
            Input::Second => self.every_second(),
            Input::Heartbeat => self.presence.heartbeat(self.status()),
            Input::Sweep => self.sweep(),
            Input::Watchdog => self.watchdog(),
            Input::BundlePoll => self.look_for_bundle()?,
        }
        Ok(())
    }

    /// Feeds the flow one event and carries out what it answers. Returns its refusal, if any.
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
                if state == crate::wire::KioskState::CodeAccepted {
                    // While the patient reads the consent screen.
                    self.calls.prepare();
                }
                let health = self.calls.health();
                self.presence.state_changed(Status {
                    state,
                    detail,
                    health,
                });
            }
            Action::Report(event) => self.presence.report(event, self.screen.quality()),
            Action::JoinSession {
                session,
                patient_name,
                key,
                test_call,
            } => {
                // Without a fleet there are no appointments, so no code can lead here.
                let Some(out) = self.presence.join_session(&session, key.as_ref()) else {
                    tracing::error!("no fleet connection to join a session on");
                    return;
                };
                let ice = self.settings.now().ice.clone();
                // This step is the patient's consent: its receipt goes to the doctor's side.
                // A test call has no patient, so no consent.
                let consent = match test_call {
                    true => None,
                    false => self.presence.sign_consent(&session, &patient_name),
                };
                if let Some(left) = self
                    .calls
                    .join(session, patient_name, ice, key, consent, out)
                {
                    self.presence.leave_session(&left, None);
                }
            }
            Action::LeaveSession { bye } => {
                // The bye goes out now, before the state this step publishes.
                if let Some(session) = self.calls.leave() {
                    self.presence.leave_session(&session, bye);
                }
            }
            Action::EndTestCall {
                test,
                duration_s,
                failure,
            } => {
                let stats = self.calls.latest_stats(now()).unwrap_or_default();
                let failed = failure.map(crate::wire::ProblemCode::as_str);
                tracing::info!(%test, duration_s, failed, "test call ended");
                let event = crate::wire::EventKind::TestCallEnded {
                    test,
                    duration_s,
                    video_frames_received: stats.video_frames_received,
                    audio_buffers_received: stats.audio_buffers_received,
                    audio_level_dbfs: stats.audio_level_in_dbfs.map(|db| db.round() as i64),
                    failure,
                };
                self.presence.report(event, self.screen.quality());
            }
            Action::WipeInput => self.screen.wipe_input(),
            Action::SaveLockout(record) => self
                .lockout_file
                .save(record, time::OffsetDateTime::now_utc()),
        }
    }

    fn on_call_report(&mut self, id: u64, report: call::CallReport) {
        let Some(session) = self.calls.session_of(id).map(String::from) else {
            return;
        };
        let event = match report {
            call::CallReport::PeerJoined { .. } => Event::DoctorJoined,
            call::CallReport::MediaFlowing => Event::MediaFlowing,
            call::CallReport::Interrupted => Event::Interrupted,
            call::CallReport::Resumed { outage } => Event::Resumed { outage },
            call::CallReport::Relayed => Event::Relayed,
            call::CallReport::VideoPaused(paused) => Event::VideoPaused(paused),
            call::CallReport::RemoteBye(reason) => {
                tracing::info!(%session, reason = reason.as_str(), "doctor left");
                Event::RemoteBye(reason)
            }
            // For the log: how the doctor's picture follows the doctor's link.
            call::CallReport::PictureSize { width, height } => {
                tracing::info!(%session, "the doctor's picture arrives at {width}x{height}");
                return;
            }
            // Only the doctor's side is ever told busy.
            call::CallReport::Busy => return,
            call::CallReport::Failed { failure, why } => {
                tracing::warn!(%session, reason = %why, "call failed");
                self.calls.failed(id, failure);
                Event::CallFailed(failure)
            }
        };
        self.step(event);
    }

    /// What the state report says now.
    fn status(&self) -> Status {
        Status {
            state: self.kiosk.state(),
            detail: self.kiosk.detail(),
            health: self.calls.health(),
        }
    }

    /// Follows the flow on the screen and redraws what changed.
    fn refresh_screen(&mut self) {
        let around = Around {
            room: &self.settings.now().room,
            broker_online: self.presence.broker_online(),
        };
        self.screen.refresh(self.kiosk.flow(), around, now());
    }

    /// Once a second: the clock, the call's duration and quality, the screens' timeouts, the
    /// status line.
    /// Tells the flow when the wall clock becomes confirmed or stops being so.
    fn check_clock(&mut self) {
        let confirmed = self.settings.config().time.clock_confirmed();
        if self.clock_confirmed == Some(confirmed) {
            return;
        }
        if confirmed {
            tracing::info!("the clock is confirmed: codes are checked");
        } else {
            let marker = self.settings.config().time.synchronized_marker.display();
            tracing::warn!(%marker, "the clock is not synchronized: no code opens an appointment until it is");
        }
        self.clock_confirmed = Some(confirmed);
        self.step(Event::ClockConfirmed(confirmed));
    }

    fn every_second(&mut self) {
        self.check_clock();
        let now = now();
        // A call waiting to recover through the broker wants it back soon (set before a
        // reconnect below starts, so that one already tries hard).
        let interrupted =
            matches!(self.kiosk.flow(), Flow::InCall { link, .. } if link.interrupted);
        self.presence.set_urgent(interrupted);
        if self.presence.watch_network() {
            self.calls.network_changed();
        }
        let in_call = matches!(self.kiosk.flow(), Flow::InCall { .. });
        let reading = if in_call {
            self.calls.reading(now)
        } else {
            None
        };
        self.screen.tick(reading, now);
        self.refresh_screen();
        self.report_liveness();
    }

    /// Expired appointments go, and event log entries past their time; only while the clock is
    /// confirmed. A clock far ahead after boot (no real-time clock, a wrong one) would otherwise
    /// delete every appointment, every revocation (so a revoked appointment could be replayed
    /// once the clock is right) and the whole event log.
    fn sweep(&mut self) {
        if self.clock_confirmed != Some(true) {
            return;
        }
        match self.book.sweep(time::OffsetDateTime::now_utc()) {
            Ok(gone) if !gone.is_empty() => {
                tracing::info!(count = gone.len(), "expired appointments deleted")
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "cannot delete expired appointments"),
        }
        self.presence.prune_event_log();
    }

    /// The status line towards systemd, and `READY=1` the first time kioskd serves.
    fn report_liveness(&mut self) {
        let fleet = self
            .presence
            .describe(&self.settings.config().provisioning_bundle, self.book.len());
        let status = if self.presence.is_provisioned() {
            format!("{}: {fleet}", self.kiosk.state().as_str())
        } else {
            fleet
        };
        let ui_up = self.screen.display().frames_shown() > 0;
        let settled = self.presence.settled(liveness::READY_GRACE);
        self.liveness.report(status, ui_up, settled);
    }

    /// Pings systemd's watchdog if every part answers.
    fn watchdog(&mut self) {
        let now = now();
        let signs = Signs {
            link_silent_for: self.presence.link_silent_for(),
            frames_shown: self.screen.display().frames_shown(),
            call_stalled_for: self.calls.stalled_for(now),
        };
        if self.liveness.watchdog(signs, now) {
            self.report_liveness();
        }
    }

    /// Waits for calls being ended, reading the link meanwhile so `bye` is never stuck.
    async fn wait_for_calls(&mut self) {
        loop {
            tokio::select! {
                ended = self.calls.next_ended() => match ended {
                    Some(ended) => self.calls.ended(ended),
                    None => return,
                },
                Some(_) = self.presence.next_event() => {}
            }
        }
    }
}
