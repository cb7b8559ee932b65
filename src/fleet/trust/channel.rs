//! The sealed signalling of one session (docs/protocol.md section 5, "Sealed signalling"): each
//! message is AES-256-GCM under a key of its direction, derived with HKDF-SHA256 from the
//! session key; the nonce is the direction's 4-byte tag and the 8-byte sequence number; the
//! associated data names the session, the sender and the sequence number. A receiver takes a
//! message only if its number is higher than every one it took from that sender before.
//!
//! Pure: no I/O, no clock (the caller passes the time), no logging. The doctor's page does the
//! same with WebCrypto (`web/doctor/seal.js`), checked against `web/doctor/test/seal-vectors.json`.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;

use crate::wire::{Sender, SessionKey};

const SALT: &[u8] = b"praxiskiosk signalling v2";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChannelError {
    #[error("message claims to come from this side")]
    WrongDirection,
    #[error("sequence number {seq} is not above {last}, the highest taken: a replay")]
    Replayed { seq: u64, last: u64 },
    #[error("message does not open: not sealed with this session's key, or altered")]
    Forged,
}

/// One side's view of a session's sealed signalling.
pub struct Channel {
    session: String,
    me: Sender,
    send: LessSafeKey,
    receive: LessSafeKey,
    last_sent: u64,
    last_taken: Option<u64>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("session", &self.session)
            .field("me", &self.me)
            .field("last_sent", &self.last_sent)
            .field("last_taken", &self.last_taken)
            .finish_non_exhaustive()
    }
}

struct Len32;

impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

/// The key of messages from `from`: HKDF-SHA256(salt, session key, info "{from}\n{session}").
pub fn direction_key(key: &SessionKey, session: &str, from: Sender) -> [u8; 32] {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, SALT).extract(&key.0);
    let info = format!("{}\n{session}", from.as_str());
    let mut out = [0u8; 32];
    prk.expand(&[info.as_bytes()], Len32)
        .and_then(|okm| okm.fill(&mut out))
        .expect("32 bytes is a valid HKDF-SHA256 length");
    out
}

/// `kios` or `doct`, then the sequence number, big-endian.
pub fn nonce(from: Sender, seq: u64) -> [u8; 12] {
    let tag: &[u8; 4] = match from {
        Sender::Kiosk => b"kios",
        Sender::Doctor => b"doct",
    };
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(tag);
    nonce[4..].copy_from_slice(&seq.to_be_bytes());
    nonce
}

/// `praxiskiosk signal v2\n{session}\n{from}\n{seq}`, the number in decimal.
pub fn associated_data(session: &str, from: Sender, seq: u64) -> Vec<u8> {
    format!("praxiskiosk signal v2\n{session}\n{}\n{seq}", from.as_str()).into_bytes()
}

fn aead(key: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("32-byte key"))
}

impl Channel {
    pub fn new(key: &SessionKey, session: &str, me: Sender) -> Self {
        Self {
            session: session.into(),
            me,
            send: aead(&direction_key(key, session, me)),
            receive: aead(&direction_key(key, session, me.other())),
            last_sent: 0,
            last_taken: None,
        }
    }

    pub fn me(&self) -> Sender {
        self.me
    }

