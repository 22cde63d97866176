//! Use cases: the one place where the product's rules meet storage.
//!
//! The web pages, the JSON API and the CLI all call [`Service`]; none of them touches the store.
//! Team data is reached only through a [`TeamAccess`], which only [`Service::team_access`] can
//! make, so a use case that forgot the membership check would not compile.

mod access;
mod accounts;
pub mod alerts;
pub mod audit;
pub mod clock;
pub mod culture;
pub mod cv;
pub mod error;
pub mod events;
pub mod expectations;
pub mod experiments;
pub mod held;
pub mod lint;
pub mod loops;
pub mod memory;
pub mod mirror;
mod passwords;
pub mod review;
pub mod rituals;
pub mod scim;
pub mod sealed;
pub mod sealing;
pub mod secrets;
pub mod sso;
pub mod sso_settings;
pub mod success;
mod teams;
pub mod transfer;
pub mod webhooks;
pub mod work;

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

pub use access::{Actor, TeamAccess};
pub use accounts::{LoginClient, LoginOutcome, NewSessionCookie, SessionCheck};
pub use clock::{Clock, SetClock, SystemClock};
pub use error::{FieldError, FieldErrors, ServiceError, ServiceResult};
pub use loops::{
    AccountInput, ActionItem, Attention, LoggedLoop, LoopDetail, LoopInput, LoopPage, LoopQuery,
    ReviewInput,
};
pub use memory::{
    Found, HealthReport, LibraryItem, LibraryView, MedianFigure, RecurrenceLink, SearchInput,
    SearchPage, SimilarLoop, TeamRef,
};
pub use teams::{CreatedInvitation, TeamSummary, DESCRIPTION_MAX as TEAM_DESCRIPTION_MAX};

use crate::store::Store;

/// Rules that deployments may tune (see `config.rs` for their names and defaults).
#[derive(Debug, Clone)]
pub struct Policy {
    /// Where people reach the app, used to build the links the app hands out.
    pub public_url: String,
    /// A session ends after this long without a request.
    pub session_idle: Duration,
    /// A session ends this long after sign-in, however active.
    pub session_absolute: Duration,
    pub invitation_valid_for: Duration,
    pub setup_link_valid_for: Duration,
    /// Sign-in attempts allowed per account and client (device cookie and address) within
    /// `login_window`, each after a growing delay.
    pub login_max_failures: u32,
    pub login_window: Duration,
    /// Failed sign-ins allowed per account and hour from clients it has never signed in from
    /// (ASVS 2.2.1 asks for at most 100).
    pub login_account_max_failures: u32,
    /// How much anonymous content this server holds in memory, at most (see `service::held`).
    pub held_limits: held::Limits,
    /// Whether webhooks may reach loopback, private and link-local addresses, and plain http
    /// (see `domain::webhooks::address_is_public`). Off by default: a subscriber could otherwise
    /// make the server call its own network or the cloud's metadata service.
    pub webhooks_allow_private: bool,
    /// An alert group that fires again within this long after its last firing adds to its loop
    /// (a timeline entry); later, it opens a new loop (see `service::alerts`).
    pub alert_dedup_window: time::Duration,
    /// How long dispatched events and delivery attempts are kept before the delivery worker
    /// deletes them (see `Service::prune_webhook_history`).
    pub webhook_retention: time::Duration,
    /// How often an idle delivery worker looks for work. A commit that writes events wakes it
    /// at once (`crate::delivery`), so this is only the fallback for a missed notice.
    pub webhook_poll_interval: Duration,
    /// How long audit entries are kept before the hourly sweep deletes them (see
    /// `Service::prune_audit_log`).
    pub audit_retention: time::Duration,
    /// Single sign-on's values from the settings file and environment; they win over (and lock)
    /// what an admin saves (see `service::sso`).
    pub sso_configured: crate::domain::sso::SsoValues,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8080".to_owned(),
            session_idle: Duration::from_secs(12 * 3600),
            session_absolute: Duration::from_secs(14 * 24 * 3600),
            invitation_valid_for: Duration::from_secs(7 * 24 * 3600),
            setup_link_valid_for: Duration::from_secs(24 * 3600),
            login_max_failures: 10,
            login_window: Duration::from_secs(15 * 60),
            login_account_max_failures: 100,
            held_limits: held::Limits::default(),
            webhooks_allow_private: false,
            alert_dedup_window: time::Duration::hours(24),
            webhook_retention: time::Duration::days(30),
            webhook_poll_interval: Duration::from_millis(200),
            audit_retention: time::Duration::days(365),
            sso_configured: crate::domain::sso::SsoValues::default(),
        }
    }
}

