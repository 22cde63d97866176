//! The one emitting type: every domain event the use cases record is made here.
//!
//! A use case asks [`Service::emitter`] for an [`Emitter`] bound to who acts and when, builds
//! the event of its change with it and hands it to the store method that makes the change; the
//! store writes it into the outbox in that same transaction (ARCHITECTURE.md, "Events"). Nothing
//! else makes events, so the anonymity rules below live in one place:
//!
//! - an event about an anonymous loop names no actor and keeps only the day
//!   ([`Event::unnamed`]), whoever made the change;
//! - an anonymous loop's `loop.logged` travels with the held loop and is written in the day's
//!   release batch, never at capture (`service::held`);
//! - pulse answers and sealed contributions (cards, ballots, reasons) have no events at all; only
//!   a round's close and a session's phases do, which name the person who moved them.
//!
//! Audit entries are made here too ([`Emitter::audit`], through `Service::audit_entry`): the
//! outbox keeps them as events of `audit.*` kinds, and no action of them concerns anything
//! anonymous (`domain::audit`).

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::{Service, TeamAccess};
use crate::domain::audit::{AuditAction, AuditEntry};
use crate::domain::events::{Event, EventKind};
use crate::domain::loops::{Stage, Suggestion};
use crate::domain::{RecordId, TeamId, UserId};
use crate::store::loops::{LoopDraft, NewAction, NewLearning};

/// How many overdue events one statement writes.
const OVERDUE_BATCH: i64 = 500;

/// Makes the events of one use case: who acts (`None` for the system) and when.
#[derive(Debug, Clone, Copy)]
pub struct Emitter {
    actor: Option<UserId>,
    at: OffsetDateTime,
}

