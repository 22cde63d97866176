//! Issue 3: the learning loop through the API, the pages and the CLI, on both databases.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{Api, TestApp};
use crate::story;

/// An admin, a team "ops" led by Lee with member Mo; returns (Lee's API, Mo's API).
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

async fn log(api: &Api, body: Value) -> Value {
    let (status, created) = api.post("/api/v1/teams/ops/loops", body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("id").to_owned()
}

async fn advance(api: &Api, loop_id: &str) -> (StatusCode, Value) {
    api.post(
        &format!("/api/v1/teams/ops/loops/{loop_id}/stage"),
        json!({"direction": "advance"}),
    )
    .await
}

const ALL_YES: &str = r#"{"new_territory":"yes","pursued_goal":"yes","hypothesis_beforehand":"yes","as_small_as_possible":"yes","responded_quickly":"yes","learned_from":"yes"}"#;

story!(
    capture_keeps_time_to_detect_and_the_original_record,
    |app: TestApp| async move {
        let (lee, _) = team(&app).await;
        let created = log(
            &lee,
            json!({
                "title": "Invoices sent twice",
                "what_happened": "The billing job ran twice after a **restart**.",
                "what_was_expected": "One invoice per customer.",
                "happened_at": "2026-03-02T09:00:00Z",
                "noticed_at": "2026-03-02T11:30:00Z",
                "impact_scale": "moderate",
                "impact_affected": "about 40 customers",
                "tags": ["Billing", "deploy", "billing"]
            }),
        )
        .await;
        assert_eq!(created["stage"], "detect");
        assert_eq!(created["time_to_detect_seconds"], 9000);
        assert_eq!(created["tags"], json!(["billing", "deploy"]));
        assert_eq!(
            created["reporter"],
            json!({"anonymous": false, "name": "Lee Lead"})
        );
        assert!(created.get("reporter_link").is_none());
        let loop_id = id(&created);

        // Later understanding goes beside the record; the record itself does not change.
        let (status, _) = lee
            .post(
                &format!("/api/v1/teams/ops/loops/{loop_id}/additions"),
                json!({"body": "It was a retry, not a restart."}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let (_, shown) = lee.get(&format!("/api/v1/teams/ops/loops/{loop_id}")).await;
        assert_eq!(shown["what_happened"], created["what_happened"]);
        assert_eq!(
            shown["additions"][0]["body"],
            "It was a retry, not a restart."
        );
        assert_eq!(shown["additions"][0]["by"], "Lee Lead");
        let (status, _) = lee
            .send(
                reqwest::Method::PATCH,
                &format!("/api/v1/teams/ops/loops/{loop_id}"),
                Some(json!({"title": "x"})),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "the Detect record cannot be edited"
        );

        // The page shows the story, with the time to detect.
        let web = app.sign_in("mo@example.org").await;
        let (status, html) = web.get_text(&format!("/teams/ops/loops/{loop_id}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Invoices sent twice"));
        assert!(html.contains("2 h 30 min"), "time to detect is shown");
        assert!(
            html.contains("<strong>restart</strong>"),
            "Markdown is rendered"
        );
        assert!(html.contains("kept exactly as first written"));
    }
);

story!(
    bad_capture_input_is_named_and_writes_nothing,
    |app: TestApp| async move {
        let (lee, _) = team(&app).await;
        let (status, problem) = lee
            .post(
                "/api/v1/teams/ops/loops",
                json!({
                    "title": "t".repeat(141),
                    "what_happened": "",
                    "noticed_at": "2999-01-01T00:00:00Z",
                    "happened_at": "yesterday",
                    "tags": ["!!!"]
                }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .filter_map(|e| e["field"].as_str())
            .collect();
        for field in ["title", "what_happened", "happened_at", "tags"] {
            assert!(fields.contains(&field), "{field} named in {problem}");
        }
        let (status, problem) = lee
        .post(
            "/api/v1/teams/ops/loops",
            json!({"title": "Late", "what_happened": "x", "happened_at": "2026-03-02T12:00:00Z", "noticed_at": "2026-03-02T10:00:00Z"}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "happened_at");
        let (status, problem) = lee
            .post(
                "/api/v1/teams/ops/loops",
                json!({"title": "x", "what_happened": "y", "impact_scale": "huge"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "impact_scale");
        let (status, problem) = lee
            .post(
                "/api/v1/teams/ops/loops",
                json!({"title": "x", "what_happened": "y", "author": "someone"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "author");
        assert_eq!(app.db.count("SELECT COUNT(*) FROM loops").await, 0);
        assert_eq!(app.db.count("SELECT COUNT(*) FROM loop_tags").await, 0);
    }
);

story!(
    stages_advance_only_when_their_condition_holds,
    |app: TestApp| async move {
        let (lee, mo) = team(&app).await;
        let created = log(
            &mo,
            json!({"title": "Deploy broke login", "what_happened": "Login failed for 20 minutes."}),
        )
        .await;
        let loop_id = id(&created);

        let (status, problem) = advance(&lee, &loop_id).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or("")
                .contains("what was expected"),
            "{problem}"
        );
        assert_eq!(
            created["blocker"].as_str().map(|b| b.contains("expected")),
            Some(true)
        );

        // A loop whose expectation was written at capture may move on.
        let second = log(&mo, json!({"title": "Slow search", "what_happened": "p99 doubled", "what_was_expected": "p99 under 50 ms"})).await;
        let second_id = id(&second);
        assert_eq!(second["next_stage"], "analyse");
        let (status, moved) = advance(&lee, &second_id).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(moved["stage"], "analyse");

        // Analyse → Apply needs a contributing factor and a classification.
        let (status, problem) = advance(&lee, &second_id).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let detail = problem["detail"].as_str().unwrap_or("");
        assert!(
            detail.contains("contributing factor") && detail.contains("classify"),
            "{detail}"
        );
        let (status, _) = mo
        .post(
            &format!("/api/v1/teams/ops/loops/{second_id}/factors"),
            json!({"reason": "process_complexity", "description": "Index rebuild and cache warm-up overlapped."}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, problem) = advance(&lee, &second_id).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(!problem["detail"]
            .as_str()
            .unwrap_or("")
            .contains("contributing factor"));
        let answers: Value = serde_json::from_str(
            &ALL_YES
                .replace(
                    "\"hypothesis_beforehand\":\"yes\"",
                    "\"hypothesis_beforehand\":\"no\"",
                )
                .replace("\"new_territory\":\"yes\"", "\"new_territory\":\"no\""),
        )
        .expect("json");
        let (status, classified) = mo
            .send(
                reqwest::Method::PUT,
                &format!("/api/v1/teams/ops/loops/{second_id}/classification"),
                Some(answers),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{classified}");
        assert_eq!(
            classified["classification"]["suggestion"]["kind"],
            "complex"
        );
        assert_eq!(classified["classification"]["type"], "complex");
        let (status, moved) = advance(&lee, &second_id).await;
        assert_eq!(status, StatusCode::OK, "{moved}");
        assert_eq!(moved["stage"], "apply");

        // Apply → Continue needs a learning or an action item.
        let (status, _) = advance(&lee, &second_id).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, _) = mo
        .post(
            &format!("/api/v1/teams/ops/loops/{second_id}/learnings"),
            json!({"statement": "Stagger index rebuilds away from cache warm-up.", "visibility": "organisation"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, moved) = advance(&lee, &second_id).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(moved["stage"], "continue");
        let (status, problem) = advance(&lee, &second_id).await;
        assert_eq!(
            status,
            StatusCode::CONFLICT,
            "Continue is the last stage: {problem}"
        );

        // Stepping back is allowed and recorded with who did it.
        let (status, back) = lee
            .post(
                &format!("/api/v1/teams/ops/loops/{second_id}/stage"),
                json!({"direction": "back", "note": "The fix did not hold"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(back["stage"], "apply");
        let history = back["history"].as_array().expect("history");
        assert_eq!(history.len(), 5, "{history:?}");
        assert_eq!(history[0]["from"], Value::Null);
        assert_eq!(history[0]["by"], "Mo Member");
        assert_eq!(history[4]["from"], "continue");
        assert_eq!(history[4]["to"], "apply");
        assert_eq!(history[4]["by"], "Lee Lead");
        assert_eq!(history[4]["note"], "The fix did not hold");
        let (status, _) = lee
            .post(
                &format!("/api/v1/teams/ops/loops/{loop_id}/stage"),
                json!({"direction": "back"}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "Detect is the first stage");
    }
);

story!(
    classification_suggests_and_a_person_may_override,
    |app: TestApp| async move {
        let (lee, _) = team(&app).await;
        let loop_id = id(&log(&lee, json!({"title": "Pricing test flopped", "what_happened": "Conversion fell", "what_was_expected": "Conversion up 5%"})).await);
        lee.post(
        &format!("/api/v1/teams/ops/loops/{loop_id}/factors"),
        json!({"reason": "hypothesis_testing", "description": "We tested a higher price on 5% of visitors."}),
    )
    .await;
        let answers: Value = serde_json::from_str(ALL_YES).expect("json");
        let (_, classified) = lee
            .send(
                reqwest::Method::PUT,
                &format!("/api/v1/teams/ops/loops/{loop_id}/classification"),
                Some(answers),
            )
            .await;
        assert_eq!(
            classified["classification"]["suggestion"]["kind"],
            "intelligent"
        );
        assert!(classified["classification"]["suggestion"]["reasons"]
            .as_array()
            .is_some_and(|r| r.len() >= 2));
        let (status, problem) = lee
            .send(
                reqwest::Method::PUT,
                &format!("/api/v1/teams/ops/loops/{loop_id}/classification/override"),
                Some(json!({"type": "complex", "reason": ""})),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "an override needs a reason"
        );
        assert_eq!(problem["errors"][0]["field"], "reason");
        let (status, overridden) = lee
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/teams/ops/loops/{loop_id}/classification/override"),
            Some(json!({"type": "experiment_not_yet_intelligent", "reason": "The test ran on all EU traffic, not 5%."})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let c = &overridden["classification"];
        assert_eq!(
            c["suggestion"]["kind"], "intelligent",
            "the suggestion is kept"
        );
        assert_eq!(c["override"]["type"], "experiment_not_yet_intelligent");
        assert_eq!(c["override"]["by"], "Lee Lead");
        assert_eq!(c["type"], "experiment_not_yet_intelligent");
        let (_, list) = lee
            .get("/api/v1/teams/ops/loops?type=experiment_not_yet_intelligent")
            .await;
        assert_eq!(list["total"], 1);
    }
);

story!(
    apply_and_continue_record_actions_and_the_follow_up,
    |app: TestApp| async move {
        let (lee, mo) = team(&app).await;
        let loop_id = id(&log(&lee, json!({"title": "Backup restore failed", "what_happened": "Restore took 9 h", "what_was_expected": "Under 1 h"})).await);
        let (_, members) = lee.get("/api/v1/teams/ops/members").await;
        let mo_id = members
            .as_array()
            .expect("members")
            .iter()
            .find(|m| m["name"] == "Mo Member")
            .and_then(|m| m["user_id"].as_str())
            .expect("mo")
            .to_owned();
        let (status, problem) = lee
        .post(&format!("/api/v1/teams/ops/loops/{loop_id}/actions"), json!({"title": "Rehearse restores", "owner_id": "00000000-0000-4000-8000-000000000000"}))
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "owner_id");
        let (status, with_action) = lee
        .post(
            &format!("/api/v1/teams/ops/loops/{loop_id}/actions"),
            json!({"title": "Rehearse restores monthly", "owner_id": mo_id, "due_on": "2020-01-31"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let action = &with_action["actions"][0];
        assert_eq!(action["owner"], "Mo Member");
        assert_eq!(action["overdue"], true, "a past due date stands out");
        let action_id = action["id"].as_str().expect("id").to_owned();
        let (_, open) = mo.get("/api/v1/teams/ops/actions?status=open").await;
        assert_eq!(open.as_array().map(Vec::len), Some(1));
        let (status, problem) = mo
            .patch(
                &format!("/api/v1/teams/ops/actions/{action_id}"),
                json!({"status": "dropped"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "dropped_reason");
        let (status, done) = mo
            .patch(
                &format!("/api/v1/teams/ops/actions/{action_id}"),
                json!({"status": "done"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(done["status"], "done");
        assert_eq!(done["overdue"], false);

        let web = app.sign_in("lee@example.org").await;
        let (_, page) = web.get_text("/teams/ops").await;
        assert!(
            page.contains("1 open") || page.contains("0 open"),
            "team page counts actions"
        );

        // Move to Continue, set and answer the follow-up check.
        for _ in 0..1 {
            advance(&lee, &loop_id).await;
        }
        lee.post(
            &format!("/api/v1/teams/ops/loops/{loop_id}/factors"),
            json!({"reason": "process_inadequacy", "description": "No restore drill existed."}),
        )
        .await;
        lee.send(
            reqwest::Method::PUT,
            &format!("/api/v1/teams/ops/loops/{loop_id}/classification"),
            Some(
                serde_json::from_str(
                    ALL_YES
                        .replace(
                            "\"hypothesis_beforehand\":\"yes\"",
                            "\"hypothesis_beforehand\":\"no\"",
                        )
                        .as_str(),
                )
                .expect("json"),
            ),
        )
        .await;
        advance(&lee, &loop_id).await;
        let (status, at_continue) = advance(&lee, &loop_id).await;
        assert_eq!(status, StatusCode::OK, "{at_continue}");
        assert_eq!(at_continue["stage"], "continue");
        let (status, with_date) = lee
            .send(
                reqwest::Method::PUT,
                &format!("/api/v1/teams/ops/loops/{loop_id}/follow-up"),
                Some(json!({"on": "2020-06-01"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(with_date["follow_up"]["on"], "2020-06-01");
        assert_eq!(with_date["attention"], "Follow-up check due");
        let (status, answered) = mo
            .post(
                &format!("/api/v1/teams/ops/loops/{loop_id}/follow-up/answer"),
                json!({"recurred": false, "held": true, "note": "Two drills, both under an hour."}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answered["follow_up"]["held"], true);
        assert_eq!(answered["follow_up"]["answered_by"], "Mo Member");
        assert_eq!(answered["attention"], Value::Null);
    }
);

story!(
    stuck_loops_are_flagged_on_the_team_page,
    |app: TestApp| async move {
        let (lee, _) = team(&app).await;
        let stuck = id(&log(
            &lee,
            json!({"title": "Forgotten outage", "what_happened": "x"}),
        )
        .await);
        log(&lee, json!({"title": "Fresh one", "what_happened": "y"})).await;
        app.db
        .execute(&format!("UPDATE loops SET stage_entered_at = stage_entered_at - 20 * 86400 WHERE id = '{stuck}'"))
        .await;
        let (_, list) = lee.get("/api/v1/teams/ops/loops?stuck=true").await;
        assert_eq!(list["total"], 1);
        assert_eq!(list["loops"][0]["id"], stuck.as_str());
        assert!(list["loops"][0]["attention"]
            .as_str()
            .unwrap_or("")
            .starts_with("Stuck: 20 days"));
        let web = app.sign_in("lee@example.org").await;
        let (_, page) = web.get_text("/teams/ops").await;
        assert!(page.contains("Needs attention: 1 loop"));
        assert!(page.contains("Forgotten outage"));
        let (_, html) = web.get_text("/teams/ops/loops?stuck=on").await;
        assert!(html.contains("Forgotten outage") && !html.contains("Fresh one"));
        // A longer setting lifts the flag.
        lee.patch("/api/v1/teams/ops", json!({"stuck_after_days": 30}))
            .await;
        let (_, list) = lee.get("/api/v1/teams/ops/loops?stuck=true").await;
        assert_eq!(list["total"], 0);
    }
);

story!(list_filters_sort_and_paginate, |app: TestApp| async move {
    let (lee, _) = team(&app).await;
    for (title, tag) in [("Alpha", "db"), ("Bravo", "db"), ("Charlie", "net")] {
        log(
            &lee,
            json!({"title": title, "what_happened": "x", "what_was_expected": "y", "tags": [tag]}),
        )
        .await;
    }
    let (_, db) = lee.get("/api/v1/teams/ops/loops?tag=db&sort=title").await;
    assert_eq!(db["total"], 2);
    assert_eq!(db["loops"][0]["title"], "Alpha");
    let (_, paged) = lee
        .get("/api/v1/teams/ops/loops?sort=title&per_page=2&page=2")
        .await;
    assert_eq!(paged["loops"].as_array().map(Vec::len), Some(1));
    assert_eq!(paged["loops"][0]["title"], "Charlie");
    // A page far past the end is an empty page (Schemathesis sent i64::MAX, and the offset
    // overflowed).
    let (status, far) = lee
        .get("/api/v1/teams/ops/loops?per_page=132&page=9223372036854775807")
        .await;
    assert_eq!(status, StatusCode::OK, "{far}");
    assert_eq!(far["loops"].as_array().map(Vec::len), Some(0));
    assert_eq!(far["total"], 3);
    let (_, none) = lee.get("/api/v1/teams/ops/loops?stage=apply").await;
    assert_eq!(none["total"], 0);
    let (status, problem) = lee.get("/api/v1/teams/ops/loops?stage=done").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "stage");
    // Every closed set is read as its enum at the front door: each wrong word is named at once.
    let (status, problem) = lee
        .get("/api/v1/teams/ops/loops?sort=loudest&kind=outage&type=bad")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let named: Vec<&str> = problem["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(named, ["kind", "type", "sort"], "{problem}");
    // Read as enums, the right words filter: an empty one is "any".
    let (_, failures) = lee
        .get("/api/v1/teams/ops/loops?sort=oldest&kind=failure&type=")
        .await;
    assert_eq!(failures["total"], 3, "{failures}");
    let (_, experiments) = lee.get("/api/v1/teams/ops/loops?kind=experiment").await;
    assert_eq!(experiments["total"], 0, "{experiments}");
    let (status, problem) = lee.get("/api/v1/teams/ops/loops?colour=red").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    let today = time::OffsetDateTime::now_utc().date().to_string();
    let (_, dated) = lee
        .get(&format!("/api/v1/teams/ops/loops?from={today}&to={today}"))
        .await;
    assert_eq!(dated["total"], 3);
    let web = app.sign_in("lee@example.org").await;
    let (status, html) = web.get_text("/teams/ops/loops?tag=net").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Charlie") && !html.contains("Bravo"));
    let (status, html) = web.get_text("/teams/ops/loops?sort=loudest").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("must be one of: newest, oldest, longest_in_stage, title"));
});

story!(markdown_cannot_carry_scripts, |app: TestApp| async move {
    let (lee, _) = team(&app).await;
    let attack = "<script>alert('xss')</script>\n\n<img src=x onerror=alert('xss')>\n\n[click](javascript:alert('xss'))\n\n<a href=\"JAVASCRIPT:alert('xss')\">x</a> <div onmouseover=\"alert('xss')\">hover</div>";
    let loop_id = id(&log(
        &lee,
        json!({"title": "<b>bold title</b>", "what_happened": attack, "what_was_expected": attack}),
    )
    .await);
    lee.post(
        &format!("/api/v1/teams/ops/loops/{loop_id}/additions"),
        json!({"body": attack}),
    )
    .await;
    lee.post(
        &format!("/api/v1/teams/ops/loops/{loop_id}/factors"),
        json!({"reason": "uncertainty", "description": attack}),
    )
    .await;
    lee.post(
        &format!("/api/v1/teams/ops/loops/{loop_id}/timeline"),
        json!({"occurred_at": "2026-01-01T10:00", "description": attack}),
    )
    .await;
    lee.post(
        &format!("/api/v1/teams/ops/loops/{loop_id}/learnings"),
        json!({"statement": attack}),
    )
    .await;
    lee.post(
        &format!("/api/v1/teams/ops/loops/{loop_id}/accounts"),
        json!({"actions": attack, "observations": attack}),
    )
    .await;
    let (status, _) = lee
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/teams/ops/loops/{loop_id}/review"),
            Some(json!({"aar_intended": attack, "went_well": attack})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let web = app.sign_in("lee@example.org").await;
    let (status, html) = web.get_text(&format!("/teams/ops/loops/{loop_id}")).await;
    assert_eq!(status, StatusCode::OK);
    let lower = html.to_lowercase();
    assert!(!lower.contains("<script>alert"), "no injected script");
    assert!(!lower.contains("<img"), "no injected image");
    for tag in tags_in(&lower) {
        let attributes = tag.split_once(' ').map(|(_, a)| a).unwrap_or("");
        assert!(
            !attributes.split_whitespace().any(|a| a.starts_with("on")),
            "event handler in {tag}"
        );
        assert!(!attributes.contains("javascript:"), "javascript: in {tag}");
    }
    assert!(!lower.contains("<b>bold title</b>"), "titles are escaped");
    assert!(
        html.contains("&#60;b&#62;bold title"),
        "the title is shown escaped"
    );
    assert!(
        lower.matches("hover").count() >= 1,
        "the harmless text survives"
    );
    let (_, list) = web.get_text("/teams/ops/loops").await;
    assert!(!list.to_lowercase().contains("<b>bold title</b>"));
});

/// The opening tags of an HTML document (text between `<` and `>`), for checking attributes.
fn tags_in(html: &str) -> Vec<&str> {
    html.split('<')
        .skip(1)
        .filter_map(|rest| rest.split('>').next())
        .filter(|tag| !tag.starts_with('/') && !tag.starts_with('!'))
        .collect()
}

story!(
    captures_at_the_same_moment_are_all_written_once,
    |app: TestApp| async move {
        let (lee, mo) = team(&app).await;
        // SQLite writes loops captured together in one commit: each must land exactly once, and
        // the dashboards' running totals must count each of them.
        let mut captures = Vec::new();
        for n in 0..24 {
            let api = if n % 2 == 0 { lee.clone() } else { mo.clone() };
            captures.push(tokio::spawn(async move {
                api.post(
                    "/api/v1/teams/ops/loops",
                    json!({
                        "title": format!("Concurrent capture {n}"),
                        "what_happened": "Many people wrote at once.",
                        "anonymous": n % 3 == 0,
                    }),
                )
                .await
            }));
        }
        let mut ids = std::collections::HashSet::new();
        for capture in captures {
            let (status, created) = capture.await.expect("task");
            assert_eq!(status, StatusCode::CREATED, "{created}");
            ids.insert(id(&created));
        }
        assert_eq!(ids.len(), 24);
        // The anonymous ones are written at the end of the day.
        let (_, list) = lee.get("/api/v1/teams/ops/loops?per_page=100").await;
        assert_eq!(list["total"], 16, "{list}");
        app.release_anonymous_loops().await;
        let (_, list) = lee.get("/api/v1/teams/ops/loops?per_page=100").await;
        assert_eq!(list["total"], 24, "{list}");
        let (_, health) = lee.get("/api/v1/teams/ops/health?range=all").await;
        assert_eq!(health["loops"], 24, "{health}");
    }
);

story!(
    team_actions_read_their_status_filter_as_a_word,
    |app: TestApp| async move {
        let (lee, _) = team(&app).await;
        let created = log(
            &lee,
            json!({"title": "Backups failed", "what_happened": "No backup for a week."}),
        )
        .await;
        let loop_id = id(&created);
        let (status, _) = lee
            .post(
                &format!("/api/v1/teams/ops/loops/{loop_id}/actions"),
                json!({"title": "Restore drill"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        for query in ["", "?status=", "?status=open"] {
            let (status, listed) = lee.get(&format!("/api/v1/teams/ops/actions{query}")).await;
            assert_eq!(status, StatusCode::OK, "{query}: {listed}");
            assert_eq!(listed.as_array().map(Vec::len), Some(1), "{query}");
        }
        let (status, listed) = lee.get("/api/v1/teams/ops/actions?status=done").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(listed.as_array().map(Vec::len), Some(0));
        let (status, problem) = lee.get("/api/v1/teams/ops/actions?status=finished").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "status");
        let (_, doc) = lee.get("/api/v1/openapi.json").await;
        let parameters = doc["paths"]["/api/v1/teams/{slug}/actions"]["get"]["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let documented = parameters
            .iter()
            .find(|p| p["name"] == "status")
            .map(|p| p["schema"].to_string())
            .unwrap_or_default();
        assert!(documented.contains("ActionStatus"), "{documented}");
    }
);
