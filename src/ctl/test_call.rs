//! `kioskctl device test-call ID`: the fleet's IT checks a kiosk's camera, microphone and
//! network path from afar, with nobody in the room (protocol.md 3.5, "The test call").
//!
//! It signs a `test_call` for the kiosk (the session key sealed to it, as an appointment's),
//! listens to the kiosk's events for a refusal and for what the kiosk received, joins the
//! session as the headless doctor peer does, and prints a verdict: picture and sound each way,
//! bitrate, round-trip time, and whether the path is direct.

use std::time::Duration;

use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::oneshot;

use super::doctor::{self, DoctorArgs};
use super::observed::{CallFailed, NotJoined, Observed};
use super::{Fleet, appointment, random_hex};
use crate::wire::{
    self, Command, CommandKind, EventKind, EventReport, ProblemCode, SealedNames, SessionKey,
    SignedBody, SignedTestCall, TestCallRefusal,
};

/// How long the request is current: the kiosk refuses it afterwards (`expired`).
const VALID_FOR: time::Duration = time::Duration::seconds(90);
/// A voice quieter than this is no voice: a muted or dead microphone still sends packets.
const SILENT_DBFS: f64 = -70.0;

/// What the kiosk said of the test call on its events topic.
#[derive(Debug)]
struct KioskSide {
    video_frames: u64,
    audio_buffers: u64,
    level_dbfs: Option<i64>,
    /// What made the kiosk end it early, if something did.
    failure: Option<ProblemCode>,
}

/// How a test call should say what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Output {
    Text,
    Json,
    /// Nothing: the caller shows the [`Report`] (the dashboard).
    Quiet,
}

/// What a test call found: both sides' readings and the verdict on them.
#[derive(Debug)]
pub(super) struct Report {
    device: String,
    us: Observed,
    kiosk: Option<KioskSide>,
    /// Why this side's call ended otherwise than by the kiosk's hang-up, if it did.
    cut_short: Option<String>,
    verdict: Verdict,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.verdict.problems.is_empty()
    }

    /// The verdict as one JSON object (`--json`'s last line, the dashboard's event).
    pub fn json(&self) -> serde_json::Value {
        let (us, s) = (&self.us, &self.us.summary);
        json!({
            "event": "verdict",
            "device": self.device,
            "ok": self.ok(),
            "from_kiosk": {"video_frames": s.video_frames_received,
                "audio_buffers": s.audio_buffers_received, "audio_level_dbfs": us.loudest_dbfs},
            "at_kiosk": self.kiosk.as_ref().map(|k| json!({"video_frames": k.video_frames,
                "audio_buffers": k.audio_buffers, "audio_level_dbfs": k.level_dbfs,
                "failure": k.failure.map(ProblemCode::as_str)})),
            "cut_short": self.cut_short,
            "bitrate_in_kbps": us.peak_in_kbps,
            "bitrate_out_kbps": us.peak_out_kbps,
            "rtt_ms": us.rtt_ms,
            "path": us.path,
            "direct": self.verdict.direct,
            "problems": self.verdict.problems,
        })
    }
}

/// `kioskctl device test-call`: the test call, its verdict printed; an error unless all is well.
pub async fn run(
    fleet: &Fleet,
    device: &str,
    json_out: bool,
    ice_local: Vec<String>,
) -> anyhow::Result<()> {
    let output = match json_out {
        true => Output::Json,
        false => Output::Text,
    };
    let report = check(fleet, device, output, ice_local).await?;
    match output {
        Output::Json => println!("{}", report.json()),
        _ => report.print(),
    }
    match report.ok() {
        true => Ok(()),
        false => anyhow::bail!(
            "Testanruf nicht in Ordnung / test call not OK: {}",
            report.verdict.problems.join("; ")
        ),
    }
}

