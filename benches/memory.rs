//! Figures of "The organisation's memory" for BENCHMARKS.md: search latency (p50/p99 over a query
//! mix, including a word in a fifth of all loops), dashboard time, capture throughput on a loaded
//! database against a bare insert of the same row on the same backend (same durability, same
//! run: SQLite's for SQLite, PostgreSQL's on the same server for PostgreSQL), and the
//! process's resident memory — on SQLite and, when `FAILFORWARD_TEST_DATABASE_URL` names one,
//! PostgreSQL.
//!
//! The data is synthetic: many teams, multi-paragraph texts drawn from an incident vocabulary with
//! a Zipf-like long tail, learnings and action items on a tenth of the loops each. It is written
//! with multi-row INSERTs in one transaction (the search triggers and generated columns run as
//! they would for captured loops), not through HTTP.
//!
//! Run: `cargo bench --bench memory -- --sizes 10000,100000 [--sqlite-only 1000000]`.
//!
//! `--outbox-ab` adds issue 21's figure: capture throughput on the loaded database with the
//! event outbox on and off, four rounds each in the order on, off, off, on, off, on, on, off
//! (each side's rounds sit at the same mean place, so a steady drift during the run favours
//! neither), and the outbox's cost from the two medians and from the two means. "Off" is a trigger only this bench
//! installs, which drops each outbox row before it is written (SQLite `RAISE(IGNORE)`,
//! PostgreSQL a `BEFORE INSERT` trigger returning NULL), and on PostgreSQL the outbox's `NOTIFY`
//! trigger is disabled meanwhile: the use cases still build their events, but no row is written,
//! no index updated, no worker woken and nothing dispatched. So the cost measured is the outbox's
//! writes and the delivery worker's fan-out, not the building of the event values.
//! Each round starts once the earlier rounds' possible-recurrence checks have run.

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
const CAPTURES: usize = 2000;
/// Concurrent writers in the capture measurement (`--writers N` changes it).
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
    service: failforward::service::Service,
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
    reuse: bool,
) -> (Loaded, Duration) {
    let app = Application::build(Settings::for_tests(storage))
        .await
        .expect("app");
    let base = format!("http://127.0.0.1:{}", app.port());
    let service = app.service().clone();
    tokio::spawn(app.run_until(std::future::pending()));
    let client = reqwest::Client::new();
    if reuse {
        // The people, teams and loops of an earlier run are all there.
        let (admin, member) = tokens(&service).await;
        return (
            Loaded {
                service,
                base,
                admin,
                member,
                team_slug: "team-0".to_owned(),
                client,
            },
            Duration::ZERO,
        );
    }
    let password = "correct horse battery staple";
    service
        .create_user_directly("admin@example.org", "Admin", password, true, Some("Bench"))
        .await
        .expect("admin");
    service
        .create_user_directly("member@example.org", "Member", password, false, None)
        .await
        .expect("member");
    let (admin, member) = tokens(&service).await;
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
            service,
            base,
            admin,
            member,
            team_slug: "team-0".to_owned(),
            client,
        },
        started.elapsed(),
    )
}

