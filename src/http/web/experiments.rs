//! Smart risks: the portfolio, designing an experiment, its pre-mortem, pilot checklist,
//! approval, start and conclusion.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::loops::Echo;
use super::{date, render, render_with_status, FormErrors, Layout, NoticeQuery};
use crate::domain::experiments::{
    format_days, format_money, Decision, Disposition, ExperimentStatus, Outcome, ReputationScope,
    Reversibility, PILOT_CHECKLIST,
};
use crate::domain::Team;
use crate::http::error::WebError;
use crate::http::extract::{CsrfForm, WebTeam, WebUser};
use crate::http::markdown;
use crate::http::AppState;
use crate::service::experiments::{ExperimentInput, ExperimentView, Portfolio};
use crate::service::{ServiceError, TeamAccess};
use crate::store::experiments::{ExperimentRecord, LearningCard};

type Fields = HashMap<String, String>;

fn field<'a>(fields: &'a Fields, key: &str) -> &'a str {
    fields.get(key).map(String::as_str).unwrap_or("")
}

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

#[derive(Template)]
#[template(path = "portfolio.html")]
struct PortfolioPage {
    layout: Layout,
    team: Team,
    quarter: String,
    budget: Option<(String, String)>,
    committed: Option<(String, String)>,
    remaining: Option<(String, String, bool)>,
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
        budget: p.budget.as_ref().map(|b| {
            (
                format_money(b.budget.money_minor, &b.budget.currency),
                format_days(b.budget.days_tenths),
            )
        }),
        committed: p.position.as_ref().map(|x| {
            (
                format_money(x.committed.money_minor, &currency),
                format_days(x.committed.days_tenths),
            )
        }),
        remaining: p.position.as_ref().map(|x| {
            (
                format_money(x.remaining_money_minor, &currency),
                format_days(x.remaining_days_tenths),
                x.remaining_money_minor < 0 || x.remaining_days_tenths < 0,
            )
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

pub async fn set_budget(
    State(state): State<AppState>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(fields): CsrfForm<Fields>,
) -> Result<Response, WebError> {
    let quarter = field(&fields, "quarter");
    match state
        .service
        .set_risk_budget(
            &access,
            quarter,
            field(&fields, "currency"),
            field(&fields, "money"),
            field(&fields, "days"),
        )
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
            page.echo = Echo::from(fields);
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
    Query(query): Query<NewQuery>,
    WebTeam { user, access }: WebTeam,
) -> Result<Response, WebError> {
    let today = date_input(time::OffsetDateTime::now_utc());
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

fn date_input(at: time::OffsetDateTime) -> String {
    at.format(time::macros::format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

fn input_of(fields: &Fields) -> ExperimentInput {
    let f = |k: &str| field(fields, k).to_owned();
    ExperimentInput {
        title: f("title"),
        believe: f("believe"),
        verify_by: f("verify_by"),
        measure: f("measure"),
        right_if: f("right_if"),
        new_territory: f("new_territory"),
        real_goal: f("real_goal"),
        informed: f("informed"),
        as_small_as_possible: f("as_small_as_possible"),
        currency: f("currency"),
        loss_money: f("loss_money"),
        loss_days: f("loss_days"),
        reversibility: f("reversibility"),
        reputation_scope: f("reputation_scope"),
        kill_criteria: f("kill_criteria"),
        starts_on: f("starts_on"),
        decide_by: f("decide_by"),
    }
}

pub async fn create(
    State(state): State<AppState>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(fields): CsrfForm<Fields>,
) -> Result<Response, WebError> {
    match state
        .service
        .create_experiment(
            &access,
            &input_of(&fields),
            fields.get("source_loop_id").map(String::as_str),
        )
        .await
    {
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
                    Echo::from(fields),
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
        ("starts_on", &date_input(d.starts_on)),
        ("decide_by", &date_input(d.decide_by)),
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
    card: [(&'static str, String); 4],
    criteria: Vec<(&'static str, &'static str)>,
    loss: String,
    reversibility: &'static str,
    reputation: &'static str,
    kill_criteria: String,
    starts_on: String,
    decide_by: String,
    overdue: bool,
    budget_line: String,
    needs_approval: bool,
    approval: Option<(String, String, String)>,
    can_approve: bool,
    premortem_revealed: bool,
    writers: i64,
    reasons_written: i64,
    mine: Vec<(String, String)>,
    reasons: Vec<ReasonView>,
    can_reveal: bool,
    pilot: Option<Vec<(&'static str, bool)>>,
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

struct ConclusionView {
    outcome: &'static str,
    decision: &'static str,
    card: [(&'static str, String); 4],
    by: String,
    at: String,
}

fn experiment_page(user: &WebUser, access: &TeamAccess, view: ExperimentView) -> ExperimentPage {
    let r = &view.record;
    let d = &r.design;
    let budget_line = match (&view.budget, &view.position) {
        (Some(b), Some(p)) => format!(
            "{} budget: {} and {}; already committed {} and {}; remaining {} and {}.",
            view.quarter,
            format_money(b.budget.money_minor, &b.budget.currency),
            format_days(b.budget.days_tenths),
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
            ("We believe that", markdown::render(&d.card.believe)),
            (
                "To verify that, we will",
                markdown::render(&d.card.verify_by),
            ),
            ("and measure", markdown::render(&d.card.measure)),
            ("We are right if", markdown::render(&d.card.right_if)),
        ],
        criteria: CRITERIA
            .iter()
            .zip([
                d.criteria.new_territory,
                d.criteria.real_goal,
                d.criteria.informed,
                d.criteria.as_small_as_possible,
            ])
            .map(|((_, q), a)| (*q, a.as_str()))
            .collect(),
        loss: loss_text(r),
        reversibility: d.loss.reversibility.label(),
        reputation: d.loss.reputation_scope.label(),
        kill_criteria: markdown::render(&d.kill_criteria),
        starts_on: date(d.starts_on),
        decide_by: date(d.decide_by),
        overdue: r.status == ExperimentStatus::Running && d.decide_by < view.today,
        budget_line,
        needs_approval: view.needs_approval,
        approval: r.approval.as_ref().map(|a| {
            (
                a.by_name
                    .clone()
                    .unwrap_or_else(|| "a former member".to_owned()),
                date(a.at),
                a.note.clone(),
            )
        }),
        can_approve: view.can_approve && access.is_lead(),
        premortem_revealed: view.premortem.revealed,
        writers: view.premortem.counts.open_participants,
        reasons_written: view.premortem.counts.items,
        mine: view
            .premortem
            .mine
            .iter()
            .map(|m| (m.id.to_string(), m.text.clone()))
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
                .map(|(key, question)| (*question, answers.iter().any(|(k, yes)| k == key && *yes)))
                .collect()
        }),
        pilot_questions: PILOT_CHECKLIST,
        blockers: view.start_blockers.clone(),
        conclusion: r.conclusion.as_ref().map(|c| ConclusionView {
            outcome: c.outcome.label(),
            decision: c.decision.label(),
            card: [
                ("We believed that", markdown::render(&c.card.believed)),
                ("We observed", markdown::render(&c.card.observed)),
                ("From that we learned", markdown::render(&c.card.learned)),
                ("Therefore, we will", markdown::render(&c.card.therefore)),
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

/// The experiment page's forms, by `{action}`.
pub async fn act(
    State(state): State<AppState>,
    Path((_slug, id, action)): Path<(String, String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(fields): CsrfForm<Fields>,
) -> Result<Response, WebError> {
    let service = &state.service;
    let (result, notice, form): (Result<(), ServiceError>, &str, &'static str) =
        match action.as_str() {
            "update" => {
                let result = service
                    .update_experiment(&access, &id, &input_of(&fields))
                    .await;
                if let Err(error) = result {
                    let errors = FormErrors::from_service(error)?;
                    return Ok(render_with_status(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        &design_page(
                            &user,
                            &access,
                            format!("/teams/{}/experiments/{id}/update", access.team().slug),
                            "Change the design",
                            Echo::from(fields),
                            errors,
                        ),
                    ));
                }
                (Ok(()), "experiment-updated", "")
            }
            "reasons" => (
                service
                    .write_premortem_reason(
                        &access,
                        &id,
                        field(&fields, "reason"),
                        fields.contains_key("show_name"),
                    )
                    .await,
                "reason-sealed",
                "reason",
            ),
            "reason-withdraw" => (
                service
                    .withdraw_premortem_reason(&access, &id, field(&fields, "item_id"))
                    .await,
                "reason-withdrawn",
                "reason",
            ),
            "reveal" => (
                service.reveal_premortem(&access, &id).await,
                "premortem-revealed",
                "reveal",
            ),
            "dispose" => (
                service
                    .dispose_reason(
                        &access,
                        &id,
                        field(&fields, "item_id"),
                        field(&fields, "kind"),
                        field(&fields, "note"),
                    )
                    .await,
                "reason-disposed",
                "dispose",
            ),
            "pilot" => {
                let answers: Vec<(String, String)> = fields
                    .iter()
                    .filter(|(k, _)| k.as_str() != "csrf_token")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                (
                    service.answer_pilot(&access, &id, &answers).await,
                    "pilot-answered",
                    "pilot",
                )
            }
            "approve" => (
                service
                    .approve_experiment(&access, &id, field(&fields, "note"))
                    .await,
                "experiment-approved",
                "approve",
            ),
            "start" => (
                service.start_experiment(&access, &id).await,
                "experiment-started",
                "start",
            ),
            "cancel" => (
                service.cancel_experiment(&access, &id).await,
                "experiment-cancelled",
                "start",
            ),
            "conclude" => {
                let card = LearningCard {
                    believed: field(&fields, "believed").to_owned(),
                    observed: field(&fields, "observed").to_owned(),
                    learned: field(&fields, "learned").to_owned(),
                    therefore: field(&fields, "therefore").to_owned(),
                };
                (
                    service
                        .conclude_experiment(
                            &access,
                            &id,
                            field(&fields, "outcome"),
                            &card,
                            field(&fields, "decision"),
                        )
                        .await
                        .map(|_| ()),
                    "experiment-concluded",
                    "conclude",
                )
            }
            _ => return Err(ServiceError::NotFound.into()),
        };
    match result {
        Ok(()) => Ok(Redirect::to(&format!(
            "/teams/{}/experiments/{id}?notice={notice}",
            access.team().slug
        ))
        .into_response()),
        Err(error) => {
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
            let view = service.experiment(&access, &id).await?;
            let mut page = experiment_page(&user, &access, view);
            page.error_form = form;
            page.errors = errors;
            page.echo = Echo::from(fields);
            Ok(render_with_status(status, &page))
        }
    }
}
