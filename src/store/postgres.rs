//! The PostgreSQL backend, for deployments with several stateless app servers sharing one database.

use std::path::Path;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use sqlx::{Connection, Transaction};

use super::backend::BackendHooks;
use super::group_commit::{BatchWriter, GroupCommit};
use super::loops::NewLoop;
use super::{Backend, StoreError, StoreResult};
use crate::domain::review::ANY_SESSION;
use crate::domain::TeamId;

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

#[path = "search_postgres.rs"]
mod search;

type Db = sqlx::Postgres;
type ThisStore = PostgresStore;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The PostgreSQL implementation of [`super::Store`].
pub struct PostgresStore {
    pool: PgPool,
    /// The same schema on a streaming replica, for the heavy reads; its own `replica` is `None`.
    replica: Option<std::sync::Arc<PostgresStore>>,
    /// Until when heavy reads skip a replica that did not answer: each would otherwise wait
    /// for the replica pool's connect timeout before reading the primary.
    replica_skipped_until: std::sync::Mutex<Option<tokio::time::Instant>>,
    /// Review-session changes from every instance, fed by a `LISTEN` task.
    review_events: tokio::sync::broadcast::Sender<(String, i64)>,
    /// Commits that wrote outbox events, in any instance, fed by the same `LISTEN` task.
    outbox_committed: std::sync::Arc<tokio::sync::Notify>,
    /// Captured loops waiting for the next commit (see [`PostgresStore::write_new_loop`]).
    new_loops: GroupCommit<PostgresBatches>,
}

/// How a PostgreSQL connection writes a group commit of captures (see [`super::group_commit`]).
struct PostgresBatches;

impl BatchWriter for PostgresBatches {
    type Db = Db;

    async fn write_together(
        connection: &mut PoolConnection<Db>,
        loops: &[&NewLoop],
    ) -> StoreResult<()> {
        let mut loops = loops.to_vec();
        // The dashboards' counters run at commit in the order the rows were written, each loop
        // taking the organisation's row of its day and then its team's: by day and team, every
        // batch takes those row locks in the same order as every other, on any instance.
        loops.sort_by_cached_key(|new| {
            (
                new.created_at.unix_timestamp().div_euclid(86_400),
                new.team_id.to_string(),
            )
        });
        let mut tx = connection.begin().await?;
        portable_loops::insert_loops(&mut tx, &loops).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)
    }

    async fn write_alone(connection: &mut PoolConnection<Db>, new: &NewLoop) -> StoreResult<()> {
        let mut tx = connection.begin().await?;
        portable_loops::insert_loop(&mut tx, new).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)
    }
}

/// The PostgreSQL channel on which instances announce review-session changes.
const REVIEW_CHANNEL: &str = "failforward_review";

/// The channel a trigger on `event_outbox` notifies (migration 0048). PostgreSQL delivers a
/// `NOTIFY` only when its transaction commits, so a notice never arrives before its events are
/// visible, and never for a change that rolled back.
const OUTBOX_CHANNEL: &str = "failforward_outbox";

impl PostgresStore {
    /// Connects and applies pending migrations. sqlx takes an advisory lock while migrating, so
    /// several instances starting at once apply each migration exactly once. The migrations and
    /// the `LISTEN` connection use `direct_url` when it is given: session-level advisory locks
    /// and `LISTEN` do not survive a pooler in transaction mode.
    pub async fn connect(url: &str, urls: &super::PostgresUrls<'_>) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        let direct = match urls.direct {
            // One connection listens; one more for the migrations at start.
            Some(direct_url) => {
                PgPoolOptions::new()
                    .max_connections(2)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(direct_url)
                    .await?
            }
            None => pool.clone(),
        };
        MIGRATOR.run(&direct).await?;
        let review_events = tokio::sync::broadcast::channel(1024).0;
        let outbox_committed = std::sync::Arc::new(tokio::sync::Notify::new());
        let listener = review_listener(&direct).await?;
        tokio::spawn(listen_for_review_changes(
            direct,
            listener,
            review_events.clone(),
            outbox_committed.clone(),
        ));
        let replica = match urls.read {
            Some(read_url) => Some(std::sync::Arc::new(Self::replica(read_url)?)),
            None => None,
        };
        Ok(Self {
            new_loops: GroupCommit::new(pool.clone()),
            pool,
            replica,
            replica_skipped_until: std::sync::Mutex::new(None),
            review_events,
            outbox_committed,
        })
    }

    /// A store on a streaming replica: reads only, no migrations (the primary's arrive by
    /// replication), nobody listening. Connects lazily, so an instance starts while the replica
    /// is down and reads the primary meanwhile. A read that cannot have a connection within
    /// 1 s (the replica down, or every connection busy) reads the primary instead.
    fn replica(read_url: &str) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(1))
            .connect_lazy(read_url)?;
        Ok(Self {
            new_loops: GroupCommit::new(pool.clone()),
            pool,
            replica: None,
            replica_skipped_until: std::sync::Mutex::new(None),
            review_events: tokio::sync::broadcast::channel(1).0,
            outbox_committed: std::sync::Arc::new(tokio::sync::Notify::new()),
        })
    }
}

/// How long a heavy read waits for the replica to replay the primary's latest commits before it
/// reads the primary instead. Streaming replication usually trails by milliseconds; a replica
/// further behind (a long query holding replay back, a network hiccup) sends reads home.
const REPLICA_CATCH_UP: Duration = Duration::from_millis(100);

/// How long heavy reads go to the primary after the replica failed to answer.
const REPLICA_RETRY: Duration = Duration::from_secs(10);

