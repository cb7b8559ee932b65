//! Who may do what on the broker, written for Mosquitto's Dynamic Security plugin: the roles of
//! devices, doctors and the fleet manager, the plugin's initial configuration file, and the
//! commands kioskctl sends on its control topic.
//!
//! The ACL scheme is the contract; Mosquitto is its default home. A device may read its config,
//! appointments, commands and the doctor side of its sessions, and write its state, events and
//! the kiosk side of its sessions — nothing else. A doctor's per-session credential may write
//! the doctor side of that one session and read its kiosk side — nothing else. Everything not
//! granted is denied (the plugin's defaults are turned to deny).
//!
//! Mosquitto 2.0's plugin has no `%u` substitution in role ACLs, so each device gets a role of
//! its own with literal topics; the effect is the same as pattern ACLs on `%u`.
//! This module builds JSON; it never talks to a broker itself.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::topics::{Side, Topics};
use crate::wire::rfc3339;

pub const CONTROL_TOPIC: &str = "$CONTROL/dynamic-security/v1";
pub const RESPONSE_TOPIC: &str = "$CONTROL/dynamic-security/v1/response";
/// The username of the fleet manager's certificate (its CN).
pub const ADMIN_USERNAME: &str = "fleet-admin";
const ADMIN_ROLE: &str = "fleet-admin";
const DOCTOR_PREFIX: &str = "doctor-";

/// One ACL entry of a role, as the plugin stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acl {
    pub acltype: String,
    pub topic: String,
    pub allow: bool,
}

fn acl(acltype: &str, topic: impl Into<String>) -> Acl {
    Acl {
        acltype: acltype.into(),
        topic: topic.into(),
        allow: true,
    }
}

/// Read access: subscribe to `topic` and receive what is published there.
fn read(topic: &str) -> [Acl; 2] {
    [
        acl("subscribePattern", topic),
        acl("publishClientReceive", topic),
    ]
}

fn write(topic: &str) -> Acl {
    acl("publishClientSend", topic)
}

/// The MQTT client id a kiosk connects with. Doctors cannot take it over (and so disconnect the
/// kiosk): on their listeners their login is their client id (`use_username_as_clientid`).
pub fn device_client_id(device: &str) -> String {
    format!("kiosk-{device}")
}

pub fn device_role(device: &str) -> String {
    format!("device-{device}")
}

/// Doctor credentials are named after the appointment, so revoking it finds them.
pub fn doctor_username(appointment: &str) -> String {
    format!("{DOCTOR_PREFIX}{appointment}")
}

fn doctor_role(appointment: &str) -> String {
    format!("session-{appointment}")
}

pub fn device_acls(topics: &Topics) -> Vec<Acl> {
    let mut acls = Vec::new();
    for topic in [
        topics.config(),
        topics.appointments(),
        topics.commands(),
        topics.sync(),
        topics.session("+", Side::Doctor),
    ] {
        acls.extend(read(&topic));
    }
    for topic in [
        topics.state(),
        topics.events(),
        topics.sync(),
        topics.session("+", Side::Kiosk),
    ] {
        acls.push(write(&topic));
    }
    acls
}

pub fn doctor_acls(topics: &Topics, session: &str) -> Vec<Acl> {
    let mut acls = read(&topics.session(session, Side::Kiosk)).to_vec();
    acls.push(write(&topics.session(session, Side::Doctor)));
    acls
}

pub fn admin_acls(root: &str) -> Vec<Acl> {
    let mut acls = Vec::new();
    for topic in [format!("{CONTROL_TOPIC}/#"), format!("{root}/#")] {
        acls.extend(read(&topic));
        acls.push(write(&topic));
    }
    acls
}

