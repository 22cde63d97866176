//! Alerts as monitoring and paging tools send them (Prometheus Alertmanager's webhook v4, PagerDuty
//! v3 webhooks, Opsgenie's outgoing webhook, and a generic JSON shape), read into one
//! [`AlertGroup`]: what the intake turns into a loop at Detect, or a timeline entry when resolved.
//!
//! Reading is lenient about fields a tool adds or leaves out (tools grow their payloads), strict
//! about what a loop needs: a fingerprint to deduplicate on and something to call it. Checking who
//! sent it is here too ([`pagerduty_signature_matches`]), as pure functions of the bytes; the
//! secrets are passed in. No IO, no clock: "when it was noticed" falls back to the receipt time the
//! caller passes.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::loops::TITLE_MAX;
use super::text::Invalid;

/// The tools an intake understands, one path segment each (`…/intake/{provider}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Alertmanager,
    PagerDuty,
    Opsgenie,
    Generic,
}

impl Provider {
    pub const ALL: [Provider; 4] = [
        Provider::Alertmanager,
        Provider::PagerDuty,
        Provider::Opsgenie,
        Provider::Generic,
    ];

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == raw)
            .ok_or_else(|| Invalid::new("must be alertmanager, pagerduty, opsgenie or generic"))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Alertmanager => "alertmanager",
            Provider::PagerDuty => "pagerduty",
            Provider::Opsgenie => "opsgenie",
            Provider::Generic => "generic",
        }
    }
}

/// Whether the group is still firing or has been resolved (closed, in Opsgenie's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertStatus {
    Firing,
    Resolved,
}

/// One alert group as the loop sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertGroup {
    /// What makes a re-fired alert the same one: Alertmanager's group key, PagerDuty's incident
    /// id, Opsgenie's alert id, the generic shape's `fingerprint`. Prefixed with the provider, so
    /// two tools' ids cannot collide.
    pub fingerprint: String,
    pub status: AlertStatus,
    /// The loop's title: one line, cut to the title's limit.
    pub title: String,
    /// The loop's "what happened": the alerts' summaries and descriptions, and where to look.
    pub what_happened: String,
    /// When the failure began, as the tool saw it.
    pub happened_at: Option<OffsetDateTime>,
    /// When someone (the tool) noticed: the tool's own time, else the receipt time.
    pub noticed_at: OffsetDateTime,
}

/// The most a group's "what happened" keeps: a storm of alerts should not become a novel.
const WHAT_HAPPENED_MAX: usize = 8_000;

