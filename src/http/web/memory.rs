//! The organisation's memory as pages: search (`/search`), the learning library (`/library`),
//! the loop-health dashboards (`/health`, `/teams/{slug}/health`) and the similar-loops fragment
//! that htmx loads into the capture form.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::form::{Choice, Reading};
use super::format::SelectOption;
use super::{date, render, render_with_status, FormErrors, Layout};
use crate::domain::experiments::{format_days, format_money};
use crate::domain::health::HealthRange;
use crate::domain::loops::Stage;
use crate::domain::search::DocKind;
use crate::domain::text::count;
use crate::domain::Team;
use crate::http::charts::{bars, Bar};
use crate::http::error::WebError;
use crate::http::extract::{CsrfForm, WebTeam, WebUser};
use crate::http::highlight::marked_html;
use crate::http::AppState;
use crate::service::{HealthReport, SearchInput, ServiceError, SimilarLoop};

#[derive(Debug, Default, Deserialize)]
pub struct SearchForm {
    #[serde(default)]
    q: String,
    team: Option<String>,
    kind: Option<String>,
    stage: Option<String>,
    tag: Option<String>,
    from: Option<String>,
    to: Option<String>,
    page: Option<String>,
}

impl SearchForm {
    fn value(field: &Option<String>) -> &str {
        field.as_deref().unwrap_or("")
    }

    /// The query string of this search on another page.
    fn page_link(&self, page: i64) -> String {
        let pairs = [
            ("q", self.q.as_str()),
            ("team", Self::value(&self.team)),
            ("kind", Self::value(&self.kind)),
            ("stage", Self::value(&self.stage)),
            ("tag", Self::value(&self.tag)),
            ("from", Self::value(&self.from)),
            ("to", Self::value(&self.to)),
        ];
        let mut query: Vec<(&str, String)> = pairs
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (*k, (*v).to_owned()))
            .collect();
        query.push(("page", page.to_string()));
        format!(
            "/search?{}",
            serde_urlencoded::to_string(&query).unwrap_or_default()
        )
    }
}

