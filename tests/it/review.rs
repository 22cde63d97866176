//! Issue 6: review sessions that counter authority bias — nobody reads sealed cards before the
//! reveal (pages, API, live stream, database), leads' cards wait for everyone else, vote totals
//! wait for the vote to close, dissent is kept, and the live stream spans app instances.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{Api, TestApp, TestDb};
use crate::story;

const SECRET_KEY: &str = "a shared secret key for both app instances, long enough";

/// Lead Lee, members Mo and Kim in team "ops"; admin Root is not a member. Returns the APIs of
/// Lee, Mo, Kim and Root, and a loop to review.
pub(crate) async fn team(app: &TestApp) -> (Api, Api, Api, Api, String) {
    app.create_user("root@example.org", "Root Admin", true)
        .await;
    app.create_user("lee@example.org", "Lee Lead", false).await;
    app.create_user("mo@example.org", "Mo Member", false).await;
    app.create_user("kim@example.org", "Kim Member", false)
        .await;
    let lee = app.token_for("lee@example.org").await;
    let mo = app.token_for("mo@example.org").await;
    let kim = app.token_for("kim@example.org").await;
    let root = app.token_for("root@example.org").await;
    let (status, _) = lee.post("/api/v1/teams", json!({"name": "Ops"})).await;
    assert_eq!(status, StatusCode::CREATED);
    for email in ["mo@example.org", "kim@example.org"] {
        let (status, body) = lee
            .post(
                "/api/v1/teams/ops/members",
                json!({"email": email, "role": "member"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, created) = mo
        .post(
            "/api/v1/teams/ops/loops",
            json!({"title": "Checkout timed out", "what_happened": "Payments took 30 s for an hour."}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let loop_id = created["id"].as_str().expect("id").to_owned();
    (lee, mo, kim, root, loop_id)
}

/// The fields a problem+json body names.
fn fields_named(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect()
}

fn texts(view: &Value) -> Vec<String> {
    view["cards"]
        .as_array()
        .expect("cards")
        .iter()
        .map(|c| c["text"].as_str().expect("text").to_owned())
        .collect()
}

pub(crate) async fn view(api: &Api, base: &str) -> Value {
    let (status, body) = api.get(base).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

pub(crate) async fn ok(api: &Api, method: Method, path: &str, body: Value) -> Value {
    let (status, out) = api.send(method, path, Some(body)).await;
    assert!(status.is_success(), "{path}: {status} {out}");
    out
}

/// Mo starts a session on the loop; Lee and Kim join; the open-actions phase is passed.
pub(crate) async fn session_in_write(mo: &Api, lee: &Api, kim: &Api, loop_id: &str) -> String {
    let (status, started) = mo
        .post(
            "/api/v1/teams/ops/reviews",
            json!({"loop_id": loop_id, "dots": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(started["phase"], "open_actions");
    let base = format!(
        "/api/v1/teams/ops/reviews/{}",
        started["id"].as_str().expect("id")
    );
    for api in [lee, kim] {
        ok(
            api,
            Method::POST,
            &format!("{base}/participants"),
            json!({}),
        )
        .await;
    }
    let moved = ok(
        mo,
        Method::POST,
        &format!("{base}/advance"),
        json!({"from": "open_actions"}),
    )
    .await;
    assert_eq!(moved["phase"], "write");
    base
}

story!(
    sealed_cards_stay_sealed_until_the_reveal_and_leads_speak_last,
    |app: TestApp| async move {
        let (lee, mo, kim, root, loop_id) = team(&app).await;
        let base = session_in_write(&mo, &lee, &kim, &loop_id).await;
        let mut cards = std::collections::HashMap::new();
        for (api, text, named) in [
            (&mo, "SECRET-MO the retry storm hid the slow query", false),
            (&kim, "SECRET-KIM nobody owned the payment alert", true),
            (&lee, "SECRET-LEE I approved the rushed rollout", true),
        ] {
            let (status, card) = api
                .post(
                    &format!("{base}/cards"),
                    json!({"kind": "observation", "text": text, "show_name": named}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{card}");
            cards.insert(&text[..10], card["id"].as_str().expect("id").to_owned());
        }

        // Before the reveal nobody reads a card: not the facilitator, the lead, an admin, the API.
        for (who, api) in [("mo", &mo), ("lee", &lee), ("kim", &kim), ("root", &root)] {
            let v = view(api, &base).await;
            assert_eq!(v["progress"]["cards"], 3, "{who} sees the count");
            assert!(texts(&v).is_empty(), "{who} sees no revealed card");
            let others: Vec<&str> = ["SECRET-MO", "SECRET-KIM", "SECRET-LEE"]
                .into_iter()
                .filter(|s| !matches!((who, *s), ("kim", "SECRET-KIM") | ("lee", "SECRET-LEE")))
                .collect();
            for secret in others {
                assert!(!v.to_string().contains(secret), "{who} reads {secret}: {v}");
            }
        }
        // A writer sees their own named card back, never an unnamed one.
        assert!(view(&kim, &base).await.to_string().contains("SECRET-KIM"));
        assert!(!view(&mo, &base).await.to_string().contains("SECRET-MO"));
        let (_, summary) = root.get(&format!("{base}/summary")).await;
        assert!(!summary.to_string().contains("SECRET-"), "{summary}");
        // The page shows counts, not content, and no per-person writing state.
        let web = app.sign_in("lee@example.org").await;
        let page_path = base.trim_start_matches("/api/v1");
        let (status, page) = web
            .get_text(&format!("/{}", page_path.trim_start_matches('/')))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("3 cards"), "the page counts the cards");
        for secret in ["SECRET-MO", "SECRET-KIM"] {
            assert!(!page.contains(secret), "the lead's page shows {secret}");
        }
        assert!(!page.to_lowercase().contains("typing"));
        // In the database: ciphertext only, and no author for the unnamed card.
        assert_eq!(
            app.db
                .count("SELECT COUNT(*) FROM sealed_items WHERE plaintext IS NOT NULL")
                .await,
            0
        );
        for row in app.db.dump("SELECT * FROM sealed_items").await {
            for (column, value) in row {
                assert!(
                    !value.contains("SECRET"),
                    "{column} holds a card in the clear"
                );
            }
        }

        // Lee (lead) and Mo finish; Kim has not. The facilitator ends writing by hand: the
        // others' cards show, the lead's stay sealed until Kim is done.
        for api in [&lee, &mo] {
            ok(
                api,
                Method::PUT,
                &format!("{base}/done"),
                json!({"done": true}),
            )
            .await;
        }
        let v = view(&mo, &base).await;
        assert_eq!(v["progress"]["done"], 2);
        assert_eq!(v["phase"], "write", "not everyone has finished");
        let v = ok(
            &mo,
            Method::POST,
            &format!("{base}/advance"),
            json!({"from": "write"}),
        )
        .await;
        assert_eq!(v["phase"], "reveal");
        let shown = texts(&v);
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert!(shown.iter().any(|t| t.starts_with("SECRET-MO")));
        assert!(shown.iter().any(|t| t.starts_with("SECRET-KIM")));
        assert!(
            !v.to_string().contains("SECRET-LEE"),
            "the lead's card waits"
        );
        assert_eq!(v["leads_cards_revealed"], false);
        // Named cards carry a name; the unnamed one none.
        for card in v["cards"].as_array().expect("cards") {
            let text = card["text"].as_str().expect("text");
            if text.starts_with("SECRET-MO") {
                assert!(card["author"].is_null());
            } else {
                assert_eq!(card["author"], "Kim Member");
            }
        }
        let dump = app.db.dump("SELECT * FROM sealed_items").await.concat();
        assert!(!dump.iter().any(|(_, v)| v.contains("SECRET-LEE")));
        // A stale advance (a second click) does not skip a phase.
        let (status, problem) = mo
            .post(&format!("{base}/advance"), json!({"from": "write"}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");

        // Kim finishes: now the lead's card shows.
        ok(
            &kim,
            Method::PUT,
            &format!("{base}/done"),
            json!({"done": true}),
        )
        .await;
        let v = view(&kim, &base).await;
        assert_eq!(v["leads_cards_revealed"], true);
        let lead_card = v["cards"]
            .as_array()
            .expect("cards")
            .iter()
            .find(|c| {
                c["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("SECRET-LEE"))
            })
            .cloned()
            .expect("the lead's card is revealed");
        assert_eq!(lead_card["from_lead"], true);

        // Hiding needs a reason and the facilitator; the reason is shown instead of the text.
        let kim_card = &cards["SECRET-KIM"];
        let (status, _) = kim
            .post(
                &format!("{base}/cards/{kim_card}/hide"),
                json!({"reason": "x"}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, problem) = mo
            .post(
                &format!("{base}/cards/{kim_card}/hide"),
                json!({"reason": " "}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "reason", "{problem}");
        let v = ok(
            &mo,
            Method::POST,
            &format!("{base}/cards/{kim_card}/hide"),
            json!({"reason": "names a customer"}),
        )
        .await;
        let hidden = v["cards"]
            .as_array()
            .expect("cards")
            .iter()
            .find(|c| c["id"] == kim_card.as_str())
            .cloned()
            .expect("hidden card listed");
        assert_eq!(hidden["text"], "");
        assert_eq!(hidden["hidden_reason"], "names a customer");
    }
);

story!(
    blind_votes_count_only_after_the_vote_closes_and_dissent_is_kept,
    |app: TestApp| async move {
        let (lee, mo, kim, _root, loop_id) = team(&app).await;
        let base = session_in_write(&mo, &lee, &kim, &loop_id).await;
        let mut ids = Vec::new();
        for (api, text) in [
            (&mo, "Retries multiplied the load on the database"),
            (&kim, "The slow-query alert went to an unowned channel"),
        ] {
            let (_, card) = api
                .post(
                    &format!("{base}/cards"),
                    json!({"kind": "factor", "text": text, "show_name": false}),
                )
                .await;
            ids.push(card["id"].as_str().expect("id").to_owned());
        }
        for api in [&lee, &mo, &kim] {
            ok(
                api,
                Method::PUT,
                &format!("{base}/done"),
                json!({"done": true}),
            )
            .await;
        }
        let v = view(&mo, &base).await;
        assert_eq!(
            v["phase"], "reveal",
            "everyone finished: the cards reveal on their own"
        );
        assert_eq!(texts(&v).len(), 2);
        ok(
            &mo,
            Method::POST,
            &format!("{base}/advance"),
            json!({"from": "reveal"}),
        )
        .await;
        ok(
            &mo,
            Method::POST,
            &format!("{base}/advance"),
            json!({"from": "group"}),
        )
        .await;
        let (retries, alert) = (&ids[0], &ids[1]);

        // Bad ballots: too many dots, an unknown card.
        let (status, problem) = kim
            .post(&format!("{base}/ballot"), json!({"dots": {retries: 4}}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "dots");
        let (status, _) = kim
            .post(
                &format!("{base}/ballot"),
                json!({"dots": {"not-a-card": 1}}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

        // Two ballots from one person at the same moment: exactly one counts.
        let ballot = format!("{base}/ballot");
        let (first, second) = tokio::join!(
            mo.post(&ballot, json!({"dots": {retries: 3}})),
            mo.post(&ballot, json!({"dots": {retries: 3}})),
        );
        let mut statuses = [first.0, second.0];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::NO_CONTENT, StatusCode::CONFLICT]);
        let (status, _) = kim
            .post(
                &format!("{base}/ballot"),
                json!({"dots": {retries: 1, alert: 2}}),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = kim
            .post(&format!("{base}/ballot"), json!({"dots": {alert: 1}}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "one ballot each");
        let v = view(&lee, &base).await;
        assert_eq!(v["phase"], "vote");
        assert_eq!(v["progress"]["voters"], 2);
        assert!(
            v["totals"].is_null(),
            "no totals while the vote is open: {v}"
        );
        // Ballots carry no voter in the database.
        for row in app
            .db
            .dump("SELECT author_id, plaintext FROM sealed_items WHERE category = 'ballot'")
            .await
        {
            assert_eq!(row[0].1, "NULL", "a ballot names its voter");
            assert_eq!(row[1].1, "NULL", "a ballot is readable before the close");
        }

        // The last voter closes the vote: totals appear, and only then.
        ok(
            &lee,
            Method::POST,
            &format!("{base}/ballot"),
            json!({"dots": {alert: 3}}),
        )
        .await;
        let v = view(&kim, &base).await;
        assert_eq!(v["phase"], "discuss");
        let totals: std::collections::HashMap<String, u64> = v["totals"]
            .as_array()
            .expect("totals after the close")
            .iter()
            .map(|t| {
                (
                    t["card_id"].as_str().expect("card").to_owned(),
                    t["dots"].as_u64().expect("dots"),
                )
            })
            .collect();
        assert_eq!(totals[retries.as_str()], 4);
        assert_eq!(totals[alert.as_str()], 5);

        // Decide: the card becomes an action item on the loop; Kim disagrees, unnamed.
        ok(
            &mo,
            Method::POST,
            &format!("{base}/advance"),
            json!({"from": "discuss"}),
        )
        .await;
        let (status, problem) = kim
            .post(
                &format!("{base}/decisions"),
                json!({"card_id": alert, "kind": "action", "text": "x"}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "only the facilitator decides: {problem}"
        );
        let (status, problem) = mo
            .post(
                &format!("{base}/decisions"),
                json!({"card_id": alert, "kind": "verdict", "text": "x"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "kind", "{problem}");
        let (status, decision) = mo
            .post(
                &format!("{base}/decisions"),
                json!({"card_id": alert, "kind": "action", "text": "Route the slow-query alert to the payments on-call"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{decision}");
        let decision = decision["id"].as_str().expect("id").to_owned();
        let (status, _) = kim
            .post(
                &format!("{base}/decisions/{decision}/dissents"),
                json!({"reason": "An alert alone will not hold; the retry policy is the bigger lever"}),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (_, looped) = mo.get(&format!("/api/v1/teams/ops/loops/{loop_id}")).await;
        assert!(
            looped
                .to_string()
                .contains("Route the slow-query alert to the payments on-call"),
            "the decision became an action item on the loop: {looped}"
        );
        ok(&mo, Method::POST, &format!("{base}/close"), json!({})).await;
        let response = reqwest::Client::new()
            .get(app.url(&format!("{base}/summary")))
            .bearer_auth(&lee.token)
            .send()
            .await
            .expect("summary");
        assert!(response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/markdown")));
        let summary = response.text().await.expect("text");
        assert!(summary.contains("Route the slow-query alert"), "{summary}");
        assert!(
            summary.contains("the retry policy is the bigger lever"),
            "{summary}"
        );
        assert!(
            !summary.contains("Kim Member"),
            "unnamed dissent stays unnamed: {summary}"
        );
        // The team's export keeps the session's record — cards, dots, decisions, dissent — and
        // names nobody.
        let (status, export) = lee.get("/api/v1/teams/ops/export?format=json").await;
        assert_eq!(status, StatusCode::OK, "{export}");
        let session = &export["teams"][0]["review_sessions"][0];
        assert_eq!(session["participants"], 3);
        assert_eq!(session["cards"][0]["dots"], 5);
        assert_eq!(
            session["cards"][0]["text"],
            "The slow-query alert went to an unowned channel"
        );
        assert_eq!(
            session["decisions"][0]["dissent"][0],
            "An alert alone will not hold; the retry policy is the bigger lever"
        );
        let text = export.to_string();
        for name in ["Kim Member", "Mo Member", "Lee Lead", "kim@example.org"] {
            assert!(!text.contains(name), "the export names {name}");
        }
        // Once closed, nothing more is written.
        let (status, _) = kim
            .post(
                &format!("{base}/cards"),
                json!({"kind": "idea", "text": "late"}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
    }
);

story!(
    bad_input_is_named_and_outsiders_see_nothing,
    |app: TestApp| async move {
        let (lee, mo, kim, _root, loop_id) = team(&app).await;
        let (status, problem) = mo
            .post(
                "/api/v1/teams/ops/reviews",
                json!({"prompt": "", "dots": 99}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let fields = fields_named(&problem);
        assert!(
            fields.contains(&"prompt") && fields.contains(&"dots"),
            "{problem}"
        );
        let (_, _, content_type) = mo
            .post_raw(
                "/api/v1/teams/ops/reviews",
                "application/json",
                "{\"loop_id\": 3",
            )
            .await;
        assert!(content_type.starts_with("application/problem+json"));
        let base = session_in_write(&mo, &lee, &kim, &loop_id).await;
        let (status, problem) = kim
            .post(
                &format!("{base}/cards"),
                json!({"kind": "rant", "text": ""}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let fields = fields_named(&problem);
        assert!(
            fields.contains(&"kind") && fields.contains(&"text"),
            "{problem}"
        );
        assert_eq!(
            view(&kim, &base).await["progress"]["cards"],
            0,
            "nothing half-written"
        );
        // Someone outside the team gets 404 for the session, its stream and its actions.
        app.create_user("out@example.org", "Out Sider", false).await;
        let out = app.token_for("out@example.org").await;
        for path in [
            base.clone(),
            format!("{base}/events"),
            format!("{base}/summary"),
        ] {
            let (status, _) = out.get(&path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        }
        let (status, _) = out
            .post(
                &format!("{base}/cards"),
                json!({"kind": "idea", "text": "hi"}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // Observers neither write nor vote.
        app.create_user("obi@example.org", "Obi Observer", false)
            .await;
        lee.post(
            "/api/v1/teams/ops/members",
            json!({"email": "obi@example.org", "role": "member"}),
        )
        .await;
        let obi = app.token_for("obi@example.org").await;
        ok(
            &obi,
            Method::POST,
            &format!("{base}/participants"),
            json!({"observer": true}),
        )
        .await;
        let (status, _) = obi
            .post(
                &format!("{base}/cards"),
                json!({"kind": "idea", "text": "I only watch"}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(view(&obi, &base).await["progress"]["participants"], 3);
    }
);

/// Reads server-sent events from a streaming response until one arrives, returning its data.
async fn next_event(response: &mut reqwest::Response, buffer: &mut String) -> String {
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data:")) {
                return data.trim().to_owned();
            }
            continue;
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk())
            .await
            .expect("an event within 10 s")
            .expect("stream")
            .expect("stream open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

async fn events(address: &str, token: &str, base: &str) -> reqwest::Response {
    let response = reqwest::Client::new()
        .get(format!("{address}{base}/events"))
        .bearer_auth(token)
        .send()
        .await
        .expect("events");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream")));
    response
}

story!(
    the_live_stream_carries_versions_never_content,
    |app: TestApp| async move {
        let (lee, mo, kim, _root, loop_id) = team(&app).await;
        let base = session_in_write(&mo, &lee, &kim, &loop_id).await;
        let mut stream = events(&app.address, &lee.token, &base).await;
        let mut buffer = String::new();
        let first: Value =
            serde_json::from_str(&next_event(&mut stream, &mut buffer).await).expect("json");
        let at_connect = first["version"].as_i64().expect("version");
        assert_eq!(
            at_connect,
            view(&lee, &base).await["version"]
                .as_i64()
                .expect("version")
        );
        kim.post(
            &format!("{base}/cards"),
            json!({"kind": "idea", "text": "STREAMSECRET canary the config"}),
        )
        .await;
        let data = next_event(&mut stream, &mut buffer).await;
        assert!(!data.contains("STREAMSECRET"));
        let next: Value = serde_json::from_str(&data).expect("json");
        assert!(next["version"].as_i64().expect("version") > at_connect);
        // A late participant gets the current state at once.
        let mut late = events(&app.address, &kim.token, &base).await;
        let mut late_buffer = String::new();
        let now: Value =
            serde_json::from_str(&next_event(&mut late, &mut late_buffer).await).expect("json");
        assert_eq!(now["version"], next["version"]);
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_share_a_live_session() {
    let Some(app) = TestApp::spawn_with(crate::helpers::Backend::Postgres, |s| {
        s.secret_key = Some(SECRET_KEY.to_owned())
    })
    .await
    else {
        return;
    };
    assert!(matches!(app.db, TestDb::Postgres(_)));
    let second = app
        .sibling(|s| s.secret_key = Some(SECRET_KEY.to_owned()))
        .await;
    let (lee, mo, kim, _root, loop_id) = team(&app).await;
    let base = session_in_write(&mo, &lee, &kim, &loop_id).await;
    // Lee watches through the second instance; Kim and Mo write through the first.
    let mut stream = events(&second.address, &lee.token, &base).await;
    let mut buffer = String::new();
    let first: Value =
        serde_json::from_str(&next_event(&mut stream, &mut buffer).await).expect("json");
    for api in [&kim, &mo] {
        api.post(
            &format!("{base}/cards"),
            json!({"kind": "observation", "text": "written on instance one"}),
        )
        .await;
        ok(
            api,
            Method::PUT,
            &format!("{base}/done"),
            json!({"done": true}),
        )
        .await;
    }
    ok(
        &lee,
        Method::PUT,
        &format!("{base}/done"),
        json!({"done": true}),
    )
    .await;
    let target = view(&mo, &base).await["version"].as_i64().expect("version");
    assert!(target > first["version"].as_i64().expect("version"));
    let mut seen = 0;
    while seen < target {
        let event: Value =
            serde_json::from_str(&next_event(&mut stream, &mut buffer).await).expect("json");
        seen = event["version"].as_i64().expect("version");
    }
    // The second instance serves the revealed cards it heard about.
    let via_second = crate::helpers::Api {
        client: reqwest::Client::new(),
        base: second.address.clone(),
        token: lee.token.clone(),
    };
    let v = view(&via_second, &base).await;
    assert_eq!(v["phase"], "reveal");
    assert_eq!(texts(&v).len(), 2);
}

/// The texts of the revealed cards in the order the view lists them.
fn card_order(view: &Value) -> Vec<String> {
    view["cards"]
        .as_array()
        .expect("cards")
        .iter()
        .map(|c| c["text"].as_str().expect("text").to_owned())
        .collect()
}

fn position(haystack: &str, needle: &str) -> usize {
    haystack
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} is missing from {haystack}"))
}

story!(
    an_unnamed_lead_card_wears_no_role_and_comes_last_everywhere,
    |app: TestApp| async move {
        let (lee, mo, kim, _root, loop_id) = team(&app).await;
        // Mo facilitates; Lee is the team's lead but not the facilitator.
        let base = session_in_write(&mo, &lee, &kim, &loop_id).await;
        // The lead's card would sort first by kind and text; it must come last all the same.
        // On the board, where each kind has its column, it comes last in its column: Kim's card
        // shares it.
        for (api, kind, text) in [
            (&lee, "factor", "AAA-LEAD the deadline came from me"),
            (&mo, "observation", "MMM-MO the canary was skipped"),
            (&kim, "factor", "KKK-KIM no pre-deploy checklist"),
        ] {
            let (status, card) = api
                .post(
                    &format!("{base}/cards"),
                    json!({"kind": kind, "text": text, "show_name": false}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{card}");
        }
        for api in [&mo, &lee] {
            ok(
                api,
                Method::PUT,
                &format!("{base}/done"),
                json!({"done": true}),
            )
            .await;
        }
        ok(
            &mo,
            Method::POST,
            &format!("{base}/advance"),
            json!({"from": "write"}),
        )
        .await;

        // Kim is still writing: only the facilitator may bring the leads' cards forward — not
        // the lead, by any of the buttons that would reveal them.
        for (path, body) in [
            (format!("{base}/show-leads"), json!({})),
            (format!("{base}/advance"), json!({"from": "reveal"})),
            (format!("{base}/close"), json!({})),
        ] {
            let response = reqwest::Client::new()
                .post(app.url(&path))
                .bearer_auth(&lee.token)
                .json(&body)
                .send()
                .await
                .expect("POST");
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
            assert!(response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/problem+json")));
        }
        let v = view(&lee, &base).await;
        assert_eq!(v["phase"], "reveal");
        assert_eq!(v["leads_cards_revealed"], false, "{v}");
        let web = app.sign_in("lee@example.org").await;
        let page_path = base.trim_start_matches("/api/v1").to_owned();
        let (_, page) = web.get_text(&page_path).await;
        assert!(
            !page.contains("/show-leads"),
            "a lead who is not facilitating is offered the button"
        );

        // Kim finishes: the lead's card shows, after everyone else's, with no role on it.
        ok(
            &kim,
            Method::PUT,
            &format!("{base}/done"),
            json!({"done": true}),
        )
        .await;
        let v = view(&kim, &base).await;
        assert_eq!(v["leads_cards_revealed"], true);
        let order = card_order(&v);
        assert_eq!(order.len(), 3);
        assert!(order[2].starts_with("AAA-LEAD"), "{order:?}");
        for card in v["cards"].as_array().expect("cards") {
            assert!(
                card.get("from_lead").is_none(),
                "an unnamed card carries a role: {card}"
            );
        }
        let (_, page) = web.get_text(&page_path).await;
        assert!(!page.contains(">lead<"), "a role badge on the page");
        assert!(position(&page, "MMM-MO") < position(&page, "AAA-LEAD"));
        assert!(position(&page, "KKK-KIM") < position(&page, "AAA-LEAD"));

        // Even with the most dots, the lead's card stays last: in the view, the page, the
        // summary and the export.
        for from in ["reveal", "group"] {
            ok(
                &mo,
                Method::POST,
                &format!("{base}/advance"),
                json!({"from": from}),
            )
            .await;
        }
        let ids: std::collections::HashMap<String, String> = view(&mo, &base).await["cards"]
            .as_array()
            .expect("cards")
            .iter()
            .map(|c| {
                (
                    c["text"].as_str().expect("text")[..3].to_owned(),
                    c["id"].as_str().expect("id").to_owned(),
                )
            })
            .collect();
        for (api, card, dots) in [(&lee, "AAA", 3), (&mo, "AAA", 3), (&kim, "KKK", 1)] {
            let (status, problem) = api
                .post(
                    &format!("{base}/ballot"),
                    json!({"dots": {ids[card].as_str(): dots}}),
                )
                .await;
            assert_eq!(status, StatusCode::NO_CONTENT, "{problem}");
        }
        let v = view(&mo, &base).await;
        assert_eq!(v["phase"], "discuss");
        let order = card_order(&v);
        assert!(order[0].starts_with("KKK-KIM"), "by dots: {order:?}");
        assert!(order[2].starts_with("AAA-LEAD"), "{order:?}");
        let (_, page) = web.get_text(&page_path).await;
        assert!(position(&page, "MMM-MO") < position(&page, "AAA-LEAD"));
        ok(&mo, Method::POST, &format!("{base}/close"), json!({})).await;
        let summary = reqwest::Client::new()
            .get(app.url(&format!("{base}/summary")))
            .bearer_auth(&kim.token)
            .send()
            .await
            .expect("summary")
            .text()
            .await
            .expect("text");
        assert!(position(&summary, "KKK-KIM") < position(&summary, "AAA-LEAD"));
        assert!(position(&summary, "MMM-MO") < position(&summary, "AAA-LEAD"));
        let (_, export) = lee.get("/api/v1/teams/ops/export?format=json").await;
        let exported: Vec<&str> = export["teams"][0]["review_sessions"][0]["cards"]
            .as_array()
            .expect("cards")
            .iter()
            .map(|c| c["text"].as_str().expect("text"))
            .collect();
        assert_eq!(exported.len(), 3, "{export}");
        assert!(exported[2].starts_with("AAA-LEAD"), "{exported:?}");
    }
);
