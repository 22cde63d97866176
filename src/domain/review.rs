//! Review sessions that counter authority bias (domain.md §4): everyone writes before anyone
//! reads, leaders' cards show last, votes are blind until the vote closes, and disagreement is
//! kept, not won.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::text::Invalid;

/// The session id of the review-change notice that means "any session may have changed
/// unnoticed": an instance sends it after its `LISTEN` connection to PostgreSQL was lost and
/// rebuilt (notifications sent meanwhile are gone), and live streams then read their version
/// afresh instead of waiting for the next change.
pub const ANY_SESSION: &str = "";

/// The phases, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The team's still-open action items are reviewed first, so that actions are not created
    /// and forgotten.
    OpenActions,
    /// Everyone writes cards, sealed.
    Write,
    /// All cards show at once; leads' cards once every other participant has submitted, or when
    /// the facilitator shows them.
    Reveal,
    /// Similar cards are clustered.
    Group,
    /// Each participant places a fixed number of dots, blind until the phase closes.
    Vote,
    Discuss,
    /// Chosen cards become contributing factors, learnings or action items.
    Decide,
    Closed,
}

impl Phase {
    pub const ALL: [Phase; 8] = [
        Phase::OpenActions,
        Phase::Write,
        Phase::Reveal,
        Phase::Group,
        Phase::Vote,
        Phase::Discuss,
        Phase::Decide,
        Phase::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::OpenActions => "open_actions",
            Phase::Write => "write",
            Phase::Reveal => "reveal",
            Phase::Group => "group",
            Phase::Vote => "vote",
            Phase::Discuss => "discuss",
            Phase::Decide => "decide",
            Phase::Closed => "closed",
        }
    }

    pub fn parse(raw: &str) -> Result<Phase, Invalid> {
        Phase::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == raw.trim())
            .ok_or_else(|| Invalid::new("is not a phase"))
    }

    pub fn label(self) -> &'static str {
        match self {
            Phase::OpenActions => "Open actions",
            Phase::Write => "Write",
            Phase::Reveal => "Reveal",
            Phase::Group => "Group",
            Phase::Vote => "Vote",
            Phase::Discuss => "Discuss",
            Phase::Decide => "Decide",
            Phase::Closed => "Closed",
        }
    }

    /// What the phase asks of people.
    pub fn guidance(self) -> &'static str {
        match self {
            Phase::OpenActions => "Before new ideas: go through the team's open action items. Done, still relevant, or dropped with a reason?",
            Phase::Write => "Write alone, before anyone reads: what you observed, what contributed, ideas. Cards stay sealed — nobody can read them, not the facilitator, not a lead — until the reveal.",
            Phase::Reveal => "Everyone's cards show at once. Leads' cards show last, so that the most senior voice does not set the direction.",
            Phase::Group => "Put cards that say the same thing together.",
            Phase::Vote => "Place your dots on what matters most. Nobody sees the totals until the vote closes.",
            Phase::Discuss => "Explore, do not win: ask what made each action make sense at the time.",
            Phase::Decide => "Turn chosen cards into contributing factors, learnings or action items. Anyone may record that they disagree.",
            Phase::Closed => "The session is closed. Its summary stays.",
        }
    }

    pub fn next(self) -> Option<Phase> {
        let i = Phase::ALL.iter().position(|p| *p == self)?;
        Phase::ALL.get(i + 1).copied()
    }

    pub fn index(self) -> usize {
        Phase::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a card is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CardKind {
    Observation,
    Factor,
    Idea,
}

impl CardKind {
    pub const ALL: [CardKind; 3] = [CardKind::Observation, CardKind::Factor, CardKind::Idea];

    pub fn as_str(self) -> &'static str {
        match self {
            CardKind::Observation => "observation",
            CardKind::Factor => "factor",
            CardKind::Idea => "idea",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            CardKind::Observation => "What I observed",
            CardKind::Factor => "What contributed",
            CardKind::Idea => "An idea",
        }
    }

    /// The heading of the board's column of cards of this kind.
    pub fn column_heading(self) -> &'static str {
        match self {
            CardKind::Observation => "Observations",
            CardKind::Factor => "Contributing factors",
            CardKind::Idea => "Ideas",
        }
    }

    pub fn parse(raw: &str) -> Result<CardKind, Invalid> {
        CardKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == raw.trim())
            .ok_or_else(|| Invalid::new("must be observation, factor or idea"))
    }
}

