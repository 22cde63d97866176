//! What SCIM reads: an account and a group (a team) as the identity provider sees them.

use time::OffsetDateTime;

use crate::domain::{TeamId, TeamName, User, UserId};

/// An account as SCIM sees it.
#[derive(Debug, Clone)]
pub struct ScimUserRecord {
    pub user: User,
    /// The provider's userName; the email for accounts SCIM never wrote.
    pub user_name: String,
    pub external_id: Option<String>,
    pub active: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// Which accounts to list: every one not deleted through SCIM, or those equal to a filter.
#[derive(Debug, Clone, Default)]
pub struct ScimUserFilter {
    pub id: Option<UserId>,
    /// Compared without regard to case.
    pub user_name: Option<String>,
    pub external_id: Option<String>,
}

/// A SCIM group: a team linked to the identity provider, with all its members.
#[derive(Debug, Clone)]
pub struct ScimGroupRecord {
    pub team: TeamId,
    pub name: TeamName,
    pub external_id: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Members with their display name, oldest membership first.
    pub members: Vec<(UserId, String)>,
}

/// What an admin may see of the organisation's SCIM token: enough to recognise it in the
/// identity provider's settings, not enough to use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimTokenInfo {
    pub prefix: String,
    pub created_at: OffsetDateTime,
}
