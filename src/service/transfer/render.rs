//! Rendering: exports as Markdown with YAML front matter, CSV and tar archives, and a review
//! session's Markdown summary.

use std::collections::HashMap;
use std::io::Write as _;

use time::OffsetDateTime;

use crate::domain::loops::ActionStatus;

use crate::service::error::{ServiceError, ServiceResult};
use crate::service::review::{ActionCheck, CardView, ReviewView};

use super::*;

/// The shapes an export can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Json,
    Markdown,
    Csv,
}

impl ExportFormat {
    pub fn parse(raw: &str) -> ServiceResult<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "" | "json" => Ok(ExportFormat::Json),
            "markdown" | "md" => Ok(ExportFormat::Markdown),
            "csv" => Ok(ExportFormat::Csv),
            _ => Err(ServiceError::field(
                "format",
                "must be one of: json, markdown, csv",
            )),
        }
    }
}

/// A rendered export, ready to be written to a file or a response.
#[derive(Debug, Clone)]
pub struct ExportFile {
    pub content_type: &'static str,
    pub file_name: String,
    pub bytes: Vec<u8>,
}

pub(super) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub(super) fn day(at: OffsetDateTime) -> String {
    at.date().to_string()
}

/// A YAML scalar: JSON's double-quoted strings are valid YAML.
pub(super) fn yaml(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "\"\"".to_owned())
}

/// A file name from a title: lower-case words joined by hyphens.
pub(super) fn file_stem(title: &str) -> String {
    let mut stem = String::new();
    for c in title.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            stem.push(c);
        } else if !stem.ends_with('-') && !stem.is_empty() {
            stem.push('-');
        }
        if stem.len() >= 60 {
            break;
        }
    }
    let stem = stem.trim_end_matches('-').to_owned();
    if stem.is_empty() {
        "loop".to_owned()
    } else {
        stem
    }
}

