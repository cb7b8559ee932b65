//! HPKE (RFC 9180), base mode, single shot, with exactly one suite: DHKEM(P-256, HKDF-SHA256),
//! HKDF-SHA256, AES-128-GCM — the suite of the RFC's test vectors in Appendix A.3, which the unit
//! test below checks byte for byte. The appointment's sealed part travels in it.
//!
//! ring does HKDF (as HMAC-SHA256) and AES-GCM; only the Diffie-Hellman with a static key is
//! p256's, since ring has no static-key ECDH. Nothing here logs or keeps key material.

use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use ring::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hmac;

/// An uncompressed P-256 point: the `enc` that precedes the ciphertext.
pub const ENC_LEN: usize = 65;
const KEM_SUITE: &[u8] = b"KEM\x00\x10";
const HPKE_SUITE: &[u8] = b"HPKE\x00\x10\x00\x01\x00\x01";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HpkeError {
    #[error("the recipient's public key is not a P-256 point")]
    PublicKey,
    #[error("the sealed data is too short or its ephemeral key is not a P-256 point")]
    Malformed,
    #[error("the sealed data does not open with this key and associated data")]
    Open,
}

fn extract(salt: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, salt));
    for part in parts {
        ctx.update(part);
    }
    ctx.sign().as_ref().try_into().expect("SHA-256 is 32 bytes")
}

fn labeled_extract(suite: &[u8], salt: &[u8], label: &[u8], ikm: &[u8]) -> [u8; 32] {
    extract(salt, &[b"HPKE-v1", suite, label, ikm])
}

/// HKDF-Expand for at most one block (every length here is ≤ 32).
fn labeled_expand<const N: usize>(
    suite: &[u8],
    prk: &[u8; 32],
    label: &[u8],
    info: &[u8],
) -> [u8; N] {
    const { assert!(N <= 32) };
    let len = (N as u16).to_be_bytes();
    let t1 = extract(prk, &[&len, b"HPKE-v1", suite, label, info, &[1]]);
    t1[..N].try_into().expect("N ≤ 32")
}

fn encode(public: &PublicKey) -> [u8; ENC_LEN] {
    public
        .to_encoded_point(false)
        .as_bytes()
        .try_into()
        .expect("an uncompressed P-256 point is 65 bytes")
}

/// DH, then ExtractAndExpand with the KEM context `enc || pkRm`.
fn shared_secret(secret: &SecretKey, peer: &PublicKey, enc: &[u8], pk_rm: &[u8]) -> [u8; 32] {
    let dh = p256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), peer.as_affine());
    let eae_prk = labeled_extract(KEM_SUITE, b"", b"eae_prk", dh.raw_secret_bytes());
    let context = [enc, pk_rm].concat();
    labeled_expand(KEM_SUITE, &eae_prk, b"shared_secret", &context)
}

/// The base mode's key schedule: the AEAD key and base nonce.
fn key_schedule(shared: &[u8; 32], info: &[u8]) -> (LessSafeKey, [u8; 12]) {
    let psk_id_hash = labeled_extract(HPKE_SUITE, b"", b"psk_id_hash", b"");
    let info_hash = labeled_extract(HPKE_SUITE, b"", b"info_hash", info);
    let context = [&[0u8][..], &psk_id_hash, &info_hash].concat();
    let secret = labeled_extract(HPKE_SUITE, shared, b"secret", b"");
    let key: [u8; 16] = labeled_expand(HPKE_SUITE, &secret, b"key", &context);
    let nonce: [u8; 12] = labeled_expand(HPKE_SUITE, &secret, b"base_nonce", &context);
    let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &key).expect("16-byte key"));
    (key, nonce)
}

