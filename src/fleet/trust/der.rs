//! The few DER walks the trust checks need and webpki does not offer: the subject's CN, and the
//! P-256 point of a certificate's key. Reads only; anything unexpected is `None`.

const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// One TLV: its tag, its contents and what follows it.
fn read(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        0..=0x7f => (first as usize, rest),
        0x81 => (*rest.first()? as usize, &rest[1..]),
        0x82 => (
            u16::from_be_bytes([*rest.first()?, *rest.get(1)?]) as usize,
            &rest[2..],
        ),
        _ => return None,
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The CN of a subject (webpki's `Cert::subject`: the Name's contents, without its SEQUENCE).
/// `None` if there is none or more than one.
pub fn common_name(mut subject: &[u8]) -> Option<String> {
    let mut found = None;
    while !subject.is_empty() {
        let (0x31, set, rest) = read(subject)? else {
            return None;
        };
        subject = rest;
        let (0x30, pair, _) = read(set)? else {
            return None;
        };
        let (0x06, oid, value) = read(pair)? else {
            return None;
        };
        if oid == OID_CN {
            let (tag, text, _) = read(value)?;
            // UTF8String, PrintableString.
            if !matches!(tag, 0x0c | 0x13) || found.is_some() {
                return None;
            }
            found = Some(String::from_utf8(text.to_vec()).ok()?);
        }
    }
    found
}

/// The uncompressed P-256 point of a SubjectPublicKeyInfo (with its outer SEQUENCE), if the key
/// is an EC key on P-256.
pub fn p256_point(spki: &[u8]) -> Option<&[u8]> {
    let (0x30, spki, _) = read(spki)? else {
        return None;
    };
    let (0x30, algorithm, rest) = read(spki)? else {
        return None;
    };
    let (0x06, kind, params) = read(algorithm)? else {
        return None;
    };
    let (0x06, curve, _) = read(params)? else {
        return None;
    };
    if kind != OID_EC_PUBLIC_KEY || curve != OID_P256 {
        return None;
    }
    let (0x03, bits, _) = read(rest)? else {
        return None;
    };
    let (&0, point) = bits.split_first()? else {
        return None;
    };
    (point.len() == 65 && point[0] == 4).then_some(point)
}