/// A `LISTEN` connection on the review and outbox channels.
async fn review_listener(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener
        .listen_all([REVIEW_CHANNEL, OUTBOX_CHANNEL])
        .await?;
    Ok(listener)
}

/// Forwards review-change notices to this instance's live streams, and outbox commits to its
/// delivery worker, for ever. When the `LISTEN` connection is lost (the database restarted, a
/// network cut), the notices sent meanwhile are gone: once listening again, it sends
/// [`ANY_SESSION`] so that every live stream reads its version afresh, and wakes the worker.
async fn listen_for_review_changes(
    pool: PgPool,
    listener: PgListener,
    sender: tokio::sync::broadcast::Sender<(String, i64)>,
    outbox_committed: std::sync::Arc<tokio::sync::Notify>,
) {
    let mut listener = Some(listener);
    loop {
        let mut current = match listener.take() {
            Some(current) => current,
            None => match review_listener(&pool).await {
                Ok(rebuilt) => {
                    tracing::info!("listening for review changes again");
                    let _ = sender.send((ANY_SESSION.to_owned(), 0));
                    outbox_committed.notify_one();
                    rebuilt
                }
                Err(error) => {
                    tracing::warn!(%error, "listening for review changes again failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        loop {
            match current.try_recv().await {
                Ok(Some(notification)) if notification.channel() == OUTBOX_CHANNEL => {
                    outbox_committed.notify_one();
                }
                Ok(Some(notification)) => {
                    if let Some((id, version)) = notification.payload().split_once(':') {
                        if let Ok(version) = version.parse() {
                            let _ = sender.send((id.to_owned(), version));
                        }
                    }
                }
                // The connection dropped and the listener has already listened again on a new
                // one (sqlx reconnects eagerly).
                Ok(None) => {
                    tracing::info!("listening for review changes again");
                    let _ = sender.send((ANY_SESSION.to_owned(), 0));
                    outbox_committed.notify_one();
                }
                Err(error) => {
                    tracing::warn!(%error, "listening for review changes");
                    break;
                }
            }
        }
        // A fresh listener rather than the failed one, whose connection may be half dead.
        drop(current);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

impl BackendHooks for PostgresStore {
    type Db = Db;

    const CLAIM_LOCK: &'static str = " FOR UPDATE SKIP LOCKED";

    /// Tells every instance (this one included, through its listener) that a session changed.
    async fn announce_review(&self, id: &str, version: i64) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(REVIEW_CHANNEL)
            .bind(format!("{id}:{version}"))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    fn review_events(&self) -> &tokio::sync::broadcast::Sender<(String, i64)> {
        &self.review_events
    }

    fn outbox_committed(&self) -> &std::sync::Arc<tokio::sync::Notify> {
        &self.outbox_committed
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    /// Group commit for captures ([`super::group_commit`]): each commit waits for the WAL
    /// flush and takes the organisation's dashboard row of the day.
    async fn write_new_loop(&self, new: &NewLoop) -> StoreResult<()> {
        self.new_loops.write(new).await
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Db>, sqlx::Error> {
        self.pool.begin().await
    }

    /// Serialises membership changes of one team across transactions and instances.
    async fn lock_team(tx: &mut Transaction<'static, Db>, team: TeamId) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT id FROM teams WHERE id = $1 FOR UPDATE")
            .bind(team.to_string())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    fn backend_kind(&self) -> Backend {
        Backend::Postgres
    }

    async fn ping_database(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Read-your-writes across instances without remembering who wrote what: the primary's
    /// WAL insert position lies after every commit acknowledged before this call (those with
    /// `synchronous_commit = off` too, whose records may not be flushed yet), so a replica that
    /// has replayed that far shows everyone their own writes, and everybody else's.
    async fn replica_caught_up(&self) -> Option<std::sync::Arc<dyn super::Store>> {
        let replica = self.replica.as_ref()?;
        let skipped_until = *self
            .replica_skipped_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if skipped_until.is_some_and(|until| tokio::time::Instant::now() < until) {
            return None;
        }
        let written: String = match sqlx::query_scalar("SELECT pg_current_wal_insert_lsn()::text")
            .fetch_one(&self.pool)
            .await
        {
            Ok(lsn) => lsn,
            Err(error) => {
                tracing::warn!(%error, "could not read the primary's WAL position; reading the primary");
                return None;
            }
        };
        let deadline = tokio::time::Instant::now() + REPLICA_CATCH_UP;
        loop {
            // A server that is not in recovery is no replica of this primary (a promoted one, or
            // the primary itself): never read there.
            let caught_up = sqlx::query_scalar::<_, bool>(
                "SELECT COALESCE(pg_is_in_recovery() AND pg_last_wal_replay_lsn() >= $1::pg_lsn, false)",
            )
            .bind(&written)
            .fetch_one(&replica.pool)
            .await;
            match caught_up {
                Ok(true) => return Some(replica.clone()),
                Ok(false) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Ok(false) => {
                    tracing::debug!(lsn = %written, "the read replica lags; reading the primary");
                    return None;
                }
                Err(error) => {
                    tracing::warn!(
                        %error,
                        "the read replica does not answer; reading the primary for {} s",
                        REPLICA_RETRY.as_secs()
                    );
                    *self
                        .replica_skipped_until
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) =
                        Some(tokio::time::Instant::now() + REPLICA_RETRY);
                    return None;
                }
            }
        }
    }

    async fn backup_database(&self, _destination: &Path) -> StoreResult<()> {
        Err(StoreError::Unsupported(
            "on PostgreSQL, back up with pg_dump (see README.md, \"Backups\")",
        ))
    }
}
