//! The kiosk's life with its fleet: connecting with its identity, waiting "not provisioned" for a
//! bundle, showing itself when the fleet asks (`identify`), and the factory reset (`wipe`) that
//! leaves nothing of appointments, names, keys or logs behind.

use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::mpsc;

use super::{IDENTIFY_FOR, Supervisor, Uplink, now};
use crate::daemon::DaemonError;
use crate::daemon::access::{self, FleetAccess, Provisioned};
use crate::fleet::eventlog::{self, EventLog};
use crate::fleet::identity;
use crate::fleet::{self, LinkEvent, LinkOptions, Topics};
use crate::flow::Event;
use crate::media::check::speaker_tone;
use crate::platform::atomic_file::remove_durable;
use crate::ui::state::Provisioning;
use crate::ui::view::ProvisionNotice;
use crate::wire::{self, EventKind, EventReport, KioskState, StateReport};

impl Supervisor {
    /// Starts the link to the fleet with `access`; returns its events.
    pub(super) fn connect(
        &mut self,
        access: FleetAccess,
    ) -> Result<mpsc::Receiver<LinkEvent>, DaemonError> {
        let topics = Topics::new(&self.config.topic_root, &access.device)?;
        tracing::info!(device = %access.device, broker = %access.endpoint.url, appointments = self.book.len(), "connecting to the fleet");
        let (link, events, task) = fleet::link::spawn(LinkOptions {
            client_id: format!("kiosk-{}", access.device),
            endpoint: access.endpoint.clone(),
            last_will: Some((topics.state(), wire::encode(&StateReport::offline()))),
            // Also the longest a healthy link task waits between turns (see `liveness`).
            keep_alive: Duration::from_secs(10),
        })
        .map_err(DaemonError::Tls)?;
        for filter in [
            topics.config(),
            topics.appointments(),
            topics.commands(),
            topics.sync(),
        ] {
            link.subscribe(&filter);
        }
        // A kiosk whose local record is broken still serves patients, and the fleet still gets
        // every event: so this is an error to fix, not a reason to stop.
        self.events = EventLog::open(&self.config.state_dir, OffsetDateTime::now_utc())
            .inspect_err(
                |e| tracing::error!(error = %e, "event log unavailable; events are only published"),
            )
            .ok();
        self.uplink = Some(Uplink {
            access,
            topics,
            link,
            task,
        });
        self.screen
            .state
            .set_provisioning(Provisioning::Provisioned);
        self.publish_state(self.kiosk.state(), self.kiosk.detail());
        Ok(events)
    }

    pub(super) fn not_provisioned(&mut self, notice: Option<ProvisionNotice>) {
        self.screen
            .state
            .set_provisioning(Provisioning::Missing { notice });
        self.refresh_screen();
    }

    pub(super) fn is_provisioned(&self) -> bool {
        self.uplink.is_some()
    }

    /// Imports the provisioning bundle if one is there and connects with it.
    pub(super) fn look_for_bundle(
        &mut self,
    ) -> Result<Option<mpsc::Receiver<LinkEvent>>, DaemonError> {
        let path = self.config.provisioning_bundle.clone();
        let Ok(meta) = std::fs::metadata(&path) else {
            return Ok(None);
        };
        let stamp = (meta.len(), meta.modified().unwrap_or(std::time::UNIX_EPOCH));
        if self.refused_bundle == Some(stamp) {
            return Ok(None);
        }
        let imported = identity::import_bundle(&path, &self.config.state_dir)
            .map_err(|e| e.to_string())
            .and_then(|id| {
                let provisioned = Provisioned::from(id);
                self.config.display_name = provisioned.room.clone();
                access::resolve(&self.config, Some(&provisioned)).map_err(|e| e.to_string())
            });
        match imported {
            Ok(Some(access)) => {
                tracing::info!(device = %access.device, "provisioned from the bundle");
                self.refused_bundle = None;
                self.connect(access).map(Some)
            }
            Ok(None) => Ok(None),
            Err(why) => {
                tracing::error!(bundle = %path.display(), reason = %why, "provisioning bundle refused");
                // Whatever was imported is no use without a connection: start clean next time.
                if let Err(e) = identity::wipe_identity(&self.config.state_dir) {
                    tracing::error!(error = %e, "cannot remove the refused identity");
                }
                self.refused_bundle = Some(stamp);
                self.not_provisioned(Some(ProvisionNotice::BundleRefused));
                Ok(None)
            }
        }
    }

