//! Issue 21's delivery figure for BENCHMARKS.md: the latency of a webhook from the commit of the
//! change (the API's answer to the capture) to a receiver getting the event, at a steady rate of
//! changes; with the count delivered, duplicates (a `webhook-id` received twice) and missing
//! events (never received within the grace period) — on SQLite and, when
//! `FAILFORWARD_TEST_DATABASE_URL` names one, PostgreSQL.
//!
//! The real app is started in this process (private addresses allowed, so that it may call the
//! local receiver), a team lead subscribes the receiver to `loop.logged`, and named loops are
//! captured through the HTTP API at `--rate` per second for `--seconds` (each request started on
//! time, not after the previous answer). A delivery that arrives before its capture's answer
//! counts as 0 ms.
//!
//! Run: `cargo bench --bench delivery -- [--backends sqlite,postgres] [--rate 100] [--seconds 20]`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use failforward::app::Application;
use failforward::config::{Settings, StorageSettings};
use serde_json::{json, Value};
use sqlx::Connection;

/// How long to wait for the last deliveries after the last capture.
const GRACE: Duration = Duration::from_secs(30);

fn arg(name: &str) -> Option<String> {
    std::env::args().skip_while(|a| a != name).nth(1)
}

/// What the receiver got: loop id, `webhook-id` and when it arrived.
type Arrivals = Arc<Mutex<Vec<(String, String, Instant)>>>;

