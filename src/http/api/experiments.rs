//! `/api/v1/teams/{slug}/experiments…`, the portfolio and the risk budget.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::rfc3339;
use crate::domain::experiments::{
    Amount, Decision, Disposition, ExperimentStatus, Outcome, ReputationScope, Reversibility,
};
use crate::domain::loops::Answer;
use crate::domain::records::experiments::{ExperimentRecord, LearningCard};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiTeam};
use crate::http::AppState;
use crate::service::experiments::{ExperimentInput, ExperimentView, Portfolio};
use crate::service::TeamAccess;

fn day(at: time::OffsetDateTime) -> String {
    at.format(time::macros::format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExperimentBody {
    pub title: String,
    /// Test card: "We believe that …"
    pub believe: String,
    /// "To verify that, we will …"
    pub verify_by: String,
    /// "… and measure …"
    pub measure: String,
    /// "We are right if …"
    pub right_if: String,
    /// Is it new territory?
    pub new_territory: Answer,
    /// Does it pursue a genuine goal?
    pub real_goal: Answer,
    /// Is it informed by what is known (hypothesis-driven)?
    pub informed: Answer,
    /// Is it as small as it can be and still inform?
    pub as_small_as_possible: Answer,
    /// ISO 4217, e.g. EUR.
    pub currency: String,
    /// Money at risk, in minor units (cents).
    pub money_minor: u64,
    /// Effort at risk, in tenths of a person-day (25 = 2.5 days).
    pub days_tenths: u64,
    pub reversibility: Reversibility,
    pub reputation_scope: ReputationScope,
    /// When to stop early.
    pub kill_criteria: String,
    /// YYYY-MM-DD.
    pub starts_on: String,
    /// YYYY-MM-DD: when the outcome is due.
    pub decide_by: String,
    /// The loop whose Continue stage this experiment is the next smart risk of.
    pub source_loop_id: Option<String>,
}

impl ExperimentBody {
    fn input(&self) -> ExperimentInput {
        ExperimentInput {
            title: self.title.clone(),
            believe: self.believe.clone(),
            verify_by: self.verify_by.clone(),
            measure: self.measure.clone(),
            right_if: self.right_if.clone(),
            new_territory: self.new_territory,
            real_goal: self.real_goal,
            informed: self.informed,
            as_small_as_possible: self.as_small_as_possible,
            currency: self.currency.clone(),
            loss_money: Amount::Exact(self.money_minor),
            loss_days: Amount::Exact(self.days_tenths),
            reversibility: self.reversibility,
            reputation_scope: self.reputation_scope,
            kill_criteria: self.kill_criteria.clone(),
            starts_on: self.starts_on.clone(),
            decide_by: self.decide_by.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestCardOut {
    pub believe: String,
    pub verify_by: String,
    pub measure: String,
    pub right_if: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CriteriaOut {
    pub new_territory: Answer,
    pub real_goal: Answer,
    pub informed: Answer,
    pub as_small_as_possible: Answer,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AffordableLossOut {
    pub currency: String,
    pub money_minor: i64,
    pub days_tenths: i64,
    pub reversibility: Reversibility,
    pub reputation_scope: ReputationScope,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalOut {
    pub by: Option<String>,
    pub at: String,
    pub note: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConclusionOut {
    pub outcome: Outcome,
    pub believed: String,
    pub observed: String,
    pub learned: String,
    pub therefore: String,
    pub decision: Decision,
    pub at: String,
    pub by: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExperimentSummaryOut {
    pub id: String,
    pub title: String,
    pub status: ExperimentStatus,
    pub test_card: TestCardOut,
    pub criteria: CriteriaOut,
    pub affordable_loss: AffordableLossOut,
    pub kill_criteria: String,
    pub starts_on: String,
    pub decide_by: String,
    /// Key → true for yes; absent until answered.
    pub pilot: Option<BTreeMap<String, bool>>,
    pub approval: Option<ApprovalOut>,
    pub started_at: Option<String>,
    pub source_loop_id: Option<String>,
    pub conclusion: Option<ConclusionOut>,
    /// The loop a refuted or inconclusive outcome opened.
    pub outcome_loop_id: Option<String>,
    pub created_by: Option<String>,
    pub created_at: String,
}

pub(crate) fn summary(r: &ExperimentRecord) -> ExperimentSummaryOut {
    let d = &r.design;
    ExperimentSummaryOut {
        id: r.id.to_string(),
        title: d.title.clone(),
        status: r.status,
        test_card: TestCardOut {
            believe: d.card.believe.clone(),
            verify_by: d.card.verify_by.clone(),
            measure: d.card.measure.clone(),
            right_if: d.card.right_if.clone(),
        },
        criteria: CriteriaOut {
            new_territory: d.criteria.new_territory,
            real_goal: d.criteria.real_goal,
            informed: d.criteria.informed,
            as_small_as_possible: d.criteria.as_small_as_possible,
        },
        affordable_loss: AffordableLossOut {
            currency: d.loss.currency.clone(),
            money_minor: d.loss.loss.money_minor,
            days_tenths: d.loss.loss.days_tenths,
            reversibility: d.loss.reversibility,
            reputation_scope: d.loss.reputation_scope,
        },
        kill_criteria: d.kill_criteria.clone(),
        starts_on: day(d.starts_on),
        decide_by: day(d.decide_by),
        pilot: r.pilot.as_ref().map(|p| p.iter().cloned().collect()),
        approval: r.approval.as_ref().map(|a| ApprovalOut {
            by: a.by_name.clone(),
            at: rfc3339(a.at),
            note: a.note.clone(),
        }),
        started_at: r.started_at.map(rfc3339),
        source_loop_id: r.source_loop_id.clone(),
        conclusion: r.conclusion.as_ref().map(|c| ConclusionOut {
            outcome: c.outcome,
            believed: c.card.believed.clone(),
            observed: c.card.observed.clone(),
            learned: c.card.learned.clone(),
            therefore: c.card.therefore.clone(),
            decision: c.decision,
            at: rfc3339(c.at),
            by: c.by_name.clone(),
        }),
        outcome_loop_id: r.outcome_loop_id.clone(),
        created_by: r.created_by_name.clone(),
        created_at: rfc3339(r.created_at),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BudgetPositionOut {
    pub quarter: String,
    pub currency: Option<String>,
    pub budget_money_minor: Option<i64>,
    pub budget_days_tenths: Option<i64>,
    pub committed_money_minor: Option<i64>,
    pub committed_days_tenths: Option<i64>,
    pub remaining_money_minor: Option<i64>,
    pub remaining_days_tenths: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReasonOut {
    pub id: String,
    pub text: String,
    /// Only when the writer chose to show their name.
    pub by: Option<String>,
    pub disposition: Option<Disposition>,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PremortemOut {
    pub revealed: bool,
    /// How many people have written reasons (never what, before the reveal).
    pub writers: i64,
    pub reasons_written: i64,
    /// Only after the reveal.
    pub reasons: Vec<ReasonOut>,
    /// The caller's own named reasons.
    pub mine: Vec<ReasonOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExperimentOut {
    #[serde(flatten)]
    pub experiment: ExperimentSummaryOut,
    /// The quarter of its start: what running and concluded experiments have committed.
    pub budget: BudgetPositionOut,
    /// Whether `budget`'s committed figures count this experiment (running or concluded, as
    /// the portfolio does); a draft's leave it out, to show what it would take from.
    pub budget_includes_this: bool,
    /// It goes past the remaining budget, so a lead must approve it.
    pub needs_approval: bool,
    pub premortem: PremortemOut,
    /// What stands between the draft and its start.
    pub start_blockers: Vec<String>,
}

fn experiment_out(view: ExperimentView) -> ExperimentOut {
    let budget = BudgetPositionOut {
        quarter: view.quarter.to_string(),
        currency: view.budget.as_ref().map(|b| b.budget.currency.clone()),
        budget_money_minor: view.budget.as_ref().map(|b| b.budget.money_minor),
        budget_days_tenths: view.budget.as_ref().map(|b| b.budget.days_tenths),
        committed_money_minor: view.position.as_ref().map(|p| p.committed.money_minor),
        committed_days_tenths: view.position.as_ref().map(|p| p.committed.days_tenths),
        remaining_money_minor: view.position.as_ref().map(|p| p.remaining_money_minor),
        remaining_days_tenths: view.position.as_ref().map(|p| p.remaining_days_tenths),
    };
    ExperimentOut {
        experiment: summary(&view.record),
        budget,
        budget_includes_this: view.includes_this,
        needs_approval: view.needs_approval,
        premortem: PremortemOut {
            revealed: view.premortem.revealed,
            writers: view.premortem.counts.open_participants,
            reasons_written: view.premortem.counts.items,
            reasons: view
                .premortem
                .reasons
                .into_iter()
                .map(|(item, d)| ReasonOut {
                    id: item.id.to_string(),
                    text: item.text,
                    by: item.author_name,
                    disposition: d.as_ref().map(|d| d.kind),
                    note: d.map(|d| d.note),
                })
                .collect(),
            mine: view
                .premortem
                .mine
                .into_iter()
                .map(|m| ReasonOut {
                    id: m.id.to_string(),
                    text: m.text,
                    by: None,
                    disposition: None,
                    note: None,
                })
                .collect(),
        },
        start_blockers: view.start_blockers,
    }
}

async fn view_json(
    state: &AppState,
    access: &TeamAccess,
    id: &str,
) -> Result<Json<ExperimentOut>, ApiError> {
    Ok(Json(experiment_out(
        state.service.experiment(access, id).await?,
    )))
}

/// Designs a new experiment (a draft).
#[utoipa::path(post, path = "/api/v1/teams/{slug}/experiments", tag = "experiments", request_body = ExperimentBody,
    params(("slug" = String, Path)),
    responses((status = 201, body = ExperimentOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    ApiJson(body): ApiJson<ExperimentBody>,
) -> Result<(StatusCode, Json<ExperimentOut>), ApiError> {
    let record = state
        .service
        .create_experiment(&access, &body.input(), body.source_loop_id.as_deref())
        .await?;
    Ok((
        StatusCode::CREATED,
        view_json(&state, &access, &record.id.to_string()).await?,
    ))
}

/// The team's experiments.
#[utoipa::path(get, path = "/api/v1/teams/{slug}/experiments", tag = "experiments",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<ExperimentSummaryOut>), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
) -> Result<Json<Vec<ExperimentSummaryOut>>, ApiError> {
    let all = state.service.experiments(&access).await?;
    Ok(Json(all.iter().map(summary).collect()))
}

/// One experiment with its budget position, pre-mortem and start blockers.
#[utoipa::path(get, path = "/api/v1/teams/{slug}/experiments/{experiment_id}", tag = "experiments",
    params(("slug" = String, Path), ("experiment_id" = String, Path)),
    responses((status = 200, body = ExperimentOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn show(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, experiment_id)): Path<(String, String)>,
) -> Result<Json<ExperimentOut>, ApiError> {
    view_json(&state, &access, &experiment_id).await
}

/// Changes a draft's design (withdraws an earlier approval).
#[utoipa::path(put, path = "/api/v1/teams/{slug}/experiments/{experiment_id}", tag = "experiments", request_body = ExperimentBody,
    params(("slug" = String, Path), ("experiment_id" = String, Path)),
    responses((status = 200, body = ExperimentOut), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn update(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, experiment_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ExperimentBody>,
) -> Result<Json<ExperimentOut>, ApiError> {
    state
        .service
        .update_experiment(&access, &experiment_id, &body.input())
        .await?;
    view_json(&state, &access, &experiment_id).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    pub reason: String,
    /// Show your name beside it after the reveal.
    #[serde(default)]
    pub show_name: bool,
}

/// Writes a reason it could fail, sealed until the reveal.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/experiments/{experiment_id}/premortem/reasons", tag = "experiments", request_body = ReasonBody,
    params(("slug" = String, Path), ("experiment_id" = String, Path)),
    responses((status = 201, body = ExperimentOut), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn write_reason(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, experiment_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> Result<(StatusCode, Json<ExperimentOut>), ApiError> {
    state
        .service
        .write_premortem_reason(&access, &experiment_id, &body.reason, body.show_name)
        .await?;
    Ok((
        StatusCode::CREATED,
        view_json(&state, &access, &experiment_id).await?,
    ))
}

/// Takes back one of your own named reasons before the reveal.
#[utoipa::path(delete, path = "/api/v1/teams/{slug}/experiments/{experiment_id}/premortem/reasons/{item_id}", tag = "experiments",
    params(("slug" = String, Path), ("experiment_id" = String, Path), ("item_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn withdraw_reason(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, experiment_id, item_id)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .withdraw_premortem_reason(&access, &experiment_id, &item_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reveals every reason at once (the designer or a lead).
#[utoipa::path(post, path = "/api/v1/teams/{slug}/experiments/{experiment_id}/premortem/reveal", tag = "experiments",
    params(("slug" = String, Path), ("experiment_id" = String, Path)),
    responses((status = 200, body = ExperimentOut), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn reveal(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, experiment_id)): Path<(String, String)>,
) -> Result<Json<ExperimentOut>, ApiError> {
    state
        .service
        .reveal_premortem(&access, &experiment_id)
        .await?;
    view_json(&state, &access, &experiment_id).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DispositionBody {
    pub kind: Disposition,
    /// The mitigation, or why the risk is accepted.
    pub note: String,
}

/// Turns a revealed reason into a mitigation or an accepted risk.
#[utoipa::path(put, path = "/api/v1/teams/{slug}/experiments/{experiment_id}/premortem/reasons/{item_id}/disposition", tag = "experiments", request_body = DispositionBody,
    params(("slug" = String, Path), ("experiment_id" = String, Path), ("item_id" = String, Path)),
    responses((status = 200, body = ExperimentOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn dispose(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, experiment_id, item_id)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<DispositionBody>,
) -> Result<Json<ExperimentOut>, ApiError> {
    state
        .service
        .dispose_reason(&access, &experiment_id, &item_id, body.kind, &body.note)
        .await?;
    view_json(&state, &access, &experiment_id).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PilotBody {
    /// Every question of the pilot checklist: `typical_conditions`, `representative`,
    /// `learn_not_prove`, `goal_understood`, `rewards_independent`, `changes_planned` → yes/no.
    pub answers: BTreeMap<String, String>,
}

/// Answers the pilot checklist.
#[utoipa::path(put, path = "/api/v1/teams/{slug}/experiments/{experiment_id}/pilot", tag = "experiments", request_body = PilotBody,
    params(("slug" = String, Path), ("experiment_id" = String, Path)),
    responses((status = 200, body = ExperimentOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn pilot(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, experiment_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<PilotBody>,
) -> Result<Json<ExperimentOut>, ApiError> {
    let answers: Vec<(String, String)> = body.answers.into_iter().collect();
    state
        .service
        .answer_pilot(&access, &experiment_id, &answers)
        .await?;
    view_json(&state, &access, &experiment_id).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    pub note: String,
}

/// A lead approves going past the remaining budget.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/experiments/{experiment_id}/approval", tag = "experiments", request_body = NoteBody,
    params(("slug" = String, Path), ("experiment_id" = String, Path)),
    responses((status = 200, body = ExperimentOut), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn approve(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, experiment_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<NoteBody>,
) -> Result<Json<ExperimentOut>, ApiError> {
    state
        .service
        .approve_experiment(&access, &experiment_id, &body.note)
        .await?;
    view_json(&state, &access, &experiment_id).await
}

/// Starts the experiment (409 lists what stands in the way).
#[utoipa::path(post, path = "/api/v1/teams/{slug}/experiments/{experiment_id}/start", tag = "experiments",
    params(("slug" = String, Path), ("experiment_id" = String, Path)),
    responses((status = 200, body = ExperimentOut), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn start(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, experiment_id)): Path<(String, String)>,
) -> Result<Json<ExperimentOut>, ApiError> {
    state
        .service
        .start_experiment(&access, &experiment_id)
        .await?;
    view_json(&state, &access, &experiment_id).await
}

/// Cancels a draft.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/experiments/{experiment_id}/cancel", tag = "experiments",
    params(("slug" = String, Path), ("experiment_id" = String, Path)),
    responses((status = 200, body = ExperimentOut), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn cancel(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, experiment_id)): Path<(String, String)>,
) -> Result<Json<ExperimentOut>, ApiError> {
    state
        .service
        .cancel_experiment(&access, &experiment_id)
        .await?;
    view_json(&state, &access, &experiment_id).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConclusionBody {
    pub outcome: Outcome,
    /// Learning card: "We believed that …"
    pub believed: String,
    /// "We observed …"
    pub observed: String,
    /// "From that we learned …"
    pub learned: String,
    /// "Therefore, we will …"
    pub therefore: String,
    pub decision: Decision,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConcludedOut {
    pub experiment: ExperimentSummaryOut,
    /// The loop a refuted or inconclusive outcome opened at Analyse (the same one on a retry).
    pub loop_id: Option<String>,
}

/// Records the outcome. Refuted or inconclusive opens a loop at Analyse, exactly once.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/experiments/{experiment_id}/conclusion", tag = "experiments", request_body = ConclusionBody,
    params(("slug" = String, Path), ("experiment_id" = String, Path)),
    responses((status = 200, body = ConcludedOut), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn conclude(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, experiment_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ConclusionBody>,
) -> Result<Json<ConcludedOut>, ApiError> {
    let (record, loop_id) = state
        .service
        .conclude_experiment(
            &access,
            &experiment_id,
            body.outcome,
            &LearningCard {
                believed: body.believed,
                observed: body.observed,
                learned: body.learned,
                therefore: body.therefore,
            },
            body.decision,
        )
        .await?;
    Ok(Json(ConcludedOut {
        experiment: summary(&record),
        loop_id,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PortfolioParams {
    /// e.g. 2026-Q3; the current quarter when absent.
    pub quarter: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PortfolioOut {
    pub budget: BudgetPositionOut,
    pub running: Vec<ExperimentSummaryOut>,
    pub drafts: Vec<ExperimentSummaryOut>,
    pub decisions_due: Vec<ExperimentSummaryOut>,
    pub overdue: Vec<ExperimentSummaryOut>,
    pub concluded: Vec<ExperimentSummaryOut>,
}

fn portfolio_out(p: Portfolio) -> PortfolioOut {
    PortfolioOut {
        budget: BudgetPositionOut {
            quarter: p.quarter.to_string(),
            currency: p.budget.as_ref().map(|b| b.budget.currency.clone()),
            budget_money_minor: p.budget.as_ref().map(|b| b.budget.money_minor),
            budget_days_tenths: p.budget.as_ref().map(|b| b.budget.days_tenths),
            committed_money_minor: p.position.as_ref().map(|x| x.committed.money_minor),
            committed_days_tenths: p.position.as_ref().map(|x| x.committed.days_tenths),
            remaining_money_minor: p.position.as_ref().map(|x| x.remaining_money_minor),
            remaining_days_tenths: p.position.as_ref().map(|x| x.remaining_days_tenths),
        },
        running: p.running.iter().map(summary).collect(),
        drafts: p.drafts.iter().map(summary).collect(),
        decisions_due: p.decisions_due.iter().map(summary).collect(),
        overdue: p.overdue.iter().map(summary).collect(),
        concluded: p.concluded.iter().map(summary).collect(),
    }
}

/// Running experiments, committed loss against the budget, decisions due and overdue.
#[utoipa::path(get, path = "/api/v1/teams/{slug}/portfolio", tag = "experiments",
    params(("slug" = String, Path), PortfolioParams),
    responses((status = 200, body = PortfolioOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn portfolio(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Query(params): Query<PortfolioParams>,
) -> Result<Json<PortfolioOut>, ApiError> {
    Ok(Json(portfolio_out(
        state
            .service
            .portfolio(&access, params.quarter.as_deref())
            .await?,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetBody {
    pub currency: String,
    pub money_minor: u64,
    pub days_tenths: u64,
}

/// Sets the team's affordable loss for a quarter (leads only).
#[utoipa::path(put, path = "/api/v1/teams/{slug}/risk-budgets/{quarter}", tag = "experiments", request_body = BudgetBody,
    params(("slug" = String, Path), ("quarter" = String, Path, description = "e.g. 2026-Q3")),
    responses((status = 200, body = PortfolioOut), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn set_budget(
    State(state): State<AppState>,
    ApiTeam { access, .. }: ApiTeam,
    Path((_slug, quarter)): Path<(String, String)>,
    ApiJson(body): ApiJson<BudgetBody>,
) -> Result<Json<PortfolioOut>, ApiError> {
    state
        .service
        .set_risk_budget(
            &access,
            &quarter,
            &body.currency,
            &format!("{}.{:02}", body.money_minor / 100, body.money_minor % 100),
            &format!("{}.{}", body.days_tenths / 10, body.days_tenths % 10),
        )
        .await?;
    Ok(Json(portfolio_out(
        state.service.portfolio(&access, Some(&quarter)).await?,
    )))
}
