//! Webhook subscriptions and deliveries: statements that read the same on SQLite and PostgreSQL.
//!
//! Work is claimed with `BackendHooks::CLAIM_LOCK` (PostgreSQL: `FOR UPDATE SKIP LOCKED`), so
//! that several instances fan out and deliver each event once; SQLite's single writer
//! serialises the claims by itself.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::portable_events::insert_audit;
use super::ThisStore;
use crate::domain::{RecordId, TeamId};
use crate::store::audit::AuditEntry;
use crate::store::backend::BackendHooks;
use crate::store::rows::parse_id;
use crate::store::webhooks::{
    AttemptOutcome, AttemptRecord, ClaimedDelivery, NewSubscription, SubscriptionRecord,
};
use crate::store::{from_unix, from_unix_opt, unix, StoreError, StoreResult, WebhookStore};

/// Ends a change to a subscription: with its audit entry when a row changed, and nothing
/// written when none did.
async fn audited(
    mut tx: sqlx::Transaction<'static, super::Db>,
    changed: u64,
    audit: &AuditEntry,
) -> StoreResult<bool> {
    if changed == 0 {
        return Ok(false);
    }
    insert_audit(&mut *tx, audit).await?;
    tx.commit().await.map_err(err)?;
    Ok(true)
}

/// Events one statement of the retention sweep deletes.
const PRUNE_BATCH: i64 = 1000;

fn err(error: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(error)
}

type SubscriptionRow = (
    String,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    Option<i64>,
    i64,
    bool,
    String,
    Option<i64>,
);

/// An outbox row's kind, team, subject and actor.
type EventColumns = (String, Option<String>, String, Option<String>);

const SUBSCRIPTION_COLUMNS: &str = "s.id, s.team_id, s.url, s.event_kinds, s.secret_sealed, \
    s.previous_sealed, s.previous_until, s.created_at, s.enabled, s.disabled_reason, \
    s.failing_since";

fn subscription(row: SubscriptionRow) -> StoreResult<SubscriptionRecord> {
    let (id, team, url, kinds, secret, previous, until, created, enabled, reason, failing) = row;
    Ok(SubscriptionRecord {
        id: parse_id(&id)?,
        team_id: team.as_deref().map(parse_id).transpose()?,
        url,
        event_kinds: kinds.split_whitespace().map(str::to_owned).collect(),
        secret_sealed: secret,
        previous_sealed: previous,
        previous_until: from_unix_opt(until)?,
        created_at: from_unix(created)?,
        enabled,
        disabled_reason: reason,
        failing_since: from_unix_opt(failing)?,
    })
}

#[async_trait]
impl WebhookStore for ThisStore {
    fn outbox_commits(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.outbox_committed().clone()
    }

    async fn create_subscription(
        &self,
        new: &NewSubscription,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        // With no subscription enabled, a commit's wake-up leaves its events for the worker's
        // next poll (`delivery::Round::Woken`). Those events came before the first subscription
        // and are not its to receive.
        sqlx::query(
            "UPDATE event_outbox SET dispatched = TRUE WHERE NOT dispatched \
             AND NOT EXISTS (SELECT 1 FROM webhook_subscriptions WHERE enabled)",
        )
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        sqlx::query(
            "INSERT INTO webhook_subscriptions (id, team_id, url, event_kinds, secret_sealed, \
             created_by, created_at, enabled) VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE)",
        )
        .bind(new.id.to_string())
        .bind(new.team_id.map(|team| team.to_string()))
        .bind(&new.url)
        .bind(new.event_kinds.join(" "))
        .bind(&new.secret_sealed)
        .bind(new.created_by.to_string())
        .bind(unix(new.created_at))
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await.map_err(err)
    }

    async fn subscriptions(&self, team: Option<TeamId>) -> StoreResult<Vec<SubscriptionRecord>> {
        let rows: Vec<SubscriptionRow> = match team {
            Some(team) => {
                sqlx::query_as(&format!(
                    "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions s \
                 WHERE s.team_id = $1 ORDER BY s.created_at, s.id"
                ))
                .bind(team.to_string())
                .fetch_all(self.reader())
                .await
            }
            None => {
                sqlx::query_as(&format!(
                    "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions s \
                 WHERE s.team_id IS NULL ORDER BY s.created_at, s.id"
                ))
                .fetch_all(self.reader())
                .await
            }
        }
        .map_err(err)?;
        rows.into_iter().map(subscription).collect()
    }

