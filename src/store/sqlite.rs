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
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, Transaction};

use super::backend::BackendHooks;
use super::group_commit::{BatchWriter, GroupCommit};
use super::{Backend, StoreError, StoreResult};
use crate::domain::TeamId;
use crate::private_files;
use crate::store::loops::NewLoop;

// The portable statements are compiled once per backend on purpose (see store/mod.rs).
#[allow(clippy::duplicate_mod)]
#[path = "portable_audit.rs"]
mod portable_audit;

#[allow(clippy::duplicate_mod)]
#[path = "portable_culture.rs"]
mod portable_culture;
#[allow(clippy::duplicate_mod)]
#[path = "portable_events.rs"]
mod portable_events;
#[allow(clippy::duplicate_mod)]
#[path = "portable_expectations.rs"]
mod portable_expectations;
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
#[path = "portable_rituals.rs"]
mod portable_rituals;
#[allow(clippy::duplicate_mod)]
#[path = "portable_scim.rs"]
mod portable_scim;
#[allow(clippy::duplicate_mod)]
#[path = "portable_sealed.rs"]
mod portable_sealed;
#[allow(clippy::duplicate_mod)]
#[path = "portable_sso.rs"]
mod portable_sso;
#[allow(clippy::duplicate_mod)]
#[path = "portable_transfer.rs"]
mod portable_transfer;
#[allow(clippy::duplicate_mod)]
#[path = "portable_webhooks.rs"]
mod portable_webhooks;

#[allow(clippy::duplicate_mod)]
#[path = "portable_alerts.rs"]
mod portable_alerts;

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
    /// While the store is open, its checkpoint task runs (it holds a weak reference).
    _open: std::sync::Arc<()>,
    path: PathBuf,
    options: SqliteConnectOptions,
    reader: SqlitePool,
    writer: SqlitePool,
    /// Review-session changes: one instance serves an SQLite file, so an in-process channel
    /// reaches every live client.
    review_events: tokio::sync::broadcast::Sender<(String, i64)>,
    /// Commits that wrote outbox events (see [`watch_outbox`]).
    outbox_committed: std::sync::Arc<tokio::sync::Notify>,
    /// Captured loops waiting for the next commit (see [`SqliteStore::write_new_loop`]).
    new_loops: GroupCommit<SqliteBatches>,
    /// How many searchable records contain a phrase, by phrase (see `search_sqlite.rs`).
    document_frequencies: search::FrequencyCache,
}

/// How the SQLite writer connection writes a group commit of captures (see
/// [`super::group_commit`]).
struct SqliteBatches;

impl BatchWriter for SqliteBatches {
    type Db = Db;

    async fn write_together(
        connection: &mut PoolConnection<Db>,
        loops: &[&NewLoop],
    ) -> StoreResult<()> {
        let mut loops = loops.to_vec();
        // FTS5 collects a transaction's postings in memory only while document ids rise; a lower
        // one writes what it holds as a segment of its own (and later merges). In document order
        // the batch becomes one segment. The order tells nothing: document ids are random within
        // a day.
        loops.sort_by_key(|new| search::loop_document(new));
        // The whole transaction is one call to the connection's thread (sqlx binds each
        // statement's parameters in turn): under load every round trip waited for a core.
        let mut transaction = sqlx::QueryBuilder::<Db>::new("BEGIN IMMEDIATE; ");
        portable_loops::push_loop_rows(&mut transaction, &loops)?;
        transaction.push("; ");
        if portable_loops::push_loop_tags(&mut transaction, &loops) {
            transaction.push("; ");
        }
        portable_loops::push_loop_histories(&mut transaction, &loops);
        transaction.push("; ");
        if portable_events::push_events(&mut transaction, portable_loops::loop_events(&loops)) {
            transaction.push("; ");
        }
        transaction.push("COMMIT");
        let written = transaction.build().execute(&mut **connection).await;
        if written.is_err() {
            // A statement failed halfway and left the transaction open (when none is open,
            // SQLite refuses the ROLLBACK, which is fine).
            let _ = sqlx::query("ROLLBACK").execute(&mut **connection).await;
        }
        written.map(|_| ()).map_err(StoreError::from_sqlx)
    }

