//! `failforward expectation list|add|ack|comment`: a team's expectations through the JSON API of
//! a running server (leads add; members acknowledge and comment, unnamed with `--unnamed`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Value};

use super::client::{Client, ClientArgs};
use super::loops::{print_json, text};
use crate::domain::expectations::{self, Measure};

#[derive(Debug, clap::Args)]
pub struct ExpectationArgs {
    /// TOML file with `server` and `token` [default: ./failforward.toml when it exists]
    #[arg(long, env = "FAILFORWARD_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// The team's slug
    #[arg(long, global = true)]
    team: Option<String>,
    #[command(subcommand)]
    command: ExpectationCommand,
}

#[derive(Debug, Subcommand)]
enum ExpectationCommand {
    /// List the team's expectations with this quarter's figures
    List {
        /// Print the server's JSON answer
        #[arg(long)]
        json: bool,
    },
    /// Write an expectation (team leads)
    Add {
        /// The expectation, up to 500 characters
        text: String,
        /// Make it measurable: experiments_per_member_per_quarter, days_to_log_failure or
        /// actions_done_on_time
        #[arg(long, requires = "target")]
        measure: Option<String>,
        /// The measure's target, 0–100
        #[arg(long, requires = "measure")]
        target: Option<i64>,
    },
    /// Acknowledge an expectation for this quarter, under your name
    Ack {
        /// The expectation's id
        id: String,
    },
    /// Comment on an expectation
    Comment {
        /// The expectation's id
        id: String,
        /// The comment, up to 1000 characters
        text: String,
        /// Keep no name: written after midnight UTC with only the day
        #[arg(long)]
        unnamed: bool,
    },
}

fn print_expectation(e: &Value) {
    println!("{}  {}", text(e, "id"), text(e, "text"));
    if let Some(p) = e["progress"].as_object() {
        let p = Value::Object(p.clone());
        let verdict = match p["met"].as_bool() {
            Some(true) => "met",
            Some(false) => "not met",
            None => "no data yet",
        };
        println!(
            "    {}: {} ({verdict}; {}) in {}",
            text(&p, "target_meaning"),
            text(&p, "shown"),
            text(&p, "basis"),
            text(&p, "period")
        );
    }
    println!(
        "    acknowledged by {} this quarter{}{}",
        e["acknowledgements"],
        if e["acknowledged_by_me"].as_bool() == Some(true) {
            " (you too)"
        } else {
            ""
        },
        if e["needs_revisit"].as_bool() == Some(true) {
            "; due for its quarterly revisit"
        } else {
            ""
        }
    );
    for c in e["comments"].as_array().into_iter().flatten() {
        let who = c["author"].as_str().unwrap_or("unnamed");
        println!(
            "    – {} ({who}, {})",
            text(c, "text"),
            text(c, "written_on")
        );
    }
}

pub async fn run(args: ExpectationArgs, flags: &ClientArgs) -> anyhow::Result<ExitCode> {
    let team = args
        .team
        .clone()
        .ok_or_else(|| anyhow::anyhow!("--team is required"))?;
    // Refused here too, so that a typo costs no request and says which flag.
    let measure = match &args.command {
        ExpectationCommand::Add {
            measure: Some(m),
            target: Some(t),
            ..
        } => {
            let kind = Measure::parse(m).map_err(|e| anyhow::anyhow!("--measure {e}"))?;
            expectations::target(*t).map_err(|e| anyhow::anyhow!("--target {e}"))?;
            Some(json!({"kind": kind.as_str(), "target": t}))
        }
        _ => None,
    };
    let client = Client::resolve(args.config.as_deref(), flags)?;
    let base = format!("/api/v1/teams/{team}/expectations");
    match args.command {
        ExpectationCommand::List { json } => {
            let list: Value = client.call(Method::GET, &base, &[], None).await?;
            if json {
                print_json(&list)?;
                return Ok(ExitCode::SUCCESS);
            }
            println!("Expectations of {team} in {}", text(&list, "quarter"));
            if list["revisit_due"].as_bool() == Some(true) {
                println!("Reminder: a new quarter has begun; revisit the expectations below.");
            }
            let items = list["expectations"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                println!("(none yet)");
            }
            for e in &items {
                print_expectation(e);
            }
        }
        ExpectationCommand::Add { text: words, .. } => {
            let body = json!({"text": words, "measure": measure});
            let created: Value = client.call(Method::POST, &base, &[], Some(&body)).await?;
            print_expectation(&created);
        }
        ExpectationCommand::Ack { id } => {
            let acked: Value = client
                .call(
                    Method::POST,
                    &format!("{base}/{}/acknowledgements", id.trim()),
                    &[],
                    None,
                )
                .await?;
            print_expectation(&acked);
        }
        ExpectationCommand::Comment {
            id,
            text: words,
            unnamed,
        } => {
            let body = json!({"text": words, "unnamed": unnamed});
            let answer: Value = client
                .call(
                    Method::POST,
                    &format!("{base}/{}/comments", id.trim()),
                    &[],
                    Some(&body),
                )
                .await?;
            if answer["status"].as_str() == Some("held_until_midnight") {
                println!("Comment held: it appears unnamed after midnight UTC, with only its day.");
            } else {
                println!("Comment written.");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
