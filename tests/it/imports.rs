//! Issue 18: postmortems as people write them import through the API on both databases, with
//! the mapping each fixture expects and nothing of the source lost; what cannot be a
//! postmortem is refused as problem+json naming the file, and nothing is written.

use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{Api, TestApp};
use crate::story;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/postmortems")
}

/// The corpus's documents: every file but the README and the fixtures.
fn corpus() -> Vec<(String, Vec<u8>, toml::Value)> {
    let mut names: Vec<String> = std::fs::read_dir(corpus_dir())
        .expect("the corpus folder")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "README.md" && !n.ends_with(".expect.toml"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let bytes = std::fs::read(corpus_dir().join(&name)).expect("a document");
            let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
            let fixture = std::fs::read_to_string(corpus_dir().join(format!("{stem}.expect.toml")))
                .unwrap_or_else(|_| panic!("{name} has no fixture"));
            let fixture: toml::Value = toml::from_str(&fixture).expect("a TOML fixture");
            (name, bytes, fixture)
        })
        .collect()
}

/// A lead of team "ops"; returns their API.
async fn lead(app: &TestApp) -> Api {
    app.create_user("root@example.org", "Root Admin", true)
        .await;
    app.create_user("lee@example.org", "Lee Lead", false).await;
    let lee = app.token_for("lee@example.org").await;
    let (status, out) = lee.post("/api/v1/teams", json!({"name": "Ops"})).await;
    assert_eq!(status, StatusCode::CREATED, "{out}");
    lee
}

/// Words for comparing text regardless of Markdown, punctuation and written times: lower case,
/// without tokens holding digits and without time-zone and month words (a timeline line's time
/// becomes the entry's instant, not its text).
fn words(text: &str) -> Vec<String> {
    const DROPPED: [&str; 14] = [
        "utc", "pt", "pdt", "cet", "cest", "am", "pm", "t", "z", "sep", "sept", "sept", "mon", "x",
    ];
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !w.chars().any(|c| c.is_ascii_digit()))
        .filter(|w| !DROPPED.contains(w))
        .map(str::to_owned)
        .collect()
}

fn strings_of(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(items) => items.iter().for_each(|v| strings_of(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings_of(v, out)),
        _ => {}
    }
}

/// The fragments of a source that must survive an import: sentences of lines and table cells
/// (front matter values, list items without their markers), leaving out headings and other
/// short labels, which become the loop's structure.
fn fragments(source: &str) -> Vec<String> {
    let text = source.trim_start_matches('\u{feff}').replace("\r\n", "\n");
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        let underlined = lines
            .get(i + 1)
            .is_some_and(|n| n.trim().len() >= 3 && n.trim().chars().all(|c| c == '=' || c == '-'));
        if trimmed.starts_with('#') || underlined || trimmed == "---" {
            continue;
        }
        let listed =
            trimmed.starts_with(['-', '*']) || trimmed.starts_with(|c: char| c.is_ascii_digit());
        for cell in trimmed.split('|') {
            for sentence in cell.split(". ").flat_map(|s| s.split(": ")) {
                let w = words(sentence);
                let short =
                    w.len() < 3 || (w.len() <= 4 && !listed && !sentence.trim_end().ends_with('.'));
                if !short {
                    out.push(w.join(" "));
                }
            }
        }
    }
    out
}

