//! The command line: `serve` and the operator's commands. Errors end in a one-line message on
//! standard error and a non-zero exit code.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

mod audit;
mod client;
mod cv;
mod expectations;
mod experiments;
mod lint;
mod loops;
mod mirror;
mod rituals;
mod search;
mod transfer;
mod webhooks;

use crate::app::{open_service, Application};
use crate::config::{ServeArgs, Settings, StorageArgs, StorageSettings};
use crate::service::{Policy, ServiceError};
use crate::telemetry;

/// failforward — practise intelligent failure: detect, analyse, apply, continue.
#[derive(Debug, Parser)]
#[command(name = "failforward", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    client: client::ClientArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web app and the JSON API
    Serve(Box<ServeArgs>),
    /// Create or upgrade the database schema, then exit
    Migrate(StorageArgs),
    /// Headless administration
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Write a consistent copy of the SQLite database while the server runs
    Backup(BackupArgs),
    /// Restore a backup into a new, empty data directory
    Restore(transfer::RestoreArgs),
    /// Export a loop, a team or the organisation (JSON, Markdown or CSV) from the local database
    Export(transfer::ExportArgs),
    /// Import JSON exports and postmortems (Markdown or plain text; files, folders, archives) into
    /// a team of the local database
    Import(transfer::ImportArgs),
    /// Print the version
    Version,
    /// Work with the learning loop on a running server (uses --server and --token)
    Loop(loops::LoopArgs),
    /// Design, list and conclude experiments on a running server (uses --server and --token)
    Experiment(experiments::ExperimentArgs),
    /// Show, download, publish or unpublish your own failure CV on a running server (uses
    /// --server and --token)
    Cv(cv::CvArgs),
    /// Manage signed webhook subscriptions and their deliveries on a running server (uses
    /// --server and --token)
    Webhook(webhooks::WebhookArgs),
    /// Search the loops, learnings, factors, actions and experiments you may see on a running
    /// server (uses --server and --token)
    Search(search::SearchArgs),
    /// Show a team's dynamics mirror for a quarter on a running server (uses --server and
    /// --token)
    Mirror(mirror::MirrorArgs),
    /// List or export the organisation's audit log on a running server (admins; uses --server
    /// and --token)
    Audit(audit::AuditArgs),
    /// Schedule a team's failure-share ritual, share in its round, show or close it on a
    /// running server (uses --server and --token)
    Ritual(rituals::RitualArgs),
    /// List a team's expectations, add one (leads), acknowledge or comment on one on a running
    /// server (uses --server and --token)
    Expectation(expectations::ExpectationArgs),
    /// Point out blame-laden wording in a text (exit 1 when there are findings, 2 on error)
    Lint(lint::LintArgs),
    /// Measure the blameless-language linter on a labelled corpus
    LintEval(lint::EvalArgs),
    /// Train the linter's model from the corpus in the source tree (for maintainers)
    #[command(hide = true)]
    LintTrain(lint::TrainArgs),
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an account (and, for the first admin, the organisation)
    CreateUser(CreateUserArgs),
    /// Create a personal API token and print only the token
    CreateToken(CreateTokenArgs),
    /// Create or rotate the organisation's SCIM bearer token and print only the token (the
    /// previous one stops working at once)
    ScimToken(ScimTokenArgs),
}

#[derive(Debug, clap::Args)]
struct ScimTokenArgs {
    #[command(flatten)]
    storage: StorageArgs,
}

#[derive(Debug, clap::Args)]
struct CreateUserArgs {
    #[command(flatten)]
    storage: StorageArgs,
    /// The account's email address
    #[arg(long)]
    email: String,
    /// The name other people see
    #[arg(long)]
    name: String,
    /// Make the account an organisation admin
    #[arg(long)]
    admin: bool,
    /// Read the password from the first line of standard input
    #[arg(long)]
    password_stdin: bool,
    /// The organisation's name, when this first admin creates it [default: failforward]
    #[arg(long, value_name = "NAME")]
    organisation: Option<String>,
}

#[derive(Debug, clap::Args)]
struct CreateTokenArgs {
    #[command(flatten)]
    storage: StorageArgs,
    /// Email of the account the token acts as
    #[arg(long)]
    email: String,
    /// A name to recognise the token by
    #[arg(long, default_value = "created by failforward admin create-token")]
    token_name: String,
}

#[derive(Debug, clap::Args)]
struct BackupArgs {
    #[command(flatten)]
    storage: StorageArgs,
    /// Where to write the copy [default: DATA_DIR/backups/failforward-YYYYMMDD-HHMMSS.db]
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Runs the command line and turns its outcome into an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: starting the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", one_line(&error));
            ExitCode::FAILURE
        }
    }
}

