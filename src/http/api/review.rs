//! `/api/v1/teams/{slug}/reviews…`: review sessions for scripts and other clients. What a
//! client reads is the same view the page shows: counts only before the reveal, totals only
//! once the vote has closed.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::rfc3339;
use crate::domain::loops::{FactorReason, Visibility};
use crate::domain::records::review::ReviewRecord;
use crate::domain::review::Phase;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiTeam};
use crate::http::{live, AppState};
use crate::service::review::{CardView, GroupView, ReviewView};
use crate::service::{ServiceError, TeamAccess};

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewSummaryOut {
    pub id: String,
    pub prompt: String,
    pub loop_id: Option<String>,
    pub loop_title: Option<String>,
    pub phase: Phase,
    pub facilitator: Option<String>,
    pub version: i64,
    pub created_at: String,
    pub closed_at: Option<String>,
}

impl From<&ReviewRecord> for ReviewSummaryOut {
    fn from(r: &ReviewRecord) -> Self {
        ReviewSummaryOut {
            id: r.id.to_string(),
            prompt: r.prompt.clone(),
            loop_id: r.loop_id.clone(),
            loop_title: r.loop_title.clone(),
            phase: r.phase,
            facilitator: r.facilitator.as_ref().map(|p| p.name.clone()),
            version: r.version,
            created_at: rfc3339(r.created_at),
            closed_at: r.closed_at.map(rfc3339),
        }
    }
}

/// Your place in the session.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeOut {
    pub joined: bool,
    pub observer: bool,
    pub is_lead: bool,
    /// You said you have finished writing.
    pub done: bool,
    pub is_facilitator: bool,
    pub can_facilitate: bool,
    pub voted: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RosterEntryOut {
    pub name: String,
    pub observer: bool,
}

