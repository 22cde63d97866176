//! Smart risks: the portfolio, designing an experiment, its pre-mortem, pilot checklist,
//! approval, start and conclusion.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use super::form::{Choice, Echo, EmptyForm, Reading, Tick};
use super::format::{date, input_date};
use super::{render, render_with_status, FormErrors, Layout, NoticeQuery};
use crate::domain::experiments::Amount as TypedAmount;
use crate::domain::experiments::{
    format_days, format_money, Decision, Disposition, ExperimentStatus, Outcome, ReputationScope,
    Reversibility, PILOT_CHECKLIST,
};
use crate::domain::loops::Answer;
use crate::domain::records::experiments::{ExperimentRecord, LearningCard};
use crate::domain::Team;
use crate::http::error::WebError;
use crate::http::extract::{CsrfForm, WebTeam, WebUser};
use crate::http::markdown;
use crate::http::AppState;
use crate::service::experiments::{ExperimentInput, ExperimentView, Portfolio};
use crate::service::{ServiceError, TeamAccess};

/// One line of a portfolio list.
struct Row {
    id: String,
    title: String,
    status: &'static str,
    loss: String,
    decide_by: String,
}

fn loss_text(r: &ExperimentRecord) -> String {
    let l = &r.design.loss;
    format!(
        "{} and {}",
        format_money(l.loss.money_minor, &l.currency),
        format_days(l.loss.days_tenths)
    )
}

fn rows(records: &[ExperimentRecord]) -> Vec<Row> {
    records
        .iter()
        .map(|r| Row {
            id: r.id.to_string(),
            title: r.design.title.clone(),
            status: r.status.label(),
            loss: loss_text(r),
            decide_by: date(r.design.decide_by),
        })
        .collect()
}

/// Money and effort of a risk budget, formatted; `over` when a remainder went below zero.
struct Amount {
    money: String,
    effort: String,
    over: bool,
}

#[derive(Template)]
#[template(path = "portfolio.html")]
struct PortfolioPage {
    layout: Layout,
    team: Team,
    quarter: String,
    budget: Option<Amount>,
    committed: Option<Amount>,
    remaining: Option<Amount>,
    running: Vec<Row>,
    due: Vec<Row>,
    overdue: Vec<Row>,
    drafts: Vec<Row>,
    concluded: Vec<Row>,
    can_manage: bool,
    errors: FormErrors,
    echo: Echo,
}

