//! Logging. Request logs carry the request id, the method, the route pattern (never the raw path,
//! which can hold one-time tokens), the status and the latency — and nothing that identifies a
//! person: no user or session id, no client address. The anonymity promises depend on this.

use std::io::IsTerminal;
use std::str::FromStr;

use serde::Deserialize;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "unknown log format {other:?}: use \"text\" or \"json\""
            )),
        }
    }
}

/// Lines never written, at any level, because what they say depends on the work a request did
/// and so would mark an anonymous capture among the requests: the database driver's statements
/// (an anonymous write's differ from a named one's — PostgreSQL's rewrite of the day's anonymous
/// loops, for one) and the HTML parser's chatter while pages are sanitised.
const SILENCED: [&str; 2] = ["sqlx::query=off", "html5ever=off"];

/// Installs the global subscriber, writing to standard error. `RUST_LOG`, when set, overrides
/// `level` (but not [`SILENCED`]). Calling it twice is harmless (the second call does nothing).
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let filter = SILENCED
        .iter()
        .filter_map(|directive| directive.parse().ok())
        .fold(filter, EnvFilter::add_directive);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
