//! Single sign-on's settings as an admin sees and changes them (issue 22): the settings file's
//! and environment's values win and lock their fields; the rest come from the database row an
//! admin saves. Sign-ins read the combination through [`Service::active_sso`], kept a few
//! seconds at most, so a change reaches every instance without a restart. The protocol is
//! `crate::oidc`'s and the sign-in `service::sso`'s.

use std::time::{Duration as StdDuration, Instant};

use crate::domain::audit::AuditAction;
use crate::domain::sso::{
    parse_group_teams, parse_issuer_url, parse_scopes, ActiveSso, SsoField, SsoValues,
};
use crate::domain::{Email, TeamSlug};
use crate::store::sso::StoredSsoSettings;

use super::error::{FieldErrors, ServiceResult};
use super::{Actor, Service};

/// How long an instance keeps the combined settings before reading the row again: short, so
/// that a change made on another instance is in force within seconds.
pub const SSO_SETTINGS_KEPT_FOR: StdDuration = StdDuration::from_secs(5);

/// The box the client secret is sealed in (see `service::sealing`).
const SECRET_CONTEXT: &str = "sso-settings:client_secret";

/// What the message of a locked field says.
const LOCKED: &str = "is set by the server's configuration and cannot be changed here";

/// The combined settings kept by one instance, with when they were read.
pub(super) type SsoCache = std::sync::Mutex<Option<(Instant, Option<ActiveSso>)>>;

/// The settings as the admin page and the API show them: never the client secret itself.
#[derive(Debug, Clone)]
pub struct SsoSettingsView {
    pub enabled: bool,
    pub issuer_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret_set: bool,
    pub scopes: Vec<String>,
    pub groups_claim: Option<String>,
    /// One `group=team-slug:role` each.
    pub group_teams: Vec<String>,
    pub sso_only: bool,
    pub break_glass_email: Option<String>,
    /// The fields the settings file or the environment sets.
    pub locked: Vec<SsoField>,
    /// Whether sign-in through the provider is in force (on, with an issuer and a client id).
    pub active: bool,
    /// The address to register at the provider as the redirect URI.
    pub redirect_url: String,
}

impl SsoSettingsView {
    pub fn is_locked(&self, field: SsoField) -> bool {
        self.locked.contains(&field)
    }
}

/// A change an admin asks for: a field left out stays as it is; a blank client secret keeps
/// the one saved; blank text clears the others.
#[derive(Debug, Default, Clone)]
pub struct SsoSettingsChange {
    pub enabled: Option<bool>,
    pub issuer_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Separated by spaces, commas or lines.
    pub scopes: Option<String>,
    pub groups_claim: Option<String>,
    /// One `group=team-slug:role` a line.
    pub group_teams: Option<String>,
    pub sso_only: Option<bool>,
    pub break_glass_email: Option<String>,
}

/// Text that means "none" when blank.
fn text(raw: &str) -> Option<String> {
    Some(raw.trim().to_owned()).filter(|value| !value.is_empty())
}

impl Service {
    /// Single sign-on as it is in force now, read from the database at most every
    /// [`SSO_SETTINGS_KEPT_FOR`].
    pub async fn active_sso(&self) -> ServiceResult<Option<ActiveSso>> {
        if let Ok(kept) = self.sso_cache.lock() {
            if let Some((read_at, active)) = kept.as_ref() {
                if read_at.elapsed() < SSO_SETTINGS_KEPT_FOR {
                    return Ok(active.clone());
                }
            }
        }
        let active = self
            .policy
            .sso_configured
            .over(&self.stored_sso_values().await?)
            .active();
        if let Ok(mut kept) = self.sso_cache.lock() {
            *kept = Some((Instant::now(), active.clone()));
        }
        Ok(active)
    }

    /// Forgets the kept settings, so this instance reads its own change at once.
    fn forget_sso_settings(&self) {
        if let Ok(mut kept) = self.sso_cache.lock() {
            *kept = None;
        }
    }

