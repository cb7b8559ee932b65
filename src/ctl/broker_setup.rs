//! `kioskctl broker config | sweep`: the fleet broker's Mosquitto configuration, generated from
//! the fleet CA, and the removal of doctor credentials whose appointment has ended.
//!
//! The generated broker has three listeners, all TLS 1.3 with the TR-02102-2 suites:
//! devices and the fleet manager log in with their certificate (mutual TLS, the certificate's
//! CN is the MQTT username, revoked certificates are refused by the CRL); doctors' apps and
//! doctors' browsers (WebSockets) log in with a per-session username and password. Who may do
//! what is decided by the Dynamic Security plugin (`fleet::dynsec`); nobody is anonymous.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use time::OffsetDateTime;

use super::Fleet;
use crate::fleet::dynsec;
use crate::fleet::pki::FleetCa;
use crate::platform::atomic_file::write_atomic;

#[derive(Debug, Subcommand)]
pub enum BrokerCmd {
    /// Write a Mosquitto configuration for the fleet broker into a directory.
    Config {
        /// Where the files are written.
        #[arg(long)]
        out: PathBuf,
        /// Where the files will be on the broker host (default: --out). Paths in
        /// mosquitto.conf point here.
        #[arg(long)]
        install_dir: Option<PathBuf>,
        /// The broker's host names or IP addresses as clients reach it (repeatable); they go
        /// into its server certificate.
        #[arg(long = "host", required = true)]
        hosts: Vec<String>,
        /// The address the listeners bind to.
        #[arg(long, default_value = "0.0.0.0")]
        bind: String,
        /// Devices and the fleet manager (mutual TLS).
        #[arg(long, default_value_t = 8883)]
        device_port: u16,
        /// Doctors' apps (TLS, session password).
        #[arg(long, default_value_t = 8884)]
        doctor_port: u16,
        /// Doctors' browsers (MQTT over secure WebSockets, session password).
        #[arg(long, default_value_t = 8443)]
        websocket_port: u16,
        /// Mosquitto's Dynamic Security plugin (default: where Debian installs it).
        #[arg(long)]
        plugin: Option<PathBuf>,
        /// Also write an nginx site (nginx-praxiskiosk.conf) that serves the doctor's page
        /// (web/doctor, built) from this directory on the broker host, and proxies its MQTT over
        /// WebSocket to the WebSocket listener: one HTTPS name and one port for the practice.
        #[arg(long)]
        web_root: Option<PathBuf>,
        /// The nginx site's port.
        #[arg(long, default_value_t = 443)]
        web_port: u16,
        /// Development only: Mosquitto serves the page itself from its WebSocket listener
        /// (no Content-Type, no HTTP/2). Use --web-root for doctors' real browsers.
        #[arg(long, hide = true)]
        http_dir: Option<PathBuf>,
    },
    /// Remove doctor credentials whose appointment has ended, and clear ended appointments
    /// (15 minutes after their end) and old revocations (after a day) from the broker. Run it
    /// from a timer next to the broker (every minute); `appointment create` and `revoke` also
    /// remove ended credentials.
    Sweep,
}

/// The largest packet a client may send. Protocol v1 payloads are at most 64 KiB; the kiosk
/// reads at most 1 MiB, so no retained message can ever break its connection.
const MAX_PACKET: usize = 128 * 1024;
pub(super) const TLS13_SUITES: &str = "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256";

/// The nginx site's file name beside mosquitto.conf.
pub(super) const WEB_SITE: &str = "nginx-praxiskiosk.conf";

pub async fn run(fleet: &Fleet, cmd: BrokerCmd) -> anyhow::Result<()> {
    match cmd {
        BrokerCmd::Config {
            out,
            install_dir,
            hosts,
            bind,
            device_port,
            doctor_port,
            websocket_port,
            plugin,
            web_root,
            web_port,
            http_dir,
        } => {
            let ports = Ports {
                device: device_port,
                doctor: doctor_port,
                websocket: websocket_port,
            };
            let plugin = plugin.unwrap_or_else(default_plugin);
            let listeners = Listeners {
                bind,
                ports,
                http_dir,
                web: web_root.map(|root| (root, web_port)),
            };
            write_config(
                fleet,
                &out,
                install_dir.as_deref(),
                &hosts,
                &listeners,
                &plugin,
            )
        }
        BrokerCmd::Sweep => {
            let mut session = fleet.session().await?;
            let removed = super::appointment::sweep_doctors(&mut session).await?;
            let now = time::OffsetDateTime::now_utc();
            let cleared =
                super::appointment::sweep_appointments(&mut session, &fleet.root, now).await?;
            session.disconnect().await;
            println!(
                "{removed} abgelaufene Arzt-Zugänge entfernt / expired doctor credentials removed"
            );
            println!(
                "{cleared} beendete Termine vom Broker gelöscht / ended appointments cleared from the broker"
            );
            Ok(())
        }
    }
}

