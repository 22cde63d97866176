//! Review sessions: statements that read the same on SQLite and PostgreSQL.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::ThisStore;
use crate::domain::events::Event;
use crate::domain::records::PersonRef;
use crate::domain::review::Phase;
use crate::domain::{ActionId, RecordId, TeamId, UserId};
use crate::store::backend::BackendHooks;
use crate::store::review::{
    DecisionRecord, DissentRecord, NewReview, ParticipantRecord, ReviewRecord,
};
use crate::store::rows::parse_id;
use crate::store::{from_unix, from_unix_opt, unix, ReviewStore, StoreError, StoreResult};

fn err(error: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(error)
}

const REVIEW_SELECT: &str = "SELECT r.id, r.team_id, r.loop_id, l.title, r.prompt, r.facilitator_id, \
    u.display_name, r.phase, r.phase_started_at, r.phase_ends_at, r.cards_box_id, r.votes_box_id, \
    r.dots, r.version, r.created_at, r.closed_at \
    FROM review_sessions r LEFT JOIN loops l ON l.id = r.loop_id LEFT JOIN users u ON u.id = r.facilitator_id";

#[derive(sqlx::FromRow)]
struct ReviewRow {
    id: String,
    team_id: String,
    loop_id: Option<String>,
    title: Option<String>,
    prompt: String,
    facilitator_id: Option<String>,
    display_name: Option<String>,
    phase: String,
    phase_started_at: i64,
    phase_ends_at: Option<i64>,
    cards_box_id: String,
    votes_box_id: String,
    dots: i64,
    version: i64,
    created_at: i64,
    closed_at: Option<i64>,
}

impl TryFrom<ReviewRow> for ReviewRecord {
    type Error = StoreError;
    fn try_from(r: ReviewRow) -> StoreResult<ReviewRecord> {
        let facilitator = match (r.facilitator_id, r.display_name) {
            (Some(id), Some(name)) => Some(PersonRef::new(parse_id(&id)?, name)),
            _ => None,
        };
        Ok(ReviewRecord {
            id: parse_id(&r.id)?,
            team_id: parse_id(&r.team_id)?,
            loop_id: r.loop_id,
            loop_title: r.title,
            prompt: r.prompt,
            facilitator,
            phase: Phase::parse(&r.phase)
                .map_err(|_| StoreError::Corrupt(format!("phase {:?}", r.phase)))?,
            phase_started_at: from_unix(r.phase_started_at)?,
            phase_ends_at: from_unix_opt(r.phase_ends_at)?,
            cards_box_id: parse_id(&r.cards_box_id)?,
            votes_box_id: parse_id(&r.votes_box_id)?,
            dots: r.dots,
            version: r.version,
            created_at: from_unix(r.created_at)?,
            closed_at: from_unix_opt(r.closed_at)?,
        })
    }
}

#[async_trait]
impl ReviewStore for ThisStore {
    async fn create_review(&self, new: &NewReview, events: &[Event]) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        for (box_id, purpose) in [
            (new.cards_box_id, "review-cards"),
            (new.votes_box_id, "review-votes"),
        ] {
            sqlx::query("INSERT INTO sealed_boxes (id, purpose, created_at) VALUES ($1, $2, $3)")
                .bind(box_id.to_string())
                .bind(format!("{purpose}:{}", new.id))
                .bind(unix(new.created_at))
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        sqlx::query(
            "INSERT INTO review_sessions (id, team_id, loop_id, prompt, facilitator_id, phase, phase_started_at, \
             cards_box_id, votes_box_id, dots, version, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'open_actions', $6, $7, $8, $9, 0, $6)",
        )
        .bind(new.id.to_string())
        .bind(new.team_id.to_string())
        .bind(new.loop_id.as_deref())
        .bind(&new.prompt)
        .bind(new.facilitator.to_string())
        .bind(unix(new.created_at))
        .bind(new.cards_box_id.to_string())
        .bind(new.votes_box_id.to_string())
        .bind(new.dots)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        sqlx::query(
            "INSERT INTO review_participants (session_id, user_id, role, is_lead, done) VALUES ($1, $2, 'participant', $3, FALSE)",
        )
        .bind(new.id.to_string())
        .bind(new.facilitator.to_string())
        .bind(new.facilitator_is_lead)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        super::portable_events::insert_events(&mut tx, events).await?;
        tx.commit().await.map_err(err)
    }

    async fn review(&self, team: TeamId, id: RecordId) -> StoreResult<Option<ReviewRecord>> {
        sqlx::query_as::<_, ReviewRow>(&format!(
            "{REVIEW_SELECT} WHERE r.team_id = $1 AND r.id = $2"
        ))
        .bind(team.to_string())
        .bind(id.to_string())
        .fetch_optional(self.reader())
        .await
        .map_err(err)?
        .map(ReviewRecord::try_from)
        .transpose()
    }

