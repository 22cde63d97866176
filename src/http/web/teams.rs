//! Teams: the list, a team's page, its members and invitations, and its settings.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::form::Choice;
use super::{date, render, render_with_status, FormErrors, Layout, NoticeQuery};
use crate::domain::loops::ActionStatus;
use crate::domain::records::people::{InvitationRecord, MemberRecord};
use crate::domain::success::{self, SuccessSettings};
use crate::domain::Team;
use crate::domain::TeamRole;
use crate::http::error::WebError;
use crate::http::extract::{CsrfForm, WebTeam, WebUser};
use crate::http::AppState;
use crate::service::{CreatedInvitation, TeamAccess, TeamSummary};

#[derive(Template)]
#[template(path = "teams.html")]
struct TeamsPage {
    layout: Layout,
    teams: Vec<TeamSummary>,
    form: TeamForm,
    errors: FormErrors,
}

#[derive(Debug, Default, Deserialize)]
pub struct TeamForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

pub async fn list(
    State(state): State<AppState>,
    Query(notice): Query<NoticeQuery>,
    user: WebUser,
) -> Result<Response, WebError> {
    let teams = state.service.teams_for(&user.actor).await?;
    Ok(render(&TeamsPage {
        layout: Layout::signed_in(&user, "Teams", "teams").with_notice(&notice),
        teams,
        form: TeamForm::default(),
        errors: FormErrors::none(),
    }))
}

pub async fn create(
    State(state): State<AppState>,
    user: WebUser,
    CsrfForm(form): CsrfForm<TeamForm>,
) -> Result<Response, WebError> {
    match state
        .service
        .create_team(&user.actor, &form.name, &form.description)
        .await
    {
        Ok(team) => {
            Ok(Redirect::to(&format!("/teams/{}?notice=team-created", team.slug)).into_response())
        }
        Err(error) => {
            let errors = FormErrors::from_service(error)?;
            let teams = state.service.teams_for(&user.actor).await?;
            Ok(render_with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &TeamsPage {
                    layout: Layout::signed_in(&user, "Teams", "teams"),
                    teams,
                    form,
                    errors,
                },
            ))
        }
    }
}

/// One line of the members list.
struct MemberView {
    id: String,
    name: String,
    email: String,
    role: &'static str,
    joined: String,
    is_you: bool,
}

fn member_views(members: Vec<MemberRecord>, you: &TeamAccess) -> Vec<MemberView> {
    members
        .into_iter()
        .map(|m| MemberView {
            id: m.user.id.to_string(),
            name: m.user.name.to_string(),
            email: m.user.email.to_string(),
            role: m.role.as_str(),
            joined: date(m.joined_at),
            is_you: m.user.id == you.actor(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "team.html")]
struct TeamPage {
    layout: Layout,
    team: Team,
    role: &'static str,
    can_manage: bool,
    members: Vec<MemberView>,
    lead_names: Vec<String>,
    /// Loops needing attention; `note` says why.
    attention: Vec<LoopLine>,
    /// The newest loops; `note` is the day each was logged.
    recent: Vec<LoopLine>,
    total_loops: i64,
    open_actions: usize,
    overdue_actions: Vec<OverdueActionLine>,
    quarter: String,
    leads_first: Vec<LeadShared>,
    /// The viewer leads the team and has not shared a failure of their own this quarter.
    prompt_lead: bool,
    /// The consistent-success question, when one of its conditions holds.
    success: Option<SuccessBox>,
    /// A lead's first-moments prompts (issue 24).
    first: crate::service::rituals::FirstMoments,
    /// A lead's quarterly reminder: expectations written before this quarter wait to be revisited.
    expectations_to_revisit: bool,
}

/// The essay's question on the team page, with why it shows and what to try.
struct SuccessBox {
    question: &'static str,
    reasons: Vec<SuccessReason>,
    suggestions: &'static [&'static str],
}

struct SuccessReason {
    code: &'static str,
    text: String,
}

/// A loop in one of the team page's lists.
struct LoopLine {
    id: String,
    title: String,
    stage: &'static str,
    note: String,
}

/// An overdue action item on the team page.
struct OverdueActionLine {
    loop_id: String,
    title: String,
    owner: String,
    due: String,
}

fn role_label(access: &TeamAccess) -> &'static str {
    match access.role() {
        Some(role) if role.as_str() == "lead" => "lead",
        Some(_) => "member",
        None => "admin (not a member)",
    }
}

