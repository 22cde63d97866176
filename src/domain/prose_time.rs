//! Dates, times of day and time zones as people write them in postmortems: "On September 29,
//! 2025", "29 Sept. 2025", "Monday, Sep 29th", "2025-09-29", "4:58pm PT", "**16:58:03Z**",
//! "all times are Pacific". Hand-written because the date crates parse one whole string in one
//! known format, while a postmortem's dates have to be found inside prose, and a date without a
//! year borrows it from the rest of the document. No IO.

use time::{Date, Duration, Month, Time, UtcOffset};

/// A date as written, perhaps without its year ("Sep 30").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrittenDate {
    pub year: Option<i32>,
    pub month: Month,
    pub day: u8,
}

impl WrittenDate {
    /// The date in its own year, else in `year`.
    pub fn resolve(self, year: Option<i32>) -> Option<Date> {
        Date::from_calendar_date(self.year.or(year)?, self.month, self.day).ok()
    }
}

/// A time zone as written: a fixed offset, or a US zone whose offset depends on daylight saving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Fixed(UtcOffset),
    /// Standard offset in hours of a US zone written without saying which half of the year
    /// ("PT", "Pacific"): daylight saving applies from the second Sunday of March to the first
    /// Sunday of November.
    Us(i8),
}

impl Zone {
    pub fn offset_on(self, date: Date) -> UtcOffset {
        match self {
            Zone::Fixed(offset) => offset,
            Zone::Us(standard) => {
                let dst = us_daylight_saving(date);
                UtcOffset::from_hms(standard + i8::from(dst), 0, 0).unwrap_or(UtcOffset::UTC)
            }
        }
    }
}

fn nth_sunday(year: i32, month: Month, n: u8) -> Option<Date> {
    let first = Date::from_calendar_date(year, month, 1).ok()?;
    let until = (7 + 7 - first.weekday().number_days_from_sunday()) % 7;
    first.checked_add(Duration::days(i64::from(until) + 7 * i64::from(n - 1)))
}

fn us_daylight_saving(date: Date) -> bool {
    match (
        nth_sunday(date.year(), Month::March, 2),
        nth_sunday(date.year(), Month::November, 1),
    ) {
        (Some(start), Some(end)) => date >= start && date < end,
        _ => false,
    }
}

const MONTHS: [(&str, Month); 12] = [
    ("january", Month::January),
    ("february", Month::February),
    ("march", Month::March),
    ("april", Month::April),
    ("may", Month::May),
    ("june", Month::June),
    ("july", Month::July),
    ("august", Month::August),
    ("september", Month::September),
    ("october", Month::October),
    ("november", Month::November),
    ("december", Month::December),
];

/// Month names in French and German that English abbreviations do not cover, written whole.
const FOREIGN_MONTHS: [(&str, Month); 20] = [
    ("janvier", Month::January),
    ("jänner", Month::January),
    ("januar", Month::January),
    ("février", Month::February),
    ("fevrier", Month::February),
    ("februar", Month::February),
    ("mars", Month::March),
    ("märz", Month::March),
    ("avril", Month::April),
    ("mai", Month::May),
    ("juin", Month::June),
    ("juni", Month::June),
    ("juillet", Month::July),
    ("juli", Month::July),
    ("août", Month::August),
    ("aout", Month::August),
    ("septembre", Month::September),
    ("octobre", Month::October),
    ("oktober", Month::October),
    ("dezember", Month::December),
];

/// A month's name or its abbreviation ("Sep", "Sept", "September"), any case; French and
/// German names ("février", "März") written whole.
pub fn month_of(word: &str) -> Option<Month> {
    let lower = word.to_lowercase();
    if lower == "sept" {
        return Some(Month::September);
    }
    MONTHS
        .iter()
        .find(|(name, _)| lower.len() >= 3 && name.starts_with(lower.as_str()))
        .or_else(|| FOREIGN_MONTHS.iter().find(|(name, _)| *name == lower))
        .map(|(_, month)| *month)
        .or(match lower.as_str() {
            "novembre" => Some(Month::November),
            "décembre" | "decembre" => Some(Month::December),
            "okt" => Some(Month::October),
            "dez" => Some(Month::December),
            _ => None,
        })
}

