//! Domain events: what changed, as other systems are told it (webhooks, and later the audit log).
//!
//! An [`Event`] is made by the use cases (`service::events::Emitter`, the one emitting type) and
//! written by the store into the outbox in the same transaction as the change it reports, so an
//! event exists exactly when its change does. This module only says what an event holds and how
//! its payload reads; it does no IO and draws no randomness but the event's id.
//!
//! Anonymity (ARCHITECTURE.md, "Events"): an event about an anonymous loop or an unnamed
//! contribution is built with [`Event::unnamed`], which keeps no actor and only the day.

use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::ids::{EventId, TeamId, UserId};
use super::when::day_of;

/// The version of the payload schema; a webhook consumer reads it from `version`. Raised only
/// when a field changes meaning or goes away (new fields do not raise it).
pub const PAYLOAD_VERSION: u32 = 1;

/// The kinds of event, named as the payload's `type` (`<subject>.<change>`, Standard Webhooks'
/// suggested form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum EventKind {
    LoopLogged,
    LoopStageChanged,
    LoopClassified,
    LearningShared,
    ActionCreated,
    ActionDone,
    ActionOverdue,
    ReviewStarted,
    ReviewRevealed,
    ReviewClosed,
    ExperimentStarted,
    ExperimentConcluded,
    PulseRoundClosed,
}

impl EventKind {
    pub const ALL: [EventKind; 13] = [
        Self::LoopLogged,
        Self::LoopStageChanged,
        Self::LoopClassified,
        Self::LearningShared,
        Self::ActionCreated,
        Self::ActionDone,
        Self::ActionOverdue,
        Self::ReviewStarted,
        Self::ReviewRevealed,
        Self::ReviewClosed,
        Self::ExperimentStarted,
        Self::ExperimentConcluded,
        Self::PulseRoundClosed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoopLogged => "loop.logged",
            Self::LoopStageChanged => "loop.stage_changed",
            Self::LoopClassified => "loop.classified",
            Self::LearningShared => "learning.shared",
            Self::ActionCreated => "action.created",
            Self::ActionDone => "action.done",
            Self::ActionOverdue => "action.overdue",
            Self::ReviewStarted => "review.started",
            Self::ReviewRevealed => "review.revealed",
            Self::ReviewClosed => "review.closed",
            Self::ExperimentStarted => "experiment.started",
            Self::ExperimentConcluded => "experiment.concluded",
            Self::PulseRoundClosed => "pulse.round_closed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// One change, as it is stored in the outbox and sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: EventId,
    pub kind: EventKind,
    pub team: TeamId,
    /// The id of the record the event is about (loop, action, session, experiment, round).
    pub subject: String,
    /// Who made the change; `None` for an anonymous or unnamed change.
    pub actor: Option<UserId>,
    /// When it happened: to the second when named, midnight UTC of the day when not.
    pub occurred_at: OffsetDateTime,
    /// What the subscriber needs beyond the above (stage names, titles of named records).
    pub data: Map<String, Value>,
    /// For events the system raises by sweeping (an action overdue): the store writes an event
    /// with a given key once, however many sweeps or instances raise it.
    pub once_key: Option<String>,
}

impl Event {
    /// An event made by a named person (or by the system, with `actor` `None`) at `at`.
    pub fn named(
        kind: EventKind,
        team: TeamId,
        subject: impl ToString,
        actor: Option<UserId>,
        at: OffsetDateTime,
        data: Map<String, Value>,
    ) -> Self {
        Self {
            id: EventId::random(),
            kind,
            team,
            subject: subject.to_string(),
            actor,
            occurred_at: at,
            data,
            once_key: None,
        }
    }

    /// An event about an anonymous loop or an unnamed contribution: no actor, and only the day
    /// of `at`, so that neither the payload nor the stored row says who or when to the minute.
    pub fn unnamed(
        kind: EventKind,
        team: TeamId,
        subject: impl ToString,
        at: OffsetDateTime,
        data: Map<String, Value>,
    ) -> Self {
        Self {
            id: EventId::random(),
            kind,
            team,
            subject: subject.to_string(),
            actor: None,
            occurred_at: day_of(at),
            data,
            once_key: None,
        }
    }

    /// The versioned JSON a subscriber receives (`docs`: the OpenAPI document's `EventPayload`).
    pub fn payload(&self) -> Value {
        let mut data = self.data.clone();
        data.insert("team_id".to_owned(), Value::String(self.team.to_string()));
        data.insert("subject_id".to_owned(), Value::String(self.subject.clone()));
        data.insert(
            "actor_id".to_owned(),
            self.actor
                .map(|actor| Value::String(actor.to_string()))
                .unwrap_or(Value::Null),
        );
        let timestamp = self
            .occurred_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        serde_json::json!({
            "type": self.kind.as_str(),
            "version": PAYLOAD_VERSION,
            "timestamp": timestamp,
            "data": data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unnamed_event_keeps_no_actor_and_only_the_day() {
        let at = OffsetDateTime::from_unix_timestamp(1_764_765_432).expect("a valid instant");
        let event = Event::unnamed(EventKind::LoopLogged, TeamId::random(), "x", at, Map::new());
        assert_eq!(event.actor, None);
        assert_eq!(event.occurred_at.unix_timestamp() % 86_400, 0);
        let payload = event.payload();
        assert_eq!(payload["data"]["actor_id"], Value::Null);
        assert_eq!(payload["timestamp"], "2025-12-03T00:00:00Z");
    }

    #[test]
    fn every_kind_reads_back_from_its_name() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EventKind::parse("loop.deleted"), None);
    }
}
