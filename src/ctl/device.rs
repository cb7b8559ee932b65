//! `kioskctl device status [ID]` and `kioskctl device list`: the retained states of the fleet.

use std::time::Duration;

use clap::Subcommand;
use time::OffsetDateTime;

use super::Fleet;
use crate::fleet::topics;
use crate::ui::{clock, text};
use crate::wire::{self, StateReport, rfc3339};

#[derive(Debug, Subcommand)]
pub enum DeviceCmd {
    /// Show the state of one kiosk, or of all.
    Status {
        id: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One line per kiosk: state, version, last seen, camera and microphone, last call.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Issue a kiosk's certificate and write its provisioning bundle (for the SD card's boot
    /// partition), and register it with the broker.
    Enroll {
        id: String,
        /// The room's name as the patient sees it.
        #[arg(long)]
        room: String,
        /// The bundle file (or a directory for praxiskiosk-provision.json). Never overwritten.
        #[arg(long)]
        out: std::path::PathBuf,
        /// Do not register with the broker now (before it exists; `broker config` includes
        /// every enrolled kiosk).
        #[arg(long)]
        offline: bool,
    },
    /// Revoke a kiosk's certificate (CRL) and remove it from the broker, which disconnects it.
    Revoke {
        id: String,
        /// Also write the new CRL here (the broker's crlfile); reload the broker afterwards.
        #[arg(long)]
        crl_out: Option<std::path::PathBuf>,
        /// Only update the CA's CRL; do not contact the broker.
        #[arg(long)]
        offline: bool,
    },
    /// Change the device config the fleet sends a kiosk.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// A test call to an idle kiosk, with nobody in the room: it shows "Testanruf der
    /// Praxis-IT" and ends it by itself within 60 s; this side prints what it received, what
    /// the kiosk received, bitrate, round-trip time and whether the path is direct. A kiosk in
    /// use refuses, with the reason. Exits non-zero unless all is well.
    TestCall {
        id: String,
        #[arg(long)]
        json: bool,
        /// Restrict ICE to this local address (repeatable).
        #[arg(long = "ice-local")]
        ice_local: Vec<String>,
    },
    /// Send a kiosk a command: end_call, refresh, identify or wipe (factory reset).
    Command {
        id: String,
        #[arg(value_enum)]
        command: super::manage::CommandName,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Change some settings; the others stay as they are.
    Set(super::manage::ConfigSet),
}

pub async fn run(fleet: &Fleet, cmd: DeviceCmd) -> anyhow::Result<()> {
    let (id, json, list) = match cmd {
        DeviceCmd::Status { id, json } => (id, json, false),
        DeviceCmd::List { json } => (None, json, true),
        DeviceCmd::Enroll {
            id,
            room,
            out,
            offline,
        } => return enroll(fleet, &id, &room, &out, offline).await,
        DeviceCmd::Revoke {
            id,
            crl_out,
            offline,
        } => return revoke(fleet, &id, crl_out.as_deref(), offline).await,
        DeviceCmd::Config(ConfigCmd::Set(args)) => {
            return super::manage::config_set(fleet, args).await;
        }
        DeviceCmd::TestCall {
            id,
            json,
            ice_local,
        } => return super::test_call::run(fleet, &id, json, ice_local).await,
        DeviceCmd::Command { id, command } => {
            return super::manage::command(fleet, &id, command).await;
        }
    };
    let filter = match &id {
        Some(id) => fleet.device(id)?.state(),
        None => topics::all_states(&fleet.root),
    };
    let mut session = fleet.session().await?;
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
        return Ok(());
    }
    if list {
        print!("{}", table(&rows, OffsetDateTime::now_utc()));
        return Ok(());
    }
    for (device, r) in rows {
        println!(
            "{device:<24} {:<14} since {:<22} version {:<8} {}",
            r.state.as_str(),
            r.since.map(rfc3339::format).unwrap_or_else(|| "-".into()),
            r.version.as_deref().unwrap_or("-"),
            r.detail.map_or("", crate::wire::ProblemCode::as_str)
        );
    }
    Ok(())
}

/// `device list` as text: a header and one line per kiosk, ages counted from `now`.
fn table(rows: &[(String, StateReport)], now: OffsetDateTime) -> String {
    let mut out = format!(
        "{:<24} {:<16} {:<8} {:<27} {:<8} {:<8} {}\n",
        "DEVICE", "STATE", "VERSION", "LAST SEEN", "CAMERA", "MIC", "LAST CALL"
    );
    for (device, r) in rows {
        let (camera, microphone) = match r.health {
            Some(h) => (h.camera.as_str(), h.microphone.as_str()),
            None => ("-", "-"),
        };
        let last_call = match &r.last_call {
            Some(call) => format!(
                "{} {}",
                text::duration(call.duration_s),
                call.quality.map_or("-", crate::wire::QualityLevel::as_str)
            ),
            None => "-".into(),
        };
        let line = format!(
            "{device:<24} {:<16} {:<8} {:<27} {camera:<8} {microphone:<8} {last_call}",
            r.state.as_str(),
            r.version.as_deref().unwrap_or("-"),
            r.at.map_or_else(|| "-".into(), |at| last_seen(at, now)),
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// "12 s ago (10:04:31)": how long ago, and when in German local time, which is what the
/// kiosks show and where the practices are (kioskctl asks no time zone database).
fn last_seen(at: OffsetDateTime, now: OffsetDateTime) -> String {
    let seconds = (now - at).whole_seconds();
    let age = match seconds.unsigned_abs() {
        s if s < 120 => format!("{s} s"),
        s if s < 2 * 3600 => format!("{} min", s / 60),
        s if s < 2 * 86_400 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    };
    // A kiosk clock ahead of ours shows as such: it matters for certificates and retention.
    let age = if seconds < 0 {
        format!("{age} ahead")
    } else {
        format!("{age} ago")
    };
    let local = at.to_offset(clock::berlin_offset(at));
    let today = now.to_offset(clock::berlin_offset(now)).date();
    let when = if local.date() == today {
        format!(
            "{:02}:{:02}:{:02}",
            local.hour(),
            local.minute(),
            local.second()
        )
    } else {
        format!("{} {:02}:{:02}", local.date(), local.hour(), local.minute())
    };
    format!("{age} ({when})")
}

async fn enroll(
    fleet: &Fleet,
    id: &str,
    room: &str,
    out: &std::path::Path,
    offline: bool,
) -> anyhow::Result<()> {
    let topics = fleet.device(id)?;
    let outcome = super::enroll::enroll(&fleet.ca_dir, id, room, &fleet.broker.to_string(), out)?;
    println!("{outcome}");
    if !offline {
        let mut session = fleet.session().await?;
        session
            .dynsec(crate::fleet::dynsec::register_device(&topics, id))
            .await?;
        session.disconnect().await;
        println!("  registered with the broker {}", fleet.broker);
    }
    Ok(())
}

async fn revoke(
    fleet: &Fleet,
    id: &str,
    crl_out: Option<&std::path::Path>,
    offline: bool,
) -> anyhow::Result<()> {
    fleet.device(id)?;
    super::enroll::revoke(&fleet.ca_dir, id)?;
    if let Some(out) = crl_out {
        let crl = crate::fleet::pki::FleetCa::open(&fleet.ca_dir)?.crl_pem()?;
        crate::platform::atomic_file::write_atomic(out, crl.as_bytes())
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
        println!("  CRL written to {}", out.display());
    }
    if !offline {
        let mut session = fleet.session().await?;
        session
            .dynsec(crate::fleet::dynsec::remove_device(id))
            .await?;
        session.disconnect().await;
        println!(
            "  removed from the broker {} (disconnected at once)",
            fleet.broker
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::wire::{DeviceHealth, Health, KioskState, LastCall, V1};

    #[test]
    fn the_list_shows_state_version_last_seen_devices_and_last_call() {
        let now = datetime!(2026-11-28 09:05:00 UTC);
        let kiosk = StateReport {
            v: V1,
            state: KioskState::InCall,
            since: Some(datetime!(2026-11-28 08:58:00 UTC)),
            version: Some("0.2.0".into()),
            detail: None,
            uptime_s: Some(86_400),
            health: Some(Health {
                camera: DeviceHealth::Ok,
                microphone: DeviceHealth::Failed,
            }),
            last_call: Some(LastCall {
                duration_s: 412,
                quality: Some(crate::wire::QualityLevel::Fair),
                ended_at: datetime!(2026-11-28 08:40:00 UTC),
            }),
            recent_calls: Vec::new(),
            at: Some(now - time::Duration::seconds(12)),
            slot: None,
        };
        let old = StateReport {
            version: Some("0.1.0".into()),
            state: KioskState::Idle,
            at: Some(datetime!(2026-11-25 17:30:00 UTC)),
            slot: None,
            ..StateReport::offline()
        };
        let rows = vec![
            ("praxis-1".to_string(), kiosk),
            ("praxis-2".to_string(), old),
            ("praxis-3".to_string(), StateReport::offline()),
        ];
        assert_eq!(
            table(&rows, now),
            "\
DEVICE                   STATE            VERSION  LAST SEEN                   CAMERA   MIC      LAST CALL
praxis-1                 in_call          0.2.0    12 s ago (10:04:48)         ok       failed   6:52 fair
praxis-2                 idle             0.1.0    2 d ago (2026-11-25 18:30)  -        -        -
praxis-3                 offline          -        -                           -        -        -
"
        );
    }

    #[test]
    fn ages_grow_coarser_and_a_clock_ahead_is_said() {
        let now = datetime!(2026-07-01 12:00:00 UTC);
        let ago = |s: i64| last_seen(now - time::Duration::seconds(s), now);
        assert_eq!(ago(0), "0 s ago (14:00:00)", "summer time in Germany");
        assert_eq!(ago(119), "119 s ago (13:58:01)");
        assert_eq!(ago(600), "10 min ago (13:50:00)");
        assert_eq!(ago(5 * 3600), "5 h ago (09:00:00)");
        assert_eq!(ago(-30), "30 s ahead (14:00:30)");
    }
}
