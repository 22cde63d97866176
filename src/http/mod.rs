//! The HTTP front door: server-rendered web pages (`web`) and the JSON API (`api`), over the same
//! use cases. The only module that knows axum, HTML or JSON shapes.

pub mod api;
mod assets;
pub mod charts;
pub mod error;
pub mod extract;
mod headers;
pub mod highlight;
mod live;
pub mod markdown;
pub mod scim;
mod web;

use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::Level;

use crate::service::Service;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub service: Service,
    /// Cookies get the `Secure` flag when the public URL is https.
    pub secure_cookies: bool,
    pub trust_forwarded_for: bool,
    /// Turns `true` when the server begins to stop, so that endless responses (live streams)
    /// end and the graceful shutdown can finish.
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// The OpenID Connect client for the single sign-on settings in force (see `web::sso`).
    pub oidc: std::sync::Arc<crate::oidc::RelyingParties>,
    /// Turns `true` when a stopping server drains: `/readyz` answers 503 while everything else
    /// is still served.
    pub draining: tokio::sync::watch::Receiver<bool>,
}

impl AppState {
    pub fn new(
        service: Service,
        secure_cookies: bool,
        trust_forwarded_for: bool,
        stopping: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        Self {
            service,
            secure_cookies,
            trust_forwarded_for,
            stopping,
            oidc: std::sync::Arc::default(),
            draining: tokio::sync::watch::channel(false).1,
        }
    }

    /// The same state, with `/readyz` following `draining`.
    pub fn with_draining(self, draining: tokio::sync::watch::Receiver<bool>) -> Self {
        Self { draining, ..self }
    }
}

/// How long `/readyz` waits for the database: a balancer's health check must get an answer
/// (503) while the database hangs, rather than time out itself.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Requests larger than this are refused with 413 before any handler reads them.
const BODY_LIMIT_BYTES: usize = 2 * 1024 * 1024;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application's routes and middleware.
pub fn router(state: AppState) -> Router {
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request| {
            // The route pattern, not the path: paths can carry one-time tokens and ids.
            let route = request
                .extensions()
                .get::<MatchedPath>()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| "unmatched".to_owned());
            let request_id = request
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            tracing::info_span!("request", method = %request.method(), route, request_id)
        })
        .on_request(())
        .on_response(
            |response: &Response, latency: Duration, _span: &tracing::Span| {
                tracing::info!(
                    status = response.status().as_u16(),
                    latency_ms = latency.as_millis() as u64,
                    "handled"
                );
            },
        )
        .on_failure(DefaultOnFailure::new().level(Level::WARN));

    Router::new()
        .merge(web::routes())
        .nest("/api/v1", api::routes())
        .nest("/scim/v2", scim::routes(state.clone()))
        .merge(api::reference_routes())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/static/{*path}", get(assets::serve))
        .fallback(web::not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            extract::resolve_session,
        ))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT_BYTES))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(middleware::from_fn(reject_unsized_bodies))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            headers::security_headers,
        ))
        .layer(trace)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// Turns the body-limit layer's bare 413 into a readable answer.
async fn reject_unsized_bodies(request: Request, next: Next) -> Response {
    // An import names its file (`?file_name=`) in the refusal too.
    let file_name = request.uri().query().and_then(|query| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(query)
            .ok()?
            .into_iter()
            .find(|(key, _)| key == "file_name")
            .map(|(_, value)| value)
    });
    let response = next.run(request).await;
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/problem+json");
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_problem {
        let detail = format!(
            "{} is larger than {BODY_LIMIT_BYTES} bytes",
            file_name.as_deref().unwrap_or("the request body")
        );
        let errors = file_name
            .iter()
            .map(|_| crate::service::error::FieldError {
                field: "body".to_owned(),
                message: detail.clone(),
            })
            .collect();
        return error::problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "Request too large",
            &detail,
            errors,
        );
    }
    response
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok"
}

/// The process can reach its database within [`READY_TIMEOUT`] and is not draining before a
/// stop.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if *state.draining.borrow() {
        return (StatusCode::SERVICE_UNAVAILABLE, "stopping");
    }
    match tokio::time::timeout(READY_TIMEOUT, state.service.database_reachable()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready"),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
        Err(_) => {
            tracing::warn!("readiness check timed out");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}
