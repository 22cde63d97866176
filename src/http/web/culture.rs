//! The pulse (rounds, answering, results with charts) and recognition (feed, fairness view).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use super::form::{Echo, EmptyForm};
use super::format::SelectOption;
use super::{date, render, render_with_status, FormErrors, Layout, NoticeQuery};
use crate::domain::culture::{PULSE_ITEMS, SCALE};
use crate::domain::Team;
use crate::http::charts::{bars, line, Bar};
use crate::http::error::WebError;
use crate::http::extract::{CsrfForm, WebTeam};
use crate::http::markdown;
use crate::http::AppState;
use crate::service::culture::RoundView;
use crate::service::ServiceError;

/// A round in a list.
struct RoundRow {
    id: String,
    opened: String,
    closes: String,
    state: &'static str,
    responses: i64,
    members: i64,
    score: String,
    can_answer: bool,
    answered: bool,
}

fn round_row(v: &RoundView) -> RoundRow {
    RoundRow {
        id: v.record.id.to_string(),
        opened: date(v.record.opened_at),
        closes: date(v.record.closes_on),
        state: if v.open { "open" } else { "closed" },
        responses: v.record.responses,
        members: v.could_answer,
        score: v
            .results
            .as_ref()
            .map(|r| format!("{:.2}", r.team_score))
            .unwrap_or_else(|| "—".to_owned()),
        can_answer: v.can_answer,
        answered: v.answered_by_me,
    }
}

/// One closed round in the pulse trend table.
struct TrendRow {
    closed_on: String,
    score: String,
    responses: usize,
}

#[derive(Template)]
#[template(path = "pulse.html")]
struct PulsePage {
    layout: Layout,
    team: Team,
    rows: Vec<RoundRow>,
    trend_svg: String,
    trend: Vec<TrendRow>,
    can_manage: bool,
    errors: FormErrors,
}

async fn pulse_page(
    state: &AppState,
    team: &WebTeam,
    errors: FormErrors,
) -> Result<PulsePage, WebError> {
    let views = state.service.pulse_rounds(&team.access).await?;
    let mut trend: Vec<(String, f64, usize)> = views
        .iter()
        .filter_map(|v| {
            v.results
                .as_ref()
                .zip(v.closed_on())
                .map(|(r, closed)| (date(closed), r.team_score, r.responses))
        })
        .collect();
    trend.reverse();
    let trend_svg = if trend.is_empty() {
        String::new()
    } else {
        line(
            "pulse-trend",
            "Psychological safety across rounds",
            "Team score (mean of respondents' means, 1 to 7) for each closed round with enough responses, by the day it closed, oldest first.",
            &trend.iter().map(|(l, v, _)| (l.clone(), *v)).collect::<Vec<_>>(),
            1.0,
            7.0,
        )
    };
    Ok(PulsePage {
        layout: Layout::signed_in(
            &team.user,
            format!("Pulse of {}", team.access.team().name),
            "teams",
        ),
        team: team.access.team().clone(),
        rows: views.iter().map(round_row).collect(),
        trend_svg,
        trend: trend
            .into_iter()
            .map(|(closed_on, score, responses)| TrendRow {
                closed_on,
                score: format!("{score:.2}"),
                responses,
            })
            .collect(),
        can_manage: team.access.can_manage(),
        errors,
    })
}

pub async fn pulse(
    State(state): State<AppState>,
    Query(notice): Query<NoticeQuery>,
    team: WebTeam,
) -> Result<Response, WebError> {
    let mut page = pulse_page(&state, &team, FormErrors::none()).await?;
    page.layout = page.layout.with_notice(&notice);
    Ok(render(&page))
}

/// The form that opens a round (leads). Text fields default to empty, as a missing field did
/// before: the use case names what is wrong (422), not the form reader (400).
#[derive(Debug, Default, Deserialize)]
pub struct OpenRoundForm {
    #[serde(default)]
    closes_on: String,
}

/// The form that changes the pulse's threshold (leads).
#[derive(Debug, Default, Deserialize)]
pub struct ThresholdForm {
    #[serde(default)]
    min_responses: String,
}

