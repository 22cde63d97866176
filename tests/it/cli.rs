//! The `failforward` binary: headless set-up, tokens, backups, migrations, settings precedence
//! and graceful shutdown.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use reqwest::StatusCode;

use crate::helpers::{fresh_database_url, Backend, PASSWORD};

fn failforward() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_failforward"));
    for (key, _) in std::env::vars() {
        if key.starts_with("FAILFORWARD_") {
            command.env_remove(key);
        }
    }
    command
}

/// Runs the binary with `args` (and `stdin`), returning (exit code, stdout, stderr).
fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = failforward()
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
        .expect("write stdin");
    let output = child.wait_with_output().expect("finishes");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn storage_args(dir: &Path, url: &Option<String>) -> Vec<String> {
    let mut args = vec!["--data-dir".to_owned(), dir.display().to_string()];
    if let Some(url) = url {
        args.push("--database-url".to_owned());
        args.push(url.clone());
    }
    args
}

async fn headless_setup_then_serve(backend: Backend) {
    let dir = tempfile::tempdir().expect("dir");
    let Some(url) = fresh_database_url(backend).await else {
        return;
    };
    let storage = storage_args(dir.path(), &url);
    let storage: Vec<&str> = storage.iter().map(String::as_str).collect();

    let mut args = vec!["admin", "create-user"];
    args.extend(&storage);
    args.extend([
        "--email",
        "ops@example.org",
        "--name",
        "Ops Admin",
        "--admin",
        "--password-stdin",
        "--organisation",
        "Acme",
    ]);
    let (code, out, err) = run(&args, &format!("{PASSWORD}\n"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("created ops@example.org, admin"));

    // Bad input: one line on stderr, non-zero exit, nothing written.
    let mut bad = vec!["admin", "create-user"];
    bad.extend(&storage);
    bad.extend(["--email", "not-an-email", "--name", "X", "--password-stdin"]);
    let (code, _, err) = run(&bad, &format!("{PASSWORD}\n"));
    assert_ne!(code, 0);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("error: email"), "{err}");
    let mut duplicate = vec!["admin", "create-user"];
    duplicate.extend(&storage);
    duplicate.extend([
        "--email",
        "OPS@example.org",
        "--name",
        "Again",
        "--password-stdin",
    ]);
    let (code, _, err) = run(&duplicate, &format!("{PASSWORD}\n"));
    assert_ne!(code, 0);
    assert!(err.contains("already exists"), "{err}");

    let mut token_args = vec!["admin", "create-token"];
    token_args.extend(&storage);
    token_args.extend(["--email", "ops@example.org"]);
    let (code, out, err) = run(&token_args, "");
    assert_eq!(code, 0, "{err}");
    let token = out.trim().to_owned();
    assert_eq!(out.lines().count(), 1, "prints only the token");
    assert!(token.starts_with("ffp_"));

    // Serve on a free port, use the token, then stop with SIGTERM.
    let mut serve_args = vec!["serve", "--bind", "127.0.0.1:0", "--log-format", "json"];
    serve_args.extend(&storage);
    let mut server = failforward()
        .args(&serve_args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let stdout = server.stdout.take().expect("stdout");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("banner");
    let base = first
        .trim()
        .strip_prefix("failforward is running at ")
        .expect("banner names the URL")
        .to_owned();
    let response = reqwest::Client::new()
        .get(format!("{base}/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let me: serde_json::Value = response.json().await.expect("json");
    assert_eq!(me["email"], "ops@example.org");
    assert_eq!(me["is_admin"], true);
    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = server.wait().expect("server exits");
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_setup_then_serve_on_sqlite() {
    headless_setup_then_serve(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_setup_then_serve_on_postgres() {
    headless_setup_then_serve(Backend::Postgres).await;
}

#[test]
fn every_command_has_help_and_version() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["admin", "--help"],
        vec!["admin", "create-user", "--help"],
        vec!["admin", "create-token", "--help"],
        vec!["backup", "--help"],
        vec!["version", "--help"],
        vec!["loop", "--help"],
        vec!["loop", "log", "--help"],
        vec!["loop", "list", "--help"],
        vec!["loop", "show", "--help"],
        vec!["loop", "advance", "--help"],
        vec!["experiment", "new", "--help"],
        vec!["experiment", "list", "--help"],
        vec!["experiment", "conclude", "--help"],
    ] {
        let (code, out, _) = run(&args, "");
        assert_eq!(code, 0, "{args:?}");
        assert!(out.contains("Usage"), "{args:?}");
    }
    let (code, out, _) = run(&["version"], "");
    assert_eq!(code, 0);
    assert_eq!(
        out.trim(),
        format!("failforward {}", env!("CARGO_PKG_VERSION"))
    );
    let (code, _, err) = run(&["no-such-command"], "");
    assert_eq!(code, 2);
    assert!(err.contains("unrecognized subcommand"));
}

#[tokio::test]
async fn backup_copies_the_database_while_it_is_open() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().display().to_string();
    let (code, _, err) = run(
        &[
            "admin",
            "create-user",
            "--data-dir",
            &data,
            "--email",
            "a@example.org",
            "--name",
            "A",
            "--admin",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(code, 0, "{err}");
    let target = dir.path().join("copy.db");
    let (code, out, err) = run(
        &[
            "backup",
            "--data-dir",
            &data,
            "--output",
            &target.display().to_string(),
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), target.display().to_string());
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", target.display()))
        .await
        .expect("open copy");
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(users, 1);
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .expect("check");
    assert_eq!(integrity, "ok");
    // An existing file is never overwritten.
    let (code, _, err) = run(
        &[
            "backup",
            "--data-dir",
            &data,
            "--output",
            &target.display().to_string(),
        ],
        "",
    );
    assert_ne!(code, 0);
    assert!(err.contains("already exists"), "{err}");
    // Without --output, the copy goes to DATA_DIR/backups/.
    let (code, out, _) = run(&["backup", "--data-dir", &data], "");
    assert_eq!(code, 0);
    assert!(out
        .trim()
        .starts_with(&format!("{data}/backups/failforward-")));
}

#[test]
fn settings_come_from_flags_then_environment_then_file() {
    let dir = tempfile::tempdir().expect("dir");
    let from_file = dir.path().join("from-file");
    let from_env = dir.path().join("from-env");
    let from_flag = dir.path().join("from-flag");
    let config = dir.path().join("failforward.toml");
    std::fs::write(&config, format!("data_dir = \"{}\"\n", from_file.display())).expect("write");
    let config = config.display().to_string();

    let (code, out, err) = run(&["migrate", "--config", &config], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("up to date"));
    assert!(from_file.join("failforward.db").exists());

    let status = failforward()
        .args(["migrate", "--config", &config])
        .env("FAILFORWARD_DATA_DIR", &from_env)
        .output()
        .expect("runs");
    assert!(status.status.success());
    assert!(from_env.join("failforward.db").exists());

    let status = failforward()
        .args([
            "migrate",
            "--config",
            &config,
            "--data-dir",
            &from_flag.display().to_string(),
        ])
        .env("FAILFORWARD_DATA_DIR", &from_env)
        .output()
        .expect("runs");
    assert!(status.status.success());
    assert!(from_flag.join("failforward.db").exists());

    std::fs::write(dir.path().join("bad.toml"), "bind_adress = \"x\"\n").expect("write");
    let (code, _, err) = run(
        &[
            "migrate",
            "--config",
            &dir.path().join("bad.toml").display().to_string(),
        ],
        "",
    );
    assert_eq!(code, 1);
    assert!(err.contains("unknown field"), "{err}");
}

mod loop_commands {
    use serde_json::json;

    use super::run;
    use crate::helpers::TestApp;
    use crate::story;

    story!(
        log_list_show_and_advance_through_the_api,
        |app: TestApp| async move {
            app.create_user("lee@example.org", "Lee", true).await;
            let api = app.token_for("lee@example.org").await;
            api.post("/api/v1/teams", json!({"name": "Ops"})).await;
            let server = app.address.clone();
            let token = api.token.clone();
            let cli = |args: &[&str], stdin: &str| {
                let mut all = vec!["--server", server.as_str(), "--token", token.as_str()];
                all.extend_from_slice(args);
                run(&all, stdin)
            };

            let (code, out, err) = cli(
                &[
                    "loop",
                    "log",
                    "--team",
                    "ops",
                    "--title",
                    "Cache stampede",
                    "--what-happened-file",
                    "-",
                    "--tag",
                    "cache",
                    "--impact",
                    "moderate",
                ],
                "All replicas refilled the cache at once.\n",
            );
            assert_eq!(code, 0, "{err}");
            assert!(out.starts_with("logged "), "{out}");
            let id = out.split_whitespace().nth(1).expect("id").to_owned();

            let (code, out, _) = cli(&["loop", "list", "--team", "ops"], "");
            assert_eq!(code, 0);
            assert!(out.contains("Cache stampede") && out.contains(&id) && out.contains("detect"));
            let (code, out, _) = cli(&["loop", "list", "--team", "ops", "--json"], "");
            assert_eq!(code, 0);
            let parsed: serde_json::Value = serde_json::from_str(&out).expect("json");
            assert_eq!(parsed["total"], 1);

            let (code, out, _) = cli(&["loop", "show", "--team", "ops", &id], "");
            assert_eq!(code, 0);
            assert!(out.contains("All replicas refilled"));
            assert!(out.contains("next:"), "the next step is shown: {out}");

            // Blocked: no expectation written yet. One line, non-zero exit.
            let (code, _, err) = cli(&["loop", "advance", "--team", "ops", &id], "");
            assert_eq!(code, 1);
            assert_eq!(err.trim().lines().count(), 1, "{err}");
            assert!(err.contains("what was expected"), "{err}");

            let (code, out, err) = cli(
                &[
                    "loop",
                    "log",
                    "--team",
                    "ops",
                    "--title",
                    "Quiet",
                    "--what-happened",
                    "x",
                    "--expected",
                    "y",
                    "--anonymous",
                    "--json",
                ],
                "",
            );
            assert_eq!(code, 0, "{err}");
            let created: serde_json::Value = serde_json::from_str(&out).expect("json");
            assert!(created["reporter_link"].as_str().is_some());
            let quiet = created["id"].as_str().expect("id").to_owned();
            // Written at the end of the day, with the day's other anonymous loops.
            app.release_anonymous_loops().await;
            let (code, out, _) = cli(
                &[
                    "loop", "advance", "--team", "ops", &quiet, "--note", "starting",
                ],
                "",
            );
            assert_eq!(code, 0);
            assert!(out.contains("is now at analyse"));

            let (code, _, err) = cli(&["loop", "show", "--team", "nope", &quiet], "");
            assert_eq!(code, 1);
            assert!(err.starts_with("error: not found"), "{err}");
            let (code, _, err) = run(
                &[
                    "--server",
                    &server,
                    "--token",
                    "ffp_wrong",
                    "loop",
                    "list",
                    "--team",
                    "ops",
                ],
                "",
            );
            assert_eq!(code, 1);
            assert!(err.contains("token was refused"), "{err}");
            let (code, _, err) = run(
                &[
                    "--server",
                    "http://127.0.0.1:9",
                    "--token",
                    "x",
                    "loop",
                    "list",
                    "--team",
                    "ops",
                ],
                "",
            );
            assert_eq!(code, 1);
            assert!(err.contains("cannot reach"), "{err}");
            let (code, _, err) = run(&["loop", "list", "--team", "ops"], "");
            assert_eq!(code, 1);
            assert!(err.contains("no server given"), "{err}");
            let (code, _, _) = cli(&["loop", "log", "--team", "ops", "--title", "x"], "");
            assert_eq!(code, 2, "a missing required flag is a usage error");
        }
    );
}

mod experiment_commands {
    use serde_json::json;

    use super::run;
    use crate::helpers::TestApp;
    use crate::story;

    story!(
        new_list_and_conclude_through_the_api,
        |app: TestApp| async move {
            app.create_user("lee@example.org", "Lee", true).await;
            let api = app.token_for("lee@example.org").await;
            api.post("/api/v1/teams", json!({"name": "Ops"})).await;
            let server = app.address.clone();
            let token = api.token.clone();
            let cli = |args: &[&str]| {
                let mut all = vec![
                    "--server",
                    server.as_str(),
                    "--token",
                    token.as_str(),
                    "experiment",
                ];
                all.extend_from_slice(args);
                run(&all, "")
            };
            let today = time::OffsetDateTime::now_utc().date().to_string();
            let (code, out, err) = cli(&[
                "new",
                "--team",
                "ops",
                "--title",
                "Night deploys",
                "--believe",
                "night deploys cut incidents",
                "--verify-by",
                "deploying at 22:00 for two weeks",
                "--measure",
                "incidents per deploy",
                "--right-if",
                "incidents halve",
                "--kill-criteria",
                "any customer-facing outage",
                "--money",
                "0",
                "--days",
                "1.5",
                "--starts",
                &today,
                "--decide-by",
                &today,
            ]);
            assert_eq!(code, 0, "{err}");
            assert!(out.starts_with("designed "), "{out}");
            assert!(
                out.contains("before it starts: answer the pilot checklist"),
                "{out}"
            );
            let id = out.split_whitespace().nth(1).expect("id").to_owned();
            let (code, out, _) = cli(&["list", "--team", "ops"]);
            assert_eq!(code, 0);
            assert!(out.contains(&id) && out.contains("draft"));
            let (code, _, err) = cli(&[
                "new",
                "--team",
                "ops",
                "--title",
                "x",
                "--believe",
                "b",
                "--verify-by",
                "v",
                "--measure",
                "m",
                "--right-if",
                "r",
                "--kill-criteria",
                "k",
                "--money",
                "12.345",
                "--starts",
                &today,
                "--decide-by",
                &today,
            ]);
            assert_eq!(code, 1);
            assert!(err.starts_with("error: --money"), "{err}");
            let (code, _, err) = cli(&[
                "conclude",
                "--team",
                "ops",
                &id,
                "--outcome",
                "refuted",
                "--believed",
                "a",
                "--observed",
                "b",
                "--learned",
                "c",
                "--therefore",
                "d",
                "--decision",
                "pivot",
            ]);
            assert_eq!(code, 1, "a draft cannot be concluded");
            assert!(err.contains("only a running experiment"), "{err}");
        }
    );
}

/// The umask the tests run under, from the kernel's view of this process.
#[cfg(target_os = "linux")]
fn umask() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Umask:"))?;
    u32::from_str_radix(line.trim_start_matches("Umask:").trim(), 8).ok()
}

/// Issue 16: the database, its WAL and shared memory, every backup and the secret key are
/// created readable by their owner only, and their directories 0700, whatever the umask.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_files_are_private_after_serve_backup_and_restore() {
    use std::os::unix::fs::PermissionsExt;

    use failforward::app::Application;
    use failforward::config::{Settings, StorageSettings};

    let mode = |path: &Path| {
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(
        umask().map(|m| m & 0o044),
        Some(0),
        "the test needs a umask that lets others read new files, to prove anything"
    );
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");

    let app = Application::build(Settings::for_tests(StorageSettings::in_dir(&data)))
        .await
        .expect("app builds");
    let port = app.port();
    let server = tokio::spawn(app.run_until(std::future::pending()));
    let page = reqwest::get(format!("http://127.0.0.1:{port}/login"))
        .await
        .expect("GET");
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(mode(&data), 0o700, "data directory");
    for file in [
        "failforward.db",
        "failforward.db-wal",
        "failforward.db-shm",
        "secret.key",
    ] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file} after serve");
    }
    server.abort();

    let data_arg = data.display().to_string();
    let (code, out, err) = run(&["backup", "--data-dir", &data_arg], "");
    assert_eq!(code, 0, "{err}");
    let backup = std::path::PathBuf::from(out.trim());
    assert_eq!(mode(&data.join("backups")), 0o700, "backups directory");
    assert_eq!(mode(&backup), 0o600, "backup");
    let explicit = dir.path().join("copy.db");
    let (code, _, err) = run(
        &[
            "backup",
            "--data-dir",
            &data_arg,
            "--output",
            &explicit.display().to_string(),
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(mode(&explicit), 0o600, "backup with --output");

    // A backup someone loosened is restored private all the same.
    std::fs::set_permissions(&explicit, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let restored = dir.path().join("restored");
    let (code, _, err) = run(
        &[
            "restore",
            &explicit.display().to_string(),
            "--data-dir",
            &restored.display().to_string(),
            "--secret-key-file",
            &data.join("secret.key").display().to_string(),
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(mode(&restored), 0o700, "restored data directory");
    for file in ["failforward.db", "secret.key"] {
        assert_eq!(mode(&restored.join(file)), 0o600, "{file} after restore");
    }
}

/// Issue 16: an easily guessed password is refused on the command line with one line naming it.
#[test]
fn create_user_refuses_an_easily_guessed_password() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().display().to_string();
    let (code, _, err) = run(
        &[
            "admin",
            "create-user",
            "--data-dir",
            &data,
            "--email",
            "ops@example.org",
            "--name",
            "Ops",
            "--admin",
            "--password-stdin",
        ],
        "password123456\n",
    );
    assert_ne!(code, 0);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: password") && err.contains("too easy to guess"),
        "{err}"
    );
}

/// Issue 16: on the command line too, a password made of the person's name, their email's
/// domain or the organisation's name is refused, for the first admin and for later accounts.
async fn create_user_refuses_a_password_made_of_own_names(backend: Backend) {
    let dir = tempfile::tempdir().expect("dir");
    let Some(url) = fresh_database_url(backend).await else {
        return;
    };
    let storage = storage_args(dir.path(), &url);
    let storage: Vec<&str> = storage.iter().map(String::as_str).collect();
    let create = |email: &'static str, name: &'static str, password: &str| {
        let mut args = vec!["admin", "create-user"];
        args.extend(&storage);
        args.extend(["--email", email, "--name", name, "--password-stdin"]);
        if email.starts_with("ada") {
            args.extend(["--admin", "--organisation", "Analytical Engines"]);
        }
        run(&args, &format!("{password}\n"))
    };
    for weak in [
        "adalovelace1815",
        "lovelaceada1815",
        "analyticalengines1843",
    ] {
        let (code, _, err) = create("ada.lovelace@example.org", "Ada Lovelace", weak);
        assert_ne!(code, 0, "{weak} is refused");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.starts_with("error: password") && err.contains("too easy to guess"),
            "{weak}: {err}"
        );
    }
    let (code, _, err) = create("ada.lovelace@example.org", "Ada Lovelace", PASSWORD);
    assert_eq!(code, 0, "{err}");
    // The organisation now exists: its stored name counts for the next account.
    let (code, _, err) = create("bob@example.net", "Bob Stone", "analyticalengines1843");
    assert_ne!(code, 0, "the organisation's name is refused for Bob");
    assert!(err.contains("too easy to guess"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_user_refuses_own_names_on_sqlite() {
    create_user_refuses_a_password_made_of_own_names(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_user_refuses_own_names_on_postgres() {
    create_user_refuses_a_password_made_of_own_names(Backend::Postgres).await;
}

mod webhook_commands {
    use serde_json::json;

    use super::run;
    use crate::helpers::TestApp;
    use crate::story;

    story!(
        add_disable_enable_and_remove_through_the_api,
        |app: TestApp| async move {
            app.create_user("lee@example.org", "Lee", true).await;
            let api = app.token_for("lee@example.org").await;
            api.post("/api/v1/teams", json!({"name": "Ops"})).await;
            let server = app.address.clone();
            let token = api.token.clone();
            let cli = |args: &[&str]| {
                let mut all = vec![
                    "--server",
                    server.as_str(),
                    "--token",
                    token.as_str(),
                    "webhook",
                    "--team",
                    "ops",
                ];
                all.extend_from_slice(args);
                run(&all, "")
            };
            let (code, out, err) = cli(&["add", "https://hooks.example.com/ff", "loop.logged"]);
            assert_eq!(code, 0, "{err}");
            let id = out
                .lines()
                .find_map(|line| line.strip_prefix("subscribed "))
                .expect("id printed")
                .trim()
                .to_owned();
            let enabled = || async {
                let (_, listed) = api.get("/api/v1/teams/ops/webhooks").await;
                let hook = listed
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|w| w["id"] == id.as_str())
                    .cloned()
                    .expect("listed");
                (
                    hook["enabled"].as_bool().expect("enabled"),
                    hook["disabled_reason"].as_str().unwrap_or("").to_owned(),
                )
            };
            assert_eq!(enabled().await, (true, String::new()));

            let (code, out, err) = cli(&["disable", &id]);
            assert_eq!(code, 0, "{err}");
            assert_eq!(out.trim(), format!("disabled {id}"));
            let (on, reason) = enabled().await;
            assert!(!on, "switched off");
            assert!(reason.contains("by hand"), "{reason}");
            let (code, out, _) = cli(&["list"]);
            assert_eq!(code, 0);
            assert!(out.contains(&id) && out.contains("false"), "{out}");

            let (code, _, err) = cli(&["enable", &id]);
            assert_eq!(code, 0, "{err}");
            assert_eq!(enabled().await, (true, String::new()));

            let (code, _, err) = cli(&["disable", "whk_unknown"]);
            assert_eq!(code, 1);
            assert_eq!(err.trim().lines().count(), 1, "{err}");
            assert!(err.starts_with("error: not found"), "{err}");

            let (code, _, err) = cli(&["remove", &id]);
            assert_eq!(code, 0, "{err}");
            let (_, listed) = api.get("/api/v1/teams/ops/webhooks").await;
            assert_eq!(listed, json!([]));
        }
    );
}
