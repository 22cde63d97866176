//! The learning loop's use cases: capture (named or anonymous), the Analyse, Apply and Continue
//! records, and moving between stages.

use time::{Duration, OffsetDateTime};

use crate::domain::loops::{
    self, ActionStatus, FactorReason, FailureType, ImpactScale, LoopKind, LoopSort, Questionnaire,
    Stage, StageFacts, Visibility,
};
use crate::domain::records::PersonRef;
use crate::domain::text::single_line;
use crate::domain::when::{day_of, parse_date, parse_instant};
use crate::domain::{ActionId, FactorId, LearningId, LoopId, RecordId, UserId};
use crate::store::loops::{
    AccountRecord, ActionRecord, AdditionRecord, FactorRecord, LearningRecord, LoopDraft,
    LoopFilter, LoopRecord, LoopSummary, NewAccount, NewAction, NewAddition, NewFactor,
    NewLearning, NewTimelineEvent, Review, StageChange, StageChangeRecord, TimelineEventRecord,
};
use crate::store::StoreError;

use super::error::{FieldErrors, ServiceError, ServiceResult};
use super::{secrets, Service, TeamAccess};

/// What someone types to log a failure (the Detect record).
#[derive(Debug, Clone, Default)]
pub struct LoopInput {
    pub title: String,
    pub what_happened: String,
    pub what_was_expected: String,
    pub happened_at: Option<String>,
    /// Defaults to now.
    pub noticed_at: Option<String>,
    /// Defaults to minor.
    pub impact_scale: Option<ImpactScale>,
    pub impact_affected: String,
    /// One tag an item ([`loops::tag_items`]); a form's comma-separated field is split first.
    pub tags: Vec<String>,
    pub anonymous: bool,
}

/// A logged loop, with the reporter's one-time link when it was logged anonymously.
#[derive(Debug, Clone)]
pub struct LoggedLoop {
    /// The new loop as stored, built from what was written (nothing else is attached yet).
    pub detail: LoopDetail,
    /// Shown once; only its hash is stored.
    pub reporter_link: Option<String>,
}

/// Everything about one loop, for its page and the API.
#[derive(Debug, Clone)]
pub struct LoopDetail {
    pub record: LoopRecord,
    pub additions: Vec<AdditionRecord>,
    pub history: Vec<StageChangeRecord>,
    pub timeline: Vec<TimelineEventRecord>,
    pub factors: Vec<FactorRecord>,
    pub accounts: Vec<AccountRecord>,
    pub learnings: Vec<LearningRecord>,
    pub actions: Vec<ActionRecord>,
    /// The next stage, or what is missing before the loop can move on.
    pub next: Result<Stage, String>,
    pub attention: Option<Attention>,
    pub today: OffsetDateTime,
    /// A possible recurrence of an earlier loop, flagged when this one was captured.
    pub recurrence: Option<super::RecurrenceLink>,
    /// An anonymous loop this server holds until the day's release (see `service::held`): only
    /// its reporter sees it, and the team from the first minutes after midnight UTC.
    pub unpublished: bool,
}

impl LoopDetail {
    /// Whether one of the loop's action items is overdue by the service's clock, so that no
    /// page or answer applies the rule or reads a clock of its own.
    pub fn is_overdue(&self, action: &ActionRecord) -> bool {
        action.overdue_on(self.today)
    }
}

/// An action item as the use cases hand it out: the record and whether it is overdue by the
/// service's clock (`ActionRecord::overdue_on`).
#[derive(Debug, Clone)]
pub struct ActionItem {
    pub record: ActionRecord,
    pub overdue: bool,
}

/// Why a loop needs someone's attention: the product makes an abandoned loop visible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attention {
    /// In one stage longer than the team's setting.
    Stuck { days: i64 },
    /// In Continue with a follow-up check that is due and unanswered.
    FollowUpDue,
}

impl Attention {
    pub fn describe(&self) -> String {
        match self {
            Attention::Stuck { days } => format!(
                "Stuck: {} in this stage",
                crate::domain::text::count(days, "day", "days")
            ),
            Attention::FollowUpDue => "Follow-up check due".to_owned(),
        }
    }
}

