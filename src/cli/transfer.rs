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
    /// Import nothing when any file is refused [default: import every file that can be read]
    #[arg(long)]
    all_or_nothing: bool,
    /// JSON exports, postmortems (Markdown or plain text), folders of them, or .zip, .tar or
    /// .tar.gz archives of them ("-" for standard input)
    #[arg(required = true, value_name = "PATH")]
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

use crate::service::transfer::{IMPORTABLE, SKIPPED};

fn importable(name: &str) -> bool {
    let lower = name.to_lowercase();
    let base = lower.rsplit('/').next().unwrap_or(&lower);
    !base.starts_with('.')
        && base
            .rsplit_once('.')
            .is_some_and(|(_, ext)| IMPORTABLE.contains(&ext))
}

/// One input of a bulk import: its name and bytes, or why it could not be read.
struct Input {
    name: String,
    bytes: Result<Vec<u8>, String>,
}

/// Expands the command line's paths: files as given, folders walked in name order, archives
/// opened; standard input for "-".
fn collect_inputs(paths: &[PathBuf]) -> Vec<Input> {
    let mut out = Vec::new();
    for path in paths {
        let name = path.display().to_string();
        if path.as_os_str() == "-" {
            let mut bytes = Vec::new();
            let read = std::io::stdin()
                .read_to_end(&mut bytes)
                .map(|_| bytes)
                .map_err(|e| format!("cannot be read: {e}"));
            out.push(Input {
                name: "standard input".to_owned(),
                bytes: read,
            });
        } else if path.is_dir() {
            walk(path, &mut out);
        } else {
            let lower = name.to_lowercase();
            let archive = if lower.ends_with(".zip") {
                Some(unzip(path))
            } else if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") {
                Some(
                    std::fs::File::open(path)
                        .map_err(|e| e.to_string())
                        .and_then(|f| untar(&name, flate2::read::GzDecoder::new(f))),
                )
            } else if lower.ends_with(".tar") {
                Some(
                    std::fs::File::open(path)
                        .map_err(|e| e.to_string())
                        .and_then(|f| untar(&name, f)),
                )
            } else {
                None
            };
            match archive {
                Some(Ok(inputs)) => out.extend(inputs),
                Some(Err(reason)) => out.push(Input {
                    name,
                    bytes: Err(format!("cannot be opened as an archive: {reason}")),
                }),
                None => out.push(Input {
                    bytes: read_limited(path),
                    name,
                }),
            }
        }
    }
    out
}

/// Reads a file, refusing one far beyond any postmortem or export before it is all in memory.
fn read_limited(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot be read: {e}"))?;
    read_bounded(file)
}

/// Reads at most [`READ_LIMIT`] bytes, so that a huge file or an archive entry that unpacks to
/// gigabytes (a zip bomb) is refused instead of filling the memory.
fn read_bounded(reader: impl Read) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    reader
        .take(READ_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.len() as u64 > READ_LIMIT {
        return Err(format!("is larger than {READ_LIMIT} bytes"));
    }
    Ok(bytes)
}

/// The most a file, or one file of an archive, may hold.
const READ_LIMIT: u64 = 256 * 1024 * 1024;

/// One file of an archive, read unless it is not a postmortem or an export.
fn archive_entry(archive: &str, inner: &str, reader: impl Read) -> Input {
    let name = format!("{archive}:{inner}");
    let bytes = if importable(inner) {
        read_bounded(reader)
    } else {
        Err(SKIPPED.to_owned())
    };
    Input { name, bytes }
}

fn walk(dir: &Path, out: &mut Vec<Input>) {
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.flatten().map(|e| e.path()).collect(),
        Err(e) => {
            out.push(Input {
                name: dir.display().to_string(),
                bytes: Err(format!("cannot be read: {e}")),
            });
            return;
        }
    };
    entries.sort();
    for path in entries {
        let name = path.display().to_string();
        if path.is_dir() {
            walk(&path, out);
        } else if importable(&name) {
            out.push(Input {
                bytes: read_limited(&path),
                name,
            });
        } else {
            out.push(Input {
                name,
                bytes: Err(SKIPPED.to_owned()),
            });
        }
    }
}

fn untar(archive: &str, reader: impl Read) -> Result<Vec<Input>, String> {
    let mut out = Vec::new();
    let mut tar = tar::Archive::new(reader);
    for entry in tar.entries().map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let inner = entry
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        out.push(archive_entry(archive, &inner, entry));
    }
    Ok(out)
}

