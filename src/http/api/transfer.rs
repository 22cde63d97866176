//! Export and import: `GET …/export?format=json|markdown|csv` for a loop, a team and (admins) the
//! organisation; `POST /teams/{slug}/import[?dry_run=true]` with a JSON export or a Markdown
//! postmortem as the body. The JSON schema is documented in docs/export-schema.md.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiTeam, ApiUser};
use crate::http::AppState;
use crate::service::transfer::{self, ExportDocument, ExportFormat, ImportReport};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `json` (default), `markdown` (one `.md` per loop; a tar archive for several) or `csv`.
    pub format: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// Check and report what would be created, writing nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// The uploaded file's name: errors name it, and a postmortem may take its title or date
    /// from it (`2025-09-29-queue-outage.md`).
    #[serde(default)]
    pub file_name: Option<String>,
}

fn file_response(document: &ExportDocument, format: Option<&str>) -> Result<Response, ApiError> {
    let format = ExportFormat::parse(format.unwrap_or("json"))?;
    let file = transfer::render(document, format)?;
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

/// Every loop of the team, without any person's name (anonymous loops keep only their days).
#[utoipa::path(get, path = "/api/v1/teams/{slug}/export", tag = "export", params(("slug" = String, Path), ExportParams),
    responses((status = 200, description = "The export: JSON as described here, or text/markdown, application/x-tar or text/csv by `format`",
            content((ExportDocument = "application/json"), (String = "text/markdown"), (String = "application/x-tar"), (String = "text/csv"))),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn export_team(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Query(params): Query<ExportParams>,
) -> Result<Response, ApiError> {
    let document = state.service.export_team(&access).await?;
    file_response(&document, params.format.as_deref())
}

/// One loop: JSON, a Markdown file with YAML front matter, or one CSV row.
#[utoipa::path(get, path = "/api/v1/teams/{slug}/loops/{loop_id}/export", tag = "export",
    params(("slug" = String, Path), ("loop_id" = String, Path), ExportParams),
    responses((status = 200, description = "The export: JSON as described here, or text/markdown, application/x-tar or text/csv by `format`",
            content((ExportDocument = "application/json"), (String = "text/markdown"), (String = "application/x-tar"), (String = "text/csv"))),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn export_loop(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, loop_id)): Path<(String, String)>,
    Query(params): Query<ExportParams>,
) -> Result<Response, ApiError> {
    let document = state.service.export_loop(&access, &loop_id).await?;
    file_response(&document, params.format.as_deref())
}

/// Every team's loops (organisation admins only).
#[utoipa::path(get, path = "/api/v1/export", tag = "export", params(ExportParams),
    responses((status = 200, description = "The export: JSON as described here, or text/markdown, application/x-tar or text/csv by `format`",
            content((ExportDocument = "application/json"), (String = "text/markdown"), (String = "application/x-tar"), (String = "text/csv"))),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn export_organisation(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Query(params): Query<ExportParams>,
) -> Result<Response, ApiError> {
    let document = state.service.export_organisation(&actor).await?;
    file_response(&document, params.format.as_deref())
}

/// An import's body as the document states it: raw bytes, since the importer reads any text (a
/// typed schema would promise a refusal of JSON-looking text that the lenient reader accepts).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // never built: the handler takes the bytes as they come
pub struct ImportBody(Vec<u8>);

/// Imports a JSON export (all its loops) or a Markdown postmortem into the team, all or nothing,
/// and reports the blameless-language linter's findings on the imported text. Named loops become
/// the caller's; anonymous ones stay anonymous.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/import", tag = "export", params(("slug" = String, Path), ImportParams),
    request_body(content = ImportBody, description = "A JSON export (application/json), or a postmortem as written (text/markdown or plain text): raw bytes, read leniently; only what cannot be text is refused", content_type = "text/markdown"),
    responses((status = 201, body = ImportReport), (status = 200, description = "Dry run", body = ImportReport),
        (status = 413, description = "Larger than the request limit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a postmortem at all (binary, an image, not UTF-8, empty) or a malformed export, naming the file and line", body = Problem, content_type = "application/problem+json")))]
pub async fn import(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Query(params): Query<ImportParams>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<ImportReport>), ApiError> {
    let report = state
        .service
        .import_file(&access, params.file_name.as_deref(), &body, params.dry_run)
        .await?;
    let status = if params.dry_run {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(report)))
}
