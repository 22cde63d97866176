//! The pulse and recognition: statements that read the same on SQLite and PostgreSQL.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::ThisStore;
use crate::domain::cv::{CvExperiment, CvFailure};
use crate::domain::events::Event;
use crate::domain::experiments::Outcome;
use crate::domain::records::PersonRef;
use crate::domain::success::{SuccessCounts, SuccessSettings, Windows};
use crate::domain::when::day_of;
use crate::domain::{RecordId, TeamId, UserId};
use crate::store::backend::BackendHooks;
use crate::store::culture::{NewRecognition, NewRound, RecognitionRecord, RoundRecord};
use crate::store::rows::parse_id;
use crate::store::{from_unix, from_unix_opt, unix, CultureStore, StoreError, StoreResult};

fn err(error: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(error)
}

type RoundRow = (String, Option<String>, i64, i64, Option<i64>, i64, i64, i64);

const ROUND_SELECT: &str = "SELECT r.id, u.display_name, r.opened_at, r.closes_on, r.closed_at, \
    r.members_at_open, r.min_responses, \
    (SELECT COUNT(*) FROM pulse_participants p WHERE p.round_id = r.id) \
    FROM pulse_rounds r LEFT JOIN users u ON u.id = r.opened_by";

fn round(row: RoundRow) -> StoreResult<RoundRecord> {
    let (id, by, opened, closes, closed, members, min, responses) = row;
    Ok(RoundRecord {
        id: parse_id(&id)?,
        opened_by_name: by,
        opened_at: from_unix(opened)?,
        closes_on: from_unix(closes)?,
        closed_at: from_unix_opt(closed)?,
        members_at_open: members,
        min_responses: min,
        responses,
    })
}

#[async_trait]
impl CultureStore for ThisStore {
    async fn set_pulse_min_responses(&self, team: TeamId, min: u32) -> StoreResult<()> {
        sqlx::query("UPDATE teams SET pulse_min_responses = $1 WHERE id = $2")
            .bind(i64::from(min))
            .bind(team.to_string())
            .execute(self.writer())
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn open_round(&self, r: &NewRound) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO pulse_rounds (id, team_id, opened_by, opened_at, closes_on, members_at_open, min_responses) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(r.id.to_string())
        .bind(r.team_id.to_string())
        .bind(r.opened_by.to_string())
        .bind(unix(r.opened_at))
        .bind(unix(r.closes_on))
        .bind(r.members_at_open)
        .bind(r.min_responses)
        .execute(self.writer())
        .await
        .map_err(err)?;
        Ok(())
    }

