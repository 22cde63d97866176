//! Integrations: signed webhook subscriptions with their delivery log and redelivery, for a
//! team's leads (`/teams/{slug}/integrations`, `/teams/{slug}/webhooks/…`) and for organisation
//! admins (`/people/webhooks…`), and the team's alert intake (its URLs per provider, a token
//! shown once, a `curl` to try it). The pages call the same use cases as the JSON API
//! (`service::webhooks`, `service::alerts`); who may do what is checked there.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use super::form::{EmptyForm, Tick};
use super::{date, render, render_with_status, FormErrors, Layout, NoticeQuery};
use crate::domain::alerts::Provider;
use crate::domain::events::EventKind;
use crate::domain::Team;
use crate::http::error::WebError;
use crate::http::extract::{CsrfForm, WebTeam, WebUser};
use crate::http::AppState;
use crate::service::webhooks::{webhook_id, AttemptRecord, WebhookScope, WebhookView};
use crate::service::TeamAccess;

/// Where the pages act: one team (its leads), or the organisation (admins).
#[derive(Clone, Copy)]
struct Place<'a> {
    user: &'a WebUser,
    team: Option<&'a TeamAccess>,
}

impl<'a> Place<'a> {
    fn scope(&self) -> WebhookScope<'a> {
        match self.team {
            Some(access) => WebhookScope::Team(access),
            None => WebhookScope::Organisation(&self.user.actor),
        }
    }

    /// The page that lists the subscriptions.
    fn list_path(&self) -> String {
        match self.team {
            Some(access) => format!("/teams/{}/integrations", access.team().slug),
            None => "/people/webhooks".to_owned(),
        }
    }

    /// Where one subscription's pages and forms live, below this.
    fn hooks_path(&self) -> String {
        match self.team {
            Some(access) => format!("/teams/{}/webhooks", access.team().slug),
            None => "/people/webhooks".to_owned(),
        }
    }

    fn title(&self) -> String {
        match self.team {
            Some(access) => format!("Integrations of {}", access.team().name),
            None => "Organisation webhooks".to_owned(),
        }
    }

    fn section(&self) -> &'static str {
        match self.team {
            Some(_) => "teams",
            None => "people",
        }
    }
}

/// One subscription as its manager sees it.
struct HookLine {
    id: String,
    url: String,
    kinds: String,
    enabled: bool,
    disabled_reason: String,
    failing_since: String,
    previous_until: String,
    created: String,
}

impl From<WebhookView> for HookLine {
    fn from(view: WebhookView) -> Self {
        Self {
            id: view.id.to_string(),
            url: view.url,
            kinds: view.event_kinds.join(", "),
            enabled: view.enabled,
            disabled_reason: view.disabled_reason,
            failing_since: view.failing_since.map(date).unwrap_or_default(),
            previous_until: view.previous_secret_until.map(date).unwrap_or_default(),
            created: date(view.created_at),
        }
    }
}

/// An event type's checkbox.
struct KindBox {
    /// The event type, also the field's name.
    name: &'static str,
    /// The element id (the name without its dot).
    id: String,
    checked: bool,
}

/// A secret or token shown this once.
struct ShownOnce {
    what: String,
    value: String,
}

/// Where one provider sends its alerts, and how it proves itself.
struct IntakeUrl {
    provider: &'static str,
    url: String,
    proof: &'static str,
}

