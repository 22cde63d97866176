//! Server-rendered pages. Every page works without JavaScript; htmx and `static/app.js` only
//! enhance. Forms post back to the same path and re-render with errors next to the fields.

mod account;
mod audit;
mod auth;
mod culture;
mod cv;
mod expectations;
mod experiments;
pub(super) mod form;
mod format;
mod integrations;
mod invitations;
mod loop_stages;
mod loops;
mod memory;
mod mirror;
mod overview;
mod people;
mod review;
mod rituals;
mod sso;
mod sso_settings;
mod teams;
mod transfer;

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::error::error_page;
use super::extract::WebUser;
use super::AppState;
use crate::service::{FieldError, ServiceError};
pub use format::date;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(overview::show))
        .route("/setup", get(auth::setup_form).post(auth::setup_submit))
        .route("/login", get(auth::login_form).post(auth::login_submit))
        .route("/login/sso", get(sso::start))
        .route("/login/sso/callback", get(sso::callback))
        .route("/logout", post(auth::logout))
        .route("/teams", get(teams::list).post(teams::create))
        .route("/teams/{slug}", get(teams::show))
        .route("/teams/{slug}/data", get(transfer::show))
        .route("/teams/{slug}/export", get(transfer::export))
        .route("/teams/{slug}/import", post(transfer::import))
        .route("/teams/{slug}/import-files", post(transfer::import_files))
        .route(
            "/teams/{slug}/settings",
            get(teams::settings_form).post(teams::settings_submit),
        )
        .route(
            "/teams/{slug}/members",
            get(teams::members).post(teams::add_member),
        )
        .route(
            "/teams/{slug}/members/{user_id}/role",
            post(teams::change_role),
        )
        .route(
            "/teams/{slug}/members/{user_id}/remove",
            post(teams::remove_member),
        )
        .route("/teams/{slug}/integrations", get(integrations::team_page))
        .route("/teams/{slug}/webhooks", post(integrations::team_create))
        .route("/teams/{slug}/webhooks/{id}", get(integrations::team_log))
        .route(
            "/teams/{slug}/webhooks/{id}/rotate",
            post(integrations::team_rotate),
        )
        .route(
            "/teams/{slug}/webhooks/{id}/enable",
            post(integrations::team_enable),
        )
        .route(
            "/teams/{slug}/webhooks/{id}/disable",
            post(integrations::team_disable),
        )
        .route(
            "/teams/{slug}/webhooks/{id}/delete",
            post(integrations::team_delete),
        )
        .route(
            "/teams/{slug}/webhooks/{id}/deliveries/{delivery}/redeliver",
            post(integrations::team_redeliver),
        )
        .route(
            "/teams/{slug}/alert-intake",
            post(integrations::team_intake),
        )
        .route("/teams/{slug}/invitations", post(teams::invite))
        .route(
            "/teams/{slug}/invitations/{id}/revoke",
            post(teams::revoke_invitation),
        )
        .route(
            "/invite/{token}",
            get(invitations::show).post(invitations::accept),
        )
        .route("/account", get(account::show))
        .route("/me/cv", get(cv::mine))
        .route("/me/cv/publish", post(cv::publish))
        .route("/me/cv/unpublish", post(cv::unpublish))
        .route("/me/cv/export.md", get(cv::markdown))
        .route("/people/{user_id}/cv", get(cv::person))
        .route(
            "/teams/{slug}/settings/success",
            post(teams::success_settings_submit),
        )
        .route("/account/name", post(account::rename))
        .route("/account/password", post(account::change_password))
        .route("/account/tokens", post(account::create_token))
        .route("/account/tokens/{id}/revoke", post(account::revoke_token))
        .route("/account/sessions", get(audit::sessions))
        .route(
            "/account/sessions/end-others",
            post(audit::end_other_sessions),
        )
        .route("/account/sessions/{id}/end", post(audit::end_session))
        .route("/log", get(loops::log_anywhere))
        .route("/teams/{slug}/loops", get(loops::list).post(loops::create))
        .route("/teams/{slug}/loops/new", get(loops::new_form))
        .route("/teams/{slug}/loops/similar", post(memory::similar))
        .route("/teams/{slug}/health", get(memory::team_health))
        .route("/search", get(memory::search))
        .route("/library", get(memory::library))
        .route("/health", get(memory::organisation_health))
        .route("/teams/{slug}/loops/{id}", get(loops::show))
        .route("/teams/{slug}/loops/{id}/advance", post(loops::advance))
        .route("/teams/{slug}/loops/{id}/step-back", post(loops::step_back))
        .route(
            "/teams/{slug}/loops/{id}/recurrence",
            post(loops::judge_recurrence),
        )
        .route(
            "/teams/{slug}/loops/{id}/additions",
            post(loops::add_addition),
        )
        .route("/teams/{slug}/loops/{id}/review", post(loops::save_review))
        .route(
            "/teams/{slug}/loops/{id}/timeline",
            post(loops::add_timeline_event),
        )
        .route("/teams/{slug}/loops/{id}/factors", post(loops::add_factor))
        .route(
            "/teams/{slug}/loops/{id}/factor-remove",
            post(loops::remove_factor),
        )
        .route(
            "/teams/{slug}/loops/{id}/accounts",
            post(loops::add_account),
        )
        .route(
            "/teams/{slug}/loops/{id}/classification",
            post(loops::classify),
        )
        .route(
            "/teams/{slug}/loops/{id}/override",
            post(loops::override_type),
        )
        .route(
            "/teams/{slug}/loops/{id}/override-clear",
            post(loops::clear_override),
        )
        .route(
            "/teams/{slug}/loops/{id}/learnings",
            post(loops::add_learning),
        )
        .route("/teams/{slug}/loops/{id}/actions", post(loops::add_action))
        .route(
            "/teams/{slug}/loops/{id}/action-status",
            post(loops::set_action_status),
        )
        .route(
            "/teams/{slug}/loops/{id}/follow-up",
            post(loops::set_follow_up),
        )
        .route(
            "/teams/{slug}/loops/{id}/follow-up-answer",
            post(loops::answer_follow_up),
        )
        .route(
            "/reporter/{secret}",
            get(loops::reporter).post(loops::reporter_submit),
        )
        .route(
            "/teams/{slug}/experiments",
            get(experiments::portfolio).post(experiments::create),
        )
        .route("/teams/{slug}/experiments/new", get(experiments::new_form))
        .route("/teams/{slug}/risk-budget", post(experiments::set_budget))
        .route("/teams/{slug}/experiments/{id}", get(experiments::show))
        .route(
            "/teams/{slug}/experiments/{id}/edit",
            get(experiments::edit_form),
        )
        .route(
            "/teams/{slug}/experiments/{id}/update",
            post(experiments::update),
        )
        .route(
            "/teams/{slug}/experiments/{id}/reasons",
            post(experiments::write_reason),
        )
        .route(
            "/teams/{slug}/experiments/{id}/reason-withdraw",
            post(experiments::withdraw_reason),
        )
        .route(
            "/teams/{slug}/experiments/{id}/reveal",
            post(experiments::reveal),
        )
        .route(
            "/teams/{slug}/experiments/{id}/dispose",
            post(experiments::dispose),
        )
        .route(
            "/teams/{slug}/experiments/{id}/pilot",
            post(experiments::answer_pilot),
        )
        .route(
            "/teams/{slug}/experiments/{id}/approve",
            post(experiments::approve),
        )
        .route(
            "/teams/{slug}/experiments/{id}/start",
            post(experiments::start),
        )
        .route(
            "/teams/{slug}/experiments/{id}/cancel",
            post(experiments::cancel),
        )
        .route(
            "/teams/{slug}/experiments/{id}/conclude",
            post(experiments::conclude),
        )
        .route("/teams/{slug}/pulse", get(culture::pulse))
        .route("/teams/{slug}/pulse.csv", get(culture::pulse_csv))
        .route(
            "/teams/{slug}/pulse-settings/open",
            post(culture::open_round),
        )
        .route(
            "/teams/{slug}/pulse-settings/threshold",
            post(culture::set_threshold),
        )
        .route("/teams/{slug}/pulse/{id}", get(culture::round))
        .route(
            "/teams/{slug}/pulse/{id}/answer",
            post(culture::answer_round),
        )
        .route("/teams/{slug}/pulse/{id}/close", post(culture::close_round))
        .route(
            "/teams/{slug}/recognition",
            get(culture::recognition).post(culture::recognise),
        )
        .route("/teams/{slug}/recognition/fairness", get(culture::fairness))
        .route("/teams/{slug}/mirror", get(mirror::show))
        .route("/teams/{slug}/rituals", get(rituals::show))
        .route("/teams/{slug}/rituals/schedule", post(rituals::schedule))
        .route("/teams/{slug}/rituals/share", post(rituals::share))
        .route("/teams/{slug}/rituals/close", post(rituals::close))
        .route(
            "/teams/{slug}/expectations",
            get(expectations::show).post(expectations::create),
        )
        .route(
            "/teams/{slug}/expectations/{id}/edit",
            post(expectations::edit),
        )
        .route(
            "/teams/{slug}/expectations/{id}/retire",
            post(expectations::retire),
        )
        .route(
            "/teams/{slug}/expectations/{id}/revisit",
            post(expectations::revisit),
        )
        .route(
            "/teams/{slug}/expectations/{id}/acknowledge",
            post(expectations::acknowledge),
        )
        .route(
            "/teams/{slug}/expectations/{id}/comments",
            post(expectations::comment),
        )
        .route(
            "/teams/{slug}/reviews",
            get(review::list).post(review::start),
        )
        .route("/teams/{slug}/reviews/{id}", get(review::show))
        .route(
            "/teams/{slug}/reviews/{id}/live",
            get(review::live_fragment),
        )
        .route("/teams/{slug}/reviews/{id}/events", get(review::events))
        .route(
            "/teams/{slug}/reviews/{id}/summary.md",
            get(review::summary),
        )
        .route("/teams/{slug}/reviews/{id}/join", post(review::join))
        .route("/teams/{slug}/reviews/{id}/observe", post(review::observe))
        .route(
            "/teams/{slug}/reviews/{id}/check-action",
            post(review::check_action),
        )
        .route("/teams/{slug}/reviews/{id}/cards", post(review::write_card))
        .route(
            "/teams/{slug}/reviews/{id}/withdraw-card",
            post(review::withdraw_card),
        )
        .route("/teams/{slug}/reviews/{id}/done", post(review::done))
        .route(
            "/teams/{slug}/reviews/{id}/not-done",
            post(review::not_done),
        )
        .route("/teams/{slug}/reviews/{id}/advance", post(review::advance))
        .route("/teams/{slug}/reviews/{id}/close", post(review::close))
        .route(
            "/teams/{slug}/reviews/{id}/show-leads",
            post(review::show_leads),
        )
        .route("/teams/{slug}/reviews/{id}/timer", post(review::set_timer))
        .route("/teams/{slug}/reviews/{id}/groups", post(review::add_group))
        .route(
            "/teams/{slug}/reviews/{id}/group-card",
            post(review::group_card),
        )
        .route(
            "/teams/{slug}/reviews/{id}/group-selected",
            post(review::group_selected),
        )
        .route(
            "/teams/{slug}/reviews/{id}/group-title",
            post(review::rename_group),
        )
        .route("/teams/{slug}/reviews/{id}/hide", post(review::hide))
        .route("/teams/{slug}/reviews/{id}/vote", post(review::vote))
        .route("/teams/{slug}/reviews/{id}/decide", post(review::decide))
        .route("/teams/{slug}/reviews/{id}/dissent", post(review::dissent))
        .route("/people", get(people::show))
        .route("/people/lint", get(people::lint_rules))
        .route("/people/lint/terms", post(people::add_lint_term))
        .route(
            "/people/lint/terms/{id}/remove",
            post(people::remove_lint_term),
        )
        .route("/people/lint/rules/{rule}", post(people::switch_lint_rule))
        .route("/people/invitations", post(people::invite))
        .route("/people/scim/token", post(people::rotate_scim_token))
        .route(
            "/people/sso",
            get(sso_settings::show).post(sso_settings::save),
        )
        .route("/people/scim/token/revoke", post(people::revoke_scim_token))
        .route(
            "/people/invitations/{id}/revoke",
            post(people::revoke_invitation),
        )
        .route("/people/{user_id}/admin", post(people::set_admin))
        .route(
            "/people/{user_id}/sessions/end",
            post(audit::end_user_sessions),
        )
        .route("/people/audit", get(audit::show))
        .route("/people/audit/export", get(audit::export))
        .route(
            "/people/webhooks",
            get(integrations::organisation_page).post(integrations::organisation_create),
        )
        .route("/people/webhooks/{id}", get(integrations::organisation_log))
        .route(
            "/people/webhooks/{id}/rotate",
            post(integrations::organisation_rotate),
        )
        .route(
            "/people/webhooks/{id}/enable",
            post(integrations::organisation_enable),
        )
        .route(
            "/people/webhooks/{id}/disable",
            post(integrations::organisation_disable),
        )
        .route(
            "/people/webhooks/{id}/delete",
            post(integrations::organisation_delete),
        )
        .route(
            "/people/webhooks/{id}/deliveries/{delivery}/redeliver",
            post(integrations::organisation_redeliver),
        )
}

