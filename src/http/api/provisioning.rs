//! `/api/v1/scim/token`: the organisation's SCIM token, for admins who set provisioning up from
//! the identity provider's side (the operator's `failforward admin scim-token` does the same).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::rfc3339;
use crate::domain::records::scim::ScimTokenInfo;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::ApiUser;
use crate::http::AppState;

/// Whether SCIM provisioning is on, and how to recognise its token (never the token itself).
#[derive(Debug, Serialize, ToSchema)]
pub struct ScimTokenStatus {
    /// Whether a token exists: SCIM requests are refused without one.
    pub configured: bool,
    /// The token's first characters, as the identity provider's settings show them.
    pub prefix: Option<String>,
    /// When the current token was made (RFC 3339).
    pub created_at: Option<String>,
}

/// A new SCIM token, shown this once; the one before it stopped working.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScimTokenCreated {
    /// The bearer token for the identity provider's SCIM client.
    pub token: String,
    pub prefix: String,
    pub created_at: String,
}

impl From<Option<ScimTokenInfo>> for ScimTokenStatus {
    fn from(info: Option<ScimTokenInfo>) -> Self {
        ScimTokenStatus {
            configured: info.is_some(),
            prefix: info.as_ref().map(|info| info.prefix.clone()),
            created_at: info.map(|info| rfc3339(info.created_at)),
        }
    }
}

/// Whether SCIM is on (organisation admins only).
#[utoipa::path(get, path = "/api/v1/scim/token", tag = "account",
    responses((status = 200, body = ScimTokenStatus),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn status(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
) -> Result<Json<ScimTokenStatus>, ApiError> {
    Ok(Json(state.service.scim_token_info(&actor).await?.into()))
}

/// Makes a new SCIM token, replacing the current one at once (organisation admins only).
#[utoipa::path(post, path = "/api/v1/scim/token", tag = "account",
    responses((status = 201, body = ScimTokenCreated),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn rotate(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
) -> Result<(StatusCode, Json<ScimTokenCreated>), ApiError> {
    let (token, info) = state.service.rotate_scim_token(Some(&actor)).await?;
    Ok((
        StatusCode::CREATED,
        Json(ScimTokenCreated {
            token,
            prefix: info.prefix,
            created_at: rfc3339(info.created_at),
        }),
    ))
}

/// Switches SCIM off: the token stops working; accounts and teams it made stay (organisation
/// admins only).
#[utoipa::path(delete, path = "/api/v1/scim/token", tag = "account",
    responses((status = 204), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn revoke(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
) -> Result<StatusCode, ApiError> {
    if state.service.revoke_scim_token(&actor).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(crate::service::ServiceError::NotFound.into())
    }
}
