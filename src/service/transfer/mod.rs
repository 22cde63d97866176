//! Export and import ("your data is yours"): a loop, a team or the organisation as versioned JSON
//! (docs/export-schema.md), Markdown with YAML front matter (one file per loop; a tar archive for
//! several) or CSV; imports of that JSON and of Markdown postmortems.
//!
//! Exports keep the access rules: a team's data through its `TeamAccess`, the organisation's for
//! admins only. They carry no person's name at all — not the author of a named loop, not who
//! added a factor, wrote an account or owns an action: a file leaves the product's access rules,
//! and a list of who was involved in which failure is performance-review material. Anonymous
//! loops keep only the day of their own dates.
//!
//! `document` holds the export schema, `import` reads imports without IO, `render` writes
//! Markdown, CSV and tar; this module holds the use cases, which check access and call the store.

mod document;
mod import;
mod render;

pub use document::*;
pub use import::*;
pub use render::*;

use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::domain::loops::Stage;
use crate::domain::when::day_of;
use crate::domain::LoopId;
use crate::store::loops::{LoopFilter, LoopRecord};
use crate::store::transfer::ImportedLoop;

use super::error::{ServiceError, ServiceResult};
use super::{Actor, Service, TeamAccess};

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
        let reader = self.for_heavy_reads().await;
        let record = reader
            .store
            .loop_by_id(access.team().id, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let mut team = export_team_head(access);
        team.loops.push(reader.export_record(record).await?);
        self.record_export(
            access.actor(),
            &format!("loop {id} of team {}", access.team().slug),
        )
        .await?;
        Ok(self.document("loop", vec![team]))
    }

    /// Every loop of a team.
    pub async fn export_team(&self, access: &TeamAccess) -> ServiceResult<ExportDocument> {
        let team = self
            .for_heavy_reads()
            .await
            .export_team_data(access)
            .await?;
        self.record_export(access.actor(), &format!("team {}", access.team().slug))
            .await?;
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
        let reader = self.for_heavy_reads().await;
        for (done, team) in all.into_iter().enumerate() {
            let access = self.team_access(actor, team.slug.as_str()).await?;
            teams.push(reader.export_team_data(&access).await?);
            progress(done + 1, total);
        }
        teams.sort_by(|a, b| a.slug.cmp(&b.slug));
        self.record_export(actor.id(), "organisation").await?;
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
        self.import_batch(access, batch, dry_run).await
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
        self.import_batch(access, batch, dry_run).await
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
        access: &TeamAccess,
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
            let entry = self.audit_entry(
                Some(access.actor()),
                crate::domain::audit::AuditAction::Imported,
                format!("team {}", access.team().slug),
                format!("{} loops", loops.len()),
            );
            self.store.import_loops(&loops, &entry).await?;
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
                    let report = self.import_batch(access, batch, hold).await?;
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
