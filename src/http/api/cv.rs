//! The failure CV (`/api/v1/me/cv…`, `/api/v1/people/{person}/cv`) and a team's
//! consistent-success signal and thresholds (`/api/v1/teams/{slug}/success-…`).

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::cv::FailureCv;
use crate::domain::experiments::Outcome;
use crate::domain::success::{SuccessSettings, QUESTION, SUGGESTIONS};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiTeam, ApiUser};
use crate::http::AppState;
use crate::service::success::SuccessSignal;

fn day(at: time::OffsetDateTime) -> String {
    at.date().to_string()
}

/// An intelligent failure on a CV.
#[derive(Debug, Serialize, ToSchema)]
pub struct CvFailureOut {
    pub loop_id: String,
    pub team: String,
    pub title: String,
    /// The day it was noticed (YYYY-MM-DD).
    pub noticed_on: String,
    /// What was learnt: the loop's learnings.
    pub learnings: Vec<String>,
}

/// A concluded experiment on a CV.
#[derive(Debug, Serialize, ToSchema)]
pub struct CvExperimentOut {
    pub experiment_id: String,
    pub team: String,
    pub title: String,
    pub outcome: Outcome,
    /// What was learnt: the learning card's "we learned".
    pub learned: String,
    /// The day it was concluded (YYYY-MM-DD).
    pub concluded_on: String,
}

/// A person's failure CV.
#[derive(Debug, Serialize, ToSchema)]
pub struct FailureCvOut {
    pub person_id: String,
    pub name: String,
    /// Whether members of the organisation can read it.
    pub published: bool,
    /// The day it was published (YYYY-MM-DD), when it is.
    pub published_on: Option<String>,
    pub failures: Vec<CvFailureOut>,
    pub experiments: Vec<CvExperimentOut>,
}

impl From<FailureCv> for FailureCvOut {
    fn from(cv: FailureCv) -> Self {
        FailureCvOut {
            person_id: cv.person_id,
            name: cv.person_name,
            published: cv.published_on.is_some(),
            published_on: cv.published_on.map(day),
            failures: cv
                .failures
                .into_iter()
                .map(|f| CvFailureOut {
                    loop_id: f.loop_id,
                    team: f.team_name,
                    title: f.title,
                    noticed_on: day(f.noticed_on),
                    learnings: f.learnings,
                })
                .collect(),
            experiments: cv
                .experiments
                .into_iter()
                .map(|e| CvExperimentOut {
                    experiment_id: e.experiment_id,
                    team: e.team_name,
                    title: e.title,
                    outcome: e.outcome,
                    learned: e.learned,
                    concluded_on: day(e.concluded_on),
                })
                .collect(),
        }
    }
}