    async fn subscription(&self, id: RecordId) -> StoreResult<Option<SubscriptionRecord>> {
        let row: Option<SubscriptionRow> = sqlx::query_as(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions s WHERE s.id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(self.reader())
        .await
        .map_err(err)?;
        row.map(subscription).transpose()
    }

    async fn delete_subscription(&self, id: RecordId, audit: &AuditEntry) -> StoreResult<bool> {
        let mut tx = self.begin_write().await.map_err(err)?;
        let changed = sqlx::query("DELETE FROM webhook_subscriptions WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(err)?
            .rows_affected();
        audited(tx, changed, audit).await
    }

    async fn rotate_secret(
        &self,
        id: RecordId,
        secret_sealed: &str,
        previous_sealed: &str,
        previous_until: OffsetDateTime,
        audit: &AuditEntry,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await.map_err(err)?;
        let changed = sqlx::query(
            "UPDATE webhook_subscriptions SET secret_sealed = $1, previous_sealed = $2, \
             previous_until = $3 WHERE id = $4",
        )
        .bind(secret_sealed)
        .bind(previous_sealed)
        .bind(unix(previous_until))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(err)?
        .rows_affected();
        audited(tx, changed, audit).await
    }

    async fn enable_subscription(&self, id: RecordId, audit: &AuditEntry) -> StoreResult<bool> {
        let mut tx = self.begin_write().await.map_err(err)?;
        let changed = sqlx::query(
            "UPDATE webhook_subscriptions SET enabled = TRUE, disabled_reason = '', \
             failing_since = NULL WHERE id = $1",
        )
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(err)?
        .rows_affected();
        audited(tx, changed, audit).await
    }

    async fn disable_subscription(
        &self,
        id: RecordId,
        reason: &str,
        audit: &AuditEntry,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await.map_err(err)?;
        let changed = sqlx::query(
            "UPDATE webhook_subscriptions SET enabled = FALSE, disabled_reason = $1 WHERE id = $2",
        )
        .bind(reason)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(err)?
        .rows_affected();
        audited(tx, changed, audit).await
    }

    async fn prune_deliveries(&self, before: OffsetDateTime) -> StoreResult<(u64, u64)> {
        let before = unix(before);
        let attempts = sqlx::query("DELETE FROM webhook_attempts WHERE attempted_at < $1")
            .bind(before)
            .execute(self.writer())
            .await
            .map_err(err)?
            .rows_affected();
        // In batches, so that one sweep over a large backlog never holds the writer long;
        // deliveries and their attempts go with their event (ON DELETE CASCADE).
        let mut events = 0;
        loop {
            let deleted = sqlx::query(
                "DELETE FROM event_outbox WHERE id IN (SELECT o.id FROM event_outbox o \
                 WHERE o.dispatched AND o.occurred_at < $1 AND o.kind NOT LIKE 'audit.%' \
                 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d \
                   WHERE d.event_id = o.id AND d.status = 'pending') \
                 AND NOT EXISTS (SELECT 1 FROM action_items a \
                   WHERE a.id = o.subject_id AND a.status = 'open' \
                   AND o.once_key = 'action.overdue:' || a.id || ':' || CAST(a.due_on AS TEXT)) \
                 LIMIT $2)",
            )
            .bind(before)
            .bind(PRUNE_BATCH)
            .execute(self.writer())
            .await
            .map_err(err)?
            .rows_affected();
            events += deleted;
            if deleted < PRUNE_BATCH as u64 {
                return Ok((events, attempts));
            }
        }
    }

    async fn dispatch_events(&self, limit: i64, now: OffsetDateTime) -> StoreResult<usize> {
        let mut tx = self.begin_write().await.map_err(err)?;
        let subscriptions: Vec<(String, Option<String>, String)> = sqlx::query_as(
            "SELECT id, team_id, event_kinds FROM webhook_subscriptions WHERE enabled",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(err)?;
        if subscriptions.is_empty() {
            // Nothing to queue: the events are only marked, many at a time.
            let marked = sqlx::query(&format!(
                "UPDATE event_outbox SET dispatched = TRUE WHERE id IN ( \
                 SELECT id FROM event_outbox WHERE NOT dispatched \
                 ORDER BY occurred_at, id LIMIT $1{})",
                Self::CLAIM_LOCK
            ))
            .bind(crate::store::webhooks::UNWATCHED_MARKED_MAX)
            .execute(&mut *tx)
            .await
            .map_err(err)?
            .rows_affected();
            tx.commit().await.map_err(err)?;
            return Ok(usize::try_from(marked).unwrap_or(usize::MAX));
        }
        let events: Vec<(String, String, String)> = sqlx::query_as(&format!(
            "SELECT id, team_id, kind FROM event_outbox WHERE NOT dispatched \
             ORDER BY occurred_at, id LIMIT $1{}",
            Self::CLAIM_LOCK
        ))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(err)?;
        if events.is_empty() {
            return Ok(0);
        }
        let mut deliveries = Vec::new();
        for (event, team, kind) in &events {
            for (subscription, scope, kinds) in &subscriptions {
                let in_scope = scope.as_ref().is_none_or(|scope| scope == team);
                if in_scope && kinds.split_whitespace().any(|wanted| wanted == kind) {
                    deliveries.push((subscription, event));
                }
            }
        }
        if !deliveries.is_empty() {
            let mut insert = sqlx::QueryBuilder::<super::Db>::new(
                "INSERT INTO webhook_deliveries (id, subscription_id, event_id, status, \
                 attempts, next_attempt_at, created_at) ",
            );
            insert.push_values(&deliveries, |mut row, (subscription, event)| {
                row.push_bind(RecordId::random().to_string())
                    .push_bind((*subscription).clone())
                    .push_bind((*event).clone())
                    .push_bind("pending")
                    .push_bind(0_i64)
                    .push_bind(unix(now))
                    .push_bind(unix(now));
            });
            insert.push(" ON CONFLICT DO NOTHING");
            insert.build().execute(&mut *tx).await.map_err(err)?;
        }
        let mut mark = sqlx::QueryBuilder::<super::Db>::new(
            "UPDATE event_outbox SET dispatched = TRUE WHERE id IN (",
        );
        let mut ids = mark.separated(", ");
        for (event, _, _) in &events {
            ids.push_bind(event.clone());
        }
        mark.push(")");
        mark.build().execute(&mut *tx).await.map_err(err)?;
        tx.commit().await.map_err(err)?;
        Ok(events.len())
    }

    async fn delivery_outlook(
        &self,
        now: OffsetDateTime,
    ) -> StoreResult<crate::store::webhooks::DeliveryOutlook> {
        let (events_waiting, deliveries_due, subscribed): (bool, bool, bool) = sqlx::query_as(
            "SELECT \
             EXISTS (SELECT 1 FROM event_outbox WHERE NOT dispatched), \
             EXISTS (SELECT 1 FROM webhook_deliveries \
               WHERE status = 'pending' AND next_attempt_at <= $1), \
             EXISTS (SELECT 1 FROM webhook_subscriptions WHERE enabled)",
        )
        .bind(unix(now))
        .fetch_one(self.reader())
        .await
        .map_err(err)?;
        Ok(crate::store::webhooks::DeliveryOutlook {
            events_waiting,
            deliveries_due,
            subscribed,
        })
    }

    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: i64,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let mut tx = self.begin_write().await.map_err(err)?;
        let due: Vec<(String,)> = sqlx::query_as(&format!(
            "SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, id LIMIT $2{}",
            Self::CLAIM_LOCK
        ))
        .bind(unix(now))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(err)?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let mut claim = sqlx::QueryBuilder::<super::Db>::new(
            "UPDATE webhook_deliveries SET next_attempt_at = ",
        );
        claim.push_bind(unix(lease_until));
        claim.push(" WHERE id IN (");
        let mut ids = claim.separated(", ");
        for (id,) in &due {
            ids.push_bind(id.clone());
        }
        claim.push(")");
        claim.build().execute(&mut *tx).await.map_err(err)?;
        let mut read = sqlx::QueryBuilder::<super::Db>::new(format!(
            "SELECT d.id, d.event_id, o.payload, d.attempts, {SUBSCRIPTION_COLUMNS} \
             FROM webhook_deliveries d JOIN event_outbox o ON o.id = d.event_id \
             JOIN webhook_subscriptions s ON s.id = d.subscription_id WHERE s.enabled AND d.id IN ("
        ));
        let mut ids = read.separated(", ");
        for (id,) in &due {
            ids.push_bind(id.clone());
        }
        read.push(")");
        let rows = read
            .build_query_as::<(
                String,
                String,
                String,
                i64,
                String,
                Option<String>,
                String,
                String,
                String,
                Option<String>,
                Option<i64>,
                i64,
                bool,
                String,
                Option<i64>,
            )>()
            .fetch_all(&mut *tx)
            .await
            .map_err(err)?;
        // The columns the stored payload leaves out (`domain::events::sent_payload`), read
        // apart: the row above is as wide as a tuple row goes.
        let mut columns = std::collections::HashMap::<String, EventColumns>::new();
        if !rows.is_empty() {
            let mut read = sqlx::QueryBuilder::<super::Db>::new(
                "SELECT id, kind, team_id, subject_id, actor_id FROM event_outbox WHERE id IN (",
            );
            let mut ids = read.separated(", ");
            for row in &rows {
                ids.push_bind(row.1.clone());
            }
            read.push(")");
            columns.extend(
                read.build_query_as::<(String, String, Option<String>, String, Option<String>)>()
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(err)?
                    .into_iter()
                    .map(|(id, kind, team, subject, actor)| (id, (kind, team, subject, actor))),
            );
        }
        tx.commit().await.map_err(err)?;
        rows.into_iter()
            .map(
                |(id, event, payload, attempts, s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10)| {
                    let (kind, team, subject, actor) = columns.get(&event).ok_or_else(|| {
                        StoreError::Corrupt("a claimed delivery's event vanished".to_owned())
                    })?;
                    let payload = super::portable_events::sent_payload(
                        &payload,
                        kind,
                        team.as_deref(),
                        subject,
                        actor.as_deref(),
                    )?;
                    Ok(ClaimedDelivery {
                        id: parse_id(&id)?,
                        event_id: parse_id(&event)?,
                        payload,
                        attempts,
                        subscription: subscription((s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10))?,
                    })
                },
            )
            .collect()
    }

    async fn record_attempt(&self, outcome: &AttemptOutcome) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        sqlx::query(
            "INSERT INTO webhook_attempts (id, delivery_id, subscription_id, attempted_at, \
             status_code, latency_ms, excerpt) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(RecordId::random().to_string())
        .bind(outcome.delivery.to_string())
        .bind(outcome.subscription.to_string())
        .bind(unix(outcome.at))
        .bind(outcome.status_code.map(i64::from))
        .bind(outcome.latency_ms)
        .bind(&outcome.excerpt)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        let status = if outcome.delivered {
            "delivered"
        } else if outcome.retry_at.is_some() {
            "pending"
        } else {
            "failed"
        };
        sqlx::query(
            "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, \
             next_attempt_at = $2 WHERE id = $3",
        )
        .bind(status)
        .bind(unix(outcome.retry_at.unwrap_or(outcome.at)))
        .bind(outcome.delivery.to_string())
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        if outcome.delivered {
            sqlx::query("UPDATE webhook_subscriptions SET failing_since = NULL WHERE id = $1")
                .bind(outcome.subscription.to_string())
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        } else {
            sqlx::query(
                "UPDATE webhook_subscriptions SET failing_since = COALESCE(failing_since, $1) \
                 WHERE id = $2",
            )
            .bind(unix(outcome.at))
            .bind(outcome.subscription.to_string())
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        if let Some(disable) = &outcome.disable {
            // Only the attempt that switches it off is audited: later ones find it off already.
            let switched = sqlx::query(
                "UPDATE webhook_subscriptions SET enabled = FALSE, disabled_reason = $1 \
                 WHERE id = $2 AND enabled = TRUE",
            )
            .bind(&disable.reason)
            .bind(outcome.subscription.to_string())
            .execute(&mut *tx)
            .await
            .map_err(err)?
            .rows_affected();
            if switched > 0 {
                insert_audit(&mut *tx, &disable.audit).await?;
            }
        }
        tx.commit().await.map_err(err)
    }

    async fn attempts(
        &self,
        subscription: RecordId,
        limit: i64,
    ) -> StoreResult<Vec<AttemptRecord>> {
        let rows: Vec<(
            String,
            String,
            String,
            i64,
            Option<i64>,
            i64,
            String,
            String,
        )> = sqlx::query_as(
            "SELECT a.delivery_id, d.event_id, o.kind, a.attempted_at, a.status_code, \
                 a.latency_ms, a.excerpt, d.status FROM webhook_attempts a \
                 JOIN webhook_deliveries d ON d.id = a.delivery_id \
                 JOIN event_outbox o ON o.id = d.event_id \
                 WHERE a.subscription_id = $1 ORDER BY a.attempted_at DESC, a.id LIMIT $2",
        )
        .bind(subscription.to_string())
        .bind(limit)
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(
                |(delivery, event, kind, at, code, latency, excerpt, status)| {
                    Ok(AttemptRecord {
                        delivery_id: parse_id(&delivery)?,
                        event_id: parse_id(&event)?,
                        event_kind: kind,
                        attempted_at: from_unix(at)?,
                        status_code: code,
                        latency_ms: latency,
                        excerpt,
                        delivery_status: status,
                    })
                },
            )
            .collect()
    }

    async fn redeliver(
        &self,
        subscription: RecordId,
        delivery: RecordId,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        Ok(sqlx::query(
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1 \
             WHERE id = $2 AND subscription_id = $3",
        )
        .bind(unix(now))
        .bind(delivery.to_string())
        .bind(subscription.to_string())
        .execute(self.writer())
        .await
        .map_err(err)?
        .rows_affected()
            > 0)
    }
}
