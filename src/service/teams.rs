//! Teams, their members and invitations.

use time::OffsetDateTime;

use crate::domain::audit::AuditAction;
use crate::domain::text::multi_line;
use crate::domain::{
    DisplayName, Email, InvitationId, Team, TeamId, TeamName, TeamRole, TeamSlug, User, UserId,
};
use crate::store::{Acceptor, InvitationRecord, MemberRecord, NewInvitation, NewUser, StoreError};

use super::accounts::{LoginOutcome, SSO_ONLY_MESSAGE};
use super::error::{FieldErrors, ServiceError, ServiceResult};
use super::{passwords, secrets, Actor, Service, TeamAccess};

/// How many "-2", "-3", … suffixes to try before giving up on a slug.
const SLUG_ATTEMPTS: u32 = 50;

/// A team as listed for someone: with their role, if they are a member.
#[derive(Debug, Clone)]
pub struct TeamSummary {
    pub team: Team,
    pub role: Option<TeamRole>,
}

/// A new invitation and its one-time link (shown once; only its hash is stored).
#[derive(Debug, Clone)]
pub struct CreatedInvitation {
    pub id: InvitationId,
    pub link: String,
    pub role: TeamRole,
    pub expires_at: OffsetDateTime,
}

pub const DESCRIPTION_MAX: usize = 2000;

impl Service {
    /// The entry of an accepted invitation; the store puts the accepting account as its actor.
    pub(super) fn invitation_accepted(
        &self,
        invitation: &InvitationRecord,
    ) -> crate::domain::audit::AuditEntry {
        let place = match &invitation.team {
            Some((_, slug, _)) => format!("team {slug}"),
            None => "the organisation".to_owned(),
        };
        self.audit_entry(
            None,
            AuditAction::InvitationAccepted,
            format!("invitation {}", invitation.id),
            place,
        )
    }
}

fn refused_last_lead(error: StoreError) -> ServiceError {
    match error {
        StoreError::Refused(_) => ServiceError::conflict(
            "role",
            "a team keeps at least one lead: make someone else lead first",
        ),
        other => other.into(),
    }
}

