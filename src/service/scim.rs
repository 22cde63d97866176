//! SCIM provisioning (RFC 7643/7644): an identity provider, holding the organisation's SCIM
//! token, creates, updates and deactivates accounts and keeps teams' members in step with its
//! groups. The protocol's JSON lives in `http::scim`; these are the use cases behind it.
//!
//! Deactivating an account ends its sessions and tokens at once and keeps its contributions;
//! nothing here touches a contribution, so anonymous ones stay unlinkable.

use crate::domain::audit::AuditAction;
use crate::domain::text::single_line;
use crate::domain::{DisplayName, Email, Invalid, Team, TeamId, TeamName, TeamSlug, UserId};
use crate::store::scim::{
    ScimGroupRecord, ScimGroupState, ScimTokenInfo, ScimUserFilter, ScimUserRecord, ScimUserState,
};
use crate::store::{NewUser, StoreError};

use super::error::{FieldErrors, ServiceError, ServiceResult};
use super::{secrets, Actor, Service};

/// Prefix of SCIM tokens, so that secret scanners (and people) tell them from API tokens.
pub const SCIM_TOKEN_PREFIX: &str = "ffscim_";

/// How many slugs a new group's team tries before giving up.
const SLUG_ATTEMPTS: u32 = 50;

/// An account as the identity provider describes it.
#[derive(Debug, Clone)]
pub struct ScimUserInput {
    pub user_name: String,
    /// The primary (or first) of `emails`; without one, `user_name` must be an email.
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub external_id: Option<String>,
    pub active: bool,
}

/// A group as the identity provider describes it; members are account ids.
#[derive(Debug, Clone)]
pub struct ScimGroupInput {
    pub display_name: String,
    pub external_id: Option<String>,
    pub members: Vec<String>,
}

fn uniqueness(error: StoreError, field: &str, message: &str) -> ServiceError {
    match error {
        StoreError::Conflict { constraint } if constraint.contains("email") => {
            ServiceError::conflict("emails", "an account with this email exists")
        }
        StoreError::Conflict { .. } => ServiceError::conflict(field, message),
        StoreError::Refused(why) => ServiceError::Conflict {
            field: Some("members".to_owned()),
            message: why.to_owned(),
        },
        other => other.into(),
    }
}

/// What the account is called by the provider, its email and its name.
fn parse_user(input: &ScimUserInput) -> ServiceResult<(String, Email, DisplayName)> {
    let mut errors = FieldErrors::default();
    let user_name = errors.take("userName", single_line(&input.user_name, Email::MAX_CHARS));
    let email = match &input.email {
        Some(email) => errors.take("emails", Email::parse(email)),
        None => errors.take(
            "emails",
            Email::parse(&input.user_name)
                .map_err(|_| Invalid::new("is required when userName is not an email")),
        ),
    };
    let name = input
        .display_name
        .as_deref()
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .unwrap_or(&input.user_name);
    let name = errors.take("displayName", DisplayName::parse(name));
    match (user_name, email, name) {
        (Some(user_name), Some(email), Some(name)) => Ok((user_name, email, name)),
        _ => Err(errors.into()),
    }
}

impl Service {
    /// Creates or replaces the organisation's SCIM token; the plaintext is shown once. `actor`
    /// is the admin asking, or `None` for the operator's command.
    pub async fn rotate_scim_token(
        &self,
        actor: Option<&Actor>,
    ) -> ServiceResult<(String, ScimTokenInfo)> {
        if let Some(actor) = actor {
            actor.require_admin()?;
        }
        let secret = secrets::generate(SCIM_TOKEN_PREFIX);
        let prefix: String = secret
            .plaintext
            .chars()
            .take(SCIM_TOKEN_PREFIX.len() + 6)
            .collect();
        let entry = self.audit_entry(
            actor.map(Actor::id),
            AuditAction::ScimTokenRotated,
            format!("scim token {prefix}"),
            "",
        );
        let now = self.now();
        self.store
            .set_scim_token(&secret.hash, &prefix, now, &entry)
            .await?;
        Ok((
            secret.plaintext,
            ScimTokenInfo {
                prefix,
                created_at: now,
            },
        ))
    }

    /// The current SCIM token's start and age (organisation admins only); `None` when SCIM is
    /// off.
    pub async fn scim_token_info(&self, actor: &Actor) -> ServiceResult<Option<ScimTokenInfo>> {
        actor.require_admin()?;
        Ok(self.store.scim_token_info().await?)
    }

