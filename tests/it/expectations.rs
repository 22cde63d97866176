//! Issue 24, expectations: leads write, change, revisit and retire a team's expectations;
//! members acknowledge them once a quarter and comment, named or unnamed. The measurable ones
//! show the team's figure from its own records; an unnamed comment leaves no author, no time of
//! day and no order in the database; the revisit reminder appears when the quarter changes (the
//! service clock moves, nothing is back-dated).

use failforward::service::SetClock;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use time::macros::datetime;

use crate::helpers::{Api, Backend, TestApp};

const BASE: &str = "/api/v1/teams/ops/expectations";

/// An admin, lead Lee, members Mo and Sam in team "ops"; returns (lee, mo, sam).
async fn people(app: &TestApp) -> (Api, Api, Api) {
    app.create_user("root@example.org", "Root Admin", true)
        .await;
    app.create_user("lee@example.org", "Lee Lead", false).await;
    app.create_user("mo@example.org", "Mo Member", false).await;
    app.create_user("sam@example.org", "Sam Member", false)
        .await;
    let lee = app.token_for("lee@example.org").await;
    let mo = app.token_for("mo@example.org").await;
    let sam = app.token_for("sam@example.org").await;
    let (status, _) = lee.post("/api/v1/teams", json!({"name": "Ops"})).await;
    assert_eq!(status, StatusCode::CREATED);
    for email in ["mo@example.org", "sam@example.org"] {
        let (status, _) = lee
            .post(
                "/api/v1/teams/ops/members",
                json!({"email": email, "role": "member"}),
            )
            .await;
        assert!(status.is_success(), "{email}: {status}");
    }
    (lee, mo, sam)
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("errors in {problem}"))
        .iter()
        .filter_map(|e| e["field"].as_str().map(str::to_owned))
        .collect()
}

async fn list(api: &Api) -> Value {
    let (status, list) = api.get(BASE).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list
}

fn first(list: &Value) -> &Value {
    &list["expectations"][0]
}

async fn user_id(api: &Api) -> String {
    let (_, me) = api.get("/api/v1/me").await;
    me["id"].as_str().expect("id").to_owned()
}

/// Runs `failforward expectation` against the app with `api`'s token.
fn cli(app: &TestApp, api: &Api, args: &[&str]) -> (i32, String, String) {
    app.client_cli(&api.token, &[&["expectation"], args].concat())
}