/// The frame around every page.
pub struct Layout {
    pub title: String,
    pub user: Option<LayoutUser>,
    pub csrf_token: String,
    pub notice: Option<String>,
    /// Which main navigation entry to mark as current.
    pub section: &'static str,
}

pub struct LayoutUser {
    pub name: String,
    pub is_admin: bool,
}

impl Layout {
    pub fn signed_in(user: &WebUser, title: impl Into<String>, section: &'static str) -> Self {
        Self {
            title: title.into(),
            user: Some(LayoutUser {
                name: user.actor.user.name.to_string(),
                is_admin: user.actor.is_admin(),
            }),
            csrf_token: user.csrf_token.clone(),
            notice: None,
            section,
        }
    }

    pub fn public(title: impl Into<String>, csrf_token: &str) -> Self {
        Self {
            title: title.into(),
            user: None,
            csrf_token: csrf_token.to_owned(),
            notice: None,
            section: "",
        }
    }

    /// Shows the message behind a `?notice=` code set by the redirect after a successful form.
    pub fn with_notice(mut self, query: &NoticeQuery) -> Self {
        self.notice = query
            .notice
            .as_deref()
            .and_then(notice_text)
            .map(str::to_owned);
        self
    }
}

/// Query string after a redirect (post/redirect/get), carrying which notice to show.
#[derive(Debug, Default, Deserialize)]
pub struct NoticeQuery {
    pub notice: Option<String>,
}

