//! Persistence: the only module that knows SQL or imports sqlx.
//!
//! [`Store`] is the seam between the use cases and the two databases; it gathers one trait per
//! area ([`PeopleStore`], …). Statements that read the same on SQLite and PostgreSQL are written
//! once, in one `portable_<area>.rs` file per area, which both backends compile as a module of
//! their own (`#[path]`), binding the same Rust types; what differs (connection set-up, locking,
//! backups) lives in `sqlite.rs` or `postgres.rs` alone. Times are stored as Unix seconds
//! and ids as UUID text on both backends so that one set of queries serves both.

pub mod alerts;
pub mod audit;
mod backend;
pub mod culture;
pub mod events;
pub mod expectations;
pub mod experiments;
mod fts5_rank;
mod group_commit;
pub mod lint;
pub mod loops;
pub mod memory;
mod postgres;
pub mod review;
mod rows;
pub mod scim;
pub mod sealed;
mod sqlite;
pub mod sso;
pub mod transfer;
pub mod webhooks;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::domain::audit::AuditEntry;
use crate::domain::events::Event;
use crate::domain::loops::{ActionStatus, FailureType, Questionnaire, Suggestion};
use crate::domain::{
    ActionId, ApiTokenId, DisplayName, Email, FactorId, InvitationId, LoopId, RecordId, Team,
    TeamId, TeamRole, TeamSlug, User, UserId,
};
use loops::{
    AccountRecord, ActionRecord, AdditionRecord, FactorRecord, LearningRecord, LoopCounts,
    LoopDraft, LoopFilter, LoopRecord, LoopSummary, NewAccount, NewAction, NewAddition, NewFactor,
    NewLearning, NewTimelineEvent, Review, StageChange, StageChangeRecord, TimelineEventRecord,
};

/// The read model lives in `domain::records`; the store builds it from rows.
pub use crate::domain::records::people::{ApiTokenRecord, InvitationRecord, MemberRecord};
pub use postgres::PostgresStore;
pub use sqlite::{Durability, SqliteOptions, SqliteStore};

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// What can go wrong below the use cases.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("record not found")]
    NotFound,
    /// A unique constraint refused the write; the name lets the service say which field clashed.
    #[error("unique constraint {constraint} violated")]
    Conflict { constraint: String },
    /// A rule the store enforces atomically (e.g. a team keeps at least one lead) refused the write.
    #[error("refused: {0}")]
    Refused(&'static str),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Unsupported(&'static str),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// Maps unique-constraint violations to [`StoreError::Conflict`]; every other error passes through.
    fn from_sqlx(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error {
            if db.is_unique_violation() {
                // PostgreSQL names the constraint; SQLite names the columns in its message
                // ("UNIQUE constraint failed: users.email"). Either way the service matches on text.
                let constraint = db
                    .constraint()
                    .map(str::to_owned)
                    .unwrap_or_else(|| db.message().to_owned());
                return StoreError::Conflict { constraint };
            }
        }
        if matches!(error, sqlx::Error::RowNotFound) {
            return StoreError::NotFound;
        }
        StoreError::Database(error)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The organisation this installation serves (there is exactly one once set-up is done).
#[derive(Debug, Clone)]
pub struct Organisation {
    pub name: String,
    pub created_at: OffsetDateTime,
}

/// An account to be written.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub email: Email,
    pub name: DisplayName,
    pub password_hash: String,
    pub is_admin: bool,
    pub created_at: OffsetDateTime,
}

/// A session to be written; the cookie carries the token, the database only its hash.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: String,
    pub user_id: UserId,
    pub csrf_token: String,
    pub created_at: OffsetDateTime,
    /// The browser in a few words (`domain::audit::summarise_user_agent`).
    pub user_agent: Option<String>,
}

/// A stored session with its owner.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub user: User,
    pub csrf_token: String,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
}

/// One sign-in attempt to be claimed before its password is checked (`PeopleStore::claim_login_attempt`).
#[derive(Debug, Clone)]
pub struct LoginAttempt<'a> {
    /// The (account, client) counter: growing delays and `client_limit` per `client_window`.
    pub client_key: &'a str,
    pub account_key: &'a str,
    pub address_key: Option<&'a str>,
    pub client_limit: u32,
    pub client_window: std::time::Duration,
    /// The wait before the next attempt after `n` claimed attempts of the window.
    pub delay_after: fn(u32) -> std::time::Duration,
    /// The account-wide limit per `account_window`; `None` for a device the account has signed
    /// in from, which only its own counter limits.
    pub account_limit: Option<u32>,
    pub account_window: std::time::Duration,
    pub now: OffsetDateTime,
}

/// Whether a sign-in attempt may check its password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginClaim {
    /// The attempt may go on; it is the client's `attempts`-th of the window.
    Granted {
        attempts: u32,
    },
    Refused {
        retry_at: OffsetDateTime,
    },
}

/// A personal API token to be written.
#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub id: ApiTokenId,
    pub user_id: UserId,
    pub name: String,
    pub token_hash: String,
    /// The first characters of the token, shown in lists so people can tell their tokens apart.
    pub prefix: String,
    pub created_at: OffsetDateTime,
}

/// An invitation to be written.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub id: InvitationId,
    pub token_hash: String,
    pub team_id: Option<TeamId>,
    pub role: TeamRole,
    pub email: Option<Email>,
    pub invited_by: UserId,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// Who accepts an invitation: someone signed in, or a new account created in the same transaction.
#[derive(Debug, Clone)]
pub enum Acceptor {
    Existing(UserId),
    New(NewUser),
}

