//! `/api/v1/sso/settings`: single sign-on's settings for organisation admins, as the "Single
//! sign-on" page shows them. A field the settings file or the environment sets is listed in
//! `locked` and cannot be changed here; the client secret is write-only.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiUser};
use crate::http::AppState;
use crate::service::sso_settings::{SsoSettingsChange, SsoSettingsView};

/// The OpenID Connect settings in force (never the client secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct SsoSettingsOut {
    /// Whether sign-in through the provider is switched on.
    pub enabled: bool,
    /// Whether it is in force: on, with an issuer URL and a client id.
    pub active: bool,
    pub issuer_url: Option<String>,
    pub client_id: Option<String>,
    /// Whether a client secret is set; the secret itself is never shown again.
    pub client_secret_set: bool,
    /// Scopes asked for beyond `openid email profile`.
    pub scopes: Vec<String>,
    pub groups_claim: Option<String>,
    /// `group=team-slug:role`, one each.
    pub group_teams: Vec<String>,
    /// Passwords refused, except the break-glass admin's.
    pub sso_only: bool,
    pub break_glass_email: Option<String>,
    /// Fields set by the server's configuration (settings file or environment): shown, not
    /// changeable here.
    pub locked: Vec<String>,
    /// The redirect URI to register at the provider.
    pub redirect_url: String,
}

impl From<SsoSettingsView> for SsoSettingsOut {
    fn from(view: SsoSettingsView) -> Self {
        SsoSettingsOut {
            enabled: view.enabled,
            active: view.active,
            issuer_url: view.issuer_url,
            client_id: view.client_id,
            client_secret_set: view.client_secret_set,
            scopes: view.scopes,
            groups_claim: view.groups_claim,
            group_teams: view.group_teams,
            sso_only: view.sso_only,
            break_glass_email: view.break_glass_email,
            locked: view
                .locked
                .iter()
                .map(|field| field.as_str().to_owned())
                .collect(),
            redirect_url: view.redirect_url,
        }
    }
}

/// A change: fields left out stay as they are; an empty string clears a text field; an empty
/// or absent `client_secret` keeps the one set.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoSettingsIn {
    pub enabled: Option<bool>,
    /// Absolute; `https`, or `http` only for localhost or 127.0.0.1.
    pub issuer_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub groups_claim: Option<String>,
    /// `group=team-slug:role` each; the teams must exist.
    pub group_teams: Option<Vec<String>>,
    /// Needs `break_glass_email`.
    pub sso_only: Option<bool>,
    /// An organisation admin's email.
    pub break_glass_email: Option<String>,
}

/// The single sign-on settings (organisation admins only).
#[utoipa::path(get, path = "/api/v1/sso/settings", tag = "account",
    responses((status = 200, body = SsoSettingsOut),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn show(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
) -> Result<Json<SsoSettingsOut>, ApiError> {
    Ok(Json(state.service.sso_settings(&actor).await?.into()))
}

/// Changes the single sign-on settings; in force from the next sign-in on every instance
/// (organisation admins only).
#[utoipa::path(put, path = "/api/v1/sso/settings", tag = "account", request_body = SsoSettingsIn,
    responses((status = 200, body = SsoSettingsOut),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a field is not valid, is locked by the server's configuration, or \"SSO only\" lacks a break-glass admin", body = Problem, content_type = "application/problem+json")))]
pub async fn update(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    ApiJson(body): ApiJson<SsoSettingsIn>,
) -> Result<Json<SsoSettingsOut>, ApiError> {
    let change = SsoSettingsChange {
        enabled: body.enabled,
        issuer_url: body.issuer_url,
        client_id: body.client_id,
        client_secret: body.client_secret,
        scopes: body.scopes.map(|scopes| scopes.join(" ")),
        groups_claim: body.groups_claim,
        group_teams: body.group_teams.map(|lines| lines.join("\n")),
        sso_only: body.sso_only,
        break_glass_email: body.break_glass_email,
    };
    Ok(Json(
        state
            .service
            .change_sso_settings(&actor, &change)
            .await?
            .into(),
    ))
}
