//! The audit log's statements and the session listing, the same on SQLite and PostgreSQL.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::ThisStore;
use crate::domain::UserId;
use crate::store::audit::{AuditEntry, AuditFilter, AuditRecord, AuditStore, SessionListing};
use crate::store::backend::BackendHooks;
use crate::store::rows::parse_id;
use crate::store::{from_unix, unix, StoreError, StoreResult};

fn err(error: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(error)
}

/// Writes `entry` with whatever `executor` is: the transaction of the change it records.
pub(super) async fn insert_audit<'c, E>(executor: E, entry: &AuditEntry) -> StoreResult<()>
where
    E: sqlx::Executor<'c, Database = super::Db>,
{
    sqlx::query(
        "INSERT INTO audit_log (id, occurred_at, actor_id, action, target, detail, address_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(entry.id.to_string())
    .bind(unix(entry.occurred_at))
    .bind(entry.actor.map(|actor| actor.to_string()))
    .bind(entry.action.as_str())
    .bind(&entry.target)
    .bind(&entry.detail)
    .bind(entry.address_hash.as_deref())
    .execute(executor)
    .await
    .map_err(err)?;
    Ok(())
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
    Option<String>,
);

#[async_trait]
impl AuditStore for ThisStore {
    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        insert_audit(&mut *tx, entry).await?;
        tx.commit().await.map_err(err)
    }

    async fn audit_entries(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT audit_log.id, audit_log.occurred_at, audit_log.actor_id, users.display_name, \
             users.email, audit_log.action, audit_log.target, audit_log.detail, \
             audit_log.address_hash \
             FROM audit_log LEFT JOIN users ON users.id = audit_log.actor_id \
             WHERE (CAST($1 AS TEXT) IS NULL OR audit_log.action = $1) \
             AND (CAST($2 AS TEXT) IS NULL OR audit_log.actor_id = $2) \
             AND (CAST($3 AS BIGINT) IS NULL OR audit_log.occurred_at >= $3) \
             AND (CAST($4 AS BIGINT) IS NULL OR audit_log.occurred_at < $4) \
             ORDER BY audit_log.occurred_at DESC, audit_log.id LIMIT $5",
        )
        .bind(filter.action.as_deref())
        .bind(filter.actor.map(|actor| actor.to_string()))
        .bind(filter.from.map(unix))
        .bind(filter.until.map(unix))
        .bind(filter.limit)
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(
                |(id, at, actor, name, email, action, target, detail, address_hash)| {
                    Ok(AuditRecord {
                        id: parse_id(&id)?,
                        occurred_at: from_unix(at)?,
                        actor: actor.as_deref().map(parse_id).transpose()?,
                        actor_name: name,
                        actor_email: email,
                        action,
                        target,
                        detail,
                        address_hash,
                    })
                },
            )
            .collect()
    }

    async fn prune_audit(&self, before: OffsetDateTime) -> StoreResult<u64> {
        Ok(sqlx::query("DELETE FROM audit_log WHERE occurred_at < $1")
            .bind(unix(before))
            .execute(self.writer())
            .await
            .map_err(err)?
            .rows_affected())
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
