//! The alert intake as the store reads and writes it: a team's intake credentials and the
//! fingerprints of the alert groups it has turned into loops.

use time::OffsetDateTime;

use crate::domain::{LoopId, UserId};

/// A team's intake: who it acts as, and how callers prove themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeRecord {
    pub token_hash: String,
    pub pagerduty_sealed: Option<String>,
    pub created_by: UserId,
    pub created_at: OffsetDateTime,
}

/// The loop an alert group opened, and when the group last fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertLoop {
    pub loop_id: LoopId,
    pub last_seen_at: OffsetDateTime,
}
