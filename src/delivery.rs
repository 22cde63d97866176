//! The webhook delivery worker: runs in every instance, takes work from the database through
//! `Service` (events fanned out to deliveries, deliveries claimed with a lease) and makes the
//! outgoing requests.
//!
//! Every request is guarded against server-side request forgery: the host is resolved here and
//! every address it resolves to must be public (`domain::webhooks::address_is_public`) unless
//! the operator allows private addresses; the connection goes to the address that was checked
//! (no second lookup an attacker's DNS could answer differently), redirects are never followed,
//! and the request times out.
//!
//! The worker wakes when a transaction that wrote events commits (`Service::outbox_commits`:
//! in-process on SQLite, `LISTEN/NOTIFY` on PostgreSQL; it gathers a burst's commits for 20 ms
//! first), and otherwise polls every `Policy::webhook_poll_interval`, which finds whatever a
//! missed notice left waiting. A round looks on the reader first and takes the writer only for
//! work it found (see `Round`). Anonymous loops' events change nothing here: they are written to the outbox only in the day's release
//! batch (`service::held`), so a wake-up can deliver them no earlier than that.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::webhooks::address_is_public;
use crate::service::webhooks::{Answer, Outgoing};
use crate::service::Service;

/// How often the worker deletes what is past the retention (`Service::prune_webhook_history`),
/// measured on the service's clock, so that tests move time instead of waiting.
const PRUNE_EVERY: time::Duration = time::Duration::hours(1);

/// How long a wake-up waits for more commits before its round (see `run`).
const WAKE_GATHERS_FOR: Duration = Duration::from_millis(20);

/// Deliveries one worker claims at a time.
const BATCH: i64 = 32;

/// Clients kept at most; past it they are all dropped and made again as needed.
const CLIENTS_MAX: usize = 256;

/// The whole attempt, connection included.
const TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Delivers until the task is aborted; once an hour it also deletes what is past the retention
/// (webhook history and the audit log).
pub async fn run(service: Service) {
    let committed = service.outbox_commits();
    let poll = service.policy().webhook_poll_interval;
    // The first round comes one interval after the start (not at once), so that a test with a
    // long interval sees deliveries only from wake-ups.
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + poll, poll);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let clients = Clients::default();
    let mut pruned_at: Option<time::OffsetDateTime> = None;
    loop {
        // A notice that came while the last round ran is kept by `Notify` (one permit), so the
        // events of a commit made meanwhile are picked up by the next round at once.
        let round = tokio::select! {
            _ = interval.tick() => Round::Poll,
            () = committed.notified() => {
                // The commits of a burst are taken in one round: a round per commit put the
                // worker's own writes between the captures' group commits on SQLite's one writer.
                tokio::time::sleep(WAKE_GATHERS_FOR).await;
                Round::Woken
            }
        };
        if let Err(error) = clients.work_once(&service, round).await {
            tracing::warn!(%error, "webhook delivery");
        }
        let now = service.now();
        if pruned_at.is_none_or(|at| now - at >= PRUNE_EVERY) {
            match service.prune_webhook_history().await {
                Ok(_) => pruned_at = Some(now),
                Err(error) => tracing::warn!(%error, "deleting old webhook deliveries"),
            }
            if let Err(error) = service.prune_audit_log().await {
                tracing::warn!(%error, "deleting old audit log entries");
            }
        }
    }
}

/// Fans new events out and makes every due attempt once; returns how many attempts it made.
pub async fn work_once(service: &Service) -> crate::service::ServiceResult<usize> {
    Clients::default().work_once(service, Round::Full).await
}

/// Why a round runs, which decides what it may skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Round {
    /// The poll: takes the writer only for what the reader shows waiting (on SQLite every write
    /// transaction, even one that finds nothing, holds up the captures' group commits).
    Poll,
    /// A commit wrote events. Its events may not show to the reader yet (SQLite's commit hook
    /// runs just before the commit ends), so with subscribers they are dispatched without a
    /// look; with none, nothing is urgent and the next poll marks them, many at a time.
    Woken,
    /// Everything, without looking first (`work_once`).
    Full,
}