/// Opens a pulse round (`POST …/pulse-settings/open`).
pub async fn open_round(
    State(state): State<AppState>,
    team: WebTeam,
    CsrfForm(form): CsrfForm<OpenRoundForm>,
) -> Result<Response, WebError> {
    let result = state
        .service
        .open_pulse_round(&team.access, &form.closes_on)
        .await
        .map(|_| ());
    after_settings(&state, &team, result, "round-opened").await
}

/// Changes the threshold below which no figure shows (`POST …/pulse-settings/threshold`).
pub async fn set_threshold(
    State(state): State<AppState>,
    team: WebTeam,
    CsrfForm(form): CsrfForm<ThresholdForm>,
) -> Result<Response, WebError> {
    let result = state
        .service
        .set_pulse_threshold(&team.access, &form.min_responses)
        .await;
    after_settings(&state, &team, result, "threshold-set").await
}

/// Back to the pulse page with `notice`, or the page again with the errors.
async fn after_settings(
    state: &AppState,
    team: &WebTeam,
    result: Result<(), ServiceError>,
    notice: &str,
) -> Result<Response, WebError> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!(
            "/teams/{}/pulse?notice={notice}",
            team.access.team().slug
        ))
        .into_response()),
        Err(error) => {
            let status = match &error {
                ServiceError::Conflict { .. } => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let errors = FormErrors::from_service(error)?;
            let page = pulse_page(state, team, errors).await?;
            Ok(render_with_status(status, &page))
        }
    }
}

/// A pulse item as the answer form asks it.
struct PulseItem {
    number: usize,
    text: &'static str,
}

/// A pulse item's result: its scored mean and how many chose each point of the scale.
struct ItemResult {
    number: usize,
    text: &'static str,
    mean: String,
    counts: [u32; 7],
}

#[derive(Template)]
#[template(path = "pulse_round.html")]
struct RoundPage {
    layout: Layout,
    team: Team,
    row: RoundRow,
    withheld: String,
    items: Vec<PulseItem>,
    scale: [&'static str; 7],
    score: String,
    spread: String,
    rate: String,
    means_svg: String,
    table: Vec<ItemResult>,
    comments: Option<Vec<String>>,
    can_manage: bool,
    errors: FormErrors,
}

async fn round_page(
    state: &AppState,
    team: &WebTeam,
    id: &str,
    errors: FormErrors,
) -> Result<RoundPage, WebError> {
    let view = state.service.pulse_round(&team.access, id).await?;
    let (score, spread, rate, means_svg, table) = match &view.results {
        Some(r) => (
            format!("{:.2}", r.team_score),
            format!("{:.2}", r.spread),
            view.response_rate
                .map(|x| format!("{:.0}%", x * 100.0))
                .unwrap_or_default(),
            bars(
                "pulse-items",
                "Mean per item (after reverse scoring)",
                "For each of the seven items, the mean scored answer on a 1 to 7 scale; higher means safer. Items 1, 3 and 5 are reverse-scored.",
                &PULSE_ITEMS
                    .iter()
                    .enumerate()
                    .map(|(i, (text, _))| Bar {
                        label: format!("{}. {}", i + 1, short(text)),
                        value: r.item_means[i],
                        shown: format!("{:.2}", r.item_means[i]),
                    })
                    .collect::<Vec<_>>(),
                1.0,
                7.0,
            ),
            PULSE_ITEMS
                .iter()
                .enumerate()
                .map(|(i, (text, _))| ItemResult {
                    number: i + 1,
                    text,
                    mean: format!("{:.2}", r.item_means[i]),
                    counts: r.distributions[i],
                })
                .collect(),
        ),
        None => (String::new(), String::new(), String::new(), String::new(), Vec::new()),
    };
    Ok(RoundPage {
        layout: Layout::signed_in(&team.user, "Pulse round", "teams"),
        team: team.access.team().clone(),
        row: round_row(&view),
        withheld: view.withheld.clone().unwrap_or_default(),
        items: PULSE_ITEMS
            .iter()
            .enumerate()
            .map(|(i, (text, _))| PulseItem {
                number: i + 1,
                text,
            })
            .collect(),
        scale: SCALE,
        score,
        spread,
        rate,
        means_svg,
        table,
        comments: view.comments.clone(),
        can_manage: team.access.can_manage(),
        errors,
    })
}

/// The first words of an item, for chart labels.
fn short(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().take(6).collect();
    format!("{}…", words.join(" "))
}

pub async fn round(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    Query(notice): Query<NoticeQuery>,
    team: WebTeam,
) -> Result<Response, WebError> {
    let mut page = round_page(&state, &team, &id, FormErrors::none()).await?;
    page.layout = page.layout.with_notice(&notice);
    Ok(render(&page))
}

/// A pulse answer: the seven items (1–7, each may be left out) and a comment. Kept as text, as
/// typed: an item that is not a number counts as unanswered, as before.
#[derive(Debug, Default, Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    item1: String,
    #[serde(default)]
    item2: String,
    #[serde(default)]
    item3: String,
    #[serde(default)]
    item4: String,
    #[serde(default)]
    item5: String,
    #[serde(default)]
    item6: String,
    #[serde(default)]
    item7: String,
    #[serde(default)]
    comment: String,
}

