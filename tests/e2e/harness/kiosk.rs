//! kioskd and the doctor peer (`kioskctl doctor`) as child processes.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{DEVICE, poll, wait_for};

#[derive(Debug, Clone)]
pub struct KioskConfig {
    pub broker_port: u16,
    /// Extra TOML appended to the `[timeouts]` table.
    pub timeouts: String,
    /// The camera lines of the `[media]` table.
    pub camera: String,
    /// The microphone lines of the `[media]` table (and its voice processing).
    pub microphone: String,
    /// The screens' language.
    pub locale: &'static str,
    /// The panel, `WIDTHxHEIGHT`.
    pub panel: &'static str,
    /// Allow composed screenshots (`[screen] development`).
    pub development: bool,
    /// The video bitrate's ceiling (kbit/s).
    pub video_kbps: u32,
    /// The camera's frame size: small in tests, where many calls share two cores.
    pub video_size: (u32, u32),
    /// A provisioned kiosk (mutual TLS) looks for its bundle here; otherwise it is a
    /// development kiosk on a plaintext loopback broker at `broker_port`.
    pub bundle: Option<PathBuf>,
    /// The `[ice]` table: no servers and ICE pinned to 127.0.0.1 unless a test says otherwise.
    pub ice: String,
    /// The `[time]` table: this machine's clock is taken as it is (no systemd-timesyncd here)
    /// unless a test says otherwise.
    pub time: String,
}

impl KioskConfig {
    pub fn new(broker_port: u16) -> Self {
        Self {
            broker_port,
            timeouts: "ended_s = 2\nproblem_s = 2\n".into(),
            camera: "video_source = \"videotestsrc\"".into(),
            microphone: "audio_source = \"audiotestsrc\"".into(),
            locale: "de",
            panel: "800x480",
            development: false,
            video_kbps: 400,
            video_size: (320, 240),
            bundle: None,
            ice: "servers = []\nlocal_addresses = [\"127.0.0.1\"]".into(),
            time: "trust_unsynchronized = true".into(),
        }
    }

    /// A kiosk that provisions itself from `bundle` (and has no other way to its fleet).
    pub fn provisioned(bundle: &Path) -> Self {
        Self {
            bundle: Some(bundle.to_path_buf()),
            ..Self::new(0)
        }
    }

