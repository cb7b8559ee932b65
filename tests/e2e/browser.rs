//! The doctor's side in a real browser: Debian's Chromium with `web/doctor`, against a real kioskd
//! through a real Mosquitto with TLS and access control, the page and its MQTT served by nginx
//! as `kioskctl broker config --web-root` set it up.
//! Everything runs in a network namespace that holds only loopback, where Chromium can offer
//! nothing but 127.0.0.1.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{
    Browser, Consultation, DEVICE, Doctor, Engine, Fleet, NetNs, counter as n, poll, wait_for,
};
// The field's Chromium test finds the page here.
pub use crate::harness::web_doctor;

#[test]
fn a_doctor_in_chromium_holds_a_vp8_consultation_reloads_and_hangs_up() {
    let mut c = Consultation::start("vp8");
    c.join();
    let (page, kiosk) = c.media_flows(1);
    assert_eq!(page["videoCodec"], "video/VP8", "{page}");
    assert_eq!(kiosk["video_codec"], "VP8", "{kiosk}");
    if let Some(path) = std::env::var_os("PRAXISKIOSK_DOCTOR_SCREENSHOT") {
        c.browser.screenshot(Path::new(&path));
    }
    // The link's password and session key left the address bar (and so the history).
    let secret_gone = |c: &mut crate::harness::Consultation| {
        let url = c.browser.state()["url"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            !url.contains('#') && !url.contains("password"),
            "the join link stays in the URL: {url}"
        );
    };
    secret_gone(&mut c);

    // The doctor reloads the page mid-call: a fresh hello, a fresh offer, the call goes on, and
    // within 3 s. On this shared 2-core machine another test's call can stretch one reload past
    // that, so the doctor may reload up to three times; one must make it.
    let mut resumed = Vec::new();
    for _ in 0..3 {
        let reloaded = Instant::now();
        c.browser.reload();
        c.wait_for_page("in-call", Duration::from_secs(10));
        wait_for(
            "the first frame after the reload",
            Duration::from_secs(10),
            || (n(&c.browser.stats(), "videoFramesDecoded") > 0).then_some(()),
        );
        resumed.push(reloaded.elapsed());
        assert_eq!(c.kiosk.state(), "in_call", "the kiosk stayed in the call");
        if resumed.last().is_some_and(|t| *t < Duration::from_secs(3)) {
            break;
        }
    }
    eprintln!("the call resumed after the doctor's reload in {resumed:?}");
    secret_gone(&mut c);
    assert!(
        resumed.iter().any(|t| *t < Duration::from_secs(3)),
        "the call resumed only after {resumed:?}"
    );
    c.media_flows(10);

    // The doctor hangs up: the kiosk ends the call and returns to its start screen.
    c.browser.click("hangup");
    c.wait_for_page("ended", Duration::from_secs(5));
    c.kiosk.wait_for_state("idle", Duration::from_secs(15));

    // The next patient; this time the kiosk hangs up, and the doctor's page says so.
    c.join();
    let reply = c.kiosk.control(json!({"cmd": "hang_up"}));
    assert_eq!(reply["state"], "ended", "{reply}");
    c.wait_for_page("ended", Duration::from_secs(10));
    c.kiosk.wait_for_state("idle", Duration::from_secs(15));

    // The next patient; this time the doctor hangs up.
    c.join();
    c.browser.click("hangup");
    c.wait_for_page("ended", Duration::from_secs(5));
    c.kiosk.wait_for_state("idle", Duration::from_secs(15));
}

#[test]
fn a_doctor_without_camera_permission_is_told_what_to_allow() {
    without_camera_permission(Engine::Chromium);
}

/// Camera and microphone refused in `engine`: the page says what to allow.
fn without_camera_permission(engine: Engine) {
    let ns = Arc::new(NetNs::new());
    let fleet = Fleet::start_in(&[DEVICE], Some(ns.clone()), Some(&web_doctor()));
    let (page, broker) = (fleet.page_url(), fleet.page_broker_url());
    let appointment =
        fleet.create_appointment(DEVICE, &["--join-url", &page, "--doctor-broker", &broker]);
    let mut browser = Browser::start_engine(&ns, engine, &[("PRAXISKIOSK_MEDIA", "deny")]);
    browser.open(appointment.link.as_deref().unwrap());
    let shown = poll(Duration::from_secs(15), || {
        let state = browser.state();
        (state["state"] == "error").then_some(state)
    })
    .unwrap_or_else(|| panic!("no message: {}", browser.state()));
    assert_eq!(
        shown["status"], "Kein Zugriff auf Kamera und Mikrofon",
        "the doctor is told what is missing: {shown}"
    );
}

