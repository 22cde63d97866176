//! Who is asking, and what they may see.

use crate::domain::{Team, TeamRole, TeamSlug, User, UserId};

use super::{Service, ServiceError, ServiceResult};

/// A signed-in person making a request, by session or by API token.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user: User,
    /// The hash of the session this request came with (`None` for API tokens).
    pub(crate) session_hash: Option<String>,
}

impl Actor {
    pub fn id(&self) -> UserId {
        self.user.id
    }

    pub fn is_admin(&self) -> bool {
        self.user.is_admin
    }

    /// Refuses people who are not organisation admins.
    pub fn require_admin(&self) -> ServiceResult<()> {
        if self.user.is_admin {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(
                "only organisation admins can do this".to_owned(),
            ))
        }
    }
}

/// Proof that an actor may see one team's data: they are a member, or an organisation admin.
///
/// The fields are private and the only constructor is [`Service::team_access`], so every use case
/// that takes a `TeamAccess` has passed the membership check.
#[derive(Debug, Clone)]
pub struct TeamAccess {
    team: Team,
    role: Option<TeamRole>,
    actor: UserId,
    actor_name: String,
    actor_is_admin: bool,
}

impl TeamAccess {
    pub fn team(&self) -> &Team {
        &self.team
    }

    /// The actor's role in the team; `None` for an admin who is not a member.
    pub fn role(&self) -> Option<TeamRole> {
        self.role
    }

    pub fn actor(&self) -> UserId {
        self.actor
    }

    pub fn actor_name(&self) -> &str {
        &self.actor_name
    }

    pub fn is_member(&self) -> bool {
        self.role.is_some()
    }

    pub fn is_lead(&self) -> bool {
        self.role == Some(TeamRole::Lead)
    }

    /// Leads and organisation admins manage members, invitations and settings.
    pub fn can_manage(&self) -> bool {
        self.is_lead() || self.actor_is_admin
    }

    /// Organisation admins see every team's data (search, similar loops, dashboards).
    pub fn can_see_every_team(&self) -> bool {
        self.actor_is_admin
    }

    pub(crate) fn require_manage(&self) -> ServiceResult<()> {
        if self.can_manage() {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(
                "only the team's leads and organisation admins can do this".to_owned(),
            ))
        }
    }
}

impl Service {
    /// Checks that `actor` may see the team at `slug`. A team the actor may not see answers
    /// `NotFound`, exactly like a team that does not exist, so that names do not leak.
    pub async fn team_access(&self, actor: &Actor, slug: &str) -> ServiceResult<TeamAccess> {
        let slug = TeamSlug::parse(slug).map_err(|_| ServiceError::NotFound)?;
        let (team, role) = self
            .store
            .team_with_role(&slug, actor.id())
            .await?
            .ok_or(ServiceError::NotFound)?;
        if role.is_none() && !actor.is_admin() {
            return Err(ServiceError::NotFound);
        }
        Ok(TeamAccess {
            team,
            role,
            actor: actor.id(),
            actor_name: actor.user.name.to_string(),
            actor_is_admin: actor.is_admin(),
        })
    }
}
