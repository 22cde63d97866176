//! `failforward audit`: the organisation's audit log from a running server, for admins, through
//! its JSON API (the server checks that the token's account is an admin and records exports).

use std::path::PathBuf;
use std::process::ExitCode;

use reqwest::Method;
use serde_json::Value;

use super::client::{Client, ClientArgs};
use super::loops::{print_json, text};
use crate::domain::audit::AuditAction;
use crate::domain::when::parse_date;

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// TOML file with `server` and `token` [default: ./failforward.toml when it exists]
    #[arg(long, env = "FAILFORWARD_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: AuditCommand,
}

/// The filters both listing and export take; the server applies them the same way.
#[derive(Debug, clap::Args)]
struct AuditFilterArgs {
    /// One action, e.g. `sign_in.failed` or `token.revoked`
    #[arg(long)]
    action: Option<String>,
    /// The actor's email or account id
    #[arg(long)]
    actor: Option<String>,
    /// First day included, YYYY-MM-DD (UTC)
    #[arg(long, value_name = "DAY")]
    from: Option<String>,
    /// Last day included, YYYY-MM-DD (UTC)
    #[arg(long, value_name = "DAY")]
    until: Option<String>,
    /// At most this many entries, newest first (1 to 10000)
    #[arg(long, value_name = "N")]
    limit: Option<i64>,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// List entries, newest first (200 unless --limit says otherwise)
    List {
        #[command(flatten)]
        filter: AuditFilterArgs,
        /// Print the server's JSON answer
        #[arg(long)]
        json: bool,
    },
    /// Download entries as JSON or CSV (the export itself is recorded in the log)
    Export {
        #[command(flatten)]
        filter: AuditFilterArgs,
        /// `json` or `csv`
        #[arg(long, default_value = "json")]
        format: String,
        /// Write to this file instead of standard output
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

impl AuditFilterArgs {
    /// Refuses a malformed filter before any request, naming the flag.
    fn query(&self) -> anyhow::Result<Vec<(&'static str, String)>> {
        if let Some(action) = &self.action {
            action
                .trim()
                .parse::<AuditAction>()
                .map_err(|e| anyhow::anyhow!("--action {e}"))?;
        }
        for (flag, day) in [("--from", &self.from), ("--until", &self.until)] {
            if let Some(day) = day {
                parse_date(day.trim()).map_err(|e| anyhow::anyhow!("{flag} {e}"))?;
            }
        }
        if let Some(limit) = self.limit {
            if !(1..=10_000).contains(&limit) {
                anyhow::bail!("--limit must be from 1 to 10000");
            }
        }
        let mut query = Vec::new();
        for (name, value) in [
            ("action", &self.action),
            ("actor", &self.actor),
            ("from", &self.from),
            ("until", &self.until),
        ] {
            if let Some(value) = value {
                query.push((name, value.trim().to_owned()));
            }
        }
        if let Some(limit) = self.limit {
            query.push(("limit", limit.to_string()));
        }
        Ok(query)
    }
}

pub async fn run(args: AuditArgs, flags: &ClientArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        AuditCommand::List { filter, json } => {
            let query = filter.query()?;
            let client = Client::resolve(args.config.as_deref(), flags)?;
            let entries: Value = client
                .call(Method::GET, "/api/v1/audit", &query, None)
                .await?;
            if *json {
                print_json(&entries)?;
                return Ok(ExitCode::SUCCESS);
            }
            let entries = entries.as_array().cloned().unwrap_or_default();
            if entries.is_empty() {
                println!("No audit entries match.");
            }
            for entry in &entries {
                let actor = entry["actor_email"].as_str().unwrap_or("(no account)");
                let detail = text(entry, "detail");
                let detail = if detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({detail})")
                };
                println!(
                    "{}  {}  {}  {}{detail}",
                    text(entry, "occurred_at"),
                    text(entry, "action"),
                    actor,
                    text(entry, "target"),
                );
            }
        }
        AuditCommand::Export {
            filter,
            format,
            output,
        } => {
            let word = format.trim().to_ascii_lowercase();
            if word != "json" && word != "csv" {
                anyhow::bail!("--format must be json or csv");
            }
            let mut query = filter.query()?;
            query.push(("format", word));
            let client = Client::resolve(args.config.as_deref(), flags)?;
            let body = client.get_text("/api/v1/audit/export", &query).await?;
            match output {
                Some(path) => std::fs::write(path, body)
                    .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?,
                None => print!("{body}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