#[test]
fn a_doctor_in_chromium_holds_an_h264_consultation_until_the_kiosk_hangs_up() {
    let mut c = Consultation::start("h264");
    let appointment = c.join();
    let (page, kiosk) = c.media_flows(1);
    assert_eq!(page["videoCodec"], "video/H264", "{page}");
    assert_eq!(kiosk["video_codec"], "H264", "{kiosk}");

    // The patient's consent, as the page offers it to the practice, verifies against the
    // kiosk's certificate and names no one but the patient.
    let receipt = page["consent"].clone();
    assert!(
        receipt.is_object(),
        "the page holds a consent receipt: {page}"
    );
    let file = c.fleet.dir.path().join("consent.json");
    std::fs::write(&file, receipt.to_string()).unwrap();
    let verified: serde_json::Value =
        serde_json::from_str(
            &c.fleet
                .ok(&["consent", "verify", "--json", file.to_str().unwrap()]),
        )
        .unwrap();
    assert_eq!(verified["patient"], "Max Mustermann", "{verified}");
    assert_eq!(verified["device"], DEVICE);
    assert_eq!(verified["session"], appointment.session.as_str());
    let mut forged = receipt.clone();
    let body = receipt["body"].as_str().unwrap_or_default();
    forged["body"] = json!(body.replacen('e', "f", 1));
    std::fs::write(&file, forged.to_string()).unwrap();
    let out = c
        .fleet
        .kioskctl(&["consent", "verify", file.to_str().unwrap()]);
    assert!(!out.status.success(), "an altered receipt does not verify");

    let reply = c.kiosk.control(json!({"cmd": "hang_up"}));
    assert_eq!(reply["state"], "ended", "{reply}");
    c.wait_for_page("ended", Duration::from_secs(10));
}

/// One window per running call (protocol.md 5, rule 10). The same link opened a second time
/// (another window, another device) shares the broker login, so it throws the first window off
/// the broker; the kiosk tells it `busy`, and the call in the first window goes on. Both ways
/// round: `kioskctl doctor` as the second window of the page's call, then the page as the
/// second window of `kioskctl doctor`'s call, where it says why it is not let in.
#[test]
fn a_second_window_of_the_same_link_is_told_busy_and_the_call_goes_on() {
    second_window_told_busy(Engine::Chromium);
}

/// The same with the page in Firefox ESR.
#[test]
fn a_second_window_in_firefox_is_told_busy_and_the_call_goes_on() {
    second_window_told_busy(Engine::Firefox);
}

fn second_window_told_busy(engine: Engine) {
    let mut c = Consultation::start_in(engine, "vp8");
    let link = c.join().link.expect("a join link");
    let second_window = |c: &Consultation| {
        let kioskctl = c.fleet.command(env!("CARGO_BIN_EXE_kioskctl"));
        Doctor::join_from(kioskctl, &c.fleet, &link, &["--ice-local", "127.0.0.1"])
    };
    let mut second = second_window(&c);
    let status = second.wait_exit(Duration::from_secs(30));
    assert!(
        second.event("busy").is_some() && !status.success(),
        "the second window was not told busy ({status}); the page: {}\nbroker: {}",
        c.browser.state(),
        c.fleet.broker_log()
    );
    assert!(second.event("joined").is_none(), "it never joined");
    c.media_flows(50);
    assert_eq!(c.browser.state()["state"], "in-call");
    assert_eq!(c.kiosk.state(), "in_call");
    // The page is back on the broker (it waited for the other window to leave): the kiosk's
    // hang-up reaches it.
    wait_for(
        "the page back on the broker",
        Duration::from_secs(20),
        || (c.browser.stats()["broker_connected"] == true).then_some(()),
    );
    let reply = c.kiosk.control(json!({"cmd": "hang_up"}));
    assert_eq!(reply["state"], "ended", "{reply}");
    c.wait_for_page("ended", Duration::from_secs(10));
    c.kiosk.wait_for_state("idle", Duration::from_secs(15));

    // The next patient: kioskctl doctor holds the call, and the page is the second window.
    let appointment = c.fleet.create_browser_appointment(DEVICE);
    c.kiosk.wait_for_appointment(&appointment.id);
    c.kiosk.let_patient_in(&appointment);
    let link = appointment.link.expect("a join link");
    let kioskctl = c.fleet.command(env!("CARGO_BIN_EXE_kioskctl"));
    let mut first = Doctor::join_from(kioskctl, &c.fleet, &link, &["--ice-local", "127.0.0.1"]);
    let frames = |doctor: &Doctor| {
        doctor
            .stats()
            .and_then(|s| s["video_frames_received"].as_u64())
    };
    wait_for("kioskctl doctor's call", Duration::from_secs(30), || {
        frames(&first).filter(|f| *f >= 10)
    });
    c.browser.open(&link);
    c.wait_for_page("error", Duration::from_secs(30));
    let status = c.browser.state()["status"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        status.contains("bereits in einem anderen Fenster"),
        "the page says why it is not let in: {status}"
    );
    let before = frames(&first).unwrap_or_default();
    wait_for(
        "kioskctl doctor's call after the page's try",
        Duration::from_secs(20),
        || frames(&first).filter(|f| *f >= before + 50),
    );
    assert_eq!(c.kiosk.state(), "in_call");
    assert!(
        first.try_exit().is_none(),
        "the first window's call goes on"
    );
}