async fn expectations_story(backend: Backend) {
    let clock = SetClock::at(datetime!(2026-11-10 10:00 UTC));
    let Some(app) = TestApp::spawn_with_clock(backend, clock.clone()).await else {
        return;
    };
    let (lee, mo, sam) = people(&app).await;
    let text = "We log a failure within a day of noticing it";
    let measured = json!({"text": text, "measure": {"kind": "days_to_log_failure", "target": 1}});

    // Only leads write; bad input is named field by field.
    let (status, _) = mo.post(BASE, measured.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a member cannot write one");
    let (status, problem) = lee
        .post(
            BASE,
            json!({"text": "  ", "measure": {"kind": "days_to_log_failure", "target": 101}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(fields(&problem), vec!["text", "target"]);
    let (status, problem) = lee
        .post(
            BASE,
            json!({"text": "x", "measure": {"kind": "happiness", "target": 1}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (status, created) = lee.post(BASE, measured).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(created["progress"]["figure"], Value::Null, "no loops yet");

    // Progress: loops noticed 3 days, 1 day 2 hours and 0 days before being logged.
    let noticed = [
        "2026-11-07T10:00:00Z",
        "2026-11-09T08:00:00Z",
        "2026-11-10T09:00:00Z",
    ];
    for (i, at) in noticed.iter().enumerate() {
        let (status, answer) = mo
            .post(
                "/api/v1/teams/ops/loops",
                json!({"title": format!("Loop {i}"), "what_happened": "It did not go as hoped.", "noticed_at": at}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    let mut days = [3_i64, 1, 0];
    days.sort_unstable();
    let median = days[days.len() / 2] as f64;
    let seen = list(&mo).await;
    let progress = &first(&seen)["progress"];
    assert_eq!(progress["figure"].as_f64(), Some(median), "{progress}");
    assert_eq!(progress["met"], json!(true), "median 1 ≤ 1");
    assert_eq!(progress["period"], "2026-Q4");
    assert_eq!(seen["can_manage"], json!(false));

    // Acknowledgements: one per member and quarter, named.
    for _ in 0..2 {
        let (status, answer) = mo
            .post(&format!("{BASE}/{id}/acknowledgements"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let (status, answer) = sam
        .post(&format!("{BASE}/{id}/acknowledgements"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["acknowledgements"], json!(2));
    assert_eq!(answer["acknowledged_by_me"], json!(true));
    assert_eq!(first(&list(&lee).await)["acknowledged_by_me"], json!(false));

    // Comments: a named one at once; an unnamed one after the day's release, with no author.
    let (status, answer) = mo
        .post(&format!("{BASE}/{id}/comments"), json!({"text": "Agreed."}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["status"], "written");
    let secret = "A day is short when the pager is loud";
    let (status, answer) = sam
        .post(
            &format!("{BASE}/{id}/comments"),
            json!({"text": secret, "unnamed": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["status"], "held_until_midnight");
    assert_eq!(
        app.db
            .count("SELECT COUNT(*) FROM expectation_comments WHERE author_id IS NULL")
            .await,
        0,
        "held, not written, until the day's release"
    );
    app.release_anonymous_loops().await;
    let comments = first(&list(&lee).await)["comments"].clone();
    let unnamed = comments
        .as_array()
        .expect("comments")
        .iter()
        .find(|c| c["text"] == secret)
        .unwrap_or_else(|| panic!("{comments}"))
        .clone();
    assert_eq!(unnamed["author"], Value::Null);
    assert_eq!(unnamed["written_on"], "2026-11-10");
    let sam_id = user_id(&sam).await;
    let rows = app
        .db
        .dump("SELECT * FROM expectation_comments WHERE author_id IS NULL")
        .await;
    assert_eq!(rows.len(), 1);
    for (column, value) in &rows[0] {
        assert!(!value.contains(&sam_id), "{column} names the writer");
        if column == "written_on" {
            let seconds: i64 = value.parse().expect("seconds");
            assert_eq!(seconds % 86_400, 0, "only the day is kept");
        }
    }
    let named = app
        .db
        .count("SELECT COUNT(*) FROM expectation_comments WHERE author_id IS NOT NULL")
        .await;
    assert_eq!(named, 1);

    // The page, with the Pygmalion help, reachable from the team's page.
    let browser = app.sign_in("lee@example.org").await;
    let (status, team_page) = browser.get_text("/teams/ops").await;
    assert_eq!(status, StatusCode::OK);
    assert!(team_page.contains("/teams/ops/expectations"));
    let (status, page) = browser.get_text("/teams/ops/expectations").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(text) && page.contains("Pygmalion") && page.contains("unnamed"));
    assert!(!page.contains("Time to revisit"));
    assert!(!team_page.contains("expectations-revisit"));

    // A new quarter: leads are reminded; acknowledgements start again; revisiting ends it.
    clock.set(datetime!(2027-01-04 09:00 UTC));
    let seen = list(&lee).await;
    assert_eq!(seen["revisit_due"], json!(true), "{seen}");
    assert_eq!(first(&seen)["needs_revisit"], json!(true));
    assert_eq!(first(&seen)["acknowledgements"], json!(0));
    assert_eq!(list(&mo).await["revisit_due"], json!(false), "leads only");
    // Two months on, the earlier session has lapsed: sign in again.
    let browser = app.sign_in("lee@example.org").await;
    let (status, page) = browser.get_text("/teams/ops/expectations").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Time to revisit"), "{page}");
    let (_, team_page) = browser.get_text("/teams/ops").await;
    assert!(
        team_page.contains("id=\"expectations-revisit\""),
        "{team_page}"
    );
    let mo_browser = app.sign_in("mo@example.org").await;
    let (_, members_view) = mo_browser.get_text("/teams/ops").await;
    assert!(!members_view.contains("expectations-revisit"), "leads only");
    let (status, _) = mo.post(&format!("{BASE}/{id}/revisit"), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, answer) = lee.post(&format!("{BASE}/{id}/revisit"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["needs_revisit"], json!(false));
    assert_eq!(list(&lee).await["revisit_due"], json!(false));
    let (_, team_page) = browser.get_text("/teams/ops").await;
    assert!(!team_page.contains("expectations-revisit"), "{team_page}");

    // Changing and retiring are the leads' too.
    let (status, _) = mo
        .send(
            Method::PUT,
            &format!("{BASE}/{id}"),
            Some(json!({"text": "Changed"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, answer) = lee
        .send(
            Method::PUT,
            &format!("{BASE}/{id}"),
            Some(json!({"text": "We ask for help early"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["measure"], Value::Null);

    // The command line.
    let (code, out, err) = cli(&app, &mo, &["--team", "ops", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("We ask for help early"), "{out}");
    let (code, _, err) = cli(&app, &mo, &["--team", "ops", "add", "Mine"]);
    assert_ne!(code, 0);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let (code, _, err) = cli(
        &app,
        &lee,
        &[
            "--team",
            "ops",
            "add",
            "x",
            "--measure",
            "bogus",
            "--target",
            "1",
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("--measure"), "{err}");
    let (code, out, err) = cli(
        &app,
        &lee,
        &[
            "--team",
            "ops",
            "add",
            "Each of us runs one small experiment a quarter",
            "--measure",
            "experiments_per_member_per_quarter",
            "--target",
            "1",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let new_id = out.split_whitespace().next().expect("id").to_owned();
    let (code, _, err) = cli(&app, &sam, &["--team", "ops", "ack", &new_id]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = cli(
        &app,
        &sam,
        &[
            "--team",
            "ops",
            "comment",
            &new_id,
            "Fine by me",
            "--unnamed",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("midnight"), "{out}");

    // Recognition can name the expectation it honours: one of the same team's only.
    let (status, _) = lee.post("/api/v1/teams", json!({"name": "Dev"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, foreign) = lee
        .post(
            "/api/v1/teams/dev/expectations",
            json!({"text": "We pair on risky changes"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{foreign}");
    let recognition = |expectation: &str| {
        json!({"receiver_id": sam_id, "behaviour": "Sam asked for help on day one.",
               "impact": "The outage was short.", "expectation_id": expectation})
    };
    let foreign_id = foreign["id"].as_str().expect("id");
    let (status, problem) = mo
        .post("/api/v1/teams/ops/recognitions", recognition(foreign_id))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(fields(&problem), vec!["expectation_id"]);
    let (status, answer) = mo
        .post("/api/v1/teams/ops/recognitions", recognition(&id))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, feed) = mo.get("/api/v1/teams/ops/recognitions").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(feed[0]["expectation_id"], json!(id), "{feed}");
    assert_eq!(feed[0]["expectation"], "We ask for help early");

    let (status, _) = mo.post(&format!("{BASE}/{id}/retire"), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = lee.post(&format!("{BASE}/{id}/retire"), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let seen = list(&lee).await;
    assert_eq!(seen["expectations"].as_array().map(Vec::len), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    expectations_story(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    expectations_story(Backend::Postgres).await;
}
