//! A small internet of network namespaces, as the field has it: the kiosk in a care home's LAN
//! behind a router with NAT, the doctor in a practice's LAN behind another, and between them an
//! "internet" that holds the fleet's broker (TLS, as in the field) and a STUN/TURN server
//! (coturn). Routers drop what they do not expect, silently, as home routers do.
//!
//! ```text
//!  kiosk 10.1.0.2 ──lan── router K ──wan 198.18.1.2 ─┐
//!                          (NAT)                      inet: 198.18.0.10 broker, coturn
//!  doctor 10.2.0.2 ──lan── router D ──wan 198.18.2.2 ─┘
//! ```
//!
//! Every address exists only inside these namespaces: 10.x for the LANs, 198.18.0.0/15 (set
//! aside for network tests, RFC 2544) for the internet. Nothing here reaches any other host.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::netns::{NetNs, run};
use super::wait_for;

/// Every address of the field's network: the LANs and the "internet" (see above).
pub const FIELD_NETS: [&str; 2] = ["10.0.0.0/8", "198.18.0.0/15"];

/// Where the fleet's services (broker, STUN/TURN) live.
pub const SERVICES: &str = "198.18.0.10";
pub const STUN_PORT: u16 = 3478;
/// The TURN login the tests' coturn knows.
pub const TURN_USER: &str = "kiosk";
pub const TURN_PASSWORD: &str = "relay-test";

/// How a router maps and filters (RFC 4787).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nat {
    /// Endpoint-independent mapping and filtering ("full cone"): the mapped port takes packets
    /// from anyone, as a router with the LAN host as "exposed host" does.
    FullCone,
    /// Endpoint-independent mapping, address-and-port-dependent filtering ("port-restricted
    /// cone"): Linux masquerade, and most home routers.
    PortRestricted,
    /// A new mapping for every destination, on a random port ("symmetric"): carrier-grade NAT,
    /// some corporate firewalls. STUN cannot help here; only a relay can.
    Symmetric,
}

impl Nat {
    pub fn name(self) -> &'static str {
        match self {
            Self::FullCone => "full-cone",
            Self::PortRestricted => "port-restricted",
            Self::Symmetric => "symmetric",
        }
    }
}

/// One side's LAN and router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Kiosk,
    Doctor,
}

impl Side {
    fn subnet(self) -> u8 {
        match self {
            Self::Kiosk => 1,
            Self::Doctor => 2,
        }
    }

    /// The LAN host's address.
    pub fn host(self) -> String {
        format!("10.{}.0.2", self.subnet())
    }
}

#[derive(Debug)]
pub struct FieldNet {
    pub inet: Arc<NetNs>,
    pub kiosk: Arc<NetNs>,
    pub doctor: Arc<NetNs>,
    kiosk_router: NetNs,
    doctor_router: NetNs,
    coturn: Option<Child>,
    log_dir: std::path::PathBuf,
}

fn unique_prefix() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "pkf{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A veth pair between two namespaces, named `a_if` in `a` and `b_if` in `b`.
fn wire(a: &NetNs, a_if: &str, b: &NetNs, b_if: &str) {
    run(Command::new("ip").args([
        "link",
        "add",
        a_if,
        "netns",
        a.name(),
        "type",
        "veth",
        "peer",
        "name",
        b_if,
        "netns",
        b.name(),
    ]));
}

