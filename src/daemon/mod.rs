//! kioskd's wiring: it owns the flow core, the appointment book and the current call, and is the
//! only place where fleet messages, control requests, call reports and the clock meet. It turns
//! each of them into a flow [`Event`], and each resulting [`Action`] into MQTT messages or call
//! commands. The rules themselves live in [`crate::flow`]; nothing here decides a transition.

pub mod access;
mod gallery;
mod supervisor;

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
            Self::Config(_) | Self::Topics(_) | Self::Access(_) | Self::Tls(_) => Exit::Config,
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

/// Loads the config and runs the daemon until `shutdown` completes.
pub async fn run_from_file(
    path: &std::path::Path,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    let mut config = Config::load(path)?;
    let identity = crate::fleet::identity::load(&config.state_dir)?.map(access::Provisioned::from);
    if let Some(id) = &identity {
        // The room named at enrolment; the fleet's device config may rename it later.
        config.display_name = id.room.clone();
    }
    let access = access::resolve(&config, identity.as_ref())?;
    if access.is_none() {
        tracing::warn!(bundle = %config.provisioning_bundle.display(), "not provisioned: waiting for the provisioning bundle");
    }
    run(config, access, shutdown).await
}
