//! Every page of the product, opened in Chromium as an anonymous visitor, a member, a lead and
//! an admin, logs no Content-Security-Policy violation: the member's view and the API's
//! documentation here, the others in `browser_axe`'s walk of every page, on the same seed.
//!
//! Chromium reports each refused script, style, image or connection on the page's console;
//! chromedriver keeps the console (`goog:loggingPrefs`) and hands it over on request. A page that
//! needed an inline script, an inline style or a foreign source would show up here, whatever part
//! of the policy it broke.

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::{json, Value};

use crate::browser::{fill, wait_for_text, Driver};
use crate::experiments::design;
use crate::helpers::{TestApp, PASSWORD};
use crate::story;

/// The console entries Chromium logged since the last call that are about the policy.
pub(crate) async fn csp_violations(driver: &Driver, browser: &Client) -> Vec<String> {
    let session = browser
        .session_id()
        .await
        .expect("session id")
        .expect("a session");
    let response: Value = reqwest::Client::new()
        .post(format!("{}/session/{session}/se/log", driver.url))
        .json(&json!({"type": "browser"}))
        .send()
        .await
        .expect("chromedriver answers the log request")
        .json()
        .await
        .expect("log as JSON");
    let entries = response["value"]
        .as_array()
        .unwrap_or_else(|| panic!("chromedriver returned no log: {response}"));
    entries
        .iter()
        .filter_map(|entry| entry["message"].as_str())
        .filter(|message| {
            message.contains("Content Security Policy")
                || message.contains("Content-Security-Policy")
        })
        .map(str::to_owned)
        .collect()
}

/// Opens each page and collects what the policy refused on it. The short pause lets the page's
/// deferred scripts, htmx requests and event streams run before the console is read. A page
/// that answers with the error page would prove nothing about itself, so that fails too.
async fn visit_all(
    driver: &Driver,
    browser: &Client,
    app: &TestApp,
    who: &str,
    pages: &[String],
) -> Vec<String> {
    let mut found = Vec::new();
    for page in pages {
        browser
            .goto(&app.url(page))
            .await
            .unwrap_or_else(|e| panic!("{who} opens {page}: {e}"));
        tokio::time::sleep(Duration::from_millis(400)).await;
        if let Ok(status) = browser.find(Locator::Css("p.status-code")).await {
            let status = status.text().await.unwrap_or_default();
            found.push(format!("{who} on {page}: the error page ({status})"));
        }
        for violation in csp_violations(driver, browser).await {
            found.push(format!("{who} on {page}: {violation}"));
        }
    }
    found
}

pub(crate) async fn sign_in(driver: &mut Driver, app: &TestApp, email: &str) -> Client {
    let browser = driver.session().await;
    browser.goto(&app.url("/login")).await.expect("login");
    fill(&browser, "email", email).await;
    fill(&browser, "password", PASSWORD).await;
    crate::browser::click_button(&browser, "Sign in").await;
    wait_for_text(&browser, "Sign out").await;
    browser
}

/// The pages of a team "ops" seeded so that each shows something: who sees which.
pub(crate) struct EveryPage {
    /// Pages a visitor opens without signing in (an invitation, a reporter's link, sign-in).
    pub(crate) anonymous: Vec<String>,
    /// Pages every member of the team opens.
    pub(crate) team: Vec<String>,
    /// Pages only the team's leads (and admins) open.
    pub(crate) lead_only: Vec<String>,
    /// Pages only organisation admins open.
    pub(crate) admin: Vec<String>,
}

