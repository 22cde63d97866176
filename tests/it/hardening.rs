//! Issue 16: sign-in that cannot be used to lock people out, and the other hardening promises.

use std::sync::Arc;

use failforward::config::Settings;
use failforward::service::SetClock;
use reqwest::{Response, StatusCode};
use serde_json::json;
use time::Duration;

use crate::helpers::{Backend, Browser, TestApp, PASSWORD};
use crate::story;

/// Runs `body` on both databases with adjusted settings.
macro_rules! story_with {
    ($name:ident, $adjust:expr, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = TestApp::spawn_with(Backend::Sqlite, $adjust)
                    .await
                    .expect("SQLite is always available");
                ($body)(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = TestApp::spawn_with(Backend::Postgres, $adjust).await {
                    ($body)(app).await;
                }
            }
        }
    };
}

/// A browser whose device cookie is `device` (a well-formed one that no account has signed in
/// from: to the server, a client it has never seen).
fn browser_with_device(app: &TestApp, device: &str) -> Browser {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let url: reqwest::Url = app.address.parse().expect("url");
    jar.add_cookie_str(&format!("ff_device={device}; Path=/login"), &url);
    Browser {
        client: reqwest::Client::builder()
            .cookie_provider(jar)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        base: app.address.clone(),
    }
}

fn fake_device(n: usize) -> String {
    format!("{n:0>43}")
}

async fn try_sign_in(browser: &Browser, email: &str, password: &str) -> Response {
    browser
        .submit(
            "/login",
            "/login",
            &[("email", email), ("password", password), ("next", "/")],
        )
        .await
}

fn retry_after(response: &Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header")
}

/// Signs the browser out; it keeps its device cookie, as a browser does.
async fn signed_out(browser: Browser) -> Browser {
    let csrf = browser.csrf("/account").await;
    let out = browser
        .post_form("/logout", &[("csrf_token", csrf.as_str())])
        .await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    browser
}

/// Lets the next attempt of every client through at once, as if its delay had passed.
async fn skip_delays(app: &TestApp) {
    app.db
        .execute("UPDATE login_client_throttle SET next_attempt_at = 0")
        .await;
}

story!(
    a_lockout_attempt_does_not_keep_the_victim_out,
    |app: TestApp| async move {
        app.set_up().await;
        // Ada signed in from her browser before: it carries a device cookie.
        let victim = signed_out(app.sign_in("ada@example.org").await).await;
        // An attacker at the same address (as behind one proxy) fails until refused.
        let attacker = app.browser();
        let mut refused = false;
        for _ in 0..12 {
            skip_delays(&app).await;
            let response = try_sign_in(&attacker, "ada@example.org", "guess guess guess").await;
            match response.status() {
                StatusCode::UNAUTHORIZED => {}
                StatusCode::TOO_MANY_REQUESTS => refused = true,
                other => panic!("unexpected {other}"),
            }
        }
        assert!(
            refused,
            "the attacker's client is refused after 10 failures"
        );
        // Even the right password from the attacker's client waits for its window.
        skip_delays(&app).await;
        let attacker_right = try_sign_in(&attacker, "ada@example.org", PASSWORD).await;
        assert_eq!(attacker_right.status(), StatusCode::TOO_MANY_REQUESTS);
        // Ada, from her own browser, signs in meanwhile.
        let response = try_sign_in(&victim, "ada@example.org", PASSWORD).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "the victim signs in"
        );
    }
);

