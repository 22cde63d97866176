//! Records of the culture instruments as the store reads and writes them.

use time::OffsetDateTime;

use crate::domain::{RecordId, TeamId, UserId};

/// The read model lives in `domain::records`; the store builds it from rows.
pub use crate::domain::records::culture::{RecognitionRecord, RoundRecord};

#[derive(Debug, Clone)]
pub struct NewRound {
    pub id: RecordId,
    pub team_id: TeamId,
    pub opened_by: UserId,
    pub opened_at: OffsetDateTime,
    pub closes_on: OffsetDateTime,
    pub members_at_open: i64,
    pub min_responses: i64,
}

#[derive(Debug, Clone)]
pub struct NewRecognition {
    pub id: RecordId,
    pub team_id: TeamId,
    pub giver: UserId,
    pub receiver: UserId,
    pub behaviour: String,
    pub impact: String,
    pub created_at: OffsetDateTime,
    /// An expectation of the same team (the use case checks).
    pub expectation: Option<RecordId>,
}
