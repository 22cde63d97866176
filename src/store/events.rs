//! The outbox as the store reads it back (the delivery worker, tests and the API's event list).

use time::OffsetDateTime;

use crate::domain::{EventId, TeamId, UserId};

/// One stored event, as the outbox holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRecord {
    pub id: EventId,
    pub kind: String,
    pub team_id: TeamId,
    pub subject_id: String,
    pub actor_id: Option<UserId>,
    pub occurred_at: OffsetDateTime,
    /// The JSON payload as sent.
    pub payload: String,
    pub dispatched: bool,
}
