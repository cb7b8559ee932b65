//! The room's echo: what the doctor hears of their own voice coming back through the kiosk's
//! speaker and microphone, with the kiosk's echo cancellation on (`webrtc`) and `off`, measured
//! by the room test's own code (`tests/e2e/room.rs`).

use serde_json::{Map, Value};

use crate::report::{Row, Scenario};
use crate::room::Room;

pub fn run() -> Scenario {
    let room = Room::new();
    let mut rows = Vec::new();
    let mut json = Map::new();
    for cancellation in ["webrtc", "off"] {
        let echo = room.measure(cancellation);
        let label = format!("echo, {cancellation}");
        rows.push(Row::kiosk(&label, "ERLE (dB)", echo.erle_db));
        rows.push(Row::kiosk(
            &label,
            "double-talk loss (dB)",
            echo.double_talk_loss_db,
        ));
        json.insert(cancellation.into(), serde_json::to_value(echo).unwrap());
    }
    Scenario {
        key: "echo",
        rows,
        json: Value::Object(json),
    }
}
