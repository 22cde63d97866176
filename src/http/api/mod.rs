//! The JSON API under `/api/v1`, described by an OpenAPI 3.1 document generated from these
//! handlers (`/api/v1/openapi.json`) and browsable at `/api/docs` (Swagger UI, served from the
//! binary). Errors are `application/problem+json` (see `http::error`).

mod account;
mod alerts;
mod audit;
mod contract;
mod culture;
mod cv;
mod event_schemas;
mod expectations;
mod experiments;
mod lint;
mod loops;
mod memory;
mod mirror;
mod provisioning;
mod review;
mod rituals;
mod sso;
mod teams;
mod transfer;
mod webhooks;

use axum::middleware;
use axum::routing::{get, patch, post, put};
use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::AppState;
use contract::{ErrorAnswers, Limits, Rules};
use event_schemas::EventSchemas;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/me", get(account::me))
        .route("/me/cv", get(cv::mine))
        .route("/me/cv/visibility", put(cv::visibility))
        .route("/me/cv/export", get(cv::export))
        .route("/people/{person_id}/cv", get(cv::person))
        .route("/teams/{slug}/success-signal", get(cv::signal))
        .route("/teams/{slug}/success-settings", put(cv::settings))
        .route(
            "/teams/{slug}/expectations",
            get(expectations::list).post(expectations::create),
        )
        .route(
            "/teams/{slug}/expectations/{expectation_id}",
            put(expectations::update),
        )
        .route(
            "/teams/{slug}/expectations/{expectation_id}/retire",
            post(expectations::retire),
        )
        .route(
            "/teams/{slug}/expectations/{expectation_id}/revisit",
            post(expectations::revisit),
        )
        .route(
            "/teams/{slug}/expectations/{expectation_id}/acknowledgements",
            post(expectations::acknowledge),
        )
        .route(
            "/teams/{slug}/expectations/{expectation_id}/comments",
            post(expectations::comment),
        )
        .route(
            "/tokens",
            get(account::list_tokens).post(account::create_token),
        )
        .route("/tokens/{id}", axum::routing::delete(account::revoke_token))
        .route("/users", get(account::list_users))
        .route(
            "/users/{user_id}/sessions",
            axum::routing::delete(audit::end_user_sessions),
        )
        .route("/sessions", get(audit::sessions))
        .route("/sessions/end-others", post(audit::end_others))
        .route("/sessions/{id}", axum::routing::delete(audit::end))
        .route(
            "/scim/token",
            get(provisioning::status)
                .post(provisioning::rotate)
                .delete(provisioning::revoke),
        )
        .route("/sso/settings", get(sso::show).put(sso::update))
        .route("/audit", get(audit::list))
        .route("/audit/export", get(audit::export))
        .route(
            "/invitations",
            get(account::list_organisation_invitations).post(account::invite_to_organisation),
        )
        .route(
            "/invitations/{id}",
            axum::routing::delete(account::revoke_organisation_invitation),
        )
        .route("/teams", get(teams::list).post(teams::create))
        .route("/teams/{slug}", get(teams::show).patch(teams::update))
        .route(
            "/teams/{slug}/members",
            get(teams::list_members).post(teams::add_member),
        )
        .route(
            "/teams/{slug}/members/{user_id}",
            patch(teams::update_member).delete(teams::remove_member),
        )
        .route(
            "/teams/{slug}/invitations",
            get(teams::list_invitations).post(teams::invite),
        )
        .route(
            "/teams/{slug}/invitations/{id}",
            axum::routing::delete(teams::revoke_invitation),
        )
        .route("/teams/{slug}/loops", get(loops::list).post(loops::create))
        .route("/teams/{slug}/loops/similar", post(memory::similar))
        .route("/teams/{slug}/loops/{loop_id}", get(loops::show))
        .route(
            "/teams/{slug}/loops/{loop_id}/recurrence",
            post(loops::judge_recurrence),
        )
        .route(
            "/teams/{slug}/recurrence-pairs",
            get(loops::recurrence_pairs),
        )
        .route(
            "/teams/{slug}/loops/{loop_id}/additions",
            post(loops::add_addition),
        )
        .route(
            "/teams/{slug}/loops/{loop_id}/timeline",
            post(loops::add_timeline_event),
        )
        .route(
            "/teams/{slug}/loops/{loop_id}/factors",
            post(loops::add_factor),
        )
        .route(
            "/teams/{slug}/loops/{loop_id}/factors/{factor_id}",
            axum::routing::delete(loops::remove_factor),
        )
        .route(
            "/teams/{slug}/loops/{loop_id}/review",
            put(loops::save_review),
        )
        .route(
            "/teams/{slug}/loops/{loop_id}/accounts",
            post(loops::add_account),
        )
        .route(
            "/teams/{slug}/loops/{loop_id}/classification",
            put(loops::classify),
        )
        .route(
            "/teams/{slug}/loops/{loop_id}/classification/override",
            put(loops::override_type),
        )
        .route(
            "/teams/{slug}/loops/{loop_id}/learnings",
            post(loops::add_learning),
        )
        .route(
            "/teams/{slug}/loops/{loop_id}/actions",
            post(loops::add_action),
        )
        .route(
            "/teams/{slug}/loops/{loop_id}/follow-up",
            put(loops::set_follow_up),
        )
        .route(
            "/teams/{slug}/loops/{loop_id}/follow-up/answer",
            post(loops::answer_follow_up),
        )
        .route(
            "/teams/{slug}/loops/{loop_id}/stage",
            post(loops::change_stage),
        )
        .route("/teams/{slug}/actions", get(loops::team_actions))
        .route("/teams/{slug}/export", get(transfer::export_team))
        .route(
            "/teams/{slug}/loops/{loop_id}/export",
            get(transfer::export_loop),
        )
        .route("/teams/{slug}/import", post(transfer::import))
        .route("/export", get(transfer::export_organisation))
        .route(
            "/teams/{slug}/actions/{action_id}",
            patch(loops::update_action),
        )
        .route(
            "/reporter/{secret}",
            get(loops::reporter_show).delete(loops::reporter_withdraw),
        )
        .route("/reporter/{secret}/additions", post(loops::reporter_add))
        .route(
            "/teams/{slug}/experiments",
            get(experiments::list).post(experiments::create),
        )
        .route(
            "/teams/{slug}/experiments/{experiment_id}",
            get(experiments::show).put(experiments::update),
        )
        .route(
            "/teams/{slug}/experiments/{experiment_id}/premortem/reasons",
            post(experiments::write_reason),
        )
        .route(
            "/teams/{slug}/experiments/{experiment_id}/premortem/reasons/{item_id}",
            axum::routing::delete(experiments::withdraw_reason),
        )
        .route(
            "/teams/{slug}/experiments/{experiment_id}/premortem/reasons/{item_id}/disposition",
            put(experiments::dispose),
        )
        .route(
            "/teams/{slug}/experiments/{experiment_id}/premortem/reveal",
            post(experiments::reveal),
        )
        .route(
            "/teams/{slug}/experiments/{experiment_id}/pilot",
            put(experiments::pilot),
        )
        .route(
            "/teams/{slug}/experiments/{experiment_id}/approval",
            post(experiments::approve),
        )
        .route(
            "/teams/{slug}/experiments/{experiment_id}/start",
            post(experiments::start),
        )
        .route(
            "/teams/{slug}/experiments/{experiment_id}/cancel",
            post(experiments::cancel),
        )
        .route(
            "/teams/{slug}/experiments/{experiment_id}/conclusion",
            post(experiments::conclude),
        )
        .route("/teams/{slug}/portfolio", get(experiments::portfolio))
        .route(
            "/teams/{slug}/risk-budgets/{quarter}",
            put(experiments::set_budget),
        )
        .route(
            "/teams/{slug}/pulse-rounds",
            get(culture::rounds).post(culture::open_round),
        )
        .route("/teams/{slug}/pulse-rounds/{round_id}", get(culture::round))
        .route(
            "/teams/{slug}/pulse-rounds/{round_id}/answers",
            post(culture::answer),
        )
        .route(
            "/teams/{slug}/pulse-rounds/{round_id}/close",
            post(culture::close),
        )
        .route("/teams/{slug}/pulse-results.csv", get(culture::csv))
        .route("/teams/{slug}/pulse-settings", put(culture::settings))
        .route(
            "/teams/{slug}/recognitions",
            get(culture::recognitions).post(culture::recognise),
        )
        .route(
            "/teams/{slug}/recognitions/fairness",
            get(culture::fairness),
        )
        .route("/teams/{slug}/leaders-first", get(culture::leaders_first))
        .route("/teams/{slug}/mirror", get(mirror::show))
        .route("/teams/{slug}/rituals", get(rituals::show))
        .route("/teams/{slug}/rituals/schedule", put(rituals::schedule))
        .route("/teams/{slug}/rituals/shares", post(rituals::share))
        .route("/teams/{slug}/rituals/close", post(rituals::close))
        .route(
            "/teams/{slug}/reviews",
            get(review::list).post(review::start),
        )
        .route("/teams/{slug}/reviews/{review_id}", get(review::show))
        .route(
            "/teams/{slug}/reviews/{review_id}/summary",
            get(review::summary),
        )
        .route(
            "/teams/{slug}/reviews/{review_id}/events",
            get(review::events),
        )
        .route(
            "/teams/{slug}/reviews/{review_id}/participants",
            post(review::join),
        )
        .route(
            "/teams/{slug}/reviews/{review_id}/action-checks",
            post(review::check_action),
        )
        .route(
            "/teams/{slug}/reviews/{review_id}/cards",
            post(review::write_card),
        )
        .route(
            "/teams/{slug}/reviews/{review_id}/cards/{card_id}",
            axum::routing::delete(review::withdraw_card),
        )
        .route(
            "/teams/{slug}/reviews/{review_id}/cards/{card_id}/group",
            put(review::group_card),
        )
        .route(
            "/teams/{slug}/reviews/{review_id}/cards/{card_id}/hide",
            post(review::hide),
        )
        .route("/teams/{slug}/reviews/{review_id}/done", put(review::done))
        .route(
            "/teams/{slug}/reviews/{review_id}/advance",
            post(review::advance),
        )
        .route(
            "/teams/{slug}/reviews/{review_id}/close",
            post(review::close),
        )
        .route(
            "/teams/{slug}/reviews/{review_id}/show-leads",
            post(review::show_leads),
        )
        .route(
            "/teams/{slug}/reviews/{review_id}/timer",
            put(review::timer),
        )
        .route(
            "/teams/{slug}/reviews/{review_id}/groups",
            post(review::add_group),
        )
        .route(
            "/teams/{slug}/reviews/{review_id}/ballot",
            post(review::ballot),
        )
        .route(
            "/teams/{slug}/reviews/{review_id}/decisions",
            post(review::decide),
        )
        .route(
            "/teams/{slug}/reviews/{review_id}/decisions/{decision_id}/dissents",
            post(review::dissent),
        )
        .route("/search", get(memory::search))
        .route("/library", get(memory::library))
        .route("/health", get(memory::organisation_health))
        .route("/teams/{slug}/health", get(memory::team_health))
        .route("/lint", post(lint::lint))
        .route("/lint/dismissals", post(lint::dismiss))
        .route("/lint/rules", get(lint::settings))
        .route("/lint/rules/{rule_id}", put(lint::switch_rule))
        .route("/lint/terms", post(lint::add_term))
        .route(
            "/lint/terms/{term_id}",
            axum::routing::delete(lint::remove_term),
        )
        .merge(webhook_routes())
        .layer(middleware::from_fn(contract::problem_for_rejections))
}

