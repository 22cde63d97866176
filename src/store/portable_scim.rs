//! SCIM provisioning's statements, the same on SQLite and PostgreSQL.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::portable_events::insert_audit;
use super::portable_people::insert_team;
use super::ThisStore;
use crate::domain::audit::AuditEntry;
use crate::domain::{DisplayName, Email, Team, TeamId, TeamName, User, UserId};
use crate::store::backend::BackendHooks;
use crate::store::rows::parse_id;
use crate::store::scim::{
    ScimGroupRecord, ScimGroupState, ScimStore, ScimTokenInfo, ScimUserFilter, ScimUserRecord,
    ScimUserState,
};
use crate::store::{from_unix, unix, NewUser, StoreError, StoreResult};

fn err(error: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(error)
}

type ScimUserRow = (
    String,
    String,
    String,
    String,
    bool,
    i64,
    Option<i64>,
    Option<String>,
    Option<i64>,
);

/// Ends every session and revokes every token of `user` within `tx`.
async fn end_everything_of(
    tx: &mut sqlx::Transaction<'_, super::Db>,
    user: UserId,
    now: OffsetDateTime,
) -> StoreResult<(u64, u64)> {
    let sessions = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user.to_string())
        .execute(&mut **tx)
        .await
        .map_err(err)?
        .rows_affected();
    let tokens = sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
    )
    .bind(unix(now))
    .bind(user.to_string())
    .execute(&mut **tx)
    .await
    .map_err(err)?
    .rows_affected();
    Ok((sessions, tokens))
}

async fn upsert_scim_user(
    tx: &mut sqlx::Transaction<'_, super::Db>,
    user: UserId,
    user_name: &str,
    external_id: Option<&str>,
    deleted: bool,
    now: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO scim_users (user_id, user_name, external_id, deleted, updated_at) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (user_id) DO UPDATE SET user_name = excluded.user_name, \
         external_id = excluded.external_id, deleted = excluded.deleted, \
         updated_at = excluded.updated_at",
    )
    .bind(user.to_string())
    .bind(user_name)
    .bind(external_id)
    .bind(deleted)
    .bind(unix(now))
    .execute(&mut **tx)
    .await
    .map_err(err)?;
    Ok(())
}

