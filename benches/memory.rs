//! Figures of "The organisation's memory" for BENCHMARKS.md: search latency (p50/p99 over a query
//! mix, including a word in a fifth of all loops), dashboard time, capture throughput on a loaded
//! database against a bare SQLite insert of the same row (same durability, same run), and the
//! process's resident memory — on SQLite and, when `FAILFORWARD_TEST_DATABASE_URL` names one,
//! PostgreSQL.
//!
//! The data is synthetic: many teams, multi-paragraph texts drawn from an incident vocabulary with
//! a Zipf-like long tail, learnings and action items on a tenth of the loops each. It is written
//! with multi-row INSERTs in one transaction (the search triggers and generated columns run as
//! they would for captured loops), not through HTTP.
//!
//! Run: `cargo bench --bench memory -- --sizes 10000,100000 [--sqlite-only 1000000]`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use failforward::app::Application;
use failforward::config::{Settings, StorageSettings};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};

const TEAMS: usize = 50;
const QUERY_ROUNDS: usize = 20;
const CAPTURES: usize = 500;
const WRITERS: usize = 20;
/// The word placed in a fifth of all loops (the "common word" of the goal).
const COMMON: &str = "deployment";
const DAY: i64 = 86_400;

const VOCABULARY: &[&str] = &[
    "service",
    "queue",
    "database",
    "customer",
    "release",
    "alert",
    "backup",
    "latency",
    "timeout",
    "config",
    "cache",
    "cluster",
    "certificate",
    "payment",
    "invoice",
    "migration",
    "index",
    "retry",
    "rollback",
    "outage",
    "incident",
    "monitoring",
    "threshold",
    "dashboard",
    "capacity",
    "traffic",
    "restart",
    "worker",
    "schedule",
    "cron",
    "email",
    "notification",
    "webhook",
    "partner",
    "supplier",
    "contract",
    "budget",
    "forecast",
    "warehouse",
    "shipping",
    "inventory",
    "scanner",
    "router",
    "firmware",
    "network",
    "dns",
    "proxy",
    "balancer",
    "kubernetes",
    "node",
    "pod",
    "container",
    "image",
    "registry",
    "pipeline",
    "build",
    "test",
    "flaky",
    "integration",
    "staging",
    "production",
    "feature",
    "flag",
    "experiment",
    "variant",
    "pricing",
    "discount",
    "checkout",
    "login",
    "password",
    "token",
    "session",
    "cookie",
    "permission",
    "access",
    "audit",
    "security",
    "encryption",
    "key",
    "secret",
    "rotation",
    "onboarding",
    "training",
    "checklist",
    "handover",
    "runbook",
    "escalation",
    "oncall",
    "pager",
    "weekend",
    "holiday",
    "rota",
    "meeting",
    "review",
    "planning",
    "estimate",
    "scope",
    "deadline",
    "launch",
    "campaign",
    "newsletter",
    "translation",
    "locale",
    "currency",
    "exchange",
    "report",
    "export",
    "import",
    "encoding",
    "spreadsheet",
    "analytics",
    "metric",
    "disk",
    "memory",
    "cpu",
    "leak",
    "crash",
    "kernel",
    "upgrade",
    "patch",
    "vendor",
    "license",
    "renewal",
    "invoice",
    "refund",
    "billing",
    "subscription",
    "mobile",
    "android",
    "browser",
    "accessibility",
    "label",
    "screen",
    "reader",
    "form",
    "signup",
    "search",
    "relevance",
    "stale",
    "sync",
    "backlog",
    "consumer",
    "producer",
    "throughput",
    "replica",
    "failover",
    "snapshot",
    "restore",
    "rehearsal",
    "drill",
    "postmortem",
    "lesson",
    "owner",
    "priority",
];

fn word(rng: &mut StdRng) -> String {
    // A Zipf-like pick: low ranks often, the long tail (made-up words) rarely.
    let rank = (rng.gen::<f64>().powi(3) * 20_000.0) as usize;
    match VOCABULARY.get(rank) {
        Some(w) => (*w).to_owned(),
        None => format!("zq{rank}x"),
    }
}

fn sentence(rng: &mut StdRng) -> String {
    let n = rng.gen_range(8..16);
    let mut words: Vec<String> = (0..n).map(|_| word(rng)).collect();
    if let Some(first) = words.first_mut() {
        let mut chars = first.chars();
        if let Some(c) = chars.next() {
            *first = c.to_uppercase().chain(chars).collect();
        }
    }
    format!("{}.", words.join(" "))
}

