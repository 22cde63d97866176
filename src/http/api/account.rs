//! `/api/v1/me`, `/tokens`, `/users`, `/invitations`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::rfc3339;
use crate::domain::records::people::ApiTokenRecord;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiUser};
use crate::http::AppState;

/// A person's account.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub id: String,
    pub name: String,
    pub email: String,
    pub is_admin: bool,
}

impl From<&crate::domain::User> for UserOut {
    fn from(user: &crate::domain::User) -> Self {
        Self {
            id: user.id.to_string(),
            name: user.name.to_string(),
            email: user.email.to_string(),
            is_admin: user.is_admin,
        }
    }
}

/// The caller's own account.
#[utoipa::path(get, path = "/api/v1/me", tag = "account",
    responses((status = 200, body = UserOut), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn me(ApiUser(actor): ApiUser) -> Json<UserOut> {
    Json(UserOut::from(&actor.user))
}

/// A personal API token (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    pub id: String,
    pub name: String,
    /// The token's first characters, to tell tokens apart.
    pub prefix: String,
    /// RFC 3339.
    pub created_at: String,
    /// The day of last use (RFC 3339, midnight UTC), if ever used.
    pub last_used_on: Option<String>,
    pub revoked: bool,
}

impl From<ApiTokenRecord> for TokenOut {
    fn from(t: ApiTokenRecord) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name,
            prefix: t.prefix,
            created_at: rfc3339(t.created_at),
            last_used_on: t.last_used_on.map(rfc3339),
            revoked: t.revoked_at.is_some(),
        }
    }
}

/// The caller's tokens.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "account",
    responses((status = 200, body = Vec<TokenOut>), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn list_tokens(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
) -> Result<Json<Vec<TokenOut>>, ApiError> {
    let tokens = state.service.api_tokens(&actor).await?;
    Ok(Json(tokens.into_iter().map(TokenOut::from).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// What the token is for (1–80 characters).
    pub name: String,
}

/// A new token with its secret, returned once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub token: TokenOut,
    /// The secret. It is not stored and cannot be shown again.
    pub secret: String,
}

/// Creates a personal API token for the caller.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "account", request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_token(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    ApiJson(body): ApiJson<CreateToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let (record, secret) = state.service.create_api_token(&actor, &body.name).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token: record.into(),
            secret,
        }),
    ))
}

/// Revokes one of the caller's tokens.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "account",
    params(("id" = String, Path, description = "Token id")),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn revoke_token(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.service.revoke_api_token(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Everyone with an account (organisation admins only).
#[utoipa::path(get, path = "/api/v1/users", tag = "account",
    responses((status = 200, body = Vec<UserOut>), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list_users(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
) -> Result<Json<Vec<UserOut>>, ApiError> {
    let people = state.service.people(&actor).await?;
    Ok(Json(people.iter().map(UserOut::from).collect()))
}

/// An invitation link.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationOut {
    pub id: String,
    /// The team it joins, if any.
    pub team: Option<String>,
    pub role: crate::domain::TeamRole,
    pub email: Option<String>,
    pub invited_by: String,
    /// RFC 3339.
    pub expires_at: String,
    /// The one-time link; present only in the response that created the invitation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

impl From<crate::domain::records::people::InvitationRecord> for InvitationOut {
    fn from(r: crate::domain::records::people::InvitationRecord) -> Self {
        Self {
            id: r.id.to_string(),
            team: r.team.map(|(_, slug, _)| slug.to_string()),
            role: r.role,
            email: r.email.map(|e| e.to_string()),
            invited_by: r.invited_by_name,
            expires_at: rfc3339(r.expires_at),
            link: None,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganisationInvitation {
    /// Whom the link is for (required): only the account with this email can accept it.
    pub email: Option<String>,
}

/// Open invitations to the organisation (admins only).
#[utoipa::path(get, path = "/api/v1/invitations", tag = "account",
    responses((status = 200, body = Vec<InvitationOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list_organisation_invitations(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
) -> Result<Json<Vec<InvitationOut>>, ApiError> {
    let records = state.service.organisation_invitations(&actor).await?;
    Ok(Json(records.into_iter().map(InvitationOut::from).collect()))
}

/// Creates an invitation to the organisation without a team (admins only).
#[utoipa::path(post, path = "/api/v1/invitations", tag = "account", request_body = CreateOrganisationInvitation,
    responses((status = 201, body = InvitationOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "no email, or not an email", body = Problem, content_type = "application/problem+json")))]
pub async fn invite_to_organisation(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    ApiJson(body): ApiJson<CreateOrganisationInvitation>,
) -> Result<(StatusCode, Json<InvitationOut>), ApiError> {
    let created = state
        .service
        .invite_to_organisation(&actor, body.email.as_deref())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(InvitationOut {
            id: created.id.to_string(),
            team: None,
            role: created.role,
            email: body.email,
            invited_by: actor.user.name.to_string(),
            expires_at: rfc3339(created.expires_at),
            link: Some(created.link),
        }),
    ))
}

/// Withdraws an open invitation to the organisation (admins only).
#[utoipa::path(delete, path = "/api/v1/invitations/{id}", tag = "account",
    params(("id" = String, Path, description = "The invitation's id")),
    responses((status = 204, description = "Withdrawn"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No open invitation to the organisation with this id", body = Problem, content_type = "application/problem+json")))]
pub async fn revoke_organisation_invitation(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .revoke_organisation_invitation(&actor, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