/// A run of letters at the start of `s`, accents included ("février").
fn word_at(s: &str) -> &str {
    let n = s
        .char_indices()
        .find(|(_, c)| !c.is_alphabetic())
        .map_or(s.len(), |(i, _)| i);
    &s[..n]
}

fn is_weekday(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
    .iter()
    .any(|day| lower.len() >= 3 && day.starts_with(lower.as_str()))
        || lower == "tues"
        || lower == "thurs"
}

/// A run of ASCII letters at the start of `s`.
fn letters(s: &str) -> &str {
    let n = s.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
    &s[..n]
}

/// A run of ASCII digits at the start of `s`.
fn digits(s: &str) -> &str {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    &s[..n]
}

/// Skips spaces and the given punctuation; returns how many bytes.
fn skip(s: &str, punctuation: &[char]) -> usize {
    s.len()
        - s.trim_start_matches(|c: char| c == ' ' || c == '\t' || punctuation.contains(&c))
            .len()
}

/// A day of the month with an optional ordinal suffix ("29", "29th").
fn day_at(s: &str) -> Option<(u8, usize)> {
    let d = digits(s);
    if d.is_empty() || d.len() > 2 {
        return None;
    }
    let day: u8 = d.parse().ok()?;
    if !(1..=31).contains(&day) {
        return None;
    }
    let mut len = d.len();
    let suffix = letters(&s[len..]).to_ascii_lowercase();
    if ["st", "nd", "rd", "th"].contains(&suffix.as_str()) {
        len += 2;
    } else if !suffix.is_empty() {
        return None;
    }
    Some((day, len))
}

/// A four-digit year after optional `,` and spaces.
fn year_after(s: &str) -> Option<(i32, usize)> {
    let gap = skip(s, &[',']);
    let d = digits(&s[gap..]);
    if d.len() != 4 || s[gap + 4..].starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return None;
    }
    Some((d.parse().ok()?, gap + 4))
}

/// A date at the very start of `s`, and how many bytes it takes.
pub fn date_at(s: &str) -> Option<(WrittenDate, usize)> {
    numeric_date_at(s).or_else(|| worded_date_at(s))
}

fn numeric_date_at(s: &str) -> Option<(WrittenDate, usize)> {
    let first = digits(s);
    let sep = s[first.len()..].chars().next()?;
    if !['-', '/', '.'].contains(&sep) {
        return None;
    }
    let rest = &s[first.len() + 1..];
    let second = digits(rest);
    let rest2 = rest[second.len()..].strip_prefix(sep)?;
    let third = digits(rest2);
    let len = first.len() + 1 + second.len() + 1 + third.len();
    // `2024-08-01T03:14:07Z`: the date ends at the `T`.
    let iso_time =
        s[len..].starts_with('T') && s[len + 1..].starts_with(|c: char| c.is_ascii_digit());
    if !iso_time && s[len..].starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return None;
    }
    let (year, month, day) = match (first.len(), second.len(), third.len()) {
        (4, 1..=2, 1..=2) => (first, second, third),
        // 9/29/2025 in the US way, 29/9/2025 when the first number cannot be a month.
        (1..=2, 1..=2, 4) if sep == '/' || sep == '.' => {
            let a: u8 = first.parse().ok()?;
            if a > 12 || sep == '.' {
                (third, second, first)
            } else {
                (third, first, second)
            }
        }
        _ => return None,
    };
    let month = Month::try_from(month.parse::<u8>().ok()?).ok()?;
    let day: u8 = day.parse().ok()?;
    let year: i32 = year.parse().ok()?;
    Date::from_calendar_date(year, month, day).ok()?;
    Some((
        WrittenDate {
            year: Some(year),
            month,
            day,
        },
        len,
    ))
}

