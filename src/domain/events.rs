//! Domain events: what changed, as other systems are told it (webhooks). The audit log's entries
//! share their outbox as events of `audit.*` kinds (`domain::audit`), which no webhook is offered.
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

/// What one field of an event's `data` holds: the per-type schemas of the OpenAPI document are
/// written from these, and a test checks real payloads against them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldShape {
    /// A record's id (UUID text).
    Id,
    /// Free text (a named loop's title).
    Text,
    /// `true` or `false`.
    Flag,
    /// A calendar day, `YYYY-MM-DD`.
    Day,
    /// One of a fixed list of words.
    Word(&'static [&'static str]),
}

/// One field of an event's `data`, beyond `team_id`, `subject_id` and `actor_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataField {
    pub name: &'static str,
    pub shape: FieldShape,
    /// Present in every event of the kind (otherwise only in some: a named loop's title).
    pub always: bool,
    /// May be `null` (no owner, no due day, no suggestion).
    pub nullable: bool,
    pub about: &'static str,
}

const fn field(name: &'static str, shape: FieldShape, about: &'static str) -> DataField {
    DataField {
        name,
        shape,
        always: true,
        nullable: false,
        about,
    }
}

const fn nullable(name: &'static str, shape: FieldShape, about: &'static str) -> DataField {
    DataField {
        name,
        shape,
        always: true,
        nullable: true,
        about,
    }
}

const STAGES: &[&str] = &["detect", "analyse", "apply", "continue"];
const FAILURE_TYPES: &[&str] = &[
    "basic",
    "complex",
    "intelligent",
    "experiment_not_yet_intelligent",
];
const VISIBILITIES: &[&str] = &["team", "organisation"];
const OUTCOMES: &[&str] = &["validated", "refuted", "inconclusive"];

impl EventKind {
    /// The fields this kind's `data` carries beyond the three every event has. Adding one does
    /// not raise [`PAYLOAD_VERSION`]; changing one's meaning or removing it does.
    pub fn data_fields(self) -> &'static [DataField] {
        use FieldShape::*;
        const LOOP: DataField = field("loop_id", Id, "The loop.");
        const ACTION: DataField = field("action_id", Id, "The action item.");
        const SESSION: DataField = field("session_id", Id, "The review session.");
        const EXPERIMENT: DataField = field("experiment_id", Id, "The experiment.");
        match self {
            Self::LoopLogged => {
                const FIELDS: &[DataField] = &[
                LOOP,
                field("stage", Word(STAGES), "The stage it was logged at."),
                field("anonymous", Flag, "Logged without a name: then there is no title and no actor, and the timestamp is the day."),
                DataField {
                    name: "title",
                    shape: Text,
                    always: false,
                    nullable: false,
                    about: "The loop's title; only for a named loop.",
                },
            ];
                FIELDS
            }
            Self::LoopStageChanged => {
                const FIELDS: &[DataField] = &[
                    LOOP,
                    field("from", Word(STAGES), "The stage it left."),
                    field("to", Word(STAGES), "The stage it reached."),
                ];
                FIELDS
            }
            Self::LoopClassified => {
                const FIELDS: &[DataField] = &[
                    LOOP,
                    nullable(
                        "suggested_type",
                        Word(FAILURE_TYPES),
                        "The kind of failure the answers suggest; null when they suggest none.",
                    ),
                ];
                FIELDS
            }
            Self::LearningShared => {
                const FIELDS: &[DataField] = &[
                    LOOP,
                    field("learning_id", Id, "The learning."),
                    field("visibility", Word(VISIBILITIES), "Who may read it."),
                ];
                FIELDS
            }
            Self::ActionCreated => {
                const FIELDS: &[DataField] = &[
                    LOOP,
                    ACTION,
                    nullable("owner_id", Id, "Who owns it; null when no one does yet."),
                    nullable(
                        "due_on",
                        Day,
                        "When it is due; null when it has no due day.",
                    ),
                ];
                FIELDS
            }
            Self::ActionDone => {
                const FIELDS: &[DataField] = &[ACTION];
                FIELDS
            }
            Self::ActionOverdue => {
                const FIELDS: &[DataField] = &[ACTION, field("due_on", Day, "The day it was due.")];
                FIELDS
            }
            Self::ReviewStarted | Self::ReviewRevealed | Self::ReviewClosed => {
                const FIELDS: &[DataField] = &[SESSION];
                FIELDS
            }
            Self::ExperimentStarted => {
                const FIELDS: &[DataField] = &[EXPERIMENT];
                FIELDS
            }
            Self::ExperimentConcluded => {
                const FIELDS: &[DataField] = &[
                    EXPERIMENT,
                    field("outcome", Word(OUTCOMES), "What the evidence said."),
                ];
                FIELDS
            }
            Self::PulseRoundClosed => {
                const FIELDS: &[DataField] = &[field("round_id", Id, "The pulse round.")];
                FIELDS
            }
        }
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
            id: EventId::at(at),
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
            id: EventId::at(day_of(at)),
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
        let actor = self.actor.map(|actor| actor.to_string());
        sent_payload(
            self.stored_payload(),
            self.kind.as_str(),
            &self.team.to_string(),
            &self.subject,
            actor.as_deref(),
        )
    }

    /// The payload as the outbox stores it: the envelope without `type`, and `data` without the
    /// team, subject and actor, which the row's own columns hold. Every capture writes one, and
    /// those repeated values were half its bytes (BENCHMARKS.md, run 15); [`sent_payload`] puts
    /// them back.
    pub fn stored_payload(&self) -> Value {
        let timestamp = self
            .occurred_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        serde_json::json!({
            "version": PAYLOAD_VERSION,
            "timestamp": timestamp,
            "data": self.data,
        })
    }
}

