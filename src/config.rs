//! Settings: command-line flags, then `FAILFORWARD_*` environment variables, then an optional TOML
//! file, then built-in defaults — the first that gives a value wins. Every setting is listed in
//! README.md ("Configuration").

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

use crate::domain::sso::{GroupMapping, SsoValues};
use crate::domain::Email;
use crate::service::Policy;
use crate::store::{Durability, SqliteOptions};
use crate::telemetry::LogFormat;

/// Where the data lives; every command that opens the database takes these.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct StorageArgs {
    /// TOML file with settings [default: ./failforward.toml when it exists]
    #[arg(long, env = "FAILFORWARD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database and backups [default: ./failforward-data]
    #[arg(long, env = "FAILFORWARD_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// postgres://… to use PostgreSQL instead of the embedded SQLite database
    #[arg(
        long,
        env = "FAILFORWARD_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// postgres://… straight to PostgreSQL, for what a pooler in transaction mode cannot carry
    /// (LISTEN for live updates, the migrations' advisory lock) [default: the database URL]
    #[arg(
        long,
        env = "FAILFORWARD_DATABASE_DIRECT_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_direct_url: Option<String>,
    /// postgres://… of a streaming replica for search, the health dashboard, the library and
    /// exports; a read goes there once it has replayed every commit made before it [default: none]
    #[arg(
        long,
        env = "FAILFORWARD_DATABASE_READ_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_read_url: Option<String>,
    /// SQLite durability: "full" (fsync on every commit) or "normal" [default: full]
    #[arg(
        long,
        env = "FAILFORWARD_SQLITE_DURABILITY",
        value_name = "full|normal"
    )]
    pub sqlite_durability: Option<Durability>,
}

/// The server's secret (only `serve` needs it).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SecretArgs {
    /// The secret that seals contributions until their reveal (at least 32 characters; the same
    /// on every instance) [default: DATA_DIR/secret.key, created on first start]
    #[arg(
        long,
        env = "FAILFORWARD_SECRET_KEY",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub secret_key: Option<String>,
}

