//! The learning loop's pages: "Log a failure", the team's loop list, the loop's story page with a
//! form for each stage, and the anonymous reporter's page.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use super::form::{Choice, Echo, EmptyForm, Reading, Tick};
use super::format::{date, datetime, duration, input_date};
use super::loop_stages::{stage_slots, StageFacts, StageSlot};
use super::{render, render_with_status, FormErrors, Layout, NoticeQuery};
use crate::domain::loops::{
    ActionStatus, Answer, FactorReason, FailureType, ImpactScale, LoopSort, Questionnaire, Stage,
    Visibility,
};
use crate::domain::records::loops::LoopSummary;
use crate::domain::Team;
use crate::http::error::WebError;
use crate::http::extract::{CsrfForm, MaybeUser, PreSessionCsrf, SessionContext, WebTeam, WebUser};
use crate::http::markdown;
use crate::http::AppState;
use crate::service::{
    AccountInput, Attention, LoopDetail, LoopInput, LoopQuery, ReviewInput, ServiceError,
    TeamAccess,
};

/// Which teams someone can log into, for the "Log a failure" chooser.
#[derive(Template)]
#[template(path = "log_choose.html")]
struct ChooseTeamPage {
    layout: Layout,
    teams: Vec<TeamChoice>,
}

/// A team someone can log into.
struct TeamChoice {
    slug: String,
    name: String,
}

