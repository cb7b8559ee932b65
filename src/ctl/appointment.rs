//! `kioskctl appointment create | revoke | list`.

use std::time::Duration;

use clap::Subcommand;
use time::OffsetDateTime;

use super::{Fleet, random_hex, when};
use crate::fleet::pki::FleetCa;
use crate::fleet::trust::{self, Signer};
use crate::fleet::{codes, dynsec, topics};
use crate::flow::Appointment;
use crate::wire::{
    self, AppointmentMsg, JoinLink, SealedNames, SessionKey, SignedAppointment, SignedBody,
    SignedRevoke, V1, rfc3339,
};

#[derive(Debug, Subcommand)]
pub enum AppointmentCmd {
    /// Create an appointment: prints the 8-digit code (shown once, stored nowhere) and the session.
    Create {
        #[arg(long)]
        device: String,
        /// The doctor's name as the patient will see it.
        #[arg(long)]
        doctor: String,
        /// The patient's name, if known; otherwise it is typed in at the kiosk.
        #[arg(long)]
        patient: Option<String>,
        /// Start: now, +N(s|m|h|d) or RFC 3339.
        #[arg(long, default_value = "now")]
        from: String,
        /// End: now, +N(s|m|h|d) or RFC 3339.
        #[arg(long, default_value = "+1h")]
        until: String,
        /// The doctor's page that the join link opens.
        #[arg(
            long,
            env = "PRAXISKIOSK_JOIN_URL",
            default_value = "https://localhost/doctor/"
        )]
        join_url: String,
        /// The broker as the doctor's browser reaches it (the WebSocket listener).
        #[arg(
            long,
            env = "PRAXISKIOSK_DOCTOR_BROKER",
            default_value = "wss://localhost:8443"
        )]
        doctor_broker: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Revoke an appointment: the kiosk deletes it and its code stops working.
    Revoke {
        #[arg(long)]
        device: String,
        #[arg(long)]
        id: String,
    },
    /// List a kiosk's appointments (never their codes).
    List {
        #[arg(long)]
        device: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(fleet: &Fleet, cmd: AppointmentCmd) -> anyhow::Result<()> {
    match cmd {
        AppointmentCmd::Create {
            device,
            doctor,
            patient,
            from,
            until,
            join_url,
            doctor_broker,
            json,
        } => {
            let topics = fleet.device(&device)?;
            let now = OffsetDateTime::now_utc();
            let not_before = when::parse(&from, now).map_err(anyhow::Error::msg)?;
            let not_after = when::parse(&until, now).map_err(anyhow::Error::msg)?;
            let code = codes::generate();
            let msg = AppointmentMsg {
                v: V1,
                id: format!("a-{}", random_hex(8)),
                session: random_hex(16),
                code_hash: codes::hash(&code),
                not_before,
                not_after,
                doctor_name: doctor,
                patient_name: patient,
                session_key: None,
            };
            // The kiosk validates the same way; refusing here tells the manager at once.
            Appointment::try_from(msg.clone())?;
            if not_after < now {
                anyhow::bail!(
                    "der Termin wäre schon vorbei (--until liegt in der Vergangenheit) / the appointment would already be over (--until is in the past)"
                );
            }
            let tls = fleet.endpoint()?.is_tls();
            // Signed and sealed wherever there is a fleet CA. A plaintext development broker
            // has none: its appointments stay v1, in clear, and its signalling too.
            let (payload, key) = if tls {
                let key = SessionKey::generate();
                (signed_appointment(fleet, &device, &msg, &key)?, Some(key))
            } else {
                (wire::encode(&msg), None)
            };
            let mut session = fleet.session().await?;
            // The doctor's credential comes first: an appointment must never be on a kiosk
            // without a way for its doctor to join. A plaintext development broker has no
            // access control plugin, so there is no credential to make.
            let link = if tls {
                sweep_doctors(&mut session).await?;
                let password = random_hex(24);
                session
                    .dynsec(dynsec::create_doctor(
                        &topics,
                        &msg.id,
                        &msg.session,
                        &password,
                        not_after,
                    ))
                    .await?;
                Some(JoinLink {
                    broker: doctor_broker,
                    root: fleet.root.clone(),
                    device: device.clone(),
                    session: msg.session.clone(),
                    username: dynsec::doctor_username(&msg.id),
                    password,
                    key,
                })
            } else {
                None
            };
            session
                .publish(&topics.appointment(&msg.id), payload, true)
                .await?;
            session.disconnect().await;
            let link = link.map(|link| link.to_url(&join_url));
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "appointment": msg.id, "session": msg.session, "code": code, "device": device,
                        "not_before": rfc3339::format(not_before), "not_after": rfc3339::format(not_after),
                        "join_link": link,
                    })
                );
            } else {
                println!("Termin angelegt / appointment created");
                println!("  appointment: {}", msg.id);
                println!("  session:     {}", msg.session);
                println!("  code:        {code}   (only shown now; give it to the practice staff)");
                match &link {
                    Some(link) => println!(
                        "  doctor:      {link}\n               (only shown now; send it to the doctor alone)"
                    ),
                    None => println!("  doctor:      no join link: plaintext development broker"),
                }
                println!(
                    "  valid:       {} – {}",
                    rfc3339::format(not_before),
                    rfc3339::format(not_after)
                );
            }
            Ok(())
        }
        AppointmentCmd::Revoke { device, id } => {
            let topics = fleet.device(&device)?;
            crate::fleet::topics::check_id("appointment id", &id)?;
            let tls = fleet.endpoint()?.is_tls();
            // A kiosk of a fleet with a CA ignores an unsigned (empty) revocation. The signed
            // one stays retained in the appointment's place, so a kiosk that is off now still
            // gets it.
            let payload = if tls {
                let body = SignedBody::Revoke(SignedRevoke {
                    device: device.clone(),
                    id: id.clone(),
                    at: OffsetDateTime::now_utc(),
                });
                wire::encode(&signer(fleet)?.sign(&body))
            } else {
                Vec::new()
            };
            let mut session = fleet.session().await?;
            session
                .publish(&topics.appointment(&id), payload, true)
                .await?;
            if tls {
                session.dynsec(dynsec::remove_doctor(&id)).await?;
                sweep_doctors(&mut session).await?;
            }
            session.disconnect().await;
            println!("Termin widerrufen / appointment revoked: {id}");
            Ok(())
        }
        AppointmentCmd::List { device, json } => {
            let topics = fleet.device(&device)?;
            let mut session = fleet.session().await?;
            let retained = session
                .retained(&topics.appointments(), Duration::from_millis(500))
                .await?;
            session.disconnect().await;
            // v2 appointments are listed by what is signed; their names are sealed to the
            // kiosk and nobody else, kioskctl included, can read them.
            let mut list: Vec<Listed> = retained
                .iter()
                .filter(|(_, payload)| !payload.is_empty())
                .filter_map(|(topic, payload)| {
                    match read_retained(payload).inspect_err(|e| eprintln!("skipped {topic}: {e}"))
                    {
                        Ok(Retained::Appointment(a)) => Some(a),
                        _ => None,
                    }
                })
                .collect();
            list.sort_by_key(|a| a.not_before);
            if json {
                let rows: Vec<_> = list
                    .iter()
                    .map(|a| serde_json::json!({
                        "appointment": a.id, "session": a.session, "doctor_name": a.doctor_name,
                        "not_before": rfc3339::format(a.not_before), "not_after": rfc3339::format(a.not_after),
                    }))
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else if list.is_empty() {
                println!("keine Termine / no appointments for {device}");
            } else {
                for a in &list {
                    println!(
                        "{:<20} {} – {}  {}",
                        a.id,
                        rfc3339::format(a.not_before),
                        rfc3339::format(a.not_after),
                        a.doctor_name.as_deref().unwrap_or("(versiegelt / sealed)")
                    );
                }
            }
            Ok(())
        }
    }
}

