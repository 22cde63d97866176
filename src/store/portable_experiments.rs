//! Experiments, risk budgets and pre-mortem dispositions: statements that read the same on SQLite
//! and PostgreSQL.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::portable_loops::{insert_factor, insert_loop};
use super::ThisStore;
use crate::domain::events::Event;
use crate::domain::experiments::{
    Budget, Decision, Disposition, ExperimentStatus, Loss, Outcome, ReputationScope, Reversibility,
};
use crate::domain::loops::Answer;
use crate::domain::{RecordId, TeamId, UserId};
use crate::store::backend::BackendHooks;
use crate::store::experiments::{
    AffordableLoss, Approval, BudgetRecord, Concluded, Conclusion, Criteria, DispositionRecord,
    ExperimentDesign, ExperimentRecord, LearningCard, NewConclusion, NewExperiment, OutcomeLoop,
    TestCard,
};
use crate::store::rows::parse_id;
use crate::store::{from_unix, from_unix_opt, unix, ExperimentStore, StoreError, StoreResult};

fn err(error: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(error)
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}"))
}

const EXPERIMENT_SELECT: &str = "SELECT e.id, e.team_id, e.title, e.status, e.believe, e.verify_by, \
    e.measure, e.right_if, e.new_territory, e.real_goal, e.informed, e.as_small_as_possible, e.currency, \
    e.loss_money_minor, e.loss_days_tenths, e.reversibility, e.reputation_scope, e.kill_criteria, \
    e.starts_on, e.decide_by, e.pilot_answers, e.premortem_box_id, approver.display_name AS approved_by_name, \
    e.approved_at, e.approval_note, e.started_at, e.source_loop_id, e.outcome, e.believed, e.observed, \
    e.learned, e.therefore, e.decision, e.concluded_at, concluder.display_name AS concluded_by_name, \
    e.outcome_loop_id, e.created_by, creator.display_name AS created_by_name, e.created_at \
    FROM experiments e \
    LEFT JOIN users approver ON approver.id = e.approved_by \
    LEFT JOIN users concluder ON concluder.id = e.concluded_by \
    LEFT JOIN users creator ON creator.id = e.created_by";

#[derive(sqlx::FromRow)]
struct ExperimentRow {
    id: String,
    team_id: String,
    title: String,
    status: String,
    believe: String,
    verify_by: String,
    measure: String,
    right_if: String,
    new_territory: String,
    real_goal: String,
    informed: String,
    as_small_as_possible: String,
    currency: String,
    loss_money_minor: i64,
    loss_days_tenths: i64,
    reversibility: String,
    reputation_scope: String,
    kill_criteria: String,
    starts_on: i64,
    decide_by: i64,
    pilot_answers: Option<String>,
    premortem_box_id: String,
    approved_by_name: Option<String>,
    approved_at: Option<i64>,
    approval_note: Option<String>,
    started_at: Option<i64>,
    source_loop_id: Option<String>,
    outcome: Option<String>,
    believed: Option<String>,
    observed: Option<String>,
    learned: Option<String>,
    therefore: Option<String>,
    decision: Option<String>,
    concluded_at: Option<i64>,
    concluded_by_name: Option<String>,
    outcome_loop_id: Option<String>,
    created_by: Option<String>,
    created_by_name: Option<String>,
    created_at: i64,
}

fn answer(raw: &str) -> StoreResult<Answer> {
    Answer::parse(raw).map_err(|_| corrupt("answer", raw))
}

