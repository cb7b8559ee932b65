//! Turns webrtcbin's `get-stats` structure into the few numbers people act on: bitrate each way,
//! round-trip time, packets lost.

use std::time::Instant;

use gst::prelude::*;
use gst_webrtc::{WebRTCICEConnectionState, WebRTCStatsType};

/// Totals of one `get-stats` reply.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Totals {
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub packets_received: u64,
    pub packets_lost: i64,
    /// Seconds, from RTCP receiver reports.
    pub rtt_s: Option<f64>,
    /// The kinds of the local and the remote candidate of the path in use.
    pub path: Option<(CandidateKind, CandidateKind)>,
    /// The path runs through a TURN relay, on either side: no longer peer to peer.
    pub relayed: bool,
    /// The lowest and the highest fraction of our packets the other side reported lost, over
    /// our streams (RTCP receiver reports). While the video pauses only the voice's report is
    /// current, and it is the lowest; otherwise the highest says whether the link is full.
    pub loss_reported: Option<(f64, f64)>,
}

/// How an ICE candidate was found (RFC 8445 5.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CandidateKind {
    Host,
    /// Server reflexive: our address as a STUN server saw it (outside our NAT).
    Srflx,
    /// Peer reflexive: an address the other side's checks revealed.
    Prflx,
    Relay,
}

impl CandidateKind {
    fn parse(word: &str) -> Option<Self> {
        match word.trim_matches('"') {
            "host" => Some(Self::Host),
            "srflx" | "server-reflexive" => Some(Self::Srflx),
            "prflx" | "peer-reflexive" => Some(Self::Prflx),
            "relay" | "relayed" => Some(Self::Relay),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::Srflx => "srflx",
            Self::Prflx => "prflx",
            Self::Relay => "relay",
        }
    }
}

/// The candidate's kind, whether webrtcbin gives it as a string or as an enum.
fn candidate_kind(entry: &gst::StructureRef) -> Option<CandidateKind> {
    let value = entry.value("candidate-type").ok()?;
    let word = value
        .get::<String>()
        .ok()
        .or_else(|| value.serialize().ok().map(|s| s.to_string()))?;
    CandidateKind::parse(&word)
}

fn number(s: &gst::StructureRef, field: &str) -> Option<f64> {
    s.get::<u64>(field)
        .map(|v| v as f64)
        .or_else(|_| s.get::<i64>(field).map(|v| v as f64))
        .or_else(|_| s.get::<u32>(field).map(f64::from))
        .or_else(|_| s.get::<i32>(field).map(f64::from))
        .or_else(|_| s.get::<f64>(field))
        .ok()
}

pub(crate) fn totals(stats: &gst::StructureRef) -> Totals {
    let mut totals = Totals::default();
    let mut rtts = Vec::new();
    let (mut local, mut remote) = (None, None);
    for (_, value) in stats.iter() {
        let Ok(entry) = value.get::<gst::Structure>() else {
            continue;
        };
        let Ok(kind) = entry.get::<WebRTCStatsType>("type") else {
            continue;
        };
        match kind {
            WebRTCStatsType::InboundRtp => {
                totals.bytes_in += number(&entry, "bytes-received").unwrap_or(0.0) as u64;
                totals.packets_received += number(&entry, "packets-received").unwrap_or(0.0) as u64;
                totals.packets_lost += number(&entry, "packets-lost").unwrap_or(0.0) as i64;
            }
            WebRTCStatsType::OutboundRtp => {
                totals.bytes_out += number(&entry, "bytes-sent").unwrap_or(0.0) as u64;
            }
            WebRTCStatsType::LocalCandidate => local = local.or(candidate_kind(&entry)),
            WebRTCStatsType::RemoteCandidate => remote = remote.or(candidate_kind(&entry)),
            WebRTCStatsType::RemoteInboundRtp => {
                if let Some(rtt) = number(&entry, "round-trip-time").filter(|r| *r > 0.0) {
                    rtts.push(rtt);
                }
                if let Some(lost) = number(&entry, "fraction-lost") {
                    totals.loss_reported = Some(
                        totals
                            .loss_reported
                            .map_or((lost, lost), |(low, high)| (low.min(lost), high.max(lost))),
                    );
                }
            }
            _ => {}
        }
    }
    totals.rtt_s = rtts.iter().copied().reduce(f64::max);
    // webrtcbin lists the candidates of the selected pair only.
    totals.path = local.zip(remote);
    totals.relayed = local == Some(CandidateKind::Relay) || remote == Some(CandidateKind::Relay);
    totals
}