    /// The values an admin saved. A value that no longer parses (a rule changed since) is
    /// left out with a warning rather than stopping every sign-in.
    async fn stored_sso_values(&self) -> ServiceResult<SsoValues> {
        let Some(row) = self.store.sso_settings().await? else {
            return Ok(SsoValues::default());
        };
        let client_secret = match (&row.client_secret_sealed, &self.sealer) {
            (Some(sealed), Some(sealer)) => Some(sealer.open(sealed, SECRET_CONTEXT)?),
            // The operator's commands run without the key and never sign anyone in.
            _ => None,
        };
        let group_teams = parse_group_teams(&row.group_teams).unwrap_or_else(|error| {
            tracing::warn!(error = %error.0, "a saved SSO group mapping does not parse");
            Vec::new()
        });
        let scopes = parse_scopes(&row.scopes).unwrap_or_default();
        Ok(SsoValues {
            enabled: Some(row.enabled),
            issuer_url: row.issuer_url,
            client_id: row.client_id,
            client_secret,
            scopes: Some(scopes).filter(|scopes| !scopes.is_empty()),
            groups_claim: row.groups_claim,
            group_teams: Some(group_teams).filter(|mappings| !mappings.is_empty()),
            sso_only: Some(row.sso_only),
            break_glass_email: row
                .break_glass_email
                .and_then(|email| Email::parse(&email).ok()),
        })
    }

    fn sso_view(&self, stored: &SsoValues) -> SsoSettingsView {
        let configured = &self.policy.sso_configured;
        let merged = configured.over(stored);
        SsoSettingsView {
            enabled: merged.enabled.unwrap_or(false),
            issuer_url: merged.issuer_url.clone(),
            client_id: merged.client_id.clone(),
            client_secret_set: merged.client_secret.is_some(),
            scopes: merged.scopes.clone().unwrap_or_default(),
            groups_claim: merged.groups_claim.clone(),
            group_teams: merged
                .group_teams
                .iter()
                .flatten()
                .map(|mapping| mapping.line())
                .collect(),
            sso_only: merged.sso_only.unwrap_or(false),
            break_glass_email: merged.break_glass_email.as_ref().map(ToString::to_string),
            locked: SsoField::ALL
                .into_iter()
                .filter(|field| configured.has(*field))
                .collect(),
            active: merged.active().is_some(),
            redirect_url: self.link("/login/sso/callback"),
        }
    }

    /// The single sign-on settings (organisation admins only).
    pub async fn sso_settings(&self, actor: &Actor) -> ServiceResult<SsoSettingsView> {
        actor.require_admin()?;
        Ok(self.sso_view(&self.stored_sso_values().await?))
    }

