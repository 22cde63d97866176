//! Who is asking, and checked input: session and token authentication, CSRF, JSON and forms.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::error::{error_page, problem, ApiError, WebError};
use super::AppState;
use crate::service::{secrets, Actor, FieldError, ServiceError, SessionCheck};

pub const SESSION_COOKIE: &str = "ff_session";
/// The long-lived device cookie that tells sign-in throttling this browser apart.
pub const DEVICE_COOKIE: &str = "ff_device";
/// Before sign-in there is no session to hold a CSRF token, so the login, set-up and invitation
/// forms use a double-submit cookie instead.
pub const PRE_SESSION_CSRF_COOKIE: &str = "ff_csrf";
/// The `state` of a single sign-on started in this browser: the answer must come back to the
/// browser that asked (login CSRF).
pub const SSO_STATE_COOKIE: &str = "ff_sso_state";
pub const CSRF_FIELD: &str = "csrf_token";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session state of a request, resolved once by [`resolve_session`].
#[derive(Debug, Clone)]
pub enum SessionContext {
    SignedIn { actor: Actor, csrf_token: String },
    Expired,
    Anonymous,
}

/// A cookie's name: behind https with the `__Host-` prefix, which browsers accept only from a
/// secure origin with `Secure`, `Path=/` and no `Domain`, so no other host or path can plant it.
pub fn cookie_name(base: &'static str, secure: bool) -> &'static str {
    match (base, secure) {
        (SESSION_COOKIE, true) => "__Host-ff_session",
        (DEVICE_COOKIE, true) => "__Host-ff_device",
        (PRE_SESSION_CSRF_COOKIE, true) => "__Host-ff_csrf",
        (SSO_STATE_COOKIE, true) => "__Host-ff_sso_state",
        (name, _) => name,
    }
}

/// Resolves the session cookie once per request. Only GET requests extend the idle timeout:
/// a form submission (such as an anonymous report) must leave no timestamp against the person.
pub async fn resolve_session(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let jar = CookieJar::from_headers(request.headers());
    let refresh = request.method() == Method::GET;
    let context = match jar.get(cookie_name(SESSION_COOKIE, state.secure_cookies)) {
        None => SessionContext::Anonymous,
        Some(cookie) => match state.service.check_session(cookie.value(), refresh).await {
            Ok(SessionCheck::Valid { actor, csrf_token }) => {
                SessionContext::SignedIn { actor, csrf_token }
            }
            Ok(SessionCheck::Expired) => SessionContext::Expired,
            Ok(SessionCheck::Unknown) => SessionContext::Anonymous,
            Err(error) => return WebError(error).into_response(),
        },
    };
    request.extensions_mut().insert(context);
    next.run(request).await
}

fn context_of(parts: &Parts) -> SessionContext {
    parts
        .extensions
        .get::<SessionContext>()
        .cloned()
        .unwrap_or(SessionContext::Anonymous)
}

/// A signed-in person on a web page; anyone else is sent to the sign-in page and brought back.
pub struct WebUser {
    pub actor: Actor,
    pub csrf_token: String,
}

impl<S: Send + Sync> FromRequestParts<S> for WebUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match context_of(parts) {
            SessionContext::SignedIn { actor, csrf_token } => Ok(WebUser { actor, csrf_token }),
            other => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                let mut target = format!("/login?next={}", urlencode(next));
                if matches!(other, SessionContext::Expired) {
                    target.push_str("&expired=1");
                }
                Err(Redirect::to(&target).into_response())
            }
        }
    }
}

/// The session context as it is, for pages that anyone may see (login, set-up, invitations).
pub struct MaybeUser(pub SessionContext);

impl<S: Send + Sync> FromRequestParts<S> for MaybeUser {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeUser(context_of(parts)))
    }
}

pub fn urlencode(value: &str) -> String {
    serde_urlencoded::to_string([("", value)])
        .map(|s| s.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}

/// The pre-session CSRF token, drawn when the browser has none yet. Handlers that render a
/// pre-session form put `cookie` in their response.
pub struct PreSessionCsrf {
    pub token: String,
    pub cookie: Option<Cookie<'static>>,
}

impl FromRequestParts<AppState> for PreSessionCsrf {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let name = cookie_name(PRE_SESSION_CSRF_COOKIE, state.secure_cookies);
        if let Some(existing) = jar.get(name) {
            if existing.value().len() >= 32 {
                return Ok(PreSessionCsrf {
                    token: existing.value().to_owned(),
                    cookie: None,
                });
            }
        }
        let token = secrets::generate("").plaintext;
        let cookie = Cookie::build((name, token.clone()))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(state.secure_cookies)
            .build();
        Ok(PreSessionCsrf {
            token,
            cookie: Some(cookie),
        })
    }
}

#[derive(Deserialize)]
struct CsrfField {
    csrf_token: Option<String>,
}

