//! Issue 24, rituals: a recurring failure-share round a lead schedules. The round does not open
//! before a lead has shared (members' shares are refused, through the API, the page and the CLI,
//! and accepted after); unnamed shares are held until the round closes and leave no author, time
//! or order in the database; a closed round's shares are in the team's library.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use failforward::service::SetClock;

use crate::helpers::{Api, Backend, TestApp};
use crate::story;

/// Lead Lee, members Mo and Sam in team "ops"; returns (lee, mo, sam).
async fn people(app: &TestApp) -> (Api, Api, Api) {
    app.create_user("root@example.org", "Root Admin", true)
        .await;
    app.create_user("lee@example.org", "Lee Lead", false).await;
    app.create_user("mo@example.org", "Mo Member", false).await;
    app.create_user("sam@example.org", "Sam Member", false)
        .await;
    let lee = app.token_for("lee@example.org").await;
    let mo = app.token_for("mo@example.org").await;
    let sam = app.token_for("sam@example.org").await;
    let (status, _) = lee.post("/api/v1/teams", json!({"name": "Ops"})).await;
    assert_eq!(status, StatusCode::CREATED);
    for email in ["mo@example.org", "sam@example.org"] {
        let (status, _) = lee
            .post(
                "/api/v1/teams/ops/members",
                json!({"email": email, "role": "member"}),
            )
            .await;
        assert!(status.is_success(), "{email}: {status}");
    }
    (lee, mo, sam)
}

async fn schedule(api: &Api) -> (StatusCode, Value) {
    api.send(
        Method::PUT,
        "/api/v1/teams/ops/rituals/schedule",
        Some(json!({"cadence": "weekly", "weekday": "monday"})),
    )
    .await
}

async fn share(api: &Api, failed: &str, unnamed: bool) -> (StatusCode, Value) {
    api.post(
        "/api/v1/teams/ops/rituals/shares",
        json!({"failed": failed, "learnt": "Ask earlier.", "unnamed": unnamed}),
    )
    .await
}