pub async fn show(
    State(state): State<AppState>,
    Query(notice): Query<NoticeQuery>,
    WebTeam { user, access }: WebTeam,
) -> Result<Response, WebError> {
    let members = member_views(state.service.members(&access).await?, &access);
    let lead_names = members
        .iter()
        .filter(|m| m.role == "lead")
        .map(|m| m.name.clone())
        .collect();
    let attention = state
        .service
        .loops_needing_attention(&access)
        .await?
        .into_iter()
        .map(|(s, a)| LoopLine {
            id: s.id.to_string(),
            title: s.title,
            stage: s.stage.label(),
            note: a.describe(),
        })
        .collect();
    let page = state
        .service
        .loops(
            &access,
            &crate::service::LoopQuery {
                per_page: Some(5),
                ..crate::service::LoopQuery::default()
            },
        )
        .await?;
    let recent = page
        .loops
        .into_iter()
        .map(|(s, _)| LoopLine {
            id: s.id.to_string(),
            title: s.title,
            stage: s.stage.label(),
            note: date(s.created_at),
        })
        .collect();
    let (quarter, leads_first) = state.service.leaders_first(&access).await?;
    let signal = state.service.success_signal(&access).await?;
    let first = state.service.first_moments(&access).await?;
    let expectations_to_revisit = state.service.expectations(&access).await?.revisit_due();
    let success = signal.shows().then(|| SuccessBox {
        question: success::QUESTION,
        reasons: signal
            .fired
            .iter()
            .map(|c| SuccessReason {
                code: c.as_str(),
                text: c.explain(&signal.settings),
            })
            .collect(),
        suggestions: &success::SUGGESTIONS,
    });
    let open = state
        .service
        .team_actions(&access, Some(ActionStatus::Open))
        .await?;
    let overdue_actions = open
        .iter()
        .filter(|item| item.overdue)
        .map(|item| &item.record)
        .map(|a| OverdueActionLine {
            loop_id: a.loop_id.to_string(),
            title: a.title.clone(),
            owner: a
                .owner
                .as_ref()
                .map(|p| p.name.clone())
                .unwrap_or_else(|| "no owner".to_owned()),
            due: a.due_on.map(date).unwrap_or_default(),
        })
        .collect();
    Ok(render(&TeamPage {
        layout: Layout::signed_in(&user, access.team().name.to_string(), "teams")
            .with_notice(&notice),
        team: access.team().clone(),
        role: role_label(&access),
        can_manage: access.can_manage(),
        members,
        lead_names,
        attention,
        recent,
        total_loops: page.total,
        open_actions: open.len(),
        overdue_actions,
        quarter,
        prompt_lead: leads_first
            .iter()
            .any(|(id, _, count)| *id == access.actor() && *count == 0),
        leads_first: leads_first
            .into_iter()
            .map(|(_, name, failures)| LeadShared { name, failures })
            .collect(),
        success,
        first,
        expectations_to_revisit,
    }))
}

/// A lead and how many failures they logged under their own name this quarter.
struct LeadShared {
    name: String,
    failures: i64,
}

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage {
    layout: Layout,
    team: Team,
    can_manage: bool,
    members: Vec<MemberView>,
    invitations: Vec<InvitationView>,
    new_invitation: Option<InvitationLinkView>,
    add_form: AddMemberForm,
    add_errors: FormErrors,
    invite_form: InviteForm,
    invite_errors: FormErrors,
    role_errors: FormErrors,
}

struct InvitationView {
    id: String,
    role: &'static str,
    email: String,
    invited_by: String,
    expires: String,
}

struct InvitationLinkView {
    link: String,
    role: &'static str,
    expires: String,
}

impl From<CreatedInvitation> for InvitationLinkView {
    fn from(created: CreatedInvitation) -> Self {
        Self {
            link: created.link,
            role: created.role.as_str(),
            expires: date(created.expires_at),
        }
    }
}

fn invitation_views(records: Vec<InvitationRecord>) -> Vec<InvitationView> {
    records
        .into_iter()
        .map(|r| InvitationView {
            id: r.id.to_string(),
            role: r.role.as_str(),
            email: r.email.map(|e| e.to_string()).unwrap_or_default(),
            invited_by: r.invited_by_name,
            expires: date(r.expires_at),
        })
        .collect()
}

