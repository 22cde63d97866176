//! Single sign-on's statements, the same on SQLite and PostgreSQL.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::portable_events::insert_audit;
use super::portable_people::insert_user;
use super::ThisStore;
use crate::domain::audit::AuditEntry;
use crate::domain::{User, UserId};
use crate::store::backend::BackendHooks;
use crate::store::rows::UserRow;
use crate::store::sso::{SsoLinkedUser, SsoPending, SsoStore, StoredSsoSettings};
use crate::store::{from_unix, unix, NewUser, StoreError, StoreResult};

fn err(error: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(error)
}

/// Links an account to an identity at the provider, in the caller's transaction.
async fn insert_identity(
    tx: &mut sqlx::Transaction<'_, super::Db>,
    issuer: &str,
    subject: &str,
    user: UserId,
    at: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO sso_identities (issuer, subject, user_id, created_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(issuer)
    .bind(subject)
    .bind(user.to_string())
    .bind(unix(at))
    .execute(&mut **tx)
    .await
    .map_err(err)?;
    Ok(())
}

#[async_trait]
impl SsoStore for ThisStore {
    async fn sso_settings(&self) -> StoreResult<Option<StoredSsoSettings>> {
        type Row = (
            bool,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
            Option<String>,
            String,
            bool,
            Option<String>,
            i64,
        );
        let row: Option<Row> = sqlx::query_as(
            "SELECT enabled, issuer_url, client_id, client_secret_sealed, scopes, groups_claim, \
             group_teams, sso_only, break_glass_email, updated_at FROM sso_settings WHERE id = 1",
        )
        .fetch_optional(self.reader())
        .await
        .map_err(err)?;
        row.map(
            |(
                enabled,
                issuer_url,
                client_id,
                client_secret_sealed,
                scopes,
                groups_claim,
                group_teams,
                sso_only,
                break_glass_email,
                updated_at,
            )| {
                Ok(StoredSsoSettings {
                    enabled,
                    issuer_url,
                    client_id,
                    client_secret_sealed,
                    scopes,
                    groups_claim,
                    group_teams,
                    sso_only,
                    break_glass_email,
                    updated_at: from_unix(updated_at)?,
                })
            },
        )
        .transpose()
    }

    async fn save_sso_settings(
        &self,
        settings: &StoredSsoSettings,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        sqlx::query(
            "INSERT INTO sso_settings (id, enabled, issuer_url, client_id, client_secret_sealed, \
             scopes, groups_claim, group_teams, sso_only, break_glass_email, updated_at) \
             VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (id) DO UPDATE SET enabled = excluded.enabled, \
             issuer_url = excluded.issuer_url, client_id = excluded.client_id, \
             client_secret_sealed = excluded.client_secret_sealed, scopes = excluded.scopes, \
             groups_claim = excluded.groups_claim, group_teams = excluded.group_teams, \
             sso_only = excluded.sso_only, break_glass_email = excluded.break_glass_email, \
             updated_at = excluded.updated_at",
        )
        .bind(settings.enabled)
        .bind(&settings.issuer_url)
        .bind(&settings.client_id)
        .bind(&settings.client_secret_sealed)
        .bind(&settings.scopes)
        .bind(&settings.groups_claim)
        .bind(&settings.group_teams)
        .bind(settings.sso_only)
        .bind(&settings.break_glass_email)
        .bind(unix(settings.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await.map_err(err)
    }

    async fn save_sso_pending(
        &self,
        pending: &SsoPending,
        expired_before: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        sqlx::query("DELETE FROM sso_pending WHERE created_at < $1")
            .bind(unix(expired_before))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        sqlx::query(
            "INSERT INTO sso_pending (state_hash, nonce, pkce_verifier, next_path, \
             invitation_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&pending.state_hash)
        .bind(&pending.nonce)
        .bind(&pending.pkce_verifier)
        .bind(&pending.next_path)
        .bind(&pending.invitation_hash)
        .bind(unix(pending.created_at))
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)
    }

    async fn take_sso_pending(&self, state_hash: &str) -> StoreResult<Option<SsoPending>> {
        let mut tx = self.begin_write().await.map_err(err)?;
        let row: Option<(String, String, String, Option<String>, i64)> = sqlx::query_as(
            "DELETE FROM sso_pending WHERE state_hash = $1 \
             RETURNING nonce, pkce_verifier, next_path, invitation_hash, created_at",
        )
        .bind(state_hash)
        .fetch_optional(&mut *tx)
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)?;
        row.map(
            |(nonce, pkce_verifier, next_path, invitation_hash, created_at)| {
                Ok(SsoPending {
                    state_hash: state_hash.to_owned(),
                    nonce,
                    pkce_verifier,
                    next_path,
                    invitation_hash,
                    created_at: from_unix(created_at)?,
                })
            },
        )
        .transpose()
    }

    async fn sso_linked_at(&self, user: UserId, issuer: &str) -> StoreResult<bool> {
        let found: Option<String> = sqlx::query_scalar(
            "SELECT subject FROM sso_identities WHERE user_id = $1 AND issuer = $2 LIMIT 1",
        )
        .bind(user.to_string())
        .bind(issuer)
        .fetch_optional(self.reader())
        .await
        .map_err(err)?;
        Ok(found.is_some())
    }

    async fn sso_user(&self, issuer: &str, subject: &str) -> StoreResult<Option<SsoLinkedUser>> {
        let row: Option<(String, String, String, bool, Option<i64>)> = sqlx::query_as(
            "SELECT users.id, users.email, users.display_name, users.is_admin, \
             users.deactivated_at FROM sso_identities \
             JOIN users ON users.id = sso_identities.user_id \
             WHERE sso_identities.issuer = $1 AND sso_identities.subject = $2",
        )
        .bind(issuer)
        .bind(subject)
        .fetch_optional(self.reader())
        .await
        .map_err(err)?;
        row.map(|(id, email, display_name, is_admin, deactivated_at)| {
            Ok(SsoLinkedUser {
                user: User::try_from(UserRow {
                    id,
                    email,
                    display_name,
                    is_admin,
                })?,
                deactivated: deactivated_at.is_some(),
            })
        })
        .transpose()
    }

    async fn user_deactivated(&self, user: UserId) -> StoreResult<Option<bool>> {
        let row: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT deactivated_at FROM users WHERE id = $1")
                .bind(user.to_string())
                .fetch_optional(self.reader())
                .await
                .map_err(err)?;
        Ok(row.map(|(at,)| at.is_some()))
    }

    async fn link_sso_identity(
        &self,
        issuer: &str,
        subject: &str,
        user: UserId,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        insert_identity(&mut tx, issuer, subject, user, now).await?;
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await.map_err(err)
    }

    async fn create_sso_user(
        &self,
        user: &NewUser,
        issuer: &str,
        subject: &str,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        insert_user(&mut *tx, user).await?;
        insert_identity(&mut tx, issuer, subject, user.id, user.created_at).await?;
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await.map_err(err)
    }
}
