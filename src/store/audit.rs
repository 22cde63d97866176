//! The audit log's store side: what a listing asks for, and the sessions "Your sessions" lists.
//! Entries of a change are written by the store method that makes the change, in its
//! transaction (`portable_audit::insert_audit`); these are the log's own statements.

use async_trait::async_trait;
use time::OffsetDateTime;

pub use crate::domain::audit::{AuditEntry, AuditRecord};
use crate::domain::UserId;

use super::StoreResult;

/// Which entries to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor: Option<UserId>,
    /// Inclusive.
    pub from: Option<OffsetDateTime>,
    /// Exclusive.
    pub until: Option<OffsetDateTime>,
    pub limit: i64,
}

/// One open browser session of a person, as "Your sessions" lists it.
#[derive(Debug, Clone)]
pub struct SessionListing {
    pub token_hash: String,
    pub created_at: OffsetDateTime,
    /// Midnight UTC of the last day of use: the only precision kept.
    pub last_seen_at: OffsetDateTime,
    pub user_agent: Option<String>,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Writes an entry that belongs to no database change of its own (a failed sign-in, an
    /// export, a backup).
    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    async fn audit_entries(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>>;
    /// Deletes entries older than `before`; returns how many.
    async fn prune_audit(&self, before: OffsetDateTime) -> StoreResult<u64>;
    async fn sessions_listing(&self, user: UserId) -> StoreResult<Vec<SessionListing>>;
    /// Ends one session of `user` (none of anyone else's); false when there was none.
    async fn end_session(
        &self,
        user: UserId,
        token_hash: &str,
        audit: &AuditEntry,
    ) -> StoreResult<bool>;
    /// Ends every session of `user` but `keep`, and with `revoke_tokens` revokes every token
    /// too, in one transaction with its entry; returns the sessions and tokens ended.
    async fn end_sessions_of(
        &self,
        user: UserId,
        keep: Option<&str>,
        revoke_tokens: bool,
        audit: &AuditEntry,
    ) -> StoreResult<(u64, u64)>;
}