impl TryFrom<ExperimentRow> for ExperimentRecord {
    type Error = StoreError;
    fn try_from(r: ExperimentRow) -> StoreResult<ExperimentRecord> {
        let pilot = r
            .pilot_answers
            .as_deref()
            .map(|json| {
                serde_json::from_str::<Vec<(String, bool)>>(json)
                    .map_err(|_| corrupt("pilot answers", json))
            })
            .transpose()?;
        let conclusion = match (r.outcome.as_deref(), r.decision.as_deref(), r.concluded_at) {
            (Some(outcome), Some(decision), Some(at)) => Some(Conclusion {
                outcome: Outcome::parse(outcome).map_err(|_| corrupt("outcome", outcome))?,
                card: LearningCard {
                    believed: r.believed.unwrap_or_default(),
                    observed: r.observed.unwrap_or_default(),
                    learned: r.learned.unwrap_or_default(),
                    therefore: r.therefore.unwrap_or_default(),
                },
                decision: Decision::parse(decision).map_err(|_| corrupt("decision", decision))?,
                at: from_unix(at)?,
                by_name: r.concluded_by_name,
            }),
            _ => None,
        };
        Ok(ExperimentRecord {
            id: parse_id(&r.id)?,
            team_id: parse_id(&r.team_id)?,
            status: ExperimentStatus::parse(&r.status).map_err(|_| corrupt("status", &r.status))?,
            design: ExperimentDesign {
                title: r.title,
                card: TestCard {
                    believe: r.believe,
                    verify_by: r.verify_by,
                    measure: r.measure,
                    right_if: r.right_if,
                },
                criteria: Criteria {
                    new_territory: answer(&r.new_territory)?,
                    real_goal: answer(&r.real_goal)?,
                    informed: answer(&r.informed)?,
                    as_small_as_possible: answer(&r.as_small_as_possible)?,
                },
                loss: AffordableLoss {
                    currency: r.currency,
                    loss: Loss {
                        money_minor: r.loss_money_minor,
                        days_tenths: r.loss_days_tenths,
                    },
                    reversibility: Reversibility::parse(&r.reversibility)
                        .map_err(|_| corrupt("reversibility", &r.reversibility))?,
                    reputation_scope: ReputationScope::parse(&r.reputation_scope)
                        .map_err(|_| corrupt("reputation", &r.reputation_scope))?,
                },
                kill_criteria: r.kill_criteria,
                starts_on: from_unix(r.starts_on)?,
                decide_by: from_unix(r.decide_by)?,
            },
            pilot,
            premortem_box_id: parse_id(&r.premortem_box_id)?,
            approval: match r.approved_at {
                Some(at) => Some(Approval {
                    by_name: r.approved_by_name,
                    at: from_unix(at)?,
                    note: r.approval_note.unwrap_or_default(),
                }),
                None => None,
            },
            started_at: from_unix_opt(r.started_at)?,
            source_loop_id: r.source_loop_id,
            conclusion,
            outcome_loop_id: r.outcome_loop_id,
            created_by: r.created_by.as_deref().map(parse_id).transpose()?,
            created_by_name: r.created_by_name,
            created_at: from_unix(r.created_at)?,
        })
    }
}

fn design_binds<'q>(
    query: sqlx::query::Query<'q, super::Db, <super::Db as sqlx::Database>::Arguments<'q>>,
    d: &'q ExperimentDesign,
) -> sqlx::query::Query<'q, super::Db, <super::Db as sqlx::Database>::Arguments<'q>> {
    query
        .bind(&d.title)
        .bind(&d.card.believe)
        .bind(&d.card.verify_by)
        .bind(&d.card.measure)
        .bind(&d.card.right_if)
        .bind(d.criteria.new_territory.as_str())
        .bind(d.criteria.real_goal.as_str())
        .bind(d.criteria.informed.as_str())
        .bind(d.criteria.as_small_as_possible.as_str())
        .bind(&d.loss.currency)
        .bind(d.loss.loss.money_minor)
        .bind(d.loss.loss.days_tenths)
        .bind(d.loss.reversibility.as_str())
        .bind(d.loss.reputation_scope.as_str())
        .bind(&d.kill_criteria)
        .bind(unix(d.starts_on))
        .bind(unix(d.decide_by))
}