/// Seals `plaintext` to `recipient` (an uncompressed SEC1 P-256 point): `enc || ciphertext`.
pub fn seal(
    recipient: &[u8],
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, HpkeError> {
    let ephemeral = SecretKey::random(&mut rand::rngs::OsRng);
    seal_with(&ephemeral, recipient, info, aad, plaintext)
}

fn seal_with(
    ephemeral: &SecretKey,
    recipient: &[u8],
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, HpkeError> {
    let pk_r = PublicKey::from_sec1_bytes(recipient).map_err(|_| HpkeError::PublicKey)?;
    let enc = encode(&ephemeral.public_key());
    let shared = shared_secret(ephemeral, &pk_r, &enc, &encode(&pk_r));
    let (key, nonce) = key_schedule(&shared, info);
    let mut out = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut out,
    )
    .map_err(|_| HpkeError::Open)?;
    Ok([&enc[..], &out].concat())
}

/// Opens what [`seal`] made for `recipient`'s public key.
pub fn open(
    recipient: &SecretKey,
    info: &[u8],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Vec<u8>, HpkeError> {
    if sealed.len() < ENC_LEN + 16 {
        return Err(HpkeError::Malformed);
    }
    let (enc, ciphertext) = sealed.split_at(ENC_LEN);
    let pk_e = PublicKey::from_sec1_bytes(enc).map_err(|_| HpkeError::Malformed)?;
    let shared = shared_secret(recipient, &pk_e, enc, &encode(&recipient.public_key()));
    let (key, nonce) = key_schedule(&shared, info);
    let mut buf = ciphertext.to_vec();
    let plain = key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut buf,
        )
        .map_err(|_| HpkeError::Open)?;
    Ok(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    // RFC 9180, Appendix A.3.1: DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, base mode.
    const INFO: &str = "4f6465206f6e2061204772656369616e2055726e";
    const SK_EM: &str = "4995788ef4b9d6132b249ce59a77281493eb39af373d236a1fe415cb0c2d7beb";
    const PK_EM: &str = "04a92719c6195d5085104f469a8b9814d5838ff72b60501e2c4466e5e67b325ac98536d7b61a1af4b78e5b7f951c0900be863c403ce65c9bfcb9382657222d18c4";
    const SK_RM: &str = "f3ce7fdae57e1a310d87f1ebbde6f328be0a99cdbcadf4d6589cf29de4b8ffd2";
    const PK_RM: &str = "04fe8c19ce0905191ebc298a9245792531f26f0cece2460639e8bc39cb7f706a826a779b4cf969b8a0e539c7f62fb3d30ad6aa8f80e30f1d128aafd68a2ce72ea0";
    const SHARED: &str = "c0d26aeab536609a572b07695d933b589dcf363ff9d93c93adea537aeabb8cb8";
    const BASE_NONCE: &str = "4e0bc5018beba4bf004cca59";
    // Sequence number 0.
    const AAD: &str = "436f756e742d30";
    const PT: &str = "4265617574792069732074727574682c20747275746820626561757479";
    const CT: &str = "5ad590bb8baa577f8619db35a36311226a896e7342a6d836d8b7bcd2f20b6c7f9076ac232e3ab2523f39513434";

    #[test]
    fn rfc_9180_a_3_1_seals_and_opens_byte_for_byte() {
        let sk_e = SecretKey::from_slice(&hex(SK_EM)).unwrap();
        let sk_r = SecretKey::from_slice(&hex(SK_RM)).unwrap();
        assert_eq!(encode(&sk_e.public_key()).to_vec(), hex(PK_EM));
        assert_eq!(encode(&sk_r.public_key()).to_vec(), hex(PK_RM));
        let pk_r = sk_r.public_key();
        let shared = shared_secret(&sk_e, &pk_r, &hex(PK_EM), &hex(PK_RM));
        assert_eq!(shared.to_vec(), hex(SHARED));
        let (_, nonce) = key_schedule(&shared, &hex(INFO));
        assert_eq!(nonce.to_vec(), hex(BASE_NONCE));

        let sealed = seal_with(&sk_e, &hex(PK_RM), &hex(INFO), &hex(AAD), &hex(PT)).unwrap();
        assert_eq!(sealed, [hex(PK_EM), hex(CT)].concat());
        let opened = open(&sk_r, &hex(INFO), &hex(AAD), &sealed).unwrap();
        assert_eq!(opened, hex(PT));
    }

    #[test]
    fn a_fresh_seal_opens_only_with_its_key_info_and_aad() {
        let sk = SecretKey::random(&mut rand::rngs::OsRng);
        let pk = encode(&sk.public_key());
        let sealed = seal(&pk, b"info", b"aad", b"secret").unwrap();
        assert_eq!(open(&sk, b"info", b"aad", &sealed).unwrap(), b"secret");
        assert_eq!(open(&sk, b"info", b"other", &sealed), Err(HpkeError::Open));
        assert_eq!(open(&sk, b"other", b"aad", &sealed), Err(HpkeError::Open));
        let other = SecretKey::random(&mut rand::rngs::OsRng);
        assert_eq!(open(&other, b"info", b"aad", &sealed), Err(HpkeError::Open));
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(open(&sk, b"info", b"aad", &bad), Err(HpkeError::Open));
        assert_eq!(
            open(&sk, b"info", b"aad", &sealed[..40]),
            Err(HpkeError::Malformed)
        );
        assert_eq!(
            seal(b"nope", b"", b"", b"").unwrap_err(),
            HpkeError::PublicKey
        );
    }
}
