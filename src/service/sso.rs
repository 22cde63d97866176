//! Signing in through an OpenID Connect provider (issue 22): keeping started sign-ins, finding
//! or creating the account of a validated identity (linked by (issuer, subject); the first time
//! by verified email or just in time), applying the configured group→team mapping, and opening
//! the same session a password sign-in opens. The protocol itself (discovery, code exchange,
//! ID token validation) is `crate::oidc`'s; this module only sees an identity it validated.

use time::Duration;

use crate::domain::audit::AuditAction;
use crate::domain::records::people::InvitationRecord;
use crate::domain::sso::{SsoPolicy, SsoRefusal};
use crate::domain::{DisplayName, Email, TeamRole, User, UserId};
use crate::store::sso::SsoPending;
use crate::store::{Acceptor, NewUser, StoreError};

use super::error::{ServiceError, ServiceResult};
use super::{secrets, LoginClient, LoginOutcome, Service};

/// A started sign-in is honoured this long; people take a while at the provider's form.
pub const SSO_PENDING_FOR: Duration = Duration::minutes(10);

/// A person as the provider's validated ID token describes them.
#[derive(Debug, Clone)]
pub struct SsoIdentity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    /// The values of the configured groups claim (empty without one).
    pub groups: Vec<String>,
}

/// What the browser needs to finish a sign-in: kept server-side under the state's hash.
#[derive(Debug, Clone)]
pub struct SsoStarted {
    pub nonce: String,
    pub pkce_verifier: String,
    pub next_path: String,
    /// The invitation's token hash when the sign-in was started from its page.
    pub invitation_hash: Option<String>,
}

impl Service {
    /// The single sign-on rules, when sign-in through a provider is in force.
    pub async fn sso_policy(&self) -> ServiceResult<Option<SsoPolicy>> {
        Ok(self.active_sso().await?.map(|active| active.policy))
    }

    async fn require_sso(&self) -> ServiceResult<SsoPolicy> {
        self.sso_policy().await?.ok_or(ServiceError::NotFound)
    }

    /// The hash an invitation's token is kept under, for a sign-in started from its page: the
    /// invitation must still be usable.
    pub async fn invitation_for_sso(&self, token: &str) -> ServiceResult<String> {
        self.invitation(token).await?;
        Ok(secrets::hash(token))
    }

    /// Keeps a sign-in sent to the provider under the hash of its `state`.
    pub async fn begin_sso(&self, state: &str, started: &SsoStarted) -> ServiceResult<()> {
        self.require_sso().await?;
        let now = self.now();
        self.store
            .save_sso_pending(
                &SsoPending {
                    state_hash: secrets::hash(&format!("sso-state:{state}")),
                    nonce: started.nonce.clone(),
                    pkce_verifier: started.pkce_verifier.clone(),
                    next_path: started.next_path.clone(),
                    invitation_hash: started.invitation_hash.clone(),
                    created_at: now,
                },
                now - SSO_PENDING_FOR,
            )
            .await?;
        Ok(())
    }

    /// The started sign-in with this `state`, once: a second answer with the same state (and so
    /// the same nonce) finds nothing. `None` also when it is older than [`SSO_PENDING_FOR`].
    pub async fn finish_sso(&self, state: &str) -> ServiceResult<Option<SsoStarted>> {
        self.require_sso().await?;
        let pending = self
            .store
            .take_sso_pending(&secrets::hash(&format!("sso-state:{state}")))
            .await?;
        Ok(pending
            .filter(|p| p.created_at + SSO_PENDING_FOR >= self.now())
            .map(|p| SsoStarted {
                nonce: p.nonce,
                pkce_verifier: p.pkce_verifier,
                next_path: p.next_path,
                invitation_hash: p.invitation_hash,
            }))
    }

    /// Records a refused sign-in through the provider.
    pub async fn refuse_sso(
        &self,
        refusal: &SsoRefusal,
        actor: Option<UserId>,
        target: &str,
    ) -> ServiceResult<()> {
        tracing::info!(
            reason = refusal.reason(),
            "single sign-on refused: {refusal}"
        );
        let entry = self.audit_entry(actor, AuditAction::SsoRefused, target, refusal.reason());
        self.store.record_audit(&entry).await?;
        Ok(())
    }

