//! A network namespace of the test's own. Two kinds:
//! - [`NetNs::new`]: one that holds only loopback, for a peer that cannot be pinned to
//!   127.0.0.1: Chromium gathers ICE candidates on every interface it sees, so it and everything
//!   it talks to (broker, kioskd) run in here, where 127.0.0.1 is all there is. One
//!   `unshare --net` process holds it.
//! - [`NetNs::named`]: an `ip netns` namespace, a host of the field network (`field.rs`), which
//!   the test wires to others with veth pairs.
//!
//! Every process of the test joins one with `nsenter`. Files and Unix sockets (kioskd's control
//! socket) are shared with the test.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::wait_for;

#[derive(Debug)]
enum Holder {
    Process(Child),
    Named(String),
}

#[derive(Debug)]
pub struct NetNs {
    holder: Holder,
}

/// Runs `command`, panicking with its output if it fails: the test network must be exactly
/// what the test built, or the test means nothing.
pub fn run(command: &mut Command) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?} does not run: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
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
        let ns = Self {
            holder: Holder::Process(holder),
        };
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

    /// A new `ip netns` namespace called `name` (unique on this machine), loopback up. A
    /// namespace of that name left over by a killed test run is replaced.
    pub fn named(name: &str) -> Self {
        let _ = Command::new("ip")
            .args(["netns", "del", name])
            .stderr(Stdio::null())
            .status();
        run(Command::new("ip").args(["netns", "add", name]));
        let ns = Self {
            holder: Holder::Named(name.into()),
        };
        run(ns.command("ip").args(["link", "set", "lo", "up"]));
        ns
    }

    /// The name `ip -n` takes; only for [`NetNs::named`] ones.
    pub fn name(&self) -> &str {
        match &self.holder {
            Holder::Named(name) => name,
            Holder::Process(_) => panic!("an unshare namespace has no name"),
        }
    }

    fn path(&self) -> String {
        match &self.holder {
            Holder::Process(child) => format!("/proc/{}/ns/net", child.id()),
            Holder::Named(name) => format!("/run/netns/{name}"),
        }
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

    /// Runs a command inside the namespace (see [`run`]).
    /// Firefox finds no ICE candidate at all in a namespace without a default route. This gives
    /// it one, on loopback, and rejects every destination that is not loopback, so nothing it
    /// tries in the background leaves the namespace (there is nowhere to go anyway).
    pub fn default_route_on_loopback(&self) {
        self.run(
            "ip",
            &["route", "add", "default", "dev", "lo", "src", "127.0.0.1"],
        );
        self.run(
            "nft",
            &[
                "add table inet praxiskiosk_loopback_only; \
                 add chain inet praxiskiosk_loopback_only out { type filter hook output priority 0; policy accept; }; \
                 add rule inet praxiskiosk_loopback_only out oifname != \"lo\" reject; \
                 add rule inet praxiskiosk_loopback_only out ip daddr != 127.0.0.0/8 reject; \
                 add rule inet praxiskiosk_loopback_only out ip6 daddr != ::1 reject",
            ],
        );
    }

    /// Rejects every packet this namespace sends to an address outside `nets` (IPv4 prefixes
    /// the test made, loopback always) and every IPv6 packet but to `::1`: a browser's own
    /// background lookups (Firefox's) then fail here instead of leaving for any other host.
    pub fn only_to(&self, nets: &[&str]) {
        let allowed = ["127.0.0.0/8"]
            .iter()
            .chain(nets)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        self.run(
            "nft",
            &[&format!(
                "add table inet praxiskiosk_only_to; \
                 add chain inet praxiskiosk_only_to out {{ type filter hook output priority 0; policy accept; }}; \
                 add rule inet praxiskiosk_only_to out ip daddr != {{ {allowed} }} reject; \
                 add rule inet praxiskiosk_only_to out ip6 daddr != ::1 reject"
            )],
        );
    }

    pub fn run(&self, program: &str, args: &[&str]) {
        run(self.command(program).args(args));
    }

    /// Whether something listens on `host:port` inside the namespace.
    pub fn listening_at(&self, host: &str, port: u16) -> bool {
        self.command("bash")
            .args(["-c", &format!("exec 3<>/dev/tcp/{host}/{port}")])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Whether something listens on 127.0.0.1:`port` inside the namespace.
    pub fn listening(&self, port: u16) -> bool {
        self.listening_at("127.0.0.1", port)
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        match &mut self.holder {
            Holder::Process(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Holder::Named(name) => {
                let _ = Command::new("ip").args(["netns", "del", name]).status();
            }
        }
    }
}
