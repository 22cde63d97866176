//! Rituals: statements that read the same on SQLite and PostgreSQL.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::ThisStore;
use crate::domain::rituals::{
    Cadence, RitualRoundRecord, RitualSchedule, RitualShareRecord, ShareText,
};
use crate::domain::text::Word;
use crate::domain::{RecordId, TeamId, UserId};
use crate::store::backend::BackendHooks;
use crate::store::rows::parse_id;
use crate::store::{from_unix, from_unix_opt, unix, RitualStore, StoreError, StoreResult};

fn err(error: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(error)
}

type RoundRow = (String, i64, i64, Option<i64>);

fn round(row: RoundRow) -> StoreResult<RitualRoundRecord> {
    let (id, opens_on, opened_at, closed_at) = row;
    Ok(RitualRoundRecord {
        id: parse_id(&id)?,
        opens_on: from_unix(opens_on)?,
        opened_at: from_unix(opened_at)?,
        closed_at: from_unix_opt(closed_at)?,
    })
}

#[async_trait]
impl RitualStore for ThisStore {
    async fn ritual_schedule(&self, team: TeamId) -> StoreResult<Option<RitualSchedule>> {
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT cadence, weekday FROM ritual_schedules WHERE team_id = $1")
                .bind(team.to_string())
                .fetch_optional(self.reader())
                .await
                .map_err(err)?;
        row.map(|(cadence, weekday)| {
            let cadence = Cadence::parse_word(&cadence)
                .map_err(|_| StoreError::Corrupt("ritual_schedules.cadence".into()))?;
            let weekday = u8::try_from(weekday)
                .ok()
                .filter(|d| *d < 7)
                .map(|d| time::Weekday::Monday.nth_next(d))
                .ok_or_else(|| StoreError::Corrupt("ritual_schedules.weekday".into()))?;
            Ok(RitualSchedule { cadence, weekday })
        })
        .transpose()
    }

