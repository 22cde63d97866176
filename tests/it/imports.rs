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

/// The text a reader of the document sees: an HTML page without its markup (block ends as line
/// ends, cells separated by `|`), other documents as they are.
fn source_text(name: &str, bytes: &[u8]) -> String {
    let source = String::from_utf8(bytes.to_vec()).expect("UTF-8");
    if !name.ends_with(".html") {
        return source;
    }
    let mut text = source.clone();
    for element in ["head", "script", "style", "svg"] {
        while let Some(start) = text.find(&format!("<{element}")) {
            let close = format!("</{element}>");
            let end = text[start..]
                .find(&close)
                .map_or(text.len(), |e| start + e + close.len());
            text.replace_range(start..end, "");
        }
    }
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('>').map_or(rest.len(), |c| open + c + 1);
        let tag = rest[open..close].to_lowercase();
        let name: String = tag
            .trim_start_matches(['<', '/'])
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if matches!(name.as_str(), "td" | "th") && tag.starts_with("</") {
            out.push_str(" | ");
        } else if matches!(
            name.as_str(),
            "p" | "br" | "li" | "tr" | "div" | "h1" | "h2" | "h3" | "h4" | "table" | "ul" | "pre"
        ) {
            out.push('\n');
        }
        rest = &rest[close..];
    }
    out.push_str(rest);
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
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
            // Phrases each found in some action's title (their order is not the document's).
            let titles: Vec<&str> = item["actions"]
                .as_array()
                .map(|a| a.iter().filter_map(|a| a["title"].as_str()).collect())
                .unwrap_or_default();
            for phrase in expect("in_actions")
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
            {
                let phrase = phrase.as_str().unwrap_or("");
                assert!(
                    titles.iter().any(|t| t.contains(phrase)),
                    "{name}: no action has {phrase:?}: {titles:?}"
                );
            }
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
            let chrome: Vec<String> = expect("chrome")
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|v| v.as_str().map(|s| words(s).join(" ")))
                .collect();
            let source = source_text(&name, &bytes);
            for fragment in fragments(&source) {
                if chrome.iter().any(|c| fragment.contains(c.as_str())) {
                    continue;
                }
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

/// Sends the headers of a 50 MB import of `name` and reads the answer: status, head and body.
async fn declare_huge_upload(api: &Api, name: &str) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = api.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let request = format!(
        "POST /api/v1/teams/ops/import?file_name={name} HTTP/1.1\r\nHost: {address}\r\n\
         Authorization: Bearer {}\r\nContent-Type: text/markdown\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        api.token,
        50 * 1024 * 1024
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        stream.read_to_end(&mut answer),
    )
    .await;
    assert!(read.is_ok(), "no answer to a 50 MB upload");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
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

        // An image renamed .html is no web page.
        let mut renamed = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        renamed.extend([0u8; 64]);
        let (_, problem) = refused(&app, &lee, "page.html", renamed).await;
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

        // A 50 MB file is refused from its declared length, before its body is read: sent as
        // headers alone, so that the refusal is read back whatever the network does with a
        // body the server does not want.
        let (status, head, body) = declare_huge_upload(&lee, "huge.md").await;
        assert_eq!(status, 413, "{head}");
        assert!(
            head.to_lowercase()
                .contains("content-type: application/problem+json"),
            "{head}"
        );
        assert!(body.contains("huge.md"), "{body}");

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

fn run(args: &[&str]) -> (i32, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_failforward"));
    for (key, _) in std::env::vars() {
        if key.starts_with("FAILFORWARD_") {
            command.env_remove(key);
        }
    }
    let output = command
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn loop_count(database: &Path) -> i64 {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", database.display()))
        .await
        .expect("open");
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM loops")
        .fetch_one(&pool)
        .await
        .expect("count");
    pool.close().await;
    count
}

/// The command line imports a folder and an archive with a line per file; refused files are
/// named with their reason, and `--all-or-nothing` imports nothing when one is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_import_of_a_folder_and_an_archive_from_the_command_line() {
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite)
        .await
        .expect("sqlite");
    lead(&app).await;
    let dir = tempfile::tempdir().expect("dir");
    let backup = dir.path().join("backup.db");
    app.service
        .store()
        .backup_to(&backup)
        .await
        .expect("backup");
    let data = dir.path().join("data");
    let (code, _, err) = run(&[
        "restore",
        &backup.display().to_string(),
        "--data-dir",
        &data.display().to_string(),
    ]);
    assert_eq!(code, 0, "{err}");
    let database = data.join("failforward.db");
    let data = data.display().to_string();

    let folder = dir.path().join("postmortems");
    std::fs::create_dir_all(folder.join("2024")).expect("folder");
    for name in ["01-sre-template.md", "02-plain-first-line.txt"] {
        std::fs::copy(corpus_dir().join(name), folder.join(name)).expect("copy");
    }
    std::fs::copy(
        corpus_dir().join("03-h2-start.md"),
        folder.join("2024/03-h2-start.md"),
    )
    .expect("copy");
    std::fs::write(folder.join("diagram.png"), b"\x89PNG\r\n\x1a\n").expect("write");
    std::fs::write(folder.join("photo.md"), b"\x89PNG\r\n\x1a\n\0\0").expect("write");
    std::fs::write(
        folder.join("latin1.md"),
        b"# Outage\n\nCaf\xe9 orders failed.\n",
    )
    .expect("write");
    let folder = folder.display().to_string();
    let base = [
        "import",
        "--data-dir",
        &data,
        "--as",
        "lee@example.org",
        "--team",
        "ops",
    ];

    let before = loop_count(&database).await;
    let (code, out, err) = run(&[&base[..], &["--all-or-nothing", &folder]].concat());
    assert_ne!(code, 0, "{out}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("nothing imported"), "{err}");
    assert_eq!(loop_count(&database).await, before);

    let (code, out, err) = run(&[&base[..], &[&folder]].concat());
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("2 of 5 files refused"), "{err}");
    assert_eq!(
        out.matches("\nimported ").count() + usize::from(out.starts_with("imported ")),
        3,
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("refused") && l.contains("photo.md") && l.contains("PNG")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("refused") && l.contains("latin1.md") && l.contains("line 3")),
        "{out}"
    );
    assert!(out.contains("skipped 1 files"), "{out}");
    assert_eq!(loop_count(&database).await, before + 3);

    // A .tar.gz archive of postmortems.
    let archive = dir.path().join("history.tar.gz");
    {
        let file = std::fs::File::create(&archive).expect("archive");
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            file,
            flate2::Compression::fast(),
        ));
        for name in ["04-front-matter-lines.md", "05-yaml-front-matter.md"] {
            tar.append_path_with_name(corpus_dir().join(name), format!("old/{name}"))
                .expect("append");
        }
        tar.into_inner().expect("tar").finish().expect("gzip");
    }
    let (code, out, err) =
        run(&[&base[..], &["--dry-run", &archive.display().to_string()]].concat());
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("would import").count(), 2, "{out}");
    assert!(out.contains("kept unmapped: Details"), "{out}");
    assert_eq!(loop_count(&database).await, before + 3);
    let (code, out, err) = run(&[&base[..], &[&archive.display().to_string()]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("history.tar.gz:old/04-front-matter-lines.md"),
        "{out}"
    );
    assert_eq!(loop_count(&database).await, before + 5);

    // A 50 MB file: one line of error naming it, exit 1, nothing written.
    let huge = dir.path().join("huge.md");
    std::fs::write(&huge, vec![b'a'; 50 * 1024 * 1024]).expect("write");
    let (code, out, err) = run(&[&base[..], &[&huge.display().to_string()]].concat());
    assert_ne!(code, 0, "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("refused") && l.contains("huge.md") && l.contains("larger")),
        "{out}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(loop_count(&database).await, before + 5);
}

/// A paragraph of a Word document built for the tests: its style id (as Word writes them, in
/// the author's language: "berschrift1" is a German Word's "heading 1"), its list level, its
/// runs (text, bold).
struct WordParagraph {
    style: Option<&'static str>,
    level: Option<u8>,
    runs: Vec<(&'static str, bool)>,
}

fn para(style: Option<&'static str>, text: &'static str) -> WordParagraph {
    WordParagraph {
        style,
        level: None,
        runs: vec![(text, false)],
    }
}

fn item(level: u8, text: &'static str) -> WordParagraph {
    WordParagraph {
        style: Some("Listenabsatz"),
        level: Some(level),
        runs: vec![(text, false)],
    }
}

fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn paragraph_xml(p: &WordParagraph) -> String {
    let mut properties = String::new();
    if let Some(style) = p.style {
        properties.push_str(&format!(r#"<w:pStyle w:val="{style}"/>"#));
    }
    if let Some(level) = p.level {
        properties.push_str(&format!(
            r#"<w:numPr><w:ilvl w:val="{level}"/><w:numId w:val="1"/></w:numPr>"#
        ));
    }
    let runs: String = p
        .runs
        .iter()
        .map(|(text, bold)| {
            let rpr = if *bold {
                "<w:rPr><w:b/><w:bCs/></w:rPr>"
            } else {
                r#"<w:rPr><w:lang w:val="en-GB"/></w:rPr>"#
            };
            format!(
                r#"<w:r>{rpr}<w:t xml:space="preserve">{}</w:t></w:r>"#,
                escape_xml(text)
            )
        })
        .collect();
    format!(r#"<w:p w:rsidR="00A1"><w:pPr>{properties}</w:pPr>{runs}</w:p>"#)
}

/// A .docx as Word writes one: content types, relationships, styles named in English under
/// localised ids, the document with paragraphs, a table and a tracked deletion.
fn word_document(blocks: &[Result<WordParagraph, Vec<Vec<&'static str>>>]) -> Vec<u8> {
    use std::io::Write;
    const W: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships""#;
    let mut body = String::new();
    for block in blocks {
        match block {
            Ok(p) => body.push_str(&paragraph_xml(p)),
            Err(rows) => {
                body.push_str(r#"<w:tbl><w:tblPr><w:tblStyle w:val="Tabellenraster"/></w:tblPr>"#);
                for row in rows {
                    body.push_str("<w:tr>");
                    for cell in row {
                        body.push_str(&format!(
                            r#"<w:tc><w:tcPr><w:tcW w:w="4000" w:type="dxa"/></w:tcPr>{}</w:tc>"#,
                            paragraph_xml(&para(None, cell))
                        ));
                    }
                    body.push_str("</w:tr>");
                }
                body.push_str("</w:tbl>");
            }
        }
    }
    // A tracked deletion is not text of the document.
    body.push_str(r#"<w:p><w:del w:id="1" w:author="x"><w:r><w:delText>Removed draft sentence.</w:delText></w:r></w:del></w:p>"#);
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document {W}><w:body>{body}<w:sectPr><w:pgSz w:w="11906" w:h="16838"/></w:sectPr></w:body></w:document>"#
    );
    let styles = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:styles {W}><w:style w:type="paragraph" w:default="1" w:styleId="Standard"><w:name w:val="Normal"/></w:style><w:style w:type="paragraph" w:styleId="Titel"><w:name w:val="Title"/></w:style><w:style w:type="paragraph" w:styleId="berschrift1"><w:name w:val="heading 1"/><w:pPr><w:outlineLvl w:val="0"/></w:pPr></w:style><w:style w:type="paragraph" w:styleId="berschrift2"><w:name w:val="heading 2"/><w:pPr><w:outlineLvl w:val="1"/></w:pPr></w:style><w:style w:type="paragraph" w:styleId="Listenabsatz"><w:name w:val="List Paragraph"/></w:style></w:styles>"#
    );
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    let parts = [
        ("[Content_Types].xml", r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#.to_owned()),
        ("_rels/.rels", r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#.to_owned()),
        ("word/document.xml", document),
        ("word/styles.xml", styles),
    ];
    for (name, content) in parts {
        zip.start_file(name, options).expect("entry");
        zip.write_all(content.as_bytes()).expect("write");
    }
    zip.finish().expect("zip").into_inner()
}

story!(
    word_documents_import_with_headings_lists_and_tables,
    |app: TestApp| async move {
        let lee = lead(&app).await;
        let blocks = vec![
            Ok(para(Some("Titel"), "Postmortem: Invoice PDFs rendered blank")),
            Ok(WordParagraph {
                style: None,
                level: None,
                runs: vec![("Date:", true), (" 2025-01-20 (all times CET)", false)],
            }),
            Ok(para(Some("berschrift1"), "Summary")),
            Ok(para(
                None,
                "Invoices generated after a font package update came out as blank pages. Customers who downloaded an invoice that morning got an empty document.",
            )),
            Ok(para(Some("berschrift1"), "Timeline")),
            Err(vec![
                vec!["Time", "Event"],
                vec!["08:15", "Base image with the new font package deployed to the renderer."],
                vec!["09:40", "Support forwards three reports of blank invoices."],
                vec!["10:05", "Renderer rolled back to the previous image."],
            ]),
            Ok(para(Some("berschrift1"), "Root cause")),
            Ok(para(
                None,
                "The new font package renamed the font family the invoice template asks for. The renderer fell back to no font at all instead of failing.",
            )),
            Ok(para(Some("berschrift2"), "What went well")),
            Ok(item(0, "Rolling back took five minutes.")),
            Ok(para(Some("berschrift1"), "Action items")),
            Ok(item(0, "Fail rendering when a font is missing (done)")),
            Ok(item(0, "Compare a rendered sample invoice in the image build")),
            Ok(item(1, "Include every template language in the sample")),
        ];
        let bytes = word_document(&blocks);
        let (status, _, report) = lee
            .send_bytes(
                reqwest::Method::POST,
                "/api/v1/teams/ops/import?file_name=invoice-pdfs.docx",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                bytes,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{report}");
        let summary = &report["loops"][0];
        assert_eq!(summary["title"], "Postmortem: Invoice PDFs rendered blank");
        assert_eq!(summary["timeline_events"], 3, "{report}");
        assert_eq!(summary["actions"], 2, "{report}");
        let id = summary["id"].as_str().expect("an id");
        let (status, export) = lee
            .get(&format!("/api/v1/teams/ops/loops/{id}/export?format=json"))
            .await;
        assert_eq!(status, StatusCode::OK, "{export}");
        let item = &export["teams"][0]["loops"][0];
        let at: Vec<&str> = item["timeline"]
            .as_array()
            .map(|e| e.iter().filter_map(|e| e["occurred_at"].as_str()).collect())
            .unwrap_or_default();
        // 08:15 CET is 07:15 UTC.
        assert!(at.contains(&"2025-01-20T07:15:00Z"), "{at:?}");
        assert!(at.contains(&"2025-01-20T09:05:00Z"), "{at:?}");
        let done = item["actions"]
            .as_array()
            .map_or(0, |a| a.iter().filter(|a| a["status"] == "done").count());
        assert_eq!(done, 1, "{item}");
        assert!(
            item["review"]["aar_difference"]
                .as_str()
                .unwrap_or("")
                .contains("renamed the font family"),
            "{item}"
        );
        assert!(
            item["review"]["went_well"]
                .as_str()
                .unwrap_or("")
                .contains("Rolling back took five minutes."),
            "{item}"
        );
        // Nothing lost, and the deleted draft is no text of the document.
        let mut all = String::new();
        strings_of(item, &mut all);
        let loop_words = format!(" {} ", words(&all).join(" "));
        let mut source = String::new();
        for block in &blocks {
            match block {
                Ok(p) => p.runs.iter().for_each(|(t, _)| source.push_str(t)),
                Err(rows) => rows.iter().for_each(|r| source.push_str(&r.join(" | "))),
            }
            source.push('\n');
        }
        for fragment in fragments(&source) {
            assert!(
                loop_words.contains(&format!(" {fragment} ")),
                "lost {fragment:?}"
            );
        }
        assert!(!all.contains("Removed draft sentence"), "{all}");

        // What is no Word document is refused, naming the file; nothing is written.
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend([0u8; 64]);
        let (_, problem) = refused(&app, &lee, "photo.docx", png).await;
        assert!(
            problem["detail"].as_str().unwrap_or("").contains("PNG"),
            "{problem}"
        );
        let mut corrupt = word_document(&blocks);
        corrupt.truncate(corrupt.len() / 2);
        let (status, problem) = refused(&app, &lee, "corrupt.docx", corrupt).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or("")
                .contains("not a readable .docx"),
            "{problem}"
        );
        let not_word = {
            use std::io::Write;
            let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            zip.start_file("notes.txt", zip::write::SimpleFileOptions::default())
                .expect("entry");
            zip.write_all(b"hello").expect("write");
            zip.finish().expect("zip").into_inner()
        };
        refused(&app, &lee, "renamed.docx", not_word).await;
    }
);

fn tools_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tools")
}

story!(
    exports_of_incident_tools_and_retrospectives_import_as_loops,
    |app: TestApp| async move {
        let lee = lead(&app).await;
        let mut names: Vec<String> = std::fs::read_dir(tools_dir())
            .expect("the tools folder")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with(".toml") && n != "README.md")
            .collect();
        names.sort();
        assert_eq!(names.len(), 4, "{names:?}");
        for name in names {
            let bytes = std::fs::read(tools_dir().join(&name)).expect("a sample");
            let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
            let fixture: toml::Value = toml::from_str(
                &std::fs::read_to_string(tools_dir().join(format!("{stem}.expect.toml")))
                    .expect("a fixture"),
            )
            .expect("TOML");
            let expected = fixture["loops"].as_array().cloned().unwrap_or_default();
            let (status, _, report) = lee
                .send_bytes(
                    reqwest::Method::POST,
                    &format!("/api/v1/teams/ops/import?file_name={name}"),
                    "application/octet-stream",
                    bytes,
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{name}: {report}");
            let loops = report["loops"].as_array().cloned().unwrap_or_default();
            assert_eq!(loops.len(), expected.len(), "{name}: {report}");
            for want in expected {
                let title = want["title"].as_str().unwrap_or("");
                let summary = loops
                    .iter()
                    .find(|l| l["title"] == title)
                    .unwrap_or_else(|| panic!("{name}: no loop {title:?} in {report}"));
                for (key, field) in [("timeline", "timeline_events"), ("actions", "actions")] {
                    assert_eq!(
                        summary[field].as_i64(),
                        want.get(key).and_then(toml::Value::as_integer),
                        "{name}: {title}: {field}"
                    );
                }
                let kept: Vec<&str> = want
                    .get("kept")
                    .and_then(toml::Value::as_array)
                    .map(|k| k.iter().filter_map(toml::Value::as_str).collect())
                    .unwrap_or_default();
                assert_eq!(summary["kept_sections"], json!(kept), "{name}: {title}");
                let id = summary["id"].as_str().expect("an id");
                let (status, export) = lee
                    .get(&format!("/api/v1/teams/ops/loops/{id}/export?format=json"))
                    .await;
                assert_eq!(status, StatusCode::OK, "{export}");
                let item = &export["teams"][0]["loops"][0];
                let date = want["date"].as_str().unwrap_or("");
                assert!(
                    item["noticed_at"].as_str().unwrap_or("").starts_with(date),
                    "{name}: {title}: noticed {}",
                    item["noticed_at"]
                );
                let at: Vec<&str> = item["timeline"]
                    .as_array()
                    .map(|e| e.iter().filter_map(|e| e["occurred_at"].as_str()).collect())
                    .unwrap_or_default();
                for time in want
                    .get("times")
                    .and_then(toml::Value::as_array)
                    .cloned()
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
                    want.get("done").and_then(toml::Value::as_integer),
                    "{name}: {title}"
                );
                if let Some(tags) = want.get("tags").and_then(toml::Value::as_array) {
                    let tags: Vec<&str> = tags.iter().filter_map(toml::Value::as_str).collect();
                    assert_eq!(item["tags"], json!(tags), "{name}: {title}");
                }
                for (field, phrase) in want
                    .get("fields")
                    .and_then(toml::Value::as_table)
                    .cloned()
                    .unwrap_or_default()
                {
                    let pointer = format!("/{}", field.replace('.', "/"));
                    let value = item.pointer(&pointer).and_then(Value::as_str).unwrap_or("");
                    let phrase = phrase.as_str().unwrap_or("");
                    assert!(
                        value.contains(phrase),
                        "{name}: {title}: {field} lacks {phrase:?}: {value:?}"
                    );
                }
                // Imports carry no attribution: no assignee, author or reporter is kept.
                let mut all = String::new();
                strings_of(item, &mut all);
                for absent in fixture["absent"].as_array().cloned().unwrap_or_default() {
                    let absent = absent.as_str().unwrap_or("");
                    assert!(!all.contains(absent), "{name}: {absent:?} kept in {all}");
                }
            }
        }

        // A CSV of no known export, and a Jira export without a postmortem, are refused.
        let (_, problem) = refused(
            &app,
            &lee,
            "budget.csv",
            b"month,amount\nJanuary,12\n".to_vec(),
        )
        .await;
        assert!(
            problem["detail"].as_str().unwrap_or("").contains("Parabol"),
            "{problem}"
        );
        let (_, problem) = refused(
            &app,
            &lee,
            "stories.csv",
            b"Summary,Issue key,Issue Type,Labels\nA story,ST-1,Story,ux\n".to_vec(),
        )
        .await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or("")
                .contains("postmortem"),
            "{problem}"
        );
    }
);

/// Uploads files on the "Your data" page with the page's own token; returns status and page.
async fn upload(
    browser: &crate::helpers::Browser,
    files: &[(&str, Vec<u8>)],
    options: &[&str],
) -> (StatusCode, String) {
    let token = browser.csrf("/teams/ops/data").await;
    let mut form = reqwest::multipart::Form::new().text("csrf_token", token);
    for option in options {
        form = form.text(option.to_string(), "on");
    }
    for (name, bytes) in files {
        form = form.part(
            "files",
            reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.to_string()),
        );
    }
    let response = browser
        .client
        .post(format!("{}/teams/ops/import-files", browser.base))
        .multipart(form)
        .send()
        .await
        .expect("upload");
    let status = response.status();
    (status, response.text().await.unwrap_or_default())
}

story!(
    the_data_page_imports_several_files_and_archives_with_a_report_per_file,
    |app: TestApp| async move {
        lead(&app).await;
        let browser = app.sign_in("lee@example.org").await;
        let corpus_file = |name: &str| std::fs::read(corpus_dir().join(name)).expect("a document");
        let zip = {
            use std::io::Write;
            let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            let options = zip::write::SimpleFileOptions::default();
            for name in ["03-h2-start.md", "46-github-rendered.html"] {
                zip.start_file(format!("old/{name}"), options)
                    .expect("entry");
                zip.write_all(&corpus_file(name)).expect("write");
            }
            zip.start_file("old/diagram.png", options).expect("entry");
            zip.write_all(b"\x89PNG\r\n\x1a\n").expect("write");
            zip.finish().expect("zip").into_inner()
        };
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend([0u8; 32]);
        let files = [
            ("01-sre-template.md", corpus_file("01-sre-template.md")),
            ("history.zip", zip),
            ("photo.md", png),
        ];
        let before = app.db.count("SELECT COUNT(*) FROM loops").await;

        // A dry run reports every file and writes nothing.
        let (status, page) = upload(&browser, &files, &["dry_run"]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
        assert_eq!(page.matches("<td>would import</td>").count(), 3, "{page}");
        assert!(
            page.contains("<td>history.zip:old/46-github-rendered.html</td>"),
            "{page}"
        );
        assert!(page.contains("<td>skipped</td>"), "{page}");
        assert!(
            page.contains("<td>refused</td>") && page.contains("PNG"),
            "{page}"
        );
        assert_eq!(app.db.count("SELECT COUNT(*) FROM loops").await, before);

        // All or nothing: one refusal, nothing written.
        let (status, page) = upload(&browser, &files, &["all_or_nothing"]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
        assert_eq!(page.matches("<td>not imported</td>").count(), 3, "{page}");
        assert_eq!(app.db.count("SELECT COUNT(*) FROM loops").await, before);

        // Otherwise the readable files are imported, each with its line.
        let (status, page) = upload(&browser, &files, &[]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
        assert_eq!(page.matches("<td>imported</td>").count(), 3, "{page}");
        assert!(
            page.contains("Artifact cache eviction slowed every build"),
            "{page}"
        );
        assert_eq!(app.db.count("SELECT COUNT(*) FROM loops").await, before + 3);

        // Without the page's token nothing is read.
        let form = reqwest::multipart::Form::new().part(
            "files",
            reqwest::multipart::Part::bytes(corpus_file("02-plain-first-line.txt"))
                .file_name("02-plain-first-line.txt"),
        );
        let response = browser
            .client
            .post(format!("{}/teams/ops/import-files", browser.base))
            .multipart(form)
            .send()
            .await
            .expect("upload");
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.db.count("SELECT COUNT(*) FROM loops").await, before + 3);
    }
);
