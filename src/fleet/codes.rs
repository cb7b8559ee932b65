//! Appointment access codes: 8 random digits, stored and sent only as an Argon2id hash
//! (PHC string, m=19456 KiB, t=2, p=1 — OWASP's recommendation, and within BSI TR-02102's
//! advice for password hashing). Verification is deliberately slow; callers run it off the
//! async threads.

use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng;

use crate::flow::Appointment;
use crate::wire::{is_supported_hash, is_well_formed_code};

fn hasher() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("constant Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A fresh code, uniformly drawn from 00000000 to 99999999 by the OS's random source.
pub fn generate() -> String {
    let n: u32 = OsRng.gen_range(0..100_000_000);
    format!("{n:08}")
}

pub fn hash(code: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(code.as_bytes(), &salt)
        .expect("hashing 8 bytes with valid parameters cannot fail")
        .to_string()
}

pub fn verify(code: &str, hash: &str) -> bool {
    if !is_supported_hash(hash) {
        return false;
    }
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    // The parameters travel in the PHC string; `verify_password` uses those, not ours.
    hasher().verify_password(code.as_bytes(), &parsed).is_ok()
}

/// The first of `candidates` whose code is `code`.
pub fn find_match(code: &str, candidates: Vec<Appointment>) -> Option<Appointment> {
    if !is_well_formed_code(code) {
        return None;
    }
    candidates.into_iter().find(|a| verify(code, &a.code_hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_eight_digits_and_hash_with_the_contract_parameters() {
        let code = generate();
        assert!(is_well_formed_code(&code), "{code}");
        let h = hash(&code);
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(is_supported_hash(&h));
        assert!(verify(&code, &h));
        let other = if code == "00000000" {
            "00000001"
        } else {
            "00000000"
        };
        assert!(!verify(other, &h));
        assert!(!verify(&code, "not a hash"));
    }

    #[test]
    fn cheap_hashes_never_verify_even_for_the_right_code() {
        let params = Params::new(1024, 1, 1, None).unwrap();
        let salt = SaltString::generate(&mut OsRng);
        let cheap = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"12345678", &salt)
            .unwrap()
            .to_string();
        assert!(!verify("12345678", &cheap), "{cheap}");
    }

    #[test]
    fn costly_hashes_never_verify() {
        let costly = hash("12345678").replace("m=19456", "m=4194304");
        assert!(
            !verify("12345678", &costly),
            "a hash demanding 4 GiB is refused"
        );
        assert_eq!(find_match("1234567", Vec::new()), None);
    }
}
