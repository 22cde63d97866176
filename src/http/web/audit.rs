//! The audit log page for organisation admins (`/people/audit`, its filters and downloads),
//! "Your sessions" (`/account/sessions`) and an admin ending someone's sessions from People.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::format::{date, datetime};
use super::{render, render_with_status, FormErrors, Layout, NoticeQuery};
use crate::domain::audit::AuditAction;
use crate::http::error::WebError;
use crate::http::extract::{CsrfForm, WebUser};
use crate::http::AppState;
use crate::service::audit::AuditQuery;

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    layout: Layout,
    actions: Vec<ActionOption>,
    actor: String,
    from: String,
    until: String,
    entries: Vec<EntryView>,
    /// The filter as a query string, for the download links.
    query: String,
    errors: FormErrors,
}

struct ActionOption {
    word: &'static str,
    selected: bool,
}

struct EntryView {
    when: String,
    actor: String,
    action: String,
    target: String,
    detail: String,
}

/// The filter as the page's form sends it.
#[derive(Debug, Default, Deserialize)]
pub struct AuditFilterForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    format: String,
}

impl AuditFilterForm {
    fn query(&self) -> AuditQuery {
        let given = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        AuditQuery {
            action: given(&self.action),
            actor: given(&self.actor),
            from: given(&self.from),
            until: given(&self.until),
            limit: None,
        }
    }

    fn query_string(&self) -> String {
        serde_urlencoded::to_string([
            ("action", self.action.as_str()),
            ("actor", self.actor.as_str()),
            ("from", self.from.as_str()),
            ("until", self.until.as_str()),
        ])
        .unwrap_or_default()
    }
}

/// `GET /people/audit`: the newest entries matching the filter.
pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    Query(form): Query<AuditFilterForm>,
) -> Result<Response, WebError> {
    let (entries, errors) = match state.service.audit_log(&user.actor, &form.query()).await {
        Ok(entries) => (entries, FormErrors::none()),
        Err(error) => (Vec::new(), FormErrors::from_service(error)?),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = AuditPage {
        layout: Layout::signed_in(&user, "Audit log", "people"),
        actions: AuditAction::ALL
            .iter()
            .map(|action| ActionOption {
                word: action.as_str(),
                selected: action.as_str() == form.action.trim(),
            })
            .collect(),
        query: form.query_string(),
        actor: form.actor,
        from: form.from,
        until: form.until,
        entries: entries
            .into_iter()
            .map(|entry| EntryView {
                when: datetime(entry.occurred_at),
                actor: match (entry.actor_name, entry.actor_email) {
                    (Some(name), Some(email)) => format!("{name} <{email}>"),
                    _ if entry.actor.is_some() => "a deleted account".to_owned(),
                    _ => "the server".to_owned(),
                },
                action: entry.action,
                target: entry.target,
                detail: entry.detail,
            })
            .collect(),
        errors,
    };
    Ok(render_with_status(status, &page))
}

/// `GET /people/audit/export?format=csv|json`: the filtered log as a file; recorded itself.
pub async fn export(
    State(state): State<AppState>,
    user: WebUser,
    Query(form): Query<AuditFilterForm>,
) -> Result<Response, WebError> {
    let file = state
        .service
        .export_audit_log(&user.actor, &form.query(), &form.format)
        .await?;
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

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    layout: Layout,
    sessions: Vec<SessionView>,
    tokens: Vec<TokenView>,
}

struct SessionView {
    id: String,
    created: String,
    last_used: String,
    user_agent: String,
    current: bool,
}

struct TokenView {
    id: String,
    name: String,
    prefix: String,
    created: String,
    last_used: String,
}

/// `GET /account/sessions`: my browser sessions and live tokens.
pub async fn sessions(
    State(state): State<AppState>,
    Query(notice): Query<NoticeQuery>,
    user: WebUser,
) -> Result<Response, WebError> {
    let mine = state.service.my_sessions(&user.actor).await?;
    let page = SessionsPage {
        layout: Layout::signed_in(&user, "Your sessions", "account").with_notice(&notice),
        sessions: mine
            .sessions
            .into_iter()
            .map(|session| SessionView {
                id: session.id,
                created: datetime(session.created_at),
                last_used: date(session.last_used_on),
                user_agent: session.user_agent,
                current: session.current,
            })
            .collect(),
        tokens: mine
            .tokens
            .into_iter()
            .filter(|token| token.revoked_at.is_none())
            .map(|token| TokenView {
                id: token.id.to_string(),
                name: token.name,
                prefix: token.prefix,
                created: date(token.created_at),
                last_used: token
                    .last_used_on
                    .map(date)
                    .unwrap_or_else(|| "never".to_owned()),
            })
            .collect(),
    };
    Ok(render(&page))
}

#[derive(Deserialize)]
pub struct Empty {}

/// `POST /account/sessions/{id}/end`.
pub async fn end_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
    user: WebUser,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, WebError> {
    state.service.end_my_session(&user.actor, &id).await?;
    Ok(Redirect::to("/account/sessions?notice=session-ended").into_response())
}

/// `POST /account/sessions/end-others`: sign out everywhere else.
pub async fn end_other_sessions(
    State(state): State<AppState>,
    user: WebUser,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, WebError> {
    state.service.end_my_other_sessions(&user.actor).await?;
    Ok(Redirect::to("/account/sessions?notice=sessions-ended").into_response())
}

/// `POST /people/{user_id}/sessions/end`: an admin ends someone's sessions and tokens.
pub async fn end_user_sessions(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    user: WebUser,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, WebError> {
    state
        .service
        .end_sessions_of_user(&user.actor, &user_id)
        .await?;
    Ok(Redirect::to("/people?notice=user-sessions-ended").into_response())
}