    async fn rounds(&self, team: TeamId) -> StoreResult<Vec<RoundRecord>> {
        sqlx::query_as::<_, RoundRow>(&format!(
            "{ROUND_SELECT} WHERE r.team_id = $1 ORDER BY r.opened_at DESC, r.id"
        ))
        .bind(team.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?
        .into_iter()
        .map(round)
        .collect()
    }

    async fn round(&self, team: TeamId, id: RecordId) -> StoreResult<Option<RoundRecord>> {
        sqlx::query_as::<_, RoundRow>(&format!(
            "{ROUND_SELECT} WHERE r.team_id = $1 AND r.id = $2"
        ))
        .bind(team.to_string())
        .bind(id.to_string())
        .fetch_optional(self.reader())
        .await
        .map_err(err)?
        .map(round)
        .transpose()
    }

    async fn has_answered(&self, round: RecordId, user: UserId) -> StoreResult<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pulse_participants WHERE round_id = $1 AND user_id = $2",
        )
        .bind(round.to_string())
        .bind(user.to_string())
        .fetch_one(self.reader())
        .await
        .map_err(err)?;
        Ok(n > 0)
    }

    async fn mark_pulse_participant(&self, round: RecordId, user: UserId) -> StoreResult<()> {
        sqlx::query("INSERT INTO pulse_participants (round_id, user_id) VALUES ($1, $2)")
            .bind(round.to_string())
            .bind(user.to_string())
            .execute(self.writer())
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn unmark_pulse_participants(
        &self,
        round: RecordId,
        users: &[UserId],
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        for user in users {
            sqlx::query("DELETE FROM pulse_participants WHERE round_id = $1 AND user_id = $2")
                .bind(round.to_string())
                .bind(user.to_string())
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        tx.commit().await.map_err(err)
    }

    async fn write_pulse_answers(
        &self,
        round: RecordId,
        answers: &[([u8; 7], Option<String>)],
    ) -> StoreResult<()> {
        if answers.is_empty() {
            return Ok(());
        }
        // Random keys, written in key order: rows, cells and index entries follow the key.
        let mut keyed: Vec<(String, &([u8; 7], Option<String>))> = answers
            .iter()
            .map(|answer| (RecordId::random().to_string(), answer))
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        let mut tx = self.begin_write().await.map_err(err)?;
        // 10 parameters a row: well under either database's limit per statement.
        for chunk in keyed.chunks(500) {
            let mut insert = sqlx::QueryBuilder::<super::Db>::new(
                "INSERT INTO pulse_answers (id, round_id, item1, item2, item3, item4, item5, item6, item7, comment) ",
            );
            insert.push_values(chunk, |mut values, (id, (items, comment))| {
                values.push_bind(id.clone()).push_bind(round.to_string());
                for value in items {
                    values.push_bind(i64::from(*value));
                }
                values.push_bind(comment.clone());
            });
            insert.build().execute(&mut *tx).await.map_err(err)?;
        }
        tx.commit().await.map_err(err)
    }

    async fn pulse_answers(&self, round: RecordId) -> StoreResult<Vec<([u8; 7], Option<String>)>> {
        type Row = (i64, i64, i64, i64, i64, i64, i64, Option<String>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT item1, item2, item3, item4, item5, item6, item7, comment FROM pulse_answers WHERE round_id = $1",
        )
        .bind(round.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|(a, b, c, d, e, f, g, comment)| {
                let mut out = [0u8; 7];
                for (slot, v) in out.iter_mut().zip([a, b, c, d, e, f, g]) {
                    *slot =
                        u8::try_from(v).map_err(|_| StoreError::Corrupt(format!("answer {v}")))?;
                }
                Ok((out, comment))
            })
            .collect()
    }

    async fn rounds_past_closing(
        &self,
        now: OffsetDateTime,
        limit: i64,
    ) -> StoreResult<Vec<(TeamId, RecordId, OffsetDateTime)>> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT team_id, id, closes_on FROM pulse_rounds \
             WHERE closed_at IS NULL AND closes_on + 86400 <= $1 ORDER BY closes_on, id LIMIT $2",
        )
        .bind(unix(now))
        .bind(limit)
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|(team, id, closes)| Ok((parse_id(&team)?, parse_id(&id)?, from_unix(closes)?)))
            .collect()
    }

    async fn close_round(
        &self,
        team: TeamId,
        id: RecordId,
        at: OffsetDateTime,
        events: &[Event],
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await.map_err(err)?;
        let changed = sqlx::query(
            "UPDATE pulse_rounds SET closed_at = $1 WHERE id = $2 AND team_id = $3 AND closed_at IS NULL",
        )
        .bind(unix(at))
        .bind(id.to_string())
        .bind(team.to_string())
        .execute(&mut *tx)
        .await
        .map_err(err)?
        .rows_affected()
            > 0;
        if changed {
            super::portable_events::insert_events(&mut tx, events).await?;
        }
        tx.commit().await.map_err(err)?;
        Ok(changed)
    }

    async fn create_recognition(&self, r: &NewRecognition) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO recognitions (id, team_id, giver_id, receiver_id, behaviour, impact, created_at, expectation_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(r.id.to_string())
        .bind(r.team_id.to_string())
        .bind(r.giver.to_string())
        .bind(r.receiver.to_string())
        .bind(&r.behaviour)
        .bind(&r.impact)
        .bind(unix(r.created_at))
        .bind(r.expectation.map(|e| e.to_string()))
        .execute(self.writer())
        .await
        .map_err(err)?;
        Ok(())
    }

    async fn recognitions(
        &self,
        team: TeamId,
        since: OffsetDateTime,
    ) -> StoreResult<Vec<RecognitionRecord>> {
        type Row = (
            String,
            Option<String>,
            Option<String>,
            String,
            String,
            String,
            String,
            i64,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT r.id, r.giver_id, g.display_name, r.receiver_id, v.display_name, r.behaviour, r.impact, r.created_at, \
             r.expectation_id, x.body \
             FROM recognitions r LEFT JOIN users g ON g.id = r.giver_id JOIN users v ON v.id = r.receiver_id \
             LEFT JOIN expectations x ON x.id = r.expectation_id \
             WHERE r.team_id = $1 AND r.created_at >= $2 ORDER BY r.created_at DESC, r.id",
        )
        .bind(team.to_string())
        .bind(unix(since))
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(
                |(
                    id,
                    giver_id,
                    giver_name,
                    receiver_id,
                    receiver_name,
                    behaviour,
                    impact,
                    at,
                    expectation_id,
                    expectation_text,
                )| {
                    let giver = match (giver_id, giver_name) {
                        (Some(id), Some(name)) => Some(PersonRef::new(parse_id(&id)?, name)),
                        _ => None,
                    };
                    Ok(RecognitionRecord {
                        id: parse_id(&id)?,
                        giver,
                        receiver: PersonRef::new(parse_id(&receiver_id)?, receiver_name),
                        behaviour,
                        impact,
                        created_at: from_unix(at)?,
                        expectation: match (expectation_id, expectation_text) {
                            (Some(id), Some(text)) => Some((parse_id(&id)?, text)),
                            _ => None,
                        },
                    })
                },
            )
            .collect()
    }

    async fn lead_failure_counts(
        &self,
        team: TeamId,
        since: OffsetDateTime,
    ) -> StoreResult<Vec<(UserId, String, i64)>> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT u.id, u.display_name, \
             (SELECT COUNT(*) FROM loops l WHERE l.team_id = m.team_id AND l.author_id = u.id \
              AND l.kind = 'failure' AND l.created_at >= $2) \
             FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.team_id = $1 AND m.role = 'lead' ORDER BY u.display_name, u.id",
        )
        .bind(team.to_string())
        .bind(unix(since))
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|(id, name, count)| Ok((parse_id(&id)?, name, count)))
            .collect()
    }

    async fn cv_failures(&self, user: UserId) -> StoreResult<Vec<CvFailure>> {
        // `anonymous = FALSE` as well as the author: an anonymous loop has no author, and the
        // condition says so in the statement itself.
        let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT l.id, t.name, l.title, l.noticed_at FROM loops l JOIN teams t ON t.id = l.team_id \
             WHERE l.author_id = $1 AND l.anonymous = FALSE \
             AND COALESCE(l.override_type, l.suggested_type) = 'intelligent' \
             ORDER BY l.noticed_at DESC, l.id",
        )
        .bind(user.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        let learnings: Vec<(String, String)> = sqlx::query_as(
            "SELECT le.loop_id, le.statement FROM learnings le JOIN loops l ON l.id = le.loop_id \
             WHERE l.author_id = $1 AND l.anonymous = FALSE \
             AND COALESCE(l.override_type, l.suggested_type) = 'intelligent' \
             ORDER BY le.statement, le.id",
        )
        .bind(user.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|(id, team, title, noticed)| {
                Ok(CvFailure {
                    learnings: learnings
                        .iter()
                        .filter(|(loop_id, _)| *loop_id == id)
                        .map(|(_, statement)| statement.clone())
                        .collect(),
                    loop_id: id,
                    team_name: team,
                    title,
                    noticed_on: day_of(from_unix(noticed)?),
                })
            })
            .collect()
    }

    async fn cv_experiments(&self, user: UserId) -> StoreResult<Vec<CvExperiment>> {
        let rows: Vec<(String, String, String, String, Option<String>, i64)> = sqlx::query_as(
            "SELECT e.id, t.name, e.title, e.outcome, e.learned, e.concluded_at \
             FROM experiments e JOIN teams t ON t.id = e.team_id \
             WHERE e.created_by = $1 AND e.status = 'concluded' \
             AND e.outcome IS NOT NULL AND e.concluded_at IS NOT NULL \
             ORDER BY e.concluded_at DESC, e.id",
        )
        .bind(user.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|(id, team, title, outcome, learned, concluded)| {
                Ok(CvExperiment {
                    experiment_id: id,
                    team_name: team,
                    title,
                    outcome: Outcome::parse(&outcome)
                        .map_err(|_| StoreError::Corrupt(format!("outcome {outcome}")))?,
                    learned: learned.unwrap_or_default(),
                    concluded_on: day_of(from_unix(concluded)?),
                })
            })
            .collect()
    }

    async fn cv_published_on(&self, user: UserId) -> StoreResult<Option<OffsetDateTime>> {
        let on: Option<i64> =
            sqlx::query_scalar("SELECT published_on FROM cv_publications WHERE user_id = $1")
                .bind(user.to_string())
                .fetch_optional(self.reader())
                .await
                .map_err(err)?;
        from_unix_opt(on)
    }

    async fn set_cv_published(&self, user: UserId, on: Option<OffsetDateTime>) -> StoreResult<()> {
        match on {
            Some(day) => sqlx::query(
                "INSERT INTO cv_publications (user_id, published_on) VALUES ($1, $2) \
                 ON CONFLICT (user_id) DO NOTHING",
            )
            .bind(user.to_string())
            .bind(unix(day))
            .execute(self.writer())
            .await
            .map_err(err)?,
            None => sqlx::query("DELETE FROM cv_publications WHERE user_id = $1")
                .bind(user.to_string())
                .execute(self.writer())
                .await
                .map_err(err)?,
        };
        Ok(())
    }

    async fn success_settings(&self, team: TeamId) -> StoreResult<Option<SuccessSettings>> {
        let row: Option<(i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT quarters, quiet_weeks, basic_weeks, basic_min_loops \
             FROM team_success_settings WHERE team_id = $1",
        )
        .bind(team.to_string())
        .fetch_optional(self.reader())
        .await
        .map_err(err)?;
        row.map(|(q, w, b, m)| {
            SuccessSettings::parse(q, w, b, m)
                .map_err(|_| StoreError::Corrupt("team_success_settings".into()))
        })
        .transpose()
    }

    async fn set_success_settings(&self, team: TeamId, s: &SuccessSettings) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO team_success_settings (team_id, quarters, quiet_weeks, basic_weeks, basic_min_loops) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (team_id) DO UPDATE SET \
             quarters = excluded.quarters, quiet_weeks = excluded.quiet_weeks, \
             basic_weeks = excluded.basic_weeks, basic_min_loops = excluded.basic_min_loops",
        )
        .bind(team.to_string())
        .bind(i64::from(s.quarters))
        .bind(i64::from(s.quiet_weeks))
        .bind(i64::from(s.basic_weeks))
        .bind(i64::from(s.basic_min_loops))
        .execute(self.writer())
        .await
        .map_err(err)?;
        Ok(())
    }

    async fn success_counts(
        &self,
        team: TeamId,
        w: &Windows,
        now: OffsetDateTime,
    ) -> StoreResult<SuccessCounts> {
        let (concluded, validated, failures_quiet, shipped_experiments, shipped_actions, loops_basic, basic): (
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
        ) = sqlx::query_as(
            "SELECT \
             (SELECT COUNT(*) FROM experiments WHERE team_id = $1 AND status = 'concluded' \
                AND concluded_at >= $2 AND concluded_at <= $5), \
             (SELECT COUNT(*) FROM experiments WHERE team_id = $1 AND status = 'concluded' \
                AND outcome = 'validated' AND concluded_at >= $2 AND concluded_at <= $5), \
             (SELECT COUNT(*) FROM loops WHERE team_id = $1 AND created_at >= $3 AND created_at <= $5), \
             (SELECT COUNT(*) FROM experiments WHERE team_id = $1 AND status = 'concluded' \
                AND concluded_at >= $3 AND concluded_at <= $5), \
             (SELECT COUNT(*) FROM action_items WHERE team_id = $1 AND status = 'done' \
                AND closed_at >= $3 AND closed_at <= $5), \
             (SELECT COUNT(*) FROM loops WHERE team_id = $1 AND created_at >= $4 AND created_at <= $5), \
             (SELECT COUNT(*) FROM loops WHERE team_id = $1 AND created_at >= $4 AND created_at <= $5 \
                AND COALESCE(override_type, suggested_type) = 'basic')",
        )
        .bind(team.to_string())
        .bind(unix(w.experiments_since))
        .bind(unix(w.quiet_since))
        .bind(unix(w.basic_since))
        .bind(unix(now))
        .fetch_one(self.reader())
        .await
        .map_err(err)?;
        Ok(SuccessCounts {
            concluded,
            validated,
            failures_quiet,
            shipped_quiet: shipped_experiments + shipped_actions,
            loops_basic,
            basic,
        })
    }
}
