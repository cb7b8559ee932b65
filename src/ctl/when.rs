//! Times on kioskctl's command line: `now`, `+90m`, `+2h`, `+30s`, or RFC 3339.

use time::{Duration, OffsetDateTime, format_description::well_known::Rfc3339};

pub fn parse(text: &str, now: OffsetDateTime) -> Result<OffsetDateTime, String> {
    if text == "now" {
        return Ok(now);
    }
    if let Some(offset) = text.strip_prefix('+') {
        let unit = offset.chars().last().unwrap_or(' ');
        let number = &offset[..offset.len() - unit.len_utf8().min(offset.len())];
        let n: i64 = number
            .parse()
            .ok()
            .filter(|n| (0..=366 * 86_400).contains(n))
            .ok_or_else(|| {
                format!("{text:?}: expected +N (up to a year) followed by s, m, h or d")
            })?;
        let seconds = match unit {
            's' => n,
            'm' => n * 60,
            'h' => n * 3600,
            'd' => n * 86_400,
            _ => return Err(format!("{text:?}: the unit must be s, m, h or d")),
        };
        if seconds > 366 * 86_400 {
            return Err(format!("{text:?} is more than a year ahead"));
        }
        return Ok(now + Duration::seconds(seconds));
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
        assert!(
            parse("+5ä", now).is_err(),
            "a multibyte unit is refused, not a panic"
        );
        assert!(parse("+", now).is_err());
        assert!(parse("+99999999999d", now).is_err());
        assert!(parse("tomorrow", now).is_err());
    }
}