fn worded_date_at(s: &str) -> Option<(WrittenDate, usize)> {
    let mut at = 0;
    // "Monday, " before the date.
    let word = letters(s);
    if !word.is_empty() && is_weekday(word) && month_of(word).is_none() {
        at = word.len();
        at += s[at..].strip_prefix('.').map_or(0, |_| 1);
        at += skip(&s[at..], &[',']);
    }
    let rest = &s[at..];
    let word = word_at(rest);
    if let Some(month) = (!word.is_empty()).then(|| month_of(word)).flatten() {
        // "September 29, 2025", "Sept. 29th", "Sep 29 2025"
        let mut len = at + word.len();
        len += s[len..].strip_prefix('.').map_or(0, |_| 1);
        let gap = skip(&s[len..], &[]);
        if gap == 0 {
            return None;
        }
        len += gap;
        let (day, n) = day_at(&s[len..])?;
        len += n;
        if s[len..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == ':') {
            return None;
        }
        let year = year_after(&s[len..]);
        len += year.map_or(0, |(_, n)| n);
        return Some((
            WrittenDate {
                year: year.map(|(y, _)| y),
                month,
                day,
            },
            len,
        ));
    }
    // "29 September 2025", "29th of Sept"
    let (day, n) = day_at(rest)?;
    let mut len = at + n;
    let gap = skip(&s[len..], &[]);
    if gap == 0 {
        return None;
    }
    len += gap;
    if s[len..].to_ascii_lowercase().starts_with("of ") {
        len += 3;
    }
    let word = word_at(&s[len..]);
    let month = (!word.is_empty()).then(|| month_of(word)).flatten()?;
    len += word.len();
    len += s[len..].strip_prefix('.').map_or(0, |_| 1);
    let year = year_after(&s[len..]);
    len += year.map_or(0, |(_, n)| n);
    Some((
        WrittenDate {
            year: year.map(|(y, _)| y),
            month,
            day,
        },
        len,
    ))
}

/// Every date in `text`, with its byte offset.
pub fn dates_in(text: &str) -> Vec<(usize, WrittenDate)> {
    let mut out = Vec::new();
    let mut previous: Option<char> = None;
    let mut skip_to = 0;
    for (i, c) in text.char_indices() {
        let boundary = !previous.is_some_and(|p| p.is_alphanumeric());
        previous = Some(c);
        if i < skip_to || !boundary || !c.is_ascii_alphanumeric() {
            continue;
        }
        if let Some((date, len)) = date_at(&text[i..]) {
            out.push((i, date));
            skip_to = i + len;
        }
    }
    out
}

/// The first four-digit year from 1970 to 2099 standing alone in `text`.
pub fn year_in(text: &str) -> Option<i32> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|w| w.len() == 4)
        .filter_map(|w| w.parse::<i32>().ok())
        .find(|y| (1970..2100).contains(y))
}

/// A time of day at the start of `s` ("16:58", "4:58pm", "4:58 PM", "16:58:03Z", "4pm"), with
/// a zone written right after it, and how many bytes they take.
pub fn time_at(s: &str) -> Option<(Time, Option<Zone>, usize)> {
    let h = digits(s);
    if h.is_empty() || h.len() > 2 {
        return None;
    }
    let mut hour: u8 = h.parse().ok()?;
    let mut len = h.len();
    let mut minute = 0u8;
    let mut second = 0u8;
    let mut has_minutes = false;
    // European ways: `14.20 Uhr`, `14h20`, `14 Uhr` (a dot alone is a date's or a version's).
    let uhr_after = |from: usize| {
        let gap = skip(&s[from..], &[]);
        let word = letters(&s[from + gap..]);
        word.eq_ignore_ascii_case("uhr").then_some(gap + 3)
    };
    let european = match s[len..].chars().next() {
        Some('.') => {
            let m = digits(&s[len + 1..]);
            (m.len() == 2)
                .then(|| uhr_after(len + 3))
                .flatten()
                .map(|uhr| (m, 3 + uhr))
        }
        Some('h') => {
            let m = digits(&s[len + 1..]);
            let after = s[len + 1 + m.len()..].chars().next();
            (m.len() == 2 && !after.is_some_and(|c| c.is_alphanumeric())).then_some((m, 3))
        }
        _ => uhr_after(len).map(|uhr| ("00", uhr)),
    };
    if let Some((m, taken)) = european {
        minute = m.parse().ok()?;
        len += taken;
        has_minutes = true;
    } else if let Some(rest) = s[len..].strip_prefix(':') {
        let m = digits(rest);
        if m.len() != 2 {
            return None;
        }
        minute = m.parse().ok()?;
        len += 3;
        has_minutes = true;
        if let Some(uhr) = uhr_after(len) {
            len += uhr;
        }
        if let Some(rest) = s[len..].strip_prefix(':') {
            let sec = digits(rest);
            if sec.len() == 2 {
                second = sec.parse().ok()?;
                len += 3;
                // Fractions of a second are read and dropped.
                if let Some(rest) = s[len..].strip_prefix('.') {
                    let frac = digits(rest);
                    if !frac.is_empty() {
                        len += 1 + frac.len();
                    }
                }
            }
        }
    }
    // am / pm, with or without a space and dots.
    let gap = skip(&s[len..], &[]);
    let word = s[len + gap..].to_ascii_lowercase();
    let meridiem = ["a.m.", "p.m.", "am", "pm"]
        .iter()
        .find(|m| {
            word.starts_with(**m)
                && !word[m.len()..].starts_with(|c: char| c.is_ascii_alphanumeric())
        })
        .copied();
    if let Some(m) = meridiem {
        if !(1..=12).contains(&hour) {
            return None;
        }
        let pm = m.starts_with('p');
        hour = match (hour, pm) {
            (12, false) => 0,
            (12, true) => 12,
            (h, true) => h + 12,
            (h, false) => h,
        };
        len += gap + m.len();
    } else if !has_minutes {
        return None;
    }
    if s[len..].starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let time = Time::from_hms(hour, minute, second).ok()?;
    // `16:58Z` or `16:58 UTC`, `16:58 (PDT)`
    let gap = skip(&s[len..], &['(']);
    let zone = zone_at(&s[len..]).map(|(z, n)| (z, n, 0)).or_else(|| {
        zone_at(&s[len + gap..])
            .filter(|_| gap > 0)
            .map(|(z, n)| (z, n, gap))
    });
    if let Some((zone, n, gap)) = zone {
        len += gap + n;
        if gap > 0 && s[len..].starts_with(')') {
            len += 1;
        }
        return Some((time, Some(zone), len));
    }
    Some((time, None, len))
}

