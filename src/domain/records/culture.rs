//! What a pulse round and a recognition read as (see `records`).

use time::OffsetDateTime;

use super::PersonRef;
use crate::domain::RecordId;

#[derive(Debug, Clone)]
pub struct RoundRecord {
    pub id: RecordId,
    pub opened_by_name: Option<String>,
    pub opened_at: OffsetDateTime,
    pub closes_on: OffsetDateTime,
    pub closed_at: Option<OffsetDateTime>,
    pub members_at_open: i64,
    pub min_responses: i64,
    pub responses: i64,
}

#[derive(Debug, Clone)]
pub struct RecognitionRecord {
    pub id: RecordId,
    pub giver: Option<PersonRef>,
    pub receiver: PersonRef,
    pub behaviour: String,
    pub impact: String,
    pub created_at: OffsetDateTime,
    /// The team expectation it honours (id and words), when the giver named one.
    pub expectation: Option<(RecordId, String)>,
}