/// Asks `device` for a test call, takes part in it, and returns what it found. An error when
/// it did not happen (refused, no answer, failed).
pub(super) async fn check(
    fleet: &Fleet,
    device: &str,
    output: Output,
    ice_local: Vec<String>,
) -> anyhow::Result<Report> {
    let topics = fleet.device(device)?;
    let id = format!("test-{}", random_hex(8));
    let session = format!("t-{}", random_hex(8));
    let key = SessionKey::generate();
    let command = signed_request(fleet, device, &id, &session, &key)
        .map_err(|e| anyhow::anyhow!("Testanruf nicht gesendet / test call not sent: {e}"))?;

    // Listening before asking: a refusal comes at once.
    let mut watch = fleet.session().await?;
    watch.subscribe(&topics.events()).await?;
    watch
        .publish(&topics.commands(), wire::encode(&command), false)
        .await?;
    if output == Output::Text {
        println!("Testanruf an {device} gesendet / test call sent to {device} ({id})");
    }
    let (stop_tx, stop_rx) = oneshot::channel::<String>();
    let (ended_tx, ended_rx) = oneshot::channel::<KioskSide>();
    let test = id.clone();
    let watcher = tokio::spawn(async move {
        let (mut stop_tx, mut ended_tx) = (Some(stop_tx), Some(ended_tx));
        while let Ok((_, payload)) = watch.next_message().await {
            let Ok(report) = wire::decode::<EventReport>(&payload) else {
                continue;
            };
            match report.event {
                EventKind::TestCallRefused { test: t, reason } if t == test => {
                    if let Some(tx) = stop_tx.take() {
                        let _ = tx.send(refusal_text(reason));
                    }
                }
                EventKind::TestCallEnded {
                    test: t,
                    video_frames_received,
                    audio_buffers_received,
                    audio_level_dbfs,
                    failure,
                    ..
                } if t == test => {
                    if let Some(tx) = ended_tx.take() {
                        let _ = tx.send(KioskSide {
                            video_frames: video_frames_received,
                            audio_buffers: audio_buffers_received,
                            level_dbfs: audio_level_dbfs,
                            failure,
                        });
                    }
                    break;
                }
                _ => {}
            }
        }
        watch.disconnect().await;
    });

    let args = DoctorArgs::test_call(device, &session, &key).with_output(
        output == Output::Json,
        output == Output::Quiet,
        ice_local,
    );
    // A call that failed once joined still has a verdict: the kiosk says what failed.
    let (observed, cut_short) = match doctor::call(fleet, args, Some(stop_rx)).await {
        Ok(observed) => (observed, None),
        Err(e) => match e.downcast::<CallFailed>() {
            Ok(CallFailed { why, observed }) => (observed, Some(why)),
            Err(e) => {
                watcher.abort();
                let why = match e.downcast_ref::<NotJoined>() {
                    Some(_) => "der Kiosk hat nicht geantwortet (offline, oder die Anfrage wurde verworfen: siehe sein Protokoll) / the kiosk did not answer (offline, or it dropped the request: see its log)".to_string(),
                    None => e.to_string(),
                };
                anyhow::bail!("Testanruf gescheitert / test call failed: {why}");
            }
        },
    };
    // The kiosk reports what it received once it has left the session.
    let kiosk = tokio::time::timeout(Duration::from_secs(10), ended_rx)
        .await
        .ok()
        .and_then(Result::ok);
    watcher.abort();
    Ok(Report {
        device: device.into(),
        verdict: Verdict::of(&observed, kiosk.as_ref(), cut_short.as_deref()),
        us: observed,
        kiosk,
        cut_short,
    })
}

/// The `test_call` command: signed by the fleet manager, the session key sealed to the kiosk.
fn signed_request(
    fleet: &Fleet,
    device: &str,
    id: &str,
    session: &str,
    key: &SessionKey,
) -> anyhow::Result<Command> {
    let names = SealedNames {
        doctor_name: "Praxis-IT".into(),
        patient_name: None,
        session_key: key.clone(),
    };
    let sealed = appointment::sealed_for(fleet, device, id, &names)?;
    let now = OffsetDateTime::now_utc().replace_nanosecond(0)?;
    let body = SignedBody::TestCall(SignedTestCall {
        device: device.into(),
        id: id.into(),
        session: session.into(),
        not_after: now + VALID_FOR,
        sealed,
    });
    Ok(Command {
        signed: Some(Box::new(appointment::signer(fleet)?.sign(&body))),
        ..Command::new(CommandKind::TestCall)
    })
}

/// What made the kiosk end the test call, for the fleet's IT.
fn failure_text(failure: ProblemCode) -> String {
    let (de, en) = match failure {
        ProblemCode::CameraMissing => ("Kamera ausgefallen", "its camera failed"),
        ProblemCode::MicrophoneMissing => ("Mikrofon ausgefallen", "its microphone failed"),
        ProblemCode::P2pFailed => (
            "keine Verbindung zustande gekommen",
            "no connection could be made",
        ),
        ProblemCode::ConnectionLost => ("Verbindung abgerissen", "the connection was lost"),
        ProblemCode::SecurityCheckFailed => (
            "Sicherheitsprüfung fehlgeschlagen",
            "the security check failed",
        ),
        _ => ("Fehler", "an error"),
    };
    let word = failure.as_str();
    format!("der Kiosk hat den Test abgebrochen: {de} / the kiosk ended the test: {en} ({word})")
}