#[derive(Debug)]
struct Listeners {
    bind: String,
    ports: Ports,
    http_dir: Option<PathBuf>,
    /// The nginx site's web root and port.
    web: Option<(PathBuf, u16)>,
}

#[derive(Debug, Clone, Copy)]
struct Ports {
    device: u16,
    doctor: u16,
    websocket: u16,
}

fn default_plugin() -> PathBuf {
    let multiarch = match std::env::consts::ARCH {
        "aarch64" => "aarch64-linux-gnu",
        "arm" => "arm-linux-gnueabihf",
        _ => "x86_64-linux-gnu",
    };
    PathBuf::from(format!(
        "/usr/lib/{multiarch}/mosquitto_dynamic_security.so"
    ))
}

fn write_file(dir: &Path, name: &str, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    write_atomic(&path, contents).with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot set the mode of {}", path.display()))
}

fn write_config(
    fleet: &Fleet,
    out: &Path,
    install_dir: Option<&Path>,
    hosts: &[String],
    listeners: &Listeners,
    plugin: &Path,
) -> anyhow::Result<()> {
    let mut ca = FleetCa::open(&fleet.ca_dir)?;
    let now = OffsetDateTime::now_utc();
    std::fs::create_dir_all(out.join("data"))
        .with_context(|| format!("cannot create {}", out.display()))?;
    let install = match install_dir {
        Some(dir) => dir.to_path_buf(),
        None => out
            .canonicalize()
            .with_context(|| format!("cannot resolve {}", out.display()))?,
    };
    let server = ca.issue_server(hosts, now)?;
    let devices: Vec<String> = ca
        .devices()
        .filter(|d| !d.is_revoked())
        .map(|d| d.id.clone())
        .collect();
    let dynsec_config = dynsec::initial_config(&fleet.root, &devices)?;

    write_file(out, "ca.pem", ca.ca_pem().as_bytes(), 0o644)?;
    write_file(out, "crl.pem", ca.crl_pem()?.as_bytes(), 0o644)?;
    write_file(out, "server.pem", server.cert_pem.as_bytes(), 0o644)?;
    // Mosquitto must read the key and write the plugin's file: `chown mosquitto` them.
    write_file(out, "server.key", server.key_pem.as_bytes(), 0o600)?;
    write_file(
        out,
        "dynamic-security.json",
        &serde_json::to_vec_pretty(&dynsec_config)?,
        0o600,
    )?;
    let conf = mosquitto_conf(&install, listeners, plugin);
    write_file(out, "mosquitto.conf", conf.as_bytes(), 0o644)?;
    println!(
        "Broker-Konfiguration geschrieben / broker configuration written: {}",
        out.join("mosquitto.conf").display()
    );
    if let Some((web_root, port)) = &listeners.web {
        let site = super::web_site::WebSite {
            tls_dir: &install,
            web_root,
            bind: &listeners.bind,
            port: *port,
            websocket_port: listeners.ports.websocket,
            hosts,
        };
        write_file(out, WEB_SITE, site.nginx_conf().as_bytes(), 0o644)?;
        let host = hosts.first().map_or("<host>", String::as_str);
        println!(
            "nginx-Site geschrieben / nginx site written: {} (page https://{host}:{port}/, \
             --doctor-broker wss://{host}:{port}/mqtt)",
            out.join(WEB_SITE).display()
        );
    }
    println!("  devices registered: {}", devices.len());
    println!("  make server.key and dynamic-security.json owned by the mosquitto user");
    println!(
        "  run `kioskctl broker sweep` every minute to end expired doctor credentials \
         (config/systemd/praxiskiosk-broker-sweep.timer does that on the broker host)"
    );
    Ok(())
}

