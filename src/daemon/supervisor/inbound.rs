//! What arrives from the fleet: link events, and the messages on the kiosk's topics (config,
//! appointments, commands, the sync marker, signalling), each turned into a store change, a
//! flow event or a call message. Nothing here talks back to the broker but through the link.

use std::collections::BTreeSet;

use time::OffsetDateTime;

use super::{DEVICE_CONFIG_FILE, Supervisor, SyncRound};
use crate::fleet::{self, Inbound, LinkEvent};
use crate::flow::Event;
use crate::platform::atomic_file::write_atomic;
use crate::wire::{self, CommandKind};

impl Supervisor {
    pub(super) fn sweep(&mut self) {
        match self.book.sweep(OffsetDateTime::now_utc()) {
            Ok(gone) if !gone.is_empty() => {
                tracing::info!(count = gone.len(), "expired appointments deleted")
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "cannot delete expired appointments"),
        }
        if let Some(log) = self.events.as_mut()
            && let Err(e) = log.prune_if_new_day(OffsetDateTime::now_utc())
        {
            tracing::error!(error = %e, "cannot prune the event log");
        }
    }

    fn reconcile(&mut self, marker: &str) {
        let Some(round) = self.sync.take_if(|round| round.marker == marker) else {
            return;
        };
        match self.book.retain_only(&round.seen) {
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

    pub(super) fn on_link(&mut self, event: LinkEvent) {
        match event {
            LinkEvent::Connected => {
                self.broker_up = Some(true);
                let Some(up) = &self.uplink else { return };
                tracing::info!(broker = %up.access.endpoint.url, "connected to broker");
                // The broker delivers in order: once our marker comes back, every retained
                // appointment has arrived, and whatever we hold beyond them was revoked.
                let marker = format!("{:016x}", rand::random::<u64>());
                up.link
                    .publish(&up.topics.sync(), marker.clone().into_bytes(), false);
                self.sync = Some(SyncRound {
                    marker,
                    seen: BTreeSet::new(),
                });
                // The link re-sends the retained state as it was; this one says "seen now".
                self.heartbeat();
            }
            LinkEvent::Disconnected { reason, retry_in } => {
                if self.broker_up != Some(false) {
                    tracing::warn!(%reason, "broker unreachable; retrying, and appointments already received still work");
                }
                self.broker_up = Some(false);
                tracing::debug!(%reason, retry_in_ms = retry_in.as_millis() as u64, "broker unreachable, retrying");
            }
            LinkEvent::Message { topic, payload } => {
                let Some(up) = &self.uplink else { return };
                match fleet::parse_inbound(&up.topics, &topic, &payload) {
                    Ok(Some(inbound)) => self.on_inbound(inbound),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(%topic, reason = %e, "message dropped"),
                }
            }
        }
    }

    fn on_inbound(&mut self, inbound: Inbound) {
        let now = OffsetDateTime::now_utc();
        match inbound {
            Inbound::Config(device_config) => {
                let path = self.config.state_dir.join(DEVICE_CONFIG_FILE);
                if let Err(e) = write_atomic(&path, &wire::encode(&device_config)) {
                    tracing::error!(error = %e, "cannot store device config");
                }
                tracing::info!("device config received");
                self.device_config = Some(device_config);
                self.apply_locale();
                self.refresh_screen();
            }
            Inbound::Synced(marker) => self.reconcile(&marker),
            Inbound::Appointment(appointment) => {
                let id = appointment.id.clone();
                if let Some(round) = &mut self.sync {
                    round.seen.insert(id.clone());
                }
                match self.book.put(appointment, now) {
                    Ok(true) => tracing::info!(appointment = %id, "appointment stored"),
                    Ok(false) => tracing::info!(appointment = %id, "expired appointment ignored"),
                    Err(e) => {
                        tracing::error!(appointment = %id, error = %e, "cannot store appointment")
                    }
                }
            }
            Inbound::Revoked(id) => {
                match self.book.remove(&id) {
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
            Inbound::Command(CommandKind::Refresh) => {
                self.publish_state(self.kiosk.state(), self.kiosk.detail())
            }
            Inbound::Command(CommandKind::Identify) => self.identify(),
            Inbound::Command(CommandKind::Wipe) => {
                tracing::warn!("factory reset ordered by the fleet");
                self.wipe_requested = true;
            }
            Inbound::Signal { session, signal } => match &self.call {
                Some(active) if active.session == session => active.handle.deliver(signal),
                _ => tracing::debug!(%session, "signalling for a session we are not in ignored"),
            },
        }
    }
}
