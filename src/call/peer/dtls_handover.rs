//! Handing our certificate to a `dtlssrtpdec` that a concurrent state change may already have
//! started, so that its handshake still has the callbacks that accept the peer's certificate and
//! take the SRTP key.
//!
//! Why this needs care in GStreamer 1.22 (`gst-plugins-bad/ext/dtls/gstdtlsdec.c`):
//! - `dtlsdec` makes its DTLS connection when webrtcbin gives it its `connection-id`, with
//!   GStreamer's own certificate. Setting `pem` makes a new connection with ours and drops the
//!   first (`gst_dtls_dec_set_property` → `create_connection`).
//! - `dtlsdec` connects its `on-peer-certificate` and `on-decoder-key` handlers to the connection
//!   of the moment, once, on NULL → READY (`gst_dtls_dec_change_state`).
//! - The connection's OpenSSL verify callback accepts the peer's certificate only if such a
//!   handler says so (`openssl_verify_callback` in `gstdtlsconnection.c`); without one it refuses.
//!
//! So if the decoder leaves NULL before `pem` is set, the connection that does the handshake has
//! no handlers: it refuses every certificate ("certificate verify failed" as DTLS server, the
//! other side reads alert 48 "unknown ca"), both sides report "Fatal SSL error" within a few
//! milliseconds of ICE completing, and no SRTP key would reach the decoder either. webrtcbin
//! adds a new transport's bins to itself first and brings them to its state only afterwards
//! (`_create_transport_channel`, `_get_or_create_rtp_transport_channel`), and we set `pem` in
//! between (on `deep-element-added`). But a state change of the whole pipeline that runs in
//! another thread meanwhile reaches the new bins as soon as they are children: our call
//! pipelines come up asynchronously (`set_state(Playing)` returns `ASYNC`: the self-view sink
//! prerolls on the camera's first frame, then the pipeline goes on to PLAYING from another
//! thread, `gst_bin_continue_func` by `gst_element_call_async` in `gstbin.c`), and that
//! overlaps `create-offer` and `set-remote-description` right after a connection is made.
//! Measured: every failed handshake had its decoder in PLAYING by the time `pem` was set;
//! every one that worked, in NULL.

use gst::prelude::*;

/// Sets `pem` on `dtlssrtpdec` and makes sure its `dtlsdec` goes NULL → READY only after that,
/// whatever state change ran meanwhile.
pub(super) fn give_pem(dtlssrtpdec: &gst::Element, pem: &str) {
    dtlssrtpdec.set_property("pem", pem);
    let (state, pending) = (dtlssrtpdec.current_state(), dtlssrtpdec.pending_state());
    if (state, pending) != (gst::State::Null, gst::State::VoidPending) {
        // A sign of load, not an error: the restart below mends it.
        tracing::debug!(
            ?state,
            "the DTLS decoder had left NULL when its certificate came"
        );
    }
    // Taking the element to NULL waits for any state change in progress (its state lock) and
    // undoes one that began before the certificate was set, and with it the handlers on the
    // connection that was dropped. A decoder still in NULL, the usual case, is not touched.
    if dtlssrtpdec.set_state(gst::State::Null).is_err() {
        tracing::error!("the DTLS decoder did not stop: its handshake may refuse the peer");
    }
    // Back to where its parent is (or is going): its NULL → READY now connects the handlers
    // to the connection that has our certificate. While the parent is still in NULL (webrtcbin
    // has not synced the new bin yet) nothing changes here.
    if dtlssrtpdec.sync_state_with_parent().is_err() {
        tracing::error!("the DTLS decoder did not follow its bin's state");
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::call::peer::dtls::{DtlsCertificate, Fingerprint};

    fn dtls_element(factory: &str, connection: &str) -> gst::Element {
        gst::ElementFactory::make(factory)
            .property("connection-id", connection)
            .build()
            .unwrap()
    }

    fn connection_state(element: &gst::Element) -> String {
        let value = element.property_value("connection-state");
        gst::glib::EnumValue::from_value(&value)
            .map(|(_, v)| v.nick().to_string())
            .unwrap_or_default()
    }

    /// A DTLS server (our certificate, handed over late) and a client in one pipeline, linked
    /// back to back as webrtcbin's transports would be over ICE.
    #[test]
    fn a_decoder_started_before_its_certificate_still_accepts_the_peer() {
        gst::init().unwrap();
        let (ours, theirs) = (
            DtlsCertificate::generate().unwrap(),
            DtlsCertificate::generate().unwrap(),
        );
        // Connection ids are process-wide (a table in gstdtlsdec.c): unique per test run.
        let run: u32 = rand::random();
        let (server, client) = (format!("server-{run}"), format!("client-{run}"));
        let server_enc = dtls_element("dtlssrtpenc", &server);
        server_enc.set_property("is-client", false);
        let server_dec = dtls_element("dtlssrtpdec", &server);
        let client_enc = dtls_element("dtlssrtpenc", &client);
        client_enc.set_property("is-client", true);
        let client_dec = dtls_element("dtlssrtpdec", &client);
        client_dec.set_property("pem", theirs.pem());
        let pipeline = gst::Pipeline::new();
        pipeline
            .add_many([&server_enc, &server_dec, &client_enc, &client_dec])
            .unwrap();
        client_enc
            .link_pads(Some("src"), &server_dec, Some("sink"))
            .unwrap();
        server_enc
            .link_pads(Some("src"), &client_dec, Some("sink"))
            .unwrap();

        // What a concurrent state change of the pipeline does: the decoder has left NULL
        // when the certificate comes.
        server_dec.set_state(gst::State::Ready).unwrap();
        give_pem(&server_dec, ours.pem());

        pipeline.set_state(gst::State::Playing).unwrap();
        let bus = pipeline.bus().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut error = None;
        while Instant::now() < deadline
            && error.is_none()
            && connection_state(&server_dec) != "connected"
        {
            error = bus.timed_pop_filtered(
                gst::ClockTime::from_mseconds(20),
                &[gst::MessageType::Error],
            );
        }
        let state = connection_state(&server_dec);
        let shown = server_dec.property::<Option<String>>("peer-pem");
        pipeline.set_state(gst::State::Null).unwrap();

        assert!(error.is_none(), "the handshake failed: {error:?}");
        assert_eq!(state, "connected");
        assert_eq!(
            shown
                .as_deref()
                .and_then(Fingerprint::of_pem)
                .map(|(f, _)| f),
            Some(theirs.fingerprint().clone()),
            "the server saw the client's certificate"
        );
    }
}
