//! The time on the idle screen: German local time (CET/CEST), computed from UTC by the EU's
//! summer-time rule. Pure, so tests need no time zone database and the daemon needs no
//! process-wide local-time lookup.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset, Weekday};

/// The last Sunday of `month`, at 01:00 UTC: when EU summer time starts (March) or ends (October).
fn switch(year: i32, month: Month) -> OffsetDateTime {
    let mut day =
        Date::from_calendar_date(year, month, 31).expect("March and October have 31 days");
    while day.weekday() != Weekday::Sunday {
        day = day.previous_day().expect("inside the month");
    }
    PrimitiveDateTime::new(day, Time::from_hms(1, 0, 0).expect("valid time")).assume_utc()
}

/// The offset of German local time at `utc`.
pub fn berlin_offset(utc: OffsetDateTime) -> UtcOffset {
    let summer =
        utc >= switch(utc.year(), Month::March) && utc < switch(utc.year(), Month::October);
    UtcOffset::from_hms(if summer { 2 } else { 1 }, 0, 0).expect("valid offset")
}

/// `HH:MM` in German local time.
pub fn berlin_hhmm(utc: OffsetDateTime) -> String {
    let local = utc.to_offset(berlin_offset(utc));
    format!("{:02}:{:02}", local.hour(), local.minute())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn summer_and_winter_time_switch_on_the_last_sundays() {
        assert_eq!(berlin_hhmm(datetime!(2026-01-15 11:30 UTC)), "12:30");
        assert_eq!(berlin_hhmm(datetime!(2026-07-15 11:30 UTC)), "13:30");
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(berlin_hhmm(datetime!(2026-03-29 00:59 UTC)), "01:59");
        assert_eq!(berlin_hhmm(datetime!(2026-03-29 01:00 UTC)), "03:00");
        assert_eq!(berlin_hhmm(datetime!(2026-10-25 00:59 UTC)), "02:59");
        assert_eq!(berlin_hhmm(datetime!(2026-10-25 01:00 UTC)), "02:00");
    }
}