/// `/log`: straight to the form when there is one team, else a choice.
pub async fn log_anywhere(
    State(state): State<AppState>,
    user: WebUser,
) -> Result<Response, WebError> {
    let teams: Vec<TeamChoice> = state
        .service
        .teams_for(&user.actor)
        .await?
        .into_iter()
        .filter(|t| t.role.is_some())
        .map(|t| TeamChoice {
            slug: t.team.slug.to_string(),
            name: t.team.name.to_string(),
        })
        .collect();
    if let [only] = teams.as_slice() {
        return Ok(Redirect::to(&format!("/teams/{}/loops/new", only.slug)).into_response());
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
    scales: Vec<ScaleChoice>,
}

/// An impact scale the capture form offers, with words that say what it means.
struct ScaleChoice {
    word: &'static str,
    label: &'static str,
}

fn scales() -> Vec<ScaleChoice> {
    ImpactScale::ALL
        .iter()
        .map(|s| ScaleChoice {
            word: s.as_str(),
            label: match s {
                ImpactScale::Negligible => "Negligible — caught before anyone was affected",
                ImpactScale::Minor => "Minor — a few people or a small part, briefly",
                ImpactScale::Moderate => "Moderate — noticeable for a team or some customers",
                ImpactScale::Major => "Major — many people, money or trust affected",
                ImpactScale::Severe => "Severe — lasting harm, safety, legal or large losses",
            },
        })
        .collect()
}

pub async fn new_form(WebTeam { user, access }: WebTeam) -> Result<Response, WebError> {
    let mut echo = Echo::default();
    echo.set("impact_scale", "minor");
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

/// "Log a failure": what happened, when, how far it reached, and whether anonymously.
#[derive(Debug, Default, Deserialize, Serialize)]
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
    impact_scale: Choice<ImpactScale>,
    #[serde(default)]
    impact_affected: String,
    #[serde(default)]
    tags: String,
    /// Present (ticked) when the loop is logged anonymously.
    #[serde(default)]
    anonymous: Tick,
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
    let echo = Echo::of(&form);
    let result = match form.impact_scale.read("impact_scale") {
        Ok(impact_scale) => {
            let input = LoopInput {
                title: form.title,
                what_happened: form.what_happened,
                what_was_expected: form.what_was_expected,
                happened_at: Some(form.happened_at),
                noticed_at: Some(form.noticed_at),
                impact_scale: Some(impact_scale),
                impact_affected: form.impact_affected,
                // The form takes the tags as one comma-separated field.
                tags: form
                    .tags
                    .split(',')
                    .filter(|tag| !tag.trim().is_empty())
                    .map(str::to_owned)
                    .collect(),
                anonymous: form.anonymous.0,
            };
            state.service.log_failure(&access, input).await
        }
        Err(error) => Err(error),
    };
    match result {
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
    pub stage: Choice<Stage>,
    #[serde(default, rename = "type")]
    pub failure_type: Choice<FailureType>,
    #[serde(default)]
    pub tag: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub sort: Choice<LoopSort>,
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
    let mut reading = Reading::default();
    let query = LoopQuery {
        stage: reading.optional_choice("stage", &filter.stage),
        kind: None,
        failure_type: reading.optional_choice("type", &filter.failure_type),
        tag: Some(filter.tag.clone()),
        from: Some(filter.from.clone()),
        to: Some(filter.to.clone()),
        sort: reading
            .optional_choice("sort", &filter.sort)
            .unwrap_or_default(),
        stuck: filter.stuck == "on",
        page: filter.page,
        per_page: Some(50),
    };
    let notice = NoticeQuery {
        notice: filter.notice.clone(),
    };
    let listed = match reading.finish() {
        Ok(()) => state.service.loops(&access, &query).await,
        Err(refusal) => Err(refusal),
    };
    let (rows, total, page, pages, errors) = match listed {
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
    review: [ReviewFieldView; 7],
    has_review: bool,
    additions: Vec<AdditionView>,
    timeline: Vec<TimelineView>,
    factors: Vec<FactorView>,
    accounts: Vec<AccountView>,
    answers: Option<Questionnaire>,
    suggestion: Option<SuggestionView>,
    override_view: Option<OverrideView>,
    learnings: Vec<LearningView>,
    actions: Vec<ActionView>,
    follow_up_on: String,
    follow_up_input: String,
    follow_up_answer: Option<FollowUpAnswerView>,
    follow_up_due: bool,
    next_experiment: String,
    source_experiment: String,
    history: Vec<HistoryView>,
    /// A possible recurrence: the earlier loop, or `None` when it is in a team the viewer is
    /// not in.
    recurrence: Option<RecurrenceView>,
}

/// A possible recurrence: the earlier loop (`None` when it is in a team the viewer is not in),
/// why it was flagged, and the team's verdict.
struct RecurrenceView {
    earlier: Option<EarlierLoopView>,
    /// The shared mechanism words, quoted and joined ("" when none or hidden).
    why: String,
    /// The contributing-factor reasons both loops name, joined.
    factors: String,
    confirmed: bool,
}

/// The earlier loop a possible recurrence points to.
struct EarlierLoopView {
    href: String,
    title: String,
}

/// One question of the after-action review: the form field, its label, the text as written
/// and as HTML.
struct ReviewFieldView {
    key: &'static str,
    label: &'static str,
    value: String,
    html: String,
}

/// Something added to what was detected.
struct AdditionView {
    added: String,
    by: String,
    /// HTML.
    body: String,
}

/// One event of the timeline.
struct TimelineView {
    at: String,
    /// HTML.
    description: String,
    by: String,
}

/// A contributing factor.
struct FactorView {
    id: String,
    reason: &'static str,
    /// HTML.
    description: String,
    by: String,
}

struct AccountView {
    by: String,
    added: String,
    parts: Vec<AccountPartView>,
}

/// One answered part of an account.
struct AccountPartView {
    label: &'static str,
    /// HTML.
    html: String,
}

/// The suggested failure type and the answers behind it.
struct SuggestionView {
    kind: String,
    meaning: String,
    reasons: Vec<String>,
}

/// A type chosen instead of the suggestion.
struct OverrideView {
    kind: String,
    reason: String,
    by: String,
    at: String,
}

/// A learning and who may read it.
struct LearningView {
    /// HTML.
    statement: String,
    visibility: &'static str,
    by: String,
    at: String,
}

/// The follow-up check's answer.
struct FollowUpAnswerView {
    recurred: bool,
    held: bool,
    /// HTML.
    note: String,
    by: String,
    at: String,
}

/// One stage change: what changed, when, by whom, and the note.
struct HistoryView {
    change: String,
    at: String,
    by: String,
    note: String,
}

/// A word a form offers (a reason on the spectrum, a failure type) and how it reads.
struct WordChoice {
    word: &'static str,
    label: &'static str,
    description: &'static str,
}

/// A member a form offers (an action's owner).
struct MemberChoice {
    id: String,
    name: String,
}

/// A question of the classification questionnaire.
struct QuestionView {
    key: &'static str,
    text: &'static str,
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
        ReviewFieldView {
            key,
            label,
            value: review_values[i].clone(),
            html: markdown::render(review_values[i]),
        }
    });
    let by_or =
        |name: &Option<String>| name.clone().unwrap_or_else(|| "a former member".to_owned());
    LoopView {
        recurrence: detail.recurrence.as_ref().map(|link| match link {
            crate::service::RecurrenceLink::Visible {
                team_slug,
                id,
                title,
                why,
                shared_factors,
                verdict,
            } => RecurrenceView {
                earlier: Some(EarlierLoopView {
                    href: format!("/teams/{team_slug}/loops/{id}"),
                    title: title.clone(),
                }),
                why: why
                    .iter()
                    .map(|w| format!("“{w}”"))
                    .collect::<Vec<_>>()
                    .join(", "),
                factors: shared_factors
                    .iter()
                    .map(|f| f.label().to_lowercase())
                    .collect::<Vec<_>>()
                    .join(", "),
                confirmed: *verdict
                    == Some(crate::domain::recurrence::RecurrenceVerdict::Confirmed),
            },
            crate::service::RecurrenceLink::Hidden { verdict } => RecurrenceView {
                earlier: None,
                why: String::new(),
                factors: String::new(),
                confirmed: *verdict
                    == Some(crate::domain::recurrence::RecurrenceVerdict::Confirmed),
            },
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
                    .map(|p| p.name.clone())
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
            .map(|a| AdditionView {
                added: date(a.added_on),
                by: if a.by_reporter {
                    "the reporter".to_owned()
                } else {
                    by_or(&a.author_name)
                },
                body: markdown::render(&a.body),
            })
            .collect(),
        timeline: detail
            .timeline
            .iter()
            .map(|e| TimelineView {
                at: datetime(e.occurred_at),
                description: markdown::render(&e.description),
                by: by_or(&e.added_by_name),
            })
            .collect(),
        factors: detail
            .factors
            .iter()
            .map(|f| FactorView {
                id: f.id.to_string(),
                reason: f.reason.label(),
                description: markdown::render(&f.description),
                by: by_or(&f.added_by_name),
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
                .map(|(label, text)| AccountPartView {
                    label,
                    html: markdown::render(text),
                })
                .collect(),
            })
            .collect(),
        answers: r.classification.as_ref().map(|(a, _)| *a),
        suggestion: r.classification.as_ref().map(|(_, s)| SuggestionView {
            kind: s
                .kind
                .map(|k| k.label().to_owned())
                .unwrap_or_else(|| "No suggestion yet".to_owned()),
            meaning: s.kind.map(|k| k.meaning().to_owned()).unwrap_or_default(),
            reasons: s.reasons.clone(),
        }),
        override_view: r.type_override.as_ref().map(|o| OverrideView {
            kind: o.kind.label().to_owned(),
            reason: o.reason.clone(),
            by: by_or(&o.by_name),
            at: date(o.at),
        }),
        learnings: detail
            .learnings
            .iter()
            .map(|l| LearningView {
                statement: markdown::render(&l.statement),
                visibility: l.visibility.as_str(),
                by: by_or(&l.created_by_name),
                at: date(l.created_at),
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
                    .map(|p| p.name.clone())
                    .unwrap_or_else(|| "no owner".to_owned()),
                due: a
                    .due_on
                    .map(date)
                    .unwrap_or_else(|| "no due date".to_owned()),
                status: a.status.as_str(),
                overdue: detail.is_overdue(a),
                dropped_reason: a.dropped_reason.clone(),
            })
            .collect(),
        follow_up_on: r.follow_up.on.map(date).unwrap_or_default(),
        follow_up_input: r.follow_up.on.map(input_date).unwrap_or_default(),
        follow_up_answer: r.follow_up.answered_at.map(|at| FollowUpAnswerView {
            recurred: r.follow_up.recurred.unwrap_or(false),
            held: r.follow_up.held.unwrap_or(false),
            note: markdown::render(r.follow_up.note.as_deref().unwrap_or("")),
            by: by_or(&r.follow_up.answered_by_name),
            at: date(at),
        }),
        follow_up_due: matches!(detail.attention, Some(Attention::FollowUpDue)),
        next_experiment: r.next_experiment_id.clone().unwrap_or_default(),
        source_experiment: r.source_experiment_id.clone().unwrap_or_default(),
        history: detail
            .history
            .iter()
            .map(|h| HistoryView {
                change: match h.from {
                    None => format!("Logged at {}", h.to.label()),
                    Some(from) if from.index() < h.to.index() => {
                        format!("{} → {}", from.label(), h.to.label())
                    }
                    Some(from) => format!("Stepped back: {} → {}", from.label(), h.to.label()),
                },
                at: if h.from.is_none() && r.anonymous {
                    date(h.at)
                } else {
                    datetime(h.at)
                },
                by: match (&h.by_name, h.from) {
                    (Some(name), _) => name.clone(),
                    (None, None) if r.anonymous => "anonymous".to_owned(),
                    (None, _) => "a former member".to_owned(),
                },
                note: h.note.clone(),
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
    members: Vec<MemberChoice>,
    reasons: Vec<WordChoice>,
    types: Vec<WordChoice>,
    questions: Vec<QuestionView>,
    /// Which form the errors belong to.
    error_form: &'static str,
    errors: FormErrors,
    echo: Echo,
    stages: &'static [Stage],
    /// The stage sections in the order shown: the current stage first.
    slots: Vec<StageSlot>,
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
        .map(|m| MemberChoice {
            id: m.user.id.to_string(),
            name: m.user.name.to_string(),
        })
        .collect();
    let view = loop_view(&detail);
    let slots = stage_slots(view.stage, &stage_facts(&view), error_form);
    Ok(LoopPage {
        layout: Layout::signed_in(user, detail.record.title.clone(), "teams"),
        team: access.team().clone(),
        view,
        members,
        reasons: FactorReason::ALL
            .iter()
            .map(|r| WordChoice {
                word: r.as_str(),
                label: r.label(),
                description: r.description(),
            })
            .collect(),
        types: FailureType::ALL
            .iter()
            .map(|t| WordChoice {
                word: t.as_str(),
                label: t.label(),
                description: t.meaning(),
            })
            .collect(),
        questions: Questionnaire::QUESTIONS
            .iter()
            .map(|&(key, text)| QuestionView { key, text })
            .collect(),
        error_form,
        errors,
        echo,
        stages: Stage::ALL,
        slots,
        address: None,
    })
}

/// The counts the folded stages summarise, read from the page's own view so that the summary
/// and the section it folds cannot disagree.
fn stage_facts(view: &LoopView) -> StageFacts {
    StageFacts {
        additions: view.additions.len(),
        impact: view.impact_scale,
        has_review: view.has_review,
        timeline: view.timeline.len(),
        factors: view.factors.len(),
        accounts: view.accounts.len(),
        kind: match (&view.override_view, &view.suggestion) {
            (Some(chosen), _) => chosen.kind.clone(),
            (None, Some(suggested)) => suggested.kind.clone(),
            (None, None) => String::new(),
        },
        learnings: view.learnings.len(),
        actions: view.actions.len(),
        open_actions: view.actions.iter().filter(|a| a.status == "open").count(),
        follow_up: match &view.follow_up_answer {
            Some(answer) if answer.recurred => format!("checked {}: it recurred", answer.at),
            Some(answer) if !answer.held => {
                format!("checked {}: the change did not hold", answer.at)
            }
            Some(answer) => format!("checked {}: it held", answer.at),
            None if view.follow_up_on.is_empty() => String::new(),
            None => format!("follow-up check on {}", view.follow_up_on),
        },
        has_next_experiment: !view.next_experiment.is_empty(),
    }
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
    echo: Echo,
) -> Result<Response, WebError> {
    let status = match &error {
        ServiceError::Conflict { .. } => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let errors = FormErrors::from_service(error)?;
    let page = loop_page(state, user, access, id, form, errors, echo).await?;
    Ok(render_with_status(status, &page))
}

/// After a loop form: back to the page at `anchor` with `notice`, or the page again with the
/// errors beside the form named `form` and what was typed in it.
#[allow(clippy::too_many_arguments)]
async fn after_form(
    state: &AppState,
    user: &WebUser,
    access: &TeamAccess,
    id: &str,
    result: Result<(), ServiceError>,
    (notice, anchor, form): (&str, &str, &'static str),
    echo: Echo,
) -> Result<Response, WebError> {
    match result {
        Ok(()) => Ok(back_to(access, id, notice, anchor)),
        Err(error) => form_failed(state, user, access, id, form, error, echo).await,
    }
}

/// The reporter's or a member's addition to what was detected.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct AdditionForm {
    #[serde(default)]
    body: String,
}

/// `POST …/loops/{id}/additions`.
pub async fn add_addition(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<AdditionForm>,
) -> Result<Response, WebError> {
    let result = state.service.add_addition(&access, &id, &form.body).await;
    let outcome = ("addition-added", "detect", "addition");
    after_form(
        &state,
        &user,
        &access,
        &id,
        result,
        outcome,
        Echo::of(&form),
    )
    .await
}

/// One event of the timeline.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct TimelineForm {
    #[serde(default)]
    occurred_at: String,
    #[serde(default)]
    description: String,
}

/// `POST …/loops/{id}/timeline`.
pub async fn add_timeline_event(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<TimelineForm>,
) -> Result<Response, WebError> {
    let result = state
        .service
        .add_timeline_event(&access, &id, &form.occurred_at, &form.description)
        .await;
    let outcome = ("event-added", "timeline", "timeline");
    after_form(
        &state,
        &user,
        &access,
        &id,
        result,
        outcome,
        Echo::of(&form),
    )
    .await
}

/// A contributing factor: where on the spectrum of reasons, and what happened.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct FactorForm {
    #[serde(default)]
    reason: Choice<FactorReason>,
    #[serde(default)]
    description: String,
}

/// `POST …/loops/{id}/factors`.
pub async fn add_factor(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<FactorForm>,
) -> Result<Response, WebError> {
    let result = match form.reason.read("reason") {
        Ok(reason) => state
            .service
            .add_factor(&access, &id, reason, &form.description)
            .await
            .map(|_| ()),
        Err(error) => Err(error),
    };
    let outcome = ("factor-added", "factors", "factor");
    after_form(
        &state,
        &user,
        &access,
        &id,
        result,
        outcome,
        Echo::of(&form),
    )
    .await
}

/// Which factor to remove.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct RemoveFactorForm {
    #[serde(default)]
    factor_id: String,
}

/// `POST …/loops/{id}/factor-remove`.
pub async fn remove_factor(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<RemoveFactorForm>,
) -> Result<Response, WebError> {
    let result = state
        .service
        .remove_factor(&access, &id, &form.factor_id)
        .await;
    let outcome = ("factor-removed", "factors", "factor");
    after_form(
        &state,
        &user,
        &access,
        &id,
        result,
        outcome,
        Echo::of(&form),
    )
    .await
}

/// The after-action review and the went well / went wrong / got lucky lists.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ReviewForm {
    #[serde(default)]
    aar_intended: String,
    #[serde(default)]
    aar_actual: String,
    #[serde(default)]
    aar_difference: String,
    #[serde(default)]
    aar_lessons: String,
    #[serde(default)]
    went_well: String,
    #[serde(default)]
    went_wrong: String,
    #[serde(default)]
    got_lucky: String,
}

/// `POST …/loops/{id}/review`.
pub async fn save_review(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<ReviewForm>,
) -> Result<Response, WebError> {
    let echo = Echo::of(&form);
    let input = ReviewInput {
        aar_intended: form.aar_intended,
        aar_actual: form.aar_actual,
        aar_difference: form.aar_difference,
        aar_lessons: form.aar_lessons,
        went_well: form.went_well,
        went_wrong: form.went_wrong,
        got_lucky: form.got_lucky,
    };
    let result = state.service.save_review(&access, &id, input).await;
    let outcome = ("review-saved", "review", "review");
    after_form(&state, &user, &access, &id, result, outcome, echo).await
}

/// One person's account of what they did, saw, expected and assumed.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct AccountForm {
    #[serde(default)]
    actions: String,
    #[serde(default)]
    observations: String,
    #[serde(default)]
    expectations: String,
    #[serde(default)]
    assumptions: String,
    #[serde(default)]
    timeline_understanding: String,
    /// Present (ticked) when the account is given anonymously.
    #[serde(default)]
    anonymous: Tick,
}

/// `POST …/loops/{id}/accounts`.
pub async fn add_account(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<AccountForm>,
) -> Result<Response, WebError> {
    let echo = Echo::of(&form);
    let anonymous = form.anonymous.0;
    let input = AccountInput {
        actions: form.actions,
        observations: form.observations,
        expectations: form.expectations,
        assumptions: form.assumptions,
        timeline_understanding: form.timeline_understanding,
        anonymous,
    };
    let result = state.service.add_account(&access, &id, input).await;
    let notice = if anonymous {
        "account-held"
    } else {
        "account-added"
    };
    let outcome = (notice, "accounts", "account");
    after_form(&state, &user, &access, &id, result, outcome, echo).await
}

/// The classification questionnaire. An answer left out or not one of yes, no and unsure counts
/// as unsure, as the questionnaire allows.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ClassificationForm {
    #[serde(default)]
    new_territory: Choice<Answer>,
    #[serde(default)]
    pursued_goal: Choice<Answer>,
    #[serde(default)]
    hypothesis_beforehand: Choice<Answer>,
    #[serde(default)]
    as_small_as_possible: Choice<Answer>,
    #[serde(default)]
    responded_quickly: Choice<Answer>,
    #[serde(default)]
    learned_from: Choice<Answer>,
}

/// `POST …/loops/{id}/classification`.
pub async fn classify(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<ClassificationForm>,
) -> Result<Response, WebError> {
    let answers = Questionnaire {
        new_territory: form.new_territory.or(Answer::Unsure),
        pursued_goal: form.pursued_goal.or(Answer::Unsure),
        hypothesis_beforehand: form.hypothesis_beforehand.or(Answer::Unsure),
        as_small_as_possible: form.as_small_as_possible.or(Answer::Unsure),
        responded_quickly: form.responded_quickly.or(Answer::Unsure),
        learned_from: form.learned_from.or(Answer::Unsure),
    };
    let result = state
        .service
        .classify(&access, &id, answers)
        .await
        .map(|_| ());
    let outcome = ("classified", "classification", "classification");
    after_form(
        &state,
        &user,
        &access,
        &id,
        result,
        outcome,
        Echo::of(&form),
    )
    .await
}

/// A type chosen other than the suggestion, and why. An empty type withdraws the override.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct OverrideForm {
    #[serde(default, rename = "type")]
    kind: Choice<FailureType>,
    #[serde(default)]
    reason: String,
}

