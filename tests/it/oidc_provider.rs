//! A real OpenID Connect provider for the sign-in tests: `tests/oidc/provider.mjs` (the npm
//! package `oidc-provider`) run by Node as a child process, and the helpers that drive it —
//! key rotation, changing the next id_token for negative tests, and walking its login form the
//! way a browser would. The self-test at the end proves the harness without the app.
//!
//! It needs `node` and `npm ci --prefix tests/oidc`; without them `OidcProvider::start` answers
//! `None` with a notice, unless the full suite is required (`.ci/run`), where it panics.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use reqwest::{Response, Url};
use serde::Serialize;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::full_suite_required;

/// How long Node may take to start the provider (it generates an RSA key first); generous
/// because the test machine is often busy compiling.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// What the provider knows: its clients (relying parties) and the accounts one can sign in as.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderConfig {
    pub clients: Vec<OidcClient>,
    pub accounts: Vec<OidcAccount>,
}

/// A registered client. The provider requires PKCE (S256) of it; it authenticates at the token
/// endpoint with `client_secret_basic` unless `token_endpoint_auth_method` says otherwise.
#[derive(Debug, Clone, Serialize)]
pub struct OidcClient {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uris: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
}

impl OidcClient {
    pub fn new(client_id: &str, client_secret: &str, redirect_uri: &str) -> OidcClient {
        OidcClient {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            redirect_uris: vec![redirect_uri.to_owned()],
            token_endpoint_auth_method: None,
        }
    }
}

/// An account at the provider. Its `sub` is what one types into the login form.
#[derive(Debug, Clone, Serialize)]
pub struct OidcAccount {
    pub sub: String,
    pub email: String,
    pub email_verified: bool,
    pub name: String,
    pub groups: Vec<String>,
}

impl OidcAccount {
    /// An account with a verified email and no groups.
    pub fn new(sub: &str, email: &str, name: &str) -> OidcAccount {
        OidcAccount {
            sub: sub.to_owned(),
            email: email.to_owned(),
            email_verified: true,
            name: name.to_owned(),
            groups: Vec::new(),
        }
    }

    pub fn unverified(mut self) -> OidcAccount {
        self.email_verified = false;
        self
    }

    pub fn in_groups(mut self, groups: &[&str]) -> OidcAccount {
        self.groups = groups.iter().map(|g| (*g).to_owned()).collect();
        self
    }
}

/// Who signs a changed id_token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignWith {
    /// The provider's current key: a valid signature over the changed claims.
    #[default]
    Provider,
    /// A freshly generated key the JWKS never shows (kid `stranger-…` unless `kid` is given).
    Stranger,
    /// No signature at all (`alg: none`).
    None,
}

/// How the next token-endpoint response's id_token is changed (`OidcProvider::tamper_next`).
/// Fields left `None` keep the provider's value; `claims` overrides any claim (e.g. `iss`,
/// `email_verified`); `kid` sets the header's key id.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IdTokenChange {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp_offset_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claims: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    pub sign_with: SignWith,
    /// Instead of changing it, answer with the id_token of the previous token response.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub replay_last: bool,
}

impl IdTokenChange {
    pub fn audience(aud: &str) -> IdTokenChange {
        IdTokenChange {
            aud: Some(Value::from(aud)),
            ..IdTokenChange::default()
        }
    }

    /// `exp` this many seconds from now (negative: already expired).
    pub fn expires_in(seconds: i64) -> IdTokenChange {
        IdTokenChange {
            exp_offset_seconds: Some(seconds),
            ..IdTokenChange::default()
        }
    }

    pub fn nonce(nonce: &str) -> IdTokenChange {
        IdTokenChange {
            nonce: Some(nonce.to_owned()),
            ..IdTokenChange::default()
        }
    }

    pub fn signed_by(sign_with: SignWith) -> IdTokenChange {
        IdTokenChange {
            sign_with,
            ..IdTokenChange::default()
        }
    }

    pub fn replay_last() -> IdTokenChange {
        IdTokenChange {
            replay_last: true,
            ..IdTokenChange::default()
        }
    }
}