/// Settings of the web server.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(flatten)]
    pub secret: SecretArgs,
    /// Address and port to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "FAILFORWARD_BIND", value_name = "ADDR")]
    pub bind: Option<SocketAddr>,
    /// The address people use to reach the app, for links and secure cookies
    /// (https://… behind a TLS proxy) [default: http://BIND]
    #[arg(long, env = "FAILFORWARD_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Log format: "text" or "json" [default: text]
    #[arg(long, env = "FAILFORWARD_LOG_FORMAT", value_name = "text|json")]
    pub log_format: Option<LogFormat>,
    /// Log filter, e.g. "info" or "failforward=debug" [default: info]
    #[arg(long, env = "FAILFORWARD_LOG_LEVEL", value_name = "FILTER")]
    pub log_level: Option<String>,
    /// Minutes without a request after which a session ends [default: 720]
    #[arg(long, env = "FAILFORWARD_SESSION_IDLE_MINUTES", value_name = "MINUTES")]
    pub session_idle_minutes: Option<u64>,
    /// Hours after sign-in after which a session ends however active [default: 336]
    #[arg(long, env = "FAILFORWARD_SESSION_ABSOLUTE_HOURS", value_name = "HOURS")]
    pub session_absolute_hours: Option<u64>,
    /// Days an invitation link stays valid [default: 7]
    #[arg(long, env = "FAILFORWARD_INVITATION_DAYS", value_name = "DAYS")]
    pub invitation_days: Option<u64>,
    /// Sign-in attempts allowed per account and client within the window [default: 10]
    #[arg(long, env = "FAILFORWARD_LOGIN_MAX_FAILURES", value_name = "N")]
    pub login_max_failures: Option<u32>,
    /// Length of the sign-in throttling window in minutes [default: 15]
    #[arg(long, env = "FAILFORWARD_LOGIN_WINDOW_MINUTES", value_name = "MINUTES")]
    pub login_window_minutes: Option<u64>,
    /// Take the client address from the last X-Forwarded-For entry (only behind a proxy that
    /// sets it) [default: false]
    #[arg(long, env = "FAILFORWARD_TRUST_FORWARDED_FOR", value_name = "BOOL")]
    pub trust_forwarded_for: Option<bool>,
    /// Let webhooks reach loopback, private and link-local addresses and plain http (a receiver
    /// on the same host or network; never on a server that can reach cloud metadata)
    /// [default: false]
    #[arg(long, env = "FAILFORWARD_WEBHOOKS_ALLOW_PRIVATE", value_name = "BOOL")]
    pub webhooks_allow_private: Option<bool>,
    /// Minutes within which a re-fired alert adds to its loop instead of opening a new one
    /// [default: 1440]
    #[arg(long, env = "FAILFORWARD_ALERT_DEDUP_MINUTES", value_name = "MINUTES")]
    pub alert_dedup_minutes: Option<u32>,
    /// Days dispatched events and webhook delivery attempts are kept before they are deleted
    /// [default: 30]
    #[arg(long, env = "FAILFORWARD_WEBHOOK_RETENTION_DAYS", value_name = "DAYS")]
    pub webhook_retention_days: Option<u32>,

    /// Days audit log entries are kept before they are deleted [default: 365]
    #[arg(long, env = "FAILFORWARD_AUDIT_RETENTION_DAYS", value_name = "DAYS")]
    pub audit_retention_days: Option<u32>,

    /// Seconds a stopping server (SIGTERM) keeps serving while `/readyz` answers 503, so that a
    /// load balancer polling it stops sending new requests before the server stops accepting
    /// them [default: 0]
    #[arg(
        long,
        env = "FAILFORWARD_SHUTDOWN_DRAIN_SECONDS",
        value_name = "SECONDS"
    )]
    pub shutdown_drain_seconds: Option<u64>,

    /// OpenID Connect: whether sign-in through the provider is on [default: on when the
    /// issuer URL is configured here, else as the admin page says]
    #[arg(long, env = "FAILFORWARD_OIDC_ENABLED", value_name = "BOOL")]
    pub oidc_enabled: Option<bool>,
    /// OpenID Connect: the provider's issuer URL (or set it on the admin page)
    #[arg(long, env = "FAILFORWARD_OIDC_ISSUER_URL", value_name = "URL")]
    pub oidc_issuer_url: Option<String>,
    /// OpenID Connect: this app's client id at the provider
    #[arg(long, env = "FAILFORWARD_OIDC_CLIENT_ID", value_name = "ID")]
    pub oidc_client_id: Option<String>,
    /// OpenID Connect: this app's client secret at the provider
    #[arg(
        long,
        env = "FAILFORWARD_OIDC_CLIENT_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub oidc_client_secret: Option<String>,
    /// OpenID Connect: the ID token claim listing the person's groups (e.g. "groups")
    #[arg(long, env = "FAILFORWARD_OIDC_GROUPS_CLAIM", value_name = "CLAIM")]
    pub oidc_groups_claim: Option<String>,
    /// OpenID Connect: group→team mappings, `group=team-slug:role` (role "lead" or "member"),
    /// comma-separated [default: none]
    #[arg(
        long,
        env = "FAILFORWARD_OIDC_GROUP_TEAMS",
        value_name = "GROUP=TEAM:ROLE,…",
        value_delimiter = ','
    )]
    pub oidc_group_teams: Option<Vec<String>>,
    /// OpenID Connect: scopes to ask for beyond "openid email profile" (e.g. "groups"),
    /// comma-separated [default: none]
    #[arg(
        long,
        env = "FAILFORWARD_OIDC_SCOPES",
        value_name = "SCOPE,…",
        value_delimiter = ','
    )]
    pub oidc_scopes: Option<Vec<String>>,
    /// Refuse local passwords, except for the break-glass admin [default: false]
    #[arg(long, env = "FAILFORWARD_OIDC_SSO_ONLY", value_name = "BOOL")]
    pub oidc_sso_only: Option<bool>,
    /// The one account that may still sign in with a password when SSO-only is on
    #[arg(long, env = "FAILFORWARD_OIDC_BREAK_GLASS_EMAIL", value_name = "EMAIL")]
    pub oidc_break_glass_email: Option<String>,
}

