//! Hexadecimal, lower case: certificate serials in the CA's registry, random names.

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Any case; `None` for an odd length, an empty text or anything but hex digits.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    // `from_str_radix` alone would take a sign ("+1").
    if text.is_empty()
        || !text.len().is_multiple_of(2)
        || !text.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_garbage() {
        assert_eq!(to_hex(&[0x01, 0xab, 0xff]), "01abff");
        assert_eq!(from_hex("01abff"), Some(vec![0x01, 0xab, 0xff]));
        assert_eq!(from_hex("01ABFF"), Some(vec![0x01, 0xab, 0xff]));
        for bad in ["", "0", "zz", "ü0", "+1"] {
            assert_eq!(from_hex(bad), None, "{bad:?}");
        }
    }
}
