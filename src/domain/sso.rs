//! Single sign-on's rules (OpenID Connect, issue 22): the configured mapping from the identity
//! provider's groups to teams and roles, what a sign-in through the provider may do, and how the
//! settings file's values and the admin page's combine. No IO: the provider is reached by
//! `crate::oidc`, the stored settings by `store::sso`, and the use cases live in `service::sso`.

use super::{Email, Invalid, TeamRole, TeamSlug};

/// One line of the group mapping: members of `group` at the provider belong to `team` with
/// `role`. Written `group=team-slug:role` in the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMapping {
    pub group: String,
    pub team: TeamSlug,
    pub role: TeamRole,
}

impl GroupMapping {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let (group, target) = raw
            .rsplit_once('=')
            .ok_or_else(|| Invalid::new("must be written group=team-slug:role"))?;
        let group = group.trim();
        if group.is_empty() {
            return Err(Invalid::new("names no group before \"=\""));
        }
        let (team, role) = match target.split_once(':') {
            Some((team, role)) => (team, TeamRole::parse(role)?),
            None => (target, TeamRole::Member),
        };
        Ok(Self {
            group: group.to_owned(),
            team: TeamSlug::parse(team.trim())?,
            role,
        })
    }
}

/// What the server does with sign-ins through the provider.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SsoPolicy {
    /// The provider's issuer URL, stored with each linked account.
    pub issuer: String,
    /// The ID token claim that lists the person's groups (often `groups`); `None`: no mapping.
    pub groups_claim: Option<String>,
    pub group_teams: Vec<GroupMapping>,
    /// Local passwords are refused, except for `break_glass_email`.
    pub sso_only: bool,
    /// The one admin who may still sign in with a password when `sso_only` is on (for the day
    /// the provider is down).
    pub break_glass_email: Option<Email>,
}

impl SsoPolicy {
    /// Whether a password sign-in for `email` is allowed under this policy.
    pub fn allows_password_for(&self, email: Option<&Email>) -> bool {
        !self.sso_only || (email.is_some() && email == self.break_glass_email.as_ref())
    }

    /// The role `groups` give in `team`, when a mapping names it; the lead role wins when two
    /// mappings name the same team.
    pub fn role_in(&self, team: &TeamSlug, groups: &[String]) -> Option<TeamRole> {
        self.group_teams
            .iter()
            .filter(|m| &m.team == team && groups.iter().any(|g| g == &m.group))
            .map(|m| m.role)
            .min_by_key(|role| match role {
                TeamRole::Lead => 0,
                TeamRole::Member => 1,
            })
    }

    /// Every team a mapping names, once each.
    pub fn mapped_teams(&self) -> Vec<TeamSlug> {
        let mut teams: Vec<TeamSlug> = Vec::new();
        for mapping in &self.group_teams {
            if !teams.contains(&mapping.team) {
                teams.push(mapping.team.clone());
            }
        }
        teams
    }
}

/// How this app identifies itself to the OpenID Connect provider.
#[derive(Clone, PartialEq, Eq)]
pub struct OidcClientSettings {
    pub issuer_url: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// Scopes asked for beyond `openid email profile`.
    pub extra_scopes: Vec<String>,
}

impl std::fmt::Debug for OidcClientSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcClientSettings")
            .field("issuer_url", &self.issuer_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Single sign-on as it is in force: the client and the rules of sign-ins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveSso {
    pub client: OidcClientSettings,
    pub policy: SsoPolicy,
}

/// One single sign-on setting, named as the API, the form and the settings file name it (the
/// file and the environment add `oidc_`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SsoField {
    Enabled,
    IssuerUrl,
    ClientId,
    ClientSecret,
    Scopes,
    GroupsClaim,
    GroupTeams,
    SsoOnly,
    BreakGlassEmail,
}

impl SsoField {
    pub const ALL: [SsoField; 9] = [
        SsoField::Enabled,
        SsoField::IssuerUrl,
        SsoField::ClientId,
        SsoField::ClientSecret,
        SsoField::Scopes,
        SsoField::GroupsClaim,
        SsoField::GroupTeams,
        SsoField::SsoOnly,
        SsoField::BreakGlassEmail,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SsoField::Enabled => "enabled",
            SsoField::IssuerUrl => "issuer_url",
            SsoField::ClientId => "client_id",
            SsoField::ClientSecret => "client_secret",
            SsoField::Scopes => "scopes",
            SsoField::GroupsClaim => "groups_claim",
            SsoField::GroupTeams => "group_teams",
            SsoField::SsoOnly => "sso_only",
            SsoField::BreakGlassEmail => "break_glass_email",
        }
    }
}