/// `POST …/loops/{id}/override`.
pub async fn override_type(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<OverrideForm>,
) -> Result<Response, WebError> {
    let result = match form.kind.read_optional("type") {
        Ok(kind) => {
            state
                .service
                .override_type(&access, &id, kind, &form.reason)
                .await
        }
        Err(error) => Err(error),
    };
    let outcome = ("override-saved", "classification", "override");
    after_form(
        &state,
        &user,
        &access,
        &id,
        result,
        outcome,
        Echo::of(&form),
    )
    .await
}

/// `POST …/loops/{id}/override-clear`.
pub async fn clear_override(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(EmptyForm {}): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    let result = state.service.override_type(&access, &id, None, "").await;
    let outcome = ("override-cleared", "classification", "override");
    after_form(
        &state,
        &user,
        &access,
        &id,
        result,
        outcome,
        Echo::default(),
    )
    .await
}

/// A learning and who may read it.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct LearningForm {
    #[serde(default)]
    statement: String,
    #[serde(default)]
    visibility: Choice<Visibility>,
}

/// `POST …/loops/{id}/learnings`.
pub async fn add_learning(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<LearningForm>,
) -> Result<Response, WebError> {
    let result = match form.visibility.read("visibility") {
        Ok(visibility) => state
            .service
            .add_learning(&access, &id, &form.statement, visibility)
            .await
            .map(|_| ()),
        Err(error) => Err(error),
    };
    let outcome = ("learning-added", "learnings", "learning");
    after_form(
        &state,
        &user,
        &access,
        &id,
        result,
        outcome,
        Echo::of(&form),
    )
    .await
}

