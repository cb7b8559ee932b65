//! What an error on a call's pipeline bus means: which part failed (the camera, the
//! microphone or the connection), whether the connection's transport failed (then a new
//! connection may do better), and the reason a failed call gives in its log and to the
//! headless doctor.

use gst::prelude::*;

use crate::call::Failure;

pub(super) const CAMERA_BIN: &str = "camera";
pub(super) const MICROPHONE_BIN: &str = "microphone";

/// `message`'s source and every bin it sits in, innermost first.
fn ancestry(message: &gst::Message) -> impl Iterator<Item = gst::Object> {
    std::iter::successors(message.src().cloned(), |o| o.parent())
}

/// What an error message from the pipeline means for the call: the send bins are the devices,
/// everything else is the connection.
pub(crate) fn failure_of(message: &gst::Message) -> Failure {
    ancestry(message)
        .find_map(|o| match o.name().as_str() {
            CAMERA_BIN => Some(Failure::Camera),
            MICROPHONE_BIN => Some(Failure::Microphone),
            _ => None,
        })
        .unwrap_or(Failure::Connection)
}

/// Whether `message` comes from a connection's transport (ICE, DTLS, SRTP: webrtcbin's
/// transport bins), not from our media.
pub(crate) fn in_transport(message: &gst::Message) -> bool {
    ancestry(message).any(|o| {
        let name = o.name();
        name.starts_with("transportreceivebin") || name.starts_with("transportsendbin")
    })
}

/// The reason a failed call gives: in words first, German and English (`kioskctl doctor` prints
/// it), then GStreamer's own (its element path and debug text, for whoever reads the log). A
/// DTLS error is a handshake the two sides could not complete: GStreamer says only "Could not
/// read from resource".
pub(crate) fn failure_reason(message: &gst::Message, error: &gst::message::Error) -> String {
    let dtls = ancestry(message).any(|o| o.name().starts_with("dtls"));
    let words = if dtls {
        "die verschlüsselte Verbindung kam nicht zustande / the encrypted connection could not \
         be set up (DTLS-Handshake gescheitert: keine gemeinsame Cipher-Suite oder ein Zertifikat \
         abgelehnt / DTLS handshake failed: no cipher suite in common, or a certificate refused)"
    } else {
        "die Medien-Pipeline ist ausgefallen / the pipeline failed"
    };
    let source = message
        .src()
        .map(|s| s.path_string().to_string())
        .unwrap_or_default();
    format!("{words}: {source}: {} ({:?})", error.error(), error.debug())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error posted by an element named `element` inside a bin named `bin` (returned too:
    /// the message finds the bin through the element only while the bin lives).
    fn error_from(bin: &str, element: &str) -> (gst::Bin, gst::Message) {
        gst::init().expect("GStreamer starts");
        let outer = gst::Bin::with_name(bin);
        let inner = gst::ElementFactory::make("identity")
            .name(element)
            .build()
            .unwrap();
        outer.add(&inner).unwrap();
        let message =
            gst::message::Error::builder(gst::ResourceError::Read, "Could not read from resource.")
                .src(&inner)
                .debug("Fatal SSL error")
                .build();
        (outer, message)
    }

    fn reason(message: &gst::Message) -> String {
        let gst::MessageView::Error(e) = message.view() else {
            panic!("an error message")
        };
        failure_reason(message, e)
    }

    #[test]
    fn a_failed_dtls_handshake_is_named_and_tried_afresh() {
        let (_bin, message) = error_from("transportreceivebin3", "dtlsdec4");
        assert!(in_transport(&message));
        assert_eq!(failure_of(&message), Failure::Connection);
        let why = reason(&message);
        assert!(
            why.starts_with("die verschlüsselte Verbindung kam nicht zustande / ")
                && why.contains("the encrypted connection could not be set up"),
            "{why}"
        );
        assert!(
            why.contains("dtlsdec4") && why.contains("Fatal SSL error"),
            "{why}"
        );
    }

    #[test]
    fn a_device_error_is_the_devices_and_not_the_transports() {
        let (_bin, message) = error_from(CAMERA_BIN, "v4l2src0");
        assert!(!in_transport(&message));
        assert_eq!(failure_of(&message), Failure::Camera);
        let why = reason(&message);
        assert!(
            why.starts_with("die Medien-Pipeline ist ausgefallen / the pipeline failed: "),
            "{why}"
        );
        let (_bin, message) = error_from(MICROPHONE_BIN, "alsasrc0");
        assert_eq!(failure_of(&message), Failure::Microphone);
    }
}
