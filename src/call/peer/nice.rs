//! libnice, as webrtcbin makes it: which addresses it gathers on, and the defaults of its agent
//! that the kiosk decides instead of inheriting.

use gst::prelude::*;

use crate::call::CallSpec;

/// The addresses ICE gathers on: the configured ones, or else every address of this machine
/// that others can reach. libnice would also offer IPv6 link-local addresses, which no peer on
/// another network can reach: the connection then waits for their checks to time out before it
/// settles on the path that works (measured: about 2 s more to connect across two NATs).
pub(super) fn ice_addresses(spec: &CallSpec) -> Vec<String> {
    if !spec.ice.local_addresses.is_empty() {
        return spec.ice.local_addresses.clone();
    }
    crate::platform::netwatch::local_addresses()
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// How often libnice sends a connectivity check again before it gives the pair up (its default
/// is 3). webrtcbin has libnice nominate "regularly": with one working pair it waits until every
/// other pair has failed, and a pair to the other side's private address (unreachable from
/// another network, and dropped without an answer on the way) fails only after all its
/// retransmissions: 2 s with the default, the bulk of the time to connect across two NATs.
const STUN_RETRANSMISSIONS: u32 = 1;

/// Defaults of libnice's agent that webrtcbin leaves as they are, decided here:
/// - UPnP off: the kiosk must not open ports on a care home's router (a UPnP IGD mapping is
///   open to anyone while it lasts), and libnice holds back its candidates until the router
///   answers or 200 ms pass (measured in the field network), which only delays the call.
/// - ICE-TCP off: TCP candidates need a peer that is reachable over TCP without NAT, which
///   neither side of a consultation is; they only add pairs to check and delay the others.
pub(super) fn tune_ice_agent(ice: &gst_webrtc::WebRTCICE) {
    let Some(nice) = ice
        .find_property("agent")
        .map(|_| ice.property::<gst::glib::Object>("agent"))
    else {
        tracing::warn!("webrtcbin's ICE agent is not libnice: its defaults stay");
        return;
    };
    for (property, value) in [("upnp", false), ("ice-tcp", false)] {
        if nice.find_property(property).is_some() {
            nice.set_property(property, value);
        } else {
            tracing::warn!(property, "libnice has no such property; its default stays");
        }
    }
    if nice.find_property("stun-max-retransmissions").is_some() {
        nice.set_property("stun-max-retransmissions", STUN_RETRANSMISSIONS);
    }
}