    /// The fleet wants to find this kiosk: its room and id on the screen (when nobody is being
    /// served) and a tone.
    pub(super) fn identify(&mut self) {
        let Some(up) = &self.uplink else { return };
        let room = self.surroundings().room;
        self.screen.state.identify(room, up.access.device.clone());
        self.identify_until = Some(now() + IDENTIFY_FOR);
        if self.call.is_none() {
            self.screen.tone = speaker_tone(self.config.media.audio_sink);
        }
        self.refresh_screen();
    }

    /// Called every second: ends the identify screen when its time is up.
    pub(super) fn identify_tick(&mut self) {
        if self.identify_until.is_some_and(|until| now() >= until) {
            self.identify_until = None;
            self.screen.state.end_identify();
        }
    }

    /// Waits for calls being ended, reading the link meanwhile so `bye` is never stuck.
    pub(super) async fn wait_for_calls(&mut self, link: &mut Option<mpsc::Receiver<LinkEvent>>) {
        let leaving = futures::future::join_all(std::mem::take(&mut self.leaving));
        tokio::pin!(leaving);
        loop {
            tokio::select! {
                _ = &mut leaving => return,
                Some(_) = super::next_link_event(link) => {}
            }
        }
    }

    /// The factory reset: ends any call, tells the fleet, disconnects cleanly, deletes
    /// appointments, the event log, the device config and the identity, and shows "not
    /// provisioned". The kiosk then waits for a new bundle.
    pub(super) async fn factory_reset(&mut self, mut link: Option<mpsc::Receiver<LinkEvent>>) {
        self.step(Event::EndCallCommand);
        self.step(Event::Cancel);
        self.wait_for_calls(&mut link).await;
        if let Some(up) = self.uplink.take() {
            let report = EventReport::new(OffsetDateTime::now_utc(), EventKind::FactoryReset);
            up.link
                .publish(&up.topics.events(), wire::encode(&report), false);
            let mut last = StateReport::offline();
            last.state = KioskState::NotProvisioned;
            up.close(&last).await;
        }
        self.sync = None;
        self.broker_up = None;
        self.events = None;
        self.device_config = None;
        self.last_call = None;
        let state_dir = self.config.state_dir.clone();
        let device_config = state_dir.join(super::DEVICE_CONFIG_FILE);
        let results = [
            self.book
                .retain_only(&Default::default())
                .map(drop)
                .map_err(|e| e.to_string()),
            eventlog::wipe(&state_dir).map_err(|e| e.to_string()),
            identity::wipe_identity(&state_dir).map_err(|e| e.to_string()),
            remove_durable(&device_config).map_err(|e| format!("{}: {e}", device_config.display())),
        ];
        for error in results.into_iter().filter_map(Result::err) {
            tracing::error!(reason = %error, "factory reset incomplete");
        }
        // A bundle that could not be deleted at import (a read-only boot partition) holds the
        // identity just wiped: it must not bring it straight back.
        if let Ok(meta) = std::fs::metadata(&self.config.provisioning_bundle) {
            tracing::warn!(bundle = %self.config.provisioning_bundle.display(), "the old provisioning bundle is still there and is not imported again; remove it");
            self.refused_bundle =
                Some((meta.len(), meta.modified().unwrap_or(std::time::UNIX_EPOCH)));
        }
        tracing::warn!("factory reset done; not provisioned");
        self.apply_locale();
        self.not_provisioned(None);
    }
}
