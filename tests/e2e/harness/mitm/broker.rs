//! The man in the middle's broker: a second Mosquitto that the doctor reaches instead of the
//! fleet's, made from the fleet's own broker directory (its server certificate and key, its CA,
//! its Dynamic Security file with the doctors' logins). Whoever runs the fleet's broker has all
//! of that; to the doctor's side it is the broker. The relay (`relay.rs`) joins the two.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::harness::{Fleet, free_port, wait_for};

#[derive(Debug)]
pub struct ForgedBroker {
    /// Its config, certificates, logins and log; removed when the broker is.
    _dir: tempfile::TempDir,
    pub device_port: u16,
    pub doctor_port: u16,
    child: Child,
}

impl ForgedBroker {
    /// A copy of `fleet`'s broker as it is now (after the appointment: its doctor login is in
    /// the copied Dynamic Security file), on ports of its own, without persistence.
    pub fn copy_of(fleet: &Fleet) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let from = fleet.broker_dir();
        for entry in std::fs::read_dir(&from).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
            }
        }
        let (device_port, doctor_port, websocket_port) = (free_port(), free_port(), free_port());
        let conf = dir.path().join("mosquitto.conf");
        let text = std::fs::read_to_string(&conf)
            .unwrap()
            .replace(from.to_str().unwrap(), dir.path().to_str().unwrap())
            .replace("persistence true", "persistence false")
            .lines()
            .map(|line| {
                let port = |p: u16| format!("listener {p} ");
                let moved = [
                    (fleet.device_port, device_port),
                    (fleet.doctor_port, doctor_port),
                    (fleet.websocket_port, websocket_port),
                ]
                .into_iter()
                .find(|(old, _)| line.starts_with(&port(*old)));
                match moved {
                    Some((old, new)) => line.replacen(&port(old), &port(new), 1),
                    None => line.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&conf, text).unwrap();
        let child = start(&conf, &dir.path().join("mosquitto.log"));
        for port in [device_port, doctor_port] {
            wait_for(
                "the forged broker to listen",
                Duration::from_secs(30),
                || {
                    TcpStream::connect(("127.0.0.1", port))
                        .is_ok()
                        .then_some(())
                },
            );
        }
        Self {
            _dir: dir,
            device_port,
            doctor_port,
            child,
        }
    }

    pub fn device_url(&self) -> String {
        format!("mqtts://127.0.0.1:{}", self.device_port)
    }

    pub fn doctor_url(&self) -> String {
        format!("mqtts://127.0.0.1:{}", self.doctor_port)
    }
}

fn start(conf: &Path, log: &Path) -> Child {
    Command::new("mosquitto")
        .arg("-c")
        .arg(conf)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("mosquitto is installed (make test installs it)")
}

impl Drop for ForgedBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
