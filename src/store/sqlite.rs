//! The embedded SQLite backend: one file in the data directory, no server to run.
//!
//! Writes go through a pool of exactly one connection and begin with `BEGIN IMMEDIATE`: SQLite
//! allows one writer at a time anyway, and a deferred transaction that upgrades from read to write
//! fails at once with SQLITE_BUSY instead of waiting (`busy_timeout` does not cover that case).
//! Reads use a separate pool of read-only connections, which WAL mode lets run beside the writer.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, Transaction};

use super::{Backend, StoreError, StoreResult};
use crate::domain::TeamId;

// The portable statements are compiled once per backend on purpose (see store/mod.rs).
#[allow(clippy::duplicate_mod)]
#[path = "portable_culture.rs"]
mod portable_culture;
#[allow(clippy::duplicate_mod)]
#[path = "portable_experiments.rs"]
mod portable_experiments;
#[allow(clippy::duplicate_mod)]
#[path = "portable_lint.rs"]
mod portable_lint;
#[allow(clippy::duplicate_mod)]
#[path = "portable_loops.rs"]
mod portable_loops;
#[allow(clippy::duplicate_mod)]
#[path = "portable_memory.rs"]
mod portable_memory;
#[allow(clippy::duplicate_mod)]
#[path = "portable_people.rs"]
mod portable_people;
#[allow(clippy::duplicate_mod)]
#[path = "portable_review.rs"]
mod portable_review;
#[allow(clippy::duplicate_mod)]
#[path = "portable_sealed.rs"]
mod portable_sealed;
#[allow(clippy::duplicate_mod)]
#[path = "portable_transfer.rs"]
mod portable_transfer;

#[path = "search_sqlite.rs"]
mod search;

type Db = sqlx::Sqlite;
type ThisStore = SqliteStore;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How hard SQLite works to keep a commit after a crash (the `synchronous` pragma, in WAL mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// `synchronous=FULL`: a commit is on disk before it is acknowledged, even across power loss.
    Full,
    /// `synchronous=NORMAL`: survives an application crash; a power loss may roll back the last
    /// commits. Faster on slow disks.
    Normal,
}

impl FromStr for Durability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "full" => Ok(Durability::Full),
            "normal" => Ok(Durability::Normal),
            other => Err(format!(
                "unknown durability {other:?}: use \"full\" or \"normal\""
            )),
        }
    }
}

/// SQLite settings that a deployment may change.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    pub durability: Durability,
    pub busy_timeout: Duration,
    pub read_connections: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Full,
            busy_timeout: Duration::from_secs(5),
            read_connections: 4,
        }
    }
}

/// The SQLite implementation of [`super::Store`].
pub struct SqliteStore {
    path: PathBuf,
    options: SqliteConnectOptions,
    reader: SqlitePool,
    writer: SqlitePool,
    /// Review-session changes: one instance serves an SQLite file, so an in-process channel
    /// reaches every live client.
    review_events: tokio::sync::broadcast::Sender<(String, i64)>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub async fn open(path: &Path, options: &SqliteOptions) -> StoreResult<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match options.durability {
                Durability::Full => SqliteSynchronous::Full,
                Durability::Normal => SqliteSynchronous::Normal,
            })
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout)
            // Deleted content is overwritten, so removed or rewritten anonymous data cannot be
            // recovered from free pages of the file.
            .pragma("secure_delete", "on");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(connect.clone())
            .await?;
        MIGRATOR.run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(options.read_connections.max(1))
            .connect_with(connect.clone().read_only(true))
            .await?;
        Ok(Self {
            path: path.to_owned(),
            options: connect,
            reader,
            writer,
            review_events: tokio::sync::broadcast::channel(1024).0,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Db>, sqlx::Error> {
        self.writer.begin_with("BEGIN IMMEDIATE").await
    }

    /// SQLite has one writer at a time, and `BEGIN IMMEDIATE` already holds the write lock.
    async fn lock_team(
        _tx: &mut Transaction<'static, Db>,
        _team: TeamId,
    ) -> Result<(), sqlx::Error> {
        Ok(())
    }

    /// Anonymous rows already sit in random order: every table they touch is keyed by a random
    /// value (see migrations/sqlite/0002_loops.sql), and SQLite keeps no transaction ids.
    async fn hide_anonymous_order(
        _tx: &mut Transaction<'static, Db>,
        _day: i64,
        _new_id: &str,
    ) -> Result<(), sqlx::Error> {
        Ok(())
    }

    /// Nothing to mix: see `hide_anonymous_order`.
    async fn mix_anonymous_days(&self, _today: i64) -> StoreResult<()> {
        Ok(())
    }

    /// Sealed items sit in random order already (WITHOUT ROWID, random keys).
    async fn hide_sealed_order(
        _tx: &mut Transaction<'static, Db>,
        _box_id: &str,
    ) -> Result<(), sqlx::Error> {
        Ok(())
    }

    /// Pulse answers sit in random order already (WITHOUT ROWID, random keys).
    async fn hide_pulse_order(
        _tx: &mut Transaction<'static, Db>,
        _round: &str,
    ) -> Result<(), sqlx::Error> {
        Ok(())
    }

    async fn announce_review(&self, id: &str, version: i64) -> Result<(), sqlx::Error> {
        // Nobody listening is fine.
        let _ = self.review_events.send((id.to_owned(), version));
        Ok(())
    }

    fn backend_kind(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping_database(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    /// `VACUUM INTO` on a connection of its own: it reads one consistent snapshot (WAL lets the
    /// writer go on meanwhile) and writes a compact copy.
    async fn backup_database(&self, destination: &Path) -> StoreResult<()> {
        if destination.exists() {
            return Err(StoreError::Io(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} already exists", destination.display()),
            )));
        }
        let target = destination
            .to_str()
            .ok_or(StoreError::Unsupported("backup path must be valid UTF-8"))?;
        let mut connection = sqlx::SqliteConnection::connect_with(&self.options).await?;
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&mut connection)
            .await?;
        connection.close().await?;
        Ok(())
    }
}
