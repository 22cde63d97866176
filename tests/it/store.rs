//! The store through the library API, where HTTP cannot reach: SQLite's group commit of captures.

use failforward::domain::loops::{ImpactScale, LoopKind, Stage};
use failforward::domain::{LoopId, TeamId};
use failforward::store::loops::NewLoop;

fn new_loop(team: TeamId, n: usize) -> NewLoop {
    let now = time::OffsetDateTime::now_utc();
    NewLoop {
        id: LoopId::random(),
        seq: (rand::random::<u64>() >> 1).max(1) as i64,
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
    }
}

/// Loops captured at the same moment share a commit on SQLite; one that the database refuses
/// (here: its team does not exist) fails alone, and every other is written once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_capture_fails_alone_in_its_batch() {
    let dir = tempfile::tempdir().expect("dir");
    let store = failforward::store::connect(None, dir.path(), &Default::default())
        .await
        .expect("store");
    let team = TeamId::random();
    let raw = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("failforward.db").display()
    ))
    .await
    .expect("raw");
    sqlx::query("INSERT INTO teams (id, slug, name, created_at) VALUES ($1, 'ops', 'Ops', 0)")
        .bind(team.to_string())
        .execute(&raw)
        .await
        .expect("team");
    let mut captures = Vec::new();
    for n in 0..32 {
        let store = store.clone();
        let new = new_loop(if n == 13 { TeamId::random() } else { team }, n);
        captures.push(tokio::spawn(async move { store.create_loop(&new).await }));
    }
    let mut refused = 0;
    for capture in captures {
        if capture.await.expect("task").is_err() {
            refused += 1;
        }
    }
    assert_eq!(refused, 1, "only the loop without a team is refused");
    let (loops, tags, history): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM loops), (SELECT COUNT(*) FROM loop_tags), \
         (SELECT COUNT(*) FROM loop_stage_changes)",
    )
    .fetch_one(&raw)
    .await
    .expect("counts");
    assert_eq!((loops, tags, history), (31, 31, 31));
    let counted: i64 = sqlx::query_scalar(
        "SELECT CAST(SUM(loops) AS INTEGER) FROM health_loops WHERE team_id = ''",
    )
    .fetch_one(&raw)
    .await
    .expect("totals");
    assert_eq!(
        counted, 31,
        "the dashboards count what was written, no more"
    );
    raw.close().await;
}
