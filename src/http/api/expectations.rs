//! A team's expectations (`/api/v1/teams/{slug}/expectations…`): leads write, change, revisit and
//! retire them; members acknowledge and comment (a comment may be unnamed).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::expectations::Measure;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiTeam};
use crate::http::AppState;
use crate::service::expectations::{CommentFate, ExpectationView, ExpectationsView};

/// A measure the product computes from the team's own records, with its target.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasureBody {
    pub kind: Measure,
    /// 0–100: experiments per member (at least), median days (at most) or a percentage (at least).
    pub target: i64,
}

/// How the team is doing this quarter against a measurable expectation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExpectationProgressOut {
    /// The quarter the figure covers ("2026-Q4"), up to today.
    pub period: String,
    /// The figure; absent while there is nothing to compute it from.
    pub figure: Option<f64>,
    /// The figure as the page shows it.
    pub shown: String,
    /// Whether it meets the target; absent without a figure.
    pub met: Option<bool>,
    /// What it was computed from.
    pub basis: String,
    pub target_meaning: String,
}

/// A comment on an expectation: an unnamed one has no author and only its day.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExpectationCommentOut {
    pub id: String,
    pub author: Option<String>,
    pub text: String,
    /// The day (YYYY-MM-DD).
    pub written_on: String,
}

/// An expectation in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExpectationOut {
    pub id: String,
    pub text: String,
    pub measure: Option<MeasureBody>,
    pub progress: Option<ExpectationProgressOut>,
    pub written_by: Option<String>,
    /// The quarter it was written or last revisited in.
    pub revisited: String,
    /// The quarter is over since: leads revisit it.
    pub needs_revisit: bool,
    /// Members who acknowledged it this quarter.
    pub acknowledgements: usize,
    pub acknowledged_by_me: bool,
    pub comments: Vec<ExpectationCommentOut>,
}

/// The team's expectations.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExpectationListOut {
    pub quarter: String,
    /// Whether the reader may write, change, revisit and retire them.
    pub can_manage: bool,
    /// Whether the quarterly revisit reminder shows (leads only).
    pub revisit_due: bool,
    pub expectations: Vec<ExpectationOut>,
}

fn out(view: ExpectationView) -> ExpectationOut {
    let r = view.record;
    ExpectationOut {
        id: r.id.to_string(),
        text: r.text,
        measure: r.measure.map(|(kind, target)| MeasureBody { kind, target }),
        progress: view.progress.map(|p| ExpectationProgressOut {
            period: p.quarter.to_string(),
            figure: p.figure,
            shown: p.shown(),
            met: p.met,
            basis: p.basis.clone(),
            target_meaning: p.measure.describe(p.target),
        }),
        written_by: r.written_by,
        revisited: r.revisited.to_string(),
        needs_revisit: view.needs_revisit,
        acknowledgements: view.acknowledgements,
        acknowledged_by_me: view.acknowledged_by_me,
        comments: view
            .comments
            .into_iter()
            .map(|c| ExpectationCommentOut {
                id: c.id.to_string(),
                author: c.author,
                text: c.text,
                written_on: c.written_on.date().to_string(),
            })
            .collect(),
    }
}

fn list_out(view: ExpectationsView) -> ExpectationListOut {
    ExpectationListOut {
        quarter: view.quarter.to_string(),
        can_manage: view.can_manage,
        revisit_due: view.revisit_due(),
        expectations: view.items.into_iter().map(out).collect(),
    }
}

/// An expectation as a lead writes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectationBody {
    /// 1–500 characters.
    pub text: String,
    /// Makes the expectation measurable; absent for words only.
    pub measure: Option<MeasureBody>,
}

/// A comment; `unnamed` keeps no author and only the day, and shows after midnight UTC.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectationCommentBody {
    pub text: String,
    #[serde(default)]
    pub unnamed: bool,
}

/// What became of a comment.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentAcceptedOut {
    /// `written`, or `held_until_midnight` for an unnamed comment.
    pub status: String,
}

/// The team's expectations, with this quarter's figures, acknowledgements and comments.
#[utoipa::path(get, path = "/api/v1/teams/{slug}/expectations", tag = "culture",
    params(("slug" = String, Path)),
    responses((status = 200, body = ExpectationListOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
) -> Result<Json<ExpectationListOut>, ApiError> {
    Ok(Json(list_out(state.service.expectations(&access).await?)))
}

/// Writes an expectation (leads and admins).
#[utoipa::path(post, path = "/api/v1/teams/{slug}/expectations", tag = "culture",
    params(("slug" = String, Path)), request_body = ExpectationBody,
    responses((status = 201, body = ExpectationOut),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    ApiJson(body): ApiJson<ExpectationBody>,
) -> Result<(StatusCode, Json<ExpectationOut>), ApiError> {
    let view = state
        .service
        .create_expectation(
            &access,
            &body.text,
            body.measure.map(|m| (m.kind, m.target)),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(out(view))))
}

/// Changes an expectation's words or measure (leads and admins).
#[utoipa::path(put, path = "/api/v1/teams/{slug}/expectations/{expectation_id}", tag = "culture",
    params(("slug" = String, Path), ("expectation_id" = String, Path)), request_body = ExpectationBody,
    responses((status = 200, body = ExpectationOut),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn update(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ExpectationBody>,
) -> Result<Json<ExpectationOut>, ApiError> {
    let view = state
        .service
        .update_expectation(
            &access,
            &id,
            &body.text,
            body.measure.map(|m| (m.kind, m.target)),
        )
        .await?;
    Ok(Json(out(view)))
}

/// Retires an expectation (leads and admins): it leaves the list.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/expectations/{expectation_id}/retire", tag = "culture",
    params(("slug" = String, Path), ("expectation_id" = String, Path)),
    responses((status = 204),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn retire(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.service.retire_expectation(&access, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Marks an expectation as revisited this quarter (leads and admins), ending the reminder.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/expectations/{expectation_id}/revisit", tag = "culture",
    params(("slug" = String, Path), ("expectation_id" = String, Path)),
    responses((status = 200, body = ExpectationOut),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn revisit(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, id)): Path<(String, String)>,
) -> Result<Json<ExpectationOut>, ApiError> {
    Ok(Json(out(state
        .service
        .revisit_expectation(&access, &id)
        .await?)))
}

/// Acknowledges an expectation for this quarter, under one's name (members; again is a no-op).
#[utoipa::path(post, path = "/api/v1/teams/{slug}/expectations/{expectation_id}/acknowledgements", tag = "culture",
    params(("slug" = String, Path), ("expectation_id" = String, Path)),
    responses((status = 200, body = ExpectationOut),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn acknowledge(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, id)): Path<(String, String)>,
) -> Result<Json<ExpectationOut>, ApiError> {
    Ok(Json(out(state
        .service
        .acknowledge_expectation(&access, &id)
        .await?)))
}

/// Comments on an expectation (members). An unnamed comment is held until midnight UTC and
/// written then with no author and only its day.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/expectations/{expectation_id}/comments", tag = "culture",
    params(("slug" = String, Path), ("expectation_id" = String, Path)), request_body = ExpectationCommentBody,
    responses((status = 201, body = CommentAcceptedOut),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn comment(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ExpectationCommentBody>,
) -> Result<(StatusCode, Json<CommentAcceptedOut>), ApiError> {
    let fate = state
        .service
        .comment_on_expectation(&access, &id, &body.text, body.unnamed)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CommentAcceptedOut {
            status: match fate {
                CommentFate::Written => "written",
                CommentFate::HeldUntilMidnight => "held_until_midnight",
            }
            .to_owned(),
        }),
    ))
}