/// The alert intake as the team's page shows it.
struct IntakeView {
    /// Where the set-up form posts.
    action: String,
    set_up_on: Option<String>,
    pagerduty: bool,
    urls: Vec<IntakeUrl>,
    /// A `curl` that opens a loop through the generic shape (and resolves it).
    curl: String,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct WebhooksPage {
    layout: Layout,
    /// The team, on a team's page; `None` on the organisation's.
    team: Option<Team>,
    hooks_path: String,
    hooks: Vec<HookLine>,
    kinds: Vec<KindBox>,
    url: String,
    errors: FormErrors,
    shown_once: Option<ShownOnce>,
    intake: Option<IntakeView>,
    intake_errors: FormErrors,
}

/// The subscription form: an endpoint and a checkbox per event type (named as the type).
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct WebhookForm {
    #[serde(default)]
    url: String,
    #[serde(default, rename = "loop.logged")]
    loop_logged: Tick,
    #[serde(default, rename = "loop.stage_changed")]
    loop_stage_changed: Tick,
    #[serde(default, rename = "loop.classified")]
    loop_classified: Tick,
    #[serde(default, rename = "learning.shared")]
    learning_shared: Tick,
    #[serde(default, rename = "action.created")]
    action_created: Tick,
    #[serde(default, rename = "action.done")]
    action_done: Tick,
    #[serde(default, rename = "action.overdue")]
    action_overdue: Tick,
    #[serde(default, rename = "review.started")]
    review_started: Tick,
    #[serde(default, rename = "review.revealed")]
    review_revealed: Tick,
    #[serde(default, rename = "review.closed")]
    review_closed: Tick,
    #[serde(default, rename = "experiment.started")]
    experiment_started: Tick,
    #[serde(default, rename = "experiment.concluded")]
    experiment_concluded: Tick,
    #[serde(default, rename = "pulse.round_closed")]
    pulse_round_closed: Tick,
}

impl WebhookForm {
    fn ticked(&self, kind: EventKind) -> bool {
        let tick = match kind {
            EventKind::LoopLogged => self.loop_logged,
            EventKind::LoopStageChanged => self.loop_stage_changed,
            EventKind::LoopClassified => self.loop_classified,
            EventKind::LearningShared => self.learning_shared,
            EventKind::ActionCreated => self.action_created,
            EventKind::ActionDone => self.action_done,
            EventKind::ActionOverdue => self.action_overdue,
            EventKind::ReviewStarted => self.review_started,
            EventKind::ReviewRevealed => self.review_revealed,
            EventKind::ReviewClosed => self.review_closed,
            EventKind::ExperimentStarted => self.experiment_started,
            EventKind::ExperimentConcluded => self.experiment_concluded,
            EventKind::PulseRoundClosed => self.pulse_round_closed,
        };
        tick.0
    }