/// Notices are codes from a fixed list, so a crafted link cannot put words on our pages.
fn notice_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "welcome" => "Welcome! Your organisation is ready. Create your first team to get started.",
        "signed-in" => "You are signed in.",
        "team-created" => "Team created. You are its lead: invite your colleagues next.",
        "team-updated" => "Team settings saved.",
        "cv-published" => "Your failure CV is published: members of the organisation can read it.",
        "cv-unpublished" => "Your failure CV is private again: only you can see it.",
        "success-settings-saved" => "Consistent-success thresholds saved.",
        "ritual-scheduled" => "The ritual's schedule is saved.",
        "ritual-shared" => "Thank you for sharing.",
        "ritual-closed" => "The round is closed into the team's library.",
        "expectation-added" => "Expectation added.",
        "expectation-changed" => "Expectation changed.",
        "expectation-retired" => "Expectation retired.",
        "expectation-revisited" => "Expectation marked as revisited this quarter.",
        "expectation-acknowledged" => "Acknowledged for this quarter.",
        "expectation-commented" => "Comment added.",
        "expectation-comment-held" => "Unnamed comment received: it appears after midnight UTC, with only its day.",
        "member-added" => "Member added.",
        "role-changed" => "Role changed.",
        "member-removed" => "Member removed.",
        "left-team" => "You have left the team.",
        "invitation-revoked" => "Invitation withdrawn.",
        "scim-off" => "SCIM provisioning is off: its token no longer works.",
        "sso-saved" => "Single sign-on settings saved: they apply from the next sign-in.",
        "joined" => "Welcome to the team!",
        "name-changed" => "Your name has been changed.",
        "password-changed" => "Password changed. Your other sessions have been signed out.",
        "token-revoked" => "Token revoked. Programs using it can no longer sign in.",
        "admin-changed" => "Admin rights updated.",
        "session-ended" => "Session ended. That browser is signed out.",
        "sessions-ended" => "Signed out everywhere else. Your API tokens still work; revoke them below if needed.",
        "user-sessions-ended" => "Their sessions are ended and their API tokens revoked.",
        "loop-logged" => "Logged. Thank you for surfacing it — that is how the team learns.",
        "addition-added" => "Added beside the original record.",
        "event-added" => "Timeline entry added.",
        "factor-added" => "Contributing factor added.",
        "factor-removed" => "Contributing factor removed.",
        "review-saved" => "Review saved.",
        "account-added" => "Account added. Thank you for sharing it.",
        "account-held" => "Thank you for sharing it. Your unnamed account appears here after midnight UTC, with every other unnamed contribution of the day, so that nothing sets it next to what you write under your name.",
        "classified" => "Suggestion updated from your answers.",
        "override-saved" => "Your choice of type is recorded beside the suggestion.",
        "override-cleared" => "Override withdrawn; the suggestion stands.",
        "learning-added" => "Learning added.",
        "action-added" => "Action item added.",
        "action-updated" => "Action item updated.",
        "follow-up-set" => "Follow-up date saved.",
        "follow-up-answered" => "Follow-up check recorded.",
        "stage-advanced" => "The loop moved on to the next stage.",
        "stage-back" => "The loop stepped back a stage.",
        "recurrence-confirmed" => "Confirmed: this loop is a recurrence of the earlier one.",
        "recurrence-dismissed" => "Dismissed: this pair will not be flagged again.",
        "budget-set" => "Risk budget saved.",
        "experiment-created" => {
            "Experiment designed. Next: the pre-mortem and the pilot checklist."
        }
        "experiment-updated" => "Design changed. Any earlier approval has been withdrawn.",
        "reason-sealed" => {
            "Your reason is sealed until the reveal. Nobody can read it before then."
        }
        "reason-withdrawn" => "Reason withdrawn.",
        "premortem-revealed" => {
            "The pre-mortem is revealed: turn each reason into a mitigation or an accepted risk."
        }
        "reason-disposed" => "Recorded.",
        "pilot-answered" => "Pilot checklist saved.",
        "experiment-approved" => "Approval recorded.",
        "experiment-started" => "The experiment is running. Good luck — and good learning.",
        "experiment-cancelled" => "The experiment was cancelled.",
        "experiment-concluded" => "Outcome recorded.",
        "round-opened" => "Pulse round opened. Members can answer anonymously until it closes.",
        "threshold-set" => "Threshold saved.",
        "pulse-answered" => "Thank you. Your answer is stored with nothing that links it to you.",
        "round-closed" => "Round closed.",
        "recognised" => "Recognition shared with the team.",
        "lint-updated" => "Writing hints updated.",
        "review-started" => "Session started. Invite the team to join; you facilitate.",
        "review-joined" => "You have joined the session.",
        "cards-grouped" => "Cards grouped.",
        "group-renamed" => "Group renamed.",
        "card-sealed" => "Your card is sealed. Nobody can read it before the reveal.",
        "card-withdrawn" => "Card withdrawn.",
        "review-done" => "Thank you. Only the count of those who have finished is shown.",
        "review-closed" => "The session is closed. Its summary is below.",
        "card-hidden" => "The card is hidden; the reason is shown in its place.",
        "ballot-sealed" => {
            "Your dots are sealed without your name. Totals show when the vote closes."
        }
        "decision-recorded" => "Decision recorded on the loop.",
        "dissent-recorded" => "Your disagreement is recorded and will show in the summary.",
        "webhook-enabled" => "Webhook switched on.",
        "webhook-disabled" => "Webhook switched off: events that happen meanwhile are not sent to it.",
        "webhook-deleted" => "Webhook deleted.",
        "redelivery-queued" => "Queued: the delivery goes out again now, with the same webhook-id.",
        _ => return None,
    })
}

