//! The one way every integration test starts the app: a real server on port 0 with a fresh
//! database (a temporary SQLite file, or a fresh schema in the PostgreSQL named by
//! `FAILFORWARD_TEST_DATABASE_URL`), driven over HTTP like any client.

use std::future::pending;
use std::sync::Arc;

use failforward::app::Application;
use failforward::config::{Settings, StorageSettings};
use failforward::service::{Clock, Service, SetClock, SystemClock};
use failforward::store::Durability;
use reqwest::redirect::Policy;
use reqwest::{Response, StatusCode};
use serde_json::Value;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::{PgPool, SqlitePool};
use tempfile::TempDir;

pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Direct database access, for asserting what was (not) written.
pub enum TestDb {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl TestDb {
    pub async fn count(&self, sql: &str) -> i64 {
        match self {
            TestDb::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
            TestDb::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    pub async fn execute(&self, sql: &str) {
        match self {
            TestDb::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
            TestDb::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Every cell of a query's rows as text (NULL as "NULL"), for scanning stored data.
    pub async fn dump(&self, sql: &str) -> Vec<Vec<(String, String)>> {
        match self {
            TestDb::Sqlite(pool) => sqlx::query(sql)
                .fetch_all(pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .iter()
                .map(cells)
                .collect(),
            TestDb::Postgres(pool) => sqlx::query(sql)
                .fetch_all(pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .iter()
                .map(cells)
                .collect(),
        }
    }
}

fn cells<'r, R: sqlx::Row>(row: &'r R) -> Vec<(String, String)>
where
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    use sqlx::{Column, ValueRef};
    (0..row.columns().len())
        .map(|i| {
            let name = row.columns()[i].name().to_owned();
            let is_null = row.try_get_raw(i).map(|raw| raw.is_null()).unwrap_or(true);
            let value = if is_null {
                "NULL".to_owned()
            } else if let Ok(v) = row.try_get::<String, _>(i) {
                v
            } else if let Ok(v) = row.try_get::<i64, _>(i) {
                v.to_string()
            } else if let Ok(v) = row.try_get::<i32, _>(i) {
                v.to_string()
            } else if let Ok(v) = row.try_get::<bool, _>(i) {
                v.to_string()
            } else {
                "<undecodable>".to_owned()
            };
            (name, value)
        })
        .collect()
}

/// A running app with a fresh database.
pub struct TestApp {
    pub address: String,
    pub setup_link: Option<String>,
    pub service: Service,
    pub db: TestDb,
    /// The PostgreSQL URL (with its schema), when the app runs on PostgreSQL.
    pub database_url: Option<String>,
    _dir: TempDir,
}

/// A further app server on the same database, as behind a load balancer.
pub struct SiblingApp {
    pub address: String,
    pub service: Service,
    _dir: TempDir,
}

impl SiblingApp {
    /// A client of this instance with `api`'s token.
    pub fn api_as(&self, api: &Api) -> Api {
        Api {
            client: api.client.clone(),
            base: self.address.clone(),
            token: api.token.clone(),
        }
    }
}

/// Whether the suite must run everything (CI sets this, so a missing PostgreSQL or Chromium
/// fails the run instead of skipping silently).
pub fn full_suite_required() -> bool {
    std::env::var("FAILFORWARD_REQUIRE_FULL_SUITE").is_ok_and(|v| v == "1")
}

/// The database URL a test of `backend` opens its store with: `Some(None)` for SQLite (a file
/// in the test's data directory), `Some(Some(url))` for a fresh PostgreSQL schema, and `None`
/// when no PostgreSQL is configured, so that the test skips.
pub async fn fresh_database_url(backend: Backend) -> Option<Option<String>> {
    match backend {
        Backend::Sqlite => Some(None),
        Backend::Postgres => fresh_postgres_url().await.map(Some),
    }
}

/// A fresh schema in the test PostgreSQL, or `None` when none is configured.
pub async fn fresh_postgres_url() -> Option<String> {
    let Ok(base) = std::env::var("FAILFORWARD_TEST_DATABASE_URL") else {
        if full_suite_required() {
            panic!("FAILFORWARD_TEST_DATABASE_URL is not set but the full suite is required");
        }
        eprintln!("skipped on PostgreSQL: set FAILFORWARD_TEST_DATABASE_URL to run it");
        return None;
    };
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&base)
        .await
        .expect("connect to FAILFORWARD_TEST_DATABASE_URL");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .expect("create schema");
    admin.close().await;
    let separator = if base.contains('?') { '&' } else { '?' };
    // Test data need not survive a crash of the database server: commits do not wait for the
    // write-ahead log to reach the disk, which makes the suite's many small writes faster.
    Some(format!(
        "{base}{separator}options[search_path]={schema}&options[synchronous_commit]=off"
    ))
}

impl TestApp {
    /// Runs `failforward --server <this app> --token <token> <args…>` as a client of the running
    /// app, without the environment's FAILFORWARD_ settings: (exit code, stdout, stderr).
    pub fn client_cli(&self, token: &str, args: &[&str]) -> (i32, String, String) {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_failforward"));
        for (key, _) in std::env::vars() {
            if key.starts_with("FAILFORWARD_") {
                command.env_remove(key);
            }
        }
        let output = command
            .args(["--server", &self.address, "--token", token])
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("binary runs");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Starts the app, or `None` when the backend is not available here.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(
        backend: Backend,
        adjust: impl FnOnce(&mut Settings),
    ) -> Option<TestApp> {
        Some(Self::spawn_until(backend, adjust, pending()).await?.0)
    }

    /// Starts the app reading the time from `clock`: the test moves time with
    /// `clock.advance(…)` instead of sleeping or back-dating rows.
    pub async fn spawn_with_clock(backend: Backend, clock: SetClock) -> Option<TestApp> {
        Some(
            Self::spawn_until_with_clock(backend, |_| {}, pending(), Arc::new(clock))
                .await?
                .0,
        )
    }

    /// Starts the app with adjusted settings, reading the time from `clock`.
    pub async fn spawn_with_clock_and(
        backend: Backend,
        clock: SetClock,
        adjust: impl FnOnce(&mut Settings),
    ) -> Option<TestApp> {
        Some(
            Self::spawn_until_with_clock(backend, adjust, pending(), Arc::new(clock))
                .await?
                .0,
        )
    }

    /// Starts the app and a handle that stops it gracefully, as SIGTERM does; the task ends
    /// when the stop has finished.
    pub async fn spawn_stoppable(
        backend: Backend,
    ) -> Option<(
        TestApp,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    )> {
        Self::spawn_stoppable_with(backend, |_| {}).await
    }

    /// As [`TestApp::spawn_stoppable`], with adjusted settings.
    pub async fn spawn_stoppable_with(
        backend: Backend,
        adjust: impl FnOnce(&mut Settings),
    ) -> Option<(
        TestApp,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    )> {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (app, task) = Self::spawn_until(backend, adjust, async move {
            let _ = stopped.await;
        })
        .await?;
        Some((app, stop, task))
    }

    async fn spawn_until(
        backend: Backend,
        adjust: impl FnOnce(&mut Settings),
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Option<(TestApp, tokio::task::JoinHandle<anyhow::Result<()>>)> {
        Self::spawn_until_with_clock(backend, adjust, shutdown, Arc::new(SystemClock)).await
    }

    async fn spawn_until_with_clock(
        backend: Backend,
        adjust: impl FnOnce(&mut Settings),
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
        clock: Arc<dyn Clock>,
    ) -> Option<(TestApp, tokio::task::JoinHandle<anyhow::Result<()>>)> {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned()))
            .try_init();
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(fresh_postgres_url().await?),
        };
        let mut storage = StorageSettings::in_dir(dir.path());
        storage.database_url = database_url.clone();
        // A test's data need not survive a power cut: SQLite commits without waiting for the
        // disk (PostgreSQL's test sessions likewise, in `fresh_postgres_url`).
        storage.sqlite.durability = Durability::Normal;
        let mut settings = Settings::for_tests(storage);
        adjust(&mut settings);
        let app = Application::build_with_clock(settings, clock)
            .await
            .expect("app builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let setup_link = app.setup_link().map(str::to_owned);
        let service = app.service().clone();
        let task = tokio::spawn(app.run_until(shutdown));
        let db = match &database_url {
            None => TestDb::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(2)
                    .connect(&format!(
                        "sqlite://{}",
                        dir.path().join("failforward.db").display()
                    ))
                    .await
                    .expect("open test sqlite"),
            ),
            Some(url) => TestDb::Postgres(
                PgPoolOptions::new()
                    .max_connections(2)
                    .connect(url)
                    .await
                    .expect("open test postgres"),
            ),
        };
        Some((
            TestApp {
                address,
                setup_link,
                service,
                db,
                database_url,
                _dir: dir,
            },
            task,
        ))
    }

    /// Starts a second app server on this app's PostgreSQL database with the given settings
    /// adjustment (the secret key must match the first instance's).
    pub async fn sibling(&self, adjust: impl FnOnce(&mut Settings)) -> SiblingApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut storage = StorageSettings::in_dir(dir.path());
        storage.database_url = Some(self.database_url.clone().expect("a PostgreSQL app"));
        let mut settings = Settings::for_tests(storage);
        adjust(&mut settings);
        let app = Application::build(settings)
            .await
            .expect("second app builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let service = app.service().clone();
        tokio::spawn(app.run_until(pending()));
        SiblingApp {
            address,
            service,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Stands for the end of the UTC day: writes the anonymous loops this instance holds.
    pub async fn release_anonymous_loops(&self) {
        self.service
            .release_held_anonymous_loops()
            .await
            .expect("release held anonymous loops");
    }

    /// The app's data directory (the SQLite file, its log and the secret key live there).
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// A browser-like client with its own cookie jar that does not follow redirects.
    pub fn browser(&self) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(Policy::none())
                .build()
                .expect("client"),
            base: self.address.clone(),
        }
    }

    /// Runs the first-run flow through the web pages; returns the admin's browser.
    pub async fn set_up(&self) -> Browser {
        let browser = self.browser();
        let link = self.setup_link.clone().expect("a set-up link");
        let path = link.trim_start_matches(&self.address).to_owned();
        let token = path.split("token=").nth(1).expect("token").to_owned();
        let response = browser
            .submit(
                &path,
                "/setup",
                &[
                    ("token", token.as_str()),
                    ("organisation", "Acme Learning"),
                    ("name", "Ada Admin"),
                    ("email", "ada@example.org"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "set-up redirects");
        browser
    }

    /// Creates an account directly through the library (headless set-up path).
    pub async fn create_user(&self, email: &str, name: &str, admin: bool) {
        self.service
            .create_user_directly(email, name, PASSWORD, admin, Some("Acme Learning"))
            .await
            .expect("user created");
    }

    pub async fn token_for(&self, email: &str) -> Api {
        let token = self
            .service
            .create_api_token_directly(email, "tests")
            .await
            .expect("token");
        self.api(&token)
    }

    pub fn api(&self, token: &str) -> Api {
        Api {
            client: reqwest::Client::new(),
            base: self.address.clone(),
            token: token.to_owned(),
        }
    }

    /// Signs in through the login form.
    pub async fn sign_in(&self, email: &str) -> Browser {
        let browser = self.browser();
        let response = browser
            .submit(
                "/login",
                "/login",
                &[("email", email), ("password", PASSWORD), ("next", "/")],
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "sign-in of {email}"
        );
        browser
    }
}

/// A client with cookies, like one browser profile.
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
}

impl Browser {
    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET")
    }

    pub async fn get_text(&self, path: &str) -> (StatusCode, String) {
        let response = self.get(path).await;
        let status = response.status();
        (status, response.text().await.expect("body"))
    }

    /// The CSRF token embedded in the page at `path`.
    pub async fn csrf(&self, path: &str) -> String {
        let (status, html) = self.get_text(path).await;
        assert!(status.is_success(), "GET {path} gave {status}");
        csrf_in(&html).unwrap_or_else(|| panic!("no csrf token on {path}"))
    }

    /// Loads `page`, then posts `fields` (plus the page's CSRF token) to `action`.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Response {
        let token = self.csrf(page).await;
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf_token", token.as_str()));
        self.post_form(action, &form).await
    }

    pub async fn post_form(&self, action: &str, fields: &[(&str, &str)]) -> Response {
        self.client
            .post(format!("{}{action}", self.base))
            .form(fields)
            .send()
            .await
            .expect("POST")
    }
}

pub fn csrf_in(html: &str) -> Option<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

pub fn location(response: &Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// A JSON API client with a bearer token.
#[derive(Clone)]
pub struct Api {
    pub client: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Api {
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("API request");
        let status = response.status();
        let text = response.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// Posts a raw body with a content type, for malformed-input tests.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: &str,
    ) -> (StatusCode, Value, String) {
        let (status, content_type, value) = self
            .send_bytes(reqwest::Method::POST, path, content_type, body.into())
            .await;
        (status, value, content_type)
    }

    /// Sends any bytes with a content type; returns the status, the answer's content type and
    /// its JSON (`null` when it is not JSON).
    pub async fn send_bytes(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, String, Value) {
        let response = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let text = response.text().await.expect("body");
        (
            status,
            content_type,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }
}

/// Runs the same story on SQLite and on PostgreSQL: each `story!(name, |app| async { … })`
/// becomes a module `name` with the tests `sqlite` and `postgres`.
#[macro_export]
macro_rules! story {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite)
                    .await
                    .expect("SQLite is always available");
                ($body)(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) =
                    $crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await
                {
                    ($body)(app).await;
                }
            }
        }
    };
}
