//! People, sessions, tokens, teams and invitations: statements that read the same on SQLite and
//! PostgreSQL, compiled once per backend.
//!
//! The parent module (`sqlite.rs` or `postgres.rs`) declares this file with `#[path]` and defines
//! `Db` and `ThisStore`, plus the few backend-specific helpers used here: `reader()`, `writer()`,
//! `begin_write()`, `lock_team()`, `backend_kind()`, `ping_database()` and `backup_database()`.
//! Placeholders are `$1`, `$2`, …, which both sqlx drivers accept.

use std::path::Path;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::portable_events::insert_audit;
use super::ThisStore;
use crate::domain::{
    ApiTokenId, DisplayName, Email, InvitationId, Team, TeamId, TeamRole, TeamSlug, User, UserId,
};
use crate::store::audit::AuditEntry;
use crate::store::backend::BackendHooks;
use crate::store::rows::{
    parse_role, ApiTokenRow, CredentialsRow, InvitationRow, MemberRow, SessionRow, TeamRow,
    TeamWithRoleRow, UserRow,
};
use crate::store::{
    from_unix, unix, Acceptor, ApiTokenRecord, Backend, InvitationRecord, LoginAttempt, LoginClaim,
    MemberRecord, NewApiToken, NewInvitation, NewSession, NewUser, Organisation, PeopleStore,
    SessionRecord, Store, StoreError, StoreResult,
};

const USER_COLUMNS: &str = "users.id, users.email, users.display_name, users.is_admin";
const TEAM_COLUMNS: &str =
    "teams.id, teams.slug, teams.name, teams.description, teams.stuck_after_days, teams.pulse_min_responses";
const INVITATION_SELECT: &str =
    "SELECT invitations.id, invitations.team_id, teams.slug AS team_slug, \
     teams.name AS team_name, invitations.role, invitations.email, \
     inviter.display_name AS invited_by_name, invitations.created_at, invitations.expires_at, \
     invitations.accepted_at, invitations.revoked_at \
     FROM invitations \
     LEFT JOIN teams ON teams.id = invitations.team_id \
     JOIN users AS inviter ON inviter.id = invitations.invited_by";

