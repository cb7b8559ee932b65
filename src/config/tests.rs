use super::*;

const MINIMAL: &str = r#"
device_id = "kiosk-1"
broker = "mqtt://127.0.0.1:1883"
state_dir = "/var/lib/praxiskiosk"

[media]
video_source = "videotestsrc"
audio_source = "audiotestsrc"
video_sink = "fakesink"
audio_sink = "fakesink"
"#;

#[test]
fn minimal_config_gets_documented_defaults() {
    let c = Config::parse(MINIMAL).unwrap();
    assert_eq!(c.topic_root, "praxiskiosk/v1");
    assert_eq!(c.media.jitter_latency_ms, 60);
    assert_eq!(
        c.control_socket, None,
        "the control socket is off unless named"
    );
    assert_eq!(c.locale, Locale::De);
    assert_eq!(c.timeouts(), crate::flow::Timeouts::default());
}

#[test]
fn the_shipped_example_configs_parse() {
    for path in ["config/kioskd.toml", "config/demo/kioskd.toml"] {
        let text = std::fs::read_to_string(path).unwrap();
        Config::parse(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
}

fn error_for(extra_line: &str, in_media: bool) -> String {
    let text = if in_media {
        format!("{MINIMAL}{extra_line}\n")
    } else {
        format!("{extra_line}\n{MINIMAL}")
    };
    Config::parse(&text).unwrap_err()
}

#[test]
fn unknown_keys_are_refused_with_name_and_line() {
    let e = error_for("colour = \"blue\"", false);
    assert!(e.starts_with("line 1:") && e.contains("colour"), "{e}");
    let e = error_for("zoom = 2", true);
    assert!(e.starts_with("line 11:") && e.contains("zoom"), "{e}");
}

#[test]
fn bad_values_are_refused_with_line_and_reason() {
    for (line, needle) in [
        ("jitter_latency_ms = 5000", "out of range"),
        (
            "video_device = \"/dev/video0 ! filesink\"",
            "may only contain",
        ),
    ] {
        let e = error_for(line, true);
        assert!(
            e.starts_with("line 11:") && e.contains(needle),
            "{line}: {e}"
        );
    }
    for (from, to, line, needle) in [
        ("\"videotestsrc\"", "\"filesrc\"", 7, "filesrc"),
        (
            "video_sink = \"fakesink\"",
            "video_sink = \"filesink\"",
            9,
            "filesink",
        ),
        (
            "mqtt://127.0.0.1:1883",
            "mqtt://192.0.2.1:1883",
            3,
            "loopback",
        ),
        ("kiosk-1", "kiosk/1", 2, "device_id"),
    ] {
        let e = Config::parse(&MINIMAL.replace(from, to)).unwrap_err();
        assert!(
            e.starts_with(&format!("line {line}:")) && e.contains(needle),
            "{to}: {e}"
        );
    }
}

#[test]
fn touch_rotation_and_ranges_are_checked() {
    let with = |extra: &str| Config::parse(&format!("{MINIMAL}\n[touch]\n{extra}\n"));
    let c = with("device = \"/dev/input/event3\"\nrotation = 270\nx_range = [100, 3900]").unwrap();
    assert_eq!(c.touch.rotation, crate::ui::touch::Rotation::R270);
    assert_eq!(c.touch.x_range, Some((100, 3900)));
    assert!(
        with("rotation = 45")
            .unwrap_err()
            .contains("0, 90, 180 or 270")
    );
    assert!(with("y_range = [10, 5]").unwrap_err().contains("min < max"));
}

#[test]
fn voice_processing_is_on_by_default_and_test_sources_need_a_development_config() {
    let c = Config::parse(MINIMAL).unwrap();
    assert_eq!(c.media().voice, crate::media::VoiceProcessing::default());
    let off = Config::parse(&format!(
        "{MINIMAL}echo_cancellation = \"device\"\nnoise_suppression = false\n"
    ))
    .unwrap();
    assert_eq!(
        off.media().voice.echo,
        crate::media::EchoCancellation::Device
    );
    assert!(!off.media().voice.noise_suppression);

    let room = MINIMAL.replace("\"audiotestsrc\"", "\"room\"");
    let e = Config::parse(&room).unwrap_err();
    assert!(e.contains("development"), "{e}");
    assert!(Config::parse(&format!("{room}\n[screen]\ndevelopment = true\n")).is_ok());
}

#[test]
fn a_pinned_fleet_ca_is_a_sha256_with_or_without_colons() {
    let digits = "AB".repeat(32);
    let colons = vec!["ab"; 32].join(":");
    for pin in [digits, colons] {
        let c = Config::parse(&format!("fleet_ca_sha256 = \"{pin}\"\n{MINIMAL}")).unwrap();
        assert_eq!(c.fleet_ca_sha256, Some([0xab; 32]));
    }
    let err = error_for("fleet_ca_sha256 = \"AB:CD\"", false);
    assert!(
        err.contains("fleet_ca_sha256") && err.contains("64 hex digits"),
        "{err}"
    );
    assert_eq!(Config::parse(MINIMAL).unwrap().fleet_ca_sha256, None);
}
