//! Export and import ("your data is yours"): a loop, a team or the organisation as versioned JSON
//! (docs/export-schema.md), Markdown with YAML front matter (one file per loop; a tar archive for
//! several) or CSV; imports of that JSON and of Markdown postmortems.
//!
//! Exports keep the access rules: a team's data through its `TeamAccess`, the organisation's for
//! admins only. They carry no person's name at all — not the author of a named loop, not who
//! added a factor, wrote an account or owns an action: a file leaves the product's access rules,
//! and a list of who was involved in which failure is performance-review material. Anonymous
//! loops keep only the day of their own dates.

use std::io::Write as _;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;

use crate::domain::loops::{
    self, ActionStatus, FactorReason, FailureType, ImpactScale, LoopKind, Questionnaire, Stage,
    Suggestion, Visibility,
};
use crate::domain::postmortem::{self, Postmortem};
use crate::domain::when::{day_of, parse_date, parse_instant};
use crate::domain::{docx, html, tool_exports};
use crate::domain::{LoopId, TeamId, UserId};
use crate::store::loops::{FollowUp, LoopFilter, LoopRecord, NewLoop, Review};
use crate::store::transfer::{ImportedAccount, ImportedAction, ImportedLoop};

use super::error::{FieldErrors, ServiceError, ServiceResult};
use super::{Actor, Service, TeamAccess};

/// The `format` field of every JSON export.
pub const EXPORT_FORMAT: &str = "failforward-export";
/// The schema version this build writes and the newest it reads.
pub const EXPORT_VERSION: u32 = 1;

/// A JSON export: the whole of what was asked for, in one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportDocument {
    /// Always `failforward-export`.
    pub format: String,
    /// Schema version (1).
    pub version: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub exported_at: OffsetDateTime,
    /// `loop`, `team` or `organisation`.
    pub scope: String,
    pub teams: Vec<ExportTeam>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportTeam {
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub loops: Vec<ExportLoop>,
    /// The team's closed review sessions, without anyone's name. Exported for the record; an
    /// import leaves them out (their cards and ballots were sealed for the people who wrote them).
    #[serde(default)]
    pub review_sessions: Vec<ExportReviewSession>,
}

