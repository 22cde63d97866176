//! Inputs the fuzz targets (fuzz/, README "Fuzzing") found the importers accepting and then
//! failing to store, or crashing on; each goes through the real import on both databases.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{Api, TestApp};
use crate::story;

/// The import_json target's seed: a valid export of two loops, one of them anonymous.
const SEED: &str = include_str!("../../fuzz/seeds/import_json/team.json");

/// A lead of team "ops"; returns their API.
async fn lead(app: &TestApp) -> Api {
    app.create_user("root@example.org", "Root Admin", true)
        .await;
    app.create_user("lee@example.org", "Lee Lead", false).await;
    let lee = app.token_for("lee@example.org").await;
    let (status, out) = lee.post("/api/v1/teams", json!({"name": "Ops"})).await;
    assert_eq!(status, StatusCode::CREATED, "{out}");
    lee
}

/// Imports `body`, expecting a refusal naming `field`; nothing may be written.
async fn refused(app: &TestApp, api: &Api, content_type: &str, body: &str, field: &str) -> String {
    let before = app.db.count("SELECT COUNT(*) FROM loops").await;
    let (status, problem, kind) = api
        .post_raw("/api/v1/teams/ops/import", content_type, body)
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{field}: {problem}"
    );
    assert_eq!(kind, "application/problem+json");
    assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    assert_eq!(app.db.count("SELECT COUNT(*) FROM loops").await, before);
    problem["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn seed() -> Value {
    serde_json::from_str(SEED).expect("the seed is JSON")
}

story!(
    json_import_refuses_what_a_store_cannot_hold,
    |app: TestApp| async move {
        let lee = lead(&app).await;
        let (status, report, _) = lee
            .post_raw(
                "/api/v1/teams/ops/import?dry_run=true",
                "application/json",
                SEED,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "the fuzz seed imports: {report}");
        assert_eq!(report["loops"].as_array().map(Vec::len), Some(2));

        // U+0000 in a field the import did not check: PostgreSQL's text cannot hold it.
        for (pointer, field) in [
            ("/what_was_expected", "what_was_expected"),
            ("/review/went_well", "review.went_well"),
            ("/additions/0/body", "additions[0].body"),
            ("/history/1/note", "history[1].note"),
            ("/accounts/0/assumptions", "accounts[0].assumptions"),
            ("/type_override/reason", "type_override.reason"),
        ] {
            let mut document = seed();
            *document["teams"][0]["loops"][0]
                .pointer_mut(pointer)
                .expect("seed field") = json!("before\u{0}after");
            let path = format!("teams[0].loops[0].{field}");
            refused(&app, &lee, "application/json", &document.to_string(), &path).await;
        }

        // Found by the import_json target: a syntax error under the empty key named no field.
        let under_empty_key = r#"{"format": "failforward-export", "": [ {"title": "x"} nope ]}"#;
        refused(&app, &lee, "application/json", under_empty_key, "body").await;

        // A creation date the loop's number (day above bit 47) cannot carry: overflowed.
        for at in [
            "2200-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "1960-05-01T00:00:00Z",
        ] {
            let mut document = seed();
            document["teams"][0]["loops"][1]["created_at"] = json!(at);
            let message = refused(
                &app,
                &lee,
                "application/json",
                &document.to_string(),
                "teams[0].loops[1].created_at",
            )
            .await;
            assert!(message.contains("1970"), "{message}");
        }

        // Found by the import_json target: with an earlier loop already refused, a far-future
        // date on the next one overflowed its number instead of being refused too.
        let mut document = seed();
        document["teams"][0]["loops"][0]["title"] = json!("");
        document["teams"][0]["loops"][1]["created_at"] = json!("2319-03-03T00:00:00Z");
        let (status, problem, _) = lee
            .post_raw(
                "/api/v1/teams/ops/import",
                "application/json",
                &document.to_string(),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|error| error["field"].as_str())
            .collect();
        assert!(
            fields.contains(&"teams[0].loops[1].created_at"),
            "{problem}"
        );
    }
);

story!(
    anonymous_imports_keep_midnight_utc_whatever_the_offset,
    |app: TestApp| async move {
        let lee = lead(&app).await;
        let mut document = seed();
        let anonymous = &mut document["teams"][0]["loops"][1];
        anonymous["created_at"] = json!("2026-03-03T23:30:00-05:00");
        anonymous["noticed_at"] = json!("2026-03-03T00:30:00+14:00");
        anonymous["history"][0]["at"] = json!("2026-03-03T23:30:00-05:00");
        let (status, report, _) = lee
            .post_raw(
                "/api/v1/teams/ops/import",
                "application/json",
                &document.to_string(),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{report}");
        let (status, export) = lee.get("/api/v1/teams/ops/export").await;
        assert_eq!(status, StatusCode::OK);
        let item = export["teams"][0]["loops"]
            .as_array()
            .and_then(|loops| loops.iter().find(|l| l["anonymous"] == true))
            .expect("the anonymous loop")
            .clone();
        // The days in UTC: 23:30 at -05:00 is the next day, 00:30 at +14:00 the day before.
        assert_eq!(item["created_at"], "2026-03-04T00:00:00Z", "{item}");
        assert_eq!(item["noticed_at"], "2026-03-02T00:00:00Z", "{item}");
        assert_eq!(item["history"][0]["at"], "2026-03-04T00:00:00Z", "{item}");
    }
);

story!(
    postmortem_import_refuses_control_characters_and_keeps_impossible_instants,
    |app: TestApp| async move {
        let lee = lead(&app).await;
        // U+0000 went into the review's text unchecked, which PostgreSQL refused.
        let nul = "# Outage\n\nSummary.\n\n## Root causes\n\nA\u{0}B\n";
        let message = refused(&app, &lee, "text/markdown", nul, "body").await;
        assert!(message.contains("line 7:"), "{message}");
        // The last minute of year 9999 at -05:00 is past year 9999 in UTC: the parser panicked.
        // The lenient reader keeps the line as a note instead of refusing the postmortem.
        let late = "# Outage\n\nSummary.\n\n## Timeline\n\n- 9999-12-31 23:59 -05:00: late\n";
        let (status, report, _) = lee
            .post_raw("/api/v1/teams/ops/import", "text/markdown", late)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{report}");
        assert_eq!(report["loops"][0]["timeline_events"], 0, "{report}");
        assert_eq!(
            report["loops"][0]["kept_sections"],
            json!(["Timeline notes"])
        );
    }
);