fn paragraphs(rng: &mut StdRng, count: usize, common: bool) -> String {
    let mut out: Vec<String> = (0..count)
        .map(|_| {
            (0..rng.gen_range(2..4))
                .map(|_| sentence(rng))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    if common {
        out.push(format!("The {COMMON} was involved."));
    }
    out.join("\n\n")
}

struct Loaded {
    base: String,
    admin: String,
    member: String,
    team_slug: String,
    client: reqwest::Client,
}

/// Starts the app on `storage`, creates the teams and people, and writes `loops` loops.
async fn load(
    storage: StorageSettings,
    database: &str,
    loops: usize,
    postgres: bool,
) -> (Loaded, Duration) {
    let app = Application::build(Settings::for_tests(storage))
        .await
        .expect("app");
    let base = format!("http://127.0.0.1:{}", app.port());
    let service = app.service().clone();
    tokio::spawn(app.run_until(std::future::pending()));
    let password = "correct horse battery staple";
    service
        .create_user_directly("admin@example.org", "Admin", password, true, Some("Bench"))
        .await
        .expect("admin");
    service
        .create_user_directly("member@example.org", "Member", password, false, None)
        .await
        .expect("member");
    let admin = service
        .create_api_token_directly("admin@example.org", "bench")
        .await
        .expect("token");
    let member = service
        .create_api_token_directly("member@example.org", "bench")
        .await
        .expect("token");
    let client = reqwest::Client::new();
    for t in 0..TEAMS {
        let response = client
            .post(format!("{base}/api/v1/teams"))
            .bearer_auth(&admin)
            .json(&json!({"name": format!("Team {t}")}))
            .send()
            .await
            .expect("team");
        assert_eq!(response.status(), 201);
    }
    let response = client
        .post(format!("{base}/api/v1/teams/team-0/members"))
        .bearer_auth(&admin)
        .json(&json!({"email": "member@example.org", "role": "member"}))
        .send()
        .await
        .expect("member");
    assert_eq!(response.status(), 201);
    let started = Instant::now();
    generate(database, loops, postgres).await;
    (
        Loaded {
            base,
            admin,
            member,
            team_slug: "team-0".to_owned(),
            client,
        },
        started.elapsed(),
    )
}

struct Row {
    seq: i64,
    id: String,
    team: String,
    title: String,
    body: String,
    expected: String,
    happened: i64,
    noticed: i64,
    created: i64,
    stage: &'static str,
}

async fn generate(url: &str, loops: usize, postgres: bool) {
    let mut rng = StdRng::seed_from_u64(8);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    const BATCH: usize = 400;
    macro_rules! write_all {
        ($conn:expr, $db:ty) => {{
            let teams: Vec<String> = sqlx::query_scalar("SELECT id FROM teams ORDER BY slug")
                .fetch_all(&mut $conn)
                .await
                .expect("teams");
            assert_eq!(teams.len(), TEAMS);
            let mut tx = $conn.begin().await.expect("begin");
            let mut written = 0;
            while written < loops {
                let rows: Vec<Row> = (written..(written + BATCH).min(loops))
                    .map(|_| {
                        let created = now - rng.gen_range(0..730) * DAY - rng.gen_range(0..DAY);
                        let stage = match rng.gen_range(0..100) {
                            0..=39 => "detect",
                            40..=64 => "analyse",
                            65..=84 => "apply",
                            _ => "continue",
                        };
                        let noticed = created - rng.gen_range(0..3600);
                        let common = rng.gen_range(0..5) == 0;
                        Row {
                            seq: rng.gen_range(1..i64::MAX),
                            id: uuid::Uuid::new_v4().to_string(),
                            team: teams[rng.gen_range(0..teams.len())].clone(),
                            title: (0..3).map(|_| word(&mut rng)).collect::<Vec<_>>().join(" "),
                            body: paragraphs(&mut rng, 3, common),
                            expected: sentence(&mut rng),
                            happened: noticed - rng.gen_range(60..86_400),
                            noticed,
                            created,
                            stage,
                        }
                    })
                    .collect();
                let mut insert = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO loops (seq, id, team_id, kind, title, what_happened, what_was_expected, \
                     happened_at, noticed_at, impact_scale, impact_affected, author_id, anonymous, \
                     created_at, stage, stage_entered_at) ",
                );
                insert.push_values(&rows, |mut b, r| {
                    b.push_bind(r.seq)
                        .push_bind(r.id.clone())
                        .push_bind(r.team.clone())
                        .push_bind("failure")
                        .push_bind(r.title.clone())
                        .push_bind(r.body.clone())
                        .push_bind(r.expected.clone())
                        .push_bind(r.happened)
                        .push_bind(r.noticed)
                        .push_bind("minor")
                        .push_bind("")
                        .push_bind(None::<String>)
                        .push_bind(true)
                        .push_bind(r.created)
                        .push_bind(r.stage)
                        .push_bind(r.created + DAY);
                });
                insert.build().execute(&mut *tx).await.expect("loops");
                let mut changes = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO loop_stage_changes (id, loop_id, from_stage, to_stage, position, changed_at) ",
                );
                let moved: Vec<(&Row, &str, i64)> = rows
                    .iter()
                    .flat_map(|r| {
                        let mut v = Vec::new();
                        if r.stage == "apply" || r.stage == "continue" {
                            v.push((r, "apply", r.created + 3 * DAY));
                        }
                        if r.stage == "continue" {
                            v.push((r, "continue", r.created + 10 * DAY));
                        }
                        v
                    })
                    .collect();
                if !moved.is_empty() {
                    changes.push_values(&moved, |mut b, (r, to, at)| {
                        b.push_bind(uuid::Uuid::new_v4().to_string())
                            .push_bind(r.id.clone())
                            .push_bind("analyse")
                            .push_bind(*to)
                            .push_bind(if *to == "apply" { 2 } else { 3 })
                            .push_bind(*at);
                    });
                    changes.build().execute(&mut *tx).await.expect("changes");
                }
                let with_learning: Vec<&Row> = rows.iter().filter(|r| r.seq % 10 == 0).collect();
                if !with_learning.is_empty() {
                    let mut learnings = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO learnings (id, loop_id, team_id, statement, visibility, created_at) ",
                    );
                    learnings.push_values(&with_learning, |mut b, r| {
                        b.push_bind(uuid::Uuid::new_v4().to_string())
                            .push_bind(r.id.clone())
                            .push_bind(r.team.clone())
                            .push_bind(format!("Learned that the {} needs a {} check.", VOCABULARY[(r.seq % 97) as usize], VOCABULARY[(r.seq % 89) as usize]))
                            .push_bind(if r.seq % 20 == 0 { "organisation" } else { "team" })
                            .push_bind(r.created + 2 * DAY);
                    });
                    learnings.build().execute(&mut *tx).await.expect("learnings");
                }
                let with_action: Vec<&Row> = rows.iter().filter(|r| r.seq % 10 == 1).collect();
                if !with_action.is_empty() {
                    let mut actions = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO action_items (id, loop_id, team_id, title, due_on, status, created_at) ",
                    );
                    actions.push_values(&with_action, |mut b, r| {
                        b.push_bind(uuid::Uuid::new_v4().to_string())
                            .push_bind(r.id.clone())
                            .push_bind(r.team.clone())
                            .push_bind(format!("Add a {} to the {}", VOCABULARY[(r.seq % 83) as usize], VOCABULARY[(r.seq % 79) as usize]))
                            .push_bind(r.created + 30 * DAY)
                            .push_bind(if r.seq % 3 == 0 { "done" } else { "open" })
                            .push_bind(r.created + 2 * DAY);
                    });
                    actions.build().execute(&mut *tx).await.expect("actions");
                }
                written += rows.len();
            }
            tx.commit().await.expect("commit");
        }};
    }
    if postgres {
        let mut conn = sqlx::PgConnection::connect(url).await.expect("pg");
        write_all!(conn, sqlx::Postgres);
        sqlx::query("ANALYZE")
            .execute(&mut conn)
            .await
            .expect("analyze");
    } else {
        let mut conn = SqliteConnectOptions::new()
            .filename(url)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(30))
            .connect()
            .await
            .expect("sqlite");
        write_all!(conn, sqlx::Sqlite);
        sqlx::query("ANALYZE")
            .execute(&mut conn)
            .await
            .expect("analyze");
    }
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[((sorted.len() - 1) * p) / 100]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn timed_get(loaded: &Loaded, token: &str, path: &str) -> (Duration, Value) {
    let started = Instant::now();
    let response = loaded
        .client
        .get(format!("{}{path}", loaded.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), 200, "{path}");
    let body: Value = response.json().await.expect("json");
    (started.elapsed(), body)
}