fn unzip(path: &Path) -> Result<Vec<Input>, String> {
    let archive = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for index in 0..zip.len() {
        let mut entry = zip.by_index(index).map_err(|e| e.to_string())?;
        if !entry.is_file() {
            continue;
        }
        let inner = entry.name().to_owned();
        out.push(archive_entry(&archive, &inner, &mut entry));
    }
    Ok(out)
}

/// Imports files, folders and archives with a report line per file: imported (and what was
/// kept unmapped), or refused with the reason. Every file is read before anything is written;
/// with `--all-or-nothing` one refusal imports nothing, otherwise the readable files are
/// imported and the command fails at the end if any was refused.
pub async fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let storage = StorageSettings::resolve(&args.storage)?;
    let service = open_service(&storage, Policy::default()).await?;
    let actor = service.operator_actor(&args.actor).await?;
    let access = service.team_access(&actor, &args.team).await?;
    let inputs = collect_inputs(&args.files);
    let bar = progress(inputs.len() * 2);
    let mut read = Vec::new();
    let mut refused = Vec::new();
    let mut skipped = 0usize;
    for input in inputs {
        bar.inc(1);
        let outcome = input.bytes.and_then(|bytes| {
            service
                .read_file(&access, &input.name, &bytes)
                .map_err(|e| detail(&e).replace(&format!("{}, ", input.name), ""))
        });
        match outcome {
            Ok(batch) => read.push((input.name, batch)),
            Err(reason) if reason == SKIPPED => skipped += 1,
            Err(reason) => refused.push((input.name, reason)),
        }
    }
    let say = |line: String| bar.suspend(|| println!("{line}"));
    if args.all_or_nothing && !refused.is_empty() {
        bar.finish_and_clear();
        for (name, reason) in &refused {
            println!("refused {name}: {reason}");
        }
        let (name, reason) = &refused[0];
        anyhow::bail!(
            "{name}: {reason}: nothing imported ({} of {} files refused)",
            refused.len(),
            refused.len() + read.len()
        );
    }
    let verb = if args.dry_run {
        "would import"
    } else {
        "imported"
    };
    let mut reports = Vec::new();
    if args.all_or_nothing {
        let mut all = transfer::ImportBatch {
            loops: Vec::new(),
            kept_sections: Vec::new(),
        };
        let mut names = Vec::new();
        for (name, batch) in read {
            names.extend(std::iter::repeat_n(name, batch.loops.len()));
            all.loops.extend(batch.loops);
            all.kept_sections.extend(batch.kept_sections);
        }
        let report = service.import_batch(&access, all, args.dry_run).await?;
        bar.inc(names.len() as u64);
        for (name, item) in names.into_iter().zip(report.loops) {
            reports.push((name, item));
        }
    } else {
        for (name, batch) in read {
            match service.import_batch(&access, batch, args.dry_run).await {
                Ok(report) => reports.extend(report.loops.into_iter().map(|l| (name.clone(), l))),
                Err(error) => refused.push((name, detail(&error))),
            }
            bar.inc(1);
        }
    }
    for (name, item) in &reports {
        let kept = if item.kept_sections.is_empty() {
            String::new()
        } else {
            format!("; kept unmapped: {}", item.kept_sections.join(", "))
        };
        say(format!(
            "{verb} {name}: {:?} ({} timeline events, {} actions, {} blameless-language findings{kept})",
            item.title,
            item.timeline_events,
            item.actions,
            item.findings.len(),
        ));
        for finding in &item.findings {
            say(format!(
                "  {}: \"{}\" — {}",
                finding.rule, finding.excerpt, finding.message
            ));
        }
    }
    for (name, reason) in &refused {
        say(format!("refused {name}: {reason}"));
    }
    bar.finish_and_clear();
    let files = reports.len() + refused.len();
    if skipped > 0 {
        println!("skipped {skipped} files that are not postmortems or exports");
    }
    if !refused.is_empty() {
        anyhow::bail!("{} of {files} files refused", refused.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// A service error as one line ("notes.md, line 12: …").
fn detail(error: &ServiceError) -> String {
    match error {
        ServiceError::Invalid(fields) => fields
            .iter()
            .map(|f| format!("{} {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
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