/// A new action item.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ActionForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    owner_id: String,
    #[serde(default)]
    due_on: String,
}

/// `POST …/loops/{id}/actions`.
pub async fn add_action(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<ActionForm>,
) -> Result<Response, WebError> {
    let result = state
        .service
        .add_action(
            &access,
            &id,
            &form.title,
            Some(&form.owner_id),
            Some(&form.due_on),
        )
        .await
        .map(|_| ());
    let outcome = ("action-added", "actions", "action");
    after_form(
        &state,
        &user,
        &access,
        &id,
        result,
        outcome,
        Echo::of(&form),
    )
    .await
}

/// An action marked done, dropped (with a reason) or open again.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ActionStatusForm {
    #[serde(default)]
    action_id: String,
    #[serde(default)]
    status: Choice<ActionStatus>,
    #[serde(default)]
    dropped_reason: String,
}

/// `POST …/loops/{id}/action-status`.
pub async fn set_action_status(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<ActionStatusForm>,
) -> Result<Response, WebError> {
    let result = match form.status.read("status") {
        Ok(status) => state
            .service
            .set_action_status(&access, &form.action_id, status, &form.dropped_reason)
            .await
            .map(|_| ()),
        Err(error) => Err(error),
    };
    let outcome = ("action-updated", "actions", "action-status");
    after_form(
        &state,
        &user,
        &access,
        &id,
        result,
        outcome,
        Echo::of(&form),
    )
    .await
}