const QUERIES: &[(&str, &str)] = &[
    ("common word (a fifth of loops)", COMMON),
    ("frequent word", "service"),
    ("two words", "queue%20backup"),
    ("prefix while typing", "deplo"),
    ("phrase", "%22cache%20cluster%22"),
    ("rare word", "zq5000x"),
    ("common word, filtered to stage", "deployment&stage=apply"),
    ("common word, one year", "deployment&from=2025-12-01"),
];

async fn measure_search(loaded: &Loaded) -> Vec<String> {
    let mut lines = Vec::new();
    for (who, token) in [
        ("admin (all teams)", &loaded.admin),
        ("member (1 of 50 teams)", &loaded.member),
    ] {
        let mut all = Vec::new();
        let mut common = Vec::new();
        let mut totals = Vec::new();
        for round in 0..QUERY_ROUNDS {
            for (label, q) in QUERIES {
                let (took, body) = timed_get(loaded, token, &format!("/api/v1/search?q={q}")).await;
                all.push(took);
                if label.starts_with("common word (") {
                    common.push(took);
                }
                if round == 0 {
                    totals.push(format!(
                        "{label}: {}{}",
                        body["total"],
                        if body["capped"] == true { "+" } else { "" }
                    ));
                }
            }
        }
        all.sort();
        common.sort();
        lines.push(format!(
            "search as {who}: p50 {:.1} ms, p99 {:.1} ms over {} queries; common word alone p50 {:.1} ms, p99 {:.1} ms",
            ms(percentile(&all, 50)),
            ms(percentile(&all, 99)),
            all.len(),
            ms(percentile(&common, 50)),
            ms(percentile(&common, 99)),
        ));
        lines.push(format!("  matches: {}", totals.join("; ")));
    }
    lines
}

