//! `/api/v1/lint…`: the blameless-language linter and the organisation's rule settings.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiUser};
use crate::http::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LintRequest {
    /// English prose, up to 200 000 characters.
    pub text: String,
}

/// One finding; offsets count characters (Unicode scalar values), `end` exclusive.
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingOut {
    /// `blame_person`, `counterfactual`, `human_error`, `root_cause_singular`, `moralising` or
    /// `hindsight_certainty`.
    pub category: String,
    pub start: usize,
    pub end: usize,
    pub message: String,
    /// A reframing question.
    pub suggestion: String,
    /// The rule that fired (to dismiss the finding or switch the rule off).
    pub rule: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LintResponse {
    pub findings: Vec<FindingOut>,
    /// Findings left out because someone dismissed them for this exact text.
    pub dismissed: usize,
}

/// Finds blame-laden wording: a person made the cause, counterfactuals, "human error", a single
/// root cause, moralising, hindsight certainty.
#[utoipa::path(post, path = "/api/v1/lint", tag = "lint", request_body = LintRequest,
    responses((status = 200, body = LintResponse), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn lint(
    State(state): State<AppState>,
    ApiUser(_caller): ApiUser,
    ApiJson(body): ApiJson<LintRequest>,
) -> Result<Json<LintResponse>, ApiError> {
    let report = state.service.lint(&body.text).await?;
    Ok(Json(LintResponse {
        dismissed: report.dismissed,
        findings: report
            .findings
            .into_iter()
            .map(|f| FindingOut {
                category: f.category.as_str().to_owned(),
                start: f.start,
                end: f.end,
                message: f.message,
                suggestion: f.suggestion,
                rule: f.rule,
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DismissRequest {
    /// The exact text the finding was in.
    pub text: String,
    pub rule: String,
    pub start: i64,
    /// Why the wording is right here.
    pub reason: String,
}

/// Dismisses a finding for this exact text; it is not reported for it again.
#[utoipa::path(post, path = "/api/v1/lint/dismissals", tag = "lint", request_body = DismissRequest,
    responses((status = 201), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn dismiss(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    ApiJson(body): ApiJson<DismissRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .dismiss_finding(&actor, &body.text, &body.rule, body.start, &body.reason)
        .await?;
    Ok(StatusCode::CREATED)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleOut {
    pub id: String,
    pub category: String,
    pub message: String,
    pub enabled: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TermOut {
    pub id: String,
    pub category: String,
    pub phrase: String,
    pub message: Option<String>,
    pub suggestion: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LintSettingsOut {
    pub rules: Vec<RuleOut>,
    pub terms: Vec<TermOut>,
}

/// The built-in rules (on or off) and the organisation's own terms.
#[utoipa::path(get, path = "/api/v1/lint/rules", tag = "lint",
    responses((status = 200, body = LintSettingsOut)))]
pub async fn settings(
    State(state): State<AppState>,
    ApiUser(_caller): ApiUser,
) -> Result<Json<LintSettingsOut>, ApiError> {
    let (rules, terms) = state.service.lint_settings().await?;
    Ok(Json(LintSettingsOut {
        rules: rules
            .into_iter()
            .map(|r| RuleOut {
                id: r.id,
                category: r.category.as_str().to_owned(),
                message: r.message,
                enabled: r.enabled,
            })
            .collect(),
        terms: terms
            .into_iter()
            .map(|t| TermOut {
                id: t.id.to_string(),
                category: t.category,
                phrase: t.phrase,
                message: t.message,
                suggestion: t.suggestion,
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TermBody {
    pub category: String,
    pub phrase: String,
    pub message: Option<String>,
    pub suggestion: Option<String>,
}

/// Adds a term to the organisation's rules (admins).
#[utoipa::path(post, path = "/api/v1/lint/terms", tag = "lint", request_body = TermBody,
    responses((status = 201), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn add_term(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    ApiJson(body): ApiJson<TermBody>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .add_lint_term(
            &actor,
            &body.category,
            &body.phrase,
            body.message.as_deref().unwrap_or(""),
            body.suggestion.as_deref().unwrap_or(""),
        )
        .await?;
    Ok(StatusCode::CREATED)
}

/// Removes one of the organisation's terms (admins).
#[utoipa::path(delete, path = "/api/v1/lint/terms/{term_id}", tag = "lint",
    params(("term_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn remove_term(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(term_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.service.remove_lint_term(&actor, &term_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSwitch {
    pub enabled: bool,
}

/// Switches a built-in rule on or off for the organisation (admins).
#[utoipa::path(put, path = "/api/v1/lint/rules/{rule_id}", tag = "lint", request_body = RuleSwitch,
    params(("rule_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn switch_rule(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(rule_id): Path<String>,
    ApiJson(body): ApiJson<RuleSwitch>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .set_lint_rule(&actor, &rule_id, body.enabled)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
