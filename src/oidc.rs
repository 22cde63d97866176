//! The OpenID Connect relying party (issue 22): discovery, the authorization URL with PKCE (S256),
//! `state` and `nonce`, the code exchange and the ID token's validation (issuer, audience,
//! expiry with a small leeway, signature against the provider's JWKS, nonce), all through the
//! `openidconnect` crate. It talks to the provider only; accounts and sessions are
//! `service::sso`'s, and the pages `http::web::sso`'s.
//!
//! The provider's metadata and keys are fetched on first use and kept. A token signed with a key
//! the kept set does not hold makes one fresh fetch of the JWKS (the provider rotated its keys)
//! before the token is refused.

use std::time::Duration;

use base64::Engine;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJsonWebKeySet, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError,
    TokenResponse,
};
use tokio::sync::RwLock;

use crate::domain::sso::{ActiveSso, OidcClientSettings, SsoRefusal};
use crate::service::sso::SsoIdentity;

/// Clocks disagree a little; an ID token is accepted this long after its `exp`.
const EXPIRY_LEEWAY: Duration = Duration::from_secs(60);

/// How long a request to the provider may take.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the provider could not be used (as opposed to a refused sign-in).
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the identity provider could not be reached or described itself wrongly: {0}")]
    Provider(String),
    #[error("the single sign-on settings are not valid: {0}")]
    Settings(String),
}

/// The start of a sign-in: where to send the browser and what to keep until it returns.
#[derive(Debug, Clone)]
pub struct Authorization {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// This app as a client of one OpenID Connect provider.
pub struct RelyingParty {
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: Option<ClientSecret>,
    redirect: RedirectUrl,
    groups_claim: Option<String>,
    extra_scopes: Vec<String>,
    http: reqwest::Client,
    metadata: RwLock<Option<CoreProviderMetadata>>,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty")
            .field("issuer", &self.issuer.as_str())
            .field("client_id", &self.client_id.as_str())
            .finish_non_exhaustive()
    }
}

impl RelyingParty {
    /// `public_url` is where people reach this app; the provider sends them back to
    /// `PUBLIC_URL/login/sso/callback`, which must be registered with the provider.
    pub fn new(
        settings: &OidcClientSettings,
        public_url: &str,
        groups_claim: Option<String>,
    ) -> Result<Self, OidcError> {
        let issuer = IssuerUrl::new(settings.issuer_url.clone())
            .map_err(|e| OidcError::Settings(format!("oidc_issuer_url: {e}")))?;
        let redirect = RedirectUrl::new(format!(
            "{}/login/sso/callback",
            public_url.trim_end_matches('/')
        ))
        .map_err(|e| OidcError::Settings(format!("public_url: {e}")))?;
        // The provider's answers are never followed elsewhere (SSRF through a redirect).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()
            .map_err(|e| OidcError::Settings(format!("HTTP client: {e}")))?;
        Ok(Self {
            issuer,
            client_id: ClientId::new(settings.client_id.clone()),
            client_secret: settings.client_secret.clone().map(ClientSecret::new),
            redirect,
            groups_claim,
            extra_scopes: settings.extra_scopes.clone(),
            http,
            metadata: RwLock::new(None),
        })
    }

