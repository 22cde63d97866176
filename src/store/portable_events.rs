//! The event outbox: statements that read the same on SQLite and PostgreSQL.
//!
//! Events are written only inside the transaction of the change they report, by the store
//! methods that make those changes: domain events ([`insert_events`], [`push_events`]), given by
//! the use cases (`service::events::Emitter`), and audit entries ([`insert_audit`]), events of
//! `audit.*` kinds that no webhook is offered. Several events of one statement are inserted in
//! the order of their ids, so that a batch (the day's anonymous release) keeps no order of
//! capture.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::ThisStore;
use crate::domain::audit::AuditEntry;
use crate::domain::events::Event;
use crate::domain::{ActionId, TeamId};
use crate::store::backend::BackendHooks;
use crate::store::events::OutboxRecord;
use crate::store::rows::parse_id;
use crate::store::{from_unix, unix, EventStore, StoreError, StoreResult};

fn err(error: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(error)
}

/// `INSERT INTO event_outbox …` for `events` in the order of their ids; false (and nothing
/// pushed) when there are none. An event whose `once_key` is stored already is skipped.
pub(super) fn push_events<'e>(
    insert: &mut sqlx::QueryBuilder<'_, super::Db>,
    events: impl IntoIterator<Item = &'e Event>,
) -> bool {
    let mut events: Vec<&Event> = events.into_iter().collect();
    if events.is_empty() {
        return false;
    }
    events.sort_by_key(|event| event.id.to_string());
    insert.push(
        "INSERT INTO event_outbox (id, kind, team_id, subject_id, actor_id, occurred_at, \
         payload, once_key, dispatched) ",
    );
    insert.push_values(events, |mut row, event| {
        row.push_bind(event.id.to_string())
            .push_bind(event.kind.as_str())
            .push_bind(event.team.to_string())
            .push_bind(event.subject.clone())
            .push_bind(event.actor.map(|actor| actor.to_string()))
            .push_bind(unix(event.occurred_at))
            .push_bind(event.stored_payload().to_string())
            .push_bind(event.once_key.clone())
            // With nobody subscribed there is nothing to queue: the event is written as
            // dispatched, so it wakes no worker and no later write marks it (a subscription
            // receives nothing from before it either way). Uncorrelated, so evaluated once
            // per statement on both databases.
            .push(UNWATCHED);
    });
    insert.push(" ON CONFLICT DO NOTHING");
    true
}

/// An event's `dispatched` as it is written: true when no subscription is enabled.
const UNWATCHED: &str = "(NOT EXISTS (SELECT 1 FROM webhook_subscriptions WHERE enabled))";

/// Writes `events` inside the caller's transaction (the change's own).
pub(super) async fn insert_events(
    tx: &mut sqlx::Transaction<'_, super::Db>,
    events: &[Event],
) -> StoreResult<()> {
    let mut insert = sqlx::QueryBuilder::<super::Db>::new("");
    if push_events(&mut insert, events) {
        insert.build().execute(&mut **tx).await.map_err(err)?;
    }
    Ok(())
}

/// Writes an audit entry as an outbox event of its `audit.*` kind, with whatever `executor` is:
/// the transaction of the change it records. No team (entries are the organisation's, so no
/// team's cascade can reach one), and written dispatched, so no webhook is ever offered it.
pub(super) async fn insert_audit<'c, E>(executor: E, entry: &AuditEntry) -> StoreResult<()>
where
    E: sqlx::Executor<'c, Database = super::Db>,
{
    sqlx::query(
        "INSERT INTO event_outbox (id, kind, team_id, subject_id, actor_id, occurred_at, \
         payload, once_key, dispatched) VALUES ($1, $2, NULL, $3, $4, $5, $6, NULL, TRUE)",
    )
    .bind(entry.id.to_string())
    .bind(entry.kind())
    .bind(&entry.target)
    .bind(entry.actor.map(|actor| actor.to_string()))
    .bind(unix(entry.occurred_at))
    .bind(entry.payload().to_string())
    .execute(executor)
    .await
    .map_err(err)?;
    Ok(())
}

type OutboxRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    String,
    bool,
);

/// The payload a subscriber receives from an outbox row's columns and its stored payload
/// (`domain::events::sent_payload`).
pub(super) fn sent_payload(
    stored: &str,
    kind: &str,
    team: Option<&str>,
    subject: &str,
    actor: Option<&str>,
) -> StoreResult<String> {
    let stored: serde_json::Value = serde_json::from_str(stored)
        .map_err(|e| StoreError::Corrupt(format!("an outbox payload: {e}")))?;
    Ok(
        crate::domain::events::sent_payload(stored, kind, team.unwrap_or_default(), subject, actor)
            .to_string(),
    )
}

fn record(row: OutboxRow) -> StoreResult<OutboxRecord> {
    let (id, kind, team, subject, actor, at, payload, dispatched) = row;
    let payload = sent_payload(&payload, &kind, Some(&team), &subject, actor.as_deref())?;
    Ok(OutboxRecord {
        id: parse_id(&id)?,
        kind,
        team_id: parse_id(&team)?,
        subject_id: subject,
        actor_id: actor.as_deref().map(parse_id).transpose()?,
        occurred_at: from_unix(at)?,
        payload,
        dispatched,
    })
}

const OUTBOX_SELECT: &str = "SELECT id, kind, team_id, subject_id, actor_id, occurred_at, \
    payload, dispatched FROM event_outbox";

#[async_trait]
impl EventStore for ThisStore {
    async fn events(&self, team: Option<TeamId>, limit: i64) -> StoreResult<Vec<OutboxRecord>> {
        let rows: Vec<OutboxRow> = match team {
            Some(team) => {
                sqlx::query_as(&format!(
                    "{OUTBOX_SELECT} WHERE team_id = $1 ORDER BY occurred_at DESC, id LIMIT $2"
                ))
                .bind(team.to_string())
                .bind(limit)
                .fetch_all(self.reader())
                .await
            }
            None => {
                sqlx::query_as(&format!(
                    "{OUTBOX_SELECT} WHERE kind NOT LIKE 'audit.%' \
                     ORDER BY occurred_at DESC, id LIMIT $1"
                ))
                .bind(limit)
                .fetch_all(self.reader())
                .await
            }
        }
        .map_err(err)?;
        rows.into_iter().map(record).collect()
    }

    async fn actions_newly_overdue(
        &self,
        today: OffsetDateTime,
        limit: i64,
    ) -> StoreResult<Vec<(TeamId, ActionId, OffsetDateTime)>> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            // The second condition is the partial index's own (migration 0049), so only the
            // actions still to raise are read; the outbox look-up is the exact rule.
            "SELECT a.team_id, a.id, a.due_on FROM action_items a \
             WHERE a.status = 'open' \
             AND (a.overdue_raised_on IS NULL OR a.overdue_raised_on <> a.due_on) \
             AND a.due_on < $1 AND NOT EXISTS ( \
               SELECT 1 FROM event_outbox o \
               WHERE o.once_key = 'action.overdue:' || a.id || ':' || CAST(a.due_on AS TEXT)) \
             ORDER BY a.due_on, a.id LIMIT $2",
        )
        .bind(unix(today))
        .bind(limit)
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|(team, id, due)| Ok((parse_id(&team)?, parse_id(&id)?, from_unix(due)?)))
            .collect()
    }

    async fn record_events(&self, events: &[Event]) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        insert_events(&mut tx, events).await?;
        // An action whose overdue event is stored leaves the sweep's index (migration 0049).
        for (action, due_on) in events
            .iter()
            .filter_map(|event| event.once_key.as_deref()?.strip_prefix("action.overdue:"))
            .filter_map(|rest| rest.rsplit_once(':'))
        {
            let Ok(due_on) = due_on.parse::<i64>() else {
                continue;
            };
            sqlx::query("UPDATE action_items SET overdue_raised_on = $1 WHERE id = $2")
                .bind(due_on)
                .bind(action)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        tx.commit().await.map_err(err)
    }
}
