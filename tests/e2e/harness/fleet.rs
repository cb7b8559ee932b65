//! A fleet as the fleet manager sets it up: a CA made by `kioskctl ca init`, kiosks enrolled with
//! `kioskctl device enroll`, and a real Mosquitto running the configuration that
//! `kioskctl broker config` wrote — mutual TLS, the CRL, and the Dynamic Security plugin. With a
//! web root, also a real nginx running the site it wrote: the doctor's page and its MQTT over
//! WebSocket on one HTTPS origin.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use praxiskiosk::fleet::broker::{BrokerUrl, Endpoint, Login};
use praxiskiosk::fleet::tls::{ClientIdentity, TlsMaterial};
use rumqttc::MqttOptions;

use super::{NetNs, free_port, wait_for};

#[derive(Debug)]
pub struct Fleet {
    pub dir: tempfile::TempDir,
    pub device_port: u16,
    pub doctor_port: u16,
    pub websocket_port: u16,
    /// nginx's port (the doctor's page and `/mqtt`), when the fleet has a web root.
    pub web_port: u16,
    /// The broker's address: 127.0.0.1, or the field network's internet.
    pub host: String,
    broker: Option<Child>,
    nginx: Option<Child>,
    /// Where the broker and every kioskctl run, if not in the test's own network.
    ns: Option<Arc<NetNs>>,
}

impl Fleet {
    /// A CA, and a broker configured for it with `devices` already enrolled.
    pub fn start(devices: &[&str]) -> Self {
        Self::start_in(devices, None, None)
    }

    /// The same inside `ns`, nginx serving the doctor's page from `web_root`.
    pub fn start_in(devices: &[&str], ns: Option<Arc<NetNs>>, web_root: Option<&Path>) -> Self {
        Self::start_at(devices, ns, web_root, "127.0.0.1")
    }

    /// The same, the broker listening on `host` (an address of `ns`).
    pub fn start_at(
        devices: &[&str],
        ns: Option<Arc<NetNs>>,
        web_root: Option<&Path>,
        host: &str,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut fleet = Self {
            dir,
            device_port: free_port(),
            doctor_port: free_port(),
            websocket_port: free_port(),
            web_port: free_port(),
            host: host.into(),
            broker: None,
            nginx: None,
            ns,
        };
        fleet.ok(&["ca", "init", "Testpraxis"]);
        for device in devices {
            fleet.enroll(device);
        }
        let broker_dir = fleet.broker_dir().to_str().unwrap().to_string();
        let ports = [
            fleet.device_port,
            fleet.doctor_port,
            fleet.websocket_port,
            fleet.web_port,
        ]
        .map(|p| p.to_string());
        let mut args = vec![
            "broker",
            "config",
            "--out",
            &broker_dir,
            "--host",
            host,
            "--bind",
            host,
            "--device-port",
            &ports[0],
            "--doctor-port",
            &ports[1],
            "--websocket-port",
            &ports[2],
        ];
        if let Some(root) = web_root {
            args.extend([
                "--web-root",
                root.to_str().unwrap(),
                "--web-port",
                &ports[3],
            ]);
        }
        fleet.ok(&args);
        // The test runs as root; Mosquitto would otherwise switch to its own user, which cannot
        // read the 0600 files of this temporary directory.
        let conf = fleet.broker_dir().join("mosquitto.conf");
        let mut text = std::fs::read_to_string(&conf).unwrap();
        text.insert_str(0, "user root\nlog_dest stderr\n");
        std::fs::write(&conf, text).unwrap();
        fleet.start_broker();
        if web_root.is_some() {
            fleet.start_nginx();
        }
        fleet
    }

