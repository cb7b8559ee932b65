//! `kioskctl dashboard`: the fleet manager's live page. Three provisioned kiosks on a TLS
//! Mosquitto, kioskctl serving the page, and Chromium reading it, all in a network namespace
//! that holds only loopback; then the page's HTTP answers read raw from a socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Browser, Doctor, Fleet, Kiosk, KioskConfig, NetNs, poll, wait_for};

const KIOSKS: [(&str, &str); 3] = [
    ("praxis-1", "Sprechzimmer 1"),
    ("praxis-2", "Sprechzimmer 2"),
    ("praxis-3", "Labor"),
];

/// A running `kioskctl dashboard`, stopped when dropped.
struct Dashboard {
    child: Child,
    url: String,
}

impl Dashboard {
    /// Starts it with the fleet manager's certificate (in the fleet's namespace, if any) and
    /// returns once it printed where it listens.
    fn start(fleet: &Fleet, listen: &str) -> Self {
        let mut child = Self::command(fleet, listen)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("kioskctl runs");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("kioskctl dashboard says where it listens");
        let url = line
            .split_once(": ")
            .map(|(_, url)| url.trim().to_string())
            .unwrap_or_else(|| panic!("unexpected first line: {line}"));
        Self { child, url }
    }

    fn command(fleet: &Fleet, listen: &str) -> Command {
        let mut command = fleet.command(env!("CARGO_BIN_EXE_kioskctl"));
        command
            .arg("--broker")
            .arg(fleet.device_url())
            .arg("--ca-dir")
            .arg(fleet.ca_dir())
            .args(["dashboard", "--listen", listen, "--ice-local", "127.0.0.1"]);
        command
    }

