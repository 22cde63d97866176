//! The "consistent success" signal (issue 24): Sitkin's liabilities of success (1992) — a run of
//! unbroken success breeds complacency and shrinking search; the essay asks "if we arrive at
//! consistent success, what have we sacrificed?" (domain.md §6). The team sees the question,
//! never a score, when one of three conditions holds over windows that end today:
//!
//! - **all validated**: every experiment concluded in the last `quarters` quarters (13 weeks
//!   each) was validated, and there was at least one;
//! - **quiet while shipping**: no loop was logged (a failure or an experiment that did not go as
//!   hoped, named or anonymous) in the last `quiet_weeks` weeks, while the team shipped — at least one experiment concluded or one
//!   action item marked done in those weeks (the two kinds of finished work the product sees);
//! - **all basic**: at least `basic_min_loops` loops were logged in the last `basic_weeks` weeks
//!   and every one of them is classified basic (an unclassified loop is not basic).
//!
//! The rule reads counts the store gives it; it does no IO.

use time::{Duration, OffsetDateTime};

use crate::domain::text::Invalid;

/// The essay's question, shown as a question, never a score (domain.md §6).
pub const QUESTION: &str = "If we arrive at consistent success, what have we sacrificed?";

/// What a team could try when the question shows.
pub const SUGGESTIONS: [&str; 3] = [
    "Run a bolder experiment: a hypothesis you are genuinely unsure about.",
    "Hold a pre-mortem on your next piece of work: imagine it failed, and write down why.",
    "Open an anonymous round: invite the failures nobody has logged yet, without names.",
];

/// A team's thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuccessSettings {
    pub quarters: u32,
    pub quiet_weeks: u32,
    pub basic_weeks: u32,
    pub basic_min_loops: u32,
}

impl Default for SuccessSettings {
    /// Two quarters and six weeks are the issue's; a quarter of loops, at least three, keeps
    /// one or two basic slips from raising the question.
    fn default() -> Self {
        SuccessSettings {
            quarters: 2,
            quiet_weeks: 6,
            basic_weeks: 13,
            basic_min_loops: 3,
        }
    }
}

/// The allowed ranges, `(field, min, max)`.
pub const RANGES: [(&str, u32, u32); 4] = [
    ("quarters", 1, 8),
    ("quiet_weeks", 1, 52),
    ("basic_weeks", 1, 52),
    ("basic_min_loops", 1, 100),
];

impl SuccessSettings {
    /// Checks every value against its range; the errors name the field.
    pub fn parse(
        quarters: i64,
        quiet_weeks: i64,
        basic_weeks: i64,
        basic_min_loops: i64,
    ) -> Result<Self, Vec<(&'static str, Invalid)>> {
        let values = [quarters, quiet_weeks, basic_weeks, basic_min_loops];
        let mut errors = Vec::new();
        let mut ok = [0u32; 4];
        for (i, (field, min, max)) in RANGES.iter().enumerate() {
            match u32::try_from(values[i]) {
                Ok(v) if (*min..=*max).contains(&v) => ok[i] = v,
                _ => errors.push((
                    *field,
                    Invalid(format!("must be a whole number from {min} to {max}")),
                )),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(SuccessSettings {
            quarters: ok[0],
            quiet_weeks: ok[1],
            basic_weeks: ok[2],
            basic_min_loops: ok[3],
        })
    }

    /// The start of each window ending at `now`: (experiments, quiet, basic).
    pub fn windows(&self, now: OffsetDateTime) -> Windows {
        Windows {
            experiments_since: now - Duration::weeks(13 * i64::from(self.quarters)),
            quiet_since: now - Duration::weeks(i64::from(self.quiet_weeks)),
            basic_since: now - Duration::weeks(i64::from(self.basic_weeks)),
        }
    }
}

/// Where each window starts (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    pub experiments_since: OffsetDateTime,
    pub quiet_since: OffsetDateTime,
    pub basic_since: OffsetDateTime,
}

/// What the store counted in the windows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SuccessCounts {
    /// Experiments concluded in the experiments window, and how many of them were validated.
    pub concluded: i64,
    pub validated: i64,
    /// Failures logged in the quiet window.
    pub failures_quiet: i64,
    /// Experiments concluded and action items done in the quiet window.
    pub shipped_quiet: i64,
    /// Loops logged in the basic window, and how many of them are classified basic.
    pub loops_basic: i64,
    pub basic: i64,
}

