//! What comes from the fleet, and the kiosk's life with it: connecting with its identity,
//! catching up after a reconnect, the messages on its topics (config, appointments, commands,
//! signalling), the provisioning bundle while it has none, and the factory reset that leaves
//! nothing of appointments, names, keys or logs behind.

use std::collections::BTreeSet;

use time::OffsetDateTime;

use super::Supervisor;
use crate::daemon::DaemonError;
use crate::daemon::access::{self, FleetAccess, Provisioned};
use crate::daemon::presence::{Heard, bundle_stamp};
use crate::fleet::appointments::Stored;
use crate::fleet::eventlog;
use crate::fleet::identity;
use crate::fleet::{Inbound, LinkEvent};
use crate::flow::{Event, TestCallRequest};
use crate::platform::clock::now;
use crate::ui::state::Provisioning;
use crate::ui::view::ProvisionNotice;
use crate::wire::{CommandKind, EventKind, TestCallRefusal};

impl Supervisor {
    pub(super) async fn on_link(&mut self, event: LinkEvent) {
        let was_online = self.presence.broker_online();
        let heard = self.presence.on_link(event);
        if self.presence.broker_online() != was_online {
            // No call starts without the broker: the flow must know before the next code.
            self.step(Event::BrokerReachable(!was_online));
        }
        match heard {
            None => {}
            Some(Heard::Connected) => {
                // The link re-sends the retained state as it was; this one says "seen now".
                self.presence.publish_state(self.status());
                // An interrupted call can reach the doctor's side again to recover.
                self.calls.link_restored();
                self.end_crashed_call();
            }
            Some(Heard::Synced(seen)) => self.reconcile(&seen),
            Some(Heard::Inbound(inbound)) => self.on_inbound(inbound).await,
        }
    }

    /// A call a crash left open ends for the doctor's side too, as soon as the broker is back
    /// (protocol.md 5, rule 6): `bye` `error` on its session, sealed with its key.
    fn end_crashed_call(&mut self) {
        let Some(id) = self.presence.take_crashed_call() else {
            return;
        };
        let Some(appointment) = self.book.get(&id) else {
            return; // over or revoked meanwhile: nobody waits in its session any more
        };
        let session = &appointment.session;
        let bye = crate::wire::ByeReason::Error;
        self.presence
            .say_bye(session, appointment.session_key.as_ref(), bye);
        tracing::info!(%session, "told the doctor's side that the call a crash left is over");
    }

    /// After a reconnect, the broker's retained appointments are the truth: one revoked while
    /// the kiosk was away is simply missing from `seen`.
    fn reconcile(&mut self, seen: &BTreeSet<String>) {
        match self.book.retain_only(seen) {
            Ok(gone) if !gone.is_empty() => {
                tracing::info!(
                    count = gone.len(),
                    "appointments revoked while away deleted"
                );
                self.refresh_screen();
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "cannot delete revoked appointments"),
        }
    }

