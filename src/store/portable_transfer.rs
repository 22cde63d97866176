//! Imports: statements that read the same on SQLite and PostgreSQL, compiled once per backend
//! (see `portable_people.rs` for the arrangement).

use async_trait::async_trait;

use super::portable_events::insert_audit;
use super::portable_loops::insert_loop;
use super::ThisStore;
use crate::domain::RecordId;
use crate::store::audit::AuditEntry;
use crate::store::backend::BackendHooks;
use crate::store::transfer::ImportedLoop;
use crate::store::{unix, StoreError, StoreResult, TransferStore};

fn err(error: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(error)
}

async fn insert_imported(
    tx: &mut sqlx::Transaction<'static, super::Db>,
    item: &ImportedLoop,
) -> StoreResult<()> {
    insert_loop(tx, &item.new).await?;
    let id = item.new.id.to_string();
    let importer = item.importer.to_string();
    let named = |anonymous: bool| (!anonymous).then(|| importer.clone());
    sqlx::query(
        "UPDATE loops SET stage_entered_at = $1, aar_intended = $2, aar_actual = $3, \
         aar_difference = $4, aar_lessons = $5, went_well = $6, went_wrong = $7, got_lucky = $8, \
         override_type = $9, override_reason = $10, override_at = $11, follow_up_on = $12, \
         follow_up_recurred = $13, follow_up_held = $14, follow_up_note = $15, \
         follow_up_answered_at = $16, next_experiment_id = $17 WHERE id = $18",
    )
    .bind(unix(item.stage_entered_at))
    .bind(&item.review.aar_intended)
    .bind(&item.review.aar_actual)
    .bind(&item.review.aar_difference)
    .bind(&item.review.aar_lessons)
    .bind(&item.review.went_well)
    .bind(&item.review.went_wrong)
    .bind(&item.review.got_lucky)
    .bind(item.type_override.as_ref().map(|o| o.0.as_str()))
    .bind(item.type_override.as_ref().map(|o| o.1.clone()))
    .bind(item.type_override.as_ref().map(|o| unix(o.2)))
    .bind(item.follow_up.on.map(unix))
    .bind(item.follow_up.recurred)
    .bind(item.follow_up.held)
    .bind(item.follow_up.note.as_deref())
    .bind(item.follow_up.answered_at.map(unix))
    .bind(item.next_experiment_id.as_deref())
    .bind(&id)
    .execute(&mut **tx)
    .await
    .map_err(err)?;
    if !item.history.is_empty() {
        sqlx::query("DELETE FROM loop_stage_changes WHERE loop_id = $1")
            .bind(&id)
            .execute(&mut **tx)
            .await
            .map_err(err)?;
        for (position, (from, to, at, note)) in item.history.iter().enumerate() {
            sqlx::query(
                "INSERT INTO loop_stage_changes (id, loop_id, from_stage, to_stage, position, changed_at, changed_by, note) \
                 VALUES ($1, $2, $3, $4, $5, $6, NULL, $7)",
            )
            .bind(RecordId::random().to_string())
            .bind(&id)
            .bind(from.map(|s| s.as_str()))
            .bind(to.as_str())
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .bind(unix(*at))
            .bind(note)
            .execute(&mut **tx)
            .await
            .map_err(err)?;
        }
    }
    for (body, on, by_reporter) in &item.additions {
        sqlx::query(
            "INSERT INTO loop_additions (id, loop_id, body, added_on, author_id, by_reporter) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(RecordId::random().to_string())
        .bind(&id)
        .bind(body)
        .bind(unix(*on))
        .bind(named(*by_reporter || item.new.author.is_none()))
        .bind(*by_reporter)
        .execute(&mut **tx)
        .await
        .map_err(err)?;
    }
    for (at, description) in &item.timeline {
        sqlx::query(
            "INSERT INTO timeline_events (id, loop_id, occurred_at, description, added_by, added_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(RecordId::random().to_string())
        .bind(&id)
        .bind(unix(*at))
        .bind(description)
        .bind(&importer)
        .bind(unix(item.new.created_at))
        .execute(&mut **tx)
        .await
        .map_err(err)?;
    }
    for (reason, description, at) in &item.factors {
        sqlx::query(
            "INSERT INTO contributing_factors (id, loop_id, reason, description, added_by, added_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(RecordId::random().to_string())
        .bind(&id)
        .bind(reason.as_str())
        .bind(description)
        .bind(&importer)
        .bind(unix(*at))
        .execute(&mut **tx)
        .await
        .map_err(err)?;
    }
    for account in &item.accounts {
        sqlx::query(
            "INSERT INTO participant_accounts (id, loop_id, author_id, anonymous, actions, \
             observations, expectations, assumptions, timeline_understanding, added_on) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(RecordId::random().to_string())
        .bind(&id)
        .bind(named(account.anonymous))
        .bind(account.anonymous)
        .bind(&account.actions)
        .bind(&account.observations)
        .bind(&account.expectations)
        .bind(&account.assumptions)
        .bind(&account.timeline_understanding)
        .bind(unix(account.added_on))
        .execute(&mut **tx)
        .await
        .map_err(err)?;
    }
    for (statement, visibility, at) in &item.learnings {
        sqlx::query(
            "INSERT INTO learnings (id, loop_id, team_id, statement, visibility, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(RecordId::random().to_string())
        .bind(&id)
        .bind(item.new.team_id.to_string())
        .bind(statement)
        .bind(visibility.as_str())
        .bind(&importer)
        .bind(unix(*at))
        .execute(&mut **tx)
        .await
        .map_err(err)?;
    }
    for action in &item.actions {
        sqlx::query(
            "INSERT INTO action_items (id, loop_id, team_id, title, owner_id, due_on, status, \
             dropped_reason, created_by, created_at, closed_at) \
             VALUES ($1, $2, $3, $4, NULL, $5, $6, $7, $8, $9, $10)",
        )
        .bind(RecordId::random().to_string())
        .bind(&id)
        .bind(item.new.team_id.to_string())
        .bind(&action.title)
        .bind(action.due_on.map(unix))
        .bind(action.status.as_str())
        .bind(&action.dropped_reason)
        .bind(&importer)
        .bind(unix(action.created_at))
        .bind(action.closed_at.map(unix))
        .execute(&mut **tx)
        .await
        .map_err(err)?;
    }
    Ok(())
}

#[async_trait]
impl TransferStore for ThisStore {
    async fn import_loops(&self, loops: &[ImportedLoop], audit: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        for item in loops {
            insert_imported(&mut tx, item).await?;
        }
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await.map_err(err)
    }
}
