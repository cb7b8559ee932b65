//! kioskctl — the fleet manager's tool: appointments, device state, and a test call as the doctor.

mod appointment;
mod broker;
mod broker_setup;
mod ca;
mod consent;
mod dashboard;
mod device;
mod doctor;
mod enroll;
mod local;
mod manage;
mod observed;
mod test_call;
mod web_site;

/// The doctor's page's Content-Security-Policy as the generated nginx site sends it.
pub use web_site::CSP as WEB_CSP;
mod when;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::fleet::BrokerUrl;
use crate::fleet::broker::{Endpoint, Login};
use crate::fleet::tls::{ClientIdentity, TlsMaterial};
use crate::fleet::topics::{self, Topics};

#[derive(Debug, Parser)]
#[command(
    name = "kioskctl",
    version,
    about = "The praxiskiosk fleet manager's tool"
)]
pub struct Cli {
    /// The fleet's broker: its mutual-TLS listener for devices and the fleet manager.
    #[arg(
        long,
        global = true,
        env = "PRAXISKIOSK_BROKER",
        default_value = "mqtts://localhost:8883"
    )]
    broker: String,
    /// The fleet CA's directory (`kioskctl ca init`): its certificate and the fleet manager's
    /// own certificate and key log kioskctl in.
    #[arg(
        long,
        global = true,
        env = "PRAXISKIOSK_CA_DIR",
        default_value = "fleet-ca"
    )]
    ca_dir: PathBuf,
    /// Development only: allow plain MQTT to a loopback broker.
    #[arg(
        long,
        global = true,
        env = "PRAXISKIOSK_PLAINTEXT_LOOPBACK",
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    plaintext_loopback: bool,
    /// Root of the topic tree.
    #[arg(long, global = true, default_value = topics::DEFAULT_ROOT)]
    topic_root: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The fleet CA: create it, re-issue its CRL.
    #[command(subcommand)]
    Ca(ca::CaCmd),
    /// The fleet broker: its Mosquitto configuration, and ending expired doctor credentials.
    #[command(subcommand)]
    Broker(broker_setup::BrokerCmd),
    /// Create, revoke and list appointments.
    #[command(subcommand)]
    Appointment(appointment::AppointmentCmd),
    /// The state of kiosks.
    #[command(subcommand)]
    Device(device::DeviceCmd),
    /// Join a session as a headless doctor peer: a test call to a kiosk.
    Doctor(doctor::DoctorArgs),
    /// Consent receipts the doctor's page saved: check them.
    #[command(subcommand)]
    Consent(consent::ConsentCmd),
    /// Talk to a kiosk's control socket on this machine.
    Local(local::LocalArgs),
    /// A live page of the whole fleet in the browser, on loopback (no patient data).
    Dashboard(dashboard::DashboardArgs),
}

/// What a command needs of the global options.
#[derive(Debug, Clone)]
struct Fleet {
    broker: BrokerUrl,
    root: String,
    ca_dir: PathBuf,
    plaintext_loopback: bool,
}

impl Fleet {
    fn device(&self, id: &str) -> anyhow::Result<Topics> {
        Ok(Topics::new(&self.root, id)?)
    }

    fn read_ca_file(&self, name: &str) -> anyhow::Result<String> {
        let path = self.ca_dir.join(name);
        std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{0} nicht lesbar (das Verzeichnis der Flotten-CA: --ca-dir oder PRAXISKIOSK_CA_DIR) / cannot read {0} (the fleet CA directory; set --ca-dir or PRAXISKIOSK_CA_DIR)",
                path.display()
            )
        })
    }

    fn material(&self, client: bool) -> anyhow::Result<Option<TlsMaterial>> {
        if self.broker.scheme == crate::fleet::broker::Scheme::Mqtt {
            return Ok(None);
        }
        let client = match client {
            true => Some(ClientIdentity {
                cert_pem: self.read_ca_file(crate::fleet::pki::ADMIN_CERT_FILE)?,
                key_pem: self.read_ca_file(crate::fleet::pki::ADMIN_KEY_FILE)?,
            }),
            false => None,
        };
        Ok(Some(TlsMaterial {
            ca_pem: self.read_ca_file(crate::fleet::pki::CA_CERT_FILE)?,
            client,
        }))
    }

    /// The fleet manager's own connection: mutual TLS with the admin certificate.
    fn endpoint(&self) -> anyhow::Result<Endpoint> {
        Ok(Endpoint::new(
            self.broker.clone(),
            self.material(true)?,
            self.plaintext_loopback,
        )?)
    }

    /// A doctor's connection: the fleet CA as trust anchor, the session's login.
    fn doctor_endpoint(&self, login: Login) -> anyhow::Result<Endpoint> {
        Ok(Endpoint::new(
            self.broker.clone(),
            self.material(false)?,
            self.plaintext_loopback,
        )?
        .with_login(login))
    }

    async fn session(&self) -> anyhow::Result<broker::Session> {
        let client_id = format!("kioskctl-{}", random_hex(4));
        Ok(broker::Session::connect(&self.endpoint()?, &client_id).await?)
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
            ca_dir: cli.ca_dir.clone(),
            plaintext_loopback: cli.plaintext_loopback,
        })
    };
    match cli.command {
        Command::Appointment(cmd) => appointment::run(&fleet()?, cmd).await,
        Command::Ca(cmd) => ca::run_ca(&cli.ca_dir, cmd),
        Command::Broker(cmd) => broker_setup::run(&fleet()?, cmd).await,
        Command::Device(cmd) => device::run(&fleet()?, cmd).await,
        Command::Doctor(args) => doctor::run(&fleet()?, args).await,
        Command::Consent(cmd) => consent::run(&fleet()?, cmd),
        Command::Local(args) => local::run(args),
        Command::Dashboard(args) => dashboard::run(&fleet()?, args).await,
    }
}
