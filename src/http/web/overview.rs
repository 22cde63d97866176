//! The organisation overview: the home page after sign-in.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};

use super::{render, Layout, NoticeQuery};
use crate::http::error::WebError;
use crate::http::extract::{MaybeUser, SessionContext, WebUser};
use crate::http::AppState;
use crate::service::TeamSummary;

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    layout: Layout,
    organisation: String,
    teams: Vec<TeamSummary>,
    my_team_count: usize,
    is_admin: bool,
    people_count: usize,
}

#[derive(Template)]
#[template(path = "not_set_up.html")]
struct NotSetUpPage {
    layout: Layout,
}

pub async fn show(
    State(state): State<AppState>,
    Query(notice): Query<NoticeQuery>,
    MaybeUser(context): MaybeUser,
) -> Result<Response, WebError> {
    let Some(organisation) = state.service.organisation().await? else {
        return Ok(render(&NotSetUpPage {
            layout: Layout::public("Welcome", ""),
        }));
    };
    let user = match context {
        SessionContext::SignedIn { actor, csrf_token } => WebUser { actor, csrf_token },
        SessionContext::Expired => return Ok(Redirect::to("/login?expired=1").into_response()),
        SessionContext::Anonymous => return Ok(Redirect::to("/login").into_response()),
    };
    let teams = state.service.teams_for(&user.actor).await?;
    let people_count = if user.actor.is_admin() {
        state.service.people(&user.actor).await?.len()
    } else {
        0
    };
    let page = OverviewPage {
        layout: Layout::signed_in(&user, organisation.name.clone(), "overview")
            .with_notice(&notice),
        organisation: organisation.name,
        my_team_count: teams.iter().filter(|t| t.role.is_some()).count(),
        teams,
        is_admin: user.actor.is_admin(),
        people_count,
    };
    Ok(render(&page))
}