story!(
    postmortems_as_written_import_with_their_expected_mapping,
    |app: TestApp| async move {
        let lee = lead(&app).await;
        let documents = corpus();
        assert!(
            documents.len() >= 40,
            "the corpus has {} documents",
            documents.len()
        );
        for (name, bytes, fixture) in documents {
            let (status, _, report) = lee
                .send_bytes(
                    reqwest::Method::POST,
                    &format!("/api/v1/teams/ops/import?file_name={name}"),
                    "text/markdown",
                    bytes.clone(),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{name}: {report}");
            let summary = &report["loops"][0];
            let expect = |key: &str| fixture.get(key).cloned();
            assert_eq!(
                summary["title"].as_str(),
                expect("title").as_ref().and_then(|v| v.as_str()),
                "{name}"
            );
            assert_eq!(
                summary["timeline_events"].as_i64(),
                expect("timeline").and_then(|v| v.as_integer()),
                "{name}"
            );
            assert_eq!(
                summary["actions"].as_i64(),
                expect("actions").and_then(|v| v.as_integer()),
                "{name}"
            );
            let kept: Vec<String> = expect("kept")
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            assert_eq!(summary["kept_sections"], json!(kept), "{name}");

            let id = summary["id"].as_str().expect("an id");
            let (status, export) = lee
                .get(&format!("/api/v1/teams/ops/loops/{id}/export?format=json"))
                .await;
            assert_eq!(status, StatusCode::OK, "{name}: {export}");
            let item = &export["teams"][0]["loops"][0];
            if let Some(date) = expect("date").and_then(|v| v.as_str().map(str::to_owned)) {
                let noticed = item["noticed_at"].as_str().unwrap_or("");
                // The first entry's instant, or the document's day.
                assert!(
                    noticed.starts_with(&date)
                        || item["timeline"][0]["occurred_at"] == item["noticed_at"],
                    "{name}: noticed {noticed}, expected {date}"
                );
            }
            let at: Vec<&str> = item["timeline"]
                .as_array()
                .map(|events| {
                    events
                        .iter()
                        .filter_map(|e| e["occurred_at"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            for time in expect("times")
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
            {
                let time = time.as_str().unwrap_or("");
                assert!(at.contains(&time), "{name}: {time} not among {at:?}");
            }
            let done = item["actions"]
                .as_array()
                .map_or(0, |a| a.iter().filter(|a| a["status"] == "done").count());
            assert_eq!(
                Some(done as i64),
                expect("done").and_then(|v| v.as_integer()),
                "{name}"
            );
            if let Some(fields) = expect("fields").and_then(|v| v.as_table().cloned()) {
                for (field, phrase) in fields {
                    let pointer = format!("/{}", field.replace('.', "/"));
                    let value = item.pointer(&pointer).and_then(Value::as_str).unwrap_or("");
                    let phrase = phrase.as_str().unwrap_or("");
                    assert!(
                        value.contains(phrase),
                        "{name}: {field} lacks {phrase:?}: {value:?}"
                    );
                }
            }

            // Nothing lost: every sentence of the source is somewhere in the loop.
            let mut all = String::new();
            strings_of(item, &mut all);
            let loop_words = format!(" {} ", words(&all).join(" "));
            let source = String::from_utf8(bytes).expect("UTF-8");
            for fragment in fragments(&source) {
                assert!(
                    loop_words.contains(&format!(" {fragment} ")),
                    "{name}: lost {fragment:?}"
                );
            }
        }
    }
);

/// Posts `body` as the file `name`, expecting a problem+json 4xx naming it; nothing is written.
async fn refused(app: &TestApp, api: &Api, name: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let before = app.db.count("SELECT COUNT(*) FROM loops").await;
    let (status, kind, problem) = api
        .send_bytes(
            reqwest::Method::POST,
            &format!("/api/v1/teams/ops/import?file_name={name}"),
            "text/markdown",
            body,
        )
        .await;
    assert!(status.is_client_error(), "{name}: {status} {problem}");
    assert_eq!(kind, "application/problem+json", "{name}");
    assert!(
        problem["detail"].as_str().unwrap_or("").contains(name),
        "{name}: {problem}"
    );
    assert_eq!(
        app.db.count("SELECT COUNT(*) FROM loops").await,
        before,
        "{name}"
    );
    (status, problem)
}

story!(
    what_cannot_be_a_postmortem_is_refused_naming_the_file,
    |app: TestApp| async move {
        let lee = lead(&app).await;
        let (status, problem) = refused(
            &app,
            &lee,
            "blob.md",
            vec![0x00, 0x13, 0x37, 0xfe, 0x00, b'a'],
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            problem["detail"].as_str().unwrap_or("").contains("line 1"),
            "{problem}"
        );

        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend([0u8; 64]);
        let (_, problem) = refused(&app, &lee, "diagram.md", png).await;
        assert!(
            problem["detail"].as_str().unwrap_or("").contains("PNG"),
            "{problem}"
        );

        let latin1 = b"# Outage\n\nCaf\xe9 orders failed.\n".to_vec();
        let (_, problem) = refused(&app, &lee, "latin1.md", latin1).await;
        let detail = problem["detail"].as_str().unwrap_or("");
        assert!(
            detail.contains("line 3") && detail.contains("UTF-8"),
            "{problem}"
        );

        let huge = vec![b'a'; 50 * 1024 * 1024];
        let (status, _) = refused(&app, &lee, "huge.md", huge).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

        // Empty is no postmortem either; a missing heading is no reason to refuse.
        refused(&app, &lee, "empty.md", b" \n\n".to_vec()).await;
        let (status, _, report) = lee
            .send_bytes(
                reqwest::Method::POST,
                "/api/v1/teams/ops/import?file_name=notes.txt&dry_run=true",
                "text/plain",
                b"The deploy broke login; we rolled back.\n".to_vec(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(
            report["loops"][0]["title"],
            "The deploy broke login; we rolled back."
        );
    }
);
