//! Logging for both binaries: to stderr (journald picks it up under systemd), colours only on a
//! terminal, level from `RUST_LOG` or the binary's default.

use std::io::IsTerminal;

pub fn init(default_filter: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_filter.into()),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}