    async fn write_alone(connection: &mut PoolConnection<Db>, new: &NewLoop) -> StoreResult<()> {
        let mut tx = connection.begin_with("BEGIN IMMEDIATE").await?;
        portable_loops::insert_loop(&mut tx, new).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)
    }
}

/// How often the write-ahead log is copied into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Copies committed pages from the write-ahead log into the database file, on a connection of
/// its own, until the store is dropped. A PASSIVE checkpoint never waits for readers or the
/// writer, so captures never wait for it; SQLite's own automatic checkpoint would run inside
/// the commit of whichever capture crossed the threshold. Durability is unchanged: commits are
/// durable once in the log (`synchronous` as configured).
async fn checkpoint_periodically(pool: SqlitePool, open: std::sync::Weak<()>) {
    loop {
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        if open.upgrade().is_none() {
            pool.close().await;
            return;
        }
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::warn!(%error, "checkpointing the write-ahead log failed");
        }
    }
}

/// The functions search needs on every connection (`ff_rank`, see `fts5_rank.rs`).
async fn register_functions(connection: &mut sqlx::SqliteConnection) -> Result<(), sqlx::Error> {
    let mut handle = connection.lock_handle().await?;
    super::fts5_rank::register(handle.as_raw_handle().as_ptr())
        .map_err(|e| sqlx::Error::Configuration(e.into()))
}

