//! The home page after sign-in: "My work" (what waits on the person, from
//! `Service::my_work`), then their teams.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};

use super::{date, render, Layout, NoticeQuery};
use crate::http::error::WebError;
use crate::http::extract::{MaybeUser, SessionContext, WebUser};
use crate::http::AppState;
use crate::service::work::MyWork;
use crate::service::TeamSummary;

/// One line of "My work": a link, what it is, and a flag when it is late.
struct WorkItem {
    href: String,
    title: String,
    detail: String,
    late: Option<String>,
}

/// A lead's team on "My work".
struct LedItems {
    team: String,
    href: String,
    stuck: Vec<WorkItem>,
    overdue: Vec<WorkItem>,
}

struct WorkView {
    empty: bool,
    actions: Vec<WorkItem>,
    loops: Vec<WorkItem>,
    reviews: Vec<WorkItem>,
    rounds: Vec<WorkItem>,
    decisions: Vec<WorkItem>,
    led: Vec<LedItems>,
}

fn work_view(work: MyWork) -> WorkView {
    let actions = work
        .actions
        .into_iter()
        .map(|a| WorkItem {
            href: format!("/teams/{}/loops/{}", a.team.slug, a.action.loop_id),
            detail: format!(
                "{} · {}{}",
                a.team.name,
                a.action.loop_title,
                a.action
                    .due_on
                    .map(|d| format!(" · due {}", date(d)))
                    .unwrap_or_default()
            ),
            title: a.action.title,
            late: a.overdue.then(|| "overdue".to_owned()),
        })
        .collect();
    let loops = work
        .loops
        .into_iter()
        .map(|l| WorkItem {
            href: format!("/teams/{}/loops/{}", l.team.slug, l.summary.id),
            detail: format!("{} · {}", l.team.name, l.summary.stage.label()),
            title: l.summary.title,
            late: l.attention.map(|a| a.describe()),
        })
        .collect();
    let reviews = work
        .reviews
        .into_iter()
        .map(|r| WorkItem {
            href: format!("/teams/{}/reviews/{}", r.team.slug, r.review.id),
            detail: format!(
                "{} · {}{}",
                r.team.name,
                r.review.phase.label(),
                if r.joined {
                    " · you have joined"
                } else {
                    " · you are invited"
                }
            ),
            title: r
                .review
                .loop_title
                .clone()
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| r.review.prompt.clone()),
            late: None,
        })
        .collect();
    let rounds = work
        .rounds
        .into_iter()
        .map(|r| WorkItem {
            href: format!("/teams/{}/pulse/{}", r.team.slug, r.round.id),
            title: format!("Pulse of {}", r.team.name),
            detail: format!("open until the end of {}", date(r.round.closes_on)),
            late: None,
        })
        .collect();
    let decisions = work
        .decisions
        .into_iter()
        .map(|d| WorkItem {
            href: format!("/teams/{}/experiments/{}", d.team.slug, d.experiment.id),
            detail: format!(
                "{} · decide by {}",
                d.team.name,
                date(d.experiment.design.decide_by)
            ),
            title: d.experiment.design.title,
            late: d.overdue.then(|| "decision overdue".to_owned()),
        })
        .collect();
    let led = work
        .led
        .into_iter()
        .map(|t| LedItems {
            href: format!("/teams/{}", t.team.slug),
            stuck: t
                .stuck
                .into_iter()
                .map(|(l, why)| WorkItem {
                    href: format!("/teams/{}/loops/{}", t.team.slug, l.id),
                    detail: l.stage.label().to_owned(),
                    title: l.title,
                    late: Some(why.describe()),
                })
                .collect(),
            overdue: t
                .overdue_actions
                .into_iter()
                .map(|a| WorkItem {
                    href: format!("/teams/{}/loops/{}", t.team.slug, a.loop_id),
                    detail: format!(
                        "{}{}",
                        a.loop_title,
                        a.due_on
                            .map(|d| format!(" · due {}", date(d)))
                            .unwrap_or_default()
                    ),
                    title: a.title,
                    late: Some("overdue".to_owned()),
                })
                .collect(),
            team: t.team.name.to_string(),
        })
        .collect();
    WorkView {
        empty: false,
        actions,
        loops,
        reviews,
        rounds,
        decisions,
        led,
    }
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    layout: Layout,
    organisation: String,
    teams: Vec<TeamSummary>,
    my_team_count: usize,
    is_admin: bool,
    people_count: usize,
    work: WorkView,
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
    let work = state.service.my_work(&user.actor).await?;
    let empty = work.is_empty();
    let mut work = work_view(work);
    work.empty = empty;
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
        work,
    };
    Ok(render(&page))
}
