//! Anonymous loops: nothing stored or logged links them to the person who logged them — no
//! author, no session or token trace, no time finer than the day, no order of writing.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::anonymity_logs::Server;
use crate::helpers::{fresh_postgres_url, Backend, TestApp, TestDb, PASSWORD};
use crate::story;

const DAY: i64 = 86_400;

async fn identity_of(app: &TestApp, email: &str) -> Vec<String> {
    let rows = app
        .db
        .dump(&format!(
            "SELECT id, email, display_name FROM users WHERE email = '{email}'"
        ))
        .await;
    let mut out: Vec<String> = rows[0].iter().map(|(_, v)| v.clone()).collect();
    for row in app
        .db
        .dump(&format!(
            "SELECT token_hash FROM sessions WHERE user_id = '{}' UNION ALL SELECT token_hash FROM api_tokens WHERE user_id = '{}'",
            out[0], out[0]
        ))
        .await
    {
        out.extend(row.into_iter().map(|(_, v)| v));
    }
    out
}

fn assert_clean(rows: &[Vec<(String, String)>], identity: &[String], table: &str) {
    for row in rows {
        for (column, value) in row {
            for secret in identity {
                assert!(
                    !value.contains(secret.as_str()),
                    "{table}.{column} = {value:?} contains {secret:?}"
                );
            }
        }
    }
}

