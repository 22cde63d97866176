//! How pages write dates, times and durations. Formatting only: what a date means (due, overdue,
//! closed) is decided in `service`/`domain` before a page sees it.

use time::OffsetDateTime;

/// "3 Mar 2026".
pub fn date(at: OffsetDateTime) -> String {
    at.format(time::macros::format_description!(
        "[day padding:none] [month repr:short] [year]"
    ))
    .unwrap_or_default()
}

/// "2 Mar 2026, 14:05 UTC".
pub fn datetime(at: OffsetDateTime) -> String {
    at.format(time::macros::format_description!(
        "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
    ))
    .unwrap_or_default()
}

/// "2026-03-02": the value a date input holds.
pub fn input_date(at: OffsetDateTime) -> String {
    at.format(time::macros::format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

/// "3 h 20 min", "2 days 4 h": a duration as people read it.
pub fn duration(d: time::Duration) -> String {
    let minutes = d.whole_minutes().max(0);
    let (days, hours, mins) = (minutes / 1440, (minutes % 1440) / 60, minutes % 60);
    match (days, hours, mins) {
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (1, 0, _) => "1 day".to_owned(),
        (d, 0, _) => format!("{d} days"),
        (1, h, _) => format!("1 day {h} h"),
        (d, h, _) => format!("{d} days {h} h"),
    }
}

/// One entry of a `<select>` or of a filter list: what the form sends and what a person reads.
pub struct SelectOption<T> {
    pub value: T,
    pub label: T,
}

impl<T> SelectOption<T> {
    pub fn new(value: T, label: T) -> Self {
        Self { value, label }
    }
}
