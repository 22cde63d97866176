//! `/api/v1/teams…`: teams, members and invitations. A team the caller may not see answers 404.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::account::InvitationOut;
use super::rfc3339;
use crate::domain::records::people::MemberRecord;
use crate::domain::{Team, TeamRole};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiTeam, ApiUser};
use crate::http::AppState;

/// A team as the caller sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeamOut {
    /// The team's name in URLs, derived from its name.
    pub slug: String,
    pub name: String,
    pub description: String,
    /// The caller's role; absent for an organisation admin who is not a member.
    pub role: Option<TeamRole>,
    /// Days after which a loop that stays in one stage is flagged as stuck.
    pub stuck_after_days: u32,
}

fn team_out(team: &Team, role: Option<TeamRole>) -> TeamOut {
    TeamOut {
        slug: team.slug.to_string(),
        name: team.name.to_string(),
        description: team.description.clone(),
        role,
        stuck_after_days: team.stuck_after_days,
    }
}

/// The caller's teams (admins: every team).
#[utoipa::path(get, path = "/api/v1/teams", tag = "teams",
    responses((status = 200, body = Vec<TeamOut>), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
) -> Result<Json<Vec<TeamOut>>, ApiError> {
    let teams = state.service.teams_for(&actor).await?;
    Ok(Json(
        teams.iter().map(|t| team_out(&t.team, t.role)).collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTeam {
    /// 1–80 characters.
    pub name: String,
    /// Up to 2000 characters.
    #[serde(default)]
    pub description: String,
}

/// Creates a team with the caller as its lead.
#[utoipa::path(post, path = "/api/v1/teams", tag = "teams", request_body = CreateTeam,
    responses((status = 201, body = TeamOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    ApiJson(body): ApiJson<CreateTeam>,
) -> Result<(StatusCode, Json<TeamOut>), ApiError> {
    let team = state
        .service
        .create_team(&actor, &body.name, &body.description)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(team_out(&team, Some(TeamRole::Lead))),
    ))
}

/// One team.
#[utoipa::path(get, path = "/api/v1/teams/{slug}", tag = "teams",
    params(("slug" = String, Path)),
    responses((status = 200, body = TeamOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn show(ApiTeam { access, .. }: ApiTeam) -> Result<Json<TeamOut>, ApiError> {
    Ok(Json(team_out(access.team(), access.role())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTeam {
    pub name: Option<String>,
    pub description: Option<String>,
    /// 1–365.
    pub stuck_after_days: Option<u32>,
}

/// Changes a team's name, description or stuck threshold (leads and admins).
#[utoipa::path(patch, path = "/api/v1/teams/{slug}", tag = "teams", request_body = UpdateTeam,
    params(("slug" = String, Path)),
    responses((status = 200, body = TeamOut), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn update(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    ApiJson(body): ApiJson<UpdateTeam>,
) -> Result<Json<TeamOut>, ApiError> {
    let current = access.team();
    let team = state
        .service
        .update_team(
            &access,
            body.name.as_deref().unwrap_or(current.name.as_str()),
            body.description.as_deref().unwrap_or(&current.description),
            &body
                .stuck_after_days
                .unwrap_or(current.stuck_after_days)
                .to_string(),
        )
        .await?;
    Ok(Json(team_out(&team, access.role())))
}

/// A member of a team.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberOut {
    pub user_id: String,
    pub name: String,
    pub email: String,
    pub role: TeamRole,
    /// RFC 3339.
    pub joined_at: String,
}

impl From<MemberRecord> for MemberOut {
    fn from(m: MemberRecord) -> Self {
        Self {
            user_id: m.user.id.to_string(),
            name: m.user.name.to_string(),
            email: m.user.email.to_string(),
            role: m.role,
            joined_at: rfc3339(m.joined_at),
        }
    }
}

/// The team's members.
#[utoipa::path(get, path = "/api/v1/teams/{slug}/members", tag = "teams",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<MemberOut>), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list_members(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
) -> Result<Json<Vec<MemberOut>>, ApiError> {
    let members = state.service.members(&access).await?;
    Ok(Json(members.into_iter().map(MemberOut::from).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    /// The email of an existing account.
    pub email: String,
    pub role: TeamRole,
}

/// Adds an existing account to the team (leads and admins).
#[utoipa::path(post, path = "/api/v1/teams/{slug}/members", tag = "teams", request_body = AddMember,
    params(("slug" = String, Path)),
    responses((status = 201, body = MemberOut), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn add_member(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    ApiJson(body): ApiJson<AddMember>,
) -> Result<(StatusCode, Json<MemberOut>), ApiError> {
    let user = state
        .service
        .add_member(&access, &body.email, body.role)
        .await?;
    let member = state
        .service
        .members(&access)
        .await?
        .into_iter()
        .find(|m| m.user.id == user.id)
        .ok_or(crate::service::ServiceError::NotFound)?;
    Ok((StatusCode::CREATED, Json(member.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMember {
    pub role: TeamRole,
}

/// Changes a member's role (leads and admins). A team always keeps one lead.
#[utoipa::path(patch, path = "/api/v1/teams/{slug}/members/{user_id}", tag = "teams", request_body = UpdateMember,
    params(("slug" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn update_member(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, user_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateMember>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .set_member_role(&access, &user_id, body.role)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a member (leads and admins; anyone may remove themselves).
#[utoipa::path(delete, path = "/api/v1/teams/{slug}/members/{user_id}", tag = "teams",
    params(("slug" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn remove_member(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.service.remove_member(&access, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitation {
    pub role: TeamRole,
    /// Whom the link is for; it fills in their sign-up form.
    pub email: Option<String>,
}

/// Open invitations into the team (leads and admins).
#[utoipa::path(get, path = "/api/v1/teams/{slug}/invitations", tag = "teams",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<InvitationOut>), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list_invitations(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
) -> Result<Json<Vec<InvitationOut>>, ApiError> {
    let records = state.service.team_invitations(&access).await?;
    Ok(Json(records.into_iter().map(InvitationOut::from).collect()))
}

/// Creates a one-time invitation link into the team (leads and admins).
#[utoipa::path(post, path = "/api/v1/teams/{slug}/invitations", tag = "teams", request_body = CreateInvitation,
    params(("slug" = String, Path)),
    responses((status = 201, body = InvitationOut), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn invite(
    State(state): State<AppState>,
    ApiTeam { actor, access }: ApiTeam,
    ApiJson(body): ApiJson<CreateInvitation>,
) -> Result<(StatusCode, Json<InvitationOut>), ApiError> {
    let created = state
        .service
        .invite_to_team(&access, body.role, body.email.as_deref())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(InvitationOut {
            id: created.id.to_string(),
            team: Some(access.team().slug.to_string()),
            role: created.role,
            email: body.email,
            invited_by: actor.user.name.to_string(),
            expires_at: rfc3339(created.expires_at),
            link: Some(created.link),
        }),
    ))
}

/// Withdraws an open invitation (leads and admins).
#[utoipa::path(delete, path = "/api/v1/teams/{slug}/invitations/{id}", tag = "teams",
    params(("slug" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn revoke_invitation(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.service.revoke_team_invitation(&access, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
