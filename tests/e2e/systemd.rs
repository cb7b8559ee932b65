//! kioskd under systemd's notify protocol, spoken for real: the test is the service manager. It
//! binds the datagram socket, starts kioskd with `NOTIFY_SOCKET` and `WATCHDOG_USEC`, and reads
//! `READY=1`, `STATUS=` and the watchdog pings — which must stop when a part of kioskd hangs.

use std::io::Write;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use embedded_graphics::pixelcolor::RgbColor;

use crate::harness::{Kiosk, KioskConfig, Mosquitto, create_appointment, poll, wait_for};

/// What kioskd told "systemd", with when.
#[derive(Clone, Default)]
struct Notifications(Arc<Mutex<Vec<(Instant, String)>>>);

impl Notifications {
    fn listen(socket: UnixDatagram) -> Self {
        let seen = Self::default();
        let record = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = socket.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                let mut all = record.0.lock().unwrap();
                all.extend(text.lines().map(|l| (Instant::now(), l.to_string())));
            }
        });
        seen
    }

    fn lines(&self) -> Vec<(Instant, String)> {
        self.0.lock().unwrap().clone()
    }

    fn pings_after(&self, t: Instant) -> usize {
        self.lines()
            .iter()
            .filter(|(at, line)| *at > t && line == "WATCHDOG=1")
            .count()
    }

    /// The pings in the next `length`, waited for.
    fn pings_during(&self, length: Duration) -> usize {
        let since = Instant::now();
        std::thread::sleep(length);
        self.pings_after(since)
    }

    /// The last five lines, newest first: what a failed assertion shows.
    fn recent(&self) -> Vec<String> {
        let lines = self.lines().into_iter().rev().take(5);
        lines.map(|(_, line)| line).collect()
    }

    fn status_containing(&self, text: &str) -> Option<String> {
        self.lines()
            .into_iter()
            .map(|(_, line)| line)
            .find(|line| line.starts_with("STATUS=") && line.contains(text))
    }
}

fn start(part: &str) -> (Kiosk, Notifications, Mosquitto, tempfile::TempDir) {
    start_with(part, false)
}

/// [`start`], with composed screenshots allowed if `development`.
fn start_with(
    part: &str,
    development: bool,
) -> (Kiosk, Notifications, Mosquitto, tempfile::TempDir) {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let notifications = Notifications::listen(UnixDatagram::bind(&socket_path).unwrap());
    let mut command = Command::new(env!("CARGO_BIN_EXE_kioskd"));
    command
        .env("NOTIFY_SOCKET", &socket_path)
        // 2 s: kioskd pings every second.
        .env("WATCHDOG_USEC", "2000000")
        .env("PRAXISKIOSK_TEST_FAULTS", "1");
    let config = KioskConfig {
        development,
        ..KioskConfig::new(broker.port)
    };
    let kiosk = Kiosk::start_with(dir.path(), &config, command);

    wait_for(
        &format!("READY=1 ({part} test): {:?}", notifications.lines()),
        Duration::from_secs(20),
        || {
            notifications
                .lines()
                .iter()
                .any(|(_, l)| l == "READY=1")
                .then_some(())
        },
    );
    let status = notifications
        .status_containing("connected to")
        .expect("the status says where kioskd stands");
    assert!(status.contains("idle"), "{status}");
    let pings = notifications.pings_during(Duration::from_secs(4));
    assert!(
        pings >= 3,
        "regular WATCHDOG=1 while all is well: {pings} in 4 s"
    );
    (kiosk, notifications, broker, dir)
}