/// Your own failure CV: the intelligent failures and experiments you were named in, with what
/// was learnt. Anonymous loops never appear.
#[utoipa::path(get, path = "/api/v1/me/cv", tag = "account",
    responses((status = 200, body = FailureCvOut), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn mine(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
) -> Result<Json<FailureCvOut>, ApiError> {
    Ok(Json(state.service.my_failure_cv(&actor).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CvVisibility {
    /// `true` publishes your CV to the organisation's members; `false` makes it private again.
    pub published: bool,
}

/// Publishes your CV to the organisation, or makes it private again. Only you can.
#[utoipa::path(put, path = "/api/v1/me/cv/visibility", tag = "account", request_body = CvVisibility,
    responses((status = 200, body = FailureCvOut), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn visibility(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    ApiJson(body): ApiJson<CvVisibility>,
) -> Result<Json<FailureCvOut>, ApiError> {
    Ok(Json(
        state
            .service
            .publish_failure_cv(&actor, body.published)
            .await?
            .into(),
    ))
}

/// The formats of a CV download.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CvFormat {
    #[default]
    Json,
    Markdown,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CvExportParams {
    /// `json` (default) or `markdown`.
    #[param(inline)]
    pub format: Option<CvFormat>,
}

/// Downloads your own CV. There is no download of anyone else's, for anyone.
#[utoipa::path(get, path = "/api/v1/me/cv/export", tag = "account", params(CvExportParams),
    responses((status = 200, description = "The CV as a file",
            content((FailureCvOut = "application/json"), (String = "text/markdown"))),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn export(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Query(params): Query<CvExportParams>,
) -> Result<Response, ApiError> {
    let (content_type, name, body) = match params.format.unwrap_or_default() {
        CvFormat::Json => {
            let cv: FailureCvOut = state.service.my_failure_cv(&actor).await?.into();
            let body = serde_json::to_vec_pretty(&cv)
                .map_err(|e| ApiError::from(crate::service::ServiceError::Internal(e.into())))?;
            ("application/json", "failure-cv.json", body)
        }
        CvFormat::Markdown => (
            "text/markdown; charset=utf-8",
            "failure-cv.md",
            state
                .service
                .export_failure_cv_markdown(&actor)
                .await?
                .into_bytes(),
        ),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// Someone's failure CV, once they published it; 404 otherwise (admins included).
#[utoipa::path(get, path = "/api/v1/people/{person_id}/cv", tag = "account",
    params(("person_id" = String, Path)),
    responses((status = 200, body = FailureCvOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn person(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(person_id): Path<String>,
) -> Result<Json<FailureCvOut>, ApiError> {
    Ok(Json(
        state
            .service
            .published_failure_cv(&actor, &person_id)
            .await?
            .into(),
    ))
}

/// A team's consistent-success thresholds.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuccessSettingsBody {
    /// Quarters (13 weeks each) of concluded experiments read for "all validated": 1–8.
    pub quarters: i64,
    /// Weeks without a logged loop, while the team shipped: 1–52.
    pub quiet_weeks: i64,
    /// Weeks of loops read for "all basic": 1–52.
    pub basic_weeks: i64,
    /// The fewest loops in that window for "all basic" to count: 1–100.
    pub basic_min_loops: i64,
}

impl From<SuccessSettings> for SuccessSettingsBody {
    fn from(s: SuccessSettings) -> Self {
        SuccessSettingsBody {
            quarters: s.quarters.into(),
            quiet_weeks: s.quiet_weeks.into(),
            basic_weeks: s.basic_weeks.into(),
            basic_min_loops: s.basic_min_loops.into(),
        }
    }
}

/// One condition that raised the question.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuccessConditionOut {
    /// `all_validated`, `quiet_while_shipping` or `all_basic`.
    pub condition: String,
    pub explanation: String,
}

/// Whether the essay's question shows on the team's page, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuccessSignalOut {
    pub shows: bool,
    pub question: String,
    pub conditions: Vec<SuccessConditionOut>,
    /// What the team could try.
    pub suggestions: Vec<String>,
    pub settings: SuccessSettingsBody,
}

fn signal_out(signal: SuccessSignal) -> SuccessSignalOut {
    let settings = signal.settings;
    SuccessSignalOut {
        shows: signal.shows(),
        question: QUESTION.to_owned(),
        conditions: signal
            .fired
            .iter()
            .map(|c| SuccessConditionOut {
                condition: c.as_str().to_owned(),
                explanation: c.explain(&settings),
            })
            .collect(),
        suggestions: if signal.shows() {
            SUGGESTIONS.iter().map(|s| (*s).to_owned()).collect()
        } else {
            Vec::new()
        },
        settings: settings.into(),
    }
}

/// The "consistent success" signal (Sitkin 1992): shown when all experiments concluded in the
/// window were validated, when no loop was logged for weeks while the team shipped, or when all
/// recent loops are basic failures.
#[utoipa::path(get, path = "/api/v1/teams/{slug}/success-signal", tag = "culture",
    params(("slug" = String, Path)),
    responses((status = 200, body = SuccessSignalOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn signal(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
) -> Result<Json<SuccessSignalOut>, ApiError> {
    Ok(Json(signal_out(
        state.service.success_signal(&access).await?,
    )))
}

/// Changes the thresholds of the signal (leads and admins).
#[utoipa::path(put, path = "/api/v1/teams/{slug}/success-settings", tag = "culture",
    params(("slug" = String, Path)), request_body = SuccessSettingsBody,
    responses((status = 200, body = SuccessSettingsBody),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn settings(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    ApiJson(body): ApiJson<SuccessSettingsBody>,
) -> Result<Json<SuccessSettingsBody>, ApiError> {
    let saved = state
        .service
        .set_success_settings(
            &access,
            body.quarters,
            body.quiet_weeks,
            body.basic_weeks,
            body.basic_min_loops,
        )
        .await?;
    Ok(Json(saved.into()))
}