async fn measure_dashboards(loaded: &Loaded) -> Vec<String> {
    let mut lines = Vec::new();
    for (label, token, path) in [
        (
            "organisation, all time (admin: every loop)",
            &loaded.admin,
            "/api/v1/health?range=all".to_owned(),
        ),
        (
            "organisation, 90 days (admin)",
            &loaded.admin,
            "/api/v1/health?range=90".to_owned(),
        ),
        (
            "one team, all time",
            &loaded.admin,
            format!("/api/v1/teams/{}/health?range=all", loaded.team_slug),
        ),
    ] {
        let mut times = Vec::new();
        for _ in 0..5 {
            times.push(timed_get(loaded, token, &path).await.0);
        }
        times.sort();
        lines.push(format!(
            "dashboard {label}: median {:.0} ms, worst {:.0} ms",
            ms(percentile(&times, 50)),
            ms(percentile(&times, 100))
        ));
    }
    lines
}

async fn measure_capture(loaded: &Loaded) -> f64 {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..WRITERS {
        let (client, base, token, next) = (
            loaded.client.clone(),
            loaded.base.clone(),
            loaded.admin.clone(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut rng =
                StdRng::seed_from_u64(next.load(std::sync::atomic::Ordering::Relaxed) as u64);
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= CAPTURES {
                    break;
                }
                let response = client
                    .post(format!("{base}/api/v1/teams/team-{}/loops", n % TEAMS))
                    .bearer_auth(&token)
                    .json(&json!({
                        "title": (0..3).map(|_| word(&mut rng)).collect::<Vec<_>>().join(" "),
                        "what_happened": paragraphs(&mut rng, 3, n % 5 == 0),
                        "what_was_expected": sentence(&mut rng),
                        "anonymous": n % 5 == 0,
                    }))
                    .send()
                    .await
                    .expect("capture");
                assert_eq!(response.status(), 201);
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer");
    }
    CAPTURES as f64 / started.elapsed().as_secs_f64()
}

/// The same loop row with nothing around it: one connection, WAL, `synchronous=FULL`, one
/// transaction per row (the yardstick of benches/capture.rs).
async fn bare_sqlite() -> f64 {
    let dir = tempfile::tempdir().expect("dir");
    let mut connection = SqliteConnectOptions::new()
        .filename(dir.path().join("bare.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .connect()
        .await
        .expect("bare");
    sqlx::query(
        "CREATE TABLE loops (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, team_id TEXT NOT NULL, \
         title TEXT NOT NULL, what_happened TEXT NOT NULL, what_was_expected TEXT NOT NULL, \
         created_at INTEGER NOT NULL, stage TEXT NOT NULL, anonymous BOOLEAN NOT NULL)",
    )
    .execute(&mut connection)
    .await
    .expect("table");
    let mut rng = StdRng::seed_from_u64(1);
    let started = Instant::now();
    for n in 0..CAPTURES {
        sqlx::query("INSERT INTO loops VALUES ($1, $2, $3, $4, $5, $6, $7, 'detect', $8)")
            .bind(rng.gen_range(1..i64::MAX))
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(uuid::Uuid::new_v4().to_string())
            .bind((0..3).map(|_| word(&mut rng)).collect::<Vec<_>>().join(" "))
            .bind(paragraphs(&mut rng, 3, n % 5 == 0))
            .bind(sentence(&mut rng))
            .bind(time::OffsetDateTime::now_utc().unix_timestamp())
            .bind(n % 5 == 0)
            .execute(&mut connection)
            .await
            .expect("insert");
    }
    CAPTURES as f64 / started.elapsed().as_secs_f64()
}

fn rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| format!("{} MiB", kb / 1024))
            .unwrap_or_else(|| "?".to_owned())
    };
    format!("RSS {} (peak {})", field("VmRSS:"), field("VmHWM:"))
}

async fn postgres_url() -> Option<String> {
    let base = std::env::var("FAILFORWARD_TEST_DATABASE_URL").ok()?;
    let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&base).await.expect("postgres");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await
        .expect("schema");
    let separator = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{separator}options[search_path]={schema}"))
}

