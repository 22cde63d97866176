//! `failforward experiment new|list|conclude`: smart risks from the command line, through the
//! JSON API of a running server.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Value};

use super::client::{Client, ClientArgs};
use super::loops::{print_json, text};
use crate::domain::experiments::{money_minor, person_days_tenths};

#[derive(Debug, clap::Args)]
pub struct ExperimentArgs {
    /// TOML file with `server` and `token` [default: ./failforward.toml when it exists]
    #[arg(long, env = "FAILFORWARD_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: ExperimentCommand,
}

#[derive(Debug, Subcommand)]
enum ExperimentCommand {
    /// Design an experiment (a draft): test card, criteria, affordable loss
    New(Box<NewArgs>),
    /// List a team's experiments
    List(ListArgs),
    /// Record the outcome of a running experiment
    Conclude(ConcludeArgs),
}

#[derive(Debug, clap::Args)]
struct NewArgs {
    #[arg(long)]
    team: String,
    #[arg(long)]
    title: String,
    /// We believe that …
    #[arg(long)]
    believe: String,
    /// To verify that, we will …
    #[arg(long)]
    verify_by: String,
    /// … and measure …
    #[arg(long)]
    measure: String,
    /// We are right if …
    #[arg(long)]
    right_if: String,
    /// New territory? yes, no or unsure
    #[arg(long, default_value = "unsure")]
    new_territory: String,
    /// A genuine goal? yes, no or unsure
    #[arg(long, default_value = "unsure")]
    real_goal: String,
    /// Informed by what is known? yes, no or unsure
    #[arg(long, default_value = "unsure")]
    informed: String,
    /// As small as possible? yes, no or unsure
    #[arg(long, default_value = "unsure")]
    as_small_as_possible: String,
    #[arg(long, default_value = "EUR")]
    currency: String,
    /// Money at risk, e.g. 1200.50
    #[arg(long, default_value = "0")]
    money: String,
    /// Person-days at risk, e.g. 2.5
    #[arg(long, default_value = "0")]
    days: String,
    /// full, partial or none
    #[arg(long, default_value = "full")]
    reversibility: String,
    /// none, team, organisation, customers or public
    #[arg(long, default_value = "none")]
    reputation: String,
    /// When to stop early
    #[arg(long)]
    kill_criteria: String,
    /// YYYY-MM-DD
    #[arg(long)]
    starts: String,
    /// YYYY-MM-DD
    #[arg(long)]
    decide_by: String,
    /// The loop whose next smart risk this is
    #[arg(long)]
    from_loop: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct ListArgs {
    #[arg(long)]
    team: String,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct ConcludeArgs {
    #[arg(long)]
    team: String,
    /// The experiment's id
    id: String,
    /// validated, refuted or inconclusive
    #[arg(long)]
    outcome: String,
    /// We believed that …
    #[arg(long)]
    believed: String,
    /// We observed …
    #[arg(long)]
    observed: String,
    /// From that we learned …
    #[arg(long)]
    learned: String,
    /// Therefore, we will …
    #[arg(long)]
    therefore: String,
    /// persevere, pivot, retire or keep_testing
    #[arg(long)]
    decision: String,
    #[arg(long)]
    json: bool,
}

pub async fn run(args: ExperimentArgs, flags: &ClientArgs) -> anyhow::Result<ExitCode> {
    let client = Client::resolve(args.config.as_deref(), flags)?;
    match &args.command {
        ExperimentCommand::New(new) => {
            let money = money_minor(&new.money).map_err(|e| anyhow::anyhow!("--money {e}"))?;
            let days = person_days_tenths(&new.days).map_err(|e| anyhow::anyhow!("--days {e}"))?;
            let body = json!({
                "title": new.title,
                "believe": new.believe,
                "verify_by": new.verify_by,
                "measure": new.measure,
                "right_if": new.right_if,
                "new_territory": new.new_territory,
                "real_goal": new.real_goal,
                "informed": new.informed,
                "as_small_as_possible": new.as_small_as_possible,
                "currency": new.currency,
                "money_minor": money,
                "days_tenths": days,
                "reversibility": new.reversibility,
                "reputation_scope": new.reputation,
                "kill_criteria": new.kill_criteria,
                "starts_on": new.starts,
                "decide_by": new.decide_by,
                "source_loop_id": new.from_loop,
            });
            let created: Value = client
                .call(
                    Method::POST,
                    &format!("/api/v1/teams/{}/experiments", new.team),
                    &[],
                    Some(&body),
                )
                .await?;
            if new.json {
                print_json(&created)?;
            } else {
                println!(
                    "designed {} (draft): {}/teams/{}/experiments/{}",
                    text(&created, "id"),
                    client.base(),
                    new.team,
                    text(&created, "id")
                );
                for blocker in created["start_blockers"].as_array().into_iter().flatten() {
                    println!("before it starts: {}", blocker.as_str().unwrap_or(""));
                }
            }
        }
        ExperimentCommand::List(list) => {
            let all: Value = client
                .call(
                    Method::GET,
                    &format!("/api/v1/teams/{}/experiments", list.team),
                    &[],
                    None,
                )
                .await?;
            if list.json {
                print_json(&all)?;
            } else {
                println!("{:<36}  {:<9}  {:<10}  TITLE", "ID", "STATUS", "DECIDE BY");
                for e in all.as_array().into_iter().flatten() {
                    println!(
                        "{:<36}  {:<9}  {:<10}  {}",
                        text(e, "id"),
                        text(e, "status"),
                        text(e, "decide_by"),
                        text(e, "title")
                    );
                }
            }
        }
        ExperimentCommand::Conclude(c) => {
            let body = json!({
                "outcome": c.outcome,
                "believed": c.believed,
                "observed": c.observed,
                "learned": c.learned,
                "therefore": c.therefore,
                "decision": c.decision,
            });
            let answer: Value = client
                .call(
                    Method::POST,
                    &format!("/api/v1/teams/{}/experiments/{}/conclusion", c.team, c.id),
                    &[],
                    Some(&body),
                )
                .await?;
            if c.json {
                print_json(&answer)?;
            } else {
                println!("concluded {}: {}", c.id, c.outcome);
                if let Some(loop_id) = answer["loop_id"].as_str() {
                    println!(
                        "opened loop {loop_id} at Analyse: {}/teams/{}/loops/{loop_id}",
                        client.base(),
                        c.team
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