/// Everything the use cases persist: one trait per area (each with its own portable statements
/// file), plus what only the backend itself can answer. Both backends implement all of it with
/// the same observable behaviour; the integration suite runs every story on both.
#[async_trait]
pub trait Store:
    PeopleStore
    + LoopStore
    + SealedStore
    + ExperimentStore
    + CultureStore
    + LintStore
    + ReviewStore
    + TransferStore
    + MemoryStore
    + EventStore
    + WebhookStore
    + AlertStore
    + audit::AuditStore
    + scim::ScimStore
    + sso::SsoStore
    + RitualStore
    + expectations::ExpectationStore
    + Send
    + Sync
    + 'static
{
    fn backend(&self) -> Backend;

    /// Answers when the database can run a query (`/readyz`).
    async fn ping(&self) -> StoreResult<()>;

    /// Writes a consistent copy of the whole database to `destination` while the server runs.
    async fn backup_to(&self, destination: &Path) -> StoreResult<()>;

    /// Where a heavy read (search, the health dashboard, the library, an export) may go
    /// instead: the read replica, once it has replayed every commit acknowledged before this
    /// call, so nobody reads a page older than their own last write. `None`: read here (no
    /// replica, or it lags too far behind, or cannot be reached).
    async fn caught_up_replica(&self) -> Option<Arc<dyn Store>>;
}

/// The event outbox (ARCHITECTURE.md, "Events"). Events of a change are written by the store
/// method that makes the change, in its transaction; these are the outbox's own statements.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// The newest events, of one team or (`None`) of all.
    async fn events(
        &self,
        team: Option<TeamId>,
        limit: i64,
    ) -> StoreResult<Vec<events::OutboxRecord>>;
    /// Writes events that are no change's but the passage of time's (an action overdue); an
    /// event whose `once_key` is stored already is skipped.
    async fn record_events(&self, events: &[Event]) -> StoreResult<()>;
    /// Open actions due on a day before `today` whose overdue event (keyed
    /// `action.overdue:<id>:<due, Unix seconds>`) is not stored yet, at most `limit`: (team,
    /// action, due day).
    async fn actions_newly_overdue(
        &self,
        today: OffsetDateTime,
        limit: i64,
    ) -> StoreResult<Vec<(TeamId, ActionId, OffsetDateTime)>>;
}

/// The alert intake (ARCHITECTURE.md, "Alert intake").
#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Sets up, or replaces, a team's intake (a new token voids the old one).
    async fn set_alert_intake(
        &self,
        team: TeamId,
        intake: &alerts::IntakeRecord,
    ) -> StoreResult<()>;
    async fn alert_intake(&self, team: TeamId) -> StoreResult<Option<alerts::IntakeRecord>>;
    /// The loop an alert group with this fingerprint opened, if any.
    async fn alert_loop(
        &self,
        team: TeamId,
        fingerprint: &str,
    ) -> StoreResult<Option<alerts::AlertLoop>>;
    /// Remembers that the group fired for `loop_id` at `seen_at`.
    async fn remember_alert(
        &self,
        team: TeamId,
        fingerprint: &str,
        loop_id: LoopId,
        seen_at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Claims the opening of a loop for a new alert group: true for the one caller that may
    /// open it. A claim made before `stale_before` (its opener died) is taken over.
    async fn claim_alert_opening(
        &self,
        team: TeamId,
        fingerprint: &str,
        now: OffsetDateTime,
        stale_before: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Ends a claim (the loop is remembered, or opening it failed).
    async fn release_alert_opening(&self, team: TeamId, fingerprint: &str) -> StoreResult<()>;
}

/// Webhook subscriptions and their deliveries (ARCHITECTURE.md, "Webhooks").
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Notified after a transaction that wrote outbox events commits, in every instance that
    /// shares the database (the delivery worker waits on it between polls). A notice may come
    /// when there is nothing new; a worker that missed one still finds the events by polling.
    fn outbox_commits(&self) -> std::sync::Arc<tokio::sync::Notify>;
    async fn create_subscription(
        &self,
        new: &webhooks::NewSubscription,
        audit: &AuditEntry,
    ) -> StoreResult<()>;
    /// One team's subscriptions, or (`None`) the organisation-wide ones.
    async fn subscriptions(
        &self,
        team: Option<TeamId>,
    ) -> StoreResult<Vec<webhooks::SubscriptionRecord>>;
    async fn subscription(&self, id: RecordId)
        -> StoreResult<Option<webhooks::SubscriptionRecord>>;
    async fn delete_subscription(&self, id: RecordId, audit: &AuditEntry) -> StoreResult<bool>;
    /// Replaces the secret, keeping the previous one (signed with too) until `previous_until`.
    async fn rotate_secret(
        &self,
        id: RecordId,
        secret_sealed: &str,
        previous_sealed: &str,
        previous_until: OffsetDateTime,
        audit: &AuditEntry,
    ) -> StoreResult<bool>;
    /// Switches a subscription back on after it was disabled, forgetting its failures.
    async fn enable_subscription(&self, id: RecordId, audit: &AuditEntry) -> StoreResult<bool>;
    /// Switches a subscription off, with the reason its managers see.
    async fn disable_subscription(
        &self,
        id: RecordId,
        reason: &str,
        audit: &AuditEntry,
    ) -> StoreResult<bool>;
    /// Deletes what is done with and older than `before`: events dispatched before it whose
    /// deliveries are all delivered or given up (with those deliveries and their attempts), and
    /// every attempt made before it. An `action.overdue` event of an action still open and
    /// overdue is kept, as its key is what keeps the sweep from raising it again. Returns the
    /// events and attempts deleted.
    async fn prune_deliveries(&self, before: OffsetDateTime) -> StoreResult<(u64, u64)>;
    /// Queues up to `limit` events not yet dispatched for every enabled subscription that wants
    /// them, and marks them dispatched, in one transaction (rows claimed so that two instances
    /// never take the same event). With no subscription enabled nothing is queued, and up to
    /// [`webhooks::UNWATCHED_MARKED_MAX`] events are marked at once. Returns how many events it
    /// took.
    async fn dispatch_events(&self, limit: i64, now: OffsetDateTime) -> StoreResult<usize>;
    /// What the delivery worker would find, read without the writer: on SQLite a write
    /// transaction, even one that finds nothing, waits for the one writer and makes captures
    /// wait for it. A commit still under way may not show yet.
    async fn delivery_outlook(&self, now: OffsetDateTime)
        -> StoreResult<webhooks::DeliveryOutlook>;
    /// Claims up to `limit` deliveries due at `now` by pushing them to `lease_until` (another
    /// worker takes them only if this one has not recorded an attempt by then).
    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: i64,
    ) -> StoreResult<Vec<webhooks::ClaimedDelivery>>;
    /// Logs an attempt and moves its delivery and subscription on, in one transaction.
    async fn record_attempt(&self, outcome: &webhooks::AttemptOutcome) -> StoreResult<()>;
    /// A subscription's delivery log, newest first.
    async fn attempts(
        &self,
        subscription: RecordId,
        limit: i64,
    ) -> StoreResult<Vec<webhooks::AttemptRecord>>;
    /// Queues a delivery again, now, with its attempts counted afresh.
    async fn redeliver(
        &self,
        subscription: RecordId,
        delivery: RecordId,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;
}