/// Answers a round (`POST …/pulse/{id}/answer`).
pub async fn answer_round(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    team: WebTeam,
    CsrfForm(form): CsrfForm<AnswerForm>,
) -> Result<Response, WebError> {
    let answers: Vec<Option<u8>> = [
        &form.item1,
        &form.item2,
        &form.item3,
        &form.item4,
        &form.item5,
        &form.item6,
        &form.item7,
    ]
    .into_iter()
    .map(|item| item.parse().ok())
    .collect();
    let result = state
        .service
        .answer_pulse(&team.access, &id, &answers, &form.comment)
        .await;
    after_round(&state, &team, &id, result, "pulse-answered").await
}

/// Closes a round now (`POST …/pulse/{id}/close`).
pub async fn close_round(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    team: WebTeam,
    CsrfForm(EmptyForm {}): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    let result = state.service.close_pulse_round(&team.access, &id).await;
    after_round(&state, &team, &id, result, "round-closed").await
}

/// Back to the round with `notice`, or the round again with the errors.
async fn after_round(
    state: &AppState,
    team: &WebTeam,
    id: &str,
    result: Result<(), ServiceError>,
    notice: &str,
) -> Result<Response, WebError> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!(
            "/teams/{}/pulse/{id}?notice={notice}",
            team.access.team().slug
        ))
        .into_response()),
        Err(error) => {
            let status = match &error {
                ServiceError::Conflict { .. } => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let errors = match FormErrors::from_service(error) {
                Ok(errors) => errors,
                Err(ServiceError::Conflict {
                    field: None,
                    message,
                }) => FormErrors::from_message("answer", &message),
                Err(other) => return Err(other.into()),
            };
            let page = round_page(state, team, id, errors).await?;
            Ok(render_with_status(status, &page))
        }
    }
}

/// The aggregates as CSV (never an answer, never a comment).
pub async fn pulse_csv(State(state): State<AppState>, team: WebTeam) -> Result<Response, WebError> {
    let csv = state.service.pulse_csv(&team.access).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}-pulse.csv\"",
                    team.access.team().slug
                ),
            ),
        ],
        csv,
    )
        .into_response())
}

struct RecognitionView {
    giver: String,
    receiver: String,
    behaviour: String,
    impact: String,
    at: String,
    /// The words of the expectation it honours, when one was named.
    honours: Option<String>,
}

#[derive(Template)]
#[template(path = "recognition.html")]
struct RecognitionPage {
    layout: Layout,
    team: Team,
    feed: Vec<RecognitionView>,
    members: Vec<SelectOption<String>>,
    expectations: Vec<SelectOption<String>>,
    can_manage: bool,
    errors: FormErrors,
    echo: Echo,
}