/// One row of `appointment list`.
#[derive(Debug)]
struct Listed {
    id: String,
    session: String,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    /// Only for a development broker's v1 appointments.
    doctor_name: Option<String>,
}

/// What a retained appointment topic holds.
#[derive(Debug)]
enum Retained {
    Appointment(Listed),
    /// A signed revocation, made at this time.
    Revocation(OffsetDateTime),
}

/// A retained appointment topic's payload. The signature is not checked here: this is the
/// fleet manager's own view of the broker.
fn read_retained(payload: &[u8]) -> Result<Retained, String> {
    if wire::version_of(payload) == Some(2) {
        let msg: wire::SignedMsg = wire::decode_v2(payload).map_err(|e| e.to_string())?;
        let body = wire::from_b64url(&msg.body).ok_or("body is not base64url")?;
        return match serde_json::from_slice(&body).map_err(|e| e.to_string())? {
            SignedBody::Revoke(r) => Ok(Retained::Revocation(r.at)),
            SignedBody::Appointment(a) => Ok(Retained::Appointment(Listed {
                id: a.id,
                session: a.session,
                not_before: a.not_before,
                not_after: a.not_after,
                doctor_name: None,
            })),
            SignedBody::Consent(_) => Err("a consent receipt, not an appointment".into()),
            SignedBody::TestCall(_) => Err("a test call, not an appointment".into()),
        };
    }
    let a: AppointmentMsg = wire::decode(payload).map_err(|e| e.to_string())?;
    Ok(Retained::Appointment(Listed {
        id: a.id,
        session: a.session,
        not_before: a.not_before,
        not_after: a.not_after,
        doctor_name: Some(a.doctor_name),
    }))
}

