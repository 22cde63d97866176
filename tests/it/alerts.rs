//! Issue 21: alert intake → Detect. The providers' documented payloads (fixtures under
//! tests/data/alerts/, written by us from their docs' shapes) open loops at Detect, a re-fired
//! group adds to its loop within the window and opens a new one after it, a resolution adds a
//! timeline entry, and a bad token or signature gets 401 problem+json with nothing written.
//! Both databases; time moves through the app's clock.

use failforward::domain::alerts::pagerduty_signature;
use failforward::service::SetClock;
use reqwest::StatusCode;
use serde_json::{json, Value};
use time::Duration;

use crate::helpers::{Api, Backend, TestApp};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/alerts/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn team(app: &TestApp) -> (Api, Api) {
    app.create_user("root@example.org", "Root", true).await;
    app.create_user("lee@example.org", "Lee Lead", false).await;
    app.create_user("mo@example.org", "Mo Member", false).await;
    let lee = app.token_for("lee@example.org").await;
    let mo = app.token_for("mo@example.org").await;
    let (status, _) = lee.post("/api/v1/teams", json!({"name": "Ops"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = lee
        .post(
            "/api/v1/teams/ops/members",
            json!({"email": "mo@example.org", "role": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    (lee, mo)
}

/// Posts `body` to the team's intake for `provider` with the given headers.
async fn post_alert(
    app: &TestApp,
    provider: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (StatusCode, String, Value) {
    let mut request = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/teams/ops/alerts/{provider}")))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("intake request");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = response.text().await.expect("body");
    (
        status,
        content_type,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

async fn loop_count(app: &TestApp) -> i64 {
    app.db.count("SELECT COUNT(*) FROM loops").await
}

async fn intake(backend: Backend) {
    let clock = SetClock::starting_now();
    let Some(app) = TestApp::spawn_with_clock_and(backend, clock.clone(), |settings| {
        settings.policy.alert_dedup_window = Duration::hours(1);
    })
    .await
    else {
        return;
    };
    let (lee, mo) = team(&app).await;

    // Only the team's leads set up the intake.
    let (status, refused) = mo.post("/api/v1/teams/ops/alert-intake", json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let (status, set_up) = lee
        .post(
            "/api/v1/teams/ops/alert-intake",
            json!({"pagerduty_secret": "pd-signing-secret"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{set_up}");
    let token = set_up["token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("ffa_"), "{token}");
    assert!(set_up["alertmanager_url"]
        .as_str()
        .is_some_and(|url| url.ends_with("/api/v1/teams/ops/alerts/alertmanager")));
    let bearer = format!("Bearer {token}");

    // A bad token, a missing one, a bad signature: 401 problem+json and nothing written.
    let firing = fixture("alertmanager-firing.json");
    for headers in [
        vec![("authorization", "Bearer ffa_wrong")],
        vec![],
        vec![("authorization", "Bearer ffp_someone_elses")],
    ] {
        let (status, content_type, problem) =
            post_alert(&app, "alertmanager", &headers, &firing).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
        assert_eq!(content_type, "application/problem+json");
    }
    let triggered = fixture("pagerduty-triggered.json");
    let forged = pagerduty_signature("not-the-secret", &triggered);
    let (status, _, _) = post_alert(
        &app,
        "pagerduty",
        &[("x-pagerduty-signature", forged.as_str())],
        &triggered,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The intake token does not stand in for PagerDuty's signature.
    let (status, _, _) = post_alert(
        &app,
        "pagerduty",
        &[("authorization", bearer.as_str())],
        &triggered,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(loop_count(&app).await, 0, "a refused alert wrote a loop");
    assert_eq!(
        app.db
            .count("SELECT COUNT(*) FROM alert_fingerprints")
            .await,
        0
    );

    // Alertmanager: the group opens a loop at Detect with its times.
    let (status, _, opened) = post_alert(
        &app,
        "alertmanager",
        &[("authorization", bearer.as_str())],
        &firing,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{opened}");
    assert_eq!(opened["outcome"], "opened");
    let loop_id = opened["loop_id"].as_str().expect("loop id").to_owned();
    let (status, story) = lee.get(&format!("/api/v1/teams/ops/loops/{loop_id}")).await;
    assert_eq!(status, StatusCode::OK, "{story}");
    assert_eq!(
        story["title"],
        "Checkout API answers 5xx to more than 5% of requests"
    );
    assert_eq!(story["stage"], "detect");
    assert_eq!(story["happened_at"], "2026-03-02T09:14:05Z");
    assert!(story["what_happened"]
        .as_str()
        .is_some_and(|text| text.contains("checkout-7f9c") && text.contains("checkout-2b1d")));

    // Re-fired within the window: the same loop, a timeline entry; no second loop.
    clock.advance(Duration::minutes(30));
    let (_, _, again) = post_alert(
        &app,
        "alertmanager",
        &[("authorization", bearer.as_str())],
        &firing,
    )
    .await;
    assert_eq!(again["outcome"], "refired", "{again}");
    assert_eq!(again["loop_id"], loop_id.as_str());
    assert_eq!(loop_count(&app).await, 1);

    // Resolved: a timeline entry on the same loop.
    let resolved = fixture("alertmanager-resolved.json");
    let (_, _, done) = post_alert(
        &app,
        "alertmanager",
        &[("authorization", bearer.as_str())],
        &resolved,
    )
    .await;
    assert_eq!(done["outcome"], "resolved", "{done}");
    let (_, story) = lee.get(&format!("/api/v1/teams/ops/loops/{loop_id}")).await;
    let timeline: Vec<&str> = story["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|entry| entry["description"].as_str())
        .collect();
    assert_eq!(timeline.len(), 2, "{timeline:?}");
    assert!(timeline.iter().any(|d| d.starts_with("Alert fired again")));
    assert!(timeline.iter().any(|d| d.starts_with("Alert resolved")));

    // After the window, the same group is a new failure.
    clock.advance(Duration::hours(2));
    let (_, _, later) = post_alert(
        &app,
        "alertmanager",
        &[("authorization", bearer.as_str())],
        &firing,
    )
    .await;
    assert_eq!(later["outcome"], "opened", "{later}");
    assert_ne!(later["loop_id"], loop_id.as_str());
    assert_eq!(loop_count(&app).await, 2);

    // PagerDuty, signed with the secret PagerDuty gave the lead.
    let signature = pagerduty_signature("pd-signing-secret", &triggered);
    let (status, _, paged) = post_alert(
        &app,
        "pagerduty",
        &[("x-pagerduty-signature", signature.as_str())],
        &triggered,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{paged}");
    assert_eq!(paged["outcome"], "opened");
    let (_, story) = lee
        .get(&format!(
            "/api/v1/teams/ops/loops/{}",
            paged["loop_id"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(story["title"], "Payments queue is not draining");
    assert_eq!(story["happened_at"], "2026-03-02T10:02:11Z");
    assert_eq!(story["noticed_at"], "2026-03-02T10:02:13Z");

    // Opsgenie and the generic shape, with the token.
    for (provider, name, title) in [
        ("opsgenie", "opsgenie-create.json", "Disk on db-2 above 90%"),
        (
            "generic",
            "generic.json",
            "Nightly backup of the orders database failed",
        ),
    ] {
        let (status, _, taken) = post_alert(
            &app,
            provider,
            &[("authorization", bearer.as_str())],
            &fixture(name),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{provider}: {taken}");
        let (_, story) = lee
            .get(&format!(
                "/api/v1/teams/ops/loops/{}",
                taken["loop_id"].as_str().unwrap_or_default()
            ))
            .await;
        assert_eq!(story["title"], title, "{provider}");
    }
    let (_, _, closed) = post_alert(
        &app,
        "opsgenie",
        &[("authorization", bearer.as_str())],
        &fixture("opsgenie-close.json"),
    )
    .await;
    assert_eq!(closed["outcome"], "resolved", "{closed}");
    assert_eq!(loop_count(&app).await, 5);

    // A body the provider's shape does not read: 422 naming the body, nothing written.
    let (status, _, problem) = post_alert(
        &app,
        "generic",
        &[("authorization", bearer.as_str())],
        br#"{"title":"no fingerprint"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "body", "{problem}");
    assert_eq!(loop_count(&app).await, 5);

    // A new token voids the old one.
    let (status, _) = lee.post("/api/v1/teams/ops/alert-intake", json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _, _) = post_alert(
        &app,
        "generic",
        &[("authorization", bearer.as_str())],
        &fixture("generic.json"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_open_deduplicate_and_resolve_loops_sqlite() {
    intake(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_open_deduplicate_and_resolve_loops_postgres() {
    intake(Backend::Postgres).await;
}

/// Eight deliveries of one new alert group at the same instant open one loop: one of them
/// claims the group and opens it, the others wait for that loop and add a timeline entry.
async fn simultaneous_deliveries(backend: Backend) {
    let clock = SetClock::starting_now();
    let Some(app) = TestApp::spawn_with_clock(backend, clock.clone()).await else {
        return;
    };
    let (lee, _) = team(&app).await;
    let (status, set_up) = lee.post("/api/v1/teams/ops/alert-intake", json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{set_up}");
    let bearer = format!("Bearer {}", set_up["token"].as_str().expect("token"));
    let body = serde_json::to_vec(&json!({
        "fingerprint": "disk-full-db1",
        "title": "Disk full on db1",
        "status": "firing",
    }))
    .expect("JSON");
    let headers = [("authorization", bearer.as_str())];
    let deliveries = (0..8).map(|_| post_alert(&app, "generic", &headers, &body));
    let answers = futures_util::future::join_all(deliveries).await;
    let mut opened = 0;
    let mut loops = std::collections::BTreeSet::new();
    for (status, _, answer) in &answers {
        assert_eq!(*status, StatusCode::ACCEPTED, "{answer}");
        if answer["outcome"] == "opened" {
            opened += 1;
        } else {
            assert_eq!(answer["outcome"], "refired", "{answer}");
        }
        loops.insert(answer["loop_id"].as_str().expect("loop").to_owned());
    }
    assert_eq!(opened, 1, "{answers:?}");
    assert_eq!(
        loops.len(),
        1,
        "every delivery names the one loop: {answers:?}"
    );
    assert_eq!(loop_count(&app).await, 1);
    assert_eq!(
        app.db.count("SELECT COUNT(*) FROM alert_openings").await,
        0,
        "no claim is left behind"
    );
    // After the window the group opens a new loop again, once.
    clock.advance(Duration::days(2));
    let headers = [("authorization", bearer.as_str())];
    let deliveries = (0..8).map(|_| post_alert(&app, "generic", &headers, &body));
    let answers = futures_util::future::join_all(deliveries).await;
    assert_eq!(
        answers
            .iter()
            .filter(|(_, _, answer)| answer["outcome"] == "opened")
            .count(),
        1,
        "{answers:?}"
    );
    assert_eq!(loop_count(&app).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_deliveries_of_a_new_group_open_one_loop_sqlite() {
    simultaneous_deliveries(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_deliveries_of_a_new_group_open_one_loop_postgres() {
    simultaneous_deliveries(Backend::Postgres).await;
}
