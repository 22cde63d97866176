//! Issue 19: the loop page leads with the current stage. Earlier stages fold to a one-line
//! summary, later stages show what they will ask for, and every anchor and form stays on the page.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Api, Browser, TestApp};
use crate::story;

/// The stage sections of a loop page, in document order, with their place and whether their
/// fold starts open (`None` for the current stage, which is not folded).
fn sections(html: &str) -> Vec<(String, String, Option<bool>)> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("<section id=\"") {
        rest = &rest[at + "<section id=\"".len()..];
        let id = rest.split('"').next().unwrap_or("").to_owned();
        let tag = rest.split('>').next().unwrap_or("");
        let Some(place) = tag
            .split("data-stage-state=\"")
            .nth(1)
            .and_then(|p| p.split('"').next())
        else {
            continue;
        };
        let end = rest.find("</section>").unwrap_or(rest.len());
        let body = &rest[..end];
        let fold = body
            .find("<details class=\"stage-fold\"")
            .map(|f| body[f..].split('>').next().unwrap_or("").contains(" open"));
        found.push((id, place.to_owned(), fold));
    }
    found
}

async fn page(web: &Browser, loop_id: &str) -> String {
    let (status, html) = web.get_text(&format!("/teams/ops/loops/{loop_id}")).await;
    assert_eq!(status, StatusCode::OK);
    html
}

async fn advance(api: &Api, loop_id: &str) {
    let (status, moved) = api
        .post(
            &format!("/api/v1/teams/ops/loops/{loop_id}/stage"),
            json!({"direction": "advance"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
}

fn expect(html: &str, order: &[(&str, &str, Option<bool>)]) {
    let got = sections(html);
    let want: Vec<_> = order
        .iter()
        .map(|(id, place, fold)| ((*id).to_owned(), (*place).to_owned(), *fold))
        .collect();
    assert_eq!(got, want);
    // Every anchor the tracker, the redirects and the tests use is still on the page.
    for anchor in [
        "detect",
        "analyse",
        "apply",
        "continue",
        "next-step",
        "review",
        "timeline",
        "factors",
        "accounts",
        "classification",
        "learnings",
        "actions",
        "history",
    ] {
        assert_eq!(
            html.matches(&format!("id=\"{anchor}\"")).count(),
            1,
            "id {anchor} once"
        );
    }
    for form in [
        "/additions",
        "/review\"",
        "/timeline",
        "/factors",
        "/accounts",
        "/classification",
        "/override\"",
        "/learnings",
        "/actions\"",
        "/follow-up\"",
    ] {
        assert!(html.contains(form), "form {form} is on the page");
    }
}

story!(
    the_loop_page_leads_with_the_current_stage,
    |app: TestApp| async move {
        app.create_user("lee@example.org", "Lee Lead", true).await;
        let lee = app.token_for("lee@example.org").await;
        let (status, _) = lee.post("/api/v1/teams", json!({"name": "Ops"})).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, created) = lee
            .post(
                "/api/v1/teams/ops/loops",
                json!({"title": "Slow search", "what_happened": "p99 doubled",
                       "what_was_expected": "p99 under 50 ms"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let loop_id = created["id"].as_str().expect("id").to_owned();
        let web = app.sign_in("lee@example.org").await;

        let html = page(&web, &loop_id).await;
        expect(
            &html,
            &[
                ("detect", "current", None),
                ("analyse", "later", Some(false)),
                ("apply", "later", Some(false)),
                ("continue", "later", Some(false)),
            ],
        );
        assert!(html.contains("It will ask for:</strong> Learnings others can reuse"));

        advance(&lee, &loop_id).await;
        let html = page(&web, &loop_id).await;
        expect(
            &html,
            &[
                ("analyse", "current", None),
                ("apply", "later", Some(false)),
                ("continue", "later", Some(false)),
                ("detect", "done", Some(false)),
            ],
        );
        assert!(
            html.contains("<summary>Impact"),
            "detect folds to a summary"
        );

        let (status, _) = lee
            .post(
                &format!("/api/v1/teams/ops/loops/{loop_id}/factors"),
                json!({"reason": "process_complexity", "description": "Index rebuild and cache warm-up overlapped."}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, _) = lee
            .send(
                reqwest::Method::PUT,
                &format!("/api/v1/teams/ops/loops/{loop_id}/classification"),
                Some(json!({"new_territory":"no","pursued_goal":"yes","hypothesis_beforehand":"no",
                            "as_small_as_possible":"yes","responded_quickly":"yes","learned_from":"yes"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        advance(&lee, &loop_id).await;
        let html = page(&web, &loop_id).await;
        expect(
            &html,
            &[
                ("apply", "current", None),
                ("continue", "later", Some(false)),
                ("detect", "done", Some(false)),
                ("analyse", "done", Some(false)),
            ],
        );
        assert!(
            html.contains("1 contributing factor"),
            "the analyse summary counts the factor"
        );

        // A form of a folded stage that fails opens its fold, with the error beside it.
        let response = web
            .submit(
                &format!("/teams/ops/loops/{loop_id}"),
                &format!("/teams/ops/loops/{loop_id}/factors"),
                &[("reason", "process_complexity"), ("description", "")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = response.text().await.expect("body");
        expect(
            &html,
            &[
                ("apply", "current", None),
                ("continue", "later", Some(false)),
                ("detect", "done", Some(false)),
                ("analyse", "done", Some(true)),
            ],
        );

        let (status, _) = lee
            .post(
                &format!("/api/v1/teams/ops/loops/{loop_id}/learnings"),
                json!({"statement": "Stagger index rebuilds away from cache warm-up.", "visibility": "team"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        advance(&lee, &loop_id).await;
        let html = page(&web, &loop_id).await;
        expect(
            &html,
            &[
                ("continue", "current", None),
                ("detect", "done", Some(false)),
                ("analyse", "done", Some(false)),
                ("apply", "done", Some(false)),
            ],
        );
        assert!(html.contains("1 learning · 0 action items (0 open)"));
        assert!(html.contains("follow-up-answer"), "the check is offered");
    }
);