const NAMED_ZONES: [(&str, i8, i8); 30] = [
    // (name, hours, minutes); the US ones without S/D are handled separately.
    ("UTC", 0, 0),
    ("GMT", 0, 0),
    ("Z", 0, 0),
    ("PST", -8, 0),
    ("PDT", -7, 0),
    ("MST", -7, 0),
    ("MDT", -6, 0),
    ("CST", -6, 0),
    ("CDT", -5, 0),
    ("EST", -5, 0),
    ("EDT", -4, 0),
    ("WET", 0, 0),
    ("BST", 1, 0),
    ("CET", 1, 0),
    ("CEST", 2, 0),
    ("EET", 2, 0),
    ("EEST", 3, 0),
    ("IST", 5, 30),
    ("SGT", 8, 0),
    ("JST", 9, 0),
    ("KST", 9, 0),
    ("AEST", 10, 0),
    ("AEDT", 11, 0),
    ("NZST", 12, 0),
    ("NZDT", 13, 0),
    ("HST", -10, 0),
    ("AKST", -9, 0),
    ("AKDT", -8, 0),
    // German: "14.20 Uhr MEZ".
    ("MEZ", 1, 0),
    ("MESZ", 2, 0),
];

const US_ZONES: [(&str, i8); 8] = [
    ("PT", -8),
    ("MT", -7),
    ("CT", -6),
    ("ET", -5),
    ("PACIFIC", -8),
    ("MOUNTAIN", -7),
    ("CENTRAL", -6),
    ("EASTERN", -5),
];

/// A zone at the very start of `s`: a name ("UTC", "PT", "CEST"), `UTC+2`, `+02:00`, `-0700`.
pub fn zone_at(s: &str) -> Option<(Zone, usize)> {
    if let Some((offset, len)) = offset_at(s) {
        return Some((Zone::Fixed(offset), len));
    }
    let word = letters(s);
    if word.is_empty() {
        return None;
    }
    let upper = word.to_ascii_uppercase();
    // Names are written in capitals; "Pacific"-style words in any case.
    let capitals = word == upper;
    let mut len = word.len();
    let zone = if let Some((_, h, m)) = NAMED_ZONES
        .iter()
        .find(|(name, _, _)| capitals && *name == upper)
    {
        Zone::Fixed(UtcOffset::from_hms(*h, *m, 0).ok()?)
    } else if let Some((_, h)) = US_ZONES
        .iter()
        .find(|(name, _)| *name == upper && (capitals || name.len() > 2))
    {
        Zone::Us(*h)
    } else {
        return None;
    };
    // "UTC+2", "GMT-05:00"
    if matches!(zone, Zone::Fixed(o) if o.is_utc()) && upper != "Z" {
        if let Some((offset, n)) = short_offset_at(&s[len..]) {
            len += n;
            return Some((Zone::Fixed(offset), len));
        }
    }
    // "Pacific Time", "Eastern time"
    if let Zone::Us(_) = zone {
        let rest = &s[len..];
        let gap = skip(rest, &[]);
        if gap > 0 && rest[gap..].to_ascii_lowercase().starts_with("time") {
            len += gap + 4;
        }
    }
    Some((zone, len))
}