/// How far writing has got: counts only, never who.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgressOut {
    pub participants: usize,
    pub done: usize,
    pub leads: usize,
    pub leads_done: usize,
    pub cards: i64,
    pub voters: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyCardOut {
    pub id: String,
    pub kind: String,
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActionCheckOut {
    pub action_id: String,
    pub title: String,
    pub loop_title: String,
    pub status: String,
    /// done, relevant or dropped, once the session decided.
    pub outcome: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TotalOut {
    pub card_id: String,
    pub dots: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DissentOut {
    pub id: String,
    pub reason: String,
    /// Present only when the person chose to show their name.
    pub author: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionOut {
    pub id: String,
    pub card_id: Option<String>,
    /// factor, learning or action.
    pub kind: String,
    pub text: String,
    pub decided_on: String,
    pub dissents: Vec<DissentOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewOut {
    #[serde(flatten)]
    pub summary: ReviewSummaryOut,
    pub dots_each: i64,
    pub phase_ends_at: Option<String>,
    pub me: MeOut,
    pub roster: Vec<RosterEntryOut>,
    pub progress: ProgressOut,
    pub open_cards_revealed: bool,
    pub leads_cards_revealed: bool,
    /// Revealed cards only.
    pub cards: Vec<CardView>,
    /// Your own named cards, before the reveal.
    pub my_cards: Vec<MyCardOut>,
    pub groups: Vec<GroupView>,
    pub action_checks: Vec<ActionCheckOut>,
    /// Dots per card, only once the vote has closed.
    pub totals: Option<Vec<TotalOut>>,
    pub decisions: Vec<DecisionOut>,
}

fn review_out(view: ReviewView) -> ReviewOut {
    let me = MeOut {
        joined: view.me.is_some(),
        observer: view.me.as_ref().is_some_and(|m| m.observer),
        is_lead: view.me.as_ref().is_some_and(|m| m.is_lead),
        done: view.me.as_ref().is_some_and(|m| m.done),
        is_facilitator: view.is_facilitator,
        can_facilitate: view.can_facilitate,
        voted: view.i_voted,
    };
    ReviewOut {
        summary: ReviewSummaryOut::from(&view.record),
        dots_each: view.record.dots,
        phase_ends_at: view.record.phase_ends_at.map(rfc3339),
        me,
        roster: view
            .roster
            .iter()
            .map(|entry| RosterEntryOut {
                name: entry.name.clone(),
                observer: entry.observer,
            })
            .collect(),
        progress: ProgressOut {
            participants: view.reveal.participants,
            done: view.reveal.done,
            leads: view.reveal.leads,
            leads_done: view.reveal.leads_done,
            cards: view.cards_counts.items,
            voters: view.voters,
        },
        open_cards_revealed: view.open_revealed,
        leads_cards_revealed: view.leads_revealed,
        cards: view.cards,
        my_cards: view
            .my_cards
            .into_iter()
            .map(|c| MyCardOut {
                id: c.id.to_string(),
                kind: c.category,
                text: c.text,
            })
            .collect(),
        groups: view.groups,
        action_checks: view
            .action_checks
            .into_iter()
            .map(|c| ActionCheckOut {
                action_id: c.action.id.to_string(),
                title: c.action.title,
                loop_title: c.action.loop_title,
                status: c.action.status.as_str().to_owned(),
                outcome: c.outcome,
            })
            .collect(),
        totals: view.totals.map(|totals| {
            totals
                .into_iter()
                .map(|(card_id, dots)| TotalOut { card_id, dots })
                .collect()
        }),
        decisions: view
            .decisions
            .into_iter()
            .map(|d| DecisionOut {
                id: d.decision.id.to_string(),
                card_id: d.decision.card_id,
                kind: d.decision.kind,
                text: d.decision.text,
                decided_on: d
                    .decision
                    .decided_at
                    .format(time::macros::format_description!("[year]-[month]-[day]"))
                    .unwrap_or_default(),
                dissents: d
                    .dissents
                    .into_iter()
                    .map(|x| DissentOut {
                        id: x.id.to_string(),
                        reason: x.reason,
                        author: x.author_name,
                    })
                    .collect(),
            })
            .collect(),
    }
}

async fn view_json(
    state: &AppState,
    access: &TeamAccess,
    id: &str,
) -> Result<Json<ReviewOut>, ApiError> {
    Ok(Json(review_out(
        state.service.review_view(access, id).await?,
    )))
}

/// The team's review sessions, newest first.
#[utoipa::path(get, path = "/api/v1/teams/{slug}/reviews", tag = "reviews",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<ReviewSummaryOut>), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
) -> Result<Json<Vec<ReviewSummaryOut>>, ApiError> {
    let reviews = state.service.reviews(&access).await?;
    Ok(Json(reviews.iter().map(ReviewSummaryOut::from).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    /// The loop under review; leave out for a free retrospective.
    pub loop_id: Option<String>,
    /// The question the session answers (required without a loop).
    pub prompt: Option<String>,
    /// Dots each participant places (1–20, default 3).
    pub dots: Option<i64>,
}

/// Starts a session; you facilitate and take part. It begins by reviewing the team's open actions.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/reviews", tag = "reviews", request_body = StartBody,
    params(("slug" = String, Path)),
    responses((status = 201, body = ReviewOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn start(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    ApiJson(body): ApiJson<StartBody>,
) -> Result<(StatusCode, Json<ReviewOut>), ApiError> {
    let id = state
        .service
        .start_review(
            &access,
            body.loop_id.as_deref(),
            body.prompt.as_deref().unwrap_or_default(),
            body.dots,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        view_json(&state, &access, &id.to_string()).await?,
    ))
}

/// The session as you may see it now.
#[utoipa::path(get, path = "/api/v1/teams/{slug}/reviews/{review_id}", tag = "reviews",
    params(("slug" = String, Path), ("review_id" = String, Path)),
    responses((status = 200, body = ReviewOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn show(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, review_id)): Path<(String, String)>,
) -> Result<Json<ReviewOut>, ApiError> {
    view_json(&state, &access, &review_id).await
}

/// The summary as Markdown: decisions with dissent, cards, open-action outcomes; no vote by person.
#[utoipa::path(get, path = "/api/v1/teams/{slug}/reviews/{review_id}/summary", tag = "reviews",
    params(("slug" = String, Path), ("review_id" = String, Path)),
    responses((status = 200, content_type = "text/markdown", body = String), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn summary(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, review_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let text = state.service.review_summary(&access, &review_id).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        text,
    )
        .into_response())
}

/// Server-sent events: `event: review`, `data: {"version": N}` whenever the session changes
/// (sent at once on connect). Read the session again to see what changed.
#[utoipa::path(get, path = "/api/v1/teams/{slug}/reviews/{review_id}/events", tag = "reviews",
    params(("slug" = String, Path), ("review_id" = String, Path)),
    responses((status = 200, content_type = "text/event-stream", body = String, description = "An endless stream of `event: review` lines with `data: {\"version\": N}`"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn events(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, review_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    Ok(live::review_events(state, access, &review_id)
        .await?
        .into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinBody {
    /// Observers neither write nor vote.
    #[serde(default)]
    pub observer: bool,
}

/// Joins the session as a participant or an observer.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/reviews/{review_id}/participants", tag = "reviews", request_body = JoinBody,
    params(("slug" = String, Path), ("review_id" = String, Path)),
    responses((status = 200, body = ReviewOut), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn join(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, review_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<JoinBody>,
) -> Result<Json<ReviewOut>, ApiError> {
    state
        .service
        .join_review(&access, &review_id, body.observer)
        .await?;
    view_json(&state, &access, &review_id).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionCheckBody {
    pub action_id: String,
    /// done, relevant or dropped.
    pub outcome: String,
    /// Why it was dropped (required for dropped).
    #[serde(default)]
    pub dropped_reason: String,
}

/// Open actions phase: records what became of one of the team's open action items.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/reviews/{review_id}/action-checks", tag = "reviews", request_body = ActionCheckBody,
    params(("slug" = String, Path), ("review_id" = String, Path)),
    responses((status = 200, body = ReviewOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn check_action(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, review_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ActionCheckBody>,
) -> Result<Json<ReviewOut>, ApiError> {
    state
        .service
        .check_review_action(
            &access,
            &review_id,
            &body.action_id,
            &body.outcome,
            &body.dropped_reason,
        )
        .await?;
    view_json(&state, &access, &review_id).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardBody {
    /// observation, factor or idea.
    pub kind: String,
    pub text: String,
    /// Show your name beside it after the reveal.
    #[serde(default)]
    pub show_name: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedOut {
    pub id: String,
}

/// Write phase: writes a sealed card. Nobody reads it before the reveal.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/reviews/{review_id}/cards", tag = "reviews", request_body = CardBody,
    params(("slug" = String, Path), ("review_id" = String, Path)),
    responses((status = 201, body = CreatedOut), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn write_card(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, review_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<CardBody>,
) -> Result<(StatusCode, Json<CreatedOut>), ApiError> {
    let id = state
        .service
        .write_card(&access, &review_id, &body.kind, &body.text, body.show_name)
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedOut { id: id.to_string() })))
}

/// Takes back one of your own named cards before the reveal.
#[utoipa::path(delete, path = "/api/v1/teams/{slug}/reviews/{review_id}/cards/{card_id}", tag = "reviews",
    params(("slug" = String, Path), ("review_id" = String, Path), ("card_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn withdraw_card(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, review_id, card_id)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .withdraw_card(&access, &review_id, &card_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DoneBody {
    pub done: bool,
}

/// Write phase: says you have finished writing (or not). When everyone has, the cards show.
#[utoipa::path(put, path = "/api/v1/teams/{slug}/reviews/{review_id}/done", tag = "reviews", request_body = DoneBody,
    params(("slug" = String, Path), ("review_id" = String, Path)),
    responses((status = 200, body = ReviewOut), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn done(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, review_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<DoneBody>,
) -> Result<Json<ReviewOut>, ApiError> {
    state
        .service
        .finish_writing(&access, &review_id, body.done)
        .await?;
    view_json(&state, &access, &review_id).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvanceBody {
    /// The phase you are ending; a stale value (someone moved on already) gets 409.
    pub from: Option<Phase>,
}

/// Facilitator: moves to the next phase (ending writing reveals every card).
#[utoipa::path(post, path = "/api/v1/teams/{slug}/reviews/{review_id}/advance", tag = "reviews", request_body = AdvanceBody,
    params(("slug" = String, Path), ("review_id" = String, Path)),
    responses((status = 200, body = ReviewOut), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn advance(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, review_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<AdvanceBody>,
) -> Result<Json<ReviewOut>, ApiError> {
    state
        .service
        .advance_review(&access, &review_id, body.from)
        .await?;
    view_json(&state, &access, &review_id).await
}

/// Facilitator: closes the session; the summary is final.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/reviews/{review_id}/close", tag = "reviews",
    params(("slug" = String, Path), ("review_id" = String, Path)),
    responses((status = 200, body = ReviewOut), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn close(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, review_id)): Path<(String, String)>,
) -> Result<Json<ReviewOut>, ApiError> {
    state.service.close_review(&access, &review_id).await?;
    view_json(&state, &access, &review_id).await
}

/// Facilitator: shows the leads' cards before every other participant has finished.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/reviews/{review_id}/show-leads", tag = "reviews",
    params(("slug" = String, Path), ("review_id" = String, Path)),
    responses((status = 200, body = ReviewOut), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn show_leads(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, review_id)): Path<(String, String)>,
) -> Result<Json<ReviewOut>, ApiError> {
    state.service.show_leads_cards(&access, &review_id).await?;
    view_json(&state, &access, &review_id).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimerBody {
    /// Minutes from now (1–120); null stops the timer.
    pub minutes: Option<i64>,
}

/// Facilitator: sets or stops the timer of the current phase.
#[utoipa::path(put, path = "/api/v1/teams/{slug}/reviews/{review_id}/timer", tag = "reviews", request_body = TimerBody,
    params(("slug" = String, Path), ("review_id" = String, Path)),
    responses((status = 200, body = ReviewOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn timer(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, review_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<TimerBody>,
) -> Result<Json<ReviewOut>, ApiError> {
    state
        .service
        .set_review_timer(&access, &review_id, body.minutes)
        .await?;
    view_json(&state, &access, &review_id).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupBody {
    pub title: String,
}

/// Group phase: adds a cluster.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/reviews/{review_id}/groups", tag = "reviews", request_body = GroupBody,
    params(("slug" = String, Path), ("review_id" = String, Path)),
    responses((status = 201, body = CreatedOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn add_group(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, review_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<GroupBody>,
) -> Result<(StatusCode, Json<CreatedOut>), ApiError> {
    let id = state
        .service
        .add_review_group(&access, &review_id, &body.title)
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedOut { id: id.to_string() })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardGroupBody {
    /// null takes the card out of its group.
    pub group_id: Option<String>,
}

/// Group phase: puts a revealed card into a cluster.
#[utoipa::path(put, path = "/api/v1/teams/{slug}/reviews/{review_id}/cards/{card_id}/group", tag = "reviews", request_body = CardGroupBody,
    params(("slug" = String, Path), ("review_id" = String, Path), ("card_id" = String, Path)),
    responses((status = 200, body = ReviewOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn group_card(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, review_id, card_id)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<CardGroupBody>,
) -> Result<Json<ReviewOut>, ApiError> {
    state
        .service
        .group_card(&access, &review_id, &card_id, body.group_id.as_deref())
        .await?;
    view_json(&state, &access, &review_id).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HideBody {
    /// Recorded and shown in place of the card.
    pub reason: String,
}

/// Facilitator: hides an inappropriate card after the reveal, with a recorded reason.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/reviews/{review_id}/cards/{card_id}/hide", tag = "reviews", request_body = HideBody,
    params(("slug" = String, Path), ("review_id" = String, Path), ("card_id" = String, Path)),
    responses((status = 200, body = ReviewOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn hide(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, review_id, card_id)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<HideBody>,
) -> Result<Json<ReviewOut>, ApiError> {
    state
        .service
        .hide_card(&access, &review_id, &card_id, &body.reason)
        .await?;
    view_json(&state, &access, &review_id).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BallotBody {
    /// Dots per card id; at most the session's dots in all.
    pub dots: std::collections::BTreeMap<String, u32>,
}

/// Vote phase: places your dots, once, sealed and unnamed until the phase closes.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/reviews/{review_id}/ballot", tag = "reviews", request_body = BallotBody,
    params(("slug" = String, Path), ("review_id" = String, Path)),
    responses((status = 204), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn ballot(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, review_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<BallotBody>,
) -> Result<StatusCode, ApiError> {
    let dots: Vec<(String, u32)> = body.dots.into_iter().collect();
    state.service.vote(&access, &review_id, &dots).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// The card it came from, if any.
    pub card_id: Option<String>,
    /// factor, learning or action.
    pub kind: String,
    pub text: String,
    /// For a factor: where it sits on the spectrum of reasons.
    pub factor_reason: Option<String>,
    /// For a learning: team or organisation.
    pub learning_visibility: Option<String>,
}

/// Decide phase (facilitator): turns a card or statement into a factor, learning or action item on the loop.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/reviews/{review_id}/decisions", tag = "reviews", request_body = DecisionBody,
    params(("slug" = String, Path), ("review_id" = String, Path)),
    responses((status = 201, body = CreatedOut), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn decide(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, review_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<DecisionBody>,
) -> Result<(StatusCode, Json<CreatedOut>), ApiError> {
    // A blank choice is no choice: only the kind that uses a choice needs it.
    let factor_reason = body
        .factor_reason
        .as_deref()
        .filter(|word| !word.trim().is_empty())
        .map(FactorReason::parse)
        .transpose()
        .map_err(|e| ServiceError::field("factor_reason", e.0))?;
    let learning_visibility = body
        .learning_visibility
        .as_deref()
        .filter(|word| !word.trim().is_empty())
        .map(Visibility::parse)
        .transpose()
        .map_err(|e| ServiceError::field("learning_visibility", e.0))?;
    let id = state
        .service
        .decide(
            &access,
            &review_id,
            body.card_id.as_deref(),
            &body.kind,
            &body.text,
            factor_reason,
            learning_visibility,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedOut { id: id.to_string() })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DissentBody {
    pub reason: String,
    #[serde(default)]
    pub show_name: bool,
}

/// "I disagree" with a decision, with a reason; kept in the summary.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/reviews/{review_id}/decisions/{decision_id}/dissents", tag = "reviews", request_body = DissentBody,
    params(("slug" = String, Path), ("review_id" = String, Path), ("decision_id" = String, Path)),
    responses((status = 204), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn dissent(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, review_id, decision_id)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<DissentBody>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .dissent(
            &access,
            &review_id,
            &decision_id,
            &body.reason,
            body.show_name,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
