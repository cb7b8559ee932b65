//! The connection's DTLS identity and the check of the other side's: a fresh ECDSA P-256
//! certificate for every connection, handed to webrtcbin before it writes our `a=fingerprint`,
//! and a comparison of the certificate the other side shows in the handshake with the
//! `a=fingerprint` of the SDP we applied.
//!
//! Why not GStreamer's default: `dtlsdec` makes one RSA-2048 certificate per process and every
//! call shares it. That is not "fresh keys for every connection" (the rules), it links all calls
//! of a kiosk to one identity, and an RSA certificate lets the DTLS server choose only
//! RSA-authenticated suites: a peer that offers only ECDHE-ECDSA suites (a conformant WebRTC
//! client may) cannot connect at all. BSI TR-02102-2 recommends ECDHE key exchange and
//! AEAD (AES-GCM) suites with TLS/DTLS 1.2, and ECDSA on P-256 or stronger; P-256 is also
//! what browsers make for WebRTC (`RTCPeerConnection.generateCertificate` default), so every
//! peer we meet supports it. A P-256 key costs about a millisecond; we still make them ahead
//! (a small stock filled by `call::warm_up`) so none is made while the patient waits.
//!
//! What GStreamer 1.22 cannot be told (its `gstdtlsagent.c` fixes the OpenSSL context): the
//! cipher list is `ALL:!ADH:!LOW:!EXP:!MD5:@STRENGTH` and the only SRTP profile offered is
//! `SRTP_AES128_CM_SHA1_80`. With our ECDSA certificate, a peer's choice is narrowed to ECDSA
//! suites, and OpenSSL 3 has only ephemeral (ECDHE/DHE) ones of those; see docs/protocol.md,
//! "DTLS and keys".
//!
//! And GStreamer 1.22's `dtlsdec` accepts any certificate. The check here runs inside the
//! handshake (OpenSSL's verify callback announces the peer's certificate as `peer-pem`, before
//! either side has exported SRTP keys): on a mismatch it closes this connection's DTLS and SRTP
//! both ways at once, so no key is ever agreed and no picture or sound crosses, and then tells
//! the call, which ends with `security_check_failed`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use gst::prelude::*;
use rand::RngCore;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};

use super::dtls_handover::give_pem;
use super::{PeerEvent, PeerEvents, emit};
use crate::wire::DtlsStats;

/// How many certificates are kept made ahead: one for the next connection and one for a
/// reconnect or the call after.
const STOCK: usize = 2;
/// Browsers make theirs valid for 30 days and back-dated by one, against clocks that differ.
const VALIDITY: time::Duration = time::Duration::days(30);
const BACKDATE: time::Duration = time::Duration::days(1);

/// Certificates made ahead, each handed out once. Process-wide like GStreamer's own certificate
/// cache it replaces; nothing but `take` ever reads one.
static MADE_AHEAD: Mutex<Vec<DtlsCertificate>> = Mutex::new(Vec::new());

/// A certificate and its key, as the PEM `dtlsdec` takes, and its fingerprint.
pub(crate) struct DtlsCertificate {
    pem: String,
    fingerprint: Fingerprint,
}

impl std::fmt::Debug for DtlsCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("DtlsCertificate")
            .field("fingerprint", &self.fingerprint.to_string())
            .finish_non_exhaustive()
    }
}

impl DtlsCertificate {
    /// A new self-signed ECDSA P-256 certificate with a random name and serial.
    pub(crate) fn generate() -> Result<Self, rcgen::Error> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut random = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut random);
        // A random name: nothing in it links the connection to a kiosk or to other calls.
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, crate::wire::to_hex(&random[..8]));
        params.distinguished_name = name;
        random[8] &= 0x7f;
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&random[8..]));
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - BACKDATE;
        params.not_after = now + VALIDITY;
        let certificate = params.self_signed(&key)?;
        Ok(Self {
            fingerprint: Fingerprint::of_der(certificate.der()),
            // dtlsdec reads the certificate first, then the key (webrtcbin takes the first
            // block for `a=fingerprint`).
            pem: format!("{}{}", certificate.pem(), key.serialize_pem()),
        })
    }

    #[cfg(test)]
    pub(super) fn pem(&self) -> &str {
        &self.pem
    }

    #[cfg(test)]
    pub(super) fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// One made ahead if there is one, else a new one; each is handed out only once.
    pub(crate) fn take() -> Result<Self, rcgen::Error> {
        let ahead = MADE_AHEAD
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match ahead {
            Some(certificate) => Ok(certificate),
            None => {
                tracing::debug!("no DTLS certificate made ahead: making one now");
                Self::generate()
            }
        }
    }
}