    /// Seals the next message: its number is the last one plus one, or the time in ms if that
    /// is higher, so a side that restarts (a reloaded page) still numbers above what it sent.
    pub fn seal(&mut self, plaintext: &[u8], now_ms: u64) -> (u64, Vec<u8>) {
        let seq = (self.last_sent + 1).max(now_ms);
        self.last_sent = seq;
        let mut out = plaintext.to_vec();
        self.send
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce(self.me, seq)),
                Aad::from(associated_data(&self.session, self.me, seq)),
                &mut out,
            )
            .expect("a signalling message is far below AES-GCM's limit");
        (seq, out)
    }

    /// Opens a message of the other side. Only a message that opens counts towards the replay
    /// bound, so forged numbers cannot lock the real sender out.
    pub fn open(&mut self, from: Sender, seq: u64, sealed: &[u8]) -> Result<Vec<u8>, ChannelError> {
        if from == self.me {
            return Err(ChannelError::WrongDirection);
        }
        if let Some(last) = self.last_taken.filter(|last| seq <= *last) {
            return Err(ChannelError::Replayed { seq, last });
        }
        let mut buf = sealed.to_vec();
        let plain = self
            .receive
            .open_in_place(
                Nonce::assume_unique_for_key(nonce(from, seq)),
                Aad::from(associated_data(&self.session, from, seq)),
                &mut buf,
            )
            .map_err(|_| ChannelError::Forged)?;
        let plain = plain.to_vec();
        self.last_taken = Some(seq);
        Ok(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Channel, Channel) {
        let key = SessionKey([7; 32]);
        (
            Channel::new(&key, "s-1", Sender::Kiosk),
            Channel::new(&key, "s-1", Sender::Doctor),
        )
    }

    #[test]
    fn round_trip_both_ways_with_rising_numbers() {
        let (mut kiosk, mut doctor) = pair();
        let (s1, b1) = kiosk.seal(b"offer", 0);
        let (s2, b2) = kiosk.seal(b"ice", 0);
        assert_eq!((s1, s2), (1, 2));
        assert_eq!(doctor.open(Sender::Kiosk, s1, &b1).unwrap(), b"offer");
        assert_eq!(doctor.open(Sender::Kiosk, s2, &b2).unwrap(), b"ice");
        let (s, b) = doctor.seal(b"answer", 1_700_000_000_000);
        assert_eq!(s, 1_700_000_000_000);
        assert_eq!(kiosk.open(Sender::Doctor, s, &b).unwrap(), b"answer");
    }

    #[test]
    fn replays_and_older_numbers_are_refused() {
        let (mut kiosk, mut doctor) = pair();
        let (s1, b1) = kiosk.seal(b"a", 10);
        let (s2, b2) = kiosk.seal(b"b", 10);
        doctor.open(Sender::Kiosk, s2, &b2).unwrap();
        assert_eq!(
            doctor.open(Sender::Kiosk, s2, &b2),
            Err(ChannelError::Replayed { seq: 11, last: 11 })
        );
        assert!(matches!(
            doctor.open(Sender::Kiosk, s1, &b1),
            Err(ChannelError::Replayed { .. })
        ));
    }

    #[test]
    fn tampering_a_number_or_the_box_or_the_session_fails() {
        let (mut kiosk, mut doctor) = pair();
        let (seq, sealed) = kiosk.seal(b"hello", 5);
        let mut bad = sealed.clone();
        bad[0] ^= 1;
        assert_eq!(
            doctor.open(Sender::Kiosk, seq, &bad),
            Err(ChannelError::Forged)
        );
        assert_eq!(
            doctor.open(Sender::Kiosk, seq + 1, &sealed),
            Err(ChannelError::Forged)
        );
        let mut elsewhere = Channel::new(&SessionKey([7; 32]), "s-2", Sender::Doctor);
        assert_eq!(
            elsewhere.open(Sender::Kiosk, seq, &sealed),
            Err(ChannelError::Forged)
        );
        let mut wrong_key = Channel::new(&SessionKey([8; 32]), "s-1", Sender::Doctor);
        assert_eq!(
            wrong_key.open(Sender::Kiosk, seq, &sealed),
            Err(ChannelError::Forged)
        );
        // A forgery did not raise the bound: the real message still opens.
        assert_eq!(doctor.open(Sender::Kiosk, seq, &sealed).unwrap(), b"hello");
    }

    #[test]
    fn a_message_reflected_back_to_its_sender_is_refused() {
        let (mut kiosk, _) = pair();
        let (seq, sealed) = kiosk.seal(b"offer", 0);
        assert_eq!(
            kiosk.open(Sender::Kiosk, seq, &sealed),
            Err(ChannelError::WrongDirection)
        );
        // Claimed as the doctor's, the kiosk's own message does not open either (other key).
        assert_eq!(
            kiosk.open(Sender::Doctor, seq, &sealed),
            Err(ChannelError::Forged)
        );
    }

    #[test]
    fn a_reloaded_page_numbers_above_its_earlier_self() {
        let (mut kiosk, mut page) = pair();
        let (s, b) = page.seal(b"hello", 1_700_000_000_000);
        kiosk.open(Sender::Doctor, s, &b).unwrap();
        let (s, b) = page.seal(b"ice", 1_700_000_000_000);
        kiosk.open(Sender::Doctor, s, &b).unwrap();
        // The page reloads: a new counter, but the clock went on.
        let mut reloaded = Channel::new(&SessionKey([7; 32]), "s-1", Sender::Doctor);
        let (s2, b2) = reloaded.seal(b"hello", 1_700_000_000_500);
        assert!(s2 > s);
        assert_eq!(kiosk.open(Sender::Doctor, s2, &b2).unwrap(), b"hello");
    }

    /// The doctor's page (`web/doctor/seal.js`) is tested against these messages; this test
    /// keeps the file what this code makes. `PRAXISKIOSK_WRITE_VECTORS=1` rewrites it.
    #[test]
    fn the_pages_test_vectors_are_what_this_code_seals() {
        let key = SessionKey(std::array::from_fn(|i| i as u8));
        let session = "0123456789abcdef";
        let mut kiosk = Channel::new(&key, session, Sender::Kiosk);
        let mut doctor = Channel::new(&key, session, Sender::Doctor);
        let mut messages = Vec::new();
        for (from, seq, plaintext) in [
            (
                Sender::Kiosk,
                1_700_000_000_000u64,
                r#"{"v":1,"type":"hello","name":"Max Mustermann"}"#,
            ),
            (
                Sender::Kiosk,
                1_700_000_000_001,
                r#"{"v":1,"type":"offer","sdp":"v=0\r\n"}"#,
            ),
            (
                Sender::Doctor,
                1_700_000_000_500,
                r#"{"v":1,"type":"hello","name":"Dr. Anna Muster","reply":true}"#,
            ),
        ] {
            let channel = match from {
                Sender::Kiosk => &mut kiosk,
                Sender::Doctor => &mut doctor,
            };
            let (seq, sealed) = channel.seal(plaintext.as_bytes(), seq);
            messages.push(serde_json::json!({
                "from": channel.me(), "seq": seq, "plaintext": plaintext,
                "box": crate::wire::b64url(&sealed),
            }));
        }
        let vectors = serde_json::json!({
            "key": key.to_base64url(),
            "session": session,
            "kiosk_key": crate::wire::b64url(&direction_key(&key, session, Sender::Kiosk)),
            "doctor_key": crate::wire::b64url(&direction_key(&key, session, Sender::Doctor)),
            "messages": messages,
        });
        crate::vectors::assert_file_holds("web/doctor/test/seal-vectors.json", &vectors);
    }
}