story_with!(
    the_account_limit_holds_against_many_clients_at_once_but_not_against_the_owner,
    |settings: &mut Settings| settings.policy.login_account_max_failures = 5,
    |app: TestApp| async move {
        app.set_up().await;
        let victim = signed_out(app.sign_in("ada@example.org").await).await;
        let app = Arc::new(app);
        // 30 clients the account has never signed in from guess at the same time.
        let statuses = guess_at_once(&app, (0..30).map(fake_device)).await;
        let checked = count(&statuses, StatusCode::UNAUTHORIZED);
        let refused = count(&statuses, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(checked + refused, 30, "{statuses:?}");
        assert!(
            (1..=5).contains(&checked),
            "at most the account's limit of 5 passwords were checked, got {checked}"
        );
        // A new client is refused now, even with the right password …
        let stranger = browser_with_device(&app, &fake_device(99));
        let response = try_sign_in(&stranger, "ada@example.org", PASSWORD).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        // … while the owner's browser, which signed in before, goes through.
        let response = try_sign_in(&victim, "ada@example.org", PASSWORD).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
);

story!(
    concurrent_wrong_passwords_from_one_client_never_pass_its_limit,
    |app: TestApp| async move {
        app.set_up().await;
        let app = Arc::new(app);
        let statuses = guess_at_once(&app, (0..40).map(|_| fake_device(7))).await;
        let checked = count(&statuses, StatusCode::UNAUTHORIZED);
        // The client's limit is 10 a window; its growing delay lets even fewer through at once.
        assert!(
            (1..=10).contains(&checked),
            "checked {checked} of 40: {statuses:?}"
        );
        assert_eq!(
            app.db
                .count("SELECT COALESCE(MAX(failures), 0) FROM login_client_throttle")
                .await,
            i64::try_from(checked).expect("small"),
            "every checked attempt was counted, and only those"
        );
    }
);

/// The waits a client is told after each failure, on a service clock that stands still: the
/// wait announced is the one the server keeps (a second earlier it still refuses, at the end of
/// the wait it checks the password again), and it doubles with each failure.
async fn sign_in_delays_grow_with_each_failure(backend: Backend) {
    // On a whole second: the throttle keeps whole seconds, so the announced waits are exact.
    let start = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("a whole second");
    let clock = SetClock::at(start);
    let Some(app) = TestApp::spawn_with_clock(backend, clock.clone()).await else {
        return;
    };
    app.set_up().await;
    let attacker = app.browser();
    let wrong = "guess guess guess";
    // A single slip costs nothing: the second try may follow at once.
    for _ in 0..2 {
        let response = try_sign_in(&attacker, "ada@example.org", wrong).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let mut waits = Vec::new();
    for failures in 2..=6 {
        let early = try_sign_in(&attacker, "ada@example.org", wrong).await;
        assert_eq!(
            early.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "after {failures} failures"
        );
        let wait = retry_after(&early);
        let html = early.text().await.expect("body");
        assert!(html.contains("Too many attempts from this browser"));
        waits.push(wait);
        let wait = i64::try_from(wait).expect("a short wait");
        if wait > 1 {
            clock.advance(Duration::seconds(wait - 1));
            let still_early = try_sign_in(&attacker, "ada@example.org", wrong).await;
            assert_eq!(
                still_early.status(),
                StatusCode::TOO_MANY_REQUESTS,
                "a second before the announced wait ends, after {failures} failures"
            );
            assert_eq!(retry_after(&still_early), 1);
            clock.advance(Duration::seconds(1));
        } else {
            clock.advance(Duration::seconds(wait));
        }
        let response = try_sign_in(&attacker, "ada@example.org", wrong).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "checked once the announced wait is over, after {failures} failures"
        );
    }
    assert_eq!(
        waits,
        [1, 2, 4, 8, 16],
        "the delay doubles with each failure"
    );
}

mod sign_in_delays_grow_with_each_failure {
    use crate::helpers::Backend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::sign_in_delays_grow_with_each_failure(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::sign_in_delays_grow_with_each_failure(Backend::Postgres).await;
    }
}

/// Wrong passwords for Ada from browsers with these device cookies, all at the same time.
async fn guess_at_once(
    app: &Arc<TestApp>,
    devices: impl Iterator<Item = String>,
) -> Vec<StatusCode> {
    let tasks: Vec<_> = devices
        .map(|device| {
            let app = Arc::clone(app);
            tokio::spawn(async move {
                let browser = browser_with_device(&app, &device);
                try_sign_in(&browser, "ada@example.org", "guess guess guess")
                    .await
                    .status()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.expect("attempt"));
    }
    statuses
}

fn count(statuses: &[StatusCode], status: StatusCode) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

story!(
    every_answer_carries_a_strict_policy_and_personal_ones_are_not_stored,
    |app: TestApp| async move {
        let admin = app.set_up().await;
        let api = app.token_for("ada@example.org").await;
        let strict = "script-src 'self'; style-src 'self';";
        for (who, response) in [
            ("sign-in page", app.browser().get("/login").await),
            ("signed-in page", admin.get("/account").await),
            ("not found", admin.get("/no/such/page").await),
            (
                "API",
                api.client
                    .get(app.url("/api/v1/teams"))
                    .bearer_auth(&api.token)
                    .send()
                    .await
                    .expect("GET"),
            ),
        ] {
            let policy = header(&response, "content-security-policy").unwrap_or_default();
            assert!(policy.contains(strict), "{who}: {policy:?}");
            assert!(!policy.contains("unsafe"), "{who}: {policy:?}");
            assert!(policy.contains("frame-ancestors 'none'"), "{who}");
            assert_eq!(
                header(&response, "cache-control"),
                Some("no-store"),
                "{who}"
            );
            assert_eq!(
                header(&response, "strict-transport-security"),
                None,
                "{who}"
            );
        }
        let asset = app.browser().get("/static/app.js").await;
        assert_eq!(asset.status(), StatusCode::OK);
        assert_ne!(header(&asset, "cache-control"), Some("no-store"));
        assert!(header(&asset, "content-security-policy").is_some());
    }
);

story_with!(
    behind_https_cookies_are_host_only_and_transport_is_strict,
    |settings: &mut Settings| settings.public_url = Some("https://failforward.example".to_owned()),
    |app: TestApp| async move {
        let response = app.browser().get("/login").await;
        assert_eq!(
            header(&response, "strict-transport-security"),
            Some("max-age=63072000")
        );
        let cookie = header(&response, "set-cookie")
            .unwrap_or_default()
            .to_owned();
        assert!(cookie.starts_with("__Host-ff_csrf="), "{cookie}");
        assert!(
            cookie.contains("Secure") && cookie.contains("Path=/"),
            "{cookie}"
        );
        assert!(!cookie.contains("Domain"), "{cookie}");
    }
);

fn link_path(app: &TestApp, invitation: &serde_json::Value) -> String {
    invitation["link"]
        .as_str()
        .expect("link")
        .trim_start_matches(&app.address)
        .to_owned()
}

story!(
    an_invitation_for_one_address_refuses_every_other,
    |app: TestApp| async move {
        app.create_user("ada@example.org", "Ada", true).await;
        app.create_user("bo@example.org", "Bo", false).await;
        app.create_user("cy@example.org", "Cy", false).await;
        let api = app.token_for("ada@example.org").await;
        api.post("/api/v1/teams", json!({"name": "Payments"})).await;
        let (status, problem) = api
            .post(
                "/api/v1/teams/payments/invitations",
                json!({"role": "member"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "email");
        let (status, invitation) = api
            .post(
                "/api/v1/teams/payments/invitations",
                json!({"role": "member", "email": "Bo@Example.ORG"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let path = link_path(&app, &invitation);
        let (_, page) = app.browser().get_text(&path).await;
        assert!(page.contains("This invitation is for <strong>bo@example.org</strong>"));

        // Someone else holding the link, signed in, is told why and does not join.
        let cy = app.sign_in("cy@example.org").await;
        let refused = cy.submit(&path, &path, &[]).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let html = refused.text().await.expect("body");
        assert!(
            html.contains("This invitation is for bo@example.org"),
            "{html}"
        );
        // Nor can a new account with another address.
        let stranger = app.browser();
        let refused = stranger
            .submit(
                &path,
                &path,
                &[
                    ("name", "Eve"),
                    ("email", "eve@example.org"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = refused.text().await.expect("body");
        assert!(html.contains("email-error") && html.contains("must be bo@example.org"));
        assert_eq!(
            app.db
                .count("SELECT COUNT(*) FROM memberships JOIN teams ON teams.id = memberships.team_id WHERE teams.slug = 'payments'")
                .await,
            1,
            "only the lead"
        );
        assert_eq!(app.db.count("SELECT COUNT(*) FROM users").await, 3);

        // The invited address accepts, whatever the case it was typed in.
        let bo = app.sign_in("bo@example.org").await;
        let accepted = bo.submit(&path, &path, &[]).await;
        assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
        assert_eq!(bo.get("/teams/payments").await.status(), StatusCode::OK);
    }
);

story!(
    admins_list_and_withdraw_invitations_and_members_cannot,
    |app: TestApp| async move {
        app.create_user("ada@example.org", "Ada", true).await;
        app.create_user("cy@example.org", "Cy", false).await;
        let admin = app.token_for("ada@example.org").await;
        let member = app.token_for("cy@example.org").await;
        let (status, invitation) = admin
            .post("/api/v1/invitations", json!({"email": "new@example.org"}))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let id = invitation["id"].as_str().expect("id").to_owned();
        let path = link_path(&app, &invitation);

        let (status, _) = member.get("/api/v1/invitations").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = member.delete(&format!("/api/v1/invitations/{id}")).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        let (status, open) = admin.get("/api/v1/invitations").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(open[0]["email"], "new@example.org");
        let (status, _) = admin.delete(&format!("/api/v1/invitations/{id}")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (_, open) = admin.get("/api/v1/invitations").await;
        assert_eq!(open, json!([]));
        let (status, _) = admin.delete(&format!("/api/v1/invitations/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(app.browser().get(&path).await.status(), StatusCode::GONE);
        // The reference documents the new operation with its answers.
        let (_, document) = admin.get("/api/v1/openapi.json").await;
        let delete = &document["paths"]["/api/v1/invitations/{id}"]["delete"]["responses"];
        for code in ["204", "401", "403", "404"] {
            assert!(delete.get(code).is_some(), "{code} documented");
        }
    }
);

story!(
    easily_guessed_passwords_are_refused_with_the_field_named,
    |app: TestApp| async move {
        let admin = app.set_up().await;
        for weak in ["password123456", "1234567890xx", "ada@example.org1"] {
            let csrf = admin.csrf("/account").await;
            let response = admin
                .post_form(
                    "/account/password",
                    &[
                        ("csrf_token", csrf.as_str()),
                        ("current_password", PASSWORD),
                        ("new_password", weak),
                    ],
                )
                .await;
            assert_eq!(
                response.status(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "{weak} is refused"
            );
            let html = response.text().await.expect("body");
            assert!(html.contains("new_password-error"), "{weak}");
            assert!(html.contains("too easy to guess"), "{weak}");
        }
        // Signing up through an invitation says the same as problem-free form errors, and a
        // strong password goes through.
        let api = app.token_for("ada@example.org").await;
        let (_, invitation) = api
            .post("/api/v1/invitations", json!({"email": "bo@example.org"}))
            .await;
        let path = link_path(&app, &invitation);
        let newcomer = app.browser();
        let weak = newcomer
            .submit(
                &path,
                &path,
                &[
                    ("name", "Bo"),
                    ("email", "bo@example.org"),
                    ("password", "password123456"),
                ],
            )
            .await;
        assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(weak.text().await.expect("body").contains("password-error"));
        let strong = newcomer
            .submit(
                &path,
                &path,
                &[
                    ("name", "Bo"),
                    ("email", "bo@example.org"),
                    ("password", "quiet lantern orbit mosaic"),
                ],
            )
            .await;
        assert_eq!(strong.status(), StatusCode::SEE_OTHER);
    }
);

/// Many accounts failing from one address while forwarded headers are not trusted: the real
/// server warns once (not once per failure), and the warning names no account and no address.
async fn proxy_warning_is_logged_once_and_names_no_one(backend: Backend) {
    use crate::anonymity_logs::Server;

    let dir = tempfile::tempdir().expect("dir");
    let mut storage = vec!["--data-dir".to_owned(), dir.path().display().to_string()];
    if backend == Backend::Postgres {
        match crate::helpers::fresh_postgres_url().await {
            Some(url) => storage.extend(["--database-url".to_owned(), url]),
            None => return,
        }
    }
    Server::admin(
        &storage,
        &[
            "create-user",
            "--email",
            "ann@example.org",
            "--name",
            "Ann Admin",
            "--admin",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    let server = Server::start(&storage);
    let browser = Browser {
        client: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        base: server.base.clone(),
    };
    // 20 accounts reach the threshold; 10 more failures (and the real account's) come after it.
    let mut emails: Vec<String> = (0..30).map(|n| format!("person{n}@example.org")).collect();
    emails.push("ann@example.org".to_owned());
    for email in &emails {
        let response = try_sign_in(&browser, email, "not the password at all").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{email}");
    }
    let logs = server.stop();
    let warnings: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("trust_forwarded_for"))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning per window:\n{logs}");
    let warning = warnings[0];
    assert!(warning.contains("\"WARN\""), "{warning}");
    for email in &emails {
        let local = email.split('@').next().unwrap_or(email);
        assert!(!warning.contains(local), "{warning} names {email}");
    }
    assert!(!warning.contains("example.org"), "{warning}");
    assert!(
        !warning.contains("127.0.0.1"),
        "{warning} names the address"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_warning_on_sqlite() {
    proxy_warning_is_logged_once_and_names_no_one(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_warning_on_postgres() {
    proxy_warning_is_logged_once_and_names_no_one(Backend::Postgres).await;
}

/// A form answer that refuses `field` as too easy to guess.
async fn refused_as_guessable(response: Response, field: &str, what: &str) {
    assert_eq!(
        response.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "{what} is refused"
    );
    let html = response.text().await.expect("body");
    assert!(html.contains(&format!("{field}-error")), "{what}");
    assert!(html.contains("too easy to guess"), "{what}");
    assert!(
        html.contains("name, email, organisation or team"),
        "{what}: the message says what to avoid"
    );
}

story!(
    passwords_made_of_the_persons_own_names_are_refused,
    |app: TestApp| async move {
        // Set-up: the person's name run together, their email's domain, the organisation's name.
        let link = app.setup_link.clone().expect("a set-up link");
        let path = link.trim_start_matches(&app.address).to_owned();
        let token = path.split("token=").nth(1).expect("token").to_owned();
        let ada = app.browser();
        for weak in [
            "adalovelace1815",
            "lovelaceada1815",
            "example.org12345",
            "analyticalengines1843",
        ] {
            let response = ada
                .submit(
                    &path,
                    "/setup",
                    &[
                        ("token", token.as_str()),
                        ("organisation", "Analytical Engines"),
                        ("name", "Ada Lovelace"),
                        ("email", "ada.lovelace@example.org"),
                        ("password", weak),
                    ],
                )
                .await;
            refused_as_guessable(response, "password", weak).await;
        }
        let response = ada
            .submit(
                &path,
                "/setup",
                &[
                    ("token", token.as_str()),
                    ("organisation", "Analytical Engines"),
                    ("name", "Ada Lovelace"),
                    ("email", "ada.lovelace@example.org"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "a strong one is taken"
        );

        // Changing the password: the teams one belongs to count too.
        let api = app.token_for("ada.lovelace@example.org").await;
        let (status, _) = api
            .post("/api/v1/teams", json!({"name": "Difference Engine"}))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        for weak in [
            "adalovelace1815",
            "differenceengine1822",
            "analyticalengines1843",
        ] {
            let csrf = ada.csrf("/account").await;
            let response = ada
                .post_form(
                    "/account/password",
                    &[
                        ("csrf_token", csrf.as_str()),
                        ("current_password", PASSWORD),
                        ("new_password", weak),
                    ],
                )
                .await;
            refused_as_guessable(response, "new_password", weak).await;
        }

        // Accepting an invitation with a new account: the team it is for counts.
        let (_, invitation) = api
            .post(
                "/api/v1/teams/difference-engine/invitations",
                json!({"email": "charles.babbage@example.org", "role": "member"}),
            )
            .await;
        let path = link_path(&app, &invitation);
        let charles = app.browser();
        for weak in [
            "charlesbabbage1791",
            "differenceengine1822",
            "analyticalengines1843",
        ] {
            let response = charles
                .submit(
                    &path,
                    &path,
                    &[
                        ("name", "Charles Babbage"),
                        ("email", "charles.babbage@example.org"),
                        ("password", weak),
                    ],
                )
                .await;
            refused_as_guessable(response, "password", weak).await;
        }
        let strong = charles
            .submit(
                &path,
                &path,
                &[
                    ("name", "Charles Babbage"),
                    ("email", "charles.babbage@example.org"),
                    ("password", "quiet lantern orbit mosaic"),
                ],
            )
            .await;
        assert_eq!(strong.status(), StatusCode::SEE_OTHER);
    }
);
