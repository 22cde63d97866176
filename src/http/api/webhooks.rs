//! `/api/v1/webhooks…` (organisation admins) and `/api/v1/teams/{slug}/webhooks…` (the team's
//! leads): signed webhook subscriptions, their delivery log and redelivery; and the schema of
//! what a subscriber receives (`EventPayload`, one schema per event type: `event_schemas`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::rfc3339;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiTeam, ApiUser};
use crate::http::AppState;
use crate::service::webhooks::{WebhookScope, WebhookView};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// The receiver: `https://…` (plain http only where the server allows private addresses).
    pub url: String,
    /// Event types to receive, e.g. `loop.logged`, `action.done` (see `EventPayload.type`).
    pub event_types: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookOut {
    pub id: String,
    /// Absent for an organisation-wide subscription.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    pub url: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Why it was switched off (sustained failure); empty while enabled.
    pub disabled_reason: String,
    /// Since when every attempt has failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<String>,
    /// Until when the previous secret still signs, after a rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_until: Option<String>,
    pub created_at: String,
}

impl From<WebhookView> for WebhookOut {
    fn from(view: WebhookView) -> Self {
        Self {
            id: view.id.to_string(),
            team_id: view.team_id.map(|team| team.to_string()),
            url: view.url,
            event_types: view.event_kinds,
            enabled: view.enabled,
            disabled_reason: view.disabled_reason,
            failing_since: view.failing_since.map(rfc3339),
            previous_secret_until: view.previous_secret_until.map(rfc3339),
            created_at: rfc3339(view.created_at),
        }
    }
}

/// A subscription with its signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: WebhookOut,
    /// `whsec_<base64>`: verify `webhook-signature` with it (Standard Webhooks).
    pub secret: String,
}

/// One attempt in the delivery log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptOut {
    pub delivery_id: String,
    /// The `webhook-id` sent, the same on every attempt of the delivery.
    pub webhook_id: String,
    pub event_type: String,
    pub attempted_at: String,
    /// The receiver's HTTP status; absent when it did not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
    pub latency_ms: i64,
    /// The start of the receiver's answer, or what went wrong.
    pub excerpt: String,
    /// The delivery now: `pending`, `delivered` or `failed`.
    pub delivery_status: String,
}

fn created(result: (WebhookView, String)) -> (StatusCode, Json<WebhookWithSecret>) {
    (
        StatusCode::CREATED,
        Json(WebhookWithSecret {
            webhook: result.0.into(),
            secret: result.1,
        }),
    )
}

fn log(records: Vec<crate::service::webhooks::AttemptRecord>) -> Json<Vec<AttemptOut>> {
    Json(
        records
            .into_iter()
            .map(|a| AttemptOut {
                delivery_id: a.delivery_id.to_string(),
                webhook_id: crate::service::webhooks::webhook_id(a.event_id),
                event_type: a.event_kind,
                attempted_at: rfc3339(a.attempted_at),
                status: a.status_code,
                latency_ms: a.latency_ms,
                excerpt: a.excerpt,
                delivery_status: a.delivery_status,
            })
            .collect(),
    )
}

/// Subscribes an endpoint to every team's events of the given types (organisation admins).
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = CreateWebhook,
    responses((status = 201, body = WebhookWithSecret), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> Result<(StatusCode, Json<WebhookWithSecret>), ApiError> {
    let scope = WebhookScope::Organisation(&actor);
    Ok(created(
        state
            .service
            .create_webhook(scope, &body.url, &body.event_types)
            .await?,
    ))
}

/// The organisation-wide subscriptions (organisation admins).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses((status = 200, body = Vec<WebhookOut>), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
) -> Result<Json<Vec<WebhookOut>>, ApiError> {
    let views = state
        .service
        .webhooks(WebhookScope::Organisation(&actor))
        .await?;
    Ok(Json(views.into_iter().map(WebhookOut::from).collect()))
}

