//! A real Mosquitto on a free loopback port, with its own config in a temp dir.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{free_port, wait_for};

#[derive(Debug)]
pub struct Mosquitto {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// A broker inside `ns`.
    pub fn start_in(ns: &super::NetNs) -> Self {
        Self::launch(free_port(), ns.command("mosquitto"), |port| {
            ns.listening(port)
        })
    }

    pub fn start_on(port: u16) -> Self {
        Self::launch(port, Command::new("mosquitto"), |port| {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        })
    }

    fn launch(port: u16, mut command: Command, listening: impl Fn(u16) -> bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\nlog_dest stderr\n"),
        )
        .unwrap();
        let child = command
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto is installed (make test installs it)");
        let broker = Self {
            port,
            child,
            _dir: dir,
        };
        wait_for("mosquitto to listen", Duration::from_secs(10), || {
            listening(port).then_some(())
        });
        broker
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
