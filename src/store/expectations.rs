//! What the store writes for a team's expectations; the read models are in
//! `domain::expectations`.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreResult;
use crate::domain::expectations::{ExpectationComment, ExpectationRecord, Measure, MeasureFacts};
use crate::domain::{RecordId, TeamId, UserId};

/// A new expectation, as a lead wrote it.
#[derive(Debug, Clone)]
pub struct NewExpectation {
    pub id: RecordId,
    pub team_id: TeamId,
    pub text: String,
    pub measure: Option<(Measure, i64)>,
    pub created_by: UserId,
    pub created_at: OffsetDateTime,
    /// "2026-Q4".
    pub quarter: String,
}

/// A comment: `author` is `None` for an unnamed one, and `written_on` is always a day.
#[derive(Debug, Clone)]
pub struct NewExpectationComment {
    pub id: RecordId,
    pub expectation_id: RecordId,
    pub author: Option<UserId>,
    pub text: String,
    pub written_on: OffsetDateTime,
}

/// Expectations, their acknowledgements and comments, and the counts their measures read.
#[async_trait]
pub trait ExpectationStore: Send + Sync {
    async fn create_expectation(&self, new: &NewExpectation) -> StoreResult<()>;
    /// The team's expectations still in force, oldest first.
    async fn expectations(&self, team: TeamId) -> StoreResult<Vec<ExpectationRecord>>;
    /// One of the team's expectations, retired or not.
    async fn expectation(
        &self,
        team: TeamId,
        id: RecordId,
    ) -> StoreResult<Option<ExpectationRecord>>;
    /// Changes the words and measure; false when there is no such expectation in force.
    async fn update_expectation(
        &self,
        team: TeamId,
        id: RecordId,
        text: &str,
        measure: Option<(Measure, i64)>,
    ) -> StoreResult<bool>;
    async fn retire_expectation(
        &self,
        team: TeamId,
        id: RecordId,
        at: OffsetDateTime,
    ) -> StoreResult<bool>;
    async fn revisit_expectation(
        &self,
        team: TeamId,
        id: RecordId,
        quarter: &str,
    ) -> StoreResult<bool>;
    /// Records a member's acknowledgement for the quarter (a second one is ignored).
    async fn acknowledge_expectation(
        &self,
        id: RecordId,
        user: UserId,
        quarter: &str,
        on: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Who acknowledged which of the team's expectations in `quarter`.
    async fn expectation_acknowledgements(
        &self,
        team: TeamId,
        quarter: &str,
    ) -> StoreResult<Vec<(RecordId, UserId)>>;
    /// Writes comments in one statement, in key order (unnamed ones come here in a batch).
    async fn write_expectation_comments(
        &self,
        comments: &[NewExpectationComment],
    ) -> StoreResult<()>;
    /// The comments on the team's expectations, by day, then by their random key.
    async fn expectation_comments(&self, team: TeamId) -> StoreResult<Vec<ExpectationComment>>;
    /// What the measures read, for `[since, until)` with `now` as the present.
    async fn measure_facts(
        &self,
        team: TeamId,
        since: OffsetDateTime,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<MeasureFacts>;
}
