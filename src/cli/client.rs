//! A small client for failforward's own JSON API, used by the command line's `loop` commands.
//! Errors become one line: the server's problem detail, or why the server could not be reached.

use std::time::Duration;

use anyhow::{anyhow, Context};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Where the server is and who is asking.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClientArgs {
    /// The server's address, e.g. https://learn.example.org [env: FAILFORWARD_SERVER; file key: server]
    #[arg(long, global = true, env = "FAILFORWARD_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// A personal API token (ffp_…) [env: FAILFORWARD_TOKEN; file key: token]
    #[arg(
        long,
        global = true,
        env = "FAILFORWARD_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

/// An authenticated API client.
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// Settings file keys the client reads (the file may hold server settings too).
fn file_settings(
    config: Option<&std::path::Path>,
) -> anyhow::Result<(Option<String>, Option<String>)> {
    let default = std::path::Path::new("failforward.toml");
    let Some(path) = config.or(default.exists().then_some(default)) else {
        return Ok((None, None));
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading settings file {}", path.display()))?;
    let value: toml::Value =
        toml::from_str(&text).with_context(|| format!("settings file {}", path.display()))?;
    let key = |k: &str| value.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    Ok((key("server"), key("token")))
}

impl Client {
    /// The client named by the flags (or environment), else by the settings file.
    pub fn resolve(config: Option<&std::path::Path>, flags: &ClientArgs) -> anyhow::Result<Self> {
        let (file_server, file_token) = file_settings(config)?;
        let server = flags
            .server
            .clone()
            .or(file_server)
            .context("no server given: use --server URL or FAILFORWARD_SERVER")?;
        let token = flags.token.clone().or(file_token).context(
            "no token given: use --token or FAILFORWARD_TOKEN (create one on your account page)",
        )?;
        Self::new(&server, &token)
    }

    pub fn new(server: &str, token: &str) -> anyhow::Result<Self> {
        if !(server.starts_with("http://") || server.starts_with("https://")) {
            anyhow::bail!("--server must start with http:// or https://, got {server:?}");
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("failforward-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            http,
            base: server.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request and decodes the JSON answer, or turns a problem+json into an error.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> anyhow::Result<T> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .query(query);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| anyhow!("cannot reach {}: {}", self.base, root_cause(&e)))?;
        let status = response.status();
        let text = response.text().await.context("reading the answer")?;
        if status.is_success() {
            let text = if text.is_empty() { "null" } else { &text };
            return serde_json::from_str(text)
                .context("the server's answer is not the expected JSON");
        }
        Err(problem_message(status, &text))
    }
}

impl Client {
    /// Sends a GET and returns the answer's body as text (a download), or the problem as an
    /// error.
    pub async fn get_text(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<String> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .query(query)
            .send()
            .await
            .map_err(|e| anyhow!("cannot reach {}: {}", self.base, root_cause(&e)))?;
        let status = response.status();
        let text = response.text().await.context("reading the answer")?;
        if status.is_success() {
            return Ok(text);
        }
        Err(problem_message(status, &text))
    }
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn problem_message(status: StatusCode, text: &str) -> anyhow::Error {
    let Ok(problem) = serde_json::from_str::<Value>(text) else {
        return anyhow!("the server answered {status}");
    };
    let detail = problem["detail"].as_str().unwrap_or("").to_owned();
    match status {
        StatusCode::UNAUTHORIZED => {
            anyhow!("the token was refused: check --token or FAILFORWARD_TOKEN")
        }
        StatusCode::NOT_FOUND => anyhow!("not found (or not visible to you): {detail}"),
        _ if detail.is_empty() => anyhow!("the server answered {status}"),
        _ => anyhow!("{detail}"),
    }
}
