//! Issue 24, part 1: the failure CV and the "consistent success" signal.
//!
//! The CV lists the intelligent failures a person was named in and the experiments they
//! designed and concluded, with what was learnt; never an anonymous loop, never another type of
//! failure. It is invisible to everyone else — admins included, through the API and the pages —
//! until its owner publishes it, and hidden again when they unpublish. Only the owner downloads
//! it. The signal appears and disappears exactly at its thresholds, moved by the service clock.

use failforward::service::SetClock;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime, Time};

use crate::experiments::{design, prepared};
use crate::helpers::{Api, Backend, TestApp};
use crate::story;

/// Root (admin), lead Lee, members Mo and Sam in team "ops"; returns (root, lee, mo, sam).
async fn people(app: &TestApp) -> (Api, Api, Api, Api) {
    app.create_user("root@example.org", "Root Admin", true)
        .await;
    app.create_user("lee@example.org", "Lee Lead", false).await;
    app.create_user("mo@example.org", "Mo Member", false).await;
    app.create_user("sam@example.org", "Sam Member", false)
        .await;
    let root = app.token_for("root@example.org").await;
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
    (root, lee, mo, sam)
}

async fn log(api: &Api, title: &str, anonymous: bool) -> Option<String> {
    let (status, created) = api
        .post(
            "/api/v1/teams/ops/loops",
            json!({"title": title, "what_happened": "It did not go as hoped.", "anonymous": anonymous}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_str().map(str::to_owned)
}

async fn set_type(api: &Api, loop_id: &str, kind: &str) {
    let (status, answer) = api
        .send(
            Method::PUT,
            &format!("/api/v1/teams/ops/loops/{loop_id}/classification/override"),
            Some(json!({"type": kind, "reason": "Settled in the team's review."})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

async fn loop_id_by_title(api: &Api, title: &str) -> String {
    let (status, list) = api.get("/api/v1/teams/ops/loops?per_page=100").await;
    assert_eq!(status, StatusCode::OK);
    list["loops"]
        .as_array()
        .expect("loops")
        .iter()
        .find(|l| l["title"] == title)
        .and_then(|l| l["id"].as_str())
        .unwrap_or_else(|| panic!("{title} in {list}"))
        .to_owned()
}

async fn conclude(api: &Api, experiment: &str, outcome: &str, learned: &str) {
    let base = format!("/api/v1/teams/ops/experiments/{experiment}");
    let (status, answer) = api.post(&format!("{base}/start"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = api
        .post(
            &format!("{base}/conclusion"),
            json!({
                "outcome": outcome,
                "believed": "customers will pay for same-day refunds",
                "observed": "few opted in",
                "learned": learned,
                "therefore": "we change course",
                "decision": "pivot",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

fn titles(cv: &Value, key: &str) -> Vec<String> {
    cv[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} in {cv}"))
        .iter()
        .map(|e| e["title"].as_str().unwrap_or("").to_owned())
        .collect()
}

async fn person_id(api: &Api) -> String {
    let (_, me) = api.get("/api/v1/me").await;
    me["id"].as_str().expect("id").to_owned()
}

story!(
    the_cv_lists_named_intelligent_failures_and_stays_private_until_published,
    |app: TestApp| async move {
        let (root, lee, mo, sam) = people(&app).await;
        let mo_id = person_id(&mo).await;

        let intelligent = log(&mo, "Named quokka pricing test", false)
            .await
            .expect("id");
        set_type(&mo, &intelligent, "intelligent").await;
        let (status, _) = mo
            .post(
                &format!("/api/v1/teams/ops/loops/{intelligent}/learnings"),
                json!({"statement": "Test on five percent first.", "visibility": "team"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let basic = log(&mo, "Named basic typo", false).await.expect("id");
        set_type(&mo, &basic, "basic").await;
        let near = log(&mo, "Named nearly intelligent test", false)
            .await
            .expect("id");
        set_type(&mo, &near, "experiment_not_yet_intelligent").await;
        log(&mo, "Named unclassified outage", false).await;
        // An anonymous loop of Mo's, classified intelligent by the lead: on nobody's CV.
        log(&mo, "Anonymous wombat experiment", true).await;
        app.release_anonymous_loops().await;
        let anonymous = loop_id_by_title(&lee, "Anonymous wombat experiment").await;
        set_type(&lee, &anonymous, "intelligent").await;
        let experiment = prepared(&mo, design("Refund pricing by Mo", 0, 0)).await;
        conclude(
            &mo,
            &experiment,
            "refuted",
            "certainty matters more than speed",
        )
        .await;
        let draft = prepared(&mo, design("Draft experiment by Mo", 0, 0)).await;
        assert!(!draft.is_empty());

        let (status, cv) = mo.get("/api/v1/me/cv").await;
        assert_eq!(status, StatusCode::OK, "{cv}");
        assert_eq!(cv["name"], "Mo Member");
        assert_eq!(cv["published"], false);
        // The refuted experiment opened a loop under Mo's name, classified intelligent: it is
        // one of Mo's intelligent failures too.
        let mut failures = titles(&cv, "failures");
        failures.sort();
        assert_eq!(
            failures,
            vec![
                "Experiment: Refund pricing by Mo",
                "Named quokka pricing test"
            ]
        );
        let quokka = cv["failures"]
            .as_array()
            .expect("failures")
            .iter()
            .find(|f| f["title"] == "Named quokka pricing test")
            .expect("quokka");
        assert_eq!(quokka["learnings"], json!(["Test on five percent first."]));
        assert_eq!(titles(&cv, "experiments"), vec!["Refund pricing by Mo"]);
        assert_eq!(cv["experiments"][0]["outcome"], "refuted");
        assert_eq!(
            cv["experiments"][0]["learned"],
            "certainty matters more than speed"
        );
        for api in [&lee, &sam, &root] {
            let (_, own) = api.get("/api/v1/me/cv").await;
            assert_eq!(own["failures"], json!([]), "the anonymous loop is nobody's");
        }
        assert!(!cv.to_string().contains("wombat"));

        // Invisible to a member and to an admin, through the API and the pages.
        let path = format!("/api/v1/people/{mo_id}/cv");
        for api in [&sam, &root, &lee] {
            let (status, problem) = api.get(&path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
            assert!(!problem.to_string().contains("quokka"));
        }
        let (status, _) = root.get("/api/v1/people/not-a-person/cv").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "unknown looks the same");
        let page = format!("/people/{mo_id}/cv");
        let sam_web = app.sign_in("sam@example.org").await;
        let root_web = app.sign_in("root@example.org").await;
        for web in [&sam_web, &root_web] {
            let (status, html) = web.get_text(&page).await;
            assert_eq!(status, StatusCode::NOT_FOUND);
            assert!(!html.contains("quokka"));
        }
        let (status, html) = root_web.get_text("/me/cv").await;
        assert_eq!(status, StatusCode::OK);
        assert!(!html.contains("quokka"), "/me/cv is the admin's own");
        let mo_web = app.sign_in("mo@example.org").await;
        let (status, html) = mo_web.get_text("/me/cv").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Named quokka pricing test"));
        assert!(html.contains("Test on five percent first."));
        assert!(html.contains("Refund pricing by Mo"));
        assert!(html.contains("Private."));
        for absent in [
            "wombat",
            "Named basic typo",
            "nearly intelligent",
            "unclassified",
            "Draft experiment",
        ] {
            assert!(!html.contains(absent), "{absent} is not on the CV");
        }

        // Published through the page: members and admins read it; a second publish keeps it.
        let response = mo_web.submit("/me/cv", "/me/cv/publish", &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        for api in [&sam, &root] {
            let (status, seen) = api.get(&path).await;
            assert_eq!(status, StatusCode::OK, "{seen}");
            assert!(titles(&seen, "failures").contains(&"Named quokka pricing test".to_owned()));
            assert_eq!(seen["published"], true);
        }
        for web in [&sam_web, &root_web] {
            let (status, html) = web.get_text(&page).await;
            assert_eq!(status, StatusCode::OK);
            assert!(html.contains("Failure CV of Mo Member"));
            assert!(html.contains("Named quokka pricing test"));
            assert!(
                !html.contains("/me/cv/unpublish"),
                "only the owner may unpublish"
            );
        }

        // Unpublished through the API: hidden again.
        let (status, cv) = mo
            .send(
                Method::PUT,
                "/api/v1/me/cv/visibility",
                Some(json!({"published": false})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(cv["published"], false);
        for api in [&sam, &root] {
            let (status, _) = api.get(&path).await;
            assert_eq!(status, StatusCode::NOT_FOUND);
        }
        for web in [&sam_web, &root_web] {
            let (status, _) = web.get_text(&page).await;
            assert_eq!(status, StatusCode::NOT_FOUND);
        }
        let (status, problem) = mo
            .send(
                Method::PUT,
                "/api/v1/me/cv/visibility",
                Some(json!({"published": "yes"})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "published");
        // Nobody exports it on the owner's behalf: there is no such address, for admins either.
        let (status, _) = root.get(&format!("{path}/export")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
);

async fn download(api: &Api, query: &str) -> (StatusCode, String, String, String) {
    let response = api
        .client
        .get(format!("{}/api/v1/me/cv/export{query}", api.base))
        .bearer_auth(&api.token)
        .send()
        .await
        .expect("export");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (content_type, disposition) = (header("content-type"), header("content-disposition"));
    let status = response.status();
    (
        status,
        content_type,
        disposition,
        response.text().await.expect("body"),
    )
}

story!(
    the_owner_exports_the_cv_as_json_and_markdown,
    |app: TestApp| async move {
        let (_, _, mo, _) = people(&app).await;
        let intelligent = log(&mo, "Named quokka pricing test", false)
            .await
            .expect("id");
        set_type(&mo, &intelligent, "intelligent").await;
        mo.post(
            &format!("/api/v1/teams/ops/loops/{intelligent}/learnings"),
            json!({"statement": "Test on five percent first.", "visibility": "team"}),
        )
        .await;
        log(&mo, "Anonymous wombat experiment", true).await;
        app.release_anonymous_loops().await;

        let (status, content_type, disposition, body) = download(&mo, "").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
        assert!(disposition.contains("attachment; filename=\"failure-cv.json\""));
        let json: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(titles(&json, "failures"), vec!["Named quokka pricing test"]);

        let (status, content_type, disposition, body) = download(&mo, "?format=markdown").await;
        assert_eq!(status, StatusCode::OK);
        assert!(content_type.starts_with("text/markdown"), "{content_type}");
        assert!(disposition.contains("failure-cv.md"));
        assert!(body.starts_with("# Failure CV of Mo Member\n"), "{body}");
        assert!(body.contains("### Named quokka pricing test\n"));
        assert!(body.contains("- Test on five percent first.\n"));
        assert!(!body.contains("wombat"));

        let (status, problem) = mo.get("/api/v1/me/cv/export?format=pdf").await;
        assert!(status.is_client_error(), "{status}");
        let said = problem.to_string();
        assert!(said.contains("format") || said.contains("pdf"), "{problem}");

        let web = app.sign_in("mo@example.org").await;
        let (status, text) = web.get_text("/me/cv/export.md").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(text, body, "the page's download is the API's");
    }
);

async fn conditions(api: &Api) -> Vec<String> {
    let (status, signal) = api.get("/api/v1/teams/ops/success-signal").await;
    assert_eq!(status, StatusCode::OK, "{signal}");
    let fired: Vec<String> = signal["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .map(|c| c["condition"].as_str().expect("condition").to_owned())
        .collect();
    assert_eq!(signal["shows"], !fired.is_empty(), "{signal}");
    fired
}

fn has(fired: &[String], condition: &str) -> bool {
    fired.iter().any(|c| c == condition)
}

/// A design whose dates are the clock's day, so it may start whatever day the test is at.
fn design_on(title: &str, day: OffsetDateTime) -> Value {
    let mut body = design(title, 0, 0);
    body["starts_on"] = json!(day.date().to_string());
    body["decide_by"] = json!(day.date().to_string());
    body
}

async fn the_signal_follows_its_thresholds(backend: Backend) {
    let t0 = OffsetDateTime::now_utc().replace_time(Time::from_hms(10, 0, 0).expect("10:00"));
    let clock = SetClock::at(t0);
    let Some(app) = TestApp::spawn_with_clock(backend, clock.clone()).await else {
        return;
    };
    let (_, lee, mo, _) = people(&app).await;
    assert!(conditions(&mo).await.is_empty(), "no data, no question");

    // Settings: validated and named field by field; only leads change them.
    let (status, problem) = lee
        .send(
            Method::PUT,
            "/api/v1/teams/ops/success-settings",
            Some(json!({"quarters": 0, "quiet_weeks": 53, "basic_weeks": 3, "basic_min_loops": 2})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, vec!["quarters", "quiet_weeks"]);
    let (status, _) = lee
        .send(
            Method::PUT,
            "/api/v1/teams/ops/success-settings",
            Some(json!({"quarters": 1, "quiet_weeks": "six", "basic_weeks": 3, "basic_min_loops": 2})),
        )
        .await;
    assert!(status.is_client_error());
    let settings = json!({"quarters": 1, "quiet_weeks": 2, "basic_weeks": 3, "basic_min_loops": 2});
    let (status, _) = mo
        .send(
            Method::PUT,
            "/api/v1/teams/ops/success-settings",
            Some(settings.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a member cannot");
    let (status, saved) = lee
        .send(
            Method::PUT,
            "/api/v1/teams/ops/success-settings",
            Some(settings.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(saved, settings);

    // All validated, and quiet while shipping: one validated experiment, no loop.
    let first = prepared(&mo, design_on("Validated refunds", t0)).await;
    conclude(&mo, &first, "validated", "people want it").await;
    let fired = conditions(&mo).await;
    assert!(
        has(&fired, "all_validated") && has(&fired, "quiet_while_shipping"),
        "{fired:?}"
    );
    let web = app.sign_in("mo@example.org").await;
    let (_, html) = web.get_text("/teams/ops").await;
    assert!(html.contains("If we arrive at consistent success, what have we sacrificed?"));
    assert!(html.contains("data-condition=\"all_validated\""));
    assert!(html.contains("pre-mortem"));

    // Quiet while shipping: the experiment counts as shipped for exactly two weeks.
    clock.set(t0 + Duration::weeks(2));
    assert!(has(&conditions(&mo).await, "quiet_while_shipping"));
    clock.set(t0 + Duration::weeks(2) + Duration::seconds(1));
    assert!(!has(&conditions(&mo).await, "quiet_while_shipping"));
    // All validated holds for one quarter (13 weeks), then the window is empty.
    clock.set(t0 + Duration::weeks(13));
    assert!(has(&conditions(&mo).await, "all_validated"));
    let t1 = t0 + Duration::weeks(13) + Duration::seconds(1);
    clock.set(t1);
    assert!(conditions(&mo).await.is_empty());
    // Signed in again: thirteen weeks is past any session's idle time.
    let web = app.sign_in("mo@example.org").await;
    let (status, html) = web.get_text("/teams/ops").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Recent loops"), "the team page itself");
    assert!(!html.contains("what have we sacrificed"));

    // All basic: two loops (the minimum), both classified basic.
    let a = log(&mo, "Basic slip one", false).await.expect("id");
    let b = log(&mo, "Basic slip two", false).await.expect("id");
    assert!(!has(&conditions(&mo).await, "all_basic"), "unclassified");
    set_type(&lee, &a, "basic").await;
    assert!(!has(&conditions(&mo).await, "all_basic"), "one of two");
    set_type(&lee, &b, "basic").await;
    assert!(has(&conditions(&mo).await, "all_basic"));
    // A logged failure keeps "quiet while shipping" away until it leaves the window: the
    // loops of t1 count until t1 + 2 weeks, the validated test of t1 + 1 week a week longer.
    clock.set(t1 + Duration::weeks(1));
    let second = prepared(&mo, design_on("Second test", t1 + Duration::weeks(1))).await;
    conclude(&mo, &second, "validated", "it works").await;
    assert!(
        !has(&conditions(&mo).await, "quiet_while_shipping"),
        "failures were logged"
    );
    clock.set(t1 + Duration::weeks(2));
    assert!(
        !has(&conditions(&mo).await, "quiet_while_shipping"),
        "the loops count still"
    );
    clock.set(t1 + Duration::weeks(2) + Duration::seconds(1));
    assert!(has(&conditions(&mo).await, "quiet_while_shipping"));

    // All basic lasts exactly as long as its three-week window holds the two loops.
    clock.set(t1 + Duration::weeks(3));
    assert!(has(&conditions(&mo).await, "all_basic"));
    clock.set(t1 + Duration::weeks(3) + Duration::seconds(1));
    assert!(!has(&conditions(&mo).await, "all_basic"));
}

mod the_signal_follows_its_thresholds {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        the_signal_follows_its_thresholds(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        the_signal_follows_its_thresholds(Backend::Postgres).await;
    }
}

story!(
    the_settings_page_names_a_bad_threshold,
    |app: TestApp| async move {
        let (_, _, _, _) = people(&app).await;
        let web = app.sign_in("lee@example.org").await;
        let (status, html) = web.get_text("/teams/ops/settings").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("name=\"quiet_weeks\""));
        assert!(html.contains("value=\"6\""), "the default is shown");
        let response = web
            .submit(
                "/teams/ops/settings",
                "/teams/ops/settings/success",
                &[
                    ("quarters", "2"),
                    ("quiet_weeks", "0"),
                    ("basic_weeks", "13"),
                    ("basic_min_loops", "x"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = response.text().await.expect("body");
        assert!(
            html.contains("must be a whole number from 1 to 52"),
            "{html}"
        );
        assert!(html.contains("must be a whole number from 1 to 100"));
        let response = web
            .submit(
                "/teams/ops/settings",
                "/teams/ops/settings/success",
                &[
                    ("quarters", "3"),
                    ("quiet_weeks", "4"),
                    ("basic_weeks", "13"),
                    ("basic_min_loops", "3"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let (_, html) = web.get_text("/teams/ops/settings").await;
        assert!(html.contains("value=\"4\""));
        let mo = app.sign_in("mo@example.org").await;
        let (status, _) = mo.get_text("/teams/ops/settings").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
);

/// Runs `failforward cv …` against the app with `token`, without the environment's settings.
fn cv_cli(app: &TestApp, token: &str, args: &[&str]) -> (i32, String, String) {
    app.client_cli(token, &[&["cv"], args].concat())
}

story!(
    the_cli_shows_exports_and_publishes_only_ones_own_cv,
    |app: TestApp| async move {
        let (root, lee, mo, _) = people(&app).await;
        let mine = log(&mo, "Tried a new cache layout", false)
            .await
            .expect("a named loop");
        set_type(&lee, &mine, "intelligent").await;

        let (code, out, err) = cv_cli(&app, &mo.token, &["show"]);
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains("failure CV of Mo Member: 1 intelligent failure(s)"),
            "{out}"
        );
        assert!(out.contains("private: only you can see it"), "{out}");
        assert!(out.contains("failure: Tried a new cache layout ("), "{out}");

        // The Markdown download, to a file.
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("cv.md");
        let path = file.to_str().expect("utf-8 path");
        let (code, _, err) = cv_cli(
            &app,
            &mo.token,
            &["export", "--format", "markdown", "-o", path],
        );
        assert_eq!(code, 0, "{err}");
        let markdown = std::fs::read_to_string(&file).expect("written");
        assert!(markdown.contains("Tried a new cache layout"), "{markdown}");

        // Private until published: the admin sees nothing; after `cv publish`, it is shown.
        let mo_id = {
            let (_, me) = mo.get("/api/v1/me").await;
            me["id"].as_str().expect("id").to_owned()
        };
        let (status, _) = root.get(&format!("/api/v1/people/{mo_id}/cv")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (code, out, err) = cv_cli(&app, &mo.token, &["publish"]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("published to the organisation since"), "{out}");
        let (status, cv) = root.get(&format!("/api/v1/people/{mo_id}/cv")).await;
        assert_eq!(status, StatusCode::OK, "{cv}");
        let (code, out, err) = cv_cli(&app, &mo.token, &["unpublish"]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("private: only you can see it"), "{out}");
        let (status, _) = root.get(&format!("/api/v1/people/{mo_id}/cv")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // A mistyped format and a bad token end with one line and a non-zero code.
        let (code, _, err) = cv_cli(&app, &mo.token, &["export", "--format", "pdf"]);
        assert_ne!(code, 0);
        assert!(err.contains("--format"), "{err}");
        let (code, _, err) = cv_cli(&app, "ffp_not_a_token", &["show"]);
        assert_ne!(code, 0);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
);