/// A closed review session as the team's record of it: what was said and decided, never by whom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportReviewSession {
    pub id: String,
    pub prompt: String,
    /// The loop it reviewed, when it reviewed one (its id in this export).
    #[serde(default)]
    pub loop_id: Option<String>,
    /// The day it started (midnight UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub held_on: OffsetDateTime,
    pub participants: usize,
    /// Revealed cards, hidden ones left out, in the order the session shows them: leads' cards
    /// after everyone else's, then by dots, kind and text.
    #[serde(default)]
    pub cards: Vec<ExportReviewCard>,
    #[serde(default)]
    pub decisions: Vec<ExportDecision>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportReviewCard {
    /// observation, factor or idea.
    pub kind: String,
    pub text: String,
    pub dots: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportDecision {
    /// factor, learning or action.
    pub kind: String,
    pub text: String,
    /// The reasons people gave for disagreeing, without their names.
    #[serde(default)]
    pub dissent: Vec<String>,
}

/// One loop with every record it holds, without any person's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportLoop {
    /// The loop's id where it was exported; an import gives it a new one.
    pub id: String,
    pub kind: LoopKind,
    pub title: String,
    pub what_happened: String,
    #[serde(default)]
    pub what_was_expected: String,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub happened_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub noticed_at: OffsetDateTime,
    pub impact_scale: ImpactScale,
    #[serde(default)]
    pub impact_affected: String,
    /// Logged anonymously: every date of the loop itself is midnight UTC of its day.
    pub anonymous: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub stage: Stage,
    #[serde(with = "time::serde::rfc3339")]
    pub stage_entered_at: OffsetDateTime,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub review: ExportReview,
    #[serde(default)]
    pub classification: Option<ExportClassification>,
    #[serde(default)]
    pub type_override: Option<ExportOverride>,
    #[serde(default)]
    pub follow_up: ExportFollowUp,
    #[serde(default)]
    pub source_experiment_id: Option<String>,
    #[serde(default)]
    pub next_experiment_id: Option<String>,
    #[serde(default)]
    pub history: Vec<ExportStageChange>,
    #[serde(default)]
    pub additions: Vec<ExportAddition>,
    #[serde(default)]
    pub timeline: Vec<ExportEvent>,
    #[serde(default)]
    pub factors: Vec<ExportFactor>,
    #[serde(default)]
    pub accounts: Vec<ExportAccount>,
    #[serde(default)]
    pub learnings: Vec<ExportLearning>,
    #[serde(default)]
    pub actions: Vec<ExportAction>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ExportReview {
    pub aar_intended: String,
    pub aar_actual: String,
    pub aar_difference: String,
    pub aar_lessons: String,
    pub went_well: String,
    pub went_wrong: String,
    pub got_lucky: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportClassification {
    pub answers: Questionnaire,
    pub suggestion: Suggestion,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportOverride {
    pub kind: FailureType,
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ExportFollowUp {
    #[serde(with = "time::serde::rfc3339::option")]
    pub on: Option<OffsetDateTime>,
    pub recurred: Option<bool>,
    pub held: Option<bool>,
    pub note: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub answered_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportStageChange {
    pub from: Option<Stage>,
    pub to: Stage,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportAddition {
    pub body: String,
    #[serde(with = "time::serde::rfc3339")]
    pub added_on: OffsetDateTime,
    #[serde(default)]
    pub by_reporter: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportEvent {
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportFactor {
    pub reason: FactorReason,
    pub description: String,
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: OffsetDateTime,
}

/// A participant's account, without who wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportAccount {
    pub anonymous: bool,
    pub actions: String,
    pub observations: String,
    pub expectations: String,
    pub assumptions: String,
    pub timeline_understanding: String,
    #[serde(with = "time::serde::rfc3339")]
    pub added_on: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportLearning {
    pub statement: String,
    pub visibility: Visibility,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// An action item, without its owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportAction {
    pub title: String,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub due_on: Option<OffsetDateTime>,
    pub status: ActionStatus,
    #[serde(default)]
    pub dropped_reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
}

/// The shapes an export can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Json,
    Markdown,
    Csv,
}

impl ExportFormat {
    pub fn parse(raw: &str) -> ServiceResult<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "" | "json" => Ok(ExportFormat::Json),
            "markdown" | "md" => Ok(ExportFormat::Markdown),
            "csv" => Ok(ExportFormat::Csv),
            _ => Err(ServiceError::field(
                "format",
                "must be one of: json, markdown, csv",
            )),
        }
    }
}

/// A rendered export, ready to be written to a file or a response.
#[derive(Debug, Clone)]
pub struct ExportFile {
    pub content_type: &'static str,
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// What an import created (or, in a dry run, would create).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportReport {
    pub dry_run: bool,
    pub loops: Vec<ImportedSummary>,
}

/// One loop of an import.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportedSummary {
    /// The new loop's id (absent in a dry run).
    pub id: Option<String>,
    pub title: String,
    pub stage: Stage,
    pub anonymous: bool,
    pub timeline_events: usize,
    pub factors: usize,
    pub learnings: usize,
    pub actions: usize,
    /// Headings of Markdown sections that matched no loop field, kept in the description.
    pub kept_sections: Vec<String>,
    /// The blameless-language linter's findings on the imported text.
    pub findings: Vec<ImportFinding>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportFinding {
    pub rule: String,
    pub message: String,
    pub suggestion: String,
    /// The words that matched.
    pub excerpt: String,
}

fn day_if(anonymous: bool, at: OffsetDateTime) -> OffsetDateTime {
    if anonymous {
        day_of(at)
    } else {
        at
    }
}

impl Service {
    /// One loop of a team, as a document.
    pub async fn export_loop(
        &self,
        access: &TeamAccess,
        id: &str,
    ) -> ServiceResult<ExportDocument> {
        let id: LoopId = id.parse().map_err(|_| ServiceError::NotFound)?;
        let record = self
            .store
            .loop_by_id(access.team().id, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let mut team = export_team_head(access);
        team.loops.push(self.export_record(record).await?);
        Ok(self.document("loop", vec![team]))
    }

    /// Every loop of a team.
    pub async fn export_team(&self, access: &TeamAccess) -> ServiceResult<ExportDocument> {
        let team = self.export_team_data(access).await?;
        Ok(self.document("team", vec![team]))
    }

    /// Every team's loops: organisation admins only.
    pub async fn export_organisation(&self, actor: &Actor) -> ServiceResult<ExportDocument> {
        self.export_organisation_with(actor, &mut |_, _| {}).await
    }

    /// [`Service::export_organisation`], calling `progress(done, total)` after each team (the
    /// command line draws a progress bar with it).
    pub async fn export_organisation_with(
        &self,
        actor: &Actor,
        progress: &mut (dyn FnMut(usize, usize) + Send),
    ) -> ServiceResult<ExportDocument> {
        actor.require_admin()?;
        let all = self.store.all_teams().await?;
        let total = all.len();
        let mut teams = Vec::new();
        for (done, team) in all.into_iter().enumerate() {
            let access = self.team_access(actor, team.slug.as_str()).await?;
            teams.push(self.export_team_data(&access).await?);
            progress(done + 1, total);
        }
        teams.sort_by(|a, b| a.slug.cmp(&b.slug));
        Ok(self.document("organisation", teams))
    }

    /// The account an operator's command acts as (`--as EMAIL`), with that account's access.
    pub async fn operator_actor(&self, email: &str) -> ServiceResult<Actor> {
        let email =
            crate::domain::Email::parse(email).map_err(|e| ServiceError::field("as", e.0))?;
        let user = self
            .store
            .user_by_email(&email)
            .await?
            .ok_or_else(|| ServiceError::field("as", "no account has this email"))?;
        Ok(Actor {
            user,
            session_hash: None,
        })
    }

    fn document(&self, scope: &str, teams: Vec<ExportTeam>) -> ExportDocument {
        ExportDocument {
            format: EXPORT_FORMAT.to_owned(),
            version: EXPORT_VERSION,
            exported_at: self
                .now()
                .replace_nanosecond(0)
                .unwrap_or_else(|_| self.now()),
            scope: scope.to_owned(),
            teams,
        }
    }

    async fn export_team_data(&self, access: &TeamAccess) -> ServiceResult<ExportTeam> {
        let mut team = export_team_head(access);
        let mut offset = 0;
        loop {
            let (page, _total) = self
                .store
                .list_loops(
                    access.team().id,
                    &LoopFilter {
                        limit: 200,
                        offset,
                        ..LoopFilter::default()
                    },
                    day_of(self.now()),
                )
                .await?;
            let count = page.len();
            for summary in page {
                if let Some(record) = self.store.loop_by_id(access.team().id, summary.id).await? {
                    team.loops.push(self.export_record(record).await?);
                }
            }
            if count < 200 {
                break;
            }
            offset += 200;
        }
        team.review_sessions = self.export_review_sessions(access).await?;
        // A stable order, so that two exports of the same data are equal.
        team.loops.sort_by(|a, b| {
            (a.created_at, &a.title, &a.what_happened, &a.id).cmp(&(
                b.created_at,
                &b.title,
                &b.what_happened,
                &b.id,
            ))
        });
        Ok(team)
    }

    /// Closed sessions only: an open one may still hold sealed cards, and its record is not
    /// final. Nothing names a person — not a card's writer, a lead, a voter or a dissenter.
    async fn export_review_sessions(
        &self,
        access: &TeamAccess,
    ) -> ServiceResult<Vec<ExportReviewSession>> {
        let mut sessions = Vec::new();
        for record in self.reviews(access).await? {
            if record.closed_at.is_none() {
                continue;
            }
            let view = self.review_view(access, &record.id.to_string()).await?;
            let dots_of = |card: &str| {
                view.totals
                    .as_ref()
                    .and_then(|t| t.iter().find(|(id, _)| id == card).map(|(_, n)| *n))
                    .unwrap_or(0)
            };
            let cards: Vec<ExportReviewCard> = view
                .cards
                .iter()
                .filter(|c| c.hidden_reason.is_none())
                .map(|c| ExportReviewCard {
                    kind: c.kind.as_str().to_owned(),
                    text: c.text.clone(),
                    dots: dots_of(&c.id),
                })
                .collect();
            let mut decisions: Vec<ExportDecision> = view
                .decisions
                .iter()
                .map(|d| {
                    let mut dissent: Vec<String> =
                        d.dissents.iter().map(|x| x.reason.clone()).collect();
                    dissent.sort();
                    ExportDecision {
                        kind: d.decision.kind.clone(),
                        text: d.decision.text.clone(),
                        dissent,
                    }
                })
                .collect();
            decisions.sort_by(|a, b| (&a.kind, &a.text).cmp(&(&b.kind, &b.text)));
            sessions.push(ExportReviewSession {
                id: record.id.to_string(),
                prompt: record.prompt.clone(),
                loop_id: record.loop_id.clone(),
                held_on: day_of(record.created_at),
                participants: view.participant_count(),
                cards,
                decisions,
            });
        }
        sessions.sort_by(|a, b| (a.held_on, &a.prompt, &a.id).cmp(&(b.held_on, &b.prompt, &b.id)));
        Ok(sessions)
    }

    async fn export_record(&self, record: LoopRecord) -> ServiceResult<ExportLoop> {
        let id = record.id;
        let anon = record.anonymous;
        let history: Vec<ExportStageChange> = self
            .store
            .stage_changes(id)
            .await?
            .into_iter()
            .map(|c| ExportStageChange {
                from: c.from,
                to: c.to,
                at: day_if(anon, c.at),
                note: c.note,
            })
            .collect();
        let mut additions: Vec<ExportAddition> = self
            .store
            .additions(id)
            .await?
            .into_iter()
            .map(|a| ExportAddition {
                body: a.body,
                added_on: a.added_on,
                by_reporter: a.by_reporter,
            })
            .collect();
        additions.sort_by(|a, b| (a.added_on, &a.body).cmp(&(b.added_on, &b.body)));
        let mut timeline: Vec<ExportEvent> = self
            .store
            .timeline(id)
            .await?
            .into_iter()
            .map(|e| ExportEvent {
                occurred_at: e.occurred_at,
                description: e.description,
            })
            .collect();
        timeline
            .sort_by(|a, b| (a.occurred_at, &a.description).cmp(&(b.occurred_at, &b.description)));
        let mut factors: Vec<ExportFactor> = self
            .store
            .factors(id)
            .await?
            .into_iter()
            .map(|f| ExportFactor {
                reason: f.reason,
                description: f.description,
                added_at: f.added_at,
            })
            .collect();
        factors.sort_by(|a, b| {
            (a.added_at, a.reason.as_str(), &a.description).cmp(&(
                b.added_at,
                b.reason.as_str(),
                &b.description,
            ))
        });
        let mut accounts: Vec<ExportAccount> = self
            .store
            .accounts(id)
            .await?
            .into_iter()
            .map(|a| ExportAccount {
                anonymous: a.anonymous,
                actions: a.actions,
                observations: a.observations,
                expectations: a.expectations,
                assumptions: a.assumptions,
                timeline_understanding: a.timeline_understanding,
                added_on: a.added_on,
            })
            .collect();
        accounts.sort_by(|a, b| (a.added_on, &a.actions).cmp(&(b.added_on, &b.actions)));
        let mut learnings: Vec<ExportLearning> = self
            .store
            .learnings_of_loop(id)
            .await?
            .into_iter()
            .map(|l| ExportLearning {
                statement: l.statement,
                visibility: l.visibility,
                created_at: l.created_at,
            })
            .collect();
        learnings.sort_by(|a, b| (a.created_at, &a.statement).cmp(&(b.created_at, &b.statement)));
        let mut actions: Vec<ExportAction> = self
            .store
            .actions_of_loop(id)
            .await?
            .into_iter()
            .map(|a| ExportAction {
                title: a.title,
                due_on: a.due_on,
                status: a.status,
                dropped_reason: a.dropped_reason,
                created_at: a.created_at,
                closed_at: a.closed_at,
            })
            .collect();
        actions.sort_by(|a, b| (a.created_at, &a.title).cmp(&(b.created_at, &b.title)));
        Ok(ExportLoop {
            id: id.to_string(),
            kind: record.kind,
            title: record.title,
            what_happened: record.what_happened,
            what_was_expected: record.what_was_expected,
            happened_at: record.happened_at.map(|at| day_if(anon, at)),
            noticed_at: day_if(anon, record.noticed_at),
            impact_scale: record.impact_scale,
            impact_affected: record.impact_affected,
            anonymous: anon,
            created_at: day_if(anon, record.created_at),
            stage: record.stage,
            stage_entered_at: day_if(anon, record.stage_entered_at),
            tags: record.tags,
            review: ExportReview {
                aar_intended: record.review.aar_intended,
                aar_actual: record.review.aar_actual,
                aar_difference: record.review.aar_difference,
                aar_lessons: record.review.aar_lessons,
                went_well: record.review.went_well,
                went_wrong: record.review.went_wrong,
                got_lucky: record.review.got_lucky,
            },
            classification: record.classification.map(|(answers, suggestion)| {
                ExportClassification {
                    answers,
                    suggestion,
                }
            }),
            type_override: record.type_override.map(|o| ExportOverride {
                kind: o.kind,
                reason: o.reason,
                at: o.at,
            }),
            follow_up: ExportFollowUp {
                on: record.follow_up.on,
                recurred: record.follow_up.recurred,
                held: record.follow_up.held,
                note: record.follow_up.note,
                answered_at: record.follow_up.answered_at,
            },
            source_experiment_id: record.source_experiment_id,
            next_experiment_id: record.next_experiment_id,
            history,
            additions,
            timeline,
            factors,
            accounts,
            learnings,
            actions,
        })
    }

    /// Imports a JSON export (every loop of every team in it goes to this team) or a Markdown
    /// postmortem into the team, all or nothing. A dry run checks and reports without writing.
    pub async fn import(
        &self,
        access: &TeamAccess,
        text: &str,
        dry_run: bool,
    ) -> ServiceResult<ImportReport> {
        let batch = read_import_named(text, None, access.team().id, access.actor(), self.now())?;
        self.import_batch(batch, dry_run).await
    }

    /// Imports a file as uploaded: refused, naming the file (and the line where there is one),
    /// when it cannot be a postmortem at all (too large, an image or archive, not UTF-8 text);
    /// otherwise read as [`Service::import`] does, with the file's name as a hint for the title
    /// and the date.
    pub async fn import_file(
        &self,
        access: &TeamAccess,
        name: Option<&str>,
        bytes: &[u8],
        dry_run: bool,
    ) -> ServiceResult<ImportReport> {
        let batch = read_import_file(name, bytes, access.team().id, access.actor(), self.now())?;
        self.import_batch(batch, dry_run).await
    }

    /// Reads a file for the team as [`Service::import_file`] would, writing nothing: bulk imports
    /// read every file first, then write them one by one or all at once.
    pub fn read_file(
        &self,
        access: &TeamAccess,
        name: &str,
        bytes: &[u8],
    ) -> ServiceResult<ImportBatch> {
        read_import_file(
            Some(name),
            bytes,
            access.team().id,
            access.actor(),
            self.now(),
        )
    }

    /// Writes (unless a dry run) what [`read_import`] read, and reports it.
    pub async fn import_batch(
        &self,
        batch: ImportBatch,
        dry_run: bool,
    ) -> ServiceResult<ImportReport> {
        let ImportBatch {
            loops,
            kept_sections: kept,
        } = batch;
        let mut summaries = Vec::new();
        for (item, kept_sections) in loops.iter().zip(kept) {
            summaries.push(ImportedSummary {
                id: (!dry_run).then(|| item.new.id.to_string()),
                title: item.new.title.clone(),
                stage: item.new.stage,
                anonymous: item.new.author.is_none(),
                timeline_events: item.timeline.len(),
                factors: item.factors.len(),
                learnings: item.learnings.len(),
                actions: item.actions.len(),
                kept_sections,
                findings: self.findings_of(item).await?,
            });
        }
        if !dry_run {
            self.store.import_loops(&loops).await?;
        }
        Ok(ImportReport {
            dry_run,
            loops: summaries,
        })
    }

    async fn findings_of(&self, item: &ImportedLoop) -> ServiceResult<Vec<ImportFinding>> {
        let review = &item.review;
        let text = [
            item.new.title.as_str(),
            item.new.what_happened.as_str(),
            review.aar_actual.as_str(),
            review.aar_difference.as_str(),
            review.aar_lessons.as_str(),
            review.went_well.as_str(),
            review.went_wrong.as_str(),
            review.got_lucky.as_str(),
        ]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("\n\n");
        let report = match self.lint(&text).await {
            Ok(report) => report,
            // Text too long for the linter is imported all the same, unchecked.
            Err(ServiceError::Invalid(_)) => return Ok(Vec::new()),
            Err(other) => return Err(other),
        };
        let chars: Vec<char> = text.chars().collect();
        Ok(report
            .findings
            .into_iter()
            .map(|f| ImportFinding {
                excerpt: chars
                    .get(f.start..f.end.min(chars.len()))
                    .map(|c| c.iter().collect())
                    .unwrap_or_default(),
                rule: f.rule,
                message: f.message,
                suggestion: f.suggestion,
            })
            .collect())
    }
}

/// What became of one uploaded file (or one file of an uploaded archive) in a bulk import.
#[derive(Debug, Clone)]
pub struct FileOutcome {
    pub name: String,
    /// `imported`, `would import`, `not imported` (another file was refused and the batch is
    /// all or nothing), `refused` or `skipped`.
    pub outcome: &'static str,
    pub loops: Vec<ImportedSummary>,
    /// Why it was refused or skipped.
    pub reason: String,
}

/// The extensions a bulk import reads inside an archive; other files there are skipped.
pub const IMPORTABLE: [&str; 10] = [
    "md", "markdown", "txt", "text", "json", "mdown", "html", "htm", "docx", "csv",
];

fn importable(name: &str) -> bool {
    let lower = name.to_lowercase();
    let base = lower.rsplit(['/', ':']).next().unwrap_or(&lower);
    !base.starts_with('.')
        && base
            .rsplit_once('.')
            .is_some_and(|(_, ext)| IMPORTABLE.contains(&ext))
}

/// The most one file of an uploaded archive may unpack to.
const ENTRY_LIMIT: u64 = 16 * 1024 * 1024;

fn bounded(reader: impl std::io::Read) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    reader
        .take(ENTRY_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.len() as u64 > ENTRY_LIMIT {
        return Err(format!("is larger than {ENTRY_LIMIT} bytes"));
    }
    Ok(bytes)
}

/// An uploaded file, or the files of an uploaded `.zip`, `.tar` or `.tar.gz` archive, each named
/// `archive:path`, with its bytes or why it cannot be read.
pub fn unpack_upload(name: &str, bytes: Vec<u8>) -> Vec<(String, Result<Vec<u8>, String>)> {
    let lower = name.to_lowercase();
    let entry = |inner: &str, reader: &mut dyn std::io::Read| {
        let full = format!("{name}:{inner}");
        if importable(inner) {
            (full, bounded(reader))
        } else {
            (full, Err(SKIPPED.to_owned()))
        }
    };
    let tar_entries = |reader: &mut dyn std::io::Read| -> Result<Vec<_>, String> {
        let mut out = Vec::new();
        let mut archive = tar::Archive::new(reader);
        for item in archive.entries().map_err(|e| e.to_string())? {
            let mut item = item.map_err(|e| e.to_string())?;
            if !item.header().entry_type().is_file() {
                continue;
            }
            let inner = item
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            out.push(entry(&inner, &mut item));
        }
        Ok(out)
    };
    let unpacked = if lower.ends_with(".zip") {
        zip::ZipArchive::new(std::io::Cursor::new(bytes.as_slice()))
            .map_err(|e| e.to_string())
            .and_then(|mut zip| {
                let mut out = Vec::new();
                for index in 0..zip.len() {
                    let mut item = zip.by_index(index).map_err(|e| e.to_string())?;
                    if item.is_file() {
                        let inner = item.name().to_owned();
                        out.push(entry(&inner, &mut item));
                    }
                }
                Ok(out)
            })
    } else if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") {
        tar_entries(&mut flate2::read::GzDecoder::new(bytes.as_slice()))
    } else if lower.ends_with(".tar") {
        tar_entries(&mut bytes.as_slice())
    } else {
        return vec![(name.to_owned(), Ok(bytes))];
    };
    unpacked.unwrap_or_else(|reason| {
        vec![(
            name.to_owned(),
            Err(format!("cannot be opened as an archive: {reason}")),
        )]
    })
}

/// The reason given for files of an archive that are not postmortems or exports.
pub const SKIPPED: &str = "skipped: not a .md, .markdown, .txt, .html, .docx, .csv or .json file";

impl Service {
    /// Imports several uploaded files (archives unpacked) with an outcome per file, as the
    /// command line does: every file is read first; then, unless a dry run, the readable ones
    /// are imported one by one — or none of them when `all_or_nothing` and one was refused.
    pub async fn import_files(
        &self,
        access: &TeamAccess,
        files: Vec<(String, Vec<u8>)>,
        dry_run: bool,
        all_or_nothing: bool,
    ) -> ServiceResult<Vec<FileOutcome>> {
        let mut read = Vec::new();
        for (name, bytes) in files {
            for (inner, bytes) in unpack_upload(&name, bytes) {
                let batch = bytes.and_then(|b| {
                    self.read_file(access, &inner, &b).map_err(|e| match e {
                        ServiceError::Invalid(fields) => fields
                            .iter()
                            .map(|f| f.message.replace(&format!("{inner}, "), ""))
                            .collect::<Vec<_>>()
                            .join("; "),
                        other => other.to_string(),
                    })
                });
                read.push((inner, batch));
            }
        }
        let refused = read
            .iter()
            .any(|(_, b)| matches!(b, Err(reason) if reason != SKIPPED));
        let mut out = Vec::new();
        for (name, batch) in read {
            let outcome = match batch {
                Err(reason) if reason == SKIPPED => FileOutcome {
                    name,
                    outcome: "skipped",
                    loops: Vec::new(),
                    reason,
                },
                Err(reason) => FileOutcome {
                    name,
                    outcome: "refused",
                    loops: Vec::new(),
                    reason,
                },
                Ok(batch) => {
                    let hold = dry_run || (all_or_nothing && refused);
                    let report = self.import_batch(batch, hold).await?;
                    FileOutcome {
                        name,
                        outcome: if dry_run {
                            "would import"
                        } else if hold {
                            "not imported"
                        } else {
                            "imported"
                        },
                        loops: report.loops,
                        reason: String::new(),
                    }
                }
            };
            out.push(outcome);
        }
        Ok(out)
    }
}

/// What an import would write, read and validated but not yet stored.
#[derive(Debug, Clone)]
pub struct ImportBatch {
    pub loops: Vec<ImportedLoop>,
    /// For each loop, the headings of Markdown sections that matched no loop field.
    pub kept_sections: Vec<Vec<String>>,
}

/// Reads an import — a JSON export (text starting with `{`) or a Markdown postmortem — into the
/// loops it would write to `team` on behalf of `importer` at `now`, validated as the forms
/// would. Pure apart from drawing random ids: what it accepts, the store can write.
pub fn read_import(
    text: &str,
    team: TeamId,
    importer: UserId,
    now: OffsetDateTime,
) -> ServiceResult<ImportBatch> {
    read_import_named(text, None, team, importer, now)
}

/// Reads a file's bytes as [`read_import`] reads text, refusing what cannot be a postmortem
/// (too large, an image or archive, not UTF-8, control characters) with the file's name and
/// line in the message.
pub fn read_import_file(
    name: Option<&str>,
    bytes: &[u8],
    team: TeamId,
    importer: UserId,
    now: OffsetDateTime,
) -> ServiceResult<ImportBatch> {
    let named = |message: String| match name {
        Some(name) => format!("{name}, {message}"),
        None => message,
    };
    let json = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    if !json && bytes.len() > postmortem::MAX_BYTES {
        return Err(ServiceError::field(
            "body",
            named(format!(
                "line 1: is {} bytes, larger than the {} a postmortem may have",
                bytes.len(),
                postmortem::MAX_BYTES
            )),
        ));
    }
    let read = if bytes.starts_with(b"PK\x03\x04") && docx::is_docx(name, bytes) {
        // A Word document has no lines its reader could count: a problem names the part.
        let markdown =
            docx::to_markdown(bytes).map_err(|e| ServiceError::field("body", named(e.0)))?;
        read_postmortem(&markdown, name, team, importer, now)
    } else {
        let text = postmortem::check_bytes(bytes).map_err(|e| {
            ServiceError::field(e.field, named(format!("line {}: {}", e.line, e.message)))
        })?;
        read_import_named(text, name, team, importer, now)
    };
    read.map_err(|error| match error {
        ServiceError::Invalid(fields) if name.is_some() => {
            let mut errors = FieldErrors::default();
            for f in fields.iter() {
                errors.push(&f.field, named(f.message.clone()));
            }
            errors.into()
        }
        other => other,
    })
}

/// [`read_import`] with the file's name, which a postmortem may take its title or date from.
pub fn read_import_named(
    text: &str,
    file_name: Option<&str>,
    team: TeamId,
    importer: UserId,
    now: OffsetDateTime,
) -> ServiceResult<ImportBatch> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let located = |e: postmortem::PostmortemError| {
        ServiceError::field(e.field, format!("line {}: {}", e.line, e.message))
    };
    if trimmed.starts_with(['{', '[']) {
        // An incident tool's or Parabol's JSON export; anything else starting with `{` is read
        // as a failforward export.
        if let Some(found) = tool_exports::from_json(trimmed) {
            return batch_of(&found.map_err(located)?, team, importer, now);
        }
    }
    if tool_exports::is_csv(file_name) {
        let found = tool_exports::from_csv(text, file_name).map_err(located)?;
        return batch_of(&found, team, importer, now);
    }
    if trimmed.starts_with('{') {
        let document = parse_document(trimmed)?;
        let mut loops = Vec::new();
        let mut errors = FieldErrors::default();
        for (t, team_data) in document.teams.iter().enumerate() {
            for (l, item) in team_data.loops.iter().enumerate() {
                let path = format!("teams[{t}].loops[{l}]");
                if let Some(imported) = from_export(team, importer, now, item, &path, &mut errors) {
                    loops.push(imported);
                }
            }
        }
        errors.check()?;
        let kept_sections = vec![Vec::new(); loops.len()];
        Ok(ImportBatch {
            loops,
            kept_sections,
        })
    } else if html::is_html(file_name, text) {
        // Lines of an HTML file are no help to its reader: a problem names the part at fault.
        let markdown = html::to_markdown(text);
        read_postmortem(&markdown, file_name, team, importer, now)
    } else {
        read_postmortem(text, file_name, team, importer, now)
    }
}

/// Loops of postmortems read from a tool's export, one each.
fn batch_of(
    found: &[Postmortem],
    team: TeamId,
    importer: UserId,
    now: OffsetDateTime,
) -> ServiceResult<ImportBatch> {
    let mut loops = Vec::new();
    let mut kept_sections = Vec::new();
    for pm in found {
        loops.push(from_postmortem(team, importer, pm, now)?);
        kept_sections.push(pm.unmapped());
    }
    Ok(ImportBatch {
        loops,
        kept_sections,
    })
}

/// A postmortem in Markdown or plain text, read leniently into one loop.
fn read_postmortem(
    text: &str,
    file_name: Option<&str>,
    team: TeamId,
    importer: UserId,
    now: OffsetDateTime,
) -> ServiceResult<ImportBatch> {
    let hints = postmortem::Hints {
        file_name,
        today: Some(now.date()),
    };
    let pm = postmortem::parse_with(text, hints)
        .map_err(|e| ServiceError::field(e.field, format!("line {}: {}", e.line, e.message)))?;
    Ok(ImportBatch {
        loops: vec![from_postmortem(team, importer, &pm, now)?],
        kept_sections: vec![pm.unmapped()],
    })
}

fn export_team_head(access: &TeamAccess) -> ExportTeam {
    let team = access.team();
    ExportTeam {
        slug: team.slug.to_string(),
        name: team.name.to_string(),
        description: team.description.clone(),
        loops: Vec::new(),
        review_sessions: Vec::new(),
    }
}

/// Reads a JSON export, naming the path, line and column of the first problem.
fn parse_document(text: &str) -> ServiceResult<ExportDocument> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let located = |path: String, error: &serde_json::Error| {
        // An error at the top, or under a key that is the empty string, has no name of its own.
        let field = if path == "." || path.is_empty() {
            "body".to_owned()
        } else {
            path
        };
        ServiceError::field(
            &field,
            format!("line {} column {}: {error}", error.line(), error.column()),
        )
    };
    let document: ExportDocument = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|e| located(e.path().to_string(), e.inner()))?;
    deserializer
        .end()
        .map_err(|e| located(".".to_owned(), &e))?;
    if document.format != EXPORT_FORMAT {
        return Err(ServiceError::field(
            "format",
            format!("must be {EXPORT_FORMAT:?}"),
        ));
    }
    if document.version == 0 || document.version > EXPORT_VERSION {
        return Err(ServiceError::field(
            "version",
            format!(
                "{} is not supported (this build reads 1 to {EXPORT_VERSION})",
                document.version
            ),
        ));
    }
    Ok(document)
}

fn check_text(errors: &mut FieldErrors, field: &str, value: &str, required: bool) -> String {
    errors
        .take(field, loops::long_text(value, required))
        .unwrap_or_default()
}

/// The texts of a loop that are not read into a domain type, checked as the forms check them
/// (no control characters, so nothing PostgreSQL cannot store; at most `LONG_TEXT_MAX`).
fn check_free_text(item: &ExportLoop, path: &str, errors: &mut FieldErrors) {
    let review = &item.review;
    let mut texts: Vec<(String, &str)> = vec![
        ("what_was_expected".into(), &item.what_was_expected),
        ("impact_affected".into(), &item.impact_affected),
        ("review.aar_intended".into(), &review.aar_intended),
        ("review.aar_actual".into(), &review.aar_actual),
        ("review.aar_difference".into(), &review.aar_difference),
        ("review.aar_lessons".into(), &review.aar_lessons),
        ("review.went_well".into(), &review.went_well),
        ("review.went_wrong".into(), &review.went_wrong),
        ("review.got_lucky".into(), &review.got_lucky),
    ];
    let optional = [
        (
            "type_override.reason",
            item.type_override.as_ref().map(|o| &o.reason),
        ),
        ("follow_up.note", item.follow_up.note.as_ref()),
        ("source_experiment_id", item.source_experiment_id.as_ref()),
        ("next_experiment_id", item.next_experiment_id.as_ref()),
    ];
    for (field, value) in optional {
        if let Some(value) = value {
            texts.push((field.into(), value));
        }
    }
    if let Some(classification) = &item.classification {
        for (i, reason) in classification.suggestion.reasons.iter().enumerate() {
            texts.push((format!("classification.suggestion.reasons[{i}]"), reason));
        }
    }
    for (i, h) in item.history.iter().enumerate() {
        texts.push((format!("history[{i}].note"), &h.note));
    }
    for (i, a) in item.additions.iter().enumerate() {
        texts.push((format!("additions[{i}].body"), &a.body));
    }
    for (i, f) in item.factors.iter().enumerate() {
        texts.push((format!("factors[{i}].description"), &f.description));
    }
    for (i, a) in item.accounts.iter().enumerate() {
        for (name, value) in [
            ("actions", &a.actions),
            ("observations", &a.observations),
            ("expectations", &a.expectations),
            ("assumptions", &a.assumptions),
            ("timeline_understanding", &a.timeline_understanding),
        ] {
            texts.push((format!("accounts[{i}].{name}"), value));
        }
    }
    for (i, a) in item.actions.iter().enumerate() {
        texts.push((format!("actions[{i}].dropped_reason"), &a.dropped_reason));
    }
    for (field, value) in texts {
        check_text(errors, &format!("{path}.{field}"), value, false);
    }
}

/// Validates one exported loop the way the forms would, naming `path.field` on a problem.
fn from_export(
    team: TeamId,
    importer: UserId,
    now: OffsetDateTime,
    item: &ExportLoop,
    path: &str,
    errors: &mut FieldErrors,
) -> Option<ImportedLoop> {
    let before = errors.is_empty();
    let title = errors
        .take(&format!("{path}.title"), loops::title(&item.title))
        .unwrap_or_default();
    let what_happened = check_text(
        errors,
        &format!("{path}.what_happened"),
        &item.what_happened,
        true,
    );
    let tags = errors
        .take(
            &format!("{path}.tags"),
            loops::tags(item.tags.iter().map(String::as_str)),
        )
        .unwrap_or_default();
    for (i, event) in item.timeline.iter().enumerate() {
        check_text(
            errors,
            &format!("{path}.timeline[{i}].description"),
            &event.description,
            true,
        );
    }
    for (i, action) in item.actions.iter().enumerate() {
        check_text(
            errors,
            &format!("{path}.actions[{i}].title"),
            &action.title,
            true,
        );
    }
    for (i, learning) in item.learnings.iter().enumerate() {
        check_text(
            errors,
            &format!("{path}.learnings[{i}].statement"),
            &learning.statement,
            true,
        );
    }
    if item.history.is_empty() {
        errors.push(&format!("{path}.history"), "must have the creation entry");
    }
    check_free_text(item, path, errors);
    // A loop's number carries its creation day above bit 47 (`store::loops::new_seq`, and
    // SQLite's full-text document ids): days before 1970 or far ahead do not fit.
    let fits =
        OffsetDateTime::UNIX_EPOCH <= item.created_at && item.created_at <= now + Duration::days(1);
    if !fits {
        errors.push(
            &format!("{path}.created_at"),
            "must lie between 1970-01-01 and today",
        );
    }
    // Without a day that fits, no number can be drawn for the loop, even to be thrown away with
    // the rest of a refused import (found by the import_json fuzz target).
    if !fits || (before && !errors.is_empty()) {
        return None;
    }
    let anon = item.anonymous;
    let review = &item.review;
    Some(ImportedLoop {
        new: NewLoop {
            id: LoopId::random(),
            // Imported records are history: no recurrence is inferred for them.
            recurrence_of: None,
            seq: crate::store::loops::new_seq(item.created_at),
            team_id: team,
            kind: item.kind,
            title,
            what_happened,
            what_was_expected: item.what_was_expected.clone(),
            happened_at: item.happened_at.map(|at| day_if(anon, at)),
            noticed_at: day_if(anon, item.noticed_at),
            impact_scale: item.impact_scale,
            impact_affected: item.impact_affected.clone(),
            author: (!anon).then_some(importer),
            reporter_secret_hash: None,
            created_at: day_if(anon, item.created_at),
            stage: item.stage,
            tags,
            source_experiment_id: item.source_experiment_id.clone(),
            classification: item
                .classification
                .as_ref()
                .map(|c| (c.answers, c.suggestion.clone())),
        },
        importer,
        stage_entered_at: day_if(anon, item.stage_entered_at),
        review: Review {
            aar_intended: review.aar_intended.clone(),
            aar_actual: review.aar_actual.clone(),
            aar_difference: review.aar_difference.clone(),
            aar_lessons: review.aar_lessons.clone(),
            went_well: review.went_well.clone(),
            went_wrong: review.went_wrong.clone(),
            got_lucky: review.got_lucky.clone(),
        },
        type_override: item
            .type_override
            .as_ref()
            .map(|o| (o.kind, o.reason.clone(), o.at)),
        follow_up: FollowUp {
            on: item.follow_up.on,
            recurred: item.follow_up.recurred,
            held: item.follow_up.held,
            note: item.follow_up.note.clone(),
            answered_at: item.follow_up.answered_at,
            answered_by_name: None,
        },
        next_experiment_id: item.next_experiment_id.clone(),
        history: item
            .history
            .iter()
            .map(|h| (h.from, h.to, day_if(anon, h.at), h.note.clone()))
            .collect(),
        additions: item
            .additions
            .iter()
            .map(|a| (a.body.clone(), a.added_on, a.by_reporter))
            .collect(),
        timeline: item
            .timeline
            .iter()
            .map(|e| (e.occurred_at, e.description.trim().to_owned()))
            .collect(),
        factors: item
            .factors
            .iter()
            .map(|f| (f.reason, f.description.clone(), f.added_at))
            .collect(),
        accounts: item
            .accounts
            .iter()
            .map(|a| ImportedAccount {
                anonymous: a.anonymous,
                actions: a.actions.clone(),
                observations: a.observations.clone(),
                expectations: a.expectations.clone(),
                assumptions: a.assumptions.clone(),
                timeline_understanding: a.timeline_understanding.clone(),
                added_on: a.added_on,
            })
            .collect(),
        learnings: item
            .learnings
            .iter()
            .map(|l| (l.statement.clone(), l.visibility, l.created_at))
            .collect(),
        actions: item
            .actions
            .iter()
            .map(|a| ImportedAction {
                title: a.title.clone(),
                due_on: a.due_on,
                status: a.status,
                dropped_reason: a.dropped_reason.clone(),
                created_at: a.created_at,
                closed_at: a.closed_at,
            })
            .collect(),
    })
}

/// Turns a postmortem into a loop: Summary (and kept sections) → what happened, Root causes and
/// Trigger → "why was there a difference", Resolution and Detection → "what actually happened",
/// Lessons → lessons and the three parts of "lessons learned", action table → actions, timeline
/// lines → timeline. Front matter may give `impact`, `tags`, `noticed_at`, `happened_at`,
/// `stage` and `anonymous: true`.
fn from_postmortem(
    team: TeamId,
    importer: UserId,
    pm: &Postmortem,
    now: OffsetDateTime,
) -> ServiceResult<ImportedLoop> {
    let mut errors = FieldErrors::default();
    let title = errors.take("title", loops::title(&pm.title));
    // A description longer than a loop's field is split at its sections: the rest becomes the
    // loop's additions, so nothing of the source is lost.
    let mut parts = split_long(&pm.description(), loops::LONG_TEXT_MAX);
    let first = if parts.is_empty() {
        String::new()
    } else {
        parts.remove(0)
    };
    let what_happened = errors.take("summary", loops::long_text(&first, true));
    // Front matter is read leniently: a value that does not fit is kept in the description.
    let impact_scale = Some(
        pm.front("impact")
            .or_else(|| pm.front("impact_scale"))
            .and_then(|raw| ImpactScale::parse(raw).ok())
            .unwrap_or(ImpactScale::Minor),
    );
    let tags: Option<Vec<String>> = Some(
        postmortem::front_list(pm.front("tags").unwrap_or(""))
            .iter()
            .filter_map(|t| loops::tag(t).ok())
            .fold(Vec::new(), |mut all, t| {
                if !all.contains(&t) {
                    all.push(t);
                }
                all
            }),
    );
    let instant = |raw: &str| parse_instant(raw).or_else(|_| parse_date(raw)).ok();
    let noticed_at = Some(
        pm.front("noticed_at")
            .or_else(|| pm.front("date"))
            .and_then(instant)
            .or_else(|| pm.timeline.first().map(|e| e.at))
            .or_else(|| pm.date.map(|d| d.midnight().assume_utc()))
            .unwrap_or(now),
    );
    let happened_at = Some(pm.front("happened_at").and_then(instant));
    let analysed = [&pm.root_causes, &pm.lessons, &pm.went_well, &pm.went_wrong]
        .iter()
        .any(|s| !s.is_empty());
    let stage = Some(
        pm.front("stage")
            .and_then(|raw| Stage::parse(raw).ok())
            .unwrap_or(if analysed {
                Stage::Analyse
            } else {
                Stage::Detect
            }),
    );
    for event in &pm.timeline {
        if let Err(e) = loops::statement(&event.text, 2000) {
            errors.push("timeline", format!("line {}: {}", event.line, e.0));
        }
    }
    for action in &pm.actions {
        if let Err(e) = loops::statement(&action.title, 500) {
            errors.push("action_items", format!("line {}: {}", action.line, e.0));
        }
    }
    let (
        Some(title),
        Some(what_happened),
        Some(impact_scale),
        Some(tags),
        Some(noticed_at),
        Some(happened_at),
        Some(stage),
    ) = (
        title,
        what_happened,
        impact_scale,
        tags,
        noticed_at,
        happened_at,
        stage,
    )
    else {
        return Err(errors.into());
    };
    errors.check()?;
    let anon = pm
        .front("anonymous")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let created_at = day_if(anon, now);
    let closed = |status: ActionStatus| (status != ActionStatus::Open).then_some(now);
    Ok(ImportedLoop {
        new: NewLoop {
            id: LoopId::random(),
            // Imported records are history: no recurrence is inferred for them.
            recurrence_of: None,
            seq: crate::store::loops::new_seq(created_at),
            team_id: team,
            kind: LoopKind::Failure,
            title,
            what_happened,
            what_was_expected: pm.expected.clone(),
            happened_at: happened_at.map(|at| day_if(anon, at)),
            noticed_at: day_if(anon, noticed_at),
            impact_scale,
            impact_affected: pm.impact_line(),
            author: (!anon).then_some(importer),
            reporter_secret_hash: None,
            created_at,
            stage,
            tags,
            source_experiment_id: None,
            classification: None,
        },
        importer,
        stage_entered_at: created_at,
        review: Review {
            aar_intended: String::new(),
            aar_actual: pm.review_actual(),
            aar_difference: pm.review_difference(),
            aar_lessons: pm.lessons.clone(),
            went_well: pm.went_well.clone(),
            went_wrong: pm.went_wrong.clone(),
            got_lucky: pm.got_lucky.clone(),
        },
        type_override: None,
        follow_up: FollowUp::default(),
        next_experiment_id: None,
        history: vec![(None, stage, created_at, "imported".to_owned())],
        additions: parts
            .into_iter()
            .map(|body| (body, created_at, false))
            .collect(),
        timeline: pm.timeline.iter().map(|e| (e.at, e.text.clone())).collect(),
        factors: Vec::new(),
        accounts: Vec::new(),
        learnings: Vec::new(),
        actions: pm
            .actions
            .iter()
            .map(|a| ImportedAction {
                title: a.title.clone(),
                due_on: None,
                status: a.status,
                dropped_reason: String::new(),
                created_at: now,
                closed_at: closed(a.status),
            })
            .collect(),
    })
}

/// Text cut into parts of at most `max` characters, at section breaks where it can.
fn split_long(text: &str, max: usize) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut current = String::new();
    for paragraph in text.split("\n\n") {
        let pieces: Vec<String> = if paragraph.chars().count() > max {
            let chars: Vec<char> = paragraph.chars().collect();
            chars.chunks(max).map(|c| c.iter().collect()).collect()
        } else {
            vec![paragraph.to_owned()]
        };
        for piece in pieces {
            if !current.is_empty() && current.chars().count() + 2 + piece.chars().count() > max {
                parts.push(std::mem::take(&mut current).trim().to_owned());
            }
            if !current.is_empty() {
                current.push_str("\n\n");
            }
            current.push_str(&piece);
        }
    }
    if !current.trim().is_empty() {
        parts.push(current.trim().to_owned());
    }
    parts
}

// --- rendering ---------------------------------------------------------------------------------

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn day(at: OffsetDateTime) -> String {
    at.date().to_string()
}

/// A YAML scalar: JSON's double-quoted strings are valid YAML.
fn yaml(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "\"\"".to_owned())
}