/// Makes the writer connection notify `committed` after each transaction that wrote outbox
/// events waiting for dispatch, for the delivery worker (an event written while nobody
/// subscribes is written dispatched, see `portable_events::push_events`, and wakes nobody). `event_outbox` is `WITHOUT ROWID`, for which SQLite calls no
/// update hook, so a temporary trigger marks each insert in a one-row temporary table (memory
/// only: `temp_store` is memory, and it holds no content), whose change the update hook sees; the
/// commit hook then notifies. The commit hook runs just before the commit completes, but a
/// wake-up's dispatch reads through this same single writer connection (`dispatch_events`
/// begins a write transaction), so it cannot start before the commit has ended. A bench's trigger that drops the
/// insert (`RAISE(IGNORE)`) drops the notice with it.
///
/// On a new database the outbox does not exist until the migrations have run: the trigger is
/// then added by the call after them (`open`), and by this one on every later connection.
async fn watch_outbox(
    connection: &mut sqlx::SqliteConnection,
    committed: std::sync::Arc<tokio::sync::Notify>,
) -> Result<(), sqlx::Error> {
    let outbox_exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM main.sqlite_master \
         WHERE type = 'table' AND name = 'event_outbox')",
    )
    .fetch_one(&mut *connection)
    .await?;
    if !outbox_exists {
        return Ok(());
    }
    sqlx::query("CREATE TEMP TABLE IF NOT EXISTS outbox_written (id INTEGER PRIMARY KEY)")
        .execute(&mut *connection)
        .await?;
    sqlx::query(
        "CREATE TEMP TRIGGER IF NOT EXISTS outbox_written_mark \
         AFTER INSERT ON main.event_outbox WHEN NOT NEW.dispatched \
         BEGIN INSERT OR REPLACE INTO outbox_written (id) VALUES (1); END",
    )
    .execute(&mut *connection)
    .await?;
    let written = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut handle = connection.lock_handle().await?;
    let on_write = written.clone();
    handle.set_update_hook(move |change| {
        if change.table == "outbox_written" {
            on_write.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let on_commit = written.clone();
    handle.set_commit_hook(move || {
        if on_commit.swap(false, std::sync::atomic::Ordering::Relaxed) {
            committed.notify_one();
        }
        // Let the commit go ahead.
        true
    });
    handle.set_rollback_hook(move || written.store(false, std::sync::atomic::Ordering::Relaxed));
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub async fn open(path: &Path, options: &SqliteOptions) -> StoreResult<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            private_files::create_dir_all(parent)?;
        }
        // SQLite gives its WAL and shared-memory files the database file's mode, so a database
        // created 0600 keeps all three private; files of earlier versions are narrowed.
        match private_files::create_new(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e.into()),
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            private_files::restrict(Path::new(&file))?;
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
            .pragma("secure_delete", "on")
            // Statement journals (a multi-row INSERT whose triggers may fail halfway) stay in
            // memory: no temporary file to write per capture batch, and no copy of anonymous
            // rows in a deleted file.
            .pragma("temp_store", "memory")
            // 16 MiB of pages per connection (SQLite's default is 2): search and capture touch
            // many pages of large indexes, and each page not cached is a system call.
            .pragma("cache_size", "-16384");
        let outbox_committed = std::sync::Arc::new(tokio::sync::Notify::new());
        let committed = outbox_committed.clone();
        // A connection to a local file cannot go stale, and sqlx's check before handing one out
        // is a round trip to the connection's thread on every query: off for every pool.
        let writer = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(1)
            .after_connect(move |connection, _| {
                let committed = committed.clone();
                Box::pin(async move {
                    register_functions(connection).await?;
                    watch_outbox(connection, committed).await
                })
            })
            // Checkpoints run beside the writer (see `checkpoint_periodically`), not inside a
            // commit that a capture is waiting for.
            .connect_with(connect.clone().pragma("wal_autocheckpoint", "0"))
            .await?;
        MIGRATOR.run(&writer).await?;
        watch_outbox(&mut *writer.acquire().await?, outbox_committed.clone()).await?;
        let reader = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(options.read_connections.max(1))
            .after_connect(|connection, _| Box::pin(register_functions(connection)))
            .connect_with(connect.clone().read_only(true))
            .await?;
        let checkpointer = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(1)
            .connect_with(connect.clone())
            .await?;
        let open = std::sync::Arc::new(());
        tokio::spawn(checkpoint_periodically(
            checkpointer,
            std::sync::Arc::downgrade(&open),
        ));
        Ok(Self {
            _open: open,
            path: path.to_owned(),
            options: connect,
            reader,
            new_loops: GroupCommit::new(writer.clone()),
            writer,
            review_events: tokio::sync::broadcast::channel(1024).0,
            outbox_committed,
            document_frequencies: Default::default(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl BackendHooks for SqliteStore {
    type Db = Db;

    /// The single writer connection already serialises every claim.
    const CLAIM_LOCK: &'static str = "";

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Db>, sqlx::Error> {
        self.writer.begin_with("BEGIN IMMEDIATE").await
    }

    /// Group commit for captures ([`super::group_commit`]): SQLite has one writer, and a commit
    /// waits for the disk.
    async fn write_new_loop(&self, new: &NewLoop) -> StoreResult<()> {
        self.new_loops.write(new).await
    }

    /// SQLite has one writer at a time, and `BEGIN IMMEDIATE` already holds the write lock.
    async fn lock_team(
        _tx: &mut Transaction<'static, Db>,
        _team: TeamId,
    ) -> Result<(), sqlx::Error> {
        Ok(())
    }

    async fn announce_review(&self, id: &str, version: i64) -> Result<(), sqlx::Error> {
        // Nobody listening is fine.
        let _ = self.review_events.send((id.to_owned(), version));
        Ok(())
    }

    fn review_events(&self) -> &tokio::sync::broadcast::Sender<(String, i64)> {
        &self.review_events
    }

    fn outbox_committed(&self) -> &std::sync::Arc<tokio::sync::Notify> {
        &self.outbox_committed
    }

    fn backend_kind(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping_database(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn replica_caught_up(&self) -> Option<std::sync::Arc<dyn super::Store>> {
        None
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
        // VACUUM INTO accepts an empty file: created here, it is the owner's only.
        private_files::create_new(destination)?;
        let written = async {
            let mut connection = sqlx::SqliteConnection::connect_with(&self.options).await?;
            sqlx::query("VACUUM INTO $1")
                .bind(target)
                .execute(&mut connection)
                .await?;
            connection.close().await
        }
        .await;
        if let Err(e) = written {
            let _ = std::fs::remove_file(destination);
            return Err(e.into());
        }
        Ok(())
    }
}
