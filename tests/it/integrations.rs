//! Issue 21's pages: a team's leads manage its webhooks (create with the secret shown once,
//! list, delivery log, redeliver, rotate, switch off and on, delete) and its alert intake from
//! `/teams/{slug}/integrations`; admins manage the organisation's webhooks from
//! `/people/webhooks`; a member who is not a lead gets 403, an outsider 404. Both databases,
//! through the forms as a browser sends them.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{location, Backend, Browser, TestApp};
use crate::webhooks::{next, receiver, verifies};

/// The text of the first `value="…"` that starts with `prefix`, unescaped.
fn shown_value(html: &str, prefix: &str) -> String {
    let marker = format!("value=\"{prefix}");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {prefix}… shown"))
        + "value=\"".len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end]
        .replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&#43;", "+")
        .replace("&#x2b;", "+")
        .replace("&#61;", "=")
        .replace("&#x3d;", "=")
        .replace("&amp;", "&")
}

/// The id that follows `before` in the page (up to the next `/`, `"` or `?`).
fn id_after(html: &str, before: &str) -> String {
    let start = html
        .find(before)
        .unwrap_or_else(|| panic!("{before} not on the page"))
        + before.len();
    html[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

async fn page(browser: &Browser, path: &str) -> String {
    let (status, html) = browser.get_text(path).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {html}");
    html
}

async fn pages(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |settings| {
        settings.policy.webhooks_allow_private = true;
    })
    .await
    else {
        return;
    };
    app.create_user("root@example.org", "Root Admin", true)
        .await;
    app.create_user("lee@example.org", "Lee Lead", false).await;
    app.create_user("mo@example.org", "Mo Member", false).await;
    app.create_user("out@example.org", "Olu Outsider", false)
        .await;
    let lee_api = app.token_for("lee@example.org").await;
    let (status, _) = lee_api.post("/api/v1/teams", json!({"name": "Ops"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = lee_api
        .post(
            "/api/v1/teams/ops/members",
            json!({"email": "mo@example.org", "role": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let lee = app.sign_in("lee@example.org").await;
    let list = "/teams/ops/integrations";

    // The team's page and its settings link to the integrations; nothing there yet.
    assert!(page(&lee, "/teams/ops").await.contains(list));
    assert!(page(&lee, "/teams/ops/settings").await.contains(list));
    let html = page(&lee, list).await;
    assert!(html.contains("No webhooks yet"), "{html}");
    assert!(html.contains("/api/v1/teams/ops/alerts/alertmanager"));
    assert!(html.contains("/api/v1/teams/ops/alerts/pagerduty"));
    assert!(html.contains("/api/v1/teams/ops/alerts/opsgenie"));
    assert!(html.contains("curl -X POST"));

    // Refused input is shown in the page, naming the field, with what was typed.
    let (url, mut received) = receiver(0).await;
    let response = lee
        .submit(list, "/teams/ops/webhooks", &[("url", url.as_str())])
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("page");
    assert!(html.contains("choose at least one event type"), "{html}");
    assert!(html.contains("href=\"#event_types\""), "{html}");
    assert!(html.contains(&url), "what was typed is kept");
    let response = lee
        .submit(
            list,
            "/teams/ops/webhooks",
            &[("url", "ftp://example.org/x"), ("loop.logged", "on")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("page");
    assert!(html.contains("href=\"#url\""), "{html}");
    assert!(html.contains("id=\"kind-loop-logged\" name=\"loop.logged\" value=\"on\" checked"));

    // Created through the form: the secret is shown this once, then the page lists it.
    let response = lee
        .submit(
            list,
            "/teams/ops/webhooks",
            &[
                ("url", url.as_str()),
                ("loop.logged", "on"),
                ("action.done", "on"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let html = response.text().await.expect("page");
    let secret = shown_value(&html, "whsec_");
    let html = page(&lee, list).await;
    assert!(html.contains(&url), "{html}");
    assert!(html.contains("loop.logged, action.done"), "{html}");
    assert!(!html.contains("whsec_"), "the secret is shown once");
    let hook = id_after(&html, "/teams/ops/webhooks/");
    let log = format!("/teams/ops/webhooks/{hook}");

    // A change is delivered, signed with that secret, and logged on the hook's page.
    let (status, created) = lee_api
        .post(
            "/api/v1/teams/ops/loops",
            json!({"title": "Queue backed up", "what_happened": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let first = next(&mut received).await;
    assert!(verifies(&secret, &first), "{first:?}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let html = loop {
        let html = page(&lee, &log).await;
        if html.contains("delivered") {
            break html;
        }
        assert!(tokio::time::Instant::now() < deadline, "no attempt logged");
        tokio::task::yield_now().await;
    };
    assert!(html.contains("<td>204</td>"), "{html}");
    assert!(html.contains(&first.id), "the webhook-id is shown");
    assert!(html.contains("loop.logged"));

    // Redeliver: the same event again, with the same webhook-id.
    let delivery = id_after(&html, "/deliveries/");
    let response = lee
        .submit(&log, &format!("{log}/deliveries/{delivery}/redeliver"), &[])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        format!("{log}?notice=redelivery-queued")
    );
    let again = next(&mut received).await;
    assert_eq!(again.id, first.id);
    assert!(page(&lee, &location(&response)).await.contains("Queued"));

    // Rotate: a new secret shown once; the previous one still signs for a day.
    let response = lee.submit(list, &format!("{log}/rotate"), &[]).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let html = response.text().await.expect("page");
    let rotated = shown_value(&html, "whsec_");
    assert_ne!(rotated, secret);
    assert!(html.contains("previous secret signs until"), "{html}");

    // Switch off and on.
    let response = lee.submit(list, &format!("{log}/disable"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let html = page(&lee, list).await;
    assert!(
        html.contains("<strong>off</strong>: switched off by hand"),
        "{html}"
    );
    assert!(html.contains(&format!("{log}/enable")));
    let response = lee.submit(list, &format!("{log}/enable"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(page(&lee, list).await.contains(&format!("{log}/disable")));

    // A member who is not a lead sees neither the page nor the log, and cannot act.
    let mo = app.sign_in("mo@example.org").await;
    assert_eq!(mo.get(list).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(mo.get(&log).await.status(), StatusCode::FORBIDDEN);
    assert!(!page(&mo, "/teams/ops").await.contains(list));
    for action in [
        "/teams/ops/webhooks".to_owned(),
        format!("{log}/rotate"),
        format!("{log}/delete"),
        format!("{log}/deliveries/{delivery}/redeliver"),
        "/teams/ops/alert-intake".to_owned(),
    ] {
        let response = mo
            .submit(
                "/teams/ops",
                &action,
                &[("url", url.as_str()), ("loop.logged", "on")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{action}");
    }
    // Someone outside the team learns nothing of it.
    let outsider = app.sign_in("out@example.org").await;
    assert_eq!(outsider.get(list).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(outsider.get(&log).await.status(), StatusCode::NOT_FOUND);

    // The alert intake: set up through the form, its token shown once and accepted.
    let response = lee
        .submit(list, "/teams/ops/alert-intake", &[("pagerduty_secret", "")])
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let html = response.text().await.expect("page");
    let token = shown_value(&html, "ffa_");
    let html = page(&lee, list).await;
    assert!(!html.contains(&token), "the token is shown once");
    assert!(html.contains("PagerDuty is not set up"), "{html}");
    let answer = reqwest::Client::new()
        .post(app.url("/api/v1/teams/ops/alerts/generic"))
        .bearer_auth(&token)
        .json(&json!({"fingerprint": "disk-full", "title": "Disk full"}))
        .send()
        .await
        .expect("intake");
    assert_eq!(answer.status(), StatusCode::ACCEPTED);
    let long = "x".repeat(300);
    let response = lee
        .submit(
            list,
            "/teams/ops/alert-intake",
            &[("pagerduty_secret", long.as_str())],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response
        .text()
        .await
        .expect("page")
        .contains("href=\"#pagerduty_secret\""));

    // Delete.
    let response = lee.submit(list, &format!("{log}/delete"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(page(&lee, list).await.contains("No webhooks yet"));
    assert_eq!(lee.get(&log).await.status(), StatusCode::NOT_FOUND);

    // The organisation's webhooks: admins only.
    assert_eq!(
        lee.get("/people/webhooks").await.status(),
        StatusCode::FORBIDDEN
    );
    let root = app.sign_in("root@example.org").await;
    assert!(page(&root, "/people").await.contains("/people/webhooks"));
    let response = root
        .submit(
            "/people/webhooks",
            "/people/webhooks",
            &[("url", url.as_str()), ("loop.logged", "on")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let org_secret = shown_value(&response.text().await.expect("page"), "whsec_");
    let html = page(&root, "/people/webhooks").await;
    let org_hook = id_after(&html, "/people/webhooks/");
    let (status, _) = lee_api
        .post(
            "/api/v1/teams/ops/loops",
            json!({"title": "Second queue backed up", "what_happened": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // (The intake's loop went to the team's webhook before it was deleted; skip it.)
    let org_delivery = loop {
        let got = next(&mut received).await;
        if got.body.contains("Second queue backed up") {
            break got;
        }
    };
    assert!(verifies(&org_secret, &org_delivery));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !page(&root, &format!("/people/webhooks/{org_hook}"))
        .await
        .contains("delivered")
    {
        assert!(tokio::time::Instant::now() < deadline, "no attempt logged");
        tokio::task::yield_now().await;
    }
    // A team's lead cannot reach it through the team's addresses either.
    assert_eq!(
        lee.get(&format!("/teams/ops/webhooks/{org_hook}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leads_manage_webhooks_and_the_alert_intake_through_the_pages_sqlite() {
    pages(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leads_manage_webhooks_and_the_alert_intake_through_the_pages_postgres() {
    pages(Backend::Postgres).await;
}
