//! Review sessions: the list, starting one, the live session page and its actions.
//!
//! The session's body is one fragment (`review_body.html`) rendered for the full page and for
//! `…/live`, which `app.js` fetches whenever the event stream says the session changed.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::{Deserialize, Serialize};

use super::form::{Choice, Echo, EmptyForm, Tick};
use super::{date, render, render_with_status, FormErrors, Layout, NoticeQuery};
use crate::domain::loops::{FactorReason, Visibility};
use crate::domain::review::{CardKind, Phase};
use crate::domain::Team;
use crate::http::error::WebError;
use crate::http::extract::{CsrfForm, WebTeam, WebUser};
use crate::http::{live, AppState};
use crate::service::loops::LoopQuery;
use crate::service::review::{CardView, GroupTarget, ReviewView};
use crate::service::{ServiceError, TeamAccess};

#[derive(Template)]
#[template(path = "reviews.html")]
struct ReviewsPage {
    layout: Layout,
    team: Team,
    member: bool,
    sessions: Vec<SessionRow>,
    loops: Vec<LoopChoice>,
    errors: FormErrors,
    echo: Echo,
}

/// A session in the list.
struct SessionRow {
    id: String,
    title: String,
    phase: &'static str,
    started: String,
}

/// A loop a session can review (or a review page links back to).
struct LoopChoice {
    id: String,
    title: String,
}

/// A group of similar cards on the board, its cards in the view's order.
struct GroupSection<'a> {
    id: String,
    title: String,
    cards: Vec<&'a CardView>,
}

/// One of the board's columns: the cards of one kind that are in no group, in the view's order
/// (leads' cards last, then by dots once the vote has closed).
struct Column<'a> {
    kind: CardKind,
    cards: Vec<&'a CardView>,
}

async fn reviews_page(
    state: &AppState,
    user: &WebUser,
    access: &TeamAccess,
    errors: FormErrors,
    echo: Echo,
) -> Result<ReviewsPage, ServiceError> {
    let sessions = state
        .service
        .reviews(access)
        .await?
        .into_iter()
        .map(|r| {
            let title = r
                .loop_title
                .clone()
                .unwrap_or_else(|| first_line(&r.prompt));
            SessionRow {
                id: r.id.to_string(),
                title,
                phase: r.phase.label(),
                started: date(r.created_at),
            }
        })
        .collect();
    let query = LoopQuery {
        per_page: Some(100),
        ..LoopQuery::default()
    };
    let loops = state
        .service
        .loops(access, &query)
        .await?
        .loops
        .into_iter()
        .map(|(l, _)| LoopChoice {
            id: l.id.to_string(),
            title: l.title,
        })
        .collect();
    Ok(ReviewsPage {
        layout: Layout::signed_in(
            user,
            format!("Review sessions of {}", access.team().name),
            "teams",
        ),
        team: access.team().clone(),
        member: access.is_member(),
        sessions,
        loops,
        errors,
        echo,
    })
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    if line.chars().count() > 80 {
        format!("{}…", line.chars().take(79).collect::<String>())
    } else if line.is_empty() {
        "Retrospective".to_owned()
    } else {
        line.to_owned()
    }
}

pub async fn list(
    State(state): State<AppState>,
    Query(notice): Query<NoticeQuery>,
    WebTeam { user, access }: WebTeam,
) -> Result<Response, WebError> {
    let mut echo = Echo::default();
    echo.set("dots", "3");
    let mut page = reviews_page(&state, &user, &access, FormErrors::none(), echo).await?;
    page.layout = page.layout.with_notice(&notice);
    Ok(render(&page))
}

/// A new session: the loop it reviews (if any), the prompt and each person's dots.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct StartForm {
    #[serde(default)]
    loop_id: String,
    #[serde(default)]
    prompt: String,
    #[serde(default)]
    dots: String,
}

