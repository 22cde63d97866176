//! Review-session fan-out for BENCHMARKS.md: 200 participants hold the live stream open; the
//! last one says "I have finished writing", which reveals every card. Measured per participant,
//! from the moment that request is sent: when the stream announced the new version (the notice),
//! and when the participant's own follow-up read of the session returned the revealed cards
//! (what a person sees). On SQLite (one instance) and, when `FAILFORWARD_TEST_DATABASE_URL`
//! names a PostgreSQL, on two instances sharing it (half the streams on each; the reveal is
//! written through the first, so the second hears of it through LISTEN/NOTIFY).
//!
//! Run: `cargo bench --bench review_fanout` (add `-- --participants N`, default 200).

use std::time::{Duration, Instant};

use failforward::app::Application;
use failforward::config::{Settings, StorageSettings};
use failforward::service::Service;
use serde_json::{json, Value};
use sqlx::Connection;

const SECRET: &str = "the same sealing secret on every instance of the bench";
const PASSWORD: &str = "correct horse battery staple";

fn main() {
    let participants = std::env::args()
        .skip_while(|a| a != "--participants")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200usize);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(participants));
}

async fn start(storage: StorageSettings) -> (String, Service) {
    let mut settings = Settings::for_tests(storage);
    settings.secret_key = Some(SECRET.to_owned());
    let app = Application::build(settings).await.expect("app");
    let base = format!("http://127.0.0.1:{}", app.port());
    let service = app.service().clone();
    tokio::spawn(app.run_until(std::future::pending()));
    (base, service)
}

