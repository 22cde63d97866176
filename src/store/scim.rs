//! SCIM provisioning's store side: the organisation's SCIM token, the accounts and groups (teams)
//! an identity provider manages. Every change is written with its audit entry in one transaction;
//! nothing here reads or writes a contribution, so anonymous ones stay unlinkable.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::domain::audit::AuditEntry;
use crate::domain::{DisplayName, Email, TeamId, TeamName, UserId};

use super::{NewUser, StoreResult};
pub use crate::domain::records::scim::{
    ScimGroupRecord, ScimTokenInfo, ScimUserFilter, ScimUserRecord,
};

/// The whole state of an account after a SCIM PUT or PATCH.
#[derive(Debug, Clone)]
pub struct ScimUserState {
    pub id: UserId,
    pub user_name: String,
    pub email: Email,
    pub name: DisplayName,
    pub external_id: Option<String>,
    pub active: bool,
    pub now: OffsetDateTime,
}

/// The whole state of a group after a SCIM PUT or PATCH.
#[derive(Debug, Clone)]
pub struct ScimGroupState {
    pub team: TeamId,
    pub name: TeamName,
    pub external_id: Option<String>,
    pub members: Vec<UserId>,
    pub now: OffsetDateTime,
}

#[async_trait]
pub trait ScimStore: Send + Sync {
    /// The hash of the organisation's SCIM token, when one was made.
    async fn scim_token_hash(&self) -> StoreResult<Option<String>>;
    /// Replaces the organisation's SCIM token (the old one stops working at once).
    async fn set_scim_token(
        &self,
        hash: &str,
        prefix: &str,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> StoreResult<()>;
    /// The current token's recognisable start and when it was made (never the token).
    async fn scim_token_info(&self) -> StoreResult<Option<ScimTokenInfo>>;
    /// Deletes the organisation's SCIM token; `false` when there was none (nothing audited).
    async fn delete_scim_token(&self, audit: &AuditEntry) -> StoreResult<bool>;
    async fn scim_users(&self, filter: &ScimUserFilter) -> StoreResult<Vec<ScimUserRecord>>;
    /// Creates an account without a local password.
    async fn scim_create_user(
        &self,
        user: &NewUser,
        user_name: &str,
        external_id: Option<&str>,
        audit: &AuditEntry,
    ) -> StoreResult<()>;
    /// Writes the account's new state; an inactive account's sessions end and its tokens are
    /// revoked in the same transaction. Returns the sessions and tokens ended.
    async fn scim_save_user(
        &self,
        state: &ScimUserState,
        audit: &AuditEntry,
    ) -> StoreResult<(u64, u64)>;
    /// Deactivates the account and hides it from SCIM; its contributions stay.
    async fn scim_delete_user(
        &self,
        id: UserId,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> StoreResult<bool>;
    async fn scim_groups(
        &self,
        id: Option<TeamId>,
        name: Option<&str>,
    ) -> StoreResult<Vec<ScimGroupRecord>>;
    /// Creates the team of a new group with `members` as plain members.
    async fn scim_create_group(
        &self,
        team: &crate::domain::Team,
        external_id: Option<&str>,
        members: &[UserId],
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> StoreResult<()>;
    /// Renames the team and brings its members to `state.members`; refuses to remove its last lead.
    async fn scim_save_group(&self, state: &ScimGroupState, audit: &AuditEntry) -> StoreResult<()>;
    /// Unlinks the team from SCIM; the team, its members and its loops stay.
    async fn scim_delete_group(&self, team: TeamId, audit: &AuditEntry) -> StoreResult<bool>;
}
