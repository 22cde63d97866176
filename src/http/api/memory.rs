//! The organisation's memory over JSON: search, similar loops, the learning library and the
//! loop-health dashboards.

use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::rfc3339;
use crate::domain::loops::{FactorReason, FailureType, Stage};
use crate::domain::search::DocKind;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiTeam, ApiUser};
use crate::http::highlight::{marked_html, unmarked};
use crate::http::web::form::{Choice, Reading};
use crate::http::AppState;
use crate::service::{HealthReport, MedianFigure, SearchInput, SimilarLoop, TeamRef};

/// Search filters; every value is optional.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words (the last also matches as a prefix), `"a phrase"`, `-excluded`. Anything else is
    /// read as words: no query is an error.
    pub q: Option<String>,
    /// A team's slug (one you belong to).
    pub team: Option<String>,
    /// `loop`, `learning`, `factor`, `action` or `experiment`.
    #[serde(default)]
    #[param(value_type = Option<DocKind>)]
    pub kind: Choice<DocKind>,
    /// Loops in this stage.
    #[serde(default)]
    #[param(value_type = Option<Stage>)]
    pub stage: Choice<Stage>,
    /// Loops with this tag.
    pub tag: Option<String>,
    /// Created on or after this date (`YYYY-MM-DD`).
    pub from: Option<String>,
    /// Created on or before this date (`YYYY-MM-DD`).
    pub to: Option<String>,
    /// From 1.
    pub page: Option<String>,
    /// 1–100, default 20.
    pub per_page: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamRefOut {
    pub slug: String,
    pub name: String,
}

