//! Records of the learning loop as the store reads and writes them.

use time::OffsetDateTime;

use crate::domain::loops::{
    FactorReason, FailureType, ImpactScale, LoopKind, Questionnaire, Stage, Suggestion, Visibility,
};
use crate::domain::{ActionId, FactorId, LearningId, LoopId, RecordId, TeamId, UserId};

/// The read model lives in `domain::records`; the store builds it from rows.
pub use crate::domain::records::loops::{
    AccountRecord, ActionRecord, AdditionRecord, FactorRecord, FollowUp, LearningRecord,
    LoopRecord, LoopSummary, Review, StageChangeRecord, TimelineEventRecord, TypeOverride,
};

/// A failure loop as the dynamics mirror counts it: who logged it (a role, never a person, and
/// nothing for an anonymous one) and its dates.
#[derive(Debug, Clone)]
pub struct LoopLogging {
    pub anonymous: bool,
    /// The author's role in the team now (`None` when anonymous or no longer a member).
    pub author_is_lead: Option<bool>,
    pub created_at: OffsetDateTime,
    pub noticed_at: OffsetDateTime,
    pub happened_at: Option<OffsetDateTime>,
}

/// Days are stored above bit 47 of a loop's `seq` (and of a SQLite full-text document id).
pub(crate) const DAY_SHIFT: i64 = 1 << 47;

/// A new loop's `seq`, SQLite's rowid for it (drawn by the store when it writes the loop, see
/// [`NewLoop::number`]): the day it was created above bit 47, a random
/// number below. The order within a day stays hidden (anonymous loops keep only their day, see
/// ARCHITECTURE.md, "Anonymous loops"), while a day's loops sit together in the table and in the
/// indexes that end in `seq`: a capture writes to pages the day's earlier captures already hold,
/// not to a random place of a large file. The full-text document id is the same number.
pub(super) fn new_seq(created_at: OffsetDateTime) -> i64 {
    use rand::Rng;
    let day = created_at.unix_timestamp().div_euclid(86_400).max(0);
    day * DAY_SHIFT + rand::thread_rng().gen_range(1..DAY_SHIFT)
}

/// A loop to be written (the Detect record as first written), as the use cases give it: the
/// store numbers its row ([`NewLoop::number`]) when it writes it.
#[derive(Debug, Clone)]
pub struct LoopDraft {
    pub id: LoopId,
    pub team_id: TeamId,
    pub kind: LoopKind,
    pub title: String,
    pub what_happened: String,
    pub what_was_expected: String,
    pub happened_at: Option<OffsetDateTime>,
    pub noticed_at: OffsetDateTime,
    pub impact_scale: ImpactScale,
    pub impact_affected: String,
    /// `None` for an anonymous loop.
    pub author: Option<UserId>,
    pub reporter_secret_hash: Option<String>,
    /// Midnight UTC for an anonymous loop.
    pub created_at: OffsetDateTime,
    /// The stage it starts in: Detect, or Analyse for a loop opened by a refuted experiment.
    pub stage: Stage,
    pub tags: Vec<String>,
    pub source_experiment_id: Option<String>,
    /// Answers carried over from an experiment's criteria, with the suggestion they give.
    pub classification: Option<(Questionnaire, Suggestion)>,
    /// An earlier loop this one may repeat (its actions were all done): the learning may not
    /// have held.
    pub recurrence_of: Option<LoopId>,
    /// Written with the loop, in its transaction: its `loop.logged` (none for an import). An
    /// anonymous loop's is held with it and written in the day's release.
    pub events: Vec<crate::domain::events::Event>,
}

/// A loop numbered for writing: its draft and its row number (`seq`, from [`new_seq`]). Only the
/// store makes one, so the numbering scheme — the day above bit 47, a random number below — is
/// the store's alone.
#[derive(Debug, Clone)]
pub struct NewLoop {
    pub(super) seq: i64,
    draft: LoopDraft,
}