/// Which condition raised the question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuccessCondition {
    AllValidated,
    QuietWhileShipping,
    AllBasic,
}

impl SuccessCondition {
    pub fn as_str(self) -> &'static str {
        match self {
            SuccessCondition::AllValidated => "all_validated",
            SuccessCondition::QuietWhileShipping => "quiet_while_shipping",
            SuccessCondition::AllBasic => "all_basic",
        }
    }

    /// Why the question shows, in plain words.
    pub fn explain(self, settings: &SuccessSettings) -> String {
        match self {
            SuccessCondition::AllValidated => format!(
                "Every experiment the team concluded in the last {} quarter(s) was validated. A team whose tests all succeed is probably not testing bold enough hypotheses.",
                settings.quarters
            ),
            SuccessCondition::QuietWhileShipping => format!(
                "The team logged no failure in the last {} week(s), while it concluded experiments or finished actions. Failures are probably happening without being surfaced.",
                settings.quiet_weeks
            ),
            SuccessCondition::AllBasic => format!(
                "All {} or more loops logged in the last {} week(s) are basic failures. The team may be avoiding new territory, where intelligent failures happen.",
                settings.basic_min_loops, settings.basic_weeks
            ),
        }
    }
}

/// The conditions that hold, in a fixed order; empty when the question does not show.
pub fn consistent_success(
    counts: &SuccessCounts,
    settings: &SuccessSettings,
) -> Vec<SuccessCondition> {
    let mut fired = Vec::new();
    if counts.concluded > 0 && counts.validated == counts.concluded {
        fired.push(SuccessCondition::AllValidated);
    }
    if counts.failures_quiet == 0 && counts.shipped_quiet > 0 {
        fired.push(SuccessCondition::QuietWhileShipping);
    }
    if counts.loops_basic >= i64::from(settings.basic_min_loops)
        && counts.basic == counts.loops_basic
    {
        fired.push(SuccessCondition::AllBasic);
    }
    fired
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_condition_at_its_edge() {
        let s = SuccessSettings::default();
        let none = SuccessCounts::default();
        assert!(
            consistent_success(&none, &s).is_empty(),
            "no data, no question"
        );
        let all_validated = SuccessCounts {
            concluded: 2,
            validated: 2,
            failures_quiet: 1,
            ..none
        };
        assert_eq!(
            consistent_success(&all_validated, &s),
            vec![SuccessCondition::AllValidated]
        );
        let one_refuted = SuccessCounts {
            validated: 1,
            ..all_validated
        };
        assert!(consistent_success(&one_refuted, &s).is_empty());
        let quiet = SuccessCounts {
            shipped_quiet: 1,
            ..none
        };
        assert_eq!(
            consistent_success(&quiet, &s),
            vec![SuccessCondition::QuietWhileShipping]
        );
        let basic = SuccessCounts {
            loops_basic: 3,
            basic: 3,
            failures_quiet: 1,
            ..none
        };
        assert_eq!(
            consistent_success(&basic, &s),
            vec![SuccessCondition::AllBasic]
        );
        let too_few = SuccessCounts {
            loops_basic: 2,
            basic: 2,
            ..basic
        };
        assert!(consistent_success(&too_few, &s).is_empty());
    }

    #[test]
    fn settings_name_each_bad_field() {
        assert_eq!(
            SuccessSettings::parse(2, 6, 13, 3),
            Ok(SuccessSettings::default())
        );
        let errors = SuccessSettings::parse(0, 6, 53, 3).expect_err("bad");
        let fields: Vec<_> = errors.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, vec!["quarters", "basic_weeks"]);
    }
}
