//! `/teams/{slug}/mirror`: the dynamics mirror page (team members only), with a quarter
//! selector, the figures as bar charts and the same numbers in tables.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::{render, Layout};
use crate::domain::experiments::Quarter;
use crate::domain::mirror::{self, Mirror, MirrorFigure};
use crate::domain::Team;
use crate::http::charts::{bars, Bar};
use crate::http::error::WebError;
use crate::http::extract::WebTeam;
use crate::http::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct MirrorQuery {
    #[serde(default)]
    quarter: Option<String>,
}

/// A quarter in the selector.
struct QuarterOption {
    code: String,
    label: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "mirror.html")]
struct MirrorPage {
    layout: Layout,
    team: Team,
    view: Mirror,
    quarters: Vec<QuarterOption>,
    figures: Vec<FigureRow>,
    months_chart: String,
    reveal_order_unknown: &'static str,
}

/// A figure with its chart (empty when there is nothing to draw).
struct FigureRow {
    figure: MirrorFigure,
    chart: String,
}

pub async fn show(
    State(state): State<AppState>,
    Query(query): Query<MirrorQuery>,
    team: WebTeam,
) -> Result<Response, WebError> {
    let quarter = state.service.mirror_quarter(query.quarter.as_deref())?;
    let view = state.service.mirror(&team.access, quarter).await?;
    let current = Quarter::of(state.service.today().date());
    let mut quarters = Vec::new();
    let mut q = current;
    for _ in 0..8 {
        quarters.push(QuarterOption {
            code: mirror::quarter_code(q),
            label: q.to_string(),
            selected: q == quarter,
        });
        q = mirror::previous_quarter(q);
    }
    if !quarters.iter().any(|o| o.selected) {
        quarters.push(QuarterOption {
            code: mirror::quarter_code(quarter),
            label: quarter.to_string(),
            selected: true,
        });
    }
    let figures = view
        .reviews
        .figures
        .iter()
        .map(|f| {
            let mut list = Vec::new();
            if let Some(v) = &f.value {
                list.push(Bar {
                    label: f.title.clone(),
                    value: v.percent.unwrap_or(0.0),
                    shown: v.shown(),
                });
            }
            if let Some(b) = &f.baseline {
                list.push(Bar {
                    label: "Leads' share of all cards".to_owned(),
                    value: b.percent.unwrap_or(0.0),
                    shown: b.shown(),
                });
            }
            let chart = if list.is_empty() {
                String::new()
            } else {
                bars(
                    &format!("mirror-{}", f.key),
                    &f.title,
                    &f.meaning,
                    &list,
                    0.0,
                    100.0,
                )
            };
            FigureRow {
                figure: f.clone(),
                chart,
            }
        })
        .collect();
    let month_bars: Vec<Bar> = view
        .loops
        .months
        .iter()
        .flat_map(|m| {
            let mut list = Vec::new();
            match (m.leads, m.members) {
                (Some(leads), Some(members)) => {
                    list.push((format!("{}: leads, named", m.month), leads));
                    list.push((format!("{}: members, named", m.month), members));
                }
                _ => list.push((format!("{}: named", m.month), m.named)),
            }
            list.push((format!("{}: anonymous", m.month), m.anonymous));
            list
        })
        .map(|(label, n)| Bar {
            label,
            value: n as f64,
            shown: n.to_string(),
        })
        .collect();
    let max = month_bars.iter().map(|b| b.value).fold(1.0_f64, f64::max);
    let months_chart = if view.loops.withheld.is_some() {
        String::new()
    } else {
        bars(
            "mirror-logging",
            "Failures logged, month by month",
            "Named loops by leads and by members, and anonymous loops, in each month of the quarter.",
            &month_bars,
            0.0,
            max,
        )
    };
    Ok(render(&MirrorPage {
        layout: Layout::signed_in(&team.user, "Dynamics mirror", "teams"),
        team: team.access.team().clone(),
        view,
        quarters,
        figures,
        months_chart,
        reveal_order_unknown: mirror::REVEAL_ORDER_UNKNOWN,
    }))
}
