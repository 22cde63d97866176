//! `/teams/{slug}/expectations`: the team's expectations, how the team is doing against the
//! measurable ones, acknowledgements, comments (named or unnamed) and the leads' forms.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use super::form::{Choice, Echo, EmptyForm, Tick};
use super::{date, render, render_with_status, FormErrors, Layout, NoticeQuery};
use crate::domain::expectations::{Measure, TARGET_MAX, TARGET_MIN};
use crate::domain::Team;
use crate::http::error::WebError;
use crate::http::extract::{CsrfForm, WebTeam};
use crate::http::AppState;
use crate::service::expectations::{CommentFate, ExpectationView};
use crate::service::{ServiceError, ServiceResult};

struct CommentLine {
    author: String,
    text: String,
    on: String,
}

struct ProgressLine {
    meaning: String,
    shown: String,
    verdict: &'static str,
    basis: String,
    period: String,
}

struct ItemLine {
    id: String,
    text: String,
    measure: String,
    target: String,
    written_by: String,
    progress: Option<ProgressLine>,
    acknowledgements: usize,
    acknowledged_by_me: bool,
    needs_revisit: bool,
    revisited: String,
    comments: Vec<CommentLine>,
}

struct MeasureOption {
    value: &'static str,
    label: String,
}

#[derive(Template)]
#[template(path = "expectations.html")]
struct ExpectationsPage {
    layout: Layout,
    team: Team,
    quarter: String,
    can_manage: bool,
    revisit_due: bool,
    items: Vec<ItemLine>,
    measures: Vec<MeasureOption>,
    target_min: i64,
    target_max: i64,
    errors: FormErrors,
    echo: Echo,
}

fn line(view: ExpectationView) -> ItemLine {
    let r = view.record;
    ItemLine {
        id: r.id.to_string(),
        text: r.text,
        measure: r
            .measure
            .map(|(m, _)| m.as_str().to_owned())
            .unwrap_or_default(),
        target: r.measure.map(|(_, t)| t.to_string()).unwrap_or_default(),
        written_by: r.written_by.unwrap_or_else(|| "a former member".to_owned()),
        progress: view.progress.map(|p| ProgressLine {
            meaning: p.measure.describe(p.target),
            shown: p.shown(),
            verdict: match p.met {
                Some(true) => "on track",
                Some(false) => "not yet",
                None => "no data yet",
            },
            basis: p.basis.clone(),
            period: p.quarter.to_string(),
        }),
        acknowledgements: view.acknowledgements,
        acknowledged_by_me: view.acknowledged_by_me,
        needs_revisit: view.needs_revisit,
        revisited: r.revisited.to_string(),
        comments: view
            .comments
            .into_iter()
            .map(|c| CommentLine {
                author: c.author.unwrap_or_else(|| "unnamed".to_owned()),
                text: c.text,
                on: date(c.written_on),
            })
            .collect(),
    }
}

async fn page(
    state: &AppState,
    team: &WebTeam,
    errors: FormErrors,
    echo: Echo,
) -> Result<ExpectationsPage, WebError> {
    let view = state.service.expectations(&team.access).await?;
    Ok(ExpectationsPage {
        layout: Layout::signed_in(
            &team.user,
            format!("Expectations in {}", team.access.team().name),
            "teams",
        ),
        team: team.access.team().clone(),
        quarter: view.quarter.to_string(),
        can_manage: view.can_manage,
        revisit_due: view.revisit_due(),
        items: view.items.into_iter().map(line).collect(),
        measures: Measure::ALL
            .iter()
            .map(|m| MeasureOption {
                value: m.as_str(),
                label: m.describe(0).replace(" 0", " n").replace("0%", "n%"),
            })
            .collect(),
        target_min: TARGET_MIN,
        target_max: TARGET_MAX,
        errors,
        echo,
    })
}

