//! The dynamics mirror (issue 24, domain.md §6): a team's own review sessions and loops over one
//! quarter, shown back to it as a few aggregate figures, each with what it means and a question.
//!
//! Pure: the service hands in facts the store read (a card's tier, a ballot, a decision's card, a
//! loop's logger and days) and gets figures back. The floor is the pulse's: nothing from fewer
//! than the team's minimum of people, and no figure that would single out a non-lead. It must not
//! take anything that links an unnamed card, ballot or anonymous loop to a person.

use serde::Serialize;
use time::Date;

use super::experiments::Quarter;
use super::text::Invalid;

/// Where the help texts come from (domain.md §4 and §6).
pub const SOURCES: [&str; 4] = [
    "Authority bias and \"leader speaks last\": review sessions in failforward write before anyone reads (domain.md §4).",
    "Sitkin (1992), \"Learning through failure: the strategy of small losses\", Research in Organizational Behavior 14.",
    "Coyle (2018), The Culture Code: leaders vulnerable first and often; the first disagreement as a pivotal moment.",
    "Minimum group size as in employee-survey platforms (Viva Glint, Qualtrics EX, Culture Amp, Peakon): 5 by default.",
];

/// Why the reveal order is not a figure: the stored data cannot tell it.
pub const REVEAL_ORDER_UNKNOWN: &str = "Whether the facilitator showed the leads' cards early cannot be known from what failforward stores: it keeps when each tier of cards was revealed, but not whether everyone else had finished writing at that moment (\"finished\" is a live state that people may take back), so an early reveal and a last writer finishing look the same.";

/// Reads a quarter as "2026Q4" or "2026-Q4".
pub fn parse_quarter(raw: &str) -> Result<Quarter, Invalid> {
    let raw = raw.trim();
    let normalised = match raw.find(['Q', 'q']) {
        Some(i) if i > 0 && !raw[..i].ends_with('-') => {
            format!("{}-Q{}", &raw[..i], &raw[i + 1..])
        }
        Some(i) => format!("{}Q{}", &raw[..i], &raw[i + 1..]),
        None => raw.to_owned(),
    };
    Quarter::parse(&normalised).map_err(|_| Invalid::new("must be a quarter such as 2026Q4"))
}

/// A quarter written as the API and the CLI take it: "2026Q4".
pub fn quarter_code(quarter: Quarter) -> String {
    format!("{}Q{}", quarter.year, quarter.number)
}

/// The quarter before.
pub fn previous_quarter(quarter: Quarter) -> Quarter {
    if quarter.number == 1 {
        Quarter {
            year: quarter.year - 1,
            number: 4,
        }
    } else {
        Quarter {
            year: quarter.year,
            number: quarter.number - 1,
        }
    }
}

/// A card as the mirror needs it: its id and whether it sat in the leads' (late) tier. The tier
/// is the only role the product keeps beside an unnamed card, and it is used here only in sums.
#[derive(Debug, Clone)]
pub struct CardFact {
    pub id: String,
    pub from_lead: bool,
}

/// A decision: the card it was taken from, if any, and how many dissents were recorded on it.
#[derive(Debug, Clone)]
pub struct DecisionFact {
    pub card: Option<String>,
    pub dissents: usize,
}

/// One review session of the quarter, as revealed.
#[derive(Debug, Clone, Default)]
pub struct SessionFacts {
    pub cards: Vec<CardFact>,
    /// Revealed ballots: card → dots.
    pub ballots: Vec<Vec<(String, u32)>>,
    pub decisions: Vec<DecisionFact>,
}

/// Who logged a loop. Anonymous loops are only ever "anonymous", never a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logger {
    Lead,
    Member,
    Anonymous,
}

const ALL_LOGGERS: [Logger; 3] = [Logger::Lead, Logger::Member, Logger::Anonymous];

/// A failure loop logged in the quarter: who, the day it was logged, and the day it happened
/// (or was noticed). Days only, the precision anonymous loops keep.
#[derive(Debug, Clone)]
pub struct LoopFact {
    pub by: Logger,
    pub logged_on: Date,
    pub failed_on: Date,
}

/// Everything the mirror is computed from.
#[derive(Debug, Clone)]
pub struct MirrorInput {
    pub quarter: Quarter,
    /// The team's minimum group size (the pulse's).
    pub min_people: usize,
    /// Distinct people who wrote in the quarter's sessions (observers excluded): lead or not.
    pub writers: Vec<bool>,
    pub sessions: Vec<SessionFacts>,
    /// The team's members now: lead or not.
    pub members: Vec<bool>,
    pub loops: Vec<LoopFact>,
}

