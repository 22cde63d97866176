//! The learning loop's pages: "Log a failure", the team's loop list, the loop's story page with a
//! form for each stage, and the anonymous reporter's page.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::OffsetDateTime;

use super::{date, render, render_with_status, FormErrors, Layout, NoticeQuery};
use crate::domain::loops::{
    ActionStatus, Answer, FactorReason, FailureType, ImpactScale, Questionnaire, Stage,
};
use crate::domain::Team;
use crate::http::error::WebError;
use crate::http::extract::{CsrfForm, MaybeUser, PreSessionCsrf, SessionContext, WebTeam, WebUser};
use crate::http::markdown;
use crate::http::AppState;
use crate::service::{
    AccountInput, Attention, LoopDetail, LoopInput, LoopQuery, ReviewInput, ServiceError,
    TeamAccess,
};
use crate::store::loops::LoopSummary;

/// "2 Mar 2026, 14:05 UTC".
pub fn datetime(at: OffsetDateTime) -> String {
    at.format(time::macros::format_description!(
        "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
    ))
    .unwrap_or_default()
}

/// "3 h 20 min", "2 days 4 h": a duration as people read it.
pub fn duration(d: time::Duration) -> String {
    let minutes = d.whole_minutes().max(0);
    let (days, hours, mins) = (minutes / 1440, (minutes % 1440) / 60, minutes % 60);
    match (days, hours, mins) {
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (1, 0, _) => "1 day".to_owned(),
        (d, 0, _) => format!("{d} days"),
        (1, h, _) => format!("1 day {h} h"),
        (d, h, _) => format!("{d} days {h} h"),
    }
}

