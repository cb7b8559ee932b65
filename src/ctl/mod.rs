//! kioskctl — the fleet manager's tool: appointments, device state, and a test call as the doctor.

mod appointment;
mod broker;
mod device;
mod doctor;
mod local;
mod when;

use clap::{Parser, Subcommand};

use crate::fleet::BrokerUrl;
use crate::fleet::topics::{self, Topics};

#[derive(Debug, Parser)]
#[command(
    name = "kioskctl",
    version,
    about = "The praxiskiosk fleet manager's tool"
)]
pub struct Cli {
    /// The fleet's broker.
    #[arg(
        long,
        global = true,
        env = "PRAXISKIOSK_BROKER",
        default_value = "mqtt://127.0.0.1:1883"
    )]
    broker: String,
    /// Root of the topic tree.
    #[arg(long, global = true, default_value = topics::DEFAULT_ROOT)]
    topic_root: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create, revoke and list appointments.
    #[command(subcommand)]
    Appointment(appointment::AppointmentCmd),
    /// The state of kiosks.
    #[command(subcommand)]
    Device(device::DeviceCmd),
    /// Join a session as a headless doctor peer: a test call to a kiosk.
    Doctor(doctor::DoctorArgs),
    /// Talk to a kiosk's control socket on this machine.
    Local(local::LocalArgs),
}

/// What a command needs of the global options.
#[derive(Debug)]
struct Fleet {
    broker: BrokerUrl,
    root: String,
}

impl Fleet {
    fn device(&self, id: &str) -> anyhow::Result<Topics> {
        Ok(Topics::new(&self.root, id)?)
    }
}

/// A random hex string of `bytes` bytes from the OS's random source.
fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let fleet = || -> anyhow::Result<Fleet> {
        topics::check_root(&cli.topic_root)?;
        Ok(Fleet {
            broker: BrokerUrl::parse(&cli.broker)?,
            root: cli.topic_root.clone(),
        })
    };
    match cli.command {
        Command::Appointment(cmd) => appointment::run(&fleet()?, cmd).await,
        Command::Device(cmd) => device::run(&fleet()?, cmd).await,
        Command::Doctor(args) => doctor::run(&fleet()?, args).await,
        Command::Local(args) => local::run(args),
    }
}
