//! The audit log (who changed what, for admins) and "Your sessions" (a person's own sessions
//! and tokens, ended one by one or all but the current; an admin ends all of someone's).
//!
//! Entries are built here by [`Service::audit_entry`] and handed to the store method that makes
//! the change, which writes them in its transaction. Only the actions of
//! [`AuditAction`] are recorded; none concerns an anonymous loop, an unnamed card, a sealed
//! contribution or a pulse answer, and none is written by the requests that make those.

use time::OffsetDateTime;

use crate::domain::audit::{summarise_user_agent, AuditAction, AuditEntry, AuditRecord};
use crate::domain::records::people::ApiTokenRecord;
use crate::domain::when::parse_date;
use crate::domain::{Email, UserId};
use crate::store::audit::AuditFilter;

use super::error::{FieldErrors, ServiceError, ServiceResult};
use super::{secrets, Actor, Service};

/// The most entries one listing or export returns.
pub const AUDIT_LIMIT_MAX: i64 = 10_000;
/// Entries a listing returns when not told.
pub const AUDIT_LIMIT_DEFAULT: i64 = 200;

/// An audit listing as asked for: every field optional, read by [`Service::audit_log`].
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// One action's word (`member.added`).
    pub action: Option<String>,
    /// The actor's email or account id.
    pub actor: Option<String>,
    /// First day included (`YYYY-MM-DD`, UTC).
    pub from: Option<String>,
    /// Last day included (`YYYY-MM-DD`, UTC).
    pub until: Option<String>,
    pub limit: Option<i64>,
}

/// One entry as exports (CSV columns, JSON fields) and the API write it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AuditLine {
    pub id: String,
    /// RFC 3339, UTC.
    pub occurred_at: String,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub action: String,
    pub target: String,
    pub detail: String,
    /// SHA-256 of the client address as sign-in throttling keeps it; sign-ins only.
    pub address_hash: Option<String>,
}

impl From<AuditRecord> for AuditLine {
    fn from(record: AuditRecord) -> Self {
        Self {
            id: record.id.to_string(),
            occurred_at: record
                .occurred_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            actor_id: record.actor.map(|actor| actor.to_string()),
            actor_email: record.actor_email,
            action: record.action,
            target: record.target,
            detail: record.detail,
            address_hash: record.address_hash,
        }
    }
}

/// A rendered export of the audit log.
#[derive(Debug, Clone)]
pub struct AuditFile {
    pub content_type: &'static str,
    pub file_name: &'static str,
    pub bytes: Vec<u8>,
}

/// One of my browser sessions, as "Your sessions" shows it.
#[derive(Debug, Clone)]
pub struct SessionView {
    /// Derived from the stored hash, so neither the cookie nor its hash leaves the server.
    pub id: String,
    pub created_at: OffsetDateTime,
    /// The day of last use: the only precision stored.
    pub last_used_on: OffsetDateTime,
    pub user_agent: String,
    /// The session this request came with.
    pub current: bool,
}

/// My sessions and tokens.
#[derive(Debug, Clone)]
pub struct MySessions {
    pub sessions: Vec<SessionView>,
    pub tokens: Vec<ApiTokenRecord>,
}

/// What ending sessions ended.
#[derive(Debug, Clone, Copy)]
pub struct Ended {
    pub sessions: u64,
    pub tokens: u64,
}

fn session_id(token_hash: &str) -> String {
    secrets::hash(&format!("session-id:{token_hash}"))
        .chars()
        .take(24)
        .collect()
}

impl Service {
    /// An entry for `action` by `actor` at the service's present, for the store to write with
    /// the change.
    pub(crate) fn audit_entry(
        &self,
        actor: Option<UserId>,
        action: AuditAction,
        target: impl Into<String>,
        detail: impl Into<String>,
    ) -> AuditEntry {
        self.audit_emitter(actor).audit(action, target, detail)
    }

