//! Webhook subscriptions and the use-case side of their delivery.
//!
//! Organisation admins subscribe an endpoint to event kinds of every team; a team's leads (and
//! admins) to their team's. The signing secret is shown once, at creation or rotation, and
//! stored sealed with the server key (`service::sealing`): it must be read to sign, so it cannot
//! be hashed. A rotation keeps the previous secret for [`ROTATION_OVERLAP`], and every request
//! of that time is signed with both. The outgoing requests themselves are made by
//! `crate::delivery`, which claims work here and reports each attempt back.

use rand::{Rng, RngCore};
use time::OffsetDateTime;

use super::{Actor, Service, ServiceError, ServiceResult, TeamAccess};
use crate::domain::audit::{AuditAction, AuditEntry};
use crate::domain::events::EventKind;
use crate::domain::webhooks::{self, SigningSecret, SECRET_BYTES};
use crate::domain::{EventId, RecordId, TeamId};
use crate::store::webhooks::{AttemptOutcome, AutoDisable, NewSubscription, SubscriptionRecord};

pub use crate::store::webhooks::DeliveryOutlook;

/// Events the delivery worker queues in one transaction.
pub const DISPATCH_BATCH: i64 = 200;

/// A line of the delivery log, as the store reads it.
pub use crate::store::webhooks::AttemptRecord;

/// How long a rotated-out secret still signs (the receiver's time to switch).
pub const ROTATION_OVERLAP: time::Duration = time::Duration::hours(24);

/// A subscription is switched off when every attempt has failed for this long.
pub const DISABLE_AFTER: time::Duration = time::Duration::hours(24);

/// How long a claimed delivery is a worker's before another may take it.
const LEASE: time::Duration = time::Duration::seconds(30);

/// Characters of a receiver's answer kept in the delivery log.
const EXCERPT_MAX: usize = 300;

/// Whose events a subscription receives, and who may manage it.
#[derive(Clone, Copy)]
pub enum WebhookScope<'a> {
    /// Every team's events; organisation admins only.
    Organisation(&'a Actor),
    /// One team's events; its leads and organisation admins.
    Team(&'a TeamAccess),
}

impl WebhookScope<'_> {
    fn team(&self) -> Option<TeamId> {
        match self {
            WebhookScope::Organisation(_) => None,
            WebhookScope::Team(access) => Some(access.team().id),
        }
    }

    fn actor(&self) -> crate::domain::UserId {
        match self {
            WebhookScope::Organisation(actor) => actor.id(),
            WebhookScope::Team(access) => access.actor(),
        }
    }

    /// Where the subscription lives, for the audit log.
    fn place(&self) -> String {
        match self {
            WebhookScope::Organisation(_) => "organisation".to_owned(),
            WebhookScope::Team(access) => format!("team {}", access.team().slug),
        }
    }

    fn check(&self) -> ServiceResult<()> {
        match self {
            WebhookScope::Organisation(actor) => actor.require_admin(),
            WebhookScope::Team(access) if access.can_manage() => Ok(()),
            WebhookScope::Team(_) => Err(ServiceError::Forbidden(
                "only the team's leads manage its webhooks".to_owned(),
            )),
        }
    }
}

/// A subscription as its manager sees it (never its secret).
#[derive(Debug, Clone)]
pub struct WebhookView {
    pub id: RecordId,
    pub team_id: Option<TeamId>,
    pub url: String,
    pub event_kinds: Vec<String>,
    pub enabled: bool,
    /// Why it was switched off, for the subscriber.
    pub disabled_reason: String,
    pub failing_since: Option<OffsetDateTime>,
    /// Until when the previous secret still signs, after a rotation.
    pub previous_secret_until: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

impl From<SubscriptionRecord> for WebhookView {
    fn from(record: SubscriptionRecord) -> Self {
        Self {
            id: record.id,
            team_id: record.team_id,
            url: record.url,
            event_kinds: record.event_kinds,
            enabled: record.enabled,
            disabled_reason: record.disabled_reason,
            failing_since: record.failing_since,
            previous_secret_until: record.previous_until,
            created_at: record.created_at,
        }
    }
}

/// One request to make, signed.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub delivery: RecordId,
    pub subscription: RecordId,
    pub url: String,
    /// `webhook-id`: the event's id, the same on every attempt.
    pub webhook_id: String,
    pub timestamp: i64,
    pub signature: String,
    pub body: String,
    attempts_before: i64,
    failing_since: Option<OffsetDateTime>,
}