/// Makes `part` hang through the control socket, waits until kioskd says so (where it still can:
/// `noticed`, a text of its status line) or `detected_within`, then sees the pings stop.
fn hang(
    kiosk: &Kiosk,
    notifications: &Notifications,
    part: &str,
    noticed: Option<&str>,
    detected_within: Duration,
) {
    let mut stream = UnixStream::connect(&kiosk.socket).unwrap();
    // No answer is awaited: a hung main loop would never give one.
    writeln!(stream, r#"{{"cmd":"test_hang","part":"{part}"}}"#).unwrap();
    let hung = Instant::now();
    match noticed {
        Some(text) => wait_for(
            &format!("kioskd to notice that the {part} hangs"),
            detected_within,
            || notifications.status_containing(text).map(drop),
        ),
        None => std::thread::sleep(detected_within),
    }
    // Then a quiet period of three ping intervals.
    assert_eq!(
        notifications.pings_during(Duration::from_secs(3)),
        0,
        "no WATCHDOG=1 once {part} hangs (hung {:?} ago): {:?}",
        hung.elapsed(),
        notifications.recent()
    );
}

#[test]
fn the_watchdog_stops_when_the_display_hangs() {
    let (kiosk, notifications, _broker, _dir) = start("display");
    let noticed = Some("display took no frame");
    hang(
        &kiosk,
        &notifications,
        "display",
        noticed,
        Duration::from_secs(15),
    );
}

#[test]
fn the_watchdog_stops_when_the_mqtt_link_hangs() {
    let (kiosk, notifications, _broker, _dir) = start("link");
    // The link task stops at its next turn (the keep-alive, 10 s at most) and counts as hung
    // after 25 s without one.
    let noticed = Some("MQTT link silent");
    hang(
        &kiosk,
        &notifications,
        "link",
        noticed,
        Duration::from_secs(50),
    );
}

#[test]
fn the_watchdog_stops_when_a_call_hangs() {
    let (kiosk, notifications, broker, _dir) = start("call");
    // The call task runs from consent on: the waiting room is a call without a doctor yet.
    into_the_waiting_room(&kiosk, &broker);
    assert!(
        notifications.pings_during(Duration::from_secs(3)) >= 2,
        "a call that answers keeps the pings going"
    );
    // Its statistics stop after the hang; three missed seconds make it stalled.
    let noticed = Some("the call does not answer");
    hang(
        &kiosk,
        &notifications,
        "call",
        noticed,
        Duration::from_secs(15),
    );
}

/// The lit pixels of the composed screen where the UI layer leaves room for video (the test
/// camera's ball on black: the self-view, in the waiting room), in two looks a moment apart:
/// a live picture has them, and in other places the second time.
fn self_view_lit_twice(kiosk: &Kiosk) -> [Vec<usize>; 2] {
    let hole = praxiskiosk::ui::draw::palette::VIDEO_PLACEHOLDER;
    let hole = [hole.r(), hole.g(), hole.b()];
    let (_, _, ui) = kiosk.screenshot();
    let look = || {
        let (_, _, composed) = kiosk.composed_screenshot();
        let video = ui.chunks_exact(4).map(|p| p[..3] == hole);
        let lit = composed
            .chunks_exact(4)
            .map(|p| p[..3].iter().any(|&c| c > 60));
        let both = video.zip(lit).enumerate();
        both.filter(|(_, (video, lit))| *video && *lit)
            .map(|(i, _)| i)
            .collect()
    };
    let first = look();
    std::thread::sleep(Duration::from_millis(300));
    [first, look()]
}

/// Waits (10 s at most) until the self-view shows a live picture; returns its lit pixels.
fn live_self_view(kiosk: &Kiosk, what: &str) -> usize {
    let mut lit = 0;
    let lives = poll(Duration::from_secs(10), || {
        let [first, second] = self_view_lit_twice(kiosk);
        lit = first.len();
        (lit > 100 && first != second).then_some(())
    });
    assert!(lives.is_some(), "{what}: {lit} pixels lit");
    lit
}

/// Books an appointment, types its code and consents: the kiosk waits for the doctor, its call
/// running from consent on.
fn into_the_waiting_room(kiosk: &Kiosk, broker: &Mosquitto) {
    let appointment = create_appointment(broker.port, &["--patient", "Max Mustermann"]);
    kiosk.wait_for_appointment(&appointment.id);
    let reply = kiosk.control(serde_json::json!({"cmd": "enter_code", "code": appointment.code}));
    assert_eq!(reply["state"], "code_accepted", "{reply}");
    let reply = kiosk.control(serde_json::json!({"cmd": "accept"}));
    assert_eq!(reply["state"], "waiting", "{reply}");
}

/// A screen that fails does not cost the consultation: the self-view's source stops for real in
/// the waiting room, the screen restarts itself at the next tick and shows the self-view again,
/// the call waits on, and the watchdog, which would restart kioskd, never has to.
#[test]
fn a_screen_whose_source_fails_restarts_itself_and_the_call_goes_on() {
    let (kiosk, notifications, broker, _dir) = start_with("self_view", true);
    into_the_waiting_room(&kiosk, &broker);
    let lit = live_self_view(&kiosk, "a live self-view in the waiting room");
    let reply = kiosk.control(serde_json::json!({"cmd": "test_hang", "part": "self_view"}));
    assert_eq!(reply["ok"], true, "{reply}");
    kiosk.wait_for_log("restarting it", Duration::from_secs(10));
    assert!(
        kiosk.log().contains("the screen's pipeline failed"),
        "the log says what failed: {}",
        kiosk.log_tail()
    );
    let again = live_self_view(&kiosk, "the self-view lives again");
    eprintln!("the self-view's lit pixels: {lit} before, {again} after the restart");
    assert!(
        notifications.pings_during(Duration::from_secs(3)) >= 2,
        "the pings go on: {:?}",
        notifications.recent()
    );
    assert_eq!(kiosk.state(), "waiting", "the call waits on");
}

#[test]
fn the_watchdog_stops_when_the_main_loop_hangs() {
    let (kiosk, notifications, _broker, _dir) = start("main");
    hang(&kiosk, &notifications, "main", None, Duration::from_secs(2));
}

#[test]
fn without_the_test_switch_nothing_can_be_made_to_hang() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let kiosk = Kiosk::start(dir.path(), &KioskConfig::new(broker.port));
    let reply = kiosk.control(serde_json::json!({"cmd": "test_hang", "part": "main"}));
    assert_eq!(reply["error"], "bad_request", "{reply}");
    assert_eq!(kiosk.state(), "idle", "kioskd carries on");
}
