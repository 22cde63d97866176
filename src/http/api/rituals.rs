//! A team's failure-share ritual (`/api/v1/teams/{slug}/rituals…`): the schedule (leads), the
//! current round with its state, shares (refused until a lead has shared), closing a round into
//! the team's library.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::rituals::{self, Cadence, RitualShareRecord, WHY_LEAD_FIRST};
use crate::domain::text::Word;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiTeam};
use crate::http::AppState;
use crate::service::rituals::RitualView;
use crate::service::{FieldErrors, ServiceError};

/// A team's ritual schedule.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RitualScheduleBody {
    /// `weekly` or `fortnightly`.
    pub cadence: String,
    /// The weekday a round starts on, in English lower case: `monday` … `sunday`.
    pub weekday: String,
}

/// A share in the current round.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RitualShareBody {
    /// What failed.
    pub failed: String,
    /// What I learnt.
    pub learnt: String,
    /// Shared without a name: held until the round closes, then stored with no author, time or
    /// order. A lead's share that opens the round is always named.
    #[serde(default)]
    pub unnamed: bool,
}

/// A share as the team reads it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RitualShareOut {
    /// The writer's name; absent for an unnamed share.
    pub author: Option<String>,
    pub failed: String,
    pub learnt: String,
}

impl From<RitualShareRecord> for RitualShareOut {
    fn from(s: RitualShareRecord) -> Self {
        RitualShareOut {
            author: s.author_name,
            failed: s.failed,
            learnt: s.learnt,
        }
    }
}

/// The current round.
#[derive(Debug, Serialize, ToSchema)]
pub struct RitualCurrentOut {
    /// The round's first day (YYYY-MM-DD).
    pub opens_on: String,
    /// The next round's first day (YYYY-MM-DD).
    pub next_on: String,
    /// `waiting_for_lead` (members' shares are refused until a lead has shared), `open` or
    /// `closed`.
    pub state: String,
    /// Named shares so far; unnamed ones show once the round closes (not even their number
    /// before).
    pub shares: Vec<RitualShareOut>,
}

/// A closed round in the team's library.
#[derive(Debug, Serialize, ToSchema)]
pub struct RitualPastOut {
    pub opens_on: String,
    pub closed_on: Option<String>,
    pub shares: Vec<RitualShareOut>,
}

/// The team's ritual.
#[derive(Debug, Serialize, ToSchema)]
pub struct RitualOut {
    /// Absent until a lead schedules the ritual.
    pub schedule: Option<RitualScheduleBody>,
    pub current: Option<RitualCurrentOut>,
    /// Closed rounds, newest first.
    pub library: Vec<RitualPastOut>,
    /// Why the round waits for a lead.
    pub why_lead_first: String,
}

fn out(view: RitualView) -> RitualOut {
    RitualOut {
        schedule: view.schedule.map(|s| RitualScheduleBody {
            cadence: s.cadence.as_word().to_owned(),
            weekday: rituals::weekday_word(s.weekday).to_owned(),
        }),
        current: view.current.map(|c| RitualCurrentOut {
            opens_on: c.opens_on.to_string(),
            next_on: c.next_on.to_string(),
            state: c.state.as_word().to_owned(),
            shares: c.shares.into_iter().map(Into::into).collect(),
        }),
        library: view
            .past
            .into_iter()
            .map(|p| RitualPastOut {
                opens_on: p.round.opens_on.date().to_string(),
                closed_on: p.round.closed_at.map(|at| at.date().to_string()),
                shares: p.shares.into_iter().map(Into::into).collect(),
            })
            .collect(),
        why_lead_first: WHY_LEAD_FIRST.to_owned(),
    }
}

/// The team's ritual: its schedule, the current round and the library of closed rounds.
#[utoipa::path(get, path = "/api/v1/teams/{slug}/rituals", tag = "culture",
    params(("slug" = String, Path)),
    responses((status = 200, body = RitualOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn show(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
) -> Result<Json<RitualOut>, ApiError> {
    Ok(Json(out(state.service.ritual(&access).await?)))
}

/// Schedules the ritual (leads and admins).
#[utoipa::path(put, path = "/api/v1/teams/{slug}/rituals/schedule", tag = "culture",
    params(("slug" = String, Path)), request_body = RitualScheduleBody,
    responses((status = 200, body = RitualScheduleBody),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn schedule(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    ApiJson(body): ApiJson<RitualScheduleBody>,
) -> Result<Json<RitualScheduleBody>, ApiError> {
    let mut fields = FieldErrors::default();
    let cadence = Cadence::parse_word(&body.cadence)
        .map_err(|e| fields.push("cadence", e.0))
        .ok();
    let weekday = rituals::parse_weekday(&body.weekday)
        .map_err(|e| fields.push("weekday", e.0))
        .ok();
    let (Some(cadence), Some(weekday)) = (cadence, weekday) else {
        return Err(ServiceError::from(fields).into());
    };
    let saved = state
        .service
        .set_ritual_schedule(&access, cadence, weekday)
        .await?;
    Ok(Json(RitualScheduleBody {
        cadence: saved.cadence.as_word().to_owned(),
        weekday: rituals::weekday_word(saved.weekday).to_owned(),
    }))
}

/// Shares a failure and what was learnt in the current round. Refused with 409 while no lead
/// has shared in it; a lead's first share opens the round.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/rituals/shares", tag = "culture",
    params(("slug" = String, Path)), request_body = RitualShareBody,
    responses((status = 204, description = "Shared"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn share(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    ApiJson(body): ApiJson<RitualShareBody>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .share_in_ritual(&access, &body.failed, &body.learnt, body.unnamed)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Closes the current round into the team's library (leads and admins).
#[utoipa::path(post, path = "/api/v1/teams/{slug}/rituals/close", tag = "culture",
    params(("slug" = String, Path)),
    responses((status = 204, description = "Closed"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn close(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
) -> Result<StatusCode, ApiError> {
    state.service.close_ritual(&access).await?;
    Ok(StatusCode::NO_CONTENT)
}
