//! `failforward webhook add|list|remove|rotate|enable|disable|log|redeliver`: signed webhook
//! subscriptions from the command line, through the JSON API of a running server. With
//! `--team SLUG` a team's (its leads'), without it the organisation's (admins').

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Value};

use super::client::{Client, ClientArgs};
use super::loops::{print_json, text};

#[derive(Debug, clap::Args)]
pub struct WebhookArgs {
    /// TOML file with `server` and `token` [default: ./failforward.toml when it exists]
    #[arg(long, env = "FAILFORWARD_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// The team whose webhooks these are; without it, the organisation's
    #[arg(long, global = true)]
    team: Option<String>,
    /// Print the server's JSON answer
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: WebhookCommand,
}

#[derive(Debug, Subcommand)]
enum WebhookCommand {
    /// Subscribe an https endpoint to event types (prints the signing secret once)
    Add {
        url: String,
        /// Event types, e.g. loop.logged action.done
        #[arg(required = true)]
        event_types: Vec<String>,
    },
    /// List the subscriptions
    List,
    /// Remove a subscription
    Remove { id: String },
    /// A new signing secret (printed once); the old one still signs for 24 hours
    Rotate { id: String },
    /// Switch a disabled subscription on again
    Enable { id: String },
    /// Switch a subscription off; nothing is delivered until it is enabled again
    Disable { id: String },
    /// The delivery log, newest first
    Log { id: String },
    /// Send a delivery again, with the same webhook-id
    Redeliver { id: String, delivery: String },
}

pub async fn run(args: WebhookArgs, flags: &ClientArgs) -> anyhow::Result<ExitCode> {
    let client = Client::resolve(args.config.as_deref(), flags)?;
    let base = match &args.team {
        Some(team) => format!("/api/v1/teams/{team}/webhooks"),
        None => "/api/v1/webhooks".to_owned(),
    };
    let answer: Option<Value> = match &args.command {
        WebhookCommand::Add { url, event_types } => {
            let body = json!({"url": url, "event_types": event_types});
            let created: Value = client.call(Method::POST, &base, &[], Some(&body)).await?;
            if !args.json {
                println!("subscribed {}", text(&created, "id"));
                println!("secret (shown once): {}", text(&created, "secret"));
            }
            Some(created)
        }
        WebhookCommand::List => {
            let all: Value = client.call(Method::GET, &base, &[], None).await?;
            if !args.json {
                println!("{:<36}  {:<8}  URL  EVENTS", "ID", "ENABLED");
                for w in all.as_array().into_iter().flatten() {
                    let kinds: Vec<&str> = w["event_types"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    println!(
                        "{:<36}  {:<8}  {}  {}",
                        text(w, "id"),
                        w["enabled"].as_bool().unwrap_or(false),
                        text(w, "url"),
                        kinds.join(" ")
                    );
                }
            }
            Some(all)
        }
        WebhookCommand::Remove { id } => {
            client
                .call::<Value>(Method::DELETE, &format!("{base}/{id}"), &[], None)
                .await?;
            if !args.json {
                println!("removed {id}");
            }
            None
        }
        WebhookCommand::Rotate { id } => {
            let rotated: Value = client
                .call(Method::POST, &format!("{base}/{id}/rotate"), &[], None)
                .await?;
            if !args.json {
                println!("new secret (shown once): {}", text(&rotated, "secret"));
                println!(
                    "the previous one signs too until {}",
                    text(&rotated, "previous_secret_until")
                );
            }
            Some(rotated)
        }
        WebhookCommand::Enable { id } => {
            client
                .call::<Value>(Method::POST, &format!("{base}/{id}/enable"), &[], None)
                .await?;
            if !args.json {
                println!("enabled {id}");
            }
            None
        }
        WebhookCommand::Disable { id } => {
            client
                .call::<Value>(Method::POST, &format!("{base}/{id}/disable"), &[], None)
                .await?;
            if !args.json {
                println!("disabled {id}");
            }
            None
        }
        WebhookCommand::Log { id } => {
            let log: Value = client
                .call(Method::GET, &format!("{base}/{id}/attempts"), &[], None)
                .await?;
            if !args.json {
                println!(
                    "{:<20}  {:<6}  {:>7}  {:<9}  {:<36}  EXCERPT",
                    "AT", "STATUS", "MS", "DELIVERY", "DELIVERY ID"
                );
                for a in log.as_array().into_iter().flatten() {
                    println!(
                        "{:<20}  {:<6}  {:>7}  {:<9}  {:<36}  {}",
                        text(a, "attempted_at"),
                        a["status"]
                            .as_i64()
                            .map(|s| s.to_string())
                            .unwrap_or_else(|| "-".to_owned()),
                        a["latency_ms"].as_i64().unwrap_or(0),
                        text(a, "delivery_status"),
                        text(a, "delivery_id"),
                        text(a, "excerpt").replace('\n', " ")
                    );
                }
            }
            Some(log)
        }
        WebhookCommand::Redeliver { id, delivery } => {
            client
                .call::<Value>(
                    Method::POST,
                    &format!("{base}/{id}/deliveries/{delivery}/redeliver"),
                    &[],
                    None,
                )
                .await?;
            if !args.json {
                println!("queued {delivery} again");
            }
            None
        }
    };
    if args.json {
        print_json(&answer.unwrap_or(Value::Null))?;
    }
    Ok(ExitCode::SUCCESS)
}
