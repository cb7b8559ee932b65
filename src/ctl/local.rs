//! `kioskctl local`: talks to a kiosk's control socket on the same machine (service technicians,
//! the demo). Prints the kiosk's JSON reply; exits non-zero when the kiosk refused.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::wire::{ControlReply, ControlRequest};

#[derive(Debug, Args)]
pub struct LocalArgs {
    /// The control socket named in kioskd's config.
    #[arg(long)]
    socket: PathBuf,
    #[command(subcommand)]
    request: LocalCmd,
}

#[derive(Debug, Subcommand)]
enum LocalCmd {
    /// The kiosk's state.
    Status,
    /// Enter an 8-digit appointment code.
    EnterCode { code: String },
    /// Confirm the patient's name and give consent.
    Accept {
        #[arg(long)]
        name: Option<String>,
    },
    /// End the call, or leave the waiting room.
    HangUp,
    /// Back to idle from any screen but a running call.
    Cancel,
    /// Statistics of the running (or last) call.
    Stats,
}

pub fn run(args: LocalArgs) -> anyhow::Result<()> {
    let request = match args.request {
        LocalCmd::Status => ControlRequest::Status,
        LocalCmd::EnterCode { code } => ControlRequest::EnterCode { code },
        LocalCmd::Accept { name } => ControlRequest::Accept { name },
        LocalCmd::HangUp => ControlRequest::HangUp,
        LocalCmd::Cancel => ControlRequest::Cancel,
        LocalCmd::Stats => ControlRequest::Stats,
    };
    let mut stream = UnixStream::connect(&args.socket).map_err(|e| {
        anyhow::anyhow!(
            "Steuer-Socket {0} nicht erreichbar (läuft kioskd mit control_socket?) / control socket {0}: {e} (is kioskd running with control_socket set?)",
            args.socket.display()
        )
    })?;
    let mut line = serde_json::to_vec(&request)?;
    line.push(b'\n');
    stream.write_all(&line)?;
    let mut reply = String::new();
    BufReader::new(&stream).read_line(&mut reply)?;
    println!("{}", reply.trim_end());
    let parsed: ControlReply = serde_json::from_str(&reply)?;
    if parsed.ok {
        Ok(())
    } else {
        // The kiosk's refusal as it says it: German (its `message`) and English.
        let said: Vec<String> = [parsed.message, parsed.message_en]
            .into_iter()
            .flatten()
            .collect();
        anyhow::bail!("{}", said.join(" / "))
    }
}