fn input_date(at: OffsetDateTime) -> String {
    at.format(time::macros::format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

/// Values typed into a form, echoed back when it is shown again with errors.
#[derive(Debug, Default)]
pub struct Echo(HashMap<String, String>);

impl Echo {
    pub fn value(&self, key: &str) -> &str {
        self.0.get(key).map(String::as_str).unwrap_or("")
    }

    pub fn is(&self, key: &str, value: &str) -> bool {
        self.value(key) == value
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.0.insert(key.to_owned(), value.to_owned());
    }
}

impl From<HashMap<String, String>> for Echo {
    fn from(fields: HashMap<String, String>) -> Self {
        Echo(fields)
    }
}

/// Which teams someone can log into, for the "Log a failure" chooser.
#[derive(Template)]
#[template(path = "log_choose.html")]
struct ChooseTeamPage {
    layout: Layout,
    teams: Vec<(String, String)>,
}

/// `/log`: straight to the form when there is one team, else a choice.
pub async fn log_anywhere(
    State(state): State<AppState>,
    user: WebUser,
) -> Result<Response, WebError> {
    let teams: Vec<(String, String)> = state
        .service
        .teams_for(&user.actor)
        .await?
        .into_iter()
        .filter(|t| t.role.is_some())
        .map(|t| (t.team.slug.to_string(), t.team.name.to_string()))
        .collect();
    if let [(slug, _)] = teams.as_slice() {
        return Ok(Redirect::to(&format!("/teams/{slug}/loops/new")).into_response());
    }
    Ok(render(&ChooseTeamPage {
        layout: Layout::signed_in(&user, "Log a failure", "log"),
        teams,
    }))
}

#[derive(Template)]
#[template(path = "loop_new.html")]
struct NewLoopPage {
    layout: Layout,
    team: Team,
    echo: Echo,
    errors: FormErrors,
    scales: Vec<(&'static str, &'static str)>,
}

fn scales() -> Vec<(&'static str, &'static str)> {
    ImpactScale::ALL
        .iter()
        .map(|s| {
            (
                s.as_str(),
                match s {
                    ImpactScale::Negligible => "Negligible — caught before anyone was affected",
                    ImpactScale::Minor => "Minor — a few people or a small part, briefly",
                    ImpactScale::Moderate => "Moderate — noticeable for a team or some customers",
                    ImpactScale::Major => "Major — many people, money or trust affected",
                    ImpactScale::Severe => "Severe — lasting harm, safety, legal or large losses",
                },
            )
        })
        .collect()
}

pub async fn new_form(WebTeam { user, access }: WebTeam) -> Result<Response, WebError> {
    let mut echo = Echo::default();
    echo.0.insert("impact_scale".into(), "minor".into());
    // No pre-filled time: the minute the form opened would be stored with an anonymous loop.
    Ok(render(&NewLoopPage {
        layout: Layout::signed_in(
            &user,
            format!("Log a failure in {}", access.team().name),
            "log",
        ),
        team: access.team().clone(),
        echo,
        errors: FormErrors::none(),
        scales: scales(),
    }))
}

#[derive(Debug, Default, Deserialize)]
pub struct NewLoopForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    what_happened: String,
    #[serde(default)]
    what_was_expected: String,
    #[serde(default)]
    happened_at: String,
    #[serde(default)]
    noticed_at: String,
    #[serde(default)]
    impact_scale: String,
    #[serde(default)]
    impact_affected: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    anonymous: Option<String>,
}

#[derive(Template)]
#[template(path = "loop_logged_anonymously.html")]
struct LoggedAnonymouslyPage {
    layout: Layout,
    team: Team,
    link: String,
}

pub async fn create(
    State(state): State<AppState>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<NewLoopForm>,
) -> Result<Response, WebError> {
    let anonymous = form.anonymous.is_some();
    let input = LoopInput {
        title: form.title.clone(),
        what_happened: form.what_happened.clone(),
        what_was_expected: form.what_was_expected.clone(),
        happened_at: Some(form.happened_at.clone()),
        noticed_at: Some(form.noticed_at.clone()),
        impact_scale: Some(form.impact_scale.clone()),
        impact_affected: form.impact_affected.clone(),
        tags: vec![form.tags.clone()],
        anonymous,
    };
    match state.service.log_failure(&access, input).await {
        Ok(logged) => match logged.reporter_link {
            Some(link) => {
                let mut response = render_with_status(
                    StatusCode::CREATED,
                    &LoggedAnonymouslyPage {
                        layout: Layout::signed_in(&user, "Logged anonymously", "log"),
                        team: access.team().clone(),
                        link,
                    },
                );
                response.headers_mut().insert(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                );
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                Ok(response)
            }
            None => {
                // Answered like an anonymous capture — 201 and a page, no redirect — so that
                // neither this request's log line nor a request following it tells the two
                // apart. The page puts the loop's own address in the location bar.
                let id = logged.detail.record.id.to_string();
                let notice = NoticeQuery {
                    notice: Some("loop-logged".to_owned()),
                };
                let mut page = shown_loop_page(&state, &user, &access, &id, &notice).await?;
                page.address = Some(format!("/teams/{}/loops/{id}", access.team().slug));
                Ok(render_with_status(StatusCode::CREATED, &page))
            }
        },
        Err(error) => {
            let errors = FormErrors::from_service(error)?;
            let echo = Echo(HashMap::from([
                ("title".to_owned(), form.title),
                ("what_happened".to_owned(), form.what_happened),
                ("what_was_expected".to_owned(), form.what_was_expected),
                ("happened_at".to_owned(), form.happened_at),
                ("noticed_at".to_owned(), form.noticed_at),
                ("impact_scale".to_owned(), form.impact_scale),
                ("impact_affected".to_owned(), form.impact_affected),
                ("tags".to_owned(), form.tags),
                (
                    "anonymous".to_owned(),
                    if anonymous {
                        "on".to_owned()
                    } else {
                        String::new()
                    },
                ),
            ]));
            Ok(render_with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &NewLoopPage {
                    layout: Layout::signed_in(
                        &user,
                        format!("Log a failure in {}", access.team().name),
                        "log",
                    ),
                    team: access.team().clone(),
                    echo,
                    errors,
                    scales: scales(),
                },
            ))
        }
    }
}

/// One row of the loop list.
struct LoopRow {
    id: String,
    title: String,
    stage: &'static str,
    stage_label: &'static str,
    failure_type: String,
    tags: Vec<String>,
    created: String,
    reporter: String,
    attention: String,
    open_actions: i64,
    overdue_actions: i64,
}

