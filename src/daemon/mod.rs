//! kioskd's wiring. Each resource has one owner here, and the supervisor's main loop is where
//! fleet messages, control requests, touches, call reports and the clock meet:
//!
//! - `presence`: the MQTT link, the broker's state, the state report and heartbeat, events;
//! - `calls`: the running call, the calls being ended, what calls told about the devices
//!   (`devices`);
//! - `touchscreen`: the display, the screens' state, the call's quality level, and the staff
//!   desk (`staff`: device test, test tone, PIN lockout);
//! - `settings`: the config file and the fleet's device config, and what they add up to;
//! - `checks`: access codes and staff PINs checked off the main loop;
//! - `liveness`: readiness and the watchdog towards systemd.
//!
//! The supervisor turns inputs into flow events and the flow's actions into calls on these parts.
//! The rules themselves live in [`crate::flow`] and [`crate::call`]'s signalling; nothing here
//! decides a transition.

pub mod access;
mod calls;
mod checks;
mod devices;
mod gallery;
mod liveness;
mod lockout_file;
mod presence;
pub mod provision;
mod settings;
mod staff;
mod supervisor;
mod touchscreen;

use std::future::Future;

use crate::config::{Config, ConfigError};
use crate::fleet::appointments::StoreError;
use crate::fleet::topics::TopicError;
use crate::platform::exit::Exit;

pub use gallery::render_screens;
pub use supervisor::run;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("config: {0}")]
    Topics(#[from] TopicError),
    #[error("GStreamer could not start: {0}")]
    Gstreamer(#[from] gst::glib::Error),
    #[error("GStreamer elements missing: {}. Install gstreamer1.0-plugins-base, -good, -bad and gstreamer1.0-nice.", .0.join(", "))]
    MissingElements(Vec<&'static str>),
    #[error(transparent)]
    Access(#[from] access::AccessError),
    #[error("broker TLS: {0}")]
    Tls(crate::fleet::tls::TlsError),
    #[error("trust in signed appointments: {0}")]
    Trust(String),
    #[error("config: {0}")]
    Codec(crate::media::codec::CodecError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("device identity: {0}")]
    Identity(#[from] crate::fleet::identity::IdentityError),
    #[error(transparent)]
    Display(#[from] crate::media::display::DisplayError),
    #[error("cannot start the touch reader: {source}")]
    Touch { source: std::io::Error },
    #[error("control socket {path}: {source}")]
    ControlSocket {
        path: String,
        source: std::io::Error,
    },
}

impl DaemonError {
    /// The exit code that tells systemd whether restarting can help.
    pub fn exit(&self) -> Exit {
        match self {
            Self::Config(_) | Self::Topics(_) | Self::Access(_) | Self::Tls(_) | Self::Trust(_) => {
                Exit::Config
            }
            Self::Gstreamer(_) | Self::MissingElements(_) | Self::Display(_) | Self::Codec(_) => {
                Exit::Unavailable
            }
            Self::Store(_)
            | Self::Identity(_)
            | Self::ControlSocket { .. }
            | Self::Touch { .. } => Exit::Io,
        }
    }
}

/// `kioskd --import-bundle`: the privileged import of the provisioning bundle (see
/// [`provision`]), with what it did said on standard output.
pub fn import_bundle_from_file(path: &std::path::Path) -> Result<(), DaemonError> {
    let config = Config::load(path)?;
    let bundle = config.provisioning_bundle.display();
    match provision::import_privileged(&config)? {
        provision::Import::AlreadyProvisioned => {
            println!("already provisioned; {bundle} left alone")
        }
        provision::Import::NoBundle => println!("no provisioning bundle at {bundle}"),
        provision::Import::Imported { device } => {
            println!("provisioned as {device} from {bundle} (deleted)")
        }
        provision::Import::Refused { reason } => {
            println!("provisioning bundle {bundle} refused: {reason}")
        }
    }
    Ok(())
}

/// Loads the config and runs the daemon until `shutdown` completes.
pub async fn run_from_file(
    path: &std::path::Path,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    let config = Config::load(path)?;
    let identity = crate::fleet::identity::load(&config.state_dir)?.map(access::Provisioned::from);
    let access = access::resolve(&config, identity.as_ref())?;
    if access.is_none() {
        tracing::warn!(bundle = %config.provisioning_bundle.display(), "not provisioned: waiting for the provisioning bundle");
    }
    // The room named at enrolment; the fleet's device config may rename it later.
    let enrolled_room = identity.map(|id| id.room);
    run(config, access, enrolled_room, shutdown).await
}