/// The list filter: the closed sets already read as their enums by the front door; the tag and
/// the dates as typed, checked by [`Service::loops`] (their rules are the product's).
#[derive(Debug, Clone, Default)]
pub struct LoopQuery {
    pub stage: Option<Stage>,
    pub kind: Option<LoopKind>,
    pub failure_type: Option<FailureType>,
    pub tag: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub sort: LoopSort,
    pub stuck: bool,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// One page of loops.
#[derive(Debug, Clone)]
pub struct LoopPage {
    pub loops: Vec<(LoopSummary, Option<Attention>)>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// The analysis texts (after-action review and lessons).
#[derive(Debug, Clone, Default)]
pub struct ReviewInput {
    pub aar_intended: String,
    pub aar_actual: String,
    pub aar_difference: String,
    pub aar_lessons: String,
    pub went_well: String,
    pub went_wrong: String,
    pub got_lucky: String,
}

/// A participant's account (Allspaw 2012).
#[derive(Debug, Clone, Default)]
pub struct AccountInput {
    pub actions: String,
    pub observations: String,
    pub expectations: String,
    pub assumptions: String,
    pub timeline_understanding: String,
    pub anonymous: bool,
}

/// Short single-line fields: who was affected, action titles, notes.
pub const SHORT_MAX: usize = 500;
/// A timeline entry's description and a type override's reason.
pub const STATEMENT_MAX: usize = 2000;
/// A learning's statement.
pub const LEARNING_MAX: usize = 1000;

pub(super) fn attention(
    stage: Stage,
    entered: OffsetDateTime,
    follow_up: Option<(Option<OffsetDateTime>, bool)>,
    stuck_after_days: u32,
    now: OffsetDateTime,
) -> Option<Attention> {
    let days = (now - entered).whole_days();
    if stage == Stage::Continue {
        let (on, answered) = follow_up.unwrap_or((None, false));
        return match (answered, on) {
            (true, _) => None,
            (false, Some(on)) if on <= now => Some(Attention::FollowUpDue),
            (false, Some(_)) => None,
            (false, None) if days > i64::from(stuck_after_days) => Some(Attention::Stuck { days }),
            (false, None) => None,
        };
    }
    (days > i64::from(stuck_after_days)).then_some(Attention::Stuck { days })
}

fn not_in_future(at: OffsetDateTime, now: OffsetDateTime) -> bool {
    at <= now + Duration::minutes(5)
}

impl Service {
    /// Logs a failure at Detect. Anonymously, nothing stored links it to the person: no author,
    /// the day instead of the time, a random id, and a one-time reporter link instead of
    /// authorship (see ARCHITECTURE.md, "Anonymous loops").
    pub async fn log_failure(
        &self,
        access: &TeamAccess,
        input: LoopInput,
    ) -> ServiceResult<LoggedLoop> {
        let now = self.now();
        let mut errors = FieldErrors::default();
        let title = errors.take("title", loops::title(&input.title));
        let what_happened = errors.take(
            "what_happened",
            loops::long_text(&input.what_happened, true),
        );
        let what_was_expected = errors.take(
            "what_was_expected",
            loops::long_text(&input.what_was_expected, false),
        );
        let happened_at = match input
            .happened_at
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => Some(None),
            Some(raw) => errors.take("happened_at", parse_instant(raw)).map(Some),
        };
        let noticed_at = match input
            .noticed_at
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            // An anonymous loop keeps nothing finer than the day: not even this default (the
            // moment it was typed in, when the author gives none).
            None if input.anonymous => Some(match happened_at {
                Some(Some(happened)) if happened > day_of(now) => happened,
                _ => day_of(now),
            }),
            None => Some(now),
            Some(raw) => errors.take("noticed_at", parse_instant(raw)),
        };
        let impact_scale = Some(input.impact_scale.unwrap_or(ImpactScale::Minor));
        let impact_affected = errors.take(
            "impact_affected",
            single_line_or_empty(&input.impact_affected, SHORT_MAX),
        );
        let tags = errors.take(
            "tags",
            loops::tag_items(input.tags.iter().map(String::as_str)),
        );
        if let Some(noticed) = noticed_at {
            if !not_in_future(noticed, now) {
                errors.push("noticed_at", "must not be in the future");
            }
            if let Some(Some(happened)) = happened_at {
                if happened > noticed {
                    errors.push("happened_at", "must not be after the time it was noticed");
                }
            }
        }
        let (
            Some(title),
            Some(what_happened),
            Some(what_was_expected),
            Some(happened_at),
            Some(noticed_at),
            Some(impact_scale),
            Some(impact_affected),
            Some(tags),
        ) = (
            title,
            what_happened,
            what_was_expected,
            happened_at,
            noticed_at,
            impact_scale,
            impact_affected,
            tags,
        )
        else {
            return Err(errors.into());
        };
        errors.check()?;
        let secret = input.anonymous.then(|| secrets::generate(""));
        let mut new = LoopDraft {
            id: LoopId::random(),
            team_id: access.team().id,
            kind: LoopKind::Failure,
            title,
            what_happened,
            what_was_expected,
            happened_at,
            noticed_at,
            impact_scale,
            impact_affected,
            author: (!input.anonymous).then(|| access.actor()),
            reporter_secret_hash: secret.as_ref().map(|s| s.hash.clone()),
            created_at: if input.anonymous { day_of(now) } else { now },
            stage: Stage::Detect,
            tags,
            source_experiment_id: None,
            classification: None,
            recurrence_of: None,
            events: Vec::new(),
        };
        // An anonymous loop's event is unnamed and to the day, and is held with the loop: it is
        // written in the day's release, never now (see `service::events`).
        new.events.push(self.emitter(access).loop_logged(&new));
        if let Some(secret) = secret {
            // Written at the end of the day with every other anonymous loop this server holds
            // (see `service::held`): nothing written now, so nothing to place among the author's
            // named writes. The recurrence check runs then, against the team's loops only.
            let detail = self.unwritten_detail(new.clone(), Vec::new(), now);
            self.admit_held(Some(access.actor()), super::held::size_of_loop(&new), true)?;
            self.held.hold_loop(
                secret.hash.clone(),
                super::held::HeldLoop {
                    new,
                    additions: Vec::new(),
                },
            );
            return Ok(LoggedLoop {
                detail,
                reporter_link: Some(self.link(&format!("/reporter/{}", secret.plaintext))),
            });
        }
        // The possible-recurrence check runs after the loop is written: off the request in the
        // server (see `memory::RecurrenceChecks`), inline otherwise.
        let recurrence_scope = self.recurrence_scope(access).await?;
        let recurrence_check = (new.title.clone(), new.what_happened.clone());
        self.store.create_loop(&new).await?;
        let deferred = self.checks_after_capture();
        self.after_capture(super::memory::RecurrenceCheck::new(
            new.id,
            recurrence_scope,
            recurrence_check.0,
            recurrence_check.1,
        ))
        .await?;
        // Checked inline: read the flag back.
        let recurrence_of = if deferred {
            None
        } else {
            self.store
                .loop_by_id(new.team_id, new.id)
                .await?
                .and_then(|record| record.recurrence_of)
        };
        let mut detail = self.unwritten_detail(
            LoopDraft {
                recurrence_of,
                ..new
            },
            Vec::new(),
            now,
        );
        if let Some(author) = detail.record.author.as_mut() {
            author.name = access.actor_name().to_owned();
        }
        if let Some(entry) = detail.history.first_mut() {
            entry.by_name = Some(access.actor_name().to_owned());
        }
        detail.unpublished = false;
        if let Some(earlier) = recurrence_of {
            detail.recurrence = self
                .recurrence_link(access, detail.record.id, earlier)
                .await?;
        }
        Ok(LoggedLoop {
            detail,
            reporter_link: None,
        })
    }