/// The plugin's file for a new broker: deny by default, the fleet manager, and the devices
/// enrolled so far. Clients without a password can only log in with their certificate.
pub fn initial_config(root: &str, devices: &[String]) -> Result<Value, super::topics::TopicError> {
    let mut clients = vec![json!({
        "username": ADMIN_USERNAME,
        "textname": "praxiskiosk fleet manager (certificate login)",
        "roles": [{"rolename": ADMIN_ROLE}],
    })];
    let mut roles = vec![json!({"rolename": ADMIN_ROLE, "acls": admin_acls(root)})];
    for device in devices {
        let topics = Topics::new(root, device)?;
        clients.push(device_client(device));
        roles.push(device_role_entry(&topics, device));
    }
    Ok(json!({
        "defaultACLAccess": {
            "publishClientSend": false,
            "publishClientReceive": false,
            "subscribe": false,
            "unsubscribe": true,
        },
        "clients": clients,
        "groups": [],
        "roles": roles,
    }))
}

/// Commands that (re)create a device's client and role. Deleting first makes enrolment
/// idempotent; "not found" answers to the deletes are expected.
pub fn register_device(topics: &Topics, device: &str) -> Vec<Value> {
    vec![
        json!({"command": "deleteClient", "username": device}),
        json!({"command": "deleteRole", "rolename": device_role(device)}),
        command("createRole", device_role_entry(topics, device)),
        command("createClient", device_client(device)),
    ]
}

/// A device's client, as the plugin's file and its `createClient` command both describe it.
fn device_client(device: &str) -> Value {
    json!({
        "username": device,
        "textname": "praxiskiosk device (certificate login)",
        "roles": [{"rolename": device_role(device)}],
    })
}

fn device_role_entry(topics: &Topics, device: &str) -> Value {
    json!({"rolename": device_role(device), "acls": device_acls(topics)})
}

/// An object of the plugin's file as the command that creates it.
fn command(name: &str, mut entry: Value) -> Value {
    entry["command"] = name.into();
    entry
}

/// Deleting a client also disconnects it at once.
pub fn remove_device(device: &str) -> Vec<Value> {
    vec![
        json!({"command": "deleteClient", "username": device}),
        json!({"command": "deleteRole", "rolename": device_role(device)}),
    ]
}

/// A doctor's credential for one session, valid until `until` (kept in the client's description
/// so [`expired_doctors`] can find it; the plugin itself has no expiry).
pub fn create_doctor(
    topics: &Topics,
    appointment: &str,
    session: &str,
    password: &str,
    until: OffsetDateTime,
) -> Vec<Value> {
    vec![
        json!({"command": "createRole", "rolename": doctor_role(appointment),
               "acls": doctor_acls(topics, session)}),
        json!({"command": "createClient", "username": doctor_username(appointment),
               "password": password,
               "textname": "praxiskiosk doctor, one session",
               "textdescription": format!("until={}", rfc3339::format(until)),
               "roles": [{"rolename": doctor_role(appointment)}]}),
    ]
}

/// Deleting the client also disconnects a doctor who is still connected.
pub fn remove_doctor(appointment: &str) -> Vec<Value> {
    vec![
        json!({"command": "deleteClient", "username": doctor_username(appointment)}),
        json!({"command": "deleteRole", "rolename": doctor_role(appointment)}),
    ]
}

pub fn list_clients() -> Value {
    json!({"command": "listClients", "verbose": true})
}

/// The appointments of doctor credentials in a `listClients` answer whose time is over.
pub fn expired_doctors(list: &Response, now: OffsetDateTime) -> Vec<String> {
    let Some(clients) = list.data.get("clients").and_then(Value::as_array) else {
        return Vec::new();
    };
    clients
        .iter()
        .filter_map(|client| {
            let appointment = client
                .get("username")?
                .as_str()?
                .strip_prefix(DOCTOR_PREFIX)?;
            let until = client
                .get("textdescription")
                .and_then(Value::as_str)
                .and_then(|d| d.strip_prefix("until="))
                .and_then(|t| rfc3339::parse(t).ok());
            // A doctor credential without a readable end date is removed too: it cannot be ours.
            until
                .is_none_or(|until| until <= now)
                .then(|| appointment.to_string())
        })
        .collect()
}