    async fn set_ritual_schedule(&self, team: TeamId, s: &RitualSchedule) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO ritual_schedules (team_id, cadence, weekday) VALUES ($1, $2, $3) \
             ON CONFLICT (team_id) DO UPDATE SET cadence = excluded.cadence, weekday = excluded.weekday",
        )
        .bind(team.to_string())
        .bind(s.cadence.as_word())
        .bind(i64::from(s.weekday.number_days_from_monday()))
        .execute(self.writer())
        .await
        .map_err(err)?;
        Ok(())
    }

    async fn ritual_round(
        &self,
        team: TeamId,
        opens_on: OffsetDateTime,
    ) -> StoreResult<Option<RitualRoundRecord>> {
        let row: Option<RoundRow> = sqlx::query_as(
            "SELECT id, opens_on, opened_at, closed_at FROM ritual_rounds \
             WHERE team_id = $1 AND opens_on = $2",
        )
        .bind(team.to_string())
        .bind(unix(opens_on))
        .fetch_optional(self.reader())
        .await
        .map_err(err)?;
        row.map(round).transpose()
    }

    async fn open_ritual_round(
        &self,
        team: TeamId,
        opens_on: OffsetDateTime,
        at: OffsetDateTime,
        lead: UserId,
        share: &ShareText,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        sqlx::query(
            "INSERT INTO ritual_rounds (id, team_id, opens_on, opened_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (team_id, opens_on) DO NOTHING",
        )
        .bind(RecordId::random().to_string())
        .bind(team.to_string())
        .bind(unix(opens_on))
        .bind(unix(at))
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        let (id,): (String,) =
            sqlx::query_as("SELECT id FROM ritual_rounds WHERE team_id = $1 AND opens_on = $2")
                .bind(team.to_string())
                .bind(unix(opens_on))
                .fetch_one(&mut *tx)
                .await
                .map_err(err)?;
        sqlx::query(
            "INSERT INTO ritual_shares (id, round_id, author_id, failed, learnt) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(RecordId::random().to_string())
        .bind(id)
        .bind(lead.to_string())
        .bind(&share.failed)
        .bind(&share.learnt)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)
    }

    async fn add_named_ritual_share(
        &self,
        round: RecordId,
        author: UserId,
        share: &ShareText,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO ritual_shares (id, round_id, author_id, failed, learnt) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(RecordId::random().to_string())
        .bind(round.to_string())
        .bind(author.to_string())
        .bind(&share.failed)
        .bind(&share.learnt)
        .execute(self.writer())
        .await
        .map_err(err)?;
        Ok(())
    }

    async fn write_unnamed_ritual_shares(
        &self,
        round: RecordId,
        shares: &[ShareText],
    ) -> StoreResult<()> {
        if shares.is_empty() {
            return Ok(());
        }
        // Random keys, written in key order: rows, cells and index entries follow the key.
        let mut keyed: Vec<(String, &ShareText)> = shares
            .iter()
            .map(|share| (RecordId::random().to_string(), share))
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        let mut tx = self.begin_write().await.map_err(err)?;
        for (id, share) in keyed {
            sqlx::query(
                "INSERT INTO ritual_shares (id, round_id, author_id, failed, learnt) VALUES ($1, $2, NULL, $3, $4)",
            )
            .bind(id)
            .bind(round.to_string())
            .bind(&share.failed)
            .bind(&share.learnt)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        tx.commit().await.map_err(err)
    }

    async fn close_ritual_round(&self, round: RecordId, at: OffsetDateTime) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE ritual_rounds SET closed_at = $2 WHERE id = $1 AND closed_at IS NULL",
        )
        .bind(round.to_string())
        .bind(unix(at))
        .execute(self.writer())
        .await
        .map_err(err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn ritual_round_is_closed(&self, round: RecordId) -> StoreResult<bool> {
        let row: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT closed_at FROM ritual_rounds WHERE id = $1")
                .bind(round.to_string())
                .fetch_optional(self.reader())
                .await
                .map_err(err)?;
        // A round that is gone (its team deleted) is as good as closed: nothing waits for it.
        Ok(row.is_none_or(|(closed,)| closed.is_some()))
    }

    async fn ritual_rounds(&self, team: TeamId, limit: i64) -> StoreResult<Vec<RitualRoundRecord>> {
        let rows: Vec<RoundRow> = sqlx::query_as(
            "SELECT id, opens_on, opened_at, closed_at FROM ritual_rounds \
             WHERE team_id = $1 ORDER BY opens_on DESC LIMIT $2",
        )
        .bind(team.to_string())
        .bind(limit)
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter().map(round).collect()
    }

    async fn ritual_shares(&self, round: RecordId) -> StoreResult<Vec<RitualShareRecord>> {
        let rows: Vec<(Option<String>, String, String)> = sqlx::query_as(
            "SELECT u.display_name, s.failed, s.learnt FROM ritual_shares s \
             LEFT JOIN users u ON u.id = s.author_id WHERE s.round_id = $1 \
             ORDER BY CASE WHEN s.author_id IS NULL THEN 1 ELSE 0 END, u.display_name, s.id",
        )
        .bind(round.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        Ok(rows
            .into_iter()
            .map(|(author_name, failed, learnt)| RitualShareRecord {
                author_name,
                failed,
                learnt,
            })
            .collect())
    }

    async fn open_ritual_rounds(&self) -> StoreResult<Vec<(TeamId, RecordId, OffsetDateTime)>> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT team_id, id, opens_on FROM ritual_rounds WHERE closed_at IS NULL",
        )
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|(team, id, opens_on)| {
                Ok((parse_id(&team)?, parse_id(&id)?, from_unix(opens_on)?))
            })
            .collect()
    }

    async fn first_session_with_dissent(&self, team: TeamId) -> StoreResult<Option<RecordId>> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT s.id FROM review_sessions s WHERE s.team_id = $1 AND EXISTS ( \
               SELECT 1 FROM review_decisions d JOIN review_dissents x ON x.decision_id = d.id \
               WHERE d.session_id = s.id) \
             ORDER BY s.created_at, s.id LIMIT 1",
        )
        .bind(team.to_string())
        .fetch_optional(self.reader())
        .await
        .map_err(err)?;
        row.map(|(id,)| parse_id(&id)).transpose()
    }
}
