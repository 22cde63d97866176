//! Records of experiments and risk budgets as the store reads and writes them.

use time::OffsetDateTime;

use crate::domain::experiments::{Decision, Outcome};
use crate::domain::{RecordId, TeamId, UserId};

use super::loops::{LoopDraft, NewFactor};

/// The read model lives in `domain::records`; the store builds it from rows.
pub use crate::domain::records::experiments::{
    AffordableLoss, Approval, BudgetRecord, Conclusion, Criteria, DispositionRecord,
    ExperimentDesign, ExperimentRecord, LearningCard, TestCard,
};

#[derive(Debug, Clone)]
pub struct NewExperiment {
    pub id: RecordId,
    pub team_id: TeamId,
    pub design: ExperimentDesign,
    pub premortem_box_id: RecordId,
    pub source_loop_id: Option<String>,
    pub created_by: UserId,
    pub created_at: OffsetDateTime,
}

/// The loop a refuted or inconclusive outcome opens, written in the same transaction.
#[derive(Debug, Clone)]
pub struct OutcomeLoop {
    pub new_loop: LoopDraft,
    pub factor: NewFactor,
}

/// An outcome to record.
#[derive(Debug, Clone)]
pub struct NewConclusion {
    pub outcome: Outcome,
    pub card: LearningCard,
    pub decision: Decision,
    pub by: UserId,
    pub at: OffsetDateTime,
}

/// How a conclusion went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Concluded {
    /// Concluded now (with the id of the loop it opened, if any).
    Now(Option<String>),
    /// It had been concluded already, with this outcome and loop: nothing was written.
    Already(Outcome, Option<String>),
    /// It is not running (a draft or cancelled).
    NotRunning,
}