/// How long an ended appointment stays retained: a kiosk whose clock runs a little behind
/// still has it (it keeps its own copy anyway).
const ENDED_KEPT: time::Duration = time::Duration::minutes(15);
/// How long a signed revocation stays retained: a kiosk that was off for a while still gets
/// it signed; one off for longer finds the appointment missing when it catches up
/// (protocol.md section 2.2), which deletes it as well.
const REVOCATION_KEPT: time::Duration = time::Duration::days(1);

/// When a retained appointment topic may be cleared.
fn forgettable_from(retained: &Retained) -> OffsetDateTime {
    match retained {
        Retained::Appointment(a) => a.not_after + ENDED_KEPT,
        Retained::Revocation(at) => *at + REVOCATION_KEPT,
    }
}

/// Clears every retained appointment of the fleet that has ended (and every old revocation),
/// so nothing of an appointment stays on the broker, or in its persistence file, past its
/// window (the rules keep metadata at most three months; an appointment needs none after it).
/// Part of `kioskctl broker sweep`. Unreadable payloads are left and named.
pub(super) async fn sweep_appointments(
    session: &mut super::broker::Session,
    root: &str,
    now: OffsetDateTime,
) -> anyhow::Result<usize> {
    let retained = session
        .retained(&topics::all_appointments(root), Duration::from_millis(500))
        .await?;
    let mut cleared = 0;
    for (topic, payload) in retained.into_iter().filter(|(_, p)| !p.is_empty()) {
        match read_retained(&payload) {
            Ok(r) if forgettable_from(&r) <= now => {
                session.publish(&topic, Vec::new(), true).await?;
                cleared += 1;
            }
            Ok(_) => {}
            Err(e) => eprintln!("{topic}: left as it is, unreadable: {e}"),
        }
    }
    Ok(cleared)
}

/// The fleet manager's signing key: its client certificate and key in the CA directory.
pub(super) fn signer(fleet: &Fleet) -> anyhow::Result<Signer> {
    let (cert, key) = FleetCa::open(&fleet.ca_dir)?.admin_identity()?;
    Signer::from_pem(&cert, &key).map_err(|e| anyhow::anyhow!("fleet manager's {e}"))
}

/// The appointment as protocol v2 carries it: ids, window and code hash signed, the names and
/// the session key sealed to the kiosk's certificate.
fn signed_appointment(
    fleet: &Fleet,
    device: &str,
    msg: &AppointmentMsg,
    key: &SessionKey,
) -> anyhow::Result<Vec<u8>> {
    let names = SealedNames {
        doctor_name: msg.doctor_name.clone(),
        patient_name: msg.patient_name.clone(),
        session_key: key.clone(),
    };
    let sealed = sealed_for(fleet, device, &msg.id, &names)?;
    let body = SignedBody::Appointment(SignedAppointment {
        device: device.into(),
        id: msg.id.clone(),
        session: msg.session.clone(),
        code_hash: msg.code_hash.clone(),
        not_before: msg.not_before,
        not_after: msg.not_after,
        sealed,
    });
    Ok(wire::encode(&signer(fleet)?.sign(&body)))
}

/// `names` sealed to `device`'s current certificate for the message `id` (an appointment's, a
/// test call's): only that kiosk opens it, and only under that id.
pub(super) fn sealed_for(
    fleet: &Fleet,
    device: &str,
    id: &str,
    names: &SealedNames,
) -> anyhow::Result<String> {
    let device_cert = FleetCa::open(&fleet.ca_dir)?.device_cert(device)?;
    trust::seal_names(&device_cert, device, id, names).map_err(anyhow::Error::msg)
}

/// Removes doctor credentials whose appointment has ended (the broker's plugin has no expiry of
/// its own). Runs with every create and revoke, and as `kioskctl broker sweep` from a timer.
pub(super) async fn sweep_doctors(session: &mut super::broker::Session) -> anyhow::Result<usize> {
    let answers = session.dynsec(vec![dynsec::list_clients()]).await?;
    let expired = answers
        .first()
        .map(|list| dynsec::expired_doctors(list, OffsetDateTime::now_utc()))
        .unwrap_or_default();
    for appointment in &expired {
        session.dynsec(dynsec::remove_doctor(appointment)).await?;
    }
    Ok(expired.len())
}