fn back(team: &WebTeam, notice: &str) -> Response {
    Redirect::to(&format!(
        "/teams/{}/expectations?notice={notice}",
        team.access.team().slug
    ))
    .into_response()
}

async fn again(
    state: &AppState,
    team: &WebTeam,
    error: ServiceError,
    echo: Echo,
) -> Result<Response, WebError> {
    let errors = FormErrors::from_service(error)?;
    let page = page(state, team, errors, echo).await?;
    Ok(render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

pub async fn show(
    State(state): State<AppState>,
    Query(notice): Query<NoticeQuery>,
    team: WebTeam,
) -> Result<Response, WebError> {
    let mut page = page(&state, &team, FormErrors::none(), Echo::default()).await?;
    page.layout = page.layout.with_notice(&notice);
    Ok(render(&page))
}

/// A lead's expectation: its words and, optionally, a measure with its target.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ExpectationForm {
    #[serde(default)]
    text: String,
    /// Empty for words only.
    #[serde(default)]
    measure: String,
    #[serde(default)]
    target: String,
}

impl ExpectationForm {
    fn measure(&self) -> ServiceResult<Option<(Measure, i64)>> {
        if self.measure.trim().is_empty() {
            return Ok(None);
        }
        let measure = Choice::<Measure>::of(self.measure.clone()).read("measure")?;
        let target: i64 = self.target.trim().parse().map_err(|_| {
            ServiceError::field(
                "target",
                format!("must be a whole number between {TARGET_MIN} and {TARGET_MAX}"),
            )
        })?;
        Ok(Some((measure, target)))
    }
}

pub async fn create(
    State(state): State<AppState>,
    team: WebTeam,
    CsrfForm(form): CsrfForm<ExpectationForm>,
) -> Result<Response, WebError> {
    let result = match form.measure() {
        Ok(measure) => {
            state
                .service
                .create_expectation(&team.access, &form.text, measure)
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(back(&team, "expectation-added")),
        Err(error) => again(&state, &team, error, Echo::of(&form)).await,
    }
}

pub async fn edit(
    State(state): State<AppState>,
    team: WebTeam,
    Path((_slug, id)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<ExpectationForm>,
) -> Result<Response, WebError> {
    let result = match form.measure() {
        Ok(measure) => {
            state
                .service
                .update_expectation(&team.access, &id, &form.text, measure)
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(back(&team, "expectation-changed")),
        Err(error) => again(&state, &team, error, Echo::default()).await,
    }
}

pub async fn retire(
    State(state): State<AppState>,
    team: WebTeam,
    Path((_slug, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    state.service.retire_expectation(&team.access, &id).await?;
    Ok(back(&team, "expectation-retired"))
}

pub async fn revisit(
    State(state): State<AppState>,
    team: WebTeam,
    Path((_slug, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    state.service.revisit_expectation(&team.access, &id).await?;
    Ok(back(&team, "expectation-revisited"))
}

pub async fn acknowledge(
    State(state): State<AppState>,
    team: WebTeam,
    Path((_slug, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    state
        .service
        .acknowledge_expectation(&team.access, &id)
        .await?;
    Ok(back(&team, "expectation-acknowledged"))
}

/// A comment; the "unnamed" box keeps no name.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct CommentForm {
    #[serde(default)]
    text: String,
    #[serde(default)]
    unnamed: Tick,
}

pub async fn comment(
    State(state): State<AppState>,
    team: WebTeam,
    Path((_slug, id)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<CommentForm>,
) -> Result<Response, WebError> {
    let unnamed = form.unnamed.0;
    match state
        .service
        .comment_on_expectation(&team.access, &id, &form.text, unnamed)
        .await
    {
        Ok(CommentFate::Written) => Ok(back(&team, "expectation-commented")),
        Ok(CommentFate::HeldUntilMidnight) => Ok(back(&team, "expectation-comment-held")),
        Err(error) => again(&state, &team, error, Echo::default()).await,
    }
}