/// A URL-encoded form whose CSRF token matched: the session's when signed in, the pre-session
/// cookie's otherwise. A mismatch answers 403 and runs no handler.
pub struct CsrfForm<T>(pub T);

impl<T> FromRequest<AppState> for CsrfForm<T>
where
    T: DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let expected = match context_of(&parts) {
            SessionContext::SignedIn { csrf_token, .. } => Some(csrf_token),
            _ => CookieJar::from_headers(&parts.headers)
                .get(cookie_name(PRE_SESSION_CSRF_COOKIE, state.secure_cookies))
                .map(|c| c.value().to_owned()),
        };
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let given = serde_urlencoded::from_bytes::<CsrfField>(&bytes)
            .ok()
            .and_then(|f| f.csrf_token);
        let valid = match (&expected, &given) {
            (Some(expected), Some(given)) => secrets::same(expected, given),
            _ => false,
        };
        if !valid {
            return Err(error_page(
                StatusCode::FORBIDDEN,
                "This form has expired",
                "The form was missing its security token or was opened in another session. Go back, reload the page and try again.",
                Vec::new(),
            ));
        }
        serde_urlencoded::from_bytes::<T>(&bytes)
            .map(CsrfForm)
            .map_err(|e| {
                error_page(
                    StatusCode::BAD_REQUEST,
                    "The form could not be read",
                    &e.to_string(),
                    Vec::new(),
                )
            })
    }
}

/// A multipart form (file uploads) whose `csrf_token` field matched the session's: its other
/// fields as (name, file name, bytes). A mismatch answers 403 and runs no handler.
pub struct CsrfMultipart(pub Vec<(String, Option<String>, Vec<u8>)>);

impl FromRequest<AppState> for CsrfMultipart {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let expected = match request.extensions().get::<SessionContext>().cloned() {
            Some(SessionContext::SignedIn { csrf_token, .. }) => Some(csrf_token),
            _ => None,
        };
        let unreadable = |message: String| {
            error_page(
                StatusCode::BAD_REQUEST,
                "The form could not be read",
                &message,
                Vec::new(),
            )
        };
        let mut multipart = axum::extract::Multipart::from_request(request, state)
            .await
            .map_err(|e| unreadable(e.body_text()))?;
        let mut fields = Vec::new();
        let mut given = None;
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| unreadable(e.body_text()))?
        {
            let name = field.name().unwrap_or("").to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let bytes = field.bytes().await.map_err(|e| unreadable(e.body_text()))?;
            if name == "csrf_token" {
                given = Some(String::from_utf8_lossy(&bytes).into_owned());
            } else {
                fields.push((name, file_name, bytes.to_vec()));
            }
        }
        let valid = match (&expected, &given) {
            (Some(expected), Some(given)) => secrets::same(expected, given),
            _ => false,
        };
        if !valid {
            return Err(error_page(
                StatusCode::FORBIDDEN,
                "This form has expired",
                "The form was missing its security token or was opened in another session. Go back, reload the page and try again.",
                Vec::new(),
            ));
        }
        Ok(CsrfMultipart(fields))
    }
}

/// The caller of an API endpoint: a personal API token (`Authorization: Bearer ffp_…`), or the
/// browser's session plus an `X-CSRF-Token` header on state-changing methods.
pub struct ApiUser(pub Actor);

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .ok_or(ApiError(ServiceError::Unauthenticated))?;
            return state
                .service
                .check_api_token(token, parts.method == Method::GET)
                .await?
                .map(ApiUser)
                .ok_or(ApiError(ServiceError::Unauthenticated));
        }
        match context_of(parts) {
            SessionContext::SignedIn { actor, csrf_token } => {
                let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
                let header_ok = parts
                    .headers
                    .get(CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| secrets::same(v, &csrf_token));
                if safe || header_ok {
                    Ok(ApiUser(actor))
                } else {
                    Err(ApiError(ServiceError::Forbidden(
                        "a browser session needs the X-CSRF-Token header for this method".into(),
                    )))
                }
            }
            _ => Err(ApiError(ServiceError::Unauthenticated)),
        }
    }
}

/// A JSON object as the request body. Malformed JSON answers 400; JSON that is not an object, a
/// wrong type, a missing field or an unknown field answers 422 naming the field (`body` for the
/// whole) — all as problem+json.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let mime = v.split(';').next().unwrap_or("").trim();
                mime == "application/json" || mime.ends_with("+json")
            });
        if !is_json {
            return Err(problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "JSON expected",
                "send the body as application/json",
                Vec::new(),
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        // Every API body is an object. serde would read a struct from an array too (`[null]`
        // filling the first field), so anything else is refused before it gets that far.
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            return Err(
                match serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
                    Err(error) => malformed_json(&error),
                    Ok(_) => problem(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid_input",
                        "Some fields are not valid",
                        "body: must be a JSON object",
                        vec![FieldError {
                            field: "body".to_owned(),
                            message: "must be a JSON object".to_owned(),
                        }],
                    ),
                },
            );
        }
        let mut value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|error| malformed_json(&error))?;
        whole_numbers(&mut value);
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(value) => Ok(ApiJson(value)),
            Err(error) => Err(json_problem(&error)),
        }
    }
}