    /// A new loop's story as it will be written, before anything else is attached; `additions`
    /// are its reporter's, held with it.
    fn unwritten_detail(
        &self,
        new: LoopDraft,
        additions: Vec<AdditionRecord>,
        now: OffsetDateTime,
    ) -> LoopDetail {
        let record = LoopRecord {
            id: new.id,
            team_id: new.team_id,
            kind: new.kind,
            title: new.title,
            what_happened: new.what_happened,
            what_was_expected: new.what_was_expected,
            happened_at: new.happened_at,
            noticed_at: new.noticed_at,
            impact_scale: new.impact_scale,
            impact_affected: new.impact_affected,
            // The name is filled in by the caller, who knows it.
            author: new.author.map(|id| PersonRef::new(id, String::new())),
            anonymous: new.author.is_none(),
            created_at: new.created_at,
            stage: new.stage,
            stage_entered_at: new.created_at,
            review: Review::default(),
            classification: None,
            type_override: None,
            follow_up: crate::store::loops::FollowUp::default(),
            source_experiment_id: new.source_experiment_id,
            next_experiment_id: None,
            tags: {
                let mut tags = new.tags;
                tags.sort();
                tags
            },
            recurrence_of: new.recurrence_of,
        };
        let facts = StageFacts {
            has_expectation: !record.what_was_expected.trim().is_empty(),
            ..StageFacts::default()
        };
        LoopDetail {
            next: loops::advance(record.stage, &facts),
            attention: None,
            additions,
            history: vec![StageChangeRecord {
                from: None,
                to: record.stage,
                at: record.created_at,
                by_name: record.author.as_ref().map(|p| p.name.clone()),
                note: String::new(),
            }],
            timeline: Vec::new(),
            factors: Vec::new(),
            accounts: Vec::new(),
            learnings: Vec::new(),
            actions: Vec::new(),
            today: day_of(now),
            recurrence: None,
            unpublished: record.anonymous,
            record,
        }
    }

