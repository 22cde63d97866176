//! Smart risks (domain.md §5): test cards and learning cards (Strategyzer), the criteria of an
//! intelligent failure answered up front (Edmondson 2023), affordable loss (Sarasvathy's
//! effectuation; Sitkin's "modest scale") against a team's quarterly risk budget, the pilot
//! checklist (HBR 2011) and the decision after a test. Money is in minor units and effort in
//! tenths of a person-day: all budget arithmetic is in integers.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Date, Month};

use super::text::Invalid;

macro_rules! word_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $word:literal : $label:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }

            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            pub fn parse(raw: &str) -> Result<Self, Invalid> {
                match raw.trim() {
                    $($word => Ok($name::$variant),)+
                    _ => Err(Invalid(format!("must be one of: {}", [$($word),+].join(", ")))),
                }
            }
        }

        impl $crate::domain::text::Word for $name {
            fn parse_word(raw: &str) -> Result<Self, Invalid> {
                Self::parse(raw)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

word_enum!(
    /// Where an experiment stands.
    ExperimentStatus {
        /// Being designed: test card, criteria, affordable loss, pre-mortem, pilot checklist.
        Draft => "draft": "Draft",
        Running => "running": "Running",
        Concluded => "concluded": "Concluded",
        /// Stopped before it started.
        Cancelled => "cancelled": "Cancelled",
    }
);

word_enum!(
    /// How far the loss could be undone.
    Reversibility {
        Full => "full": "Fully reversible",
        Partial => "partial": "Partly reversible",
        None => "none": "Not reversible",
    }
);

word_enum!(
    /// Whose view of us the experiment could dent if it fails.
    ReputationScope {
        None => "none": "Nobody outside the team",
        Team => "team": "Our team",
        Organisation => "organisation": "The organisation",
        Customers => "customers": "Some customers",
        Public => "public": "The public",
    }
);

word_enum!(
    /// What the evidence said.
    Outcome {
        Validated => "validated": "Validated",
        Refuted => "refuted": "Refuted",
        Inconclusive => "inconclusive": "Inconclusive",
    }
);

word_enum!(
    /// What the team does next (persevere, pivot, retire or keep testing).
    Decision {
        Persevere => "persevere": "Persevere",
        Pivot => "pivot": "Pivot",
        Retire => "retire": "Retire",
        KeepTesting => "keep_testing": "Keep testing",
    }
);

word_enum!(
    /// What a pre-mortem reason became.
    Disposition {
        Mitigation => "mitigation": "Mitigation",
        AcceptedRisk => "accepted_risk": "Accepted risk",
    }
);

impl Outcome {
    /// A refuted or inconclusive test is, by construction, a candidate intelligent failure:
    /// it enters the loop at Analyse with its test card attached (domain.md §5).
    pub fn opens_a_loop(self) -> bool {
        matches!(self, Outcome::Refuted | Outcome::Inconclusive)
    }
}

/// The pilot checklist (HBR, April 2011), answered before the start and kept.
pub const PILOT_CHECKLIST: [(&str, &str); 6] = [
    (
        "typical_conditions",
        "Is it tested under typical conditions, not optimal ones?",
    ),
    (
        "representative",
        "Are the people and resources representative?",
    ),
    (
        "learn_not_prove",
        "Is the goal to learn rather than to prove?",
    ),
    (
        "goal_understood",
        "Does everyone involved understand the learning goal?",
    ),
    (
        "rewards_independent",
        "Are rewards independent of the pilot's success?",
    ),
    (
        "changes_planned",
        "Will explicit changes be made as a result?",
    ),
];

/// An ISO 4217 currency code: three upper-case letters.
pub fn currency(raw: &str) -> Result<String, Invalid> {
    let code = raw.trim().to_uppercase();
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(code)
    } else {
        Err(Invalid::new(
            "must be a three-letter currency code such as EUR",
        ))
    }
}

/// An amount of money or effort as it reaches the use case: an exact number from the API
/// (minor units, or tenths of a day), or the text of a form field, read by the same rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Amount {
    Exact(u64),
    Typed(String),
}

/// The largest money at risk accepted, in minor units (ten billion in the major unit).
const MONEY_MINOR_MAX: i64 = 1_000_000_000_000;
/// The largest effort at risk accepted, in tenths of a person-day.
const DAYS_TENTHS_MAX: i64 = 1_000_000;

fn at_most(value: u64, max: i64) -> Result<i64, Invalid> {
    i64::try_from(value)
        .ok()
        .filter(|v| *v <= max)
        .ok_or_else(|| Invalid::new("is too large"))
}