/// One loop as Markdown with YAML front matter, under the SRE template's headings so that the
/// Markdown importer reads it back.
pub fn loop_markdown(team: &ExportTeam, item: &ExportLoop) -> String {
    let mut out = String::new();
    out.push_str("---\n");
    out.push_str(&format!("title: {}\n", yaml(&item.title)));
    out.push_str(&format!("team: {}\n", yaml(&team.slug)));
    out.push_str(&format!("kind: {}\n", item.kind));
    out.push_str(&format!("stage: {}\n", item.stage));
    out.push_str(&format!("impact: {}\n", item.impact_scale));
    if item.anonymous {
        out.push_str("anonymous: true\n");
        out.push_str(&format!("date: {}\n", day(item.created_at)));
        out.push_str(&format!("noticed_at: {}\n", day(item.noticed_at)));
    } else {
        out.push_str(&format!("date: {}\n", rfc3339(item.created_at)));
        out.push_str(&format!("noticed_at: {}\n", rfc3339(item.noticed_at)));
    }
    if let Some(at) = item.happened_at {
        let value = if item.anonymous { day(at) } else { rfc3339(at) };
        out.push_str(&format!("happened_at: {value}\n"));
    }
    let failure_type = item
        .type_override
        .as_ref()
        .map(|o| o.kind)
        .or_else(|| item.classification.as_ref().and_then(|c| c.suggestion.kind));
    if let Some(kind) = failure_type {
        out.push_str(&format!("failure_type: {kind}\n"));
    }
    out.push_str(&format!(
        "tags: [{}]\n",
        item.tags
            .iter()
            .map(|t| yaml(t))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    out.push_str("---\n\n");
    out.push_str(&format!("# {}\n\n", item.title.replace('\n', " ")));
    let mut section = |heading: &str, body: &str| {
        if !body.trim().is_empty() {
            out.push_str(&format!("## {heading}\n\n{}\n\n", body.trim()));
        }
    };
    section("Summary", &item.what_happened);
    section("What was expected", &item.what_was_expected);
    section("Impact", &item.impact_affected);
    section("Root Causes", &item.review.aar_difference);
    section("Resolution", &item.review.aar_actual);
    section("Intended", &item.review.aar_intended);
    let factors: Vec<String> = item
        .factors
        .iter()
        .map(|f| format!("- **{}**: {}", f.reason.label(), f.description.trim()))
        .collect();
    section("Contributing factors", &factors.join("\n"));
    let mut lessons = item.review.aar_lessons.trim().to_owned();
    for learning in &item.learnings {
        lessons.push_str(&format!("\n\n- {}", learning.statement.trim()));
    }
    for (heading, body) in [
        ("What went well", &item.review.went_well),
        ("What went wrong", &item.review.went_wrong),
        ("Where we got lucky", &item.review.got_lucky),
    ] {
        if !body.trim().is_empty() {
            lessons.push_str(&format!("\n\n### {heading}\n\n{}", body.trim()));
        }
    }
    section("Lessons Learned", &lessons);
    if !item.actions.is_empty() {
        let mut table = String::from("| Action | Type | Owner | Status |\n|---|---|---|---|\n");
        for action in &item.actions {
            table.push_str(&format!(
                "| {} | | | {} |\n",
                action.title.replace('|', "\\|").replace('\n', " "),
                action.status
            ));
        }
        section("Action Items", &table);
    }
    let timeline: Vec<String> = item
        .timeline
        .iter()
        .map(|e| {
            format!(
                "- {} UTC: {}",
                e.occurred_at
                    .format(time::macros::format_description!(
                        "[year]-[month]-[day] [hour]:[minute]"
                    ))
                    .unwrap_or_default(),
                e.description.replace('\n', " ")
            )
        })
        .collect();
    section("Timeline", &timeline.join("\n"));
    let additions: Vec<String> = item
        .additions
        .iter()
        .map(|a| format!("- {}: {}", day(a.added_on), a.body.replace('\n', " ")))
        .collect();
    section("Later additions", &additions.join("\n"));
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// The Markdown files of a document: `team/YYYY-MM-DD-title-id.md`.
pub fn markdown_files(document: &ExportDocument) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for team in &document.teams {
        for item in &team.loops {
            let short: String = item.id.chars().take(8).collect();
            let name = format!(
                "{}/{}-{}-{short}.md",
                team.slug,
                day(item.created_at),
                file_stem(&item.title)
            );
            files.push((name, loop_markdown(team, item)));
        }
    }
    files
}

/// One row per loop: the shape spreadsheets want. No names.
pub fn loops_csv(document: &ExportDocument) -> ServiceResult<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let write = |writer: &mut csv::Writer<Vec<u8>>, row: Vec<String>| {
        writer.write_record(&row).map_err(ServiceError::internal)
    };
    write(
        &mut writer,
        [
            "team",
            "id",
            "title",
            "kind",
            "stage",
            "failure_type",
            "impact_scale",
            "anonymous",
            "created_on",
            "noticed_at",
            "tags",
            "factors",
            "learnings",
            "open_actions",
            "actions",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
    )?;
    for team in &document.teams {
        for item in &team.loops {
            let failure_type = item
                .type_override
                .as_ref()
                .map(|o| o.kind)
                .or_else(|| item.classification.as_ref().and_then(|c| c.suggestion.kind));
            write(
                &mut writer,
                vec![
                    team.slug.clone(),
                    item.id.clone(),
                    item.title.clone(),
                    item.kind.to_string(),
                    item.stage.to_string(),
                    failure_type.map(|k| k.to_string()).unwrap_or_default(),
                    item.impact_scale.to_string(),
                    item.anonymous.to_string(),
                    day(item.created_at),
                    rfc3339(item.noticed_at),
                    item.tags.join(" "),
                    item.factors.len().to_string(),
                    item.learnings.len().to_string(),
                    item.actions
                        .iter()
                        .filter(|a| a.status == ActionStatus::Open)
                        .count()
                        .to_string(),
                    item.actions.len().to_string(),
                ],
            )?;
        }
    }
    writer.flush().map_err(ServiceError::internal)?;
    let bytes = writer
        .into_inner()
        .map_err(|_| ServiceError::internal(anyhow::anyhow!("writing the CSV export")))?;
    String::from_utf8(bytes).map_err(ServiceError::internal)
}

/// Several files as one uncompressed tar archive.
pub fn tar_of(files: &[(String, String)], at: OffsetDateTime) -> ServiceResult<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(u64::try_from(at.unix_timestamp()).unwrap_or(0));
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, name, content.as_bytes())
            .map_err(ServiceError::internal)?;
    }
    let mut bytes = builder.into_inner().map_err(ServiceError::internal)?;
    bytes.flush().map_err(ServiceError::internal)?;
    Ok(bytes)
}

