//! What the kiosk records of a call for others: the consent receipt it signs for the practice,
//! and the call a crash left open, which its event log closes and its doctor's side is told of.

use time::OffsetDateTime;

use super::{Membership, Presence};
use crate::fleet::trust::Channel;
use crate::fleet::{SessionPublisher, Side};
use crate::wire::{self, LastCall};

/// How far back the state report's `recent_calls` reach, and how many they are at most.
pub(super) const RECENT_SPAN: time::Duration = time::Duration::days(14);
pub(super) const RECENT_MAX: usize = 50;

/// The calls of `calls` within [`RECENT_SPAN`] before `now`, at most the newest [`RECENT_MAX`].
pub(super) fn recent(calls: &[LastCall], now: OffsetDateTime) -> Vec<LastCall> {
    let kept: Vec<LastCall> = calls
        .iter()
        .filter(|c| c.ended_at >= now - RECENT_SPAN)
        .cloned()
        .collect();
    kept[kept.len().saturating_sub(RECENT_MAX)..].to_vec()
}

impl Presence {
    /// A call the event log says started and never ended (kioskd was killed, or the power
    /// went) is closed now, as `call_ended` `crashed`, in the log and for the fleet.
    pub(super) fn close_crashed_call(&mut self) {
        let Membership::Provisioned(up) = &mut self.membership else {
            return;
        };
        let Some(log) = up.log.as_ref() else {
            return;
        };
        match log.unclosed_call(OffsetDateTime::now_utc()) {
            Ok(Some(report)) => {
                tracing::warn!("a call was left open by a crash; closed in the event log");
                if let wire::EventKind::CallEnded { appointment, .. } = &report.event {
                    up.crashed_call = Some(appointment.clone());
                }
                // Among the recent calls, not the last call: that one ended before this start.
                self.remember_call(&report);
                self.send_event(&report);
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "event log unreadable"),
        }
    }

    /// A `call_ended` joins the state report's recent calls; returns it as a call.
    pub(super) fn remember_call(&mut self, report: &wire::EventReport) -> Option<LastCall> {
        let wire::EventKind::CallEnded {
            duration_s,
            quality,
            ..
        } = report.event
        else {
            return None;
        };
        let call = LastCall {
            duration_s,
            quality,
            ended_at: report.ts,
        };
        self.basis.recent_calls.push(call.clone());
        self.basis.recent_calls = recent(&self.basis.recent_calls, report.ts);
        Some(call)
    }

    /// The patient's consent to `session` now, signed with the kiosk's key: the receipt its
    /// hello hands the doctor's side. `None` without a fleet identity.
    pub fn sign_consent(&self, session: &str, patient: &str) -> Option<wire::SignedMsg> {
        let up = self.uplink()?;
        let consent = wire::SignedConsent {
            device: up.access.device.clone(),
            session: session.into(),
            patient: patient.into(),
            consented_at: OffsetDateTime::now_utc().replace_nanosecond(0).ok()?,
            text: crate::ui::text::consent_text_version(),
        };
        Some(
            up.signer
                .as_ref()?
                .sign(&wire::SignedBody::Consent(consent)),
        )
    }

    /// The appointment whose call a crash left open, once: its doctor's side is still in the
    /// session and should hear that the call is over (`bye` `error`), not wait out its media.
    pub fn take_crashed_call(&mut self) -> Option<String> {
        match &mut self.membership {
            Membership::Provisioned(up) => up.crashed_call.take(),
            Membership::Unprovisioned { .. } => None,
        }
    }

    /// Says `bye` on `session`, sealed with its `key`, without joining it: the call a crash
    /// left open is over, and nothing of its session is listened to any more.
    pub fn say_bye(&self, session: &str, key: Option<&wire::SessionKey>, reason: wire::ByeReason) {
        let Membership::Provisioned(up) = &self.membership else {
            return;
        };
        let channel = key.map(|key| {
            std::sync::Arc::new(std::sync::Mutex::new(Channel::new(
                key,
                session,
                wire::Sender::Kiosk,
            )))
        });
        let out = SessionPublisher::new(up.link.clone(), &up.topics, session, Side::Kiosk)
            .sealed(channel);
        crate::call::SignalOut::send(&out, wire::Signal::Bye { reason });
    }
}
