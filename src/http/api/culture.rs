//! `/api/v1/teams/{slug}/pulse-rounds…`, `/recognitions…` and `/leaders-first`.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::rfc3339;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiTeam};
use crate::http::AppState;
use crate::service::culture::RoundView;

fn day(at: time::OffsetDateTime) -> String {
    at.format(time::macros::format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResultsOut {
    pub responses: usize,
    /// Mean of the respondents' means, 1–7.
    pub team_score: f64,
    /// Standard deviation of the respondents' means.
    pub spread: f64,
    /// Responses per member at opening.
    pub response_rate: Option<f64>,
    /// Per item: how many chose 1 … 7 (as answered).
    pub distributions: Vec<Vec<u32>>,
    /// Per item: the mean scored value (items 1, 3, 5 reverse-scored).
    pub item_means: Vec<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoundOut {
    pub id: String,
    pub opened_at: String,
    pub opened_by: Option<String>,
    /// Answers are taken until the end of this day (UTC).
    pub closes_on: String,
    pub closed_at: Option<String>,
    pub open: bool,
    pub responses: i64,
    pub members_at_open: i64,
    /// How many people could answer: the members at opening, or more when people joined while
    /// the round was open; never fewer than the responses. The response rate's denominator.
    pub could_answer: i64,
    pub min_responses: i64,
    pub answered_by_me: bool,
    /// Only once closed and with enough responses.
    pub results: Option<ResultsOut>,
    /// Only when there are at least ten responses (in single-round views), sorted by text.
    pub comments: Option<Vec<String>>,
    /// Why results are withheld.
    pub withheld: Option<String>,
}

fn round_out(v: RoundView) -> RoundOut {
    RoundOut {
        id: v.record.id.to_string(),
        opened_at: rfc3339(v.record.opened_at),
        opened_by: v.record.opened_by_name.clone(),
        closes_on: day(v.record.closes_on),
        closed_at: v.record.closed_at.map(rfc3339),
        open: v.open,
        responses: v.record.responses,
        members_at_open: v.record.members_at_open,
        could_answer: v.could_answer,
        min_responses: v.record.min_responses,
        answered_by_me: v.answered_by_me,
        results: v.results.map(|r| ResultsOut {
            responses: r.responses,
            team_score: r.team_score,
            spread: r.spread,
            response_rate: v.response_rate,
            distributions: r.distributions.iter().map(|d| d.to_vec()).collect(),
            item_means: r.item_means.to_vec(),
        }),
        comments: v.comments,
        withheld: v.withheld,
    }
}

/// The team's pulse rounds, newest first.
#[utoipa::path(get, path = "/api/v1/teams/{slug}/pulse-rounds", tag = "culture",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<RoundOut>), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn rounds(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
) -> Result<Json<Vec<RoundOut>>, ApiError> {
    let views = state.service.pulse_rounds(&access).await?;
    Ok(Json(views.into_iter().map(round_out).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenRound {
    /// YYYY-MM-DD: the last day answers are taken (until its end, UTC). Today or later, and
    /// before 9999-12-31: the calendar's last day has no end to close at, so it is refused.
    pub closes_on: String,
}

/// Opens a pulse round (leads).
#[utoipa::path(post, path = "/api/v1/teams/{slug}/pulse-rounds", tag = "culture", request_body = OpenRound,
    params(("slug" = String, Path)),
    responses((status = 201, body = RoundOut), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn open_round(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    ApiJson(body): ApiJson<OpenRound>,
) -> Result<(StatusCode, Json<RoundOut>), ApiError> {
    let id = state
        .service
        .open_pulse_round(&access, &body.closes_on)
        .await?;
    let view = state.service.pulse_round(&access, &id.to_string()).await?;
    Ok((StatusCode::CREATED, Json(round_out(view))))
}

/// One round (with comments when there are enough responses).
#[utoipa::path(get, path = "/api/v1/teams/{slug}/pulse-rounds/{round_id}", tag = "culture",
    params(("slug" = String, Path), ("round_id" = String, Path)),
    responses((status = 200, body = RoundOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn round(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, round_id)): Path<(String, String)>,
) -> Result<Json<RoundOut>, ApiError> {
    Ok(Json(round_out(
        state.service.pulse_round(&access, &round_id).await?,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    /// Seven answers, 1 (very inaccurate) to 7 (very accurate), in the items' order.
    pub answers: Vec<u8>,
    pub comment: Option<String>,
}

/// Answers a round, once and anonymously.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/pulse-rounds/{round_id}/answers", tag = "culture", request_body = AnswerBody,
    params(("slug" = String, Path), ("round_id" = String, Path)),
    responses((status = 204), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn answer(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, round_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<AnswerBody>,
) -> Result<StatusCode, ApiError> {
    let answers: Vec<Option<u8>> = body.answers.into_iter().map(Some).collect();
    state
        .service
        .answer_pulse(
            &access,
            &round_id,
            &answers,
            body.comment.as_deref().unwrap_or(""),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Closes a round early (leads).
#[utoipa::path(post, path = "/api/v1/teams/{slug}/pulse-rounds/{round_id}/close", tag = "culture",
    params(("slug" = String, Path), ("round_id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn close(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, round_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.service.close_pulse_round(&access, &round_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The aggregates of every shown round as CSV (no individual answer, no comment).
#[utoipa::path(get, path = "/api/v1/teams/{slug}/pulse-results.csv", tag = "culture",
    params(("slug" = String, Path)),
    responses((status = 200, content_type = "text/csv", body = String)))]
pub async fn csv(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
) -> Result<Response, ApiError> {
    let csv = state.service.pulse_csv(&access).await?;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PulseSettings {
    /// 3–50.
    pub min_responses: u32,
}

/// Sets the minimum number of responses before results show (leads; never below 3).
#[utoipa::path(put, path = "/api/v1/teams/{slug}/pulse-settings", tag = "culture", request_body = PulseSettings,
    params(("slug" = String, Path)),
    responses((status = 204), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn settings(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    ApiJson(body): ApiJson<PulseSettings>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .set_pulse_threshold(&access, &body.min_responses.to_string())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecognitionOut {
    pub id: String,
    pub giver: Option<String>,
    pub receiver_id: String,
    pub receiver: String,
    pub behaviour: String,
    pub impact: String,
    pub created_at: String,
    /// The team expectation it honours, when the giver named one.
    pub expectation_id: Option<String>,
    pub expectation: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// How far back, in days (default 90).
    pub days: Option<i64>,
}

/// The team's recognition feed.
#[utoipa::path(get, path = "/api/v1/teams/{slug}/recognitions", tag = "culture",
    params(("slug" = String, Path), FeedParams),
    responses((status = 200, body = Vec<RecognitionOut>)))]
pub async fn recognitions(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Query(params): Query<FeedParams>,
) -> Result<Json<Vec<RecognitionOut>>, ApiError> {
    let list = state
        .service
        .recognitions(&access, params.days.unwrap_or(90))
        .await?;
    Ok(Json(
        list.into_iter()
            .map(|r| RecognitionOut {
                id: r.id.to_string(),
                giver: r.giver.map(|g| g.name),
                receiver_id: r.receiver.id.to_string(),
                receiver: r.receiver.name,
                behaviour: r.behaviour,
                impact: r.impact,
                created_at: rfc3339(r.created_at),
                expectation_id: r.expectation.as_ref().map(|(id, _)| id.to_string()),
                expectation: r.expectation.map(|(_, text)| text),
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecogniseBody {
    pub receiver_id: String,
    /// The situation and the behaviour.
    pub behaviour: String,
    /// The difference it made.
    pub impact: String,
    /// The id of one of this team's expectations in force that it honours (422 naming the
    /// field otherwise).
    pub expectation_id: Option<String>,
}

/// Recognises a teammate for something specific.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/recognitions", tag = "culture", request_body = RecogniseBody,
    params(("slug" = String, Path)),
    responses((status = 201), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn recognise(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    ApiJson(body): ApiJson<RecogniseBody>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .recognise(
            &access,
            &body.receiver_id,
            &body.behaviour,
            &body.impact,
            body.expectation_id.as_deref(),
        )
        .await?;
    Ok(StatusCode::CREATED)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FairnessParams {
    /// Window in days (default 90).
    pub days: Option<i64>,
    /// "Not recognised" after this many weeks (default 6).
    pub weeks: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupOut {
    pub group: String,
    /// Absent when the group is too small to show (or would reveal one that is).
    pub people: Option<u64>,
    pub received: Option<u64>,
    pub below_four_fifths: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FairnessOut {
    pub window_days: i64,
    pub total: usize,
    pub members: usize,
    pub minimum_group_size: usize,
    /// Why the per-person figures are withheld.
    pub withheld: Option<String>,
    pub per_person: Option<Vec<(String, u64)>>,
    pub gini: Option<f64>,
    pub not_recognised: Option<Vec<String>>,
    pub top_three_pairs_share: Option<f64>,
    pub distinct_pairs: usize,
    pub groups: Vec<GroupOut>,
}

/// How recognition is spread across the team (leads and admins).
#[utoipa::path(get, path = "/api/v1/teams/{slug}/recognitions/fairness", tag = "culture",
    params(("slug" = String, Path), FairnessParams),
    responses((status = 200, body = FairnessOut), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn fairness(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Query(params): Query<FairnessParams>,
) -> Result<Json<FairnessOut>, ApiError> {
    let f = state
        .service
        .recognition_fairness(
            &access,
            params.days.unwrap_or(90),
            params.weeks.unwrap_or(6),
        )
        .await?;
    Ok(Json(FairnessOut {
        window_days: f.window_days,
        total: f.total,
        members: f.members,
        minimum_group_size: f.min,
        withheld: f.withheld,
        per_person: f.per_person.map(|list| {
            list.into_iter()
                .map(|person| (person.name, person.received))
                .collect()
        }),
        gini: f.gini,
        not_recognised: f.not_recognised,
        top_three_pairs_share: f.top_pairs_share,
        distinct_pairs: f.distinct_pairs,
        groups: f
            .groups
            .into_iter()
            .map(|group| GroupOut {
                group: group.label.to_owned(),
                people: group.shown.then_some(group.heads),
                received: group.shown.then_some(group.received),
                below_four_fifths: group.below_four_fifths,
            })
            .collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LeaderOut {
    pub name: String,
    /// Failures logged under their own name this quarter.
    pub failures_shared: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LeadersFirstOut {
    pub quarter: String,
    pub leads: Vec<LeaderOut>,
}

/// Whether the team's leads logged failures of their own this quarter (counts only).
#[utoipa::path(get, path = "/api/v1/teams/{slug}/leaders-first", tag = "culture",
    params(("slug" = String, Path)),
    responses((status = 200, body = LeadersFirstOut)))]
pub async fn leaders_first(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
) -> Result<Json<LeadersFirstOut>, ApiError> {
    let (quarter, leads) = state.service.leaders_first(&access).await?;
    Ok(Json(LeadersFirstOut {
        quarter,
        leads: leads
            .into_iter()
            .map(|(_, name, failures_shared)| LeaderOut {
                name,
                failures_shared,
            })
            .collect(),
    }))
}