impl From<TeamRef> for TeamRefOut {
    fn from(team: TeamRef) -> Self {
        TeamRefOut {
            slug: team.slug,
            name: team.name,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoopRefOut {
    pub id: String,
    pub title: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHitOut {
    pub kind: DocKind,
    pub id: String,
    /// Plain text.
    pub title: String,
    /// Plain text of the passage that matched.
    pub snippet: String,
    /// The snippet as HTML: escaped, with matches in `<mark>`.
    pub snippet_html: String,
    pub title_html: String,
    pub created_at: String,
    pub score: f64,
    /// Absent for an organisation-visible learning of a team you are not in.
    pub team: Option<TeamRefOut>,
    /// The loop it belongs to, when you may open it.
    #[serde(rename = "loop")]
    pub loop_ref: Option<LoopRefOut>,
    pub stage: Option<Stage>,
    /// Only on a hit for a loop logged under a name (the loop itself, not its factors,
    /// learnings or actions); never for anonymous ones.
    pub author: Option<String>,
    pub anonymous: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchOut {
    pub hits: Vec<SearchHitOut>,
    /// How many matches were ranked (at most 2000).
    pub total: i64,
    /// True when more than `total` records matched; only the newest were ranked.
    pub capped: bool,
    pub page: i64,
    pub per_page: i64,
}

/// Full-text search over the loops, learnings, contributing factors, action items and
/// experiments you may see.
#[utoipa::path(get, path = "/api/v1/search", tag = "memory",
    params(SearchParams),
    responses((status = 200, body = SearchOut), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn search(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Query(params): Query<SearchParams>,
) -> Result<Json<SearchOut>, ApiError> {
    let mut reading = Reading::default();
    let kind = reading.optional_choice("kind", &params.kind);
    let stage = reading.optional_choice("stage", &params.stage);
    reading.finish()?;
    let page = state
        .service
        .search(
            &actor,
            &SearchInput {
                q: params.q.unwrap_or_default(),
                team: params.team,
                kind,
                stage,
                tag: params.tag,
                from: params.from,
                to: params.to,
                page: params.page,
                per_page: params.per_page,
            },
        )
        .await?;
    Ok(Json(SearchOut {
        hits: page
            .hits
            .into_iter()
            .map(|hit| SearchHitOut {
                kind: hit.kind,
                id: hit.id,
                title: unmarked(&hit.title),
                snippet: unmarked(&hit.snippet),
                snippet_html: marked_html(&hit.snippet),
                title_html: marked_html(&hit.title),
                created_at: rfc3339(hit.at),
                score: hit.score,
                team: hit.team.map(Into::into),
                loop_ref: hit.loop_link.map(|(id, title)| LoopRefOut {
                    id: id.to_string(),
                    title,
                }),
                stage: hit.stage,
                author: hit.author_name,
                anonymous: hit.anonymous,
            })
            .collect(),
        total: page.total,
        capped: page.capped,
        page: page.page,
        per_page: page.per_page,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimilarIn {
    pub title: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarLoopOut {
    pub id: String,
    pub team: TeamRefOut,
    pub title: String,
    pub stage: Stage,
    pub created_at: String,
    pub learnings: Vec<String>,
    pub actions_total: usize,
    pub actions_done: usize,
    pub actions_open: usize,
    /// Every action was done, yet something similar is happening: the learning may not have held.
    pub possible_recurrence: bool,
    /// Why it is shown: words of the new text this loop shares (as the ranking compares words,
    /// plurals and endings folded), the rarest in the pool first; at most eight.
    pub shared_words: Vec<String>,
}

impl From<SimilarLoop> for SimilarLoopOut {
    fn from(s: SimilarLoop) -> Self {
        SimilarLoopOut {
            possible_recurrence: s.suggests_recurrence(),
            shared_words: s.shared_words.clone(),
            id: s.id.to_string(),
            team: s.team.into(),
            title: s.title,
            stage: s.stage,
            created_at: rfc3339(s.created_at),
            learnings: s.learnings,
            actions_total: s.actions_total,
            actions_done: s.actions_done,
            actions_open: s.actions_open,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarOut {
    pub loops: Vec<SimilarLoopOut>,
}

/// Earlier loops like the one being written (best first, at most five), among the loops you may
/// see, with their learnings and how their actions stand.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/loops/similar", tag = "memory",
    params(("slug" = String, Path)), request_body = SimilarIn,
    responses((status = 200, body = SimilarOut), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn similar(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    ApiJson(body): ApiJson<SimilarIn>,
) -> Result<Json<SimilarOut>, ApiError> {
    let loops = state
        .service
        .similar_loops(&access, &body.title, &body.description)
        .await?;
    Ok(Json(SimilarOut {
        loops: loops.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LibraryParams {
    /// A contributing-factor reason, e.g. `process_inadequacy`.
    pub theme: Option<String>,
    pub tag: Option<String>,
    pub page: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LibraryItemOut {
    pub statement: String,
    pub created_at: String,
    /// Absent when the learning comes from a team you are not in ("from a private team").
    pub team: Option<TeamRefOut>,
    #[serde(rename = "loop")]
    pub loop_ref: Option<LoopRefOut>,
    pub themes: Vec<FactorReason>,
    pub tags: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CountOut {
    pub key: String,
    pub count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LibraryOut {
    pub learnings: Vec<LibraryItemOut>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    pub themes: Vec<CountOut>,
    pub tags: Vec<CountOut>,
}

/// The learning library: learnings shared with the whole organisation, newest first.
#[utoipa::path(get, path = "/api/v1/library", tag = "memory",
    params(LibraryParams),
    responses((status = 200, body = LibraryOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn library(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Query(params): Query<LibraryParams>,
) -> Result<Json<LibraryOut>, ApiError> {
    let view = state
        .service
        .library(
            &actor,
            params.theme.as_deref(),
            params.tag.as_deref(),
            params.page.as_deref(),
        )
        .await?;
    Ok(Json(LibraryOut {
        learnings: view
            .items
            .into_iter()
            .map(|item| {
                let (team, loop_ref) = match item.source {
                    Some((team, id, title)) => (
                        Some(team.into()),
                        Some(LoopRefOut {
                            id: id.to_string(),
                            title,
                        }),
                    ),
                    None => (None, None),
                };
                LibraryItemOut {
                    statement: item.statement,
                    created_at: rfc3339(item.created_at),
                    team,
                    loop_ref,
                    themes: item.themes,
                    tags: item.tags,
                }
            })
            .collect(),
        total: view.total,
        page: view.page,
        per_page: view.per_page,
        themes: view
            .themes
            .into_iter()
            .map(|(key, count)| CountOut {
                key: key.as_str().to_owned(),
                count,
            })
            .collect(),
        tags: view
            .tags
            .into_iter()
            .map(|(key, count)| CountOut { key, count })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HealthParams {
    /// `30`, `90` (default), `365` or `all` days.
    pub range: Option<String>,
}

/// A median read off counted buckets, so approximate: the exact median lies in
/// `[low_seconds, high_seconds)`; `median_seconds` is the middle of that interval (the middle
/// value, or the mean of the two middle values for an even count).
#[derive(Debug, Serialize, ToSchema)]
pub struct MedianOut {
    /// `null` when no loop has the figure yet.
    pub median_seconds: Option<i64>,
    /// The exact median is at most this many seconds from `median_seconds`; `null` when no loop
    /// has the figure or the median falls in the last, open-ended bucket (3 years or more).
    pub within_seconds: Option<i64>,
    /// The lowest the exact median can be.
    pub low_seconds: Option<i64>,
    /// Above the exact median; `null` when open-ended.
    pub high_seconds: Option<i64>,
    /// How many loops the median is taken over.
    pub loops: usize,
}

impl From<MedianFigure> for MedianOut {
    fn from(m: MedianFigure) -> Self {
        MedianOut {
            median_seconds: m.median.map(|x| x.estimate()),
            within_seconds: m.median.and_then(|x| x.within()),
            low_seconds: m.median.map(|x| x.low),
            high_seconds: m.median.and_then(|x| x.high),
            loops: m.loops,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StageCountOut {
    pub stage: Stage,
    pub loops: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TypeCountOut {
    /// `null` for loops not classified yet.
    #[serde(rename = "type")]
    pub kind: Option<FailureType>,
    pub loops: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommittedLossOut {
    pub currency: String,
    pub money_minor: i64,
    pub person_days_tenths: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthOut {
    /// `30`, `90`, `365` or `all`: loops logged in that many days.
    pub range: String,
    /// How many teams are covered; `null` for every team (an admin's organisation view).
    pub teams: Option<usize>,
    pub loops: i64,
    pub by_stage: Vec<StageCountOut>,
    pub by_type: Vec<TypeCountOut>,
    /// From happening to noticing.
    pub time_to_detect: MedianOut,
    /// From logging to entering Apply.
    pub time_to_analyse: MedianOut,
    /// From entering Apply to entering Continue.
    pub time_to_apply: MedianOut,
    pub stuck: i64,
    pub open_actions: i64,
    pub overdue_actions: i64,
    /// Loops flagged on capture as a possible recurrence.
    pub possible_recurrences: i64,
    /// Follow-up checks that found the failure had recurred.
    pub follow_ups_recurred: i64,
    pub experiments: Vec<CountOut>,
    pub committed_loss: Vec<CommittedLossOut>,
}

fn health_out(report: HealthReport) -> HealthOut {
    HealthOut {
        range: report.range.as_str().to_owned(),
        teams: report.teams,
        loops: report.total_loops,
        by_stage: report
            .by_stage
            .into_iter()
            .map(|(stage, loops)| StageCountOut { stage, loops })
            .collect(),
        by_type: report
            .by_type
            .into_iter()
            .map(|(kind, loops)| TypeCountOut { kind, loops })
            .collect(),
        time_to_detect: report.time_to_detect.into(),
        time_to_analyse: report.time_to_analyse.into(),
        time_to_apply: report.time_to_apply.into(),
        stuck: report.stuck,
        open_actions: report.open_actions,
        overdue_actions: report.overdue_actions,
        possible_recurrences: report.flagged_recurrences,
        follow_ups_recurred: report.follow_ups_recurred,
        experiments: report
            .experiments_by_status
            .into_iter()
            .map(|(key, count)| CountOut { key, count })
            .collect(),
        committed_loss: report
            .committed_loss
            .into_iter()
            .map(
                |(currency, money_minor, person_days_tenths)| CommittedLossOut {
                    currency,
                    money_minor,
                    person_days_tenths,
                },
            )
            .collect(),
    }
}

/// One team's loop health.
#[utoipa::path(get, path = "/api/v1/teams/{slug}/health", tag = "memory",
    params(("slug" = String, Path), HealthParams),
    responses((status = 200, body = HealthOut), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn team_health(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Query(params): Query<HealthParams>,
) -> Result<Json<HealthOut>, ApiError> {
    let report = state
        .service
        .team_health(&access, params.range.as_deref())
        .await?;
    Ok(Json(health_out(report)))
}

/// The organisation's loop health: every team for an admin, your own teams otherwise.
#[utoipa::path(get, path = "/api/v1/health", tag = "memory",
    params(HealthParams),
    responses((status = 200, body = HealthOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn organisation_health(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Query(params): Query<HealthParams>,
) -> Result<Json<HealthOut>, ApiError> {
    let report = state
        .service
        .organisation_health(&actor, params.range.as_deref())
        .await?;
    Ok(Json(health_out(report)))
}
