//! kioskd — the consultation kiosk daemon. Parses arguments, starts logging, runs the daemon until
//! SIGTERM or Ctrl-C, and exits with a code systemd can act on.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use praxiskiosk::platform::exit::Exit;
use praxiskiosk::ui::{Locale, Panel};

/// The praxiskiosk consultation kiosk daemon.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Import the provisioning bundle the config names, for the state directory's owner, and
    /// exit (run privileged before kioskd starts: systemd's `ExecStartPre=+`).
    #[arg(long, requires = "config")]
    import_bundle: bool,
    /// Path of the TOML config (see config/kioskd.toml).
    #[arg(long, required_unless_present = "render_screens")]
    config: Option<PathBuf>,
    /// Write a PNG of every screen and state to DIR and exit (no display, camera or broker needed).
    #[arg(long, value_name = "DIR")]
    render_screens: Option<PathBuf>,
    /// Panel size for --render-screens, e.g. 800x480 or 720x1280.
    #[arg(long, default_value = "800x480", value_parser = parse_panel)]
    size: Panel,
    /// Language for --render-screens: de or en.
    #[arg(long, default_value = "de", value_parser = parse_locale)]
    locale: Locale,
}

fn parse_panel(text: &str) -> Result<Panel, String> {
    Panel::parse(text).ok_or_else(|| format!("{text:?} is not WIDTHxHEIGHT between 320 and 3840"))
}

fn parse_locale(text: &str) -> Result<Locale, String> {
    Locale::parse(text).ok_or_else(|| format!("{text:?}: the languages are de and en"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(dir) = &args.render_screens {
        return match praxiskiosk::daemon::render_screens(dir, &args.size, args.locale) {
            Ok(files) => {
                println!("{} screens written to {}", files.len(), dir.display());
                Exit::Ok.into()
            }
            Err(e) => {
                eprintln!("kioskd: cannot write screens to {}: {e}", dir.display());
                Exit::Io.into()
            }
        };
    }
    let Some(config) = args.config else {
        unreachable!("clap requires --config without --render-screens");
    };
    praxiskiosk::platform::logging::init("info");
    if args.import_bundle {
        return match praxiskiosk::daemon::import_bundle_from_file(&config) {
            Ok(()) => Exit::Ok.into(),
            Err(e) => {
                eprintln!("kioskd: {e}");
                e.exit().into()
            }
        };
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("kioskd: cannot start the async runtime: {e}");
            return Exit::Software.into();
        }
    };
    match runtime.block_on(praxiskiosk::daemon::run_from_file(
        &config,
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
