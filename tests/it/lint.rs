//! Issue 4: the blameless-language linter through the API, the organisation's settings, and the
//! command line.

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::story;

story!(
    the_api_reports_findings_with_character_offsets,
    |app: TestApp| async move {
        app.create_user("ada@example.org", "Ada", true).await;
        let api = app.token_for("ada@example.org").await;
        let text = "Zoë’s team met at 9. The operator failed to notice the disk filling up.";
        let (status, report) = api.post("/api/v1/lint", json!({"text": text})).await;
        assert_eq!(status, StatusCode::OK);
        let findings = report["findings"].as_array().expect("findings");
        assert_eq!(findings.len(), 1, "{report}");
        let f = &findings[0];
        assert_eq!(f["category"], "counterfactual");
        let start = f["start"].as_u64().expect("start") as usize;
        let end = f["end"].as_u64().expect("end") as usize;
        let phrase: String = text.chars().skip(start).take(end - start).collect();
        assert_eq!(phrase, "failed to", "offsets count characters, not bytes");
        assert!(f["suggestion"].as_str().unwrap_or("").ends_with('?'));
        let (_, clean) = api
            .post("/api/v1/lint", json!({"text": "The job failed to start."}))
            .await;
        assert_eq!(clean["findings"], json!([]));
        let (status, problem) = api.post("/api/v1/lint", json!({})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "text");
        let (status, problem) = api
            .post("/api/v1/lint", json!({"text": "x".repeat(200_001)}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "text");
        let (status, _) = app
            .api("ffp_nope")
            .post("/api/v1/lint", json!({"text": "x"}))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
);

story!(
    admins_add_terms_switch_rules_and_people_dismiss_findings,
    |app: TestApp| async move {
        app.create_user("ada@example.org", "Ada", true).await;
        app.create_user("bo@example.org", "Bo", false).await;
        let admin = app.token_for("ada@example.org").await;
        let member = app.token_for("bo@example.org").await;
        let (status, _) = member
            .post(
                "/api/v1/lint/terms",
                json!({"category": "moralising", "phrase": "cowboy deploy"}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, problem) = admin
            .post(
                "/api/v1/lint/terms",
                json!({"category": "rude", "phrase": "cowboy deploy"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "category");
        let (status, _) = admin
        .post("/api/v1/lint/terms", json!({"category": "moralising", "phrase": "cowboy deploy", "message": "Say what happened instead."}))
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let (_, report) = member
            .post("/api/v1/lint", json!({"text": "That was a cowboy deploy."}))
            .await;
        assert_eq!(report["findings"][0]["category"], "moralising");
        assert_eq!(
            report["findings"][0]["message"],
            "Say what happened instead."
        );

        let (status, _) = member
            .send(
                reqwest::Method::PUT,
                "/api/v1/lint/rules/hindsight-obvious",
                Some(json!({"enabled": false})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = admin
            .send(
                reqwest::Method::PUT,
                "/api/v1/lint/rules/hindsight-obvious",
                Some(json!({"enabled": false})),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (_, report) = member
            .post("/api/v1/lint", json!({"text": "Obviously it broke."}))
            .await;
        assert_eq!(report["findings"], json!([]));
        let (_, settings) = member.get("/api/v1/lint/rules").await;
        let rule = settings["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .find(|r| r["id"] == "hindsight-obvious")
            .cloned()
            .expect("rule");
        assert_eq!(rule["enabled"], false);

        // A dismissal is remembered for that exact text only.
        let text = "The root cause was the cron schedule.";
        let (_, report) = member.post("/api/v1/lint", json!({"text": text})).await;
        let finding = report["findings"][0].clone();
        let (status, problem) = member
        .post("/api/v1/lint/dismissals", json!({"text": text, "rule": finding["rule"], "start": finding["start"], "reason": ""}))
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "reason");
        let (status, _) = member
        .post("/api/v1/lint/dismissals", json!({"text": text, "rule": finding["rule"], "start": finding["start"], "reason": "We quote the vendor's report."}))
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let (_, again) = admin.post("/api/v1/lint", json!({"text": text})).await;
        assert_eq!(again["findings"], json!([]));
        assert_eq!(again["dismissed"], 1);
        let (_, other) = admin
            .post("/api/v1/lint", json!({"text": format!("{text} ")}))
            .await;
        assert_eq!(
            other["findings"].as_array().map(Vec::len),
            Some(1),
            "another text is still checked"
        );
        assert_eq!(
            app.db.count("SELECT COUNT(*) FROM lint_dismissals").await,
            0,
            "held until the day's release: the text may become an anonymous loop's, and a row \
             written now would sit among its writer's named writes"
        );
        app.release_anonymous_loops().await;
        let (_, again) = member.post("/api/v1/lint", json!({"text": text})).await;
        assert_eq!(again["dismissed"], 1, "still dismissed once written");
        assert_eq!(
            app.db
                .count("SELECT COUNT(*) FROM lint_dismissals WHERE text_hash LIKE '%cron%'")
                .await,
            0,
            "only a hash of the text is kept"
        );
        assert_eq!(
            app.db
                .count(
                    "SELECT COUNT(*) FROM lint_dismissals WHERE dismissed_by IS NULL AND dismissed_at % 86400 = 0"
                )
                .await,
            1,
            "and neither who dismissed nor the time: the text may become an anonymous loop's"
        );
        let web = app.sign_in("ada@example.org").await;
        let (status, page) = web.get_text("/people/lint").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("cowboy deploy") && page.contains("hindsight-obvious"));
    }
);

fn lint_cli(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_failforward"))
        .arg("lint")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("exits");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_command_line_behaves_like_a_linter() {
    let (code, out, _) = lint_cli(
        &[],
        "## Root cause analysis\n\nIt went fine.\nThe engineer should have checked the logs.\n",
    );
    assert_eq!(code, 1);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("-:4:14: counterfactual: "), "{out}");
    let (code, out, _) = lint_cli(&["-"], "The job failed to start.\n");
    assert_eq!((code, out.as_str()), (0, ""));
    // An e-mail pasted whole: its header lines are labels, not people doing things.
    let email = "From: Ines Duarte\nSubject: Postmortem - login outage of 7 May\n\n\
                 On 7 May the login service returned errors for 42 minutes after a certificate expired.\n";
    let (code, out, _) = lint_cli(&["-"], email);
    assert_eq!((code, out.as_str()), (0, ""));
    let (code, out, _) = lint_cli(&["-"], "Subject: Tom broke prod again, what an idiot\n");
    assert_eq!(code, 1);
    assert!(
        out.starts_with("-:1:"),
        "a label does not hide what follows it: {out}"
    );
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("review.md");
    std::fs::write(&file, "Obviously the backup was never tested.").expect("write");
    let (code, out, _) = lint_cli(&[file.to_str().expect("path"), "--json"], "");
    assert_eq!(code, 1);
    let json: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(json["findings"][0]["category"], "hindsight_certainty");
    assert_eq!(json["findings"][0]["line"], 1);
    let (code, _, err) = lint_cli(&["/no/such/file"], "");
    assert_eq!(code, 2);
    assert!(err.starts_with("error: reading /no/such/file"), "{err}");
    // A labelled corpus given as a file (the default, cross-validation, trains five models).
    let out = Command::new(env!("CARGO_BIN_EXE_failforward"))
        .arg("lint-eval")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/blameless-dev.tsv"
        ))
        .output()
        .expect("eval");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("\nflag: precision "), "{report}");
    assert!(
        report.contains("\nblame_person ") && report.contains("\nhindsight_certainty "),
        "per-category lines: {report}"
    );
}