impl FieldNet {
    /// Builds the network, both routers doing `nat`. Logs (coturn's) go to `log_dir`.
    pub fn new(nat: Nat, log_dir: &std::path::Path) -> Self {
        let prefix = unique_prefix();
        let ns = |role: &str| NetNs::named(&format!("{prefix}-{role}"));
        let net = Self {
            inet: Arc::new(ns("inet")),
            kiosk: Arc::new(ns("kiosk")),
            doctor: Arc::new(ns("doctor")),
            kiosk_router: ns("rk"),
            doctor_router: ns("rd"),
            coturn: None,
            log_dir: log_dir.to_path_buf(),
        };
        net.inet.run(
            "ip",
            &["addr", "add", &format!("{SERVICES}/32"), "dev", "lo"],
        );
        // The internet carries packets between the two routers.
        net.inet.run("sysctl", &["-qw", "net.ipv4.ip_forward=1"]);
        // What it has no route for (a LAN's private address) vanishes without an error, as on
        // the real internet. Without this, coturn's send to a peer's host candidate fails with
        // ENETUNREACH and coturn closes the whole allocation: no relayed call could connect.
        // (A veth pair with both ends here and a gateway that answers no one: frames leave and
        // are dropped at the other end as not addressed to it. No `dummy` module needed.)
        let inet = |args: &[&str]| net.inet.run("ip", args);
        inet(&[
            "link", "add", "void", "type", "veth", "peer", "name", "void-end",
        ]);
        inet(&["link", "set", "void", "up"]);
        inet(&["link", "set", "void-end", "up"]);
        inet(&[
            "neigh",
            "add",
            "192.0.2.1",
            "lladdr",
            "02:00:00:00:00:01",
            "dev",
            "void",
            "nud",
            "permanent",
        ]);
        inet(&[
            "route",
            "add",
            "default",
            "via",
            "192.0.2.1",
            "dev",
            "void",
            "onlink",
        ]);
        for side in [Side::Kiosk, Side::Doctor] {
            let n = side.subnet();
            let (router, host) = (net.router(side), net.host(side));
            wire(router, "wan", &net.inet, &format!("to{n}"));
            wire(router, "lan", host, "eth0");
            net.inet.run(
                "ip",
                &[
                    "addr",
                    "add",
                    &format!("198.18.{n}.1/24"),
                    "dev",
                    &format!("to{n}"),
                ],
            );
            net.inet
                .run("ip", &["link", "set", &format!("to{n}"), "up"]);
            router.run(
                "ip",
                &["addr", "add", &format!("198.18.{n}.2/24"), "dev", "wan"],
            );
            router.run(
                "ip",
                &["addr", "add", &format!("10.{n}.0.1/24"), "dev", "lan"],
            );
            router.run("ip", &["link", "set", "wan", "up"]);
            router.run("ip", &["link", "set", "lan", "up"]);
            router.run(
                "ip",
                &["route", "add", "default", "via", &format!("198.18.{n}.1")],
            );
            router.run("sysctl", &["-qw", "net.ipv4.ip_forward=1"]);
            host.run(
                "ip",
                &["addr", "add", &format!("{}/24", side.host()), "dev", "eth0"],
            );
            host.run("ip", &["link", "set", "eth0", "up"]);
            host.run(
                "ip",
                &["route", "add", "default", "via", &format!("10.{n}.0.1")],
            );
            net.set_nat(side, nat);
        }
        net
    }

    fn router(&self, side: Side) -> &NetNs {
        match side {
            Side::Kiosk => &self.kiosk_router,
            Side::Doctor => &self.doctor_router,
        }
    }

    fn host(&self, side: Side) -> &NetNs {
        match side {
            Side::Kiosk => &self.kiosk,
            Side::Doctor => &self.doctor,
        }
    }