    async fn on_inbound(&mut self, inbound: Inbound) {
        match inbound {
            Inbound::Config(device_config) => {
                tracing::info!("device config received");
                if let Err(e) = self.settings.apply_device_config(device_config) {
                    tracing::error!(error = %e, "cannot store device config");
                }
                self.screen.set_default_locale(self.settings.now().locale);
                self.refresh_screen();
            }
            Inbound::Appointment(appointment) => {
                let id = appointment.id.clone();
                let now = (self.clock_confirmed == Some(true)).then(OffsetDateTime::now_utc);
                match self.book.put(appointment, now) {
                    Ok(Stored::Kept) => tracing::info!(appointment = %id, "appointment stored"),
                    Ok(Stored::Expired) => {
                        tracing::info!(appointment = %id, "expired appointment ignored")
                    }
                    Ok(Stored::Revoked) => {
                        tracing::warn!(appointment = %id, "revoked appointment refused: a replay")
                    }
                    Err(e) => {
                        tracing::error!(appointment = %id, error = %e, "cannot store appointment")
                    }
                }
            }
            Inbound::Revoked(id) => {
                match self.book.revoke(&id, OffsetDateTime::now_utc()) {
                    Ok(true) => tracing::info!(appointment = %id, "appointment revoked"),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::error!(appointment = %id, error = %e, "cannot delete revoked appointment")
                    }
                }
                self.step(Event::AppointmentRevoked(id));
            }
            Inbound::Command(CommandKind::EndCall) => {
                self.step(Event::EndCallCommand);
            }
            Inbound::Command(CommandKind::Refresh) => self.presence.publish_state(self.status()),
            Inbound::Command(CommandKind::Identify) => self.identify(),
            Inbound::Command(CommandKind::Wipe) => self.factory_reset().await,
            Inbound::TestCall(request) => self.test_call(request),
            // Parsing makes a test call `Inbound::TestCall` (signed) or refuses it.
            Inbound::Command(CommandKind::TestCall) => {}
            // The presence keeps the sync round, and opens sealed signalling with the session's
            // channel: it never hands on either.
            Inbound::Synced(_) | Inbound::SealedSignal { .. } => {}
            Inbound::Signal { session, signal } => self.calls.deliver(&session, signal),
        }
    }

    /// Starts the link to the fleet with `access`.
    pub(super) fn connect(&mut self, access: FleetAccess) -> Result<(), DaemonError> {
        let config = self.settings.config();
        self.presence
            .connect(access, &config.topic_root, &config.state_dir)?;
        tracing::info!(appointments = self.book.len(), "appointments on hand");
        self.screen.set_provisioning(Provisioning::Provisioned);
        self.presence.publish_state(self.status());
        Ok(())
    }

    pub(super) fn not_provisioned(&mut self, notice: Option<ProvisionNotice>) {
        self.screen
            .set_provisioning(Provisioning::Missing { notice });
        self.refresh_screen();
    }

    /// Imports the provisioning bundle if one is there and connects with it.
    pub(super) fn look_for_bundle(&mut self) -> Result<(), DaemonError> {
        let config = self.settings.config();
        let path = config.provisioning_bundle.clone();
        let Some(stamp) = self.presence.bundle_to_try(&path) else {
            return Ok(());
        };
        let imported = identity::import_bundle(&path, &config.state_dir)
            .map_err(|e| e.to_string())
            .and_then(|id| {
                let provisioned = Provisioned::from(id);
                match access::resolve(config, Some(&provisioned)) {
                    Ok(Some(access)) => Ok((access, provisioned.room)),
                    Ok(None) => Err("the bundle gave no way to the fleet".into()),
                    Err(e) => Err(e.to_string()),
                }
            });
        match imported {
            Ok((access, room)) => {
                tracing::info!(device = %access.device, "provisioned from the bundle");
                self.settings.enrolled(room);
                self.connect(access)?;
                self.refresh_screen();
            }
            Err(why) => {
                tracing::error!(bundle = %path.display(), reason = %why, "provisioning bundle refused");
                // Whatever was imported is no use without a connection: start clean next time.
                if let Err(e) = identity::wipe_identity(&self.settings.config().state_dir) {
                    tracing::error!(error = %e, "cannot remove the refused identity");
                }
                self.presence.refuse_bundle(stamp);
                self.not_provisioned(Some(ProvisionNotice::BundleRefused));
            }
        }
        Ok(())
    }

    /// The fleet's signed test call: taken once, while current, and only when nobody is at the
    /// kiosk; the flow decides the rest (idle, clock). A refusal is reported with its reason.
    fn test_call(&mut self, request: crate::fleet::trust::TestCall) {
        /// How far ahead a request may reach: kioskctl asks for 90 s.
        const AHEAD: time::Duration = time::Duration::minutes(5);
        let now_utc = OffsetDateTime::now_utc();
        let current = now_utc <= request.not_after && request.not_after <= now_utc + AHEAD;
        let refusal = if self.clock_confirmed != Some(true) {
            None // Without a confirmed clock "current" means nothing: the flow refuses.
        } else if !current || self.test_calls_seen.contains(&request.id) {
            Some(TestCallRefusal::Expired)
        } else if !self.screen.at_rest() {
            Some(TestCallRefusal::Busy)
        } else {
            None
        };
        tracing::info!(test = %request.id, refused = ?refusal, "test call asked for");
        if let Some(reason) = refusal {
            let event = EventKind::TestCallRefused {
                test: request.id,
                reason,
            };
            self.presence.report(event, self.screen.quality());
            return;
        }
        if self.test_calls_seen.len() >= 64 {
            self.test_calls_seen.pop_front();
        }
        self.test_calls_seen.push_back(request.id.clone());
        self.step(Event::TestCallAsked(TestCallRequest {
            test: request.id,
            session: request.session,
            key: Some(request.key),
        }));
    }

    /// The fleet wants to find this kiosk: its room and id on the screen (when nobody is being
    /// served) and a tone.
    fn identify(&mut self) {
        let Some(device) = self.presence.device().map(String::from) else {
            return;
        };
        let room = self.settings.now().room.clone();
        self.screen
            .identify(room, device, self.calls.is_running(), now());
        self.refresh_screen();
    }

    /// The factory reset: ends any call, tells the fleet, disconnects cleanly, deletes
    /// appointments, the event log, screenshots, the device config and the identity, and shows "not
    /// provisioned". The kiosk then waits for a new bundle.
    async fn factory_reset(&mut self) {
        tracing::warn!("factory reset ordered by the fleet");
        self.step(Event::EndCallCommand);
        self.step(Event::Cancel);
        self.wait_for_calls().await;
        self.presence.withdraw().await;
        let state_dir = self.settings.config().state_dir.clone();
        let results = [
            self.book
                .retain_only(&BTreeSet::new())
                .map(drop)
                .map_err(|e| e.to_string()),
            eventlog::wipe(&state_dir).map_err(|e| e.to_string()),
            remove_screenshots(&state_dir).map_err(|e| format!("screenshots: {e}")),
            identity::wipe_identity(&state_dir).map_err(|e| e.to_string()),
            self.settings
                .forget_fleet()
                .map_err(|e| format!("device config: {e}")),
        ];
        for error in results.into_iter().filter_map(Result::err) {
            tracing::error!(reason = %error, "factory reset incomplete");
        }
        // A bundle that could not be deleted at import (a read-only boot partition) holds the
        // identity just wiped: it must not bring it straight back.
        let bundle = &self.settings.config().provisioning_bundle;
        if let Some(stamp) = bundle_stamp(bundle) {
            tracing::warn!(bundle = %bundle.display(), "the old provisioning bundle is still there and is not imported again; remove it");
            self.presence.refuse_bundle(stamp);
        }
        tracing::warn!("factory reset done; not provisioned");
        // Last: the journal's vacuum takes this line with everything before it.
        match crate::platform::systemd::request_journal_vacuum() {
            Ok(true) => tracing::info!("the kiosk's journal is emptied next"),
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "cannot ask for the journal to be emptied"),
        }
        self.screen.set_default_locale(self.settings.now().locale);
        self.not_provisioned(None);
    }
}

/// Screenshots a development kiosk took may show names: a factory reset leaves none.
fn remove_screenshots(state_dir: &std::path::Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(state_dir.join(super::control::SCREENSHOTS)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