/// The payload a subscriber receives, from the outbox row that stored it: its `kind`, `team`,
/// `subject` and `actor` columns and its stored payload ([`Event::stored_payload`]). A payload
/// stored whole (with its `type`: rows written before the short form, and audit entries) is
/// given as it is, so the same row always reads the same bytes.
pub fn sent_payload(
    mut stored: Value,
    kind: &str,
    team: &str,
    subject: &str,
    actor: Option<&str>,
) -> Value {
    let Some(envelope) = stored.as_object_mut() else {
        return stored;
    };
    if envelope.contains_key("type") {
        return stored;
    }
    envelope.insert("type".to_owned(), Value::String(kind.to_owned()));
    if let Some(data) = envelope
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
    {
        data.insert("team_id".to_owned(), Value::String(team.to_owned()));
        data.insert("subject_id".to_owned(), Value::String(subject.to_owned()));
        data.insert(
            "actor_id".to_owned(),
            actor.map_or(Value::Null, |actor| Value::String(actor.to_owned())),
        );
    }
    stored
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

    /// Stored short, an event is sent as the whole envelope with the row's columns put back,
    /// in the same bytes as always (signatures and retries depend on them); a payload stored
    /// whole is sent as it is.
    #[test]
    fn the_stored_payload_is_sent_whole() {
        let at = OffsetDateTime::from_unix_timestamp(1_764_765_432).expect("a valid instant");
        let (team, actor) = (TeamId::random(), UserId::random());
        let mut data = Map::new();
        data.insert("title".to_owned(), Value::String("Slow search".to_owned()));
        let event = Event::named(EventKind::LoopLogged, team, "s-1", Some(actor), at, data);
        let stored = event.stored_payload();
        assert_eq!(
            stored.to_string(),
            r#"{"data":{"title":"Slow search"},"timestamp":"2025-12-03T12:37:12Z","version":1}"#
        );
        let sent = sent_payload(
            stored,
            "loop.logged",
            &team.to_string(),
            "s-1",
            Some(&actor.to_string()),
        );
        assert_eq!(
            sent.to_string(),
            format!(
                r#"{{"data":{{"actor_id":"{actor}","subject_id":"s-1","team_id":"{team}","title":"Slow search"}},"timestamp":"2025-12-03T12:37:12Z","type":"loop.logged","version":1}}"#
            )
        );
        assert_eq!(sent, event.payload());
        let whole = serde_json::json!({"type": "audit.member.added", "version": 1, "data": {}});
        assert_eq!(
            sent_payload(whole.clone(), "audit.member.added", "", "s-2", None),
            whole
        );
    }

    /// An event's id begins with its own time, never a finer one: midnight for an unnamed event,
    /// the whole second for a named one; the rest is random.
    #[test]
    fn an_event_id_tells_no_more_time_than_the_event() {
        let at = OffsetDateTime::from_unix_timestamp(1_764_765_432).expect("a valid instant")
            + time::Duration::milliseconds(789);
        let time_of = |event: &Event| {
            event
                .id
                .as_uuid()
                .get_timestamp()
                .expect("a version 7 id")
                .to_unix()
        };
        let unnamed =
            |at| Event::unnamed(EventKind::LoopLogged, TeamId::random(), "x", at, Map::new());
        let first = unnamed(at);
        assert_eq!(time_of(&first), (1_764_720_000, 0));
        assert_eq!(
            time_of(&unnamed(at + time::Duration::hours(5))),
            (1_764_720_000, 0),
            "a later hour of the same day gives the same time"
        );
        assert_ne!(first.id, unnamed(at).id);
        let named = Event::named(
            EventKind::LoopLogged,
            TeamId::random(),
            "x",
            None,
            at,
            Map::new(),
        );
        assert_eq!(time_of(&named), (1_764_765_432, 0));
    }

    #[test]
    fn the_documented_words_are_the_domain_words() {
        use crate::domain::experiments::Outcome;
        use crate::domain::loops::{FailureType, Stage, Visibility};
        let words = |all: Vec<&'static str>| all;
        assert_eq!(
            STAGES,
            words(Stage::ALL.iter().map(|s| s.as_str()).collect())
        );
        assert_eq!(
            FAILURE_TYPES,
            words(FailureType::ALL.iter().map(|s| s.as_str()).collect())
        );
        assert_eq!(
            VISIBILITIES,
            words(Visibility::ALL.iter().map(|s| s.as_str()).collect())
        );
        assert_eq!(
            OUTCOMES,
            words(Outcome::ALL.iter().map(|s| s.as_str()).collect())
        );
    }

    #[test]
    fn every_kind_reads_back_from_its_name() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EventKind::parse("loop.deleted"), None);
    }
}
