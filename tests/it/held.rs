//! What the server holds in memory before writing it (`service::held`): anonymous loops until
//! the end of the UTC day, pulse answers until their round closes, unnamed review cards until
//! their reveal — written at a graceful stop, and on several instances by each instance for
//! what it holds.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{Api, Backend, TestApp};

const SECRET_KEY: &str = "an-installation-secret-shared-by-both-instances";

/// A lead and `members` members in team Ops.
async fn team(app: &TestApp, members: usize) -> (Api, Vec<Api>) {
    app.create_user("lee@example.org", "Lee Lead", true).await;
    let lee = app.token_for("lee@example.org").await;
    let (status, body) = lee.post("/api/v1/teams", json!({"name": "Ops"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mut out = Vec::new();
    for i in 0..members {
        let email = format!("m{i}@example.org");
        app.create_user(&email, &format!("Member {i}"), false).await;
        let (status, body) = lee
            .post(
                "/api/v1/teams/ops/members",
                json!({"email": email, "role": "member"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        out.push(app.token_for(&email).await);
    }
    (lee, out)
}

async fn log_anonymously(api: &Api, title: &str) -> Value {
    let (status, created) = api
        .post(
            "/api/v1/teams/ops/loops",
            json!({"title": title, "what_happened": "x", "anonymous": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

async fn total(api: &Api) -> Value {
    let (status, list) = api.get("/api/v1/teams/ops/loops").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["total"].clone()
}

async fn graceful_stop_writes_held_loops(backend: Backend) {
    let Some((app, stop, task)) = TestApp::spawn_stoppable(backend).await else {
        return;
    };
    let (lee, members) = team(&app, 1).await;
    log_anonymously(&lee, "Held until the stop").await;
    log_anonymously(&members[0], "Also held").await;
    assert_eq!(app.db.count("SELECT COUNT(*) FROM loops").await, 0);
    stop.send(()).expect("the server is running");
    task.await.expect("task").expect("the server stops cleanly");
    assert_eq!(
        app.db
            .count("SELECT COUNT(*) FROM loops WHERE anonymous AND author_id IS NULL")
            .await,
        2,
        "a graceful stop writes the held anonymous loops"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_writes_held_anonymous_loops_sqlite() {
    graceful_stop_writes_held_loops(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_writes_held_anonymous_loops_postgres() {
    graceful_stop_writes_held_loops(Backend::Postgres).await;
}

crate::story!(
    a_withdrawn_held_loop_is_never_written,
    |app: TestApp| async move {
        let (lee, _) = team(&app, 0).await;
        let created = log_anonymously(&lee, "Second thoughts").await;
        let secret = created["reporter_link"]
            .as_str()
            .and_then(|link| link.rsplit('/').next())
            .expect("secret")
            .to_owned();
        let reporter = app.api("none");
        let (status, shown) = reporter.get(&format!("/api/v1/reporter/{secret}")).await;
        assert_eq!(status, StatusCode::OK, "{shown}");
        assert_eq!(shown["title"], "Second thoughts");
        let (status, _) = reporter.delete(&format!("/api/v1/reporter/{secret}")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        app.release_anonymous_loops().await;
        assert_eq!(app.db.count("SELECT COUNT(*) FROM loops").await, 0);
        assert_eq!(total(&lee).await, 0);
        let (status, _) = reporter.get(&format!("/api/v1/reporter/{secret}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
);

/// Two app servers on one PostgreSQL: each holds what it was given and writes it at its own
/// release (loops), or when it learns that the moment has come (pulse answers, unnamed cards);
/// the periodic writer (`app::HELD_WRITE_INTERVAL`) is called directly instead of waited for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_each_write_what_they_hold() {
    let Some(app) = TestApp::spawn_with(Backend::Postgres, |s| {
        s.secret_key = Some(SECRET_KEY.to_owned())
    })
    .await
    else {
        return;
    };
    let second = app
        .sibling(|s| s.secret_key = Some(SECRET_KEY.to_owned()))
        .await;
    let (lee, members) = team(&app, 5).await;

    // Anonymous loops: one held by each instance.
    let one = log_anonymously(&lee, "Held by the first").await;
    let two = log_anonymously(&second.api_as(&members[0]), "Held by the second").await;
    assert_eq!(total(&lee).await, 0, "nobody sees them before the release");
    let secret_two = two["reporter_link"]
        .as_str()
        .and_then(|link| link.rsplit('/').next())
        .expect("secret")
        .to_owned();
    let reporter_path = format!("/api/v1/reporter/{secret_two}");
    let reporter = app.api("none");
    assert_eq!(
        second.api_as(&reporter).get(&reporter_path).await.0,
        StatusCode::OK,
        "the holding instance serves the reporter's link"
    );
    assert_eq!(
        reporter.get(&reporter_path).await.0,
        StatusCode::NOT_FOUND,
        "another instance finds it only after the release"
    );
    app.release_anonymous_loops().await;
    assert_eq!(total(&lee).await, 1);
    second
        .service
        .release_held_anonymous_loops()
        .await
        .expect("second release");
    assert_eq!(total(&lee).await, 2);
    assert_eq!(reporter.get(&reporter_path).await.0, StatusCode::OK);
    for created in [&one, &two] {
        let (status, _) = lee
            .get(&format!(
                "/api/v1/teams/ops/loops/{}",
                created["id"].as_str().expect("id")
            ))
            .await;
        assert_eq!(status, StatusCode::OK);
    }

    // Pulse answers: three through the first instance, two through the second; the first
    // closes the round.
    let (status, round) = lee
        .post(
            "/api/v1/teams/ops/pulse-rounds",
            json!({"closes_on": time::OffsetDateTime::now_utc().date().to_string()}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{round}");
    let path = format!(
        "/api/v1/teams/ops/pulse-rounds/{}",
        round["id"].as_str().expect("id")
    );
    for (i, member) in members.iter().enumerate() {
        let api = if i < 3 {
            member.clone()
        } else {
            second.api_as(member)
        };
        let (status, body) = api
            .post(
                &format!("{path}/answers"),
                json!({"answers": [4, 4, 4, 4, 4, 4, 4]}),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let (status, body) = lee.post(&format!("{path}/close"), json!({})).await;
    assert!(status.is_success(), "{status} {body}");
    assert_eq!(
        app.db.count("SELECT COUNT(*) FROM pulse_answers").await,
        3,
        "the first instance wrote what it held"
    );
    let (_, view) = lee.get(&path).await;
    assert_eq!(
        view["results"],
        Value::Null,
        "three answers are below the threshold"
    );
    second
        .service
        .write_due_answers()
        .await
        .expect("the second instance writes its answers");
    assert_eq!(app.db.count("SELECT COUNT(*) FROM pulse_answers").await, 5);
    let (_, view) = lee.get(&path).await;
    assert_eq!(view["results"]["responses"], 5, "{view}");

    // Unnamed review cards: two written through the second instance, one through the first,
    // which reveals them.
    let (status, subject) = lee
        .post(
            "/api/v1/teams/ops/loops",
            json!({"title": "Review subject", "what_happened": "The queue backed up."}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{subject}");
    let (status, started) = lee
        .post(
            "/api/v1/teams/ops/reviews",
            json!({"loop_id": subject["id"], "dots": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let base = format!(
        "/api/v1/teams/ops/reviews/{}",
        started["id"].as_str().expect("id")
    );
    for member in &members[..2] {
        let (status, body) = member
            .post(&format!("{base}/participants"), json!({}))
            .await;
        assert!(status.is_success(), "{status} {body}");
    }
    let (status, body) = lee
        .post(&format!("{base}/advance"), json!({"from": "open_actions"}))
        .await;
    assert!(status.is_success(), "{status} {body}");
    let writers = [
        lee.clone(),
        second.api_as(&members[0]),
        second.api_as(&members[1]),
    ];
    for (i, api) in writers.iter().enumerate() {
        let (status, card) = api
            .post(
                &format!("{base}/cards"),
                json!({"kind": "observation", "text": format!("card {i}"), "show_name": false}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{card}");
    }
    for api in [&lee, &members[0], &members[1]] {
        let (status, body) = api
            .send(
                reqwest::Method::PUT,
                &format!("{base}/done"),
                Some(json!({"done": true})),
            )
            .await;
        assert!(status.is_success(), "{status} {body}");
    }
    let (_, view) = lee.get(&base).await;
    assert_eq!(view["phase"], "reveal", "{view}");
    assert_eq!(
        view["cards"].as_array().map(Vec::len),
        Some(1),
        "the second instance still holds two cards"
    );
    second
        .service
        .write_due_items()
        .await
        .expect("the second instance writes its cards");
    let (_, view) = lee.get(&base).await;
    assert_eq!(view["cards"].as_array().map(Vec::len), Some(3), "{view}");
}
