//! Instants and dates as people type them. Times without an offset are read as UTC, which is how
//! the product shows them.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use super::text::Invalid;

/// Parses `2026-03-02T14:05:00Z` (RFC 3339), `2026-03-02T14:05` (a form's datetime-local, as UTC)
/// or `2026-03-02` (midnight UTC).
pub fn parse_instant(raw: &str) -> Result<OffsetDateTime, Invalid> {
    let raw = raw.trim();
    if let Ok(at) = OffsetDateTime::parse(raw, &Rfc3339) {
        return Ok(at);
    }
    for format in [
        format_description!("[year]-[month]-[day]T[hour]:[minute]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day] [hour]:[minute]"),
    ] {
        if let Ok(at) = PrimitiveDateTime::parse(raw, format) {
            return Ok(at.assume_utc());
        }
    }
    parse_date(raw).map_err(|_| {
        Invalid::new(
            "must be a date and time such as 2026-03-02T14:05 (UTC) or 2026-03-02T14:05:00Z",
        )
    })
}

/// Parses a calendar date `2026-03-02` as midnight UTC.
pub fn parse_date(raw: &str) -> Result<OffsetDateTime, Invalid> {
    Date::parse(raw.trim(), format_description!("[year]-[month]-[day]"))
        .map(|d| PrimitiveDateTime::new(d, Time::MIDNIGHT).assume_utc())
        .map_err(|_| Invalid::new("must be a date such as 2026-03-02"))
}

/// Midnight UTC of the day `at` falls on: the only precision kept for anonymous records.
pub fn day_of(at: OffsetDateTime) -> OffsetDateTime {
    // Past the last day the time crate holds in UTC, the day as written is the closest there is.
    at.checked_to_offset(UtcOffset::UTC)
        .unwrap_or(at)
        .replace_time(Time::MIDNIGHT)
        .replace_offset(UtcOffset::UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_of_is_midnight_utc_of_the_day_in_utc() {
        let day = |raw: &str| day_of(parse_instant(raw).expect("instant")).unix_timestamp();
        let midnight = |raw: &str| parse_date(raw).expect("date").unix_timestamp();
        assert_eq!(day("2026-03-03T23:30:00-05:00"), midnight("2026-03-04"));
        assert_eq!(day("2026-03-03T00:30:00+14:00"), midnight("2026-03-02"));
        assert_eq!(day("2026-03-03T12:00:00Z"), midnight("2026-03-03"));
        let last = day_of(parse_instant("9999-12-31T23:59:00-05:00").expect("instant"));
        assert_eq!((last.year(), last.offset()), (9999, UtcOffset::UTC));
    }

    #[test]
    fn accepts_the_forms_people_type() {
        let at = parse_instant("2026-03-02T14:05").expect("datetime-local");
        assert_eq!(
            at.unix_timestamp(),
            parse_instant("2026-03-02T14:05:00Z")
                .expect("rfc")
                .unix_timestamp()
        );
        assert_eq!(parse_instant("2026-03-02").expect("date").hour(), 0);
        assert!(parse_instant("2 March").is_err());
        assert!(parse_date("2026-02-30").is_err());
        let offset = parse_instant("2026-03-02T14:05:00+02:00").expect("offset");
        assert_eq!(offset.unix_timestamp(), at.unix_timestamp() - 7200);
    }

    #[test]
    fn day_of_drops_the_time() {
        let at = parse_instant("2026-03-02T23:59:59Z").expect("instant");
        assert_eq!(day_of(at), parse_date("2026-03-02").expect("date"));
    }
}
