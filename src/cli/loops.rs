//! `failforward loop log|list|show|advance`: the learning loop from the command line, through the
//! JSON API of a running server.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Value};

use super::client::{Client, ClientArgs};

#[derive(Debug, clap::Args)]
pub struct LoopArgs {
    /// TOML file with `server` and `token` [default: ./failforward.toml when it exists]
    #[arg(long, env = "FAILFORWARD_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: LoopCommand,
}

#[derive(Debug, Subcommand)]
enum LoopCommand {
    /// Log a failure at Detect
    Log(LogArgs),
    /// List a team's loops
    List(ListArgs),
    /// Show one loop
    Show(ShowArgs),
    /// Move a loop to its next stage (or back with --back)
    Advance(AdvanceArgs),
}

#[derive(Debug, clap::Args)]
struct LogArgs {
    /// The team's slug
    #[arg(long)]
    team: String,
    #[arg(long)]
    title: String,
    /// What happened (Markdown)
    #[arg(
        long,
        conflicts_with = "what_happened_file",
        required_unless_present = "what_happened_file"
    )]
    what_happened: Option<String>,
    /// Read what happened from a file, or "-" for standard input
    #[arg(long, value_name = "FILE")]
    what_happened_file: Option<PathBuf>,
    /// What was expected to happen
    #[arg(long, default_value = "")]
    expected: String,
    /// When it happened (RFC 3339, or YYYY-MM-DDTHH:MM as UTC)
    #[arg(long)]
    happened: Option<String>,
    /// When it was noticed [default: now]
    #[arg(long)]
    noticed: Option<String>,
    /// negligible, minor, moderate, major or severe [default: minor]
    #[arg(long)]
    impact: Option<String>,
    /// Who or what was affected
    #[arg(long, default_value = "")]
    affected: String,
    /// A tag (repeat for several)
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Log it anonymously: nothing stored links it to you
    #[arg(long)]
    anonymous: bool,
    /// Print the server's JSON answer
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct ListArgs {
    #[arg(long)]
    team: String,
    /// detect, analyse, apply or continue
    #[arg(long)]
    stage: Option<String>,
    /// basic, complex, intelligent or experiment_not_yet_intelligent
    #[arg(long = "type")]
    failure_type: Option<String>,
    #[arg(long)]
    tag: Option<String>,
    /// Only loops stuck in their stage
    #[arg(long)]
    stuck: bool,
    /// newest, oldest, longest_in_stage or title
    #[arg(long)]
    sort: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct ShowArgs {
    #[arg(long)]
    team: String,
    /// The loop's id
    id: String,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct AdvanceArgs {
    #[arg(long)]
    team: String,
    /// The loop's id
    id: String,
    /// Step back a stage instead
    #[arg(long)]
    back: bool,
    /// A note for the loop's history
    #[arg(long, default_value = "")]
    note: String,
    #[arg(long)]
    json: bool,
}

fn client(args: &LoopArgs, flags: &ClientArgs) -> anyhow::Result<Client> {
    Client::resolve(args.config.as_deref(), flags)
}

pub(super) fn print_json(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub(super) fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or("")
}

pub async fn run(args: LoopArgs, flags: &ClientArgs) -> anyhow::Result<ExitCode> {
    let client = client(&args, flags)?;
    match &args.command {
        LoopCommand::Log(log) => {
            let what_happened = match (&log.what_happened, &log.what_happened_file) {
                (Some(text), _) => text.clone(),
                (None, Some(path)) if path.as_os_str() == "-" => {
                    let mut text = String::new();
                    std::io::stdin()
                        .read_to_string(&mut text)
                        .context("reading standard input")?;
                    text
                }
                (None, Some(path)) => std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?,
                (None, None) => anyhow::bail!("give --what-happened or --what-happened-file"),
            };
            let mut body = json!({
                "title": log.title,
                "what_happened": what_happened,
                "what_was_expected": log.expected,
                "impact_affected": log.affected,
                "tags": log.tags,
                "anonymous": log.anonymous,
            });
            for (key, value) in [
                ("happened_at", &log.happened),
                ("noticed_at", &log.noticed),
                ("impact_scale", &log.impact),
            ] {
                if let Some(value) = value {
                    body[key] = json!(value);
                }
            }
            let created: Value = client
                .call(
                    Method::POST,
                    &format!("/api/v1/teams/{}/loops", log.team),
                    &[],
                    Some(&body),
                )
                .await?;
            if log.json {
                print_json(&created)?;
            } else {
                println!(
                    "logged {} at Detect: {}/teams/{}/loops/{}",
                    text(&created, "id"),
                    client.base(),
                    log.team,
                    text(&created, "id")
                );
                if let Some(link) = created["reporter_link"].as_str() {
                    println!("anonymous: keep your private reporter link (shown only now): {link}");
                    println!(
                        "it is published with today's other anonymous entries after midnight UTC"
                    );
                }
            }
        }
        LoopCommand::List(list) => {
            let mut query = Vec::new();
            for (key, value) in [
                ("stage", &list.stage),
                ("type", &list.failure_type),
                ("tag", &list.tag),
                ("sort", &list.sort),
            ] {
                if let Some(value) = value {
                    query.push((key, value.clone()));
                }
            }
            if list.stuck {
                query.push(("stuck", "true".to_owned()));
            }
            query.push(("per_page", "200".to_owned()));
            let page: Value = client
                .call(
                    Method::GET,
                    &format!("/api/v1/teams/{}/loops", list.team),
                    &query,
                    None,
                )
                .await?;
            if list.json {
                print_json(&page)?;
            } else {
                let loops = page["loops"].as_array().cloned().unwrap_or_default();
                println!("{:<36}  {:<8}  {:<11}  TITLE", "ID", "STAGE", "LOGGED");
                for item in &loops {
                    let attention = item["attention"]
                        .as_str()
                        .map(|a| format!("  [{a}]"))
                        .unwrap_or_default();
                    println!(
                        "{:<36}  {:<8}  {:<11}  {}{attention}",
                        text(item, "id"),
                        text(item, "stage"),
                        text(item, "created_at").get(..10).unwrap_or(""),
                        text(item, "title"),
                    );
                }
                println!(
                    "{} of {} loops",
                    loops.len(),
                    page["total"].as_i64().unwrap_or(0)
                );
            }
        }
        LoopCommand::Show(show) => {
            let item: Value = client
                .call(
                    Method::GET,
                    &format!("/api/v1/teams/{}/loops/{}", show.team, show.id),
                    &[],
                    None,
                )
                .await?;
            if show.json {
                print_json(&item)?;
            } else {
                print_loop(&item);
            }
        }
        LoopCommand::Advance(advance) => {
            let item: Value = client
                .call(
                    Method::POST,
                    &format!("/api/v1/teams/{}/loops/{}/stage", advance.team, advance.id),
                    &[],
                    Some(&json!({
                        "direction": if advance.back { "back" } else { "advance" },
                        "note": advance.note,
                    })),
                )
                .await?;
            if advance.json {
                print_json(&item)?;
            } else {
                println!("{} is now at {}", text(&item, "id"), text(&item, "stage"));
                if let Some(blocker) = item["blocker"].as_str() {
                    println!("next: {blocker}");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_loop(item: &Value) {
    println!("{}", text(item, "title"));
    println!("id:       {}", text(item, "id"));
    println!("stage:    {}", text(item, "stage"));
    let reporter = if item["reporter"]["anonymous"].as_bool().unwrap_or(false) {
        "anonymous".to_owned()
    } else {
        item["reporter"]["name"].as_str().unwrap_or("").to_owned()
    };
    println!("logged:   {} by {reporter}", text(item, "created_at"));
    if let Some(ttd) = item["time_to_detect_seconds"].as_i64() {
        println!("time to detect: {} min", ttd / 60);
    }
    if let Some(kind) = item["classification"]["type"].as_str() {
        println!("type:     {kind}");
    }
    if let Some(attention) = item["attention"].as_str() {
        println!("attention: {attention}");
    }
    match (item["next_stage"].as_str(), item["blocker"].as_str()) {
        (Some(next), _) => println!("next:     ready to move on to {next}"),
        (None, Some(blocker)) => println!("next:     {blocker}"),
        _ => {}
    }
    println!();
    println!("{}", text(item, "what_happened"));
    for (key, label) in [
        ("factors", "contributing factors"),
        ("learnings", "learnings"),
        ("actions", "action items"),
    ] {
        let count = item[key].as_array().map(Vec::len).unwrap_or(0);
        if count > 0 {
            println!("{label}: {count}");
        }
    }
}
