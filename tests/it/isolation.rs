//! Teams are private: for every team-scoped page and endpoint, someone outside the team gets the
//! same 404 as for a team that does not exist, and nothing is written.
//!
//! The API side is enumerated from the OpenAPI document, so a new team-scoped endpoint is covered
//! as soon as it is documented; its path parameters must have a fixture in `fixture_for` below.

use std::collections::HashMap;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{Api, TestApp};
use crate::story;

/// Team "beta" with data of every kind, and an outsider who is a member of "alpha" only.
struct World {
    outsider: Api,
    ids: HashMap<&'static str, String>,
}

async fn build_world(app: &TestApp) -> World {
    app.create_user("root@example.org", "Root", true).await;
    app.create_user("alice@example.org", "Alice", false).await;
    app.create_user("bert@example.org", "Bert", false).await;
    let alice = app.token_for("alice@example.org").await;
    let bert = app.token_for("bert@example.org").await;
    alice.post("/api/v1/teams", json!({"name": "Alpha"})).await;
    let (status, _) = bert.post("/api/v1/teams", json!({"name": "Beta"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, me) = bert.get("/api/v1/me").await;
    let (_, invitation) = bert
        .post(
            "/api/v1/teams/beta/invitations",
            json!({"role": "member", "email": "new@example.org"}),
        )
        .await;
    let (status, created) = bert
        .post(
            "/api/v1/teams/beta/loops",
            json!({"title": "Beta's failure", "what_happened": "x", "what_was_expected": "y"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let loop_id = created["id"].as_str().expect("loop id").to_owned();
    let (_, with_factor) = bert
        .post(
            &format!("/api/v1/teams/beta/loops/{loop_id}/factors"),
            json!({"reason": "uncertainty", "description": "z"}),
        )
        .await;
    let (_, with_action) = bert
        .post(
            &format!("/api/v1/teams/beta/loops/{loop_id}/actions"),
            json!({"title": "Do it"}),
        )
        .await;
    let today = time::OffsetDateTime::now_utc().date().to_string();
    let (status, experiment) = bert
        .post(
            "/api/v1/teams/beta/experiments",
            json!({
                "title": "Beta's test", "believe": "b", "verify_by": "v", "measure": "m", "right_if": "r",
                "new_territory": "yes", "real_goal": "yes", "informed": "yes", "as_small_as_possible": "yes",
                "currency": "EUR", "money_minor": 0, "days_tenths": 0, "reversibility": "full",
                "reputation_scope": "none", "kill_criteria": "k", "starts_on": today, "decide_by": today
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{experiment}");
    let experiment_id = experiment["id"].as_str().expect("experiment").to_owned();
    bert.post(
        &format!("/api/v1/teams/beta/experiments/{experiment_id}/premortem/reasons"),
        json!({"reason": "It could fail", "show_name": true}),
    )
    .await;
    let (_, revealed) = bert
        .post(
            &format!("/api/v1/teams/beta/experiments/{experiment_id}/premortem/reveal"),
            json!({}),
        )
        .await;
    let (status, round) = bert
        .post(
            "/api/v1/teams/beta/pulse-rounds",
            json!({"closes_on": today}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{round}");
    let (status, review) = bert
        .post("/api/v1/teams/beta/reviews", json!({"loop_id": loop_id}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{review}");
    let review_id = review["id"].as_str().expect("review").to_owned();
    let review_base = format!("/api/v1/teams/beta/reviews/{review_id}");
    bert.post(&format!("{review_base}/advance"), json!({}))
        .await;
    let (_, card) = bert
        .post(
            &format!("{review_base}/cards"),
            json!({"kind": "idea", "text": "Beta's card"}),
        )
        .await;
    let card_id = card["id"].as_str().expect("card").to_owned();
    for _ in 0..4 {
        bert.post(&format!("{review_base}/advance"), json!({}))
            .await;
    }
    bert.post(&format!("{review_base}/advance"), json!({}))
        .await;
    let (status, decision) = bert
        .post(
            &format!("{review_base}/decisions"),
            json!({"card_id": card_id, "kind": "learning", "text": ""}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{decision}");
    let mut ids = HashMap::new();
    ids.insert("review_id", review_id);
    ids.insert("card_id", card_id);
    ids.insert(
        "decision_id",
        decision["id"].as_str().expect("decision").to_owned(),
    );
    ids.insert("round_id", round["id"].as_str().expect("round").to_owned());
    ids.insert("experiment_id", experiment_id);
    // A subscription of Beta's and one delivery attempt of it: the first capture after it makes
    // an event, and the worker records its attempt (failed here: a name under .invalid never resolves).
    let (status, webhook) = bert
        .post(
            "/api/v1/teams/beta/webhooks",
            json!({"url": "https://hooks.invalid/hook", "event_types": ["loop.logged"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{webhook}");
    let webhook_id = webhook["id"].as_str().expect("webhook").to_owned();
    let (status, logged) = bert
        .post(
            "/api/v1/teams/beta/loops",
            json!({"title": "Beta's hooked loop", "what_happened": "x", "what_was_expected": "y"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{logged}");
    let attempts_path = format!("/api/v1/teams/beta/webhooks/{webhook_id}/attempts");
    let mut delivery_id = None;
    for _ in 0..300 {
        let (_, attempts) = bert.get(&attempts_path).await;
        if let Some(id) = attempts[0]["delivery_id"].as_str() {
            delivery_id = Some(id.to_owned());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    ids.insert("webhook_id", webhook_id);
    ids.insert(
        "delivery_id",
        delivery_id.expect("the worker records an attempt"),
    );
    ids.insert(
        "item_id",
        revealed["premortem"]["reasons"][0]["id"]
            .as_str()
            .expect("reason")
            .to_owned(),
    );
    let (status, expectation) = bert
        .post(
            "/api/v1/teams/beta/expectations",
            json!({"text": "Beta asks for help early"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{expectation}");
    ids.insert(
        "expectation_id",
        expectation["id"].as_str().expect("expectation").to_owned(),
    );
    ids.insert("quarter", "2026-Q1".to_owned());
    ids.insert("slug", "beta".to_owned());
    ids.insert("user_id", me["id"].as_str().expect("id").to_owned());
    ids.insert("id", invitation["id"].as_str().expect("id").to_owned());
    ids.insert("loop_id", loop_id);
    ids.insert(
        "factor_id",
        with_factor["factors"][0]["id"]
            .as_str()
            .expect("factor")
            .to_owned(),
    );
    ids.insert(
        "action_id",
        with_action["actions"][0]["id"]
            .as_str()
            .expect("action")
            .to_owned(),
    );
    World {
        outsider: alice,
        ids,
    }
}

fn fixture_for<'a>(world: &'a World, parameter: &str, path: &str) -> &'a str {
    world
        .ids
        .get(parameter)
        .unwrap_or_else(|| panic!("add an isolation fixture for {{{parameter}}} in {path}"))
}

async fn counts(app: &TestApp) -> Vec<i64> {
    let mut out = Vec::new();
    for table in [
        "teams",
        "memberships",
        "invitations",
        "users",
        "loops",
        "loop_additions",
        "timeline_events",
        "contributing_factors",
        "participant_accounts",
        "learnings",
        "action_items",
        "loop_stage_changes",
        "experiments",
        "risk_budgets",
        "sealed_items",
        "premortem_dispositions",
        "pulse_rounds",
        "pulse_participants",
        "pulse_answers",
        "recognitions",
        "review_sessions",
        "review_participants",
        "review_groups",
        "review_decisions",
        "review_dissents",
    ] {
        out.push(app.db.count(&format!("SELECT COUNT(*) FROM {table}")).await);
    }
    out
}

story!(
    api_endpoints_of_another_team_answer_404,
    |app: TestApp| async move {
        let world = build_world(&app).await;
        let before = counts(&app).await;
        let doc: Value = reqwest::get(app.url("/api/v1/openapi.json"))
            .await
            .expect("openapi")
            .json()
            .await
            .expect("json");
        let paths = doc["paths"].as_object().expect("paths");
        let mut checked = 0;
        for (template, operations) in paths {
            // The alert intake is reached with the team's intake token, not a member's: for
            // any team without that token it answers 401, as for a team that does not exist
            // (`alerts::` tests it).
            if !template.contains("{slug}") || template.contains("/alerts/{provider}") {
                continue;
            }
            let mut path = template.clone();
            for segment in template.split('{').skip(1) {
                let name = segment.split('}').next().unwrap_or("");
                path = path.replace(&format!("{{{name}}}"), fixture_for(&world, name, template));
            }
            for method in operations.as_object().expect("operations").keys() {
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
                let body = (method != Method::GET && method != Method::DELETE).then(|| json!({}));
                let (status, problem) = world.outsider.send(method.clone(), &path, body).await;
                assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {problem}");
                assert_eq!(problem["code"], "not_found", "{method} {path}");
                checked += 1;
            }
        }
        assert!(checked >= 73, "only {checked} team-scoped operations found");
        // The same answer as for a team that does not exist.
        let (_, missing) = world.outsider.get("/api/v1/teams/no-such-team").await;
        let (_, private) = world.outsider.get("/api/v1/teams/beta").await;
        assert_eq!(missing, private);
        let (_, mine) = world.outsider.get("/api/v1/teams").await;
        assert_eq!(mine.as_array().map(Vec::len), Some(1));
        assert_eq!(mine[0]["slug"], "alpha");
        assert_eq!(counts(&app).await, before, "nothing was written");
    }
);

story!(
    web_pages_of_another_team_answer_404,
    |app: TestApp| async move {
        let world = build_world(&app).await;
        let before = counts(&app).await;
        let browser = app.sign_in("alice@example.org").await;
        let user = &world.ids["user_id"];
        let invitation = &world.ids["id"];
        let loop_id = &world.ids["loop_id"];
        for path in [
            "/teams/beta".to_owned(),
            "/teams/beta/members".to_owned(),
            "/teams/beta/settings".to_owned(),
            "/teams/beta/loops".to_owned(),
            "/teams/beta/loops/new".to_owned(),
            "/teams/beta/health".to_owned(),
            format!("/teams/beta/loops/{loop_id}"),
            "/teams/beta/reviews".to_owned(),
            format!("/teams/beta/reviews/{}", world.ids["review_id"]),
            format!("/teams/beta/reviews/{}/live", world.ids["review_id"]),
            format!("/teams/beta/reviews/{}/events", world.ids["review_id"]),
            format!("/teams/beta/reviews/{}/summary.md", world.ids["review_id"]),
            "/teams/beta/data".to_owned(),
            "/teams/beta/export?format=json".to_owned(),
        ] {
            let path = path.as_str();
            let (status, _) = browser.get_text(path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "GET {path}");
        }
        let posts = [
            "/teams/beta/settings".to_owned(),
            "/teams/beta/members".to_owned(),
            format!("/teams/beta/members/{user}/role"),
            format!("/teams/beta/members/{user}/remove"),
            "/teams/beta/invitations".to_owned(),
            format!("/teams/beta/invitations/{invitation}/revoke"),
            "/teams/beta/reviews".to_owned(),
            format!("/teams/beta/reviews/{}/cards", world.ids["review_id"]),
            format!("/teams/beta/reviews/{}/advance", world.ids["review_id"]),
            format!("/teams/beta/reviews/{}/close", world.ids["review_id"]),
            "/teams/beta/import".to_owned(),
            "/teams/beta/loops/similar".to_owned(),
        ];
        for path in &posts {
            let response = browser
                .submit(
                    "/teams",
                    path,
                    &[
                        ("name", "Taken"),
                        ("role", "lead"),
                        ("email", "alice@example.org"),
                        ("stuck_after_days", "3"),
                    ],
                )
                .await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "POST {path}");
        }
        let (_, teams_page) = browser.get_text("/teams").await;
        assert!(
            !teams_page.contains("Beta"),
            "the private team is not listed"
        );
        assert_eq!(counts(&app).await, before, "nothing was written");
    }
);