    /// One page of the team's loops, filtered and sorted.
    pub async fn loops(&self, access: &TeamAccess, query: &LoopQuery) -> ServiceResult<LoopPage> {
        let now = self.now();
        let mut errors = FieldErrors::default();
        let optional = |raw: &Option<String>| {
            raw.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let tag = optional(&query.tag).and_then(|s| errors.take("tag", loops::tag(&s)));
        let from = optional(&query.from).and_then(|s| errors.take("from", parse_date(&s)));
        let to = optional(&query.to).and_then(|s| errors.take("to", parse_date(&s)));
        let per_page = query.per_page.unwrap_or(50);
        if !(1..=200).contains(&per_page) {
            errors.push("per_page", "must be from 1 to 200");
        }
        let page = query.page.unwrap_or(1);
        if page < 1 {
            errors.push("page", "must be 1 or more");
        }
        errors.check()?;
        let team = access.team();
        let filter = LoopFilter {
            stage: query.stage,
            kind: query.kind,
            failure_type: query.failure_type,
            tag,
            created_from: from,
            // "to" is inclusive of the whole day.
            created_until: to.map(|d| d + Duration::days(1)),
            in_stage_before: query
                .stuck
                .then(|| now - Duration::days(i64::from(team.stuck_after_days))),
            author: None,
            sort: query.sort,
            limit: per_page,
            // A page past the end is empty, however far: the product must not overflow.
            offset: (page - 1).saturating_mul(per_page),
        };
        let (rows, total) = self.store.list_loops(team.id, &filter, day_of(now)).await?;
        let loops = rows
            .into_iter()
            .map(|summary| {
                let flag = attention(
                    summary.stage,
                    summary.stage_entered_at,
                    None,
                    team.stuck_after_days,
                    now,
                )
                .filter(|_| summary.stage != Stage::Continue);
                (summary, flag)
            })
            .collect();
        Ok(LoopPage {
            loops,
            total,
            page,
            per_page,
        })
    }

    async fn loop_record(&self, access: &TeamAccess, id: &str) -> ServiceResult<LoopRecord> {
        let id: LoopId = id.parse().map_err(|_| ServiceError::NotFound)?;
        self.store
            .loop_by_id(access.team().id, id)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// The whole story of one loop.
    pub async fn loop_detail(&self, access: &TeamAccess, id: &str) -> ServiceResult<LoopDetail> {
        let record = self.loop_record(access, id).await?;
        let earlier = record.recurrence_of;
        let mut detail = self
            .detail_of(record, access.team().stuck_after_days)
            .await?;
        if let Some(earlier) = earlier {
            detail.recurrence = self
                .recurrence_link(access, detail.record.id, earlier)
                .await?;
        }
        Ok(detail)
    }

    async fn detail_of(
        &self,
        record: LoopRecord,
        stuck_after_days: u32,
    ) -> ServiceResult<LoopDetail> {
        let id = record.id;
        let now = self.now();
        let counts = self.store.loop_counts(id).await?;
        let facts = StageFacts {
            has_expectation: !record.what_was_expected.trim().is_empty(),
            factor_count: usize::try_from(counts.factors).unwrap_or(0),
            classified: record.failure_type().is_some(),
            learning_count: usize::try_from(counts.learnings).unwrap_or(0),
            action_count: usize::try_from(counts.actions).unwrap_or(0),
        };
        let attention = attention(
            record.stage,
            record.stage_entered_at,
            Some((record.follow_up.on, record.follow_up.answered_at.is_some())),
            stuck_after_days,
            now,
        );
        Ok(LoopDetail {
            next: loops::advance(record.stage, &facts),
            attention,
            additions: self.store.additions(id).await?,
            history: self.store.stage_changes(id).await?,
            timeline: self.store.timeline(id).await?,
            factors: self.store.factors(id).await?,
            accounts: self.store.accounts(id).await?,
            learnings: self.store.learnings_of_loop(id).await?,
            actions: self.store.actions_of_loop(id).await?,
            today: day_of(now),
            recurrence: None,
            unpublished: false,
            record,
        })
    }

    /// Adds later understanding beside the Detect record, which itself never changes.
    pub async fn add_addition(
        &self,
        access: &TeamAccess,
        id: &str,
        body: &str,
    ) -> ServiceResult<()> {
        let record = self.loop_record(access, id).await?;
        let body = loops::long_text(body, true).map_err(|e| ServiceError::field("body", e.0))?;
        self.store
            .add_addition(&NewAddition {
                id: RecordId::random(),
                loop_id: record.id,
                body,
                added_on: day_of(self.now()),
                author: Some(access.actor()),
                by_reporter: false,
            })
            .await?;
        Ok(())
    }

    /// The loop behind an anonymous reporter's link, with what they added that this server
    /// still holds. Before the day's release only the server holding the loop finds it.
    pub async fn reporter_loop(&self, secret: &str) -> ServiceResult<LoopDetail> {
        let hash = secrets::hash(secret);
        let Some(record) = self.store.loop_by_reporter_secret(&hash).await? else {
            let held = self.held.held_loop(&hash).ok_or(ServiceError::NotFound)?;
            let additions = held.additions.iter().map(held_addition).collect();
            return Ok(self.unwritten_detail(held.new, additions, self.now()));
        };
        let team = self
            .store
            .team_by_id(record.team_id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let held = self.held.additions_for(record.id);
        let mut detail = self.detail_of(record, team.stuck_after_days).await?;
        detail.additions.extend(held.iter().map(held_addition));
        Ok(detail)
    }

    /// The anonymous reporter adds what they know now, still without a name. Held, like the
    /// loop, until the day's release: written at once it would sit among its writer's named
    /// writes.
    pub async fn reporter_add(&self, secret: &str, body: &str) -> ServiceResult<LoopDetail> {
        let detail = self.reporter_loop(secret).await?;
        let body = loops::long_text(body, true).map_err(|e| ServiceError::field("body", e.0))?;
        let addition = NewAddition {
            id: RecordId::random(),
            loop_id: detail.record.id,
            body,
            added_on: day_of(self.now()),
            author: None,
            by_reporter: true,
        };
        // What one link may add before a release is bounded; the refusal speaks of this loop
        // only, which its reporter knows.
        let hash = secrets::hash(secret);
        if self.held.additions_held(&hash, detail.record.id)
            >= self.policy.held_limits.additions_per_loop
        {
            return Err(ServiceError::TooMuchHeld(format!(
                "you have added {} times to this report since the last release; add more after midnight UTC",
                self.policy.held_limits.additions_per_loop
            )));
        }
        self.admit_held(None, super::held::size_of_addition(&addition), false)?;
        if !self
            .held
            .add_to_held_loop(&secrets::hash(secret), addition.clone())
        {
            // Written already (or a moment ago): held for the next release on its own.
            self.held.hold_addition(addition);
        }
        self.reporter_loop(secret).await
    }

    /// Writes every anonymous loop and reporter's addition this server holds, now, in one
    /// transaction (see `service::held`). The server calls it at the end of each UTC day (through
    /// [`Service::write_due_loops`]) and when it stops; tests call it to stand for midnight.
    /// Returns how many loops were written.
    pub async fn release_held_anonymous_loops(&self) -> ServiceResult<usize> {
        self.write_held_loops(None).await
    }

    /// Writes the anonymous loops captured, and the additions made, before today (UTC): the
    /// daily release. The server calls it every [`crate::app::HELD_WRITE_INTERVAL`].
    pub async fn write_due_loops(&self) -> ServiceResult<()> {
        self.write_held_loops(Some(day_of(self.now())))
            .await
            .map(|_| ())
    }

    async fn write_held_loops(&self, before: Option<OffsetDateTime>) -> ServiceResult<usize> {
        // Unnamed comments on expectations first: they fail or succeed on their own.
        self.write_held_expectation_comments(before).await?;
        let (mut taken, additions) = self.held.take_loops(before);
        let (accounts, dismissals) = self.held.take_accounts_and_dismissals(before);
        if taken.is_empty() && additions.is_empty() && accounts.is_empty() && dismissals.is_empty()
        {
            return Ok(0);
        }
        let written = async {
            // The possible-recurrence check, against what the whole team may see: a read, so
            // nothing of it is written before the loop.
            for (_, held) in &mut taken {
                held.new.recurrence_of = self
                    .possible_recurrence(
                        Some(vec![held.new.team_id]),
                        &held.new.title,
                        &held.new.what_happened,
                        None,
                    )
                    .await?;
            }
            let loops: Vec<LoopDraft> = taken.iter().map(|(_, held)| held.new.clone()).collect();
            let all_additions: Vec<NewAddition> = taken
                .iter()
                .flat_map(|(_, held)| held.additions.iter().cloned())
                .chain(additions.iter().cloned())
                .collect();
            self.store
                .write_anonymous_loops(&crate::store::AnonymousBatch {
                    loops: &loops,
                    additions: &all_additions,
                    accounts: &accounts,
                    dismissals: &dismissals,
                })
                .await?;
            Ok::<usize, ServiceError>(loops.len())
        }
        .await;
        if written.is_err() {
            self.held.restore_loops(taken, additions);
            self.held
                .restore_accounts_and_dismissals(accounts, dismissals);
        }
        written
    }

    /// The anonymous reporter withdraws their report while it is still at Detect.
    pub async fn reporter_withdraw(&self, secret: &str) -> ServiceResult<()> {
        if self.held.withdraw_loop(&secrets::hash(secret)) {
            return Ok(());
        }
        let detail = self.reporter_loop(secret).await?;
        self.held.drop_additions_for(detail.record.id);
        if detail.record.stage != Stage::Detect {
            return Err(ServiceError::Conflict {
                field: None,
                message: "the team has started analysing this loop; it can no longer be withdrawn"
                    .to_owned(),
            });
        }
        self.store
            .delete_loop(detail.record.team_id, detail.record.id)
            .await?;
        Ok(())
    }

    pub async fn add_timeline_event(
        &self,
        access: &TeamAccess,
        id: &str,
        occurred_at: &str,
        description: &str,
    ) -> ServiceResult<()> {
        let record = self.loop_record(access, id).await?;
        let mut errors = FieldErrors::default();
        let at = errors.take("occurred_at", parse_instant(occurred_at));
        let description = errors.take("description", loops::statement(description, STATEMENT_MAX));
        let (Some(occurred_at), Some(description)) = (at, description) else {
            return Err(errors.into());
        };
        self.store
            .add_timeline_event(&NewTimelineEvent {
                id: RecordId::random(),
                loop_id: record.id,
                occurred_at,
                description,
                added_by: access.actor(),
                added_at: self.now(),
            })
            .await?;
        Ok(())
    }

    pub async fn add_factor(
        &self,
        access: &TeamAccess,
        id: &str,
        reason: FactorReason,
        description: &str,
    ) -> ServiceResult<FactorId> {
        let record = self.loop_record(access, id).await?;
        let description = loops::long_text(description, true)
            .map_err(|e| ServiceError::field("description", e.0))?;
        let factor = NewFactor {
            id: FactorId::random(),
            loop_id: record.id,
            reason,
            description,
            added_by: access.actor(),
            added_at: self.now(),
        };
        self.store.add_factor(&factor).await?;
        Ok(factor.id)
    }

    pub async fn remove_factor(
        &self,
        access: &TeamAccess,
        id: &str,
        factor: &str,
    ) -> ServiceResult<()> {
        let record = self.loop_record(access, id).await?;
        let factor: FactorId = factor.parse().map_err(|_| ServiceError::NotFound)?;
        if self.store.delete_factor(record.id, factor).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound)
        }
    }

    /// Saves the after-action review and the lessons (what went well, wrong, where we got lucky).
    pub async fn save_review(
        &self,
        access: &TeamAccess,
        id: &str,
        input: ReviewInput,
    ) -> ServiceResult<()> {
        let record = self.loop_record(access, id).await?;
        let mut errors = FieldErrors::default();
        let mut text = |field: &str, raw: &str| {
            errors
                .take(field, loops::long_text(raw, false))
                .unwrap_or_default()
        };
        let review = Review {
            aar_intended: text("aar_intended", &input.aar_intended),
            aar_actual: text("aar_actual", &input.aar_actual),
            aar_difference: text("aar_difference", &input.aar_difference),
            aar_lessons: text("aar_lessons", &input.aar_lessons),
            went_well: text("went_well", &input.went_well),
            went_wrong: text("went_wrong", &input.went_wrong),
            got_lucky: text("got_lucky", &input.got_lucky),
        };
        errors.check()?;
        self.store.save_review(record.id, &review).await?;
        Ok(())
    }

    /// Adds a participant's account; an anonymous one keeps no author and only the day.
    pub async fn add_account(
        &self,
        access: &TeamAccess,
        id: &str,
        input: AccountInput,
    ) -> ServiceResult<()> {
        let record = self.loop_record(access, id).await?;
        let mut errors = FieldErrors::default();
        let mut text = |field: &str, raw: &str| {
            errors
                .take(field, loops::long_text(raw, false))
                .unwrap_or_default()
        };
        let account = NewAccount {
            id: RecordId::random(),
            loop_id: record.id,
            author: (!input.anonymous).then(|| access.actor()),
            actions: text("actions", &input.actions),
            observations: text("observations", &input.observations),
            expectations: text("expectations", &input.expectations),
            assumptions: text("assumptions", &input.assumptions),
            timeline_understanding: text("timeline_understanding", &input.timeline_understanding),
            added_on: day_of(self.now()),
        };
        if [
            &account.actions,
            &account.observations,
            &account.expectations,
            &account.assumptions,
            &account.timeline_understanding,
        ]
        .iter()
        .all(|t| t.is_empty())
        {
            errors.push("actions", "write at least one part of your account");
        }
        errors.check()?;
        if account.author.is_none() {
            // Held for the daily release with the anonymous loops (see `service::held`): written
            // now it would sit among its writer's named writes.
            self.admit_held(
                Some(access.actor()),
                super::held::size_of_account(&account),
                false,
            )?;
            self.held.hold_account(account);
            return Ok(());
        }
        self.store.add_account(&account).await?;
        Ok(())
    }

    /// Records the questionnaire's answers and the type it suggests, from them and the factors.
    pub async fn classify(
        &self,
        access: &TeamAccess,
        id: &str,
        answers: Questionnaire,
    ) -> ServiceResult<loops::Suggestion> {
        let record = self.loop_record(access, id).await?;
        let reasons: Vec<FactorReason> = self
            .store
            .factors(record.id)
            .await?
            .into_iter()
            .map(|f| f.reason)
            .collect();
        let suggestion = loops::suggest_type(&answers, &reasons);
        let event = self.emitter(access).classified(
            access.team().id,
            record.id,
            record.anonymous,
            &suggestion,
        );
        self.store
            .save_classification(record.id, &answers, &suggestion, &[event])
            .await?;
        Ok(suggestion)
    }

    /// A person chooses a type other than the suggestion, saying why; both stay on record.
    /// `kind = None` withdraws the override.
    pub async fn override_type(
        &self,
        access: &TeamAccess,
        id: &str,
        kind: Option<FailureType>,
        reason: &str,
    ) -> ServiceResult<()> {
        let record = self.loop_record(access, id).await?;
        let chosen = match kind {
            None => None,
            Some(kind) => {
                let reason = loops::statement(reason, STATEMENT_MAX)
                    .map_err(|e| ServiceError::field("reason", e.0))?;
                Some((kind, reason))
            }
        };
        self.store
            .save_override(
                record.id,
                chosen.as_ref().map(|(k, r)| (*k, r.as_str())),
                access.actor(),
                self.now(),
            )
            .await?;
        Ok(())
    }

    pub async fn add_learning(
        &self,
        access: &TeamAccess,
        id: &str,
        statement: &str,
        visibility: Visibility,
    ) -> ServiceResult<LearningId> {
        let record = self.loop_record(access, id).await?;
        let statement = loops::statement(statement, LEARNING_MAX)
            .map_err(|e| ServiceError::field("statement", e.0))?;
        let learning = NewLearning {
            id: LearningId::random(),
            loop_id: record.id,
            team_id: access.team().id,
            statement,
            visibility,
            created_by: access.actor(),
            created_at: self.now(),
        };
        let event = self
            .emitter(access)
            .learning_shared(&learning, record.anonymous);
        self.store.add_learning(&learning, &[event]).await?;
        Ok(learning.id)
    }

    /// Adds an action item. The owner, when given, must be a member of the team.
    pub async fn add_action(
        &self,
        access: &TeamAccess,
        id: &str,
        title: &str,
        owner: Option<&str>,
        due_on: Option<&str>,
    ) -> ServiceResult<ActionId> {
        let record = self.loop_record(access, id).await?;
        let mut errors = FieldErrors::default();
        let title = errors.take("title", loops::statement(title, SHORT_MAX));
        let due_on = match due_on.map(str::trim).filter(|s| !s.is_empty()) {
            None => Some(None),
            Some(raw) => errors.take("due_on", parse_date(raw)).map(Some),
        };
        let owner = match owner.map(str::trim).filter(|s| !s.is_empty()) {
            None => Some(None),
            Some(raw) => match raw.parse::<UserId>() {
                Ok(user)
                    if self
                        .store
                        .membership(access.team().id, user)
                        .await?
                        .is_some() =>
                {
                    Some(Some(user))
                }
                _ => {
                    errors.push("owner_id", "must be a member of the team");
                    None
                }
            },
        };
        let (Some(title), Some(due_on), Some(owner)) = (title, due_on, owner) else {
            return Err(errors.into());
        };
        let action = NewAction {
            id: ActionId::random(),
            loop_id: record.id,
            team_id: access.team().id,
            title,
            owner,
            due_on,
            created_by: access.actor(),
            created_at: self.now(),
        };
        let event = self
            .emitter(access)
            .action_created(&action, record.anonymous);
        self.store.add_action(&action, &[event]).await?;
        Ok(action.id)
    }

    /// Marks an action done, dropped (with a reason) or open again.
    pub async fn set_action_status(
        &self,
        access: &TeamAccess,
        action: &str,
        status: ActionStatus,
        dropped_reason: &str,
    ) -> ServiceResult<ActionItem> {
        let id: ActionId = action.parse().map_err(|_| ServiceError::NotFound)?;
        let reason = if status == ActionStatus::Dropped {
            loops::statement(dropped_reason, 1000).map_err(|_| {
                ServiceError::field("dropped_reason", "say why the action is dropped")
            })?
        } else {
            String::new()
        };
        let mut events = Vec::new();
        if status == ActionStatus::Done {
            let action = self
                .store
                .action(access.team().id, id)
                .await?
                .ok_or(ServiceError::NotFound)?;
            if action.status != ActionStatus::Done {
                let anonymous = self
                    .store
                    .loop_by_id(access.team().id, action.loop_id)
                    .await?
                    .is_some_and(|record| record.anonymous);
                events.push(
                    self.emitter(access)
                        .action_done(access.team().id, id, anonymous),
                );
            }
        }
        if !self
            .store
            .set_action_status(access.team().id, id, status, &reason, self.now(), &events)
            .await?
        {
            return Err(ServiceError::NotFound);
        }
        let record = self
            .store
            .action(access.team().id, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        Ok(ActionItem {
            overdue: record.overdue_on(self.today()),
            record,
        })
    }

    /// The team's action items (open ones first by due date when `status` is open), each
    /// with whether it is overdue today.
    pub async fn team_actions(
        &self,
        access: &TeamAccess,
        status: Option<ActionStatus>,
    ) -> ServiceResult<Vec<ActionItem>> {
        let today = self.today();
        Ok(self
            .store
            .team_actions(access.team().id, status)
            .await?
            .into_iter()
            .map(|record| ActionItem {
                overdue: record.overdue_on(today),
                record,
            })
            .collect())
    }

    /// Sets (or clears) the date of the follow-up check: did it recur? did the change hold?
    pub async fn set_follow_up(
        &self,
        access: &TeamAccess,
        id: &str,
        on: Option<&str>,
    ) -> ServiceResult<()> {
        let record = self.loop_record(access, id).await?;
        let on = on
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(parse_date)
            .transpose()
            .map_err(|e| ServiceError::field("follow_up_on", e.0))?;
        self.store.set_follow_up_date(record.id, on).await?;
        Ok(())
    }

    pub async fn answer_follow_up(
        &self,
        access: &TeamAccess,
        id: &str,
        recurred: bool,
        held: bool,
        note: &str,
    ) -> ServiceResult<()> {
        let record = self.loop_record(access, id).await?;
        if record.stage != Stage::Continue {
            return Err(ServiceError::Conflict {
                field: None,
                message: "the follow-up check belongs to the Continue stage".to_owned(),
            });
        }
        let note = loops::long_text(note, false).map_err(|e| ServiceError::field("note", e.0))?;
        self.store
            .answer_follow_up(record.id, recurred, held, &note, self.now(), access.actor())
            .await?;
        Ok(())
    }

    /// Links the experiment this loop led to (the Continue stage's next smart risk).
    pub async fn link_next_experiment(
        &self,
        access: &TeamAccess,
        id: &str,
        experiment: Option<&str>,
    ) -> ServiceResult<()> {
        let record = self.loop_record(access, id).await?;
        self.store
            .set_next_experiment(record.id, experiment)
            .await?;
        Ok(())
    }

    /// Moves the loop to the next stage when its condition holds, or one stage back.
    pub async fn change_stage(
        &self,
        access: &TeamAccess,
        id: &str,
        forward: bool,
        note: &str,
    ) -> ServiceResult<Stage> {
        let detail = self.loop_detail(access, id).await?;
        let from = detail.record.stage;
        let to = if forward {
            detail
                .next
                .clone()
                .map_err(|missing| ServiceError::Conflict {
                    field: Some("stage".to_owned()),
                    message: missing,
                })?
        } else {
            from.previous().ok_or_else(|| ServiceError::Conflict {
                field: Some("stage".to_owned()),
                message: "Detect is the first stage".to_owned(),
            })?
        };
        let note =
            single_line_or_empty(note, SHORT_MAX).map_err(|e| ServiceError::field("note", e.0))?;
        let event = self.emitter(access).stage_changed(
            access.team().id,
            detail.record.id,
            detail.record.anonymous,
            from,
            to,
        );
        match self
            .store
            .change_stage(
                &StageChange {
                    id: RecordId::random(),
                    loop_id: detail.record.id,
                    from,
                    to,
                    at: self.now(),
                    by: Some(access.actor()),
                    note,
                },
                &[event],
            )
            .await
        {
            Ok(()) => Ok(to),
            Err(StoreError::NotFound) => Err(ServiceError::Conflict {
                field: Some("stage".to_owned()),
                message: "someone else moved this loop meanwhile; reload to see where it stands"
                    .to_owned(),
            }),
            Err(other) => Err(other.into()),
        }
    }

    /// Loops that sit in a stage too long or whose follow-up is due, for the team page.
    pub async fn loops_needing_attention(
        &self,
        access: &TeamAccess,
    ) -> ServiceResult<Vec<(LoopSummary, Attention)>> {
        let now = self.now();
        let team = access.team();
        let filter = LoopFilter {
            sort: LoopSort::LongestInStage,
            limit: 500,
            ..LoopFilter::default()
        };
        let (rows, _) = self.store.list_loops(team.id, &filter, day_of(now)).await?;
        let mut out = Vec::new();
        for summary in rows {
            let flag = if summary.stage == Stage::Continue {
                let record = self.store.loop_by_id(team.id, summary.id).await?;
                record.and_then(|r| {
                    attention(
                        r.stage,
                        r.stage_entered_at,
                        Some((r.follow_up.on, r.follow_up.answered_at.is_some())),
                        team.stuck_after_days,
                        now,
                    )
                })
            } else {
                attention(
                    summary.stage,
                    summary.stage_entered_at,
                    None,
                    team.stuck_after_days,
                    now,
                )
            };
            if let Some(flag) = flag {
                out.push((summary, flag));
            }
        }
        Ok(out)
    }
}

/// A held addition as the reporter's page shows it.
fn held_addition(addition: &NewAddition) -> AdditionRecord {
    AdditionRecord {
        id: addition.id,
        body: addition.body.clone(),
        added_on: addition.added_on,
        author_name: None,
        by_reporter: true,
    }
}

fn single_line_or_empty(raw: &str, max: usize) -> Result<String, crate::domain::Invalid> {
    if raw.trim().is_empty() {
        Ok(String::new())
    } else {
        single_line(raw, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(days: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::days(days)
    }

    #[test]
    fn loops_are_flagged_after_the_teams_setting() {
        assert_eq!(attention(Stage::Analyse, at(0), None, 14, at(14)), None);
        assert_eq!(
            attention(Stage::Analyse, at(0), None, 14, at(15)),
            Some(Attention::Stuck { days: 15 })
        );
        assert_eq!(
            attention(
                Stage::Continue,
                at(0),
                Some((Some(at(30)), false)),
                14,
                at(20)
            ),
            None
        );
        assert_eq!(
            attention(
                Stage::Continue,
                at(0),
                Some((Some(at(30)), false)),
                14,
                at(31)
            ),
            Some(Attention::FollowUpDue)
        );
        assert_eq!(
            attention(
                Stage::Continue,
                at(0),
                Some((Some(at(30)), true)),
                14,
                at(90)
            ),
            None
        );
    }
}