/// Single sign-on settings, each present or not: what the settings file and environment give
/// (those lock their fields), what an admin saved, and the two combined.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SsoValues {
    pub enabled: Option<bool>,
    pub issuer_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub groups_claim: Option<String>,
    pub group_teams: Option<Vec<GroupMapping>>,
    pub sso_only: Option<bool>,
    pub break_glass_email: Option<Email>,
}

/// Never prints the client secret.
impl std::fmt::Debug for SsoValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoValues")
            .field("enabled", &self.enabled)
            .field("issuer_url", &self.issuer_url)
            .field("client_id", &self.client_id)
            .field("client_secret_set", &self.client_secret.is_some())
            .field("scopes", &self.scopes)
            .field("groups_claim", &self.groups_claim)
            .field("group_teams", &self.group_teams)
            .field("sso_only", &self.sso_only)
            .field("break_glass_email", &self.break_glass_email)
            .finish()
    }
}

impl SsoValues {
    /// Whether this set gives `field` a value.
    pub fn has(&self, field: SsoField) -> bool {
        match field {
            SsoField::Enabled => self.enabled.is_some(),
            SsoField::IssuerUrl => self.issuer_url.is_some(),
            SsoField::ClientId => self.client_id.is_some(),
            SsoField::ClientSecret => self.client_secret.is_some(),
            SsoField::Scopes => self.scopes.is_some(),
            SsoField::GroupsClaim => self.groups_claim.is_some(),
            SsoField::GroupTeams => self.group_teams.is_some(),
            SsoField::SsoOnly => self.sso_only.is_some(),
            SsoField::BreakGlassEmail => self.break_glass_email.is_some(),
        }
    }

    /// These values over `below`, field by field: the configuration's over the database's, the
    /// way mature products let the operator's file win and show the field locked.
    pub fn over(&self, below: &SsoValues) -> SsoValues {
        SsoValues {
            enabled: self.enabled.or(below.enabled),
            issuer_url: self.issuer_url.clone().or_else(|| below.issuer_url.clone()),
            client_id: self.client_id.clone().or_else(|| below.client_id.clone()),
            client_secret: self
                .client_secret
                .clone()
                .or_else(|| below.client_secret.clone()),
            scopes: self.scopes.clone().or_else(|| below.scopes.clone()),
            groups_claim: self
                .groups_claim
                .clone()
                .or_else(|| below.groups_claim.clone()),
            group_teams: self
                .group_teams
                .clone()
                .or_else(|| below.group_teams.clone()),
            sso_only: self.sso_only.or(below.sso_only),
            break_glass_email: self
                .break_glass_email
                .clone()
                .or_else(|| below.break_glass_email.clone()),
        }
    }

    /// The fields whose values differ between the two sets (the secret compared as well, and
    /// only named, never shown).
    pub fn changed_from(&self, before: &SsoValues) -> Vec<SsoField> {
        SsoField::ALL
            .into_iter()
            .filter(|field| match field {
                SsoField::Enabled => {
                    self.enabled.unwrap_or(false) != before.enabled.unwrap_or(false)
                }
                SsoField::IssuerUrl => self.issuer_url != before.issuer_url,
                SsoField::ClientId => self.client_id != before.client_id,
                SsoField::ClientSecret => self.client_secret != before.client_secret,
                SsoField::Scopes => {
                    self.scopes.clone().unwrap_or_default()
                        != before.scopes.clone().unwrap_or_default()
                }
                SsoField::GroupsClaim => self.groups_claim != before.groups_claim,
                SsoField::GroupTeams => {
                    self.group_teams.clone().unwrap_or_default()
                        != before.group_teams.clone().unwrap_or_default()
                }
                SsoField::SsoOnly => {
                    self.sso_only.unwrap_or(false) != before.sso_only.unwrap_or(false)
                }
                SsoField::BreakGlassEmail => self.break_glass_email != before.break_glass_email,
            })
            .collect()
    }

