//! `/api/v1/teams/{slug}/loops…`: the learning loop over JSON, and the anonymous reporter's
//! `/api/v1/reporter/{secret}` (no sign-in: the secret link is the only credential).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::rfc3339;
use crate::domain::loops::{
    ActionStatus, FactorReason, FailureType, ImpactScale, LoopKind, LoopSort, Questionnaire, Stage,
    Suggestion, Visibility,
};
use crate::domain::records::loops::{ActionRecord, LoopRecord};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiTeam};
use crate::http::web::form::{Choice, Reading};
use crate::http::AppState;
use crate::service::{AccountInput, LoopDetail, LoopInput, LoopQuery, RecurrenceLink, ReviewInput};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLoop {
    /// 1–140 characters.
    pub title: String,
    /// Markdown, up to 20 000 characters.
    pub what_happened: String,
    /// Markdown; needed before the loop can move to Analyse.
    #[serde(default)]
    pub what_was_expected: String,
    /// RFC 3339, or `YYYY-MM-DDTHH:MM` read as UTC.
    pub happened_at: Option<String>,
    /// Defaults to now; not in the future; not before `happened_at`.
    pub noticed_at: Option<String>,
    /// Defaults to `minor`.
    pub impact_scale: Option<ImpactScale>,
    /// Who or what was affected.
    #[serde(default)]
    pub impact_affected: String,
    /// One tag an item, at most 12: each up to 32 characters with a letter or digit and no
    /// comma (a client splits its list itself), kept lower-cased with runs of spaces, `-` and
    /// `_` made one `-`; items naming the same tag count once.
    #[serde(default)]
    pub tags: Vec<String>,
    /// When true, nothing stored links the loop to the caller; `reporter_link` comes back once.
    #[serde(default)]
    pub anonymous: bool,
}

/// The earlier loop a loop may repeat; its fields are absent when it is in a team you are not in.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecurrenceOut {
    pub loop_id: Option<String>,
    /// The earlier loop's team slug.
    pub team: Option<String>,
    pub title: Option<String>,
    /// Why it was flagged: mechanism words both loops use, the most telling first (empty when
    /// the earlier loop is in a team you are not in).
    pub why: Vec<String>,
    /// Contributing-factor reasons both loops name.
    pub shared_factors: Vec<String>,
    /// The team's verdict: `confirmed`, or absent (a dismissed flag is removed).
    pub verdict: Option<String>,
}

/// A team's verdict on a loop's possible-recurrence flag.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecurrenceVerdictBody {
    /// `confirmed` (it recurred) or `dismissed` (not the same failure: the pair is never
    /// flagged again).
    pub verdict: String,
}

