//! People (organisation admins): accounts, admin rights and invitations to the organisation.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::format::SelectOption;
use super::{date, render, render_with_status, FormErrors, Layout, NoticeQuery};
use crate::http::error::WebError;
use crate::http::extract::{CsrfForm, WebUser};
use crate::http::AppState;

#[derive(Template)]
#[template(path = "people.html")]
struct PeoplePage {
    layout: Layout,
    people: Vec<PersonView>,
    invitations: Vec<InvitationView>,
    new_link: Option<String>,
    invite_email: String,
    errors: FormErrors,
    scim: ScimView,
}

/// SCIM provisioning as the People page shows it: never the token, except once when made.
struct ScimView {
    base_url: String,
    /// "scim_ab12cd…, made 3 Dec 2026" when on.
    current: Option<String>,
    new_token: Option<String>,
}

struct PersonView {
    id: String,
    name: String,
    email: String,
    is_admin: bool,
    is_you: bool,
}

struct InvitationView {
    id: String,
    email: String,
    invited_by: String,
    expires: String,
}

async fn people_page(state: &AppState, user: &WebUser) -> Result<PeoplePage, WebError> {
    let people = state
        .service
        .people(&user.actor)
        .await?
        .into_iter()
        .map(|p| PersonView {
            id: p.id.to_string(),
            is_you: p.id == user.actor.id(),
            name: p.name.to_string(),
            email: p.email.to_string(),
            is_admin: p.is_admin,
        })
        .collect();
    let invitations = state
        .service
        .organisation_invitations(&user.actor)
        .await?
        .into_iter()
        .map(|i| InvitationView {
            id: i.id.to_string(),
            email: i.email.map(|e| e.to_string()).unwrap_or_default(),
            invited_by: i.invited_by_name,
            expires: date(i.expires_at),
        })
        .collect();
    let current = state
        .service
        .scim_token_info(&user.actor)
        .await?
        .map(|info| format!("{}…, made {}", info.prefix, date(info.created_at)));
    Ok(PeoplePage {
        layout: Layout::signed_in(user, "People", "people"),
        people,
        invitations,
        new_link: None,
        invite_email: String::new(),
        errors: FormErrors::none(),
        scim: ScimView {
            base_url: state.service.link("/scim/v2"),
            current,
            new_token: None,
        },
    })
}

pub async fn show(
    State(state): State<AppState>,
    Query(notice): Query<NoticeQuery>,
    user: WebUser,
) -> Result<Response, WebError> {
    let mut page = people_page(&state, &user).await?;
    page.layout = page.layout.with_notice(&notice);
    Ok(render(&page))
}

#[derive(Debug, Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    email: String,
}