/// A part of a whole, with its percentage when the whole is not empty.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MirrorShare {
    pub part: u64,
    pub whole: u64,
    /// `part / whole` in percent, one decimal; absent when the whole is 0.
    pub percent: Option<f64>,
}

impl MirrorShare {
    /// "40.0 % (2 of 5)", or a dash when the whole is empty: how pages write a share.
    pub fn shown(&self) -> String {
        match self.percent {
            Some(p) => format!("{p:.1} % ({} of {})", self.part, self.whole),
            None => "—".to_owned(),
        }
    }

    pub fn of(part: u64, whole: u64) -> Self {
        let percent = (whole > 0).then(|| (part as f64 * 1000.0 / whole as f64).round() / 10.0);
        Self {
            part,
            whole,
            percent,
        }
    }
}

/// One figure of the mirror: its value against what it is compared with, or why it is withheld.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MirrorFigure {
    /// Stable name: `decisions_from_leads`, `dots_to_leads`, `dissent`, `against_leads`,
    /// `leads_shown_early`.
    pub key: String,
    pub title: String,
    /// What the figure means, in plain words.
    pub meaning: String,
    /// A question for the team to discuss.
    pub question: String,
    pub value: Option<MirrorShare>,
    /// What the value is set against (e.g. the leads' share of all cards).
    pub baseline: Option<MirrorShare>,
    /// Why no value is shown, when none is.
    pub withheld: Option<String>,
}

/// Named failures logged by leads and by members, and anonymous ones, in one month. Role counts
/// are absent when the team has a lone non-lead (they would name that person's count).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LoggingMonth {
    /// "2026-10".
    pub month: String,
    pub leads: Option<u64>,
    pub members: Option<u64>,
    pub named: u64,
    pub anonymous: u64,
}

/// Days from a failure happening (or being noticed) to its loop being logged, for one group.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DaysToLog {
    /// "all", "leads", "members" or "anonymous".
    pub group: String,
    pub loops: u64,
    /// The median in whole days (a half when the count is even); absent without loops.
    pub median_days: Option<f64>,
    /// Loops logged within a day of the failure.
    pub within_a_day: MirrorShare,
}

/// The review-session half of the mirror.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReviewMirror {
    pub sessions: u64,
    /// People who wrote in them; shown only once the floor is reached.
    pub people: Option<u64>,
    /// Why nothing of this half is shown, when nothing is.
    pub withheld: Option<String>,
    pub figures: Vec<MirrorFigure>,
}

/// The loop half of the mirror.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LoopMirror {
    pub members: Option<u64>,
    pub withheld: Option<String>,
    /// Why leads and members are not told apart, when they are not.
    pub roles_withheld: Option<String>,
    pub meaning: String,
    pub question: String,
    pub months: Vec<LoggingMonth>,
    pub days_to_log: Vec<DaysToLog>,
    pub days_meaning: String,
    pub days_question: String,
}

/// The dynamics mirror of one team for one quarter.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Mirror {
    /// "2026Q4".
    pub quarter: String,
    pub min_people: u64,
    pub reviews: ReviewMirror,
    pub loops: LoopMirror,
    /// Where the help texts come from.
    pub sources: Vec<String>,
}

fn too_few(what: &str, n: usize, min: usize) -> String {
    format!("Too few to show without singling anyone out: the mirror needs at least {min} {what} ({n} this quarter).")
}

const LONE_NON_LEAD: &str = "Hidden: with fewer than two non-leads, the non-leads' part of this figure would be one person's.";