#[async_trait]
impl ExperimentStore for ThisStore {
    async fn set_budget(
        &self,
        team: TeamId,
        quarter: &str,
        budget: &Budget,
        by: UserId,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO risk_budgets (team_id, quarter, currency, money_minor, days_tenths, set_by, set_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (team_id, quarter) DO UPDATE SET \
             currency = excluded.currency, money_minor = excluded.money_minor, \
             days_tenths = excluded.days_tenths, set_by = excluded.set_by, set_at = excluded.set_at",
        )
        .bind(team.to_string())
        .bind(quarter)
        .bind(&budget.currency)
        .bind(budget.money_minor)
        .bind(budget.days_tenths)
        .bind(by.to_string())
        .bind(unix(at))
        .execute(self.writer())
        .await
        .map_err(err)?;
        Ok(())
    }

    async fn budget(&self, team: TeamId, quarter: &str) -> StoreResult<Option<BudgetRecord>> {
        Ok(self
            .budgets(team)
            .await?
            .into_iter()
            .find(|b| b.quarter == quarter))
    }

    async fn budgets(&self, team: TeamId) -> StoreResult<Vec<BudgetRecord>> {
        let rows: Vec<(String, String, i64, i64, Option<String>, i64)> = sqlx::query_as(
            "SELECT b.quarter, b.currency, b.money_minor, b.days_tenths, u.display_name, b.set_at \
             FROM risk_budgets b LEFT JOIN users u ON u.id = b.set_by WHERE b.team_id = $1 ORDER BY b.quarter DESC",
        )
        .bind(team.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|(quarter, currency, money_minor, days_tenths, by, at)| {
                Ok(BudgetRecord {
                    quarter,
                    budget: Budget {
                        currency,
                        money_minor,
                        days_tenths,
                    },
                    set_by_name: by,
                    set_at: from_unix(at)?,
                })
            })
            .collect()
    }

    async fn create_experiment(&self, new: &NewExperiment) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        sqlx::query("INSERT INTO sealed_boxes (id, purpose, created_at) VALUES ($1, $2, $3)")
            .bind(new.premortem_box_id.to_string())
            .bind(format!("premortem:{}", new.id))
            .bind(unix(new.created_at))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        let query = sqlx::query(
            "INSERT INTO experiments (title, believe, verify_by, measure, right_if, new_territory, \
             real_goal, informed, as_small_as_possible, currency, loss_money_minor, loss_days_tenths, \
             reversibility, reputation_scope, kill_criteria, starts_on, decide_by, id, team_id, status, \
             premortem_box_id, source_loop_id, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, \
             'draft', $20, $21, $22, $23)",
        );
        design_binds(query, &new.design)
            .bind(new.id.to_string())
            .bind(new.team_id.to_string())
            .bind(new.premortem_box_id.to_string())
            .bind(new.source_loop_id.as_deref())
            .bind(new.created_by.to_string())
            .bind(unix(new.created_at))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        if let Some(loop_id) = &new.source_loop_id {
            let linked = sqlx::query(
                "UPDATE loops SET next_experiment_id = $1 WHERE id = $2 AND team_id = $3",
            )
            .bind(new.id.to_string())
            .bind(loop_id)
            .bind(new.team_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(err)?
            .rows_affected();
            if linked == 0 {
                return Err(StoreError::NotFound);
            }
        }
        tx.commit().await.map_err(err)
    }

    async fn experiment(
        &self,
        team: TeamId,
        id: RecordId,
    ) -> StoreResult<Option<ExperimentRecord>> {
        sqlx::query_as::<_, ExperimentRow>(&format!(
            "{EXPERIMENT_SELECT} WHERE e.team_id = $1 AND e.id = $2"
        ))
        .bind(team.to_string())
        .bind(id.to_string())
        .fetch_optional(self.reader())
        .await
        .map_err(err)?
        .map(ExperimentRecord::try_from)
        .transpose()
    }