/// Makes certificates until `STOCK` are ready (on the caller's thread: the warm-up's).
pub(crate) fn make_ahead() {
    loop {
        if MADE_AHEAD
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
            >= STOCK
        {
            return;
        }
        match DtlsCertificate::generate() {
            Ok(certificate) => MADE_AHEAD
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(certificate),
            Err(e) => {
                tracing::warn!(error = %e, "no DTLS certificate made ahead");
                return;
            }
        }
    }
}

/// A SHA-256 certificate fingerprint (RFC 8122), over the certificate's DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fingerprint([u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FingerprintError {
    #[error("the remote SDP has no a=fingerprint")]
    Missing,
    #[error("a=fingerprint uses {0:?}; only sha-256 is accepted")]
    Unsupported(String),
    #[error("a=fingerprint is not a sha-256 value")]
    Malformed,
    #[error("the remote SDP names more than one certificate for its one (bundled) transport")]
    Conflicting,
}

impl Fingerprint {
    pub(crate) fn of_der(der: &[u8]) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        Self(digest.as_ref().try_into().expect("SHA-256 has 32 bytes"))
    }

    /// The first certificate of a PEM text, or `None` when there is none.
    pub(super) fn of_pem(pem: &str) -> Option<(Self, &'static str)> {
        let der = der_of_pem(pem)?;
        Some((Self::of_der(&der), key_kind(&der)))
    }

    /// An `a=fingerprint` value: `sha-256 AB:CD:…`, in any case, colons optional.
    pub(crate) fn parse(value: &str) -> Result<Self, FingerprintError> {
        let (algorithm, digits) = value
            .trim()
            .split_once(char::is_whitespace)
            .ok_or(FingerprintError::Malformed)?;
        if !algorithm.eq_ignore_ascii_case("sha-256") {
            return Err(FingerprintError::Unsupported(algorithm.into()));
        }
        Self::from_digits(digits).ok_or(FingerprintError::Malformed)
    }

    /// 64 hex digits, in any case, colons optional (`AB:cd:…` from SDP or `getStats()`).
    pub(crate) fn from_digits(text: &str) -> Option<Self> {
        let digits: String = text.trim().chars().filter(|c| *c != ':').collect();
        crate::wire::from_hex(&digits)?.try_into().ok().map(Self)
    }

    /// Upper-case hex digits without colons: the form the security code is computed over.
    pub(crate) fn digits(&self) -> String {
        crate::wire::to_hex(&self.0).to_ascii_uppercase()
    }
}

impl std::fmt::Display for Fingerprint {
    /// As in SDP: upper-case hex pairs joined by colons.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pairs: Vec<String> = self.0.iter().map(|b| format!("{b:02X}")).collect();
        f.write_str(&pairs.join(":"))
    }
}

/// The certificate the remote SDP names. With `max-bundle` all media share one DTLS transport,
/// so every `a=fingerprint` (session or media level) must name the same certificate; one we
/// cannot check (another hash) refuses the SDP rather than being skipped.
pub(crate) fn remote_fingerprint(sdp: &str) -> Result<Fingerprint, FingerprintError> {
    let mut named: Option<Fingerprint> = None;
    for line in sdp.lines() {
        let Some(value) = line.trim_end().strip_prefix("a=fingerprint:") else {
            continue;
        };
        let fingerprint = Fingerprint::parse(value)?;
        match &named {
            Some(earlier) if *earlier != fingerprint => return Err(FingerprintError::Conflicting),
            _ => named = Some(fingerprint),
        }
    }
    named.ok_or(FingerprintError::Missing)
}

/// The same SDP with every fingerprint changed (its first byte inverted): a test's stand-in for
/// a man in the middle who swapped the certificate.
pub(crate) fn wrong_fingerprints(sdp: &str) -> String {
    sdp.split_inclusive('\n')
        .map(|line| match line.strip_prefix("a=fingerprint:sha-256 ") {
            Some(rest) if rest.len() >= 2 => {
                let first = u8::from_str_radix(&rest[..2], 16).unwrap_or(0);
                format!("a=fingerprint:sha-256 {:02X}{}", !first, &rest[2..])
            }
            _ => line.to_string(),
        })
        .collect()
}

