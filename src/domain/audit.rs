//! The audit log's vocabulary: which security and administrative changes are recorded, what one
//! entry holds, and the user-agent summary that sessions show.
//!
//! Nothing a person does anonymously has an action here (anonymous loops, unnamed cards, sealed
//! contributions, pulse answers): an entry naming its actor with a fine time beside such a
//! contribution would undo the anonymity the product promises.

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;

use super::{RecordId, UserId};

macro_rules! audit_actions {
    ($($(#[$meta:meta])* $variant:ident => $word:literal,)+) => {
        /// A kind of audited change; its word (`sign_in.succeeded`) is what is stored and filtered on.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum AuditAction {
            $($(#[$meta])* $variant,)+
        }

        impl AuditAction {
            /// Every action, in the order the filter lists them.
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $word,)+
                }
            }
        }

        impl FromStr for AuditAction {
            type Err = super::Invalid;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($word => Ok(AuditAction::$variant),)+
                    _ => Err(super::Invalid("is not an audited action".to_owned())),
                }
            }
        }
    };
}

audit_actions! {
    SignInSucceeded => "sign_in.succeeded",
    /// A wrong password or an unknown account; the actor is the account when one has that email.
    SignInFailed => "sign_in.failed",
    /// Signing out, or ending one session from "Your sessions".
    SessionEnded => "session.ended",
    /// "Sign out everywhere else".
    SessionsEndedElsewhere => "session.ended_elsewhere",
    /// An admin ended every session and token of someone.
    SessionsEndedByAdmin => "session.ended_by_admin",
    PasswordChanged => "password.changed",
    /// The organisation and its first admin, through the set-up page (the admin is the actor)
    /// or the operator's command (no actor).
    OrganisationCreated => "organisation.created",
    /// An account made by the operator's `admin create-user` (no actor).
    UserCreated => "user.created",
    AdminGranted => "admin.granted",
    AdminWithdrawn => "admin.withdrawn",
    MemberAdded => "member.added",
    MemberRoleChanged => "member.role_changed",
    MemberRemoved => "member.removed",
    TokenCreated => "token.created",
    TokenRevoked => "token.revoked",
    TeamSettingsChanged => "team.settings_changed",
    InvitationCreated => "invitation.created",
    InvitationRevoked => "invitation.revoked",
    InvitationAccepted => "invitation.accepted",
    WebhookCreated => "webhook.created",
    WebhookRotated => "webhook.rotated",
    WebhookDisabled => "webhook.disabled",
    WebhookEnabled => "webhook.enabled",
    WebhookDeleted => "webhook.deleted",
    Exported => "data.exported",
    Imported => "data.imported",
    BackupMade => "backup.made",
    AuditExported => "audit.exported",
    /// The identity provider created an account through SCIM.
    ScimUserCreated => "scim.user_created",
    /// The identity provider changed an account's name, email, externalId or reactivated it.
    ScimUserUpdated => "scim.user_updated",
    /// The identity provider deactivated (or deleted) an account: its sessions and tokens end.
    ScimUserDeactivated => "scim.user_deactivated",
    /// A SCIM group (a team) was created, renamed, had members added or removed, or was unlinked.
    ScimGroupChanged => "scim.group_changed",
    /// An organisation admin created or rotated the organisation's SCIM token.
    ScimTokenRotated => "scim.token_rotated",
    /// An organisation admin switched SCIM off: the token stops working.
    ScimTokenRevoked => "scim.token_revoked",
    /// A sign-in through the OpenID Connect provider (instead of `sign_in.succeeded`).
    SsoSignIn => "sso.sign_in",
    /// A first sign-in through the provider created the account (just in time).
    SsoAccountCreated => "sso.account_created",
    /// A first sign-in through the provider linked an existing account by its verified email.
    SsoAccountLinked => "sso.account_linked",
    /// A sign-in through the provider was refused; the detail says why.
    SsoRefused => "sso.refused",
    /// An organisation admin changed the single sign-on settings; the target names the fields
    /// (never the client secret's value).
    SsoSettingsChanged => "sso.settings_changed",
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry to write, built by the use case that makes the change and written by the store in
/// that change's transaction.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub id: RecordId,
    pub occurred_at: OffsetDateTime,
    /// `None` for the server itself (a webhook switched off after a day of failures) and the
    /// operator's commands that act as no account (backups).
    pub actor: Option<UserId>,
    pub action: AuditAction,
    /// What was changed, in words (`team platform`, `user ada@example.com`, `token ffp_ab12cd`).
    pub target: String,
    /// The change itself where the action does not say it (`member → lead`).
    pub detail: String,
    /// Only on sign-ins: the same hash of the client address that sign-in throttling keeps
    /// (`login_client_throttle.address_hash`), never the address.
    pub address_hash: Option<String>,
}