/// `+02:00`, `+0200`, `-07`.
fn offset_at(s: &str) -> Option<(UtcOffset, usize)> {
    let sign = match s.chars().next()? {
        '+' => 1,
        '-' | '−' => -1,
        _ => return None,
    };
    let sign_len = s.chars().next()?.len_utf8();
    let rest = &s[sign_len..];
    let d = digits(rest);
    let (hours, minutes, len) = match d.len() {
        4 => (&d[..2], &d[2..], 4),
        2 => match rest[2..].strip_prefix(':') {
            Some(after) if digits(after).len() == 2 => (&d[..2], &after[..2], 5),
            _ => (d, "0", 2),
        },
        _ => return None,
    };
    let hours: i8 = hours.parse().ok()?;
    let minutes: i8 = minutes.parse().ok()?;
    let offset = UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()?;
    Some((offset, sign_len + len))
}

/// `+2`, `-5`, `+05:30` after UTC or GMT.
fn short_offset_at(s: &str) -> Option<(UtcOffset, usize)> {
    if let Some(found) = offset_at(s) {
        return Some(found);
    }
    let sign = match s.chars().next()? {
        '+' => 1,
        '-' => -1,
        _ => return None,
    };
    let d = digits(&s[1..]);
    if d.len() != 1 {
        return None;
    }
    let hours: i8 = d.parse().ok()?;
    Some((UtcOffset::from_hms(sign * hours, 0, 0).ok()?, 2))
}

/// The zone a document declares for its times: "All times UTC", "times are in PT",
/// "Timezone: CET", "(all times Pacific)".
pub fn declared_zone(text: &str) -> Option<Zone> {
    let lower = text.to_ascii_lowercase();
    for cue in [
        "all times",
        "times are",
        "times in",
        "times given",
        "timezone",
        "time zone",
        "times listed",
        "times shown",
        "timestamps",
    ] {
        let mut from = 0;
        while let Some(found) = lower.get(from..).and_then(|rest| rest.find(cue)) {
            let start = from + found + cue.len();
            let window_end = (start + 40).min(text.len());
            let window = text.get(start..window_end).unwrap_or("");
            let mut previous_alnum = false;
            for (i, c) in window.char_indices() {
                if !previous_alnum && (c.is_ascii_alphabetic() || c == '+') {
                    if let Some((zone, _)) = zone_at(&window[i..]) {
                        return Some(zone);
                    }
                }
                previous_alnum = c.is_alphanumeric();
            }
            from = start;
        }
    }
    None
}

/// A zone named in a short label — a timeline's heading ("Timeline (ET)", "Timeline, Pacific
/// time") or a table's time column ("Time (PST)", "UTC time") — which dates the times under it.
/// A lone "Z" is not read as a zone here: in a label it is a letter.
pub fn zone_named_in(label: &str) -> Option<Zone> {
    let mut previous_alnum = false;
    for (i, c) in label.char_indices() {
        if !previous_alnum && (c.is_ascii_alphabetic() || c == '+') {
            let rest = &label[i..];
            if let Some((zone, n)) = zone_at(rest) {
                let whole_word = !rest[n..].starts_with(|c: char| c.is_alphanumeric());
                if whole_word && !rest[..n].eq_ignore_ascii_case("z") {
                    return Some(zone);
                }
            }
        }
        previous_alnum = c.is_alphanumeric();
    }
    None
}

