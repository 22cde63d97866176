//! What a review session reads as (see `records`).

use time::OffsetDateTime;

use super::PersonRef;
use crate::domain::review::Phase;
use crate::domain::{RecordId, TeamId, UserId};

#[derive(Debug, Clone)]
pub struct ReviewRecord {
    pub id: RecordId,
    pub team_id: TeamId,
    pub loop_id: Option<String>,
    pub loop_title: Option<String>,
    pub prompt: String,
    pub facilitator: Option<PersonRef>,
    pub phase: Phase,
    pub phase_started_at: OffsetDateTime,
    pub phase_ends_at: Option<OffsetDateTime>,
    pub cards_box_id: RecordId,
    pub votes_box_id: RecordId,
    pub dots: i64,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub closed_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone)]
pub struct ParticipantRecord {
    pub user: UserId,
    pub name: String,
    pub observer: bool,
    pub is_lead: bool,
    pub done: bool,
}

#[derive(Debug, Clone)]
pub struct DecisionRecord {
    pub id: RecordId,
    pub card_id: Option<String>,
    pub kind: String,
    pub text: String,
    pub decided_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct DissentRecord {
    pub id: RecordId,
    pub decision_id: RecordId,
    pub reason: String,
    pub author_name: Option<String>,
}
