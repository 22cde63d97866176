//! Expectations: statements that read the same on SQLite and PostgreSQL.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::ThisStore;
use crate::domain::expectations::{ExpectationComment, ExpectationRecord, Measure, MeasureFacts};
use crate::domain::experiments::Quarter;
use crate::domain::{RecordId, TeamId, UserId};
use crate::store::backend::BackendHooks;
use crate::store::expectations::{ExpectationStore, NewExpectation, NewExpectationComment};
use crate::store::rows::parse_id;
use crate::store::{from_unix, from_unix_opt, unix, StoreError, StoreResult};

fn err(error: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(error)
}

type Row = (
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
    i64,
    String,
    Option<i64>,
);

const SELECT: &str = "SELECT e.id, e.body, e.measure, e.target, u.display_name, e.created_at, \
    e.revisited_quarter, e.retired_at FROM expectations e LEFT JOIN users u ON u.id = e.created_by";

fn record(row: Row) -> StoreResult<ExpectationRecord> {
    let (id, text, measure, target, by, at, quarter, retired) = row;
    let measure = match (measure, target) {
        (Some(m), Some(t)) => Some((
            Measure::parse(&m).map_err(|_| StoreError::Corrupt(format!("measure {m}")))?,
            t,
        )),
        _ => None,
    };
    Ok(ExpectationRecord {
        id: parse_id(&id)?,
        text,
        measure,
        written_by: by,
        written_at: from_unix(at)?,
        revisited: Quarter::parse(&quarter)
            .map_err(|_| StoreError::Corrupt(format!("quarter {quarter}")))?,
        retired_at: from_unix_opt(retired)?,
    })
}

