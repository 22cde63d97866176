//! The failure CV pages: `/me/cv` (the person's own, with publishing and downloads) and
//! `/people/{user_id}/cv` (someone's, once they published it — not found otherwise, admins
//! included).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};

use super::form::EmptyForm;
use super::{date, render, Layout, NoticeQuery};
use crate::domain::cv::FailureCv;
use crate::http::error::WebError;
use crate::http::extract::{CsrfForm, WebUser};
use crate::http::AppState;

#[derive(Template)]
#[template(path = "cv.html")]
struct CvPage {
    layout: Layout,
    /// The viewer's own CV (publishing and downloads are offered).
    own: bool,
    person_id: String,
    name: String,
    published_on: Option<String>,
    failures: Vec<FailureLine>,
    experiments: Vec<ExperimentLine>,
}

struct FailureLine {
    title: String,
    team: String,
    noticed: String,
    learnings: Vec<String>,
}

struct ExperimentLine {
    title: String,
    team: String,
    outcome: &'static str,
    learned: String,
    concluded: String,
}

fn page(layout: Layout, own: bool, cv: FailureCv) -> CvPage {
    CvPage {
        layout,
        own,
        person_id: cv.person_id,
        name: cv.person_name,
        published_on: cv.published_on.map(date),
        failures: cv
            .failures
            .into_iter()
            .map(|f| FailureLine {
                title: f.title,
                team: f.team_name,
                noticed: date(f.noticed_on),
                learnings: f.learnings,
            })
            .collect(),
        experiments: cv
            .experiments
            .into_iter()
            .map(|e| ExperimentLine {
                title: e.title,
                team: e.team_name,
                outcome: e.outcome.label(),
                learned: e.learned,
                concluded: date(e.concluded_on),
            })
            .collect(),
    }
}

pub async fn mine(
    State(state): State<AppState>,
    Query(notice): Query<NoticeQuery>,
    user: WebUser,
) -> Result<Response, WebError> {
    let cv = state.service.my_failure_cv(&user.actor).await?;
    let layout = Layout::signed_in(&user, "My failure CV", "account").with_notice(&notice);
    Ok(render(&page(layout, true, cv)))
}

pub async fn person(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    user: WebUser,
) -> Result<Response, WebError> {
    let cv = state
        .service
        .published_failure_cv(&user.actor, &user_id)
        .await?;
    let own = cv.person_id == user.actor.id().to_string();
    let layout = Layout::signed_in(&user, format!("Failure CV of {}", cv.person_name), "people");
    Ok(render(&page(layout, own, cv)))
}

pub async fn publish(
    State(state): State<AppState>,
    user: WebUser,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    state.service.publish_failure_cv(&user.actor, true).await?;
    Ok(Redirect::to("/me/cv?notice=cv-published").into_response())
}

pub async fn unpublish(
    State(state): State<AppState>,
    user: WebUser,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    state.service.publish_failure_cv(&user.actor, false).await?;
    Ok(Redirect::to("/me/cv?notice=cv-unpublished").into_response())
}

/// The person's own CV as Markdown (the JSON download is the API's `GET /api/v1/me/cv/export`).
pub async fn markdown(State(state): State<AppState>, user: WebUser) -> Result<Response, WebError> {
    let text = state
        .service
        .export_failure_cv_markdown(&user.actor)
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/markdown; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"failure-cv.md\"",
            ),
        ],
        text,
    )
        .into_response())
}