/// Webhook subscriptions: the organisation's (admins) and a team's (leads).
fn webhook_routes() -> Router<AppState> {
    use axum::routing::delete;
    Router::new()
        .route("/teams/{slug}/alert-intake", post(alerts::set_up))
        .route("/teams/{slug}/alerts/{provider}", post(alerts::receive))
        .route("/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/webhooks/{webhook_id}", delete(webhooks::delete))
        .route("/webhooks/{webhook_id}/rotate", post(webhooks::rotate))
        .route("/webhooks/{webhook_id}/enable", post(webhooks::enable))
        .route("/webhooks/{webhook_id}/disable", post(webhooks::disable))
        .route("/webhooks/{webhook_id}/attempts", get(webhooks::attempts))
        .route(
            "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
            post(webhooks::redeliver),
        )
        .route(
            "/teams/{slug}/webhooks",
            get(webhooks::team_list).post(webhooks::team_create),
        )
        .route(
            "/teams/{slug}/webhooks/{webhook_id}",
            delete(webhooks::team_delete),
        )
        .route(
            "/teams/{slug}/webhooks/{webhook_id}/rotate",
            post(webhooks::team_rotate),
        )
        .route(
            "/teams/{slug}/webhooks/{webhook_id}/enable",
            post(webhooks::team_enable),
        )
        .route(
            "/teams/{slug}/webhooks/{webhook_id}/disable",
            post(webhooks::team_disable),
        )
        .route(
            "/teams/{slug}/webhooks/{webhook_id}/attempts",
            get(webhooks::team_attempts),
        )
        .route(
            "/teams/{slug}/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
            post(webhooks::team_redeliver),
        )
}