/// Seeds accounts (root@ an admin, lee@ the lead of "ops", mo@ a member, five more members) and
/// something for every page: a loop (and an anonymous one, for the reporter page), an
/// experiment, a review under way, a closed pulse round (its charts), a recognition, an open
/// invitation, a published failure CV, a webhook of the organisation.
pub(crate) async fn seed_every_page(app: &TestApp) -> EveryPage {
    app.create_user("root@example.org", "Root Admin", true)
        .await;
    app.create_user("lee@example.org", "Lee Lead", false).await;
    app.create_user("mo@example.org", "Mo Member", false).await;
    let root = app.token_for("root@example.org").await;
    let lee = app.token_for("lee@example.org").await;
    let mo = app.token_for("mo@example.org").await;
    lee.post("/api/v1/teams", json!({"name": "Ops"})).await;
    let (_, mo_user) = mo.get("/api/v1/me").await;
    let mo_id = mo_user["id"].as_str().expect("mo's id").to_owned();
    for email in ["mo@example.org", "root@example.org"] {
        lee.post(
            "/api/v1/teams/ops/members",
            json!({"email": email, "role": "member"}),
        )
        .await;
    }
    let (_, a_loop) = mo
        .post(
            "/api/v1/teams/ops/loops",
            json!({"title": "The disk filled up overnight", "what_happened": "The operator failed to notice the disk filling up.", "tags": ["night"]}),
        )
        .await;
    let loop_id = a_loop["id"].as_str().expect("loop id").to_owned();
    let (_, anonymous) = mo
        .post(
            "/api/v1/teams/ops/loops",
            json!({"title": "Quiet one", "what_happened": "x", "anonymous": true}),
        )
        .await;
    let reporter = anonymous["reporter_link"]
        .as_str()
        .expect("reporter link")
        .trim_start_matches(&app.address)
        .to_owned();
    let (_, experiment) = lee
        .post(
            "/api/v1/teams/ops/experiments",
            design("Same-day refunds", 100_000, 20),
        )
        .await;
    let experiment_id = experiment["id"].as_str().expect("experiment id").to_owned();
    let (_, review) = mo
        .post(
            "/api/v1/teams/ops/reviews",
            json!({"prompt": "What made the release slip?"}),
        )
        .await;
    let review_id = review["id"].as_str().expect("review id").to_owned();
    lee.post(
        &format!("/api/v1/teams/ops/reviews/{review_id}/participants"),
        json!({}),
    )
    .await;
    mo.post(
        &format!("/api/v1/teams/ops/reviews/{review_id}/advance"),
        json!({}),
    )
    .await;
    let today = time::OffsetDateTime::now_utc().date().to_string();
    let (_, round) = lee
        .post(
            "/api/v1/teams/ops/pulse-rounds",
            json!({"closes_on": today}),
        )
        .await;
    let round_id = round["id"].as_str().expect("round id").to_owned();
    for i in 0..5 {
        let email = format!("m{i}@example.org");
        app.create_user(&email, &format!("Member {i}"), false).await;
        lee.post(
            "/api/v1/teams/ops/members",
            json!({"email": email, "role": "member"}),
        )
        .await;
        app.token_for(&email)
            .await
            .post(
                &format!("/api/v1/teams/ops/pulse-rounds/{round_id}/answers"),
                json!({"answers": [2, 6, 2, 6, 2, 6, 6]}),
            )
            .await;
    }
    lee.post(
        &format!("/api/v1/teams/ops/pulse-rounds/{round_id}/close"),
        json!({}),
    )
    .await;
    lee.post(
        "/api/v1/teams/ops/recognitions",
        json!({"receiver_id": mo_id, "behaviour": "Paired on the outage", "impact": "It ended an hour sooner"}),
    )
    .await;
    let (status, invitation) = root
        .post("/api/v1/invitations", json!({"email": "new@example.org"}))
        .await;
    assert!(status.is_success(), "{invitation}");
    let invite = invitation["link"]
        .as_str()
        .expect("invitation link")
        .trim_start_matches(&app.address)
        .to_owned();
    let (status, published) = mo
        .send(
            reqwest::Method::PUT,
            "/api/v1/me/cv/visibility",
            Some(json!({"published": true})),
        )
        .await;
    assert!(status.is_success(), "{published}");
    let (status, hook) = root
        .post(
            "/api/v1/webhooks",
            json!({"url": "https://hooks.example.org/organisation", "event_types": ["loop.logged"]}),
        )
        .await;
    assert!(status.is_success(), "{hook}");
    let org_hook = hook["id"].as_str().expect("webhook").to_owned();

    let team = [
        "/",
        "/teams",
        "/teams/ops",
        "/teams/ops/data",
        "/teams/ops/members",
        "/account",
        "/account/sessions",
        "/me/cv",
        "/log",
        "/teams/ops/loops",
        "/teams/ops/loops/new",
        "/teams/ops/health",
        "/teams/ops/mirror",
        "/search?q=disk",
        "/library",
        "/health",
        "/teams/ops/experiments",
        "/teams/ops/experiments/new",
        "/teams/ops/pulse",
        "/teams/ops/recognition",
        "/teams/ops/reviews",
        "/api/docs",
    ]
    .iter()
    .map(|p| (*p).to_owned())
    .chain([
        format!("/teams/ops/loops/{loop_id}"),
        format!("/teams/ops/experiments/{experiment_id}"),
        format!("/teams/ops/experiments/{experiment_id}/edit"),
        format!("/teams/ops/pulse/{round_id}"),
        // The live board: htmx and its event stream run on this page.
        format!("/teams/ops/reviews/{review_id}"),
        format!("/people/{mo_id}/cv"),
        invite.clone(),
    ])
    .collect();
    EveryPage {
        anonymous: vec![
            "/login".to_owned(),
            invite,
            reporter,
            "/api/docs".to_owned(),
        ],
        team,
        lead_only: [
            "/teams/ops/settings",
            "/teams/ops/recognition/fairness",
            "/teams/ops/integrations",
        ]
        .map(str::to_owned)
        .to_vec(),
        admin: vec![
            "/people".to_owned(),
            "/people/lint".to_owned(),
            "/people/audit".to_owned(),
            "/people/webhooks".to_owned(),
            format!("/people/webhooks/{org_hook}"),
        ],
    }
}

// The visitor's, the lead's and the admin's walks of every page read the console too
// (`browser_axe`, one visit for both checks); this test covers what they do not: the API's
// documentation page (Swagger UI, which axe leaves out), the pages as a plain member sees them,
// and the requests typing starts.
story!(no_page_logs_a_csp_violation, |app: TestApp| async move {
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let mut found = Vec::new();
    let pages = seed_every_page(&app).await;
    let visitor = driver.session().await;
    found.extend(
        visit_all(
            &driver,
            &visitor,
            &app,
            "visitor",
            &["/api/docs".to_owned()],
        )
        .await,
    );
    visitor.close().await.expect("close");

    // A member is refused the team's settings and the fairness view, so sees the others alone.
    let browser = sign_in(&mut driver, &app, "mo@example.org").await;
    found.extend(csp_violations(&driver, &browser).await);
    found.extend(visit_all(&driver, &browser, &app, "member", &pages.team).await);
    // Typing into the new-loop form asks for similar loops and writing hints (htmx).
    browser
        .goto(&app.url("/teams/ops/loops/new"))
        .await
        .expect("new loop form");
    fill(
        &browser,
        "what_happened",
        "The operator failed to notice the disk filling up.",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for violation in csp_violations(&driver, &browser).await {
        found.push(format!("member typing a loop: {violation}"));
    }
    browser.close().await.expect("close");

    assert!(
        found.is_empty(),
        "pages broke the Content-Security-Policy:\n{}",
        found.join("\n")
    );
});
