//! Single sign-on's store side: sign-ins started and not yet finished, and the links between a
//! person at the OpenID Connect provider (issuer, subject) and an account. Every change is
//! written with its audit entries in one transaction.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::domain::audit::AuditEntry;
use crate::domain::{User, UserId};

use super::{NewUser, StoreResult};

/// A sign-in sent to the provider, waiting for its answer.
#[derive(Debug, Clone)]
pub struct SsoPending {
    pub state_hash: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub next_path: String,
    pub created_at: OffsetDateTime,
}

/// The account a provider identity is linked to.
#[derive(Debug, Clone)]
pub struct SsoLinkedUser {
    pub user: User,
    pub deactivated: bool,
}

#[async_trait]
pub trait SsoStore: Send + Sync {
    /// Keeps a started sign-in; pending rows older than `expired_before` are deleted.
    async fn save_sso_pending(
        &self,
        pending: &SsoPending,
        expired_before: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Deletes and returns the pending sign-in with this state, once: a second call finds none.
    async fn take_sso_pending(&self, state_hash: &str) -> StoreResult<Option<SsoPending>>;
    async fn sso_user(&self, issuer: &str, subject: &str) -> StoreResult<Option<SsoLinkedUser>>;
    /// Whether the account is already linked to some subject at this issuer.
    async fn sso_linked_at(&self, user: UserId, issuer: &str) -> StoreResult<bool>;
    /// Whether the account with this id is deactivated (`None`: no such account).
    async fn user_deactivated(&self, user: UserId) -> StoreResult<Option<bool>>;
    /// Links an existing account to the provider identity.
    async fn link_sso_identity(
        &self,
        issuer: &str,
        subject: &str,
        user: UserId,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> StoreResult<()>;
    /// Creates an account without a local password, linked to the provider identity.
    async fn create_sso_user(
        &self,
        user: &NewUser,
        issuer: &str,
        subject: &str,
        audit: &AuditEntry,
    ) -> StoreResult<()>;
}