/// Imports: whole loops written at once.
#[async_trait]
pub trait TransferStore: Send + Sync {
    /// Writes every loop with all its records in one transaction: all or nothing.
    async fn import_loops(
        &self,
        loops: &[transfer::ImportedLoop],
        audit: &AuditEntry,
    ) -> StoreResult<()>;
}

/// The organisation, accounts, sessions, tokens, teams and invitations.
#[async_trait]
pub trait PeopleStore: Send + Sync {
    // --- organisation and first-run set-up ---
    async fn organisation(&self) -> StoreResult<Option<Organisation>>;
    /// Replaces any earlier set-up token, so only the most recently printed link works.
    async fn replace_setup_token(
        &self,
        token_hash: &str,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Creates the organisation and its first admin if `token_hash` is a live set-up token and no
    /// organisation exists yet; consumes the token. `NotFound` otherwise.
    async fn complete_setup(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
        organisation_name: &str,
        admin: &NewUser,
        audit: &AuditEntry,
    ) -> StoreResult<()>;

    // --- accounts ---
    /// Creates an account (the operator's `admin create-user`), with its audit entry.
    async fn create_user(&self, user: &NewUser, audit: &AuditEntry) -> StoreResult<()>;
    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>>;
    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>>;
    /// The account and its password hash, for signing in.
    async fn credentials(&self, email: &Email) -> StoreResult<Option<(User, String)>>;
    async fn password_hash(&self, id: UserId) -> StoreResult<Option<String>>;
    async fn set_password_hash(
        &self,
        id: UserId,
        hash: &str,
        audit: &AuditEntry,
    ) -> StoreResult<()>;
    async fn set_display_name(&self, id: UserId, name: &DisplayName) -> StoreResult<()>;
    async fn set_admin(&self, id: UserId, is_admin: bool, audit: &AuditEntry) -> StoreResult<()>;
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    async fn count_admins(&self) -> StoreResult<i64>;

    // --- sessions ---
    async fn create_session(
        &self,
        session: &NewSession,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()>;
    async fn session(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>>;
    async fn touch_session(&self, token_hash: &str, now: OffsetDateTime) -> StoreResult<()>;
    async fn delete_session(&self, token_hash: &str, audit: Option<&AuditEntry>)
        -> StoreResult<()>;
    /// Ends every session of `user` except the one whose hash is `keep`.
    async fn delete_sessions_of(&self, user: UserId, keep: Option<&str>) -> StoreResult<()>;
    async fn delete_sessions_before(
        &self,
        last_seen_before: OffsetDateTime,
        created_before: OffsetDateTime,
    ) -> StoreResult<u64>;

    // --- sign-in throttling (in the database, so that every instance counts the same attempts) ---
    /// Counts the attempt against its client's and (unless it comes from a recognised device) its
    /// account's limits in one transaction, before the password is checked: concurrent attempts
    /// cannot pass a limit together. A refused attempt counts nowhere.
    async fn claim_login_attempt(&self, attempt: &LoginAttempt<'_>) -> StoreResult<LoginClaim>;
    /// The password was right: the client's counter is cleared, the account's claim given back
    /// (when one was taken) and the device recorded as one the account signs in from.
    async fn login_succeeded(
        &self,
        client_key: &str,
        account_key: Option<&str>,
        device_key: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    /// The password was wrong: the client's next attempt waits until `at` (counted from the end of
    /// the check, which takes a while, not from the claim).
    async fn postpone_login_attempt(&self, client_key: &str, at: OffsetDateTime)
        -> StoreResult<()>;
    async fn device_recognised(&self, device_key: &str) -> StoreResult<bool>;
    /// How many accounts have failing counters from one address whose window began after `since`.
    async fn accounts_failing_from(
        &self,
        address_key: &str,
        since: OffsetDateTime,
    ) -> StoreResult<i64>;
    /// Removes counters whose windows ended and devices not seen since `devices_before`.
    async fn delete_login_throttle_before(
        &self,
        clients_before: OffsetDateTime,
        accounts_before: OffsetDateTime,
        devices_before: OffsetDateTime,
    ) -> StoreResult<()>;

    // --- personal API tokens ---
    async fn create_api_token(&self, token: &NewApiToken, audit: &AuditEntry) -> StoreResult<()>;
    async fn api_tokens_of(&self, user: UserId) -> StoreResult<Vec<ApiTokenRecord>>;
    /// Revokes one of `user`'s own tokens; `false` when there is no such live token.
    async fn revoke_api_token(
        &self,
        user: UserId,
        id: ApiTokenId,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> StoreResult<bool>;
    /// The owner of a live token. `used_on` (a day) is recorded when given.
    async fn user_by_api_token(
        &self,
        token_hash: &str,
        used_on: Option<OffsetDateTime>,
    ) -> StoreResult<Option<User>>;

    // --- teams and membership ---
    /// Creates the team with `lead` as its first lead. `Conflict` when the slug is taken.
    async fn create_team(&self, team: &Team, lead: UserId, now: OffsetDateTime) -> StoreResult<()>;
    async fn team_by_slug(&self, slug: &TeamSlug) -> StoreResult<Option<Team>>;
    /// The team and `user`'s role in it (`None` when not a member), in one query: every
    /// team-scoped request asks both.
    async fn team_with_role(
        &self,
        slug: &TeamSlug,
        user: UserId,
    ) -> StoreResult<Option<(Team, Option<TeamRole>)>>;
    async fn team_by_id(&self, id: TeamId) -> StoreResult<Option<Team>>;
    async fn update_team(&self, team: &Team, audit: &AuditEntry) -> StoreResult<()>;
    /// The teams `user` belongs to, with their role, by name.
    async fn teams_of(&self, user: UserId) -> StoreResult<Vec<(Team, TeamRole)>>;
    async fn all_teams(&self) -> StoreResult<Vec<Team>>;
    async fn member_count(&self, team: TeamId) -> StoreResult<i64>;
    async fn membership(&self, team: TeamId, user: UserId) -> StoreResult<Option<TeamRole>>;
    async fn members(&self, team: TeamId) -> StoreResult<Vec<MemberRecord>>;
    /// `Conflict` when `user` is already a member.
    async fn add_member(
        &self,
        team: TeamId,
        user: UserId,
        role: TeamRole,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> StoreResult<()>;
    /// `NotFound` for a non-member; `Refused("last lead")` when it would leave the team without a lead.
    async fn set_member_role(
        &self,
        team: TeamId,
        user: UserId,
        role: TeamRole,
        audit: &AuditEntry,
    ) -> StoreResult<()>;
    /// Same refusals as [`Store::set_member_role`].
    async fn remove_member(
        &self,
        team: TeamId,
        user: UserId,
        audit: &AuditEntry,
    ) -> StoreResult<()>;

    // --- invitations ---
    async fn create_invitation(
        &self,
        invitation: &NewInvitation,
        audit: &AuditEntry,
    ) -> StoreResult<()>;
    async fn invitation_by_token(&self, token_hash: &str) -> StoreResult<Option<InvitationRecord>>;
    /// Invitations not yet accepted, revoked or expired, newest first.
    async fn open_invitations(
        &self,
        team: Option<TeamId>,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<InvitationRecord>>;
    async fn revoke_invitation(
        &self,
        team: Option<TeamId>,
        id: InvitationId,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> StoreResult<bool>;
    /// Consumes a live invitation exactly once (creating the account when asked) and adds the
    /// membership, all in one transaction. `NotFound` when the invitation is unknown, used,
    /// revoked or expired; `Conflict` when a new account's email is taken (nothing is written).
    async fn accept_invitation(
        &self,
        token_hash: &str,
        acceptor: &Acceptor,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> StoreResult<InvitationRecord>;
}

/// The learning loop: loops and everything attached to them. Every read of a loop names its
/// team, so a loop id from another team finds nothing.
#[async_trait]
pub trait LoopStore: Send + Sync {
    /// Writes the loop, its tags and the first history entry in one transaction.
    async fn create_loop(&self, new: &LoopDraft) -> StoreResult<()>;
    async fn loop_by_id(&self, team: TeamId, id: LoopId) -> StoreResult<Option<LoopRecord>>;
    async fn loop_by_reporter_secret(&self, hash: &str) -> StoreResult<Option<LoopRecord>>;
    /// Removes a loop and everything attached (the anonymous reporter withdrawing it).
    async fn delete_loop(&self, team: TeamId, id: LoopId) -> StoreResult<()>;
    /// One page of the team's loops and the number of loops matching the filter.
    async fn list_loops(
        &self,
        team: TeamId,
        filter: &LoopFilter,
        today: OffsetDateTime,
    ) -> StoreResult<(Vec<LoopSummary>, i64)>;
    async fn loop_counts(&self, id: LoopId) -> StoreResult<LoopCounts>;
    /// Moves the loop from `change.from` to `change.to` and records it; `NotFound` when the loop
    /// is no longer in `change.from` (someone else moved it meanwhile).
    async fn change_stage(&self, change: &StageChange, events: &[Event]) -> StoreResult<()>;
    async fn stage_changes(&self, id: LoopId) -> StoreResult<Vec<StageChangeRecord>>;
    async fn add_addition(&self, addition: &NewAddition) -> StoreResult<()>;
    async fn additions(&self, id: LoopId) -> StoreResult<Vec<AdditionRecord>>;
    async fn add_timeline_event(&self, event: &NewTimelineEvent) -> StoreResult<()>;
    async fn timeline(&self, id: LoopId) -> StoreResult<Vec<TimelineEventRecord>>;
    async fn add_factor(&self, factor: &NewFactor) -> StoreResult<()>;
    async fn delete_factor(&self, loop_id: LoopId, factor: FactorId) -> StoreResult<bool>;
    async fn factors(&self, id: LoopId) -> StoreResult<Vec<FactorRecord>>;
    async fn save_review(&self, id: LoopId, review: &Review) -> StoreResult<()>;
    async fn add_account(&self, account: &NewAccount) -> StoreResult<()>;
    async fn accounts(&self, id: LoopId) -> StoreResult<Vec<AccountRecord>>;
    async fn save_classification(
        &self,
        id: LoopId,
        answers: &Questionnaire,
        suggestion: &Suggestion,
        events: &[Event],
    ) -> StoreResult<()>;
    /// Records (or, with `None`, clears) a person's override of the suggested type.
    async fn save_override(
        &self,
        id: LoopId,
        chosen: Option<(FailureType, &str)>,
        by: UserId,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn add_learning(&self, learning: &NewLearning, events: &[Event]) -> StoreResult<()>;
    async fn learnings_of_loop(&self, id: LoopId) -> StoreResult<Vec<LearningRecord>>;
    async fn add_action(&self, action: &NewAction, events: &[Event]) -> StoreResult<()>;
    async fn actions_of_loop(&self, id: LoopId) -> StoreResult<Vec<ActionRecord>>;
    /// The team's action items, optionally only those with `status`, soonest due first.
    async fn team_actions(
        &self,
        team: TeamId,
        status: Option<ActionStatus>,
    ) -> StoreResult<Vec<ActionRecord>>;
    async fn action(&self, team: TeamId, id: ActionId) -> StoreResult<Option<ActionRecord>>;
    async fn set_action_status(
        &self,
        team: TeamId,
        id: ActionId,
        status: ActionStatus,
        dropped_reason: &str,
        at: OffsetDateTime,
        events: &[Event],
    ) -> StoreResult<bool>;
    async fn set_follow_up_date(&self, id: LoopId, on: Option<OffsetDateTime>) -> StoreResult<()>;
    async fn answer_follow_up(
        &self,
        id: LoopId,
        recurred: bool,
        held: bool,
        note: &str,
        at: OffsetDateTime,
        by: UserId,
    ) -> StoreResult<()>;
    async fn set_next_experiment(&self, id: LoopId, experiment: Option<&str>) -> StoreResult<()>;
    /// Writes held anonymous loops (with their tags and first history entries), reporters'
    /// additions, unnamed participants' accounts and lint dismissals in one transaction, each
    /// table's rows in the order of their keys (random, or a text's hash), so neither the
    /// write-ahead log, nor a page's cells, nor PostgreSQL's `xmin`/`ctid` keep the order they
    /// were given in. An addition or account whose loop no longer exists is skipped; a dismissal
    /// already stored is kept as it is.
    async fn write_anonymous_loops(&self, batch: &AnonymousBatch<'_>) -> StoreResult<()>;
    /// The team's failure loops created in `[from, to)`, for the dynamics mirror: roles and
    /// dates only, never an author.
    async fn loop_logging(
        &self,
        team: TeamId,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> StoreResult<Vec<loops::LoopLogging>>;
}

/// What the daily release of anonymous contributions writes (see `service::held`).
#[derive(Debug, Clone, Copy, Default)]
pub struct AnonymousBatch<'a> {
    pub loops: &'a [LoopDraft],
    pub additions: &'a [NewAddition],
    pub accounts: &'a [NewAccount],
    pub dismissals: &'a [lint::NewDismissal],
}

/// Sealed contributions (see `migrations/*/0004_sealed.sql`) and installation facts.
#[async_trait]
pub trait SealedStore: Send + Sync {
    async fn installation_fact(&self, name: &str) -> StoreResult<Option<String>>;
    /// Records the fact unless it is already there; returns the stored value.
    async fn remember_installation_fact(&self, name: &str, value: &str) -> StoreResult<String>;
    async fn create_sealed_box(
        &self,
        id: RecordId,
        purpose: &str,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn sealed_box(&self, id: RecordId) -> StoreResult<Option<sealed::SealedBox>>;
    /// Adds a named item and marks its writer as a participant, in one transaction. `Refused`
    /// when the tier is already revealed.
    async fn add_sealed_item(
        &self,
        item: &sealed::NewSealedItem,
        writer: UserId,
    ) -> StoreResult<()>;
    /// Named items of `author` (still sealed or not).
    async fn sealed_items_of(
        &self,
        id: RecordId,
        author: UserId,
    ) -> StoreResult<Vec<sealed::SealedItemRecord>>;
    /// Removes a named item of `author` while its tier is sealed.
    async fn delete_sealed_item(
        &self,
        id: RecordId,
        item: RecordId,
        author: UserId,
    ) -> StoreResult<bool>;
    /// How many people have submitted, per tier, and how many items there are: those written
    /// and those held in any instance's memory.
    async fn sealed_counts(&self, id: RecordId) -> StoreResult<sealed::SealedCounts>;
    async fn sealed_participants(&self, id: RecordId) -> StoreResult<Vec<UserId>>;
    /// Every item of a tier (for opening at the reveal).
    async fn sealed_items_of_tier(
        &self,
        id: RecordId,
        tier: sealed::SealTier,
    ) -> StoreResult<Vec<sealed::SealedItemRecord>>;
    /// Marks the writer of an unnamed item as a participant, alone: the item itself is written
    /// later, with the others of its tier (see `reveal_sealed_tier`). The box's count of held
    /// items rises by one in the same transaction, so every instance counts the item. `Refused`
    /// when the tier is already revealed, or (`once_per_writer`) when the writer already
    /// contributed.
    async fn mark_sealed_participant(
        &self,
        id: RecordId,
        writer: UserId,
        tier: sealed::SealTier,
        once_per_writer: bool,
    ) -> StoreResult<()>;
    /// Writes still-sealed unnamed items held back until now, in one transaction, in the order
    /// of their random keys, and counts them as no longer held.
    async fn write_sealed_items(
        &self,
        id: RecordId,
        tier: sealed::SealTier,
        items: &[sealed::UnnamedItem],
    ) -> StoreResult<()>;
    /// Counts `dropped` held items as no longer held: a graceful stop dropped them unwritten.
    async fn drop_held_sealed_items(&self, id: RecordId, dropped: usize) -> StoreResult<()>;
    /// Writes the opened texts of a tier, adds the unnamed items held back until now (`added`,
    /// in plain text, in the order of their random keys, no longer counted as held) and marks
    /// the tier revealed, atomically;
    /// `false` when it was already revealed (by someone else meanwhile; `added` is written all
    /// the same).
    async fn reveal_sealed_tier(
        &self,
        id: RecordId,
        tier: sealed::SealTier,
        opened: &[(RecordId, String)],
        added: &[sealed::UnnamedItem],
        at: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Revealed items with their author's name when they chose to show it.
    async fn revealed_items(&self, id: RecordId) -> StoreResult<Vec<sealed::RevealedItem>>;
}

/// Experiments, risk budgets and pre-mortem dispositions. Reads name the team.
#[async_trait]
pub trait ExperimentStore: Send + Sync {
    async fn set_budget(
        &self,
        team: TeamId,
        quarter: &str,
        budget: &crate::domain::experiments::Budget,
        by: UserId,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn budget(
        &self,
        team: TeamId,
        quarter: &str,
    ) -> StoreResult<Option<experiments::BudgetRecord>>;
    async fn budgets(&self, team: TeamId) -> StoreResult<Vec<experiments::BudgetRecord>>;
    /// Creates the experiment and its (empty) pre-mortem box; links the loop it started from.
    async fn create_experiment(&self, new: &experiments::NewExperiment) -> StoreResult<()>;
    async fn experiment(
        &self,
        team: TeamId,
        id: RecordId,
    ) -> StoreResult<Option<experiments::ExperimentRecord>>;
    async fn experiments(&self, team: TeamId) -> StoreResult<Vec<experiments::ExperimentRecord>>;
    /// Replaces the design of a draft and withdraws any approval given to the old design;
    /// `false` when it is no longer a draft.
    async fn update_draft(
        &self,
        team: TeamId,
        id: RecordId,
        design: &experiments::ExperimentDesign,
    ) -> StoreResult<bool>;
    /// Money and effort of the team's running and concluded experiments starting in
    /// `[from, until)`, except `except`.
    async fn committed_loss(
        &self,
        team: TeamId,
        currency: &str,
        from: OffsetDateTime,
        until: OffsetDateTime,
        except: Option<RecordId>,
    ) -> StoreResult<crate::domain::experiments::Loss>;
    async fn save_pilot(
        &self,
        team: TeamId,
        id: RecordId,
        answers: &[(String, bool)],
    ) -> StoreResult<bool>;
    async fn approve_experiment(
        &self,
        team: TeamId,
        id: RecordId,
        by: UserId,
        at: OffsetDateTime,
        note: &str,
    ) -> StoreResult<bool>;
    async fn start_experiment(
        &self,
        team: TeamId,
        id: RecordId,
        at: OffsetDateTime,
        events: &[Event],
    ) -> StoreResult<bool>;
    async fn cancel_experiment(&self, team: TeamId, id: RecordId) -> StoreResult<bool>;
    async fn set_disposition(
        &self,
        experiment: RecordId,
        item: RecordId,
        kind: crate::domain::experiments::Disposition,
        note: &str,
        by: UserId,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn dispositions(
        &self,
        experiment: RecordId,
    ) -> StoreResult<Vec<experiments::DispositionRecord>>;
    /// Concludes a running experiment exactly once: the conditional update and the loop it opens
    /// are one transaction, so retries and concurrent requests open one loop at most.
    async fn conclude_experiment(
        &self,
        team: TeamId,
        id: RecordId,
        conclusion: &experiments::NewConclusion,
        opens: Option<&experiments::OutcomeLoop>,
        events: &[Event],
    ) -> StoreResult<experiments::Concluded>;
}

/// Rituals: a team's schedule, its rounds (from a lead's first share) and their shares.
#[async_trait]
pub trait RitualStore: Send + Sync {
    async fn ritual_schedule(
        &self,
        team: TeamId,
    ) -> StoreResult<Option<crate::domain::rituals::RitualSchedule>>;
    async fn set_ritual_schedule(
        &self,
        team: TeamId,
        schedule: &crate::domain::rituals::RitualSchedule,
    ) -> StoreResult<()>;
    /// The team's round starting on `opens_on`, when a lead opened it.
    async fn ritual_round(
        &self,
        team: TeamId,
        opens_on: OffsetDateTime,
    ) -> StoreResult<Option<crate::domain::rituals::RitualRoundRecord>>;
    /// Opens the round starting on `opens_on` with the lead's named share, in one transaction;
    /// a round already open keeps its id and opening time.
    async fn open_ritual_round(
        &self,
        team: TeamId,
        opens_on: OffsetDateTime,
        at: OffsetDateTime,
        lead: UserId,
        share: &crate::domain::rituals::ShareText,
    ) -> StoreResult<()>;
    async fn add_named_ritual_share(
        &self,
        round: RecordId,
        author: UserId,
        share: &crate::domain::rituals::ShareText,
    ) -> StoreResult<()>;
    /// Writes a closed round's unnamed shares together, under random keys in key order.
    async fn write_unnamed_ritual_shares(
        &self,
        round: RecordId,
        shares: &[crate::domain::rituals::ShareText],
    ) -> StoreResult<()>;
    /// Closes the round; false when it was closed already.
    async fn close_ritual_round(&self, round: RecordId, at: OffsetDateTime) -> StoreResult<bool>;
    async fn ritual_round_is_closed(&self, round: RecordId) -> StoreResult<bool>;
    /// The team's rounds, newest first.
    async fn ritual_rounds(
        &self,
        team: TeamId,
        limit: i64,
    ) -> StoreResult<Vec<crate::domain::rituals::RitualRoundRecord>>;
    /// A round's shares: named ones by their writer's name, then unnamed ones in key order.
    async fn ritual_shares(
        &self,
        round: RecordId,
    ) -> StoreResult<Vec<crate::domain::rituals::RitualShareRecord>>;
    /// Every round not closed yet, with its team and first day.
    async fn open_ritual_rounds(&self) -> StoreResult<Vec<(TeamId, RecordId, OffsetDateTime)>>;
    /// The team's first review session (by when it started) in which a dissent was recorded:
    /// the first moment of disagreement, whose facilitator gets a guide.
    async fn first_session_with_dissent(&self, team: TeamId) -> StoreResult<Option<RecordId>>;
}

/// The psychological-safety pulse and recognition.
#[async_trait]
pub trait CultureStore: Send + Sync {
    async fn set_pulse_min_responses(&self, team: TeamId, min: u32) -> StoreResult<()>;
    async fn open_round(&self, round: &culture::NewRound) -> StoreResult<()>;
    /// The team's rounds with their response counts, newest first.
    async fn rounds(&self, team: TeamId) -> StoreResult<Vec<culture::RoundRecord>>;
    async fn round(&self, team: TeamId, id: RecordId) -> StoreResult<Option<culture::RoundRecord>>;
    async fn has_answered(&self, round: RecordId, user: UserId) -> StoreResult<bool>;
    /// Records that `user` answered, alone: what they answered is written later, with the
    /// round's other answers (see `write_pulse_answers`). `Conflict` when the person has already
    /// answered (nothing is written).
    async fn mark_pulse_participant(&self, round: RecordId, user: UserId) -> StoreResult<()>;
    /// Removes participation marks whose answers were lost (so those people may answer again).
    async fn unmark_pulse_participants(&self, round: RecordId, users: &[UserId])
        -> StoreResult<()>;
    /// Writes answers held back until now, in one statement, under fresh random keys in key
    /// order: neither the file, the write-ahead log nor PostgreSQL's row versions keep the order
    /// in which they were given.
    async fn write_pulse_answers(
        &self,
        round: RecordId,
        answers: &[([u8; 7], Option<String>)],
    ) -> StoreResult<()>;
    /// Every answer of a round (for aggregation only), in no particular order.
    async fn pulse_answers(&self, round: RecordId) -> StoreResult<Vec<([u8; 7], Option<String>)>>;
    /// Rounds still open in the store whose last day ended before `now` (their closing is the
    /// calendar's, not a lead's): team, round and last day, at most `limit`.
    async fn rounds_past_closing(
        &self,
        now: OffsetDateTime,
        limit: i64,
    ) -> StoreResult<Vec<(TeamId, RecordId, OffsetDateTime)>>;
    async fn close_round(
        &self,
        team: TeamId,
        id: RecordId,
        at: OffsetDateTime,
        events: &[Event],
    ) -> StoreResult<bool>;
    async fn create_recognition(&self, recognition: &culture::NewRecognition) -> StoreResult<()>;
    /// The team's recognitions since `since`, newest first.
    async fn recognitions(
        &self,
        team: TeamId,
        since: OffsetDateTime,
    ) -> StoreResult<Vec<culture::RecognitionRecord>>;
    /// How many loops each lead of the team logged under their name since `since` (leads with
    /// none are listed with 0). Anonymous loops count for nobody.
    async fn lead_failure_counts(
        &self,
        team: TeamId,
        since: OffsetDateTime,
    ) -> StoreResult<Vec<(UserId, String, i64)>>;
    /// Loops logged under `user`'s name (never an anonymous one) whose settled type is
    /// intelligent, each with its learnings; newest first.
    async fn cv_failures(&self, user: UserId) -> StoreResult<Vec<crate::domain::cv::CvFailure>>;
    /// Concluded experiments `user` designed; newest first.
    async fn cv_experiments(
        &self,
        user: UserId,
    ) -> StoreResult<Vec<crate::domain::cv::CvExperiment>>;
    /// The day `user` published their CV, when it is published.
    async fn cv_published_on(&self, user: UserId) -> StoreResult<Option<OffsetDateTime>>;
    /// Publishes (`Some(day)`) or unpublishes (`None`) `user`'s CV.
    async fn set_cv_published(&self, user: UserId, on: Option<OffsetDateTime>) -> StoreResult<()>;
    /// The team's consistent-success thresholds, when it changed them.
    async fn success_settings(
        &self,
        team: TeamId,
    ) -> StoreResult<Option<crate::domain::success::SuccessSettings>>;
    async fn set_success_settings(
        &self,
        team: TeamId,
        settings: &crate::domain::success::SuccessSettings,
    ) -> StoreResult<()>;
    /// What the consistent-success rule reads, counted in `windows` up to `now`.
    async fn success_counts(
        &self,
        team: TeamId,
        windows: &crate::domain::success::Windows,
        now: OffsetDateTime,
    ) -> StoreResult<crate::domain::success::SuccessCounts>;
}

/// The linter's organisation settings and dismissals.
#[async_trait]
pub trait LintStore: Send + Sync {
    async fn lint_terms(&self) -> StoreResult<Vec<lint::LintTermRecord>>;
    async fn add_lint_term(&self, term: &lint::NewLintTerm) -> StoreResult<()>;
    async fn delete_lint_term(&self, id: RecordId) -> StoreResult<bool>;
    async fn disabled_rules(&self) -> StoreResult<Vec<String>>;
    async fn set_rule_enabled(
        &self,
        rule: &str,
        enabled: bool,
        by: UserId,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// (rule, start) of the findings dismissed for the text with this hash.
    async fn dismissals(&self, text_hash: &str) -> StoreResult<Vec<(String, i64)>>;
}

/// Review sessions, and the channel that tells every instance a session changed.
#[async_trait]
pub trait ReviewStore: Send + Sync {
    /// Creates the session, its two sealed boxes and the facilitator's place, in one transaction.
    async fn create_review(&self, new: &review::NewReview, events: &[Event]) -> StoreResult<()>;
    async fn review(&self, team: TeamId, id: RecordId)
        -> StoreResult<Option<review::ReviewRecord>>;
    async fn reviews(&self, team: TeamId) -> StoreResult<Vec<review::ReviewRecord>>;
    async fn join_review(
        &self,
        id: RecordId,
        user: UserId,
        observer: bool,
        is_lead: bool,
    ) -> StoreResult<()>;
    async fn review_participants(
        &self,
        id: RecordId,
    ) -> StoreResult<Vec<review::ParticipantRecord>>;
    async fn set_done(&self, id: RecordId, user: UserId, done: bool) -> StoreResult<()>;
    /// Moves the session from `from` to `to` (clearing the timer); `false` when it was no longer
    /// in `from`.
    async fn set_phase(
        &self,
        id: RecordId,
        from: crate::domain::review::Phase,
        to: crate::domain::review::Phase,
        at: OffsetDateTime,
        events: &[Event],
    ) -> StoreResult<bool>;
    async fn set_timer(&self, id: RecordId, ends_at: Option<OffsetDateTime>) -> StoreResult<()>;
    /// Bumps the session's version and tells every instance (for live clients).
    async fn touch_review(&self, id: RecordId) -> StoreResult<i64>;
    async fn check_action(
        &self,
        id: RecordId,
        action: ActionId,
        outcome: &str,
        by: UserId,
    ) -> StoreResult<()>;
    async fn action_checks(&self, id: RecordId) -> StoreResult<Vec<(String, String)>>;
    async fn create_group(&self, id: RecordId, group: RecordId, title: &str) -> StoreResult<()>;
    async fn groups(&self, id: RecordId) -> StoreResult<Vec<(String, String)>>;
    /// Gives one of the session's groups a new title.
    async fn rename_group(&self, id: RecordId, group: RecordId, title: &str) -> StoreResult<()>;
    /// Puts a card in a group, or takes it out (`None`).
    async fn assign_card(
        &self,
        id: RecordId,
        card: RecordId,
        group: Option<RecordId>,
    ) -> StoreResult<()>;
    async fn card_groups(&self, id: RecordId) -> StoreResult<Vec<(String, String)>>;
    async fn hide_card(
        &self,
        id: RecordId,
        card: RecordId,
        reason: &str,
        by: UserId,
    ) -> StoreResult<()>;
    async fn hidden_cards(&self, id: RecordId) -> StoreResult<Vec<(String, String)>>;
    async fn add_decision(
        &self,
        id: RecordId,
        decision: RecordId,
        card: Option<RecordId>,
        kind: &str,
        text: &str,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn decisions(&self, id: RecordId) -> StoreResult<Vec<review::DecisionRecord>>;
    async fn add_dissent(
        &self,
        dissent: RecordId,
        decision: RecordId,
        reason: &str,
        author: Option<UserId>,
        on: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn dissents(&self, id: RecordId) -> StoreResult<Vec<review::DissentRecord>>;
    /// Every instance's stream of "session X changed, now at version N" notices.
    fn review_changes(&self) -> tokio::sync::broadcast::Receiver<(String, i64)>;
}

/// The organisation's memory: search, the learning library, loop health, recurrence.
#[async_trait]
pub trait MemoryStore: Send + Sync {
    /// Ranks the newest `candidates` records that match and the filter allows, and returns one
    /// page of them (FTS5 on SQLite, tsvector on PostgreSQL; see ARCHITECTURE.md, "Search").
    async fn search(
        &self,
        request: &memory::SearchRequest<'_>,
    ) -> StoreResult<memory::SearchResults>;
    /// The loops of `request`'s page, best first, as [`MemoryStore::search`] would rank them
    /// but without reading what a page of hits shows (team names, titles, authors): "similar
    /// loops" reads its pool's texts itself.
    async fn similar_pool(&self, request: &memory::SearchRequest<'_>) -> StoreResult<Vec<LoopId>>;
    /// Organisation-visible learnings, newest first, with the themes and tags to browse by.
    async fn library(&self, filter: &memory::LibraryFilter) -> StoreResult<memory::LibraryPage>;
    async fn health(&self, scope: &memory::HealthScope) -> StoreResult<memory::HealthFigures>;
    /// Of `ids`, the loops with at least one action done and none open (dropped ones aside).
    async fn loops_with_all_actions_done(&self, ids: &[LoopId]) -> StoreResult<Vec<LoopId>>;
    /// The team a loop belongs to (to check whether someone may follow a link to it).
    async fn team_of_loop(&self, id: LoopId) -> StoreResult<Option<TeamId>>;
    /// Flags `id` as a possible recurrence of `earlier` (checked after capture). An anonymous
    /// loop is rewritten among others of its day, as when it was written.
    async fn set_recurrence_of(&self, id: LoopId, earlier: LoopId) -> StoreResult<()>;
    /// What ranking needs of each of `ids` (text, factors, learnings, action counts), in four
    /// queries whatever their number; loops that no longer exist are left out.
    async fn similar_texts(&self, ids: &[LoopId]) -> StoreResult<Vec<memory::SimilarText>>;
    /// Records a team's verdict on the pair (loop, earlier), replacing an earlier verdict on
    /// it; a dismissal also clears the loop's flag when it points at `earlier`.
    async fn record_recurrence_verdict(&self, pair: &memory::RecurrencePair) -> StoreResult<()>;
    /// The verdict on one pair, if any.
    async fn recurrence_verdict(
        &self,
        loop_id: LoopId,
        earlier: LoopId,
    ) -> StoreResult<Option<memory::RecurrencePair>>;
    /// The earlier loops a team dismissed as recurrences of `loop_id` (never flagged again).
    async fn dismissed_earlier(&self, loop_id: LoopId) -> StoreResult<Vec<LoopId>>;
    /// Every labelled pair of some teams (`None`: all), for calibration.
    async fn recurrence_pairs(
        &self,
        teams: Option<&[TeamId]>,
    ) -> StoreResult<Vec<memory::RecurrencePair>>;
}

/// Opens the store named by `database_url` (`postgres://…`) or, when there is none, the SQLite
/// database in `data_dir`, and brings its schema up to date.
pub async fn connect(
    database_url: Option<&str>,
    data_dir: &Path,
    sqlite: &SqliteOptions,
) -> StoreResult<Arc<dyn Store>> {
    connect_with_urls(database_url, &PostgresUrls::default(), data_dir, sqlite).await
}

/// PostgreSQL's connections besides the main one.
#[derive(Debug, Clone, Copy, Default)]
pub struct PostgresUrls<'a> {
    /// For `LISTEN` and the migrations' advisory lock, when the main URL goes through a pooler
    /// in transaction mode, which carries neither.
    pub direct: Option<&'a str>,
    /// A streaming replica for the heavy reads ([`Store::caught_up_replica`]).
    pub read: Option<&'a str>,
}

/// As [`connect`], with PostgreSQL's other connections (ignored on SQLite).
pub async fn connect_with_urls(
    database_url: Option<&str>,
    postgres: &PostgresUrls<'_>,
    data_dir: &Path,
    sqlite: &SqliteOptions,
) -> StoreResult<Arc<dyn Store>> {
    match database_url {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Arc::new(PostgresStore::connect(url, postgres).await?))
        }
        Some(url) if url.starts_with("sqlite:") => {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            Ok(Arc::new(SqliteStore::open(Path::new(path), sqlite).await?))
        }
        Some(_) => Err(StoreError::Unsupported(
            "database URL must start with postgres://, postgresql:// or sqlite:",
        )),
        None => {
            std::fs::create_dir_all(data_dir)?;
            Ok(Arc::new(
                SqliteStore::open(&data_dir.join("failforward.db"), sqlite).await?,
            ))
        }
    }
}

/// Unix seconds, the storage form of every instant.
pub(crate) fn unix(at: OffsetDateTime) -> i64 {
    at.unix_timestamp()
}

pub(crate) fn from_unix(seconds: i64) -> StoreResult<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(seconds)
        .map_err(|e| StoreError::Corrupt(format!("timestamp {seconds}: {e}")))
}

pub(crate) fn from_unix_opt(seconds: Option<i64>) -> StoreResult<Option<OffsetDateTime>> {
    seconds.map(from_unix).transpose()
}