fn der_of_pem(pem: &str) -> Option<Vec<u8>> {
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).ok()?;
    Some(der.to_vec())
}

/// The key's kind, for the statistics (a label, not a check): the SubjectPublicKeyInfo's
/// algorithm identifier as DER bytes.
fn key_kind(der: &[u8]) -> &'static str {
    // SEQUENCE { id-ecPublicKey (1.2.840.10045.2.1), prime256v1 (1.2.840.10045.3.1.7) }
    const EC_P256: &[u8] = &[
        0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86,
        0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
    ];
    // rsaEncryption (1.2.840.113549.1.1.1)
    const RSA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ];
    let has = |pattern: &[u8]| der.windows(pattern.len()).any(|w| w == pattern);
    if has(EC_P256) {
        "ECDSA P-256"
    } else if has(RSA) {
        "RSA"
    } else {
        "other"
    }
}

/// What one connection knows about DTLS: its own certificate, what the remote SDP named, what
/// the handshake showed.
#[derive(Debug)]
struct Known {
    local: Fingerprint,
    expected: Option<Result<Fingerprint, FingerprintError>>,
    remote: Option<(Fingerprint, &'static str)>,
}

/// The connection's DTLS guard: shared by the session (which tells it the remote SDP) and the
/// handshake's thread (which checks the certificate).
#[derive(Debug, Clone)]
pub(crate) struct DtlsGuard {
    known: Arc<Mutex<Known>>,
    /// Set on a failed check: from then on nothing passes this connection's DTLS/SRTP either
    /// way.
    closed: Arc<AtomicBool>,
}

impl DtlsGuard {
    /// Gives `webrtc` our certificate for every DTLS transport it makes, and checks each
    /// transport's peer.
    ///
    /// webrtcbin 1.22 makes its transport inside `create-offer` (the offerer) or
    /// `set-remote-description` (the answerer) and writes `a=fingerprint` from the transport's
    /// `certificate` right after. No public moment lies between the two, so the certificate
    /// goes in as the transport's `dtlssrtpdec` is added to webrtcbin, synchronously, which is
    /// what the transport's `certificate` property does too (it only forwards to that `pem`).
    /// A state change of the pipeline may reach the decoder first; `give_pem` makes that harmless
    /// (see `dtls_handover.rs`).
    pub(crate) fn install(
        webrtc: &gst::Element,
        certificate: DtlsCertificate,
        events: PeerEvents,
        generation: u64,
    ) -> Self {
        let guard = Self {
            known: Arc::new(Mutex::new(Known {
                local: certificate.fingerprint.clone(),
                expected: None,
                remote: None,
            })),
            closed: Arc::new(AtomicBool::new(false)),
        };
        let for_elements = guard.clone();
        let pem = certificate.pem;
        webrtc.connect("deep-element-added", false, move |values| {
            let element = values.get(2).and_then(|v| v.get::<gst::Element>().ok())?;
            let factory = element.factory()?;
            match factory.name().as_str() {
                "dtlssrtpdec" => {
                    give_pem(&element, &pem);
                    for_elements.drop_when_closed(&element, "sink");
                    let (guard, events) = (for_elements.clone(), events.clone());
                    element.connect_notify(Some("peer-pem"), move |element, _| {
                        let peer = element.property::<Option<String>>("peer-pem");
                        if let Err(why) = guard.check(peer.as_deref()) {
                            emit(&events, generation, PeerEvent::SecurityCheckFailed(why));
                        }
                    });
                }
                "dtlssrtpenc" => for_elements.drop_when_closed(&element, "src"),
                _ => {}
            }
            None
        });
        guard
    }

    fn drop_when_closed(&self, element: &gst::Element, pad: &str) {
        let Some(pad) = element.static_pad(pad) else {
            tracing::error!(pad, "DTLS element without its pad: cannot guard it");
            self.closed.store(true, Ordering::SeqCst);
            return;
        };
        let closed = self.closed.clone();
        pad.add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
            move |_, _| {
                if closed.load(Ordering::SeqCst) {
                    gst::PadProbeReturn::Drop
                } else {
                    gst::PadProbeReturn::Ok
                }
            },
        );
    }