/// The day to check whether the learning held.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct FollowUpForm {
    #[serde(default)]
    follow_up_on: String,
}

/// `POST …/loops/{id}/follow-up`.
pub async fn set_follow_up(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<FollowUpForm>,
) -> Result<Response, WebError> {
    let result = state
        .service
        .set_follow_up(&access, &id, Some(&form.follow_up_on))
        .await;
    let outcome = ("follow-up-set", "continue", "follow-up");
    after_form(
        &state,
        &user,
        &access,
        &id,
        result,
        outcome,
        Echo::of(&form),
    )
    .await
}

/// The follow-up's answer: did it recur, did the change hold ("yes" for yes).
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct FollowUpAnswerForm {
    #[serde(default)]
    recurred: String,
    #[serde(default)]
    held: String,
    #[serde(default)]
    note: String,
}

/// `POST …/loops/{id}/follow-up-answer`.
pub async fn answer_follow_up(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<FollowUpAnswerForm>,
) -> Result<Response, WebError> {
    let result = state
        .service
        .answer_follow_up(
            &access,
            &id,
            form.recurred == "yes",
            form.held == "yes",
            &form.note,
        )
        .await;
    let outcome = ("follow-up-answered", "continue", "follow-up-answer");
    after_form(
        &state,
        &user,
        &access,
        &id,
        result,
        outcome,
        Echo::of(&form),
    )
    .await
}

