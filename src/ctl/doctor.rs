//! `kioskctl doctor`: a headless doctor peer. It joins a session, answers the kiosk's offer with
//! the same call code kioskd uses (the answerer role), and prints the call's statistics every
//! second and at the end. Tests use it as the remote side; a fleet manager uses it for a test call.

use std::time::Duration;

use clap::Args;
use serde_json::json;
use tokio::sync::mpsc;

use super::observed::{CallFailed, Ending, NotJoined, Observed};
use super::{Fleet, random_hex};
use crate::call::ice_spec;
use crate::call::{self, CallReport, CallSpec, IceSpec, Role, SignalOut};
use crate::fleet::broker::Login;
use crate::fleet::trust::Channel;
use crate::fleet::{self, LinkEvent, LinkOptions, Route, SessionPublisher, SharedChannel, Side};
use crate::media::{AudioSource, MediaSpec, VideoOut, VideoSink, VideoSource};
use crate::wire::{
    self, ByeReason, CallStats, Hello, JoinLink, SealedSignal, Sender, SessionKey, Signal,
    SignalMsg,
};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The doctor's join link from `appointment create`: device, session and the session's
    /// login. --broker then names the broker's doctor listener.
    #[arg(long, conflicts_with_all = ["device", "session"])]
    link: Option<String>,
    /// Without a link: join as the fleet manager (its certificate) or on a plaintext broker.
    #[arg(long, required_unless_present = "link")]
    device: Option<String>,
    #[arg(long, required_unless_present = "link")]
    session: Option<String>,
    /// Without a link: the session key (base64url) that seals the session's signalling, as
    /// the join link's `key` carries it. Without it, signalling is in clear, which only a
    /// development kiosk (plaintext loopback broker) takes.
    #[arg(long, conflicts_with = "link")]
    key: Option<String>,
    /// The name the kiosk is told.
    #[arg(long, default_value = "Testanruf Flottenverwaltung")]
    name: String,
    /// Hang up after this many seconds (default: stay until the kiosk hangs up or Ctrl-C).
    #[arg(long)]
    hangup_after: Option<u64>,
    /// Give up if the kiosk has not joined after this many seconds.
    #[arg(long, default_value_t = 600)]
    wait: u64,
    /// Send this V4L2 camera instead of a test picture.
    #[arg(long)]
    camera: Option<String>,
    /// Speak with this WAV file instead of a test tone (played once, in real time): a recorded
    /// voice for the kiosk's speaker. `silence` sends silence.
    #[arg(long)]
    voice_file: Option<String>,
    /// Show the kiosk's picture in a window.
    #[arg(long)]
    show: bool,
    /// STUN server (stun:host:port) instead of the ones the kiosk names (the fleet's).
    #[arg(long)]
    stun: Option<String>,
    /// Restrict ICE to this local address (repeatable).
    #[arg(long = "ice-local")]
    ice_local: Vec<String>,
    /// Print one JSON object per line instead of text.
    #[arg(long)]
    json: bool,
    /// Rejoin as the window of an earlier run (its `window` as printed when it started), as a
    /// reloaded browser tab does: the kiosk takes it for the window that holds the call
    /// (protocol.md 5, rule 10). Without it, every run is a new window.
    #[arg(long, value_parser = parse_window)]
    window: Option<String>,
    /// Benchmarks: send the time-coded test picture and beeps, and measure how late the
    /// kiosk's play here (glass to glass, sound and picture offset; in the statistics).
    #[arg(long, conflicts_with_all = ["camera", "voice_file"])]
    measure_latency: bool,
    /// Tests only, and only with `PRAXISKIOSK_TEST_FAULTS=1`: changes the fingerprint in our
    /// answer, as a man in the middle would, so the kiosk's check must end the call.
    #[arg(long, hide = true)]
    test_wrong_fingerprint: bool,
    /// Print nothing (the dashboard's test call: its page shows the verdict).
    #[arg(skip)]
    quiet: bool,
}

/// What this side can send and receive (rule 7): VP8 always, H.264 where GStreamer has an
/// encoder and a decoder for it.
fn video_codecs() -> Vec<String> {
    use crate::media::codec::{CodecChoice, choose};
    let h264 = choose(CodecChoice::H264, crate::media::element_exists).is_ok();
    let mut codecs = vec!["VP8".to_string()];
    codecs.extend(h264.then(|| "H264".to_string()));
    codecs
}