    /// Changes the saved settings (organisation admins only). A locked field may only be given
    /// its configured value; "SSO only" needs a break-glass admin, so that nobody is locked
    /// out; the change is audited once, naming the fields (never the secret's value).
    pub async fn change_sso_settings(
        &self,
        actor: &Actor,
        change: &SsoSettingsChange,
    ) -> ServiceResult<SsoSettingsView> {
        actor.require_admin()?;
        let configured = self.policy.sso_configured.clone();
        let before = self.stored_sso_values().await?;
        let mut after = before.clone();
        let mut errors = FieldErrors::default();
        let mut given: Vec<(SsoField, bool)> = Vec::new();

        if let Some(enabled) = change.enabled {
            after.enabled = Some(enabled);
            given.push((SsoField::Enabled, configured.enabled != Some(enabled)));
        }
        if let Some(raw) = &change.issuer_url {
            let parsed = match text(raw) {
                None => Some(None),
                Some(url) => errors
                    .take(SsoField::IssuerUrl.as_str(), parse_issuer_url(&url))
                    .map(Some),
            };
            if let Some(url) = parsed {
                given.push((SsoField::IssuerUrl, configured.issuer_url != url));
                after.issuer_url = url;
            }
        }
        if let Some(raw) = &change.client_id {
            let id = text(raw);
            if id.as_ref().is_some_and(|id| id.chars().count() > 255) {
                errors.push(
                    SsoField::ClientId.as_str(),
                    "must be at most 255 characters",
                );
            }
            given.push((SsoField::ClientId, configured.client_id != id));
            after.client_id = id;
        }
        // A blank secret keeps the saved one: the form never shows it to fill in again.
        if let Some(secret) = change.client_secret.as_deref().filter(|s| !s.is_empty()) {
            given.push((SsoField::ClientSecret, true));
            after.client_secret = Some(secret.to_owned());
        }
        if let Some(raw) = &change.scopes {
            if let Some(scopes) = errors.take(SsoField::Scopes.as_str(), parse_scopes(raw)) {
                let scopes = Some(scopes).filter(|scopes| !scopes.is_empty());
                given.push((SsoField::Scopes, configured.scopes != scopes));
                after.scopes = scopes;
            }
        }
        if let Some(raw) = &change.groups_claim {
            let claim = text(raw);
            given.push((SsoField::GroupsClaim, configured.groups_claim != claim));
            after.groups_claim = claim;
        }
        if let Some(raw) = &change.group_teams {
            if let Some(mappings) =
                errors.take(SsoField::GroupTeams.as_str(), parse_group_teams(raw))
            {
                let mut unknown: Vec<&TeamSlug> = Vec::new();
                for mapping in &mappings {
                    if !unknown.contains(&&mapping.team)
                        && self.store.team_by_slug(&mapping.team).await?.is_none()
                    {
                        unknown.push(&mapping.team);
                    }
                }
                if let Some(team) = unknown.first() {
                    errors.push(
                        SsoField::GroupTeams.as_str(),
                        format!("names the team \"{team}\", which does not exist"),
                    );
                }
                let mappings = Some(mappings).filter(|mappings| !mappings.is_empty());
                given.push((SsoField::GroupTeams, configured.group_teams != mappings));
                after.group_teams = mappings;
            }
        }
        if let Some(sso_only) = change.sso_only {
            after.sso_only = Some(sso_only);
            given.push((SsoField::SsoOnly, configured.sso_only != Some(sso_only)));
        }
        if let Some(raw) = &change.break_glass_email {
            let parsed = match text(raw) {
                None => Some(None),
                Some(email) => errors
                    .take(SsoField::BreakGlassEmail.as_str(), Email::parse(&email))
                    .map(Some),
            };
            if let Some(email) = parsed {
                if let Some(email) = &email {
                    let admin = self.store.user_by_email(email).await?;
                    if !admin.is_some_and(|user| user.is_admin) {
                        errors.push(
                            SsoField::BreakGlassEmail.as_str(),
                            "must be the email of an organisation admin's account",
                        );
                    }
                }
                given.push((
                    SsoField::BreakGlassEmail,
                    configured.break_glass_email != email,
                ));
                after.break_glass_email = email;
            }
        }
        for (field, differs) in &given {
            if configured.has(*field) && *differs {
                errors.push(field.as_str(), LOCKED);
            }
        }
        errors.check()?;
        // The whole, once each field is valid on its own.
        let mut errors = FieldErrors::default();

        let merged = configured.over(&after);
        if merged.enabled.unwrap_or(false) {
            if merged.issuer_url.is_none() {
                errors.push(
                    SsoField::IssuerUrl.as_str(),
                    "is needed to turn single sign-on on",
                );
            }
            if merged.client_id.is_none() {
                errors.push(
                    SsoField::ClientId.as_str(),
                    "is needed to turn single sign-on on",
                );
            }
        }
        if merged.sso_only.unwrap_or(false) && merged.break_glass_email.is_none() {
            errors.push(
                SsoField::BreakGlassEmail.as_str(),
                "must be set before sign-in only through single sign-on is turned on, so that \
                 an admin can still sign in with a password when the provider is down",
            );
        }
        errors.check()?;

        let changed: Vec<SsoField> = after
            .changed_from(&before)
            .into_iter()
            .filter(|field| !configured.has(*field))
            .collect();
        if changed.is_empty() {
            return Ok(self.sso_view(&before));
        }
        let client_secret_sealed = match &after.client_secret {
            Some(secret) => Some(self.sealer()?.seal(secret, SECRET_CONTEXT)?),
            None => None,
        };
        let row = StoredSsoSettings {
            enabled: after.enabled.unwrap_or(false),
            issuer_url: after.issuer_url.clone(),
            client_id: after.client_id.clone(),
            client_secret_sealed,
            scopes: after.scopes.clone().unwrap_or_default().join(" "),
            groups_claim: after.groups_claim.clone(),
            group_teams: after
                .group_teams
                .iter()
                .flatten()
                .map(|mapping| mapping.line())
                .collect::<Vec<_>>()
                .join("\n"),
            sso_only: after.sso_only.unwrap_or(false),
            break_glass_email: after.break_glass_email.as_ref().map(ToString::to_string),
            updated_at: self.now(),
        };
        let names: Vec<&str> = changed.iter().map(|field| field.as_str()).collect();
        let entry = self.audit_entry(
            Some(actor.id()),
            AuditAction::SsoSettingsChanged,
            names.join(", "),
            "",
        );
        self.store.save_sso_settings(&row, &entry).await?;
        self.forget_sso_settings();
        Ok(self.sso_view(&after))
    }
}