/// A team's verdict on a possible-recurrence flag.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct RecurrenceForm {
    #[serde(default)]
    verdict: String,
}

/// `POST …/loops/{id}/recurrence`: confirm or dismiss the possible-recurrence flag.
pub async fn judge_recurrence(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<RecurrenceForm>,
) -> Result<Response, WebError> {
    let result = state
        .service
        .judge_recurrence(&access, &id, &form.verdict)
        .await;
    let notice = match &result {
        Ok(pair) if pair.verdict == crate::domain::recurrence::RecurrenceVerdict::Dismissed => {
            "recurrence-dismissed"
        }
        _ => "recurrence-confirmed",
    };
    after_form(
        &state,
        &user,
        &access,
        &id,
        result.map(|_| ()),
        (notice, "recurrence", "recurrence"),
        Echo::of(&form),
    )
    .await
}

/// A stage change and its note.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct StageForm {
    #[serde(default)]
    note: String,
}

/// `POST …/loops/{id}/advance`.
pub async fn advance(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<StageForm>,
) -> Result<Response, WebError> {
    change_stage(state, user, access, id, form, true).await
}

/// `POST …/loops/{id}/step-back`.
pub async fn step_back(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<StageForm>,
) -> Result<Response, WebError> {
    change_stage(state, user, access, id, form, false).await
}

async fn change_stage(
    state: AppState,
    user: WebUser,
    access: TeamAccess,
    id: String,
    form: StageForm,
    forward: bool,
) -> Result<Response, WebError> {
    let result = state
        .service
        .change_stage(&access, &id, forward, &form.note)
        .await
        .map(|_| ());
    let notice = if forward {
        "stage-advanced"
    } else {
        "stage-back"
    };
    let outcome = (notice, "next-step", "stage");
    after_form(
        &state,
        &user,
        &access,
        &id,
        result,
        outcome,
        Echo::of(&form),
    )
    .await
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
