//! What the server holds in memory before writing it (`service::held`): anonymous loops until
//! the end of the UTC day, pulse answers until their round closes, unnamed review cards until
//! their reveal — written at a graceful stop, and on several instances by each instance for
//! what it holds.

use reqwest::StatusCode;
use serde_json::{json, Value};

use failforward::service::held::Limits;

use crate::helpers::{location, Api, Backend, TestApp};

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
    let (status, subject) = lee
        .post(
            "/api/v1/teams/ops/loops",
            json!({"title": "Named subject", "what_happened": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{subject}");
    log_anonymously(&lee, "Held until the stop").await;
    log_anonymously(&members[0], "Also held").await;
    let (status, body) = members[0]
        .post(
            &format!(
                "/api/v1/teams/ops/loops/{}/accounts",
                subject["id"].as_str().expect("id")
            ),
            json!({"actions": "I restarted the export.", "anonymous": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let text = "The root cause was the cron schedule.";
    let (_, report) = members[0].post("/api/v1/lint", json!({"text": text})).await;
    let finding = report["findings"][0].clone();
    let (status, body) = members[0]
        .post(
            "/api/v1/lint/dismissals",
            json!({"text": text, "rule": finding["rule"], "start": finding["start"], "reason": "Quoted."}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(app.db.count("SELECT COUNT(*) FROM loops").await, 1);
    assert_eq!(
        app.db
            .count("SELECT COUNT(*) FROM participant_accounts")
            .await,
        0
    );
    assert_eq!(
        app.db.count("SELECT COUNT(*) FROM lint_dismissals").await,
        0
    );
    stop.send(()).expect("the server is running");
    task.await.expect("task").expect("the server stops cleanly");
    assert_eq!(
        app.db
            .count("SELECT COUNT(*) FROM loops WHERE anonymous AND author_id IS NULL")
            .await,
        2,
        "a graceful stop writes the held anonymous loops"
    );
    assert_eq!(
        app.db
            .count(
                "SELECT COUNT(*) FROM participant_accounts WHERE anonymous AND author_id IS NULL"
            )
            .await,
        1,
        "and the held unnamed account"
    );
    assert_eq!(
        app.db
            .count("SELECT COUNT(*) FROM lint_dismissals WHERE dismissed_by IS NULL")
            .await,
        1,
        "and the held dismissal"
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

crate::story!(
    an_unnamed_account_is_held_until_the_release,
    |app: TestApp| async move {
        let (lee, members) = team(&app, 1).await;
        let (status, subject) = lee
            .post(
                "/api/v1/teams/ops/loops",
                json!({"title": "The export stalled", "what_happened": "x"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{subject}");
        let id = subject["id"].as_str().expect("id").to_owned();
        let path = format!("/api/v1/teams/ops/loops/{id}/accounts");
        let (status, shown) = members[0]
            .post(
                &path,
                json!({"actions": "I restarted it at once.", "anonymous": true}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{shown}");
        assert_eq!(shown["accounts"], json!([]), "not shown before the release");
        let (status, shown) = members[0]
            .post(&path, json!({"actions": "I watched the queue."}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{shown}");
        assert_eq!(
            shown["accounts"].as_array().map(Vec::len),
            Some(1),
            "a named account shows at once"
        );
        assert_eq!(
            app.db
                .count("SELECT COUNT(*) FROM participant_accounts WHERE author_id IS NULL")
                .await,
            0,
            "nothing of the unnamed account is written before the release"
        );
        // The web form says when it appears.
        let web = app.sign_in("m0@example.org").await;
        let page_path = format!("/teams/ops/loops/{id}");
        let response = web
            .submit(
                &page_path,
                &format!("{page_path}/accounts"),
                &[("actions", "I paged the on-call."), ("anonymous", "on")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let (_, page) = web.get_text(&location(&response)).await;
        assert!(
            page.contains("Your unnamed account appears here after midnight UTC"),
            "{page}"
        );
        assert!(page.contains("An anonymous account is kept on the server"));
        app.release_anonymous_loops().await;
        let (_, shown) = lee.get(&format!("/api/v1/teams/ops/loops/{id}")).await;
        let accounts = shown["accounts"].as_array().cloned().unwrap_or_default();
        assert_eq!(accounts.len(), 3, "{shown}");
        assert_eq!(
            accounts.iter().filter(|a| a["anonymous"] == true).count(),
            2
        );
        assert!(accounts
            .iter()
            .filter(|a| a["anonymous"] == true)
            .all(|a| a["author"].is_null()));
    }
);

/// Small limits, so that a test reaches each of them.
const LIMITS: Limits = Limits {
    total_bytes: 30_000,
    person_bytes_per_day: 12_000,
    loops_per_day: 2,
    additions_per_loop: 2,
};

async fn refused(api: &Api, path: &str, body: Value) -> String {
    let (status, problem) = api.post(path, body).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{problem}");
    assert_eq!(problem["code"], "too_much_held", "{problem}");
    problem["detail"].as_str().expect("detail").to_owned()
}

async fn held_content_is_bounded(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| s.policy.held_limits = LIMITS).await else {
        return;
    };
    let (lee, members) = team(&app, 5).await;
    let (status, subject) = lee
        .post(
            "/api/v1/teams/ops/loops",
            json!({"title": "Subject", "what_happened": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{subject}");
    let accounts = format!(
        "/api/v1/teams/ops/loops/{}/accounts",
        subject["id"].as_str().expect("id")
    );
    let long =
        |who: usize| json!({"actions": format!("{who} {}", "a".repeat(5000)), "anonymous": true});

    // Anonymous loops a day, per person; a named loop is still taken.
    let first = log_anonymously(&members[0], "One").await;
    log_anonymously(&members[0], "Two").await;
    let why = refused(
        &members[0],
        "/api/v1/teams/ops/loops",
        json!({"title": "Three", "what_happened": "x", "anonymous": true}),
    )
    .await;
    assert!(why.contains("2 anonymous loops today"), "{why}");
    let (status, _) = members[0]
        .post(
            "/api/v1/teams/ops/loops",
            json!({"title": "Three, named", "what_happened": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    log_anonymously(&members[1], "Someone else's").await;

    // What a reporter adds through one link.
    let secret = first["reporter_link"]
        .as_str()
        .and_then(|link| link.rsplit('/').next())
        .expect("secret")
        .to_owned();
    let reporter = app.api("none");
    let additions = format!("/api/v1/reporter/{secret}/additions");
    for _ in 0..2 {
        let (status, body) = reporter.post(&additions, json!({"body": "More."})).await;
        assert!(status.is_success(), "{status} {body}");
    }
    let why = refused(&reporter, &additions, json!({"body": "Even more."})).await;
    assert!(why.contains("to this report"), "{why}");

    // One person's share of a day.
    for _ in 0..2 {
        let (status, body) = members[1].post(&accounts, long(1)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let own = refused(&members[1], &accounts, long(1)).await;
    assert!(
        own.contains("as much unnamed content today as one person may"),
        "{own}"
    );

    // The instance's total: refused to someone who holds nothing, in words that say nothing of
    // whose content fills it, the same for everyone.
    for who in [2, 2, 3] {
        let (status, body) = members[who].post(&accounts, long(who)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let full = refused(&members[4], &accounts, long(4)).await;
    assert!(full.starts_with("this server holds as much"), "{full}");
    assert_eq!(refused(&members[3], &accounts, long(3)).await, full);
    for word in ["Ops", "ops", "Member", "loop", "account"] {
        assert!(!full.contains(word), "{full}");
    }

    // The release frees it.
    app.release_anonymous_loops().await;
    let (status, body) = members[4].post(&accounts, long(4)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_content_is_bounded_sqlite() {
    held_content_is_bounded(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_content_is_bounded_postgres() {
    held_content_is_bounded(Backend::Postgres).await;
}