pub async fn invite(
    State(state): State<AppState>,
    user: WebUser,
    CsrfForm(form): CsrfForm<InviteForm>,
) -> Result<Response, WebError> {
    match state
        .service
        .invite_to_organisation(&user.actor, Some(&form.email))
        .await
    {
        Ok(created) => {
            let mut page = people_page(&state, &user).await?;
            page.new_link = Some(created.link);
            Ok(render_with_status(StatusCode::CREATED, &page))
        }
        Err(error) => {
            let errors = FormErrors::from_service(error)?;
            let mut page = people_page(&state, &user).await?;
            page.errors = errors;
            page.invite_email = form.email;
            Ok(render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn revoke_invitation(
    State(state): State<AppState>,
    Path(id): Path<String>,
    user: WebUser,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, WebError> {
    state
        .service
        .revoke_organisation_invitation(&user.actor, &id)
        .await?;
    Ok(Redirect::to("/people?notice=invitation-revoked").into_response())
}

/// Makes a new SCIM token (the old one stops working) and shows it this once.
pub async fn rotate_scim_token(
    State(state): State<AppState>,
    user: WebUser,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, WebError> {
    let (token, _) = state.service.rotate_scim_token(Some(&user.actor)).await?;
    let mut page = people_page(&state, &user).await?;
    page.scim.new_token = Some(token);
    Ok(render_with_status(StatusCode::CREATED, &page))
}

/// Switches SCIM provisioning off.
pub async fn revoke_scim_token(
    State(state): State<AppState>,
    user: WebUser,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, WebError> {
    state.service.revoke_scim_token(&user.actor).await?;
    Ok(Redirect::to("/people?notice=scim-off").into_response())
}

#[derive(Debug, Deserialize)]
pub struct AdminForm {
    #[serde(default)]
    is_admin: String,
}

pub async fn set_admin(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    user: WebUser,
    CsrfForm(form): CsrfForm<AdminForm>,
) -> Result<Response, WebError> {
    match state
        .service
        .set_admin(&user.actor, &user_id, form.is_admin == "true")
        .await
    {
        Ok(()) => Ok(Redirect::to("/people?notice=admin-changed").into_response()),
        Err(error) => {
            let errors = FormErrors::from_service(error)?;
            let mut page = people_page(&state, &user).await?;
            page.errors = errors;
            Ok(render_with_status(StatusCode::CONFLICT, &page))
        }
    }
}

/// A built-in writing-hint rule and whether the organisation has it on.
struct RuleRow {
    id: String,
    kind: &'static str,
    message: String,
    enabled: bool,
}

/// A word or phrase the organisation added to the hints.
struct TermRow {
    id: String,
    phrase: String,
    kind: String,
}

#[derive(Template)]
#[template(path = "lint_rules.html")]
struct LintRulesPage {
    layout: Layout,
    rules: Vec<RuleRow>,
    terms: Vec<TermRow>,
    categories: Vec<SelectOption<&'static str>>,
    errors: FormErrors,
}

async fn lint_rules_page(
    state: &AppState,
    user: &WebUser,
    errors: FormErrors,
) -> Result<LintRulesPage, WebError> {
    user.actor.require_admin()?;
    let (rules, terms) = state.service.lint_settings().await?;
    Ok(LintRulesPage {
        layout: Layout::signed_in(user, "Writing hints", "people"),
        rules: rules
            .into_iter()
            .map(|r| RuleRow {
                id: r.id,
                kind: r.category.label(),
                message: r.message,
                enabled: r.enabled,
            })
            .collect(),
        terms: terms
            .into_iter()
            .map(|t| TermRow {
                id: t.id.to_string(),
                phrase: t.phrase,
                kind: t.category,
            })
            .collect(),
        categories: crate::domain::blameless::Category::ALL
            .iter()
            .map(|c| SelectOption::new(c.as_str(), c.label()))
            .collect(),
        errors,
    })
}

pub async fn lint_rules(
    State(state): State<AppState>,
    Query(notice): Query<NoticeQuery>,
    user: WebUser,
) -> Result<Response, WebError> {
    let mut page = lint_rules_page(&state, &user, FormErrors::none()).await?;
    page.layout = page.layout.with_notice(&notice);
    Ok(render(&page))
}

#[derive(Debug, Deserialize)]
pub struct TermForm {
    #[serde(default)]
    category: String,
    #[serde(default)]
    phrase: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    suggestion: String,
}

pub async fn add_lint_term(
    State(state): State<AppState>,
    user: WebUser,
    CsrfForm(form): CsrfForm<TermForm>,
) -> Result<Response, WebError> {
    match state
        .service
        .add_lint_term(
            &user.actor,
            &form.category,
            &form.phrase,
            &form.message,
            &form.suggestion,
        )
        .await
    {
        Ok(_) => Ok(Redirect::to("/people/lint?notice=lint-updated").into_response()),
        Err(error) => {
            let errors = FormErrors::from_service(error)?;
            let page = lint_rules_page(&state, &user, errors).await?;
            Ok(render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

pub async fn remove_lint_term(
    State(state): State<AppState>,
    Path(id): Path<String>,
    user: WebUser,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, WebError> {
    state.service.remove_lint_term(&user.actor, &id).await?;
    Ok(Redirect::to("/people/lint?notice=lint-updated").into_response())
}

#[derive(Debug, Deserialize)]
pub struct SwitchForm {
    #[serde(default)]
    enabled: String,
}

pub async fn switch_lint_rule(
    State(state): State<AppState>,
    Path(rule): Path<String>,
    user: WebUser,
    CsrfForm(form): CsrfForm<SwitchForm>,
) -> Result<Response, WebError> {
    state
        .service
        .set_lint_rule(&user.actor, &rule, form.enabled == "true")
        .await?;
    Ok(Redirect::to("/people/lint?notice=lint-updated").into_response())
}
