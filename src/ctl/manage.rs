//! `kioskctl device config set | command`: what the fleet manager changes on a kiosk. The device
//! config is one retained message that the kiosk stores; a command is a one-off QoS 1 message.

use std::time::Duration;

use clap::{Args, ValueEnum};

use super::Fleet;
use crate::fleet::codes;
use crate::wire::{self, Command, CommandKind, DeviceConfig, V1};

#[derive(Debug, Args)]
pub struct ConfigSet {
    pub device: String,
    /// The room's name as the patient sees it.
    #[arg(long)]
    display_name: Option<String>,
    /// The screen's language: de or en.
    #[arg(long, value_parser = ["de", "en"])]
    locale: Option<String>,
    /// STUN (or TURN) servers, replacing the current list (repeatable; `--ice-server ""` clears).
    #[arg(long = "ice-server")]
    ice_servers: Vec<String>,
    /// Allow TURN relays (puts a server in the media path).
    #[arg(long)]
    allow_relay: Option<bool>,
    /// Read a new 6-digit staff PIN from standard input (never from the command line, where
    /// shell history would keep it).
    #[arg(long)]
    staff_pin_stdin: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CommandName {
    EndCall,
    Refresh,
    Identify,
    Wipe,
}

impl From<CommandName> for CommandKind {
    fn from(name: CommandName) -> Self {
        match name {
            CommandName::EndCall => Self::EndCall,
            CommandName::Refresh => Self::Refresh,
            CommandName::Identify => Self::Identify,
            CommandName::Wipe => Self::Wipe,
        }
    }
}

/// Reads the current config, changes what was given, publishes the result retained.
pub async fn config_set(fleet: &Fleet, args: ConfigSet) -> anyhow::Result<()> {
    let topics = fleet.device(&args.device)?;
    let staff_pin_hash = if args.staff_pin_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        let pin = line.trim();
        anyhow::ensure!(
            pin.len() == 6 && pin.bytes().all(|b| b.is_ascii_digit()),
            "die Personal-PIN hat 6 Ziffern / the staff PIN must be 6 digits"
        );
        Some(codes::hash(pin))
    } else {
        None
    };
    let mut session = fleet.session().await?;
    let current = session
        .retained(&topics.config(), Duration::from_millis(500))
        .await?;
    let mut config = match current.iter().rfind(|(_, p)| !p.is_empty()) {
        Some((_, payload)) => wire::decode::<DeviceConfig>(payload)?,
        None => DeviceConfig {
            v: V1,
            display_name: None,
            locale: None,
            ice_servers: Vec::new(),
            allow_relay: false,
            staff_pin_hash: None,
        },
    };
    if let Some(name) = args.display_name {
        anyhow::ensure!(
            !name.trim().is_empty() && name.chars().count() <= 60,
            "der Anzeigename hat 1–60 Zeichen / the display name must be 1–60 characters"
        );
        config.display_name = Some(name);
    }
    if let Some(locale) = args.locale {
        config.locale = Some(locale);
    }
    if !args.ice_servers.is_empty() {
        config.ice_servers = args
            .ice_servers
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
    }
    if let Some(allow) = args.allow_relay {
        config.allow_relay = allow;
    }
    if staff_pin_hash.is_some() {
        config.staff_pin_hash = staff_pin_hash;
    }
    session
        .publish(&topics.config(), wire::encode(&config), true)
        .await?;
    session.disconnect().await;
    println!(
        "Gerätekonfiguration gesendet / device config sent to {}",
        args.device
    );
    Ok(())
}

pub async fn command(fleet: &Fleet, device: &str, name: CommandName) -> anyhow::Result<()> {
    let topics = fleet.device(device)?;
    let mut session = fleet.session().await?;
    let command = Command::new(name.into());
    session
        .publish(&topics.commands(), wire::encode(&command), false)
        .await?;
    session.disconnect().await;
    println!("Befehl gesendet / command sent to {device}: {name:?}");
    if matches!(name, CommandName::Wipe) {
        println!(
            "  the kiosk deletes its appointments, logs and identity; `kioskctl device revoke {device}` retires its certificate"
        );
    }
    Ok(())
}
