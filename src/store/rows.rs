//! Row shapes shared by both backends and their conversion into domain values.

use std::str::FromStr;

use crate::domain::{
    ApiTokenId, DisplayName, Email, InvitationId, Team, TeamId, TeamName, TeamRole, TeamSlug, User,
    UserId,
};

use super::{
    from_unix, from_unix_opt, ApiTokenRecord, InvitationRecord, MemberRecord, SessionRecord,
    StoreError, StoreResult,
};

pub(crate) fn parse_id<T: FromStr>(raw: &str) -> StoreResult<T> {
    raw.parse()
        .map_err(|_| StoreError::Corrupt(format!("id {raw:?} is not a UUID")))
}

pub(crate) fn parse_role(raw: &str) -> StoreResult<TeamRole> {
    TeamRole::parse(raw).map_err(|_| StoreError::Corrupt(format!("role {raw:?}")))
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub is_admin: bool,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(row: UserRow) -> StoreResult<User> {
        Ok(User {
            id: parse_id::<UserId>(&row.id)?,
            email: Email::from_stored(row.email),
            name: DisplayName::from_stored(row.display_name),
            is_admin: row.is_admin,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CredentialsRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub password_hash: String,
}

#[derive(sqlx::FromRow)]
pub(crate) struct SessionRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
}

impl TryFrom<SessionRow> for SessionRecord {
    type Error = StoreError;
    fn try_from(row: SessionRow) -> StoreResult<SessionRecord> {
        Ok(SessionRecord {
            user: row.user.try_into()?,
            csrf_token: row.csrf_token,
            created_at: from_unix(row.created_at)?,
            last_seen_at: from_unix(row.last_seen_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApiTokenRow {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_on: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl TryFrom<ApiTokenRow> for ApiTokenRecord {
    type Error = StoreError;
    fn try_from(row: ApiTokenRow) -> StoreResult<ApiTokenRecord> {
        Ok(ApiTokenRecord {
            id: parse_id::<ApiTokenId>(&row.id)?,
            name: row.name,
            prefix: row.prefix,
            created_at: from_unix(row.created_at)?,
            last_used_on: from_unix_opt(row.last_used_on)?,
            revoked_at: from_unix_opt(row.revoked_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TeamRow {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub stuck_after_days: i64,
    pub pulse_min_responses: i64,
}

impl TryFrom<TeamRow> for Team {
    type Error = StoreError;
    fn try_from(row: TeamRow) -> StoreResult<Team> {
        Ok(Team {
            id: parse_id::<TeamId>(&row.id)?,
            slug: TeamSlug::from_stored(row.slug),
            name: TeamName::from_stored(row.name),
            description: row.description,
            stuck_after_days: u32::try_from(row.stuck_after_days)
                .map_err(|_| StoreError::Corrupt("stuck_after_days".into()))?,
            pulse_min_responses: u32::try_from(row.pulse_min_responses)
                .map_err(|_| StoreError::Corrupt("pulse_min_responses".into()))?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TeamWithRoleRow {
    #[sqlx(flatten)]
    pub team: TeamRow,
    pub role: String,
}

#[derive(sqlx::FromRow)]
pub(crate) struct MemberRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub role: String,
    pub joined_at: i64,
}

impl TryFrom<MemberRow> for MemberRecord {
    type Error = StoreError;
    fn try_from(row: MemberRow) -> StoreResult<MemberRecord> {
        Ok(MemberRecord {
            user: row.user.try_into()?,
            role: parse_role(&row.role)?,
            joined_at: from_unix(row.joined_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct InvitationRow {
    pub id: String,
    pub team_id: Option<String>,
    pub team_slug: Option<String>,
    pub team_name: Option<String>,
    pub role: String,
    pub email: Option<String>,
    pub invited_by_name: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl TryFrom<InvitationRow> for InvitationRecord {
    type Error = StoreError;
    fn try_from(row: InvitationRow) -> StoreResult<InvitationRecord> {
        let team = match (row.team_id, row.team_slug, row.team_name) {
            (Some(id), Some(slug), Some(name)) => {
                Some((parse_id::<TeamId>(&id)?, TeamSlug::from_stored(slug), name))
            }
            _ => None,
        };
        Ok(InvitationRecord {
            id: parse_id::<InvitationId>(&row.id)?,
            team,
            role: parse_role(&row.role)?,
            email: row.email.map(Email::from_stored),
            invited_by_name: row.invited_by_name,
            created_at: from_unix(row.created_at)?,
            expires_at: from_unix(row.expires_at)?,
            accepted_at: from_unix_opt(row.accepted_at)?,
            revoked_at: from_unix_opt(row.revoked_at)?,
        })
    }
}
