//! `failforward cv show|export|publish|unpublish`: your own failure CV, through the JSON API of
//! a running server. Only your own: the API has no way to read or export anyone else's
//! unpublished CV.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{json, Value};

use super::client::{Client, ClientArgs};
use super::loops::{print_json, text};

#[derive(Debug, clap::Args)]
pub struct CvArgs {
    /// TOML file with `server` and `token` [default: ./failforward.toml when it exists]
    #[arg(long, env = "FAILFORWARD_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: CvCommand,
}

#[derive(Debug, Subcommand)]
enum CvCommand {
    /// Show your failure CV and whether it is published
    Show {
        /// Print the server's JSON answer
        #[arg(long)]
        json: bool,
    },
    /// Download your failure CV (JSON or Markdown)
    Export {
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
        /// Write to this file instead of standard output
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Publish your failure CV to the organisation's members
    Publish,
    /// Make your failure CV private again
    Unpublish,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Json,
    Markdown,
}

fn summary(cv: &Value) {
    let count = |key: &str| cv[key].as_array().map_or(0, Vec::len);
    let state = if cv["published"].as_bool() == Some(true) {
        format!(
            "published to the organisation since {}",
            text(cv, "published_on")
        )
    } else {
        "private: only you can see it".to_owned()
    };
    println!(
        "failure CV of {}: {} intelligent failure(s), {} experiment(s); {state}",
        text(cv, "name"),
        count("failures"),
        count("experiments")
    );
}

pub async fn run(args: CvArgs, flags: &ClientArgs) -> anyhow::Result<ExitCode> {
    let client = Client::resolve(args.config.as_deref(), flags)?;
    match args.command {
        CvCommand::Show { json } => {
            let cv: Value = client.call(Method::GET, "/api/v1/me/cv", &[], None).await?;
            if json {
                print_json(&cv)?;
            } else {
                summary(&cv);
                for f in cv["failures"].as_array().into_iter().flatten() {
                    println!("  failure: {} ({})", text(f, "title"), text(f, "team"));
                }
                for e in cv["experiments"].as_array().into_iter().flatten() {
                    println!(
                        "  experiment: {} ({}, {})",
                        text(e, "title"),
                        text(e, "team"),
                        text(e, "outcome")
                    );
                }
            }
        }
        CvCommand::Export { format, output } => {
            let word = match format {
                Format::Json => "json",
                Format::Markdown => "markdown",
            };
            let body = client
                .get_text("/api/v1/me/cv/export", &[("format", word.to_owned())])
                .await?;
            match output {
                Some(path) => std::fs::write(&path, body)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => print!("{body}"),
            }
        }
        command @ (CvCommand::Publish | CvCommand::Unpublish) => {
            let published = matches!(command, CvCommand::Publish);
            let cv: Value = client
                .call(
                    Method::PUT,
                    "/api/v1/me/cv/visibility",
                    &[],
                    Some(&json!({ "published": published })),
                )
                .await?;
            summary(&cv);
        }
    }
    Ok(ExitCode::SUCCESS)
}
