//! `failforward export`, `import` and `restore`: operator commands on the local database (like
//! `backup`), acting as a named account (`--as`) so the same access rules hold as in the API.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::app::open_service;
use crate::config::{StorageArgs, StorageSettings};
use crate::private_files;
use crate::service::transfer::{self, ExportFormat};
use crate::service::{Policy, ServiceError};

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    storage: StorageArgs,
    /// The account whose access the export has (an admin for the whole organisation)
    #[arg(long = "as", value_name = "EMAIL")]
    actor: String,
    /// Export this team only [default: the whole organisation]
    #[arg(long, value_name = "SLUG")]
    team: Option<String>,
    /// Export one loop of --team
    #[arg(long = "loop", value_name = "ID", requires = "team")]
    loop_id: Option<String>,
    /// json, markdown (a tar archive of one file per loop) or csv
    #[arg(long, default_value = "json")]
    format: String,
    /// Where to write the export [default: standard output]
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    #[command(flatten)]
    storage: StorageArgs,
    /// The account the import acts as (a member of the team, or an admin)
    #[arg(long = "as", value_name = "EMAIL")]
    actor: String,
    /// The team the loops go to
    #[arg(long, value_name = "SLUG")]
    team: String,
    /// Check every file and report what would be created, writing nothing
    #[arg(long)]
    dry_run: bool,
    /// JSON exports or Markdown postmortems ("-" for standard input)
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// A backup written by `failforward backup`
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// A new or empty directory to restore into
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// The old installation's DATA_DIR/secret.key, copied beside the database (sealed
    /// contributions need the same key)
    #[arg(long, value_name = "FILE")]
    secret_key_file: Option<PathBuf>,
}

/// A progress bar on standard error, hidden when that is not a terminal.
fn progress(total: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() || total < 2 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}") {
        bar.set_style(style);
    }
    bar
}

pub async fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let format = ExportFormat::parse(&args.format)?;
    let storage = StorageSettings::resolve(&args.storage)?;
    let service = open_service(&storage, Policy::default()).await?;
    let actor = service.operator_actor(&args.actor).await?;
    let document = match (&args.team, &args.loop_id) {
        (Some(team), Some(id)) => {
            let access = service.team_access(&actor, team).await?;
            service.export_loop(&access, id).await?
        }
        (Some(team), None) => {
            let access = service.team_access(&actor, team).await?;
            service.export_team(&access).await?
        }
        (None, _) => {
            let bar = progress(usize::MAX);
            let mut on_team = |done: usize, total: usize| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            };
            let document = service
                .export_organisation_with(&actor, &mut on_team)
                .await?;
            bar.finish_and_clear();
            document
        }
    };
    let file = transfer::render(&document, format)?;
    match &args.output {
        Some(path) if path.as_os_str() != "-" => {
            std::fs::write(path, &file.bytes)
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "exported {} loops to {}",
                document.teams.iter().map(|t| t.loops.len()).sum::<usize>(),
                path.display()
            );
        }
        _ => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&file.bytes)
                .context("writing the export")?;
            stdout.flush().context("writing the export")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_input(path: &Path) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading standard input")?;
        return Ok(text);
    }
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// Checks every file first (a dry run), then imports them: one malformed file imports nothing.
pub async fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let storage = StorageSettings::resolve(&args.storage)?;
    let service = open_service(&storage, Policy::default()).await?;
    let actor = service.operator_actor(&args.actor).await?;
    let access = service.team_access(&actor, &args.team).await?;
    let mut texts = Vec::new();
    for path in &args.files {
        let text = read_input(path)?;
        if let Err(error) = service.import(&access, &text, true).await {
            return Err(in_file(path, error));
        }
        texts.push(text);
    }
    let bar = progress(args.files.len());
    for (path, text) in args.files.iter().zip(&texts) {
        let report = service
            .import(&access, text, args.dry_run)
            .await
            .map_err(|e| in_file(path, e))?;
        bar.inc(1);
        for item in &report.loops {
            bar.suspend(|| {
                println!(
                    "{} {}: {:?} ({} timeline events, {} actions, {} kept sections, {} blameless-language findings)",
                    if args.dry_run { "would import" } else { "imported" },
                    path.display(),
                    item.title,
                    item.timeline_events,
                    item.actions,
                    item.kept_sections.len(),
                    item.findings.len()
                );
                for finding in &item.findings {
                    println!("  {}: \"{}\" — {}", finding.rule, finding.excerpt, finding.message);
                }
            });
        }
    }
    bar.finish_and_clear();
    Ok(ExitCode::SUCCESS)
}

/// Names the file in a one-line error ("notes.md: timeline line 12: …").
fn in_file(path: &Path, error: ServiceError) -> anyhow::Error {
    let detail = match &error {
        ServiceError::Invalid(fields) => fields
            .iter()
            .map(|f| format!("{} {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    };
    anyhow::anyhow!("{}: {detail}", path.display())
}

/// Copies a backup into a fresh data directory and opens it once (which applies newer
/// migrations), refusing a directory that already holds anything.
pub async fn restore(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let mut header = [0u8; 16];
    std::fs::File::open(&args.file)
        .and_then(|mut f| f.read_exact(&mut header))
        .with_context(|| format!("reading {}", args.file.display()))?;
    if &header != b"SQLite format 3\0" {
        anyhow::bail!("{} is not a SQLite backup", args.file.display());
    }
    let existed = args.data_dir.exists();
    if existed
        && std::fs::read_dir(&args.data_dir)
            .with_context(|| format!("reading {}", args.data_dir.display()))?
            .next()
            .is_some()
    {
        anyhow::bail!(
            "{} is not empty: restore into a new or empty directory",
            args.data_dir.display()
        );
    }
    private_files::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let outcome = restore_into(&args).await;
    if outcome.is_err() {
        // Leave nothing half-restored behind.
        let _ = if existed {
            std::fs::read_dir(&args.data_dir).map(|entries| {
                for entry in entries.flatten() {
                    let _ = std::fs::remove_file(entry.path());
                }
            })
        } else {
            std::fs::remove_dir_all(&args.data_dir)
        };
    }
    outcome
}

async fn restore_into(args: &RestoreArgs) -> anyhow::Result<ExitCode> {
    let database = args.data_dir.join("failforward.db");
    // Copied into a file created 0600 (`fs::copy` would carry over the backup's mode).
    std::fs::File::open(&args.file)
        .and_then(|mut backup| {
            let mut copy = private_files::create_new(&database)?;
            std::io::copy(&mut backup, &mut copy)?;
            copy.sync_all()
        })
        .with_context(|| format!("copying {}", args.file.display()))?;
    if let Some(key) = &args.secret_key_file {
        let bytes = std::fs::read(key).with_context(|| format!("reading {}", key.display()))?;
        let target = args.data_dir.join("secret.key");
        private_files::create_new(&target)
            .and_then(|mut f| f.write_all(&bytes))
            .with_context(|| format!("writing {}", target.display()))?;
    }
    let storage = StorageSettings::in_dir(&args.data_dir);
    let service = open_service(&storage, Policy::default()).await?;
    service
        .store()
        .ping()
        .await
        .context("checking the restored database")?;
    println!(
        "restored {} into {}",
        args.file.display(),
        database.display()
    );
    if args.secret_key_file.is_none() {
        println!("copy the old DATA_DIR/secret.key (or set secret_key) before serving: sealed contributions need it");
    }
    Ok(ExitCode::SUCCESS)
}
