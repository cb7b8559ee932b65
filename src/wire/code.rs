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

/// The least work one hash must cost whoever holds it (the broker's operator, a thief of a
/// kiosk's state directory): 8 digits are only 10⁸ guesses, so the hash's cost is all that stands
/// between a copied hash and its code. OWASP's minimum for Argon2id (m=19 MiB, t=2, p=1; RFC 9106
/// recommends more where memory allows), and exactly what `kioskctl` makes: a kiosk never has to
/// verify anything cheaper than that. A Raspberry Pi 4 verifies one such hash in tens of ms.
const MIN_MEMORY_KIB: u32 = 19_456;
const MIN_PASSES: u32 = 2;
const MIN_LANES: u32 = 1;

/// Why a `code_hash` (or staff PIN hash) is not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnsupportedHash {
    #[error("is not an Argon2id (version 19) PHC string")]
    NotArgon2id,
    #[error("asks for more work than a kiosk spends on one check (at most m=65536, t=4, p=4)")]
    TooCostly,
    #[error("asks for less work than a code needs (at least m=19456, t=2, p=1)")]
    TooCheap,
}

/// `true` for exactly [`CODE_DIGITS`] ASCII digits.
pub fn is_well_formed_code(code: &str) -> bool {
    code.len() == CODE_DIGITS && code.bytes().all(|b| b.is_ascii_digit())
}

/// `true` when `hash` is an Argon2id (v=19) PHC string within the work bounds above.
pub fn is_supported_hash(hash: &str) -> bool {
    check_hash(hash).is_ok()
}

/// Checks that `hash` is an Argon2id (v=19) PHC string within the work bounds above.
pub fn check_hash(hash: &str) -> Result<(), UnsupportedHash> {
    let parsed = PasswordHash::new(hash).map_err(|_| UnsupportedHash::NotArgon2id)?;
    // Lanes first, every `p` the string names (the last one counts for argon2): argon2's own
    // check computes 8·p in u32, which overflows (a panic where overflow is checked) for
    // p ≥ 2^29.
    let too_many_lanes = parsed.params.iter().any(|(name, value)| {
        name.as_str() == "p" && !value.decimal().is_ok_and(|lanes| lanes <= MAX_LANES)
    });
    if too_many_lanes {
        return Err(UnsupportedHash::TooCostly);
    }
    let params = Params::try_from(&parsed).map_err(|_| UnsupportedHash::NotArgon2id)?;
    if parsed.algorithm.as_str() != "argon2id" || parsed.version != Some(0x13) {
        return Err(UnsupportedHash::NotArgon2id);
    }
    let (m, t, p) = (params.m_cost(), params.t_cost(), params.p_cost());
    if m > MAX_MEMORY_KIB || t > MAX_PASSES || p > MAX_LANES {
        return Err(UnsupportedHash::TooCostly);
    }
    if m < MIN_MEMORY_KIB || t < MIN_PASSES || p < MIN_LANES {
        return Err(UnsupportedHash::TooCheap);
    }
    Ok(())
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

    #[test]
    fn hashes_cheaper_than_the_minimum_are_refused_as_such() {
        let at = |params: &str| format!("$argon2id$v=19${params}$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo");
        assert_eq!(check_hash(&at("m=19456,t=2,p=1")), Ok(()));
        assert_eq!(check_hash(&at("m=65536,t=4,p=4")), Ok(()));
        for cheap in ["m=19455,t=2,p=1", "m=65536,t=1,p=4", "m=8,t=2,p=1"] {
            assert_eq!(
                check_hash(&at(cheap)),
                Err(UnsupportedHash::TooCheap),
                "{cheap}"
            );
        }
        assert_eq!(
            check_hash(&at("m=65537,t=2,p=1")),
            Err(UnsupportedHash::TooCostly)
        );
        assert_eq!(check_hash("12345678"), Err(UnsupportedHash::NotArgon2id));
    }

    /// Found by the argon2_phc fuzz target (tests/fuzz/regressions/argon2_phc/): a lane count
    /// of 2^29 or more overflowed inside argon2's own parameter check, a panic where overflow
    /// is checked (debug builds), from nothing but an appointment's `code_hash`.
    #[test]
    fn huge_lane_counts_are_refused_without_overflow() {
        for p in ["536870912", "1694569456", "4294967295", "1,p=1694569456"] {
            let hash = format!("$argon2id$v=19$m=19456,t=2,p={p}$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo");
            assert_eq!(
                check_hash(&hash),
                Err(UnsupportedHash::TooCostly),
                "{hash:?}"
            );
        }
    }
}
