//! Issue 5: experiments — budget arithmetic and approval, the sealed pre-mortem, and an outcome
//! that opens a loop exactly once.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{Api, TestApp};
use crate::story;

fn today() -> String {
    time::OffsetDateTime::now_utc().date().to_string()
}

pub fn quarter() -> String {
    let date = time::OffsetDateTime::now_utc().date();
    format!("{}-Q{}", date.year(), (u8::from(date.month()) - 1) / 3 + 1)
}

pub fn design(title: &str, money_minor: u64, days_tenths: u64) -> Value {
    json!({
        "title": title,
        "believe": "customers will pay for same-day refunds",
        "verify_by": "offering it to 5% of EU customers for two weeks",
        "measure": "uptake and support tickets",
        "right_if": "at least 3% opt in",
        "new_territory": "yes",
        "real_goal": "yes",
        "informed": "yes",
        "as_small_as_possible": "yes",
        "currency": "EUR",
        "money_minor": money_minor,
        "days_tenths": days_tenths,
        "reversibility": "full",
        "reputation_scope": "customers",
        "kill_criteria": "more than 20 complaints",
        "starts_on": today(),
        "decide_by": today(),
    })
}

/// Lead Lee and member Mo in team "ops".
async fn team(app: &TestApp) -> (Api, Api) {
    app.create_user("root@example.org", "Root", true).await;
    app.create_user("lee@example.org", "Lee Lead", false).await;
    app.create_user("mo@example.org", "Mo Member", false).await;
    let lee = app.token_for("lee@example.org").await;
    let mo = app.token_for("mo@example.org").await;
    lee.post("/api/v1/teams", json!({"name": "Ops"})).await;
    lee.post(
        "/api/v1/teams/ops/members",
        json!({"email": "mo@example.org", "role": "member"}),
    )
    .await;
    (lee, mo)
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

/// Creates an experiment by `api` and takes it through the pre-mortem and the pilot checklist.
pub async fn prepared(api: &Api, body: Value) -> String {
    let (status, created) = api.post("/api/v1/teams/ops/experiments", body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let e = id(&created);
    let base = format!("/api/v1/teams/ops/experiments/{e}");
    api.post(
        &format!("{base}/premortem/reasons"),
        json!({"reason": "The payment provider rate-limits us."}),
    )
    .await;
    let (status, revealed) = api
        .post(&format!("{base}/premortem/reveal"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{revealed}");
    let reason = revealed["premortem"]["reasons"][0]["id"]
        .as_str()
        .expect("reason")
        .to_owned();
    let (status, _) = api
        .send(
            Method::PUT,
            &format!("{base}/premortem/reasons/{reason}/disposition"),
            Some(json!({"kind": "mitigation", "note": "Ask for a higher limit first."})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let answers: serde_json::Map<String, Value> = [
        "typical_conditions",
        "representative",
        "learn_not_prove",
        "goal_understood",
        "rewards_independent",
        "changes_planned",
    ]
    .iter()
    .map(|k| ((*k).to_owned(), json!("yes")))
    .collect();
    let (status, _) = api
        .send(
            Method::PUT,
            &format!("{base}/pilot"),
            Some(json!({"answers": answers})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    e
}

story!(
    a_design_with_bad_fields_is_refused_whole,
    |app: TestApp| async move {
        let (lee, _) = team(&app).await;
        let mut body = design("", 100, 10);
        body["currency"] = json!("EURO");
        body["decide_by"] = json!("2000-01-01");
        body["right_if"] = json!("");
        let (status, problem) = lee.post("/api/v1/teams/ops/experiments", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .filter_map(|e| e["field"].as_str())
            .collect();
        for field in ["title", "currency", "decide_by", "right_if"] {
            assert!(fields.contains(&field), "{field} in {problem}");
        }
        let mut body = design("x", 1, 1);
        body["money_minor"] = json!(-5);
        let (status, problem) = lee.post("/api/v1/teams/ops/experiments", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "money_minor");
        assert_eq!(app.db.count("SELECT COUNT(*) FROM experiments").await, 0);
        assert_eq!(app.db.count("SELECT COUNT(*) FROM sealed_boxes").await, 0);
    }
);

story!(
    budget_arithmetic_and_the_approval_rule,
    |app: TestApp| async move {
        let (lee, mo) = team(&app).await;
        let q = quarter();
        let (status, _) = mo
            .send(
                Method::PUT,
                &format!("/api/v1/teams/ops/risk-budgets/{q}"),
                Some(json!({"currency": "EUR", "money_minor": 100_000, "days_tenths": 50})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "only leads set the budget");
        let (status, portfolio) = lee
            .send(
                Method::PUT,
                &format!("/api/v1/teams/ops/risk-budgets/{q}"),
                Some(json!({"currency": "eur", "money_minor": 100_000, "days_tenths": 50})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(portfolio["budget"]["remaining_money_minor"], 100_000);

        let first = prepared(&mo, design("Same-day refunds", 60_000, 20)).await;
        let (status, started) = mo
            .post(
                &format!("/api/v1/teams/ops/experiments/{first}/start"),
                json!({}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "within budget, no approval needed: {started}"
        );
        assert_eq!(started["status"], "running");

        let second = prepared(&mo, design("Instant refunds", 40_001, 10)).await;
        let (_, view) = mo
            .get(&format!("/api/v1/teams/ops/experiments/{second}"))
            .await;
        assert_eq!(view["needs_approval"], true, "600.00 + 400.01 > 1000.00");
        assert_eq!(view["budget"]["remaining_money_minor"], 40_000);
        let (status, problem) = mo
            .post(
                &format!("/api/v1/teams/ops/experiments/{second}/start"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or("")
                .contains("a lead must approve"),
            "{problem}"
        );
        let (status, _) = mo
            .post(
                &format!("/api/v1/teams/ops/experiments/{second}/approval"),
                json!({"note": "I say so"}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "members cannot approve");
        let (status, approved) = lee
            .post(
                &format!("/api/v1/teams/ops/experiments/{second}/approval"),
                json!({"note": "Worth one cent over."}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(approved["approval"]["by"], "Lee Lead");
        // Changing the design withdraws the approval.
        let (status, changed) = mo
            .send(
                Method::PUT,
                &format!("/api/v1/teams/ops/experiments/{second}"),
                Some(design("Instant refunds", 45_000, 10)),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(changed["approval"], Value::Null);
        lee.post(
            &format!("/api/v1/teams/ops/experiments/{second}/approval"),
            json!({"note": "Still worth it."}),
        )
        .await;
        let (status, _) = mo
            .post(
                &format!("/api/v1/teams/ops/experiments/{second}/start"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);

        // A small one fits no more: the budget is spent.
        let third = prepared(&mo, design("Tiny", 1, 0)).await;
        let (_, view) = mo
            .get(&format!("/api/v1/teams/ops/experiments/{third}"))
            .await;
        assert_eq!(view["needs_approval"], true);
        let (_, portfolio) = lee
            .get(&format!("/api/v1/teams/ops/portfolio?quarter={q}"))
            .await;
        assert_eq!(portfolio["budget"]["committed_money_minor"], 105_000);
        assert_eq!(portfolio["budget"]["remaining_money_minor"], -5_000);
        assert_eq!(portfolio["budget"]["committed_days_tenths"], 30);
        assert_eq!(portfolio["running"].as_array().map(Vec::len), Some(2));
        assert_eq!(portfolio["drafts"].as_array().map(Vec::len), Some(1));
        assert_eq!(portfolio["decisions_due"].as_array().map(Vec::len), Some(2));
        app.db
            .execute(
                "UPDATE experiments SET decide_by = decide_by - 86400 WHERE status = 'running'",
            )
            .await;
        let (_, portfolio) = lee.get("/api/v1/teams/ops/portfolio").await;
        assert_eq!(portfolio["overdue"].as_array().map(Vec::len), Some(2));
    }
);

story!(
    premortem_reasons_stay_sealed_until_the_reveal,
    |app: TestApp| async move {
        let (lee, mo) = team(&app).await;
        let root = app.token_for("root@example.org").await;
        let (_, created) = lee
            .post("/api/v1/teams/ops/experiments", design("Sealed", 100, 1))
            .await;
        let e = id(&created);
        let base = format!("/api/v1/teams/ops/experiments/{e}");
        let secret = "The vendor quietly deprecates the refund endpoint";
        let (status, _) = mo
            .post(
                &format!("{base}/premortem/reasons"),
                json!({"reason": secret}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let (_, own) = lee
            .post(
                &format!("{base}/premortem/reasons"),
                json!({"reason": "Lead's own worry", "show_name": true}),
            )
            .await;
        assert_eq!(
            own["premortem"]["mine"][0]["text"], "Lead's own worry",
            "writers see their own named reasons"
        );

        // The designer (a lead), an admin and the API: counts only.
        for api in [&lee, &root] {
            let (_, view) = api.get(&base).await;
            assert_eq!(view["premortem"]["writers"], 2);
            assert_eq!(view["premortem"]["reasons"], json!([]));
            assert!(!view.to_string().contains(secret));
        }
        let (_, list) = root.get("/api/v1/teams/ops/experiments").await;
        assert!(!list.to_string().contains(secret));
        let web = app.sign_in("lee@example.org").await;
        let (_, page) = web.get_text(&format!("/teams/ops/experiments/{e}")).await;
        assert!(page.contains("2 people have written"), "counts are shown");
        assert!(
            !page.contains(secret),
            "the page does not show sealed reasons"
        );
        // In the database: only ciphertext, and no author for an unnamed reason.
        assert_eq!(
            app.db
                .count("SELECT COUNT(*) FROM sealed_items WHERE plaintext IS NOT NULL")
                .await,
            0
        );
        for row in app.db.dump("SELECT * FROM sealed_items").await {
            for (column, value) in row {
                assert!(
                    !value.contains("vendor"),
                    "{column} holds the reason in the clear"
                );
            }
        }
        // The unnamed reason is not stored before the reveal at all: it waits in memory, to be
        // written with the reveal, so nothing pairs it with its writer's mark.
        assert_eq!(
            app.db
                .count("SELECT COUNT(*) FROM sealed_items WHERE author_id IS NULL")
                .await,
            0
        );

        // Only the designer or a lead reveals; then everyone sees all at once.
        let (status, _) = mo
            .post(&format!("{base}/premortem/reveal"), json!({}))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, revealed) = lee
            .post(&format!("{base}/premortem/reveal"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);
        let reasons = revealed["premortem"]["reasons"]
            .as_array()
            .expect("reasons");
        assert_eq!(reasons.len(), 2);
        let by_text = |t: &str| {
            reasons
                .iter()
                .find(|r| r["text"] == t)
                .expect("reason")
                .clone()
        };
        assert_eq!(by_text(secret)["by"], Value::Null, "unnamed stays unnamed");
        assert_eq!(by_text("Lead's own worry")["by"], "Lee Lead");
        let (status, _) = mo
            .post(
                &format!("{base}/premortem/reasons"),
                json!({"reason": "late"}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "no writing after the reveal");
        let (_, page) = web.get_text(&format!("/teams/ops/experiments/{e}")).await;
        assert!(page.contains(secret));
    }
);

story!(
    a_refuted_outcome_opens_one_loop_even_under_concurrent_retries,
    |app: TestApp| async move {
        let (lee, mo) = team(&app).await;
        let e = prepared(&mo, design("Refund pricing", 0, 0)).await;
        let (status, problem) = mo
            .post(
                &format!("/api/v1/teams/ops/experiments/{e}/start"),
                json!({}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "a zero loss needs no budget: {problem}"
        );
        let body = json!({
            "outcome": "refuted",
            "believed": "customers will pay for same-day refunds",
            "observed": "0.4% opted in",
            "learned": "speed matters less than certainty",
            "therefore": "we will show the refund date instead",
            "decision": "pivot",
        });
        let path = format!("/api/v1/teams/ops/experiments/{e}/conclusion");
        let mut requests = Vec::new();
        for api in [&lee, &mo, &lee, &mo, &lee, &mo, &lee, &mo] {
            requests.push(api.post(&path, body.clone()));
        }
        let answers = futures_util::future::join_all(requests).await;
        let mut loop_ids = Vec::new();
        for (status, answer) in &answers {
            assert_eq!(*status, StatusCode::OK, "{answer}");
            loop_ids.push(answer["loop_id"].as_str().expect("loop id").to_owned());
        }
        loop_ids.dedup();
        assert_eq!(loop_ids.len(), 1, "every answer names the same loop");
        assert_eq!(
            app.db
                .count(&format!(
                    "SELECT COUNT(*) FROM loops WHERE source_experiment_id = '{e}'"
                ))
                .await,
            1
        );
        let (_, opened) = lee
            .get(&format!("/api/v1/teams/ops/loops/{}", loop_ids[0]))
            .await;
        assert_eq!(opened["stage"], "analyse");
        assert_eq!(opened["kind"], "experiment");
        assert!(
            opened["what_happened"]
                .as_str()
                .unwrap_or("")
                .contains("customers will pay for same-day refunds"),
            "the test card is attached"
        );
        assert_eq!(
            opened["classification"]["answers"]["new_territory"], "yes",
            "criteria carried over"
        );
        assert_eq!(
            opened["classification"]["suggestion"]["kind"],
            "intelligent"
        );
        assert_eq!(opened["factors"][0]["reason"], "hypothesis_testing");
        // A later retry with another outcome is refused and writes nothing.
        let mut other = body.clone();
        other["outcome"] = json!("validated");
        let (status, _) = mo
            .post(
                &format!("/api/v1/teams/ops/experiments/{e}/conclusion"),
                other,
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(app.db.count("SELECT COUNT(*) FROM loops").await, 1);
    }
);

story!(
    a_validated_outcome_opens_no_loop_and_loops_start_experiments,
    |app: TestApp| async move {
        let (_, mo) = team(&app).await;
        let (_, source) = mo
            .post(
                "/api/v1/teams/ops/loops",
                json!({"title": "Refund delays", "what_happened": "x", "what_was_expected": "y"}),
            )
            .await;
        let loop_id = id(&source);
        let mut body = design("Follow-up test", 0, 0);
        body["source_loop_id"] = json!(loop_id);
        let (status, created) = mo.post("/api/v1/teams/ops/experiments", body).await;
        assert_eq!(status, StatusCode::CREATED);
        let e = id(&created);
        let (_, l) = mo.get(&format!("/api/v1/teams/ops/loops/{loop_id}")).await;
        assert_eq!(
            l["next_experiment_id"],
            e.as_str(),
            "the loop's Continue stage links its next experiment"
        );
        let (status, problem) = mo
            .post(
                &format!("/api/v1/teams/ops/experiments/{e}/start"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        let detail = problem["detail"].as_str().unwrap_or("");
        assert!(
            detail.contains("pilot checklist") && detail.contains("pre-mortem"),
            "{detail}"
        );
        let e = prepared(&mo, design("Validated one", 0, 0)).await;
        mo.post(
            &format!("/api/v1/teams/ops/experiments/{e}/start"),
            json!({}),
        )
        .await;
        let (status, answer) = mo
        .post(
            &format!("/api/v1/teams/ops/experiments/{e}/conclusion"),
            json!({"outcome": "validated", "believed": "a", "observed": "b", "learned": "c", "therefore": "d", "decision": "persevere"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer["loop_id"], Value::Null);
        assert_eq!(answer["experiment"]["conclusion"]["decision"], "persevere");
        assert_eq!(app.db.count("SELECT COUNT(*) FROM loops").await, 1);
    }
);