#[async_trait]
impl ExpectationStore for ThisStore {
    async fn create_expectation(&self, new: &NewExpectation) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO expectations (id, team_id, body, measure, target, created_by, created_at, revisited_quarter) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(new.id.to_string())
        .bind(new.team_id.to_string())
        .bind(&new.text)
        .bind(new.measure.map(|(m, _)| m.as_str()))
        .bind(new.measure.map(|(_, t)| t))
        .bind(new.created_by.to_string())
        .bind(unix(new.created_at))
        .bind(&new.quarter)
        .execute(self.writer())
        .await
        .map_err(err)?;
        Ok(())
    }

    async fn expectations(&self, team: TeamId) -> StoreResult<Vec<ExpectationRecord>> {
        sqlx::query_as::<_, Row>(&format!(
            "{SELECT} WHERE e.team_id = $1 AND e.retired_at IS NULL ORDER BY e.created_at, e.id"
        ))
        .bind(team.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?
        .into_iter()
        .map(record)
        .collect()
    }

    async fn expectation(
        &self,
        team: TeamId,
        id: RecordId,
    ) -> StoreResult<Option<ExpectationRecord>> {
        sqlx::query_as::<_, Row>(&format!("{SELECT} WHERE e.team_id = $1 AND e.id = $2"))
            .bind(team.to_string())
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await
            .map_err(err)?
            .map(record)
            .transpose()
    }

    async fn update_expectation(
        &self,
        team: TeamId,
        id: RecordId,
        text: &str,
        measure: Option<(Measure, i64)>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE expectations SET body = $1, measure = $2, target = $3 \
             WHERE team_id = $4 AND id = $5 AND retired_at IS NULL",
        )
        .bind(text)
        .bind(measure.map(|(m, _)| m.as_str()))
        .bind(measure.map(|(_, t)| t))
        .bind(team.to_string())
        .bind(id.to_string())
        .execute(self.writer())
        .await
        .map_err(err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn retire_expectation(
        &self,
        team: TeamId,
        id: RecordId,
        at: OffsetDateTime,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE expectations SET retired_at = $1 \
             WHERE team_id = $2 AND id = $3 AND retired_at IS NULL",
        )
        .bind(unix(at))
        .bind(team.to_string())
        .bind(id.to_string())
        .execute(self.writer())
        .await
        .map_err(err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn revisit_expectation(
        &self,
        team: TeamId,
        id: RecordId,
        quarter: &str,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE expectations SET revisited_quarter = $1 \
             WHERE team_id = $2 AND id = $3 AND retired_at IS NULL",
        )
        .bind(quarter)
        .bind(team.to_string())
        .bind(id.to_string())
        .execute(self.writer())
        .await
        .map_err(err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn acknowledge_expectation(
        &self,
        id: RecordId,
        user: UserId,
        quarter: &str,
        on: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO expectation_acknowledgements (expectation_id, user_id, quarter, acknowledged_on) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (expectation_id, quarter, user_id) DO NOTHING",
        )
        .bind(id.to_string())
        .bind(user.to_string())
        .bind(quarter)
        .bind(unix(on))
        .execute(self.writer())
        .await
        .map_err(err)?;
        Ok(())
    }

    async fn expectation_acknowledgements(
        &self,
        team: TeamId,
        quarter: &str,
    ) -> StoreResult<Vec<(RecordId, UserId)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT a.expectation_id, a.user_id FROM expectation_acknowledgements a \
             JOIN expectations e ON e.id = a.expectation_id \
             WHERE e.team_id = $1 AND a.quarter = $2",
        )
        .bind(team.to_string())
        .bind(quarter)
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|(e, u)| {
                Ok((
                    parse_id(&e)?,
                    u.parse()
                        .map_err(|_| StoreError::Corrupt(format!("user id {u}")))?,
                ))
            })
            .collect()
    }

    async fn write_expectation_comments(
        &self,
        comments: &[NewExpectationComment],
    ) -> StoreResult<()> {
        if comments.is_empty() {
            return Ok(());
        }
        let mut sorted: Vec<&NewExpectationComment> = comments.iter().collect();
        sorted.sort_by_key(|c| c.id);
        let mut builder = sqlx::QueryBuilder::<super::Db>::new(
            "INSERT INTO expectation_comments (id, expectation_id, author_id, body, written_on) ",
        );
        builder.push_values(sorted, |mut row, c| {
            row.push_bind(c.id.to_string())
                .push_bind(c.expectation_id.to_string())
                .push_bind(c.author.map(|a| a.to_string()))
                .push_bind(c.text.clone())
                .push_bind(unix(c.written_on));
        });
        builder.build().execute(self.writer()).await.map_err(err)?;
        Ok(())
    }

    async fn expectation_comments(&self, team: TeamId) -> StoreResult<Vec<ExpectationComment>> {
        let rows: Vec<(String, String, Option<String>, String, i64)> = sqlx::query_as(
            "SELECT c.id, c.expectation_id, u.display_name, c.body, c.written_on \
             FROM expectation_comments c JOIN expectations e ON e.id = c.expectation_id \
             LEFT JOIN users u ON u.id = c.author_id \
             WHERE e.team_id = $1 ORDER BY c.written_on, c.id",
        )
        .bind(team.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|(id, e, author, text, on)| {
                Ok(ExpectationComment {
                    id: parse_id(&id)?,
                    expectation_id: parse_id(&e)?,
                    author,
                    text,
                    written_on: from_unix(on)?,
                })
            })
            .collect()
    }

    async fn measure_facts(
        &self,
        team: TeamId,
        since: OffsetDateTime,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<MeasureFacts> {
        let team = team.to_string();
        let (members, experiments_started, actions_due, actions_on_time): (i64, i64, i64, i64) =
            sqlx::query_as(
                "SELECT \
                 (SELECT COUNT(*) FROM memberships WHERE team_id = $1), \
                 (SELECT COUNT(*) FROM experiments WHERE team_id = $1 \
                    AND started_at >= $2 AND started_at < $3 AND started_at <= $4), \
                 (SELECT COUNT(*) FROM action_items WHERE team_id = $1 AND status <> 'dropped' \
                    AND due_on >= $2 AND due_on < $3 AND due_on + 86400 <= $4), \
                 (SELECT COUNT(*) FROM action_items WHERE team_id = $1 AND status = 'done' \
                    AND due_on >= $2 AND due_on < $3 AND due_on + 86400 <= $4 \
                    AND closed_at < due_on + 86400)",
            )
            .bind(&team)
            .bind(unix(since))
            .bind(unix(until))
            .bind(unix(now))
            .fetch_one(self.reader())
            .await
            .map_err(err)?;
        let loops: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT noticed_at, created_at FROM loops WHERE team_id = $1 \
             AND created_at >= $2 AND created_at < $3",
        )
        .bind(&team)
        .bind(unix(since))
        .bind(unix(until))
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        Ok(MeasureFacts {
            members,
            experiments_started,
            days_to_log: loops
                .into_iter()
                .map(|(noticed, logged)| (logged - noticed).max(0) / 86_400)
                .collect(),
            actions_due,
            actions_on_time,
        })
    }
}