/// The optional TOML file. Keys are the long flag names with underscores.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    database_direct_url: Option<String>,
    database_read_url: Option<String>,
    sqlite_durability: Option<Durability>,
    bind: Option<SocketAddr>,
    public_url: Option<String>,
    log_format: Option<LogFormat>,
    log_level: Option<String>,
    session_idle_minutes: Option<u64>,
    session_absolute_hours: Option<u64>,
    invitation_days: Option<u64>,
    login_max_failures: Option<u32>,
    login_window_minutes: Option<u64>,
    trust_forwarded_for: Option<bool>,
    webhooks_allow_private: Option<bool>,
    alert_dedup_minutes: Option<u32>,
    webhook_retention_days: Option<u32>,
    audit_retention_days: Option<u32>,
    shutdown_drain_seconds: Option<u64>,
    secret_key: Option<String>,
    oidc_enabled: Option<bool>,
    oidc_issuer_url: Option<String>,
    oidc_client_id: Option<String>,
    oidc_client_secret: Option<String>,
    oidc_groups_claim: Option<String>,
    oidc_group_teams: Option<Vec<String>>,
    oidc_scopes: Option<Vec<String>>,
    oidc_sso_only: Option<bool>,
    oidc_break_glass_email: Option<String>,
    /// Read by `failforward loop …`, not by the server; accepted so one file serves both.
    #[allow(dead_code)]
    server: Option<String>,
    #[allow(dead_code)]
    token: Option<String>,
}

fn load_file(explicit: Option<&Path>) -> anyhow::Result<FileSettings> {
    let default = Path::new("failforward.toml");
    let path = match explicit {
        Some(path) => path,
        None if default.exists() => default,
        None => return Ok(FileSettings::default()),
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading settings file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("settings file {}", path.display()))
}

/// Where the data lives, resolved.
#[derive(Debug, Clone)]
pub struct StorageSettings {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    /// A direct PostgreSQL connection for `LISTEN` and migrations when `database_url` goes
    /// through a pooler; `None`: `database_url` serves for both.
    pub database_direct_url: Option<String>,
    /// A PostgreSQL streaming replica for the heavy reads; `None`: everything reads the primary.
    pub database_read_url: Option<String>,
    pub sqlite: SqliteOptions,
}

/// Everything `serve` needs, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub storage: StorageSettings,
    pub bind: SocketAddr,
    /// `None` means "derive from the address actually bound".
    pub public_url: Option<String>,
    pub log_format: LogFormat,
    pub log_level: String,
    pub policy: Policy,
    pub trust_forwarded_for: bool,
    /// `None`: read or create `DATA_DIR/secret.key`.
    pub secret_key: Option<String>,
    /// How long a stopping server reads not-ready while it still serves (see
    /// [`crate::app::Application::run_until`]).
    pub shutdown_drain: Duration,
}

pub use crate::domain::sso::OidcClientSettings;

/// Single sign-on's values from the flags, environment and file, each locking its field on the
/// admin page. An issuer given here without `oidc_enabled` turns single sign-on on, as it did
/// before the admin page existed.
fn resolve_sso(args: &ServeArgs, file: &FileSettings) -> anyhow::Result<SsoValues> {
    let text = |flag: &Option<String>, file: &Option<String>| {
        flag.clone()
            .or_else(|| file.clone())
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    };
    let issuer_url = text(&args.oidc_issuer_url, &file.oidc_issuer_url);
    if let Some(issuer_url) = &issuer_url {
        if !(issuer_url.starts_with("http://") || issuer_url.starts_with("https://")) {
            anyhow::bail!(
                "oidc_issuer_url must start with http:// or https://, got {issuer_url:?}"
            );
        }
    }
    let group_teams = args
        .oidc_group_teams
        .clone()
        .or_else(|| file.oidc_group_teams.clone())
        .map(|lines| {
            lines
                .iter()
                .filter(|line| !line.trim().is_empty())
                .map(|line| {
                    GroupMapping::parse(line)
                        .map_err(|e| anyhow::anyhow!("oidc_group_teams entry {line:?} {}", e.0))
                })
                .collect::<anyhow::Result<Vec<_>>>()
        })
        .transpose()?;
    let break_glass_email = text(&args.oidc_break_glass_email, &file.oidc_break_glass_email)
        .map(|email| {
            Email::parse(&email)
                .map_err(|e| anyhow::anyhow!("oidc_break_glass_email {email:?} {}", e.0))
        })
        .transpose()?;
    let enabled = args
        .oidc_enabled
        .or(file.oidc_enabled)
        .or(issuer_url.as_ref().map(|_| true));
    Ok(SsoValues {
        enabled,
        issuer_url,
        client_id: text(&args.oidc_client_id, &file.oidc_client_id),
        client_secret: args
            .oidc_client_secret
            .clone()
            .or_else(|| file.oidc_client_secret.clone())
            .filter(|secret| !secret.is_empty()),
        scopes: args
            .oidc_scopes
            .clone()
            .or_else(|| file.oidc_scopes.clone())
            .map(|scopes| {
                scopes
                    .into_iter()
                    .map(|scope| scope.trim().to_owned())
                    .filter(|scope| !scope.is_empty())
                    .collect()
            }),
        groups_claim: text(&args.oidc_groups_claim, &file.oidc_groups_claim),
        group_teams,
        sso_only: args.oidc_sso_only.or(file.oidc_sso_only),
        break_glass_email,
    })
}