/// A file name from a title: lower-case words joined by hyphens.
fn file_stem(title: &str) -> String {
    let mut stem = String::new();
    for c in title.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            stem.push(c);
        } else if !stem.ends_with('-') && !stem.is_empty() {
            stem.push('-');
        }
        if stem.len() >= 60 {
            break;
        }
    }
    let stem = stem.trim_end_matches('-').to_owned();
    if stem.is_empty() {
        "loop".to_owned()
    } else {
        stem
    }
}

/// One loop as Markdown with YAML front matter, under the SRE template's headings so that the
/// Markdown importer reads it back.
pub fn loop_markdown(team: &ExportTeam, item: &ExportLoop) -> String {
    let mut out = String::new();
    out.push_str("---\n");
    out.push_str(&format!("title: {}\n", yaml(&item.title)));
    out.push_str(&format!("team: {}\n", yaml(&team.slug)));
    out.push_str(&format!("kind: {}\n", item.kind));
    out.push_str(&format!("stage: {}\n", item.stage));
    out.push_str(&format!("impact: {}\n", item.impact_scale));
    if item.anonymous {
        out.push_str("anonymous: true\n");
        out.push_str(&format!("date: {}\n", day(item.created_at)));
        out.push_str(&format!("noticed_at: {}\n", day(item.noticed_at)));
    } else {
        out.push_str(&format!("date: {}\n", rfc3339(item.created_at)));
        out.push_str(&format!("noticed_at: {}\n", rfc3339(item.noticed_at)));
    }
    if let Some(at) = item.happened_at {
        let value = if item.anonymous { day(at) } else { rfc3339(at) };
        out.push_str(&format!("happened_at: {value}\n"));
    }
    let failure_type = item
        .type_override
        .as_ref()
        .map(|o| o.kind)
        .or_else(|| item.classification.as_ref().and_then(|c| c.suggestion.kind));
    if let Some(kind) = failure_type {
        out.push_str(&format!("failure_type: {kind}\n"));
    }
    out.push_str(&format!(
        "tags: [{}]\n",
        item.tags
            .iter()
            .map(|t| yaml(t))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    out.push_str("---\n\n");
    out.push_str(&format!("# {}\n\n", item.title.replace('\n', " ")));
    let mut section = |heading: &str, body: &str| {
        if !body.trim().is_empty() {
            out.push_str(&format!("## {heading}\n\n{}\n\n", body.trim()));
        }
    };
    section("Summary", &item.what_happened);
    section("What was expected", &item.what_was_expected);
    section("Impact", &item.impact_affected);
    section("Root Causes", &item.review.aar_difference);
    section("Resolution", &item.review.aar_actual);
    section("Intended", &item.review.aar_intended);
    let factors: Vec<String> = item
        .factors
        .iter()
        .map(|f| format!("- **{}**: {}", f.reason.label(), f.description.trim()))
        .collect();
    section("Contributing factors", &factors.join("\n"));
    let mut lessons = item.review.aar_lessons.trim().to_owned();
    for learning in &item.learnings {
        lessons.push_str(&format!("\n\n- {}", learning.statement.trim()));
    }
    for (heading, body) in [
        ("What went well", &item.review.went_well),
        ("What went wrong", &item.review.went_wrong),
        ("Where we got lucky", &item.review.got_lucky),
    ] {
        if !body.trim().is_empty() {
            lessons.push_str(&format!("\n\n### {heading}\n\n{}", body.trim()));
        }
    }
    section("Lessons Learned", &lessons);
    if !item.actions.is_empty() {
        let mut table = String::from("| Action | Type | Owner | Status |\n|---|---|---|---|\n");
        for action in &item.actions {
            table.push_str(&format!(
                "| {} | | | {} |\n",
                action.title.replace('|', "\\|").replace('\n', " "),
                action.status
            ));
        }
        section("Action Items", &table);
    }
    let timeline: Vec<String> = item
        .timeline
        .iter()
        .map(|e| {
            format!(
                "- {} UTC: {}",
                e.occurred_at
                    .format(time::macros::format_description!(
                        "[year]-[month]-[day] [hour]:[minute]"
                    ))
                    .unwrap_or_default(),
                e.description.replace('\n', " ")
            )
        })
        .collect();
    section("Timeline", &timeline.join("\n"));
    let additions: Vec<String> = item
        .additions
        .iter()
        .map(|a| format!("- {}: {}", day(a.added_on), a.body.replace('\n', " ")))
        .collect();
    section("Later additions", &additions.join("\n"));
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// The Markdown files of a document: `team/YYYY-MM-DD-title-id.md`.
pub fn markdown_files(document: &ExportDocument) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for team in &document.teams {
        for item in &team.loops {
            let short: String = item.id.chars().take(8).collect();
            let name = format!(
                "{}/{}-{}-{short}.md",
                team.slug,
                day(item.created_at),
                file_stem(&item.title)
            );
            files.push((name, loop_markdown(team, item)));
        }
    }
    files
}

/// One row per loop: the shape spreadsheets want. No names.
pub fn loops_csv(document: &ExportDocument) -> ServiceResult<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let write = |writer: &mut csv::Writer<Vec<u8>>, row: Vec<String>| {
        writer.write_record(&row).map_err(ServiceError::internal)
    };
    write(
        &mut writer,
        [
            "team",
            "id",
            "title",
            "kind",
            "stage",
            "failure_type",
            "impact_scale",
            "anonymous",
            "created_on",
            "noticed_at",
            "tags",
            "factors",
            "learnings",
            "open_actions",
            "actions",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
    )?;
    for team in &document.teams {
        for item in &team.loops {
            let failure_type = item
                .type_override
                .as_ref()
                .map(|o| o.kind)
                .or_else(|| item.classification.as_ref().and_then(|c| c.suggestion.kind));
            write(
                &mut writer,
                vec![
                    team.slug.clone(),
                    item.id.clone(),
                    item.title.clone(),
                    item.kind.to_string(),
                    item.stage.to_string(),
                    failure_type.map(|k| k.to_string()).unwrap_or_default(),
                    item.impact_scale.to_string(),
                    item.anonymous.to_string(),
                    day(item.created_at),
                    rfc3339(item.noticed_at),
                    item.tags.join(" "),
                    item.factors.len().to_string(),
                    item.learnings.len().to_string(),
                    item.actions
                        .iter()
                        .filter(|a| a.status == ActionStatus::Open)
                        .count()
                        .to_string(),
                    item.actions.len().to_string(),
                ],
            )?;
        }
    }
    writer.flush().map_err(ServiceError::internal)?;
    let bytes = writer
        .into_inner()
        .map_err(|_| ServiceError::internal(anyhow::anyhow!("writing the CSV export")))?;
    String::from_utf8(bytes).map_err(ServiceError::internal)
}

/// Several files as one uncompressed tar archive.
pub fn tar_of(files: &[(String, String)], at: OffsetDateTime) -> ServiceResult<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(u64::try_from(at.unix_timestamp()).unwrap_or(0));
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, name, content.as_bytes())
            .map_err(ServiceError::internal)?;
    }
    let mut bytes = builder.into_inner().map_err(ServiceError::internal)?;
    bytes.flush().map_err(ServiceError::internal)?;
    Ok(bytes)
}