    fn event_types(&self) -> Vec<String> {
        EventKind::ALL
            .into_iter()
            .filter(|kind| self.ticked(*kind))
            .map(|kind| kind.as_str().to_owned())
            .collect()
    }
}

fn kind_boxes(form: Option<&WebhookForm>) -> Vec<KindBox> {
    EventKind::ALL
        .into_iter()
        .map(|kind| KindBox {
            name: kind.as_str(),
            id: format!("kind-{}", kind.as_str().replace(['.', '_'], "-")),
            checked: form.is_some_and(|form| form.ticked(kind)),
        })
        .collect()
}

fn intake_view(
    state: &AppState,
    access: &TeamAccess,
    status: Option<(time::OffsetDateTime, bool)>,
) -> IntakeView {
    let slug = access.team().slug.as_str();
    let url = |provider: Provider| {
        state.service.link(&format!(
            "/api/v1/teams/{slug}/alerts/{}",
            provider.as_str()
        ))
    };
    let generic = url(Provider::Generic);
    let curl = format!(
        "curl -X POST '{generic}' \\\n  -H \"Authorization: Bearer $FAILFORWARD_ALERT_TOKEN\" \\\n  -H 'Content-Type: application/json' \\\n  -d '{{\"fingerprint\": \"disk-full-db1\", \"title\": \"Disk full on db1\", \"status\": \"firing\"}}'\n\n# and when it is over:\ncurl -X POST '{generic}' \\\n  -H \"Authorization: Bearer $FAILFORWARD_ALERT_TOKEN\" \\\n  -H 'Content-Type: application/json' \\\n  -d '{{\"fingerprint\": \"disk-full-db1\", \"title\": \"Disk full on db1\", \"status\": \"resolved\"}}'"
    );
    IntakeView {
        action: format!("/teams/{slug}/alert-intake"),
        set_up_on: status.map(|(at, _)| date(at)),
        pagerduty: status.is_some_and(|(_, pagerduty)| pagerduty),
        urls: vec![
            IntakeUrl {
                provider: "Prometheus Alertmanager",
                url: url(Provider::Alertmanager),
                proof: "webhook_config with the token as its bearer credentials",
            },
            IntakeUrl {
                provider: "PagerDuty (v3 webhooks)",
                url: url(Provider::PagerDuty),
                proof: "signed with the secret PagerDuty showed you (set it below)",
            },
            IntakeUrl {
                provider: "Opsgenie",
                url: url(Provider::Opsgenie),
                proof: "webhook integration with the header Authorization: Bearer and the token",
            },
            IntakeUrl {
                provider: "Generic JSON",
                url: generic,
                proof: "Authorization: Bearer and the token",
            },
        ],
        curl,
    }
}

/// The list page with nothing typed yet.
async fn page(state: &AppState, place: Place<'_>) -> Result<WebhooksPage, WebError> {
    let hooks = state
        .service
        .webhooks(place.scope())
        .await?
        .into_iter()
        .map(HookLine::from)
        .collect();
    let intake = match place.team {
        Some(access) => {
            let status = state.service.alert_intake_status(access).await?;
            Some(intake_view(state, access, status))
        }
        None => None,
    };
    Ok(WebhooksPage {
        layout: Layout::signed_in(place.user, place.title(), place.section()),
        team: place.team.map(|access| access.team().clone()),
        hooks_path: place.hooks_path(),
        hooks,
        kinds: kind_boxes(None),
        url: String::new(),
        errors: FormErrors::none(),
        shown_once: None,
        intake,
        intake_errors: FormErrors::none(),
    })
}

async fn show(
    state: &AppState,
    place: Place<'_>,
    notice: &NoticeQuery,
) -> Result<Response, WebError> {
    let mut page = page(state, place).await?;
    page.layout = page.layout.with_notice(notice);
    Ok(render(&page))
}

async fn create(
    state: &AppState,
    place: Place<'_>,
    form: WebhookForm,
) -> Result<Response, WebError> {
    match state
        .service
        .create_webhook(place.scope(), &form.url, &form.event_types())
        .await
    {
        Ok((view, secret)) => {
            let mut page = page(state, place).await?;
            page.shown_once = Some(ShownOnce {
                what: format!("Signing secret of {}", view.url),
                value: secret,
            });
            Ok(render_with_status(StatusCode::CREATED, &page))
        }
        Err(error) => {
            let errors = FormErrors::from_service(error)?;
            let mut page = page(state, place).await?;
            page.kinds = kind_boxes(Some(&form));
            page.url = form.url;
            page.errors = errors;
            Ok(render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

async fn rotate(state: &AppState, place: Place<'_>, id: &str) -> Result<Response, WebError> {
    let (view, secret) = state
        .service
        .rotate_webhook_secret(place.scope(), id)
        .await?;
    let mut page = page(state, place).await?;
    page.shown_once = Some(ShownOnce {
        what: format!(
            "New signing secret of {} (the previous one still signs until {})",
            view.url,
            view.previous_secret_until.map(date).unwrap_or_default()
        ),
        value: secret,
    });
    Ok(render_with_status(StatusCode::CREATED, &page))
}

/// What a button on a subscription does.
#[derive(Clone, Copy)]
enum Change {
    Enable,
    Disable,
    Delete,
}

async fn change(
    state: &AppState,
    place: Place<'_>,
    id: &str,
    change: Change,
) -> Result<Response, WebError> {
    let notice = match change {
        Change::Enable => {
            state.service.enable_webhook(place.scope(), id).await?;
            "webhook-enabled"
        }
        Change::Disable => {
            state.service.disable_webhook(place.scope(), id).await?;
            "webhook-disabled"
        }
        Change::Delete => {
            state.service.delete_webhook(place.scope(), id).await?;
            "webhook-deleted"
        }
    };
    Ok(Redirect::to(&format!("{}?notice={notice}", place.list_path())).into_response())
}

/// One attempt in the delivery log.
struct AttemptLine {
    delivery_id: String,
    webhook_id: String,
    event_type: String,
    at: String,
    status: String,
    latency_ms: i64,
    excerpt: String,
    delivery_status: String,
}

impl From<AttemptRecord> for AttemptLine {
    fn from(record: AttemptRecord) -> Self {
        Self {
            delivery_id: record.delivery_id.to_string(),
            webhook_id: webhook_id(record.event_id),
            event_type: record.event_kind,
            at: super::format::datetime(record.attempted_at),
            status: record
                .status_code
                .map(|code| code.to_string())
                .unwrap_or_else(|| "no answer".to_owned()),
            latency_ms: record.latency_ms,
            excerpt: record.excerpt,
            delivery_status: record.delivery_status,
        }
    }
}

#[derive(Template)]
#[template(path = "webhook_log.html")]
struct WebhookLogPage {
    layout: Layout,
    team: Option<Team>,
    list_path: String,
    hooks_path: String,
    hook: HookLine,
    attempts: Vec<AttemptLine>,
}

async fn log(
    state: &AppState,
    place: Place<'_>,
    id: &str,
    notice: &NoticeQuery,
) -> Result<Response, WebError> {
    let hook = HookLine::from(state.service.webhook(place.scope(), id).await?);
    let attempts = state
        .service
        .webhook_log(place.scope(), id)
        .await?
        .into_iter()
        .map(AttemptLine::from)
        .collect();
    Ok(render(&WebhookLogPage {
        layout: Layout::signed_in(
            place.user,
            format!("Deliveries to {}", hook.url),
            place.section(),
        )
        .with_notice(notice),
        team: place.team.map(|access| access.team().clone()),
        list_path: place.list_path(),
        hooks_path: place.hooks_path(),
        hook,
        attempts,
    }))
}

async fn redeliver(
    state: &AppState,
    place: Place<'_>,
    id: &str,
    delivery: &str,
) -> Result<Response, WebError> {
    state
        .service
        .redeliver_webhook(place.scope(), id, delivery)
        .await?;
    Ok(Redirect::to(&format!(
        "{}/{id}?notice=redelivery-queued",
        place.hooks_path()
    ))
    .into_response())
}

// --- a team's pages (its leads and organisation admins) ---

pub async fn team_page(
    State(state): State<AppState>,
    Query(notice): Query<NoticeQuery>,
    WebTeam { user, access }: WebTeam,
) -> Result<Response, WebError> {
    show(&state, team_place(&user, &access), &notice).await
}

fn team_place<'a>(user: &'a WebUser, access: &'a TeamAccess) -> Place<'a> {
    Place {
        user,
        team: Some(access),
    }
}

pub async fn team_create(
    State(state): State<AppState>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<WebhookForm>,
) -> Result<Response, WebError> {
    create(&state, team_place(&user, &access), form).await
}

pub async fn team_log(
    State(state): State<AppState>,
    Query(notice): Query<NoticeQuery>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
) -> Result<Response, WebError> {
    log(&state, team_place(&user, &access), &id, &notice).await
}

pub async fn team_rotate(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    rotate(&state, team_place(&user, &access), &id).await
}

pub async fn team_enable(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    change(&state, team_place(&user, &access), &id, Change::Enable).await
}

pub async fn team_disable(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    change(&state, team_place(&user, &access), &id, Change::Disable).await
}

pub async fn team_delete(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    change(&state, team_place(&user, &access), &id, Change::Delete).await
}

pub async fn team_redeliver(
    State(state): State<AppState>,
    Path((_slug, id, delivery)): Path<(String, String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    redeliver(&state, team_place(&user, &access), &id, &delivery).await
}

#[derive(Debug, Default, Deserialize)]
pub struct IntakeForm {
    #[serde(default)]
    pagerduty_secret: String,
}

/// Sets up (or replaces) the team's alert intake and shows its token this once.
pub async fn team_intake(
    State(state): State<AppState>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<IntakeForm>,
) -> Result<Response, WebError> {
    let place = team_place(&user, &access);
    match state
        .service
        .set_up_alert_intake(&access, &form.pagerduty_secret)
        .await
    {
        Ok(token) => {
            let mut page = page(&state, place).await?;
            page.shown_once = Some(ShownOnce {
                what: "Alert intake token (a previous token no longer works)".to_owned(),
                value: token,
            });
            Ok(render_with_status(StatusCode::CREATED, &page))
        }
        Err(error) => {
            let errors = FormErrors::from_service(error)?;
            let mut page = page(&state, place).await?;
            page.intake_errors = errors;
            Ok(render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

// --- the organisation's subscriptions (admins) ---

fn organisation(user: &WebUser) -> Place<'_> {
    Place { user, team: None }
}

pub async fn organisation_page(
    State(state): State<AppState>,
    Query(notice): Query<NoticeQuery>,
    user: WebUser,
) -> Result<Response, WebError> {
    show(&state, organisation(&user), &notice).await
}

pub async fn organisation_create(
    State(state): State<AppState>,
    user: WebUser,
    CsrfForm(form): CsrfForm<WebhookForm>,
) -> Result<Response, WebError> {
    create(&state, organisation(&user), form).await
}

pub async fn organisation_log(
    State(state): State<AppState>,
    Query(notice): Query<NoticeQuery>,
    Path(id): Path<String>,
    user: WebUser,
) -> Result<Response, WebError> {
    log(&state, organisation(&user), &id, &notice).await
}

pub async fn organisation_rotate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    user: WebUser,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    rotate(&state, organisation(&user), &id).await
}

pub async fn organisation_enable(
    State(state): State<AppState>,
    Path(id): Path<String>,
    user: WebUser,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    change(&state, organisation(&user), &id, Change::Enable).await
}

pub async fn organisation_disable(
    State(state): State<AppState>,
    Path(id): Path<String>,
    user: WebUser,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    change(&state, organisation(&user), &id, Change::Disable).await
}

pub async fn organisation_delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    user: WebUser,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    change(&state, organisation(&user), &id, Change::Delete).await
}

pub async fn organisation_redeliver(
    State(state): State<AppState>,
    Path((id, delivery)): Path<(String, String)>,
    user: WebUser,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    redeliver(&state, organisation(&user), &id, &delivery).await
}
