//! Times on kioskctl's command line: `now`, `+90m`, `+2h`, `+30s`, or RFC 3339.

use time::{Duration, OffsetDateTime, format_description::well_known::Rfc3339};

pub fn parse(text: &str, now: OffsetDateTime) -> Result<OffsetDateTime, String> {
    if text == "now" {
        return Ok(now);
    }
    if let Some(offset) = text.strip_prefix('+') {
        let (number, unit) = offset.split_at(offset.len().saturating_sub(1));
        let n: i64 = number
            .parse()
            .map_err(|_| format!("{text:?}: expected +N followed by s, m, h or d"))?;
        let d = match unit {
            "s" => Duration::seconds(n),
            "m" => Duration::minutes(n),
            "h" => Duration::hours(n),
            "d" => Duration::days(n),
            _ => return Err(format!("{text:?}: the unit must be s, m, h or d")),
        };
        return Ok(now + d);
    }
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| format!("{text:?} is neither now, +N(s|m|h|d) nor an RFC 3339 time: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_absolute_times() {
        let now = OffsetDateTime::now_utc();
        assert_eq!(parse("now", now).unwrap(), now);
        assert_eq!(parse("+90m", now).unwrap(), now + Duration::minutes(90));
        assert_eq!(parse("+2h", now).unwrap(), now + Duration::hours(2));
        assert_eq!(
            parse("2026-11-28T10:00:00+01:00", now).unwrap(),
            time::macros::datetime!(2026-11-28 09:00 UTC)
        );
        assert!(parse("+5x", now).is_err());
        assert!(parse("tomorrow", now).is_err());
    }
}