fn refusal_text(reason: TestCallRefusal) -> String {
    let text = match reason {
        TestCallRefusal::Busy => {
            "der Kiosk wird gerade benutzt (Sprechstunde oder jemand am Bildschirm) / the kiosk is in use (a consultation, or someone at the screen)"
        }
        TestCallRefusal::ClockUnknown => {
            "die Uhr des Kiosks ist nicht synchronisiert / the kiosk's clock is not synchronized"
        }
        TestCallRefusal::Expired => {
            "die Anfrage war abgelaufen oder schon benutzt (stimmt die Uhr dieses Rechners?) / the request had expired or was used before (is this computer's clock right?)"
        }
        TestCallRefusal::Unknown => "abgelehnt / refused",
    };
    format!("abgelehnt / refused ({}): {text}", reason.as_str())
}

/// What the test call showed, and what is wrong with it.
#[derive(Debug)]
struct Verdict {
    direct: bool,
    problems: Vec<String>,
}

impl Verdict {
    /// `cut_short`: why this side's call ended early, said unless the kiosk said better.
    fn of(us: &Observed, kiosk: Option<&KioskSide>, cut_short: Option<&str>) -> Self {
        // `host/srflx` and the like: a TURN relay on either side is not peer to peer.
        let direct = us.path.as_deref().is_some_and(|p| !p.contains("relay"));
        // A test call cut short did not run its course: what it did not get to measure follows
        // from the cause, which is the one thing to say (the numbers are printed all the same).
        let cause = match (kiosk.and_then(|k| k.failure), cut_short) {
            (Some(failure), _) => Some(failure_text(failure)),
            (None, Some(why)) => Some(format!(
                "Testanruf vorzeitig beendet / test call cut short: {why}"
            )),
            (None, None) => None,
        };
        if let Some(cause) = cause {
            return Self {
                direct,
                problems: vec![cause],
            };
        }
        let mut problems = Vec::new();
        let s = &us.summary;
        if s.video_frames_received == 0 {
            problems
                .push("kein Bild vom Kiosk (Kamera?) / no picture from the kiosk (camera?)".into());
        }
        if s.audio_buffers_received == 0 || us.loudest_dbfs.is_none_or(|db| db < SILENT_DBFS) {
            problems.push(
                "kein Ton vom Kiosk (Mikrofon?) / no sound from the kiosk (microphone?)".into(),
            );
        }
        match kiosk {
            None => problems.push(
                "der Kiosk hat nicht gemeldet, was bei ihm ankam / the kiosk did not report what it received".into(),
            ),
            Some(k) => {
                if k.video_frames == 0 {
                    problems.push("am Kiosk kam kein Bild an / no picture reached the kiosk".into());
                }
                if k.audio_buffers == 0 || k.level_dbfs.is_none_or(|db| (db as f64) < SILENT_DBFS) {
                    problems.push("am Kiosk kam kein Ton an / no sound reached the kiosk".into());
                }
            }
        }
        if !direct {
            problems.push(match &us.path {
                Some(path) => {
                    format!("keine direkte Verbindung ({path}) / no direct connection ({path})")
                }
                None => "kein Verbindungsweg bekannt / no connection path known".into(),
            });
        }
        Self { direct, problems }
    }
}