pub async fn start(
    State(state): State<AppState>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<StartForm>,
) -> Result<Response, WebError> {
    let dots = match form.dots.trim() {
        "" => Ok(None),
        raw => raw.parse::<i64>().map(Some),
    };
    let result = match dots {
        Ok(dots) => {
            state
                .service
                .start_review(&access, Some(&form.loop_id), &form.prompt, dots)
                .await
        }
        Err(_) => Err(ServiceError::field("dots", "must be a whole number")),
    };
    match result {
        Ok(id) => Ok(Redirect::to(&format!(
            "/teams/{}/reviews/{id}?notice=review-started",
            access.team().slug
        ))
        .into_response()),
        Err(error) => {
            let errors = FormErrors::from_service(error)?;
            let page = reviews_page(&state, &user, &access, errors, Echo::of(&form)).await?;
            Ok(render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

#[derive(Template)]
#[template(path = "review_body.html")]
struct ReviewBody<'a> {
    v: &'a ReviewView,
    base: String,
    csrf: String,
    member: bool,
    writes: bool,
    me_done: bool,
    has_loop: bool,
    writers: usize,
    observers: usize,
    phases: [Phase; 8],
    kinds: [CardKind; 3],
    reasons: &'static [FactorReason],
    seconds_left: Option<i64>,
    ends_at: String,
    /// The session's groups, each with its cards.
    groups: Vec<GroupSection<'a>>,
    /// The cards in no group, by kind.
    columns: Vec<Column<'a>>,
    /// Whether the viewer may group cards now.
    grouping: bool,
    /// Whether the viewer places dots now.
    voting: bool,
    totals: HashMap<String, u32>,
    errors: FormErrors,
}

impl ReviewBody<'_> {
    fn dots_of(&self, card: &str) -> Option<u32> {
        self.totals.get(card).copied()
    }

    /// Whether the viewer wrote this unnamed card (their browser's receipt says so).
    fn is_mine(&self, card: &str) -> bool {
        self.v.my_unnamed.iter().any(|c| c.id.to_string() == card)
    }
}

/// The cookie that keeps this browser's receipt for its unnamed cards in one session (see
/// `Service::card_receipt`); scoped to the session's pages.
fn receipt_cookie_name(session: &str) -> String {
    format!("ff_cards_{}", session.replace('-', ""))
}

fn receipt_of<'a>(jar: &'a CookieJar, session: &str) -> Option<&'a str> {
    jar.get(&receipt_cookie_name(session))
        .map(|cookie| cookie.value())
}