    /// Switches SCIM off: the token stops working at once (organisation admins only). Accounts
    /// and teams it made stay. `false` when SCIM was already off.
    pub async fn revoke_scim_token(&self, actor: &Actor) -> ServiceResult<bool> {
        actor.require_admin()?;
        let Some(info) = self.store.scim_token_info().await? else {
            return Ok(false);
        };
        let entry = self.audit_entry(
            Some(actor.id()),
            AuditAction::ScimTokenRevoked,
            format!("scim token {}", info.prefix),
            "",
        );
        Ok(self.store.delete_scim_token(&entry).await?)
    }

    /// Whether `token` is the organisation's current SCIM token.
    pub async fn check_scim_token(&self, token: &str) -> ServiceResult<bool> {
        if !token.starts_with(SCIM_TOKEN_PREFIX) {
            return Ok(false);
        }
        let Some(stored) = self.store.scim_token_hash().await? else {
            return Ok(false);
        };
        Ok(secrets::same(&secrets::hash(token), &stored))
    }

    /// Accounts not deleted through SCIM, narrowed by an equality filter.
    pub async fn scim_users(&self, filter: &ScimUserFilter) -> ServiceResult<Vec<ScimUserRecord>> {
        Ok(self.store.scim_users(filter).await?)
    }

    pub async fn scim_user(&self, id: &str) -> ServiceResult<ScimUserRecord> {
        let id: UserId = id.parse().map_err(|_| ServiceError::NotFound)?;
        self.store
            .scim_users(&ScimUserFilter {
                id: Some(id),
                ..ScimUserFilter::default()
            })
            .await?
            .into_iter()
            .next()
            .ok_or(ServiceError::NotFound)
    }

    /// Creates an account without a local password: it signs in through single sign-on.
    pub async fn scim_create_user(&self, input: &ScimUserInput) -> ServiceResult<ScimUserRecord> {
        let (user_name, email, name) = parse_user(input)?;
        let taken = self
            .scim_users(&ScimUserFilter {
                user_name: Some(user_name.clone()),
                ..ScimUserFilter::default()
            })
            .await?;
        if !taken.is_empty() {
            return Err(ServiceError::conflict(
                "userName",
                "an account with this userName exists",
            ));
        }
        let user = NewUser {
            id: UserId::random(),
            email,
            name,
            // No password matches an empty hash: the sign-in query skips such accounts.
            password_hash: String::new(),
            is_admin: false,
            created_at: self.now(),
        };
        let entry = self.audit_entry(
            None,
            AuditAction::ScimUserCreated,
            format!("user {}", user.email),
            "by SCIM",
        );
        self.store
            .scim_create_user(&user, &user_name, input.external_id.as_deref(), &entry)
            .await
            .map_err(|e| uniqueness(e, "userName", "an account with this userName exists"))?;
        if !input.active {
            return self.scim_replace_user(&user.id.to_string(), input).await;
        }
        self.scim_user(&user.id.to_string()).await
    }

    /// Brings the account to `input`; turning it inactive ends its sessions and tokens at once.
    pub async fn scim_replace_user(
        &self,
        id: &str,
        input: &ScimUserInput,
    ) -> ServiceResult<ScimUserRecord> {
        let current = self.scim_user(id).await?;
        let (user_name, email, name) = parse_user(input)?;
        let taken = self
            .scim_users(&ScimUserFilter {
                user_name: Some(user_name.clone()),
                ..ScimUserFilter::default()
            })
            .await?;
        if taken.iter().any(|other| other.user.id != current.user.id) {
            return Err(ServiceError::conflict(
                "userName",
                "an account with this userName exists",
            ));
        }
        let deactivating = current.active && !input.active;
        let (action, detail) = if deactivating {
            (
                AuditAction::ScimUserDeactivated,
                "sessions and tokens ended".to_owned(),
            )
        } else if !current.active && input.active {
            (AuditAction::ScimUserUpdated, "reactivated".to_owned())
        } else {
            (AuditAction::ScimUserUpdated, String::new())
        };
        let entry = self.audit_entry(None, action, format!("user {email}"), detail);
        self.store
            .scim_save_user(
                &ScimUserState {
                    id: current.user.id,
                    user_name,
                    email,
                    name,
                    external_id: input.external_id.clone(),
                    active: input.active,
                    now: self.now(),
                },
                &entry,
            )
            .await
            .map_err(|e| uniqueness(e, "userName", "an account with this userName exists"))?;
        self.scim_user(id).await
    }