impl Report {
    fn print(&self) {
        let (device, us, kiosk) = (&self.device, &self.us, self.kiosk.as_ref());
        let s = &us.summary;
        let db = |level: Option<f64>| level.map_or("-".into(), |l| format!("{l:.0} dBFS"));
        println!("Testanruf / test call {device}, {:.0} s:", s.elapsed_s);
        println!(
            "  vom Kiosk / from the kiosk: {} frames, {} audio buffers, {}",
            s.video_frames_received,
            s.audio_buffers_received,
            db(us.loudest_dbfs)
        );
        match kiosk {
            Some(k) => println!(
                "  am Kiosk / at the kiosk:    {} frames, {} audio buffers, {}",
                k.video_frames,
                k.audio_buffers,
                db(k.level_dbfs.map(|l| l as f64))
            ),
            None => println!("  am Kiosk / at the kiosk:    keine Meldung / no report"),
        }
        println!(
            "  Bitrate: in {:.0} kbit/s, out {:.0} kbit/s; RTT {}",
            us.peak_in_kbps,
            us.peak_out_kbps,
            us.rtt_ms.map_or("-".into(), |r| format!("{r:.1} ms"))
        );
        let path = us.path.as_deref().unwrap_or("-");
        match self.verdict.direct {
            true => println!("  Weg / path: direkte Verbindung / direct connection ({path})"),
            false => println!("  Weg / path: {path}"),
        }
        match self.ok() {
            true => println!("Ergebnis / verdict: in Ordnung / OK"),
            false => {
                println!("Ergebnis / verdict: nicht in Ordnung / not OK");
                for problem in &self.verdict.problems {
                    println!("  - {problem}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(path: &str, loudest: Option<f64>) -> Observed {
        Observed {
            summary: crate::wire::CallStats {
                video_frames_received: 1500,
                audio_buffers_received: 3000,
                ..Default::default()
            },
            loudest_dbfs: loudest,
            peak_in_kbps: 900.0,
            peak_out_kbps: 1100.0,
            rtt_ms: Some(12.0),
            path: Some(path.into()),
        }
    }

    fn kiosk(video_frames: u64, level_dbfs: Option<i64>) -> KioskSide {
        KioskSide {
            video_frames,
            audio_buffers: 2900,
            level_dbfs,
            failure: None,
        }
    }

    #[test]
    fn all_well_both_ways_over_a_direct_path_is_ok() {
        let verdict = Verdict::of(
            &us("host/srflx", Some(-24.0)),
            Some(&kiosk(1400, Some(-20))),
            None,
        );
        assert!(verdict.direct);
        assert!(verdict.problems.is_empty(), "{:?}", verdict.problems);
    }

    #[test]
    fn each_missing_direction_a_silent_microphone_and_a_relay_are_named() {
        let cases: [(Observed, Option<KioskSide>, &str); 5] = [
            (
                us("host/host", Some(-85.0)),
                Some(kiosk(1400, Some(-20))),
                "no sound from the kiosk",
            ),
            (
                us("host/host", Some(-20.0)),
                Some(kiosk(0, Some(-20))),
                "no picture reached the kiosk",
            ),
            (
                us("host/host", Some(-20.0)),
                Some(kiosk(1400, None)),
                "no sound reached the kiosk",
            ),
            (us("host/host", Some(-20.0)), None, "did not report"),
            (
                us("host/relay", Some(-20.0)),
                Some(kiosk(1400, Some(-20))),
                "no direct connection",
            ),
        ];
        for (ours, theirs, said) in cases {
            let verdict = Verdict::of(&ours, theirs.as_ref(), None);
            assert_eq!(verdict.problems.len(), 1, "{:?}", verdict.problems);
            assert!(verdict.problems[0].contains(said), "{:?}", verdict.problems);
        }
        let mut none = us("host/host", Some(-20.0));
        none.summary.video_frames_received = 0;
        none.path = None;
        let verdict = Verdict::of(&none, Some(&kiosk(1400, Some(-20))), None);
        assert!(!verdict.direct);
        assert_eq!(verdict.problems.len(), 2, "{:?}", verdict.problems);
    }

    #[test]
    fn a_test_call_cut_short_names_its_cause_alone_the_kiosks_word_first() {
        // Nothing arrived either way: that follows from the cause and is not said again.
        let mut ours = us("host/host", None);
        ours.summary.video_frames_received = 0;
        let mut broken = kiosk(0, None);
        broken.failure = Some(ProblemCode::MicrophoneMissing);
        let why = "the kiosk ended the call: error";
        let verdict = Verdict::of(&ours, Some(&broken), Some(why));
        assert_eq!(verdict.problems.len(), 1, "{:?}", verdict.problems);
        let said = &verdict.problems[0];
        assert!(
            said.contains("Mikrofon ausgefallen")
                && said.contains("its microphone failed (microphone_missing)"),
            "{said}"
        );
        // Without the kiosk's word, this side's reason is all there is.
        let verdict = Verdict::of(&ours, Some(&kiosk(1400, Some(-20))), Some(why));
        assert_eq!(
            verdict.problems,
            [format!(
                "Testanruf vorzeitig beendet / test call cut short: {why}"
            )]
        );
        for failure in [
            ProblemCode::CameraMissing,
            ProblemCode::P2pFailed,
            ProblemCode::ConnectionLost,
            ProblemCode::SecurityCheckFailed,
            ProblemCode::Unknown,
        ] {
            let text = failure_text(failure);
            assert!(
                text.contains(" / ") && text.contains(&format!("({})", failure.as_str())),
                "{text}"
            );
        }
    }

    #[test]
    fn every_refusal_is_said_in_german_and_english_with_its_word() {
        for reason in [
            TestCallRefusal::Busy,
            TestCallRefusal::ClockUnknown,
            TestCallRefusal::Expired,
        ] {
            let text = refusal_text(reason);
            assert!(
                text.contains(&format!("refused ({})", reason.as_str())),
                "{text}"
            );
            assert!(text.contains("abgelehnt") && text.contains(" / "), "{text}");
        }
    }
}