/// Joins an error and its causes into one line ("opening the database: permission denied").
fn one_line(error: &anyhow::Error) -> String {
    if let Some(ServiceError::Invalid(fields)) = error.downcast_ref::<ServiceError>() {
        return fields
            .iter()
            .map(|f| format!("{} {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; ");
    }
    error
        .chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
        .replace('\n', " ")
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Migrate(args) => {
            let storage = StorageSettings::resolve(&args)?;
            open_service(&storage, Policy::default()).await?;
            println!("database is up to date");
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin(AdminCommand::CreateUser(args)) => create_user(args).await,
        Command::Admin(AdminCommand::CreateToken(args)) => {
            let storage = StorageSettings::resolve(&args.storage)?;
            let service = open_service(&storage, Policy::default()).await?;
            let token = service
                .create_api_token_directly(&args.email, &args.token_name)
                .await?;
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin(AdminCommand::ScimToken(args)) => {
            let storage = StorageSettings::resolve(&args.storage)?;
            let service = open_service(&storage, Policy::default()).await?;
            let (token, _) = service.rotate_scim_token(None).await?;
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup(args) => backup(args).await,
        Command::Restore(args) => transfer::restore(args).await,
        Command::Export(args) => transfer::export(args).await,
        Command::Import(args) => transfer::import(args).await,
        Command::Loop(args) => loops::run(args, &cli.client).await,
        Command::Experiment(args) => experiments::run(args, &cli.client).await,
        Command::Cv(args) => cv::run(args, &cli.client).await,
        Command::Webhook(args) => webhooks::run(args, &cli.client).await,
        Command::Search(args) => search::run(args, &cli.client).await,
        Command::Mirror(args) => mirror::run(args, &cli.client).await,
        Command::Audit(args) => audit::run(args, &cli.client).await,
        Command::Ritual(args) => rituals::run(args, &cli.client).await,
        Command::Expectation(args) => expectations::run(args, &cli.client).await,
        Command::Lint(args) => Ok(lint::run(&args)),
        Command::LintEval(args) => Ok(lint::evaluate_corpus(&args)),
        Command::LintTrain(args) => Ok(lint::train(&args)),
        Command::Version => {
            println!("failforward {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings::resolve(&args)?;
    telemetry::init(settings.log_format, &settings.log_level);
    let application = Application::build(settings).await?;
    tracing::info!(url = application.url(), "failforward is listening");
    // Written with errors ignored: a closed standard output must not stop the server.
    let mut banner = format!("failforward is running at {}\n", application.url());
    if let Some(link) = application.setup_link() {
        banner.push_str(&format!(
            "\nFirst run: open this one-time link to create your organisation and admin account:\n  {link}\n(valid for 24 hours; restarting the server prints a new one)\n"
        ));
    }
    let mut stdout = std::io::stdout();
    let _ = stdout
        .write_all(banner.as_bytes())
        .and_then(|()| stdout.flush());
    application.run().await?;
    Ok(ExitCode::SUCCESS)
}

async fn create_user(args: CreateUserArgs) -> anyhow::Result<ExitCode> {
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    } else if std::io::stdin().is_terminal() {
        anyhow::bail!("pass the password on standard input with --password-stdin");
    } else {
        anyhow::bail!("--password-stdin is required to read the password");
    };
    let storage = StorageSettings::resolve(&args.storage)?;
    let service = open_service(&storage, Policy::default()).await?;
    let user = service
        .create_user_directly(
            &args.email,
            &args.name,
            &password,
            args.admin,
            args.organisation.as_deref(),
        )
        .await?;
    println!(
        "created {}{} ({})",
        user.email,
        if user.is_admin { ", admin" } else { "" },
        user.id
    );
    Ok(ExitCode::SUCCESS)
}

async fn backup(args: BackupArgs) -> anyhow::Result<ExitCode> {
    let storage = StorageSettings::resolve(&args.storage)?;
    let output = match args.output {
        Some(path) => path,
        None => {
            let now = time::OffsetDateTime::now_utc();
            let stamp = now
                .format(time::macros::format_description!(
                    "[year][month][day]-[hour][minute][second]"
                ))
                .context("formatting the time")?;
            let dir = storage.data_dir.join("backups");
            crate::private_files::create_dir_all(&dir)
                .with_context(|| format!("creating {}", dir.display()))?;
            dir.join(format!("failforward-{stamp}.db"))
        }
    };
    let service = open_service(&storage, Policy::default()).await?;
    service
        .store()
        .backup_to(&output)
        .await
        .context("writing the backup")?;
    service
        .record_backup(&output.display().to_string())
        .await
        .context("recording the backup in the audit log")?;
    println!("{}", output.display());
    Ok(ExitCode::SUCCESS)
}