    pub fn write(&self, dir: &Path) -> PathBuf {
        let path = dir.join("kioskd.toml");
        let text = format!(
            r#"{fleet}
state_dir = "{state}"
control_socket = "{socket}"
locale = "{locale}"

[ice]
{ice}

[media]
{camera}
{microphone}
video_sink = "fakesink"
audio_sink = "fakesink"
width = {width}
height = {height}
framerate = 30
video_bitrate_kbps = {video_kbps}

[screen]
size = "{panel}"
development = {development}

[time]
{time}

[timeouts]
{timeouts}"#,
            fleet = match &self.bundle {
                Some(bundle) => format!("provisioning_bundle = \"{}\"", bundle.display()),
                None => format!(
                    "device_id = \"{DEVICE}\"\nbroker = \"mqtt://127.0.0.1:{}\"\nplaintext_loopback = true",
                    self.broker_port
                ),
            },
            state = dir.join("state").display(),
            socket = dir.join("control.sock").display(),
            timeouts = self.timeouts,
            camera = self.camera,
            microphone = self.microphone,
            locale = self.locale,
            panel = self.panel,
            development = self.development,
            video_kbps = self.video_kbps,
            width = self.video_size.0,
            height = self.video_size.1,
            ice = self.ice,
            time = self.time,
        );
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// A running kioskd. Stopped with SIGTERM (then SIGKILL) when dropped.
#[derive(Debug)]
pub struct Kiosk {
    child: Option<Child>,
    pub dir: PathBuf,
    pub socket: PathBuf,
}

fn terminate(child: &mut Child, limit: Duration) -> ExitStatus {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            return child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Kiosk {
    /// Starts kioskd with its config, state and socket in `dir`, and waits for its control socket.
    pub fn start(dir: &Path, config: &KioskConfig) -> Self {
        Self::start_with(dir, config, Command::new(env!("CARGO_BIN_EXE_kioskd")))
    }

    /// The same, started by `command` (kioskd, perhaps inside a network namespace).
    /// A kiosk enrolled in `fleet` (its provisioning bundle copied into `dir`), idle.
    pub fn start_provisioned(fleet: &super::Fleet, dir: &Path) -> Self {
        Self::start_provisioned_with(fleet, dir, |_| {})
    }

    /// The same, its config changed by `change` (a broken camera, say).
    pub fn start_provisioned_with(
        fleet: &super::Fleet,
        dir: &Path,
        change: impl FnOnce(&mut KioskConfig),
    ) -> Self {
        let bundle = dir.join("praxiskiosk-provision.json");
        std::fs::copy(fleet.bundle(DEVICE), &bundle).unwrap();
        let mut config = KioskConfig::provisioned(&bundle);
        change(&mut config);
        let kiosk = Self::start(dir, &config);
        kiosk.wait_for_state("idle", Duration::from_secs(15));
        kiosk
    }

    pub fn start_with(dir: &Path, config: &KioskConfig, mut command: Command) -> Self {
        let path = config.write(dir);
        let log = std::fs::File::create(dir.join("kioskd.log")).unwrap();
        let child = command
            .arg("--config")
            .arg(&path)
            // KIOSKD_LOG overrides it for a closer look (for example `...,praxiskiosk=trace`).
            .env(
                "RUST_LOG",
                std::env::var("KIOSKD_LOG").unwrap_or_else(|_| "info,praxiskiosk=debug".into()),
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("kioskd starts");
        let kiosk = Self {
            child: Some(child),
            dir: dir.to_path_buf(),
            socket: dir.join("control.sock"),
        };
        let up = poll(Duration::from_secs(20), || {
            UnixStream::connect(&kiosk.socket).ok().map(drop)
        });
        assert!(
            up.is_some(),
            "kioskd's control socket did not come up; its log:\n{}",
            kiosk.log_tail()
        );
        kiosk
    }

    /// Sends one control request and returns the reply.
    pub fn control(&self, request: Value) -> Value {
        let mut stream = UnixStream::connect(&self.socket).expect("control socket");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        writeln!(stream, "{request}").unwrap();
        let mut reply = String::new();
        BufReader::new(&stream).read_line(&mut reply).unwrap();
        serde_json::from_str(&reply).unwrap_or_else(|e| panic!("reply {reply:?}: {e}"))
    }

    pub fn state(&self) -> String {
        self.control(serde_json::json!({"cmd": "status"}))["state"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn wait_for_state(&self, state: &str, limit: Duration) {
        let reached = poll(limit, || (self.state() == state).then_some(()));
        // The log as it is when the wait gave up, not as it was when it began.
        if reached.is_none() {
            panic!(
                "timed out after {limit:?} waiting for kiosk state {state} (log: {})",
                self.log_tail()
            );
        }
    }

    /// Waits until kioskd has stored the appointment `id` (it arrived over MQTT).
    pub fn wait_for_appointment(&self, id: &str) {
        let file = self.dir.join(format!("state/appointments/{id}.json"));
        wait_for(
            &format!("appointment {id} on the kiosk"),
            Duration::from_secs(10),
            || file.exists().then_some(()),
        );
    }

    /// The patient types `appointment`'s code and consents: the kiosk is then in the waiting
    /// room.
    pub fn let_patient_in(&self, appointment: &super::Appointment) {
        self.let_patient_in_after(appointment, Duration::ZERO);
    }

    /// The same, the patient reading the consent screen for `reading` first (the kiosk
    /// prepares the call meanwhile).
    pub fn let_patient_in_after(&self, appointment: &super::Appointment, reading: Duration) {
        let reply =
            self.control(serde_json::json!({"cmd": "enter_code", "code": appointment.code}));
        assert_eq!(reply["state"], "code_accepted", "{reply}");
        std::thread::sleep(reading);
        let reply = self.control(serde_json::json!({"cmd": "accept"}));
        assert_eq!(reply["state"], "waiting", "{reply}");
    }

    /// Touches the screen at `(x, y)`; returns the reply.
    pub fn tap(&self, (x, y): (i32, i32)) -> Value {
        self.control(serde_json::json!({"cmd": "tap", "x": x, "y": y}))
    }

    /// The UI layer as the kiosk shows it now: width, height and RGBA pixels.
    pub fn screenshot(&self) -> (u32, u32, Vec<u8>) {
        self.capture(false)
    }

    /// The composed screen, video included (development configs only).
    pub fn composed_screenshot(&self) -> (u32, u32, Vec<u8>) {
        self.capture(true)
    }

    fn capture(&self, composed: bool) -> (u32, u32, Vec<u8>) {
        let file = format!("shot-{}.png", std::process::id());
        let request = serde_json::json!({"cmd": "screenshot", "file": file, "composed": composed});
        let reply = self.control(request);
        assert_eq!(reply["ok"], true, "{reply}");
        let path = self.screenshot_path(&file);
        let decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        std::fs::remove_file(&path).unwrap();
        (info.width, info.height, pixels)
    }

    /// Where the kiosk writes the screenshot `file`: its one screenshot directory.
    pub fn screenshot_path(&self, file: &str) -> PathBuf {
        self.dir.join("state/screenshots").join(file)
    }

    /// Waits until the screen is exactly what the UI code draws for `screen` (screens without
    /// a clock), and panics with the number of differing pixels otherwise.
    pub fn wait_for_screen(&self, screen: praxiskiosk::ui::view::Screen, panel: &str) {
        self.wait_for_one_of_screens(&[screen], panel);
    }

    /// The same for any one of `screens` (a screen with a countdown, say); returns its index.
    pub fn wait_for_one_of_screens(
        &self,
        screens: &[praxiskiosk::ui::view::Screen],
        panel: &str,
    ) -> usize {
        let panel = praxiskiosk::ui::Panel::parse(panel).unwrap();
        let expected: Vec<_> = screens
            .iter()
            .map(|screen| {
                let view = praxiskiosk::ui::ViewModel {
                    locale: praxiskiosk::ui::Locale::De,
                    room: String::new(),
                    clock: String::new(),
                    broker_online: true,
                    screen: screen.clone(),
                };
                praxiskiosk::ui::render(&view, &panel)
            })
            .collect();
        let mut differing = usize::MAX;
        let shown = poll(Duration::from_secs(10), || {
            let (_, _, shot) = self.screenshot();
            expected.iter().position(|frame| {
                differing = shot
                    .chunks(4)
                    .zip(frame.rgba().chunks(4))
                    .filter(|(a, b)| a != b)
                    .count();
                differing == 0
            })
        });
        shown.unwrap_or_else(|| panic!("{differing} pixels differ from {:?}", screens.last()))
    }

    pub fn stats(&self) -> Value {
        self.control(serde_json::json!({"cmd": "stats"}))["stats"].clone()
    }

    /// kioskd's process id, for a benchmark that reads its CPU time and memory from /proc.
    #[allow(dead_code)] // Only benches/call reads it; the tests look at behaviour.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("kioskd runs").id()
    }

    /// The lines of kioskd's log that contain any of `words`.
    #[allow(dead_code)] // Only some scenarios look into the log.
    pub fn log_matching(&self, words: &[&str]) -> String {
        let log = std::fs::read_to_string(self.dir.join("kioskd.log")).unwrap_or_default();
        let lines: Vec<&str> = log
            .lines()
            .filter(|line| words.iter().any(|w| line.contains(w)))
            .collect();
        lines.join("\n")
    }

    /// kioskd's whole log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("kioskd.log")).unwrap_or_default()
    }

    /// Waits (at most `limit`) until kioskd's log says `needle`.
    pub fn wait_for_log(&self, needle: &str, limit: Duration) {
        let said = poll(limit, || self.log().contains(needle).then_some(()));
        assert!(
            said.is_some(),
            "timed out after {limit:?} waiting for {needle:?} in kioskd's log: {}",
            self.log_tail()
        );
    }

    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Stops kioskd with SIGTERM and returns its exit status.
    pub fn stop(mut self) -> ExitStatus {
        terminate(self.child.as_mut().unwrap(), Duration::from_secs(10))
    }
}

impl Drop for Kiosk {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut()
            && let Ok(None) = child.try_wait()
        {
            terminate(child, Duration::from_secs(5));
        }
    }
}

/// A running `kioskctl doctor --json`, its output lines collected as they come.
#[derive(Debug)]
pub struct Doctor {
    child: Child,
    /// Each output line, with when it came.
    lines: Arc<Mutex<Vec<(Instant, Value)>>>,
}

impl Doctor {
    /// A doctor on a plaintext development broker.
    pub fn start(broker_port: u16, session: &str, extra: &[&str]) -> Self {
        let kioskctl = Command::new(env!("CARGO_BIN_EXE_kioskctl"));
        Self::start_with(kioskctl, broker_port, session, extra)
    }

    /// The same, started by `kioskctl` (e.g. inside a network namespace).
    pub fn start_with(kioskctl: Command, broker_port: u16, session: &str, extra: &[&str]) -> Self {
        let broker = format!("mqtt://127.0.0.1:{broker_port}");
        let global = ["--broker", &broker, "--plaintext-loopback"];
        let join = ["--device", DEVICE, "--session", session];
        let pinned = [&["--ice-local", "127.0.0.1"], extra].concat();
        Self::spawn(kioskctl, &global, &join, &pinned)
    }

    /// A doctor joining from the join link, on the TLS broker's doctor listener.
    pub fn join(fleet: &super::Fleet, link: &str, extra: &[&str]) -> Self {
        let pinned = [&["--ice-local", "127.0.0.1"], extra].concat();
        Self::join_from(
            Command::new(env!("CARGO_BIN_EXE_kioskctl")),
            fleet,
            link,
            &pinned,
        )
    }

    /// The same, started by `kioskctl` (in a host of the field network, say), ICE not pinned.
    pub fn join_from(kioskctl: Command, fleet: &super::Fleet, link: &str, extra: &[&str]) -> Self {
        Self::join_at(kioskctl, fleet, &fleet.doctor_url(), link, extra)
    }

    /// The same, on the broker at `broker` (a man in the middle's, say).
    pub fn join_at(
        kioskctl: Command,
        fleet: &super::Fleet,
        broker: &str,
        link: &str,
        extra: &[&str],
    ) -> Self {
        let ca_dir = fleet.ca_dir();
        let global = ["--broker", broker, "--ca-dir", ca_dir.to_str().unwrap()];
        Self::spawn(kioskctl, &global, &["--link", link], extra)
    }

    fn spawn(mut kioskctl: Command, global: &[&str], join: &[&str], extra: &[&str]) -> Self {
        let mut child = kioskctl
            .args(global)
            .arg("doctor")
            .args(join)
            .arg("--json")
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("kioskctl doctor starts");
        let stdout = child.stdout.take().unwrap();
        let lines: Arc<Mutex<Vec<(Instant, Value)>>> = Arc::default();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str(&line) {
                    sink.lock().unwrap().push((Instant::now(), value));
                }
            }
        });
        Self { child, lines }
    }