/// Bitrates from the difference between two replies.
#[derive(Debug, Default)]
pub(crate) struct Rates {
    last: Option<(Instant, Totals)>,
    pub in_kbps: f64,
    pub out_kbps: f64,
    pub latest: Totals,
}

impl Rates {
    pub fn update(&mut self, now: Instant, totals: Totals) {
        if let Some((then, before)) = self.last {
            let seconds = now.duration_since(then).as_secs_f64();
            if seconds > 0.0 {
                // A rebuilt peer restarts its byte counts; saturate instead of going negative.
                self.in_kbps =
                    totals.bytes_in.saturating_sub(before.bytes_in) as f64 * 8.0 / 1000.0 / seconds;
                self.out_kbps = totals.bytes_out.saturating_sub(before.bytes_out) as f64 * 8.0
                    / 1000.0
                    / seconds;
            }
        }
        self.last = Some((now, totals));
        // A reply without them (a connection being replaced) keeps the last known.
        let rtt_s = totals.rtt_s.or(self.latest.rtt_s);
        let path = totals.path.or(self.latest.path);
        self.latest = Totals {
            rtt_s,
            path,
            ..totals
        };
    }
}

/// The ICE connection state as the statistics name it.
pub(super) fn ice_state_name(state: WebRTCICEConnectionState) -> &'static str {
    match state {
        WebRTCICEConnectionState::New => "new",
        WebRTCICEConnectionState::Checking => "checking",
        WebRTCICEConnectionState::Connected => "connected",
        WebRTCICEConnectionState::Completed => "completed",
        WebRTCICEConnectionState::Failed => "failed",
        WebRTCICEConnectionState::Disconnected => "disconnected",
        WebRTCICEConnectionState::Closed => "closed",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn entry(kind: WebRTCStatsType, fields: &[(&str, u64)]) -> gst::Structure {
        let mut s = gst::Structure::builder("x").field("type", kind).build();
        for (k, v) in fields {
            s.set(*k, *v);
        }
        s
    }

    #[test]
    fn totals_sum_streams_and_rates_use_deltas() {
        gst::init().unwrap();
        let mut remote = gst::Structure::builder("r")
            .field("type", WebRTCStatsType::RemoteInboundRtp)
            .build();
        remote.set("round-trip-time", 0.012f64);
        let stats = gst::Structure::builder("application/x-webrtc-stats")
            .field(
                "a",
                entry(WebRTCStatsType::InboundRtp, &[("bytes-received", 1000)]),
            )
            .field(
                "b",
                entry(WebRTCStatsType::InboundRtp, &[("bytes-received", 500)]),
            )
            .field(
                "c",
                entry(WebRTCStatsType::OutboundRtp, &[("bytes-sent", 2000)]),
            )
            .field("d", remote)
            .field(
                "e",
                gst::Structure::builder("l")
                    .field("type", WebRTCStatsType::LocalCandidate)
                    .field("candidate-type", "srflx")
                    .build(),
            )
            .field(
                "f",
                gst::Structure::builder("r")
                    .field("type", WebRTCStatsType::RemoteCandidate)
                    .field("candidate-type", "relay")
                    .build(),
            )
            .build();
        let t = totals(&stats);
        assert_eq!((t.bytes_in, t.bytes_out), (1500, 2000));
        assert_eq!(t.rtt_s, Some(0.012));
        assert_eq!(t.path, Some((CandidateKind::Srflx, CandidateKind::Relay)));
        assert!(
            t.relayed,
            "a relay on either side is no longer peer to peer"
        );

        let mut rates = Rates::default();
        let t0 = Instant::now();
        rates.update(
            t0,
            Totals {
                bytes_in: 0,
                bytes_out: 0,
                ..t
            },
        );
        rates.update(t0 + Duration::from_secs(2), t);
        assert_eq!(rates.in_kbps, 6.0);
        assert_eq!(rates.out_kbps, 8.0);
    }
}
