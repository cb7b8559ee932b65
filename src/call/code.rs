//! The security code both people compare (docs/protocol.md section 5, "The security code"): four
//! digits from the session, its key and the two DTLS certificates of the connection. Each side
//! computes it from the certificate it holds and the one the other side showed in the handshake,
//! so the two codes are the same only when nobody sits between them (a man in the middle shows
//! each side a certificate of his own).
//!
//! Pure: no I/O, no logging. The code must never reach a log or an MQTT payload: it is only worth
//! something while nobody but the two people has seen both. The doctor's page computes it with
//! WebCrypto (`web/doctor/code.js`), checked against `web/doctor/test/code-vectors.json`.

use ring::hmac;

use crate::wire::SessionKey;

/// The first line of the message, so this HMAC can never stand for another of the session key's.
const LABEL: &str = "praxiskiosk security code v1";

/// What the code is keyed with: the session and, in a fleet with a CA, its session key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeBasis {
    pub session: String,
    /// `None` only on a plaintext development broker: the code then rests on the session id
    /// alone, which the broker knows (see the protocol).
    pub key: Option<SessionKey>,
}

/// A fingerprint as the code uses it: the SHA-256 of the certificate's DER as 64 upper-case hex
/// digits, no colons (`AB:cd:…` from SDP or `getStats()` and `ABCD…` are the same). `None` for
/// anything else.
pub fn normalised_fingerprint(text: &str) -> Option<String> {
    super::peer::dtls::Fingerprint::from_digits(text).map(|f| f.digits())
}

