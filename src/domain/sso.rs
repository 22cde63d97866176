//! Single sign-on's rules (OpenID Connect, issue 22): the configured mapping from the identity
//! provider's groups to teams and roles, and what a sign-in through the provider may do. No IO:
//! the provider is reached by `crate::oidc`, and the use cases live in `service::sso`.

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
#[derive(Debug, Clone, Default)]
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
}