    /// Loads `ruleset` (nft syntax) into the side's router.
    fn nft(&self, side: Side, ruleset: &str) {
        let mut child = self
            .router(side)
            .command("nft")
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nft (nftables) runs; make test installs it");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(ruleset.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "nft refused:\n{ruleset}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Makes the side's router do `nat` from now on (flows it already tracks keep theirs).
    pub fn set_nat(&self, side: Side, nat: Nat) {
        let host = side.host();
        let mapping = match nat {
            Nat::Symmetric => "masquerade random",
            Nat::FullCone | Nat::PortRestricted => "masquerade persistent",
        };
        // Full cone: whatever reaches the router's WAN address on a UDP port goes to the host.
        let exposed = match nat {
            Nat::FullCone => format!("iifname \"wan\" meta l4proto udp dnat to {host}"),
            _ => String::new(),
        };
        self.nft(
            side,
            &format!(
                "add table ip nat\ndelete table ip nat\n\
                 table ip nat {{\n\
                   chain prerouting {{\n type nat hook prerouting priority dstnat;\n {exposed}\n }}\n\
                   chain postrouting {{\n type nat hook postrouting priority srcnat;\n oifname \"wan\" {mapping}\n }}\n\
                 }}\n\
                 add table inet filter\ndelete table inet filter\n\
                 table inet filter {{\n\
                   chain forward {{\n type filter hook forward priority filter; policy drop;\n\
                     ct state established,related accept\n\
                     iifname \"lan\" accept\n\
                     ct status dnat accept\n\
                   }}\n\
                   chain input {{\n type filter hook input priority filter; policy accept;\n\
                     iifname \"wan\" ct state established,related accept\n\
                     iifname \"wan\" drop\n\
                   }}\n\
                 }}\n"
            ),
        );
    }

    /// Cuts the side's uplink: the router drops everything it would forward, silently, as an
    /// upstream outage does. `restore` ends it.
    pub fn cut(&self, side: Side) {
        self.nft(
            side,
            "add table inet cut\ndelete table inet cut\n\
             table inet cut {\n chain forward {\n type filter hook forward priority -10;\n drop\n }\n }\n",
        );
    }

    pub fn restore(&self, side: Side) {
        self.nft(side, "add table inet cut\ndelete table inet cut\n");
    }

    /// Drops `percent` of the packets the side's router forwards, both ways, at random.
    pub fn loss(&self, side: Side, percent: u32) {
        self.nft(
            side,
            &format!(
                "add table inet loss\ndelete table inet loss\n\
                 table inet loss {{\n chain forward {{\n type filter hook forward priority -20;\n numgen random mod 100 < {percent} drop\n }}\n }}\n"
            ),
        );
    }

    pub fn no_loss(&self, side: Side) {
        self.nft(side, "add table inet loss\ndelete table inet loss\n");
    }

    /// Limits the side's uplink to `kbit` kbit/s each way (a token bucket on both router ports).
    pub fn throttle(&self, side: Side, kbit: u32) {
        for dev in ["wan", "lan"] {
            let _ = self
                .router(side)
                .command("tc")
                .args(["qdisc", "del", "dev", dev, "root"])
                .stderr(Stdio::null())
                .status();
            self.router(side).run(
                "tc",
                &[
                    "qdisc",
                    "add",
                    "dev",
                    dev,
                    "root",
                    "tbf",
                    "rate",
                    &format!("{kbit}kbit"),
                    "burst",
                    "16kb",
                    "latency",
                    "100ms",
                ],
            );
        }
    }

    pub fn unthrottle(&self, side: Side) {
        for dev in ["wan", "lan"] {
            self.router(side)
                .run("tc", &["qdisc", "del", "dev", dev, "root"]);
        }
    }

    /// The kiosk gets a new address on its LAN, as after a Wi-Fi reconnect with a new DHCP
    /// lease: the old one is gone.
    pub fn readdress_kiosk(&self) -> String {
        let new = "10.1.0.3";
        let host = &self.kiosk;
        // Old one first: deleting a primary address takes the secondaries with it.
        let old = format!("{}/24", Side::Kiosk.host());
        host.run("ip", &["addr", "del", &old, "dev", "eth0"]);
        host.run("ip", &["addr", "add", &format!("{new}/24"), "dev", "eth0"]);
        // Its routes went with the old address.
        host.run("ip", &["route", "replace", "default", "via", "10.1.0.1"]);
        new.into()
    }

    /// Starts coturn in the internet: STUN always; TURN (long-term credentials, UDP) with
    /// `relay`.
    pub fn start_coturn(&mut self, relay: bool) {
        let log = self.log_dir.join("coturn.log");
        let _ = std::fs::remove_file(&log);
        // Not Debian's /etc/turnserver.conf: its `no-stun-backward-compatibility` leaves
        // libnice 0.1.21's discovery (RFC 3489 form) unanswered, so no kiosk would find its
        // address outside the NAT. The fleet's coturn must answer it too (docs/deployment.md).
        let config = self.log_dir.join("turnserver.conf");
        std::fs::write(&config, "").unwrap();
        let mut command = self.inet.command("turnserver");
        command.arg("-c").arg(&config).args([
            "--listening-ip",
            SERVICES,
            "--listening-port",
            &STUN_PORT.to_string(),
            "--relay-ip",
            SERVICES,
            "--min-port",
            "49152",
            "--max-port",
            "49999",
            "--realm",
            "praxiskiosk.test",
            "--no-tls",
            "--no-dtls",
            "--no-tcp",
            "--no-cli",
            "--log-file",
            log.to_str().unwrap(),
            "--simple-log",
            "--no-stdout-log",
            "--verbose",
            "--pidfile",
            self.log_dir.join("turnserver.pid").to_str().unwrap(),
            // As a fleet's relay should be: no peers in private networks, so nobody can reach
            // the relay's own LAN through it (README). The test's internet (198.18.0.0/15,
            // for benchmarks) coturn would refuse by default.
            "--denied-peer-ip",
            "10.0.0.0-10.255.255.255",
            "--denied-peer-ip",
            "172.16.0.0-172.31.255.255",
            "--denied-peer-ip",
            "192.168.0.0-192.168.255.255",
            "--allowed-peer-ip",
            "198.18.0.0-198.19.255.255",
        ]);
        if relay {
            command.args([
                "--lt-cred-mech",
                "--user",
                &format!("{TURN_USER}:{TURN_PASSWORD}"),
            ]);
        } else {
            command.arg("--stun-only");
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("coturn runs; make test installs it");
        self.coturn = Some(child);
        wait_for("coturn to answer STUN", Duration::from_secs(10), || {
            self.stun_from(&self.inet).ok()
        });
        // Both LANs reach it through their NATs, and see their router's address.
        for side in [Side::Kiosk, Side::Doctor] {
            let seen = self
                .stun_from(self.host(side))
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(
                seen.contains(&format!("198.18.{}.2", side.subnet())),
                "{side:?} is seen through its NAT: {seen}"
            );
        }
    }

    /// Asks coturn from `host` which address it sees; the client's output, or why it failed.
    fn stun_from(&self, host: &NetNs) -> Result<String, String> {
        // The client waits for ever for an answer that was lost, so it gets two seconds.
        let out = host
            .command("timeout")
            .args([
                "2",
                "turnutils_stunclient",
                "-p",
                &STUN_PORT.to_string(),
                SERVICES,
            ])
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(text)
        } else {
            Err(format!(
                "no STUN answer: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }
}

impl Drop for FieldNet {
    fn drop(&mut self) {
        if let Some(mut child) = self.coturn.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