impl PortfolioPage {
    fn sections(&self) -> [(&'static str, &Vec<Row>); 3] {
        [
            ("Running", &self.running),
            ("Being designed", &self.drafts),
            ("Concluded", &self.concluded),
        ]
    }
}

fn portfolio_page(user: &WebUser, access: &TeamAccess, p: Portfolio) -> PortfolioPage {
    let currency = p
        .budget
        .as_ref()
        .map(|b| b.budget.currency.clone())
        .unwrap_or_default();
    PortfolioPage {
        layout: Layout::signed_in(
            user,
            format!("Experiments of {}", access.team().name),
            "teams",
        ),
        team: access.team().clone(),
        quarter: p.quarter.to_string(),
        budget: p.budget.as_ref().map(|b| Amount {
            money: format_money(b.budget.money_minor, &b.budget.currency),
            effort: format_days(b.budget.days_tenths),
            over: false,
        }),
        committed: p.position.as_ref().map(|x| Amount {
            money: format_money(x.committed.money_minor, &currency),
            effort: format_days(x.committed.days_tenths),
            over: false,
        }),
        remaining: p.position.as_ref().map(|x| Amount {
            money: format_money(x.remaining_money_minor, &currency),
            effort: format_days(x.remaining_days_tenths),
            over: x.remaining_money_minor < 0 || x.remaining_days_tenths < 0,
        }),
        running: rows(&p.running),
        due: rows(&p.decisions_due),
        overdue: rows(&p.overdue),
        drafts: rows(&p.drafts),
        concluded: rows(&p.concluded),
        can_manage: access.can_manage(),
        errors: FormErrors::none(),
        echo: Echo::default(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct PortfolioQuery {
    #[serde(default)]
    quarter: Option<String>,
    #[serde(default)]
    notice: Option<String>,
}

pub async fn portfolio(
    State(state): State<AppState>,
    Query(query): Query<PortfolioQuery>,
    WebTeam { user, access }: WebTeam,
) -> Result<Response, WebError> {
    let p = state
        .service
        .portfolio(&access, query.quarter.as_deref())
        .await?;
    let mut page = portfolio_page(&user, &access, p);
    page.layout = page.layout.with_notice(&NoticeQuery {
        notice: query.notice,
    });
    Ok(render(&page))
}

/// A quarter's risk budget: the money and person-days the team may lose.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct BudgetForm {
    #[serde(default)]
    quarter: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    money: String,
    #[serde(default)]
    days: String,
}

pub async fn set_budget(
    State(state): State<AppState>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<BudgetForm>,
) -> Result<Response, WebError> {
    let quarter = form.quarter.as_str();
    match state
        .service
        .set_risk_budget(&access, quarter, &form.currency, &form.money, &form.days)
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!(
            "/teams/{}/experiments?quarter={}&notice=budget-set",
            access.team().slug,
            super::super::extract::urlencode(quarter)
        ))
        .into_response()),
        Err(error) => {
            let errors = FormErrors::from_service(error)?;
            let p = state.service.portfolio(&access, None).await?;
            let mut page = portfolio_page(&user, &access, p);
            page.errors = errors;
            page.echo = Echo::of(&form);
            Ok(render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

#[derive(Template)]
#[template(path = "experiment_form.html")]
struct DesignPage {
    layout: Layout,
    team: Team,
    action: String,
    heading: String,
    echo: Echo,
    errors: FormErrors,
    reversibilities: &'static [Reversibility],
    scopes: &'static [ReputationScope],
    criteria: [(&'static str, &'static str); 4],
}

const CRITERIA: [(&str, &str); 4] = [
    (
        "new_territory",
        "Is it new territory, where the answer cannot be looked up?",
    ),
    ("real_goal", "Does it pursue a genuine opportunity or goal?"),
    (
        "informed",
        "Is it informed by what is already known (a hypothesis, written down)?",
    ),
    (
        "as_small_as_possible",
        "Is it as small as it can be and still inform?",
    ),
];

fn design_page(
    user: &WebUser,
    access: &TeamAccess,
    action: String,
    heading: &str,
    echo: Echo,
    errors: FormErrors,
) -> DesignPage {
    DesignPage {
        layout: Layout::signed_in(user, heading.to_owned(), "teams"),
        team: access.team().clone(),
        action,
        heading: heading.to_owned(),
        echo,
        errors,
        reversibilities: Reversibility::ALL,
        scopes: ReputationScope::ALL,
        criteria: CRITERIA,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct NewQuery {
    #[serde(default)]
    from_loop: Option<String>,
}

pub async fn new_form(
    State(state): State<AppState>,
    Query(query): Query<NewQuery>,
    WebTeam { user, access }: WebTeam,
) -> Result<Response, WebError> {
    let today = input_date(state.service.today());
    let mut echo = Echo::default();
    for (k, v) in [
        ("currency", "EUR"),
        ("reversibility", "full"),
        ("reputation_scope", "none"),
        ("starts_on", today.as_str()),
    ] {
        echo.set(k, v);
    }
    for (key, _) in CRITERIA {
        echo.set(key, "unsure");
    }
    if let Some(from) = query.from_loop {
        echo.set("source_loop_id", &from);
    }
    Ok(render(&design_page(
        &user,
        &access,
        format!("/teams/{}/experiments", access.team().slug),
        "Design an experiment",
        echo,
        FormErrors::none(),
    )))
}

/// The experiment's design: test card, the four criteria, affordable loss, kill criteria and
/// dates. Choices stay as typed until `input` reads them, so a word outside the set is named
/// beside its field.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct DesignForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    believe: String,
    #[serde(default)]
    verify_by: String,
    #[serde(default)]
    measure: String,
    #[serde(default)]
    right_if: String,
    #[serde(default)]
    new_territory: Choice<Answer>,
    #[serde(default)]
    real_goal: Choice<Answer>,
    #[serde(default)]
    informed: Choice<Answer>,
    #[serde(default)]
    as_small_as_possible: Choice<Answer>,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    loss_money: String,
    #[serde(default)]
    loss_days: String,
    #[serde(default)]
    reversibility: Choice<Reversibility>,
    #[serde(default)]
    reputation_scope: Choice<ReputationScope>,
    #[serde(default)]
    kill_criteria: String,
    #[serde(default)]
    starts_on: String,
    #[serde(default)]
    decide_by: String,
    /// Set when the experiment is a loop's next smart risk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source_loop_id: Option<String>,
}

impl DesignForm {
    fn input(&self) -> Result<ExperimentInput, ServiceError> {
        let mut reading = Reading::default();
        let new_territory = reading.choice("new_territory", &self.new_territory);
        let real_goal = reading.choice("real_goal", &self.real_goal);
        let informed = reading.choice("informed", &self.informed);
        let small = reading.choice("as_small_as_possible", &self.as_small_as_possible);
        let reversibility = reading.choice("reversibility", &self.reversibility);
        let reputation = reading.choice("reputation_scope", &self.reputation_scope);
        let (
            Some(new_territory),
            Some(real_goal),
            Some(informed),
            Some(as_small_as_possible),
            Some(reversibility),
            Some(reputation_scope),
        ) = (
            new_territory,
            real_goal,
            informed,
            small,
            reversibility,
            reputation,
        )
        else {
            return Err(reading
                .finish()
                .err()
                .unwrap_or_else(|| ServiceError::field("new_territory", "is required")));
        };
        Ok(ExperimentInput {
            title: self.title.clone(),
            believe: self.believe.clone(),
            verify_by: self.verify_by.clone(),
            measure: self.measure.clone(),
            right_if: self.right_if.clone(),
            new_territory,
            real_goal,
            informed,
            as_small_as_possible,
            currency: self.currency.clone(),
            loss_money: TypedAmount::Typed(self.loss_money.clone()),
            loss_days: TypedAmount::Typed(self.loss_days.clone()),
            reversibility,
            reputation_scope,
            kill_criteria: self.kill_criteria.clone(),
            starts_on: self.starts_on.clone(),
            decide_by: self.decide_by.clone(),
        })
    }
}

pub async fn create(
    State(state): State<AppState>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<DesignForm>,
) -> Result<Response, WebError> {
    let result = match form.input() {
        Ok(input) => {
            state
                .service
                .create_experiment(&access, &input, form.source_loop_id.as_deref())
                .await
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(record) => Ok(Redirect::to(&format!(
            "/teams/{}/experiments/{}?notice=experiment-created",
            access.team().slug,
            record.id
        ))
        .into_response()),
        Err(error) => {
            let errors = FormErrors::from_service(error)?;
            Ok(render_with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &design_page(
                    &user,
                    &access,
                    format!("/teams/{}/experiments", access.team().slug),
                    "Design an experiment",
                    Echo::of(&form),
                    errors,
                ),
            ))
        }
    }
}

fn echo_of(record: &ExperimentRecord) -> Echo {
    let d = &record.design;
    let mut echo = Echo::default();
    let money = format!(
        "{}.{:02}",
        d.loss.loss.money_minor / 100,
        d.loss.loss.money_minor % 100
    );
    let days = format!(
        "{}.{}",
        d.loss.loss.days_tenths / 10,
        d.loss.loss.days_tenths % 10
    );
    for (k, v) in [
        ("title", d.title.as_str()),
        ("believe", &d.card.believe),
        ("verify_by", &d.card.verify_by),
        ("measure", &d.card.measure),
        ("right_if", &d.card.right_if),
        ("new_territory", d.criteria.new_territory.as_str()),
        ("real_goal", d.criteria.real_goal.as_str()),
        ("informed", d.criteria.informed.as_str()),
        (
            "as_small_as_possible",
            d.criteria.as_small_as_possible.as_str(),
        ),
        ("currency", &d.loss.currency),
        ("loss_money", &money),
        ("loss_days", &days),
        ("reversibility", d.loss.reversibility.as_str()),
        ("reputation_scope", d.loss.reputation_scope.as_str()),
        ("kill_criteria", &d.kill_criteria),
        ("starts_on", &input_date(d.starts_on)),
        ("decide_by", &input_date(d.decide_by)),
    ] {
        echo.set(k, v);
    }
    echo
}

pub async fn edit_form(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
) -> Result<Response, WebError> {
    let view = state.service.experiment(&access, &id).await?;
    Ok(render(&design_page(
        &user,
        &access,
        format!("/teams/{}/experiments/{id}/update", access.team().slug),
        "Change the design",
        echo_of(&view.record),
        FormErrors::none(),
    )))
}

struct ReasonView {
    id: String,
    text: String,
    by: String,
    disposition: String,
    note: String,
}

#[derive(Template)]
#[template(path = "experiment.html")]
struct ExperimentPage {
    layout: Layout,
    team: Team,
    id: String,
    title: String,
    status: ExperimentStatus,
    card: [CardLineView; 4],
    criteria: Vec<CriterionView>,
    loss: String,
    reversibility: &'static str,
    reputation: &'static str,
    kill_criteria: String,
    starts_on: String,
    decide_by: String,
    overdue: bool,
    budget_line: String,
    needs_approval: bool,
    approval: Option<ApprovalView>,
    can_approve: bool,
    premortem_revealed: bool,
    writers: i64,
    reasons_written: i64,
    mine: Vec<MyReasonView>,
    reasons: Vec<ReasonView>,
    can_reveal: bool,
    pilot: Option<Vec<PilotAnswerView>>,
    pilot_questions: [(&'static str, &'static str); 6],
    blockers: Vec<String>,
    conclusion: Option<ConclusionView>,
    outcome_loop: String,
    source_loop: String,
    outcomes: &'static [Outcome],
    decisions: &'static [Decision],
    dispositions: &'static [Disposition],
    error_form: &'static str,
    errors: FormErrors,
    echo: Echo,
}

/// One line of a test or learning card: its opening words and the text as HTML.
struct CardLineView {
    label: &'static str,
    html: String,
}

/// One of the four criteria of an intelligent failure and its answer.
struct CriterionView {
    question: &'static str,
    answer: &'static str,
}

/// A lead's approval past the remaining budget.
struct ApprovalView {
    by: String,
    at: String,
    note: String,
}

/// A pre-mortem reason of the viewer's own, before the reveal.
struct MyReasonView {
    id: String,
    text: String,
}

/// A question of the pilot checklist and its answer.
struct PilotAnswerView {
    question: &'static str,
    yes: bool,
}

fn card_line(label: &'static str, text: &str) -> CardLineView {
    CardLineView {
        label,
        html: markdown::render(text),
    }
}

struct ConclusionView {
    outcome: &'static str,
    decision: &'static str,
    card: [CardLineView; 4],
    by: String,
    at: String,
}

fn experiment_page(user: &WebUser, access: &TeamAccess, view: ExperimentView) -> ExperimentPage {
    let r = &view.record;
    let d = &r.design;
    let budget_line = match (&view.budget, &view.position) {
        (Some(b), Some(p)) => format!(
            "{} budget: {} and {}; {} {} and {}; remaining {} and {}.",
            view.quarter,
            format_money(b.budget.money_minor, &b.budget.currency),
            format_days(b.budget.days_tenths),
            if view.includes_this {
                "committed, this experiment included,"
            } else {
                "already committed by other experiments"
            },
            format_money(p.committed.money_minor, &b.budget.currency),
            format_days(p.committed.days_tenths),
            format_money(p.remaining_money_minor, &b.budget.currency),
            format_days(p.remaining_days_tenths),
        ),
        _ => format!("The team has no risk budget for {} yet.", view.quarter),
    };
    ExperimentPage {
        layout: Layout::signed_in(user, d.title.clone(), "teams"),
        team: access.team().clone(),
        id: r.id.to_string(),
        title: d.title.clone(),
        status: r.status,
        card: [
            card_line("We believe that", &d.card.believe),
            card_line("To verify that, we will", &d.card.verify_by),
            card_line("and measure", &d.card.measure),
            card_line("We are right if", &d.card.right_if),
        ],
        criteria: CRITERIA
            .iter()
            .zip([
                d.criteria.new_territory,
                d.criteria.real_goal,
                d.criteria.informed,
                d.criteria.as_small_as_possible,
            ])
            .map(|(&(_, question), answer)| CriterionView {
                question,
                answer: answer.as_str(),
            })
            .collect(),
        loss: loss_text(r),
        reversibility: d.loss.reversibility.label(),
        reputation: d.loss.reputation_scope.label(),
        kill_criteria: markdown::render(&d.kill_criteria),
        starts_on: date(d.starts_on),
        decide_by: date(d.decide_by),
        overdue: view.overdue,
        budget_line,
        needs_approval: view.needs_approval,
        approval: r.approval.as_ref().map(|a| ApprovalView {
            by: a
                .by_name
                .clone()
                .unwrap_or_else(|| "a former member".to_owned()),
            at: date(a.at),
            note: a.note.clone(),
        }),
        can_approve: view.can_approve && access.is_lead(),
        premortem_revealed: view.premortem.revealed,
        writers: view.premortem.counts.open_participants,
        reasons_written: view.premortem.counts.items,
        mine: view
            .premortem
            .mine
            .iter()
            .map(|m| MyReasonView {
                id: m.id.to_string(),
                text: m.text.clone(),
            })
            .collect(),
        reasons: view
            .premortem
            .reasons
            .iter()
            .map(|(item, disposition)| ReasonView {
                id: item.id.to_string(),
                text: item.text.clone(),
                by: item.author_name.clone().unwrap_or_default(),
                disposition: disposition
                    .as_ref()
                    .map(|d| d.kind.label().to_owned())
                    .unwrap_or_default(),
                note: disposition
                    .as_ref()
                    .map(|d| d.note.clone())
                    .unwrap_or_default(),
            })
            .collect(),
        can_reveal: view.can_reveal,
        pilot: r.pilot.as_ref().map(|answers| {
            PILOT_CHECKLIST
                .iter()
                .map(|&(key, question)| PilotAnswerView {
                    question,
                    yes: answers.iter().any(|(k, yes)| k == key && *yes),
                })
                .collect()
        }),
        pilot_questions: PILOT_CHECKLIST,
        blockers: view.start_blockers.clone(),
        conclusion: r.conclusion.as_ref().map(|c| ConclusionView {
            outcome: c.outcome.label(),
            decision: c.decision.label(),
            card: [
                card_line("We believed that", &c.card.believed),
                card_line("We observed", &c.card.observed),
                card_line("From that we learned", &c.card.learned),
                card_line("Therefore, we will", &c.card.therefore),
            ],
            by: c.by_name.clone().unwrap_or_default(),
            at: date(c.at),
        }),
        outcome_loop: r.outcome_loop_id.clone().unwrap_or_default(),
        source_loop: r.source_loop_id.clone().unwrap_or_default(),
        outcomes: Outcome::ALL,
        decisions: Decision::ALL,
        dispositions: Disposition::ALL,
        error_form: "",
        errors: FormErrors::none(),
        echo: Echo::default(),
    }
}

pub async fn show(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    Query(notice): Query<NoticeQuery>,
    WebTeam { user, access }: WebTeam,
) -> Result<Response, WebError> {
    let view = state.service.experiment(&access, &id).await?;
    let mut page = experiment_page(&user, &access, view);
    page.layout = page.layout.with_notice(&notice);
    Ok(render(&page))
}

/// `POST …/experiments/{id}/update`: the changed design, or the design form again with errors.
pub async fn update(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<DesignForm>,
) -> Result<Response, WebError> {
    let result = match form.input() {
        Ok(input) => state.service.update_experiment(&access, &id, &input).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => Ok(back_to(&access, &id, "experiment-updated")),
        Err(error) => {
            let errors = FormErrors::from_service(error)?;
            Ok(render_with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &design_page(
                    &user,
                    &access,
                    format!("/teams/{}/experiments/{id}/update", access.team().slug),
                    "Change the design",
                    Echo::of(&form),
                    errors,
                ),
            ))
        }
    }
}

/// After a success: back to the experiment page with `notice`.
fn back_to(access: &TeamAccess, id: &str, notice: &str) -> Response {
    Redirect::to(&format!(
        "/teams/{}/experiments/{id}?notice={notice}",
        access.team().slug
    ))
    .into_response()
}

/// After an experiment form: back to the page with `notice`, or the page again with the errors
/// beside the form named `form` and what was typed in it.
#[allow(clippy::too_many_arguments)]
async fn after_form(
    state: &AppState,
    user: &WebUser,
    access: &TeamAccess,
    id: &str,
    result: Result<(), ServiceError>,
    notice: &str,
    form: &'static str,
    echo: Echo,
) -> Result<Response, WebError> {
    let error = match result {
        Ok(()) => return Ok(back_to(access, id, notice)),
        Err(error) => error,
    };
    let status = if matches!(error, ServiceError::Conflict { .. }) {
        StatusCode::CONFLICT
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let errors = match FormErrors::from_service(error) {
        Ok(errors) => errors,
        Err(ServiceError::Conflict {
            field: None,
            message,
        }) => FormErrors::from_message(form, &message),
        Err(other) => return Err(other.into()),
    };
    let view = state.service.experiment(access, id).await?;
    let mut page = experiment_page(user, access, view);
    page.error_form = form;
    page.errors = errors;
    page.echo = echo;
    Ok(render_with_status(status, &page))
}

/// A pre-mortem reason, sealed until the reveal.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ReasonForm {
    #[serde(default)]
    reason: String,
    /// Ticked to show the writer's name beside it after the reveal.
    #[serde(default)]
    show_name: Tick,
}

/// `POST …/experiments/{id}/reasons`.
pub async fn write_reason(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<ReasonForm>,
) -> Result<Response, WebError> {
    let result = state
        .service
        .write_premortem_reason(&access, &id, &form.reason, form.show_name.0)
        .await;
    let echo = Echo::of(&form);
    after_form(
        &state,
        &user,
        &access,
        &id,
        result,
        "reason-sealed",
        "reason",
        echo,
    )
    .await
}

/// Which reason (or disposition) a form is about.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ItemForm {
    #[serde(default)]
    item_id: String,
}

/// `POST …/experiments/{id}/reason-withdraw`.
pub async fn withdraw_reason(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<ItemForm>,
) -> Result<Response, WebError> {
    let result = state
        .service
        .withdraw_premortem_reason(&access, &id, &form.item_id)
        .await;
    let echo = Echo::of(&form);
    after_form(
        &state,
        &user,
        &access,
        &id,
        result,
        "reason-withdrawn",
        "reason",
        echo,
    )
    .await
}

/// `POST …/experiments/{id}/reveal`.
pub async fn reveal(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(EmptyForm {}): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    let result = state.service.reveal_premortem(&access, &id).await;
    let echo = Echo::default();
    after_form(
        &state,
        &user,
        &access,
        &id,
        result,
        "premortem-revealed",
        "reveal",
        echo,
    )
    .await
}

/// What a revealed reason becomes, and the note that says how.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct DisposeForm {
    #[serde(default)]
    item_id: String,
    #[serde(default)]
    kind: Choice<Disposition>,
    #[serde(default)]
    note: String,
}

/// `POST …/experiments/{id}/dispose`.
pub async fn dispose(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<DisposeForm>,
) -> Result<Response, WebError> {
    let result = match form.kind.read("kind") {
        Ok(kind) => {
            state
                .service
                .dispose_reason(&access, &id, &form.item_id, kind, &form.note)
                .await
        }
        Err(error) => Err(error),
    };
    let echo = Echo::of(&form);
    after_form(
        &state,
        &user,
        &access,
        &id,
        result,
        "reason-disposed",
        "dispose",
        echo,
    )
    .await
}

/// The pilot checklist (`PILOT_CHECKLIST`): each question answered "yes" or "no".
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct PilotForm {
    #[serde(default)]
    typical_conditions: String,
    #[serde(default)]
    representative: String,
    #[serde(default)]
    learn_not_prove: String,
    #[serde(default)]
    goal_understood: String,
    #[serde(default)]
    rewards_independent: String,
    #[serde(default)]
    changes_planned: String,
}

/// `POST …/experiments/{id}/pilot`.
pub async fn answer_pilot(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<PilotForm>,
) -> Result<Response, WebError> {
    let echo = Echo::of(&form);
    // The checklist's questions, in its order, with what was ticked; a question left out is
    // absent, as the use case expects.
    let answers: Vec<(String, String)> = PILOT_CHECKLIST
        .iter()
        .map(|(key, _)| (*key, echo.value(key)))
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
    let result = state.service.answer_pilot(&access, &id, &answers).await;
    after_form(
        &state,
        &user,
        &access,
        &id,
        result,
        "pilot-answered",
        "pilot",
        echo,
    )
    .await
}

/// A lead's note approving the experiment past the remaining budget.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ApproveForm {
    #[serde(default)]
    note: String,
}

/// `POST …/experiments/{id}/approve`.
pub async fn approve(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<ApproveForm>,
) -> Result<Response, WebError> {
    let result = state
        .service
        .approve_experiment(&access, &id, &form.note)
        .await;
    let echo = Echo::of(&form);
    after_form(
        &state,
        &user,
        &access,
        &id,
        result,
        "experiment-approved",
        "approve",
        echo,
    )
    .await
}

/// `POST …/experiments/{id}/start`.
pub async fn start(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(EmptyForm {}): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    let result = state.service.start_experiment(&access, &id).await;
    let echo = Echo::default();
    after_form(
        &state,
        &user,
        &access,
        &id,
        result,
        "experiment-started",
        "start",
        echo,
    )
    .await
}

/// `POST …/experiments/{id}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(EmptyForm {}): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    let result = state.service.cancel_experiment(&access, &id).await;
    let echo = Echo::default();
    after_form(
        &state,
        &user,
        &access,
        &id,
        result,
        "experiment-cancelled",
        "start",
        echo,
    )
    .await
}