    /// Deactivates the account and hides it from SCIM; its contributions stay.
    pub async fn scim_delete_user(&self, id: &str) -> ServiceResult<()> {
        let current = self.scim_user(id).await?;
        let entry = self.audit_entry(
            None,
            AuditAction::ScimUserDeactivated,
            format!("user {}", current.user.email),
            "deleted by SCIM: sessions and tokens ended",
        );
        if self
            .store
            .scim_delete_user(current.user.id, self.now(), &entry)
            .await?
        {
            Ok(())
        } else {
            Err(ServiceError::NotFound)
        }
    }

    pub async fn scim_groups(&self, name: Option<&str>) -> ServiceResult<Vec<ScimGroupRecord>> {
        Ok(self.store.scim_groups(None, name).await?)
    }

    pub async fn scim_group(&self, id: &str) -> ServiceResult<ScimGroupRecord> {
        let id: TeamId = id.parse().map_err(|_| ServiceError::NotFound)?;
        self.store
            .scim_groups(Some(id), None)
            .await?
            .into_iter()
            .next()
            .ok_or(ServiceError::NotFound)
    }

    /// Account ids named as members, each of an existing account.
    async fn scim_members(&self, members: &[String]) -> ServiceResult<Vec<UserId>> {
        let mut ids = Vec::new();
        for member in members {
            let id: UserId = member
                .parse()
                .map_err(|_| ServiceError::field("members", "names an unknown user"))?;
            if self.store.user_by_id(id).await?.is_none() {
                return Err(ServiceError::field("members", "names an unknown user"));
            }
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Creates a team for the group, its members as plain members.
    pub async fn scim_create_group(
        &self,
        input: &ScimGroupInput,
    ) -> ServiceResult<ScimGroupRecord> {
        let name = TeamName::parse(&input.display_name)
            .map_err(|e| ServiceError::field("displayName", e.0))?;
        let members = self.scim_members(&input.members).await?;
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
                description: String::new(),
                stuck_after_days: 14,
                pulse_min_responses: crate::domain::culture::DEFAULT_MIN_RESPONSES,
            };
            let entry = self.audit_entry(
                None,
                AuditAction::ScimGroupChanged,
                format!("team {}", team.slug.as_str()),
                format!("created by SCIM with {} members", members.len()),
            );
            match self
                .store
                .scim_create_group(
                    &team,
                    input.external_id.as_deref(),
                    &members,
                    self.now(),
                    &entry,
                )
                .await
            {
                Ok(()) => return self.scim_group(&team.id.to_string()).await,
                Err(StoreError::Conflict { constraint }) if constraint.contains("slug") => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(ServiceError::conflict(
            "displayName",
            "too many teams have a similar name",
        ))
    }

    /// Renames the group's team and brings its members to `input.members`.
    pub async fn scim_replace_group(
        &self,
        id: &str,
        input: &ScimGroupInput,
    ) -> ServiceResult<ScimGroupRecord> {
        let current = self.scim_group(id).await?;
        let name = TeamName::parse(&input.display_name)
            .map_err(|e| ServiceError::field("displayName", e.0))?;
        let members = self.scim_members(&input.members).await?;
        let added = members
            .iter()
            .filter(|m| !current.members.iter().any(|(c, _)| c == *m))
            .count();
        let removed = current
            .members
            .iter()
            .filter(|(c, _)| !members.contains(c))
            .count();
        let entry = self.audit_entry(
            None,
            AuditAction::ScimGroupChanged,
            format!("team {}", name.as_str()),
            format!("by SCIM: {added} members added, {removed} removed"),
        );
        self.store
            .scim_save_group(
                &ScimGroupState {
                    team: current.team,
                    name,
                    external_id: input.external_id.clone(),
                    members,
                    now: self.now(),
                },
                &entry,
            )
            .await
            .map_err(|e| uniqueness(e, "displayName", "a team has this name"))?;
        self.scim_group(id).await
    }

    /// Unlinks the group: the team, its members and its contributions stay (deleting a team
    /// would delete its loops, which an identity provider must never be able to do).
    pub async fn scim_delete_group(&self, id: &str) -> ServiceResult<()> {
        let current = self.scim_group(id).await?;
        let entry = self.audit_entry(
            None,
            AuditAction::ScimGroupChanged,
            format!("team {}", current.name.as_str()),
            "unlinked from SCIM; the team stays",
        );
        if self.store.scim_delete_group(current.team, &entry).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound)
        }
    }
}