fn body<'a>(
    v: &'a ReviewView,
    access: &TeamAccess,
    csrf: &str,
    errors: FormErrors,
) -> ReviewBody<'a> {
    let totals: HashMap<String, u32> = v.totals.iter().flatten().cloned().collect();
    let grouped = v.record.phase.index() >= Phase::Group.index();
    let groups: Vec<GroupSection> = if grouped {
        v.groups
            .iter()
            .map(|g| GroupSection {
                id: g.id.clone(),
                title: g.title.clone(),
                cards: v
                    .cards
                    .iter()
                    .filter(|c| c.group_id.as_deref() == Some(g.id.as_str()))
                    .collect(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let columns = CardKind::ALL
        .iter()
        .map(|&kind| Column {
            kind,
            cards: v
                .cards
                .iter()
                .filter(|c| c.kind == kind && (!grouped || c.group_id.is_none()))
                .collect(),
        })
        .collect();
    ReviewBody {
        base: format!("/teams/{}/reviews/{}", access.team().slug, v.record.id),
        csrf: csrf.to_owned(),
        member: access.is_member(),
        writes: v.writes(),
        me_done: v.me.as_ref().is_some_and(|p| p.done),
        has_loop: v.record.loop_id.is_some(),
        writers: v.participant_count(),
        observers: v.roster.len() - v.participant_count(),
        phases: Phase::ALL,
        kinds: CardKind::ALL,
        reasons: FactorReason::ALL,
        seconds_left: v.seconds_left,
        ends_at: v
            .record
            .phase_ends_at
            .map(|t| {
                t.format(time::macros::format_description!("[hour]:[minute] UTC"))
                    .unwrap_or_default()
            })
            .unwrap_or_default(),
        groups,
        columns,
        grouping: v.record.phase == Phase::Group && (v.writes() || v.can_facilitate),
        voting: v.record.phase == Phase::Vote && v.writes() && !v.i_voted,
        totals,
        errors,
        v,
    }
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage {
    layout: Layout,
    team: Team,
    title: String,
    prompt: String,
    loop_link: Option<LoopChoice>,
    base: String,
    version: i64,
    body: String,
}

fn title_of(v: &ReviewView) -> String {
    match &v.record.loop_title {
        Some(t) => format!("Review: {t}"),
        None => first_line(&v.record.prompt),
    }
}

fn page(
    user: &WebUser,
    access: &TeamAccess,
    v: &ReviewView,
    errors: FormErrors,
) -> Result<ReviewPage, ServiceError> {
    let inner = body(v, access, &user.csrf_token, errors)
        .render()
        .map_err(ServiceError::internal)?;
    Ok(ReviewPage {
        layout: Layout::signed_in(user, title_of(v), "teams"),
        team: access.team().clone(),
        title: title_of(v),
        prompt: if v.record.loop_id.is_some() {
            v.record.prompt.clone()
        } else {
            String::new()
        },
        loop_link: v
            .record
            .loop_id
            .clone()
            .zip(v.record.loop_title.clone())
            .map(|(id, title)| LoopChoice { id, title }),
        base: format!("/teams/{}/reviews/{}", access.team().slug, v.record.id),
        version: v.record.version,
        body: inner,
    })
}

pub async fn show(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    Query(notice): Query<NoticeQuery>,
    WebTeam { user, access }: WebTeam,
    jar: CookieJar,
) -> Result<Response, WebError> {
    let view = state.service.review_view(&access, &id).await?;
    let view = state
        .service
        .with_card_receipt(&access, view, receipt_of(&jar, &id));
    let mut page = page(&user, &access, &view, FormErrors::none())?;
    page.layout = page.layout.with_notice(&notice);
    Ok(render(&page))
}

/// The session's body alone, for live refreshes.
pub async fn live_fragment(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    jar: CookieJar,
) -> Result<Response, WebError> {
    let view = state.service.review_view(&access, &id).await?;
    let view = state
        .service
        .with_card_receipt(&access, view, receipt_of(&jar, &id));
    let html = body(&view, &access, &user.csrf_token, FormErrors::none())
        .render()
        .map_err(ServiceError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        [(
            header::HeaderName::from_static("x-review-version"),
            view.record.version.to_string(),
        )],
        html,
    )
        .into_response())
}

pub async fn events(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { access, .. }: WebTeam,
) -> Result<Response, WebError> {
    Ok(live::review_events(state, access, &id)
        .await?
        .into_response())
}

pub async fn summary(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { access, .. }: WebTeam,
) -> Result<Response, WebError> {
    let text = state.service.review_summary(&access, &id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/markdown; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"review-summary.md\"",
            ),
        ],
        text,
    )
        .into_response())
}