impl super::text::Word for CardKind {
    fn parse_word(raw: &str) -> Result<Self, Invalid> {
        Self::parse(raw)
    }
}

impl super::text::Word for Phase {
    fn parse_word(raw: &str) -> Result<Self, Invalid> {
        Self::parse(raw)
    }
}

/// Where the leads' cards stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevealState {
    pub participants: usize,
    pub leads: usize,
    /// Participants (leads included) who said they have finished writing.
    pub done: usize,
    pub leads_done: usize,
}

impl RevealState {
    /// Everyone who writes has finished: the write phase may end on its own.
    pub fn everyone_done(&self) -> bool {
        self.participants > 0 && self.done >= self.participants
    }

    /// Leads' cards may show once every other participant has finished ("leader speaks last").
    pub fn others_done(&self) -> bool {
        self.done - self.leads_done >= self.participants - self.leads
    }
}

/// Dots each participant may place, and a ballot's validity: no negative counts, no more dots
/// than allowed, only known cards.
pub fn valid_ballot(
    dots: &[(String, u32)],
    allowed: u32,
    cards: &[String],
) -> Result<u32, Invalid> {
    let mut total: u32 = 0;
    for (card, count) in dots {
        if !cards.contains(card) {
            return Err(Invalid::new("names a card that is not in this session"));
        }
        total = total
            .checked_add(*count)
            .ok_or_else(|| Invalid::new("has too many dots"))?;
    }
    if total == 0 {
        return Err(Invalid::new("must place at least one dot"));
    }
    if total > allowed {
        return Err(Invalid(format!(
            "places {total} dots; each person has {allowed}"
        )));
    }
    Ok(total)
}

/// Adds ballots together: card → dots, highest first (ties by card id, never by who voted).
pub fn tally(ballots: &[Vec<(String, u32)>]) -> Vec<(String, u32)> {
    let mut totals: Vec<(String, u32)> = Vec::new();
    for ballot in ballots {
        for (card, n) in ballot {
            match totals.iter_mut().find(|(c, _)| c == card) {
                Some((_, total)) => *total += n,
                None => totals.push((card.clone(), *n)),
            }
        }
    }
    totals.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    totals
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_run_in_order() {
        let mut phase = Phase::OpenActions;
        let mut seen = vec![phase];
        while let Some(next) = phase.next() {
            phase = next;
            seen.push(phase);
        }
        assert_eq!(seen, Phase::ALL);
        for p in Phase::ALL {
            assert_eq!(Phase::parse(p.as_str()), Ok(p));
        }
    }

    #[test]
    fn leads_speak_last() {
        let waiting = RevealState {
            participants: 5,
            leads: 1,
            done: 3,
            leads_done: 1,
        };
        assert!(!waiting.others_done(), "one non-lead is still writing");
        assert!(!waiting.everyone_done());
        let ready = RevealState {
            participants: 5,
            leads: 1,
            done: 4,
            leads_done: 0,
        };
        assert!(ready.others_done(), "every non-lead has finished");
        assert!(!ready.everyone_done());
        let all = RevealState {
            participants: 5,
            leads: 1,
            done: 5,
            leads_done: 1,
        };
        assert!(all.everyone_done());
        assert!(!RevealState {
            participants: 0,
            leads: 0,
            done: 0,
            leads_done: 0
        }
        .everyone_done());
    }

    #[test]
    fn ballots_are_checked_and_tallied() {
        let cards = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(
            valid_ballot(&[("a".into(), 2), ("b".into(), 1)], 3, &cards),
            Ok(3)
        );
        assert!(valid_ballot(&[("a".into(), 4)], 3, &cards).is_err());
        assert!(valid_ballot(&[("c".into(), 1)], 3, &cards).is_err());
        assert!(valid_ballot(&[], 3, &cards).is_err());
        let totals = tally(&[
            vec![("a".into(), 2), ("b".into(), 1)],
            vec![("b".into(), 3)],
        ]);
        assert_eq!(totals, vec![("b".to_owned(), 4), ("a".to_owned(), 2)]);
    }
}
