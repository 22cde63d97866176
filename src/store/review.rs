//! Records of review sessions as the store reads and writes them.

use time::OffsetDateTime;

use crate::domain::{RecordId, TeamId, UserId};

/// The read model lives in `domain::records`; the store builds it from rows.
pub use crate::domain::records::review::{
    DecisionRecord, DissentRecord, ParticipantRecord, ReviewRecord,
};

#[derive(Debug, Clone)]
pub struct NewReview {
    pub id: RecordId,
    pub team_id: TeamId,
    pub loop_id: Option<String>,
    pub prompt: String,
    pub facilitator: UserId,
    pub facilitator_is_lead: bool,
    pub cards_box_id: RecordId,
    pub votes_box_id: RecordId,
    pub dots: i64,
    pub created_at: OffsetDateTime,
}
