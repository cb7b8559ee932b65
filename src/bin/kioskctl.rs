//! kioskctl — the fleet manager's tool. Parses arguments and runs the command.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = praxiskiosk::ctl::Cli::parse();
    praxiskiosk::platform::logging::init("warn");
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("kioskctl: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(praxiskiosk::ctl::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kioskctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}
