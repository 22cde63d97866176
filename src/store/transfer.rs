//! What an import writes: whole loops with every record they hold, in one transaction.

use time::OffsetDateTime;

use super::loops::{FollowUp, LoopDraft, Review};
use crate::domain::loops::{ActionStatus, FactorReason, FailureType, Stage, Visibility};
use crate::domain::UserId;

/// One loop of an import, complete. Records carry no person except the importer, who is named
/// as the writer where the schema needs one (imports carry no attribution; see
/// docs/export-schema.md).
#[derive(Debug, Clone)]
pub struct ImportedLoop {
    pub new: LoopDraft,
    /// The importer: written as the adder of timeline entries, factors, learnings and actions.
    pub importer: UserId,
    pub stage_entered_at: OffsetDateTime,
    pub review: Review,
    pub type_override: Option<(FailureType, String, OffsetDateTime)>,
    /// `answered_by_name` is ignored.
    pub follow_up: FollowUp,
    pub next_experiment_id: Option<String>,
    /// The stage history, first entry (the creation) included.
    pub history: Vec<(Option<Stage>, Stage, OffsetDateTime, String)>,
    /// Body, day, written through the reporter's link.
    pub additions: Vec<(String, OffsetDateTime, bool)>,
    pub timeline: Vec<(OffsetDateTime, String)>,
    pub factors: Vec<(FactorReason, String, OffsetDateTime)>,
    pub accounts: Vec<ImportedAccount>,
    pub learnings: Vec<(String, Visibility, OffsetDateTime)>,
    pub actions: Vec<ImportedAction>,
}

/// A participant's account; a named one is written as the importer's.
#[derive(Debug, Clone)]
pub struct ImportedAccount {
    pub anonymous: bool,
    pub actions: String,
    pub observations: String,
    pub expectations: String,
    pub assumptions: String,
    pub timeline_understanding: String,
    pub added_on: OffsetDateTime,
}

/// An action item without an owner (owners are people; imports name none).
#[derive(Debug, Clone)]
pub struct ImportedAction {
    pub title: String,
    pub due_on: Option<OffsetDateTime>,
    pub status: ActionStatus,
    pub dropped_reason: String,
    pub created_at: OffsetDateTime,
    pub closed_at: Option<OffsetDateTime>,
}