fn parse_window(nonce: &str) -> Result<String, String> {
    crate::wire::nonce_is_valid(nonce)
        .then(|| nonce.to_string())
        .ok_or_else(|| {
            let max = crate::wire::NONCE_MAX;
            format!("höchstens {max} Buchstaben, Ziffern, - oder _ / at most {max} letters, digits, - or _")
        })
}

/// Our answers with their `a=fingerprint` changed (`--test-wrong-fingerprint`).
struct WrongFingerprint<O>(O);

impl<O: SignalOut> SignalOut for WrongFingerprint<O> {
    fn send(&self, signal: Signal) {
        self.0.send(match signal {
            Signal::Answer { sdp } => Signal::Answer {
                sdp: call::wrong_fingerprints_for_test(&sdp),
            },
            other => other,
        });
    }
}

/// Where the doctor's side says what happens: JSON lines, text, or nothing.
#[derive(Debug, Clone, Copy)]
struct Out {
    json: bool,
    quiet: bool,
}

fn say(out: Out, value: serde_json::Value, text: String) {
    match out {
        Out { quiet: true, .. } => {}
        Out { json: true, .. } => println!("{value}"),
        Out { json: false, .. } => println!("{text}"),
    }
}

fn stats_text(s: &CallStats) -> String {
    format!(
        "{:>5.1}s  video in {:>5} frames  audio in {:>5}  in {:>7.1} kbit/s  out {:>7.1} kbit/s  rtt {}  lost {}  ice {}",
        s.elapsed_s,
        s.video_frames_received,
        s.audio_buffers_received,
        s.bitrate_in_kbps,
        s.bitrate_out_kbps,
        s.rtt_ms
            .map(|r| format!("{r:.1} ms"))
            .unwrap_or_else(|| "-".into()),
        s.packets_lost,
        s.ice_state
    )
}

/// A message of the kiosk: opened with the session's channel if there is one (and then only
/// sealed messages count), in clear otherwise.
fn receive(channel: Option<&SharedChannel>, payload: &[u8]) -> Result<Signal, String> {
    match channel {
        Some(channel) if wire::version_of(payload) == Some(2) => {
            let sealed: SealedSignal = wire::decode_v2(payload).map_err(|e| e.to_string())?;
            fleet::open_signal(channel, &sealed)
        }
        Some(_) => Err("signalling in clear refused: this session is sealed".into()),
        None => Ok(wire::decode::<SignalMsg>(payload)
            .map_err(|e| e.to_string())?
            .signal),
    }
}

/// What woke the doctor's loop.
enum Wake {
    Link(LinkEvent),
    Report(CallReport),
    Tick,
}

pub async fn run(fleet: &Fleet, args: DoctorArgs) -> anyhow::Result<()> {
    call(fleet, args, None).await.map(drop)
}

impl DoctorArgs {
    /// The fleet manager's side of a test call: the fleet's test sources, as `Praxis-IT`,
    /// leaving it to the kiosk to end (it does within 60 s; `hangup_after` is a backstop).
    pub(super) fn test_call(device: &str, session: &str, key: &SessionKey) -> Self {
        Self {
            link: None,
            device: Some(device.into()),
            session: Some(session.into()),
            key: Some(key.to_base64url()),
            name: "Praxis-IT".into(),
            hangup_after: Some(75),
            wait: 20,
            camera: None,
            voice_file: None,
            show: false,
            stun: None,
            ice_local: Vec::new(),
            json: false,
            window: None,
            measure_latency: false,
            test_wrong_fingerprint: false,
            quiet: false,
        }
    }

    pub(super) fn with_output(self, json: bool, quiet: bool, ice_local: Vec<String>) -> Self {
        Self {
            json,
            quiet,
            ice_local,
            ..self
        }
    }
}