/// The OpenAPI document and the API reference page.
pub fn reference_routes() -> Router<AppState> {
    Router::new().merge(SwaggerUi::new("/api/docs").url("/api/v1/openapi.json", ApiDoc::openapi()))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "failforward API",
        description = "Teams practise intelligent failure: detect, analyse, apply, continue.\n\nAuthenticate with a personal API token: `Authorization: Bearer ffp_…` (create one on your account page or with `failforward admin create-token`). Errors are `application/problem+json` with a `code` and, for invalid input, `errors[].field`."
    ),
    paths(
        account::me,
        cv::mine,
        cv::visibility,
        cv::export,
        cv::person,
        cv::signal,
        cv::settings,
        expectations::list,
        expectations::create,
        expectations::update,
        expectations::retire,
        expectations::revisit,
        expectations::acknowledge,
        expectations::comment,
        account::list_tokens,
        account::create_token,
        account::revoke_token,
        account::list_users,
        account::list_organisation_invitations,
        account::invite_to_organisation,
        account::revoke_organisation_invitation,
        audit::sessions,
        audit::end,
        audit::end_others,
        audit::end_user_sessions,
        audit::list,
        audit::export,
        provisioning::status,
        provisioning::rotate,
        provisioning::revoke,
        sso::show,
        sso::update,
        teams::list,
        teams::create,
        teams::show,
        teams::update,
        teams::list_members,
        teams::add_member,
        teams::update_member,
        teams::remove_member,
        teams::list_invitations,
        teams::invite,
        teams::revoke_invitation,
        loops::create,
        loops::list,
        loops::show,
        loops::judge_recurrence,
        loops::recurrence_pairs,
        loops::add_addition,
        loops::add_timeline_event,
        loops::add_factor,
        loops::remove_factor,
        loops::save_review,
        loops::add_account,
        loops::classify,
        loops::override_type,
        loops::add_learning,
        loops::add_action,
        loops::team_actions,
        loops::update_action,
        loops::set_follow_up,
        loops::answer_follow_up,
        loops::change_stage,
        loops::reporter_show,
        loops::reporter_add,
        loops::reporter_withdraw,
        experiments::create,
        experiments::list,
        experiments::show,
        experiments::update,
        experiments::write_reason,
        experiments::withdraw_reason,
        experiments::reveal,
        experiments::dispose,
        experiments::pilot,
        experiments::approve,
        experiments::start,
        experiments::cancel,
        experiments::conclude,
        experiments::portfolio,
        experiments::set_budget,
        culture::rounds,
        culture::open_round,
        culture::round,
        culture::answer,
        culture::close,
        culture::csv,
        culture::settings,
        culture::recognitions,
        culture::recognise,
        culture::fairness,
        culture::leaders_first,
        mirror::show,
        rituals::show,
        rituals::schedule,
        rituals::share,
        rituals::close,
        review::list,
        review::start,
        review::show,
        review::summary,
        review::events,
        review::join,
        review::check_action,
        review::write_card,
        review::withdraw_card,
        review::done,
        review::advance,
        review::close,
        review::show_leads,
        review::timer,
        review::add_group,
        review::group_card,
        review::hide,
        review::ballot,
        review::decide,
        review::dissent,
        lint::lint,
        lint::dismiss,
        lint::settings,
        lint::add_term,
        lint::remove_term,
        lint::switch_rule,
        transfer::export_team,
        transfer::export_loop,
        transfer::export_organisation,
        transfer::import,
        memory::search,
        memory::similar,
        memory::library,
        memory::team_health,
        memory::organisation_health,
        webhooks::create,
        webhooks::list,
        webhooks::delete,
        webhooks::rotate,
        webhooks::enable,
        webhooks::disable,
        webhooks::attempts,
        webhooks::redeliver,
        webhooks::team_create,
        webhooks::team_list,
        webhooks::team_delete,
        webhooks::team_rotate,
        webhooks::team_enable,
        webhooks::team_disable,
        webhooks::team_attempts,
        webhooks::team_redeliver,
        alerts::set_up,
        alerts::receive,
    ),
    components(schemas(
        crate::http::error::Problem,
        crate::service::FieldError
    )),
    modifiers(&BearerAuth, &ErrorAnswers, &Limits, &Rules, &EventSchemas),
    tags(
        (name = "account", description = "You, your tokens, and (for admins) the organisation's people"),
        (name = "audit", description = "The audit log of security and administrative changes (organisation admins); nothing done anonymously is in it"),
        (name = "teams", description = "Teams, members and invitations"),
        (name = "loops", description = "The learning loop: Detect → Analyse → Apply → Continue"),
        (name = "experiments", description = "Smart risks: test cards, affordable loss, pre-mortems, outcomes"),
        (name = "culture", description = "The psychological-safety pulse, recognition and its fairness"),
        (name = "reviews", description = "Review sessions: write before reading, leaders last, blind votes, kept dissent"),
        (name = "lint", description = "The blameless-language linter"),
        (name = "export", description = "Your data is yours: export (JSON, Markdown, CSV) and import (JSON, Markdown postmortems)"),
        (name = "memory", description = "The organisation's memory: search, similar loops, the learning library, loop health"),
        (name = "alerts", description = "Alert intake: Alertmanager, PagerDuty, Opsgenie and generic alerts open loops at Detect"),
        (name = "webhooks", description = "Signed webhooks (Standard Webhooks): subscriptions, the delivery log, redelivery; `EventPayload` is what a subscriber receives"),
    ),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A personal API token (ffp_…)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "intake",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A team's alert intake token (ffa_…); PagerDuty signs instead",
                    ))
                    .build(),
            ),
        );
    }
}

/// Formats instants as RFC 3339 in JSON.
pub(crate) fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