    /// The first output line whose `event` is `name`.
    pub fn event(&self, name: &str) -> Option<Value> {
        self.event_after(name, None).map(|(_, v)| v)
    }

    /// Every output line whose `event` is `name`, oldest first.
    #[allow(dead_code)] // Only some scenarios look at more than the first.
    pub fn events(&self, name: &str) -> Vec<Value> {
        let lines = self.lines.lock().unwrap();
        let named = lines.iter().filter(|(_, v)| v["event"] == name);
        named.map(|(_, v)| v.clone()).collect()
    }

    /// The first output line whose `event` is `name` that came after `after`, and when.
    pub fn event_after(&self, name: &str, after: Option<Instant>) -> Option<(Instant, Value)> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .find(|(at, v)| v["event"] == name && after.is_none_or(|after| *at > after))
            .cloned()
    }

    /// Every output line whose `event` is `name` that came after `after`, oldest first, each
    /// with when it came.
    #[allow(dead_code)] // Only some scenarios look back.
    pub fn events_since(&self, name: &str, after: Instant) -> Vec<(Instant, Value)> {
        let lines = self.lines.lock().unwrap();
        let named = lines
            .iter()
            .filter(|(at, v)| v["event"] == name && *at > after);
        named.cloned().collect()
    }

    /// The latest statistics line the doctor printed.
    fn latest_stats(&self) -> Option<Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(_, v)| v["event"] == "stats")
            .map(|(_, v)| v.clone())
    }

    /// The latest statistics the doctor printed.
    pub fn stats(&self) -> Option<Value> {
        self.latest_stats().map(|line| line["stats"].clone())
    }

    /// The quality level the doctor's side judged last (from its latest statistics).
    pub fn quality(&self) -> Option<String> {
        self.latest_stats()
            .and_then(|line| line["quality"].as_str().map(String::from))
    }

    /// Hangs up as a doctor would (kioskctl doctor says bye on Ctrl-C).
    pub fn hang_up(&self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
    }

    /// The exit status, if the doctor has exited.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        wait_for("the doctor to exit", limit, || {
            self.child.try_wait().unwrap()
        })
    }
}

impl Drop for Doctor {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