/// The use cases, over one store.
#[derive(Clone)]
pub struct Service {
    store: Arc<dyn Store>,
    policy: Arc<Policy>,
    /// Present in the server; the operator's commands need no sealing and run without it.
    sealer: Option<sealing::Sealer>,
    /// Present in the server: the possible-recurrence check runs after capture, off the
    /// request (see [`memory::RecurrenceChecks`]). Without it the check runs inline.
    after_capture: Option<memory::AfterCapture>,
    /// Anonymous contributions waiting for a moment their writer does not choose.
    held: Arc<held::Held>,
    /// When this instance last warned that many accounts fail from one address.
    shared_address_warned: Arc<std::sync::Mutex<Option<OffsetDateTime>>>,
    /// Where every use case reads the time (see [`clock`]).
    clock: Arc<dyn Clock>,
    /// Single sign-on's combined settings, read again every few seconds (see `sso_settings`).
    sso_cache: Arc<sso_settings::SsoCache>,
    /// Loops' texts digested for ranking, kept between rankings (see [`memory::Digests`]).
    digests: Arc<memory::Digests>,
}

impl Service {
    pub fn new(store: Arc<dyn Store>, policy: Policy) -> Self {
        Self {
            store,
            policy: Arc::new(policy),
            sealer: None,
            after_capture: None,
            held: Arc::default(),
            shared_address_warned: Arc::default(),
            clock: Arc::new(SystemClock),
            sso_cache: Arc::default(),
            digests: Arc::default(),
        }
    }

    /// This service reading through the read replica once it has replayed every commit
    /// acknowledged so far ([`Store::caught_up_replica`]), else itself. For the heavy reads
    /// only (search, the health dashboard, the library, exports): a replica refuses writes.
    async fn for_heavy_reads(&self) -> std::borrow::Cow<'_, Service> {
        match self.store.caught_up_replica().await {
            Some(replica) => std::borrow::Cow::Owned(Service {
                store: replica,
                ..self.clone()
            }),
            None => std::borrow::Cow::Borrowed(self),
        }
    }

    /// Reads the time from `clock` instead of the system's (tests move time with a
    /// [`SetClock`]).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Moves the possible-recurrence check of captures off the request; the returned worker
    /// must run (see [`memory::RecurrenceChecks::run`]).
    pub fn with_deferred_checks(mut self) -> (Self, memory::RecurrenceChecks) {
        let (after_capture, checks) = memory::AfterCapture::new();
        self.after_capture = Some(after_capture);
        (self, checks)
    }

    /// Adds the server's sealing key after checking that the database was set up with the same
    /// key, so that several instances cannot seal with different keys.
    pub async fn with_sealer(mut self, sealer: sealing::Sealer) -> ServiceResult<Self> {
        let stored = self
            .store
            .remember_installation_fact("sealing_key_check", sealer.check())
            .await?;
        if stored != sealer.check() {
            return Err(ServiceError::Conflict {
                field: Some("secret_key".to_owned()),
                message: "this server's secret key differs from the one this database was set up with; give every instance the same secret_key".to_owned(),
            });
        }
        self.sealer = Some(sealer);
        Ok(self)
    }

    /// Admits `bytes` of anonymous content to be held for `who` (see [`held::Held::admit`]).
    fn admit_held(
        &self,
        who: Option<crate::domain::UserId>,
        bytes: usize,
        anonymous_loop: bool,
    ) -> ServiceResult<()> {
        self.held
            .admit(
                who,
                bytes,
                anonymous_loop,
                &self.policy.held_limits,
                self.now(),
            )
            .map_err(|held::Refused(why)| ServiceError::TooMuchHeld(why))
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The store, for the operator's commands outside any use case (backups, restores).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Whether the database answers (the readiness check), so that `http` need not reach the
    /// store for it.
    pub async fn database_reachable(&self) -> ServiceResult<()> {
        Ok(self.store.ping().await?)
    }

    /// The current instant, from the service's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Midnight UTC of the current day, from the service's clock: what due dates compare with.
    pub fn today(&self) -> OffsetDateTime {
        self.clock.today()
    }

    /// Absolute link to `path` on this installation.
    pub fn link(&self, path: &str) -> String {
        format!("{}{}", self.policy.public_url.trim_end_matches('/'), path)
    }

    /// Removes expired sessions and ended sign-in counters; the server calls it periodically.
    pub async fn sweep(&self) -> ServiceResult<u64> {
        let now = self.now();
        let removed = self
            .store
            .delete_sessions_before(
                now - self.policy.session_idle,
                now - self.policy.session_absolute,
            )
            .await?;
        self.store
            .delete_login_throttle_before(
                now - self.policy.login_window,
                now - accounts::ACCOUNT_WINDOW,
                now - accounts::DEVICE_REMEMBERED_FOR,
            )
            .await?;
        Ok(removed)
    }
}