/// What nginx, as `kioskctl broker config --web-root` set it up, sends: HTTP/2, the right
/// Content-Type for each of the page's three files, the page's Content-Security-Policy and the
/// other security headers, and nothing else of the web root.
#[test]
fn the_page_comes_from_nginx_over_http2_with_its_types_and_policy() {
    let fleet = Fleet::start_in(&[DEVICE], None, Some(&web_doctor()));
    let head = |path: &str| {
        let out = std::process::Command::new("curl")
            .args(["--http2", "--insecure", "--silent", "--head"])
            .arg(format!("{}{path}", fleet.page_url()))
            .output()
            .expect("curl runs");
        String::from_utf8_lossy(&out.stdout).to_lowercase()
    };
    for (path, kind) in [
        ("", "text/html; charset=utf-8"),
        ("index.html", "text/html; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("vendor/doctor.js", "application/javascript; charset=utf-8"),
    ] {
        let head = head(path);
        assert!(
            head.starts_with("http/2 200"),
            "/{path}: {head}\n{}",
            fleet.web_log()
        );
        assert!(
            head.contains(&format!("content-type: {kind}\r\n")),
            "/{path}: {head}"
        );
        let csp = praxiskiosk::ctl::WEB_CSP.to_lowercase();
        assert!(
            head.contains(&format!("content-security-policy: {csp}\r\n")),
            "/{path}: {head}"
        );
        for header in [
            "strict-transport-security: max-age=31536000",
            "x-content-type-options: nosniff",
            "referrer-policy: no-referrer",
            "x-frame-options: deny",
        ] {
            assert!(head.contains(header), "/{path} lacks {header}: {head}");
        }
        assert!(
            !head.contains("server: nginx/"),
            "/{path} names nginx's version: {head}"
        );
    }
    for hidden in [
        "app.js",
        "tab.js",
        "package.json",
        "test/tab.test.js",
        "node_modules/",
    ] {
        assert!(
            head(hidden).starts_with("http/2 404"),
            "/{hidden} is served"
        );
    }
}

/// The same consultation with the doctor in Debian's Firefox ESR, driven over WebDriver BiDi
/// (`tests/browser/firefox.mjs`): VP8 both ways, mute and camera switches as the kiosk hears
/// and sees them, a reload mid-call, and a hang-up from the page.
#[test]
fn a_doctor_in_firefox_holds_a_vp8_consultation_reloads_and_hangs_up() {
    let mut c = Consultation::start_in(Engine::Firefox, "vp8");
    c.join();
    let (page, kiosk) = c.media_flows(1);
    assert_eq!(page["videoCodec"], "video/VP8", "{page}");
    assert_eq!(kiosk["video_codec"], "VP8", "{kiosk}");

    // Firefox's fake microphone plays a tone; muted, the kiosk hears silence, and with the
    // camera off black frames keep coming: the call goes on uninterrupted.
    let level = |c: &mut Consultation| c.kiosk.stats()["audio_level_in_dbfs"].as_f64();
    wait_for(
        "the doctor's tone at the kiosk",
        Duration::from_secs(10),
        || level(&mut c).filter(|db| *db > -40.0),
    );
    c.browser.click("mute");
    c.browser.click("camera");
    wait_for("silence at the kiosk", Duration::from_secs(10), || {
        level(&mut c).filter(|db| *db < -60.0)
    });
    c.media_flows(25);
    assert_eq!(c.kiosk.stats()["interrupted"], serde_json::Value::Null);
    c.browser.click("mute");
    c.browser.click("camera");
    wait_for(
        "the tone back at the kiosk",
        Duration::from_secs(10),
        || level(&mut c).filter(|db| *db > -40.0),
    );

    c.browser.reload();
    c.wait_for_page("in-call", Duration::from_secs(15));
    c.media_flows(25);
    assert_eq!(c.kiosk.state(), "in_call", "the kiosk stayed in the call");

    c.browser.click("hangup");
    c.wait_for_page("ended", Duration::from_secs(5));
    c.kiosk.wait_for_state("idle", Duration::from_secs(15));
}

/// Rule 7, codecs for every doctor: a kiosk that prefers H.264 (here forced by its config, as a
/// Raspberry Pi 4's hardware encoder would make it) sends VP8 to a Firefox that offers no H.264
/// (no OpenH264 download in a locked-down practice), and H.264 to a Chromium (the H.264 test
/// above).
#[test]
fn a_kiosk_that_prefers_h264_calls_a_firefox_without_it_in_vp8() {
    let mut c = Consultation::start_in(Engine::Firefox, "h264");
    c.join();
    let (page, kiosk) = c.media_flows(1);
    assert_eq!(kiosk["video_codec"], "VP8", "{kiosk}");
    assert_eq!(page["videoCodec"], "video/VP8", "{page}");
    let reply = c.kiosk.control(json!({"cmd": "hang_up"}));
    assert_eq!(reply["state"], "ended", "{reply}");
    c.wait_for_page("ended", Duration::from_secs(10));
}

/// Camera permission refused in Firefox: the page says what to allow.
#[test]
fn a_doctor_in_firefox_without_camera_permission_is_told_what_to_allow() {
    without_camera_permission(Engine::Firefox);
}
