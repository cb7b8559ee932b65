//! Appointment access codes: 8 random digits, stored and sent only as an Argon2id hash
//! (PHC string, m=19456 KiB, t=2, p=1 — OWASP's recommendation, and within BSI TR-02102's
//! advice for password hashing). Verification is deliberately slow; callers run it off the
//! async threads.

use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng;

use super::Appointment;

pub const CODE_DIGITS: usize = 8;

fn hasher() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("constant Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A fresh code, uniformly drawn from 00000000 to 99999999 by the OS's random source.
pub fn generate() -> String {
    let n: u32 = OsRng.gen_range(0..100_000_000);
    format!("{n:08}")
}

/// `true` for exactly eight ASCII digits.
pub fn is_well_formed(code: &str) -> bool {
    code.len() == CODE_DIGITS && code.bytes().all(|b| b.is_ascii_digit())
}

pub fn hash(code: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(code.as_bytes(), &salt)
        .expect("hashing 8 bytes with valid parameters cannot fail")
        .to_string()
}

/// `true` when `hash` is an Argon2id (v=19) PHC string within our work bounds.
pub fn is_supported_hash(hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    parsed.algorithm.as_str() == "argon2id"
        && parsed.version == Some(0x13)
        && params.m_cost() <= MAX_MEMORY_KIB
        && params.t_cost() <= MAX_PASSES
        && params.p_cost() <= MAX_LANES
}

/// The most work one verification may cost. The parameters travel in the hash, from the fleet:
/// without a bound, one appointment could make every code entry take minutes or gigabytes.
const MAX_MEMORY_KIB: u32 = 65_536;
const MAX_PASSES: u32 = 4;
const MAX_LANES: u32 = 4;

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
    if !is_well_formed(code) {
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
        assert!(is_well_formed(&code), "{code}");
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
    fn malformed_codes_never_match() {
        for bad in ["1234567", "123456789", "1234567a", "１２３４５６７８", ""] {
            assert!(!is_well_formed(bad), "{bad:?}");
        }
        assert!(!is_supported_hash(
            "$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"
        ));
        let costly = hash("12345678").replace("m=19456", "m=4194304");
        assert!(
            !is_supported_hash(&costly),
            "a hash demanding 4 GiB is refused"
        );
        assert!(!verify("12345678", &costly));
    }
}