    fn port(&self) -> u16 {
        let addr = self.url.trim_start_matches("http://").trim_end_matches('/');
        addr.rsplit_once(':').unwrap().1.parse().unwrap()
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The rows the page shows, by device: each field's visible text and its value.
fn rows(browser: &mut Browser) -> Vec<Value> {
    browser.stats()["rows"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn row<'a>(rows: &'a [Value], device: &str) -> Option<&'a Value> {
    rows.iter().find(|r| r["device"] == device)
}

/// Polls the page every 50 ms until `device`'s row has `field` at one of `values`; returns how
/// long that took.
fn until_shown(browser: &mut Browser, device: &str, field: &str, values: &[&str]) -> Duration {
    let start = Instant::now();
    loop {
        let rows = rows(browser);
        if let Some(value) = row(&rows, device).and_then(|r| r[field]["value"].as_str())
            && values.contains(&value)
        {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the page did not show {device} {field} in {values:?} within 10 s: {rows:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_dashboard_shows_three_kiosks_live_in_chromium() {
    let _heavy = crate::harness::heavy_media();
    let ns = Arc::new(NetNs::new());
    let devices = KIOSKS.map(|(device, _)| device);
    let fleet = Fleet::start_in(&devices, Some(ns.clone()), None);
    let dir = tempfile::tempdir().unwrap();
    let mut kiosks: Vec<Option<Kiosk>> = KIOSKS
        .iter()
        .map(|(device, room)| {
            fleet.ok(&["device", "config", "set", device, "--display-name", room]);
            let kiosk_dir = dir.path().join(device);
            std::fs::create_dir_all(kiosk_dir.join("boot")).unwrap();
            let bundle = kiosk_dir.join("boot/praxiskiosk-provision.json");
            std::fs::copy(fleet.bundle(device), &bundle).unwrap();
            let command = ns.command(env!("CARGO_BIN_EXE_kioskd"));
            Some(Kiosk::start_with(
                &kiosk_dir,
                &KioskConfig::provisioned(&bundle),
                command,
            ))
        })
        .collect();
    for kiosk in kiosks.iter().flatten() {
        kiosk.wait_for_state("idle", Duration::from_secs(20));
    }
    // The default address: free in the test's own namespace.
    let dashboard = Dashboard::start(&fleet, "127.0.0.1:8090");
    let mut browser = Browser::start(&ns);
    browser.open(&dashboard.url);

    // Every kiosk, its room from the device config, idle and online.
    let shown = poll(Duration::from_secs(15), || {
        let rows = rows(&mut browser);
        let all = KIOSKS.iter().all(|(device, room)| {
            row(&rows, device).is_some_and(|r| {
                r["room"]["text"] == *room
                    && r["state"]["value"] == "idle"
                    && r["state"]["text"].as_str().unwrap_or("").contains("Bereit")
                    && r["network"]["value"] == "online"
                    && r["camera"]["text"].as_str().is_some_and(|t| !t.is_empty())
            })
        });
        (all && rows.len() == 3).then_some(rows)
    });
    let state = browser.stats();
    assert!(
        shown.is_some(),
        "the page does not show the three kiosks: {state}\nconsole: {}",
        browser.console()
    );
    assert_eq!(state["state"], "live", "{state}");
    assert_eq!(state["broker"], "connected", "{state}");

    // A patient types a code at praxis-2: the page shows it within moments.
    let appointment = fleet.create_appointment("praxis-2", &[]);
    let kiosk = kiosks[1].as_ref().unwrap();
    kiosk.wait_for_appointment(&appointment.id);
    let typed = Instant::now();
    let reply = kiosk.control(json!({"cmd": "enter_code", "code": appointment.code}));
    assert_eq!(reply["state"], "code_accepted", "{reply}");
    let states = ["code_accepted", "consent"];
    until_shown(&mut browser, "praxis-2", "state", &states);
    let delay = typed.elapsed();
    println!("dashboard: a state change reached the page after {delay:?}");

    // A short call at praxis-1: its row shows the call, then its length and quality.
    let appointment = fleet.create_appointment("praxis-1", &["--patient", "Max Mustermann"]);
    let kiosk = kiosks[0].as_ref().unwrap();
    kiosk.wait_for_appointment(&appointment.id);
    let link = appointment.link.clone().expect("a TLS fleet's join link");
    let kioskctl = ns.command(env!("CARGO_BIN_EXE_kioskctl"));
    let mut doctor = Doctor::join_from(kioskctl, &fleet, &link, &["--ice-local", "127.0.0.1"]);
    kiosk.let_patient_in(&appointment);
    kiosk.wait_for_state("in_call", Duration::from_secs(30));
    until_shown(&mut browser, "praxis-1", "state", &["in_call"]);
    std::thread::sleep(Duration::from_secs(3));
    doctor.hang_up();
    doctor.wait_exit(Duration::from_secs(15));
    let called = wait_for("the last call on the page", Duration::from_secs(20), || {
        let rows = rows(&mut browser);
        let text = row(&rows, "praxis-1")?["last_call"]["text"]
            .as_str()?
            .to_string();
        text.contains(":").then_some(text)
    });
    println!("dashboard: praxis-1's last call shows as {called:?}");
    let bars = browser.stats()["bars"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!bars.is_empty(), "the chart shows the call: {bars:?}");

    // praxis-3 is switched off: the page says it has no connection.
    let stopped = kiosks[2].take().unwrap().stop();
    assert!(stopped.success(), "kioskd stops cleanly: {stopped:?}");
    until_shown(&mut browser, "praxis-3", "network", &["offline"]);
    until_shown(&mut browser, "praxis-3", "state", &["offline"]);

    // The IT's test call from the page: praxis-1 is idle again, nobody is in the room.
    kiosks[0]
        .as_ref()
        .unwrap()
        .wait_for_state("idle", Duration::from_secs(20));
    wait_for("the test call button", Duration::from_secs(10), || {
        let rows = rows(&mut browser);
        (row(&rows, "praxis-1")?["state"]["value"] == "idle").then_some(())
    });
    browser.click("test-call-praxis-1");
    kiosks[0]
        .as_ref()
        .unwrap()
        .wait_for_state("test_call", Duration::from_secs(30));
    until_shown(&mut browser, "praxis-1", "state", &["test_call"]);
    let verdict = wait_for("the test call's verdict", Duration::from_secs(90), || {
        let rows = rows(&mut browser);
        let actions = row(&rows, "praxis-1")?["actions"].clone();
        ["ok", "not_ok", "failed"]
            .contains(&actions["value"].as_str()?)
            .then_some(actions)
    });
    println!("dashboard: the test call's verdict on the page: {verdict}");
    assert_eq!(verdict["value"], "ok", "{verdict}");
    assert!(
        verdict["text"]
            .as_str()
            .unwrap()
            .contains("Test in Ordnung"),
        "{verdict}"
    );
    kiosks[0]
        .as_ref()
        .unwrap()
        .wait_for_state("idle", Duration::from_secs(10));

    if let Some(dir) = std::env::var_os("PRAXISKIOSK_SCREENSHOT_DIR") {
        let path = Path::new(&dir).join("dashboard.png");
        browser.screenshot(&path);
        println!("dashboard: screenshot in {}", path.display());
    }
    // kioskctl goes away and comes back: the page says so, and reconnects by itself.
    drop(dashboard);
    wait_for(
        "the page to say it lost kioskctl",
        Duration::from_secs(10),
        || (browser.stats()["state"] == "lost").then_some(()),
    );
    let status = browser.state()["status"].to_string();
    assert!(
        status.contains("Verbindung zu kioskctl verloren"),
        "{status}"
    );
    let _dashboard = Dashboard::start(&fleet, "127.0.0.1:8090");
    wait_for("the page to be live again", Duration::from_secs(15), || {
        let stats = browser.stats();
        (stats["state"] == "live" && stats["rows"].as_array()?.len() == 3).then_some(())
    });

    let page = browser.stats().to_string();
    assert!(!page.contains("Mustermann"), "no patient data: {page}");
    let console = browser.console();
    assert!(
        !console.to_string().contains("Content Security Policy"),
        "the page keeps to its own policy: {console}"
    );
    assert!(
        delay < Duration::from_secs(10),
        "a state change took {delay:?} to reach the page"
    );
}

/// Sends `request` raw and returns the whole answer (the server closes after it).
fn http(port: u16, request: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn the_dashboard_answers_only_its_own_host_and_sends_its_policy() {
    let fleet = Fleet::start(&["praxis-1"]);
    let refused = Dashboard::command(&fleet, "0.0.0.0:0").output().unwrap();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success()
            && said.contains("nur auf loopback")
            && said.contains("loopback only"),
        "{said}"
    );

    let dashboard = Dashboard::start(&fleet, "127.0.0.1:0");
    let port = dashboard.port();
    let host = format!("127.0.0.1:{port}");
    let get = |path: &str, host: &str| {
        http(
            port,
            &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n"),
        )
    };
    let csp = "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; \
               connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
               frame-ancestors 'none'\r\n";

    let page = get("/", &host);
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    for header in [
        csp,
        "Content-Type: text/html; charset=utf-8\r\n",
        "X-Content-Type-Options: nosniff\r\n",
        "Referrer-Policy: no-referrer\r\n",
        "Cache-Control: no-store\r\n",
    ] {
        assert!(page.contains(header), "{header} missing: {page}");
    }
    let script = get("/dashboard.js", &format!("localhost:{port}"));
    assert!(
        script.contains("Content-Type: text/javascript; charset=utf-8\r\n"),
        "{script}"
    );

    // A page elsewhere whose name was rebound to 127.0.0.1 sends its own name.
    let rebound = get("/api/fleet", &format!("evil.example:{port}"));
    assert!(
        rebound.starts_with("HTTP/1.1 403 Forbidden\r\n"),
        "{rebound}"
    );
    assert!(rebound.contains(csp), "{rebound}");
    assert!(!rebound.contains("praxis-1"), "{rebound}");

    assert!(get("/etc/passwd", &host).starts_with("HTTP/1.1 404 "));
    let post = http(
        port,
        &format!("POST /api/fleet HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n\r\n"),
    );
    assert!(post.starts_with("HTTP/1.1 405 "), "{post}");

    // The test call is the one POST, and only the dashboard's own page may send it: with its
    // header (which another origin cannot send without a preflight) and, if any, its origin.
    let test_call = |headers: &str| {
        http(
            port,
            &format!("POST /api/test-call/praxis-1 HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n"),
        )
    };
    let bare = test_call("");
    assert!(bare.starts_with("HTTP/1.1 403 "), "{bare}");
    let foreign = test_call("X-Praxiskiosk: test-call\r\nOrigin: http://evil.example\r\n");
    assert!(foreign.starts_with("HTTP/1.1 403 "), "{foreign}");
    let got = get("/api/test-call/praxis-1", &host);
    assert!(
        got.starts_with("HTTP/1.1 405 ") && got.contains("Allow: POST\r\n"),
        "{got}"
    );
    // From the page: started (the kiosk is not running here, so it will fail in the
    // background); a second one for the same kiosk meanwhile is refused.
    let page_headers = format!("X-Praxiskiosk: test-call\r\nOrigin: http://{host}\r\n");
    let started = test_call(&page_headers);
    assert!(started.starts_with("HTTP/1.1 202 "), "{started}");
    let again = test_call(&page_headers);
    assert!(again.starts_with("HTTP/1.1 409 "), "{again}");
    let odd = http(
        port,
        &format!(
            "POST /api/test-call/a%2Fb HTTP/1.1\r\nHost: {host}\r\nX-Praxiskiosk: test-call\r\n\r\n"
        ),
    );
    assert!(odd.starts_with("HTTP/1.1 404 "), "{odd}");

    // The table: the enrolled kiosk with its room before it ever reported.
    let fleet_json = get("/api/fleet", &host);
    assert!(fleet_json.contains("Content-Type: application/json; charset=utf-8\r\n"));
    let body = fleet_json.split_once("\r\n\r\n").unwrap().1;
    let table: Value = serde_json::from_str(body).unwrap();
    assert_eq!(table["kiosks"][0]["device"], "praxis-1", "{table}");
    assert_eq!(table["kiosks"][0]["room"], "Raum 1", "{table}");
    assert_eq!(table["kiosks"][0]["state"], Value::Null, "{table}");
}
