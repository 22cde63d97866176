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
use crate::http::extract::{CsrfForm, CsrfMultipart, WebTeam, WebUser};
use crate::http::AppState;
use crate::service::transfer::{self, ExportFormat, FileOutcome, ImportReport};

#[derive(Template)]
#[template(path = "team_data.html")]
struct DataPage {
    layout: Layout,
    team: Team,
    form: ImportForm,
    errors: FormErrors,
    report: Option<ImportReport>,
    /// The outcome of each uploaded file, after a bulk upload.
    files: Vec<FileOutcome>,
    /// The bulk upload's options as sent.
    bulk_dry_run: bool,
    all_or_nothing: bool,
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
        // Unticked: a first import that silently imports nothing reads as a failure (issue 19).
        // The report after a dry run keeps it ticked, to try again before writing.
        form: ImportForm::default(),
        errors: FormErrors::none(),
        report: None,
        files: Vec::new(),
        bulk_dry_run: false,
        all_or_nothing: false,
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

/// Several files or archives uploaded at once: a line per file, as the command line prints,
/// with a dry run and all-or-nothing like its own. 201 when something was written, 422 when a
/// file was refused, 200 otherwise.
pub async fn import_files(
    State(state): State<AppState>,
    WebTeam { user, access }: WebTeam,
    CsrfMultipart(fields): CsrfMultipart,
) -> Result<Response, WebError> {
    let on = |name: &str| fields.iter().any(|(n, _, _)| n == name);
    let dry_run = on("dry_run");
    let all_or_nothing = on("all_or_nothing");
    let files: Vec<(String, Vec<u8>)> = fields
        .iter()
        .filter(|(n, f, b)| {
            n == "files" && (f.as_deref().is_some_and(|f| !f.is_empty()) || !b.is_empty())
        })
        .map(|(_, f, b)| (f.clone().unwrap_or_else(|| "upload".to_owned()), b.clone()))
        .collect();
    let mut data = page(&user, access.team().clone());
    data.bulk_dry_run = dry_run;
    data.all_or_nothing = all_or_nothing;
    if files.is_empty() {
        data.errors = FormErrors::from_service(crate::service::error::ServiceError::field(
            "files",
            "choose at least one file",
        ))?;
        return Ok(render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &data));
    }
    data.files = state
        .service
        .import_files(&access, files, dry_run, all_or_nothing)
        .await?;
    let status = if data.files.iter().any(|f| f.outcome == "refused") {
        StatusCode::UNPROCESSABLE_ENTITY
    } else if data.files.iter().any(|f| f.outcome == "imported") {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(render_with_status(status, &data))
}