/// HTTP clients by host and the address that was checked for it, kept across rounds: a receiver
/// getting a steady stream of events keeps its connection (and TLS session) instead of a new
/// one per batch. Keying by the checked address keeps the guard exact: a client only ever
/// connects to the address it was made for (`ClientBuilder::resolve`).
#[derive(Default)]
struct Clients(Mutex<HashMap<(String, SocketAddr), reqwest::Client>>);

impl Clients {
    async fn work_once(
        &self,
        service: &Service,
        round: Round,
    ) -> crate::service::ServiceResult<usize> {
        let outlook = match round {
            Round::Full => None,
            Round::Poll | Round::Woken => Some(service.delivery_outlook().await?),
        };
        let dispatch = match (round, outlook) {
            (Round::Poll, Some(outlook)) => outlook.events_waiting,
            (Round::Woken, Some(outlook)) => outlook.subscribed,
            _ => true,
        };
        // With nobody subscribed one call marks many; what it left waits for the poll.
        let unwatched = outlook.is_some_and(|outlook| !outlook.subscribed);
        let mut queued = false;
        if dispatch {
            loop {
                let taken = service.dispatch_events().await?;
                queued |= taken > 0;
                if unwatched || (taken as i64) < crate::service::webhooks::DISPATCH_BATCH {
                    break;
                }
            }
        }
        if let Some(outlook) = outlook {
            let maybe_queued = queued && outlook.subscribed;
            if !maybe_queued && !outlook.deliveries_due {
                return Ok(0);
            }
        }
        let mut made = 0;
        loop {
            let batch = service.claim_webhook_deliveries(BATCH).await?;
            if batch.is_empty() {
                return Ok(made);
            }
            made += batch.len();
            let allow_private = service.policy().webhooks_allow_private;
            let attempts = batch.iter().map(|outgoing| async move {
                let answer = self.send(outgoing, allow_private).await;
                service.record_webhook_attempt(outgoing, answer).await
            });
            for result in futures_util::future::join_all(attempts).await {
                result?;
            }
        }
    }

    /// The client for `host` at `address`, made on first use.
    fn client(
        &self,
        host: &str,
        address: SocketAddr,
        allow_private: bool,
    ) -> Result<reqwest::Client, String> {
        // A poisoned lock only means another attempt panicked; the map is still usable.
        let mut clients = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let key = (host.to_owned(), address);
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        if clients.len() >= CLIENTS_MAX {
            clients.clear();
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .https_only(!allow_private)
            .resolve(host, address)
            .user_agent(concat!("failforward-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("client: {e}"))?;
        clients.insert(key, client.clone());
        Ok(client)
    }

    /// Makes one attempt; never fails, it answers with what happened.
    async fn send(&self, outgoing: &Outgoing, allow_private: bool) -> Answer {
        let started = Instant::now();
        let result = self.attempt(outgoing, allow_private).await;
        let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        match result {
            Ok((status, text)) => Answer {
                status_code: Some(status),
                latency_ms,
                text,
            },
            Err(why) => Answer {
                status_code: None,
                latency_ms,
                text: why,
            },
        }
    }

    async fn attempt(
        &self,
        outgoing: &Outgoing,
        allow_private: bool,
    ) -> Result<(u16, String), String> {
        let url = reqwest::Url::parse(&outgoing.url).map_err(|e| format!("bad address: {e}"))?;
        let host = url
            .host_str()
            .ok_or_else(|| "the address names no host".to_owned())?
            .trim_matches(['[', ']'])
            .to_owned();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| "the address names no port".to_owned())?;
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| format!("could not resolve {host}: {e}"))?
            .collect();
        let Some(first) = addresses.first().copied() else {
            return Err(format!("{host} resolves to no address"));
        };
        if !allow_private {
            if let Some(refused) = addresses.iter().find(|a| !address_is_public(a.ip())) {
                return Err(format!(
                    "refused: {host} resolves to {}, a loopback, private or link-local address",
                    refused.ip()
                ));
            }
        }
        let client = self.client(&host, first, allow_private)?;
        let response = client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &outgoing.webhook_id)
            .header("webhook-timestamp", outgoing.timestamp.to_string())
            .header("webhook-signature", &outgoing.signature)
            .body(outgoing.body.clone())
            .send()
            .await
            .map_err(|e| format!("no answer: {e}"))?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        Ok((status, text.chars().take(300).collect()))
    }
}
