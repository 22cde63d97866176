//! Review sessions: the list, starting one, the live session page and its actions.
//!
//! The session's body is one fragment (`review_body.html`) rendered for the full page and for
//! `…/live`, which `app.js` fetches whenever the event stream says the session changed.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::loops::Echo;
use super::{date, render, render_with_status, FormErrors, Layout, NoticeQuery};
use crate::domain::loops::FactorReason;
use crate::domain::review::{CardKind, Phase};
use crate::domain::Team;
use crate::http::error::WebError;
use crate::http::extract::{CsrfForm, WebTeam, WebUser};
use crate::http::{live, markdown, AppState};
use crate::service::loops::LoopQuery;
use crate::service::review::{summary_markdown, CardView, ReviewView};
use crate::service::{ServiceError, TeamAccess};

type Fields = HashMap<String, String>;

fn field<'a>(fields: &'a Fields, key: &str) -> &'a str {
    fields.get(key).map(String::as_str).unwrap_or("")
}

#[derive(Template)]
#[template(path = "reviews.html")]
struct ReviewsPage {
    layout: Layout,
    team: Team,
    member: bool,
    /// id, title, phase, started.
    sessions: Vec<(String, String, &'static str, String)>,
    loops: Vec<(String, String)>,
    errors: FormErrors,
    echo: Echo,
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
            (r.id.to_string(), title, r.phase.label(), date(r.created_at))
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
        .map(|(l, _)| (l.id.to_string(), l.title))
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

pub async fn start(
    State(state): State<AppState>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(fields): CsrfForm<Fields>,
) -> Result<Response, WebError> {
    let dots = match field(&fields, "dots").trim() {
        "" => Ok(None),
        raw => raw.parse::<i64>().map(Some),
    };
    let result = match dots {
        Ok(dots) => {
            state
                .service
                .start_review(
                    &access,
                    Some(field(&fields, "loop_id")),
                    field(&fields, "prompt"),
                    dots,
                )
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
            let page = reviews_page(&state, &user, &access, errors, Echo::from(fields)).await?;
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
    /// Heading and cards, in the order they show.
    sections: Vec<(String, Vec<&'a CardView>)>,
    totals: HashMap<String, u32>,
    summary_html: String,
    errors: FormErrors,
}

impl ReviewBody<'_> {
    fn dots_of(&self, card: &str) -> Option<u32> {
        self.totals.get(card).copied()
    }
}

fn body<'a>(
    v: &'a ReviewView,
    access: &TeamAccess,
    csrf: &str,
    errors: FormErrors,
) -> ReviewBody<'a> {
    let now = time::OffsetDateTime::now_utc();
    let totals: HashMap<String, u32> = v.totals.iter().flatten().cloned().collect();
    let mut sections: Vec<(String, Vec<&CardView>)> = Vec::new();
    let grouped = v.record.phase.index() >= Phase::Group.index();
    if grouped {
        for g in &v.groups {
            sections.push((
                g.title.clone(),
                v.cards
                    .iter()
                    .filter(|c| c.group_id.as_deref() == Some(g.id.as_str()))
                    .collect(),
            ));
        }
    }
    let rest: Vec<&CardView> = v
        .cards
        .iter()
        .filter(|c| !grouped || c.group_id.is_none())
        .collect();
    let rest_title = if grouped && !v.groups.is_empty() {
        "Not grouped yet"
    } else {
        "All cards"
    };
    // Each section keeps the view's order: leads' cards last, then by dots.
    sections.push((rest_title.to_owned(), rest));
    let summary_html = if v.record.phase == Phase::Closed {
        markdown::render(&summary_markdown(v))
    } else {
        String::new()
    };
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
        seconds_left: v.seconds_left(now),
        ends_at: v
            .record
            .phase_ends_at
            .map(|t| {
                t.format(time::macros::format_description!("[hour]:[minute] UTC"))
                    .unwrap_or_default()
            })
            .unwrap_or_default(),
        sections,
        totals,
        summary_html,
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
    loop_link: Option<(String, String)>,
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
        loop_link: v.record.loop_id.clone().zip(v.record.loop_title.clone()),
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
) -> Result<Response, WebError> {
    let view = state.service.review_view(&access, &id).await?;
    let mut page = page(&user, &access, &view, FormErrors::none())?;
    page.layout = page.layout.with_notice(&notice);
    Ok(render(&page))
}

/// The session's body alone, for live refreshes.
pub async fn live_fragment(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
) -> Result<Response, WebError> {
    let view = state.service.review_view(&access, &id).await?;
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

/// Every button and form of the session page.
pub async fn act(
    State(state): State<AppState>,
    Path((_slug, id, action)): Path<(String, String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(fields): CsrfForm<Fields>,
) -> Result<Response, WebError> {
    let service = &state.service;
    let (result, notice): (Result<(), ServiceError>, &str) = match action.as_str() {
        "join" => (
            service.join_review(&access, &id, false).await,
            "review-joined",
        ),
        "observe" => (
            service.join_review(&access, &id, true).await,
            "review-joined",
        ),
        "check-action" => (
            service
                .check_review_action(
                    &access,
                    &id,
                    field(&fields, "action_id"),
                    field(&fields, "outcome"),
                    field(&fields, "dropped_reason"),
                )
                .await,
            "action-updated",
        ),
        "cards" => (
            service
                .write_card(
                    &access,
                    &id,
                    field(&fields, "kind"),
                    field(&fields, "text"),
                    fields.contains_key("show_name"),
                )
                .await
                .map(|_| ()),
            "card-sealed",
        ),
        "withdraw-card" => (
            service
                .withdraw_card(&access, &id, field(&fields, "card_id"))
                .await,
            "card-withdrawn",
        ),
        "done" => (
            service.finish_writing(&access, &id, true).await,
            "review-done",
        ),
        "not-done" => (service.finish_writing(&access, &id, false).await, ""),
        "advance" => (
            service
                .advance_review(&access, &id, Some(field(&fields, "from")))
                .await
                .map(|_| ()),
            "",
        ),
        "close" => (service.close_review(&access, &id).await, "review-closed"),
        "show-leads" => (service.show_leads_cards(&access, &id).await, ""),
        "timer" => {
            let minutes = match field(&fields, "minutes").trim() {
                "" => Ok(None),
                raw => raw
                    .parse::<i64>()
                    .map(Some)
                    .map_err(|_| ServiceError::field("minutes", "must be a whole number")),
            };
            let result = match minutes {
                Ok(m) => service.set_review_timer(&access, &id, m).await,
                Err(e) => Err(e),
            };
            (result, "")
        }
        "groups" => (
            service
                .add_review_group(&access, &id, field(&fields, "title"))
                .await
                .map(|_| ()),
            "",
        ),
        "group-card" => (
            service
                .group_card(
                    &access,
                    &id,
                    field(&fields, "card_id"),
                    Some(field(&fields, "group_id")),
                )
                .await,
            "",
        ),
        "hide" => (
            service
                .hide_card(
                    &access,
                    &id,
                    field(&fields, "card_id"),
                    field(&fields, "reason"),
                )
                .await,
            "card-hidden",
        ),
        "vote" => {
            let mut dots = Vec::new();
            let mut bad = None;
            for (key, value) in &fields {
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
                None => service.vote(&access, &id, &dots).await,
            };
            (result, "ballot-sealed")
        }
        "decide" => (
            service
                .decide(
                    &access,
                    &id,
                    Some(field(&fields, "card_id")),
                    field(&fields, "kind"),
                    field(&fields, "text"),
                    Some(field(&fields, "factor_reason")),
                    Some(field(&fields, "learning_visibility")),
                )
                .await
                .map(|_| ()),
            "decision-recorded",
        ),
        "dissent" => (
            service
                .dissent(
                    &access,
                    &id,
                    field(&fields, "decision_id"),
                    field(&fields, "reason"),
                    fields.contains_key("show_name"),
                )
                .await,
            "dissent-recorded",
        ),
        _ => return Err(ServiceError::NotFound.into()),
    };
    match result {
        Ok(()) => {
            let query = if notice.is_empty() {
                String::new()
            } else {
                format!("?notice={notice}")
            };
            Ok(Redirect::to(&format!(
                "/teams/{}/reviews/{id}{query}",
                access.team().slug
            ))
            .into_response())
        }
        Err(error) => {
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
                Err(ServiceError::Forbidden(message)) => {
                    FormErrors::from_message("session", &message)
                }
                Err(other) => return Err(other.into()),
            };
            let view = service.review_view(&access, &id).await?;
            Ok(render_with_status(
                status,
                &page(&user, &access, &view, errors)?,
            ))
        }
    }
}