/// Money at risk in minor units, from either kind of amount.
pub fn money_minor_of(amount: &Amount) -> Result<i64, Invalid> {
    match amount {
        Amount::Exact(minor) => at_most(*minor, MONEY_MINOR_MAX),
        Amount::Typed(raw) => money_minor(raw),
    }
}

/// Effort at risk in tenths of a person-day, from either kind of amount.
pub fn person_days_tenths_of(amount: &Amount) -> Result<i64, Invalid> {
    match amount {
        Amount::Exact(tenths) => at_most(*tenths, DAYS_TENTHS_MAX),
        Amount::Typed(raw) => person_days_tenths(raw),
    }
}

/// Parses an amount such as "1200", "1 200.50" or "1200,5" into minor units (two decimals).
pub fn money_minor(raw: &str) -> Result<i64, Invalid> {
    let cleaned: String = raw
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .collect();
    if cleaned.is_empty() {
        return Ok(0);
    }
    let bad = || Invalid::new("must be an amount such as 1200 or 1200.50, not negative");
    let (whole, fraction) = match cleaned.split_once(['.', ',']) {
        Some((w, f)) => (w, f),
        None => (cleaned.as_str(), ""),
    };
    if whole.is_empty() && fraction.is_empty() || fraction.len() > 2 {
        return Err(bad());
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let cents: i64 = match fraction.len() {
        0 => 0,
        1 => fraction.parse::<i64>().map_err(|_| bad())? * 10,
        _ => fraction.parse().map_err(|_| bad())?,
    };
    whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(cents))
        .filter(|v| *v <= MONEY_MINOR_MAX)
        .ok_or_else(|| Invalid::new("is too large"))
}

/// Parses person-days such as "3" or "2.5" into tenths of a day.
pub fn person_days_tenths(raw: &str) -> Result<i64, Invalid> {
    let raw = raw.trim().replace(',', ".");
    if raw.is_empty() {
        return Ok(0);
    }
    let bad = || Invalid::new("must be a number of days such as 3 or 2.5");
    let (whole, fraction) = raw.split_once('.').unwrap_or((&raw, ""));
    if fraction.len() > 1 || whole.is_empty() && fraction.is_empty() {
        return Err(bad());
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let tenth: i64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| bad())?
    };
    whole
        .checked_mul(10)
        .and_then(|w| w.checked_add(tenth))
        .filter(|v| *v <= DAYS_TENTHS_MAX)
        .ok_or_else(|| Invalid::new("is too large"))
}

/// "1,234.50 EUR" for pages.
pub fn format_money(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let minor = minor.unsigned_abs();
    let whole = (minor / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{:02} {currency}", minor % 100)
}

/// "2.5 person-days".
pub fn format_days(tenths: i64) -> String {
    // The sign on its own: -0.5 has no whole days to carry it.
    let sign = if tenths < 0 { "-" } else { "" };
    let abs = tenths.unsigned_abs();
    let days = if abs % 10 == 0 {
        format!("{sign}{}", abs / 10)
    } else {
        format!("{sign}{}.{}", abs / 10, abs % 10)
    };
    format!("{days} person-day{}", if tenths == 10 { "" } else { "s" })
}

/// A calendar quarter, "2026-Q1".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quarter {
    pub year: i32,
    pub number: u8,
}

impl Quarter {
    pub fn of(date: Date) -> Self {
        Self {
            year: date.year(),
            number: (u8::from(date.month()) - 1) / 3 + 1,
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let bad = || Invalid::new("must be a quarter such as 2026-Q1");
        let (year, q) = raw.trim().split_once("-Q").ok_or_else(bad)?;
        let year: i32 = year.parse().map_err(|_| bad())?;
        let number: u8 = q.parse().map_err(|_| bad())?;
        if !(1..=4).contains(&number) || !(2000..=2200).contains(&year) {
            return Err(bad());
        }
        Ok(Self { year, number })
    }

    /// First day of the quarter, and the first day of the next one (exclusive).
    pub fn bounds(self) -> (Date, Date) {
        let month = |n: u8| Month::try_from(n).unwrap_or(Month::January);
        let start = Date::from_calendar_date(self.year, month((self.number - 1) * 3 + 1), 1)
            .unwrap_or(Date::MIN);
        let end = if self.number == 4 {
            Date::from_calendar_date(self.year + 1, Month::January, 1)
        } else {
            Date::from_calendar_date(self.year, month(self.number * 3 + 1), 1)
        }
        .unwrap_or(Date::MAX);
        (start, end)
    }
}

impl fmt::Display for Quarter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-Q{}", self.year, self.number)
    }
}

/// The affordable loss a team commits per quarter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub currency: String,
    pub money_minor: i64,
    pub days_tenths: i64,
}

