//! The audit log's statements and the session listing, the same on SQLite and PostgreSQL.
//!
//! The log is the outbox's events of `audit.*` kinds (migration 0053); they are written by
//! `portable_events::insert_audit` in the transaction of their change, and read and pruned here.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::portable_events::insert_audit;
use super::ThisStore;
use crate::domain::audit::AUDIT_KIND_PREFIX;
use crate::domain::UserId;
use crate::store::audit::{AuditEntry, AuditFilter, AuditRecord, AuditStore, SessionListing};
use crate::store::backend::BackendHooks;
use crate::store::rows::parse_id;
use crate::store::{from_unix, unix, StoreError, StoreResult};

fn err(error: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(error)
}

type AuditRow = (
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
);

/// The detail and address hash of an audit event's payload (`AuditEntry::payload`).
fn payload_words(payload: &str) -> StoreResult<(String, Option<String>)> {
    let payload: serde_json::Value = serde_json::from_str(payload)
        .map_err(|e| StoreError::Corrupt(format!("an audit event's payload: {e}")))?;
    let data = &payload["data"];
    Ok((
        data["detail"].as_str().unwrap_or_default().to_owned(),
        data["address_hash"].as_str().map(str::to_owned),
    ))
}

#[async_trait]
impl AuditStore for ThisStore {
    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        insert_audit(&mut *tx, entry).await?;
        tx.commit().await.map_err(err)
    }

    async fn audit_entries(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        // `kind LIKE 'audit.%'` is the partial index's own condition (migration 0053), which
        // keeps the listing to audit events, newest first, however many others the outbox holds.
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT o.id, o.occurred_at, o.actor_id, users.display_name, users.email, o.kind, \
             o.subject_id, o.payload \
             FROM event_outbox o LEFT JOIN users ON users.id = o.actor_id \
             WHERE o.kind LIKE 'audit.%' \
             AND (CAST($1 AS TEXT) IS NULL OR o.kind = $1) \
             AND (CAST($2 AS TEXT) IS NULL OR o.actor_id = $2) \
             AND (CAST($3 AS BIGINT) IS NULL OR o.occurred_at >= $3) \
             AND (CAST($4 AS BIGINT) IS NULL OR o.occurred_at < $4) \
             ORDER BY o.occurred_at DESC, o.id LIMIT $5",
        )
        .bind(
            filter
                .action
                .as_deref()
                .map(|action| format!("{AUDIT_KIND_PREFIX}{action}")),
        )
        .bind(filter.actor.map(|actor| actor.to_string()))
        .bind(filter.from.map(unix))
        .bind(filter.until.map(unix))
        .bind(filter.limit)
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|(id, at, actor, name, email, kind, target, payload)| {
                let (detail, address_hash) = payload_words(&payload)?;
                Ok(AuditRecord {
                    id: parse_id(&id)?,
                    occurred_at: from_unix(at)?,
                    actor: actor.as_deref().map(parse_id).transpose()?,
                    actor_name: name,
                    actor_email: email,
                    action: kind
                        .strip_prefix(AUDIT_KIND_PREFIX)
                        .unwrap_or(&kind)
                        .to_owned(),
                    target,
                    detail,
                    address_hash,
                })
            })
            .collect()
    }

    async fn prune_audit(&self, before: OffsetDateTime) -> StoreResult<u64> {
        Ok(
            sqlx::query("DELETE FROM event_outbox WHERE kind LIKE 'audit.%' AND occurred_at < $1")
                .bind(unix(before))
                .execute(self.writer())
                .await
                .map_err(err)?
                .rows_affected(),
        )
    }

    async fn sessions_listing(&self, user: UserId) -> StoreResult<Vec<SessionListing>> {
        let rows: Vec<(String, i64, i64, Option<String>)> = sqlx::query_as(
            "SELECT token_hash, created_at, last_seen_at, user_agent FROM sessions \
             WHERE user_id = $1 ORDER BY created_at DESC, token_hash",
        )
        .bind(user.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|(token_hash, created_at, last_seen_at, user_agent)| {
                Ok(SessionListing {
                    token_hash,
                    created_at: from_unix(created_at)?,
                    last_seen_at: from_unix(last_seen_at)?,
                    user_agent,
                })
            })
            .collect()
    }

    async fn end_session(
        &self,
        user: UserId,
        token_hash: &str,
        audit: &AuditEntry,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await.map_err(err)?;
        let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash = $2")
            .bind(user.to_string())
            .bind(token_hash)
            .execute(&mut *tx)
            .await
            .map_err(err)?
            .rows_affected();
        if ended == 0 {
            return Ok(false);
        }
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await.map_err(err)?;
        Ok(true)
    }

    async fn end_sessions_of(
        &self,
        user: UserId,
        keep: Option<&str>,
        revoke_tokens: bool,
        audit: &AuditEntry,
    ) -> StoreResult<(u64, u64)> {
        let mut tx = self.begin_write().await.map_err(err)?;
        let sessions = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(user.to_string())
            .bind(keep.unwrap_or(""))
            .execute(&mut *tx)
            .await
            .map_err(err)?
            .rows_affected();
        let tokens = if revoke_tokens {
            sqlx::query(
                "UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
            )
            .bind(unix(audit.occurred_at))
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(err)?
            .rows_affected()
        } else {
            0
        };
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await.map_err(err)?;
        Ok((sessions, tokens))
    }
}
