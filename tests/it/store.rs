//! The store through the library API, where HTTP cannot reach: the group commit of captures,
//! and data written before a migration that reshapes it.

use failforward::domain::events::{Event, EventKind};
use failforward::domain::loops::{ImpactScale, LoopKind, Stage};
use failforward::domain::{LoopId, TeamId};
use failforward::store::loops::LoopDraft;

use crate::helpers::{fresh_database_url, Backend, TestDb};

fn new_loop(team: TeamId, n: usize) -> LoopDraft {
    let now = time::OffsetDateTime::now_utc();
    LoopDraft {
        id: LoopId::random(),
        team_id: team,
        kind: LoopKind::Failure,
        title: format!("Batched capture {n}"),
        what_happened: "Written together with others.".to_owned(),
        what_was_expected: String::new(),
        happened_at: None,
        noticed_at: now,
        impact_scale: ImpactScale::Minor,
        impact_affected: String::new(),
        author: None,
        reporter_secret_hash: None,
        created_at: now,
        stage: Stage::Detect,
        tags: vec![format!("t{n}")],
        source_experiment_id: None,
        classification: None,
        recurrence_of: None,
        events: Vec::new(),
    }
}

/// Loops captured at the same moment share a commit (on both databases); one that the database
/// refuses (here: its team does not exist) fails alone, and every other is written once, with
/// its event and its place on the dashboards.
async fn refused_capture_fails_alone(backend: Backend) {
    let dir = tempfile::tempdir().expect("dir");
    let Some(url) = fresh_database_url(backend).await else {
        return;
    };
    let store = failforward::store::connect(url.as_deref(), dir.path(), &Default::default())
        .await
        .expect("store");
    let raw = match &url {
        None => TestDb::Sqlite(
            sqlx::SqlitePool::connect(&format!(
                "sqlite://{}",
                dir.path().join("failforward.db").display()
            ))
            .await
            .expect("raw"),
        ),
        Some(url) => TestDb::Postgres(sqlx::PgPool::connect(url).await.expect("raw")),
    };
    let teams = [TeamId::random(), TeamId::random(), TeamId::random()];
    for (n, team) in teams.iter().enumerate() {
        raw.execute(&format!(
            "INSERT INTO teams (id, slug, name, created_at) VALUES ('{team}', 't{n}', 'T{n}', 0)"
        ))
        .await;
    }
    let mut captures = Vec::new();
    for n in 0..32 {
        let store = store.clone();
        let team = if n == 13 {
            TeamId::random()
        } else {
            teams[n % teams.len()]
        };
        let mut new = new_loop(team, n);
        new.events.push(Event::named(
            EventKind::LoopLogged,
            team,
            new.id,
            None,
            new.created_at,
            Default::default(),
        ));
        captures.push(tokio::spawn(async move { store.create_loop(&new).await }));
    }
    let mut refused = 0;
    for capture in captures {
        if capture.await.expect("task").is_err() {
            refused += 1;
        }
    }
    assert_eq!(refused, 1, "only the loop without a team is refused");
    let written = (
        raw.count("SELECT COUNT(*) FROM loops").await,
        raw.count("SELECT COUNT(*) FROM loop_tags").await,
        raw.count("SELECT COUNT(*) FROM loop_stage_changes").await,
        raw.count("SELECT COUNT(*) FROM event_outbox").await,
    );
    assert_eq!(written, (31, 31, 31, 31));
    let counted = raw
        .count("SELECT CAST(SUM(loops) AS BIGINT) FROM health_loops WHERE team_id = ''")
        .await;
    assert_eq!(
        counted, 31,
        "the dashboards count what was written, no more"
    );
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM event_outbox WHERE NOT dispatched")
            .await,
        0,
        "with nobody subscribed the events are written dispatched: no worker has anything to do"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_capture_fails_alone_in_its_batch_sqlite() {
    refused_capture_fails_alone(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_capture_fails_alone_in_its_batch_postgres() {
    refused_capture_fails_alone(Backend::Postgres).await;
}

/// Migration 0014 rekeys the stage history and computes a loop's full-text document id instead
/// of keeping it in `search_docs`. A loop written before it (with an all-random `seq`) keeps its
/// history and stays found; a later stage change and its deletion reach its document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loop_from_before_migration_14_keeps_its_history_and_its_search() {
    use failforward::domain::search::{SearchQuery, MARK_START};
    use failforward::domain::RecordId;
    use failforward::store::loops::StageChange;
    use failforward::store::memory::{Matching, SearchFilter, SearchRequest};

    let dir = tempfile::tempdir().expect("dir");
    let raw = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.path().join("failforward.db"))
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal),
    )
    .await
    .expect("raw");
    let mut migrator = sqlx::migrate::Migrator::new(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/migrations/sqlite"
    )))
    .await
    .expect("migrations");
    migrator.migrations = migrator
        .migrations
        .iter()
        .filter(|m| m.version <= 13)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    migrator.run(&raw).await.expect("migrations up to 13");

    let team = TeamId::random();
    let id = LoopId::random();
    let day = 86_400_i64;
    let created = (time::OffsetDateTime::now_utc().unix_timestamp() / day - 10) * day;
    sqlx::query("INSERT INTO teams (id, slug, name, created_at) VALUES ($1, 'ops', 'Ops', 0)")
        .bind(team.to_string())
        .execute(&raw)
        .await
        .expect("team");
    sqlx::query(
        "INSERT INTO loops (seq, id, team_id, kind, title, what_happened, what_was_expected, \
         noticed_at, impact_scale, impact_affected, anonymous, created_at, stage, \
         stage_entered_at) VALUES ($1, $2, $3, 'failure', 'Zeppelin hangar flooded', \
         'The zeppelin hangar flooded overnight.', '', $4, 'minor', '', FALSE, $4, 'apply', $5)",
    )
    .bind(0x5eed_0000_1234_5678_i64)
    .bind(id.to_string())
    .bind(team.to_string())
    .bind(created)
    .bind(created + 2 * day)
    .execute(&raw)
    .await
    .expect("loop");
    for (position, from, to) in [
        (0, None, "detect"),
        (1, Some("detect"), "analyse"),
        (2, Some("analyse"), "apply"),
    ] {
        sqlx::query(
            "INSERT INTO loop_stage_changes (id, loop_id, from_stage, to_stage, position, \
             changed_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(RecordId::random().to_string())
        .bind(id.to_string())
        .bind(from)
        .bind(to)
        .bind(position)
        .bind(created + position * day)
        .execute(&raw)
        .await
        .expect("history");
    }
    raw.close().await;

    let store = failforward::store::connect(None, dir.path(), &Default::default())
        .await
        .expect("store, migrated");
    let history = store.stage_changes(id).await.expect("history");
    let stages: Vec<Stage> = history.iter().map(|change| change.to).collect();
    assert_eq!(stages, [Stage::Detect, Stage::Analyse, Stage::Apply]);

    let query = SearchQuery::parse("\"zeppelin hangar\"");
    let search = |stage: Option<Stage>| {
        let store = store.clone();
        let query = query.clone();
        async move {
            store
                .search(&SearchRequest {
                    matching: Matching::All(&query),
                    filter: SearchFilter {
                        stage,
                        ..SearchFilter::default()
                    },
                    candidates: 10,
                    limit: 10,
                    offset: 0,
                    snippets: true,
                    now: time::OffsetDateTime::now_utc(),
                })
                .await
                .expect("search")
                .hits
        }
    };
    let hits = search(None).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].loop_id, Some(id));
    assert!(hits[0].snippet.contains(MARK_START), "{}", hits[0].snippet);

    store
        .change_stage(
            &StageChange {
                id: RecordId::random(),
                loop_id: id,
                from: Stage::Apply,
                to: Stage::Continue,
                at: time::OffsetDateTime::now_utc(),
                by: None,
                note: String::new(),
            },
            &[],
        )
        .await
        .expect("stage change");
    assert_eq!(store.stage_changes(id).await.expect("history").len(), 4);
    assert_eq!(search(Some(Stage::Continue)).await.len(), 1);
    assert!(search(Some(Stage::Apply)).await.is_empty());

    store.delete_loop(team, id).await.expect("delete");
    assert!(search(None).await.is_empty());
}