impl Service {
    /// Creates a team with the actor as its first lead. The slug comes from the name; when it is
    /// taken, a numeric suffix is added.
    pub async fn create_team(
        &self,
        actor: &Actor,
        name: &str,
        description: &str,
    ) -> ServiceResult<Team> {
        let mut errors = FieldErrors::default();
        let name = errors.take("name", TeamName::parse(name));
        let description = errors.take(
            "description",
            multi_line(description, DESCRIPTION_MAX, false),
        );
        let (Some(name), Some(description)) = (name, description) else {
            return Err(errors.into());
        };
        let base = TeamSlug::from_name(&name);
        for attempt in 1..=SLUG_ATTEMPTS {
            let slug = if attempt == 1 {
                base.clone()
            } else {
                base.with_suffix(attempt)
            };
            let team = Team {
                id: TeamId::random(),
                slug,
                name: name.clone(),
                description: description.clone(),
                stuck_after_days: 14,
                pulse_min_responses: crate::domain::culture::DEFAULT_MIN_RESPONSES,
            };
            match self.store.create_team(&team, actor.id(), self.now()).await {
                Ok(()) => return Ok(team),
                Err(StoreError::Conflict { constraint }) if constraint.contains("slug") => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(ServiceError::conflict(
            "name",
            "too many teams have a similar name",
        ))
    }

    /// The teams the actor belongs to; admins also see every other team.
    pub async fn teams_for(&self, actor: &Actor) -> ServiceResult<Vec<TeamSummary>> {
        let mine = self.store.teams_of(actor.id()).await?;
        if !actor.is_admin() {
            return Ok(mine
                .into_iter()
                .map(|(team, role)| TeamSummary {
                    team,
                    role: Some(role),
                })
                .collect());
        }
        let all = self.store.all_teams().await?;
        Ok(all
            .into_iter()
            .map(|team| {
                let role = mine.iter().find(|(t, _)| t.id == team.id).map(|(_, r)| *r);
                TeamSummary { team, role }
            })
            .collect())
    }

    pub async fn members(&self, access: &TeamAccess) -> ServiceResult<Vec<MemberRecord>> {
        Ok(self.store.members(access.team().id).await?)
    }

    pub async fn member_count(&self, access: &TeamAccess) -> ServiceResult<i64> {
        Ok(self.store.member_count(access.team().id).await?)
    }

    /// Changes the team's name, description and the days after which a loop counts as stuck.
    pub async fn update_team(
        &self,
        access: &TeamAccess,
        name: &str,
        description: &str,
        stuck_after_days: &str,
    ) -> ServiceResult<Team> {
        access.require_manage()?;
        let mut errors = FieldErrors::default();
        let name = errors.take("name", TeamName::parse(name));
        let description = errors.take(
            "description",
            multi_line(description, DESCRIPTION_MAX, false),
        );
        let days = match stuck_after_days.trim().parse::<u32>() {
            Ok(days) if (1..=365).contains(&days) => Some(days),
            _ => {
                errors.push(
                    "stuck_after_days",
                    "must be a whole number of days from 1 to 365",
                );
                None
            }
        };
        let (Some(name), Some(description), Some(stuck_after_days)) = (name, description, days)
        else {
            return Err(errors.into());
        };
        let team = Team {
            name,
            description,
            stuck_after_days,
            ..access.team().clone()
        };
        let entry = self.audit_entry(
            Some(access.actor()),
            AuditAction::TeamSettingsChanged,
            format!("team {}", team.slug),
            format!(
                "name {}, stuck after {} days",
                team.name, team.stuck_after_days
            ),
        );
        self.store.update_team(&team, &entry).await?;
        Ok(team)
    }

    /// Adds an existing account to the team by email.
    pub async fn add_member(
        &self,
        access: &TeamAccess,
        email: &str,
        role: TeamRole,
    ) -> ServiceResult<User> {
        access.require_manage()?;
        let email = Email::parse(email).map_err(|e| ServiceError::field("email", e.0))?;
        let user = self.store.user_by_email(&email).await?.ok_or_else(|| {
            ServiceError::field(
                "email",
                "no account has this email: send an invitation link instead",
            )
        })?;
        match self
            .store
            .add_member(
                access.team().id,
                user.id,
                role,
                self.now(),
                &self.audit_entry(
                    Some(access.actor()),
                    AuditAction::MemberAdded,
                    format!("user {} in team {}", user.email, access.team().slug),
                    role.as_str(),
                ),
            )
            .await
        {
            Ok(()) => Ok(user),
            Err(StoreError::Conflict { .. }) => Err(ServiceError::conflict(
                "email",
                "this person is already a member of the team",
            )),
            Err(other) => Err(other.into()),
        }
    }

    /// Changes a member's role. Leads and admins may; a team always keeps one lead.
    pub async fn set_member_role(
        &self,
        access: &TeamAccess,
        user: &str,
        role: TeamRole,
    ) -> ServiceResult<()> {
        access.require_manage()?;
        let user: UserId = user.parse().map_err(|_| ServiceError::NotFound)?;
        let entry = self
            .membership_entry(access, user, AuditAction::MemberRoleChanged, role.as_str())
            .await?;
        self.store
            .set_member_role(access.team().id, user, role, &entry)
            .await
            .map_err(refused_last_lead)
    }

    /// Removes a member. Leads and admins may remove anyone; a member may remove themselves.
    pub async fn remove_member(&self, access: &TeamAccess, user: &str) -> ServiceResult<()> {
        let user: UserId = user.parse().map_err(|_| ServiceError::NotFound)?;
        if user != access.actor() {
            access.require_manage()?;
        }
        let entry = self
            .membership_entry(access, user, AuditAction::MemberRemoved, "")
            .await?;
        self.store
            .remove_member(access.team().id, user, &entry)
            .await
            .map_err(refused_last_lead)
    }

    /// An entry about `user`'s membership of the access's team, naming the role it had.
    async fn membership_entry(
        &self,
        access: &TeamAccess,
        user: UserId,
        action: AuditAction,
        new_role: &str,
    ) -> ServiceResult<crate::domain::audit::AuditEntry> {
        let person = self
            .store
            .user_by_id(user)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let was = self
            .store
            .membership(access.team().id, user)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let detail = if new_role.is_empty() {
            format!("was {}", was.as_str())
        } else {
            format!("{} → {new_role}", was.as_str())
        };
        Ok(self.audit_entry(
            Some(access.actor()),
            action,
            format!("user {} in team {}", person.email, access.team().slug),
            detail,
        ))
    }

    /// Creates an invitation link into the team.
    pub async fn invite_to_team(
        &self,
        access: &TeamAccess,
        role: TeamRole,
        email: Option<&str>,
    ) -> ServiceResult<CreatedInvitation> {
        access.require_manage()?;
        self.invite(access.actor(), Some(access.team().id), role, email)
            .await
    }

    /// Creates an invitation into the organisation without a team (admins only).
    pub async fn invite_to_organisation(
        &self,
        actor: &Actor,
        email: Option<&str>,
    ) -> ServiceResult<CreatedInvitation> {
        actor.require_admin()?;
        self.invite(actor.id(), None, TeamRole::Member, email).await
    }

    async fn invite(
        &self,
        inviter: UserId,
        team: Option<TeamId>,
        role: TeamRole,
        email: Option<&str>,
    ) -> ServiceResult<CreatedInvitation> {
        let mut errors = FieldErrors::default();
        // An invitation is for one address: only the account with that email can accept it.
        let email = match email.map(str::trim).filter(|e| !e.is_empty()) {
            Some(raw) => errors.take("email", Email::parse(raw)).map(Some),
            None => {
                errors.push(
                    "email",
                    "is required: an invitation is for one email address",
                );
                None
            }
        };
        let Some(email) = email else {
            return Err(errors.into());
        };
        let secret = secrets::generate("");
        let now = self.now();
        let invitation = NewInvitation {
            id: InvitationId::random(),
            token_hash: secret.hash,
            team_id: team,
            role,
            email,
            invited_by: inviter,
            created_at: now,
            expires_at: now + self.policy.invitation_valid_for,
        };
        let place = match team {
            Some(team) => match self.store.team_by_id(team).await? {
                Some(team) => format!("team {}", team.slug),
                None => "a team".to_owned(),
            },
            None => "the organisation".to_owned(),
        };
        let entry = self.audit_entry(
            Some(inviter),
            AuditAction::InvitationCreated,
            format!(
                "invitation {} for {}",
                invitation.id,
                invitation
                    .email
                    .as_ref()
                    .map(Email::to_string)
                    .unwrap_or_default()
            ),
            format!("{place} as {}", role.as_str()),
        );
        self.store.create_invitation(&invitation, &entry).await?;
        Ok(CreatedInvitation {
            id: invitation.id,
            link: self.link(&format!("/invite/{}", secret.plaintext)),
            role,
            expires_at: invitation.expires_at,
        })
    }

    pub async fn team_invitations(
        &self,
        access: &TeamAccess,
    ) -> ServiceResult<Vec<InvitationRecord>> {
        access.require_manage()?;
        Ok(self
            .store
            .open_invitations(Some(access.team().id), self.now())
            .await?)
    }

    pub async fn organisation_invitations(
        &self,
        actor: &Actor,
    ) -> ServiceResult<Vec<InvitationRecord>> {
        actor.require_admin()?;
        Ok(self.store.open_invitations(None, self.now()).await?)
    }

    pub async fn revoke_team_invitation(&self, access: &TeamAccess, id: &str) -> ServiceResult<()> {
        access.require_manage()?;
        self.revoke_invitation(access.actor(), Some(access.team().id), id)
            .await
    }

    pub async fn revoke_organisation_invitation(
        &self,
        actor: &Actor,
        id: &str,
    ) -> ServiceResult<()> {
        actor.require_admin()?;
        self.revoke_invitation(actor.id(), None, id).await
    }

    async fn revoke_invitation(
        &self,
        by: UserId,
        team: Option<TeamId>,
        id: &str,
    ) -> ServiceResult<()> {
        let id: InvitationId = id.parse().map_err(|_| ServiceError::NotFound)?;
        let entry = self.audit_entry(
            Some(by),
            AuditAction::InvitationRevoked,
            format!("invitation {id}"),
            "",
        );
        if self
            .store
            .revoke_invitation(team, id, self.now(), &entry)
            .await?
        {
            Ok(())
        } else {
            Err(ServiceError::NotFound)
        }
    }

    /// What an invitation link offers, if it can still be used.
    pub async fn invitation(&self, token: &str) -> ServiceResult<InvitationRecord> {
        let invitation = self
            .store
            .invitation_by_token(&secrets::hash(token))
            .await?
            .ok_or(ServiceError::NotFound)?;
        if invitation.accepted_at.is_some() {
            return Err(ServiceError::Gone(
                "This invitation has already been used. Ask for a new one if you still need to join."
                    .to_owned(),
            ));
        }
        if invitation.revoked_at.is_some() || invitation.expires_at <= self.now() {
            return Err(ServiceError::Gone(
                "This invitation has expired or was withdrawn. Ask for a new one.".to_owned(),
            ));
        }
        Ok(invitation)
    }

    /// Accepts an invitation as the signed-in actor, whose email must be the invitation's.
    pub async fn accept_invitation(
        &self,
        actor: &Actor,
        token: &str,
    ) -> ServiceResult<InvitationRecord> {
        let invitation = self.invitation(token).await?;
        let invited = invited_address(&invitation)?;
        if *invited != actor.user.email {
            return Err(ServiceError::Forbidden(format!(
                "This invitation is for {invited}, and you are signed in as {}. Sign in as {invited} to accept it, or ask for an invitation to your own address.",
                actor.user.email
            )));
        }
        match self
            .store
            .accept_invitation(
                &secrets::hash(token),
                &Acceptor::Existing(actor.id()),
                self.now(),
                &self.invitation_accepted(&invitation),
            )
            .await
        {
            Err(StoreError::NotFound) => Err(used_meanwhile()),
            other => Ok(other?),
        }
    }

    /// Accepts an invitation by creating an account, and signs the new person in.
    pub async fn accept_invitation_with_new_account(
        &self,
        token: &str,
        name: &str,
        email: &str,
        password: &str,
    ) -> ServiceResult<(InvitationRecord, LoginOutcome)> {
        // Under "SSO only" the person joins through the provider instead (see `service::sso`).
        if self
            .sso_policy()
            .await?
            .is_some_and(|policy| policy.sso_only)
        {
            return Err(ServiceError::Forbidden(SSO_ONLY_MESSAGE.to_owned()));
        }
        let invitation = self.invitation(token).await?;
        let invited = invited_address(&invitation)?;
        let mut context = self.password_context(None).await?;
        context.extend(invitation.team.as_ref().map(|(_, _, team)| team.clone()));
        let context: Vec<&str> = context.iter().map(String::as_str).collect();
        let person = passwords::about(email, name, &context);
        let mut errors = FieldErrors::default();
        let name = errors.take("name", DisplayName::parse(name));
        let email = errors.take("email", Email::parse(email));
        let password = errors.take("password", passwords::parse(password, &person));
        let email = email.and_then(|email| {
            if email == *invited {
                Some(email)
            } else {
                errors.push(
                    "email",
                    format!("must be {invited}, the address this invitation was sent to"),
                );
                None
            }
        });
        let (Some(name), Some(email), Some(password)) = (name, email, password) else {
            return Err(errors.into());
        };
        let user = NewUser {
            id: UserId::random(),
            email,
            name,
            password_hash: passwords::hash(&password).await?,
            is_admin: false,
            created_at: self.now(),
        };
        let record =
            match self
                .store
                .accept_invitation(
                    &secrets::hash(token),
                    &Acceptor::New(user.clone()),
                    self.now(),
                    &self.invitation_accepted(&invitation),
                )
                .await
            {
                Ok(record) => record,
                Err(StoreError::NotFound) => return Err(used_meanwhile()),
                Err(StoreError::Conflict { .. }) => return Err(ServiceError::conflict(
                    "email",
                    "an account with this email already exists: sign in to accept the invitation",
                )),
                Err(other) => return Err(other.into()),
            };
        let session = self
            .open_session_for(user.id, &user.email.to_string(), "invitation", None, None)
            .await?;
        let user = User {
            id: user.id,
            email: user.email,
            name: user.name,
            is_admin: false,
        };
        Ok((
            record,
            LoginOutcome {
                user,
                session,
                device: None,
            },
        ))
    }
}

/// The address an invitation is bound to. Invitations made before addresses were required were
/// withdrawn by migration 0021; one without an address is refused all the same.
fn invited_address(invitation: &InvitationRecord) -> ServiceResult<&Email> {
    invitation.email.as_ref().ok_or_else(|| {
        ServiceError::Gone(
            "This invitation was withdrawn: invitations are now for one email address. Ask for a new one."
                .to_owned(),
        )
    })
}

fn used_meanwhile() -> ServiceError {
    ServiceError::Gone("This invitation has already been used.".to_owned())
}
