//! Smart risks: experiments with a test card, an affordable loss within the team's risk budget,
//! a sealed pre-mortem, the pilot checklist, and an outcome that opens a loop when the
//! hypothesis did not hold (domain.md §5).

use crate::domain::events::EventKind;
use time::{Duration, OffsetDateTime, Time};

use crate::domain::experiments::{
    self, Amount, Budget, BudgetPosition, Decision, Disposition, ExperimentStatus, Loss, Outcome,
    Quarter, ReputationScope, Reversibility, PILOT_CHECKLIST,
};
use crate::domain::loops::{
    self as loop_rules, Answer, FactorReason, ImpactScale, LoopKind, Questionnaire, Stage,
};
use crate::domain::text::single_line;
use crate::domain::when::{day_of, parse_date};
use crate::domain::{FactorId, LoopId, RecordId};
use crate::store::experiments::{
    AffordableLoss, BudgetRecord, Concluded, Criteria, DispositionRecord, ExperimentDesign,
    ExperimentRecord, LearningCard, NewConclusion, NewExperiment, OutcomeLoop, TestCard,
};
use crate::store::loops::{LoopDraft, NewFactor};
use crate::store::sealed::{RevealedItem, SealTier, SealedCounts};
use crate::store::StoreError;

use super::error::{FieldErrors, ServiceError, ServiceResult};
use super::sealed::MySealedItem;
use super::{Service, TeamAccess};

/// An experiment's design as typed.
#[derive(Debug, Clone)]
pub struct ExperimentInput {
    pub title: String,
    pub believe: String,
    pub verify_by: String,
    pub measure: String,
    pub right_if: String,
    pub new_territory: Answer,
    pub real_goal: Answer,
    pub informed: Answer,
    pub as_small_as_possible: Answer,
    pub currency: String,
    /// Money at risk: minor units from the API, or the form's text.
    pub loss_money: Amount,
    /// Effort at risk: tenths of a person-day from the API, or the form's text.
    pub loss_days: Amount,
    pub reversibility: Reversibility,
    pub reputation_scope: ReputationScope,
    pub kill_criteria: String,
    pub starts_on: String,
    pub decide_by: String,
}

/// The pre-mortem as one person may see it.
#[derive(Debug, Clone)]
pub struct PremortemView {
    pub revealed: bool,
    /// How many have written, never what (before the reveal).
    pub counts: SealedCounts,
    /// The viewer's own named reasons.
    pub mine: Vec<MySealedItem>,
    /// After the reveal: every reason with what it became.
    pub reasons: Vec<(RevealedItem, Option<DispositionRecord>)>,
}

/// An experiment with its budget position, pre-mortem and what stands between it and its start.
#[derive(Debug, Clone)]
pub struct ExperimentView {
    pub record: ExperimentRecord,
    pub quarter: Quarter,
    pub budget: Option<BudgetRecord>,
    /// What the team has committed in the quarter: with this experiment when it is running or
    /// concluded (as the portfolio counts it), without it while it is a draft.
    pub position: Option<BudgetPosition>,
    /// Whether `position` counts this experiment.
    pub includes_this: bool,
    /// Going past the remaining budget, so a lead must approve it.
    pub needs_approval: bool,
    pub premortem: PremortemView,
    /// Empty when the experiment may start.
    pub start_blockers: Vec<String>,
    pub can_reveal: bool,
    pub can_approve: bool,
    pub today: OffsetDateTime,
    /// The decision is overdue by the service's clock (`ExperimentRecord::overdue_on`).
    pub overdue: bool,
}

/// The team's experiments against its budget for a quarter.
#[derive(Debug, Clone)]
pub struct Portfolio {
    pub quarter: Quarter,
    pub budget: Option<BudgetRecord>,
    pub position: Option<BudgetPosition>,
    pub running: Vec<ExperimentRecord>,
    pub drafts: Vec<ExperimentRecord>,
    /// Running, with a decision date in the next 14 days.
    pub decisions_due: Vec<ExperimentRecord>,
    /// Running, past their decision date.
    pub overdue: Vec<ExperimentRecord>,
    pub concluded: Vec<ExperimentRecord>,
    pub budgets: Vec<BudgetRecord>,
    pub today: OffsetDateTime,
}

