//! `/api/v1/teams/{slug}/mirror`: the team's dynamics mirror for a quarter (team members only).

use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::domain::mirror::Mirror;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::ApiTeam;
use crate::http::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MirrorParams {
    /// The quarter, "2026Q4" (or "2026-Q4"); the current one when absent.
    pub quarter: Option<String>,
}

/// The team's dynamics mirror: review sessions and loops of one quarter, shown only from the
/// team's minimum group size and never singling out a non-lead.
#[utoipa::path(get, path = "/api/v1/teams/{slug}/mirror", tag = "culture",
    params(("slug" = String, Path), MirrorParams),
    responses((status = 200, body = Mirror),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn show(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Query(params): Query<MirrorParams>,
) -> Result<Json<Mirror>, ApiError> {
    let quarter = state.service.mirror_quarter(params.quarter.as_deref())?;
    Ok(Json(state.service.mirror(&access, quarter).await?))
}
