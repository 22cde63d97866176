//! The team's "Your data" page: export links (JSON, Markdown, CSV) and an import form that takes
//! a pasted JSON export or Markdown postmortem, with a dry run.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{render, render_with_status, FormErrors, Layout};
use crate::domain::Team;
use crate::http::error::WebError;
use crate::http::extract::{CsrfForm, WebTeam, WebUser};
use crate::http::AppState;
use crate::service::transfer::{self, ExportFormat, ImportReport};

#[derive(Template)]
#[template(path = "team_data.html")]
struct DataPage {
    layout: Layout,
    team: Team,
    form: ImportForm,
    errors: FormErrors,
    report: Option<ImportReport>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ImportForm {
    #[serde(default)]
    text: String,
    #[serde(default)]
    dry_run: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    format: Option<String>,
}

fn page(user: &WebUser, team: Team) -> DataPage {
    DataPage {
        layout: Layout::signed_in(user, format!("Your data: {}", team.name), "teams"),
        team,
        form: ImportForm {
            text: String::new(),
            dry_run: Some("on".to_owned()),
        },
        errors: FormErrors::none(),
        report: None,
    }
}

pub async fn show(WebTeam { user, access }: WebTeam) -> Result<Response, WebError> {
    Ok(render(&page(&user, access.team().clone())))
}

pub async fn export(
    State(state): State<AppState>,
    WebTeam { access, .. }: WebTeam,
    Query(query): Query<ExportQuery>,
) -> Result<Response, WebError> {
    let format = ExportFormat::parse(query.format.as_deref().unwrap_or("json"))?;
    let document = state.service.export_team(&access).await?;
    let file = transfer::render(&document, format)?;
    Ok((
        [
            (header::CONTENT_TYPE, file.content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", file.file_name),
            ),
        ],
        file.bytes,
    )
        .into_response())
}

pub async fn import(
    State(state): State<AppState>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<ImportForm>,
) -> Result<Response, WebError> {
    let dry_run = form.dry_run.is_some();
    let mut data = page(&user, access.team().clone());
    match state.service.import(&access, &form.text, dry_run).await {
        Ok(report) => {
            data.report = Some(report);
            data.form.dry_run = form.dry_run.clone();
            if dry_run {
                data.form.text = form.text;
            }
            Ok(render_with_status(
                if dry_run {
                    StatusCode::OK
                } else {
                    StatusCode::CREATED
                },
                &data,
            ))
        }
        Err(error) => {
            data.errors = FormErrors::from_service(error)?;
            data.form = form;
            Ok(render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &data))
        }
    }
}