/// An experiment's title.
pub const TITLE_MAX: usize = 140;
/// An experiment's longer answers (belief, measure, conclusion…).
pub const TEXT_MAX: usize = 5000;

fn text(errors: &mut FieldErrors, field: &str, raw: &str) -> Option<String> {
    errors.take(field, loop_rules::statement(raw, TEXT_MAX))
}

fn parse_design(input: &ExperimentInput, errors: &mut FieldErrors) -> Option<ExperimentDesign> {
    let title = errors.take("title", single_line(&input.title, TITLE_MAX));
    let believe = text(errors, "believe", &input.believe);
    let verify_by = text(errors, "verify_by", &input.verify_by);
    let measure = text(errors, "measure", &input.measure);
    let right_if = text(errors, "right_if", &input.right_if);
    let new_territory = Some(input.new_territory);
    let real_goal = Some(input.real_goal);
    let informed = Some(input.informed);
    let small = Some(input.as_small_as_possible);
    let currency = errors.take("currency", experiments::currency(&input.currency));
    let money = errors.take("loss_money", experiments::money_minor_of(&input.loss_money));
    let days = errors.take(
        "loss_days",
        experiments::person_days_tenths_of(&input.loss_days),
    );
    let reversibility = Some(input.reversibility);
    let reputation = Some(input.reputation_scope);
    let kill = text(errors, "kill_criteria", &input.kill_criteria);
    let starts = errors.take("starts_on", parse_date(&input.starts_on));
    let decide = errors.take("decide_by", parse_date(&input.decide_by));
    if let (Some(s), Some(d)) = (starts, decide) {
        if d < s {
            errors.push("decide_by", "must not be before the start");
        }
    }
    Some(ExperimentDesign {
        title: title?,
        card: TestCard {
            believe: believe?,
            verify_by: verify_by?,
            measure: measure?,
            right_if: right_if?,
        },
        criteria: Criteria {
            new_territory: new_territory?,
            real_goal: real_goal?,
            informed: informed?,
            as_small_as_possible: small?,
        },
        loss: AffordableLoss {
            currency: currency?,
            loss: Loss {
                money_minor: money?,
                days_tenths: days?,
            },
            reversibility: reversibility?,
            reputation_scope: reputation?,
        },
        kill_criteria: kill?,
        starts_on: starts?,
        decide_by: decide?,
    })
}

fn id_of(raw: &str) -> ServiceResult<RecordId> {
    raw.parse().map_err(|_| ServiceError::NotFound)
}

fn not_a_draft() -> ServiceError {
    ServiceError::Conflict {
        field: None,
        message: "only a draft can change; this experiment has started or was cancelled".to_owned(),
    }
}

/// The experiment's criteria as the loop's classification questionnaire (the test card was
/// written beforehand, so "informed by what is known" answers "hypothesis written beforehand").
fn questionnaire(criteria: &Criteria) -> Questionnaire {
    Questionnaire {
        new_territory: criteria.new_territory,
        pursued_goal: criteria.real_goal,
        hypothesis_beforehand: criteria.informed,
        as_small_as_possible: criteria.as_small_as_possible,
        responded_quickly: Answer::Unsure,
        learned_from: Answer::Yes,
    }
}

