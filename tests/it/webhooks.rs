//! Issue 21: signed webhooks — delivery from the outbox with retries under the same
//! `webhook-id`, Standard Webhooks signatures, the delivery log and redelivery, the SSRF guard.
//! Both databases; time moves through the app's clock, never by sleeping.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use failforward::domain::webhooks::retry_delay;
use failforward::service::SetClock;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::helpers::{Api, Backend, TestApp};

/// One request as a receiver saw it.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) id: String,
    timestamp: String,
    pub(crate) signature: String,
    pub(crate) body: String,
}

/// A local receiver that answers 500 to its first `failures` requests and 204 after.
pub(crate) async fn receiver(failures: usize) -> (String, mpsc::UnboundedReceiver<Received>) {
    let (sender, received) = mpsc::unbounded_channel();
    let seen = Arc::new(Mutex::new(0usize));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let sender = sender.clone();
            let seen = seen.clone();
            async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned()
                };
                let _ = sender.send(Received {
                    id: header("webhook-id"),
                    timestamp: header("webhook-timestamp"),
                    signature: header("webhook-signature"),
                    body,
                });
                let mut seen = seen.lock().expect("count");
                *seen += 1;
                if *seen <= failures {
                    (AxumStatus::INTERNAL_SERVER_ERROR, "not yet")
                } else {
                    (AxumStatus::NO_CONTENT, "")
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind receiver");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{address}/hook"), received)
}

pub(crate) async fn next(received: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(Duration::from_secs(20), received.recv())
        .await
        .expect("the receiver was called in time")
        .expect("receiver open")
}

/// Verifies a `webhook-signature` header as a receiver would, written from the specification
/// rather than with the server's code: some `v1,` signature must match.
pub(crate) fn verifies(secret: &str, got: &Received) -> bool {
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .expect("secret is base64");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("key");
    mac.update(format!("{}.{}.{}", got.id, got.timestamp, got.body).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    got.signature.split(' ').any(|one| one == expected)
}

/// The delivery log at `path` once it holds `count` attempts (the worker records an attempt
/// after the receiver has answered).
async fn logged_attempts(api: &Api, path: &str, count: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, log) = api.get(path).await;
        assert_eq!(status, StatusCode::OK);
        let log = log.as_array().cloned().unwrap_or_default();
        if log.len() >= count {
            return log;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{count} attempts were not logged"
        );
        tokio::task::yield_now().await;
    }
}