story!(
    anonymous_loops_store_nothing_identifying,
    |app: TestApp| async move {
        app.create_user("root@example.org", "Root", true).await;
        app.create_user("ann@example.org", "Ann Anon", false).await;
        let ann = app.token_for("ann@example.org").await;
        ann.post("/api/v1/teams", json!({"name": "Ops"})).await;
        let browser = app.sign_in("ann@example.org").await;

        let mut written = Vec::new();
        for n in 0..10 {
            let (status, created) = ann
            .post(
                "/api/v1/teams/ops/loops",
                json!({"title": format!("Anonymous {n}"), "what_happened": "x", "tags": ["night"], "anonymous": true}),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED);
            assert_eq!(
                created["reporter"],
                json!({"anonymous": true, "name": null})
            );
            assert!(created["created_at"]
                .as_str()
                .unwrap_or("")
                .ends_with("T00:00:00Z"));
            assert!(created["reporter_link"]
                .as_str()
                .unwrap_or("")
                .contains("/reporter/"));
            assert_eq!(created["history"][0]["by"], Value::Null);
            written.push(created["id"].as_str().expect("id").to_owned());
        }
        // The same through the web form, after the session's last activity was an hour ago: the
        // submission must not refresh it (that would timestamp the person).
        let token = browser.csrf("/teams/ops/loops/new").await;
        app.db
            .execute("UPDATE sessions SET last_seen_at = last_seen_at - 3600")
            .await;
        let before_post = app.db.count("SELECT MAX(last_seen_at) FROM sessions").await;
        let response = browser
            .post_form(
                "/teams/ops/loops",
                &[
                    ("csrf_token", token.as_str()),
                    ("title", "Web anonymous"),
                    ("what_happened", "y"),
                    ("noticed_at", ""),
                    ("impact_scale", "minor"),
                    ("anonymous", "on"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let page = response.text().await.expect("page");
        assert!(
            page.contains("/reporter/"),
            "the reporter link is shown once"
        );
        assert_eq!(
            app.db.count("SELECT MAX(last_seen_at) FROM sessions").await,
            before_post
        );
        assert_eq!(
            app.db
                .count("SELECT COUNT(*) FROM api_tokens WHERE last_used_on IS NOT NULL")
                .await,
            0,
            "writing through the API leaves no day of use on the token"
        );
        // Held until the day's release: nothing of them is written at capture, and the team
        // does not see them yet.
        assert_eq!(app.db.count("SELECT COUNT(*) FROM loops").await, 0);
        let (_, listed) = ann.get("/api/v1/teams/ops/loops").await;
        assert_eq!(listed["total"], 0, "{listed}");
        let (status, _) = ann
            .get(&format!("/api/v1/teams/ops/loops/{}", written[0]))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        app.release_anonymous_loops().await;
        let (_, listed) = ann.get("/api/v1/teams/ops/loops").await;
        assert_eq!(listed["total"], 11, "{listed}");

        let identity = identity_of(&app, "ann@example.org").await;
        assert!(identity.len() >= 3);
        let loops = app.db.dump("SELECT * FROM loops").await;
        assert_eq!(loops.len(), 11);
        assert_clean(&loops, &identity, "loops");
        for row in &loops {
            let get = |name: &str| {
                row.iter()
                    .find(|(c, _)| c == name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            assert_eq!(get("author_id"), "NULL");
            let created: i64 = get("created_at").parse().expect("number");
            let entered: i64 = get("stage_entered_at").parse().expect("number");
            assert_eq!(created % DAY, 0, "creation kept to the day");
            assert_eq!(entered % DAY, 0, "stage entry kept to the day");
            assert_ne!(get("reporter_secret_hash"), "NULL");
        }
        for table in ["loop_stage_changes", "loop_tags", "loop_additions"] {
            let rows = app.db.dump(&format!("SELECT * FROM {table}")).await;
            assert_clean(&rows, &identity, table);
        }
        assert_eq!(
            app.db
                .count("SELECT COUNT(*) FROM loop_stage_changes WHERE changed_by IS NOT NULL")
                .await,
            0
        );
        assert_eq!(
            app.db
                .count(&format!(
                    "SELECT COUNT(*) FROM loop_stage_changes WHERE changed_at % {DAY} <> 0"
                ))
                .await,
            0
        );

        // No order of writing: the stored order is not the order the loops were written in.
        let natural: Vec<String> = match &app.db {
            TestDb::Sqlite(_) => {
                app.db
                    .dump("SELECT id FROM loops WHERE title LIKE 'Anonymous %'")
                    .await
            }
            TestDb::Postgres(_) => {
                app.db
                    .dump("SELECT id FROM loops WHERE title LIKE 'Anonymous %' ORDER BY ctid")
                    .await
            }
        }
        .into_iter()
        .map(|row| row[0].1.clone())
        .collect();
        assert_eq!(natural.len(), written.len());
        assert_ne!(natural, written, "storage order matches writing order");
        let seqs: Vec<i64> = app
            .db
            .dump("SELECT seq, title FROM loops WHERE title LIKE 'Anonymous %'")
            .await
            .into_iter()
            .map(|row| {
                (
                    row[1]
                        .1
                        .trim_start_matches("Anonymous ")
                        .parse::<usize>()
                        .expect("n"),
                    row[0].1.parse::<i64>().expect("seq"),
                )
            })
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_values()
            .collect();
        assert!(
            !seqs.windows(2).all(|w| w[0] < w[1]),
            "seq grows with writing order: {seqs:?}"
        );
        if let TestDb::Postgres(_) = &app.db {
            // The release writes them all in one transaction: one transaction id for all.
            let ids = app
                .db
                .count("SELECT COUNT(DISTINCT xmin::text) FROM loops WHERE anonymous")
                .await;
            assert_eq!(ids, 1, "the day's anonymous loops share one transaction id");
        }

        // Pages and the API name nobody; the reporter link works without signing in.
        let (_, html) = browser
            .get_text(&format!("/teams/ops/loops/{}", written[0]))
            .await;
        assert!(html.contains("Logged anonymously"));
        assert!(!html.contains("Ann Anon · "), "no name beside the record");
    }
);

story!(
    the_reporter_link_adds_and_withdraws_anonymously,
    |app: TestApp| async move {
        app.create_user("root@example.org", "Root", true).await;
        let root = app.token_for("root@example.org").await;
        root.post("/api/v1/teams", json!({"name": "Ops"})).await;
        let (_, created) = root
            .post(
                "/api/v1/teams/ops/loops",
                json!({"title": "Quiet one", "what_happened": "x", "anonymous": true}),
            )
            .await;
        let link = created["reporter_link"].as_str().expect("link").to_owned();
        let secret = link.rsplit('/').next().expect("secret").to_owned();
        assert_eq!(
            app.db
                .count(&format!(
                    "SELECT COUNT(*) FROM loops WHERE reporter_secret_hash = '{secret}'"
                ))
                .await,
            0,
            "only a hash of the link is stored"
        );
        let stranger = app.browser();
        let path = link.trim_start_matches(&app.address).to_owned();
        // Before the day's release the link works from this server's memory, and says when the
        // report is published; the team does not see it yet.
        let (status, page) = stranger.get_text(&path).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("Quiet one"));
        assert!(page.contains("Not published yet"), "{page}");
        let loop_path = format!(
            "/api/v1/teams/ops/loops/{}",
            created["id"].as_str().expect("id")
        );
        assert_eq!(root.get(&loop_path).await.0, StatusCode::NOT_FOUND);
        let added = stranger
            .submit(&path, &path, &[("body", "I later found the cron overlap.")])
            .await;
        assert_eq!(added.status(), StatusCode::OK);
        let page = added.text().await.expect("page");
        assert!(page.contains("cron overlap"), "{page}");
        assert_eq!(app.db.count("SELECT COUNT(*) FROM loop_additions").await, 0);
        app.release_anonymous_loops().await;
        let (status, shown) = root.get(&loop_path).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(shown["additions"][0]["by_reporter"], true);
        assert_eq!(shown["additions"][0]["by"], Value::Null);
        let (_, page) = stranger.get_text(&path).await;
        assert!(!page.contains("Not published yet"), "{page}");
        // An addition to a published report is held until the next release too.
        let added = stranger
            .submit(&path, &path, &[("body", "And the retry doubled it.")])
            .await;
        assert_eq!(added.status(), StatusCode::OK);
        let page = added.text().await.expect("page");
        assert!(page.contains("retry doubled"), "{page}");
        assert_eq!(
            root.get(&loop_path).await.1["additions"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        app.release_anonymous_loops().await;
        assert_eq!(
            root.get(&loop_path).await.1["additions"]
                .as_array()
                .map(Vec::len),
            Some(2)
        );
        assert_eq!(
            app.db
                .count("SELECT COUNT(*) FROM loop_additions WHERE author_id IS NOT NULL")
                .await,
            0
        );
        let withdrawn = stranger.submit(&path, &path, &[("withdraw", "yes")]).await;
        assert_eq!(withdrawn.status(), StatusCode::OK);
        assert_eq!(app.db.count("SELECT COUNT(*) FROM loops").await, 0);
        assert_eq!(stranger.get(&path).await.status(), StatusCode::NOT_FOUND);
        let (status, _) = app
            .api("none")
            .get(&format!("/api/v1/reporter/{secret}"))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
);

/// The server's own log lines, at debug level, for the request that logs an anonymous loop.
async fn logs_carry_nothing_identifying(backend: Backend) {
    let dir = tempfile::tempdir().expect("dir");
    let mut storage = vec!["--data-dir".to_owned(), dir.path().display().to_string()];
    match backend {
        Backend::Sqlite => {}
        Backend::Postgres => match fresh_postgres_url().await {
            Some(url) => storage.extend(["--database-url".to_owned(), url]),
            None => return,
        },
    }
    let created_user = Server::admin(
        &storage,
        &[
            "create-user",
            "--email",
            "ann@example.org",
            "--name",
            "Ann Anon",
            "--admin",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    let user_id = created_user
        .rsplit('(')
        .next()
        .unwrap_or("")
        .trim()
        .trim_end_matches(')')
        .to_owned();
    assert_eq!(user_id.len(), 36, "user id printed");
    let token = Server::admin(
        &storage,
        &["create-token", "--email", "ann@example.org"],
        "",
    );

    let server = Server::start(&storage);
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let team = client
        .post(format!("{base}/api/v1/teams"))
        .bearer_auth(&token)
        .json(&json!({"name": "Ops"}))
        .send()
        .await
        .expect("team");
    assert_eq!(team.status(), StatusCode::CREATED);
    let created: Value = client
        .post(format!("{base}/api/v1/teams/ops/loops"))
        .bearer_auth(&token)
        .json(&json!({"title": "Night shift mistake", "what_happened": "x", "anonymous": true}))
        .send()
        .await
        .expect("loop")
        .json()
        .await
        .expect("json");
    let loop_id = created["id"].as_str().expect("id").to_owned();
    let reporter = created["reporter_link"].as_str().expect("link").to_owned();
    let secret = reporter.rsplit('/').next().unwrap_or("").to_owned();
    let added = client
        .post(format!("{base}/api/v1/reporter/{secret}/additions"))
        .json(&json!({"body": "more"}))
        .send()
        .await
        .expect("addition");
    assert_eq!(added.status(), StatusCode::CREATED);
    let logs = server.stop();

    let request_lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("/api/v1/teams/{slug}/loops") && l.contains("\"status\":201"))
        .collect();
    assert_eq!(
        request_lines.len(),
        1,
        "the request is logged once:\n{logs}"
    );
    for line in logs.lines() {
        let parsed: Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        for needle in [
            &user_id,
            "ann@example.org",
            "Ann Anon",
            &token,
            &secret,
            &loop_id,
        ] {
            assert!(
                !line.contains(needle),
                "log line names {needle:?}: {parsed}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_nothing_identifying_on_sqlite() {
    logs_carry_nothing_identifying(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_nothing_identifying_on_postgres() {
    logs_carry_nothing_identifying(Backend::Postgres).await;
}