#[async_trait]
impl ScimStore for ThisStore {
    async fn scim_token_hash(&self) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT token_hash FROM scim_tokens WHERE id = 'organisation'")
            .fetch_optional(self.reader())
            .await
            .map_err(err)
    }

    async fn set_scim_token(
        &self,
        hash: &str,
        prefix: &str,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        sqlx::query(
            "INSERT INTO scim_tokens (id, token_hash, prefix, created_at) \
             VALUES ('organisation', $1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, \
             prefix = excluded.prefix, created_at = excluded.created_at",
        )
        .bind(hash)
        .bind(prefix)
        .bind(unix(now))
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await.map_err(err)
    }

    async fn scim_token_info(&self) -> StoreResult<Option<ScimTokenInfo>> {
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT prefix, created_at FROM scim_tokens WHERE id = 'organisation'")
                .fetch_optional(self.reader())
                .await
                .map_err(err)?;
        row.map(|(prefix, created_at)| {
            Ok(ScimTokenInfo {
                prefix,
                created_at: from_unix(created_at)?,
            })
        })
        .transpose()
    }

    async fn delete_scim_token(&self, audit: &AuditEntry) -> StoreResult<bool> {
        let mut tx = self.begin_write().await.map_err(err)?;
        let deleted = sqlx::query("DELETE FROM scim_tokens WHERE id = 'organisation'")
            .execute(&mut *tx)
            .await
            .map_err(err)?
            .rows_affected();
        if deleted == 0 {
            return Ok(false);
        }
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await.map_err(err)?;
        Ok(true)
    }

    async fn scim_users(&self, filter: &ScimUserFilter) -> StoreResult<Vec<ScimUserRecord>> {
        let rows: Vec<ScimUserRow> = sqlx::query_as(
            "SELECT users.id, COALESCE(scim_users.user_name, users.email), users.email, users.display_name, users.is_admin, users.created_at, \
             users.deactivated_at, scim_users.external_id, scim_users.updated_at \
             FROM users LEFT JOIN scim_users ON scim_users.user_id = users.id \
             WHERE (scim_users.deleted IS NULL OR scim_users.deleted = FALSE) \
             AND (CAST($1 AS TEXT) IS NULL OR users.id = $1) \
             AND (CAST($2 AS TEXT) IS NULL \
                  OR LOWER(COALESCE(scim_users.user_name, users.email)) = LOWER($2)) \
             AND (CAST($3 AS TEXT) IS NULL OR scim_users.external_id = $3) \
             ORDER BY users.created_at, users.id",
        )
        .bind(filter.id.map(|id| id.to_string()))
        .bind(filter.user_name.as_deref())
        .bind(filter.external_id.as_deref())
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(
                |(
                    id,
                    user_name,
                    email,
                    name,
                    is_admin,
                    created,
                    deactivated,
                    external_id,
                    updated,
                )| {
                    Ok(ScimUserRecord {
                        user_name,
                        user: User {
                            id: parse_id(&id)?,
                            email: Email::from_stored(email),
                            name: DisplayName::from_stored(name),
                            is_admin,
                        },
                        external_id,
                        active: deactivated.is_none(),
                        created_at: from_unix(created)?,
                        updated_at: from_unix(updated.unwrap_or(created).max(created))?,
                    })
                },
            )
            .collect()
    }

    async fn scim_create_user(
        &self,
        user: &NewUser,
        user_name: &str,
        external_id: Option<&str>,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
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
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        upsert_scim_user(
            &mut tx,
            user.id,
            user_name,
            external_id,
            false,
            user.created_at,
        )
        .await?;
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await.map_err(err)
    }

    async fn scim_save_user(
        &self,
        state: &ScimUserState,
        audit: &AuditEntry,
    ) -> StoreResult<(u64, u64)> {
        let mut tx = self.begin_write().await.map_err(err)?;
        let changed = sqlx::query(
            "UPDATE users SET email = $1, display_name = $2, \
             deactivated_at = CASE WHEN $3 THEN NULL ELSE COALESCE(deactivated_at, $4) END \
             WHERE id = $5",
        )
        .bind(state.email.as_str())
        .bind(state.name.as_str())
        .bind(state.active)
        .bind(unix(state.now))
        .bind(state.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(err)?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        upsert_scim_user(
            &mut tx,
            state.id,
            &state.user_name,
            state.external_id.as_deref(),
            false,
            state.now,
        )
        .await?;
        let ended = if state.active {
            (0, 0)
        } else {
            end_everything_of(&mut tx, state.id, state.now).await?
        };
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await.map_err(err)?;
        Ok(ended)
    }

    async fn scim_delete_user(
        &self,
        id: UserId,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await.map_err(err)?;
        let known: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT COALESCE(scim_users.user_name, users.email), scim_users.external_id \
             FROM users LEFT JOIN scim_users ON scim_users.user_id = users.id WHERE users.id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(err)?;
        let Some((user_name, external_id)) = known else {
            return Ok(false);
        };
        let changed = sqlx::query(
            "UPDATE users SET deactivated_at = COALESCE(deactivated_at, $1) WHERE id = $2",
        )
        .bind(unix(now))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(err)?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        upsert_scim_user(&mut tx, id, &user_name, external_id.as_deref(), true, now).await?;
        end_everything_of(&mut tx, id, now).await?;
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await.map_err(err)?;
        Ok(true)
    }

    async fn scim_groups(
        &self,
        id: Option<TeamId>,
        name: Option<&str>,
    ) -> StoreResult<Vec<ScimGroupRecord>> {
        let rows: Vec<(String, String, Option<String>, i64, i64)> = sqlx::query_as(
            "SELECT teams.id, teams.name, scim_groups.external_id, scim_groups.created_at, \
             scim_groups.updated_at FROM scim_groups JOIN teams ON teams.id = scim_groups.team_id \
             WHERE (CAST($1 AS TEXT) IS NULL OR teams.id = $1) \
             AND (CAST($2 AS TEXT) IS NULL OR teams.name = $2) \
             ORDER BY scim_groups.created_at, teams.id",
        )
        .bind(id.map(|id| id.to_string()))
        .bind(name)
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        let members: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT memberships.team_id, users.id, users.display_name FROM memberships \
             JOIN users ON users.id = memberships.user_id \
             JOIN scim_groups ON scim_groups.team_id = memberships.team_id \
             WHERE (CAST($1 AS TEXT) IS NULL OR memberships.team_id = $1) \
             ORDER BY memberships.joined_at, users.id",
        )
        .bind(id.map(|id| id.to_string()))
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|(team, name, external_id, created, updated)| {
                let of_team = members
                    .iter()
                    .filter(|(t, _, _)| *t == team)
                    .map(|(_, user, name)| Ok((parse_id(user)?, name.clone())))
                    .collect::<StoreResult<Vec<_>>>()?;
                Ok(ScimGroupRecord {
                    team: parse_id(&team)?,
                    name: TeamName::from_stored(name),
                    external_id,
                    created_at: from_unix(created)?,
                    updated_at: from_unix(updated)?,
                    members: of_team,
                })
            })
            .collect()
    }

    async fn scim_create_group(
        &self,
        team: &Team,
        external_id: Option<&str>,
        members: &[UserId],
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        insert_team(&mut tx, team, now).await?;
        sqlx::query(
            "INSERT INTO scim_groups (team_id, external_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $3)",
        )
        .bind(team.id.to_string())
        .bind(external_id)
        .bind(unix(now))
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        for member in members {
            sqlx::query(
                "INSERT INTO memberships (team_id, user_id, role, joined_at) \
                 VALUES ($1, $2, 'member', $3) ON CONFLICT DO NOTHING",
            )
            .bind(team.id.to_string())
            .bind(member.to_string())
            .bind(unix(now))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await.map_err(err)
    }

    async fn scim_save_group(&self, state: &ScimGroupState, audit: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        let team = state.team.to_string();
        let linked = sqlx::query(
            "UPDATE scim_groups SET external_id = $1, updated_at = $2 WHERE team_id = $3",
        )
        .bind(state.external_id.as_deref())
        .bind(unix(state.now))
        .bind(&team)
        .execute(&mut *tx)
        .await
        .map_err(err)?
        .rows_affected();
        if linked == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("UPDATE teams SET name = $1 WHERE id = $2")
            .bind(state.name.as_str())
            .bind(&team)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        let current: Vec<(String, String)> =
            sqlx::query_as("SELECT user_id, role FROM memberships WHERE team_id = $1")
                .bind(&team)
                .fetch_all(&mut *tx)
                .await
                .map_err(err)?;
        let wanted: Vec<String> = state.members.iter().map(ToString::to_string).collect();
        let leads_before = current.iter().filter(|(_, role)| role == "lead").count();
        let leads_after = current
            .iter()
            .filter(|(user, role)| role == "lead" && wanted.contains(user))
            .count();
        if leads_before > 0 && leads_after == 0 {
            return Err(StoreError::Refused("a team keeps at least one lead"));
        }
        for (user, _) in current.iter().filter(|(user, _)| !wanted.contains(user)) {
            sqlx::query("DELETE FROM memberships WHERE team_id = $1 AND user_id = $2")
                .bind(&team)
                .bind(user)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        for user in wanted
            .iter()
            .filter(|user| !current.iter().any(|(u, _)| u == *user))
        {
            sqlx::query(
                "INSERT INTO memberships (team_id, user_id, role, joined_at) \
                 VALUES ($1, $2, 'member', $3)",
            )
            .bind(&team)
            .bind(user)
            .bind(unix(state.now))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await.map_err(err)
    }

    async fn scim_delete_group(&self, team: TeamId, audit: &AuditEntry) -> StoreResult<bool> {
        let mut tx = self.begin_write().await.map_err(err)?;
        let deleted = sqlx::query("DELETE FROM scim_groups WHERE team_id = $1")
            .bind(team.to_string())
            .execute(&mut *tx)
            .await
            .map_err(err)?
            .rows_affected();
        if deleted == 0 {
            return Ok(false);
        }
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await.map_err(err)?;
        Ok(true)
    }
}