/// What the receiver answered, or why there was no answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status_code: Option<u16>,
    pub latency_ms: i64,
    /// The start of the answer's body, or what went wrong.
    pub text: String,
}

impl Answer {
    fn delivered(&self) -> bool {
        self.status_code
            .is_some_and(|code| (200..300).contains(&code))
    }
}

fn sealing_context(subscription: RecordId) -> String {
    format!("webhook-secret:{subscription}")
}

fn kinds(raw: &[String]) -> ServiceResult<Vec<String>> {
    let mut kinds = Vec::new();
    for kind in raw {
        let parsed = EventKind::parse(kind.trim()).ok_or_else(|| {
            ServiceError::field("event_types", format!("{kind:?} is not an event type"))
        })?;
        if !kinds.iter().any(|k: &String| k == parsed.as_str()) {
            kinds.push(parsed.as_str().to_owned());
        }
    }
    if kinds.is_empty() {
        return Err(ServiceError::field(
            "event_types",
            "choose at least one event type",
        ));
    }
    Ok(kinds)
}

impl Service {
    fn new_secret(&self, subscription: RecordId) -> ServiceResult<(String, String)> {
        let mut bytes = [0u8; SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let secret = SigningSecret::from_bytes(bytes).reveal();
        let sealed = self
            .sealer()?
            .seal(&secret, &sealing_context(subscription))?;
        Ok((secret, sealed))
    }

    /// Subscribes `url` to `event_types` in `scope`; returns the subscription and its secret,
    /// shown this once.
    pub async fn create_webhook(
        &self,
        scope: WebhookScope<'_>,
        url: &str,
        event_types: &[String],
    ) -> ServiceResult<(WebhookView, String)> {
        scope.check()?;
        let allow_private = self.policy.webhooks_allow_private;
        let url = webhooks::endpoint_url(url, allow_private)
            .map_err(|e| ServiceError::field("url", e.0))?;
        if let Some(ip) = webhooks::literal_address(&url) {
            if !allow_private && !webhooks::address_is_public(ip) {
                return Err(ServiceError::field(
                    "url",
                    "must be a public address: loopback, private and link-local ones are refused",
                ));
            }
        }
        let event_kinds = kinds(event_types)?;
        let id = RecordId::random();
        let (secret, sealed) = self.new_secret(id)?;
        let entry = self.audit_entry(
            Some(scope.actor()),
            AuditAction::WebhookCreated,
            format!("webhook {id} ({})", scope.place()),
            url.clone(),
        );
        self.store
            .create_subscription(
                &NewSubscription {
                    id,
                    team_id: scope.team(),
                    url,
                    event_kinds,
                    secret_sealed: sealed,
                    created_by: scope.actor(),
                    created_at: self.now(),
                },
                &entry,
            )
            .await?;
        Ok((self.webhook(scope, &id.to_string()).await?, secret))
    }

    fn webhook_entry(
        &self,
        scope: WebhookScope<'_>,
        record: &SubscriptionRecord,
        action: AuditAction,
    ) -> AuditEntry {
        self.audit_entry(
            Some(scope.actor()),
            action,
            format!("webhook {} ({})", record.id, scope.place()),
            record.url.clone(),
        )
    }

    /// The subscriptions of `scope`.
    pub async fn webhooks(&self, scope: WebhookScope<'_>) -> ServiceResult<Vec<WebhookView>> {
        scope.check()?;
        Ok(self
            .store
            .subscriptions(scope.team())
            .await?
            .into_iter()
            .map(WebhookView::from)
            .collect())
    }

    async fn subscription_in(
        &self,
        scope: WebhookScope<'_>,
        id: &str,
    ) -> ServiceResult<SubscriptionRecord> {
        scope.check()?;
        let id: RecordId = id.parse().map_err(|_| ServiceError::NotFound)?;
        self.store
            .subscription(id)
            .await?
            .filter(|record| record.team_id == scope.team())
            .ok_or(ServiceError::NotFound)
    }

    pub async fn webhook(&self, scope: WebhookScope<'_>, id: &str) -> ServiceResult<WebhookView> {
        Ok(self.subscription_in(scope, id).await?.into())
    }

    pub async fn delete_webhook(&self, scope: WebhookScope<'_>, id: &str) -> ServiceResult<()> {
        let record = self.subscription_in(scope, id).await?;
        let entry = self.webhook_entry(scope, &record, AuditAction::WebhookDeleted);
        self.store.delete_subscription(record.id, &entry).await?;
        Ok(())
    }

    /// A new secret, shown this once; the previous one still signs for [`ROTATION_OVERLAP`].
    pub async fn rotate_webhook_secret(
        &self,
        scope: WebhookScope<'_>,
        id: &str,
    ) -> ServiceResult<(WebhookView, String)> {
        let record = self.subscription_in(scope, id).await?;
        let context = sealing_context(record.id);
        let previous = self.sealer()?.open(&record.secret_sealed, &context)?;
        let previous_sealed = self.sealer()?.seal(&previous, &context)?;
        let (secret, sealed) = self.new_secret(record.id)?;
        self.store
            .rotate_secret(
                record.id,
                &sealed,
                &previous_sealed,
                self.now() + ROTATION_OVERLAP,
                &self.webhook_entry(scope, &record, AuditAction::WebhookRotated),
            )
            .await?;
        Ok((self.webhook(scope, id).await?, secret))
    }

    /// Switches a disabled subscription on again (after its receiver was fixed).
    pub async fn enable_webhook(&self, scope: WebhookScope<'_>, id: &str) -> ServiceResult<()> {
        let record = self.subscription_in(scope, id).await?;
        let entry = self.webhook_entry(scope, &record, AuditAction::WebhookEnabled);
        self.store.enable_subscription(record.id, &entry).await?;
        Ok(())
    }

    /// Switches a subscription off by hand; its deliveries wait until it is switched on again.
    pub async fn disable_webhook(&self, scope: WebhookScope<'_>, id: &str) -> ServiceResult<()> {
        let record = self.subscription_in(scope, id).await?;
        self.store
            .disable_subscription(
                record.id,
                &format!("switched off by hand on {} UTC", self.today().date()),
                &self.webhook_entry(scope, &record, AuditAction::WebhookDisabled),
            )
            .await?;
        Ok(())
    }

    /// The subscription's delivery log, newest first (at most 200 lines).
    pub async fn webhook_log(
        &self,
        scope: WebhookScope<'_>,
        id: &str,
    ) -> ServiceResult<Vec<AttemptRecord>> {
        let record = self.subscription_in(scope, id).await?;
        Ok(self.store.attempts(record.id, 200).await?)
    }

    /// Sends one delivery again, now, with the same `webhook-id`.
    pub async fn redeliver_webhook(
        &self,
        scope: WebhookScope<'_>,
        id: &str,
        delivery: &str,
    ) -> ServiceResult<()> {
        let record = self.subscription_in(scope, id).await?;
        let delivery: RecordId = delivery.parse().map_err(|_| ServiceError::NotFound)?;
        if !self
            .store
            .redeliver(record.id, delivery, self.now())
            .await?
        {
            return Err(ServiceError::NotFound);
        }
        Ok(())
    }

    /// Deletes the outbox's events and the delivery log's lines older than the retention
    /// (`Policy::webhook_retention`) that are done with; the delivery worker calls it hourly.
    /// Returns the events and attempts deleted.
    pub async fn prune_webhook_history(&self) -> ServiceResult<(u64, u64)> {
        let before = self.now() - self.policy.webhook_retention;
        Ok(self.store.prune_deliveries(before).await?)
    }

    /// Notified when events may be waiting: after a commit that wrote some, in any instance.
    pub fn outbox_commits(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.store.outbox_commits()
    }

    /// Queues up to [`DISPATCH_BATCH`] new events for their subscribers (the delivery worker's
    /// first step); with nobody subscribed, marks more at once. Returns how many it took.
    pub async fn dispatch_events(&self) -> ServiceResult<usize> {
        Ok(self
            .store
            .dispatch_events(DISPATCH_BATCH, self.now())
            .await?)
    }

    /// What waits for the delivery worker, read without taking the writer.
    pub async fn delivery_outlook(&self) -> ServiceResult<DeliveryOutlook> {
        Ok(self.store.delivery_outlook(self.now()).await?)
    }

    /// Claims due deliveries and signs them, to be sent now.
    pub async fn claim_webhook_deliveries(&self, limit: i64) -> ServiceResult<Vec<Outgoing>> {
        let now = self.now();
        let claimed = self.store.claim_deliveries(now, now + LEASE, limit).await?;
        let mut outgoing = Vec::with_capacity(claimed.len());
        for delivery in claimed {
            let subscription = &delivery.subscription;
            let context = sealing_context(subscription.id);
            let mut secrets = vec![SigningSecret::parse(
                &self.sealer()?.open(&subscription.secret_sealed, &context)?,
            )
            .map_err(|e| ServiceError::internal(anyhow::anyhow!("stored secret: {}", e.0)))?];
            if let (Some(previous), Some(until)) =
                (&subscription.previous_sealed, subscription.previous_until)
            {
                if until > now {
                    secrets.push(
                        SigningSecret::parse(&self.sealer()?.open(previous, &context)?).map_err(
                            |e| ServiceError::internal(anyhow::anyhow!("stored secret: {}", e.0)),
                        )?,
                    );
                }
            }
            let webhook_id = webhook_id(delivery.event_id);
            let timestamp = now.unix_timestamp();
            let refs: Vec<&SigningSecret> = secrets.iter().collect();
            let signature = webhooks::signature_header(
                &refs,
                &webhook_id,
                timestamp,
                delivery.payload.as_bytes(),
            );
            outgoing.push(Outgoing {
                delivery: delivery.id,
                subscription: subscription.id,
                url: subscription.url.clone(),
                webhook_id,
                timestamp,
                signature,
                body: delivery.payload,
                attempts_before: delivery.attempts,
                failing_since: subscription.failing_since,
            });
        }
        Ok(outgoing)
    }

    /// Records an attempt: delivered, retried later (exponential backoff with jitter), or given
    /// up after [`webhooks::RETRIES`] retries; a subscription failing for [`DISABLE_AFTER`] is
    /// switched off with the reason.
    pub async fn record_webhook_attempt(
        &self,
        outgoing: &Outgoing,
        answer: Answer,
    ) -> ServiceResult<()> {
        let now = self.now();
        let delivered = answer.delivered();
        let attempt = u32::try_from(outgoing.attempts_before + 1).unwrap_or(u32::MAX);
        let retry_at = (!delivered && attempt <= webhooks::RETRIES).then(|| {
            let jitter: f64 = rand::thread_rng().gen();
            now + webhooks::retry_delay(attempt, jitter)
        });
        let disable = (!delivered)
            .then_some(outgoing.failing_since)
            .flatten()
            .filter(|since| now - *since >= DISABLE_AFTER)
            .map(|since| AutoDisable {
                reason: format!(
                    "switched off: every delivery has failed since {} UTC; fix the receiver and switch it on again",
                    since.date()
                ),
                audit: self.audit_entry(
                    None,
                    AuditAction::WebhookDisabled,
                    format!("webhook {}", outgoing.subscription),
                    format!("{} (every delivery failed since {} UTC)", outgoing.url, since.date()),
                ),
            });
        let excerpt: String = answer.text.chars().take(EXCERPT_MAX).collect();
        self.store
            .record_attempt(&AttemptOutcome {
                delivery: outgoing.delivery,
                subscription: outgoing.subscription,
                at: now,
                status_code: answer.status_code,
                latency_ms: answer.latency_ms,
                excerpt,
                retry_at,
                delivered,
                disable,
            })
            .await?;
        Ok(())
    }
}

/// The `webhook-id` of an event: the same on every attempt and redelivery.
pub fn webhook_id(event: EventId) -> String {
    format!("msg_{}", event.as_uuid().simple())
}
