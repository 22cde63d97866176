//! Issue 19, "My work": the home page lists what waits on the signed-in person across their
//! teams — their open action items (overdue first), the loops they logged, review sessions,
//! an unanswered pulse round, decisions near — and, for a lead, the team's stuck loops and
//! overdue actions. Never another team's, and never an anonymous loop as anyone's. The clock
//! is the service's, moved by the test.

use failforward::service::SetClock;
use reqwest::StatusCode;
use serde_json::json;
use time::{Duration, OffsetDateTime, Time};

use crate::experiments::{design, prepared};
use crate::helpers::{Api, Backend, TestApp};

async fn user_id(api: &Api, name: &str) -> String {
    let (_, members) = api.get("/api/v1/teams/ops/members").await;
    members
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["name"] == name)
        .and_then(|m| m["user_id"].as_str())
        .expect("member")
        .to_owned()
}

async fn log(api: &Api, title: &str, anonymous: bool) -> String {
    let (status, created) = api
        .post(
            "/api/v1/teams/ops/loops",
            json!({"title": title, "what_happened": "It broke.", "anonymous": anonymous}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_str().expect("id").to_owned()
}

async fn action(api: &Api, loop_id: &str, title: &str, owner: &str, due: Option<String>) {
    let mut body = json!({"title": title, "owner_id": owner});
    if let Some(due) = due {
        body["due_on"] = json!(due);
    }
    let (status, answer) = api
        .post(&format!("/api/v1/teams/ops/loops/{loop_id}/actions"), body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

/// The part of the home page under the heading with `id`, up to the next heading.
fn section<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("{id} on the page"));
    let rest = &page[start..];
    let end = rest[1..].find("<h3").map_or(rest.len(), |i| i + 1);
    &rest[..end]
}

fn position(text: &str, needle: &str) -> usize {
    text.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} in {text}"))
}

async fn my_work_lists_what_waits_on_each_person(backend: Backend) {
    let start = OffsetDateTime::now_utc().replace_time(Time::from_hms(10, 0, 0).expect("10:00"));
    let clock = SetClock::at(start);
    let Some(app) = TestApp::spawn_with_clock(backend, clock.clone()).await else {
        return;
    };
    app.create_user("root@example.org", "Root Admin", true)
        .await;
    app.create_user("lee@example.org", "Lee Lead", false).await;
    app.create_user("mo@example.org", "Mo Member", false).await;
    app.create_user("sam@example.org", "Sam Elsewhere", false)
        .await;
    let lee = app.token_for("lee@example.org").await;
    let mo = app.token_for("mo@example.org").await;
    let sam = app.token_for("sam@example.org").await;
    lee.post("/api/v1/teams", json!({"name": "Ops"})).await;
    lee.post(
        "/api/v1/teams/ops/members",
        json!({"email": "mo@example.org", "role": "member"}),
    )
    .await;
    sam.post("/api/v1/teams", json!({"name": "Sec"})).await;
    let (status, _) = lee
        .patch("/api/v1/teams/ops", json!({"stuck_after_days": 2}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let mo_id = user_id(&lee, "Mo Member").await;
    let lee_id = user_id(&lee, "Lee Lead").await;

    let named = log(&mo, "Named quokka loop by Mo", false).await;
    log(&mo, "Anonymous wombat loop", true).await;
    app.release_anonymous_loops().await;
    let today = start.date();
    action(&lee, &named, "Undated numbat action", &mo_id, None).await;
    action(
        &lee,
        &named,
        "Soon bilby action",
        &mo_id,
        Some((today + Duration::days(6)).to_string()),
    )
    .await;
    action(
        &lee,
        &named,
        "Late dingo action",
        &mo_id,
        Some("2020-01-31".to_owned()),
    )
    .await;
    action(&lee, &named, "Own emu action of Lee", &lee_id, None).await;
    let (status, review) = lee
        .post(
            "/api/v1/teams/ops/reviews",
            json!({"loop_id": named, "dots": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{review}");
    let (status, round) = lee
        .post(
            "/api/v1/teams/ops/pulse-rounds",
            json!({"closes_on": (today + Duration::days(7)).to_string()}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{round}");
    let experiment = prepared(&lee, design("Kookaburra pilot", 0, 0)).await;
    let (status, _) = lee
        .post(
            &format!("/api/v1/teams/ops/experiments/{experiment}/start"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Three days on: Mo's loop is stuck (the team says two days) and the decision is overdue.
    clock.advance(Duration::days(3));
    let web_mo = app.sign_in("mo@example.org").await;
    let (status, page) = web_mo.get_text("/").await;
    assert_eq!(status, StatusCode::OK);
    let actions = section(&page, "work-actions");
    assert!(actions.contains("(3)"), "{actions}");
    let (late, soon, undated) = (
        position(actions, "Late dingo action"),
        position(actions, "Soon bilby action"),
        position(actions, "Undated numbat action"),
    );
    assert!(late < soon && soon < undated, "overdue, then by due date");
    assert!(actions.contains("overdue"));
    assert!(
        !actions.contains("emu"),
        "someone else's action is not mine"
    );
    let loops = section(&page, "work-loops");
    assert!(
        loops.contains("Mo&#x27;s named quokka loop") || loops.contains("Named quokka loop by Mo"),
        "{loops}"
    );
    assert!(loops.contains("Stuck: 3 days"), "{loops}");
    assert!(!page.contains("wombat"), "an anonymous loop is never mine");
    let reviews = section(&page, "work-reviews");
    assert!(reviews.contains("you are invited"), "{reviews}");
    let rounds = section(&page, "work-rounds");
    assert!(
        rounds.contains(round["id"].as_str().expect("round")),
        "{rounds}"
    );
    let decisions = section(&page, "work-decisions");
    assert!(decisions.contains("Kookaburra pilot") && decisions.contains("decision overdue"));
    assert!(!page.contains("Teams I lead"), "Mo leads no team");

    // Lee leads Ops: the team's stuck loops (the anonymous one among them, as the team's) and
    // overdue actions; Lee's own action is Lee's.
    let web_lee = app.sign_in("lee@example.org").await;
    let (_, page) = web_lee.get_text("/").await;
    let actions = section(&page, "work-actions");
    assert!(
        actions.contains("(1)") && actions.contains("emu"),
        "{actions}"
    );
    assert!(!page.contains("id=\"work-loops\""), "Lee logged no loop");
    let led = &page[position(&page, "Teams I lead")..];
    assert!(led.contains("Late dingo action") && led.contains("Stuck: 3 days"));
    assert!(
        led.contains("wombat"),
        "the team's stuck loops include anonymous ones"
    );

    // Sam is in another team: none of it.
    let web_sam = app.sign_in("sam@example.org").await;
    let (_, page) = web_sam.get_text("/").await;
    assert!(page.contains("Nothing is waiting on you"), "{page}");
    for word in ["quokka", "wombat", "dingo", "Kookaburra", "Pulse of Ops"] {
        assert!(!page.contains(word), "{word} is not Sam's");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_work_lists_what_waits_on_each_person_sqlite() {
    my_work_lists_what_waits_on_each_person(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_work_lists_what_waits_on_each_person_postgres() {
    my_work_lists_what_waits_on_each_person(Backend::Postgres).await;
}