/// After a session form: back to the session (with `notice`, when there is one), or the
/// session again with the error in its summary.
async fn after_form(
    state: &AppState,
    user: &WebUser,
    access: &TeamAccess,
    id: &str,
    result: Result<(), ServiceError>,
    notice: &str,
) -> Result<Response, WebError> {
    let error = match result {
        Ok(()) => {
            let query = if notice.is_empty() {
                String::new()
            } else {
                format!("?notice={notice}")
            };
            return Ok(Redirect::to(&format!(
                "/teams/{}/reviews/{id}{query}",
                access.team().slug
            ))
            .into_response());
        }
        Err(error) => error,
    };
    let status = match &error {
        ServiceError::Conflict { .. } => StatusCode::CONFLICT,
        ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let errors = match FormErrors::from_service(error) {
        Ok(errors) => errors,
        Err(ServiceError::Conflict {
            field: None,
            message,
        }) => FormErrors::from_message("session", &message),
        Err(ServiceError::Forbidden(message)) => FormErrors::from_message("session", &message),
        Err(other) => return Err(other.into()),
    };
    let view = state.service.review_view(access, id).await?;
    Ok(render_with_status(
        status,
        &page(user, access, &view, errors)?,
    ))
}

/// Declares a handler for a session button whose form carries nothing but its CSRF token.
macro_rules! button {
    ($(#[$doc:meta])* $name:ident, $notice:literal, |$service:ident, $access:ident, $id:ident| $call:expr) => {
        $(#[$doc])*
        pub async fn $name(
            State(state): State<AppState>,
            Path((_slug, $id)): Path<(String, String)>,
            WebTeam { user, access }: WebTeam,
            CsrfForm(EmptyForm {}): CsrfForm<EmptyForm>,
        ) -> Result<Response, WebError> {
            let result = {
                let $service = &state.service;
                let $access = &access;
                let $id = &$id;
                $call.await
            };
            after_form(&state, &user, &access, &$id, result, $notice).await
        }
    };
}

button!(
    /// `POST …/reviews/{id}/join`: take part.
    join, "review-joined", |service, access, id| service.join_review(access, id, false)
);
button!(
    /// `POST …/reviews/{id}/observe`: watch without writing.
    observe, "review-joined", |service, access, id| service.join_review(access, id, true)
);
button!(
    /// `POST …/reviews/{id}/done`: finished writing.
    done, "review-done", |service, access, id| service.finish_writing(access, id, true)
);
button!(
    /// `POST …/reviews/{id}/not-done`: still writing after all.
    not_done, "", |service, access, id| service.finish_writing(access, id, false)
);
button!(
    /// `POST …/reviews/{id}/close`: the summary becomes final.
    close, "review-closed", |service, access, id| service.close_review(access, id)
);
button!(
    /// `POST …/reviews/{id}/show-leads`: the leads' cards show now.
    show_leads, "", |service, access, id| service.show_leads_cards(access, id)
);

/// What became of one of the team's open actions. `outcome` stays a word ("done", "relevant",
/// "dropped"): the use case owns that set, which has no domain type.
#[derive(Debug, Default, Deserialize)]
pub struct CheckActionForm {
    #[serde(default)]
    action_id: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    dropped_reason: String,
}

/// `POST …/reviews/{id}/check-action`.
pub async fn check_action(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<CheckActionForm>,
) -> Result<Response, WebError> {
    let result = state
        .service
        .check_review_action(
            &access,
            &id,
            &form.action_id,
            &form.outcome,
            &form.dropped_reason,
        )
        .await;
    after_form(&state, &user, &access, &id, result, "action-updated").await
}

/// A sealed card.
#[derive(Debug, Default, Deserialize)]
pub struct CardForm {
    /// A word the use case reads with the text, so both are named at once.
    #[serde(default)]
    kind: String,
    #[serde(default)]
    text: String,
    /// Ticked to show the writer's name after the reveal.
    #[serde(default)]
    show_name: Tick,
}

/// `POST …/reviews/{id}/cards`.
pub async fn write_card(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<CardForm>,
) -> Result<Response, WebError> {
    let written = state
        .service
        .write_card(&access, &id, &form.kind, &form.text, form.show_name.0)
        .await;
    let card = match written {
        Ok(card) => card,
        Err(error) => return after_form(&state, &user, &access, &id, Err(error), "").await,
    };
    let response = after_form(&state, &user, &access, &id, Ok(()), "card-sealed").await?;
    if form.show_name.0 {
        return Ok(response);
    }
    // An unnamed card: this browser keeps the receipt, the server keeps no link.
    let session: crate::domain::RecordId = id.parse().map_err(|_| ServiceError::NotFound)?;
    let receipt = state
        .service
        .card_receipt(&access, session, receipt_of(&jar, &id), card)?;
    let cookie = Cookie::build((receipt_cookie_name(&id), receipt))
        .path(format!("/teams/{}/reviews/{id}", access.team().slug))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.secure_cookies)
        .max_age(time::Duration::days(30))
        .build();
    Ok((jar.add(cookie), response).into_response())
}

/// Which card a form is about.
#[derive(Debug, Default, Deserialize)]
pub struct CardIdForm {
    #[serde(default)]
    card_id: String,
}

/// `POST …/reviews/{id}/withdraw-card`.
pub async fn withdraw_card(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<CardIdForm>,
) -> Result<Response, WebError> {
    let result = state
        .service
        .withdraw_card(&access, &id, &form.card_id)
        .await;
    after_form(&state, &user, &access, &id, result, "card-withdrawn").await
}

/// The phase the facilitator is ending, so that a stale page cannot skip one.
#[derive(Debug, Default, Deserialize)]
pub struct AdvanceForm {
    #[serde(default)]
    from: Choice<Phase>,
}

/// `POST …/reviews/{id}/advance`.
pub async fn advance(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<AdvanceForm>,
) -> Result<Response, WebError> {
    let result = match form.from.read_optional("from") {
        Ok(from) => state
            .service
            .advance_review(&access, &id, from)
            .await
            .map(|_| ()),
        Err(error) => Err(error),
    };
    after_form(&state, &user, &access, &id, result, "").await
}

/// Minutes from now; empty stops the timer.
#[derive(Debug, Default, Deserialize)]
pub struct TimerForm {
    #[serde(default)]
    minutes: String,
}

/// `POST …/reviews/{id}/timer`.
pub async fn set_timer(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<TimerForm>,
) -> Result<Response, WebError> {
    let minutes = match form.minutes.trim() {
        "" => Ok(None),
        raw => raw
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ServiceError::field("minutes", "must be a whole number")),
    };
    let result = match minutes {
        Ok(m) => state.service.set_review_timer(&access, &id, m).await,
        Err(e) => Err(e),
    };
    after_form(&state, &user, &access, &id, result, "").await
}

/// A new group's title.
#[derive(Debug, Default, Deserialize)]
pub struct GroupForm {
    #[serde(default)]
    title: String,
}

/// `POST …/reviews/{id}/groups`.
pub async fn add_group(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<GroupForm>,
) -> Result<Response, WebError> {
    let result = state
        .service
        .add_review_group(&access, &id, &form.title)
        .await
        .map(|_| ());
    after_form(&state, &user, &access, &id, result, "").await
}

/// A card moved into a group (an empty group takes it out).
#[derive(Debug, Default, Deserialize)]
pub struct GroupCardForm {
    #[serde(default)]
    card_id: String,
    #[serde(default)]
    group_id: String,
}

/// `POST …/reviews/{id}/group-card`.
pub async fn group_card(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<GroupCardForm>,
) -> Result<Response, WebError> {
    let result = state
        .service
        .group_card(&access, &id, &form.card_id, Some(&form.group_id))
        .await;
    after_form(&state, &user, &access, &id, result, "").await
}

/// The board's "Group selected" form, also posted by drag and drop: a `pick_{card id}` box per
/// ticked card, where they go (`target`: `new`, `none` or a group's id) and a new group's title.
/// The card ids are the session's, so the ticks are read by their prefix.
#[derive(Debug, Default, Deserialize)]
pub struct GroupSelectedForm {
    #[serde(default)]
    target: String,
    #[serde(default)]
    title: String,
    #[serde(flatten)]
    fields: BTreeMap<String, String>,
}

/// `POST …/reviews/{id}/group-selected`.
pub async fn group_selected(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<GroupSelectedForm>,
) -> Result<Response, WebError> {
    let cards: Vec<String> = form
        .fields
        .iter()
        .filter(|(_, value)| value.as_str() == "on")
        .filter_map(|(key, _)| key.strip_prefix("pick_"))
        .map(str::to_owned)
        .collect();
    let target = match form.target.trim() {
        "" | "new" => GroupTarget::New(form.title.clone()),
        "none" => GroupTarget::Ungroup,
        group => GroupTarget::Existing(group.to_owned()),
    };
    let result = state
        .service
        .group_cards(&access, &id, &cards, target)
        .await;
    after_form(&state, &user, &access, &id, result, "cards-grouped").await
}

/// A group's new title.
#[derive(Debug, Default, Deserialize)]
pub struct GroupTitleForm {
    #[serde(default)]
    group_id: String,
    #[serde(default)]
    title: String,
}

/// `POST …/reviews/{id}/group-title`.
pub async fn rename_group(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<GroupTitleForm>,
) -> Result<Response, WebError> {
    let result = state
        .service
        .rename_review_group(&access, &id, &form.group_id, &form.title)
        .await;
    after_form(&state, &user, &access, &id, result, "group-renamed").await
}

/// A card hidden by the facilitator, and why.
#[derive(Debug, Default, Deserialize)]
pub struct HideForm {
    #[serde(default)]
    card_id: String,
    #[serde(default)]
    reason: String,
}

/// `POST …/reviews/{id}/hide`.
pub async fn hide(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<HideForm>,
) -> Result<Response, WebError> {
    let result = state
        .service
        .hide_card(&access, &id, &form.card_id, &form.reason)
        .await;
    after_form(&state, &user, &access, &id, result, "card-hidden").await
}

/// A ballot: one `dots_{card id}` field per card, each a whole number of dots (empty or 0 for
/// none). The card ids are the session's, so the fields are read by their prefix.
#[derive(Debug, Default, Deserialize)]
pub struct BallotForm {
    #[serde(flatten)]
    fields: BTreeMap<String, String>,
}

/// `POST …/reviews/{id}/vote`.
pub async fn vote(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<BallotForm>,
) -> Result<Response, WebError> {
    let mut dots = Vec::new();
    let mut bad = None;
    for (key, value) in &form.fields {
        if let Some(card) = key.strip_prefix("dots_") {
            match value.trim() {
                "" | "0" => {}
                raw => match raw.parse::<u32>() {
                    Ok(n) => dots.push((card.to_owned(), n)),
                    Err(_) => bad = Some(key.clone()),
                },
            }
        }
    }
    let result = match bad {
        Some(key) => Err(ServiceError::field(&key, "must be a whole number of dots")),
        None => state.service.vote(&access, &id, &dots).await,
    };
    after_form(&state, &user, &access, &id, result, "ballot-sealed").await
}

/// A decision: from a card or a statement, into a factor (with its reason), a learning (with
/// who may read it) or an action. `kind` stays a word, as the use case owns that set.
#[derive(Debug, Default, Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    card_id: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    factor_reason: Choice<FactorReason>,
    #[serde(default)]
    learning_visibility: Choice<Visibility>,
}