/// Renders a document in the chosen format. Markdown of one loop is a `.md` file; of several
/// (or none), a tar archive of one file per loop.
pub fn render(document: &ExportDocument, format: ExportFormat) -> ServiceResult<ExportFile> {
    let base = match document.teams.as_slice() {
        [team] => format!("failforward-{}", team.slug),
        _ => "failforward-organisation".to_owned(),
    };
    Ok(match format {
        ExportFormat::Json => ExportFile {
            content_type: "application/json",
            file_name: format!("{base}.json"),
            bytes: serde_json::to_vec_pretty(document).map_err(ServiceError::internal)?,
        },
        ExportFormat::Csv => ExportFile {
            content_type: "text/csv; charset=utf-8",
            file_name: format!("{base}.csv"),
            bytes: loops_csv(document)?.into_bytes(),
        },
        ExportFormat::Markdown => {
            let files = markdown_files(document);
            if document.scope == "loop" && files.len() == 1 {
                let (name, content) = files.into_iter().next().unwrap_or_default();
                ExportFile {
                    content_type: "text/markdown; charset=utf-8",
                    file_name: name.rsplit('/').next().unwrap_or("loop.md").to_owned(),
                    bytes: content.into_bytes(),
                }
            } else {
                ExportFile {
                    content_type: "application/x-tar",
                    file_name: format!("{base}.tar"),
                    bytes: tar_of(&files, document.exported_at)?,
                }
            }
        }
    })
}
