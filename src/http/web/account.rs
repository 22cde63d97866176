//! My account: name, password and personal API tokens.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{date, render, render_with_status, FormErrors, Layout, NoticeQuery};
use crate::domain::records::people::ApiTokenRecord;
use crate::http::error::WebError;
use crate::http::extract::{CsrfForm, WebUser};
use crate::http::AppState;

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    name: String,
    email: String,
    is_admin: bool,
    tokens: Vec<TokenView>,
    new_token: Option<String>,
    name_errors: FormErrors,
    password_errors: FormErrors,
    token_errors: FormErrors,
    token_name: String,
}

struct TokenView {
    id: String,
    name: String,
    prefix: String,
    created: String,
    last_used: String,
    revoked: bool,
}

fn token_views(tokens: Vec<ApiTokenRecord>) -> Vec<TokenView> {
    tokens
        .into_iter()
        .map(|t| TokenView {
            id: t.id.to_string(),
            name: t.name,
            prefix: t.prefix,
            created: date(t.created_at),
            last_used: t
                .last_used_on
                .map(date)
                .unwrap_or_else(|| "never".to_owned()),
            revoked: t.revoked_at.is_some(),
        })
        .collect()
}

async fn account_page(state: &AppState, user: &WebUser) -> Result<AccountPage, WebError> {
    let tokens = token_views(state.service.api_tokens(&user.actor).await?);
    Ok(AccountPage {
        layout: Layout::signed_in(user, "Your account", "account"),
        name: user.actor.user.name.to_string(),
        email: user.actor.user.email.to_string(),
        is_admin: user.actor.is_admin(),
        tokens,
        new_token: None,
        name_errors: FormErrors::none(),
        password_errors: FormErrors::none(),
        token_errors: FormErrors::none(),
        token_name: String::new(),
    })
}

pub async fn show(
    State(state): State<AppState>,
    Query(notice): Query<NoticeQuery>,
    user: WebUser,
) -> Result<Response, WebError> {
    let mut page = account_page(&state, &user).await?;
    page.layout = page.layout.with_notice(&notice);
    Ok(render(&page))
}

#[derive(Debug, Deserialize)]
pub struct NameForm {
    #[serde(default)]
    name: String,
}

pub async fn rename(
    State(state): State<AppState>,
    user: WebUser,
    CsrfForm(form): CsrfForm<NameForm>,
) -> Result<Response, WebError> {
    match state.service.rename(&user.actor, &form.name).await {
        Ok(_) => Ok(Redirect::to("/account?notice=name-changed").into_response()),
        Err(error) => {
            let errors = FormErrors::from_service(error)?;
            let mut page = account_page(&state, &user).await?;
            page.name = form.name;
            page.name_errors = errors;
            Ok(render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    user: WebUser,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<Response, WebError> {
    match state
        .service
        .change_password(&user.actor, &form.current_password, &form.new_password)
        .await
    {
        Ok(()) => Ok(Redirect::to("/account?notice=password-changed").into_response()),
        Err(error) => {
            let errors = FormErrors::from_service(error)?;
            let mut page = account_page(&state, &user).await?;
            page.password_errors = errors;
            Ok(render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
}

pub async fn create_token(
    State(state): State<AppState>,
    user: WebUser,
    CsrfForm(form): CsrfForm<TokenForm>,
) -> Result<Response, WebError> {
    match state
        .service
        .create_api_token(&user.actor, &form.name)
        .await
    {
        Ok((_, plaintext)) => {
            let mut page = account_page(&state, &user).await?;
            page.new_token = Some(plaintext);
            Ok(render_with_status(StatusCode::CREATED, &page))
        }
        Err(error) => {
            let errors = FormErrors::from_service(error)?;
            let mut page = account_page(&state, &user).await?;
            page.token_errors = errors;
            page.token_name = form.name;
            Ok(render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn revoke_token(
    State(state): State<AppState>,
    Path(id): Path<String>,
    user: WebUser,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, WebError> {
    state.service.revoke_api_token(&user.actor, &id).await?;
    Ok(Redirect::to("/account?notice=token-revoked").into_response())
}
