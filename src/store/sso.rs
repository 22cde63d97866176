//! Single sign-on's store side: the settings an admin saved, sign-ins started and not yet
//! finished, and the links between a person at the OpenID Connect provider (issuer, subject)
//! and an account. Every change is written with its audit entries in one transaction.

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
    /// The hash of the invitation token the sign-in was started from, to accept on return.
    pub invitation_hash: Option<String>,
    pub created_at: OffsetDateTime,
}

/// The single sign-on settings row an admin saved (the settings file's values are not in it).
/// Text as the service wrote it: it parses it back; the client secret is sealed.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSsoSettings {
    pub enabled: bool,
    pub issuer_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret_sealed: Option<String>,
    /// Space-separated.
    pub scopes: String,
    pub groups_claim: Option<String>,
    /// One `group=team:role` a line.
    pub group_teams: String,
    pub sso_only: bool,
    pub break_glass_email: Option<String>,
    pub updated_at: OffsetDateTime,
}

impl std::fmt::Debug for StoredSsoSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSsoSettings")
            .field("enabled", &self.enabled)
            .field("issuer_url", &self.issuer_url)
            .finish_non_exhaustive()
    }
}

/// The account a provider identity is linked to.
#[derive(Debug, Clone)]
pub struct SsoLinkedUser {
    pub user: User,
    pub deactivated: bool,
}

#[async_trait]
pub trait SsoStore: Send + Sync {
    /// The saved settings; `None` until an admin first saves them.
    async fn sso_settings(&self) -> StoreResult<Option<StoredSsoSettings>>;
    /// Replaces the saved settings, with the audit entry of the change.
    async fn save_sso_settings(
        &self,
        settings: &StoredSsoSettings,
        audit: &AuditEntry,
    ) -> StoreResult<()>;
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
