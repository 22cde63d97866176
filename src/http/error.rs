//! The single mapping from [`ServiceError`] to HTTP: a status code, then either an
//! `application/problem+json` body (RFC 9457) for the API or an error page for browsers.

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Serialize;

use crate::service::{FieldError, ServiceError};

/// The status and machine-readable code for each kind of failure.
pub fn status_of(error: &ServiceError) -> (StatusCode, &'static str, &'static str) {
    match error {
        ServiceError::Invalid(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            "Some fields are not valid",
        ),
        ServiceError::NotFound => (StatusCode::NOT_FOUND, "not_found", "Not found"),
        ServiceError::Unauthenticated => (
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Sign-in required",
        ),
        ServiceError::BadCredentials => (
            StatusCode::UNAUTHORIZED,
            "bad_credentials",
            "Wrong email or password",
        ),
        ServiceError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Not allowed"),
        ServiceError::Conflict { .. } => (StatusCode::CONFLICT, "conflict", "Conflict"),
        ServiceError::Gone(_) => (StatusCode::GONE, "gone", "No longer valid"),
        ServiceError::RateLimited { .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many attempts",
        ),
        ServiceError::TooMuchHeld(_) => (
            StatusCode::TOO_MANY_REQUESTS,
            "too_much_held",
            "Too much unpublished anonymous content",
        ),
        ServiceError::Internal(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something went wrong on our side",
        ),
    }
}

/// The body of every API error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Always `about:blank`: `code` carries the machine-readable kind.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// `invalid_input`, `not_found`, `unauthenticated`, `bad_credentials`, `forbidden`,
    /// `conflict`, `gone`, `rate_limited`, `too_much_held`, `malformed_json`, `payload_too_large` or `internal`.
    pub code: String,
    /// The fields at fault, for `invalid_input` and `conflict`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// Builds a problem+json response.
pub fn problem(
    status: StatusCode,
    code: &str,
    title: &str,
    detail: &str,
    errors: Vec<FieldError>,
) -> Response {
    let body = Problem {
        kind: "about:blank",
        title: title.to_owned(),
        status: status.as_u16(),
        detail: detail.to_owned(),
        code: code.to_owned(),
        errors,
    };
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

fn detail_of(error: &ServiceError) -> (String, Vec<FieldError>) {
    match error {
        ServiceError::Invalid(fields) => (
            fields
                .iter()
                .map(|f| format!("{} {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; "),
            fields.clone(),
        ),
        ServiceError::Conflict { field, message } => (
            match field {
                Some(field) => format!("{field}: {message}"),
                None => message.clone(),
            },
            field
                .iter()
                .map(|f| FieldError {
                    field: f.clone(),
                    message: message.clone(),
                })
                .collect(),
        ),
        ServiceError::Internal(inner) => {
            tracing::error!(error = ?inner, "internal error");
            (
                "The error has been logged. Please try again later.".to_owned(),
                Vec::new(),
            )
        }
        other => (other.to_string(), Vec::new()),
    }
}

/// A use-case error answered as problem+json.
#[derive(Debug)]
pub struct ApiError(pub ServiceError);

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        ApiError(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, title) = status_of(&self.0);
        let (detail, errors) = detail_of(&self.0);
        let mut response = problem(status, code, title, &detail, errors);
        if let ServiceError::RateLimited { retry_after_secs } = self.0 {
            if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"failforward\""),
            );
        }
        response
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    title: String,
    status: u16,
    detail: String,
    fields: Vec<FieldError>,
}

/// A use-case error answered as an HTML page (or, for a missing sign-in, a redirect to it).
#[derive(Debug)]
pub struct WebError(pub ServiceError);

impl From<ServiceError> for WebError {
    fn from(error: ServiceError) -> Self {
        WebError(error)
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        if matches!(self.0, ServiceError::Unauthenticated) {
            return Redirect::to("/login").into_response();
        }
        let (status, _, title) = status_of(&self.0);
        let (detail, fields) = detail_of(&self.0);
        error_page(status, title, &detail, fields)
    }
}

/// An HTML error page with the given status.
pub fn error_page(
    status: StatusCode,
    title: &str,
    detail: &str,
    fields: Vec<FieldError>,
) -> Response {
    let page = ErrorPage {
        title: title.to_owned(),
        status: status.as_u16(),
        detail: detail.to_owned(),
        fields,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "rendering the error page");
            (status, title.to_owned()).into_response()
        }
    }
}