/// Field errors as a form shows them.
#[derive(Debug, Default)]
pub struct FormErrors(Vec<FormError>);

#[derive(Debug)]
pub struct FormError {
    pub field: String,
    pub message: String,
}

impl FormError {
    /// The field's name as people read it in the error summary.
    pub fn label(&self) -> String {
        let spaced = self.field.replace('_', " ");
        let mut chars = spaced.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => String::new(),
        }
    }
}

impl FormErrors {
    pub fn none() -> Self {
        Self(Vec::new())
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, FormError> {
        self.0.iter()
    }

    /// Splits a service error into what a form can show next to its fields, or the error itself
    /// when it is not about the fields.
    pub fn from_service(error: ServiceError) -> Result<Self, ServiceError> {
        match error {
            ServiceError::Invalid(fields) => Ok(Self(fields.into_iter().map(Into::into).collect())),
            ServiceError::Conflict {
                field: Some(field),
                message,
            } => Ok(Self(vec![FormError { field, message }])),
            other => Err(other),
        }
    }
}

impl FormErrors {
    /// A message about the form as a whole (shown in its error summary).
    pub fn from_message(form: &str, message: &str) -> Self {
        Self(vec![FormError {
            field: form.to_owned(),
            message: message.to_owned(),
        }])
    }
}

impl From<FieldError> for FormError {
    fn from(e: FieldError) -> Self {
        FormError {
            field: e.field,
            message: e.message,
        }
    }
}

/// Renders a page, or a plain 500 page if the template fails.
pub fn render(template: &impl Template) -> Response {
    render_with_status(StatusCode::OK, template)
}

pub fn render_with_status(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "rendering a page");
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side",
                "The error has been logged.",
                Vec::new(),
            )
        }
    }
}

/// The page for unknown addresses.
pub async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return super::error::problem(
            StatusCode::NOT_FOUND,
            "not_found",
            "Not found",
            "no such endpoint",
            Vec::new(),
        );
    }
    error_page(
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is nothing at this address, or you do not have access to it.",
        Vec::new(),
    )
}
