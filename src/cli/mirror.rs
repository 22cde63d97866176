//! `failforward mirror --team X [--quarter 2026Q4]`: a team's dynamics mirror from a running
//! server, through its JSON API (the server applies the same floor as the page).

use std::path::PathBuf;
use std::process::ExitCode;

use reqwest::Method;
use serde_json::Value;

use super::client::{Client, ClientArgs};
use super::loops::{print_json, text};
use crate::domain::mirror::parse_quarter;

#[derive(Debug, clap::Args)]
pub struct MirrorArgs {
    /// TOML file with `server` and `token` [default: ./failforward.toml when it exists]
    #[arg(long, env = "FAILFORWARD_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// The team's slug
    #[arg(long)]
    team: String,
    /// The quarter, e.g. 2026Q4 [default: the current one]
    #[arg(long)]
    quarter: Option<String>,
    /// Print the server's JSON answer
    #[arg(long)]
    json: bool,
}

fn share(value: &Value) -> String {
    match value["percent"].as_f64() {
        Some(p) => format!("{p:.1} % ({} of {})", value["part"], value["whole"]),
        None => "—".to_owned(),
    }
}

pub async fn run(args: MirrorArgs, flags: &ClientArgs) -> anyhow::Result<ExitCode> {
    // Refused here too, so that a typo costs no request and says which flag.
    if let Some(raw) = &args.quarter {
        parse_quarter(raw).map_err(|e| anyhow::anyhow!("--quarter {e}"))?;
    }
    let client = Client::resolve(args.config.as_deref(), flags)?;
    let query: Vec<(&str, String)> = args
        .quarter
        .iter()
        .map(|q| ("quarter", q.trim().to_owned()))
        .collect();
    let mirror: Value = client
        .call(
            Method::GET,
            &format!("/api/v1/teams/{}/mirror", args.team),
            &query,
            None,
        )
        .await?;
    if args.json {
        print_json(&mirror)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Dynamics mirror of {} for {}",
        args.team,
        text(&mirror, "quarter")
    );
    let reviews = &mirror["reviews"];
    println!("\nReview sessions: {}", reviews["sessions"]);
    if let Some(reason) = reviews["withheld"].as_str() {
        println!("  {reason}");
    }
    for f in reviews["figures"].as_array().into_iter().flatten() {
        let value = if f["value"].is_null() {
            f["withheld"].as_str().unwrap_or("not shown").to_owned()
        } else if f["baseline"].is_null() {
            share(&f["value"])
        } else {
            format!(
                "{} against {} of cards",
                share(&f["value"]),
                share(&f["baseline"])
            )
        };
        println!("  {}: {value}", text(f, "title"));
        println!("    ask: {}", text(f, "question"));
    }
    let loops = &mirror["loops"];
    println!("\nWho logs failures");
    if let Some(reason) = loops["withheld"].as_str() {
        println!("  {reason}");
    } else {
        if let Some(reason) = loops["roles_withheld"].as_str() {
            println!("  {reason}");
        }
        for m in loops["months"].as_array().into_iter().flatten() {
            let roles = match (m["leads"].as_u64(), m["members"].as_u64()) {
                (Some(l), Some(n)) => format!("leads {l}, members {n}, "),
                _ => String::new(),
            };
            println!(
                "  {}: {roles}named {}, anonymous {}",
                text(m, "month"),
                m["named"],
                m["anonymous"]
            );
        }
        for d in loops["days_to_log"].as_array().into_iter().flatten() {
            let median = d["median_days"]
                .as_f64()
                .map(|m| format!("{m} days"))
                .unwrap_or_else(|| "—".to_owned());
            println!(
                "  days to log ({}): median {median} over {} loops, within a day {}",
                text(d, "group"),
                d["loops"],
                share(&d["within_a_day"])
            );
        }
    }
    println!("  ask: {}", text(loops, "question"));
    Ok(ExitCode::SUCCESS)
}
