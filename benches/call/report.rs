//! What a scenario hands back, and the one table and JSON file made of all of them.

use std::path::PathBuf;

use serde_json::{Map, Value, json};

/// One line of the table: a quantity measured on the kiosk and, where the other side of the
/// call has the same quantity, on the doctor's side.
#[derive(Debug)]
pub struct Row {
    pub scenario: String,
    pub quantity: &'static str,
    pub kiosk: f64,
    pub doctor: Option<f64>,
    /// Whether kiosk/doctor means something for this quantity (CPU, memory; not frame rates).
    pub ratio: bool,
}

impl Row {
    pub fn kiosk(scenario: &str, quantity: &'static str, kiosk: f64) -> Self {
        Self {
            scenario: scenario.into(),
            quantity,
            kiosk,
            doctor: None,
            ratio: false,
        }
    }

    pub fn both(scenario: &str, quantity: &'static str, kiosk: f64, doctor: f64) -> Self {
        Self {
            doctor: Some(doctor),
            ..Self::kiosk(scenario, quantity, kiosk)
        }
    }

    pub fn compared(scenario: &str, quantity: &'static str, kiosk: f64, doctor: f64) -> Self {
        Self {
            ratio: true,
            ..Self::both(scenario, quantity, kiosk, doctor)
        }
    }
}

/// What one scenario measured: its rows, and everything it knows under `key` in the JSON.
#[derive(Debug)]
pub struct Scenario {
    pub key: &'static str,
    pub rows: Vec<Row>,
    pub json: Value,
}

pub fn print_table(scenarios: &[Scenario]) {
    println!(
        "{:<22} {:<32} {:>10} {:>14} {:>14}",
        "scenario", "quantity", "kiosk", "doctor's side", "kiosk/doctor"
    );
    // A number a scenario could not get or a side does not measure (NaN) shows as "-".
    let cell = |v: f64| {
        if v.is_nan() {
            "-".to_string()
        } else {
            format!("{v:.2}")
        }
    };
    for row in scenarios.iter().flat_map(|s| &s.rows) {
        let doctor = row.doctor.map_or(String::new(), cell);
        let ratio = match row.doctor {
            Some(d) if row.ratio && d > 0.0 => cell(row.kiosk / d),
            _ => String::new(),
        };
        println!(
            "{:<22} {:<32} {:>10} {:>14} {:>14}",
            row.scenario,
            row.quantity,
            cell(row.kiosk),
            doctor,
            ratio
        );
    }
}

/// Writes `target/bench/call.json` and returns its path.
pub fn write_json(scenarios: &[Scenario]) -> PathBuf {
    let all: Map<String, Value> = scenarios
        .iter()
        .map(|s| (s.key.to_string(), s.json.clone()))
        .collect();
    let report = json!({"bench": "call", "scenarios": all});
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("call.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
    path
}