/// Renders a document in the chosen format. Markdown of one loop is a `.md` file; of several
/// (or none), a tar archive of one file per loop.
pub fn render(document: &ExportDocument, format: ExportFormat) -> ServiceResult<ExportFile> {
    let base = match document.teams.as_slice() {
        [team] => format!("failforward-{}", team.slug),
        _ => "failforward-organisation".to_owned(),
    };
    Ok(match format {
        ExportFormat::Json => ExportFile {
            content_type: "application/json",
            file_name: format!("{base}.json"),
            bytes: serde_json::to_vec_pretty(document).map_err(ServiceError::internal)?,
        },
        ExportFormat::Csv => ExportFile {
            content_type: "text/csv; charset=utf-8",
            file_name: format!("{base}.csv"),
            bytes: loops_csv(document)?.into_bytes(),
        },
        ExportFormat::Markdown => {
            let files = markdown_files(document);
            if document.scope == "loop" && files.len() == 1 {
                let (name, content) = files.into_iter().next().unwrap_or_default();
                ExportFile {
                    content_type: "text/markdown; charset=utf-8",
                    file_name: name.rsplit('/').next().unwrap_or("loop.md").to_owned(),
                    bytes: content.into_bytes(),
                }
            } else {
                ExportFile {
                    content_type: "application/x-tar",
                    file_name: format!("{base}.tar"),
                    bytes: tar_of(&files, document.exported_at)?,
                }
            }
        }
    })
}

// --- a review session's summary ---------------------------------------------------------------

/// Escapes what Markdown would otherwise read as markup in people's text.
pub(super) fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|'
        ) {
            out.push('\\');
        }
        out.push(if c == '\n' { ' ' } else { c });
    }
    out
}

/// A review session's summary in Markdown; pure, so the page and the API give the same text.
pub fn summary_markdown(view: &ReviewView) -> String {
    use std::fmt::Write;
    let r = &view.record;
    let mut out = String::new();
    let title = r
        .loop_title
        .as_deref()
        .map(|t| format!("Review: {}", md(t)))
        .unwrap_or_else(|| "Retrospective".to_owned());
    let _ = writeln!(out, "# {title}\n");
    if !r.prompt.is_empty() {
        let _ = writeln!(out, "{}\n", md(&r.prompt));
    }
    let writers = view.roster.iter().filter(|entry| !entry.observer).count();
    let _ = writeln!(
        out,
        "- Phase: {}\n- Held on: {}\n- Participants: {writers}, observers: {}\n",
        r.phase.label(),
        r.created_at.date(),
        view.roster.len() - writers
    );
    let checked: Vec<&ActionCheck> = view
        .action_checks
        .iter()
        .filter(|c| c.outcome.is_some())
        .collect();
    if !checked.is_empty() {
        let _ = writeln!(out, "## Open actions reviewed\n");
        for c in checked {
            let _ = writeln!(
                out,
                "- {} — {}",
                md(&c.action.title),
                c.outcome.as_deref().unwrap_or("")
            );
        }
        out.push('\n');
    }
    if !view.cards.is_empty() {
        let _ = writeln!(out, "## Cards\n");
        let dots: HashMap<&str, u32> = view
            .totals
            .iter()
            .flatten()
            .map(|(c, n)| (c.as_str(), *n))
            .collect();
        let mut sections: Vec<(String, Vec<&CardView>)> = view
            .groups
            .iter()
            .map(|g| {
                (
                    g.title.clone(),
                    view.cards
                        .iter()
                        .filter(|c| c.group_id.as_deref() == Some(&g.id))
                        .collect(),
                )
            })
            .collect();
        sections.push((
            "Not grouped".to_owned(),
            view.cards.iter().filter(|c| c.group_id.is_none()).collect(),
        ));
        for (title, cards) in sections.into_iter().filter(|(_, c)| !c.is_empty()) {
            let _ = writeln!(out, "### {}\n", md(&title));
            for c in cards {
                if let Some(reason) = &c.hidden_reason {
                    let _ = writeln!(out, "- *(hidden by the facilitator: {})*", md(reason));
                    continue;
                }
                let by = c
                    .author
                    .as_deref()
                    .map(|a| format!(" — {}", md(a)))
                    .unwrap_or_default();
                let votes = dots
                    .get(c.id.as_str())
                    .map(|&n| format!(" ({n} {})", if n == 1 { "dot" } else { "dots" }))
                    .unwrap_or_default();
                let _ = writeln!(out, "- **{}**: {}{by}{votes}", c.kind.label(), md(&c.text));
            }
            out.push('\n');
        }
    }
    if !view.decisions.is_empty() {
        let _ = writeln!(out, "## Decisions\n");
        for d in &view.decisions {
            let _ = writeln!(out, "- **{}**: {}", d.decision.kind, md(&d.decision.text));
            for x in &d.dissents {
                let who = x
                    .author_name
                    .as_deref()
                    .map(md)
                    .unwrap_or_else(|| "someone".to_owned());
                let _ = writeln!(out, "  - I disagree ({who}): {}", md(&x.reason));
            }
        }
        out.push('\n');
    }
    out
}