/// The running provider; the Node process is killed when this is dropped.
pub struct OidcProvider {
    issuer: String,
    http: reqwest::Client,
    _process: Child,
}

impl OidcProvider {
    /// Starts the provider on a free port of 127.0.0.1 and waits for it to listen.
    pub async fn start(config: ProviderConfig) -> Option<OidcProvider> {
        let dir = harness_dir();
        if let Some(missing) = missing_tools(&dir).await {
            if full_suite_required() {
                panic!("the OpenID provider cannot start: {missing}");
            }
            eprintln!("skipped: {missing} (install Node and run `npm ci --prefix tests/oidc`)");
            return None;
        }
        let config = serde_json::to_string(&config).expect("the provider's configuration");
        // Once, in a full run of the suite, Node printed nothing for the minute allowed while the
        // other tests went on (the cause is not known). The provider is test equipment, so it is
        // started once more; a provider that fails twice fails the test.
        let echo = std::env::var("FAILFORWARD_OIDC_LOG").is_ok_and(|v| v == "1");
        let (process, issuer, mut lines) = match launch(&dir, &config).await {
            Ok(started) => started,
            Err(first) => {
                eprintln!("the OpenID provider did not start; starting it once more:\n{first}");
                launch(&dir, &config)
                    .await
                    .unwrap_or_else(|second| panic!("{first}\nand again: {second}"))
            }
        };
        // The provider logs notices on stdout too: they are read (and shown only when asked),
        // for a closed pipe would end the provider at its next notice.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if echo {
                    eprintln!("oidc-provider: {line}");
                }
            }
        });
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client");
        Some(OidcProvider {
            issuer,
            http,
            _process: process,
        })
    }

    /// The issuer URL, `http://127.0.0.1:<port>` (no trailing slash).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// A new signing key signs from now on; the old one stays in the JWKS only if `keep_old`.
    /// Returns the new key's kid.
    pub async fn rotate(&self, keep_old: bool) -> String {
        let state = self
            .test_endpoint("/test/rotate", json!({ "keep_old": keep_old }))
            .await;
        state["kid"].as_str().expect("the new kid").to_owned()
    }

    /// Changes the id_token of the next successful token-endpoint response (any client).
    pub async fn tamper_next(&self, change: IdTokenChange) {
        let body = serde_json::to_value(change).expect("the change as JSON");
        self.test_endpoint("/test/next-id-token", body).await;
    }

    /// The kid the provider signs with now.
    pub async fn current_kid(&self) -> String {
        let state: Value = self
            .http
            .get(format!("{}/test/state", self.issuer))
            .send()
            .await
            .expect("the provider's state")
            .json()
            .await
            .expect("the provider's state as JSON");
        state["kid"].as_str().expect("the current kid").to_owned()
    }

    async fn test_endpoint(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.issuer))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "POST {path} {body}: {status} {answer}");
        answer
    }
}

fn harness_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// Why the provider cannot start here, if it cannot: oidc-provider 9 needs Node 20.19 or later.
async fn missing_tools(dir: &Path) -> Option<String> {
    let node = Command::new("node")
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .await;
    let Ok(node) = node.map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned()) else {
        return Some("`node` is not installed".to_owned());
    };
    let version: Vec<u32> = node
        .trim_start_matches('v')
        .split('.')
        .map_while(|part| part.parse().ok())
        .collect();
    if version.len() < 2 || (version[0], version[1]) < (20, 19) {
        return Some(format!(
            "node {node} is too old (oidc-provider needs 20.19 or later)"
        ));
    }
    if !dir.join("node_modules/oidc-provider").is_dir() {
        return Some(format!("{} is missing", dir.join("node_modules").display()));
    }
    None
}

/// A client that keeps cookies and does not follow redirects, as `sign_in_at_provider` needs.
pub fn browser_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