/// The conclusion: the outcome, the learning card and the decision.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ConclusionForm {
    #[serde(default)]
    outcome: Choice<Outcome>,
    #[serde(default)]
    believed: String,
    #[serde(default)]
    observed: String,
    #[serde(default)]
    learned: String,
    #[serde(default)]
    therefore: String,
    #[serde(default)]
    decision: Choice<Decision>,
}

/// `POST …/experiments/{id}/conclude`.
pub async fn conclude(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<ConclusionForm>,
) -> Result<Response, WebError> {
    let mut reading = Reading::default();
    let outcome = reading.choice("outcome", &form.outcome);
    let decision = reading.choice("decision", &form.decision);
    let result = match (outcome, decision) {
        (Some(outcome), Some(decision)) => {
            let card = LearningCard {
                believed: form.believed.clone(),
                observed: form.observed.clone(),
                learned: form.learned.clone(),
                therefore: form.therefore.clone(),
            };
            state
                .service
                .conclude_experiment(&access, &id, outcome, &card, decision)
                .await
                .map(|_| ())
        }
        _ => reading.finish(),
    };
    let echo = Echo::of(&form);
    after_form(
        &state,
        &user,
        &access,
        &id,
        result,
        "experiment-concluded",
        "conclude",
        echo,
    )
    .await
}
