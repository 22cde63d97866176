//! The learning loop: statements that read the same on SQLite and PostgreSQL, compiled once per
//! backend (see `portable_people.rs` for the arrangement).

use async_trait::async_trait;
use time::OffsetDateTime;

use super::ThisStore;
use crate::domain::events::Event;
use crate::domain::loops::{
    ActionStatus, FactorReason, FailureType, ImpactScale, LoopKind, Questionnaire, Stage,
    Suggestion, Visibility,
};
use crate::domain::records::PersonRef;
use crate::domain::{ActionId, FactorId, LoopId, RecordId, TeamId, UserId};
use crate::store::backend::BackendHooks;
use crate::store::lint::NewDismissal;
use crate::store::loops::{
    AccountRecord, ActionRecord, AdditionRecord, FactorRecord, FollowUp, LearningRecord,
    LoopCounts, LoopDraft, LoopFilter, LoopRecord, LoopSort, LoopSummary, NewAccount, NewAction,
    NewAddition, NewFactor, NewLearning, NewLoop, NewTimelineEvent, Review, StageChange,
    StageChangeRecord, TimelineEventRecord, TypeOverride,
};
use crate::store::rows::parse_id;
use crate::store::{
    from_unix, from_unix_opt, unix, AnonymousBatch, LoopStore, StoreError, StoreResult,
};

fn err(error: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(error)
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}"))
}

fn stage(raw: &str) -> StoreResult<Stage> {
    Stage::parse(raw).map_err(|_| corrupt("stage", raw))
}

fn failure_type(raw: Option<&str>) -> StoreResult<Option<FailureType>> {
    raw.map(|r| FailureType::parse(r).map_err(|_| corrupt("failure type", r)))
        .transpose()
}

const LOOP_SELECT: &str = "SELECT loops.id, loops.team_id, loops.kind, loops.title, \
    loops.what_happened, loops.what_was_expected, loops.happened_at, loops.noticed_at, \
    loops.impact_scale, loops.impact_affected, loops.author_id, author.display_name AS author_name, \
    loops.anonymous, loops.created_at, loops.stage, loops.stage_entered_at, loops.aar_intended, \
    loops.aar_actual, loops.aar_difference, loops.aar_lessons, loops.went_well, loops.went_wrong, \
    loops.got_lucky, loops.classification_answers, loops.suggestion_reasons, loops.override_type, \
    loops.override_reason, overrider.display_name AS override_by_name, loops.override_at, \
    loops.follow_up_on, loops.follow_up_recurred, loops.follow_up_held, loops.follow_up_note, \
    loops.follow_up_answered_at, answerer.display_name AS follow_up_answered_by_name, \
    loops.source_experiment_id, loops.next_experiment_id, loops.recurrence_of \
    FROM loops \
    LEFT JOIN users AS author ON author.id = loops.author_id \
    LEFT JOIN users AS overrider ON overrider.id = loops.override_by \
    LEFT JOIN users AS answerer ON answerer.id = loops.follow_up_answered_by";

#[derive(sqlx::FromRow)]
struct LoopRow {
    id: String,
    team_id: String,
    kind: String,
    title: String,
    what_happened: String,
    what_was_expected: String,
    happened_at: Option<i64>,
    noticed_at: i64,
    impact_scale: String,
    impact_affected: String,
    author_id: Option<String>,
    author_name: Option<String>,
    anonymous: bool,
    created_at: i64,
    stage: String,
    stage_entered_at: i64,
    aar_intended: String,
    aar_actual: String,
    aar_difference: String,
    aar_lessons: String,
    went_well: String,
    went_wrong: String,
    got_lucky: String,
    classification_answers: Option<String>,
    suggestion_reasons: Option<String>,
    override_type: Option<String>,
    override_reason: Option<String>,
    override_by_name: Option<String>,
    override_at: Option<i64>,
    follow_up_on: Option<i64>,
    follow_up_recurred: Option<bool>,
    follow_up_held: Option<bool>,
    follow_up_note: Option<String>,
    follow_up_answered_at: Option<i64>,
    follow_up_answered_by_name: Option<String>,
    source_experiment_id: Option<String>,
    next_experiment_id: Option<String>,
    recurrence_of: Option<String>,
}