/// Signs in the way a browser would: GETs `start_url` (the app's "start SSO" address), follows
/// redirects to the provider, fills in its login form with `login` (an account's `sub`) and
/// submits any further form the provider shows (consent), and follows redirects until the first
/// request back on `start_url`'s origin — the app's callback — whose response it returns
/// unread (status, `Location`, cookies already in `client`'s store).
///
/// `client` must keep cookies and must not follow redirects (`browser_client()`, or the
/// test app's browser). Panics when the chain goes wrong: no form where one is needed, more than
/// 30 steps, or a request that fails.
pub async fn sign_in_at_provider(
    client: &reqwest::Client,
    start_url: &str,
    login: &str,
) -> Response {
    let start = Url::parse(start_url).expect("start_url is an absolute URL");
    let app_origin = start.origin();
    let mut left_app = false;
    let mut response = get(client, start).await;
    for _ in 0..30 {
        let here = response.url().clone();
        let next = if response.status().is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_else(|| panic!("a redirect without Location from {here}"));
            let target = here
                .join(location)
                .unwrap_or_else(|e| panic!("Location {location} from {here}: {e}"));
            Step::Get(target)
        } else if here.origin() != app_origin && response.status().is_success() {
            let page = response.text().await.expect("the provider's page");
            let form = form_in(&page, &here, login)
                .unwrap_or_else(|| panic!("no form to submit at {here}:\n{page}"));
            Step::Post(form)
        } else {
            // An answer of the app before the provider (an error), or an error page of the provider.
            return response;
        };
        let target = match &next {
            Step::Get(url) => url,
            Step::Post(form) => &form.action,
        };
        let back_at_app = target.origin() == app_origin;
        if !back_at_app {
            left_app = true;
        }
        response = match next {
            Step::Get(url) => get(client, url).await,
            Step::Post(form) => {
                let url = form.action.clone();
                client
                    .post(url.clone())
                    .form(&form.fields)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("POST {url}: {e}"))
            }
        };
        if back_at_app && left_app {
            return response;
        }
    }
    panic!("signing in at the provider took more than 30 steps (from {start_url})");
}

enum Step {
    Get(Url),
    Post(Form),
}

struct Form {
    action: Url,
    fields: Vec<(String, String)>,
}

async fn get(client: &reqwest::Client, url: Url) -> Response {
    client
        .get(url.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// The page's first POST form, filled in: hidden fields keep their values, the `login` field
/// (or the first text or email field) gets `login`, a password field any password.
fn form_in(page: &str, base: &Url, login: &str) -> Option<Form> {
    let document = scraper::Html::parse_document(page);
    let forms = scraper::Selector::parse("form").expect("a selector");
    let inputs = scraper::Selector::parse("input[name]").expect("a selector");
    let form = document.select(&forms).find(|form| {
        form.value()
            .attr("method")
            .is_some_and(|m| m.eq_ignore_ascii_case("post"))
    })?;
    let action = base.join(form.value().attr("action").unwrap_or("")).ok()?;
    let named: Vec<_> = form.select(&inputs).collect();
    let login_field = named
        .iter()
        .map(|input| input.value())
        .find(|input| input.attr("name") == Some("login"))
        .or_else(|| {
            named
                .iter()
                .map(|input| input.value())
                .find(|input| matches!(input.attr("type").unwrap_or("text"), "text" | "email"))
        })
        .and_then(|input| input.attr("name"));
    let fields = named
        .iter()
        .map(|input| {
            let input = input.value();
            let name = input.attr("name").unwrap_or_default();
            let value = if Some(name) == login_field {
                login
            } else if input.attr("type") == Some("password") {
                "any password"
            } else {
                input.attr("value").unwrap_or_default()
            };
            (name.to_owned(), value.to_owned())
        })
        .collect();
    Some(Form { action, fields })
}

/// A JWT's header and claims, decoded without checking anything.
pub fn jwt_parts(jwt: &str) -> (Value, Value) {
    let mut parts = jwt.split('.');
    let mut decode = |what: &str| -> Value {
        let part = parts.next().unwrap_or_else(|| panic!("a JWT has a {what}"));
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .unwrap_or_else(|e| panic!("the JWT's {what} is base64url: {e}"));
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("the JWT's {what} is JSON: {e}"))
    };
    let header = decode("header");
    let claims = decode("claims");
    (header, claims)
}

/// Starts Node on the provider and waits for its `ready` line: the process, the issuer and its
/// standard output after that line; or why it did not start (with what Node wrote on stderr).
async fn launch(
    dir: &Path,
    config: &str,
) -> Result<
    (
        Child,
        String,
        tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    ),
    String,
> {
    let mut process = Command::new("node")
        .arg(dir.join("provider.mjs"))
        .env("OIDC_PROVIDER_CONFIG", config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start node");
    // Node's warnings are kept and shown only if the provider does not start, or as they
    // come with FAILFORWARD_OIDC_LOG=1.
    let errors = Arc::new(Mutex::new(String::new()));
    let stderr = process.stderr.take().expect("the provider's stderr");
    let kept = Arc::clone(&errors);
    let echo = std::env::var("FAILFORWARD_OIDC_LOG").is_ok_and(|v| v == "1");
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if echo {
                eprintln!("oidc-provider: {line}");
            }
            let mut kept = kept.lock().expect("stderr buffer");
            kept.push_str(&line);
            kept.push('\n');
        }
    });
    let stdout = process.stdout.take().expect("the provider's stdout");
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(READY_TIMEOUT, lines.next_line()).await;
    match ready {
        Ok(Ok(Some(line))) if line.starts_with("ready ") => {
            let issuer = line["ready ".len()..].to_owned();
            Ok((process, issuer, lines))
        }
        other => {
            // Give the stderr reader a moment to collect why Node stopped.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let _ = process.kill().await;
            Err(format!(
                "the OpenID provider did not start ({other:?}):\n{}",
                errors.lock().expect("stderr buffer")
            ))
        }
    }
}

