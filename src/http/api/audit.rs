//! `/api/v1/audit` (organisation admins) and `/api/v1/sessions` (everyone's own), and an admin
//! ending someone's sessions and tokens at `/api/v1/users/{user_id}/sessions`.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::account::TokenOut;
use super::rfc3339;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::ApiUser;
use crate::http::AppState;
use crate::service::audit::{AuditLine, AuditQuery};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// One action (`sign_in.succeeded`, `member.added`, `token.revoked` …).
    pub action: Option<String>,
    /// The actor's email or account id.
    pub actor: Option<String>,
    /// First day included, `YYYY-MM-DD` (UTC).
    pub from: Option<String>,
    /// Last day included, `YYYY-MM-DD` (UTC).
    pub until: Option<String>,
    /// At most this many entries, newest first (1–10000; 200 when listing, all up to 10000 when
    /// exporting).
    pub limit: Option<i64>,
}

impl From<AuditParams> for AuditQuery {
    fn from(params: AuditParams) -> Self {
        AuditQuery {
            action: params.action,
            actor: params.actor,
            from: params.from,
            until: params.until,
            limit: params.limit,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditExportParams {
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// The audit log, newest first (organisation admins only). Nothing done anonymously is in it.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = Vec<AuditLine>),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Query(params): Query<AuditParams>,
) -> Result<Json<Vec<AuditLine>>, ApiError> {
    let entries = state.service.audit_log(&actor, &params.into()).await?;
    Ok(Json(entries.into_iter().map(AuditLine::from).collect()))
}

/// The audit log as a file (JSON or CSV); the export is itself recorded in the log.
#[utoipa::path(get, path = "/api/v1/audit/export", tag = "audit", params(AuditParams, AuditExportParams),
    responses((status = 200, description = "The entries as a JSON array (the fields of `AuditLine`) or CSV with those columns",
            content((Vec<AuditLine> = "application/json"), (String = "text/csv"))),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn export(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Query(params): Query<AuditParams>,
    Query(format): Query<AuditExportParams>,
) -> Result<Response, ApiError> {
    let file = state
        .service
        .export_audit_log(
            &actor,
            &params.into(),
            format.format.as_deref().unwrap_or(""),
        )
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, file.content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", file.file_name),
            ),
        ],
        file.bytes,
    )
        .into_response())
}

/// One of the caller's browser sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionOut {
    pub id: String,
    /// RFC 3339: when it was signed in.
    pub created_at: String,
    /// The day of last use (RFC 3339, midnight UTC): no finer time is stored.
    pub last_used_on: String,
    /// The browser in a few words ("Firefox on Linux").
    pub user_agent: String,
    /// Whether this request came with it.
    pub current: bool,
}

/// The caller's sessions and tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsOut {
    pub sessions: Vec<SessionOut>,
    pub tokens: Vec<TokenOut>,
}

/// What was ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndedOut {
    pub sessions_ended: u64,
    pub tokens_revoked: u64,
}

/// The caller's browser sessions and API tokens.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "account",
    responses((status = 200, body = SessionsOut), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn sessions(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
) -> Result<Json<SessionsOut>, ApiError> {
    let mine = state.service.my_sessions(&actor).await?;
    Ok(Json(SessionsOut {
        sessions: mine
            .sessions
            .into_iter()
            .map(|session| SessionOut {
                id: session.id,
                created_at: rfc3339(session.created_at),
                last_used_on: rfc3339(session.last_used_on),
                user_agent: session.user_agent,
                current: session.current,
            })
            .collect(),
        tokens: mine.tokens.into_iter().map(TokenOut::from).collect(),
    }))
}

/// Ends one of the caller's sessions: its next request is signed out.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "account",
    params(("id" = String, Path, description = "Session id from `GET /api/v1/sessions`")),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn end(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<String>,
) -> Result<axum::http::StatusCode, ApiError> {
    state.service.end_my_session(&actor, &id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Signs out everywhere else: every session of the caller's but the one of this request
/// (with a token, every session). Tokens stay; revoke them one by one.
#[utoipa::path(post, path = "/api/v1/sessions/end-others", tag = "account",
    responses((status = 200, body = EndedOut), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn end_others(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
) -> Result<Json<EndedOut>, ApiError> {
    let ended = state.service.end_my_other_sessions(&actor).await?;
    Ok(Json(EndedOut {
        sessions_ended: ended.sessions,
        tokens_revoked: ended.tokens,
    }))
}

/// Ends every session of a person and revokes every token of theirs (organisation admins only).
#[utoipa::path(delete, path = "/api/v1/users/{user_id}/sessions", tag = "account",
    params(("user_id" = String, Path, description = "Account id")),
    responses((status = 200, body = EndedOut),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn end_user_sessions(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(user_id): Path<String>,
) -> Result<Json<EndedOut>, ApiError> {
    let ended = state.service.end_sessions_of_user(&actor, &user_id).await?;
    Ok(Json(EndedOut {
        sessions_ended: ended.sessions,
        tokens_revoked: ended.tokens,
    }))
}
