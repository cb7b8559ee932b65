//! `kioskctl device status [ID]`: the retained states of the fleet.

use std::time::Duration;

use clap::Subcommand;

use super::{Fleet, broker::Session, random_hex};
use crate::fleet::topics;
use crate::wire::{self, StateReport, rfc3339};

#[derive(Debug, Subcommand)]
pub enum DeviceCmd {
    /// Show the state of one kiosk, or of all.
    Status {
        id: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(fleet: &Fleet, cmd: DeviceCmd) -> anyhow::Result<()> {
    let DeviceCmd::Status { id, json } = cmd;
    let filter = match &id {
        Some(id) => fleet.device(id)?.state(),
        None => topics::all_states(&fleet.root),
    };
    let mut session =
        Session::connect(&fleet.broker, &format!("kioskctl-{}", random_hex(4))).await?;
    let retained = session
        .retained(&filter, Duration::from_millis(500))
        .await?;
    session.disconnect().await;
    let mut rows: Vec<(String, StateReport)> = retained
        .iter()
        .filter_map(|(topic, payload)| {
            let device = topics::state_device(&fleet.root, topic)?;
            let report = wire::decode::<StateReport>(payload)
                .inspect_err(|e| eprintln!("skipped {topic}: {e}"))
                .ok()?;
            Some((device.to_string(), report))
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    if json {
        let list: Vec<_> = rows
            .iter()
            .map(|(device, r)| {
                let mut value = serde_json::to_value(r).expect("state reports serialise");
                value["device"] = device.clone().into();
                value
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
        return Ok(());
    }
    if rows.is_empty() {
        println!("kein Kiosk gefunden / no kiosk found");
    }
    for (device, r) in rows {
        println!(
            "{device:<24} {:<14} since {:<22} version {:<8} {}",
            r.state.as_str(),
            r.since.map(rfc3339::format).unwrap_or_else(|| "-".into()),
            r.version.as_deref().unwrap_or("-"),
            r.detail.as_deref().unwrap_or("")
        );
    }
    Ok(())
}