    /// Single sign-on in force with these (combined) values: on, with an issuer and a client id.
    pub fn active(&self) -> Option<ActiveSso> {
        if !self.enabled.unwrap_or(false) {
            return None;
        }
        let issuer_url = self.issuer_url.clone()?;
        let client_id = self.client_id.clone()?;
        Some(ActiveSso {
            client: OidcClientSettings {
                issuer_url: issuer_url.clone(),
                client_id,
                client_secret: self.client_secret.clone(),
                extra_scopes: self.scopes.clone().unwrap_or_default(),
            },
            policy: SsoPolicy {
                issuer: issuer_url,
                groups_claim: self.groups_claim.clone(),
                group_teams: self.group_teams.clone().unwrap_or_default(),
                sso_only: self.sso_only.unwrap_or(false),
                break_glass_email: self.break_glass_email.clone(),
            },
        })
    }
}

/// An issuer URL an admin typed: absolute, `https`, or `http` only on this machine (a provider
/// for development); kept as typed (trimmed), since the ID token's `iss` must equal it exactly.
pub fn parse_issuer_url(raw: &str) -> Result<String, Invalid> {
    let raw = raw.trim();
    let url = openidconnect::url::Url::parse(raw)
        .map_err(|_| Invalid::new("must be an absolute URL such as https://id.example.org"))?;
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" => {}
        "http" if local => {}
        _ => {
            return Err(Invalid::new(
                "must start with https:// (http:// only for localhost or 127.0.0.1)",
            ))
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Invalid::new("must name a host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Invalid::new("must not have a query or fragment"));
    }
    Ok(raw.to_owned())
}

/// Scopes as typed: separated by spaces, commas or lines; `openid email profile` are always
/// asked for and so dropped here.
pub fn parse_scopes(raw: &str) -> Result<Vec<String>, Invalid> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in raw.split(|c: char| c.is_whitespace() || c == ',') {
        if scope.is_empty() || matches!(scope, "openid" | "email" | "profile") {
            continue;
        }
        if !scope
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
        {
            return Err(Invalid::new(format!("{scope:?} is not a valid scope")));
        }
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    Ok(scopes)
}

/// Group mappings as typed, one `group=team-slug:role` a line (blank lines skipped).
pub fn parse_group_teams(raw: &str) -> Result<Vec<GroupMapping>, Invalid> {
    raw.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            GroupMapping::parse(line).map_err(|e| Invalid::new(format!("line {line:?} {}", e.0)))
        })
        .collect()
}

impl GroupMapping {
    /// The line this mapping is written as.
    pub fn line(&self) -> String {
        format!("{}={}:{}", self.group, self.team, self.role.as_str())
    }
}

/// Why a sign-in through the provider was refused; the audit entry's detail and the page say it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsoRefusal {
    #[error("the sign-in link expired or was already used")]
    UnknownState,
    #[error("the identity provider answered with an error: {0}")]
    ProviderError(String),
    #[error("the identity provider's token was not valid: {0}")]
    InvalidToken(String),
    #[error("the identity provider gave no email address")]
    NoEmail,
    #[error("the identity provider has not verified this email address")]
    EmailNotVerified,
    #[error("this account is deactivated")]
    Deactivated,
    #[error("this account already signs in as another person at the identity provider")]
    LinkedToAnother,
    #[error("failforward has not been set up yet")]
    NotSetUp,
    #[error("the invitation has expired, was withdrawn or was already used")]
    InvitationUnusable,
    #[error(
        "the invitation is for another email address than the one the identity provider verified"
    )]
    InvitationForAnother,
}