    async fn reviews(&self, team: TeamId) -> StoreResult<Vec<ReviewRecord>> {
        sqlx::query_as::<_, ReviewRow>(&format!(
            "{REVIEW_SELECT} WHERE r.team_id = $1 ORDER BY r.created_at DESC, r.id"
        ))
        .bind(team.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?
        .into_iter()
        .map(ReviewRecord::try_from)
        .collect()
    }

    async fn join_review(
        &self,
        id: RecordId,
        user: UserId,
        observer: bool,
        is_lead: bool,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO review_participants (session_id, user_id, role, is_lead, done) VALUES ($1, $2, $3, $4, FALSE) \
             ON CONFLICT (session_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(id.to_string())
        .bind(user.to_string())
        .bind(if observer { "observer" } else { "participant" })
        .bind(is_lead)
        .execute(self.writer())
        .await
        .map_err(err)?;
        Ok(())
    }

    async fn review_participants(&self, id: RecordId) -> StoreResult<Vec<ParticipantRecord>> {
        let rows: Vec<(String, String, String, bool, bool)> = sqlx::query_as(
            "SELECT p.user_id, u.display_name, p.role, p.is_lead, p.done FROM review_participants p \
             JOIN users u ON u.id = p.user_id WHERE p.session_id = $1 ORDER BY u.display_name, p.user_id",
        )
        .bind(id.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|(user, name, role, is_lead, done)| {
                Ok(ParticipantRecord {
                    user: parse_id(&user)?,
                    name,
                    observer: role == "observer",
                    is_lead,
                    done,
                })
            })
            .collect()
    }

    async fn set_done(&self, id: RecordId, user: UserId, done: bool) -> StoreResult<()> {
        sqlx::query(
            "UPDATE review_participants SET done = $1 WHERE session_id = $2 AND user_id = $3",
        )
        .bind(done)
        .bind(id.to_string())
        .bind(user.to_string())
        .execute(self.writer())
        .await
        .map_err(err)?;
        Ok(())
    }

    async fn set_phase(
        &self,
        id: RecordId,
        from: Phase,
        to: Phase,
        at: OffsetDateTime,
        events: &[Event],
    ) -> StoreResult<bool> {
        let closed_at = (to == Phase::Closed).then(|| unix(at));
        let mut tx = self.begin_write().await.map_err(err)?;
        let moved = sqlx::query(
            "UPDATE review_sessions SET phase = $1, phase_started_at = $2, phase_ends_at = NULL, \
             closed_at = COALESCE(closed_at, $3) WHERE id = $4 AND phase = $5",
        )
        .bind(to.as_str())
        .bind(unix(at))
        .bind(closed_at)
        .bind(id.to_string())
        .bind(from.as_str())
        .execute(&mut *tx)
        .await
        .map_err(err)?
        .rows_affected()
            > 0;
        if moved {
            super::portable_events::insert_events(&mut tx, events).await?;
        }
        tx.commit().await.map_err(err)?;
        Ok(moved)
    }

    async fn set_timer(&self, id: RecordId, ends_at: Option<OffsetDateTime>) -> StoreResult<()> {
        sqlx::query("UPDATE review_sessions SET phase_ends_at = $1 WHERE id = $2")
            .bind(ends_at.map(unix))
            .bind(id.to_string())
            .execute(self.writer())
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn touch_review(&self, id: RecordId) -> StoreResult<i64> {
        let version: i64 = sqlx::query_scalar(
            "UPDATE review_sessions SET version = version + 1 WHERE id = $1 RETURNING version",
        )
        .bind(id.to_string())
        .fetch_one(self.writer())
        .await
        .map_err(err)?;
        self.announce_review(&id.to_string(), version)
            .await
            .map_err(err)?;
        Ok(version)
    }

    async fn check_action(
        &self,
        id: RecordId,
        action: ActionId,
        outcome: &str,
        by: UserId,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO review_action_checks (session_id, action_id, outcome, checked_by) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (session_id, action_id) DO UPDATE SET outcome = excluded.outcome, checked_by = excluded.checked_by",
        )
        .bind(id.to_string())
        .bind(action.to_string())
        .bind(outcome)
        .bind(by.to_string())
        .execute(self.writer())
        .await
        .map_err(err)?;
        Ok(())
    }

    async fn action_checks(&self, id: RecordId) -> StoreResult<Vec<(String, String)>> {
        sqlx::query_as("SELECT action_id, outcome FROM review_action_checks WHERE session_id = $1")
            .bind(id.to_string())
            .fetch_all(self.reader())
            .await
            .map_err(err)
    }

    async fn create_group(&self, id: RecordId, group: RecordId, title: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO review_groups (id, session_id, title) VALUES ($1, $2, $3)")
            .bind(group.to_string())
            .bind(id.to_string())
            .bind(title)
            .execute(self.writer())
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn rename_group(&self, id: RecordId, group: RecordId, title: &str) -> StoreResult<()> {
        sqlx::query("UPDATE review_groups SET title = $1 WHERE id = $2 AND session_id = $3")
            .bind(title)
            .bind(group.to_string())
            .bind(id.to_string())
            .execute(self.writer())
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn groups(&self, id: RecordId) -> StoreResult<Vec<(String, String)>> {
        sqlx::query_as(
            "SELECT id, title FROM review_groups WHERE session_id = $1 ORDER BY title, id",
        )
        .bind(id.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)
    }

    async fn assign_card(
        &self,
        id: RecordId,
        card: RecordId,
        group: Option<RecordId>,
    ) -> StoreResult<()> {
        match group {
            None => {
                sqlx::query(
                    "DELETE FROM review_card_groups WHERE card_id = $1 AND session_id = $2",
                )
                .bind(card.to_string())
                .bind(id.to_string())
                .execute(self.writer())
                .await
                .map_err(err)?;
            }
            Some(group) => {
                sqlx::query(
                    "INSERT INTO review_card_groups (card_id, session_id, group_id) VALUES ($1, $2, $3) \
                     ON CONFLICT (card_id) DO UPDATE SET group_id = excluded.group_id",
                )
                .bind(card.to_string())
                .bind(id.to_string())
                .bind(group.to_string())
                .execute(self.writer())
                .await
                .map_err(err)?;
            }
        }
        Ok(())
    }

    async fn card_groups(&self, id: RecordId) -> StoreResult<Vec<(String, String)>> {
        sqlx::query_as("SELECT card_id, group_id FROM review_card_groups WHERE session_id = $1")
            .bind(id.to_string())
            .fetch_all(self.reader())
            .await
            .map_err(err)
    }

    async fn hide_card(
        &self,
        id: RecordId,
        card: RecordId,
        reason: &str,
        by: UserId,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO review_hidden_cards (card_id, session_id, reason, hidden_by) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (card_id) DO UPDATE SET reason = excluded.reason, hidden_by = excluded.hidden_by",
        )
        .bind(card.to_string())
        .bind(id.to_string())
        .bind(reason)
        .bind(by.to_string())
        .execute(self.writer())
        .await
        .map_err(err)?;
        Ok(())
    }

    async fn hidden_cards(&self, id: RecordId) -> StoreResult<Vec<(String, String)>> {
        sqlx::query_as("SELECT card_id, reason FROM review_hidden_cards WHERE session_id = $1")
            .bind(id.to_string())
            .fetch_all(self.reader())
            .await
            .map_err(err)
    }

    async fn add_decision(
        &self,
        id: RecordId,
        decision: RecordId,
        card: Option<RecordId>,
        kind: &str,
        text: &str,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO review_decisions (id, session_id, card_id, kind, text, decided_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(decision.to_string())
        .bind(id.to_string())
        .bind(card.map(|c| c.to_string()))
        .bind(kind)
        .bind(text)
        .bind(unix(at))
        .execute(self.writer())
        .await
        .map_err(err)?;
        Ok(())
    }

    async fn decisions(&self, id: RecordId) -> StoreResult<Vec<DecisionRecord>> {
        let rows: Vec<(String, Option<String>, String, String, i64)> = sqlx::query_as(
            "SELECT id, card_id, kind, text, decided_at FROM review_decisions WHERE session_id = $1 ORDER BY decided_at, id",
        )
        .bind(id.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|(decision, card_id, kind, text, at)| {
                Ok(DecisionRecord {
                    id: parse_id(&decision)?,
                    card_id,
                    kind,
                    text,
                    decided_at: from_unix(at)?,
                })
            })
            .collect()
    }

    async fn add_dissent(
        &self,
        dissent: RecordId,
        decision: RecordId,
        reason: &str,
        author: Option<UserId>,
        on: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO review_dissents (id, decision_id, reason, author_id, added_on) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(dissent.to_string())
        .bind(decision.to_string())
        .bind(reason)
        .bind(author.map(|a| a.to_string()))
        .bind(unix(on))
        .execute(self.writer())
        .await
        .map_err(err)?;
        Ok(())
    }

    async fn dissents(&self, id: RecordId) -> StoreResult<Vec<DissentRecord>> {
        let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT x.id, x.decision_id, x.reason, u.display_name FROM review_dissents x \
             JOIN review_decisions d ON d.id = x.decision_id LEFT JOIN users u ON u.id = x.author_id \
             WHERE d.session_id = $1 ORDER BY x.reason, x.id",
        )
        .bind(id.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|(dissent, decision, reason, author_name)| {
                Ok(DissentRecord {
                    id: parse_id(&dissent)?,
                    decision_id: parse_id(&decision)?,
                    reason,
                    author_name,
                })
            })
            .collect()
    }

    fn review_changes(&self) -> tokio::sync::broadcast::Receiver<(String, i64)> {
        self.review_events().subscribe()
    }
}
