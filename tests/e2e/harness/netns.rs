//! A network namespace that holds only loopback, for a peer that cannot be pinned to 127.0.0.1:
//! Chromium gathers ICE candidates on every interface it sees, so it and everything it talks to
//! (broker, kioskd) run in here, where 127.0.0.1 is all there is.
//!
//! One `unshare --net` process holds the namespace; every process of the test joins it with
//! `nsenter`. Files and Unix sockets (kioskd's control socket) are shared with the test.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::wait_for;

#[derive(Debug)]
pub struct NetNs {
    holder: Child,
}

impl NetNs {
    pub fn new() -> Self {
        let holder = Command::new("unshare")
            .args([
                "--net",
                "--",
                "sh",
                "-c",
                "ip link set lo up && exec sleep 3600",
            ])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare (util-linux) runs; the browser tests need root for it");
        let ns = Self { holder };
        wait_for("the namespace's loopback", Duration::from_secs(10), || {
            let out = ns
                .command("ip")
                .args(["-o", "link", "show", "lo"])
                .output()
                .ok()?;
            let ours = std::fs::read_link("/proc/self/ns/net").ok()?;
            let theirs = std::fs::read_link(ns.path()).ok()?;
            (ours != theirs && String::from_utf8_lossy(&out.stdout).contains("UP")).then_some(())
        });
        ns
    }

    fn path(&self) -> String {
        format!("/proc/{}/ns/net", self.holder.id())
    }

    /// `program` to be run inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--net={}", self.path()))
            .arg("--")
            .arg(program);
        command
    }

    /// Whether something listens on `port` inside the namespace.
    pub fn listening(&self, port: u16) -> bool {
        self.command("bash")
            .args(["-c", &format!("exec 3<>/dev/tcp/127.0.0.1/{port}")])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}