fn loop_row(summary: LoopSummary, attention: Option<Attention>) -> LoopRow {
    LoopRow {
        id: summary.id.to_string(),
        title: summary.title,
        stage: summary.stage.as_str(),
        stage_label: summary.stage.label(),
        failure_type: summary
            .failure_type
            .map(|t| t.label().to_owned())
            .unwrap_or_else(|| "not classified yet".to_owned()),
        tags: summary.tags,
        created: date(summary.created_at),
        reporter: if summary.anonymous {
            "anonymous".to_owned()
        } else {
            summary
                .author_name
                .unwrap_or_else(|| "a former member".to_owned())
        },
        attention: attention.map(|a| a.describe()).unwrap_or_default(),
        open_actions: summary.open_actions,
        overdue_actions: summary.overdue_actions,
    }
}

#[derive(Template)]
#[template(path = "loops.html")]
struct LoopsPage {
    layout: Layout,
    team: Team,
    rows: Vec<LoopRow>,
    total: i64,
    page: i64,
    pages: i64,
    filter: ListQuery,
    query_without_page: String,
    errors: FormErrors,
    stages: &'static [Stage],
    types: &'static [FailureType],
}

#[derive(Debug, Default, Deserialize, serde::Serialize)]
pub struct ListQuery {
    #[serde(default)]
    pub stage: String,
    #[serde(default, rename = "type")]
    pub failure_type: String,
    #[serde(default)]
    pub tag: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub stuck: String,
    #[serde(default)]
    pub page: Option<i64>,
    #[serde(default)]
    pub notice: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    Query(filter): Query<ListQuery>,
    WebTeam { user, access }: WebTeam,
) -> Result<Response, WebError> {
    let query = LoopQuery {
        stage: Some(filter.stage.clone()),
        kind: None,
        failure_type: Some(filter.failure_type.clone()),
        tag: Some(filter.tag.clone()),
        from: Some(filter.from.clone()),
        to: Some(filter.to.clone()),
        sort: Some(filter.sort.clone()),
        stuck: filter.stuck == "on",
        page: filter.page,
        per_page: Some(50),
    };
    let notice = NoticeQuery {
        notice: filter.notice.clone(),
    };
    let (rows, total, page, pages, errors) = match state.service.loops(&access, &query).await {
        Ok(page) => {
            let pages = (page.total + page.per_page - 1) / page.per_page;
            (
                page.loops
                    .into_iter()
                    .map(|(s, a)| loop_row(s, a))
                    .collect(),
                page.total,
                page.page,
                pages.max(1),
                FormErrors::none(),
            )
        }
        Err(error) => (Vec::new(), 0, 1, 1, FormErrors::from_service(error)?),
    };
    let query_without_page = serde_urlencoded::to_string(ListQuery {
        page: None,
        notice: None,
        ..ListQuery {
            stage: filter.stage.clone(),
            failure_type: filter.failure_type.clone(),
            tag: filter.tag.clone(),
            from: filter.from.clone(),
            to: filter.to.clone(),
            sort: filter.sort.clone(),
            stuck: filter.stuck.clone(),
            page: None,
            notice: None,
        }
    })
    .unwrap_or_default();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(render_with_status(
        status,
        &LoopsPage {
            layout: Layout::signed_in(&user, format!("Loops of {}", access.team().name), "teams")
                .with_notice(&notice),
            team: access.team().clone(),
            rows,
            total,
            page,
            pages,
            filter,
            query_without_page,
            errors,
            stages: Stage::ALL,
            types: FailureType::ALL,
        },
    ))
}

