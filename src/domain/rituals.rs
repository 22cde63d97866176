//! Rituals (issue 24; domain.md "Rituals that open up vulnerability", "Leaders go first"): a
//! recurring failure-share round a lead schedules. The schedule (cadence and weekday) and the
//! clock decide which round is current; a round opens to the team only once a lead has shared
//! (Coyle 2018: the first vulnerability comes from the top). No clock is read here: `today` is
//! passed in.

use time::{Date, Duration, Weekday};

use super::text::{multi_line, Invalid, Word};

/// How much a share may say about what failed, and about what was learnt.
pub const FAILED_MAX: usize = 2_000;
pub const LEARNT_MAX: usize = 2_000;

/// How often the round comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    Weekly,
    Fortnightly,
}

impl Cadence {
    pub fn as_word(self) -> &'static str {
        match self {
            Cadence::Weekly => "weekly",
            Cadence::Fortnightly => "fortnightly",
        }
    }

    fn weeks(self) -> i64 {
        match self {
            Cadence::Weekly => 1,
            Cadence::Fortnightly => 2,
        }
    }
}

impl Word for Cadence {
    fn parse_word(raw: &str) -> Result<Self, Invalid> {
        match raw.trim() {
            "weekly" => Ok(Cadence::Weekly),
            "fortnightly" => Ok(Cadence::Fortnightly),
            _ => Err(Invalid::new("must be one of: weekly, fortnightly")),
        }
    }
}

/// The weekdays as forms and the API write them.
pub const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// A weekday read from its English name.
pub fn parse_weekday(raw: &str) -> Result<Weekday, Invalid> {
    let word = raw.trim();
    WEEKDAYS
        .iter()
        .position(|w| *w == word)
        .map(|i| Weekday::Monday.nth_next(i as u8))
        .ok_or_else(|| Invalid::new(format!("must be one of: {}", WEEKDAYS.join(", "))))
}

pub fn weekday_word(day: Weekday) -> &'static str {
    WEEKDAYS[usize::from(day.number_days_from_monday())]
}

/// A team's ritual: every week or every other week, on one weekday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RitualSchedule {
    pub cadence: Cadence,
    pub weekday: Weekday,
}

impl RitualSchedule {
    /// The first day of the round current on `today`: the latest scheduled day on or before
    /// it. Fortnightly rounds fall on the weeks of even number counted from a fixed Monday, so
    /// that every instance and every day agree on them without storing a start.
    pub fn current_round(&self, today: Date) -> Date {
        let back = i64::from(today.weekday().number_days_from_monday())
            - i64::from(self.weekday.number_days_from_monday());
        let mut day = today - Duration::days(back.rem_euclid(7));
        if self.cadence == Cadence::Fortnightly && week_number(day).rem_euclid(2) == 1 {
            day -= Duration::days(7);
        }
        day
    }

    /// The first day of the round after the one current on `today`.
    pub fn next_round(&self, today: Date) -> Date {
        self.current_round(today) + Duration::weeks(self.cadence.weeks())
    }
}

/// Weeks since Monday 5 January 1970.
fn week_number(day: Date) -> i64 {
    let anchor = Date::from_calendar_date(1970, time::Month::January, 5).unwrap_or(Date::MIN);
    (day - anchor).whole_days().div_euclid(7)
}

/// What a share says: what failed and what was learnt, both required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareText {
    pub failed: String,
    pub learnt: String,
}

impl ShareText {
    /// Every refused field at once, by name.
    pub fn parse(failed: &str, learnt: &str) -> Result<Self, Vec<(&'static str, Invalid)>> {
        let failed = multi_line(failed, FAILED_MAX, true);
        let learnt = multi_line(learnt, LEARNT_MAX, true);
        match (failed, learnt) {
            (Ok(failed), Ok(learnt)) => Ok(ShareText { failed, learnt }),
            (failed, learnt) => {
                let mut errors = Vec::new();
                if let Err(e) = failed {
                    errors.push(("failed", e));
                }
                if let Err(e) = learnt {
                    errors.push(("learnt", e));
                }
                Err(errors)
            }
        }
    }
}

/// Where a round stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundState {
    /// No lead has shared yet: members' shares are refused.
    WaitingForLead,
    Open,
    /// Closed into the team's library.
    Closed,
}

impl RoundState {
    pub fn as_word(self) -> &'static str {
        match self {
            RoundState::WaitingForLead => "waiting_for_lead",
            RoundState::Open => "open",
            RoundState::Closed => "closed",
        }
    }
}

/// Why the lead goes first, for pages and the API.
pub const WHY_LEAD_FIRST: &str = "The round opens when a lead has shared. Vulnerability starts at \
the top: when a leader is the first to tell a failure and what they learnt, the team sees that \
telling is safe and expected here (Coyle 2018; Edmondson). So a lead's share comes first, under \
their name, and everyone else's after.";

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn weekly_round_starts_on_the_latest_scheduled_day() {
        let s = RitualSchedule {
            cadence: Cadence::Weekly,
            weekday: Weekday::Wednesday,
        };
        // 2026-12-03 is a Thursday.
        assert_eq!(
            s.current_round(date!(2026 - 12 - 03)),
            date!(2026 - 12 - 02)
        );
        assert_eq!(
            s.current_round(date!(2026 - 12 - 02)),
            date!(2026 - 12 - 02)
        );
        assert_eq!(
            s.current_round(date!(2026 - 12 - 01)),
            date!(2026 - 11 - 25)
        );
        assert_eq!(s.next_round(date!(2026 - 12 - 03)), date!(2026 - 12 - 09));
    }

    #[test]
    fn fortnightly_rounds_agree_across_days() {
        let s = RitualSchedule {
            cadence: Cadence::Fortnightly,
            weekday: Weekday::Monday,
        };
        let start = s.current_round(date!(2026 - 12 - 03));
        for d in 0..14 {
            let day = start + Duration::days(d);
            assert_eq!(s.current_round(day), start);
        }
        assert_eq!(
            s.current_round(start + Duration::days(14)),
            start + Duration::days(14)
        );
    }

    #[test]
    fn shares_need_both_parts() {
        let errors = ShareText::parse(" ", "x").expect_err("a blank share is refused");
        assert_eq!(errors[0].0, "failed");
        assert!(ShareText::parse("a", "b").is_ok());
    }
}

/// A round as stored: it exists from the moment a lead shared in it.
#[derive(Debug, Clone)]
pub struct RitualRoundRecord {
    pub id: super::RecordId,
    pub opens_on: time::OffsetDateTime,
    pub opened_at: time::OffsetDateTime,
    pub closed_at: Option<time::OffsetDateTime>,
}

/// A share as the team reads it: the writer's name, or none when it was shared unnamed.
#[derive(Debug, Clone)]
pub struct RitualShareRecord {
    pub author_name: Option<String>,
    pub failed: String,
    pub learnt: String,
}
