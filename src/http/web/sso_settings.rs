//! The "Single sign-on" page for organisation admins (`/people/sso`): the OpenID Connect
//! settings, each shown locked when the settings file or the environment sets it, and the
//! client secret only as "set" or "not set". The rules are `service::sso_settings`'s.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{render, render_with_status, FormErrors, Layout, NoticeQuery};
use crate::domain::sso::SsoField;
use crate::http::error::WebError;
use crate::http::extract::{CsrfForm, WebUser};
use crate::http::AppState;
use crate::service::sso_settings::{SsoSettingsChange, SsoSettingsView};

/// One field of the form.
struct FieldView {
    name: &'static str,
    label: &'static str,
    /// "text", "url", "email", "password", "textarea" or "checkbox".
    kind: &'static str,
    value: String,
    checked: bool,
    locked: bool,
    hint: String,
}

#[derive(Template)]
#[template(path = "sso_settings.html")]
struct SsoSettingsPage {
    layout: Layout,
    active: bool,
    redirect_url: String,
    fields: Vec<FieldView>,
    errors: FormErrors,
}

/// The form as posted: unlocked fields only (a locked field is shown disabled, so browsers do
/// not send it); an unticked box is absent.
#[derive(Debug, Default, Deserialize)]
pub struct SsoForm {
    #[serde(default)]
    enabled: Option<String>,
    #[serde(default)]
    issuer_url: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    scopes: Option<String>,
    #[serde(default)]
    groups_claim: Option<String>,
    #[serde(default)]
    group_teams: Option<String>,
    #[serde(default)]
    sso_only: Option<String>,
    #[serde(default)]
    break_glass_email: Option<String>,
}

fn fields(view: &SsoSettingsView, posted: Option<&SsoForm>) -> Vec<FieldView> {
    // After a refused change the page shows what was typed, except the secret.
    let typed = |field: SsoField, from_view: String| -> String {
        if view.is_locked(field) {
            return from_view;
        }
        let posted_value = posted.and_then(|form| match field {
            SsoField::IssuerUrl => form.issuer_url.clone(),
            SsoField::ClientId => form.client_id.clone(),
            SsoField::Scopes => form.scopes.clone(),
            SsoField::GroupsClaim => form.groups_claim.clone(),
            SsoField::GroupTeams => form.group_teams.clone(),
            SsoField::BreakGlassEmail => form.break_glass_email.clone(),
            _ => None,
        });
        posted_value.unwrap_or(from_view)
    };
    let ticked = |field: SsoField, from_view: bool| -> bool {
        match posted {
            Some(form) if !view.is_locked(field) => match field {
                SsoField::Enabled => form.enabled.is_some(),
                SsoField::SsoOnly => form.sso_only.is_some(),
                _ => from_view,
            },
            _ => from_view,
        }
    };
    let field = |name: SsoField, label, kind, value: String, checked, hint: &str| FieldView {
        name: name.as_str(),
        label,
        kind,
        value,
        checked,
        locked: view.is_locked(name),
        hint: hint.to_owned(),
    };
    vec![
        field(
            SsoField::Enabled,
            "Sign-in through the identity provider is on",
            "checkbox",
            String::new(),
            ticked(SsoField::Enabled, view.enabled),
            "Needs the issuer URL and the client id.",
        ),
        field(
            SsoField::IssuerUrl,
            "Issuer URL",
            "url",
            typed(SsoField::IssuerUrl, view.issuer_url.clone().unwrap_or_default()),
            false,
            "Exactly as the provider names itself, e.g. https://id.example.org/realms/main (http:// only for localhost).",
        ),
        field(
            SsoField::ClientId,
            "Client id",
            "text",
            typed(SsoField::ClientId, view.client_id.clone().unwrap_or_default()),
            false,
            "",
        ),
        field(
            SsoField::ClientSecret,
            "Client secret",
            "password",
            String::new(),
            false,
            if view.client_secret_set {
                "Set. It is never shown again; leave blank to keep it, or type a new one to replace it."
            } else {
                "Not set. Leave blank for a public client (PKCE only)."
            },
        ),
        field(
            SsoField::Scopes,
            "Extra scopes",
            "text",
            typed(SsoField::Scopes, view.scopes.join(" ")),
            false,
            "Beyond openid, email and profile, separated by spaces, e.g. groups.",
        ),
        field(
            SsoField::GroupsClaim,
            "Groups claim",
            "text",
            typed(SsoField::GroupsClaim, view.groups_claim.clone().unwrap_or_default()),
            false,
            "The ID token claim that lists a person's groups, e.g. groups. Blank: no group mapping.",
        ),
        field(
            SsoField::GroupTeams,
            "Group → team mapping",
            "textarea",
            typed(SsoField::GroupTeams, view.group_teams.join("\n")),
            false,
            "One a line: group=team-slug:role (role lead or member; member when left out). Memberships follow the groups at every sign-in.",
        ),
        field(
            SsoField::SsoOnly,
            "Sign in only through single sign-on",
            "checkbox",
            String::new(),
            ticked(SsoField::SsoOnly, view.sso_only),
            "Passwords are refused, except the break-glass admin's; invitations are accepted through the provider.",
        ),
        field(
            SsoField::BreakGlassEmail,
            "Break-glass admin email",
            "email",
            typed(SsoField::BreakGlassEmail, view.break_glass_email.clone().unwrap_or_default()),
            false,
            "The one organisation admin who may still sign in with a password, for the day the provider is down. Needed before sign-in only through single sign-on.",
        ),
    ]
}

fn page(
    user: &WebUser,
    view: &SsoSettingsView,
    posted: Option<&SsoForm>,
    errors: FormErrors,
) -> SsoSettingsPage {
    SsoSettingsPage {
        layout: Layout::signed_in(user, "Single sign-on", "people"),
        active: view.active,
        redirect_url: view.redirect_url.clone(),
        fields: fields(view, posted),
        errors,
    }
}

pub async fn show(
    State(state): State<AppState>,
    Query(notice): Query<NoticeQuery>,
    user: WebUser,
) -> Result<Response, WebError> {
    let view = state.service.sso_settings(&user.actor).await?;
    let mut page = page(&user, &view, None, FormErrors::none());
    page.layout = page.layout.with_notice(&notice);
    Ok(render(&page))
}

pub async fn save(
    State(state): State<AppState>,
    user: WebUser,
    CsrfForm(form): CsrfForm<SsoForm>,
) -> Result<Response, WebError> {
    let view = state.service.sso_settings(&user.actor).await?;
    // Boxes are absent when unticked, so a box counts only where the form could show it.
    let unlocked = |field: SsoField| !view.is_locked(field);
    let change = SsoSettingsChange {
        enabled: unlocked(SsoField::Enabled).then_some(form.enabled.is_some()),
        issuer_url: form.issuer_url.clone(),
        client_id: form.client_id.clone(),
        client_secret: form.client_secret.clone(),
        scopes: form.scopes.clone(),
        groups_claim: form.groups_claim.clone(),
        group_teams: form.group_teams.clone(),
        sso_only: unlocked(SsoField::SsoOnly).then_some(form.sso_only.is_some()),
        break_glass_email: form.break_glass_email.clone(),
    };
    match state
        .service
        .change_sso_settings(&user.actor, &change)
        .await
    {
        Ok(_) => Ok(Redirect::to("/people/sso?notice=sso-saved").into_response()),
        Err(error) => {
            let errors = FormErrors::from_service(error)?;
            Ok(render_with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &page(&user, &view, Some(&form), errors),
            ))
        }
    }
}