async fn recognition_page(
    state: &AppState,
    team: &WebTeam,
    errors: FormErrors,
    echo: Echo,
) -> Result<RecognitionPage, WebError> {
    let feed = state
        .service
        .recognitions(&team.access, 90)
        .await?
        .into_iter()
        .map(|r| RecognitionView {
            giver: r
                .giver
                .map(|g| g.name)
                .unwrap_or_else(|| "a former member".to_owned()),
            receiver: r.receiver.name,
            behaviour: markdown::render(&r.behaviour),
            impact: markdown::render(&r.impact),
            at: date(r.created_at),
            honours: r.expectation.map(|(_, text)| text),
        })
        .collect();
    let expectations = state
        .service
        .expectations(&team.access)
        .await?
        .items
        .into_iter()
        .map(|e| SelectOption::new(e.record.id.to_string(), e.record.text))
        .collect();
    let members = state
        .service
        .members(&team.access)
        .await?
        .into_iter()
        .filter(|m| m.user.id != team.access.actor())
        .map(|m| SelectOption::new(m.user.id.to_string(), m.user.name.to_string()))
        .collect();
    Ok(RecognitionPage {
        layout: Layout::signed_in(
            &team.user,
            format!("Recognition in {}", team.access.team().name),
            "teams",
        ),
        team: team.access.team().clone(),
        feed,
        members,
        expectations,
        can_manage: team.access.can_manage(),
        errors,
        echo,
    })
}

pub async fn recognition(
    State(state): State<AppState>,
    Query(notice): Query<NoticeQuery>,
    team: WebTeam,
) -> Result<Response, WebError> {
    let mut page = recognition_page(&state, &team, FormErrors::none(), Echo::default()).await?;
    page.layout = page.layout.with_notice(&notice);
    Ok(render(&page))
}

/// A recognition: who, for what they did, and what it made possible.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct RecognitionForm {
    #[serde(default)]
    receiver_id: String,
    #[serde(default)]
    behaviour: String,
    #[serde(default)]
    impact: String,
    /// Empty when it names no expectation.
    #[serde(default)]
    expectation_id: String,
}

pub async fn recognise(
    State(state): State<AppState>,
    team: WebTeam,
    CsrfForm(form): CsrfForm<RecognitionForm>,
) -> Result<Response, WebError> {
    match state
        .service
        .recognise(
            &team.access,
            &form.receiver_id,
            &form.behaviour,
            &form.impact,
            Some(form.expectation_id.as_str()),
        )
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!(
            "/teams/{}/recognition?notice=recognised",
            team.access.team().slug
        ))
        .into_response()),
        Err(error) => {
            let errors = FormErrors::from_service(error)?;
            let page = recognition_page(&state, &team, errors, Echo::of(&form)).await?;
            Ok(render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct FairnessQuery {
    #[serde(default)]
    days: Option<i64>,
    #[serde(default)]
    weeks: Option<i64>,
}

#[derive(Template)]
#[template(path = "fairness.html")]
struct FairnessPage {
    layout: Layout,
    team: Team,
    view: crate::service::culture::Fairness,
    chart: String,
    gini: String,
    share: String,
}

pub async fn fairness(
    State(state): State<AppState>,
    Query(query): Query<FairnessQuery>,
    team: WebTeam,
) -> Result<Response, WebError> {
    let view = state
        .service
        .recognition_fairness(
            &team.access,
            query.days.unwrap_or(90),
            query.weeks.unwrap_or(6),
        )
        .await?;
    let chart = match &view.per_person {
        Some(list) => {
            let max = list.iter().map(|p| p.received).max().unwrap_or(1).max(1) as f64;
            bars(
                "recognition-received",
                "Recognitions received per person",
                "How many recognitions each member received in the window, most first.",
                &list
                    .iter()
                    .map(|person| Bar {
                        label: person.name.clone(),
                        value: person.received as f64,
                        shown: person.received.to_string(),
                    })
                    .collect::<Vec<_>>(),
                0.0,
                max,
            )
        }
        None => String::new(),
    };
    Ok(render(&FairnessPage {
        layout: Layout::signed_in(&team.user, "Fairness of recognition", "teams"),
        team: team.access.team().clone(),
        gini: view.gini.map(|g| format!("{g:.2}")).unwrap_or_default(),
        share: view
            .top_pairs_share
            .map(|s| format!("{:.0}%", s * 100.0))
            .unwrap_or_default(),
        view,
        chart,
    }))
}
