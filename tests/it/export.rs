//! Issue 9: export, import, backup and restore, on both databases.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{Api, Backend, TestApp, TestDb};
use crate::story;

const SRE: &str = include_str!("../data/postmortem-sre.md");
const FREE_FORM: &str = include_str!("../data/postmortem-freeform.md");

/// An admin, a team "ops" led by Lee with member Mo; returns (Lee's API, Mo's API).
async fn team(app: &TestApp) -> (Api, Api) {
    app.create_user("root@example.org", "Root Admin", true)
        .await;
    app.create_user("lee@example.org", "Lee Lead", false).await;
    app.create_user("mo@example.org", "Zelda Quokka", false)
        .await;
    let lee = app.token_for("lee@example.org").await;
    let mo = app.token_for("mo@example.org").await;
    let (status, _) = lee.post("/api/v1/teams", json!({"name": "Ops"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = lee
        .post(
            "/api/v1/teams/ops/members",
            json!({"email": "mo@example.org", "role": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    (lee, mo)
}

async fn post_ok(api: &Api, path: &str, body: Value) -> Value {
    let (status, out) = api.post(path, body).await;
    assert!(status.is_success(), "{path}: {status} {out}");
    out
}

/// A named loop with a record of every kind, and an anonymous one; returns their ids.
async fn rich_team(lee: &Api, mo: &Api) -> (String, String) {
    let created = post_ok(
        lee,
        "/api/v1/teams/ops/loops",
        json!({
            "title": "Invoices sent twice",
            "what_happened": "The billing job ran twice after a restart.",
            "what_was_expected": "One invoice per customer.",
            "happened_at": "2026-03-02T09:00:00Z",
            "noticed_at": "2026-03-02T11:30:00Z",
            "impact_scale": "moderate",
            "impact_affected": "about 40 customers",
            "tags": ["billing", "deploy"]
        }),
    )
    .await;
    let id = created["id"].as_str().expect("id").to_owned();
    let base = format!("/api/v1/teams/ops/loops/{id}");
    post_ok(
        lee,
        &format!("{base}/additions"),
        json!({"body": "It was a retry."}),
    )
    .await;
    post_ok(
        lee,
        &format!("{base}/timeline"),
        json!({"occurred_at": "2026-03-02T09:05:00Z", "description": "Second run starts"}),
    )
    .await;
    post_ok(
        lee,
        &format!("{base}/factors"),
        json!({"reason": "process_inadequacy", "description": "No lock on the job"}),
    )
    .await;
    post_ok(
        mo,
        &format!("{base}/accounts"),
        json!({"actions": "Restarted the job", "observations": "Queue was full", "expectations": "One run",
               "assumptions": "Jobs are idempotent", "timeline_understanding": "Morning", "anonymous": false}),
    )
    .await;
    let (status, out) = lee
        .post(&format!("{base}/stage"), json!({"direction": "advance"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{out}");
    let (status, out) = lee
        .send(
            reqwest::Method::PUT,
            &format!("{base}/review"),
            Some(json!({"aar_intended": "One run", "aar_actual": "Two runs", "aar_difference": "No lock",
                        "aar_lessons": "Lock jobs", "went_well": "Fast refund", "went_wrong": "Late alert",
                        "got_lucky": "Small batch"})),
        )
        .await;
    assert!(status.is_success(), "{out}");
    post_ok(
        lee,
        &format!("{base}/learnings"),
        json!({"statement": "Scheduled jobs need a lock", "visibility": "team"}),
    )
    .await;
    post_ok(
        lee,
        &format!("{base}/actions"),
        json!({"title": "Add a job lock", "due_on": "2026-04-01"}),
    )
    .await;
    let anonymous = post_ok(
        mo,
        "/api/v1/teams/ops/loops",
        json!({"title": "I skipped the checklist", "what_happened": "The release went out without the checklist.",
               "noticed_at": "2026-03-03T15:47:00Z", "anonymous": true}),
    )
    .await;
    (id, anonymous["id"].as_str().expect("id").to_owned())
}

async fn get_text(api: &Api, path: &str) -> (StatusCode, String, Vec<u8>) {
    let response = api
        .client
        .get(format!("{}{path}", api.base))
        .bearer_auth(&api.token)
        .send()
        .await
        .expect("GET");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = response.bytes().await.expect("body").to_vec();
    (status, content_type, bytes)
}

/// The export without what an import changes: `exported_at` and the loops' ids.
fn comparable(mut export: Value) -> Value {
    export["exported_at"] = Value::Null;
    for team in export["teams"].as_array_mut().expect("teams") {
        for item in team["loops"].as_array_mut().expect("loops") {
            item["id"] = Value::Null;
        }
    }
    export
}

fn backend_of(app: &TestApp) -> Backend {
    match app.db {
        TestDb::Sqlite(_) => Backend::Sqlite,
        TestDb::Postgres(_) => Backend::Postgres,
    }
}

story!(json_export_round_trips, |app: TestApp| async move {
    let (lee, mo) = team(&app).await;
    rich_team(&lee, &mo).await;
    app.release_anonymous_loops().await;
    let (status, first) = lee.get("/api/v1/teams/ops/export?format=json").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["format"], "failforward-export");
    assert_eq!(first["version"], 1);
    assert_eq!(first["teams"][0]["loops"].as_array().map(Vec::len), Some(2));

    // Into a fresh database of the same kind.
    let Some(fresh) = TestApp::spawn(backend_of(&app)).await else {
        return;
    };
    fresh
        .create_user("ana@example.org", "Ana Admin", true)
        .await;
    let ana = fresh.token_for("ana@example.org").await;
    let (status, _) = ana.post("/api/v1/teams", json!({"name": "Ops"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, report, _) = ana
        .post_raw(
            "/api/v1/teams/ops/import",
            "application/json",
            &first.to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(report["loops"].as_array().map(Vec::len), Some(2));
    let (status, second) = ana.get("/api/v1/teams/ops/export").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(comparable(second), comparable(first));
});

story!(imports_postmortem_templates, |app: TestApp| async move {
    let (lee, _) = team(&app).await;
    // A dry run reports and writes nothing.
    let (status, report, _) = lee
        .post_raw(
            "/api/v1/teams/ops/import?dry_run=true",
            "text/markdown",
            SRE,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["dry_run"], true);
    let summary = &report["loops"][0];
    assert_eq!(
        summary["title"],
        "Checkout latency spike after the cache cluster resize"
    );
    assert_eq!(summary["actions"], 3);
    assert_eq!(summary["timeline_events"], 5);
    assert_eq!(summary["kept_sections"], json!(["Supporting information"]));
    assert_eq!(app.db.count("SELECT COUNT(*) FROM loops").await, 0);

    let (status, report, _) = lee
        .post_raw("/api/v1/teams/ops/import", "text/markdown", SRE)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    let id = report["loops"][0]["id"].as_str().expect("id").to_owned();
    let (status, shown) = lee.get(&format!("/api/v1/teams/ops/loops/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let text = shown.to_string();
    assert!(text.contains("For 47 minutes on 2024-05-01"), "{text}");
    assert!(text.contains("## Supporting information"), "{text}");
    assert!(text.contains("The regional failover worked"), "{text}");
    assert!(text.contains("BUG-2232"), "{text}");
    assert_eq!(
        app.db
            .count("SELECT COUNT(*) FROM action_items WHERE status = 'done'")
            .await,
        1
    );
    assert_eq!(
        app.db.count("SELECT COUNT(*) FROM timeline_events").await,
        5
    );

    let (status, report, _) = lee
        .post_raw("/api/v1/teams/ops/import", "text/markdown", FREE_FORM)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    let summary = &report["loops"][0];
    assert_eq!(summary["actions"], 3);
    assert_eq!(summary["timeline_events"], 4);
    assert_eq!(summary["kept_sections"], json!(["Open questions"]));
    let id = summary["id"].as_str().expect("id");
    let (_, shown) = lee.get(&format!("/api/v1/teams/ops/loops/{id}")).await;
    let text = shown.to_string();
    assert!(text.contains("anonymised usage data"), "{text}");
    assert!(text.contains("## Open questions"), "{text}");
    assert!(text.contains("Silent fallbacks hide failures"), "{text}");

    // The linter's findings come with the report.
    let (status, report, _) = lee
        .post_raw(
            "/api/v1/teams/ops/import?dry_run=true",
            "text/markdown",
            "# Missed page\n\nThe operator failed to notice the alert.\n",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert!(
        !report["loops"][0]["findings"]
            .as_array()
            .expect("findings")
            .is_empty(),
        "{report}"
    );
});

story!(
    malformed_input_is_refused_with_its_line,
    |app: TestApp| async move {
        let (lee, _) = team(&app).await;
        // Lenient as the reader is, a control character is no text (an impossible date would be
        // kept as a note).
        let bad = "# Outage\n\nSummary text.\n\n## Timeline\n\n- 2024-05-01 14:03 UTC: fine\n- 2024-12-01 10:00 UTC: \u{1b}[31m\n";
        let (status, problem, content_type) = lee
            .post_raw("/api/v1/teams/ops/import", "text/markdown", bad)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(problem["errors"][0]["field"], "body", "{problem}");
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap_or("")
                .contains("line 8:"),
            "{problem}"
        );

        let broken_json = "{\n  \"format\": \"failforward-export\",\n  \"version\": 1,,\n}";
        let (status, problem, _) = lee
            .post_raw("/api/v1/teams/ops/import", "application/json", broken_json)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap_or("")
                .starts_with("line 3"),
            "{problem}"
        );

        // One bad loop among good ones: nothing is imported.
        post_ok(
            &lee,
            "/api/v1/teams/ops/loops",
            json!({"title": "Good one", "what_happened": "Fine."}),
        )
        .await;
        let (_, mut export) = lee.get("/api/v1/teams/ops/export").await;
        let mut second = export["teams"][0]["loops"][0].clone();
        second["title"] = json!("");
        export["teams"][0]["loops"]
            .as_array_mut()
            .expect("loops")
            .push(second);
        let before = app.db.count("SELECT COUNT(*) FROM loops").await;
        let (status, problem, _) = lee
            .post_raw(
                "/api/v1/teams/ops/import",
                "application/json",
                &export.to_string(),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            problem["errors"][0]["field"], "teams[0].loops[1].title",
            "{problem}"
        );
        assert_eq!(app.db.count("SELECT COUNT(*) FROM loops").await, before);
    }
);

story!(
    exports_keep_access_rules_and_anonymity,
    |app: TestApp| async move {
        let (lee, mo) = team(&app).await;
        let (named, anonymous) = rich_team(&lee, &mo).await;
        app.release_anonymous_loops().await;
        app.create_user("out@example.org", "Otto Outsider", false)
            .await;
        let outsider = app.token_for("out@example.org").await;
        for path in [
            "/api/v1/teams/ops/export".to_owned(),
            format!("/api/v1/teams/ops/loops/{named}/export?format=markdown"),
        ] {
            let (status, _) = outsider.get(&path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        }
        let (status, _) = lee.get("/api/v1/export").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let root = app.token_for("root@example.org").await;
        let (status, org) = root.get("/api/v1/export").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(org["scope"], "organisation");

        let mut outputs = Vec::new();
        for format in ["json", "markdown", "csv"] {
            let (status, content_type, bytes) =
                get_text(&lee, &format!("/api/v1/teams/ops/export?format={format}")).await;
            assert_eq!(status, StatusCode::OK, "{format}");
            outputs.push((content_type, String::from_utf8_lossy(&bytes).into_owned()));
        }
        let (_, content_type, bytes) = get_text(
            &lee,
            &format!("/api/v1/teams/ops/loops/{anonymous}/export?format=markdown"),
        )
        .await;
        assert!(content_type.starts_with("text/markdown"), "{content_type}");
        let markdown = String::from_utf8_lossy(&bytes).into_owned();
        assert!(markdown.contains("anonymous: true"), "{markdown}");
        assert!(markdown.contains("noticed_at: 2026-03-03\n"), "{markdown}");
        outputs.push((content_type, markdown));
        outputs.push(("org".to_owned(), org.to_string()));
        assert!(outputs[1].0.starts_with("application/x-tar"));
        assert!(outputs[2].0.starts_with("text/csv"));
        for (kind, text) in &outputs {
            for name in [
                "Zelda",
                "Quokka",
                "Lee Lead",
                "mo@example",
                "lee@example",
                "Root Admin",
            ] {
                assert!(!text.contains(name), "{name} in the {kind} export");
            }
        }
        let (_, export) = lee.get("/api/v1/teams/ops/export").await;
        let anon = export["teams"][0]["loops"]
            .as_array()
            .expect("loops")
            .iter()
            .find(|l| l["anonymous"] == true)
            .expect("anonymous loop")
            .clone();
        for field in ["created_at", "noticed_at", "stage_entered_at"] {
            assert!(
                anon[field].as_str().unwrap_or("").ends_with("T00:00:00Z"),
                "{field}: {anon}"
            );
        }
    }
);

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_failforward"));
    for (key, _) in std::env::vars() {
        if key.starts_with("FAILFORWARD_") {
            command.env_remove(key);
        }
    }
    command
}

fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = binary()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("stdin");
    let output = child.wait_with_output().expect("finishes");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn titles_in(path: &std::path::Path) -> BTreeSet<String> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("open");
    let titles: Vec<String> = sqlx::query_scalar("SELECT title FROM loops")
        .fetch_all(&pool)
        .await
        .expect("titles");
    pool.close().await;
    titles.into_iter().collect()
}

/// Every write acknowledged before the backup started is in it; a restore into a fresh
/// directory holds the same content, and a non-empty directory is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backup_under_writes_then_restore() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let (lee, _) = team(&app).await;
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let acknowledged = acknowledged.clone();
        let stop = stop.clone();
        let lee = Api {
            client: lee.client.clone(),
            base: lee.base.clone(),
            token: lee.token.clone(),
        };
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                n += 1;
                let title = format!("Write {n}");
                let (status, _) = lee
                    .post(
                        "/api/v1/teams/ops/loops",
                        json!({"title": title, "what_happened": "x"}),
                    )
                    .await;
                if status == StatusCode::CREATED {
                    acknowledged.lock().expect("lock").push(title);
                }
            }
        })
    };
    while acknowledged.lock().expect("lock").len() < 15 {
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let before: Vec<String> = acknowledged.lock().expect("lock").clone();
    let dir = tempfile::tempdir().expect("dir");
    let backup = dir.path().join("backup.db");
    app.service
        .store()
        .backup_to(&backup)
        .await
        .expect("backup");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.await.expect("writer");
    let in_backup = titles_in(&backup).await;
    for title in &before {
        assert!(in_backup.contains(title), "{title} missing from the backup");
    }

    let target = dir.path().join("restored");
    let (code, out, err) = run(
        &[
            "restore",
            &backup.display().to_string(),
            "--data-dir",
            &target.display().to_string(),
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("restored"), "{out}");
    assert_eq!(titles_in(&target.join("failforward.db")).await, in_backup);
    let restored = target.display().to_string();
    let (code, _, err) = run(
        &[
            "export",
            "--data-dir",
            &restored,
            "--as",
            "lee@example.org",
            "--team",
            "ops",
            "--format",
            "csv",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    // The whole organisation is for admins: as JSON to a file, then refused to a member.
    let org_file = dir.path().join("org.json");
    let (code, _, err) = run(
        &[
            "export",
            "--data-dir",
            &restored,
            "--as",
            "root@example.org",
            "--output",
            &org_file.display().to_string(),
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let org: Value =
        serde_json::from_str(&std::fs::read_to_string(&org_file).expect("read")).expect("json");
    assert_eq!(org["scope"], "organisation");
    assert_eq!(
        org["teams"][0]["loops"].as_array().map(Vec::len),
        Some(in_backup.len())
    );
    let (code, _, err) = run(
        &["export", "--data-dir", &restored, "--as", "lee@example.org"],
        "",
    );
    assert_ne!(code, 0);
    assert!(err.contains("only organisation admins"), "{err}");
    let (code, _, err) = run(
        &[
            "restore",
            &backup.display().to_string(),
            "--data-dir",
            &restored,
        ],
        "",
    );
    assert_ne!(code, 0);
    assert!(err.contains("not empty"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // The command line's import, all or nothing: a file that is no text is one line of error
    // and nothing is imported.
    let bad = dir.path().join("bad.md");
    std::fs::write(&bad, "# T\n\nText.\n\n## Timeline\n\n- 10:00 \u{0}\n").expect("write");
    let good = dir.path().join("good.md");
    std::fs::write(&good, FREE_FORM).expect("write");
    let count = titles_in(&target.join("failforward.db")).await.len();
    let (code, _, err) = run(
        &[
            "import",
            "--data-dir",
            &restored,
            "--as",
            "lee@example.org",
            "--team",
            "ops",
            "--all-or-nothing",
            &good.display().to_string(),
            &bad.display().to_string(),
        ],
        "",
    );
    assert_ne!(code, 0);
    assert!(err.contains("line 7"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(titles_in(&target.join("failforward.db")).await.len(), count);
    let (code, out, err) = run(
        &[
            "import",
            "--data-dir",
            &restored,
            "--as",
            "lee@example.org",
            "--team",
            "ops",
            &good.display().to_string(),
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("imported"), "{out}");
    assert_eq!(
        titles_in(&target.join("failforward.db")).await.len(),
        count + 1
    );
}

story!(team_page_exports_and_imports, |app: TestApp| async move {
    let (lee, _) = team(&app).await;
    post_ok(
        &lee,
        "/api/v1/teams/ops/loops",
        json!({"title": "Web export", "what_happened": "Shown on the page."}),
    )
    .await;
    let browser = app.sign_in("lee@example.org").await;
    let (status, team_page) = browser.get_text("/teams/ops").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        team_page.contains("/teams/ops/data"),
        "linked from the team"
    );
    let (status, page) = browser.get_text("/teams/ops/data").await;
    assert_eq!(status, StatusCode::OK);
    for format in ["json", "markdown", "csv"] {
        assert!(page.contains(&format!("/teams/ops/export?format={format}")));
    }
    let (status, csv) = browser.get_text("/teams/ops/export?format=csv").await;
    assert_eq!(status, StatusCode::OK);
    assert!(csv.contains("Web export"), "{csv}");

    // A dry run through the form shows what would be created and writes nothing.
    let before = app.db.count("SELECT COUNT(*) FROM loops").await;
    let response = browser
        .submit(
            "/teams/ops/data",
            "/teams/ops/import",
            &[("text", FREE_FORM), ("dry_run", "on")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.expect("body");
    assert!(html.contains("Would create 1 loop"), "{html}");
    assert_eq!(app.db.count("SELECT COUNT(*) FROM loops").await, before);
    // A malformed postmortem is shown again with its line.
    let response = browser
        .submit(
            "/teams/ops/data",
            "/teams/ops/import",
            &[(
                "text",
                "# T\n\nText.\n\n## Timeline\n\n- 2024-02-28 10:00: x\u{7}y\n",
            )],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("body");
    assert!(html.contains("line 7"), "{html}");
    // The real import creates the loop.
    let response = browser
        .submit(
            "/teams/ops/data",
            "/teams/ops/import",
            &[("text", FREE_FORM)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(app.db.count("SELECT COUNT(*) FROM loops").await, before + 1);

    // A loop's Markdown export reads back through the Markdown importer.
    let (_, export) = lee.get("/api/v1/teams/ops/export").await;
    let id = export["teams"][0]["loops"]
        .as_array()
        .expect("loops")
        .iter()
        .find(|l| l["title"] == "Nightly data export silently skipped three days")
        .and_then(|l| l["id"].as_str())
        .expect("imported loop")
        .to_owned();
    let (_, _, markdown) = get_text(
        &lee,
        &format!("/api/v1/teams/ops/loops/{id}/export?format=markdown"),
    )
    .await;
    let (status, report, _) = lee
        .post_raw(
            "/api/v1/teams/ops/import?dry_run=true",
            "text/markdown",
            &String::from_utf8_lossy(&markdown),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let summary = &report["loops"][0];
    assert_eq!(
        summary["title"],
        "Nightly data export silently skipped three days"
    );
    assert_eq!(summary["actions"], 3);
    assert_eq!(summary["timeline_events"], 4);
    assert_eq!(summary["kept_sections"], json!(["Open questions"]));
});
