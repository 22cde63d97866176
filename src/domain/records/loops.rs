//! What a loop reads as: the records the store builds from its rows, the use cases return and the
//! pages and the API show. They live here, not in `store`, so that a change of schema stops at the
//! store and `http` needs nothing from it.

use time::OffsetDateTime;

use super::PersonRef;
use crate::domain::loops::{
    ActionStatus, FactorReason, FailureType, ImpactScale, LoopKind, Questionnaire, Stage,
    Suggestion, Visibility,
};
use crate::domain::{ActionId, FactorId, LearningId, LoopId, RecordId, TeamId};

/// The after-action review and the lessons of the Analyse stage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Review {
    pub aar_intended: String,
    pub aar_actual: String,
    pub aar_difference: String,
    pub aar_lessons: String,
    pub went_well: String,
    pub went_wrong: String,
    pub got_lucky: String,
}

/// A person's override of the suggested type.
#[derive(Debug, Clone)]
pub struct TypeOverride {
    pub kind: FailureType,
    pub reason: String,
    pub by_name: Option<String>,
    pub at: OffsetDateTime,
}

/// The follow-up check of the Continue stage.
#[derive(Debug, Clone, Default)]
pub struct FollowUp {
    pub on: Option<OffsetDateTime>,
    pub recurred: Option<bool>,
    pub held: Option<bool>,
    pub note: Option<String>,
    pub answered_at: Option<OffsetDateTime>,
    pub answered_by_name: Option<String>,
}

/// A loop as stored.
#[derive(Debug, Clone)]
pub struct LoopRecord {
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
    pub author: Option<PersonRef>,
    pub anonymous: bool,
    pub created_at: OffsetDateTime,
    pub stage: Stage,
    pub stage_entered_at: OffsetDateTime,
    pub review: Review,
    pub classification: Option<(Questionnaire, Suggestion)>,
    pub type_override: Option<TypeOverride>,
    pub follow_up: FollowUp,
    pub source_experiment_id: Option<String>,
    pub next_experiment_id: Option<String>,
    pub tags: Vec<String>,
    pub recurrence_of: Option<LoopId>,
}

impl LoopRecord {
    /// The type people settled on: the override when there is one, else the suggestion.
    pub fn failure_type(&self) -> Option<FailureType> {
        self.type_override
            .as_ref()
            .map(|o| o.kind)
            .or_else(|| self.classification.as_ref().and_then(|(_, s)| s.kind))
    }
}

/// One line of a team's loop list.
#[derive(Debug, Clone)]
pub struct LoopSummary {
    pub id: LoopId,
    pub kind: LoopKind,
    pub title: String,
    pub stage: Stage,
    pub stage_entered_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub noticed_at: OffsetDateTime,
    pub happened_at: Option<OffsetDateTime>,
    pub anonymous: bool,
    pub author_name: Option<String>,
    pub failure_type: Option<FailureType>,
    pub tags: Vec<String>,
    pub open_actions: i64,
    pub overdue_actions: i64,
}

#[derive(Debug, Clone)]
pub struct AdditionRecord {
    pub id: RecordId,
    pub body: String,
    pub added_on: OffsetDateTime,
    pub author_name: Option<String>,
    pub by_reporter: bool,
}

#[derive(Debug, Clone)]
pub struct StageChangeRecord {
    pub from: Option<Stage>,
    pub to: Stage,
    pub at: OffsetDateTime,
    pub by_name: Option<String>,
    pub note: String,
}

#[derive(Debug, Clone)]
pub struct TimelineEventRecord {
    pub id: RecordId,
    pub occurred_at: OffsetDateTime,
    pub description: String,
    pub added_by_name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct FactorRecord {
    pub id: FactorId,
    pub reason: FactorReason,
    pub description: String,
    pub added_by_name: Option<String>,
    pub added_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct AccountRecord {
    pub id: RecordId,
    pub author_name: Option<String>,
    pub anonymous: bool,
    pub actions: String,
    pub observations: String,
    pub expectations: String,
    pub assumptions: String,
    pub timeline_understanding: String,
    pub added_on: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct LearningRecord {
    pub id: LearningId,
    pub loop_id: LoopId,
    pub statement: String,
    pub visibility: Visibility,
    pub created_by_name: Option<String>,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct ActionRecord {
    pub id: ActionId,
    pub loop_id: LoopId,
    pub loop_title: String,
    pub title: String,
    pub owner: Option<PersonRef>,
    pub due_on: Option<OffsetDateTime>,
    pub status: ActionStatus,
    pub dropped_reason: String,
    pub created_at: OffsetDateTime,
    pub closed_at: Option<OffsetDateTime>,
}

impl ActionRecord {
    /// Whether the item is overdue on `today` (midnight UTC): still open and due on an earlier
    /// day. Due on `today` itself is not overdue yet.
    pub fn overdue_on(&self, today: OffsetDateTime) -> bool {
        self.status == ActionStatus::Open && self.due_on.is_some_and(|due| due < today)
    }
}