fn mosquitto_conf(dir: &Path, listeners: &Listeners, plugin: &Path) -> String {
    let (bind, ports) = (&listeners.bind, listeners.ports);
    let d = dir.display();
    let tls = format!(
        "certfile {d}/server.pem\nkeyfile {d}/server.key\ntls_version tlsv1.3\nciphers_tls1.3 {TLS13_SUITES}\n"
    );
    let mut c = String::new();
    let _ = write!(
        c,
        "# praxiskiosk fleet broker, generated by `kioskctl broker config`. Protocol v1.\n\
         # Nobody is anonymous; the Dynamic Security plugin decides who may do what.\n\
         per_listener_settings false\n\
         allow_anonymous false\n\
         plugin {plugin}\n\
         plugin_opt_config_file {d}/dynamic-security.json\n\
         # Appointments are retained messages: they must survive a broker restart.\n\
         persistence true\n\
         persistence_location {d}/data/\n\
         # Written every minute, not every 30 (the default): an appointment `broker sweep`\n\
         # cleared leaves the persistence file within a minute too.\n\
         autosave_interval 60\n\
         max_packet_size {MAX_PACKET}\n\
         # Signalling is small messages that must go at once: no Nagle delay (its default),\n\
         # which with delayed ACKs held an offer or an answer back by up to 40 ms.\n\
         set_tcp_nodelay true\n\
         # No metadata in logs beyond what operating the broker needs.\n\
         connection_messages true\n\
         log_type error\nlog_type warning\nlog_type notice\n\n\
         # Kiosks and the fleet manager: mutual TLS. The certificate's CN is the username;\n\
         # revoked certificates are refused (kioskctl device revoke rewrites crl.pem, then\n\
         # restart or reload the broker).\n\
         listener {device} {bind}\n\
         cafile {d}/ca.pem\n\
         crlfile {d}/crl.pem\n\
         require_certificate true\n\
         use_identity_as_username true\n\
         {tls}\n\
         # Doctors' apps: TLS, one username and password per session. The login is the client\n\
         # id: a doctor cannot take over (and disconnect) anyone else's connection by its id.\n\
         listener {doctor} {bind}\n\
         use_username_as_clientid true\n\
         {tls}\n\
         # Doctors' browsers: MQTT over secure WebSockets, one username and password per session.\n\
         # Browsers trust public CAs only: replace certfile/keyfile here with a certificate for\n\
         # the host name in the doctors' join links.\n\
         listener {websocket} {bind}\n\
                  protocol websockets\n\
         use_username_as_clientid true\n\
         {tls}{http}",
        http = match &listeners.http_dir {
            Some(dir) => format!(
                "# The doctor's page, from the same origin as the broker.\nhttp_dir {}\n",
                dir.display()
            ),
            None => String::new(),
        },
        plugin = plugin.display(),
        device = ports.device,
        doctor = ports.doctor,
        websocket = ports.websocket,
    );
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_device_listener_demands_certificates_and_checks_the_crl() {
        let listeners = Listeners {
            bind: "127.0.0.1".into(),
            ports: Ports {
                device: 1,
                doctor: 2,
                websocket: 3,
            },
            http_dir: Some("/srv/doctor".into()),
            web: None,
        };
        let conf = mosquitto_conf(
            Path::new("/etc/mosquitto/praxiskiosk"),
            &listeners,
            Path::new("/usr/lib/dynsec.so"),
        );
        let device = conf.split("listener 1 ").nth(1).unwrap();
        let device = device.split("listener 2 ").next().unwrap();
        for line in [
            "require_certificate true",
            "use_identity_as_username true",
            "crlfile /etc/mosquitto/praxiskiosk/crl.pem",
            "tls_version tlsv1.3",
        ] {
            assert!(device.contains(line), "{line} missing in\n{device}");
        }
        assert!(conf.contains("allow_anonymous false"));
        assert!(conf.contains("listener 3 127.0.0.1\nprotocol websockets"));
        assert!(conf.ends_with("http_dir /srv/doctor\n"), "{conf}");
        let certs = conf.lines().filter(|l| l.starts_with("certfile ")).count();
        assert_eq!(certs, 3, "every listener is TLS");
    }
}
