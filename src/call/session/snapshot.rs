//! The call's statistics as the owner reads them (`CallStats`, protocol.md §8), from the
//! session's counters and the latest numbers of its connection, and the security code of its
//! DTLS certificates.

use std::sync::atomic::Ordering;

use super::Session;
use crate::call::stats::ice_state_name;
use crate::call::{Role, security_code};
use crate::platform::clock::now as clock;
use crate::wire::{CallStats, DtlsStats};

impl Session {
    pub(super) fn stats(&self) -> CallStats {
        let media = &self.media;
        let c = &media.counters;
        let connected = self.connection.peer.is_some();
        let dtls = self
            .connection
            .peer
            .as_ref()
            .map(|p| Box::new(p.dtls_stats()));
        CallStats {
            elapsed_s: clock().duration_since(media.started).as_secs_f64(),
            first_frame_ms: media.first_frame.map(|d| d.as_millis() as u64),
            video_frames_received: c.video_in.load(Ordering::Relaxed),
            audio_buffers_received: c.audio_in.load(Ordering::Relaxed),
            video_frames_sent: c.video_out.load(Ordering::Relaxed),
            audio_buffers_sent: c.audio_out.load(Ordering::Relaxed),
            bitrate_in_kbps: (media.rates.in_kbps * 10.0).round() / 10.0,
            bitrate_out_kbps: (media.rates.out_kbps * 10.0).round() / 10.0,
            rtt_ms: media
                .rates
                .latest
                .rtt_s
                .map(|s| (s * 10_000.0).round() / 10.0),
            packets_received: media.rates.latest.packets_received,
            packets_lost: media.rates.latest.packets_lost,
            ice_state: ice_state_name(media.ice_state).into(),
            video_target_kbps: connected.then(|| c.video_target.load(Ordering::Relaxed) / 1000),
            video_codec: connected.then(|| self.spec.media.video_codec.name().into()),
            path: media
                .rates
                .latest
                .path
                .map(|(local, remote)| format!("{}/{}", local.name(), remote.name())),
            audio_level_in_dbfs: media.voice_level_dbfs.map(|db| (db * 10.0).round() / 10.0),
            video_size_received: c.video_size_in().map(|(w, h)| format!("{w}x{h}")),
            interrupted: media.interrupted.is_some(),
            last_outage_ms: media.last_outage.map(|d| d.as_millis() as u64),
            latency: self.spec.media.measure.as_ref().and_then(|m| m.report()),
            security_code: dtls.as_deref().and_then(|d| self.security_code(d)),
            dtls,
        }
    }

    /// The code from our certificate and the one the other side showed, the kiosk's first
    /// (the offerer is always the kiosk).
    fn security_code(&self, dtls: &DtlsStats) -> Option<String> {
        let (ours, theirs) = (&dtls.local_fingerprint, dtls.remote_fingerprint.as_ref()?);
        let (kiosk, doctor) = match self.spec.role {
            Role::Offerer => (ours, theirs),
            Role::Answerer => (theirs, ours),
        };
        security_code(&self.spec.code, kiosk, doctor)
    }
}