/// Computes the mirror. Every figure that sets leads against the rest is withheld while fewer
/// than two non-leads are counted, because the rest would then be one person.
pub fn mirror(input: &MirrorInput) -> Mirror {
    let min = input.min_people.max(1);
    Mirror {
        quarter: quarter_code(input.quarter),
        min_people: min as u64,
        reviews: review_mirror(input, min),
        loops: loop_mirror(input, min),
        sources: SOURCES.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn figure(key: &str, title: &str, meaning: &str, question: &str) -> MirrorFigure {
    MirrorFigure {
        key: key.to_owned(),
        title: title.to_owned(),
        meaning: meaning.to_owned(),
        question: question.to_owned(),
        value: None,
        baseline: None,
        withheld: None,
    }
}

fn review_mirror(input: &MirrorInput, min: usize) -> ReviewMirror {
    let people = input.writers.len();
    let non_leads = input.writers.iter().filter(|lead| !**lead).count();
    let mut decisions_from_leads = figure(
        "decisions_from_leads",
        "Decisions taken from leads' cards",
        "Of the decisions taken from cards, the share whose card a lead wrote, set against the leads' share of all cards. Far above their share of cards, the room may be following rank rather than the argument (authority bias).",
        "When we decided on a lead's card, would we have chosen it had someone else written it?",
    );
    let mut dots_to_leads = figure(
        "dots_to_leads",
        "Dots on leads' cards",
        "The share of all dots placed on leads' cards, set against the leads' share of cards. Votes are blind, so a large gap is the team's own weighting, not pressure in the room.",
        "Do we give a lead's card more weight than its content earns?",
    );
    let mut dissent = figure(
        "dissent",
        "Decisions with dissent recorded",
        "How many decisions had at least one \"I disagree\" kept against them. None at all may mean agreement, or that disagreeing does not feel safe; the first disagreement explored openly is a moment that shapes a team (Coyle 2018).",
        "When did one of us last disagree with a decision, and what happened next?",
    );
    let mut against_leads = figure(
        "against_leads",
        "Sessions that went against the leads' cards",
        "Of the sessions where leads wrote cards and a decision was taken from a card, the share where no decision came from a leads' card. Never going against a lead is a signal worth looking at; so is always doing so.",
        "Can we name a time we decided against what a lead proposed, and was it fine?",
    );
    let mut early = figure(
        "leads_shown_early",
        "Leads' cards shown early",
        "Whether leads' cards came last in practice, as \"leader speaks last\" intends.",
        "Do our leads' cards wait until everyone else has written?",
    );
    early.withheld = Some(REVEAL_ORDER_UNKNOWN.to_owned());

    if people < min {
        return ReviewMirror {
            sessions: input.sessions.len() as u64,
            people: None,
            withheld: Some(too_few("people writing in review sessions", people, min)),
            figures: vec![
                decisions_from_leads,
                dots_to_leads,
                dissent,
                against_leads,
                early,
            ],
        };
    }

    let mut cards = 0u64;
    let mut lead_cards = 0u64;
    let mut dots = 0u64;
    let mut lead_dots = 0u64;
    let mut card_decisions = 0u64;
    let mut lead_decisions = 0u64;
    let mut decisions = 0u64;
    let mut dissented = 0u64;
    let mut sessions_with_both = 0u64;
    let mut sessions_against = 0u64;
    for session in &input.sessions {
        let is_lead_card = |id: &str| {
            session
                .cards
                .iter()
                .any(|card| card.id == id && card.from_lead)
        };
        let known = |id: &str| session.cards.iter().any(|card| card.id == id);
        cards += session.cards.len() as u64;
        let session_lead_cards = session.cards.iter().filter(|c| c.from_lead).count() as u64;
        lead_cards += session_lead_cards;
        for ballot in &session.ballots {
            for (card, n) in ballot {
                if !known(card) {
                    continue;
                }
                dots += u64::from(*n);
                if is_lead_card(card) {
                    lead_dots += u64::from(*n);
                }
            }
        }
        let mut session_card_decisions = 0u64;
        let mut session_lead_decisions = 0u64;
        for decision in &session.decisions {
            decisions += 1;
            if decision.dissents > 0 {
                dissented += 1;
            }
            if let Some(card) = decision.card.as_deref().filter(|c| known(c)) {
                session_card_decisions += 1;
                if is_lead_card(card) {
                    session_lead_decisions += 1;
                }
            }
        }
        card_decisions += session_card_decisions;
        lead_decisions += session_lead_decisions;
        if session_lead_cards > 0 && session_card_decisions > 0 {
            sessions_with_both += 1;
            if session_lead_decisions == 0 {
                sessions_against += 1;
            }
        }
    }
    let card_share = MirrorShare::of(lead_cards, cards);
    dissent.value = Some(MirrorShare::of(dissented, decisions));
    if non_leads < 2 {
        for f in [
            &mut decisions_from_leads,
            &mut dots_to_leads,
            &mut against_leads,
        ] {
            f.withheld = Some(LONE_NON_LEAD.to_owned());
        }
    } else {
        decisions_from_leads.value = Some(MirrorShare::of(lead_decisions, card_decisions));
        decisions_from_leads.baseline = Some(card_share);
        dots_to_leads.value = Some(MirrorShare::of(lead_dots, dots));
        dots_to_leads.baseline = Some(card_share);
        against_leads.value = Some(MirrorShare::of(sessions_against, sessions_with_both));
    }
    ReviewMirror {
        sessions: input.sessions.len() as u64,
        people: Some(people as u64),
        withheld: None,
        figures: vec![
            decisions_from_leads,
            dots_to_leads,
            dissent,
            against_leads,
            early,
        ],
    }
}

/// The median of whole days: the middle value, or the mean of the two middle ones.
pub fn median_days(days: &mut [i64]) -> Option<f64> {
    if days.is_empty() {
        return None;
    }
    days.sort_unstable();
    let n = days.len();
    Some(if n % 2 == 1 {
        days[n / 2] as f64
    } else {
        (days[n / 2 - 1] + days[n / 2]) as f64 / 2.0
    })
}

fn loop_mirror(input: &MirrorInput, min: usize) -> LoopMirror {
    let members = input.members.len();
    let non_leads = input.members.iter().filter(|lead| !**lead).count();
    let mut out = LoopMirror {
        members: None,
        withheld: None,
        roles_withheld: None,
        meaning: "Who logs failures, month by month: leads and members by name, and anonymous loops (never split by role). Leads who log their own failures show that it is safe to (Coyle 2018); many anonymous loops may mean people do not yet feel safe to sign.".to_owned(),
        question: "Do our leads log their own failures, and would the people who log anonymously feel safe putting their name to one?".to_owned(),
        months: Vec::new(),
        days_to_log: Vec::new(),
        days_meaning: "Days from a failure happening (or, when that is not known, being noticed) to its loop being logged, counted in whole days for everyone. Small failures caught and shared fast are the ones a team learns most from (Sitkin 1992).".to_owned(),
        days_question: "What makes us wait before logging a failure, and what would make the first day easier?".to_owned(),
    };
    if members < min {
        out.withheld = Some(too_few("members", members, min));
        return out;
    }
    out.members = Some(members as u64);
    let roles_shown = non_leads >= 2;
    if !roles_shown {
        out.roles_withheld = Some(LONE_NON_LEAD.to_owned());
    }
    let (start, end) = input.quarter.bounds();
    let mut month_start = start;
    while month_start < end {
        let next = next_month(month_start);
        let inside: Vec<&LoopFact> = input
            .loops
            .iter()
            .filter(|l| l.logged_on >= month_start && l.logged_on < next)
            .collect();
        let count = |by: Logger| inside.iter().filter(|l| l.by == by).count() as u64;
        let (leads, members_n, anonymous) = (
            count(Logger::Lead),
            count(Logger::Member),
            count(Logger::Anonymous),
        );
        out.months.push(LoggingMonth {
            month: format!(
                "{}-{:02}",
                month_start.year(),
                u8::from(month_start.month())
            ),
            leads: roles_shown.then_some(leads),
            members: roles_shown.then_some(members_n),
            named: leads + members_n,
            anonymous,
        });
        month_start = next;
    }
    // Which loops each row counts: everyone, one kind of logger, or every named one.
    let mut groups: Vec<(&str, &[Logger])> = vec![("all", &ALL_LOGGERS)];
    if roles_shown {
        groups.push(("leads", &[Logger::Lead]));
        groups.push(("members", &[Logger::Member]));
    } else {
        groups.push(("named", &[Logger::Lead, Logger::Member]));
    }
    groups.push(("anonymous", &[Logger::Anonymous]));
    for (group, loggers) in groups {
        let mut days: Vec<i64> = input
            .loops
            .iter()
            .filter(|l| loggers.contains(&l.by) && l.logged_on >= start && l.logged_on < end)
            .map(|l| (l.logged_on - l.failed_on).whole_days().max(0))
            .collect();
        let quick = days.iter().filter(|d| **d <= 1).count() as u64;
        let n = days.len() as u64;
        out.days_to_log.push(DaysToLog {
            group: group.to_owned(),
            loops: n,
            median_days: median_days(&mut days),
            within_a_day: MirrorShare::of(quick, n),
        });
    }
    out
}

fn next_month(date: Date) -> Date {
    let (year, month) = if date.month() == time::Month::December {
        (date.year() + 1, time::Month::January)
    } else {
        (date.year(), date.month().next())
    };
    Date::from_calendar_date(year, month, 1).unwrap_or(Date::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarters_read_both_ways() {
        let q = parse_quarter("2026Q4").map(quarter_code);
        assert_eq!(q.ok().as_deref(), Some("2026Q4"));
        let q = parse_quarter("2026-Q1").map(quarter_code);
        assert_eq!(q.ok().as_deref(), Some("2026Q1"));
        assert!(parse_quarter("2026Q5").is_err());
        assert!(parse_quarter("Q4").is_err());
        assert!(parse_quarter("").is_err());
    }

    #[test]
    fn medians_of_days() {
        assert_eq!(median_days(&mut []), None);
        assert_eq!(median_days(&mut [3, 1, 2]), Some(2.0));
        assert_eq!(median_days(&mut [4, 1]), Some(2.5));
    }
}
