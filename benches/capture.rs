//! Capture figures for BENCHMARKS.md: the latency of logging a loop through the HTTP API under
//! 50 concurrent writers (p50/p99) and the throughput, on SQLite and (when
//! `FAILFORWARD_TEST_DATABASE_URL` names one) PostgreSQL; and, in the same run, the throughput
//! of a bare SQLite insert of the same row with the same durability settings, as the yardstick.
//!
//! Run: `cargo bench --bench capture` (add `-- --loops N` to change the count, default 3000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use failforward::app::Application;
use failforward::config::{Settings, StorageSettings};
use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};

const WRITERS: usize = 50;

fn main() {
    let loops = std::env::args()
        .skip_while(|a| a != "--loops")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(3000usize);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(loops));
}

fn what_happened(n: usize) -> String {
    format!(
        "Deploy {n} of the billing service restarted all workers at once. The queue backed up for \
         forty minutes while the new pods warmed their caches, and refunds waited. Nobody was \
         paged because the alert threshold was set for the old traffic pattern.\n\nWe rolled \
         back at 10:42 and the queue drained by 11:05."
    )
}

struct Figures {
    p50: Duration,
    p99: Duration,
    per_second: f64,
}

async fn capture(storage: StorageSettings, loops: usize) -> Figures {
    let settings = Settings::for_tests(storage);
    let app = Application::build(settings).await.expect("app");
    let base = format!("http://127.0.0.1:{}", app.port());
    let service = app.service().clone();
    tokio::spawn(app.run_until(std::future::pending()));
    service
        .create_user_directly(
            "bench@example.org",
            "Bench",
            "correct horse battery staple",
            true,
            Some("Bench"),
        )
        .await
        .expect("user");
    let token = service
        .create_api_token_directly("bench@example.org", "bench")
        .await
        .expect("token");
    let client = reqwest::Client::new();
    client
        .post(format!("{base}/api/v1/teams"))
        .bearer_auth(&token)
        .json(&json!({"name": "Bench"}))
        .send()
        .await
        .expect("team");
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..WRITERS {
        let (client, base, token, next) =
            (client.clone(), base.clone(), token.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= loops {
                    break latencies;
                }
                let sent = Instant::now();
                let response = client
                    .post(format!("{base}/api/v1/teams/bench/loops"))
                    .bearer_auth(&token)
                    .json(&json!({
                        "title": format!("Refund queue backed up after deploy {n}"),
                        "what_happened": what_happened(n),
                        "what_was_expected": "Refunds within ten minutes.",
                        "impact_scale": "moderate",
                        "impact_affected": "customers awaiting refunds",
                        "tags": ["billing", "deploy"],
                        // Named only: an anonymous capture writes nothing until the day's
                        // release (`service::held`), so it would flatter the figure.
                        "anonymous": false,
                    }))
                    .send()
                    .await
                    .expect("request");
                assert_eq!(
                    response.status(),
                    201,
                    "{}",
                    response.text().await.unwrap_or_default()
                );
                latencies.push(sent.elapsed());
            }
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("writer"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Figures {
        p50: latencies[latencies.len() / 2],
        p99: latencies[(latencies.len() * 99) / 100],
        per_second: loops as f64 / elapsed.as_secs_f64(),
    }
}

/// The same loop row inserted with nothing around it: one connection, WAL, `synchronous=FULL`
/// (the product's default), one transaction per row — the fastest a single SQLite writer goes.
async fn bare_sqlite(loops: usize) -> f64 {
    let dir = tempfile::tempdir().expect("dir");
    let mut connection = SqliteConnectOptions::new()
        .filename(dir.path().join("bare.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .connect()
        .await
        .expect("bare db");
    sqlx::query(
        "CREATE TABLE loops (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, team_id TEXT NOT NULL, \
         kind TEXT NOT NULL, title TEXT NOT NULL, what_happened TEXT NOT NULL, what_was_expected TEXT NOT NULL, \
         happened_at INTEGER, noticed_at INTEGER NOT NULL, impact_scale TEXT NOT NULL, impact_affected TEXT NOT NULL, \
         author_id TEXT, anonymous BOOLEAN NOT NULL, reporter_secret_hash TEXT, created_at INTEGER NOT NULL, \
         stage TEXT NOT NULL, stage_entered_at INTEGER NOT NULL)",
    )
    .execute(&mut connection)
    .await
    .expect("table");
    let started = Instant::now();
    for n in 0..loops {
        sqlx::query(
            "INSERT INTO loops (seq, id, team_id, kind, title, what_happened, what_was_expected, happened_at, \
             noticed_at, impact_scale, impact_affected, author_id, anonymous, reporter_secret_hash, created_at, \
             stage, stage_entered_at) VALUES ($1, $2, $3, 'failure', $4, $5, $6, NULL, $7, 'moderate', $8, $9, FALSE, NULL, $7, 'detect', $7)",
        )
        .bind(rand::random::<i64>().abs())
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(format!("Refund queue backed up after deploy {n}"))
        .bind(what_happened(n))
        .bind("Refunds within ten minutes.")
        .bind(time::OffsetDateTime::now_utc().unix_timestamp())
        .bind("customers awaiting refunds")
        .bind(uuid::Uuid::new_v4().to_string())
        .execute(&mut connection)
        .await
        .expect("insert");
    }
    let per_second = loops as f64 / started.elapsed().as_secs_f64();
    connection.close().await.expect("close");
    per_second
}

async fn postgres_storage(dir: &std::path::Path) -> Option<StorageSettings> {
    let base = std::env::var("FAILFORWARD_TEST_DATABASE_URL").ok()?;
    let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&base).await.expect("postgres");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await
        .expect("schema");
    let separator = if base.contains('?') { '&' } else { '?' };
    let mut storage = StorageSettings::in_dir(dir);
    storage.database_url = Some(format!("{base}{separator}options[search_path]={schema}"));
    Some(storage)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn run(loops: usize) {
    println!("capture through POST /api/v1/teams/{{slug}}/loops, {WRITERS} concurrent writers, {loops} loops (all named)");
    let bare = bare_sqlite(loops).await;
    println!("bare SQLite insert of the same row (WAL, synchronous=FULL, one transaction per row): {bare:.0} rows/s");
    let dir = tempfile::tempdir().expect("dir");
    let sqlite = capture(StorageSettings::in_dir(dir.path()), loops).await;
    println!(
        "SQLite: p50 {:.1} ms, p99 {:.1} ms, {:.0} loops/s = {:.0}% of the bare insert",
        ms(sqlite.p50),
        ms(sqlite.p99),
        sqlite.per_second,
        100.0 * sqlite.per_second / bare
    );
    let pg_dir = tempfile::tempdir().expect("dir");
    match postgres_storage(pg_dir.path()).await {
        Some(storage) => {
            let pg = capture(storage, loops).await;
            println!(
                "PostgreSQL: p50 {:.1} ms, p99 {:.1} ms, {:.0} loops/s = {:.0}% of the bare SQLite insert",
                ms(pg.p50),
                ms(pg.p99),
                pg.per_second,
                100.0 * pg.per_second / bare
            );
        }
        None => println!("PostgreSQL: skipped (set FAILFORWARD_TEST_DATABASE_URL)"),
    }
}
