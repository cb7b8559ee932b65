//! Debian's Chromium with the doctor's page, driven through `tests/browser/driver.mjs`
//! (playwright-core): one JSON command per line in, one JSON answer per line out.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use super::NetNs;

/// The browser engines the doctor's page is tested in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Debian's Chromium.
    Chromium,
    /// Debian's Firefox ESR.
    Firefox,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Self::Chromium => "chromium",
            Self::Firefox => "firefox",
        }
    }
}

#[derive(Debug)]
pub struct Browser {
    child: Child,
    stdin: ChildStdin,
    answers: mpsc::Receiver<Value>,
}

const ANSWER_WITHIN: Duration = Duration::from_secs(30);

fn read_lines(stdout: ChildStdout, answers: mpsc::Sender<Value>) {
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        if let Ok(value) = serde_json::from_str(&line)
            && answers.send(value).is_err()
        {
            return;
        }
    }
}

impl Browser {
    /// Starts Chromium inside `ns`.
    pub fn start(ns: &NetNs) -> Self {
        Self::start_with(ns, &[])
    }

    /// The same with the driver's environment options, e.g. `PRAXISKIOSK_MEDIA=deny`.
    pub fn start_with(ns: &NetNs, env: &[(&str, &str)]) -> Self {
        Self::start_engine(ns, Engine::Chromium, env)
    }

    /// `engine` inside `ns` (Firefox: the namespace gets a default route on loopback first,
    /// see [`NetNs::default_route_on_loopback`]).
    pub fn start_engine(ns: &NetNs, engine: Engine, env: &[(&str, &str)]) -> Self {
        if engine == Engine::Firefox {
            ns.default_route_on_loopback();
        }
        Self::launch(ns, engine, env)
    }

    /// `engine` in a host of the field's network (`harness/field.rs`), which has routes of its
    /// own: it may reach the field's addresses (`nets`) and nothing else.
    #[allow(dead_code)] // Only the field's browser tests start one.
    pub fn start_routed(ns: &NetNs, engine: Engine, nets: &[&str]) -> Self {
        ns.only_to(nets);
        Self::launch(ns, engine, &[])
    }

    fn launch(ns: &NetNs, engine: Engine, env: &[(&str, &str)]) -> Self {
        let driver = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/driver.mjs");
        let mut child = ns
            .command("node")
            // Node 20's WebSocket, which the Firefox driver speaks WebDriver BiDi over.
            .arg("--experimental-websocket")
            .arg("--no-warnings")
            .arg(driver)
            .env("PRAXISKIOSK_BROWSER", engine.name())
            .env(
                "HOME",
                std::env::var("HOME").unwrap_or_else(|_| "/root".into()),
            )
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs (make test installs it and the driver's packages)");
        let stdin = child.stdin.take().unwrap();
        let (tx, answers) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || read_lines(stdout, tx));
        let browser = Self {
            child,
            stdin,
            answers,
        };
        let ready = browser
            .answers
            .recv_timeout(ANSWER_WITHIN)
            .expect("the browser driver starts");
        assert_eq!(
            ready["ready"],
            true,
            "{} did not start: {ready}",
            engine.name()
        );
        browser
    }

    /// The driver's node process; Chromium's processes are its descendants (a benchmark sums
    /// their CPU time and memory from /proc).
    #[allow(dead_code)] // Only benches/call reads it; the tests look at behaviour.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn send(&mut self, command: Value) -> Value {
        writeln!(self.stdin, "{command}").expect("the driver reads commands");
        let answer = self
            .answers
            .recv_timeout(ANSWER_WITHIN)
            .unwrap_or_else(|_| panic!("no answer to {command}"));
        assert_eq!(answer["ok"], true, "{command} failed: {answer}");
        answer
    }

    pub fn open(&mut self, url: &str) {
        self.send(json!({"cmd": "open", "url": url}));
    }

    /// The page's `data-state` and what it shows.
    pub fn state(&mut self) -> Value {
        self.send(json!({"cmd": "state"}))
    }

    pub fn stats(&mut self) -> Value {
        self.send(json!({"cmd": "stats"}))["stats"].clone()
    }

    pub fn click(&mut self, id: &str) {
        self.send(json!({"cmd": "click", "id": id}));
    }

    pub fn reload(&mut self) {
        self.send(json!({"cmd": "reload"}));
    }

    pub fn screenshot(&mut self, path: &std::path::Path) {
        self.send(json!({"cmd": "screenshot", "path": path.to_str().unwrap()}));
    }

    pub fn console(&mut self) -> Value {
        self.send(json!({"cmd": "console"}))["messages"].clone()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "{}", json!({"cmd": "close"}));
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