async fn one(backend: &str, loops: usize, bare: f64) {
    let dir = tempfile::tempdir().expect("dir");
    // FAILFORWARD_BENCH_KEEP=DIR keeps the SQLite database there, for looking into afterwards.
    let data_dir = match std::env::var("FAILFORWARD_BENCH_KEEP") {
        Ok(keep) => std::path::PathBuf::from(keep).join(format!("{backend}-{loops}")),
        Err(_) => dir.path().to_owned(),
    };
    let mut storage = StorageSettings::in_dir(&data_dir);
    let postgres = backend == "PostgreSQL";
    if postgres {
        let Some(url) = postgres_url().await else {
            println!("PostgreSQL: skipped (set FAILFORWARD_TEST_DATABASE_URL)");
            return;
        };
        storage.database_url = Some(url);
    }
    let database = storage
        .database_url
        .clone()
        .unwrap_or_else(|| data_dir.join("failforward.db").display().to_string());
    let (loaded, took) = load(storage, &database, loops, postgres).await;
    println!(
        "\n## {backend}, {loops} loops in {TEAMS} teams (generated in {:.0} s)",
        took.as_secs_f64()
    );
    for line in measure_search(&loaded).await {
        println!("{line}");
    }
    for line in measure_dashboards(&loaded).await {
        println!("{line}");
    }
    let captured = measure_capture(&loaded).await;
    println!(
        "capture on the loaded database ({CAPTURES} loops, {WRITERS} writers, similar-loop check and index included): {captured:.0} loops/s = {:.0}% of the bare insert",
        100.0 * captured / bare
    );
    println!("{}", rss());
}

fn arg(name: &str) -> Option<String> {
    std::env::args().skip_while(|a| a != name).nth(1)
}

fn main() {
    let sizes: Vec<usize> = arg("--sizes")
        .unwrap_or_else(|| "10000,100000".to_owned())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let sqlite_only: Option<usize> = arg("--sqlite-only").and_then(|s| s.parse().ok());
    let backends = arg("--backends").unwrap_or_else(|| "sqlite,postgres".to_owned());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let bare = bare_sqlite().await;
        println!("bare SQLite insert of a loop row (WAL, synchronous=FULL, one transaction per row): {bare:.0} rows/s");
        for &loops in &sizes {
            if backends.contains("sqlite") {
                one("SQLite", loops, bare).await;
            }
            if backends.contains("postgres") {
                one("PostgreSQL", loops, bare).await;
            }
        }
        if let Some(loops) = sqlite_only {
            one("SQLite", loops, bare).await;
        }
    });
}
