//! The contract between the portable statements and a database backend.
//!
//! The `portable_<area>.rs` files are compiled once inside `sqlite.rs` and once inside
//! `postgres.rs` (see the module documentation of [`super`]). Everything they need that differs
//! between the databases is a method of [`BackendHooks`] (pools, how a write transaction begins,
//! how a capture is written, locking, review announcements, health and backups) or of
//! [`FullText`] (the full-text engine). Stated as traits rather than as a list in a comment, so
//! that a third backend — or a test double — fails to compile until it provides all of them, and
//! the portable files name the contract they rely on.
//!
//! The traits are crate-private on purpose: they mention sqlx types, and only `store` may know
//! SQL. Their methods are plain `async fn`s: each is called on the concrete backend type, so the
//! futures need no boxing and keep their `Send`-ness.

use std::path::Path;

use sqlx::{Pool, Transaction};

use super::loops::NewLoop;
use super::memory::{Candidate, SearchRequest};
use super::{Backend, StoreResult};
use crate::domain::TeamId;

/// What the portable statements need from a backend beyond SQL that reads the same on both.
pub(crate) trait BackendHooks: Send + Sync + Sized {
    /// The sqlx driver; the portable files bind and read the same Rust types through it.
    type Db: sqlx::Database;

    /// Appended to a `SELECT` that claims rows of work (outbox events, webhook deliveries) inside
    /// a write transaction, so that concurrent claimers skip each other's rows instead of
    /// waiting or taking them twice; empty where a single writer already serialises the claims.
    const CLAIM_LOCK: &'static str;

    /// Connections for reads (SQLite: read-only connections beside the single writer).
    fn reader(&self) -> &Pool<Self::Db>;

    /// Connections for writes outside a transaction (SQLite: the single writer).
    fn writer(&self) -> &Pool<Self::Db>;

    /// A transaction that already holds what its writes need: SQLite begins `IMMEDIATE`, so it
    /// never has to upgrade a read lock (which fails at once instead of waiting).
    async fn begin_write(&self) -> Result<Transaction<'static, Self::Db>, sqlx::Error>;

    /// Writes a captured loop with its tags and first history entry; returns once it is
    /// committed (SQLite: in a group commit with the captures of the same moment).
    async fn write_new_loop(&self, new: &NewLoop) -> StoreResult<()>;

    /// Serialises membership changes of one team for the rest of `tx` (the "keeps one lead"
    /// guard). SQLite's single writer already does.
    async fn lock_team(
        tx: &mut Transaction<'static, Self::Db>,
        team: TeamId,
    ) -> Result<(), sqlx::Error>;

    /// Tells every live client of every instance that review session `id` is now at `version`.
    async fn announce_review(&self, id: &str, version: i64) -> Result<(), sqlx::Error>;

    /// The announcements [`Self::announce_review`] makes, as this instance receives them.
    fn review_events(&self) -> &tokio::sync::broadcast::Sender<(String, i64)>;

    /// Notified after a commit that wrote outbox events (SQLite: by the writer connection's
    /// commit hook; PostgreSQL: by `NOTIFY` from a trigger, so every instance hears it).
    fn outbox_committed(&self) -> &std::sync::Arc<tokio::sync::Notify>;

    fn backend_kind(&self) -> Backend;

    /// Whether the database answers (the readiness check).
    async fn ping_database(&self) -> StoreResult<()>;

    /// A read replica that has replayed every commit acknowledged before the call
    /// ([`super::Store::caught_up_replica`]); SQLite has none.
    async fn replica_caught_up(&self) -> Option<std::sync::Arc<dyn super::Store>>;

    /// A consistent copy of the database at `destination`, readable by its owner only, or
    /// `Unsupported` where the database's own tools do it better.
    async fn backup_database(&self, destination: &Path) -> StoreResult<()>;
}

/// The full-text engine behind `MemoryStore::search` (FTS5 on SQLite, tsvector on PostgreSQL;
/// ARCHITECTURE.md, "Search"). The portable search sorts the candidates, cuts the page and
/// reads each hit's details; these three steps are the engine's.
pub(crate) trait FullText: Send + Sync {
    /// The newest `request.candidates` matches the filter allows, scored (higher is better),
    /// and whether there were more.
    async fn search_candidates(
        &self,
        request: &SearchRequest<'_>,
    ) -> StoreResult<(Vec<Candidate>, bool)>;

    /// Fills in what each candidate of the page is, where the candidate query left it out
    /// (SQLite reads only document ids and scores; PostgreSQL has it already).
    async fn search_meta(&self, page: &mut [Candidate]) -> StoreResult<()>;

    /// The highlighted title and snippet of each candidate of the page, in its order.
    async fn search_snippets(
        &self,
        request: &SearchRequest<'_>,
        page: &[Candidate],
    ) -> StoreResult<Vec<(String, String)>>;
}
