//! Security headers on every response: a strict Content-Security-Policy, `no-store` for
//! everything but static assets, and HSTS when the public URL is https.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;

/// Scripts and styles only from our own files (no inline code, no `eval`), nothing framed, forms
/// posted only here. `data:` images are the vendored stylesheets' icons.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
     manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The API reference (Swagger UI, vendored) writes `style` attributes into the SVG icons it
/// inserts, which no hash can allow; it runs no inline script either.
const API_REFERENCE_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Two years, the usual value for a site that stays on https.
const STRICT_TRANSPORT_SECURITY: &str = "max-age=63072000";

pub async fn security_headers(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let policy = if path.starts_with("/api/docs") {
        API_REFERENCE_POLICY
    } else {
        CONTENT_SECURITY_POLICY
    };
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(policy));
    // Pages and API answers can hold personal data and one-time secrets: no copy in any cache.
    // Static assets are the same for everyone.
    let is_asset =
        path.starts_with("/static/") || (path.starts_with("/api/docs/") && !path.ends_with('/'));
    if !is_asset {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.secure_cookies {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(STRICT_TRANSPORT_SECURITY),
        );
    }
    response
}