impl SsoRefusal {
    /// A short word for the audit entry.
    pub fn reason(&self) -> &'static str {
        match self {
            SsoRefusal::UnknownState => "unknown_state",
            SsoRefusal::ProviderError(_) => "provider_error",
            SsoRefusal::InvalidToken(_) => "invalid_token",
            SsoRefusal::NoEmail => "no_email",
            SsoRefusal::EmailNotVerified => "email_not_verified",
            SsoRefusal::Deactivated => "deactivated",
            SsoRefusal::LinkedToAnother => "linked_to_another",
            SsoRefusal::NotSetUp => "not_set_up",
            SsoRefusal::InvitationUnusable => "invitation_unusable",
            SsoRefusal::InvitationForAnother => "invitation_for_another",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_parse_with_a_default_role() {
        let lead = GroupMapping::parse("sre=platform:lead").expect("valid");
        assert_eq!(lead.group, "sre");
        assert_eq!(lead.team.as_str(), "platform");
        assert_eq!(lead.role, TeamRole::Lead);
        let member = GroupMapping::parse("dev = platform").expect("valid");
        assert_eq!(member.role, TeamRole::Member);
        assert!(GroupMapping::parse("platform").is_err());
        assert!(GroupMapping::parse("=platform").is_err());
        assert!(GroupMapping::parse("sre=platform:owner").is_err());
    }

    #[test]
    fn only_the_break_glass_admin_keeps_a_password_under_sso_only() {
        let admin = Email::parse("admin@example.org").expect("valid");
        let other = Email::parse("ada@example.org").expect("valid");
        let policy = SsoPolicy {
            sso_only: true,
            break_glass_email: Some(admin.clone()),
            ..SsoPolicy::default()
        };
        assert!(policy.allows_password_for(Some(&admin)));
        assert!(!policy.allows_password_for(Some(&other)));
        assert!(!policy.allows_password_for(None));
        assert!(SsoPolicy::default().allows_password_for(Some(&other)));
    }

    #[test]
    fn the_lead_role_wins_when_two_groups_name_a_team() {
        let policy = SsoPolicy {
            group_teams: vec![
                GroupMapping::parse("dev=platform:member").expect("valid"),
                GroupMapping::parse("sre=platform:lead").expect("valid"),
            ],
            ..SsoPolicy::default()
        };
        let team = TeamSlug::parse("platform").expect("valid");
        let groups = vec!["dev".to_owned(), "sre".to_owned()];
        assert_eq!(policy.role_in(&team, &groups), Some(TeamRole::Lead));
        assert_eq!(policy.role_in(&team, &groups[..1]), Some(TeamRole::Member));
        assert_eq!(policy.role_in(&team, &[]), None);
    }

    #[test]
    fn issuer_urls_must_be_https_except_on_this_machine() {
        assert!(parse_issuer_url("https://id.example.org").is_ok());
        assert!(parse_issuer_url(" http://127.0.0.1:4000/oidc ").is_ok());
        assert!(parse_issuer_url("http://localhost:4000").is_ok());
        assert!(parse_issuer_url("http://id.example.org").is_err());
        assert!(parse_issuer_url("id.example.org").is_err());
        assert!(parse_issuer_url("ftp://id.example.org").is_err());
        assert!(parse_issuer_url("https://id.example.org/?x=1").is_err());
        assert_eq!(
            parse_issuer_url("https://id.example.org/realms/x").expect("valid"),
            "https://id.example.org/realms/x",
            "kept as typed: the token's iss must equal it"
        );
    }

    #[test]
    fn configured_values_win_field_by_field() {
        let configured = SsoValues {
            issuer_url: Some("https://id.example.org".to_owned()),
            ..SsoValues::default()
        };
        let stored = SsoValues {
            enabled: Some(true),
            issuer_url: Some("https://other.example.org".to_owned()),
            client_id: Some("app".to_owned()),
            ..SsoValues::default()
        };
        let merged = configured.over(&stored);
        assert_eq!(merged.issuer_url.as_deref(), Some("https://id.example.org"));
        assert_eq!(merged.client_id.as_deref(), Some("app"));
        let active = merged.active().expect("on, with an issuer and a client id");
        assert_eq!(active.client.issuer_url, "https://id.example.org");
        assert!(SsoValues {
            enabled: Some(false),
            ..merged.clone()
        }
        .active()
        .is_none());
        assert_eq!(
            merged.changed_from(&stored),
            vec![SsoField::IssuerUrl],
            "only the issuer differs"
        );
    }

    #[test]
    fn scopes_and_mappings_parse_as_typed() {
        assert_eq!(
            parse_scopes("openid groups, offline_access groups").expect("valid"),
            vec!["groups", "offline_access"]
        );
        assert!(parse_scopes("a\"b").is_err());
        let mappings = parse_group_teams("sre=platform:lead\n\n dev=platform \n").expect("valid");
        assert_eq!(mappings.len(), 2);
        assert_eq!(mappings[1].line(), "dev=platform:member");
        assert!(parse_group_teams("sre").is_err());
    }
}
