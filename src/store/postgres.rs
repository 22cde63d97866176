//! The PostgreSQL backend, for deployments with several stateless app servers sharing one database.

use std::path::Path;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::Transaction;

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

#[path = "search_postgres.rs"]
mod search;

type Db = sqlx::Postgres;
type ThisStore = PostgresStore;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The PostgreSQL implementation of [`super::Store`].
pub struct PostgresStore {
    pool: PgPool,
    /// Review-session changes from every instance, fed by a `LISTEN` task.
    review_events: tokio::sync::broadcast::Sender<(String, i64)>,
}

/// The PostgreSQL channel on which instances announce review-session changes.
const REVIEW_CHANNEL: &str = "failforward_review";

impl PostgresStore {
    /// Connects and applies pending migrations. sqlx takes an advisory lock while migrating, so
    /// several instances starting at once apply each migration exactly once.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        MIGRATOR.run(&pool).await?;
        let review_events = tokio::sync::broadcast::channel(1024).0;
        let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
        listener.listen(REVIEW_CHANNEL).await?;
        let sender = review_events.clone();
        tokio::spawn(async move {
            // `recv` reconnects by itself when the connection drops.
            loop {
                match listener.recv().await {
                    Ok(notification) => {
                        if let Some((id, version)) = notification.payload().split_once(':') {
                            if let Ok(version) = version.parse() {
                                let _ = sender.send((id.to_owned(), version));
                            }
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "listening for review changes");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(Self {
            pool,
            review_events,
        })
    }

    /// Tells every instance (this one included, through its listener) that a session changed.
    async fn announce_review(&self, id: &str, version: i64) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(REVIEW_CHANNEL)
            .bind(format!("{id}:{version}"))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    /// One transaction per captured loop: PostgreSQL commits concurrent transactions together
    /// by itself.
    async fn write_new_loop(&self, new: &crate::store::loops::NewLoop) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        portable_loops::insert_loop(&mut tx, new).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)
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

    /// PostgreSQL stamps every row version with the id of the transaction that wrote it (`xmin`)
    /// and appends new versions in write order (`ctid`), so a database reader could order
    /// anonymous loops by when they were written and match them to other rows written at the
    /// same moment. Called in the transaction that writes an anonymous loop, this rewrites the new
    /// loop together with up to eight other anonymous loops of the same day, chosen at random, in
    /// random order: they then share this transaction's id and a shuffled physical order. At the
    /// end of each day `mix_anonymous_days` rewrites the whole day the same way. Old row versions
    /// are left to VACUUM; reading those takes page-level access to the data files.
    async fn hide_anonymous_order(
        tx: &mut Transaction<'_, Db>,
        day: i64,
        new_id: &str,
    ) -> Result<(), sqlx::Error> {
        // One writer of anonymous rows at a time, so that two rewrites never deadlock.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('failforward:anonymous-loops'))")
            .execute(&mut **tx)
            .await?;
        let mut ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM loops WHERE anonymous AND created_at = $1 AND id <> $2 ORDER BY random() LIMIT 8",
        )
        .bind(day)
        .bind(new_id)
        .fetch_all(&mut **tx)
        .await?;
        ids.push(new_id.to_owned());
        Self::rewrite_anonymous(tx, ids).await
    }

    async fn rewrite_anonymous(
        tx: &mut Transaction<'_, Db>,
        mut ids: Vec<String>,
    ) -> Result<(), sqlx::Error> {
        use rand::seq::SliceRandom;
        ids.shuffle(&mut rand::thread_rng());
        for id in &ids {
            sqlx::query("UPDATE loops SET anonymous = anonymous WHERE id = $1")
                .bind(id)
                .execute(&mut **tx)
                .await?;
            sqlx::query("UPDATE loop_tags SET tag = tag WHERE loop_id = $1")
                .bind(id)
                .execute(&mut **tx)
                .await?;
            sqlx::query(
                "UPDATE loop_stage_changes SET note = note WHERE loop_id = $1 AND from_stage IS NULL",
            )
            .bind(id)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Rewrites, in one transaction and in random order, every anonymous loop of each finished day
    /// not yet mixed, so that a whole day's anonymous loops share one transaction id.
    pub(super) async fn mix_anonymous_days(&self, today: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('failforward:anonymous-loops'))")
            .execute(&mut *tx)
            .await?;
        let mixed: Option<String> = sqlx::query_scalar(
            "SELECT value FROM installation WHERE name = 'anonymous_mixed_until'",
        )
        .fetch_optional(&mut *tx)
        .await?;
        let from: i64 = mixed.and_then(|m| m.parse().ok()).unwrap_or(0);
        if from >= today {
            return Ok(());
        }
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM loops WHERE anonymous AND created_at >= $1 AND created_at < $2",
        )
        .bind(from)
        .bind(today)
        .fetch_all(&mut *tx)
        .await?;
        Self::rewrite_anonymous(&mut tx, ids).await?;
        sqlx::query(
            "INSERT INTO installation (name, value) VALUES ('anonymous_mixed_until', $1) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(today.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    fn backend_kind(&self) -> Backend {
        Backend::Postgres
    }

    async fn ping_database(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn backup_database(&self, _destination: &Path) -> StoreResult<()> {
        Err(StoreError::Unsupported(
            "on PostgreSQL, back up with pg_dump (see README.md, \"Backups\")",
        ))
    }
}
