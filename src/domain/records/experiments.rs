//! What an experiment and a risk budget read as (see `records`).

use time::OffsetDateTime;

use crate::domain::experiments::{
    Decision, Disposition, ExperimentStatus, Loss, Outcome, ReputationScope, Reversibility,
};
use crate::domain::loops::Answer;
use crate::domain::{RecordId, TeamId, UserId};

/// The test card (Strategyzer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestCard {
    pub believe: String,
    pub verify_by: String,
    pub measure: String,
    pub right_if: String,
}

/// The four criteria of an intelligent failure, answered before the start (Edmondson 2023).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Criteria {
    pub new_territory: Answer,
    pub real_goal: Answer,
    pub informed: Answer,
    pub as_small_as_possible: Answer,
}

/// What an experiment may cost and how bad losing it would be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AffordableLoss {
    pub currency: String,
    pub loss: Loss,
    pub reversibility: Reversibility,
    pub reputation_scope: ReputationScope,
}

/// The design of an experiment: everything settled before it starts.
#[derive(Debug, Clone)]
pub struct ExperimentDesign {
    pub title: String,
    pub card: TestCard,
    pub criteria: Criteria,
    pub loss: AffordableLoss,
    pub kill_criteria: String,
    pub starts_on: OffsetDateTime,
    pub decide_by: OffsetDateTime,
}

/// The learning card (Strategyzer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LearningCard {
    pub believed: String,
    pub observed: String,
    pub learned: String,
    pub therefore: String,
}

#[derive(Debug, Clone)]
pub struct Approval {
    pub by_name: Option<String>,
    pub at: OffsetDateTime,
    pub note: String,
}

#[derive(Debug, Clone)]
pub struct Conclusion {
    pub outcome: Outcome,
    pub card: LearningCard,
    pub decision: Decision,
    pub at: OffsetDateTime,
    pub by_name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ExperimentRecord {
    pub id: RecordId,
    pub team_id: TeamId,
    pub status: ExperimentStatus,
    pub design: ExperimentDesign,
    /// Key of the checklist question → the answer (true for yes).
    pub pilot: Option<Vec<(String, bool)>>,
    pub premortem_box_id: RecordId,
    pub approval: Option<Approval>,
    pub started_at: Option<OffsetDateTime>,
    pub source_loop_id: Option<String>,
    pub conclusion: Option<Conclusion>,
    pub outcome_loop_id: Option<String>,
    pub created_by: Option<UserId>,
    pub created_by_name: Option<String>,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct BudgetRecord {
    pub quarter: String,
    pub budget: crate::domain::experiments::Budget,
    pub set_by_name: Option<String>,
    pub set_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct DispositionRecord {
    pub item_id: RecordId,
    pub kind: Disposition,
    pub note: String,
    pub decided_by_name: Option<String>,
}

impl ExperimentRecord {
    /// Whether the decision is overdue on `today` (midnight UTC): still running past its
    /// decide-by day.
    pub fn overdue_on(&self, today: OffsetDateTime) -> bool {
        self.status == ExperimentStatus::Running && self.design.decide_by < today
    }
}
