//! Accounts: first-run set-up, signing in and out, sessions, passwords and personal API tokens.

use std::time::Duration as StdDuration;

use time::{Duration as TimeDuration, OffsetDateTime, Time};

use crate::domain::audit::AuditAction;
use crate::domain::text::single_line;
use crate::domain::{ApiTokenId, DisplayName, Email, User, UserId};
use crate::store::{
    ApiTokenRecord, LoginAttempt, LoginClaim, NewApiToken, NewSession, NewUser, Organisation,
    StoreError,
};

use super::error::{FieldErrors, ServiceError, ServiceResult};
use super::{passwords, secrets, Actor, Service};

/// Why a password sign-in is refused while the organisation signs in only through its provider.
pub const SSO_ONLY_MESSAGE: &str =
    "This organisation signs in through single sign-on; passwords are not accepted.";

/// Prefix of personal API tokens, so that secret scanners recognise a leaked one.
pub const API_TOKEN_PREFIX: &str = "ffp_";

/// A new session: the cookie value (shown to the browser once) and its CSRF token.
#[derive(Debug, Clone)]
pub struct NewSessionCookie {
    pub token: String,
    pub csrf_token: String,
}

/// The result of signing in.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    pub user: User,
    pub session: NewSessionCookie,
    /// The device cookie to keep (signing in: the client's own when it sent one, else a new
    /// one); `None` where the account was just created.
    pub device: Option<String>,
}

/// What a session cookie turned out to be.
#[derive(Debug, Clone)]
pub enum SessionCheck {
    Valid {
        actor: Actor,
        csrf_token: String,
    },
    /// It was a session once, but it timed out; the page says so instead of a bare sign-in form.
    Expired,
    Unknown,
}

/// The account-wide limit of failed sign-ins counts over this window.
pub(super) const ACCOUNT_WINDOW: StdDuration = StdDuration::from_secs(3600);

/// A device an account has signed in from is recognised this long after its last sign-in (the
/// device cookie lives as long).
pub(super) const DEVICE_REMEMBERED_FOR: StdDuration = StdDuration::from_secs(400 * 24 * 3600);

/// From this many accounts failing from one address, the server suspects a hiding proxy.
const SHARED_ADDRESS_ACCOUNTS: i64 = 20;

/// Who is signing in, as far as throttling tells clients apart: the device cookie (drawn at the
/// first successful sign-in, long-lived) and the address.
#[derive(Debug, Clone, Default)]
pub struct LoginClient {
    pub device: Option<String>,
    pub address: Option<String>,
    /// The address is the socket peer (forwarded headers are not trusted), so a proxy in front
    /// would give every client its address.
    pub address_is_shared_proxy: bool,
    /// The `User-Agent` header, kept with the session only as a summary ("Firefox on Linux").
    pub user_agent: Option<String>,
}

/// The wait before the next attempt after `attempts` of a window: none after the first, then
/// 1, 2, 4, … seconds, at most five minutes.
fn delay_after(attempts: u32) -> StdDuration {
    match attempts {
        0 | 1 => StdDuration::ZERO,
        n => StdDuration::from_secs(1u64 << (n - 2).min(8)).min(StdDuration::from_secs(300)),
    }
}