#[derive(Debug, Default, Deserialize)]
pub struct AddMemberForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: Choice<TeamRole>,
}

#[derive(Debug, Default, Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: Choice<TeamRole>,
}

/// Everything the members page shows besides the parts a form re-renders.
async fn members_page(
    state: &AppState,
    user: &WebUser,
    access: &TeamAccess,
) -> Result<MembersPage, WebError> {
    let members = member_views(state.service.members(access).await?, access);
    let invitations = if access.can_manage() {
        invitation_views(state.service.team_invitations(access).await?)
    } else {
        Vec::new()
    };
    Ok(MembersPage {
        layout: Layout::signed_in(user, format!("Members of {}", access.team().name), "teams"),
        team: access.team().clone(),
        can_manage: access.can_manage(),
        members,
        invitations,
        new_invitation: None,
        add_form: AddMemberForm {
            role: Choice::of("member".to_owned()),
            ..AddMemberForm::default()
        },
        add_errors: FormErrors::none(),
        invite_form: InviteForm {
            role: Choice::of("member".to_owned()),
            ..InviteForm::default()
        },
        invite_errors: FormErrors::none(),
        role_errors: FormErrors::none(),
    })
}

pub async fn members(
    State(state): State<AppState>,
    Query(notice): Query<NoticeQuery>,
    WebTeam { user, access }: WebTeam,
) -> Result<Response, WebError> {
    let mut page = members_page(&state, &user, &access).await?;
    page.layout = page.layout.with_notice(&notice);
    Ok(render(&page))
}