/// Removes an organisation-wide subscription.
#[utoipa::path(delete, path = "/api/v1/webhooks/{webhook_id}", tag = "webhooks",
    params(("webhook_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .delete_webhook(WebhookScope::Organisation(&actor), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret, shown once; the previous one still signs for 24 hours.
#[utoipa::path(post, path = "/api/v1/webhooks/{webhook_id}/rotate", tag = "webhooks",
    params(("webhook_id" = String, Path)),
    responses((status = 201, body = WebhookWithSecret), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn rotate(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<WebhookWithSecret>), ApiError> {
    Ok(created(
        state
            .service
            .rotate_webhook_secret(WebhookScope::Organisation(&actor), &id)
            .await?,
    ))
}

/// Switches a disabled subscription on again.
#[utoipa::path(post, path = "/api/v1/webhooks/{webhook_id}/enable", tag = "webhooks",
    params(("webhook_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn enable(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .enable_webhook(WebhookScope::Organisation(&actor), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Switches a subscription off by hand: nothing is delivered to it until it is switched on again.
#[utoipa::path(post, path = "/api/v1/webhooks/{webhook_id}/disable", tag = "webhooks",
    params(("webhook_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn disable(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .disable_webhook(WebhookScope::Organisation(&actor), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The delivery log, newest first.
#[utoipa::path(get, path = "/api/v1/webhooks/{webhook_id}/attempts", tag = "webhooks",
    params(("webhook_id" = String, Path)),
    responses((status = 200, body = Vec<AttemptOut>), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn attempts(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<String>,
) -> Result<Json<Vec<AttemptOut>>, ApiError> {
    Ok(log(state
        .service
        .webhook_log(WebhookScope::Organisation(&actor), &id)
        .await?))
}

/// Sends a delivery again now, with the same `webhook-id`.
#[utoipa::path(post, path = "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", tag = "webhooks",
    params(("webhook_id" = String, Path), ("delivery_id" = String, Path)),
    responses((status = 202), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn redeliver(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .redeliver_webhook(WebhookScope::Organisation(&actor), &id, &delivery)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// Subscribes an endpoint to the team's events of the given types (leads and admins).
#[utoipa::path(post, path = "/api/v1/teams/{slug}/webhooks", tag = "webhooks", request_body = CreateWebhook,
    params(("slug" = String, Path)),
    responses((status = 201, body = WebhookWithSecret), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn team_create(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> Result<(StatusCode, Json<WebhookWithSecret>), ApiError> {
    Ok(created(
        state
            .service
            .create_webhook(WebhookScope::Team(&access), &body.url, &body.event_types)
            .await?,
    ))
}

/// The team's subscriptions (leads and admins).
#[utoipa::path(get, path = "/api/v1/teams/{slug}/webhooks", tag = "webhooks",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<WebhookOut>), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn team_list(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
) -> Result<Json<Vec<WebhookOut>>, ApiError> {
    let views = state.service.webhooks(WebhookScope::Team(&access)).await?;
    Ok(Json(views.into_iter().map(WebhookOut::from).collect()))
}

/// Removes one of the team's subscriptions.
#[utoipa::path(delete, path = "/api/v1/teams/{slug}/webhooks/{webhook_id}", tag = "webhooks",
    params(("slug" = String, Path), ("webhook_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn team_delete(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .delete_webhook(WebhookScope::Team(&access), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret for one of the team's subscriptions, shown once.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/webhooks/{webhook_id}/rotate", tag = "webhooks",
    params(("slug" = String, Path), ("webhook_id" = String, Path)),
    responses((status = 201, body = WebhookWithSecret), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn team_rotate(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<WebhookWithSecret>), ApiError> {
    Ok(created(
        state
            .service
            .rotate_webhook_secret(WebhookScope::Team(&access), &id)
            .await?,
    ))
}

/// Switches one of the team's disabled subscriptions on again.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/webhooks/{webhook_id}/enable", tag = "webhooks",
    params(("slug" = String, Path), ("webhook_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn team_enable(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .enable_webhook(WebhookScope::Team(&access), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Switches one of the team's subscriptions off by hand.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/webhooks/{webhook_id}/disable", tag = "webhooks",
    params(("slug" = String, Path), ("webhook_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn team_disable(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .disable_webhook(WebhookScope::Team(&access), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The delivery log of one of the team's subscriptions, newest first.
#[utoipa::path(get, path = "/api/v1/teams/{slug}/webhooks/{webhook_id}/attempts", tag = "webhooks",
    params(("slug" = String, Path), ("webhook_id" = String, Path)),
    responses((status = 200, body = Vec<AttemptOut>), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn team_attempts(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, id)): Path<(String, String)>,
) -> Result<Json<Vec<AttemptOut>>, ApiError> {
    Ok(log(state
        .service
        .webhook_log(WebhookScope::Team(&access), &id)
        .await?))
}

/// Sends a delivery of one of the team's subscriptions again now, with the same `webhook-id`.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", tag = "webhooks",
    params(("slug" = String, Path), ("webhook_id" = String, Path), ("delivery_id" = String, Path)),
    responses((status = 202), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn team_redeliver(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, id, delivery)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .redeliver_webhook(WebhookScope::Team(&access), &id, &delivery)
        .await?;
    Ok(StatusCode::ACCEPTED)
}