impl LoopRow {
    fn into_record(self, tags: Vec<String>) -> StoreResult<LoopRecord> {
        let classification = match (&self.classification_answers, &self.suggestion_reasons) {
            (Some(answers), Some(suggestion)) => Some((
                serde_json::from_str::<Questionnaire>(answers)
                    .map_err(|_| corrupt("classification answers", answers))?,
                serde_json::from_str::<Suggestion>(suggestion)
                    .map_err(|_| corrupt("suggestion", suggestion))?,
            )),
            _ => None,
        };
        let type_override = match (&self.override_type, self.override_at) {
            (Some(kind), Some(at)) => Some(TypeOverride {
                kind: FailureType::parse(kind).map_err(|_| corrupt("override type", kind))?,
                reason: self.override_reason.clone().unwrap_or_default(),
                by_name: self.override_by_name.clone(),
                at: from_unix(at)?,
            }),
            _ => None,
        };
        let author = match (self.author_id, self.author_name) {
            (Some(id), Some(name)) => Some(PersonRef::new(parse_id::<UserId>(&id)?, name)),
            _ => None,
        };
        Ok(LoopRecord {
            id: parse_id::<LoopId>(&self.id)?,
            team_id: parse_id::<TeamId>(&self.team_id)?,
            kind: LoopKind::parse(&self.kind).map_err(|_| corrupt("kind", &self.kind))?,
            title: self.title,
            what_happened: self.what_happened,
            what_was_expected: self.what_was_expected,
            happened_at: from_unix_opt(self.happened_at)?,
            noticed_at: from_unix(self.noticed_at)?,
            impact_scale: ImpactScale::parse(&self.impact_scale)
                .map_err(|_| corrupt("impact scale", &self.impact_scale))?,
            impact_affected: self.impact_affected,
            author,
            anonymous: self.anonymous,
            created_at: from_unix(self.created_at)?,
            stage: stage(&self.stage)?,
            stage_entered_at: from_unix(self.stage_entered_at)?,
            review: Review {
                aar_intended: self.aar_intended,
                aar_actual: self.aar_actual,
                aar_difference: self.aar_difference,
                aar_lessons: self.aar_lessons,
                went_well: self.went_well,
                went_wrong: self.went_wrong,
                got_lucky: self.got_lucky,
            },
            classification,
            type_override,
            follow_up: FollowUp {
                on: from_unix_opt(self.follow_up_on)?,
                recurred: self.follow_up_recurred,
                held: self.follow_up_held,
                note: self.follow_up_note,
                answered_at: from_unix_opt(self.follow_up_answered_at)?,
                answered_by_name: self.follow_up_answered_by_name,
            },
            source_experiment_id: self.source_experiment_id,
            next_experiment_id: self.next_experiment_id,
            tags,
            recurrence_of: self
                .recurrence_of
                .as_deref()
                .map(parse_id::<LoopId>)
                .transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: String,
    kind: String,
    title: String,
    stage: String,
    stage_entered_at: i64,
    created_at: i64,
    noticed_at: i64,
    happened_at: Option<i64>,
    anonymous: bool,
    author_name: Option<String>,
    failure_type: Option<String>,
    open_actions: i64,
    overdue_actions: i64,
}

#[derive(sqlx::FromRow)]
struct ActionRow {
    id: String,
    loop_id: String,
    loop_title: String,
    title: String,
    owner_id: Option<String>,
    owner_name: Option<String>,
    due_on: Option<i64>,
    status: String,
    dropped_reason: String,
    created_at: i64,
    closed_at: Option<i64>,
}

impl TryFrom<ActionRow> for ActionRecord {
    type Error = StoreError;
    fn try_from(row: ActionRow) -> StoreResult<ActionRecord> {
        let owner = match (row.owner_id, row.owner_name) {
            (Some(id), Some(name)) => Some(PersonRef::new(parse_id::<UserId>(&id)?, name)),
            _ => None,
        };
        Ok(ActionRecord {
            id: parse_id::<ActionId>(&row.id)?,
            loop_id: parse_id::<LoopId>(&row.loop_id)?,
            loop_title: row.loop_title,
            title: row.title,
            owner,
            due_on: from_unix_opt(row.due_on)?,
            status: ActionStatus::parse(&row.status).map_err(|_| corrupt("status", &row.status))?,
            dropped_reason: row.dropped_reason,
            created_at: from_unix(row.created_at)?,
            closed_at: from_unix_opt(row.closed_at)?,
        })
    }
}

const ACTION_SELECT: &str = "SELECT action_items.id, action_items.loop_id, loops.title AS loop_title, \
    action_items.title, action_items.owner_id, owner.display_name AS owner_name, action_items.due_on, \
    action_items.status, action_items.dropped_reason, action_items.created_at, action_items.closed_at \
    FROM action_items JOIN loops ON loops.id = action_items.loop_id \
    LEFT JOIN users AS owner ON owner.id = action_items.owner_id";

impl ThisStore {
    async fn tags_of(&self, id: &str) -> StoreResult<Vec<String>> {
        sqlx::query_scalar("SELECT tag FROM loop_tags WHERE loop_id = $1 ORDER BY tag")
            .bind(id)
            .fetch_all(self.reader())
            .await
            .map_err(err)
    }

    async fn tags_of_many(&self, ids: &[String]) -> StoreResult<Vec<(String, String)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = sqlx::QueryBuilder::<super::Db>::new(
            "SELECT loop_id, tag FROM loop_tags WHERE loop_id IN (",
        );
        let mut separated = query.separated(", ");
        for id in ids {
            separated.push_bind(id.clone());
        }
        query.push(") ORDER BY tag");
        query
            .build_query_as::<(String, String)>()
            .fetch_all(self.reader())
            .await
            .map_err(err)
    }

    async fn one_loop(&self, clause: &str, binds: &[&str]) -> StoreResult<Option<LoopRecord>> {
        let sql = format!("{LOOP_SELECT} WHERE {clause}");
        let mut query = sqlx::query_as::<_, LoopRow>(&sql);
        for value in binds {
            query = query.bind(*value);
        }
        let Some(row) = query.fetch_optional(self.reader()).await.map_err(err)? else {
            return Ok(None);
        };
        let tags = self.tags_of(&row.id).await?;
        row.into_record(tags).map(Some)
    }

    async fn update_loop(
        &self,
        id: LoopId,
        sql: &str,
        binds: Vec<Option<String>>,
    ) -> StoreResult<()> {
        let mut query = sqlx::query(sql);
        for value in binds {
            query = query.bind(value);
        }
        let changed = query
            .bind(id.to_string())
            .execute(self.writer())
            .await
            .map_err(err)?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

/// Writes new loops, their tags and their first history entries with one statement per table
/// (SQLite's group commit of captures writes many at once, see `sqlite.rs`). All or nothing.
pub(super) async fn insert_loops(
    tx: &mut sqlx::Transaction<'_, super::Db>,
    loops: &[&NewLoop],
) -> StoreResult<()> {
    if loops.is_empty() {
        return Ok(());
    }
    let mut insert = sqlx::QueryBuilder::<super::Db>::new("");
    push_loop_rows(&mut insert, loops)?;
    insert.build().execute(&mut **tx).await.map_err(err)?;
    let mut insert = sqlx::QueryBuilder::<super::Db>::new("");
    if push_loop_tags(&mut insert, loops) {
        insert.build().execute(&mut **tx).await.map_err(err)?;
    }
    let mut insert = sqlx::QueryBuilder::<super::Db>::new("");
    push_loop_histories(&mut insert, loops);
    insert.build().execute(&mut **tx).await.map_err(err)?;
    let mut insert = sqlx::QueryBuilder::<super::Db>::new("");
    if super::portable_events::push_events(&mut insert, loop_events(loops)) {
        insert.build().execute(&mut **tx).await.map_err(err)?;
    }
    Ok(())
}

/// The events that travel with `loops` (their `loop.logged`), written in the loops' transaction.
pub(super) fn loop_events<'a>(
    loops: &'a [&NewLoop],
) -> impl Iterator<Item = &'a crate::domain::events::Event> {
    loops.iter().flat_map(|new| new.events.iter())
}

/// `INSERT INTO loops …` for `loops` (not empty).
pub(super) fn push_loop_rows(
    insert: &mut sqlx::QueryBuilder<'_, super::Db>,
    loops: &[&NewLoop],
) -> StoreResult<()> {
    let mut rows = Vec::with_capacity(loops.len());
    for new in loops {
        let (answers, suggestion, suggested) = match &new.classification {
            Some((answers, suggestion)) => (
                Some(
                    serde_json::to_string(answers)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                ),
                Some(
                    serde_json::to_string(suggestion)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                ),
                suggestion.kind.map(|k| k.as_str()),
            ),
            None => (None, None, None),
        };
        rows.push((*new, answers, suggestion, suggested));
    }
    insert.push(
        "INSERT INTO loops (seq, id, team_id, kind, title, what_happened, what_was_expected, \
         happened_at, noticed_at, impact_scale, impact_affected, author_id, anonymous, \
         reporter_secret_hash, created_at, stage, stage_entered_at, source_experiment_id, \
         classification_answers, suggestion_reasons, suggested_type, recurrence_of) ",
    );
    insert.push_values(rows, |mut row, (new, answers, suggestion, suggested)| {
        row.push_bind(new.seq)
            .push_bind(new.id.to_string())
            .push_bind(new.team_id.to_string())
            .push_bind(new.kind.as_str())
            .push_bind(new.title.clone())
            .push_bind(new.what_happened.clone())
            .push_bind(new.what_was_expected.clone())
            .push_bind(new.happened_at.map(unix))
            .push_bind(unix(new.noticed_at))
            .push_bind(new.impact_scale.as_str())
            .push_bind(new.impact_affected.clone())
            .push_bind(new.author.map(|a| a.to_string()))
            .push_bind(new.author.is_none())
            .push_bind(new.reporter_secret_hash.clone())
            .push_bind(unix(new.created_at))
            .push_bind(new.stage.as_str())
            .push_bind(unix(new.created_at))
            .push_bind(new.source_experiment_id.clone())
            .push_bind(answers)
            .push_bind(suggestion)
            .push_bind(suggested)
            .push_bind(new.recurrence_of.map(|id| id.to_string()));
    });
    Ok(())
}

/// `INSERT INTO loop_tags …` for `loops`; false (and nothing pushed) when none has a tag.
pub(super) fn push_loop_tags(
    insert: &mut sqlx::QueryBuilder<'_, super::Db>,
    loops: &[&NewLoop],
) -> bool {
    let tags: Vec<(String, String)> = loops
        .iter()
        .flat_map(|new| new.tags.iter().map(|tag| (new.id.to_string(), tag.clone())))
        .collect();
    if tags.is_empty() {
        return false;
    }
    insert.push("INSERT INTO loop_tags (loop_id, tag) ");
    insert.push_values(tags, |mut row, (id, tag)| {
        row.push_bind(id).push_bind(tag);
    });
    true
}

/// `INSERT INTO loop_stage_changes …`: the first history entry of each of `loops` (not empty).
pub(super) fn push_loop_histories(
    insert: &mut sqlx::QueryBuilder<'_, super::Db>,
    loops: &[&NewLoop],
) {
    insert.push(
        "INSERT INTO loop_stage_changes (id, loop_id, from_stage, to_stage, position, changed_at, \
         changed_by, note) ",
    );
    insert.push_values(loops, |mut row, new| {
        row.push_bind(RecordId::random().to_string())
            .push_bind(new.id.to_string())
            .push_bind(None::<String>)
            .push_bind(new.stage.as_str())
            .push_bind(0_i64)
            .push_bind(unix(new.created_at))
            .push_bind(new.author.map(|a| a.to_string()))
            .push_bind("");
    });
}

/// Writes an addition inside the caller's transaction.
async fn loop_exists(tx: &mut sqlx::Transaction<'_, super::Db>, id: LoopId) -> StoreResult<bool> {
    sqlx::query_scalar::<_, String>("SELECT id FROM loops WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await
        .map(|found| found.is_some())
        .map_err(err)
}

async fn insert_account(
    tx: &mut sqlx::Transaction<'_, super::Db>,
    account: &NewAccount,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO participant_accounts (id, loop_id, author_id, anonymous, actions, \
         observations, expectations, assumptions, timeline_understanding, added_on) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(account.id.to_string())
    .bind(account.loop_id.to_string())
    .bind(account.author.map(|a| a.to_string()))
    .bind(account.author.is_none())
    .bind(&account.actions)
    .bind(&account.observations)
    .bind(&account.expectations)
    .bind(&account.assumptions)
    .bind(&account.timeline_understanding)
    .bind(unix(account.added_on))
    .execute(&mut **tx)
    .await
    .map_err(err)?;
    Ok(())
}

async fn insert_addition(
    tx: &mut sqlx::Transaction<'_, super::Db>,
    addition: &NewAddition,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO loop_additions (id, loop_id, body, added_on, author_id, by_reporter) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(addition.id.to_string())
    .bind(addition.loop_id.to_string())
    .bind(&addition.body)
    .bind(unix(addition.added_on))
    .bind(addition.author.map(|a| a.to_string()))
    .bind(addition.by_reporter)
    .execute(&mut **tx)
    .await
    .map_err(err)?;
    Ok(())
}

/// Writes a new loop, its tags and its first history entry inside the caller's transaction (also
/// used when a concluded experiment opens a loop).
pub(super) async fn insert_loop(
    tx: &mut sqlx::Transaction<'_, super::Db>,
    new: &LoopDraft,
) -> StoreResult<()> {
    insert_loops(tx, &[&NewLoop::number(new)]).await
}

/// Writes a contributing factor inside the caller's transaction.
pub(super) async fn insert_factor(
    tx: &mut sqlx::Transaction<'static, super::Db>,
    factor: &NewFactor,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO contributing_factors (id, loop_id, reason, description, added_by, added_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(factor.id.to_string())
    .bind(factor.loop_id.to_string())
    .bind(factor.reason.as_str())
    .bind(&factor.description)
    .bind(factor.added_by.to_string())
    .bind(unix(factor.added_at))
    .execute(&mut **tx)
    .await
    .map_err(err)?;
    Ok(())
}

#[async_trait]
impl LoopStore for ThisStore {
    async fn loop_logging(
        &self,
        team: TeamId,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> StoreResult<Vec<crate::store::loops::LoopLogging>> {
        // The role is read only for named loops: an anonymous loop has no author to join.
        let rows: Vec<(bool, Option<String>, i64, i64, Option<i64>)> = sqlx::query_as(
            "SELECT l.anonymous, m.role, l.created_at, l.noticed_at, l.happened_at \
             FROM loops l LEFT JOIN memberships m \
               ON NOT l.anonymous AND m.team_id = l.team_id AND m.user_id = l.author_id \
             WHERE l.team_id = $1 AND l.kind = 'failure' AND l.created_at >= $2 AND l.created_at < $3",
        )
        .bind(team.to_string())
        .bind(unix(from))
        .bind(unix(to))
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|(anonymous, role, created, noticed, happened)| {
                Ok(crate::store::loops::LoopLogging {
                    anonymous,
                    author_is_lead: role.map(|r| r == "lead"),
                    created_at: from_unix(created)?,
                    noticed_at: from_unix(noticed)?,
                    happened_at: from_unix_opt(happened)?,
                })
            })
            .collect()
    }

    async fn create_loop(&self, new: &LoopDraft) -> StoreResult<()> {
        self.write_new_loop(&NewLoop::number(new)).await
    }

    async fn loop_by_id(&self, team: TeamId, id: LoopId) -> StoreResult<Option<LoopRecord>> {
        self.one_loop(
            "loops.id = $1 AND loops.team_id = $2",
            &[&id.to_string(), &team.to_string()],
        )
        .await
    }

    async fn loop_by_reporter_secret(&self, hash: &str) -> StoreResult<Option<LoopRecord>> {
        self.one_loop("loops.reporter_secret_hash = $1", &[hash])
            .await
    }

    async fn delete_loop(&self, team: TeamId, id: LoopId) -> StoreResult<()> {
        let changed = sqlx::query("DELETE FROM loops WHERE id = $1 AND team_id = $2")
            .bind(id.to_string())
            .bind(team.to_string())
            .execute(self.writer())
            .await
            .map_err(err)?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn list_loops(
        &self,
        team: TeamId,
        filter: &LoopFilter,
        today: OffsetDateTime,
    ) -> StoreResult<(Vec<LoopSummary>, i64)> {
        fn push_filters(
            query: &mut sqlx::QueryBuilder<'_, super::Db>,
            team: TeamId,
            filter: &LoopFilter,
        ) {
            query.push(" WHERE loops.team_id = ");
            query.push_bind(team.to_string());
            if let Some(stage) = filter.stage {
                query.push(" AND loops.stage = ");
                query.push_bind(stage.as_str());
            }
            if let Some(kind) = filter.kind {
                query.push(" AND loops.kind = ");
                query.push_bind(kind.as_str());
            }
            if let Some(kind) = filter.failure_type {
                query.push(" AND COALESCE(loops.override_type, loops.suggested_type) = ");
                query.push_bind(kind.as_str());
            }
            if let Some(tag) = &filter.tag {
                query.push(" AND EXISTS (SELECT 1 FROM loop_tags WHERE loop_tags.loop_id = loops.id AND loop_tags.tag = ");
                query.push_bind(tag.clone());
                query.push(")");
            }
            if let Some(from) = filter.created_from {
                query.push(" AND loops.created_at >= ");
                query.push_bind(unix(from));
            }
            if let Some(until) = filter.created_until {
                query.push(" AND loops.created_at < ");
                query.push_bind(unix(until));
            }
            if let Some(before) = filter.in_stage_before {
                query.push(" AND loops.stage_entered_at < ");
                query.push_bind(unix(before));
            }
            if let Some(author) = filter.author {
                query.push(" AND loops.author_id = ");
                query.push_bind(author.to_string());
            }
        }
        let mut count = sqlx::QueryBuilder::<super::Db>::new("SELECT COUNT(*) FROM loops");
        push_filters(&mut count, team, filter);
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(self.reader())
            .await
            .map_err(err)?;

        let mut query = sqlx::QueryBuilder::<super::Db>::new(
            "SELECT loops.id, loops.kind, loops.title, loops.stage, loops.stage_entered_at, \
             loops.created_at, loops.noticed_at, loops.happened_at, loops.anonymous, \
             author.display_name AS author_name, \
             COALESCE(loops.override_type, loops.suggested_type) AS failure_type, \
             (SELECT COUNT(*) FROM action_items a WHERE a.loop_id = loops.id AND a.status = 'open') AS open_actions, \
             (SELECT COUNT(*) FROM action_items a WHERE a.loop_id = loops.id AND a.status = 'open' AND a.due_on < ",
        );
        query.push_bind(unix(today));
        query.push(") AS overdue_actions FROM loops LEFT JOIN users AS author ON author.id = loops.author_id");
        push_filters(&mut query, team, filter);
        // Ties are broken by the random id, never by insertion order.
        query.push(match filter.sort {
            LoopSort::Newest => " ORDER BY loops.created_at DESC, loops.id",
            LoopSort::Oldest => " ORDER BY loops.created_at ASC, loops.id",
            LoopSort::LongestInStage => " ORDER BY loops.stage_entered_at ASC, loops.id",
            LoopSort::Title => " ORDER BY loops.title, loops.id",
        });
        query.push(" LIMIT ");
        query.push_bind(filter.limit.clamp(1, 500));
        query.push(" OFFSET ");
        query.push_bind(filter.offset.max(0));
        let rows: Vec<SummaryRow> = query
            .build_query_as()
            .fetch_all(self.reader())
            .await
            .map_err(err)?;
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let tags = self.tags_of_many(&ids).await?;
        let summaries = rows
            .into_iter()
            .map(|row| {
                Ok(LoopSummary {
                    id: parse_id::<LoopId>(&row.id)?,
                    kind: LoopKind::parse(&row.kind).map_err(|_| corrupt("kind", &row.kind))?,
                    title: row.title,
                    stage: stage(&row.stage)?,
                    stage_entered_at: from_unix(row.stage_entered_at)?,
                    created_at: from_unix(row.created_at)?,
                    noticed_at: from_unix(row.noticed_at)?,
                    happened_at: from_unix_opt(row.happened_at)?,
                    anonymous: row.anonymous,
                    author_name: row.author_name,
                    failure_type: failure_type(row.failure_type.as_deref())?,
                    tags: tags
                        .iter()
                        .filter(|(loop_id, _)| *loop_id == row.id)
                        .map(|(_, tag)| tag.clone())
                        .collect(),
                    open_actions: row.open_actions,
                    overdue_actions: row.overdue_actions,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((summaries, total))
    }

    async fn loop_counts(&self, id: LoopId) -> StoreResult<LoopCounts> {
        let (factors, learnings, actions): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM contributing_factors WHERE loop_id = $1), \
             (SELECT COUNT(*) FROM learnings WHERE loop_id = $1), \
             (SELECT COUNT(*) FROM action_items WHERE loop_id = $1)",
        )
        .bind(id.to_string())
        .fetch_one(self.reader())
        .await
        .map_err(err)?;
        Ok(LoopCounts {
            factors,
            learnings,
            actions,
        })
    }

    async fn change_stage(&self, change: &StageChange, events: &[Event]) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        let moved = sqlx::query(
            "UPDATE loops SET stage = $1, stage_entered_at = $2 WHERE id = $3 AND stage = $4",
        )
        .bind(change.to.as_str())
        .bind(unix(change.at))
        .bind(change.loop_id.to_string())
        .bind(change.from.as_str())
        .execute(&mut *tx)
        .await
        .map_err(err)?
        .rows_affected();
        if moved == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "INSERT INTO loop_stage_changes (id, loop_id, from_stage, to_stage, position, changed_at, changed_by, note) \
             VALUES ($1, $2, $3, $4, \
             (SELECT COALESCE(MAX(position), 0) + 1 FROM loop_stage_changes WHERE loop_id = $2), $5, $6, $7)",
        )
        .bind(change.id.to_string())
        .bind(change.loop_id.to_string())
        .bind(change.from.as_str())
        .bind(change.to.as_str())
        .bind(unix(change.at))
        .bind(change.by.map(|b| b.to_string()))
        .bind(&change.note)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        super::portable_events::insert_events(&mut tx, events).await?;
        tx.commit().await.map_err(err)
    }

    async fn stage_changes(&self, id: LoopId) -> StoreResult<Vec<StageChangeRecord>> {
        let rows: Vec<(Option<String>, String, i64, Option<String>, String)> = sqlx::query_as(
            "SELECT c.from_stage, c.to_stage, c.changed_at, u.display_name, c.note \
             FROM loop_stage_changes c LEFT JOIN users u ON u.id = c.changed_by \
             WHERE c.loop_id = $1 ORDER BY c.position",
        )
        .bind(id.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|(from, to, at, by, note)| {
                Ok(StageChangeRecord {
                    from: from.as_deref().map(stage).transpose()?,
                    to: stage(&to)?,
                    at: from_unix(at)?,
                    by_name: by,
                    note,
                })
            })
            .collect()
    }

    async fn add_addition(&self, addition: &NewAddition) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        insert_addition(&mut tx, addition).await?;
        tx.commit().await.map_err(err)
    }

    async fn additions(&self, id: LoopId) -> StoreResult<Vec<AdditionRecord>> {
        let rows: Vec<(String, String, i64, Option<String>, bool)> = sqlx::query_as(
            "SELECT a.id, a.body, a.added_on, u.display_name, a.by_reporter \
             FROM loop_additions a LEFT JOIN users u ON u.id = a.author_id \
             WHERE a.loop_id = $1 ORDER BY a.added_on, a.id",
        )
        .bind(id.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|(id, body, added_on, author_name, by_reporter)| {
                Ok(AdditionRecord {
                    id: parse_id(&id)?,
                    body,
                    added_on: from_unix(added_on)?,
                    author_name,
                    by_reporter,
                })
            })
            .collect()
    }

    async fn add_timeline_event(&self, event: &NewTimelineEvent) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO timeline_events (id, loop_id, occurred_at, description, added_by, added_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(event.id.to_string())
        .bind(event.loop_id.to_string())
        .bind(unix(event.occurred_at))
        .bind(&event.description)
        .bind(event.added_by.to_string())
        .bind(unix(event.added_at))
        .execute(self.writer())
        .await
        .map_err(err)?;
        Ok(())
    }

    async fn timeline(&self, id: LoopId) -> StoreResult<Vec<TimelineEventRecord>> {
        let rows: Vec<(String, i64, String, Option<String>)> = sqlx::query_as(
            "SELECT e.id, e.occurred_at, e.description, u.display_name \
             FROM timeline_events e LEFT JOIN users u ON u.id = e.added_by \
             WHERE e.loop_id = $1 ORDER BY e.occurred_at, e.added_at, e.id",
        )
        .bind(id.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|(id, at, description, by)| {
                Ok(TimelineEventRecord {
                    id: parse_id(&id)?,
                    occurred_at: from_unix(at)?,
                    description,
                    added_by_name: by,
                })
            })
            .collect()
    }

    async fn add_factor(&self, factor: &NewFactor) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        insert_factor(&mut tx, factor).await?;
        tx.commit().await.map_err(err)
    }

    async fn delete_factor(&self, loop_id: LoopId, factor: FactorId) -> StoreResult<bool> {
        Ok(
            sqlx::query("DELETE FROM contributing_factors WHERE id = $1 AND loop_id = $2")
                .bind(factor.to_string())
                .bind(loop_id.to_string())
                .execute(self.writer())
                .await
                .map_err(err)?
                .rows_affected()
                > 0,
        )
    }

    async fn factors(&self, id: LoopId) -> StoreResult<Vec<FactorRecord>> {
        let rows: Vec<(String, String, String, Option<String>, i64)> = sqlx::query_as(
            "SELECT f.id, f.reason, f.description, u.display_name, f.added_at \
             FROM contributing_factors f LEFT JOIN users u ON u.id = f.added_by \
             WHERE f.loop_id = $1 ORDER BY f.added_at, f.id",
        )
        .bind(id.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|(id, reason, description, by, at)| {
                Ok(FactorRecord {
                    id: parse_id(&id)?,
                    reason: FactorReason::parse(&reason).map_err(|_| corrupt("reason", &reason))?,
                    description,
                    added_by_name: by,
                    added_at: from_unix(at)?,
                })
            })
            .collect()
    }

    async fn save_review(&self, id: LoopId, review: &Review) -> StoreResult<()> {
        self.update_loop(
            id,
            "UPDATE loops SET aar_intended = $1, aar_actual = $2, aar_difference = $3, \
             aar_lessons = $4, went_well = $5, went_wrong = $6, got_lucky = $7 WHERE id = $8",
            vec![
                Some(review.aar_intended.clone()),
                Some(review.aar_actual.clone()),
                Some(review.aar_difference.clone()),
                Some(review.aar_lessons.clone()),
                Some(review.went_well.clone()),
                Some(review.went_wrong.clone()),
                Some(review.got_lucky.clone()),
            ],
        )
        .await
    }

    async fn add_account(&self, account: &NewAccount) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        insert_account(&mut tx, account).await?;
        tx.commit().await.map_err(err)
    }

    async fn accounts(&self, id: LoopId) -> StoreResult<Vec<AccountRecord>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            id: String,
            display_name: Option<String>,
            anonymous: bool,
            actions: String,
            observations: String,
            expectations: String,
            assumptions: String,
            timeline_understanding: String,
            added_on: i64,
        }
        // Anonymous accounts are ordered by their random id within a day, never by insertion.
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT a.id, u.display_name, a.anonymous, a.actions, a.observations, a.expectations, \
             a.assumptions, a.timeline_understanding, a.added_on \
             FROM participant_accounts a LEFT JOIN users u ON u.id = a.author_id \
             WHERE a.loop_id = $1 ORDER BY a.added_on, a.id",
        )
        .bind(id.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|r| {
                Ok(AccountRecord {
                    id: parse_id(&r.id)?,
                    author_name: r.display_name,
                    anonymous: r.anonymous,
                    actions: r.actions,
                    observations: r.observations,
                    expectations: r.expectations,
                    assumptions: r.assumptions,
                    timeline_understanding: r.timeline_understanding,
                    added_on: from_unix(r.added_on)?,
                })
            })
            .collect()
    }

    async fn save_classification(
        &self,
        id: LoopId,
        answers: &Questionnaire,
        suggestion: &Suggestion,
        events: &[Event],
    ) -> StoreResult<()> {
        let answers =
            serde_json::to_string(answers).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let reasons =
            serde_json::to_string(suggestion).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.begin_write().await.map_err(err)?;
        let changed = sqlx::query(
            "UPDATE loops SET classification_answers = $1, suggestion_reasons = $2, suggested_type = $3 WHERE id = $4",
        )
        .bind(answers)
        .bind(reasons)
        .bind(suggestion.kind.map(|k| k.as_str()))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(err)?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        super::portable_events::insert_events(&mut tx, events).await?;
        tx.commit().await.map_err(err)
    }

    async fn save_override(
        &self,
        id: LoopId,
        chosen: Option<(FailureType, &str)>,
        by: UserId,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        let changed = sqlx::query(
            "UPDATE loops SET override_type = $1, override_reason = $2, override_by = $3, override_at = $4 WHERE id = $5",
        )
        .bind(chosen.map(|(kind, _)| kind.as_str()))
        .bind(chosen.map(|(_, reason)| reason))
        .bind(chosen.map(|_| by.to_string()))
        .bind(chosen.map(|_| unix(at)))
        .bind(id.to_string())
        .execute(self.writer())
        .await
        .map_err(err)?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn add_learning(&self, learning: &NewLearning, events: &[Event]) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        sqlx::query(
            "INSERT INTO learnings (id, loop_id, team_id, statement, visibility, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(learning.id.to_string())
        .bind(learning.loop_id.to_string())
        .bind(learning.team_id.to_string())
        .bind(&learning.statement)
        .bind(learning.visibility.as_str())
        .bind(learning.created_by.to_string())
        .bind(unix(learning.created_at))
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        super::portable_events::insert_events(&mut tx, events).await?;
        tx.commit().await.map_err(err)
    }

    async fn learnings_of_loop(&self, id: LoopId) -> StoreResult<Vec<LearningRecord>> {
        let rows: Vec<(String, String, String, String, Option<String>, i64)> = sqlx::query_as(
            "SELECT l.id, l.loop_id, l.statement, l.visibility, u.display_name, l.created_at \
             FROM learnings l LEFT JOIN users u ON u.id = l.created_by \
             WHERE l.loop_id = $1 ORDER BY l.created_at, l.id",
        )
        .bind(id.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|(id, loop_id, statement, visibility, by, at)| {
                Ok(LearningRecord {
                    id: parse_id(&id)?,
                    loop_id: parse_id(&loop_id)?,
                    statement,
                    visibility: Visibility::parse(&visibility)
                        .map_err(|_| corrupt("visibility", &visibility))?,
                    created_by_name: by,
                    created_at: from_unix(at)?,
                })
            })
            .collect()
    }

    async fn add_action(&self, action: &NewAction, events: &[Event]) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        sqlx::query(
            "INSERT INTO action_items (id, loop_id, team_id, title, owner_id, due_on, status, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8)",
        )
        .bind(action.id.to_string())
        .bind(action.loop_id.to_string())
        .bind(action.team_id.to_string())
        .bind(&action.title)
        .bind(action.owner.map(|o| o.to_string()))
        .bind(action.due_on.map(unix))
        .bind(action.created_by.to_string())
        .bind(unix(action.created_at))
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        super::portable_events::insert_events(&mut tx, events).await?;
        tx.commit().await.map_err(err)
    }

    async fn actions_of_loop(&self, id: LoopId) -> StoreResult<Vec<ActionRecord>> {
        sqlx::query_as::<_, ActionRow>(&format!(
            "{ACTION_SELECT} WHERE action_items.loop_id = $1 \
             ORDER BY action_items.status, action_items.due_on IS NULL, action_items.due_on, action_items.created_at, action_items.id"
        ))
        .bind(id.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?
        .into_iter()
        .map(ActionRecord::try_from)
        .collect()
    }

    async fn team_actions(
        &self,
        team: TeamId,
        status: Option<ActionStatus>,
    ) -> StoreResult<Vec<ActionRecord>> {
        sqlx::query_as::<_, ActionRow>(&format!(
            "{ACTION_SELECT} WHERE action_items.team_id = $1 AND ($2 = '' OR action_items.status = $2) \
             ORDER BY action_items.due_on IS NULL, action_items.due_on, action_items.created_at, action_items.id"
        ))
        .bind(team.to_string())
        .bind(status.map(|s| s.as_str()).unwrap_or(""))
        .fetch_all(self.reader())
        .await
        .map_err(err)?
        .into_iter()
        .map(ActionRecord::try_from)
        .collect()
    }

    async fn action(&self, team: TeamId, id: ActionId) -> StoreResult<Option<ActionRecord>> {
        sqlx::query_as::<_, ActionRow>(&format!(
            "{ACTION_SELECT} WHERE action_items.team_id = $1 AND action_items.id = $2"
        ))
        .bind(team.to_string())
        .bind(id.to_string())
        .fetch_optional(self.reader())
        .await
        .map_err(err)?
        .map(ActionRecord::try_from)
        .transpose()
    }

    async fn set_action_status(
        &self,
        team: TeamId,
        id: ActionId,
        status: ActionStatus,
        dropped_reason: &str,
        at: OffsetDateTime,
        events: &[Event],
    ) -> StoreResult<bool> {
        let closed_at = (status != ActionStatus::Open).then(|| unix(at));
        let mut tx = self.begin_write().await.map_err(err)?;
        let changed = sqlx::query(
            "UPDATE action_items SET status = $1, dropped_reason = $2, closed_at = $3 \
             WHERE id = $4 AND team_id = $5",
        )
        .bind(status.as_str())
        .bind(dropped_reason)
        .bind(closed_at)
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

    async fn set_follow_up_date(&self, id: LoopId, on: Option<OffsetDateTime>) -> StoreResult<()> {
        let changed = sqlx::query("UPDATE loops SET follow_up_on = $1 WHERE id = $2")
            .bind(on.map(unix))
            .bind(id.to_string())
            .execute(self.writer())
            .await
            .map_err(err)?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn answer_follow_up(
        &self,
        id: LoopId,
        recurred: bool,
        held: bool,
        note: &str,
        at: OffsetDateTime,
        by: UserId,
    ) -> StoreResult<()> {
        let changed = sqlx::query(
            "UPDATE loops SET follow_up_recurred = $1, follow_up_held = $2, follow_up_note = $3, \
             follow_up_answered_at = $4, follow_up_answered_by = $5 WHERE id = $6",
        )
        .bind(recurred)
        .bind(held)
        .bind(note)
        .bind(unix(at))
        .bind(by.to_string())
        .bind(id.to_string())
        .execute(self.writer())
        .await
        .map_err(err)?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn write_anonymous_loops(&self, batch: &AnonymousBatch<'_>) -> StoreResult<()> {
        let numbered: Vec<NewLoop> = batch.loops.iter().map(NewLoop::number).collect();
        let mut loops: Vec<&NewLoop> = numbered.iter().collect();
        // The rowid (day, then 47 random bits): random order within the day, and the full-text
        // index's document order on SQLite.
        loops.sort_by_key(|new| new.seq);
        let mut additions: Vec<&NewAddition> = batch.additions.iter().collect();
        additions.sort_by_key(|addition| addition.id.to_string());
        let mut accounts: Vec<&NewAccount> = batch.accounts.iter().collect();
        accounts.sort_by_key(|account| account.id.to_string());
        let mut dismissals: Vec<&NewDismissal> = batch.dismissals.iter().collect();
        dismissals.sort_by(|a, b| {
            (&a.text_hash, &a.rule, a.start).cmp(&(&b.text_hash, &b.rule, b.start))
        });
        let mut tx = self.begin_write().await.map_err(err)?;
        insert_loops(&mut tx, &loops).await?;
        for addition in additions {
            if loop_exists(&mut tx, addition.loop_id).await? {
                insert_addition(&mut tx, addition).await?;
            }
        }
        for account in accounts {
            if loop_exists(&mut tx, account.loop_id).await? {
                insert_account(&mut tx, account).await?;
            }
        }
        for dismissal in dismissals {
            sqlx::query(
                "INSERT INTO lint_dismissals (text_hash, rule_id, start_char, reason, dismissed_by, \
                 dismissed_at) VALUES ($1, $2, $3, $4, NULL, $5) \
                 ON CONFLICT (text_hash, rule_id, start_char) DO NOTHING",
            )
            .bind(&dismissal.text_hash)
            .bind(&dismissal.rule)
            .bind(dismissal.start)
            .bind(&dismissal.reason)
            .bind(unix(dismissal.dismissed_on))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        tx.commit().await.map_err(err)
    }

    async fn set_next_experiment(&self, id: LoopId, experiment: Option<&str>) -> StoreResult<()> {
        self.update_loop(
            id,
            "UPDATE loops SET next_experiment_id = $1 WHERE id = $2",
            vec![experiment.map(str::to_owned)],
        )
        .await
    }
}