async fn team(app: &TestApp) -> (Api, Api) {
    app.create_user("root@example.org", "Root", true).await;
    app.create_user("lee@example.org", "Lee Lead", false).await;
    app.create_user("mo@example.org", "Mo Member", false).await;
    let lee = app.token_for("lee@example.org").await;
    let mo = app.token_for("mo@example.org").await;
    let (status, _) = lee.post("/api/v1/teams", json!({"name": "Ops"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = lee
        .post(
            "/api/v1/teams/ops/members",
            json!({"email": "mo@example.org", "role": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    (lee, mo)
}

async fn log_loop(api: &Api, title: &str) -> String {
    let (status, created) = api
        .post(
            "/api/v1/teams/ops/loops",
            json!({"title": title, "what_happened": "x", "what_was_expected": "y"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_str().expect("id").to_owned()
}

async fn retries_keep_the_webhook_id(backend: Backend) {
    let clock = SetClock::starting_now();
    let Some(app) = TestApp::spawn_with_clock_and(backend, clock.clone(), |settings| {
        settings.policy.webhooks_allow_private = true;
    })
    .await
    else {
        return;
    };
    let (lee, mo) = team(&app).await;
    let (url, mut received) = receiver(5).await;
    let (status, members_try) = mo
        .post(
            "/api/v1/teams/ops/webhooks",
            json!({"url": url, "event_types": ["loop.logged"]}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "members do not subscribe: {members_try}"
    );
    let (status, problem) = lee
        .post(
            "/api/v1/teams/ops/webhooks",
            json!({"url": url, "event_types": ["loop.exploded"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "event_types");
    let (status, created) = lee
        .post(
            "/api/v1/teams/ops/webhooks",
            json!({"url": url, "event_types": ["loop.logged"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_"));
    let webhook = created["id"].as_str().expect("id").to_owned();
    let (_, listed) = lee.get("/api/v1/teams/ops/webhooks").await;
    assert!(
        listed[0].get("secret").is_none(),
        "the secret is shown once"
    );

    let loop_id = log_loop(&mo, "Slow search").await;
    let first = next(&mut received).await;
    assert!(first.id.starts_with("msg_"), "{first:?}");
    assert!(verifies(&secret, &first), "{first:?}");
    let payload: Value = serde_json::from_str(&first.body).expect("JSON body");
    assert_eq!(payload["type"], "loop.logged");
    assert_eq!(payload["version"], 1);
    assert_eq!(payload["data"]["loop_id"], loop_id.as_str());
    let path = format!("/api/v1/teams/ops/webhooks/{webhook}/attempts");
    for attempt in 1..=5 {
        // The retry is scheduled from the moment the attempt is recorded: move time after it.
        logged_attempts(&lee, &path, attempt as usize).await;
        clock.advance(time::Duration::seconds_f64(
            retry_delay(attempt, 1.0).as_secs_f64() + 1.0,
        ));
        let again = next(&mut received).await;
        assert_eq!(again.id, first.id, "attempt {attempt} keeps the webhook-id");
        assert_eq!(again.body, first.body);
        assert!(verifies(&secret, &again));
    }

    let attempts = logged_attempts(&lee, &path, 6).await;
    assert_eq!(attempts.len(), 6, "{attempts:?}");
    assert_eq!(attempts[0]["status"], 204);
    assert_eq!(attempts[0]["delivery_status"], "delivered");
    assert!(attempts[1..]
        .iter()
        .all(|a| a["status"] == 500 && a["excerpt"] == "not yet"));
    assert!(attempts
        .iter()
        .all(|a| a["webhook_id"] == first.id.as_str()));

    // Manual redelivery sends the same event again, under the same id.
    let delivery = attempts[0]["delivery_id"].as_str().expect("delivery");
    let (status, _) = lee
        .post(
            &format!("/api/v1/teams/ops/webhooks/{webhook}/deliveries/{delivery}/redeliver"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(next(&mut received).await.id, first.id);

    // A rotation signs with both secrets for a day; the new one verifies too.
    let (status, rotated) = lee
        .post(
            &format!("/api/v1/teams/ops/webhooks/{webhook}/rotate"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let new_secret = rotated["secret"].as_str().expect("secret").to_owned();

    // Switched off by hand through the API: members may not, the lead may, and it shows why.
    let switch = |verb: &str| format!("/api/v1/teams/ops/webhooks/{webhook}/{verb}");
    let (status, _) = mo.post(&switch("disable"), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = lee.post(&switch("disable"), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, listed) = lee.get("/api/v1/teams/ops/webhooks").await;
    assert_eq!(listed[0]["enabled"], false);
    assert!(listed[0]["disabled_reason"]
        .as_str()
        .is_some_and(|why| why.contains("by hand")));
    let (status, _) = lee.post(&switch("enable"), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, listed) = lee.get("/api/v1/teams/ops/webhooks").await;
    assert_eq!(listed[0]["enabled"], true);
    log_loop(&mo, "Second").await;
    let signed_by_both = next(&mut received).await;
    assert!(verifies(&secret, &signed_by_both) && verifies(&new_secret, &signed_by_both));
    assert_eq!(signed_by_both.signature.split(' ').count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_failing_five_times_gets_the_same_webhook_id_sqlite() {
    retries_keep_the_webhook_id(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_failing_five_times_gets_the_same_webhook_id_postgres() {
    retries_keep_the_webhook_id(Backend::Postgres).await;
}

async fn ssrf_guard(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (lee, mo) = team(&app).await;
    let root = app.token_for("root@example.org").await;
    for literal in [
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
    ] {
        let (status, problem) = lee
            .post(
                "/api/v1/teams/ops/webhooks",
                json!({"url": literal, "event_types": ["loop.logged"]}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{literal}");
        assert_eq!(problem["errors"][0]["field"], "url");
    }
    let (status, _) = lee
        .post(
            "/api/v1/teams/ops/webhooks",
            json!({"url": "http://hooks.example.com/in", "event_types": ["loop.logged"]}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "plain http is refused"
    );
    // A name that resolves to loopback passes the form and is refused at the attempt.
    let (status, created) = root
        .post(
            "/api/v1/webhooks",
            json!({"url": "https://localhost:9/hook", "event_types": ["loop.logged"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let webhook = created["id"].as_str().expect("id").to_owned();
    let (status, _) = lee.get("/api/v1/webhooks").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "organisation webhooks are the admins'"
    );
    log_loop(&mo, "Slow search").await;
    // The server's own worker may be making the attempt; wait for its line in the log.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let attempts = loop {
        failforward::delivery::work_once(&app.service)
            .await
            .expect("a round of delivery");
        let (_, attempts) = root
            .get(&format!("/api/v1/webhooks/{webhook}/attempts"))
            .await;
        if attempts.as_array().is_some_and(|a| !a.is_empty()) {
            break attempts;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no attempt was logged"
        );
        tokio::task::yield_now().await;
    };
    let attempt = &attempts[0];
    assert!(attempt.get("status").is_none(), "{attempt}");
    let excerpt = attempt["excerpt"].as_str().unwrap_or("");
    assert!(
        excerpt.starts_with("refused: localhost resolves to"),
        "{excerpt}"
    );
    assert_eq!(attempt["delivery_status"], "pending", "retried later");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outgoing_requests_refuse_private_addresses_sqlite() {
    ssrf_guard(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outgoing_requests_refuse_private_addresses_postgres() {
    ssrf_guard(Backend::Postgres).await;
}

/// Two instances on one PostgreSQL database, 200 captures as fast as they come: each event
/// reaches the receiver once — one attempt per delivery in the log, no `webhook-id` twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_deliver_each_event_once() {
    let Some(app) = TestApp::spawn_with(Backend::Postgres, |settings| {
        settings.policy.webhooks_allow_private = true;
        settings.secret_key = Some("k".repeat(40));
    })
    .await
    else {
        return;
    };
    let _sibling = app
        .sibling(|settings| {
            settings.policy.webhooks_allow_private = true;
            settings.secret_key = Some("k".repeat(40));
        })
        .await;
    let (lee, mo) = team(&app).await;
    let (url, mut received) = receiver(0).await;
    let (status, _) = lee
        .post(
            "/api/v1/teams/ops/webhooks",
            json!({"url": url, "event_types": ["loop.logged"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let captures = (0..200).map(|n| {
        let mo = mo.clone();
        async move { log_loop(&mo, &format!("Capture {n}")).await }
    });
    futures_util::future::join_all(captures).await;
    let mut ids = std::collections::HashSet::new();
    while ids.len() < 200 {
        let got = next(&mut received).await;
        assert!(ids.insert(got.id.clone()), "{} came twice", got.id);
    }
    // Each attempt is recorded after its answer: wait for the last ones.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while app
        .db
        .count("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'delivered'")
        .await
        < 200
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "deliveries not recorded"
        );
        tokio::task::yield_now().await;
    }
    assert_eq!(
        app.db.count("SELECT COUNT(*) FROM webhook_attempts").await,
        200,
        "one attempt per event"
    );
    assert_eq!(
        app.db
            .count("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'delivered' AND attempts = 1")
            .await,
        200
    );
}

/// The real binary, with the caller's FAILFORWARD_ variables removed.
fn failforward() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_failforward"));
    for (key, _) in std::env::vars() {
        if key.starts_with("FAILFORWARD_") {
            command.env_remove(key);
        }
    }
    command
}

/// Serves the data in `storage` with webhooks allowed to reach this host; returns the process
/// and its URL.
fn serve(storage: &[String]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut server = failforward()
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--webhooks-allow-private",
            "true",
        ])
        .args(storage)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve starts");
    let mut first = String::new();
    std::io::BufReader::new(server.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("banner");
    let base = first
        .trim()
        .strip_prefix("failforward is running at ")
        .expect("banner names the URL")
        .to_owned();
    (server, base)
}

/// kill -9 after the capture's commit and before any delivery could succeed (the receiver is
/// not listening yet): the restarted server delivers the event from the outbox.
async fn kill_between_commit_and_delivery(backend: Backend) {
    let dir = tempfile::tempdir().expect("dir");
    let mut storage = vec!["--data-dir".to_owned(), dir.path().display().to_string()];
    if backend == Backend::Postgres {
        let Some(url) = crate::helpers::fresh_postgres_url().await else {
            return;
        };
        storage.extend(["--database-url".to_owned(), url]);
    }
    let created = failforward()
        .args([
            "admin",
            "create-user",
            "--email",
            "ops@example.org",
            "--name",
            "Ops",
        ])
        .args(["--admin", "--password-stdin", "--organisation", "Acme"])
        .args(&storage)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(format!("{}\n", crate::helpers::PASSWORD).as_bytes())?;
            child.wait()
        })
        .expect("create-user runs");
    assert!(created.success());
    let token = failforward()
        .args(["admin", "create-token", "--email", "ops@example.org"])
        .args(&storage)
        .output()
        .expect("create-token runs");
    let token = String::from_utf8_lossy(&token.stdout).trim().to_owned();

    // A port nobody listens on yet: the first attempts cannot succeed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port();
    let (mut server, base) = serve(&storage);
    let api = Api {
        client: reqwest::Client::new(),
        base: base.clone(),
        token: token.clone(),
    };
    let (status, _) = api.post("/api/v1/teams", json!({"name": "Ops"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = api
        .post(
            "/api/v1/teams/ops/webhooks",
            json!({"url": format!("http://127.0.0.1:{port}/hook"), "event_types": ["loop.logged"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let loop_id = log_loop(&api, "Written, then the server died").await;
    server.kill().expect("kill -9");
    server.wait().expect("reaped");

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the receiver takes the port");
    let (sender, mut received) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let sender = sender.clone();
            async move {
                let _ = sender.send(body);
                AxumStatus::NO_CONTENT
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let (mut restarted, _) = serve(&storage);
    // A retry waits up to 6 s, a delivery claimed by the killed process its 30 s lease.
    let body = tokio::time::timeout(Duration::from_secs(60), received.recv())
        .await
        .expect("delivered after the restart")
        .expect("receiver open");
    let payload: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(payload["data"]["loop_id"], loop_id.as_str());
    restarted.kill().expect("stop");
    restarted.wait().expect("reaped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_still_delivers_after_restart_sqlite() {
    kill_between_commit_and_delivery(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_still_delivers_after_restart_postgres() {
    kill_between_commit_and_delivery(Backend::Postgres).await;
}

/// The worker deletes events and delivery attempts past the retention once they are done with,
/// on its own tick, as the service's clock says; a younger event stays, and so does the
/// `action.overdue` of an action still open (its key keeps the sweep from raising it again). The
/// audit entries the outbox also holds keep to their own retention (365 days), not this one.
async fn retention(backend: Backend) {
    let clock = SetClock::starting_now();
    let Some(app) = TestApp::spawn_with_clock_and(backend, clock.clone(), |settings| {
        settings.policy.webhooks_allow_private = true;
        settings.policy.webhook_retention = time::Duration::days(30);
    })
    .await
    else {
        return;
    };
    let (lee, mo) = team(&app).await;
    let (url, mut received) = receiver(0).await;
    let (status, created) = lee
        .post(
            "/api/v1/teams/ops/webhooks",
            json!({"url": url, "event_types": ["loop.logged"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let webhook = created["id"].as_str().expect("id").to_owned();
    let path = format!("/api/v1/teams/ops/webhooks/{webhook}/attempts");
    let old = log_loop(&mo, "Old news").await;
    next(&mut received).await;
    logged_attempts(&lee, &path, 1).await;
    let (status, _) = lee
        .post(
            &format!("/api/v1/teams/ops/loops/{old}/actions"),
            json!({"title": "Still to do", "due_on": "2020-01-31"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(app.service.raise_overdue_actions().await.expect("sweep"), 1);

    clock.advance(time::Duration::days(31));
    let fresh = log_loop(&mo, "Fresh news").await;
    let got = next(&mut received).await;
    assert!(got.body.contains(&fresh), "{}", got.body);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let events = app
            .db
            .dump(
                "SELECT kind, subject_id FROM event_outbox WHERE kind NOT LIKE 'audit.%' \
                 ORDER BY kind",
            )
            .await;
        let attempts = app.db.count("SELECT COUNT(*) FROM webhook_attempts").await;
        let kinds: Vec<(String, String)> = events
            .iter()
            .map(|row| (row[0].1.clone(), row[1].1.clone()))
            .collect();
        let only_young = kinds.iter().all(|(kind, subject)| {
            kind == "action.overdue" || (kind == "loop.logged" && *subject == fresh)
        });
        if only_young && attempts == 1 {
            assert!(
                kinds.iter().any(|(kind, _)| kind == "action.overdue"),
                "the open action's overdue event stays: {kinds:?}"
            );
            assert!(
                kinds.iter().any(|(_, subject)| *subject == fresh),
                "{kinds:?}"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "old events were not deleted: {kinds:?}, {attempts} attempts"
        );
        tokio::task::yield_now().await;
    }
    let log = logged_attempts(&lee, &path, 1).await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(
        app.db
            .count("SELECT COUNT(*) FROM audit_log WHERE action = 'webhook.created'")
            .await,
        1,
        "the subscription's audit entry, 31 days old, outlives the deliveries' retention"
    );
    assert_eq!(
        app.service.raise_overdue_actions().await.expect("sweep"),
        0,
        "the kept key still stops a second overdue event"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_deliveries_are_deleted_after_the_retention_sqlite() {
    retention(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_deliveries_are_deleted_after_the_retention_postgres() {
    retention(Backend::Postgres).await;
}

/// A subscription whose deliveries fail for a day is switched off by the server, once, with the
/// reason on the subscription and one audit entry that names no actor.
async fn sustained_failure_switches_off(backend: Backend) {
    let clock = SetClock::starting_now();
    let Some(app) = TestApp::spawn_with_clock_and(backend, clock.clone(), |settings| {
        settings.policy.webhooks_allow_private = true;
    })
    .await
    else {
        return;
    };
    let (lee, mo) = team(&app).await;
    let root = app.token_for("root@example.org").await;
    let (url, mut received) = receiver(usize::MAX).await;
    let (status, created) = lee
        .post(
            "/api/v1/teams/ops/webhooks",
            json!({"url": url, "event_types": ["loop.logged"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let webhook = created["id"].as_str().expect("id").to_owned();
    let path = format!("/api/v1/teams/ops/webhooks/{webhook}/attempts");
    let switched_off = |listed: &Value| {
        listed[0]["enabled"] == false
            && listed[0]["disabled_reason"]
                .as_str()
                .is_some_and(|why| why.contains("every delivery has failed since"))
    };

    log_loop(&mo, "Slow search").await;
    next(&mut received).await;
    logged_attempts(&lee, &path, 1).await;
    // Within the day it stays on; a day and an hour after the first failure, the next failed
    // attempt switches it off.
    let (_, listed) = lee.get("/api/v1/teams/ops/webhooks").await;
    assert_eq!(listed[0]["enabled"], true, "{listed}");
    clock.advance(time::Duration::hours(25));
    next(&mut received).await;
    logged_attempts(&lee, &path, 2).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, listed) = lee.get("/api/v1/teams/ops/webhooks").await;
        if switched_off(&listed) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not switched off: {listed}"
        );
        tokio::task::yield_now().await;
    }

    let (status, audit) = root.get("/api/v1/audit?action=webhook.disabled").await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let entries = audit.as_array().expect("a list");
    assert_eq!(entries.len(), 1, "{audit}");
    assert!(entries[0]["actor_id"].is_null() && entries[0]["actor_email"].is_null());
    assert_eq!(entries[0]["target"], format!("webhook {webhook}"));
    assert!(entries[0]["detail"]
        .as_str()
        .is_some_and(|d| d.starts_with(url.as_str()) && d.contains("failed since")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_of_failures_switches_a_webhook_off_and_audits_it_sqlite() {
    sustained_failure_switches_off(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_of_failures_switches_a_webhook_off_and_audits_it_postgres() {
    sustained_failure_switches_off(Backend::Postgres).await;
}

/// The app with private receivers allowed and the worker polling once an hour, so that only a
/// commit's wake-up can deliver within a test.
async fn polling_hourly(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(backend, |settings| {
        settings.policy.webhooks_allow_private = true;
        settings.policy.webhook_poll_interval = Duration::from_secs(3600);
    })
    .await
}

/// A local receiver, subscribed by the lead to the team's `loop.logged` events.
async fn subscribe_to_logged_loops(lead: &Api) -> mpsc::UnboundedReceiver<Received> {
    let (url, received) = receiver(0).await;
    let (status, created) = lead
        .post(
            "/api/v1/teams/ops/webhooks",
            json!({"url": url, "event_types": ["loop.logged"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    received
}

/// A committed event wakes the delivery worker: with polling once an hour, the receiver still
/// gets each event (so only the wake-up can have sent it). An anonymous loop's event is not
/// woken out early: it reaches the receiver only after the day's release writes it.
async fn a_commit_wakes_the_worker(backend: Backend) {
    let Some(app) = polling_hourly(backend).await else {
        return;
    };
    let (lee, mo) = team(&app).await;
    let mut received = subscribe_to_logged_loops(&lee).await;
    for title in ["Slow search", "Stale cache"] {
        let loop_id = log_loop(&mo, title).await;
        let got = next(&mut received).await;
        let payload: Value = serde_json::from_str(&got.body).expect("JSON body");
        assert_eq!(payload["data"]["loop_id"], loop_id.as_str(), "{title}");
    }

    let (status, anonymous) = mo
        .post(
            "/api/v1/teams/ops/loops",
            json!({"title": "Quiet failure", "what_happened": "x",
                   "what_was_expected": "y", "anonymous": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{anonymous}");
    let named = log_loop(&mo, "Named after it").await;
    let got = next(&mut received).await;
    let payload: Value = serde_json::from_str(&got.body).expect("JSON body");
    assert_eq!(payload["data"]["loop_id"], named.as_str());
    assert!(
        received.try_recv().is_err(),
        "the anonymous loop's event waits for the day's release"
    );
    app.release_anonymous_loops().await;
    let got = next(&mut received).await;
    let payload: Value = serde_json::from_str(&got.body).expect("JSON body");
    assert_eq!(payload["data"]["anonymous"], true, "{payload}");
}

/// With nobody subscribed, a commit's wake-up leaves its events to the next poll (it must not
/// make captures wait for the writer); the first subscription still receives only what comes
/// after it.
async fn first_subscription_gets_only_later_events(backend: Backend) {
    let Some(app) = polling_hourly(backend).await else {
        return;
    };
    let (lee, mo) = team(&app).await;
    let before = log_loop(&mo, "Before anyone listened").await;
    let mut received = subscribe_to_logged_loops(&lee).await;
    let mut after = Vec::new();
    let mut got = Vec::new();
    for title in ["Slow search", "Stale cache"] {
        after.push(log_loop(&mo, title).await);
        let payload: Value =
            serde_json::from_str(&next(&mut received).await.body).expect("JSON body");
        got.push(payload["data"]["loop_id"].as_str().unwrap_or("").to_owned());
    }
    got.sort();
    after.sort();
    assert_eq!(got, after, "{before} came before the subscription");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_subscription_gets_only_later_events_sqlite() {
    first_subscription_gets_only_later_events(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_subscription_gets_only_later_events_postgres() {
    first_subscription_gets_only_later_events(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_event_wakes_the_delivery_worker_sqlite() {
    a_commit_wakes_the_worker(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_event_wakes_the_delivery_worker_postgres() {
    a_commit_wakes_the_worker(Backend::Postgres).await;
}