/// The plugin's answer to one command.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Response {
    pub command: String,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub data: Value,
}

#[derive(Debug, Deserialize)]
struct Responses {
    responses: Vec<Response>,
}

pub fn encode_commands(commands: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "commands": commands })).expect("JSON values always encode")
}

pub fn decode_responses(payload: &[u8]) -> Result<Vec<Response>, serde_json::Error> {
    serde_json::from_slice::<Responses>(payload).map(|r| r.responses)
}

/// Whether an error answer means "was not there": expected when deleting to start clean.
pub fn is_not_found(response: &Response) -> bool {
    response
        .error
        .as_deref()
        .is_some_and(|e| e.contains("not found"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::topics::DEFAULT_ROOT;

    fn granted(acls: &[Acl], acltype: &str) -> Vec<String> {
        acls.iter()
            .filter(|a| a.acltype == acltype && a.allow)
            .map(|a| a.topic.clone())
            .collect()
    }

    #[test]
    fn a_device_reads_and_writes_only_below_its_own_topics() {
        let t = Topics::new(DEFAULT_ROOT, "kiosk-a").unwrap();
        let acls = device_acls(&t);
        let base = "praxiskiosk/v1/devices/kiosk-a/";
        assert!(acls.iter().all(|a| a.topic.starts_with(base)), "{acls:?}");
        let writes = granted(&acls, "publishClientSend");
        assert!(writes.contains(&format!("{base}state")));
        assert!(writes.contains(&format!("{base}sessions/+/kiosk")));
        assert!(
            !writes
                .iter()
                .any(|w| w.ends_with("config") || w.contains("appointments"))
        );
        let reads = granted(&acls, "subscribePattern");
        assert!(reads.contains(&format!("{base}appointments/+")));
        assert!(
            !reads
                .iter()
                .any(|r| r.ends_with("/kiosk") || r.ends_with("state"))
        );
    }

    #[test]
    fn a_doctor_reaches_one_session_and_nothing_else() {
        let t = Topics::new(DEFAULT_ROOT, "kiosk-a").unwrap();
        let acls = doctor_acls(&t, "s1");
        assert_eq!(
            granted(&acls, "publishClientSend"),
            ["praxiskiosk/v1/devices/kiosk-a/sessions/s1/doctor"]
        );
        assert_eq!(
            granted(&acls, "subscribePattern"),
            ["praxiskiosk/v1/devices/kiosk-a/sessions/s1/kiosk"]
        );
        assert!(acls.iter().all(|a| !a.topic.contains(['+', '#'])));
    }

    #[test]
    fn initial_config_denies_by_default() {
        let config = initial_config(DEFAULT_ROOT, &["kiosk-a".into()]).unwrap();
        for access in ["publishClientSend", "publishClientReceive", "subscribe"] {
            assert_eq!(config["defaultACLAccess"][access], false, "{access}");
        }
        assert_eq!(config["clients"][1]["username"], "kiosk-a");
        assert!(config["clients"][0].get("password").is_none());
    }

    #[test]
    fn expired_doctor_credentials_are_found_by_their_end() {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        let list = Response {
            command: "listClients".into(),
            error: None,
            data: json!({"clients": [
                {"username": "doctor-old", "textdescription": format!("until={}", rfc3339::format(now - time::Duration::minutes(1)))},
                {"username": "doctor-new", "textdescription": format!("until={}", rfc3339::format(now + time::Duration::minutes(1)))},
                {"username": "doctor-odd"},
                {"username": "kiosk-a"},
            ]}),
        };
        assert_eq!(expired_doctors(&list, now), ["old", "odd"]);
    }

    #[test]
    fn responses_decode_with_errors() {
        let r = decode_responses(
            br#"{"responses":[{"command":"deleteClient","error":"Client not found"},{"command":"createRole"}]}"#,
        )
        .unwrap();
        assert!(is_not_found(&r[0]));
        assert_eq!(r[1].error, None);
    }
}