    /// `sdp` (our offer or answer) with `a=fingerprint` naming our certificate. GStreamer 1.22
    /// writes that line from the transport's PEM by decoding every base64 line in it
    /// (`_generate_fingerprint_from_certificate`, webrtcsdp.c): with the key in the same PEM, as
    /// `dtlsdec` needs it, the value it writes is a hash over certificate and key, which names
    /// no certificate, and every standard peer would refuse the handshake. Its own generated
    /// certificate escapes this only because it keeps no key in its PEM.
    pub(crate) fn with_our_fingerprint(&self, sdp: &str) -> String {
        let ours = format!("a=fingerprint:sha-256 {}", self.known().local);
        sdp.split_inclusive('\n')
            .map(|line| {
                if line.starts_with("a=fingerprint:") {
                    let ending = &line[line.trim_end().len()..];
                    format!("{ours}{ending}")
                } else {
                    line.to_string()
                }
            })
            .collect()
    }

    /// The remote SDP this connection applied: the certificate the handshake must show.
    pub(crate) fn expect(&self, sdp: &str) {
        let expected = remote_fingerprint(sdp);
        if let Err(e) = &expected {
            tracing::warn!(error = %e, "remote SDP names no certificate we can check");
        }
        self.known().expected = Some(expected);
    }