impl NewLoop {
    /// Draws the row number of `draft`, on the day it was created.
    pub(super) fn number(draft: &LoopDraft) -> Self {
        Self {
            seq: new_seq(draft.created_at),
            draft: draft.clone(),
        }
    }
}

impl std::ops::Deref for NewLoop {
    type Target = LoopDraft;

    fn deref(&self) -> &LoopDraft {
        &self.draft
    }
}

pub use crate::domain::loops::LoopSort;

/// Filters of a loop list. Dates bound `created_at`.
#[derive(Debug, Clone, Default)]
pub struct LoopFilter {
    pub stage: Option<Stage>,
    pub kind: Option<LoopKind>,
    pub failure_type: Option<FailureType>,
    pub tag: Option<String>,
    pub created_from: Option<OffsetDateTime>,
    pub created_until: Option<OffsetDateTime>,
    /// Only loops that entered their stage before this instant (stuck loops).
    pub in_stage_before: Option<OffsetDateTime>,
    /// Only loops this person logged under their name ("my work"); an anonymous loop has no
    /// author, so it never matches.
    pub author: Option<UserId>,
    pub sort: LoopSort,
    pub limit: i64,
    pub offset: i64,
}

/// What the stage rules look at, counted by the store.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoopCounts {
    pub factors: i64,
    pub learnings: i64,
    pub actions: i64,
}

/// A timeline entry, factor, account, learning or action to be written.
#[derive(Debug, Clone)]
pub struct NewTimelineEvent {
    pub id: RecordId,
    pub loop_id: LoopId,
    pub occurred_at: OffsetDateTime,
    pub description: String,
    pub added_by: UserId,
    pub added_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewFactor {
    pub id: FactorId,
    pub loop_id: LoopId,
    pub reason: FactorReason,
    pub description: String,
    pub added_by: UserId,
    pub added_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewAccount {
    pub id: RecordId,
    pub loop_id: LoopId,
    /// `None` for an anonymous account.
    pub author: Option<UserId>,
    pub actions: String,
    pub observations: String,
    pub expectations: String,
    pub assumptions: String,
    pub timeline_understanding: String,
    /// Midnight UTC of the day.
    pub added_on: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewLearning {
    pub id: LearningId,
    pub loop_id: LoopId,
    pub team_id: TeamId,
    pub statement: String,
    pub visibility: Visibility,
    pub created_by: UserId,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewAction {
    pub id: ActionId,
    pub loop_id: LoopId,
    pub team_id: TeamId,
    pub title: String,
    pub owner: Option<UserId>,
    pub due_on: Option<OffsetDateTime>,
    pub created_by: UserId,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewAddition {
    pub id: RecordId,
    pub loop_id: LoopId,
    pub body: String,
    /// Midnight UTC of the day.
    pub added_on: OffsetDateTime,
    /// `None` when the anonymous reporter writes through their link.
    pub author: Option<UserId>,
    pub by_reporter: bool,
}

/// A stage change to record.
#[derive(Debug, Clone)]
pub struct StageChange {
    pub id: RecordId,
    pub loop_id: LoopId,
    pub from: Stage,
    pub to: Stage,
    pub at: OffsetDateTime,
    pub by: Option<UserId>,
    pub note: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_seq_carries_the_day_and_hides_the_order_within_it() {
        let morning = time::macros::datetime!(2026-11-30 08:00 UTC);
        let evening = time::macros::datetime!(2026-11-30 20:00 UTC);
        let next_day = time::macros::datetime!(2026-12-01 00:00 UTC);
        let day = morning.unix_timestamp().div_euclid(86_400);
        let seqs: Vec<i64> = (0..64).map(|_| new_seq(evening)).collect();
        for seq in &seqs {
            assert_eq!(seq >> 47, day);
            assert!(*seq > 0);
        }
        assert_eq!(new_seq(morning) >> 47, day);
        // Random below the day: numbers taken one after another do not rise (64 rising by
        // chance: 1 in 64!).
        assert!(seqs.windows(2).any(|pair| pair[0] > pair[1]));
        assert!(new_seq(next_day) > *seqs.iter().max().unwrap_or(&0));
    }
}