    /// Signs in the person the provider vouched for: their linked account, else the account
    /// with their verified email (linked now), else a new account. With `invitation_hash` (a
    /// sign-in started from an invitation's page) the provider's verified email must be the
    /// invited one, and the invitation is accepted by the account. A refusal is recorded and
    /// returned for the page to explain.
    pub async fn sign_in_with_sso(
        &self,
        identity: &SsoIdentity,
        client: &LoginClient,
        invitation_hash: Option<&str>,
    ) -> ServiceResult<Result<(LoginOutcome, Option<InvitationRecord>), SsoRefusal>> {
        let policy = self.require_sso().await?;
        let target = format!("subject {}", identity.subject);
        // The first admin sets the organisation up with a password; until then nobody joins.
        if self.store.organisation().await?.is_none() {
            self.refuse_sso(&SsoRefusal::NotSetUp, None, &target)
                .await?;
            return Ok(Err(SsoRefusal::NotSetUp));
        }
        let invitation = match invitation_hash {
            Some(hash) => match self.invitation_for_identity(hash, identity).await? {
                Ok(invitation) => Some((hash, invitation)),
                Err(refusal) => {
                    self.refuse_sso(&refusal, None, &target).await?;
                    return Ok(Err(refusal));
                }
            },
            None => None,
        };
        let user = match self.sso_account(identity).await? {
            Ok(user) => user,
            Err((refusal, actor)) => {
                self.refuse_sso(&refusal, actor, &target).await?;
                return Ok(Err(refusal));
            }
        };
        let accepted = match invitation {
            Some((hash, invitation)) => match self
                .store
                .accept_invitation(
                    hash,
                    &Acceptor::Existing(user.id),
                    self.now(),
                    &self.invitation_accepted(&invitation),
                )
                .await
            {
                Ok(record) => Some(record),
                // Used by someone else between the check above and now.
                Err(StoreError::NotFound) => {
                    let refusal = SsoRefusal::InvitationUnusable;
                    self.refuse_sso(&refusal, Some(user.id), &target).await?;
                    return Ok(Err(refusal));
                }
                Err(other) => return Err(other.into()),
            },
            None => None,
        };
        if policy.groups_claim.is_some() {
            self.apply_group_mapping(&policy, &user, &identity.groups)
                .await?;
        }
        let address_hash = client
            .address
            .as_deref()
            .map(|address| secrets::hash(&format!("address:{address}")));
        let session = self
            .open_session_for(
                user.id,
                &user.email.to_string(),
                "sso",
                address_hash,
                Self::session_user_agent(client.user_agent.as_deref()),
            )
            .await?;
        Ok(Ok((
            LoginOutcome {
                user,
                session,
                device: None,
            },
            accepted,
        )))
    }

    /// The invitation a sign-in was started from, when it is still usable and for the email
    /// the provider verified (invitations are always for one address: see `service::teams`).
    async fn invitation_for_identity(
        &self,
        hash: &str,
        identity: &SsoIdentity,
    ) -> ServiceResult<Result<InvitationRecord, SsoRefusal>> {
        let Some(invitation) = self.store.invitation_by_token(hash).await? else {
            return Ok(Err(SsoRefusal::InvitationUnusable));
        };
        if invitation.accepted_at.is_some()
            || invitation.revoked_at.is_some()
            || invitation.expires_at <= self.now()
        {
            return Ok(Err(SsoRefusal::InvitationUnusable));
        }
        let verified = identity
            .email
            .as_deref()
            .filter(|_| identity.email_verified)
            .and_then(|email| Email::parse(email).ok());
        match (&invitation.email, verified) {
            (Some(invited), Some(email)) if *invited == email => Ok(Ok(invitation)),
            _ => Ok(Err(SsoRefusal::InvitationForAnother)),
        }
    }