story!(
    the_round_opens_only_after_a_lead_has_shared,
    |app: TestApp| async move {
        let (lee, mo, _) = people(&app).await;

        // Only leads schedule.
        let (status, problem) = schedule(&mo).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
        let (status, problem) = lee
            .send(
                Method::PUT,
                "/api/v1/teams/ops/rituals/schedule",
                Some(json!({"cadence": "monthly", "weekday": "monday"})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert!(problem.to_string().contains("cadence"), "{problem}");
        let (status, saved) = schedule(&lee).await;
        assert_eq!(status, StatusCode::OK, "{saved}");

        // Before the lead has shared: refused, and the page says why.
        let (_, ritual) = mo.get("/api/v1/teams/ops/rituals").await;
        assert_eq!(ritual["current"]["state"], "waiting_for_lead", "{ritual}");
        let (status, problem) = share(&mo, "Mo's early failure", false).await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        assert!(
            problem.to_string().contains("opens when a lead has shared"),
            "{problem}"
        );
        let browser = app.sign_in("mo@example.org").await;
        let (status, html) = browser.get_text("/teams/ops/rituals").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            html.contains("The round opens when a lead has shared"),
            "{html}"
        );
        assert!(html.contains("Why a lead goes first"));
        let refused = browser
            .submit(
                "/teams/ops/rituals",
                "/teams/ops/rituals/share",
                &[("failed", "Via the page"), ("learnt", "Something")],
            )
            .await;
        assert_eq!(refused.status(), StatusCode::CONFLICT);
        let (_, team_page) = browser.get_text("/teams/ops").await;
        assert!(
            team_page.contains("/teams/ops/rituals"),
            "team nav links the page"
        );

        // A lead's opening share is named.
        let (status, problem) = share(&lee, "Lee's unnamed try", true).await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        let (status, answer) =
            share(&lee, "I shipped the migration without a rollback", false).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");

        // Now open to everyone.
        let (status, answer) = share(&mo, "Mo's named failure", false).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");
        let (_, ritual) = mo.get("/api/v1/teams/ops/rituals").await;
        assert_eq!(ritual["current"]["state"], "open", "{ritual}");
        let authors: Vec<&str> = ritual["current"]["shares"]
            .as_array()
            .expect("shares")
            .iter()
            .filter_map(|s| s["author"].as_str())
            .collect();
        assert_eq!(authors, ["Lee Lead", "Mo Member"], "{ritual}");

        // Blank text is named by field.
        let (status, problem) = mo
            .post(
                "/api/v1/teams/ops/rituals/shares",
                json!({"failed": "  ", "learnt": "x"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert!(problem.to_string().contains("failed"), "{problem}");

        // Closing is for leads.
        let (status, _) = mo
            .post("/api/v1/teams/ops/rituals/close", json!(null))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
);

story!(
    unnamed_shares_leave_no_trace_and_closed_rounds_reach_the_library,
    |app: TestApp| async move {
        let (lee, mo, sam) = people(&app).await;
        assert_eq!(schedule(&lee).await.0, StatusCode::OK);
        assert_eq!(
            share(&lee, "Lee opened with a named failure", false)
                .await
                .0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            share(&mo, "Quokka unnamed failure one", true).await.0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            share(&sam, "Quokka unnamed failure two", true).await.0,
            StatusCode::NO_CONTENT
        );

        // Held until the round closes: nothing in the database, nothing shown, not even a count.
        assert_eq!(
            app.db
                .count("SELECT COUNT(*) FROM ritual_shares WHERE failed LIKE 'Quokka%'")
                .await,
            0
        );
        let (_, ritual) = mo.get("/api/v1/teams/ops/rituals").await;
        assert!(
            ritual["current"].get("unnamed_waiting").is_none(),
            "{ritual}"
        );
        let mo_web = app.sign_in("mo@example.org").await;
        let (_, page) = mo_web.get_text("/teams/ops/rituals").await;
        assert!(
            !page.contains("Quokka") && !page.contains("2 unnamed"),
            "{page}"
        );
        assert!(!ritual.to_string().contains("Quokka"), "{ritual}");

        let (status, answer) = lee
            .post("/api/v1/teams/ops/rituals/close", json!(null))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");

        // Written with no author; the table has no time column and nothing but random keys.
        let rows = app
            .db
            .dump("SELECT * FROM ritual_shares WHERE failed LIKE 'Quokka%'")
            .await;
        assert_eq!(rows.len(), 2);
        for row in &rows {
            let columns: Vec<&str> = row.iter().map(|(c, _)| c.as_str()).collect();
            assert_eq!(columns, ["id", "round_id", "author_id", "failed", "learnt"]);
            let author = &row
                .iter()
                .find(|(c, _)| c == "author_id")
                .expect("author")
                .1;
            assert_eq!(author, "NULL");
        }
        for user in ["mo@example.org", "sam@example.org"] {
            let mentions = app
                .db
                .count(&format!(
                    "SELECT COUNT(*) FROM ritual_shares s JOIN users u ON u.id = s.author_id \
                     WHERE u.email = '{user}'"
                ))
                .await;
            assert_eq!(mentions, 0, "{user} left no share under their name");
        }

        // The closed round is in the library, through the API and the page.
        let (_, ritual) = sam.get("/api/v1/teams/ops/rituals").await;
        assert_eq!(ritual["current"]["state"], "closed", "{ritual}");
        let library = ritual["library"].as_array().expect("library");
        assert_eq!(library.len(), 1, "{ritual}");
        let shares = library[0]["shares"].as_array().expect("shares");
        assert_eq!(shares.len(), 3);
        assert_eq!(shares[0]["author"], "Lee Lead");
        assert!(shares[1]["author"].is_null() && shares[2]["author"].is_null());
        let browser = app.sign_in("sam@example.org").await;
        let (_, html) = browser.get_text("/teams/ops/rituals").await;
        assert!(html.contains("Quokka unnamed failure one"), "{html}");
        assert!(html.contains("<p class=\"meta\">Unnamed</p>"), "{html}");

        // A closed round takes no more shares.
        let (status, problem) = share(&mo, "Too late", false).await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    }
);

/// Runs `failforward ritual --team ops …` against the app with `api`'s token.
fn cli(app: &TestApp, api: &Api, args: &[&str]) -> (i32, String, String) {
    app.client_cli(&api.token, &[&["ritual", "--team", "ops"], args].concat())
}

story!(
    the_cli_schedules_shares_shows_and_closes,
    |app: TestApp| async move {
        let (lee, mo, _) = people(&app).await;
        let (code, _, err) = cli(
            &app,
            &mo,
            &["schedule", "--cadence", "weekly", "--weekday", "friday"],
        );
        assert_ne!(code, 0);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        let (code, out, err) = cli(
            &app,
            &lee,
            &[
                "schedule",
                "--cadence",
                "fortnightly",
                "--weekday",
                "friday",
            ],
        );
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("fortnightly on friday"), "{out}");
        let (code, _, err) = cli(
            &app,
            &mo,
            &["share", "--failed", "Mo first", "--learnt", "No"],
        );
        assert_ne!(code, 0);
        assert!(err.contains("opens when a lead has shared"), "{err}");
        let (code, _, err) = cli(
            &app,
            &lee,
            &["share", "--failed", "Lee first", "--learnt", "Yes"],
        );
        assert_eq!(code, 0, "{err}");
        let (code, _, err) = cli(
            &app,
            &mo,
            &[
                "share",
                "--failed",
                "Mo after",
                "--learnt",
                "Yes",
                "--unnamed",
            ],
        );
        assert_eq!(code, 0, "{err}");
        let (code, out, err) = cli(&app, &mo, &["show"]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("open") && out.contains("Lee first"), "{out}");
        assert!(!out.contains("Mo after"), "{out}");
        let (code, _, err) = cli(&app, &lee, &["close"]);
        assert_eq!(code, 0, "{err}");
        let (code, out, _) = cli(&app, &mo, &["show"]);
        assert_eq!(code, 0);
        assert!(out.contains("unnamed: Mo after"), "{out}");
    }
);

/// First moments on the team page: a lead of a team where no lead has logged a failure is asked
/// to share one first; a lead sees who joined in the last 14 days. Members see neither.
async fn first_moments_come_and_go(backend: Backend) {
    let clock = SetClock::starting_now();
    let Some(app) = TestApp::spawn_with_clock(backend, clock.clone()).await else {
        return;
    };
    let (lee, _, _) = people(&app).await;
    let lead_page = app.sign_in("lee@example.org").await;
    let member_page = app.sign_in("mo@example.org").await;

    let (_, html) = lead_page.get_text("/teams/ops").await;
    assert!(html.contains("id=\"first-moments-lead\""), "{html}");
    assert!(html.contains("id=\"first-moments-new-members\""));
    assert!(html.contains("Mo Member, Sam Member") || html.contains("Sam Member, Mo Member"));
    let (_, html) = member_page.get_text("/teams/ops").await;
    assert!(
        !html.contains("id=\"first-moments"),
        "members get no prompt"
    );

    let (status, created) = lee
        .post(
            "/api/v1/teams/ops/loops",
            json!({"title": "The lead's own failure", "what_happened": "It went wrong.", "anonymous": false}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (_, html) = lead_page.get_text("/teams/ops").await;
    assert!(!html.contains("id=\"first-moments-lead\""), "{html}");
    assert!(html.contains("id=\"first-moments-new-members\""));

    clock.advance(time::Duration::days(15));
    let lead_page = app.sign_in("lee@example.org").await;
    let (_, html) = lead_page.get_text("/teams/ops").await;
    assert!(!html.contains("id=\"first-moments"), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_moments_on_sqlite() {
    first_moments_come_and_go(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_moments_on_postgres() {
    first_moments_come_and_go(Backend::Postgres).await;
}

async fn ok(api: &Api, method: Method, path: &str, body: Value) -> Value {
    let (status, answer) = api.send(method, path, Some(body)).await;
    assert!(status.is_success(), "{path}: {status} {answer}");
    answer
}

/// A session Lee facilitates in which Mo writes a card and disagrees with a decision (when
/// `dissent`); returns the session's id.
async fn session(lee: &Api, mo: &Api, dissent: bool) -> String {
    let started = ok(
        lee,
        Method::POST,
        "/api/v1/teams/ops/reviews",
        json!({"prompt": "What did we learn?", "dots": 3}),
    )
    .await;
    let id = started["id"].as_str().expect("id").to_owned();
    let base = format!("/api/v1/teams/ops/reviews/{id}");
    ok(mo, Method::POST, &format!("{base}/participants"), json!({})).await;
    ok(
        lee,
        Method::POST,
        &format!("{base}/advance"),
        json!({"from": "open_actions"}),
    )
    .await;
    ok(
        mo,
        Method::POST,
        &format!("{base}/cards"),
        json!({"kind": "observation", "text": "A card"}),
    )
    .await;
    for who in [lee, mo] {
        ok(
            who,
            Method::PUT,
            &format!("{base}/done"),
            json!({"done": true}),
        )
        .await;
    }
    for from in ["reveal", "group", "vote", "discuss"] {
        ok(
            lee,
            Method::POST,
            &format!("{base}/advance"),
            json!({"from": from}),
        )
        .await;
    }
    let decided = ok(
        lee,
        Method::POST,
        &format!("{base}/decisions"),
        json!({"kind": "learning", "text": "We decided something"}),
    )
    .await;
    if dissent {
        let decision = decided["id"].as_str().expect("decision id");
        let (status, body) = mo
            .post(
                &format!("{base}/decisions/{decision}/dissents"),
                json!({"reason": "I see it differently"}),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    id
}

/// Only the facilitator of the team's first session with a recorded dissent sees the guide.
async fn first_dissent_guide(backend: Backend) {
    let clock = SetClock::starting_now();
    let Some(app) = TestApp::spawn_with_clock(backend, clock.clone()).await else {
        return;
    };
    let (lee, mo, _) = people(&app).await;
    let quiet = session(&lee, &mo, false).await;
    clock.advance(time::Duration::minutes(5));
    let first = session(&lee, &mo, true).await;
    clock.advance(time::Duration::minutes(5));
    let second = session(&lee, &mo, true).await;
    let lead_page = app.sign_in("lee@example.org").await;
    let member_page = app.sign_in("mo@example.org").await;
    let guide = "id=\"dissent-guide\"";
    let (_, html) = lead_page
        .get_text(&format!("/teams/ops/reviews/{first}"))
        .await;
    assert!(html.contains(guide), "the facilitator of the first: {html}");
    let (_, html) = member_page
        .get_text(&format!("/teams/ops/reviews/{first}"))
        .await;
    assert!(!html.contains(guide), "only the facilitator");
    for other in [quiet, second] {
        let (_, html) = lead_page
            .get_text(&format!("/teams/ops/reviews/{other}"))
            .await;
        assert!(
            !html.contains(guide),
            "only the first session with a dissent"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_dissent_guide_on_sqlite() {
    first_dissent_guide(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_dissent_guide_on_postgres() {
    first_dissent_guide(Backend::Postgres).await;
}