    async fn experiments(&self, team: TeamId) -> StoreResult<Vec<ExperimentRecord>> {
        sqlx::query_as::<_, ExperimentRow>(&format!(
            "{EXPERIMENT_SELECT} WHERE e.team_id = $1 ORDER BY e.decide_by, e.created_at, e.id"
        ))
        .bind(team.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?
        .into_iter()
        .map(ExperimentRecord::try_from)
        .collect()
    }

    async fn update_draft(
        &self,
        team: TeamId,
        id: RecordId,
        design: &ExperimentDesign,
    ) -> StoreResult<bool> {
        let query = sqlx::query(
            "UPDATE experiments SET title = $1, believe = $2, verify_by = $3, measure = $4, right_if = $5, \
             new_territory = $6, real_goal = $7, informed = $8, as_small_as_possible = $9, currency = $10, \
             loss_money_minor = $11, loss_days_tenths = $12, reversibility = $13, reputation_scope = $14, \
             kill_criteria = $15, starts_on = $16, decide_by = $17, approved_by = NULL, approved_at = NULL, \
             approval_note = NULL WHERE id = $18 AND team_id = $19 AND status = 'draft'",
        );
        Ok(design_binds(query, design)
            .bind(id.to_string())
            .bind(team.to_string())
            .execute(self.writer())
            .await
            .map_err(err)?
            .rows_affected()
            > 0)
    }

    async fn committed_loss(
        &self,
        team: TeamId,
        currency: &str,
        from: OffsetDateTime,
        until: OffsetDateTime,
        except: Option<RecordId>,
    ) -> StoreResult<Loss> {
        let (money, days): (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT CAST(SUM(CASE WHEN currency = $2 THEN loss_money_minor ELSE 0 END) AS BIGINT), \
             CAST(SUM(loss_days_tenths) AS BIGINT) FROM experiments \
             WHERE team_id = $1 AND status IN ('running', 'concluded') AND starts_on >= $3 AND starts_on < $4 AND id <> $5",
        )
        .bind(team.to_string())
        .bind(currency)
        .bind(unix(from))
        .bind(unix(until))
        .bind(except.map(|e| e.to_string()).unwrap_or_default())
        .fetch_one(self.reader())
        .await
        .map_err(err)?;
        Ok(Loss {
            money_minor: money.unwrap_or(0),
            days_tenths: days.unwrap_or(0),
        })
    }

    async fn save_pilot(
        &self,
        team: TeamId,
        id: RecordId,
        answers: &[(String, bool)],
    ) -> StoreResult<bool> {
        let json =
            serde_json::to_string(answers).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(sqlx::query(
            "UPDATE experiments SET pilot_answers = $1 WHERE id = $2 AND team_id = $3 AND status = 'draft'",
        )
        .bind(json)
        .bind(id.to_string())
        .bind(team.to_string())
        .execute(self.writer())
        .await
        .map_err(err)?
        .rows_affected()
            > 0)
    }

    async fn approve_experiment(
        &self,
        team: TeamId,
        id: RecordId,
        by: UserId,
        at: OffsetDateTime,
        note: &str,
    ) -> StoreResult<bool> {
        Ok(sqlx::query(
            "UPDATE experiments SET approved_by = $1, approved_at = $2, approval_note = $3 \
             WHERE id = $4 AND team_id = $5 AND status = 'draft'",
        )
        .bind(by.to_string())
        .bind(unix(at))
        .bind(note)
        .bind(id.to_string())
        .bind(team.to_string())
        .execute(self.writer())
        .await
        .map_err(err)?
        .rows_affected()
            > 0)
    }

    async fn start_experiment(
        &self,
        team: TeamId,
        id: RecordId,
        at: OffsetDateTime,
        events: &[Event],
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await.map_err(err)?;
        let changed = sqlx::query(
            "UPDATE experiments SET status = 'running', started_at = $1 \
             WHERE id = $2 AND team_id = $3 AND status = 'draft'",
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

    async fn cancel_experiment(&self, team: TeamId, id: RecordId) -> StoreResult<bool> {
        Ok(sqlx::query(
            "UPDATE experiments SET status = 'cancelled' WHERE id = $1 AND team_id = $2 AND status = 'draft'",
        )
        .bind(id.to_string())
        .bind(team.to_string())
        .execute(self.writer())
        .await
        .map_err(err)?
        .rows_affected()
            > 0)
    }

    async fn set_disposition(
        &self,
        experiment: RecordId,
        item: RecordId,
        kind: Disposition,
        note: &str,
        by: UserId,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO premortem_dispositions (item_id, experiment_id, kind, note, decided_by, decided_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (item_id) DO UPDATE SET kind = excluded.kind, \
             note = excluded.note, decided_by = excluded.decided_by, decided_at = excluded.decided_at",
        )
        .bind(item.to_string())
        .bind(experiment.to_string())
        .bind(kind.as_str())
        .bind(note)
        .bind(by.to_string())
        .bind(unix(at))
        .execute(self.writer())
        .await
        .map_err(err)?;
        Ok(())
    }

    async fn dispositions(&self, experiment: RecordId) -> StoreResult<Vec<DispositionRecord>> {
        let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT d.item_id, d.kind, d.note, u.display_name FROM premortem_dispositions d \
             LEFT JOIN users u ON u.id = d.decided_by WHERE d.experiment_id = $1",
        )
        .bind(experiment.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|(item, kind, note, by)| {
                Ok(DispositionRecord {
                    item_id: parse_id(&item)?,
                    kind: Disposition::parse(&kind).map_err(|_| corrupt("disposition", &kind))?,
                    note,
                    decided_by_name: by,
                })
            })
            .collect()
    }

    async fn conclude_experiment(
        &self,
        team: TeamId,
        id: RecordId,
        conclusion: &NewConclusion,
        opens: Option<&OutcomeLoop>,
        events: &[Event],
    ) -> StoreResult<Concluded> {
        let NewConclusion {
            outcome,
            card,
            decision,
            by,
            at,
        } = conclusion;
        let mut tx = self.begin_write().await.map_err(err)?;
        // The loop is written first so that the experiment can point at it; if the claim below
        // fails, rolling back removes it again.
        if let Some(opens) = opens {
            insert_loop(&mut tx, &opens.new_loop).await?;
            insert_factor(&mut tx, &opens.factor).await?;
        }
        // The conditional update is the once-only guard: a retry or a concurrent request finds the
        // experiment no longer running and writes nothing (on PostgreSQL it waits for the row lock
        // held by the first, then sees its result).
        let claimed = sqlx::query(
            "UPDATE experiments SET status = 'concluded', outcome = $1, believed = $2, observed = $3, \
             learned = $4, therefore = $5, decision = $6, concluded_at = $7, concluded_by = $8, \
             outcome_loop_id = $9 WHERE id = $10 AND team_id = $11 AND status = 'running'",
        )
        .bind(outcome.as_str())
        .bind(&card.believed)
        .bind(&card.observed)
        .bind(&card.learned)
        .bind(&card.therefore)
        .bind(decision.as_str())
        .bind(unix(*at))
        .bind(by.to_string())
        .bind(opens.map(|o| o.new_loop.id.to_string()))
        .bind(id.to_string())
        .bind(team.to_string())
        .execute(&mut *tx)
        .await
        .map_err(err)?
        .rows_affected();
        if claimed == 0 {
            let current: Option<(String, Option<String>, Option<String>)> = sqlx::query_as(
                "SELECT status, outcome, outcome_loop_id FROM experiments WHERE id = $1 AND team_id = $2",
            )
            .bind(id.to_string())
            .bind(team.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(err)?;
            return match current {
                None => Err(StoreError::NotFound),
                Some((status, Some(outcome), loop_id)) if status == "concluded" => {
                    Ok(Concluded::Already(
                        Outcome::parse(&outcome).map_err(|_| corrupt("outcome", &outcome))?,
                        loop_id,
                    ))
                }
                Some(_) => Ok(Concluded::NotRunning),
            };
        }
        super::portable_events::insert_events(&mut tx, events).await?;
        tx.commit().await.map_err(err)?;
        Ok(Concluded::Now(opens.map(|o| o.new_loop.id.to_string())))
    }
}
