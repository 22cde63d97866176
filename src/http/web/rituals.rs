//! `/teams/{slug}/rituals`: the team's failure-share ritual — the schedule (leads), the current
//! round and its state, the share form (named or unnamed), past rounds closed into the library.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::form::{EmptyForm, Tick};
use super::{render, render_with_status, FormErrors, Layout, NoticeQuery};
use crate::domain::rituals::{self, Cadence, RoundState, WEEKDAYS, WHY_LEAD_FIRST};
use crate::domain::text::Word;
use crate::domain::Team;
use crate::http::error::WebError;
use crate::http::extract::{CsrfForm, WebTeam, WebUser};
use crate::http::AppState;
use crate::service::error::ServiceError;
use crate::service::rituals::RitualView;

/// A weekday in the schedule's selector.
struct WeekdayOption {
    word: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "rituals.html")]
struct RitualsPage {
    layout: Layout,
    team: Team,
    view: RitualView,
    errors: FormErrors,
    failed: String,
    learnt: String,
    cadence: &'static str,
    weekdays: Vec<WeekdayOption>,
    why: &'static str,
}

impl RitualsPage {
    fn waiting(&self) -> bool {
        self.view
            .current
            .as_ref()
            .is_some_and(|c| c.state == RoundState::WaitingForLead)
    }

    fn open(&self) -> bool {
        self.view
            .current
            .as_ref()
            .is_some_and(|c| c.state == RoundState::Open)
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ScheduleForm {
    #[serde(default)]
    cadence: String,
    #[serde(default)]
    weekday: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ShareForm {
    #[serde(default)]
    failed: String,
    #[serde(default)]
    learnt: String,
    #[serde(default)]
    unnamed: Option<Tick>,
}

async fn page(
    state: &AppState,
    user: &WebUser,
    access: &crate::service::TeamAccess,
    errors: FormErrors,
    failed: String,
    learnt: String,
) -> Result<RitualsPage, WebError> {
    let view = state.service.ritual(access).await?;
    let (cadence, weekday) = view.schedule.map_or(("weekly", "friday"), |s| {
        (s.cadence.as_word(), rituals::weekday_word(s.weekday))
    });
    let team = access.team().clone();
    Ok(RitualsPage {
        layout: Layout::signed_in(user, format!("Rituals of {}", team.name), "teams"),
        team,
        view,
        errors,
        failed,
        learnt,
        cadence,
        weekdays: WEEKDAYS
            .iter()
            .map(|word| WeekdayOption {
                word,
                selected: *word == weekday,
            })
            .collect(),
        why: WHY_LEAD_FIRST,
    })
}

pub async fn show(
    State(state): State<AppState>,
    Query(notice): Query<NoticeQuery>,
    WebTeam { user, access }: WebTeam,
) -> Result<Response, WebError> {
    let mut page = page(
        &state,
        &user,
        &access,
        FormErrors::none(),
        String::new(),
        String::new(),
    )
    .await?;
    page.layout = page.layout.with_notice(&notice);
    Ok(render(&page))
}

/// A refusal shown on the page: field errors and conflicts next to the form, anything else
/// (not allowed, not found) as the error page.
async fn refused(
    state: &AppState,
    user: &WebUser,
    access: &crate::service::TeamAccess,
    error: ServiceError,
    form: &str,
    failed: String,
    learnt: String,
) -> Result<Response, WebError> {
    let (status, errors) = match error {
        ServiceError::Conflict {
            field: None,
            message,
        } => (
            StatusCode::CONFLICT,
            FormErrors::from_message(form, &message),
        ),
        other => (
            StatusCode::UNPROCESSABLE_ENTITY,
            FormErrors::from_service(other)?,
        ),
    };
    let page = page(state, user, access, errors, failed, learnt).await?;
    Ok(render_with_status(status, &page))
}

fn back(access: &crate::service::TeamAccess, notice: &str) -> Response {
    Redirect::to(&format!(
        "/teams/{}/rituals?notice={notice}",
        access.team().slug
    ))
    .into_response()
}

pub async fn schedule(
    State(state): State<AppState>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<ScheduleForm>,
) -> Result<Response, WebError> {
    let mut fields = crate::service::error::FieldErrors::default();
    let cadence = Cadence::parse_word(&form.cadence)
        .map_err(|e| fields.push("cadence", e.0))
        .ok();
    let weekday = rituals::parse_weekday(&form.weekday)
        .map_err(|e| fields.push("weekday", e.0))
        .ok();
    let result = match (cadence, weekday) {
        (Some(cadence), Some(weekday)) => state
            .service
            .set_ritual_schedule(&access, cadence, weekday)
            .await
            .map(|_| ()),
        _ => Err(ServiceError::from(fields)),
    };
    match result {
        Ok(()) => Ok(back(&access, "ritual-scheduled")),
        Err(error) => {
            refused(
                &state,
                &user,
                &access,
                error,
                "schedule",
                String::new(),
                String::new(),
            )
            .await
        }
    }
}

pub async fn share(
    State(state): State<AppState>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<ShareForm>,
) -> Result<Response, WebError> {
    let unnamed = form.unnamed.is_some_and(|t| t.0);
    match state
        .service
        .share_in_ritual(&access, &form.failed, &form.learnt, unnamed)
        .await
    {
        Ok(()) => Ok(back(&access, "ritual-shared")),
        Err(error) => {
            refused(
                &state,
                &user,
                &access,
                error,
                "share",
                form.failed,
                form.learnt,
            )
            .await
        }
    }
}

pub async fn close(
    State(state): State<AppState>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    match state.service.close_ritual(&access).await {
        Ok(()) => Ok(back(&access, "ritual-closed")),
        Err(error) => {
            refused(
                &state,
                &user,
                &access,
                error,
                "close",
                String::new(),
                String::new(),
            )
            .await
        }
    }
}