impl StorageSettings {
    pub fn resolve(args: &StorageArgs) -> anyhow::Result<Self> {
        let file = load_file(args.config.as_deref())?;
        Ok(Self::merge(args, &file))
    }

    fn merge(args: &StorageArgs, file: &FileSettings) -> Self {
        Self {
            data_dir: args
                .data_dir
                .clone()
                .or_else(|| file.data_dir.clone())
                .unwrap_or_else(|| PathBuf::from("failforward-data")),
            database_url: args
                .database_url
                .clone()
                .or_else(|| file.database_url.clone()),
            database_direct_url: args
                .database_direct_url
                .clone()
                .or_else(|| file.database_direct_url.clone()),
            database_read_url: args
                .database_read_url
                .clone()
                .or_else(|| file.database_read_url.clone()),
            sqlite: SqliteOptions {
                durability: args
                    .sqlite_durability
                    .or(file.sqlite_durability)
                    .unwrap_or(Durability::Full),
                ..SqliteOptions::default()
            },
        }
    }

    /// A data directory of its own in a fresh temporary place; for tests and benchmarks.
    pub fn in_dir(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_owned(),
            database_url: None,
            database_direct_url: None,
            database_read_url: None,
            sqlite: SqliteOptions::default(),
        }
    }
}

impl Settings {
    pub fn resolve(args: &ServeArgs) -> anyhow::Result<Self> {
        let file = load_file(args.storage.config.as_deref())?;
        let storage = StorageSettings::merge(&args.storage, &file);
        let defaults = Policy::default();
        let minutes = |m: u64| Duration::from_secs(m * 60);
        let sso = resolve_sso(args, &file)?;
        let policy = Policy {
            public_url: String::new(),
            session_idle: args
                .session_idle_minutes
                .or(file.session_idle_minutes)
                .map(minutes)
                .unwrap_or(defaults.session_idle),
            session_absolute: args
                .session_absolute_hours
                .or(file.session_absolute_hours)
                .map(|h| minutes(h * 60))
                .unwrap_or(defaults.session_absolute),
            invitation_valid_for: args
                .invitation_days
                .or(file.invitation_days)
                .map(|d| minutes(d * 24 * 60))
                .unwrap_or(defaults.invitation_valid_for),
            setup_link_valid_for: defaults.setup_link_valid_for,
            login_max_failures: args
                .login_max_failures
                .or(file.login_max_failures)
                .unwrap_or(defaults.login_max_failures),
            login_window: args
                .login_window_minutes
                .or(file.login_window_minutes)
                .map(minutes)
                .unwrap_or(defaults.login_window),
            login_account_max_failures: defaults.login_account_max_failures,
            held_limits: defaults.held_limits,
            webhooks_allow_private: args
                .webhooks_allow_private
                .or(file.webhooks_allow_private)
                .unwrap_or(defaults.webhooks_allow_private),
            alert_dedup_window: args
                .alert_dedup_minutes
                .or(file.alert_dedup_minutes)
                .map(|minutes| time::Duration::minutes(i64::from(minutes)))
                .unwrap_or(defaults.alert_dedup_window),
            webhook_retention: args
                .webhook_retention_days
                .or(file.webhook_retention_days)
                .map(|days| time::Duration::days(i64::from(days)))
                .unwrap_or(defaults.webhook_retention),
            audit_retention: args
                .audit_retention_days
                .or(file.audit_retention_days)
                .map(|days| time::Duration::days(i64::from(days)))
                .unwrap_or(defaults.audit_retention),
            webhook_poll_interval: defaults.webhook_poll_interval,
            sso_configured: sso,
        };
        if policy.audit_retention.is_zero() {
            anyhow::bail!("audit_retention_days must be at least 1");
        }
        if policy.webhook_retention.is_zero() {
            anyhow::bail!("webhook_retention_days must be at least 1");
        }
        if policy.session_idle.is_zero() || policy.session_absolute.is_zero() {
            anyhow::bail!("session timeouts must be at least one minute");
        }
        let public_url = args.public_url.clone().or_else(|| file.public_url.clone());
        if let Some(url) = &public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                anyhow::bail!("public_url must start with http:// or https://, got {url:?}");
            }
        }
        Ok(Self {
            storage,
            bind: args
                .bind
                .or(file.bind)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            public_url,
            log_format: args.log_format.or(file.log_format).unwrap_or_default(),
            log_level: args
                .log_level
                .clone()
                .or_else(|| file.log_level.clone())
                .unwrap_or_else(|| "info".to_owned()),
            policy,
            trust_forwarded_for: args
                .trust_forwarded_for
                .or(file.trust_forwarded_for)
                .unwrap_or(false),
            secret_key: args.secret.secret_key.clone().or(file.secret_key.clone()),
            shutdown_drain: Duration::from_secs(
                args.shutdown_drain_seconds
                    .or(file.shutdown_drain_seconds)
                    .unwrap_or(0),
            ),
        })
    }

    /// The server secret: the configured one, or the one in `DATA_DIR/secret.key` (created with
    /// 32 random bytes, readable by the owner only, on first use).
    pub fn secret(&self) -> anyhow::Result<Vec<u8>> {
        if let Some(secret) = &self.secret_key {
            if secret.chars().count() < 32 {
                anyhow::bail!("secret_key must be at least 32 characters long");
            }
            return Ok(secret.as_bytes().to_vec());
        }
        let path = self.storage.data_dir.join("secret.key");
        match std::fs::read(&path) {
            Ok(bytes) if bytes.len() >= 32 => Ok(bytes),
            Ok(_) => anyhow::bail!("{} is shorter than 32 bytes", path.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                use rand::RngCore;
                crate::private_files::create_dir_all(&self.storage.data_dir)
                    .with_context(|| format!("creating {}", self.storage.data_dir.display()))?;
                let mut bytes = vec![0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut bytes);
                write_private(&path, &bytes)?;
                Ok(bytes)
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Settings for a server on a free port over `storage`; for tests and benchmarks.
    pub fn for_tests(storage: StorageSettings) -> Self {
        Self {
            storage,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_url: None,
            log_format: LogFormat::Text,
            log_level: "warn".to_owned(),
            policy: Policy::default(),
            trust_forwarded_for: false,
            secret_key: None,
            shutdown_drain: Duration::ZERO,
        }
    }
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = crate::private_files::create_new(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_file_and_file_beats_defaults() {
        let file: FileSettings = toml::from_str(
            "data_dir = \"/from/file\"\nbind = \"0.0.0.0:9000\"\nsession_idle_minutes = 5\n",
        )
        .expect("valid toml");
        let args = StorageArgs {
            data_dir: Some(PathBuf::from("/from/flag")),
            ..StorageArgs::default()
        };
        let storage = StorageSettings::merge(&args, &file);
        assert_eq!(storage.data_dir, PathBuf::from("/from/flag"));
        let storage = StorageSettings::merge(&StorageArgs::default(), &file);
        assert_eq!(storage.data_dir, PathBuf::from("/from/file"));
        let storage = StorageSettings::merge(&StorageArgs::default(), &FileSettings::default());
        assert_eq!(storage.data_dir, PathBuf::from("failforward-data"));
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        assert!(toml::from_str::<FileSettings>("bnid = \"x\"").is_err());
    }
}