pub async fn add_member(
    State(state): State<AppState>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<AddMemberForm>,
) -> Result<Response, WebError> {
    let result = match form.role.read("role") {
        Ok(role) => state.service.add_member(&access, &form.email, role).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(_) => Ok(redirect_members(&access, "member-added")),
        Err(error) => {
            let errors = FormErrors::from_service(error)?;
            let mut page = members_page(&state, &user, &access).await?;
            page.add_form = form;
            page.add_errors = errors;
            Ok(render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

fn redirect_members(access: &TeamAccess, notice: &str) -> Response {
    Redirect::to(&format!(
        "/teams/{}/members?notice={notice}",
        access.team().slug
    ))
    .into_response()
}

#[derive(Debug, Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: Choice<TeamRole>,
}

pub async fn change_role(
    State(state): State<AppState>,
    Path((_slug, user_id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<RoleForm>,
) -> Result<Response, WebError> {
    let result = match form.role.read("role") {
        Ok(role) => state.service.set_member_role(&access, &user_id, role).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => Ok(redirect_members(&access, "role-changed")),
        Err(error) => {
            let errors = FormErrors::from_service(error)?;
            let mut page = members_page(&state, &user, &access).await?;
            page.role_errors = errors;
            Ok(render_with_status(StatusCode::CONFLICT, &page))
        }
    }
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn remove_member(
    State(state): State<AppState>,
    Path((_slug, user_id)): Path<(String, String)>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, WebError> {
    let leaving = user_id == access.actor().to_string();
    match state.service.remove_member(&access, &user_id).await {
        Ok(()) if leaving && !user.actor.is_admin() => {
            Ok(Redirect::to("/teams?notice=left-team").into_response())
        }
        Ok(()) => Ok(redirect_members(
            &access,
            if leaving {
                "left-team"
            } else {
                "member-removed"
            },
        )),
        Err(error) => {
            let errors = FormErrors::from_service(error)?;
            let mut page = members_page(&state, &user, &access).await?;
            page.role_errors = errors;
            Ok(render_with_status(StatusCode::CONFLICT, &page))
        }
    }
}

pub async fn invite(
    State(state): State<AppState>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<InviteForm>,
) -> Result<Response, WebError> {
    let email = Some(form.email.as_str());
    let result = match form.role.read("role") {
        Ok(role) => state.service.invite_to_team(&access, role, email).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(created) => {
            // Shown on this response only: the link is not stored and cannot be shown again.
            let mut page = members_page(&state, &user, &access).await?;
            page.new_invitation = Some(created.into());
            Ok(render_with_status(StatusCode::CREATED, &page))
        }
        Err(error) => {
            let errors = FormErrors::from_service(error)?;
            let mut page = members_page(&state, &user, &access).await?;
            page.invite_form = form;
            page.invite_errors = errors;
            Ok(render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

pub async fn revoke_invitation(
    State(state): State<AppState>,
    Path((_slug, id)): Path<(String, String)>,
    WebTeam { access, .. }: WebTeam,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, WebError> {
    state.service.revoke_team_invitation(&access, &id).await?;
    Ok(redirect_members(&access, "invitation-revoked"))
}

#[derive(Template)]
#[template(path = "team_settings.html")]
struct SettingsPage {
    layout: Layout,
    team: Team,
    form: SettingsForm,
    errors: FormErrors,
    success: SuccessForm,
    success_errors: FormErrors,
}

/// The consistent-success thresholds as typed.
#[derive(Debug, Default, Deserialize)]
pub struct SuccessForm {
    #[serde(default)]
    quarters: String,
    #[serde(default)]
    quiet_weeks: String,
    #[serde(default)]
    basic_weeks: String,
    #[serde(default)]
    basic_min_loops: String,
}

impl SuccessForm {
    fn of(s: SuccessSettings) -> Self {
        SuccessForm {
            quarters: s.quarters.to_string(),
            quiet_weeks: s.quiet_weeks.to_string(),
            basic_weeks: s.basic_weeks.to_string(),
            basic_min_loops: s.basic_min_loops.to_string(),
        }
    }
}

/// A number as typed, or one no range accepts (so the use case names the field).
fn typed_number(raw: &str) -> i64 {
    raw.trim().parse().unwrap_or(i64::MIN)
}

pub async fn success_settings_submit(
    State(state): State<AppState>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<SuccessForm>,
) -> Result<Response, WebError> {
    match state
        .service
        .set_success_settings(
            &access,
            typed_number(&form.quarters),
            typed_number(&form.quiet_weeks),
            typed_number(&form.basic_weeks),
            typed_number(&form.basic_min_loops),
        )
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!(
            "/teams/{}/settings?notice=success-settings-saved",
            access.team().slug
        ))
        .into_response()),
        Err(error) => {
            let success_errors = FormErrors::from_service(error)?;
            let team = access.team().clone();
            Ok(render_with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &SettingsPage {
                    layout: Layout::signed_in(&user, format!("Settings of {}", team.name), "teams"),
                    form: SettingsForm {
                        name: team.name.to_string(),
                        description: team.description.clone(),
                        stuck_after_days: team.stuck_after_days.to_string(),
                    },
                    team,
                    errors: FormErrors::none(),
                    success: form,
                    success_errors,
                },
            ))
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    stuck_after_days: String,
}

pub async fn settings_form(
    State(state): State<AppState>,
    Query(notice): Query<NoticeQuery>,
    WebTeam { user, access }: WebTeam,
) -> Result<Response, WebError> {
    if !access.can_manage() {
        return Err(crate::service::ServiceError::Forbidden(
            "only the team's leads and organisation admins can change its settings".into(),
        )
        .into());
    }
    let success = SuccessForm::of(state.service.success_settings(&access).await?);
    let team = access.team().clone();
    Ok(render(&SettingsPage {
        layout: Layout::signed_in(&user, format!("Settings of {}", team.name), "teams")
            .with_notice(&notice),
        success,
        success_errors: FormErrors::none(),
        form: SettingsForm {
            name: team.name.to_string(),
            description: team.description.clone(),
            stuck_after_days: team.stuck_after_days.to_string(),
        },
        team,
        errors: FormErrors::none(),
    }))
}

pub async fn settings_submit(
    State(state): State<AppState>,
    WebTeam { user, access }: WebTeam,
    CsrfForm(form): CsrfForm<SettingsForm>,
) -> Result<Response, WebError> {
    match state
        .service
        .update_team(
            &access,
            &form.name,
            &form.description,
            &form.stuck_after_days,
        )
        .await
    {
        Ok(team) => {
            Ok(Redirect::to(&format!("/teams/{}?notice=team-updated", team.slug)).into_response())
        }
        Err(error) => {
            let errors = FormErrors::from_service(error)?;
            Ok(render_with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &SettingsPage {
                    layout: Layout::signed_in(
                        &user,
                        format!("Settings of {}", access.team().name),
                        "teams",
                    ),
                    team: access.team().clone(),
                    form,
                    errors,
                    success: SuccessForm::of(state.service.success_settings(&access).await?),
                    success_errors: FormErrors::none(),
                },
            ))
        }
    }
}
