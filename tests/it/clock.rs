//! Issue 20: the use cases read one clock, the service's. A test moves it — no sleeping, no
//! back-dated rows — and the API and the pages follow.

use failforward::service::SetClock;
use reqwest::StatusCode;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime, Time};

use crate::helpers::{Backend, TestApp};

/// Whether an action item's row on a loop page carries the overdue badge.
fn badged_overdue(page: &str) -> bool {
    page.contains(r#"<span class="badge bad">overdue</span>"#)
}

async fn an_action_falls_overdue_the_day_after_its_due_date(backend: Backend) {
    // Ten in the morning (UTC) of the real today: the rows look like today's.
    let start = OffsetDateTime::now_utc().replace_time(Time::from_hms(10, 0, 0).expect("10:00"));
    let clock = SetClock::at(start);
    let Some(app) = TestApp::spawn_with_clock(backend, clock.clone()).await else {
        return;
    };
    app.create_user("root@example.org", "Root", true).await;
    app.create_user("lee@example.org", "Lee Lead", false).await;
    let lee = app.token_for("lee@example.org").await;
    let (status, _) = lee.post("/api/v1/teams", json!({"name": "Ops"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, created) = lee
        .post(
            "/api/v1/teams/ops/loops",
            json!({"title": "Backup restore failed", "what_happened": "Restore took 9 h", "what_was_expected": "Under 1 h"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let loop_id = created["id"].as_str().expect("id").to_owned();
    let due = start.date().to_string();
    let (status, with_action) = lee
        .post(
            &format!("/api/v1/teams/ops/loops/{loop_id}/actions"),
            json!({"title": "Rehearse restores monthly", "due_on": due}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{with_action}");
    assert_eq!(
        with_action["actions"][0]["overdue"], false,
        "due today is not overdue"
    );

    let overdue_in_api = |lee: crate::helpers::Api, loop_id: String| async move {
        let (status, listed) = lee.get("/api/v1/teams/ops/actions?status=open").await;
        assert_eq!(status, StatusCode::OK);
        let (status, detail) = lee.get(&format!("/api/v1/teams/ops/loops/{loop_id}")).await;
        assert_eq!(status, StatusCode::OK);
        let flag = |v: &Value| v["overdue"].as_bool().expect("overdue flag");
        let in_list = flag(&listed[0]);
        assert_eq!(in_list, flag(&detail["actions"][0]), "list and loop agree");
        in_list
    };

    // Late on the due day: still not overdue, in the API or on the pages.
    clock.advance(Duration::hours(13));
    assert!(!overdue_in_api(lee.clone(), loop_id.clone()).await);
    let web = app.sign_in("lee@example.org").await;
    let (_, page) = web.get_text(&format!("/teams/ops/loops/{loop_id}")).await;
    assert!(
        page.contains("Rehearse restores monthly"),
        "the action is listed"
    );
    assert!(!badged_overdue(&page), "not overdue on its due day");
    let (_, team) = web.get_text("/teams/ops").await;
    assert!(!team.contains("1 overdue"), "the team page agrees");

    // Just past midnight UTC: overdue everywhere.
    clock.advance(Duration::hours(2));
    assert!(overdue_in_api(lee.clone(), loop_id.clone()).await);
    let (_, page) = web.get_text(&format!("/teams/ops/loops/{loop_id}")).await;
    assert!(badged_overdue(&page), "overdue the day after its due date");
    let (_, team) = web.get_text("/teams/ops").await;
    assert!(team.contains("1 overdue"), "the team page counts it");

    // Done, it stops being overdue whatever the day.
    let action_id = {
        let (_, listed) = lee.get("/api/v1/teams/ops/actions?status=open").await;
        listed[0]["id"].as_str().expect("action id").to_owned()
    };
    let (status, done) = lee
        .patch(
            &format!("/api/v1/teams/ops/actions/{action_id}"),
            json!({"status": "done"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(done["overdue"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_falls_overdue_the_day_after_its_due_date_sqlite() {
    an_action_falls_overdue_the_day_after_its_due_date(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_falls_overdue_the_day_after_its_due_date_postgres() {
    an_action_falls_overdue_the_day_after_its_due_date(Backend::Postgres).await;
}