/// Reads one delivery of `provider`. `Ok(None)` is a delivery that concerns no loop (an
/// acknowledgement, a note, a test ping): accepted and ignored. `received_at` stands in for a
/// notice time the payload does not carry.
pub fn read(
    provider: Provider,
    body: &[u8],
    received_at: OffsetDateTime,
) -> Result<Option<AlertGroup>, Invalid> {
    let group = match provider {
        Provider::Alertmanager => alertmanager(parse(body)?, received_at),
        Provider::PagerDuty => pagerduty(parse(body)?, received_at),
        Provider::Opsgenie => opsgenie(parse(body)?, received_at),
        Provider::Generic => generic(parse(body)?, received_at),
    }?;
    Ok(group.map(|mut group| {
        group.title = one_line(&group.title, TITLE_MAX);
        group.what_happened = cut(group.what_happened.trim(), WHAT_HAPPENED_MAX);
        if let Some(happened) = group.happened_at {
            // A clock ahead of the tool's must not make the loop refuse its own times.
            if happened > group.noticed_at {
                group.happened_at = Some(group.noticed_at);
            }
        }
        group
    }))
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, Invalid> {
    serde_json::from_slice(body).map_err(|e| Invalid::new(format!("is not the expected JSON: {e}")))
}

fn instant(raw: Option<&str>) -> Option<OffsetDateTime> {
    let at = OffsetDateTime::parse(raw?.trim(), &Rfc3339).ok()?;
    // Alertmanager writes Go's zero time (year 1) for "no end"; nothing before 1970 is an alert.
    (at.year() >= 1970).then_some(at)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AmPayload {
    version: String,
    group_key: String,
    status: String,
    #[serde(default)]
    common_labels: serde_json::Map<String, Value>,
    #[serde(default)]
    common_annotations: serde_json::Map<String, Value>,
    #[serde(default, rename = "externalURL")]
    external_url: String,
    #[serde(default)]
    alerts: Vec<AmAlert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AmAlert {
    #[serde(default)]
    status: String,
    #[serde(default)]
    labels: serde_json::Map<String, Value>,
    #[serde(default)]
    annotations: serde_json::Map<String, Value>,
    starts_at: Option<String>,
    #[serde(default, rename = "generatorURL")]
    generator_url: String,
}

fn text_of(map: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    map.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Alertmanager's webhook v4 (prometheus.io, `webhook_config`): one delivery per alert group,
/// the group keyed by `groupKey`, firing while any of its alerts fires.
fn alertmanager(
    payload: AmPayload,
    received_at: OffsetDateTime,
) -> Result<Option<AlertGroup>, Invalid> {
    if payload.version != "4" {
        return Err(Invalid::new("must be Alertmanager's webhook version 4"));
    }
    if payload.group_key.trim().is_empty() {
        return Err(Invalid::new("groupKey must not be empty"));
    }
    let status = match payload.status.as_str() {
        "firing" => AlertStatus::Firing,
        "resolved" => AlertStatus::Resolved,
        _ => return Err(Invalid::new("status must be firing or resolved")),
    };
    let name = text_of(&payload.common_labels, "alertname");
    let title = text_of(&payload.common_annotations, "summary")
        .or_else(|| name.clone())
        .or_else(|| {
            payload.alerts.first().and_then(|a| {
                text_of(&a.annotations, "summary").or(text_of(&a.labels, "alertname"))
            })
        })
        .unwrap_or_else(|| "Alert from Alertmanager".to_owned());
    let mut lines = Vec::new();
    for alert in &payload.alerts {
        let what = text_of(&alert.annotations, "summary")
            .or_else(|| text_of(&alert.labels, "alertname"))
            .unwrap_or_else(|| "alert".to_owned());
        let mut line = format!("- {what} ({})", alert.status);
        if let Some(description) = text_of(&alert.annotations, "description") {
            line.push_str(&format!(": {description}"));
        }
        if !alert.generator_url.is_empty() {
            line.push_str(&format!(" <{}>", alert.generator_url));
        }
        lines.push(line);
    }
    if !payload.external_url.is_empty() {
        lines.push(format!(
            "\nFrom Alertmanager at <{}>.",
            payload.external_url
        ));
    }
    let happened_at = payload
        .alerts
        .iter()
        .filter_map(|a| instant(a.starts_at.as_deref()))
        .min();
    Ok(Some(AlertGroup {
        fingerprint: format!("alertmanager:{}", payload.group_key),
        status,
        title,
        what_happened: lines.join("\n"),
        happened_at,
        noticed_at: received_at,
    }))
}

#[derive(Deserialize)]
struct PdPayload {
    event: PdEvent,
}

#[derive(Deserialize)]
struct PdEvent {
    event_type: String,
    occurred_at: Option<String>,
    data: PdIncident,
}

#[derive(Deserialize)]
struct PdIncident {
    id: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    html_url: Option<String>,
    #[serde(default)]
    service: Option<PdReference>,
    #[serde(default)]
    urgency: Option<String>,
}

#[derive(Deserialize)]
struct PdReference {
    #[serde(default)]
    summary: Option<String>,
}

/// PagerDuty's v3 webhook (developer.pagerduty.com, "Webhooks v3 overview"): one event per
/// delivery; `incident.triggered` opens, `incident.resolved` resolves, the rest are news about an
/// incident the loop already has.
fn pagerduty(
    payload: PdPayload,
    received_at: OffsetDateTime,
) -> Result<Option<AlertGroup>, Invalid> {
    let event = payload.event;
    let status = match event.event_type.as_str() {
        "incident.triggered" => AlertStatus::Firing,
        "incident.resolved" => AlertStatus::Resolved,
        _ => return Ok(None),
    };
    if event.data.id.trim().is_empty() {
        return Err(Invalid::new("event.data.id must not be empty"));
    }
    let mut what = Vec::new();
    if let Some(service) = event.data.service.and_then(|s| s.summary) {
        what.push(format!("Service: {service}"));
    }
    if let Some(urgency) = event.data.urgency {
        what.push(format!("Urgency: {urgency}"));
    }
    if let Some(url) = event.data.html_url {
        what.push(format!("PagerDuty incident: <{url}>"));
    }
    let title = event
        .data
        .title
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| "Incident from PagerDuty".to_owned());
    if what.is_empty() {
        what.push(title.clone());
    }
    Ok(Some(AlertGroup {
        fingerprint: format!("pagerduty:{}", event.data.id),
        status,
        title,
        what_happened: what.join("\n"),
        happened_at: instant(event.data.created_at.as_deref()),
        noticed_at: instant(event.occurred_at.as_deref()).unwrap_or(received_at),
    }))
}

#[derive(Deserialize)]
struct OgPayload {
    action: String,
    alert: OgAlert,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OgAlert {
    alert_id: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    entity: Option<String>,
    #[serde(default)]
    priority: Option<String>,
    #[serde(default)]
    source: Option<String>,
    /// Milliseconds since the epoch.
    #[serde(default)]
    created_at: Option<i64>,
}

/// Opsgenie's outgoing webhook integration (support.atlassian.com, "Integrate Opsgenie with
/// Webhook"): `Create` opens, `Close` resolves, other actions are ignored.
fn opsgenie(
    payload: OgPayload,
    received_at: OffsetDateTime,
) -> Result<Option<AlertGroup>, Invalid> {
    let status = match payload.action.as_str() {
        "Create" => AlertStatus::Firing,
        "Close" => AlertStatus::Resolved,
        _ => return Ok(None),
    };
    let alert = payload.alert;
    if alert.alert_id.trim().is_empty() {
        return Err(Invalid::new("alert.alertId must not be empty"));
    }
    let mut what = Vec::new();
    if let Some(description) = alert.description.filter(|d| !d.trim().is_empty()) {
        what.push(description);
    }
    for (label, value) in [
        ("Entity", alert.entity),
        ("Priority", alert.priority),
        ("Source", alert.source),
    ] {
        if let Some(value) = value.filter(|v| !v.trim().is_empty()) {
            what.push(format!("{label}: {value}"));
        }
    }
    let title = alert
        .message
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| "Alert from Opsgenie".to_owned());
    if what.is_empty() {
        what.push(title.clone());
    }
    let created = alert
        .created_at
        .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok());
    Ok(Some(AlertGroup {
        fingerprint: format!("opsgenie:{}", alert.alert_id),
        status,
        title,
        what_happened: what.join("\n\n"),
        happened_at: created,
        noticed_at: received_at,
    }))
}

/// The generic shape, for anything that can post JSON (documented in README.md, "Alert intake").
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GenericPayload {
    fingerprint: String,
    #[serde(default = "firing")]
    status: String,
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    happened_at: Option<String>,
    #[serde(default)]
    noticed_at: Option<String>,
}

fn firing() -> String {
    "firing".to_owned()
}

fn generic(
    payload: GenericPayload,
    received_at: OffsetDateTime,
) -> Result<Option<AlertGroup>, Invalid> {
    if payload.fingerprint.trim().is_empty() || payload.fingerprint.chars().count() > 200 {
        return Err(Invalid::new("fingerprint must have 1 to 200 characters"));
    }
    if payload.title.trim().is_empty() {
        return Err(Invalid::new("title must not be empty"));
    }
    let status = match payload.status.as_str() {
        "firing" => AlertStatus::Firing,
        "resolved" => AlertStatus::Resolved,
        _ => return Err(Invalid::new("status must be firing or resolved")),
    };
    let timed = |raw: Option<String>, name: &str| match raw {
        None => Ok(None),
        Some(raw) => instant(Some(&raw))
            .map(Some)
            .ok_or_else(|| Invalid::new(format!("{name} must be an RFC 3339 time"))),
    };
    let happened_at = timed(payload.happened_at, "happened_at")?;
    let noticed_at = timed(payload.noticed_at, "noticed_at")?.unwrap_or(received_at);
    let what_happened = if payload.description.trim().is_empty() {
        payload.title.clone()
    } else {
        payload.description
    };
    Ok(Some(AlertGroup {
        fingerprint: format!("generic:{}", payload.fingerprint.trim()),
        status,
        title: payload.title,
        what_happened,
        happened_at,
        noticed_at: noticed_at.min(received_at),
    }))
}

/// PagerDuty's v3 signature check: `X-PagerDuty-Signature` holds one or more comma-separated
/// `v1=<hex HMAC-SHA256 of the raw body>` (several while PagerDuty rotates the secret); one that
/// matches is enough. Compared in constant time.
pub fn pagerduty_signature_matches(secret: &str, body: &[u8], header: &str) -> bool {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    header
        .split(',')
        .filter_map(|part| part.trim().strip_prefix("v1="))
        .filter_map(|hex_digest| hex::decode(hex_digest).ok())
        .any(|given| {
            use subtle::ConstantTimeEq;
            given.len() == expected.len() && bool::from(given.as_slice().ct_eq(expected.as_slice()))
        })
}

/// PagerDuty's signature header for `body` (what the tests and the intake page's example send).
pub fn pagerduty_signature(secret: &str, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn one_line(raw: &str, max: usize) -> String {
    let line: String = raw
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    cut(&line, max)
}

fn cut(raw: &str, max: usize) -> String {
    if raw.chars().count() <= max {
        return raw.to_owned();
    }
    let mut kept: String = raw.chars().take(max.saturating_sub(1)).collect();
    kept.push('…');
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const RECEIVED: OffsetDateTime = datetime!(2026-03-02 12:00 UTC);

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/data/alerts/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn read_fixture(provider: Provider, name: &str) -> AlertGroup {
        match read(provider, &fixture(name), RECEIVED) {
            Ok(Some(group)) => group,
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn reads_an_alertmanager_group_firing_then_resolved() {
        let firing = read_fixture(Provider::Alertmanager, "alertmanager-firing.json");
        assert_eq!(firing.status, AlertStatus::Firing);
        assert!(firing.fingerprint.starts_with("alertmanager:{}"));
        assert_eq!(
            firing.title,
            "Checkout API answers 5xx to more than 5% of requests"
        );
        assert!(firing.what_happened.contains("checkout-7f9c"));
        assert!(firing.what_happened.contains("checkout-2b1d"));
        // The earliest of the group's alerts.
        assert_eq!(
            firing.happened_at,
            Some(datetime!(2026-03-02 09:14:05.12 UTC))
        );
        assert_eq!(firing.noticed_at, RECEIVED);
        let resolved = read_fixture(Provider::Alertmanager, "alertmanager-resolved.json");
        assert_eq!(resolved.status, AlertStatus::Resolved);
        assert_eq!(resolved.fingerprint, firing.fingerprint);
    }

    #[test]
    fn reads_pagerduty_triggered_and_resolved_and_ignores_the_rest() {
        let triggered = read_fixture(Provider::PagerDuty, "pagerduty-triggered.json");
        assert_eq!(triggered.status, AlertStatus::Firing);
        assert_eq!(triggered.fingerprint, "pagerduty:Q2XKJ7M");
        assert_eq!(triggered.title, "Payments queue is not draining");
        assert_eq!(
            triggered.happened_at,
            Some(datetime!(2026-03-02 10:02:11 UTC))
        );
        assert_eq!(triggered.noticed_at, datetime!(2026-03-02 10:02:13.5 UTC));
        let resolved = read_fixture(Provider::PagerDuty, "pagerduty-resolved.json");
        assert_eq!(resolved.status, AlertStatus::Resolved);
        assert_eq!(resolved.fingerprint, triggered.fingerprint);
        let acknowledged = fixture("pagerduty-triggered.json");
        let acknowledged = String::from_utf8_lossy(&acknowledged)
            .replace("incident.triggered", "incident.acknowledged");
        assert_eq!(
            read(Provider::PagerDuty, acknowledged.as_bytes(), RECEIVED),
            Ok(None)
        );
    }

    #[test]
    fn reads_opsgenie_create_and_close() {
        let created = read_fixture(Provider::Opsgenie, "opsgenie-create.json");
        assert_eq!(created.status, AlertStatus::Firing);
        assert_eq!(created.title, "Disk on db-2 above 90%");
        assert_eq!(
            created.happened_at,
            OffsetDateTime::from_unix_timestamp(1_772_445_600).ok()
        );
        let closed = read_fixture(Provider::Opsgenie, "opsgenie-close.json");
        assert_eq!(closed.status, AlertStatus::Resolved);
        assert_eq!(closed.fingerprint, created.fingerprint);
    }

    #[test]
    fn reads_the_generic_shape_and_names_what_is_wrong() {
        let group = read_fixture(Provider::Generic, "generic.json");
        assert_eq!(group.fingerprint, "generic:nightly-backup-failed");
        assert_eq!(group.happened_at, Some(datetime!(2026-03-02 02:00 UTC)));
        let bad = br#"{"fingerprint":"x","title":"t","happened_at":"yesterday"}"#;
        let Err(Invalid(message)) = read(Provider::Generic, bad, RECEIVED) else {
            panic!("an unreadable time was accepted");
        };
        assert!(message.contains("happened_at"), "{message}");
        assert!(read(Provider::Generic, b"{\"title\":\"t\"}", RECEIVED).is_err());
        assert!(read(Provider::Alertmanager, b"[]", RECEIVED).is_err());
    }

    #[test]
    fn a_happened_time_after_the_notice_is_brought_back_to_it() {
        let body = br#"{"fingerprint":"x","title":"t","happened_at":"2026-03-02T13:00:00Z"}"#;
        let Ok(Some(group)) = read(Provider::Generic, body, RECEIVED) else {
            panic!("refused");
        };
        assert_eq!(group.happened_at, Some(RECEIVED));
    }

    #[test]
    fn pagerduty_signatures_verify_and_a_wrong_one_does_not() {
        let body = fixture("pagerduty-triggered.json");
        let header = pagerduty_signature("pd-secret", &body);
        assert!(pagerduty_signature_matches("pd-secret", &body, &header));
        assert!(pagerduty_signature_matches(
            "pd-secret",
            &body,
            &format!("v1=00ff, {header}")
        ));
        assert!(!pagerduty_signature_matches("other", &body, &header));
        assert!(!pagerduty_signature_matches("pd-secret", b"{}", &header));
        assert!(!pagerduty_signature_matches("pd-secret", &body, "v1=zz"));
        assert!(!pagerduty_signature_matches("pd-secret", &body, ""));
    }

    #[test]
    fn a_known_hmac_vector_matches() {
        // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            pagerduty_signature("Jefe", b"what do ya want for nothing?"),
            "v1=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
