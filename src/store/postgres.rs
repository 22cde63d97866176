//! The PostgreSQL backend, for deployments with several stateless app servers sharing one database.

use std::path::Path;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::Transaction;

use super::{Backend, StoreError, StoreResult};
use crate::domain::TeamId;

// The portable statements are compiled once per backend on purpose (see store/mod.rs).
#[allow(clippy::duplicate_mod)]
#[path = "portable_loops.rs"]
mod portable_loops;
#[allow(clippy::duplicate_mod)]
#[path = "portable_people.rs"]
mod portable_people;

type Db = sqlx::Postgres;
type ThisStore = PostgresStore;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The PostgreSQL implementation of [`super::Store`].
pub struct PostgresStore {
    pool: PgPool,
}

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
        Ok(Self { pool })
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
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
    /// same moment. Called in the transaction that writes an anonymous loop, this rewrites every
    /// anonymous loop of the same day (with its tags and creation entry) in random order: all of
    /// them then carry this transaction's id, and their physical order is shuffled. Old row
    /// versions are left to VACUUM; reading those takes page-level access to the data files.
    async fn hide_anonymous_order(
        tx: &mut Transaction<'static, Db>,
        day: i64,
    ) -> Result<(), sqlx::Error> {
        use rand::seq::SliceRandom;
        let mut ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM loops WHERE anonymous AND created_at = $1")
                .bind(day)
                .fetch_all(&mut **tx)
                .await?;
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