    /// The provider's metadata with its keys, fetched on first use.
    async fn metadata(&self) -> Result<CoreProviderMetadata, OidcError> {
        if let Some(metadata) = self.metadata.read().await.as_ref() {
            return Ok(metadata.clone());
        }
        let metadata = CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|e| OidcError::Provider(format!("discovery: {e}")))?;
        *self.metadata.write().await = Some(metadata.clone());
        Ok(metadata)
    }

    /// Fetches the provider's keys again (after a token named a key the kept set lacks).
    async fn refresh_keys(&self) -> Result<CoreProviderMetadata, OidcError> {
        let metadata = self.metadata().await?;
        let jwks = CoreJsonWebKeySet::fetch_async(metadata.jwks_uri(), &self.http)
            .await
            .map_err(|e| OidcError::Provider(format!("keys: {e}")))?;
        let metadata = metadata.set_jwks(jwks);
        *self.metadata.write().await = Some(metadata.clone());
        Ok(metadata)
    }

    fn client(
        &self,
        metadata: CoreProviderMetadata,
    ) -> openidconnect::core::CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        CoreClient::from_provider_metadata(
            metadata,
            self.client_id.clone(),
            self.client_secret.clone(),
        )
        .set_redirect_uri(self.redirect.clone())
    }

    /// The provider's authorization URL for a new sign-in: authorization code flow, PKCE with
    /// S256, a fresh `state` and `nonce`.
    pub async fn authorize(&self) -> Result<Authorization, OidcError> {
        let client = self.client(self.metadata().await?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".to_owned()))
            .add_scope(Scope::new("profile".to_owned()))
            .add_scopes(self.extra_scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .url();
        Ok(Authorization {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges the code and validates the ID token it brings. `Ok(Err(..))` is a refusal
    /// (a token that is not valid); `Err` means the provider could not be used.
    pub async fn finish(
        &self,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<Result<SsoIdentity, SsoRefusal>, OidcError> {
        let client = self.client(self.metadata().await?);
        let request = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Provider(format!("token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()));
        let response = match request.request_async(&self.http).await {
            Ok(response) => response,
            Err(error) => {
                tracing::warn!(error = ?error, "the code exchange failed");
                return Ok(Err(SsoRefusal::ProviderError(format!(
                    "the code exchange failed: {error}"
                ))));
            }
        };
        let Some(id_token) = response.id_token() else {
            return Ok(Err(SsoRefusal::InvalidToken("no ID token".to_owned())));
        };
        let nonce = Nonce::new(nonce.to_owned());
        let verify = |client: &CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >| {
            let leeway = chrono::Duration::from_std(EXPIRY_LEEWAY).unwrap_or_default();
            let verifier = client
                .id_token_verifier()
                .set_time_fn(move || chrono::Utc::now() - leeway);
            id_token.claims(&verifier, &nonce).cloned()
        };
        let claims = match verify(&client) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                tracing::info!("an ID token names a key not held; fetching the provider's keys");
                let client = self.client(self.refresh_keys().await?);
                verify(&client)
            }
            other => other,
        };
        let claims = match claims {
            Ok(claims) => claims,
            Err(error) => return Ok(Err(SsoRefusal::InvalidToken(error.to_string()))),
        };
        let groups = match &self.groups_claim {
            Some(claim) => groups_of(&id_token.to_string(), claim),
            None => Vec::new(),
        };
        Ok(Ok(SsoIdentity {
            issuer: claims.issuer().as_str().to_owned(),
            subject: claims.subject().as_str().to_owned(),
            email: claims.email().map(|email| email.as_str().to_owned()),
            email_verified: claims.email_verified() == Some(true),
            name: claims
                .name()
                .and_then(|name| name.get(None))
                .map(|name| name.as_str().to_owned())
                .or_else(|| {
                    claims
                        .preferred_username()
                        .map(|name| name.as_str().to_owned())
                }),
            groups,
        }))
    }
}

/// The relying party for the single sign-on settings in force: kept while they stay the same
/// (with the provider's metadata and keys it fetched), made anew when an admin changes them.
#[derive(Debug, Default)]
pub struct RelyingParties {
    current: std::sync::Mutex<Option<(ActiveSso, std::sync::Arc<RelyingParty>)>>,
}

impl RelyingParties {
    /// The relying party for `active`, reaching people back at `public_url`.
    pub fn for_active(
        &self,
        active: &ActiveSso,
        public_url: &str,
    ) -> Result<std::sync::Arc<RelyingParty>, OidcError> {
        let mut current = self
            .current
            .lock()
            .map_err(|_| OidcError::Settings("the relying party's lock is poisoned".to_owned()))?;
        if let Some((kept, party)) = current.as_ref() {
            if kept == active {
                return Ok(party.clone());
            }
        }
        let party = std::sync::Arc::new(RelyingParty::new(
            &active.client,
            public_url,
            active.policy.groups_claim.clone(),
        )?);
        *current = Some((active.clone(), party.clone()));
        Ok(party)
    }
}

/// The strings of `claim` in a JWT's payload; called only after the token was validated.
/// A single string counts as one group; anything else as none.
fn groups_of(jwt: &str, claim: &str) -> Vec<String> {
    let Some(payload) = jwt.split('.').nth(1) else {
        return Vec::new();
    };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload) else {
        return Vec::new();
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Vec::new();
    };
    match value.get(claim) {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|item| item.as_str().map(str::to_owned))
            .collect(),
        Some(serde_json::Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_read_from_the_payload() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"sub":"1","groups":["sre","dev",3],"team":"one"}"#);
        let jwt = format!("e30.{payload}.sig");
        assert_eq!(groups_of(&jwt, "groups"), vec!["sre", "dev"]);
        assert_eq!(groups_of(&jwt, "team"), vec!["one"]);
        assert!(groups_of(&jwt, "missing").is_empty());
        assert!(groups_of("garbage", "groups").is_empty());
    }
}
