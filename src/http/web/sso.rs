//! Signing in through the OpenID Connect provider: `/login/sso` sends the browser to the
//! provider, `/login/sso/callback` takes its answer. The protocol is `crate::oidc`'s, the
//! accounts `service::sso`'s; this file only moves the browser and its cookies.

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;

use super::auth::safe_next;
use crate::domain::sso::SsoRefusal;
use crate::http::error::{error_page, WebError};
use crate::http::extract::{cookie_name, session_cookie, ClientAddress, SSO_STATE_COOKIE};
use crate::http::AppState;
use crate::oidc::OidcError;
use crate::service::secrets;
use crate::service::sso::{SsoStarted, SSO_PENDING_FOR};
use crate::service::LoginClient;

#[derive(Debug, Default, Deserialize)]
pub struct StartQuery {
    next: Option<String>,
    /// An invitation's token: the sign-in accepts it (its page sends people here under "SSO
    /// only").
    invitation: Option<String>,
}

/// The relying party for the settings in force; `Ok(None)` when single sign-on is off.
async fn relying_party(
    state: &AppState,
) -> Result<Option<Result<std::sync::Arc<crate::oidc::RelyingParty>, OidcError>>, WebError> {
    let Some(active) = state.service.active_sso().await? else {
        return Ok(None);
    };
    Ok(Some(
        state
            .oidc
            .for_active(&active, &state.service.policy().public_url),
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

fn state_cookie(value: String, secure: bool) -> Cookie<'static> {
    // Lax: the provider's answer is a top-level GET from another site, which Lax lets through.
    Cookie::build((cookie_name(SSO_STATE_COOKIE, secure), value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(SSO_PENDING_FOR)
        .build()
}

fn clear_state_cookie(secure: bool) -> Cookie<'static> {
    Cookie::build((cookie_name(SSO_STATE_COOKIE, secure), ""))
        .path("/")
        .secure(secure)
        .build()
}

fn provider_unavailable(error: &OidcError) -> Response {
    tracing::warn!(%error, "single sign-on could not reach the identity provider");
    error_page(
        StatusCode::BAD_GATEWAY,
        "Single sign-on is unavailable",
        "The identity provider could not be reached. Try again in a moment, or ask an administrator.",
        Vec::new(),
    )
}

fn refused_page(refusal: &SsoRefusal) -> Response {
    let detail = match refusal {
        SsoRefusal::EmailNotVerified => {
            "Your identity provider has not verified your email address, so no account can be \
             created or linked for it. Verify the address with your provider and try again."
                .to_owned()
        }
        other => format!("Signing in through single sign-on was refused: {other}."),
    };
    error_page(
        StatusCode::FORBIDDEN,
        "Single sign-on refused",
        &detail,
        Vec::new(),
    )
}

/// Records the refusal and explains it.
async fn refuse(state: &AppState, refusal: SsoRefusal) -> Result<Response, WebError> {
    state.service.refuse_sso(&refusal, None, "sso").await?;
    Ok(refused_page(&refusal))
}

/// Sends the browser to the provider with a new state, nonce and PKCE challenge.
pub async fn start(
    State(state): State<AppState>,
    Query(query): Query<StartQuery>,
    jar: CookieJar,
) -> Result<Response, WebError> {
    let oidc = match relying_party(&state).await? {
        None => return Err(crate::service::ServiceError::NotFound.into()),
        Some(Err(error)) => return Ok(provider_unavailable(&error)),
        Some(Ok(oidc)) => oidc,
    };
    let invitation_hash = match query.invitation.as_deref() {
        Some(token) => Some(state.service.invitation_for_sso(token).await?),
        None => None,
    };
    let authorization = match oidc.authorize().await {
        Ok(authorization) => authorization,
        Err(error) => return Ok(provider_unavailable(&error)),
    };
    let next = safe_next(query.next.as_deref().unwrap_or("/")).to_owned();
    state
        .service
        .begin_sso(
            &authorization.state,
            &SsoStarted {
                nonce: authorization.nonce,
                pkce_verifier: authorization.pkce_verifier,
                next_path: next,
                invitation_hash,
            },
        )
        .await?;
    Ok((
        jar.add(state_cookie(authorization.state, state.secure_cookies)),
        Redirect::to(&authorization.url),
    )
        .into_response())
}

/// Takes the provider's answer: the state must be this browser's and unused, the ID token
/// valid; then the account is found, linked or created and a session opened.
pub async fn callback(
    State(state): State<AppState>,
    Query(query): Query<CallbackQuery>,
    ClientAddress(address): ClientAddress,
    headers: axum::http::HeaderMap,
    jar: CookieJar,
) -> Result<Response, WebError> {
    let oidc = match relying_party(&state).await? {
        None => return Err(crate::service::ServiceError::NotFound.into()),
        Some(Err(error)) => return Ok(provider_unavailable(&error)),
        Some(Ok(oidc)) => oidc,
    };
    let secure = state.secure_cookies;
    let cookie_state = jar
        .get(cookie_name(SSO_STATE_COOKIE, secure))
        .map(|cookie| cookie.value().to_owned());
    let jar = jar.remove(clear_state_cookie(secure));
    let same_browser = match (&query.state, &cookie_state) {
        (Some(given), Some(kept)) => secrets::same(given, kept),
        _ => false,
    };
    if !same_browser {
        return Ok((jar, refuse(&state, SsoRefusal::UnknownState).await?).into_response());
    }
    let Some(given_state) = query.state.as_deref() else {
        return Ok((jar, refuse(&state, SsoRefusal::UnknownState).await?).into_response());
    };
    // The state is spent before anything else, so that even a failed answer cannot be replayed.
    let Some(started) = state.service.finish_sso(given_state).await? else {
        return Ok((jar, refuse(&state, SsoRefusal::UnknownState).await?).into_response());
    };
    if let Some(error) = &query.error {
        let description = query.error_description.as_deref().unwrap_or_default();
        let refusal = SsoRefusal::ProviderError(format!("{error} {description}").trim().to_owned());
        return Ok((jar, refuse(&state, refusal).await?).into_response());
    }
    let Some(code) = query.code.as_deref() else {
        let refusal = SsoRefusal::ProviderError("no authorization code".to_owned());
        return Ok((jar, refuse(&state, refusal).await?).into_response());
    };
    let identity = match oidc
        .finish(code, &started.nonce, &started.pkce_verifier)
        .await
    {
        Ok(Ok(identity)) => identity,
        Ok(Err(refusal)) => return Ok((jar, refuse(&state, refusal).await?).into_response()),
        Err(error) => return Ok((jar, provider_unavailable(&error)).into_response()),
    };
    let client = LoginClient {
        device: None,
        address,
        address_is_shared_proxy: !state.trust_forwarded_for,
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
    };
    match state
        .service
        .sign_in_with_sso(&identity, &client, started.invitation_hash.as_deref())
        .await?
    {
        Ok((outcome, accepted)) => {
            // An accepted invitation leads to its team, as the password route does.
            let target = match accepted {
                Some(record) => match record.team {
                    Some((_, slug, _)) => format!("/teams/{slug}?notice=joined"),
                    None => "/?notice=joined".to_owned(),
                },
                None => safe_next(&started.next_path).to_owned(),
            };
            Ok((
                jar.add(session_cookie(outcome.session.token, secure)),
                Redirect::to(&target),
            )
                .into_response())
        }
        Err(refusal) => Ok((jar, refused_page(&refusal)).into_response()),
    }
}
