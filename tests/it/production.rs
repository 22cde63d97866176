//! Issue 23, several instances in production conditions: an instance told to stop behind a load
//! balancer first reads not ready while it keeps serving (so that the balancer's health check
//! takes it out of the list before it refuses anything), then stops gracefully, ending its live
//! streams so that their clients reconnect elsewhere. `.ci/production` runs the whole picture
//! (three instances, nginx, restarts and kills under load).

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::{Backend, TestApp};
use crate::review::{session_in_write, team};

const DRAIN: Duration = Duration::from_secs(2);

async fn status(client: &reqwest::Client, url: &str) -> StatusCode {
    client.get(url).send().await.expect("GET").status()
}

async fn drains_then_stops(backend: Backend) {
    let Some((app, stop, task)) =
        TestApp::spawn_stoppable_with(backend, |s| s.shutdown_drain = DRAIN).await
    else {
        return;
    };
    let (lee, mo, kim, _root, loop_id) = team(&app).await;
    let base = session_in_write(&mo, &lee, &kim, &loop_id).await;
    let client = reqwest::Client::new();
    assert_eq!(status(&client, &app.url("/readyz")).await, StatusCode::OK);
    let mut stream = client
        .get(app.url(&format!("{base}/events")))
        .bearer_auth(&lee.token)
        .send()
        .await
        .expect("events");
    assert_eq!(stream.status(), StatusCode::OK);
    let first = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
        .await
        .expect("the current version at once")
        .expect("stream");
    assert!(first.is_some_and(|chunk| String::from_utf8_lossy(&chunk).contains("version")));

    let stopped_at = Instant::now();
    stop.send(()).expect("the server is running");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Draining: not ready, and everything else still served, writes included.
    assert_eq!(
        status(&client, &app.url("/readyz")).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(status(&client, &app.url("/healthz")).await, StatusCode::OK);
    let (code, body) = lee.get("/api/v1/teams/ops/loops").await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let (code, body) = mo
        .post(
            &format!("{base}/cards"),
            serde_json::json!({"kind": "observation", "text": "written while draining"}),
        )
        .await;
    assert!(code.is_success(), "{code} {body}");
    assert!(!task.is_finished(), "the server still runs while it drains");

    // The live stream carries the change made while draining, then ends with the stop.
    let mut rest = String::new();
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(chunk)) = stream.chunk().await {
            rest.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(ended.is_ok(), "the live stream ends when the server stops");
    assert!(rest.contains("version"), "{rest}");
    task.await.expect("task").expect("the server stops cleanly");
    assert!(
        stopped_at.elapsed() >= DRAIN,
        "stopped after {:?}, before the drain was over",
        stopped_at.elapsed()
    );
    assert!(
        client.get(app.url("/healthz")).send().await.is_err(),
        "a stopped server accepts nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_instance_reads_not_ready_while_it_drains_sqlite() {
    drains_then_stops(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_instance_reads_not_ready_while_it_drains_postgres() {
    drains_then_stops(Backend::Postgres).await;
}

/// A read replica that does not answer (down, or not reachable yet) costs the heavy reads their
/// replica, never their answer: the instance starts (the replica's pool connects lazily), and
/// search, the health dashboard, the library and an export all read the primary and show a loop
/// written just before. `.ci/production` checks a real, lagging replica.
async fn reads_the_primary_while_the_replica_is_down(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| {
        // Nothing listens on port 1: every connection is refused. Ignored on SQLite.
        s.storage.database_read_url = Some("postgres://postgres@127.0.0.1:1/replica".to_owned());
    })
    .await
    else {
        return;
    };
    let (lee, _mo, _kim, root, _loop_id) = team(&app).await;
    let (code, body) = lee
        .post(
            "/api/v1/teams/ops/loops",
            serde_json::json!({"title": "Quokka gateway dropped its queue", "what_happened": "Written with the replica down."}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let (_, health_before) = lee.get("/api/v1/teams/ops/health").await;
    for _ in 0..2 {
        // Twice: the first read finds the replica down, the second skips it.
        let (code, found) = lee.get("/api/v1/search?q=quokka").await;
        assert_eq!(code, StatusCode::OK, "{found}");
        assert!(found.to_string().contains("Quokka gateway"), "{found}");
    }
    let (code, health) = lee.get("/api/v1/teams/ops/health").await;
    assert_eq!(code, StatusCode::OK, "{health}");
    assert_eq!(health["loops"], health_before["loops"]);
    assert!(health["loops"].as_i64().is_some_and(|n| n >= 2), "{health}");
    let (code, export) = lee.get("/api/v1/teams/ops/export").await;
    assert_eq!(code, StatusCode::OK, "{export}");
    assert!(export.to_string().contains("Quokka gateway"));
    let (code, library) = root.get("/api/v1/library").await;
    assert_eq!(code, StatusCode::OK, "{library}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_the_primary_while_the_replica_is_down_sqlite() {
    reads_the_primary_while_the_replica_is_down(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_the_primary_while_the_replica_is_down_postgres() {
    reads_the_primary_while_the_replica_is_down(Backend::Postgres).await;
}
