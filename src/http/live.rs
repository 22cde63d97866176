//! Live updates for review sessions, as server-sent events.
//!
//! The stream carries only "the session is now at version N" — never content — so that what a
//! client may read is always decided by the ordinary page or API request it makes next. The
//! current version is sent on connect, so reconnecting and late clients catch up at once; the
//! notices come from every instance (PostgreSQL `LISTEN/NOTIFY`, or in-process on SQLite).

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast::error::RecvError;

use super::AppState;
use crate::domain::review::ANY_SESSION;
use crate::service::{ServiceResult, TeamAccess};

/// What the stream waits on between events.
struct Listening {
    state: AppState,
    access: TeamAccess,
    id: String,
    changes: tokio::sync::broadcast::Receiver<(String, i64)>,
    last_sent: Option<i64>,
}

fn version_event(version: i64) -> Event {
    Event::default()
        .event("review")
        .id(version.to_string())
        .data(format!("{{\"version\":{version}}}"))
}

/// The live stream of one review session (checked for access before it starts).
pub async fn review_events(
    state: AppState,
    access: TeamAccess,
    id: &str,
) -> ServiceResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    // Subscribe before reading the version, so that no change falls between the two.
    let changes = state.service.review_changes();
    let (session, version) = state.service.review_version(&access, id).await?;
    let listening = Listening {
        state,
        access,
        id: session.to_string(),
        changes,
        last_sent: None,
    };
    let events = stream::unfold((listening, Some(version)), |(mut l, pending)| async move {
        if let Some(version) = pending {
            l.last_sent = Some(version);
            return Some((Ok(version_event(version)), (l, None)));
        }
        let mut stopping = l.state.stopping.clone();
        loop {
            if *stopping.borrow() {
                return None;
            }
            let next = tokio::select! {
                next = l.changes.recv() => next,
                _ = stopping.changed() => return None,
            };
            let version = match next {
                Ok((session, version)) if session == l.id => version,
                // Too far behind, or notices may have been missed (the instance's `LISTEN`
                // connection was rebuilt): read the version afresh instead of replaying.
                Ok((session, _)) if session == ANY_SESSION => {
                    match l.state.service.review_version(&l.access, &l.id).await {
                        Ok((_, version)) => version,
                        Err(_) => return None,
                    }
                }
                Ok(_) => continue,
                Err(RecvError::Lagged(_)) => {
                    match l.state.service.review_version(&l.access, &l.id).await {
                        Ok((_, version)) => version,
                        Err(_) => return None,
                    }
                }
                Err(RecvError::Closed) => return None,
            };
            if l.last_sent.is_some_and(|sent| sent >= version) {
                continue;
            }
            l.last_sent = Some(version);
            return Some((Ok(version_event(version)), (l, None)));
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