    /// Finds, links or creates the account; a refusal names the account when one was found.
    async fn sso_account(
        &self,
        identity: &SsoIdentity,
    ) -> ServiceResult<Result<User, (SsoRefusal, Option<UserId>)>> {
        if let Some(linked) = self
            .store
            .sso_user(&identity.issuer, &identity.subject)
            .await?
        {
            if linked.deactivated {
                return Ok(Err((SsoRefusal::Deactivated, Some(linked.user.id))));
            }
            return Ok(Ok(linked.user));
        }
        let Some(email) = identity
            .email
            .as_deref()
            .and_then(|email| Email::parse(email).ok())
        else {
            return Ok(Err((SsoRefusal::NoEmail, None)));
        };
        // Both linking and a new account trust the email, so both need the provider to have
        // verified it: otherwise anyone could claim a colleague's address at the provider.
        if !identity.email_verified {
            return Ok(Err((SsoRefusal::EmailNotVerified, None)));
        }
        if let Some(user) = self.store.user_by_email(&email).await? {
            if self.store.user_deactivated(user.id).await? == Some(true) {
                return Ok(Err((SsoRefusal::Deactivated, Some(user.id))));
            }
            // One person at the provider per account: a second subject with the same email (a
            // re-created or different identity) must not take over an account already linked.
            if self.store.sso_linked_at(user.id, &identity.issuer).await? {
                return Ok(Err((SsoRefusal::LinkedToAnother, Some(user.id))));
            }
            let entry = self.audit_entry(
                Some(user.id),
                AuditAction::SsoAccountLinked,
                format!("user {}", user.email),
                format!("subject {} at {}", identity.subject, identity.issuer),
            );
            self.store
                .link_sso_identity(
                    &identity.issuer,
                    &identity.subject,
                    user.id,
                    self.now(),
                    &entry,
                )
                .await?;
            return Ok(Ok(user));
        }
        let name = identity
            .name
            .as_deref()
            .and_then(|name| DisplayName::parse(name).ok())
            .or_else(|| {
                let local = email.as_str().split('@').next().unwrap_or_default();
                DisplayName::parse(local).ok()
            });
        let Some(name) = name else {
            return Ok(Err((SsoRefusal::NoEmail, None)));
        };
        let user = NewUser {
            id: UserId::random(),
            email: email.clone(),
            name: name.clone(),
            // No password matches an empty hash: the sign-in query skips such accounts.
            password_hash: String::new(),
            is_admin: false,
            created_at: self.now(),
        };
        let entry = self.audit_entry(
            Some(user.id),
            AuditAction::SsoAccountCreated,
            format!("user {}", user.email),
            format!("subject {} at {}", identity.subject, identity.issuer),
        );
        match self
            .store
            .create_sso_user(&user, &identity.issuer, &identity.subject, &entry)
            .await
        {
            Ok(()) => Ok(Ok(User {
                id: user.id,
                email,
                name,
                is_admin: false,
            })),
            // Two first sign-ins at once: the other one made the account.
            Err(StoreError::Conflict { .. }) => Err(ServiceError::conflict(
                "email",
                "the account was created meanwhile; sign in again",
            )),
            Err(other) => Err(other.into()),
        }
    }

    /// Brings the account's membership of every mapped team in line with its groups: joins
    /// with the mapped role, changes the role, or leaves. Teams no mapping names are left alone;
    /// a change that would leave a team without a lead is skipped (and logged).
    async fn apply_group_mapping(
        &self,
        policy: &SsoPolicy,
        user: &User,
        groups: &[String],
    ) -> ServiceResult<()> {
        for slug in policy.mapped_teams() {
            let Some(team) = self.store.team_by_slug(&slug).await? else {
                tracing::warn!(team = %slug, "oidc_group_teams names a team that does not exist");
                continue;
            };
            let wanted = policy.role_in(&slug, groups);
            let current = self.store.membership(team.id, user.id).await?;
            let target = format!("user {} in team {}", user.email, slug);
            let detail = |was: Option<TeamRole>, now: Option<TeamRole>| {
                let word = |role: Option<TeamRole>| role.map_or("none", TeamRole::as_str);
                format!("{} → {}, by the SSO group mapping", word(was), word(now))
            };
            let result = match (current, wanted) {
                (None, Some(role)) => {
                    let entry = self.audit_entry(
                        None,
                        AuditAction::MemberAdded,
                        target,
                        detail(None, Some(role)),
                    );
                    self.store
                        .add_member(team.id, user.id, role, self.now(), &entry)
                        .await
                }
                (Some(was), Some(role)) if was != role => {
                    let entry = self.audit_entry(
                        None,
                        AuditAction::MemberRoleChanged,
                        target,
                        detail(Some(was), Some(role)),
                    );
                    self.store
                        .set_member_role(team.id, user.id, role, &entry)
                        .await
                }
                (Some(was), None) => {
                    let entry = self.audit_entry(
                        None,
                        AuditAction::MemberRemoved,
                        target,
                        detail(Some(was), None),
                    );
                    self.store.remove_member(team.id, user.id, &entry).await
                }
                _ => Ok(()),
            };
            match result {
                Ok(()) | Err(StoreError::Conflict { .. }) => {}
                Err(StoreError::Refused(why)) => {
                    tracing::warn!(team = %slug, "the SSO group mapping left a membership as it was: {why}");
                }
                Err(other) => return Err(other.into()),
            }
        }
        Ok(())
    }
}
