//! The export document: versioned JSON (docs/export-schema.md) that names no person.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::domain::loops::{
    ActionStatus, FactorReason, FailureType, ImpactScale, LoopKind, Questionnaire, Stage,
    Suggestion, Visibility,
};

/// The `format` field of every JSON export.
pub const EXPORT_FORMAT: &str = "failforward-export";
/// The schema version this build writes and the newest it reads.
pub const EXPORT_VERSION: u32 = 1;

/// A JSON export: the whole of what was asked for, in one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportDocument {
    /// Always `failforward-export`.
    pub format: String,
    /// Schema version (1).
    pub version: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub exported_at: OffsetDateTime,
    /// `loop`, `team` or `organisation`.
    pub scope: String,
    pub teams: Vec<ExportTeam>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportTeam {
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub loops: Vec<ExportLoop>,
    /// The team's closed review sessions, without anyone's name. Exported for the record; an
    /// import leaves them out (their cards and ballots were sealed for the people who wrote them).
    #[serde(default)]
    pub review_sessions: Vec<ExportReviewSession>,
}

/// A closed review session as the team's record of it: what was said and decided, never by whom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportReviewSession {
    pub id: String,
    pub prompt: String,
    /// The loop it reviewed, when it reviewed one (its id in this export).
    #[serde(default)]
    pub loop_id: Option<String>,
    /// The day it started (midnight UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub held_on: OffsetDateTime,
    pub participants: usize,
    /// Revealed cards, hidden ones left out, in the order the session shows them: leads' cards
    /// after everyone else's, then by dots, kind and text.
    #[serde(default)]
    pub cards: Vec<ExportReviewCard>,
    #[serde(default)]
    pub decisions: Vec<ExportDecision>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportReviewCard {
    /// observation, factor or idea.
    pub kind: String,
    pub text: String,
    pub dots: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportDecision {
    /// factor, learning or action.
    pub kind: String,
    pub text: String,
    /// The reasons people gave for disagreeing, without their names.
    #[serde(default)]
    pub dissent: Vec<String>,
}

/// One loop with every record it holds, without any person's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportLoop {
    /// The loop's id where it was exported; an import gives it a new one.
    pub id: String,
    pub kind: LoopKind,
    pub title: String,
    pub what_happened: String,
    #[serde(default)]
    pub what_was_expected: String,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub happened_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub noticed_at: OffsetDateTime,
    pub impact_scale: ImpactScale,
    #[serde(default)]
    pub impact_affected: String,
    /// Logged anonymously: every date of the loop itself is midnight UTC of its day.
    pub anonymous: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub stage: Stage,
    #[serde(with = "time::serde::rfc3339")]
    pub stage_entered_at: OffsetDateTime,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub review: ExportReview,
    #[serde(default)]
    pub classification: Option<ExportClassification>,
    #[serde(default)]
    pub type_override: Option<ExportOverride>,
    #[serde(default)]
    pub follow_up: ExportFollowUp,
    #[serde(default)]
    pub source_experiment_id: Option<String>,
    #[serde(default)]
    pub next_experiment_id: Option<String>,
    #[serde(default)]
    pub history: Vec<ExportStageChange>,
    #[serde(default)]
    pub additions: Vec<ExportAddition>,
    #[serde(default)]
    pub timeline: Vec<ExportEvent>,
    #[serde(default)]
    pub factors: Vec<ExportFactor>,
    #[serde(default)]
    pub accounts: Vec<ExportAccount>,
    #[serde(default)]
    pub learnings: Vec<ExportLearning>,
    #[serde(default)]
    pub actions: Vec<ExportAction>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ExportReview {
    pub aar_intended: String,
    pub aar_actual: String,
    pub aar_difference: String,
    pub aar_lessons: String,
    pub went_well: String,
    pub went_wrong: String,
    pub got_lucky: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportClassification {
    pub answers: Questionnaire,
    pub suggestion: Suggestion,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportOverride {
    pub kind: FailureType,
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ExportFollowUp {
    #[serde(with = "time::serde::rfc3339::option")]
    pub on: Option<OffsetDateTime>,
    pub recurred: Option<bool>,
    pub held: Option<bool>,
    pub note: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub answered_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportStageChange {
    pub from: Option<Stage>,
    pub to: Stage,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportAddition {
    pub body: String,
    #[serde(with = "time::serde::rfc3339")]
    pub added_on: OffsetDateTime,
    #[serde(default)]
    pub by_reporter: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportEvent {
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportFactor {
    pub reason: FactorReason,
    pub description: String,
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: OffsetDateTime,
}

/// A participant's account, without who wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportAccount {
    pub anonymous: bool,
    pub actions: String,
    pub observations: String,
    pub expectations: String,
    pub assumptions: String,
    pub timeline_understanding: String,
    #[serde(with = "time::serde::rfc3339")]
    pub added_on: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportLearning {
    pub statement: String,
    pub visibility: Visibility,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// An action item, without its owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportAction {
    pub title: String,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub due_on: Option<OffsetDateTime>,
    pub status: ActionStatus,
    #[serde(default)]
    pub dropped_reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
}