/// Fresh API tokens for the bench's admin and member (their accounts exist).
async fn tokens(service: &failforward::service::Service) -> (String, String) {
    let token = |email: &'static str| service.create_api_token_directly(email, "bench");
    (
        token("admin@example.org").await.expect("admin token"),
        token("member@example.org").await.expect("member token"),
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
    // Committing now and then keeps the write-ahead log (and PostgreSQL's) from growing to the
    // size of the whole data set.
    const COMMIT_EVERY: usize = 20_000;
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
                if written > 0 && written % COMMIT_EVERY == 0 {
                    tx.commit().await.expect("commit");
                    tx = $conn.begin().await.expect("begin");
                    eprintln!("  {written} loops written");
                }
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
                            // As `store::loops::new_seq` numbers captured loops.
                            seq: created.div_euclid(DAY) * (1 << 47) + rng.gen_range(1..1 << 47),
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
            // Generating is not what is measured: a large page cache and no fsync per commit
            // make a million loops take minutes instead of hours. The app's own connections
            // keep their settings.
            .pragma("cache_size", "-1000000")
            .synchronous(SqliteSynchronous::Off)
            .connect()
            .await
            .expect("sqlite");
        write_all!(conn, sqlx::Sqlite);
        sqlx::query("ANALYZE")
            .execute(&mut conn)
            .await
            .expect("analyze");
        // Leave no large write-ahead log behind: the app's first commits would copy it back.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await
            .expect("checkpoint");
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
        let mut by_label: Vec<Vec<Duration>> = vec![Vec::new(); QUERIES.len()];
        let mut totals = Vec::new();
        for round in 0..QUERY_ROUNDS {
            for (i, (label, q)) in QUERIES.iter().enumerate() {
                let (took, body) = timed_get(loaded, token, &format!("/api/v1/search?q={q}")).await;
                all.push(took);
                by_label[i].push(took);
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
        lines.push(format!(
            "search as {who}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} queries",
            ms(percentile(&all, 50)),
            ms(percentile(&all, 99)),
            ms(percentile(&all, 100)),
            all.len(),
        ));
        for ((label, _), mut times) in QUERIES.iter().zip(by_label) {
            times.sort();
            lines.push(format!(
                "  {label}: p50 {:.1} ms, p99 {:.1} ms",
                ms(percentile(&times, 50)),
                ms(percentile(&times, 99)),
            ));
        }
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

/// One writer at a time: how long one capture takes, and one "similar loops" look-up (what the
/// capture form asks while someone types).
async fn measure_capture_latency(loaded: &Loaded) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(99);
    let (mut captures, mut similar) = (Vec::new(), Vec::new());
    for n in 0..20 {
        let title = (0..3).map(|_| word(&mut rng)).collect::<Vec<_>>().join(" ");
        let text = paragraphs(&mut rng, 3, n % 5 == 0);
        let started = Instant::now();
        let response = loaded
            .client
            .post(format!(
                "{}/api/v1/teams/team-{}/loops/similar",
                loaded.base,
                n % TEAMS
            ))
            .bearer_auth(&loaded.admin)
            .json(&json!({"title": title, "description": text}))
            .send()
            .await
            .expect("similar");
        assert_eq!(response.status(), 200);
        similar.push(started.elapsed());
        let started = Instant::now();
        let response = loaded
            .client
            .post(format!("{}/api/v1/teams/team-{}/loops", loaded.base, n % TEAMS))
            .bearer_auth(&loaded.admin)
            .json(&json!({"title": title, "what_happened": text, "what_was_expected": sentence(&mut rng)}))
            .send()
            .await
            .expect("capture");
        assert_eq!(response.status(), 201);
        captures.push(started.elapsed());
    }
    captures.sort();
    similar.sort();
    vec![format!(
        "one writer: capture p50 {:.1} ms, max {:.1} ms; similar loops while typing p50 {:.1} ms, max {:.1} ms",
        ms(percentile(&captures, 50)),
        ms(percentile(&captures, 100)),
        ms(percentile(&similar, 50)),
        ms(percentile(&similar, 100)),
    )]
}

fn writers() -> usize {
    arg("--writers")
        .and_then(|s| s.parse().ok())
        .unwrap_or(WRITERS)
}

async fn measure_capture(loaded: &Loaded) -> f64 {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..writers() {
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
                        // Named only: an anonymous capture writes nothing until the day's
                        // release (`service::held`), so it would flatter the figure.
                        "anonymous": false,
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

/// Inserts [`CAPTURES`] loop rows into `$table`, one statement (and so one transaction) each,
/// and gives the rows per second: the bare inserts of both backends write the same rows.
macro_rules! timed_bare_inserts {
    ($connection:expr, $table:literal) => {{
        let mut rng = StdRng::seed_from_u64(1);
        let started = Instant::now();
        for n in 0..CAPTURES {
            sqlx::query(concat!(
                "INSERT INTO ",
                $table,
                " VALUES ($1, $2, $3, $4, $5, $6, $7, 'detect', $8)"
            ))
            .bind(rng.gen_range(1..i64::MAX))
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(uuid::Uuid::new_v4().to_string())
            .bind((0..3).map(|_| word(&mut rng)).collect::<Vec<_>>().join(" "))
            .bind(paragraphs(&mut rng, 3, n % 5 == 0))
            .bind(sentence(&mut rng))
            .bind(time::OffsetDateTime::now_utc().unix_timestamp())
            .bind(n % 5 == 0)
            .execute(&mut $connection)
            .await
            .expect("insert");
        }
        CAPTURES as f64 / started.elapsed().as_secs_f64()
    }};
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
    timed_bare_inserts!(connection, "loops")
}

/// The same loop row on PostgreSQL with nothing around it: one connection to the bench's schema,
/// `synchronous_commit = on`, one transaction per row (an autocommitted INSERT), no index but
/// the keys, no trigger, no generated column — the yardstick issue 23 sets for capture there.
async fn bare_postgres(url: &str) -> f64 {
    let mut connection = sqlx::PgConnection::connect(url).await.expect("bare");
    for statement in [
        "SET synchronous_commit = on",
        "DROP TABLE IF EXISTS bench_bare_loops",
        "CREATE TABLE bench_bare_loops (seq BIGINT PRIMARY KEY, id TEXT NOT NULL UNIQUE, \
         team_id TEXT NOT NULL, title TEXT NOT NULL, what_happened TEXT NOT NULL, \
         what_was_expected TEXT NOT NULL, created_at BIGINT NOT NULL, stage TEXT NOT NULL, \
         anonymous BOOLEAN NOT NULL)",
    ] {
        sqlx::query(statement)
            .execute(&mut connection)
            .await
            .expect("bare table");
    }
    let rate = timed_bare_inserts!(connection, "bench_bare_loops");
    sqlx::query("DROP TABLE bench_bare_loops")
        .execute(&mut connection)
        .await
        .expect("drop bare table");
    rate
}

/// Switches the outbox off (or back on) for the A/B rounds of `--outbox-ab`, from a connection
/// of the bench's own; see the module documentation for what "off" leaves out.
async fn set_outbox(database: &str, postgres: bool, on: bool) {
    let statements: &[&str] = match (postgres, on) {
        (false, true) => &["DROP TRIGGER IF EXISTS bench_outbox_off"],
        (false, false) => &["CREATE TRIGGER IF NOT EXISTS bench_outbox_off \
             BEFORE INSERT ON event_outbox BEGIN SELECT RAISE(IGNORE); END"],
        (true, true) => &[
            "DROP TRIGGER IF EXISTS bench_outbox_off ON event_outbox",
            "ALTER TABLE event_outbox ENABLE TRIGGER event_outbox_notify",
        ],
        (true, false) => &[
            "CREATE OR REPLACE FUNCTION bench_outbox_off() RETURNS trigger \
             LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
            "DROP TRIGGER IF EXISTS bench_outbox_off ON event_outbox",
            "CREATE TRIGGER bench_outbox_off BEFORE INSERT ON event_outbox \
             FOR EACH ROW EXECUTE FUNCTION bench_outbox_off()",
            "ALTER TABLE event_outbox DISABLE TRIGGER event_outbox_notify",
        ],
    };
    if postgres {
        let mut conn = sqlx::PgConnection::connect(database).await.expect("pg");
        for statement in statements {
            sqlx::query(statement)
                .execute(&mut conn)
                .await
                .expect("outbox switch");
        }
    } else {
        let mut conn = SqliteConnectOptions::new()
            .filename(database)
            .busy_timeout(Duration::from_secs(30))
            .connect()
            .await
            .expect("sqlite");
        for statement in statements {
            sqlx::query(statement)
                .execute(&mut conn)
                .await
                .expect("outbox switch");
        }
    }
}

/// Waits until the possible-recurrence checks of earlier captures have run (at a million loops a
/// burst's checks take over a minute, and would run through the next measurement), then one
/// second more for the last check under way.
async fn checks_drained(loaded: &Loaded) {
    while loaded.service.recurrence_checks_waiting() > 0 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// The A/B's rounds, `true` with the outbox on. On and off alternating (as until run 12) put
/// "on" first in every pair, so rounds that fall during a run favoured it; in this order both
/// sides' rounds sit at the same mean place (3.5), and a steady drift cancels in the means.
const OUTBOX_AB_ORDER: [bool; 8] = [true, false, false, true, false, true, true, false];

/// Capture throughput with the outbox on and off, in `OUTBOX_AB_ORDER`; prints each round, both
/// sides' medians and means, and the outbox's cost by each.
async fn measure_outbox_ab(loaded: &Loaded, database: &str, postgres: bool) {
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for (round, &outbox) in OUTBOX_AB_ORDER.iter().enumerate() {
        set_outbox(database, postgres, outbox).await;
        // The previous round's recurrence checks and event fan-out finish first.
        tokio::time::sleep(Duration::from_secs(3)).await;
        checks_drained(loaded).await;
        let rate = measure_capture(loaded).await;
        println!(
            "  outbox A/B round {}: outbox {}: {rate:.0} loops/s",
            round + 1,
            if outbox { "on " } else { "off" }
        );
        if outbox {
            on.push(rate)
        } else {
            off.push(rate)
        }
    }
    set_outbox(database, postgres, true).await;
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[(v.len() - 1) / 2] + v[v.len() / 2]) / 2.0
    };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (mean_on, mean_off) = (mean(&on), mean(&off));
    let (on, off) = (median(&mut on), median(&mut off));
    println!(
        "capture with the event outbox on vs off ({CAPTURES} loops, {} writers, 4 rounds each in the order \
         on off off on off on on off; off = a bench-only trigger drops each outbox row before it is written{}): \
         median on {on:.0} loops/s, off {off:.0} loops/s, outbox cost {:.1}%; \
         mean on {mean_on:.0}, off {mean_off:.0}, outbox cost {:.1}%",
        writers(),
        if postgres { " and the NOTIFY trigger is disabled" } else { "" },
        100.0 * (off - on) / off,
        100.0 * (mean_off - mean_on) / mean_off
    );
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

/// A PostgreSQL schema for `loops` loops, and whether an earlier run left it complete. With
/// `FAILFORWARD_BENCH_DATA` set the schema is named after the size and kept.
async fn postgres_url(loops: usize) -> Option<(String, bool)> {
    let base = std::env::var("FAILFORWARD_TEST_DATABASE_URL").ok()?;
    let keep = std::env::var("FAILFORWARD_BENCH_DATA").is_ok();
    let schema = if keep {
        format!("bench_keep_{loops}")
    } else {
        format!("bench_{}", uuid::Uuid::new_v4().simple())
    };
    let mut admin = sqlx::PgConnection::connect(&base).await.expect("postgres");
    let complete: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = 'bench_complete')",
    )
    .bind(&schema)
    .fetch_one(&mut admin)
    .await
    .expect("catalog");
    if !complete {
        sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&mut admin)
            .await
            .expect("drop");
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut admin)
            .await
            .expect("schema");
    }
    let separator = if base.contains('?') { '&' } else { '?' };
    Some((
        format!("{base}{separator}options[search_path]={schema}"),
        complete,
    ))
}

async fn one(backend: &str, loops: usize, bare: f64, generate_only: bool) {
    let dir = tempfile::tempdir().expect("dir");
    // FAILFORWARD_BENCH_DATA=DIR keeps the generated data (SQLite there, PostgreSQL in a schema
    // named after the size) and reuses it on the next run: a million loops take a while.
    let kept = std::env::var("FAILFORWARD_BENCH_DATA").ok();
    let data_dir = match &kept {
        Some(keep) => std::path::PathBuf::from(keep).join(format!("{backend}-{loops}")),
        None => dir.path().to_owned(),
    };
    let mut storage = StorageSettings::in_dir(&data_dir);
    let postgres = backend == "PostgreSQL";
    let mut reuse = kept.is_some() && data_dir.join("complete").exists();
    if postgres {
        let Some((url, complete)) = postgres_url(loops).await else {
            println!("PostgreSQL: skipped (set FAILFORWARD_TEST_DATABASE_URL)");
            return;
        };
        storage.database_url = Some(url);
        reuse = complete;
    } else if kept.is_some() && !reuse {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    let database = storage
        .database_url
        .clone()
        .unwrap_or_else(|| data_dir.join("failforward.db").display().to_string());
    let (loaded, took) = load(storage, &database, loops, postgres, reuse).await;
    if kept.is_some() && !reuse {
        if postgres {
            let mut conn = sqlx::PgConnection::connect(&database).await.expect("pg");
            sqlx::query("CREATE TABLE bench_complete (at BIGINT)")
                .execute(&mut conn)
                .await
                .expect("mark");
        } else {
            std::fs::write(data_dir.join("complete"), "").expect("mark");
        }
    }
    println!(
        "\n## {backend}, {loops} loops in {TEAMS} teams ({})",
        if reuse {
            "generated by an earlier run".to_owned()
        } else {
            format!("generated in {:.0} s", took.as_secs_f64())
        }
    );
    if generate_only {
        return;
    }
    if postgres {
        vacuum_schema(&database).await;
    }
    for line in measure_search(&loaded).await {
        println!("{line}");
    }
    for line in measure_dashboards(&loaded).await {
        println!("{line}");
    }
    for line in measure_capture_latency(&loaded).await {
        println!("{line}");
    }
    // The latency captures' possible-recurrence checks run up to 2 s after them (see
    // service::memory::RecurrenceChecks); let them finish rather than count them against the
    // next measurement.
    tokio::time::sleep(Duration::from_secs(3)).await;
    checks_drained(&loaded).await;
    // On PostgreSQL the yardstick is a bare PostgreSQL insert on the same server, measured
    // right before (issue 23); on SQLite the bare SQLite insert measured at the start.
    let (bare, yardstick) = if postgres {
        let rate = bare_postgres(&database).await;
        println!("bare PostgreSQL insert of a loop row (synchronous_commit=on, one transaction per row, same server): {rate:.0} rows/s");
        (rate, "bare PostgreSQL insert")
    } else {
        (bare, "bare SQLite insert")
    };
    let captured = measure_capture(&loaded).await;
    println!(
        "capture on the loaded database ({CAPTURES} loops, {} writers, index and counters included, possible-recurrence check after the request): {captured:.0} loops/s = {:.0}% of the {yardstick}",
        writers(),
        100.0 * captured / bare
    );
    if std::env::args().any(|a| a == "--outbox-ab") {
        measure_outbox_ab(&loaded, &database, postgres).await;
    }
    println!("{}", rss());
}

/// `VACUUM ANALYZE` of every table in the bench's schema before measuring. Each capture
/// updates counter rows, so a kept data set carries the earlier runs' dead row versions; a
/// server cleans them with autovacuum, but a test cluster may run without it (this machine's
/// does), and then each run measured the leftovers of the one before.
async fn vacuum_schema(url: &str) {
    let mut conn = sqlx::PgConnection::connect(url).await.expect("pg");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname = current_schema()",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables");
    for table in tables {
        sqlx::query(&format!("VACUUM ANALYZE {table}"))
            .execute(&mut conn)
            .await
            .expect("vacuum");
    }
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
    let generate_only = std::env::args().any(|a| a == "--generate-only");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let bare = if generate_only { 1.0 } else { bare_sqlite().await };
        println!("bare SQLite insert of a loop row (WAL, synchronous=FULL, one transaction per row): {bare:.0} rows/s");
        for &loops in &sizes {
            if backends.contains("sqlite") {
                one("SQLite", loops, bare, generate_only).await;
            }
            if backends.contains("postgres") {
                one("PostgreSQL", loops, bare, generate_only).await;
            }
        }
        if let Some(loops) = sqlite_only {
            one("SQLite", loops, bare, generate_only).await;
        }
    });
}
