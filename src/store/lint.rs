//! Records of the linter's organisation settings.

use time::OffsetDateTime;

use crate::domain::RecordId;

#[derive(Debug, Clone)]
pub struct LintTermRecord {
    pub id: RecordId,
    pub category: String,
    pub phrase: String,
    pub message: Option<String>,
    pub suggestion: Option<String>,
    pub created_at: OffsetDateTime,
}

/// A term to add.
#[derive(Debug, Clone)]
pub struct NewLintTerm {
    pub id: RecordId,
    pub category: String,
    pub phrase: String,
    pub message: Option<String>,
    pub suggestion: Option<String>,
    pub created_by: crate::domain::UserId,
    pub created_at: OffsetDateTime,
}

/// A dismissal of one finding for the text with this hash: neither who nor a time finer than
/// the day (the text may become an anonymous loop's).
#[derive(Debug, Clone)]
pub struct NewDismissal {
    pub text_hash: String,
    pub rule: String,
    pub start: i64,
    pub reason: String,
    /// Midnight UTC of the day.
    pub dismissed_on: OffsetDateTime,
}