impl Service {
    fn leads_only(&self, access: &TeamAccess, what: &str) -> ServiceResult<()> {
        if access.can_manage() {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(format!(
                "only the team's leads can {what}"
            )))
        }
    }

    /// Designs a new experiment (a draft), optionally as the next smart risk of a loop.
    pub async fn create_experiment(
        &self,
        access: &TeamAccess,
        input: &ExperimentInput,
        source_loop: Option<&str>,
    ) -> ServiceResult<ExperimentRecord> {
        let mut errors = FieldErrors::default();
        let design = parse_design(input, &mut errors);
        let source_loop = match source_loop.map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => match raw.parse::<LoopId>() {
                Ok(id) if self.store.loop_by_id(access.team().id, id).await?.is_some() => {
                    Some(id.to_string())
                }
                _ => {
                    errors.push("source_loop_id", "is not a loop of this team");
                    None
                }
            },
        };
        let Some(design) = design else {
            return Err(errors.into());
        };
        errors.check()?;
        let new = NewExperiment {
            id: RecordId::random(),
            team_id: access.team().id,
            design,
            premortem_box_id: RecordId::random(),
            source_loop_id: source_loop,
            created_by: access.actor(),
            created_at: self.now(),
        };
        self.store.create_experiment(&new).await?;
        self.store
            .experiment(access.team().id, new.id)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// Changes a draft's design; any approval given to the old design is withdrawn.
    pub async fn update_experiment(
        &self,
        access: &TeamAccess,
        id: &str,
        input: &ExperimentInput,
    ) -> ServiceResult<()> {
        let id = id_of(id)?;
        let mut errors = FieldErrors::default();
        let Some(design) = parse_design(input, &mut errors) else {
            return Err(errors.into());
        };
        errors.check()?;
        self.store
            .experiment(access.team().id, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        if self
            .store
            .update_draft(access.team().id, id, &design)
            .await?
        {
            Ok(())
        } else {
            Err(not_a_draft())
        }
    }

    async fn record(&self, access: &TeamAccess, id: &str) -> ServiceResult<ExperimentRecord> {
        self.store
            .experiment(access.team().id, id_of(id)?)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    async fn budget_check(
        &self,
        access: &TeamAccess,
        record: &ExperimentRecord,
    ) -> ServiceResult<(Quarter, Option<BudgetRecord>, Option<BudgetPosition>, bool)> {
        let quarter = Quarter::of(record.design.starts_on.date());
        let budget = self
            .store
            .budget(access.team().id, &quarter.to_string())
            .await?;
        let (from, until) = quarter.bounds();
        let currency = budget
            .as_ref()
            .map(|b| b.budget.currency.clone())
            .unwrap_or_else(|| record.design.loss.currency.clone());
        let committed = self
            .store
            .committed_loss(
                access.team().id,
                &currency,
                from.with_time(Time::MIDNIGHT).assume_utc(),
                until.with_time(Time::MIDNIGHT).assume_utc(),
                Some(record.id),
            )
            .await?;
        let loss = record.design.loss.loss;
        let (position, needs_approval) = match &budget {
            Some(b) => {
                let different_currency =
                    b.budget.currency != record.design.loss.currency && loss.money_minor > 0;
                (
                    Some(b.budget.position(committed)),
                    different_currency || b.budget.exceeded_by(committed, loss),
                )
            }
            // No budget for the quarter: nothing remains, so any loss needs a lead's approval.
            None => (None, loss.money_minor > 0 || loss.days_tenths > 0),
        };
        Ok((quarter, budget, position, needs_approval))
    }

    /// An experiment as the actor may see it.
    pub async fn experiment(&self, access: &TeamAccess, id: &str) -> ServiceResult<ExperimentView> {
        let record = self.record(access, id).await?;
        let (quarter, budget, others, needs_approval) = self.budget_check(access, &record).await?;
        // The budget check leaves this experiment out (what a draft would take from). Once it
        // runs, it is part of what the team has committed, as the portfolio counts it: a
        // concluded experiment's page must not say nothing is committed (issue 19).
        let includes_this = matches!(
            record.status,
            ExperimentStatus::Running | ExperimentStatus::Concluded
        );
        let position = match (&budget, others) {
            (Some(b), Some(others)) if includes_this => {
                let own = record.design.loss.loss;
                let same_currency = b.budget.currency == record.design.loss.currency;
                Some(b.budget.position(Loss {
                    money_minor: others.committed.money_minor
                        + if same_currency { own.money_minor } else { 0 },
                    days_tenths: others.committed.days_tenths + own.days_tenths,
                }))
            }
            (_, others) => others,
        };
        let sealed = self.sealed_box(record.premortem_box_id).await?;
        let revealed = sealed.revealed(SealTier::Open);
        let dispositions = self.store.dispositions(record.id).await?;
        let reasons: Vec<(RevealedItem, Option<DispositionRecord>)> = if revealed {
            self.revealed_items(record.premortem_box_id)
                .await?
                .into_iter()
                .map(|item| {
                    let disposition = dispositions.iter().find(|d| d.item_id == item.id).cloned();
                    (item, disposition)
                })
                .collect()
        } else {
            Vec::new()
        };
        let counts = self.sealed_counts(record.premortem_box_id).await?;
        let mut blockers = Vec::new();
        if record.status == ExperimentStatus::Draft {
            if record.pilot.is_none() {
                blockers.push("answer the pilot checklist".to_owned());
            }
            if !revealed {
                blockers.push(
                    "hold the pre-mortem: write reasons it could fail, then reveal them together"
                        .to_owned(),
                );
            } else if reasons.is_empty() {
                blockers.push("the pre-mortem has no reasons: it needs at least one".to_owned());
            } else if reasons.iter().any(|(_, d)| d.is_none()) {
                blockers.push(
                    "turn every pre-mortem reason into a mitigation or an accepted risk".to_owned(),
                );
            }
            if needs_approval && record.approval.is_none() {
                blockers.push(match &budget {
                    Some(_) => {
                        "it would go past the team's remaining risk budget: a lead must approve it"
                            .to_owned()
                    }
                    None => format!(
                        "the team has no risk budget for {quarter}: a lead must approve the loss"
                    ),
                });
            }
            if let Some(b) = &budget {
                if b.budget.currency != record.design.loss.currency
                    && record.design.loss.loss.money_minor > 0
                {
                    blockers.push(format!(
                        "state the money at risk in {} (the currency of the team's budget)",
                        b.budget.currency
                    ));
                }
            }
        }
        let mine = self
            .my_sealed_items(record.premortem_box_id, access.actor())
            .await?;
        Ok(ExperimentView {
            can_reveal: record.status == ExperimentStatus::Draft && !revealed,
            can_approve: access.can_manage() && record.status == ExperimentStatus::Draft,
            quarter,
            budget,
            position,
            includes_this,
            needs_approval,
            premortem: PremortemView {
                revealed,
                counts,
                mine,
                reasons,
            },
            start_blockers: blockers,
            today: day_of(self.now()),
            overdue: record.overdue_on(day_of(self.now())),
            record,
        })
    }

    pub async fn experiments(&self, access: &TeamAccess) -> ServiceResult<Vec<ExperimentRecord>> {
        Ok(self.store.experiments(access.team().id).await?)
    }

    /// Sets the team's affordable loss for a quarter (leads only).
    pub async fn set_risk_budget(
        &self,
        access: &TeamAccess,
        quarter: &str,
        currency: &str,
        money: &str,
        days: &str,
    ) -> ServiceResult<()> {
        self.leads_only(access, "set the risk budget")?;
        let mut errors = FieldErrors::default();
        let quarter = errors.take("quarter", Quarter::parse(quarter));
        let currency = errors.take("currency", experiments::currency(currency));
        let money = errors.take("money", experiments::money_minor(money));
        let days = errors.take("days", experiments::person_days_tenths(days));
        let (Some(quarter), Some(currency), Some(money_minor), Some(days_tenths)) =
            (quarter, currency, money, days)
        else {
            return Err(errors.into());
        };
        self.store
            .set_budget(
                access.team().id,
                &quarter.to_string(),
                &Budget {
                    currency,
                    money_minor,
                    days_tenths,
                },
                access.actor(),
                self.now(),
            )
            .await?;
        Ok(())
    }

    /// The portfolio: running experiments, committed loss against the budget, decisions due.
    pub async fn portfolio(
        &self,
        access: &TeamAccess,
        quarter: Option<&str>,
    ) -> ServiceResult<Portfolio> {
        let today = day_of(self.now());
        let quarter = match quarter.map(str::trim).filter(|q| !q.is_empty()) {
            Some(raw) => Quarter::parse(raw).map_err(|e| ServiceError::field("quarter", e.0))?,
            None => Quarter::of(today.date()),
        };
        let budgets = self.store.budgets(access.team().id).await?;
        let budget = budgets
            .iter()
            .find(|b| b.quarter == quarter.to_string())
            .cloned();
        let (from, until) = quarter.bounds();
        let position = match &budget {
            Some(b) => Some(
                b.budget.position(
                    self.store
                        .committed_loss(
                            access.team().id,
                            &b.budget.currency,
                            from.with_time(Time::MIDNIGHT).assume_utc(),
                            until.with_time(Time::MIDNIGHT).assume_utc(),
                            None,
                        )
                        .await?,
                ),
            ),
            None => None,
        };
        let all = self.store.experiments(access.team().id).await?;
        let soon = today + Duration::days(14);
        let of = |status: ExperimentStatus| all.iter().filter(move |e| e.status == status).cloned();
        Ok(Portfolio {
            quarter,
            budget,
            position,
            decisions_due: of(ExperimentStatus::Running)
                .filter(|e| e.design.decide_by >= today && e.design.decide_by <= soon)
                .collect(),
            overdue: of(ExperimentStatus::Running)
                .filter(|e| e.overdue_on(today))
                .collect(),
            running: of(ExperimentStatus::Running).collect(),
            drafts: of(ExperimentStatus::Draft).collect(),
            concluded: of(ExperimentStatus::Concluded).collect(),
            budgets,
            today,
        })
    }

    async fn draft(&self, access: &TeamAccess, id: &str) -> ServiceResult<ExperimentRecord> {
        let record = self.record(access, id).await?;
        if record.status != ExperimentStatus::Draft {
            return Err(not_a_draft());
        }
        Ok(record)
    }

    /// Writes a reason the experiment could fail, sealed until the pre-mortem is revealed.
    pub async fn write_premortem_reason(
        &self,
        access: &TeamAccess,
        id: &str,
        reason: &str,
        show_name: bool,
    ) -> ServiceResult<()> {
        let record = self.draft(access, id).await?;
        let reason =
            loop_rules::statement(reason, 2000).map_err(|e| ServiceError::field("reason", e.0))?;
        self.seal_item(
            record.premortem_box_id,
            access.actor(),
            show_name,
            SealTier::Open,
            "reason",
            &reason,
        )
        .await?;
        Ok(())
    }

    /// Takes back one of the actor's own named reasons before the reveal.
    pub async fn withdraw_premortem_reason(
        &self,
        access: &TeamAccess,
        id: &str,
        item: &str,
    ) -> ServiceResult<()> {
        let record = self.draft(access, id).await?;
        self.withdraw_sealed_item(record.premortem_box_id, id_of(item)?, access.actor())
            .await
    }

    /// Reveals every reason at once (the experiment's designer or a lead).
    pub async fn reveal_premortem(&self, access: &TeamAccess, id: &str) -> ServiceResult<()> {
        let view = self.experiment(access, id).await?;
        if view.record.status != ExperimentStatus::Draft {
            return Err(not_a_draft());
        }
        let designer = view.record.created_by == Some(access.actor());
        if !designer && !access.can_manage() {
            return Err(ServiceError::Forbidden(
                "only the experiment's designer or a lead can reveal the pre-mortem".to_owned(),
            ));
        }
        if view.premortem.counts.items == 0 {
            return Err(ServiceError::Conflict {
                field: Some("reason".to_owned()),
                message: "write at least one reason before the reveal".to_owned(),
            });
        }
        self.reveal_sealed(view.record.premortem_box_id, SealTier::Open)
            .await
    }

    /// Records what a revealed reason becomes: a mitigation or an accepted risk.
    pub async fn dispose_reason(
        &self,
        access: &TeamAccess,
        id: &str,
        item: &str,
        kind: Disposition,
        note: &str,
    ) -> ServiceResult<()> {
        let record = self.draft(access, id).await?;
        let item = id_of(item)?;
        let note =
            loop_rules::statement(note, 2000).map_err(|e| ServiceError::field("note", e.0))?;
        let revealed = self.revealed_items(record.premortem_box_id).await?;
        if !revealed.iter().any(|r| r.id == item) {
            return Err(ServiceError::NotFound);
        }
        self.store
            .set_disposition(record.id, item, kind, &note, access.actor(), self.now())
            .await?;
        Ok(())
    }

    /// Answers the pilot checklist (every question, yes or no).
    pub async fn answer_pilot(
        &self,
        access: &TeamAccess,
        id: &str,
        answers: &[(String, String)],
    ) -> ServiceResult<()> {
        let record = self.draft(access, id).await?;
        let mut errors = FieldErrors::default();
        let mut parsed = Vec::new();
        for (key, _) in PILOT_CHECKLIST {
            match answers
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.trim())
            {
                Some("yes") => parsed.push((key.to_owned(), true)),
                Some("no") => parsed.push((key.to_owned(), false)),
                _ => errors.push(key, "answer yes or no"),
            }
        }
        errors.check()?;
        if self
            .store
            .save_pilot(access.team().id, record.id, &parsed)
            .await?
        {
            Ok(())
        } else {
            Err(not_a_draft())
        }
    }

    /// A lead explicitly approves going past the remaining budget.
    pub async fn approve_experiment(
        &self,
        access: &TeamAccess,
        id: &str,
        note: &str,
    ) -> ServiceResult<()> {
        if !access.is_lead() {
            return Err(ServiceError::Forbidden(
                "only a lead of the team can approve it".to_owned(),
            ));
        }
        let record = self.draft(access, id).await?;
        let note = loop_rules::statement(note, 2000)
            .map_err(|_| ServiceError::field("note", "say why the loss is acceptable"))?;
        if self
            .store
            .approve_experiment(
                access.team().id,
                record.id,
                access.actor(),
                self.now(),
                &note,
            )
            .await?
        {
            Ok(())
        } else {
            Err(not_a_draft())
        }
    }

    /// Starts the experiment when nothing stands in the way.
    pub async fn start_experiment(&self, access: &TeamAccess, id: &str) -> ServiceResult<()> {
        let view = self.experiment(access, id).await?;
        if view.record.status != ExperimentStatus::Draft {
            return Err(not_a_draft());
        }
        if !view.start_blockers.is_empty() {
            return Err(ServiceError::Conflict {
                field: Some("status".to_owned()),
                message: format!("Before it starts: {}.", view.start_blockers.join("; ")),
            });
        }
        if self
            .store
            .start_experiment(
                access.team().id,
                view.record.id,
                self.now(),
                &[self.emitter(access).experiment(
                    EventKind::ExperimentStarted,
                    access.team().id,
                    view.record.id,
                    None,
                )],
            )
            .await?
        {
            Ok(())
        } else {
            Err(not_a_draft())
        }
    }

    pub async fn cancel_experiment(&self, access: &TeamAccess, id: &str) -> ServiceResult<()> {
        let record = self.draft(access, id).await?;
        if self
            .store
            .cancel_experiment(access.team().id, record.id)
            .await?
        {
            Ok(())
        } else {
            Err(not_a_draft())
        }
    }

    /// Records the outcome, the learning card and the decision. A refuted or inconclusive test
    /// opens a loop at Analyse, exactly once: a retry with the same outcome returns the same
    /// loop, and concurrent requests cannot open two.
    pub async fn conclude_experiment(
        &self,
        access: &TeamAccess,
        id: &str,
        outcome: Outcome,
        card: &LearningCard,
        decision: Decision,
    ) -> ServiceResult<(ExperimentRecord, Option<String>)> {
        let record = self.record(access, id).await?;
        let mut errors = FieldErrors::default();
        let card = LearningCard {
            believed: text(&mut errors, "believed", &card.believed).unwrap_or_default(),
            observed: text(&mut errors, "observed", &card.observed).unwrap_or_default(),
            learned: text(&mut errors, "learned", &card.learned).unwrap_or_default(),
            therefore: text(&mut errors, "therefore", &card.therefore).unwrap_or_default(),
        };
        errors.check()?;
        let now = self.now();
        let emitter = self.emitter(access);
        let mut opens = outcome
            .opens_a_loop()
            .then(|| self.outcome_loop(access, &record, outcome, &card, now));
        if let Some(opens) = opens.as_mut() {
            let logged = emitter.loop_logged(&opens.new_loop);
            opens.new_loop.events.push(logged);
        }
        let concluded = emitter.experiment(
            EventKind::ExperimentConcluded,
            access.team().id,
            record.id,
            Some(outcome.as_str()),
        );
        let conclusion = NewConclusion {
            outcome,
            card,
            decision,
            by: access.actor(),
            at: now,
        };
        let loop_id = match self
            .store
            .conclude_experiment(
                access.team().id,
                record.id,
                &conclusion,
                opens.as_ref(),
                &[concluded],
            )
            .await
        {
            Ok(Concluded::Now(loop_id)) => loop_id,
            Ok(Concluded::Already(previous, loop_id)) if previous == outcome => loop_id,
            Ok(Concluded::Already(previous, _)) => {
                return Err(ServiceError::Conflict {
                    field: Some("outcome".to_owned()),
                    message: format!(
                        "this experiment was already concluded as {}",
                        previous.as_str()
                    ),
                })
            }
            Ok(Concluded::NotRunning) => {
                return Err(ServiceError::Conflict {
                    field: Some("status".to_owned()),
                    message: "only a running experiment can be concluded".to_owned(),
                })
            }
            Err(StoreError::NotFound) => return Err(ServiceError::NotFound),
            Err(other) => return Err(other.into()),
        };
        let record = self.record(access, &record.id.to_string()).await?;
        Ok((record, loop_id))
    }

    fn outcome_loop(
        &self,
        access: &TeamAccess,
        record: &ExperimentRecord,
        outcome: Outcome,
        card: &LearningCard,
        now: OffsetDateTime,
    ) -> OutcomeLoop {
        let d = &record.design;
        let id = LoopId::random();
        let answers = questionnaire(&d.criteria);
        let suggestion = loop_rules::suggest_type(&answers, &[FactorReason::HypothesisTesting]);
        let verdict = match outcome {
            Outcome::Refuted => "was refuted",
            _ => "was not confirmed (inconclusive)",
        };
        let what_happened = format!(
            "The experiment **{}** {verdict}.\n\n### Test card\n\n- **We believed that** {}\n- **To verify that, we** {}\n- **and measured** {}\n- **We were right if** {}\n\n### Learning card\n\n- **We observed** {}\n- **From that we learned** {}\n- **Therefore, we will** {}",
            d.title, d.card.believe, d.card.verify_by, d.card.measure, d.card.right_if,
            card.observed, card.learned, card.therefore
        );
        let title: String = format!("Experiment: {}", d.title)
            .chars()
            .take(140)
            .collect();
        OutcomeLoop {
            new_loop: LoopDraft {
                id,
                team_id: access.team().id,
                kind: LoopKind::Experiment,
                title,
                what_happened,
                what_was_expected: format!("We are right if {}", d.card.right_if),
                happened_at: record.started_at,
                noticed_at: now,
                impact_scale: ImpactScale::Minor,
                impact_affected: String::new(),
                author: Some(access.actor()),
                reporter_secret_hash: None,
                created_at: now,
                stage: Stage::Analyse,
                tags: vec!["experiment".to_owned()],
                source_experiment_id: Some(record.id.to_string()),
                classification: Some((answers, suggestion)),
                recurrence_of: None,
                events: Vec::new(),
            },
            factor: NewFactor {
                id: FactorId::random(),
                loop_id: id,
                reason: FactorReason::HypothesisTesting,
                description: format!("We believed that {} — the test {verdict}.", d.card.believe),
                added_by: access.actor(),
                added_at: now,
            },
        }
    }
}