    /// nginx with the site `broker config --web-root` wrote, in a main configuration of the
    /// test's own (pid, logs and temporary files in the fleet's directory; nothing of the host's
    /// nginx is touched).
    fn start_nginx(&mut self) {
        let dir = self.dir.path().join("nginx");
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        let d = dir.display();
        let site = self.broker_dir().join("nginx-praxiskiosk.conf");
        let conf = format!(
            "user root;\ndaemon off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log info;\nevents {{ worker_connections 64; }}\n\
             http {{\n  include /etc/nginx/mime.types;\n  default_type application/octet-stream;\n\
             client_body_temp_path {d}/tmp/body;\n  proxy_temp_path {d}/tmp/proxy;\n\
             fastcgi_temp_path {d}/tmp/fastcgi;\n  uwsgi_temp_path {d}/tmp/uwsgi;\n\
             scgi_temp_path {d}/tmp/scgi;\n  include {site};\n}}\n",
            site = site.display()
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let child = self
            .command("nginx")
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx is installed (make test installs it)");
        self.nginx = Some(child);
        self.wait_listening("nginx", self.web_port);
    }

    /// nginx's error log (its access log is off by design).
    #[allow(dead_code)]
    pub fn web_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("nginx/error.log")).unwrap_or_default()
    }

    /// The doctor's page as the practice's web server serves it.
    pub fn page_url(&self) -> String {
        format!("https://{}:{}/", self.host, self.web_port)
    }

    /// The page's MQTT over WebSocket, through the web server.
    pub fn page_broker_url(&self) -> String {
        format!("wss://{}:{}/mqtt", self.host, self.web_port)
    }

    pub fn ca_dir(&self) -> PathBuf {
        self.dir.path().join("ca")
    }

    pub fn broker_dir(&self) -> PathBuf {
        self.dir.path().join("broker")
    }

    pub fn bundle(&self, device: &str) -> PathBuf {
        self.dir.path().join(format!("{device}.bundle.json"))
    }

    /// Enrols a kiosk offline (before the broker runs); its bundle lands in [`Fleet::bundle`].
    pub fn enroll(&self, device: &str) {
        let bundle = self.bundle(device);
        let _ = std::fs::remove_file(&bundle);
        self.ok(&[
            "device",
            "enroll",
            device,
            "--offline",
            "--room",
            "Raum 1",
            "--out",
            bundle.to_str().unwrap(),
        ]);
    }

    pub fn start_broker(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("mosquitto.log")).unwrap();
        let child = self
            .command("mosquitto")
            .arg("-c")
            .arg(self.broker_dir().join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("mosquitto is installed (make test installs it)");
        self.broker = Some(child);
        for port in [self.device_port, self.doctor_port] {
            self.wait_listening("the TLS broker", port);
        }
    }

    /// Panics with the broker's log if it has exited: a test must say why its broker is gone.
    fn broker_alive(&mut self) {
        if let Some(child) = self.broker.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            let log = std::fs::read_to_string(self.dir.path().join("mosquitto.log"));
            panic!(
                "the test broker exited ({status}):\n{}",
                log.unwrap_or_default()
            );
        }
    }

    /// Waits until something listens on `port` of the fleet's host (seconds under a loaded
    /// make test: it once took more than 10).
    fn wait_listening(&mut self, what: &str, port: u16) {
        wait_for(
            &format!("{what} to listen"),
            Duration::from_secs(30),
            || {
                self.broker_alive();
                let up = match &self.ns {
                    Some(ns) => ns.listening_at(&self.host, port),
                    None => TcpStream::connect((self.host.as_str(), port)).is_ok(),
                };
                up.then_some(())
            },
        );
    }

    /// Stops the broker cleanly (SIGTERM: Mosquitto writes its persistence file first).
    #[allow(dead_code)] // Only the privacy tests read the persistence file.
    pub fn stop_broker(&mut self) {
        let mut child = self.broker.take().expect("the broker runs");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        wait_for("the broker to stop", Duration::from_secs(15), || {
            child.try_wait().unwrap()
        });
    }

    /// `program`, in the fleet's network namespace if it has one.
    pub fn command(&self, program: &str) -> Command {
        match &self.ns {
            Some(ns) => ns.command(program),
            None => Command::new(program),
        }
    }

    /// Asks the broker to reload its configuration (SIGHUP), as `systemctl reload` would: it
    /// reads the CRL again.
    pub fn reload_broker(&self) {
        let pid = self.broker.as_ref().expect("the broker runs").id();
        let status = Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status();
        assert!(status.is_ok_and(|s| s.success()), "SIGHUP to mosquitto");
    }

    pub fn broker_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }

    pub fn device_url(&self) -> String {
        format!("mqtts://{}:{}", self.host, self.device_port)
    }

    /// The doctor listener, as a doctor's `kioskctl --broker` names it.
    pub fn doctor_url(&self) -> String {
        format!("mqtts://{}:{}", self.host, self.doctor_port)
    }

    /// kioskctl as the fleet manager: its certificate, the device listener.
    pub fn kioskctl(&self, args: &[&str]) -> Output {
        self.kioskctl_at(&self.device_url(), args)
    }

    pub fn kioskctl_at(&self, broker: &str, args: &[&str]) -> Output {
        self.command(env!("CARGO_BIN_EXE_kioskctl"))
            .arg("--broker")
            .arg(broker)
            .arg("--ca-dir")
            .arg(self.ca_dir())
            .args(args)
            .output()
            .expect("kioskctl runs")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.kioskctl(args);
        assert!(
            out.status.success(),
            "kioskctl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.broker_log()
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// An appointment for Max Mustermann whose join link opens the doctor's page as nginx
    /// serves it (`start_in`'s `web_root`), its MQTT through nginx too.
    pub fn create_browser_appointment(&self, device: &str) -> super::Appointment {
        let (page, broker) = (self.page_url(), self.page_broker_url());
        self.create_appointment(
            device,
            &[
                "--patient",
                "Max Mustermann",
                "--join-url",
                &page,
                "--doctor-broker",
                &broker,
            ],
        )
    }

    /// `kioskctl appointment create` for `device`.
    pub fn create_appointment(&self, device: &str, extra: &[&str]) -> super::Appointment {
        super::parse_appointment(&self.kioskctl(&super::create_args(device, extra)))
    }

    fn read(&self, path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn ca_pem(&self) -> String {
        self.read(&self.ca_dir().join("ca.pem"))
    }

    /// The fleet manager's certificate and key, and the CA.
    pub fn admin_material(&self) -> TlsMaterial {
        TlsMaterial {
            ca_pem: self.ca_pem(),
            client: Some(ClientIdentity {
                cert_pem: self.read(&self.ca_dir().join("admin.pem")),
                key_pem: self.read(&self.ca_dir().join("admin.key")),
            }),
        }
    }

    /// MQTT options for the fleet manager's certificate (a watcher, say).
    pub fn admin_options(&self, client_id: &str) -> MqttOptions {
        options(
            &self.device_url(),
            Some(self.admin_material()),
            None,
            client_id,
        )
    }

    /// MQTT options for an enrolled kiosk's certificate, read from its bundle.
    pub fn device_options(&self, device: &str, client_id: &str) -> MqttOptions {
        let bundle: serde_json::Value =
            serde_json::from_str(&self.read(&self.bundle(device))).unwrap();
        let material = TlsMaterial {
            ca_pem: bundle["ca_pem"].as_str().unwrap().into(),
            client: Some(ClientIdentity {
                cert_pem: bundle["cert_pem"].as_str().unwrap().into(),
                key_pem: bundle["key_pem"].as_str().unwrap().into(),
            }),
        };
        options(&self.device_url(), Some(material), None, client_id)
    }

    /// MQTT options for a doctor's session login on the doctor listener.
    pub fn doctor_options(&self, username: &str, password: &str, client_id: &str) -> MqttOptions {
        let material = TlsMaterial {
            ca_pem: self.ca_pem(),
            client: None,
        };
        let login = Login {
            username: username.into(),
            password: password.into(),
        };
        options(&self.doctor_url(), Some(material), Some(login), client_id)
    }

    /// MQTT options with no client certificate at all, on the device listener.
    pub fn anonymous_options(&self, client_id: &str) -> MqttOptions {
        let material = TlsMaterial {
            ca_pem: self.ca_pem(),
            client: None,
        };
        options(&self.device_url(), Some(material), None, client_id)
    }
}

pub fn options(
    url: &str,
    tls: Option<TlsMaterial>,
    login: Option<Login>,
    client_id: &str,
) -> MqttOptions {
    let mut endpoint = Endpoint::new(BrokerUrl::parse(url).unwrap(), tls, true).unwrap();
    if let Some(login) = login {
        endpoint = endpoint.with_login(login);
    }
    endpoint
        .mqtt_options(client_id, Duration::from_secs(10), 1 << 20)
        .unwrap()
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for mut child in [self.broker.take(), self.nginx.take()]
            .into_iter()
            .flatten()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// MQTT options for arbitrary TLS material, e.g. a foreign certificate.
pub fn fleet_options(url: &str, material: TlsMaterial, client_id: &str) -> MqttOptions {
    options(url, Some(material), None, client_id)
}