fn data(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl Emitter {
    /// An event about a loop: unnamed when the loop is anonymous.
    fn about_loop(
        &self,
        kind: EventKind,
        team: TeamId,
        subject: impl ToString,
        anonymous: bool,
        data: Map<String, Value>,
    ) -> Event {
        if anonymous {
            Event::unnamed(kind, team, subject, self.at, data)
        } else {
            Event::named(kind, team, subject, self.actor, self.at, data)
        }
    }

    fn named(
        &self,
        kind: EventKind,
        team: TeamId,
        subject: impl ToString,
        data: Map<String, Value>,
    ) -> Event {
        Event::named(kind, team, subject, self.actor, self.at, data)
    }

    /// An audit entry of `action` by this emitter's actor, at its time; the store writes it
    /// into the outbox with the change it records.
    pub fn audit(
        &self,
        action: AuditAction,
        target: impl Into<String>,
        detail: impl Into<String>,
    ) -> AuditEntry {
        AuditEntry {
            id: RecordId::random(),
            occurred_at: self.at,
            actor: self.actor,
            action,
            target: target.into(),
            detail: detail.into(),
            address_hash: None,
        }
    }

    /// A loop was logged. An anonymous loop's event carries neither author nor title: the
    /// title is the writer's words, and a subscriber sees it on the loop once published.
    pub fn loop_logged(&self, new: &LoopDraft) -> Event {
        let anonymous = new.author.is_none();
        let mut fields = json!({
            "loop_id": new.id.to_string(),
            "stage": new.stage.as_str(),
            "anonymous": anonymous,
        });
        if !anonymous {
            fields["title"] = Value::String(new.title.clone());
        }
        self.about_loop(
            EventKind::LoopLogged,
            new.team_id,
            new.id,
            anonymous,
            data(fields),
        )
    }

    pub fn stage_changed(
        &self,
        team: TeamId,
        loop_id: impl ToString,
        anonymous: bool,
        from: Stage,
        to: Stage,
    ) -> Event {
        let id = loop_id.to_string();
        self.about_loop(
            EventKind::LoopStageChanged,
            team,
            &id,
            anonymous,
            data(json!({ "loop_id": id, "from": from.as_str(), "to": to.as_str() })),
        )
    }

    pub fn classified(
        &self,
        team: TeamId,
        loop_id: impl ToString,
        anonymous: bool,
        suggestion: &Suggestion,
    ) -> Event {
        let id = loop_id.to_string();
        self.about_loop(
            EventKind::LoopClassified,
            team,
            &id,
            anonymous,
            data(json!({
                "loop_id": id,
                "suggested_type": suggestion.kind.map(|kind| kind.as_str()),
            })),
        )
    }

    pub fn learning_shared(&self, learning: &NewLearning, anonymous_loop: bool) -> Event {
        self.about_loop(
            EventKind::LearningShared,
            learning.team_id,
            learning.id,
            anonymous_loop,
            data(json!({
                "loop_id": learning.loop_id.to_string(),
                "learning_id": learning.id.to_string(),
                "visibility": learning.visibility.as_str(),
            })),
        )
    }

    pub fn action_created(&self, action: &NewAction, anonymous_loop: bool) -> Event {
        self.about_loop(
            EventKind::ActionCreated,
            action.team_id,
            action.id,
            anonymous_loop,
            data(json!({
                "loop_id": action.loop_id.to_string(),
                "action_id": action.id.to_string(),
                "owner_id": action.owner.map(|owner| owner.to_string()),
                "due_on": action.due_on.map(|due| due.date().to_string()),
            })),
        )
    }

    pub fn action_done(&self, team: TeamId, action: impl ToString, anonymous_loop: bool) -> Event {
        let id = action.to_string();
        self.about_loop(
            EventKind::ActionDone,
            team,
            &id,
            anonymous_loop,
            data(json!({ "action_id": id })),
        )
    }

    /// Raised by the daily sweep, not by a person: once per action and due day.
    pub fn action_overdue(
        &self,
        team: TeamId,
        action: impl ToString,
        due_on: OffsetDateTime,
    ) -> Event {
        let id = action.to_string();
        let mut event = Event::unnamed(
            EventKind::ActionOverdue,
            team,
            &id,
            self.at,
            data(json!({ "action_id": id, "due_on": due_on.date().to_string() })),
        );
        // The store looks events up by this key (`EventStore::actions_newly_overdue`).
        event.once_key = Some(format!("action.overdue:{id}:{}", due_on.unix_timestamp()));
        event
    }

    /// A review session's phase change: started (first phase), revealed, closed.
    pub fn review(&self, kind: EventKind, team: TeamId, session: impl ToString) -> Event {
        let id = session.to_string();
        self.named(kind, team, &id, data(json!({ "session_id": id })))
    }

    pub fn experiment(
        &self,
        kind: EventKind,
        team: TeamId,
        experiment: impl ToString,
        outcome: Option<&str>,
    ) -> Event {
        let id = experiment.to_string();
        let mut fields = json!({ "experiment_id": id });
        if let Some(outcome) = outcome {
            fields["outcome"] = Value::String(outcome.to_owned());
        }
        self.named(kind, team, &id, data(fields))
    }

    /// A pulse round closed: the round only, never an answer or who answered.
    pub fn round_closed(&self, team: TeamId, round: impl ToString) -> Event {
        let id = round.to_string();
        self.named(
            EventKind::PulseRoundClosed,
            team,
            &id,
            data(json!({ "round_id": id })),
        )
    }
}

impl Service {
    /// The emitter of a use case acting for `access`'s person, now.
    pub(crate) fn emitter(&self, access: &TeamAccess) -> Emitter {
        Emitter {
            actor: Some(access.actor()),
            at: self.now(),
        }
    }

    /// Records `action.overdue` for every open action whose due day has passed, once per action
    /// and due day (however many sweeps or instances run it). The server calls it periodically.
    pub async fn raise_overdue_actions(&self) -> super::ServiceResult<usize> {
        let emitter = self.system_emitter();
        let mut raised = 0;
        // Bounded, so that a key the store could not match would cost a few batches per sweep
        // rather than a loop without end.
        for _ in 0..20 {
            let due = self
                .store
                .actions_newly_overdue(self.today(), OVERDUE_BATCH)
                .await?;
            let events: Vec<Event> = due
                .iter()
                .map(|(team, action, due_on)| emitter.action_overdue(*team, action, *due_on))
                .collect();
            self.store.record_events(&events).await?;
            raised += events.len();
            if (events.len() as i64) < OVERDUE_BATCH {
                break;
            }
        }
        Ok(raised)
    }

    /// The emitter of a change the system makes (sweeps).
    pub(crate) fn system_emitter(&self) -> Emitter {
        self.system_emitter_at(self.now())
    }

    /// The emitter of a change the system makes as of `at` (the end of a round's last day).
    pub(crate) fn system_emitter_at(&self, at: OffsetDateTime) -> Emitter {
        Emitter { actor: None, at }
    }

    /// The emitter of an audited change by `actor` (`None`: the server or the operator) now,
    /// outside any team.
    pub(crate) fn audit_emitter(&self, actor: Option<UserId>) -> Emitter {
        Emitter {
            actor,
            at: self.now(),
        }
    }
}
