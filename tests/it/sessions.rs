//! "Your sessions": listing my sessions and tokens, ending one, signing out everywhere else,
//! and an admin ending all of someone's; each ended session or token is refused on its next
//! request.

use reqwest::redirect::Policy;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{location, Api, Browser, TestApp, PASSWORD};
use crate::story;

const ADA: &str = "ada@example.org";
const LEE: &str = "lee@example.org";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// Signs in through the login form from a browser that sends `user_agent`.
async fn sign_in_with(app: &TestApp, email: &str, user_agent: &str) -> Browser {
    let browser = Browser {
        client: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .user_agent(user_agent)
            .build()
            .expect("client"),
        base: app.address.clone(),
    };
    let response = browser
        .submit(
            "/login",
            "/login",
            &[("email", email), ("password", PASSWORD), ("next", "/")],
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "sign-in of {email}"
    );
    browser
}

/// Whether the browser's session still signs it in.
async fn signed_in(browser: &Browser) -> bool {
    let response = browser.get("/account").await;
    match response.status() {
        StatusCode::OK => true,
        status if status.is_redirection() => {
            assert!(
                location(&response).starts_with("/login"),
                "{}",
                location(&response)
            );
            false
        }
        other => panic!("unexpected {other}"),
    }
}

async fn sessions(api: &Api) -> Vec<Value> {
    let (status, body) = api.get("/api/v1/sessions").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["sessions"].as_array().expect("sessions").clone()
}

