//! A team's expectations about intelligent failure and cooperation (issue 24; domain.md on the
//! Pygmalion effect): what a lead writes, the few measures the product can compute honestly from
//! its own data, and when an expectation is due for its quarterly revisit. Pure: the store
//! counts, the service passes the quarter in.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::Date;

use super::experiments::Quarter;
use super::text::{multi_line, Invalid};

/// An expectation's text, in characters.
pub const TEXT_MAX: usize = 500;
/// A comment's text, in characters.
pub const COMMENT_MAX: usize = 1000;
/// The smallest and largest target of any measure: one range, so that every target the API's
/// document allows is accepted whatever the measure.
pub const TARGET_MIN: i64 = 0;
pub const TARGET_MAX: i64 = 100;

/// The measures the product computes from its own records; anything else stays words only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Experiments started in the quarter per member of the team: at least the target.
    ExperimentsPerMemberPerQuarter,
    /// Median whole days from a failure being noticed to its loop being logged: at most the target.
    DaysToLogFailure,
    /// Share (%) of action items due in the quarter (due day over, not dropped) done by their due
    /// day: at least the target.
    ActionsDoneOnTime,
}

impl Measure {
    pub const ALL: &'static [Measure] = &[
        Measure::ExperimentsPerMemberPerQuarter,
        Measure::DaysToLogFailure,
        Measure::ActionsDoneOnTime,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Measure::ExperimentsPerMemberPerQuarter => "experiments_per_member_per_quarter",
            Measure::DaysToLogFailure => "days_to_log_failure",
            Measure::ActionsDoneOnTime => "actions_done_on_time",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let raw = raw.trim();
        Self::ALL
            .iter()
            .copied()
            .find(|m| m.as_str() == raw)
            .ok_or_else(|| {
                Invalid(format!(
                    "must be one of: {}",
                    Self::ALL
                        .iter()
                        .map(|m| m.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }

    /// What the target means, as a page writes it next to the number.
    pub fn describe(self, target: i64) -> String {
        match self {
            Measure::ExperimentsPerMemberPerQuarter => {
                format!("at least {target} experiment(s) started per member this quarter")
            }
            Measure::DaysToLogFailure => {
                format!("failures logged within {target} day(s) of being noticed (median)")
            }
            Measure::ActionsDoneOnTime => {
                format!("at least {target}% of due action items done by their due day")
            }
        }
    }
}

impl super::text::Word for Measure {
    fn parse_word(raw: &str) -> Result<Self, Invalid> {
        Self::parse(raw)
    }
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The expectation's words, trimmed; 1–500 characters.
pub fn text(raw: &str) -> Result<String, Invalid> {
    multi_line(raw, TEXT_MAX, true)
}

/// A comment's words, trimmed; 1–1000 characters.
pub fn comment(raw: &str) -> Result<String, Invalid> {
    multi_line(raw, COMMENT_MAX, true)
}

/// A target, within the one range every measure shares.
pub fn target(raw: i64) -> Result<i64, Invalid> {
    if (TARGET_MIN..=TARGET_MAX).contains(&raw) {
        Ok(raw)
    } else {
        Err(Invalid(format!(
            "must be between {TARGET_MIN} and {TARGET_MAX}"
        )))
    }
}

/// What the store counted for one team in one quarter, up to today.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeasureFacts {
    pub members: i64,
    pub experiments_started: i64,
    /// Whole days from noticed to logged, one per loop logged in the quarter.
    pub days_to_log: Vec<i64>,
    /// Action items whose due day in the quarter is over (dropped ones left out).
    pub actions_due: i64,
    /// Of those, the ones done by the end of their due day.
    pub actions_on_time: i64,
}

/// How the team is doing against one measurable expectation in one quarter.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub measure: Measure,
    pub target: i64,
    pub quarter: Quarter,
    /// The figure, when there is anything to compute it from.
    pub figure: Option<f64>,
    /// Whether the figure meets the target (`None` without a figure).
    pub met: Option<bool>,
    /// What the figure was computed from, in words.
    pub basis: String,
}

impl Progress {
    /// The figure as pages write it ("0.5", "2", "75%"), or "no data yet".
    pub fn shown(&self) -> String {
        match self.figure {
            None => "no data yet".to_owned(),
            Some(f) => {
                let rounded = (f * 10.0).round() / 10.0;
                let number = if rounded.fract() == 0.0 {
                    format!("{rounded:.0}")
                } else {
                    format!("{rounded:.1}")
                };
                if self.measure == Measure::ActionsDoneOnTime {
                    format!("{number}%")
                } else {
                    number
                }
            }
        }
    }
}

/// The figure of `measure` over `facts`, against `target`.
pub fn progress(measure: Measure, target: i64, quarter: Quarter, facts: &MeasureFacts) -> Progress {
    let (figure, basis) = match measure {
        Measure::ExperimentsPerMemberPerQuarter => (
            (facts.members > 0).then(|| facts.experiments_started as f64 / facts.members as f64),
            format!(
                "{} experiment(s) started by a team of {} member(s)",
                facts.experiments_started, facts.members
            ),
        ),
        Measure::DaysToLogFailure => {
            let mut days = facts.days_to_log.clone();
            (
                super::mirror::median_days(&mut days),
                format!("{} loop(s) logged", facts.days_to_log.len()),
            )
        }
        Measure::ActionsDoneOnTime => (
            (facts.actions_due > 0)
                .then(|| facts.actions_on_time as f64 * 100.0 / facts.actions_due as f64),
            format!(
                "{} of {} due action item(s) done on time",
                facts.actions_on_time, facts.actions_due
            ),
        ),
    };
    let met = figure.map(|f| match measure {
        Measure::DaysToLogFailure => f <= target as f64,
        _ => f >= target as f64,
    });
    Progress {
        measure,
        target,
        quarter,
        figure,
        met,
        basis,
    }
}

/// An expectation is due for its revisit once the quarter of `today` is later than the one in
/// which it was last revisited (or written).
pub fn needs_revisit(last_revisited: Quarter, today: Date) -> bool {
    Quarter::of(today) > last_revisited
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn figures_and_targets() {
        let q = Quarter::of(date!(2026 - 11 - 02));
        let facts = MeasureFacts {
            members: 4,
            experiments_started: 2,
            days_to_log: vec![0, 3, 1],
            actions_due: 4,
            actions_on_time: 3,
        };
        let p = progress(Measure::ExperimentsPerMemberPerQuarter, 1, q, &facts);
        assert_eq!(p.figure, Some(0.5));
        assert_eq!(p.met, Some(false));
        let p = progress(Measure::DaysToLogFailure, 1, q, &facts);
        assert_eq!(p.figure, Some(1.0));
        assert_eq!(p.met, Some(true));
        let p = progress(Measure::ActionsDoneOnTime, 80, q, &facts);
        assert_eq!(p.shown(), "75%");
        assert_eq!(p.met, Some(false));
        let none = progress(Measure::ActionsDoneOnTime, 80, q, &MeasureFacts::default());
        assert_eq!(none.met, None);
    }

    #[test]
    fn revisit_when_the_quarter_changes() {
        let q = Quarter::of(date!(2026 - 11 - 02));
        assert!(!needs_revisit(q, date!(2026 - 12 - 31)));
        assert!(needs_revisit(q, date!(2027 - 01 - 01)));
        assert!(target(101).is_err());
        assert!(Measure::parse("days_to_log_failure").is_ok());
        assert!(Measure::parse("nope").is_err());
    }
}

/// An expectation as the store reads it.
#[derive(Debug, Clone)]
pub struct ExpectationRecord {
    pub id: super::RecordId,
    pub text: String,
    pub measure: Option<(Measure, i64)>,
    pub written_by: Option<String>,
    pub written_at: time::OffsetDateTime,
    /// The quarter it was written or last revisited in.
    pub revisited: Quarter,
    pub retired_at: Option<time::OffsetDateTime>,
}

/// A comment as the store reads it: an unnamed one has no author and only its day.
#[derive(Debug, Clone)]
pub struct ExpectationComment {
    pub id: super::RecordId,
    pub expectation_id: super::RecordId,
    /// The writer's name; `None` when unnamed (or the account is gone).
    pub author: Option<String>,
    pub text: String,
    /// Midnight UTC of the day it was written.
    pub written_on: time::OffsetDateTime,
}