/// Joins the session as `args` say until it ends, or until `stop` says why it must (a test
/// call the kiosk refused). Returns what this side saw.
pub(super) async fn call(
    fleet: &Fleet,
    args: DoctorArgs,
    stop: Option<tokio::sync::oneshot::Receiver<String>>,
) -> anyhow::Result<Observed> {
    let (endpoint, topics, session, key) = match &args.link {
        Some(link) => {
            let link = JoinLink::parse(link)?;
            let login = Login {
                username: link.username.clone(),
                password: link.password.clone(),
            };
            (
                fleet.doctor_endpoint(login)?,
                crate::fleet::Topics::new(&link.root, &link.device)?,
                link.session,
                link.key,
            )
        }
        None => {
            let (device, session) =
                args.device
                    .clone()
                    .zip(args.session.clone())
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "ohne --link sind --device und --session nötig / \
                             --device and --session are needed without --link"
                        )
                    })?;
            let key = match &args.key {
                Some(text) => Some(SessionKey::from_base64url(text).ok_or_else(|| {
                    anyhow::anyhow!(
                        "--key ist kein Schlüssel aus 32 Bytes base64url / \
                         --key is not 32 bytes of base64url"
                    )
                })?),
                None => None,
            };
            (fleet.endpoint()?, fleet.device(&device)?, session, key)
        }
    };
    // The session's sealed signalling: the same channel seals what we send and opens what
    // the kiosk sends.
    let channel: Option<SharedChannel> = key.as_ref().map(|key| {
        std::sync::Arc::new(std::sync::Mutex::new(Channel::new(
            key,
            &session,
            Sender::Doctor,
        )))
    });
    crate::fleet::topics::check_id("session", &session)?;
    let told = Out {
        json: args.json,
        quiet: args.quiet,
    };
    anyhow::ensure!(
        !args.test_wrong_fingerprint
            || std::env::var("PRAXISKIOSK_TEST_FAULTS").as_deref() == Ok("1"),
        "--test-wrong-fingerprint ist ein Testfehler und braucht PRAXISKIOSK_TEST_FAULTS=1 / \
         --test-wrong-fingerprint is a test fault: it needs PRAXISKIOSK_TEST_FAULTS=1"
    );
    call::init()?;
    let mut media = MediaSpec::test_sources();
    if let Some(camera) = &args.camera {
        anyhow::ensure!(
            crate::media::is_safe_device(camera),
            "Kamera {camera:?} ist kein Gerätepfad / camera {camera:?} is not a device path"
        );
        media.video_source = VideoSource::V4l2;
        media.video_device = Some(camera.clone());
    }
    if args.show {
        media.video_out = VideoOut::Sink(VideoSink::Auto);
    }
    if args.measure_latency {
        media.measure = Some(crate::media::stamp::Meter::default());
    }
    if let Some(file) = &args.voice_file {
        media.audio_source = AudioSource::Wav;
        media.audio_device = (file != "silence").then(|| file.clone());
        anyhow::ensure!(
            media
                .audio_device
                .as_deref()
                .is_none_or(crate::media::is_safe_device),
            "--voice-file: kein brauchbarer Dateiname / not a usable file name: {file}"
        );
        // Said now, not as a GStreamer error once the kiosk has answered.
        anyhow::ensure!(
            media
                .audio_device
                .as_deref()
                .is_none_or(|path| std::path::Path::new(path).is_file()),
            "--voice-file: keine solche Datei / no such file: {file} \
             (eine WAV-Datei oder / a WAV file, or \"silence\")"
        );
    }
    call::check_elements(&media).map_err(|missing| {
        anyhow::anyhow!(
            "GStreamer-Elemente fehlen / GStreamer elements missing: {}",
            missing.join(", ")
        )
    })?;
    let _warm_up = call::warm_up(&media);
    let ice = match &args.stun {
        Some(stun) => ice_spec(std::slice::from_ref(stun), false, &args.ice_local),
        // The fleet's servers, as the kiosk's hello names them.
        None => IceSpec {
            local_addresses: args.ice_local.clone(),
            adopt_offered: true,
            ..IceSpec::default()
        },
    };

    let (link, mut link_events, link_task) = fleet::link::spawn(LinkOptions {
        client_id: format!("doctor-{}", random_hex(6)),
        endpoint: endpoint.clone(),
        last_will: None,
        keep_alive: Duration::from_secs(15),
    })?;
    link.subscribe(&topics.session(&session, Side::Kiosk));
    let mut last_error = String::from("no answer");
    let connected = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(event) = link_events.recv().await {
            match event {
                LinkEvent::Connected => return true,
                LinkEvent::Disconnected { reason, .. } => last_error = reason,
                LinkEvent::Message { .. } => {}
            }
        }
        false
    })
    .await;
    anyhow::ensure!(
        connected == Ok(true),
        "broker {} not reachable or login refused: {last_error}",
        endpoint.url
    );

    let spec = CallSpec {
        role: Role::Answerer,
        hello: Hello {
            video_codecs: video_codecs(),
            ..match &args.window {
                Some(window) => Hello {
                    nonce: Some(window.clone()),
                    ..Hello::new(args.name.clone())
                },
                None => Hello::from_window(args.name.clone()),
            }
        },
        media,
        ice,
        // Until the kiosk's hello says its own.
        reconnect: Duration::from_secs(45),
        // The doctor's side has no echo canceller to keep aligned (a headset, or the
        // browser's): the shortest wait that holds one voice packet (call/jitter.rs adapts).
        jitter_latency_ms: 20,
        code: call::CodeBasis {
            session: session.clone(),
            key: key.clone(),
        },
    };
    let (reports_tx, mut reports) = mpsc::channel(16);
    let out = SessionPublisher::new(link.clone(), &topics, &session, Side::Doctor)
        .sealed(channel.clone());
    let out: Box<dyn SignalOut> = if args.test_wrong_fingerprint {
        Box::new(WrongFingerprint(out))
    } else {
        Box::new(out)
    };
    let window = spec.hello.nonce.clone().unwrap_or_default();
    let handle = call::start(spec, out, reports_tx);
    say(
        told,
        json!({"event": "waiting", "window": window}),
        format!("waiting for the kiosk in session {session} (window {window})"),
    );

    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let hangup = async {
        match args.hangup_after {
            Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(hangup);
    let wait_limit = tokio::time::sleep(Duration::from_secs(args.wait));
    tokio::pin!(wait_limit);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    // A sender that went away without a word stops nothing.
    let stopped = async move {
        match stop {
            Some(rx) => match rx.await {
                Ok(why) => why,
                Err(_) => std::future::pending().await,
            },
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stopped);
    let mut observed = Observed::default();
    let mut joined = false;
    let mut link_lost = false;
    // The quality level the doctor's page would show, from one second to the next.
    let mut previous: Option<CallStats> = None;
    let mut shown_code: Option<String> = None;
    let (bye, failure) = loop {
        // The select only says what woke the loop; the match below (which rustfmt formats)
        // says what it means.
        let wake = tokio::select! {
            Some(event) = link_events.recv() => Wake::Link(event),
            Some(report) = reports.recv() => Wake::Report(report),
            _ = ticker.tick() => Wake::Tick,
            () = &mut hangup => break (Some(ByeReason::Hangup), None),
            () = &mut wait_limit, if !joined => {
                break (Some(ByeReason::Timeout), Some(Ending::NotJoined))
            }
            _ = &mut ctrl_c => break (Some(ByeReason::Hangup), None),
            why = &mut stopped => break (Some(ByeReason::Hangup), Some(Ending::Stopped(why))),
        };
        match wake {
            Wake::Link(LinkEvent::Message { topic, payload }) => {
                if let Some(Route::Session {
                    side: Side::Kiosk, ..
                }) = topics.route(&topic)
                {
                    match receive(channel.as_ref(), &payload) {
                        Ok(signal) => handle.deliver(signal),
                        // Said as an event too: a refused message is what an attack on
                        // the signalling looks like from here.
                        Err(_) if args.quiet => {}
                        Err(e) if args.json => {
                            println!("{}", json!({"event": "refused", "reason": e}))
                        }
                        Err(e) => eprintln!("signalling message dropped: {e}"),
                    }
                }
            }
            Wake::Link(LinkEvent::Disconnected { .. }) => link_lost = true,
            Wake::Link(LinkEvent::Connected) => {
                if std::mem::take(&mut link_lost) {
                    handle.link_restored();
                }
            }
            Wake::Report(CallReport::PeerJoined { name }) => {
                joined = true;
                let text = format!("Patient/in: {name}");
                say(told, json!({"event": "joined", "patient": name}), text);
            }
            Wake::Report(CallReport::MediaFlowing) => {
                // This window holds the call now (protocol.md 5, rule 10): thrown off the
                // broker by another window of the link, it lets that one read its busy first.
                link.set_unhurried(true);
                say(
                    told,
                    json!({"event": "media"}),
                    "picture from the kiosk arrives".into(),
                )
            }
            Wake::Report(CallReport::Interrupted) => {
                link.set_unhurried(false);
                say(
                    told,
                    json!({"event": "interrupted"}),
                    "Verbindung unterbrochen – wird wiederhergestellt …".into(),
                )
            }
            Wake::Report(CallReport::Resumed { outage }) => {
                link.set_unhurried(true);
                let ms = outage.as_millis() as u64;
                let text = format!("connection back after {:.1} s", outage.as_secs_f64());
                say(told, json!({"event": "resumed", "outage_ms": ms}), text);
            }
            Wake::Report(CallReport::PictureSize { width, height }) => {
                let size = format!("{width}x{height}");
                let text = format!("the kiosk's picture arrives at {size}");
                say(told, json!({"event": "picture_size", "size": size}), text);
            }
            Wake::Report(CallReport::VideoPaused(paused)) => {
                let text = if paused {
                    "the link is narrow: our picture pauses, the sound goes on"
                } else {
                    "our picture is back"
                };
                say(
                    told,
                    json!({"event": "video_paused", "paused": paused}),
                    text.into(),
                );
            }
            Wake::Report(CallReport::Relayed) => say(
                told,
                json!({"event": "relay_used"}),
                "media run through a TURN relay (not peer to peer)".into(),
            ),
            Wake::Report(CallReport::RemoteBye(reason)) => {
                let name = reason.as_str();
                let text = format!("kiosk hung up ({name})");
                say(told, json!({"event": "bye", "reason": name}), text);
                // A test call or a script learns from the exit status whether the call ended
                // as it should: only a hang-up is a success, a kiosk that gave up is not.
                let failed = (reason != ByeReason::Hangup).then(|| {
                    format!("der Kiosk hat den Anruf beendet / the kiosk ended the call: {name}")
                });
                break (None, failed.map(Ending::Failed));
            }
            Wake::Report(CallReport::Busy) => {
                let why = "Die Sprechstunde läuft bereits in einem anderen Fenster / \
                           the consultation is held in another window (told busy by the kiosk)";
                say(told, json!({"event": "busy"}), why.into());
                break (None, Some(Ending::Failed(why.into())));
            }
            Wake::Report(CallReport::Failed {
                failure: call::Failure::SecurityCheck,
                why,
            }) => {
                let text = format!("security check failed: {why}");
                let event = json!({"event": "security_check_failed", "why": why});
                say(told, event, text);
                break (
                    Some(ByeReason::SecurityCheckFailed),
                    Some(Ending::Failed(why)),
                );
            }
            Wake::Report(CallReport::Failed { why, .. }) => {
                break (Some(ByeReason::Error), Some(Ending::Failed(why)));
            }
            Wake::Tick => {
                if let call::Reading::Fresh(stats) = handle.stats(crate::platform::clock::now())
                    && (stats.video_frames_received > 0 || stats.ice_state != "new")
                {
                    observed.add(&stats);
                    let quality = previous
                        .replace(stats.clone())
                        .map(|before| crate::ui::quality::quality(&before, &stats).level());
                    // Said once per connection (each has its own code), then in every stats line.
                    if stats.security_code.is_some() && stats.security_code != shown_code {
                        shown_code.clone_from(&stats.security_code);
                        let code = stats.security_code.as_deref().unwrap_or_default();
                        let text = format!(
                            "Sicherheitscode / security code: {code} (compare it with the code shown at the kiosk)"
                        );
                        say(told, json!({"event": "security_code", "code": code}), text);
                    }
                    let text = stats_text(&stats);
                    let event = json!({"event": "stats", "stats": stats, "quality": quality});
                    say(told, event, text);
                }
            }
        }
    };
    let stats = handle.finish(bye).await;
    say(
        told,
        json!({"event": "summary", "stats": stats}),
        format!("summary: {}", stats_text(&stats)),
    );
    link.close();
    let _ = tokio::time::timeout(Duration::from_secs(3), link_task).await;
    let observed = Observed {
        summary: stats,
        ..observed
    };
    match failure {
        None => Ok(observed),
        Some(Ending::NotJoined) => Err(NotJoined.into()),
        // The caller worded why it stopped (a test call the kiosk refused).
        Some(Ending::Stopped(why)) => Err(anyhow::anyhow!(why)),
        Some(Ending::Failed(why)) => Err(CallFailed { why, observed }.into()),
    }
}
