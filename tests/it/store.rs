//! The store through the library API, where HTTP cannot reach: the group commit of captures,
//! and data written before a migration that reshapes it.

use failforward::domain::events::{Event, EventKind};
use failforward::domain::loops::{ImpactScale, LoopKind, Stage};
use failforward::domain::{LoopId, TeamId};
use failforward::store::loops::LoopDraft;

use crate::helpers::{fresh_postgres_url, Backend, TestDb};

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
    let url = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => match fresh_postgres_url().await {
            Some(url) => Some(url),
            None => return,
        },
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
