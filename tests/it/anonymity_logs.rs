//! The server's log lines cannot tell an anonymous capture from a named one, nor an unnamed
//! review card from a named one: the real binary at debug level, JSON lines, each request's
//! lines found by its request id and compared with the timestamp, request id and latency set
//! aside — captures through the web form and the API, cards through the API.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{fresh_postgres_url, Backend, Browser, PASSWORD};

/// A `failforward serve` process whose standard error is collected until it stops (also used by
/// `anonymity.rs`'s log test).
pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
    logs: std::thread::JoinHandle<String>,
}

impl Server {
    fn command() -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_failforward"));
        command
            .env_remove("RUST_LOG")
            .env_remove("FAILFORWARD_DATABASE_URL")
            .env_remove("FAILFORWARD_DATA_DIR");
        command
    }

    pub(crate) fn admin(storage: &[String], args: &[&str], stdin: &str) -> String {
        let mut child = Self::command()
            .arg("admin")
            .args(args)
            .args(storage)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("admin command");
        if let Some(mut input) = child.stdin.take() {
            input.write_all(stdin.as_bytes()).expect("stdin");
        }
        let output = child.wait_with_output().expect("admin finishes");
        assert!(output.status.success(), "admin {args:?}");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    pub(crate) fn start(storage: &[String]) -> Server {
        let mut child = Self::command()
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(["--log-format", "json", "--log-level", "debug"])
            .args(storage)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut banner = String::new();
        stdout.read_line(&mut banner).expect("banner");
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let mut stderr = child.stderr.take().expect("stderr");
        let logs = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let base = banner
            .trim()
            .trim_start_matches("failforward is running at ")
            .to_owned();
        Server { child, base, logs }
    }

    pub(crate) fn stop(mut self) -> String {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        self.child.wait().expect("exit");
        self.logs.join().expect("logs")
    }
}

/// The request id a response was logged under.
fn request_id(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id")
        .to_owned()
}

/// A request's log lines, each without what differs between any two requests (time, request
/// id, latency), sorted.
fn lines_of(logs: &str, request: &str) -> Vec<String> {
    let mut lines: Vec<String> = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["span"]["request_id"] == request)
        .map(|mut line| {
            let fields = line.as_object_mut().expect("object");
            for varying in ["timestamp", "latency_ms", "elapsed", "elapsed_secs"] {
                fields.remove(varying);
            }
            if let Some(span) = fields.get_mut("span").and_then(Value::as_object_mut) {
                span.remove("request_id");
            }
            line.to_string()
        })
        .collect();
    lines.sort();
    lines
}

async fn captures_log_alike(backend: Backend) {
    let dir = tempfile::tempdir().expect("dir");
    let mut storage = vec!["--data-dir".to_owned(), dir.path().display().to_string()];
    if backend == Backend::Postgres {
        match fresh_postgres_url().await {
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
            "Ann Anon",
            "--admin",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    let token = Server::admin(
        &storage,
        &["create-token", "--email", "ann@example.org"],
        "",
    );
    let server = Server::start(&storage);
    let api = reqwest::Client::new();
    let team = api
        .post(format!("{}/api/v1/teams", server.base))
        .bearer_auth(&token)
        .json(&json!({"name": "Ops"}))
        .send()
        .await
        .expect("team");
    assert_eq!(team.status(), StatusCode::CREATED);
    let browser = Browser {
        client: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        base: server.base.clone(),
    };
    let signed_in = browser
        .submit(
            "/login",
            "/login",
            &[
                ("email", "ann@example.org"),
                ("password", PASSWORD),
                ("next", "/"),
            ],
        )
        .await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);

    // Two captures of each kind through each door, alternating.
    let mut requests: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for n in 0..2 {
        for (kind, anonymous) in [("named", false), ("anonymous", true)] {
            let title = format!("Night shift mistake {n}");
            let mut fields = vec![
                ("title", title.as_str()),
                ("what_happened", "The batch ran twice."),
                ("noticed_at", ""),
                ("impact_scale", "minor"),
            ];
            if anonymous {
                fields.push(("anonymous", "on"));
            }
            let response = browser
                .submit("/teams/ops/loops/new", "/teams/ops/loops", &fields)
                .await;
            assert_eq!(response.status(), StatusCode::CREATED, "web, {kind}");
            requests
                .entry(if anonymous {
                    "web anonymous"
                } else {
                    "web named"
                })
                .or_default()
                .push(request_id(&response));
            let response = api
                .post(format!("{}/api/v1/teams/ops/loops", server.base))
                .bearer_auth(&token)
                .json(&json!({"title": title, "what_happened": "x", "anonymous": anonymous}))
                .send()
                .await
                .expect("capture");
            assert_eq!(response.status(), StatusCode::CREATED, "API, {kind}");
            requests
                .entry(if anonymous {
                    "api anonymous"
                } else {
                    "api named"
                })
                .or_default()
                .push(request_id(&response));
        }
    }
    // Review cards: named and unnamed, through the API.
    let started: Value = api
        .post(format!("{}/api/v1/teams/ops/reviews", server.base))
        .bearer_auth(&token)
        .json(&json!({"prompt": "Last sprint", "dots": 3}))
        .send()
        .await
        .expect("review")
        .json()
        .await
        .expect("json");
    let review = format!(
        "{}/api/v1/teams/ops/reviews/{}",
        server.base,
        started["id"].as_str().expect("id")
    );
    let moved = api
        .post(format!("{review}/advance"))
        .bearer_auth(&token)
        .json(&json!({"from": "open_actions"}))
        .send()
        .await
        .expect("advance");
    assert!(moved.status().is_success());
    for n in 0..2 {
        for (kind, named) in [("named", true), ("anonymous", false)] {
            let response = api
                .post(format!("{review}/cards"))
                .bearer_auth(&token)
                .json(&json!({"kind": "idea", "text": format!("card {n}"), "show_name": named}))
                .send()
                .await
                .expect("card");
            assert_eq!(response.status(), StatusCode::CREATED, "card, {kind}");
            requests
                .entry(if named {
                    "card named"
                } else {
                    "card anonymous"
                })
                .or_default()
                .push(request_id(&response));
        }
    }
    let logs = server.stop();

    for door in ["web", "api", "card"] {
        let named: Vec<Vec<String>> = requests[format!("{door} named").as_str()]
            .iter()
            .map(|id| lines_of(&logs, id))
            .collect();
        let anonymous: Vec<Vec<String>> = requests[format!("{door} anonymous").as_str()]
            .iter()
            .map(|id| lines_of(&logs, id))
            .collect();
        assert!(
            named.iter().all(|lines| !lines.is_empty()),
            "{door}: a capture leaves log lines:\n{logs}"
        );
        for lines in &anonymous {
            assert_eq!(
                lines, &named[0],
                "{door}: an anonymous capture logs differently from a named one"
            );
        }
        assert_eq!(named[0], named[1]);
    }
    for line in logs.lines() {
        for needle in ["Ann Anon", "ann@example.org", token.as_str()] {
            assert!(
                !line.contains(needle),
                "a log line names {needle:?}: {line}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_and_named_captures_log_alike_on_sqlite() {
    captures_log_alike(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_and_named_captures_log_alike_on_postgres() {
    captures_log_alike(Backend::Postgres).await;
}