/// Whole seconds of a policy duration, as stored beside Unix times.
fn seconds(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// Writes a team's row; the caller's transaction adds who leads it or where it came from.
pub(super) async fn insert_team(
    tx: &mut sqlx::Transaction<'_, super::Db>,
    team: &Team,
    now: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO teams (id, slug, name, description, stuck_after_days, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(team.id.to_string())
    .bind(team.slug.as_str())
    .bind(team.name.as_str())
    .bind(&team.description)
    .bind(i64::from(team.stuck_after_days))
    .bind(unix(now))
    .execute(&mut **tx)
    .await
    .map_err(err)?;
    Ok(())
}

fn err(error: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(error)
}

pub(super) async fn insert_user<'c, E>(executor: E, user: &NewUser) -> StoreResult<()>
where
    E: sqlx::Executor<'c, Database = super::Db>,
{
    sqlx::query(
        "INSERT INTO users (id, email, display_name, password_hash, is_admin, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(user.id.to_string())
    .bind(user.email.as_str())
    .bind(user.name.as_str())
    .bind(&user.password_hash)
    .bind(user.is_admin)
    .bind(unix(user.created_at))
    .execute(executor)
    .await
    .map_err(err)?;
    Ok(())
}

impl ThisStore {
    /// Refuses a membership change that would leave a team without a lead. Runs inside the
    /// caller's transaction after `lock_team`, so two leads demoting each other cannot both win.
    async fn ensure_other_lead(
        tx: &mut sqlx::Transaction<'static, super::Db>,
        team: TeamId,
        user: UserId,
    ) -> StoreResult<()> {
        let others: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM memberships WHERE team_id = $1 AND role = 'lead' AND user_id <> $2",
        )
        .bind(team.to_string())
        .bind(user.to_string())
        .fetch_one(&mut **tx)
        .await
        .map_err(err)?;
        if others == 0 {
            return Err(StoreError::Refused("last lead"));
        }
        Ok(())
    }

    async fn current_role(
        tx: &mut sqlx::Transaction<'static, super::Db>,
        team: TeamId,
        user: UserId,
    ) -> StoreResult<TeamRole> {
        let role: Option<String> =
            sqlx::query_scalar("SELECT role FROM memberships WHERE team_id = $1 AND user_id = $2")
                .bind(team.to_string())
                .bind(user.to_string())
                .fetch_optional(&mut **tx)
                .await
                .map_err(err)?;
        parse_role(&role.ok_or(StoreError::NotFound)?)
    }
}

#[async_trait]
impl Store for ThisStore {
    fn backend(&self) -> Backend {
        self.backend_kind()
    }

    async fn ping(&self) -> StoreResult<()> {
        self.ping_database().await
    }

    async fn backup_to(&self, destination: &Path) -> StoreResult<()> {
        self.backup_database(destination).await
    }

    async fn caught_up_replica(&self) -> Option<std::sync::Arc<dyn Store>> {
        self.replica_caught_up().await
    }
}

#[async_trait]
impl PeopleStore for ThisStore {
    async fn organisation(&self) -> StoreResult<Option<Organisation>> {
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT name, created_at FROM organisation WHERE id = 1")
                .fetch_optional(self.reader())
                .await
                .map_err(err)?;
        row.map(|(name, created_at)| {
            Ok(Organisation {
                name,
                created_at: from_unix(created_at)?,
            })
        })
        .transpose()
    }

    async fn replace_setup_token(
        &self,
        token_hash: &str,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        sqlx::query("DELETE FROM setup_tokens")
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        sqlx::query("INSERT INTO setup_tokens (token_hash, expires_at) VALUES ($1, $2)")
            .bind(token_hash)
            .bind(unix(expires_at))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)
    }

    async fn complete_setup(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
        organisation_name: &str,
        admin: &NewUser,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        let consumed =
            sqlx::query("DELETE FROM setup_tokens WHERE token_hash = $1 AND expires_at > $2")
                .bind(token_hash)
                .bind(unix(now))
                .execute(&mut *tx)
                .await
                .map_err(err)?
                .rows_affected();
        if consumed == 0 {
            return Err(StoreError::NotFound);
        }
        let inserted = sqlx::query(
            "INSERT INTO organisation (id, name, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(organisation_name)
        .bind(unix(now))
        .execute(&mut *tx)
        .await
        .map_err(err)?
        .rows_affected();
        if inserted == 0 {
            return Err(StoreError::NotFound);
        }
        insert_user(&mut *tx, admin).await?;
        insert_audit(&mut *tx, audit).await?;
        sqlx::query("DELETE FROM setup_tokens")
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)
    }

    async fn create_user(&self, user: &NewUser, audit: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        insert_user(&mut *tx, user).await?;
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await.map_err(err)
    }

    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        sqlx::query_as::<_, UserRow>(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await
            .map_err(err)?
            .map(User::try_from)
            .transpose()
    }

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        sqlx::query_as::<_, UserRow>(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
        ))
        .bind(email.as_str())
        .fetch_optional(self.reader())
        .await
        .map_err(err)?
        .map(User::try_from)
        .transpose()
    }

    async fn credentials(&self, email: &Email) -> StoreResult<Option<(User, String)>> {
        let row = sqlx::query_as::<_, CredentialsRow>(&format!(
            "SELECT {USER_COLUMNS}, users.password_hash FROM users WHERE email = $1 \
             AND users.deactivated_at IS NULL AND users.password_hash <> ''"
        ))
        .bind(email.as_str())
        .fetch_optional(self.reader())
        .await
        .map_err(err)?;
        row.map(|row| Ok((User::try_from(row.user)?, row.password_hash)))
            .transpose()
    }

    async fn password_hash(&self, id: UserId) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await
            .map_err(err)
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        hash: &str,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        let changed = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(err)?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await.map_err(err)
    }

    async fn set_display_name(&self, id: UserId, name: &DisplayName) -> StoreResult<()> {
        let changed = sqlx::query("UPDATE users SET display_name = $1 WHERE id = $2")
            .bind(name.as_str())
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

    async fn set_admin(&self, id: UserId, is_admin: bool, audit: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        if !is_admin {
            let others: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE is_admin = $1 AND id <> $2")
                    .bind(true)
                    .bind(id.to_string())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(err)?;
            if others == 0 {
                return Err(StoreError::Refused("last admin"));
            }
        }
        let changed = sqlx::query("UPDATE users SET is_admin = $1 WHERE id = $2")
            .bind(is_admin)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(err)?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await.map_err(err)
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        sqlx::query_as::<_, UserRow>(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY display_name, email"
        ))
        .fetch_all(self.reader())
        .await
        .map_err(err)?
        .into_iter()
        .map(User::try_from)
        .collect()
    }

    async fn count_admins(&self) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE is_admin = $1")
            .bind(true)
            .fetch_one(self.reader())
            .await
            .map_err(err)
    }

    async fn create_session(
        &self,
        session: &NewSession,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, \
             user_agent) VALUES ($1, $2, $3, $4, $4, $5)",
        )
        .bind(&session.token_hash)
        .bind(session.user_id.to_string())
        .bind(&session.csrf_token)
        .bind(unix(session.created_at))
        .bind(session.user_agent.as_deref())
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        if let Some(audit) = audit {
            insert_audit(&mut *tx, audit).await?;
        }
        tx.commit().await.map_err(err)
    }

    async fn session(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
        sqlx::query_as::<_, SessionRow>(&format!(
            "SELECT {USER_COLUMNS}, sessions.csrf_token, sessions.created_at, sessions.last_seen_at \
             FROM sessions JOIN users ON users.id = sessions.user_id \
             WHERE sessions.token_hash = $1 AND users.deactivated_at IS NULL"
        ))
        .bind(token_hash)
        .fetch_optional(self.reader())
        .await
        .map_err(err)?
        .map(SessionRecord::try_from)
        .transpose()
    }

    async fn touch_session(&self, token_hash: &str, now: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
            .bind(unix(now))
            .bind(token_hash)
            .execute(self.writer())
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn delete_session(
        &self,
        token_hash: &str,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        let ended = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut *tx)
            .await
            .map_err(err)?
            .rows_affected();
        if let (Some(audit), true) = (audit, ended > 0) {
            insert_audit(&mut *tx, audit).await?;
        }
        tx.commit().await.map_err(err)
    }

    async fn delete_sessions_of(&self, user: UserId, keep: Option<&str>) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(user.to_string())
            .bind(keep.unwrap_or(""))
            .execute(self.writer())
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn delete_sessions_before(
        &self,
        last_seen_before: OffsetDateTime,
        created_before: OffsetDateTime,
    ) -> StoreResult<u64> {
        Ok(
            sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2")
                .bind(unix(last_seen_before))
                .bind(unix(created_before))
                .execute(self.writer())
                .await
                .map_err(err)?
                .rows_affected(),
        )
    }

    async fn claim_login_attempt(&self, attempt: &LoginAttempt<'_>) -> StoreResult<LoginClaim> {
        let now = unix(attempt.now);
        let client_since = now - seconds(attempt.client_window);
        let mut tx = self.begin_write().await.map_err(err)?;
        // A window that has ended starts again; otherwise the attempt needs room under the limit
        // and the delay since the last one to have passed.
        let claimed: Option<i64> = sqlx::query_scalar(
            "INSERT INTO login_client_throttle \
             (key_hash, account_hash, address_hash, failures, window_start, next_attempt_at) \
             VALUES ($1, $2, $3, 1, $4, $4) \
             ON CONFLICT (key_hash) DO UPDATE SET \
             failures = CASE WHEN login_client_throttle.window_start <= $5 THEN 1 \
                        ELSE login_client_throttle.failures + 1 END, \
             window_start = CASE WHEN login_client_throttle.window_start <= $5 THEN $4 \
                            ELSE login_client_throttle.window_start END \
             WHERE login_client_throttle.window_start <= $5 \
                OR (login_client_throttle.failures < $6 AND login_client_throttle.next_attempt_at <= $4) \
             RETURNING failures",
        )
        .bind(attempt.client_key)
        .bind(attempt.account_key)
        .bind(attempt.address_key)
        .bind(now)
        .bind(client_since)
        .bind(i64::from(attempt.client_limit))
        .fetch_optional(&mut *tx)
        .await
        .map_err(err)?;
        let Some(claimed) = claimed else {
            let (failures, window_start, next_attempt_at): (i64, i64, i64) = sqlx::query_as(
                "SELECT failures, window_start, next_attempt_at FROM login_client_throttle \
                 WHERE key_hash = $1",
            )
            .bind(attempt.client_key)
            .fetch_one(&mut *tx)
            .await
            .map_err(err)?;
            let retry_at = if failures >= i64::from(attempt.client_limit) {
                window_start + seconds(attempt.client_window)
            } else {
                next_attempt_at
            };
            return Ok(LoginClaim::Refused {
                retry_at: from_unix(retry_at)?,
            });
        };
        let attempts = u32::try_from(claimed).unwrap_or(u32::MAX);
        let delay = (attempt.delay_after)(attempts);
        sqlx::query("UPDATE login_client_throttle SET next_attempt_at = $1 WHERE key_hash = $2")
            .bind(now + seconds(delay))
            .bind(attempt.client_key)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        if let Some(limit) = attempt.account_limit {
            let account_since = now - seconds(attempt.account_window);
            let claimed: Option<i64> = sqlx::query_scalar(
                "INSERT INTO login_account_throttle (account_hash, failures, window_start) \
                 VALUES ($1, 1, $2) \
                 ON CONFLICT (account_hash) DO UPDATE SET \
                 failures = CASE WHEN login_account_throttle.window_start <= $3 THEN 1 \
                            ELSE login_account_throttle.failures + 1 END, \
                 window_start = CASE WHEN login_account_throttle.window_start <= $3 THEN $2 \
                                ELSE login_account_throttle.window_start END \
                 WHERE login_account_throttle.window_start <= $3 \
                    OR login_account_throttle.failures < $4 \
                 RETURNING failures",
            )
            .bind(attempt.account_key)
            .bind(now)
            .bind(account_since)
            .bind(i64::from(limit))
            .fetch_optional(&mut *tx)
            .await
            .map_err(err)?;
            if claimed.is_none() {
                let window_start: i64 = sqlx::query_scalar(
                    "SELECT window_start FROM login_account_throttle WHERE account_hash = $1",
                )
                .bind(attempt.account_key)
                .fetch_one(&mut *tx)
                .await
                .map_err(err)?;
                // Dropping the transaction gives the client's claim back too.
                return Ok(LoginClaim::Refused {
                    retry_at: from_unix(window_start + seconds(attempt.account_window))?,
                });
            }
        }
        tx.commit().await.map_err(err)?;
        Ok(LoginClaim::Granted { attempts })
    }

    async fn postpone_login_attempt(
        &self,
        client_key: &str,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE login_client_throttle SET next_attempt_at = $1 \
             WHERE key_hash = $2 AND next_attempt_at < $1",
        )
        .bind(unix(at))
        .bind(client_key)
        .execute(self.writer())
        .await
        .map_err(err)?;
        Ok(())
    }

    async fn login_succeeded(
        &self,
        client_key: &str,
        account_key: Option<&str>,
        device_key: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        sqlx::query("DELETE FROM login_client_throttle WHERE key_hash = $1")
            .bind(client_key)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        if let Some(account_key) = account_key {
            sqlx::query(
                "UPDATE login_account_throttle SET failures = failures - 1 \
                 WHERE account_hash = $1 AND failures > 0",
            )
            .bind(account_key)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        sqlx::query(
            "INSERT INTO login_devices (key_hash, recognised_at) VALUES ($1, $2) \
             ON CONFLICT (key_hash) DO UPDATE SET recognised_at = excluded.recognised_at",
        )
        .bind(device_key)
        .bind(unix(now))
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)
    }

    async fn device_recognised(&self, device_key: &str) -> StoreResult<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT recognised_at FROM login_devices WHERE key_hash = $1")
                .bind(device_key)
                .fetch_optional(self.reader())
                .await
                .map_err(err)?;
        Ok(found.is_some())
    }

    async fn accounts_failing_from(
        &self,
        address_key: &str,
        since: OffsetDateTime,
    ) -> StoreResult<i64> {
        sqlx::query_scalar(
            "SELECT COUNT(DISTINCT account_hash) FROM login_client_throttle \
             WHERE address_hash = $1 AND window_start > $2",
        )
        .bind(address_key)
        .bind(unix(since))
        .fetch_one(self.reader())
        .await
        .map_err(err)
    }

    async fn delete_login_throttle_before(
        &self,
        clients_before: OffsetDateTime,
        accounts_before: OffsetDateTime,
        devices_before: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        for (statement, before) in [
            (
                "DELETE FROM login_client_throttle WHERE window_start < $1",
                clients_before,
            ),
            (
                "DELETE FROM login_account_throttle WHERE window_start < $1",
                accounts_before,
            ),
            (
                "DELETE FROM login_devices WHERE recognised_at < $1",
                devices_before,
            ),
        ] {
            sqlx::query(statement)
                .bind(unix(before))
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        tx.commit().await.map_err(err)
    }

    async fn create_api_token(&self, token: &NewApiToken, audit: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, prefix, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token.id.to_string())
        .bind(token.user_id.to_string())
        .bind(&token.name)
        .bind(&token.token_hash)
        .bind(&token.prefix)
        .bind(unix(token.created_at))
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await.map_err(err)
    }

    async fn api_tokens_of(&self, user: UserId) -> StoreResult<Vec<ApiTokenRecord>> {
        sqlx::query_as::<_, ApiTokenRow>(
            "SELECT id, name, prefix, created_at, last_used_on, revoked_at FROM api_tokens \
             WHERE user_id = $1 ORDER BY revoked_at IS NOT NULL, created_at DESC, name",
        )
        .bind(user.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?
        .into_iter()
        .map(ApiTokenRecord::try_from)
        .collect()
    }

    async fn revoke_api_token(
        &self,
        user: UserId,
        id: ApiTokenId,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await.map_err(err)?;
        let changed = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
        )
        .bind(unix(now))
        .bind(id.to_string())
        .bind(user.to_string())
        .execute(&mut *tx)
        .await
        .map_err(err)?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await.map_err(err)?;
        Ok(true)
    }

    async fn user_by_api_token(
        &self,
        token_hash: &str,
        used_on: Option<OffsetDateTime>,
    ) -> StoreResult<Option<User>> {
        let found: Option<(String, String, String, bool, Option<i64>)> = sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS}, api_tokens.last_used_on FROM api_tokens \
             JOIN users ON users.id = api_tokens.user_id \
             WHERE api_tokens.token_hash = $1 AND api_tokens.revoked_at IS NULL \
             AND users.deactivated_at IS NULL"
        ))
        .bind(token_hash)
        .fetch_optional(self.reader())
        .await
        .map_err(err)?;
        let Some((id, email, display_name, is_admin, last_used_on)) = found else {
            return Ok(None);
        };
        let user = User::try_from(UserRow {
            id,
            email,
            display_name,
            is_admin,
        })?;
        // Written only when the day changes, as the read shows, so most requests never reach the
        // writer: it is one connection, shared with every capture's group commit.
        if let Some(day) = used_on.filter(|day| last_used_on != Some(unix(*day))) {
            sqlx::query(
                "UPDATE api_tokens SET last_used_on = $1 WHERE token_hash = $2 \
                 AND (last_used_on IS NULL OR last_used_on <> $1)",
            )
            .bind(unix(day))
            .bind(token_hash)
            .execute(self.writer())
            .await
            .map_err(err)?;
        }
        Ok(Some(user))
    }

    async fn create_team(&self, team: &Team, lead: UserId, now: OffsetDateTime) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        insert_team(&mut tx, team, now).await?;
        sqlx::query(
            "INSERT INTO memberships (team_id, user_id, role, joined_at) VALUES ($1, $2, 'lead', $3)",
        )
        .bind(team.id.to_string())
        .bind(lead.to_string())
        .bind(unix(now))
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)
    }

    async fn team_by_slug(&self, slug: &TeamSlug) -> StoreResult<Option<Team>> {
        sqlx::query_as::<_, TeamRow>(&format!("SELECT {TEAM_COLUMNS} FROM teams WHERE slug = $1"))
            .bind(slug.as_str())
            .fetch_optional(self.reader())
            .await
            .map_err(err)?
            .map(Team::try_from)
            .transpose()
    }

    async fn team_with_role(
        &self,
        slug: &TeamSlug,
        user: UserId,
    ) -> StoreResult<Option<(Team, Option<TeamRole>)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            team: TeamRow,
            role: Option<String>,
        }
        let Some(row) = sqlx::query_as::<_, Row>(&format!(
            "SELECT {TEAM_COLUMNS}, (SELECT role FROM memberships \
             WHERE memberships.team_id = teams.id AND memberships.user_id = $2) AS role \
             FROM teams WHERE slug = $1"
        ))
        .bind(slug.as_str())
        .bind(user.to_string())
        .fetch_optional(self.reader())
        .await
        .map_err(err)?
        else {
            return Ok(None);
        };
        let role = row.role.as_deref().map(parse_role).transpose()?;
        Ok(Some((Team::try_from(row.team)?, role)))
    }

    async fn team_by_id(&self, id: TeamId) -> StoreResult<Option<Team>> {
        sqlx::query_as::<_, TeamRow>(&format!("SELECT {TEAM_COLUMNS} FROM teams WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await
            .map_err(err)?
            .map(Team::try_from)
            .transpose()
    }

    async fn update_team(&self, team: &Team, audit: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        let changed = sqlx::query(
            "UPDATE teams SET name = $1, description = $2, stuck_after_days = $3 WHERE id = $4",
        )
        .bind(team.name.as_str())
        .bind(&team.description)
        .bind(i64::from(team.stuck_after_days))
        .bind(team.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(err)?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await.map_err(err)
    }

    async fn teams_of(&self, user: UserId) -> StoreResult<Vec<(Team, TeamRole)>> {
        sqlx::query_as::<_, TeamWithRoleRow>(&format!(
            "SELECT {TEAM_COLUMNS}, memberships.role FROM teams \
             JOIN memberships ON memberships.team_id = teams.id \
             WHERE memberships.user_id = $1 ORDER BY teams.name, teams.slug"
        ))
        .bind(user.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?
        .into_iter()
        .map(|row| Ok((Team::try_from(row.team)?, parse_role(&row.role)?)))
        .collect()
    }

    async fn all_teams(&self) -> StoreResult<Vec<Team>> {
        sqlx::query_as::<_, TeamRow>(&format!(
            "SELECT {TEAM_COLUMNS} FROM teams ORDER BY name, slug"
        ))
        .fetch_all(self.reader())
        .await
        .map_err(err)?
        .into_iter()
        .map(Team::try_from)
        .collect()
    }

    async fn member_count(&self, team: TeamId) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE team_id = $1")
            .bind(team.to_string())
            .fetch_one(self.reader())
            .await
            .map_err(err)
    }

    async fn membership(&self, team: TeamId, user: UserId) -> StoreResult<Option<TeamRole>> {
        let role: Option<String> =
            sqlx::query_scalar("SELECT role FROM memberships WHERE team_id = $1 AND user_id = $2")
                .bind(team.to_string())
                .bind(user.to_string())
                .fetch_optional(self.reader())
                .await
                .map_err(err)?;
        role.as_deref().map(parse_role).transpose()
    }

    async fn members(&self, team: TeamId) -> StoreResult<Vec<MemberRecord>> {
        sqlx::query_as::<_, MemberRow>(&format!(
            "SELECT {USER_COLUMNS}, memberships.role, memberships.joined_at FROM memberships \
             JOIN users ON users.id = memberships.user_id WHERE memberships.team_id = $1 \
             ORDER BY memberships.role, users.display_name, users.email"
        ))
        .bind(team.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?
        .into_iter()
        .map(MemberRecord::try_from)
        .collect()
    }

    async fn add_member(
        &self,
        team: TeamId,
        user: UserId,
        role: TeamRole,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        sqlx::query(
            "INSERT INTO memberships (team_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(team.to_string())
        .bind(user.to_string())
        .bind(role.as_str())
        .bind(unix(now))
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await.map_err(err)
    }

    async fn set_member_role(
        &self,
        team: TeamId,
        user: UserId,
        role: TeamRole,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        Self::lock_team(&mut tx, team).await.map_err(err)?;
        let current = Self::current_role(&mut tx, team, user).await?;
        if current == TeamRole::Lead && role != TeamRole::Lead {
            Self::ensure_other_lead(&mut tx, team, user).await?;
        }
        sqlx::query("UPDATE memberships SET role = $1 WHERE team_id = $2 AND user_id = $3")
            .bind(role.as_str())
            .bind(team.to_string())
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await.map_err(err)
    }

    async fn remove_member(
        &self,
        team: TeamId,
        user: UserId,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        Self::lock_team(&mut tx, team).await.map_err(err)?;
        if Self::current_role(&mut tx, team, user).await? == TeamRole::Lead {
            Self::ensure_other_lead(&mut tx, team, user).await?;
        }
        sqlx::query("DELETE FROM memberships WHERE team_id = $1 AND user_id = $2")
            .bind(team.to_string())
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await.map_err(err)
    }

    async fn create_invitation(
        &self,
        invitation: &NewInvitation,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        sqlx::query(
            "INSERT INTO invitations (id, token_hash, team_id, role, email, invited_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(invitation.id.to_string())
        .bind(&invitation.token_hash)
        .bind(invitation.team_id.map(|t| t.to_string()))
        .bind(invitation.role.as_str())
        .bind(invitation.email.as_ref().map(Email::as_str))
        .bind(invitation.invited_by.to_string())
        .bind(unix(invitation.created_at))
        .bind(unix(invitation.expires_at))
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await.map_err(err)
    }

    async fn invitation_by_token(&self, token_hash: &str) -> StoreResult<Option<InvitationRecord>> {
        sqlx::query_as::<_, InvitationRow>(&format!(
            "{INVITATION_SELECT} WHERE invitations.token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(self.reader())
        .await
        .map_err(err)?
        .map(InvitationRecord::try_from)
        .transpose()
    }

    async fn open_invitations(
        &self,
        team: Option<TeamId>,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<InvitationRecord>> {
        let team_clause = if team.is_some() {
            "invitations.team_id = $2"
        } else {
            "invitations.team_id IS NULL AND $2 = ''"
        };
        sqlx::query_as::<_, InvitationRow>(&format!(
            "{INVITATION_SELECT} WHERE invitations.accepted_at IS NULL \
             AND invitations.revoked_at IS NULL AND invitations.expires_at > $1 AND {team_clause} \
             ORDER BY invitations.created_at DESC"
        ))
        .bind(unix(now))
        .bind(team.map(|t| t.to_string()).unwrap_or_default())
        .fetch_all(self.reader())
        .await
        .map_err(err)?
        .into_iter()
        .map(InvitationRecord::try_from)
        .collect()
    }

    async fn revoke_invitation(
        &self,
        team: Option<TeamId>,
        id: InvitationId,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await.map_err(err)?;
        let changed = sqlx::query(
            "UPDATE invitations SET revoked_at = $1 WHERE id = $2 \
             AND COALESCE(team_id, '') = $3 AND accepted_at IS NULL AND revoked_at IS NULL",
        )
        .bind(unix(now))
        .bind(id.to_string())
        .bind(team.map(|t| t.to_string()).unwrap_or_default())
        .execute(&mut *tx)
        .await
        .map_err(err)?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await.map_err(err)?;
        Ok(true)
    }

    async fn accept_invitation(
        &self,
        token_hash: &str,
        acceptor: &Acceptor,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> StoreResult<InvitationRecord> {
        let mut tx = self.begin_write().await.map_err(err)?;
        let user_id = match acceptor {
            Acceptor::Existing(id) => *id,
            Acceptor::New(user) => user.id,
        };
        // The account comes first so that `accepted_by` can refer to it; if the claim below
        // fails, rolling back removes it again.
        if let Acceptor::New(user) = acceptor {
            insert_user(&mut *tx, user).await?;
        }
        // The conditional update is the single-use guard: of two concurrent acceptances only one
        // sees `accepted_at IS NULL`.
        let claimed: Option<(String, Option<String>, String)> = sqlx::query_as(
            "UPDATE invitations SET accepted_at = $1, accepted_by = $2 \
             WHERE token_hash = $3 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $1 \
             RETURNING id, team_id, role",
        )
        .bind(unix(now))
        .bind(user_id.to_string())
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await
        .map_err(err)?;
        let Some((invitation_id, team_id, role)) = claimed else {
            return Err(StoreError::NotFound);
        };
        if let Some(team_id) = &team_id {
            // An existing member keeps their place; an invitation as lead promotes them.
            sqlx::query(
                "INSERT INTO memberships (team_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (team_id, user_id) DO UPDATE SET role = \
                 CASE WHEN excluded.role = 'lead' THEN 'lead' ELSE memberships.role END",
            )
            .bind(team_id)
            .bind(user_id.to_string())
            .bind(&role)
            .bind(unix(now))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        let record = sqlx::query_as::<_, InvitationRow>(&format!(
            "{INVITATION_SELECT} WHERE invitations.id = $1"
        ))
        .bind(&invitation_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(err)?;
        // The entry names the invitation; its actor is the account that accepted it.
        let audit = AuditEntry {
            actor: Some(user_id),
            ..audit.clone()
        };
        insert_audit(&mut *tx, &audit).await?;
        tx.commit().await.map_err(err)?;
        InvitationRecord::try_from(record)
    }
}