/// Who logged a loop.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReporterOut {
    pub anonymous: bool,
    /// Absent for anonymous loops.
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImpactOut {
    pub scale: ImpactScale,
    pub affected: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoopReviewOut {
    pub aar_intended: String,
    pub aar_actual: String,
    pub aar_difference: String,
    pub aar_lessons: String,
    pub went_well: String,
    pub went_wrong: String,
    pub got_lucky: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OverrideOut {
    #[serde(rename = "type")]
    pub kind: FailureType,
    pub reason: String,
    pub by: Option<String>,
    pub at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClassificationOut {
    pub answers: Option<Questionnaire>,
    pub suggestion: Option<Suggestion>,
    #[serde(rename = "override")]
    pub type_override: Option<OverrideOut>,
    /// The override when there is one, else the suggestion.
    #[serde(rename = "type")]
    pub kind: Option<FailureType>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FollowUpOut {
    pub on: Option<String>,
    pub recurred: Option<bool>,
    pub held: Option<bool>,
    pub note: Option<String>,
    pub answered_at: Option<String>,
    pub answered_by: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdditionOut {
    /// The day it was added (midnight UTC).
    pub added_on: String,
    /// Absent when written by the anonymous reporter.
    pub by: Option<String>,
    pub by_reporter: bool,
    pub body: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StageChangeOut {
    pub from: Option<Stage>,
    pub to: Stage,
    pub at: String,
    /// Absent for the creation of an anonymous loop.
    pub by: Option<String>,
    pub note: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEventOut {
    pub id: String,
    pub occurred_at: String,
    pub description: String,
    pub added_by: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FactorOut {
    pub id: String,
    pub reason: FactorReason,
    pub description: String,
    pub added_by: Option<String>,
    pub added_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountOut {
    pub id: String,
    pub anonymous: bool,
    pub by: Option<String>,
    pub added_on: String,
    pub actions: String,
    pub observations: String,
    pub expectations: String,
    pub assumptions: String,
    pub timeline_understanding: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LearningOut {
    pub id: String,
    pub statement: String,
    pub visibility: Visibility,
    pub by: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActionOut {
    pub id: String,
    pub loop_id: String,
    pub loop_title: String,
    pub title: String,
    pub owner_id: Option<String>,
    pub owner: Option<String>,
    /// A date, `YYYY-MM-DD`.
    pub due_on: Option<String>,
    pub status: ActionStatus,
    pub overdue: bool,
    pub dropped_reason: String,
    pub created_at: String,
    pub closed_at: Option<String>,
}

fn day(at: time::OffsetDateTime) -> String {
    at.format(time::macros::format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

/// An action item as the API shows it; whether it is overdue is the service's word.
fn action_out(a: ActionRecord, overdue: bool) -> ActionOut {
    ActionOut {
        overdue,
        id: a.id.to_string(),
        loop_id: a.loop_id.to_string(),
        loop_title: a.loop_title,
        title: a.title,
        owner_id: a.owner.as_ref().map(|p| p.id.to_string()),
        owner: a.owner.map(|p| p.name),
        due_on: a.due_on.map(day),
        status: a.status,
        dropped_reason: a.dropped_reason,
        created_at: rfc3339(a.created_at),
        closed_at: a.closed_at.map(rfc3339),
    }
}

/// A loop with everything attached.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoopOut {
    pub id: String,
    pub kind: LoopKind,
    pub title: String,
    /// As first written; never changed.
    pub what_happened: String,
    pub what_was_expected: String,
    pub happened_at: Option<String>,
    pub noticed_at: String,
    /// `noticed_at − happened_at`, when both are known.
    pub time_to_detect_seconds: Option<i64>,
    pub impact: ImpactOut,
    pub reporter: ReporterOut,
    /// For anonymous loops, midnight UTC of the day.
    pub created_at: String,
    pub stage: Stage,
    pub stage_entered_at: String,
    /// The stage the loop may move on to now, if any.
    pub next_stage: Option<Stage>,
    /// What is missing before it can move on.
    pub blocker: Option<String>,
    /// Why the loop needs attention (stuck, follow-up due), if it does.
    pub attention: Option<String>,
    pub tags: Vec<String>,
    pub review: LoopReviewOut,
    pub classification: ClassificationOut,
    pub follow_up: FollowUpOut,
    pub source_experiment_id: Option<String>,
    pub next_experiment_id: Option<String>,
    /// Flagged within seconds of capture (the check runs after the request, so the capture's own
    /// response does not carry it): an earlier similar loop had all its actions done, so the
    /// learning may not have held.
    pub possible_recurrence: Option<RecurrenceOut>,
    pub additions: Vec<AdditionOut>,
    pub history: Vec<StageChangeOut>,
    pub timeline: Vec<TimelineEventOut>,
    pub factors: Vec<FactorOut>,
    pub accounts: Vec<AccountOut>,
    pub learnings: Vec<LearningOut>,
    pub actions: Vec<ActionOut>,
}

fn record_fields(r: &LoopRecord) -> (ReporterOut, ClassificationOut, FollowUpOut) {
    (
        ReporterOut {
            anonymous: r.anonymous,
            name: r.author.as_ref().map(|p| p.name.clone()),
        },
        ClassificationOut {
            answers: r.classification.as_ref().map(|(a, _)| *a),
            suggestion: r.classification.as_ref().map(|(_, s)| s.clone()),
            type_override: r.type_override.as_ref().map(|o| OverrideOut {
                kind: o.kind,
                reason: o.reason.clone(),
                by: o.by_name.clone(),
                at: rfc3339(o.at),
            }),
            kind: r.failure_type(),
        },
        FollowUpOut {
            on: r.follow_up.on.map(day),
            recurred: r.follow_up.recurred,
            held: r.follow_up.held,
            note: r.follow_up.note.clone(),
            answered_at: r.follow_up.answered_at.map(rfc3339),
            answered_by: r.follow_up.answered_by_name.clone(),
        },
    )
}

pub(crate) fn loop_out(detail: LoopDetail) -> LoopOut {
    let r = &detail.record;
    let (reporter, classification, follow_up) = record_fields(r);
    let overdue: Vec<bool> = detail
        .actions
        .iter()
        .map(|a| detail.is_overdue(a))
        .collect();
    LoopOut {
        id: r.id.to_string(),
        kind: r.kind,
        title: r.title.clone(),
        what_happened: r.what_happened.clone(),
        what_was_expected: r.what_was_expected.clone(),
        happened_at: r.happened_at.map(rfc3339),
        noticed_at: rfc3339(r.noticed_at),
        time_to_detect_seconds: r.happened_at.map(|h| (r.noticed_at - h).whole_seconds()),
        impact: ImpactOut {
            scale: r.impact_scale,
            affected: r.impact_affected.clone(),
        },
        reporter,
        created_at: rfc3339(r.created_at),
        stage: r.stage,
        stage_entered_at: rfc3339(r.stage_entered_at),
        next_stage: detail.next.as_ref().ok().copied(),
        blocker: detail.next.as_ref().err().cloned(),
        attention: detail.attention.as_ref().map(|a| a.describe()),
        tags: r.tags.clone(),
        review: LoopReviewOut {
            aar_intended: r.review.aar_intended.clone(),
            aar_actual: r.review.aar_actual.clone(),
            aar_difference: r.review.aar_difference.clone(),
            aar_lessons: r.review.aar_lessons.clone(),
            went_well: r.review.went_well.clone(),
            went_wrong: r.review.went_wrong.clone(),
            got_lucky: r.review.got_lucky.clone(),
        },
        classification,
        follow_up,
        source_experiment_id: r.source_experiment_id.clone(),
        next_experiment_id: r.next_experiment_id.clone(),
        possible_recurrence: detail.recurrence.as_ref().map(|link| match link {
            RecurrenceLink::Visible {
                team_slug,
                id,
                title,
                why,
                shared_factors,
                verdict,
            } => RecurrenceOut {
                loop_id: Some(id.to_string()),
                team: Some(team_slug.clone()),
                title: Some(title.clone()),
                why: why.clone(),
                shared_factors: shared_factors
                    .iter()
                    .map(|f| f.as_str().to_owned())
                    .collect(),
                verdict: verdict.map(|v| v.as_str().to_owned()),
            },
            RecurrenceLink::Hidden { verdict } => RecurrenceOut {
                loop_id: None,
                team: None,
                title: None,
                why: Vec::new(),
                shared_factors: Vec::new(),
                verdict: verdict.map(|v| v.as_str().to_owned()),
            },
        }),
        additions: detail
            .additions
            .iter()
            .map(|a| AdditionOut {
                added_on: day(a.added_on),
                by: a.author_name.clone(),
                by_reporter: a.by_reporter,
                body: a.body.clone(),
            })
            .collect(),
        history: detail
            .history
            .iter()
            .map(|h| StageChangeOut {
                from: h.from,
                to: h.to,
                at: if h.from.is_none() && r.anonymous {
                    day(h.at)
                } else {
                    rfc3339(h.at)
                },
                by: h.by_name.clone(),
                note: h.note.clone(),
            })
            .collect(),
        timeline: detail
            .timeline
            .iter()
            .map(|e| TimelineEventOut {
                id: e.id.to_string(),
                occurred_at: rfc3339(e.occurred_at),
                description: e.description.clone(),
                added_by: e.added_by_name.clone(),
            })
            .collect(),
        factors: detail
            .factors
            .iter()
            .map(|f| FactorOut {
                id: f.id.to_string(),
                reason: f.reason,
                description: f.description.clone(),
                added_by: f.added_by_name.clone(),
                added_at: rfc3339(f.added_at),
            })
            .collect(),
        accounts: detail
            .accounts
            .iter()
            .map(|a| AccountOut {
                id: a.id.to_string(),
                anonymous: a.anonymous,
                by: a.author_name.clone(),
                added_on: day(a.added_on),
                actions: a.actions.clone(),
                observations: a.observations.clone(),
                expectations: a.expectations.clone(),
                assumptions: a.assumptions.clone(),
                timeline_understanding: a.timeline_understanding.clone(),
            })
            .collect(),
        learnings: detail
            .learnings
            .iter()
            .map(|l| LearningOut {
                id: l.id.to_string(),
                statement: l.statement.clone(),
                visibility: l.visibility,
                by: l.created_by_name.clone(),
                created_at: rfc3339(l.created_at),
            })
            .collect(),
        actions: detail
            .actions
            .into_iter()
            .zip(overdue)
            .map(|(a, overdue)| action_out(a, overdue))
            .collect(),
    }
}

/// The answer to logging a loop.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoopCreated {
    #[serde(flatten)]
    pub r#loop: LoopOut,
    /// For anonymous loops only, shown once: the reporter's private link to add to or withdraw
    /// the report. Only its hash is stored. An anonymous loop is published (to the team, and
    /// stored) with the day's other anonymous loops after midnight UTC; until then only this
    /// link shows it, on the instance that took it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporter_link: Option<String>,
}

/// Logs a failure at Detect (anonymously when `anonymous` is true).
#[utoipa::path(post, path = "/api/v1/teams/{slug}/loops", tag = "loops", request_body = CreateLoop,
    params(("slug" = String, Path)),
    responses((status = 201, body = LoopCreated), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    ApiJson(body): ApiJson<CreateLoop>,
) -> Result<(StatusCode, Json<LoopCreated>), ApiError> {
    let logged = state
        .service
        .log_failure(
            &access,
            LoopInput {
                title: body.title,
                what_happened: body.what_happened,
                what_was_expected: body.what_was_expected,
                happened_at: body.happened_at,
                noticed_at: body.noticed_at,
                impact_scale: body.impact_scale,
                impact_affected: body.impact_affected,
                tags: body.tags,
                anonymous: body.anonymous,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(LoopCreated {
            r#loop: loop_out(logged.detail),
            reporter_link: logged.reporter_link,
        }),
    ))
}

/// Filters for the loop list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `detect`, `analyse`, `apply` or `continue`.
    #[serde(default)]
    #[param(value_type = Option<Stage>)]
    pub stage: Choice<Stage>,
    /// `failure` or `experiment`.
    #[serde(default)]
    #[param(value_type = Option<LoopKind>)]
    pub kind: Choice<LoopKind>,
    /// The failure type (override, else suggestion).
    #[serde(default, rename = "type")]
    #[param(rename = "type", value_type = Option<FailureType>)]
    pub failure_type: Choice<FailureType>,
    pub tag: Option<String>,
    /// Logged on or after this date (`YYYY-MM-DD`).
    pub from: Option<String>,
    /// Logged on or before this date (`YYYY-MM-DD`).
    pub to: Option<String>,
    /// `newest` (default), `oldest`, `longest_in_stage` or `title`.
    #[serde(default)]
    #[param(value_type = Option<LoopSort>)]
    pub sort: Choice<LoopSort>,
    /// Only loops in their stage longer than the team's setting.
    pub stuck: Option<bool>,
    /// From 1.
    pub page: Option<i64>,
    /// 1–200, default 50.
    pub per_page: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoopSummaryOut {
    pub id: String,
    pub kind: LoopKind,
    pub title: String,
    pub stage: Stage,
    pub stage_entered_at: String,
    pub created_at: String,
    #[serde(rename = "type")]
    pub failure_type: Option<FailureType>,
    pub reporter: ReporterOut,
    pub tags: Vec<String>,
    pub attention: Option<String>,
    pub open_actions: i64,
    pub overdue_actions: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoopList {
    pub loops: Vec<LoopSummaryOut>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// The team's loops, filtered and sorted, one page at a time.
#[utoipa::path(get, path = "/api/v1/teams/{slug}/loops", tag = "loops",
    params(("slug" = String, Path), ListParams),
    responses((status = 200, body = LoopList), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Query(params): Query<ListParams>,
) -> Result<Json<LoopList>, ApiError> {
    let mut reading = Reading::default();
    let stage = reading.optional_choice("stage", &params.stage);
    let kind = reading.optional_choice("kind", &params.kind);
    let failure_type = reading.optional_choice("type", &params.failure_type);
    let sort = reading.optional_choice("sort", &params.sort);
    reading.finish()?;
    let page = state
        .service
        .loops(
            &access,
            &LoopQuery {
                stage,
                kind,
                failure_type,
                tag: params.tag,
                from: params.from,
                to: params.to,
                sort: sort.unwrap_or_default(),
                stuck: params.stuck.unwrap_or(false),
                page: params.page,
                per_page: params.per_page,
            },
        )
        .await?;
    Ok(Json(LoopList {
        loops: page
            .loops
            .into_iter()
            .map(|(s, attention)| LoopSummaryOut {
                id: s.id.to_string(),
                kind: s.kind,
                title: s.title,
                stage: s.stage,
                stage_entered_at: rfc3339(s.stage_entered_at),
                created_at: rfc3339(s.created_at),
                failure_type: s.failure_type,
                reporter: ReporterOut {
                    anonymous: s.anonymous,
                    name: s.author_name,
                },
                tags: s.tags,
                attention: attention.map(|a| a.describe()),
                open_actions: s.open_actions,
                overdue_actions: s.overdue_actions,
            })
            .collect(),
        total: page.total,
        page: page.page,
        per_page: page.per_page,
    }))
}

/// One loop with everything attached.
#[utoipa::path(get, path = "/api/v1/teams/{slug}/loops/{loop_id}", tag = "loops",
    params(("slug" = String, Path), ("loop_id" = String, Path)),
    responses((status = 200, body = LoopOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn show(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, loop_id)): Path<(String, String)>,
) -> Result<Json<LoopOut>, ApiError> {
    Ok(Json(loop_out(
        state.service.loop_detail(&access, &loop_id).await?,
    )))
}

/// A team member confirms or dismisses the loop's possible-recurrence flag. Stored as a
/// labelled pair (loop, earlier loop, verdict, team; no person); a dismissed pair is not
/// flagged again. Answers with the loop.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/loops/{loop_id}/recurrence", tag = "loops", request_body = RecurrenceVerdictBody,
    params(("slug" = String, Path), ("loop_id" = String, Path)),
    responses((status = 200, body = LoopOut), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn judge_recurrence(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, loop_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<RecurrenceVerdictBody>,
) -> Result<Json<LoopOut>, ApiError> {
    state
        .service
        .judge_recurrence(&access, &loop_id, &body.verdict)
        .await?;
    detail_json(&state, &access, &loop_id).await
}

/// A labelled pair: a team's verdict on a possible-recurrence flag.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecurrencePairOut {
    pub loop_id: String,
    pub earlier_id: String,
    /// `confirmed` or `dismissed`.
    pub verdict: String,
    /// The day it was given.
    pub on: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecurrencePairsOut {
    pub pairs: Vec<RecurrencePairOut>,
}

/// The team's confirmed and dismissed possible-recurrence flags, oldest first (no person is
/// recorded with them).
#[utoipa::path(get, path = "/api/v1/teams/{slug}/recurrence-pairs", tag = "loops",
    params(("slug" = String, Path)),
    responses((status = 200, body = RecurrencePairsOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn recurrence_pairs(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path(_slug): Path<String>,
) -> Result<Json<RecurrencePairsOut>, ApiError> {
    let pairs = state.service.recurrence_pairs(&access).await?;
    Ok(Json(RecurrencePairsOut {
        pairs: pairs
            .into_iter()
            .map(|p| RecurrencePairOut {
                loop_id: p.loop_id.to_string(),
                earlier_id: p.earlier_id.to_string(),
                verdict: p.verdict.as_str().to_owned(),
                on: day(p.on),
            })
            .collect(),
    }))
}

async fn detail_json(
    state: &AppState,
    access: &crate::service::TeamAccess,
    loop_id: &str,
) -> Result<Json<LoopOut>, ApiError> {
    Ok(Json(loop_out(
        state.service.loop_detail(access, loop_id).await?,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextBody {
    /// Markdown.
    pub body: String,
}

/// Adds later understanding beside the Detect record (which never changes).
#[utoipa::path(post, path = "/api/v1/teams/{slug}/loops/{loop_id}/additions", tag = "loops", request_body = TextBody,
    params(("slug" = String, Path), ("loop_id" = String, Path)),
    responses((status = 201, body = LoopOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn add_addition(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, loop_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<TextBody>,
) -> Result<(StatusCode, Json<LoopOut>), ApiError> {
    state
        .service
        .add_addition(&access, &loop_id, &body.body)
        .await?;
    Ok((
        StatusCode::CREATED,
        detail_json(&state, &access, &loop_id).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTimelineEvent {
    /// RFC 3339, or `YYYY-MM-DDTHH:MM` read as UTC.
    pub occurred_at: String,
    pub description: String,
}

/// Adds an entry to the timeline.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/loops/{loop_id}/timeline", tag = "loops", request_body = CreateTimelineEvent,
    params(("slug" = String, Path), ("loop_id" = String, Path)),
    responses((status = 201, body = LoopOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn add_timeline_event(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, loop_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<CreateTimelineEvent>,
) -> Result<(StatusCode, Json<LoopOut>), ApiError> {
    state
        .service
        .add_timeline_event(&access, &loop_id, &body.occurred_at, &body.description)
        .await?;
    Ok((
        StatusCode::CREATED,
        detail_json(&state, &access, &loop_id).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFactor {
    pub reason: FactorReason,
    /// Markdown.
    pub description: String,
}

/// Adds a contributing factor (there may be several; there is no single "root cause").
#[utoipa::path(post, path = "/api/v1/teams/{slug}/loops/{loop_id}/factors", tag = "loops", request_body = CreateFactor,
    params(("slug" = String, Path), ("loop_id" = String, Path)),
    responses((status = 201, body = LoopOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn add_factor(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, loop_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<CreateFactor>,
) -> Result<(StatusCode, Json<LoopOut>), ApiError> {
    state
        .service
        .add_factor(&access, &loop_id, body.reason, &body.description)
        .await?;
    Ok((
        StatusCode::CREATED,
        detail_json(&state, &access, &loop_id).await?,
    ))
}

/// Removes a contributing factor.
#[utoipa::path(delete, path = "/api/v1/teams/{slug}/loops/{loop_id}/factors/{factor_id}", tag = "loops",
    params(("slug" = String, Path), ("loop_id" = String, Path), ("factor_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn remove_factor(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, loop_id, factor_id)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .remove_factor(&access, &loop_id, &factor_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveReview {
    #[serde(default)]
    pub aar_intended: String,
    #[serde(default)]
    pub aar_actual: String,
    #[serde(default)]
    pub aar_difference: String,
    #[serde(default)]
    pub aar_lessons: String,
    #[serde(default)]
    pub went_well: String,
    #[serde(default)]
    pub went_wrong: String,
    #[serde(default)]
    pub got_lucky: String,
}

/// Saves the after-action review and the lessons (replaces all seven texts).
#[utoipa::path(put, path = "/api/v1/teams/{slug}/loops/{loop_id}/review", tag = "loops", request_body = SaveReview,
    params(("slug" = String, Path), ("loop_id" = String, Path)),
    responses((status = 200, body = LoopOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn save_review(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, loop_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<SaveReview>,
) -> Result<Json<LoopOut>, ApiError> {
    state
        .service
        .save_review(
            &access,
            &loop_id,
            ReviewInput {
                aar_intended: body.aar_intended,
                aar_actual: body.aar_actual,
                aar_difference: body.aar_difference,
                aar_lessons: body.aar_lessons,
                went_well: body.went_well,
                went_wrong: body.went_wrong,
                got_lucky: body.got_lucky,
            },
        )
        .await?;
    detail_json(&state, &access, &loop_id).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    #[serde(default)]
    pub actions: String,
    #[serde(default)]
    pub observations: String,
    #[serde(default)]
    pub expectations: String,
    #[serde(default)]
    pub assumptions: String,
    #[serde(default)]
    pub timeline_understanding: String,
    /// No author and only the day are stored, and not now: an unnamed account is held and
    /// published with the day's anonymous contributions just after midnight UTC (the answer
    /// does not list it until then).
    #[serde(default)]
    pub anonymous: bool,
}

/// Adds a participant's account.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/loops/{loop_id}/accounts", tag = "loops", request_body = CreateAccount,
    params(("slug" = String, Path), ("loop_id" = String, Path)),
    responses((status = 201, body = LoopOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn add_account(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, loop_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<CreateAccount>,
) -> Result<(StatusCode, Json<LoopOut>), ApiError> {
    state
        .service
        .add_account(
            &access,
            &loop_id,
            AccountInput {
                actions: body.actions,
                observations: body.observations,
                expectations: body.expectations,
                assumptions: body.assumptions,
                timeline_understanding: body.timeline_understanding,
                anonymous: body.anonymous,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        detail_json(&state, &access, &loop_id).await?,
    ))
}

/// Answers the classification questionnaire; the answer carries the suggestion and its reasons.
#[utoipa::path(put, path = "/api/v1/teams/{slug}/loops/{loop_id}/classification", tag = "loops", request_body = Questionnaire,
    params(("slug" = String, Path), ("loop_id" = String, Path)),
    responses((status = 200, body = LoopOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn classify(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, loop_id)): Path<(String, String)>,
    ApiJson(answers): ApiJson<Questionnaire>,
) -> Result<Json<LoopOut>, ApiError> {
    state.service.classify(&access, &loop_id, answers).await?;
    detail_json(&state, &access, &loop_id).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveOverride {
    /// `null` withdraws the override.
    #[serde(rename = "type")]
    pub kind: Option<FailureType>,
    #[serde(default)]
    pub reason: String,
}

/// Chooses a type other than the suggestion, with a reason; both stay on record.
#[utoipa::path(put, path = "/api/v1/teams/{slug}/loops/{loop_id}/classification/override", tag = "loops", request_body = SaveOverride,
    params(("slug" = String, Path), ("loop_id" = String, Path)),
    responses((status = 200, body = LoopOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn override_type(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, loop_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<SaveOverride>,
) -> Result<Json<LoopOut>, ApiError> {
    state
        .service
        .override_type(&access, &loop_id, body.kind, &body.reason)
        .await?;
    detail_json(&state, &access, &loop_id).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLearning {
    pub statement: String,
    /// `team` (default) or `organisation` (the learning library).
    pub visibility: Option<Visibility>,
}

/// Adds a learning.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/loops/{loop_id}/learnings", tag = "loops", request_body = CreateLearning,
    params(("slug" = String, Path), ("loop_id" = String, Path)),
    responses((status = 201, body = LoopOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn add_learning(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, loop_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<CreateLearning>,
) -> Result<(StatusCode, Json<LoopOut>), ApiError> {
    state
        .service
        .add_learning(
            &access,
            &loop_id,
            &body.statement,
            body.visibility.unwrap_or(Visibility::Team),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        detail_json(&state, &access, &loop_id).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAction {
    pub title: String,
    /// A member of the team.
    pub owner_id: Option<String>,
    /// `YYYY-MM-DD`.
    pub due_on: Option<String>,
}

/// Adds an action item.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/loops/{loop_id}/actions", tag = "loops", request_body = CreateAction,
    params(("slug" = String, Path), ("loop_id" = String, Path)),
    responses((status = 201, body = LoopOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn add_action(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, loop_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<CreateAction>,
) -> Result<(StatusCode, Json<LoopOut>), ApiError> {
    state
        .service
        .add_action(
            &access,
            &loop_id,
            &body.title,
            body.owner_id.as_deref(),
            body.due_on.as_deref(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        detail_json(&state, &access, &loop_id).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ActionParams {
    /// `open`, `done` or `dropped`; all when absent or empty. Read as the enum here, so that the
    /// use case gets an `ActionStatus`; a word outside the set is a 422 naming `status`.
    #[serde(default)]
    #[param(value_type = Option<ActionStatus>)]
    pub status: Choice<ActionStatus>,
}

/// The team's action items across its loops, soonest due first.
#[utoipa::path(get, path = "/api/v1/teams/{slug}/actions", tag = "loops",
    params(("slug" = String, Path), ActionParams),
    responses((status = 200, body = Vec<ActionOut>), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn team_actions(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Query(params): Query<ActionParams>,
) -> Result<Json<Vec<ActionOut>>, ApiError> {
    let status = params.status.read_optional("status")?;
    let actions = state.service.team_actions(&access, status).await?;
    Ok(Json(
        actions
            .into_iter()
            .map(|a| action_out(a.record, a.overdue))
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAction {
    pub status: ActionStatus,
    /// Required when dropping.
    #[serde(default)]
    pub dropped_reason: String,
}

/// Marks an action item done, dropped (with a reason) or open again.
#[utoipa::path(patch, path = "/api/v1/teams/{slug}/actions/{action_id}", tag = "loops", request_body = UpdateAction,
    params(("slug" = String, Path), ("action_id" = String, Path)),
    responses((status = 200, body = ActionOut), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn update_action(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, action_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateAction>,
) -> Result<Json<ActionOut>, ApiError> {
    let action = state
        .service
        .set_action_status(&access, &action_id, body.status, &body.dropped_reason)
        .await?;
    Ok(Json(action_out(action.record, action.overdue)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetFollowUp {
    /// `YYYY-MM-DD`; `null` clears it.
    pub on: Option<String>,
}

/// Sets the date of the follow-up check.
#[utoipa::path(put, path = "/api/v1/teams/{slug}/loops/{loop_id}/follow-up", tag = "loops", request_body = SetFollowUp,
    params(("slug" = String, Path), ("loop_id" = String, Path)),
    responses((status = 200, body = LoopOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn set_follow_up(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, loop_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<SetFollowUp>,
) -> Result<Json<LoopOut>, ApiError> {
    state
        .service
        .set_follow_up(&access, &loop_id, body.on.as_deref())
        .await?;
    detail_json(&state, &access, &loop_id).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerFollowUp {
    pub recurred: bool,
    pub held: bool,
    #[serde(default)]
    pub note: String,
}

/// Records the follow-up check: did it recur, did the change hold (Continue stage only).
#[utoipa::path(post, path = "/api/v1/teams/{slug}/loops/{loop_id}/follow-up/answer", tag = "loops", request_body = AnswerFollowUp,
    params(("slug" = String, Path), ("loop_id" = String, Path)),
    responses((status = 200, body = LoopOut), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn answer_follow_up(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, loop_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<AnswerFollowUp>,
) -> Result<Json<LoopOut>, ApiError> {
    state
        .service
        .answer_follow_up(&access, &loop_id, body.recurred, body.held, &body.note)
        .await?;
    detail_json(&state, &access, &loop_id).await
}

/// Which way to move a loop.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Advance,
    Back,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeStage {
    pub direction: Direction,
    /// Kept in the loop's history.
    #[serde(default)]
    pub note: String,
}

/// Moves the loop on (when the stage's condition holds: 409 names what is missing) or back.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/loops/{loop_id}/stage", tag = "loops", request_body = ChangeStage,
    params(("slug" = String, Path), ("loop_id" = String, Path)),
    responses((status = 200, body = LoopOut), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn change_stage(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, loop_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ChangeStage>,
) -> Result<Json<LoopOut>, ApiError> {
    state
        .service
        .change_stage(
            &access,
            &loop_id,
            matches!(body.direction, Direction::Advance),
            &body.note,
        )
        .await?;
    detail_json(&state, &access, &loop_id).await
}

/// The anonymous reporter's view of their loop.
#[utoipa::path(get, path = "/api/v1/reporter/{secret}", tag = "loops", security(()),
    params(("secret" = String, Path, description = "The secret part of the reporter link")),
    responses((status = 200, body = LoopOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn reporter_show(
    State(state): State<AppState>,
    Path(secret): Path<String>,
) -> Result<Json<LoopOut>, ApiError> {
    Ok(Json(loop_out(state.service.reporter_loop(&secret).await?)))
}

/// The anonymous reporter adds later understanding, still without a name.
#[utoipa::path(post, path = "/api/v1/reporter/{secret}/additions", tag = "loops", security(()), request_body = TextBody,
    params(("secret" = String, Path)),
    responses((status = 201, body = LoopOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn reporter_add(
    State(state): State<AppState>,
    Path(secret): Path<String>,
    ApiJson(body): ApiJson<TextBody>,
) -> Result<(StatusCode, Json<LoopOut>), ApiError> {
    let detail = state.service.reporter_add(&secret, &body.body).await?;
    Ok((StatusCode::CREATED, Json(loop_out(detail))))
}

/// The anonymous reporter withdraws (deletes) their report while it is at Detect.
#[utoipa::path(delete, path = "/api/v1/reporter/{secret}", tag = "loops", security(()),
    params(("secret" = String, Path)),
    responses((status = 204), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn reporter_withdraw(
    State(state): State<AppState>,
    Path(secret): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.service.reporter_withdraw(&secret).await?;
    Ok(StatusCode::NO_CONTENT)
}