    /// Compares the handshake's certificate with the remote SDP's fingerprint. Fail-safe
    /// order: the connection is closed before anyone is told.
    fn check(&self, peer_pem: Option<&str>) -> Result<(), String> {
        let mut known = self.known();
        let shown = peer_pem.and_then(Fingerprint::of_pem);
        let verdict = match (&known.expected, &shown) {
            (Some(Ok(expected)), Some((shown, _))) if expected == shown => Ok(()),
            (Some(Ok(_)), Some(_)) => {
                Err("the DTLS certificate does not match the SDP's fingerprint".to_string())
            }
            (_, None) => Err("the DTLS peer showed no readable certificate".to_string()),
            (None, _) => Err("DTLS began before a remote SDP was applied".to_string()),
            (Some(Err(e)), _) => Err(e.to_string()),
        };
        known.remote = shown;
        drop(known);
        if verdict.is_err() {
            self.closed.store(true, Ordering::SeqCst);
        }
        verdict
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn stats(&self) -> DtlsStats {
        let known = self.known();
        DtlsStats {
            local_fingerprint: known.local.to_string(),
            remote_fingerprint: known.remote.as_ref().map(|(f, _)| f.to_string()),
            remote_key: known.remote.as_ref().map(|(_, kind)| (*kind).to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_certificate_is_p256_and_new() {
        let (a, b) = (
            DtlsCertificate::take().unwrap(),
            DtlsCertificate::take().unwrap(),
        );
        assert_ne!(a.fingerprint, b.fingerprint);
        let (shown, kind) = Fingerprint::of_pem(&a.pem).unwrap();
        assert_eq!(
            shown, a.fingerprint,
            "the fingerprint is over the PEM's certificate"
        );
        assert_eq!(kind, "ECDSA P-256");
        assert!(a.pem.contains("-----BEGIN PRIVATE KEY-----"));
    }

    #[test]
    fn made_ahead_are_handed_out_once() {
        make_ahead();
        let taken: Vec<_> = (0..STOCK + 1)
            .map(|_| DtlsCertificate::take().unwrap().fingerprint)
            .collect();
        for (i, f) in taken.iter().enumerate() {
            assert!(
                !taken[i + 1..].contains(f),
                "a certificate handed out twice"
            );
        }
    }

    #[test]
    fn fingerprints_compare_without_case_or_colons() {
        let upper = "sha-256 0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9";
        let lower = upper.to_lowercase().replace(':', "");
        assert_eq!(Fingerprint::parse(upper), Fingerprint::parse(&lower));
        assert_eq!(
            Fingerprint::parse(upper).unwrap().to_string(),
            upper["sha-256 ".len()..]
        );
        assert_eq!(
            Fingerprint::parse("SHA-256 00"),
            Err(FingerprintError::Malformed)
        );
        assert_eq!(
            Fingerprint::parse("sha-1 00:11"),
            Err(FingerprintError::Unsupported("sha-1".into()))
        );
    }

    fn sdp_with(lines: &[String]) -> String {
        let mut sdp = "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n".to_string();
        for line in lines {
            sdp.push_str(line);
            sdp.push_str("\r\n");
        }
        sdp
    }

    #[test]
    fn the_remote_sdp_names_one_sha256_certificate() {
        let a = DtlsCertificate::generate().unwrap().fingerprint;
        let b = DtlsCertificate::generate().unwrap().fingerprint;
        let line = |f: &Fingerprint| format!("a=fingerprint:sha-256 {f}");
        let both_media = sdp_with(&["m=video".into(), line(&a), "m=audio".into(), line(&a)]);
        assert_eq!(remote_fingerprint(&both_media), Ok(a.clone()));
        let differing = sdp_with(&[line(&a), line(&b)]);
        assert_eq!(
            remote_fingerprint(&differing),
            Err(FingerprintError::Conflicting)
        );
        assert_eq!(
            remote_fingerprint(&sdp_with(&[])),
            Err(FingerprintError::Missing)
        );
        let sha1 = sdp_with(&["a=fingerprint:sha-1 00:11".into(), line(&a)]);
        assert!(matches!(
            remote_fingerprint(&sha1),
            Err(FingerprintError::Unsupported(_))
        ));
        let wrong = wrong_fingerprints(&both_media);
        assert!(matches!(remote_fingerprint(&wrong), Ok(f) if f != a));
    }

    #[test]
    fn webrtcbin_offers_our_certificate() {
        gst::init().unwrap();
        let webrtc = gst::ElementFactory::make("webrtcbin").build().unwrap();
        let pipeline = gst::Pipeline::new();
        pipeline.add(&webrtc).unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        let certificate = DtlsCertificate::generate().unwrap();
        let ours = certificate.fingerprint.clone();
        let (events, _received) = tokio::sync::mpsc::unbounded_channel();
        let guard = DtlsGuard::install(&webrtc, certificate, events, 1);
        let caps = gst::Caps::builder("application/x-rtp")
            .field("media", "audio")
            .field("encoding-name", "OPUS")
            .field("payload", 96i32)
            .field("clock-rate", 48000i32)
            .build();
        webrtc.emit_by_name::<gst_webrtc::WebRTCRTPTransceiver>(
            "add-transceiver",
            &[&gst_webrtc::WebRTCRTPTransceiverDirection::Sendrecv, &caps],
        );
        let promise = gst::Promise::new();
        webrtc.emit_by_name::<()>("create-offer", &[&None::<gst::Structure>, &promise]);
        promise.wait();
        let offer = promise
            .get_reply()
            .unwrap()
            .get::<gst_webrtc::WebRTCSessionDescription>("offer")
            .unwrap();
        let written = offer.sdp().as_text().unwrap();
        assert_ne!(
            remote_fingerprint(&written),
            Ok(ours.clone()),
            "GStreamer 1.22 hashes the key too; when it no longer does, drop the correction"
        );
        let sdp = guard.with_our_fingerprint(&written);
        assert_eq!(remote_fingerprint(&sdp), Ok(ours.clone()), "{sdp}");
        assert_eq!(sdp.len(), written.len(), "only the fingerprint changed");
        let transceiver = webrtc
            .emit_by_name::<Option<gst_webrtc::WebRTCRTPTransceiver>>("get-transceiver", &[&0i32])
            .unwrap();
        let transport = transceiver
            .property::<gst_webrtc::WebRTCRTPSender>("sender")
            .property::<gst_webrtc::WebRTCDTLSTransport>("transport");
        let pem = transport.property::<String>("certificate");
        assert_eq!(
            Fingerprint::of_pem(&pem),
            Some((ours, "ECDSA P-256")),
            "the transport has our certificate"
        );
        pipeline.set_state(gst::State::Null).unwrap();
    }

    #[test]
    fn the_check_closes_the_connection_before_it_tells() {
        let certificate = DtlsCertificate::generate().unwrap();
        let other = DtlsCertificate::generate().unwrap();
        let guard = DtlsGuard {
            known: Arc::new(Mutex::new(Known {
                local: other.fingerprint.clone(),
                expected: None,
                remote: None,
            })),
            closed: Arc::new(AtomicBool::new(false)),
        };
        assert!(guard.check(Some(&certificate.pem)).is_err(), "no SDP yet");
        assert!(guard.closed.load(Ordering::SeqCst));

        guard.closed.store(false, Ordering::SeqCst);
        let named = sdp_with(&[format!("a=fingerprint:sha-256 {}", certificate.fingerprint)]);
        guard.expect(&named);
        assert_eq!(guard.check(Some(&certificate.pem)), Ok(()));
        assert!(!guard.closed.load(Ordering::SeqCst));
        assert_eq!(guard.stats().remote_key.as_deref(), Some("ECDSA P-256"));

        assert!(guard.check(Some(&other.pem)).is_err());
        assert!(guard.closed.load(Ordering::SeqCst));
        assert!(guard.check(None).is_err());
    }
}