/// Everything the loop page shows, formatted.
struct LoopView {
    id: String,
    title: String,
    kind: &'static str,
    stage: Stage,
    reporter: String,
    created: String,
    happened: String,
    noticed: String,
    time_to_detect: String,
    impact_scale: &'static str,
    impact_affected: String,
    what_happened: String,
    what_was_expected: String,
    tags: Vec<String>,
    attention: String,
    next_stage: Option<&'static str>,
    blocker: String,
    review: [(&'static str, &'static str, String, String); 7],
    has_review: bool,
    additions: Vec<(String, String, String)>,
    timeline: Vec<(String, String, String)>,
    factors: Vec<(String, &'static str, String, String)>,
    accounts: Vec<AccountView>,
    answers: Option<Questionnaire>,
    suggestion: Option<(String, String, Vec<String>)>,
    override_view: Option<(String, String, String, String)>,
    learnings: Vec<(String, &'static str, String, String)>,
    actions: Vec<ActionView>,
    follow_up_on: String,
    follow_up_input: String,
    follow_up_answer: Option<(bool, bool, String, String, String)>,
    follow_up_due: bool,
    next_experiment: String,
    source_experiment: String,
    history: Vec<(String, String, String, String)>,
    /// A possible recurrence: the earlier loop's link and title, or `None` when it is in a team
    /// the viewer is not in.
    recurrence: Option<Option<(String, String)>>,
}

struct AccountView {
    by: String,
    added: String,
    parts: Vec<(&'static str, String)>,
}

struct ActionView {
    id: String,
    title: String,
    owner: String,
    due: String,
    status: &'static str,
    overdue: bool,
    dropped_reason: String,
}

const REVIEW_FIELDS: [(&str, &str); 7] = [
    ("aar_intended", "What was supposed to happen?"),
    ("aar_actual", "What actually happened?"),
    ("aar_difference", "Why was there a difference?"),
    (
        "aar_lessons",
        "What can we learn: what to sustain, what to improve?",
    ),
    ("went_well", "What went well"),
    ("went_wrong", "What went wrong"),
    ("got_lucky", "Where we got lucky"),
];

fn loop_view(detail: &LoopDetail) -> LoopView {
    let r = &detail.record;
    let review_values = [
        &r.review.aar_intended,
        &r.review.aar_actual,
        &r.review.aar_difference,
        &r.review.aar_lessons,
        &r.review.went_well,
        &r.review.went_wrong,
        &r.review.got_lucky,
    ];
    let review = std::array::from_fn(|i| {
        let (key, label) = REVIEW_FIELDS[i];
        (
            key,
            label,
            review_values[i].clone(),
            markdown::render(review_values[i]),
        )
    });
    let by_or =
        |name: &Option<String>| name.clone().unwrap_or_else(|| "a former member".to_owned());
    LoopView {
        recurrence: detail.recurrence.as_ref().map(|link| match link {
            crate::service::RecurrenceLink::Visible {
                team_slug,
                id,
                title,
            } => Some((format!("/teams/{team_slug}/loops/{id}"), title.clone())),
            crate::service::RecurrenceLink::Hidden => None,
        }),
        id: r.id.to_string(),
        title: r.title.clone(),
        kind: r.kind.as_str(),
        stage: r.stage,
        reporter: if r.anonymous {
            "Logged anonymously".to_owned()
        } else {
            format!(
                "Logged by {}",
                r.author
                    .as_ref()
                    .map(|(_, n)| n.clone())
                    .unwrap_or_else(|| "a former member".to_owned())
            )
        },
        created: if r.anonymous {
            date(r.created_at)
        } else {
            datetime(r.created_at)
        },
        happened: r
            .happened_at
            .map(datetime)
            .unwrap_or_else(|| "not known".to_owned()),
        noticed: datetime(r.noticed_at),
        time_to_detect: r
            .happened_at
            .map(|h| duration(r.noticed_at - h))
            .unwrap_or_default(),
        impact_scale: r.impact_scale.as_str(),
        impact_affected: r.impact_affected.clone(),
        what_happened: markdown::render(&r.what_happened),
        what_was_expected: markdown::render(&r.what_was_expected),
        tags: r.tags.clone(),
        attention: detail
            .attention
            .as_ref()
            .map(Attention::describe)
            .unwrap_or_default(),
        next_stage: detail.next.as_ref().ok().map(|s| s.label()),
        blocker: detail.next.as_ref().err().cloned().unwrap_or_default(),
        has_review: review_values.iter().any(|v| !v.is_empty()),
        review,
        additions: detail
            .additions
            .iter()
            .map(|a| {
                (
                    date(a.added_on),
                    if a.by_reporter {
                        "the reporter".to_owned()
                    } else {
                        by_or(&a.author_name)
                    },
                    markdown::render(&a.body),
                )
            })
            .collect(),
        timeline: detail
            .timeline
            .iter()
            .map(|e| {
                (
                    datetime(e.occurred_at),
                    markdown::render(&e.description),
                    by_or(&e.added_by_name),
                )
            })
            .collect(),
        factors: detail
            .factors
            .iter()
            .map(|f| {
                (
                    f.id.to_string(),
                    f.reason.label(),
                    markdown::render(&f.description),
                    by_or(&f.added_by_name),
                )
            })
            .collect(),
        accounts: detail
            .accounts
            .iter()
            .map(|a| AccountView {
                by: if a.anonymous {
                    "Anonymous".to_owned()
                } else {
                    by_or(&a.author_name)
                },
                added: date(a.added_on),
                parts: [
                    ("Actions I took", &a.actions),
                    ("What I observed", &a.observations),
                    ("What I expected", &a.expectations),
                    ("What I assumed", &a.assumptions),
                    ("How I understood the timeline", &a.timeline_understanding),
                ]
                .into_iter()
                .filter(|(_, text)| !text.is_empty())
                .map(|(label, text)| (label, markdown::render(text)))
                .collect(),
            })
            .collect(),
        answers: r.classification.as_ref().map(|(a, _)| *a),
        suggestion: r.classification.as_ref().map(|(_, s)| {
            (
                s.kind
                    .map(|k| k.label().to_owned())
                    .unwrap_or_else(|| "No suggestion yet".to_owned()),
                s.kind.map(|k| k.meaning().to_owned()).unwrap_or_default(),
                s.reasons.clone(),
            )
        }),
        override_view: r.type_override.as_ref().map(|o| {
            (
                o.kind.label().to_owned(),
                o.reason.clone(),
                by_or(&o.by_name),
                date(o.at),
            )
        }),
        learnings: detail
            .learnings
            .iter()
            .map(|l| {
                (
                    markdown::render(&l.statement),
                    l.visibility.as_str(),
                    by_or(&l.created_by_name),
                    date(l.created_at),
                )
            })
            .collect(),
        actions: detail
            .actions
            .iter()
            .map(|a| ActionView {
                id: a.id.to_string(),
                title: a.title.clone(),
                owner: a
                    .owner
                    .as_ref()
                    .map(|(_, n)| n.clone())
                    .unwrap_or_else(|| "no owner".to_owned()),
                due: a
                    .due_on
                    .map(date)
                    .unwrap_or_else(|| "no due date".to_owned()),
                status: a.status.as_str(),
                overdue: a.status == ActionStatus::Open
                    && a.due_on.is_some_and(|d| d < detail.today),
                dropped_reason: a.dropped_reason.clone(),
            })
            .collect(),
        follow_up_on: r.follow_up.on.map(date).unwrap_or_default(),
        follow_up_input: r.follow_up.on.map(input_date).unwrap_or_default(),
        follow_up_answer: r.follow_up.answered_at.map(|at| {
            (
                r.follow_up.recurred.unwrap_or(false),
                r.follow_up.held.unwrap_or(false),
                markdown::render(r.follow_up.note.as_deref().unwrap_or("")),
                by_or(&r.follow_up.answered_by_name),
                date(at),
            )
        }),
        follow_up_due: matches!(detail.attention, Some(Attention::FollowUpDue)),
        next_experiment: r.next_experiment_id.clone().unwrap_or_default(),
        source_experiment: r.source_experiment_id.clone().unwrap_or_default(),
        history: detail
            .history
            .iter()
            .map(|h| {
                (
                    match h.from {
                        None => format!("Logged at {}", h.to.label()),
                        Some(from) if from.index() < h.to.index() => {
                            format!("{} → {}", from.label(), h.to.label())
                        }
                        Some(from) => format!("Stepped back: {} → {}", from.label(), h.to.label()),
                    },
                    if h.from.is_none() && r.anonymous {
                        date(h.at)
                    } else {
                        datetime(h.at)
                    },
                    match (&h.by_name, h.from) {
                        (Some(name), _) => name.clone(),
                        (None, None) if r.anonymous => "anonymous".to_owned(),
                        (None, _) => "a former member".to_owned(),
                    },
                    h.note.clone(),
                )
            })
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "loop.html")]
struct LoopPage {
    layout: Layout,
    team: Team,
    view: LoopView,
    members: Vec<(String, String)>,
    reasons: Vec<(&'static str, &'static str, &'static str)>,
    types: Vec<(&'static str, &'static str)>,
    questions: Vec<(&'static str, &'static str)>,
    /// Which form the errors belong to.
    error_form: &'static str,
    errors: FormErrors,
    echo: Echo,
    stages: &'static [Stage],
    /// The loop's address, when the page answers the capture form (the browser shows it instead
    /// of the form's).
    address: Option<String>,
}

impl LoopPage {
    fn answered(&self, key: &str, value: &str) -> bool {
        self.view
            .answers
            .and_then(|a| a.answer(key))
            .is_some_and(|a| a.as_str() == value)
    }
}

async fn loop_page(
    state: &AppState,
    user: &WebUser,
    access: &TeamAccess,
    id: &str,
    error_form: &'static str,
    errors: FormErrors,
    echo: Echo,
) -> Result<LoopPage, WebError> {
    let detail = state.service.loop_detail(access, id).await?;
    let members = state
        .service
        .members(access)
        .await?
        .into_iter()
        .map(|m| (m.user.id.to_string(), m.user.name.to_string()))
        .collect();
    Ok(LoopPage {
        layout: Layout::signed_in(user, detail.record.title.clone(), "teams"),
        team: access.team().clone(),
        view: loop_view(&detail),
        members,
        reasons: FactorReason::ALL
            .iter()
            .map(|r| (r.as_str(), r.label(), r.description()))
            .collect(),
        types: FailureType::ALL
            .iter()
            .map(|t| (t.as_str(), t.label()))
            .collect(),
        questions: Questionnaire::QUESTIONS.to_vec(),
        error_form,
        errors,
        echo,
        stages: Stage::ALL,
        address: None,
    })
}

pub async fn show(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    Query(notice): Query<NoticeQuery>,
    WebTeam { user, access }: WebTeam,
) -> Result<Response, WebError> {
    let page = shown_loop_page(&state, &user, &access, &id, &notice).await?;
    Ok(render(&page))
}

/// The loop page with no form in error, and a notice.
async fn shown_loop_page(
    state: &AppState,
    user: &WebUser,
    access: &TeamAccess,
    id: &str,
    notice: &NoticeQuery,
) -> Result<LoopPage, WebError> {
    let mut page = loop_page(
        state,
        user,
        access,
        id,
        "",
        FormErrors::none(),
        Echo::default(),
    )
    .await?;
    page.layout = page.layout.with_notice(notice);
    Ok(page)
}

/// After a successful form: back to the loop page at the section that changed.
fn back_to(access: &TeamAccess, id: &str, notice: &str, anchor: &str) -> Response {
    Redirect::to(&format!(
        "/teams/{}/loops/{id}?notice={notice}#{anchor}",
        access.team().slug
    ))
    .into_response()
}

/// Shows the loop page again with the errors next to the form that caused them.
async fn form_failed(
    state: &AppState,
    user: &WebUser,
    access: &TeamAccess,
    id: &str,
    form: &'static str,
    error: ServiceError,
    echo: HashMap<String, String>,
) -> Result<Response, WebError> {
    let status = match &error {
        ServiceError::Conflict { .. } => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let errors = FormErrors::from_service(error)?;
    let page = loop_page(state, user, access, id, form, errors, Echo(echo)).await?;
    Ok(render_with_status(status, &page))
}

/// Any loop form: its fields as a map, checked for CSRF by `CsrfForm`.
type Fields = HashMap<String, String>;

fn field<'a>(fields: &'a Fields, key: &str) -> &'a str {
    fields.get(key).map(String::as_str).unwrap_or("")
}

/// Dispatches the loop page's forms by `{action}`.
pub async fn act(
    State(state): State<AppState>,
    Path((_slug, id, action)): Path<(String, String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(fields): CsrfForm<Fields>,
) -> Result<Response, WebError> {
    let service = &state.service;
    let (result, notice, anchor, form): (Result<(), ServiceError>, &str, &str, &'static str) =
        match action.as_str() {
            "additions" => (
                service
                    .add_addition(&access, &id, field(&fields, "body"))
                    .await,
                "addition-added",
                "detect",
                "addition",
            ),
            "timeline" => (
                service
                    .add_timeline_event(
                        &access,
                        &id,
                        field(&fields, "occurred_at"),
                        field(&fields, "description"),
                    )
                    .await,
                "event-added",
                "timeline",
                "timeline",
            ),
            "factors" => (
                service
                    .add_factor(
                        &access,
                        &id,
                        field(&fields, "reason"),
                        field(&fields, "description"),
                    )
                    .await
                    .map(|_| ()),
                "factor-added",
                "factors",
                "factor",
            ),
            "review" => (
                service
                    .save_review(
                        &access,
                        &id,
                        ReviewInput {
                            aar_intended: field(&fields, "aar_intended").to_owned(),
                            aar_actual: field(&fields, "aar_actual").to_owned(),
                            aar_difference: field(&fields, "aar_difference").to_owned(),
                            aar_lessons: field(&fields, "aar_lessons").to_owned(),
                            went_well: field(&fields, "went_well").to_owned(),
                            went_wrong: field(&fields, "went_wrong").to_owned(),
                            got_lucky: field(&fields, "got_lucky").to_owned(),
                        },
                    )
                    .await,
                "review-saved",
                "review",
                "review",
            ),
            "accounts" => (
                service
                    .add_account(
                        &access,
                        &id,
                        AccountInput {
                            actions: field(&fields, "actions").to_owned(),
                            observations: field(&fields, "observations").to_owned(),
                            expectations: field(&fields, "expectations").to_owned(),
                            assumptions: field(&fields, "assumptions").to_owned(),
                            timeline_understanding: field(&fields, "timeline_understanding")
                                .to_owned(),
                            anonymous: fields.contains_key("anonymous"),
                        },
                    )
                    .await,
                if fields.contains_key("anonymous") {
                    "account-held"
                } else {
                    "account-added"
                },
                "accounts",
                "account",
            ),
            "classification" => {
                let answer =
                    |key: &str| Answer::parse(field(&fields, key)).unwrap_or(Answer::Unsure);
                let answers = Questionnaire {
                    new_territory: answer("new_territory"),
                    pursued_goal: answer("pursued_goal"),
                    hypothesis_beforehand: answer("hypothesis_beforehand"),
                    as_small_as_possible: answer("as_small_as_possible"),
                    responded_quickly: answer("responded_quickly"),
                    learned_from: answer("learned_from"),
                };
                (
                    service.classify(&access, &id, answers).await.map(|_| ()),
                    "classified",
                    "classification",
                    "classification",
                )
            }
            "override" => (
                service
                    .override_type(
                        &access,
                        &id,
                        Some(field(&fields, "type")),
                        field(&fields, "reason"),
                    )
                    .await,
                "override-saved",
                "classification",
                "override",
            ),
            "override-clear" => (
                service.override_type(&access, &id, None, "").await,
                "override-cleared",
                "classification",
                "override",
            ),
            "learnings" => (
                service
                    .add_learning(
                        &access,
                        &id,
                        field(&fields, "statement"),
                        field(&fields, "visibility"),
                    )
                    .await
                    .map(|_| ()),
                "learning-added",
                "learnings",
                "learning",
            ),
            "actions" => (
                service
                    .add_action(
                        &access,
                        &id,
                        field(&fields, "title"),
                        Some(field(&fields, "owner_id")),
                        Some(field(&fields, "due_on")),
                    )
                    .await
                    .map(|_| ()),
                "action-added",
                "actions",
                "action",
            ),
            "action-status" => (
                service
                    .set_action_status(
                        &access,
                        field(&fields, "action_id"),
                        field(&fields, "status"),
                        field(&fields, "dropped_reason"),
                    )
                    .await
                    .map(|_| ()),
                "action-updated",
                "actions",
                "action-status",
            ),
            "follow-up" => (
                service
                    .set_follow_up(&access, &id, Some(field(&fields, "follow_up_on")))
                    .await,
                "follow-up-set",
                "continue",
                "follow-up",
            ),
            "follow-up-answer" => (
                service
                    .answer_follow_up(
                        &access,
                        &id,
                        field(&fields, "recurred") == "yes",
                        field(&fields, "held") == "yes",
                        field(&fields, "note"),
                    )
                    .await,
                "follow-up-answered",
                "continue",
                "follow-up-answer",
            ),
            "advance" | "step-back" => (
                service
                    .change_stage(&access, &id, action == "advance", field(&fields, "note"))
                    .await
                    .map(|_| ()),
                if action == "advance" {
                    "stage-advanced"
                } else {
                    "stage-back"
                },
                "next-step",
                "stage",
            ),
            "factor-remove" => (
                service
                    .remove_factor(&access, &id, field(&fields, "factor_id"))
                    .await,
                "factor-removed",
                "factors",
                "factor",
            ),
            _ => return Err(ServiceError::NotFound.into()),
        };
    match result {
        Ok(()) => Ok(back_to(&access, &id, notice, anchor)),
        Err(error) => form_failed(&state, &user, &access, &id, form, error, fields).await,
    }
}

#[derive(Template)]
#[template(path = "reporter.html")]
struct ReporterPage {
    layout: Layout,
    view: LoopView,
    secret: String,
    errors: FormErrors,
    withdrawn: bool,
    message: String,
    /// Held by this server until the day's release.
    unpublished: bool,
}

fn private_page(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn reporter_layout(context: &SessionContext, csrf: &PreSessionCsrf) -> Layout {
    match context {
        SessionContext::SignedIn { actor, csrf_token } => Layout::signed_in(
            &WebUser {
                actor: actor.clone(),
                csrf_token: csrf_token.clone(),
            },
            "Your anonymous report",
            "",
        ),
        _ => Layout::public("Your anonymous report", &csrf.token),
    }
}

/// The anonymous reporter's page: what they logged, what others added, and room to add more.
pub async fn reporter(
    State(state): State<AppState>,
    Path(secret): Path<String>,
    MaybeUser(context): MaybeUser,
    csrf: PreSessionCsrf,
    jar: axum_extra::extract::cookie::CookieJar,
) -> Result<Response, WebError> {
    let detail = state.service.reporter_loop(&secret).await?;
    let page = ReporterPage {
        layout: reporter_layout(&context, &csrf),
        view: loop_view(&detail),
        secret,
        errors: FormErrors::none(),
        withdrawn: false,
        message: String::new(),
        unpublished: detail.unpublished,
    };
    let response = render(&page);
    let response = match csrf.cookie {
        Some(cookie) if !matches!(context, SessionContext::SignedIn { .. }) => {
            (jar.add(cookie), response).into_response()
        }
        _ => response,
    };
    Ok(private_page(response))
}

#[derive(Debug, Deserialize)]
pub struct ReporterForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    withdraw: Option<String>,
}

pub async fn reporter_submit(
    State(state): State<AppState>,
    Path(secret): Path<String>,
    MaybeUser(context): MaybeUser,
    csrf: PreSessionCsrf,
    CsrfForm(form): CsrfForm<ReporterForm>,
) -> Result<Response, WebError> {
    if form.withdraw.is_some() {
        let detail = state.service.reporter_loop(&secret).await?;
        state.service.reporter_withdraw(&secret).await?;
        let page = ReporterPage {
            layout: reporter_layout(&context, &csrf),
            view: loop_view(&detail),
            secret: String::new(),
            errors: FormErrors::none(),
            withdrawn: true,
            message: "Your report has been withdrawn and deleted.".to_owned(),
            unpublished: false,
        };
        return Ok(private_page(render(&page)));
    }
    match state.service.reporter_add(&secret, &form.body).await {
        Ok(detail) => Ok(private_page(render(&ReporterPage {
            layout: reporter_layout(&context, &csrf),
            view: loop_view(&detail),
            secret,
            errors: FormErrors::none(),
            withdrawn: false,
            message: "Added. It shows beside your report as written by the reporter, published with today's other anonymous entries after midnight UTC.".to_owned(),
            unpublished: detail.unpublished,
        }))),
        Err(error) => {
            let errors = FormErrors::from_service(error)?;
            let detail = state.service.reporter_loop(&secret).await?;
            Ok(private_page(render_with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &ReporterPage {
                    layout: reporter_layout(&context, &csrf),
                    view: loop_view(&detail),
                    secret,
                    errors,
                    withdrawn: false,
                    message: String::new(),
                    unpublished: detail.unpublished,
                },
            )))
        }
    }
}
