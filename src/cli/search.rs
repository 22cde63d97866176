//! `failforward search …`: full-text search of a running server's records, through its JSON API.

use std::path::PathBuf;
use std::process::ExitCode;

use reqwest::Method;
use serde_json::Value;

use super::client::{Client, ClientArgs};
use super::loops::{print_json, text};

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// TOML file with `server` and `token` [default: ./failforward.toml when it exists]
    #[arg(long, env = "FAILFORWARD_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// What to look for: words, "a phrase", -excluded
    #[arg(required = true, num_args = 1..)]
    query: Vec<String>,
    /// Only this team's records (its slug)
    #[arg(long)]
    team: Option<String>,
    /// loop, learning, factor, action or experiment
    #[arg(long)]
    kind: Option<String>,
    /// Loops in this stage: detect, analyse, apply or continue
    #[arg(long)]
    stage: Option<String>,
    /// Loops with this tag
    #[arg(long)]
    tag: Option<String>,
    /// Created on or after this date (YYYY-MM-DD)
    #[arg(long)]
    from: Option<String>,
    /// Created on or before this date (YYYY-MM-DD)
    #[arg(long)]
    to: Option<String>,
    /// The page of results, from 1
    #[arg(long, default_value_t = 1)]
    page: u32,
    /// Print the server's JSON answer
    #[arg(long)]
    json: bool,
}

pub async fn run(args: SearchArgs, flags: &ClientArgs) -> anyhow::Result<ExitCode> {
    let client = Client::resolve(args.config.as_deref(), flags)?;
    let mut query = vec![("q", args.query.join(" "))];
    for (key, value) in [
        ("team", &args.team),
        ("kind", &args.kind),
        ("stage", &args.stage),
        ("tag", &args.tag),
        ("from", &args.from),
        ("to", &args.to),
    ] {
        if let Some(value) = value {
            query.push((key, value.clone()));
        }
    }
    query.push(("page", args.page.to_string()));
    let found: Value = client
        .call(Method::GET, "/api/v1/search", &query, None)
        .await?;
    if args.json {
        print_json(&found)?;
        return Ok(ExitCode::SUCCESS);
    }
    let hits = found["hits"].as_array().cloned().unwrap_or_default();
    for hit in &hits {
        let team = hit["team"]["slug"].as_str().unwrap_or("a private team");
        let title = match (text(hit, "title"), hit["loop"]["title"].as_str()) {
            ("", Some(loop_title)) => loop_title.to_owned(),
            (title, _) => title.to_owned(),
        };
        println!(
            "{:<10}  {:<10}  {}  {}",
            text(hit, "kind"),
            text(hit, "created_at").get(..10).unwrap_or(""),
            team,
            title
        );
        let snippet = text(hit, "snippet");
        if !snippet.trim().is_empty() {
            println!("            {}", snippet.replace('\n', " "));
        }
    }
    let total = found["total"].as_i64().unwrap_or(0);
    let more = if found["capped"].as_bool().unwrap_or(false) {
        "+"
    } else {
        ""
    };
    println!("{} shown of {total}{more} matches", hits.len());
    Ok(ExitCode::SUCCESS)
}