/// JSON has one kind of number, and JSON Schema's `integer` counts `5.0` as one: a whole number
/// written with a fraction becomes the integer, so integer fields take it (up to 2^53, where
/// every whole float is exact).
fn whole_numbers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(number) if !number.is_i64() && !number.is_u64() => {
            if let Some(f) = number.as_f64() {
                if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 {
                    *value = Value::from(f as i64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        Value::Object(fields) => fields.values_mut().for_each(whole_numbers),
        _ => {}
    }
}

fn json_problem(error: &serde_path_to_error::Error<serde_json::Error>) -> Response {
    let inner = error.inner();
    let message = inner.to_string();
    if inner.is_syntax() || inner.is_eof() {
        return malformed_json(inner);
    }
    let path = error.path().to_string();
    // serde_path_to_error reports an unknown field at its own path but a missing one at its
    // parent's; the name is in the message either way.
    let named = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    let field = match named {
        Some(name) if path == "." => name.to_owned(),
        Some(name) if path == name || path.ends_with(&format!(".{name}")) => path,
        Some(name) => format!("{path}.{name}"),
        None if path == "." => "body".to_owned(),
        None => path,
    };
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
        "Some fields are not valid",
        &format!("{field}: {message}"),
        vec![FieldError { field, message }],
    )
}

/// Bytes that are not JSON at all (binary, invalid UTF-8, cut short): 400.
fn malformed_json(error: &serde_json::Error) -> Response {
    problem(
        StatusCode::BAD_REQUEST,
        "malformed_json",
        "The body is not valid JSON",
        &error.to_string(),
        Vec::new(),
    )
}

/// The client's address, for sign-in throttling only (never logged): the socket peer, or the last
/// `X-Forwarded-For` entry when the operator says a proxy sets it.
pub struct ClientAddress(pub Option<String>);

impl<S> FromRequestParts<S> for ClientAddress
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        if state.trust_forwarded_for {
            if let Some(forwarded) = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
            {
                return Ok(ClientAddress(Some(forwarded.trim().to_owned())));
            }
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip().to_string());
        Ok(ClientAddress(peer))
    }
}

/// The session cookie for a new sign-in.
pub fn session_cookie(token: String, secure: bool) -> Cookie<'static> {
    Cookie::build((cookie_name(SESSION_COOKIE, secure), token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .build()
}

/// The device cookie after a successful sign-in: the account's right password from this browser
/// is not slowed down by someone else failing on the same account. (`Path=/`, which the
/// `__Host-` prefix requires; only the sign-in reads it.)
pub fn device_cookie(token: String, secure: bool) -> Cookie<'static> {
    Cookie::build((cookie_name(DEVICE_COOKIE, secure), token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(time::Duration::days(400))
        .build()
}

/// Removes the session cookie (signing out, or an expired session).
pub fn clear_session_cookie(secure: bool) -> Cookie<'static> {
    Cookie::build((cookie_name(SESSION_COOKIE, secure), ""))
        .path("/")
        .secure(secure)
        .build()
}

/// The `{slug}` of the request's path.
async fn slug_of(parts: &mut Parts, state: &AppState) -> Option<String> {
    use std::collections::HashMap;
    axum::extract::Path::<HashMap<String, String>>::from_request_parts(parts, state)
        .await
        .ok()
        .and_then(|axum::extract::Path(mut params)| params.remove("slug"))
}

/// An API caller with checked access to the team named by `{slug}`. It runs before any body is
/// read, so someone outside the team gets 404 whatever they send.
pub struct ApiTeam {
    pub actor: Actor,
    pub access: crate::service::TeamAccess,
}

impl FromRequestParts<AppState> for ApiTeam {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ApiUser(actor) = ApiUser::from_request_parts(parts, state).await?;
        let slug = slug_of(parts, state)
            .await
            .ok_or(ApiError(ServiceError::NotFound))?;
        let access = state.service.team_access(&actor, &slug).await?;
        Ok(ApiTeam { actor, access })
    }
}

/// A signed-in person with checked access to the team named by `{slug}` (404 otherwise), checked
/// before the form is read.
pub struct WebTeam {
    pub user: WebUser,
    pub access: crate::service::TeamAccess,
}

impl FromRequestParts<AppState> for WebTeam {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = WebUser::from_request_parts(parts, state).await?;
        let slug = slug_of(parts, state)
            .await
            .ok_or_else(|| WebError(ServiceError::NotFound).into_response())?;
        let access = state
            .service
            .team_access(&user.actor, &slug)
            .await
            .map_err(|e| WebError(e).into_response())?;
        Ok(WebTeam { user, access })
    }
}
