//! The Argon2 PHC strings that travel in appointments (`code_hash`): the kiosk decides with
//! `wire::is_supported_hash` which it will ever verify. The checks:
//!
//! - nothing panics, whatever the string;
//! - a supported hash is Argon2id v=19 whose costs, read here from the string itself, are within
//!   the bounds the kiosk promises: at most 64 MiB, 4 passes, 4 lanes, so no appointment can
//!   make a code check take minutes or gigabytes, and at least 19 MiB and 2 passes, so no hash
//!   is cheap to guess;
//! - an appointment is refused for its hash exactly when the hash is not supported;
//! - a code never verifies against a string that is not supported (verifying a supported one
//!   costs tens of milliseconds by design: too slow to fuzz).

use argon2::Params;
use praxiskiosk::fleet::codes;
use praxiskiosk::flow::{Appointment, InvalidAppointment};
use praxiskiosk::wire::{AppointmentMsg, V1, is_supported_hash};
use time::OffsetDateTime;

use super::Script;

const MAX_MEMORY_KIB: u64 = 64 * 1024;
const MAX_PASSES: u64 = 4;
const MAX_LANES: u64 = 4;
/// The least work a hash must cost (OWASP's minimum for Argon2id, what kioskctl makes).
const MIN_MEMORY_KIB: u64 = 19_456;
const MIN_PASSES: u64 = 2;

/// `m`, `t` and `p` of a PHC string, read here rather than by the argon2 crate's parser. The
/// parameter field is optional in the PHC format, and so is each parameter: what a string leaves
/// out, Argon2 takes from its defaults (the fuzzer found `$argon2id$v=19$salt$hash` supported).
fn costs(hash: &str) -> Option<(u64, u64, u64)> {
    let mut fields = hash.split('$');
    let (empty, algorithm, version) = (fields.next()?, fields.next()?, fields.next()?);
    if !empty.is_empty() || algorithm != "argon2id" || version != "v=19" {
        return None;
    }
    let params = fields
        .next()
        .filter(|f| f.contains('='))
        .unwrap_or_default();
    let (mut m, mut t, mut p) = (None, None, None);
    for pair in params.split(',').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=')?;
        let slot = match key {
            "m" => &mut m,
            "t" => &mut t,
            "p" => &mut p,
            _ => continue,
        };
        *slot = Some(value.parse().ok()?);
    }
    Some((
        m.unwrap_or(Params::DEFAULT_M_COST.into()),
        t.unwrap_or(Params::DEFAULT_T_COST.into()),
        p.unwrap_or(Params::DEFAULT_P_COST.into()),
    ))
}

pub fn check(data: &[u8]) {
    let mut script = Script::new(data);
    // The first byte was a choice once; the seeds and reproducers still carry it.
    script.byte();
    let Ok(hash) = std::str::from_utf8(script.rest()) else {
        return;
    };
    let supported = is_supported_hash(hash);
    if supported {
        let (m, t, p) = costs(hash).unwrap_or_else(|| panic!("supported but unreadable: {hash:?}"));
        assert!(
            m <= MAX_MEMORY_KIB && t <= MAX_PASSES && p <= MAX_LANES,
            "{hash:?}"
        );
        assert!(m >= MIN_MEMORY_KIB && t >= MIN_PASSES && p >= 1, "{hash:?}");
    } else {
        assert!(!codes::verify("12345678", hash), "{hash:?} verified");
    }

    let start = OffsetDateTime::UNIX_EPOCH;
    let msg = AppointmentMsg {
        v: V1,
        id: "a-1".into(),
        session: "s-1".into(),
        code_hash: hash.into(),
        not_before: start,
        not_after: start + time::Duration::hours(1),
        doctor_name: "Dr. med. Anna Muster".into(),
        patient_name: None,
        session_key: None,
    };
    let refused_for_hash = matches!(
        Appointment::try_from(msg),
        Err(InvalidAppointment::BadHash(_))
    );
    assert_eq!(refused_for_hash, !supported, "{hash:?}");
}
