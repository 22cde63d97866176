//! What API tokens, team members and invitations read as (see `records`).

use time::OffsetDateTime;

use crate::domain::{ApiTokenId, Email, InvitationId, TeamId, TeamRole, TeamSlug, User};

/// A stored API token, without its secret.
#[derive(Debug, Clone)]
pub struct ApiTokenRecord {
    pub id: ApiTokenId,
    pub name: String,
    pub prefix: String,
    pub created_at: OffsetDateTime,
    /// Kept to the day: finer times would let token use be matched to anonymous submissions.
    pub last_used_on: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// A member of a team as listed on the members page.
#[derive(Debug, Clone)]
pub struct MemberRecord {
    pub user: User,
    pub role: TeamRole,
    pub joined_at: OffsetDateTime,
}

/// A stored invitation with the names needed to show it.
#[derive(Debug, Clone)]
pub struct InvitationRecord {
    pub id: InvitationId,
    pub team: Option<(TeamId, TeamSlug, String)>,
    pub role: TeamRole,
    pub email: Option<Email>,
    pub invited_by_name: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub accepted_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}
