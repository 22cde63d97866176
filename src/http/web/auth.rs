//! First-run set-up, signing in and signing out.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::{render, render_with_status, FormErrors, Layout};
use crate::http::error::WebError;
use crate::http::extract::{
    clear_session_cookie, cookie_name, device_cookie, session_cookie, ClientAddress, CsrfForm,
    MaybeUser, PreSessionCsrf, SessionContext, DEVICE_COOKIE, SESSION_COOKIE,
};
use crate::http::AppState;
use crate::service::{LoginClient, ServiceError};

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    layout: Layout,
    token: String,
    form: SetupForm,
    errors: FormErrors,
}

#[derive(Debug, Default, Deserialize)]
pub struct SetupQuery {
    token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// Keeps the pre-session CSRF cookie (when newly drawn) with the response.
fn with_csrf_cookie(csrf: PreSessionCsrf, jar: CookieJar, response: Response) -> Response {
    match csrf.cookie {
        Some(cookie) => (jar.add(cookie), response).into_response(),
        None => response,
    }
}

pub async fn setup_form(
    State(state): State<AppState>,
    Query(query): Query<SetupQuery>,
    csrf: PreSessionCsrf,
    jar: CookieJar,
) -> Result<Response, WebError> {
    if state.service.organisation().await?.is_some() {
        return Ok(Redirect::to("/login").into_response());
    }
    let page = SetupPage {
        layout: Layout::public("Set up failforward", &csrf.token),
        token: query.token.unwrap_or_default(),
        form: SetupForm::default(),
        errors: FormErrors::none(),
    };
    Ok(with_csrf_cookie(csrf, jar, render(&page)))
}

pub async fn setup_submit(
    State(state): State<AppState>,
    csrf: PreSessionCsrf,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<SetupForm>,
) -> Result<Response, WebError> {
    match state
        .service
        .complete_setup(
            &form.token,
            &form.organisation,
            &form.name,
            &form.email,
            &form.password,
        )
        .await
    {
        Ok(outcome) => Ok((
            jar.add(session_cookie(outcome.session.token, state.secure_cookies)),
            Redirect::to("/?notice=welcome"),
        )
            .into_response()),
        Err(error) => {
            let errors = FormErrors::from_service(error)?;
            let page = SetupPage {
                layout: Layout::public("Set up failforward", &csrf.token),
                token: form.token.clone(),
                form: SetupForm {
                    password: String::new(),
                    ..form
                },
                errors,
            };
            Ok(render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    email: String,
    next: String,
    message: Option<String>,
    set_up: bool,
    /// Single sign-on is configured: the page offers "Sign in with SSO".
    sso: bool,
    /// Passwords are refused (except for the break-glass admin): the form is tucked away.
    sso_only: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    expired: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// Only same-site paths are followed after sign-in, so the form cannot become an open redirect.
pub(super) fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") {
        next
    } else {
        "/"
    }
}

pub async fn login_form(
    State(state): State<AppState>,
    Query(query): Query<LoginQuery>,
    MaybeUser(context): MaybeUser,
    csrf: PreSessionCsrf,
    jar: CookieJar,
) -> Result<Response, WebError> {
    let next = query.next.unwrap_or_else(|| "/".to_owned());
    if matches!(context, SessionContext::SignedIn { .. }) {
        return Ok(Redirect::to(safe_next(&next)).into_response());
    }
    let set_up = state.service.organisation().await?.is_some();
    let message = query
        .expired
        .is_some()
        .then(|| "Your session has ended. Please sign in again.".to_owned());
    let sso = state.service.sso_policy().await?;
    let page = LoginPage {
        layout: Layout::public("Sign in", &csrf.token),
        email: String::new(),
        next,
        message,
        set_up,
        sso: sso.is_some(),
        sso_only: sso.is_some_and(|p| p.sso_only),
    };
    let jar = if matches!(context, SessionContext::Expired) {
        jar.remove(clear_session_cookie(state.secure_cookies))
    } else {
        jar
    };
    Ok(with_csrf_cookie(csrf, jar, render(&page)))
}

pub async fn login_submit(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: axum::http::HeaderMap,
    csrf: PreSessionCsrf,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<Response, WebError> {
    let client = LoginClient {
        device: jar
            .get(cookie_name(DEVICE_COOKIE, state.secure_cookies))
            .map(|c| c.value().to_owned()),
        address,
        address_is_shared_proxy: !state.trust_forwarded_for,
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
    };
    match state
        .service
        .login(&form.email, &form.password, &client)
        .await
    {
        Ok(outcome) => {
            let mut jar = jar.add(session_cookie(outcome.session.token, state.secure_cookies));
            if let Some(device) = outcome.device {
                jar = jar.add(device_cookie(device, state.secure_cookies));
            }
            Ok((jar, Redirect::to(safe_next(&form.next))).into_response())
        }
        Err(
            error @ (ServiceError::BadCredentials
            | ServiceError::RateLimited { .. }
            | ServiceError::Forbidden(_)),
        ) => {
            let (status, message, retry_after) = match error {
                ServiceError::Forbidden(message) => (StatusCode::FORBIDDEN, message, None),
                ServiceError::RateLimited { retry_after_secs } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "Too many attempts from this browser. Wait {} and try again.",
                        wait_text(retry_after_secs)
                    ),
                    Some(retry_after_secs),
                ),
                _ => (
                    StatusCode::UNAUTHORIZED,
                    "That email and password do not match an account.".to_owned(),
                    None,
                ),
            };
            let sso = state.service.sso_policy().await?;
            let page = LoginPage {
                layout: Layout::public("Sign in", &csrf.token),
                email: form.email,
                next: form.next,
                message: Some(message),
                set_up: true,
                sso: sso.is_some(),
                sso_only: sso.is_some_and(|p| p.sso_only),
            };
            let mut response = render_with_status(status, &page);
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            Ok(response)
        }
        Err(other) => Err(other.into()),
    }
}

fn wait_text(seconds: u64) -> String {
    match seconds {
        0 | 1 => "a second".to_owned(),
        2..=90 => format!("{seconds} seconds"),
        _ => format!("{} minutes", seconds.div_ceil(60)),
    }
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, WebError> {
    if let Some(cookie) = jar.get(cookie_name(SESSION_COOKIE, state.secure_cookies)) {
        state.service.logout(cookie.value()).await?;
    }
    Ok((
        jar.remove(clear_session_cookie(state.secure_cookies)),
        Redirect::to("/login"),
    )
        .into_response())
}