struct HitView {
    kind: &'static str,
    title_html: String,
    snippet_html: String,
    href: Option<String>,
    loop_title: String,
    team: String,
    stage: String,
    author: String,
    date: String,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPageView {
    layout: Layout,
    form: SearchForm,
    teams: Vec<Team>,
    kinds: Vec<SelectOption<&'static str>>,
    stages: Vec<SelectOption<&'static str>>,
    errors: FormErrors,
    searched: bool,
    hits: Vec<HitView>,
    total: i64,
    capped: bool,
    previous: Option<String>,
    next: Option<String>,
    first_shown: i64,
    last_shown: i64,
}

pub async fn search(
    State(state): State<AppState>,
    user: WebUser,
    Query(form): Query<SearchForm>,
) -> Result<Response, WebError> {
    let teams = state
        .service
        .teams_for(&user.actor)
        .await?
        .into_iter()
        .filter(|t| t.role.is_some() || user.actor.is_admin())
        .map(|t| t.team)
        .collect();
    let mut view = SearchPageView {
        layout: Layout::signed_in(&user, "Search", "search"),
        teams,
        kinds: DocKind::ALL
            .iter()
            .map(|k| SelectOption::new(k.as_str(), k.label()))
            .collect(),
        stages: Stage::ALL
            .iter()
            .map(|s| SelectOption::new(s.as_str(), s.label()))
            .collect(),
        errors: FormErrors::none(),
        searched: !form.q.trim().is_empty(),
        hits: Vec::new(),
        total: 0,
        capped: false,
        previous: None,
        next: None,
        first_shown: 0,
        last_shown: 0,
        form,
    };
    if !view.searched {
        return Ok(render(&view));
    }
    let mut reading = Reading::default();
    let kind = Choice::<DocKind>::of(view.form.kind.clone().unwrap_or_default());
    let stage = Choice::<Stage>::of(view.form.stage.clone().unwrap_or_default());
    let input = SearchInput {
        q: view.form.q.clone(),
        team: view.form.team.clone(),
        kind: reading.optional_choice("kind", &kind),
        stage: reading.optional_choice("stage", &stage),
        tag: view.form.tag.clone(),
        from: view.form.from.clone(),
        to: view.form.to.clone(),
        page: view.form.page.clone(),
        per_page: None,
    };
    let found = match reading.finish() {
        Ok(()) => state.service.search(&user.actor, &input).await,
        Err(refusal) => Err(refusal),
    };
    match found {
        Ok(page) => {
            view.total = page.total;
            view.capped = page.capped;
            // Saturating: a page number far past the end shows an empty page, not a panic.
            let offset = (page.page - 1).saturating_mul(page.per_page);
            view.first_shown = offset.saturating_add(1);
            view.last_shown = offset.saturating_add(page.hits.len() as i64);
            view.previous = (page.page > 1).then(|| view.form.page_link(page.page - 1));
            view.next = (offset.saturating_add(page.per_page) < page.total)
                .then(|| view.form.page_link(page.page + 1));
            view.hits = page
                .hits
                .into_iter()
                .map(|hit| {
                    let href = match (&hit.team, &hit.loop_link) {
                        (Some(team), Some((id, _))) => {
                            Some(format!("/teams/{}/loops/{id}", team.slug))
                        }
                        (Some(team), None) if hit.kind == DocKind::Experiment => {
                            Some(format!("/teams/{}/experiments/{}", team.slug, hit.id))
                        }
                        _ => None,
                    };
                    HitView {
                        kind: hit.kind.label(),
                        title_html: marked_html(&hit.title),
                        snippet_html: marked_html(&hit.snippet),
                        href,
                        loop_title: hit
                            .loop_link
                            .as_ref()
                            .map(|(_, title)| title.clone())
                            .unwrap_or_default(),
                        team: hit
                            .team
                            .as_ref()
                            .map(|t| t.name.clone())
                            .unwrap_or_else(|| "a private team".to_owned()),
                        stage: hit.stage.map(|s| s.label().to_owned()).unwrap_or_default(),
                        author: match (&hit.author_name, hit.anonymous, hit.kind) {
                            (_, true, DocKind::Loop) => "anonymous".to_owned(),
                            (Some(name), false, _) => name.clone(),
                            _ => String::new(),
                        },
                        date: date(hit.at),
                    }
                })
                .collect();
            Ok(render(&view))
        }
        Err(error) => {
            view.errors = FormErrors::from_service(error)?;
            Ok(render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &view))
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct LibraryQuery {
    theme: Option<String>,
    tag: Option<String>,
    page: Option<String>,
}

struct LibraryItemView {
    statement: String,
    date: String,
    /// `None` for a private team's loop.
    source: Option<LearningSource>,
    themes: Vec<&'static str>,
    tags: Vec<String>,
}

/// The loop a learning came from, as a link.
struct LearningSource {
    href: String,
    title: String,
    team: String,
}

/// A theme of the library's filter list and how many learnings carry it.
struct ThemeFilter {
    value: &'static str,
    label: &'static str,
    count: i64,
}

/// A tag of the library's filter list and how many learnings carry it.
struct TagFilter {
    tag: String,
    count: i64,
}

#[derive(Template)]
#[template(path = "library.html")]
struct LibraryPageView {
    layout: Layout,
    items: Vec<LibraryItemView>,
    total: i64,
    theme: String,
    tag: String,
    themes: Vec<ThemeFilter>,
    tags: Vec<TagFilter>,
    previous: Option<String>,
    next: Option<String>,
}

pub async fn library(
    State(state): State<AppState>,
    user: WebUser,
    Query(query): Query<LibraryQuery>,
) -> Result<Response, WebError> {
    let view = state
        .service
        .library(
            &user.actor,
            query.theme.as_deref(),
            query.tag.as_deref(),
            query.page.as_deref(),
        )
        .await?;
    let theme = view
        .theme
        .map(|t| t.as_str().to_owned())
        .unwrap_or_default();
    let tag = view.tag.clone().unwrap_or_default();
    let link = |page: i64| {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if !theme.is_empty() {
            pairs.push(("theme", theme.clone()));
        }
        if !tag.is_empty() {
            pairs.push(("tag", tag.clone()));
        }
        pairs.push(("page", page.to_string()));
        format!(
            "/library?{}",
            serde_urlencoded::to_string(&pairs).unwrap_or_default()
        )
    };
    let previous = (view.page > 1).then(|| link(view.page - 1));
    let next = (view.page * view.per_page < view.total).then(|| link(view.page + 1));
    Ok(render(&LibraryPageView {
        layout: Layout::signed_in(&user, "Learning library", "library"),
        items: view
            .items
            .into_iter()
            .map(|item| LibraryItemView {
                statement: item.statement,
                date: date(item.created_at),
                source: item.source.map(|(team, id, title)| LearningSource {
                    href: format!("/teams/{}/loops/{id}", team.slug),
                    title,
                    team: team.name,
                }),
                themes: item.themes.iter().map(|t| t.label()).collect(),
                tags: item.tags,
            })
            .collect(),
        total: view.total,
        themes: view
            .themes
            .iter()
            .map(|(t, n)| ThemeFilter {
                value: t.as_str(),
                label: t.label(),
                count: *n,
            })
            .collect(),
        tags: view
            .tags
            .into_iter()
            .map(|(tag, count)| TagFilter { tag, count })
            .collect(),
        theme,
        tag,
        previous,
        next,
    }))
}

#[derive(Debug, Default, Deserialize)]
pub struct HealthQuery {
    range: Option<String>,
}

struct Figure {
    label: &'static str,
    value: String,
}

#[derive(Template)]
#[template(path = "health.html")]
struct HealthPageView {
    layout: Layout,
    heading: String,
    scope_note: String,
    base: String,
    team: Option<Team>,
    range: &'static str,
    ranges: Vec<SelectOption<&'static str>>,
    stage_chart: String,
    stages: Vec<CountRow>,
    type_chart: String,
    types: Vec<TypeRow>,
    figures: Vec<Figure>,
    experiments: Vec<CountRow>,
    losses: Vec<LossRow>,
}

/// A label and how many: a stage's loops, a status's experiments.
struct CountRow {
    label: String,
    count: i64,
}

/// Loops of one type of failure and their share of the classified ones.
struct TypeRow {
    label: &'static str,
    count: i64,
    share: String,
}

/// Affordable loss committed in one currency: money and effort, formatted.
struct LossRow {
    currency: String,
    money: String,
    effort: String,
}

fn health_page(
    user: &WebUser,
    report: HealthReport,
    heading: String,
    scope_note: String,
    base: String,
    team: Option<Team>,
) -> Response {
    let stage_bars: Vec<Bar> = report
        .by_stage
        .iter()
        .map(|(stage, n)| Bar {
            label: stage.label().to_owned(),
            value: *n as f64,
            shown: n.to_string(),
        })
        .collect();
    let max_stage = report
        .by_stage
        .iter()
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let classified: i64 = report.by_type.iter().map(|(_, n)| n).sum();
    let share = |n: i64| {
        if classified == 0 {
            "—".to_owned()
        } else {
            format!("{:.0} %", n as f64 * 100.0 / classified as f64)
        }
    };
    let types: Vec<TypeRow> = report
        .by_type
        .iter()
        .map(|(kind, n)| TypeRow {
            label: kind.map(|k| k.label()).unwrap_or("Not classified yet"),
            count: *n,
            share: share(*n),
        })
        .collect();
    let type_bars: Vec<Bar> = types
        .iter()
        .map(|row| Bar {
            label: row.label.to_owned(),
            value: row.count as f64,
            shown: format!("{} ({})", row.count, row.share),
        })
        .collect();
    let max_type = report
        .by_type
        .iter()
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let figures = vec![
        Figure {
            label: "Median time to detect (happened → noticed)",
            value: report.time_to_detect.describe(),
        },
        Figure {
            label: "Median time to analyse (logged → Apply)",
            value: report.time_to_analyse.describe(),
        },
        Figure {
            label: "Median time to apply (Apply → Continue)",
            value: report.time_to_apply.describe(),
        },
        Figure {
            label: "Loops stuck in a stage",
            value: report.stuck.to_string(),
        },
        Figure {
            label: "Open action items",
            value: report.open_actions.to_string(),
        },
        Figure {
            label: "Overdue action items",
            value: report.overdue_actions.to_string(),
        },
        Figure {
            label: "Possible recurrences flagged on capture",
            value: report.flagged_recurrences.to_string(),
        },
        Figure {
            label: "Follow-up checks that found a recurrence",
            value: report.follow_ups_recurred.to_string(),
        },
    ];
    let range = report.range;
    render(&HealthPageView {
        layout: Layout::signed_in(user, heading.clone(), "health"),
        stage_chart: bars(
            "stages",
            "Loops by stage",
            &format!(
                "{} logged ({}), by their current stage.",
                count(report.total_loops, "loop", "loops"),
                range.label()
            ),
            &stage_bars,
            0.0,
            max_stage,
        ),
        stages: report
            .by_stage
            .iter()
            .map(|(stage, count)| CountRow {
                label: stage.label().to_owned(),
                count: *count,
            })
            .collect(),
        type_chart: bars(
            "types",
            "Loops by type of failure",
            "Basic, complex and intelligent failures (the override, else the suggestion).",
            &type_bars,
            0.0,
            max_type,
        ),
        types,
        figures,
        experiments: report
            .experiments_by_status
            .into_iter()
            .map(|(label, count)| CountRow { label, count })
            .collect(),
        losses: report
            .committed_loss
            .into_iter()
            .map(|(currency, money, days)| LossRow {
                money: format_money(money, &currency),
                effort: format_days(days),
                currency,
            })
            .collect(),
        heading,
        scope_note,
        base,
        team,
        range: range.as_str(),
        ranges: HealthRange::ALL
            .iter()
            .map(|r| SelectOption::new(r.as_str(), r.label()))
            .collect(),
    })
}

pub async fn organisation_health(
    State(state): State<AppState>,
    user: WebUser,
    Query(query): Query<HealthQuery>,
) -> Result<Response, WebError> {
    let report = state
        .service
        .organisation_health(&user.actor, query.range.as_deref())
        .await?;
    let note = match report.teams {
        None => "Every team in the organisation (you are an admin).".to_owned(),
        Some(n) => {
            format!(
                "The {} you belong to: nobody sees figures of a team they are not in.",
                if n == 1 {
                    "team".to_owned()
                } else {
                    format!("{n} teams")
                }
            )
        }
    };
    Ok(health_page(
        &user,
        report,
        "Loop health".to_owned(),
        note,
        "/health".to_owned(),
        None,
    ))
}

pub async fn team_health(
    State(state): State<AppState>,
    WebTeam { user, access }: WebTeam,
    Query(query): Query<HealthQuery>,
) -> Result<Response, WebError> {
    let report = state
        .service
        .team_health(&access, query.range.as_deref())
        .await?;
    let team = access.team().clone();
    Ok(health_page(
        &user,
        report,
        format!("Loop health: {}", team.name),
        "This team's loops.".to_owned(),
        format!("/teams/{}/health", team.slug),
        Some(team),
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct SimilarForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    what_happened: String,
}

#[derive(Template)]
#[template(path = "similar.html")]
struct SimilarFragment {
    loops: Vec<SimilarLoop>,
}

/// The htmx fragment under the capture form: similar earlier loops, as the person types.
pub async fn similar(
    State(state): State<AppState>,
    WebTeam { access, .. }: WebTeam,
    CsrfForm(form): CsrfForm<SimilarForm>,
) -> Result<Response, WebError> {
    let loops = match state
        .service
        .similar_loops(&access, &form.title, &form.what_happened)
        .await
    {
        Ok(loops) => loops,
        Err(ServiceError::Invalid(_)) => Vec::new(),
        Err(other) => return Err(other.into()),
    };
    let fragment = SimilarFragment { loops };
    match fragment.render() {
        Ok(html) => Ok(Html(html).into_response()),
        Err(error) => {
            tracing::error!(%error, "rendering similar loops");
            Ok(StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}