/// Device tokens are drawn by [`secrets::generate`]; anything else is ignored.
fn is_device_token(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn device_key(account: &str, device: &str) -> String {
    secrets::hash(&format!("device:{account}:{device}"))
}

/// Midnight UTC of `at`'s day: the only precision kept for token use.
fn day_of(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_time(Time::MIDNIGHT)
}

impl Service {
    pub async fn organisation(&self) -> ServiceResult<Option<Organisation>> {
        Ok(self.store.organisation().await?)
    }

    /// When no organisation exists yet, draws a fresh one-time set-up link (replacing any earlier
    /// one) and returns it for the operator; `None` once set-up is done.
    pub async fn prepare_setup_link(&self) -> ServiceResult<Option<String>> {
        if self.store.organisation().await?.is_some() {
            return Ok(None);
        }
        let secret = secrets::generate("");
        let expires = self.now() + self.policy.setup_link_valid_for;
        self.store
            .replace_setup_token(&secret.hash, expires)
            .await?;
        Ok(Some(
            self.link(&format!("/setup?token={}", secret.plaintext)),
        ))
    }

    /// Creates the organisation and its first admin from the one-time set-up link, and signs the
    /// admin in.
    pub async fn complete_setup(
        &self,
        setup_token: &str,
        organisation_name: &str,
        name: &str,
        email: &str,
        password: &str,
    ) -> ServiceResult<LoginOutcome> {
        let person = passwords::about(email, name, &[organisation_name]);
        let mut errors = FieldErrors::default();
        let organisation_name = errors.take("organisation", single_line(organisation_name, 120));
        let name = errors.take("name", DisplayName::parse(name));
        let email = errors.take("email", Email::parse(email));
        let password = errors.take("password", passwords::parse(password, &person));
        let (Some(organisation_name), Some(name), Some(email), Some(password)) =
            (organisation_name, name, email, password)
        else {
            return Err(errors.into());
        };
        let admin = NewUser {
            id: UserId::random(),
            email,
            name,
            password_hash: passwords::hash(&password).await?,
            is_admin: true,
            created_at: self.now(),
        };
        let entry = self.audit_entry(
            Some(admin.id),
            AuditAction::OrganisationCreated,
            format!("user {}", admin.email),
            format!("organisation {organisation_name}, first admin, through the set-up page"),
        );
        match self
            .store
            .complete_setup(
                &secrets::hash(setup_token),
                self.now(),
                &organisation_name,
                &admin,
                &entry,
            )
            .await
        {
            Ok(()) => {}
            Err(StoreError::NotFound) => {
                return Err(ServiceError::Gone(
                    "This set-up link is no longer valid. Restart the server for a new one, or sign in if set-up is done."
                        .to_owned(),
                ))
            }
            Err(other) => return Err(other.into()),
        }
        let user = User {
            id: admin.id,
            email: admin.email,
            name: admin.name,
            is_admin: true,
        };
        let session = self
            .open_session_for(user.id, &user.email.to_string(), "set-up", None, None)
            .await?;
        Ok(LoginOutcome {
            user,
            session,
            device: None,
        })
    }

    /// Signs in with email and password, throttled per account and client (see
    /// [`LoginClient`]). Each attempt is claimed in the database before the password is checked,
    /// so every instance counts it and concurrent attempts cannot pass a limit together. An
    /// unknown email and a wrong password answer alike: the counters are keyed by the typed email.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        client: &LoginClient,
    ) -> ServiceResult<LoginOutcome> {
        let now = self.now();
        let parsed_email = Email::parse(email).ok();
        if let Some(sso) = self.sso_policy().await? {
            if !sso.allows_password_for(parsed_email.as_ref()) {
                return Err(ServiceError::Forbidden(SSO_ONLY_MESSAGE.to_owned()));
            }
        }
        let account = match &parsed_email {
            Some(email) => email.to_string(),
            None => email.trim().to_lowercase(),
        };
        let account_key = secrets::hash(&format!("email:{account}"));
        let device = client
            .device
            .as_deref()
            .filter(|device| is_device_token(device));
        let presented_device_key = device.map(|device| device_key(&account, device));
        let recognised = match &presented_device_key {
            Some(key) => self.store.device_recognised(key).await?,
            None => false,
        };
        let client_key = secrets::hash(&format!(
            "client:{account}:{}:{}",
            device.unwrap_or("-"),
            client.address.as_deref().unwrap_or("-")
        ));
        let address_key = client
            .address
            .as_deref()
            .map(|address| secrets::hash(&format!("address:{address}")));
        let claim = self
            .store
            .claim_login_attempt(&LoginAttempt {
                client_key: &client_key,
                account_key: &account_key,
                address_key: address_key.as_deref(),
                client_limit: self.policy.login_max_failures,
                client_window: self.policy.login_window,
                delay_after,
                account_limit: (!recognised).then_some(self.policy.login_account_max_failures),
                account_window: ACCOUNT_WINDOW,
                now,
            })
            .await?;
        let attempts = match claim {
            LoginClaim::Granted { attempts } => attempts,
            LoginClaim::Refused { retry_at } => {
                let wait = (retry_at - now).whole_seconds().max(1);
                return Err(ServiceError::RateLimited {
                    retry_after_secs: u64::try_from(wait).unwrap_or(1),
                });
            }
        };
        let credentials = match &parsed_email {
            Some(email) => self.store.credentials(email).await?,
            None => None,
        };
        let (user, stored_hash) = match credentials {
            Some((user, hash)) => (Some(user), Some(hash)),
            None => (None, None),
        };
        let matches = passwords::verify(password, stored_hash).await?;
        let named = user
            .as_ref()
            .map(|user| (user.id, format!("user {}", user.email)));
        let Some(user) = user.filter(|_| matches) else {
            // The actor is the account the email names, if any; a typed email that names none
            // is not stored (it may be a mistyped password).
            let (actor, target) = match named {
                Some((id, target)) => (Some(id), target),
                None => (None, "unknown account".to_owned()),
            };
            let mut entry = self.audit_entry(actor, AuditAction::SignInFailed, target, "");
            entry.address_hash.clone_from(&address_key);
            self.store.record_audit(&entry).await?;
            self.store
                .postpone_login_attempt(&client_key, self.now() + delay_after(attempts))
                .await?;
            if client.address_is_shared_proxy {
                if let Some(address_key) = &address_key {
                    self.warn_if_many_accounts_fail_from(address_key, now)
                        .await?;
                }
            }
            return Err(ServiceError::BadCredentials);
        };
        let device = match device {
            Some(device) => device.to_owned(),
            None => secrets::generate("").plaintext,
        };
        self.store
            .login_succeeded(
                &client_key,
                (!recognised).then_some(account_key.as_str()),
                &device_key(&account, &device),
                now,
            )
            .await?;
        let session = self
            .open_session_for(
                user.id,
                &user.email.to_string(),
                "password",
                address_key,
                Self::session_user_agent(client.user_agent.as_deref()),
            )
            .await?;
        Ok(LoginOutcome {
            user,
            session,
            device: Some(device),
        })
    }

    /// Many accounts failing from one address while the address is the socket peer usually means
    /// a proxy in front hides the clients, so all of them share one set of counters. Logged once
    /// per window and instance, without the address.
    async fn warn_if_many_accounts_fail_from(
        &self,
        address_key: &str,
        now: OffsetDateTime,
    ) -> ServiceResult<()> {
        let since = now - self.policy.login_window;
        let accounts = self.store.accounts_failing_from(address_key, since).await?;
        if accounts < SHARED_ADDRESS_ACCOUNTS {
            return Ok(());
        }
        let mut warned = self
            .shared_address_warned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if warned.is_some_and(|at| at > since) {
            return Ok(());
        }
        *warned = Some(now);
        tracing::warn!(
            accounts,
            "sign-ins for many accounts are failing from one client address; if a proxy forwards \
             requests, set trust_forwarded_for = true so that clients are told apart"
        );
        Ok(())
    }

    /// Opens a session for a sign-in (`how`: password, set-up, invitation), recorded in the
    /// audit log with it.
    pub(super) async fn open_session_for(
        &self,
        user: UserId,
        email: &str,
        how: &str,
        address_hash: Option<String>,
        user_agent: Option<String>,
    ) -> ServiceResult<NewSessionCookie> {
        let token = secrets::generate("");
        let csrf = secrets::generate("");
        // A sign-in through the identity provider has an action of its own, so that the log
        // tells the two ways in apart at a glance.
        let action = if how == "sso" {
            AuditAction::SsoSignIn
        } else {
            AuditAction::SignInSucceeded
        };
        let mut entry = self.audit_entry(Some(user), action, format!("user {email}"), how);
        entry.address_hash = address_hash;
        self.store
            .create_session(
                &NewSession {
                    token_hash: token.hash,
                    user_id: user,
                    csrf_token: csrf.plaintext.clone(),
                    created_at: self.now(),
                    user_agent,
                },
                Some(&entry),
            )
            .await?;
        Ok(NewSessionCookie {
            token: token.plaintext,
            csrf_token: csrf.plaintext,
        })
    }

    /// Resolves a session cookie. `refresh` extends the idle timeout (at most once a day, to the
    /// day);
    /// callers pass `false` on requests whose timing must not be recorded against the person.
    pub async fn check_session(&self, token: &str, refresh: bool) -> ServiceResult<SessionCheck> {
        let hash = secrets::hash(token);
        let Some(session) = self.store.session(&hash).await? else {
            return Ok(SessionCheck::Unknown);
        };
        let now = self.now();
        // Use is recorded by the day only, so that no session row times a request (the GET
        // before an anonymous capture included): idleness counts from the end of that day.
        let seen_on = crate::domain::when::day_of(session.last_seen_at);
        let idle_expired = seen_on + TimeDuration::days(1) + self.policy.session_idle <= now;
        let absolute_expired = session.created_at + self.policy.session_absolute <= now;
        if idle_expired || absolute_expired {
            self.store.delete_session(&hash, None).await?;
            return Ok(SessionCheck::Expired);
        }
        let today = crate::domain::when::day_of(now);
        if refresh && today > session.last_seen_at {
            self.store.touch_session(&hash, today).await?;
        }
        Ok(SessionCheck::Valid {
            actor: Actor {
                user: session.user,
                session_hash: Some(hash),
            },
            csrf_token: session.csrf_token,
        })
    }

    /// Signs out: ends the session, recorded as its owner's.
    pub async fn logout(&self, token: &str) -> ServiceResult<()> {
        let hash = secrets::hash(token);
        let Some(session) = self.store.session(&hash).await? else {
            return Ok(());
        };
        let entry = self.audit_entry(
            Some(session.user.id),
            AuditAction::SessionEnded,
            format!("user {}", session.user.email),
            "signed out",
        );
        self.store.delete_session(&hash, Some(&entry)).await?;
        Ok(())
    }

    /// Resolves a bearer token. `record_use` keeps the day of use; it is off for requests that
    /// must not leave a trace of who made them.
    pub async fn check_api_token(
        &self,
        token: &str,
        record_use: bool,
    ) -> ServiceResult<Option<Actor>> {
        if !token.starts_with(API_TOKEN_PREFIX) {
            return Ok(None);
        }
        let day = record_use.then(|| day_of(self.now()));
        let user = self
            .store
            .user_by_api_token(&secrets::hash(token), day)
            .await?;
        Ok(user.map(|user| Actor {
            user,
            session_hash: None,
        }))
    }

    pub async fn rename(&self, actor: &Actor, name: &str) -> ServiceResult<DisplayName> {
        let name = DisplayName::parse(name).map_err(|e| ServiceError::field("name", e.0))?;
        self.store.set_display_name(actor.id(), &name).await?;
        Ok(name)
    }

    /// Names a password should not be made of, besides the person's own: the organisation's, and
    /// the teams `user` belongs to.
    pub(crate) async fn password_context(
        &self,
        user: Option<UserId>,
    ) -> ServiceResult<Vec<String>> {
        let mut names: Vec<String> = self
            .store
            .organisation()
            .await?
            .map(|o| o.name)
            .into_iter()
            .collect();
        if let Some(user) = user {
            for (team, _) in self.store.teams_of(user).await? {
                names.push(team.name.as_str().to_owned());
            }
        }
        Ok(names)
    }

    /// Changes the actor's password after checking the current one, and ends their other sessions.
    pub async fn change_password(
        &self,
        actor: &Actor,
        current: &str,
        new: &str,
    ) -> ServiceResult<()> {
        let context = self.password_context(Some(actor.id())).await?;
        let context: Vec<&str> = context.iter().map(String::as_str).collect();
        let person = passwords::about(
            actor.user.email.as_str(),
            actor.user.name.as_str(),
            &context,
        );
        let new =
            passwords::parse(new, &person).map_err(|e| ServiceError::field("new_password", e.0))?;
        let stored = self.store.password_hash(actor.id()).await?;
        if !passwords::verify(current, stored).await? {
            return Err(ServiceError::field("current_password", "is not right"));
        }
        let hash = passwords::hash(&new).await?;
        let entry = self.audit_entry(
            Some(actor.id()),
            AuditAction::PasswordChanged,
            format!("user {}", actor.user.email),
            "",
        );
        self.store
            .set_password_hash(actor.id(), &hash, &entry)
            .await?;
        self.store
            .delete_sessions_of(actor.id(), actor.session_hash.as_deref())
            .await?;
        Ok(())
    }

    /// Creates a personal API token. The plaintext is returned once and never stored.
    pub async fn create_api_token(
        &self,
        actor: &Actor,
        name: &str,
    ) -> ServiceResult<(ApiTokenRecord, String)> {
        self.issue_api_token(actor.id(), Some(actor.id()), name)
            .await
    }

    /// `by` is who created it: the owner, or nobody for the operator's command.
    async fn issue_api_token(
        &self,
        user: UserId,
        by: Option<UserId>,
        name: &str,
    ) -> ServiceResult<(ApiTokenRecord, String)> {
        let name = single_line(name, 80).map_err(|e| ServiceError::field("name", e.0))?;
        let secret = secrets::generate(API_TOKEN_PREFIX);
        let prefix: String = secret
            .plaintext
            .chars()
            .take(API_TOKEN_PREFIX.len() + 6)
            .collect();
        let token = NewApiToken {
            id: ApiTokenId::random(),
            user_id: user,
            name: name.clone(),
            token_hash: secret.hash,
            prefix: prefix.clone(),
            created_at: self.now(),
        };
        let entry = self.audit_entry(
            by,
            AuditAction::TokenCreated,
            format!("token {prefix}"),
            name.clone(),
        );
        self.store.create_api_token(&token, &entry).await?;
        Ok((
            ApiTokenRecord {
                id: token.id,
                name,
                prefix,
                created_at: token.created_at,
                last_used_on: None,
                revoked_at: None,
            },
            secret.plaintext,
        ))
    }

    pub async fn api_tokens(&self, actor: &Actor) -> ServiceResult<Vec<ApiTokenRecord>> {
        Ok(self.store.api_tokens_of(actor.id()).await?)
    }

    /// Revokes one of the actor's own tokens; someone else's token answers `NotFound`.
    pub async fn revoke_api_token(&self, actor: &Actor, id: &str) -> ServiceResult<()> {
        let id: ApiTokenId = id.parse().map_err(|_| ServiceError::NotFound)?;
        let token = self
            .store
            .api_tokens_of(actor.id())
            .await?
            .into_iter()
            .find(|token| token.id == id)
            .ok_or(ServiceError::NotFound)?;
        let entry = self.audit_entry(
            Some(actor.id()),
            AuditAction::TokenRevoked,
            format!("token {}", token.prefix),
            token.name,
        );
        if self
            .store
            .revoke_api_token(actor.id(), id, self.now(), &entry)
            .await?
        {
            Ok(())
        } else {
            Err(ServiceError::NotFound)
        }
    }

    /// Everyone in the organisation, for admins.
    pub async fn people(&self, actor: &Actor) -> ServiceResult<Vec<User>> {
        actor.require_admin()?;
        Ok(self.store.list_users().await?)
    }

    /// Grants or withdraws organisation admin rights; the last admin cannot be withdrawn.
    pub async fn set_admin(&self, actor: &Actor, user: &str, is_admin: bool) -> ServiceResult<()> {
        actor.require_admin()?;
        let user: UserId = user.parse().map_err(|_| ServiceError::NotFound)?;
        let person = self
            .store
            .user_by_id(user)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let entry = self.audit_entry(
            Some(actor.id()),
            if is_admin {
                AuditAction::AdminGranted
            } else {
                AuditAction::AdminWithdrawn
            },
            format!("user {}", person.email),
            "",
        );
        match self.store.set_admin(user, is_admin, &entry).await {
            Err(StoreError::Refused(_)) => Err(ServiceError::conflict(
                "is_admin",
                "the organisation must keep at least one admin",
            )),
            other => Ok(other?),
        }
    }

    /// Headless set-up (CLI): creates an account without an invitation. When no organisation
    /// exists yet, an admin account creates it too, named `organisation_name`.
    pub async fn create_user_directly(
        &self,
        email: &str,
        name: &str,
        password: &str,
        is_admin: bool,
        organisation_name: Option<&str>,
    ) -> ServiceResult<User> {
        let mut context = self.password_context(None).await?;
        context.extend(organisation_name.map(str::to_owned));
        let context: Vec<&str> = context.iter().map(String::as_str).collect();
        let person = passwords::about(email, name, &context);
        let mut errors = FieldErrors::default();
        let email = errors.take("email", Email::parse(email));
        let name = errors.take("name", DisplayName::parse(name));
        let password = errors.take("password", passwords::parse(password, &person));
        let (Some(email), Some(name), Some(password)) = (email, name, password) else {
            return Err(errors.into());
        };
        if self.store.organisation().await?.is_none() {
            if !is_admin {
                return Err(ServiceError::Conflict {
                    field: None,
                    message: "no organisation exists yet: create an admin first (--admin)".into(),
                });
            }
            let org_name = single_line(organisation_name.unwrap_or("failforward"), 120)
                .map_err(|e| ServiceError::field("organisation", e.0))?;
            let user = NewUser {
                id: UserId::random(),
                email,
                name,
                password_hash: passwords::hash(&password).await?,
                is_admin: true,
                created_at: self.now(),
            };
            // The same path as the set-up page, with a token drawn and spent on the spot.
            let secret = secrets::generate("");
            self.store
                .replace_setup_token(&secret.hash, self.now() + self.policy.setup_link_valid_for)
                .await?;
            let entry = self.audit_entry(
                None,
                AuditAction::OrganisationCreated,
                format!("user {}", user.email),
                format!("organisation {org_name}, first admin, by the operator's command"),
            );
            return match self
                .store
                .complete_setup(&secret.hash, self.now(), &org_name, &user, &entry)
                .await
            {
                Ok(()) => Ok(User {
                    id: user.id,
                    email: user.email,
                    name: user.name,
                    is_admin: true,
                }),
                Err(StoreError::Conflict { .. }) => Err(ServiceError::conflict(
                    "email",
                    "an account with this email already exists",
                )),
                Err(other) => Err(other.into()),
            };
        }
        let user = NewUser {
            id: UserId::random(),
            email,
            name,
            password_hash: passwords::hash(&password).await?,
            is_admin,
            created_at: self.now(),
        };
        let entry = self.audit_entry(
            None,
            AuditAction::UserCreated,
            format!("user {}", user.email),
            if is_admin {
                "admin, by the operator's command"
            } else {
                "by the operator's command"
            },
        );
        match self.store.create_user(&user, &entry).await {
            Ok(()) => Ok(User {
                id: user.id,
                email: user.email,
                name: user.name,
                is_admin,
            }),
            Err(StoreError::Conflict { .. }) => Err(ServiceError::conflict(
                "email",
                "an account with this email already exists",
            )),
            Err(other) => Err(other.into()),
        }
    }

    /// Headless set-up (CLI): a personal API token for the account with `email`.
    pub async fn create_api_token_directly(
        &self,
        email: &str,
        name: &str,
    ) -> ServiceResult<String> {
        let email = Email::parse(email).map_err(|e| ServiceError::field("email", e.0))?;
        let user = self
            .store
            .user_by_email(&email)
            .await?
            .ok_or_else(|| ServiceError::field("email", "no account has this email"))?;
        let (_, token) = self.issue_api_token(user.id, None, name).await?;
        Ok(token)
    }
}