/// A local receiver that records every delivery and answers 204.
async fn receiver(arrivals: Arrivals) -> String {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let arrivals = arrivals.clone();
            async move {
                let at = Instant::now();
                let id = headers
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                let loop_id = serde_json::from_str::<Value>(&body)
                    .ok()
                    .and_then(|payload| payload["data"]["loop_id"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                arrivals.lock().expect("arrivals").push((loop_id, id, at));
                StatusCode::NO_CONTENT
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
    format!("http://{address}/hook")
}

/// A fresh PostgreSQL schema, dropped again by [`drop_schema`].
async fn postgres_schema() -> Option<(String, String, String)> {
    let base = std::env::var("FAILFORWARD_TEST_DATABASE_URL").ok()?;
    let schema = format!("bench_delivery_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&base).await.expect("postgres");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await
        .expect("schema");
    let separator = if base.contains('?') { '&' } else { '?' };
    Some((
        format!("{base}{separator}options[search_path]={schema}"),
        base,
        schema,
    ))
}

async fn drop_schema(base: &str, schema: &str) {
    let mut admin = sqlx::PgConnection::connect(base).await.expect("postgres");
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&mut admin)
        .await
        .expect("drop schema");
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[((sorted.len() - 1) * p) / 100]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn one(backend: &str, rate: f64, seconds: f64) {
    let dir = tempfile::tempdir().expect("dir");
    let mut storage = StorageSettings::in_dir(dir.path());
    let mut schema = None;
    if backend == "PostgreSQL" {
        let Some((url, base, name)) = postgres_schema().await else {
            println!("PostgreSQL: skipped (set FAILFORWARD_TEST_DATABASE_URL)");
            return;
        };
        storage.database_url = Some(url);
        schema = Some((base, name));
    }
    let mut settings = Settings::for_tests(storage);
    settings.policy.webhooks_allow_private = true;
    let app = Application::build(settings).await.expect("app");
    let base = format!("http://127.0.0.1:{}", app.port());
    let service = app.service().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    service
        .create_user_directly(
            "lead@example.org",
            "Lead",
            "correct horse battery staple",
            true,
            Some("Bench"),
        )
        .await
        .expect("user");
    let token = service
        .create_api_token_directly("lead@example.org", "bench")
        .await
        .expect("token");
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{base}/api/v1/teams"))
        .bearer_auth(&token)
        .json(&json!({"name": "Bench"}))
        .send()
        .await
        .expect("team");
    assert_eq!(response.status(), 201);
    let arrivals: Arrivals = Arc::default();
    let url = receiver(arrivals.clone()).await;
    let response = client
        .post(format!("{base}/api/v1/teams/bench/webhooks"))
        .bearer_auth(&token)
        .json(&json!({"url": url, "event_types": ["loop.logged"]}))
        .send()
        .await
        .expect("subscribe");
    assert_eq!(response.status(), 201);

    let total = (rate * seconds).round() as usize;
    let committed: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut captures = Vec::with_capacity(total);
    for n in 0..total {
        ticks.tick().await;
        let (client, base, token, committed) = (
            client.clone(),
            base.clone(),
            token.clone(),
            committed.clone(),
        );
        captures.push(tokio::spawn(async move {
            let response = client
                .post(format!("{base}/api/v1/teams/bench/loops"))
                .bearer_auth(&token)
                .json(&json!({
                    "title": format!("Delivery bench {n}"),
                    "what_happened": "The nightly export stopped halfway.",
                    "what_was_expected": "A complete export.",
                    "anonymous": false,
                }))
                .send()
                .await
                .expect("capture");
            let at = Instant::now();
            assert_eq!(response.status(), 201);
            let created: Value = response.json().await.expect("json");
            let id = created["id"].as_str().expect("id").to_owned();
            committed.lock().expect("committed").insert(id, at);
        }));
    }
    for capture in captures {
        capture.await.expect("capture task");
    }
    let driven = started.elapsed();
    let deadline = Instant::now() + GRACE;
    loop {
        let received = {
            let arrivals = arrivals.lock().expect("arrivals");
            let committed = committed.lock().expect("committed");
            arrivals
                .iter()
                .filter(|(id, _, _)| committed.contains_key(id))
                .map(|(id, _, _)| id.clone())
                .collect::<std::collections::HashSet<_>>()
                .len()
        };
        if received >= total || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let arrivals = arrivals.lock().expect("arrivals").clone();
    let committed = committed.lock().expect("committed").clone();
    let mut first: HashMap<&str, Instant> = HashMap::new();
    let mut seen_ids: HashMap<&str, usize> = HashMap::new();
    for (loop_id, webhook_id, at) in &arrivals {
        *seen_ids.entry(webhook_id.as_str()).or_default() += 1;
        first.entry(loop_id.as_str()).or_insert(*at);
    }
    let duplicates: usize = seen_ids.values().map(|n| n - 1).sum();
    let mut latencies: Vec<Duration> = committed
        .iter()
        .filter_map(|(id, at)| {
            first
                .get(id.as_str())
                .map(|got| got.saturating_duration_since(*at))
        })
        .collect();
    latencies.sort();
    let missing = committed.len() - latencies.len();
    println!(
        "\n## {backend}: {total} named loops captured at {rate:.0}/s (driven in {:.1} s)",
        driven.as_secs_f64()
    );
    if latencies.is_empty() {
        println!("nothing delivered");
    } else {
        println!(
            "commit → receiver: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; delivered {}, duplicates {duplicates}, missing {missing}",
            ms(percentile(&latencies, 50)),
            ms(percentile(&latencies, 99)),
            ms(percentile(&latencies, 100)),
            latencies.len(),
        );
    }
    let _ = stop.send(());
    let _ = server.await;
    if let Some((base, name)) = schema {
        drop_schema(&base, &name).await;
    }
}

fn main() {
    let backends = arg("--backends").unwrap_or_else(|| "sqlite,postgres".to_owned());
    let rate: f64 = arg("--rate")
        .and_then(|r| r.parse().ok())
        .filter(|r: &f64| *r > 0.0)
        .unwrap_or(100.0);
    let seconds: f64 = arg("--seconds")
        .and_then(|s| s.parse().ok())
        .filter(|s: &f64| *s > 0.0)
        .unwrap_or(20.0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        println!(
            "webhook delivery latency from commit (the capture's answer) to the receiver, \
             one subscription to loop.logged, {rate:.0} captures/s for {seconds:.0} s"
        );
        if backends.contains("sqlite") {
            one("SQLite", rate, seconds).await;
        }
        if backends.contains("postgres") {
            one("PostgreSQL", rate, seconds).await;
        }
    });
}