/// What an experiment may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Loss {
    pub money_minor: i64,
    pub days_tenths: i64,
}

/// Where the budget stands after what is already committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetPosition {
    pub committed: Loss,
    pub remaining_money_minor: i64,
    pub remaining_days_tenths: i64,
}

impl Budget {
    pub fn position(&self, committed: Loss) -> BudgetPosition {
        BudgetPosition {
            committed,
            remaining_money_minor: self.money_minor - committed.money_minor,
            remaining_days_tenths: self.days_tenths - committed.days_tenths,
        }
    }

    /// Whether committing `extra` on top of `committed` goes past the budget (in money or in
    /// effort). Going past is allowed only with a lead's explicit approval.
    pub fn exceeded_by(&self, committed: Loss, extra: Loss) -> bool {
        committed.money_minor + extra.money_minor > self.money_minor
            || committed.days_tenths + extra.days_tenths > self.days_tenths
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn exact_amounts_keep_the_typed_limits() {
        assert_eq!(money_minor_of(&Amount::Exact(150_050)), Ok(150_050));
        assert_eq!(
            money_minor_of(&Amount::Typed("1500.50".to_owned())),
            Ok(150_050)
        );
        assert!(money_minor_of(&Amount::Exact(1_000_000_000_001)).is_err());
        assert!(money_minor_of(&Amount::Exact(u64::MAX)).is_err());
        assert_eq!(person_days_tenths_of(&Amount::Exact(25)), Ok(25));
        assert!(person_days_tenths_of(&Amount::Exact(1_000_001)).is_err());
    }

    #[test]
    fn money_is_parsed_into_minor_units() {
        for (raw, minor) in [
            ("1200", 120_000),
            ("1 200.5", 120_050),
            ("1200,05", 120_005),
            ("0.99", 99),
            ("", 0),
            (".5", 50),
        ] {
            assert_eq!(money_minor(raw), Ok(minor), "{raw}");
        }
        for bad in ["-5", "1.234", "12a", "1.2.3", "99999999999999"] {
            assert!(money_minor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn days_are_parsed_into_tenths() {
        assert_eq!(person_days_tenths("2.5"), Ok(25));
        assert_eq!(person_days_tenths("3"), Ok(30));
        assert_eq!(person_days_tenths("0,5"), Ok(5));
        assert!(person_days_tenths("2.25").is_err());
        assert!(person_days_tenths("-1").is_err());
    }

    #[test]
    fn budget_arithmetic_is_exact() {
        let budget = Budget {
            currency: "EUR".into(),
            money_minor: 500_000,
            days_tenths: 200,
        };
        let committed = Loss {
            money_minor: 300_001,
            days_tenths: 150,
        };
        let position = budget.position(committed);
        assert_eq!(position.remaining_money_minor, 199_999);
        assert_eq!(position.remaining_days_tenths, 50);
        assert!(!budget.exceeded_by(
            committed,
            Loss {
                money_minor: 199_999,
                days_tenths: 50
            }
        ));
        assert!(budget.exceeded_by(
            committed,
            Loss {
                money_minor: 200_000,
                days_tenths: 0
            }
        ));
        assert!(budget.exceeded_by(
            committed,
            Loss {
                money_minor: 0,
                days_tenths: 51
            }
        ));
        // 0.1 + 0.2 is exactly 0.3 here.
        let tenths =
            person_days_tenths("0.1").unwrap_or(0) + person_days_tenths("0.2").unwrap_or(0);
        assert_eq!(tenths, person_days_tenths("0.3").unwrap_or(-1));
    }

    #[test]
    fn formats_for_people() {
        assert_eq!(format_money(123_456_789, "EUR"), "1,234,567.89 EUR");
        assert_eq!(format_money(5, "USD"), "0.05 USD");
        assert_eq!(format_days(25), "2.5 person-days");
        assert_eq!(format_days(10), "1 person-day");
        assert_eq!(format_days(-5), "-0.5 person-days");
        assert_eq!(format_days(-25), "-2.5 person-days");
    }

    #[test]
    fn quarters() {
        assert_eq!(Quarter::of(date!(2026 - 03 - 31)).to_string(), "2026-Q1");
        assert_eq!(Quarter::of(date!(2026 - 10 - 01)).to_string(), "2026-Q4");
        let q = Quarter::parse("2026-Q4").expect("quarter");
        assert_eq!(q.bounds(), (date!(2026 - 10 - 01), date!(2027 - 01 - 01)));
        assert!(Quarter::parse("2026-Q5").is_err());
        assert_eq!(currency(" eur "), Ok("EUR".to_owned()));
        assert!(currency("EURO").is_err());
    }
}
