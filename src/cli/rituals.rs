//! `failforward ritual schedule|share|show|close`: a team's failure-share ritual through the JSON
//! API of a running server. The server refuses a member's share until a lead has shared.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{json, Value};

use super::client::{Client, ClientArgs};
use super::loops::{print_json, text};

#[derive(Debug, clap::Args)]
pub struct RitualArgs {
    /// TOML file with `server` and `token` [default: ./failforward.toml when it exists]
    #[arg(long, env = "FAILFORWARD_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// The team's slug
    #[arg(long)]
    team: String,
    #[command(subcommand)]
    command: RitualCommand,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CadenceArg {
    Weekly,
    Fortnightly,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum WeekdayArg {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

#[derive(Debug, Subcommand)]
enum RitualCommand {
    /// Schedule the team's ritual (leads)
    Schedule {
        #[arg(long, value_enum)]
        cadence: CadenceArg,
        #[arg(long, value_enum)]
        weekday: WeekdayArg,
    },
    /// Share a failure and what you learnt in the current round (a lead shares first)
    Share {
        /// What failed
        #[arg(long)]
        failed: String,
        /// What you learnt
        #[arg(long)]
        learnt: String,
        /// Share without your name (held until the round closes; no name, time or order kept)
        #[arg(long)]
        unnamed: bool,
    },
    /// Show the schedule, the current round and the library of closed rounds
    Show {
        /// Print the server's JSON answer
        #[arg(long)]
        json: bool,
    },
    /// Close the current round into the team's library (leads)
    Close,
}

fn word<T: ValueEnum>(value: &T) -> String {
    value
        .to_possible_value()
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default()
}

fn print_share(share: &Value) {
    let who = share["author"].as_str().unwrap_or("unnamed");
    println!("  - {who}: {}", text(share, "failed"));
    println!("    learnt: {}", text(share, "learnt"));
}

pub async fn run(args: RitualArgs, flags: &ClientArgs) -> anyhow::Result<ExitCode> {
    let client = Client::resolve(args.config.as_deref(), flags)?;
    let base = format!("/api/v1/teams/{}/rituals", args.team);
    match args.command {
        RitualCommand::Schedule { cadence, weekday } => {
            let body = json!({"cadence": word(&cadence), "weekday": word(&weekday)});
            let _: Value = client
                .call(Method::PUT, &format!("{base}/schedule"), &[], Some(&body))
                .await?;
            println!(
                "Ritual of {} scheduled: {} on {}",
                args.team,
                word(&cadence),
                word(&weekday)
            );
        }
        RitualCommand::Share {
            failed,
            learnt,
            unnamed,
        } => {
            let body = json!({"failed": failed, "learnt": learnt, "unnamed": unnamed});
            let _: Value = client
                .call(Method::POST, &format!("{base}/shares"), &[], Some(&body))
                .await?;
            println!(
                "Shared{} in the current round of {}",
                if unnamed { " unnamed" } else { "" },
                args.team
            );
        }
        RitualCommand::Close => {
            let _: Value = client
                .call(Method::POST, &format!("{base}/close"), &[], None)
                .await?;
            println!("The round of {} is closed into its library", args.team);
        }
        RitualCommand::Show { json } => {
            let ritual: Value = client.call(Method::GET, &base, &[], None).await?;
            if json {
                print_json(&ritual)?;
                return Ok(ExitCode::SUCCESS);
            }
            let schedule = &ritual["schedule"];
            if schedule.is_null() {
                println!("No ritual scheduled for {}", args.team);
            } else {
                println!(
                    "Ritual of {}: {} on {}",
                    args.team,
                    text(schedule, "cadence"),
                    text(schedule, "weekday")
                );
            }
            let current = &ritual["current"];
            if !current.is_null() {
                println!(
                    "Current round from {}: {} (next starts {})",
                    text(current, "opens_on"),
                    text(current, "state").replace('_', " "),
                    text(current, "next_on")
                );
                for share in current["shares"].as_array().into_iter().flatten() {
                    print_share(share);
                }
            }
            for round in ritual["library"].as_array().into_iter().flatten() {
                println!("Round of {} (closed)", text(round, "opens_on"));
                for share in round["shares"].as_array().into_iter().flatten() {
                    print_share(share);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
