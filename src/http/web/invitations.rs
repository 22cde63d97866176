//! Accepting an invitation link: as the signed-in person, by creating an account, or, when the
//! organisation signs in only through single sign-on, by signing in at the provider
//! (`/login/sso?invitation=…`, see `web::sso`): no password is asked for then.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::{date, render_with_status, FormErrors, Layout};
use crate::domain::records::people::InvitationRecord;
use crate::http::error::WebError;
use crate::http::extract::{
    session_cookie, CsrfForm, MaybeUser, PreSessionCsrf, SessionContext, WebUser,
};
use crate::http::AppState;

#[derive(Template)]
#[template(path = "invite.html")]
struct InvitePage {
    layout: Layout,
    token: String,
    team_name: String,
    role: &'static str,
    invited_by: String,
    expires: String,
    invited_email: String,
    signed_in_as: Option<String>,
    /// Under "SSO only": offer the provider instead of a password.
    sso_only: bool,
    form: SignUpForm,
    errors: FormErrors,
}

#[derive(Debug, Default, Deserialize)]
pub struct SignUpForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

fn page(
    layout: Layout,
    token: &str,
    invitation: &InvitationRecord,
    signed_in_as: Option<String>,
    sso_only: bool,
    form: SignUpForm,
    errors: FormErrors,
) -> InvitePage {
    InvitePage {
        layout,
        token: token.to_owned(),
        team_name: invitation
            .team
            .as_ref()
            .map(|(_, _, name)| name.clone())
            .unwrap_or_default(),
        role: invitation.role.as_str(),
        invited_by: invitation.invited_by_name.clone(),
        expires: date(invitation.expires_at),
        invited_email: invitation
            .email
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        signed_in_as,
        sso_only,
        form,
        errors,
    }
}

/// Whether the organisation signs in only through single sign-on.
async fn sso_only(state: &AppState) -> Result<bool, WebError> {
    Ok(state
        .service
        .sso_policy()
        .await?
        .is_some_and(|policy| policy.sso_only))
}

/// The link is a secret: keep it out of Referer headers sent from this page.
fn no_referrer(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

pub async fn show(
    State(state): State<AppState>,
    Path(token): Path<String>,
    MaybeUser(context): MaybeUser,
    csrf: PreSessionCsrf,
    jar: CookieJar,
) -> Result<Response, WebError> {
    let invitation = state.service.invitation(&token).await?;
    let (layout, signed_in_as, cookie) = match &context {
        SessionContext::SignedIn { actor, csrf_token } => {
            let user = WebUser {
                actor: actor.clone(),
                csrf_token: csrf_token.clone(),
            };
            (
                Layout::signed_in(&user, "Invitation", ""),
                Some(actor.user.name.to_string()),
                None,
            )
        }
        _ => (Layout::public("Invitation", &csrf.token), None, csrf.cookie),
    };
    let form = SignUpForm {
        email: invitation
            .email
            .as_ref()
            .map(|e| e.to_string())
            .unwrap_or_default(),
        ..SignUpForm::default()
    };
    let response = super::render(&page(
        layout,
        &token,
        &invitation,
        signed_in_as,
        sso_only(&state).await?,
        form,
        FormErrors::none(),
    ));
    let response = match cookie {
        Some(cookie) => (jar.add(cookie), response).into_response(),
        None => response,
    };
    Ok(no_referrer(response))
}

pub async fn accept(
    State(state): State<AppState>,
    Path(token): Path<String>,
    MaybeUser(context): MaybeUser,
    csrf: PreSessionCsrf,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<SignUpForm>,
) -> Result<Response, WebError> {
    if let SessionContext::SignedIn { actor, .. } = &context {
        let record = state.service.accept_invitation(actor, &token).await?;
        let target = match record.team {
            Some((_, slug, _)) => format!("/teams/{slug}?notice=joined"),
            None => "/?notice=joined".to_owned(),
        };
        return Ok(Redirect::to(&target).into_response());
    }
    match state
        .service
        .accept_invitation_with_new_account(&token, &form.name, &form.email, &form.password)
        .await
    {
        Ok((record, outcome)) => {
            let target = match record.team {
                Some((_, slug, _)) => format!("/teams/{slug}?notice=joined"),
                None => "/?notice=joined".to_owned(),
            };
            Ok((
                jar.add(session_cookie(outcome.session.token, state.secure_cookies)),
                Redirect::to(&target),
            )
                .into_response())
        }
        Err(error) => {
            let errors = FormErrors::from_service(error)?;
            let invitation = state.service.invitation(&token).await?;
            let response = render_with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &page(
                    Layout::public("Invitation", &csrf.token),
                    &token,
                    &invitation,
                    None,
                    sso_only(&state).await?,
                    SignUpForm {
                        password: String::new(),
                        ..form
                    },
                    errors,
                ),
            );
            Ok(no_referrer(response))
        }
    }
}
