//! kioskd — the consultation kiosk daemon. Parses arguments, starts logging, runs the daemon until
//! SIGTERM or Ctrl-C, and exits with a code systemd can act on.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use praxiskiosk::platform::exit::Exit;

/// The praxiskiosk consultation kiosk daemon.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Path of the TOML config (see config/kioskd.toml).
    #[arg(long)]
    config: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("kioskd: cannot start the async runtime: {e}");
            return Exit::Software.into();
        }
    };
    match runtime.block_on(praxiskiosk::daemon::run_from_file(
        &args.config,
        shutdown_signal(),
    )) {
        Ok(()) => Exit::Ok.into(),
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("kioskd: {e}");
            e.exit().into()
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM; stopping on Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