/// The outbox kinds of audit entries begin with this (`audit.member.added`): the audit log is
/// the outbox's events of these kinds (migration 0053), which no webhook is ever offered.
pub const AUDIT_KIND_PREFIX: &str = "audit.";

impl AuditEntry {
    /// The entry's kind in the outbox: [`AUDIT_KIND_PREFIX`] and the action's word.
    pub fn kind(&self) -> String {
        format!("{AUDIT_KIND_PREFIX}{}", self.action.as_str())
    }

    /// The entry as the outbox keeps it, in the envelope every event has (`type`, `version`,
    /// `timestamp`, `data`); the target is also the event's subject.
    pub fn payload(&self) -> serde_json::Value {
        // To the second, as the row's `occurred_at` keeps it.
        let timestamp = self
            .occurred_at
            .replace_nanosecond(0)
            .unwrap_or(self.occurred_at)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        serde_json::json!({
            "type": self.kind(),
            "version": super::events::PAYLOAD_VERSION,
            "timestamp": timestamp,
            "data": {
                "actor_id": self.actor.map(|actor| actor.to_string()),
                "target": self.target,
                "detail": self.detail,
                "address_hash": self.address_hash,
            },
        })
    }
}

/// One entry as read back, with its actor's current name and email.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    pub id: RecordId,
    pub occurred_at: OffsetDateTime,
    pub actor: Option<UserId>,
    pub actor_name: Option<String>,
    pub actor_email: Option<String>,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub address_hash: Option<String>,
}

/// A browser and system in a few words ("Firefox on Linux"), so that a session list says what a
/// session is without keeping the full user-agent string (which, with its versions, comes close
/// to a fingerprint).
pub fn summarise_user_agent(user_agent: &str) -> String {
    let browser = if user_agent.contains("Edg/") {
        "Edge"
    } else if user_agent.contains("OPR/") || user_agent.contains("Opera") {
        "Opera"
    } else if user_agent.contains("Firefox/") {
        "Firefox"
    } else if user_agent.contains("Chrome/") || user_agent.contains("Chromium/") {
        "Chrome"
    } else if user_agent.contains("Safari/") {
        "Safari"
    } else if user_agent.starts_with("curl/") {
        "curl"
    } else {
        "A browser"
    };
    let system = if user_agent.contains("Android") {
        "Android"
    } else if user_agent.contains("iPhone") || user_agent.contains("iPad") {
        "iOS"
    } else if user_agent.contains("Windows") {
        "Windows"
    } else if user_agent.contains("Mac OS X") || user_agent.contains("Macintosh") {
        "macOS"
    } else if user_agent.contains("CrOS") {
        "ChromeOS"
    } else if user_agent.contains("Linux") {
        "Linux"
    } else {
        return browser.to_owned();
    };
    format!("{browser} on {system}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_read_back_from_their_words() {
        for action in AuditAction::ALL {
            assert_eq!(action.as_str().parse::<AuditAction>().ok(), Some(*action));
        }
        assert!("loop.logged".parse::<AuditAction>().is_err());
    }

    #[test]
    fn an_entry_is_kept_as_an_audit_kind_with_its_words_in_the_payload() {
        let entry = AuditEntry {
            id: RecordId::random(),
            occurred_at: OffsetDateTime::from_unix_timestamp(1_764_765_432).expect("an instant"),
            actor: None,
            action: AuditAction::MemberRoleChanged,
            target: "team ops, user mo@example.org".to_owned(),
            detail: "member → lead".to_owned(),
            address_hash: None,
        };
        assert_eq!(entry.kind(), "audit.member.role_changed");
        let payload = entry.payload();
        assert_eq!(payload["type"], "audit.member.role_changed");
        assert_eq!(payload["timestamp"], "2025-12-03T12:37:12Z");
        assert_eq!(payload["data"]["detail"], "member → lead");
        assert_eq!(payload["data"]["actor_id"], serde_json::Value::Null);
        assert!(
            crate::domain::events::EventKind::parse(&entry.kind()).is_none(),
            "no webhook can subscribe to an audit kind"
        );
    }

    #[test]
    fn user_agents_are_summarised_without_versions() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(summarise_user_agent(firefox), "Firefox on Linux");
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0";
        assert_eq!(summarise_user_agent(edge), "Edge on Windows");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(summarise_user_agent(safari), "Safari on iOS");
        assert_eq!(summarise_user_agent("reqwest"), "A browser");
    }
}