/// The four digits, `"0000"`–`"9999"`: HMAC-SHA256, keyed with the session key (or, without one,
/// the session id's bytes), over `praxiskiosk security code v1\n{session}\n{kiosk}\n{doctor}`
/// with the kiosk's fingerprint first, whichever side computes it; its first four bytes as a
/// big-endian number, modulo 10000. `None` if a fingerprint is not a SHA-256 value.
///
/// 2^32 is not a multiple of 10000: the codes 0000–7295 are each 1 in about 430000 likelier
/// than the others, which no one can use.
pub fn security_code(
    basis: &CodeBasis,
    kiosk_fingerprint: &str,
    doctor_fingerprint: &str,
) -> Option<String> {
    let kiosk = normalised_fingerprint(kiosk_fingerprint)?;
    let doctor = normalised_fingerprint(doctor_fingerprint)?;
    let key = match &basis.key {
        Some(key) => hmac::Key::new(hmac::HMAC_SHA256, &key.0),
        None => hmac::Key::new(hmac::HMAC_SHA256, basis.session.as_bytes()),
    };
    let message = format!("{LABEL}\n{}\n{kiosk}\n{doctor}", basis.session);
    let tag = hmac::sign(&key, message.as_bytes());
    let first: [u8; 4] = tag.as_ref()[..4]
        .try_into()
        .expect("HMAC-SHA256 has 32 bytes");
    Some(format!("{:04}", u32::from_be_bytes(first) % 10_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIOSK: &str = "8B:1F:0A:3C:55:D2:E7:90:4A:6B:11:C0:FE:23:79:AA:01:9D:3E:44:B5:60:7C:2F:88:E1:D9:13:06:5A:BC:72";
    const DOCTOR: &str = "3F:A0:91:7E:2C:D4:58:B6:0E:13:9A:C7:F1:24:6D:80:5B:E2:37:9C:A4:01:DF:68:B3:15:7A:C9:2E:40:F6:1D";

    fn keyed(session: &str) -> CodeBasis {
        CodeBasis {
            session: session.into(),
            key: Some(SessionKey(std::array::from_fn(|i| i as u8))),
        }
    }

    /// A fingerprint that differs from `base` in digit `at`.
    fn changed(base: &str, at: usize) -> String {
        let mut digits: Vec<u8> = normalised_fingerprint(base).unwrap().into_bytes();
        digits[at] = if digits[at] == b'0' { b'1' } else { b'0' };
        String::from_utf8(digits).unwrap()
    }

    #[test]
    fn four_digits_the_same_for_any_spelling_of_the_fingerprints() {
        let code = security_code(&keyed("s-1"), KIOSK, DOCTOR).unwrap();
        assert_eq!(code.len(), 4);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        let plain = |f: &str| f.replace(':', "").to_lowercase();
        assert_eq!(
            security_code(&keyed("s-1"), &plain(KIOSK), &plain(DOCTOR)).unwrap(),
            code
        );
        assert_eq!(
            security_code(&keyed("s-1"), &format!(" {KIOSK}\n"), DOCTOR).unwrap(),
            code
        );
    }

    #[test]
    fn what_is_not_a_sha256_fingerprint_has_no_code() {
        assert_eq!(security_code(&keyed("s-1"), "", DOCTOR), None);
        assert_eq!(security_code(&keyed("s-1"), &KIOSK[3..], DOCTOR), None);
        assert_eq!(
            security_code(&keyed("s-1"), KIOSK, &DOCTOR.replace('F', "G")),
            None
        );
    }

    /// The order is the roles', not the callers': swapping the two is another code (most of the
    /// time), so both sides must put the kiosk's first, which they do by role.
    #[test]
    fn the_kiosks_fingerprint_comes_first() {
        let swapped = (0..40)
            .filter(|i| {
                let doctor = changed(DOCTOR, i % 64);
                security_code(&keyed(&format!("s-{i}")), KIOSK, &doctor)
                    != security_code(&keyed(&format!("s-{i}")), &doctor, KIOSK)
            })
            .count();
        assert!(swapped >= 38, "{swapped} of 40 differ");
    }

    /// A man in the middle changes one certificate on each side; the session key differs when
    /// one side's key was forged. Each change must change the code (all but 1 in 10000 times).
    #[test]
    fn any_change_of_an_input_changes_the_code_nearly_always() {
        let base = security_code(&keyed("s-1"), KIOSK, DOCTOR).unwrap();
        let mut variants = Vec::new();
        for at in 0..64 {
            variants.push(security_code(&keyed("s-1"), &changed(KIOSK, at), DOCTOR));
            variants.push(security_code(&keyed("s-1"), KIOSK, &changed(DOCTOR, at)));
        }
        variants.push(security_code(&keyed("s-2"), KIOSK, DOCTOR));
        let mut other_key = keyed("s-1");
        other_key.key = Some(SessionKey([7; 32]));
        variants.push(security_code(&other_key, KIOSK, DOCTOR));
        let no_key = CodeBasis {
            session: "s-1".into(),
            key: None,
        };
        variants.push(security_code(&no_key, KIOSK, DOCTOR));
        let same = variants
            .iter()
            .filter(|v| v.as_deref() == Some(&base))
            .count();
        // 131 variants; by chance one may collide (a 1.3 % event), two would be a defect.
        assert!(
            same <= 1,
            "{same} of {} variants kept the code",
            variants.len()
        );
    }

    /// The doctor's page (`web/doctor/code.js`) is tested against these; this test keeps the file
    /// what this code computes. `PRAXISKIOSK_WRITE_VECTORS=1` rewrites it.
    #[test]
    fn the_pages_test_vectors_are_what_this_code_computes() {
        let cases = [
            (
                keyed("0123456789abcdef"),
                KIOSK.to_string(),
                DOCTOR.to_string(),
            ),
            (
                keyed("0123456789abcdef"),
                DOCTOR.to_string(),
                KIOSK.to_string(),
            ),
            (
                keyed("s-7f3c9e"),
                KIOSK.to_lowercase(),
                DOCTOR.replace(':', ""),
            ),
            (
                CodeBasis {
                    session: "s-7f3c9e".into(),
                    key: None,
                },
                KIOSK.to_string(),
                DOCTOR.to_string(),
            ),
            (keyed("s-7f3c9e"), changed(KIOSK, 63), DOCTOR.to_string()),
        ];
        let vectors: Vec<_> = cases
            .iter()
            .map(|(basis, kiosk, doctor)| {
                serde_json::json!({
                    "session": basis.session,
                    "key": basis.key.as_ref().map(SessionKey::to_base64url),
                    "kiosk_fingerprint": kiosk,
                    "doctor_fingerprint": doctor,
                    "code": security_code(basis, kiosk, doctor).unwrap(),
                })
            })
            .collect();
        crate::vectors::assert_file_holds("web/doctor/test/code-vectors.json", &vectors.into());
    }
}