/// The zone of the first time written with one ("at 2:20 PM PST", "3:02 PM (Eastern)"): a
/// writer who names a zone once and then gives times alone means that zone for all of them.
pub fn first_written_zone(text: &str) -> Option<Zone> {
    let mut previous = ' ';
    for (i, c) in text.char_indices() {
        if c.is_ascii_digit() && !previous.is_alphanumeric() && previous != '.' && previous != ':' {
            match time_at(&text[i..]) {
                Some((_, Some(zone), _)) => return Some(zone),
                // "between 2:15 PM and 3:02 PM (heure de Paris, CET)"
                Some((_, None, len)) => {
                    let rest = text[i + len..].trim_start();
                    let named = rest
                        .strip_prefix('(')
                        .and_then(|inner| inner.split_once(')'))
                        .filter(|(inside, _)| inside.len() <= 40)
                        .and_then(|(inside, _)| zone_named_in(inside));
                    if named.is_some() {
                        return named;
                    }
                }
                None => {}
            }
        }
        previous = c;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, offset, time};

    fn date_of(s: &str) -> Option<Date> {
        date_at(s).and_then(|(d, _)| d.resolve(Some(2025)))
    }

    #[test]
    fn reads_dates_as_written() {
        for written in [
            "September 29, 2025",
            "29 September 2025",
            "2025-09-29",
            "Sept. 29th",
            "Monday, Sep 29",
            "Mon Sep 29 2025",
            "29th of September",
            "9/29/2025",
            "29/09/2025",
            "2025/09/29",
            "2025-09-29T16:58:03Z",
        ] {
            assert_eq!(date_of(written), Some(date!(2025 - 09 - 29)), "{written}");
        }
        assert_eq!(date_at("May be"), None);
        assert_eq!(date_at("16:58 UTC"), None);
        assert_eq!(date_at("2025-13-40"), None);
    }

    #[test]
    fn finds_dates_inside_prose() {
        let found = dates_in("On Monday, September 29, 2025, at 16:58 the queue stalled.");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1.resolve(None), Some(date!(2025 - 09 - 29)));
        assert!(dates_in("We had 29 problems and 3 fixes.").is_empty());
    }

    #[test]
    fn reads_times_and_zones() {
        let read = |s: &str| time_at(s).map(|(t, z, _)| (t, z));
        assert_eq!(
            read("16:58 UTC"),
            Some((time!(16:58), Some(Zone::Fixed(offset!(UTC)))))
        );
        assert_eq!(read("4:58pm PT"), Some((time!(16:58), Some(Zone::Us(-8)))));
        assert_eq!(
            read("16:58:03Z"),
            Some((time!(16:58:03), Some(Zone::Fixed(offset!(UTC)))))
        );
        assert_eq!(read("12:05 a.m."), Some((time!(00:05), None)));
        assert_eq!(read("09:47 Initial onset"), Some((time!(09:47), None)));
        assert_eq!(
            read("16:58 CEST"),
            Some((time!(16:58), Some(Zone::Fixed(offset!(+2)))))
        );
        assert_eq!(
            read("16:58 UTC+2"),
            Some((time!(16:58), Some(Zone::Fixed(offset!(+2)))))
        );
        assert_eq!(read("4pm"), Some((time!(16:00), None)));
        assert_eq!(read("25:99"), None);
        assert_eq!(read("16"), None);
        assert_eq!(read("3 servers"), None);
    }

    #[test]
    fn us_zones_follow_daylight_saving() {
        assert_eq!(Zone::Us(-8).offset_on(date!(2025 - 09 - 29)), offset!(-7));
        assert_eq!(Zone::Us(-8).offset_on(date!(2025 - 12 - 01)), offset!(-8));
        assert_eq!(Zone::Us(-5).offset_on(date!(2025 - 03 - 09)), offset!(-4));
        assert_eq!(Zone::Us(-5).offset_on(date!(2025 - 03 - 08)), offset!(-5));
    }

    #[test]
    fn finds_the_declared_zone() {
        assert_eq!(
            declared_zone("Timeline (all times are PDT)"),
            Some(Zone::Fixed(offset!(-7)))
        );
        assert_eq!(declared_zone("All times Pacific."), Some(Zone::Us(-8)));
        assert_eq!(
            declared_zone("Timezone: CET"),
            Some(Zone::Fixed(offset!(+1)))
        );
        assert_eq!(declared_zone("No zone here at all."), None);
    }
}
