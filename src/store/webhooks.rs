//! Webhook subscriptions, deliveries and their attempts as the store reads and writes them.

use time::OffsetDateTime;

use crate::domain::audit::AuditEntry;
use crate::domain::{EventId, RecordId, TeamId, UserId};

/// A subscription to be written; its secret comes sealed with the server key.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub id: RecordId,
    /// `None`: every team's events (an organisation admin's subscription).
    pub team_id: Option<TeamId>,
    pub url: String,
    pub event_kinds: Vec<String>,
    pub secret_sealed: String,
    pub created_by: UserId,
    pub created_at: OffsetDateTime,
}

/// A stored subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionRecord {
    pub id: RecordId,
    pub team_id: Option<TeamId>,
    pub url: String,
    pub event_kinds: Vec<String>,
    pub secret_sealed: String,
    pub previous_sealed: Option<String>,
    pub previous_until: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub enabled: bool,
    pub disabled_reason: String,
    pub failing_since: Option<OffsetDateTime>,
}

/// Events marked dispatched in one transaction when no subscription is enabled: there is nothing
/// to queue for them, so a burst's events are marked in a few writes rather than one per 200.
pub const UNWATCHED_MARKED_MAX: i64 = 10_000;

/// What waits for the delivery worker (`WebhookStore::delivery_outlook`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryOutlook {
    /// Events not yet dispatched.
    pub events_waiting: bool,
    /// Deliveries due for an attempt.
    pub deliveries_due: bool,
    /// At least one subscription is enabled.
    pub subscribed: bool,
}

/// A delivery claimed by a worker: everything one attempt needs.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: RecordId,
    pub event_id: EventId,
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: i64,
    pub subscription: SubscriptionRecord,
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub delivery: RecordId,
    pub subscription: RecordId,
    pub at: OffsetDateTime,
    pub status_code: Option<u16>,
    pub latency_ms: i64,
    pub excerpt: String,
    /// `None` once delivered or given up; otherwise when to try again.
    pub retry_at: Option<OffsetDateTime>,
    pub delivered: bool,
    /// Switch the subscription off (sustained failure).
    pub disable: Option<AutoDisable>,
}

/// A subscription switched off by the server itself: the reason its owners read, and the audit
/// entry (no actor) written only when this attempt is the one that switches it off.
#[derive(Debug, Clone)]
pub struct AutoDisable {
    pub reason: String,
    pub audit: AuditEntry,
}

/// One line of a subscription's delivery log.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub delivery_id: RecordId,
    pub event_id: EventId,
    pub event_kind: String,
    pub attempted_at: OffsetDateTime,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub excerpt: String,
    /// The delivery's state now: pending, delivered or failed.
    pub delivery_status: String,
}