/// A fresh database (`url`: PostgreSQL, or SQLite in `dir` when `None`) migrated up to and
/// including `version` only, for writing what older versions held before the store opens it.
async fn migrated_up_to(url: &Option<String>, dir: &std::path::Path, version: i64) -> TestDb {
    let migrations = |side: &str| {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(side)
    };
    let up_to = |mut migrator: sqlx::migrate::Migrator| {
        migrator.migrations = migrator
            .migrations
            .iter()
            .filter(|m| m.version <= version)
            .cloned()
            .collect::<Vec<_>>()
            .into();
        migrator
    };
    match url {
        None => {
            let pool = sqlx::SqlitePool::connect_with(
                sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(dir.join("failforward.db"))
                    .create_if_missing(true)
                    .foreign_keys(true)
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal),
            )
            .await
            .expect("raw");
            up_to(
                sqlx::migrate::Migrator::new(migrations("sqlite"))
                    .await
                    .expect("migrations"),
            )
            .run(&pool)
            .await
            .expect("migrations up to the version");
            TestDb::Sqlite(pool)
        }
        Some(url) => {
            let pool = sqlx::PgPool::connect(url).await.expect("raw");
            up_to(
                sqlx::migrate::Migrator::new(migrations("postgres"))
                    .await
                    .expect("migrations"),
            )
            .run(&pool)
            .await
            .expect("migrations up to the version");
            TestDb::Postgres(pool)
        }
    }
}

