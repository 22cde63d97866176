//! `/api/v1/teams/{slug}/alert-intake` (the team's leads set up the intake) and
//! `/api/v1/teams/{slug}/alerts/{provider}` (monitoring and paging tools post alerts): see
//! `service::alerts` for who may post and what an alert becomes.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::alerts::Provider;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiTeam};
use crate::http::AppState;
use crate::service::alerts::{IntakeOutcome, IntakeProof};

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetUpIntake {
    /// The signing secret PagerDuty shows for its v3 webhook subscription; absent or empty
    /// leaves PagerDuty off.
    #[serde(default)]
    pub pagerduty_secret: String,
}

/// The intake's token, shown this once, and where each tool posts.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntakeCreated {
    /// `ffa_…`: sent as `Authorization: Bearer …` by Alertmanager, Opsgenie and the generic
    /// shape. A previous token stops working.
    pub token: String,
    /// Alertmanager's `webhook_config` URL.
    pub alertmanager_url: String,
    /// PagerDuty's v3 webhook subscription URL (signed with `X-PagerDuty-Signature`).
    pub pagerduty_url: String,
    /// Opsgenie's webhook integration URL.
    pub opsgenie_url: String,
    /// The generic shape's URL.
    pub generic_url: String,
}

/// The generic alert shape, for anything that can post JSON. (Read by `domain::alerts`; this
/// type only describes it in the API document.)
#[derive(Debug, Serialize, ToSchema)]
pub struct GenericAlert {
    /// What makes a re-fired alert the same one (1 to 200 characters).
    pub fingerprint: String,
    /// The loop's title.
    pub title: String,
    /// `firing` (the default) or `resolved`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// What happened (Markdown); defaults to the title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When it began (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub happened_at: Option<String>,
    /// When it was noticed (RFC 3339); defaults to its receipt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noticed_at: Option<String>,
}

/// What the intake did with an alert.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntakeAnswer {
    /// `opened` (a new loop at Detect), `refired` or `resolved` (a timeline entry on the
    /// group's loop), or `ignored`.
    pub outcome: String,
    /// The loop opened or added to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loop_id: Option<String>,
}

/// Sets up (or replaces) the team's alert intake (its leads and organisation admins).
#[utoipa::path(post, path = "/api/v1/teams/{slug}/alert-intake", tag = "alerts",
    params(("slug" = String, Path)), request_body = SetUpIntake,
    responses((status = 201, body = IntakeCreated), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn set_up(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    ApiJson(body): ApiJson<SetUpIntake>,
) -> Result<(StatusCode, Json<IntakeCreated>), ApiError> {
    let token = state
        .service
        .set_up_alert_intake(&access, &body.pagerduty_secret)
        .await?;
    let slug = access.team().slug.as_str().to_owned();
    let url = |provider: Provider| {
        state.service.link(&format!(
            "/api/v1/teams/{slug}/alerts/{}",
            provider.as_str()
        ))
    };
    Ok((
        StatusCode::CREATED,
        Json(IntakeCreated {
            token,
            alertmanager_url: url(Provider::Alertmanager),
            pagerduty_url: url(Provider::PagerDuty),
            opsgenie_url: url(Provider::Opsgenie),
            generic_url: url(Provider::Generic),
        }),
    ))
}

/// Takes one alert delivery: Alertmanager's webhook v4, PagerDuty's v3 webhook, Opsgenie's
/// webhook integration, or the generic shape (`fingerprint`, `title`, optional `status`
/// firing|resolved, `description`, `happened_at`, `noticed_at`). Authenticated by the intake's
/// token (`Authorization: Bearer ffa_…`), or for PagerDuty by `X-PagerDuty-Signature`; a bad
/// one gets 401 and nothing is written.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/alerts/{provider}", tag = "alerts",
    params(("slug" = String, Path),
        ("provider" = String, Path, pattern = "^(alertmanager|pagerduty|opsgenie|generic)$"),
        ("X-PagerDuty-Signature" = Option<String>, Header, description = "PagerDuty only: v1=<hex HMAC-SHA256 of the body>")),
    request_body(content = GenericAlert, content_type = "application/json",
        description = "The generic shape; Alertmanager, PagerDuty and Opsgenie post their own documented JSON"),
    security(("intake" = [])),
    responses((status = 202, body = IntakeAnswer), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn receive(
    State(state): State<AppState>,
    Path((slug, provider)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<IntakeAnswer>), ApiError> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let proof = IntakeProof {
        bearer: header("authorization").and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        }),
        pagerduty_signature: header("x-pagerduty-signature"),
    };
    let outcome = state
        .service
        .receive_alert(&slug, &provider, proof, &body)
        .await?;
    let (outcome, loop_id) = match outcome {
        IntakeOutcome::Opened(id) => ("opened", Some(id)),
        IntakeOutcome::Refired(id) => ("refired", Some(id)),
        IntakeOutcome::Resolved(id) => ("resolved", Some(id)),
        IntakeOutcome::Ignored => ("ignored", None),
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(IntakeAnswer {
            outcome: outcome.to_owned(),
            loop_id: loop_id.map(|id| id.to_string()),
        }),
    ))
}