async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Value,
) -> Value {
    let response = client
        .request(method, url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let text = response.text().await.expect("body");
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

struct Figures {
    notice: Vec<Duration>,
    seen: Vec<Duration>,
}

/// Sets up a team of `participants` people in a session in its write phase, connects every
/// stream (to the instances in turn), then reveals and times each participant.
async fn fan_out(instances: &[String], service: &Service, participants: usize) -> Figures {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(participants + 8)
        .build()
        .expect("client");
    service
        .create_user_directly("lead@example.org", "Lead", PASSWORD, true, Some("Bench"))
        .await
        .expect("lead");
    let lead = service
        .create_api_token_directly("lead@example.org", "bench")
        .await
        .expect("token");
    let api = &instances[0];
    send(
        &client,
        reqwest::Method::POST,
        format!("{api}/api/v1/teams"),
        &lead,
        json!({"name": "Bench"}),
    )
    .await;
    let started = send(
        &client,
        reqwest::Method::POST,
        format!("{api}/api/v1/teams/bench/reviews"),
        &lead,
        json!({"prompt": "What did the launch teach us?"}),
    )
    .await;
    let review = started["id"].as_str().expect("id").to_owned();
    let path = format!("/api/v1/teams/bench/reviews/{review}");
    // The facilitator observes, so the last participant's "done" is what reveals.
    send(
        &client,
        reqwest::Method::POST,
        format!("{api}{path}/participants"),
        &lead,
        json!({"observer": true}),
    )
    .await;
    let mut tokens = Vec::new();
    for n in 0..participants {
        let email = format!("p{n}@example.org");
        service
            .create_user_directly(&email, &format!("Participant {n}"), PASSWORD, false, None)
            .await
            .expect("user");
        send(
            &client,
            reqwest::Method::POST,
            format!("{api}/api/v1/teams/bench/members"),
            &lead,
            json!({"email": email, "role": "member"}),
        )
        .await;
        let token = service
            .create_api_token_directly(&email, "bench")
            .await
            .expect("token");
        send(
            &client,
            reqwest::Method::POST,
            format!("{api}{path}/participants"),
            &token,
            json!({}),
        )
        .await;
        tokens.push(token);
    }
    send(
        &client,
        reqwest::Method::POST,
        format!("{api}{path}/advance"),
        &lead,
        json!({}),
    )
    .await;
    for (n, token) in tokens.iter().enumerate() {
        send(
            &client,
            reqwest::Method::POST,
            format!("{api}{path}/cards"),
            token,
            json!({"kind": "observation", "text": format!("Card {n}: the load test ran on last year's traffic mix")}),
        )
        .await;
        if n + 1 < participants {
            send(
                &client,
                reqwest::Method::PUT,
                format!("{api}{path}/done"),
                token,
                json!({"done": true}),
            )
            .await;
        }
    }
    let version_now = send(
        &client,
        reqwest::Method::GET,
        format!("{api}{path}"),
        &lead,
        Value::Null,
    )
    .await["version"]
        .as_i64()
        .expect("version");

    // Every participant holds a stream, spread over the instances.
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(participants);
    let clock = std::sync::Arc::new(std::sync::OnceLock::<Instant>::new());
    let mut tasks = Vec::new();
    for (n, token) in tokens.iter().enumerate() {
        let instance = instances[n % instances.len()].clone();
        let (client, token, path, ready_tx, clock) = (
            client.clone(),
            token.clone(),
            path.clone(),
            ready_tx.clone(),
            clock.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut response = client
                .get(format!("{instance}{path}/events"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("events");
            let mut buffer = String::new();
            let mut announced = false;
            loop {
                let chunk = response
                    .chunk()
                    .await
                    .expect("stream")
                    .expect("stream open");
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let event: String = buffer.drain(..end + 2).collect();
                    let Some(data) = event.lines().find_map(|l| l.strip_prefix("data:")) else {
                        continue;
                    };
                    let version = serde_json::from_str::<Value>(data.trim()).expect("json")
                        ["version"]
                        .as_i64()
                        .expect("version");
                    if !announced {
                        announced = true;
                        ready_tx.send(()).await.expect("ready");
                    }
                    if version > version_now {
                        let notice = clock.get().expect("started").elapsed();
                        // What the person sees: their own read of the session.
                        loop {
                            let view = send(
                                &client,
                                reqwest::Method::GET,
                                format!("{instance}{path}"),
                                &token,
                                Value::Null,
                            )
                            .await;
                            if view["cards"].as_array().is_some_and(|c| !c.is_empty()) {
                                break;
                            }
                        }
                        return (notice, clock.get().expect("started").elapsed());
                    }
                }
            }
        }));
    }
    drop(ready_tx);
    for _ in 0..participants {
        ready_rx.recv().await.expect("every stream connects");
    }
    let last = tokens.last().expect("a participant").clone();
    clock.set(Instant::now()).expect("once");
    send(
        &client,
        reqwest::Method::PUT,
        format!("{api}{path}/done"),
        &last,
        json!({"done": true}),
    )
    .await;
    let mut figures = Figures {
        notice: Vec::new(),
        seen: Vec::new(),
    };
    for task in tasks {
        let (notice, seen) = task.await.expect("participant");
        figures.notice.push(notice);
        figures.seen.push(seen);
    }
    figures.notice.sort();
    figures.seen.sort();
    figures
}

fn quantile(sorted: &[Duration], q: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

fn report(label: &str, figures: &Figures) {
    println!(
        "{label}: notice p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; cards on screen (notice + own read) p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        quantile(&figures.notice, 0.5),
        quantile(&figures.notice, 0.99),
        quantile(&figures.notice, 1.0),
        quantile(&figures.seen, 0.5),
        quantile(&figures.seen, 0.99),
        quantile(&figures.seen, 1.0),
    );
}

async fn run(participants: usize) {
    println!("reveal fan-out to {participants} connected participants (server-sent events)");
    let dir = tempfile::tempdir().expect("dir");
    let (base, service) = start(StorageSettings::in_dir(dir.path())).await;
    let sqlite = fan_out(&[base], &service, participants).await;
    report("SQLite, one instance", &sqlite);

    let Ok(url) = std::env::var("FAILFORWARD_TEST_DATABASE_URL") else {
        println!("PostgreSQL: skipped (set FAILFORWARD_TEST_DATABASE_URL)");
        return;
    };
    let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("postgres");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await
        .expect("schema");
    let separator = if url.contains('?') { '&' } else { '?' };
    let database_url = format!("{url}{separator}options[search_path]={schema}");
    let (first_dir, second_dir) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let mut first = StorageSettings::in_dir(first_dir.path());
    first.database_url = Some(database_url.clone());
    let mut second = StorageSettings::in_dir(second_dir.path());
    second.database_url = Some(database_url);
    let (a, service) = start(first).await;
    let (b, _) = start(second).await;
    let pg = fan_out(&[a, b], &service, participants).await;
    report("PostgreSQL, two instances (LISTEN/NOTIFY)", &pg);
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut admin)
        .await
        .expect("drop schema");
}