/// The harness on its own: a tiny relying party (axum on port 0) signs in through the real
/// provider with the authorization code flow and PKCE, and checks what the provider issues.
mod self_test {
    use std::collections::HashMap;

    use axum::extract::{Query, State};
    use axum::response::Redirect;
    use axum::routing::get;
    use sha2::{Digest, Sha256};
    use tokio::sync::mpsc;
    use uuid::Uuid;

    use super::*;

    const CLIENT_ID: &str = "failforward-test";
    const CLIENT_SECRET: &str = "a client secret of the self-test";

    /// What the relying party's two routes share: where `/start` sends the browser, and where
    /// `/callback` hands the query it got to the test.
    struct Routes {
        authorize: Mutex<String>,
        callbacks: mpsc::UnboundedSender<HashMap<String, String>>,
    }

    async fn start(State(routes): State<Arc<Routes>>) -> Redirect {
        Redirect::to(&routes.authorize.lock().expect("authorize URL"))
    }

    async fn callback(
        State(routes): State<Arc<Routes>>,
        Query(query): Query<HashMap<String, String>>,
    ) -> &'static str {
        routes.callbacks.send(query).expect("the test listens");
        "signed in"
    }

    /// The relying party: one sign-in at a time, each with its own state, nonce and verifier.
    struct RelyingParty {
        url: String,
        issuer: String,
        discovery: Value,
        routes: Arc<Routes>,
        callbacks: mpsc::UnboundedReceiver<HashMap<String, String>>,
        http: reqwest::Client,
    }

    impl RelyingParty {
        async fn bind() -> (tokio::net::TcpListener, String) {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind the relying party");
            let url = format!("http://{}", listener.local_addr().expect("its address"));
            (listener, url)
        }

        async fn serve(listener: tokio::net::TcpListener, url: String, issuer: &str) -> Self {
            let (sender, callbacks) = mpsc::unbounded_channel();
            let routes = Arc::new(Routes {
                authorize: Mutex::new(String::new()),
                callbacks: sender,
            });
            let app = axum::Router::new()
                .route("/start", get(start))
                .route("/callback", get(callback))
                .with_state(Arc::clone(&routes));
            tokio::spawn(async move { axum::serve(listener, app).await });
            let http = browser_client();
            let discovery = http
                .get(format!("{issuer}/.well-known/openid-configuration"))
                .send()
                .await
                .expect("discovery")
                .json()
                .await
                .expect("discovery is JSON");
            RelyingParty {
                url,
                issuer: issuer.to_owned(),
                discovery,
                routes,
                callbacks,
                http,
            }
        }

        fn endpoint(&self, name: &str) -> &str {
            self.discovery[name].as_str().expect(name)
        }

        fn redirect_uri(&self) -> String {
            format!("{}/callback", self.url)
        }

        async fn jwks_kids(&self) -> Vec<String> {
            let jwks: Value = self
                .http
                .get(self.endpoint("jwks_uri"))
                .send()
                .await
                .expect("GET jwks")
                .json()
                .await
                .expect("the JWKS is JSON");
            jwks["keys"]
                .as_array()
                .expect("keys")
                .iter()
                .map(|key| key["kid"].as_str().expect("a kid").to_owned())
                .collect()
        }

        /// Signs in as `login` in a fresh browser through `sign_in_at_provider`; answers the
        /// code the callback got and the PKCE verifier.
        async fn authorize(&mut self, login: &str, nonce: &str) -> (String, String) {
            let verifier = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            let state = Uuid::new_v4().simple().to_string();
            let mut authorize =
                Url::parse(self.endpoint("authorization_endpoint")).expect("authorize URL");
            authorize
                .query_pairs_mut()
                .append_pair("client_id", CLIENT_ID)
                .append_pair("response_type", "code")
                .append_pair("redirect_uri", &self.redirect_uri())
                .append_pair("scope", "openid email profile groups")
                .append_pair("state", &state)
                .append_pair("nonce", nonce)
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
            *self.routes.authorize.lock().expect("authorize URL") = authorize.to_string();

            let browser = browser_client();
            let start = format!("{}/start", self.url);
            let response = sign_in_at_provider(&browser, &start, login).await;
            assert_eq!(response.status(), 200, "the callback answered");
            assert_eq!(response.url().path(), "/callback");
            assert_eq!(response.text().await.expect("body"), "signed in");

            let query = self.callbacks.recv().await.expect("a callback");
            assert_eq!(query.get("state"), Some(&state));
            assert_eq!(query.get("iss"), Some(&self.issuer));
            (query.get("code").expect("a code").clone(), verifier)
        }

        async fn exchange(&self, code: &str, verifier: &str) -> Response {
            self.http
                .post(self.endpoint("token_endpoint"))
                .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", &self.redirect_uri()),
                    ("code_verifier", verifier),
                ])
                .send()
                .await
                .expect("the token endpoint")
        }

        /// A whole sign-in: the id_token's header and claims.
        async fn id_token(&mut self, login: &str, nonce: &str) -> (Value, Value, String) {
            let (code, verifier) = self.authorize(login, nonce).await;
            let response = self.exchange(&code, &verifier).await;
            assert_eq!(response.status(), 200);
            let tokens: Value = response.json().await.expect("tokens");
            let token = tokens["id_token"].as_str().expect("an id_token").to_owned();
            let (header, claims) = jwt_parts(&token);
            (header, claims, token)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn provider_signs_in_rotates_and_tampers() {
        let (listener, url) = RelyingParty::bind().await;
        let config = ProviderConfig {
            clients: vec![OidcClient::new(
                CLIENT_ID,
                CLIENT_SECRET,
                &format!("{url}/callback"),
            )],
            accounts: vec![
                OidcAccount::new("alice", "alice@example.com", "Alice Example")
                    .in_groups(&["engineering", "sre"]),
                OidcAccount::new("bob", "bob@example.com", "Bob Example").unverified(),
            ],
        };
        let Some(provider) = OidcProvider::start(config).await else {
            return;
        };
        let issuer = provider.issuer().to_owned();
        let mut party = RelyingParty::serve(listener, url, &issuer).await;

        let discovery = party.discovery.clone();
        assert_eq!(discovery["issuer"], issuer);
        assert_eq!(
            discovery["code_challenge_methods_supported"],
            json!(["S256"])
        );
        for scope in ["openid", "email", "profile", "groups"] {
            let scopes = discovery["scopes_supported"].as_array().expect("scopes");
            assert!(scopes.contains(&json!(scope)), "{scope} in {discovery}");
        }
        let first_kid = provider.current_kid().await;
        assert_eq!(party.jwks_kids().await, vec![first_kid.clone()]);

        // The full flow: the id_token carries the account's claims and the current kid.
        let (code, verifier) = party.authorize("alice", "nonce-1").await;
        let response = party.exchange(&code, &verifier).await;
        assert_eq!(response.status(), 200);
        let tokens: Value = response.json().await.expect("tokens");
        let (header, claims) = jwt_parts(tokens["id_token"].as_str().expect("an id_token"));
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["kid"], first_kid);
        assert_eq!(claims["iss"], issuer);
        assert_eq!(claims["aud"], CLIENT_ID);
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["nonce"], "nonce-1");
        assert_eq!(claims["email"], "alice@example.com");
        assert_eq!(claims["email_verified"], true);
        assert_eq!(claims["name"], "Alice Example");
        assert_eq!(claims["groups"], json!(["engineering", "sre"]));
        // A code is good once; a code without its PKCE verifier is refused.
        assert_eq!(party.exchange(&code, &verifier).await.status(), 400);
        let (code, _) = party.authorize("alice", "nonce-1b").await;
        assert_eq!(
            party
                .exchange(&code, "not-the-verifier-0123456789abcdefghijklmnop")
                .await
                .status(),
            400
        );

        // Rotation: the provider signs with the new key; the old one is published only if kept.
        let kept = provider.rotate(true).await;
        assert_ne!(kept, first_kid);
        assert_eq!(
            party.jwks_kids().await,
            vec![kept.clone(), first_kid.clone()]
        );
        let (header, claims, _) = party.id_token("bob", "nonce-2").await;
        assert_eq!(header["kid"], kept);
        assert_eq!(claims["email_verified"], false);
        assert_eq!(claims["groups"], json!([]));
        let replaced = provider.rotate(false).await;
        assert_eq!(party.jwks_kids().await, vec![replaced.clone()]);

        // Tampering: the next id_token has the asked audience, still signed by the provider.
        provider
            .tamper_next(IdTokenChange::audience("someone-else"))
            .await;
        let (header, claims, _) = party.id_token("alice", "nonce-3").await;
        assert_eq!(claims["aud"], "someone-else");
        assert_eq!(claims["nonce"], "nonce-3");
        assert_eq!(header["kid"], replaced);

        // Expired, another nonce with a stranger's key, and no signature: one response each.
        provider.tamper_next(IdTokenChange::expires_in(-600)).await;
        let (_, claims, _) = party.id_token("alice", "nonce-4").await;
        let exp = claims["exp"].as_i64().expect("exp");
        let iat = claims["iat"].as_i64().expect("iat");
        assert!(exp < iat, "exp {exp} is before iat {iat}");

        let mut change = IdTokenChange::nonce("someone else's nonce");
        change.sign_with = SignWith::Stranger;
        provider.tamper_next(change).await;
        let (header, claims, _) = party.id_token("alice", "nonce-5").await;
        assert_eq!(claims["nonce"], "someone else's nonce");
        let kid = header["kid"].as_str().expect("kid").to_owned();
        assert!(kid.starts_with("stranger-"), "{kid}");
        assert!(!party.jwks_kids().await.contains(&kid));

        provider
            .tamper_next(IdTokenChange::signed_by(SignWith::None))
            .await;
        let (header, _, token) = party.id_token("alice", "nonce-6").await;
        assert_eq!(header["alg"], "none");
        assert!(token.ends_with('.'), "no signature: {token}");

        // Replay: the next response carries the previous id_token again; then all is normal.
        provider.tamper_next(IdTokenChange::replay_last()).await;
        let (_, claims, _) = party.id_token("alice", "nonce-7").await;
        assert_eq!(claims["nonce"], "nonce-6");
        let (header, claims, _) = party.id_token("alice", "nonce-8").await;
        assert_eq!(claims["nonce"], "nonce-8");
        assert_eq!(claims["aud"], CLIENT_ID);
        assert_eq!(header["kid"], replaced);
    }
}
