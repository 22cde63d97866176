//! Browser tests: Chromium driven through WebDriver, clicking through the flows people use.
//! They need `chromium` and `chromedriver` (Debian packages; `.ci/run` installs them).

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::{full_suite_required, TestApp, PASSWORD};
use crate::story;

/// A chromedriver process on a free port, stopped when dropped with the browsers it started
/// (they share its process group), so that a test that panics leaves no Chromium running.
pub struct Driver {
    process: Child,
    pub url: String,
    profiles: Vec<tempfile::TempDir>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        kill_group(&mut self.process);
    }
}

/// Kills `process` and every process of its group: killing chromedriver alone would leave its
/// browsers running, adopted by init.
fn kill_group(process: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", process.id())])
        .stderr(Stdio::null())
        .status();
    let _ = process.kill();
    let _ = process.wait();
}

fn chromedriver_path() -> Option<String> {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(|p| (*p).to_owned())
}

impl Driver {
    /// Starts chromedriver, or `None` (with a notice) when it is not installed here.
    pub async fn start() -> Option<Driver> {
        let Some(binary) = chromedriver_path() else {
            if full_suite_required() {
                panic!("chromedriver is not installed but the full suite is required");
            }
            eprintln!("skipped browser test: install chromium and chromium-driver to run it");
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut process = Command::new(binary)
            .arg(format!("--port={port}"))
            // A group of its own, which the browsers it starts join (see `kill_group`).
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        // Poll chromedriver's status endpoint until it answers (it binds asynchronously).
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if client.get(format!("{url}/status")).send().await.is_ok() {
                return Some(Driver {
                    process,
                    url,
                    profiles: Vec::new(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        kill_group(&mut process);
        panic!("chromedriver did not answer on {url}");
    }

    /// A new browser session with its own profile (its own cookies).
    pub async fn session(&mut self) -> Client {
        let profile = tempfile::tempdir().expect("profile dir");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--disable-quic",
                    format!("--user-data-dir={}", profile.path().display()),
                    "--window-size=1280,900"
                ]
            }),
        );
        // The console is kept, so that a test can read what the page logged (policy violations).
        capabilities.insert("goog:loggingPrefs".to_owned(), json!({"browser": "ALL"}));
        self.profiles.push(profile);
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("WebDriver session")
    }
}

/// Whether a WebDriver error means the element was swapped out by a live update.
fn replaced(error: &str) -> bool {
    error.contains("stale") || error.contains("not interactable")
}

pub async fn fill(browser: &Client, id: &str, value: &str) {
    // A live page may replace the field between finding and typing: find it again then.
    for attempt in 0..5 {
        let field = browser
            .find(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("field #{id}: {e}"));
        match field.clear().await {
            Ok(()) => {}
            Err(e) if attempt < 4 && replaced(&e.to_string()) => continue,
            Err(e) => panic!("clear #{id}: {e}"),
        }
        match field.send_keys(value).await {
            Ok(()) => return,
            Err(e) if attempt < 4 && replaced(&e.to_string()) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Err(e) => panic!("type into #{id}: {e}"),
        }
    }
}

/// Scrolls the element to the middle of the window, then clicks it, as a person would. A live
/// page may replace the element between finding and clicking; then it is found again.
pub async fn click_at(browser: &Client, xpath: &str) {
    let mut last_error = String::new();
    for _ in 0..5 {
        let element = browser
            .find(Locator::XPath(xpath))
            .await
            .unwrap_or_else(|e| panic!("{xpath}: {e}"));
        let handle = serde_json::to_value(&element).expect("element handle");
        let attempt = match browser
            .execute(
                "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});",
                vec![handle],
            )
            .await
        {
            Ok(_) => element.click().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match attempt {
            Ok(()) => return,
            Err(e) if e.contains("stale") => {
                last_error = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => {
                last_error = e;
                break;
            }
        }
    }
    if let Ok(png) = browser.screenshot().await {
        let _ = std::fs::write("/tmp/failforward-click-failure.png", png);
    }
    panic!("click {xpath}: {last_error}");
}

pub async fn click_button(browser: &Client, text: &str) {
    click_at(browser, &format!("//button[normalize-space()='{text}']")).await;
}

/// The page's text, or nothing while a navigation replaces the page.
pub async fn page_text(browser: &Client) -> String {
    match browser.find(Locator::Css("body")).await {
        Ok(body) => body.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits for the page to show `needle`: clicks navigate asynchronously.
pub async fn wait_for_text(browser: &Client, needle: &str) -> String {
    let mut text = String::new();
    for _ in 0..50 {
        text = page_text(browser).await;
        if text.contains(needle) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("page never showed {needle:?}; it shows:\n{text}");
}

story!(
    set_up_create_a_team_and_invite_a_colleague,
    |app: TestApp| async move {
        let Some(mut driver) = Driver::start().await else {
            return;
        };
        let admin = driver.session().await;
        admin
            .goto(app.setup_link.as_deref().expect("set-up link"))
            .await
            .expect("open set-up link");
        fill(&admin, "organisation", "Acme Learning").await;
        fill(&admin, "name", "Ada Admin").await;
        fill(&admin, "email", "ada@example.org").await;
        fill(&admin, "password", PASSWORD).await;
        click_button(&admin, "Create organisation").await;
        wait_for_text(&admin, "Your organisation is ready").await;

        admin.goto(&app.url("/teams")).await.expect("teams");
        fill(&admin, "name", "Payments").await;
        click_button(&admin, "Create team").await;
        wait_for_text(&admin, "Team created").await;
        admin
            .find(Locator::LinkText("Members and invitations"))
            .await
            .expect("members link")
            .click()
            .await
            .expect("click");
        wait_for_text(&admin, "Invite someone").await;
        fill(&admin, "email", "bo@example.org").await;
        click_button(&admin, "Create invitation link").await;
        wait_for_text(&admin, "Invitation link created").await;
        let link = admin
            .find(Locator::Id("invitation-link"))
            .await
            .expect("link field")
            .prop("value")
            .await
            .expect("value")
            .expect("link");
        assert!(link.contains("/invite/"));

        let colleague = driver.session().await;
        colleague.goto(&link).await.expect("open invitation");
        wait_for_text(&colleague, "Join Payments").await;
        fill(&colleague, "name", "Bo Member").await;
        fill(&colleague, "password", PASSWORD).await;
        click_button(&colleague, "Create account and join").await;
        wait_for_text(&colleague, "Welcome to the team!").await;

        admin.refresh().await.expect("reload");
        admin
            .goto(&app.url("/teams/payments/members"))
            .await
            .expect("members");
        let members = wait_for_text(&admin, "Bo Member").await;
        assert!(members.contains("bo@example.org"));
        colleague.close().await.expect("close");
        admin.close().await.expect("close");
    }
);

story!(
    walk_one_loop_from_detect_to_continue,
    |app: TestApp| async move {
        let Some(mut driver) = Driver::start().await else {
            return;
        };
        app.create_user("lee@example.org", "Lee Lead", true).await;
        let api = app.token_for("lee@example.org").await;
        api.post("/api/v1/teams", json!({"name": "Payments"})).await;

        let browser = driver.session().await;
        browser.goto(&app.url("/login")).await.expect("login page");
        fill(&browser, "email", "lee@example.org").await;
        fill(&browser, "password", PASSWORD).await;
        click_button(&browser, "Sign in").await;
        wait_for_text(&browser, "Payments").await;

        // Detect: "Log a failure" is one click from every page.
        click_at(&browser, "//nav//a[normalize-space()='Log a failure']").await;
        wait_for_text(&browser, "Surfacing a failure quickly").await;
        fill(&browser, "title", "Refunds stuck in a queue").await;
        fill(
            &browser,
            "what_happened",
            "Refunds waited 6 hours because the worker pool was scaled to zero.",
        )
        .await;
        fill(
            &browser,
            "what_was_expected",
            "Refunds processed within 10 minutes.",
        )
        .await;
        click_button(&browser, "Log it").await;
        wait_for_text(&browser, "Thank you for surfacing it").await;
        click_button(&browser, "Move on to Analyse").await;
        wait_for_text(&browser, "Now: Analyse").await;

        // Analyse: a contributing factor and the questionnaire.
        click_at(&browser, "//input[@id='reason-process_complexity']").await;
        fill(
            &browser,
            "factor-description",
            "Autoscaling and the nightly cost job interacted.",
        )
        .await;
        click_button(&browser, "Add factor").await;
        wait_for_text(&browser, "Contributing factor added").await;
        click_button(&browser, "Suggest a type").await;
        let text = wait_for_text(&browser, "Suggested: Complex failure").await;
        assert!(text.contains("Process complexity points to a complex failure"));
        click_button(&browser, "Move on to Apply").await;
        wait_for_text(&browser, "Now: Apply").await;

        // Apply: a learning.
        click_at(&browser, "//summary[normalize-space()='Add a learning']").await;
        fill(
            &browser,
            "statement",
            "Cost jobs must not scale queues that carry customer money.",
        )
        .await;
        click_button(&browser, "Add learning").await;
        wait_for_text(&browser, "Learning added").await;
        click_button(&browser, "Move on to Continue").await;
        let text = wait_for_text(&browser, "Now: Continue").await;
        assert!(text.contains("Detect → Analyse"));
        assert!(text.contains("Apply → Continue"));
        let current = browser
            .find(Locator::Css(".stage-tracker [aria-current='step']"))
            .await
            .expect("current step")
            .text()
            .await
            .expect("text");
        assert!(current.contains("Continue"));
        browser.close().await.expect("close");
    }
);

async fn set_value(browser: &Client, id: &str, value: &str) {
    browser
        .execute(
            "document.getElementById(arguments[0]).value = arguments[1];",
            vec![json!(id), json!(value)],
        )
        .await
        .expect("set value");
}

story!(
    from_test_card_to_a_concluded_experiment,
    |app: TestApp| async move {
        let Some(mut driver) = Driver::start().await else {
            return;
        };
        app.create_user("lee@example.org", "Lee Lead", true).await;
        let api = app.token_for("lee@example.org").await;
        api.post("/api/v1/teams", json!({"name": "Payments"})).await;
        let browser = driver.session().await;
        browser.goto(&app.url("/login")).await.expect("login");
        fill(&browser, "email", "lee@example.org").await;
        fill(&browser, "password", PASSWORD).await;
        click_button(&browser, "Sign in").await;
        wait_for_text(&browser, "Payments").await;

        browser
            .goto(&app.url("/teams/payments/experiments"))
            .await
            .expect("portfolio");
        click_at(&browser, "//a[normalize-space()='Design an experiment']").await;
        wait_for_text(&browser, "Test card").await;
        fill(&browser, "title", "Refund date on the receipt").await;
        fill(
            &browser,
            "believe",
            "showing the refund date reduces support tickets",
        )
        .await;
        fill(
            &browser,
            "verify_by",
            "showing it to half of the customers for a week",
        )
        .await;
        fill(
            &browser,
            "measure",
            "tickets about refunds per 1000 refunds",
        )
        .await;
        fill(&browser, "right_if", "tickets drop by a third").await;
        for key in [
            "new_territory",
            "real_goal",
            "informed",
            "as_small_as_possible",
        ] {
            click_at(&browser, &format!("//input[@id='{key}-yes']")).await;
        }
        fill(&browser, "kill_criteria", "complaints about wrong dates").await;
        let today = time::OffsetDateTime::now_utc().date().to_string();
        set_value(&browser, "decide_by", &today).await;
        click_button(&browser, "Save the design").await;
        wait_for_text(&browser, "Experiment designed").await;

        fill(
            &browser,
            "reason",
            "The dates shown are wrong for bank holidays.",
        )
        .await;
        click_button(&browser, "Seal my reason").await;
        wait_for_text(&browser, "1 person has written").await;
        let sealed = page_text(&browser).await;
        assert!(
            !sealed.contains("bank holidays"),
            "sealed reasons are not shown"
        );
        click_button(&browser, "Reveal all reasons together").await;
        wait_for_text(&browser, "bank holidays").await;
        click_at(&browser, "//input[@value='mitigation']").await;
        fill_css(&browser, "input[name='note']", "Use the bank calendar.").await;
        click_button(&browser, "Record").await;
        wait_for_text(&browser, "Mitigation: Use the bank calendar.").await;
        for key in [
            "typical_conditions",
            "representative",
            "learn_not_prove",
            "goal_understood",
            "rewards_independent",
            "changes_planned",
        ] {
            click_at(&browser, &format!("//input[@id='{key}-yes']")).await;
        }
        click_button(&browser, "Save the checklist").await;
        wait_for_text(&browser, "Everything is in place").await;
        click_button(&browser, "Start the experiment").await;
        wait_for_text(&browser, "The experiment is running").await;

        click_at(&browser, "//input[@id='outcome-refuted']").await;
        fill(&browser, "believed", "the date would reassure people").await;
        fill(&browser, "observed", "tickets stayed flat").await;
        fill(
            &browser,
            "learned",
            "people ask about the amount, not the date",
        )
        .await;
        fill(&browser, "therefore", "we will show the amount breakdown").await;
        click_at(&browser, "//input[@id='decision-pivot']").await;
        click_button(&browser, "Record the outcome").await;
        wait_for_text(&browser, "Outcome: Refuted").await;
        click_at(
            &browser,
            "//a[normalize-space()='Analyse it in the loop it opened']",
        )
        .await;
        let text = wait_for_text(&browser, "Now: Analyse").await;
        assert!(text.contains("Experiment: Refund date on the receipt"));
        assert!(text.contains("Hypothesis testing"));
        browser.close().await.expect("close");
    }
);

async fn fill_css(browser: &Client, css: &str, value: &str) {
    let field = browser.find(Locator::Css(css)).await.expect("field");
    field.send_keys(value).await.expect("type");
}

story!(pulse_results_show_as_charts, |app: TestApp| async move {
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    app.create_user("lee@example.org", "Lee Lead", true).await;
    let lee = app.token_for("lee@example.org").await;
    lee.post("/api/v1/teams", json!({"name": "Ops"})).await;
    let today = time::OffsetDateTime::now_utc().date().to_string();
    let (_, round) = lee
        .post(
            "/api/v1/teams/ops/pulse-rounds",
            json!({"closes_on": today}),
        )
        .await;
    let round = round["id"].as_str().expect("round").to_owned();
    for i in 0..5 {
        let email = format!("m{i}@example.org");
        app.create_user(&email, &format!("Member {i}"), false).await;
        lee.post(
            "/api/v1/teams/ops/members",
            json!({"email": email, "role": "member"}),
        )
        .await;
        let member = app.token_for(&email).await;
        member
            .post(
                &format!("/api/v1/teams/ops/pulse-rounds/{round}/answers"),
                json!({"answers": [2, 6, 2, 6, 2, 6, 6]}),
            )
            .await;
    }
    lee.post(
        &format!("/api/v1/teams/ops/pulse-rounds/{round}/close"),
        json!({}),
    )
    .await;
    let browser = driver.session().await;
    browser.goto(&app.url("/login")).await.expect("login");
    fill(&browser, "email", "lee@example.org").await;
    fill(&browser, "password", PASSWORD).await;
    click_button(&browser, "Sign in").await;
    wait_for_text(&browser, "Ops").await;
    browser
        .goto(&app.url(&format!("/teams/ops/pulse/{round}")))
        .await
        .expect("round");
    wait_for_text(&browser, "Team score").await;
    let chart = browser
        .find(Locator::Css("svg#pulse-items[role='img']"))
        .await
        .expect("the item chart is drawn");
    let title = chart
        .find(Locator::Css("title"))
        .await
        .expect("title")
        .html(true)
        .await
        .expect("title text");
    assert!(title.contains("Mean per item"));
    let text = page_text(&browser).await;
    assert!(
        text.contains("6.00"),
        "the chart and the table carry the numbers"
    );
    browser
        .goto(&app.url("/teams/ops/pulse"))
        .await
        .expect("pulse");
    wait_for_text(&browser, "Trend").await;
    browser
        .find(Locator::Css("svg#pulse-trend"))
        .await
        .expect("the trend chart is drawn");
    browser.close().await.expect("close");
});

story!(
    writing_hints_appear_while_typing,
    |app: TestApp| async move {
        let Some(mut driver) = Driver::start().await else {
            return;
        };
        app.create_user("lee@example.org", "Lee Lead", true).await;
        let api = app.token_for("lee@example.org").await;
        api.post("/api/v1/teams", json!({"name": "Ops"})).await;
        let browser = driver.session().await;
        browser.goto(&app.url("/login")).await.expect("login");
        fill(&browser, "email", "lee@example.org").await;
        fill(&browser, "password", PASSWORD).await;
        click_button(&browser, "Sign in").await;
        wait_for_text(&browser, "Ops").await;
        browser
            .goto(&app.url("/teams/ops/loops/new"))
            .await
            .expect("form");
        fill(
            &browser,
            "what_happened",
            "The operator failed to notice the disk filling up.",
        )
        .await;
        let text = wait_for_text(&browser, "Writing hints (1)").await;
        assert!(text.contains("Counterfactual: “failed to”"), "{text}");
        let region = browser
            .find(Locator::Css(
                "#what_happened-lint[role='status'][aria-live='polite']",
            ))
            .await
            .expect("a live region announces the hints");
        assert!(region.text().await.expect("text").contains("Try asking"));
        browser.close().await.expect("close");
    }
);

pub(crate) async fn sign_in_browser(driver: &mut Driver, app: &TestApp, email: &str) -> Client {
    let browser = driver.session().await;
    browser.goto(&app.url("/login")).await.expect("login");
    fill(&browser, "email", email).await;
    fill(&browser, "password", PASSWORD).await;
    click_button(&browser, "Sign in").await;
    wait_for_text(&browser, "Sign out").await;
    browser
}

async fn field_value(browser: &Client, id: &str) -> String {
    browser
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"))
        .prop("value")
        .await
        .expect("value")
        .unwrap_or_default()
}

story!(
    three_people_review_together_live,
    |app: TestApp| async move {
        let Some(mut driver) = Driver::start().await else {
            return;
        };
        app.create_user("root@example.org", "Root Admin", true)
            .await;
        app.create_user("lee@example.org", "Lee Lead", false).await;
        app.create_user("mo@example.org", "Mo Member", false).await;
        app.create_user("kim@example.org", "Kim Member", false)
            .await;
        let lee = app.token_for("lee@example.org").await;
        let mo = app.token_for("mo@example.org").await;
        let kim = app.token_for("kim@example.org").await;
        lee.post("/api/v1/teams", json!({"name": "Ops"})).await;
        for email in ["mo@example.org", "kim@example.org"] {
            lee.post(
                "/api/v1/teams/ops/members",
                json!({"email": email, "role": "member"}),
            )
            .await;
        }
        let (_, started) = mo
            .post(
                "/api/v1/teams/ops/reviews",
                json!({"prompt": "What made the release slip?"}),
            )
            .await;
        let id = started["id"].as_str().expect("review id").to_owned();
        let base = format!("/api/v1/teams/ops/reviews/{id}");
        for api in [&lee, &kim] {
            api.post(&format!("{base}/participants"), json!({})).await;
        }
        mo.post(&format!("{base}/advance"), json!({})).await;
        let page = app.url(&format!("/teams/ops/reviews/{id}"));

        let mut people = Vec::new();
        for email in ["mo@example.org", "kim@example.org", "lee@example.org"] {
            let browser = sign_in_browser(&mut driver, &app, email).await;
            browser.goto(&page).await.expect("session page");
            wait_for_text(&browser, "0 cards sealed").await;
            people.push(browser);
        }
        let (mo_b, kim_b, lee_b) = (&people[0], &people[1], &people[2]);

        // Lee starts a card but has not sent it when Kim seals hers: Lee's page updates without
        // a reload, and keeps the draft.
        fill(
            lee_b,
            "card-text",
            "We merged late because the test rig was booked",
        )
        .await;
        fill(
            kim_b,
            "card-text",
            "The release checklist had no owner this sprint",
        )
        .await;
        click_button(kim_b, "Seal this card").await;
        wait_for_text(mo_b, "1 card sealed").await;
        wait_for_text(lee_b, "1 card sealed").await;
        assert_eq!(
            field_value(lee_b, "card-text").await,
            "We merged late because the test rig was booked"
        );
        let text = page_text(mo_b).await;
        assert!(
            !text.contains("checklist had no owner"),
            "the facilitator reads a sealed card"
        );
        click_button(lee_b, "Seal this card").await;
        wait_for_text(mo_b, "2 cards sealed").await;
        fill(mo_b, "card-text", "Two freezes overlapped with the holiday").await;
        click_button(mo_b, "Seal this card").await;
        wait_for_text(kim_b, "3 cards sealed").await;

        // Everyone finishes: the cards reveal on every page at once, the lead's among them.
        for browser in [kim_b, lee_b, mo_b] {
            click_button(browser, "I have finished writing").await;
        }
        // Each writer sees their own sealed card before the reveal, so every card is waited for.
        for browser in [mo_b, kim_b, lee_b] {
            for card in [
                "Two freezes overlapped with the holiday",
                "The release checklist had no owner this sprint",
                "We merged late because the test rig was booked",
            ] {
                wait_for_text(browser, card).await;
            }
        }
        for browser in people {
            browser.close().await.expect("close");
        }
    }
);