/// `POST …/reviews/{id}/decide`.
pub async fn decide(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<DecisionForm>,
) -> Result<Response, WebError> {
    let choices = (
        form.factor_reason.read_optional("factor_reason"),
        form.learning_visibility
            .read_optional("learning_visibility"),
    );
    let result = match choices {
        (Ok(factor_reason), Ok(learning_visibility)) => state
            .service
            .decide(
                &access,
                &id,
                Some(&form.card_id),
                &form.kind,
                &form.text,
                factor_reason,
                learning_visibility,
            )
            .await
            .map(|_| ()),
        (Err(error), _) | (_, Err(error)) => Err(error),
    };
    after_form(&state, &user, &access, &id, result, "decision-recorded").await
}

/// "I disagree", with a reason and, if chosen, a name.
#[derive(Debug, Default, Deserialize)]
pub struct DissentForm {
    #[serde(default)]
    decision_id: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    show_name: Tick,
}

/// `POST …/reviews/{id}/dissent`.
pub async fn dissent(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<DissentForm>,
) -> Result<Response, WebError> {
    let result = state
        .service
        .dissent(
            &access,
            &id,
            &form.decision_id,
            &form.reason,
            form.show_name.0,
        )
        .await;
    after_form(&state, &user, &access, &id, result, "dissent-recorded").await
}