/// Migration 0052 rebuilds SQLite's outbox keyed by time, and with it (foreign keys cannot be
/// switched off inside a migration) the deliveries and attempts that refer to it; on PostgreSQL
/// it makes `once_key` unique only where set. Webhook history written before it survives on both
/// databases, and an overdue event raised before it is still raised only once.
async fn outbox_history_survives_migration_52(backend: Backend) {
    use failforward::domain::RecordId;

    let dir = tempfile::tempdir().expect("dir");
    let Some(url) = fresh_database_url(backend).await else {
        return;
    };
    let raw = migrated_up_to(&url, dir.path(), 51).await;

    let team = TeamId::random();
    let subscription = RecordId::random();
    let (logged, overdue) = (RecordId::random(), RecordId::random());
    let (delivery, attempt) = (RecordId::random(), RecordId::random());
    let action = RecordId::random();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let once_key = format!("action.overdue:{action}:{}", now - now % 86_400);
    for statement in [
        format!(
            "INSERT INTO teams (id, slug, name, created_at) VALUES ('{team}', 'ops', 'Ops', 0)"
        ),
        format!(
            "INSERT INTO webhook_subscriptions (id, team_id, url, event_kinds, secret_sealed, \
             created_at, enabled) VALUES ('{subscription}', '{team}', 'https://hooks.example/in', \
             'loop.logged action.overdue', 'sealed', 0, FALSE)"
        ),
        format!(
            "INSERT INTO event_outbox (id, kind, team_id, subject_id, actor_id, occurred_at, \
             payload, dispatched, once_key) VALUES \
             ('{logged}', 'loop.logged', '{team}', 'a-loop', NULL, {}, '{{}}', TRUE, NULL), \
             ('{overdue}', 'action.overdue', '{team}', '{action}', NULL, {}, '{{}}', TRUE, \
              '{once_key}')",
            now - 200,
            now - 100
        ),
        format!(
            "INSERT INTO webhook_deliveries (id, subscription_id, event_id, status, attempts, \
             next_attempt_at, created_at) VALUES ('{delivery}', '{subscription}', '{logged}', \
             'failed', 1, 0, {now})"
        ),
        format!(
            "INSERT INTO webhook_attempts (id, delivery_id, subscription_id, attempted_at, \
             status_code, latency_ms, excerpt) VALUES ('{attempt}', '{delivery}', \
             '{subscription}', {now}, 503, 12, 'upstream down')"
        ),
    ] {
        raw.execute(&statement).await;
    }

    let store = failforward::store::connect(url.as_deref(), dir.path(), &Default::default())
        .await
        .expect("store, migrated");
    let attempts = store.attempts(subscription, 10).await.expect("attempts");
    assert_eq!(attempts.len(), 1, "the delivery log survives the rebuild");
    assert_eq!(
        (
            attempts[0].event_id.to_string(),
            attempts[0].event_kind.as_str(),
            attempts[0].status_code,
            attempts[0].excerpt.as_str(),
            attempts[0].delivery_status.as_str(),
        ),
        (
            logged.to_string(),
            "loop.logged",
            Some(503),
            "upstream down",
            "failed"
        )
    );

    let raised_again = |key: Option<&str>| {
        let mut event = Event::named(
            EventKind::ActionOverdue,
            team,
            action,
            None,
            time::OffsetDateTime::now_utc(),
            Default::default(),
        );
        event.once_key = key.map(str::to_owned);
        event
    };
    store
        .record_events(&[
            raised_again(Some(&once_key)),
            raised_again(None),
            raised_again(None),
        ])
        .await
        .expect("record");
    let mut kept: Vec<String> = store
        .events(Some(team), 10)
        .await
        .expect("events")
        .into_iter()
        .map(|event| event.id.to_string())
        .collect();
    kept.sort();
    assert_eq!(
        kept.len(),
        4,
        "the key raised before the migration is still raised once; events without a key never \
         collide: {kept:?}"
    );
    assert!(kept.contains(&logged.to_string()) && kept.contains(&overdue.to_string()));
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM event_outbox WHERE once_key IS NOT NULL")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_history_survives_migration_52_sqlite() {
    outbox_history_survives_migration_52(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_history_survives_migration_52_postgres() {
    outbox_history_survives_migration_52(Backend::Postgres).await;
}

/// Migration 0053 moves the audit log into the outbox (events of `audit.*` kinds, no team,
/// written dispatched). Entries written before it read back the same through the store, and the
/// `audit_log` view shows them as the table did.
async fn audit_history_survives_migration_53(backend: Backend) {
    use failforward::domain::{RecordId, UserId};
    use failforward::store::audit::AuditFilter;

    let dir = tempfile::tempdir().expect("dir");
    let Some(url) = fresh_database_url(backend).await else {
        return;
    };
    let raw = migrated_up_to(&url, dir.path(), 52).await;
    let ada = UserId::random();
    let (signed_in, backed_up) = (RecordId::random(), RecordId::random());
    for statement in [
        format!(
            "INSERT INTO users (id, email, display_name, password_hash, is_admin, created_at) \
             VALUES ('{ada}', 'ada@example.org', 'Ada', 'x', TRUE, 0)"
        ),
        format!(
            "INSERT INTO audit_log (id, occurred_at, actor_id, action, target, detail, \
             address_hash) VALUES \
             ('{signed_in}', 1764765432, '{ada}', 'sign_in.succeeded', 'user ada@example.org', \
              'password', 'ab12'), \
             ('{backed_up}', 1764765500, NULL, 'backup.made', '/srv/b.db', 'it''s done', NULL)"
        ),
    ] {
        raw.execute(&statement).await;
    }

    let store = failforward::store::connect(url.as_deref(), dir.path(), &Default::default())
        .await
        .expect("store, migrated");
    let read = store
        .audit_entries(&AuditFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("entries");
    let seen: Vec<_> = read
        .iter()
        .map(|e| {
            (
                e.id,
                e.occurred_at.unix_timestamp(),
                e.actor,
                e.actor_email.as_deref(),
                e.action.as_str(),
                e.target.as_str(),
                e.detail.as_str(),
                e.address_hash.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                backed_up,
                1764765500,
                None,
                None,
                "backup.made",
                "/srv/b.db",
                "it's done",
                None
            ),
            (
                signed_in,
                1764765432,
                Some(ada),
                Some("ada@example.org"),
                "sign_in.succeeded",
                "user ada@example.org",
                "password",
                Some("ab12")
            ),
        ]
    );
    let by_action = store
        .audit_entries(&AuditFilter {
            action: Some("backup.made".to_owned()),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("entries");
    assert_eq!(by_action.len(), 1);
    assert_eq!(
        raw.dump("SELECT action, target, detail, address_hash FROM audit_log ORDER BY occurred_at")
            .await
            .into_iter()
            .map(|row| row.into_iter().map(|(_, v)| v).collect::<Vec<_>>())
            .collect::<Vec<_>>(),
        vec![
            vec![
                "sign_in.succeeded",
                "user ada@example.org",
                "password",
                "ab12"
            ],
            vec!["backup.made", "/srv/b.db", "it's done", "NULL"],
        ]
    );
    assert_eq!(
        raw.count(
            "SELECT COUNT(*) FROM event_outbox WHERE kind LIKE 'audit.%' \
             AND team_id IS NULL AND dispatched"
        )
        .await,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_history_survives_migration_53_sqlite() {
    audit_history_survives_migration_53(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_history_survives_migration_53_postgres() {
    audit_history_survives_migration_53(Backend::Postgres).await;
}