    /// Reads an audit query into the store's filter, naming every field at fault.
    async fn audit_filter(&self, query: &AuditQuery) -> ServiceResult<AuditFilter> {
        let mut errors = FieldErrors::default();
        let action = match query.action.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(word) => errors
                .take("action", word.parse::<AuditAction>())
                .map(|action| action.as_str().to_owned()),
        };
        let from = match query.from.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => errors.take("from", parse_date(raw)),
        };
        let until = match query.until.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => errors
                .take("until", parse_date(raw))
                .map(|day| day + time::Duration::days(1)),
        };
        let limit = query.limit.unwrap_or(AUDIT_LIMIT_DEFAULT);
        if !(1..=AUDIT_LIMIT_MAX).contains(&limit) {
            errors.push("limit", format!("must be from 1 to {AUDIT_LIMIT_MAX}"));
        }
        let actor = match query.actor.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => {
                if let Ok(id) = raw.parse::<UserId>() {
                    Some(id)
                } else {
                    match Email::parse(raw) {
                        Ok(email) => match self.store.user_by_email(&email).await? {
                            Some(user) => Some(user.id),
                            None => {
                                errors.push("actor", "no account has this email");
                                None
                            }
                        },
                        Err(_) => {
                            errors.push("actor", "must be an account's email or id");
                            None
                        }
                    }
                }
            }
        };
        if !errors.is_empty() {
            return Err(errors.into());
        }
        Ok(AuditFilter {
            action,
            actor,
            from,
            until,
            limit,
        })
    }

    /// The audit log, newest first: organisation admins only.
    pub async fn audit_log(
        &self,
        actor: &Actor,
        query: &AuditQuery,
    ) -> ServiceResult<Vec<AuditRecord>> {
        actor.require_admin()?;
        let filter = self.audit_filter(query).await?;
        Ok(self.store.audit_entries(&filter).await?)
    }

    /// The audit log as a file to download (`format`: `csv` or `json`), recording the export
    /// itself in the same log.
    pub async fn export_audit_log(
        &self,
        actor: &Actor,
        query: &AuditQuery,
        format: &str,
    ) -> ServiceResult<AuditFile> {
        actor.require_admin()?;
        let csv = match format.trim().to_ascii_lowercase().as_str() {
            "" | "json" => false,
            "csv" => true,
            _ => return Err(ServiceError::field("format", "must be one of: json, csv")),
        };
        let mut filter = self.audit_filter(query).await?;
        if query.limit.is_none() {
            filter.limit = AUDIT_LIMIT_MAX;
        }
        let lines: Vec<AuditLine> = self
            .store
            .audit_entries(&filter)
            .await?
            .into_iter()
            .map(AuditLine::from)
            .collect();
        let file = if csv {
            let mut writer = csv::Writer::from_writer(Vec::new());
            for line in &lines {
                writer.serialize(line).map_err(ServiceError::internal)?;
            }
            AuditFile {
                content_type: "text/csv; charset=utf-8",
                file_name: "audit-log.csv",
                bytes: writer.into_inner().map_err(ServiceError::internal)?,
            }
        } else {
            AuditFile {
                content_type: "application/json",
                file_name: "audit-log.json",
                bytes: serde_json::to_vec_pretty(&lines).map_err(ServiceError::internal)?,
            }
        };
        let detail = format!(
            "{}, {} entries",
            if csv { "csv" } else { "json" },
            lines.len()
        );
        self.store
            .record_audit(&self.audit_entry(
                Some(actor.id()),
                AuditAction::AuditExported,
                "audit log",
                detail,
            ))
            .await?;
        Ok(file)
    }

    /// Deletes audit entries past `audit_retention`; the hourly sweep of the delivery worker
    /// calls it.
    pub async fn prune_audit_log(&self) -> ServiceResult<u64> {
        let before = self.now() - self.policy.audit_retention;
        Ok(self.store.prune_audit(before).await?)
    }

    /// Records a backup the operator made (`failforward backup`), which acts as no account.
    pub async fn record_backup(&self, destination: &str) -> ServiceResult<()> {
        let entry = self.audit_entry(None, AuditAction::BackupMade, destination, "command line");
        Ok(self.store.record_audit(&entry).await?)
    }

    /// Records an export the actor downloaded (`scope` says of what).
    pub(crate) async fn record_export(&self, actor: UserId, scope: &str) -> ServiceResult<()> {
        let entry = self.audit_entry(Some(actor), AuditAction::Exported, scope, "");
        Ok(self.store.record_audit(&entry).await?)
    }

    /// My browser sessions (newest first) and API tokens.
    pub async fn my_sessions(&self, actor: &Actor) -> ServiceResult<MySessions> {
        let sessions = self
            .store
            .sessions_listing(actor.id())
            .await?
            .into_iter()
            .map(|session| SessionView {
                id: session_id(&session.token_hash),
                current: actor.session_hash.as_deref() == Some(session.token_hash.as_str()),
                created_at: session.created_at,
                last_used_on: crate::domain::when::day_of(session.last_seen_at),
                user_agent: session
                    .user_agent
                    .unwrap_or_else(|| "Unknown browser".to_owned()),
            })
            .collect();
        let tokens = self.store.api_tokens_of(actor.id()).await?;
        Ok(MySessions { sessions, tokens })
    }

    /// Ends one of my sessions; anyone else's (or an unknown id) is `NotFound`.
    pub async fn end_my_session(&self, actor: &Actor, id: &str) -> ServiceResult<()> {
        let listing = self.store.sessions_listing(actor.id()).await?;
        let Some(session) = listing.iter().find(|s| session_id(&s.token_hash) == id) else {
            return Err(ServiceError::NotFound);
        };
        let entry = self.audit_entry(
            Some(actor.id()),
            AuditAction::SessionEnded,
            format!("user {}", actor.user.email),
            session.user_agent.clone().unwrap_or_default(),
        );
        if self
            .store
            .end_session(actor.id(), &session.token_hash, &entry)
            .await?
        {
            Ok(())
        } else {
            Err(ServiceError::NotFound)
        }
    }

    /// "Sign out everywhere else": every session of mine but the current one (tokens stay).
    pub async fn end_my_other_sessions(&self, actor: &Actor) -> ServiceResult<Ended> {
        let entry = self.audit_entry(
            Some(actor.id()),
            AuditAction::SessionsEndedElsewhere,
            format!("user {}", actor.user.email),
            "",
        );
        let (sessions, tokens) = self
            .store
            .end_sessions_of(actor.id(), actor.session_hash.as_deref(), false, &entry)
            .await?;
        Ok(Ended { sessions, tokens })
    }

    /// Ends every session of `user` and revokes every token of theirs: organisation admins
    /// only (an admin ending their own ends the current session too).
    pub async fn end_sessions_of_user(&self, actor: &Actor, user: &str) -> ServiceResult<Ended> {
        actor.require_admin()?;
        let user: UserId = user.parse().map_err(|_| ServiceError::NotFound)?;
        let person = self
            .store
            .user_by_id(user)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let entry = self.audit_entry(
            Some(actor.id()),
            AuditAction::SessionsEndedByAdmin,
            format!("user {}", person.email),
            "sessions and tokens",
        );
        let (sessions, tokens) = self
            .store
            .end_sessions_of(person.id, None, true, &entry)
            .await?;
        Ok(Ended { sessions, tokens })
    }

    /// The user-agent header of a sign-in as the session keeps it.
    pub(crate) fn session_user_agent(user_agent: Option<&str>) -> Option<String> {
        user_agent.map(summarise_user_agent)
    }
}
