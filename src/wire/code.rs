//! Access codes and their hashes as protocol v1 defines them (protocol.md section 4): what a code
//! looks like, and which `code_hash` a kiosk accepts. Only the rules live here; making, hashing
//! and checking codes is `fleet::codes`.

use argon2::Params;
use argon2::password_hash::PasswordHash;

/// An access code is exactly this many ASCII digits.
pub const CODE_DIGITS: usize = 8;

/// The most work one verification may cost. The parameters travel in the hash, from the fleet:
/// without a bound, one appointment could make every code entry take minutes or gigabytes.
const MAX_MEMORY_KIB: u32 = 65_536;
const MAX_PASSES: u32 = 4;
const MAX_LANES: u32 = 4;

/// `true` for exactly [`CODE_DIGITS`] ASCII digits.
pub fn is_well_formed_code(code: &str) -> bool {
    code.len() == CODE_DIGITS && code.bytes().all(|b| b.is_ascii_digit())
}

/// `true` when `hash` is an Argon2id (v=19) PHC string within the work bounds above.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_exactly_eight_ascii_digits() {
        assert!(is_well_formed_code("01234567"));
        for bad in ["1234567", "123456789", "1234567a", "１２３４５６７８", ""] {
            assert!(!is_well_formed_code(bad), "{bad:?}");
        }
    }

    #[test]
    fn only_bounded_argon2id_v19_hashes_are_supported() {
        let good = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";
        assert!(is_supported_hash(good));
        for bad in [
            "12345678",
            "$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
            "$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            "$argon2id$v=19$m=19456,t=5,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            "$argon2id$v=19$m=19456,t=2,p=5$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        ] {
            assert!(!is_supported_hash(bad), "{bad:?}");
        }
    }
}