/// The ids of the end forms on a browser's "Your sessions" page (every session but its own).
async fn end_forms(browser: &Browser) -> Vec<String> {
    let (status, html) = browser.get_text("/account/sessions").await;
    assert_eq!(status, StatusCode::OK);
    html.split("action=\"/account/sessions/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter_map(|path| path.strip_suffix("/end"))
        .map(str::to_owned)
        .collect()
}

story!(
    my_sessions_are_listed_and_ended_one_by_one,
    |app: TestApp| async move {
        app.create_user(ADA, "Ada Admin", true).await;
        app.create_user(LEE, "Lee Lead", false).await;
        let lee = app.token_for(LEE).await;
        let laptop = sign_in_with(&app, LEE, FIREFOX).await;
        let phone = app.sign_in(LEE).await;
        let listed = sessions(&lee).await;
        assert_eq!(listed.len(), 2, "{listed:?}");
        assert!(
            listed.iter().any(|s| s["user_agent"] == "Firefox on Linux"),
            "{listed:?}"
        );
        assert!(
            listed.iter().all(|s| s["current"] == false),
            "a token has no session"
        );
        assert!(
            listed.iter().all(|s| s["last_used_on"]
                .as_str()
                .is_some_and(|d| d.ends_with("T00:00:00Z"))),
            "last use by the day only: {listed:?}"
        );
        let (_, mine) = lee.get("/api/v1/sessions").await;
        assert_eq!(mine["tokens"].as_array().map(Vec::len), Some(1), "{mine}");

        // From the laptop's page, the phone's session is the one to end.
        let forms = end_forms(&laptop).await;
        assert_eq!(forms.len(), 1, "{forms:?}");
        let (_, page) = laptop.get_text("/account/sessions").await;
        assert!(
            page.contains("Firefox on Linux") && page.contains("this browser"),
            "{page}"
        );
        let ended = laptop
            .submit(
                "/account/sessions",
                &format!("/account/sessions/{}/end", forms[0]),
                &[],
            )
            .await;
        assert_eq!(ended.status(), StatusCode::SEE_OTHER);
        assert!(!signed_in(&phone).await, "the ended session is signed out");
        assert!(signed_in(&laptop).await);

        // The API ends the laptop's with the token; someone else's id is not found.
        let listed = sessions(&lee).await;
        assert_eq!(listed.len(), 1);
        let id = listed[0]["id"].as_str().expect("id").to_owned();
        app.create_user("mo@example.org", "Mo", false).await;
        let mo = app.token_for("mo@example.org").await;
        let (status, _) = mo.delete(&format!("/api/v1/sessions/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(signed_in(&laptop).await);
        let (status, _) = lee.delete(&format!("/api/v1/sessions/{id}")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert!(!signed_in(&laptop).await);
        let (status, _) = lee.delete(&format!("/api/v1/sessions/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "already ended");
    }
);

story!(
    signing_out_everywhere_else_keeps_this_browser_and_the_tokens,
    |app: TestApp| async move {
        app.create_user(ADA, "Ada Admin", true).await;
        app.create_user(LEE, "Lee Lead", false).await;
        let lee = app.token_for(LEE).await;
        let here = app.sign_in(LEE).await;
        let there = app.sign_in(LEE).await;
        let elsewhere = app.sign_in(LEE).await;
        let response = here
            .submit("/account/sessions", "/account/sessions/end-others", &[])
            .await;
        assert_eq!(
            location(&response),
            "/account/sessions?notice=sessions-ended"
        );
        assert!(signed_in(&here).await);
        assert!(!signed_in(&there).await);
        assert!(!signed_in(&elsewhere).await);
        let (status, _) = lee.get("/api/v1/me").await;
        assert_eq!(status, StatusCode::OK, "tokens stay");
        // With a token there is no current session: every session ends.
        let (status, ended) = lee.post("/api/v1/sessions/end-others", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{ended}");
        assert_eq!(ended["sessions_ended"], 1);
        assert!(!signed_in(&here).await);
    }
);

story!(
    an_admin_ends_every_session_and_token_of_someone,
    |app: TestApp| async move {
        app.create_user(ADA, "Ada Admin", true).await;
        app.create_user(LEE, "Lee Lead", false).await;
        let ada = app.token_for(ADA).await;
        let lee = app.token_for(LEE).await;
        let lee_web = app.sign_in(LEE).await;
        let ada_web = app.sign_in(ADA).await;
        let (_, users) = ada.get("/api/v1/users").await;
        let lee_id = users
            .as_array()
            .expect("users")
            .iter()
            .find(|u| u["email"] == LEE)
            .and_then(|u| u["id"].as_str())
            .expect("Lee's id")
            .to_owned();
        let ada_id = users
            .as_array()
            .expect("users")
            .iter()
            .find(|u| u["email"] == ADA)
            .and_then(|u| u["id"].as_str())
            .expect("Ada's id")
            .to_owned();

        // Not for anyone but admins.
        let (status, _) = lee
            .delete(&format!("/api/v1/users/{ada_id}/sessions"))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let refused = lee_web
            .submit("/account", &format!("/people/{ada_id}/sessions/end"), &[])
            .await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(signed_in(&ada_web).await);

        let (status, ended) = ada
            .delete(&format!("/api/v1/users/{lee_id}/sessions"))
            .await;
        assert_eq!(status, StatusCode::OK, "{ended}");
        assert_eq!(ended["sessions_ended"], 1);
        assert_eq!(ended["tokens_revoked"], 1);
        assert!(!signed_in(&lee_web).await, "the cookie is refused");
        let (status, _) = lee.get("/api/v1/me").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "the token is refused");

        // The People page does the same.
        let lee_again = app.sign_in(LEE).await;
        let response = ada_web
            .submit("/people", &format!("/people/{lee_id}/sessions/end"), &[])
            .await;
        assert_eq!(location(&response), "/people?notice=user-sessions-ended");
        assert!(!signed_in(&lee_again).await);
        let (status, _) = ada.delete("/api/v1/users/not-an-id/sessions").await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let (_, log) = ada.get("/api/v1/audit?action=session.ended_by_admin").await;
        let log = log.as_array().expect("entries");
        assert_eq!(log.len(), 2, "{log:?}");
        assert!(log
            .iter()
            .all(|e| e["actor_email"] == ADA && e["target"] == format!("user {LEE}")));
    }
);

/// A token's day of last use is written on its first use of each day, by the service's clock:
/// the read says whether the day changed, so a token's other requests that day never reach the
/// writer. Checked across a day's change, on both databases.
async fn a_tokens_day_of_use_follows_the_clock(backend: crate::helpers::Backend) {
    let clock = failforward::service::SetClock::starting_now();
    let Some(app) = TestApp::spawn_with_clock(backend, clock.clone()).await else {
        return;
    };
    app.create_user(ADA, "Ada Admin", true).await;
    app.create_user(LEE, "Lee Lead", false).await;
    let lee = app.token_for(LEE).await;
    let day_of_use = |tokens: &Value| -> Vec<Option<String>> {
        tokens
            .as_array()
            .expect("tokens")
            .iter()
            .map(|t| t["last_used_on"].as_str().map(str::to_owned))
            .collect()
    };
    let today = |clock: &failforward::service::SetClock| {
        use failforward::service::Clock;
        format!("{}T00:00:00Z", clock.now().date())
    };
    let (status, first) = lee.get("/api/v1/tokens").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(day_of_use(&first), vec![Some(today(&clock))], "{first}");
    let (_, again) = lee.get("/api/v1/tokens").await;
    assert_eq!(day_of_use(&again), vec![Some(today(&clock))]);
    clock.advance(time::Duration::days(1));
    let (status, next_day) = lee.get("/api/v1/tokens").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        day_of_use(&next_day),
        vec![Some(today(&clock))],
        "the next day's first use moves it: {next_day}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tokens_day_of_use_follows_the_clock_sqlite() {
    a_tokens_day_of_use_follows_the_clock(crate::helpers::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tokens_day_of_use_follows_the_clock_postgres() {
    a_tokens_day_of_use_follows_the_clock(crate::helpers::Backend::Postgres).await;
}
